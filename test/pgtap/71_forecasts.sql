-- Statistics, part 2: forecasts of any daily series
-- (costopt_forecast_series, costopt_forecast_series_total), and the
-- functions on an organisation's spend (costopt_detect_anomalies,
-- costopt_forecast, costopt_forecast_total, costopt_run_forecasts,
-- costopt_forecast_accuracy) on usage logged in the past and rolled up.
-- Series whose forecasts are known exactly (a weekly cycle, a straight line)
-- are checked to 1e-6; the real series ../shared/data/forecast/ is checked
-- against its actual values.
--
-- The capture writes its deltas at commit, and this file runs in one
-- transaction that is rolled back: pg_temp.flush_deltas writes them early
-- through the capture's bulk-load path (see test/pgtap/40_rollups.sql).
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(118);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-- A weekly cycle, Monday to Sunday, and the days of test series.
CREATE FUNCTION pg_temp.weekly(d date) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
	SELECT (ARRAY[10, 12, 14, 13, 11, 3, 2])[extract(isodow FROM d)::int]::float8
$$;
CREATE TEMP TABLE fs (name text PRIMARY KEY, day date[], v float8[]);
SELECT setseed(0.4);
INSERT INTO fs
-- 12 weeks of the cycle, from Monday 2025-01-06
SELECT 'weekly', array_agg(d ORDER BY d), array_agg(pg_temp.weekly(d) ORDER BY d)
  FROM (SELECT date '2025-01-06' + g AS d FROM generate_series(0, 83) g) s
UNION ALL
-- a straight line 5 + 2.5 per day over 60 days
SELECT 'line', array_agg(date '2025-01-06' + g ORDER BY g), array_agg(5 + 2.5 * g ORDER BY g)
  FROM generate_series(0, 59) g
UNION ALL
-- 150 days of a noisy weekly cycle with growth and a level shift
SELECT 'noisy', array_agg(date '2025-01-06' + g ORDER BY g),
	   array_agg(pg_temp.weekly(date '2025-01-06' + g) * (1 + g / 200.0) * (0.8 + 0.4 * random())
				 + CASE WHEN g >= 120 THEN 6 ELSE 0 END ORDER BY g)
  FROM generate_series(0, 149) g
UNION ALL
-- 10 days falling by 10 a day to 10 (non-negative; the line crosses 0 tomorrow)
SELECT 'falling', array_agg(date '2025-03-01' + g ORDER BY g), array_agg(100 - 10 * g + (g % 2) ORDER BY g)
  FROM generate_series(0, 9) g
UNION ALL
-- 40 days of a series that is mostly 0 (non-negative)
SELECT 'sparse', array_agg(date '2025-03-01' + g ORDER BY g),
	   array_agg(CASE WHEN g % 9 = 0 THEN 50 * random() ELSE 0 END ORDER BY g)
  FROM generate_series(0, 39) g;
CREATE FUNCTION pg_temp.fc(series text, h integer DEFAULT 7, method text DEFAULT 'auto', level float8 DEFAULT 0.95)
RETURNS TABLE (day date, predicted float8, lower float8, upper float8, method text)
LANGUAGE sql AS $$
	SELECT f.* FROM fs, costopt_forecast_series(fs.day, fs.v, h, method, level) f WHERE fs.name = series
$$;
CREATE FUNCTION pg_temp.fct(series text, h integer DEFAULT 7, method text DEFAULT 'auto', level float8 DEFAULT 0.95)
RETURNS TABLE (first_day date, last_day date, predicted float8, lower float8, upper float8, method text)
LANGUAGE sql AS $$
	SELECT f.* FROM fs, costopt_forecast_series_total(fs.day, fs.v, h, method, level) f WHERE fs.name = series
$$;
CREATE TEMP TABLE methods (m) AS
VALUES ('auto'), ('ensemble'), ('holt_winters'), ('linear_dow'), ('linear'), ('seasonal_naive');

-------------------------------------------------------------------------------
-- 8. costopt_forecast_series and costopt_forecast_series_total
-------------------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['seasonal_naive', 'holt_winters', 'ensemble', 'auto']) m, pg_temp.fc('weekly', 21, m) f
			WHERE pg_temp.close(f.predicted, pg_temp.weekly(f.day), 1e-6)), 84,
		  'a perfect weekly cycle: seasonal_naive, holt_winters, ensemble and auto predict the cycle for 21 days (1e-6)');
SELECT results_eq($$SELECT m, min(f.method), min(f.day), max(f.day), count(*)::int
					 FROM unnest(ARRAY['seasonal_naive', 'holt_winters', 'ensemble']) m, pg_temp.fc('weekly', 21, m) f
					GROUP BY m ORDER BY m$$,
				  $$VALUES ('ensemble'::text, 'ensemble'::text, '2025-03-31'::date, '2025-04-20'::date, 21),
						   ('holt_winters', 'holt_winters', '2025-03-31', '2025-04-20', 21),
						   ('seasonal_naive', 'seasonal_naive', '2025-03-31', '2025-04-20', 21)$$,
				  'a forecast starts the day after the last given day, one row per day, and names its method');
SELECT is((SELECT count(*)::int FROM pg_temp.fc('weekly', 21, 'seasonal_naive') f
			WHERE f.lower = f.predicted AND f.upper = f.predicted), 21,
		  'a perfect weekly cycle: the seasonal_naive interval has width 0 (its backtests never erred)');
SELECT is((SELECT count(*)::int FROM pg_temp.fc('line', 10, 'linear') f
			WHERE pg_temp.close(f.predicted, 5 + 2.5 * (f.day - date '2025-01-06'), 1e-9)
			  AND abs(f.upper - f.lower) < 1e-6), 10,
		  'a straight line: linear predicts the line for 10 days (1e-9), with an interval of width 0');
