-- pgbench script: the floor of any pre-call check, the same index probe as
-- costopt_check_budget() (the active budgets of a random organisation,
-- through budgets_org_idx) returning their spend columns, with no decision.
\set o random(1, :orgs)
SELECT id, limit_usd, current_spend, reserved
  FROM costopt.budgets
 WHERE organization_id = 'org-' || :o AND is_active;
