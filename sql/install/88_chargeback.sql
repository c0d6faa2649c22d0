-------------------------------------------------------------------------------
-- Chargeback, showback and invoices
-------------------------------------------------------------------------------
--
-- Both functions read the raw usage log (not the rollups): chargeback keys
-- such as projects, operations and tags are not in the rollups, and the
-- range is taken exactly as given, half-open [from_time, to_time), to the
-- microsecond.  They scan one organisation's calls through the
-- (organization_id, created_at) index of each partition; once raw calls
-- have aged out (costopt_cleanup), only the calls still in the log count.
--
-- The money rules (doc/chargeback.md has the long version):
--
--  * Chargeback: a call without a value for the dimension (NULL or '') is
--    unallocated.  Its cost is shared among the allocated keys in
--    proportion to their direct cost.  Each share is truncated to 6
--    decimals (never rounded up, so the remainder is never negative and no
--    key is ever charged less than nothing); the remainder goes to the key
--    with the largest direct cost (ties: the first key in "C" collation).
--    The unallocated row shows its cost as direct_cost and minus that as
--    allocated_cost, so every row has total = direct + allocated, the
--    allocated column sums to 0, and the total column sums to the
--    organisation's spend to the last digit.
--  * Invoice: a line's amount is its exact cost rounded half-up to cents;
--    the subtotal is the sum of the printed amounts; discount and tax are
--    rounded half-up to cents; every printed figure adds up.

-- Spend of one organisation in [from_time, to_time), per value of a
-- dimension, with unallocated spend shown apart and distributed.
CREATE FUNCTION @extschema@.costopt_chargeback(organization_id text,
											   from_time timestamptz,
											   to_time timestamptz,
											   dimension text DEFAULT 'user')
RETURNS TABLE (allocation_key text, requests bigint, direct_cost numeric,
			   allocated_cost numeric, total_cost numeric, share_percent numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	column_name text;
	tag_key text;
BEGIN
	IF organization_id IS NULL OR from_time IS NULL OR to_time IS NULL OR dimension IS NULL THEN
		RAISE EXCEPTION 'organization_id, from_time, to_time and dimension must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF dimension IN ('user', 'project', 'model', 'provider', 'operation') THEN
		column_name := dimension;
	ELSIF left(dimension, 4) = 'tag:' THEN
		tag_key := substr(dimension, 5);
		IF tag_key = '' THEN
			RAISE EXCEPTION 'tag dimension "tag:" names no tag key'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Write the key after "tag:", e.g. tag:team for the tag {"team": ...}.';
		END IF;
	ELSE
		RAISE EXCEPTION 'unknown dimension "%"', dimension
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Use user, project, model, provider, operation or tag:<key>; to break down by the tag "%s", write tag:%s.',
								dimension, dimension);
	END IF;
	PERFORM costopt.check_period(organization_id, from_time, to_time);

	-- Every column below is qualified: the output columns (total_cost, ...)
	-- and the arguments (organization_id, ...) are PL/pgSQL variables.
	RETURN QUERY
	WITH calls AS (
		SELECT nullif(CASE column_name
						  WHEN 'user' THEN u.user_id
						  WHEN 'project' THEN u.project
						  WHEN 'model' THEN u.model
						  WHEN 'provider' THEN u.provider
						  WHEN 'operation' THEN u.operation
						  ELSE u.tags ->> tag_key
					  END, '') AS k,
			   coalesce(u.total_cost, 0) AS cost
		  FROM costopt.api_usage_logs u
		 WHERE u.organization_id = costopt_chargeback.organization_id
		   AND u.created_at >= costopt_chargeback.from_time
		   AND u.created_at < costopt_chargeback.to_time
	), keyed AS (
		SELECT c.k, count(*) AS n, sum(c.cost) AS direct
		  FROM calls c
		 GROUP BY c.k
	), pool AS (
		-- unallocated: the cost to distribute; base: what it is distributed by
		SELECT coalesce(sum(kd.direct) FILTER (WHERE kd.k IS NULL), 0) AS unallocated,
			   coalesce(sum(kd.direct) FILTER (WHERE kd.k IS NOT NULL), 0) AS base,
			   sum(kd.direct) AS spend
		  FROM keyed kd
	), shares AS (
		SELECT kd.k, kd.n, kd.direct,
			   CASE WHEN p.base = 0 THEN 0
					WHEN kd.k IS NULL THEN -p.unallocated
					ELSE trunc(p.unallocated * kd.direct / p.base, 6)
			   END AS share,
			   row_number() OVER (ORDER BY kd.k IS NULL, kd.direct DESC,
										   kd.k COLLATE "C") = 1 AS largest
		  FROM keyed kd, pool p
	), allocated AS (
		SELECT s.k, s.n, s.direct,
			   s.share + CASE WHEN s.largest AND s.k IS NOT NULL AND p.base > 0
							  THEN p.unallocated
								   - sum(s.share) FILTER (WHERE s.k IS NOT NULL) OVER ()
							  ELSE 0 END AS alloc,
			   p.spend
		  FROM shares s, pool p
	)
	SELECT a.k, a.n, a.direct, a.alloc, a.direct + a.alloc,
		   round(100 * (a.direct + a.alloc) / nullif(a.spend, 0), 2)
	  FROM allocated a
	 ORDER BY a.direct + a.alloc DESC, a.k COLLATE "C";
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_chargeback(text, timestamptz, timestamptz, text) IS
	'Spend of an organisation by user, project, model, provider, operation or tag, with unallocated spend distributed proportionally';

