-- Chargeback and invoices: costopt_chargeback by every dimension and tag
-- keys, the unallocated row and its proportional distribution, exact sums
-- (shares that do not divide evenly, remainders below a micro-dollar, many
-- keys sharing a tiny amount), half-open ranges, other organisations,
-- unpriced calls; costopt_invoice line items, cents rounding, discount and
-- tax; every validation error with its SQLSTATE.
--
-- Every expected figure is computed by hand in the comments.  Both
-- functions read the raw log, so no rollup refresh is needed.  Runs in one
-- rolled-back transaction.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(58);

\ir include/errors.psql

-- Prices in USD per million tokens: 1000 input tokens cost 1 on tap-a, 2 on
-- tap-b; one input token costs 0.005 on tap-c and 0.0000005 on tap-d.
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('tapai', 'tap-a', 1000, 2000, '-infinity'),
	   ('tapai', 'tap-b', 2000, 4000, '-infinity'),
	   ('tapai', 'tap-c', 5000, 5000, '-infinity'),
	   ('tapai', 'tap-d', 0.5, 0.5, '-infinity');

CREATE FUNCTION pg_temp.call(org text, at timestamptz, usr text, proj text, tg jsonb,
							 prov text, mdl text, op text, tin integer, tout integer)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, project, tags,
										provider, model, operation, input_tokens, output_tokens)
	VALUES (at, org, usr, proj, tg, prov, mdl, op, tin, tout)
$$;

-- Organisation cb-1, March 2025.  Costs:
--  c1 03-01 00:00 (the first instant)  alice web   team=search env=prod  tap-a chat       1000/0    1
--  c2 03-02        alice web   team=search           tap-b embedding  1000/500  2 + 2 = 4
--  c3 03-03        bob   api   team=ads env=prod     tap-a chat       2000/0    2
--  c4 03-04        carol -     team=""               tap-a chat       0/1000    2
--  c5 03-05        -     api   {}                    tap-a chat       1000/0    1
--  c6 03-06        dave  web   team=search           tap-unpriced     5000/0    unpriced
--  c7 03-31 23:59:59.999999 bob api team=42 (number) tap-a chat       1/0       0.001
--  c8 03-07        erin  web   {}      provider NULL tap-a chat       1000/0    1
-- Spend in [03-01, 04-01): 11.001, 8 calls.  Outside it: a call at 04-01
-- 00:00 (the end, excluded), one at 02-28 23:59:59.999999, and organisation
-- cb-2's call in March.
SELECT pg_temp.call('cb-1', '2025-03-01 00:00', 'alice', 'web', '{"team": "search", "env": "prod"}', 'tapai', 'tap-a', 'chat', 1000, 0);
SELECT pg_temp.call('cb-1', '2025-03-02 10:00', 'alice', 'web', '{"team": "search"}', 'tapai', 'tap-b', 'embedding', 1000, 500);
SELECT pg_temp.call('cb-1', '2025-03-03 10:00', 'bob', 'api', '{"team": "ads", "env": "prod"}', 'tapai', 'tap-a', 'chat', 2000, 0);
SELECT pg_temp.call('cb-1', '2025-03-04 10:00', 'carol', NULL, '{"team": ""}', 'tapai', 'tap-a', 'chat', 0, 1000);
SELECT pg_temp.call('cb-1', '2025-03-05 10:00', NULL, 'api', '{}', 'tapai', 'tap-a', 'chat', 1000, 0);
SELECT pg_temp.call('cb-1', '2025-03-06 10:00', 'dave', 'web', '{"team": "search"}', 'tapai', 'tap-unpriced', 'chat', 5000, 0);
SELECT pg_temp.call('cb-1', '2025-03-31 23:59:59.999999', 'bob', 'api', '{"team": 42}', 'tapai', 'tap-a', 'chat', 1, 0);
SELECT pg_temp.call('cb-1', '2025-03-07 10:00', 'erin', 'web', '{}', NULL, 'tap-a', 'chat', 1000, 0);
SELECT pg_temp.call('cb-1', '2025-04-01 00:00', 'alice', 'web', '{"team": "search"}', 'tapai', 'tap-a', 'chat', 1000000, 0);
SELECT pg_temp.call('cb-1', '2025-02-28 23:59:59.999999', 'alice', 'web', '{"team": "search"}', 'tapai', 'tap-a', 'chat', 1000000, 0);
SELECT pg_temp.call('cb-2', '2025-03-10 10:00', 'alice', 'web', '{"team": "search"}', 'tapai', 'tap-a', 'chat', 1000000, 0);

