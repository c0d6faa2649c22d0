-- bench/budgets/setup.sql: objects of the budget benchmark, in schema
-- "bench" of a scratch database that already has CREATE EXTENSION costopt.
--
--	 timing		bench.time_query(), bench.timed_refresh()
--	 data		bench.make_usage(): calls through costopt.api_usage_logs (the
--				costing, rollup and budget capture triggers fire);
--				bench.make_budgets(): 1 organisation-wide and 3 user budgets
--				per organisation, limits from the spend so far;
--				bench.make_hard_budgets(): the small hard budgets of the
--				admission check
--	 checks		bench.spend_mismatches(): budgets whose spend differs from
--				the raw log
--
-- Organisations are 'org-<n>' (n from 1), their users 'org-<n>-u1' to
-- 'org-<n>-u3'.  Every generator is deterministic for a given seed (setseed).

\set ON_ERROR_STOP on

\ir ../timing.sql

-- One costopt_refresh_budgets(): its elapsed time in ms and its result.
CREATE FUNCTION bench.timed_refresh(OUT ms double precision, OUT budgets bigint,
									OUT delta_rows bigint, OUT rolled_over bigint,
									OUT alerts bigint, OUT paused bigint,
									OUT expired_reservations bigint)
LANGUAGE plpgsql
AS $$
DECLARE
	t0	timestamptz;
BEGIN
	t0 := clock_timestamp();
	SELECT * INTO budgets, delta_rows, rolled_over, alerts, paused, expired_reservations
	  FROM costopt_refresh_budgets();
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END;
$$;