SELECT is((SELECT count(*)::int FROM pg_temp.fc('line', 10, 'auto') f
			WHERE pg_temp.close(f.predicted, 5 + 2.5 * (f.day - date '2025-01-06'), 1e-6)), 10,
		  'a straight line: auto predicts the line too');
SELECT is((SELECT count(*)::int
			 FROM costopt_forecast_series(
					ARRAY(SELECT '2026-01-01'::date + g FROM generate_series(0, 55) g),
					ARRAY(SELECT 100 + 0.5 * g + CASE g % 7 WHEN 5 THEN -40 WHEN 6 THEN -45 ELSE 0 END FROM generate_series(0, 55) g),
					14, 'linear_dow') f
			WHERE pg_temp.close(f.predicted, 100 + 0.5 * (f.day - date '2026-01-01')
											 + CASE (f.day - date '2026-01-01') % 7 WHEN 5 THEN -40 WHEN 6 THEN -45 ELSE 0 END, 1e-9)), 14,
		  'a line plus a weekday effect: linear_dow predicts it exactly for 14 days');
SELECT results_eq($$SELECT day, round(predicted::numeric, 1), round(lower::numeric, 1), round(upper::numeric, 1), method
					 FROM costopt_forecast_series(
							ARRAY(SELECT '2026-01-01'::date + g FROM generate_series(0, 111) g),
							ARRAY(SELECT 100 + 0.5 * g + CASE g % 7 WHEN 5 THEN -40 WHEN 6 THEN -45 ELSE 0 END + 8 * sin(g * 1.7)
									FROM generate_series(0, 111) g), 7)$$,
				  $$VALUES ('2026-04-23'::date, 153.0, 139.5, 166.9, 'linear_dow'::text), ('2026-04-24', 150.9, 138.5, 163.5, 'linear_dow'),
						   ('2026-04-25', 160.3, 148.2, 172.7, 'linear_dow'), ('2026-04-26', 161.1, 147.8, 175.0, 'linear_dow'),
						   ('2026-04-27', 152.7, 139.3, 165.9, 'linear_dow'), ('2026-04-28', 115.2, 103.0, 127.2, 'linear_dow'),
						   ('2026-04-29', 119.0, 106.5, 132.1, 'linear_dow')$$,
				  'costopt_forecast_series reproduces the example of doc/statistics.md');
SELECT results_eq($$SELECT first_day, last_day, round(predicted::numeric, 1), round(lower::numeric, 1), round(upper::numeric, 1), method
					 FROM costopt_forecast_series_total(
							ARRAY(SELECT '2026-01-01'::date + g FROM generate_series(0, 111) g),
							ARRAY(SELECT 100 + 0.5 * g + CASE g % 7 WHEN 5 THEN -40 WHEN 6 THEN -45 ELSE 0 END + 8 * sin(g * 1.7)
									FROM generate_series(0, 111) g), 7)$$,
				  $$VALUES ('2026-04-23'::date, '2026-04-29'::date, 1012.1, 1008.2, 1016.3, 'linear_dow'::text)$$,
				  'costopt_forecast_series_total reproduces the example of doc/statistics.md');
SELECT results_eq($$SELECT day, predicted, lower, upper, method
					 FROM costopt_forecast_series('{2026-03-01,2026-03-02,2026-03-03}', '{10,12,14}', 2)$$,
				  $$VALUES ('2026-03-04'::date, 16::float8, 16::float8, 16::float8, 'linear'::text),
						   ('2026-03-05', 18, 18, 18, 'linear')$$,
				  'three days on a line: linear (fewer than 14 days) with the textbook interval, as in doc/statistics.md');
SELECT is((SELECT count(*)::int FROM methods, pg_temp.fc('noisy', 7, m) f WHERE f.method <> 'linear'
			  AND NOT (m = 'auto' OR f.method = m)), 0,
		  'an explicit method is the method used');
SELECT is((SELECT count(*)::int FROM methods, pg_temp.fc('noisy', 7, m) f), 42,
		  'every method forecasts the noisy series (6 x 7 rows)');
SELECT ok((SELECT min(f.method) IN ('ensemble', 'holt_winters', 'linear_dow', 'linear', 'seasonal_naive') FROM pg_temp.fc('noisy') f),
		  'auto reports the method it chose');

-- totals
SELECT is((SELECT count(*)::int FROM methods, unnest(ARRAY[1, 7, 30, 90]) h, pg_temp.fct('noisy', h, m) t
			WHERE pg_temp.close(t.predicted, (SELECT sum(f.predicted) FROM pg_temp.fc('noisy', h, m) f), 1e-9)
			  AND t.first_day = date '2025-06-05' AND t.last_day = date '2025-06-05' + h - 1), 24,
		  'the total equals the sum of the daily predictions, first_day to first_day + horizon - 1 (6 methods x 4 horizons)');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['weekly', 'line']) s, pg_temp.fct(s, 14, 'auto') t
			WHERE pg_temp.close(t.predicted, (SELECT sum(f.predicted) FROM pg_temp.fc(s, 14, 'auto') f), 1e-9)), 2,
		  'the total equals the sum of the daily predictions for the weekly cycle and the line');
SELECT is((SELECT predicted FROM pg_temp.fct('weekly', 7, 'seasonal_naive')), 65::float8,
		  'the total of a week of the cycle is 65');

-- bounds
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['noisy', 'weekly', 'sparse']) s, methods, unnest(ARRAY[7, 60]) h,
				  pg_temp.fc(s, h, m) f
			WHERE NOT (f.lower <= f.predicted AND f.predicted <= f.upper)), 0,
		  'lower <= predicted <= upper every day (3 series, 6 methods, horizons 7 and 60)');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['noisy', 'weekly', 'sparse']) s, methods, unnest(ARRAY[7, 60]) h,
				  pg_temp.fct(s, h, m) t
			WHERE NOT (t.lower <= t.predicted AND t.predicted <= t.upper)), 0,
		  'lower <= predicted <= upper for every total');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['noisy', 'sparse', 'falling']) s, methods, pg_temp.fc(s, 30, m) f
			WHERE f.predicted < 0 OR f.lower < 0), 0,
		  'non-negative input: no negative prediction or lower bound (3 series, 6 methods, 30 days)');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['noisy', 'sparse', 'falling']) s, methods, pg_temp.fct(s, 30, m) t
			WHERE t.predicted < 0 OR t.lower < 0), 0,
		  'non-negative input: no negative total or lower bound of the total');
