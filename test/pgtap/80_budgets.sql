-- Budgets: validation, calendar periods, exact spend (deltas, raw
-- initialisation, both together), roll-over with history, alerts with
-- levels and cooldown, hard/soft enforcement, the pre-call check,
-- reservations (reserve, release, settle, expire), projections, views.
--
-- Runs in one rolled-back transaction: the capture's deltas are made
-- visible with pg_temp.flush_deltas() (see include/rollup_fixture.psql),
-- which writes costopt.budget_deltas through the same path as a commit.
-- Concurrency (reservations under load, racing refreshes, pg_notify at
-- commit) is tested in test/isolation and test/t/004_budgets_concurrency.t.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(132);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-- psql variables set with \gset, readable inside dollar-quoted queries
CREATE TEMP TABLE vars (name text PRIMARY KEY, value bigint);
CREATE FUNCTION pg_temp.v(n text) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT value FROM pg_temp.vars WHERE name = n
$$;

-- A call of 1000 input and 500 output tokens costs 2 on tap-a, 4 on tap-b.
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapai', 'tap-a', 1000, 2000, '-infinity'),
	   ('tapai', 'tap-b', 2000, 4000, '-infinity');

CALL pg_temp.flush_deltas();
DELETE FROM costopt.budgets;
DELETE FROM costopt.budget_deltas;

-- calls of org b-1 (and a neighbour that must never count)
CREATE FUNCTION pg_temp.calls(org text, usr text, proj text, mdl text, n integer, at timestamptz)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, project, provider,
										model, input_tokens, output_tokens)
	SELECT at, org, usr, proj, 'tapai', mdl, 1000, 500 FROM generate_series(1, n)
$$;
-- the raw spend of a budget's scope and current period, computed here
CREATE FUNCTION pg_temp.raw_spend(bid bigint) RETURNS numeric LANGUAGE sql AS $$
	SELECT coalesce(sum(u.total_cost), 0)
	  FROM costopt.api_usage_logs u, costopt.budgets b
	 WHERE b.id = bid AND u.organization_id = b.organization_id
	   AND (b.user_id IS NULL OR u.user_id = b.user_id)
	   AND (b.project IS NULL OR u.project = b.project)
	   AND (b.model IS NULL OR u.model = b.model)
	   AND (b.provider IS NULL OR u.provider = b.provider)
	   AND u.created_at >= b.period_start AND u.created_at < b.period_end
$$;
CREATE FUNCTION pg_temp.all_exact() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM costopt.budgets b
	 WHERE b.is_active AND b.current_spend <> pg_temp.raw_spend(b.id)
$$;
CREATE PROCEDURE pg_temp.refresh_budgets() LANGUAGE plpgsql AS $$
BEGIN
	CALL pg_temp.flush_deltas();
	PERFORM costopt_refresh_budgets();
END;
$$;

-------------------------------------------------------------------------------
-- Objects
-------------------------------------------------------------------------------
SELECT has_table('costopt', 'budgets', 'costopt.budgets exists');
SELECT has_table('costopt', 'budget_history', 'costopt.budget_history exists');
SELECT has_table('costopt', 'budget_alerts', 'costopt.budget_alerts exists');
SELECT has_table('costopt', 'budget_reservations', 'costopt.budget_reservations exists');
SELECT has_view('costopt', 'v_active_budget_status', 'costopt.v_active_budget_status exists');
SELECT is((SELECT count(*)::integer FROM pg_index WHERE indrelid = 'costopt.budget_deltas'::regclass), 0,
		  'budget_deltas has no index (written with direct heap inserts)');
SELECT has_column('costopt', 'api_usage_logs', 'reservation_id', 'usage rows can name a reservation');

-------------------------------------------------------------------------------
-- Validation
-------------------------------------------------------------------------------
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 0)$$),
		  '22023: budget limit must be a positive amount of USD', 'limit 0 is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', -5)$$), '22023', 'negative limit is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', NULL)$$), '22023', 'NULL limit is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 'Infinity')$$), '22023', 'infinite limit is refused');
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{0.9,0.8}')$$),
		  '22023: budget thresholds must be strictly increasing', 'decreasing thresholds are refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{0.5,0.5}')$$),
		  '22023', 'repeated thresholds are refused');
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{0,1}')$$),
		  '22023: budget threshold 0 is outside (0, 2]', 'threshold 0 is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{0.5,2.5}')$$),
		  '22023', 'threshold above 2 is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{}')$$),
		  '22023', 'an empty threshold list is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, thresholds => '{0.5,NULL}')$$),
		  '22023', 'a NULL threshold is refused');
