-- Statistics, part 1: the aggregates costopt_stats and costopt_trend (plain,
-- as window functions, in parallel plans and through their support
-- functions), costopt_predict and costopt_anomaly_scan.  Every figure is
-- compared with something computed independently: the built-in aggregates,
-- exact numeric sums, closed forms of the t distribution, or SQL written
-- from the definitions in doc/statistics.md.  Forecasts and the functions
-- on an organisation's spend are in 71_forecasts.sql.
--
-- Random data come from random() after setseed(), so every run sees the
-- same numbers.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(147);

\ir include/errors.psql

CREATE FUNCTION pg_temp.close(a numeric, b numeric, tol float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN a IS NULL OR b IS NULL THEN a IS NULL AND b IS NULL
				ELSE a = b OR abs(a - b) <= tol::numeric * greatest(abs(a), abs(b)) END
$$;
-- Relative error of a against the exact value e.
CREATE FUNCTION pg_temp.relerr(a float8, e numeric) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT (abs(a::numeric - e) / abs(e))::float8 $$;

-------------------------------------------------------------------------------
-- 1. costopt_stats
-------------------------------------------------------------------------------
SELECT setseed(0.17);
-- 8 groups of about 600 values on different scales, every 13th value NULL
CREATE TEMP TABLE st_rand AS
SELECT g, g % 8 AS k,
	   CASE WHEN g % 13 = 0 THEN NULL ELSE (random() - 0.3) * power(10, g % 8 - 2) + (g % 8) * 50 END AS x
  FROM generate_series(1, 5000) g;
CREATE TEMP TABLE st_cmp AS
SELECT k, costopt_stats(x) AS s, avg(x) AS avg, stddev_samp(x) AS sd, count(x) AS n, min(x) AS min, max(x) AS max
  FROM st_rand GROUP BY k;

SELECT is((SELECT count(*)::int FROM st_cmp WHERE NOT pg_temp.close((s).mean, avg, 1e-9)), 0,
		  'costopt_stats: mean = avg() to 1e-9 in each of 8 random groups');
SELECT is((SELECT count(*)::int FROM st_cmp WHERE NOT pg_temp.close((s).stddev, sd, 1e-9)), 0,
		  'costopt_stats: stddev = stddev_samp() to 1e-9 in each of 8 random groups');
SELECT is((SELECT count(*)::int FROM st_cmp WHERE (s).n <> n OR (s).min <> min OR (s).max <> max), 0,
		  'costopt_stats: n, min and max equal count(), min(), max() (NULLs ignored)');
SELECT is((SELECT sum((s).n) FROM st_cmp), (SELECT count(*) FROM st_rand WHERE x IS NOT NULL)::numeric,
		  'costopt_stats: the counts add up to the non-null values (4616 of 5000)');
SELECT is((SELECT costopt_stats(x) FROM st_rand),
		  (SELECT costopt_stats(x) FROM st_rand WHERE x IS NOT NULL),
		  'costopt_stats: NULL values change nothing');
SELECT results_eq($$SELECT (costopt_stats(v)).* FROM (VALUES (120), (180), (95), (240), (130)) t(v)$$,
				  $$VALUES (153::float8, sqrt(3320::float8), 5::bigint, 95::float8, 240::float8)$$,
				  'costopt_stats of 120, 180, 95, 240, 130: mean 153, stddev sqrt(3320), n 5, min 95, max 240');

-- around 1e9 with a tiny spread: values 1e9 + k * 2^-20 (exact in float8
-- and in numeric), k uniform in -500..500
SELECT setseed(0.1);
CREATE TEMP TABLE st_big AS
SELECT k, xn, xn::float8 AS x
  FROM (SELECT k, 1e9 + k * 0.00000095367431640625 AS xn
		  FROM (SELECT (floor(random() * 1001) - 500)::numeric AS k FROM generate_series(1, 100000)) r) s;
SELECT is((SELECT count(*)::int FROM st_big WHERE (x - 1e9::float8) * 1048576 <> k::float8), 0,
		  'adversarial data: the float8 values are exactly the numeric ones (1e9 + k / 2^20)');
SELECT ok((SELECT pg_temp.relerr((costopt_stats(x)).stddev, (SELECT stddev_samp(xn) FROM st_big))
				   < pg_temp.relerr(stddev_samp(x), (SELECT stddev_samp(xn) FROM st_big))
			  AND pg_temp.close((costopt_stats(x)).mean, avg(x), 1e-9) FROM st_big),
		  'costopt_stats around 1e9 with spread 3e-4: mean = avg(), stddev closer to the exact value than stddev_samp()');
SELECT cmp_ok((SELECT pg_temp.relerr((costopt_stats(x)).stddev, (SELECT stddev_samp(xn) FROM st_big)) FROM st_big),
			  '<', 1e-9::float8,
			  'costopt_stats around 1e9 with spread 3e-4: stddev within 1e-9 of the exact value ("large values do not cancel")');
SELECT cmp_ok((SELECT pg_temp.relerr((costopt_stats(x)).mean, (SELECT avg(xn) FROM st_big)) FROM st_big),
			  '<', 1e-14::float8, 'costopt_stats around 1e9: mean within 1e-14 of the exact mean');

-- constant series: "a constant series has a variance of exactly 0"
SELECT results_eq($$SELECT (costopt_stats(7::float8)).stddev, (costopt_stats(7::float8)).mean FROM generate_series(1, 100000)$$,
				  $$VALUES (0::float8, 7::float8)$$,
				  'costopt_stats of 100000 times 7: stddev exactly 0, mean exactly 7');
SELECT is((SELECT (costopt_stats(0.1::float8)).stddev FROM generate_series(1, 1000)), 0::float8,
		  'costopt_stats of 1000 times 0.1: stddev exactly 0');
SELECT is((SELECT (costopt_stats(1e9::float8 + 0.1)).stddev FROM generate_series(1, 10)), 0::float8,
		  'costopt_stats of 10 times 1e9 + 0.1: stddev exactly 0');
SELECT is((SELECT (costopt_stats(1e9::float8 + 0.1)).stddev FROM generate_series(1, 1000)), 0::float8,
		  'costopt_stats of 1000 times 1e9 + 0.1: stddev exactly 0');

-- degenerate inputs
SELECT results_eq($$SELECT (costopt_stats(v)).* FROM (VALUES (42.5::float8)) t(v)$$,
				  $$VALUES (42.5::float8, NULL::float8, 1::bigint, 42.5::float8, 42.5::float8)$$,
				  'costopt_stats of a single value: that value as mean, min and max, stddev NULL, n 1');
SELECT results_eq($$SELECT (costopt_stats(v)).* FROM (VALUES (NULL::float8), (3), (NULL)) t(v)$$,
				  $$VALUES (3::float8, NULL::float8, 1::bigint, 3::float8, 3::float8)$$,
				  'costopt_stats of one value among NULLs: stddev NULL, n 1');
SELECT is((SELECT costopt_stats(v) IS NULL FROM (VALUES (NULL::float8), (NULL)) t(v)), true,
		  'costopt_stats of only NULLs is NULL');
SELECT is((SELECT costopt_stats(v) IS NULL FROM (VALUES (1::float8)) t(v) WHERE false), true,
		  'costopt_stats of no rows is NULL');
SELECT is((SELECT count(*)::int FROM (SELECT k, costopt_stats(x) s FROM st_rand GROUP BY k HAVING costopt_stats(x) IS NULL) q), 0,
		  'costopt_stats: no group of non-null values gives NULL');

-- window aggregate: running and sliding frames, with partitions and NULLs
CREATE TEMP TABLE st_win AS
SELECT k, costopt_stats(x) OVER w AS s, avg(x) OVER w AS avg, stddev_samp(x) OVER w AS sd,
	   count(x) OVER w AS n, min(x) OVER w AS min, max(x) OVER w AS max, 'running' AS frame
  FROM st_rand WINDOW w AS (PARTITION BY k ORDER BY g)
UNION ALL
SELECT k, costopt_stats(x) OVER w, avg(x) OVER w, stddev_samp(x) OVER w,
	   count(x) OVER w, min(x) OVER w, max(x) OVER w, 'sliding'
  FROM st_rand WINDOW w AS (PARTITION BY k ORDER BY g ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
UNION ALL
SELECT k, costopt_stats(x) OVER w, avg(x) OVER w, stddev_samp(x) OVER w,
	   count(x) OVER w, min(x) OVER w, max(x) OVER w, 'centred'
  FROM st_rand WINDOW w AS (PARTITION BY k ORDER BY g ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING)
UNION ALL
-- frames holding only NULLs: every 13th value is NULL, so g % 13 in a
-- one-row frame
SELECT k, costopt_stats(x) OVER w, avg(x) OVER w, stddev_samp(x) OVER w,
	   count(x) OVER w, min(x) OVER w, max(x) OVER w, 'single'
  FROM st_rand WINDOW w AS (ORDER BY g ROWS BETWEEN CURRENT ROW AND CURRENT ROW);
SELECT results_eq($$SELECT frame, count(*)::int FROM st_win
					 WHERE NOT (pg_temp.close((s).mean, avg, 1e-9) AND pg_temp.close((s).stddev, sd, 1e-9)
								AND coalesce((s).n, 0) = n AND (s).min IS NOT DISTINCT FROM min
								AND (s).max IS NOT DISTINCT FROM max)
					 GROUP BY frame$$,
				  $$SELECT 'x'::text, 0 WHERE false$$,
				  'costopt_stats OVER running, sliding, centred and one-row frames = the built-ins over the same frames');
SELECT is((SELECT count(*)::int FROM st_win WHERE frame = 'single' AND s IS NULL), 384,
		  'costopt_stats OVER a frame holding only a NULL is NULL (384 frames)');
SELECT is((SELECT count(*)::int FROM st_win), 20000, 'the window comparison saw 4 x 5000 frames');
SELECT results_eq($$SELECT day, round((s).mean::numeric, 2), round((s).stddev::numeric, 2)
					 FROM (SELECT day, costopt_stats(cost) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS s
							 FROM (VALUES ('2026-03-01'::date, 10.0), ('2026-03-02', 12.0), ('2026-03-03', 11.0),
										  ('2026-03-04', 13.0), ('2026-03-05', 30.0)) AS d(day, cost)) w$$,
				  $$VALUES ('2026-03-01'::date, 10.00, NULL::numeric), ('2026-03-02', 11.00, 1.41), ('2026-03-03', 11.00, 1.00),
						   ('2026-03-04', 11.50, 1.29), ('2026-03-05', 15.20, 8.35)$$,
				  'costopt_stats OVER reproduces the 7-day running band of doc/statistics.md');

-------------------------------------------------------------------------------
-- 2. costopt_trend
-------------------------------------------------------------------------------
SELECT setseed(0.3);
CREATE TEMP TABLE tr_rand AS
SELECT g, g % 5 AS k,
	   CASE WHEN g % 17 = 0 THEN NULL ELSE timestamptz '2024-03-01' + random() * interval '700 days' END AS t,
	   CASE WHEN g % 19 = 0 THEN NULL ELSE random() * 100 END AS y
  FROM generate_series(1, 5000) g;
UPDATE tr_rand SET y = y + (g % 5 - 2) * 0.05 * extract(epoch FROM t - '2024-01-01') / 86400 WHERE y IS NOT NULL AND t IS NOT NULL;
CREATE TEMP TABLE tr_cmp AS
SELECT k, costopt_trend(t, y) AS f,
	   regr_slope(y, extract(epoch FROM t)) * 86400 AS slope,
	   regr_intercept(y, extract(epoch FROM t)) AS intercept,
	   regr_r2(y, extract(epoch FROM t)) AS r2,
	   sqrt((regr_syy(y, extract(epoch FROM t)) - regr_sxy(y, extract(epoch FROM t)) ^ 2
			 / regr_sxx(y, extract(epoch FROM t))) / (regr_count(y, extract(epoch FROM t)) - 2)) AS rsd,
	   regr_count(y, extract(epoch FROM t)) AS n,
	   avg(extract(epoch FROM t)) FILTER (WHERE y IS NOT NULL) AS xbar,
	   regr_avgy(y, extract(epoch FROM t)) AS ybar,
	   regr_sxx(y, extract(epoch FROM t)) / 86400.0 ^ 2 AS sxx
  FROM tr_rand GROUP BY k;
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE NOT pg_temp.close((f).slope_per_day, slope, 1e-9)), 0,
		  'costopt_trend: slope_per_day = regr_slope * 86400 to 1e-9 in 5 random groups (slopes -0.1 .. 0.1 per day)');
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE NOT pg_temp.close((f).intercept, intercept, 1e-9)), 0,
		  'costopt_trend: intercept = regr_intercept over epoch seconds to 1e-9');
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE NOT pg_temp.close((f).r2, r2, 1e-9)), 0,
		  'costopt_trend: r2 = regr_r2 to 1e-9');
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE NOT pg_temp.close((f).residual_sd, rsd, 1e-9)), 0,
		  'costopt_trend: residual_sd = sqrt((Syy - Sxy^2/Sxx) / (n - 2)) to 1e-9');
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE (f).n <> n), 0,
		  'costopt_trend: n = regr_count (rows with a NULL t or value ignored)');
