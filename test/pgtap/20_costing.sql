-- Costing behaviour: exact costs, name resolution, unpriced rows and
-- re-costing, UPDATE rules, effective-dated prices, attaching the trigger to
-- user tables, model comparison, projections, catalog import.
--
-- All prices are USD per million tokens, so a cost is
-- sum(tokens * price) / 1e6; every expected value below is computed by hand
-- in the comment next to it.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(147);

-- costopt_recost results, captured by lives_ok so that a failing call shows
-- its error and the assertions after it still run
CREATE TEMP TABLE recost_out (tag text PRIMARY KEY, changed bigint, still_unpriced bigint);
CREATE TEMP TABLE load_out (tag text PRIMARY KEY, inserted integer, updated integer, unchanged integer, skipped integer);

-- the seed's price version id of a catalog model (the open-ended one)
CREATE FUNCTION pg_temp.pid(p text, m text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT id FROM costopt.model_pricing
	 WHERE provider = p AND model_name = m AND effective_to IS NULL
	 ORDER BY effective_from DESC LIMIT 1
$$;

-------------------------------------------------------------------------------
-- 1. costopt_compare_models and costopt_monthly_projection on the seed
--    catalog (before this file adds any model of its own)
-------------------------------------------------------------------------------
-- 1000 in / 1000 out: gemini-1.5-flash 0.075+0.30 = 0.375 per M -> 0.000375
SELECT results_eq(
	$$SELECT provider, model_name, total_cost, cost_vs_cheapest FROM costopt_compare_models(1000, 1000) LIMIT 1$$,
	$$VALUES ('google'::text, 'gemini-1.5-flash'::text, 0.000375::numeric, 1.0000::numeric)$$,
	'compare_models: the cheapest model comes first, cost_vs_cheapest 1');
SELECT ok(NOT EXISTS (
			SELECT 1 FROM (SELECT total_cost, lag(total_cost) OVER (ORDER BY n) AS prev
							 FROM costopt_compare_models(1000, 1000) WITH ORDINALITY AS c(provider, model_name, model_tier,
								input_cost, output_cost, total_cost, quality_score, context_window, cost_vs_cheapest, n)) s
			 WHERE total_cost < prev),
		  'compare_models: rows are in non-decreasing cost order');
-- gemini-2.0-flash (0.10+0.40) and llama-2-13b (0.20+0.30) tie at 0.0005: higher quality first
SELECT results_eq(
	$$SELECT model_name, total_cost FROM costopt_compare_models(1000, 1000) OFFSET 1 LIMIT 2$$,
	$$VALUES ('gemini-2.0-flash'::text, 0.0005::numeric), ('llama-2-13b'::text, 0.0005::numeric)$$,
	'compare_models: a cost tie is broken by quality, higher first');
SELECT is((SELECT count(*) FROM costopt_compare_models(1000, 1000) c
			WHERE c.total_cost IS DISTINCT FROM
				  (SELECT r.total_cost FROM costopt_request_cost(c.model_name, 1000, 1000, provider => c.provider) r)),
		  0::bigint, 'compare_models: every row costs what costopt_request_cost says');
SELECT ok(NOT EXISTS (SELECT 1 FROM costopt_compare_models(1000, 1000) WHERE model_name IN ('gpt-3.5-turbo-16k', 'gemini-pro')),
		  'compare_models: inactive models are left out by default');
SELECT ok(EXISTS (SELECT 1 FROM costopt_compare_models(1000, 1000, include_inactive => true) WHERE model_name = 'gpt-3.5-turbo-16k'),
		  'compare_models: include_inactive brings them back');
SELECT set_eq(
	$$SELECT model_name FROM costopt_compare_models(1000, 1000, min_quality => 0.9)$$,
	ARRAY['gemini-2.5-pro', 'claude-sonnet-4-5', 'claude-sonnet-4', 'claude-opus-4', 'o1'],
	'compare_models: min_quality 0.9 keeps exactly the models scored 0.9 or more');
-- gemini-2.5-pro 1.25+10 -> 0.01125; o1 15+60 -> 0.075 = 6.6667x
SELECT results_eq(
	$$SELECT model_name, total_cost, cost_vs_cheapest FROM costopt_compare_models(1000, 1000, min_quality => 0.9)
	   WHERE model_name IN ('gemini-2.5-pro', 'o1')$$,
	$$VALUES ('gemini-2.5-pro'::text, 0.01125::numeric, 1.0000::numeric), ('o1'::text, 0.075::numeric, 6.6667::numeric)$$,
	'compare_models: cheapest of the filtered set first; cost_vs_cheapest is relative to it');
SELECT set_eq(
	$$SELECT model_name FROM costopt_compare_models(300000, 1000)$$,
	ARRAY['gemini-2.0-flash', 'gemini-1.5-flash', 'gemini-2.5-flash', 'gemini-1.5-pro', 'gemini-2.5-pro',
		  'claude-sonnet-4-5', 'claude-sonnet-4'],
	'compare_models: a 300k-token prompt only lists models whose context window holds it');
-- 300k prompt on gemini-1.5-flash: above 128k, 300000*0.15 + 1000*0.60 -> 0.0456
SELECT is((SELECT total_cost FROM costopt_compare_models(300000, 1000) WHERE model_name = 'gemini-1.5-flash'),
		  0.0456::numeric, 'compare_models: long-context rates apply above the threshold');
SELECT set_eq(
	$$SELECT model_name FROM costopt_compare_models(1000, 20000)$$,
	ARRAY['o1', 'claude-sonnet-4', 'claude-sonnet-4-5', 'claude-opus-4', 'claude-haiku-4-5', 'gemini-2.5-flash',
		  'gemini-2.5-pro'],
	'compare_models: 20k output tokens only lists models whose output limit allows it');
-- at 2024-09-01 gemini-1.5-pro is 3.50 / 10.50 -> 0.014
SELECT is((SELECT total_cost FROM costopt_compare_models(1000, 1000, at => '2024-09-01') WHERE model_name = 'gemini-1.5-pro'),
		  0.014::numeric, 'compare_models: prices in force at "at" (gemini-1.5-pro before its October 2024 cut)');
SELECT results_eq(
	$$SELECT model_name, total_cost FROM costopt_compare_models(5000, 0, mode => 'embedding')$$,
	$$VALUES ('text-embedding-3-small'::text, 0.0001::numeric), ('text-embedding-3-large'::text, 0.00065::numeric)$$,
	'compare_models: mode embedding lists only embedding models, cheapest first');

-- gpt-4o: 1000*2.50 + 500*10 = 7500 -> 0.0075 per request; x1000/day; x30; x365
SELECT results_eq(
	$$SELECT catalog_provider, catalog_model, cost_per_request, daily_cost, monthly_cost, yearly_cost
		FROM costopt_monthly_projection(1000, 1000, 500, 'gpt-4o')$$,
	$$VALUES ('openai'::text, 'gpt-4o'::text, 0.0075::numeric, 7.5::numeric, 225::numeric, 2737.5::numeric)$$,
	'monthly_projection: gpt-4o 1000 requests/day of 1000 in / 500 out');
-- with 400 cached: 600*2.50 + 400*1.25 + 500*10 = 7000 -> 0.007; 31-day month
SELECT results_eq(
	$$SELECT cost_per_request, daily_cost, monthly_cost, yearly_cost
		FROM costopt_monthly_projection(1000, 1000, 500, 'gpt-4o', avg_cached_tokens => 400, days_per_month => 31)$$,
	$$VALUES (0.007::numeric, 7::numeric, 217::numeric, 2555::numeric)$$,
	'monthly_projection: cached tokens at the cache price, 31-day month');
-- claude-sonnet-4 above 200k: 250000*6 + 1000*22.50 -> 1.5225
SELECT results_eq(
	$$SELECT cost_per_request, daily_cost, monthly_cost, yearly_cost
		FROM costopt_monthly_projection(10, 250000, 1000, 'claude-sonnet-4')$$,
	$$VALUES (1.5225::numeric, 15.225::numeric, 456.75::numeric, 5557.125::numeric)$$,
	'monthly_projection: long-context prompts at the long-context rates');
-- fractional averages: gpt-4o-mini 1500.5*0.15 + 300.25*0.60 = 405.225 -> 0.000405225
SELECT is((SELECT cost_per_request FROM costopt_monthly_projection(1, 1500.5, 300.25, 'gpt-4o-mini')),
		  0.000405225::numeric, 'monthly_projection: fractional averages are priced exactly');
-- gemini-2.5-pro 300000 in (100000 cached) / 2000 out: 200000*2.5 + 100000*0.25 + 2000*15 -> 0.555
SELECT is((SELECT cost_per_request FROM costopt_monthly_projection(1, 300000, 2000, 'gemini-2.5-pro', avg_cached_tokens => 100000)),
		  (SELECT total_cost FROM costopt_request_cost('gemini-2.5-pro', 300000, 2000, 100000)),
		  'monthly_projection agrees with costopt_request_cost');
SELECT is((SELECT total_cost FROM costopt_request_cost('gemini-2.5-pro', 300000, 2000, 100000)),
		  0.555::numeric, 'request_cost: gemini-2.5-pro long-context call with cache reads');

-------------------------------------------------------------------------------
-- 2. Exact costs of stored rows (the costing trigger)
-------------------------------------------------------------------------------
INSERT INTO costopt.api_usage_logs
	(organization_id, created_at, provider, model, input_tokens, output_tokens, cached_input_tokens,
	 cache_write_tokens, reasoning_tokens, is_batch, cost_status)
VALUES
	('c01', '2025-03-01', 'openai', 'gpt-4o', 1000, 200, 0, 0, 0, false, NULL),
	('c02', '2025-03-01', 'openai', 'gpt-4o', 1000, 200, 500, 0, 0, false, NULL),
	('c03', '2025-03-01', 'anthropic', 'claude-sonnet-4', 250000, 2000, 50000, 10000, 0, false, NULL),
	('c04', '2025-03-01', 'anthropic', 'claude-sonnet-4', 200000, 1000, 0, 0, 0, false, NULL),
	('c05', '2025-03-01', 'anthropic', 'claude-sonnet-4', 200001, 1000, 0, 0, 0, false, NULL),
	('c06', '2024-09-30 23:59:59', 'google', 'gemini-1.5-pro', 1000, 1000, 0, 0, 0, false, NULL),
	('c07', '2024-10-01 00:00:00', 'google', 'gemini-1.5-pro', 1000, 1000, 0, 0, 0, false, NULL),
	('c08', '2024-06-01', 'google', 'gemini-1.5-pro', 200000, 1000, 0, 0, 0, false, NULL),
	('c09', '2025-03-01', 'openai', 'gpt-4o', 1000, 1000, 200, 0, 0, true, NULL),
	('c10', '2025-03-01', 'google', 'gemini-1.5-flash', 1000, 1000, 0, 0, 0, true, NULL),
	('c11', '2025-03-01', 'anthropic', 'claude-3-5-sonnet', 10000, 500, 3000, 2000, 0, false, NULL),
	('c12', '2025-03-01', 'openai', 'gpt-4', 1000, 100, 400, 0, 0, false, NULL),
	('c13', '2025-03-01', 'openai', 'gpt-4o', 1000, 0, 0, 300, 0, false, NULL),
	('c14', '2025-03-01', 'openai', 'gpt-4o', 1000, 200, 0, 0, 0, false, 'estimated'),
	('c15', '2025-03-01', 'openai', 'o1', 1000, 1000, 0, 0, 800, false, NULL),
	('c16', '2025-03-01', 'anthropic', 'claude-3-haiku', 1000, 1000, 0, 0, 0, true, NULL),
	('c17', '2025-03-01', 'anthropic', 'claude-sonnet-4', 250000, 2000, 50000, 10000, 0, true, NULL);

-- 1000*2.50 + 200*10 -> 0.0025 + 0.002
SELECT results_eq($$SELECT input_cost, output_cost, total_cost, cost_status, pricing_id
					  FROM costopt.api_usage_logs WHERE organization_id = 'c01'$$,
				  $$VALUES (0.0025::numeric, 0.002::numeric, 0.0045::numeric, 'priced'::text, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'gpt-4o 1000 in / 200 out = 0.0045, priced by the gpt-4o version');
-- 500*2.50 + 500*1.25 = 1875 -> 0.001875
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c02'$$,
				  $$VALUES (0.001875::numeric, 0.002::numeric, 0.003875::numeric)$$,
				  'gpt-4o with 500 of 1000 prompt tokens cached = 0.003875');
-- above 200k: 190000*6 + 50000*0.60 + 10000*7.50 = 1245000 -> 1.245; 2000*22.50 -> 0.045
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c03'$$,
				  $$VALUES (1.245::numeric, 0.045::numeric, 1.29::numeric)$$,
				  'claude-sonnet-4 250k prompt: all four rates switch to the long-context tier');
