-- costopt 0.1.0 -> 0.2.0
--
-- Recommendations and savings opportunities, chargeback and invoices, roles
-- and row-level security; organisation checks in the functions that take an
-- organisation; the budget watermark through a SECURITY DEFINER function.
-- Written once for the release and frozen with it: later changes go into
-- the next upgrade script.

\echo Use "ALTER EXTENSION costopt UPDATE TO '0.2.0'" to load this file. \quit

-- new in 0.2.0 (00_schema.sql)
CREATE FUNCTION costopt.add_usage_indexes(part regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- PostgreSQL names them, as it did when they came from the parent:
	-- <partition>_pkey, _organization_id_created_at_idx, _created_at_idx
	-- (BRIN), _created_at_idx1 (unpriced calls)
	EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (id, created_at)', part);
	EXECUTE format('CREATE INDEX ON %s (organization_id, created_at)', part);
	EXECUTE format('CREATE INDEX ON %s USING brin (created_at)', part);
	EXECUTE format($i$CREATE INDEX ON %s (created_at) WHERE cost_status = 'unpriced'$i$, part);
END;
$$;
COMMENT ON FUNCTION costopt.add_usage_indexes(regclass) IS
	'Makes the primary key and indexes of the usage log on one of its partitions';

-- changed in 0.2.0 (30_functions.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_monthly_projection(daily_requests numeric,
													   avg_input_tokens numeric,
													   avg_output_tokens numeric,
													   model text,
													   avg_cached_tokens numeric DEFAULT 0,
													   provider text DEFAULT NULL,
													   days_per_month numeric DEFAULT 30)
RETURNS TABLE (catalog_provider text, catalog_model text, cost_per_request numeric,
			   daily_cost numeric, monthly_cost numeric, yearly_cost numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v costopt.model_pricing;
	per_request numeric;
BEGIN
	IF daily_requests IS NULL OR avg_input_tokens IS NULL OR avg_output_tokens IS NULL
	   OR avg_cached_tokens IS NULL OR model IS NULL OR days_per_month IS NULL THEN
		RAISE EXCEPTION 'arguments must not be null (provider may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- x < 'Infinity' is false for NaN and Infinity alike
	IF daily_requests < 0 OR avg_input_tokens < 0 OR avg_output_tokens < 0
	   OR avg_cached_tokens < 0 OR avg_cached_tokens > avg_input_tokens
	   OR NOT (daily_requests < 'Infinity' AND avg_input_tokens < 'Infinity'
			   AND avg_output_tokens < 'Infinity' AND avg_cached_tokens < 'Infinity') THEN
		RAISE EXCEPTION 'request and token averages must be finite and non-negative, cached at most input'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('daily_requests %s, avg_input_tokens %s, avg_output_tokens %s, avg_cached_tokens %s.',
								  daily_requests, avg_input_tokens, avg_output_tokens, avg_cached_tokens);
	END IF;
	IF days_per_month <= 0 OR days_per_month > 31 THEN
		RAISE EXCEPTION 'days_per_month must be in (0, 31]'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO v FROM costopt.price_at(provider, model, now());
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no price for model "%"', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add a price to costopt.model_pricing or an alias to costopt.model_aliases.';
	END IF;

	per_request := costopt.version_cost(v, avg_input_tokens, avg_output_tokens,
										avg_cached_tokens, 0);
	catalog_provider := v.provider;
	catalog_model := v.model_name;
	cost_per_request := per_request;
	daily_cost := per_request * daily_requests;
	monthly_cost := daily_cost * days_per_month;
	yearly_cost := daily_cost * 365;
	RETURN NEXT;
END;
$$;

-- new in 0.2.0 (65_rollup_reads.sql)
CREATE FUNCTION costopt.check_period(org text, from_time timestamptz, to_time timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM costopt.require_organization(org);
	IF org IS NULL OR from_time IS NULL OR to_time IS NULL THEN
		RAISE EXCEPTION 'organization_id, from_time and to_time must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF from_time >= to_time THEN
		RAISE EXCEPTION 'from_time must be earlier than to_time'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('from_time is %s, to_time is %s.', from_time, to_time);
	END IF;
	IF NOT isfinite(from_time) OR NOT isfinite(to_time) THEN
		RAISE EXCEPTION 'from_time and to_time must be finite'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('from_time is %s, to_time is %s.', from_time, to_time);
	END IF;
END;
$$;
COMMENT ON FUNCTION costopt.check_period(text, timestamptz, timestamptz) IS
	'Validates an organisation and a time range (42501, 22004, 22023)';

-- changed in 0.2.0 (65_rollup_reads.sql)
CREATE OR REPLACE FUNCTION costopt.check_range(org text, INOUT from_time timestamptz,
									INOUT to_time timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM costopt.check_period(org, from_time, to_time);
	from_time := date_trunc('hour', from_time, 'UTC');
	IF date_trunc('hour', to_time, 'UTC') <> to_time THEN
		to_time := date_trunc('hour', to_time, 'UTC') + interval '1 hour';
	END IF;
END;
$$;

-- changed in 0.2.0 (65_rollup_reads.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_breakdown(organization_id text,
											  dimension text DEFAULT 'model',
											  days integer DEFAULT 30)
RETURNS TABLE (group_key text, requests bigint, total_cost numeric, pct_of_cost numeric,
			   cost_per_request numeric, total_tokens bigint, error_count bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	t timestamptz;
BEGIN
	PERFORM costopt.require_organization(costopt_breakdown.organization_id);
	IF dimension IS NULL OR dimension NOT IN ('model', 'user', 'provider') THEN
		RAISE EXCEPTION 'unknown dimension "%"', dimension
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use model, user or provider.';
	END IF;
	IF days IS NULL OR days < 1 OR days > 3660 THEN
		RAISE EXCEPTION 'days must be between 1 and 3660'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('days is %s.', days);
	END IF;
	tz := costopt.rollup_timezone();
	t := costopt.tz_add(date_trunc('day', now(), tz), interval '1 day', tz);
	RETURN QUERY
	SELECT a.group_key, a.requests, a.total_cost, a.pct_of_cost, a.cost_per_request,
		   a.input_tokens + a.output_tokens, a.error_count
	  FROM @extschema@.costopt_cost_analysis(organization_id,
											 costopt.tz_add(t, -days * interval '1 day', tz),
											 t, dimension) a
	 WHERE NOT a.is_total;
END;
$$;

-- changed in 0.2.0 (65_rollup_reads.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_trends(organization_id text,
										   metric text DEFAULT 'total_cost',
										   days integer DEFAULT 30,
										   granularity text DEFAULT 'day')
RETURNS TABLE (period_start timestamptz, value numeric, trend_direction text,
			   change_pct numeric, slope_per_period numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	step interval;
	field text;
	f timestamptz;
	t timestamptz;
BEGIN
	PERFORM costopt.require_organization(costopt_trends.organization_id);
	IF organization_id IS NULL THEN
		RAISE EXCEPTION 'organization_id must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF metric IS NULL OR metric NOT IN ('total_cost', 'requests', 'tokens', 'input_tokens',
										'output_tokens', 'error_count', 'error_rate',
										'avg_latency_ms', 'cost_per_request') THEN
		RAISE EXCEPTION 'unknown metric "%"', metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use total_cost, requests, tokens, input_tokens, output_tokens, error_count, error_rate, avg_latency_ms or cost_per_request.';
	END IF;
	IF granularity IS NULL OR granularity NOT IN ('hour', 'day', 'week', 'month') THEN
		RAISE EXCEPTION 'unknown granularity "%"', granularity
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use hour, day, week or month.';
	END IF;
	IF days IS NULL OR days < 1 OR days > 3660 THEN
		RAISE EXCEPTION 'days must be between 1 and 3660'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('days is %s.', days);
	END IF;
	tz := costopt.rollup_timezone();
	-- hours are absolute (a local hour can repeat or be skipped); days, weeks
	-- and months follow the rollup time zone's calendar
	IF granularity = 'hour' THEN
		tz := 'UTC';
	END IF;
	step := CASE granularity WHEN 'hour' THEN interval '1 hour' WHEN 'day' THEN interval '1 day'
							 WHEN 'week' THEN interval '7 days' ELSE interval '1 month' END;
	t := costopt.tz_add(date_trunc(granularity, now(), tz), step, tz);
	f := date_trunc(granularity, costopt.tz_add(now(), -days * interval '1 day', tz), tz);

	RETURN QUERY
	WITH slots AS (
		SELECT s AS ps, row_number() OVER (ORDER BY s) AS i
		  FROM generate_series(f AT TIME ZONE tz, t AT TIME ZONE tz - step, step) g(s0),
			   LATERAL (SELECT g.s0 AT TIME ZONE tz AS s) x
	), data AS (
		SELECT date_trunc(granularity, r.period_start, tz) AS ps,
			   sum(r.requests) AS requests, sum(r.total_cost) AS cost,
			   sum(r.input_tokens) AS inp, sum(r.output_tokens) AS outp,
			   sum(r.error_count) AS errors, sum(r.latency_sum) AS lat_sum,
			   sum(r.latency_count) AS lat_n
		  FROM costopt.rollup_range(costopt_trends.organization_id, f, t,
									CASE granularity WHEN 'hour' THEN 'hourly' WHEN 'month' THEN 'monthly'
													 ELSE 'daily' END) r
		 GROUP BY 1
	), series AS (
		SELECT s.ps, s.i,
			   CASE metric
				   WHEN 'total_cost' THEN coalesce(d.cost, 0)
				   WHEN 'requests' THEN coalesce(d.requests, 0)
				   WHEN 'tokens' THEN coalesce(d.inp + d.outp, 0)
				   WHEN 'input_tokens' THEN coalesce(d.inp, 0)
				   WHEN 'output_tokens' THEN coalesce(d.outp, 0)
				   WHEN 'error_count' THEN coalesce(d.errors, 0)
				   WHEN 'error_rate' THEN coalesce(round(d.errors / nullif(d.requests, 0), 4), 0)
				   WHEN 'avg_latency_ms' THEN coalesce(round(d.lat_sum / nullif(d.lat_n, 0), 1), 0)
				   ELSE coalesce(round(d.cost / nullif(d.requests, 0), 8), 0)
			   END AS v
		  FROM slots s LEFT JOIN data d ON d.ps = s.ps
	), summary AS (
		SELECT avg(v) FILTER (WHERE i <= n / 2) AS first_half,
			   avg(v) FILTER (WHERE i > n - n / 2) AS second_half,
			   regr_slope(v::float8, i::float8) AS slope
		  FROM series, (SELECT count(*) AS n FROM slots) c
	)
	SELECT se.ps, se.v,
		   CASE WHEN su.first_half IS NULL OR su.first_half = 0 THEN
					CASE WHEN coalesce(su.second_half, 0) > 0 THEN 'increasing' ELSE 'stable' END
				WHEN (su.second_half - su.first_half) / su.first_half > 0.05 THEN 'increasing'
				WHEN (su.second_half - su.first_half) / su.first_half < -0.05 THEN 'decreasing'
				ELSE 'stable' END,
		   round(100 * (su.second_half - su.first_half) / nullif(su.first_half, 0), 2),
		   round(su.slope::numeric, 10)
	  FROM series se, summary su
	 ORDER BY se.ps;
END;
$$;

-- changed in 0.2.0 (65_rollup_reads.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_top_cost_drivers(organization_id text,
													 days integer DEFAULT 30,
													 n integer DEFAULT 10)
RETURNS TABLE (rank integer, user_id text, provider text, model_name text, requests bigint,
			   total_cost numeric, pct_of_cost numeric, previous_cost numeric,
			   change_pct numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	t timestamptz;
BEGIN
	PERFORM costopt.require_organization(costopt_top_cost_drivers.organization_id);
	IF days IS NULL OR days < 1 OR days > 1830 THEN
		RAISE EXCEPTION 'days must be between 1 and 1830'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('days is %s.', days);
	END IF;
	IF n IS NULL OR n < 1 THEN
		RAISE EXCEPTION 'n must be at least 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF organization_id IS NULL THEN
		RAISE EXCEPTION 'organization_id must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	tz := costopt.rollup_timezone();
	t := costopt.tz_add(date_trunc('day', now(), tz), interval '1 day', tz);

	RETURN QUERY
	WITH cur AS (
		SELECT r.user_id, r.provider, r.model_name, sum(r.requests) AS requests,
			   sum(r.total_cost) AS cost
		  FROM costopt.rollup_range(costopt_top_cost_drivers.organization_id,
									costopt.tz_add(t, -days * interval '1 day', tz), t, 'daily') r
		 GROUP BY 1, 2, 3
	), prev AS (
		SELECT r.user_id, r.provider, r.model_name, sum(r.total_cost) AS cost
		  FROM costopt.rollup_range(costopt_top_cost_drivers.organization_id,
									costopt.tz_add(t, -2 * days * interval '1 day', tz),
									costopt.tz_add(t, -days * interval '1 day', tz), 'daily') r
		 GROUP BY 1, 2, 3
	)
	SELECT (row_number() OVER (ORDER BY c.cost DESC, c.requests DESC, c.user_id, c.model_name))::integer,
		   c.user_id, c.provider, c.model_name, c.requests::bigint, c.cost,
		   round(100 * c.cost / nullif(sum(c.cost) OVER (), 0), 2),
		   coalesce(p.cost, 0),
		   round(100 * (c.cost - p.cost) / nullif(p.cost, 0), 2)
	  FROM cur c
	  LEFT JOIN prev p ON p.user_id IS NOT DISTINCT FROM c.user_id
					  AND p.provider IS NOT DISTINCT FROM c.provider
					  AND p.model_name = c.model_name
	 ORDER BY 1
	 LIMIT n;
END;
$$;

-- changed in 0.2.0 (70_retention.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_create_partitions(ahead interval DEFAULT '3 months',
													  OUT created integer, OUT skipped integer)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m timestamptz;
	last_month timestamptz;
	part_name text;
BEGIN
	created := 0;
	skipped := 0;
	IF ahead IS NULL OR ahead < interval '0' OR ahead > interval '10 years' THEN
		RAISE EXCEPTION 'ahead must be between 0 and 10 years'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('ahead is %s.', ahead);
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('costopt.partitions'));
	m := date_trunc('month', now(), 'UTC');
	last_month := date_trunc('month', now() + ahead, 'UTC');
	WHILE m <= last_month LOOP
		part_name := 'api_usage_logs_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM');
		IF to_regclass('costopt.' || part_name) IS NULL THEN
			BEGIN
				EXECUTE format('CREATE TABLE costopt.%I PARTITION OF costopt.api_usage_logs FOR VALUES FROM (%L) TO (%L)',
							   part_name, m, (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
				-- the log's key and indexes live on each partition, so that
				-- a dump restores (see costopt.add_usage_indexes)
				PERFORM costopt.add_usage_indexes(format('costopt.%I', part_name)::regclass);
				created := created + 1;
			EXCEPTION WHEN check_violation OR invalid_object_definition THEN
				RAISE WARNING 'partition "%" not created: %', part_name, SQLERRM
					USING HINT = 'Calls of that month are in the default partition, or another partition covers it.';
				skipped := skipped + 1;
			END;
		END IF;
		m := (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
	END LOOP;
END;
$$;

-- changed in 0.2.0 (80_statistics.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_detect_anomalies(organization_id text,
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

-- changed in 0.2.0 (80_statistics.sql)
CREATE OR REPLACE FUNCTION costopt.org_forecast(org text, horizon_days integer, method text, level float8)
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

-- new in 0.2.0 (80_statistics.sql)
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

-- changed in 0.2.0 (80_statistics.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_run_forecasts(horizons integer[] DEFAULT '{7,30}',
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

-- changed in 0.2.0 (80_statistics.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_forecast_accuracy(organization_id text,
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

-- new in 0.2.0 (85_budgets.sql)
CREATE FUNCTION costopt.budget_watermark()
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT min(b.period_start) FROM costopt.budgets b WHERE b.is_active
$$;
COMMENT ON FUNCTION costopt.budget_watermark() IS
	'Earliest period start of any active budget (all organisations); read by the capture trigger';

-- changed in 0.2.0 (85_budgets.sql)
CREATE OR REPLACE FUNCTION costopt.budget_prepare()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	i integer;
	p record;
	t costopt.scope_total;
BEGIN
	IF NEW.organization_id IS NULL OR btrim(NEW.organization_id) = '' THEN
		RAISE EXCEPTION 'a budget needs an organization_id'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.name IS NULL OR btrim(NEW.name) = '' THEN
		RAISE EXCEPTION 'a budget needs a name' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.limit_usd IS NULL OR NOT (NEW.limit_usd > 0) OR NEW.limit_usd = 'Infinity' THEN
		RAISE EXCEPTION 'budget limit must be a positive amount of USD'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('limit_usd is %s.', coalesce(NEW.limit_usd::text, 'NULL')),
				  HINT = 'To stop tracking a budget, pause it or set is_active => false.';
	END IF;
	IF NEW.period_type IS NULL OR NEW.period_type NOT IN
		('hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'custom') THEN
		RAISE EXCEPTION 'unknown budget period "%"', NEW.period_type
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use hourly, daily, weekly, monthly, quarterly, yearly or custom.';
	END IF;
	IF NEW.enforcement IS NULL OR NEW.enforcement NOT IN ('none', 'soft', 'hard') THEN
		RAISE EXCEPTION 'unknown budget enforcement "%"', NEW.enforcement
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use none (track only), soft (allow and report) or hard (refuse past the grace).';
	END IF;
	IF NEW.grace_fraction IS NULL OR NEW.grace_fraction < 0 OR NEW.grace_fraction > 10 THEN
		RAISE EXCEPTION 'budget grace must be between 0 and 10 (a fraction of the limit)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('grace is %s.', coalesce(NEW.grace_fraction::text, 'NULL')),
				  HINT = 'A grace of 0.1 lets hard budgets admit up to 110 % of the limit.';
	END IF;
	IF NEW.thresholds IS NULL OR cardinality(NEW.thresholds) = 0 OR cardinality(NEW.thresholds) > 20
	   OR array_ndims(NEW.thresholds) <> 1 OR array_position(NEW.thresholds, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'budget thresholds must be a list of 1 to 20 fractions of the limit'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('thresholds are %s.', coalesce(NEW.thresholds::text, 'NULL')),
				  HINT = 'For example ARRAY[0.5, 0.75, 0.9, 1.0].';
	END IF;
	FOR i IN 1 .. cardinality(NEW.thresholds) LOOP
		IF NOT (NEW.thresholds[i] > 0 AND NEW.thresholds[i] <= 2) THEN
			RAISE EXCEPTION 'budget threshold % is outside (0, 2]', NEW.thresholds[i]
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('thresholds are %s.', NEW.thresholds),
					  HINT = 'Thresholds are fractions of the limit: 0.8 alerts at 80 %.';
		END IF;
		IF i > 1 AND NEW.thresholds[i] <= NEW.thresholds[i - 1] THEN
			RAISE EXCEPTION 'budget thresholds must be strictly increasing'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('thresholds are %s.', NEW.thresholds),
					  HINT = 'List each threshold once, lowest first.';
		END IF;
	END LOOP;
	IF NEW.alert_cooldown IS NULL OR NEW.alert_cooldown < interval '0' THEN
		RAISE EXCEPTION 'alert cooldown must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NEW.alert_contacts IS NOT NULL AND jsonb_typeof(NEW.alert_contacts) <> 'object' THEN
		RAISE EXCEPTION 'alert contacts must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"emails": ["finops@example.com"], "slack_channels": ["#llm-spend"]}.';
	END IF;
	BEGIN
		PERFORM now() AT TIME ZONE NEW.timezone;
	EXCEPTION WHEN invalid_parameter_value OR null_value_not_allowed THEN
		RAISE EXCEPTION 'unknown time zone "%" for a budget', NEW.timezone
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use a name from pg_timezone_names, such as Europe/Berlin.';
	END;
	IF NEW.period_type = 'custom' THEN
		IF NEW.ends_at IS NULL THEN
			RAISE EXCEPTION 'a custom budget needs an end'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass ends_at; custom budgets cover [starts_at, ends_at) once.';
		END IF;
		NEW.recurring := false;
	END IF;
	-- Spend is kept per minute (costopt.budget_deltas), so a budget's bounds
	-- are whole minutes: starts_at is rounded down, ends_at up.  Otherwise
	-- the calls of a partial first or last minute would be counted wrongly.
	IF isfinite(NEW.starts_at) THEN
		NEW.starts_at := date_trunc('minute', NEW.starts_at);
	END IF;
	IF isfinite(NEW.ends_at) AND NEW.ends_at <> date_trunc('minute', NEW.ends_at) THEN
		NEW.ends_at := date_trunc('minute', NEW.ends_at) + interval '1 minute';
	END IF;
	IF NEW.ends_at IS NOT NULL AND NEW.ends_at <= NEW.starts_at THEN
		RAISE EXCEPTION 'budget end must be after its start'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('starts_at is %s, ends_at is %s.', NEW.starts_at, NEW.ends_at);
	END IF;
	IF NOT isfinite(NEW.starts_at) THEN
		RAISE EXCEPTION 'budget start must be a finite time' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR i IN 1 .. 4 LOOP
		IF (ARRAY[NEW.user_id, NEW.project, NEW.model, NEW.provider])[i] = '' THEN
			RAISE EXCEPTION 'budget scope % must be NULL (every value) or a name',
				(ARRAY['user_id', 'project', 'model', 'provider'])[i]
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;

	-- a new budget, or one taken back into use: period and spend start over
	IF TG_OP = 'INSERT' OR (NEW.is_active AND NOT OLD.is_active)
	   OR NEW.starts_at IS DISTINCT FROM OLD.starts_at
	   OR NEW.period_type IS DISTINCT FROM OLD.period_type
	   OR NEW.timezone IS DISTINCT FROM OLD.timezone THEN
		p := costopt.budget_period(NEW.period_type, NEW.timezone, NEW.starts_at, NEW.ends_at,
								   greatest(NEW.starts_at, now()));
		NEW.period_start := p.period_start;
		NEW.period_end := p.period_end;
		IF NEW.period_type = 'custom' OR (NEW.ends_at IS NOT NULL AND NEW.period_end > NEW.ends_at) THEN
			NEW.period_end := least(NEW.period_end, NEW.ends_at);
		END IF;
		IF NEW.ends_at IS NOT NULL AND NEW.ends_at <= now() AND NEW.is_active THEN
			RAISE EXCEPTION 'budget has already ended'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('Its end is %s.', NEW.ends_at),
					  HINT = 'Pass a later ends_at, or none for a budget that recurs for good.';
		END IF;
		-- the next refresh computes the spend again in step with the
		-- deltas; until then the check sees the spend so far
		NEW.spend_needs_init := true;
		t := costopt.scope_spend(NEW.organization_id, NEW.user_id, NEW.project, NEW.model,
								 NEW.provider, NEW.period_start, NEW.period_end);
		NEW.current_spend := t.spend;
		NEW.current_requests := t.requests;
		NEW.alert_rank := 0;
		NEW.alert_level := 'none';
		IF NEW.is_active THEN
			-- writers already past their watermark lookup finish first (see
			-- src/budget_watch.c); later ones see this budget
			LOCK TABLE costopt.api_usage_logs IN SHARE MODE;
		END IF;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		IF NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.project IS DISTINCT FROM OLD.project
		   OR NEW.model IS DISTINCT FROM OLD.model OR NEW.provider IS DISTINCT FROM OLD.provider
		   OR NEW.organization_id IS DISTINCT FROM OLD.organization_id THEN
			RAISE EXCEPTION 'the scope of a budget cannot change'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Create a new budget for the new scope and deactivate this one.';
		END IF;
		NEW.updated_at := now();
	END IF;
	RETURN NEW;
END;
$$;

-- changed in 0.2.0 (85_budgets.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_create_budget(organization_id text,
												  name text,
												  limit_usd numeric,
												  period text DEFAULT 'monthly',
												  user_id text DEFAULT NULL,
												  project text DEFAULT NULL,
												  model text DEFAULT NULL,
												  provider text DEFAULT NULL,
												  thresholds numeric[] DEFAULT '{0.8,0.95,1.0}',
												  enforcement text DEFAULT 'none',
												  grace numeric DEFAULT 0.10,
												  starts_at timestamptz DEFAULT now(),
												  ends_at timestamptz DEFAULT NULL,
												  timezone text DEFAULT NULL,
												  recurring boolean DEFAULT true,
												  alert_enabled boolean DEFAULT true,
												  alert_contacts jsonb DEFAULT NULL,
												  alert_cooldown interval DEFAULT '1 hour',
												  description text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	new_id bigint;
BEGIN
	PERFORM costopt.require_organization(costopt_create_budget.organization_id, '{org_admin}');
	INSERT INTO costopt.budgets AS b
		(organization_id, name, description, user_id, project, model, provider, period_type,
		 timezone, starts_at, ends_at, recurring, limit_usd, thresholds, alert_enabled,
		 alert_contacts, alert_cooldown, enforcement, grace_fraction, period_start, period_end)
	VALUES
		(costopt_create_budget.organization_id, costopt_create_budget.name,
		 costopt_create_budget.description, costopt_create_budget.user_id,
		 costopt_create_budget.project, lower(costopt_create_budget.model),
		 lower(costopt_create_budget.provider), lower(costopt_create_budget.period),
		 coalesce(costopt_create_budget.timezone, costopt.rollup_timezone()),
		 coalesce(costopt_create_budget.starts_at, now()), costopt_create_budget.ends_at,
		 coalesce(costopt_create_budget.recurring, true), costopt_create_budget.limit_usd,
		 costopt_create_budget.thresholds, coalesce(costopt_create_budget.alert_enabled, true),
		 costopt_create_budget.alert_contacts, costopt_create_budget.alert_cooldown,
		 lower(costopt_create_budget.enforcement), costopt_create_budget.grace,
		 -- placeholders: costopt.budget_prepare() sets the period
		 '-infinity', 'infinity')
	RETURNING b.id INTO new_id;
	RETURN new_id;
END;
$$;

-- changed in 0.2.0 (85_budgets.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_refresh_budgets(OUT budgets bigint,
													OUT delta_rows bigint,
													OUT rolled_over bigint,
													OUT alerts bigint,
													OUT paused bigint,
													OUT expired_reservations bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
	fired_ids bigint[];
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('costopt.refresh_budgets'));
	-- every writer of budget rows locks them in id order (costopt_reserve
	-- and costopt_release too), so the updates below cannot deadlock with a
	-- reservation; reservations wait for this refresh instead
	PERFORM 1 FROM costopt.budgets b ORDER BY b.id FOR NO KEY UPDATE;
	-- deltas of calls up to the end of the current minute are applied now;
	-- later ones (clocks running ahead) wait for their period
	cutoff := date_trunc('minute', now()) + interval '1 minute';

	-- finished reservations are kept for a week, for audits
	DELETE FROM costopt.budget_reservations r
	 WHERE r.status IN ('closed', 'released', 'expired') AND r.created_at < now() - interval '7 days';

	-- 1. reservations whose call never came give their money back
	WITH gone AS (
		UPDATE costopt.budget_reservations r
		   SET status = 'expired'
		 WHERE r.status = 'active' AND r.expires_at <= now()
		RETURNING r.budget_ids, r.estimated_cost
	), per_budget AS (
		SELECT x.id, sum(g.estimated_cost) AS amount
		  FROM gone g, unnest(g.budget_ids) AS x(id)
		 GROUP BY x.id
	), released AS (
		UPDATE costopt.budgets b SET reserved = greatest(b.reserved - p.amount, 0)
		  FROM per_budget p
		 WHERE b.id = p.id
		RETURNING b.id
	)
	SELECT count(*) INTO expired_reservations FROM gone;

	-- 2. one statement, so one snapshot: pending deltas, settled
	--    reservations, period roll-over and spend taken from the raw log all
	--    see the same committed calls
	WITH consumed AS (
		DELETE FROM costopt.budget_deltas d WHERE d.minute < cutoff RETURNING d.*
	), absorbed AS (
		UPDATE costopt.budget_reservations r SET status = 'closed'
		 WHERE r.status = 'settled'
		RETURNING r.budget_ids, r.estimated_cost
	), absorbed_per_budget AS (
		SELECT x.id, sum(a.estimated_cost) AS amount
		  FROM absorbed a, unnest(a.budget_ids) AS x(id)
		 GROUP BY x.id
	), periods AS MATERIALIZED (
		-- the next period only for budgets whose period is over (the CASE
		-- keeps the others from computing one)
		SELECT b.*, b.period_end <= now() AS rolls,
			   CASE WHEN b.period_end <= now() AND b.recurring
					THEN costopt.budget_period(b.period_type, b.timezone, b.starts_at, b.ends_at, now())
			   END AS np
		  FROM costopt.budgets b
		 WHERE b.is_active AND b.period_start <= now()
	), plan AS MATERIALIZED (
		SELECT b.id, b.organization_id, b.user_id, b.project, b.model, b.provider, b.period_type,
			   b.timezone, b.period_start AS old_start, b.period_end AS old_end,
			   b.current_spend, b.current_requests, b.spend_needs_init AS needs_init,
			   b.alert_rank, b.thresholds, b.limit_usd, b.rolls,
			   (b.rolls AND b.recurring
				AND (b.ends_at IS NULL OR (b.np).period_start < b.ends_at)) AS continues,
			   (b.np).period_start AS new_start,
			   least((b.np).period_end, b.ends_at) AS new_end
		  FROM periods b
	), matched AS (
		SELECT p.id,
			   sum(d.total_cost) FILTER (WHERE d.minute >= p.old_start AND d.minute < p.old_end) AS old_cost,
			   sum(d.requests) FILTER (WHERE d.minute >= p.old_start AND d.minute < p.old_end) AS old_requests,
			   sum(d.total_cost) FILTER (WHERE p.continues AND d.minute >= p.new_start
										 AND d.minute < p.new_end) AS new_cost,
			   sum(d.requests) FILTER (WHERE p.continues AND d.minute >= p.new_start
									   AND d.minute < p.new_end) AS new_requests
		  FROM plan p
		  JOIN consumed d
			ON d.organization_id = p.organization_id
		   AND costopt.scope_matches(p.user_id, p.project, p.model, p.provider,
									 d.user_id, d.project, d.model, d.provider)
		 WHERE NOT p.needs_init
		 GROUP BY p.id
	), raw_sums AS MATERIALIZED (
		-- spend from the raw log, only for the budgets that need it (the
		-- CASE keeps the scans from running for the others)
		SELECT p.id,
			   CASE WHEN p.needs_init
					THEN costopt.scope_spend(p.organization_id, p.user_id, p.project, p.model,
											 p.provider, p.old_start, least(p.old_end, cutoff)) END AS o,
			   CASE WHEN p.continues AND (p.needs_init OR p.new_start > p.old_end)
					THEN costopt.scope_spend(p.organization_id, p.user_id, p.project, p.model,
											 p.provider, p.new_start, least(p.new_end, cutoff)) END AS n
		  FROM plan p
		 WHERE p.needs_init OR (p.continues AND p.new_start > p.old_end)
	), computed AS (
		SELECT p.*, (m.id IS NOT NULL) AS touched,
			   -- the period being closed (or still current): its spend
			   CASE WHEN p.needs_init THEN (r.o).spend
					ELSE p.current_spend + coalesce(m.old_cost, 0) END AS old_spend,
			   CASE WHEN p.needs_init THEN (r.o).requests
					ELSE p.current_requests + coalesce(m.old_requests, 0) END AS old_calls,
			   -- the new period after a roll-over
			   CASE WHEN NOT p.continues THEN NULL
					WHEN p.needs_init OR p.new_start > p.old_end THEN (r.n).spend
					ELSE coalesce(m.new_cost, 0) END AS new_spend,
			   CASE WHEN NOT p.continues THEN NULL
					WHEN p.needs_init OR p.new_start > p.old_end THEN (r.n).requests
					ELSE coalesce(m.new_requests, 0) END AS new_calls
		  FROM plan p
		  LEFT JOIN matched m ON m.id = p.id
		  LEFT JOIN raw_sums r ON r.id = p.id
	), closed AS (
		INSERT INTO costopt.budget_history AS h
			(budget_id, period_start, period_end, spend, requests, limit_usd, peak_alert_level)
		SELECT c.id, c.old_start, c.old_end, c.old_spend, c.old_calls, c.limit_usd,
			   costopt.budget_level_name(c.thresholds,
										 greatest(c.alert_rank,
												  costopt.budget_rank(c.thresholds, c.old_spend, c.limit_usd)))
		  FROM computed c
		 WHERE c.rolls
		UNION ALL
		-- periods nobody refreshed in between: straight from the raw log
		SELECT c.id, g.period_start, g.period_end, s.spend, s.requests, c.limit_usd,
			   costopt.budget_level_name(c.thresholds,
										 costopt.budget_rank(c.thresholds, s.spend, c.limit_usd))
		  FROM computed c,
			   LATERAL costopt.budget_periods_between(c.period_type, c.timezone, c.old_end,
													  c.new_start) g,
			   LATERAL costopt.scope_spend(c.organization_id, c.user_id, c.project, c.model,
										   c.provider, g.period_start, g.period_end) s
		 WHERE c.continues AND c.new_start > c.old_end
		ON CONFLICT (budget_id, period_start) DO UPDATE
			SET spend = excluded.spend, requests = excluded.requests, closed_at = now()
		RETURNING h.budget_id
	), targets AS (
		-- only budgets that change: a refresh with nothing new writes nothing
		SELECT coalesce(c.id, a.id) AS id, c.rolls, c.continues, c.needs_init, c.new_start,
			   c.new_end, c.old_spend, c.old_calls, c.new_spend, c.new_calls,
			   coalesce(c.rolls OR c.needs_init OR c.touched, false) AS spend_changed,
			   coalesce(a.amount, 0) AS absorbed
		  FROM computed c
		  FULL JOIN absorbed_per_budget a ON a.id = c.id
		 WHERE c.rolls OR c.needs_init OR c.touched OR a.id IS NOT NULL
	), updated AS (
		UPDATE costopt.budgets b SET
			current_spend = CASE WHEN t.continues THEN t.new_spend
								 WHEN t.spend_changed THEN t.old_spend ELSE b.current_spend END,
			current_requests = CASE WHEN t.continues THEN t.new_calls
									WHEN t.spend_changed THEN t.old_calls ELSE b.current_requests END,
			period_start = CASE WHEN t.continues THEN t.new_start ELSE b.period_start END,
			period_end = CASE WHEN t.continues THEN t.new_end ELSE b.period_end END,
			is_active = CASE WHEN t.rolls AND NOT t.continues THEN false ELSE b.is_active END,
			spend_needs_init = false,
			reserved = greatest(b.reserved - t.absorbed, 0),
			-- a new period starts without alerts, and a budget paused for
			-- overspending is open again
			alert_rank = CASE WHEN t.continues THEN 0 ELSE b.alert_rank END,
			alert_level = CASE WHEN t.continues THEN 'none' ELSE b.alert_level END,
			paused_at = CASE WHEN t.continues AND b.paused_reason = 'exceeded' THEN NULL
							 ELSE b.paused_at END,
			paused_reason = CASE WHEN t.continues AND b.paused_reason = 'exceeded' THEN NULL
								 ELSE b.paused_reason END,
			last_calculated_at = now()
		  FROM targets t
		 WHERE b.id = t.id
		RETURNING b.id, t.rolls
	)
	SELECT (SELECT count(*) FROM plan), (SELECT count(*) FROM consumed),
		   (SELECT count(*) FROM updated u WHERE u.rolls)
	  INTO budgets, delta_rows, rolled_over;

	-- 3. alert levels, alerts and hard enforcement, on the new spend
	WITH eval AS (
		SELECT b.id, b.alert_rank AS old_rank,
			   costopt.budget_rank(b.thresholds, b.current_spend, b.limit_usd) AS new_rank,
			   (b.enforcement = 'hard' AND b.paused_at IS NULL
				AND b.current_spend > b.limit_usd * (1 + b.grace_fraction)) AS to_pause
		  FROM costopt.budgets b
		 WHERE b.is_active
	), changed AS (
		UPDATE costopt.budgets b SET
			alert_rank = e.new_rank,
			alert_level = costopt.budget_level_name(b.thresholds, e.new_rank),
			paused_at = CASE WHEN e.to_pause THEN now() ELSE b.paused_at END,
			paused_reason = CASE WHEN e.to_pause THEN 'exceeded' ELSE b.paused_reason END
		  FROM eval e
		 WHERE b.id = e.id
		   -- re-checked on the newest row version: two refreshes cannot both
		   -- move the same budget to the same level
		   AND (b.alert_rank <> e.new_rank OR (e.to_pause AND b.paused_at IS NULL))
		RETURNING b.*, e.old_rank, e.new_rank, e.to_pause
	), candidates AS (
		SELECT c.*, c.thresholds[c.new_rank] AS crossed,
			   costopt.budget_level_name(c.thresholds, c.new_rank) AS level_name
		  FROM changed c
		 WHERE c.new_rank > c.old_rank AND c.alert_enabled
		UNION ALL
		SELECT c.*, 1 + c.grace_fraction, 'paused'
		  FROM changed c
		 WHERE c.to_pause AND c.alert_enabled
	), fired AS (
		INSERT INTO costopt.budget_alerts AS a
			(budget_id, organization_id, level, threshold, spend, limit_usd, utilization,
			 period_start, message, contacts)
		SELECT c.id, c.organization_id, c.level_name, c.crossed, c.current_spend, c.limit_usd,
			   round(c.current_spend / c.limit_usd, 4), c.period_start,
			   CASE c.level_name
				   WHEN 'paused' THEN
					   format('Budget "%s" is paused: spend $%s is past its limit $%s plus %s%% grace; calls are refused until the period ends or the limit is raised',
							  c.name, round(c.current_spend, 2), c.limit_usd,
							  round(c.grace_fraction * 100, 1))
				   WHEN 'exceeded' THEN
					   format('Budget "%s" has been exceeded: $%s of $%s (%s%%) in the %s period starting %s',
							  c.name, round(c.current_spend, 2), c.limit_usd,
							  round(c.current_spend / c.limit_usd * 100, 1), c.period_type,
							  c.period_start)
				   ELSE
					   format('Budget "%s" is at %s%% of its %s limit: $%s of $%s (%s threshold %s%%)',
							  c.name, round(c.current_spend / c.limit_usd * 100, 1), c.period_type,
							  round(c.current_spend, 2), c.limit_usd, c.level_name,
							  round(c.crossed * 100, 1))
			   END,
			   c.alert_contacts
		  FROM candidates c
		 WHERE NOT EXISTS (SELECT 1 FROM costopt.budget_alerts x
							WHERE x.budget_id = c.id AND x.threshold = c.crossed
							  AND x.level = c.level_name
							  AND x.created_at > now() - c.alert_cooldown)
		RETURNING a.*
	)
	SELECT count(*), count(*) FILTER (WHERE f.level = 'paused'), array_agg(f.id)
	  INTO alerts, paused, fired_ids
	  FROM fired f;

	IF alerts > 0 THEN
		UPDATE costopt.budgets b SET last_alert_sent = now()
		 WHERE b.id IN (SELECT a.budget_id FROM costopt.budget_alerts a WHERE a.id = ANY (fired_ids));
		-- delivered to listeners when this transaction commits, never before;
		-- any connection may LISTEN, so the payload names the alert only and
		-- listeners read it from costopt.budget_alerts under their own rights
		PERFORM pg_notify('costopt_alerts',
						  json_build_object('alert_id', a.id, 'budget_id', a.budget_id)::text)
		   FROM costopt.budget_alerts a
		  WHERE a.id = ANY (fired_ids)
		  ORDER BY a.id;
	END IF;
END;
$$;

-- changed in 0.2.0 (85_budgets.sql)
CREATE OR REPLACE FUNCTION @extschema@.costopt_reserve(organization_id text,
											user_id text DEFAULT NULL,
											project text DEFAULT NULL,
											estimated_cost numeric DEFAULT 0,
											model text DEFAULT NULL,
											provider text DEFAULT NULL,
											ttl interval DEFAULT '15 minutes',
											raise_on_deny boolean DEFAULT false)
RETURNS TABLE (reservation_id bigint, allowed boolean, budget_id bigint, remaining numeric,
			   reason text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ids bigint[];
	d record;
BEGIN
	PERFORM costopt.require_organization(costopt_reserve.organization_id, '{writer,org_admin}');
	IF costopt_reserve.organization_id IS NULL THEN
		RAISE EXCEPTION 'organization_id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF costopt_reserve.estimated_cost IS NULL OR costopt_reserve.estimated_cost < 0
	   OR costopt_reserve.estimated_cost = 'Infinity' OR costopt_reserve.estimated_cost = 'NaN' THEN
		RAISE EXCEPTION 'estimated cost must be a non-negative amount of USD'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('estimated_cost is %s.', coalesce(costopt_reserve.estimated_cost::text, 'NULL'));
	END IF;
	IF ttl IS NULL OR ttl <= interval '0' THEN
		RAISE EXCEPTION 'reservation ttl must be positive' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT array_agg(x.id ORDER BY x.id) INTO ids
	  FROM (SELECT b.id
			  FROM costopt.budgets b
			 WHERE b.organization_id = costopt_reserve.organization_id
			   AND b.is_active AND b.period_start <= now()
			   AND costopt.scope_matches(b.user_id, b.project, b.model, b.provider,
										 costopt_reserve.user_id, costopt_reserve.project,
										 lower(costopt_reserve.model), lower(costopt_reserve.provider))
			 ORDER BY b.id
			   FOR NO KEY UPDATE) x;

	-- the budgets are locked: this decision holds until commit
	SELECT * INTO d
	  FROM @extschema@.costopt_check_budget(costopt_reserve.organization_id, costopt_reserve.user_id,
											costopt_reserve.project, costopt_reserve.estimated_cost,
											costopt_reserve.model, costopt_reserve.provider,
											raise_on_deny) c;
	allowed := d.allowed;
	budget_id := d.budget_id;
	reason := d.reason;
	remaining := d.remaining;
	IF NOT d.allowed THEN
		RETURN NEXT;
		RETURN;
	END IF;

	INSERT INTO costopt.budget_reservations AS r
		(organization_id, user_id, project, model, provider, estimated_cost, budget_ids, expires_at)
	VALUES (costopt_reserve.organization_id, costopt_reserve.user_id, costopt_reserve.project,
			lower(costopt_reserve.model), lower(costopt_reserve.provider),
			costopt_reserve.estimated_cost, coalesce(ids, '{}'), now() + ttl)
	RETURNING r.id INTO reservation_id;
	IF ids IS NOT NULL AND costopt_reserve.estimated_cost > 0 THEN
		UPDATE costopt.budgets b SET reserved = b.reserved + costopt_reserve.estimated_cost
		 WHERE b.id = ANY (ids);
		remaining := remaining - costopt_reserve.estimated_cost;
	END IF;
	RETURN NEXT;
END;
$$;

-- new jobs (sql/install/92_scheduler.sql)
INSERT INTO costopt.jobs (name, command, description, interval_setting, cron_schedule, source)
VALUES
	('recommendations', 'SELECT costopt.recommendations_job()',
	 'Recommendations for every organisation with calls in the last 30 days, archives those finished '
	 '180 days ago; rows: the open recommendations',
	 'costopt.recommendations_interval', '0 3 * * 0', 'seed'),
	('savings_detection', 'SELECT costopt.savings_detection_job()',
	 'Savings opportunities for every organisation with calls in the last 30 days; rows: the open opportunities',
	 'costopt.savings_detection_interval', '0 4 * * *', 'seed')
ON CONFLICT (name) DO NOTHING;

-- The usage log's primary key and indexes move from the partitioned table
-- to each partition, so that a dump with monthly partitions restores
-- (doc/retention.md, Backups).  Dropping the parent's key and indexes drops
-- the partitions' copies too; they are built again on every partition, with
-- the same names (costopt.add_usage_indexes).  This rebuilds the usage
-- log's indexes once.
ALTER TABLE costopt.api_usage_logs DROP CONSTRAINT api_usage_logs_pkey;
DROP INDEX costopt.api_usage_logs_org_time_idx, costopt.api_usage_logs_time_idx,
	costopt.api_usage_logs_unpriced_idx;
SELECT costopt.add_usage_indexes(i.inhrelid::regclass)
  FROM pg_catalog.pg_inherits i
 WHERE i.inhparent = 'costopt.api_usage_logs'::regclass
 ORDER BY i.inhrelid;

-- new forecasts continue after the ids of restored ones
SELECT pg_catalog.pg_extension_config_dump('costopt.cost_forecasts_id_seq', '');

-- created_at is bounded so that every rollup period of a call can be
-- represented (a call in December 294276 used to stop every refresh)
ALTER TABLE costopt.api_usage_logs DROP CONSTRAINT api_usage_logs_created_at_check;
ALTER TABLE costopt.api_usage_logs ADD CONSTRAINT api_usage_logs_created_at_check
	CHECK (created_at >= '1970-01-01 00:00+00' AND created_at < '10000-01-01 00:00+00');

-- budget bounds are whole minutes now (spend is kept per minute): the
-- trigger rounds them, and a changed start takes the spend from the raw log
UPDATE costopt.budgets b SET starts_at = b.starts_at, ends_at = b.ends_at
 WHERE b.starts_at <> date_trunc('minute', b.starts_at)
	OR b.ends_at <> date_trunc('minute', b.ends_at);

-------------------------------------------------------------------------------
-- 87_recommendations.sql
-------------------------------------------------------------------------------
-------------------------------------------------------------------------------
-- Recommendations and savings opportunities (doc/recommendations.md)
--
-- One analysis, costopt.find_savings(), reads an organisation's priced calls
-- of a window and returns findings: a kind of waste, the traffic it is in
-- (its scope), what that traffic cost in the window and what it would have
-- cost without the waste.  costopt_generate_recommendations() turns the
-- findings into costopt.cost_recommendations (one per kind and scope, with
-- a lifecycle and measured savings); costopt_detect_opportunities() rolls
-- them up into costopt.savings_opportunities (one per kind of waste and
-- model, with its own workflow).  No estimate uses a constant: every figure
-- is the organisation's own calls repriced.
-------------------------------------------------------------------------------

-- Recommendation states and the moves between them.  pending and accepted
-- recommendations are "open": a new analysis refreshes them instead of
-- adding another.
CREATE FUNCTION costopt.recommendation_next_states(status text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE status
		WHEN 'pending' THEN '{accepted,rejected,expired}'
		WHEN 'accepted' THEN '{implemented,rejected}'
		WHEN 'rejected' THEN '{archived}'
		WHEN 'implemented' THEN '{verified,archived}'
		WHEN 'verified' THEN '{verified,archived}'
		WHEN 'expired' THEN '{archived}'
		ELSE '{}' END::text[]
$$;
COMMENT ON FUNCTION costopt.recommendation_next_states(text) IS
	'States a recommendation in the given state may move to';

CREATE TABLE costopt.cost_recommendations (
	id                        bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	organization_id           text NOT NULL,
	recommendation_type       text NOT NULL,
	scope_key                 text NOT NULL,
	scope                     jsonb NOT NULL,
	title                     text NOT NULL,
	description               text NOT NULL,
	current_monthly_cost      numeric(14,6) NOT NULL,
	projected_monthly_cost    numeric(14,6) NOT NULL,
	estimated_savings         numeric(14,6) NOT NULL,
	savings_percentage        numeric(5,2) NOT NULL,
	priority_score            integer NOT NULL,
	confidence_score          numeric(5,4) NOT NULL,
	implementation_difficulty text NOT NULL,
	quality_impact            text NOT NULL,
	quality_score_change      numeric(5,4),
	recommended_action        jsonb NOT NULL,
	analysis_data             jsonb NOT NULL,
	status                    text NOT NULL DEFAULT 'pending',
	status_reason             text,
	accepted_at               timestamptz,
	accepted_by               text,
	rejected_at               timestamptz,
	implemented_at            timestamptz,
	implemented_by            text,
	actual_savings            numeric(14,6),
	verification              jsonb,
	results_verified_at       timestamptz,
	archived_at               timestamptz,
	times_detected            integer NOT NULL DEFAULT 1,
	last_detected_at          timestamptz NOT NULL DEFAULT now(),
	valid_until               timestamptz NOT NULL,
	created_at                timestamptz NOT NULL DEFAULT now(),
	updated_at                timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT cost_recommendations_type_check
		CHECK (recommendation_type IN ('model_downgrade', 'response_caching', 'prompt_caching',
									   'batch_processing', 'prompt_optimization', 'error_waste',
									   'rate_limiting')),
	CONSTRAINT cost_recommendations_status_check
		CHECK (status IN ('pending', 'accepted', 'rejected', 'implemented', 'verified',
						  'expired', 'archived')),
	CONSTRAINT cost_recommendations_rejected_check
		CHECK (status <> 'rejected' OR status_reason IS NOT NULL),
	CONSTRAINT cost_recommendations_figures_check
		CHECK (current_monthly_cost >= 0 AND estimated_savings >= 0
			   AND projected_monthly_cost >= 0),
	CONSTRAINT cost_recommendations_priority_check CHECK (priority_score BETWEEN 0 AND 100),
	CONSTRAINT cost_recommendations_confidence_check CHECK (confidence_score BETWEEN 0 AND 1),
	CONSTRAINT cost_recommendations_difficulty_check
		CHECK (implementation_difficulty IN ('easy', 'medium', 'hard')),
	CONSTRAINT cost_recommendations_quality_check
		CHECK (quality_impact IN ('none', 'low', 'medium', 'high'))
);
-- one open recommendation per kind and scope
CREATE UNIQUE INDEX cost_recommendations_open_key
	ON costopt.cost_recommendations (organization_id, recommendation_type, scope_key)
	WHERE status IN ('pending', 'accepted');
CREATE INDEX cost_recommendations_org_status_idx
	ON costopt.cost_recommendations (organization_id, status, priority_score DESC);
-- Dumped with the sequence: the lifecycle (accepted, implemented, verified)
-- is the users' work and cannot be derived again.
SELECT pg_catalog.pg_extension_config_dump('costopt.cost_recommendations', '');
SELECT pg_catalog.pg_extension_config_dump('costopt.cost_recommendations_id_seq', '');

COMMENT ON TABLE costopt.cost_recommendations IS
	'Cost optimisation recommendations with estimated and verified monthly savings (costopt_generate_recommendations)';
COMMENT ON COLUMN costopt.cost_recommendations.scope IS
	'The traffic the recommendation is about (project, operation, models, user, prompt id) and how its savings are verified';
COMMENT ON COLUMN costopt.cost_recommendations.estimated_savings IS
	'Monthly (30-day) USD saving: the analysed window''s saving scaled to 30 days';
COMMENT ON COLUMN costopt.cost_recommendations.actual_savings IS
	'Monthly USD saving measured by costopt_verify_recommendation (spend of the scope before and after)';

-- Raises 55000 unless a move from one state to another is in the allowed
-- list: one message for both lifecycles (recommendations, opportunities).
CREATE FUNCTION costopt.check_move(what text, id bigint, from_status text, to_status text,
								   allowed text[], hint text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT to_status = ANY (allowed) THEN
		RAISE EXCEPTION '% % is %, it cannot become %', what, id, from_status, to_status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN cardinality(allowed) = 0
								THEN format('A %s in state %s is final.', what, from_status)
								ELSE format('From %s it may become: %s.', from_status,
											array_to_string(allowed, ', '))
						   END,
				  HINT = hint;
	END IF;
END;
$$;
COMMENT ON FUNCTION costopt.check_move(text, bigint, text, text, text[], text) IS
	'Raises 55000 unless a lifecycle move is among the allowed ones';

-- The recommendation lifecycle's check (a move to the state it is in is
-- refused too, except verified, which re-measures).
CREATE FUNCTION costopt.recommendation_check_move(id bigint, from_status text, to_status text)
RETURNS void
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT costopt.check_move('recommendation', id, from_status, to_status,
							  costopt.recommendation_next_states(from_status),
							  'Recommendations move pending -> accepted -> implemented -> verified -> archived; '
							  'pending or accepted ones may be rejected (with a reason).')
$$;
COMMENT ON FUNCTION costopt.recommendation_check_move(bigint, text, text) IS
	'Raises 55000 unless the recommendation lifecycle allows the move';

-- Enforces the lifecycle on every change of status, whoever makes it, and
-- stamps the moves.
CREATE FUNCTION costopt.recommendation_transition()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status OR NEW.status = 'verified' THEN
		PERFORM costopt.recommendation_check_move(OLD.id, OLD.status, NEW.status);
		CASE NEW.status
			WHEN 'accepted' THEN NEW.accepted_at := coalesce(NEW.accepted_at, now());
			WHEN 'rejected' THEN NEW.rejected_at := now();
			WHEN 'implemented' THEN NEW.implemented_at := coalesce(NEW.implemented_at, now());
			WHEN 'archived' THEN NEW.archived_at := now();
			ELSE NULL;
		END CASE;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;
COMMENT ON FUNCTION costopt.recommendation_transition() IS
	'Trigger: only the lifecycle''s moves are allowed (SQLSTATE 55000), each is time-stamped';

CREATE TRIGGER cost_recommendations_transition
	BEFORE UPDATE ON costopt.cost_recommendations
	FOR EACH ROW EXECUTE FUNCTION costopt.recommendation_transition();

-- Savings opportunities: the findings rolled up per kind of waste and model,
-- for a team's backlog.
CREATE FUNCTION costopt.opportunity_next_states(status text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE status
		WHEN 'open' THEN '{investigating,planned,dismissed,expired}'
		WHEN 'investigating' THEN '{planned,dismissed,expired}'
		WHEN 'planned' THEN '{implemented,dismissed}'
		WHEN 'implemented' THEN '{}'
		ELSE '{}' END::text[]
$$;
COMMENT ON FUNCTION costopt.opportunity_next_states(text) IS
	'States a savings opportunity in the given state may move to';

CREATE TABLE costopt.savings_opportunities (
	id                             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	organization_id                text NOT NULL,
	opportunity_type               text NOT NULL,
	opportunity_key                text NOT NULL,
	title                          text NOT NULL,
	description                    text NOT NULL,
	affected_models                jsonb NOT NULL DEFAULT '[]',
	affected_users                 jsonb NOT NULL DEFAULT '[]',
	affected_period                jsonb NOT NULL,
	current_monthly_cost           numeric(14,6) NOT NULL,
	potential_savings              numeric(14,6) NOT NULL,
	savings_percentage             numeric(5,2) NOT NULL,
	detection_confidence           numeric(5,4) NOT NULL,
	detection_method               text NOT NULL DEFAULT 'rule_based',
	supporting_data                jsonb NOT NULL DEFAULT '{}',
	recommended_actions            text[] NOT NULL DEFAULT '{}',
	estimated_implementation_hours numeric(6,2),
	status                         text NOT NULL DEFAULT 'open',
	assigned_to                    text,
	resolved_at                    timestamptz,
	resolution_notes               text,
	verified                       boolean NOT NULL DEFAULT false,
	actual_savings                 numeric(14,6),
	verified_at                    timestamptz,
	verified_by                    text,
	times_detected                 integer NOT NULL DEFAULT 1,
	last_detected_at               timestamptz NOT NULL DEFAULT now(),
	expires_at                     timestamptz NOT NULL,
	created_at                     timestamptz NOT NULL DEFAULT now(),
	updated_at                     timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT savings_opportunities_type_check
		CHECK (opportunity_type IN ('expensive_model_overuse', 'low_cache_hit_rate', 'high_error_rate',
									'duplicate_requests', 'off_peak_usage_potential')),
	CONSTRAINT savings_opportunities_status_check
		CHECK (status IN ('open', 'investigating', 'planned', 'implemented', 'dismissed', 'expired')),
	CONSTRAINT savings_opportunities_dismissed_check
		CHECK (status <> 'dismissed' OR resolution_notes IS NOT NULL),
	CONSTRAINT savings_opportunities_verified_check
		CHECK (NOT verified OR (status = 'implemented' AND actual_savings IS NOT NULL)),
	CONSTRAINT savings_opportunities_figures_check
		CHECK (current_monthly_cost >= 0 AND potential_savings >= 0),
	CONSTRAINT savings_opportunities_confidence_check CHECK (detection_confidence BETWEEN 0 AND 1)
);
CREATE UNIQUE INDEX savings_opportunities_open_key
	ON costopt.savings_opportunities (organization_id, opportunity_type, opportunity_key)
	WHERE status IN ('open', 'investigating', 'planned');
CREATE INDEX savings_opportunities_org_status_idx
	ON costopt.savings_opportunities (organization_id, status, potential_savings DESC);
-- Dumped with the sequence, for the same reason (the team workflow).
SELECT pg_catalog.pg_extension_config_dump('costopt.savings_opportunities', '');
SELECT pg_catalog.pg_extension_config_dump('costopt.savings_opportunities_id_seq', '');

COMMENT ON TABLE costopt.savings_opportunities IS
	'Detected savings opportunities per kind of waste and model, with a team workflow (costopt_detect_opportunities)';

CREATE FUNCTION costopt.opportunity_transition()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.status IS DISTINCT FROM OLD.status THEN
		PERFORM costopt.check_move('savings opportunity', OLD.id, OLD.status, NEW.status,
								   costopt.opportunity_next_states(OLD.status),
								   'Opportunities move open -> investigating -> planned -> implemented; '
								   'any open one may be dismissed (with notes).');
		IF NEW.status IN ('implemented', 'dismissed', 'expired') THEN
			NEW.resolved_at := now();
		END IF;
	END IF;
	IF NEW.verified AND NOT OLD.verified THEN
		NEW.verified_at := now();
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;
COMMENT ON FUNCTION costopt.opportunity_transition() IS
	'Trigger: only the opportunity workflow''s moves are allowed (SQLSTATE 55000)';

CREATE TRIGGER savings_opportunities_transition
	BEFORE UPDATE ON costopt.savings_opportunities
	FOR EACH ROW EXECUTE FUNCTION costopt.opportunity_transition();

-------------------------------------------------------------------------------
-- The analysis
-------------------------------------------------------------------------------

-- What token sums would cost under one price version, with the costing rules
-- of doc/costing.md for calls below the long-context threshold: u/r/w/o are
-- the uncached, cache-read, cache-write and output tokens of normal calls,
-- bu/br/bw/bo those of batch calls.
CREATE FUNCTION costopt.sums_cost(v costopt.model_pricing,
								  u numeric, r numeric, w numeric, o numeric,
								  bu numeric, br numeric, bw numeric, bo numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (coalesce(u, 0) * v.input_price
			+ coalesce(r, 0) * coalesce(v.cache_read_price, v.input_price)
			+ coalesce(w, 0) * coalesce(v.cache_write_price, v.input_price)
			+ coalesce(o, 0) * v.output_price
			+ CASE WHEN v.batch_input_price IS NOT NULL
				   THEN (coalesce(bu, 0) + coalesce(br, 0) + coalesce(bw, 0)) * v.batch_input_price
				   ELSE coalesce(bu, 0) * v.input_price
						+ coalesce(br, 0) * coalesce(v.cache_read_price, v.input_price)
						+ coalesce(bw, 0) * coalesce(v.cache_write_price, v.input_price) END
			+ coalesce(bo, 0) * coalesce(v.batch_output_price, v.output_price)) * 0.000001
$$;
COMMENT ON FUNCTION costopt.sums_cost(costopt.model_pricing, numeric, numeric, numeric, numeric,
	numeric, numeric, numeric, numeric) IS
	'Cost of summed token counts under one price version (calls below its long-context threshold)';

-- Whether a call belongs to a recommendation's scope (see
-- costopt.cost_recommendations.scope): every key present must match.
CREATE FUNCTION costopt.in_scope(l costopt.api_usage_logs, scope jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT (NOT scope ? 'provider' OR l.provider IS NOT DISTINCT FROM scope ->> 'provider')
	   AND (NOT scope ? 'models' OR l.model IN (SELECT jsonb_array_elements_text(scope -> 'models')))
	   AND (NOT scope ? 'project' OR l.project IS NOT DISTINCT FROM scope ->> 'project')
	   AND (NOT scope ? 'operation' OR l.operation = scope ->> 'operation')
	   AND (NOT scope ? 'user_id' OR l.user_id IS NOT DISTINCT FROM scope ->> 'user_id')
	   AND (NOT scope ? 'prompt_id' OR l.tags ->> (scope ->> 'prompt_tag') = scope ->> 'prompt_id')
	   AND (NOT scope ? 'request_hash' OR l.request_hash IS NOT NULL)
$$;
COMMENT ON FUNCTION costopt.in_scope(costopt.api_usage_logs, jsonb) IS
	'True when a call matches every key of a recommendation scope';

-- Spend and calls of a scope in [from_time, to_time); with the scope's
-- measure 'failed_cost' only failed calls are counted as spend.
CREATE FUNCTION costopt.scope_usage(org text, scope jsonb, from_time timestamptz, to_time timestamptz,
									OUT spend numeric, OUT requests bigint)
RETURNS record
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(sum(l.total_cost) FILTER (WHERE scope ->> 'measure' IS DISTINCT FROM 'failed_cost'
													OR l.status <> 'success'), 0),
		   count(*)
	  FROM costopt.api_usage_logs l
	 WHERE l.organization_id = org
	   AND l.created_at >= from_time AND l.created_at < to_time
	   AND costopt.in_scope(l, scope)
$$;
COMMENT ON FUNCTION costopt.scope_usage(text, jsonb, timestamptz, timestamptz) IS
	'Spend and calls of a recommendation scope in a time range';

-- Everything costopt.find_savings() returns for one piece of waste.
CREATE TYPE costopt.finding AS (
	kind           text,		-- recommendation type
	scope_key      text,		-- identity of the traffic within the kind
	scope          jsonb,		-- the traffic (costopt.in_scope) and how to verify
	title          text,
	description    text,
	window_cost    numeric,		-- what the traffic cost in the window
	window_savings numeric,		-- what it would have cost less without the waste
	confidence     numeric,		-- 0..1
	difficulty     text,		-- easy, medium, hard
	quality_impact text,		-- none, low, medium, high
	quality_change numeric,		-- quality score change (model_downgrade)
	action         jsonb,		-- what to do
	detail         jsonb		-- the figures behind it
);

-- Finds the waste in one organisation's calls of [from_time, to_time).
-- Every saving is the organisation's own calls repriced or recounted; a
-- finding worth less than costopt.recommendation_min_savings a month is
-- left out.  Findings of different kinds can cover the same calls.
CREATE FUNCTION costopt.find_savings(org text, from_time timestamptz, to_time timestamptz)
RETURNS SETOF costopt.finding
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	month_factor numeric := 2592000 / extract(epoch FROM to_time - from_time);
	min_saving numeric := current_setting('costopt.recommendation_min_savings')::numeric / month_factor;
	margin numeric := current_setting('costopt.downgrade_quality_margin')::numeric;
	cache_window interval := current_setting('costopt.response_cache_window')::interval;
	bloat numeric := current_setting('costopt.prompt_bloat_factor')::numeric;
	spike numeric := current_setting('costopt.spike_threshold')::numeric;
	prompt_tag text := current_setting('costopt.prompt_tag');
	batch_ops text[] := regexp_split_to_array(btrim(current_setting('costopt.batch_operations')), '\s*,\s*');
BEGIN
	---------------------------------------------------------------------------
	-- model_downgrade: a cheaper model of adequate quality that can serve
	-- every call of a (provider, model, project, operation) segment; the
	-- saving is the segment's tokens at that model's current prices.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH seg AS (
		SELECT l.provider, l.model, l.project, l.operation,
			   min(v.provider) AS cat_provider, min(v.model_name) AS cat_model,
			   min(v.mode) AS mode, min(v.quality_score) AS quality,
			   count(*) AS calls, sum(l.total_cost) AS cost,
			   max(l.input_tokens) AS max_in, max(l.output_tokens) AS max_out,
			   sum(l.input_tokens - l.cached_input_tokens - l.cache_write_tokens) FILTER (WHERE NOT l.is_batch) AS u,
			   sum(l.cached_input_tokens) FILTER (WHERE NOT l.is_batch) AS r,
			   sum(l.cache_write_tokens) FILTER (WHERE NOT l.is_batch) AS w,
			   sum(l.output_tokens) FILTER (WHERE NOT l.is_batch) AS o,
			   sum(l.input_tokens - l.cached_input_tokens - l.cache_write_tokens) FILTER (WHERE l.is_batch) AS bu,
			   sum(l.cached_input_tokens) FILTER (WHERE l.is_batch) AS br,
			   sum(l.cache_write_tokens) FILTER (WHERE l.is_batch) AS bw,
			   sum(l.output_tokens) FILTER (WHERE l.is_batch) AS bo
		  FROM costopt.api_usage_logs l
		  JOIN costopt.model_pricing v ON v.id = l.pricing_id
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.status = 'success' AND l.cost_status <> 'unpriced'
		 GROUP BY l.provider, l.model, l.project, l.operation
		HAVING count(DISTINCT (v.provider, v.model_name)) = 1
	), cand AS (
		SELECT c.*
		  FROM (SELECT DISTINCT ON (mp.provider, mp.model_name) mp.*
				  FROM costopt.model_pricing mp
				 WHERE mp.effective_from <= to_time
				 ORDER BY mp.provider, mp.model_name, mp.effective_from DESC) c
		 WHERE (c.effective_to IS NULL OR c.effective_to > to_time)
		   AND c.is_active AND c.quality_score IS NOT NULL
	), best AS (
		SELECT DISTINCT ON (s.provider, s.model, s.project, s.operation)
			   s.*, c.provider AS to_provider, c.model_name AS to_model, c.quality_score AS to_quality,
			   c.context_window AS to_context,
			   costopt.sums_cost(c, s.u, s.r, s.w, s.o, s.bu, s.br, s.bw, s.bo) AS new_cost
		  FROM seg s
		  JOIN cand c
			ON c.mode = s.mode
		   AND c.quality_score >= s.quality - margin
		   AND (c.context_window IS NULL OR c.context_window >= s.max_in)
		   AND (c.max_output_tokens IS NULL OR c.max_output_tokens >= s.max_out)
		   AND (c.long_context_threshold IS NULL OR c.long_context_threshold >= s.max_in)
		   AND (c.provider, c.model_name) <> (s.cat_provider, s.cat_model)
		 WHERE s.quality IS NOT NULL
		 ORDER BY s.provider, s.model, s.project, s.operation,
				  costopt.sums_cost(c, s.u, s.r, s.w, s.o, s.bu, s.br, s.bw, s.bo),
				  c.quality_score DESC, c.provider, c.model_name
	)
	SELECT 'model_downgrade',
		   jsonb_build_array(b.provider, b.model, b.project, b.operation)::text,
		   jsonb_build_object('models', jsonb_build_array(b.model, b.to_model), 'project', b.project,
							  'operation', b.operation, 'measure', 'cost', 'basis', 'per_request'),
		   format('Move %s traffic%s from %s to %s', b.operation,
				  CASE WHEN b.project IS NULL THEN '' ELSE format(' of project %s', b.project) END,
				  b.model, b.to_model),
		   format('%s calls of %s%s cost %s USD in the analysed window; the same tokens on %s/%s '
				  '(quality %s vs %s, context %s tokens, largest prompt %s) would have cost %s USD.',
				  b.calls, b.model,
				  CASE WHEN b.project IS NULL THEN '' ELSE format(' in project %s', b.project) END,
				  round(b.cost, 4), b.to_provider, b.to_model, b.to_quality, b.quality,
				  coalesce(b.to_context::text, 'unknown'), b.max_in, round(b.new_cost, 4)),
		   b.cost, b.cost - b.new_cost,
		   greatest(0.1, least(0.95, 0.5 + 0.4 * least(1, b.calls / 500.0)
								   - 2 * greatest(0, b.quality - b.to_quality))),
		   CASE WHEN b.to_provider = b.cat_provider THEN 'easy' ELSE 'medium' END,
		   CASE WHEN b.to_quality >= b.quality THEN 'none'
				WHEN b.to_quality >= b.quality - 0.02 THEN 'low' ELSE 'medium' END,
		   b.to_quality - b.quality,
		   jsonb_build_object('action', 'switch_model', 'from_provider', b.cat_provider,
							  'from_model', b.model, 'to_provider', b.to_provider, 'to_model', b.to_model,
							  'project', b.project, 'operation', b.operation),
		   jsonb_build_object('calls', b.calls, 'largest_prompt', b.max_in, 'largest_output', b.max_out,
							  'current_quality', b.quality, 'new_quality', b.to_quality,
							  'repriced_window_cost', b.new_cost)
	  FROM best b
	 WHERE b.cost - b.new_cost >= min_saving AND b.cost > b.new_cost;

	---------------------------------------------------------------------------
	-- response_caching: a successful call whose request_hash and model were
	-- already answered within costopt.response_cache_window would have been
	-- a cache hit; the saving is what the repeats cost.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH c AS (
		SELECT l.project, l.total_cost,
			   l.created_at - lag(l.created_at) OVER (PARTITION BY l.request_hash, l.model
													  ORDER BY l.created_at, l.id) AS gap
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.request_hash IS NOT NULL
		   AND l.status = 'success' AND l.cost_status <> 'unpriced'
	), g AS (
		SELECT c.project, count(*) AS calls, sum(c.total_cost) AS cost,
			   count(*) FILTER (WHERE c.gap <= cache_window) AS repeats,
			   coalesce(sum(c.total_cost) FILTER (WHERE c.gap <= cache_window), 0) AS repeat_cost,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.gap))
				   FILTER (WHERE c.gap <= cache_window) AS median_gap
		  FROM c
		 GROUP BY c.project
	)
	SELECT 'response_caching',
		   jsonb_build_array(g.project)::text,
		   jsonb_build_object('project', g.project, 'request_hash', true, 'measure', 'cost', 'basis', 'per_day'),
		   format('Cache identical requests%s',
				  CASE WHEN g.project IS NULL THEN '' ELSE format(' of project %s', g.project) END),
		   format('%s of %s calls (%s %%) repeated an identical request answered less than %s earlier '
				  '(median %s s); they cost %s USD in the analysed window.',
				  g.repeats, g.calls, round(100.0 * g.repeats / g.calls, 1), cache_window,
				  round(g.median_gap::numeric), round(g.repeat_cost, 4)),
		   g.cost, g.repeat_cost,
		   least(0.95, 0.6 + 0.35 * least(1, g.repeats / 200.0)),
		   'medium', 'low', NULL::numeric,
		   jsonb_build_object('action', 'enable_response_cache', 'project', g.project,
							  'cache_ttl_seconds', extract(epoch FROM cache_window)),
		   jsonb_build_object('calls', g.calls, 'repeats', g.repeats,
							  'repeat_share', round(g.repeats::numeric / g.calls, 4),
							  'median_gap_seconds', round(g.median_gap::numeric, 1))
	  FROM g
	 WHERE g.repeat_cost >= min_saving AND g.repeat_cost > 0;

	---------------------------------------------------------------------------
	-- prompt_caching: calls sharing a prompt template (tag
	-- costopt.prompt_tag) on a model with cache-read prices that read
	-- (almost) nothing from the cache.  The shared prefix is taken as the
	-- template's 10th-percentile prompt; a cache is written once per five
	-- minutes of traffic and read by every other call.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH c AS (
		SELECT l.provider, l.model, l.tags ->> prompt_tag AS prompt_id, l.created_at,
			   l.input_tokens, l.cached_input_tokens, l.total_cost,
			   v.input_price, v.cache_read_price, coalesce(v.cache_write_price, v.input_price) AS write_price
		  FROM costopt.api_usage_logs l
		  JOIN costopt.model_pricing v ON v.id = l.pricing_id
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.tags ? prompt_tag
		   AND l.status = 'success' AND NOT l.is_batch AND l.cost_status <> 'unpriced'
		   AND v.cache_read_price IS NOT NULL AND v.cache_read_price < v.input_price
		   AND (v.long_context_threshold IS NULL OR l.input_tokens <= v.long_context_threshold)
	), g AS (
		SELECT c.provider, c.model, c.prompt_id, count(*) AS calls, sum(c.total_cost) AS cost,
			   percentile_disc(0.1) WITHIN GROUP (ORDER BY c.input_tokens) AS prefix,
			   sum(c.cached_input_tokens)::numeric / nullif(sum(c.input_tokens), 0) AS read_share
		  FROM c
		 GROUP BY c.provider, c.model, c.prompt_id
		HAVING count(*) >= 10
	), m AS (
		SELECT g.provider, g.model, g.prompt_id, g.prefix,
			   c.input_price, c.cache_read_price, c.write_price,
			   row_number() OVER (PARTITION BY g.provider, g.model, g.prompt_id,
										  date_bin('5 minutes', c.created_at, 'epoch')
								  ORDER BY c.created_at) AS nth
		  FROM g
		  JOIN c ON c.provider IS NOT DISTINCT FROM g.provider AND c.model = g.model
				AND c.prompt_id = g.prompt_id
		 WHERE g.prefix >= 1024 AND g.read_share < 0.5
		   AND c.cached_input_tokens = 0 AND c.input_tokens >= g.prefix
	), s AS (
		SELECT m.provider, m.model, m.prompt_id, min(m.prefix) AS prefix,
			   count(*) FILTER (WHERE m.nth > 1) AS hits, count(*) FILTER (WHERE m.nth = 1) AS writes,
			   sum(CASE WHEN m.nth > 1 THEN m.prefix * (m.input_price - m.cache_read_price)
						ELSE -m.prefix * (m.write_price - m.input_price) END) * 0.000001 AS saving
		  FROM m
		 GROUP BY m.provider, m.model, m.prompt_id
	)
	SELECT 'prompt_caching',
		   jsonb_build_array(s.provider, s.model, s.prompt_id)::text,
		   jsonb_build_object('provider', s.provider, 'models', jsonb_build_array(s.model),
							  'prompt_tag', prompt_tag, 'prompt_id', s.prompt_id,
							  'measure', 'cost', 'basis', 'per_request'),
		   format('Cache the prompt prefix of %s on %s', s.prompt_id, s.model),
		   format('%s calls of prompt %s on %s share a prefix of about %s tokens but read %s %% of '
				  'their prompts from the provider''s cache; cache reads would have saved %s USD '
				  'in the analysed window, after %s cache writes.',
				  g.calls, s.prompt_id, s.model, s.prefix, round(100 * coalesce(g.read_share, 0), 1),
				  round(s.saving, 4), s.writes),
		   g.cost, s.saving,
		   0.4 + 0.2 * least(1, g.calls / 500.0),
		   'medium', 'none', NULL::numeric,
		   jsonb_build_object('action', 'enable_prompt_caching', 'provider', s.provider, 'model', s.model,
							  'prompt_id', s.prompt_id,
							  'hint', 'put the static part of the prompt first and mark it cacheable'),
		   jsonb_build_object('calls', g.calls, 'estimated_prefix_tokens', s.prefix,
							  'cache_read_share', round(coalesce(g.read_share, 0), 4),
							  'cache_hits', s.hits, 'cache_writes', s.writes)
	  FROM s
	  JOIN g ON g.provider IS NOT DISTINCT FROM s.provider AND g.model = s.model AND g.prompt_id = s.prompt_id
	 WHERE s.saving >= min_saving AND s.saving > 0;

	---------------------------------------------------------------------------
	-- batch_processing: non-interactive calls (an operation of
	-- costopt.batch_operations, or tagged interactive=false) sent at normal
	-- prices to a model with batch prices; the saving is each call at the
	-- batch prices.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH g AS (
		SELECT l.provider, l.model, l.project, l.operation, count(*) AS calls,
			   sum(l.total_cost) AS cost,
			   sum(CASE WHEN v.batch_input_price IS NOT NULL
						THEN l.input_tokens * v.batch_input_price * 0.000001 ELSE l.input_cost END
				   + CASE WHEN v.batch_output_price IS NOT NULL
						  THEN l.output_tokens * v.batch_output_price * 0.000001 ELSE l.output_cost END)
				   AS batch_cost
		  FROM costopt.api_usage_logs l
		  JOIN costopt.model_pricing v ON v.id = l.pricing_id
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND NOT l.is_batch AND l.status = 'success' AND l.cost_status <> 'unpriced'
		   AND (l.operation = ANY (batch_ops) OR l.tags ->> 'interactive' = 'false')
		   AND (v.batch_input_price IS NOT NULL OR v.batch_output_price IS NOT NULL)
		   AND (v.long_context_threshold IS NULL OR l.input_tokens <= v.long_context_threshold)
		 GROUP BY l.provider, l.model, l.project, l.operation
	)
	SELECT 'batch_processing',
		   jsonb_build_array(g.provider, g.model, g.project, g.operation)::text,
		   jsonb_build_object('provider', g.provider, 'models', jsonb_build_array(g.model),
							  'project', g.project, 'operation', g.operation,
							  'measure', 'cost', 'basis', 'per_request'),
		   format('Send %s calls%s to the batch API', g.operation,
				  CASE WHEN g.project IS NULL THEN '' ELSE format(' of project %s', g.project) END),
		   format('%s non-interactive %s calls on %s cost %s USD in the analysed window at normal prices; '
				  'at %s''s batch prices they would have cost %s USD (results within 24 hours).',
				  g.calls, g.operation, g.model, round(g.cost, 4), g.model, round(g.batch_cost, 4)),
		   g.cost, g.cost - g.batch_cost,
		   0.6 + 0.3 * least(1, g.calls / 500.0),
		   'medium', 'none', NULL::numeric,
		   jsonb_build_object('action', 'use_batch_api', 'provider', g.provider, 'model', g.model,
							  'project', g.project, 'operation', g.operation),
		   jsonb_build_object('calls', g.calls, 'batch_window_cost', g.batch_cost)
	  FROM g
	 WHERE g.cost - g.batch_cost >= min_saving AND g.cost > g.batch_cost;

	---------------------------------------------------------------------------
	-- prompt_optimization: a (project, operation) whose median prompt is
	-- more than costopt.prompt_bloat_factor times the norm, the median
	-- prompt of the same operation in the organisation's other traffic; the
	-- saving is every prompt trimmed to the norm, at the call's own price
	-- per prompt token.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH c AS MATERIALIZED (
		SELECT l.project, l.operation, l.input_tokens, l.input_cost, l.total_cost
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.status = 'success' AND l.cost_status <> 'unpriced' AND l.input_tokens > 0
	), g AS (
		SELECT c.project, c.operation, count(*) AS calls, sum(c.total_cost) AS cost,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY c.input_tokens)::numeric AS median_prompt
		  FROM c
		 WHERE c.project IS NOT NULL
		 GROUP BY c.project, c.operation
		HAVING count(*) >= 20
	), n AS (
		SELECT g.*, o.norm, o.norm_calls
		  FROM g,
			   LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c.input_tokens)::numeric AS norm,
							   count(*) AS norm_calls
						  FROM c
						 WHERE c.operation = g.operation AND c.project IS DISTINCT FROM g.project) o
		 WHERE o.norm_calls >= 20 AND g.median_prompt > bloat * o.norm
	), s AS (
		SELECT n.project, n.operation,
			   sum(greatest(c.input_tokens - n.norm, 0) * c.input_cost / c.input_tokens) AS saving,
			   sum(greatest(c.input_tokens - n.norm, 0)) AS excess_tokens
		  FROM n
		  JOIN c ON c.project = n.project AND c.operation = n.operation
		 GROUP BY n.project, n.operation
	)
	SELECT 'prompt_optimization',
		   jsonb_build_array(n.project, n.operation)::text,
		   jsonb_build_object('project', n.project, 'operation', n.operation,
							  'measure', 'cost', 'basis', 'per_request'),
		   format('Trim the %s prompts of project %s', n.operation, n.project),
		   format('The median %s prompt of project %s is %s tokens, %s times the %s tokens of the same '
				  'operation elsewhere in the organisation; prompts trimmed to that norm would have '
				  'cost %s USD less in the analysed window (%s excess tokens).',
				  n.operation, n.project, round(n.median_prompt), round(n.median_prompt / n.norm, 1),
				  round(n.norm), round(s.saving, 4), round(s.excess_tokens)),
		   n.cost, s.saving,
		   0.5 + 0.3 * least(1, n.calls / 200.0),
		   'medium', 'low', NULL::numeric,
		   jsonb_build_object('action', 'optimize_prompt', 'project', n.project, 'operation', n.operation,
							  'target_prompt_tokens', round(n.norm)),
		   jsonb_build_object('calls', n.calls, 'median_prompt_tokens', n.median_prompt,
							  'norm_prompt_tokens', n.norm, 'norm_calls', n.norm_calls,
							  'excess_tokens', s.excess_tokens)
	  FROM n
	  JOIN s ON s.project = n.project AND s.operation = n.operation
	 WHERE s.saving >= min_saving AND s.saving > 0;

	---------------------------------------------------------------------------
	-- error_waste: spend on failed calls (status other than success) of a
	-- model, when it is at least 1 % of the model's spend.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH g AS (
		SELECT l.provider, l.model, count(*) AS calls, sum(l.total_cost) AS cost,
			   count(*) FILTER (WHERE l.status <> 'success') AS failed,
			   coalesce(sum(l.total_cost) FILTER (WHERE l.status <> 'success'), 0) AS failed_cost
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.cost_status <> 'unpriced'
		 GROUP BY l.provider, l.model
	)
	SELECT 'error_waste',
		   jsonb_build_array(g.provider, g.model)::text,
		   jsonb_build_object('provider', g.provider, 'models', jsonb_build_array(g.model),
							  'measure', 'failed_cost', 'basis', 'per_request'),
		   format('Stop paying for failed %s calls', g.model),
		   format('%s of %s calls on %s failed (%s %%) and were billed %s USD in the analysed window, '
				  '%s %% of the model''s spend.',
				  g.failed, g.calls, g.model, round(100.0 * g.failed / g.calls, 1),
				  round(g.failed_cost, 4), round(100 * g.failed_cost / nullif(g.cost, 0), 1)),
		   g.cost, g.failed_cost,
		   least(0.9, 0.6 + 0.3 * least(1, g.failed / 100.0)),
		   'medium', 'none', NULL::numeric,
		   jsonb_build_object('action', 'reduce_errors', 'provider', g.provider, 'model', g.model,
							  'statuses', st.statuses),
		   jsonb_build_object('calls', g.calls, 'failed_calls', g.failed,
							  'error_rate', round(g.failed::numeric / g.calls, 4), 'by_status', st.by_status)
	  FROM g,
		   LATERAL (SELECT jsonb_object_agg(x.status, x.cost ORDER BY x.cost DESC) AS by_status,
						   jsonb_agg(x.status ORDER BY x.cost DESC) AS statuses
					  FROM (SELECT l.status, sum(l.total_cost) AS cost
							  FROM costopt.api_usage_logs l
							 WHERE l.organization_id = org
							   AND l.created_at >= from_time AND l.created_at < to_time
							   AND l.provider IS NOT DISTINCT FROM g.provider AND l.model = g.model
							   AND l.status <> 'success' AND l.cost_status <> 'unpriced'
							 GROUP BY l.status) x) st
	 WHERE g.failed_cost >= min_saving AND g.failed_cost > 0 AND g.failed_cost >= 0.01 * g.cost;

	---------------------------------------------------------------------------
	-- rate_limiting: users whose spikes drive the organisation's anomalies.
	-- An hour is a spike for a user (or the organisation) when its spend
	-- exceeds the median active hour by more than costopt.spike_threshold
	-- robust standard deviations (1.4826 MAD, at least a tenth of the
	-- median).  A user is named for the organisation's anomalous hours in
	-- which the user's own excess is at least half the organisation's; the
	-- saving is the user's spend above the cap in those hours, what an
	-- hourly limit at the cap would have held back.
	---------------------------------------------------------------------------
	RETURN QUERY
	WITH h AS MATERIALIZED (
		SELECT l.user_id, date_trunc('hour', l.created_at) AS hour, sum(l.total_cost) AS spend
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = org
		   AND l.created_at >= from_time AND l.created_at < to_time
		   AND l.cost_status <> 'unpriced'
		 GROUP BY l.user_id, date_trunc('hour', l.created_at)
	), org_hour AS (
		SELECT h.hour, sum(h.spend) AS spend FROM h GROUP BY h.hour
	), org_base AS (
		SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY oh.spend)::numeric AS median, count(*) AS hours
		  FROM org_hour oh
	), org_cap AS (
		SELECT ob.median + spike * greatest(1.4826 * d.mad, 0.1 * ob.median) AS cap
		  FROM org_base ob,
			   LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(oh.spend - ob.median))::numeric AS mad
						  FROM org_hour oh) d
		 WHERE ob.hours >= 24
	), base AS (
		SELECT h.user_id, count(*) AS hours, sum(h.spend) AS cost,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY h.spend)::numeric AS median
		  FROM h
		 WHERE h.user_id IS NOT NULL
		 GROUP BY h.user_id
		HAVING count(*) >= 24
	), cap AS (
		SELECT b.*, b.median + spike * greatest(1.4826 * d.mad, 0.1 * b.median) AS cap
		  FROM base b,
			   LATERAL (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(h.spend - b.median))::numeric AS mad
						  FROM h WHERE h.user_id = b.user_id) d
	), s AS (
		SELECT cap.user_id, count(*) AS spike_hours, sum(h.spend - cap.cap) AS excess,
			   max(h.spend) AS peak, (array_agg(h.hour ORDER BY h.spend DESC))[1:5] AS top_hours
		  FROM cap
		  JOIN h ON h.user_id = cap.user_id AND h.spend > cap.cap
		  JOIN org_hour oh ON oh.hour = h.hour
		  CROSS JOIN org_cap oc
		 WHERE oh.spend > oc.cap AND h.spend - cap.cap >= 0.5 * (oh.spend - oc.cap)
		 GROUP BY cap.user_id
	)
	SELECT 'rate_limiting',
		   jsonb_build_array(s.user_id)::text,
		   jsonb_build_object('user_id', s.user_id, 'measure', 'cost', 'basis', 'per_day'),
		   format('Limit the hourly spend of user %s', s.user_id),
		   format('User %s spent more than %s USD (median hour %s USD) in %s of the organisation''s '
				  'anomalous hours, up to %s USD; '
				  'an hourly limit at that cap would have held back %s USD in the analysed window.',
				  s.user_id, round(c.cap::numeric, 4), round(c.median::numeric, 4), s.spike_hours,
				  round(s.peak, 4), round(s.excess::numeric, 4)),
		   c.cost, s.excess::numeric,
		   0.3 + 0.3 * least(1, s.spike_hours / 5.0),
		   'easy', 'medium', NULL::numeric,
		   jsonb_build_object('action', 'rate_limit_user', 'user_id', s.user_id,
							  'hourly_limit_usd', round(c.cap::numeric, 6),
							  'sql', format('SELECT costopt_create_budget(%L, %L, %s, period => ''hourly'', '
											'user_id => %L, enforcement => ''hard'')',
											org, 'hourly cap for ' || s.user_id,
											round(c.cap::numeric, 6), s.user_id)),
		   jsonb_build_object('active_hours', c.hours, 'median_hour_usd', c.median,
							  'hourly_cap_usd', c.cap, 'spike_hours', s.spike_hours,
							  'peak_hour_usd', s.peak, 'top_hours', to_jsonb(s.top_hours))
	  FROM s
	  JOIN cap c ON c.user_id = s.user_id
	 WHERE s.excess >= min_saving AND s.excess > 0;
END;
$$;
COMMENT ON FUNCTION costopt.find_savings(text, timestamptz, timestamptz) IS
	'Waste found in one organisation''s calls of a window, each with its scope, cost and saving';

-------------------------------------------------------------------------------
-- Recommendations
-------------------------------------------------------------------------------

-- Seed weights: savings 50 % (full at 100 USD a month), confidence 30 %,
-- ease 20 % (easy 20, medium 12, hard 5 points).
CREATE FUNCTION costopt.priority_score(monthly_savings numeric, confidence numeric, difficulty text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT round(least(greatest(monthly_savings, 0) / 100, 1) * 50
				 + least(greatest(confidence, 0), 1) * 30
				 + CASE difficulty WHEN 'easy' THEN 20 WHEN 'medium' THEN 12 ELSE 5 END)::integer
$$;
COMMENT ON FUNCTION costopt.priority_score(numeric, numeric, text) IS
	'Priority 0-100: savings 50 % (normalised to 100 USD/month), confidence 30 %, difficulty 20 %';

CREATE FUNCTION costopt.check_analysis_args(org text, days integer, as_of timestamptz)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF org IS NULL OR days IS NULL OR as_of IS NULL THEN
		RAISE EXCEPTION 'organization_id, days and as_of must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF days < 1 OR days > 366 THEN
		RAISE EXCEPTION 'days must be between 1 and 366'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('days is %s.', days),
				  HINT = 'The analysis reads the raw calls of the last "days" days before as_of.';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END;
$$;
COMMENT ON FUNCTION costopt.check_analysis_args(text, integer, timestamptz) IS
	'Validates the arguments of the recommendation and opportunity analyses';

-- Analyses an organisation's last "days" days of calls and records what it
-- finds: new recommendations are inserted, open ones with the same kind and
-- scope are refreshed (pending ones take the new figures, accepted ones
-- keep theirs), pending ones no longer found expire.  A kind and scope
-- rejected in the last 90 days, or implemented within the window, is not
-- recommended again.  Returns the organisation's open recommendations.
CREATE FUNCTION @extschema@.costopt_generate_recommendations(organization_id text,
															 days integer DEFAULT 30,
															 as_of timestamptz DEFAULT now())
RETURNS SETOF costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	org text := costopt_generate_recommendations.organization_id;
	from_time timestamptz;
	month_factor numeric;
	f costopt.finding;
	seen text[] := '{}';
	monthly_savings numeric;
	monthly_cost numeric;
BEGIN
	PERFORM costopt.require_organization(org, '{org_admin}');
	PERFORM costopt.check_analysis_args(org, days, as_of);
	-- one analysis of an organisation at a time
	PERFORM pg_advisory_xact_lock(hashtext('costopt.recommendations'), hashtext(org));
	-- days of 24 hours: the window must not depend on the session's time zone
	from_time := as_of - days * interval '24 hours';
	month_factor := 30.0 / days;

	FOR f IN SELECT * FROM costopt.find_savings(org, from_time, as_of) LOOP
		seen := seen || (f.kind || ' ' || f.scope_key);
		CONTINUE WHEN EXISTS (
			SELECT 1 FROM costopt.cost_recommendations x
			 WHERE x.organization_id = org AND x.recommendation_type = f.kind
			   AND x.scope_key = f.scope_key
			   AND (x.rejected_at > now() - interval '90 days'
					OR (x.status IN ('implemented', 'verified', 'archived') AND x.implemented_at > from_time)));
		monthly_savings := round(f.window_savings * month_factor, 6);
		monthly_cost := round(f.window_cost * month_factor, 6);
		INSERT INTO costopt.cost_recommendations AS r
			(organization_id, recommendation_type, scope_key, scope, title, description,
			 current_monthly_cost, projected_monthly_cost, estimated_savings, savings_percentage,
			 priority_score, confidence_score, implementation_difficulty, quality_impact,
			 quality_score_change, recommended_action, analysis_data, valid_until)
		VALUES (org, f.kind, f.scope_key, f.scope, f.title, f.description,
				monthly_cost, greatest(monthly_cost - monthly_savings, 0), monthly_savings,
				CASE WHEN f.window_cost > 0
					 THEN least(round(100 * f.window_savings / f.window_cost, 2), 100) ELSE 0 END,
				costopt.priority_score(monthly_savings, f.confidence, f.difficulty),
				round(f.confidence, 4), f.difficulty, f.quality_impact,
				round(f.quality_change, 4), f.action,
				f.detail || jsonb_build_object('window_from', from_time, 'window_to', as_of,
											   'window_days', days, 'window_cost', f.window_cost,
											   'window_savings', f.window_savings),
				now() + interval '30 days')
		ON CONFLICT (organization_id, recommendation_type, scope_key)
			WHERE status IN ('pending', 'accepted')
		DO UPDATE SET
			times_detected = r.times_detected + 1,
			last_detected_at = now(),
			scope = EXCLUDED.scope,
			title = EXCLUDED.title,
			description = EXCLUDED.description,
			current_monthly_cost = EXCLUDED.current_monthly_cost,
			projected_monthly_cost = EXCLUDED.projected_monthly_cost,
			estimated_savings = EXCLUDED.estimated_savings,
			savings_percentage = EXCLUDED.savings_percentage,
			priority_score = EXCLUDED.priority_score,
			confidence_score = EXCLUDED.confidence_score,
			implementation_difficulty = EXCLUDED.implementation_difficulty,
			quality_impact = EXCLUDED.quality_impact,
			quality_score_change = EXCLUDED.quality_score_change,
			recommended_action = EXCLUDED.recommended_action,
			analysis_data = EXCLUDED.analysis_data,
			valid_until = EXCLUDED.valid_until
		WHERE r.status = 'pending';
		-- an accepted one keeps the figures it was accepted on
		IF NOT FOUND THEN
			UPDATE costopt.cost_recommendations x
			   SET times_detected = x.times_detected + 1, last_detected_at = now()
			 WHERE x.organization_id = org AND x.recommendation_type = f.kind
			   AND x.scope_key = f.scope_key AND x.status = 'accepted';
		END IF;
	END LOOP;

	-- pending recommendations this analysis no longer supports, or past
	-- their validity, expire
	UPDATE costopt.cost_recommendations x
	   SET status = 'expired',
		   status_reason = CASE WHEN x.valid_until <= now() THEN 'not acted on before valid_until'
								ELSE format('no longer found in the calls of %s to %s', from_time, as_of) END
	 WHERE x.organization_id = org AND x.status = 'pending'
	   AND (x.valid_until <= now() OR NOT (x.recommendation_type || ' ' || x.scope_key) = ANY (seen));

	RETURN QUERY
	SELECT x.* FROM costopt.cost_recommendations x
	 WHERE x.organization_id = org AND x.status IN ('pending', 'accepted')
	 ORDER BY x.priority_score DESC, x.estimated_savings DESC, x.id;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_generate_recommendations(text, integer, timestamptz) IS
	'Finds savings in an organisation''s recent calls and records them as recommendations; returns the open ones';

-- A recommendation locked for a change (undefined_object when none).
CREATE FUNCTION costopt.recommendation_for_update(recommendation_id bigint)
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations;
BEGIN
	SELECT * INTO r FROM costopt.cost_recommendations x WHERE x.id = recommendation_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'recommendation % does not exist', coalesce(recommendation_id::text, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'List recommendations with SELECT * FROM costopt.v_top_recommendations.';
	END IF;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION costopt.recommendation_for_update(bigint) IS
	'Locks and returns a recommendation; undefined_object when the id names none';

CREATE FUNCTION @extschema@.costopt_accept_recommendation(recommendation_id bigint,
														  accepted_by text DEFAULT current_user)
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations := costopt.recommendation_for_update(recommendation_id);
BEGIN
	PERFORM costopt.recommendation_check_move(r.id, r.status, 'accepted');
	UPDATE costopt.cost_recommendations x
	   SET status = 'accepted', accepted_by = costopt_accept_recommendation.accepted_by
	 WHERE x.id = r.id RETURNING * INTO r;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_accept_recommendation(bigint, text) IS
	'Accepts a pending recommendation';

CREATE FUNCTION @extschema@.costopt_reject_recommendation(recommendation_id bigint, reason text)
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations := costopt.recommendation_for_update(recommendation_id);
BEGIN
	PERFORM costopt.recommendation_check_move(r.id, r.status, 'rejected');
	IF reason IS NULL OR btrim(reason) = '' THEN
		RAISE EXCEPTION 'rejecting a recommendation needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why, e.g. costopt_reject_recommendation(7, ''quality not acceptable for legal review'').';
	END IF;
	UPDATE costopt.cost_recommendations x
	   SET status = 'rejected', status_reason = reason
	 WHERE x.id = r.id RETURNING * INTO r;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_reject_recommendation(bigint, text) IS
	'Rejects a pending or accepted recommendation, with a reason; the same kind and scope is not recommended again for 90 days';

CREATE FUNCTION @extschema@.costopt_implement_recommendation(recommendation_id bigint,
															 implemented_at timestamptz DEFAULT now(),
															 implemented_by text DEFAULT current_user)
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations := costopt.recommendation_for_update(recommendation_id);
BEGIN
	PERFORM costopt.recommendation_check_move(r.id, r.status, 'implemented');
	IF implemented_at IS NULL OR NOT isfinite(implemented_at) OR implemented_at > now() THEN
		RAISE EXCEPTION 'implemented_at must be a finite time, not in the future'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('implemented_at is %s.', coalesce(implemented_at::text, 'NULL'));
	END IF;
	UPDATE costopt.cost_recommendations x
	   SET status = 'implemented',
		   implemented_at = costopt_implement_recommendation.implemented_at,
		   implemented_by = costopt_implement_recommendation.implemented_by
	 WHERE x.id = r.id RETURNING * INTO r;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_implement_recommendation(bigint, timestamptz, text) IS
	'Marks an accepted recommendation implemented (at the time the change went live)';

CREATE FUNCTION @extschema@.costopt_archive_recommendation(recommendation_id bigint)
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations := costopt.recommendation_for_update(recommendation_id);
BEGIN
	PERFORM costopt.recommendation_check_move(r.id, r.status, 'archived');
	UPDATE costopt.cost_recommendations x SET status = 'archived'
	 WHERE x.id = r.id RETURNING * INTO r;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_archive_recommendation(bigint) IS
	'Archives a rejected, implemented, verified or expired recommendation';

-- Measures what an implemented recommendation saves: the scope's spend in
-- the period after implemented_at against an equally long period before it
-- (at most the analysis window, at least one day).  Per-request scopes
-- compare cost per call, so a change in traffic does not count as a saving;
-- per-day scopes (caching, rate limits: the calls themselves go away)
-- compare spend.  The result is a monthly (30-day) figure; it can be
-- negative.  Verifying again later re-measures.
CREATE FUNCTION @extschema@.costopt_verify_recommendation(recommendation_id bigint,
														  as_of timestamptz DEFAULT now())
RETURNS costopt.cost_recommendations
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations := costopt.recommendation_for_update(recommendation_id);
	span interval;
	b record;
	a record;
	window_saving numeric;
	monthly numeric;
BEGIN
	IF r.status NOT IN ('implemented', 'verified') THEN
		RAISE EXCEPTION 'recommendation % is %, only an implemented recommendation can be verified',
			r.id, r.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Mark it implemented with costopt_implement_recommendation() once the change is live.';
	END IF;
	IF as_of IS NULL OR NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be a finite time' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	span := least(as_of - r.implemented_at,
				  coalesce((r.analysis_data ->> 'window_days')::integer, 30) * interval '24 hours');
	IF span < interval '1 day' THEN
		RAISE EXCEPTION 'recommendation % was implemented less than a day before %', r.id, as_of
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('It was implemented at %s.', r.implemented_at),
				  HINT = 'Verify after at least one day of traffic; a week or more gives a steadier figure.';
	END IF;
	b := costopt.scope_usage(r.organization_id, r.scope, r.implemented_at - span, r.implemented_at);
	a := costopt.scope_usage(r.organization_id, r.scope, r.implemented_at, r.implemented_at + span);
	IF r.scope ->> 'basis' = 'per_request' THEN
		IF b.requests = 0 OR a.requests = 0 THEN
			RAISE EXCEPTION 'recommendation % has no calls in its scope % implementation', r.id,
				CASE WHEN b.requests = 0 THEN 'before' ELSE 'after' END
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Scope %s: %s calls before, %s after.', r.scope, b.requests, a.requests),
					  HINT = 'Savings per call need calls on both sides; verify again when traffic has resumed.';
		END IF;
		window_saving := (b.spend / b.requests - a.spend / a.requests) * a.requests;
	ELSE
		window_saving := b.spend - a.spend;
	END IF;
	monthly := round(window_saving * 2592000 / extract(epoch FROM span), 6);
	UPDATE costopt.cost_recommendations x
	   SET status = 'verified',
		   actual_savings = monthly,
		   results_verified_at = now(),
		   verification = jsonb_build_object(
			   'basis', r.scope ->> 'basis', 'days', round(extract(epoch FROM span) / 86400, 2),
			   'before', jsonb_build_object('from', r.implemented_at - span, 'to', r.implemented_at,
											'spend', b.spend, 'requests', b.requests),
			   'after', jsonb_build_object('from', r.implemented_at, 'to', r.implemented_at + span,
										   'spend', a.spend, 'requests', a.requests),
			   'window_savings', round(window_saving, 6),
			   'realized_percent', CASE WHEN r.estimated_savings > 0
										THEN round(100 * monthly / r.estimated_savings, 1) END)
	 WHERE x.id = r.id RETURNING * INTO r;
	RETURN r;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_verify_recommendation(bigint, timestamptz) IS
	'Measures an implemented recommendation''s monthly savings from its scope''s spend before and after';

-- Return on an implementation: the verified monthly saving when there is
-- one, else the estimate; savings start after implementation_days.
CREATE FUNCTION @extschema@.costopt_recommendation_roi(recommendation_id bigint,
													   implementation_cost numeric,
													   implementation_days integer DEFAULT 0,
													   OUT monthly_savings numeric,
													   OUT first_year_savings numeric,
													   OUT break_even_months numeric,
													   OUT roi_percent numeric,
													   OUT savings_basis text)
RETURNS record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r costopt.cost_recommendations;
	months_running numeric;
BEGIN
	IF implementation_cost IS NULL OR implementation_cost < 0 OR implementation_cost = 'NaN'
	   OR implementation_days IS NULL OR implementation_days < 0 THEN
		RAISE EXCEPTION 'implementation_cost and implementation_days must be non-negative'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('implementation_cost %s, implementation_days %s.',
								  coalesce(implementation_cost::text, 'NULL'),
								  coalesce(implementation_days::text, 'NULL'));
	END IF;
	SELECT * INTO r FROM costopt.cost_recommendations x WHERE x.id = recommendation_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'recommendation % does not exist', coalesce(recommendation_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	savings_basis := CASE WHEN r.actual_savings IS NOT NULL THEN 'verified' ELSE 'estimated' END;
	monthly_savings := coalesce(r.actual_savings, r.estimated_savings);
	months_running := greatest(12 - implementation_days / 30.0, 0);
	first_year_savings := round(monthly_savings * months_running, 2);
	break_even_months := CASE WHEN monthly_savings > 0
							  THEN round(implementation_days / 30.0 + implementation_cost / monthly_savings, 2) END;
	roi_percent := CASE WHEN implementation_cost > 0
						THEN round(100 * (monthly_savings * months_running - implementation_cost)
								   / implementation_cost, 1) END;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_recommendation_roi(bigint, numeric, integer) IS
	'Monthly and first-year savings, break-even months and first-year ROI of implementing a recommendation';

-- The open recommendations, best first within each organisation.
CREATE VIEW costopt.v_top_recommendations AS
SELECT r.organization_id,
	   rank() OVER (PARTITION BY r.organization_id
					ORDER BY r.priority_score DESC, r.estimated_savings DESC, r.id)::integer AS rank,
	   r.id, r.recommendation_type, r.title, r.status, r.priority_score,
	   r.estimated_savings, r.current_monthly_cost, r.projected_monthly_cost, r.savings_percentage,
	   r.confidence_score, r.implementation_difficulty, r.quality_impact, r.recommended_action,
	   r.description, r.valid_until, r.last_detected_at
  FROM costopt.cost_recommendations r
 WHERE r.status = 'accepted' OR (r.status = 'pending' AND r.valid_until > now());
COMMENT ON VIEW costopt.v_top_recommendations IS
	'Open recommendations (accepted ones, and pending ones still valid) ranked by priority within each organisation';

-------------------------------------------------------------------------------
-- Savings opportunities
-------------------------------------------------------------------------------

-- Rolls the findings of an organisation's last "days" days up into savings
-- opportunities, one per kind of waste and model (duplicates: one for the
-- organisation): expensive_model_overuse (model_downgrade findings),
-- low_cache_hit_rate (prompt_caching), high_error_rate (error_waste),
-- duplicate_requests (response_caching) and off_peak_usage_potential
-- (deferrable traffic, batch_processing).  Open ones (open, investigating,
-- planned) are refreshed, new ones added, open ones no longer found expire.
-- Returns the organisation's open opportunities.
CREATE FUNCTION @extschema@.costopt_detect_opportunities(organization_id text,
														 days integer DEFAULT 30,
														 as_of timestamptz DEFAULT now())
RETURNS SETOF costopt.savings_opportunities
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	org text := costopt_detect_opportunities.organization_id;
	from_time timestamptz;
	month_factor numeric;
	min_monthly numeric := current_setting('costopt.recommendation_min_savings')::numeric;
	o record;
	seen text[] := '{}';
	scope_models text[];
BEGIN
	PERFORM costopt.require_organization(org, '{org_admin}');
	PERFORM costopt.check_analysis_args(org, days, as_of);
	PERFORM pg_advisory_xact_lock(hashtext('costopt.opportunities'), hashtext(org));
	-- days of 24 hours: the window must not depend on the session's time zone
	from_time := as_of - days * interval '24 hours';
	month_factor := 30.0 / days;

	FOR o IN
		WITH f AS (
			SELECT CASE f.kind WHEN 'model_downgrade' THEN 'expensive_model_overuse'
							   WHEN 'prompt_caching' THEN 'low_cache_hit_rate'
							   WHEN 'error_waste' THEN 'high_error_rate'
							   WHEN 'response_caching' THEN 'duplicate_requests'
							   WHEN 'batch_processing' THEN 'off_peak_usage_potential' END AS type,
				   CASE WHEN f.kind = 'response_caching' THEN NULL ELSE f.scope -> 'models' ->> 0 END AS model,
				   f.*
			  FROM costopt.find_savings(org, from_time, as_of) f
			 -- spend spikes and prompt bloat have no opportunity type of their own
			 WHERE f.kind NOT IN ('rate_limiting', 'prompt_optimization')
		)
		SELECT f.type, coalesce(f.model, '*') AS key,
			   CASE WHEN f.model IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(f.model) END AS models,
			   sum(f.window_cost) AS window_cost, sum(f.window_savings) AS window_savings,
			   max(f.confidence) AS confidence,
			   max(CASE f.difficulty WHEN 'easy' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END) AS effort,
			   jsonb_agg(jsonb_build_object('kind', f.kind, 'scope', f.scope, 'title', f.title,
											'window_savings', f.window_savings, 'detail', f.detail)
						 ORDER BY f.window_savings DESC) AS findings,
			   jsonb_agg(f.scope ORDER BY f.window_savings DESC) AS scopes,
			   array_agg(DISTINCT f.title) AS actions
		  FROM f
		 GROUP BY f.type, f.model
	LOOP
		CONTINUE WHEN o.window_savings * month_factor < min_monthly;
		seen := seen || (o.type || ' ' || o.key);
		-- the models every scope names, to find the affected users quickly
		scope_models := CASE WHEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(o.scopes) sc
												WHERE NOT sc.value ? 'models')
							 THEN ARRAY(SELECT DISTINCT jsonb_array_elements_text(sc.value -> 'models')
										  FROM jsonb_array_elements(o.scopes) sc) END;
		INSERT INTO costopt.savings_opportunities AS s
			(organization_id, opportunity_type, opportunity_key, title, description,
			 affected_models, affected_users, affected_period, current_monthly_cost,
			 potential_savings, savings_percentage, detection_confidence, supporting_data,
			 recommended_actions, estimated_implementation_hours, expires_at)
		SELECT org, o.type, o.key,
			   CASE o.type
				   WHEN 'expensive_model_overuse' THEN format('%s is used where a cheaper model would do', o.key)
				   WHEN 'low_cache_hit_rate' THEN format('Prompts on %s miss the provider''s cache', o.key)
				   WHEN 'high_error_rate' THEN format('Failed calls on %s are billed', o.key)
				   WHEN 'duplicate_requests' THEN 'Identical requests are sent and paid for again'
				   ELSE format('Deferrable traffic on %s runs at interactive prices', o.key) END,
			   format('%s finding(s) in the calls of %s to %s: %s USD of %s USD a month could be saved.',
					  jsonb_array_length(o.findings), from_time, as_of,
					  round(o.window_savings * month_factor, 2), round(o.window_cost * month_factor, 2)),
			   o.models,
			   coalesce((SELECT jsonb_agg(u.user_id ORDER BY u.spend DESC)
						   FROM (SELECT l.user_id, sum(l.total_cost) AS spend
								   FROM costopt.api_usage_logs l
								  WHERE l.organization_id = org
									AND l.created_at >= from_time AND l.created_at < as_of
									AND l.user_id IS NOT NULL
									-- cheap pre-filter on the models the scopes name
									AND (scope_models IS NULL OR l.model = ANY (scope_models))
									AND EXISTS (SELECT 1 FROM jsonb_array_elements(o.scopes) sc
												 WHERE costopt.in_scope(l, sc.value))
								  GROUP BY l.user_id
								  ORDER BY spend DESC
								  LIMIT 20) u), '[]'),
			   jsonb_build_object('start', from_time, 'end', as_of, 'days', days),
			   round(o.window_cost * month_factor, 6), round(o.window_savings * month_factor, 6),
			   CASE WHEN o.window_cost > 0 THEN least(round(100 * o.window_savings / o.window_cost, 2), 100) ELSE 0 END,
			   round(o.confidence, 4),
			   jsonb_build_object('findings', o.findings),
			   o.actions,
			   CASE o.effort WHEN 1 THEN 2 WHEN 2 THEN 8 ELSE 24 END,
			   now() + make_interval(days => days)
		ON CONFLICT (organization_id, opportunity_type, opportunity_key)
			WHERE status IN ('open', 'investigating', 'planned')
		DO UPDATE SET
			description = EXCLUDED.description,
			affected_models = EXCLUDED.affected_models,
			affected_users = EXCLUDED.affected_users,
			affected_period = EXCLUDED.affected_period,
			current_monthly_cost = EXCLUDED.current_monthly_cost,
			potential_savings = EXCLUDED.potential_savings,
			savings_percentage = EXCLUDED.savings_percentage,
			detection_confidence = EXCLUDED.detection_confidence,
			supporting_data = EXCLUDED.supporting_data,
			recommended_actions = EXCLUDED.recommended_actions,
			expires_at = EXCLUDED.expires_at,
			times_detected = s.times_detected + 1,
			last_detected_at = now();
	END LOOP;

	-- open opportunities no longer found, or past their expiry, expire;
	-- planned ones stay (work has been scheduled)
	UPDATE costopt.savings_opportunities x
	   SET status = 'expired',
		   resolution_notes = coalesce(x.resolution_notes,
									   format('no longer found in the calls of %s to %s', from_time, as_of))
	 WHERE x.organization_id = org AND x.status IN ('open', 'investigating')
	   AND (x.expires_at <= now() OR NOT (x.opportunity_type || ' ' || x.opportunity_key) = ANY (seen));

	RETURN QUERY
	SELECT x.* FROM costopt.savings_opportunities x
	 WHERE x.organization_id = org AND x.status IN ('open', 'investigating', 'planned')
	 ORDER BY x.potential_savings DESC, x.id;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_detect_opportunities(text, integer, timestamptz) IS
	'Detects savings opportunities (per kind of waste and model) in an organisation''s recent calls; returns the open ones';

-- Moves an opportunity through its workflow and/or assigns it; notes are
-- required to dismiss.
CREATE FUNCTION @extschema@.costopt_update_opportunity(opportunity_id bigint,
													   status text DEFAULT NULL,
													   notes text DEFAULT NULL,
													   assigned_to text DEFAULT NULL)
RETURNS costopt.savings_opportunities
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s costopt.savings_opportunities;
BEGIN
	SELECT * INTO s FROM costopt.savings_opportunities x WHERE x.id = opportunity_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'savings opportunity % does not exist', coalesce(opportunity_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF lower(costopt_update_opportunity.status) = 'dismissed' AND coalesce(btrim(notes), '') = '' THEN
		RAISE EXCEPTION 'dismissing an opportunity needs notes'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why it is not worth doing.';
	END IF;
	IF costopt_update_opportunity.status IS NOT NULL
	   AND lower(costopt_update_opportunity.status) NOT IN ('open', 'investigating', 'planned', 'implemented',
															'dismissed', 'expired') THEN
		RAISE EXCEPTION 'unknown opportunity status "%"', costopt_update_opportunity.status
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use investigating, planned, implemented or dismissed.';
	END IF;
	UPDATE costopt.savings_opportunities x
	   SET status = coalesce(lower(costopt_update_opportunity.status), x.status),
		   resolution_notes = coalesce(notes, x.resolution_notes),
		   assigned_to = coalesce(costopt_update_opportunity.assigned_to, x.assigned_to)
	 WHERE x.id = s.id RETURNING * INTO s;
	RETURN s;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_update_opportunity(bigint, text, text, text) IS
	'Moves a savings opportunity through open, investigating, planned, implemented or dismissed, or assigns it';

-- Records the savings an implemented opportunity achieved.
CREATE FUNCTION @extschema@.costopt_verify_opportunity(opportunity_id bigint, actual_savings numeric,
													   verified_by text DEFAULT current_user)
RETURNS costopt.savings_opportunities
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s costopt.savings_opportunities;
BEGIN
	SELECT * INTO s FROM costopt.savings_opportunities x WHERE x.id = opportunity_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'savings opportunity % does not exist', coalesce(opportunity_id::text, 'NULL')
			USING ERRCODE = 'undefined_object';
	END IF;
	IF s.status <> 'implemented' THEN
		RAISE EXCEPTION 'savings opportunity % is %, only an implemented one can be verified', s.id, s.status
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Move it to implemented with costopt_update_opportunity() first.';
	END IF;
	IF actual_savings IS NULL OR actual_savings = 'NaN' THEN
		RAISE EXCEPTION 'actual_savings must be a number' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE costopt.savings_opportunities x
	   SET verified = true, actual_savings = costopt_verify_opportunity.actual_savings,
		   verified_by = costopt_verify_opportunity.verified_by
	 WHERE x.id = s.id RETURNING * INTO s;
	RETURN s;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_verify_opportunity(bigint, numeric, text) IS
	'Records the monthly savings an implemented savings opportunity achieved';

-------------------------------------------------------------------------------
-- Model alternatives
-------------------------------------------------------------------------------

-- Active models of the same mode whose quality is at least min_quality
-- (default: the model's own quality minus costopt.downgrade_quality_margin),
-- cheapest first.  relative_cost compares a call of 3 input tokens per
-- output token (list prices); cost_per_million is that blend per million
-- tokens.
CREATE FUNCTION @extschema@.costopt_model_alternatives(model text,
													   min_quality numeric DEFAULT NULL,
													   model_provider text DEFAULT NULL)
RETURNS TABLE (provider text, model_name text, model_tier text, quality_score numeric,
			   quality_change numeric, context_window integer, input_price numeric,
			   output_price numeric, cost_per_million numeric, relative_cost numeric,
			   cheaper boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur costopt.model_pricing;
	floor_q numeric;
	cur_blend numeric;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF min_quality IS NOT NULL AND (min_quality < 0 OR min_quality > 1) THEN
		RAISE EXCEPTION 'min_quality must be between 0 and 1'
			USING ERRCODE = 'invalid_parameter_value', DETAIL = format('min_quality is %s.', min_quality);
	END IF;
	SELECT * INTO cur FROM costopt.price_at(model_provider, model, now());
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no price for model "%"', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add a price to costopt.model_pricing or an alias to costopt.model_aliases.';
	END IF;
	floor_q := coalesce(min_quality,
						cur.quality_score - current_setting('costopt.downgrade_quality_margin')::numeric);
	cur_blend := (3 * cur.input_price + cur.output_price) / 4;

	RETURN QUERY
	SELECT c.provider, c.model_name, c.model_tier, c.quality_score::numeric,
		   (c.quality_score - cur.quality_score)::numeric, c.context_window,
		   c.input_price, c.output_price,
		   round((3 * c.input_price + c.output_price) / 4, 6),
		   CASE WHEN cur_blend > 0 THEN round((3 * c.input_price + c.output_price) / 4 / cur_blend, 4) END,
		   (3 * c.input_price + c.output_price) / 4 < cur_blend
	  FROM (SELECT DISTINCT ON (mp.provider, mp.model_name) mp.*
			  FROM costopt.model_pricing mp
			 WHERE mp.effective_from <= now()
			 ORDER BY mp.provider, mp.model_name, mp.effective_from DESC) c
	 WHERE (c.effective_to IS NULL OR c.effective_to > now())
	   AND c.is_active AND c.mode = cur.mode
	   AND (c.provider, c.model_name) <> (cur.provider, cur.model_name)
	   AND (floor_q IS NULL OR c.quality_score >= floor_q)
	 ORDER BY (3 * c.input_price + c.output_price), c.quality_score DESC NULLS LAST, c.provider, c.model_name;
END;
$$;
COMMENT ON FUNCTION @extschema@.costopt_model_alternatives(text, numeric, text) IS
	'Active models of the same mode and adequate quality, cheapest first, priced relative to the given model';

-------------------------------------------------------------------------------
-- Scheduled jobs (rows in costopt.jobs, sql/install/92_scheduler.sql)
-------------------------------------------------------------------------------

-- Organisations with calls in the last 30 days, from the daily rollups.
CREATE FUNCTION costopt.active_organizations(since timestamptz)
RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT a.organization_id
	  FROM costopt.cost_analysis a
	 WHERE a.period_type = 'daily' AND a.period_end > since
	UNION
	SELECT DISTINCT d.organization_id
	  FROM costopt.rollup_deltas d
	 WHERE d.hour >= since
$$;
COMMENT ON FUNCTION costopt.active_organizations(timestamptz) IS
	'Organisations with calls since a time (rollups and pending deltas)';

-- The recommendations job: every active organisation's recommendations,
-- then housekeeping (recommendations and opportunities finished more than
-- 180 days ago are archived).  Returns the open recommendations.
CREATE FUNCTION costopt.recommendations_job()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	org text;
	n bigint := 0;
BEGIN
	FOR org IN SELECT * FROM costopt.active_organizations(now() - interval '30 days') ORDER BY 1 LOOP
		n := n + (SELECT count(*) FROM @extschema@.costopt_generate_recommendations(org));
	END LOOP;
	UPDATE costopt.cost_recommendations r SET status = 'archived'
	 WHERE r.status IN ('rejected', 'implemented', 'verified', 'expired')
	   AND r.updated_at < now() - interval '180 days';
	RETURN n;
END;
$$;
COMMENT ON FUNCTION costopt.recommendations_job() IS
	'Scheduled: recommendations for every active organisation, archive after 180 days';

CREATE FUNCTION costopt.savings_detection_job()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	org text;
	n bigint := 0;
BEGIN
	FOR org IN SELECT * FROM costopt.active_organizations(now() - interval '30 days') ORDER BY 1 LOOP
		n := n + (SELECT count(*) FROM @extschema@.costopt_detect_opportunities(org));
	END LOOP;
	DELETE FROM costopt.savings_opportunities s
	 WHERE s.status IN ('dismissed', 'expired') AND s.updated_at < now() - interval '180 days';
	RETURN n;
END;
$$;
COMMENT ON FUNCTION costopt.savings_detection_job() IS
	'Scheduled: savings opportunities for every active organisation, resolved ones removed after 180 days';

-------------------------------------------------------------------------------
-- 88_chargeback.sql
-------------------------------------------------------------------------------
-------------------------------------------------------------------------------
-- Chargeback, showback and invoices
-------------------------------------------------------------------------------
--
-- Both functions read the raw usage log (not the rollups): chargeback keys
-- such as projects, operations and tags are not in the rollups, and the
-- range is taken exactly as given, half-open [from_time, to_time), to the
-- microsecond.  They scan one organisation's calls through the
-- (organization_id, created_at) index of each partition; once raw calls
-- have aged out (costopt_cleanup), only the calls still in the log count.
--
-- The money rules (doc/chargeback.md has the long version):
--
--  * Chargeback: a call without a value for the dimension (NULL or '') is
--    unallocated.  Its cost is shared among the allocated keys in
--    proportion to their direct cost.  Each share is truncated to 6
--    decimals (never rounded up, so the remainder is never negative and no
--    key is ever charged less than nothing); the remainder goes to the key
--    with the largest direct cost (ties: the first key in "C" collation).
--    The unallocated row shows its cost as direct_cost and minus that as
--    allocated_cost, so every row has total = direct + allocated, the
--    allocated column sums to 0, and the total column sums to the
--    organisation's spend to the last digit.
--  * Invoice: a line's amount is its exact cost rounded half-up to cents;
--    the subtotal is the sum of the printed amounts; discount and tax are
--    rounded half-up to cents; every printed figure adds up.

-- Spend of one organisation in [from_time, to_time), per value of a
-- dimension, with unallocated spend shown apart and distributed.
CREATE FUNCTION @extschema@.costopt_chargeback(organization_id text,
											   from_time timestamptz,
											   to_time timestamptz,
											   dimension text DEFAULT 'user')
RETURNS TABLE (allocation_key text, requests bigint, direct_cost numeric,
			   allocated_cost numeric, total_cost numeric, share_percent numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	column_name text;
	tag_key text;
BEGIN
	IF organization_id IS NULL OR from_time IS NULL OR to_time IS NULL OR dimension IS NULL THEN
		RAISE EXCEPTION 'organization_id, from_time, to_time and dimension must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF dimension IN ('user', 'project', 'model', 'provider', 'operation') THEN
		column_name := dimension;
	ELSIF left(dimension, 4) = 'tag:' THEN
		tag_key := substr(dimension, 5);
		IF tag_key = '' THEN
			RAISE EXCEPTION 'tag dimension "tag:" names no tag key'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Write the key after "tag:", e.g. tag:team for the tag {"team": ...}.';
		END IF;
	ELSE
		RAISE EXCEPTION 'unknown dimension "%"', dimension
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Use user, project, model, provider, operation or tag:<key>; to break down by the tag "%s", write tag:%s.',
								dimension, dimension);
	END IF;
	PERFORM costopt.check_period(organization_id, from_time, to_time);

	-- Every column below is qualified: the output columns (total_cost, ...)
	-- and the arguments (organization_id, ...) are PL/pgSQL variables.
	RETURN QUERY
	WITH calls AS (
		SELECT nullif(CASE column_name
						  WHEN 'user' THEN u.user_id
						  WHEN 'project' THEN u.project
						  WHEN 'model' THEN u.model
						  WHEN 'provider' THEN u.provider
						  WHEN 'operation' THEN u.operation
						  ELSE u.tags ->> tag_key
					  END, '') AS k,
			   coalesce(u.total_cost, 0) AS cost
		  FROM costopt.api_usage_logs u
		 WHERE u.organization_id = costopt_chargeback.organization_id
		   AND u.created_at >= costopt_chargeback.from_time
		   AND u.created_at < costopt_chargeback.to_time
	), keyed AS (
		SELECT c.k, count(*) AS n, sum(c.cost) AS direct
		  FROM calls c
		 GROUP BY c.k
	), pool AS (
		-- unallocated: the cost to distribute; base: what it is distributed by
		SELECT coalesce(sum(kd.direct) FILTER (WHERE kd.k IS NULL), 0) AS unallocated,
			   coalesce(sum(kd.direct) FILTER (WHERE kd.k IS NOT NULL), 0) AS base,
			   sum(kd.direct) AS spend
		  FROM keyed kd
	), shares AS (
		SELECT kd.k, kd.n, kd.direct,
			   CASE WHEN p.base = 0 THEN 0
					WHEN kd.k IS NULL THEN -p.unallocated
					ELSE trunc(p.unallocated * kd.direct / p.base, 6)
			   END AS share,
			   row_number() OVER (ORDER BY kd.k IS NULL, kd.direct DESC,
										   kd.k COLLATE "C") = 1 AS largest
		  FROM keyed kd, pool p
	), allocated AS (
		SELECT s.k, s.n, s.direct,
			   s.share + CASE WHEN s.largest AND s.k IS NOT NULL AND p.base > 0
							  THEN p.unallocated
								   - sum(s.share) FILTER (WHERE s.k IS NOT NULL) OVER ()
							  ELSE 0 END AS alloc,
			   p.spend
		  FROM shares s, pool p
	)
	SELECT a.k, a.n, a.direct, a.alloc, a.direct + a.alloc,
		   round(100 * (a.direct + a.alloc) / nullif(a.spend, 0), 2)
	  FROM allocated a
	 ORDER BY a.direct + a.alloc DESC, a.k COLLATE "C";
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_chargeback(text, timestamptz, timestamptz, text) IS
	'Spend of an organisation by user, project, model, provider, operation or tag, with unallocated spend distributed proportionally';

-- An invoice for one organisation's calls in [from_time, to_time): one line
-- per provider and model, discount and tax as fractions, amounts in cents.
CREATE FUNCTION @extschema@.costopt_invoice(organization_id text,
											from_time timestamptz,
											to_time timestamptz,
											discount numeric DEFAULT 0,
											tax_rate numeric DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	doc jsonb;
BEGIN
	IF organization_id IS NULL OR from_time IS NULL OR to_time IS NULL
	   OR discount IS NULL OR tax_rate IS NULL THEN
		RAISE EXCEPTION 'organization_id, from_time, to_time, discount and tax_rate must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass 0 for no discount or no tax.';
	END IF;
	PERFORM costopt.check_period(organization_id, from_time, to_time);
	-- NaN sorts above every number, so it fails "< 1"
	IF NOT (discount >= 0 AND discount < 1) THEN
		RAISE EXCEPTION 'discount must be a fraction in [0, 1)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('discount is %s.', discount),
				  HINT = 'Write 10 % as 0.1.';
	END IF;
	IF NOT (tax_rate >= 0 AND tax_rate < 1) THEN
		RAISE EXCEPTION 'tax_rate must be a fraction in [0, 1)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('tax_rate is %s.', tax_rate),
				  HINT = 'Write 20 % as 0.2.';
	END IF;

	WITH lines AS (
		SELECT u.provider, u.model, count(*) AS n,
			   count(*) FILTER (WHERE u.cost_status = 'unpriced') AS unpriced,
			   coalesce(sum(u.input_tokens), 0) AS input_tokens,
			   coalesce(sum(u.output_tokens), 0) AS output_tokens,
			   coalesce(sum(u.cached_input_tokens), 0) AS cached_input_tokens,
			   coalesce(sum(u.input_cost), 0) AS input_cost,
			   coalesce(sum(u.output_cost), 0) AS output_cost,
			   coalesce(sum(u.total_cost), 0) AS cost,
			   round(coalesce(sum(u.total_cost), 0), 2) AS amount
		  FROM costopt.api_usage_logs u
		 WHERE u.organization_id = costopt_invoice.organization_id
		   AND u.created_at >= costopt_invoice.from_time
		   AND u.created_at < costopt_invoice.to_time
		 GROUP BY u.provider, u.model
	), sums AS (
		SELECT round(coalesce(sum(l.amount), 0), 2) AS subtotal,
			   coalesce(sum(l.cost), 0) AS usage_cost,
			   coalesce(sum(l.n), 0) AS n,
			   coalesce(sum(l.unpriced), 0) AS unpriced,
			   coalesce(jsonb_agg(jsonb_build_object(
						   'provider', l.provider,
						   'model', l.model,
						   'requests', l.n,
						   'unpriced_requests', l.unpriced,
						   'input_tokens', l.input_tokens,
						   'output_tokens', l.output_tokens,
						   'cached_input_tokens', l.cached_input_tokens,
						   'input_cost', l.input_cost,
						   'output_cost', l.output_cost,
						   'amount', l.amount)
						 ORDER BY l.amount DESC, l.cost DESC, l.provider COLLATE "C",
								  l.model COLLATE "C"),
						'[]') AS items
		  FROM lines l
	), money AS (
		SELECT s.*, round(s.subtotal * costopt_invoice.discount, 2) AS discount_amount
		  FROM sums s
	), net AS (
		SELECT m.*, m.subtotal - m.discount_amount AS net
		  FROM money m
	)
	SELECT jsonb_build_object(
			   'organization_id', costopt_invoice.organization_id,
			   'period', jsonb_build_object('from', costopt_invoice.from_time,
											'to', costopt_invoice.to_time),
			   'currency', 'USD',
			   'generated_at', now(),
			   'line_items', x.items,
			   'requests', x.n,
			   'unpriced_requests', x.unpriced,
			   'usage_cost', x.usage_cost,
			   'subtotal', x.subtotal,
			   'discount', costopt_invoice.discount,
			   'discount_amount', x.discount_amount,
			   'net', x.net,
			   'tax_rate', costopt_invoice.tax_rate,
			   'tax', round(x.net * costopt_invoice.tax_rate, 2),
			   'total', x.net + round(x.net * costopt_invoice.tax_rate, 2))
	  INTO doc
	  FROM net x;
	RETURN doc;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_invoice(text, timestamptz, timestamptz, numeric, numeric) IS
	'Invoice of an organisation''s calls in a time range as JSON: lines per provider and model, discount, tax, total in cents';

-------------------------------------------------------------------------------
-- 95_security.sql
-------------------------------------------------------------------------------
-------------------------------------------------------------------------------
-- Roles, organisation membership and row-level security (doc/security.md)
--
--   costopt_reader     reads the organisations it is a member of
--   costopt_writer     also writes usage rows (and reserves budget) for them
--   costopt_org_admin  also manages their budgets and recommendations
--   costopt_admin      everything: prices, every organisation, the jobs
--
-- A role's organisations are the rows of costopt.organization_members
-- naming it or a role it inherits from.  Every organisation-scoped table
-- has row-level security; the views are security_invoker; functions run as
-- their caller except the few noted below.  Table owners and superusers
-- (the scheduler worker) are not subject to row-level security.
-------------------------------------------------------------------------------

-- Roles are cluster-wide: created here once for every database, never
-- dropped by DROP EXTENSION (another database may use them).
DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['costopt_reader', 'costopt_writer', 'costopt_org_admin', 'costopt_admin'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
	-- each role has the privileges of the one before it
	IF NOT pg_catalog.pg_has_role('costopt_writer', 'costopt_reader', 'MEMBER') THEN
		GRANT costopt_reader TO costopt_writer;
	END IF;
	IF NOT pg_catalog.pg_has_role('costopt_org_admin', 'costopt_writer', 'MEMBER') THEN
		GRANT costopt_writer TO costopt_org_admin;
	END IF;
	IF NOT pg_catalog.pg_has_role('costopt_admin', 'costopt_org_admin', 'MEMBER') THEN
		GRANT costopt_org_admin TO costopt_admin;
	END IF;
END
$$;

CREATE TABLE costopt.organization_members (
	member          name NOT NULL,
	organization_id text NOT NULL,
	access          text NOT NULL DEFAULT 'reader',
	granted_by      name NOT NULL DEFAULT current_user,
	created_at      timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT organization_members_pkey PRIMARY KEY (member, organization_id, access),
	CONSTRAINT organization_members_access_check CHECK (access IN ('reader', 'writer', 'org_admin')),
	CONSTRAINT organization_members_org_check CHECK (length(organization_id) BETWEEN 1 AND 200)
);
SELECT pg_catalog.pg_extension_config_dump('costopt.organization_members', '');
COMMENT ON TABLE costopt.organization_members IS
	'Which database roles may see (reader), write usage for (writer) or manage (org_admin) which organisations';

-- Whether the current role has costopt_admin's privileges (superusers
-- have every role's).
CREATE FUNCTION costopt.is_admin()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_has_role(current_user, 'costopt_admin', 'USAGE')
$$;
COMMENT ON FUNCTION costopt.is_admin() IS
	'True when the current role has costopt_admin''s privileges';

-- The organisations the current role (or a role it inherits from) has one
-- of the given kinds of access to; members of a group role share its rows.
CREATE FUNCTION costopt.member_organizations(access text[] DEFAULT '{reader,writer,org_admin}')
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT m.organization_id
	  FROM costopt.organization_members m
	  JOIN pg_roles r ON r.rolname = m.member
	 WHERE m.access = ANY (member_organizations.access)
	   AND pg_has_role(current_user, r.oid, 'USAGE')
$$;
COMMENT ON FUNCTION costopt.member_organizations(text[]) IS
	'Organisations the current role may read (default) or has the given access to';

-- Raises 42501 unless the current role has one of the given kinds of
-- access to an organisation (admins have all).  Functions that take an
-- organisation call it first (through costopt.check_period where they take
-- a time range too) so that a wrong organisation gets an error, not an
-- empty answer; row-level security protects the data either way.
CREATE FUNCTION costopt.require_organization(org text, access text[] DEFAULT '{reader,writer,org_admin}')
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF org IS NULL OR costopt.is_admin()
	   OR (SELECT r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user)
	   OR org IN (SELECT costopt.member_organizations(access)) THEN
		RETURN;
	END IF;
	RAISE EXCEPTION 'permission denied for organization "%"', org
		USING ERRCODE = 'insufficient_privilege',
			  DETAIL = format('Role %s has no %s access to it.', current_user,
							  array_to_string(access, ' or ')),
			  HINT = 'An admin grants it with INSERT INTO costopt.organization_members (member, organization_id, access).';
END;
$$;
COMMENT ON FUNCTION costopt.require_organization(text, text[]) IS
	'Raises 42501 unless the current role has the given access to an organisation';

-------------------------------------------------------------------------------
-- Row-level security
-------------------------------------------------------------------------------

ALTER TABLE costopt.organization_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON costopt.organization_members FOR SELECT
	USING (EXISTS (SELECT 1 FROM pg_roles r
					WHERE r.rolname = member AND pg_has_role(current_user, r.oid, 'USAGE')));
CREATE POLICY admins ON costopt.organization_members FOR ALL
	USING ((SELECT costopt.is_admin())) WITH CHECK ((SELECT costopt.is_admin()));

-- Every organisation-scoped table: members read their organisations' rows,
-- admins everything; the write policies of writers and organisation admins
-- follow.
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['api_usage_logs', 'rollup_deltas', 'cost_analysis', 'rollup_archive',
							 'cost_forecasts', 'budgets', 'budget_alerts', 'budget_reservations', 'budget_deltas', 'cost_recommendations',
							 'savings_opportunities'] LOOP
		EXECUTE format('ALTER TABLE costopt.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY members_read ON costopt.%I FOR SELECT '
					   'USING (organization_id IN (SELECT costopt.member_organizations()))', t);
		EXECUTE format('CREATE POLICY admins ON costopt.%I FOR ALL '
					   'USING ((SELECT costopt.is_admin())) WITH CHECK ((SELECT costopt.is_admin()))', t);
	END LOOP;

	-- usage rows: writers and organisation admins insert; reservations:
	-- made, released and settled by writers
	CREATE POLICY writers_insert ON costopt.api_usage_logs FOR INSERT
		WITH CHECK (organization_id IN (SELECT costopt.member_organizations('{writer,org_admin}')));
	-- (a reservation may only hold budgets of its own organisation)
	CREATE POLICY writers_write ON costopt.budget_reservations FOR ALL
		USING (organization_id IN (SELECT costopt.member_organizations('{writer,org_admin}')))
		WITH CHECK (organization_id IN (SELECT costopt.member_organizations('{writer,org_admin}'))
					AND budget_ids <@ ARRAY(SELECT b.id FROM costopt.budgets b
											 WHERE b.organization_id = budget_reservations.organization_id));
	-- a reservation changes the budget's "reserved" (column privilege below)
	CREATE POLICY writers_reserve ON costopt.budgets FOR UPDATE
		USING (organization_id IN (SELECT costopt.member_organizations('{writer,org_admin}')))
		WITH CHECK (organization_id IN (SELECT costopt.member_organizations('{writer,org_admin}')));

	-- organisation admins manage budgets and recommendations; an alert may
	-- only name a budget of its own organisation
	CREATE POLICY org_admins_write ON costopt.budget_alerts FOR ALL
		USING (organization_id IN (SELECT costopt.member_organizations('{org_admin}')))
		WITH CHECK (organization_id IN (SELECT costopt.member_organizations('{org_admin}'))
					AND budget_id IN (SELECT b.id FROM costopt.budgets b
									   WHERE b.organization_id = budget_alerts.organization_id));
	FOREACH t IN ARRAY ARRAY['budgets', 'cost_recommendations', 'savings_opportunities'] LOOP
		EXECUTE format('CREATE POLICY org_admins_write ON costopt.%I FOR ALL '
					   'USING (organization_id IN (SELECT costopt.member_organizations(''{org_admin}'')))'
					   ' WITH CHECK (organization_id IN (SELECT costopt.member_organizations(''{org_admin}'')))', t);
	END LOOP;
END
$$;

-- budget_history rows belong to their budget's organisation
ALTER TABLE costopt.budget_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON costopt.budget_history FOR SELECT
	USING (budget_id IN (SELECT b.id FROM costopt.budgets b
						  WHERE b.organization_id IN (SELECT costopt.member_organizations())));
CREATE POLICY admins ON costopt.budget_history FOR ALL
	USING ((SELECT costopt.is_admin())) WITH CHECK ((SELECT costopt.is_admin()));
CREATE POLICY org_admins_write ON costopt.budget_history FOR ALL
	USING (budget_id IN (SELECT b.id FROM costopt.budgets b
						  WHERE b.organization_id IN (SELECT costopt.member_organizations('{org_admin}'))))
	WITH CHECK (budget_id IN (SELECT b.id FROM costopt.budgets b
							   WHERE b.organization_id IN (SELECT costopt.member_organizations('{org_admin}'))));

-- Views read their tables with the caller's rights, so row-level security
-- applies to them too.
ALTER VIEW costopt.v_monthly_cost_summary SET (security_invoker = true);
ALTER VIEW costopt.v_daily_costs SET (security_invoker = true);
ALTER VIEW costopt.v_model_costs SET (security_invoker = true);
ALTER VIEW costopt.v_user_costs SET (security_invoker = true);
ALTER VIEW costopt.v_active_budget_status SET (security_invoker = true);
ALTER VIEW costopt.v_top_recommendations SET (security_invoker = true);
ALTER VIEW costopt.v_job_status SET (security_invoker = true);

-------------------------------------------------------------------------------
-- Privileges
-------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA costopt TO costopt_reader;

-- anyone may look up its own memberships (row-level security shows no
-- other rows): the access checks of the policies read them for every role
GRANT SELECT ON costopt.organization_members TO PUBLIC;

-- readers: the catalog, their organisations' data and the views
GRANT SELECT ON costopt.model_pricing, costopt.model_aliases,
	costopt.api_usage_logs, costopt.rollup_state, costopt.rollup_deltas, costopt.cost_analysis,
	costopt.rollup_archive,
	costopt.cost_forecasts, costopt.budgets, costopt.budget_history, costopt.budget_alerts,
	costopt.budget_reservations, costopt.budget_deltas, costopt.cost_recommendations,
	costopt.savings_opportunities,
	costopt.v_monthly_cost_summary, costopt.v_daily_costs, costopt.v_model_costs,
	costopt.v_user_costs, costopt.v_active_budget_status, costopt.v_top_recommendations
	TO costopt_reader;

-- writers: usage rows, reservations
GRANT INSERT ON costopt.api_usage_logs TO costopt_writer;
GRANT USAGE ON SEQUENCE costopt.api_usage_logs_id_seq TO costopt_writer;
GRANT INSERT, UPDATE ON costopt.budget_reservations TO costopt_writer;
GRANT USAGE ON SEQUENCE costopt.budget_reservations_id_seq TO costopt_writer;
GRANT UPDATE (reserved) ON costopt.budgets TO costopt_writer;

-- organisation admins: budgets, alerts, recommendations, opportunities
GRANT INSERT, UPDATE, DELETE ON costopt.budgets, costopt.budget_history, costopt.budget_alerts,
	costopt.cost_recommendations, costopt.savings_opportunities
	TO costopt_org_admin;
GRANT USAGE ON SEQUENCE costopt.budgets_id_seq, costopt.cost_recommendations_id_seq,
	costopt.savings_opportunities_id_seq
	TO costopt_org_admin;

-- admins: everything in the schema
GRANT ALL ON ALL TABLES IN SCHEMA costopt TO costopt_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA costopt TO costopt_admin;

-- Functions that change every organisation's state, prices or the
-- schedule: admins only.  The rest are executable by anyone and read and
-- write with the caller's rights.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
									AND d.deptype = 'e'
		  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'costopt'
		 WHERE p.proname IN ('costopt_refresh_rollups', 'costopt_refresh_budgets', 'costopt_run_forecasts',
							 'costopt_cleanup', 'costopt_create_partitions', 'costopt_recost',
							 'costopt_load_pricing', 'costopt_attach_costing', 'costopt_verify_rollups',
							 'cleanup_job', 'recommendations_job', 'savings_detection_job',
							 'costopt_run_job', 'costopt_schedule_cron', 'costopt_unschedule_cron',
							 'cron_sync')
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO costopt_admin', f);
	END LOOP;
END
$$;

-- A new budget takes its spend from the raw log under a SHARE lock of the
-- usage log, which an organisation admin may not take: the trigger runs
-- as the extension's owner.  It only reads the new budget's organisation,
-- whose row the admin's write policy has to accept anyway.
ALTER FUNCTION costopt.budget_prepare() SECURITY DEFINER;