SELECT is((SELECT count(*)::int FROM tr_cmp
			WHERE abs(extract(epoch FROM (f).t_mean) - xbar) > 2e-6
			   OR NOT pg_temp.close((f).value_mean, ybar, 1e-12)
			   OR NOT pg_temp.close((f).t_sxx, sxx, 1e-10)), 0,
		  'costopt_trend: t_mean = the exact mean time (to 2 microseconds), value_mean = regr_avgy, t_sxx = regr_sxx / 86400^2');
SELECT is((SELECT count(*)::int FROM tr_cmp WHERE abs((f).slope_per_day) < 1e-3 AND k <> 2), 0,
		  'the random groups have real slopes (the comparison is not of zeros)');

-- constant value, one distinct time, two points, one point, nothing
SELECT results_eq($$SELECT (f).slope_per_day, (f).intercept, (f).r2, (f).residual_sd, (f).n, (f).value_mean
					 FROM (SELECT costopt_trend('2025-01-01'::timestamptz + g * interval '7 hours', 12.25) f
							 FROM generate_series(1, 50) g) q$$,
				  $$VALUES (0::float8, 12.25::float8, 1::float8, 0::float8, 50::bigint, 12.25::float8)$$,
				  'costopt_trend of a constant value: slope 0, intercept = the value, r2 1, residual_sd 0');
SELECT results_eq($$SELECT (f).slope_per_day, (f).intercept, (f).r2, (f).residual_sd, (f).n, (f).t_mean, (f).value_mean, (f).t_sxx
					 FROM (SELECT costopt_trend('2025-06-01 12:00+00', v) f FROM (VALUES (1.0::float8), (2), (6)) t(v)) q$$,
				  $$VALUES (NULL::float8, NULL::float8, NULL::float8, NULL::float8, 3::bigint,
							'2025-06-01 12:00+00'::timestamptz, 3::float8, 0::float8)$$,
				  'costopt_trend with a single distinct time: slope, intercept, r2 and residual_sd NULL; n, t_mean, value_mean, t_sxx 0');
SELECT results_eq($$SELECT (f).slope_per_day, (f).r2, (f).residual_sd, (f).n, (f).t_mean, (f).t_sxx
					 FROM (SELECT costopt_trend(t, v) f FROM (VALUES ('2025-01-01'::timestamptz, 1::float8),
																 ('2025-01-03', 5)) s(t, v)) q$$,
				  $$VALUES (2::float8, 1::float8, NULL::float8, 2::bigint, '2025-01-02'::timestamptz, 2::float8)$$,
				  'costopt_trend of two points: slope 2 per day, r2 1, residual_sd NULL, t_sxx 2 squared days');
SELECT ok(pg_temp.close((SELECT (costopt_trend(t, v)).intercept FROM (VALUES ('2025-01-01'::timestamptz, 1::float8), ('2025-01-03', 5)) s(t, v)),
						 1::float8 - 2 * 20089, 1e-12),
		  'costopt_trend of two points: intercept is the line''s value at 1970-01-01 (1 - 2 * 20089 days)');
SELECT results_eq($$SELECT (f).slope_per_day, (f).n, (f).t_sxx FROM (SELECT costopt_trend('2025-01-01', 5) f) q$$,
				  $$VALUES (NULL::float8, 1::bigint, 0::float8)$$, 'costopt_trend of one point: no slope, n 1');
SELECT is((SELECT costopt_trend(t, v) IS NULL FROM (VALUES (NULL::timestamptz, 1::float8), ('2025-01-01', NULL)) s(t, v)), true,
		  'costopt_trend with a NULL in every pair is NULL');
