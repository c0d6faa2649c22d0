-- Cost rollups: table contracts, exact capture (ON CONFLICT, zero-net and
-- moving updates, re-pricing), the capture trigger's errors and time-zone
-- aligned buckets.  The pg_regress file sql/rollups.sql covers the bulk
-- paths (inserts, deletes, late calls, rolled-back work, verification).
--
-- A pgTAP file runs in one transaction that is rolled back, and the capture
-- writes its deltas to costopt.rollup_deltas only at commit.  To see them
-- inside the transaction, pg_temp.flush_deltas uses the bulk-load path of
-- src/rollup_capture.c: once the transaction holds more than
-- DELTAS_FLUSH_THRESHOLD (50,000) keys, the current (sub)transaction's
-- deltas are written at once, with the same code and the same rules (zero
-- deltas skipped, indexes refused) as at commit.  It touches 50,001 rows of a
-- scratch table carrying the capture trigger; an UPDATE that changes no
-- measure gives zero deltas, so the scratch rows themselves write nothing.
-- Call it at top level (not inside throws_ok/lives_ok, whose subtransaction
-- would flush only its own deltas).  The commit path itself is tested in
-- test/t/002_rollup_deltas_index.t.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(116);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-- Prices with round numbers: a call of 1000 input and 500 output tokens
-- costs 2 on tap-a (1 + 1) and 4 on tap-b (2 + 2); tap-none has no price.
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapai', 'tap-a', 1000, 2000, '-infinity'),
	   ('tapai', 'tap-b', 2000, 4000, '-infinity');

-- Apply whatever is pending, then start from empty rollups and UTC buckets.
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh();
DELETE FROM costopt.cost_analysis;
UPDATE costopt.rollup_state SET rollup_timezone = 'UTC', raw_horizon = '-infinity';

-------------------------------------------------------------------------------
-- Tables
-------------------------------------------------------------------------------
SELECT has_table('costopt', 'cost_analysis', 'costopt.cost_analysis exists');
SELECT has_table('costopt', 'rollup_deltas', 'costopt.rollup_deltas exists');
SELECT has_table('costopt', 'rollup_state', 'costopt.rollup_state exists');

SELECT columns_are('costopt', 'cost_analysis', ARRAY[
	'id', 'organization_id', 'user_id', 'provider', 'model_name', 'period_type', 'period_start',
	'period_end', 'total_requests', 'input_tokens', 'output_tokens', 'total_tokens',
	'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'input_cost', 'output_cost',
	'total_cost', 'error_count', 'error_rate', 'latency_sum', 'latency_count', 'avg_latency_ms',
	'unpriced_requests', 'created_at', 'updated_at'],
	'costopt.cost_analysis has exactly the documented columns');
