#!/usr/bin/env bash
# Every table of costopt that holds user data survives pg_dump -Fc and
# pg_restore into a fresh database (the restore runs CREATE EXTENSION
# itself), and DROP EXTENSION leaves nothing behind.
#
# The source database gets data in every such table through the public
# functions: usage rows in the monthly partitions of costopt_create_partitions()
# and in the default partition, user prices and aliases, the rollup archive
# (costopt_cleanup), budgets with alerts, history and reservations, stored
# forecasts, recommendations and savings opportunities with their workflow
# moves, a user job, a changed seed job, the run history and organisation
# memberships.  After the
# restore each table is compared by a checksum of its rows in key order:
#
#  - seed rows of costopt.model_pricing, costopt.model_aliases and
#    costopt.jobs without created_at (and updated_at): they are not dumped,
#    the restore's CREATE EXTENSION makes them again, now;
#  - costopt.budgets first without current_spend, current_requests,
#    spend_needs_init, alert_rank and alert_level: a restored budget goes
#    through budgets_prepare like a new one, which restarts its current
#    period's spend until the next refresh; after costopt_refresh_budgets()
#    everything but last_calculated_at (the refresh's time) is compared;
#  - costopt.cost_analysis is not dumped but rebuilt from the restored raw
#    rows and archive: compared after the first refresh without id (identity
#    numbers of the rebuild), created_at and updated_at (time of the rebuild);
#  - costopt.rollup_deltas and costopt.budget_deltas are pending work, not
#    dumped: the restore's own capture fills them and the refreshes empty them.
#
# Then: the partitions are the same and still attached, every sequence goes
# on past the restored ids, the costing and capture triggers price and count
# a new call, costopt_verify_rollups() is empty.  DROP EXTENSION in the
# restored database leaves the catalogs as in a database that never had
# costopt.  Last, restored into the scheduler's database (costopt.database,
# test/costopt.conf), the worker runs the restored jobs, and after DROP
# EXTENSION it stays alive and logs only that it is idle; that the worker
# survives DROP and CREATE EXTENSION and how it waits for the database and
# the extension is in 003_scheduler.t.
#
# Needs PGHOST/PGPORT/PGUSER of a running test cluster whose log is
# $PGHOST/server.log (scripts/test.sh).  On its own:
#   . scripts/common.sh; cluster_start /tmp/c "$(pick_port)" test/costopt.conf
#   prove -v -e bash test/t/006_dump_restore_all.t; cluster_stop /tmp/c
# Sets costopt.scheduler_naptime with ALTER SYSTEM and resets it at the end.
set -uo pipefail
src=costopt_dumpall_src
dst=costopt_dumpall_dst
fresh=costopt_dumpall_fresh
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
quiet() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d "$1" -c "$2" >/dev/null 2>&1; }
tmp=$(mktemp -d)
sched_db=$(q postgres "SELECT current_setting('costopt.database', true)" 2>/dev/null)
made_sched=0
cleanup() {
	if [ $made_sched = 1 ]; then
		quiet postgres "ALTER SYSTEM RESET costopt.scheduler_naptime"
		quiet postgres "SELECT pg_reload_conf()"
		quiet postgres "DROP DATABASE IF EXISTS $sched_db WITH (FORCE)"
	fi
	for d in $src $dst $fresh; do quiet postgres "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "1..36"
for d in $src $dst $fresh; do quiet postgres "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
q postgres "CREATE DATABASE $src" >/dev/null

# ---- fill the source ---------------------------------------------------------
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d $src >"$tmp/fill.out" 2>&1 <<'SQL'
CREATE EXTENSION costopt;
-- this month and the next two get partitions; older calls go to the default one
SELECT costopt_create_partitions('2 months');
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('acme-ai', 'house-model', 0.40, 1.60, '2024-01-01');
INSERT INTO costopt.model_aliases (alias, provider, target_provider, target_model)
VALUES ('prod-chat', 'azure', 'openai', 'gpt-4o');
-- 100 days of calls every 10 minutes: the cleanup moves the first ten days
-- into the rollup archive, the rest feeds the analyses
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, project, provider, model, operation,
                                    input_tokens, output_tokens, cached_input_tokens, status, request_hash, latency_ms)