-------------------------------------------------------------------------------
-- Objects
-------------------------------------------------------------------------------
SELECT has_function('public', 'costopt_chargeback', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone', 'text'],
					'costopt_chargeback(text, timestamptz, timestamptz, text) exists');
SELECT has_function('public', 'costopt_invoice', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone', 'numeric', 'numeric'],
					'costopt_invoice(text, timestamptz, timestamptz, numeric, numeric) exists');
SELECT is((SELECT count(*)::integer FROM pg_proc
			WHERE proname IN ('costopt_chargeback', 'costopt_invoice')
			  AND provolatile = 's' AND obj_description(oid, 'pg_proc') IS NOT NULL),
		  2, 'both functions are STABLE and commented');

-------------------------------------------------------------------------------
-- The fixture is what the comments say
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT count(*), sum(total_cost), count(*) FILTER (WHERE cost_status = 'unpriced')
					  FROM costopt.api_usage_logs
					 WHERE organization_id = 'cb-1' AND created_at >= '2025-03-01' AND created_at < '2025-04-01'$$,
				  $$VALUES (8::bigint, 11.001::numeric, 1::bigint)$$,
				  'fixture: 8 calls of cb-1 in March cost 11.001, one is unpriced');

-------------------------------------------------------------------------------
-- Chargeback by user (the default): c5 has no user, so its 1.000000 is
-- distributed over a base of 10.001:
--   alice 5     * 1/10.001 = 0.49995000.. -> 0.499950 (+ remainder)
--   bob   2.001 * 1/10.001 = 0.20007999.. -> 0.200079
--   carol 2     * 1/10.001 = 0.19998000.. -> 0.199980
--   erin  1     * 1/10.001 = 0.09999000.. -> 0.099990
-- Truncated shares sum to 0.999999; the remainder 0.000001 goes to alice,
-- the largest key.  dave's call is unpriced: a request, no cost.
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')$$,
				  $$VALUES ('alice'::text, 2::bigint, 5::numeric, 0.499951::numeric, 5.499951::numeric, 50.00::numeric),
						   ('bob', 2, 2.001, 0.200079, 2.201079, 20.01),
						   ('carol', 1, 2, 0.199980, 2.199980, 20.00),
						   ('erin', 1, 1, 0.099990, 1.099990, 10.00),
						   ('dave', 1, 0, 0, 0, 0),
						   (NULL, 1, 1, -1, 0, 0)$$,
				  'by user: unallocated row, proportional shares, remainder on the largest key, ordered by total');
SELECT is((SELECT sum(total_cost) FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')),
		  11.001::numeric, 'by user: total_cost sums to the raw spend exactly');
SELECT is((SELECT sum(direct_cost) FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')),
		  11.001::numeric, 'by user: direct_cost (showback) sums to the raw spend exactly');
SELECT is((SELECT sum(allocated_cost) FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')),
		  0::numeric, 'by user: allocated_cost sums to 0 (the unallocated row gives what the others get)');
SELECT is((SELECT count(*)::integer FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')
			WHERE total_cost <> direct_cost + allocated_cost),
		  0, 'every row: total_cost = direct_cost + allocated_cost');
SELECT is((SELECT sum(requests)::integer FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01')),
		  8, 'requests count every call of the range, unpriced ones included');

-------------------------------------------------------------------------------
-- By project: c4 has none (2.000000 to share over 9.001):
--   web 6     * 2/9.001 = 1.33318520.. -> 1.333185 (+ 0.000001)
--   api 3.001 * 2/9.001 = 0.66681479.. -> 0.666814
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT allocation_key, requests, direct_cost, allocated_cost, total_cost
					  FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'project')$$,
				  $$VALUES ('web'::text, 4::bigint, 6::numeric, 1.333186::numeric, 7.333186::numeric),
						   ('api', 3, 3.001, 0.666814, 3.667814),
						   (NULL, 1, 2, -2, 0)$$,
				  'by project: shares that do not divide evenly, remainder on the largest');

-- By model and operation every call has a value: no unallocated row.
-- Shares: 7.001 / 11.001 = 63.64 %, 4 / 11.001 = 36.36 %.
SELECT results_eq($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'model')$$,
				  $$VALUES ('tap-a'::text, 6::bigint, 7.001::numeric, 0::numeric, 7.001::numeric, 63.64::numeric),
						   ('tap-b', 1, 4, 0, 4, 36.36),
						   ('tap-unpriced', 1, 0, 0, 0, 0)$$,
				  'by model: no unallocated row, nothing allocated, shares of the total');
SELECT results_eq($$SELECT allocation_key, requests, total_cost
					  FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'operation')$$,
				  $$VALUES ('chat'::text, 7::bigint, 7.001::numeric), ('embedding', 1, 4)$$,
				  'by operation');

