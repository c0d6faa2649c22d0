-- costopt_ingest on realistic provider payloads: token normalisation to
-- costopt's convention (input_tokens = whole prompt incl. cache reads and
-- writes; output_tokens incl. reasoning), the resulting costs, error
-- responses, estimates when there is no usage block, and the metadata
-- columns.
--
-- Run by pg_prove in a database where pgtap and costopt are installed.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(45);

-- tag -> id of the row costopt_ingest returned (and the request sent)
CREATE TEMP TABLE ingested (tag text PRIMARY KEY, row_id bigint, request jsonb, returned costopt.api_usage_logs);
CREATE FUNCTION pg_temp.row_of(t text) RETURNS SETOF costopt.api_usage_logs
LANGUAGE sql STABLE AS $$
	SELECT u.* FROM costopt.api_usage_logs u JOIN ingested i ON i.row_id = u.id WHERE i.tag = t
$$;
CREATE FUNCTION pg_temp.pid(p text, m text) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT id FROM costopt.model_pricing
	 WHERE provider = p AND model_name = m AND effective_to IS NULL
	 ORDER BY effective_from DESC LIMIT 1
$$;

-------------------------------------------------------------------------------
-- OpenAI chat completion with cached prompt tokens and reasoning tokens
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, request)
VALUES ('openai-chat', '{"model": "gpt-4o", "messages": [{"role": "system", "content": "You are terse."},
						{"role": "user", "content": "Summarise the report."}], "temperature": 0.2}');
UPDATE ingested i SET row_id = r.id, returned = r
  FROM costopt_ingest(
		'openai',
		$json${
			"id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1740787200,
			"model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_50cad350e4",
			"choices": [{"index": 0, "message": {"role": "assistant", "content": "The report says...", "refusal": null},
						 "logprobs": null, "finish_reason": "stop"}],
			"usage": {"prompt_tokens": 2000, "completion_tokens": 500, "total_tokens": 2500,
					  "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
					  "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0,
													"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
		}$json$,
		'acme', user_id => 'user-17', tags => '{"feature": "summarise", "team": "core"}', project => 'reports',
		request => (SELECT request FROM ingested WHERE tag = 'openai-chat'), latency_ms => 812,
		created_at => '2025-03-01 12:00:00') r
 WHERE i.tag = 'openai-chat';

SELECT results_eq(
	$$SELECT provider, model, operation, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
			 reasoning_tokens, status, error_message FROM pg_temp.row_of('openai-chat')$$,
	$$VALUES ('openai'::text, 'gpt-4o-2024-08-06'::text, 'chat'::text, 2000, 500, 1024, 0, 128, 'success'::text, NULL::text)$$,
	'OpenAI chat: prompt_tokens, completion_tokens, cached_tokens and reasoning_tokens land in their columns');
-- (2000-1024)*2.50 + 1024*1.25 = 2440 + 1280 = 3720 -> 0.00372; 500*10 -> 0.005 (reasoning is inside the 500)
SELECT results_eq(
	$$SELECT input_cost, output_cost, total_cost, cost_status, pricing_id FROM pg_temp.row_of('openai-chat')$$,
	$$VALUES (0.00372::numeric, 0.005::numeric, 0.00872::numeric, 'priced'::text, pg_temp.pid('openai', 'gpt-4o'))$$,
	'OpenAI chat: cost 0.00872 with cached tokens at the cache price and reasoning not billed twice');
SELECT is((SELECT request_hash FROM pg_temp.row_of('openai-chat')),
		  (SELECT md5(request::text) FROM ingested WHERE tag = 'openai-chat'),
		  'request_hash is md5 of the request JSON text');
SELECT results_eq(
	$$SELECT organization_id, user_id, project, tags, latency_ms, created_at FROM pg_temp.row_of('openai-chat')$$,
	$$VALUES ('acme'::text, 'user-17'::text, 'reports'::text, '{"feature": "summarise", "team": "core"}'::jsonb, 812,
			  '2025-03-01 12:00:00+00'::timestamptz)$$,
	'organization, user, project, tags, latency and created_at are stored as passed');
SELECT is((SELECT (returned).total_cost FROM ingested WHERE tag = 'openai-chat'),
		  (SELECT total_cost FROM pg_temp.row_of('openai-chat')),
		  'costopt_ingest returns the stored, priced row');

-------------------------------------------------------------------------------
-- OpenAI Responses API
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'openai-responses', r.id
  FROM costopt_ingest(
		'openai',
		$json${
			"id": "resp_67ccd2bed1ec8190", "object": "response", "created_at": 1741476542, "status": "completed",
			"model": "o1-2024-12-17",
			"output": [{"type": "reasoning", "id": "rs_1", "summary": []},
					   {"type": "message", "id": "msg_1", "role": "assistant",
						"content": [{"type": "output_text", "text": "Done.", "annotations": []}]}],
			"usage": {"input_tokens": 3000, "input_tokens_details": {"cached_tokens": 1000},
					  "output_tokens": 2000, "output_tokens_details": {"reasoning_tokens": 1500},
					  "total_tokens": 5000}
		}$json$,
		'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT model, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens FROM pg_temp.row_of('openai-responses')$$,
	$$VALUES ('o1-2024-12-17'::text, 3000, 2000, 1000, 1500)$$,
	'Responses API: input_tokens, output_tokens and their details are read');
-- 2000*15 + 1000*7.50 = 37500 -> 0.0375; 2000*60 -> 0.12
SELECT results_eq(
	$$SELECT input_cost, output_cost, total_cost, pricing_id FROM pg_temp.row_of('openai-responses')$$,
	$$VALUES (0.0375::numeric, 0.12::numeric, 0.1575::numeric, pg_temp.pid('openai', 'o1'))$$,
	'Responses API: o1 call costs 0.1575 (dated name resolved to o1)');

INSERT INTO ingested (tag, row_id)
SELECT 'openai-responses-plain', r.id
  FROM costopt_ingest('openai',
		'{"id": "resp_2", "object": "response", "model": "gpt-4o-mini",
		  "usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150}}',
		'acme', created_at => '2025-03-01') r;
-- 100*0.15 + 50*0.60 = 45 -> 0.000045
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, total_cost FROM pg_temp.row_of('openai-responses-plain')$$,
	$$VALUES (100, 50, 0, 0, 0.000045::numeric)$$,
	'Responses API without details: plain counts, nothing cached');

