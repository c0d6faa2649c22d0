-------------------------------------------------------------------------------
-- Pricing functions: what a call costs, which model is cheapest
-------------------------------------------------------------------------------

-- Prices token counts exactly as the costing trigger does.  An unknown model
-- gives NULL costs and cost_status 'unpriced'.
CREATE FUNCTION costopt.price_call(provider text, model text, at timestamptz,
								   input_tokens bigint, output_tokens bigint,
								   cached_tokens bigint, cache_write_tokens bigint,
								   is_batch boolean,
								   OUT input_cost numeric, OUT output_cost numeric,
								   OUT total_cost numeric, OUT pricing_id bigint,
								   OUT cost_status text, OUT catalog_provider text,
								   OUT catalog_model text)
RETURNS record
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'costopt_price_call';

COMMENT ON FUNCTION costopt.price_call(text, text, timestamptz, bigint, bigint, bigint, bigint, boolean) IS
	'Cost of one call, computed exactly as the costing trigger does';

-- The cost of one request.
CREATE FUNCTION @extschema@.costopt_request_cost(model text,
												 input_tokens bigint,
												 output_tokens bigint,
												 cached_tokens bigint DEFAULT 0,
												 cache_write_tokens bigint DEFAULT 0,
												 at timestamptz DEFAULT now(),
												 provider text DEFAULT NULL,
												 is_batch boolean DEFAULT false,
												 OUT input_cost numeric,
												 OUT output_cost numeric,
												 OUT total_cost numeric)
RETURNS record
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pc record;
BEGIN
	pc := costopt.price_call(provider, model, at, input_tokens, output_tokens,
							 cached_tokens, cache_write_tokens, is_batch);
	IF pc.cost_status = 'unpriced' THEN
		RAISE EXCEPTION 'no price for model "%"%', model,
			CASE WHEN pc.catalog_model IS NULL THEN '' ELSE format(' at %s', at) END
			USING ERRCODE = 'undefined_object',
				  DETAIL = CASE WHEN pc.catalog_model IS NULL
								THEN 'The name matches no model and no alias in costopt.model_pricing.'
								ELSE format('It resolves to "%s" of provider "%s", which has no price in force then.',
											pc.catalog_model, pc.catalog_provider) END,
				  HINT = 'Add a price to costopt.model_pricing or an alias to costopt.model_aliases.';
	END IF;
	input_cost := pc.input_cost;
	output_cost := pc.output_cost;
	total_cost := pc.total_cost;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_request_cost(text, bigint, bigint, bigint, bigint, timestamptz, text, boolean) IS
	'Cost in USD of one request with the given token counts';

-- Every model able to serve a request (context window and output limit
-- permitting), cheapest first.
CREATE FUNCTION @extschema@.costopt_compare_models(input_tokens bigint,
												   output_tokens bigint,
												   cached_tokens bigint DEFAULT 0,
												   cache_write_tokens bigint DEFAULT 0,
												   min_quality numeric DEFAULT NULL,
												   mode text DEFAULT 'chat',
												   at timestamptz DEFAULT now(),
												   include_inactive boolean DEFAULT false)
