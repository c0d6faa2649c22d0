-- Every bad input gets the SQLSTATE of STYLE.md section 5 and, where the
-- message is costopt's own, that message.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(96);

\ir include/errors.psql

-------------------------------------------------------------------------------
-- Token counts on INSERT into costopt.api_usage_logs (costing trigger)
-------------------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', -1, 10)$$,
				 '22023', 'token count "input_tokens" must not be negative',
				 'negative input_tokens: 22023');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, -1)$$,
				 '22023', 'token count "output_tokens" must not be negative',
				 'negative output_tokens: 22023');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, cached_input_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, -1)$$,
				 '22023', 'token count "cached_input_tokens" must not be negative',
				 'negative cached_input_tokens: 22023');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, cache_write_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, -1)$$,
				 '22023', 'token count "cache_write_tokens" must not be negative',
				 'negative cache_write_tokens: 22023');
-- reasoning_tokens is a token count too (STYLE.md section 5: negative tokens
-- are 22023; the trigger promises to reject impossible counts before any
-- constraint fires)
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, reasoning_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, -1)$$,
				 '22023', NULL,
				 'negative reasoning_tokens: 22023');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', NULL, 10)$$,
				 '22004', 'token count "input_tokens" must not be null',
				 'NULL input_tokens: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, NULL)$$,
				 '22004', 'token count "output_tokens" must not be null',
				 'NULL output_tokens: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, cached_input_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, NULL)$$,
				 '22004', 'token count "cached_input_tokens" must not be null',
				 'NULL cached_input_tokens: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, cache_write_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, NULL)$$,
				 '22004', 'token count "cache_write_tokens" must not be null',
				 'NULL cache_write_tokens: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, reasoning_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 10, NULL)$$,
				 '22004', NULL,
				 'NULL reasoning_tokens: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', 3000000000, 10)$$,
				 '22003', 'integer out of range',
				 'input_tokens beyond int range: 22003 from the int cast');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 2147483648)$$,
				 '22003', 'integer out of range',
				 'output_tokens beyond int range: 22003');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens,
												   cached_input_tokens, cache_write_tokens)
				   VALUES ('tap-err', 'gpt-4o', 10, 1, 6, 5)$$,
				 '22023', 'cached and cache-write tokens exceed input tokens',
				 'cached + cache_write > input: 22023 (before the CHECK constraint)');
SELECT is(pg_temp.error_detail($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens,
																	 cached_input_tokens, cache_write_tokens)
								  VALUES ('tap-err', 'gpt-4o', 10, 1, 6, 5)$$),
		  '22023: input_tokens is 10, cached_input_tokens 6, cache_write_tokens 5.',
		  'cached + cache_write > input: the detail gives the three counts');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens,
												   cached_input_tokens, cache_write_tokens)
				   VALUES ('tap-err', 'gpt-4o', 2000000000, 1, 2000000000, 2000000000)$$,
				 '22023', 'cached and cache-write tokens exceed input tokens',
				 'cached + cache_write summing beyond int range is still 22023 (no overflow)');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
				   VALUES ('tap-err', 'gpt-4o', 10, 1, NULL)$$,
				 '22004', 'column "created_at" of a usage row must not be null',
				 'NULL created_at: 22004');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
				   VALUES ('tap-err', NULL, 10, 1)$$,
				 '22004', 'column "model" of a usage row must not be null',
				 'NULL model: 22004');

INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
VALUES ('tap-err-upd', 'gpt-4o', 100, 10, '2025-03-01');
SELECT throws_ok($$UPDATE costopt.api_usage_logs SET output_tokens = -5 WHERE organization_id = 'tap-err-upd'$$,
				 '22023', 'token count "output_tokens" must not be negative',
				 'UPDATE to a negative token count: 22023');
SELECT throws_ok($$UPDATE costopt.api_usage_logs SET cached_input_tokens = 101 WHERE organization_id = 'tap-err-upd'$$,
				 '22023', 'cached and cache-write tokens exceed input tokens',
				 'UPDATE making cached > input: 22023');

