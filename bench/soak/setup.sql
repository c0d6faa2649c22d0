-- Schema "soak" for bench/soak/run.sh (see bench/soak/README.md):
--
--   soak.calib, soak.create_budgets()   budgets sized from a priced sample
--   soak.kill_refresh(), soak.kill_writer()   the chaos steps
--   soak.ledger, soak.epochs            what the writers say they committed
--   soak.checks()                       every check, one row each
--   soak.budget_report(), soak.writer_report(), soak.job_report()   figures
--
-- Run in the soak database after CREATE EXTENSION costopt.

\set ON_ERROR_STOP on

CREATE SCHEMA soak;

-------------------------------------------------------------------------------
-- Budgets
-------------------------------------------------------------------------------

-- A sample of the writers' calls, priced by the costopt costing trigger
-- (gen_writer.py --calibrate fills it); nothing reaches the usage log, the
-- rollups or the budgets.
CREATE TABLE soak.calib (LIKE costopt.api_usage_logs INCLUDING DEFAULTS INCLUDING IDENTITY);
SELECT costopt_attach_costing('soak.calib') \gset

-- The budgets of every organisation.  factor: the limit as a multiple of the
-- spend the whole run is expected to put into the budget's scope, so that
-- the same thresholds fire at any ROWS: hourly budgets are exceeded in every
-- hour the run spends a good part of its calls in, the daily hard ones pause
-- about half-way, the monthly, weekly, yearly and custom ones cross some of
-- their thresholds, the quarterly one its lowest two.
CREATE TABLE soak.budget_spec (
	label		text PRIMARY KEY,
	period		text NOT NULL,
	user_id		text,
	project		text,
	model		text,
	provider	text,
	factor		numeric NOT NULL,
	thresholds	numeric[] NOT NULL,
	enforcement text NOT NULL,
	grace		numeric NOT NULL,
	tz			text,
	cooldown	interval NOT NULL,
	alerts		boolean NOT NULL
);

INSERT INTO soak.budget_spec VALUES
	('monthly', 'monthly', NULL, NULL, NULL, NULL, 1.25, '{0.25,0.5,0.75,1.0}', 'soft', 0.10, NULL, '1 hour', true),
	('daily hard', 'daily', NULL, NULL, NULL, NULL, 0.5, '{0.5,0.8,1.0}', 'hard', 0.05, NULL, '1 hour', true),
	('daily silent', 'daily', NULL, NULL, NULL, NULL, 0.3, '{0.8,0.95,1.0}', 'hard', 0.10, NULL, '1 hour', false),
	('u1 hourly UTC', 'hourly', 'u1', NULL, NULL, NULL, 0.15, '{0.8,0.95,1.0}', 'none', 0.10, 'UTC', '2 minutes', true),
	('u2 hourly Kolkata', 'hourly', 'u2', NULL, NULL, NULL, 0.2, '{0.8,0.95,1.0}', 'hard', 0.10, 'Asia/Kolkata', '1 hour', true),
	('u3 hourly Kathmandu', 'hourly', 'u3', NULL, NULL, NULL, 0.25, '{0.8,0.95,1.0}', 'soft', 0.10, 'Asia/Kathmandu', '0', true),
	('gpt-4o weekly', 'weekly', NULL, NULL, 'gpt-4o', NULL, 0.7, '{0.5,0.9,1.0}', 'hard', 0.10, NULL, '1 hour', true),
	('anthropic quarterly', 'quarterly', NULL, NULL, NULL, 'anthropic', 3.0, '{0.1,0.2,1.0}', 'none', 0.10, NULL, '1 hour', true),
	('research yearly', 'yearly', NULL, 'research', NULL, NULL, 0.9, '{0.8,0.95,1.0}', 'soft', 0.10, NULL, '1 hour', true),
	('u1 gpt-4o-mini custom', 'custom', 'u1', NULL, 'gpt-4o-mini', NULL, 0.6, '{0.5,1.0}', 'hard', 0, NULL, '1 hour', true);

