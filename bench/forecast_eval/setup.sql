-- bench/forecast_eval/setup.sql: tables, metrics view and the self-test mock
-- of the forecast evaluation harness (see README.md).  Run once per database
-- by run.sh, after CREATE EXTENSION costopt.

CREATE SCHEMA forecast_eval;

-- The daily series, one row per (series, day).
CREATE TABLE forecast_eval.series (
	series text NOT NULL,
	day date NOT NULL,
	value float8 NOT NULL,
	PRIMARY KEY (series, day)
);

-- CSV rows while loading one file.
CREATE TABLE forecast_eval.staging (date date, value float8);

-- Evaluation periods: the forecast days of every origin fall in [p_start, p_end].
CREATE TABLE forecast_eval.periods (
	series text NOT NULL,
	period text NOT NULL,			-- 'YYYY-MM-DD..YYYY-MM-DD'
	p_start date NOT NULL,
	p_end date NOT NULL,
	PRIMARY KEY (series, period)
);

-- Forecast origins: the day before the period start, then every 3 days while
-- origin + 7 <= p_end.  A method sees the days up to and including the origin.
CREATE TABLE forecast_eval.origins (
	series text NOT NULL,
	period text NOT NULL,
	origin date NOT NULL,
	PRIMARY KEY (series, period, origin)
);

-- Daily forecasts as returned by <prefix>forecast_series.
CREATE TABLE forecast_eval.daily (
	series text NOT NULL,
	period text NOT NULL,
	history int NOT NULL,
	method text NOT NULL,			-- the method asked for
	origin date NOT NULL,
	day date,
	predicted float8,
	lower float8,
	upper float8,
	chosen text						-- the method column returned
);

-- 7-day totals as returned by <prefix>forecast_series_total.
CREATE TABLE forecast_eval.total (
	series text NOT NULL,
	period text NOT NULL,
	history int NOT NULL,
	method text NOT NULL,
	origin date NOT NULL,
	first_day date,
	last_day date,
	predicted float8,
	lower float8,
	upper float8,
	chosen text
);

-- One row per (series, period, history, method) run: wall time of the
-- statement (both functions at every origin), or the error it raised.
CREATE TABLE forecast_eval.runs (
	series text NOT NULL,
	period text NOT NULL,
	history int NOT NULL,
	method text NOT NULL,
	ord int NOT NULL,				-- print order of the method
	ms float8,
	error text,
	PRIMARY KEY (series, period, history, method)
);

-- Published reference numbers (README of the data set), filled by run.sh.
CREATE TABLE forecast_eval.reference (
	series text NOT NULL,
	period text NOT NULL,
	history int NOT NULL,
	r_method text NOT NULL,
	ord int NOT NULL,
	mape_total numeric NOT NULL,	-- percent
	our_method text					-- our method fitting the same model, if any
);

-- Actual values of the 7 days after every origin, and their total.
CREATE VIEW forecast_eval.actual_totals AS
SELECT o.series, o.period, o.origin, sum(s.value) AS actual, count(s.value) AS days
  FROM forecast_eval.origins o
  LEFT JOIN forecast_eval.series s
	ON s.series = o.series AND s.day BETWEEN o.origin + 1 AND o.origin + 7
 GROUP BY o.series, o.period, o.origin;

-- Metrics per run (fractions, not percent):
--   mape_daily  mean over origin x day of |a - f| / |a|   (days with a = 0 left out)
--   mape_total  mean over origins of the same for the 7-day total
--   within5     share of origins whose total is within 5% of the actual
--   cov_daily   share of origin x day with lower <= a <= upper
--   cov_total   the same for the total
--   origins     origins with a total forecast and 7 actual days (the others
--               lack actual days: gaps in the data; the daily metrics use
--               the days that are there)
-- and sanity counts: origins with daily and with total forecasts, daily rows not on origin+1..origin+7, origins whose
-- daily forecast does not have exactly those 7 days, total rows with other
-- first/last days or more than one row per origin.
CREATE VIEW forecast_eval.metrics AS
WITH d AS (
	SELECT d.series, d.period, d.history, d.method,
		   avg(abs(s.value - d.predicted) / nullif(abs(s.value), 0)) AS mape_daily,
		   avg((s.value BETWEEN d.lower AND d.upper)::int) AS cov_daily,
		   count(DISTINCT d.origin) AS daily_origins,
		   count(*) FILTER (WHERE d.day IS NULL OR d.day NOT BETWEEN d.origin + 1 AND d.origin + 7) AS bad_daily_rows
	  FROM forecast_eval.daily d
	  LEFT JOIN forecast_eval.series s ON s.series = d.series AND s.day = d.day
	 GROUP BY d.series, d.period, d.history, d.method
), dshape AS (
	SELECT series, period, history, method,
		   count(*) FILTER (WHERE n <> 7 OR n_distinct <> 7) AS bad_daily_origins
	  FROM (SELECT series, period, history, method, origin, count(*) AS n,
				   count(DISTINCT day) FILTER (WHERE day BETWEEN origin + 1 AND origin + 7) AS n_distinct
			  FROM forecast_eval.daily
			 GROUP BY series, period, history, method, origin) x
	 GROUP BY series, period, history, method
), t AS (
	SELECT t.series, t.period, t.history, t.method,
		   count(DISTINCT t.origin) FILTER (WHERE a.days = 7) AS origins,
		   count(DISTINCT t.origin) AS total_origins,
		   avg(abs(a.actual - t.predicted) / nullif(abs(a.actual), 0)) FILTER (WHERE a.days = 7) AS mape_total,
		   avg((abs(a.actual - t.predicted) <= 0.05 * abs(a.actual))::int) FILTER (WHERE a.days = 7) AS within5,
		   avg((a.actual BETWEEN t.lower AND t.upper)::int) FILTER (WHERE a.days = 7) AS cov_total,
		   count(*) FILTER (WHERE t.first_day IS DISTINCT FROM t.origin + 1
							   OR t.last_day IS DISTINCT FROM t.origin + 7) AS bad_total_rows,
		   count(*) - count(DISTINCT t.origin) AS extra_total_rows
	  FROM forecast_eval.total t
	  JOIN forecast_eval.actual_totals a USING (series, period, origin)
	 GROUP BY t.series, t.period, t.history, t.method
)
SELECT r.series, r.period, r.history, r.method, r.ord, r.ms, r.error,
	   t.origins, d.mape_daily, t.mape_total, t.within5, d.cov_daily, t.cov_total,
	   d.daily_origins, t.total_origins, d.bad_daily_rows, ds.bad_daily_origins, t.bad_total_rows, t.extra_total_rows
  FROM forecast_eval.runs r
  LEFT JOIN d USING (series, period, history, method)
  LEFT JOIN dshape ds USING (series, period, history, method)
  LEFT JOIN t USING (series, period, history, method);