SELECT now() - interval '100 days' + i * interval '10 minutes', 'shop', 'agent-' || (i % 7), 'support',
       CASE i % 5 WHEN 3 THEN 'azure' WHEN 4 THEN 'acme-ai' ELSE 'openai' END,
       CASE i % 5 WHEN 0 THEN 'gpt-4' WHEN 1 THEN 'gpt-4' WHEN 2 THEN 'gpt-4o' WHEN 3 THEN 'prod-chat' ELSE 'house-model' END,
       'chat', 2000 + (i % 100), 60 + (i % 40), CASE WHEN i % 3 = 0 THEN 1000 ELSE 0 END,
       CASE WHEN i % 20 = 0 THEN 'error' ELSE 'success' END,
       'q' || CASE WHEN i % 4 = 0 THEN i - 1 ELSE i END, 100 + i % 900
  FROM generate_series(1, 14400) i;
-- calls nobody priced, and calls of a user who only worked yesterday
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT now() - interval '10 days' + g * interval '1 hour', 'lab', 'not-priced-yet', 100, 10
  FROM generate_series(1, 50) g;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
SELECT date_trunc('day', now()) - interval '1 day' + g * interval '1 hour', 'shop', 'night-owl', 'openai', 'gpt-4o', 3000, 300
  FROM generate_series(1, 20) g;
-- calls of next month, in its partition
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
SELECT date_trunc('month', now()) + interval '1 month' + g * interval '1 hour', 'lab', 'openai', 'gpt-4o', 500, 50
  FROM generate_series(1, 20) g;
SELECT costopt_refresh_rollups();
SELECT costopt_cleanup('90 days', '10 years');

-- budgets: one far exceeded (alerts), one daily whose yesterday is closed
SELECT costopt_create_budget('shop', 'shop monthly', 5.00) AS b_month \gset
SELECT costopt_create_budget('shop', 'night-owl daily', 0.10, period => 'daily', user_id => 'night-owl',
                             enforcement => 'soft', alert_contacts => '{"emails": ["finops@example.com"]}') AS b_day \gset
SELECT costopt_refresh_budgets();
-- as if the last refresh had run yesterday: the next one closes that day
UPDATE costopt.budgets b
   SET period_start = b.period_start - interval '1 day', period_end = b.period_start,
       (current_spend, current_requests) =
           (SELECT s.spend, s.requests
              FROM costopt.scope_spend(b.organization_id, b.user_id, b.project, b.model, b.provider,
                                       b.period_start - interval '1 day', b.period_start) s)
 WHERE b.id = :b_day;
SELECT costopt_refresh_budgets();
SELECT costopt_acknowledge_alert(min(id), 'finops') FROM costopt.budget_alerts;
-- reservations: one open, one settled by its call, one released
SELECT costopt_reserve('shop', estimated_cost => 0.02, model => 'gpt-4o');
SELECT reservation_id AS r_settle FROM costopt_reserve('shop', estimated_cost => 0.05, model => 'gpt-4o') \gset
INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens, reservation_id)
VALUES ('shop', 'openai', 'gpt-4o', 1000, 100, :r_settle);
SELECT reservation_id AS r_release FROM costopt_reserve('shop', estimated_cost => 0.01) \gset
SELECT costopt_release(:r_release);

SELECT costopt_run_forecasts();
SELECT count(*) FROM costopt_generate_recommendations('shop', 30);
SELECT costopt_accept_recommendation(min(id), 'ana') FROM costopt.cost_recommendations;
SELECT count(*) FROM costopt_detect_opportunities('shop', 30);
SELECT costopt_update_opportunity(min(id), 'investigating', assigned_to => 'bob') FROM costopt.savings_opportunities;

-- a job of the user's, a changed seed job, runs, the scheduler mode row
INSERT INTO costopt.jobs (name, command, description) VALUES ('dump_user_job', 'SELECT 7::bigint', 'a user job');
UPDATE costopt.jobs SET enabled = false WHERE name = 'forecasts';
SELECT costopt_run_job('dump_user_job');
SELECT count(*) FROM costopt_unschedule_cron();
INSERT INTO costopt.organization_members (member, organization_id, access)
VALUES ('dump_test_reader', 'shop', 'reader'), ('dump_test_admin', 'shop', 'org_admin');

