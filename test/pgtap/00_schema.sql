-- Schema contracts: where the objects live, their key columns and types,
-- the costing trigger, the user-facing functions with their signatures and
-- volatility, and the seed price catalog.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(96);

-------------------------------------------------------------------------------
-- Schema and tables
-------------------------------------------------------------------------------
SELECT has_schema('costopt', 'schema costopt exists');
SELECT has_table('costopt', 'model_pricing', 'costopt.model_pricing exists');
SELECT has_table('costopt', 'model_aliases', 'costopt.model_aliases exists');
SELECT has_table('costopt', 'api_usage_logs', 'costopt.api_usage_logs exists');
SELECT hasnt_table('public', 'api_usage_logs', 'the usage table is not created in public');

-- costopt.model_pricing
SELECT col_is_pk('costopt', 'model_pricing', 'id', 'model_pricing.id is the primary key');
SELECT col_type_is('costopt', 'model_pricing', 'provider', 'text', 'model_pricing.provider is text');
SELECT col_type_is('costopt', 'model_pricing', 'model_name', 'text', 'model_pricing.model_name is text');
SELECT col_type_is('costopt', 'model_pricing', 'input_price', 'numeric', 'model_pricing.input_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'output_price', 'numeric', 'model_pricing.output_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'cache_read_price', 'numeric', 'model_pricing.cache_read_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'cache_write_price', 'numeric', 'model_pricing.cache_write_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'long_context_threshold', 'integer', 'model_pricing.long_context_threshold is integer');
SELECT col_type_is('costopt', 'model_pricing', 'long_context_input_price', 'numeric', 'model_pricing.long_context_input_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'long_context_output_price', 'numeric', 'model_pricing.long_context_output_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'batch_input_price', 'numeric', 'model_pricing.batch_input_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'batch_output_price', 'numeric', 'model_pricing.batch_output_price is numeric');
SELECT col_type_is('costopt', 'model_pricing', 'context_window', 'integer', 'model_pricing.context_window is integer');
SELECT col_type_is('costopt', 'model_pricing', 'quality_score', 'numeric(5,4)', 'model_pricing.quality_score is numeric(5,4)');
SELECT col_type_is('costopt', 'model_pricing', 'effective_from', 'timestamp with time zone', 'model_pricing.effective_from is timestamptz');
SELECT col_type_is('costopt', 'model_pricing', 'effective_to', 'timestamp with time zone', 'model_pricing.effective_to is timestamptz');
SELECT col_not_null('costopt', 'model_pricing', 'input_price', 'model_pricing.input_price is NOT NULL');
SELECT col_not_null('costopt', 'model_pricing', 'effective_from', 'model_pricing.effective_from is NOT NULL');
SELECT col_is_null('costopt', 'model_pricing', 'effective_to', 'model_pricing.effective_to may be NULL (open-ended version)');
SELECT col_is_unique('costopt', 'model_pricing', ARRAY['provider', 'model_name', 'effective_from'],
					 'one price version per (provider, model_name, effective_from)');

-- costopt.model_aliases
SELECT col_type_is('costopt', 'model_aliases', 'alias', 'text', 'model_aliases.alias is text');
SELECT col_type_is('costopt', 'model_aliases', 'provider', 'text', 'model_aliases.provider is text');
SELECT col_type_is('costopt', 'model_aliases', 'target_provider', 'text', 'model_aliases.target_provider is text');
SELECT col_type_is('costopt', 'model_aliases', 'target_model', 'text', 'model_aliases.target_model is text');
SELECT col_is_null('costopt', 'model_aliases', 'provider', 'model_aliases.provider may be NULL (any provider)');

-- costopt.api_usage_logs
-- the key is on each partition, not on the partitioned table (doc/retention.md, Backups)
SELECT col_is_pk('costopt', 'api_usage_logs_default', ARRAY['id', 'created_at'], 'the usage log is keyed by (id, created_at) on each partition, as its partitioning requires');
SELECT col_type_is('costopt', 'api_usage_logs', 'created_at', 'timestamp with time zone', 'api_usage_logs.created_at is timestamptz');
SELECT col_type_is('costopt', 'api_usage_logs', 'organization_id', 'text', 'api_usage_logs.organization_id is text');
SELECT col_type_is('costopt', 'api_usage_logs', 'provider', 'text', 'api_usage_logs.provider is text');
SELECT col_type_is('costopt', 'api_usage_logs', 'model', 'text', 'api_usage_logs.model is text');
SELECT col_type_is('costopt', 'api_usage_logs', 'tags', 'jsonb', 'api_usage_logs.tags is jsonb');
SELECT col_type_is('costopt', 'api_usage_logs', 'is_batch', 'boolean', 'api_usage_logs.is_batch is boolean');
SELECT col_type_is('costopt', 'api_usage_logs', 'input_tokens', 'integer', 'api_usage_logs.input_tokens is integer');
SELECT col_type_is('costopt', 'api_usage_logs', 'output_tokens', 'integer', 'api_usage_logs.output_tokens is integer');
SELECT col_type_is('costopt', 'api_usage_logs', 'cached_input_tokens', 'integer', 'api_usage_logs.cached_input_tokens is integer');
SELECT col_type_is('costopt', 'api_usage_logs', 'cache_write_tokens', 'integer', 'api_usage_logs.cache_write_tokens is integer');
SELECT col_type_is('costopt', 'api_usage_logs', 'reasoning_tokens', 'integer', 'api_usage_logs.reasoning_tokens is integer');
SELECT col_type_is('costopt', 'api_usage_logs', 'input_cost', 'numeric', 'api_usage_logs.input_cost is unconstrained numeric');
SELECT col_type_is('costopt', 'api_usage_logs', 'output_cost', 'numeric', 'api_usage_logs.output_cost is unconstrained numeric');
SELECT col_type_is('costopt', 'api_usage_logs', 'total_cost', 'numeric', 'api_usage_logs.total_cost is unconstrained numeric');
SELECT col_type_is('costopt', 'api_usage_logs', 'pricing_id', 'bigint', 'api_usage_logs.pricing_id is bigint');
SELECT col_type_is('costopt', 'api_usage_logs', 'cost_status', 'text', 'api_usage_logs.cost_status is text');
SELECT col_type_is('costopt', 'api_usage_logs', 'request_hash', 'text', 'api_usage_logs.request_hash is text');
SELECT col_type_is('costopt', 'api_usage_logs', 'status', 'text', 'api_usage_logs.status is text');
SELECT col_is_null('costopt', 'api_usage_logs', 'total_cost', 'api_usage_logs.total_cost may be NULL (unpriced calls)');
SELECT col_default_is('costopt', 'api_usage_logs', 'cached_input_tokens', '0', 'cached_input_tokens defaults to 0');

-------------------------------------------------------------------------------
-- Triggers
-------------------------------------------------------------------------------
SELECT has_trigger('costopt', 'api_usage_logs', 'costopt_costing', 'api_usage_logs has the costing trigger');
SELECT trigger_is('costopt', 'api_usage_logs', 'costopt_costing', 'costopt', 'costing_trigger',
				  'the costing trigger runs costopt.costing_trigger()');
SELECT ok((SELECT (t.tgtype & 1) = 1 AND (t.tgtype & 2) = 2 AND (t.tgtype & 4) = 4 AND (t.tgtype & 16) = 16
			 FROM pg_trigger t
			WHERE t.tgrelid = 'costopt.api_usage_logs'::regclass AND t.tgname = 'costopt_costing'),
		  'the costing trigger fires BEFORE INSERT OR UPDATE FOR EACH ROW');
SELECT has_trigger('costopt', 'model_pricing', 'model_pricing_check', 'model_pricing has its validation trigger');
SELECT has_trigger('costopt', 'model_pricing', 'model_pricing_invalidate', 'model_pricing changes invalidate the pricing cache');
SELECT has_trigger('costopt', 'model_aliases', 'model_aliases_invalidate', 'model_aliases changes invalidate the pricing cache');

-------------------------------------------------------------------------------
-- User-facing functions: in the extension's schema (public), with the
-- documented argument types, and honest volatility
-------------------------------------------------------------------------------
SELECT has_function('public', 'costopt_request_cost',
					ARRAY['text', 'bigint', 'bigint', 'bigint', 'bigint', 'timestamp with time zone', 'text', 'boolean'],
					'costopt_request_cost(model, input, output, cached, cache_write, at, provider, is_batch) is in public');
SELECT has_function('public', 'costopt_compare_models',
					ARRAY['bigint', 'bigint', 'bigint', 'bigint', 'numeric', 'text', 'timestamp with time zone', 'boolean'],
					'costopt_compare_models(input, output, cached, cache_write, min_quality, mode, at, include_inactive) is in public');
SELECT has_function('public', 'costopt_monthly_projection',
					ARRAY['numeric', 'numeric', 'numeric', 'text', 'numeric', 'text', 'numeric'],
					'costopt_monthly_projection(daily_requests, avg_in, avg_out, model, avg_cached, provider, days) is in public');
SELECT has_function('public', 'costopt_load_pricing',
					ARRAY['jsonb', 'timestamp with time zone', 'text[]', 'text'],
					'costopt_load_pricing(catalog, effective_from, providers, source) is in public');
SELECT has_function('public', 'costopt_ingest',
					ARRAY['text', 'jsonb', 'text', 'text', 'jsonb', 'text', 'jsonb', 'integer', 'timestamp with time zone', 'text', 'bigint'],
					'costopt_ingest(provider, response, organization_id, user_id, tags, project, request, latency_ms, created_at, model, reservation_id) is in public');
SELECT has_function('public', 'costopt_attach_costing', ARRAY['regclass'],
					'costopt_attach_costing(regclass) is in public');
SELECT has_function('public', 'costopt_recost',
					ARRAY['timestamp with time zone', 'timestamp with time zone', 'text', 'regclass'],
					'costopt_recost(from_time, to_time, model, usage_table) is in public');
SELECT has_function('costopt', 'costing_trigger', ARRAY[]::name[], 'costopt.costing_trigger() exists');
SELECT function_returns('costopt', 'costing_trigger', ARRAY[]::name[], 'trigger', 'costopt.costing_trigger() returns trigger');
SELECT hasnt_function('costopt', 'costopt_request_cost', 'user-facing functions are not in schema costopt');

SELECT function_returns('public', 'costopt_ingest',
						ARRAY['text', 'jsonb', 'text', 'text', 'jsonb', 'text', 'jsonb', 'integer', 'timestamp with time zone', 'text', 'bigint'],
						'costopt.api_usage_logs', 'costopt_ingest returns the stored usage row');
SELECT function_returns('public', 'costopt_attach_costing', ARRAY['regclass'], 'bigint',
						'costopt_attach_costing returns a row count (bigint)');

SELECT volatility_is('public', 'costopt_request_cost',
					 ARRAY['text', 'bigint', 'bigint', 'bigint', 'bigint', 'timestamp with time zone', 'text', 'boolean'],
					 'stable', 'costopt_request_cost is STABLE (reads the catalog, writes nothing)');
SELECT volatility_is('public', 'costopt_compare_models',
					 ARRAY['bigint', 'bigint', 'bigint', 'bigint', 'numeric', 'text', 'timestamp with time zone', 'boolean'],
					 'stable', 'costopt_compare_models is STABLE');
SELECT volatility_is('public', 'costopt_monthly_projection',
					 ARRAY['numeric', 'numeric', 'numeric', 'text', 'numeric', 'text', 'numeric'],
					 'stable', 'costopt_monthly_projection is STABLE');
SELECT volatility_is('public', 'costopt_load_pricing',
					 ARRAY['jsonb', 'timestamp with time zone', 'text[]', 'text'],
					 'volatile', 'costopt_load_pricing is VOLATILE (writes the catalog)');
SELECT volatility_is('public', 'costopt_ingest',
					 ARRAY['text', 'jsonb', 'text', 'text', 'jsonb', 'text', 'jsonb', 'integer', 'timestamp with time zone', 'text', 'bigint'],
					 'volatile', 'costopt_ingest is VOLATILE (inserts a row)');
SELECT volatility_is('public', 'costopt_attach_costing', ARRAY['regclass'],
					 'volatile', 'costopt_attach_costing is VOLATILE');
SELECT volatility_is('public', 'costopt_recost',
					 ARRAY['timestamp with time zone', 'timestamp with time zone', 'text', 'regclass'],
					 'volatile', 'costopt_recost is VOLATILE (updates usage rows)');
SELECT volatility_is('costopt', 'resolve_model', ARRAY['text', 'text'],
					 'stable', 'costopt.resolve_model is STABLE');
SELECT isnt_strict('public', 'costopt_load_pricing', ARRAY['jsonb', 'timestamp with time zone', 'text[]', 'text'],
				   'costopt_load_pricing is not STRICT (a NULL catalog is an error, not a NULL result)');
SELECT isnt_strict('public', 'costopt_request_cost',
				   ARRAY['text', 'bigint', 'bigint', 'bigint', 'bigint', 'timestamp with time zone', 'text', 'boolean'],
				   'costopt_request_cost is not STRICT (NULL tokens are an error)');

-------------------------------------------------------------------------------
-- Seed catalog: the eleven models of the specification at its prices
-- (USD per million tokens, in force from -infinity)
-------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT model_name, provider, input_price, output_price, effective_from, effective_to
		FROM costopt.model_pricing
	   WHERE model_name IN ('gpt-4-turbo', 'gpt-4', 'gpt-3.5-turbo', 'gpt-3.5-turbo-16k', 'claude-3-opus',
							'claude-3-sonnet', 'claude-3-haiku', 'gemini-pro', 'gemini-ultra',
							'llama-2-70b', 'llama-2-13b')
	   ORDER BY model_name$$,
	$$VALUES ('claude-3-haiku'::text, 'anthropic'::text, 0.25::numeric, 1.25::numeric, '-infinity'::timestamptz, NULL::timestamptz),
			 ('claude-3-opus', 'anthropic', 15, 75, '-infinity', NULL),
			 ('claude-3-sonnet', 'anthropic', 3, 15, '-infinity', NULL),
			 ('gemini-pro', 'google', 0.50, 1.50, '-infinity', NULL),
			 ('gemini-ultra', 'google', 10, 30, '-infinity', NULL),
			 ('gpt-3.5-turbo', 'openai', 0.50, 1.50, '-infinity', NULL),
			 ('gpt-3.5-turbo-16k', 'openai', 3, 4, '-infinity', NULL),
			 ('gpt-4', 'openai', 30, 60, '-infinity', NULL),
			 ('gpt-4-turbo', 'openai', 10, 30, '-infinity', NULL),
			 ('llama-2-13b', 'meta', 0.20, 0.30, '-infinity', NULL),
			 ('llama-2-70b', 'meta', 0.70, 0.90, '-infinity', NULL)$$,
	'the eleven specification models at the specification''s prices, each one open-ended version from -infinity');

