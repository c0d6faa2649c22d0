-- Fuzzing harness for costopt (test/t/005_fuzz.t, bench/fuzz/run.sh).
--
-- Load into a database where costopt is installed:  psql -f bench/fuzz/fuzz.sql
-- Everything lives in schema "fuzz".
--
-- Cases.  fuzz.gen(target, seed, case_no) returns one case: an SQL
-- statement that returns one text column (NULL when the result passes its
-- checks, else the name of the check that failed), and a tag naming a
-- known bug when the input is one that triggers it.  Before building a
-- case, fuzz.gen seeds random() from (target, seed, case_no), and the case's
-- SQL may call random() itself (never in parallel workers: random() is
-- parallel restricted), so every case can be rebuilt on its own:
--
--     SET fuzz.avoid = 'K5,K6';                        -- as the scripts do
--     SELECT * FROM fuzz.gen('cost', 1, 417);          -- the SQL
--     SELECT fuzz.run('cost', 1, 417, 417, true);      -- run it again
--
-- fuzz.run(target, seed, from, to, trace) runs cases from..to, each in its
-- own subtransaction (PL/pgSQL BEGIN ... EXCEPTION), and records one row
-- per case in fuzz.outcome: the SQLSTATE and message of an error, or the
-- failed check.  With trace, a NOTICE "fuzzcase target/seed/no" precedes
-- each case, so the case that takes the server down is the last one the
-- client saw.
--
-- Checks are "hard:" (a wrong result: negative or non-finite cost, a row
-- count that disagrees with the input, ...) or "soft:" (an odd but
-- documented-enough result: an infinite z score, NaN forecasts from
-- values near 1e308).  fuzz.report() prints the outcomes per target.
--
-- Targets:
--   ingest_json     costopt_ingest with random, deep, huge and malformed JSON
--   ingest_payload  costopt_ingest with mutated OpenAI, Anthropic and Gemini payloads
--   load_pricing    costopt_load_pricing with random and mutated LiteLLM catalogs,
--                   then costopt.price_call on what was loaded
--   cost            costopt_request_cost, costopt.price_call, costopt_compare_models,
--                   costopt_monthly_projection with numeric extremes
--   aggregates      costopt_stats, costopt_trend, costopt_predict (plain, window,
--                   combined partial states) and their state functions called by hand
--   series          costopt_anomaly_scan, costopt_forecast_series(_total),
--                   costopt.forecast_summary, costopt_forecast, costopt_detect_anomalies
--   crash_selftest  not fuzzing: case 3 crashes its backend, to check that
--                   the scripts notice and locate crashes
--
-- Known bugs (tags; see bench/fuzz/README.md):
--   K1  costopt.price_call accepts cached_tokens + cache_write_tokens beyond
--       the bigint range (the sum wraps) and returns nonsense, even negative, costs
--   K2  costopt_monthly_projection returns NaN / Infinity costs for NaN /
--       Infinity arguments
--   K3  the aggregate state functions raise XX000 for a hand-written state
--       of the wrong shape
--   K4  costopt_anomaly_scan cannot be cancelled and is quadratic on long
--       sub-daily series with the default window (never generated: it hangs)
--   K5  a usage row in the last month of the timestamp range (December
--       294276) makes every later costopt_refresh_rollups() fail (22008)
--   K6  a name containing the byte 0x1f (chr(31)) shifts the rollup and
--       budget delta keys: spend is recorded under the wrong names
--   K7  (assertion builds only) a level of 0.9999999999999999 makes
--       costopt_t_quantile's Assert(p < 1.0) fail (not tagged)
-- With SET fuzz.avoid = 'K5,K6' (what the test and run.sh do) the ingest
-- targets do not generate the inputs of K5 and K6; their own probes in
-- test/t/005_fuzz.t cover them.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS fuzz CASCADE;
CREATE SCHEMA fuzz;

CREATE TABLE fuzz.outcome (
	target     text NOT NULL,
	seed       integer NOT NULL,
	case_no    integer NOT NULL,
	known      text,
	sqlstate   text,			-- NULL: no error
	message    text,
	detail     text,
	violation  text,			-- NULL: checks passed (or error)
	input      text,			-- the case's SQL, cut to 400 characters
	input_len  integer,
	ms         float8,
	PRIMARY KEY (target, seed, case_no)
);

-- SQLSTATE classes a fuzzed call may end in.  Anything else (XX internal
-- error, 2F/38 routine exceptions, 58 system errors, ...) is a failure.
CREATE TABLE fuzz.allowed_class (class text PRIMARY KEY, why text NOT NULL);
INSERT INTO fuzz.allowed_class VALUES
	('22', 'data exception: bad argument, out of range, invalid JSON'),
	('23', 'integrity constraint: CHECK, exclusion, not null'),
	('42', 'undefined object (no price), name too long'),
	('54', 'program limit: stack depth of deep JSON, array size'),
	('53', 'insufficient resources: out of memory on huge input'),
	('0A', 'feature not supported'),
	('09', 'triggered action exception'),
	('55', 'object not in prerequisite state'),
	('P0', 'PL/pgSQL RAISE'),
	('YC', 'costopt: hard budget exceeded');

-------------------------------------------------------------------------------
-- Random helpers (random() is seeded by fuzz.gen)
-------------------------------------------------------------------------------

CREATE FUNCTION fuzz.r(n integer) RETURNS integer
LANGUAGE sql VOLATILE AS $$ SELECT floor(random() * n)::integer $$;

CREATE FUNCTION fuzz.p(prob float8) RETURNS boolean
LANGUAGE sql VOLATILE AS $$ SELECT random() < prob $$;

CREATE FUNCTION fuzz.pick(a anyarray) RETURNS anyelement
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN a[array_lower(a, 1) + floor(random() * cardinality(a))::integer];
END;
$$;

-- A random character that chr() accepts (no NUL, no surrogate).
CREATE FUNCTION fuzz.rchar() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	c integer;
BEGIN
	CASE fuzz.r(4)
	WHEN 0 THEN c := 32 + fuzz.r(95);			-- ASCII
	WHEN 1 THEN c := 1 + fuzz.r(31);			-- control
	WHEN 2 THEN c := 128 + fuzz.r(55000);		-- BMP below the surrogates
	ELSE c := 57344 + fuzz.r(1114111 - 57344);	-- above them, astral planes
	END CASE;
	RETURN chr(c);
END;
$$;

CREATE FUNCTION fuzz.rstring(maxlen integer) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	s text := '';
	n integer := fuzz.r(maxlen + 1);
BEGIN
	FOR i IN 1 .. n LOOP
		s := s || fuzz.rchar();
	END LOOP;
	RETURN s;
END;
$$;

