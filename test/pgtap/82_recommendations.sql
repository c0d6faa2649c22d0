-- Recommendations and savings opportunities (sql/install/87_recommendations.sql):
-- the seven detectors of costopt.find_savings on small hand-built traffic
-- with hand-computed savings, the settings they read, monthly scaling,
-- priority, refresh/expiry/suppression of costopt_generate_recommendations,
-- the recommendation lifecycle, verification (per_request, per_day and the
-- failed_cost measure), ROI, the ranking view, opportunities and their
-- workflow, costopt_model_alternatives and the two scheduled jobs.
--
-- Every analysis uses the window [2025-02-19, 2025-03-01) (as_of
-- 2025-03-01, 10 days), so a monthly figure is the window's times 3 and
-- the default costopt.recommendation_min_savings (1 USD a month) is 1/3 USD
-- in the window.  Seed models are deactivated so only the private tapai
-- models below can be alternatives.  Runs in one rolled-back transaction.
BEGIN;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET search_path = public, pg_catalog;

SELECT plan(138);

\ir include/errors.psql
\ir include/rollup_fixture.psql

-- psql variables set with \gset, readable inside dollar-quoted queries
CREATE TEMP TABLE vars (name text PRIMARY KEY, value bigint);
CREATE FUNCTION pg_temp.v(n text) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT value FROM pg_temp.vars WHERE name = n
$$;

-------------------------------------------------------------------------------
-- Models (USD per million tokens)
-------------------------------------------------------------------------------
UPDATE costopt.model_pricing SET is_active = false WHERE source = 'seed';
INSERT INTO costopt.model_pricing (provider, model_name, mode, input_price, output_price,
		cache_read_price, cache_write_price, batch_input_price, batch_output_price,
		long_context_threshold, long_context_input_price, long_context_output_price,
		context_window, max_output_tokens, quality_score, is_active, effective_from)
