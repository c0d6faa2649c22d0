-- pgbench script: one pre-call check of a random organisation (uniform over
-- org-1 .. org-:orgs) by one of its users u1..u3, or by a service key
-- without a user (1 in 4), for an estimated $0.01.  The organisation has an
-- organisation-wide budget and one per user, so a user's check weighs two
-- budgets and a service key's one.
\set o random(1, :orgs)
\set u random(0, 3)
SELECT * FROM costopt_check_budget('org-' || :o,
	CASE WHEN :u > 0 THEN 'org-' || :o || '-u' || :u END, NULL, 0.01);