SELECT has_column('costopt', 'cost_analysis', 'period_type', 'cost_analysis.period_type exists');
SELECT has_column('costopt', 'cost_analysis', 'total_cost', 'cost_analysis.total_cost exists');
SELECT col_type_is('costopt', 'cost_analysis', 'id', 'bigint', 'cost_analysis.id is bigint');
SELECT col_is_pk('costopt', 'cost_analysis', 'id', 'cost_analysis.id is the primary key');
SELECT col_type_is('costopt', 'cost_analysis', 'organization_id', 'text', 'cost_analysis.organization_id is text');
SELECT col_type_is('costopt', 'cost_analysis', 'user_id', 'text', 'cost_analysis.user_id is text');
SELECT col_type_is('costopt', 'cost_analysis', 'provider', 'text', 'cost_analysis.provider is text');
SELECT col_type_is('costopt', 'cost_analysis', 'model_name', 'text', 'cost_analysis.model_name is text');
SELECT col_type_is('costopt', 'cost_analysis', 'period_type', 'text', 'cost_analysis.period_type is text');
SELECT col_type_is('costopt', 'cost_analysis', 'period_start', 'timestamp with time zone', 'cost_analysis.period_start is timestamptz');
SELECT col_type_is('costopt', 'cost_analysis', 'period_end', 'timestamp with time zone', 'cost_analysis.period_end is timestamptz');
SELECT col_type_is('costopt', 'cost_analysis', 'total_requests', 'bigint', 'cost_analysis.total_requests is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'input_tokens', 'bigint', 'cost_analysis.input_tokens is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'output_tokens', 'bigint', 'cost_analysis.output_tokens is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'total_tokens', 'bigint', 'cost_analysis.total_tokens is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'cached_input_tokens', 'bigint', 'cost_analysis.cached_input_tokens is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'input_cost', 'numeric', 'cost_analysis.input_cost is numeric');
SELECT col_type_is('costopt', 'cost_analysis', 'output_cost', 'numeric', 'cost_analysis.output_cost is numeric');
SELECT col_type_is('costopt', 'cost_analysis', 'total_cost', 'numeric', 'cost_analysis.total_cost is numeric');
SELECT col_type_is('costopt', 'cost_analysis', 'error_count', 'bigint', 'cost_analysis.error_count is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'error_rate', 'numeric', 'cost_analysis.error_rate is numeric');
SELECT col_type_is('costopt', 'cost_analysis', 'latency_sum', 'bigint', 'cost_analysis.latency_sum is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'latency_count', 'bigint', 'cost_analysis.latency_count is bigint');
SELECT col_type_is('costopt', 'cost_analysis', 'avg_latency_ms', 'numeric', 'cost_analysis.avg_latency_ms is numeric');
SELECT col_type_is('costopt', 'cost_analysis', 'unpriced_requests', 'bigint', 'cost_analysis.unpriced_requests is bigint');
SELECT is((SELECT array_agg(attname::text ORDER BY attname) FROM pg_attribute
			WHERE attrelid = 'costopt.cost_analysis'::regclass AND attgenerated = 's'),
		  ARRAY['avg_latency_ms', 'error_rate', 'total_tokens'],
		  'total_tokens, error_rate and avg_latency_ms are stored generated columns');
SELECT col_is_unique('costopt', 'cost_analysis',
					 ARRAY['organization_id', 'period_type', 'period_start', 'user_id', 'provider', 'model_name'],
					 'cost_analysis is unique on (organization_id, period_type, period_start, user_id, provider, model_name)');
SELECT is((SELECT i.indnullsnotdistinct FROM pg_constraint c JOIN pg_index i ON i.indexrelid = c.conindid
			WHERE c.conname = 'cost_analysis_key' AND c.conrelid = 'costopt.cost_analysis'::regclass),
		  true, 'the cost_analysis key treats NULLs as not distinct');
SELECT throws_ok($$INSERT INTO costopt.cost_analysis (organization_id, user_id, provider, model_name, period_type, period_start, period_end)
				   VALUES ('tap-nnd', NULL, NULL, 'm', 'hourly', '2025-03-01', '2025-03-01 01:00'),
						  ('tap-nnd', NULL, NULL, 'm', 'hourly', '2025-03-01', '2025-03-01 01:00')$$,
				 '23505', NULL, 'two rollup rows differing only by NULL user_id and provider collide (23505)');
SELECT throws_ok($$INSERT INTO costopt.cost_analysis (organization_id, model_name, period_type, period_start, period_end)
				   VALUES ('tap-chk', 'm', 'yearly', '2025-01-01', '2026-01-01')$$,
				 '23514', NULL, 'period_type is limited to hourly, daily, weekly, monthly (23514)');

SELECT columns_are('costopt', 'rollup_deltas', ARRAY[
	'organization_id', 'user_id', 'provider', 'model', 'hour', 'requests', 'input_tokens',
	'output_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'error_count',
	'latency_sum', 'latency_count', 'unpriced_requests', 'input_cost', 'output_cost', 'total_cost'],
	'costopt.rollup_deltas has exactly the 18 columns the capture writes, in this order');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
			WHERE attrelid = 'costopt.rollup_deltas'::regclass AND attnum > 0 AND NOT attisdropped),
		  ARRAY['organization_id', 'user_id', 'provider', 'model', 'hour', 'requests', 'input_tokens',
				'output_tokens', 'cached_input_tokens', 'cache_write_tokens', 'reasoning_tokens', 'error_count',
				'latency_sum', 'latency_count', 'unpriced_requests', 'input_cost', 'output_cost', 'total_cost'],
		  'rollup_deltas column order matches what the C code forms');
SELECT col_type_is('costopt', 'rollup_deltas', 'organization_id', 'text', 'rollup_deltas.organization_id is text');
SELECT col_type_is('costopt', 'rollup_deltas', 'user_id', 'text', 'rollup_deltas.user_id is text');
SELECT col_type_is('costopt', 'rollup_deltas', 'provider', 'text', 'rollup_deltas.provider is text');
SELECT col_type_is('costopt', 'rollup_deltas', 'model', 'text', 'rollup_deltas.model is text');
SELECT col_type_is('costopt', 'rollup_deltas', 'hour', 'timestamp with time zone', 'rollup_deltas.hour is timestamptz');
SELECT col_type_is('costopt', 'rollup_deltas', 'requests', 'bigint', 'rollup_deltas.requests is bigint');
SELECT col_type_is('costopt', 'rollup_deltas', 'latency_sum', 'bigint', 'rollup_deltas.latency_sum is bigint');
SELECT col_type_is('costopt', 'rollup_deltas', 'unpriced_requests', 'bigint', 'rollup_deltas.unpriced_requests is bigint');
SELECT col_type_is('costopt', 'rollup_deltas', 'total_cost', 'numeric', 'rollup_deltas.total_cost is numeric');
SELECT is((SELECT count(*)::int FROM pg_index WHERE indrelid = 'costopt.rollup_deltas'::regclass), 0,
		  'costopt.rollup_deltas has no index (the capture writes it with heap inserts)');

SELECT columns_are('costopt', 'rollup_state', ARRAY['singleton', 'rollup_timezone', 'raw_horizon', 'last_refresh_at'],
				   'costopt.rollup_state has singleton, rollup_timezone, raw_horizon, last_refresh_at');
SELECT col_type_is('costopt', 'rollup_state', 'rollup_timezone', 'text', 'rollup_state.rollup_timezone is text');
SELECT col_type_is('costopt', 'rollup_state', 'raw_horizon', 'timestamp with time zone', 'rollup_state.raw_horizon is timestamptz');
SELECT col_type_is('costopt', 'rollup_state', 'last_refresh_at', 'timestamp with time zone', 'rollup_state.last_refresh_at is timestamptz');
SELECT col_default_is('costopt', 'rollup_state', 'rollup_timezone', 'UTC', 'rollup_timezone defaults to UTC');
SELECT col_default_is('costopt', 'rollup_state', 'raw_horizon', '-infinity', 'raw_horizon defaults to -infinity');
SELECT throws_ok($$INSERT INTO costopt.rollup_state (singleton) VALUES (false)$$, '23514', NULL,
				 'rollup_state holds a single row (singleton must be true)');

-------------------------------------------------------------------------------
-- Trigger and functions
-------------------------------------------------------------------------------
SELECT has_trigger('costopt', 'api_usage_logs', 'costopt_rollup_capture', 'the usage log has trigger costopt_rollup_capture');
SELECT trigger_is('costopt', 'api_usage_logs', 'costopt_rollup_capture', 'costopt', 'rollup_capture',
				  'costopt_rollup_capture calls costopt.rollup_capture()');
SELECT matches((SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
				 WHERE t.tgrelid = 'costopt.api_usage_logs'::regclass AND t.tgname = 'costopt_rollup_capture'),
			   'AFTER INSERT OR DELETE OR UPDATE ON costopt\.api_usage_logs FOR EACH ROW',
			   'costopt_rollup_capture fires AFTER INSERT OR DELETE OR UPDATE FOR EACH ROW');
SELECT function_lang_is('costopt', 'rollup_capture', ARRAY[]::text[], 'c', 'costopt.rollup_capture() is written in C');
SELECT function_returns('costopt', 'rollup_capture', ARRAY[]::text[], 'trigger', 'costopt.rollup_capture() returns trigger');
SELECT has_function('public', 'costopt_refresh_rollups', ARRAY[]::text[], 'costopt_refresh_rollups() exists');
SELECT volatility_is('public', 'costopt_refresh_rollups', ARRAY[]::text[], 'volatile', 'costopt_refresh_rollups() is VOLATILE');
SELECT has_function('public', 'costopt_verify_rollups', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone'],
					'costopt_verify_rollups(text, timestamptz, timestamptz) exists');
SELECT volatility_is('public', 'costopt_verify_rollups', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone'],
					 'stable', 'costopt_verify_rollups() is STABLE');
SELECT has_function('costopt', 'rollup_periods', ARRAY['timestamp with time zone', 'text'],
					'costopt.rollup_periods(timestamptz, text) exists');

-------------------------------------------------------------------------------
-- Refresh and verify contracts
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT * FROM costopt_refresh_rollups()$$,
				  $$VALUES (0::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
				  'a refresh with nothing pending returns zeros');
SELECT is((SELECT count(*)::int FROM costopt.rollup_state), 1, 'the first refresh created the rollup_state row');
SELECT is((SELECT last_refresh_at FROM costopt.rollup_state), now(), 'last_refresh_at is the time of the last refresh');

-- two calls in one hour with NULL user and provider: one bucket per grain
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-05 10:05+00', 'tap-null', NULL, NULL, 'tap-a', 1000, 500),
	   ('2025-03-05 10:55+00', 'tap-null', NULL, NULL, 'tap-a', 1000, 500);
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas WHERE organization_id = 'tap-null'), 0,
		  'deltas of the open transaction are not in rollup_deltas yet');