VALUES
	-- chat: tap-big and its possible replacements.  For traffic with prompts
	-- of 2000 and outputs of 1000 tokens on tap-big (quality 0.90, margin
	-- 0.05) only tap-mid, tap-mid2 (first version) and tap-edge qualify, and
	-- tap-mid is the cheapest of them; every decoy is cheaper still.
	('tapai', 'tap-big',    'chat', 100, 300, 10, 125, 50, 150, NULL, NULL, NULL, 100000, 8000, 0.90, true, '-infinity'),
	('tapai', 'tap-mid',    'chat',  40, 120,  5,  50, 20,  60, NULL, NULL, NULL,  50000, NULL, 0.87, true, '-infinity'),
	('tapai', 'tap-mid2',   'chat',  60, 180, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 128000, NULL, 0.92, true, '-infinity'),
	-- (a later version, not yet in force at as_of)
	('tapai', 'tap-mid2',   'chat',   2,   6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 128000, NULL, 0.92, true, '2025-06-01'),
	('tapai', 'tap-edge',   'chat',  50, 150, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 128000, NULL, 0.85, true, '-infinity'),
	('tapai', 'tap-small',  'chat',  10,  30, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, NULL, 0.80, true, '-infinity'),  -- quality
	('tapai', 'tap-ctx',    'chat',   5,  15, NULL, NULL, NULL, NULL, NULL, NULL, NULL,   1000, NULL, 0.95, true, '-infinity'),  -- context
	('tapai', 'tap-lc',     'chat',   8,  24, NULL, NULL, NULL, NULL, 1500, 16, 48, 100000, NULL, 0.95, true, '-infinity'),      -- long context
	('tapai', 'tap-maxout', 'chat',   6,  18, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, 100, 0.95, true, '-infinity'),   -- max output
	('tapai', 'tap-noq',    'chat',   1,   3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, NULL, NULL, true, '-infinity'),  -- no quality
	('tapai', 'tap-off',    'chat',   1,   3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, NULL, 0.99, false, '-infinity'), -- inactive
	-- no quality score, so never the source of a model_downgrade
	('tapai', 'tap-bb',     'chat', 100, 300, 10, 125, 50, 150, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'),
	('tapai', 'tap-lcb',    'chat', 100, 300, NULL, NULL, 50, 150, 1500, 200, 600, NULL, NULL, NULL, true, '-infinity'),
	('tapai', 'tap-nobatch','chat', 100, 300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'),
	('tapai', 'tap-unit',   'chat', 100000, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'),  -- 0.1 USD a token
	('tapai', 'tap-unit2',  'chat', 100000, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'),
	('tapai', 'tap-k',      'chat', 1000, 1000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'), -- 0.001 USD a token
	('tapai', 'tap-k2',     'chat', 1000, 1000, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, '-infinity'),
	-- one mode per model_downgrade boundary: quality margin, context window,
	-- long-context threshold (each candidate 10 times cheaper)
	('tapai', 'tap-c-big',  'completion', 100, 300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.90, true, '-infinity'),
	('tapbi', 'tbi-c-low',  'completion',  10,  30, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.84, true, '-infinity'),
	('tapai', 'tap-r-big',  'responses', 100, 300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 100000, NULL, 0.90, true, '-infinity'),
	('tapai', 'tap-r-ctx',  'responses',  10,  30, NULL, NULL, NULL, NULL, NULL, NULL, NULL,   1999, NULL, 0.89, true, '-infinity'),
	('tapai', 'tap-rr-big', 'rerank', 100, 300, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0.90, true, '-infinity'),
	('tapai', 'tap-rr-lc',  'rerank',  10,  30, NULL, NULL, NULL, NULL, 1999, 20, 60, NULL, NULL, 0.90, true, '-infinity');

-------------------------------------------------------------------------------
-- Helpers
-------------------------------------------------------------------------------
-- n calls of one shape, one every "step" from "at"
CREATE FUNCTION pg_temp.call(org text, at timestamptz, mdl text, tin integer, tout integer,
							 usr text DEFAULT NULL, proj text DEFAULT NULL, op text DEFAULT 'chat',
							 cached integer DEFAULT 0, cw integer DEFAULT 0, batch boolean DEFAULT false,
							 st text DEFAULT 'success', hash text DEFAULT NULL, tg jsonb DEFAULT '{}',
							 n integer DEFAULT 1, step interval DEFAULT '1 minute',
							 prov text DEFAULT 'tapai')
RETURNS void LANGUAGE sql AS $$
	INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, project, tags, provider,
										model, operation, is_batch, input_tokens, output_tokens,
										cached_input_tokens, cache_write_tokens, status, request_hash)
	SELECT at + (i - 1) * step, org, usr, proj, tg, prov, mdl, op, batch, tin, tout, cached, cw, st, hash
	  FROM generate_series(1, n) i
$$;
-- an unpriced call of a priced model, stored as a restore would (superuser)
CREATE FUNCTION pg_temp.unpriced(org text, at timestamptz, mdl text, tin integer,
								 proj text DEFAULT NULL, st text DEFAULT 'success', hash text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
	INSERT INTO costopt.api_usage_logs (created_at, organization_id, project, provider, model,
										input_tokens, status, request_hash, cost_status)
	VALUES (at, org, proj, 'tapai', mdl, tin, st, hash, 'unpriced')
$$;
-- the findings of one organisation and kind in the standard window
CREATE FUNCTION pg_temp.found(org text, k text) RETURNS SETOF costopt.finding LANGUAGE sql AS $$
	SELECT * FROM costopt.find_savings(org, '2025-02-19', '2025-03-01') f WHERE f.kind = k ORDER BY f.scope_key
$$;
-- the standard analysis, its rows discarded
CREATE FUNCTION pg_temp.gen(org text, days integer DEFAULT 10) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM costopt_generate_recommendations(org, days, '2025-03-01')
$$;
CREATE FUNCTION pg_temp.detect(org text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM costopt_detect_opportunities(org, 10, '2025-03-01')
$$;
-- the open recommendation of a kind and scope
CREATE FUNCTION pg_temp.open_rec(org text, k text, sk text) RETURNS costopt.cost_recommendations
LANGUAGE sql AS $$
	SELECT * FROM costopt.cost_recommendations r
	 WHERE r.organization_id = org AND r.recommendation_type = k AND r.scope_key = sk
	   AND r.status IN ('pending', 'accepted')
$$;
-- a recommendation written directly, for lifecycle, ROI and view tests
CREATE FUNCTION pg_temp.rec(org text, st text, prio integer DEFAULT 50, savings numeric DEFAULT 10,
							valid timestamptz DEFAULT now() + interval '30 days', reason text DEFAULT NULL,
							upd timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO costopt.cost_recommendations
		(organization_id, recommendation_type, scope_key, scope, title, description,
		 current_monthly_cost, projected_monthly_cost, estimated_savings, savings_percentage,
		 priority_score, confidence_score, implementation_difficulty, quality_impact,
		 recommended_action, analysis_data, status, status_reason, valid_until, updated_at)
	VALUES (org, 'error_waste', gen_random_uuid()::text, '{"basis": "per_request"}', 'a test', 'a test',
			100, 100 - savings, savings, savings, prio, 0.5, 'easy', 'none', '{}', '{}', st, reason, valid, upd)
	RETURNING id
$$;

-------------------------------------------------------------------------------
-- Traffic.  Costs per call are worked out in the comments.
-------------------------------------------------------------------------------
-- tap-md (model_downgrade), project p1, operation chat, on tap-big:
--  10 calls 2000 in (1000 cache reads, 200 cache writes), 500 out:
--     800*100 + 1000*10 + 200*125 + 500*300 = 265000 -> 0.265 (tap-mid: 32000+5000+10000+60000 -> 0.107)
--   4 batch calls 2000 in (500 cached), 1000 out: 2000*50 + 1000*150 -> 0.25 (tap-mid: 2000*20 + 1000*60 -> 0.10)
--  window cost 2.65 + 1.00 = 3.65, on tap-mid 1.07 + 0.40 = 1.47, saving 2.18
-- p2: one call 100/10: 0.013, on tap-mid 0.0052, saving 0.0078 (below the minimum)
SELECT pg_temp.call('tap-md', '2025-02-20 10:00', 'tap-big', 2000, 500, usr => 'ann', proj => 'p1', cached => 1000, cw => 200, n => 6);
SELECT pg_temp.call('tap-md', '2025-02-27 10:00', 'tap-big', 2000, 500, usr => 'ann', proj => 'p1', cached => 1000, cw => 200, n => 4);
SELECT pg_temp.call('tap-md', '2025-02-28 03:00', 'tap-big', 2000, 1000, usr => 'ann', proj => 'p1', cached => 500, batch => true, n => 4);
SELECT pg_temp.call('tap-md', '2025-02-21 08:00', 'tap-big', 100, 10, usr => 'ben', proj => 'p2');
SELECT pg_temp.call('tap-md', '2025-02-18 23:50', 'tap-big', 2000, 500, usr => 'ann', proj => 'p1', n => 3);	-- before the window
-- a neighbour with the same segment: 3 calls 2000/500, 0.35 each, 0.14 on tap-mid
SELECT pg_temp.call('tap-nb', '2025-02-20 10:00', 'tap-big', 2000, 500, proj => 'p1', n => 3);
-- one boundary each: 5 calls 2000/100, 0.23 each; 0.023 on the candidate
SELECT pg_temp.call('tap-mq', '2025-02-20 10:00', 'tap-c-big', 2000, 100, op => 'complete', n => 5);
SELECT pg_temp.call('tap-mc', '2025-02-20 10:00', 'tap-r-big', 2000, 100, n => 5);
SELECT pg_temp.call('tap-ml', '2025-02-20 10:00', 'tap-rr-big', 2000, 100, op => 'rerank', n => 5);

-- tap-rc (response_caching), 0.1 USD a prompt token.  Project web, by
-- (hash, model): h1 10:00, 10:30 (repeat, 30 min), 12:00 (90 min: no),
-- 12:50 (50 min: repeat), 5 USD each; h1 on tap-unit2 (another model: not a
-- repeat) 2; h2 02-19 00:10 4 (its predecessor is outside the window),
-- 02-20 10:00 3, 11:00 3 (60 min: repeat); a failed h2 at 10:20 and an
-- unpriced h3 before a priced h3 (7) do not count; a call without hash
-- neither.  9 calls, 39 USD, 3 repeats of 13 USD, gaps 1800/3000/3600.
-- No project: h9 twice 5 minutes apart, 2 each: 1 repeat of 2 USD.
SELECT pg_temp.call('tap-rc', '2025-02-20 10:00', 'tap-unit', 50, 0, proj => 'web', hash => 'h1');
SELECT pg_temp.call('tap-rc', '2025-02-20 10:30', 'tap-unit', 50, 0, proj => 'web', hash => 'h1');
SELECT pg_temp.call('tap-rc', '2025-02-20 12:00', 'tap-unit', 50, 0, proj => 'web', hash => 'h1');
SELECT pg_temp.call('tap-rc', '2025-02-20 12:50', 'tap-unit', 50, 0, proj => 'web', hash => 'h1');
SELECT pg_temp.call('tap-rc', '2025-02-20 10:10', 'tap-unit2', 20, 0, proj => 'web', hash => 'h1');
SELECT pg_temp.call('tap-rc', '2025-02-18 23:30', 'tap-unit', 40, 0, proj => 'web', hash => 'h2');
SELECT pg_temp.call('tap-rc', '2025-02-19 00:10', 'tap-unit', 40, 0, proj => 'web', hash => 'h2');
SELECT pg_temp.call('tap-rc', '2025-02-20 10:00', 'tap-unit', 30, 0, proj => 'web', hash => 'h2');
SELECT pg_temp.call('tap-rc', '2025-02-20 10:20', 'tap-unit', 3, 0, proj => 'web', hash => 'h2', st => 'error');
SELECT pg_temp.call('tap-rc', '2025-02-20 11:00', 'tap-unit', 30, 0, proj => 'web', hash => 'h2');
SELECT pg_temp.unpriced('tap-rc', '2025-02-21 09:00', 'tap-unit', 70, proj => 'web', hash => 'h3');
SELECT pg_temp.call('tap-rc', '2025-02-21 09:10', 'tap-unit', 70, 0, proj => 'web', hash => 'h3');
SELECT pg_temp.call('tap-rc', '2025-02-21 09:20', 'tap-unit', 1000, 0, proj => 'web');
SELECT pg_temp.call('tap-rc', '2025-02-22 10:00', 'tap-unit', 20, 0, hash => 'h9', n => 2, step => '5 minutes');
SELECT pg_temp.call('tap-nb', '2025-02-20 09:59', 'tap-unit', 30, 0, proj => 'web', hash => 'h2');

-- tap-bp (batch_processing), project etl.  On tap-bb (batch 50/150) a
-- 1000/200 call costs 0.16, 0.08 at batch prices; with 800 cached
-- 0.088 (batch 0.08); fully cached 0.07 (batch 0.08: a loss).
--  classification: 10 + 2 + 1 calls: 1.846, batch 1.04, saving 0.806
--  chat tagged interactive=false: 5 calls 0.8, batch 0.4; untagged chat,
--  batch calls and failed calls are not counted
--  tap-nobatch has no batch prices; tap-lcb's 2000-token calls are long
--  context (threshold 1500): only its 5 short calls, 0.8, batch 0.4
SELECT pg_temp.call('tap-bp', '2025-02-20 10:00', 'tap-bb', 1000, 200, usr => 'u1', proj => 'etl', op => 'classification', n => 10);
SELECT pg_temp.call('tap-bp', '2025-02-20 11:00', 'tap-bb', 1000, 200, usr => 'u1', proj => 'etl', op => 'classification', cached => 800, n => 2);
SELECT pg_temp.call('tap-bp', '2025-02-20 12:00', 'tap-bb', 1000, 200, usr => 'u1', proj => 'etl', op => 'classification', cached => 1000);
SELECT pg_temp.call('tap-bp', '2025-02-20 13:00', 'tap-bb', 1000, 200, usr => 'u1', proj => 'etl', op => 'classification', batch => true, n => 3);
SELECT pg_temp.call('tap-bp', '2025-02-20 14:00', 'tap-bb', 1000, 200, usr => 'u1', proj => 'etl', op => 'classification', st => 'error');
SELECT pg_temp.call('tap-bp', '2025-02-21 10:00', 'tap-bb', 1000, 200, usr => 'u2', proj => 'etl', tg => '{"interactive": "false"}', n => 5);
SELECT pg_temp.call('tap-bp', '2025-02-21 11:00', 'tap-bb', 1000, 200, usr => 'u2', proj => 'etl', n => 3);
SELECT pg_temp.call('tap-bp', '2025-02-22 10:00', 'tap-nobatch', 1000, 200, proj => 'etl', op => 'classification', n => 10);
SELECT pg_temp.call('tap-bp', '2025-02-23 10:00', 'tap-lcb', 1000, 200, proj => 'etl', op => 'classification', n => 5);
SELECT pg_temp.call('tap-bp', '2025-02-23 11:00', 'tap-lcb', 2000, 200, proj => 'etl', op => 'classification', n => 5);

-- tap-pc (prompt_caching), prompt faq on tap-bb (cache read 10, write 125):
-- 13 calls (two of 1500 tokens, the 10th percentile, so the prefix is
-- 1500; one already reads 2000 tokens from the cache), 100 out each:
-- 2*0.18 + 10*0.23 + 0.05 = 2.71; read share 2000/25000.  The calls without
-- cache reads fall in the 5-minute bins 10:00 (5 calls), 10:05 (2), 12:00
-- (1), 13:00 (4): 4 writes, 8 hits; saving
-- (8*1500*(100-10) - 4*1500*(125-100)) / 1e6 = 0.93.  Batch and failed
-- calls are left out.  Prompts "tiny" (prefix below 1024), "warm" (cache read share
-- 75 %) and faq on tap-nobatch (no cache price) find nothing.
SELECT pg_temp.call('tap-pc', '2025-02-20 10:00', 'tap-bb', 1500, 100, tg => '{"prompt_id": "faq"}');
SELECT pg_temp.call('tap-pc', '2025-02-20 10:01', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}', n => 4);
SELECT pg_temp.call('tap-pc', '2025-02-20 10:05', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}');
SELECT pg_temp.call('tap-pc', '2025-02-20 10:07', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}', cached => 2000);
SELECT pg_temp.call('tap-pc', '2025-02-20 10:09', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}');
SELECT pg_temp.call('tap-pc', '2025-02-20 12:00', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}');
SELECT pg_temp.call('tap-pc', '2025-02-20 13:00', 'tap-bb', 1500, 100, tg => '{"prompt_id": "faq"}');
SELECT pg_temp.call('tap-pc', '2025-02-20 13:01', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}', n => 3);
SELECT pg_temp.call('tap-pc', '2025-02-20 10:02:30', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}', batch => true, n => 2);
SELECT pg_temp.call('tap-pc', '2025-02-20 10:03:30', 'tap-bb', 2000, 100, tg => '{"prompt_id": "faq"}', st => 'error');
SELECT pg_temp.call('tap-pc', '2025-02-21 10:00', 'tap-bb', 1000, 100, tg => '{"prompt_id": "tiny"}', n => 10);
SELECT pg_temp.call('tap-pc', '2025-02-22 10:00', 'tap-bb', 2000, 100, cached => 1500, tg => '{"prompt_id": "warm"}', n => 10);
SELECT pg_temp.call('tap-pc', '2025-02-23 10:00', 'tap-nobatch', 2000, 100, tg => '{"prompt_id": "faq"}', n => 10);

-- tap-po (prompt_optimization), 0.001 USD a token, 100 output tokens.
-- bloat/summarize: 10 prompts of 2000 and 10 of 4000 (median 3000), cost
-- 10*2.1 + 10*4.1 = 62; the norm is lean's median, 1000 (20 calls).
-- Trimmed to it: 10*1000 + 10*3000 excess tokens at 0.001 = 40.
SELECT pg_temp.call('tap-po', '2025-02-20 10:00', 'tap-k', 2000, 100, proj => 'bloat', op => 'summarize', n => 10);
SELECT pg_temp.call('tap-po', '2025-02-21 10:00', 'tap-k', 4000, 100, proj => 'bloat', op => 'summarize', n => 10);
SELECT pg_temp.call('tap-po', '2025-02-22 10:00', 'tap-k', 1000, 100, proj => 'lean', op => 'summarize', n => 20);

-- tap-ew (error_waste), 0.001 USD a token.  tap-k: 90 successes (90 USD),
-- 5 errors of 1 USD (one at the first instant of the window), 3 timeouts
-- of 2 USD: 98 calls, 101 USD, 11 failed.  An error at as_of and two
-- unpriced errors do not count.  tap-k2: 1 failed USD of 151 (below 1 %).
SELECT pg_temp.call('tap-ew', '2025-02-20 10:00', 'tap-k', 1000, 0, n => 90);
SELECT pg_temp.call('tap-ew', '2025-02-19 00:00', 'tap-k', 1000, 0, st => 'error');
SELECT pg_temp.call('tap-ew', '2025-02-21 10:00', 'tap-k', 1000, 0, st => 'error', n => 4);
SELECT pg_temp.call('tap-ew', '2025-02-22 10:00', 'tap-k', 2000, 0, st => 'timeout', n => 3);
SELECT pg_temp.call('tap-ew', '2025-03-01 00:00', 'tap-k', 1000, 0, st => 'error');
SELECT pg_temp.unpriced('tap-ew', '2025-02-23 10:00', 'tap-k', 1000, st => 'error');
SELECT pg_temp.unpriced('tap-ew', '2025-02-23 11:00', 'tap-k', 1000, st => 'error');
SELECT pg_temp.call('tap-ew', '2025-02-20 10:00', 'tap-k2', 1000, 0, n => 150);
SELECT pg_temp.call('tap-ew', '2025-02-24 10:00', 'tap-k2', 1000, 0, st => 'error');

-- tap-rl (rate_limiting), 0.1 USD a token.  alice: 30 hours of 10 USD and
-- 02-21 06:00 with 100: median 10, MAD 0, so the floor 0.1*10 gives a cap
-- of 10 + 5*1 = 15.  bob: 10 an hour for 30 hours, 18 at 12:00 (above his
-- cap of 15, but the organisation's 28 is not anomalous).  Organisation:
-- 31 hours, median 20, cap 20 + 5*2 = 30.  At 02-21 06:00 alice spends
-- 100 and bob 40 (his cap is still 15): the organisation's excess is
-- 140 - 30 = 110; alice's 85 is at least half of it, bob's 25 is not.  So
-- alice is named, with 85 USD held back.
SELECT pg_temp.call('tap-rl', '2025-02-20 00:15', 'tap-unit', 100, 0, usr => 'alice', n => 30, step => '1 hour');
SELECT pg_temp.call('tap-rl', '2025-02-21 06:15', 'tap-unit', 1000, 0, usr => 'alice');
SELECT pg_temp.call('tap-rl', '2025-02-20 00:20', 'tap-unit', 100, 0, usr => 'bob', n => 12, step => '1 hour');
SELECT pg_temp.call('tap-rl', '2025-02-20 12:20', 'tap-unit', 180, 0, usr => 'bob');
SELECT pg_temp.call('tap-rl', '2025-02-20 13:20', 'tap-unit', 100, 0, usr => 'bob', n => 17, step => '1 hour');
SELECT pg_temp.call('tap-rl', '2025-02-21 06:20', 'tap-unit', 400, 0, usr => 'bob');

-- tap-clean: nothing to save
SELECT pg_temp.call('tap-clean', '2025-02-20 10:00', 'tap-k', 1000, 100, usr => 'zed', proj => 'ok', n => 5);

-------------------------------------------------------------------------------
-- Objects
-------------------------------------------------------------------------------
SELECT has_table('costopt', 'cost_recommendations', 'costopt.cost_recommendations exists');
SELECT has_table('costopt', 'savings_opportunities', 'costopt.savings_opportunities exists');
SELECT has_view('costopt', 'v_top_recommendations', 'costopt.v_top_recommendations exists');

-------------------------------------------------------------------------------
-- model_downgrade
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT kind, scope_key, window_cost::numeric, window_savings::numeric
					  FROM costopt.find_savings('tap-md', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('model_downgrade', '["tapai", "tap-big", "p1", "chat"]', 3.65, 2.18)$$,
				  'model_downgrade: the segment repriced on the cheapest adequate model, cache reads, writes and batch calls included; p2 is below the minimum');
SELECT results_eq($$SELECT action, scope, detail FROM pg_temp.found('tap-md', 'model_downgrade')$$,
				  $$VALUES ('{"action": "switch_model", "from_provider": "tapai", "from_model": "tap-big", "to_provider": "tapai",
							  "to_model": "tap-mid", "project": "p1", "operation": "chat"}'::jsonb,
							'{"models": ["tap-big", "tap-mid"], "project": "p1", "operation": "chat", "measure": "cost",
							  "basis": "per_request"}'::jsonb,
							'{"calls": 14, "largest_prompt": 2000, "largest_output": 1000, "current_quality": 0.90,
							  "new_quality": 0.87, "repriced_window_cost": 1.47}'::jsonb)$$,
				  'model_downgrade: switch to tap-mid (cheaper models fail on quality, context, long context, output limit, unknown quality, inactive); scope of either model, verified per request; detail');
-- confidence 0.5 + 0.4 * 14/500 - 2 * 0.03 = 0.4512
SELECT results_eq($$SELECT title, confidence::numeric, difficulty, quality_impact, quality_change::numeric
					  FROM pg_temp.found('tap-md', 'model_downgrade')$$,
				  $$VALUES ('Move chat traffic of project p1 from tap-big to tap-mid', 0.4512, 'easy', 'medium', -0.03)$$,
				  'model_downgrade: title, confidence, same provider is easy, a 0.03 drop is a medium quality impact');
SELECT results_eq($$SELECT scope_key, window_savings::numeric FROM costopt.find_savings('tap-nb', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('["tapai", "tap-big", "p1", "chat"]', 0.63)$$,
				  'model_downgrade: another organisation''s segment has only its own calls');
SET LOCAL costopt.recommendation_min_savings = 0;
SELECT results_eq($$SELECT scope_key, window_savings::numeric FROM pg_temp.found('tap-md', 'model_downgrade')$$,
				  $$VALUES ('["tapai", "tap-big", "p1", "chat"]', 2.18), ('["tapai", "tap-big", "p2", "chat"]', 0.01235)$$,
				  'model_downgrade: with no minimum the small segment is found too, on tap-ctx (its prompts fit): 0.013 - 0.00065');
SET LOCAL costopt.recommendation_min_savings = 6.55;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-md', 'model_downgrade')), 0,
		  'model_downgrade: 6.54 USD a month is below a minimum of 6.55');
SET LOCAL costopt.recommendation_min_savings = 6.54;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-md', 'model_downgrade')), 1,
		  'model_downgrade: and enough for a minimum of 6.54');
SET LOCAL costopt.recommendation_min_savings = 0;
SELECT is((SELECT action ->> 'to_model' FROM costopt.find_savings('tap-md', '2025-02-19', '2025-07-01') f
			WHERE f.kind = 'model_downgrade' AND f.scope_key LIKE '%p1%'),
		  'tap-mid2', 'model_downgrade: candidates are priced as of the window''s end (tap-mid2''s June price)');
RESET costopt.recommendation_min_savings;

SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-mq', 'model_downgrade')), 0,
		  'model_downgrade: nothing when the cheaper model''s quality is below the margin (0.84 < 0.90 - 0.05)');
SET LOCAL costopt.downgrade_quality_margin = 0.06;
-- 0.5 + 0.4 * 5/500 - 2 * 0.06 = 0.384; 5 * (0.23 - 0.023) = 1.035
SELECT results_eq($$SELECT window_savings::numeric, confidence::numeric, difficulty, quality_impact,
						   quality_change::numeric, action ->> 'to_provider', action ->> 'to_model'
					  FROM pg_temp.found('tap-mq', 'model_downgrade')$$,
				  $$VALUES (1.035, 0.384, 'medium', 'medium', -0.06, 'tapbi', 'tbi-c-low')$$,
				  'model_downgrade: a margin of 0.06 admits it; another provider is medium difficulty');
RESET costopt.downgrade_quality_margin;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-mc', 'model_downgrade')), 0,
		  'model_downgrade: nothing when the context window (1999) is smaller than the largest prompt (2000)');
UPDATE costopt.model_pricing SET context_window = 2000 WHERE model_name = 'tap-r-ctx';
SELECT results_eq($$SELECT action ->> 'to_model', quality_impact, quality_change::numeric FROM pg_temp.found('tap-mc', 'model_downgrade')$$,
				  $$VALUES ('tap-r-ctx', 'low', -0.01)$$,
				  'model_downgrade: a context window of exactly the largest prompt is enough; a 0.01 drop is low impact');
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-ml', 'model_downgrade')), 0,
		  'model_downgrade: nothing when the long-context threshold (1999) is below the largest prompt');
UPDATE costopt.model_pricing SET long_context_threshold = 2000 WHERE model_name = 'tap-rr-lc';
SELECT results_eq($$SELECT action ->> 'to_model', quality_impact, quality_change::numeric FROM pg_temp.found('tap-ml', 'model_downgrade')$$,
				  $$VALUES ('tap-rr-lc', 'none', 0.0)$$,
				  'model_downgrade: a threshold of exactly the largest prompt is enough; equal quality has no impact');

-------------------------------------------------------------------------------
-- response_caching
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT scope_key, window_cost::numeric, window_savings::numeric FROM pg_temp.found('tap-rc', 'response_caching')$$,
				  $$VALUES ('["web"]', 39.0, 13.0), ('[null]', 4.0, 2.0)$$,
				  'response_caching: repeats within the hour per hash and model, per project (failed, unpriced, earlier and other organisations'' calls left out)');
SELECT is((SELECT array_agg(kind ORDER BY kind) FROM costopt.find_savings('tap-rc', '2025-02-19', '2025-03-01')),
		  '{response_caching,response_caching}', 'response_caching: nothing else is found in that traffic');
-- 0.6 + 0.35 * 3/200 = 0.60525
SELECT results_eq($$SELECT title, scope, action, detail, confidence::numeric, difficulty, quality_impact
					  FROM pg_temp.found('tap-rc', 'response_caching') WHERE scope_key = '["web"]'$$,
				  $$VALUES ('Cache identical requests of project web',
							'{"project": "web", "request_hash": true, "measure": "cost", "basis": "per_day"}'::jsonb,
							'{"action": "enable_response_cache", "project": "web", "cache_ttl_seconds": 3600}'::jsonb,
							'{"calls": 9, "repeats": 3, "repeat_share": 0.3333, "median_gap_seconds": 3000.0}'::jsonb,
							0.60525, 'medium', 'low')$$,
				  'response_caching: title, scope (verified per day), action, detail, confidence');
SET LOCAL costopt.response_cache_window = 1800;
SELECT results_eq($$SELECT scope_key, window_savings::numeric FROM pg_temp.found('tap-rc', 'response_caching')$$,
				  $$VALUES ('["web"]', 5.0), ('[null]', 2.0)$$,
				  'response_caching: a 30-minute window keeps only the 30-minute repeat');
SET LOCAL costopt.response_cache_window = '50min';
SELECT is((SELECT window_savings FROM pg_temp.found('tap-rc', 'response_caching') WHERE scope_key = '["web"]'),
		  10.0, 'response_caching: a 50-minute window adds the 50-minute repeat');
RESET costopt.response_cache_window;

-------------------------------------------------------------------------------
-- batch_processing
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT scope_key, window_cost::numeric, window_savings::numeric, (detail ->> 'calls')::integer
					  FROM costopt.find_savings('tap-bp', '2025-02-19', '2025-03-01') ORDER BY scope_key$$,
				  $$VALUES ('["tapai", "tap-bb", "etl", "chat"]', 0.8, 0.4, 5),
						   ('["tapai", "tap-bb", "etl", "classification"]', 1.846, 0.806, 13),
						   ('["tapai", "tap-lcb", "etl", "classification"]', 0.8, 0.4, 5)$$,
				  'batch_processing: batch operations and interactive=false calls at batch prices (whole prompt at the batch input price); no batch prices, batch calls, failures, long-context calls left out');
