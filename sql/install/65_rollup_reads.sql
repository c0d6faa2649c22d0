-------------------------------------------------------------------------------
-- Reading the rollups: analysis, breakdowns, trends, top drivers, BI views
-------------------------------------------------------------------------------

-- The rollup rows of one organisation in [from_time, to_time), at the
-- coarsest grain whose buckets tile the range (monthly, daily or hourly;
-- 'finest' caps it, e.g. 'daily' when the caller groups by day), including
-- committed changes not yet refreshed, so reads are exact and current.  The
-- range must be whole hours (callers round it).
CREATE FUNCTION costopt.rollup_range(org text, from_time timestamptz, to_time timestamptz,
									 finest text DEFAULT 'monthly')
RETURNS TABLE (period_start timestamptz, user_id text, provider text, model_name text,
			   requests numeric, input_tokens numeric, output_tokens numeric,
			   cached_input_tokens numeric, cache_write_tokens numeric, reasoning_tokens numeric,
			   error_count numeric, latency_sum numeric, latency_count numeric,
			   unpriced_requests numeric, input_cost numeric, output_cost numeric,
			   total_cost numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	grain text;
	grains text[] := ARRAY['hourly', 'daily', 'monthly'];
	field text;
BEGIN
	tz := costopt.rollup_timezone();
	-- coarsest grain, no coarser than 'finest', whose buckets tile the range
	FOREACH grain IN ARRAY ARRAY['monthly', 'daily', 'hourly'] LOOP
		CONTINUE WHEN array_position(grains, grain) > array_position(grains, finest);
		field := CASE grain WHEN 'monthly' THEN 'month' WHEN 'daily' THEN 'day' ELSE 'hour' END;
		EXIT WHEN date_trunc(field, from_time, tz) = from_time
			  AND date_trunc(field, to_time, tz) = to_time;
	END LOOP;

	RETURN QUERY
	SELECT k.period_start, k.user_id, k.provider, k.model_name,
		   sum(k.requests), sum(k.input_tokens), sum(k.output_tokens),
		   sum(k.cached_input_tokens), sum(k.cache_write_tokens), sum(k.reasoning_tokens),
		   sum(k.error_count), sum(k.latency_sum), sum(k.latency_count),
		   sum(k.unpriced_requests), sum(k.input_cost), sum(k.output_cost), sum(k.total_cost)
	  FROM (SELECT c.period_start, c.user_id, c.provider, c.model_name,
				   c.total_requests::numeric AS requests, c.input_tokens::numeric AS input_tokens,
				   c.output_tokens::numeric AS output_tokens,
				   c.cached_input_tokens::numeric AS cached_input_tokens,
				   c.cache_write_tokens::numeric AS cache_write_tokens,
				   c.reasoning_tokens::numeric AS reasoning_tokens,
				   c.error_count::numeric AS error_count, c.latency_sum::numeric AS latency_sum,
				   c.latency_count::numeric AS latency_count,
				   c.unpriced_requests::numeric AS unpriced_requests,
				   c.input_cost, c.output_cost, c.total_cost
			  FROM costopt.cost_analysis c
			 WHERE c.organization_id = org AND c.period_type = grain
			   AND c.period_start >= from_time AND c.period_start < to_time
			UNION ALL
			SELECT p.period_start, d.user_id, d.provider, d.model,
				   d.requests, d.input_tokens, d.output_tokens, d.cached_input_tokens,
				   d.cache_write_tokens, d.reasoning_tokens, d.error_count, d.latency_sum,
				   d.latency_count, d.unpriced_requests, d.input_cost, d.output_cost,
				   d.total_cost
			  FROM costopt.rollup_deltas d, LATERAL costopt.rollup_periods(d.hour, tz) p
			 WHERE d.organization_id = org AND p.period_type = grain
			   AND d.hour >= from_time AND d.hour < to_time) k
	 GROUP BY 1, 2, 3, 4
	HAVING sum(k.requests) <> 0;
END;
$$;

COMMENT ON FUNCTION costopt.rollup_range(text, timestamptz, timestamptz, text) IS
	'Rollup rows of an organisation in a whole-hour range, at the coarsest fitting grain, including unrefreshed changes';

-- ts + i computed on the wall clock of time zone tz (a day is a calendar
-- day there, 23 or 25 hours across a daylight-saving change).
CREATE FUNCTION costopt.tz_add(ts timestamptz, i interval, tz text)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ((ts AT TIME ZONE tz) + i) AT TIME ZONE tz
$$;

COMMENT ON FUNCTION costopt.tz_add(timestamptz, interval, text) IS
	'Adds an interval on the wall clock of a time zone';

-- Validates a time range of one organisation's data: the role may read
-- the organisation (42501), nothing is NULL (22004), from_time is before
-- to_time and both are finite (22023).
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

-- Validates a read range (costopt.check_period) and widens it to whole
-- hours, the grain of the rollups.
CREATE FUNCTION costopt.check_range(org text, INOUT from_time timestamptz,
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

COMMENT ON FUNCTION costopt.check_range(text, timestamptz, timestamptz) IS
	'Validates a read range and widens it to whole hours';

-- Spend of an organisation in a time range, grouped, with totals and
-- percentages.  group_by: model, user, provider, hour (labelled in UTC, so
-- no hour is ambiguous), day, week, month (in the rollup time zone).  The
-- range is widened to whole hours.  The last row (group_key NULL,
-- is_total true) holds the totals.
CREATE FUNCTION @extschema@.costopt_cost_analysis(organization_id text,
												  from_time timestamptz,
												  to_time timestamptz,
												  group_by text DEFAULT 'model')
RETURNS TABLE (group_key text, requests bigint, input_tokens bigint, output_tokens bigint,
			   cached_input_tokens bigint, total_cost numeric, input_cost numeric,
			   output_cost numeric, pct_of_cost numeric, cost_per_request numeric,
			   error_count bigint, unpriced_requests bigint, avg_latency_ms numeric,
			   is_total boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f timestamptz;
	t timestamptz;
	tz text;
	finest text;
BEGIN
	IF group_by IS NULL OR group_by NOT IN ('model', 'user', 'provider', 'hour', 'day', 'week', 'month') THEN
		RAISE EXCEPTION 'unknown group_by "%"', group_by
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use model, user, provider, hour, day, week or month.';
	END IF;
	SELECT r.from_time, r.to_time INTO f, t
	  FROM costopt.check_range(costopt_cost_analysis.organization_id, costopt_cost_analysis.from_time,
							   costopt_cost_analysis.to_time) r;
	tz := costopt.rollup_timezone();
	finest := CASE group_by WHEN 'hour' THEN 'hourly' WHEN 'day' THEN 'daily'
							WHEN 'week' THEN 'daily' ELSE 'monthly' END;

	RETURN QUERY
	WITH rr AS (
		SELECT CASE group_by
				   WHEN 'model' THEN r.model_name
				   WHEN 'user' THEN coalesce(r.user_id, '(no user)')
				   WHEN 'provider' THEN coalesce(r.provider, '(no provider)')
				   WHEN 'hour' THEN to_char(r.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00"Z"')
				   WHEN 'day' THEN to_char(r.period_start AT TIME ZONE tz, 'YYYY-MM-DD')
				   WHEN 'week' THEN to_char(date_trunc('week', r.period_start, tz) AT TIME ZONE tz, 'IYYY-"W"IW')
				   ELSE to_char(date_trunc('month', r.period_start, tz) AT TIME ZONE tz, 'YYYY-MM')
			   END AS k,
			   r.*
		  FROM costopt.rollup_range(costopt_cost_analysis.organization_id, f, t, finest) r
	), grouped AS (
		SELECT rr.k, sum(rr.requests) AS requests, sum(rr.input_tokens) AS input_tokens,
			   sum(rr.output_tokens) AS output_tokens,
			   sum(rr.cached_input_tokens) AS cached_input_tokens,
			   sum(rr.total_cost) AS total_cost, sum(rr.input_cost) AS input_cost,
			   sum(rr.output_cost) AS output_cost, sum(rr.error_count) AS error_count,
			   sum(rr.unpriced_requests) AS unpriced_requests,
			   sum(rr.latency_sum) AS latency_sum, sum(rr.latency_count) AS latency_count,
			   false AS is_total
		  FROM rr GROUP BY rr.k
		UNION ALL
		SELECT NULL, sum(rr.requests), sum(rr.input_tokens), sum(rr.output_tokens),
			   sum(rr.cached_input_tokens), coalesce(sum(rr.total_cost), 0),
			   coalesce(sum(rr.input_cost), 0), coalesce(sum(rr.output_cost), 0),
			   sum(rr.error_count), sum(rr.unpriced_requests), sum(rr.latency_sum),
			   sum(rr.latency_count), true
		  FROM rr
	)
	SELECT g.k, coalesce(g.requests, 0)::bigint, coalesce(g.input_tokens, 0)::bigint,
		   coalesce(g.output_tokens, 0)::bigint, coalesce(g.cached_input_tokens, 0)::bigint,
		   g.total_cost, g.input_cost, g.output_cost,
		   round(100 * g.total_cost / nullif(sum(g.total_cost) FILTER (WHERE g.is_total) OVER (), 0), 2),
		   round(g.total_cost / nullif(g.requests, 0), 8),
		   coalesce(g.error_count, 0)::bigint, coalesce(g.unpriced_requests, 0)::bigint,
		   round(g.latency_sum / nullif(g.latency_count, 0), 1), g.is_total
	  FROM grouped g
	 ORDER BY g.is_total,
			  CASE WHEN group_by IN ('hour', 'day', 'week', 'month') THEN g.k END,
			  g.total_cost DESC, g.k;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_cost_analysis(text, timestamptz, timestamptz, text) IS
	'Spend of an organisation in a time range by model, user, provider or period, with totals and percentages';

-- Spend of the last 'days' days (today included) by model, user or provider.
CREATE FUNCTION @extschema@.costopt_breakdown(organization_id text,
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

COMMENT ON FUNCTION @extschema@.costopt_breakdown(text, text, integer) IS
	'Spend of the last days by model, user or provider, with percentages';

-- A metric per period over the last 'days' days, with the trend: direction,
-- percent change of the second half over the first half (the seed's rule,
-- 5 % either way counts as a change) and the least-squares slope per period.
-- Periods without calls count as zero.
CREATE FUNCTION @extschema@.costopt_trends(organization_id text,
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

COMMENT ON FUNCTION @extschema@.costopt_trends(text, text, integer, text) IS
	'A metric per period with trend direction, half-over-half change and slope';

-- The users and models that drive spend in the last 'days' days, with their
-- share and the change against the 'days' days before.
CREATE FUNCTION @extschema@.costopt_top_cost_drivers(organization_id text,
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

COMMENT ON FUNCTION @extschema@.costopt_top_cost_drivers(text, integer, integer) IS
	'Users and models that drive spend, with their share and change against the previous window';

-------------------------------------------------------------------------------
-- Views for BI tools (they read the rollups only; refresh first for the last
-- minutes)
-------------------------------------------------------------------------------

CREATE VIEW costopt.v_monthly_cost_summary AS
SELECT c.organization_id,
	   c.period_start AS month_start,
	   sum(c.total_requests) AS total_requests,
	   sum(c.input_tokens) AS input_tokens,
	   sum(c.output_tokens) AS output_tokens,
	   sum(c.total_tokens) AS total_tokens,
	   sum(c.cached_input_tokens) AS cached_input_tokens,
	   sum(c.input_cost) AS input_cost,
	   sum(c.output_cost) AS output_cost,
	   sum(c.total_cost) AS total_cost,
	   round(sum(c.total_cost) / nullif(sum(c.total_requests), 0), 8) AS cost_per_request,
	   sum(c.error_count) AS error_count,
	   round(sum(c.error_count)::numeric / nullif(sum(c.total_requests), 0), 4) AS error_rate,
	   round(sum(c.latency_sum)::numeric / nullif(sum(c.latency_count), 0), 1) AS avg_latency_ms,
	   sum(c.unpriced_requests) AS unpriced_requests,
	   count(DISTINCT c.model_name) AS models,
	   count(DISTINCT c.user_id) AS users
  FROM costopt.cost_analysis c
 WHERE c.period_type = 'monthly'
 GROUP BY c.organization_id, c.period_start;

COMMENT ON VIEW costopt.v_monthly_cost_summary IS
	'Spend per organisation and month (from the monthly rollups)';

CREATE VIEW costopt.v_daily_costs AS
SELECT c.organization_id,
	   c.period_start AS day_start,
	   sum(c.total_requests) AS total_requests,
	   sum(c.total_tokens) AS total_tokens,
	   sum(c.input_cost) AS input_cost,
	   sum(c.output_cost) AS output_cost,
	   sum(c.total_cost) AS total_cost,
	   sum(c.error_count) AS error_count,
	   round(sum(c.latency_sum)::numeric / nullif(sum(c.latency_count), 0), 1) AS avg_latency_ms,
	   sum(c.unpriced_requests) AS unpriced_requests
  FROM costopt.cost_analysis c
 WHERE c.period_type = 'daily'
 GROUP BY c.organization_id, c.period_start;

COMMENT ON VIEW costopt.v_daily_costs IS
	'Spend per organisation and day (from the daily rollups)';

CREATE VIEW costopt.v_model_costs AS
SELECT c.organization_id,
	   c.period_start AS month_start,
	   c.provider,
	   c.model_name,
	   sum(c.total_requests) AS total_requests,
	   sum(c.input_tokens) AS input_tokens,
	   sum(c.output_tokens) AS output_tokens,
	   sum(c.total_cost) AS total_cost,
	   round(sum(c.total_cost) / nullif(sum(c.total_requests), 0), 8) AS cost_per_request,
	   round(100 * sum(c.total_cost) / nullif(sum(sum(c.total_cost))
			 OVER (PARTITION BY c.organization_id, c.period_start), 0), 2) AS pct_of_month,
	   sum(c.error_count) AS error_count
  FROM costopt.cost_analysis c
 WHERE c.period_type = 'monthly'
 GROUP BY c.organization_id, c.period_start, c.provider, c.model_name;

COMMENT ON VIEW costopt.v_model_costs IS
	'Spend per organisation, month, provider and model (from the monthly rollups)';

CREATE VIEW costopt.v_user_costs AS
SELECT c.organization_id,
	   c.period_start AS month_start,
	   c.user_id,
	   sum(c.total_requests) AS total_requests,
	   sum(c.total_tokens) AS total_tokens,
	   sum(c.total_cost) AS total_cost,
	   round(sum(c.total_cost) / nullif(sum(c.total_requests), 0), 8) AS cost_per_request,
	   round(100 * sum(c.total_cost) / nullif(sum(sum(c.total_cost))
			 OVER (PARTITION BY c.organization_id, c.period_start), 0), 2) AS pct_of_month,
	   count(DISTINCT c.model_name) AS models,
	   sum(c.error_count) AS error_count
  FROM costopt.cost_analysis c
 WHERE c.period_type = 'monthly'
 GROUP BY c.organization_id, c.period_start, c.user_id;

COMMENT ON VIEW costopt.v_user_costs IS
	'Spend per organisation, month and user (from the monthly rollups)';