SELECT is((SELECT costopt_trend(now(), 1) IS NULL WHERE false), true, 'costopt_trend of no rows is NULL');
-- the doc example: 100 + 2.5 g + (g % 3) over 30 days
SELECT results_eq($$SELECT round((f).slope_per_day::numeric, 4), round((f).r2::numeric, 4), round((f).residual_sd::numeric, 4), (f).n
					 FROM (SELECT costopt_trend('2026-03-01'::timestamptz + g * interval '1 day', 100 + 2.5 * g + (g % 3)) f
							 FROM generate_series(0, 29) g) q$$,
				  $$VALUES (2.5089, 0.9986, 0.8414, 30::bigint)$$,
				  'costopt_trend reproduces the example of doc/statistics.md');

-- window aggregate
CREATE TEMP TABLE tr_win AS
SELECT costopt_trend(t, y) OVER w AS f, regr_slope(y, extract(epoch FROM t)) OVER w * 86400 AS slope,
	   regr_r2(y, extract(epoch FROM t)) OVER w AS r2, regr_intercept(y, extract(epoch FROM t)) OVER w AS icpt,
	   regr_count(y, extract(epoch FROM t)) OVER w AS n, 'running' AS frame
  FROM tr_rand WHERE g <= 1000 WINDOW w AS (ORDER BY g)
UNION ALL
SELECT costopt_trend(t, y) OVER w, regr_slope(y, extract(epoch FROM t)) OVER w * 86400,
	   regr_r2(y, extract(epoch FROM t)) OVER w, regr_intercept(y, extract(epoch FROM t)) OVER w,
	   regr_count(y, extract(epoch FROM t)) OVER w, 'sliding'
  FROM tr_rand WHERE g <= 1000 WINDOW w AS (ORDER BY g ROWS BETWEEN 9 PRECEDING AND CURRENT ROW);
SELECT is((SELECT count(*)::int FROM tr_win
			WHERE NOT (pg_temp.close((f).slope_per_day, slope, 1e-9) AND pg_temp.close((f).r2, r2, 1e-9)
					   AND pg_temp.close((f).intercept, icpt, 1e-9) AND coalesce((f).n, 0) = n)), 0,
		  'costopt_trend OVER running and 10-row sliding frames = regr_slope/regr_r2/regr_intercept over the same frames');

-- Timestamps spread over 5 seconds in 2025 (epoch ~1.75e9), 1000000 rows,
-- integer values with a slope of 100 per second: the built-ins lose digits
-- to x ~ 1.7e9; the exact answer is computed in numeric (epoch seconds
-- are exact in numeric, the values are integers).
SELECT setseed(0.5);
CREATE TEMP TABLE tr_adv AS
SELECT t, (floor(random() * 1000) + round(extract(epoch FROM t - '2025-06-01 12:00:00+00') * 100))::float8 AS y
  FROM (SELECT timestamptz '2025-06-01 12:00:00+00' + floor(random() * 5e6) * interval '1 microsecond' AS t
		  FROM generate_series(1, 1000000)) s;
CREATE TEMP TABLE tr_exact AS
WITH m AS (SELECT avg(extract(epoch FROM t)) AS xb, avg(y::numeric) AS yb FROM tr_adv),
	 s AS (SELECT sum((extract(epoch FROM t) - xb) * (y::numeric - yb)) AS sxy,
				  sum((extract(epoch FROM t) - xb) ^ 2) AS sxx, sum((y::numeric - yb) ^ 2) AS syy,
				  count(*) AS n, min(xb) AS xb, min(yb) AS yb
			 FROM tr_adv, m)
SELECT sxy / sxx * 86400 AS slope, yb - sxy / sxx * xb AS intercept, sxy * sxy / (sxx * syy) AS r2,
	   sqrt((syy - sxy * sxy / sxx) / (n - 2)) AS rsd
  FROM s;
CREATE TEMP TABLE tr_adv_fit AS
SELECT costopt_trend(t, y) AS f,
	   regr_slope(y, extract(epoch FROM t)) * 86400 AS slope,
	   regr_intercept(y, extract(epoch FROM t)) AS intercept,
	   regr_r2(y, extract(epoch FROM t)) AS r2
  FROM tr_adv;
SELECT cmp_ok((SELECT pg_temp.relerr((a.f).slope_per_day, e.slope) FROM tr_adv_fit a, tr_exact e), '<', 1e-9::float8,
			  '1000000 rows over 5 seconds at epoch 1.75e9: slope_per_day within 1e-9 of the exact slope');
SELECT cmp_ok((SELECT pg_temp.relerr((a.f).intercept, e.intercept) FROM tr_adv_fit a, tr_exact e), '<', 1e-9::float8,
			  '... intercept within 1e-9 of the exact value');
SELECT cmp_ok((SELECT pg_temp.relerr((a.f).r2, e.r2) FROM tr_adv_fit a, tr_exact e), '<', 1e-9::float8,
			  '... r2 within 1e-9 of the exact value');
SELECT cmp_ok((SELECT pg_temp.relerr((a.f).residual_sd, e.rsd) FROM tr_adv_fit a, tr_exact e), '<', 1e-9::float8,
			  '... residual_sd within 1e-9 of the exact value');
SELECT cmp_ok((SELECT pg_temp.relerr(a.slope, e.slope) / pg_temp.relerr((a.f).slope_per_day, e.slope) FROM tr_adv_fit a, tr_exact e),
			  '>', 10::float8, '... costopt_trend''s slope is more than 10 times closer to the exact one than regr_slope''s');
SELECT cmp_ok((SELECT pg_temp.relerr(a.intercept, e.intercept) / pg_temp.relerr((a.f).intercept, e.intercept) FROM tr_adv_fit a, tr_exact e),
			  '>', 10::float8, '... and its intercept more than 10 times closer than regr_intercept''s');
SELECT cmp_ok((SELECT pg_temp.relerr(a.slope, e.slope) FROM tr_adv_fit a, tr_exact e), '>', 1e-8::float8,
			  '... where regr_slope is off by more than 1e-8 (the data are adversarial)');

-------------------------------------------------------------------------------
-- 3. Partial aggregation: support functions and parallel plans
-------------------------------------------------------------------------------
-- the transition states, collected without the final function
CREATE AGGREGATE pg_temp.stats_state(float8) (SFUNC = costopt.stats_accum, STYPE = float8[]);
CREATE AGGREGATE pg_temp.trend_state(timestamptz, float8) (SFUNC = costopt.trend_accum, STYPE = float8[]);
CREATE TEMP TABLE part_states AS
SELECT k, pg_temp.stats_state(x) AS ss, pg_temp.trend_state(t, y) AS ts
  FROM (SELECT r.g % 3 AS k, r.x, t.t, t.y FROM st_rand r JOIN tr_rand t USING (g)) q GROUP BY k;
SELECT ok((SELECT pg_temp.close((costopt.stats_final(costopt.stats_combine(costopt.stats_combine(a.ss, b.ss), c.ss))).stddev,
								(SELECT stddev_samp(x) FROM st_rand), 1e-12)
			  AND pg_temp.close((costopt.stats_final(costopt.stats_combine(costopt.stats_combine(a.ss, b.ss), c.ss))).mean,
								(SELECT avg(x) FROM st_rand), 1e-12)
			  AND (costopt.stats_final(costopt.stats_combine(costopt.stats_combine(a.ss, b.ss), c.ss))).n = 4616
		 FROM part_states a, part_states b, part_states c WHERE a.k = 0 AND b.k = 1 AND c.k = 2),
		  'stats_combine of three partial states = the aggregate over all rows (mean, stddev to 1e-12, n)');
SELECT is((SELECT costopt.stats_final(costopt.stats_combine(NULL, ss)) FROM part_states WHERE k = 1),
		  (SELECT costopt.stats_final(ss) FROM part_states WHERE k = 1),
		  'stats_combine(NULL, s) = s');
SELECT is((SELECT costopt.stats_final(costopt.stats_combine(ss, (SELECT pg_temp.stats_state(NULL::float8)))) FROM part_states WHERE k = 1),
		  (SELECT costopt.stats_final(ss) FROM part_states WHERE k = 1),
		  'stats_combine(s, state of no value) = s');
SELECT is((SELECT costopt.stats_final(costopt.stats_combine((SELECT pg_temp.stats_state(NULL::float8)), ss)) FROM part_states WHERE k = 1),
		  (SELECT costopt.stats_final(ss) FROM part_states WHERE k = 1),
		  'stats_combine(state of no value, s) = s');
