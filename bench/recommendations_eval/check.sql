-- bench/recommendations_eval/check.sql: run the recommender over the two
-- organisations of generate.sql and score it against the planted waste
-- (see README.md).
--
--	 psql -f check.sql                                  costopt_generate_recommendations()
--	 psql -v recommender=bench.mock_ok -f check.sql     a mock (selftest.sql)
--	 psql -v tolerance=0.05 -v days2=15 -f check.sql    the defaults
--
-- Three analyses of each organisation, in this order, with the fixed as_of:
--	 days 30		the eval proper
--	 days :days2	a shorter window: the same waste, scaled to a month
--					(estimated_savings = window saving x 30 / days)
--	 days 30 again	must return what the first one did, one open row each
--	 days 30 in :tz	the same in a session with that TimeZone (default
--					Europe/Berlin, whose DST ends inside the window): shown
--					must give the same recommendations
-- For the first two it prints, per planted category: the expected
-- recommendation type, the planted waste (truth, per month: planted waste
-- in the window x 30 / days), the value the rules of the brief give on the
-- same calls (bench.rule_values, for diagnosis), the recommender's estimate
-- (sum of estimated_savings of that type for that organisation), the error
-- and PASS/FAIL (|error| <= tolerance); then every recommendation for
-- eval-waste that matches no planted category and every recommendation for
-- eval-control (each a FAIL); then the rerun check and one summary line.
-- Ends with an ERROR (psql -v ON_ERROR_STOP=1 exits non-zero) when anything
-- failed.

\set ON_ERROR_STOP on
\if :{?recommender}
\else
\set recommender costopt_generate_recommendations
\endif
\if :{?tolerance}
\else
\set tolerance 0.05
\endif
\if :{?days2}
\else
\set days2 15
\endif
\if :{?tz}
\else
\set tz Europe/Berlin
\endif

SET timezone = 'UTC';
SET client_min_messages = warning;
\pset footer off

DROP TABLE IF EXISTS bench.recs, bench.runs, bench.scores;
CREATE TABLE bench.runs (seq integer, run text, days integer, org text, ms numeric, n integer,
						 open_rows bigint);
CREATE TABLE bench.recs (
	run						text,
	org						text,
	recommendation_type		text,
	scope_key				text,
	title					text,
	current_monthly_cost	numeric,
	projected_monthly_cost	numeric,
	estimated_savings		numeric,
	savings_percentage		numeric,
	priority_score			numeric,
	confidence_score		numeric,
	status					text,
	analysis_data			jsonb,
	category				text		-- planted category it matches, if any
);

-- The analyses, each timed.  (psql does not substitute variables inside a
-- DO body: the arguments go through settings.)
SELECT set_config('bench.recommender', :'recommender', false),
	   set_config('bench.days2', :'days2', false),
	   set_config('bench.tz', :'tz', false) \g /dev/null
DO $$
DECLARE
	fn regproc := to_regproc(current_setting('bench.recommender'));
	x bench.params;
	r record;
	o text;
	t0 timestamptz;
	n integer;