-- Creates the budgets of soak.budget_spec for every organisation of the
-- sample, with costopt_create_budget(), limits sized for `rows` calls.
-- Returns how many it created.
CREATE FUNCTION soak.create_budgets(rows bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	n_calib bigint;
	s record;
	o text;
	expected numeric;
	k bigint := 0;
BEGIN
	SELECT count(*) INTO n_calib FROM soak.calib;
	FOR o IN SELECT DISTINCT c.organization_id FROM soak.calib c ORDER BY 1 LOOP
		FOR s IN SELECT * FROM soak.budget_spec ORDER BY label LOOP
			SELECT coalesce(sum(c.total_cost), 0) * rows / n_calib INTO expected
			  FROM soak.calib c
			 WHERE c.organization_id = o
			   AND (s.user_id IS NULL OR c.user_id = s.user_id)
			   AND (s.project IS NULL OR c.project = s.project)
			   AND (s.model IS NULL OR c.model = s.model)
			   AND (s.provider IS NULL OR c.provider = s.provider);
			PERFORM costopt_create_budget(o, o || ' ' || s.label,
										  greatest(round(expected * s.factor, 2), 0.01),
										  period => s.period, user_id => s.user_id,
										  project => s.project, model => s.model,
										  provider => s.provider, thresholds => s.thresholds,
										  enforcement => s.enforcement, grace => s.grace,
										  timezone => s.tz, alert_enabled => s.alerts,
										  alert_cooldown => s.cooldown,
										  ends_at => CASE WHEN s.period = 'custom'
														  THEN now() + interval '2 days' END);
			k := k + 1;
		END LOOP;
	END LOOP;
	RETURN k;
END;
$$;

-------------------------------------------------------------------------------
-- Chaos
-------------------------------------------------------------------------------

-- Waits (up to timeout_s) for the costopt scheduler to be running a refresh
-- job for at least min_ms, then terminates it.  Returns the scheduler's pid,
-- the job, when the job's statement started, how long it had run, and
-- whether the signal was sent; no row if no refresh was seen in time.
CREATE FUNCTION soak.kill_refresh(min_ms double precision, timeout_s double precision,
								  OUT pid integer, OUT job text, OUT query_start timestamptz,
								  OUT running_ms double precision, OUT terminated boolean)
RETURNS SETOF record
LANGUAGE plpgsql
AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
BEGIN
	LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT a.pid, substr(a.query, length('costopt scheduler: job ') + 1), a.query_start,
			   extract(epoch FROM clock_timestamp() - a.query_start) * 1000
		  INTO pid, job, query_start, running_ms
		  FROM pg_stat_activity a
		 WHERE a.backend_type = 'costopt scheduler' AND a.state = 'active'
		   AND a.query IN ('costopt scheduler: job refresh_rollups',
						   'costopt scheduler: job refresh_budgets');
		IF FOUND AND running_ms >= min_ms THEN
			terminated := pg_terminate_backend(pid);
			RETURN NEXT;
			RETURN;
		END IF;
		EXIT WHEN clock_timestamp() > deadline;
		PERFORM pg_sleep(0.002);
	END LOOP;
END;
$$;

-- Waits (up to timeout_s) for the backend of application `app` to be inside
-- a transaction that has written (preferring one in a COPY for the first
-- half of the time), then terminates it.  Returns the pid, the start of its
-- statement, its state and whether the signal was sent.
CREATE FUNCTION soak.kill_writer(app text, timeout_s double precision,
								 OUT pid integer, OUT statement text, OUT state text,
								 OUT terminated boolean)
RETURNS SETOF record
LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT a.pid, left(regexp_replace(a.query, '\s+', ' ', 'g'), 60), a.state
		  INTO pid, statement, state
		  FROM pg_stat_activity a
		 WHERE a.application_name = app AND a.backend_xid IS NOT NULL
		   AND (a.query LIKE 'COPY%'
				OR clock_timestamp() > t0 + make_interval(secs => timeout_s / 2));
		IF FOUND THEN
			terminated := pg_terminate_backend(pid);
			RETURN NEXT;
			RETURN;
		END IF;
		EXIT WHEN clock_timestamp() > t0 + make_interval(secs => timeout_s);
		PERFORM pg_sleep(0.002);
	END LOOP;
END;
$$;

-- Chaos steps as they happened (run.sh fills it).
CREATE TABLE soak.events (
	at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	step	text NOT NULL,
	detail	text
);

-------------------------------------------------------------------------------
-- What the writers committed
-------------------------------------------------------------------------------

-- One row per batch whose COMMIT returned to the writer.
CREATE TABLE soak.ledger (w integer, e integer, b integer, n integer);
-- One row per writer session (epoch) and psql's exit status: 0 = ran to its
-- end, anything else = the connection was lost (terminated, crash).
CREATE TABLE soak.epochs (w integer, e integer, rc integer);

-- The batches found in the usage log: rows, and the smallest and largest
-- batch size the rows claim (filled by soak.collect_batches()).
CREATE TABLE soak.batches (w integer, e integer, b integer, rows bigint, n_min integer,
						   n_max integer, hashes bigint);

CREATE FUNCTION soak.collect_batches()
RETURNS bigint
LANGUAGE sql
AS $$
	TRUNCATE soak.batches;
	INSERT INTO soak.batches
	SELECT (l.tags ->> 'w')::integer, (l.tags ->> 'e')::integer, (l.tags ->> 'b')::integer,
		   count(*), min((l.tags ->> 'n')::integer), max((l.tags ->> 'n')::integer),
		   count(DISTINCT l.request_hash)
	  FROM costopt.api_usage_logs l
	 GROUP BY 1, 2, 3;
	SELECT count(*) FROM soak.batches;
$$;

-- Batches classified: 'ledger' (COMMIT returned), 'in flight' (in the table
-- but not in the ledger: its COMMIT happened but the writer lost the
-- connection before hearing so), with whether each is complete and, for
-- 'in flight', whether it is where one may be (the batch after the last
-- ledger batch of a session that ended with a lost connection).
CREATE VIEW soak.batch_status AS
WITH last_ok AS (
	SELECT w, e, max(b) AS b FROM soak.ledger GROUP BY w, e
)
SELECT coalesce(l.w, t.w) AS w, coalesce(l.e, t.e) AS e, coalesce(l.b, t.b) AS b,
	   CASE WHEN l.w IS NOT NULL THEN 'ledger' ELSE 'in flight' END AS kind,
	   coalesce(l.n, t.n_max) AS n, coalesce(t.rows, 0) AS rows,
	   -- every row there, none twice, all agreeing on the batch size
	   (t.rows IS NOT NULL AND t.rows = coalesce(l.n, t.n_min) AND t.n_min = t.n_max
		AND t.hashes = t.rows) AS complete,
	   (l.w IS NOT NULL
		OR (EXISTS (SELECT 1 FROM soak.epochs ep WHERE ep.w = t.w AND ep.e = t.e AND ep.rc <> 0)
			AND t.b = coalesce((SELECT lo.b FROM last_ok lo WHERE lo.w = t.w AND lo.e = t.e), 0) + 1))
		AS expected
  FROM soak.ledger l
  FULL JOIN soak.batches t ON (t.w, t.e, t.b) = (l.w, l.e, l.b);

-------------------------------------------------------------------------------
-- Budgets against the raw log
-------------------------------------------------------------------------------

-- Every active budget's spend and priced calls in its current period (as
-- stored in costopt.budgets), summed here straight from the raw log, scope
-- column by scope column.  soak.collect_raw_spend() keeps a copy in
-- soak.raw_spend_now, so that the checks and the report scan the log once.
CREATE VIEW soak.raw_spend AS
SELECT b.id, b.organization_id, b.name, b.period_type, b.period_start, b.period_end,
	   b.current_spend, b.current_requests,
	   coalesce(r.spend, 0) AS spend, coalesce(r.calls, 0) AS calls
  FROM costopt.budgets b
  LEFT JOIN LATERAL (
		SELECT sum(l.total_cost) AS spend, count(l.total_cost) AS calls
		  FROM costopt.api_usage_logs l
		 WHERE l.organization_id = b.organization_id
		   AND (b.user_id IS NULL OR l.user_id = b.user_id)
		   AND (b.project IS NULL OR l.project = b.project)
		   AND (b.model IS NULL OR l.model = b.model)
		   AND (b.provider IS NULL OR l.provider = b.provider)
		   AND l.created_at >= b.period_start AND l.created_at < b.period_end) r ON true
 WHERE b.is_active;