SELECT results_eq($$SELECT scope, action, detail, confidence::numeric, difficulty, quality_impact
					  FROM pg_temp.found('tap-bp', 'batch_processing') WHERE scope_key LIKE '%tap-bb%classification%'$$,
				  $$VALUES ('{"provider": "tapai", "models": ["tap-bb"], "project": "etl", "operation": "classification",
							  "measure": "cost", "basis": "per_request"}'::jsonb,
							'{"action": "use_batch_api", "provider": "tapai", "model": "tap-bb", "project": "etl",
							  "operation": "classification"}'::jsonb,
							'{"calls": 13, "batch_window_cost": 1.04}'::jsonb, 0.6078, 'medium', 'none')$$,
				  'batch_processing: scope, action, detail, confidence 0.6 + 0.3 * 13/500');
SET LOCAL costopt.batch_operations = 'backfill';
SELECT is((SELECT string_agg(scope_key, '; ') FROM pg_temp.found('tap-bp', 'batch_processing')),
		  '["tapai", "tap-bb", "etl", "chat"]', 'batch_processing: with batch_operations = backfill only the tagged calls remain');
SET LOCAL costopt.batch_operations = 'backfill ,  classification';
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-bp', 'batch_processing')), 3,
		  'batch_processing: the list is split on commas with spaces around them');
