-- bench/rollups/setup.sql: objects of the rollup benchmark, in schema "bench"
-- of a scratch database that already has CREATE EXTENSION costopt.
--
--	 data		bench.models, bench.orgs, bench.token_quantiles and
--				bench.insert_usage(), which writes generated calls into
--				costopt.api_usage_logs (the costing and capture triggers fire)
--	 peer 1		bench.peer_rollup (shaped like costopt.cost_analysis) and
--				bench.peer_refresh(), the plain SQL incremental rollup:
--				INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE over
--				the usage rows with an id above a watermark
--	 peer 2		bench.mv_rollup, a materialized view of the same rollup over
--				the whole usage log
--	 timing		bench.timed_refresh(), bench.timed(), bench.time_query()
--	 checks		bench.rollup_checksums()
--
-- The usage log is treated as opaque: rows go in through INSERT, the peers
-- read it by id, organization_id and created_at only.

\set ON_ERROR_STOP on

CREATE SCHEMA bench;

-------------------------------------------------------------------------------
-- Data
-------------------------------------------------------------------------------

-- Six catalog models of the seed prices.  gemini-1.5-pro has two price
-- versions (before and after 2024-10-01), so two years of history are priced
-- with both.
CREATE TABLE bench.models (
	model_no	integer PRIMARY KEY,
	provider	text NOT NULL,
	model		text NOT NULL
);
INSERT INTO bench.models VALUES
	(1, 'openai', 'gpt-4o'),
	(2, 'openai', 'gpt-4o-mini'),
	(3, 'anthropic', 'claude-3-5-sonnet'),
	(4, 'anthropic', 'claude-3-5-haiku'),
	(5, 'google', 'gemini-2.0-flash'),
	(6, 'google', 'gemini-1.5-pro');

