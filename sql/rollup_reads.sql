-- Reading the rollups: analysis, breakdown, trends, top drivers, views.
-- Data is placed relative to now (never in the future), so figures that
-- depend on where day boundaries fall are compared with the raw log.
SET timezone = 'UTC';
DELETE FROM costopt.api_usage_logs WHERE organization_id LIKE 'rd-%';

-- 20 days: spend grows every day; two users, two models; one failed call a day
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model,
									input_tokens, output_tokens, latency_ms, status)
SELECT date_trunc('hour', now()) - interval '1 hour' - d * interval '1 day' + k * interval '1 minute',
	   'rd-org', CASE WHEN k % 3 = 0 THEN 'alice' ELSE 'bob' END, 'openai',
	   CASE WHEN k % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
	   1000, 100, 500, CASE WHEN k = 0 THEN 'error' ELSE 'success' END
  FROM generate_series(0, 19) d, generate_series(0, 40 - 2 * d) k;
SELECT calls FROM costopt_refresh_rollups();
-- one more call after the refresh: reads must include it
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
VALUES (date_trunc('hour', now()), 'rd-org', 'carol', 'anthropic', 'claude-3-haiku', 4000, 400);

-- totals equal the raw log, groups add up to 100 %
SELECT (SELECT requests FROM costopt_cost_analysis('rd-org', now() - interval '30 days', now(), 'model') WHERE is_total) AS rollup_calls,
	   (SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = 'rd-org') AS raw_calls,
	   (SELECT total_cost FROM costopt_cost_analysis('rd-org', now() - interval '30 days', now(), 'model') WHERE is_total)
	   = (SELECT sum(total_cost) FROM costopt.api_usage_logs WHERE organization_id = 'rd-org') AS cost_matches;
SELECT group_key, requests, total_cost, pct_of_cost, error_count, avg_latency_ms, is_total
  FROM costopt_cost_analysis('rd-org', now() - interval '30 days', now(), 'model');
SELECT abs(sum(pct_of_cost) - 100) <= 0.02 AS pct_adds_up, count(*) AS users
  FROM costopt_cost_analysis('rd-org', now() - interval '30 days', now(), 'user') WHERE NOT is_total;
SELECT sum(requests) AS calls
  FROM costopt_cost_analysis('rd-org', date_trunc('day', now()) - interval '25 days', date_trunc('day', now()) + interval '1 day', 'day')
 WHERE NOT is_total;

-- breakdown of the last 7 days by user, against the raw log
SELECT b.group_key, b.requests = r.calls AS calls_match, b.total_cost = r.cost AS cost_match
  FROM costopt_breakdown('rd-org', 'user', 7) b
  JOIN (SELECT user_id, count(*) AS calls, sum(total_cost) AS cost FROM costopt.api_usage_logs
		 WHERE organization_id = 'rd-org' AND created_at >= date_trunc('day', now()) - interval '6 days'
		 GROUP BY 1) r ON r.user_id = b.group_key
 ORDER BY b.total_cost DESC;

-- spend falls every day going back, so it rises towards today
SELECT count(*) AS periods, min(trend_direction) AS direction, min(slope_per_period) > 0 AS rising,
	   min(change_pct) > 50 AS strong
  FROM costopt_trends('rd-org', 'requests', 19, 'day');
SELECT count(*) AS periods,
	   count(*) FILTER (WHERE t.value <> coalesce(r.calls, 0)) AS differences_from_raw,
	   max(t.period_start) = date_trunc('day', now()) AS ends_today
  FROM costopt_trends('rd-org', 'requests', 3, 'day') t
  LEFT JOIN (SELECT date_trunc('day', created_at) AS day, count(*) AS calls
			   FROM costopt.api_usage_logs WHERE organization_id = 'rd-org' GROUP BY 1) r
	ON r.day = t.period_start;

-- the top drivers, and their change against the 7 days before
SELECT rank, user_id, model_name, change_pct > 0 AS grew
  FROM costopt_top_cost_drivers('rd-org', 7, 3);

-- views read the refreshed rollups
SELECT sum(total_requests) AS calls, sum(error_count) AS errors
  FROM costopt.v_daily_costs WHERE organization_id = 'rd-org';
SELECT model_name, sum(total_requests) AS calls FROM costopt.v_model_costs
 WHERE organization_id = 'rd-org' GROUP BY 1 ORDER BY 1;
SELECT abs(sum(pct_of_month) - 100) <= 0.02 AS pct_adds_up FROM costopt.v_user_costs
 WHERE organization_id = 'rd-org' AND month_start = date_trunc('month', now());
SELECT sum(total_requests) = (SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = 'rd-org') - 1
	   AS monthly_summary_matches
  FROM costopt.v_monthly_cost_summary WHERE organization_id = 'rd-org';

-- bad input
SELECT * FROM costopt_cost_analysis('rd-org', '2025-03-02', '2025-03-01');
SELECT * FROM costopt_cost_analysis('rd-org', now() - interval '1 day', now(), 'colour');
SELECT * FROM costopt_breakdown('rd-org', 'team');
SELECT * FROM costopt_breakdown('rd-org', 'model', -1);
SELECT * FROM costopt_trends('rd-org', 'happiness');
SELECT * FROM costopt_trends('rd-org', 'total_cost', 30, 'fortnight');
SELECT * FROM costopt_top_cost_drivers('rd-org', 0);

DELETE FROM costopt.api_usage_logs WHERE organization_id LIKE 'rd-%';
SELECT calls FROM costopt_refresh_rollups();