-- By provider: c8 has none; its 1 goes entirely to tapai, the only key.
SELECT results_eq($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'provider')$$,
				  $$VALUES ('tapai'::text, 7::bigint, 10.001::numeric, 1::numeric, 11.001::numeric, 100.00::numeric),
						   (NULL, 1, 1, -1, 0, 0)$$,
				  'by provider: a single key takes all unallocated spend');

-------------------------------------------------------------------------------
-- By tag "team": c4 (empty string), c5 and c8 (no key) are unallocated,
-- 2 + 1 + 1 = 4 over a base of 7.001; c7's number 42 is the key '42':
--   search 5     * 4/7.001 = 2.85673475.. -> 2.856734 (+ 0.000002)
--   ads    2     * 4/7.001 = 1.14269390.. -> 1.142693
--   42     0.001 * 4/7.001 = 0.00057134.. -> 0.000571
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'tag:team')$$,
				  $$VALUES ('search'::text, 3::bigint, 5::numeric, 2.856736::numeric, 7.856736::numeric, 71.42::numeric),
						   ('ads', 1, 2, 1.142693, 3.142693, 28.57),
						   ('42', 1, 0.001, 0.000571, 0.001571, 0.01),
						   (NULL, 3, 4, -4, 0, 0)$$,
				  'by tag: empty and missing values are unallocated, non-string values are keys');
SELECT is((SELECT sum(total_cost) FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'tag:team')),
		  11.001::numeric, 'by tag: total_cost sums to the raw spend exactly');
SELECT results_eq($$SELECT allocation_key, requests, direct_cost, allocated_cost, total_cost
					  FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'tag:env')$$,
				  $$VALUES ('prod'::text, 2::bigint, 3::numeric, 8.001::numeric, 11.001::numeric),
						   (NULL, 6, 8.001, -8.001, 0)$$,
				  'by another tag key');
SELECT results_eq($$SELECT allocation_key, requests, direct_cost, allocated_cost, total_cost, share_percent
					  FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'tag:Team')$$,
				  $$VALUES (NULL::text, 8::bigint, 11.001::numeric, 0::numeric, 11.001::numeric, 100.00::numeric)$$,
				  'tag keys are case-sensitive; when no call has the key, the unallocated row keeps all');

-- [03-05, 03-07): c5 (no user, 1) and c6 (dave, unpriced): nothing to
-- distribute by, so the unallocated row keeps its cost.
SELECT results_eq($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-05', '2025-03-07')$$,
				  $$VALUES (NULL::text, 1::bigint, 1::numeric, 0::numeric, 1::numeric, 100.00::numeric),
						   ('dave', 1, 0, 0, 0, 0)$$,
				  'allocated keys without cost: the unallocated row keeps its cost');

-------------------------------------------------------------------------------
-- Ranges and organisations
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT allocation_key, requests, total_cost
					  FROM costopt_chargeback('cb-1', '2025-03-01 00:00', '2025-03-01 00:00:00.000001')$$,
				  $$VALUES ('alice'::text, 1::bigint, 1::numeric)$$,
				  'the range includes its first instant');
SELECT results_eq($$SELECT allocation_key, requests, total_cost
					  FROM costopt_chargeback('cb-1', '2025-03-31 23:59:59.999999', '2025-04-01')$$,
				  $$VALUES ('bob'::text, 1::bigint, 0.001::numeric)$$,
				  'the range includes the last microsecond before its end');
SELECT results_eq($$SELECT allocation_key, requests, total_cost
					  FROM costopt_chargeback('cb-1', '2025-04-01', '2025-04-02')$$,
				  $$VALUES ('alice'::text, 1::bigint, 1000::numeric)$$,
				  'a call at to_time belongs to the next range, not this one');
SELECT is_empty($$SELECT * FROM costopt_chargeback('cb-1', '2025-02-01', '2025-02-28 23:59:59.999999')$$,
				'the range excludes its end');