RETURNS TABLE (provider text, model_name text, model_tier text,
			   input_cost numeric, output_cost numeric, total_cost numeric,
			   quality_score numeric, context_window integer,
			   cost_vs_cheapest numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF input_tokens IS NULL OR output_tokens IS NULL OR cached_tokens IS NULL
	   OR cache_write_tokens IS NULL OR at IS NULL THEN
		RAISE EXCEPTION 'token counts and "at" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF min_quality IS NOT NULL AND (min_quality < 0 OR min_quality > 1) THEN
		RAISE EXCEPTION 'min_quality must be between 0 and 1'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('min_quality is %s.', min_quality);
	END IF;

	RETURN QUERY
	WITH current AS (
		SELECT DISTINCT ON (mp.provider, mp.model_name) mp.*
		  FROM costopt.model_pricing mp
		 WHERE mp.effective_from <= at
		 ORDER BY mp.provider, mp.model_name, mp.effective_from DESC
	), priced AS (
		SELECT c.provider, c.model_name, c.model_tier, c.quality_score, c.context_window,
			   pc.input_cost, pc.output_cost, pc.total_cost
		  FROM current c,
			   LATERAL costopt.price_call(c.provider, c.model_name, at, input_tokens,
										  output_tokens, cached_tokens, cache_write_tokens,
										  false) pc
		 WHERE (c.effective_to IS NULL OR at < c.effective_to)
		   AND c.mode = costopt_compare_models.mode
		   AND (include_inactive OR c.is_active)
		   AND (c.context_window IS NULL OR c.context_window >= input_tokens)
		   AND (c.max_output_tokens IS NULL OR c.max_output_tokens >= output_tokens)
		   AND (min_quality IS NULL OR c.quality_score >= min_quality)
	)
	SELECT p.provider, p.model_name, p.model_tier, p.input_cost, p.output_cost, p.total_cost,
		   p.quality_score, p.context_window,
		   CASE WHEN min(p.total_cost) OVER () > 0
				THEN round(p.total_cost / min(p.total_cost) OVER (), 4) END
	  FROM priced p
	 ORDER BY p.total_cost, p.quality_score DESC NULLS LAST, p.provider, p.model_name;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_compare_models(bigint, bigint, bigint, bigint, numeric, text, timestamptz, boolean) IS
	'Cost of one request on every model that can serve it, cheapest first';

-- Cost of a call with fractional (average) token counts under one price
-- version: the rule of doc/costing.md written in SQL, for projections.
CREATE FUNCTION costopt.version_cost(v costopt.model_pricing, input_tokens numeric,
									 output_tokens numeric, cached_tokens numeric,
									 cache_write_tokens numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ((input_tokens - cached_tokens - cache_write_tokens) * t.in_rate
			+ cached_tokens * coalesce(CASE WHEN t.tier THEN v.long_context_cache_read_price END,
									   v.cache_read_price, t.in_rate)
			+ cache_write_tokens * coalesce(CASE WHEN t.tier THEN v.long_context_cache_write_price END,
											v.cache_write_price, t.in_rate)
			+ output_tokens * coalesce(CASE WHEN t.tier THEN v.long_context_output_price END,
									   v.output_price)) * 0.000001
	  FROM (SELECT tier, coalesce(CASE WHEN tier THEN v.long_context_input_price END,
								  v.input_price) AS in_rate
			  FROM (SELECT coalesce(input_tokens > v.long_context_threshold, false) AS tier) s) t
$$;

COMMENT ON FUNCTION costopt.version_cost(costopt.model_pricing, numeric, numeric, numeric, numeric) IS
	'Cost of a call with fractional (average) token counts under one price version';

-- What a steady workload costs per request, day, month and year.
CREATE FUNCTION @extschema@.costopt_monthly_projection(daily_requests numeric,
													   avg_input_tokens numeric,
													   avg_output_tokens numeric,
													   model text,
													   avg_cached_tokens numeric DEFAULT 0,
													   provider text DEFAULT NULL,
													   days_per_month numeric DEFAULT 30)
RETURNS TABLE (catalog_provider text, catalog_model text, cost_per_request numeric,
			   daily_cost numeric, monthly_cost numeric, yearly_cost numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v costopt.model_pricing;
	per_request numeric;
BEGIN
	IF daily_requests IS NULL OR avg_input_tokens IS NULL OR avg_output_tokens IS NULL
	   OR avg_cached_tokens IS NULL OR model IS NULL OR days_per_month IS NULL THEN
		RAISE EXCEPTION 'arguments must not be null (provider may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- x < 'Infinity' is false for NaN and Infinity alike
	IF daily_requests < 0 OR avg_input_tokens < 0 OR avg_output_tokens < 0
	   OR avg_cached_tokens < 0 OR avg_cached_tokens > avg_input_tokens
	   OR NOT (daily_requests < 'Infinity' AND avg_input_tokens < 'Infinity'
			   AND avg_output_tokens < 'Infinity' AND avg_cached_tokens < 'Infinity') THEN
		RAISE EXCEPTION 'request and token averages must be finite and non-negative, cached at most input'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('daily_requests %s, avg_input_tokens %s, avg_output_tokens %s, avg_cached_tokens %s.',
								  daily_requests, avg_input_tokens, avg_output_tokens, avg_cached_tokens);
	END IF;
	IF days_per_month <= 0 OR days_per_month > 31 THEN
		RAISE EXCEPTION 'days_per_month must be in (0, 31]'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO v FROM costopt.price_at(provider, model, now());
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no price for model "%"', model
			USING ERRCODE = 'undefined_object',
				  HINT = 'Add a price to costopt.model_pricing or an alias to costopt.model_aliases.';
	END IF;

	per_request := costopt.version_cost(v, avg_input_tokens, avg_output_tokens,
										avg_cached_tokens, 0);
	catalog_provider := v.provider;
	catalog_model := v.model_name;
	cost_per_request := per_request;
	daily_cost := per_request * daily_requests;
	monthly_cost := daily_cost * days_per_month;
	yearly_cost := daily_cost * 365;
	RETURN NEXT;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_monthly_projection(numeric, numeric, numeric, text, numeric, text, numeric) IS
	'Projected daily, monthly and yearly cost of a steady request volume on one model';
