-- Security (sql/install/95_security.sql): a member of organisation A can
-- neither read nor change organisation B's data, through any table, view or
-- function; only admins change prices, memberships and the jobs.
--
--   Static     SECURITY DEFINER only where listed, each with a fixed
--              search_path; dynamic SQL built with format() (%I/%L, or a
--              regclass) except costopt_run_job's job command; admin-only
--              functions; row-level security on every organisation-scoped
--              table; security_invoker views.
--   Tables     every organisation-scoped table (found in the catalog): A's
--              members see A's rows and no other organisation's; they can
--              insert no row for B, change or delete no row of B, and move
--              no row of A to B.
--   Views      every view of schema costopt (found in pg_views), the same.
--   Functions  every function of the extension's schema (found through
--              pg_depend; the list is compared with the cases below, so a
--              new function fails this suite until it has a case): called
--              with B's organisation or B's ids it refuses or finds
--              nothing; called by the right role on A's own rows it works;
--              admin-only functions refuse non-admins and work for
--              costopt_admin.  Internal helpers that take an organisation
--              or an id are covered the same way.
--   Prices     only costopt_admin changes prices and aliases; a writer
--              cannot supply its own costs.
--   Members    each role sees its own membership rows; non-admins cannot
--              add, promote or remove members; a group role's members
--              share its organisations; access levels are per
--              organisation.
--   Afterwards B's rows and the prices are checked unchanged (as the
--              superuser); then rows of A that name B's budgets.
--
-- The per-table, per-view and per-function tests are generated from the
-- catalog: a new organisation-scoped table, view or function adds tests
-- (and changes the plan) or fails the coverage checks until it has a case.
--
-- Roles are cluster-wide but CREATE ROLE is transactional: the roles below
-- are created in the suite's transaction and rolled back with it.  Every
-- statement "as a role" runs through pg_temp.run_as, which does SET LOCAL
-- ROLE (set_config('role', ..., true)), runs it, and resets the role; the
-- pgTAP assertions themselves run as the superuser.
--
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(152);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-------------------------------------------------------------------------------
-- Helpers
-------------------------------------------------------------------------------