-- exactly 200000: base rates 200000*3 -> 0.6; 1000*15 -> 0.015
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c04'), 0.615::numeric,
		  'claude-sonnet-4 at exactly 200000 prompt tokens bills base rates (threshold is strict)');
-- 200001*6 -> 1.200006; 1000*22.5 -> 0.0225
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c05'), 1.222506::numeric,
		  'claude-sonnet-4 at 200001 prompt tokens bills the whole request at long-context rates');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'c06'$$,
				  $$SELECT 0.014::numeric, id FROM costopt.model_pricing
					 WHERE model_name = 'gemini-1.5-pro' AND effective_from = '-infinity'$$,
				  'gemini-1.5-pro one second before 2024-10-01: old price 3.50 / 10.50 = 0.014');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'c07'$$,
				  $$SELECT 0.00625::numeric, id FROM costopt.model_pricing
					 WHERE model_name = 'gemini-1.5-pro' AND effective_from = '2024-10-01'$$,
				  'gemini-1.5-pro at 2024-10-01 00:00: new price 1.25 / 5 = 0.00625');
-- old version above 128k: 200000*7 -> 1.4; 1000*21 -> 0.021
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c08'), 1.421::numeric,
		  'gemini-1.5-pro old version above 128k uses that version''s long-context rates');
-- batch: all 1000 prompt tokens at 1.25 (no cache split) + 1000*5
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c09'$$,
				  $$VALUES (0.00125::numeric, 0.005::numeric, 0.00625::numeric)$$,
				  'gpt-4o batch call: whole prompt at the batch input price, output at the batch output price');
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c10'), 0.000375::numeric,
		  'a batch call on a model without batch prices bills standard prices');
-- claude-3-haiku batch 0.125 / 0.625
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c16'), 0.00075::numeric,
		  'claude-3-haiku batch call at 0.125 / 0.625');
-- batch prices stop at the long-context threshold (never understate spend):
-- 190000*6 + 50000*0.60 + 10000*7.50 = 1245000 -> 1.245; 2000*22.50 -> 0.045
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c17'), 1.29::numeric,
		  'claude-sonnet-4 batch call above 200k: long-context prices, not batch prices');
-- 5000*3 + 3000*0.30 + 2000*3.75 = 23400 -> 0.0234; 500*15 -> 0.0075
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c11'$$,
				  $$VALUES (0.0234::numeric, 0.0075::numeric, 0.0309::numeric)$$,
				  'claude-3-5-sonnet: cache writes at cache_write_price, reads at cache_read_price');
-- gpt-4 has no cache price: 1000*30 -> 0.03, 100*60 -> 0.006
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c12'), 0.036::numeric,
		  'gpt-4 has no cache price: cached tokens bill at the input price');