SELECT is((SELECT count(*)::int FROM methods, pg_temp.fc('falling', 7, m) f
			WHERE NOT (f.lower <= f.predicted AND f.predicted <= f.upper)), 0,
		  'a short falling series (linear, textbook interval): lower <= predicted <= upper every day');
SELECT is((SELECT count(*)::int FROM methods, pg_temp.fct('falling', 7, m) t
			WHERE NOT (t.lower <= t.predicted AND t.predicted <= t.upper)), 0,
		  'a short falling series: lower <= predicted <= upper for the total');
SELECT ok((SELECT (SELECT max(upper - lower) FROM pg_temp.fc('noisy', 7, 'auto', 0.5))
				  < (SELECT min(upper - lower) FROM pg_temp.fc('noisy', 7, 'auto', 0.95))),
		  'a 50% interval is narrower than a 95% interval on every day');
SELECT ok((SELECT f.upper - f.lower FROM pg_temp.fct('noisy', 7, 'auto', 0.99) f)
		  > (SELECT f.upper - f.lower FROM pg_temp.fct('noisy', 7, 'auto', 0.8) f),
		  'a 99% interval of the total is wider than an 80% one');
SELECT is((SELECT count(*)::int FROM pg_temp.fc('noisy', 7, 'auto')), (SELECT count(*)::int FROM pg_temp.fc('noisy')),
		  'horizon_days defaults to 7');
SELECT results_eq($$SELECT * FROM pg_temp.fc('noisy', 7, 'auto', 0.95)$$,
				  $$SELECT f.* FROM fs, costopt_forecast_series(fs.day, fs.v) f WHERE fs.name = 'noisy'$$,
				  'method defaults to auto and level to 0.95');

-- short, empty and irregular input
SELECT results_eq($$SELECT m, min(f.method), count(*)::int
					 FROM unnest(ARRAY['auto', 'ensemble', 'holt_winters', 'seasonal_naive', 'linear_dow']) m,
						  LATERAL (SELECT * FROM costopt_forecast_series(
										(SELECT day[1:13] FROM fs WHERE name = 'weekly'),
										(SELECT v[1:13] FROM fs WHERE name = 'weekly'), 5, m)) f
					GROUP BY m ORDER BY m$$,
				  $$VALUES ('auto'::text, 'linear'::text, 5), ('ensemble', 'linear', 5), ('holt_winters', 'linear', 5),
						   ('linear_dow', 'linear', 5), ('seasonal_naive', 'linear', 5)$$,
				  '13 days of history: every method falls back to linear');
SELECT is((SELECT min(f.method) FROM costopt_forecast_series((SELECT day[1:14] FROM fs WHERE name = 'weekly'),
															  (SELECT v[1:14] FROM fs WHERE name = 'weekly'), 5, 'seasonal_naive') f),
		  'seasonal_naive', '14 days of history: seasonal_naive is used');
SELECT is((SELECT count(*)::int FROM costopt_forecast_series('{}', '{}')), 0, 'empty input: no rows');
SELECT is((SELECT count(*)::int FROM costopt_forecast_series_total('{}', '{}')), 0, 'empty input: no total');
SELECT is((SELECT count(*)::int FROM costopt_forecast_series('{2025-01-01,2025-01-02}', '{NULL,NULL}')), 0,
		  'only NULL values: no rows');
SELECT is((SELECT count(*)::int FROM costopt_forecast_series(NULL, '{1}')), 0, 'a NULL day array: no rows');
SELECT results_eq($$SELECT * FROM costopt_forecast_series(
						(SELECT day || ARRAY[NULL, '2025-06-01', '2025-06-02']::date[] FROM fs WHERE name = 'noisy'),
						(SELECT v || ARRAY[999, NULL, NULL]::float8[] FROM fs WHERE name = 'noisy'))$$,
				  $$SELECT * FROM pg_temp.fc('noisy')$$,
				  'pairs with a NULL day or value are ignored (later NULL days do not extend the series)');
SELECT results_eq($$SELECT f.* FROM (SELECT array_agg(d ORDER BY o) AS day, array_agg(x ORDER BY o) AS v
									   FROM fs, unnest(fs.day, fs.v) WITH ORDINALITY u(d, x, i), LATERAL (SELECT (i * 7919) % 150) r(o)
									  WHERE name = 'noisy') s,
									 costopt_forecast_series(s.day, s.v) f$$,
				  $$SELECT * FROM pg_temp.fc('noisy')$$,
				  'the input order does not matter (days are sorted)');
-- a line with days 10..14 missing: they are interpolated on the line
SELECT is((SELECT count(*)::int FROM costopt_forecast_series(
						(SELECT array_agg(d) FROM fs, unnest(fs.day) WITH ORDINALITY u(d, i) WHERE name = 'line' AND i NOT BETWEEN 10 AND 14),
						(SELECT array_agg(x) FROM fs, unnest(fs.v) WITH ORDINALITY u(x, i) WHERE name = 'line' AND i NOT BETWEEN 10 AND 14),
						10, 'linear') f
			WHERE pg_temp.close(f.predicted, 5 + 2.5 * (f.day - date '2025-01-06'), 1e-9)), 10,
		  'missing days inside a line are interpolated: linear still predicts the line');
