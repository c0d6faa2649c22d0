-- Reading the rollups: costopt_cost_analysis, costopt_breakdown,
-- costopt_trends, costopt_top_cost_drivers and the four BI views, on data
-- whose every figure is computed by hand.  Functions that take a range read
-- calls at fixed past dates; functions that count back from now() read calls
-- placed relative to now(), never in the future (now() is fixed for the
-- whole transaction).  sql/rollup_reads.sql covers the same functions
-- against the raw log on a larger dataset.
--
-- The capture writes deltas at commit, and this file runs in one
-- transaction that is rolled back: pg_temp.flush_deltas writes them early
-- through the capture's bulk-load path (see test/pgtap/40_rollups.sql).
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(121);

\ir include/rollup_fixture.psql

-- One row per (group_key, is_total) of costopt_cost_analysis, as text, for
-- comparing the results of two calls.
CREATE FUNCTION pg_temp.totals(f timestamptz, t timestamptz, g text)
RETURNS TABLE (requests bigint, total_cost numeric, input_tokens bigint, error_count bigint)
LANGUAGE sql AS $$
	SELECT requests, total_cost, input_tokens, error_count
	  FROM costopt_cost_analysis('tap-rd', f, t, g) WHERE is_total
$$;

-- Round prices: 1000 input + 500 output tokens cost 2 on tap-a (1 + 1),
-- 4 on tap-b (2 + 2) and 0.2 on tap-c (0.1 + 0.1); tap-none has no price.
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapai', 'tap-a', 1000, 2000, '-infinity'),
	   ('tapai', 'tap-b', 2000, 4000, '-infinity'),
	   ('tapai', 'tap-c', 100, 200, '-infinity');
CALL pg_temp.refresh();
INSERT INTO costopt.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
UPDATE costopt.rollup_state SET rollup_timezone = 'UTC', raw_horizon = '-infinity';

-- Fixed dates: March 2025 holds 5 calls costing 6.4 in all.
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model,
									input_tokens, output_tokens, cached_input_tokens, latency_ms, status)
VALUES ('2025-02-28 23:30+00', 'tap-rd', 'alice', 'tapai', 'tap-a', 1000, 500, 0, 100, 'success'),  -- before the range
	   ('2025-03-03 10:15+00', 'tap-rd', 'alice', 'tapai', 'tap-a', 1000, 500, 0, 100, 'success'),  -- 2.0
	   ('2025-03-03 11:40+00', 'tap-rd', 'bob', 'tapai', 'tap-c', 1000, 500, 200, 300, 'success'),  -- 0.2
	   ('2025-03-04 09:00+00', 'tap-rd', 'alice', 'tapai', 'tap-c', 1000, 500, 0, NULL, 'error'),   -- 0.2
	   ('2025-03-10 23:59+00', 'tap-rd', NULL, NULL, 'tap-a', 2000, 1000, 0, 500, 'success'),       -- 4.0
	   ('2025-03-17 12:00+00', 'tap-rd', 'bob', 'tapai', 'tap-none', 500, 50, 0, 200, 'success'),   -- unpriced
	   ('2025-04-02 08:00+00', 'tap-rd', 'alice', 'tapai', 'tap-a', 1000, 500, 0, 100, 'success');  -- after the range

-- Relative to now.  Trends: on day i of 10 (day 10 is today) tap-tr has i
-- calls of 0.2, the first of them failed; tap-tr-down has 11 - i calls;
-- tap-tr-flat one call with 100 tokens (days 1-5) or 104 input / 106
-- output tokens (days 6-10); tap-tr-gap calls on days 3 and 7 only;
-- tap-tr-new one call this hour.
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model,
									input_tokens, output_tokens, latency_ms, status)
SELECT date_trunc('day', now()) - (10 - i) * interval '1 day', 'tap-tr', 'ana', 'tapai', 'tap-c',
	   1000, 500, 200, CASE WHEN k = 1 THEN 'error' ELSE 'success' END
  FROM generate_series(1, 10) i, generate_series(1, i) k;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT date_trunc('day', now()) - (10 - i) * interval '1 day', 'tap-tr-down', 'tap-c', 1000, 500
  FROM generate_series(1, 10) i, generate_series(1, 11 - i) k;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT date_trunc('day', now()) - (10 - i) * interval '1 day', 'tap-tr-flat', 'tap-c',
	   CASE WHEN i <= 5 THEN 100 ELSE 104 END, CASE WHEN i <= 5 THEN 100 ELSE 106 END
  FROM generate_series(1, 10) i;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT date_trunc('day', now()) - (10 - i) * interval '1 day', 'tap-tr-gap', 'tap-c', 1000, 500
  FROM generate_series(1, 10) i WHERE i IN (3, 7);
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES (date_trunc('hour', now()), 'tap-tr-new', 'tap-c', 1000, 500);

-- Top drivers over 7 days: this window is [today - 6 days, tomorrow), the
-- previous one [today - 13 days, today - 6 days).
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES (date_trunc('day', now()) - interval '2 days' + interval '1 hour', 'tap-top', 'alice', 'tapai', 'tap-a', 1000, 500),
	   (date_trunc('day', now()) - interval '3 days', 'tap-top', 'alice', 'tapai', 'tap-a', 1000, 500),
	   (date_trunc('day', now()) - interval '10 days', 'tap-top', 'alice', 'tapai', 'tap-a', 1000, 500),  -- previous
	   (date_trunc('day', now()) - interval '2 days', 'tap-top', 'carol', 'tapai', 'tap-a', 1000, 500),
	   (date_trunc('day', now()) - interval '6 days', 'tap-top', 'bob', 'tapai', 'tap-c', 1000, 500),
	   (date_trunc('day', now()) - interval '7 days', 'tap-top', 'bob', 'tapai', 'tap-c', 1000, 500),     -- previous
	   (date_trunc('day', now()) - interval '13 days', 'tap-top', 'bob', 'tapai', 'tap-c', 1000, 500),    -- previous
	   (date_trunc('day', now()) - interval '4 days', 'tap-top', NULL, 'tapai', 'tap-c', 1000, 500),
	   (date_trunc('day', now()) - interval '8 days', 'tap-top', NULL, 'tapai', 'tap-c', 1000, 500),      -- previous
	   (date_trunc('day', now()) - interval '9 days', 'tap-top', 'dave', 'tapai', 'tap-b', 1000, 500),    -- previous only
	   (date_trunc('day', now()) - interval '5 days', 'tap-top', 'erin', 'tapai', 'tap-none', 1000, 500), -- unpriced
	   (date_trunc('hour', now()), 'tap-top', 'frank', 'tapai', 'tap-c', 1000, 500),                      -- today
	   (date_trunc('day', now()) - interval '14 days', 'tap-top', 'gina', 'tapai', 'tap-b', 1000, 500);   -- in neither