CALL pg_temp.flush_deltas();
SELECT results_eq($$SELECT requests, input_tokens, total_cost FROM costopt.rollup_deltas WHERE organization_id = 'tap-null'$$,
				  $$VALUES (2::bigint, 2000::bigint, 4::numeric)$$,
				  'two calls of one key and hour make one delta row');
SELECT results_eq($$SELECT delta_rows, calls, rollup_rows, removed_rows FROM costopt_refresh_rollups()$$,
				  $$VALUES (1::bigint, 2::bigint, 4::bigint, 0::bigint)$$,
				  'refresh: 1 delta row, 2 calls, 4 rollup rows (one per grain)');
SELECT results_eq($$SELECT period_type, user_id, provider, total_requests, total_cost FROM costopt.cost_analysis
					WHERE organization_id = 'tap-null' ORDER BY period_type$$,
				  $$VALUES ('daily'::text, NULL::text, NULL::text, 2::bigint, 4::numeric),
						   ('hourly', NULL, NULL, 2, 4), ('monthly', NULL, NULL, 2, 4), ('weekly', NULL, NULL, 2, 4)$$,
				  'calls with NULL user_id and provider share one bucket per grain');
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas), 0, 'refresh consumed every delta');

-- verify: range filter, reversed range, raw horizon
UPDATE costopt.cost_analysis SET total_cost = total_cost + 1
 WHERE organization_id = 'tap-null' AND period_type IN ('hourly', 'monthly');