-------------------------------------------------------------------------------
-- OpenAI embeddings
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'openai-embedding', r.id
  FROM costopt_ingest(
		'openai',
		'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093]}],
		  "model": "text-embedding-3-small", "usage": {"prompt_tokens": 5000, "total_tokens": 5000}}',
		'acme', created_at => '2025-03-01') r;
-- 5000*0.02 -> 0.0001
SELECT results_eq(
	$$SELECT operation, input_tokens, output_tokens, total_cost, cost_status FROM pg_temp.row_of('openai-embedding')$$,
	$$VALUES ('embedding'::text, 5000, 0, 0.0001::numeric, 'priced'::text)$$,
	'OpenAI embeddings: operation embedding, prompt tokens only, 0.0001');

-------------------------------------------------------------------------------
-- Anthropic Messages with prompt caching
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'anthropic-cache', r.id
  FROM costopt_ingest(
		' Anthropic ',
		$json${
			"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
			"model": "claude-3-5-sonnet-20241022",
			"content": [{"type": "text", "text": "Hello!"}],
			"stop_reason": "end_turn", "stop_sequence": null,
			"usage": {"input_tokens": 100, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 3000,
					  "output_tokens": 400}
		}$json$,
		'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT provider, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens FROM pg_temp.row_of('anthropic-cache')$$,
	$$VALUES ('anthropic'::text, 5100, 3000, 2000, 400)$$,
	'Anthropic: input_tokens stored = input + cache creation + cache read (5100); provider trimmed and lower-cased');
-- 100*3 + 3000*0.30 + 2000*3.75 = 300 + 900 + 7500 -> 0.0087; 400*15 -> 0.006
SELECT results_eq(
	$$SELECT input_cost, output_cost, total_cost, pricing_id FROM pg_temp.row_of('anthropic-cache')$$,
	$$VALUES (0.0087::numeric, 0.006::numeric, 0.0147::numeric, pg_temp.pid('anthropic', 'claude-3-5-sonnet'))$$,
	'Anthropic: cost 0.0147 (uncached at input, reads at cache-read, writes at cache-write price)');

INSERT INTO ingested (tag, row_id)
SELECT 'anthropic-plain', r.id
  FROM costopt_ingest('anthropic',
		'{"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
		  "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
		  "usage": {"input_tokens": 1000, "output_tokens": 100}}',
		'acme', created_at => '2025-03-01') r;