CALL pg_temp.refresh();

-------------------------------------------------------------------------------
-- Functions and views present
-------------------------------------------------------------------------------
SELECT has_function('public', 'costopt_cost_analysis', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone', 'text'],
					'costopt_cost_analysis(text, timestamptz, timestamptz, text) exists');
SELECT has_function('public', 'costopt_breakdown', ARRAY['text', 'text', 'integer'], 'costopt_breakdown(text, text, integer) exists');
SELECT has_function('public', 'costopt_trends', ARRAY['text', 'text', 'integer', 'text'], 'costopt_trends(text, text, integer, text) exists');
SELECT has_function('public', 'costopt_top_cost_drivers', ARRAY['text', 'integer', 'integer'],
					'costopt_top_cost_drivers(text, integer, integer) exists');
SELECT is((SELECT array_agg(DISTINCT provolatile::text) FROM pg_proc
			WHERE proname IN ('costopt_cost_analysis', 'costopt_breakdown', 'costopt_trends', 'costopt_top_cost_drivers')),
		  ARRAY['s'], 'the four read functions are STABLE');
SELECT has_view('costopt', 'v_monthly_cost_summary', 'view costopt.v_monthly_cost_summary exists');
SELECT has_view('costopt', 'v_daily_costs', 'view costopt.v_daily_costs exists');
SELECT has_view('costopt', 'v_model_costs', 'view costopt.v_model_costs exists');
SELECT has_view('costopt', 'v_user_costs', 'view costopt.v_user_costs exists');

-------------------------------------------------------------------------------
-- costopt_cost_analysis: every group_by, totals and percentages
-------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'model')$$,
	$$VALUES ('tap-a'::text, 2::bigint, 3000::bigint, 1500::bigint, 0::bigint, 6::numeric, 3::numeric, 3::numeric, 93.75::numeric, 3::numeric, 0::bigint, 0::bigint, 300.0::numeric, false),
			 ('tap-c', 2, 2000, 1000, 200, 0.4, 0.2, 0.2, 6.25, 0.2, 1, 0, 300.0, false),
			 ('tap-none', 1, 500, 50, 0, 0, 0, 0, 0.00, 0, 0, 1, 200.0, false),
			 (NULL, 5, 5500, 2550, 200, 6.4, 3.2, 3.2, 100.00, 1.28, 1, 1, 275.0, true)$$,
	'group_by model: every column of every row, costliest first, totals last');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, cost_per_request, error_count, unpriced_requests, avg_latency_ms, is_total
		FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'user')$$,
	$$VALUES ('(no user)'::text, 1::bigint, 4::numeric, 62.50::numeric, 4::numeric, 0::bigint, 0::bigint, 500.0::numeric, false),
			 ('alice', 2, 2.2, 34.38, 1.1, 1, 0, 100.0, false),
			 ('bob', 2, 0.2, 3.13, 0.1, 0, 1, 250.0, false),
			 (NULL, 5, 6.4, 100.00, 1.28, 1, 1, 275.0, true)$$,
	'group_by user: calls without a user are grouped as "(no user)"');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, is_total FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'provider')$$,
	$$VALUES ('(no provider)'::text, 1::bigint, 4::numeric, 62.50::numeric, false),
			 ('tapai', 4, 2.4, 37.50, false),
			 (NULL, 5, 6.4, 100.00, true)$$,
	'group_by provider: calls without a provider are grouped as "(no provider)"');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, is_total FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'hour')$$,
	$$VALUES ('2025-03-03 10:00Z'::text, 1::bigint, 2::numeric, 31.25::numeric, false),
			 ('2025-03-03 11:00Z', 1, 0.2, 3.13, false),
			 ('2025-03-04 09:00Z', 1, 0.2, 3.13, false),
			 ('2025-03-10 23:00Z', 1, 4, 62.50, false),
			 ('2025-03-17 12:00Z', 1, 0, 0.00, false),
			 (NULL, 5, 6.4, 100.00, true)$$,
	'group_by hour: keys YYYY-MM-DD HH24:00Z (UTC) in time order');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, is_total FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'day')$$,
	$$VALUES ('2025-03-03'::text, 2::bigint, 2.2::numeric, 34.38::numeric, false),
			 ('2025-03-04', 1, 0.2, 3.13, false),
			 ('2025-03-10', 1, 4, 62.50, false),
			 ('2025-03-17', 1, 0, 0.00, false),
			 (NULL, 5, 6.4, 100.00, true)$$,
	'group_by day: keys YYYY-MM-DD in time order, days without calls left out');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, is_total FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'week')$$,
	$$VALUES ('2025-W10'::text, 3::bigint, 2.4::numeric, 37.50::numeric, false),
			 ('2025-W11', 1, 4, 62.50, false),
			 ('2025-W12', 1, 0, 0.00, false),
			 (NULL, 5, 6.4, 100.00, true)$$,
	'group_by week: ISO weeks (IYYY-"W"IW, Monday first)');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost, is_total FROM costopt_cost_analysis('tap-rd', '2025-02-01', '2025-05-01', 'month')$$,
	$$VALUES ('2025-02'::text, 1::bigint, 2::numeric, 19.23::numeric, false),
			 ('2025-03', 5, 6.4, 61.54, false),
			 ('2025-04', 1, 2, 19.23, false),
			 (NULL, 7, 10.4, 100.00, true)$$,
	'group_by month: keys YYYY-MM over three months');