-------------------------------------------------------------------------------
-- Seed catalog: the current model set
-------------------------------------------------------------------------------
SELECT set_eq(
	$$SELECT DISTINCT model_name FROM costopt.model_pricing
	   WHERE model_name NOT IN ('gpt-4-turbo', 'gpt-4', 'gpt-3.5-turbo', 'gpt-3.5-turbo-16k', 'claude-3-opus',
								'claude-3-sonnet', 'claude-3-haiku', 'gemini-pro', 'gemini-ultra',
								'llama-2-70b', 'llama-2-13b')$$,
	ARRAY['gpt-4o', 'gpt-4o-mini', 'o1', 'claude-3-5-sonnet', 'claude-3-5-haiku', 'claude-sonnet-4',
		  'claude-sonnet-4-5', 'claude-opus-4', 'claude-haiku-4-5', 'gemini-1.5-flash', 'gemini-1.5-pro',
		  'gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro', 'text-embedding-3-small',
		  'text-embedding-3-large'],
	'the seed has exactly the current model set besides the specification models');
SELECT is((SELECT count(*) FROM costopt.model_pricing WHERE source = 'seed'), 28::bigint,
		  'the seed has 28 price versions (27 models, gemini-1.5-pro twice)');
SELECT results_eq(
	$$SELECT provider, input_price, output_price, cache_read_price, batch_input_price, batch_output_price
		FROM costopt.model_pricing WHERE model_name = 'gpt-4o'$$,
	$$VALUES ('openai'::text, 2.50::numeric, 10::numeric, 1.25::numeric, 1.25::numeric, 5::numeric)$$,
	'seed gpt-4o: 2.50 / 10, cached 1.25, batch 1.25 / 5');