-- gpt-4o has no cache-write price: 1000*2.50
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c13'), 0.0025::numeric,
		  'gpt-4o has no cache-write price: cache writes bill at the input price');
SELECT results_eq($$SELECT total_cost, cost_status FROM costopt.api_usage_logs WHERE organization_id = 'c14'$$,
				  $$VALUES (0.0045::numeric, 'estimated'::text)$$,
				  'a row inserted as estimated is priced and keeps cost_status estimated');
-- o1 1000*15 -> 0.015; 1000 output (800 of them reasoning) * 60 -> 0.06
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'c15'$$,
				  $$VALUES (0.015::numeric, 0.06::numeric, 0.075::numeric)$$,
				  'o1: reasoning tokens are part of output_tokens and are not billed twice');
SELECT is((SELECT count(*) FROM costopt.api_usage_logs u,
				  LATERAL costopt.price_call(u.provider, u.model, u.created_at, u.input_tokens, u.output_tokens,
											 u.cached_input_tokens, u.cache_write_tokens, u.is_batch) pc
			WHERE u.organization_id LIKE 'c__'
			  AND (u.input_cost, u.output_cost, u.total_cost, u.pricing_id)
				  IS NOT DISTINCT FROM (pc.input_cost, pc.output_cost, pc.total_cost, pc.pricing_id)),
		  17::bigint, 'costopt.price_call agrees with every stored row to the last digit');
SELECT is((SELECT total_cost FROM costopt_request_cost('claude-sonnet-4', 250000, 2000, 50000, 10000)), 1.29::numeric,
		  'costopt_request_cost gives the trigger''s long-context cost');
SELECT is((SELECT total_cost FROM costopt_request_cost('gemini-1.5-pro', 1000, 1000, at => '2024-09-30 23:59:59')), 0.014::numeric,
		  'costopt_request_cost honours "at"');

-- exact arithmetic beyond the 64-bit integer path
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, cache_read_price, effective_from)
VALUES ('tapco', 'tap-big', 999999.000000000001, 0.5, 0.000000000001, '-infinity'),
	   ('tapco', 'tap-17', 0.12345678901234567, 1, NULL, '-infinity');
-- 1e9*999999.000000000001 + 1e9*0.000000000001 = 999999000000000.002 -> 999999000.000000002; 1*0.5 -> 0.0000005
SELECT is((SELECT total_cost FROM costopt_request_cost('tap-big', 2000000000, 1, 1000000000)),
		  999999000.000000502::numeric, 'a cost whose scaled sum exceeds 64 bits is exact');
-- 3*0.12345678901234567 -> 0.00000037037036703703701; 2*1 -> 0.000002
SELECT is((SELECT total_cost FROM costopt_request_cost('tap-17', 3, 2)),
		  0.00000237037036703703701::numeric, 'a price with 17 decimals prices exactly');
-- 1e10*30 -> 300000; 3e9*60 -> 180000
SELECT is((SELECT total_cost FROM costopt_request_cost('gpt-4', 10000000000, 3000000000)),
		  480000::numeric, 'costopt_request_cost takes token counts beyond int range and stays exact');

-------------------------------------------------------------------------------
-- 3. Name resolution
-------------------------------------------------------------------------------
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES
	('a01', '2025-03-01', 'openai', 'gpt-4o-2024-08-06', 1000, 200),
	('a02', '2025-03-01', NULL, 'openai/gpt-4o', 1000, 200),
	('a03', '2025-03-01', 'openrouter', 'openrouter/openai/gpt-4o', 1000, 200),
	('a04', '2025-03-01', 'OpenAI', 'GPT-4O', 1000, 200),
	('a05', '2025-03-01', 'anthropic', 'claude-3-opus-20240229', 1000, 200),
	('a06', '2025-03-01', 'azure', 'gpt-35-turbo', 1000, 200),
	('a07', '2025-03-01', NULL, 'gpt-4o', 1000, 200),
	('a08', '2025-03-01', 'bedrock', 'anthropic.claude-3-haiku-20240307-v1:0', 1000, 200);

SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a01'$$,
				  $$VALUES (0.0045::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'dated snapshot gpt-4o-2024-08-06 prices as gpt-4o');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a02'$$,
				  $$VALUES (0.0045::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'provider-prefixed openai/gpt-4o prices as gpt-4o');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a03'$$,
				  $$VALUES (0.0045::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'doubly prefixed openrouter/openai/gpt-4o prices as gpt-4o');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a04'$$,
				  $$VALUES (0.0045::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'upper-case GPT-4O (provider OpenAI) prices as gpt-4o');
-- claude-3-opus 1000*15 + 200*75 -> 0.03
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a05'$$,
				  $$VALUES (0.03::numeric, pg_temp.pid('anthropic', 'claude-3-opus'))$$,
				  'claude-3-opus-20240229 prices as claude-3-opus');
-- gpt-3.5-turbo 1000*0.50 + 200*1.50 -> 0.0008
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a06'$$,
				  $$VALUES (0.0008::numeric, pg_temp.pid('openai', 'gpt-3.5-turbo'))$$,
				  'Azure deployment name gpt-35-turbo prices through its alias as gpt-3.5-turbo');
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a07'$$,
				  $$VALUES (0.0045::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'a row without provider prices by model name alone');
-- claude-3-haiku 1000*0.25 + 200*1.25 -> 0.0005
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'a08'$$,
				  $$VALUES (0.0005::numeric, pg_temp.pid('anthropic', 'claude-3-haiku'))$$,
				  'Bedrock id anthropic.claude-3-haiku-20240307-v1:0 prices through its alias');
SELECT results_eq($$SELECT * FROM costopt.resolve_model('openai', 'gpt-4o-mini-2024-07-18')$$,
				  $$VALUES ('openai'::text, 'gpt-4o-mini'::text)$$,
				  'resolve_model strips a dated snapshot without eating into the model name');
INSERT INTO costopt.model_aliases (alias, provider, target_provider, target_model)
VALUES ('tap-deploy', 'azure', 'openai', 'gpt-4o'), ('tap-deploy', NULL, 'openai', 'gpt-3.5-turbo');
SELECT results_eq($$SELECT * FROM costopt.resolve_model('azure', 'tap-deploy')$$,
				  $$VALUES ('openai'::text, 'gpt-4o'::text)$$,
				  'a provider-specific alias beats an any-provider alias of the same name');
SELECT results_eq($$SELECT * FROM costopt.resolve_model('other', 'tap-deploy')$$,
				  $$VALUES ('openai'::text, 'gpt-3.5-turbo'::text)$$,
				  'the any-provider alias applies to other providers');

-------------------------------------------------------------------------------
-- 4. Unpriced rows, then priced by costopt_recost once a price exists
-------------------------------------------------------------------------------
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES
	('u', '2023-06-05', 'tapco', 'tap-late-model', 1000, 1000),
	('u', '2023-06-06', 'tapco', 'tap-late-model', 2000, 500),
	('u', '2023-06-07', NULL, 'tap-late-model', 10, 10),
	('u', '2023-06-08', 'openai', 'gpt-4o', 1000, 200);
SELECT results_eq(
	$$SELECT cost_status, count(*), count(total_cost), count(input_cost), count(pricing_id)
		FROM costopt.api_usage_logs WHERE organization_id = 'u' GROUP BY cost_status ORDER BY cost_status$$,
	$$VALUES ('priced'::text, 1::bigint, 1::bigint, 1::bigint, 1::bigint), ('unpriced'::text, 3::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
	'rows of an unknown model are stored unpriced with NULL costs and no pricing_id');
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-late-model', 1, 2, '-infinity');
SELECT is((SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = 'u' AND cost_status = 'unpriced'), 3::bigint,
		  'adding a price does not by itself touch stored rows');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'unpriced', * FROM costopt_recost('2023-06-01', '2023-07-01')$$,
				'costopt_recost runs over the window of the unpriced rows');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'unpriced'$$,
				  $$VALUES (3::bigint, 0::bigint)$$,
				  'costopt_recost reports the 3 formerly unpriced rows as changed and none left unpriced');