-------------------------------------------------------------------------------
-- Price catalog rows
-------------------------------------------------------------------------------
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price)
				   VALUES ('tapco', 'tap-neg', -1, 1)$$,
				 '23514', NULL, 'negative input_price: 23514 check_violation');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, cache_read_price)
				   VALUES ('tapco', 'tap-neg', 1, 1, -0.01)$$,
				 '23514', NULL, 'negative cache_read_price: 23514');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, long_context_output_price)
				   VALUES ('tapco', 'tap-neg', 1, 1, -3)$$,
				 '23514', NULL, 'negative long_context_output_price: 23514');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price)
				   VALUES ('tapco', 'tap-bad', 'abc', 1)$$,
				 '22P02', 'invalid input syntax for type numeric: "abc"', 'non-numeric price literal: 22P02');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price)
				   VALUES ('tapco', 'tap-nan', 'NaN', 1)$$,
				 '23514', NULL, 'NaN input_price: 23514');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price)
				   VALUES ('tapco', 'tap-inf', 1, 'Infinity')$$,
				 '23514', NULL, 'Infinity output_price: 23514');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, batch_input_price)
				   VALUES ('tapco', 'tap-nan', 1, 1, 'NaN')$$,
				 '23514', NULL, 'NaN batch_input_price: 23514');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from, effective_to)
				   VALUES ('tapco', 'tap-dates', 1, 1, '2025-01-01', '2025-01-01')$$,
				 '23514', NULL, 'effective_to not after effective_from: 23514');

-- overlapping versions of one model
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
				   VALUES ('openai', 'gpt-4o', 1, 1, '-infinity')$$,
				 '23P01', 'price of "gpt-4o" (provider "openai") overlaps an existing price version',
				 'a second version with the same effective_from: 23P01 (not a unique violation)');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
				   VALUES ('OpenAI', ' GPT-4o ', 1, 1, '-infinity')$$,
				 '23P01', 'price of "gpt-4o" (provider "openai") overlaps an existing price version',
				 'same effective_from after name normalisation: 23P01');

INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-ovl', 1, 1, '2025-01-01');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from, effective_to)
				   VALUES ('tapco', 'tap-ovl', 2, 2, '2024-01-01', '2025-06-01')$$,
				 '23P01', 'price of "tap-ovl" (provider "tapco") overlaps an existing price version',
				 'a new earlier version whose effective_to runs past a later version: 23P01');
SELECT lives_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from, effective_to)
				  VALUES ('tapco', 'tap-ovl', 2, 2, '2024-01-01', '2025-01-01')$$,
				'an earlier version ending exactly where the later one starts is accepted');

INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from, effective_to)
VALUES ('tapco', 'tap-ovl2', 1, 1, '2024-01-01', '2025-06-01');
SELECT throws_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
				   VALUES ('tapco', 'tap-ovl2', 2, 2, '2025-01-01')$$,
				 '23P01', 'price of "tap-ovl2" (provider "tapco") overlaps an existing price version',
				 'a new later version starting inside an earlier version''s explicit span: 23P01');
SELECT lives_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
				  VALUES ('tapco', 'tap-ovl2', 2, 2, '2025-06-01')$$,
				'a later version starting where the earlier explicit span ends is accepted');
SELECT throws_ok($$UPDATE costopt.model_pricing SET effective_from = '2025-03-01'
				   WHERE provider = 'tapco' AND model_name = 'tap-ovl2' AND effective_from = '2025-06-01'$$,
				 '23P01', 'price of "tap-ovl2" (provider "tapco") overlaps an existing price version',
				 'an UPDATE that moves a version into another one: 23P01');
SELECT lives_ok($$INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
				  VALUES ('othercloud', 'tap-ovl2', 2, 2, '2025-01-01')$$,
				'the same model name under another provider does not overlap');

