-- Cost rollups: capture at commit, incremental refresh, verification.
SET timezone = 'UTC';
TRUNCATE costopt.api_usage_logs;
SELECT * FROM costopt_refresh_rollups();  -- start from empty rollups
DELETE FROM costopt.cost_analysis;

-- 5,000 calls over 25 days, three organisations, some without user, latency
-- or price, some failed
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model,
									input_tokens, output_tokens, cached_input_tokens,
									latency_ms, status)
SELECT '2025-03-01'::timestamptz + g * interval '7 minutes', 'org' || g % 3,
	   CASE WHEN g % 5 = 0 THEN NULL ELSE 'u' || g % 4 END,
	   CASE WHEN g % 3 = 2 THEN NULL ELSE 'openai' END,
	   (ARRAY['gpt-4o', 'gpt-4o-mini', 'ro-unpriced'])[1 + g % 3], 100 + g, g % 50, g % 20,
	   CASE WHEN g % 7 = 0 THEN NULL ELSE g END,
	   CASE WHEN g % 11 = 0 THEN 'error' ELSE 'success' END
  FROM generate_series(1, 5000) g;

-- committed changes wait as deltas; verification counts them already
SELECT count(*) > 0 AS has_deltas, sum(requests) AS calls FROM costopt.rollup_deltas;
SELECT count(*) AS differences FROM costopt_verify_rollups();

SELECT * FROM costopt_refresh_rollups();
SELECT count(*) AS deltas_left FROM costopt.rollup_deltas;
SELECT count(*) AS differences FROM costopt_verify_rollups();

-- every grain adds up to the raw log
SELECT period_type, sum(total_requests) AS calls, sum(total_cost) AS cost,
	   sum(unpriced_requests) AS unpriced, sum(error_count) AS errors,
	   round(sum(latency_sum)::numeric / sum(latency_count), 3) AS avg_latency
  FROM costopt.cost_analysis GROUP BY 1 ORDER BY 1;
SELECT count(*) AS calls, sum(total_cost) AS cost,
	   count(*) FILTER (WHERE total_cost IS NULL) AS unpriced,
	   count(*) FILTER (WHERE status <> 'success') AS errors,
	   round(avg(latency_ms), 3) AS avg_latency
  FROM costopt.api_usage_logs;

-- updates (a re-pricing), deletes, a late call, a rolled-back savepoint and
-- a rolled-back transaction
BEGIN;
UPDATE costopt.api_usage_logs SET output_tokens = output_tokens + 1 WHERE id % 10 = 0;
DELETE FROM costopt.api_usage_logs WHERE organization_id = 'org2' AND created_at < '2025-03-02';
SAVEPOINT s;
INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
VALUES ('org-rolled-back', 'gpt-4o', 1, 1);
ROLLBACK TO s;
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
VALUES ('2024-12-31 23:30', 'org0', 'gpt-4o', 1000, 100);
COMMIT;
BEGIN;
INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens)
VALUES ('org-aborted', 'gpt-4o', 1, 1);
ROLLBACK;
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('regress', 'ro-unpriced', 1, 1, '-infinity');
SELECT changed FROM costopt_recost('2025-01-01', '2025-04-01', 'ro-unpriced');

SELECT count(*) AS differences FROM costopt_verify_rollups();
SELECT delta_rows > 0 AS applied, calls, removed_rows > 0 AS emptied_buckets_removed
  FROM costopt_refresh_rollups();
SELECT count(*) AS differences FROM costopt_verify_rollups();
SELECT count(*) AS rows_of_rolled_back_work FROM costopt.cost_analysis
 WHERE organization_id IN ('org-rolled-back', 'org-aborted');
SELECT period_type, period_start, total_requests, total_cost FROM costopt.cost_analysis
 WHERE organization_id = 'org0' AND period_start < '2025-01-01' ORDER BY 1;

-- buckets: a week starts on Monday, a month on the 1st (in UTC here)
SELECT period_type, min(period_start) AS first_start, min(period_end) AS first_end
  FROM costopt.cost_analysis WHERE period_start >= '2025-03-01' GROUP BY 1 ORDER BY 1;

-- verification finds a tampered rollup
UPDATE costopt.cost_analysis SET total_cost = total_cost + 0.01
 WHERE id = (SELECT min(id) FROM costopt.cost_analysis WHERE period_type = 'daily');
SELECT period_type, measure, rollup_value - raw_value AS off_by
  FROM costopt_verify_rollups();
UPDATE costopt.cost_analysis SET total_cost = total_cost - 0.01
 WHERE id = (SELECT min(id) FROM costopt.cost_analysis WHERE period_type = 'daily');
SELECT * FROM costopt_verify_rollups('org1', '2025-03-20', '2025-03-01');
DELETE FROM costopt.model_pricing WHERE provider = 'regress' AND model_name = 'ro-unpriced';