-- 1000*1 + 1000*2 -> 0.003; 2000*1 + 500*2 -> 0.003; 10*1 + 10*2 -> 0.00003
SELECT results_eq(
	$$SELECT cost_status, total_cost, pricing_id FROM costopt.api_usage_logs
	   WHERE organization_id = 'u' AND model = 'tap-late-model' ORDER BY created_at$$,
	$$VALUES ('priced'::text, 0.003::numeric, pg_temp.pid('tapco', 'tap-late-model')),
			 ('priced'::text, 0.003::numeric, pg_temp.pid('tapco', 'tap-late-model')),
			 ('priced'::text, 0.00003::numeric, pg_temp.pid('tapco', 'tap-late-model'))$$,
	'the recosted rows carry the new price');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'unpriced-again', * FROM costopt_recost('2023-06-01', '2023-07-01')$$,
				'costopt_recost runs a second time');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'unpriced-again'$$,
				  $$VALUES (0::bigint, 0::bigint)$$,
				  'a second costopt_recost changes nothing');

-- the model filter
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('uf', '2023-07-05', 'tapco', 'tap-late-a', 100, 100),
	   ('uf', '2023-07-06', 'tapco', 'tap-late-a', 100, 100),
	   ('uf', '2023-07-07', 'tapco', 'tap-late-b', 100, 100);
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-late-a', 1, 1, '-infinity'), ('tapco', 'tap-late-b', 1, 1, '-infinity');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'filter-a', * FROM costopt_recost('2023-07-01', '2023-08-01', model => 'tap-late-a')$$,
				'costopt_recost runs with a model filter');
SELECT results_eq($$SELECT changed FROM recost_out WHERE tag = 'filter-a'$$, $$VALUES (2::bigint)$$,
				  'costopt_recost with model => tap-late-a changes only that model''s 2 rows');
SELECT is((SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = 'uf' AND model = 'tap-late-b' AND total_cost IS NULL),
		  1::bigint, 'the other model''s row is left unpriced');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'filter-none', * FROM costopt_recost('2023-07-01', '2023-08-01')$$,
				'costopt_recost runs without a filter');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'filter-none'$$, $$VALUES (1::bigint, 0::bigint)$$,
				  'costopt_recost without a filter prices the remaining row');

-------------------------------------------------------------------------------
-- 5. UPDATE rules of the costing trigger
-------------------------------------------------------------------------------
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-upd', 1, 2, '-infinity');
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('upd', '2025-03-01', 'tapco', 'tap-upd', 1000, 1000);
-- 1000*1 + 1000*2 -> 0.003
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'upd'), 0.003::numeric,
		  'tap-upd row priced at 1 / 2');
UPDATE costopt.model_pricing SET output_price = 4 WHERE provider = 'tapco' AND model_name = 'tap-upd';
UPDATE costopt.api_usage_logs SET user_id = 'someone', latency_ms = 42 WHERE organization_id = 'upd';
SELECT results_eq($$SELECT input_cost, output_cost, total_cost, cost_status FROM costopt.api_usage_logs WHERE organization_id = 'upd'$$,
				  $$VALUES (0.001::numeric, 0.002::numeric, 0.003::numeric, 'priced'::text)$$,
				  'UPDATE of non-pricing columns keeps the stored cost (even after a price change)');
UPDATE costopt.api_usage_logs SET total_cost = 999, input_cost = 0, output_cost = NULL, cost_status = 'estimated', pricing_id = -1
 WHERE organization_id = 'upd' AND user_id = 'someone';
SELECT results_eq($$SELECT input_cost, output_cost, total_cost, cost_status, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'upd'$$,
				  $$VALUES (0.001::numeric, 0.002::numeric, 0.003::numeric, 'priced'::text, pg_temp.pid('tapco', 'tap-upd'))$$,
				  'UPDATE writing the cost columns directly is undone');
UPDATE costopt.api_usage_logs SET output_tokens = 2000 WHERE organization_id = 'upd';
-- 1000*1 + 2000*4 -> 0.009 (at the corrected output price)
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'upd'$$,
				  $$VALUES (0.001::numeric, 0.008::numeric, 0.009::numeric)$$,
				  'UPDATE of a token count re-prices the row at the current price');
UPDATE costopt.api_usage_logs SET model = 'gpt-4o', provider = 'openai' WHERE organization_id = 'upd';
-- gpt-4o 1000*2.50 + 2000*10 -> 0.0225
SELECT results_eq($$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'upd'$$,
				  $$VALUES (0.0225::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
				  'UPDATE of the model re-prices the row under the new model');
UPDATE costopt.api_usage_logs SET created_at = '2024-01-01', model = 'gemini-1.5-pro', provider = 'google'
 WHERE organization_id = 'upd';
-- gemini-1.5-pro before 2024-10-01: 1000*3.50 + 2000*10.50 -> 0.0245
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'upd'), 0.0245::numeric,
		  'UPDATE of created_at re-prices at the version in force at the new time');
UPDATE costopt.api_usage_logs SET total_cost = NULL WHERE organization_id = 'upd';
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'upd'), 0.0245::numeric,
		  'UPDATE setting total_cost to NULL asks for a re-price');

-------------------------------------------------------------------------------
-- 6. Price correction followed by costopt_recost
-------------------------------------------------------------------------------
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-fix', 1, 1, '-infinity'), ('tapco', 'tap-other', 5, 5, '-infinity');
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('fix', '2023-08-02', 'tapco', 'tap-fix', 1000, 1000),
	   ('fix', '2023-08-03', 'tapco', 'tap-fix', 2000, 0),
	   ('fix', '2023-08-04', 'tapco', 'tap-fix', 0, 3000),
	   ('fix', '2023-08-05', 'tapco', 'tap-other', 1000, 1000),
	   ('fix', '2023-08-06', 'tapco', 'tap-other', 1000, 1000),
	   ('fix', '2023-09-02', 'tapco', 'tap-fix', 1000, 1000);
UPDATE costopt.model_pricing SET input_price = 2 WHERE provider = 'tapco' AND model_name = 'tap-fix';
SELECT is((SELECT sum(total_cost) FROM costopt.api_usage_logs WHERE organization_id = 'fix' AND model = 'tap-fix'),
		  0.009::numeric, 'a price correction does not change stored rows by itself (0.002 + 0.002 + 0.003 + 0.002)');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'fix', * FROM costopt_recost('2023-08-01', '2023-09-01')$$,
				'costopt_recost runs after the price correction');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'fix'$$, $$VALUES (2::bigint, 0::bigint)$$,
				  'costopt_recost reports exactly the 2 rows whose cost the correction changes (not the output-only row)');
-- 1000*2 + 1000*1 -> 0.003; 2000*2 -> 0.004; 3000*1 -> 0.003 (unchanged)
SELECT results_eq(
	$$SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'fix' AND model = 'tap-fix' ORDER BY created_at$$,
	$$VALUES (0.003::numeric), (0.004::numeric), (0.003::numeric), (0.002::numeric)$$,
	'the affected rows in the window carry the corrected price; the row outside the window keeps the old one');
SELECT results_eq(
	$$SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'fix' AND model = 'tap-other' ORDER BY created_at$$,
	$$VALUES (0.01::numeric), (0.01::numeric)$$,
	'rows of other models are untouched');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'fix-again', * FROM costopt_recost('2023-08-01', '2023-09-01')$$,
				'costopt_recost runs again');
