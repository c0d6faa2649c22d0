-- The job scheduler's SQL side: the tables and the view, the seed jobs and
-- their settings, costopt_run_job (each real job, failures recorded and
-- not raised, skips when another runner owns the jobs), when the worker
-- runs a job next, privileges, dumps of changed seed jobs, and the pg_cron
-- functions' errors when pg_cron is not installed in its database.
--
-- Two sessions running one job at once (one is skipped) are in
-- test/isolation/specs/job_lock.spec; the worker and pg_cron themselves in
-- test/t/003_scheduler.t.  This file expects no pg_cron extension in
-- cron.database_name (scripts/test.sh creates none; 003 drops its own).
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(106);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-- Prices with round numbers: a call of 1000 input and 500 output tokens
-- costs 2 on tap-sched-a.
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapsched', 'tap-sched-a', 1000, 2000, '-infinity');

-- Start from applied rollups and an empty run history.
CALL pg_temp.refresh();
DELETE FROM costopt.job_runs;
DELETE FROM costopt.scheduler_state;

-- A run of costopt_run_job kept for later checks.
CREATE TEMP TABLE runs (label text PRIMARY KEY, run costopt.job_runs);
CREATE PROCEDURE pg_temp.run(label text, job text, runner text DEFAULT 'manual')
LANGUAGE sql AS $$
	INSERT INTO runs SELECT label, costopt_run_job(job, runner)
$$;
CREATE FUNCTION pg_temp.r(label text) RETURNS costopt.job_runs
LANGUAGE sql AS $$ SELECT run FROM runs WHERE runs.label = r.label $$;

-------------------------------------------------------------------------------
-- 1. Tables, view, functions
-------------------------------------------------------------------------------
SELECT has_table('costopt', 'jobs', 'costopt.jobs exists');
SELECT columns_are('costopt', 'jobs', ARRAY['name', 'command', 'description', 'interval_setting',
											'cron_schedule', 'enabled', 'source', 'created_at'],
				   'costopt.jobs has exactly the documented columns');
SELECT col_is_pk('costopt', 'jobs', 'name', 'jobs.name is the primary key');
SELECT col_not_null('costopt', 'jobs', 'command', 'jobs.command is NOT NULL');
SELECT col_default_is('costopt', 'jobs', 'enabled', 'true', 'jobs.enabled defaults to true');
SELECT has_table('costopt', 'job_runs', 'costopt.job_runs exists');
SELECT columns_are('costopt', 'job_runs', ARRAY['id', 'job', 'runner', 'started_at', 'finished_at',
												'status', 'rows', 'error', 'sqlstate'],
				   'costopt.job_runs has exactly the documented columns');
SELECT col_is_pk('costopt', 'job_runs', 'id', 'job_runs.id is the primary key');
SELECT col_type_is('costopt', 'job_runs', 'rows', 'bigint', 'job_runs.rows is bigint');
SELECT col_type_is('costopt', 'job_runs', 'started_at', 'timestamp with time zone', 'job_runs.started_at is timestamptz');
SELECT has_index('costopt', 'job_runs', 'job_runs_job_idx', ARRAY['job', 'started_at'],
				 'job_runs is indexed on (job, started_at)');
SELECT has_table('costopt', 'scheduler_state', 'costopt.scheduler_state exists');
SELECT columns_are('costopt', 'scheduler_state', ARRAY['singleton', 'mode', 'changed_at'],
				   'costopt.scheduler_state has exactly the documented columns');
SELECT has_view('costopt', 'v_job_status', 'costopt.v_job_status exists');
SELECT columns_are('costopt', 'v_job_status', ARRAY[
	'job', 'description', 'enabled', 'mode', 'interval_setting', 'run_interval', 'cron_schedule',
	'last_runner', 'last_started_at', 'last_finished_at', 'last_status', 'last_rows', 'last_error',
	'last_sqlstate', 'last_success_at', 'failures_since_success', 'next_due'],
	'costopt.v_job_status has exactly the documented columns');
SELECT has_function('public', 'costopt_run_job', ARRAY['text', 'text'], 'costopt_run_job(text, text) exists');
SELECT is((SELECT prorettype::regtype::text FROM pg_proc WHERE oid = 'costopt_run_job(text,text)'::regprocedure),
		  'costopt.job_runs', 'costopt_run_job returns a costopt.job_runs row');
