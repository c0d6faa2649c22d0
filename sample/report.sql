-- costopt sample cost report: what the demo prints.
\set ON_ERROR_STOP on
\pset footer off
\pset null '-'

\echo
\echo '== LLM spend, last 60 days =='
SELECT count(*) AS calls,
	   count(*) FILTER (WHERE cost_status = 'priced') AS priced,
	   count(*) FILTER (WHERE cost_status = 'unpriced') AS unpriced,
	   to_char(sum(total_cost), 'FM$999,999,990.00') AS total_spend,
	   to_char(sum(input_tokens), 'FM999,999,999,999') AS input_tokens,
	   to_char(sum(output_tokens), 'FM999,999,999,999') AS output_tokens
  FROM costopt.api_usage_logs;

\echo '== Spend by model =='
SELECT coalesce(r.catalog_model, l.model) AS model,
	   coalesce(r.catalog_provider, l.provider) AS provider,
	   count(*) AS calls,
	   to_char(sum(l.total_cost), 'FM$999,999,990.00') AS spend,
	   round(100 * sum(l.total_cost) / sum(sum(l.total_cost)) OVER (), 1) AS pct,
	   to_char(1000 * sum(l.total_cost) / nullif(count(*), 0), 'FM$99,990.000') AS per_1k_calls
  FROM costopt.api_usage_logs l
  LEFT JOIN LATERAL costopt.resolve_model(l.provider, l.model) r ON true
 GROUP BY 1, 2
 ORDER BY sum(l.total_cost) DESC NULLS LAST;

\echo '== Spend by organisation =='
SELECT organization_id AS organisation,
	   count(*) AS calls,
	   count(DISTINCT user_id) AS users,
	   to_char(sum(total_cost), 'FM$999,999,990.00') AS spend,
	   round(100 * sum(total_cost) / sum(sum(total_cost)) OVER (), 1) AS pct,
	   to_char(sum(total_cost) FILTER (WHERE status <> 'success'), 'FM$999,990.00') AS failed_call_spend,
	   round(100.0 * sum(cached_input_tokens) / nullif(sum(input_tokens), 0), 1) AS cached_pct
  FROM costopt.api_usage_logs
 GROUP BY 1
 ORDER BY sum(total_cost) DESC;

\echo '== Unpriced calls (no price in the catalog: add one, then run costopt_recost) =='
SELECT model, provider, count(*) AS calls,
	   to_char(sum(input_tokens), 'FM999,999,999') AS input_tokens,
	   to_char(sum(output_tokens), 'FM999,999,999') AS output_tokens,
	   min(created_at)::date AS first_seen, max(created_at)::date AS last_seen
  FROM costopt.api_usage_logs
 WHERE cost_status = 'unpriced'
 GROUP BY 1, 2
 ORDER BY 3 DESC;

\echo '== Daily spend, last 7 days (from the rollups in costopt.cost_analysis) =='
SELECT period_start::date AS day,
	   sum(total_requests) AS calls,
	   to_char(sum(total_cost), 'FM$999,999,990.00') AS spend,
	   round(100.0 * sum(error_count) / nullif(sum(total_requests), 0), 1) AS error_pct,
	   round(sum(latency_sum)::numeric / nullif(sum(latency_count), 0)) AS avg_latency_ms
  FROM costopt.cost_analysis
 WHERE period_type = 'daily' AND period_start >= date_trunc('day', now()) - interval '6 days'
 GROUP BY 1
 ORDER BY 1;

\echo '== Spend forecast, next 7 days (costopt_forecast_total, 95 % interval) =='
SELECT o.organization_id AS organisation, f.first_day, f.last_day,
	   to_char(f.predicted_cost, 'FM$999,999,990.00') AS forecast,
	   to_char(f.lower_bound, 'FM$999,999,990.00') || ' .. ' ||
	   to_char(f.upper_bound, 'FM$999,999,990.00') AS interval_95,
	   f.method
  FROM (SELECT DISTINCT organization_id FROM costopt.cost_analysis) o,
	   LATERAL costopt_forecast_total(o.organization_id, 7) f
 ORDER BY f.predicted_cost DESC;