SELECT results_eq($$SELECT period_type, measure, rollup_value, raw_value FROM costopt_verify_rollups('tap-null')$$,
				  $$VALUES ('hourly'::text, 'total_cost'::text, 5::numeric, 4::numeric), ('monthly', 'total_cost', 5, 4)$$,
				  'verify reports each tampered bucket and measure');
SELECT results_eq($$SELECT period_type FROM costopt_verify_rollups('tap-null', '2025-03-05 10:00+00', '2025-03-05 11:00+00')$$,
				  $$VALUES ('hourly'::text)$$,
				  'verify filters buckets by period_start in [from_time, to_time)');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-other')), 0,
		  'verify of another organisation ignores these buckets');
SELECT throws_ok($$SELECT * FROM costopt_verify_rollups('tap-null', '2025-04-01', '2025-03-01')$$,
				 '22023', 'from_time must not be later than to_time', 'verify with from_time after to_time: 22023');
UPDATE costopt.rollup_state SET raw_horizon = '2025-03-05 10:00+00';
SELECT results_eq($$SELECT period_type FROM costopt_verify_rollups('tap-null')$$,
				  $$VALUES ('hourly'::text)$$,
				  'buckets starting before raw_horizon are not verified');
UPDATE costopt.rollup_state SET raw_horizon = '-infinity';
UPDATE costopt.cost_analysis SET total_cost = total_cost - 1
 WHERE organization_id = 'tap-null' AND period_type IN ('hourly', 'monthly');

-------------------------------------------------------------------------------
-- Exact capture
-------------------------------------------------------------------------------

-- INSERT ... ON CONFLICT DO NOTHING: only rows actually inserted count.
-- (request_hash, created_at) so that the index is possible when the usage
-- log is partitioned by created_at too.
CREATE UNIQUE INDEX tap_request_hash_idx ON costopt.api_usage_logs (request_hash, created_at);
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens, request_hash)
VALUES ('2025-03-06 09:10+00', 'tap-oc', 'ana', 'tapai', 'tap-a', 1000, 500, 'h1');
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens, request_hash)
VALUES ('2025-03-06 09:10+00', 'tap-oc', 'ana', 'tapai', 'tap-a', 1000, 500, 'h1'),  -- conflicts with the row above
	   ('2025-03-06 09:10+00', 'tap-oc', 'ana', 'tapai', 'tap-a', 2000, 1000, 'h2'),
	   ('2025-03-06 09:10+00', 'tap-oc', 'ana', 'tapai', 'tap-a', 3000, 1500, 'h2')   -- conflicts within the statement
ON CONFLICT (request_hash, created_at) DO NOTHING;
SELECT is((SELECT count(*)::int FROM costopt.api_usage_logs WHERE organization_id = 'tap-oc'), 2,
		  'ON CONFLICT DO NOTHING stored 2 of the 4 rows offered');
CALL pg_temp.flush_deltas();
SELECT results_eq($$SELECT sum(requests), sum(input_tokens), sum(output_tokens), sum(total_cost)
					 FROM costopt.rollup_deltas WHERE organization_id = 'tap-oc'$$,
				  $$SELECT count(*)::numeric, sum(input_tokens)::numeric, sum(output_tokens)::numeric, sum(total_cost)
					 FROM costopt.api_usage_logs WHERE organization_id = 'tap-oc'$$,
				  'the deltas count exactly the stored rows, not the skipped ones (2 calls, 3000 input tokens)');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-oc')), 0, 'verify: 0 differences after ON CONFLICT DO NOTHING');