-- Interesting strings: model names, lengths around the 200-character
-- CHECKs and the 272-byte price cache key, multibyte, the cache key
-- separator 0x1f, format and SQL metacharacters.
CREATE FUNCTION fuzz.weird_text() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	CASE fuzz.r(6)
	WHEN 0 THEN
		RETURN fuzz.pick(ARRAY['gpt-4o', 'gpt-4o-2024-08-06', 'GPT-4O ', ' gpt-4o-mini', 'openai/gpt-4o',
							   'o1', 'o1-2024-12-17', 'text-embedding-3-small', 'claude-3-5-sonnet-20241022',
							   'claude-3-haiku', 'anthropic/claude-3-haiku', 'gemini-1.5-flash',
							   'models/gemini-1.5-flash', 'gemini-2.0-flash-001', 'llama-2-13b',
							   'unknown-model', 'nope/nope', '/', 'openai/', '']);
	WHEN 1 THEN
		RETURN repeat(fuzz.pick(ARRAY['x', 'é', '😀', 'ab']),
					  fuzz.pick(ARRAY[1, 63, 64, 65, 100, 135, 136, 137, 199, 200, 201, 270, 1000]));
	WHEN 2 THEN
		RETURN fuzz.pick(ARRAY[chr(31), 'gpt-4o' || chr(31) || 'x', 'openai' || chr(31), ' ', E'\t',
							   E'a\nb', '%s%n%d', '%', '''; DROP TABLE costopt.model_pricing; --',
							   '"', '\', 'NaN', 'Infinity', '-1', '1e400', 'null', 'true', '{}', '[]']);
	WHEN 3 THEN
		RETURN fuzz.rstring(12);
	WHEN 4 THEN
		RETURN repeat('z', fuzz.pick(ARRAY[10000, 100000]));
	ELSE
		RETURN fuzz.pick(ARRAY['acme', 'org-1', 'user-17', 'Ünïcödé', 'ملف', '漢字', 'e' || chr(769)]);
	END CASE;
END;
$$;

-------------------------------------------------------------------------------
-- JSON generators (as text, so invalid JSON can be made too)
-------------------------------------------------------------------------------

-- A JSON number, or something that looks like one.  The malformed ones
-- (NaN, 01, 1., +1, 0x10) make the whole document invalid JSON.
CREATE FUNCTION fuzz.json_number(allow_invalid boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	CASE fuzz.r(6)
	WHEN 0 THEN
		RETURN fuzz.pick(ARRAY['0', '-0', '1', '-1', '0.5', '-0.5', '1.0', '1e2', '1E+2', '2.5e-06', '1e-400',
							   '1e400', '-1e400', '1e308', '-1e308', '1.7976931348623157e308', '4.9e-324',
							   '2147483647', '2147483648', '-2147483648', '2147483647.0', '2147483646.9',
							   '9223372036854775807', '9223372036854775808', '18446744073709551616',
							   '123456789012345678901234567890', '0.0000000000000000000001', '1e100000']);
	WHEN 1 THEN
		RETURN (fuzz.r(2000001) - 1000)::text;
	WHEN 2 THEN
		RETURN round((random() * 10)::numeric, fuzz.r(6))::text || 'e' || (fuzz.r(801) - 400)::text;
	WHEN 3 THEN
		RETURN fuzz.r(100000)::text;
	WHEN 4 THEN
		RETURN fuzz.pick(ARRAY['"123"', '"1e3"', '" 5 "', '"NaN"', '"Infinity"', '"-1"', '""', 'null', 'true',
							   'false', '[]', '{}', '[1]', '{"value": 1}']);
	ELSE
		IF allow_invalid AND fuzz.p(0.3) THEN
			RETURN fuzz.pick(ARRAY['NaN', 'Infinity', '-Infinity', '01', '1.', '.5', '+1', '0x10', '1e', '--1', '1_000']);
		END IF;
		RETURN (fuzz.r(5000))::text;
	END CASE;
END;
$$;

-- A JSON string literal.
CREATE FUNCTION fuzz.json_string(allow_invalid boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.15) THEN
		-- escapes: odd but valid, and (when allowed) ones jsonb refuses:
		-- \u0000 and lone surrogates
		IF allow_invalid AND fuzz.p(0.5) THEN
			RETURN fuzz.pick(ARRAY['"\u0000"', '"a\u0000b"', '"\ud800"', '"\udc00\ud800"']);
		END IF;
		RETURN fuzz.pick(ARRAY['"\ud83d\ude00"', '"\uFFFF"', '"\u001f"', '"\\"', '"\""', '"\/"',
							   '"\b\f\n\r\t"', '"\u00e9"']);
	END IF;
	IF allow_invalid AND fuzz.p(0.05) THEN
		RETURN fuzz.pick(ARRAY['"unterminated', '"bad \x escape"', E'"raw\ncontrol"', '''single''', 'bare']);
	END IF;
	RETURN to_jsonb(fuzz.weird_text())::text;
END;
$$;

-- Object keys: the ones costopt_ingest and costopt_load_pricing look for,
-- so random documents sometimes take the real code paths.
CREATE FUNCTION fuzz.json_key() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.85) THEN
		RETURN fuzz.pick(ARRAY['usage', 'usageMetadata', 'model', 'modelVersion', 'error', 'message', 'type',
							   'object', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'input_tokens',
							   'output_tokens', 'cached_tokens', 'reasoning_tokens', 'prompt_tokens_details',
							   'completion_tokens_details', 'input_tokens_details', 'output_tokens_details',
							   'cache_read_input_tokens', 'cache_creation_input_tokens', 'promptTokenCount',
							   'candidatesTokenCount', 'cachedContentTokenCount', 'thoughtsTokenCount',
							   'choices', 'content', 'output', 'candidates', 'text', 'messages', 'input',
							   'contents', 'prompt', 'litellm_provider', 'input_cost_per_token',
							   'output_cost_per_token', 'mode', 'max_input_tokens', 'max_tokens', '', 'x']);
	END IF;
	RETURN fuzz.weird_text();
END;
$$;

-- A random JSON value as text.
CREATE FUNCTION fuzz.json_value(depth integer DEFAULT 0, allow_invalid boolean DEFAULT true) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	parts text[] := '{}';
	n integer;
	kind integer := fuzz.r(CASE WHEN depth >= 4 THEN 4 ELSE 7 END);
BEGIN
	CASE kind
	WHEN 0 THEN RETURN fuzz.json_number(allow_invalid);
	WHEN 1 THEN RETURN fuzz.json_string(allow_invalid);
	WHEN 2 THEN RETURN fuzz.pick(ARRAY['null', 'true', 'false']);
	WHEN 3 THEN RETURN fuzz.json_number(allow_invalid);
	WHEN 4 THEN
		n := fuzz.r(5);
		FOR i IN 1 .. n LOOP
			parts := parts || fuzz.json_value(depth + 1, allow_invalid);
		END LOOP;
		RETURN '[' || array_to_string(parts, ', ') || ']';
	ELSE
		n := fuzz.r(6);
		FOR i IN 1 .. n LOOP
			parts := parts || (to_jsonb(fuzz.json_key())::text || ': ' || fuzz.json_value(depth + 1, allow_invalid));
		END LOOP;
		RETURN '{' || array_to_string(parts, ', ') || '}';
	END CASE;
END;
$$;

-- Deeply nested JSON (the parser checks the stack depth: 54001).
CREATE FUNCTION fuzz.json_deep() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n integer := fuzz.pick(ARRAY[10, 100, 1000, 5000, 20000, 200000]);
BEGIN
	CASE fuzz.r(4)
	WHEN 0 THEN RETURN repeat('[', n) || repeat(']', n);
	WHEN 1 THEN RETURN repeat('{"a": ', n) || '1' || repeat('}', n);
	WHEN 2 THEN RETURN '{"model": "gpt-4o", "usage": ' || repeat('{"prompt_tokens": ', n) || '1' || repeat('}', n) || '}';
	ELSE RETURN '{"model": "gpt-4o", "choices": ' || repeat('[', n) || '"text"' || repeat(']', n) || '}';
	END CASE;
END;
$$;

-- Text-level damage: truncation, deleted / inserted / replaced characters.
CREATE FUNCTION fuzz.mutate_text(s text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	pos integer;
	len integer;
BEGIN
	FOR i IN 1 .. 1 + fuzz.r(3) LOOP
		len := length(s);
		pos := 1 + fuzz.r(greatest(len, 1));
		CASE fuzz.r(7)
		WHEN 0 THEN s := left(s, pos - 1);
		WHEN 1 THEN s := overlay(s PLACING '' FROM pos FOR 1);
		WHEN 2 THEN s := overlay(s PLACING fuzz.pick(ARRAY['{', '}', '[', ']', ',', ':', '"', '\', ' ', '0', 'e', '-', '.', '+', 'n'])
								 FROM pos FOR 0);
		WHEN 3 THEN s := overlay(s PLACING fuzz.rchar() FROM pos FOR 1);
		WHEN 4 THEN s := s || fuzz.pick(ARRAY[',', '}', ']', ' garbage', '{', '"', ', "x": ']);
		WHEN 5 THEN s := replace(s, fuzz.pick(ARRAY['"', ':', ',', '}']), fuzz.pick(ARRAY['', '''', '=', ';', ']']));
		ELSE s := substr(s, pos) || substr(s, 1, pos - 1);
		END CASE;
	END LOOP;
	RETURN s;
END;
$$;

-------------------------------------------------------------------------------
-- Structured mutation of real documents
-------------------------------------------------------------------------------

-- Every path in a document, as JSON arrays of keys / indexes (text).
CREATE FUNCTION fuzz.paths(doc jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	WITH RECURSIVE p(path, v) AS (
		SELECT ARRAY[]::text[], doc
		UNION ALL
		SELECT p.path || c.k, c.v
		  FROM p, LATERAL (
				SELECT e.key AS k, e.value AS v
				  FROM jsonb_each(CASE WHEN jsonb_typeof(p.v) = 'object' THEN p.v END) e
				UNION ALL
				SELECT (a.ord - 1)::text, a.value
				  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.v) = 'array' THEN p.v END)
					   WITH ORDINALITY a(value, ord)) c
	)
	SELECT coalesce(array_agg(to_jsonb(path)::text ORDER BY to_jsonb(path)::text), '{}')
	  FROM p WHERE cardinality(path) > 0
$$;