SELECT has_function('public', 'costopt_schedule_cron', ARRAY[]::text[], 'costopt_schedule_cron() exists');
SELECT has_function('public', 'costopt_unschedule_cron', ARRAY[]::text[], 'costopt_unschedule_cron() exists');
SELECT has_function('costopt', 'cleanup_job', ARRAY['interval', 'interval', 'interval', 'interval'],
					'costopt.cleanup_job(interval, interval, interval, interval) exists');
SELECT is((SELECT array_agg(e ORDER BY e) FROM pg_extension x,
				  unnest(x.extconfig::regclass[]::text[], x.extcondition) AS c(e, cond)
			WHERE x.extname = 'costopt' AND e IN ('costopt.jobs', 'costopt.job_runs', 'costopt.job_runs_id_seq',
												 'costopt.scheduler_state')),
		  ARRAY['costopt.job_runs', 'costopt.job_runs_id_seq', 'costopt.jobs', 'costopt.scheduler_state'],
		  'jobs, job_runs (with its sequence) and scheduler_state are dumped with the database');
SELECT is((SELECT c.cond FROM pg_extension x, unnest(x.extconfig::regclass[]::text[], x.extcondition) AS c(e, cond)
			WHERE x.extname = 'costopt' AND c.e = 'costopt.jobs'),
		  $$WHERE source <> 'seed'$$, 'unchanged seed jobs are left out of a dump');

-------------------------------------------------------------------------------
-- 2. Seed jobs and their settings
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT name, command, interval_setting, cron_schedule, enabled, source
					  FROM costopt.jobs ORDER BY name$$,
				  $$VALUES ('cleanup'::text, 'SELECT costopt.cleanup_job()'::text,
							'costopt.cleanup_interval'::text, '30 3 * * *'::text, true, 'seed'::text),
						   ('forecasts', 'SELECT costopt_run_forecasts()', 'costopt.forecasts_interval',
							'0 2 * * *', true, 'seed'),
						   ('recommendations', 'SELECT costopt.recommendations_job()',
							'costopt.recommendations_interval', '0 3 * * 0', true, 'seed'),
						   ('refresh_budgets', 'SELECT (costopt_refresh_budgets()).budgets',
							'costopt.refresh_budgets_interval', '*/15 * * * *', true, 'seed'),
						   ('refresh_rollups', 'SELECT (costopt_refresh_rollups()).calls',
							'costopt.refresh_rollups_interval', '*/5 * * * *', true, 'seed'),
						   ('savings_detection', 'SELECT costopt.savings_detection_job()',
							'costopt.savings_detection_interval', '0 4 * * *', true, 'seed')$$,
				  'the seed jobs: commands, interval settings and pg_cron schedules');
SELECT is((SELECT count(*)::int FROM costopt.jobs WHERE description IS NULL), 0, 'every seed job is described');
SELECT results_eq($$SELECT name, setting, boot_val, unit, context, vartype FROM pg_settings
					 WHERE name IN ('costopt.scheduler', 'costopt.scheduler_naptime',
									'costopt.refresh_rollups_interval', 'costopt.refresh_budgets_interval',
									'costopt.forecasts_interval', 'costopt.cleanup_interval')
					 ORDER BY name$$,
				  $$VALUES ('costopt.cleanup_interval'::text, '86400'::text, '86400'::text, 's'::text, 'sighup'::text, 'integer'::text),
						   ('costopt.forecasts_interval', '86400', '86400', 's', 'sighup', 'integer'),
						   ('costopt.refresh_budgets_interval', '900', '900', 's', 'sighup', 'integer'),
						   ('costopt.refresh_rollups_interval', '300', '300', 's', 'sighup', 'integer'),
						   ('costopt.scheduler', 'on', 'on', NULL, 'sighup', 'bool'),
						   ('costopt.scheduler_naptime', '10', '10', 's', 'sighup', 'integer')$$,
				  'the scheduler settings: defaults, units, reloadable');
SELECT results_eq($$SELECT boot_val, context, vartype FROM pg_settings WHERE name = 'costopt.database'$$,
				  $$VALUES ('postgres'::text, 'postmaster'::text, 'string'::text)$$,
				  'costopt.database defaults to postgres and is set at server start');