CREATE TABLE soak.raw_spend_now AS SELECT * FROM soak.raw_spend WITH NO DATA;

CREATE FUNCTION soak.collect_raw_spend()
RETURNS bigint
LANGUAGE sql
AS $$
	TRUNCATE soak.raw_spend_now;
	INSERT INTO soak.raw_spend_now SELECT * FROM soak.raw_spend;
	SELECT count(*) FROM soak.raw_spend_now;
$$;

-- Figures per budget (check.sql prints them), from soak.raw_spend_now.
CREATE FUNCTION soak.budget_report()
RETURNS TABLE (id bigint, name text, period text, period_start text, limit_usd numeric,
			   spend numeric, raw_spend numeric, diff numeric, view_diff numeric,
			   calls bigint, raw_calls bigint, level text, paused text, alerts bigint)
LANGUAGE sql
AS $$
	WITH r AS (SELECT * FROM soak.raw_spend_now),
	v AS MATERIALIZED (SELECT budget_id, spend, requests FROM costopt.v_active_budget_status)
	SELECT r.id, r.name, r.period_type, to_char(r.period_start AT TIME ZONE 'UTC', 'MM-DD HH24:MI'),
		   b.limit_usd, r.current_spend, r.spend, r.current_spend - r.spend, v.spend - r.spend,
		   r.current_requests, r.calls, b.alert_level, coalesce(b.paused_reason, ''),
		   (SELECT count(*) FROM costopt.budget_alerts a WHERE a.budget_id = r.id)
	  FROM r
	  JOIN costopt.budgets b ON b.id = r.id
	  LEFT JOIN v ON v.budget_id = r.id
	 ORDER BY r.id