CREATE FUNCTION fuzz.path_of(p text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$ SELECT array(SELECT jsonb_array_elements_text(p::jsonb)) $$;

-- Damage a document structurally: remove, replace, add and rename fields.
CREATE FUNCTION fuzz.mutate_json(doc jsonb, max_ops integer DEFAULT 3) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	all_paths text[];
	path text[];
	v jsonb;
	k text;
BEGIN
	FOR i IN 1 .. 1 + fuzz.r(max_ops) LOOP
		IF jsonb_typeof(doc) NOT IN ('object', 'array') THEN
			RETURN doc;
		END IF;
		all_paths := fuzz.paths(doc);
		path := CASE WHEN cardinality(all_paths) > 0 THEN fuzz.path_of(fuzz.pick(all_paths)) ELSE '{}' END;
		CASE fuzz.r(6)
		WHEN 0 THEN
			IF cardinality(path) > 0 THEN doc := doc #- path; END IF;
		WHEN 1, 2 THEN
			-- numbers are what costopt reads: replace a leaf with an odd number
			v := fuzz.json_value(2, false)::jsonb;
			IF fuzz.p(0.6) THEN v := fuzz.json_number(false)::jsonb; END IF;
			IF cardinality(path) > 0 THEN doc := jsonb_set(doc, path, v); END IF;
		WHEN 3 THEN
			-- a new key in an object (the root or a random one)
			IF cardinality(path) > 0 AND jsonb_typeof(doc #> path) = 'object' THEN
				doc := jsonb_set(doc, path || fuzz.json_key(), fuzz.json_value(2, false)::jsonb);
			ELSIF jsonb_typeof(doc) = 'object' THEN
				doc := doc || jsonb_build_object(fuzz.json_key(), fuzz.json_value(2, false)::jsonb);
			END IF;
		WHEN 4 THEN
			-- rename a key
			IF cardinality(path) > 0 AND jsonb_typeof(doc #> path[1:cardinality(path) - 1]) = 'object' THEN
				v := doc #> path;
				k := fuzz.json_key();
				doc := jsonb_set(doc #- path, path[1:cardinality(path) - 1] || k, v);
			END IF;
		ELSE
			-- swap a whole subtree for something else
			IF jsonb_typeof(doc) = 'object' THEN
				k := fuzz.pick(ARRAY['usage', 'usageMetadata', 'model', 'error', 'usage']);
				doc := jsonb_set(doc, ARRAY[k], fuzz.json_value(1, false)::jsonb);
			END IF;
		END CASE;
	END LOOP;
	RETURN doc;
END;
$$;

-------------------------------------------------------------------------------
-- Real-shaped provider payloads (as in test/pgtap/30_ingest.sql)
-------------------------------------------------------------------------------

CREATE FUNCTION fuzz.payloads() RETURNS jsonb[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY[
		-- OpenAI chat completion with cached and reasoning tokens
		'{"id": "chatcmpl-AbC123", "object": "chat.completion", "created": 1740787200,
		  "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_50cad350e4",
		  "choices": [{"index": 0, "message": {"role": "assistant", "content": "The report says...", "refusal": null},
					   "logprobs": null, "finish_reason": "stop"}],
		  "usage": {"prompt_tokens": 2000, "completion_tokens": 500, "total_tokens": 2500,
					"prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
					"completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0,
												  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}'::jsonb,
		-- OpenAI Responses API
		'{"id": "resp_67ccd2bed1ec8190", "object": "response", "created_at": 1741476542, "status": "completed",
		  "model": "o1-2024-12-17",
		  "output": [{"type": "reasoning", "id": "rs_1", "summary": []},
					 {"type": "message", "id": "msg_1", "role": "assistant",
					  "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}],
		  "usage": {"input_tokens": 3000, "input_tokens_details": {"cached_tokens": 1000},
					"output_tokens": 2000, "output_tokens_details": {"reasoning_tokens": 1500},
					"total_tokens": 5000}}'::jsonb,
		'{"id": "resp_2", "object": "response", "model": "gpt-4o-mini",
		  "usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150}}'::jsonb,
		-- OpenAI embeddings
		'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.0023, -0.0093]}],
		  "model": "text-embedding-3-small", "usage": {"prompt_tokens": 5000, "total_tokens": 5000}}'::jsonb,
		-- Anthropic Messages with prompt caching, and without
		'{"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
		  "model": "claude-3-5-sonnet-20241022", "content": [{"type": "text", "text": "Hello!"}],
		  "stop_reason": "end_turn", "stop_sequence": null,
		  "usage": {"input_tokens": 100, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 3000,
					"output_tokens": 400}}'::jsonb,
		'{"type": "message", "model": "claude-3-haiku-20240307", "content": [{"type": "text", "text": "Hi"}],
		  "usage": {"input_tokens": 12, "output_tokens": 6}}'::jsonb,
		-- Gemini with thinking and cached content, and plain
		'{"candidates": [{"content": {"parts": [{"text": "Sure."}], "role": "model"}, "finishReason": "STOP"}],
		  "usageMetadata": {"promptTokenCount": 4000, "candidatesTokenCount": 300, "cachedContentTokenCount": 2048,
							"thoughtsTokenCount": 200, "totalTokenCount": 4500},
		  "modelVersion": "gemini-2.0-flash-001"}'::jsonb,
		'{"candidates": [{"content": {"parts": [{"text": "ok"}]}}],
		  "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12},
		  "modelVersion": "gemini-1.5-flash"}'::jsonb,
		-- an error response, and a response without a usage block
		'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
		  "model": "gpt-4o"}'::jsonb,
		'{"model": "gpt-4o", "choices": [{"message": {"role": "assistant", "content": "No usage here."}}]}'::jsonb
	]
$$;

-- A request body to go with an estimate.
CREATE FUNCTION fuzz.request() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	CASE fuzz.r(8)
	WHEN 0, 1, 2, 3 THEN RETURN NULL;
	WHEN 4 THEN
		RETURN jsonb_build_object('model', 'gpt-4o', 'messages',
			jsonb_build_array(jsonb_build_object('role', 'user', 'content',
				repeat(fuzz.pick(ARRAY['word ', 'é', '😀']), fuzz.pick(ARRAY[0, 1, 10, 10000, 1000000])))))::text;
	WHEN 5 THEN RETURN fuzz.json_value(0, false);
	WHEN 6 THEN RETURN fuzz.json_deep();
	ELSE RETURN fuzz.mutate_json(fuzz.pick(fuzz.payloads()))::text;
	END CASE;
END;
$$;

-- The arguments after the response, as an SQL fragment (named arguments).
CREATE FUNCTION fuzz.ingest_args() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	a text := '';
BEGIN
	a := a || format(', %L', CASE WHEN fuzz.p(0.8) THEN fuzz.pick(ARRAY['acme', 'org-1', 'org-2'])
								  ELSE fuzz.pick(ARRAY[NULL, '', ' ', repeat('o', 200), repeat('o', 201),
													   repeat('😀', 200), repeat('😀', 201), fuzz.weird_text()]) END);
	IF fuzz.p(0.3) THEN
		a := a || format(', user_id => %L', fuzz.pick(ARRAY[NULL, 'u-1', '', repeat('é', 200), repeat('é', 201),
															 fuzz.weird_text()]));
	END IF;
	IF fuzz.p(0.2) THEN
		a := a || format(', tags => %L::jsonb', fuzz.pick(ARRAY[NULL, '{}', '[]', 'null', '"x"', '{"team": "core"}',
																 fuzz.json_value(0, false)]));
	END IF;
	IF fuzz.p(0.2) THEN
		a := a || format(', project => %L', fuzz.pick(ARRAY[NULL, 'p', repeat('p', 200), repeat('😀', 250),
															 repeat('p', 1000), fuzz.weird_text()]));
	END IF;
	IF fuzz.p(0.3) THEN
		a := a || format(', request => %L::jsonb', fuzz.request());
	END IF;
	IF fuzz.p(0.2) THEN
		a := a || format(', latency_ms => %s', fuzz.pick(ARRAY['NULL', '0', '-1', '2147483647', '812']));
	END IF;
	a := a || format(', created_at => %L',
					 CASE WHEN fuzz.p(0.85)
						  THEN (timestamptz '2025-01-01' + fuzz.r(86400 * 120) * interval '1 second')::text
						  ELSE fuzz.pick(ARRAY[NULL, 'infinity', '-infinity', '4713-01-01 00:00:00+00 BC',
											   '294276-12-31 23:59:59.999999+00', '1970-01-01 00:00:00+00',
											   '1999-12-31 23:59:59.999999+00', '2100-03-01 00:00:00+00']) END);
	IF fuzz.p(0.15) THEN
		a := a || format(', model => %L', fuzz.pick(ARRAY[NULL, '', ' ', 'gpt-4o', 'claude-3-haiku',
														   repeat('m', 200), repeat('m', 201), fuzz.weird_text()]));
	END IF;
	IF fuzz.p(0.05) THEN
		a := a || format(', reservation_id => %s', fuzz.pick(ARRAY['NULL', '0', '-1', '1', '9223372036854775807']));
	END IF;
	RETURN a;
END;
$$;

CREATE FUNCTION fuzz.ingest_provider() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.8) THEN
		RETURN fuzz.pick(ARRAY['openai', 'anthropic', 'google', 'gemini', ' Anthropic ', 'OPENAI']);
	END IF;
	RETURN fuzz.pick(ARRAY[NULL, '', ' ', 'bedrock', repeat('p', 64), repeat('p', 65), repeat('ä', 64),
						   repeat('ä', 65), fuzz.weird_text()]);
END;
$$;

-------------------------------------------------------------------------------
-- Checks of successful results
-------------------------------------------------------------------------------

-- A cost must be NULL or a finite, non-negative numeric (NaN sorts above
-- Infinity, so one comparison catches both).
CREATE FUNCTION fuzz.bad_cost(c numeric) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT c IS NOT NULL AND (c < 0 OR c >= 'Infinity'::numeric) $$;

-- A row costopt_ingest returned: stored, with sane costs.
CREATE FUNCTION fuzz.check_usage(r costopt.api_usage_logs) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	IF r.id IS NULL THEN
		RETURN 'hard:ingest returned no row';
	END IF;
	IF fuzz.bad_cost(r.input_cost) OR fuzz.bad_cost(r.output_cost) OR fuzz.bad_cost(r.total_cost) THEN
		RETURN 'hard:ingest stored a negative or non-finite cost';
	END IF;
	IF r.cost_status IN ('priced', 'estimated') AND
	   (r.total_cost IS NULL OR r.total_cost <> r.input_cost + r.output_cost) THEN
		RETURN 'hard:ingest priced row with total_cost <> input_cost + output_cost';
	END IF;
	IF r.cost_status = 'unpriced' AND r.total_cost IS NOT NULL THEN
		RETURN 'hard:ingest unpriced row with a cost';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM costopt.api_usage_logs u WHERE u.id = r.id AND u.created_at = r.created_at) THEN
		RETURN 'hard:ingest returned a row that is not stored';
	END IF;
	RETURN NULL;
END;
$$;

-- One priced call: costs finite and non-negative, total = input + output,
-- and cache reads plus writes were within the prompt.
CREATE FUNCTION fuzz.check_cost(input_tokens numeric, cached numeric, cache_write numeric,
								input_cost numeric, output_cost numeric, total_cost numeric)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN coalesce(cached, 0) + coalesce(cache_write, 0) > input_tokens
			THEN 'hard:accepted cached + cache_write tokens above input tokens'
		WHEN fuzz.bad_cost(input_cost) OR fuzz.bad_cost(output_cost) OR fuzz.bad_cost(total_cost)
			THEN 'hard:negative or non-finite cost'
		WHEN total_cost IS DISTINCT FROM input_cost + output_cost
			THEN 'hard:total_cost <> input_cost + output_cost'
	END
$$;

