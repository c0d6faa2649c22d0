-- bench/stats/setup.sql: objects of the statistics benchmark, in schema
-- "bench" of a scratch database that already has CREATE EXTENSION costopt.
--
--	 timing		bench.time_query(), bench.time_scalar(), bench.measure()
--	 part 1		bench.make_points(): a table of (g, t, value) points
--	 part 2		bench.make_org_usage(): calls of one organisation through
--				costopt.api_usage_logs (the costing and capture triggers fire)
--	 part 3		bench.make_daily_rollups(): daily rollup rows of many
--				organisations written straight into costopt.cost_analysis;
--				bench.build_series(): every organisation's last year as two
--				arrays, for timing the forecasting engine on its own
--
-- Every generator is deterministic for a given seed (setseed).

\set ON_ERROR_STOP on

\ir ../timing.sql

-- Runs every query warmup times untimed, then `runs` timed rounds.  Round r
-- starts with query r (mod the number of queries) and goes round, so every
-- query is measured at every position and drift over the rounds hits all of
-- them alike.  workers[i], unless NULL, is the max_parallel_workers_per_gather
-- for query i (set for the transaction just before the query is planned).
-- Nothing is written while measuring: the times come back as rows.
CREATE FUNCTION bench.measure(labels text[], queries text[], workers integer[],
							  runs integer, warmup integer)