\echo '== Anomalous days, last 30 days (costopt_detect_anomalies, robust method) =='
SELECT o.organization_id AS organisation, a.bucket::date AS day,
	   to_char(a.actual, 'FM$999,999,990.00') AS spend,
	   to_char(a.expected, 'FM$999,999,990.00') AS expected,
	   round(a.z::numeric, 1) AS z, a.severity, a.direction, a.driver_model, a.driver_user
  FROM (SELECT DISTINCT organization_id FROM costopt.cost_analysis) o,
	   LATERAL costopt_detect_anomalies(o.organization_id, 30, method => 'robust') a
 ORDER BY a.bucket, 1;

\echo '== Budgets (costopt.v_active_budget_status) =='
SELECT organization_id AS organisation, name, period_type AS period,
	   to_char(spend, 'FM$999,999,990.00') AS spend, to_char(limit_usd, 'FM$999,999,990') AS "limit",
	   round(100 * utilization, 1) AS used_pct, status,
	   to_char(projected_spend, 'FM$999,999,990.00') AS projected, projection_method AS projection,
	   projected_exhaustion_date AS runs_out, enforcement
  FROM costopt.v_active_budget_status
 ORDER BY utilization DESC;

\echo '== Budget alerts (costopt.budget_alerts) =='
SELECT organization_id AS organisation, level, message FROM costopt.budget_alerts ORDER BY id;

\echo '== Top recommendations, 3 per organisation (costopt.v_top_recommendations) =='
SELECT organization_id AS organisation, rank, recommendation_type AS type, title,
	   to_char(estimated_savings, 'FM$999,999,990.00') || '/month' AS saves,
	   priority_score AS priority, implementation_difficulty AS effort, quality_impact AS quality
  FROM costopt.v_top_recommendations
 WHERE rank <= 3
 ORDER BY organisation, rank;

\echo '== Savings found per organisation (costopt.cost_recommendations, costopt.savings_opportunities) =='
SELECT r.organization_id AS organisation, count(*) AS recommendations,
	   to_char(sum(r.estimated_savings), 'FM$999,999,990.00') || '/month' AS sum_of_savings,
	   (SELECT count(*) FROM costopt.savings_opportunities o
		 WHERE o.organization_id = r.organization_id AND o.status = 'open') AS opportunities
  FROM costopt.cost_recommendations r
 WHERE r.status IN ('pending', 'accepted')
 GROUP BY r.organization_id
 ORDER BY sum(r.estimated_savings) DESC;

\echo '== Chargeback by project, last 30 days, acme-corp (costopt_chargeback) =='
SELECT coalesce(allocation_key, '(no project)') AS project, requests,
	   to_char(direct_cost, 'FM$999,999,990.00') AS direct,
	   to_char(allocated_cost, 'FM$999,999,990.00') AS allocated,
	   to_char(total_cost, 'FM$999,999,990.00') AS charged, share_percent
  FROM costopt_chargeback('acme-corp', now() - interval '30 days', now(), 'project');

\echo '== Invoice, last calendar month, acme-corp, 10 % discount, 20 % tax (costopt_invoice) =='
SELECT i ->> 'subtotal' AS subtotal, i ->> 'discount_amount' AS discount, i ->> 'tax' AS tax,
	   i ->> 'total' AS total, jsonb_array_length(i -> 'line_items') AS lines
  FROM costopt_invoice('acme-corp', date_trunc('month', now()) - interval '1 month',
					   date_trunc('month', now()), 0.10, 0.20) i;

SELECT CASE count(*) WHEN 0 THEN 'rollups verified against the raw log: exact'
					 ELSE count(*) || ' differences between rollups and raw log' END AS rollup_check
  FROM costopt_verify_rollups();