SELECT is(pg_temp.error_hint($$SELECT costopt_create_budget('b-1', 'x', 10, period => 'fortnightly')$$),
		  '22023: Use hourly, daily, weekly, monthly, quarterly, yearly or custom.',
		  'an unknown period is refused with the list of periods');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, enforcement => 'strict')$$),
		  '22023', 'an unknown enforcement mode is refused');
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 10, grace => -0.1)$$),
		  '22023: budget grace must be between 0 and 10 (a fraction of the limit)', 'negative grace is refused');
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 10, period => 'custom',
		  starts_at => now(), ends_at => now() - interval '1 day')$$),
		  '22023: budget end must be after its start', 'end before start is refused');
SELECT is(pg_temp.error_message($$SELECT costopt_create_budget('b-1', 'x', 10, period => 'custom')$$),
		  '22023: a custom budget needs an end', 'a custom budget without an end is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, timezone => 'Mars/Olympus')$$),
		  '22023', 'an unknown time zone is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, user_id => '')$$),
		  '22023', 'an empty scope name is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('', 'x', 10)$$), '22023', 'an empty organisation is refused');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_create_budget('b-1', 'x', 10, alert_contacts => '[1]')$$),
		  '22023', 'alert contacts must be an object');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_update_budget(-1, limit_usd => 5)$$), '42704', 'updating a missing budget: 42704');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_delete_budget(-1)$$), '42704', 'deleting a missing budget: 42704');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt_budget_status(-1)$$), '42704', 'status of a missing budget: 42704');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt_budget_history(-1)$$), '42704', 'history of a missing budget: 42704');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_acknowledge_alert(-1)$$), '42704', 'acknowledging a missing alert: 42704');
SELECT is(pg_temp.sqlstate_of($$INSERT INTO costopt.budgets (organization_id, name, limit_usd, period_start, period_end)
								 VALUES ('b-1', 'direct', -1, '-infinity', 'infinity')$$),
		  '22023', 'direct inserts into costopt.budgets are validated too');

-------------------------------------------------------------------------------
-- Calendar periods
-------------------------------------------------------------------------------
SELECT is(costopt.budget_period('monthly', 'Europe/Berlin', NULL, NULL, '2025-03-31 22:30+00'),
		  ROW('2025-03-31 22:00+00', '2025-04-30 22:00+00')::costopt.period_bounds,
		  'monthly periods start at local midnight (Berlin, summer time)');
SELECT is(costopt.budget_period('daily', 'Europe/Berlin', NULL, NULL, '2025-03-30 12:00+00'),
		  ROW('2025-03-29 23:00+00', '2025-03-30 22:00+00')::costopt.period_bounds,
		  'a daily period on the spring-forward day lasts 23 hours');
SELECT is(costopt.budget_period('hourly', 'Asia/Kolkata', NULL, NULL, '2025-05-01 10:10+00'),
		  ROW('2025-05-01 09:30+00', '2025-05-01 10:30+00')::costopt.period_bounds,
		  'hourly periods follow a half-hour offset zone');
SELECT is(costopt.budget_period('weekly', 'UTC', NULL, NULL, '2025-05-01 10:00+00'),
		  ROW('2025-04-28 00:00+00', '2025-05-05 00:00+00')::costopt.period_bounds, 'weeks start on Monday');
SELECT is(costopt.budget_period('quarterly', 'UTC', NULL, NULL, '2025-05-17 00:00+00'),
		  ROW('2025-04-01 00:00+00', '2025-07-01 00:00+00')::costopt.period_bounds, 'calendar quarters');
SELECT is(costopt.budget_period('yearly', 'America/New_York', NULL, NULL, '2025-01-01 03:00+00'),
		  ROW('2024-01-01 05:00+00', '2025-01-01 05:00+00')::costopt.period_bounds,
		  'years in the budget''s zone (still 2024 in New York)');
SELECT is((SELECT count(*)::integer FROM costopt.budget_periods_between('hourly', 'UTC', '2025-01-01', '2025-01-01 05:00')),
		  5, 'the periods skipped over by a late refresh are listed');

-------------------------------------------------------------------------------
-- Exact spend
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-1', 'org month', 1000) AS b_org \gset
INSERT INTO pg_temp.vars VALUES ('b_org', :b_org);
SELECT costopt_create_budget('b-1', 'alice', 1000, user_id => 'alice') AS b_alice \gset
INSERT INTO pg_temp.vars VALUES ('b_alice', :b_alice);
SELECT costopt_create_budget('b-1', 'project x', 1000, project => 'px') AS b_proj \gset
INSERT INTO pg_temp.vars VALUES ('b_proj', :b_proj);
SELECT costopt_create_budget('b-1', 'model b', 1000, model => 'TAP-B') AS b_model \gset
INSERT INTO pg_temp.vars VALUES ('b_model', :b_model);
SELECT costopt_create_budget('b-1', 'provider', 1000, provider => 'tapai') AS b_prov \gset
INSERT INTO pg_temp.vars VALUES ('b_prov', :b_prov);
SELECT is((SELECT model FROM costopt.budgets WHERE id = :b_model), 'tap-b', 'model scopes are stored lower case');
SELECT is((SELECT period_start FROM costopt.budgets WHERE id = :b_org), date_trunc('month', now()),
		  'a monthly budget covers the calendar month it was created in');