SELECT results_eq($$SELECT * FROM costopt_forecast_series(
						(SELECT array_agg(d) FROM fs, unnest(fs.day) WITH ORDINALITY u(d, i) WHERE name = 'noisy' AND i % 10 <> 3),
						(SELECT array_agg(x) FROM fs, unnest(fs.v) WITH ORDINALITY u(x, i) WHERE name = 'noisy' AND i % 10 <> 3))$$,
				  $$SELECT * FROM costopt_forecast_series(
						(SELECT day FROM fs WHERE name = 'noisy'),
						(SELECT array_agg(CASE WHEN i % 10 = 3 THEN (v[i - 1] + v[i + 1]) / 2 ELSE v[i] END ORDER BY i)
						   FROM fs, generate_subscripts(fs.v, 1) i WHERE name = 'noisy'))$$,
				  'a missing day gives the forecast of the series with the mean of its neighbours on that day');
SELECT is((SELECT (costopt.forecast_summary(day, v, 7, 'auto', 0.95)).history_days FROM fs WHERE name = 'noisy'), 150,
		  'forecast_summary: history_days is the number of days');
SELECT ok((SELECT (r).accuracy BETWEEN 0 AND 1 AND (r).seasonality_strength BETWEEN 0 AND 1 AND (r).trend_strength BETWEEN 0 AND 1
			 FROM (SELECT costopt.forecast_summary(day, v, 7, 'auto', 0.95) r FROM fs WHERE name = 'noisy') q),
		  'forecast_summary: accuracy, seasonality_strength and trend_strength are in [0, 1]');
SELECT cmp_ok((SELECT (costopt.forecast_summary(day, v, 7, 'auto', 0.95)).seasonality_strength FROM fs WHERE name = 'weekly'),
			  '>', 0.99::float8, 'forecast_summary: a pure weekly cycle has seasonality_strength 1');

-- argument errors
SELECT throws_ok($$SELECT * FROM pg_temp.fc('noisy', 0)$$, '22023', NULL, 'horizon_days 0: 22023');
SELECT throws_ok($$SELECT * FROM pg_temp.fc('noisy', 366)$$, '22023', NULL, 'horizon_days 366: 22023');
SELECT lives_ok($$SELECT * FROM pg_temp.fc('noisy', 365)$$, 'horizon_days 365 is accepted');
SELECT throws_ok($$SELECT * FROM pg_temp.fc('noisy', 7, 'auto', 0)$$, '22023', NULL, 'level 0: 22023');
SELECT throws_ok($$SELECT * FROM pg_temp.fc('noisy', 7, 'auto', 1)$$, '22023', NULL, 'level 1: 22023');
SELECT throws_ok($$SELECT * FROM pg_temp.fc('noisy', 7, 'auto', 'NaN')$$, '22023', NULL, 'level NaN: 22023');
SELECT throws_ok($$SELECT * FROM pg_temp.fct('noisy', 7, 'arima')$$, '22023', 'unknown forecast method "arima"',
				 'unknown method: 22023');
SELECT is(pg_temp.error_hint($$SELECT * FROM pg_temp.fc('noisy', 7, 'arima')$$),
		  '22023: Use auto, ensemble, holt_winters, linear_dow, linear or seasonal_naive.',
		  'unknown method: the hint lists the methods');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{}', '{}', 0)$$, '22023', NULL,
				 'arguments are checked even for empty input (horizon_days 0: 22023)');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01,2025-01-02}', '{1,NaN}')$$, '22023', NULL,
				 'a NaN value: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01,2025-01-02}', '{1,Infinity}')$$, '22023', NULL,
				 'an infinite value: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01,2025-01-02,2025-01-01}', '{1,2,3}')$$, '22023',
				 'day 2025-01-01 appears more than once in the forecast input', 'a day given twice: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01,infinity}', '{1,2}')$$, '22023', NULL,
				 'an infinite day: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01,2025-01-02}', '{1}')$$, '2202E', NULL,
				 'arrays of different lengths: 2202E');
SELECT throws_ok($$SELECT * FROM costopt_forecast_series('{2025-01-01}', '{1}', 7, NULL)$$, '22004', NULL,
				 'a NULL method: 22004');

-- The real series: Melbourne pedestrian counts.  Week Monday 2019-05-13 to
-- Sunday 2019-05-19 from the 365 days before it: mid-May has no Victorian
-- public holiday (Easter and Anzac Day are in April, the King's Birthday
-- on the second Monday of June), no lockdown (2020-2021) and no event
-- closure, a regular week.  The 95% interval of the total must contain
-- the actual total and the total must be within 10% (bench/forecast_eval:
-- the best methods reach 3.5-5.5% on regular weeks).
CREATE FUNCTION pg_temp.read_pedestrians() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN pg_read_file(coalesce(current_setting('costopt_test.shared_dir', true), '../shared')
						|| '/data/forecast/melbourne_pedestrians_daily.csv');
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END;
$$;
CREATE TEMP TABLE ped AS
SELECT split_part(l, ',', 1)::date AS d, split_part(l, ',', 2)::float8 AS v
  FROM regexp_split_to_table(pg_temp.read_pedestrians(), E'\n') l
 WHERE l ~ '^\d{4}-\d{2}-\d{2},';
CREATE TEMP TABLE ped_fc AS
SELECT t.*, (SELECT sum(v) FROM ped WHERE d BETWEEN '2019-05-13' AND '2019-05-19') AS actual
  FROM costopt_forecast_series_total((SELECT array_agg(d ORDER BY d) FROM ped WHERE d >= date '2019-05-13' - 365 AND d < '2019-05-13'),
									 (SELECT array_agg(v ORDER BY d) FROM ped WHERE d >= date '2019-05-13' - 365 AND d < '2019-05-13'),
									 7) t;