SELECT results_eq(
	$$SELECT provider, input_price, output_price, cache_read_price FROM costopt.model_pricing WHERE model_name = 'gpt-4o-mini'$$,
	$$VALUES ('openai'::text, 0.15::numeric, 0.60::numeric, 0.075::numeric)$$,
	'seed gpt-4o-mini: 0.15 / 0.60, cached 0.075');
SELECT results_eq(
	$$SELECT input_price, output_price, cache_read_price, cache_write_price FROM costopt.model_pricing WHERE model_name = 'claude-3-5-sonnet'$$,
	$$VALUES (3::numeric, 15::numeric, 0.30::numeric, 3.75::numeric)$$,
	'seed claude-3-5-sonnet: 3 / 15, cache read 0.30, cache write 3.75');
SELECT results_eq(
	$$SELECT long_context_threshold, long_context_input_price, long_context_output_price,
			 long_context_cache_read_price, long_context_cache_write_price
		FROM costopt.model_pricing WHERE model_name = 'claude-sonnet-4'$$,
	$$VALUES (200000, 6::numeric, 22.50::numeric, 0.60::numeric, 7.50::numeric)$$,
	'seed claude-sonnet-4: above 200k tokens 6 / 22.50, cache 0.60 / 7.50');
SELECT results_eq(
	$$SELECT effective_from, effective_to, input_price, output_price
		FROM costopt.model_pricing WHERE model_name = 'gemini-1.5-pro' ORDER BY effective_from$$,
	$$VALUES ('-infinity'::timestamptz, '2024-10-01 00:00:00+00'::timestamptz, 3.50::numeric, 10.50::numeric),
			 ('2024-10-01 00:00:00+00'::timestamptz, NULL::timestamptz, 1.25::numeric, 5::numeric)$$,
	'seed gemini-1.5-pro: 3.50 / 10.50 until 2024-10-01, then 1.25 / 5');