-- costopt_load_pricing followed by costopt.price_call on each model it loaded.
CREATE FUNCTION fuzz.check_load(catalog jsonb, eff timestamptz, providers text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	res record;
	keys integer;
	m record;
	pc record;
	last_id bigint := (SELECT coalesce(max(id), 0) FROM costopt.model_pricing);
BEGIN
	SELECT * INTO res FROM costopt_load_pricing(catalog, eff, providers, 'fuzz');
	keys := (SELECT count(*) FROM jsonb_object_keys(catalog));
	IF res.inserted < 0 OR res.updated < 0 OR res.unchanged < 0 OR res.skipped < 0 THEN
		RETURN 'hard:load_pricing returned a negative count';
	END IF;
	IF res.inserted + res.updated + res.unchanged + res.skipped <> keys THEN
		RETURN format('hard:load_pricing counts %s entries of %s', res.inserted + res.updated + res.unchanged + res.skipped, keys);
	END IF;
	-- price the versions this load inserted, at their start
	IF isfinite(eff) THEN
		FOR m IN SELECT mp.provider, mp.model_name FROM costopt.model_pricing mp
				  WHERE mp.id > last_id ORDER BY mp.id LIMIT 50 LOOP
			FOR pc IN SELECT * FROM costopt.price_call(m.provider, m.model_name, eff, 300000, 1000, 100, 50, fuzz.p(0.5)) LOOP
				IF fuzz.check_cost(300000, 100, 50, pc.input_cost, pc.output_cost, pc.total_cost) IS NOT NULL THEN
					RETURN 'hard:price_call on a loaded price: ' || fuzz.check_cost(300000, 100, 50, pc.input_cost, pc.output_cost, pc.total_cost);
				END IF;
				IF pc.cost_status <> 'priced' THEN
					-- (an alias or a name rule may send the name elsewhere)
					RETURN 'soft:a model just loaded is unpriced at its effective_from';
				END IF;
			END LOOP;
		END LOOP;
	END IF;
	RETURN NULL;
END;
$$;

-- costopt_stats over an array, against the built-in aggregates.
CREATE FUNCTION fuzz.check_stats(vals float8[], win integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	s costopt.stats_summary;
	b record;
	finite boolean;
	bad bigint;
BEGIN
	s := (SELECT costopt_stats(v) FROM unnest(vals) v);
	SELECT count(v) AS n, min(v) AS lo, max(v) AS hi,
		   bool_and(v NOT IN ('NaN', 'Infinity', '-Infinity')) AS fin
	  INTO b FROM unnest(vals) v;
	finite := coalesce(b.fin, true);
	IF b.n = 0 THEN
		RETURN CASE WHEN s IS NULL THEN NULL ELSE 'hard:stats of no value is not NULL' END;
	END IF;
	IF s.n IS DISTINCT FROM b.n OR s.min IS DISTINCT FROM b.lo OR s.max IS DISTINCT FROM b.hi THEN
		RETURN 'hard:stats n/min/max differ from count/min/max';
	END IF;
	IF finite AND (s.mean IN ('NaN', 'Infinity', '-Infinity') OR s.stddev IN ('NaN', 'Infinity', '-Infinity')) THEN
		RETURN 'hard:stats of finite values is not finite';
	END IF;
	IF s.mean < b.lo OR s.mean > b.hi THEN
		RETURN 'soft:stats mean outside [min, max]';
	END IF;
	IF s.stddev < 0 THEN
		RETURN 'hard:stats stddev negative';
	END IF;
	-- as a window function (no inverse transition: every frame is recomputed)
	IF win IS NOT NULL THEN
		SELECT count(*) INTO bad
		  FROM (SELECT (costopt_stats(v) OVER w).n AS sn, count(v) OVER w AS cn,
					   (costopt_stats(v) OVER w).max AS smax, max(v) OVER w AS cmax
				  FROM unnest(vals) WITH ORDINALITY u(v, i)
				WINDOW w AS (ORDER BY i ROWS BETWEEN win PRECEDING AND CURRENT ROW)) x
		 WHERE coalesce(sn, 0) <> cn OR smax IS DISTINCT FROM cmax;
		IF bad > 0 THEN
			RETURN 'hard:stats as a window function differs from count/max over the frame';
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

-- The raw states, to test the combine functions as parallel plans use them.
CREATE AGGREGATE fuzz.stats_state(float8) (SFUNC = costopt.stats_accum, STYPE = float8[]);
CREATE AGGREGATE fuzz.trend_state(timestamptz, float8) (SFUNC = costopt.trend_accum, STYPE = float8[]);

-- Two partial states merged must agree with one pass over all values.
CREATE FUNCTION fuzz.check_combine(vals float8[], split integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	whole costopt.stats_summary;
	merged costopt.stats_summary;
	a float8[];
	b float8[];
BEGIN
	vals := array(SELECT unnest(vals));			-- one dimension, lower bound 1
	whole := (SELECT costopt_stats(v) FROM unnest(vals) v);
	a := (SELECT fuzz.stats_state(v) FROM unnest(vals[1:split]) v);
	b := (SELECT fuzz.stats_state(v) FROM unnest(vals[split + 1:]) v);
	merged := costopt.stats_final(costopt.stats_combine(a, b));
	IF merged.n IS DISTINCT FROM whole.n OR merged.min IS DISTINCT FROM whole.min
	   OR merged.max IS DISTINCT FROM whole.max THEN
		RETURN 'hard:combined stats n/min/max differ from one pass';
	END IF;
	IF abs(merged.mean - whole.mean) > 1e-9 * greatest(abs(whole.min), abs(whole.max), 1) THEN
		RETURN 'soft:combined stats mean differs from one pass';
	END IF;
	RETURN NULL;
END;
$$;

-- costopt_trend and costopt_predict over parallel arrays.
CREATE FUNCTION fuzz.check_trend(ts timestamptz[], vals float8[], at timestamptz, lvl float8) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	f costopt.trend_fit;
	p costopt.prediction;
	n bigint;
	fin boolean;
BEGIN
	f := (SELECT costopt_trend(t, v) FROM unnest(ts, vals) u(t, v));
	SELECT count(*), coalesce(bool_and(v NOT IN ('NaN', 'Infinity', '-Infinity')), true)
	  INTO n, fin FROM unnest(ts, vals) u(t, v) WHERE t IS NOT NULL AND v IS NOT NULL;
	IF n = 0 THEN
		RETURN CASE WHEN f IS NULL THEN NULL ELSE 'hard:trend of no point is not NULL' END;
	END IF;
	IF f.n IS DISTINCT FROM n THEN
		RETURN 'hard:trend n differs from the number of points';
	END IF;
	IF fin AND (f.slope_per_day IN ('NaN', 'Infinity', '-Infinity') OR f.intercept IN ('NaN', 'Infinity', '-Infinity')
				OR f.value_mean IN ('NaN', 'Infinity', '-Infinity') OR f.residual_sd IN ('NaN', 'Infinity', '-Infinity')) THEN
		RETURN 'hard:trend of finite values is not finite';
	END IF;
	IF f.r2 < -1e-9 OR f.r2 > 1 + 1e-9 THEN
		RETURN 'soft:trend r2 outside [0, 1]';
	END IF;
	BEGIN
		PERFORM f.t_mean::text;
	EXCEPTION WHEN datetime_field_overflow THEN
		RETURN 'soft:trend t_mean is not a valid timestamp';
	END;
	p := costopt_predict(f, at, lvl);
	IF p.lower > p.predicted OR p.upper < p.predicted THEN
		RETURN 'soft:prediction outside its own interval';
	END IF;
	RETURN NULL;
END;
$$;

-- A row of costopt_forecast_series / _total must have lower <= predicted <= upper.
CREATE FUNCTION fuzz.check_interval(predicted float8, lower float8, upper float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN predicted IN ('NaN', 'Infinity', '-Infinity') OR lower IN ('NaN', 'Infinity', '-Infinity')
			 OR upper IN ('NaN', 'Infinity', '-Infinity') THEN 'soft:forecast not finite'
		WHEN lower > predicted OR upper < predicted THEN 'hard:forecast outside its interval'
	END
$$;

-------------------------------------------------------------------------------
-- Numeric extremes
-------------------------------------------------------------------------------

-- A token count as a number (text) or NULL; fuzz.bigint_sql renders it.
CREATE FUNCTION fuzz.bigint_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.4) THEN
		RETURN fuzz.r(fuzz.pick(ARRAY[10, 1000, 200000, 2000000000]))::text;
	END IF;
	RETURN fuzz.pick(ARRAY[NULL, '0', '1', '-1', '2', '128000', '128001', '200001', '1000000',
						   '2147483647', '2147483648', '-2147483648', '4294967296', '4611686018427387904',
						   '9223372036854775806', '9223372036854775807', '-9223372036854775808']);
END;
$$;

CREATE FUNCTION fuzz.bigint_sql(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(quote_literal(v), 'NULL') || '::bigint' $$;

CREATE FUNCTION fuzz.numeric_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.4) THEN
		RETURN round((random() * fuzz.pick(ARRAY[1, 1000, 1000000]))::numeric, fuzz.r(4))::text;
	END IF;
	RETURN fuzz.pick(ARRAY['NULL', '0', '1', '-1', '0.5', '-0.000001', '30', '31', '31.000001', '1e-20', '1e20',
						   '1e1000', '-1e1000', '1e100000', '2147483648', '''NaN''', '''Infinity''', '''-Infinity''']);
END;
$$;

CREATE FUNCTION fuzz.float_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN fuzz.pick(ARRAY['NULL', '0', '-0', '1', '-1', '0.5', '0.95', '0.99', '0.999999', '0.9999999999999998',
						   '0.9999999999999999', '1e-300', '4.9e-324', '1e308', '-1e308', '1.7976931348623157e308',
						   '''NaN''', '''Infinity''', '''-Infinity''', '3', '2147483648']) || '::float8';
END;
$$;

CREATE FUNCTION fuzz.ts_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.75) THEN
		RETURN quote_literal((timestamptz '2024-06-01' + fuzz.r(86400 * 500) * interval '1 second')::text) || '::timestamptz';
	END IF;
	RETURN fuzz.pick(ARRAY['NULL', '''infinity''', '''-infinity''', '''4713-01-01 00:00:00+00 BC''',
						   '''294276-12-31 23:59:59.999999+00''', '''1970-01-01 00:00:00+00''',
						   '''2000-01-01 00:00:00+00''', '''2100-01-01 00:00:00+00''']) || '::timestamptz';
END;
$$;

CREATE FUNCTION fuzz.model_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.1) THEN
		RETURN 'NULL';
	END IF;
	IF fuzz.p(0.5) THEN
		RETURN quote_literal(fuzz.known_model());
	END IF;
	IF fuzz.p(0.3) THEN
		-- a name some fuzzed catalog may have loaded
		RETURN quote_literal(fuzz.catalog_key());
	END IF;
	RETURN quote_literal(fuzz.weird_text());
END;
$$;

CREATE FUNCTION fuzz.provider_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.5) THEN
		RETURN 'NULL';
	END IF;
	RETURN quote_literal(fuzz.pick(ARRAY['openai', 'anthropic', 'google', 'OpenAI ', '', 'nope', 'fuzzai',
										 repeat('p', 64), repeat('p', 300), chr(31), fuzz.weird_text()]));