CREATE TEMP TABLE trend_merged AS
SELECT costopt.trend_final(costopt.trend_combine(costopt.trend_combine(c.ts, a.ts), b.ts)) AS f
  FROM part_states a, part_states b, part_states c WHERE a.k = 0 AND b.k = 1 AND c.k = 2;
CREATE TEMP TABLE trend_whole AS SELECT costopt_trend(t, y) AS f FROM tr_rand;
SELECT ok((SELECT pg_temp.close((m.f).slope_per_day, (w.f).slope_per_day, 1e-12)
			  AND pg_temp.close((m.f).intercept, (w.f).intercept, 1e-12)
			  AND pg_temp.close((m.f).r2, (w.f).r2, 1e-12)
			  AND pg_temp.close((m.f).residual_sd, (w.f).residual_sd, 1e-12)
			  AND pg_temp.close((m.f).value_mean, (w.f).value_mean, 1e-12)
			  AND pg_temp.close((m.f).t_sxx, (w.f).t_sxx, 1e-12)
			  AND abs(extract(epoch FROM (m.f).t_mean - (w.f).t_mean)) <= 1e-6
			  AND (m.f).n = (w.f).n
		 FROM trend_merged m, trend_whole w),
		  'trend_combine of three partial states with different origins = the aggregate over all rows (1e-12)');
-- two states whose origins are 600 days apart, of a line 3 + 0.5 * day
SELECT results_eq($$SELECT round((f).slope_per_day::numeric, 9), round((f).r2::numeric, 9), round((f).residual_sd::numeric, 9), (f).n
					 FROM (SELECT costopt.trend_final(costopt.trend_combine(
								(SELECT pg_temp.trend_state('2024-01-01'::timestamptz + d * interval '1 day', 3 + 0.5 * d)
								   FROM generate_series(0, 9) d),
								(SELECT pg_temp.trend_state('2024-01-01'::timestamptz + d * interval '1 day', 3 + 0.5 * d)
								   FROM generate_series(600, 609) d))) f) q$$,
				  $$VALUES (0.5, 1.0, 0.0, 20::bigint)$$,
				  'trend_combine aligns states with origins 600 days apart: a line stays a line');
SELECT is((SELECT costopt.trend_final(costopt.trend_combine(ts, NULL)) FROM part_states WHERE k = 2),
		  (SELECT costopt.trend_final(ts) FROM part_states WHERE k = 2), 'trend_combine(s, NULL) = s');
SELECT is((SELECT costopt.trend_final(costopt.trend_combine((SELECT pg_temp.trend_state(NULL::timestamptz, NULL::float8)), ts))
			 FROM part_states WHERE k = 2),
		  (SELECT costopt.trend_final(ts) FROM part_states WHERE k = 2), 'trend_combine(state of no pair, s) = s');

-- parallel plans on a regular table (temporary tables are never scanned in parallel)
SELECT setseed(0.7);
CREATE TABLE public.tap_stats_par AS
SELECT g, g % 7 AS k, t, 20 + 0.3 * extract(epoch FROM t - '2024-01-01') / 86400 + 40 * random() AS y
  FROM (SELECT g, timestamptz '2024-01-01' + random() * interval '900 days' AS t FROM generate_series(1, 300000) g) s;
ANALYZE public.tap_stats_par;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	out text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		out := out || line || E'\n';
	END LOOP;
	RETURN out;
END;
$$;
CREATE FUNCTION pg_temp.analyzed_plan_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	out text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
		out := out || line || E'\n';
	END LOOP;
	RETURN out;
END;
$$;
SELECT matches(pg_temp.plan_of('SELECT costopt_stats(y) FROM public.tap_stats_par'),
			   'Finalize Aggregate.*Gather.*Partial Aggregate',
			   'costopt_stats is computed in a parallel plan (Finalize Aggregate / Gather / Partial Aggregate)');
SELECT matches(pg_temp.plan_of('SELECT costopt_trend(t, y) FROM public.tap_stats_par'),
			   'Finalize Aggregate.*Gather.*Partial Aggregate',
			   'costopt_trend is computed in a parallel plan');
SELECT matches(pg_temp.plan_of('SELECT k, costopt_stats(y), costopt_trend(t, y) FROM public.tap_stats_par GROUP BY k'),
			   'Finalize .*Aggregate.*Gather.*Partial .*Aggregate',
			   'costopt_stats and costopt_trend GROUP BY k are computed in a parallel plan');
SELECT matches(pg_temp.analyzed_plan_of('SELECT costopt_stats(y), costopt_trend(t, y) FROM public.tap_stats_par'),
			   'Workers Launched: 2',
			   'the parallel plan runs with two workers (and no leader participation): two partial states are merged');
CREATE TEMP TABLE par_all AS SELECT costopt_stats(y) AS s, costopt_trend(t, y) AS f FROM public.tap_stats_par;
CREATE TEMP TABLE par_grp AS SELECT k, costopt_stats(y) AS s, costopt_trend(t, y) AS f FROM public.tap_stats_par GROUP BY k;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT unalike(pg_temp.plan_of('SELECT costopt_stats(y) FROM public.tap_stats_par'), '%Partial%',
			   'with max_parallel_workers_per_gather = 0 the plan is serial');