SELECT results_eq(
	$$SELECT provider, mode, input_price, output_price FROM costopt.model_pricing
	   WHERE model_name IN ('text-embedding-3-small', 'text-embedding-3-large') ORDER BY model_name DESC$$,
	$$VALUES ('openai'::text, 'embedding'::text, 0.02::numeric, 0::numeric),
			 ('openai'::text, 'embedding'::text, 0.13::numeric, 0::numeric)$$,
	'seed embeddings: mode embedding, 0.02 and 0.13 input, no output price');
SELECT is((SELECT count(*) FROM costopt.model_pricing
			WHERE model_name IN ('gpt-4o', 'gpt-4o-mini', 'o1', 'claude-3-5-sonnet', 'claude-3-5-haiku',
								 'claude-sonnet-4', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-1.5-flash',
								 'gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro')
			  AND cache_read_price IS NOT NULL AND cache_read_price < input_price),
		  12::bigint, 'every current chat model (but gemini-1.5-pro''s first version) has a cache-read price below its input price');
SELECT results_eq(
	$$SELECT provider, count(*) FROM costopt.model_pricing
	   WHERE model_name IN ('gpt-4o', 'gpt-4o-mini', 'o1', 'claude-3-5-sonnet', 'claude-3-5-haiku', 'claude-sonnet-4',
							'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-1.5-flash', 'gemini-1.5-pro',
							'gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro', 'text-embedding-3-small',
							'text-embedding-3-large')
	   GROUP BY provider ORDER BY provider$$,
	$$VALUES ('anthropic'::text, 5::bigint), ('google'::text, 6::bigint), ('openai'::text, 5::bigint)$$,
	'current set providers: anthropic 5, google 6 versions (5 models), openai 5');