SELECT pg_temp.calls('b-1', 'alice', 'px', 'tap-a', 3, now() - interval '1 minute');
SELECT pg_temp.calls('b-1', 'bob', NULL, 'tap-b', 2, now());
SELECT pg_temp.calls('b-1', 'alice', NULL, 'tap-b', 1, now());
SELECT pg_temp.calls('b-2', 'alice', 'px', 'tap-a', 5, now());			-- another organisation
SELECT pg_temp.calls('b-1', 'alice', 'px', 'tap-a', 4, date_trunc('month', now()) - interval '1 hour');  -- last month
INSERT INTO costopt.api_usage_logs (organization_id, user_id, model, input_tokens, output_tokens)
VALUES ('b-1', 'alice', 'no-price-model', 100, 10);					-- unpriced
CALL pg_temp.flush_deltas();
SELECT is((SELECT count(*)::integer FROM costopt.budget_deltas WHERE minute < date_trunc('month', now())), 0,
		  'calls before every budget''s period write no budget deltas');
SELECT is((SELECT sum(total_cost) FROM costopt.budget_deltas WHERE organization_id = 'b-1'), 18.0,
		  'the deltas hold the priced spend of the calls in the period');
SELECT ok((SELECT spend_needs_init FROM costopt.budgets WHERE id = :b_org), 'a new budget waits for its initial spend');
SELECT is((SELECT spend FROM costopt_budget_status(:b_org)), 18.0, 'status before any refresh is already exact');

SELECT is((SELECT budgets FROM costopt_refresh_budgets()), 5::bigint, 'the refresh counts the active budgets');
SELECT is(pg_temp.all_exact(), 0::bigint, 'after the first refresh every budget equals the raw sum');
SELECT results_eq($$SELECT id, current_spend FROM costopt.budgets WHERE organization_id = 'b-1' ORDER BY id$$,
				  $$VALUES (pg_temp.v('b_org'), 18.0), (pg_temp.v('b_alice'), 10.0), (pg_temp.v('b_proj'), 6.0), (pg_temp.v('b_model'), 12.0), (pg_temp.v('b_prov'), 18.0)$$,
				  'org, user, project, model and provider scopes add up as expected');
SELECT is((SELECT current_requests FROM costopt.budgets WHERE id = :b_org), 6::bigint, 'priced calls are counted');

-- more calls, then a budget created while their deltas are pending: the
-- new budget takes the raw sum, the old ones the deltas, nothing twice
SELECT pg_temp.calls('b-1', 'alice', 'px', 'tap-a', 2, now());
SELECT pg_temp.calls('b-1', 'carol', 'py', 'tap-b', 1, now() - interval '2 days');
CALL pg_temp.flush_deltas();
SELECT costopt_create_budget('b-1', 'late alice', 1000, user_id => 'alice') AS b_late \gset
INSERT INTO pg_temp.vars VALUES ('b_late', :b_late);
SELECT is((SELECT spend FROM costopt_budget_status(:b_alice)), 14.0, 'status adds the pending deltas');
SELECT results_eq($$SELECT current_spend, spend_needs_init FROM costopt.budgets WHERE id = pg_temp.v('b_late')$$,
				  $$VALUES (14.0, true)$$,
				  'a new budget starts from its spend so far (the check sees it), exact at the next refresh');
SELECT costopt_refresh_budgets() \g /dev/null
SELECT is(pg_temp.all_exact(), 0::bigint, 'pending deltas and a new budget: every budget equals the raw sum');
SELECT is((SELECT current_spend FROM costopt.budgets WHERE id = :b_late), 14.0, 'the new budget counts each call once');
SELECT is((SELECT count(*)::integer FROM costopt.budget_deltas), 0, 'the refresh consumed the deltas');

-- deletions and updates of calls move spend too
DELETE FROM costopt.api_usage_logs WHERE organization_id = 'b-1' AND user_id = 'bob';
UPDATE costopt.api_usage_logs SET input_tokens = 2000 WHERE organization_id = 'b-1' AND user_id = 'carol';
CALL pg_temp.refresh_budgets();
SELECT is(pg_temp.all_exact(), 0::bigint, 'deleted and re-priced calls: every budget equals the raw sum');

