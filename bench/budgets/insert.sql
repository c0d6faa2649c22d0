-- pgbench script: the second baseline, the call logged without a budget
-- check: the same single-row INSERT as in reserve_settle.sql, without a
-- reservation (the costing trigger prices it and the capture trigger
-- records it for the rollups and the budgets, as for every call).
\set o random(1, :orgs)
\set u random(1, 3)
INSERT INTO costopt.api_usage_logs (organization_id, user_id, project, provider, model,
									input_tokens, output_tokens, latency_ms)
VALUES ('org-' || :o, 'org-' || :o || '-u' || :u, 'chat', 'openai', 'gpt-4o-mini',
		1000, 200, 600);