END;
$$;

-- Arguments that are valid most of the time, so that most cases get past
-- the argument checks into the computation; the rest are extremes.
CREATE FUNCTION fuzz.level_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.75) THEN
		RETURN fuzz.pick(ARRAY['0.95', '0.8', '0.99', '0.5', '0.999']);
	END IF;
	RETURN fuzz.float_arg();
END;
$$;

CREATE FUNCTION fuzz.threshold_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.75) THEN
		RETURN fuzz.pick(ARRAY['3', '2', '4', '1', '2.5']);
	END IF;
	RETURN fuzz.float_arg();
END;
$$;

CREATE FUNCTION fuzz.horizon_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.8) THEN
		RETURN (1 + fuzz.r(fuzz.pick(ARRAY[7, 30, 365])))::text;
	END IF;
	RETURN fuzz.pick(ARRAY['0', '-1', '366', 'NULL', '2147483647', '-2147483648']);
END;
$$;

CREATE FUNCTION fuzz.forecast_method_arg() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.85) THEN
		RETURN quote_literal(fuzz.pick(ARRAY['auto', 'auto', 'ensemble', 'holt_winters', 'linear_dow', 'linear',
											 'seasonal_naive']));
	END IF;
	RETURN fuzz.pick(ARRAY['''x''', 'NULL', '''''', '''AUTO''', quote_literal(fuzz.weird_text())]);
END;
$$;

-- A seeded model name most of the time.
CREATE FUNCTION fuzz.known_model() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN fuzz.pick(ARRAY['gpt-4o', 'gpt-4o-mini', 'gpt-4o-2024-08-06', 'o1', 'text-embedding-3-small',
						   'claude-3-5-sonnet-20241022', 'claude-3-haiku', 'gemini-1.5-pro', 'gemini-1.5-flash',
						   'gemini-2.0-flash', 'llama-2-13b', 'openai/gpt-4o', 'fuzz-chat', 'fuzz-long', 'fuzz-gem']);
END;
$$;

-------------------------------------------------------------------------------
-- Price catalogs
-------------------------------------------------------------------------------

-- Model keys of fuzzed catalogs: a small set, so the catalog stays small
-- and loads often meet versions loaded before.
CREATE FUNCTION fuzz.catalog_key() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.85) THEN
		RETURN fuzz.pick(ARRAY['fuzz-chat', 'fuzz-mini', 'fuzz-long', 'fuzz-embed', 'fuzzai/fuzz-chat',
							   'FUZZ-CHAT', ' fuzz-mini ', 'gemini/fuzz-gem', 'fuzz-gem', 'vertex_ai/fuzz-vx',
							   'gpt-4o', 'claude-3-haiku', 'sample_spec', 'fuzz-batch', 'fuzz-img']);
	END IF;
	RETURN fuzz.pick(ARRAY['', ' ', '/', 'fuzzai/', repeat('k', 200), repeat('k', 201), 'fuzz-' || repeat('é', 195),
						   'fuzz' || chr(31) || 'x', fuzz.weird_text()]);
END;
$$;

-- A real-shaped LiteLLM entry (as in model_prices_and_context_window.json).
CREATE FUNCTION fuzz.catalog_entry() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	CASE fuzz.r(6)
	WHEN 0 THEN
		RETURN '{"litellm_provider": "fuzzai", "mode": "chat", "input_cost_per_token": 2.5e-06,
				 "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
				 "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 5e-06,
				 "max_input_tokens": 128000, "max_output_tokens": 16384, "max_tokens": 16384,
				 "supports_function_calling": true}'::jsonb;
	WHEN 1 THEN
		RETURN '{"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
				 "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.75e-06,
				 "cache_read_input_token_cost": 3e-07, "max_input_tokens": 200000, "max_output_tokens": 8192}'::jsonb;
	WHEN 2 THEN
		RETURN '{"litellm_provider": "gemini", "mode": "chat", "input_cost_per_token": 1.25e-06,
				 "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token": 1e-05,
				 "output_cost_per_token_above_200k_tokens": 1.5e-05,
				 "cache_read_input_token_cost": 3.125e-07, "cache_read_input_token_cost_above_200k_tokens": 6.25e-07,
				 "max_input_tokens": 2097152, "max_output_tokens": 65536}'::jsonb;
	WHEN 3 THEN
		RETURN '{"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08,
				 "output_cost_per_token": 0.0, "max_input_tokens": 8191, "max_tokens": 8191}'::jsonb;
	WHEN 4 THEN
		RETURN '{"litellm_provider": "vertex_ai-language-models", "mode": "chat", "input_cost_per_token": "1e-06",
				 "output_cost_per_token": "4e-06", "max_tokens": 2000000.0}'::jsonb;
	ELSE
		RETURN fuzz.pick(ARRAY[
			'{"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_pixel": 1.9e-08, "output_cost_per_pixel": 0.0}'::jsonb,
			'{"litellm_provider": "fuzzai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
			  "tiered_pricing": [{"range": [0, 128000], "input_cost_per_token": 1e-06}]}'::jsonb,
			'{"litellm_provider": "bedrock_converse", "input_cost_per_token": 8e-07, "output_cost_per_token": 3.2e-06,
			  "input_cost_per_token_cache_hit": 2e-07}'::jsonb,
			'{"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
			  "litellm_provider": "one of https://docs.litellm.ai/docs/providers", "mode": "one of chat, embedding"}'::jsonb]);
	END CASE;
END;
$$;

CREATE FUNCTION fuzz.price_value() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RETURN fuzz.pick(ARRAY['1e-06', '0', '-0', '-1e-06', '1e308', '1.7976931348623157e308', '1e-400', '1e400',
						   '1e100000', '123456789012345678901234567890.123456789', '0.1234567890123456789',
						   '"2.5e-06"', '" 1e-6 "', '"NaN"', '"Infinity"', '"-1"', '"abc"', '""', '"1e999999"',
						   'true', 'null', '[]', '{}', '[1e-06]', fuzz.json_number(false)])::jsonb;
END;
$$;

-- A catalog of up to eight entries, mutated.
CREATE FUNCTION fuzz.catalog() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	cat jsonb := '{}';
	e jsonb;
	k text;
BEGIN
	IF fuzz.p(0.05) THEN
		RETURN fuzz.json_value(0, false)::jsonb;		-- not even an object, mostly
	END IF;
	FOR i IN 1 .. fuzz.r(8) LOOP
		e := fuzz.catalog_entry();
		FOR j IN 1 .. fuzz.r(4) LOOP
			EXIT WHEN jsonb_typeof(e) <> 'object';
			CASE fuzz.r(9)
			WHEN 0, 1, 2 THEN
				e := jsonb_set(e, ARRAY[fuzz.pick(ARRAY['input_cost_per_token', 'output_cost_per_token',
														'cache_read_input_token_cost', 'cache_creation_input_token_cost',
														'input_cost_per_token_batches', 'output_cost_per_token_batches',
														'input_cost_per_token_above_200k_tokens',
														'output_cost_per_token_above_200k_tokens',
														'input_cost_per_token_cache_hit'])],
							   fuzz.price_value());
			WHEN 3 THEN
				e := jsonb_set(e, ARRAY[fuzz.pick(ARRAY['max_input_tokens', 'max_output_tokens', 'max_tokens'])],
							   fuzz.pick(ARRAY['0', '-1', '0.5', '1.4', '2147483647', '2147483647.4', '2147483648',
											   '1e308', '1e100000', '"128000"', 'null', '[]'])::jsonb);
			WHEN 4 THEN
				e := jsonb_set(e, '{litellm_provider}',
							   fuzz.pick(ARRAY['"openai"', '" OpenAI "', '"gemini"', '"vertex_ai-vision-models"',
											   '"bedrock_converse"', '""', '" "', 'null', '1', '{}',
											   to_jsonb(repeat('p', 64)), to_jsonb(repeat('p', 65)),
											   to_jsonb(fuzz.weird_text())]));
			WHEN 5 THEN
				e := e #- ARRAY[fuzz.pick(ARRAY['litellm_provider', 'input_cost_per_token', 'output_cost_per_token',
												'mode', 'max_input_tokens'])];
			WHEN 6 THEN
				-- long-context thresholds, odd ones included
				e := e || jsonb_build_object(
					format('input_cost_per_token_above_%sk_tokens',
						   fuzz.pick(ARRAY['0', '1', '128', '200', '2147483', '2147484', '99999999999', '00128'])),
					fuzz.price_value());
			WHEN 7 THEN
				e := jsonb_set(e, '{mode}', fuzz.pick(ARRAY['"chat"', '"responses"', '"audio_speech"', '"CHAT"', '""',
															'1', 'null', to_jsonb(fuzz.weird_text())]));
			ELSE
				e := fuzz.mutate_json(e, 2);
			END CASE;
		END LOOP;
		IF fuzz.p(0.03) THEN
			e := fuzz.json_value(1, false)::jsonb;			-- an entry that is not an object
		END IF;
		k := fuzz.catalog_key();
		cat := cat || jsonb_build_object(k, e);
	END LOOP;
	IF fuzz.p(0.02) THEN
		-- a big catalog
		SELECT cat || jsonb_object_agg('fuzz-many-' || g, fuzz.catalog_entry()) INTO cat
		  FROM generate_series(1, 300) g;
	END IF;
	RETURN cat;