-- ids of the fixture, by name; statements get them through pg_temp.fill
CREATE TEMP TABLE vars (name text PRIMARY KEY, value bigint);
CREATE FUNCTION pg_temp.v(n text) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT value FROM pg_temp.vars WHERE name = n
$$;
-- a statement with every {name} of pg_temp.vars replaced by its value
CREATE FUNCTION pg_temp.fill(s text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT name, value FROM pg_temp.vars LOOP
		s := replace(s, '{' || r.name || '}', r.value::text);
	END LOOP;
	RETURN s;
END;
$$;

-- Runs a statement as role r (SET LOCAL ROLE, then back to the session
-- user) and says what happened: 'rows:N' (rows returned or changed) or the
-- SQLSTATE it raised.  keep => false undoes a statement that succeeded, for
-- positive controls that must leave the data under test as it was.
CREATE FUNCTION pg_temp.run_as(r name, stmt text, keep boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	res text;
BEGIN
	PERFORM set_config('role', r, true);
	BEGIN
		EXECUTE stmt;
		GET DIAGNOSTICS n = ROW_COUNT;
		res := 'rows:' || n;
		IF NOT keep THEN
			RAISE SQLSTATE 'TAPUN';
		END IF;
	EXCEPTION WHEN OTHERS THEN
		res := coalesce(res, SQLSTATE);
	END;
	PERFORM set_config('role', 'none', true);
	RETURN res;
END;
$$;

-- What an outcome means.  Towards B: refused (42501 permission denied or
-- 42704 no such object, as for an id that never existed), empty (nothing
-- found) or anything else as it is.  For one's own data: ok (rows), empty,
-- denied or the SQLSTATE.  For a write: blocked (an error, or no row
-- changed) or the rows it changed.
CREATE FUNCTION pg_temp.b_side(o text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN o IN ('42501', '42704') THEN 'refused' WHEN o = 'rows:0' THEN 'empty' ELSE o END
$$;
CREATE FUNCTION pg_temp.own_side(o text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN o = 'rows:0' THEN 'empty' WHEN o LIKE 'rows:%' THEN 'ok'
				WHEN o = '42501' THEN 'denied' ELSE o END
$$;
CREATE FUNCTION pg_temp.write_side(o text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN o = 'rows:0' OR o NOT LIKE 'rows:%' THEN 'blocked' ELSE o END
$$;

-- The roles on A's side, and one with every non-admin privilege but no
-- organisation.  pg_temp.across runs a statement as each of them.
CREATE TEMP TABLE tap_roles (ord integer, tag text, r name);
INSERT INTO tap_roles VALUES
	(1, 'reader', 'tap_sec_a_reader'), (2, 'writer', 'tap_sec_a_writer'),
	(3, 'org_admin', 'tap_sec_a_org_admin'), (4, 'team_user', 'tap_sec_a_team_user'),
	(5, 'nobody', 'tap_sec_nobody');
CREATE FUNCTION pg_temp.across(stmt text, side text) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(t.tag || '=' || CASE side WHEN 'b' THEN pg_temp.b_side(o)
												WHEN 'own' THEN pg_temp.own_side(o)
												ELSE pg_temp.write_side(o) END,
					  ' ' ORDER BY t.ord)
	  FROM pg_temp.tap_roles t, LATERAL pg_temp.run_as(t.r, stmt) o
$$;
-- the same cell for every role: 'reader=x writer=x ... nobody=x'
CREATE FUNCTION pg_temp.all_roles(cell text, nobody text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(t.tag || '=' || CASE WHEN t.tag = 'nobody' THEN coalesce(nobody, cell) ELSE cell END,
					  ' ' ORDER BY t.ord)
	  FROM pg_temp.tap_roles t
$$;

-- the extension's functions
CREATE FUNCTION pg_temp.ext_functions() RETURNS SETOF regprocedure LANGUAGE sql STABLE AS $$
	SELECT p.oid::regprocedure
	  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
	 WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
	   AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'costopt')
$$;

-- digest of the rows of a table that a filter selects (as the caller sees them)
CREATE FUNCTION pg_temp.digest(tbl regclass, filter text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE format('SELECT count(*) || '':'' || md5(coalesce(string_agg(x::text, ''|'' ORDER BY x::text), ''''))'
				   '  FROM %s x WHERE %s', tbl, filter) INTO d;
	RETURN d;
END;
$$;

-------------------------------------------------------------------------------
-- Fixture (as the superuser): organisations tap-sec-a and tap-sec-b with
-- rows in every organisation-scoped table
-------------------------------------------------------------------------------

-- a call of 1000 input and 500 output tokens costs 2
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapsec', 'tapsec-m', 1000, 2000, '-infinity');
CREATE FUNCTION pg_temp.calls(org text, n integer, at timestamptz, st text DEFAULT 'success')
RETURNS void LANGUAGE sql AS $$
	INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, project, provider,
										model, input_tokens, output_tokens, status)
	SELECT at, org, org || '-user', 'p', 'tapsec', 'tapsec-m', 1000, 500, st FROM generate_series(1, n)
$$;

-- two weeks of calls, a third of them failed (error_waste, high_error_rate)
SELECT pg_temp.calls(o, 3 + d % 3, now() - d * interval '1 day'),
	   pg_temp.calls(o, 2, now() - d * interval '1 day' - interval '1 hour', 'error')
  FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o, generate_series(1, 14) d;
CALL pg_temp.flush_deltas();
SELECT costopt_refresh_rollups() \g /dev/null
SELECT costopt_run_forecasts() \g /dev/null
-- calls older than raw retention (and than a year, which forecasts read)
-- go to the rollup archive
SELECT pg_temp.calls(o, 1, now() - interval '400 days') FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o;
SELECT costopt_cleanup('90 days', '2 years') \g /dev/null

-- budgets: one over its limit (alerts), a daily one that rolls over
-- (history), a hard one (reservations), a quiet one
INSERT INTO vars
SELECT k || '_' || right(o, 1),
	   costopt_create_budget(o, k, l, period => p, starts_at => now() - back, ends_at => e, enforcement => en)
  FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o,
	   (VALUES ('b_alert', 5, 'custom', interval '20 days', now() + interval '10 days', 'none'),
			   ('b_roll', 1000, 'daily', interval '0', NULL, 'none'),
			   ('b_hard', 1000, 'monthly', interval '0', NULL, 'hard'),
			   ('b_quiet', 1000, 'custom', interval '20 days', now() + interval '10 days', 'none'))
		   AS x(k, l, p, back, e, en);
CALL pg_temp.flush_deltas();
SELECT costopt_refresh_budgets() \g /dev/null
-- pretend the daily budgets' period was yesterday: the refresh closes it
UPDATE costopt.budgets SET period_start = period_start - interval '1 day', period_end = period_start
 WHERE id IN (pg_temp.v('b_roll_a'), pg_temp.v('b_roll_b'));
SELECT costopt_refresh_budgets() \g /dev/null
INSERT INTO vars
SELECT 'alert_' || right(a.organization_id, 1), min(a.id) FROM costopt.budget_alerts a GROUP BY a.organization_id;
INSERT INTO vars
SELECT 'res_' || right(o, 1), (SELECT r.reservation_id FROM costopt_reserve(o, estimated_cost => 0.5) r)
  FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o;

-- recommendations and opportunities
INSERT INTO vars
SELECT 'rec_' || right(o, 1), (SELECT min(r.id) FROM costopt_generate_recommendations(o) r)
  FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o;
INSERT INTO vars
SELECT 'opp_' || right(o, 1), (SELECT min(s.id) FROM costopt_detect_opportunities(o) s)
  FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o;

-- today's calls stay pending: rows in both delta tables
SELECT pg_temp.calls(o, 2, now()) FROM unnest('{tap-sec-a,tap-sec-b}'::text[]) o;
CALL pg_temp.flush_deltas();

-- Roles.  The no-membership role has every non-admin privilege: only the
-- membership rows keep it out.  The team is a group role with a membership
-- row; its member inherits it.  The mixed role administers A and reads B.
CREATE ROLE tap_sec_a_reader NOLOGIN IN ROLE costopt_reader;
CREATE ROLE tap_sec_a_writer NOLOGIN IN ROLE costopt_writer;
CREATE ROLE tap_sec_a_org_admin NOLOGIN IN ROLE costopt_org_admin;
CREATE ROLE tap_sec_a_team NOLOGIN IN ROLE costopt_writer;
CREATE ROLE tap_sec_a_team_user NOLOGIN INHERIT IN ROLE tap_sec_a_team;
CREATE ROLE tap_sec_nobody NOLOGIN IN ROLE costopt_org_admin;
CREATE ROLE tap_sec_b_org_admin NOLOGIN IN ROLE costopt_org_admin;
CREATE ROLE tap_sec_mixed NOLOGIN IN ROLE costopt_org_admin;
CREATE ROLE tap_sec_admin NOLOGIN IN ROLE costopt_admin;
INSERT INTO costopt.organization_members (member, organization_id, access) VALUES
	('tap_sec_a_reader', 'tap-sec-a', 'reader'),
	('tap_sec_a_writer', 'tap-sec-a', 'writer'),
	('tap_sec_a_org_admin', 'tap-sec-a', 'org_admin'),
	('tap_sec_a_team', 'tap-sec-a', 'writer'),
	('tap_sec_b_org_admin', 'tap-sec-b', 'org_admin'),
	('tap_sec_mixed', 'tap-sec-a', 'org_admin'),
	('tap_sec_mixed', 'tap-sec-b', 'reader');

-- the roles read the ids through pg_temp.v; the admin owns a usage table
-- of its own for costopt_attach_costing
GRANT SELECT ON vars TO PUBLIC;
CREATE TEMP TABLE tap_usage (created_at timestamptz NOT NULL DEFAULT now(), provider text,
							 model text NOT NULL, input_tokens integer NOT NULL,
							 output_tokens integer NOT NULL, input_cost numeric,
							 output_cost numeric, total_cost numeric);
ALTER TABLE tap_usage OWNER TO tap_sec_admin;

-- The organisation-scoped tables, from the catalog: a column
-- organization_id, or a reference to a budget (budget_history).  For each:
-- which rows are B's, which are A's, a column to set (the writers' one
-- where they have one), an insert of a copy of one of B's rows (identity
-- and generated columns left to their defaults; patch keeps unique keys
-- apart), and a move of A's rows to B.
CREATE TEMP TABLE org_tables AS
SELECT c.oid::regclass AS tbl, c.relname::text AS name,
	   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
				  AND NOT a.attisdropped) AS has_org
  FROM pg_class c
 WHERE c.relnamespace = 'costopt'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
   AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
				  AND NOT a.attisdropped)
		OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f'
					  AND k.confrelid = 'costopt.budgets'::regclass));
ALTER TABLE org_tables ADD COLUMN b_filter text, ADD COLUMN a_filter text, ADD COLUMN not_a_filter text,
	ADD COLUMN set_col text, ADD COLUMN patch jsonb, ADD COLUMN ins_b text, ADD COLUMN move_a text;
UPDATE org_tables SET
	b_filter = CASE WHEN has_org THEN $$organization_id = 'tap-sec-b'$$
					ELSE format('budget_id IN (%s, %s, %s, %s)', pg_temp.v('b_alert_b'), pg_temp.v('b_roll_b'),
								pg_temp.v('b_hard_b'), pg_temp.v('b_quiet_b')) END,
	a_filter = CASE WHEN has_org THEN $$organization_id = 'tap-sec-a'$$
					ELSE format('budget_id IN (%s, %s, %s, %s)', pg_temp.v('b_alert_a'), pg_temp.v('b_roll_a'),
								pg_temp.v('b_hard_a'), pg_temp.v('b_quiet_a')) END;
UPDATE org_tables SET
	not_a_filter = CASE WHEN has_org THEN $$organization_id IS DISTINCT FROM 'tap-sec-a'$$
						ELSE 'NOT (' || a_filter || ')' END,
	set_col = CASE name WHEN 'api_usage_logs' THEN 'status' WHEN 'budgets' THEN 'reserved'
						WHEN 'budget_history' THEN 'spend' WHEN 'budget_alerts' THEN 'acknowledged_by'
						WHEN 'budget_reservations' THEN 'status' WHEN 'cost_analysis' THEN 'total_requests'
						WHEN 'cost_forecasts' THEN 'predicted_cost' WHEN 'cost_recommendations' THEN 'title'
						WHEN 'savings_opportunities' THEN 'assigned_to' WHEN 'organization_members' THEN 'access'
						ELSE 'requests' END,
	patch = CASE name WHEN 'cost_analysis' THEN '{"period_start": "1990-01-01", "period_end": "1990-01-02"}'
					  WHEN 'cost_forecasts' THEN '{"forecast_date": "1990-01-01"}'
					  WHEN 'budget_history' THEN '{"period_start": "1990-01-01", "period_end": "1990-01-02"}'
					  WHEN 'cost_recommendations' THEN '{"scope_key": "tap-copy"}'
					  WHEN 'savings_opportunities' THEN '{"opportunity_key": "tap-copy"}'
					  ELSE '{}' END::jsonb,
	move_a = CASE name WHEN 'budget_history'
					   THEN format('UPDATE costopt.budget_history SET budget_id = %s WHERE %s',
								   pg_temp.v('b_quiet_b'), a_filter)
					   WHEN 'organization_members'
					   THEN $$UPDATE costopt.organization_members SET organization_id = 'tap-sec-b' WHERE member = current_user$$
					   ELSE format($$UPDATE %s SET organization_id = 'tap-sec-b' WHERE %s$$, tbl, a_filter) END;
-- a copy of one of B's rows; a membership row naming the caller itself
CREATE FUNCTION pg_temp.copy_insert(t regclass, filter text, patch jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	cols text;
	r jsonb;
BEGIN
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_attribute a
	 WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.attidentity = '' AND a.attgenerated = '';
	EXECUTE format('SELECT to_jsonb(x) FROM %s x WHERE %s LIMIT 1', t, filter) INTO r;
	RETURN format('INSERT INTO %s (%s) SELECT %s FROM jsonb_populate_record(NULL::%s, %L::jsonb)',
				  t, cols, cols, t, r || patch);
END;
$$;
UPDATE org_tables SET ins_b = CASE name WHEN 'organization_members'
		THEN $$INSERT INTO costopt.organization_members (member, organization_id, access) VALUES (current_user, 'tap-sec-b', 'org_admin')$$
		ELSE pg_temp.copy_insert(tbl, b_filter, patch) END;

-- B's rows as they are now, and the price catalog, to compare at the end
CREATE TEMP TABLE b_before AS
SELECT t.name, pg_temp.digest(t.tbl, t.b_filter) AS digest FROM org_tables t
UNION ALL
SELECT 'model_pricing', pg_temp.digest('costopt.model_pricing', 'true')
UNION ALL
SELECT 'model_aliases', pg_temp.digest('costopt.model_aliases', 'true');

-- Every SELECT a test runs as a role can be noisy (warnings of failed
-- jobs, skipped partitions): only errors are shown from here on.
SET client_min_messages = error;

SELECT is((SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM org_tables t
			WHERE pg_temp.digest(t.tbl, t.a_filter) LIKE '0:%' OR pg_temp.digest(t.tbl, t.b_filter) LIKE '0:%'),
		  NULL, 'fixture: every organisation-scoped table holds rows of both organisations');
SELECT is((SELECT count(value)::integer FROM vars), 16,
		  'fixture: budgets, alerts, reservations, recommendations and opportunities of both organisations exist');

-------------------------------------------------------------------------------
-- Static checks
-------------------------------------------------------------------------------

-- SECURITY DEFINER only where it is needed: partition DDL and retention
-- (costopt_create_partitions, costopt_cleanup: admin-only), the budget
-- watermark the capture trigger needs across organisations, and the budget
-- trigger that takes a SHARE lock of the usage log.
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			 JOIN pg_proc p ON p.oid = f WHERE p.prosecdef),
		  ARRAY['costopt.budget_prepare()', 'costopt.budget_watermark()',
				'costopt_cleanup(interval,interval)', 'costopt_create_partitions(interval)'],
		  'SECURITY DEFINER functions are exactly the four that need it');
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			 JOIN pg_proc p ON p.oid = f
			WHERE p.prosecdef
			  AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)),
		  NULL, 'every SECURITY DEFINER function runs with search_path = pg_catalog, pg_temp');

-- Every SQL and PL/pgSQL function fixes its search_path, except the five
-- small SECURITY INVOKER SQL functions PostgreSQL must inline (a SET
-- clause prevents inlining; they qualify every name) (doc/security.md).
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			 JOIN pg_proc p ON p.oid = f JOIN pg_language l ON l.oid = p.prolang
			WHERE l.lanname IN ('sql', 'plpgsql') AND p.prokind <> 'a'
			  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')),
		  ARRAY['costopt.budget_rank(numeric[],numeric,numeric)', 'costopt.in_scope(costopt.api_usage_logs,jsonb)',
				'costopt.rollup_periods(timestamp with time zone,text)',
				'costopt.scope_matches(text,text,text,text,text,text,text,text)',
				'costopt_check_budget(text,text,text,numeric,text,text,boolean)'],
		  'every SQL and PL/pgSQL function fixes its search_path, but the five inlined ones');

-- Dynamic SQL.  Every EXECUTE of a PL/pgSQL function (other than EXECUTE
-- FUNCTION in trigger DDL) runs a format() result, except costopt_run_job,
-- which runs the command of a job: costopt.jobs is writable by admins only
-- (checked below) and costopt_run_job is admin-only.
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			 JOIN pg_proc p ON p.oid = f
			WHERE p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'plpgsql')
			  AND p.prosrc ~* '\mEXECUTE\M(?!\s+(format\s*\(|FUNCTION\M|PROCEDURE\M))'),
		  ARRAY['costopt_run_job(text,text)'],
		  'dynamic SQL is always built with format(), except costopt_run_job''s job command');
-- format strings of dynamic SQL interpolate identifiers with %I, literals
-- with %L; a plain %s is allowed only for a regclass (its output is a
-- quoted, qualified name) or for fragments made with %I/quote_ident.  The
-- functions allowed to use %s, each reviewed: costopt_attach_costing,
-- costopt_cleanup and costopt.add_usage_indexes (where installed) (%s = a
-- regclass), costopt_recost (%1$s = a regclass, the rest built with
-- quote_ident and format('%I::%s', name, format_type(...))).  A new one
-- fails here until it is reviewed and added.
WITH s AS (
	SELECT DISTINCT f::text AS fn
	  FROM pg_temp.ext_functions() f JOIN pg_proc p ON p.oid = f,
		   LATERAL regexp_matches(p.prosrc, $re$EXECUTE\s+format\(\s*((?:'(?:[^']|'')*'\s*)+)$re$, 'gi') m
	 WHERE m[1] ~ '%([0-9]+\$)?s'
)
SELECT is((SELECT coalesce(string_agg(s.fn, ', ' ORDER BY s.fn), 'none') FROM s
			WHERE s.fn NOT IN ('costopt_attach_costing(regclass)', 'costopt_cleanup(interval,interval)',
							   'costopt_recost(timestamp with time zone,timestamp with time zone,text,regclass)',
							   'costopt.add_usage_indexes(regclass)'))
		  || ' (cleanup found: ' || (SELECT count(*) FROM s WHERE s.fn = 'costopt_cleanup(interval,interval)') || ')',
		  'none (cleanup found: 1)',
		  'dynamic SQL with a plain %s only in the functions reviewed to pass a regclass there');

-- Admin-only functions: revoked from PUBLIC, granted to costopt_admin
-- (costopt.cron_sync is the C helper behind the pg_cron functions).
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			WHERE NOT has_function_privilege('costopt_org_admin', f, 'EXECUTE')),
		  ARRAY['costopt.cleanup_job(interval,interval,interval,interval)',
				'costopt.cron_sync(text[],text[],text[],boolean)',
				'costopt.recommendations_job()', 'costopt.savings_detection_job()',
				'costopt_attach_costing(regclass)', 'costopt_cleanup(interval,interval)',
				'costopt_create_partitions(interval)',
				'costopt_load_pricing(jsonb,timestamp with time zone,text[],text)',
				'costopt_recost(timestamp with time zone,timestamp with time zone,text,regclass)',
				'costopt_refresh_budgets()', 'costopt_refresh_rollups()',
				'costopt_run_forecasts(integer[],double precision)', 'costopt_run_job(text,text)',
				'costopt_schedule_cron()', 'costopt_unschedule_cron()',
				'costopt_verify_rollups(text,timestamp with time zone,timestamp with time zone)'],
		  'admin-only functions are exactly these');
-- costopt.cron_sync is revoked from PUBLIC but costopt_schedule_cron() and
-- costopt_unschedule_cron() (SECURITY INVOKER) call it: an admin who is not
-- a superuser needs it too.
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f
			WHERE NOT has_function_privilege('costopt_admin', f, 'EXECUTE')),
		  NULL, 'costopt_admin can execute every function of the extension (costopt.cron_sync included)');

-- Row-level security.  The organisation-scoped tables are found in the
-- catalog (a new one joins every per-table test below).
SELECT is((SELECT array_agg(t.name ORDER BY t.name) FROM org_tables t),
		  ARRAY['api_usage_logs', 'budget_alerts', 'budget_deltas', 'budget_history',
				'budget_reservations', 'budgets', 'cost_analysis', 'cost_forecasts',
				'cost_recommendations', 'organization_members', 'rollup_archive', 'rollup_deltas',
				'savings_opportunities'],
		  'the organisation-scoped tables are the thirteen expected');
SELECT is((SELECT array_agg(t.name ORDER BY t.name) FROM org_tables t JOIN pg_class c ON c.oid = t.tbl
			WHERE NOT c.relrowsecurity),
		  NULL, 'row-level security is enabled on every organisation-scoped table');
-- partitions of the usage log have no policies of their own: only
-- admins may read them directly
SELECT is((SELECT array_agg(c.oid::regclass::text ORDER BY 1) FROM pg_class c
			WHERE c.relnamespace = 'costopt'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
			  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id')
			  AND has_table_privilege('costopt_org_admin', c.oid, 'SELECT, INSERT, UPDATE, DELETE')),
		  NULL, 'no table holding organisation data without row-level security is open to non-admins');
-- tables without row-level security (prices, aliases, settings, jobs, job
-- runs) are changed by admins only
SELECT is((SELECT array_agg(c.oid::regclass::text ORDER BY 1) FROM pg_class c
			WHERE c.relnamespace = 'costopt'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
			  AND has_table_privilege('costopt_org_admin', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
		  NULL, 'tables without row-level security (prices, aliases, settings, jobs) are changed by admins only');
SELECT is((SELECT array_agg(v.viewname::text ORDER BY 1) FROM pg_views v JOIN pg_class c
			 ON c.relname = v.viewname AND c.relnamespace = 'costopt'::regnamespace
			WHERE v.schemaname = 'costopt' AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)),
		  NULL, 'every view of schema costopt is security_invoker');

-------------------------------------------------------------------------------
-- Tables and views, as each role
-------------------------------------------------------------------------------

-- Per role: "<A's rows>/<rows of any other organisation>" (ok/empty: A's
-- members see A's rows and nothing else), then whether the admin sees B's
-- rows (so the statement itself is right).
CREATE FUNCTION pg_temp.reads(rel text, a_filter text, not_a_filter text, b_filter text)
RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(t.tag || '=' || pg_temp.own_side(pg_temp.run_as(t.r, format('SELECT 1 FROM %s WHERE %s', rel, a_filter)))
						|| '/' || pg_temp.b_side(pg_temp.run_as(t.r, format('SELECT 1 FROM %s WHERE %s', rel, not_a_filter))),
					  ' ' ORDER BY t.ord)
		   || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin', format('SELECT 1 FROM %s WHERE %s', rel, b_filter)))
	  FROM pg_temp.tap_roles t
$$;

-- Every organisation-scoped table, rollup_archive included, is readable by
-- its organisations' members and by nobody else.
SELECT is(pg_temp.reads(t.tbl::text, t.a_filter, t.not_a_filter, t.b_filter),
		  pg_temp.all_roles('ok/empty', 'empty/empty') || ' admin=ok',
		  t.name || ': A''s members read A''s rows and no other organisation''s'
		  )
  FROM org_tables t ORDER BY t.name;

SELECT is(pg_temp.across(t.ins_b, 'write') || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin', t.ins_b, false)),
		  pg_temp.all_roles('blocked') || ' admin=ok',
		  t.name || ': A''s members cannot insert a row of B')
  FROM org_tables t ORDER BY t.name;

SELECT is('update: ' || pg_temp.across(format('UPDATE %s SET %I = %I WHERE %s', t.tbl, t.set_col, t.set_col, t.b_filter), 'write')
		  || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin',
								format('UPDATE %s SET %I = %I WHERE %s', t.tbl, t.set_col, t.set_col, t.b_filter), false))
		  || '; delete: ' || pg_temp.across(format('DELETE FROM %s WHERE %s', t.tbl, t.b_filter), 'write')
		  || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin',
								format('DELETE FROM %s WHERE %s', t.tbl, t.b_filter), false))
		  || '; move A to B: ' || pg_temp.across(t.move_a, 'write'),
		  'update: ' || pg_temp.all_roles('blocked') || ' admin=ok; delete: ' || pg_temp.all_roles('blocked')
		  || ' admin=ok; move A to B: ' || pg_temp.all_roles('blocked'),
		  t.name || ': A''s members cannot change or delete B''s rows, nor move A''s rows to B')
  FROM org_tables t ORDER BY t.name;

-- Every view of schema costopt (from pg_views, so a new view is tested
-- too): as the tables; a view without organisations is for admins only.
SELECT is(CASE WHEN o.has_org
			   THEN pg_temp.reads(format('costopt.%I', v.viewname), $$organization_id = 'tap-sec-a'$$,
								  $$organization_id IS DISTINCT FROM 'tap-sec-a'$$, $$organization_id = 'tap-sec-b'$$)
			   ELSE pg_temp.reads(format('costopt.%I', v.viewname), 'true', 'true', 'true') END,
		  CASE WHEN o.has_org THEN pg_temp.all_roles('ok/empty', 'empty/empty') || ' admin=ok'
			   ELSE pg_temp.all_roles('denied/refused') || ' admin=ok' END,
		  'view ' || v.viewname || CASE WHEN o.has_org THEN ': A''s members see A''s rows and no other organisation''s'
										ELSE ': admins only' END)
  FROM pg_views v,
	   LATERAL (SELECT EXISTS (SELECT 1 FROM pg_attribute a
								WHERE a.attrelid = format('costopt.%I', v.viewname)::regclass
								  AND a.attname = 'organization_id') AS has_org) o
 WHERE v.schemaname = 'costopt'
 ORDER BY v.viewname;

-------------------------------------------------------------------------------
-- Functions, as each role
-------------------------------------------------------------------------------

-- One case per function of the extension's schema, and per internal
-- helper (schema costopt) that takes an organisation or an id:
--   kind   org    takes an organisation: b_call passes B's
--          id     takes an id: b_call passes one of B's rows
--          admin  admin-only: b_call is any call
--          pure   reads no organisation data: every role may call it
--   expect what every role on A's side gets from b_call: refused (42501 or
--          42704, as for an id that does not exist) or empty (no row of B
--          in the answer)
--   own_call, own_role: the same function used as intended (A's
--          organisation or ids, by the least role that may; the admin for
--          admin-only ones), undone afterwards: must work ('ok').
-- {name} stands for an id of the fixture (pg_temp.vars).
CREATE TEMP TABLE fn_cases (fn text PRIMARY KEY, kind text NOT NULL, expect text, b_call text NOT NULL,
							own_role name, own_call text);
INSERT INTO fn_cases (fn, kind, expect, b_call, own_role, own_call)
VALUES
	-- user-facing functions taking an organisation
	('costopt_breakdown(text,text,integer)', 'org', 'refused',
	 $$SELECT * FROM costopt_breakdown('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_breakdown('tap-sec-a')$$),
	('costopt_budget_utilization(text)', 'org', 'empty',
	 $$SELECT * FROM costopt_budget_utilization('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_budget_utilization('tap-sec-a')$$),
	('costopt_chargeback(text,timestamp with time zone,timestamp with time zone,text)', 'org', 'refused',
	 $$SELECT * FROM costopt_chargeback('tap-sec-b', now() - interval '30 days', now())$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_chargeback('tap-sec-a', now() - interval '30 days', now())$$),
	('costopt_check_budget(text,text,text,numeric,text,text,boolean)', 'org', 'empty',
	 $$SELECT * FROM costopt_check_budget('tap-sec-b', estimated_cost => 1) WHERE budget_id IS NOT NULL$$,
	 'tap_sec_a_writer', $$SELECT * FROM costopt_check_budget('tap-sec-a', estimated_cost => 1) WHERE budget_id IS NOT NULL$$),
	('costopt_cost_analysis(text,timestamp with time zone,timestamp with time zone,text)', 'org', 'refused',
	 $$SELECT * FROM costopt_cost_analysis('tap-sec-b', now() - interval '30 days', now())$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_cost_analysis('tap-sec-a', now() - interval '30 days', now())$$),
	('costopt_create_budget(text,text,numeric,text,text,text,text,text,numeric[],text,numeric,timestamp with time zone,timestamp with time zone,text,boolean,boolean,jsonb,interval,text)', 'org', 'refused',
	 $$SELECT costopt_create_budget('tap-sec-b', 'x', 10)$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_create_budget('tap-sec-a', 'x', 10)$$),
	('costopt_detect_anomalies(text,integer,double precision,text,text)', 'org', 'refused',
	 $$SELECT * FROM costopt_detect_anomalies('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT count(*) FROM costopt_detect_anomalies('tap-sec-a')$$),
	('costopt_detect_opportunities(text,integer,timestamp with time zone)', 'org', 'refused',
	 $$SELECT * FROM costopt_detect_opportunities('tap-sec-b')$$,
	 'tap_sec_a_org_admin', $$SELECT * FROM costopt_detect_opportunities('tap-sec-a')$$),
	('costopt_forecast(text,integer,text,double precision)', 'org', 'refused',
	 $$SELECT * FROM costopt_forecast('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_forecast('tap-sec-a')$$),
	('costopt_forecast_accuracy(text,integer)', 'org', 'refused',
	 $$SELECT * FROM costopt_forecast_accuracy('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT count(*) FROM costopt_forecast_accuracy('tap-sec-a')$$),
	('costopt_forecast_total(text,integer,text,double precision)', 'org', 'refused',
	 $$SELECT * FROM costopt_forecast_total('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_forecast_total('tap-sec-a')$$),
	('costopt_generate_recommendations(text,integer,timestamp with time zone)', 'org', 'refused',
	 $$SELECT * FROM costopt_generate_recommendations('tap-sec-b')$$,
	 'tap_sec_a_org_admin', $$SELECT * FROM costopt_generate_recommendations('tap-sec-a')$$),
	('costopt_ingest(text,jsonb,text,text,jsonb,text,jsonb,integer,timestamp with time zone,text,bigint)', 'org', 'refused',
	 $$SELECT costopt_ingest('openai', '{"model": "tapsec-m", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}', 'tap-sec-b')$$,
	 'tap_sec_a_writer', $$SELECT costopt_ingest('openai', '{"model": "tapsec-m", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}', 'tap-sec-a')$$),
	('costopt_invoice(text,timestamp with time zone,timestamp with time zone,numeric,numeric)', 'org', 'refused',
	 $$SELECT costopt_invoice('tap-sec-b', now() - interval '30 days', now())$$,
	 'tap_sec_a_reader', $$SELECT costopt_invoice('tap-sec-a', now() - interval '30 days', now())$$),
	('costopt_reserve(text,text,text,numeric,text,text,interval,boolean)', 'org', 'refused',
	 $$SELECT * FROM costopt_reserve('tap-sec-b', estimated_cost => 0.1)$$,
	 'tap_sec_a_writer', $$SELECT * FROM costopt_reserve('tap-sec-a', estimated_cost => 0.1) WHERE reservation_id IS NOT NULL$$),
	('costopt_top_cost_drivers(text,integer,integer)', 'org', 'refused',
	 $$SELECT * FROM costopt_top_cost_drivers('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_top_cost_drivers('tap-sec-a')$$),
	('costopt_trends(text,text,integer,text)', 'org', 'refused',
	 $$SELECT * FROM costopt_trends('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_trends('tap-sec-a')$$),

	-- user-facing functions taking an id
	('costopt_accept_recommendation(bigint,text)', 'id', 'refused',
	 $$SELECT costopt_accept_recommendation({rec_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_accept_recommendation({rec_a})$$),
	('costopt_acknowledge_alert(bigint,text)', 'id', 'refused',
	 $$SELECT costopt_acknowledge_alert({alert_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_acknowledge_alert({alert_a})$$),
	('costopt_archive_recommendation(bigint)', 'id', 'refused',
	 $$SELECT costopt_archive_recommendation({rec_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_archive_recommendation((costopt_reject_recommendation({rec_a}, 'no')).id)$$),
	('costopt_budget_history(bigint)', 'id', 'refused',
	 $$SELECT * FROM costopt_budget_history({b_roll_b})$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_budget_history({b_roll_a}) WHERE NOT is_current$$),
	('costopt_budget_status(bigint)', 'id', 'refused',
	 $$SELECT * FROM costopt_budget_status({b_alert_b})$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_budget_status({b_alert_a})$$),
	('costopt_delete_budget(bigint)', 'id', 'refused',
	 $$SELECT costopt_delete_budget({b_quiet_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_delete_budget({b_quiet_a})$$),
	('costopt_implement_recommendation(bigint,timestamp with time zone,text)', 'id', 'refused',
	 $$SELECT costopt_implement_recommendation({rec_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_implement_recommendation((costopt_accept_recommendation({rec_a})).id)$$),
	('costopt_recommendation_roi(bigint,numeric,integer)', 'id', 'refused',
	 $$SELECT * FROM costopt_recommendation_roi({rec_b}, 100)$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt_recommendation_roi({rec_a}, 100)$$),
	('costopt_reject_recommendation(bigint,text)', 'id', 'refused',
	 $$SELECT costopt_reject_recommendation({rec_b}, 'no')$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_reject_recommendation({rec_a}, 'no')$$),
	('costopt_release(bigint)', 'id', 'refused',
	 $$SELECT costopt_release({res_b})$$,
	 'tap_sec_a_writer', $$SELECT 1 WHERE costopt_release({res_a})$$),
	('costopt_update_budget(bigint,numeric,text,numeric[],text,numeric,timestamp with time zone,boolean,jsonb,interval,boolean,boolean,text)', 'id', 'refused',
	 $$SELECT costopt_update_budget({b_quiet_b}, limit_usd => 1)$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_update_budget({b_quiet_a}, limit_usd => 1)$$),
	('costopt_update_opportunity(bigint,text,text,text)', 'id', 'refused',
	 $$SELECT costopt_update_opportunity({opp_b}, 'dismissed', 'no')$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_update_opportunity({opp_a}, 'investigating')$$),
	('costopt_verify_opportunity(bigint,numeric,text)', 'id', 'refused',
	 $$SELECT costopt_verify_opportunity({opp_b}, 5)$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_verify_opportunity((costopt_update_opportunity((costopt_update_opportunity({opp_a}, 'planned')).id, 'implemented')).id, 5)$$),
	('costopt_verify_recommendation(bigint,timestamp with time zone)', 'id', 'refused',
	 $$SELECT costopt_verify_recommendation({rec_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt_verify_recommendation((costopt_implement_recommendation((costopt_accept_recommendation({rec_a})).id, now() - interval '7 days')).id)$$),

	-- admin-only (the pg_cron pair cannot run here: pg_cron lives in
	-- another database, reached by a worker that logs in as the caller,
	-- and the roles of this suite are not committed; their privileges are
	-- checked, with the helper they call)
	('costopt_attach_costing(regclass)', 'admin', 'refused',
	 $$SELECT costopt_attach_costing('pg_temp.tap_usage')$$,
	 'tap_sec_admin', $$SELECT costopt_attach_costing('pg_temp.tap_usage')$$),
	('costopt_cleanup(interval,interval)', 'admin', 'refused',
	 $$SELECT costopt_cleanup()$$, 'tap_sec_admin', $$SELECT costopt_cleanup()$$),
	('costopt_create_partitions(interval)', 'admin', 'refused',
	 $$SELECT costopt_create_partitions()$$, 'tap_sec_admin', $$SELECT costopt_create_partitions()$$),
	('costopt_load_pricing(jsonb,timestamp with time zone,text[],text)', 'admin', 'refused',
	 $$SELECT costopt_load_pricing('{"tapsec-new": {"litellm_provider": "tapsec", "mode": "chat", "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}}')$$,
	 'tap_sec_admin', $$SELECT costopt_load_pricing('{"tapsec-new": {"litellm_provider": "tapsec", "mode": "chat", "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}}')$$),
	('costopt_recost(timestamp with time zone,timestamp with time zone,text,regclass)', 'admin', 'refused',
	 $$SELECT costopt_recost(now() - interval '30 days', now())$$,
	 'tap_sec_admin', $$SELECT costopt_recost(now() - interval '30 days', now())$$),
	('costopt_refresh_budgets()', 'admin', 'refused',
	 $$SELECT costopt_refresh_budgets()$$, 'tap_sec_admin', $$SELECT costopt_refresh_budgets()$$),
	('costopt_refresh_rollups()', 'admin', 'refused',
	 $$SELECT costopt_refresh_rollups()$$, 'tap_sec_admin', $$SELECT costopt_refresh_rollups()$$),
	('costopt_run_forecasts(integer[],double precision)', 'admin', 'refused',
	 $$SELECT costopt_run_forecasts()$$, 'tap_sec_admin', $$SELECT costopt_run_forecasts()$$),
	('costopt_run_job(text,text)', 'admin', 'refused',
	 $$SELECT costopt_run_job('refresh_rollups')$$,
	 'tap_sec_admin', $$SELECT * FROM costopt_run_job('refresh_rollups') WHERE status = 'succeeded'$$),
	('costopt_schedule_cron()', 'admin', 'refused',
	 $$SELECT * FROM costopt_schedule_cron()$$,
	 'tap_sec_admin', $$SELECT 1 WHERE has_function_privilege('costopt_schedule_cron()', 'EXECUTE')
						  AND has_function_privilege('costopt.cron_sync(text[],text[],text[],boolean)', 'EXECUTE')$$),
	('costopt_unschedule_cron()', 'admin', 'refused',
	 $$SELECT * FROM costopt_unschedule_cron()$$,
	 'tap_sec_admin', $$SELECT 1 WHERE has_function_privilege('costopt_unschedule_cron()', 'EXECUTE')
						  AND has_function_privilege('costopt.cron_sync(text[],text[],text[],boolean)', 'EXECUTE')$$),
	('costopt_verify_rollups(text,timestamp with time zone,timestamp with time zone)', 'admin', 'refused',
	 $$SELECT * FROM costopt_verify_rollups('tap-sec-b')$$,
	 'tap_sec_admin', $$SELECT count(*) FROM costopt_verify_rollups('tap-sec-b')$$),

	-- no organisation data
	('costopt_anomaly_scan(timestamp with time zone[],double precision[],text,double precision,integer,boolean)', 'pure', NULL,
	 $$SELECT * FROM costopt_anomaly_scan(ARRAY[now() - interval '2 days', now() - interval '1 day', now()], ARRAY[1, 2, 3]::float8[])$$, NULL, NULL),
	('costopt_compare_models(bigint,bigint,bigint,bigint,numeric,text,timestamp with time zone,boolean)', 'pure', NULL,
	 $$SELECT * FROM costopt_compare_models(1000, 500)$$, NULL, NULL),
	('costopt_forecast_series(date[],double precision[],integer,text,double precision)', 'pure', NULL,
	 $$SELECT * FROM costopt_forecast_series((SELECT array_agg(current_date - g ORDER BY g DESC) FROM generate_series(1, 14) g),
											 (SELECT array_agg(g::float8) FROM generate_series(1, 14) g))$$, NULL, NULL),
	('costopt_forecast_series_total(date[],double precision[],integer,text,double precision)', 'pure', NULL,
	 $$SELECT * FROM costopt_forecast_series_total((SELECT array_agg(current_date - g ORDER BY g DESC) FROM generate_series(1, 14) g),
												   (SELECT array_agg(g::float8) FROM generate_series(1, 14) g))$$, NULL, NULL),
	('costopt_model_alternatives(text,numeric,text)', 'pure', NULL,
	 $$SELECT * FROM costopt_model_alternatives('gpt-4o')$$, NULL, NULL),
	('costopt_monthly_projection(numeric,numeric,numeric,text,numeric,text,numeric)', 'pure', NULL,
	 $$SELECT * FROM costopt_monthly_projection(100, 1000, 500, 'tapsec-m')$$, NULL, NULL),
	('costopt_predict(costopt.trend_fit,timestamp with time zone,double precision)', 'pure', NULL,
	 $$SELECT costopt_predict((SELECT costopt_trend(now() - g * interval '1 day', g) FROM generate_series(1, 5) g), now())$$, NULL, NULL),
	('costopt_request_cost(text,bigint,bigint,bigint,bigint,timestamp with time zone,text,boolean)', 'pure', NULL,
	 $$SELECT * FROM costopt_request_cost('tapsec-m', 1000, 500)$$, NULL, NULL),
	('costopt_stats(double precision)', 'pure', NULL,
	 $$SELECT costopt_stats(g) FROM generate_series(1, 3) g$$, NULL, NULL),
	('costopt_trend(timestamp with time zone,double precision)', 'pure', NULL,
	 $$SELECT costopt_trend(now() - g * interval '1 day', g) FROM generate_series(1, 3) g$$, NULL, NULL),

	-- internal helpers taking an organisation or an id
	('costopt.active_organizations(timestamp with time zone)', 'org', 'empty',
	 $$SELECT * FROM costopt.active_organizations(now() - interval '30 days') o WHERE o IS DISTINCT FROM 'tap-sec-a'$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.active_organizations(now() - interval '30 days') o WHERE o = 'tap-sec-a'$$),
	('costopt.budget_for_update(bigint)', 'id', 'refused',
	 $$SELECT costopt.budget_for_update({b_quiet_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt.budget_for_update({b_quiet_a})$$),
	('costopt.budget_projection(text,boolean,numeric,numeric,timestamp with time zone,timestamp with time zone,text)', 'org', 'empty',
	 $$SELECT * FROM costopt.budget_projection('tap-sec-b', true, 1, 1000, now() - interval '1 day', now() + interval '20 days', 'UTC') WHERE method = 'forecast'$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.budget_projection('tap-sec-a', true, 1, 1000, now() - interval '1 day', now() + interval '20 days', 'UTC') WHERE method = 'forecast'$$),
	-- (raises YC001 with the name it is given; reads nothing)
	('costopt.budget_refuse(bigint,text,text)', 'pure', NULL,
	 $$SELECT 1 WHERE pg_temp.sqlstate_of('SELECT costopt.budget_refuse(1, ''x'', ''y'')') = 'YC001'$$, NULL, NULL),
	('costopt.budget_state(bigint[],text)', 'org', 'empty',
	 $$SELECT * FROM costopt.budget_state(NULL, 'tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.budget_state(NULL, 'tap-sec-a')$$),
	('costopt.check_analysis_args(text,integer,timestamp with time zone)', 'pure', NULL,
	 $$SELECT costopt.check_analysis_args('tap-sec-b', 30, now())$$, NULL, NULL),
	('costopt.check_range(text,timestamp with time zone,timestamp with time zone)', 'org', 'refused',
	 $$SELECT * FROM costopt.check_range('tap-sec-b', now() - interval '1 day', now())$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.check_range('tap-sec-a', now() - interval '1 day', now())$$),
	('costopt.check_period(text,timestamp with time zone,timestamp with time zone)', 'org', 'refused',
	 $$SELECT costopt.check_period('tap-sec-b', now() - interval '1 day', now())$$,
	 'tap_sec_a_reader', $$SELECT costopt.check_period('tap-sec-a', now() - interval '1 day', now())$$),
	('costopt.daily_costs(text,date,date)', 'org', 'empty',
	 $$SELECT * FROM costopt.daily_costs('tap-sec-b', current_date - 30, current_date + 1)$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.daily_costs('tap-sec-a', current_date - 30, current_date + 1)$$),
	('costopt.find_savings(text,timestamp with time zone,timestamp with time zone)', 'org', 'empty',
	 $$SELECT * FROM costopt.find_savings('tap-sec-b', now() - interval '30 days', now())$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.find_savings('tap-sec-a', now() - interval '30 days', now())$$),
	('costopt.member_organizations(text[])', 'org', 'empty',
	 $$SELECT * FROM costopt.member_organizations() o WHERE o IS DISTINCT FROM 'tap-sec-a'$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.member_organizations() o WHERE o = 'tap-sec-a'$$),
	('costopt.org_forecast(text,integer,text,double precision)', 'org', 'refused',
	 $$SELECT costopt.org_forecast('tap-sec-b', 7, 'auto', 0.95)$$,
	 'tap_sec_a_reader', $$SELECT costopt.org_forecast('tap-sec-a', 7, 'auto', 0.95)$$),
	('costopt.raw_hourly(text,timestamp with time zone,timestamp with time zone)', 'org', 'empty',
	 $$SELECT * FROM costopt.raw_hourly('tap-sec-b', '-infinity', 'infinity')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.raw_hourly('tap-sec-a', '-infinity', 'infinity')$$),
	('costopt.recommendation_for_update(bigint)', 'id', 'refused',
	 $$SELECT costopt.recommendation_for_update({rec_b})$$,
	 'tap_sec_a_org_admin', $$SELECT costopt.recommendation_for_update({rec_a})$$),
	('costopt.require_organization(text,text[])', 'org', 'refused',
	 $$SELECT costopt.require_organization('tap-sec-b')$$,
	 'tap_sec_a_reader', $$SELECT costopt.require_organization('tap-sec-a')$$),
	('costopt.rollup_range(text,timestamp with time zone,timestamp with time zone,text)', 'org', 'empty',
	 $$SELECT * FROM costopt.rollup_range('tap-sec-b', date_trunc('hour', now()) - interval '30 days', date_trunc('hour', now()) + interval '1 hour')$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.rollup_range('tap-sec-a', date_trunc('hour', now()) - interval '30 days', date_trunc('hour', now()) + interval '1 hour')$$),
	('costopt.scope_matches(text,text,text,text,text,text,text,text)', 'pure', NULL,
	 $$SELECT costopt.scope_matches(NULL, NULL, NULL, NULL, 'u', 'p', 'm', 'x')$$, NULL, NULL),
	('costopt.scope_spend(text,text,text,text,text,timestamp with time zone,timestamp with time zone)', 'org', 'empty',
	 $$SELECT * FROM costopt.scope_spend('tap-sec-b', NULL, NULL, NULL, NULL, '-infinity', 'infinity') WHERE requests > 0$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.scope_spend('tap-sec-a', NULL, NULL, NULL, NULL, '-infinity', 'infinity') WHERE requests > 0$$),
	('costopt.scope_usage(text,jsonb,timestamp with time zone,timestamp with time zone)', 'org', 'empty',
	 $$SELECT * FROM costopt.scope_usage('tap-sec-b', '{}', '-infinity', 'infinity') WHERE requests > 0$$,
	 'tap_sec_a_reader', $$SELECT * FROM costopt.scope_usage('tap-sec-a', '{}', '-infinity', 'infinity') WHERE requests > 0$$);
UPDATE fn_cases SET b_call = pg_temp.fill(b_call), own_call = pg_temp.fill(own_call);

-- the cases cover every function of the extension's schema ...
SELECT set_eq($$SELECT f::text FROM pg_temp.ext_functions() f
				 WHERE (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = f) <> 'costopt'::regnamespace$$,
			  $$SELECT fn FROM pg_temp.fn_cases WHERE fn NOT LIKE 'costopt.%'$$,
			  'every function of the extension''s schema has a case below');
-- ... and every internal helper with an argument naming an organisation or an id
SELECT is((SELECT array_agg(f::text ORDER BY f::text) FROM pg_temp.ext_functions() f JOIN pg_proc p ON p.oid = f
			WHERE p.pronamespace = 'costopt'::regnamespace
			  AND EXISTS (SELECT 1 FROM unnest(p.proargnames, p.proargmodes::text[]) a(n, m)
						   WHERE coalesce(m, 'i') IN ('i', 'b')
							 AND (n IN ('org', 'organization_id', 'ids') OR n LIKE '%\_id'))
			  AND f::text NOT IN (SELECT fn FROM fn_cases)),
		  NULL, 'every internal function taking an organisation or an id has a case below');

-- One test per function: what each role on A's side gets when it points
-- the function at B, and (own) whether the function works on A for the
-- role meant to use it.
SELECT is(CASE WHEN c.kind = 'pure' THEN pg_temp.across(c.b_call, 'own')
			   ELSE pg_temp.across(c.b_call, 'b') || ' own='
					|| pg_temp.own_side(pg_temp.run_as(c.own_role, c.own_call, false)) END,
		  CASE WHEN c.kind = 'pure' THEN pg_temp.all_roles('ok')
			   ELSE pg_temp.all_roles(c.expect) || ' own=ok' END,
		  c.fn || CASE c.kind WHEN 'org' THEN ': nothing of organisation B'
							  WHEN 'id' THEN ': B''s ids are refused'
							  WHEN 'admin' THEN ': admins only'
							  ELSE ': callable by every role' END
		  )
  FROM fn_cases c ORDER BY c.fn NOT LIKE 'costopt.%' DESC, c.fn;

-- No existence oracle: for the organisation admin of A, B's id gets the
-- same error as an id that was never used, message included.
CREATE FUNCTION pg_temp.error_as(r name, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	res text := 'no error';
BEGIN
	PERFORM set_config('role', r, true);
	BEGIN
		EXECUTE stmt;
	EXCEPTION WHEN OTHERS THEN
		res := SQLSTATE || ': ' || regexp_replace(SQLERRM, '-?[0-9]+', 'N', 'g');
	END;
	PERFORM set_config('role', 'none', true);
	RETURN res;
END;
$$;
SELECT is((SELECT array_agg(c.fn ORDER BY c.fn) FROM fn_cases c
			WHERE c.kind = 'id'
			  AND pg_temp.error_as('tap_sec_a_org_admin', c.b_call)
				  IS DISTINCT FROM pg_temp.error_as('tap_sec_a_org_admin', regexp_replace(c.b_call, '\(([0-9]+)', '(-4242'))),
		  NULL, 'for an organisation admin of A, B''s ids get the same error as ids never used');

-------------------------------------------------------------------------------
-- Prices: only admins change them
-------------------------------------------------------------------------------

CREATE FUNCTION pg_temp.writes(ins text, upd text, del text) RETURNS text LANGUAGE sql AS $$
	SELECT 'insert: ' || pg_temp.across(ins, 'write')
		   || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin', ins, false))
		   || '; update: ' || pg_temp.across(upd, 'write')
		   || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin', upd, false))
		   || '; delete: ' || pg_temp.across(del, 'write')
		   || ' admin=' || pg_temp.own_side(pg_temp.run_as('tap_sec_admin', del, false))
$$;
SELECT is(pg_temp.writes($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
						   VALUES ('tapsec', 'tapsec-free', 0, 0, '-infinity')$$,
						 $$UPDATE costopt.model_pricing SET input_price = 0 WHERE model_name = 'tapsec-m'$$,
						 $$DELETE FROM costopt.model_pricing WHERE model_name = 'tapsec-m'$$)
		  || '; truncate: ' || pg_temp.across('TRUNCATE costopt.model_pricing', 'write'),
		  'insert: ' || pg_temp.all_roles('blocked') || ' admin=ok; update: ' || pg_temp.all_roles('blocked')
		  || ' admin=ok; delete: ' || pg_temp.all_roles('blocked') || ' admin=ok; truncate: ' || pg_temp.all_roles('blocked'),
		  'costopt.model_pricing: only the admin inserts, updates, deletes or truncates prices');
SELECT is(pg_temp.writes($$INSERT INTO costopt.model_aliases (alias, target_provider, target_model)
						   VALUES ('tapsec-alias', 'tapsec', 'tapsec-m')$$,
						 $$UPDATE costopt.model_aliases SET target_model = 'tapsec-m', target_provider = 'tapsec'$$,
						 $$DELETE FROM costopt.model_aliases$$)
		  || '; truncate: ' || pg_temp.across('TRUNCATE costopt.model_aliases', 'write'),
		  'insert: ' || pg_temp.all_roles('blocked') || ' admin=ok; update: ' || pg_temp.all_roles('blocked')
		  || ' admin=ok; delete: ' || pg_temp.all_roles('blocked') || ' admin=ok; truncate: ' || pg_temp.all_roles('blocked'),
		  'costopt.model_aliases: only the admin changes aliases');
-- a writer cannot bring its own costs either (costopt.keep_supplied_costs
-- is for the table's owner)
SELECT pg_temp.run_as('tap_sec_a_writer',
		$$WITH s AS (SELECT set_config('costopt.keep_supplied_costs', 'on', true))
		  INSERT INTO costopt.api_usage_logs (organization_id, user_id, provider, model, input_tokens,
											  output_tokens, input_cost, output_cost, total_cost)
		  SELECT 'tap-sec-a', 'tap-supplied', 'tapsec', 'tapsec-m', 1000, 500, 0, 0, 0 FROM s$$) AS supplied \gset
SELECT is(:'supplied' || ' cost=' || (SELECT u.total_cost::numeric(10, 2) FROM costopt.api_usage_logs u
									   WHERE u.user_id = 'tap-supplied'),
		  'rows:1 cost=2.00', 'a writer''s usage row is priced from the catalog even with costs supplied');
SET costopt.keep_supplied_costs = off;

-------------------------------------------------------------------------------
-- Memberships
-------------------------------------------------------------------------------

-- a scalar query as a role: its value, or the SQLSTATE it raised
CREATE FUNCTION pg_temp.value_as(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	res text;
BEGIN
	PERFORM set_config('role', r, true);
	BEGIN
		EXECUTE q INTO res;
	EXCEPTION WHEN OTHERS THEN
		res := SQLSTATE;
	END;
	PERFORM set_config('role', 'none', true);
	RETURN res;
END;
$$;
CREATE FUNCTION pg_temp.memberships_as(r name) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(pg_temp.value_as(r, $q$SELECT string_agg(m.member || ':' || m.organization_id || ':' || m.access, ','
														   ORDER BY m.member, m.organization_id)
											FROM costopt.organization_members m$q$), '-')
$$;

SELECT is((SELECT string_agg(t.tag || '=' || pg_temp.memberships_as(t.r), ' ' ORDER BY t.ord) FROM tap_roles t)
		  || ' mixed=' || pg_temp.memberships_as('tap_sec_mixed'),
		  'reader=tap_sec_a_reader:tap-sec-a:reader writer=tap_sec_a_writer:tap-sec-a:writer '
		  'org_admin=tap_sec_a_org_admin:tap-sec-a:org_admin team_user=tap_sec_a_team:tap-sec-a:writer nobody=- '
		  'mixed=tap_sec_mixed:tap-sec-a:org_admin,tap_sec_mixed:tap-sec-b:reader',
		  'each role sees its own membership rows (a group member its group''s) and no one else''s');
SELECT is('promote: ' || pg_temp.across($$UPDATE costopt.organization_members SET access = 'org_admin' WHERE member = current_user$$, 'write')
		  || '; remove: ' || pg_temp.across($$DELETE FROM costopt.organization_members WHERE member = current_user$$, 'write')
		  || '; add: ' || pg_temp.across($$INSERT INTO costopt.organization_members (member, organization_id, access)
										   VALUES ('tap_sec_nobody', 'tap-sec-a', 'org_admin')$$, 'write'),
		  'promote: ' || pg_temp.all_roles('blocked') || '; remove: ' || pg_temp.all_roles('blocked')
		  || '; add: ' || pg_temp.all_roles('blocked'),
		  'non-admins cannot promote themselves, drop their membership or add members');
SELECT is(pg_temp.run_as('tap_sec_admin', $$INSERT INTO costopt.organization_members (member, organization_id, access)
											 VALUES ('tap_sec_nobody', 'tap-sec-b', 'reader')$$)
		  || ' sees=' || pg_temp.value_as('tap_sec_nobody', 'SELECT count(*) FROM costopt.budgets')
		  || ' ' || pg_temp.run_as('tap_sec_admin', $$DELETE FROM costopt.organization_members WHERE member = 'tap_sec_nobody'$$)
		  || ' sees=' || pg_temp.value_as('tap_sec_nobody', 'SELECT count(*) FROM costopt.budgets'),
		  'rows:1 sees=4 rows:1 sees=0', 'a membership the admin grants takes effect at once, and ends when removed');
-- the group member reads A only through its group's row
DELETE FROM costopt.organization_members WHERE member = 'tap_sec_a_team';
SELECT is(pg_temp.value_as('tap_sec_a_team_user', 'SELECT count(*) FROM costopt.budgets') || '/'
		  || pg_temp.value_as('tap_sec_a_team_user', 'SELECT count(*) FROM costopt.member_organizations()'),
		  '0/0', 'without its group''s membership row the group member sees nothing');
INSERT INTO costopt.organization_members (member, organization_id, access) VALUES ('tap_sec_a_team', 'tap-sec-a', 'writer');
-- access levels are per organisation: org_admin of A, reader of B
SELECT is('read: ' || pg_temp.own_side(pg_temp.run_as('tap_sec_mixed', $$SELECT 1 FROM costopt.budgets WHERE organization_id = 'tap-sec-b'$$))
		  || ' update: ' || pg_temp.write_side(pg_temp.run_as('tap_sec_mixed', $$UPDATE costopt.budgets SET limit_usd = 1 WHERE organization_id = 'tap-sec-b'$$))
		  || ' create: ' || pg_temp.b_side(pg_temp.run_as('tap_sec_mixed', $$SELECT costopt_create_budget('tap-sec-b', 'x', 10)$$))
		  || ' reserve: ' || pg_temp.b_side(pg_temp.run_as('tap_sec_mixed', $$SELECT * FROM costopt_reserve('tap-sec-b', estimated_cost => 0.1)$$))
		  || ' recommend: ' || pg_temp.b_side(pg_temp.run_as('tap_sec_mixed', $$SELECT * FROM costopt_generate_recommendations('tap-sec-b')$$))
		  || ' acknowledge: ' || pg_temp.b_side(pg_temp.run_as('tap_sec_mixed', pg_temp.fill('SELECT costopt_acknowledge_alert({alert_b})')))
		  || ' create in A: ' || pg_temp.own_side(pg_temp.run_as('tap_sec_mixed', $$SELECT costopt_create_budget('tap-sec-a', 'x', 10)$$, false)),
		  'read: ok update: blocked create: refused reserve: refused recommend: refused acknowledge: refused create in A: ok',
		  'an organisation admin of A who reads B reads B and manages A only');

-- a usage row of A naming B's reservation settles nothing
SELECT is(pg_temp.run_as('tap_sec_a_writer', pg_temp.fill(
			$$INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens, reservation_id)
			  VALUES ('tap-sec-a', 'tapsec', 'tapsec-m', 1000, 500, {res_b})$$)),
		  'rows:1', 'a writer of A may name any reservation in a usage row of A ...');
SELECT is((SELECT r.status || ' ' || coalesce(r.usage_id::text, '-') FROM costopt.budget_reservations r
			WHERE r.id = pg_temp.v('res_b')),
		  'active -', '... but B''s reservation is not settled by it');

-------------------------------------------------------------------------------
-- After all of the above, as the superuser: B's rows and the prices are
-- as they were
-------------------------------------------------------------------------------

SELECT results_eq($$SELECT t.name, pg_temp.digest(t.tbl, t.b_filter) FROM pg_temp.org_tables t
					UNION ALL SELECT 'model_pricing', pg_temp.digest('costopt.model_pricing', 'true')
					UNION ALL SELECT 'model_aliases', pg_temp.digest('costopt.model_aliases', 'true')
					ORDER BY 1$$,
				  $$SELECT name, digest FROM pg_temp.b_before ORDER BY 1$$,
				  'B''s rows in every organisation-scoped table, and the prices, are unchanged');

-------------------------------------------------------------------------------
-- Budgets of B reached through rows of A
-------------------------------------------------------------------------------

-- A reservation or an alert of organisation A must not name B's budgets:
-- the refresh (run by the scheduler, which bypasses row-level security)
-- would take a reservation's estimate off B's budget, and an alert of A
-- under B's budget would suppress B's own alert for the cooldown.  The write
-- policies check that every budget named is of the row's organisation.
SELECT is(pg_temp.write_side(pg_temp.run_as('tap_sec_a_writer', pg_temp.fill(
			$$INSERT INTO costopt.budget_reservations (organization_id, estimated_cost, budget_ids, expires_at)
			  VALUES ('tap-sec-a', 100, ARRAY[{b_hard_b}]::bigint[], now() - interval '1 second')$$))),
		  'blocked', 'a writer of A cannot make a reservation that holds B''s budget');
SELECT is(pg_temp.write_side(pg_temp.run_as('tap_sec_a_writer', pg_temp.fill(
			$$UPDATE costopt.budget_reservations SET budget_ids = ARRAY[{b_hard_b}]::bigint[] WHERE id = {res_a}$$))),
		  'blocked', 'a writer of A cannot point a reservation of A at B''s budget');
SELECT is(pg_temp.write_side(pg_temp.run_as('tap_sec_a_org_admin', pg_temp.fill(
			$$INSERT INTO costopt.budget_alerts (budget_id, organization_id, level, threshold, spend, limit_usd,
												 utilization, period_start, message)
			  VALUES ({b_quiet_b}, 'tap-sec-a', 'warning', 0.8, 0, 1, 0, now(), 'not B''s')$$))),
		  'blocked', 'an organisation admin of A cannot file an alert under B''s budget');
-- B's quiet budget reaches its warning threshold (85 % of a new limit)
SELECT costopt_update_budget(pg_temp.v('b_quiet_b'),
							 limit_usd => round((SELECT s.spend FROM costopt_budget_status(pg_temp.v('b_quiet_b')) s) / 0.85, 2))
\g /dev/null
SELECT costopt_refresh_budgets() \g /dev/null
SELECT is((SELECT b.reserved FROM costopt.budgets b WHERE b.id = pg_temp.v('b_hard_b')), 0.5,
		  'after the refresh B''s hard budget still holds B''s own reservation of 0.5');
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts a
			WHERE a.budget_id = pg_temp.v('b_quiet_b') AND a.organization_id = 'tap-sec-b' AND a.level = 'warning'),
		  1, 'B''s budget raises its warning alert');

-------------------------------------------------------------------------------
-- The admin changes a price; calls after it cost the new price
-------------------------------------------------------------------------------

SELECT pg_temp.run_as('tap_sec_admin',
		$$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
		  VALUES ('tapsec', 'tapsec-m', 2000, 4000, now() - interval '1 minute')$$) AS repriced \gset
INSERT INTO costopt.api_usage_logs (organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES ('tap-sec-a', 'tap-new-price', 'tapsec', 'tapsec-m', 1000, 500);
SELECT is(:'repriced' || ' cost=' || (SELECT u.total_cost::numeric(10, 2) FROM costopt.api_usage_logs u
									   WHERE u.user_id = 'tap-new-price'),
		  'rows:1 cost=4.00', 'a price version the admin adds prices the calls after it');

SELECT * FROM finish();
ROLLBACK;