-------------------------------------------------------------------------------
-- costopt_load_pricing
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT costopt_load_pricing('[1, 2]'::jsonb, '2025-01-01')$$,
				 '22023', 'a price catalog must be a JSON object keyed by model name',
				 'load_pricing: a JSON array catalog: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('"gpt-4o"'::jsonb, '2025-01-01')$$,
				 '22023', 'a price catalog must be a JSON object keyed by model name',
				 'load_pricing: a JSON string catalog: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": 5}'::jsonb, '2025-01-01')$$,
				 '22023', 'catalog entry "tap-a" is not a JSON object',
				 'load_pricing: an entry that is not an object: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": {"litellm_provider": "tapco",
												 "input_cost_per_token": "cheap", "output_cost_per_token": 1e-06}}'::jsonb,
												 '2025-01-01')$$,
				 '22023', 'price "input_cost_per_token" of catalog entry "tap-a" is not a number',
				 'load_pricing: a string price that is not a number: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": {"litellm_provider": "tapco",
												 "input_cost_per_token": 1e-06, "output_cost_per_token": true}}'::jsonb,
												 '2025-01-01')$$,
				 '22023', 'price "output_cost_per_token" of catalog entry "tap-a" is not a number',
				 'load_pricing: a boolean price: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": {"litellm_provider": "tapco",
												 "input_cost_per_token": -1e-06, "output_cost_per_token": 1e-06}}'::jsonb,
												 '2025-01-01')$$,
				 '22023', 'price "input_cost_per_token" of catalog entry "tap-a" must not be negative',
				 'load_pricing: a negative price: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": {"litellm_provider": "tapco",
												 "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
												 "cache_read_input_token_cost": "-2e-07"}}'::jsonb, '2025-01-01')$$,
				 '22023', 'price "cache_read_input_token_cost" of catalog entry "tap-a" must not be negative',
				 'load_pricing: a negative price written as a string: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing('{"tap-a": {"input_cost_per_token": 1e-06,
												 "output_cost_per_token": 1e-06}}'::jsonb, '2025-01-01')$$,
				 '22023', 'catalog entry "tap-a" has no "litellm_provider"',
				 'load_pricing: a priced entry without litellm_provider: 22023');
SELECT throws_ok($$SELECT costopt_load_pricing(NULL::jsonb, '2025-01-01')$$,
				 '22004', 'arguments "catalog" and "effective_from" must not be null',
				 'load_pricing: NULL catalog: 22004');
SELECT throws_ok($$SELECT costopt_load_pricing('{}'::jsonb, 'infinity')$$,
				 '22023', 'effective_from must be a finite time or -infinity',
				 'load_pricing: effective_from infinity: 22023');

-------------------------------------------------------------------------------
-- costopt_ingest
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT costopt_ingest('openai', '[]'::jsonb, 'tap-err')$$,
				 '22023', 'a provider response must be a JSON object',
				 'ingest: a response that is not an object: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"foo": 1, "bar": 2}}'::jsonb, 'tap-err')$$,
				 '22023', 'unrecognised usage block in openai response',
				 'ingest: a usage block with unknown keys: 22023');
SELECT is(pg_temp.error_detail($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"foo": 1, "bar": 2}}'::jsonb, 'tap-err')$$),
		  '22023: usage has the keys bar, foo.',
		  'ingest: the unknown-keys error lists the keys');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": 42}'::jsonb, 'tap-err')$$,
				 '22023', 'the usage block of a response must be a JSON object',
				 'ingest: a usage block that is not an object: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 10.5, "completion_tokens": 1}}'::jsonb, 'tap-err')$$,
				 '22023', 'usage field "prompt_tokens" must be a non-negative whole number',
				 'ingest: a non-integer token count: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": -1}}'::jsonb, 'tap-err')$$,
				 '22023', 'usage field "completion_tokens" must be a non-negative whole number',
				 'ingest: a negative token count: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": "10", "completion_tokens": 1}}'::jsonb, 'tap-err')$$,
				 '22023', 'usage field "prompt_tokens" is not a number',
				 'ingest: a token count written as a string: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "o1", "usage": {"prompt_tokens": 10, "completion_tokens": 5,
												   "completion_tokens_details": {"reasoning_tokens": -3}}}'::jsonb, 'tap-err')$$,
				 '22023', 'usage field "completion_tokens_details.reasoning_tokens" must be a non-negative whole number',
				 'ingest: a bad nested count names the full path');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 3000000000, "completion_tokens": 1}}'::jsonb, 'tap-err')$$,
				 '22003', 'usage field "prompt_tokens" is out of range for a token count',
				 'ingest: a count beyond int range: 22003');
SELECT throws_ok($$SELECT costopt_ingest('anthropic', '{"type": "message", "model": "claude-3-5-sonnet",
												   "usage": {"input_tokens": 2000000000, "cache_read_input_tokens": 2000000000,
															 "output_tokens": 1}}'::jsonb, 'tap-err')$$,
				 '22003', 'prompt of 4000000000 tokens is out of range for a token count',
				 'ingest: Anthropic counters summing beyond int range: 22003');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 10, "completion_tokens": 1,
												   "prompt_tokens_details": {"cached_tokens": 11}}}'::jsonb, 'tap-err')$$,
				 '22023', 'cached tokens (11) exceed the prompt (10)',
				 'ingest: cached > prompt: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"usage": {"prompt_tokens": 10, "completion_tokens": 1}}'::jsonb, 'tap-err')$$,
				 '22023', 'cannot tell which model served the call',
				 'ingest: no model in response, request or argument: 22023');