SELECT is((SELECT count(*)::int
			 FROM unnest(ARRAY['model', 'user', 'provider', 'hour', 'day', 'week', 'month']) g,
				  LATERAL (SELECT array_agg(c.is_total ORDER BY c.o) AS flags,
								  bool_and(c.is_total = (c.group_key IS NULL)) AS keys_ok
							 FROM (SELECT a.*, row_number() OVER () AS o
									 FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', g) a) c) x
			WHERE NOT x.keys_ok OR array_position(x.flags, true) IS DISTINCT FROM array_length(x.flags, 1)),
		  0, 'for every group_by exactly the last row is the totals row, and only it has group_key NULL');
SELECT is((SELECT count(DISTINCT (t.requests, t.total_cost, t.input_tokens, t.error_count))::int
			 FROM unnest(ARRAY['model', 'user', 'provider', 'hour', 'day', 'week', 'month']) g,
				  pg_temp.totals('2025-03-01', '2025-04-01', g) t),
		  1, 'the totals row is the same whatever the grouping');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['model', 'user', 'provider', 'hour', 'day', 'week', 'month']) g
			WHERE (SELECT abs(sum(c.pct_of_cost) - 100) > 0.05
					 FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', g) c WHERE NOT c.is_total)),
		  0, 'for every group_by the groups'' pct_of_cost add up to 100 (rounding aside)');
SELECT results_eq(
	$$SELECT requests, total_cost, error_count, unpriced_requests FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01') WHERE is_total$$,
	$$SELECT count(*), sum(total_cost), count(*) FILTER (WHERE status <> 'success'), count(*) FILTER (WHERE total_cost IS NULL)
		FROM costopt.api_usage_logs WHERE organization_id = 'tap-rd' AND created_at >= '2025-03-01' AND created_at < '2025-04-01'$$,
	'the totals equal the raw log of the range (group_by defaults to model)');
SELECT results_eq(
	$$SELECT * FROM costopt_cost_analysis('tap-rd', '2024-01-01', '2024-02-01', 'model')$$,
	$$VALUES (NULL::text, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::numeric, 0::numeric, 0::numeric, NULL::numeric, NULL::numeric, 0::bigint, 0::bigint, NULL::numeric, true)$$,
	'a range without calls: only the totals row, zeros, NULL percentages and averages');
SELECT results_eq(
	$$SELECT group_key, requests FROM costopt_cost_analysis('tap-other-org', '2025-03-01', '2025-04-01', 'model')$$,
	$$VALUES (NULL::text, 0::bigint)$$, 'another organisation sees none of these calls');

-- the range is widened to whole UTC hours: from_time rounded down, to_time up
SELECT results_eq(
	$$SELECT r.f, r.t, (SELECT requests FROM costopt_cost_analysis('tap-rd', r.f, r.t) WHERE is_total)
		FROM (VALUES ('2025-03-03 10:30+00'::timestamptz, '2025-03-03 11:15+00'::timestamptz),
					 ('2025-03-03 10:00+00', '2025-03-03 11:00+00'),
					 ('2025-03-03 11:00+00', '2025-03-03 11:00:01+00'),
					 ('2025-03-03 10:59:59+00', '2025-03-03 11:00+00'),
					 ('2025-03-03 11:41+00', '2025-03-03 11:59+00')) r(f, t)$$,
	$$VALUES ('2025-03-03 10:30+00'::timestamptz, '2025-03-03 11:15+00'::timestamptz, 2::bigint),
			 ('2025-03-03 10:00+00', '2025-03-03 11:00+00', 1),
			 ('2025-03-03 11:00+00', '2025-03-03 11:00:01+00', 1),
			 ('2025-03-03 10:59:59+00', '2025-03-03 11:00+00', 1),
			 ('2025-03-03 11:41+00', '2025-03-03 11:59+00', 1)$$,
	'ranges are widened to whole hours: 10:30-11:15 reads 10:00-12:00 (calls at 10:15 and 11:40); an hour-aligned to_time is kept');
SELECT results_eq(
	$$SELECT * FROM costopt.check_range('tap-rd', '2025-03-03 10:30+00', '2025-03-03 11:15+00')$$,
	$$VALUES ('2025-03-03 10:00+00'::timestamptz, '2025-03-03 12:00+00'::timestamptz)$$,
	'costopt.check_range floors from_time and ceils to_time to the UTC hour');

-- grain: the result does not depend on the grain the range allows
SELECT results_eq(
	$$SELECT g.f, g.t, x.* FROM (VALUES ('2025-03-01'::timestamptz, '2025-04-01'::timestamptz),   -- monthly rows
									  ('2025-03-01', '2025-03-31'),                             -- daily rows
									  ('2025-03-01', '2025-03-31 12:00'),                       -- hourly rows
									  ('2025-03-01 00:20', '2025-03-31 11:30')) g(f, t),        -- hourly, widened
			 LATERAL pg_temp.totals(g.f, g.t, 'model') x$$,
	$$SELECT g.f, g.t, 5::bigint, 6.4::numeric, 5500::bigint, 1::bigint
		FROM (VALUES ('2025-03-01'::timestamptz, '2025-04-01'::timestamptz), ('2025-03-01', '2025-03-31'),
					 ('2025-03-01', '2025-03-31 12:00'), ('2025-03-01 00:20', '2025-03-31 11:30')) g(f, t)$$,
	'month-, day- and hour-aligned ranges over the same calls give the same totals');
SELECT results_eq(
	$$SELECT g, x.requests, x.total_cost FROM unnest(ARRAY['hour', 'day', 'week', 'month', 'model']) g,
			 LATERAL pg_temp.totals('2025-03-01', '2025-04-01', g) x$$,
	$$SELECT g, 5::bigint, 6.4::numeric FROM unnest(ARRAY['hour', 'day', 'week', 'month', 'model']) g$$,
	'group_by hour (hourly rows), day and week (daily rows) and month or model (monthly rows) agree on the month');
-- white box: a month-aligned range reads the monthly row, a day-aligned
-- one the daily rows (tampering with the monthly row shows which is read)
UPDATE costopt.cost_analysis SET total_cost = total_cost + 100
 WHERE organization_id = 'tap-rd' AND period_type = 'monthly' AND period_start = '2025-03-01'
   AND model_name = 'tap-none';
SELECT results_eq(
	$$SELECT (SELECT total_cost FROM pg_temp.totals('2025-03-01', '2025-04-01', 'model')),
			 (SELECT total_cost FROM pg_temp.totals('2025-03-01', '2025-04-01', 'day')),
			 (SELECT total_cost FROM pg_temp.totals('2025-03-01', '2025-03-31', 'model'))$$,
	$$VALUES (106.4::numeric, 6.4::numeric, 6.4::numeric)$$,
	'a month-aligned range by model reads the monthly rollup; by day, or day-aligned, the daily rollups');
UPDATE costopt.cost_analysis SET total_cost = total_cost - 100
 WHERE organization_id = 'tap-rd' AND period_type = 'monthly' AND period_start = '2025-03-01'
   AND model_name = 'tap-none';

-------------------------------------------------------------------------------
-- The BI views (refreshed rollups only)
-------------------------------------------------------------------------------
SELECT columns_are('costopt', 'v_monthly_cost_summary', ARRAY[
	'organization_id', 'month_start', 'total_requests', 'input_tokens', 'output_tokens', 'total_tokens',
	'cached_input_tokens', 'input_cost', 'output_cost', 'total_cost', 'cost_per_request', 'error_count',
	'error_rate', 'avg_latency_ms', 'unpriced_requests', 'models', 'users'],
	'v_monthly_cost_summary has the documented columns');
SELECT columns_are('costopt', 'v_daily_costs', ARRAY[
	'organization_id', 'day_start', 'total_requests', 'total_tokens', 'input_cost', 'output_cost',
	'total_cost', 'error_count', 'avg_latency_ms', 'unpriced_requests'],
	'v_daily_costs has the documented columns');
SELECT columns_are('costopt', 'v_model_costs', ARRAY[
	'organization_id', 'month_start', 'provider', 'model_name', 'total_requests', 'input_tokens',
	'output_tokens', 'total_cost', 'cost_per_request', 'pct_of_month', 'error_count'],
	'v_model_costs has the documented columns');
SELECT columns_are('costopt', 'v_user_costs', ARRAY[
	'organization_id', 'month_start', 'user_id', 'total_requests', 'total_tokens', 'total_cost',
	'cost_per_request', 'pct_of_month', 'models', 'error_count'],
	'v_user_costs has the documented columns');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'organization_id', 'text', 'v_monthly_cost_summary.organization_id is text');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'month_start', 'timestamp with time zone', 'v_monthly_cost_summary.month_start is timestamptz');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'total_requests', 'numeric', 'v_monthly_cost_summary.total_requests is numeric (a sum of bigint)');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'total_cost', 'numeric', 'v_monthly_cost_summary.total_cost is numeric');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'error_rate', 'numeric', 'v_monthly_cost_summary.error_rate is numeric');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'models', 'bigint', 'v_monthly_cost_summary.models is bigint');