RESET costopt.batch_operations;

-------------------------------------------------------------------------------
-- prompt_caching
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT kind, scope_key, window_cost::numeric, window_savings::numeric
					  FROM costopt.find_savings('tap-pc', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('prompt_caching', '["tapai", "tap-bb", "faq"]', 2.71, 0.93)$$,
				  'prompt_caching: 8 cache hits on the 1500-token prefix less 4 cache writes; small prefixes, warm caches, models without cache prices, batch and failed calls left out');
SELECT results_eq($$SELECT detail, scope, confidence::numeric FROM pg_temp.found('tap-pc', 'prompt_caching')$$,
				  $$VALUES ('{"calls": 13, "estimated_prefix_tokens": 1500, "cache_read_share": 0.08, "cache_hits": 8, "cache_writes": 4}'::jsonb,
							'{"provider": "tapai", "models": ["tap-bb"], "prompt_tag": "prompt_id", "prompt_id": "faq",
							  "measure": "cost", "basis": "per_request"}'::jsonb, 0.4052)$$,
				  'prompt_caching: detail, scope and confidence 0.4 + 0.2 * 13/500');
SET LOCAL costopt.prompt_tag = 'template';
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-pc', 'prompt_caching')), 0,
		  'prompt_caching: the template tag is costopt.prompt_tag');
RESET costopt.prompt_tag;

-------------------------------------------------------------------------------
-- prompt_optimization
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT kind, scope_key, window_cost::numeric, window_savings::numeric
					  FROM costopt.find_savings('tap-po', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('prompt_optimization', '["bloat", "summarize"]', 62.0, 40.0)$$,
				  'prompt_optimization: prompts trimmed to the norm of the other projects at their own price per token');
SELECT results_eq($$SELECT detail, action, confidence::numeric FROM pg_temp.found('tap-po', 'prompt_optimization')$$,
				  $$VALUES ('{"calls": 20, "median_prompt_tokens": 3000, "norm_prompt_tokens": 1000, "norm_calls": 20, "excess_tokens": 40000}'::jsonb,
							'{"action": "optimize_prompt", "project": "bloat", "operation": "summarize", "target_prompt_tokens": 1000}'::jsonb,
							0.53)$$,
				  'prompt_optimization: detail, action and confidence 0.5 + 0.3 * 20/200');
SET LOCAL costopt.prompt_bloat_factor = 3;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-po', 'prompt_optimization')), 0,
		  'prompt_optimization: a median of exactly 3 times the norm is not more than a factor of 3');
SET LOCAL costopt.prompt_bloat_factor = 2.9;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-po', 'prompt_optimization')), 1,
		  'prompt_optimization: but more than 2.9');
RESET costopt.prompt_bloat_factor;

-------------------------------------------------------------------------------
-- error_waste
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT kind, scope_key, window_cost::numeric, window_savings::numeric
					  FROM costopt.find_savings('tap-ew', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('error_waste', '["tapai", "tap-k"]', 101.0, 11.0)$$,
				  'error_waste: failed spend of a model in the window; unpriced calls and a model below 1 % left out');
SELECT results_eq($$SELECT detail, action, scope, confidence::numeric FROM pg_temp.found('tap-ew', 'error_waste')$$,
				  $$VALUES ('{"calls": 98, "failed_calls": 8, "error_rate": 0.0816, "by_status": {"timeout": 6, "error": 5}}'::jsonb,
							'{"action": "reduce_errors", "provider": "tapai", "model": "tap-k", "statuses": ["timeout", "error"]}'::jsonb,
							'{"provider": "tapai", "models": ["tap-k"], "measure": "failed_cost", "basis": "per_request"}'::jsonb,
							0.624)$$,
				  'error_waste: detail by status, action, failed_cost scope, confidence 0.6 + 0.3 * 8/100');

-------------------------------------------------------------------------------
-- rate_limiting
-------------------------------------------------------------------------------
SELECT results_eq($$SELECT kind, scope_key, window_cost::numeric, window_savings::numeric, confidence::numeric, difficulty, quality_impact
					  FROM costopt.find_savings('tap-rl', '2025-02-19', '2025-03-01')$$,
				  $$VALUES ('rate_limiting', '["alice"]', 400.0, 85.0, 0.36, 'easy', 'medium')$$,
				  'rate_limiting: alice''s spend above her cap in the organisation''s anomalous hour; bob''s spikes are not (not anomalous, or too small a part)');
SELECT results_eq($$SELECT detail, action - 'sql', scope FROM pg_temp.found('tap-rl', 'rate_limiting')$$,
				  $$VALUES ('{"active_hours": 31, "median_hour_usd": 10, "hourly_cap_usd": 15, "spike_hours": 1,
							  "peak_hour_usd": 100, "top_hours": ["2025-02-21T06:00:00+00:00"]}'::jsonb,
							'{"action": "rate_limit_user", "user_id": "alice", "hourly_limit_usd": 15}'::jsonb,
							'{"user_id": "alice", "measure": "cost", "basis": "per_day"}'::jsonb)$$,
				  'rate_limiting: detail, action, scope');
-- the suggested statement creates the hourly hard budget it describes
SELECT pg_temp.sqlstate_of((SELECT action ->> 'sql' FROM pg_temp.found('tap-rl', 'rate_limiting'))) AS rl_sql \gset
SELECT results_eq(format($$SELECT %L::text, period_type, user_id, limit_usd, enforcement FROM costopt.budgets WHERE organization_id = 'tap-rl'$$, :'rl_sql'),
				  $$VALUES ('no error', 'hourly', 'alice', 15.0, 'hard')$$,
				  'rate_limiting: the action''s SQL creates an hourly hard budget at the cap');
SET LOCAL costopt.spike_threshold = 9;
-- caps 10 + 9 = 19 (alice, bob) and 20 + 9*2 = 38 (organisation): 81 held back
SELECT is((SELECT window_savings FROM pg_temp.found('tap-rl', 'rate_limiting')), 81.0,
		  'rate_limiting: a threshold of 9 raises the cap to 19');
SET LOCAL costopt.spike_threshold = 100;
SELECT is((SELECT count(*)::integer FROM pg_temp.found('tap-rl', 'rate_limiting')), 0,
		  'rate_limiting: and a threshold of 100 leaves no spike');
RESET costopt.spike_threshold;

-------------------------------------------------------------------------------
-- A clean organisation; unpriced traffic
-------------------------------------------------------------------------------
SELECT is((SELECT count(*)::integer FROM costopt.find_savings('tap-clean', '2025-02-19', '2025-03-01')), 0,
		  'a clean organisation has no findings');
SELECT is(pg_temp.gen('tap-clean'), 0::bigint, 'and gets no recommendations');
SELECT pg_temp.unpriced('tap-up', '2025-02-20 10:00', 'tap-unit', 1000, st => 'error');
SELECT pg_temp.unpriced('tap-up', '2025-02-20 10:01', 'tap-unit', 1000, hash => 'x');
SELECT pg_temp.unpriced('tap-up', '2025-02-20 10:02', 'tap-unit', 1000, hash => 'x');
SELECT is((SELECT count(*)::integer FROM costopt.find_savings('tap-up', '2025-02-19', '2025-03-01')), 0,
		  'unpriced calls alone find nothing');

-------------------------------------------------------------------------------
-- Recommendations: figures
-------------------------------------------------------------------------------
SELECT is(pg_temp.gen('tap-md'), 1::bigint, 'generate returns the open recommendations');
SELECT r.id AS md_p1 FROM pg_temp.open_rec('tap-md', 'model_downgrade', '["tapai", "tap-big", "p1", "chat"]') r \gset
INSERT INTO pg_temp.vars VALUES ('md_p1', :md_p1);
-- monthly = window * 30/10; priority 6.54/100*50 + 0.4512*30 + 20 = 36.8
SELECT results_eq($$SELECT current_monthly_cost::numeric, projected_monthly_cost::numeric, estimated_savings::numeric,
						   savings_percentage::numeric, priority_score, confidence_score::numeric,
						   implementation_difficulty, quality_impact, quality_score_change::numeric, status, times_detected
					  FROM costopt.cost_recommendations WHERE id = pg_temp.v('md_p1')$$,
				  $$VALUES (10.95, 4.41, 6.54, 59.73, 37, 0.4512, 'easy', 'medium', -0.03, 'pending', 1)$$,
				  'model_downgrade recommendation: monthly figures, percentage, priority');
SELECT results_eq($$SELECT valid_until, analysis_data - '{calls,largest_prompt,largest_output,current_quality,new_quality,repriced_window_cost}'::text[],
						   analysis_data ? 'repriced_window_cost'
					  FROM costopt.cost_recommendations WHERE id = pg_temp.v('md_p1')$$,
				  $$VALUES (now() + interval '30 days',
							'{"window_from": "2025-02-19T00:00:00+00:00", "window_to": "2025-03-01T00:00:00+00:00",
							  "window_days": 10, "window_cost": 3.65, "window_savings": 2.18}'::jsonb, true)$$,
				  'valid for 30 days; analysis_data has the window and the detector''s figures');
SELECT is((SELECT title || ' | ' || (recommended_action ->> 'to_model') FROM costopt.cost_recommendations WHERE id = :md_p1),
		  'Move chat traffic of project p1 from tap-big to tap-mid | tap-mid', 'title and action are the finding''s');