SELECT is_empty($$SELECT * FROM costopt_chargeback('no-such-org', '2025-03-01', '2025-04-01')$$,
				'an unknown organisation gives an empty result, not an error');
SELECT results_eq($$SELECT allocation_key, requests, total_cost
					  FROM costopt_chargeback('cb-2', '2025-03-01', '2025-04-01')$$,
				  $$VALUES ('alice'::text, 1::bigint, 1000::numeric)$$,
				  'another organisation sees only its own calls (and cb-1 none of cb-2''s: alice has 5 above)');

-------------------------------------------------------------------------------
-- Many keys share a tiny amount (cb-3): 100 users spend 1 each (u001 ..
-- u100) and one call without a user costs 101 * 0.0000005 = 0.0000505.
-- Each exact share is 0.000000505, truncated to 0.000000: the whole
-- 0.0000505, digits below a micro-dollar included, goes to u001 (all tie
-- on direct cost; u001 comes first).  No allocation is negative.
-------------------------------------------------------------------------------
SELECT pg_temp.call('cb-3', '2025-03-01 12:00', 'u' || lpad(g::text, 3, '0'), NULL, '{}', 'tapai', 'tap-a', 'chat', 1000, 0)
  FROM generate_series(1, 100) g;
SELECT pg_temp.call('cb-3', '2025-03-01 12:00', NULL, NULL, '{}', 'tapai', 'tap-d', 'chat', 101, 0);
SELECT results_eq($$SELECT allocation_key, allocated_cost, total_cost
					  FROM costopt_chargeback('cb-3', '2025-03-01', '2025-03-02') LIMIT 3$$,
				  $$VALUES ('u001'::text, 0.0000505::numeric, 1.0000505::numeric),
						   ('u002', 0, 1), ('u003', 0, 1)$$,
				  'a remainder below a micro-dollar goes whole to the largest key (ties by key)');
SELECT is((SELECT sum(total_cost) FROM costopt_chargeback('cb-3', '2025-03-01', '2025-03-02')),
		  100.0000505::numeric, 'many keys: total_cost sums to the raw spend to the last digit');
SELECT is((SELECT min(allocated_cost) FROM costopt_chargeback('cb-3', '2025-03-01', '2025-03-02')
			WHERE allocation_key IS NOT NULL),
		  0::numeric, 'no key gets a negative allocation');
SELECT is((SELECT count(*)::integer FROM costopt_chargeback('cb-3', '2025-03-01', '2025-03-02')), 101,
		  'one row per user plus the unallocated row');

-- The tie-break is by key, not by insertion order: a larger key wins.
SELECT pg_temp.call('cb-3', '2025-03-02 12:00', 'zed', NULL, '{}', 'tapai', 'tap-a', 'chat', 3000, 0);
SELECT pg_temp.call('cb-3', '2025-03-02 12:00', 'amy', NULL, '{}', 'tapai', 'tap-a', 'chat', 1000, 0);
SELECT pg_temp.call('cb-3', '2025-03-02 12:00', NULL, NULL, '{}', 'tapai', 'tap-a', 'chat', 1000, 0);
-- 1 over a base of 4: zed 0.75, amy 0.25, exact
SELECT results_eq($$SELECT allocation_key, allocated_cost, total_cost, share_percent
					  FROM costopt_chargeback('cb-3', '2025-03-02', '2025-03-03')$$,
				  $$VALUES ('zed'::text, 0.75::numeric, 3.75::numeric, 75.00::numeric),
						   ('amy', 0.25, 1.25, 25.00), (NULL, -1, 0, 0)$$,
				  'shares that divide evenly need no remainder');

-------------------------------------------------------------------------------
-- Chargeback validation
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM costopt_chargeback(NULL, '2025-03-01', '2025-04-01')$$, '22004',
				 'organization_id, from_time, to_time and dimension must not be null',
				 'chargeback: NULL organisation raises 22004');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', NULL, '2025-04-01')$$, '22004', NULL,
				 'chargeback: NULL from_time raises 22004');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', NULL)$$, '22004', NULL,
				 'chargeback: NULL to_time raises 22004');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', NULL)$$, '22004', NULL,
				 'chargeback: NULL dimension raises 22004');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-03-01')$$, '22023',
				 'from_time must be earlier than to_time', 'chargeback: an empty range raises 22023');