SELECT col_type_is('costopt', 'v_monthly_cost_summary', 'users', 'bigint', 'v_monthly_cost_summary.users is bigint');
SELECT col_type_is('costopt', 'v_daily_costs', 'day_start', 'timestamp with time zone', 'v_daily_costs.day_start is timestamptz');
SELECT col_type_is('costopt', 'v_daily_costs', 'total_requests', 'numeric', 'v_daily_costs.total_requests is numeric');
SELECT col_type_is('costopt', 'v_daily_costs', 'total_cost', 'numeric', 'v_daily_costs.total_cost is numeric');
SELECT col_type_is('costopt', 'v_model_costs', 'provider', 'text', 'v_model_costs.provider is text');
SELECT col_type_is('costopt', 'v_model_costs', 'model_name', 'text', 'v_model_costs.model_name is text');
SELECT col_type_is('costopt', 'v_model_costs', 'pct_of_month', 'numeric', 'v_model_costs.pct_of_month is numeric');
SELECT col_type_is('costopt', 'v_user_costs', 'user_id', 'text', 'v_user_costs.user_id is text');
SELECT col_type_is('costopt', 'v_user_costs', 'pct_of_month', 'numeric', 'v_user_costs.pct_of_month is numeric');
SELECT col_type_is('costopt', 'v_user_costs', 'models', 'bigint', 'v_user_costs.models is bigint');

SELECT results_eq(
	$$SELECT * FROM costopt.v_monthly_cost_summary WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01'$$,
	$$VALUES ('tap-rd'::text, '2025-03-01 00:00+00'::timestamptz, 5::numeric, 5500::numeric, 2550::numeric, 8050::numeric,
			  200::numeric, 3.2::numeric, 3.2::numeric, 6.4::numeric, 1.28::numeric, 1::numeric, 0.2::numeric, 275.0::numeric,
			  1::numeric, 3::bigint, 2::bigint)$$,
	'v_monthly_cost_summary, March: every column (users counts named users only)');
SELECT results_eq(
	$$SELECT v.total_requests::bigint, v.total_cost, v.input_tokens::bigint, v.error_count::bigint
		FROM costopt.v_monthly_cost_summary v WHERE v.organization_id = 'tap-rd' ORDER BY v.month_start$$,
	$$SELECT t.* FROM (VALUES ('2025-02-01'::timestamptz), ('2025-03-01'), ('2025-04-01')) m(s),
			 LATERAL pg_temp.totals(m.s, m.s + interval '1 month', 'model') t$$,
	'v_monthly_cost_summary equals the totals of costopt_cost_analysis, month by month');
