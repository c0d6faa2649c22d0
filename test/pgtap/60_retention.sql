-- Retention and partitions: the paths the regression test does not reach.
BEGIN;
SET client_min_messages = error;  -- the skips below warn on purpose
SET timezone = 'UTC';
SELECT plan(14);

SELECT has_function('public', 'costopt_create_partitions', ARRAY['interval'], 'costopt_create_partitions(interval) exists');
SELECT has_function('public', 'costopt_cleanup', ARRAY['interval', 'interval'], 'costopt_cleanup(interval, interval) exists');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'public.costopt_cleanup(interval, interval)'::regprocedure),
		  true, 'costopt_cleanup runs with the owner''s rights');
SELECT is((SELECT relkind::text FROM pg_class WHERE oid = 'costopt.api_usage_logs'::regclass), 'p',
		  'the usage log is partitioned');
SELECT ok(EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				   WHERE i.inhparent = 'costopt.api_usage_logs'::regclass AND c.relname = 'api_usage_logs_default'
					 AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'),
		  'the usage log has a default partition');

-- a future month whose calls are already in the default partition is skipped
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES (date_trunc('month', now() + interval '2 months', 'UTC') + interval '3 days', 'ret-tap', 'gpt-4o', 10, 1);
SELECT results_eq($$SELECT created, skipped FROM costopt_create_partitions('2 months')$$,
				  $$VALUES (2, 1)$$,
				  'a month with calls in the default partition is skipped, the others created');
SELECT is((SELECT tableoid::regclass::text FROM costopt.api_usage_logs WHERE organization_id = 'ret-tap'),
		  'costopt.api_usage_logs_default', 'the early call stays in the default partition');
SELECT is((SELECT count(*) FROM pg_inherits WHERE inhparent = 'costopt.api_usage_logs'::regclass)::integer, 3,
		  'two monthly partitions and the default one');

-- a partition made by hand for part of a month makes that month skipped
DO $$
BEGIN
	EXECUTE format('CREATE TABLE public.ret_tap_week PARTITION OF costopt.api_usage_logs FOR VALUES FROM (%L) TO (%L)',
				   date_trunc('month', now() + interval '4 months', 'UTC'),
				   date_trunc('month', now() + interval '4 months', 'UTC') + interval '7 days');
END;
$$;
SELECT results_eq($$SELECT created, skipped FROM costopt_create_partitions('5 months')$$,
				  $$VALUES (2, 2)$$,
				  'months overlapping a hand-made partition or holding default-partition calls are skipped');

-- the retention switch is for superusers (costopt_cleanup sets it for itself)
CREATE ROLE ret_tap_user;
SET ROLE ret_tap_user;
SELECT throws_ok($$SET costopt.retention_mode = on$$, '42501', NULL,
				 'only superusers can mark deletions as retention');
RESET ROLE;

SELECT throws_ok($$SELECT * FROM costopt_cleanup(NULL)$$, '22004', NULL, 'NULL raw_keep is refused');

-- archive rows inserted outside a cleanup (a restore) become rollup deltas
INSERT INTO costopt.rollup_archive
VALUES ('ret-archive', NULL, 'openai', 'gpt-4o', '2025-01-01 10:00+00', 3, 300, 30, 0, 0, 0, 1, 0, 0, 0,
		0.00075, 0.0003, 0.00105);
SELECT is((SELECT sum(requests) FROM costopt.rollup_deltas WHERE organization_id = 'ret-archive'), 3::numeric,
		  'a restored archive row becomes a delta');
SELECT costopt_refresh_rollups();
SELECT is((SELECT total_cost FROM costopt.cost_analysis
			WHERE organization_id = 'ret-archive' AND period_type = 'monthly'), 0.00105::numeric,
		  'and reaches the rollups');

-- but not while retention_mode is on (a cleanup moving calls to the archive)
SET costopt.retention_mode = on;
INSERT INTO costopt.rollup_archive
VALUES ('ret-archive-2', NULL, 'openai', 'gpt-4o', '2025-01-01 10:00+00', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
RESET costopt.retention_mode;
SELECT is((SELECT count(*) FROM costopt.rollup_deltas WHERE organization_id = 'ret-archive-2'), 0::bigint,
		  'archive rows written by a cleanup add no delta');

SELECT * FROM finish();
ROLLBACK;