-- priority weights
SELECT results_eq($$VALUES (costopt.priority_score(100, 1, 'easy')), (costopt.priority_score(0, 0, 'hard')),
						   (costopt.priority_score(50, 0.5, 'medium')), (costopt.priority_score(1000, 5, 'easy')),
						   (costopt.priority_score(-10, -1, 'medium'))$$,
				  $$VALUES (100), (5), (52), (100), (12)$$,
				  'priority: savings 50 (full at 100 USD), confidence 30, ease 20/12/5, clamped');
SELECT pg_temp.gen('tap-po');
-- 120 USD a month saturates the savings part: 50 + 0.53*30 + 12 = 77.9
SELECT results_eq($$SELECT estimated_savings::numeric, current_monthly_cost::numeric, savings_percentage::numeric, priority_score
					  FROM costopt.cost_recommendations WHERE organization_id = 'tap-po'$$,
				  $$VALUES (120.0, 186.0, 64.52, 78)$$, 'prompt_optimization: figures and a saturated priority');
SELECT pg_temp.gen('tap-rl');
SELECT results_eq($$SELECT estimated_savings::numeric, savings_percentage::numeric, priority_score, implementation_difficulty
					  FROM costopt.cost_recommendations WHERE organization_id = 'tap-rl'$$,
				  $$VALUES (255.0, 21.25, 81, 'easy')$$, 'rate_limiting: 50 + 0.36*30 + 20 = 80.8');
-- scaling: the same traffic over 20 days is worth 30/20 of it a month
SELECT pg_temp.gen('tap-ew');
SELECT results_eq($$SELECT estimated_savings::numeric, current_monthly_cost::numeric, savings_percentage::numeric
					  FROM costopt.cost_recommendations WHERE organization_id = 'tap-ew'$$,
				  $$VALUES (33.0, 303.0, 10.89)$$, 'error_waste: 11 USD in 10 days is 33 a month');
SELECT pg_temp.gen('tap-ew', 20);
SELECT results_eq($$SELECT estimated_savings::numeric, current_monthly_cost::numeric, (analysis_data ->> 'window_days')::integer,
						   times_detected, count(*) OVER ()
					  FROM costopt.cost_recommendations WHERE organization_id = 'tap-ew'$$,
				  $$VALUES (16.5, 151.5, 20, 2, 1::bigint)$$, 'error_waste: over 20 days the same calls are 16.5 a month (refreshed, not duplicated)');

-------------------------------------------------------------------------------
-- Recommendations: refresh, expiry, suppression
-------------------------------------------------------------------------------
SELECT pg_temp.gen('tap-md');
SELECT results_eq($$SELECT id, times_detected FROM costopt.cost_recommendations WHERE organization_id = 'tap-md'$$,
				  $$VALUES (pg_temp.v('md_p1'), 2)$$, 're-running refreshes the open recommendation instead of adding one');
SET LOCAL costopt.recommendation_min_savings = 0;
SELECT is(pg_temp.gen('tap-md'), 2::bigint, 'with no minimum p2 is recommended too');
RESET costopt.recommendation_min_savings;
SELECT is(pg_temp.gen('tap-md'), 1::bigint, 'back at the default minimum only p1 is open');
SELECT results_eq($$SELECT status, status_reason FROM costopt.cost_recommendations WHERE organization_id = 'tap-md' AND scope_key LIKE '%p2%'$$,
				  $$VALUES ('expired', 'no longer found in the calls of 2025-02-19 00:00:00+00 to 2025-03-01 00:00:00+00')$$,
				  'a pending recommendation no longer found expires, with the reason');
-- two more calls of 0.265 (0.107 on tap-mid): window 4.18, saving 2.496
SELECT pg_temp.call('tap-md', '2025-02-22 10:00', 'tap-big', 2000, 500, usr => 'ann', proj => 'p1', cached => 1000, cw => 200, n => 2);
SELECT pg_temp.gen('tap-md');
SELECT results_eq($$SELECT estimated_savings::numeric, current_monthly_cost::numeric, projected_monthly_cost::numeric,
						   savings_percentage::numeric, confidence_score::numeric, times_detected, (analysis_data ->> 'calls')::integer
					  FROM costopt.cost_recommendations WHERE id = pg_temp.v('md_p1')$$,
				  $$VALUES (7.488, 12.54, 5.052, 59.71, 0.4528, 5, 16)$$, 'a pending recommendation takes the new figures');
SELECT costopt_accept_recommendation(:md_p1, 'dana') \g /dev/null
SELECT pg_temp.call('tap-md', '2025-02-23 10:00', 'tap-big', 2000, 500, usr => 'ann', proj => 'p1', cached => 1000, cw => 200, n => 2);
SELECT pg_temp.gen('tap-md');
SELECT results_eq($$SELECT status, estimated_savings::numeric, (analysis_data ->> 'calls')::integer, times_detected
					  FROM costopt.cost_recommendations WHERE id = pg_temp.v('md_p1')$$,
				  $$VALUES ('accepted', 7.488, 16, 6)$$, 'an accepted recommendation keeps its figures and counts the detection');
-- implemented inside the window: not recommended again
SELECT costopt_implement_recommendation(:md_p1, '2025-03-01') \g /dev/null
SELECT is(pg_temp.gen('tap-md'), 0::bigint, 'implemented within the window: not recommended again');
UPDATE costopt.cost_recommendations SET implemented_at = '2025-02-18' WHERE id = :md_p1;
SELECT results_eq($$SELECT status, count(*) FROM costopt_generate_recommendations('tap-md', 10, '2025-03-01') GROUP BY status$$,
				  $$VALUES ('pending', 1::bigint)$$, 'implemented before the window: the waste found since is recommended again');
UPDATE costopt.cost_recommendations SET implemented_at = '2025-03-01' WHERE id = :md_p1;

SELECT is(pg_temp.gen('tap-rc'), 2::bigint, 'response_caching: two recommendations (web and no project)');
SELECT r.id AS rc_web FROM pg_temp.open_rec('tap-rc', 'response_caching', '["web"]') r \gset
INSERT INTO pg_temp.vars VALUES ('rc_web', :rc_web);
SELECT r.id AS rc_null FROM pg_temp.open_rec('tap-rc', 'response_caching', '[null]') r \gset
INSERT INTO pg_temp.vars VALUES ('rc_null', :rc_null);
-- 13 USD a window: 39 a month, 50 % of the cost; 39/100*50 + 0.60525*30 + 12 = 49.66
SELECT results_eq($$SELECT estimated_savings::numeric, savings_percentage::numeric, confidence_score::numeric, priority_score
					  FROM costopt.cost_recommendations WHERE id = pg_temp.v('rc_web')$$,
				  $$VALUES (39.0, 33.33, 0.6053, 50)$$, 'response_caching: figures of the web recommendation');
SELECT costopt_reject_recommendation(:rc_null, 'the bot traffic is deliberate') \g /dev/null
SELECT pg_temp.gen('tap-rc');
SELECT is((SELECT count(*)::integer FROM costopt.cost_recommendations WHERE organization_id = 'tap-rc' AND scope_key = '[null]'), 1,
		  'a rejected kind and scope is not recommended again');
SELECT costopt_archive_recommendation(:rc_null) \g /dev/null
SELECT pg_temp.gen('tap-rc');
SELECT is((SELECT count(*)::integer FROM costopt.cost_recommendations WHERE organization_id = 'tap-rc' AND scope_key = '[null]'), 1,
		  'nor after the rejected recommendation is archived (it was rejected less than 90 days ago)');
-- (remove what the previous test catches, if re-created, so the next one starts from the same rows)
DELETE FROM costopt.cost_recommendations WHERE organization_id = 'tap-rc' AND scope_key = '[null]' AND id <> :rc_null;
-- a rejection 91 days old no longer stands
UPDATE costopt.cost_recommendations SET rejected_at = now() - interval '91 days' WHERE id = :rc_null;
SELECT pg_temp.gen('tap-rc');
SELECT results_eq($$SELECT status, times_detected FROM costopt.cost_recommendations
					 WHERE organization_id = 'tap-rc' AND scope_key = '[null]' AND id <> pg_temp.v('rc_null')$$,
				  $$VALUES ('pending', 1)$$, 'after 90 days a rejected kind and scope is recommended again');

-------------------------------------------------------------------------------
-- Lifecycle
-------------------------------------------------------------------------------
SELECT is(costopt.recommendation_next_states('pending'), '{accepted,rejected,expired}', 'pending may be accepted, rejected or expire');
SELECT pg_temp.rec('tap-life', 'pending') AS la \gset
SELECT results_eq($$SELECT r.status, r.accepted_by, r.accepted_at FROM costopt_accept_recommendation($$ || :la || $$, 'dana') r$$,
				  $$VALUES ('accepted', 'dana', now())$$, 'accept: pending -> accepted, stamped');
SELECT is(pg_temp.error_message(format('SELECT costopt_accept_recommendation(%s, ''frank'')', :la)),
		  format('55000: recommendation %s is accepted, it cannot become accepted', :la),
		  'accepting twice is refused (accepted_by is not overwritten)');
SELECT is((SELECT accepted_by FROM costopt.cost_recommendations WHERE id = :la), 'dana', 'accepted_by is still the first');
SELECT results_eq($$SELECT r.status, r.implemented_at, r.implemented_by
					  FROM costopt_implement_recommendation($$ || :la || $$, '2025-03-05', 'eve') r$$,
				  $$VALUES ('implemented', '2025-03-05 00:00+00'::timestamptz, 'eve')$$, 'implement: accepted -> implemented at the given time');
SELECT results_eq($$SELECT r.status, r.archived_at FROM costopt_archive_recommendation($$ || :la || $$) r$$,
				  $$VALUES ('archived', now())$$, 'archive: implemented -> archived');
SELECT is(pg_temp.error_message(format('SELECT costopt_accept_recommendation(%s)', :la)),
		  format('55000: recommendation %s is archived, it cannot become accepted', :la), 'an archived recommendation cannot move');
SELECT results_eq($$VALUES (costopt.recommendation_next_states('accepted')), (costopt.recommendation_next_states('implemented')),
						   (costopt.recommendation_next_states('verified')), (costopt.recommendation_next_states('archived'))$$,
				  $$VALUES ('{implemented,rejected}'::text[]), ('{verified,archived}'), ('{verified,archived}'), ('{}')$$,
				  'the other states'' moves; archived is final');

SELECT pg_temp.rec('tap-life', 'pending') AS lb \gset
SELECT results_eq(format($$VALUES (pg_temp.sqlstate_of('SELECT costopt_reject_recommendation(%1$s, $q$  $q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_reject_recommendation(%1$s, NULL)'))$$, :lb),
				  $$VALUES ('22023'), ('22023')$$, 'reject needs a reason (blank or NULL: 22023)');
SELECT results_eq($$SELECT r.status, r.status_reason, r.rejected_at FROM costopt_reject_recommendation($$ || :lb || $$, 'too risky') r$$,
				  $$VALUES ('rejected', 'too risky', now())$$, 'reject: pending -> rejected with the reason');
