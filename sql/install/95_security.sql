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