-- rows a BEFORE trigger skips are not counted either
CREATE FUNCTION pg_temp.skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER tap_skip BEFORE INSERT ON costopt.api_usage_logs
	FOR EACH ROW WHEN (NEW.organization_id = 'tap-skip') EXECUTE FUNCTION pg_temp.skip_row();
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2025-03-06 09:10+00', 'tap-skip', 'tap-a', 1000, 500);
DROP TRIGGER tap_skip ON costopt.api_usage_logs;
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas WHERE organization_id = 'tap-skip'), 0,
		  'a row skipped by a BEFORE trigger leaves no delta');

-- rolled-back savepoint
SAVEPOINT tap_sp;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2025-03-06 09:10+00', 'tap-sp', 'tap-a', 1000, 500);
ROLLBACK TO SAVEPOINT tap_sp;
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas WHERE organization_id = 'tap-sp'), 0,
		  'a call rolled back to a savepoint leaves no delta');

SELECT results_eq($$SELECT delta_rows, calls FROM costopt_refresh_rollups()$$,
				  $$VALUES (1::bigint, 2::bigint)$$, 'refresh applies the ON CONFLICT inserts: 1 delta row, 2 calls');

-- An UPDATE that changes nothing the rollups keep (tags only) has a zero
-- net delta: rollup_deltas must not grow (doc/rollups.md: "the non-zero
-- deltas are appended").
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas), 0, 'no deltas pending before the tags-only update');
UPDATE costopt.api_usage_logs SET tags = '{"team": "search"}' WHERE organization_id = 'tap-oc';
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas), 0,
		  'a tags-only UPDATE of priced calls writes no delta row');
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas WHERE requests <> 0 OR total_cost <> 0), 0,
		  'whatever the tags-only UPDATE wrote is all zeros');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-oc')), 0, 'verify: 0 differences after the tags-only update');
-- the same for unpriced calls (NULL costs)
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-06 09:10+00', 'tap-oc-unpriced', 'tapai', 'tap-none', 1000, 500);
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh();
UPDATE costopt.api_usage_logs SET tags = '{"team": "search"}' WHERE organization_id = 'tap-oc-unpriced';
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::int FROM costopt.rollup_deltas), 0,
		  'a tags-only UPDATE of unpriced calls writes no delta row');
CALL pg_temp.refresh();

-- UPDATEs that move calls to another hour, organisation and model
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens, request_hash)
VALUES ('2025-03-05 10:10+00', 'tap-mv', 'ana', 'tapai', 'tap-a', 1000, 500, 'mv-a'),
	   ('2025-03-05 10:20+00', 'tap-mv', 'ana', 'tapai', 'tap-a', 1000, 500, 'mv-b'),
	   ('2025-03-05 10:30+00', 'tap-mv', 'ana', 'tapai', 'tap-a', 1000, 500, 'mv-c'),
	   ('2025-03-05 10:40+00', 'tap-mv', 'ana', 'tapai', 'tap-a', 1000, 500, 'mv-d');
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh();
UPDATE costopt.api_usage_logs SET created_at = '2025-03-06 11:05+00' WHERE request_hash = 'mv-a';
UPDATE costopt.api_usage_logs SET organization_id = 'tap-mv2' WHERE request_hash = 'mv-b';
UPDATE costopt.api_usage_logs SET model = 'tap-b' WHERE request_hash = 'mv-c';
CALL pg_temp.flush_deltas();
SELECT results_eq($$SELECT calls, removed_rows FROM costopt_refresh_rollups()$$,
				  $$VALUES (0::bigint, 0::bigint)$$,
				  'moving calls between buckets changes no call count in total');
SELECT results_eq(
	$$SELECT organization_id, period_type, period_start, model_name, total_requests, total_cost
		FROM costopt.cost_analysis WHERE organization_id IN ('tap-mv', 'tap-mv2')
	   ORDER BY organization_id, period_type, period_start, model_name$$,
	$$VALUES ('tap-mv'::text, 'daily'::text, '2025-03-05 00:00+00'::timestamptz, 'tap-a'::text, 1::bigint, 2::numeric),
			 ('tap-mv', 'daily', '2025-03-05 00:00+00', 'tap-b', 1, 4),
			 ('tap-mv', 'daily', '2025-03-06 00:00+00', 'tap-a', 1, 2),
			 ('tap-mv', 'hourly', '2025-03-05 10:00+00', 'tap-a', 1, 2),
			 ('tap-mv', 'hourly', '2025-03-05 10:00+00', 'tap-b', 1, 4),
			 ('tap-mv', 'hourly', '2025-03-06 11:00+00', 'tap-a', 1, 2),
			 ('tap-mv', 'monthly', '2025-03-01 00:00+00', 'tap-a', 2, 4),
			 ('tap-mv', 'monthly', '2025-03-01 00:00+00', 'tap-b', 1, 4),
			 ('tap-mv', 'weekly', '2025-03-03 00:00+00', 'tap-a', 2, 4),
			 ('tap-mv', 'weekly', '2025-03-03 00:00+00', 'tap-b', 1, 4),
			 ('tap-mv2', 'daily', '2025-03-05 00:00+00', 'tap-a', 1, 2),
			 ('tap-mv2', 'hourly', '2025-03-05 10:00+00', 'tap-a', 1, 2),
			 ('tap-mv2', 'monthly', '2025-03-01 00:00+00', 'tap-a', 1, 2),
			 ('tap-mv2', 'weekly', '2025-03-03 00:00+00', 'tap-a', 1, 2)$$,
	'moved calls leave their old buckets (4 -> 1 in hour 10:00) and enter the new hour, organisation and model (re-priced)');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-mv'))
		  + (SELECT count(*)::int FROM costopt_verify_rollups('tap-mv2')), 0,
		  'verify: 0 differences for both organisations after the moves');