SELECT CASE WHEN (SELECT count(*) FROM ped) = 0
			THEN skip('the server cannot read the pedestrian series (costopt_test.shared_dir)', 4)
			ELSE collect_tap(
				is((SELECT count(*)::int FROM ped), 1490, 'the pedestrian series has 1490 days'),
				results_eq($$SELECT first_day, last_day FROM ped_fc$$, $$VALUES ('2019-05-13'::date, '2019-05-19'::date)$$,
						   'pedestrians: the 7-day forecast covers 2019-05-13 .. 2019-05-19'),
				cmp_ok((SELECT abs(predicted / actual - 1) FROM ped_fc), '<', 0.10::float8,
					   'pedestrians: the 7-day auto forecast of a regular week is within 10% of the actual total'),
				ok((SELECT actual BETWEEN lower AND upper FROM ped_fc),
				   'pedestrians: the 95% interval of the total contains the actual total'))
	   END;
SELECT CASE WHEN (SELECT count(*) FROM ped) = 0
			THEN skip('the server cannot read the pedestrian series', 1)
			ELSE cmp_ok((SELECT count(*)::int
						   FROM costopt_forecast_series((SELECT array_agg(d ORDER BY d) FROM ped WHERE d >= date '2019-05-13' - 365 AND d < '2019-05-13'),
														(SELECT array_agg(v ORDER BY d) FROM ped WHERE d >= date '2019-05-13' - 365 AND d < '2019-05-13'),
														7) f
						   JOIN ped p ON p.d = f.day
						  WHERE p.v BETWEEN f.lower AND f.upper), '>=', 6,
						'pedestrians: at least 6 of the 7 daily 95% intervals contain the actual count')
	   END;

-------------------------------------------------------------------------------
-- Organisations' spend: usage logged in the past, rolled up
-------------------------------------------------------------------------------
CALL pg_temp.refresh();
INSERT INTO costopt.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
UPDATE costopt.rollup_state SET rollup_timezone = 'UTC', raw_horizon = '-infinity';

-- Seed prices (doc: USD per million tokens): gpt-4o input 2.50, so 400000
-- input tokens cost 1; gpt-4o-mini input 0.15, so 1000000 cost 0.15.
SELECT results_eq($$SELECT model_name, input_price FROM costopt.model_pricing
					 WHERE provider = 'openai' AND model_name IN ('gpt-4o', 'gpt-4o-mini') AND source = 'seed' ORDER BY 1$$,
				  $$VALUES ('gpt-4o'::text, 2.50::numeric), ('gpt-4o-mini', 0.15)$$,
				  'the seeded prices of gpt-4o and gpt-4o-mini are as assumed');

-- 70 days (today - 70 .. yesterday) of four calls a day, 10:00 UTC: ana and
-- ben each call gpt-4o-mini (0.15 .. 0.18) and gpt-4o (1 .. 1.1), amounts
-- drawn at random.  tap-st-spike: 10 days ago ben also spent 10 on gpt-4o;
-- tap-st-drop: 12 days ago only ana called; tap-st-clean: nothing planted.
SELECT setseed(0.9);
CREATE TEMP TABLE org_calls AS
SELECT o.org, d, u.usr, m.model,
	   CASE m.model WHEN 'gpt-4o-mini' THEN 1000000 + floor(200000 * random())
					ELSE 400000 + floor(40000 * random()) END::int AS input_tokens
  FROM (VALUES ('tap-st-spike'), ('tap-st-drop'), ('tap-st-clean')) o(org),
	   generate_series(1, 70) d,
	   (VALUES ('ana'), ('ben')) u(usr),
	   (VALUES ('gpt-4o-mini'), ('gpt-4o')) m(model)
 WHERE NOT (o.org = 'tap-st-drop' AND d = 12 AND u.usr = 'ben')
UNION ALL
SELECT 'tap-st-spike', 10, 'ben', 'gpt-4o', 4000000
UNION ALL
-- tap-st-week: 12 weeks of the weekly cycle, one gpt-4o call a day
SELECT 'tap-st-week', d, 'wes', 'gpt-4o', (400000 * pg_temp.weekly(costopt.rollup_today() - d))::int
  FROM generate_series(1, 84) d
UNION ALL
-- tap-st-acc: 2 a day for 30 days, nothing 8 days ago, 4 twelve days ago
SELECT 'tap-st-acc', d, 'amy', 'gpt-4o', CASE WHEN d = 12 THEN 1600000 ELSE 800000 END
  FROM generate_series(1, 30) d WHERE d <> 8;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
SELECT (costopt.rollup_today() - d) + time '10:00', org, usr, 'openai', model, input_tokens, 0
  FROM org_calls;
-- tap-st-hourly: a call of about 1 every hour of the last 72 whole hours,
-- 10 more by hal on gpt-4o-mini 5 hours ago
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
SELECT date_trunc('hour', now()) - h * interval '1 hour' + interval '10 minutes', 'tap-st-hourly', 'hugo', 'openai', 'gpt-4o',
	   400000 + floor(40000 * random())::int, 0
  FROM generate_series(1, 72) h
UNION ALL
SELECT date_trunc('hour', now()) - interval '5 hours' + interval '20 minutes', 'tap-st-hourly', 'hal', 'openai', 'gpt-4o-mini',
	   66666667, 0;
CALL pg_temp.refresh();
SELECT is((SELECT count(*)::int FROM costopt.api_usage_logs WHERE organization_id LIKE 'tap-st-%' AND cost_status <> 'priced'), 0,
		  'every logged call is priced');
SELECT results_eq($$SELECT d.day, d.cost FROM costopt.daily_costs('tap-st-acc', costopt.rollup_today() - 13, costopt.rollup_today() - 7) d$$,
				  $$VALUES (costopt.rollup_today() - 13, 2.0), (costopt.rollup_today() - 12, 4.0), (costopt.rollup_today() - 11, 2.0),
						   (costopt.rollup_today() - 10, 2.0), (costopt.rollup_today() - 9, 2.0), (costopt.rollup_today() - 8, 0)$$,
				  'the rollups hold the daily spend as planned (tap-st-acc: 2 a day, 4 twelve days ago, 0 eight days ago)');

