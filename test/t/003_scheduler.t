#!/usr/bin/env bash
# The costopt scheduler on a running server, and pg_cron taking the jobs over.
#
# Worker mode: the launcher waits quietly while costopt.database
# (costopt_sched, test/costopt.conf) does not exist and the scheduler
# waits quietly while the extension is missing; with short intervals the
# worker runs the jobs, inserted calls reach the rollups without anyone
# refreshing them, a failing job is recorded while the others keep running,
# costopt.scheduler = off stops it, and it survives DROP and CREATE
# EXTENSION.  pg_cron mode: costopt_schedule_cron() registers the jobs in
# pg_cron's database (postgres), the worker stops running them, pg_cron runs
# them (pg_cron 1.4 starts jobs on the minute: this part waits up to a
# minute), costopt_unschedule_cron() gives them back; in pg_cron's own
# database the registration is part of the caller's transaction.  A dump
# keeps changed seed jobs and the run history.  The server log shows no
# crash.
#
# Needs PGHOST/PGPORT/PGUSER of a running test cluster whose log is
# $PGHOST/server.log (scripts/test.sh); changes settings with ALTER SYSTEM
# and resets them at the end.
set -uo pipefail
db=costopt_sched
copy=costopt_sched_copy
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
quiet() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d "$1" -c "$2" >/dev/null 2>&1; }
# wait_for DB SQL SECONDS: poll until SQL returns t
wait_for() {
	local i
	for ((i = 0; i < $3 * 4; i++)); do
		[ "$(q "$1" "$2" 2>/dev/null)" = t ] && return 0
		sleep 0.25
	done
	return 1
}
# the server log, read by the server (superuser) so any OS user can run this
logfile="$PGHOST/server.log"
log_size() { q postgres "SELECT size FROM pg_stat_file('$logfile')"; }
log_since() { q postgres "SELECT pg_read_file('$logfile', $1, (SELECT size FROM pg_stat_file('$logfile')) - $1)"; }
reload() { q postgres "SELECT pg_reload_conf()" >/dev/null; sleep 0.5; }
alive() { q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = '$1'"; }
sched_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'costopt scheduler' AND datname = '$db'"; }
worker_runs() { q $db "SELECT count(*) FROM costopt.job_runs WHERE runner = 'worker' AND status = 'succeeded' $1"; }
usage() {
	q $db "INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
	       SELECT date_trunc('hour', now()) - interval '3 hours' + g * interval '1 second', '$1', 'gpt-4o', 1000, 100
	         FROM generate_series(1, $2) g" >/dev/null
}
hourly() { q $db "SELECT coalesce(sum(total_requests), 0) FROM costopt.cost_analysis WHERE organization_id = '$1' AND period_type = 'hourly'"; }

echo "1..33"
if [ "$(q postgres "SHOW costopt.database")" != $db ]; then
	echo "Bail out! costopt.database is not $db (see test/costopt.conf)"
	exit 1
fi
if [ ! "$(q postgres "SELECT count(*) FROM pg_stat_file('$logfile', true) WHERE size IS NOT NULL")" = 1 ]; then
	echo "Bail out! no server log at $logfile"
	exit 1
fi
had_cron=$(q postgres "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")
for d in $db $copy; do quiet postgres "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
start=$(log_size)
q postgres "ALTER SYSTEM SET costopt.scheduler_naptime = 1" >/dev/null
reload

# ---- worker mode ---------------------------------------------------------
wait_for postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'costopt launcher'
                   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler')" 30
ok $? "without database $db the launcher runs and no scheduler does"
sleep 1
off=$(log_size)
sleep 3
[ -z "$(log_since "$off" | grep -i costopt)" ] && [ "$(alive 'costopt launcher')" = 1 ]
ok $? "while the database is missing the launcher stays alive and logs nothing (naptime 1s, 3s)"

q postgres "CREATE DATABASE $db" >/dev/null
wait_for postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler' AND datname = '$db'" 20
ok $? "once the database exists the scheduler connects to it"
wait_for postgres "SELECT position('extension \"costopt\" is not installed in database \"$db\"'
                   IN pg_read_file('$logfile', $start, (SELECT size FROM pg_stat_file('$logfile')) - $start)) > 0" 10
ok $? "without the extension the scheduler logs once that it is idle"
pid=$(sched_pid)
off=$(log_size)
sleep 3
[ -z "$(log_since "$off" | grep -i costopt)" ] && [ "$(sched_pid)" = "$pid" ]
ok $? "without the extension the scheduler stays alive and logs nothing more"