-- 1000*1 + 100*5 -> 0.0015
SELECT results_eq(
	$$SELECT input_tokens, cached_input_tokens, cache_write_tokens, total_cost FROM pg_temp.row_of('anthropic-plain')$$,
	$$VALUES (1000, 0, 0, 0.0015::numeric)$$,
	'Anthropic without caching: 1000 in / 100 out = 0.0015');

-- Anthropic shape recognised from the cache counters even when type is absent
INSERT INTO ingested (tag, row_id)
SELECT 'anthropic-untyped', r.id
  FROM costopt_ingest('gateway',
		'{"model": "claude-3-5-haiku", "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 5}}',
		'acme', created_at => '2025-03-01') r;
-- 10*0.80 + 90*0.08 = 8 + 7.2 -> 0.0000152; 5*4 -> 0.00002
SELECT results_eq(
	$$SELECT input_tokens, cached_input_tokens, total_cost FROM pg_temp.row_of('anthropic-untyped')$$,
	$$VALUES (100, 90, 0.0000352::numeric)$$,
	'Anthropic counters without "type": cache reads are added to the prompt');

-------------------------------------------------------------------------------
-- Gemini usageMetadata with cached content and thinking tokens
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'gemini-thinking', r.id
  FROM costopt_ingest(
		'google',
		$json${
			"candidates": [{"content": {"parts": [{"text": "Paris."}], "role": "model"},
							"finishReason": "STOP", "index": 0}],
			"usageMetadata": {"promptTokenCount": 10000, "candidatesTokenCount": 300,
							  "cachedContentTokenCount": 4000, "thoughtsTokenCount": 700,
							  "totalTokenCount": 11000,
							  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10000}]},
			"modelVersion": "gemini-2.5-flash", "responseId": "abc123"
		}$json$,
		'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens FROM pg_temp.row_of('gemini-thinking')$$,
	$$VALUES ('gemini-2.5-flash'::text, 10000, 4000, 1000, 700)$$,
	'Gemini: model from modelVersion; thoughtsTokenCount added to output (300 + 700) and kept as reasoning');
-- 6000*0.30 + 4000*0.03 = 1800 + 120 -> 0.00192; 1000*2.50 -> 0.0025
SELECT results_eq(
	$$SELECT input_cost, output_cost, total_cost FROM pg_temp.row_of('gemini-thinking')$$,
	$$VALUES (0.00192::numeric, 0.0025::numeric, 0.00442::numeric)$$,
	'Gemini: cost 0.00442 with cached content at the cache price and thoughts billed as output');

INSERT INTO ingested (tag, row_id)
SELECT 'gemini-plain', r.id
  FROM costopt_ingest('google',
		'{"candidates": [{"content": {"parts": [{"text": "ok"}], "role": "model"}}],
		  "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 500, "totalTokenCount": 1500},
		  "modelVersion": "gemini-2.0-flash"}',
		'acme', created_at => '2025-03-01') r;
-- 1000*0.10 + 500*0.40 -> 0.0003
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, reasoning_tokens, total_cost FROM pg_temp.row_of('gemini-plain')$$,
	$$VALUES (1000, 500, 0, 0.0003::numeric)$$,
	'Gemini without thoughts or cache: 0.0003');

-------------------------------------------------------------------------------
-- Reasoning reported outside the completion count (xAI style)
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'reasoning-outside', r.id
  FROM costopt_ingest('xai',
		'{"model": "o1", "usage": {"prompt_tokens": 100, "completion_tokens": 50,
								   "completion_tokens_details": {"reasoning_tokens": 200}}}',
		'acme', created_at => '2025-03-01') r;
-- output 50 + 200 = 250: 100*15 + 250*60 -> 0.0165
SELECT results_eq(
	$$SELECT output_tokens, reasoning_tokens, total_cost FROM pg_temp.row_of('reasoning-outside')$$,
	$$VALUES (250, 200, 0.0165::numeric)$$,
	'reasoning tokens above the completion count are added to it');

-------------------------------------------------------------------------------
-- Error responses
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'openai-error', r.id
  FROM costopt_ingest('openai',
		'{"error": {"message": "Rate limit reached for gpt-4o in organization org-x on tokens per min.",
					"type": "tokens", "param": null, "code": "rate_limit_exceeded"}}',
		'acme', model => 'gpt-4o', latency_ms => 35, created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT status, error_message, model, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, latency_ms
		FROM pg_temp.row_of('openai-error')$$,
	$$VALUES ('error'::text, 'Rate limit reached for gpt-4o in organization org-x on tokens per min.'::text,
			  'gpt-4o'::text, 0, 0, 0, 0, 35)$$,
	'OpenAI error response: status error, zero tokens, error_message from error.message');