-- Server-side cost of one call without the client round trip: n calls of
-- `kind` in a PL/pgSQL loop (each statement prepared once, as pgbench -M
-- prepared does), a random organisation and user each, as in the pgbench
-- scripts; returns microseconds per call.  kind: select1 (SELECT 1), probe
-- (the organisation's budget rows through budgets_org_idx) or check
-- (costopt_check_budget() for $0.01).  The organisation and user names are
-- built for every kind, so the differences are the statements alone.
CREATE FUNCTION bench.loop_us(kind text, n integer, orgs integer)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	t0	timestamptz;
	o	integer;
	u	integer;
	org	text;
	usr	text;
	x	integer;
	c	record;
BEGIN
	t0 := clock_timestamp();
	FOR i IN 1 .. n LOOP
		o := 1 + floor(random() * orgs)::integer;
		u := floor(random() * 4)::integer;
		org := 'org-' || o;
		usr := CASE WHEN u > 0 THEN org || '-u' || u END;
		IF kind = 'select1' THEN
			SELECT 1 INTO x;
		ELSIF kind = 'probe' THEN
			SELECT count(*) INTO x
			  FROM (SELECT b.id, b.limit_usd, b.current_spend, b.reserved
					  FROM costopt.budgets b
					 WHERE b.organization_id = org AND b.is_active) s;
		ELSE
			SELECT * INTO c FROM costopt_check_budget(org, usr, NULL, 0.01);
		END IF;
	END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END;
$$;

-------------------------------------------------------------------------------
-- Data
-------------------------------------------------------------------------------

-- The current monthly period (UTC) of the budgets.
CREATE FUNCTION bench.period_start()
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT date_trunc('month', now(), 'UTC') $$;

-- n calls in time order over [t_from, t_to) by `orgs` organisations,
-- inserted through costopt.api_usage_logs in one statement (one
-- transaction when called alone).  Organisation ids are skewed towards the
-- low numbers (o = 1 + orgs * u^1.5: org-1 has about 10 times the calls of
-- the median organisation); 5% of calls have no user (a service key), the
-- others go to u1, u2, u3 (50/30/15%); gpt-4o-mini 60%, gpt-4o 25%,
-- claude-3-5-sonnet 15%, all priced by the seed catalog; prompts of 200 to
-- 4,000 tokens, completions of 20 to 820.  Returns the number of rows.
CREATE FUNCTION bench.make_usage(n bigint, orgs integer, t_from timestamptz, t_to timestamptz,
								 seed double precision)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	k bigint;
BEGIN
	PERFORM setseed(seed);
	INSERT INTO costopt.api_usage_logs
		(created_at, organization_id, user_id, project, provider, model, operation,
		 input_tokens, output_tokens, latency_ms, status)
	SELECT x.t, 'org-' || x.o,
		   CASE WHEN x.ru < 0.05 THEN NULL
				WHEN x.ru < 0.55 THEN 'org-' || x.o || '-u1'
				WHEN x.ru < 0.85 THEN 'org-' || x.o || '-u2'
				ELSE 'org-' || x.o || '-u3' END,
		   'chat',
		   CASE WHEN x.rm < 0.85 THEN 'openai' ELSE 'anthropic' END,
		   CASE WHEN x.rm < 0.60 THEN 'gpt-4o-mini' WHEN x.rm < 0.85 THEN 'gpt-4o'
				ELSE 'claude-3-5-sonnet' END,
		   'chat',
		   200 + floor(3800 * x.ri * x.ri)::integer,
		   20 + floor(800 * random())::integer,
		   (200 + 800 * random())::integer,
		   'success'
	  FROM (SELECT t_from + (t_to - t_from) * ((i + random()) / n) AS t,
				   1 + least(orgs - 1, floor(orgs * power(random(), 1.5))::integer) AS o,
				   random() AS ru, random() AS rm, random() AS ri
			  FROM generate_series(0, n - 1) i) x;
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;

-- For each of `orgs` organisations, one organisation-wide monthly budget
-- and one per user u1..u3 (4 * orgs budgets), inserted straight into
-- costopt.budgets (its BEFORE trigger validates them and sets the period;
-- every one starts with spend_needs_init).  Limit: the budget's spend in the
-- current period so far (at least $0.05) times a factor between 1.6 and 6,
-- rounded up to the cent, at least $0.50, so that calls added later push
-- some budgets over their thresholds.  Enforcement: hard 40%, soft 30%,
-- none 30%; grace 10%; thresholds 0.8, 0.95, 1.0.  Returns the number of
-- budgets.
CREATE FUNCTION bench.make_budgets(orgs integer, seed double precision)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	k bigint;
BEGIN
	PERFORM setseed(seed);
	INSERT INTO costopt.budgets
		(organization_id, name, user_id, period_type, limit_usd, enforcement, grace_fraction,
		 period_start, period_end)
	SELECT s.org, s.org || coalesce('/' || s.usr, '') || ' monthly', s.usr, 'monthly',
		   greatest(0.50, ceil(greatest(coalesce(sp.spend, 0), 0.05) * (1.6 + 4.4 * s.rf) * 100) / 100),
		   CASE WHEN s.re < 0.4 THEN 'hard' WHEN s.re < 0.7 THEN 'soft' ELSE 'none' END,
		   0.10, '-infinity', 'infinity'
	  FROM (SELECT 'org-' || o AS org,
				   CASE WHEN u = 0 THEN NULL ELSE 'org-' || o || '-u' || u END AS usr,
				   random() AS rf, random() AS re
			  FROM generate_series(1, orgs) o, generate_series(0, 3) u
			 ORDER BY o, u) s
	  LEFT JOIN LATERAL (
			SELECT sum(l.total_cost) AS spend
			  FROM costopt.api_usage_logs l
			 WHERE l.organization_id = s.org
			   AND (s.usr IS NULL OR l.user_id = s.usr)
			   AND l.created_at >= bench.period_start()) sp ON true;
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;

-- The budgets of the admission check: organisations 'hard-1' .. 'hard-<n>',
-- each with an organisation-wide hard budget of $1 and a hard budget of
-- $0.50 for each of its users u1 and u2, grace 10% (ceilings $1.10 and
-- $0.55), no spend.
CREATE FUNCTION bench.make_hard_budgets(n integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	k bigint;
BEGIN
	INSERT INTO costopt.budgets
		(organization_id, name, user_id, period_type, limit_usd, enforcement, grace_fraction,
		 period_start, period_end)
	SELECT 'hard-' || o, 'hard-' || o || coalesce('/' || usr, '') || ' monthly', usr, 'monthly',
		   CASE WHEN usr IS NULL THEN 1.00 ELSE 0.50 END, 'hard', 0.10, '-infinity', 'infinity'
	  FROM generate_series(1, n) o,
		   LATERAL (VALUES (NULL), ('hard-' || o || '-u1'), ('hard-' || o || '-u2')) v(usr)
	 ORDER BY o, usr NULLS FIRST;
	GET DIAGNOSTICS k = ROW_COUNT;
	RETURN k;
END;
$$;

-------------------------------------------------------------------------------
-- Checks
-------------------------------------------------------------------------------

-- Every active budget's spend and priced calls in its current period,
-- straight from the raw log (the budgets here have no project, model or
-- provider scope).
CREATE VIEW bench.raw_spend AS
SELECT b.id, b.organization_id, b.user_id, b.period_start, b.period_end,
	   coalesce(r.spend, 0) AS spend, coalesce(r.calls, 0) AS calls
  FROM costopt.budgets b
  LEFT JOIN LATERAL (
		SELECT sum(l.total_cost) AS spend, count(l.total_cost) AS calls
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = b.organization_id
		   AND (b.user_id IS NULL OR l.user_id = b.user_id)
		   AND l.created_at >= b.period_start AND l.created_at < b.period_end) r ON true
 WHERE b.is_active;

-- How many active budgets differ from the raw log: in costopt.budgets
-- (current_spend, current_requests; meaningful right after a refresh) and in
-- costopt.v_active_budget_status (spend, requests; at any time), and how
-- many budgets the view and the raw log have.
CREATE FUNCTION bench.spend_mismatches(OUT budgets bigint, OUT table_diffs bigint,
									   OUT view_rows bigint, OUT view_diffs bigint,
									   OUT raw_total numeric)
LANGUAGE sql
AS $$
	WITH raw AS MATERIALIZED (SELECT * FROM bench.raw_spend),
	v AS MATERIALIZED (SELECT budget_id, spend, requests FROM costopt.v_active_budget_status)
	SELECT (SELECT count(*) FROM raw),
		   (SELECT count(*) FROM raw r JOIN costopt.budgets b ON b.id = r.id
			 WHERE (b.current_spend, b.current_requests) IS DISTINCT FROM (r.spend, r.calls)),
		   (SELECT count(*) FROM v),
		   (SELECT count(*) FROM raw r FULL JOIN v ON v.budget_id = r.id
			 WHERE (v.spend, v.requests) IS DISTINCT FROM (r.spend, r.calls)),
		   (SELECT sum(spend) FROM raw)
$$;