q postgres "ALTER SYSTEM SET costopt.refresh_rollups_interval = 1" >/dev/null
reload
q $db "CREATE EXTENSION costopt" >/dev/null
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE job = 'refresh_rollups' AND runner = 'worker' AND status = 'succeeded'" 20
ok $? "after CREATE EXTENSION the worker runs refresh_rollups"
[ "$(q $db "SELECT string_agg(DISTINCT job, ',' ORDER BY job) FROM costopt.job_runs WHERE runner = 'worker'")" = "cleanup,forecasts,recommendations,refresh_budgets,refresh_rollups,savings_detection" ]
ok $? "the first round ran every job once due (the budget job may fail until it exists)"

usage tap-worker 40
wait_for $db "SELECT coalesce(sum(total_requests), 0) = 40 FROM costopt.cost_analysis
              WHERE organization_id = 'tap-worker' AND period_type = 'hourly'" 20
ok $? "inserted calls reach the rollups without anyone calling refresh ($(hourly tap-worker) of 40)"
[ "$(q $db "SELECT count(*) FROM costopt.rollup_deltas")" = 0 ] && [ "$(q $db "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ]
ok $? "the worker's refreshes left nothing pending and the rollups verify"

# a failing job, run every second like the refresh
q $db "INSERT INTO costopt.jobs (name, command, interval_setting)
       VALUES ('tap_fail', 'SELECT 1/0', 'costopt.refresh_rollups_interval')" >/dev/null
wait_for $db "SELECT count(*) >= 2 FROM costopt.job_runs WHERE job = 'tap_fail' AND runner = 'worker'
              AND status = 'failed' AND sqlstate = '22012' AND error = 'division by zero'" 20
ok $? "a failing job is recorded failed (22012, division by zero) on every round"
first_fail=$(q $db "SELECT min(started_at) FROM costopt.job_runs WHERE job = 'tap_fail'")
wait_for $db "SELECT count(*) >= 2 FROM costopt.job_runs WHERE job = 'refresh_rollups' AND runner = 'worker'
              AND status = 'succeeded' AND started_at > '$first_fail'" 20
ok $? "the other jobs keep running after the failure"
[ "$(sched_pid)" = "$pid" ]
ok $? "failing jobs do not restart the scheduler (pid $pid)"
q $db "DELETE FROM costopt.jobs WHERE name = 'tap_fail'" >/dev/null

# an error that escapes costopt_run_job (a cancel) ends only that job's
# transaction; the scheduler records it and goes on
q $db "INSERT INTO costopt.jobs (name, command, interval_setting)
       VALUES ('tap_slow', 'SELECT count(*) FROM pg_sleep(60)', 'costopt.refresh_rollups_interval')" >/dev/null
wait_for postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler'
                   AND query = 'costopt scheduler: job tap_slow'" 20
q $db "DELETE FROM costopt.jobs WHERE name = 'tap_slow'" >/dev/null
q postgres "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE backend_type = 'costopt scheduler'" >/dev/null
wait_for $db "SELECT count(*) = 1 FROM costopt.job_runs WHERE job = 'tap_slow' AND runner = 'worker'
              AND status = 'failed' AND sqlstate = '57014'" 10
ok $? "a cancelled job is recorded failed (57014) by the scheduler"
since=$(q $db "SELECT clock_timestamp()")
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE job = 'refresh_rollups' AND runner = 'worker'
              AND status = 'succeeded' AND started_at > '$since'" 20 && [ "$(sched_pid)" = "$pid" ]
ok $? "after the cancel the same scheduler runs the next jobs"

# costopt.scheduler = off: the scheduler leaves, nothing runs; on: it is back
q postgres "ALTER SYSTEM SET costopt.scheduler = off" >/dev/null
reload
wait_for postgres "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler'" 10
ok $? "with costopt.scheduler off the scheduler exits (and holds no connection)"
last=$(q $db "SELECT max(id) FROM costopt.job_runs")
sleep 3
[ "$(q $db "SELECT count(*) FROM costopt.job_runs WHERE id > $last")" = 0 ]
ok $? "with costopt.scheduler off no job runs (3s at 1s intervals)"
q postgres "ALTER SYSTEM RESET costopt.scheduler" >/dev/null
reload
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE id > $last AND runner = 'worker'" 20
ok $? "turned back on, the worker runs the jobs again"

