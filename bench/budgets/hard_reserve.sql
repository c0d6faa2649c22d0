-- pgbench script of the admission check: reserve $0.01 on one of the small
-- hard budgets (organisation hard-1 .. hard-:hard_orgs, as user u1, u2 or
-- without a user), never settled.  Refusals are expected once a budget is
-- full.
\set o random(1, :hard_orgs)
\set u random(0, 2)
SELECT * FROM costopt_reserve('hard-' || :o, CASE WHEN :u > 0 THEN 'hard-' || :o || '-u' || :u END,
							  NULL, 0.01);