SELECT results_eq(
	$$SELECT total_cost, cost_status FROM pg_temp.row_of('openai-error')$$,
	$$VALUES (0::numeric, 'priced'::text)$$,
	'an error response costs nothing');

INSERT INTO ingested (tag, row_id)
SELECT 'anthropic-error', r.id
  FROM costopt_ingest('anthropic',
		'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
		'acme', model => 'claude-3-5-haiku', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT status, error_message, input_tokens, output_tokens FROM pg_temp.row_of('anthropic-error')$$,
	$$VALUES ('error'::text, 'Overloaded'::text, 0, 0)$$,
	'Anthropic error response: status error, message Overloaded');

INSERT INTO ingested (tag, row_id)
SELECT 'string-error', r.id
  FROM costopt_ingest('gateway', '{"model": "gpt-4o", "error": "upstream timed out"}', 'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT status, error_message FROM pg_temp.row_of('string-error')$$,
	$$VALUES ('error'::text, 'upstream timed out'::text)$$,
	'an error given as a plain string is stored as the message');

INSERT INTO ingested (tag, row_id)
SELECT 'null-error', r.id
  FROM costopt_ingest('openai',
		'{"model": "gpt-4o", "error": null, "usage": {"prompt_tokens": 10, "completion_tokens": 1}}',
		'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT status, error_message, input_tokens FROM pg_temp.row_of('null-error')$$,
	$$VALUES ('success'::text, NULL::text, 10)$$,
	'"error": null is not an error');

-------------------------------------------------------------------------------
-- No usage block: estimated from the text (about 4 characters per token)
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, request)
VALUES ('estimate', '{"model": "gpt-4o", "messages": [{"role": "user", "content": "0123456789abcdef"}]}');
UPDATE ingested i SET row_id = r.id
  FROM costopt_ingest('openai',
		'{"id": "chatcmpl-stream", "object": "chat.completion", "model": "gpt-4o",
		  "choices": [{"index": 0, "message": {"role": "assistant", "content": "abcdefghijklmnopqrstuvwx"}}]}',
		'acme', request => (SELECT request FROM ingested WHERE tag = 'estimate'), created_at => '2025-03-01') r
 WHERE i.tag = 'estimate';
-- request text "user 0123456789abcdef" = 21 chars -> ceil(21/4) = 6
-- response text "assistant abcdefghijklmnopqrstuvwx" = 34 chars -> ceil(34/4) = 9
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, cost_status FROM pg_temp.row_of('estimate')$$,
	$$VALUES (6, 9, 'estimated'::text)$$,
	'no usage: tokens estimated from request messages and response text, cost_status estimated');
-- 6*2.50 + 9*10 = 105 -> 0.000105
SELECT results_eq(
	$$SELECT input_cost, output_cost, total_cost, pricing_id FROM pg_temp.row_of('estimate')$$,
	$$VALUES (0.000015::numeric, 0.00009::numeric, 0.000105::numeric, pg_temp.pid('openai', 'gpt-4o'))$$,
	'no usage: the estimate is priced like any call');
SELECT is((SELECT request_hash FROM pg_temp.row_of('estimate')),
		  md5('{"model": "gpt-4o", "messages": [{"role": "user", "content": "0123456789abcdef"}]}'::jsonb::text),
		  'no usage: request_hash is md5 of the request');

INSERT INTO ingested (tag, row_id)
SELECT 'estimate-long', r.id
  FROM costopt_ingest('openai',
		jsonb_build_object('model', 'gpt-4o-mini',
						   'choices', jsonb_build_array(jsonb_build_object('index', 0, 'message',
								jsonb_build_object('role', 'assistant', 'content', repeat('y', 1990))))),
		'acme',
		request => jsonb_build_object('model', 'gpt-4o-mini', 'messages',
									  jsonb_build_array(jsonb_build_object('role', 'user', 'content', repeat('x', 3995)))),
		created_at => '2025-03-01') r;
-- "user " + 3995 chars = 4000 -> 1000 tokens; "assistant " + 1990 = 2000 -> 500 tokens
-- 1000*0.15 + 500*0.60 = 450 -> 0.00045
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, total_cost, cost_status FROM pg_temp.row_of('estimate-long')$$,
	$$VALUES (1000, 500, 0.00045::numeric, 'estimated'::text)$$,
	'no usage: 4000 characters of prompt estimate 1000 tokens, 2000 of answer 500');

