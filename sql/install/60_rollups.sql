-------------------------------------------------------------------------------
-- Cost rollups: exact, incremental
-------------------------------------------------------------------------------

-- Settings of the rollups (one row).  Buckets are whole hours in UTC; days,
-- weeks (ISO, starting Monday) and months are aligned in rollup_timezone.
-- raw_horizon is the start of the raw usage still kept (see costopt_cleanup):
-- rollups before it cannot be verified against raw rows.
CREATE TABLE costopt.rollup_state (
	singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	rollup_timezone text NOT NULL DEFAULT 'UTC',
	raw_horizon     timestamptz NOT NULL DEFAULT '-infinity',
	last_refresh_at timestamptz,
	CONSTRAINT rollup_state_timezone_check
		CHECK (now() AT TIME ZONE rollup_timezone IS NOT NULL)
);
-- No row is created here: a dump restores the row users changed, and code
-- that reads the settings falls back to the defaults when there is none.
SELECT pg_catalog.pg_extension_config_dump('costopt.rollup_state', '');

COMMENT ON TABLE costopt.rollup_state IS
	'Rollup settings: the time zone that aligns days, weeks and months, and the raw-data horizon';

-- The rollup time zone (UTC until someone sets one).
CREATE FUNCTION costopt.rollup_timezone()
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(max(s.rollup_timezone), 'UTC') FROM costopt.rollup_state s
$$;

COMMENT ON FUNCTION costopt.rollup_timezone() IS
	'The time zone that aligns rollup days, weeks and months';

-- What committed usage-log changes still have to do to the rollups: signed
-- per-hour sums per organisation, user, provider and model.  Written by
-- costopt's commit hook with direct heap inserts (so: no indexes on this
-- table), consumed by costopt_refresh_rollups().
CREATE TABLE costopt.rollup_deltas (
	organization_id     text NOT NULL,
	user_id             text,
	provider            text,
	model               text NOT NULL,
	hour                timestamptz NOT NULL,
	requests            bigint NOT NULL,
	input_tokens        bigint NOT NULL,
	output_tokens       bigint NOT NULL,
	cached_input_tokens bigint NOT NULL,
	cache_write_tokens  bigint NOT NULL,
	reasoning_tokens    bigint NOT NULL,
	error_count         bigint NOT NULL,
	latency_sum         bigint NOT NULL,
	latency_count       bigint NOT NULL,
	unpriced_requests   bigint NOT NULL,
	input_cost          numeric NOT NULL,
	output_cost         numeric NOT NULL,
	total_cost          numeric NOT NULL
);
-- Not dumped: see costopt.cost_analysis.

COMMENT ON TABLE costopt.rollup_deltas IS
	'Usage-log changes not yet applied to costopt.cost_analysis (written at commit, consumed by costopt_refresh_rollups)';

-- The rollups.  One row per organisation, user, provider, model (as the
-- calls reported them), period type and period; every measure is a sum, so
-- rollups of any grain add up, and averages are sums divided by counts.
CREATE TABLE costopt.cost_analysis (
	id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	organization_id     text NOT NULL,
	user_id             text,
	provider            text,
	model_name          text NOT NULL,
	period_type         text NOT NULL,
	period_start        timestamptz NOT NULL,
	period_end          timestamptz NOT NULL,
	total_requests      bigint NOT NULL DEFAULT 0,
	input_tokens        bigint NOT NULL DEFAULT 0,
	output_tokens       bigint NOT NULL DEFAULT 0,
	total_tokens        bigint GENERATED ALWAYS AS (input_tokens + output_tokens) STORED,
	cached_input_tokens bigint NOT NULL DEFAULT 0,
	cache_write_tokens  bigint NOT NULL DEFAULT 0,
	reasoning_tokens    bigint NOT NULL DEFAULT 0,
	input_cost          numeric NOT NULL DEFAULT 0,
	output_cost         numeric NOT NULL DEFAULT 0,
	total_cost          numeric NOT NULL DEFAULT 0,
	error_count         bigint NOT NULL DEFAULT 0,
	error_rate          numeric GENERATED ALWAYS AS
		(round(error_count::numeric / nullif(total_requests, 0), 4)) STORED,
	latency_sum         bigint NOT NULL DEFAULT 0,
	latency_count       bigint NOT NULL DEFAULT 0,
	avg_latency_ms      numeric GENERATED ALWAYS AS
		(round(latency_sum::numeric / nullif(latency_count, 0), 1)) STORED,
	unpriced_requests   bigint NOT NULL DEFAULT 0,
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT cost_analysis_period_type_check
		CHECK (period_type IN ('hourly', 'daily', 'weekly', 'monthly')),
	CONSTRAINT cost_analysis_period_check CHECK (period_end > period_start),
	CONSTRAINT cost_analysis_key UNIQUE NULLS NOT DISTINCT
		(organization_id, period_type, period_start, user_id, provider, model_name)
);
CREATE INDEX cost_analysis_period_idx ON costopt.cost_analysis (period_type, period_start);
-- The rollups and the pending deltas are derived from the usage log and are
-- not dumped: restoring the usage log runs the capture trigger, which
-- rebuilds them exactly (the next refresh applies them).  Dumping them too
-- would count every restored call twice.


