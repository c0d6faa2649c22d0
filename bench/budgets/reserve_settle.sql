-- pgbench script: one budgeted call of a random user (org-1 .. org-:orgs,
-- u1..u3), as a gateway makes it: reserve the estimated $0.01 against the
-- organisation's and the user's budget (one transaction), then, when
-- admitted, log the call naming the reservation, which settles it (a second
-- transaction).  A refused call logs nothing.
\set o random(1, :orgs)
\set u random(1, 3)
SELECT coalesce(reservation_id, 0) AS rid, allowed::integer AS ok
  FROM costopt_reserve('org-' || :o, 'org-' || :o || '-u' || :u, NULL, 0.01,
					   'gpt-4o-mini', 'openai') \gset
\if :ok
INSERT INTO costopt.api_usage_logs (organization_id, user_id, project, provider, model,
									input_tokens, output_tokens, latency_ms, reservation_id)
VALUES ('org-' || :o, 'org-' || :o || '-u' || :u, 'chat', 'openai', 'gpt-4o-mini',
		1000, 200, 600, :rid);
\endif
