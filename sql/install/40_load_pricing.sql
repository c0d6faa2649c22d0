-------------------------------------------------------------------------------
-- Importing a price catalog in LiteLLM's format
-------------------------------------------------------------------------------

-- LiteLLM provider ids to costopt provider names.
CREATE FUNCTION costopt.canonical_provider(litellm_provider text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN p = 'gemini' THEN 'google'
		WHEN p LIKE 'vertex_ai%' THEN 'vertex_ai'
		WHEN p = 'bedrock_converse' THEN 'bedrock'
		ELSE p
	END
	FROM (SELECT lower(btrim(litellm_provider)) AS p) s
$$;

COMMENT ON FUNCTION costopt.canonical_provider(text) IS
	'costopt provider name for a LiteLLM provider id (gemini becomes google, vertex_ai-* vertex_ai)';

-- A price field of a catalog entry as USD per million tokens.  JSON numbers
-- arrive as exact numerics (jsonb keeps the literal's digits); strings that
-- hold a number are accepted too, as LiteLLM does.
CREATE FUNCTION costopt.catalog_price(entry jsonb, field text, model_key text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb := entry -> field;
	n numeric;
BEGIN
	IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) = 'number' THEN
		n := v::numeric;
	ELSIF jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$' THEN
		n := (v #>> '{}')::numeric;
	ELSE
		RAISE EXCEPTION 'price "%" of catalog entry "%" is not a number', field, model_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The value is %s.', v);
	END IF;
	IF n < 0 OR n = 'NaN' THEN
		RAISE EXCEPTION 'price "%" of catalog entry "%" must not be negative', field, model_key
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The value is %s.', v);
	END IF;
	RETURN n * 1000000;
END;
$$;

COMMENT ON FUNCTION costopt.catalog_price(jsonb, text, text) IS
	'A per-token price field of a LiteLLM catalog entry, as USD per million tokens';

-- A token limit of a catalog entry (integers; some catalogs write 2000000.0).
CREATE FUNCTION costopt.catalog_limit(entry jsonb, field text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN jsonb_typeof(entry -> field) = 'number'
					 AND (entry ->> field)::numeric BETWEEN 1 AND 2147483647
				THEN round((entry ->> field)::numeric)::integer END
$$;

COMMENT ON FUNCTION costopt.catalog_limit(jsonb, text) IS
	'A token limit field of a LiteLLM catalog entry, as integer (NULL when absent or out of range)';

-- Imports a catalog in LiteLLM's model_prices_and_context_window.json format
-- as price versions in force from effective_from.  Per model:
--   unchanged  the version in force then already has these prices;
--   updated    a version starting exactly at effective_from was overwritten;
--   inserted   a new version was added (it supersedes the one in force);
--   skipped    the entry has no per-token prices (images, audio seconds,
--              tiered_pricing lists), is not a model (sample_spec), its
--              provider is not in 'providers', an earlier key of the same
--              catalog named the same model, a version with an explicit
--              effective_to is in force then, or the change would overwrite
--              a seed version (a WARNING names the last two).
-- Context window, output limit and mode are corrected in place (counted as
-- updated) when only they changed.
-- Quality scores, tiers and notes of existing versions are kept.
CREATE FUNCTION @extschema@.costopt_load_pricing(catalog jsonb,
												 effective_from timestamptz DEFAULT now(),
												 providers text[] DEFAULT NULL,
												 source text DEFAULT 'litellm',
												 OUT inserted integer, OUT updated integer,
												 OUT unchanged integer, OUT skipped integer)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	entry record;
	e jsonb;
	prov text;
	model text;
	first_seg text;
	threshold integer;
	lc_key text;
	cur costopt.model_pricing;
	new_row costopt.model_pricing;
	mode_val text;
	seen text[] := ARRAY[]::text[];
BEGIN
	inserted := 0; updated := 0; unchanged := 0; skipped := 0;

	IF catalog IS NULL OR effective_from IS NULL THEN
		RAISE EXCEPTION 'arguments "catalog" and "effective_from" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF jsonb_typeof(catalog) <> 'object' THEN
		RAISE EXCEPTION 'a price catalog must be a JSON object keyed by model name'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The catalog is a JSON %s.', jsonb_typeof(catalog)),
				  HINT = 'Pass the content of LiteLLM''s model_prices_and_context_window.json.';
	END IF;
	IF NOT isfinite(effective_from) AND effective_from <> '-infinity' THEN
		RAISE EXCEPTION 'effective_from must be a finite time or -infinity'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	FOR entry IN SELECT key, value FROM jsonb_each(catalog) ORDER BY key LOOP
		e := entry.value;
		IF entry.key IN ('sample_spec', 'fallback_generalizations') THEN
			skipped := skipped + 1;
			CONTINUE;
		END IF;
		IF jsonb_typeof(e) <> 'object' THEN
			RAISE EXCEPTION 'catalog entry "%" is not a JSON object', entry.key
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('It is a JSON %s.', jsonb_typeof(e));
		END IF;
		IF NOT (e ? 'input_cost_per_token') OR NOT (e ? 'output_cost_per_token')
		   OR e ? 'tiered_pricing' THEN
			skipped := skipped + 1;
			CONTINUE;
		END IF;
		IF jsonb_typeof(e -> 'litellm_provider') IS DISTINCT FROM 'string' THEN
			RAISE EXCEPTION 'catalog entry "%" has no "litellm_provider"', entry.key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;

		prov := costopt.canonical_provider(e ->> 'litellm_provider');
		IF providers IS NOT NULL AND NOT (prov = ANY (providers)
										  OR (e ->> 'litellm_provider') = ANY (providers)) THEN
			skipped := skipped + 1;
			CONTINUE;
		END IF;

		model := lower(btrim(entry.key));
		first_seg := split_part(model, '/', 1);
		IF position('/' IN model) > 0
		   AND first_seg IN (prov, lower(e ->> 'litellm_provider'),
							 split_part(lower(e ->> 'litellm_provider'), '-', 1)) THEN
			model := substr(model, length(first_seg) + 2);
		END IF;
		IF length(model) > 200 OR length(prov) > 64 OR model = '' THEN
			skipped := skipped + 1;
			CONTINUE;
		END IF;
		-- two keys naming the same model ("x" and "gemini/x"): the first wins
		IF (prov || '/' || model) = ANY (seen) THEN
			skipped := skipped + 1;
			CONTINUE;
		END IF;
		seen := seen || (prov || '/' || model);

		mode_val := coalesce(e ->> 'mode', 'chat');
		IF mode_val NOT IN ('chat', 'completion', 'responses', 'embedding', 'rerank', 'moderation',
							'audio_transcription', 'audio_speech', 'image_generation') THEN
			mode_val := 'other';
		END IF;

		-- the lowest long-context threshold (the pinned catalog has at most one)
		SELECT (regexp_match(k, '^input_cost_per_token_above_(\d+)k_tokens$'))[1]::integer * 1000, k
		  INTO threshold, lc_key
		  FROM jsonb_object_keys(e) k
		 WHERE k ~ '^input_cost_per_token_above_\d+k_tokens$'
		 ORDER BY 1
		 LIMIT 1;

		new_row := NULL;
		new_row.provider := prov;
		new_row.model_name := model;
		new_row.mode := mode_val;
		new_row.input_price := costopt.catalog_price(e, 'input_cost_per_token', entry.key);
		new_row.output_price := costopt.catalog_price(e, 'output_cost_per_token', entry.key);
		new_row.cache_read_price := coalesce(costopt.catalog_price(e, 'cache_read_input_token_cost', entry.key),
											 costopt.catalog_price(e, 'input_cost_per_token_cache_hit', entry.key));
		new_row.cache_write_price := costopt.catalog_price(e, 'cache_creation_input_token_cost', entry.key);
		IF threshold IS NOT NULL THEN
			new_row.long_context_threshold := threshold;
			new_row.long_context_input_price := costopt.catalog_price(e, lc_key, entry.key);
			new_row.long_context_output_price :=
				costopt.catalog_price(e, format('output_cost_per_token_above_%sk_tokens', threshold / 1000), entry.key);
			new_row.long_context_cache_read_price :=
				costopt.catalog_price(e, format('cache_read_input_token_cost_above_%sk_tokens', threshold / 1000), entry.key);
			new_row.long_context_cache_write_price :=
				costopt.catalog_price(e, format('cache_creation_input_token_cost_above_%sk_tokens', threshold / 1000), entry.key);
		END IF;
		new_row.batch_input_price := costopt.catalog_price(e, 'input_cost_per_token_batches', entry.key);
		new_row.batch_output_price := costopt.catalog_price(e, 'output_cost_per_token_batches', entry.key);
		new_row.context_window := coalesce(costopt.catalog_limit(e, 'max_input_tokens'),
										   costopt.catalog_limit(e, 'max_tokens'));
		new_row.max_output_tokens := costopt.catalog_limit(e, 'max_output_tokens');

		-- the version in force at effective_from
		SELECT mp.* INTO cur
		  FROM costopt.model_pricing mp
		 WHERE mp.provider = prov AND mp.model_name = model
		   AND mp.effective_from <= costopt_load_pricing.effective_from
		 ORDER BY mp.effective_from DESC
		 LIMIT 1;

		IF FOUND AND (cur.effective_to IS NULL OR costopt_load_pricing.effective_from < cur.effective_to)
		   AND (cur.input_price, cur.output_price, cur.cache_read_price, cur.cache_write_price,
				cur.long_context_threshold, cur.long_context_input_price, cur.long_context_output_price,
				cur.long_context_cache_read_price, cur.long_context_cache_write_price,
				cur.batch_input_price, cur.batch_output_price)
			   IS NOT DISTINCT FROM
			   (new_row.input_price, new_row.output_price, new_row.cache_read_price, new_row.cache_write_price,
				new_row.long_context_threshold, new_row.long_context_input_price, new_row.long_context_output_price,
				new_row.long_context_cache_read_price, new_row.long_context_cache_write_price,
				new_row.batch_input_price, new_row.batch_output_price) THEN
			-- same prices; limits and mode are facts about the model, not price
			-- history, so they are corrected in place
			-- (a catalog that omits a limit does not blank it; seed rows are
			-- left alone: the install script owns them)
			IF cur.source <> 'seed'
			   AND (cur.context_window, cur.max_output_tokens, cur.mode)
				   IS DISTINCT FROM (coalesce(new_row.context_window, cur.context_window),
									 coalesce(new_row.max_output_tokens, cur.max_output_tokens),
									 new_row.mode) THEN
				UPDATE costopt.model_pricing mp
				   SET context_window = coalesce(new_row.context_window, mp.context_window),
					   max_output_tokens = coalesce(new_row.max_output_tokens, mp.max_output_tokens),
					   mode = new_row.mode
				 WHERE mp.id = cur.id;
				updated := updated + 1;
			ELSE
				unchanged := unchanged + 1;
			END IF;
		ELSIF FOUND AND cur.effective_to IS NOT NULL
			  AND cur.effective_from < costopt_load_pricing.effective_from
			  AND costopt_load_pricing.effective_from < cur.effective_to THEN
			-- a version with an explicit end is in force then: a new version
			-- would overlap it, so leave this model to be corrected by hand
			RAISE WARNING 'price of "%" (provider "%") not loaded: version % runs from % to %',
				model, prov, cur.id, cur.effective_from, cur.effective_to
				USING HINT = 'Load with an effective_from outside that range, or edit the version.';
			skipped := skipped + 1;
		ELSIF FOUND AND cur.effective_from = costopt_load_pricing.effective_from AND cur.source = 'seed' THEN
			-- seed rows are recreated by CREATE EXTENSION and not dumped, so a
			-- change to them would be lost: add a version with its own start
			RAISE WARNING 'price of "%" (provider "%") not loaded: it would overwrite a seed version starting at %',
				model, prov, cur.effective_from
				USING HINT = 'Load with a later effective_from; the new version supersedes the seed price from then on.';
			skipped := skipped + 1;
		ELSIF FOUND AND cur.effective_from = costopt_load_pricing.effective_from THEN
			UPDATE costopt.model_pricing mp
			   SET input_price = new_row.input_price,
				   output_price = new_row.output_price,
				   cache_read_price = new_row.cache_read_price,
				   cache_write_price = new_row.cache_write_price,
				   long_context_threshold = new_row.long_context_threshold,
				   long_context_input_price = new_row.long_context_input_price,
				   long_context_output_price = new_row.long_context_output_price,
				   long_context_cache_read_price = new_row.long_context_cache_read_price,
				   long_context_cache_write_price = new_row.long_context_cache_write_price,
				   batch_input_price = new_row.batch_input_price,
				   batch_output_price = new_row.batch_output_price,
				   context_window = coalesce(new_row.context_window, mp.context_window),
				   max_output_tokens = coalesce(new_row.max_output_tokens, mp.max_output_tokens),
				   mode = new_row.mode,
				   source = costopt_load_pricing.source
			 WHERE mp.id = cur.id;
			updated := updated + 1;
		ELSE
			INSERT INTO costopt.model_pricing
				(provider, model_name, model_tier, mode, input_price, output_price,
				 cache_read_price, cache_write_price, long_context_threshold,
				 long_context_input_price, long_context_output_price,
				 long_context_cache_read_price, long_context_cache_write_price,
				 batch_input_price, batch_output_price, context_window, max_output_tokens,
				 quality_score, is_active, replacement_model, notes, source, effective_from)
			VALUES
				(prov, model, cur.model_tier, new_row.mode, new_row.input_price, new_row.output_price,
				 new_row.cache_read_price, new_row.cache_write_price, new_row.long_context_threshold,
				 new_row.long_context_input_price, new_row.long_context_output_price,
				 new_row.long_context_cache_read_price, new_row.long_context_cache_write_price,
				 new_row.batch_input_price, new_row.batch_output_price, new_row.context_window,
				 new_row.max_output_tokens, cur.quality_score, coalesce(cur.is_active, true),
				 cur.replacement_model, cur.notes, costopt_load_pricing.source,
				 costopt_load_pricing.effective_from);
			inserted := inserted + 1;
		END IF;
	END LOOP;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_load_pricing(jsonb, timestamptz, text[], text) IS
	'Imports a LiteLLM-format price catalog as price versions in force from effective_from';