COMMENT ON TABLE costopt.cost_analysis IS
	'Exact hourly, daily, weekly and monthly cost rollups by organisation, user, provider and model';

-- Capture: every written usage row becomes a delta at commit.
CREATE FUNCTION costopt.rollup_capture()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'costopt_rollup_capture';

COMMENT ON FUNCTION costopt.rollup_capture() IS
	'AFTER row trigger: records what each usage-log change does to the rollups (written at commit)';

CREATE TRIGGER costopt_rollup_capture
	AFTER INSERT OR UPDATE OR DELETE ON costopt.api_usage_logs
	FOR EACH ROW EXECUTE FUNCTION costopt.rollup_capture();

-- TRUNCATE of the usage log takes its calls out of the rollups too (as a
-- DELETE would): their contribution is subtracted first.  TRUNCATE of a
-- single partition is not seen; use DELETE or costopt_cleanup() for those.
CREATE FUNCTION costopt.rollup_capture_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('costopt.retention_mode', true) = 'on' THEN
		RETURN NULL;
	END IF;
	INSERT INTO costopt.rollup_deltas
	SELECT r.organization_id, r.user_id, r.provider, r.model, r.hour, -r.requests,
		   -r.input_tokens, -r.output_tokens, -r.cached_input_tokens, -r.cache_write_tokens,
		   -r.reasoning_tokens, -r.error_count, -r.latency_sum, -r.latency_count,
		   -r.unpriced_requests, -r.input_cost, -r.output_cost, -r.total_cost
	  FROM costopt.raw_hourly(NULL, '-infinity', 'infinity') r;
	RETURN NULL;
END;
$$;

COMMENT ON FUNCTION costopt.rollup_capture_truncate() IS
	'BEFORE TRUNCATE trigger: subtracts the calls of the usage log from the rollups';