INSERT INTO ingested (tag, row_id)
SELECT 'estimate-anthropic', r.id
  FROM costopt_ingest('anthropic',
		'{"id": "msg_3", "type": "message", "role": "assistant", "model": "claude-3-haiku",
		  "content": [{"type": "text", "text": "0123456789012345678901234567"}]}',
		'acme',
		request => '{"model": "claude-3-haiku", "max_tokens": 100, "messages": [{"role": "user", "content": "hello world!"}]}',
		created_at => '2025-03-01') r;
-- request: "user hello world!" = 17 chars -> 5; response content: "text" + " " + 28 chars = 33 -> 9
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, cost_status FROM pg_temp.row_of('estimate-anthropic')$$,
	$$VALUES (5, 9, 'estimated'::text)$$,
	'no usage (Anthropic shape): estimate from messages and content blocks');

INSERT INTO ingested (tag, row_id)
SELECT 'estimate-no-request', r.id
  FROM costopt_ingest('openai',
		'{"model": "gpt-4o", "choices": [{"message": {"role": "assistant", "content": "abc"}}]}',
		'acme', created_at => '2025-03-01') r;
-- no request: 0 input tokens; "assistant abc" = 13 chars -> 4
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, cost_status, request_hash FROM pg_temp.row_of('estimate-no-request')$$,
	$$VALUES (0, 4, 'estimated'::text, NULL::text)$$,
	'no usage and no request: zero input tokens, no request_hash');

-- an estimated call of a model that has no price yet: once a price exists and
-- the row is re-priced (total_cost set to NULL, as costopt_recost does), it
-- must still say its token counts are estimates
INSERT INTO ingested (tag, row_id)
SELECT 'estimate-late-price', r.id
  FROM costopt_ingest('tapco',
		'{"model": "tap-est-late", "choices": [{"message": {"role": "assistant", "content": "abcd"}}]}',
		'acme', request => '{"messages": [{"role": "user", "content": "0123456789ab"}]}', created_at => '2025-03-01') r;
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapco', 'tap-est-late', 1, 1, '-infinity');
UPDATE costopt.api_usage_logs SET total_cost = NULL WHERE id = (SELECT row_id FROM ingested WHERE tag = 'estimate-late-price');
-- "user 0123456789ab" = 17 chars -> 5; "assistant abcd" = 14 chars -> 4; (5 + 4) * 1 -> 0.000009
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, total_cost, cost_status FROM pg_temp.row_of('estimate-late-price')$$,
	$$VALUES (5, 4, 0.000009::numeric, 'estimated'::text)$$,
	'an estimated call priced after its model got a price keeps cost_status estimated');

-------------------------------------------------------------------------------
-- Model, provider and metadata handling
-------------------------------------------------------------------------------
INSERT INTO ingested (tag, row_id)
SELECT 'model-arg', r.id
  FROM costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}}',
					  'acme', model => 'gpt-4o-mini', created_at => '2025-03-01') r;
-- priced as gpt-4o-mini: 1000*0.15 + 1000*0.60 -> 0.00075
SELECT results_eq(
	$$SELECT model, total_cost FROM pg_temp.row_of('model-arg')$$,
	$$VALUES ('gpt-4o-mini'::text, 0.00075::numeric)$$,
	'the model argument wins over the response''s model');

INSERT INTO ingested (tag, row_id)
SELECT 'model-from-request', r.id
  FROM costopt_ingest('openai', '{"usage": {"prompt_tokens": 1000, "completion_tokens": 0}}', 'acme',
					  request => '{"model": "gpt-4"}', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT model, total_cost FROM pg_temp.row_of('model-from-request')$$,
	$$VALUES ('gpt-4'::text, 0.03::numeric)$$,
	'without a model in the response the request''s model is used (gpt-4: 1000*30 -> 0.03)');

INSERT INTO ingested (tag, row_id)
SELECT 'unknown-model', r.id
  FROM costopt_ingest('tapco', '{"model": "tap-ingest-unknown", "usage": {"prompt_tokens": 10, "completion_tokens": 10}}',
					  'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT provider, model, input_tokens, total_cost, cost_status FROM pg_temp.row_of('unknown-model')$$,
	$$VALUES ('tapco'::text, 'tap-ingest-unknown'::text, 10, NULL::numeric, 'unpriced'::text)$$,
	'a call of an unknown model is stored unpriced');

INSERT INTO ingested (tag, row_id)
SELECT 'defaults', r.id
  FROM costopt_ingest('', '{"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}', 'acme-2') r;