CREATE TEMP TABLE ser_all AS SELECT costopt_stats(y) AS s, costopt_trend(t, y) AS f FROM public.tap_stats_par;
CREATE TEMP TABLE ser_grp AS SELECT k, costopt_stats(y) AS s, costopt_trend(t, y) AS f FROM public.tap_stats_par GROUP BY k;
RESET max_parallel_workers_per_gather;
CREATE FUNCTION pg_temp.same_stats(a costopt.stats_summary, b costopt.stats_summary, tol float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT pg_temp.close(a.mean, b.mean, tol) AND pg_temp.close(a.stddev, b.stddev, tol)
		   AND a.n = b.n AND a.min = b.min AND a.max = b.max
$$;
CREATE FUNCTION pg_temp.same_fit(a costopt.trend_fit, b costopt.trend_fit, tol float8) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT pg_temp.close(a.slope_per_day, b.slope_per_day, tol) AND pg_temp.close(a.intercept, b.intercept, tol)
		   AND pg_temp.close(a.r2, b.r2, tol) AND pg_temp.close(a.residual_sd, b.residual_sd, tol)
		   AND pg_temp.close(a.value_mean, b.value_mean, tol) AND pg_temp.close(a.t_sxx, b.t_sxx, tol)
		   AND abs(extract(epoch FROM a.t_mean - b.t_mean)) <= 1e-6 AND a.n = b.n
$$;
SELECT ok((SELECT pg_temp.same_stats(p.s, s.s, 1e-12) FROM par_all p, ser_all s),
		  'parallel costopt_stats = serial costopt_stats to 1e-12 (300000 rows)');
-- 1e-10, not 1e-12: the merge order of the workers' states varies from run
-- to run, and a field near zero (r2 of a flat series) can differ by a few
-- units in the 12th digit
SELECT ok((SELECT pg_temp.same_fit(p.f, s.f, 1e-10) FROM par_all p, ser_all s),
		  'parallel costopt_trend = serial costopt_trend to 1e-10 (every field)');
SELECT is((SELECT count(*)::int FROM par_grp p JOIN ser_grp s USING (k)
			WHERE pg_temp.same_stats(p.s, s.s, 1e-12) AND pg_temp.same_fit(p.f, s.f, 1e-12)), 7,
		  'parallel = serial to 1e-12 in each of the 7 groups of GROUP BY k');
SELECT ok((SELECT pg_temp.close((s).stddev, (SELECT stddev_samp(y) FROM public.tap_stats_par), 1e-9)
			  AND pg_temp.close((f).slope_per_day, (SELECT regr_slope(y, extract(epoch FROM t)) * 86400 FROM public.tap_stats_par), 1e-9)
		 FROM par_all),
		  'the parallel results also match stddev_samp and regr_slope (1e-9)');
DROP TABLE public.tap_stats_par;

-------------------------------------------------------------------------------
-- 4. costopt_predict
-------------------------------------------------------------------------------
-- 12 points: t_{0.975, 10} = 2.2281388519649385
CREATE TEMP TABLE pr_pts AS
SELECT timestamptz '2025-02-01' + (g * g) * interval '5 hours' AS t, 50 + 1.5 * g + (g * 7 % 5) AS y
  FROM generate_series(1, 12) g;
CREATE TEMP TABLE pr_fit AS SELECT costopt_trend(t, y) AS f FROM pr_pts;
-- the textbook formula from the built-ins, in seconds
CREATE TEMP TABLE pr_ref AS
SELECT regr_slope(y, extract(epoch FROM t)) AS b, regr_intercept(y, extract(epoch FROM t)) AS a,
	   avg(extract(epoch FROM t)) FILTER (WHERE y IS NOT NULL) AS xbar, regr_sxx(y, extract(epoch FROM t)) AS sxx,
	   sqrt((regr_syy(y, extract(epoch FROM t)) - regr_sxy(y, extract(epoch FROM t)) ^ 2
			 / regr_sxx(y, extract(epoch FROM t))) / 10) AS s, count(*) AS n
  FROM pr_pts;
CREATE TEMP TABLE pr_at (at) AS
VALUES ('2025-02-01'::timestamptz), ('2025-02-20 07:30'), ('2025-03-15'), ('2025-06-01'), ('2024-12-01');
SELECT is((SELECT count(*)::int FROM pr_fit, pr_at, costopt_predict(f, at) p
			WHERE NOT pg_temp.close(p.predicted,
									(f).value_mean + (f).slope_per_day * extract(epoch FROM at - (f).t_mean)::float8 / 86400, 1e-12)), 0,
		  'costopt_predict: predicted = value_mean + slope_per_day * days from t_mean (5 times)');
SELECT is((SELECT count(*)::int FROM pr_fit, pr_at, pr_ref r, costopt_predict(f, at) p
			WHERE NOT pg_temp.close(p.predicted, r.a + r.b * extract(epoch FROM at)::float8, 1e-9)), 0,
		  'costopt_predict: predicted = regr_intercept + regr_slope * epoch(at) (5 times)');
SELECT is((SELECT count(*)::int FROM pr_fit, pr_at, pr_ref r, costopt_predict(f, at) p
			WHERE NOT pg_temp.close(p.upper - p.predicted,
									r.s * sqrt(1 + 1.0 / r.n + (extract(epoch FROM at)::float8 - r.xbar) ^ 2 / r.sxx)
									* 2.2281388519649385, 1e-9)
			   OR NOT pg_temp.close(p.predicted - p.lower, p.upper - p.predicted, 1e-9)), 0,
		  'costopt_predict: interval = predicted -/+ t(0.975, 10) * s * sqrt(1 + 1/n + (x0 - xbar)^2 / Sxx) (5 times)');
SELECT ok((SELECT (b.upper - b.lower) > (a.upper - a.lower)
			 FROM pr_fit, costopt_predict(f, (f).t_mean) a, costopt_predict(f, (f).t_mean + interval '60 days') b),
		  'costopt_predict: the interval is wider 60 days away from t_mean than at t_mean');
SELECT is((SELECT costopt_predict(f, '2025-04-01') FROM pr_fit), (SELECT costopt_predict(f, '2025-04-01', 0.95) FROM pr_fit),
		  'costopt_predict: level defaults to 0.95');
SELECT results_eq($$SELECT round(p.predicted::numeric, 2), round(p.lower::numeric, 2), round(p.upper::numeric, 2)
					 FROM (SELECT costopt_trend('2026-03-01'::timestamptz + g * interval '1 day', 100 + 2.5 * g + (g % 3)) AS f
							 FROM generate_series(0, 29) g) t,
						  costopt_predict(t.f, '2026-04-15', 0.9) p$$,
				  $$VALUES (213.77, 212.05, 215.49)$$,
				  'costopt_predict reproduces the example of doc/statistics.md (90% interval)');
SELECT results_eq($$SELECT p.predicted, p.lower, p.upper
					 FROM (SELECT costopt_trend('2025-01-01'::timestamptz + g * interval '1 day', 4 * g) AS f
							 FROM generate_series(0, 9) g) t,
						  costopt_predict(t.f, '2025-01-21') p$$,
				  $$VALUES (80::float8, 80::float8, 80::float8)$$,
				  'costopt_predict on an exact line: the line''s value, an interval of width 0');

-- t quantiles, through hand-made fits: residual_sd 1, t_sxx 1, at = t_mean,
-- so upper - predicted = t(df) * sqrt(1 + 1/n)
CREATE FUNCTION pg_temp.t_quantile(n bigint, level float8) RETURNS float8
LANGUAGE sql AS $$
	SELECT (p.upper - p.predicted) / sqrt(1 + 1.0 / n)
	  FROM costopt_predict(ROW(1.0, 0, 0.5, 1.0, n, '2025-01-01', 10.0, 1.0)::costopt.trend_fit,
						   '2025-01-01', level) p
$$;
SELECT ok(pg_temp.close(pg_temp.t_quantile(12, 0.95), 2.2281388519649385, 1e-10), 't(0.975, 10) = 2.2281388519649385');
SELECT ok(pg_temp.close(pg_temp.t_quantile(12, 0.90), 1.8124611228107335, 1e-10), 't(0.95, 10) = 1.8124611228107335');
SELECT ok(pg_temp.close(pg_temp.t_quantile(12, 0.99), 3.1692726726169518, 1e-10), 't(0.995, 10) = 3.1692726726169518');
SELECT ok(pg_temp.close(pg_temp.t_quantile(32, 0.95), 2.0422724563012373, 1e-10), 't(0.975, 30) = 2.0422724563012373');
SELECT ok(pg_temp.close(pg_temp.t_quantile(3, 0.95), 12.706204736174698, 1e-10), 't(0.975, 1) = 12.706204736174698');
-- df = 1 is the Cauchy distribution: t(p) = tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2p(1 - p))
SELECT is((SELECT count(*)::int FROM unnest(ARRAY[0.01, 0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999]::float8[]) l
			WHERE NOT pg_temp.close(pg_temp.t_quantile(3, l), tan(pi() * l / 2), 1e-10)), 0,
		  't(df = 1) = tan(pi (p - 1/2)) to 1e-10 at 8 levels from 0.01 to 0.999');
SELECT is((SELECT count(*)::int FROM unnest(ARRAY[0.01, 0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999]::float8[]) l
			WHERE NOT pg_temp.close(pg_temp.t_quantile(4, l), l / sqrt(2 * (0.5 + l / 2) * (0.5 - l / 2)), 1e-10)), 0,
		  't(df = 2) = (2p - 1) / sqrt(2p(1 - p)) to 1e-10 at 8 levels');
SELECT ok(pg_temp.close(pg_temp.t_quantile(1000000002, 0.95), 1.959963984540054, 1e-12),
		  'df = 1e9: the normal quantile 1.959963984540054');
SELECT ok(pg_temp.close(pg_temp.t_quantile(1000002, 0.95), 1.959963984540054 + (1.959963984540054 ^ 3 + 1.959963984540054) / 4e6, 1e-9),
		  'df = 1e6: z + (z^3 + z) / (4 df) (Cornish-Fisher), so larger than the normal quantile');
SELECT ok(abs(pg_temp.t_quantile(10000001, 0.95) - pg_temp.t_quantile(10000003, 0.95)) < 1e-6,
		  'the t quantile is continuous where it switches to the normal one (df 1e7)');
SELECT ok(pg_temp.t_quantile(12, 0.99) > pg_temp.t_quantile(12, 0.95) AND pg_temp.t_quantile(12, 0.95) > pg_temp.t_quantile(12, 0.5),
		  'higher levels give wider intervals');

-- NULLs and degenerate fits
SELECT is((SELECT costopt_predict(NULL, '2025-01-01')), NULL, 'costopt_predict of a NULL fit is NULL');
SELECT is((SELECT costopt_predict(f, NULL) FROM pr_fit), NULL, 'costopt_predict at a NULL time is NULL');
SELECT is((SELECT costopt_predict(costopt_trend('2025-01-01', v), '2025-02-01') FROM (VALUES (1.0::float8), (2)) s(v)), NULL,
		  'costopt_predict of a fit without slope (one distinct time) is NULL');
SELECT results_eq($$SELECT (p).* FROM (SELECT costopt_predict(costopt_trend(t, v), '2025-01-05') p
										FROM (VALUES ('2025-01-01'::timestamptz, 1::float8), ('2025-01-03', 5)) s(t, v)) q$$,
				  $$VALUES (9::float8, NULL::float8, NULL::float8)$$,
				  'costopt_predict of a two-point fit: the line''s value, no interval');