SELECT throws_ok($$SELECT costopt_ingest('google', '{"modelVersion": "gemini-2.5-flash",
												  "usageMetadata": {"candidatesTokenCount": 5}}'::jsonb, 'tap-err')$$,
				 '22023', 'usage block of google response has no prompt token count',
				 'ingest: a usage block without a prompt count: 22023');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1}'::jsonb, 'tap-err')$$,
				 '22P02', NULL,
				 'ingest: malformed JSON text: 22P02 from the jsonb cast');
SELECT throws_ok($$SELECT costopt_ingest('openai', NULL::jsonb, 'tap-err')$$,
				 '22004', 'arguments "response", "organization_id" and "created_at" must not be null',
				 'ingest: NULL response: 22004');
SELECT throws_ok($$SELECT costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}'::jsonb,
										 'tap-err', tags => '["a"]'::jsonb)$$,
				 '22023', 'tags must be a JSON object',
				 'ingest: tags that are not an object: 22023');

-------------------------------------------------------------------------------
-- costopt_request_cost, costopt_compare_models, costopt_monthly_projection
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM costopt_request_cost('tap-no-such-model', 1000, 100)$$,
				 '42704', 'no price for model "tap-no-such-model"',
				 'request_cost: unknown model: 42704');
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-future', 1, 1, '2030-01-01');
SELECT throws_ok($$SELECT * FROM costopt_request_cost('tap-future', 1000, 100, at => '2025-03-01')$$,
				 '42704', 'no price for model "tap-future" at 2025-03-01 00:00:00+00',
				 'request_cost: a known model with no price in force then: 42704');
SELECT throws_ok($$SELECT * FROM costopt_request_cost('gpt-4o', -1, 100)$$,
				 '22023', 'token counts must not be negative',
				 'request_cost: negative input tokens: 22023');
SELECT throws_ok($$SELECT * FROM costopt_request_cost('gpt-4o', 100, 10, cached_tokens => 101)$$,
				 '22023', 'cached and cache-write tokens exceed input tokens',
				 'request_cost: cached > input: 22023');
SELECT throws_ok($$SELECT * FROM costopt_request_cost('gpt-4o', NULL, 100)$$,
				 '22004', 'argument "input_tokens" must not be null',
				 'request_cost: NULL input tokens: 22004');
SELECT throws_ok($$SELECT * FROM costopt_request_cost('gpt-4o', 100, NULL)$$,
				 '22004', 'argument "output_tokens" must not be null',
				 'request_cost: NULL output tokens: 22004');
SELECT throws_ok($$SELECT * FROM costopt_request_cost(NULL, 100, 10)$$,
				 '22004', 'argument "model" must not be null',
				 'request_cost: NULL model: 22004');
SELECT throws_ok($$SELECT * FROM costopt_compare_models(1000, 100, min_quality => 1.5)$$,
				 '22023', 'min_quality must be between 0 and 1',
				 'compare_models: min_quality above 1: 22023');
SELECT throws_ok($$SELECT * FROM costopt_compare_models(NULL, 100)$$,
				 '22004', 'token counts and "at" must not be null',
				 'compare_models: NULL tokens: 22004');
SELECT throws_ok($$SELECT * FROM costopt_monthly_projection(-1, 1000, 100, 'gpt-4o')$$,
				 '22023', 'request and token averages must be finite and non-negative, cached at most input',
				 'monthly_projection: negative request count: 22023');
SELECT throws_ok($$SELECT * FROM costopt_monthly_projection(10, 1000, 100, 'gpt-4o', avg_cached_tokens => 1001)$$,
				 '22023', 'request and token averages must be finite and non-negative, cached at most input',
				 'monthly_projection: cached above input: 22023');
SELECT throws_ok($$SELECT * FROM costopt_monthly_projection(10, 1000, 100, 'gpt-4o', days_per_month => 0)$$,
				 '22023', 'days_per_month must be in (0, 31]',
				 'monthly_projection: zero days per month: 22023');
SELECT throws_ok($$SELECT * FROM costopt_monthly_projection(10, 1000, 100, 'tap-no-such-model')$$,
				 '42704', 'no price for model "tap-no-such-model"',
				 'monthly_projection: unknown model: 42704');