-------------------------------------------------------------------------------
-- 7. costopt_detect_anomalies
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT bucket, direction, driver_model, driver_user FROM costopt_detect_anomalies('tap-st-spike')$$,
				  $$VALUES ((costopt.rollup_today() - 10)::timestamptz, 'spike'::text, 'gpt-4o'::text, 'ben'::text)$$,
				  'the planted spike is the only anomaly: 10 days ago, a spike driven by gpt-4o and ben');
SELECT results_eq($$SELECT actual, expected FROM costopt_detect_anomalies('tap-st-spike')$$,
				  $$SELECT sum(total_cost) FILTER (WHERE created_at::date = costopt.rollup_today() - 10),
						   round(sum(total_cost) FILTER (WHERE created_at::date < costopt.rollup_today() - 10
															AND created_at::date >= costopt.rollup_today() - 38) / 28, 6)
					  FROM costopt.api_usage_logs WHERE organization_id = 'tap-st-spike'$$,
				  'actual is that day''s spend, expected the mean of the 28 days before (zscore)');
SELECT ok((SELECT z >= 3 AND severity = 'critical' FROM costopt_detect_anomalies('tap-st-spike')),
		  'the spike has z >= 3 and is critical');
SELECT results_eq($$SELECT bucket, direction, driver_model, driver_user FROM costopt_detect_anomalies('tap-st-drop')$$,
				  $$VALUES ((costopt.rollup_today() - 12)::timestamptz, 'drop'::text, 'gpt-4o'::text, 'ben'::text)$$,
				  'the planted drop: 12 days ago, driven by gpt-4o and the absent ben');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-clean')), 0, 'the clean organisation has no anomaly');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-clean', 60, 3, 'day', m)), 0,
		  'the clean organisation has no anomaly over 60 days with ' || m)
  FROM (VALUES ('robust'), ('adaptive')) v(m);
SELECT results_eq($$SELECT m, bucket, direction, driver_model, driver_user
					 FROM (VALUES ('zscore'), ('robust'), ('seasonal'), ('adaptive')) v(m), costopt_detect_anomalies('tap-st-spike', 30, 3, 'day', m)
					ORDER BY m$$,
				  $$SELECT m, (costopt.rollup_today() - 10)::timestamptz, 'spike'::text, 'gpt-4o'::text, 'ben'::text
					  FROM (VALUES ('adaptive'), ('robust'), ('seasonal'), ('zscore')) v(m)$$,
				  'every method finds the spike and its drivers');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-spike', 10)), 1, 'days 10 reports the spike 10 days ago');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-spike', 9)), 0, 'days 9 does not');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-nobody')), 0, 'an organisation without spend has no anomaly');
SELECT results_eq($$SELECT bucket, direction, driver_model, driver_user FROM costopt_detect_anomalies('tap-st-hourly', 48, 3, 'hour')$$,
				  $$VALUES (date_trunc('hour', now()) - interval '5 hours', 'spike'::text, 'gpt-4o-mini'::text, 'hal'::text)$$,
				  'granularity hour: the hour with the planted spike, driven by gpt-4o-mini and hal');
SELECT is((SELECT count(*)::int FROM costopt_detect_anomalies('tap-st-hourly', 4, 3, 'hour')), 0,
		  'granularity hour, days 4: the last 4 hours only, without the spike');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies('tap-st-spike', 30, 3, 'week')$$, '22023', 'unknown granularity "week"',
				 'granularity week: 22023');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies('tap-st-spike', 0)$$, '22023', NULL, 'days 0: 22023');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies('tap-st-spike', 3651)$$, '22023', NULL, 'days 3651: 22023');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies('tap-st-spike', 30, 0)$$, '22023', NULL, 'threshold 0: 22023');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies('tap-st-spike', 30, 3, 'day', 'lstm')$$, '22023', NULL,
				 'unknown method: 22023');
SELECT throws_ok($$SELECT * FROM costopt_detect_anomalies(NULL)$$, '22004', NULL, 'NULL organisation: 22004');

-------------------------------------------------------------------------------
-- 9. costopt_forecast, costopt_forecast_total, costopt_run_forecasts,
--    costopt_forecast_accuracy
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT day, predicted_cost, method FROM costopt_forecast('tap-st-week', 7, 'seasonal_naive')$$,
				  $$SELECT costopt.rollup_today() + i, pg_temp.weekly(costopt.rollup_today() + i)::numeric, 'seasonal_naive'::text
					  FROM generate_series(0, 6) i$$,
				  'costopt_forecast: 7 rows from today, the weekday''s spend of the cycle (seasonal_naive)');
SELECT results_eq($$SELECT count(*)::int, min(day), max(day),
						   count(*) FILTER (WHERE abs(predicted_cost - pg_temp.weekly(day)::numeric) <= 1e-6 * pg_temp.weekly(day))::int
					  FROM costopt_forecast('tap-st-week', 14)$$,
				  $$VALUES (14, costopt.rollup_today(), costopt.rollup_today() + 13, 14)$$,
				  'costopt_forecast (auto): 14 days from today that follow the cycle');
SELECT is((SELECT min(day) FROM costopt_forecast('tap-st-spike')), costopt.rollup_today(), 'the first forecast day is today');
SELECT is((SELECT count(*)::int FROM costopt_forecast('tap-st-spike', 30)), 30, 'horizon 30: 30 rows');
SELECT is((SELECT count(*)::int FROM costopt_forecast('tap-st-spike', 30)
			WHERE NOT (lower_bound <= predicted_cost AND predicted_cost <= upper_bound AND lower_bound >= 0)), 0,
		  'every day: 0 <= lower_bound <= predicted_cost <= upper_bound');
SELECT results_eq($$SELECT first_day, last_day, predicted_cost FROM costopt_forecast_total('tap-st-week', 7, 'seasonal_naive')$$,
				  $$VALUES (costopt.rollup_today(), costopt.rollup_today() + 6, 65::numeric)$$,
				  'costopt_forecast_total: today .. today + 6, total 65');