SELECT results_eq(
	$$SELECT to_char(day_start, 'YYYY-MM-DD'), total_requests::bigint, total_cost
		FROM costopt.v_daily_costs WHERE organization_id = 'tap-rd' AND day_start >= '2025-03-01' AND day_start < '2025-04-01'
	   ORDER BY day_start$$,
	$$SELECT group_key, requests, total_cost FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'day')
	   WHERE NOT is_total$$,
	'v_daily_costs equals costopt_cost_analysis by day');
SELECT results_eq(
	$$SELECT total_tokens, input_cost, output_cost, error_count, avg_latency_ms, unpriced_requests
		FROM costopt.v_daily_costs WHERE organization_id = 'tap-rd' AND day_start = '2025-03-03'$$,
	$$VALUES (3000::numeric, 1.1::numeric, 1.1::numeric, 0::numeric, 200.0::numeric, 0::numeric)$$,
	'v_daily_costs, 2025-03-03: tokens, costs, errors, latency');
SELECT results_eq(
	$$SELECT provider, model_name, total_requests, input_tokens, output_tokens, total_cost, cost_per_request, pct_of_month, error_count
		FROM costopt.v_model_costs WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01'
	   ORDER BY total_cost DESC, provider NULLS FIRST, model_name$$,
	$$VALUES (NULL::text, 'tap-a'::text, 1::numeric, 2000::numeric, 1000::numeric, 4::numeric, 4::numeric, 62.50::numeric, 0::numeric),
			 ('tapai', 'tap-a', 1, 1000, 500, 2, 2, 31.25, 0),
			 ('tapai', 'tap-c', 2, 2000, 1000, 0.4, 0.2, 6.25, 1),
			 ('tapai', 'tap-none', 1, 500, 50, 0, 0, 0.00, 0)$$,
	'v_model_costs, March: one row per provider and model, pct_of_month adds up to 100');
SELECT results_eq(
	$$SELECT user_id, total_requests, total_tokens, total_cost, cost_per_request, pct_of_month, models, error_count
		FROM costopt.v_user_costs WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01'
	   ORDER BY total_cost DESC$$,
	$$VALUES (NULL::text, 1::numeric, 3000::numeric, 4::numeric, 4::numeric, 62.50::numeric, 1::bigint, 0::numeric),
			 ('alice', 2, 3000, 2.2, 1.1, 34.38, 2, 1),
			 ('bob', 2, 2050, 0.2, 0.1, 3.13, 2, 0)$$,
	'v_user_costs, March: one row per user (NULL for calls without one)');
SELECT results_eq(
	$$SELECT coalesce(user_id, '(no user)'), total_requests::bigint, total_cost, pct_of_month
		FROM costopt.v_user_costs WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01' ORDER BY 1$$,
	$$SELECT group_key, requests, total_cost, pct_of_cost FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'user')
	   WHERE NOT is_total ORDER BY 1$$,
	'v_user_costs agrees with costopt_cost_analysis by user');

-------------------------------------------------------------------------------
-- Committed changes not yet refreshed
-------------------------------------------------------------------------------
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-20 15:00+00', 'tap-rd', 'carol', 'tapai', 'tap-b', 1000, 500);   -- 4.0
CALL pg_temp.flush_deltas();
SELECT ok((SELECT count(*) FROM costopt.rollup_deltas WHERE organization_id = 'tap-rd') > 0,
		  'the new call waits as a delta (not refreshed)');
SELECT results_eq($$SELECT requests, total_cost FROM pg_temp.totals('2025-03-01', '2025-04-01', 'model')$$,
				  $$VALUES (6::bigint, 10.4::numeric)$$,
				  'costopt_cost_analysis includes the pending delta (monthly grain)');
SELECT results_eq($$SELECT requests, total_cost FROM pg_temp.totals('2025-03-01', '2025-04-01', 'hour')$$,
				  $$VALUES (6::bigint, 10.4::numeric)$$,
				  'costopt_cost_analysis includes the pending delta (hourly grain)');
SELECT results_eq($$SELECT total_requests, total_cost FROM costopt.v_monthly_cost_summary
					 WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01'$$,
				  $$VALUES (5::numeric, 6.4::numeric)$$,
				  'the views show only refreshed rollups: March still 5 calls, 6.4');
SELECT is((SELECT count(*)::int FROM costopt.v_user_costs WHERE organization_id = 'tap-rd' AND user_id = 'carol'), 0,
		  'v_user_costs does not know the unrefreshed user yet');
CALL pg_temp.refresh();
SELECT results_eq($$SELECT requests, total_cost FROM pg_temp.totals('2025-03-01', '2025-04-01', 'model')$$,
				  $$VALUES (6::bigint, 10.4::numeric)$$,
				  'after the refresh costopt_cost_analysis gives the same figures (nothing counted twice)');
SELECT results_eq($$SELECT total_requests, total_cost FROM costopt.v_monthly_cost_summary
					 WHERE organization_id = 'tap-rd' AND month_start = '2025-03-01'$$,
				  $$VALUES (6::numeric, 10.4::numeric)$$,
				  'after the refresh the views show the call');

-- errors
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis(NULL, '2025-03-01', '2025-04-01')$$, '22004',
				 'organization_id, from_time and to_time must not be null', 'costopt_cost_analysis: NULL organization_id is 22004');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', NULL, '2025-04-01')$$, '22004', NULL,
				 'costopt_cost_analysis: NULL from_time is 22004');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-03-01', NULL)$$, '22004', NULL,
				 'costopt_cost_analysis: NULL to_time is 22004');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-04-01', '2025-03-01')$$, '22023',
				 'from_time must be earlier than to_time', 'costopt_cost_analysis: reversed range is 22023');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '-infinity', '2025-03-01')$$, '22023',
				 'from_time and to_time must be finite', 'costopt_cost_analysis: from_time -infinity is 22023');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-03-01', 'infinity')$$, '22023',
				 'from_time and to_time must be finite', 'costopt_cost_analysis: to_time infinity is 22023');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', 'colour')$$, '22023',
				 'unknown group_by "colour"', 'costopt_cost_analysis: unknown group_by is 22023');
SELECT throws_ok($$SELECT * FROM costopt_cost_analysis('tap-rd', '2025-03-01', '2025-04-01', NULL)$$, '22023', NULL,
				 'costopt_cost_analysis: NULL group_by is 22023');

