-- The costing trigger against a plain SQL numeric computation of the same
-- rule, on one million random calls: there must be no difference at all.
-- The calls cover every seeded model, both price versions of
-- gemini-1.5-pro, long-context prompts, cache reads and writes, batch calls,
-- token counts up to 2^31-1, and two test models whose prices have 12 and
-- 15 decimals (the integer path with values beyond int64, and the numeric
-- path).
SET timezone = 'UTC';

INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price,
								   cache_read_price, long_context_threshold,
								   long_context_input_price, effective_from)
VALUES ('regress', 'wide-decimals', 1.123456789012, 9.987654321098, 0.000000000001,
		500000, 2.000000000003, '-infinity'),
	   ('regress', 'numeric-path', 0.123456789012345, 7.000000000000001, NULL,
		NULL, NULL, '-infinity');

CREATE TABLE exact_calls (LIKE costopt.api_usage_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY);
SELECT costopt_attach_costing('exact_calls');

CREATE TEMP TABLE exact_models AS
	SELECT row_number() OVER (ORDER BY provider, model_name) AS n, provider, model_name
	  FROM (SELECT DISTINCT provider, model_name FROM costopt.model_pricing) m;

SELECT setseed(0.31415926);
INSERT INTO exact_calls (created_at, organization_id, provider, model, is_batch,
						 input_tokens, output_tokens, cached_input_tokens, cache_write_tokens)
SELECT c.ts, 'exact', m.provider, m.model_name, c.batch, c.p, c.o,
	   (c.p * c.r_share)::bigint, (c.p * c.w_share)::bigint
  FROM (SELECT timestamptz '2024-01-01' + random() * interval '700 days' AS ts,
			   1 + floor(random() * (SELECT count(*) FROM exact_models))::integer AS pick,
			   random() < 0.1 AS batch,
			   CASE WHEN random() < 0.001 THEN 2147483647 - floor(random() * 1000)::integer
					WHEN random() < 0.05 THEN floor(100000 + random() * 900000)::integer
					ELSE floor(random() * 20000)::integer END AS p,
			   CASE WHEN random() < 0.001 THEN 2147483647
					ELSE floor(random() * 4000)::integer END AS o,
			   CASE WHEN random() < 0.3 THEN random() * 0.6 ELSE 0 END AS r_share,
			   CASE WHEN random() < 0.1 THEN random() * 0.3 ELSE 0 END AS w_share
		  FROM generate_series(1, 1000000)) c
  JOIN exact_models m ON m.n = c.pick;

-- the reference: the pricing rule of doc/costing.md in plain SQL numerics
CREATE TEMP TABLE exact_reference AS
SELECT e.id, v.id AS pricing_id,
	   CASE WHEN e.is_batch AND NOT r.tier AND v.batch_input_price IS NOT NULL
			THEN e.input_tokens * v.batch_input_price
			ELSE (e.input_tokens - e.cached_input_tokens - e.cache_write_tokens) * r.in_rate
				 + e.cached_input_tokens * coalesce(CASE WHEN r.tier THEN v.long_context_cache_read_price END,
													v.cache_read_price, r.in_rate)
				 + e.cache_write_tokens * coalesce(CASE WHEN r.tier THEN v.long_context_cache_write_price END,
												   v.cache_write_price, r.in_rate)
	   END * 0.000001 AS input_cost,
	   e.output_tokens * CASE WHEN e.is_batch AND NOT r.tier AND v.batch_output_price IS NOT NULL THEN v.batch_output_price
							  WHEN r.tier AND v.long_context_output_price IS NOT NULL THEN v.long_context_output_price
							  ELSE v.output_price END * 0.000001 AS output_cost
  FROM exact_calls e
  LEFT JOIN LATERAL (SELECT mp.* FROM costopt.model_pricing mp
					  WHERE mp.provider = e.provider AND mp.model_name = e.model
						AND mp.effective_from <= e.created_at
					  ORDER BY mp.effective_from DESC LIMIT 1) v ON true
  LEFT JOIN LATERAL (SELECT t.tier,
							CASE WHEN t.tier AND v.long_context_input_price IS NOT NULL
								 THEN v.long_context_input_price ELSE v.input_price END AS in_rate
					   FROM (SELECT coalesce(e.input_tokens > v.long_context_threshold, false) AS tier) t) r ON true;

SELECT count(*) AS calls,
	   count(*) FILTER (WHERE e.cost_status = 'priced') AS priced,
	   count(*) FILTER (WHERE e.input_tokens > 2000000000) AS huge_prompts,
	   count(*) FILTER (WHERE e.is_batch) AS batch_calls,
	   count(*) FILTER (WHERE e.cached_input_tokens > 0) AS with_cache_reads,
	   count(*) FILTER (WHERE e.model IN ('wide-decimals', 'numeric-path')) AS extreme_price_calls,
	   count(*) FILTER (WHERE e.input_cost IS DISTINCT FROM x.input_cost
						   OR e.output_cost IS DISTINCT FROM x.output_cost
						   OR e.total_cost IS DISTINCT FROM x.input_cost + x.output_cost
						   OR e.pricing_id IS DISTINCT FROM x.pricing_id) AS differences
  FROM exact_calls e JOIN exact_reference x USING (id);

-- the SQL-callable pricing function agrees too (100,000 of the calls)
SELECT count(*) FILTER (WHERE (pc.input_cost, pc.output_cost, pc.total_cost, pc.pricing_id)
							  IS DISTINCT FROM (e.input_cost, e.output_cost, e.total_cost, e.pricing_id))
	   AS price_call_differences
  FROM (SELECT * FROM exact_calls ORDER BY id LIMIT 100000) e,
	   LATERAL costopt.price_call(e.provider, e.model, e.created_at, e.input_tokens,
								  e.output_tokens, e.cached_input_tokens, e.cache_write_tokens,
								  e.is_batch) pc;

DROP TABLE exact_calls;
DELETE FROM costopt.model_pricing WHERE provider = 'regress' AND model_name IN ('wide-decimals', 'numeric-path');