$$;

-------------------------------------------------------------------------------
-- Checks
-------------------------------------------------------------------------------

-- Every check: a name, the figure, and whether it passed.  Run it in one
-- REPEATABLE READ transaction after the final refreshes and
-- soak.collect_raw_spend(), so that every check sees the same snapshot.
CREATE FUNCTION soak.checks()
RETURNS TABLE (check_name text, figure text, ok boolean)
LANGUAGE plpgsql
AS $$
DECLARE
	c1 bigint;
	c2 bigint;
	s1 numeric;
	t text;
BEGIN
	-- rows: the usage log against the ledger and the in-flight batches
	SELECT count(*) INTO c1 FROM costopt.api_usage_logs;
	SELECT coalesce(sum(rows), 0) INTO s1 FROM soak.batch_status WHERE kind = 'in flight';
	check_name := 'rows in costopt.api_usage_logs = ledger rows + complete in-flight batches';
	figure := format('%s = %s + %s', c1, (SELECT coalesce(sum(l.n), 0) FROM soak.ledger l), s1);
	ok := c1 = (SELECT coalesce(sum(l.n), 0) FROM soak.ledger l) + s1;
	RETURN NEXT;

	SELECT count(*), coalesce(sum(bs.n), 0) INTO c1, s1 FROM soak.batch_status bs
	 WHERE bs.kind = 'ledger' AND NOT bs.complete;
	check_name := 'ledger batches missing or incomplete in the table (lost commits)';
	figure := format('%s batches (%s rows) of %s', c1, s1, (SELECT count(*) FROM soak.ledger));
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM soak.batch_status WHERE kind = 'in flight' AND NOT complete;
	check_name := 'in-flight batches found partly (not all-or-nothing)';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM soak.batch_status WHERE kind = 'in flight' AND NOT expected;
	check_name := 'in-flight batches not right after the last ledger batch of a broken session';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM (SELECT 1 FROM soak.ledger GROUP BY w, e, b HAVING count(*) > 1) d;
	check_name := 'batches in the ledger twice (harness)';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	-- rollups
	SELECT count(*) INTO c1 FROM costopt_verify_rollups();
	check_name := 'costopt_verify_rollups() differences';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	-- budgets
	SELECT count(*), count(*) FILTER (WHERE (current_spend, current_requests)
											  IS DISTINCT FROM (spend, calls)),
		   sum(abs(current_spend - spend))
	  INTO c1, c2, s1 FROM soak.raw_spend_now;
	check_name := 'active budgets whose spend or calls differ from the raw sum';
	figure := format('%s of %s (sum of |difference| $%s)', c2, c1, s1);
	ok := c2 = 0 AND c1 > 0;
	RETURN NEXT;

	SELECT count(*) INTO c1
	  FROM soak.raw_spend_now r
	  FULL JOIN costopt.v_active_budget_status v ON v.budget_id = r.id
	 WHERE (v.spend, v.requests) IS DISTINCT FROM (r.spend, r.calls);
	check_name := 'v_active_budget_status rows whose spend or calls differ from the raw sum';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM costopt.budget_deltas;
	check_name := 'budget delta rows left after the final refresh';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM costopt.budgets b
	 WHERE b.is_active
	   AND b.alert_rank <> costopt.budget_rank(b.thresholds, b.current_spend, b.limit_usd);
	check_name := 'budgets whose alert level does not match their spend';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM costopt.budgets b
	 WHERE b.is_active AND b.enforcement = 'hard' AND b.paused_at IS NULL
	   AND b.current_spend > b.limit_usd * (1 + b.grace_fraction);
	check_name := 'hard budgets past limit plus grace and not paused';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	-- alerts: duplicates, as the rules in doc/budgets.md define them
	SELECT count(*) INTO c1
	  FROM costopt.budget_alerts a
	  JOIN costopt.budget_alerts x
		ON x.budget_id = a.budget_id AND x.level = a.level AND x.threshold = a.threshold
	   AND x.id > a.id
	  JOIN costopt.budgets b ON b.id = a.budget_id
	 WHERE x.created_at < a.created_at + b.alert_cooldown
	   AND x.created_at >= a.created_at - b.alert_cooldown;
	check_name := 'alerts repeated within the cooldown (same budget, level, threshold)';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1
	  FROM (SELECT 1 FROM costopt.budget_alerts a
			 GROUP BY a.budget_id, a.period_start, a.level, a.threshold HAVING count(*) > 1) d;
	check_name := 'alerts repeated in one period (same budget, period, level, threshold)';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	-- alerts not lost: a budget at level r (or paused for overspending) in
	-- its period has an alert for that threshold, unless one of the same
	-- threshold was sent within the cooldown before (which started at the
	-- earliest cooldown before the period)
	SELECT count(*) INTO c1 FROM costopt.budgets b
	 WHERE b.is_active AND b.alert_enabled AND b.alert_rank > 0
	   AND NOT EXISTS (SELECT 1 FROM costopt.budget_alerts a
					   WHERE a.budget_id = b.id AND a.threshold = b.thresholds[b.alert_rank]
						 AND a.level = costopt.budget_level_name(b.thresholds, b.alert_rank)
						 AND a.created_at > b.period_start - b.alert_cooldown);
	SELECT count(*) INTO c2 FROM costopt.budgets b
	 WHERE b.is_active AND b.alert_enabled AND b.paused_reason = 'exceeded'
	   AND NOT EXISTS (SELECT 1 FROM costopt.budget_alerts a
					   WHERE a.budget_id = b.id AND a.level = 'paused'
						 AND a.created_at > b.period_start - b.alert_cooldown);
	check_name := 'budgets at a level (or paused) without its alert';
	figure := format('%s at a level, %s paused', c1, c2);
	ok := c1 = 0 AND c2 = 0;
	RETURN NEXT;

	SELECT count(*) INTO c1 FROM costopt.budget_alerts a
	  JOIN costopt.budgets b ON b.id = a.budget_id WHERE NOT b.alert_enabled;
	check_name := 'alerts of budgets with alert_enabled = false';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*), count(DISTINCT budget_id) INTO c1, c2 FROM costopt.budget_alerts;
	SELECT string_agg(format('%s %s', c, level), ', ' ORDER BY level) INTO t
	  FROM (SELECT level, count(*) AS c FROM costopt.budget_alerts GROUP BY level) s;
	check_name := 'alerts fired (harness: thresholds were crossed)';
	figure := format('%s alerts on %s budgets (%s)', c1, c2, coalesce(t, 'none'));
	ok := c1 > 0;
	RETURN NEXT;

	-- scheduler
	SELECT count(*) INTO c1 FROM costopt.job_runs WHERE status = 'failed';
	check_name := 'failed job runs';
	figure := c1::text;
	ok := c1 = 0;
	RETURN NEXT;

	SELECT count(*) FILTER (WHERE r.job = 'refresh_rollups'),
		   count(*) FILTER (WHERE r.job = 'refresh_budgets')
	  INTO c1, c2
	  FROM costopt.job_runs r
	 WHERE r.runner = 'worker' AND r.status = 'succeeded'
	   AND r.started_at > (SELECT max(e.at) FROM soak.events e WHERE e.step = 'restarted');
	check_name := 'refresh runs by the worker after the restart (rollups, budgets)';
	figure := format('%s, %s', c1, c2);
	ok := c1 > 0 AND c2 > 0;
	RETURN NEXT;