-------------------------------------------------------------------------------
-- costopt_breakdown (the last days, today included)
-------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT * FROM costopt_breakdown('tap-top', 'user', 7) ORDER BY total_cost DESC, group_key$$,
	$$VALUES ('alice'::text, 2::bigint, 4::numeric, 60.61::numeric, 2::numeric, 3000::bigint, 0::bigint),
			 ('carol', 1, 2, 30.30, 2, 1500, 0),
			 ('(no user)', 1, 0.2, 3.03, 0.2, 1500, 0),
			 ('bob', 1, 0.2, 3.03, 0.2, 1500, 0),
			 ('frank', 1, 0.2, 3.03, 0.2, 1500, 0),
			 ('erin', 1, 0, 0.00, 0, 1500, 0)$$,
	'breakdown by user over 7 days: every column');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost, pct_of_cost FROM costopt_breakdown('tap-top', 'model', 7)$$,
	$$VALUES ('tap-a'::text, 3::bigint, 6::numeric, 90.91::numeric), ('tap-c', 3, 0.6, 9.09), ('tap-none', 1, 0, 0.00)$$,
	'breakdown by model over 7 days (the default dimension is model)');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost FROM costopt_breakdown('tap-top', 'provider', 7)$$,
	$$VALUES ('tapai'::text, 7::bigint, 6.6::numeric)$$,
	'breakdown by provider over 7 days');
SELECT results_eq(
	$$SELECT group_key, requests FROM costopt_breakdown('tap-top', 'user', 1)$$,
	$$VALUES ('frank'::text, 1::bigint)$$,
	'days = 1 is today only');
SELECT results_eq(
	$$SELECT group_key, requests, total_cost FROM costopt_breakdown('tap-top', 'user', 14) ORDER BY group_key$$,
	$$SELECT coalesce(user_id, '(no user)'), count(*), coalesce(sum(total_cost), 0) FROM costopt.api_usage_logs
	   WHERE organization_id = 'tap-top' AND created_at >= date_trunc('day', now()) - interval '13 days'
	   GROUP BY 1 ORDER BY 1$$,
	'breakdown over 14 days equals the raw log from 13 days ago to now');
SELECT results_eq(
	$$SELECT b.group_key, b.requests, b.total_cost FROM costopt_breakdown('tap-top') b ORDER BY 1$$,
	$$SELECT model, count(*), coalesce(sum(total_cost), 0) FROM costopt.api_usage_logs
	   WHERE organization_id = 'tap-top' AND created_at >= date_trunc('day', now()) - interval '29 days'
	   GROUP BY 1 ORDER BY 1$$,
	'defaults: by model over 30 days');
SELECT throws_ok($$SELECT * FROM costopt_breakdown('tap-top', 'user', 0)$$, '22023', 'days must be between 1 and 3660',
				 'costopt_breakdown: days 0 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_breakdown('tap-top', 'user', 3661)$$, '22023', 'days must be between 1 and 3660',
				 'costopt_breakdown: days 3661 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_breakdown('tap-top', 'user', NULL)$$, '22023', NULL,
				 'costopt_breakdown: NULL days is 22023');
SELECT lives_ok($$SELECT * FROM costopt_breakdown('tap-top', 'user', 3660)$$, 'costopt_breakdown: days 3660 is accepted');
SELECT throws_ok($$SELECT * FROM costopt_breakdown('tap-top', 'team')$$, '22023', 'unknown dimension "team"',
				 'costopt_breakdown: unknown dimension is 22023');
SELECT throws_ok($$SELECT * FROM costopt_breakdown('tap-top', 'day')$$, '22023', 'unknown dimension "day"',
				 'costopt_breakdown: time groupings are not dimensions (22023)');
SELECT throws_ok($$SELECT * FROM costopt_breakdown(NULL)$$, '22004', NULL, 'costopt_breakdown: NULL organization_id is 22004');