-- moving the last call out of a bucket removes the bucket
UPDATE costopt.api_usage_logs SET organization_id = 'tap-mv' WHERE request_hash = 'mv-b';
CALL pg_temp.flush_deltas();
SELECT results_eq($$SELECT calls, removed_rows FROM costopt_refresh_rollups()$$,
				  $$VALUES (0::bigint, 4::bigint)$$, 'moving the only call back removes its 4 emptied buckets');
SELECT is((SELECT count(*)::int FROM costopt.cost_analysis WHERE organization_id = 'tap-mv2'), 0,
		  'no rollup rows are left for the emptied organisation');

-- re-pricing: costopt_recost rewrites costs, the rollups follow after refresh
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-07 08:00+00', 'tap-rc', 'ana', 'tapai', 'tap-a', 1000, 500),
	   ('2025-03-07 08:30+00', 'tap-rc', 'ana', 'tapai', 'tap-a', 1000, 500),
	   ('2025-03-07 09:00+00', 'tap-rc', 'ana', 'tapai', 'tap-rc-new', 1000, 500);
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh();
SELECT results_eq($$SELECT total_requests, total_cost, unpriced_requests FROM costopt.cost_analysis
					WHERE organization_id = 'tap-rc' AND period_type = 'monthly' ORDER BY model_name$$,
				  $$VALUES (2::bigint, 4::numeric, 0::bigint), (1, 0, 1)$$,
				  'before re-pricing: tap-a costs 4, tap-rc-new is unpriced');
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapai', 'tap-a', 3000, 2000, '2025-01-01'),       -- input price tripled
	   ('tapai', 'tap-rc-new', 1000, 1000, '-infinity');   -- a price for the unpriced model
SELECT results_eq($$SELECT changed FROM costopt_recost('2025-03-07', '2025-03-08')$$,
				  $$VALUES (3::bigint)$$, 'costopt_recost re-priced the 3 calls');
CALL pg_temp.flush_deltas();
SELECT results_eq($$SELECT calls FROM costopt_refresh_rollups()$$, $$VALUES (0::bigint)$$,
				  're-pricing changes costs, not calls');
SELECT results_eq($$SELECT period_type, model_name, total_requests, input_cost, total_cost, unpriced_requests
					 FROM costopt.cost_analysis WHERE organization_id = 'tap-rc' ORDER BY period_type, model_name$$,
				  $$VALUES ('daily'::text, 'tap-a'::text, 2::bigint, 6::numeric, 8::numeric, 0::bigint),
						   ('daily', 'tap-rc-new', 1, 1, 1.5, 0),
						   ('hourly', 'tap-a', 2, 6, 8, 0),
						   ('hourly', 'tap-rc-new', 1, 1, 1.5, 0),
						   ('monthly', 'tap-a', 2, 6, 8, 0),
						   ('monthly', 'tap-rc-new', 1, 1, 1.5, 0),
						   ('weekly', 'tap-a', 2, 6, 8, 0),
						   ('weekly', 'tap-rc-new', 1, 1, 1.5, 0)$$,
				  'after recost and refresh the rollups hold the new costs (tap-a 4 -> 8) and no unpriced calls');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-rc')), 0, 'verify: 0 differences after re-pricing');

-------------------------------------------------------------------------------
-- Errors of the capture trigger
-------------------------------------------------------------------------------
CREATE TABLE pg_temp.tap_calls (
	id              bigint GENERATED ALWAYS AS IDENTITY,
	created_at      timestamptz NOT NULL DEFAULT '2025-03-01',
	organization_id text,
	user_id         text,
	provider        text,
	model           text NOT NULL DEFAULT 'tap-a',
	input_tokens    integer NOT NULL DEFAULT 0,
	output_tokens   integer NOT NULL DEFAULT 0,
	input_cost      numeric,
	output_cost     numeric,
	total_cost      numeric
);
CREATE TABLE pg_temp.tap_calls_no_org (
	created_at      timestamptz NOT NULL DEFAULT '2025-03-01',
	model           text NOT NULL DEFAULT 'tap-a',
	input_tokens    integer NOT NULL DEFAULT 0,
	output_tokens   integer NOT NULL DEFAULT 0,
	input_cost      numeric,
	output_cost     numeric,
	total_cost      numeric
);