-- ---------------------------------------------------------------------------
-- Self-test mock (SELFTEST=1): weekly seasonal naive, with the same argument
-- and result types as costopt_forecast_series(_total).  Day h after the last
-- history day is forecast by the value 7*ceil(h/7) days earlier; the interval
-- adds the empirical (1-level)/2 and (1+level)/2 quantiles of the errors the
-- same forecast rule made inside the history (for the total: of the h-day
-- totals of every past origin whose horizon lies inside the history).
-- The arrays must be in day order, one element per day without gaps.
-- Only 'seasonal_naive' and 'auto' (which picks it) are known; any other
-- method raises an error, as an unknown method of the real function would.
-- ---------------------------------------------------------------------------

-- The method name the mock reports for the one it was asked for.
CREATE FUNCTION forecast_eval.mock_method(method_name text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF method_name IN ('seasonal_naive', 'auto') THEN
		RETURN 'seasonal_naive';
	END IF;
	RAISE EXCEPTION 'the self-test mock knows no method "%"', method_name
		USING ERRCODE = '22023', HINT = 'The mock implements only seasonal_naive (and auto).';
END
$$;

CREATE FUNCTION forecast_eval.mock_forecast_series(
	days date[], vals float8[], horizon_days int DEFAULT 7,
	method_name text DEFAULT 'auto', level float8 DEFAULT 0.95)
RETURNS TABLE (day date, predicted float8, lower float8, upper float8, method text)
LANGUAGE sql STABLE AS $$
	SELECT days[n.n] + h.h,
		   vals[n.n + h.h - h.lag],
		   vals[n.n + h.h - h.lag] + q.lo,
		   vals[n.n + h.h - h.lag] + q.hi,
		   n.m
	  FROM (SELECT cardinality(vals) AS n, forecast_eval.mock_method(method_name) AS m) n,
		   LATERAL (SELECT g AS h, 7 * ((g + 6) / 7) AS lag
					  FROM generate_series(1, horizon_days) g) h,
		   LATERAL (SELECT percentile_cont((1 - level) / 2) WITHIN GROUP (ORDER BY vals[i] - vals[i - h.lag]),
						   percentile_cont((1 + level) / 2) WITHIN GROUP (ORDER BY vals[i] - vals[i - h.lag])
					  FROM generate_series(h.lag + 1, n.n) i) q(lo, hi)
	 ORDER BY h.h
$$;

CREATE FUNCTION forecast_eval.mock_forecast_series_total(
	days date[], vals float8[], horizon_days int DEFAULT 7,
	method_name text DEFAULT 'auto', level float8 DEFAULT 0.95)
RETURNS TABLE (first_day date, last_day date, predicted float8, lower float8, upper float8, method text)
LANGUAGE sql STABLE AS $$
	SELECT days[n.n] + 1, days[n.n] + horizon_days, f.s, f.s + q.lo, f.s + q.hi, n.m
	  FROM (SELECT cardinality(vals) AS n, forecast_eval.mock_method(method_name) AS m) n,
		   LATERAL (SELECT sum(vals[n.n + g - 7 * ((g + 6) / 7)])
					  FROM generate_series(1, horizon_days) g) f(s),
		   -- past origins t (index of their last day): every day t+g and
		   -- its lagged day t+g-7*ceil(g/7) >= t-6 lie in 1..n
		   LATERAL (SELECT percentile_cont((1 - level) / 2) WITHIN GROUP (ORDER BY e),
						   percentile_cont((1 + level) / 2) WITHIN GROUP (ORDER BY e)
					  FROM (SELECT sum(vals[t + g] - vals[t + g - 7 * ((g + 6) / 7)]) AS e
							  FROM generate_series(7, n.n - horizon_days) t,
								   generate_series(1, horizon_days) g
							 GROUP BY t) e) q(lo, hi)
$$;