-------------------------------------------------------------------------------
-- Roll-over and history
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-3', 'daily', 100, period => 'daily') AS b_day \gset
INSERT INTO pg_temp.vars VALUES ('b_day', :b_day);
SELECT costopt_create_budget('b-3', 'hourly', 100, period => 'hourly') AS b_hour \gset
INSERT INTO pg_temp.vars VALUES ('b_hour', :b_hour);
SELECT pg_temp.calls('b-3', 'u', NULL, 'tap-a', 2, date_trunc('day', now()) - interval '20 hours');
CALL pg_temp.refresh_budgets();
-- pretend yesterday was current and a refresh ran then: spend as of then
UPDATE costopt.budgets SET period_start = period_start - interval '1 day', period_end = period_start,
		current_spend = 4, current_requests = 2 WHERE id = :b_day;
UPDATE costopt.budgets SET period_start = period_start - interval '5 hours',
		period_end = period_start - interval '4 hours', current_spend = 0, current_requests = 0
 WHERE id = :b_hour;
-- today's calls, and a late call for yesterday, arrive before the roll-over
SELECT pg_temp.calls('b-3', 'u', NULL, 'tap-a', 3, now());
SELECT pg_temp.calls('b-3', 'u', NULL, 'tap-a', 1, date_trunc('hour', now()) - interval '3 hours');
SELECT pg_temp.calls('b-3', 'u', NULL, 'tap-b', 1, date_trunc('day', now()) - interval '1 minute');
CALL pg_temp.refresh_budgets();
SELECT results_eq($$SELECT period_start, spend, requests FROM costopt.budget_history WHERE budget_id = pg_temp.v('b_day')$$,
				  $$SELECT date_trunc('day', now()) - interval '1 day', sum(total_cost), count(*)
					  FROM costopt.api_usage_logs WHERE organization_id = 'b-3'
					   AND created_at >= date_trunc('day', now()) - interval '1 day'
					   AND created_at < date_trunc('day', now())$$,
				  'the closed day keeps its final spend, the late call included');
SELECT is((SELECT current_spend FROM costopt.budgets WHERE id = :b_day), pg_temp.raw_spend(:b_day),
		  'the new day starts with today''s calls');
SELECT cmp_ok((SELECT current_spend FROM costopt.budgets WHERE id = :b_day), '>=', 6.0, 'which are there');
SELECT is((SELECT period_start FROM costopt.budgets WHERE id = :b_day), date_trunc('day', now()), 'the new day is today');
SELECT is((SELECT count(*)::integer FROM costopt.budget_history WHERE budget_id = :b_hour), 5,
		  'an hourly budget four hours behind gets five closed hours');
SELECT is((SELECT spend FROM costopt.budget_history WHERE budget_id = :b_hour
			AND period_start = date_trunc('hour', now()) - interval '3 hours'), 2.0,
		  'a skipped hour is filled from the raw log');
SELECT is(pg_temp.all_exact(), 0::bigint, 'after the roll-over every budget equals the raw sum');
SELECT is((SELECT count(*)::integer FROM costopt_budget_history(:b_day)), 2, 'history lists the closed and the current period');
SELECT ok((SELECT is_current FROM costopt_budget_history(:b_day) LIMIT 1), 'the current period comes first');

-- a custom budget whose period is over closes for good
SELECT costopt_create_budget('b-3', 'launch week', 50, period => 'custom', starts_at => now() - interval '2 days',
							 ends_at => now() + interval '1 day') AS b_custom \gset
INSERT INTO pg_temp.vars VALUES ('b_custom', :b_custom);
CALL pg_temp.refresh_budgets();
UPDATE costopt.budgets SET period_end = now() - interval '1 minute' WHERE id = :b_custom;
CALL pg_temp.refresh_budgets();
SELECT is((SELECT is_active FROM costopt.budgets WHERE id = :b_custom), false, 'an ended custom budget becomes inactive');
SELECT is((SELECT count(*)::integer FROM costopt.budget_history WHERE budget_id = :b_custom), 1, 'and keeps its period in the history');
SELECT ok(NOT EXISTS (SELECT 1 FROM costopt.v_active_budget_status WHERE budget_id = :b_custom),
		  'the view shows active budgets only');

-------------------------------------------------------------------------------
-- Alerts
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-4', 'tiers', 10, thresholds => '{0.5,0.75,0.9,1.0}',
							 alert_contacts => '{"emails": ["ops@example.com"]}') AS b_tier \gset