SELECT throws_ok($$SET costopt.refresh_rollups_interval = 10$$, '55P02', NULL,
				 'a job interval cannot be SET in a session (reload instead): 55P02');
SELECT is((SELECT count(*)::int FROM costopt.jobs j
			WHERE NOT EXISTS (SELECT 1 FROM pg_settings s WHERE s.name = j.interval_setting)), 0,
		  'every seed job''s interval setting is a defined setting');
SELECT results_eq($$SELECT job, run_interval FROM costopt.v_job_status ORDER BY job$$,
				  $$VALUES ('cleanup'::text, interval '1 day'), ('forecasts', interval '1 day'),
						   ('recommendations', interval '7 days'),
						   ('refresh_budgets', interval '15 min'), ('refresh_rollups', interval '5 min'),
						   ('savings_detection', interval '1 day')$$,
				  'the view reads each job''s interval from its setting');
SET tap_sched.every = '90';
SELECT is(costopt.job_interval('tap_sched.every'), interval '90 s', 'job_interval: a number is seconds');
SET tap_sched.every = '2min';
SELECT is(costopt.job_interval('tap_sched.every'), interval '2 min', 'job_interval: 2min is two minutes');
SET tap_sched.every = 'soon';
SELECT is(costopt.job_interval('tap_sched.every'), NULL, 'job_interval: an unreadable value is NULL');
SELECT is(costopt.job_interval('tap_sched.unset_setting'), NULL, 'job_interval: a missing setting is NULL');
SELECT is(costopt.job_interval(NULL), NULL, 'job_interval: no setting is NULL');

-------------------------------------------------------------------------------
-- 3. Privileges
-------------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('public', 'costopt_run_job(text,text)', 'EXECUTE'),
		  'PUBLIC cannot execute costopt_run_job');
SELECT ok(NOT has_function_privilege('public', 'costopt_schedule_cron()', 'EXECUTE'),
		  'PUBLIC cannot execute costopt_schedule_cron');
SELECT ok(NOT has_function_privilege('public', 'costopt_unschedule_cron()', 'EXECUTE'),
		  'PUBLIC cannot execute costopt_unschedule_cron');
SELECT ok(NOT has_function_privilege('public', 'costopt.cron_sync(text[],text[],text[],boolean)', 'EXECUTE'),
		  'PUBLIC cannot execute costopt.cron_sync');
SELECT ok(NOT has_table_privilege('public', 'costopt.jobs', 'INSERT, UPDATE, DELETE, TRUNCATE'),
		  'PUBLIC cannot write costopt.jobs');
SELECT ok(NOT has_table_privilege('public', 'costopt.job_runs', 'INSERT, UPDATE, DELETE, TRUNCATE'),
		  'PUBLIC cannot write costopt.job_runs');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'costopt_run_job(text,text)'::regprocedure), false,
		  'costopt_run_job runs a job''s command with the caller''s rights (not SECURITY DEFINER)');
-- pgTAP's own tables are not writable by the plain role: its results go
-- through settings and are checked after RESET ROLE
CREATE ROLE tap_sched_nobody;
SET LOCAL ROLE tap_sched_nobody;
DO $$
BEGIN
	PERFORM set_config('tap.priv_run', pg_temp.sqlstate_of($q$SELECT costopt_run_job('refresh_rollups')$q$), true);
	PERFORM set_config('tap.priv_cron', pg_temp.sqlstate_of($q$SELECT * FROM costopt_schedule_cron()$q$), true);
	PERFORM set_config('tap.priv_jobs',
					   pg_temp.sqlstate_of($q$INSERT INTO costopt.jobs (name, command) VALUES ('tap_evil', 'SELECT 1')$q$),
					   true);
END;
$$;
RESET ROLE;
SELECT is(current_setting('tap.priv_run'), '42501', 'a role without the grant cannot run a job (42501)');
SELECT is(current_setting('tap.priv_cron'), '42501', 'a role without the grant cannot hand the jobs to pg_cron (42501)');
SELECT is(current_setting('tap.priv_jobs'), '42501', 'a role without the grant cannot add a job (42501)');

-------------------------------------------------------------------------------
-- 4. costopt_run_job: arguments
-------------------------------------------------------------------------------
SELECT is(pg_temp.error_message($$SELECT costopt_run_job('tap_nope')$$),
		  '22023: job "tap_nope" does not exist', 'an unknown job: 22023');
