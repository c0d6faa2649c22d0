-------------------------------------------------------------------------------
-- Statistics: aggregates, prediction, anomaly detection, forecasting
-------------------------------------------------------------------------------

CREATE TYPE costopt.stats_summary AS (
	mean    float8,
	stddev  float8,
	n       bigint,
	min     float8,
	max     float8
);

COMMENT ON TYPE costopt.stats_summary IS
	'Result of costopt_stats(): mean, sample standard deviation, count, minimum, maximum';

CREATE TYPE costopt.trend_fit AS (
	slope_per_day float8,
	intercept     float8,
	r2            float8,
	residual_sd   float8,
	n             bigint,
	t_mean        timestamptz,
	value_mean    float8,
	t_sxx         float8
);

COMMENT ON TYPE costopt.trend_fit IS
	'Result of costopt_trend(): least-squares line of value over time (slope per day; intercept at the Unix epoch, as regr_intercept over epoch seconds)';

CREATE TYPE costopt.prediction AS (
	predicted float8,
	lower     float8,
	upper     float8
);

COMMENT ON TYPE costopt.prediction IS
	'Result of costopt_predict(): a value on a fitted trend and its prediction interval';

-- costopt_stats(value) -----------------------------------------------------

CREATE FUNCTION costopt.stats_accum(float8[], float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'costopt_stats_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION costopt.stats_combine(float8[], float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'costopt_stats_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION costopt.stats_final(float8[])
RETURNS costopt.stats_summary
AS 'MODULE_PATHNAME', 'costopt_stats_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE @extschema@.costopt_stats(value float8) (
	SFUNC = costopt.stats_accum,
	STYPE = float8[],
	FINALFUNC = costopt.stats_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = costopt.stats_combine,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE @extschema@.costopt_stats(float8) IS
	'Mean, standard deviation, count, minimum and maximum of the non-null values (also a window function)';

-- costopt_trend(t, value) --------------------------------------------------

CREATE FUNCTION costopt.trend_accum(float8[], timestamptz, float8)
RETURNS float8[]
AS 'MODULE_PATHNAME', 'costopt_trend_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION costopt.trend_combine(float8[], float8[])
RETURNS float8[]
AS 'MODULE_PATHNAME', 'costopt_trend_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION costopt.trend_final(float8[])
RETURNS costopt.trend_fit
AS 'MODULE_PATHNAME', 'costopt_trend_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE @extschema@.costopt_trend(t timestamptz, value float8) (
	SFUNC = costopt.trend_accum,
	STYPE = float8[],
	FINALFUNC = costopt.trend_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = costopt.trend_combine,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE @extschema@.costopt_trend(timestamptz, float8) IS
	'Least-squares trend of value over time: slope per day, intercept, r2, residual sd, n';

CREATE FUNCTION @extschema@.costopt_predict(fit costopt.trend_fit, at timestamptz,
										   level float8 DEFAULT 0.95)
RETURNS costopt.prediction
AS 'MODULE_PATHNAME', 'costopt_predict'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.costopt_predict(costopt.trend_fit, timestamptz, float8) IS
	'Value of a costopt_trend() fit at a time, with a Student-t prediction interval';

-- Anomaly detection --------------------------------------------------------

CREATE FUNCTION @extschema@.costopt_anomaly_scan(ts timestamptz[], value float8[],
												method text DEFAULT 'zscore',
												threshold float8 DEFAULT 3.0,
												window_size integer DEFAULT NULL,
												suppress boolean DEFAULT true)
RETURNS TABLE (ts timestamptz, value float8, expected float8, z float8,
			   is_anomaly boolean, severity text, direction text)
AS 'MODULE_PATHNAME', 'costopt_anomaly_scan'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 1000;

COMMENT ON FUNCTION @extschema@.costopt_anomaly_scan(timestamptz[], float8[], text, float8, integer, boolean) IS
	'Scores every point of a series against its own past (zscore, robust, seasonal or adaptive) and flags anomalies';

-- Daily spend of an organisation in [from_day, to_day), one row per day in
-- the rollup time zone, days without spend as 0, starting at the first day
-- with spend in the range.  Includes unrefreshed changes.
CREATE FUNCTION costopt.daily_costs(org text, from_day date, to_day date)
RETURNS TABLE (day date, cost numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
BEGIN
	tz := costopt.rollup_timezone();
	RETURN QUERY
	WITH spend AS (
		SELECT (r.period_start AT TIME ZONE tz)::date AS d, sum(r.total_cost) AS c
		  FROM costopt.rollup_range(org, from_day::timestamp AT TIME ZONE tz,
									to_day::timestamp AT TIME ZONE tz, 'daily') r
		 GROUP BY 1
	)
	SELECT g::date, coalesce(s.c, 0)
	  FROM generate_series((SELECT min(d) FROM spend), to_day - 1, interval '1 day') g
	  LEFT JOIN spend s ON s.d = g::date
	 ORDER BY 1;
END;
$$;

COMMENT ON FUNCTION costopt.daily_costs(text, date, date) IS
	'Daily spend of an organisation (rollup time zone), zero-filled from its first day with spend';

-- Today in the rollup time zone.
CREATE FUNCTION costopt.rollup_today()
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (now() AT TIME ZONE costopt.rollup_timezone())::date
$$;

COMMENT ON FUNCTION costopt.rollup_today() IS 'The current date in the rollup time zone';

CREATE FUNCTION @extschema@.costopt_detect_anomalies(organization_id text,
													days integer DEFAULT 30,
													threshold float8 DEFAULT 3.0,
													granularity text DEFAULT 'day',
													method text DEFAULT 'zscore')
RETURNS TABLE (bucket timestamptz, actual numeric, expected numeric, z float8,
			   severity text, direction text, driver_model text, driver_user text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	step interval;
	lookback interval;
	grain text;
	win integer;
	range_end timestamptz;
	range_start timestamptz;
	report_from timestamptz;
BEGIN
	PERFORM costopt.require_organization(costopt_detect_anomalies.organization_id);
	IF organization_id IS NULL OR days IS NULL OR threshold IS NULL OR granularity IS NULL
	   OR method IS NULL THEN
		RAISE EXCEPTION 'arguments of costopt_detect_anomalies must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF days < 1 OR days > 3650 THEN
		RAISE EXCEPTION 'days must be between 1 and 3650, not %', days
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF granularity NOT IN ('hour', 'day') THEN
		RAISE EXCEPTION 'unknown granularity "%"', granularity
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use hour or day.';
	END IF;
	tz := costopt.rollup_timezone();
	IF granularity = 'day' THEN
		step := interval '1 day'; lookback := interval '56 days'; grain := 'daily'; win := 28;
	ELSE
		step := interval '1 hour'; lookback := interval '14 days'; grain := 'hourly'; win := 24;
	END IF;
	-- whole buckets only: the current one is still filling up
	range_end := date_trunc(granularity, now(), tz);
	report_from := costopt.tz_add(range_end, -days * step, tz);
	range_start := costopt.tz_add(report_from, -lookback, tz);

	RETURN QUERY
	WITH rows AS (
		SELECT r.period_start AS b, r.user_id AS u, r.model_name AS m, r.total_cost AS c
		  FROM costopt.rollup_range(costopt_detect_anomalies.organization_id,
									range_start, range_end, grain) r
	), per_bucket AS (
		SELECT g AS b, coalesce(sum(r.c), 0) AS c
		  FROM generate_series((SELECT min(r2.b) FROM rows r2), range_end - step, step) g
		  LEFT JOIN rows r ON r.b = g
		 GROUP BY g
	), scan AS (
		SELECT s.*
		  FROM @extschema@.costopt_anomaly_scan((SELECT array_agg(p.b ORDER BY p.b) FROM per_bucket p),
									(SELECT array_agg(p.c::float8 ORDER BY p.b) FROM per_bucket p),
									method, threshold, win, true) s
		 WHERE s.is_anomaly AND s.ts >= report_from
	)
	SELECT s.ts, round(s.value::numeric, 6), round(s.expected::numeric, 6), s.z,
		   s.severity, s.direction,
		   (SELECT d.key FROM costopt.anomaly_drivers(rows_b.b, rows_b.u, rows_b.m, rows_b.c,
													   s.ts, win, step, sign(s.z)::integer, 'model') d),
		   (SELECT d.key FROM costopt.anomaly_drivers(rows_b.b, rows_b.u, rows_b.m, rows_b.c,
													   s.ts, win, step, sign(s.z)::integer, 'user') d)
	  FROM scan s,
		   LATERAL (SELECT array_agg(r.b) AS b, array_agg(r.u) AS u, array_agg(r.m) AS m,
						   array_agg(r.c) AS c
					  FROM rows r
					 WHERE r.b <= s.ts AND r.b >= s.ts - win * step) rows_b
	 ORDER BY s.ts;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_detect_anomalies(text, integer, float8, text, text) IS
	'Anomalous days or hours of an organisation''s spend, with the model and user that drove each';

-- The model or user whose spend in bucket at moved most in the anomaly's
-- direction compared with its mean over the win buckets before.
CREATE FUNCTION costopt.anomaly_drivers(b timestamptz[], u text[], m text[], c numeric[],
										at timestamptz, win integer, step interval,
										dir integer, dimension text)
RETURNS TABLE (key text, deviation numeric)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT x.k, sum(CASE WHEN x.b = at THEN x.c ELSE -x.c / win END) AS dev
	  FROM unnest(b, CASE WHEN dimension = 'model' THEN m ELSE u END, c) AS x(b, k, c)
	 WHERE x.k IS NOT NULL
	 GROUP BY x.k
	 ORDER BY dir * sum(CASE WHEN x.b = at THEN x.c ELSE -x.c / win END) DESC, x.k
	 LIMIT 1
$$;

COMMENT ON FUNCTION costopt.anomaly_drivers(timestamptz[], text[], text[], numeric[], timestamptz, integer, interval, integer, text) IS
	'The key of a dimension that contributed most to an anomaly';

-- Forecasting --------------------------------------------------------------

CREATE TYPE costopt.forecast_result AS (
	method               text,
	first_day            date,
	total                float8,
	total_lower          float8,
	total_upper          float8,
	predicted            float8[],
	lower                float8[],
	upper                float8[],
	accuracy             float8,
	history_days         integer,
	seasonality_strength float8,
	trend_direction      text,
	trend_strength       float8
);

COMMENT ON TYPE costopt.forecast_result IS
	'Everything one forecast computes: per-day values and intervals, the period total, the method and diagnostics';

CREATE FUNCTION costopt.forecast_summary(day date[], value float8[], horizon_days integer,
										 method text, level float8)
RETURNS costopt.forecast_result
AS 'MODULE_PATHNAME', 'costopt_forecast_summary'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION costopt.forecast_summary(date[], float8[], integer, text, float8) IS
	'Forecast of a daily series (the engine behind the costopt_forecast functions)';

CREATE FUNCTION @extschema@.costopt_forecast_series(day date[], value float8[],
												   horizon_days integer DEFAULT 7,
												   method text DEFAULT 'auto',
												   level float8 DEFAULT 0.95)
RETURNS TABLE (day date, predicted float8, lower float8, upper float8, method text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.first_day + (i - 1), r.predicted[i], r.lower[i], r.upper[i], r.method
	  FROM costopt.forecast_summary($1, $2, $3, $4, $5) r,
		   generate_subscripts(r.predicted, 1) i
	 ORDER BY i
$$;

COMMENT ON FUNCTION @extschema@.costopt_forecast_series(date[], float8[], integer, text, float8) IS
	'Forecast of any daily series: one row per future day with its prediction interval';

CREATE FUNCTION @extschema@.costopt_forecast_series_total(day date[], value float8[],
														 horizon_days integer DEFAULT 7,
														 method text DEFAULT 'auto',
														 level float8 DEFAULT 0.95)
RETURNS TABLE (first_day date, last_day date, predicted float8, lower float8, upper float8,
			   method text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.first_day, r.first_day + ($3 - 1), r.total, r.total_lower, r.total_upper, r.method
	  FROM costopt.forecast_summary($1, $2, $3, $4, $5) r
	 WHERE r.method IS NOT NULL
$$;

COMMENT ON FUNCTION @extschema@.costopt_forecast_series_total(date[], float8[], integer, text, float8) IS
	'Total of a daily series over the next horizon_days days, with its prediction interval';

-- The forecast of an organisation's daily spend from up to a year of
-- complete days (yesterday is the last), starting today.
CREATE FUNCTION costopt.org_forecast(org text, horizon_days integer, method text, level float8)
RETURNS costopt.forecast_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	today date := costopt.rollup_today();
	days date[];
	vals float8[];
	result costopt.forecast_result;
BEGIN
	PERFORM costopt.require_organization(org);
	IF org IS NULL THEN
		RAISE EXCEPTION 'organization_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT array_agg(d.day ORDER BY d.day), array_agg(d.cost::float8 ORDER BY d.day)
	  INTO days, vals
	  FROM costopt.daily_costs(org, today - 365, today) d;
	IF days IS NULL THEN
		-- validates the arguments and says there is nothing to forecast
		PERFORM costopt.forecast_summary('{}', '{}', horizon_days, method, level);
		RETURN NULL;
	END IF;
	result := costopt.forecast_summary(days, vals, horizon_days, method, level);
	RETURN result;
END;
$$;

COMMENT ON FUNCTION costopt.org_forecast(text, integer, text, float8) IS
	'Forecast of an organisation''s daily spend from its last year of complete days';

CREATE FUNCTION @extschema@.costopt_forecast(organization_id text,
											horizon_days integer DEFAULT 7,
											method text DEFAULT 'auto',
											level float8 DEFAULT 0.95)
RETURNS TABLE (day date, predicted_cost numeric, lower_bound numeric, upper_bound numeric,
			   method text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.first_day + (i - 1), round(r.predicted[i]::numeric, 6),
		   round(r.lower[i]::numeric, 6), round(r.upper[i]::numeric, 6), r.method
	  FROM costopt.org_forecast($1, $2, $3, $4) r,
		   generate_subscripts(r.predicted, 1) i
	 ORDER BY i
$$;

COMMENT ON FUNCTION @extschema@.costopt_forecast(text, integer, text, float8) IS
	'Forecast of an organisation''s daily spend from today, with prediction intervals';

CREATE FUNCTION @extschema@.costopt_forecast_total(organization_id text,
												  horizon_days integer DEFAULT 7,
												  method text DEFAULT 'auto',
												  level float8 DEFAULT 0.95)
RETURNS TABLE (first_day date, last_day date, predicted_cost numeric, lower_bound numeric,
			   upper_bound numeric, method text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.first_day, r.first_day + ($2 - 1), round(r.total::numeric, 6),
		   round(r.total_lower::numeric, 6), round(r.total_upper::numeric, 6), r.method
	  FROM costopt.org_forecast($1, $2, $3, $4) r
	 WHERE r.method IS NOT NULL
$$;

COMMENT ON FUNCTION @extschema@.costopt_forecast_total(text, integer, text, float8) IS
	'An organisation''s total spend over the next horizon_days days, with its prediction interval';

-- Stored forecasts ---------------------------------------------------------

-- A forecast figure as stored: rounded to micro-dollars and kept within
-- numeric(18,6) (an interval from a short or erratic history can be wider
-- than that, and one organisation's must not stop everyone's forecasts).
CREATE FUNCTION costopt.forecast_money(x float8)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN x IS NULL OR x = 'NaN' THEN NULL
				ELSE round(least(greatest(x, -999999999999), 999999999999)::numeric, 6) END
$$;
COMMENT ON FUNCTION costopt.forecast_money(float8) IS
	'A forecast figure rounded to 6 decimals and capped at +/- 10^12 USD for storage';

CREATE TABLE costopt.cost_forecasts (
	id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	organization_id        text NOT NULL,
	budget_id              bigint,
	forecast_date          date NOT NULL,
	forecast_horizon_days  integer NOT NULL,
	predicted_cost         numeric(18, 6) NOT NULL,
	confidence_lower       numeric(18, 6),
	confidence_upper       numeric(18, 6),
	confidence_level       numeric(3, 2) NOT NULL DEFAULT 0.95,
	forecast_model         text NOT NULL,
	model_accuracy         numeric(5, 4),
	historical_days_used   integer,
	seasonality_detected   boolean NOT NULL DEFAULT false,
	seasonality_strength   numeric(5, 4),
	trend_direction        text,
	trend_strength         numeric(5, 4),
	daily_predicted        numeric[] NOT NULL,
	daily_lower            numeric[],
	daily_upper            numeric[],
	budget_exhaustion_date date,
	days_until_exhaustion  integer,
	created_at             timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT cost_forecasts_horizon_check
		CHECK (forecast_horizon_days BETWEEN 1 AND 365),
	CONSTRAINT cost_forecasts_daily_check
		CHECK (cardinality(daily_predicted) = forecast_horizon_days),
	CONSTRAINT cost_forecasts_bounds_check
		CHECK (confidence_lower <= predicted_cost AND predicted_cost <= confidence_upper),
	CONSTRAINT cost_forecasts_trend_check
		CHECK (trend_direction IN ('increasing', 'decreasing', 'stable')),
	CONSTRAINT cost_forecasts_key UNIQUE NULLS NOT DISTINCT
		(organization_id, budget_id, forecast_date, forecast_horizon_days)
);
CREATE INDEX cost_forecasts_org_date_idx
	ON costopt.cost_forecasts (organization_id, forecast_date DESC);
CREATE INDEX cost_forecasts_exhaustion_idx
	ON costopt.cost_forecasts (budget_exhaustion_date) WHERE budget_exhaustion_date IS NOT NULL;
-- Dumped: stored forecasts are history (a rerun recomputes only the current
-- day's), with the id sequence so that new forecasts continue after the
-- restored ids.
SELECT pg_catalog.pg_extension_config_dump('costopt.cost_forecasts', '');
SELECT pg_catalog.pg_extension_config_dump('costopt.cost_forecasts_id_seq', '');

COMMENT ON TABLE costopt.cost_forecasts IS
	'Stored spend forecasts, one per organisation (and budget), first forecast day and horizon';

-- Forecasts every organisation with spend in the last year, for each
-- horizon, and stores them (a rerun on the same day replaces that day's
-- rows).  Returns the number of rows written.
CREATE FUNCTION @extschema@.costopt_run_forecasts(horizons integer[] DEFAULT '{7,30}',
												 level float8 DEFAULT 0.95)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
	tz text;
	today date;
	written bigint;
BEGIN
	IF horizons IS NULL OR cardinality(horizons) = 0 OR level IS NULL THEN
		RAISE EXCEPTION 'horizons and level must not be null or empty'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- validates each horizon and the level once, before the work
	PERFORM costopt.forecast_summary('{}', '{}', h, 'auto', level) FROM unnest(horizons) h;
	PERFORM @extschema@.costopt_refresh_rollups();
	tz := costopt.rollup_timezone();
	today := (now() AT TIME ZONE tz)::date;

	WITH spend AS (
		SELECT c.organization_id AS org, (c.period_start AT TIME ZONE tz)::date AS d,
			   sum(c.total_cost)::float8 AS v
		  FROM costopt.cost_analysis c
		 WHERE c.period_type = 'daily'
		   AND c.period_start >= (today - 365)::timestamp AT TIME ZONE tz
		   AND c.period_start < today::timestamp AT TIME ZONE tz
		 GROUP BY 1, 2
	), series AS (
		SELECT f.org, array_agg(g::date ORDER BY g) AS days,
			   array_agg(coalesce(s.v, 0) ORDER BY g) AS vals
		  FROM (SELECT org, min(d) AS first FROM spend GROUP BY org) f
		 CROSS JOIN LATERAL generate_series(f.first, today - 1, interval '1 day') g
		  LEFT JOIN spend s ON s.org = f.org AND s.d = g::date
		 GROUP BY f.org
	)
	-- the forecast is a function in FROM, so it runs once per organisation
	-- and horizon (a (f(...)).field per column would run it per column)
	INSERT INTO costopt.cost_forecasts AS cf
		(organization_id, forecast_date, forecast_horizon_days, predicted_cost,
		 confidence_lower, confidence_upper, confidence_level, forecast_model, model_accuracy,
		 historical_days_used, seasonality_detected, seasonality_strength, trend_direction,
		 trend_strength, daily_predicted, daily_lower, daily_upper)
	SELECT s.org, r.first_day, h, costopt.forecast_money(r.total),
		   costopt.forecast_money(r.total_lower), costopt.forecast_money(r.total_upper),
		   level, r.method, round(r.accuracy::numeric, 4), r.history_days,
		   r.seasonality_strength >= 0.4, round(r.seasonality_strength::numeric, 4),
		   r.trend_direction, round(r.trend_strength::numeric, 4),
		   ARRAY(SELECT costopt.forecast_money(x) FROM unnest(r.predicted) WITH ORDINALITY u(x, i) ORDER BY i),
		   ARRAY(SELECT costopt.forecast_money(x) FROM unnest(r.lower) WITH ORDINALITY u(x, i) ORDER BY i),
		   ARRAY(SELECT costopt.forecast_money(x) FROM unnest(r.upper) WITH ORDINALITY u(x, i) ORDER BY i)
	  FROM series s
	 CROSS JOIN unnest(horizons) h
	 CROSS JOIN LATERAL costopt.forecast_summary(s.days, s.vals, h, 'auto', level) r
	 WHERE r.method IS NOT NULL
	ON CONFLICT ON CONSTRAINT cost_forecasts_key DO UPDATE
	   SET predicted_cost = excluded.predicted_cost,
		   confidence_lower = excluded.confidence_lower,
		   confidence_upper = excluded.confidence_upper,
		   confidence_level = excluded.confidence_level,
		   forecast_model = excluded.forecast_model,
		   model_accuracy = excluded.model_accuracy,
		   historical_days_used = excluded.historical_days_used,
		   seasonality_detected = excluded.seasonality_detected,
		   seasonality_strength = excluded.seasonality_strength,
		   trend_direction = excluded.trend_direction,
		   trend_strength = excluded.trend_strength,
		   daily_predicted = excluded.daily_predicted,
		   daily_lower = excluded.daily_lower,
		   daily_upper = excluded.daily_upper,
		   created_at = now();
	GET DIAGNOSTICS written = ROW_COUNT;
	RETURN written;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_run_forecasts(integer[], float8) IS
	'Forecasts every organisation''s spend for each horizon and stores the forecasts in costopt.cost_forecasts';

-- How stored forecasts of an organisation made in the last `days` days
-- compare with what was then spent (forecasts whose period has ended).
CREATE FUNCTION @extschema@.costopt_forecast_accuracy(organization_id text,
													 days integer DEFAULT 30)
RETURNS TABLE (horizon_days integer, forecasts bigint, mape_total numeric,
			   coverage_total numeric, mape_daily numeric, coverage_daily numeric,
			   bias_pct numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	today date := costopt.rollup_today();
BEGIN
	PERFORM costopt.require_organization(costopt_forecast_accuracy.organization_id);
	IF organization_id IS NULL OR days IS NULL THEN
		RAISE EXCEPTION 'organization_id and days must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF days < 1 THEN
		RAISE EXCEPTION 'days must be positive, not %', days
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH f AS (
		SELECT cf.*
		  FROM costopt.cost_forecasts cf
		 WHERE cf.organization_id = costopt_forecast_accuracy.organization_id
		   AND cf.budget_id IS NULL
		   AND cf.forecast_date >= today - days
		   AND cf.forecast_date + cf.forecast_horizon_days <= today
	), actual AS (
		SELECT d.day, d.cost
		  FROM costopt.daily_costs(costopt_forecast_accuracy.organization_id,
								   (SELECT min(f.forecast_date) FROM f), today) d
	), per_day AS (
		SELECT f.id, f.forecast_horizon_days AS h, f.predicted_cost, f.confidence_lower,
			   f.confidence_upper, x.p, x.lo, x.hi, coalesce(a.cost, 0) AS act
		  FROM f CROSS JOIN LATERAL unnest(f.daily_predicted, f.daily_lower, f.daily_upper)
						WITH ORDINALITY AS x(p, lo, hi, i)
		  LEFT JOIN actual a ON a.day = f.forecast_date + (x.i::integer - 1)
	), per_forecast AS (
		SELECT pd.id, pd.h, min(pd.predicted_cost) AS pred, min(pd.confidence_lower) AS lo,
			   min(pd.confidence_upper) AS hi, sum(pd.act) AS act,
			   avg(abs(pd.act - pd.p) / nullif(pd.act, 0)) AS mape_d,
			   avg(CASE WHEN pd.lo IS NULL THEN NULL
						WHEN pd.act BETWEEN pd.lo AND pd.hi THEN 1 ELSE 0 END) AS cov_d
		  FROM per_day pd
		 GROUP BY pd.id, pd.h
	)
	SELECT p.h, count(*),
		   round(100 * avg(abs(p.act - p.pred) / nullif(p.act, 0)), 2),
		   round(100 * avg(CASE WHEN p.lo IS NULL THEN NULL
								WHEN p.act BETWEEN p.lo AND p.hi THEN 1 ELSE 0 END), 1),
		   round(100 * avg(p.mape_d), 2),
		   round(100 * avg(p.cov_d), 1),
		   round(100 * (sum(p.pred) - sum(p.act)) / nullif(sum(p.act), 0), 2)
	  FROM per_forecast p
	 GROUP BY p.h
	 ORDER BY p.h;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_forecast_accuracy(text, integer) IS
	'Scores an organisation''s stored forecasts against actual spend: MAPE, interval coverage, bias';