END;
$$;

-------------------------------------------------------------------------------
-- Series
-------------------------------------------------------------------------------

-- One value of a series under a mode.
CREATE FUNCTION fuzz.xval(mode integer, i integer) RETURNS float8
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF mode = 0 THEN RETURN 100 + 20 * sin(i * 0.9) + random() * 10; END IF;	-- normal, weekly wave
	IF mode = 1 THEN RETURN 42; END IF;											-- all equal
	IF mode = 2 THEN RETURN CASE WHEN fuzz.p(0.97) THEN random() * 100 ELSE 1e6 END; END IF;	-- spikes
	IF mode = 3 THEN RETURN fuzz.pick(ARRAY['1e308', '-1e308', '1.7976931348623157e308', '8.9e307']::float8[]); END IF;
	IF mode = 4 THEN RETURN fuzz.pick(ARRAY['4.9e-324', '-4.9e-324', '0', '-0', '1e-300']::float8[]); END IF;
	IF mode = 5 THEN
		-- mostly normal, with some NULL, NaN, Infinity
		IF fuzz.p(0.9) THEN RETURN random() * 100; END IF;
		RETURN fuzz.pick(ARRAY[NULL, 'NaN', 'Infinity', '-Infinity', '-0']::float8[]);
	END IF;
	IF mode = 6 THEN RETURN i::float8 * 1e300; END IF;							-- overflowing ramp
	IF mode = 7 THEN RETURN -random() * 1000; END IF;							-- negative
	RETURN CASE WHEN fuzz.p(0.5) THEN 1e15 + i ELSE -1e15 - i END;			-- large, cancelling
END;
$$;

-- One time of a series under a mode.
CREATE FUNCTION fuzz.xts(mode integer, i integer) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF mode = 0 THEN RETURN timestamptz '2025-01-01' + i * interval '1 day'; END IF;
	IF mode = 1 THEN RETURN timestamptz '2025-01-01' + i * interval '1 hour'; END IF;
	IF mode = 2 THEN RETURN timestamptz '2025-01-01' + fuzz.r(1000) * interval '1 hour'; END IF;	-- unsorted, duplicates
	IF mode = 3 THEN RETURN timestamptz '2025-01-01'; END IF;											-- all equal
	IF mode = 4 THEN RETURN timestamptz '2025-01-01' + i * interval '1 microsecond'; END IF;
	IF mode = 5 THEN
		IF fuzz.p(0.9) THEN RETURN timestamptz '2025-01-01' + i * interval '1 day'; END IF;
		RETURN fuzz.pick(ARRAY[NULL, 'infinity', '-infinity', '4713-01-01 00:00:00+00 BC',
							   '294276-12-31 23:59:59.999999+00']::timestamptz[]);
	END IF;
	IF mode = 6 THEN
		-- both ends of the timestamp range
		RETURN CASE WHEN fuzz.p(0.5) THEN timestamptz '4713-01-01 00:00:00+00 BC' + i * interval '1 second'
					ELSE timestamptz '294276-12-31 23:59:59.999999+00' - i * interval '1 second' END;
	END IF;
	RETURN timestamptz '2025-01-01' + i * interval '1 week';
END;
$$;

CREATE FUNCTION fuzz.xday(mode integer, i integer) RETURNS date
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF mode = 0 OR mode = 1 OR mode = 7 THEN RETURN date '2024-01-01' + i; END IF;
	IF mode = 2 THEN RETURN date '2024-01-01' + i * fuzz.pick(ARRAY[1, 1, 1, 2, 10]); END IF;	-- gaps
	IF mode = 3 THEN RETURN date '2024-01-01' + fuzz.r(i + 1); END IF;							-- duplicates
	IF mode = 4 THEN RETURN date '2024-01-01' + (1000 - i); END IF;								-- reversed
	IF mode = 5 THEN
		IF fuzz.p(0.95) THEN RETURN date '2024-01-01' + i; END IF;
		RETURN fuzz.pick(ARRAY[NULL, 'infinity', '-infinity', '4713-01-01 BC', '5874897-12-31']::date[]);
	END IF;
	RETURN CASE WHEN fuzz.p(0.5) THEN date '5874897-12-31' - i ELSE date '4713-01-01 BC' + i END;
END;
$$;

CREATE FUNCTION fuzz.series_len() RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.01) THEN
		RETURN fuzz.pick(ARRAY[20000, 100000]);
	END IF;
	RETURN fuzz.pick(ARRAY[0, 1, 2, 3, 5, 7, 8, 9, 13, 14, 15, 20, 27, 28, 29, 37, 56, 60, 100, 200, 366, 400, 800]);
END;
$$;