BEGIN
	IF fn IS NULL THEN
		RAISE EXCEPTION 'recommender "%" is not installed', current_setting('bench.recommender');
	END IF;
	SELECT * INTO x FROM bench.params;
	FOR r IN SELECT * FROM (VALUES (1, 'days 30', 30),
								   (2, 'days ' || current_setting('bench.days2'),
									current_setting('bench.days2')::integer),
								   (3, 'days 30 again', 30),
								   (4, 'days 30 in ' || current_setting('bench.tz'), 30)) v(seq, run, days) LOOP
		-- the last analysis runs in another session time zone (the
		-- arguments keep their meaning: as_of is an absolute time)
		IF r.seq = 4 THEN
			PERFORM set_config('timezone', current_setting('bench.tz'), true);
		END IF;
		FOREACH o IN ARRAY ARRAY['eval-control', 'eval-waste'] LOOP
			t0 := clock_timestamp();
			EXECUTE format($q$
				INSERT INTO bench.recs
				SELECT $1, $2, r.recommendation_type, r.scope_key, r.title, r.current_monthly_cost,
					   r.projected_monthly_cost, r.estimated_savings, r.savings_percentage,
					   r.priority_score, r.confidence_score, r.status, r.analysis_data, NULL
				  FROM %s($2, $3, $4) r
				 WHERE r.organization_id = $2$q$, fn)
				USING r.run, o, r.days, x.as_of;
			GET DIAGNOSTICS n = ROW_COUNT;
			INSERT INTO bench.runs
			VALUES (r.seq, r.run, r.days, o, round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1), n,
					-- open rows stored for the organisation (a mock stores none)
					CASE WHEN fn = 'costopt_generate_recommendations'::regproc
						 THEN (SELECT count(*) FROM costopt.cost_recommendations c
								WHERE c.organization_id = o AND c.status IN ('pending', 'accepted')) END);
		END LOOP;
	END LOOP;
	PERFORM set_config('timezone', 'UTC', true);
END
$$;

-- The rules on the shorter window (the 30-day values are in bench.rules).
INSERT INTO bench.rules
SELECT r.* FROM bench.params x, bench.rule_values(x.as_of - :days2 * interval '1 day', x.as_of) r
 WHERE NOT EXISTS (SELECT 1 FROM bench.rules WHERE days = :days2);

-- A recommendation matches a planted category when it has the expected
-- type and names the planted scope (project or model) in its scope_key or
-- title.
UPDATE bench.recs r SET category = e.category
  FROM bench.expected e
 WHERE e.org = r.org AND e.expected_type = r.recommendation_type
   AND (coalesce(r.scope_key, '') || ' ' || coalesce(r.title, '')) ILIKE '%' || e.marker || '%';

-- Truth per run: the planted waste of the run's window, per month.
CREATE TABLE bench.scores AS
SELECT u.seq, u.run, u.days, e.org, e.category, e.expected_type,
	   (SELECT sum(t.amount) * 30 / u.days FROM bench.truth t
		 WHERE t.org = e.org AND t.category = e.category
		   AND t.created_at >= x.as_of - u.days * interval '1 day' AND t.created_at < x.as_of) AS truth,
	   (SELECT sum(rv.rule_value) FROM bench.rules rv
		 WHERE rv.days = u.days AND rv.org = e.org AND rv.category = e.category) AS by_rule,
	   (SELECT sum(r.estimated_savings) FROM bench.recs r
		 WHERE r.run = u.run AND r.org = e.org AND r.recommendation_type = e.expected_type) AS estimate,
	   (SELECT count(*) FROM bench.recs r
		 WHERE r.run = u.run AND r.org = e.org AND r.recommendation_type = e.expected_type) AS recs
  FROM bench.expected e, bench.params x,
	   (SELECT DISTINCT seq, run, days FROM bench.runs WHERE seq < 3) u;
ALTER TABLE bench.scores ADD COLUMN passed boolean;
UPDATE bench.scores SET passed = coalesce(abs(estimate - truth) <= :tolerance * truth, false);

SELECT format('=== recommender %s, as_of %s; extension %s', :'recommender', x.as_of,
			  (SELECT extversion FROM pg_extension WHERE extname = 'costopt')) AS header
  FROM bench.params x \gset
\echo
\echo :header

\echo === settings in force (the truth and the rule column assume these values)
SELECT s.name, coalesce(current_setting(s.name, true), '(not defined)') AS value, s.assumed,
	   CASE WHEN current_setting(s.name, true) IS NULL OR s.assumed = '' THEN ''
			WHEN s.name = 'costopt.response_cache_window'
				 THEN CASE WHEN current_setting(s.name)::interval = s.assumed::interval THEN 'ok' ELSE 'DIFFERS' END
			WHEN current_setting(s.name)::numeric = s.assumed::numeric THEN 'ok' ELSE 'DIFFERS' END AS "check"
  FROM bench.params x,
	   LATERAL (VALUES ('costopt.downgrade_quality_margin', x.downgrade_quality_margin::text),
					   ('costopt.response_cache_window', x.response_cache_window::text),
					   ('costopt.prompt_bloat_factor', x.prompt_bloat_factor::text),
					   ('costopt.recommendation_min_savings', x.min_savings::text),
					   ('costopt.batch_operations', ''),
					   ('costopt.spike_threshold', '')) s(name, assumed);