SELECT results_eq($$SELECT changed FROM recost_out WHERE tag = 'fix-again'$$, $$VALUES (0::bigint)$$,
				  'a repeated costopt_recost changes nothing');

-------------------------------------------------------------------------------
-- 7. A later price version does not change already-priced rows
-------------------------------------------------------------------------------
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-ver', 1, 1, '-infinity');
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('ver', '2025-03-01', 'tapco', 'tap-ver', 1000, 1000);
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-ver', 3, 3, '2025-06-01');
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('ver', '2025-04-01', 'tapco', 'tap-ver', 1000, 1000),
	   ('ver', '2025-07-01', 'tapco', 'tap-ver', 1000, 1000);
SELECT results_eq(
	$$SELECT total_cost, pricing_id FROM costopt.api_usage_logs WHERE organization_id = 'ver' ORDER BY created_at$$,
	$$SELECT * FROM (VALUES
		(0.002::numeric, (SELECT id FROM costopt.model_pricing WHERE model_name = 'tap-ver' AND effective_from = '-infinity')),
		(0.002::numeric, (SELECT id FROM costopt.model_pricing WHERE model_name = 'tap-ver' AND effective_from = '-infinity')),
		(0.006::numeric, (SELECT id FROM costopt.model_pricing WHERE model_name = 'tap-ver' AND effective_from = '2025-06-01'))) v$$,
	'a version from 2025-06-01 prices later calls only; earlier calls (stored before or after it) keep the old price');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'ver', * FROM costopt_recost('2025-01-01', '2026-01-01', model => 'tap-ver')$$,
				'costopt_recost runs over the versioned rows');
SELECT results_eq($$SELECT changed FROM recost_out WHERE tag = 'ver'$$, $$VALUES (0::bigint)$$,
				  'costopt_recost finds nothing to change: every row already has the price in force at its time');
-- a version inserted between the two: 2025-02-01 at 2 / 2 covers the March and April rows
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-ver', 2, 2, '2025-02-01');
SELECT is((SELECT sum(total_cost) FROM costopt.api_usage_logs WHERE organization_id = 'ver'), 0.01::numeric,
		  'inserting an intermediate version leaves stored rows alone');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'ver-mid', * FROM costopt_recost('2025-01-01', '2026-01-01', model => 'tap-ver')$$,
				'costopt_recost runs after the intermediate version');
SELECT results_eq($$SELECT changed FROM recost_out WHERE tag = 'ver-mid'$$, $$VALUES (2::bigint)$$,
				  'costopt_recost re-prices the 2 rows the intermediate version covers');
SELECT results_eq(
	$$SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'ver' ORDER BY created_at$$,
	$$VALUES (0.004::numeric), (0.004::numeric), (0.006::numeric)$$,
	'after recost the covered rows carry the intermediate price, the July row the latest');

-------------------------------------------------------------------------------
-- 8. costopt_attach_costing on user tables
-------------------------------------------------------------------------------
CREATE TABLE public.tap_usage (
	id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now(),
	provider varchar(64),
	model text NOT NULL,
	input_tokens integer NOT NULL DEFAULT 0,
	output_tokens integer NOT NULL DEFAULT 0,
	input_cost numeric,
	output_cost numeric,
	total_cost numeric
);
INSERT INTO public.tap_usage (created_at, provider, model, input_tokens, output_tokens)
VALUES ('2025-03-01', 'openai', 'gpt-4o', 1000, 200),
	   ('2025-03-02', 'anthropic', 'claude-3-haiku', 1000, 1000);
SELECT is(costopt_attach_costing('public.tap_usage'), 2::bigint,
		  'attach_costing on a plain table returns the number of pre-existing rows it priced');
-- claude-3-haiku 1000*0.25 + 1000*1.25 -> 0.0015
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM public.tap_usage ORDER BY id$$,
				  $$VALUES (0.0025::numeric, 0.002::numeric, 0.0045::numeric), (0.00025::numeric, 0.00125::numeric, 0.0015::numeric)$$,
				  'attach_costing priced the rows the table already held');
INSERT INTO public.tap_usage (created_at, model, input_tokens, output_tokens) VALUES ('2025-03-03', 'gpt-4o-mini', 1000, 1000);
-- 1000*0.15 + 1000*0.60 -> 0.00075
SELECT is((SELECT total_cost FROM public.tap_usage WHERE model = 'gpt-4o-mini'), 0.00075::numeric,
		  'rows inserted after attach_costing are priced (table without cached/batch/status columns)');
SELECT is(costopt_attach_costing('public.tap_usage'), 0::bigint,
		  'a second attach_costing finds nothing to price');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.tap_usage'::regclass AND tgname = 'costopt_costing'),
		  1::bigint, 'a second attach_costing does not add a second trigger');
INSERT INTO public.tap_usage (created_at, model, input_tokens, output_tokens) VALUES ('2023-10-05', 'tap-late-user', 1000, 1000);
SELECT ok((SELECT total_cost IS NULL FROM public.tap_usage WHERE model = 'tap-late-user'),
		  'a user-table row of an unknown model is stored with NULL cost');
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-late-user', 1, 1, '-infinity');
SELECT lives_ok($$INSERT INTO recost_out SELECT 'user-table', * FROM costopt_recost('2023-10-01', '2023-11-01', usage_table => 'public.tap_usage')$$,
				'costopt_recost runs on a user table');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'user-table'$$, $$VALUES (1::bigint, 0::bigint)$$,
				  'costopt_recost on a user table prices its unpriced row');
SELECT is((SELECT total_cost FROM public.tap_usage WHERE model = 'tap-late-user'), 0.002::numeric,
		  'the user-table row now carries the new price');

-- a pre-existing row whose model has no price: attach_costing returns the
-- number of rows it priced, so the still-unpriced one is not counted and a
-- second call returns 0
CREATE TABLE public.tap_usage_mixed (
	created_at timestamptz NOT NULL DEFAULT now(),
	model text NOT NULL,
	input_tokens integer NOT NULL DEFAULT 0,
	output_tokens integer NOT NULL DEFAULT 0,
	input_cost numeric, output_cost numeric, total_cost numeric
);
INSERT INTO public.tap_usage_mixed (created_at, model, input_tokens, output_tokens)
VALUES ('2025-03-01', 'gpt-4o', 1000, 200), ('2025-03-01', 'tap-never-priced', 1000, 200);
SELECT is(costopt_attach_costing('public.tap_usage_mixed'), 1::bigint,
		  'attach_costing returns the number of pre-existing rows it priced');
SELECT results_eq($$SELECT model, total_cost FROM public.tap_usage_mixed ORDER BY model$$,
				  $$VALUES ('gpt-4o'::text, 0.0045::numeric), ('tap-never-priced'::text, NULL::numeric)$$,
				  'attach_costing priced the known model and left the unknown one NULL');
SELECT is(costopt_attach_costing('public.tap_usage_mixed'), 0::bigint,
		  'a second attach_costing prices nothing: the unknown model is still unknown');

-- cost columns with a typmod: stored costs are rounded to the column
CREATE TABLE public.tap_usage_rounded (
	created_at timestamptz NOT NULL DEFAULT now(),
	model text NOT NULL,
	input_tokens integer NOT NULL DEFAULT 0,
	output_tokens integer NOT NULL DEFAULT 0,
	input_cost numeric(12,6), output_cost numeric(12,6), total_cost numeric(12,6)
);
SELECT is(costopt_attach_costing('public.tap_usage_rounded'), 0::bigint, 'attach_costing on an empty table returns 0');
INSERT INTO public.tap_usage_rounded (created_at, model, input_tokens, output_tokens)
VALUES ('2023-11-05', 'gpt-4o-mini', 1, 1), ('2023-11-06', 'gpt-4o', 1000, 200);
-- gpt-4o-mini 1*0.15 + 1*0.60 -> 0.00000075, rounded to 6 places
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM public.tap_usage_rounded ORDER BY created_at$$,
				  $$VALUES (0.000000::numeric, 0.000001::numeric, 0.000001::numeric), (0.0025::numeric, 0.002::numeric, 0.0045::numeric)$$,
				  'costs are rounded to the cost columns'' numeric(12,6)');
