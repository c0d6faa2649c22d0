-- Final figures and checks of bench/soak/run.sh, after the writers stopped,
-- the ledger was loaded and the final refreshes ran.  Everything is read in
-- one REPEATABLE READ snapshot (the scheduler keeps refreshing meanwhile).
-- Ends with the line "failed checks: N".

\set ON_ERROR_STOP on
\pset footer off
SET timezone = 'UTC';

BEGIN ISOLATION LEVEL REPEATABLE READ;

SELECT soak.collect_raw_spend() AS budgets \gset
CREATE TEMP TABLE result AS SELECT * FROM soak.checks();

\echo
\echo '=== chaos steps'
SELECT to_char(at, 'HH24:MI:SS.MS') AS at, step, detail FROM soak.events ORDER BY at;

\echo '=== writers (a session ends when its connection is lost; the writer then reconnects)'
SELECT * FROM soak.writer_report();

\echo '=== in-flight batches: committed, but the writer lost its connection before COMMIT returned'
SELECT w AS writer, e AS session, b AS batch, n AS rows, complete, expected
  FROM soak.batch_status WHERE kind = 'in flight' ORDER BY 1, 2, 3;

\echo '=== budgets after the final refresh: spend (costopt.budgets) against the raw sum of the usage log'
SELECT id, name, period, period_start AS "period (UTC)", limit_usd AS "limit",
	   round(spend, 4) AS spend, round(raw_spend, 4) AS raw, diff, view_diff,
	   calls, raw_calls, level, paused, alerts
  FROM soak.budget_report();

\echo '=== alerts per budget kind and level'
SELECT regexp_replace(b.name, '^\S+ ', '') AS budget, a.level, a.threshold, count(*) AS alerts,
	   count(DISTINCT a.budget_id) AS budgets, count(DISTINCT (a.budget_id, a.period_start)) AS periods
  FROM costopt.budget_alerts a JOIN costopt.budgets b ON b.id = a.budget_id
 GROUP BY 1, 2, 3 ORDER BY 1, 3, 2;

\echo '=== closed budget periods (information: calls committed after their period was closed are not in its history row, doc/budgets.md)'
SELECT count(*) AS closed_periods,
	   count(*) FILTER (WHERE h.spend = s.spend AND h.requests = s.requests) AS equal_to_raw,
	   count(*) FILTER (WHERE h.spend <> s.spend OR h.requests <> s.requests) AS differ,
	   coalesce(sum(s.spend - h.spend), 0) AS raw_minus_history_usd
  FROM costopt.budget_history h
  JOIN costopt.budgets b ON b.id = h.budget_id
 CROSS JOIN LATERAL costopt.scope_spend(b.organization_id, b.user_id, b.project, b.model,
										b.provider, h.period_start, h.period_end) s;

\echo '=== scheduler runs (costopt.job_runs)'
SELECT * FROM soak.job_report();

\echo '=== usage log'
SELECT count(*) AS calls, count(*) FILTER (WHERE cost_status = 'priced') AS priced,
	   count(*) FILTER (WHERE cost_status = 'unpriced') AS unpriced,
	   round(sum(total_cost), 2) AS total_cost_usd,
	   to_char(min(created_at), 'HH24:MI:SS') AS first, to_char(max(created_at), 'HH24:MI:SS') AS last
  FROM costopt.api_usage_logs;

\echo '=== checks'
SELECT check_name AS "check", figure, CASE WHEN ok THEN 'ok' ELSE 'FAILED' END AS result FROM result;

SELECT count(*) FILTER (WHERE NOT ok) AS failed_checks FROM result \gset
COMMIT;
\echo 'failed checks:' :failed_checks