-------------------------------------------------------------------------------
-- costopt_trends
-------------------------------------------------------------------------------
-- every metric on tap-tr, 10 daily periods
SELECT results_eq(
	$$SELECT m, (SELECT array_agg(t.value ORDER BY t.period_start) FROM costopt_trends('tap-tr', m, 9, 'day') t)
		FROM unnest(ARRAY['total_cost', 'requests', 'tokens', 'input_tokens', 'output_tokens', 'error_count',
						  'error_rate', 'avg_latency_ms', 'cost_per_request']) m$$,
	$$VALUES ('total_cost'::text, ARRAY[0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]::numeric[]),
			 ('requests', ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
			 ('tokens', ARRAY[1500, 3000, 4500, 6000, 7500, 9000, 10500, 12000, 13500, 15000]),
			 ('input_tokens', ARRAY[1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]),
			 ('output_tokens', ARRAY[500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]),
			 ('error_count', ARRAY[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
			 ('error_rate', ARRAY[1, 0.5, 0.3333, 0.25, 0.2, 0.1667, 0.1429, 0.125, 0.1111, 0.1]),
			 ('avg_latency_ms', ARRAY[200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
			 ('cost_per_request', ARRAY[0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])$$,
	'trends: the value of every metric on every day (error_rate 4 decimals)');
SELECT results_eq(
	$$SELECT period_start FROM costopt_trends('tap-tr', 'requests', 9, 'day')$$,
	$$SELECT generate_series(date_trunc('day', now()) - interval '9 days', date_trunc('day', now()), interval '1 day')$$,
	'days = 9 by day: the 10 days from 9 days ago to today, oldest first');
SELECT is((SELECT count(*)::int FROM (SELECT DISTINCT trend_direction, change_pct, slope_per_period
										FROM costopt_trends('tap-tr', 'requests', 9, 'day')) x),
		  1, 'direction, change_pct and slope are the same on every row');
-- values 1..10: halves average 3 and 8 -> +166.67 %, slope exactly 1
SELECT results_eq(
	$$SELECT DISTINCT trend_direction, change_pct, slope_per_period FROM costopt_trends('tap-tr', 'requests', 9, 'day')$$,
	$$VALUES ('increasing'::text, 166.67::numeric, 1::numeric)$$,
	'values 1..10: increasing, change_pct 166.67 (second half 8 vs first half 3), slope 1 per period');
SELECT results_eq(
	$$SELECT DISTINCT trend_direction, change_pct, slope_per_period FROM costopt_trends('tap-tr', 'total_cost', 9, 'day')$$,
	$$VALUES ('increasing'::text, 166.67::numeric, 0.2::numeric)$$,
	'total_cost 0.2..2.0: slope 0.2');
SELECT results_eq(
	$$SELECT DISTINCT trend_direction, change_pct, slope_per_period FROM costopt_trends('tap-tr-down', 'requests', 9, 'day')$$,
	$$VALUES ('decreasing'::text, -62.50::numeric, -1::numeric)$$,
	'values 10..1: decreasing, change_pct -62.50 (3 vs 8), slope -1');
SELECT results_eq(
	$$SELECT DISTINCT trend_direction, change_pct FROM costopt_trends('tap-tr', 'error_rate', 9, 'day')$$,
	$$VALUES ('decreasing'::text, -71.72::numeric)$$,
	'error_rate 1/i: decreasing, change_pct -71.72 (0.12914 vs 0.45666)');
SELECT results_eq(
	$$SELECT m, (SELECT DISTINCT t.trend_direction || ' ' || t.change_pct || ' ' || t.slope_per_period
				   FROM costopt_trends('tap-tr', m, 9, 'day') t)
		FROM unnest(ARRAY['error_count', 'avg_latency_ms', 'cost_per_request']) m$$,
	$$VALUES ('error_count'::text, 'stable 0.00 0.0000000000'::text), ('avg_latency_ms', 'stable 0.00 0.0000000000'),
			 ('cost_per_request', 'stable 0.00 0.0000000000')$$,
	'constant series: stable, change_pct 0, slope 0');
SELECT results_eq(
	$$SELECT m, (SELECT DISTINCT t.trend_direction || ' ' || t.change_pct FROM costopt_trends('tap-tr-flat', m, 9, 'day') t)
		FROM unnest(ARRAY['input_tokens', 'output_tokens']) m$$,
	$$VALUES ('input_tokens'::text, 'stable 4.00'::text), ('output_tokens', 'increasing 6.00')$$,
	'the threshold is 5 %: +4 % is stable, +6 % increasing');
SELECT results_eq(
	$$SELECT array_agg(value ORDER BY period_start), min(trend_direction), min(change_pct)
		FROM costopt_trends('tap-tr-gap', 'requests', 9, 'day')$$,
	$$VALUES (ARRAY[0, 0, 1, 0, 0, 0, 1, 0, 0, 0]::numeric[], 'stable'::text, 0.00::numeric)$$,
	'days without calls are zero-filled');
SELECT results_eq(
	$$SELECT DISTINCT trend_direction, change_pct FROM costopt_trends('tap-tr-new', 'requests', 9, 'day')$$,
	$$VALUES ('increasing'::text, NULL::numeric)$$,
	'nothing in the first half, calls in the second: increasing, change_pct NULL');
SELECT results_eq(
	$$SELECT count(*), sum(value), min(trend_direction), min(change_pct), min(slope_per_period)
		FROM costopt_trends('tap-nobody', 'total_cost', 9, 'day')$$,
	$$VALUES (10::bigint, 0::numeric, 'stable'::text, NULL::numeric, 0::numeric)$$,
	'an organisation without calls: 10 zero periods, stable, change_pct NULL, slope 0');
-- every granularity: the periods, and the values against the raw log
SELECT results_eq(
	$$SELECT g, array_agg(t.period_start ORDER BY t.period_start)
		FROM unnest(ARRAY['hour', 'day', 'week', 'month']) g, costopt_trends('tap-tr', 'requests', 9, g) t
	   GROUP BY g ORDER BY g$$,
	$$SELECT g, array_agg(s ORDER BY s)
		FROM unnest(ARRAY['hour', 'day', 'week', 'month']) g,
			 generate_series(date_trunc(g, now() - interval '9 days'), date_trunc(g, now()),
							 CASE g WHEN 'week' THEN interval '7 days' ELSE ('1 ' || g)::interval END) s
	   GROUP BY g ORDER BY g$$,
	'hour, day, week, month: periods from the one holding now() - days to the current one');
SELECT is((SELECT count(*)::int
			 FROM unnest(ARRAY['hour', 'day', 'week', 'month']) g, costopt_trends('tap-tr', 'requests', 9, g) t
			WHERE t.value <> (SELECT count(*) FROM costopt.api_usage_logs u
							   WHERE u.organization_id = 'tap-tr' AND date_trunc(g, u.created_at) = t.period_start)),
		  0, 'hour, day, week, month: every value equals the raw calls of its period');
SELECT results_eq(
	$$SELECT g, sum(t.value) FROM unnest(ARRAY['day', 'week', 'month']) g, costopt_trends('tap-tr', 'requests', 9, g) t
	   GROUP BY g ORDER BY g$$,
	$$VALUES ('day'::text, 55::numeric), ('month', 55), ('week', 55)$$,
	'day, week and month series hold all 55 calls');
SELECT results_eq(
	$$SELECT count(*), sum(value) FROM costopt_trends('tap-tr-new', 'requests', 1, 'hour')$$,
	$$VALUES (25::bigint, 1::numeric)$$,
	'days = 1 by hour: 25 hourly periods ending with the current hour, which holds the call');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'happiness')$$, '22023', 'unknown metric "happiness"',
				 'costopt_trends: unknown metric is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', NULL)$$, '22023', NULL, 'costopt_trends: NULL metric is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'requests', 30, 'fortnight')$$, '22023', 'unknown granularity "fortnight"',
				 'costopt_trends: unknown granularity is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'requests', 30, NULL)$$, '22023', NULL,
				 'costopt_trends: NULL granularity is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'requests', 0)$$, '22023', 'days must be between 1 and 3660',
				 'costopt_trends: days 0 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'requests', 3661)$$, '22023', 'days must be between 1 and 3660',
				 'costopt_trends: days 3661 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_trends('tap-tr', 'requests', NULL)$$, '22023', NULL,
				 'costopt_trends: NULL days is 22023');
-- STYLE.md section 5, and what the other three read functions do
SELECT throws_ok($$SELECT * FROM costopt_trends(NULL)$$, '22004', NULL,
				 'costopt_trends: NULL organization_id is 22004 (like the other read functions)');

-------------------------------------------------------------------------------
-- costopt_top_cost_drivers
-------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT * FROM costopt_top_cost_drivers('tap-top', 7)$$,
	$$VALUES (1, 'alice'::text, 'tapai'::text, 'tap-a'::text, 2::bigint, 4::numeric, 60.61::numeric, 2::numeric, 100.00::numeric),
			 (2, 'carol', 'tapai', 'tap-a', 1, 2, 30.30, 0, NULL),
			 (3, 'bob', 'tapai', 'tap-c', 1, 0.2, 3.03, 0.4, -50.00),
			 (4, 'frank', 'tapai', 'tap-c', 1, 0.2, 3.03, 0, NULL),
			 (5, NULL, 'tapai', 'tap-c', 1, 0.2, 3.03, 0.2, 0.00),
			 (6, 'erin', 'tapai', 'tap-none', 1, 0, 0.00, 0, NULL)$$,
	'top drivers over 7 days: ranked by cost, then calls, then user; change against the 7 days before');
SELECT results_eq(
	$$SELECT rank, user_id FROM costopt_top_cost_drivers('tap-top', 7, 2)$$,
	$$VALUES (1, 'alice'::text), (2, 'carol')$$,
	'n = 2 keeps the first two');
SELECT results_eq(
	$$SELECT previous_cost, change_pct FROM costopt_top_cost_drivers('tap-top', 7) WHERE user_id = 'carol'$$,
	$$VALUES (0::numeric, NULL::numeric)$$,
	'a driver absent from the previous window: previous_cost 0, change_pct NULL');
SELECT is((SELECT count(*)::int FROM costopt_top_cost_drivers('tap-top', 7) WHERE user_id IN ('dave', 'gina')), 0,
		  'drivers with no calls in the window are not listed');
SELECT results_eq(
	$$SELECT user_id, total_cost, previous_cost FROM costopt_top_cost_drivers('tap-top', 1)$$,
	$$VALUES ('frank'::text, 0.2::numeric, 0::numeric)$$,
	'days = 1: today against yesterday');
SELECT results_eq(
	$$SELECT sum(requests), sum(total_cost) FROM costopt_top_cost_drivers('tap-top', 14, 100)$$,
	$$SELECT count(*)::numeric, sum(total_cost) FROM costopt.api_usage_logs
	   WHERE organization_id = 'tap-top' AND created_at >= date_trunc('day', now()) - interval '13 days'$$,
	'over 14 days the drivers add up to the raw log');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers('tap-top', 0)$$, '22023', 'days must be between 1 and 1830',
				 'costopt_top_cost_drivers: days 0 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers('tap-top', 1831)$$, '22023', 'days must be between 1 and 1830',
				 'costopt_top_cost_drivers: days 1831 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers('tap-top', NULL)$$, '22023', NULL,
				 'costopt_top_cost_drivers: NULL days is 22023');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers('tap-top', 7, 0)$$, '22023', 'n must be at least 1',
				 'costopt_top_cost_drivers: n 0 is 22023');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers('tap-top', 7, NULL)$$, '22023', 'n must be at least 1',
				 'costopt_top_cost_drivers: NULL n is 22023');