-- recost compares costs as the columns store them, so rounded rows are not
-- rewritten on every run
SELECT lives_ok($$INSERT INTO recost_out SELECT 'rounded', * FROM costopt_recost('2023-11-01', '2023-12-01', usage_table => 'public.tap_usage_rounded')$$,
				'costopt_recost runs on a table with numeric(12,6) costs');
SELECT results_eq($$SELECT changed, still_unpriced FROM recost_out WHERE tag = 'rounded'$$,
				  $$VALUES (0::bigint, 0::bigint)$$,
				  'costopt_recost finds nothing to change in rounded costs');
SELECT results_eq($$SELECT input_cost, output_cost, total_cost FROM public.tap_usage_rounded ORDER BY created_at$$,
				  $$VALUES (0.000000::numeric, 0.000001::numeric, 0.000001::numeric), (0.0025::numeric, 0.002::numeric, 0.0045::numeric)$$,
				  'costopt_recost leaves rounded costs as they were');

-- partitioned by range on created_at; the 2025 partition has its columns in
-- another order and a dropped column
CREATE TABLE public.tap_part (
	created_at timestamptz NOT NULL,
	model text NOT NULL,
	provider text,
	input_tokens integer NOT NULL,
	output_tokens integer NOT NULL,
	cached_input_tokens integer NOT NULL DEFAULT 0,
	input_cost numeric,
	output_cost numeric,
	total_cost numeric,
	cost_status text
) PARTITION BY RANGE (created_at);
CREATE TABLE public.tap_part_2024 PARTITION OF public.tap_part FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.tap_part_2025 (
	cost_status text,
	junk integer,
	total_cost numeric,
	output_cost numeric,
	input_cost numeric,
	cached_input_tokens integer NOT NULL DEFAULT 0,
	output_tokens integer NOT NULL,
	input_tokens integer NOT NULL,
	provider text,
	model text NOT NULL,
	created_at timestamptz NOT NULL
);
ALTER TABLE public.tap_part_2025 DROP COLUMN junk;
ALTER TABLE public.tap_part ATTACH PARTITION public.tap_part_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO public.tap_part (created_at, provider, model, input_tokens, output_tokens, cached_input_tokens)
VALUES ('2024-06-01', 'google', 'gemini-1.5-pro', 1000, 1000, 0),
	   ('2025-03-01', 'openai', 'gpt-4o', 1000, 200, 500);
SELECT is(costopt_attach_costing('public.tap_part'), 2::bigint,
		  'attach_costing on a partitioned table prices the pre-existing rows of every partition');
SELECT ok((SELECT count(*) = 2 FROM pg_trigger
			WHERE tgname = 'costopt_costing'
			  AND tgrelid IN ('public.tap_part_2024'::regclass, 'public.tap_part_2025'::regclass)),
		  'both partitions carry the costing trigger');
SELECT results_eq($$SELECT total_cost, cost_status FROM public.tap_part_2024$$,
				  $$VALUES (0.014::numeric, 'priced'::text)$$,
				  'the pre-existing 2024 row is priced at the 2024 gemini-1.5-pro price');
SELECT results_eq($$SELECT total_cost, cost_status FROM public.tap_part_2025$$,
				  $$VALUES (0.003875::numeric, 'priced'::text)$$,
				  'the pre-existing 2025 row (other column order, dropped column) is priced with its cached tokens');
INSERT INTO public.tap_part (created_at, provider, model, input_tokens, output_tokens)
VALUES ('2024-11-01', 'google', 'gemini-1.5-pro', 1000, 1000),
	   ('2025-05-01', 'anthropic', 'claude-3-haiku', 1000, 1000);
INSERT INTO public.tap_part_2025 (created_at, provider, model, input_tokens, output_tokens)
VALUES ('2025-05-02', 'openai', 'gpt-4o', 1000, 200);
SELECT results_eq($$SELECT model, total_cost FROM public.tap_part_2024 WHERE created_at = '2024-11-01'$$,
				  $$VALUES ('gemini-1.5-pro'::text, 0.00625::numeric)$$,
				  'a new row routed to the 2024 partition is priced (post-October price)');
SELECT results_eq($$SELECT model, total_cost FROM public.tap_part_2025 WHERE created_at >= '2025-05-01' ORDER BY created_at$$,
				  $$VALUES ('claude-3-haiku'::text, 0.0015::numeric), ('gpt-4o'::text, 0.0045::numeric)$$,
				  'new rows in the 2025 partition are priced, through the parent and directly');
UPDATE public.tap_part SET created_at = '2025-02-01' WHERE created_at = '2024-06-01';
SELECT results_eq($$SELECT total_cost, cost_status FROM public.tap_part_2025 WHERE created_at = '2025-02-01'$$,
				  $$VALUES (0.00625::numeric, 'priced'::text)$$,
				  'a row moved across partitions by an UPDATE of created_at is re-priced at its new time');
SELECT is(costopt_attach_costing('public.tap_part'), 0::bigint,
		  'attach_costing on the partitioned table again finds nothing to price');

-------------------------------------------------------------------------------
-- 9. costopt_load_pricing on a small LiteLLM-style catalog
-------------------------------------------------------------------------------
CREATE TEMP TABLE tap_catalog (version text PRIMARY KEY, doc jsonb NOT NULL);
INSERT INTO tap_catalog VALUES ('v1', $json${
	"sample_spec": {"litellm_provider": "one of https://docs.litellm.ai/docs/providers",
					"input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "mode": "chat"},
	"tapco/tap-chat": {"litellm_provider": "tapco", "mode": "chat",
					   "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
					   "cache_read_input_token_cost": 1.25e-07, "cache_creation_input_token_cost": 3.125e-06,
					   "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 5e-06,
					   "max_input_tokens": 128000, "max_output_tokens": 16384, "max_tokens": 16384},
	"tap-long": {"litellm_provider": "tapco", "mode": "chat",
				 "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
				 "input_cost_per_token_above_200k_tokens": 6e-06, "output_cost_per_token_above_200k_tokens": 2.25e-05,
				 "input_cost_per_token_above_200k_tokens_priority": 9e-06,
				 "cache_read_input_token_cost": 3e-07, "cache_read_input_token_cost_above_200k_tokens": 6e-07,
				 "max_input_tokens": 1000000, "max_tokens": 64000},
	"gemini/tap-gem": {"litellm_provider": "gemini", "mode": "chat",
					   "input_cost_per_token": "1e-07", "output_cost_per_token": 4e-07,
					   "max_input_tokens": 2000000.0},
	"tap-embed": {"litellm_provider": "tapco", "mode": "embedding",
				  "input_cost_per_token": 2e-08, "output_cost_per_token": 0},
	"tap-image": {"litellm_provider": "tapco", "mode": "image_generation", "output_cost_per_image": 0.04},
	"tap-tiered": {"litellm_provider": "tapco", "mode": "chat",
				   "input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
				   "tiered_pricing": [{"range": [0, 32000], "input_cost_per_token": 1e-06}]},
	"tap-video": {"litellm_provider": "tapco", "mode": "video_generation",
				  "input_cost_per_token": 1.2345678901234567e-07, "output_cost_per_token": 2e-06}
}$json$);

SELECT lives_ok($$INSERT INTO load_out SELECT 'v1', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v1'), '2025-01-01')$$,
				'load_pricing: the small catalog loads');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v1'$$,
				  $$VALUES (5, 0, 0, 3)$$,
				  'load_pricing: 5 inserted; sample_spec, the image-priced and the tiered entry skipped');