-------------------------------------------------------------------------------
-- costopt_recost
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM costopt_recost('2025-02-01', '2025-01-01')$$,
				 '22023', 'from_time must be earlier than to_time',
				 'recost: from after to: 22023');
SELECT throws_ok($$SELECT * FROM costopt_recost('2025-01-01', '2025-01-01')$$,
				 '22023', 'from_time must be earlier than to_time',
				 'recost: from equal to to: 22023');
SELECT throws_ok($$SELECT * FROM costopt_recost(NULL, '2025-01-01')$$,
				 '22004', 'arguments "from_time" and "to_time" must not be null',
				 'recost: NULL from_time: 22004');

-------------------------------------------------------------------------------
-- costopt_attach_costing and the costing trigger on user tables
-------------------------------------------------------------------------------
CREATE TABLE public.tap_no_costs (
	created_at timestamptz NOT NULL DEFAULT now(),
	model text NOT NULL,
	input_tokens integer NOT NULL,
	output_tokens integer NOT NULL
);
CREATE TABLE public.tap_wrong_types (
	created_at timestamptz NOT NULL DEFAULT now(),
	model text NOT NULL,
	input_tokens bigint NOT NULL,
	output_tokens integer NOT NULL,
	input_cost numeric, output_cost numeric, total_cost numeric
);
CREATE VIEW public.tap_usage_view AS SELECT * FROM costopt.api_usage_logs;

SELECT throws_ok($$SELECT costopt_attach_costing('public.tap_no_costs')$$,
				 '09000', 'table "tap_no_costs" is not a costopt usage table',
				 'attach_costing: a table without the cost columns: 09000');
SELECT is(pg_temp.error_detail($$SELECT costopt_attach_costing('public.tap_no_costs')$$),
		  '09000: Missing columns: input_cost, output_cost, total_cost.',
		  'attach_costing: the detail lists every missing column');
SELECT is(pg_temp.error_detail($$SELECT costopt_attach_costing('public.tap_wrong_types')$$),
		  '09000: Wrong types: input_tokens (bigint, expected integer).',
		  'attach_costing: the detail names a column of the wrong type');
SELECT throws_ok($$SELECT costopt_attach_costing('public.tap_usage_view')$$,
				 '42809', '"public.tap_usage_view" is not a table',
				 'attach_costing: a view: 42809');
SELECT throws_ok($$SELECT costopt_attach_costing(NULL)$$,
				 '22004', 'argument "usage_table" must not be null',
				 'attach_costing: NULL: 22004');
SELECT throws_ok($$SELECT * FROM costopt_recost('2025-01-01', '2025-02-01', usage_table => 'public.tap_no_costs')$$,
				 '09000', 'table "tap_no_costs" is not a costopt usage table',
				 'recost: a table without the cost columns: 09000');

-- a trigger created by hand on an unsuitable table fails at the first row
CREATE TRIGGER costopt_costing BEFORE INSERT ON public.tap_no_costs
	FOR EACH ROW EXECUTE FUNCTION costopt.costing_trigger();
SELECT throws_ok($$INSERT INTO public.tap_no_costs (model, input_tokens, output_tokens) VALUES ('gpt-4o', 1, 1)$$,
				 '09000', 'table "tap_no_costs" is not a costopt usage table',
				 'costing trigger on a table without cost columns: 09000 at insert');

-- the trigger function fired the wrong way
CREATE TABLE public.tap_misfire (
	created_at timestamptz NOT NULL DEFAULT now(),
	model text NOT NULL,
	input_tokens integer NOT NULL DEFAULT 0,
	output_tokens integer NOT NULL DEFAULT 0,
	input_cost numeric, output_cost numeric, total_cost numeric
);
CREATE TRIGGER tap_after AFTER INSERT ON public.tap_misfire
	FOR EACH ROW EXECUTE FUNCTION costopt.costing_trigger();
SELECT throws_ok($$INSERT INTO public.tap_misfire (model) VALUES ('gpt-4o')$$,
				 '39P01', 'function "costopt.costing_trigger" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW',
				 'costing trigger fired AFTER a row: 39P01');