# the extension dropped and created again under the running scheduler
pid=$(sched_pid)
q $db "DROP EXTENSION costopt" >/dev/null
sleep 2
[ -n "$pid" ] && [ "$(sched_pid)" = "$pid" ]
ok $? "the scheduler survives DROP EXTENSION (pid $pid)"
q $db "CREATE EXTENSION costopt" >/dev/null
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE job = 'refresh_rollups' AND runner = 'worker'" 20
ok $? "after CREATE EXTENSION again the same scheduler runs the jobs ($(sched_pid))"

# ---- pg_cron mode --------------------------------------------------------
[ "$had_cron" = 1 ] || q postgres "CREATE EXTENSION pg_cron" >/dev/null
# pg_cron 1.4 has no seconds schedules: every minute
q $db "UPDATE costopt.jobs SET cron_schedule = '* * * * *' WHERE name = 'refresh_rollups'" >/dev/null
res=$(q $db "SELECT string_agg(job || '=' || cron_job_name, ',' ORDER BY job) FROM costopt_schedule_cron()")
[ "$res" = "cleanup=costopt:$db:cleanup,forecasts=costopt:$db:forecasts,recommendations=costopt:$db:recommendations,refresh_budgets=costopt:$db:refresh_budgets,refresh_rollups=costopt:$db:refresh_rollups,savings_detection=costopt:$db:savings_detection" ]
ok $? "costopt_schedule_cron registers the enabled jobs ($res)"
cron_jobs() {
	q postgres "SELECT string_agg(jobname || '|' || schedule || '|' || command, ',' ORDER BY jobname)
	            FROM cron.job WHERE database = '$db'"
}
[ "$(cron_jobs)" = "costopt:$db:cleanup|30 3 * * *|SELECT public.costopt_run_job('cleanup', 'cron'),costopt:$db:forecasts|0 2 * * *|SELECT public.costopt_run_job('forecasts', 'cron'),costopt:$db:recommendations|0 3 * * 0|SELECT public.costopt_run_job('recommendations', 'cron'),costopt:$db:refresh_budgets|*/15 * * * *|SELECT public.costopt_run_job('refresh_budgets', 'cron'),costopt:$db:refresh_rollups|* * * * *|SELECT public.costopt_run_job('refresh_rollups', 'cron'),costopt:$db:savings_detection|0 4 * * *|SELECT public.costopt_run_job('savings_detection', 'cron')" ]
ok $? "the jobs are in cron.job of database postgres, to run in $db"
ids=$(q postgres "SELECT string_agg(jobid::text, ',' ORDER BY jobid) FROM cron.job WHERE database = '$db'")
q $db "SELECT count(*) FROM costopt_schedule_cron()" >/dev/null
[ "$(q postgres "SELECT string_agg(jobid::text, ',' ORDER BY jobid) FROM cron.job WHERE database = '$db'")" = "$ids" ]
ok $? "costopt_schedule_cron again changes nothing (jobs $ids)"
sleep 0.5
# keep the 3 s below clear of a minute boundary, when pg_cron itself runs the job
while sec=$(q $db "SELECT extract(second FROM clock_timestamp())::int"); [ "$sec" -ge 52 ] || [ "$sec" -lt 1 ]; do
	sleep 1
done
since=$(q $db "SELECT clock_timestamp()")
usage tap-cron 25
inserted=$(q $db "SELECT clock_timestamp()")
sleep 3
[ "$(q $db "SELECT mode FROM costopt.scheduler_state")" = cron ] &&
	[ "$(worker_runs "AND started_at > '$since'")" = 0 ] && [ "$(hourly tap-cron)" = 0 ]
ok $? "in cron mode the worker runs nothing (3s at 1s intervals)"
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE job = 'refresh_rollups' AND runner = 'cron'
              AND status = 'succeeded' AND started_at > '$inserted'" 75
ok $? "pg_cron runs costopt_run_job(refresh_rollups, cron) on the minute"
[ "$(hourly tap-cron)" = 25 ]
ok $? "the calls inserted meanwhile reached the rollups through pg_cron's run ($(hourly tap-cron) of 25)"

res=$(q $db "SELECT string_agg(cron_job_name, ',' ORDER BY cron_job_name) FROM costopt_unschedule_cron()")
[ "$res" = "costopt:$db:cleanup,costopt:$db:forecasts,costopt:$db:recommendations,costopt:$db:refresh_budgets,costopt:$db:refresh_rollups,costopt:$db:savings_detection" ] &&
	[ -z "$(cron_jobs)" ] && [ "$(q $db "SELECT mode FROM costopt.scheduler_state")" = worker ]