INSERT INTO pg_temp.vars VALUES ('b_tier', :b_tier);
SELECT costopt_create_budget('b-4', 'quiet', 10, user_id => 'q', alert_enabled => false) AS b_quiet \gset
INSERT INTO pg_temp.vars VALUES ('b_quiet', :b_quiet);
CALL pg_temp.refresh_budgets();
SELECT pg_temp.calls('b-4', 'u', NULL, 'tap-a', 3, now());			-- 6 of 10
CALL pg_temp.refresh_budgets();
SELECT results_eq($$SELECT level, threshold, spend, contacts FROM costopt.budget_alerts WHERE budget_id = pg_temp.v('b_tier')$$,
				  $$VALUES ('warning', 0.5, 6.0, '{"emails": ["ops@example.com"]}'::jsonb)$$,
				  'crossing 50 % writes one warning alert with the contacts');
SELECT is((SELECT alert_level FROM costopt.budgets WHERE id = :b_tier), 'warning', 'the budget''s level is warning');
CALL pg_temp.refresh_budgets();
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b_tier), 1,
		  'a refresh without a new crossing writes nothing');
SELECT pg_temp.calls('b-4', 'u', NULL, 'tap-a', 1, now());			-- 8: past 0.75 ...
SELECT pg_temp.calls('b-4', 'u', NULL, 'tap-b', 1, now());			-- ... 12: past 0.9 and 1.0
CALL pg_temp.refresh_budgets();
SELECT results_eq($$SELECT level, threshold FROM costopt.budget_alerts WHERE budget_id = pg_temp.v('b_tier') ORDER BY id$$,
				  $$VALUES ('warning', 0.5), ('exceeded', 1.0)$$,
				  'a jump over several thresholds writes one alert for the highest');
SELECT matches((SELECT message FROM costopt.budget_alerts WHERE budget_id = :b_tier AND level = 'exceeded'),
			   '^Budget "tiers" has been exceeded: \$12\.00 of \$10 \(120\.0%\)', 'the alert message states spend and limit');
SELECT is(costopt.budget_level_name('{0.5,0.75,0.9,1.0}', 3), 'critical', 'the highest threshold under 1 is critical');
SELECT is(costopt.budget_level_name('{0.5,0.75,0.9,1.0}', 2), 'warning', 'lower ones are warnings');
-- the level drops (limit raised) and rises again within the cooldown
SELECT costopt_update_budget(:b_tier, limit_usd => 100) \g /dev/null
CALL pg_temp.refresh_budgets();
SELECT is((SELECT alert_level FROM costopt.budgets WHERE id = :b_tier), 'none', 'a raised limit lowers the level, silently');
SELECT costopt_update_budget(:b_tier, limit_usd => 10) \g /dev/null
CALL pg_temp.refresh_budgets();
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b_tier), 2,
		  'crossing again within the cooldown repeats no alert');
SELECT is((SELECT alert_level FROM costopt.budgets WHERE id = :b_tier), 'exceeded', 'but the level is exceeded again');
SELECT costopt_update_budget(:b_tier, limit_usd => 100, alert_cooldown => '0') \g /dev/null
CALL pg_temp.refresh_budgets();
SELECT costopt_update_budget(:b_tier, limit_usd => 10) \g /dev/null
CALL pg_temp.refresh_budgets();
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b_tier), 3,
		  'without a cooldown the new crossing alerts again');
SELECT pg_temp.calls('b-4', 'q', NULL, 'tap-b', 3, now());
CALL pg_temp.refresh_budgets();
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b_quiet), 0, 'alerts can be switched off');
SELECT is((SELECT alert_level FROM costopt.budgets WHERE id = :b_quiet), 'exceeded', 'the level is kept all the same');
SELECT id AS alert1 FROM costopt.budget_alerts WHERE budget_id = :b_tier ORDER BY id LIMIT 1 \gset
INSERT INTO pg_temp.vars VALUES ('alert1', :alert1);
SELECT is((costopt_acknowledge_alert(:alert1, 'finops')).acknowledged_by, 'finops', 'an alert is acknowledged');
SELECT is((costopt_acknowledge_alert(:alert1, 'someone else')).acknowledged_by, 'finops',
		  'the first acknowledgement is kept');