\echo === analyses (recommendations returned, time)
SELECT run, org, n AS recommendations, ms FROM bench.runs ORDER BY seq, org;

\echo === planted waste against the estimates (USD per month; PASS within the tolerance)
SELECT s.days, s.category AS planted, s.expected_type AS "expected type", round(s.truth, 4) AS truth,
	   round(s.by_rule, 4) AS "by rule", coalesce(round(s.estimate, 4)::text, '-') AS estimate,
	   s.recs,
	   coalesce(to_char(100 * (s.estimate - s.truth) / s.truth, 'FMS990.00') || ' %', '-') AS "error",
	   CASE WHEN s.passed THEN 'PASS' ELSE 'FAIL' END AS result
  FROM bench.scores s
 ORDER BY s.seq, s.expected_type;

\echo === recommendations for eval-waste that match no planted category (false positives)
SELECT run, recommendation_type AS type, scope_key, round(estimated_savings, 4) AS estimated_savings,
	   round(confidence_score, 2) AS confidence, title, 'FAIL' AS result
  FROM bench.recs WHERE org = 'eval-waste' AND category IS NULL AND run IN (SELECT run FROM bench.scores)
 ORDER BY run DESC, estimated_savings DESC NULLS LAST, recommendation_type, scope_key;

\echo === recommendations for eval-control (there must be none)
SELECT run, recommendation_type AS type, scope_key, round(estimated_savings, 4) AS estimated_savings,
	   round(confidence_score, 2) AS confidence, title, 'FAIL' AS result
  FROM bench.recs WHERE org = 'eval-control' AND run IN (SELECT run FROM bench.scores)
 ORDER BY run DESC, estimated_savings DESC NULLS LAST, recommendation_type, scope_key;

-- Rerun: the third analysis (days 30 again) returns the same
-- recommendations with the same figures as the first, and the table holds
-- exactly one open row for each.
CREATE TEMP TABLE rerun AS
WITH a AS (SELECT org, recommendation_type, scope_key, estimated_savings, current_monthly_cost
			 FROM bench.recs WHERE run = 'days 30'),
	 b AS (SELECT org, recommendation_type, scope_key, estimated_savings, current_monthly_cost
			 FROM bench.recs WHERE run = 'days 30 again')
SELECT (SELECT count(*) FROM a) AS first_run, (SELECT count(*) FROM b) AS rerun,
	   (SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b) d) AS only_first,
	   (SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a) d) AS only_rerun,
	   (SELECT sum(open_rows) FROM bench.runs WHERE seq = 3) AS open_rows;
ALTER TABLE rerun ADD COLUMN passed boolean;
UPDATE rerun SET passed = only_first = 0 AND only_rerun = 0
						  AND (open_rows IS NULL OR open_rows = rerun);

\echo === rerun with days 30: the same recommendations and figures, one open row each
SELECT first_run AS "days 30", rerun AS "days 30 again", only_first AS "only in the first",
	   only_rerun AS "only in the rerun",
	   coalesce(open_rows::text, '-') AS "open rows in costopt.cost_recommendations",
	   CASE WHEN passed THEN 'PASS' ELSE 'FAIL' END AS result
  FROM rerun;

-- Session time zone: what the analysis in :tz returns differently from the
-- first one (UTC).
CREATE TEMP TABLE tz_diff AS
WITH a AS (SELECT org, recommendation_type, scope_key, estimated_savings
			 FROM bench.recs WHERE run = 'days 30'),
	 b AS (SELECT org, recommendation_type, scope_key, estimated_savings, analysis_data
			 FROM bench.recs WHERE run = 'days 30 in ' || :'tz')