SELECT is(pg_temp.error_hint($$SELECT costopt_run_job('tap_nope')$$),
		  '22023: The jobs are cleanup, forecasts, recommendations, refresh_budgets, refresh_rollups, savings_detection.',
		  'the hint lists the jobs');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_run_job(NULL)$$), '22004', 'a NULL job: 22004');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_run_job('cleanup', NULL)$$), '22004', 'a NULL runner: 22004');
SELECT is(pg_temp.error_message($$SELECT costopt_run_job('cleanup', 'robot')$$),
		  '22023: unknown runner "robot"', 'an unknown runner: 22023');
SELECT is((SELECT count(*)::int FROM costopt.job_runs), 0, 'rejected calls record no run');

-------------------------------------------------------------------------------
-- 5. The real jobs
-------------------------------------------------------------------------------
-- cleanup first, while no call of this month is in the default partition
-- (costopt_create_partitions skips such a month)
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
SELECT now() - interval '200 days' - g * interval '1 hour', 'tap-sched-old', 'tapsched', 'tap-sched-a', 1000, 500
  FROM generate_series(1, 2) g;
INSERT INTO costopt.job_runs (job, runner, started_at, finished_at, status)
VALUES ('tap_ancient', 'manual', now() - interval '100 days', now() - interval '100 days', 'succeeded'),
	   ('tap_recent', 'manual', now() - interval '80 days', now() - interval '80 days', 'succeeded');
CALL pg_temp.run('cleanup', 'cleanup');
SELECT is((pg_temp.r('cleanup')).status, 'succeeded', 'cleanup: succeeded');
SELECT is((pg_temp.r('cleanup')).rows, 3::bigint,
		  'cleanup: rows = the 2 raw calls older than 90 days + the 1 run older than 90 days');
SELECT is((SELECT count(*)::int FROM costopt.api_usage_logs WHERE organization_id = 'tap-sched-old'), 0,
		  'cleanup removed the old raw calls');
SELECT is((SELECT array_agg(job ORDER BY job) FROM costopt.job_runs WHERE job LIKE 'tap_%'), ARRAY['tap_recent'],
		  'cleanup removed job history older than 90 days and kept the rest');
SELECT is(to_regclass(format('costopt.api_usage_logs_p%s', to_char(now() AT TIME ZONE 'UTC', 'YYYYMM'))), NULL,
		  'cleanup makes no monthly partitions while the log has none');
SELECT costopt_create_partitions('1 month') \g /dev/null
SELECT costopt.cleanup_job() \g /dev/null
SELECT isnt(to_regclass(format('costopt.api_usage_logs_p%s', to_char((now() + interval '2 months') AT TIME ZONE 'UTC', 'YYYYMM'))), NULL,
			'once partitioned, cleanup keeps partitions three months ahead');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt.cleanup_job(history_keep => '1 hour')$$), '22023',
		  'cleanup_job: history_keep under a day: 22023');

-- refresh_rollups: the rows are the calls applied (after applying what is
-- pending: the rollups keep the calls cleanup removed)
CALL pg_temp.refresh();
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
SELECT date_trunc('hour', now()) - interval '2 hours' + g * interval '1 minute', 'tap-sched', 'tapsched',
	   'tap-sched-a', 1000, 500
  FROM generate_series(1, 3) g;
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::int FROM costopt.cost_analysis WHERE organization_id = 'tap-sched'), 0,
		  'before the job the calls are not in the rollups');
CALL pg_temp.run('rollups', 'refresh_rollups');
SELECT is((pg_temp.r('rollups')).status, 'succeeded', 'refresh_rollups: succeeded');
SELECT is((pg_temp.r('rollups')).rows, 3::bigint, 'refresh_rollups: rows = the 3 calls applied');
SELECT results_eq($$SELECT total_requests, total_cost FROM costopt.cost_analysis
					 WHERE organization_id = 'tap-sched' AND period_type = 'hourly'$$,
				  $$VALUES (3::bigint, 6::numeric)$$, 'the job brought the calls into the rollups');
SELECT results_eq($$SELECT job, runner, status, rows, error, sqlstate, finished_at >= started_at
					 FROM costopt.job_runs WHERE id = (pg_temp.r('rollups')).id$$,
				  $$VALUES ('refresh_rollups'::text, 'manual'::text, 'succeeded'::text, 3::bigint, NULL::text,
							NULL::text, true)$$,
				  'the run is recorded in costopt.job_runs as returned');
