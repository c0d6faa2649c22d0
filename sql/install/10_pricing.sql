-------------------------------------------------------------------------------
-- Price catalog: validation, invalidation, name resolution
-------------------------------------------------------------------------------

-- Normalises names and refuses overlapping versions of one model.  A
-- version's span is [effective_from, effective_to), where a NULL
-- effective_to means "until the next version starts"; two versions overlap
-- when they start at the same time or when an explicit effective_to runs
-- past the start of a later version.
CREATE FUNCTION costopt.model_pricing_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other record;
BEGIN
	NEW.provider := lower(btrim(NEW.provider));
	NEW.model_name := lower(btrim(NEW.model_name));
	IF TG_OP = 'UPDATE' THEN
		NEW.updated_at := now();
	END IF;

	-- serialise writers of the same model so the check sees each other
	PERFORM pg_advisory_xact_lock(hashtext('costopt.model_pricing'),
								  hashtext(NEW.provider || '/' || NEW.model_name));

	SELECT o.id, o.effective_from, o.effective_to INTO other
	  FROM costopt.model_pricing o
	 WHERE o.provider = NEW.provider
	   AND o.model_name = NEW.model_name
	   AND o.id IS DISTINCT FROM NEW.id
	   AND (o.effective_from = NEW.effective_from
			OR (o.effective_from < NEW.effective_from
				AND o.effective_to IS NOT NULL AND o.effective_to > NEW.effective_from)
			OR (NEW.effective_from < o.effective_from
				AND NEW.effective_to IS NOT NULL AND NEW.effective_to > o.effective_from))
	 ORDER BY o.effective_from
	 LIMIT 1;

	IF FOUND THEN
		RAISE EXCEPTION 'price of "%" (provider "%") overlaps an existing price version',
			NEW.model_name, NEW.provider
			USING ERRCODE = 'exclusion_violation',
				  DETAIL = format('The new version starts at %s%s; version %s runs from %s%s.',
								  NEW.effective_from,
								  CASE WHEN NEW.effective_to IS NULL THEN ''
									   ELSE ' and ends at ' || NEW.effective_to END,
								  other.id, other.effective_from,
								  CASE WHEN other.effective_to IS NULL THEN ' until the next version'
									   ELSE ' to ' || other.effective_to END),
				  HINT = 'Give each version its own effective_from; end an earlier version before a later one starts, or leave its effective_to NULL.';
	END IF;
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION costopt.model_pricing_check() IS
	'Trigger: normalises names and refuses overlapping price versions (SQLSTATE 23P01)';

CREATE TRIGGER model_pricing_check
	BEFORE INSERT OR UPDATE ON costopt.model_pricing
	FOR EACH ROW EXECUTE FUNCTION costopt.model_pricing_check();

CREATE FUNCTION costopt.model_aliases_normalize()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	NEW.alias := lower(btrim(NEW.alias));
	NEW.provider := lower(btrim(NEW.provider));
	NEW.target_provider := lower(btrim(NEW.target_provider));
	NEW.target_model := lower(btrim(NEW.target_model));
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION costopt.model_aliases_normalize() IS
	'Trigger: lower-cases and trims alias names';

CREATE TRIGGER model_aliases_normalize
	BEFORE INSERT OR UPDATE ON costopt.model_aliases
	FOR EACH ROW EXECUTE FUNCTION costopt.model_aliases_normalize();

-- Tells every backend's pricing cache that prices changed (at commit).
CREATE FUNCTION costopt.pricing_invalidate()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'costopt_pricing_invalidate';

COMMENT ON FUNCTION costopt.pricing_invalidate() IS
	'Statement trigger: tells every backend''s pricing cache that prices changed';

CREATE TRIGGER model_pricing_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON costopt.model_pricing
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.pricing_invalidate();
CREATE TRIGGER model_aliases_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON costopt.model_aliases
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.pricing_invalidate();

-- Model makers first: when a name is priced by several providers (OpenAI's
-- gpt-4o is also sold by Azure and OpenRouter) and the usage row names no
-- provider with a price for it, the maker's own price list is used.
CREATE FUNCTION costopt.provider_rank(provider text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_position(ARRAY['openai', 'anthropic', 'google', 'meta', 'mistral',
										 'cohere', 'deepseek', 'xai', 'amazon'], provider), 100)