RETURNS TABLE (label text, run integer, ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
	nq	integer := cardinality(queries);
	i	integer;
	out_label text[] := '{}';
	out_run integer[] := '{}';
	out_ms double precision[] := '{}';
BEGIN
	IF cardinality(labels) <> nq OR (workers IS NOT NULL AND cardinality(workers) <> nq) THEN
		RAISE EXCEPTION 'labels, queries and workers must have the same length';
	END IF;
	FOR w IN 1 .. warmup LOOP
		FOR k IN 1 .. nq LOOP
			IF workers[k] IS NOT NULL THEN
				PERFORM set_config('max_parallel_workers_per_gather', workers[k]::text, true);
			END IF;
			PERFORM bench.time_query(queries[k]);
		END LOOP;
	END LOOP;
	FOR r IN 1 .. runs LOOP
		FOR k IN 0 .. nq - 1 LOOP
			i := (r - 1 + k) % nq + 1;
			IF workers[i] IS NOT NULL THEN
				PERFORM set_config('max_parallel_workers_per_gather', workers[i]::text, true);
			END IF;
			out_label := out_label || labels[i];
			out_run := out_run || r;
			out_ms := out_ms || bench.time_query(queries[i]);
		END LOOP;
	END LOOP;
	RETURN QUERY SELECT * FROM unnest(out_label, out_run, out_ms);
END;
$$;

-- Every timed run of the benchmark.
CREATE TABLE bench.runs (
	label	text NOT NULL,
	run		integer NOT NULL,
	ms		double precision NOT NULL
);

-- Median, minimum and maximum of each label's runs.
CREATE VIEW bench.summary AS
SELECT label, count(*) AS runs,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med,
	   min(ms) AS lo, max(ms) AS hi
  FROM bench.runs
 GROUP BY label;

-------------------------------------------------------------------------------
-- Part 1: points for the aggregates
-------------------------------------------------------------------------------

-- n points in time order over the two years before 2025-05-16 (a usage-log
-- like table): group g = row mod groups, value = a level that rises by 0.05
-- a day, a weekly pattern and uniform noise.  Rows of one group are spread
-- over the whole table, as for a GROUP BY organisation on a time-ordered log.
CREATE TABLE bench.points (
	g		integer NOT NULL,
	t		timestamptz NOT NULL,
	value	double precision NOT NULL
);

CREATE FUNCTION bench.make_points(n bigint, groups integer, seed double precision,
								  chunk bigint DEFAULT 1000000)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	t_from	timestamptz := timestamptz '2025-05-16 00:00:00+00' - interval '730 days';
	span	double precision := 730 * 86400.0;
	first	bigint := 0;
BEGIN
	PERFORM setseed(seed);
	WHILE first < n LOOP
		INSERT INTO bench.points (g, t, value)
		SELECT (i % groups)::integer,
			   t_from + make_interval(secs => span * i / n),
			   100 + 0.05 * (span * i / n) / 86400
				   + 12 * sin(2 * pi() * (span * i / n) / (7 * 86400))
				   + 40 * (random() - 0.5)
		  FROM generate_series(first, least(first + chunk, n) - 1) i;
		first := first + chunk;
	END LOOP;
END;
$$;

-------------------------------------------------------------------------------
-- Part 2: one organisation's calls through the usage log
-------------------------------------------------------------------------------

-- per_day calls a day on each of the `days` complete days before today
-- (UTC), by three users, on gpt-4o-mini (a seeded price, in force from
-- -infinity, so every call is priced).  Prompt sizes follow a level that
-- grows 60% over the two years, a weekly pattern (weekends at 40%), a
-- step up a year ago and noise, so the daily spend has trend, season and
-- noise as a real series would.  Returns the number of calls inserted.
CREATE FUNCTION bench.make_org_usage(org text, days integer, per_day integer,
									 seed double precision)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	today	date := (now() AT TIME ZONE 'UTC')::date;
	k		bigint;
BEGIN
	PERFORM setseed(seed);
	INSERT INTO costopt.api_usage_logs
		(created_at, organization_id, user_id, project, provider, model, operation,
		 input_tokens, output_tokens, latency_ms, status)
	SELECT (d.day::timestamp AT TIME ZONE 'UTC')
			   + make_interval(secs => 86399 * (c.i - 1 + random()) / per_day),
		   org,
		   org || '-u' || (1 + c.i % 3),
		   'support-chat',
		   'openai',
		   'gpt-4o-mini',
		   'chat',
		   greatest(1, round(d.level * (0.5 + random()))::integer),
		   greatest(1, round(d.level * 0.25 * (0.5 + random()))::integer),
		   (200 + 800 * random())::integer,
		   'success'
	  FROM (SELECT today - j AS day,
				   4000 * (1 + 0.6 * (days - j) / days)
					   * CASE WHEN extract(isodow FROM today - j) >= 6 THEN 0.4 ELSE 1 END
					   * CASE WHEN j <= 365 THEN 1.3 ELSE 1 END AS level
			  FROM generate_series(1, days) j) d,
		   generate_series(1, per_day) c(i);
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;

-------------------------------------------------------------------------------
-- Part 3: daily rollups of many organisations
-------------------------------------------------------------------------------

-- Daily rollup rows (period_type 'daily', days in UTC) of orgs
-- organisations over the `days` complete days before today, `keys` rows per
-- organisation and day (one per model, user NULL), written directly into
-- costopt.cost_analysis: costopt_run_forecasts() reads only these rows.
--
-- Organisation o: a log-normal spend level (median $20 a day, a few at
-- thousands), a weekly pattern of random strength, a trend between -50%
-- and +150% a year, multiplicative noise of 5% to 40%; 80% have spend on
-- every day, 20% started at a random later day; 3% of days have no spend
-- (no row); 1% of days are spikes (3x).  Every day's cost is split over the
-- keys (60%, then the rest evenly).  Returns the number of rows inserted.
CREATE FUNCTION bench.make_daily_rollups(orgs integer, days integer, keys integer,
										 seed double precision)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	today	date := (now() AT TIME ZONE 'UTC')::date;
	models	text[] := '{gpt-4o-mini,gpt-4o,claude-3-5-haiku,claude-3-5-sonnet,gemini-2.0-flash,gemini-1.5-pro}';
	provs	text[] := '{openai,openai,anthropic,anthropic,google,google}';
	k		bigint;
BEGIN
	PERFORM setseed(seed);
	CREATE TEMP TABLE org_params ON COMMIT DROP AS
	SELECT o,
		   'org-' || lpad(o::text, 6, '0') AS org,
		   20 * exp(1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS level,
		   0.6 * random() AS weekly,
		   -0.5 + 2 * random() AS trend,
		   0.05 + 0.35 * random() AS noise,
		   CASE WHEN random() < 0.8 THEN days ELSE 1 + floor(random() * days)::integer END AS active
	  FROM generate_series(1, orgs) o;

	INSERT INTO costopt.cost_analysis
		(organization_id, user_id, provider, model_name, period_type, period_start, period_end,
		 total_requests, input_tokens, output_tokens, input_cost, output_cost, total_cost)
	SELECT x.org, NULL, provs[1 + (x.o + kk - 1) % 6], models[1 + (x.o + kk - 1) % 6], 'daily',
		   x.day::timestamp AT TIME ZONE 'UTC', (x.day + 1)::timestamp AT TIME ZONE 'UTC',
		   greatest(1, round(x.cost * share * 200))::bigint,
		   round(x.cost * share * 1e6)::bigint, round(x.cost * share * 2e5)::bigint,
		   round((x.cost * share * 0.4)::numeric, 6), round((x.cost * share * 0.6)::numeric, 6),
		   round((x.cost * share * 0.4)::numeric, 6) + round((x.cost * share * 0.6)::numeric, 6)
	  FROM (SELECT p.o, p.org, today - j AS day,
				   p.level
					   * greatest(0.05, 1 + p.trend * (days - j - days / 2.0) / 365)
					   * (1 + p.weekly * CASE WHEN extract(isodow FROM today - j) >= 6 THEN -1
											  ELSE 0.4 END)
					   * exp(p.noise * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
					   * CASE WHEN random() < 0.01 THEN 3 ELSE 1 END AS cost,
				   random() AS u_gap
			  FROM org_params p, generate_series(1, days) j
			 WHERE j <= p.active) x,
		   LATERAL (SELECT kk, CASE WHEN keys = 1 THEN 1.0
									WHEN kk = 1 THEN 0.6 ELSE 0.4 / (keys - 1) END AS share
					  FROM generate_series(1, keys) kk) s
	 WHERE x.u_gap >= 0.03;
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;

-- Every organisation's daily spend over the last year (the `days` complete
-- days before today, UTC), from its first day with spend, days without
-- spend as 0: the input of the forecasting engine, built here with our own
-- query so that the engine can be timed alone.
CREATE TABLE bench.series (
	org		text PRIMARY KEY,
	days	date[] NOT NULL,
	vals	double precision[] NOT NULL
);

CREATE FUNCTION bench.build_series(days integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	today	date := (now() AT TIME ZONE 'UTC')::date;
	k		bigint;
BEGIN
	TRUNCATE bench.series;
	INSERT INTO bench.series
	WITH daily AS (
		SELECT ca.organization_id AS org, (ca.period_start AT TIME ZONE 'UTC')::date AS day,
			   sum(ca.total_cost)::float8 AS cost
		  FROM costopt.cost_analysis ca
		 WHERE ca.period_type = 'daily'
		   AND ca.period_start >= (today - days)::timestamp AT TIME ZONE 'UTC'
		   AND ca.period_start < today::timestamp AT TIME ZONE 'UTC'
		 GROUP BY 1, 2
	), grid AS (
		SELECT f.org, gs::date AS day
		  FROM (SELECT daily.org, min(daily.day) AS first_day FROM daily GROUP BY 1) f,
			   generate_series(f.first_day, today - 1, interval '1 day') gs
	)
	SELECT g.org, array_agg(g.day ORDER BY g.day), array_agg(coalesce(d.cost, 0) ORDER BY g.day)
	  FROM grid g
	  LEFT JOIN daily d ON d.org = g.org AND d.day = g.day
	 GROUP BY g.org;
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;