-- The rollup buckets of one hour: (period_type, period_start, period_end).
-- No SET clause: PostgreSQL inlines it into the refresh, which calls it for
-- every hourly row (its callers fix the search_path).
CREATE FUNCTION costopt.rollup_periods(hour timestamptz, tz text)
RETURNS TABLE (period_type text, period_start timestamptz, period_end timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
	SELECT 'hourly', hour, hour OPERATOR(pg_catalog.+) interval '1 hour'
	UNION ALL
	SELECT p.t, s, (s AT TIME ZONE tz OPERATOR(pg_catalog.+) p.len) AT TIME ZONE tz
	  FROM (VALUES ('daily', 'day', interval '1 day'),
				   ('weekly', 'week', interval '7 days'),
				   ('monthly', 'month', interval '1 month')) AS p(t, field, len),
		   LATERAL pg_catalog.date_trunc(p.field, hour, tz) AS s
$$;

COMMENT ON FUNCTION costopt.rollup_periods(timestamptz, text) IS
	'The hourly, daily, weekly and monthly buckets an hour falls in, aligned in a time zone';

-- Applies every committed change not yet in the rollups.  Refreshes run one
-- at a time; a refresh that fails or is cancelled changes nothing.
CREATE FUNCTION @extschema@.costopt_refresh_rollups(OUT delta_rows bigint,
													OUT calls bigint,
													OUT rollup_rows bigint,
													OUT removed_rows bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	emptied bigint[];
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('costopt.refresh_rollups'));
	INSERT INTO costopt.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
	SELECT s.rollup_timezone INTO tz FROM costopt.rollup_state s;

	WITH consumed AS (
		DELETE FROM costopt.rollup_deltas RETURNING *
	), hourly AS (
		SELECT d.organization_id, d.user_id, d.provider, d.model, d.hour,
			   count(*) AS n, sum(d.requests)::bigint AS requests,
			   sum(d.input_tokens)::bigint AS input_tokens, sum(d.output_tokens)::bigint AS output_tokens,
			   sum(d.cached_input_tokens)::bigint AS cached_input_tokens,
			   sum(d.cache_write_tokens)::bigint AS cache_write_tokens,
			   sum(d.reasoning_tokens)::bigint AS reasoning_tokens,
			   sum(d.error_count)::bigint AS error_count, sum(d.latency_sum)::bigint AS latency_sum,
			   sum(d.latency_count)::bigint AS latency_count, sum(d.unpriced_requests)::bigint AS unpriced_requests,
			   sum(d.input_cost) AS input_cost, sum(d.output_cost) AS output_cost,
			   sum(d.total_cost) AS total_cost
		  FROM consumed d
		 GROUP BY 1, 2, 3, 4, 5
	), periods AS (
		SELECT h.organization_id, h.user_id, h.provider, h.model, p.period_type,
			   p.period_start, p.period_end,
			   sum(h.requests)::bigint AS requests, sum(h.input_tokens)::bigint AS input_tokens,
			   sum(h.output_tokens)::bigint AS output_tokens,
			   sum(h.cached_input_tokens)::bigint AS cached_input_tokens,
			   sum(h.cache_write_tokens)::bigint AS cache_write_tokens,
			   sum(h.reasoning_tokens)::bigint AS reasoning_tokens, sum(h.error_count)::bigint AS error_count,
			   sum(h.latency_sum)::bigint AS latency_sum, sum(h.latency_count)::bigint AS latency_count,
			   sum(h.unpriced_requests)::bigint AS unpriced_requests, sum(h.input_cost) AS input_cost,
			   sum(h.output_cost) AS output_cost, sum(h.total_cost) AS total_cost
		  FROM hourly h, LATERAL costopt.rollup_periods(h.hour, tz) p
		 GROUP BY 1, 2, 3, 4, 5, 6, 7
	), applied AS (
		INSERT INTO costopt.cost_analysis AS ca
			(organization_id, user_id, provider, model_name, period_type, period_start, period_end,
			 total_requests, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
			 reasoning_tokens, error_count, latency_sum, latency_count, unpriced_requests,
			 input_cost, output_cost, total_cost)
		SELECT p.organization_id, p.user_id, p.provider, p.model, p.period_type, p.period_start,
			   p.period_end, p.requests, p.input_tokens, p.output_tokens, p.cached_input_tokens,
			   p.cache_write_tokens, p.reasoning_tokens, p.error_count, p.latency_sum,
			   p.latency_count, p.unpriced_requests, p.input_cost, p.output_cost, p.total_cost
		  FROM periods p
		 -- one lock order for every writer of the rollups
		 ORDER BY p.organization_id, p.period_type, p.period_start, p.user_id, p.provider, p.model
		ON CONFLICT (organization_id, period_type, period_start, user_id, provider, model_name)
		DO UPDATE SET
			total_requests = ca.total_requests + excluded.total_requests,
			input_tokens = ca.input_tokens + excluded.input_tokens,
			output_tokens = ca.output_tokens + excluded.output_tokens,
			cached_input_tokens = ca.cached_input_tokens + excluded.cached_input_tokens,
			cache_write_tokens = ca.cache_write_tokens + excluded.cache_write_tokens,
			reasoning_tokens = ca.reasoning_tokens + excluded.reasoning_tokens,
			error_count = ca.error_count + excluded.error_count,
			latency_sum = ca.latency_sum + excluded.latency_sum,
			latency_count = ca.latency_count + excluded.latency_count,
			unpriced_requests = ca.unpriced_requests + excluded.unpriced_requests,
			input_cost = ca.input_cost + excluded.input_cost,
			output_cost = ca.output_cost + excluded.output_cost,
			total_cost = ca.total_cost + excluded.total_cost,
			updated_at = now()
		RETURNING ca.id, ca.total_requests
	)
	SELECT (SELECT coalesce(sum(h.n), 0) FROM hourly h),
		   (SELECT coalesce(sum(h.requests), 0) FROM hourly h),
		   (SELECT count(*) FROM applied),
		   (SELECT array_agg(a.id) FROM applied a WHERE a.total_requests = 0)
	  INTO delta_rows, calls, rollup_rows, emptied;

	-- a bucket whose calls were all deleted holds nothing any more
	DELETE FROM costopt.cost_analysis ca WHERE ca.id = ANY (emptied) AND ca.total_requests = 0;
	GET DIAGNOSTICS removed_rows = ROW_COUNT;

	UPDATE costopt.rollup_state SET last_refresh_at = now();
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_refresh_rollups() IS
	'Applies every committed usage-log change not yet in costopt.cost_analysis';

-- What the raw calls of [from_time, to_time) contribute to the rollups, per
-- organisation (all when org is NULL), user, provider, model and UTC hour:
-- the SQL twin of what the capture trigger sums (src/rollup_capture.c).
CREATE FUNCTION costopt.raw_hourly(org text, from_time timestamptz, to_time timestamptz)
RETURNS SETOF costopt.rollup_deltas
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT u.organization_id, u.user_id, u.provider, u.model,
		   date_trunc('hour', u.created_at, 'UTC'),
		   count(*), sum(u.input_tokens), sum(u.output_tokens), sum(u.cached_input_tokens),
		   sum(u.cache_write_tokens), sum(u.reasoning_tokens),
		   count(*) FILTER (WHERE u.status <> 'success'),
		   coalesce(sum(u.latency_ms), 0), count(u.latency_ms),
		   count(*) FILTER (WHERE u.total_cost IS NULL),
		   coalesce(sum(u.input_cost), 0), coalesce(sum(u.output_cost), 0),
		   coalesce(sum(u.total_cost), 0)
	  FROM costopt.api_usage_logs u
	 WHERE (org IS NULL OR u.organization_id = org)
	   AND u.created_at >= from_time AND u.created_at < to_time
	 GROUP BY 1, 2, 3, 4, 5
$$;

COMMENT ON FUNCTION costopt.raw_hourly(text, timestamptz, timestamptz) IS
	'Hourly sums of the raw calls of a range, as the rollups count them';

-- Compares the rollups (plus changes not yet applied) with the raw usage
-- rows and returns every difference: one row per bucket and measure.  An
-- empty result means the rollups are exact.  Buckets that start before the
-- raw-data horizon are skipped (their raw rows are gone).
CREATE FUNCTION @extschema@.costopt_verify_rollups(organization_id text DEFAULT NULL,
												   from_time timestamptz DEFAULT NULL,
												   to_time timestamptz DEFAULT NULL)
RETURNS TABLE (period_type text, org text, user_id text, provider text, model_name text,
			   period_start timestamptz, measure text, rollup_value numeric, raw_value numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text;
	horizon timestamptz;
BEGIN
	IF from_time IS NOT NULL AND to_time IS NOT NULL AND from_time > to_time THEN
		RAISE EXCEPTION 'from_time must not be later than to_time'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('from_time is %s, to_time is %s.', from_time, to_time);
	END IF;
	SELECT coalesce(max(s.rollup_timezone), 'UTC'), coalesce(max(s.raw_horizon), '-infinity')
	  INTO tz, horizon FROM costopt.rollup_state s;

	-- every source in the rollups' grain, tagged: raw rows (hourly sums,
	-- spread over the periods) against stored rollups plus pending deltas
	RETURN QUERY
	WITH hourly AS (
		SELECT true AS is_raw, h.*
		  FROM costopt.raw_hourly(costopt_verify_rollups.organization_id, '-infinity', 'infinity') h
		UNION ALL
		SELECT false, d.*
		  FROM costopt.rollup_deltas d
		 WHERE (costopt_verify_rollups.organization_id IS NULL
				OR d.organization_id = costopt_verify_rollups.organization_id)
	), bucketed AS (
		SELECT s.is_raw, s.organization_id, s.user_id, s.provider, s.model AS model_name,
			   p.period_type, p.period_start,
			   s.requests, s.input_tokens, s.output_tokens, s.cached_input_tokens,
			   s.cache_write_tokens, s.reasoning_tokens, s.error_count, s.latency_sum,
			   s.latency_count, s.unpriced_requests, s.input_cost, s.output_cost, s.total_cost
		  FROM hourly s, LATERAL costopt.rollup_periods(s.hour, tz) p
		UNION ALL
		SELECT false, c.organization_id, c.user_id, c.provider, c.model_name, c.period_type,
			   c.period_start,
			   c.total_requests, c.input_tokens, c.output_tokens, c.cached_input_tokens,
			   c.cache_write_tokens, c.reasoning_tokens, c.error_count, c.latency_sum,
			   c.latency_count, c.unpriced_requests, c.input_cost, c.output_cost, c.total_cost
		  FROM costopt.cost_analysis c
		 WHERE (costopt_verify_rollups.organization_id IS NULL
				OR c.organization_id = costopt_verify_rollups.organization_id)
	), compared AS (
		SELECT b.period_type, b.organization_id AS org, b.user_id, b.provider, b.model_name,
			   b.period_start,
			   ARRAY[sum(b.requests) FILTER (WHERE NOT b.is_raw),
					 sum(b.input_tokens) FILTER (WHERE NOT b.is_raw),
					 sum(b.output_tokens) FILTER (WHERE NOT b.is_raw),
					 sum(b.cached_input_tokens) FILTER (WHERE NOT b.is_raw),
					 sum(b.cache_write_tokens) FILTER (WHERE NOT b.is_raw),
					 sum(b.reasoning_tokens) FILTER (WHERE NOT b.is_raw),
					 sum(b.error_count) FILTER (WHERE NOT b.is_raw),
					 sum(b.latency_sum) FILTER (WHERE NOT b.is_raw),
					 sum(b.latency_count) FILTER (WHERE NOT b.is_raw),
					 sum(b.unpriced_requests) FILTER (WHERE NOT b.is_raw),
					 sum(b.input_cost) FILTER (WHERE NOT b.is_raw),
					 sum(b.output_cost) FILTER (WHERE NOT b.is_raw),
					 sum(b.total_cost) FILTER (WHERE NOT b.is_raw)]::numeric[] AS rm,
			   ARRAY[sum(b.requests) FILTER (WHERE b.is_raw),
					 sum(b.input_tokens) FILTER (WHERE b.is_raw),
					 sum(b.output_tokens) FILTER (WHERE b.is_raw),
					 sum(b.cached_input_tokens) FILTER (WHERE b.is_raw),
					 sum(b.cache_write_tokens) FILTER (WHERE b.is_raw),
					 sum(b.reasoning_tokens) FILTER (WHERE b.is_raw),
					 sum(b.error_count) FILTER (WHERE b.is_raw),
					 sum(b.latency_sum) FILTER (WHERE b.is_raw),
					 sum(b.latency_count) FILTER (WHERE b.is_raw),
					 sum(b.unpriced_requests) FILTER (WHERE b.is_raw),
					 sum(b.input_cost) FILTER (WHERE b.is_raw),
					 sum(b.output_cost) FILTER (WHERE b.is_raw),
					 sum(b.total_cost) FILTER (WHERE b.is_raw)]::numeric[] AS wm
		  FROM bucketed b
		 GROUP BY 1, 2, 3, 4, 5, 6
	)
	SELECT c.period_type, c.org, c.user_id, c.provider, c.model_name, c.period_start,
		   n.name, coalesce(c.rm[n.i], 0), coalesce(c.wm[n.i], 0)
	  FROM compared c,
		   unnest(ARRAY['total_requests', 'input_tokens', 'output_tokens', 'cached_input_tokens',
						'cache_write_tokens', 'reasoning_tokens', 'error_count', 'latency_sum',
						'latency_count', 'unpriced_requests', 'input_cost', 'output_cost',
						'total_cost']) WITH ORDINALITY AS n(name, i)
	 WHERE coalesce(c.rm[n.i], 0) <> coalesce(c.wm[n.i], 0)
	   AND c.period_start >= horizon
	   AND (from_time IS NULL OR c.period_start >= from_time)
	   AND (to_time IS NULL OR c.period_start < to_time)
	 ORDER BY 1, 2, 6, 3, 4, 5, 7;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_verify_rollups(text, timestamptz, timestamptz) IS
	'Differences between the cost rollups and the raw usage rows (none when the rollups are exact)';

CREATE TRIGGER costopt_rollup_capture_truncate
	BEFORE TRUNCATE ON costopt.api_usage_logs
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.rollup_capture_truncate();