$$;

COMMENT ON FUNCTION costopt.provider_rank(text) IS
	'Preference of a provider when a model name is priced by several (model makers first)';

-- Resolves a reported (provider, model) to a catalog (provider, model_name).
-- Rules, first match wins, each tried on the name as reported and again
-- after removing a leading "<prefix>/" (OpenRouter style, "openai/gpt-4o";
-- the prefix stands in for a missing provider) and then a trailing date or
-- version stamp ("-2024-08-06", "-20240229", "-0613", "-001", "@20240229"):
--   1. an alias for that provider, then an alias for any provider;
--   2. a catalog model of that provider;
--   3. a catalog model of any provider: the model's maker first (see
--      costopt.provider_rank), then the provider with the most recent
--      version, then by provider name.
-- Returns one row; both columns NULL when nothing matches.
CREATE FUNCTION costopt.resolve_model(provider text, model text,
									  OUT catalog_provider text, OUT catalog_model text)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p text := nullif(lower(btrim(resolve_model.provider)), '');
	m text := lower(btrim(resolve_model.model));
	names text[];
	candidate text;
	stripped text;
BEGIN
	IF m IS NULL OR m = '' THEN
		RETURN;
	END IF;

	names := ARRAY[m];
	IF position('/' IN m) > 0 THEN
		stripped := substr(m, length(split_part(m, '/', 1)) + 2);
		IF p IS NULL THEN
			p := split_part(m, '/', 1);
		END IF;
		names := names || stripped;
		-- deeper prefixes (openrouter/openai/gpt-4o)
		WHILE position('/' IN stripped) > 0 LOOP
			stripped := substr(stripped, length(split_part(stripped, '/', 1)) + 2);
			names := names || stripped;
		END LOOP;
	END IF;
	stripped := regexp_replace(names[array_length(names, 1)],
							   '([-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3}))$', '');
	IF stripped <> names[array_length(names, 1)] THEN
		names := names || stripped;
	END IF;

	FOREACH candidate IN ARRAY names LOOP
		SELECT a.target_provider, a.target_model INTO catalog_provider, catalog_model
		  FROM costopt.model_aliases a
		 WHERE a.alias = candidate AND (a.provider = p OR a.provider IS NULL)
		 ORDER BY a.provider IS NULL
		 LIMIT 1;
		IF FOUND THEN
			RETURN;
		END IF;

		IF p IS NOT NULL THEN
			SELECT mp.provider, mp.model_name INTO catalog_provider, catalog_model
			  FROM costopt.model_pricing mp
			 WHERE mp.provider = p AND mp.model_name = candidate
			 LIMIT 1;
			IF FOUND THEN
				RETURN;
			END IF;
		END IF;

		SELECT mp.provider, mp.model_name INTO catalog_provider, catalog_model
		  FROM costopt.model_pricing mp
		 WHERE mp.model_name = candidate
		 GROUP BY mp.provider, mp.model_name
		 ORDER BY costopt.provider_rank(mp.provider), max(mp.effective_from) DESC, mp.provider
		 LIMIT 1;
		IF FOUND THEN
			RETURN;
		END IF;
	END LOOP;

	catalog_provider := NULL;
	catalog_model := NULL;
END;
$$;

COMMENT ON FUNCTION costopt.resolve_model(text, text) IS
	'Catalog (provider, model_name) that a reported provider and model name are priced as';

-- The price version in force for a reported model at a time, or no row.
CREATE FUNCTION costopt.price_at(provider text, model text, at timestamptz)
RETURNS SETOF costopt.model_pricing
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.*
	  FROM costopt.resolve_model(price_at.provider, price_at.model) r,
		   LATERAL (SELECT mp.*
					  FROM costopt.model_pricing mp
					 WHERE mp.provider = r.catalog_provider
					   AND mp.model_name = r.catalog_model
					   AND mp.effective_from <= price_at.at
					 ORDER BY mp.effective_from DESC
					 LIMIT 1) v
	 WHERE v.effective_to IS NULL OR price_at.at < v.effective_to
$$;

COMMENT ON FUNCTION costopt.price_at(text, text, timestamptz) IS
	'The model_pricing version in force for a reported model at a time';