SELECT is(pg_temp.sqlstate_of(format('SELECT costopt_accept_recommendation(%s)', :lb)), '55000', 'rejected -> accepted is refused');
SELECT is((costopt_archive_recommendation(:lb)).status, 'archived', 'rejected -> archived');

SELECT pg_temp.rec('tap-life', 'pending') AS lc \gset
SELECT is(pg_temp.error_detail(format('SELECT costopt_implement_recommendation(%s)', :lc)),
		  '55000: From pending it may become: accepted, rejected, expired.', 'pending -> implemented is refused');
SELECT is(pg_temp.sqlstate_of(format('SELECT costopt_archive_recommendation(%s)', :lc)), '55000', 'pending -> archived is refused');
SELECT is(pg_temp.sqlstate_of(format($$UPDATE costopt.cost_recommendations SET status = 'verified' WHERE id = %s$$, :lc)),
		  '55000', 'a direct UPDATE is checked too (pending -> verified)');
SELECT is(pg_temp.sqlstate_of(format($$UPDATE costopt.cost_recommendations SET status = 'rejected' WHERE id = %s$$, :lc)),
		  '23514', 'a direct UPDATE to rejected without a reason violates the check constraint');
UPDATE costopt.cost_recommendations SET status = 'expired' WHERE id = :lc;
SELECT is(pg_temp.sqlstate_of(format($$UPDATE costopt.cost_recommendations SET status = 'pending' WHERE id = %s$$, :lc)),
		  '55000', 'pending -> expired directly, but expired -> pending is refused');
SELECT is((costopt_archive_recommendation(:lc)).status, 'archived', 'expired -> archived');

SELECT pg_temp.rec('tap-life', 'pending') AS ld \gset
SELECT costopt_accept_recommendation(:ld) \g /dev/null
SELECT results_eq(format($$VALUES (pg_temp.sqlstate_of('SELECT costopt_implement_recommendation(%1$s, now() + interval $q$1 day$q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_implement_recommendation(%1$s, NULL)')),
								  (pg_temp.sqlstate_of('SELECT costopt_implement_recommendation(%1$s, $q$-infinity$q$)'))$$, :ld),
				  $$VALUES ('22023'), ('22023'), ('22023')$$, 'implemented_at in the future, NULL or infinite is refused (22023)');
SELECT results_eq($$SELECT r.status, r.status_reason FROM costopt_reject_recommendation($$ || :ld || $$, 'changed plans') r$$,
				  $$VALUES ('rejected', 'changed plans')$$, 'accepted -> rejected');
SELECT pg_temp.rec('tap-life', 'pending') AS le \gset
SELECT costopt_accept_recommendation(:le) \g /dev/null
SELECT costopt_implement_recommendation(:le, '2025-03-05') \g /dev/null
SELECT is(pg_temp.sqlstate_of(format($$SELECT costopt_reject_recommendation(%s, 'late')$$, :le)), '55000',
		  'implemented -> rejected is refused');
SELECT is(pg_temp.sqlstate_of(format($$SELECT costopt_verify_recommendation(%s)$$, pg_temp.rec('tap-life', 'pending'))), '55000',
		  'only an implemented recommendation can be verified');
SELECT results_eq($$VALUES (pg_temp.sqlstate_of('SELECT costopt_accept_recommendation(-1)')),
						   (pg_temp.sqlstate_of($q$SELECT costopt_reject_recommendation(-1, 'x')$q$)),
						   (pg_temp.sqlstate_of('SELECT costopt_implement_recommendation(-1)')),
						   (pg_temp.sqlstate_of('SELECT costopt_archive_recommendation(-1)')),
						   (pg_temp.sqlstate_of('SELECT costopt_verify_recommendation(-1)'))$$,
				  $$VALUES ('42704'), ('42704'), ('42704'), ('42704'), ('42704')$$, 'an unknown id: 42704 from every function');

-------------------------------------------------------------------------------
-- Verification
-------------------------------------------------------------------------------
-- tap-vr, project vr: 2000/500 calls, 0.35 on tap-big, 0.14 on tap-mid.
-- Analysis: 10 calls, 2.1 saved: 6.3 a month.  Implemented 03-05.
SELECT pg_temp.call('tap-vr', '2025-02-20 10:00', 'tap-big', 2000, 500, proj => 'vr', n => 5);
SELECT pg_temp.call('tap-vr', '2025-02-25 10:00', 'tap-big', 2000, 500, proj => 'vr', n => 5);
SELECT pg_temp.call('tap-vr', '2025-03-02 10:00', 'tap-big', 2000, 500, proj => 'vr', n => 4);
SELECT pg_temp.call('tap-vr', '2025-03-06 10:00', 'tap-mid', 2000, 500, proj => 'vr', n => 4);
SELECT pg_temp.call('tap-vr', '2025-03-12 10:00', 'tap-mid', 2000, 500, proj => 'vr', n => 2);
SELECT pg_temp.call('tap-vr', '2025-03-12 11:00', 'tap-big', 2000, 500, proj => 'vr');
SELECT pg_temp.call('tap-vr', '2025-03-06 10:00', 'tap-mid', 1000, 100, proj => 'other', n => 3);	-- other project
SELECT pg_temp.call('tap-vr', '2025-03-06 10:00', 'tap-small', 1000, 100, proj => 'vr', n => 3);	-- other model
SELECT pg_temp.gen('tap-vr');
SELECT r.id AS vr FROM pg_temp.open_rec('tap-vr', 'model_downgrade', '["tapai", "tap-big", "vr", "chat"]') r \gset
INSERT INTO pg_temp.vars VALUES ('vr', :vr);
SELECT costopt_accept_recommendation(:vr) \g /dev/null
SELECT costopt_implement_recommendation(:vr, '2025-03-05') \g /dev/null
SELECT is(pg_temp.sqlstate_of(format($$SELECT costopt_verify_recommendation(%s, '2025-03-05 12:00')$$, :vr)), '55000',
		  'verification needs a day of traffic after implementation');
-- 5 days each side: 4 calls at 0.35 before; 4 at 0.14 after: (0.35 - 0.14) * 4 = 0.84, *6 a month
SELECT results_eq($$SELECT r.status, r.actual_savings::numeric, (r.verification ->> 'days')::numeric,
						   (r.verification ->> 'realized_percent')::numeric, r.results_verified_at
					  FROM costopt_verify_recommendation($$ || :vr || $$, '2025-03-10') r$$,
				  $$VALUES ('verified', 5.04, 5.0, 80.0, now())$$, 'per request: cost per call before and after, over 5 days');
-- 10 days each side (the analysis window): before 9 calls, 3.15; after 6 on
-- tap-mid and 1 on tap-big, 1.19: 0.35 * 7 - 1.19 = 1.26, *3 a month
SELECT results_eq($$SELECT r.status, r.actual_savings::numeric, r.verification - 'window_savings'
					  FROM costopt_verify_recommendation($$ || :vr || $$, '2025-03-15') r$$,
				  $$VALUES ('verified', 3.78,
							'{"basis": "per_request", "days": 10.00,
							  "before": {"from": "2025-02-23T00:00:00+00:00", "to": "2025-03-05T00:00:00+00:00", "spend": 3.15, "requests": 9},
							  "after": {"from": "2025-03-05T00:00:00+00:00", "to": "2025-03-15T00:00:00+00:00", "spend": 1.19, "requests": 7},
							  "realized_percent": 60.0}'::jsonb)$$,
				  'verifying again re-measures, over at most the analysis window; other projects and models are not in scope');
SELECT is(pg_temp.sqlstate_of(format($$UPDATE costopt.cost_recommendations SET status = 'implemented' WHERE id = %s$$, :vr)),
		  '55000', 'verified -> implemented is refused');
-- tap-md p1 was implemented 03-01 and has no calls after it
SELECT is(pg_temp.error_message(format($$SELECT costopt_verify_recommendation(%s, '2025-03-03')$$, :md_p1)),
		  format('55000: recommendation %s has no calls in its scope after implementation', :md_p1),
		  'per request: no calls after implementation cannot be verified');
-- archiving it does not make the waste it fixed new again
DELETE FROM costopt.cost_recommendations WHERE organization_id = 'tap-md' AND status = 'pending';
SELECT costopt_archive_recommendation(:md_p1) \g /dev/null
SELECT is(pg_temp.gen('tap-md'), 0::bigint,
		  'a recommendation implemented within the window is not recommended again after it is archived');

-- per day (response caching, project web, hashed calls only): 4 calls of 5
-- in the two days before, 2 after: 10 USD in 2 days, 150 a month
SELECT pg_temp.call('tap-rc', '2025-03-03 10:00', 'tap-unit', 50, 0, proj => 'web', hash => 'h7', n => 4);
SELECT pg_temp.call('tap-rc', '2025-03-03 11:00', 'tap-unit', 1000, 0, proj => 'web');
SELECT pg_temp.call('tap-rc', '2025-03-05 10:00', 'tap-unit', 50, 0, proj => 'web', hash => 'h7', n => 2);
SELECT pg_temp.call('tap-rc', '2025-03-05 11:00', 'tap-unit', 50, 0, proj => 'other', hash => 'h7', n => 2);
SELECT costopt_accept_recommendation(:rc_web) \g /dev/null
SELECT costopt_implement_recommendation(:rc_web, '2025-03-05') \g /dev/null
SELECT results_eq($$SELECT r.actual_savings::numeric, (r.verification -> 'before' ->> 'spend')::numeric,
						   (r.verification -> 'after' ->> 'requests')::integer,
						   r.verification ->> 'basis', (r.verification ->> 'realized_percent')::numeric
					  FROM costopt_verify_recommendation($$ || :rc_web || $$, '2025-03-07') r$$,
				  $$VALUES (150.0, 20.0, 2, 'per_day', 384.6)$$,
				  'per day: spend before minus spend after, scaled to a month');
SELECT is(pg_temp.gen('tap-rc'), 1::bigint, 'a verified recommendation implemented within the window is not recommended again');

-- failed_cost measure (error_waste on tap-k): before 03-03..03-05 8 calls,
-- 2 USD failed; after 10 calls, 1 failed: (2/8 - 1/10) * 10 = 1.5 in 2 days
SELECT pg_temp.call('tap-ew', '2025-03-03 10:00', 'tap-k', 1000, 0, n => 6);
SELECT pg_temp.call('tap-ew', '2025-03-04 10:00', 'tap-k', 1000, 0, st => 'error', n => 2);
SELECT pg_temp.call('tap-ew', '2025-03-05 10:00', 'tap-k', 1000, 0, n => 9);
SELECT pg_temp.call('tap-ew', '2025-03-06 10:00', 'tap-k', 1000, 0, st => 'error');
SELECT r.id AS ew FROM pg_temp.open_rec('tap-ew', 'error_waste', '["tapai", "tap-k"]') r \gset
SELECT costopt_accept_recommendation(:ew) \g /dev/null
SELECT costopt_implement_recommendation(:ew, '2025-03-05') \g /dev/null
SELECT results_eq($$SELECT r.actual_savings::numeric, (r.verification -> 'before' ->> 'spend')::numeric,
						   (r.verification -> 'before' ->> 'requests')::integer
					  FROM costopt_verify_recommendation($$ || :ew || $$, '2025-03-07') r$$,
				  $$VALUES (22.5, 2.0, 8)$$, 'failed_cost: only failed calls are spend, all calls are requests');