ok $? "costopt_unschedule_cron removes the pg_cron jobs and gives the jobs back to the worker"
[ "$(q $db "SELECT count(*) FROM costopt_unschedule_cron()")" = 0 ]
ok $? "costopt_unschedule_cron again removes nothing"
since=$(q $db "SELECT clock_timestamp()")
wait_for $db "SELECT count(*) > 0 FROM costopt.job_runs WHERE runner = 'worker' AND status = 'succeeded' AND started_at > '$since'" 20
ok $? "the worker runs the jobs again"

# costopt in pg_cron's own database: registered in the caller's transaction
q postgres "CREATE EXTENSION costopt" >/dev/null
q postgres "BEGIN; SELECT count(*) FROM costopt_schedule_cron(); ROLLBACK;" >/dev/null
[ "$(q postgres "SELECT count(*) FROM cron.job WHERE database = 'postgres' AND jobname LIKE 'costopt:%'")" = 0 ]
ok $? "in pg_cron's database a rolled-back costopt_schedule_cron leaves no pg_cron job"
q postgres "SELECT count(*) FROM costopt_schedule_cron()" >/dev/null
[ "$(q postgres "SELECT count(*) FROM cron.job WHERE database = 'postgres' AND jobname LIKE 'costopt:postgres:%'")" = 6 ] &&
	[ "$(q postgres "SELECT count(*) FROM costopt_unschedule_cron()")" = 6 ] &&
	[ "$(q postgres "SELECT count(*) FROM cron.job WHERE jobname LIKE 'costopt:%'")" = 0 ]
ok $? "in pg_cron's database costopt_schedule_cron and costopt_unschedule_cron work directly"
q postgres "DROP EXTENSION costopt" >/dev/null

# ---- dump and restore ----------------------------------------------------
q $db "INSERT INTO costopt.jobs (name, command, description) VALUES ('tap_own', 'SELECT 3', 'a user job')" >/dev/null
jobs_of() { q "$1" "SELECT string_agg(name || '|' || command || '|' || coalesce(cron_schedule, '') || '|' || enabled || '|' || source, ',' ORDER BY name) FROM costopt.jobs"; }
runs_of() { q "$1" "SELECT count(*) || ':' || max(id) FROM costopt.job_runs WHERE id <= $2"; }
q postgres "ALTER SYSTEM SET costopt.scheduler = off" >/dev/null
reload
wait_for postgres "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler'" 10
maxid=$(q $db "SELECT max(id) FROM costopt.job_runs")
q postgres "CREATE DATABASE $copy" >/dev/null
# the monthly partitions that the cleanup job made are dumped and restored too
pg_dump -d $db -Fc 2>/dev/null | pg_restore -d $copy --exit-on-error 2>/tmp/costopt_sched_restore.$$
rc=$?
[ $rc = 0 ] && [ "$(jobs_of $copy)" = "$(jobs_of $db)" ]
ok $? "a dump keeps the changed seed job and the user's job, without duplicating seed jobs"
[ $rc = 0 ] || sed 's/^/# /' /tmp/costopt_sched_restore.$$
[ "$(runs_of $copy "$maxid")" = "$(runs_of $db "$maxid")" ] &&
	[ "$(q $copy "SELECT (costopt_run_job('tap_own')).id > $maxid")" = t ]
ok $? "a dump keeps the run history, and new runs continue its ids"
rm -f /tmp/costopt_sched_restore.$$

# ---- the server log --------------------------------------------------------
problems=$(log_since "$start" | grep -E "PANIC|terminated by signal|server process .* was terminated|costopt launcher.*exited")
[ -z "$problems" ] && [ "$(alive 'costopt launcher')" = 1 ]
ok $? "the server log shows no crash and the launcher is alive"
[ -z "$problems" ] || echo "$problems" | sed 's/^/# /'

# ---- clean up --------------------------------------------------------------
for s in costopt.scheduler costopt.scheduler_naptime costopt.refresh_rollups_interval; do
	q postgres "ALTER SYSTEM RESET $s" >/dev/null
done
reload
[ "$had_cron" = 1 ] || quiet postgres "DROP EXTENSION pg_cron"
for d in $db $copy; do quiet postgres "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
exit $fails