CALL pg_temp.run('rollups2', 'refresh_rollups');
SELECT is((pg_temp.r('rollups2')).rows, 0::bigint, 'refresh_rollups again: nothing left to apply');

-- forecasts: the rows are the forecasts written
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
SELECT (costopt.rollup_today() - g)::timestamp AT TIME ZONE 'UTC' + interval '10 hours', 'tap-sched-fc',
	   'tapsched', 'tap-sched-a', 1000 * (1 + g % 7), 500
  FROM generate_series(1, 28) g;
CALL pg_temp.refresh();
CALL pg_temp.run('forecasts', 'forecasts');
SELECT is((pg_temp.r('forecasts')).status, 'succeeded', 'forecasts: succeeded');
SELECT is((pg_temp.r('forecasts')).rows,
		  (SELECT count(*) FROM costopt.cost_forecasts WHERE forecast_date = costopt.rollup_today()),
		  'forecasts: rows = the forecasts written today');
SELECT is((SELECT array_agg(forecast_horizon_days ORDER BY forecast_horizon_days) FROM costopt.cost_forecasts
			WHERE organization_id = 'tap-sched-fc' AND forecast_date = costopt.rollup_today()),
		  ARRAY[7, 30], 'the job forecast the organisation for 7 and 30 days');

-------------------------------------------------------------------------------
-- 6. A failing job is recorded, not raised; its work is rolled back
-------------------------------------------------------------------------------
CREATE TEMP TABLE tap_side (n integer);
CREATE FUNCTION pg_temp.tap_job_fails() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO tap_side VALUES (1);
	RAISE EXCEPTION 'tap job broke' USING ERRCODE = 'data_exception', DETAIL = 'Some detail.', HINT = 'Some hint.';
END;
$$;
INSERT INTO costopt.jobs (name, command, interval_setting) VALUES ('tap_fails', 'SELECT pg_temp.tap_job_fails()', 'tap_sched.fails_every');
SET client_min_messages = error;	-- the failure's WARNING
SELECT lives_ok($$CALL pg_temp.run('fail1', 'tap_fails')$$, 'a failing job does not raise');
SET client_min_messages = warning;
SELECT results_eq($$SELECT (pg_temp.r('fail1')).status, (pg_temp.r('fail1')).rows, (pg_temp.r('fail1')).sqlstate,
						   (pg_temp.r('fail1')).error$$,
				  $$VALUES ('failed'::text, NULL::bigint, '22000'::text,
							E'tap job broke\nDETAIL: Some detail.\nHINT: Some hint.'::text)$$,
				  'the run is failed, with the message, detail, hint and SQLSTATE');
SELECT is((SELECT count(*)::int FROM tap_side), 0, 'the failed job''s work was rolled back');
SELECT is((SELECT status FROM costopt.job_runs WHERE id = (pg_temp.r('fail1')).id), 'failed',
		  'the failed run stays in costopt.job_runs');
CALL pg_temp.run('after_fail', 'refresh_rollups');
SELECT is((pg_temp.r('after_fail')).status, 'succeeded', 'the next job runs after a failed one');
SET client_min_messages = error;
SELECT is(pg_temp.error_message($$SELECT costopt_run_job('tap_fails')$$), 'no error',
		  'a failing job raises nothing for the caller to catch');
SET client_min_messages = warning;
INSERT INTO costopt.jobs (name, command) VALUES ('tap_text', $$SELECT 'many'$$);
SET client_min_messages = error;
CALL pg_temp.run('text', 'tap_text');
SET client_min_messages = warning;
SELECT is(((pg_temp.r('text')).status, (pg_temp.r('text')).sqlstate), ('failed'::text, '22P02'::text),
		  'a command that does not return a count fails (22P02)');