SELECT ok((SELECT abs(t.predicted_cost - (SELECT sum(f.predicted_cost) FROM costopt_forecast('tap-st-spike', 30) f)) <= 1e-5
			 FROM costopt_forecast_total('tap-st-spike', 30) t),
		  'costopt_forecast_total = the sum of costopt_forecast''s days (to rounding)');
SELECT ok((SELECT lower_bound <= predicted_cost AND predicted_cost <= upper_bound FROM costopt_forecast_total('tap-st-spike', 30)),
		  'costopt_forecast_total: lower_bound <= predicted_cost <= upper_bound');
SELECT is((SELECT count(*)::int FROM costopt_forecast('tap-st-nobody')), 0, 'an organisation without spend: no forecast rows');
SELECT is((SELECT count(*)::int FROM costopt_forecast_total('tap-st-nobody')), 0, 'an organisation without spend: no total');
SELECT throws_ok($$SELECT * FROM costopt_forecast('tap-st-nobody', 0)$$, '22023', NULL,
				 'the arguments are checked without history too (horizon_days 0: 22023)');
SELECT throws_ok($$SELECT * FROM costopt_forecast('tap-st-week', 400)$$, '22023', NULL, 'costopt_forecast horizon 400: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_total('tap-st-week', 7, 'auto', 1)$$, '22023', NULL, 'costopt_forecast_total level 1: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast(NULL)$$, '22004', NULL, 'costopt_forecast of NULL: 22004');

-- stored forecasts
CREATE TEMP TABLE run1 AS SELECT costopt_run_forecasts() AS written, clock_timestamp() AS at;
SELECT is((SELECT written FROM run1), (SELECT count(*) FROM costopt.cost_forecasts WHERE forecast_date = costopt.rollup_today()),
		  'costopt_run_forecasts returns the number of rows it wrote');
SELECT results_eq($$SELECT organization_id, array_agg(forecast_horizon_days ORDER BY forecast_horizon_days)
					 FROM costopt.cost_forecasts WHERE organization_id LIKE 'tap-st-%' GROUP BY 1 ORDER BY 1$$,
				  $$VALUES ('tap-st-acc'::text, '{7,30}'::int[]), ('tap-st-clean', '{7,30}'), ('tap-st-drop', '{7,30}'),
						   ('tap-st-hourly', '{7,30}'), ('tap-st-spike', '{7,30}'), ('tap-st-week', '{7,30}')$$,
				  'one row per organisation with spend and horizon 7 and 30');
SELECT is((SELECT count(*)::int FROM costopt.cost_forecasts WHERE organization_id LIKE 'tap-st-%'
			 AND (forecast_date <> costopt.rollup_today() OR budget_id IS NOT NULL OR confidence_level <> 0.95
				  OR cardinality(daily_predicted) <> forecast_horizon_days)), 0,
		  'stored forecasts start today, have no budget, level 0.95 and one daily value per day');
SELECT is((SELECT count(*)::int FROM costopt.cost_forecasts cf, costopt_forecast_total(cf.organization_id, cf.forecast_horizon_days) t
			WHERE cf.organization_id LIKE 'tap-st-%'
			  AND (cf.predicted_cost, cf.confidence_lower, cf.confidence_upper, cf.forecast_model)
				  IS DISTINCT FROM (t.predicted_cost, t.lower_bound, t.upper_bound, t.method)), 0,
		  'the stored totals, bounds and methods are those of costopt_forecast_total');
SELECT is((SELECT count(*)::int FROM costopt.cost_forecasts cf
			WHERE cf.organization_id LIKE 'tap-st-%'
			  AND cf.daily_predicted IS DISTINCT FROM (SELECT array_agg(f.predicted_cost ORDER BY f.day)
														 FROM costopt_forecast(cf.organization_id, cf.forecast_horizon_days) f)), 0,
		  'the stored daily values are those of costopt_forecast');
SELECT results_eq($$SELECT forecast_model, historical_days_used, seasonality_detected, seasonality_strength
					 FROM costopt.cost_forecasts WHERE organization_id = 'tap-st-week' AND forecast_horizon_days = 7$$,
				  $$VALUES ('seasonal_naive'::text, 84, true, 1.0000::numeric)$$,
				  'tap-st-week: seasonal_naive on 84 days, a weekly pattern of strength 1');
SELECT results_eq($$SELECT historical_days_used FROM costopt.cost_forecasts WHERE organization_id = 'tap-st-acc' AND forecast_horizon_days = 7$$,
				  $$VALUES (30)$$, 'tap-st-acc: 30 days of history');
CREATE TEMP TABLE before_rerun AS SELECT id, organization_id, forecast_horizon_days, predicted_cost FROM costopt.cost_forecasts;
SELECT is(costopt_run_forecasts(), (SELECT written FROM run1), 'a rerun on the same day writes as many rows');
SELECT is((SELECT count(*) FROM costopt.cost_forecasts), (SELECT count(*) FROM before_rerun),
		  'a rerun on the same day replaces the day''s rows instead of adding rows');
SELECT is((SELECT count(*)::int FROM costopt.cost_forecasts c JOIN before_rerun b USING (id)
			WHERE c.predicted_cost = b.predicted_cost AND c.organization_id LIKE 'tap-st-%'), 12,
		  'the replaced rows keep their ids and (same history) their values');
SELECT is(costopt_run_forecasts('{7}', 0.8), (SELECT written FROM run1) / 2, 'run_forecasts with horizons {7}: one row per organisation');
SELECT results_eq($$SELECT forecast_horizon_days, confidence_level FROM costopt.cost_forecasts
					 WHERE organization_id = 'tap-st-spike' ORDER BY 1$$,
				  $$VALUES (7, 0.80), (30, 0.95)$$,
				  'run_forecasts at level 0.8 updated the 7-day row only');