SELECT ok(NOT EXISTS (SELECT 1 FROM costopt.model_pricing WHERE quality_score IS NULL OR context_window IS NULL),
		  'every seed version has a quality score and a context window');

-------------------------------------------------------------------------------
-- Seed aliases
-------------------------------------------------------------------------------
SELECT results_eq(
	$$SELECT target_provider, target_model FROM costopt.model_aliases WHERE alias = 'gpt-35-turbo'$$,
	$$VALUES ('openai'::text, 'gpt-3.5-turbo'::text)$$,
	'seed alias gpt-35-turbo (Azure deployment name) targets openai gpt-3.5-turbo');
SELECT is((SELECT count(*) FROM costopt.model_aliases a
			WHERE NOT EXISTS (SELECT 1 FROM costopt.model_pricing p
							   WHERE p.provider = a.target_provider AND p.model_name = a.target_model)),
		  0::bigint, 'every seed alias targets a priced catalog model');

-------------------------------------------------------------------------------
-- GUC
-------------------------------------------------------------------------------
SELECT is(current_setting('costopt.missing_price_action'), 'store',
		  'costopt.missing_price_action defaults to store');
SELECT is((SELECT context FROM pg_settings WHERE name = 'costopt.missing_price_action'), 'superuser',
		  'costopt.missing_price_action is superuser-settable');
SELECT is((SELECT enumvals FROM pg_settings WHERE name = 'costopt.missing_price_action'),
		  ARRAY['store', 'warning', 'error'], 'costopt.missing_price_action accepts store, warning, error');

SELECT * FROM finish();
ROLLBACK;
