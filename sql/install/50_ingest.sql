-------------------------------------------------------------------------------
-- Usage capture from provider responses
-------------------------------------------------------------------------------

-- A token count from a usage block: absent or JSON null gives NULL; anything
-- that is not a whole number in [0, 2^31-1] is an error naming the field.
CREATE FUNCTION costopt.usage_count(usage jsonb, path text[])
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := usage #> path;
	n numeric;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'number' THEN
		RAISE EXCEPTION 'usage field "%" is not a number', array_to_string(path, '.')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The value is %s.', v);
	END IF;
	n := v::numeric;
	IF n <> trunc(n) OR n < 0 THEN
		RAISE EXCEPTION 'usage field "%" must be a non-negative whole number', array_to_string(path, '.')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The value is %s.', v);
	END IF;
	IF n > 2147483647 THEN
		RAISE EXCEPTION 'usage field "%" is out of range for a token count', array_to_string(path, '.')
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = format('The value is %s; token counts are limited to 2147483647 per call.', v);
	END IF;
	RETURN n::integer;
END;
$$;

COMMENT ON FUNCTION costopt.usage_count(jsonb, text[]) IS
	'A token count from a provider usage block, validated (22023 / 22003 on bad values)';

-- Rough token count of a text: about four characters per token for English
-- prose and code, the rule of thumb OpenAI and Anthropic document.
CREATE FUNCTION costopt.estimate_tokens(content text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN content IS NULL OR content = '' THEN 0
				ELSE least(ceil(length(content) / 4.0), 2147483647)::integer END
$$;

COMMENT ON FUNCTION costopt.estimate_tokens(text) IS
	'Rough token count of a text: one token per four characters';

-- All string values under a JSON document, concatenated (for estimates).
CREATE FUNCTION costopt.json_text(doc jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT string_agg(v #>> '{}', ' ')
	  FROM jsonb_path_query(doc, 'strict $.**') v
	 WHERE jsonb_typeof(v) = 'string'
$$;

COMMENT ON FUNCTION costopt.json_text(jsonb) IS
	'All string values of a JSON document, concatenated (for token estimates)';

-- Normalises a provider response to costopt's token convention and inserts
-- one priced usage row.  Recognised shapes (detected from the payload, the
-- provider argument only labels the row):
--   OpenAI chat completions / embeddings: usage.prompt_tokens,
--     completion_tokens, prompt_tokens_details.cached_tokens,
--     completion_tokens_details.reasoning_tokens
--   OpenAI Responses API: usage.input_tokens, output_tokens,
--     input_tokens_details.cached_tokens, output_tokens_details.reasoning_tokens
--   Anthropic Messages: usage.input_tokens (uncached only),
--     cache_creation_input_tokens, cache_read_input_tokens, output_tokens
--   Gemini: usageMetadata.promptTokenCount, candidatesTokenCount,
--     cachedContentTokenCount, thoughtsTokenCount (billed as output)
-- A response with no usage block is stored with token counts estimated from
-- the text (request and response) and cost_status 'estimated'; an error
-- response ({"error": ...}) is stored with status 'error'.
CREATE FUNCTION @extschema@.costopt_ingest(provider text,
										   response jsonb,
										   organization_id text,
										   user_id text DEFAULT NULL,
										   tags jsonb DEFAULT '{}',
										   project text DEFAULT NULL,
										   request jsonb DEFAULT NULL,
										   latency_ms integer DEFAULT NULL,
										   created_at timestamptz DEFAULT now(),
										   model text DEFAULT NULL,
										   reservation_id bigint DEFAULT NULL)
RETURNS costopt.api_usage_logs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u jsonb;
	shape text;
	in_tok integer;
	out_tok integer;
	cached integer := 0;
	cache_write integer := 0;
	reasoning integer := 0;
	anth_in integer;
	status_val text := 'success';
	err text;
	op text := 'chat';
	estimated boolean := false;
	model_val text;
	row_out costopt.api_usage_logs;
BEGIN
	IF response IS NULL OR organization_id IS NULL OR created_at IS NULL THEN
		RAISE EXCEPTION 'arguments "response", "organization_id" and "created_at" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF jsonb_typeof(response) <> 'object' THEN
		RAISE EXCEPTION 'a provider response must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The response is a JSON %s.', jsonb_typeof(response));
	END IF;
	IF tags IS NULL OR jsonb_typeof(tags) <> 'object' THEN
		RAISE EXCEPTION 'tags must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF request IS NOT NULL AND jsonb_typeof(request) <> 'object' THEN
		RAISE EXCEPTION 'a request must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	model_val := coalesce(model, response ->> 'model', response ->> 'modelVersion',
						  request ->> 'model');
	IF model_val IS NULL OR btrim(model_val) = '' THEN
		RAISE EXCEPTION 'cannot tell which model served the call'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Neither the response (model, modelVersion) nor the request names a model.',
				  HINT = 'Pass the model argument.';
	END IF;

	-- which payload shape is this?
	IF jsonb_typeof(response -> 'usageMetadata') = 'object' THEN
		shape := 'gemini';
		u := response -> 'usageMetadata';
	ELSIF jsonb_typeof(response -> 'usage') = 'object' THEN
		u := response -> 'usage';
		IF u ? 'prompt_tokens' THEN
			shape := 'openai_chat';
		ELSIF u ? 'input_tokens' AND (u ? 'cache_creation_input_tokens' OR u ? 'cache_read_input_tokens'
									  OR response ->> 'type' = 'message') THEN
			shape := 'anthropic';
		ELSIF u ? 'input_tokens' AND (u ? 'input_tokens_details' OR response ->> 'object' = 'response') THEN
			shape := 'openai_responses';
		ELSIF u ? 'input_tokens' AND lower(coalesce(provider, '')) = 'anthropic' THEN
			shape := 'anthropic';
		ELSIF u ? 'input_tokens' THEN
			shape := 'openai_responses';
		ELSE
			RAISE EXCEPTION 'unrecognised usage block in % response', coalesce(provider, 'provider')
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('usage has the keys %s.',
									  (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(u) k)),
					  HINT = 'costopt reads OpenAI (chat completions, Responses API), Anthropic and Gemini usage blocks.';
		END IF;
	ELSIF response ? 'usage' OR response ? 'usageMetadata' THEN
		RAISE EXCEPTION 'the usage block of a response must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF response ? 'error' THEN
		shape := 'error';
	ELSE
		shape := 'estimate';
	END IF;

	IF response ? 'error' AND jsonb_typeof(response -> 'error') IS DISTINCT FROM 'null' THEN
		status_val := 'error';
		err := coalesce(response #>> '{error,message}', response ->> 'error');
	END IF;

	CASE shape
	WHEN 'openai_chat' THEN
		in_tok := costopt.usage_count(u, '{prompt_tokens}');
		out_tok := coalesce(costopt.usage_count(u, '{completion_tokens}'), 0);
		cached := coalesce(costopt.usage_count(u, '{prompt_tokens_details,cached_tokens}'), 0);
		reasoning := coalesce(costopt.usage_count(u, '{completion_tokens_details,reasoning_tokens}'), 0);
		IF response ->> 'object' = 'list' OR NOT (u ? 'completion_tokens') THEN
			op := 'embedding';
		END IF;
	WHEN 'openai_responses' THEN
		in_tok := costopt.usage_count(u, '{input_tokens}');
		out_tok := coalesce(costopt.usage_count(u, '{output_tokens}'), 0);
		cached := coalesce(costopt.usage_count(u, '{input_tokens_details,cached_tokens}'), 0);
		reasoning := coalesce(costopt.usage_count(u, '{output_tokens_details,reasoning_tokens}'), 0);
	WHEN 'anthropic' THEN
		anth_in := costopt.usage_count(u, '{input_tokens}');
		cache_write := coalesce(costopt.usage_count(u, '{cache_creation_input_tokens}'), 0);
		cached := coalesce(costopt.usage_count(u, '{cache_read_input_tokens}'), 0);
		out_tok := coalesce(costopt.usage_count(u, '{output_tokens}'), 0);
		IF anth_in IS NOT NULL THEN
			IF anth_in::bigint + cache_write + cached > 2147483647 THEN
				RAISE EXCEPTION 'prompt of % tokens is out of range for a token count',
					anth_in::bigint + cache_write + cached
					USING ERRCODE = 'numeric_value_out_of_range';
			END IF;
			-- Anthropic's input_tokens excludes both cache counters
			in_tok := anth_in + cache_write + cached;
		END IF;
	WHEN 'gemini' THEN
		in_tok := costopt.usage_count(u, '{promptTokenCount}');
		out_tok := coalesce(costopt.usage_count(u, '{candidatesTokenCount}'), 0);
		cached := coalesce(costopt.usage_count(u, '{cachedContentTokenCount}'), 0);
		reasoning := coalesce(costopt.usage_count(u, '{thoughtsTokenCount}'), 0);
		IF out_tok::bigint + reasoning > 2147483647 THEN
			RAISE EXCEPTION 'output of % tokens is out of range for a token count',
				out_tok::bigint + reasoning
				USING ERRCODE = 'numeric_value_out_of_range';
		END IF;
		-- Gemini bills thinking tokens as output but reports them apart
		out_tok := out_tok + reasoning;
	WHEN 'error' THEN
		in_tok := 0;
		out_tok := 0;
	ELSE
		-- no usage block: estimate from the text
		in_tok := costopt.estimate_tokens(costopt.json_text(coalesce(request -> 'messages',
																	 request -> 'input',
																	 request -> 'contents',
																	 request -> 'prompt')));
		out_tok := costopt.estimate_tokens(costopt.json_text(coalesce(response -> 'choices',
																	  response -> 'content',
																	  response -> 'output',
																	  response -> 'candidates',
																	  response -> 'text')));
		estimated := true;
	END CASE;

	IF in_tok IS NULL THEN
		RAISE EXCEPTION 'usage block of % response has no prompt token count', coalesce(provider, 'the')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('usage is %s.', u);
	END IF;
	IF cached::bigint + cache_write > in_tok THEN
		RAISE EXCEPTION 'cached tokens (%) exceed the prompt (%)', cached + cache_write, in_tok
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('usage is %s.', u);
	END IF;
	IF reasoning > out_tok THEN
		-- reasoning reported outside the completion (xAI style): bill both
		out_tok := out_tok + reasoning;
	END IF;

	INSERT INTO costopt.api_usage_logs
		(created_at, organization_id, user_id, project, tags, provider, model, operation,
		 input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
		 latency_ms, status, error_message, request_hash, tokens_estimated, reservation_id)
	VALUES
		(costopt_ingest.created_at, costopt_ingest.organization_id, costopt_ingest.user_id,
		 costopt_ingest.project, costopt_ingest.tags, lower(nullif(btrim(costopt_ingest.provider), '')),
		 model_val, op, in_tok, out_tok, cached, cache_write, reasoning,
		 costopt_ingest.latency_ms, status_val, err,
		 CASE WHEN request IS NOT NULL THEN md5(request::text) END,
		 estimated, costopt_ingest.reservation_id)
	RETURNING * INTO row_out;
	RETURN row_out;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_ingest(text, jsonb, text, text, jsonb, text, jsonb, integer, timestamptz, text, bigint) IS
	'Stores one priced usage row from an OpenAI, Anthropic or Gemini response';