SELECT 'only in ' || :'tz' AS "where", b.org, b.recommendation_type, b.scope_key, b.estimated_savings,
	   b.analysis_data->>'window_from' AS window_from, b.analysis_data->>'window_to' AS window_to
  FROM b WHERE (b.org, b.recommendation_type, b.scope_key, b.estimated_savings) NOT IN (SELECT * FROM a)
UNION ALL
SELECT 'only in UTC', a.org, a.recommendation_type, a.scope_key, a.estimated_savings, NULL, NULL
  FROM a WHERE (a.org, a.recommendation_type, a.scope_key, a.estimated_savings)
			   NOT IN (SELECT org, recommendation_type, scope_key, estimated_savings FROM b);

SELECT format('=== days 30 analysed in a session with TimeZone %s instead of UTC (must be the same): %s',
			  :'tz', CASE WHEN count(*) = 0 THEN 'the same recommendations'
						  ELSE count(*) || ' recommendations differ' END) AS header
  FROM tz_diff \gset
\echo :header
SELECT "where", org, recommendation_type AS type, scope_key, round(estimated_savings, 4) AS savings,
	   window_from, window_to
  FROM tz_diff ORDER BY 1, 2, 3, 4;

\echo === every recommendation of the days 30 analysis
SELECT org, recommendation_type AS type, scope_key, coalesce(category, '-') AS planted,
	   round(current_monthly_cost, 4) AS current, round(projected_monthly_cost, 4) AS projected,
	   round(estimated_savings, 4) AS savings,
	   round((analysis_data->>'window_savings')::numeric, 4) AS window_savings,
	   round(savings_percentage, 1) AS pct, round(priority_score, 1) AS priority,
	   round(confidence_score, 2) AS confidence, status
  FROM bench.recs
 WHERE run = 'days 30'
 ORDER BY org, estimated_savings DESC NULLS LAST, recommendation_type, scope_key;

-- summary
SELECT string_agg(format('days %s: %s/%s planted categories within %s %%, %s false positives, '
						 '%s for eval-control', v.days, v.ok, v.n, round(100 * :tolerance, 2)::float8,
						 v.fp, v.ctl), '; ' ORDER BY v.seq)
	   || format('; rerun %s', CASE WHEN (SELECT passed FROM rerun) THEN 'identical' ELSE 'DIFFERS' END)
	   || format('; TimeZone %s: %s', :'tz',
				 CASE WHEN (SELECT count(*) FROM tz_diff) = 0 THEN 'same'
					  ELSE (SELECT count(*) FROM tz_diff) || ' DIFFER' END)
	   || ': ' || CASE WHEN bool_and(v.ok = v.n AND v.fp = 0 AND v.ctl = 0) AND (SELECT passed FROM rerun)
						   AND (SELECT count(*) FROM tz_diff) = 0
					   THEN 'PASS' ELSE 'FAIL' END AS summary,
	   bool_and(v.ok = v.n AND v.fp = 0 AND v.ctl = 0) AND (SELECT passed FROM rerun)
		   AND (SELECT count(*) FROM tz_diff) = 0 AS passed
  FROM (SELECT s.seq, s.run, s.days, count(*) FILTER (WHERE s.passed) AS ok, count(*) AS n,
			   (SELECT count(*) FROM bench.recs r
				 WHERE r.run = s.run AND r.org = 'eval-waste' AND r.category IS NULL) AS fp,
			   (SELECT count(*) FROM bench.recs r WHERE r.run = s.run AND r.org = 'eval-control') AS ctl
		  FROM bench.scores s GROUP BY s.seq, s.run, s.days) v \gset
\echo
\echo recommendations_eval: :summary

\if :passed
\else
DO $$ BEGIN RAISE EXCEPTION 'recommendations_eval failed'; END $$;
\endif
