-- pgbench script: one single-row INSERT of an LLM call, as an API gateway
-- logs it, into the table that run.sh puts in place of @TABLE@.
-- Token counts have a heavy right tail like the Azure trace (prompt mean
-- about 1,400 and up to 14,000 tokens; output mean about 200, up to 1,000),
-- 30% of prompts are partly cached, and the model mix is that of the COPY
-- benchmark, including 1% of a model the catalog does not price.
\set org random_zipfian(1, 50, 1.1)
\set usr random(0, 199)
\set m random(1, 100)
\set input random_exponential(1, 14000, 10.0)
\set output random_exponential(0, 1000, 5.0)
\set cached case when random(1, 100) <= 30 then :input * random(0, 90) / 100 else 0 end
\set latency 180 + :output * 15
INSERT INTO @TABLE@ (organization_id, user_id, project, provider, model,
	input_tokens, output_tokens, cached_input_tokens, latency_ms)
VALUES ('org-' || lpad(:org::text, 2, '0'),
	'org' || lpad(:org::text, 2, '0') || '-u' || lpad(:usr::text, 3, '0'),
	'chat',
	CASE WHEN :m <= 55 THEN 'openai' WHEN :m <= 81 THEN 'anthropic'
		 WHEN :m <= 99 THEN 'google' ELSE 'selfhosted' END,
	CASE WHEN :m <= 33 THEN 'gpt-4o-mini' WHEN :m <= 55 THEN 'gpt-4o'
		 WHEN :m <= 72 THEN 'claude-3-5-sonnet' WHEN :m <= 81 THEN 'claude-3-haiku'
		 WHEN :m <= 99 THEN 'gemini-2.0-flash' ELSE 'acme-support-llama-70b-ft' END,
	:input, :output, :cached, :latency);