END;
$$;

-- Per writer: sessions, broken sessions, ledger and in-flight batches.
CREATE FUNCTION soak.writer_report()
RETURNS TABLE (writer integer, sessions bigint, broken bigint, ledger_batches bigint,
			   ledger_rows bigint, in_flight_batches bigint, in_flight_rows bigint,
			   rows_in_table bigint)
LANGUAGE sql
AS $$
	SELECT ep.w, ep.sessions, ep.broken,
		   count(*) FILTER (WHERE s.kind = 'ledger'),
		   coalesce(sum(s.n) FILTER (WHERE s.kind = 'ledger'), 0),
		   count(*) FILTER (WHERE s.kind = 'in flight'),
		   coalesce(sum(s.rows) FILTER (WHERE s.kind = 'in flight'), 0),
		   coalesce(sum(s.rows), 0)
	  FROM (SELECT w, count(*) AS sessions, count(*) FILTER (WHERE rc <> 0) AS broken
			  FROM soak.epochs GROUP BY w) ep
	  LEFT JOIN soak.batch_status s ON s.w = ep.w
	 GROUP BY ep.w, ep.sessions, ep.broken
	 ORDER BY ep.w
$$;

-- The scheduler's runs: per job, runner and status, with durations.
CREATE FUNCTION soak.job_report()
RETURNS TABLE (job text, runner text, status text, runs bigint, median_ms numeric,
			   max_ms numeric, rows_total numeric)
LANGUAGE sql
AS $$
	SELECT r.job, r.runner, r.status, count(*),
		   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at)) * 1000)::numeric, 1),
		   round(max(extract(epoch FROM r.finished_at - r.started_at)) * 1000, 1),
		   sum(r.rows)
	  FROM costopt.job_runs r
	 GROUP BY 1, 2, 3
	 ORDER BY 1, 2, 3
$$;