SELECT throws_ok($$SELECT costopt.rollup_capture()$$, '39P01',
				 'function "costopt.rollup_capture" was not called by trigger manager',
				 'costopt.rollup_capture() called directly: 39P01');
CREATE TRIGGER tap_before BEFORE INSERT ON pg_temp.tap_calls
	FOR EACH ROW EXECUTE FUNCTION costopt.rollup_capture();
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls (organization_id) VALUES ('tap-err')$$, '39P01',
				 'function "costopt.rollup_capture" must be fired AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW',
				 'fired as a BEFORE row trigger: 39P01');
DROP TRIGGER tap_before ON pg_temp.tap_calls;
CREATE TRIGGER tap_stmt AFTER INSERT ON pg_temp.tap_calls
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.rollup_capture();
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls (organization_id) VALUES ('tap-err')$$, '39P01',
				 'function "costopt.rollup_capture" must be fired AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW',
				 'fired as an AFTER statement trigger: 39P01');
DROP TRIGGER tap_stmt ON pg_temp.tap_calls;
CREATE TRIGGER tap_trunc AFTER TRUNCATE ON pg_temp.tap_calls
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.rollup_capture();
SELECT throws_ok($$TRUNCATE pg_temp.tap_calls$$, '39P01', NULL, 'fired as a TRUNCATE trigger: 39P01');
DROP TRIGGER tap_trunc ON pg_temp.tap_calls;

CREATE TRIGGER tap_capture AFTER INSERT OR UPDATE OR DELETE ON pg_temp.tap_calls_no_org
	FOR EACH ROW EXECUTE FUNCTION costopt.rollup_capture();
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls_no_org DEFAULT VALUES$$, '09000',
				 'table "tap_calls_no_org" has no column "organization_id" for the cost rollups',
				 'a usage table without organization_id: 09000');
CREATE TRIGGER tap_capture AFTER INSERT OR UPDATE OR DELETE ON pg_temp.tap_calls
	FOR EACH ROW EXECUTE FUNCTION costopt.rollup_capture();
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls (organization_id) VALUES (NULL)$$, '22004',
				 'column "organization_id" of a usage row must not be null',
				 'a NULL organization_id on a table that allows it: 22004');

-- names: at most 200 bytes each.  On the usage log a user_id of 201
-- characters is refused first by its CHECK api_usage_logs_user_check (at
-- most 200 characters).  The capture keeps names of up to 800 bytes (200
-- characters of up to four bytes), so its own 22001 shows only on a table
-- without that CHECK.
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, user_id, model, input_tokens, output_tokens)
				   VALUES ('tap-long', repeat('u', 201), 'tap-a', 1, 1)$$,
				 '23514', NULL,
				 'user_id of 201 characters on the usage log: 23514 from its CHECK, before the capture');
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls (organization_id, user_id) VALUES ('tap-long', repeat('u', 801))$$,
				 '22001', 'value of "user_id" is too long for the cost rollups',
				 'user_id of 801 bytes on a table without that CHECK: 22001 from the capture trigger');
SELECT lives_ok($$INSERT INTO costopt.api_usage_logs (organization_id, user_id, model, input_tokens, output_tokens)
				  VALUES ('tap-long', repeat('u', 200), 'tap-a', 1, 1)$$,
				'user_id of 200 characters is accepted');
-- every name the usage log's CHECKs allow is kept, multi-byte ones too
SELECT lives_ok($$INSERT INTO costopt.api_usage_logs (organization_id, user_id, model, input_tokens, output_tokens)
				  VALUES ('tap-long', repeat(chr(233), 200), 'tap-a', 1, 1)$$,
				'user_id of 200 two-byte characters (400 bytes) on the usage log is captured');
SELECT throws_ok($$INSERT INTO pg_temp.tap_calls (organization_id, provider) VALUES ('tap-long', repeat('p', 801))$$,
				 '22001', 'value of "provider" is too long for the cost rollups',
				 'provider of 801 bytes (a table without the usage log''s CHECK): 22001');
-- The four names once took one 720-byte key buffer in src/rollup_capture.c, but
-- each may have 200 bytes (plus a flag and a separator: 808 bytes).  Names
-- of 200 + 200 + 200 + 200 bytes overflow it and the backend aborts with
-- "stack smashing detected" (the whole server restarts), so that case is in
-- test/t/002_rollup_deltas_index.t, not here.