-------------------------------------------------------------------------------
-- Enforcement and the pre-call check
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-5', 'org', 100) AS b5_org \gset
INSERT INTO pg_temp.vars VALUES ('b5_org', :b5_org);
SELECT costopt_create_budget('b-5', 'dave hard', 10, user_id => 'dave', enforcement => 'hard', grace => 0.1) AS b5_dave \gset
INSERT INTO pg_temp.vars VALUES ('b5_dave', :b5_dave);
SELECT costopt_create_budget('b-5', 'erin soft', 10, user_id => 'erin', enforcement => 'soft') AS b5_erin \gset
INSERT INTO pg_temp.vars VALUES ('b5_erin', :b5_erin);
SELECT costopt_create_budget('b-5', 'model b', 10, model => 'tap-b', enforcement => 'hard') AS b5_model \gset
INSERT INTO pg_temp.vars VALUES ('b5_model', :b5_model);
CALL pg_temp.refresh_budgets();
SELECT results_eq($$SELECT allowed, budget_id, remaining, reason FROM costopt_check_budget('b-5', 'dave', NULL, 1)$$,
				  $$VALUES (true, pg_temp.v('b5_dave'), 10.0, 'within budget')$$,
				  'the check names the tightest budget that applies');
SELECT results_eq($$SELECT allowed, budget_id FROM costopt_check_budget('b-5', 'frank', NULL, 1)$$,
				  $$VALUES (true, pg_temp.v('b5_org'))$$, 'another user falls under the organisation budget only');
SELECT results_eq($$SELECT allowed, budget_id, reason FROM costopt_check_budget('b-5', 'dave', NULL, 11.5)$$,
				  $$VALUES (false, pg_temp.v('b5_dave'), 'would pass the hard limit plus grace')$$,
				  'a call past limit plus grace is refused by the hard budget');
SELECT results_eq($$SELECT allowed FROM costopt_check_budget('b-5', 'dave', NULL, 10.5)$$,
				  $$VALUES (true)$$, 'within the grace is allowed');
SELECT results_eq($$SELECT allowed, reason FROM costopt_check_budget('b-5', 'erin', NULL, 50)$$,
				  $$VALUES (true, 'over the soft limit (allowed)')$$, 'a soft budget allows and says so');
SELECT results_eq($$SELECT allowed, budget_id FROM costopt_check_budget('b-5', 'frank', NULL, 20, 'TAP-B')$$,
				  $$VALUES (false, pg_temp.v('b5_model'))$$, 'a model budget applies when the call names the model');
SELECT results_eq($$SELECT allowed, budget_id, reason FROM costopt_check_budget('nobody-here')$$,
				  $$VALUES (true, NULL::bigint, 'no budget applies')$$, 'no budget: allowed');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt_check_budget('b-5', 'dave', NULL, 50, raise_on_deny => true)$$),
		  'YC001', 'raise_on_deny turns a refusal into SQLSTATE YC001');
SELECT ok(position('Raise the limit' IN pg_temp.error_hint($$SELECT * FROM costopt_check_budget('b-5', 'dave', NULL, 50, raise_on_deny => true)$$)) > 0,
		  'with a hint on what to do');

-- dave overspends: the hard budget pauses and refuses everything
SELECT pg_temp.calls('b-5', 'dave', NULL, 'tap-a', 6, now());			-- 12 > 11
CALL pg_temp.refresh_budgets();
SELECT is((SELECT paused_reason FROM costopt.budgets WHERE id = :b5_dave), 'exceeded', 'past its grace the hard budget pauses');
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b5_dave AND level = 'paused'), 1,
		  'the pause is announced with an alert');
SELECT results_eq($$SELECT allowed, reason FROM costopt_check_budget('b-5', 'dave', NULL, 0)$$,
				  $$VALUES (false, 'budget is paused (exceeded)')$$, 'a paused budget refuses even free calls');
SELECT is((SELECT status FROM costopt_budget_status(:b5_dave)), 'paused', 'status shows the pause');
SELECT costopt_update_budget(:b5_dave, limit_usd => 20) \g /dev/null
SELECT is((SELECT paused_at FROM costopt.budgets WHERE id = :b5_dave), NULL, 'raising the limit above the spend resumes it');
SELECT results_eq($$SELECT allowed FROM costopt_check_budget('b-5', 'dave', NULL, 1)$$, $$VALUES (true)$$,
				  'and calls pass again');
SELECT costopt_update_budget(:b5_erin, paused => true) \g /dev/null
SELECT results_eq($$SELECT allowed FROM costopt_check_budget('b-5', 'erin', NULL, 0)$$, $$VALUES (true)$$,
				  'a paused soft budget still allows (only hard budgets refuse)');
SELECT costopt_update_budget(:b5_dave, paused => true) \g /dev/null
SELECT results_eq($$SELECT allowed, reason FROM costopt_check_budget('b-5', 'dave', NULL, 0)$$,
				  $$VALUES (false, 'budget is paused (manual)')$$, 'an admin can pause a hard budget by hand');
SELECT costopt_update_budget(:b5_dave, paused => false) \g /dev/null
SELECT results_eq($$SELECT allowed FROM costopt_check_budget('b-5', 'dave', NULL, 0)$$, $$VALUES (true)$$, 'and resume it');