SELECT throws_ok($$SELECT costopt_predict(f, '2025-04-01', 0) FROM pr_fit$$, '22023', NULL, 'costopt_predict level 0: 22023');
SELECT throws_ok($$SELECT costopt_predict(f, '2025-04-01', 1) FROM pr_fit$$, '22023', NULL, 'costopt_predict level 1: 22023');
SELECT throws_ok($$SELECT costopt_predict(f, '2025-04-01', 1.5) FROM pr_fit$$, '22023', NULL, 'costopt_predict level 1.5: 22023');
SELECT throws_ok($$SELECT costopt_predict(f, '2025-04-01', -0.5) FROM pr_fit$$, '22023', NULL, 'costopt_predict level -0.5: 22023');
SELECT throws_ok($$SELECT costopt_predict(f, '2025-04-01', 'NaN') FROM pr_fit$$, '22023', NULL, 'costopt_predict level NaN: 22023');
SELECT throws_ok($$SELECT costopt_predict(f, 'infinity') FROM pr_fit$$, '22023', NULL, 'costopt_predict at infinity: 22023');

-------------------------------------------------------------------------------
-- 5. Bad input for the aggregates
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT costopt_stats(v) FROM (VALUES (1::float8), ('NaN')) s(v)$$, '22023',
				 'costopt_stats value must be a finite number, not NaN', 'costopt_stats of NaN: 22023');
SELECT throws_ok($$SELECT costopt_stats(v) FROM (VALUES (1::float8), ('Infinity')) s(v)$$, '22023',
				 'costopt_stats value must be a finite number, not Infinity', 'costopt_stats of Infinity: 22023');
SELECT throws_ok($$SELECT costopt_stats(v) FROM (VALUES ('-Infinity'::float8)) s(v)$$, '22023',
				 'costopt_stats value must be a finite number, not -Infinity', 'costopt_stats of -Infinity: 22023');
SELECT throws_ok($$SELECT costopt_stats(v) OVER (ORDER BY v) FROM (VALUES (1::float8), ('NaN')) s(v)$$, '22023', NULL,
				 'costopt_stats OVER a frame with NaN: 22023');
SELECT throws_ok($$SELECT costopt_trend(now(), 'NaN')$$, '22023', NULL, 'costopt_trend of a NaN value: 22023');
SELECT throws_ok($$SELECT costopt_trend(now(), '-Infinity')$$, '22023', NULL, 'costopt_trend of -Infinity: 22023');
SELECT throws_ok($$SELECT costopt_trend('infinity', 1)$$, '22023', 'costopt_trend time must be finite',
				 'costopt_trend at time infinity: 22023');
SELECT throws_ok($$SELECT costopt_trend('-infinity', 1)$$, '22023', 'costopt_trend time must be finite',
				 'costopt_trend at time -infinity: 22023');
-- finite values whose squares overflow: an error (like stddev_samp's 22003) or a finite answer, never Infinity/NaN
CREATE FUNCTION pg_temp.finite_or_error(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	EXECUTE stmt INTO r;
	IF r.mean IN ('Infinity', '-Infinity', 'NaN') OR r.stddev IN ('Infinity', '-Infinity', 'NaN') THEN
		RETURN 'non-finite result: mean ' || r.mean || ', stddev ' || r.stddev;
	END IF;
	RETURN 'finite';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END;
$$;
SELECT matches(pg_temp.finite_or_error($$SELECT (costopt_stats(v)).* FROM (VALUES (1.7e308::float8), (1.7e308)) s(v)$$),
			   '^(finite|22003)$',
			   'costopt_stats of 1.7e308 twice: a finite mean and stddev or 22003, not Infinity/NaN');
SELECT matches(pg_temp.finite_or_error($$SELECT (costopt_stats(v)).* FROM (VALUES (1e200::float8), (2e200)) s(v)$$),
			   '^(finite|22003)$',
			   'costopt_stats of 1e200 and 2e200: a finite stddev or 22003, not Infinity');

-------------------------------------------------------------------------------
-- 6. costopt_anomaly_scan
-------------------------------------------------------------------------------
CREATE TEMP TABLE an_series (name text PRIMARY KEY, ts timestamptz[], v float8[]);
SELECT setseed(0.2);
-- daily noise around 100 (+/- 5), 120 days from 2025-01-01
CREATE TEMP TABLE an_noise AS
SELECT g, timestamptz '2025-01-01' + g * interval '1 day' AS ts, 100 + 10 * (random() - 0.5) AS v
  FROM generate_series(0, 119) g;
INSERT INTO an_series
SELECT 'spike', array_agg(ts ORDER BY g), array_agg(v + CASE WHEN g = 70 THEN 80 ELSE 0 END ORDER BY g) FROM an_noise
UNION ALL
SELECT 'drop', array_agg(ts ORDER BY g), array_agg(v - CASE WHEN g = 70 THEN 60 ELSE 0 END ORDER BY g) FROM an_noise
UNION ALL
SELECT 'constant', array_agg(ts ORDER BY g), array_agg(55.5::float8 ORDER BY g) FROM an_noise
UNION ALL
-- level shift from 100 to 200 on day 60
SELECT 'shift', array_agg(ts ORDER BY g), array_agg(v + CASE WHEN g >= 60 THEN 100 ELSE 0 END ORDER BY g) FROM an_noise
UNION ALL
-- a weekly pattern (weekend at 30) with noise; on day 74 (a Sunday) the
-- weekend value is as high as a weekday's; spikes and a shift for the causality checks
SELECT 'weekly', array_agg(ts ORDER BY g),
	   array_agg(CASE WHEN extract(isodow FROM ts) >= 6 AND g <> 74 THEN 30 ELSE 100 END + v - 100
				 + CASE WHEN g IN (40, 90) THEN 70 WHEN g >= 100 THEN 40 ELSE 0 END ORDER BY g)
  FROM an_noise;
CREATE FUNCTION pg_temp.scan(series text, method text, suppress boolean DEFAULT true, threshold float8 DEFAULT 3,
							 win integer DEFAULT NULL)
RETURNS TABLE (i integer, ts timestamptz, value float8, expected float8, z float8, is_anomaly boolean,
			   severity text, direction text)
LANGUAGE sql AS $$
	SELECT (extract(epoch FROM r.ts - '2025-01-01') / 86400)::int, r.*
	  FROM an_series s, costopt_anomaly_scan(s.ts, s.v, method, threshold, win, suppress) r
	 WHERE s.name = series
$$;
CREATE TEMP TABLE an_methods (m) AS VALUES ('zscore'), ('robust'), ('seasonal'), ('adaptive');

-- (from day 28 on, when the window is full: on fewer points a standard
-- deviation is itself noisy and zscore may alarm on noise, here on day 10)
SELECT results_eq($$SELECT m, array_agg(i ORDER BY i), array_agg(direction ORDER BY i)
					 FROM an_methods, pg_temp.scan('spike', m) WHERE is_anomaly AND i >= 28 GROUP BY m ORDER BY m$$,
				  $$VALUES ('adaptive'::text, '{70}'::int[], '{spike}'::text[]), ('robust', '{70}', '{spike}'),
						   ('seasonal', '{70}', '{spike}'), ('zscore', '{70}', '{spike}')$$,
				  'a spike of +80 on day 70 in noise of +/-5 is the only anomaly from day 28 on, direction spike, for every method');
SELECT results_eq($$SELECT m, array_agg(i ORDER BY i), array_agg(direction ORDER BY i)
					 FROM an_methods, pg_temp.scan('drop', m) WHERE is_anomaly AND i >= 28 GROUP BY m ORDER BY m$$,
				  $$VALUES ('adaptive'::text, '{70}'::int[], '{drop}'::text[]), ('robust', '{70}', '{drop}'),
						   ('seasonal', '{70}', '{drop}'), ('zscore', '{70}', '{drop}')$$,
				  'a drop of -60 on day 70 is the only anomaly from day 28 on, direction drop, for every method');
SELECT is((SELECT count(*)::int FROM an_methods, pg_temp.scan('spike', m) WHERE i = 70 AND severity <> 'critical'), 0,
		  'the +80 spike (z > 6) is critical for every method');
SELECT results_eq($$SELECT ts, value, round(expected::numeric, 1), round(z::numeric, 1), severity, direction
					 FROM costopt_anomaly_scan(
							ARRAY(SELECT '2026-03-01'::timestamptz + g * interval '1 day' FROM generate_series(0, 41) g),
							ARRAY(SELECT CASE g WHEN 35 THEN 260 ELSE 100 + 10 * sin(g) END FROM generate_series(0, 41) g),
							'robust')
					WHERE is_anomaly$$,
				  $$VALUES ('2026-04-05 00:00:00+00'::timestamptz, 260::float8, 102.1, 16.0, 'critical'::text, 'spike'::text)$$,
				  'costopt_anomaly_scan reproduces the example of doc/statistics.md');
SELECT is((SELECT count(*)::int FROM an_methods, pg_temp.scan('constant', m) WHERE is_anomaly), 0,
		  'a constant series has no anomaly for any method');
SELECT is((SELECT count(*)::int FROM pg_temp.scan('constant', 'zscore') WHERE z IS NOT NULL AND (z <> 0 OR expected <> 55.5)), 0,
		  'a constant series: expected is the constant and z is 0');
SELECT results_eq($$SELECT count(*)::int, count(z)::int, count(*) FILTER (WHERE is_anomaly)::int
					 FROM costopt_anomaly_scan(ARRAY(SELECT timestamptz '2025-01-01' + g * interval '1 day' FROM generate_series(1, 8) g),
											   ARRAY(SELECT CASE WHEN g = 8 THEN 1e6 ELSE g END::float8 FROM generate_series(1, 8) g))$$,
				  $$VALUES (8, 0, 0)$$,
				  '8 daily points (9 are needed before one is scored): nothing scored or flagged, even a 1e6 jump');
SELECT results_eq($$SELECT count(z)::int, bool_or(is_anomaly)
					 FROM costopt_anomaly_scan(ARRAY(SELECT timestamptz '2025-01-01' + g * interval '1 day' FROM generate_series(1, 9) g),
											   ARRAY(SELECT CASE WHEN g = 9 THEN 1e6 ELSE g END::float8 FROM generate_series(1, 9) g))$$,
				  $$VALUES (1, true)$$,
				  'with 9 daily points the 9th is scored (8 points before it) and the jump is flagged');
-- default windows: one day of points for sub-daily data (first score after a quarter window), 28 daily, 12 otherwise
SELECT is((SELECT min(n) FROM (SELECT row_number() OVER (ORDER BY ts) - 1 AS n, z
								 FROM costopt_anomaly_scan(ARRAY(SELECT timestamptz '2025-01-01' + g * interval '5 minutes' FROM generate_series(1, 100) g),
														   ARRAY(SELECT (g % 7)::float8 FROM generate_series(1, 100) g))) q
			WHERE z IS NOT NULL), 72::bigint,
		  '5-minute data: window 288, so the first point scored has 72 (a quarter window) before it');
SELECT is((SELECT min(n) FROM (SELECT row_number() OVER (ORDER BY ts) - 1 AS n, z
								 FROM costopt_anomaly_scan(ARRAY(SELECT timestamptz '2025-01-01' + g * interval '1 hour' FROM generate_series(1, 100) g),
														   ARRAY(SELECT (g % 7)::float8 FROM generate_series(1, 100) g))) q
			WHERE z IS NOT NULL), 8::bigint,
		  'hourly data: window 24, the first point scored has 8 before it');
-- zscore: expected = mean and z = (x - mean) / sd of the previous window_size points
SELECT is((SELECT count(*)::int
			 FROM (SELECT s.i, s.expected, s.z, s.value,
						  avg(s.value) OVER w AS mean, stddev_samp(s.value) OVER w AS sd, count(*) OVER w AS have
					 FROM pg_temp.scan('spike', 'zscore') s WINDOW w AS (ORDER BY s.i ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING)) q
			WHERE CASE WHEN have < 8 THEN z IS NOT NULL
					   ELSE NOT (pg_temp.close(expected, mean, 1e-12) AND pg_temp.close(z, (value - mean) / sd, 1e-9)) END), 0,
		  'zscore: expected and z are the mean and standard score over the previous 28 daily points (none before 8)');
SELECT is((SELECT count(*)::int
			 FROM (SELECT s.i, s.expected, s.z, s.value,
						  avg(s.value) OVER w AS mean, stddev_samp(s.value) OVER w AS sd
					 FROM pg_temp.scan('spike', 'zscore', win => 10) s WINDOW w AS (ORDER BY s.i ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING)) q
			WHERE i >= 8 AND NOT (pg_temp.close(expected, mean, 1e-12) AND pg_temp.close(z, (value - mean) / sd, 1e-9))), 0,
		  'zscore with window_size 10: the previous 10 points');
-- robust: median and 1.4826 * MAD of the previous points
SELECT is((SELECT count(*)::int
			 FROM pg_temp.scan('spike', 'robust') s,
				  LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.value) AS med
							 FROM pg_temp.scan('spike', 'robust') p WHERE p.i BETWEEN s.i - 28 AND s.i - 1) m,
				  LATERAL (SELECT 1.4826 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(p.value - m.med)) AS mad
							 FROM pg_temp.scan('spike', 'robust') p WHERE p.i BETWEEN s.i - 28 AND s.i - 1) d
			WHERE s.i >= 8 AND NOT (pg_temp.close(s.expected, m.med, 1e-12) AND pg_temp.close(s.z, (s.value - m.med) / d.mad, 1e-9))), 0,
		  'robust: expected is the median of the previous 28 points, z divides by 1.4826 * their MAD');