-------------------------------------------------------------------------------
-- ROI
-------------------------------------------------------------------------------
SELECT pg_temp.rec('tap-roi', 'pending', savings => 100) AS roi \gset
-- 11 months running: 1100; break even 1 + 600/100; (1100 - 600)/600
SELECT results_eq($$SELECT * FROM costopt_recommendation_roi($$ || :roi || $$, 600, 30)$$,
				  $$VALUES (100.0, 1100.00, 7.00, 83.3, 'estimated')$$, 'ROI on the estimate');
SELECT results_eq($$SELECT first_year_savings, break_even_months, roi_percent FROM costopt_recommendation_roi($$ || :roi || $$, 0)
					UNION ALL
					SELECT first_year_savings, break_even_months, roi_percent FROM costopt_recommendation_roi($$ || :roi || $$, 600, 400)$$,
				  $$VALUES (1200.00, 0.00, NULL::numeric), (0.00, 19.33, -100.0)$$,
				  'ROI without cost (no percentage), and when savings start after the first year (400/30 + 600/100 months to break even)');
UPDATE costopt.cost_recommendations SET actual_savings = 50 WHERE id = :roi;
SELECT results_eq($$SELECT * FROM costopt_recommendation_roi($$ || :roi || $$, 600, 30)$$,
				  $$VALUES (50.0, 550.00, 13.00, -8.3, 'verified')$$, 'ROI on the verified saving');
SELECT pg_temp.rec('tap-roi', 'pending', savings => 0) AS roi0 \gset
SELECT is((SELECT break_even_months FROM costopt_recommendation_roi(:roi0, 100)),
		  NULL, 'no saving: no break-even');
SELECT results_eq(format($$VALUES (pg_temp.sqlstate_of('SELECT costopt_recommendation_roi(%1$s, -1)')),
								  (pg_temp.sqlstate_of($q$SELECT costopt_recommendation_roi(%1$s, 'NaN')$q$)),
								  (pg_temp.sqlstate_of('SELECT costopt_recommendation_roi(%1$s, NULL)')),
								  (pg_temp.sqlstate_of('SELECT costopt_recommendation_roi(%1$s, 1, -1)')),
								  (pg_temp.sqlstate_of('SELECT costopt_recommendation_roi(-1, 1)'))$$, :roi),
				  $$VALUES ('22023'), ('22023'), ('22023'), ('22023'), ('42704')$$,
				  'ROI: negative, NaN or NULL cost, negative days: 22023; unknown id: 42704');

-------------------------------------------------------------------------------
-- v_top_recommendations
-------------------------------------------------------------------------------
SELECT pg_temp.rec('tap-view', 'pending', 50, 10) AS w1 \gset
SELECT pg_temp.rec('tap-view', 'pending', 70, 5) AS w2 \gset
SELECT pg_temp.rec('tap-view', 'pending', 70, 20) AS w3 \gset
SELECT pg_temp.rec('tap-view', 'pending', 70, 20) AS w4 \gset
SELECT pg_temp.rec('tap-view', 'pending', 60, 1) AS w5 \gset
SELECT costopt_accept_recommendation(:w5) \g /dev/null
SELECT pg_temp.rec('tap-view', 'rejected', 99, 50, reason => 'no') AS w6 \gset
SELECT pg_temp.rec('tap-view', 'pending', 99, 50, valid => now() - interval '1 second') AS w7 \gset
SELECT pg_temp.rec('tap-view2', 'pending', 10, 1) AS w8 \gset
SELECT results_eq($$SELECT organization_id, rank, id, status FROM costopt.v_top_recommendations
					 WHERE organization_id IN ('tap-view', 'tap-view2') ORDER BY organization_id, rank$$,
				  format($$VALUES ('tap-view', 1, %s::bigint, 'pending'), ('tap-view', 2, %s, 'pending'),
								  ('tap-view', 3, %s, 'pending'), ('tap-view', 4, %s, 'accepted'),
								  ('tap-view', 5, %s, 'pending'), ('tap-view2', 1, %s, 'pending')$$,
						 :w3, :w4, :w2, :w5, :w1, :w8),
				  'the view ranks open, still valid recommendations by priority, savings and id within each organisation');
SELECT pg_temp.gen('tap-view');
SELECT results_eq($$SELECT id, status, left(status_reason, 31) FROM costopt.cost_recommendations
					 WHERE organization_id = 'tap-view' AND status <> 'rejected' ORDER BY id$$,
				  format($$VALUES (%s::bigint, 'expired', 'no longer found in the calls of'), (%s, 'expired', 'no longer found in the calls of'),
								  (%s, 'expired', 'no longer found in the calls of'), (%s, 'expired', 'no longer found in the calls of'),
								  (%s, 'accepted', NULL), (%s, 'expired', 'not acted on before valid_until')$$,
						 :w1, :w2, :w3, :w4, :w5, :w7),
				  'an analysis expires pending recommendations it does not find, or past valid_until (with that reason); accepted ones stay');

-------------------------------------------------------------------------------
-- Savings opportunities
-------------------------------------------------------------------------------
SELECT is(pg_temp.detect('tap-bp'), 2::bigint, 'opportunities: batch findings roll up per model');
SELECT o.id AS op_bb FROM costopt.savings_opportunities o WHERE organization_id = 'tap-bp' AND opportunity_key = 'tap-bb' \gset
INSERT INTO pg_temp.vars VALUES ('op_bb', :op_bb);
-- tap-bb: 0.806 + 0.4 of 1.846 + 0.8 in the window
SELECT results_eq($$SELECT opportunity_type, opportunity_key, affected_models, potential_savings::numeric,
						   current_monthly_cost::numeric, savings_percentage::numeric, detection_confidence::numeric,
						   estimated_implementation_hours::numeric, status, times_detected
					  FROM costopt.savings_opportunities WHERE organization_id = 'tap-bp' ORDER BY potential_savings DESC$$,
				  $$VALUES ('off_peak_usage_potential', 'tap-bb', '["tap-bb"]'::jsonb, 3.618, 7.938, 45.58, 0.6078, 8.0, 'open', 1),
						   ('off_peak_usage_potential', 'tap-lcb', '["tap-lcb"]'::jsonb, 1.2, 2.4, 50.0, 0.603, 8.0, 'open', 1)$$,
				  'opportunities: monthly sums of the findings, highest confidence, medium effort is 8 hours');
SELECT results_eq($$SELECT affected_users, recommended_actions, jsonb_array_length(supporting_data -> 'findings'),
						   affected_period, expires_at
					  FROM costopt.savings_opportunities WHERE id = pg_temp.v('op_bb')$$,
				  $$VALUES ('["u1", "u2"]'::jsonb,
							'{"Send chat calls of project etl to the batch API","Send classification calls of project etl to the batch API"}'::text[],
							2, '{"start": "2025-02-19T00:00:00+00:00", "end": "2025-03-01T00:00:00+00:00", "days": 10}'::jsonb,
							now() + interval '10 days')$$,
				  'opportunities: users by spend in scope, the findings'' titles, the period, expiry after "days"');
SELECT pg_temp.detect('tap-bp');
SELECT results_eq($$SELECT count(*), min(times_detected), max(times_detected) FROM costopt.savings_opportunities WHERE organization_id = 'tap-bp'$$,
				  $$VALUES (2::bigint, 2, 2)$$, 'opportunities: re-detection refreshes, no duplicates, detections counted');
SET LOCAL costopt.batch_operations = 'backfill';
SELECT is(pg_temp.detect('tap-bp'), 1::bigint, 'opportunities: only the tagged traffic is left');
RESET costopt.batch_operations;
SELECT results_eq($$SELECT opportunity_key, status, potential_savings::numeric, resolution_notes, resolved_at
					  FROM costopt.savings_opportunities WHERE organization_id = 'tap-bp' ORDER BY opportunity_key$$,
				  $$VALUES ('tap-bb', 'open', 1.2, NULL, NULL),
						   ('tap-lcb', 'expired', 1.2, 'no longer found in the calls of 2025-02-19 00:00:00+00 to 2025-03-01 00:00:00+00', now())$$,
				  'opportunities: figures refreshed; one no longer found expires');

SET LOCAL costopt.recommendation_min_savings = 0;
SELECT pg_temp.detect('tap-md');
RESET costopt.recommendation_min_savings;
-- p1 as of now (18 calls: 3.65 + 4*0.265 = 4.71, saving 2.18 + 4*0.158 = 2.812) plus p2 (0.013, 0.01235)
SELECT results_eq($$SELECT opportunity_type, opportunity_key, potential_savings::numeric, current_monthly_cost::numeric,
						   affected_users, jsonb_array_length(supporting_data -> 'findings'), estimated_implementation_hours::numeric
					  FROM costopt.savings_opportunities WHERE organization_id = 'tap-md'$$,
				  $$VALUES ('expensive_model_overuse', 'tap-big', 8.47305, 14.169, '["ann", "ben"]'::jsonb, 2, 2.0)$$,
				  'opportunities: two model_downgrade findings on one model make one expensive_model_overuse (easy: 2 hours)');
SELECT pg_temp.detect('tap-rc');
SELECT results_eq($$SELECT opportunity_type, opportunity_key, affected_models, potential_savings::numeric
					  FROM costopt.savings_opportunities WHERE organization_id = 'tap-rc'$$,
				  $$VALUES ('duplicate_requests', '*', '[]'::jsonb, 45.0)$$,
				  'opportunities: response_caching -> duplicate_requests, one for the organisation');
SELECT pg_temp.detect('tap-ew');
SELECT pg_temp.detect('tap-pc');
SELECT results_eq($$SELECT organization_id, opportunity_type, opportunity_key, potential_savings::numeric
					  FROM costopt.savings_opportunities WHERE organization_id IN ('tap-ew', 'tap-pc') ORDER BY 1$$,
				  $$VALUES ('tap-ew', 'high_error_rate', 'tap-k', 33.0), ('tap-pc', 'low_cache_hit_rate', 'tap-bb', 2.79)$$,
				  'opportunities: error_waste -> high_error_rate, prompt_caching -> low_cache_hit_rate');