SELECT results_eq(
	$$SELECT organization_id, provider, user_id, project, tags, latency_ms, request_hash, is_batch
		FROM pg_temp.row_of('defaults')$$,
	$$VALUES ('acme-2'::text, NULL::text, NULL::text, NULL::text, '{}'::jsonb, NULL::integer, NULL::text, false)$$,
	'defaults: empty provider stored as NULL, empty tags, no project, user, latency or hash');
SELECT is((SELECT created_at FROM pg_temp.row_of('defaults')), now(),
		  'created_at defaults to the current time');
SELECT is((SELECT total_cost FROM pg_temp.row_of('defaults')), 0.0000125::numeric,
		  'a row without provider is priced by model name (gpt-4o 1*2.50 + 1*10)');

-- the same request twice gives the same hash; a different one a different hash
INSERT INTO ingested (tag, row_id)
SELECT 'hash-a', r.id
  FROM costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 1}}', 'acme',
					  request => '{"messages": [{"role": "user", "content": "same"}], "model": "gpt-4o"}') r;
INSERT INTO ingested (tag, row_id)
SELECT 'hash-b', r.id
  FROM costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 2, "completion_tokens": 1}}', 'acme',
					  request => '{"model": "gpt-4o", "messages": [{"content": "same", "role": "user"}]}') r;
INSERT INTO ingested (tag, row_id)
SELECT 'hash-c', r.id
  FROM costopt_ingest('openai', '{"model": "gpt-4o", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}', 'acme',
					  request => '{"model": "gpt-4o", "messages": [{"content": "different", "role": "user"}]}') r;
SELECT is((SELECT request_hash FROM pg_temp.row_of('hash-a')), (SELECT request_hash FROM pg_temp.row_of('hash-b')),
		  'request_hash does not depend on key order (jsonb normalises it)');
SELECT isnt((SELECT request_hash FROM pg_temp.row_of('hash-a')), (SELECT request_hash FROM pg_temp.row_of('hash-c')),
			'different requests hash differently');
SELECT is((SELECT request_hash FROM pg_temp.row_of('hash-c')),
		  md5('{"model": "gpt-4o", "messages": [{"role": "user", "content": "different"}]}'),
		  'request_hash is md5 of jsonb''s canonical text');

-- nested and numeric JSON forms
INSERT INTO ingested (tag, row_id)
SELECT 'numeric-forms', r.id
  FROM costopt_ingest('openai',
		'{"model": "gpt-4o", "usage": {"prompt_tokens": 1e3, "completion_tokens": 200.0,
									   "prompt_tokens_details": null, "completion_tokens_details": null}}',
		'acme', created_at => '2025-03-01') r;
SELECT results_eq(
	$$SELECT input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, total_cost FROM pg_temp.row_of('numeric-forms')$$,
	$$VALUES (1000, 200, 0, 0, 0.0045::numeric)$$,
	'whole numbers written as 1e3 or 200.0 are accepted; null detail blocks count as zero');

-------------------------------------------------------------------------------
-- Ingested rows agree with costopt.price_call, and every call is one row
-------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM costopt.api_usage_logs u JOIN ingested i ON i.row_id = u.id,
				  LATERAL costopt.price_call(u.provider, u.model, u.created_at, u.input_tokens, u.output_tokens,
											 u.cached_input_tokens, u.cache_write_tokens, u.is_batch) pc
			WHERE (u.input_cost, u.output_cost, u.total_cost, u.pricing_id)
				  IS DISTINCT FROM (pc.input_cost, pc.output_cost, pc.total_cost, pc.pricing_id)),
		  0::bigint, 'every ingested row costs what costopt.price_call says');
SELECT is((SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id IN ('acme', 'acme-2')),
		  (SELECT count(*) FROM ingested),
		  'each costopt_ingest call stored exactly one row');
SELECT is((SELECT count(*) FROM ingested WHERE row_id IS NULL), 0::bigint,
		  'every costopt_ingest call returned its row');
SELECT is((SELECT count(DISTINCT row_id) FROM ingested), (SELECT count(*) FROM ingested),
		  'every call returned a different row');
SELECT is((SELECT sum(total_cost) FROM costopt.api_usage_logs WHERE organization_id = 'acme' AND project = 'reports'),
		  0.00872::numeric, 'project is filterable: the one reports call costs 0.00872');
SELECT is((SELECT count(*) FROM costopt.api_usage_logs WHERE tags @> '{"team": "core"}'), 1::bigint,
		  'tags are queryable with jsonb containment');

SELECT * FROM finish();
ROLLBACK;
