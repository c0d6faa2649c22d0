-- The costing trigger on costopt.api_usage_logs: INSERT, UPDATE, unpriced
-- rows, re-costing after a price change.
SET timezone = 'UTC';

-- a private model so the results do not depend on the seed catalog
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price,
								   cache_read_price, cache_write_price,
								   long_context_threshold, long_context_input_price,
								   long_context_output_price, batch_input_price,
								   batch_output_price, effective_from)
VALUES ('regress', 'rt-model', 2.00, 8.00, 0.50, 2.50, 1000, 4.00, 12.00, 1.00, 4.00, '2025-01-01');

-- (P - R - W) * in + R * cache_read + W * cache_write; O * out
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model,
									input_tokens, output_tokens, cached_input_tokens,
									cache_write_tokens, is_batch)
VALUES ('2025-02-01', 'rt', 'regress', 'rt-model', 1000, 100, 0, 0, false),    -- base
	   ('2025-02-01', 'rt', 'regress', 'rt-model', 1000, 100, 400, 100, false), -- cache read/write
	   ('2025-02-01', 'rt', 'regress', 'rt-model', 1001, 100, 0, 0, false),    -- above the threshold
	   ('2025-02-01', 'rt', 'regress', 'rt-model', 1000, 100, 400, 0, true),   -- batch
	   ('2024-12-31', 'rt', 'regress', 'rt-model', 1000, 100, 0, 0, false),    -- before the price
	   ('2025-02-01', 'rt', NULL, 'REGRESS/RT-MODEL-2025-01-15', 10, 10, 0, 0, false); -- resolved name
SELECT id, input_tokens AS p, cached_input_tokens AS r, cache_write_tokens AS w, is_batch,
	   input_cost, output_cost, total_cost, cost_status, pricing_id IS NOT NULL AS has_price
  FROM costopt.api_usage_logs WHERE organization_id = 'rt' ORDER BY id;

-- UPDATE of a column that does not affect the price keeps the cost
UPDATE costopt.api_usage_logs SET user_id = 'u1' WHERE organization_id = 'rt' AND input_tokens = 1001;
-- writing a cost column directly is undone: the trigger owns them
UPDATE costopt.api_usage_logs SET total_cost = 0, input_cost = 0 WHERE organization_id = 'rt' AND input_tokens = 1001;
-- changing the tokens re-prices
UPDATE costopt.api_usage_logs SET output_tokens = 200 WHERE organization_id = 'rt' AND is_batch;
SELECT input_tokens AS p, output_tokens AS o, is_batch, user_id, input_cost, output_cost, total_cost
  FROM costopt.api_usage_logs WHERE organization_id = 'rt' AND (input_tokens = 1001 OR is_batch)
 ORDER BY id;

-- a price correction does not touch priced rows until costopt_recost
UPDATE costopt.model_pricing SET output_price = 10.00
 WHERE provider = 'regress' AND model_name = 'rt-model';
SELECT count(*) FILTER (WHERE total_cost = 0.0028) AS old_price_rows
  FROM costopt.api_usage_logs WHERE organization_id = 'rt';
SELECT * FROM costopt_recost('2025-01-01', '2025-03-01', 'rt-model');
SELECT * FROM costopt_recost('2025-01-01', '2025-03-01', 'rt-model');  -- nothing left to change
SELECT input_tokens AS p, output_tokens AS o, output_cost, total_cost
  FROM costopt.api_usage_logs WHERE organization_id = 'rt' AND created_at >= '2025-01-01' ORDER BY id;

-- a later price version applies to later calls only
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('regress', 'rt-model', 1.00, 5.00, '2025-06-01');
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-05-31 23:59:59', 'rt2', 'regress', 'rt-model', 1000, 100),
	   ('2025-06-01 00:00:00', 'rt2', 'regress', 'rt-model', 1000, 100);
SELECT created_at, total_cost FROM costopt.api_usage_logs WHERE organization_id = 'rt2' ORDER BY id;

-- an unknown model is stored, unpriced, and priced once a price exists
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2025-03-01', 'rt3', 'rt-mystery', 100, 10), ('2025-03-02', 'rt3', 'rt-mystery', 200, 20);
SELECT model, total_cost, cost_status FROM costopt.api_usage_logs WHERE organization_id = 'rt3' ORDER BY id;
INSERT INTO costopt.model_aliases (alias, target_provider, target_model)
VALUES ('rt-mystery', 'regress', 'rt-model');
SELECT * FROM costopt_recost('2025-03-01', '2025-04-01');
SELECT model, total_cost, cost_status FROM costopt.api_usage_logs WHERE organization_id = 'rt3' ORDER BY id;

-- estimated token counts stay marked as estimates once priced
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens, cost_status)
VALUES ('2025-03-01', 'rt4', 'rt-model', 100, 10, 'estimated')
RETURNING total_cost, cost_status;

-- a warning instead of a silent unpriced row, when asked for
SET costopt.missing_price_action = warning;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2025-03-01', 'rt5', 'rt-nothing', 1, 1) RETURNING cost_status;
RESET costopt.missing_price_action;