-- nothing pending at the dump
SELECT costopt_refresh_budgets();
SELECT costopt_refresh_rollups();
SQL
rc=$?
# every user-data table has rows
empty=""
for t in api_usage_logs_default model_pricing model_aliases rollup_state rollup_archive cost_forecasts budgets \
	budget_history budget_alerts budget_reservations cost_recommendations savings_opportunities jobs job_runs \
	scheduler_state organization_members cost_analysis; do
	[ "$(q $src "SELECT count(*) > 0 FROM costopt.$t" 2>/dev/null)" = t ] || empty="$empty $t"
done
[ $rc = 0 ] && [ -z "$empty" ]
ok $? "the source has rows in every user-data table${empty:+ (empty:$empty)}"
[ $rc = 0 ] || sed 's/^/# /' "$tmp/fill.out"
parts=$(q $src "SELECT string_agg(format('%s:%s', tableoid::regclass, n), ' ' ORDER BY 1)
                FROM (SELECT tableoid, count(*) n FROM costopt.api_usage_logs GROUP BY 1) s")
[ "$(q $src "SELECT count(DISTINCT tableoid) FROM costopt.api_usage_logs")" = 3 ]
ok $? "usage rows sit in the default partition and two monthly ones ($parts)"

# ---- dump and restore ----------------------------------------------------------
pg_dump -d $src -Fc -f "$tmp/dump" 2>"$tmp/dump.err"
ok $? "pg_dump -Fc of the source"
q postgres "CREATE DATABASE $dst" >/dev/null
pg_restore -d $dst --exit-on-error "$tmp/dump" 2>>"$tmp/dump.err"
ok $? "pg_restore into a fresh database, monthly partitions included"
[ -s "$tmp/dump.err" ] && sed 's/^/# /' "$tmp/dump.err"

# checksum DB TABLE ORDER [ROW]: row count and md5 of the rows (as jsonb, so
# columns can be left out by name) in key order
checksum() {
	q "$1" "SELECT count(*) || ':' || md5(coalesce(string_agg((${4:-to_jsonb(t)})::text, E'\n' ORDER BY $3), ''))
	        FROM costopt.$2 t"
}
# same TABLE ORDER [ROW] [LABEL]: the checksums of source and restored database agree
same() {
	local a b
	a=$(checksum $src "$1" "$2" "${3:-}")
	b=$(checksum $dst "$1" "$2" "${3:-}")
	[ -n "$a" ] && [ "$a" = "$b" ]
	ok $? "${4:-$1} identical after restore ($b)"
	[ "$a" = "$b" ] || echo "# source $a, restored $b"
}
seedless="CASE WHEN t.source = 'seed' THEN to_jsonb(t) - '{created_at,updated_at}'::text[] ELSE to_jsonb(t) END"

same api_usage_logs "t.id, t.created_at" "to_jsonb(t) || jsonb_build_object('partition', t.tableoid::regclass::text)" \
	"usage rows, their costs and partitions"
same model_pricing "t.id" "$seedless" "the price catalog (user rows; seed rows without their creation time)"
same model_aliases "t.alias, coalesce(t.provider, '')" "$seedless" "the aliases (user rows; seed rows without their creation time)"
same jobs "t.name" "$seedless" "the jobs (the user's, the changed seed job, no duplicated seed job)"
same rollup_state "t.singleton"
same rollup_archive "to_jsonb(t)::text"
same cost_forecasts "t.id"
same budgets "t.id" "to_jsonb(t) - '{current_spend,current_requests,spend_needs_init,alert_rank,alert_level}'::text[]" \
	"budgets (settings and period; spend restarts until the next refresh)"
same budget_history "t.budget_id, t.period_start"
same budget_alerts "t.id"
same budget_reservations "t.id"
same cost_recommendations "t.id"
same savings_opportunities "t.id"
same job_runs "t.id"
same scheduler_state "t.singleton"
same organization_members "t.member, t.organization_id, t.access"

part_list() {
	q "$1" "SELECT string_agg(format('%s %s pkey:%s indexes:%s member:%s', c.relname, pg_get_expr(c.relpartbound, c.oid),
	                      (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary),
	                      (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid),
	                      EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')), '; ' ORDER BY c.relname)
	          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	         WHERE i.inhparent = 'costopt.api_usage_logs'::regclass"
}
[ "$(part_list $src)" = "$(part_list $dst)" ] && [ "$(q $dst "SELECT count(*) FROM pg_inherits WHERE inhparent = 'costopt.api_usage_logs'::regclass")" = 4 ]
ok $? "the same partitions are attached with the same bounds, primary keys and indexes"
[ "$(part_list $src)" = "$(part_list $dst)" ] || { echo "# source:   $(part_list $src)"; echo "# restored: $(part_list $dst)"; }

# cost_analysis_id_seq belongs to the rollups, which are rebuilt, not restored
seqs="SELECT string_agg(format('%s=%s', sequencename, last_value), ' ' ORDER BY sequencename)
        FROM pg_sequences WHERE schemaname = 'costopt' AND sequencename <> 'cost_analysis_id_seq'"
[ "$(q $src "$seqs")" = "$(q $dst "$seqs")" ]
ok $? "every sequence of a dumped table has its value back ($(q $dst "$seqs"))"

# ---- the restored database at work -----------------------------------------------
q $src "SELECT costopt_refresh_budgets(); SELECT costopt_refresh_rollups();" >/dev/null
q $dst "SELECT costopt_refresh_budgets(); SELECT costopt_refresh_rollups();" >/dev/null
same budgets "t.id" "to_jsonb(t) - 'last_calculated_at'::text" "budgets after a refresh: spend and alert state recomputed"
same budget_alerts "t.id" "" "budget alerts after that refresh (none sent twice)"
same cost_analysis "t.organization_id, t.period_type, t.period_start, t.user_id, t.provider, t.model_name" \
	"to_jsonb(t) - '{id,created_at,updated_at}'::text[]" "the rollups, rebuilt by the first refresh, archive included"
[ "$(q $dst "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ] &&
	[ "$(q $dst "SELECT (SELECT count(*) FROM costopt.rollup_deltas) + (SELECT count(*) FROM costopt.budget_deltas)")" = 0 ]
ok $? "costopt_verify_rollups() is empty and no delta is left pending"

# new rows: priced by the restored user price in this month's partition,
# counted by the capture, with ids after the restored ones
maxes="SELECT concat_ws(' ', (SELECT coalesce(max(id), 0) FROM costopt.api_usage_logs),
                        (SELECT coalesce(max(id), 0) FROM costopt.model_pricing),
                        (SELECT coalesce(max(id), 0) FROM costopt.budgets),
                        (SELECT coalesce(max(id), 0) FROM costopt.budget_reservations),
                        (SELECT coalesce(max(id), 0) FROM costopt.cost_forecasts),
                        (SELECT coalesce(max(id), 0) FROM costopt.job_runs))"