-- SQL for an array of n values (mode vmode), possibly one element off.
CREATE FUNCTION fuzz.vals_sql(n integer, vmode integer) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fuzz.p(0.02) THEN
		RETURN fuzz.pick(ARRAY['NULL::float8[]', '''{}''::float8[]', '''{{1,2},{3,4}}''::float8[]',
							   '''[0:2]={1,2,3}''::float8[]', '''{NULL}''::float8[]']);
	END IF;
	IF fuzz.p(0.04) THEN
		n := greatest(n + fuzz.pick(ARRAY[-1, 1]), 0);			-- mismatched lengths
	END IF;
	RETURN format('array(SELECT fuzz.xval(%s, g) FROM generate_series(1, %s) g)', vmode, n);
END;
$$;

-------------------------------------------------------------------------------
-- Case generator
-------------------------------------------------------------------------------

CREATE TYPE fuzz.fcase AS (sql text, known text);

CREATE FUNCTION fuzz.gen(target text, seed integer, case_no integer) RETURNS fuzz.fcase
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	c fuzz.fcase;
	s text;
	a text[];
	n integer;
	vm integer;
	tm integer;
	doc jsonb;
	vals float8[];
BEGIN
	PERFORM setseed(hashtext(target || ':' || seed || ':' || case_no)::float8 / 2147483648.0);

	IF target = 'ingest_json' THEN
		-- random, deep and malformed documents as the response
		CASE fuzz.r(5)
		WHEN 0, 1 THEN s := fuzz.json_value(0, true);
		WHEN 2 THEN s := fuzz.mutate_text(fuzz.json_value(0, false));
		WHEN 3 THEN s := fuzz.json_deep();
		ELSE s := '{"model": ' || fuzz.json_string() || ', "usage": ' || fuzz.json_value(1, true) || '}';
		END CASE;
		IF fuzz.p(0.03) THEN
			s := fuzz.pick(ARRAY['', ' ', '{', '}', '[', 'nul', 'tru', '"', '{"a":}', '{"a" 1}', '{,}', '[1,]',
								 '{"a":1,}', E'\xEF\xBB\xBF{}', '{"a":1}{"b":2}', '/* */{}', '{"a": 1e}']);
		END IF;
		c.sql := format('SELECT fuzz.check_usage(costopt_ingest(%L, %L::jsonb%s))',
						fuzz.ingest_provider(), s, fuzz.ingest_args());

	ELSIF target = 'ingest_payload' THEN
		doc := fuzz.pick(fuzz.payloads());
		IF fuzz.p(0.9) THEN
			doc := fuzz.mutate_json(doc, 3);
		END IF;
		s := doc::text;
		IF fuzz.p(0.12) THEN
			s := fuzz.mutate_text(s);
		END IF;
		c.sql := format('SELECT fuzz.check_usage(costopt_ingest(%L, %L::jsonb%s))',
						fuzz.ingest_provider(), s, fuzz.ingest_args());

	ELSIF target = 'load_pricing' THEN
		s := fuzz.catalog()::text;
		IF fuzz.p(0.05) THEN
			s := fuzz.mutate_text(s);
		END IF;
		c.sql := format('SELECT fuzz.check_load(%L::jsonb, %s, %s)', s,
						CASE WHEN fuzz.p(0.9)
							 THEN quote_literal(fuzz.pick(ARRAY['2024-01-01', '2024-06-01', '2025-01-01', '2025-02-01',
																'2025-03-01 12:00', '2030-01-01'])) || '::timestamptz'
							 ELSE fuzz.ts_arg() END,
						fuzz.pick(ARRAY['NULL', 'NULL', 'NULL', 'NULL', '''{}''::text[]', '''{openai}''::text[]',
										'''{fuzzai,anthropic,google}''::text[]', '''{NULL}''::text[]',
										'''{""}''::text[]', '''{gemini}''::text[]']));

	ELSIF target = 'cost' THEN
		IF fuzz.p(0.6) THEN
			-- a call that makes sense: cache reads and writes within the prompt
			n := fuzz.r(fuzz.pick(ARRAY[1000, 300000, 2147483647]));
			a := ARRAY[n::text, fuzz.r(fuzz.pick(ARRAY[1000, 100000, 2147483647]))::text,
					   (n / (1 + fuzz.r(4)))::text, '0'];
			IF fuzz.p(0.3) THEN a[4] := ((n - a[3]::integer) / (1 + fuzz.r(3)))::text; END IF;
			IF fuzz.p(0.2) THEN a[1] := (a[1]::bigint * (1 + fuzz.r(1000000)))::text; END IF;	-- beyond int32
		ELSE
			a := ARRAY[fuzz.bigint_arg(), fuzz.bigint_arg(), fuzz.bigint_arg(), fuzz.bigint_arg()];
			IF fuzz.p(0.5) THEN a[3] := '0'; END IF;
			IF fuzz.p(0.5) THEN a[4] := '0'; END IF;
		END IF;
		IF fuzz.p(0.08) THEN
			-- cache reads and writes whose sum leaves the bigint range
			a[3] := fuzz.pick(ARRAY['9223372036854775807', '4611686018427387904', '9223372036854775000']);
			a[4] := fuzz.pick(ARRAY['9223372036854775807', '4611686018427387904', '2', '1000']);
		END IF;
		-- K1: the sum of cache reads and writes wraps around in costopt_usage_check
		IF a[1]::numeric >= 0 AND a[2]::numeric >= 0 AND a[3]::numeric >= 0 AND a[4]::numeric >= 0
		   AND a[3]::numeric + a[4]::numeric > 9223372036854775807 THEN
			c.known := 'K1';
		END IF;
		a := ARRAY[fuzz.bigint_sql(a[1]), fuzz.bigint_sql(a[2]), fuzz.bigint_sql(a[3]), fuzz.bigint_sql(a[4])];
		CASE fuzz.r(6)
		WHEN 0, 1 THEN
			c.sql := format('SELECT fuzz.check_cost(%1$s, %3$s, %4$s, r.input_cost, r.output_cost, r.total_cost)
							   FROM costopt_request_cost(%5$s, %1$s, %2$s, %3$s, %4$s, at => %6$s, provider => %7$s, is_batch => %8$s) r',
							a[1], a[2], a[3], a[4], fuzz.model_arg(), fuzz.ts_arg(), fuzz.provider_arg(),
							fuzz.pick(ARRAY['true', 'false', 'NULL']));
		WHEN 2 THEN
			c.sql := format('SELECT CASE WHEN r.cost_status NOT IN (''priced'', ''unpriced'') THEN ''hard:price_call status '' || r.cost_status
										 ELSE fuzz.check_cost(%1$s, %3$s, %4$s, r.input_cost, r.output_cost, r.total_cost) END
							   FROM costopt.price_call(%7$s, %5$s, %6$s, %1$s, %2$s, %3$s, %4$s, %8$s) r',
							a[1], a[2], a[3], a[4], fuzz.model_arg(), fuzz.ts_arg(), fuzz.provider_arg(),
							fuzz.pick(ARRAY['true', 'false', 'NULL']));
		WHEN 3 THEN
			c.sql := format('SELECT max(fuzz.check_cost(%1$s, %3$s, %4$s, r.input_cost, r.output_cost, r.total_cost))
							   FROM costopt_compare_models(%1$s, %2$s, %3$s, %4$s, min_quality => %5$s, mode => %6$s,
														   at => %7$s, include_inactive => %8$s) r',
							a[1], a[2], a[3], a[4],
							fuzz.pick(ARRAY['NULL', 'NULL', '0', '0.5', '1', '-0.1', '1.1', '''NaN''::numeric', '''Infinity''::numeric']),
							fuzz.pick(ARRAY['''chat''', '''chat''', '''embedding''', 'NULL', '''''', '''other''', quote_literal(fuzz.weird_text())]),
							fuzz.ts_arg(), fuzz.pick(ARRAY['true', 'false', 'NULL']));
		ELSE
			a := ARRAY[fuzz.numeric_arg(), fuzz.numeric_arg(), fuzz.numeric_arg(), fuzz.numeric_arg(),
					   CASE WHEN fuzz.p(0.5) THEN '30' ELSE fuzz.numeric_arg() END];
			IF fuzz.p(0.6) THEN a[4] := '0'; END IF;
			-- K2: NaN / Infinity arguments give NaN / Infinity costs
			IF array_to_string(a, ' ') ~ 'NaN|Infinity' THEN
				c.known := 'K2';
			END IF;
			c.sql := format('SELECT max(CASE WHEN fuzz.bad_cost(r.cost_per_request) OR fuzz.bad_cost(r.daily_cost)
												  OR fuzz.bad_cost(r.monthly_cost) OR fuzz.bad_cost(r.yearly_cost)
											 THEN ''hard:monthly_projection negative or non-finite cost'' END)
							   FROM costopt_monthly_projection(%s::numeric, %s::numeric, %s::numeric, %s, %s::numeric, %s, %s::numeric) r',
							a[1], a[2], a[3], fuzz.model_arg(), a[4], fuzz.provider_arg(), a[5]);
		END CASE;

	ELSIF target = 'aggregates' THEN
		n := fuzz.series_len();
		vm := fuzz.r(9);
		tm := fuzz.r(8);
		CASE fuzz.r(6)
		WHEN 0, 1 THEN
			c.sql := format('SELECT fuzz.check_stats(%s, %s)', fuzz.vals_sql(n, vm),
							CASE WHEN n <= 400 AND fuzz.p(0.3) THEN fuzz.pick(ARRAY[0, 1, 2, 6, 30])::text ELSE 'NULL' END);
		WHEN 2 THEN
			c.sql := format('SELECT fuzz.check_combine(v, %s) FROM (SELECT %s AS v) s',
							fuzz.r(n + 2), fuzz.vals_sql(n, vm));
		WHEN 3, 4 THEN
			c.sql := format('SELECT fuzz.check_trend(array(SELECT fuzz.xts(%s, g) FROM generate_series(1, %s) g), %s, %s, %s)',
							tm, n, fuzz.vals_sql(n, vm), fuzz.ts_arg(), fuzz.level_arg());
		ELSE
			IF fuzz.p(0.5) THEN
				-- a hand-made fit
				c.sql := format('SELECT CASE WHEN p.lower > p.upper THEN ''soft:prediction interval reversed'' END
								   FROM costopt_predict(ROW(%s, %s, %s, %s, %s, %s, %s, %s)::costopt.trend_fit, %s, %s) p',
								fuzz.float_arg(), fuzz.float_arg(), fuzz.float_arg(), fuzz.float_arg(),
								fuzz.pick(ARRAY['NULL', '0', '1', '2', '3', '100', '9223372036854775807', '-5']),
								fuzz.ts_arg(), fuzz.float_arg(), fuzz.float_arg(), fuzz.ts_arg(), fuzz.level_arg());
			ELSE
				-- the state functions called by hand (K3: malformed states raise XX000)
				s := fuzz.pick(ARRAY['''{}''', '''{1}''', '''{1,2,3,4,5,6}''', '''{1,2,3,4,5,6,7,8}''',
									 '''{0,0,0,0,0,0}''', '''{-1,0,0,0,0,0}''', '''{NaN,NaN,NaN,NaN,NaN,NaN}''',
									 '''{1e308,1e308,1e308,1e308,1e308,1e308}''', '''{1,2,3,4,5,NULL}''',
									 '''{{1,2,3},{4,5,6}}''', '''{2,1,-5,0,0,0,0,0}''', '''{3,1,1,1,1,1,1e300,0}''',
									 '''{1e300,0,0,0,0,0,1e300,0}''', '''{Infinity,0,0,0,0,0,0,0}''',
									 '''[0:5]={1,1,1,1,1,1}''', 'NULL']) || '::float8[]';
				n := fuzz.r(6);
				c.sql := format((ARRAY[
					'SELECT costopt.stats_final(%1$s)::text AS r',
					'SELECT costopt.stats_final(costopt.stats_accum(%1$s, %2$s))::text AS r',
					'SELECT costopt.stats_final(costopt.stats_combine(%1$s, %1$s))::text AS r',
					'SELECT costopt.trend_final(%1$s)::text AS r',
					'SELECT costopt.trend_final(costopt.trend_accum(%1$s, ''2025-01-01'', %2$s))::text AS r',
					'SELECT costopt.trend_final(costopt.trend_combine(%1$s, %1$s))::text AS r'])[n + 1],
					s, fuzz.float_arg());
				-- malformed for this function: not one dimension of the state's
				-- length without NULLs (6 elements for stats, 8 for trend)
				EXECUTE 'SELECT ' || s INTO vals;
				IF vals IS NOT NULL AND (array_ndims(vals) IS DISTINCT FROM 1
										 OR cardinality(vals) <> CASE WHEN n < 3 THEN 6 ELSE 8 END
										 OR array_position(vals, NULL) IS NOT NULL) THEN
					c.known := 'K3';
				END IF;
				-- the result is only printed (converted to text), not checked
				c.sql := 'SELECT NULL::text FROM (' || c.sql || ') x WHERE x.r IS DISTINCT FROM ''-''';
			END IF;
		END CASE;

	ELSIF target = 'series' THEN
		n := fuzz.series_len();
		vm := fuzz.r(9);
		tm := fuzz.r(8);
		CASE fuzz.r(8)
		WHEN 0, 1, 2 THEN
			-- no huge window on huge series: the adaptive scan is O(n * window)
			c.sql := format('WITH i AS (SELECT array(SELECT fuzz.xts(%s, g) FROM generate_series(1, %s) g) AS t, %s AS v),
								  e AS (SELECT count(*) AS n FROM i, unnest(i.t, i.v) u(a, b) WHERE a IS NOT NULL AND b IS NOT NULL)
							 SELECT CASE WHEN count(*) <> (SELECT n FROM e) AND (SELECT cardinality(t) = cardinality(v) FROM i)
										 THEN ''hard:anomaly_scan row count differs from the number of points''
										 WHEN bool_or(s.is_anomaly AND (s.severity IS NULL OR s.direction IS NULL))
										 THEN ''hard:anomaly without severity or direction''
										 WHEN bool_or(s.z IN (''NaN'', ''Infinity'', ''-Infinity'')) THEN ''soft:anomaly z not finite'' END
							   FROM i, LATERAL costopt_anomaly_scan(i.t, i.v, %s, %s, %s, %s) s',
							tm, n, fuzz.vals_sql(n, vm),
							CASE WHEN fuzz.p(0.9) THEN fuzz.pick(ARRAY['''zscore''', '''robust''', '''seasonal''', '''adaptive'''])
								 ELSE fuzz.pick(ARRAY['''ZSCORE''', 'NULL', '''''', quote_literal(fuzz.weird_text())]) END,
							fuzz.threshold_arg(),
							-- K4: on sub-daily data the default window is up to 86400 points and the
							-- scan costs O(n * window * log(window)) without checking for interrupts,
							-- so long series get a small explicit window
							CASE WHEN n > 1000 THEN fuzz.pick(ARRAY['2', '28'])
								 WHEN fuzz.p(0.8) THEN fuzz.pick(ARRAY['NULL', 'NULL', '2', '3', '7', '14', '28', '60'])
								 ELSE fuzz.pick(ARRAY['0', '1', '100000', '100001', '-1', '2147483647', '-2147483648']) END,
							fuzz.pick(ARRAY['true', 'false', 'true', 'false', 'NULL']));
		WHEN 3, 4 THEN
			c.sql := format('SELECT max(fuzz.check_interval(f.predicted, f.lower, f.upper))
							   FROM costopt_forecast_series(array(SELECT fuzz.xday(%s, g) FROM generate_series(1, %s) g), %s, %s, %s, %s) f',
							tm, least(n, 4000), fuzz.vals_sql(least(n, 4000), vm),
							fuzz.horizon_arg(), fuzz.forecast_method_arg(), fuzz.level_arg());
		WHEN 5 THEN
			c.sql := format('SELECT max(fuzz.check_interval(f.predicted, f.lower, f.upper))
							   FROM costopt_forecast_series_total(array(SELECT fuzz.xday(%s, g) FROM generate_series(1, %s) g), %s, %s, %s, %s) f',
							tm, least(n, 4000), fuzz.vals_sql(least(n, 4000), vm),
							fuzz.horizon_arg(), fuzz.forecast_method_arg(), fuzz.level_arg());
		WHEN 6 THEN
			s := fuzz.horizon_arg();
			c.sql := format('SELECT CASE WHEN f.method IS NOT NULL AND cardinality(f.predicted) IS DISTINCT FROM %s
										 THEN ''hard:forecast_summary horizon and predictions differ'' END
							   FROM costopt.forecast_summary(array(SELECT fuzz.xday(%s, g) FROM generate_series(1, %s) g), %s, %s, %s, %s) f',
							s, tm, least(n, 4000), fuzz.vals_sql(least(n, 4000), vm), s,
							fuzz.forecast_method_arg(), fuzz.level_arg());
		ELSE
			-- the organisation-level functions over the fuzzed usage log
			c.sql := fuzz.pick(ARRAY[
				format('SELECT max(fuzz.check_interval(f.predicted_cost::float8, f.lower_bound::float8, f.upper_bound::float8))
						  FROM costopt_forecast(%L, %s, %s, %s) f',
					   fuzz.pick(ARRAY['acme', 'org-1', 'nobody', '', NULL]), fuzz.horizon_arg(),
					   fuzz.forecast_method_arg(), fuzz.level_arg()),
				format('SELECT max(CASE WHEN d.actual < 0 THEN ''hard:negative daily spend'' END)
						  FROM costopt_detect_anomalies(%L, %s, %s, %s, %s) d',
					   fuzz.pick(ARRAY['acme', 'org-1', 'nobody', NULL]), fuzz.pick(ARRAY['30', '1', '0', '3650', '3651', 'NULL']),
					   fuzz.threshold_arg(), fuzz.pick(ARRAY['''day''', '''hour''', '''day''', '''hour''', '''week''', 'NULL']),
					   fuzz.pick(ARRAY['''zscore''', '''robust''', '''seasonal''', '''adaptive''', '''x'''])),
				format('SELECT max(CASE WHEN f.predicted_cost < 0 THEN ''hard:negative forecast total'' END)
						  FROM costopt_forecast_total(%L, %s) f',
					   fuzz.pick(ARRAY['acme', 'org-2', 'nobody']), fuzz.pick(ARRAY['7', '30', '366']))]);
		END CASE;

	ELSIF target = 'crash_selftest' THEN
		-- not fuzzing: checks that the scripts notice and locate a crash
		-- (case 3 kills its backend with SIGSEGV; the server restarts)
		c.sql := CASE WHEN case_no = 3 THEN 'SELECT fuzz.crash_backend()' ELSE 'SELECT NULL::text' END;

	ELSE
		RAISE EXCEPTION 'unknown fuzz target "%"', target;
	END IF;

	-- Inputs that trigger a known bug which leaves lasting damage (a
	-- usage row that stops every later rollup refresh, or rollup rows
	-- under the wrong names) are left out while fuzz.avoid names the bug,
	-- so the checks made after the run keep their meaning.
	IF target LIKE 'ingest%' THEN
		IF fuzz.avoiding('K5') THEN
			c.sql := replace(c.sql, '294276-12-31', '294276-11-30');
		END IF;
		IF fuzz.avoiding('K6') THEN
			c.sql := replace(replace(replace(c.sql, chr(31), '?'), '\u001f', '\u0020'), '\u001F', '\u0020');
		END IF;
	END IF;
	RETURN c;
END;
$$;

-- For the crash_selftest target: a real crash (signal 11) of this backend.
CREATE FUNCTION fuzz.crash_backend() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'kill -SEGV ' || pg_backend_pid());
	PERFORM pg_sleep(5);
	RETURN 'hard:the backend survived SIGSEGV';
END;
$$;

-- Is the known bug k in the setting fuzz.avoid (a comma-separated list)?
CREATE FUNCTION fuzz.avoiding(k text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT k = ANY (string_to_array(replace(coalesce(current_setting('fuzz.avoid', true), ''), ' ', ''), ','))
$$;

-------------------------------------------------------------------------------
-- Runner and report
-------------------------------------------------------------------------------

CREATE FUNCTION fuzz.run(target text, seed integer, from_no integer, to_no integer,
						 trace boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	c fuzz.fcase;
	v text;
	st text;
	msg text;
	det text;
	t0 timestamptz;
	done integer := 0;
BEGIN
	FOR i IN from_no .. to_no LOOP
		BEGIN
			c := fuzz.gen(target, seed, i);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
			c := ROW('SELECT ' || quote_literal('hard:the fuzz generator failed: ' || msg), NULL);
		END;
		IF trace THEN
			RAISE NOTICE 'fuzzcase %/%/%', target, seed, i;
		END IF;
		v := NULL; st := NULL; msg := NULL; det := NULL;
		t0 := clock_timestamp();
		BEGIN
			EXECUTE c.sql INTO v;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
		END;
		INSERT INTO fuzz.outcome
		VALUES (target, seed, i, c.known, st, msg, det, v, left(c.sql, 400), length(c.sql),
				extract(epoch FROM clock_timestamp() - t0) * 1000)
		ON CONFLICT ON CONSTRAINT outcome_pkey DO UPDATE
		   SET known = excluded.known, sqlstate = excluded.sqlstate, message = excluded.message,
			   detail = excluded.detail, violation = excluded.violation, input = excluded.input,
			   input_len = excluded.input_len, ms = excluded.ms;
		done := done + 1;
	END LOOP;
	RETURN done;
END;
$$;

-- What one case came to, for the histogram.
CREATE FUNCTION fuzz.kind(o fuzz.outcome) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN o.sqlstate IS NOT NULL THEN o.sqlstate
		WHEN o.violation IS NULL THEN 'ok'
		ELSE 'ok, ' || o.violation
	END
$$;

-- Outcomes per target and kind, with a sample message and input.
CREATE VIEW fuzz.histogram AS
SELECT o.target, fuzz.kind(o) AS kind, count(*) AS cases,
	   string_agg(DISTINCT o.known, ',') AS known,
	   (array_agg(o.message ORDER BY o.case_no) FILTER (WHERE o.message IS NOT NULL))[1] AS sample_message,
	   min(o.case_no) AS first_case,
	   round(sum(o.ms)::numeric / 1000, 1) AS seconds
  FROM fuzz.outcome o
 GROUP BY 1, 2;

-- Failures: what the test asserts there is none of.
CREATE VIEW fuzz.failures AS
SELECT o.*, CASE
		WHEN o.sqlstate LIKE 'XX%' THEN 'internal error'
		WHEN o.sqlstate IS NOT NULL AND left(o.sqlstate, 2) NOT IN (SELECT class FROM fuzz.allowed_class)
			THEN 'unexpected SQLSTATE class'
		WHEN o.sqlstate IS NOT NULL AND coalesce(o.message, '') = '' THEN 'error without a message'
		WHEN o.violation LIKE 'hard:%' THEN 'wrong result'
	END AS failure
  FROM fuzz.outcome o
 WHERE o.sqlstate LIKE 'XX%'
	OR (o.sqlstate IS NOT NULL AND left(o.sqlstate, 2) NOT IN (SELECT class FROM fuzz.allowed_class))
	OR (o.sqlstate IS NOT NULL AND coalesce(o.message, '') = '')
	OR o.violation LIKE 'hard:%';

CREATE FUNCTION fuzz.report() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
	SELECT format('%-15s %-62s %6s  %s', target, left(kind, 62), cases,
				  coalesce('e.g. ' || left(regexp_replace(sample_message, '\s+', ' ', 'g'), 70), ''))
	  FROM fuzz.histogram
	 ORDER BY target, (kind = 'ok') DESC, cases DESC, kind
$$;