SELECT throws_ok($$SELECT costopt_run_forecasts('{}')$$, '22004', NULL, 'run_forecasts with no horizon: 22004');
SELECT throws_ok($$SELECT costopt_run_forecasts('{7,0}')$$, '22023', NULL, 'run_forecasts with horizon 0: 22023');
SELECT throws_ok($$SELECT costopt_run_forecasts('{7}', 1)$$, '22023', NULL, 'run_forecasts at level 1: 22023');

-- accuracy of forecasts stored by hand (tap-st-acc spends 2 a day, 4 on
-- today - 12, 0 on today - 8):
--   A: 7 days from today - 14, actual 2,2,4,2,2,2,0 (14), predicted 2 a day
--      (14) in [10, 18], days in [1.5, 2.5]: total APE 0, covered; daily
--      APE 0,0,0.5,0,0,0 (the 0 day left out), 5 of 7 days covered
--   B: 7 days from today - 10, actual 2,2,0,2,2,2,2 (12), predicted 3 a day
--      (21) in [19, 23], days in [2.5, 3.5]: APE 0.75, not covered; daily
--      APE 0.5 (x6), no day covered
--   C: 3 days from today - 5, actual 2,2,2, predicted 1,2,4 (7), no interval:
--      APE 1/6; daily APE 0.5, 0, 1
--   not scored: D (today - 3, 7 days: not over), E (budget forecast),
--   F (today - 40: older than 30 days)
INSERT INTO costopt.cost_forecasts (organization_id, budget_id, forecast_date, forecast_horizon_days, predicted_cost,
									confidence_lower, confidence_upper, forecast_model, daily_predicted, daily_lower, daily_upper)
VALUES ('tap-st-acc', NULL, costopt.rollup_today() - 14, 7, 14, 10, 18, 'hand',
		'{2,2,2,2,2,2,2}', '{1.5,1.5,1.5,1.5,1.5,1.5,1.5}', '{2.5,2.5,2.5,2.5,2.5,2.5,2.5}'),
	   ('tap-st-acc', NULL, costopt.rollup_today() - 10, 7, 21, 19, 23, 'hand',
		'{3,3,3,3,3,3,3}', '{2.5,2.5,2.5,2.5,2.5,2.5,2.5}', '{3.5,3.5,3.5,3.5,3.5,3.5,3.5}'),
	   ('tap-st-acc', NULL, costopt.rollup_today() - 5, 3, 7, NULL, NULL, 'hand', '{1,2,4}', NULL, NULL),
	   ('tap-st-acc', NULL, costopt.rollup_today() - 3, 7, 100, NULL, NULL, 'hand', '{1,1,1,1,1,1,1}', NULL, NULL),
	   ('tap-st-acc', 1, costopt.rollup_today() - 14, 7, 100, NULL, NULL, 'hand', '{1,1,1,1,1,1,1}', NULL, NULL),
	   ('tap-st-acc', NULL, costopt.rollup_today() - 40, 7, 7, 5, 9, 'hand', '{1,1,1,1,1,1,1}', NULL, NULL);
SELECT results_eq($$SELECT * FROM costopt_forecast_accuracy('tap-st-acc')$$,
				  $$VALUES (3, 1::bigint, 16.67::numeric, NULL::numeric, 50.00::numeric, NULL::numeric, 16.67::numeric),
						   (7, 2::bigint, 37.50, 50.0, 29.17, 35.7, 34.62)$$,
				  'costopt_forecast_accuracy: MAPE, coverage and bias of the stored forecasts as computed by hand');
SELECT results_eq($$SELECT horizon_days, forecasts, mape_total, coverage_total FROM costopt_forecast_accuracy('tap-st-acc', 45)$$,
				  $$VALUES (3, 1::bigint, 16.67::numeric, NULL::numeric), (7, 3::bigint, 37.50, 33.3)$$,
				  'days 45 also scores the forecast of 40 days ago (actual 0: no APE, not covered)');
SELECT results_eq($$SELECT horizon_days, forecasts FROM costopt_forecast_accuracy('tap-st-acc', 10)$$,
				  $$VALUES (3, 1::bigint), (7, 1::bigint)$$,
				  'days 10 scores only the forecasts made in the last 10 days');
SELECT is((SELECT count(*)::int FROM costopt_forecast_accuracy('tap-st-week')), 0,
		  'an organisation whose stored forecasts have not ended yet: no rows');
SELECT throws_ok($$SELECT * FROM costopt_forecast_accuracy('tap-st-acc', 0)$$, '22023', NULL, 'costopt_forecast_accuracy days 0: 22023');
SELECT throws_ok($$SELECT * FROM costopt_forecast_accuracy(NULL)$$, '22004', NULL, 'costopt_forecast_accuracy of NULL: 22004');

-- An organisation with 10 days of falling spend (100 down to 10): the
-- forecast falls back to the linear method, and its bounds must still
-- hold around the prediction, in the functions and in the stored rows.
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
SELECT (costopt.rollup_today() - d) + time '10:00', 'tap-st-falling', 'fay', 'openai', 'gpt-4o', 400000 * (10 * d + d % 2), 0
  FROM generate_series(1, 10) d;
CALL pg_temp.refresh();
SELECT is((SELECT count(*)::int FROM costopt_forecast('tap-st-falling')
			WHERE NOT (lower_bound <= predicted_cost AND predicted_cost <= upper_bound)), 0,
		  'falling spend: lower_bound <= predicted_cost <= upper_bound every day');
SELECT ok((SELECT lower_bound <= predicted_cost AND predicted_cost <= upper_bound FROM costopt_forecast_total('tap-st-falling')),
		  'falling spend: lower_bound <= predicted_cost <= upper_bound for the total');
SELECT is(pg_temp.error_message($$SELECT costopt_run_forecasts()$$), 'no error',
		  'costopt_run_forecasts stores the forecasts of every organisation, tap-st-falling included');

SELECT * FROM finish();
ROLLBACK;