read -r m_use m_price m_budget m_res m_fc m_run <<<"$(q $dst "$maxes")"
row=$(q $dst "INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens)
              VALUES ('after-restore', 'acme-ai', 'house-model', 1000, 100)
              RETURNING format('%s|%s|%s|%s|%s', tableoid::regclass, id > $m_use, total_cost = 0.00056, cost_status,
                               pricing_id = (SELECT id FROM costopt.model_pricing WHERE model_name = 'house-model'))")
month=$(q $dst "SELECT 'costopt.api_usage_logs_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')")
[ "$row" = "$month|t|t|priced|t" ]
ok $? "the costing trigger prices a new call with the restored user price, in this month's partition ($row)"
q $dst "SELECT costopt_refresh_rollups()" >/dev/null
[ "$(q $dst "SELECT sum(total_requests) || '|' || (sum(total_cost) = 0.00056) FROM costopt.cost_analysis
             WHERE organization_id = 'after-restore' AND period_type = 'hourly'")" = "1|true" ] &&
	[ "$(q $dst "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ]
ok $? "the capture trigger brings it into the rollups, which still verify"
ids=$(q $dst "WITH p AS (INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price)
                         VALUES ('acme-ai', 'house-model-2', 1, 1) RETURNING id)
             SELECT concat_ws(' ', (SELECT id > $m_price FROM p),
        costopt_create_budget('lab', 'lab monthly', 10) > $m_budget,
        (SELECT reservation_id > $m_res FROM costopt_reserve('lab', estimated_cost => 0.01)),
        (SELECT (costopt_run_job('dump_user_job')).id > $m_run))" 2>&1)
# a new horizon makes new forecast rows (today's 7 and 30 days are updated in place)
fc=$(q $dst "SELECT costopt_run_forecasts(ARRAY[14])" 2>&1 >/dev/null &&
	q $dst "SELECT min(id) > $m_fc FROM costopt.cost_forecasts WHERE forecast_horizon_days = 14" 2>&1)
[ "$ids $fc" = "t t t t t" ]
ok $? "new prices, budgets, reservations, job runs and forecasts continue after the restored ids ($ids $fc)"

# ---- DROP EXTENSION leaves nothing behind ----------------------------------------
catalogs="SELECT string_agg(format('%s=%s', c, k), ' ' ORDER BY c) FROM (
            SELECT 'pg_class' c, count(*) k FROM pg_class
  UNION ALL SELECT 'pg_attribute', count(*) FROM pg_attribute
  UNION ALL SELECT 'pg_proc', count(*) FROM pg_proc
  UNION ALL SELECT 'pg_type', count(*) FROM pg_type
  UNION ALL SELECT 'pg_namespace', count(*) FROM pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_'
  UNION ALL SELECT 'pg_depend', count(*) FROM pg_depend
  UNION ALL SELECT 'pg_shdepend', count(*) FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL SELECT 'pg_description', count(*) FROM pg_description
  UNION ALL SELECT 'pg_constraint', count(*) FROM pg_constraint
  UNION ALL SELECT 'pg_index', count(*) FROM pg_index
  UNION ALL SELECT 'pg_inherits', count(*) FROM pg_inherits
  UNION ALL SELECT 'pg_sequence', count(*) FROM pg_sequence
  UNION ALL SELECT 'pg_attrdef', count(*) FROM pg_attrdef
  UNION ALL SELECT 'pg_trigger', count(*) FROM pg_trigger
  UNION ALL SELECT 'pg_event_trigger', count(*) FROM pg_event_trigger
  UNION ALL SELECT 'pg_policy', count(*) FROM pg_policy
  UNION ALL SELECT 'pg_rewrite', count(*) FROM pg_rewrite
  UNION ALL SELECT 'pg_aggregate', count(*) FROM pg_aggregate
  UNION ALL SELECT 'pg_operator', count(*) FROM pg_operator
  UNION ALL SELECT 'pg_cast', count(*) FROM pg_cast
  UNION ALL SELECT 'pg_init_privs', count(*) FROM pg_init_privs
  UNION ALL SELECT 'pg_default_acl', count(*) FROM pg_default_acl
  UNION ALL SELECT 'pg_extension', count(*) FROM pg_extension) s"