-- seasonal on daily data: expected = median of the same weekday in the previous 7 weeks (2 at least)
SELECT is((SELECT count(*)::int
			 FROM pg_temp.scan('weekly', 'seasonal') s,
				  LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.value) AS med, count(*) AS k
							 FROM pg_temp.scan('weekly', 'seasonal') p
							WHERE p.i IN (s.i - 7, s.i - 14, s.i - 21, s.i - 28, s.i - 35, s.i - 42, s.i - 49)) m
			WHERE s.z IS NOT NULL AND (m.k < 2 OR NOT pg_temp.close(s.expected, m.med, 1e-12))), 0,
		  'seasonal: expected is the median of the same weekday over the previous 7 weeks');
SELECT ok((SELECT bool_and(is_anomaly) FILTER (WHERE i = 74) AND NOT bool_or(is_anomaly) FILTER (WHERE i BETWEEN 50 AND 89 AND i <> 74)
			 FROM pg_temp.scan('weekly', 'seasonal')),
		  'seasonal: a Sunday at weekday level (day 74) is flagged, and nothing else between days 50 and 89');
SELECT ok((SELECT NOT bool_or(is_anomaly) FILTER (WHERE i = 74) FROM pg_temp.scan('weekly', 'zscore')),
		  'zscore does not see that Sunday (it is within the usual weekday range)');
SELECT is((SELECT direction FROM pg_temp.scan('weekly', 'seasonal') WHERE i = 74), 'spike', 'the Sunday is a spike');

-- decisions, severities and directions follow the documented rules
SELECT is((SELECT count(*)::int FROM an_series s, an_methods, pg_temp.scan(s.name, m, false, 2.5)
			WHERE m <> 'adaptive' AND is_anomaly IS DISTINCT FROM coalesce(abs(z) >= 2.5, false)), 0,
		  'without suppression zscore, robust and seasonal flag exactly the points with |z| >= threshold');
SELECT is((SELECT count(*)::int FROM an_series s, an_methods, pg_temp.scan(s.name, m, false, 2.5)
			WHERE is_anomaly AND severity IS DISTINCT FROM
				  CASE WHEN abs(z) >= 5 THEN 'critical' WHEN abs(z) >= 4.5 THEN 'high'
					   WHEN abs(z) >= 3.5 THEN 'medium' ELSE 'low' END), 0,
		  'severity: low below threshold + 1, medium below + 2, high below 2 x threshold, then critical (threshold 2.5)');
SELECT is((SELECT count(*)::int FROM an_series s, an_methods, pg_temp.scan(s.name, m, false, 1)
			WHERE is_anomaly AND severity NOT IN ('low', 'medium', 'high', 'critical')), 0,
		  'every severity is low, medium, high or critical');
SELECT is((SELECT array_agg(DISTINCT severity ORDER BY severity) FROM an_series s, an_methods, pg_temp.scan(s.name, m, false, 3)
			WHERE is_anomaly), '{critical,high,low,medium}'::text[],
		  'at threshold 3 all four severities occur');
SELECT is((SELECT count(*)::int FROM an_series s, an_methods, pg_temp.scan(s.name, m, false, 2)
			WHERE is_anomaly AND direction IS DISTINCT FROM CASE WHEN z > 0 THEN 'spike' ELSE 'drop' END
			   OR NOT is_anomaly AND (severity IS NOT NULL OR direction IS NOT NULL)), 0,
		  'direction is spike for z > 0 and drop for z < 0; points not flagged have neither');