-- An invoice for one organisation's calls in [from_time, to_time): one line
-- per provider and model, discount and tax as fractions, amounts in cents.
CREATE FUNCTION @extschema@.costopt_invoice(organization_id text,
											from_time timestamptz,
											to_time timestamptz,
											discount numeric DEFAULT 0,
											tax_rate numeric DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	doc jsonb;
BEGIN
	IF organization_id IS NULL OR from_time IS NULL OR to_time IS NULL
	   OR discount IS NULL OR tax_rate IS NULL THEN
		RAISE EXCEPTION 'organization_id, from_time, to_time, discount and tax_rate must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass 0 for no discount or no tax.';
	END IF;
	PERFORM costopt.check_period(organization_id, from_time, to_time);
	-- NaN sorts above every number, so it fails "< 1"
	IF NOT (discount >= 0 AND discount < 1) THEN
		RAISE EXCEPTION 'discount must be a fraction in [0, 1)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('discount is %s.', discount),
				  HINT = 'Write 10 % as 0.1.';
	END IF;
	IF NOT (tax_rate >= 0 AND tax_rate < 1) THEN
		RAISE EXCEPTION 'tax_rate must be a fraction in [0, 1)'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('tax_rate is %s.', tax_rate),
				  HINT = 'Write 20 % as 0.2.';
	END IF;

	WITH lines AS (
		SELECT u.provider, u.model, count(*) AS n,
			   count(*) FILTER (WHERE u.cost_status = 'unpriced') AS unpriced,
			   coalesce(sum(u.input_tokens), 0) AS input_tokens,
			   coalesce(sum(u.output_tokens), 0) AS output_tokens,
			   coalesce(sum(u.cached_input_tokens), 0) AS cached_input_tokens,
			   coalesce(sum(u.input_cost), 0) AS input_cost,
			   coalesce(sum(u.output_cost), 0) AS output_cost,
			   coalesce(sum(u.total_cost), 0) AS cost,
			   round(coalesce(sum(u.total_cost), 0), 2) AS amount
		  FROM costopt.api_usage_logs u
		 WHERE u.organization_id = costopt_invoice.organization_id
		   AND u.created_at >= costopt_invoice.from_time
		   AND u.created_at < costopt_invoice.to_time
		 GROUP BY u.provider, u.model
	), sums AS (
		SELECT round(coalesce(sum(l.amount), 0), 2) AS subtotal,
			   coalesce(sum(l.cost), 0) AS usage_cost,
			   coalesce(sum(l.n), 0) AS n,
			   coalesce(sum(l.unpriced), 0) AS unpriced,
			   coalesce(jsonb_agg(jsonb_build_object(
						   'provider', l.provider,
						   'model', l.model,
						   'requests', l.n,
						   'unpriced_requests', l.unpriced,
						   'input_tokens', l.input_tokens,
						   'output_tokens', l.output_tokens,
						   'cached_input_tokens', l.cached_input_tokens,
						   'input_cost', l.input_cost,
						   'output_cost', l.output_cost,
						   'amount', l.amount)
						 ORDER BY l.amount DESC, l.cost DESC, l.provider COLLATE "C",
								  l.model COLLATE "C"),
						'[]') AS items
		  FROM lines l
	), money AS (
		SELECT s.*, round(s.subtotal * costopt_invoice.discount, 2) AS discount_amount
		  FROM sums s
	), net AS (
		SELECT m.*, m.subtotal - m.discount_amount AS net
		  FROM money m
	)
	SELECT jsonb_build_object(
			   'organization_id', costopt_invoice.organization_id,
			   'period', jsonb_build_object('from', costopt_invoice.from_time,
											'to', costopt_invoice.to_time),
			   'currency', 'USD',
			   'generated_at', now(),
			   'line_items', x.items,
			   'requests', x.n,
			   'unpriced_requests', x.unpriced,
			   'usage_cost', x.usage_cost,
			   'subtotal', x.subtotal,
			   'discount', costopt_invoice.discount,
			   'discount_amount', x.discount_amount,
			   'net', x.net,
			   'tax_rate', costopt_invoice.tax_rate,
			   'tax', round(x.net * costopt_invoice.tax_rate, 2),
			   'total', x.net + round(x.net * costopt_invoice.tax_rate, 2))
	  INTO doc
	  FROM net x;
	RETURN doc;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_invoice(text, timestamptz, timestamptz, numeric, numeric) IS
	'Invoice of an organisation''s calls in a time range as JSON: lines per provider and model, discount, tax, total in cents';