-- a pause for overspending ends with the period
UPDATE costopt.budgets SET paused_at = now(), paused_reason = 'exceeded', period_end = now() - interval '1 second',
		period_start = now() - interval '1 day' WHERE id = :b5_model;
SELECT results_eq($$SELECT allowed FROM costopt_check_budget('b-5', 'frank', NULL, 1, 'tap-b')$$, $$VALUES (true)$$,
				  'once the period is over the check no longer refuses, even before the refresh');
CALL pg_temp.refresh_budgets();
SELECT is((SELECT paused_at FROM costopt.budgets WHERE id = :b5_model), NULL, 'the roll-over lifts the pause');

-------------------------------------------------------------------------------
-- Reservations
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-6', 'tight', 1, enforcement => 'hard', grace => 0.1) AS b6 \gset
INSERT INTO pg_temp.vars VALUES ('b6', :b6);
CALL pg_temp.refresh_budgets();
SELECT reservation_id AS r1 FROM costopt_reserve('b-6', estimated_cost => 0.5) \gset
INSERT INTO pg_temp.vars VALUES ('r1', :r1);
SELECT reservation_id AS r2 FROM costopt_reserve('b-6', estimated_cost => 0.5) \gset
INSERT INTO pg_temp.vars VALUES ('r2', :r2);
SELECT results_eq($$SELECT reservation_id IS NULL, allowed, reason FROM costopt_reserve('b-6', estimated_cost => 0.5)$$,
				  $$VALUES (true, false, 'would pass the hard limit plus grace')$$,
				  'a third reservation would pass limit plus grace: refused, nothing reserved');
SELECT is((SELECT reserved FROM costopt.budgets WHERE id = :b6), 1.0, 'two reservations hold 1.0');
SELECT ok(costopt_release(:r1), 'a reservation is released');
SELECT ok(NOT costopt_release(:r1), 'releasing it twice changes nothing');
SELECT is((SELECT reserved FROM costopt.budgets WHERE id = :b6), 0.5, 'the release gives its money back');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_release(-7)$$), '42704', 'releasing a missing reservation: 42704');
SELECT is(pg_temp.sqlstate_of($$SELECT * FROM costopt_reserve('b-6', estimated_cost => -1)$$), '22023',
		  'a negative estimate is refused');
-- the call happens: its usage row settles the reservation
INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens, reservation_id)
VALUES ('b-6', 'tapai', 'tap-a', 100, 50, :r2);
SELECT results_eq($$SELECT status, actual_cost FROM costopt.budget_reservations WHERE id = pg_temp.v('r2')$$,
				  $$VALUES ('settled', 0.2)$$, 'the usage row settles its reservation with the real cost');
SELECT is((SELECT reserved FROM costopt.budgets WHERE id = :b6), 0.5, 'until the refresh the estimate stays counted');
CALL pg_temp.refresh_budgets();
SELECT results_eq($$SELECT current_spend, reserved FROM costopt.budgets WHERE id = pg_temp.v('b6')$$, $$VALUES (0.2, 0.0)$$,
				  'the refresh swaps the estimate for the real cost');
SELECT is((SELECT status FROM costopt.budget_reservations WHERE id = :r2), 'closed', 'and closes the reservation');
SELECT reservation_id AS r3 FROM costopt_reserve('b-6', estimated_cost => 0.3, ttl => '1 minute') \gset
INSERT INTO pg_temp.vars VALUES ('r3', :r3);
UPDATE costopt.budget_reservations SET expires_at = now() - interval '1 second' WHERE id = :r3;
SELECT is((SELECT expired_reservations FROM costopt_refresh_budgets()), 1::bigint, 'an unused reservation expires');
SELECT is((SELECT reserved FROM costopt.budgets WHERE id = :b6), 0.0, 'and gives its money back');
SET LOCAL client_min_messages = error;
SELECT lives_ok($$INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens, reservation_id)
				  VALUES ('b-7', 'tap-a', 1, 1, $$ || :r3 || $$)$$,
				'a usage row naming another organisation''s reservation is still stored');
SET LOCAL client_min_messages = warning;
SELECT is((SELECT status FROM costopt.budget_reservations WHERE id = :r3), 'expired', 'and settles nothing');

-------------------------------------------------------------------------------
-- Projections, views, utilisation, deletion
-------------------------------------------------------------------------------
SELECT costopt_create_budget('b-8', 'month', 1000) AS b8 \gset
INSERT INTO pg_temp.vars VALUES ('b8', :b8);
SELECT costopt_create_budget('b-8', 'user month', 1000, user_id => 'u') AS b8u \gset
INSERT INTO pg_temp.vars VALUES ('b8u', :b8u);
SELECT pg_temp.calls('b-8', 'u', NULL, 'tap-a', 5, now());
CALL pg_temp.refresh_budgets();
SELECT is((SELECT projection_method FROM costopt_budget_status(:b8)), 'burn_rate', 'without a forecast: the burn rate');
INSERT INTO costopt.cost_forecasts (organization_id, forecast_date, forecast_horizon_days, predicted_cost,
									confidence_lower, confidence_upper, forecast_model, daily_predicted)