SELECT results_eq(
	$$SELECT provider, model_name, mode, input_price, output_price, cache_read_price, cache_write_price,
			 batch_input_price, batch_output_price, context_window, max_output_tokens, source, effective_from
		FROM costopt.model_pricing WHERE model_name = 'tap-chat'$$,
	$$VALUES ('tapco'::text, 'tap-chat'::text, 'chat'::text, 2.5::numeric, 10::numeric, 0.125::numeric, 3.125::numeric,
			  1.25::numeric, 5::numeric, 128000, 16384, 'litellm'::text, '2025-01-01 00:00:00+00'::timestamptz)$$,
	'load_pricing: per-token prices become exact per-million prices; the provider prefix is stripped from the key');
SELECT is((SELECT input_price FROM costopt.model_pricing WHERE model_name = 'tap-video'), 0.12345678901234567::numeric,
		  'load_pricing: 17 significant digits survive the conversion (no binary float on the way)');
SELECT results_eq(
	$$SELECT long_context_threshold, long_context_input_price, long_context_output_price,
			 long_context_cache_read_price, long_context_cache_write_price, context_window, max_output_tokens
		FROM costopt.model_pricing WHERE model_name = 'tap-long'$$,
	$$VALUES (200000, 6::numeric, 22.5::numeric, 0.6::numeric, NULL::numeric, 1000000, NULL::integer)$$,
	'load_pricing: input_cost_per_token_above_200k_tokens gives threshold 200000 and the tier prices (a _priority variant is ignored)');
SELECT results_eq(
	$$SELECT provider, input_price, output_price, context_window FROM costopt.model_pricing WHERE model_name = 'tap-gem'$$,
	$$VALUES ('google'::text, 0.1::numeric, 0.4::numeric, 2000000)$$,
	'load_pricing: a gemini/ key becomes provider google; a string price and a float token limit are accepted');
SELECT results_eq(
	$$SELECT model_name, mode FROM costopt.model_pricing WHERE model_name IN ('tap-embed', 'tap-video') ORDER BY model_name$$,
	$$VALUES ('tap-embed'::text, 'embedding'::text), ('tap-video'::text, 'other'::text)$$,
	'load_pricing: modes are kept, unknown modes become other');
-- 250000 in (50000 cached) / 1000 out above 200k: 200000*6 + 50000*0.6 + 1000*22.5 -> 1.2525
SELECT is((SELECT total_cost FROM costopt_request_cost('tap-long', 250000, 1000, 50000, at => '2025-03-01')), 1.2525::numeric,
		  'load_pricing: the imported long-context tier prices calls');
-- 5000 * 0.02 -> 0.0001
SELECT is((SELECT total_cost FROM costopt_request_cost('tap-embed', 5000, 0, at => '2025-03-01')), 0.0001::numeric,
		  'load_pricing: a 2e-08 embedding price prices exactly');

SELECT lives_ok($$INSERT INTO load_out SELECT 'v1-again', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v1'), '2025-01-01')$$,
				'load_pricing: the same catalog loads again');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v1-again'$$,
				  $$VALUES (0, 0, 5, 3)$$,
				  'load_pricing: a re-load with the same effective_from reports every model unchanged');
SELECT lives_ok($$INSERT INTO load_out SELECT 'v1-later', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v1'), '2025-02-01')$$,
				'load_pricing: the same catalog loads at a later date');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v1-later'$$,
				  $$VALUES (0, 0, 5, 3)$$,
				  'load_pricing: unchanged prices at a later date add no version');

-- same date, tap-chat input price corrected to 3e-06: the version is overwritten
INSERT INTO tap_catalog
SELECT 'v1-fixed', jsonb_set(doc, '{tapco/tap-chat,input_cost_per_token}', '3e-06') FROM tap_catalog WHERE version = 'v1';
UPDATE costopt.model_pricing SET quality_score = 0.8, model_tier = 'base', notes = 'tap note' WHERE model_name = 'tap-chat';
SELECT lives_ok($$INSERT INTO load_out SELECT 'v1-fixed', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v1-fixed'), '2025-01-01')$$,
				'load_pricing: a corrected catalog loads at the same date');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v1-fixed'$$,
				  $$VALUES (0, 1, 4, 3)$$,
				  'load_pricing: a changed price at the same effective_from updates that version');
SELECT results_eq($$SELECT count(*), min(input_price), min(quality_score) FROM costopt.model_pricing WHERE model_name = 'tap-chat'$$,
				  $$VALUES (1::bigint, 3::numeric, 0.8::numeric)$$,
				  'load_pricing: still one tap-chat version, now at 3 per million, quality score kept');

INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('load', '2025-03-01', 'tapco', 'tap-chat', 1000, 1000);
-- 1000*3 + 1000*10 -> 0.013
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'load'), 0.013::numeric,
		  'a call priced by the loaded version');

-- a later catalog with tap-chat at 2e-06 / 8e-06
INSERT INTO tap_catalog
SELECT 'v2', jsonb_set(jsonb_set(doc, '{tapco/tap-chat,input_cost_per_token}', '2e-06'),
					   '{tapco/tap-chat,output_cost_per_token}', '8e-06')
  FROM tap_catalog WHERE version = 'v1';
SELECT lives_ok($$INSERT INTO load_out SELECT 'v2', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v2'), '2025-06-01')$$,
				'load_pricing: a catalog with changed prices loads at a later date');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v2'$$,
				  $$VALUES (1, 0, 4, 3)$$,
				  'load_pricing: the changed model gets a new version, the others are unchanged');
SELECT results_eq(
	$$SELECT effective_from, input_price, output_price, quality_score, model_tier, notes
		FROM costopt.model_pricing WHERE model_name = 'tap-chat' ORDER BY effective_from$$,
	$$VALUES ('2025-01-01 00:00:00+00'::timestamptz, 3::numeric, 10::numeric, 0.8::numeric, 'base'::text, 'tap note'::text),
			 ('2025-06-01 00:00:00+00'::timestamptz, 2::numeric, 8::numeric, 0.8::numeric, 'base'::text, 'tap note'::text)$$,
	'load_pricing: the new version carries the new prices and keeps quality, tier and notes');
INSERT INTO costopt.api_usage_logs (organization_id, created_at, provider, model, input_tokens, output_tokens)
VALUES ('load', '2025-05-31 23:59:59', 'tapco', 'tap-chat', 1000, 1000),
	   ('load', '2025-07-01', 'tapco', 'tap-chat', 1000, 1000);
-- before 2025-06-01: 0.013; after: 1000*2 + 1000*8 -> 0.01
SELECT results_eq($$SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'load' ORDER BY created_at$$,
				  $$VALUES (0.013::numeric), (0.013::numeric), (0.01::numeric)$$,
				  'load_pricing: later-dated calls use the new version; earlier calls (old and new rows) the old one');

-- providers filter
INSERT INTO tap_catalog
SELECT 'v3', jsonb_set(doc, '{gemini/tap-gem,output_cost_per_token}', '5e-07') FROM tap_catalog WHERE version = 'v2';
SELECT lives_ok($$INSERT INTO load_out SELECT 'v3-google', * FROM costopt_load_pricing((SELECT doc FROM tap_catalog WHERE version = 'v3'),
																					  '2025-09-01', providers => ARRAY['google'])$$,
				'load_pricing: loads with a providers filter');
SELECT results_eq($$SELECT inserted, updated, unchanged, skipped FROM load_out WHERE tag = 'v3-google'$$,
				  $$VALUES (1, 0, 0, 7)$$,
				  'load_pricing: providers => google loads only the gemini/ entry and skips the rest');