SELECT is(pg_temp.error_detail($$SELECT * FROM costopt_chargeback('cb-1', '2025-04-01', '2025-03-01')$$),
		  '22023: from_time is 2025-04-01 00:00:00+00, to_time is 2025-03-01 00:00:00+00.',
		  'chargeback: a reversed range raises 22023 with both bounds in DETAIL');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '-infinity', '2025-04-01')$$, '22023',
				 'from_time and to_time must be finite', 'chargeback: an infinite bound raises 22023');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'team')$$, '22023',
				 'unknown dimension "team"', 'chargeback: an unknown dimension raises 22023');
SELECT is(pg_temp.error_hint($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'team')$$),
		  '22023: Use user, project, model, provider, operation or tag:<key>; to break down by the tag "team", write tag:team.',
		  'chargeback: the hint lists the dimensions and how to name a tag');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'User')$$, '22023', NULL,
				 'chargeback: dimension names are lower case');
SELECT throws_ok($$SELECT * FROM costopt_chargeback('cb-1', '2025-03-01', '2025-04-01', 'tag:')$$, '22023',
				 'tag dimension "tag:" names no tag key', 'chargeback: "tag:" without a key raises 22023');

-------------------------------------------------------------------------------
-- Invoice of cb-1 for March.  Lines (amount = exact cost rounded to cents):
--   tapai tap-a        c1 c3 c4 c5 c7: 5 calls, 4001 in, 1000 out, 6.001 -> 6.00
--   tapai tap-b        c2: 1 call, input 2, output 2              4     -> 4.00
--   (no provider) tap-a c8                                        1     -> 1.00
--   tapai tap-unpriced c6: unpriced                               0     -> 0.00
-- subtotal 11.00 (usage_cost 11.001).  Discount 0.125: 1.375 -> 1.38, net
-- 9.62; tax 0.25: 2.405 -> 2.41 (half-up); total 12.03.
-------------------------------------------------------------------------------
CREATE TEMP TABLE inv AS
SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', discount => 0.125, tax_rate => 0.25) AS doc;

SELECT results_eq($$SELECT i ->> 'provider', i ->> 'model', (i ->> 'requests')::bigint, (i ->> 'amount')::numeric
					  FROM inv, jsonb_array_elements(doc -> 'line_items') WITH ORDINALITY e(i, n) ORDER BY n$$,
				  $$VALUES ('tapai'::text, 'tap-a'::text, 5::bigint, 6.00::numeric),
						   ('tapai', 'tap-b', 1, 4.00),
						   (NULL, 'tap-a', 1, 1.00),
						   ('tapai', 'tap-unpriced', 1, 0.00)$$,
				  'invoice: one line per provider and model, by amount, the unpriced model at 0');
SELECT is((SELECT doc -> 'line_items' -> 0 FROM inv),
		  '{"provider": "tapai", "model": "tap-a", "requests": 5, "unpriced_requests": 0,
			"input_tokens": 4001, "output_tokens": 1000, "cached_input_tokens": 0,
			"input_cost": 4.001, "output_cost": 2, "amount": 6.00}'::jsonb,
		  'invoice: a line carries calls, tokens, exact input and output cost and its amount');
SELECT is((SELECT (doc -> 'line_items' -> 3 ->> 'unpriced_requests')::integer FROM inv), 1,
		  'invoice: unpriced calls are counted on their line');
SELECT results_eq($$SELECT (doc ->> 'subtotal')::numeric, (doc ->> 'discount_amount')::numeric,
						   (doc ->> 'net')::numeric, (doc ->> 'tax')::numeric, (doc ->> 'total')::numeric
					  FROM inv$$,
				  $$VALUES (11.00::numeric, 1.38::numeric, 9.62::numeric, 2.41::numeric, 12.03::numeric)$$,
				  'invoice: discount and tax are rounded half-up to cents and add up');
SELECT results_eq($$SELECT doc ->> 'organization_id', doc ->> 'currency', doc #>> '{period,from}',
						   doc #>> '{period,to}', (doc ->> 'generated_at')::timestamptz = now(),
						   (doc ->> 'discount')::numeric, (doc ->> 'tax_rate')::numeric,
						   (doc ->> 'requests')::integer, (doc ->> 'unpriced_requests')::integer,
						   (doc ->> 'usage_cost')::numeric
					  FROM inv$$,
				  $$VALUES ('cb-1'::text, 'USD'::text, '2025-03-01T00:00:00+00:00'::text,
							'2025-04-01T00:00:00+00:00'::text, true, 0.125::numeric, 0.25::numeric,
							8, 1, 11.001::numeric)$$,
				  'invoice: header fields, period, rates, calls and the exact usage cost');