SELECT throws_ok($$SELECT * FROM costopt_top_cost_drivers(NULL)$$, '22004', 'organization_id must not be null',
				 'costopt_top_cost_drivers: NULL organization_id is 22004');

-------------------------------------------------------------------------------
-- Hours in a zone with daylight saving time
-------------------------------------------------------------------------------
-- America/New_York falls back on 2025-11-02: 05:00-06:00 UTC is 01:00-02:00
-- EDT, 06:00-07:00 UTC is 01:00-02:00 EST.  Two different hours.
UPDATE costopt.rollup_state SET rollup_timezone = 'America/New_York';
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2025-11-02 05:30+00', 'tap-dst', 'tap-c', 1000, 500),
	   ('2025-11-02 06:30+00', 'tap-dst', 'tap-c', 1000, 500);
-- and, for the trends, a call in the first of the two hours of the last
-- fall-back within 400 days
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT h + interval '30 minutes', 'tap-dst-trend', 'tap-c', 1000, 500
  FROM generate_series(date_trunc('hour', now() - interval '399 days'), date_trunc('hour', now()) - interval '2 hours',
					   interval '1 hour') h
 WHERE to_char(h AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24')
	   = to_char((h + interval '1 hour') AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24')
 ORDER BY h DESC LIMIT 1;
CALL pg_temp.refresh();
SELECT is((SELECT count(*)::int FROM costopt_cost_analysis('tap-dst', '2025-11-02 04:00+00', '2025-11-02 08:00+00', 'hour')
			WHERE NOT is_total),
		  2, 'group_by hour in America/New_York: the two 01:00 hours of the fall-back day are two groups');
SELECT is((SELECT count(*)::int FROM (SELECT period_start - lag(period_start) OVER (ORDER BY period_start) AS step
									   FROM costopt_trends('tap-dst-trend', 'requests', 400, 'hour')) s
			WHERE step <> interval '1 hour'),
		  0, 'trends by hour in America/New_York: consecutive distinct hours across DST changes (none doubled or skipped)');
SELECT is((SELECT sum(value) FROM costopt_trends('tap-dst-trend', 'requests', 400, 'hour')), 1::numeric,
		  'trends by hour in America/New_York: a call in the first 01:00 hour of the fall-back is counted');
UPDATE costopt.rollup_state SET rollup_timezone = 'UTC';

SELECT * FROM finish();
ROLLBACK;