-------------------------------------------------------------------------------
-- 7. Who runs the jobs: worker, cron or by hand
-------------------------------------------------------------------------------
INSERT INTO costopt.jobs (name, command, interval_setting)
VALUES ('tap_quick', 'SELECT 42', 'tap_sched.every');
SELECT is(costopt.scheduler_mode(), 'worker', 'the worker runs the jobs until someone says otherwise');
CALL pg_temp.run('cron_in_worker_mode', 'tap_quick', 'cron');
SELECT results_eq($$SELECT (pg_temp.r('cron_in_worker_mode')).status, (pg_temp.r('cron_in_worker_mode')).rows,
						   (pg_temp.r('cron_in_worker_mode')).error$$,
				  $$VALUES ('skipped'::text, NULL::bigint,
							'the jobs are run by the scheduler worker (scheduler mode worker)'::text)$$,
				  'in worker mode a run by pg_cron is skipped');
CALL pg_temp.run('worker_in_worker_mode', 'tap_quick', 'worker');
SELECT is(((pg_temp.r('worker_in_worker_mode')).status, (pg_temp.r('worker_in_worker_mode')).rows),
		  ('succeeded'::text, 42::bigint), 'in worker mode the worker runs the job');
INSERT INTO costopt.scheduler_state (mode) VALUES ('cron');
CALL pg_temp.run('worker_in_cron_mode', 'tap_quick', 'worker');
SELECT is(((pg_temp.r('worker_in_cron_mode')).status, (pg_temp.r('worker_in_cron_mode')).error),
		  ('skipped'::text, 'the jobs are run by pg_cron (scheduler mode cron)'::text),
		  'in cron mode a run by the worker is skipped');
CALL pg_temp.run('cron_in_cron_mode', 'tap_quick', 'cron');
SELECT is((pg_temp.r('cron_in_cron_mode')).status, 'succeeded', 'in cron mode pg_cron runs the job');
CALL pg_temp.run('manual_in_cron_mode', 'tap_quick');
SELECT is((pg_temp.r('manual_in_cron_mode')).status, 'succeeded', 'a manual run works in either mode');
SELECT is((SELECT count(*)::int FROM costopt.v_job_status WHERE next_due IS NOT NULL), 0,
		  'in cron mode the worker has nothing due');
UPDATE costopt.scheduler_state SET mode = 'worker';
SELECT is(pg_temp.sqlstate_of($$UPDATE costopt.scheduler_state SET mode = 'both'$$), '23514',
		  'the mode is worker or cron (23514)');

-------------------------------------------------------------------------------
-- 8. When the worker runs a job next (costopt.v_job_status)
-------------------------------------------------------------------------------
SET tap_sched.every = '90';
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_quick'),
		  (pg_temp.r('manual_in_cron_mode')).started_at + interval '90 s',
		  'next_due is the interval after the start of the last run');
SELECT results_eq($$SELECT last_runner, last_status, last_rows, last_success_at FROM costopt.v_job_status WHERE job = 'tap_quick'$$,
				  $$SELECT 'manual'::text, 'succeeded'::text, 42::bigint, (pg_temp.r('manual_in_cron_mode')).started_at$$,
				  'the view shows the last run');
CALL pg_temp.run('cron_skip_later', 'tap_quick', 'cron');
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_quick'),
		  (pg_temp.r('manual_in_cron_mode')).started_at + interval '90 s',
		  'a run pg_cron skipped does not put the worker''s next run off');
SELECT is((SELECT last_status FROM costopt.v_job_status WHERE job = 'tap_quick'), 'skipped',
		  'the view shows the skipped run as the last one');
SET tap_sched.every = '0';
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_quick'), NULL,
		  'an interval of 0: the worker never runs the job');
SET tap_sched.every = '90';
UPDATE costopt.jobs SET enabled = false WHERE name = 'tap_quick';
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_quick'), NULL,
		  'a disabled job: the worker never runs it');
UPDATE costopt.jobs SET enabled = true WHERE name = 'tap_quick';
INSERT INTO costopt.jobs (name, command, interval_setting) VALUES ('tap_never_run', 'SELECT 1', 'tap_sched.every');
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_never_run'), now(),
		  'a job that never ran is due now');
SELECT is((SELECT next_due FROM costopt.v_job_status WHERE job = 'tap_text'), NULL,
		  'a job without an interval setting is never due');