SELECT is((SELECT count(*) FROM costopt.model_pricing WHERE model_name IN ('tap-chat', 'tap-long', 'tap-embed', 'tap-video')
															AND effective_from = '2025-09-01'),
		  0::bigint, 'load_pricing: filtered-out providers got no new version');

-------------------------------------------------------------------------------
-- 10. The real LiteLLM catalog (read by the server with pg_read_file)
-------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.read_real_catalog() RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
	-- scripts/test.sh passes the shared data directory beside the repository
	RETURN pg_read_file(coalesce(current_setting('costopt_test.shared_dir', true), '../shared')
						|| '/data/pricing/model_prices_and_context_window.json')::jsonb;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END;
$$;
CREATE TEMP TABLE real_catalog AS SELECT pg_temp.read_real_catalog() AS doc;

SELECT CASE WHEN (SELECT doc FROM real_catalog) IS NULL
			THEN skip('the server cannot read the LiteLLM catalog (costopt_test.shared_dir)', 1)
			ELSE lives_ok($$INSERT INTO load_out SELECT 'real', * FROM costopt_load_pricing((SELECT doc FROM real_catalog), '2026-01-01')$$,
						  'load_pricing: the pinned LiteLLM catalog loads without an error')
	   END;
SELECT CASE WHEN (SELECT doc FROM real_catalog) IS NULL
			THEN skip('the server cannot read the LiteLLM catalog', 1)
			ELSE cmp_ok((SELECT inserted FROM load_out WHERE tag = 'real'), '>', 2000,
						'load_pricing: more than 2000 models inserted from the LiteLLM catalog')
	   END;
SELECT CASE WHEN (SELECT doc FROM real_catalog) IS NULL
			THEN skip('the server cannot read the LiteLLM catalog', 1)
			ELSE results_eq(
				$$SELECT provider, input_price, output_price, long_context_threshold, long_context_input_price,
						 long_context_output_price, cache_write_price
					FROM costopt.model_pricing WHERE model_name = 'claude-sonnet-4-20250514'$$,
				$$VALUES ('anthropic'::text, 3::numeric, 15::numeric, 200000, 6::numeric, 22.5::numeric, 3.75::numeric)$$,
				'load_pricing: claude-sonnet-4-20250514 has its 200k tier at 6 / 22.50 per million')
	   END;
-- 250000*6 + 1000*22.5 -> 1.5225
SELECT CASE WHEN (SELECT doc FROM real_catalog) IS NULL
			THEN skip('the server cannot read the LiteLLM catalog', 1)
			ELSE is((SELECT total_cost FROM costopt_request_cost('claude-sonnet-4-20250514', 250000, 1000,
																 provider => 'anthropic', at => '2026-02-01')),
					1.5225::numeric, 'a long-context call on the imported claude-sonnet-4-20250514 costs 1.5225')
	   END;
SELECT CASE WHEN (SELECT doc FROM real_catalog) IS NULL
			THEN skip('the server cannot read the LiteLLM catalog', 1)
			ELSE results_eq(
				$$SELECT input_price, output_price, long_context_threshold, long_context_input_price, quality_score
					FROM costopt.model_pricing
				   WHERE provider = 'google' AND model_name = 'gemini-2.5-pro' AND effective_from = '2026-01-01'$$,
				$$VALUES (1.25::numeric, 10::numeric, 200000, 2.5::numeric, 0.91::numeric)$$,
				'load_pricing: gemini/gemini-2.5-pro becomes a new google gemini-2.5-pro version that keeps the seed quality score')
	   END;


-- rows that arrive already costed: kept for the table's owner (restores,
-- migrations of billed history), recomputed for anyone else
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens,
									input_cost, output_cost, total_cost, pricing_id, cost_status)
VALUES ('2025-03-01', 'own-1', 'openai', 'gpt-4o', 1000, 200, 1, 2, 3,
		(SELECT id FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 'priced'),
	   ('2025-03-01', 'own-2', NULL, 'own-unknown', 1000, 200, NULL, NULL, NULL, NULL, 'unpriced'),
	   ('2025-03-01', 'own-3', 'openai', 'gpt-4o', 1000, 200, 1, 2, NULL, NULL, 'priced');
SELECT results_eq($$SELECT organization_id, total_cost, cost_status FROM costopt.api_usage_logs
					 WHERE organization_id LIKE 'own-%' ORDER BY organization_id$$,
				  $$VALUES ('own-1'::text, 3::numeric, 'priced'::text), ('own-2', NULL, 'unpriced'),
						   ('own-3', 0.0045, 'priced')$$,
				  'the owner''s consistently costed rows are kept; an inconsistent one is priced');
CREATE ROLE tap_gateway;
GRANT costopt_writer TO tap_gateway;
INSERT INTO costopt.organization_members (member, organization_id, access) VALUES ('tap_gateway', 'gw-1', 'writer');
SET ROLE tap_gateway;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens,
									input_cost, output_cost, total_cost, pricing_id, cost_status)
VALUES ('2025-03-01', 'gw-1', 'openai', 'gpt-4o', 1000, 200, 0, 0, 0,
		(SELECT id FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 'priced');
RESET ROLE;
SELECT is((SELECT total_cost FROM costopt.api_usage_logs WHERE organization_id = 'gw-1'), 0.0045::numeric,
		  'a non-owner''s ready-made costs are recomputed');

-- an owner that is not a superuser keeps supplied costs only when it asks
CREATE ROLE tap_owner;
CREATE TABLE public.tap_owned (LIKE costopt.api_usage_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY);
SELECT costopt_attach_costing('public.tap_owned');
ALTER TABLE public.tap_owned OWNER TO tap_owner;
GRANT USAGE ON SCHEMA costopt TO tap_owner;
GRANT SELECT ON costopt.model_pricing, costopt.model_aliases TO tap_owner;
SET ROLE tap_owner;
INSERT INTO public.tap_owned (created_at, organization_id, provider, model, input_tokens, output_tokens,
							  input_cost, output_cost, total_cost, pricing_id, cost_status)
VALUES ('2025-03-01', 'owned-a', 'openai', 'gpt-4o', 1000, 200, 1, 2, 3,
		(SELECT id FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 'priced');
SET costopt.keep_supplied_costs = on;
INSERT INTO public.tap_owned (created_at, organization_id, provider, model, input_tokens, output_tokens,
							  input_cost, output_cost, total_cost, pricing_id, cost_status)
VALUES ('2025-03-01', 'owned-b', 'openai', 'gpt-4o', 1000, 200, 1, 2, 3,
		(SELECT id FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 'priced');
RESET costopt.keep_supplied_costs;
RESET ROLE;
SELECT results_eq($$SELECT organization_id, total_cost FROM public.tap_owned ORDER BY organization_id$$,
				  $$VALUES ('owned-a'::text, 0.0045::numeric), ('owned-b', 3)$$,
				  'a non-superuser owner''s supplied costs are kept only with costopt.keep_supplied_costs on');
SELECT throws_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens,
					 input_cost, output_cost, total_cost, cost_status, reasoning_tokens)
				   VALUES ('own-x', 'gpt-4o', 10, 10, 1, 1, 2, 'priced', 11)$$,
				 '22023', NULL, 'supplied costs do not skip the token checks');

-- costopt_load_pricing leaves seed versions alone
SELECT is((SELECT skipped FROM costopt_load_pricing(
			  '{"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 9e-06, "output_cost_per_token": 9e-06}}',
			  '-infinity')), 1, 'a load that would overwrite a seed version is skipped');
SELECT is((SELECT input_price FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 2.50::numeric,
		  'the seed version keeps its price');
SELECT is((SELECT context_window FROM costopt.model_pricing WHERE model_name = 'gpt-4o' AND provider = 'openai' AND source = 'seed'), 128000,
		  'an import without limits does not blank them');

SELECT * FROM finish();
ROLLBACK;
