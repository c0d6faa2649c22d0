-------------------------------------------------------------------------------
-- Seed price catalog (USD per million tokens)
--
-- The eleven models of the original specification at the prices it states,
-- and a current set with cache and long-context prices.  Prices come from
-- the providers' public price lists as carried in LiteLLM's catalog (see
-- doc/pricing.md); quality scores are editorial defaults on a 0-1 scale
-- (roughly a model's standing on broad public benchmarks) meant to be
-- adjusted.  Seed versions are in force from -infinity, so historical calls
-- price too; a later costopt_load_pricing() or INSERT adds newer versions.
-------------------------------------------------------------------------------

INSERT INTO costopt.model_pricing
	(provider, model_name, model_tier, mode, input_price, output_price,
	 cache_read_price, cache_write_price,
	 long_context_threshold, long_context_input_price, long_context_output_price,
	 long_context_cache_read_price, long_context_cache_write_price,
	 batch_input_price, batch_output_price,
	 context_window, max_output_tokens, quality_score, is_active, replacement_model,
	 source, effective_from, effective_to, notes)
VALUES
	-- the eleven models of the specification, at its prices
	('openai', 'gpt-4-turbo', 'premium', 'chat', 10.00, 30.00, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, 5.00, 15.00, 128000, 4096, 0.8600, true, 'gpt-4o',
	 'seed', '-infinity', NULL, NULL),
	('openai', 'gpt-4', 'premium', 'chat', 30.00, 60.00, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, 15.00, 30.00, 8192, 4096, 0.8600, true, 'gpt-4o',
	 'seed', '-infinity', NULL, NULL),
	('openai', 'gpt-3.5-turbo', 'base', 'chat', 0.50, 1.50, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.25, 0.75, 16385, 4096, 0.7000, true, 'gpt-4o-mini',
	 'seed', '-infinity', NULL, NULL),
	('openai', 'gpt-3.5-turbo-16k', 'base', 'chat', 3.00, 4.00, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 16385, 4096, 0.7000, false, 'gpt-3.5-turbo',
	 'seed', '-infinity', NULL, 'Legacy 16k-context variant'),
	('anthropic', 'claude-3-opus', 'premium', 'chat', 15.00, 75.00, 1.50, 18.75,
	 NULL, NULL, NULL, NULL, NULL, 7.50, 37.50, 200000, 4096, 0.8700, true, 'claude-opus-4',
	 'seed', '-infinity', NULL, NULL),
	('anthropic', 'claude-3-sonnet', 'advanced', 'chat', 3.00, 15.00, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 200000, 4096, 0.7900, false, 'claude-3-5-sonnet',
	 'seed', '-infinity', NULL, NULL),
	('anthropic', 'claude-3-haiku', 'base', 'chat', 0.25, 1.25, 0.03, 0.30,
	 NULL, NULL, NULL, NULL, NULL, 0.125, 0.625, 200000, 4096, 0.7500, true, 'claude-3-5-haiku',
	 'seed', '-infinity', NULL, NULL),
	('google', 'gemini-pro', 'base', 'chat', 0.50, 1.50, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 32760, 8192, 0.7200, false, 'gemini-1.5-flash',
	 'seed', '-infinity', NULL, 'Gemini 1.0 Pro'),
	('google', 'gemini-ultra', 'premium', 'chat', 10.00, 30.00, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 32760, 8192, 0.8400, false, 'gemini-1.5-pro',
	 'seed', '-infinity', NULL, 'Gemini 1.0 Ultra'),
	('meta', 'llama-2-70b', 'advanced', 'chat', 0.70, 0.90, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4096, 4096, 0.6900, true, NULL,
	 'seed', '-infinity', NULL, 'Hosted Llama 2 70B chat'),
	('meta', 'llama-2-13b', 'base', 'chat', 0.20, 0.30, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4096, 4096, 0.5500, true, NULL,
	 'seed', '-infinity', NULL, 'Hosted Llama 2 13B chat'),

	-- current OpenAI models
	('openai', 'gpt-4o', 'advanced', 'chat', 2.50, 10.00, 1.25, NULL,
	 NULL, NULL, NULL, NULL, NULL, 1.25, 5.00, 128000, 16384, 0.8900, true, NULL,
	 'seed', '-infinity', NULL, NULL),
	('openai', 'gpt-4o-mini', 'base', 'chat', 0.15, 0.60, 0.075, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.075, 0.30, 128000, 16384, 0.8200, true, NULL,
	 'seed', '-infinity', NULL, NULL),
	('openai', 'o1', 'premium', 'chat', 15.00, 60.00, 7.50, NULL,
	 NULL, NULL, NULL, NULL, NULL, 7.50, 30.00, 200000, 100000, 0.9200, true, NULL,
	 'seed', '-infinity', NULL, 'Reasoning tokens bill as output'),
	('openai', 'text-embedding-3-small', 'base', 'embedding', 0.02, 0, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.01, 0, 8191, NULL, 0.6200, true, NULL,
	 'seed', '-infinity', NULL, NULL),
	('openai', 'text-embedding-3-large', 'advanced', 'embedding', 0.13, 0, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.065, 0, 8191, NULL, 0.6500, true, NULL,
	 'seed', '-infinity', NULL, NULL),

	-- current Anthropic models (5-minute cache writes at 1.25x input)
	('anthropic', 'claude-3-5-sonnet', 'advanced', 'chat', 3.00, 15.00, 0.30, 3.75,
	 NULL, NULL, NULL, NULL, NULL, 1.50, 7.50, 200000, 8192, 0.8900, true, 'claude-sonnet-4-5',
	 'seed', '-infinity', NULL, NULL),
	('anthropic', 'claude-3-5-haiku', 'base', 'chat', 0.80, 4.00, 0.08, 1.00,
	 NULL, NULL, NULL, NULL, NULL, 0.40, 2.00, 200000, 8192, 0.8000, true, 'claude-haiku-4-5',
	 'seed', '-infinity', NULL, NULL),
	('anthropic', 'claude-sonnet-4', 'advanced', 'chat', 3.00, 15.00, 0.30, 3.75,
	 200000, 6.00, 22.50, 0.60, 7.50, 1.50, 7.50, 1000000, 64000, 0.9100, true, NULL,
	 'seed', '-infinity', NULL, 'Long-context prices apply to prompts above 200k tokens'),
	('anthropic', 'claude-sonnet-4-5', 'advanced', 'chat', 3.00, 15.00, 0.30, 3.75,
	 200000, 6.00, 22.50, 0.60, 7.50, 1.50, 7.50, 1000000, 64000, 0.9200, true, NULL,
	 'seed', '-infinity', NULL, 'Long-context prices apply to prompts above 200k tokens'),
	('anthropic', 'claude-opus-4', 'premium', 'chat', 15.00, 75.00, 1.50, 18.75,
	 NULL, NULL, NULL, NULL, NULL, 7.50, 37.50, 200000, 32000, 0.9300, true, NULL,
	 'seed', '-infinity', NULL, NULL),
	('anthropic', 'claude-haiku-4-5', 'base', 'chat', 1.00, 5.00, 0.10, 1.25,
	 NULL, NULL, NULL, NULL, NULL, 0.50, 2.50, 200000, 64000, 0.8600, true, NULL,
	 'seed', '-infinity', NULL, NULL),

	-- current Google models
	('google', 'gemini-1.5-flash', 'base', 'chat', 0.075, 0.30, 0.01875, NULL,
	 128000, 0.15, 0.60, 0.0375, NULL, NULL, NULL, 1048576, 8192, 0.7900, true, 'gemini-2.0-flash',
	 'seed', '-infinity', NULL, 'Long-context prices apply to prompts above 128k tokens'),
	('google', 'gemini-1.5-pro', 'advanced', 'chat', 3.50, 10.50, NULL, NULL,
	 128000, 7.00, 21.00, NULL, NULL, NULL, NULL, 2097152, 8192, 0.8600, true, 'gemini-2.5-pro',
	 'seed', '-infinity', '2024-10-01 00:00:00+00', 'Price before the October 2024 reduction'),
	('google', 'gemini-1.5-pro', 'advanced', 'chat', 1.25, 5.00, 0.3125, NULL,
	 128000, 2.50, 10.00, 0.625, NULL, NULL, NULL, 2097152, 8192, 0.8600, true, 'gemini-2.5-pro',
	 'seed', '2024-10-01 00:00:00+00', NULL, 'Price after the October 2024 reduction'),
	('google', 'gemini-2.0-flash', 'base', 'chat', 0.10, 0.40, 0.025, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.05, 0.20, 1048576, 8192, 0.8400, true, NULL,
	 'seed', '-infinity', NULL, NULL),
	('google', 'gemini-2.5-flash', 'base', 'chat', 0.30, 2.50, 0.03, NULL,
	 NULL, NULL, NULL, NULL, NULL, 0.15, 1.25, 1048576, 65535, 0.8800, true, NULL,
	 'seed', '-infinity', NULL, 'Thinking tokens bill as output'),
	('google', 'gemini-2.5-pro', 'advanced', 'chat', 1.25, 10.00, 0.125, NULL,
	 200000, 2.50, 15.00, 0.25, NULL, 0.625, 5.00, 1048576, 65535, 0.9100, true, NULL,
	 'seed', '-infinity', NULL, 'Long-context prices apply to prompts above 200k tokens');

-- Names gateways report for the seed models that the generic rules (strip a
-- provider prefix, strip a date or version stamp) do not cover.
INSERT INTO costopt.model_aliases (alias, provider, target_provider, target_model, source)
SELECT a.*, 'seed' FROM (VALUES
	('gpt-4-turbo-preview', NULL::text, 'openai', 'gpt-4-turbo'),
	('gpt-4-1106-preview', NULL, 'openai', 'gpt-4-turbo'),
	('gpt-4-0125-preview', NULL, 'openai', 'gpt-4-turbo'),
	('gpt-35-turbo', NULL, 'openai', 'gpt-3.5-turbo'),
	('gpt-35-turbo-16k', NULL, 'openai', 'gpt-3.5-turbo-16k'),
	('claude-3-5-sonnet-latest', NULL, 'anthropic', 'claude-3-5-sonnet'),
	('claude-3-5-haiku-latest', NULL, 'anthropic', 'claude-3-5-haiku'),
	('claude-3-opus-latest', NULL, 'anthropic', 'claude-3-opus'),
	('anthropic.claude-3-sonnet-20240229-v1:0', NULL, 'anthropic', 'claude-3-sonnet'),
	('anthropic.claude-3-haiku-20240307-v1:0', NULL, 'anthropic', 'claude-3-haiku'),
	('gemini-1.0-pro', NULL, 'google', 'gemini-pro'),
	('gemini-1.0-ultra', NULL, 'google', 'gemini-ultra'),
	('gemini-1.5-pro-latest', NULL, 'google', 'gemini-1.5-pro'),
	('gemini-1.5-flash-latest', NULL, 'google', 'gemini-1.5-flash'),
	('meta.llama2-70b-chat-v1', NULL, 'meta', 'llama-2-70b'),
	('meta.llama2-13b-chat-v1', NULL, 'meta', 'llama-2-13b'),
	('llama-2-70b-chat', NULL, 'meta', 'llama-2-70b'),
	('llama-2-13b-chat', NULL, 'meta', 'llama-2-13b')) AS a(alias, provider, target_provider, target_model);