SELECT is(pg_temp.detect('tap-rl'), 0::bigint, 'opportunities: rate limits are not rolled up');
SELECT is(pg_temp.sqlstate_of($$SELECT costopt_detect_opportunities('tap-po', 10, '2025-03-01')$$), 'no error',
		  'opportunities: an organisation with a prompt_optimization finding can be analysed');
SELECT is((SELECT count(*)::integer FROM costopt.savings_opportunities WHERE organization_id = 'tap-po'), 0,
		  'opportunities: prompt_optimization findings are not rolled up');

-- workflow
SELECT results_eq($$SELECT o.status, o.assigned_to FROM costopt_update_opportunity($$ || :op_bb || $$, 'Investigating', assigned_to => 'dana') o$$,
				  $$VALUES ('investigating', 'dana')$$, 'open -> investigating, assigned');
SELECT results_eq($$SELECT o.status, o.assigned_to FROM costopt_update_opportunity($$ || :op_bb || $$, 'planned') o$$,
				  $$VALUES ('planned', 'dana')$$, 'investigating -> planned, still assigned');
SET LOCAL costopt.recommendation_min_savings = 1000;
SELECT pg_temp.detect('tap-bp');
RESET costopt.recommendation_min_savings;
SELECT is((SELECT status FROM costopt.savings_opportunities WHERE id = :op_bb), 'planned',
		  'a planned opportunity no longer found does not expire');
SELECT is(pg_temp.sqlstate_of(format('SELECT costopt_verify_opportunity(%s, 1)', :op_bb)), '55000',
		  'only an implemented opportunity can be verified');
SELECT results_eq($$SELECT o.status, o.resolved_at FROM costopt_update_opportunity($$ || :op_bb || $$, 'implemented') o$$,
				  $$VALUES ('implemented', now())$$, 'planned -> implemented, resolved');
SELECT is(pg_temp.sqlstate_of(format('SELECT costopt_verify_opportunity(%s, NULL)', :op_bb)), '22023', 'verify needs a saving');
SELECT results_eq($$SELECT o.verified, o.actual_savings::numeric, o.verified_at, o.verified_by
					  FROM costopt_verify_opportunity($$ || :op_bb || $$, 2.5, 'eve') o$$,
				  $$VALUES (true, 2.5, now(), 'eve')$$, 'verify records the achieved saving');
SELECT is(pg_temp.sqlstate_of(format($$SELECT costopt_update_opportunity(%s, 'open')$$, :op_bb)), '55000',
		  'implemented is final');
SELECT pg_temp.detect('tap-bp');
SELECT results_eq($$SELECT status, count(*) FROM costopt.savings_opportunities
					 WHERE organization_id = 'tap-bp' AND opportunity_key = 'tap-bb' GROUP BY status ORDER BY status$$,
				  $$VALUES ('implemented', 1::bigint), ('open', 1::bigint)$$,
				  'after implementation the same waste makes a new opportunity');
SELECT o.id AS op_new FROM costopt.savings_opportunities o
 WHERE organization_id = 'tap-bp' AND opportunity_key = 'tap-bb' AND status = 'open' \gset
SELECT results_eq(format($$VALUES (pg_temp.sqlstate_of('SELECT costopt_update_opportunity(%1$s, $q$implemented$q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_update_opportunity(%1$s, $q$dismissed$q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_update_opportunity(%1$s, $q$bogus$q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_update_opportunity(-1, $q$planned$q$)')),
								  (pg_temp.sqlstate_of('SELECT costopt_verify_opportunity(-1, 1)')),
								  (pg_temp.sqlstate_of('UPDATE costopt.savings_opportunities SET status = $q$dismissed$q$ WHERE id = %1$s'))$$,
						 :op_new),
				  $$VALUES ('55000'), ('22023'), ('22023'), ('42704'), ('42704'), ('23514')$$,
				  'opportunity errors: open -> implemented, dismiss without notes, unknown status, unknown ids, direct dismiss without notes');
SELECT results_eq($$SELECT o.status, o.resolution_notes, o.resolved_at FROM costopt_update_opportunity($$ || :op_new || $$, 'dismissed', 'not worth it') o$$,
				  $$VALUES ('dismissed', 'not worth it', now())$$, 'dismiss with notes');

-------------------------------------------------------------------------------
-- costopt_model_alternatives (prices in force now: tap-mid2 costs 2/6)
-------------------------------------------------------------------------------
-- its rows, or none when it fails (so a failure fails these tests only)
CREATE FUNCTION pg_temp.alternatives(m text, q numeric DEFAULT NULL, p text DEFAULT NULL)
RETURNS TABLE (provider text, model_name text, model_tier text, quality_score numeric,
			   quality_change numeric, context_window integer, input_price numeric,
			   output_price numeric, cost_per_million numeric, relative_cost numeric, cheaper boolean)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT * FROM costopt_model_alternatives(m, q, p);
EXCEPTION WHEN OTHERS THEN
	RETURN;
END;
$$;
SELECT results_eq($$SELECT model_name FROM pg_temp.alternatives('tap-big')$$,
				  $$VALUES ('tap-mid2'), ('tap-ctx'), ('tap-maxout'), ('tap-lc'), ('tap-mid'), ('tap-edge')$$,
				  'alternatives: active models of the mode with quality >= 0.90 - 0.05, cheapest (3:1 blend) first');
SELECT results_eq($$SELECT provider, quality_score, quality_change, cost_per_million, relative_cost, cheaper
					  FROM pg_temp.alternatives('tap-big') WHERE model_name = 'tap-mid'$$,
				  $$VALUES ('tapai', 0.87, -0.03, 60.0, 0.4, true)$$, 'alternatives: blended price relative to the model');
SELECT results_eq($$SELECT model_name FROM pg_temp.alternatives('tap-big', 0.9)$$,
				  $$VALUES ('tap-mid2'), ('tap-ctx'), ('tap-maxout'), ('tap-lc')$$, 'alternatives: an explicit min_quality');
SET LOCAL costopt.downgrade_quality_margin = 0.1;
SELECT results_eq($$SELECT model_name FROM pg_temp.alternatives('tap-big')$$,
				  $$VALUES ('tap-mid2'), ('tap-ctx'), ('tap-maxout'), ('tap-lc'), ('tap-small'), ('tap-mid'), ('tap-edge')$$,
				  'alternatives: the default floor follows costopt.downgrade_quality_margin');
RESET costopt.downgrade_quality_margin;
SELECT results_eq($$SELECT model_name, relative_cost, cheaper FROM pg_temp.alternatives('tbi-c-low', p => 'tapbi')$$,
				  $$VALUES ('tap-c-big', 10.0, false)$$, 'alternatives: other providers of the same mode, more expensive ones flagged');
SELECT results_eq($$VALUES (pg_temp.sqlstate_of('SELECT costopt_model_alternatives(NULL)')),
						   (pg_temp.sqlstate_of($q$SELECT costopt_model_alternatives('tap-big', 1.5)$q$)),
						   (pg_temp.sqlstate_of($q$SELECT costopt_model_alternatives('tap-nope')$q$))$$,
				  $$VALUES ('22004'), ('22023'), ('42704')$$, 'alternatives: NULL model, min_quality out of range, unknown model');

-------------------------------------------------------------------------------
-- Argument checks
-------------------------------------------------------------------------------
SELECT results_eq($$VALUES (pg_temp.sqlstate_of('SELECT costopt_generate_recommendations(NULL)')),
						   (pg_temp.sqlstate_of($q$SELECT costopt_generate_recommendations('x', 0)$q$)),
						   (pg_temp.sqlstate_of($q$SELECT costopt_generate_recommendations('x', 367)$q$)),
						   (pg_temp.sqlstate_of($q$SELECT costopt_generate_recommendations('x', 30, 'infinity')$q$)),
						   (pg_temp.sqlstate_of($q$SELECT costopt_detect_opportunities('x', -1)$q$))$$,
				  $$VALUES ('22004'), ('22023'), ('22023'), ('22023'), ('22023')$$,
				  'analysis arguments: organisation required, days 1-366, finite as_of');

-------------------------------------------------------------------------------
-- Scheduled jobs
-------------------------------------------------------------------------------
-- finished rows untouched for 180 days are archived / removed
-- (written directly: the transition trigger stamps updated_at on every UPDATE)
SELECT pg_temp.rec('tap-job', 'rejected', reason => 'old', upd => now() - interval '181 days') AS old_rej \gset
SELECT pg_temp.rec('tap-job', 'accepted', upd => now() - interval '181 days') AS old_pend \gset
INSERT INTO costopt.savings_opportunities (organization_id, opportunity_type, opportunity_key, title, description,
		affected_period, current_monthly_cost, potential_savings, savings_percentage, detection_confidence,
		status, resolution_notes, expires_at, updated_at)
VALUES ('tap-job', 'high_error_rate', 'old', 't', 'd', '{}', 1, 1, 100, 0.5, 'expired', 'gone', now(), now() - interval '181 days'),
	   ('tap-job', 'high_error_rate', 'old', 't', 'd', '{}', 1, 1, 100, 0.5, 'implemented', NULL, now(), now() - interval '181 days');
-- tap-job repeats a request yesterday; its deltas make it active
SELECT pg_temp.call('tap-job', now() - interval '1 day', 'tap-unit', 50, 0, hash => 'j', n => 2);
CALL pg_temp.flush_deltas();
SELECT costopt.recommendations_job() AS job_recs \gset
SELECT is(:job_recs::bigint,
		  (SELECT count(*) FROM costopt.cost_recommendations r
			WHERE r.status IN ('pending', 'accepted')
			  AND r.organization_id IN (SELECT costopt.active_organizations(now() - interval '30 days'))),
		  'recommendations_job returns the open recommendations of the active organisations');
SELECT results_eq($$SELECT id, status FROM costopt.cost_recommendations WHERE organization_id = 'tap-job' ORDER BY id$$,
				  format($$VALUES (%s::bigint, 'archived'), (%s, 'accepted'), ((SELECT max(id) FROM costopt.cost_recommendations), 'pending')$$,
						 :old_rej, :old_pend),
				  'recommendations_job: the active organisation is analysed, finished rows older than 180 days archived');
SELECT costopt.savings_detection_job() AS job_ops \gset
SELECT is(:job_ops::bigint,
		  (SELECT count(*) FROM costopt.savings_opportunities s
			WHERE s.status IN ('open', 'investigating', 'planned')
			  AND s.organization_id IN (SELECT costopt.active_organizations(now() - interval '30 days'))),
		  'savings_detection_job returns the open opportunities of the active organisations');
SELECT results_eq($$SELECT opportunity_key, status FROM costopt.savings_opportunities WHERE organization_id = 'tap-job' ORDER BY 1, 2$$,
				  $$VALUES ('*', 'open'), ('old', 'implemented')$$,
				  'savings_detection_job: the organisation''s duplicates found, old dismissed/expired rows removed');

SELECT * FROM finish();
ROLLBACK;