DROP TRIGGER tap_after ON public.tap_misfire;
CREATE TRIGGER tap_stmt BEFORE INSERT ON public.tap_misfire
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.costing_trigger();
SELECT throws_ok($$INSERT INTO public.tap_misfire (model) VALUES ('gpt-4o')$$,
				 '39P01', 'function "costopt.costing_trigger" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW',
				 'costing trigger fired FOR EACH STATEMENT: 39P01');
DROP TRIGGER tap_stmt ON public.tap_misfire;
INSERT INTO public.tap_misfire (model) VALUES ('gpt-4o');
CREATE TRIGGER tap_delete BEFORE DELETE ON public.tap_misfire
	FOR EACH ROW EXECUTE FUNCTION costopt.costing_trigger();
SELECT throws_ok($$DELETE FROM public.tap_misfire$$,
				 '39P01', 'function "costopt.costing_trigger" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW',
				 'costing trigger fired BEFORE DELETE: 39P01');
DROP TRIGGER tap_delete ON public.tap_misfire;

-------------------------------------------------------------------------------
-- costopt.missing_price_action
-------------------------------------------------------------------------------
SET LOCAL costopt.missing_price_action = 'error';
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
				   VALUES ('tap-guc', 'tap-unpriced', 100, 10, '2025-03-01')$$,
				 '42704', 'no price for model "tap-unpriced" at 2025-03-01 00:00:00+00',
				 'missing_price_action = error: an unpriced insert fails with 42704');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens, created_at)
				   VALUES ('tap-guc', 'tapco', 'tap-unpriced', 100, 10, '2025-03-01')$$,
				 '42704', 'no price for model "tap-unpriced" (provider "tapco") at 2025-03-01 00:00:00+00',
				 'missing_price_action = error: the message names the provider');
SELECT lives_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
				  VALUES ('tap-guc', 'gpt-4o', 100, 10, '2025-03-01')$$,
				'missing_price_action = error: a priced insert still works');
SET LOCAL costopt.missing_price_action = 'store';
SELECT lives_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
				  VALUES ('tap-guc', 'tap-unpriced', 100, 10, '2025-03-01')$$,
				'missing_price_action = store: the unpriced insert is accepted');
SELECT results_eq(
	$$SELECT model, cost_status, input_cost, output_cost, total_cost, pricing_id
		FROM costopt.api_usage_logs WHERE organization_id = 'tap-guc' ORDER BY id$$,
	$$VALUES ('gpt-4o'::text, 'priced'::text, 0.00025::numeric, 0.0001::numeric, 0.00035::numeric,
			  (SELECT id FROM costopt.model_pricing WHERE provider = 'openai' AND model_name = 'gpt-4o')),
			 ('tap-unpriced'::text, 'unpriced'::text, NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint)$$,
	'store keeps the unpriced row with NULL costs and cost_status unpriced');
SET LOCAL client_min_messages = error;
SET LOCAL costopt.missing_price_action = 'warning';
INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, created_at)
VALUES ('tap-guc-warn', 'tap-unpriced', 100, 10, '2025-03-01');
SET LOCAL client_min_messages = warning;
SET LOCAL costopt.missing_price_action = 'store';
SELECT results_eq(
	$$SELECT cost_status, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'tap-guc-warn'$$,
	$$VALUES ('unpriced'::text, NULL::numeric)$$,
	'missing_price_action = warning stores the row as unpriced');
SELECT throws_ok($$SELECT set_config('costopt.missing_price_action', 'ignore', true)$$,
				 '22023', 'invalid value for parameter "costopt.missing_price_action": "ignore"',
				 'missing_price_action rejects unknown values: 22023');
SELECT throws_ok($$SET LOCAL costopt.missing_price = 'error'$$,
				 '42602', 'invalid configuration parameter name "costopt.missing_price"',
				 'the costopt. prefix is reserved: a misspelt setting is an error');
-- pgTAP's bookkeeping tables belong to the test user, so the attempt runs
-- under the ordinary role and the assertion after RESET ROLE
CREATE ROLE tap_plain_user;
SET LOCAL ROLE tap_plain_user;
DO $$
BEGIN
	PERFORM set_config('tap.guc_attempt',
					   pg_temp.error_message($q$SET LOCAL costopt.missing_price_action = 'store'$q$), true);
END;
$$;
RESET ROLE;
SELECT is(current_setting('tap.guc_attempt'),
		  '42501: permission denied to set parameter "costopt.missing_price_action"',
		  'missing_price_action cannot be set by an ordinary user');

SELECT * FROM finish();
ROLLBACK;