SELECT 'b-8', current_date, 60, 60 * 200, 0, 60 * 400, 'test', array_fill(200::numeric, ARRAY[60]);
SELECT is((SELECT projection_method FROM costopt_budget_status(:b8)), 'forecast',
		  'an organisation budget uses the stored forecast');
SELECT ok((SELECT projected_exhaustion_date BETWEEN current_date AND current_date + 5 FROM costopt_budget_status(:b8)),
		  '200 a day against 990 left: exhausted within five days');
SELECT ok((SELECT NOT on_track FROM costopt_budget_status(:b8)), 'and not on track');
SELECT is((SELECT projection_method FROM costopt_budget_status(:b8u)), 'burn_rate', 'scoped budgets use their burn rate');
UPDATE costopt.cost_forecasts SET daily_predicted = array_fill(0::numeric, ARRAY[60]) WHERE organization_id = 'b-8';
SELECT is((SELECT projected_exhaustion_date FROM costopt_budget_status(:b8)), NULL,
		  'no exhaustion when the forecast stays under the limit');
SELECT is((SELECT b.exhaustion_date FROM costopt.budget_projection('b-8', false, 10, 20, now() - interval '1 hour',
		   now() + interval '1 hour', 'UTC') b), current_date,
		  'the burn rate predicts the exhaustion inside the period');
SELECT is((SELECT b.exhaustion_date FROM costopt.budget_projection('b-8', false, 1, 20, now() - interval '1 hour',
		   now() + interval '1 hour', 'UTC') b), NULL, 'but never after the period ends');
SELECT results_eq($$SELECT spend, utilization, status FROM costopt.v_active_budget_status WHERE budget_id = pg_temp.v('b8')$$,
				  $$VALUES (10.0, 0.0100, 'ok')$$, 'the view shows spend, utilisation and status');
SELECT results_eq($$SELECT period_type, budgets, total_limit, total_spend FROM costopt_budget_utilization('b-8')$$,
				  $$VALUES ('monthly', 2::bigint, 2000::numeric, 20.0)$$, 'utilisation sums an organisation''s budgets');
SELECT ok(costopt_delete_budget(:b_tier), 'a budget is deleted');
SELECT is((SELECT count(*)::integer FROM costopt.budget_alerts WHERE budget_id = :b_tier), 0, 'with its alerts');

-- truncating the usage log empties every budget at the next refresh
TRUNCATE costopt.api_usage_logs;
CALL pg_temp.refresh_budgets();
SELECT is((SELECT count(*)::integer FROM costopt.budgets WHERE is_active AND current_spend <> 0), 0,
		  'after TRUNCATE every budget is back to zero');

-- budget bounds are whole minutes (spend is kept per minute): a custom
-- budget from hh:mm:30 counts the calls of that whole minute, also those
-- committed after its first refresh
SELECT costopt_create_budget('b-min', 'minutes', 100, period => 'custom',
							 starts_at => date_trunc('minute', now()) - interval '1 hour' + interval '30 seconds',
							 ends_at => date_trunc('minute', now()) + interval '1 day' + interval '10 seconds') AS bmin \gset
INSERT INTO pg_temp.vars VALUES ('bmin', :bmin);
SELECT results_eq($$SELECT starts_at, ends_at FROM costopt.budgets WHERE id = pg_temp.v('bmin')$$,
				  $$VALUES (date_trunc('minute', now()) - interval '1 hour',
							date_trunc('minute', now()) + interval '1 day' + interval '1 minute')$$,
				  'starts_at is rounded down and ends_at up to the minute');
CALL pg_temp.refresh_budgets();
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens)
VALUES (date_trunc('minute', now()) - interval '1 hour' + interval '45 seconds', 'b-min', 'tapai', 'tap-a', 1000, 500),
	   (date_trunc('minute', now()) - interval '1 hour' + interval '75 seconds', 'b-min', 'tapai', 'tap-a', 1000, 500);
CALL pg_temp.flush_deltas();
CALL pg_temp.refresh_budgets();
SELECT is((SELECT current_spend FROM costopt.budgets WHERE id = pg_temp.v('bmin')), 4::numeric,
		  'a call in the first partial minute is counted (both calls: 2 + 2)');

SELECT * FROM finish();
ROLLBACK;