-- 50 organisations with Zipf volume (share of org i proportional to 1/i:
-- org-01 has 22% of the calls, org-50 0.4%).  lo is the lower bound of the
-- org's slice of [0, 1) for drawing.  Larger organisations have more users
-- (10 down to 2).  Each uses four of the six models, the first most (50%,
-- 21%, 16%, 13%).  Every third is a coding assistant, the others chat
-- services (token distribution), with 10% to 50% of long prompts cached.
CREATE TABLE bench.orgs (
	org_no		integer PRIMARY KEY,
	org			text NOT NULL,
	lo			double precision NOT NULL,
	users		integer NOT NULL,
	kind		text NOT NULL,
	cache_share	double precision NOT NULL,
	models		text[] NOT NULL,
	providers	text[] NOT NULL
);
INSERT INTO bench.orgs
SELECT s.i,
	   'org-' || lpad(s.i::text, 2, '0'),
	   coalesce(sum(s.w) OVER (ORDER BY s.i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
		   / sum(s.w) OVER (),
	   greatest(2, least(10, round(10 / sqrt(s.i))))::integer,
	   CASE WHEN s.i % 3 = 0 THEN 'code' ELSE 'conv' END,
	   0.1 + (s.i % 5) * 0.1,
	   ARRAY(SELECT m.model FROM generate_series(0, 3) k
			   JOIN bench.models m ON m.model_no = (s.i + k.k) % 6 + 1 ORDER BY k.k),
	   ARRAY(SELECT m.provider FROM generate_series(0, 3) k
			   JOIN bench.models m ON m.model_no = (s.i + k.k) % 6 + 1 ORDER BY k.k)
  FROM (SELECT i, 1.0 / i AS w FROM generate_series(1, 50) i) s;

-- 5% quantiles (0%, 5%, ..., 100%) of prompt and completion tokens of a chat
-- and a coding service, as in sample/workload.sql: from the Azure LLM
-- inference trace 2023 (Microsoft Azure, AzurePublicDataset, CC BY 4.0;
-- Patel et al., "Splitwise", ISCA 2024).
CREATE TABLE bench.token_quantiles (
	kind	text PRIMARY KEY,
	ctx		integer[] NOT NULL,
	gen		integer[] NOT NULL
);
INSERT INTO bench.token_quantiles VALUES
	('conv', '{2,181,207,372,387,396,403,414,703,984,1020,1045,1071,1097,1130,1189,1315,1876,2734,4083,14050}',
			 '{7,41,54,67,77,85,91,96,103,113,129,151,177,217,384,395,400,411,424,451,1000}'),
	('code', '{3,75,147,232,385,578,770,938,1075,1261,1469,1690,1909,2163,2433,2744,3192,3919,5186,7302,7437}',
			 '{6,6,7,7,8,9,9,10,11,12,13,14,16,18,20,24,29,39,55,90,1899}');

-- A draw from a 21-point quantile table for u in [0, 1): uniform between
-- neighbouring quantiles.
CREATE FUNCTION bench.draw(q integer[], u double precision)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
	SELECT greatest(1, round(q[i + 1] + (q[least(i + 2, 21)] - q[i + 1]) * (u * 20 - i)))::integer
	  FROM (SELECT least(floor(u * 20)::integer, 20) AS i) s
$$;

-- Inserts rows first_row + 1 .. first_row + n of a series of total calls
-- spread evenly over [from_ts, to_ts) (row r at from_ts + span * (r - 1 + u)
-- / total, so the rows are in time order and chunks of one series tile its
-- range), through costopt.api_usage_logs.  Deterministic for a given seed
-- (setseed, in [-1, 1]).  Returns the elapsed time in ms; raises an error
-- unless n rows were inserted.
CREATE FUNCTION bench.insert_usage(total bigint, first_row bigint, n bigint,
								   from_ts timestamptz, to_ts timestamptz,
								   seed double precision)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	t0		timestamptz := clock_timestamp();
	span	double precision := extract(epoch FROM to_ts - from_ts);
	bounds	double precision[];
	k		bigint;
BEGIN
	PERFORM setseed(seed);
	SELECT array_agg(o.lo ORDER BY o.org_no) INTO bounds FROM bench.orgs o;

	INSERT INTO costopt.api_usage_logs
		(created_at, organization_id, user_id, project, provider, model, operation, is_batch,
		 input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, latency_ms,
		 status, error_message)
	WITH draws AS (
		SELECT g, random() AS u_t, random() AS u_org, random() AS u_user, random() AS u_model,
			   random() AS u_ctx, random() AS u_gen, random() AS u_cache, random() AS u_err,
			   random() AS u_lat, random() AS u_batch
		  FROM generate_series(first_row + 1, first_row + n) g
	), calls AS (
		SELECT d.*, o.org, o.users, o.kind, o.cache_share,
			   o.models[1 + floor(d.u_model * d.u_model * 4)::integer] AS model,
			   o.providers[1 + floor(d.u_model * d.u_model * 4)::integer] AS provider,
			   bench.draw(q.ctx, d.u_ctx) AS ctx, bench.draw(q.gen, d.u_gen) AS gen
		  FROM draws d
		  JOIN bench.orgs o ON o.org_no = width_bucket(d.u_org, bounds)
		  JOIN bench.token_quantiles q ON q.kind = o.kind
	)
	SELECT from_ts + make_interval(secs => span * (c.g - 1 + c.u_t) / total),
		   c.org,
		   -- 3% of calls come from service keys without a user
		   CASE WHEN c.u_user >= 0.03 THEN
				c.org || '-u' || (1 + floor(((c.u_user - 0.03) / 0.97) ^ 2 * c.users))::integer
		   END,
		   CASE c.kind WHEN 'code' THEN 'ide-assistant' ELSE 'support-chat' END,
		   c.provider,
		   c.model,
		   'chat',
		   c.provider = 'openai' AND c.u_batch < 0.02,
		   c.ctx,
		   CASE WHEN c.u_err < 0.015 THEN 0 ELSE c.gen END,
		   CASE WHEN c.u_cache < c.cache_share AND c.ctx >= 1024 THEN (c.ctx * 0.75)::integer
				ELSE 0 END,
		   CASE WHEN c.provider = 'anthropic' AND c.u_cache >= c.cache_share
					 AND c.u_cache < c.cache_share + 0.05 AND c.ctx >= 1024
				THEN (c.ctx * 0.5)::integer ELSE 0 END,
		   CASE WHEN c.u_lat >= 0.002 THEN (150 + c.gen * 12 + c.u_lat * 500)::integer END,
		   CASE WHEN c.u_err < 0.012 THEN 'error' WHEN c.u_err < 0.015 THEN 'timeout'
				ELSE 'success' END,
		   CASE WHEN c.u_err < 0.012 THEN 'upstream error' WHEN c.u_err < 0.015 THEN 'upstream timeout' END
	  FROM calls c;
	GET DIAGNOSTICS k = ROW_COUNT;
	IF k <> n THEN
		RAISE EXCEPTION 'inserted % rows, expected %', k, n;
	END IF;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;

-------------------------------------------------------------------------------
-- Peer 1: plain SQL incremental rollup into a table like costopt.cost_analysis
-------------------------------------------------------------------------------

-- Same columns, generated columns, defaults, identity, constraints and
-- indexes (among them the unique key, NULLS NOT DISTINCT) as the real
-- rollup table.
CREATE TABLE bench.peer_rollup (LIKE costopt.cost_analysis INCLUDING ALL);

-- Adds the usage rows with id > watermark to bench.peer_rollup, the way a
-- user would without costopt: one INSERT ... SELECT ... GROUP BY ... ON
-- CONFLICT DO UPDATE.  The rows are first summed per hour and key, then each
-- hour is added to its hour, day, week (ISO, Monday) and month, in UTC (the
-- rollups' default time zone).  Returns the number of rollup rows inserted
-- or updated.
CREATE FUNCTION bench.peer_refresh(watermark bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	n bigint;
BEGIN
	INSERT INTO bench.peer_rollup AS r
		(organization_id, user_id, provider, model_name, period_type, period_start, period_end,
		 total_requests, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
		 reasoning_tokens, error_count, latency_sum, latency_count, unpriced_requests,
		 input_cost, output_cost, total_cost)
	SELECT h.organization_id, h.user_id, h.provider, h.model, p.period_type, p.period_start,
		   p.period_end, sum(h.requests), sum(h.input_tokens), sum(h.output_tokens),
		   sum(h.cached_input_tokens), sum(h.cache_write_tokens), sum(h.reasoning_tokens),
		   sum(h.error_count), sum(h.latency_sum), sum(h.latency_count),
		   sum(h.unpriced_requests), sum(h.input_cost), sum(h.output_cost), sum(h.total_cost)
	  FROM (SELECT u.organization_id, u.user_id, u.provider, u.model,
				   date_trunc('hour', u.created_at, 'UTC') AS hour,
				   count(*) AS requests, sum(u.input_tokens) AS input_tokens,
				   sum(u.output_tokens) AS output_tokens,
				   sum(u.cached_input_tokens) AS cached_input_tokens,
				   sum(u.cache_write_tokens) AS cache_write_tokens,
				   sum(u.reasoning_tokens) AS reasoning_tokens,
				   count(*) FILTER (WHERE u.status <> 'success') AS error_count,
				   coalesce(sum(u.latency_ms), 0) AS latency_sum,
				   count(u.latency_ms) AS latency_count,
				   count(*) FILTER (WHERE u.total_cost IS NULL) AS unpriced_requests,
				   coalesce(sum(u.input_cost), 0) AS input_cost,
				   coalesce(sum(u.output_cost), 0) AS output_cost,
				   coalesce(sum(u.total_cost), 0) AS total_cost
			  FROM costopt.api_usage_logs u
			 WHERE u.id > watermark
			 GROUP BY 1, 2, 3, 4, 5) h
	 CROSS JOIN LATERAL (VALUES
			('hourly', h.hour, h.hour + interval '1 hour'),
			('daily', date_trunc('day', h.hour, 'UTC'),
			 date_trunc('day', h.hour, 'UTC') + interval '1 day'),
			('weekly', date_trunc('week', h.hour, 'UTC'),
			 date_trunc('week', h.hour, 'UTC') + interval '7 days'),
			('monthly', date_trunc('month', h.hour, 'UTC'),
			 date_trunc('month', h.hour, 'UTC') + interval '1 month')
		) AS p(period_type, period_start, period_end)
	 GROUP BY 1, 2, 3, 4, 5, 6, 7
	ON CONFLICT (organization_id, period_type, period_start, user_id, provider, model_name)
	DO UPDATE SET
		total_requests = r.total_requests + excluded.total_requests,
		input_tokens = r.input_tokens + excluded.input_tokens,
		output_tokens = r.output_tokens + excluded.output_tokens,
		cached_input_tokens = r.cached_input_tokens + excluded.cached_input_tokens,
		cache_write_tokens = r.cache_write_tokens + excluded.cache_write_tokens,
		reasoning_tokens = r.reasoning_tokens + excluded.reasoning_tokens,
		error_count = r.error_count + excluded.error_count,
		latency_sum = r.latency_sum + excluded.latency_sum,
		latency_count = r.latency_count + excluded.latency_count,
		unpriced_requests = r.unpriced_requests + excluded.unpriced_requests,
		input_cost = r.input_cost + excluded.input_cost,
		output_cost = r.output_cost + excluded.output_cost,
		total_cost = r.total_cost + excluded.total_cost,
		updated_at = now();
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

-------------------------------------------------------------------------------
-- Peer 2: the same rollup as a materialized view of the whole usage log
-------------------------------------------------------------------------------

-- The SELECT of bench.peer_refresh() without the watermark; filled by the
-- timed REFRESH MATERIALIZED VIEW.  The unique index is the one a dashboard
-- would read it through (and REFRESH rebuilds it).
CREATE MATERIALIZED VIEW bench.mv_rollup AS
SELECT h.organization_id, h.user_id, h.provider, h.model AS model_name, p.period_type,
	   p.period_start, p.period_end, sum(h.requests) AS total_requests,
	   sum(h.input_tokens) AS input_tokens, sum(h.output_tokens) AS output_tokens,
	   sum(h.cached_input_tokens) AS cached_input_tokens,
	   sum(h.cache_write_tokens) AS cache_write_tokens,
	   sum(h.reasoning_tokens) AS reasoning_tokens, sum(h.error_count) AS error_count,
	   sum(h.latency_sum) AS latency_sum, sum(h.latency_count) AS latency_count,
	   sum(h.unpriced_requests) AS unpriced_requests, sum(h.input_cost) AS input_cost,
	   sum(h.output_cost) AS output_cost, sum(h.total_cost) AS total_cost
  FROM (SELECT u.organization_id, u.user_id, u.provider, u.model,
			   date_trunc('hour', u.created_at, 'UTC') AS hour,
			   count(*) AS requests, sum(u.input_tokens) AS input_tokens,
			   sum(u.output_tokens) AS output_tokens,
			   sum(u.cached_input_tokens) AS cached_input_tokens,
			   sum(u.cache_write_tokens) AS cache_write_tokens,
			   sum(u.reasoning_tokens) AS reasoning_tokens,
			   count(*) FILTER (WHERE u.status <> 'success') AS error_count,
			   coalesce(sum(u.latency_ms), 0) AS latency_sum,
			   count(u.latency_ms) AS latency_count,
			   count(*) FILTER (WHERE u.total_cost IS NULL) AS unpriced_requests,
			   coalesce(sum(u.input_cost), 0) AS input_cost,
			   coalesce(sum(u.output_cost), 0) AS output_cost,
			   coalesce(sum(u.total_cost), 0) AS total_cost
		  FROM costopt.api_usage_logs u
		 GROUP BY 1, 2, 3, 4, 5) h
 CROSS JOIN LATERAL (VALUES
		('hourly', h.hour, h.hour + interval '1 hour'),
		('daily', date_trunc('day', h.hour, 'UTC'),
		 date_trunc('day', h.hour, 'UTC') + interval '1 day'),
		('weekly', date_trunc('week', h.hour, 'UTC'),
		 date_trunc('week', h.hour, 'UTC') + interval '7 days'),
		('monthly', date_trunc('month', h.hour, 'UTC'),
		 date_trunc('month', h.hour, 'UTC') + interval '1 month')
	) AS p(period_type, period_start, period_end)
 GROUP BY 1, 2, 3, 4, 5, 6, 7
WITH NO DATA;
CREATE UNIQUE INDEX mv_rollup_key ON bench.mv_rollup
	(organization_id, period_type, period_start, user_id, provider, model_name) NULLS NOT DISTINCT;

-------------------------------------------------------------------------------
-- Timing: on the server, clock_timestamp() around the statement (the commit
-- that follows is not included; synchronous_commit is off)
-------------------------------------------------------------------------------

-- costopt_refresh_rollups(), timed, with what it reports.
CREATE FUNCTION bench.timed_refresh(OUT ms double precision, OUT delta_rows bigint,
									OUT calls bigint, OUT rollup_rows bigint,
									OUT removed_rows bigint)
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	SELECT r.delta_rows, r.calls, r.rollup_rows, r.removed_rows
	  INTO delta_rows, calls, rollup_rows, removed_rows
	  FROM costopt_refresh_rollups() r;
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;

-- Any statement, timed (ms).
CREATE FUNCTION bench.timed(q text)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;

-- One row per timed query run.
CREATE TABLE bench.query_runs (
	query	text NOT NULL,
	run		integer NOT NULL,
	ms		double precision NOT NULL,
	PRIMARY KEY (query, run)
);

-- Runs a query warmup times untimed, then runs times, each timed (parse,
-- plan and execution, all result rows produced and discarded), into
-- bench.query_runs under the name label.
CREATE PROCEDURE bench.time_query(label text, q text, runs integer, warmup integer)
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz;
BEGIN
	FOR i IN 1 .. warmup LOOP
		EXECUTE q;
	END LOOP;
	FOR i IN 1 .. runs LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		INSERT INTO bench.query_runs
			VALUES (label, i, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END;
$$;

-------------------------------------------------------------------------------
-- Checks
-------------------------------------------------------------------------------

-- Per period type of a rollup table or view shaped like cost_analysis: rows,
-- calls, cost and a checksum over every row's key and measures (costs
-- without trailing zeros, so equal values give equal checksums whatever
-- their display scale).  Two rollups with the same checksums hold the same
-- rows.
CREATE FUNCTION bench.rollup_checksums(rel regclass)
RETURNS TABLE (period_type text, rows bigint, calls numeric, cost numeric, checksum numeric)
LANGUAGE plpgsql
AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
		SELECT r.period_type, count(*), sum(r.total_requests)::numeric, sum(r.total_cost),
			   sum(hashtextextended((r.organization_id, r.user_id, r.provider, r.model_name,
									 r.period_type, r.period_start, r.period_end,
									 r.total_requests, r.input_tokens, r.output_tokens,
									 r.cached_input_tokens, r.cache_write_tokens,
									 r.reasoning_tokens, r.error_count, r.latency_sum,
									 r.latency_count, r.unpriced_requests,
									 trim_scale(r.input_cost), trim_scale(r.output_cost),
									 trim_scale(r.total_cost))::text, 0)::numeric)
		  FROM %s r
		 GROUP BY r.period_type$q$, rel);
END;
$$;