SELECT is((SELECT doc ->> 'subtotal' FROM inv), '11.00', 'invoice: money is printed with two decimals');

-- Cents rounding of lines (cb-4): tap-a 5 tokens = 0.005, tap-c 1 token =
-- 0.005: each line rounds up to 0.01, so the subtotal is 0.02, the sum of
-- the printed lines, while the exact usage is 0.010.
SELECT pg_temp.call('cb-4', '2025-03-01 12:00', 'u', NULL, '{}', 'tapai', 'tap-a', 'chat', 5, 0);
SELECT pg_temp.call('cb-4', '2025-03-01 12:00', 'u', NULL, '{}', 'tapai', 'tap-c', 'chat', 1, 0);
SELECT pg_temp.call('cb-4', '2025-03-01 12:00', 'u', NULL, '{}', 'tapai', 'tap-b', 'chat', 2, 0);
SELECT results_eq($$SELECT (d ->> 'subtotal')::numeric, (d ->> 'usage_cost')::numeric,
						   jsonb_path_query_array(d, '$.line_items[*].amount')::text
					  FROM costopt_invoice('cb-4', '2025-03-01', '2025-03-02') d$$,
				  $$VALUES (0.02::numeric, 0.014::numeric, '[0.01, 0.01, 0.00]'::text)$$,
				  'invoice: lines round half-up to cents (0.005 -> 0.01, 0.004 -> 0.00); subtotal is their sum');
-- with no discount or tax, total = subtotal
SELECT results_eq($$SELECT (d ->> 'discount_amount')::numeric, (d ->> 'tax')::numeric, (d ->> 'total')::numeric
					  FROM costopt_invoice('cb-4', '2025-03-01', '2025-03-02') d$$,
				  $$VALUES (0.00::numeric, 0.00::numeric, 0.02::numeric)$$,
				  'invoice: no discount and no tax by default');
SELECT is(costopt_invoice('no-such-org', '2025-03-01', '2025-04-01') - 'generated_at' - 'period',
		  '{"organization_id": "no-such-org", "currency": "USD", "line_items": [], "requests": 0,
			"unpriced_requests": 0, "usage_cost": 0, "subtotal": 0.00, "discount": 0,
			"discount_amount": 0.00, "net": 0.00, "tax_rate": 0, "tax": 0.00, "total": 0.00}'::jsonb,
		  'invoice: an organisation without calls gets an empty invoice, not an error');

-------------------------------------------------------------------------------
-- Invoice validation
-------------------------------------------------------------------------------
SELECT throws_ok($$SELECT costopt_invoice(NULL, '2025-03-01', '2025-04-01')$$, '22004',
				 'organization_id, from_time, to_time, discount and tax_rate must not be null',
				 'invoice: NULL organisation raises 22004');
SELECT throws_ok($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', discount => NULL)$$, '22004', NULL,
				 'invoice: NULL discount raises 22004');
SELECT throws_ok($$SELECT costopt_invoice('cb-1', '2025-04-01', '2025-03-01')$$, '22023',
				 'from_time must be earlier than to_time', 'invoice: a reversed range raises 22023');
SELECT is(pg_temp.error_detail($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', discount => 1)$$),
		  '22023: discount is 1.', 'invoice: a discount of 1 (100 %) raises 22023 with the value in DETAIL');
SELECT throws_ok($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', discount => 10)$$, '22023',
				 'discount must be a fraction in [0, 1)', 'invoice: a discount given as a percentage raises 22023');
SELECT throws_ok($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', discount => -0.1)$$, '22023', NULL,
				 'invoice: a negative discount raises 22023');
SELECT is(pg_temp.error_detail($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', tax_rate => 1)$$),
		  '22023: tax_rate is 1.', 'invoice: a tax rate of 1 raises 22023 with the value in DETAIL');
SELECT throws_ok($$SELECT costopt_invoice('cb-1', '2025-03-01', '2025-04-01', tax_rate => 'NaN')$$, '22023',
				 'tax_rate must be a fraction in [0, 1)', 'invoice: a NaN tax rate raises 22023');

SELECT * FROM finish();
ROLLBACK;