-- causality: a prefix of the series gets the same decisions
SELECT is((SELECT count(*)::int
			 FROM an_series s, an_methods, unnest(ARRAY[30, 55, 71, 90, 101]) p,
				  LATERAL (SELECT * FROM costopt_anomaly_scan(s.ts, s.v, m)) f
				  JOIN LATERAL (SELECT * FROM costopt_anomaly_scan(s.ts[1:p], s.v[1:p], m)) q ON q.ts = f.ts
			WHERE (f.is_anomaly, f.severity, f.direction, f.z, f.expected)
				  IS DISTINCT FROM (q.is_anomaly, q.severity, q.direction, q.z, q.expected)), 0,
		  'causality: every point of 5 prefixes of 5 series has the decision and z of the full scan (all 4 methods)');
SELECT is((SELECT count(*)::int
			 FROM an_series s, an_methods, unnest(ARRAY[45, 80]) p,
				  LATERAL (SELECT * FROM costopt_anomaly_scan(s.ts, s.v, m, 2, 14, false)) f
				  JOIN LATERAL (SELECT * FROM costopt_anomaly_scan(s.ts[1:p], s.v[1:p], m, 2, 14, false)) q ON q.ts = f.ts
			WHERE (f.is_anomaly, f.z) IS DISTINCT FROM (q.is_anomaly, q.z)), 0,
		  'causality also with window_size 14, threshold 2 and no suppression');
SELECT is((SELECT sum(cardinality(s.ts[1:p]))::int FROM an_series s, unnest(ARRAY[30, 55]) p),
		  (SELECT count(*)::int FROM an_series s, unnest(ARRAY[30, 55]) p, costopt_anomaly_scan(s.ts[1:p], s.v[1:p])),
		  'a scan returns one row per point');
-- 30 daily points, then 100 hourly ones: with an explicit window the first
-- 30 are not re-judged because finer data arrived later.  (The default
-- window and the season length follow the median spacing of the whole
-- series, which the documentation says; the seasonal method's season
-- depends on it, so it is left out here.)
SELECT setseed(0.25);
CREATE TEMP TABLE an_mixed AS
SELECT g, timestamptz '2025-01-01' + g * interval '1 day' AS ts,
	   100 + 20 * (random() - 0.5) + CASE WHEN g IN (12, 20, 27) THEN 25 ELSE 0 END AS v
  FROM generate_series(1, 30) g
UNION ALL
SELECT 30 + g, timestamptz '2025-01-31' + g * interval '1 hour', 100 + 20 * (random() - 0.5) FROM generate_series(1, 100) g;
SELECT is((SELECT count(*)::int FROM unnest(ARRAY['zscore', 'robust', 'adaptive']) m,
				  LATERAL (SELECT * FROM costopt_anomaly_scan((SELECT array_agg(ts ORDER BY g) FROM an_mixed),
															  (SELECT array_agg(v ORDER BY g) FROM an_mixed), m,
															  3.0, 14)) f
				  JOIN LATERAL (SELECT * FROM costopt_anomaly_scan((SELECT array_agg(ts ORDER BY g) FROM an_mixed WHERE g <= 30),
																   (SELECT array_agg(v ORDER BY g) FROM an_mixed WHERE g <= 30), m,
																   3.0, 14)) q
					ON q.ts = f.ts
			WHERE f.is_anomaly IS DISTINCT FROM q.is_anomaly), 0,
		  'causality with an explicit window: 30 daily points keep their decisions when 100 hourly points follow');

-- suppression: a sustained shift alarms once per window, not every day
SELECT ok((SELECT count(*) FILTER (WHERE is_anomaly) FROM pg_temp.scan('shift', 'zscore', false))
		  > (SELECT count(*) FILTER (WHERE is_anomaly) FROM pg_temp.scan('shift', 'zscore', true)),
		  'zscore: a level shift gives fewer alarms with suppress than without');
SELECT ok((SELECT count(*) FILTER (WHERE is_anomaly) FROM pg_temp.scan('shift', 'robust', false))
		  > (SELECT count(*) FILTER (WHERE is_anomaly) FROM pg_temp.scan('shift', 'robust', true)),
		  'robust: a level shift gives fewer alarms with suppress than without');
SELECT results_eq($$SELECT min(i), count(*)::int FROM pg_temp.scan('shift', 'robust', true) WHERE is_anomaly$$,
				  $$VALUES (60, 1)$$,
				  'robust with suppress: the shift on day 60 alarms exactly once, on day 60');
SELECT cmp_ok((SELECT count(*)::int FROM pg_temp.scan('shift', 'robust', false) WHERE is_anomaly), '>=', 10,
			  'robust without suppress: the shift alarms on 10 or more days');
-- a second, larger spike inside the window alarms again; a smaller one does not
SELECT results_eq($$SELECT array_agg(r.ts::date ORDER BY r.ts)
					 FROM costopt_anomaly_scan((SELECT ts FROM an_series WHERE name = 'constant'),
											   ARRAY(SELECT 100 + (g % 5) + CASE g WHEN 40 THEN 50 WHEN 45 THEN 30 WHEN 50 THEN 80 ELSE 0 END
													   FROM generate_series(0, 119) g)::float8[], 'robust') r
					WHERE r.is_anomaly$$,
				  $$VALUES ('{2025-02-10,2025-02-20}'::date[])$$,
				  'suppress: +50 on day 40 alarms, +30 on day 45 is suppressed, +80 on day 50 (larger) alarms again');

-- argument errors and NULLs
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now(), now()], '{1}')$$, '2202E', NULL,
				 'ts and value of different lengths: 2202E');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'prophet')$$, '22023',
				 'unknown anomaly detection method "prophet"', 'unknown method: 22023');
SELECT is(pg_temp.error_hint($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'prophet')$$),
		  '22023: Use zscore, robust, seasonal or adaptive.', 'unknown method: the hint names the four methods');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'zscore', 0)$$, '22023', NULL, 'threshold 0: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'zscore', -1)$$, '22023', NULL, 'threshold -1: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'zscore', 'NaN')$$, '22023', NULL, 'threshold NaN: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', 'zscore', 3, 1)$$, '22023', NULL, 'window_size 1: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now()], '{1}', NULL)$$, '22004', NULL, 'NULL method: 22004');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now(), now() + interval '1 day'], '{1, NaN}')$$, '22023', NULL,
				 'a NaN value: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now(), now() + interval '1 day'], '{1, -Infinity}')$$, '22023', NULL,
				 'a -Infinity value: 22023');
SELECT throws_ok($$SELECT * FROM costopt_anomaly_scan(ARRAY[now(), 'infinity'], '{1, 2}')$$, '22023', NULL,
				 'an infinite time: 22023');
SELECT is((SELECT count(*)::int FROM costopt_anomaly_scan('{}', '{}')), 0, 'empty arrays: no rows');
SELECT is((SELECT count(*)::int FROM costopt_anomaly_scan(NULL, '{1}')), 0, 'a NULL ts array: no rows');
-- NULL elements are skipped: the same as scanning without them
CREATE TEMP TABLE an_holes AS
SELECT ts, CASE WHEN g % 9 = 4 THEN NULL ELSE v END AS v, CASE WHEN g % 11 = 7 THEN NULL ELSE ts END AS ts2
  FROM an_noise;
SELECT results_eq($$SELECT ts, value, z, is_anomaly FROM costopt_anomaly_scan(
						(SELECT array_agg(ts2 ORDER BY ts) FROM an_holes), (SELECT array_agg(v ORDER BY ts) FROM an_holes))$$,
				  $$SELECT ts, value, z, is_anomaly FROM costopt_anomaly_scan(
						(SELECT array_agg(ts ORDER BY ts) FROM an_holes WHERE v IS NOT NULL AND ts2 IS NOT NULL),
						(SELECT array_agg(v ORDER BY ts) FROM an_holes WHERE v IS NOT NULL AND ts2 IS NOT NULL))$$,
				  'pairs with a NULL time or value are skipped: the result equals the scan without them');
SELECT results_eq($$SELECT ts, z FROM costopt_anomaly_scan(
						(SELECT array_agg(ts ORDER BY g DESC) FROM an_noise), (SELECT array_agg(v ORDER BY g DESC) FROM an_noise))$$,
				  $$SELECT ts, z FROM costopt_anomaly_scan(
						(SELECT array_agg(ts ORDER BY g) FROM an_noise), (SELECT array_agg(v ORDER BY g) FROM an_noise))$$,
				  'points are sorted by time: a reversed input gives the same rows in time order');

SELECT * FROM finish();
ROLLBACK;