-- an index on rollup_deltas makes writing the deltas fail (55000); the
-- writer of the bulk-load path is the one used at commit
CREATE FUNCTION pg_temp.flush_with_index() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	CREATE INDEX tap_rollup_deltas_idx ON costopt.rollup_deltas (organization_id);
	-- a call to write (a flush with nothing but zero deltas opens no table)
	INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
	VALUES ('tap-index', 'tap-a', 1, 1);
	UPDATE flush_pad SET touched = touched + 1;
END;
$$;
SELECT throws_ok($$SELECT pg_temp.flush_with_index()$$, '55000', 'costopt.rollup_deltas must not have indexes',
				 'writing deltas into costopt.rollup_deltas with an index fails with 55000');
SELECT is((SELECT count(*)::int FROM pg_index WHERE indrelid = 'costopt.rollup_deltas'::regclass), 0,
		  'the failed (sub)transaction took its index with it');

-------------------------------------------------------------------------------
-- Time zone of days, weeks and months
-------------------------------------------------------------------------------
-- New York: EST (UTC-5) until 2025-03-09 07:00 UTC, then EDT (UTC-4)
SELECT results_eq($$SELECT period_type, period_start, period_end FROM costopt.rollup_periods('2025-03-10 12:00+00', 'America/New_York') ORDER BY 1$$,
				  $$VALUES ('daily'::text, '2025-03-10 04:00+00'::timestamptz, '2025-03-11 04:00+00'::timestamptz),
						   ('hourly', '2025-03-10 12:00+00', '2025-03-10 13:00+00'),
						   ('monthly', '2025-03-01 05:00+00', '2025-04-01 04:00+00'),
						   ('weekly', '2025-03-10 04:00+00', '2025-03-17 04:00+00')$$,
				  'rollup_periods: local midnight, ISO week and month in America/New_York, across the DST change');

DELETE FROM costopt.cost_analysis;
UPDATE costopt.rollup_state SET rollup_timezone = 'America/New_York';
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-10 12:00+00', 'tap-tz', 'ana', 'tapai', 'tap-a', 1000, 500),
	   ('2025-03-09 12:00+00', 'tap-tz', 'ana', 'tapai', 'tap-a', 1000, 500),   -- the 23-hour day
	   ('2025-03-09 04:30+00', 'tap-tz', 'ana', 'tapai', 'tap-a', 1000, 500);  -- 2025-03-08 23:30 in New York
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh();
SELECT results_eq(
	$$SELECT period_type, period_start, period_end, total_requests FROM costopt.cost_analysis
	   WHERE organization_id = 'tap-tz' AND period_type <> 'hourly' ORDER BY 1, 2$$,
	$$VALUES ('daily'::text, '2025-03-08 05:00+00'::timestamptz, '2025-03-09 05:00+00'::timestamptz, 1::bigint),
			 ('daily', '2025-03-09 05:00+00', '2025-03-10 04:00+00', 1),
			 ('daily', '2025-03-10 04:00+00', '2025-03-11 04:00+00', 1),
			 ('monthly', '2025-03-01 05:00+00', '2025-04-01 04:00+00', 3),
			 ('weekly', '2025-03-03 05:00+00', '2025-03-10 04:00+00', 2),
			 ('weekly', '2025-03-10 04:00+00', '2025-03-17 04:00+00', 1)$$,
	'rollup_timezone America/New_York: days, weeks and months start at local midnight (DST day is 23 hours)');
SELECT results_eq($$SELECT period_start FROM costopt.cost_analysis
					 WHERE organization_id = 'tap-tz' AND period_type = 'hourly' ORDER BY 1$$,
				  $$VALUES ('2025-03-09 04:00+00'::timestamptz), ('2025-03-09 12:00+00'), ('2025-03-10 12:00+00')$$,
				  'hourly buckets stay UTC hours whatever the time zone');
SELECT is((SELECT count(*)::int FROM costopt_verify_rollups('tap-tz')), 0,
		  'verify: 0 differences with rollup_timezone America/New_York');
SELECT throws_ok($$UPDATE costopt.rollup_state SET rollup_timezone = 'Mars/Olympus_Mons'$$, '22023',
				 'time zone "Mars/Olympus_Mons" not recognized',
				 'an unknown time zone name is refused (22023, from the rollup_state CHECK)');
SELECT is(pg_temp.sqlstate_of($$UPDATE costopt.rollup_state SET rollup_timezone = NULL$$), '23502',
		  'a NULL time zone is refused (23502)');
UPDATE costopt.rollup_state SET rollup_timezone = 'UTC';

SELECT * FROM finish();
ROLLBACK;