ext=$(q $dst "SELECT oid FROM pg_extension WHERE extname = 'costopt'")
q $dst "DROP EXTENSION costopt" >/dev/null
ok $? "DROP EXTENSION costopt in the restored database (no CASCADE needed)"
left=$(q $dst "SELECT concat_ws(' ',
          (SELECT 'schema' FROM pg_namespace WHERE nspname = 'costopt'),
          (SELECT 'functions:' || string_agg(oid::regprocedure::text, ',') FROM pg_proc WHERE proname LIKE 'costopt%'),
          (SELECT 'relations:' || string_agg(oid::regclass::text, ',') FROM pg_class
            WHERE relname ~ '^(api_usage_logs|model_pricing|model_aliases|cost_|budget|rollup_|jobs|job_runs|scheduler_state|savings_)'),
          (SELECT 'types:' || string_agg(oid::regtype::text, ',') FROM pg_type
            WHERE typnamespace NOT IN (SELECT oid FROM pg_namespace)),
          (SELECT 'depend:' || count(*) FROM pg_depend WHERE (refclassid = 'pg_extension'::regclass AND refobjid = $ext)
                                                          OR (classid = 'pg_extension'::regclass AND objid = $ext)
           HAVING count(*) > 0),
          (SELECT 'event triggers:' || string_agg(evtname, ',') FROM pg_event_trigger),
          (SELECT 'policies:' || string_agg(polname, ',') FROM pg_policy))")
[ -z "$left" ]
ok $? "no schema costopt, costopt_* function, table, partition, sequence, type, event trigger, policy or dependency is left${left:+ ($left)}"
q postgres "CREATE DATABASE $fresh" >/dev/null
[ "$(q $dst "$catalogs")" = "$(q $fresh "$catalogs")" ]
ok $? "the restored database's catalogs after DROP EXTENSION match a database that never had costopt"
[ "$(q $dst "$catalogs")" = "$(q $fresh "$catalogs")" ] || { echo "# dropped: $(q $dst "$catalogs")"; echo "# fresh:   $(q $fresh "$catalogs")"; }