SET tap_sched.fails_every = '60';
SET client_min_messages = error;
CALL pg_temp.run('fail2', 'tap_fails');
SET client_min_messages = warning;
SELECT results_eq($$SELECT last_status, last_sqlstate, failures_since_success, last_success_at, next_due
					  FROM costopt.v_job_status WHERE job = 'tap_fails'$$,
				  $$SELECT 'failed'::text, '22000'::text, 3::bigint, NULL::timestamptz,
						   (pg_temp.r('fail2')).started_at + interval '60 s'$$,
				  'a failing job: failures since the last success; retried an interval after the failure');

-------------------------------------------------------------------------------
-- 9. Changed seed jobs are dumped; the dump's row replaces the seed row
-------------------------------------------------------------------------------
UPDATE costopt.jobs SET enabled = false WHERE name = 'forecasts';
SELECT is((SELECT source FROM costopt.jobs WHERE name = 'forecasts'), 'modified',
		  'a changed seed job becomes modified (and is dumped)');
INSERT INTO costopt.jobs (name, command, source) VALUES ('cleanup', 'SELECT costopt.cleanup_job(raw_keep => ''1 year'')', 'modified');
SELECT results_eq($$SELECT command, source FROM costopt.jobs WHERE name = 'cleanup'$$,
				  $$VALUES ('SELECT costopt.cleanup_job(raw_keep => ''1 year'')'::text, 'modified'::text)$$,
				  'a restored row replaces the seed row of its name');
SELECT throws_ok($$INSERT INTO costopt.jobs (name, command) VALUES ('cleanup', 'SELECT 1')$$, '23505', NULL,
				 'a second non-seed row of one name collides (23505)');
SELECT throws_ok($$INSERT INTO costopt.jobs (name, command) VALUES ('Tap-Bad', 'SELECT 1')$$, '23514', NULL,
				 'job names are lower-case identifiers (23514)');
SELECT throws_ok($$INSERT INTO costopt.jobs (name, command, interval_setting) VALUES ('tap_bad', 'SELECT 1', 'nodot')$$,
				 '23514', NULL, 'interval_setting is a qualified setting name (23514)');
SELECT throws_ok($$INSERT INTO costopt.job_runs (job, runner, started_at, finished_at, status)
				   VALUES ('x', 'robot', now(), now(), 'succeeded')$$, '23514', NULL,
				 'job_runs.runner is worker, cron or manual (23514)');
SELECT throws_ok($$INSERT INTO costopt.job_runs (job, runner, started_at, finished_at, status, error)
				   VALUES ('x', 'manual', now(), now(), 'failed', 'boom')$$, '23514', NULL,
				 'a failed run has a SQLSTATE (23514)');

-------------------------------------------------------------------------------
-- 10. pg_cron: not installed in cron.database_name
-------------------------------------------------------------------------------
SELECT is(costopt.cron_job_name('refresh_rollups'), format('costopt:%s:refresh_rollups', current_database()),
		  'pg_cron job names carry the database');
SELECT cmp_ok(octet_length(costopt.cron_job_name(repeat('j', 40))), '<=', 63,
			  'the longest job name fits pg_cron''s 63 bytes');
SELECT is(pg_temp.error_message($$SELECT * FROM costopt_schedule_cron()$$),
		  format('55000: extension "pg_cron" is not installed in database "%s"', current_setting('cron.database_name')),
		  'costopt_schedule_cron without pg_cron in its database: 55000');
SELECT is(pg_temp.error_hint($$SELECT * FROM costopt_schedule_cron()$$),
		  format('55000: Run CREATE EXTENSION pg_cron in database "%s".', current_setting('cron.database_name')),
		  'the hint says where to install pg_cron');
SELECT is(costopt.scheduler_mode(), 'worker', 'a failed costopt_schedule_cron leaves the worker in charge');
INSERT INTO costopt.scheduler_state (mode) VALUES ('cron')
ON CONFLICT (singleton) DO UPDATE SET mode = 'cron';
SELECT is((SELECT count(*)::int FROM costopt_unschedule_cron()), 0,
		  'costopt_unschedule_cron without pg_cron: nothing to remove, no error');
SELECT is(costopt.scheduler_mode(), 'worker', 'costopt_unschedule_cron gives the jobs back to the worker');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt.cron_sync('{a}', '{}', '{}', false)$$), '22023',
		  'cron_sync: arrays of different lengths: 22023');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt.cron_sync('{NULL}', '{x}', '{y}', false)$$), '22004',
		  'cron_sync: a NULL job name: 22004');

SELECT * FROM finish();
ROLLBACK;
