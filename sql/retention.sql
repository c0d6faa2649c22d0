-- Retention: monthly partitions, cleanup of raw calls and old rollups; the
-- rollups keep every call that leaves the raw log.
SET timezone = 'UTC';
SET client_min_messages = warning;
DELETE FROM costopt.api_usage_logs;
SELECT calls >= 0 AS refreshed FROM costopt_refresh_rollups();
DELETE FROM costopt.cost_analysis;

-- partitions for this month and the next two; a second call makes none
SELECT created, skipped FROM costopt_create_partitions('2 months');
SELECT created, skipped FROM costopt_create_partitions('2 months');
SELECT count(*) AS monthly_partitions FROM pg_inherits
 WHERE inhparent = 'costopt.api_usage_logs'::regclass
   AND costopt.partition_upper_bound(inhrelid::regclass) IS NOT NULL;
-- a partition made by hand for an old month, to be dropped whole
DO $$
BEGIN
	EXECUTE format('CREATE TABLE costopt.api_usage_logs_old PARTITION OF costopt.api_usage_logs FOR VALUES FROM (%L) TO (%L)',
				   date_trunc('month', now() - interval '150 days', 'UTC'),
				   date_trunc('month', now() - interval '120 days', 'UTC'));
END;
$$;

-- 400 calls a day over the last 200 days (hour-aligned, never in the future)
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, model, input_tokens,
									output_tokens, latency_ms)
SELECT date_trunc('hour', now()) - interval '1 hour' - d * interval '1 day' + k * interval '3 minutes',
	   'ret-' || k % 2, 'u' || k % 5, CASE WHEN k % 3 = 0 THEN 'gpt-4o' ELSE 'claude-3-haiku' END,
	   1000 + k, 50 + d, 300
  FROM generate_series(0, 199) d, generate_series(0, 19) k;
SELECT count(*) AS calls, count(*) FILTER (WHERE tableoid = 'costopt.api_usage_logs_old'::regclass) > 0
	   AS old_partition_used
  FROM costopt.api_usage_logs;
SELECT calls FROM costopt_refresh_rollups();
CREATE TEMP TABLE before_cleanup AS
SELECT period_type, sum(total_requests) AS calls, sum(total_cost) AS cost
  FROM costopt.cost_analysis GROUP BY 1;

-- keep 60 days of raw calls and a year of rollups
SELECT count(*) AS old_calls FROM costopt.api_usage_logs
 WHERE created_at < date_trunc('hour', now() - interval '60 days', 'UTC') \gset
CREATE TEMP TABLE cleanup_result AS SELECT * FROM costopt_cleanup('60 days', '1 year');
SELECT raw_rows_removed = :old_calls AS removed_all_old, partitions_dropped,
	   archived_rows > 0 AS archived, rollup_rows_deleted
  FROM cleanup_result;
SELECT count(*) AS old_calls_left FROM costopt.api_usage_logs
 WHERE created_at < date_trunc('hour', now() - interval '60 days', 'UTC');
SELECT to_regclass('costopt.api_usage_logs_old') IS NULL AS old_partition_dropped;
SELECT raw_horizon = date_trunc('hour', now() - interval '60 days', 'UTC') AS horizon_set
  FROM costopt.rollup_state;

-- the rollups still hold every call; nothing to refresh; verification
-- checks what raw rows remain
SELECT b.period_type, a.calls = b.calls AS calls_kept, a.cost = b.cost AS cost_kept
  FROM before_cleanup b
  JOIN (SELECT period_type, sum(total_requests) AS calls, sum(total_cost) AS cost
		  FROM costopt.cost_analysis GROUP BY 1) a USING (period_type)
 ORDER BY 1;
SELECT calls FROM costopt_refresh_rollups();
SELECT count(*) AS differences FROM costopt_verify_rollups();

-- rollups of months older than 100 days go too, with their archive rows
SELECT rollup_rows_deleted > 0 AS rollups_deleted FROM costopt_cleanup('60 days', '100 days');
SELECT count(*) AS rollups_left_before_horizon FROM costopt.cost_analysis
 WHERE period_start < date_trunc('month', now() - interval '100 days', 'UTC');
SELECT count(*) AS archive_left_before_horizon FROM costopt.rollup_archive
 WHERE hour < date_trunc('month', now() - interval '100 days', 'UTC');
SELECT count(*) AS differences FROM costopt_verify_rollups();

-- bad input
SELECT * FROM costopt_cleanup('30 minutes');
SELECT * FROM costopt_cleanup('90 days', '30 days');
SELECT * FROM costopt_create_partitions('-1 day');
RESET client_min_messages;