# ---- the scheduler on a restored database, then DROP EXTENSION ---------------------
logfile="$PGHOST/server.log"
log_size() { q postgres "SELECT size FROM pg_stat_file('$logfile')"; }
log_since() { q postgres "SELECT pg_read_file('$logfile', $1, (SELECT size FROM pg_stat_file('$logfile')) - $1)"; }
wait_for() {
	local i
	for ((i = 0; i < $3 * 4; i++)); do
		[ "$(q "$1" "$2" 2>/dev/null)" = t ] && return 0
		sleep 0.25
	done
	return 1
}
sched_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'costopt scheduler' AND datname = '$sched_db'"; }
# the scheduler's database is made and dropped here: only the test
# configuration's (003_scheduler.t does the same), or one that does not exist
if [ -z "$sched_db" ] || { [ "$sched_db" != costopt_sched ] &&
	[ "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = '$sched_db'")" != 0 ]; } ||
	[ "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'costopt launcher'")" != 1 ] ||
	[ "$(q postgres "SELECT count(*) FROM pg_stat_file('$logfile', true) WHERE size IS NOT NULL")" != 1 ]; then
	for i in 1 2 3 4; do skip "no costopt scheduler for a database of this test (costopt preloaded, costopt.database, log at $logfile)"; done
else
	quiet postgres "DROP DATABASE IF EXISTS $sched_db WITH (FORCE)"
	made_sched=1
	q postgres "ALTER SYSTEM SET costopt.scheduler_naptime = 1" >/dev/null
	q postgres "SELECT pg_reload_conf()" >/dev/null
	q postgres "CREATE DATABASE $sched_db" >/dev/null
	wait_for postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'costopt scheduler' AND datname = '$sched_db'" 30
	# one transaction: the worker sees the extension only with all its data
	pg_restore -d "$sched_db" --single-transaction --exit-on-error "$tmp/dump" 2>"$tmp/sched.err"
	rc=$?
	last=$(q $src "SELECT coalesce(max(id), 0) FROM costopt.job_runs")
	wait_for "$sched_db" "SELECT count(*) > 0 FROM costopt.job_runs WHERE id > $last AND runner = 'worker' AND job = 'refresh_rollups'" 30 &&
		[ $rc = 0 ] && [ "$(q "$sched_db" "SELECT count(*) FROM costopt.job_runs WHERE id > $last AND status = 'failed'")" = 0 ]
	ok $? "restored into $sched_db, the scheduler runs its jobs and none fails"
	[ $rc = 0 ] || sed 's/^/# /' "$tmp/sched.err"
	q "$sched_db" "SELECT format('# %s %s %s %s', id, job, status, error) FROM costopt.job_runs WHERE id > $last AND status = 'failed'" 2>/dev/null
	pid=$(sched_pid)
	off=$(log_size)
	# a DROP EXTENSION that takes a moment (held open for three rounds at
	# naptime 1 s): rounds that start meanwhile still see the extension
	q "$sched_db" "BEGIN; DROP EXTENSION costopt; SELECT pg_sleep(3); COMMIT;" >/dev/null
	wait_for postgres "SELECT position('costopt scheduler is idle: extension \"costopt\" is not installed'
	                   IN pg_read_file('$logfile', $off, (SELECT size FROM pg_stat_file('$logfile')) - $off)) > 0" 15
	ok $? "after DROP EXTENSION the scheduler says that it is idle"
	sleep 2
	[ -n "$pid" ] && [ "$(sched_pid)" = "$pid" ] &&
		[ "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'costopt launcher'")" = 1 ]
	ok $? "the scheduler (pid $pid) and the launcher keep running"
	alarming=$(log_since "$off" | grep -E "ERROR|FATAL|PANIC|WARNING|terminated|could not|exited")
	[ -z "$alarming" ]
	ok $? "and log nothing alarming about the dropped extension (a round that waited for the DROP's locks says nothing)"
	[ -z "$alarming" ] || echo "$alarming" | sed 's/^/# /'
fi

exit $fails
