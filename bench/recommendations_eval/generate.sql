-- bench/recommendations_eval/generate.sql: 30 days of calls of two
-- organisations, one clean ("eval-control") and one with planted waste of
-- known size ("eval-waste"), and the truth about the waste (see README.md).
--
--	 psql -v as_of='2026-11-01 00:00+00' -v seed=0.20261101 -f generate.sql
--
-- Everything is drawn with random() after setseed(:seed), in one backend and
-- without parallel plans, so a rerun in a new database gives the same rows.
-- The calls are planned in bench.calls (one row per call, with what was
-- planted in it), then inserted into costopt.api_usage_logs with ids taken
-- from its identity sequence, so the costing trigger prices them and
-- bench.calls.id = api_usage_logs.id.  The truth lives only in schema
-- "bench": nothing in the logged rows (tags included) says what was planted.
--
-- Objects:
--	 bench.params		as_of, the window [win_from, as_of), the rule settings
--	 bench.plan			one row per (organisation, project): model, volume,
--						token ranges, what is planted
--	 bench.calls		one row per call, planted category and extra tokens
--	 bench.truth		one row per planted call: category, logged id, its
--						contribution to the waste (USD, in the window)
--	 bench.expected		per organisation and category: the planted waste
--	 bench.ref_*()		the detection rules of the brief, written
--						independently of the recommender (used by check.sql
--						for the "by rule" column and here for the self-check)

\set ON_ERROR_STOP on
\if :{?as_of}
\else
\set as_of '2026-11-01 00:00+00'
\endif
\if :{?seed}
\else
\set seed 0.20261101
\endif

SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
SET client_min_messages = warning;

CREATE SCHEMA bench;

-- The window the recommender is asked about, and the settings of the rules
-- (the documented defaults; check.sql runs the recommender with them).
CREATE TABLE bench.params AS
SELECT :'as_of'::timestamptz AS as_of,
	   30 AS days,
	   :'as_of'::timestamptz - interval '30 days' AS win_from,
	   0.05::numeric AS downgrade_quality_margin,
	   interval '1 hour' AS response_cache_window,
	   2.0::numeric AS prompt_bloat_factor,
	   1.00::numeric AS min_savings;

-------------------------------------------------------------------------------
-- Traffic plan
-------------------------------------------------------------------------------

-- One row per stream of calls: an organisation's project (users
-- <o>-<project>-u1..uN) over a span of time relative to as_of (by default
-- the window).  Token counts are drawn uniformly from [lo, hi]; extra_* is
-- the planted prompt padding; error_rate the share of failed calls;
-- replay_share the share of successful calls sent again 1-20 minutes later
-- with the same request.  Every in-window stream is google/gemini-1.5-flash
-- except the planted overuse (openai/gpt-4): in the seed catalog it is the
-- only chat model with no cheaper active chat model within 0.05 quality for
-- any request shape (README.md, "Why gemini-1.5-flash").
--
-- Streams with planted = 'decoy' lie outside the window, in the two days
-- before it and the two days from as_of on (the first call of each at the
-- start of its span, so exactly at as_of for the later ones): waste of
-- every kind that the recommender must not see.
CREATE TABLE bench.plan (
	ord				integer PRIMARY KEY,
	org				text NOT NULL,
	project			text NOT NULL,
	operation		text NOT NULL,
	provider		text NOT NULL,
	model			text NOT NULL,
	calls			integer NOT NULL,
	users			integer NOT NULL,
	in_lo			integer NOT NULL,
	in_hi			integer NOT NULL,
	out_lo			integer NOT NULL,
	out_hi			integer NOT NULL,
	extra_lo		integer NOT NULL DEFAULT 0,
	extra_hi		integer NOT NULL DEFAULT 0,
	error_rate		float8 NOT NULL DEFAULT 0,
	replay_share	float8 NOT NULL DEFAULT 0,
	planted			text,
	span_from		interval NOT NULL DEFAULT '-30 days',	-- relative to as_of
	span_to			interval NOT NULL DEFAULT '0'
);

INSERT INTO bench.plan (ord, org, project, operation, provider, model, calls, users,
						in_lo, in_hi, out_lo, out_hi, extra_lo, extra_hi,
						error_rate, replay_share, planted)
VALUES
	-- clean: chat on gemini-1.5-flash, prompts 200-1000 tokens everywhere;
	-- every user sends about 5.6 calls an hour (4.2-14 in eval-waste)
	(1,  'eval-control', 'assistant',      'chat', 'google', 'gemini-1.5-flash', 16000, 4,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	(2,  'eval-control', 'search',         'chat', 'google', 'gemini-1.5-flash', 12000, 3,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	(3,  'eval-control', 'internal-tools', 'chat', 'google', 'gemini-1.5-flash',  8000, 2,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	(4,  'eval-control', 'onboarding',     'chat', 'google', 'gemini-1.5-flash',  4000, 1,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	-- the same clean traffic, 80,000 calls, of which "assistant" is replayed
	(11, 'eval-waste',   'assistant',      'chat', 'google', 'gemini-1.5-flash', 60000, 6,
	 200, 1000, 600, 1500, 0, 0, 0, 0.15, 'duplicates'),
	(12, 'eval-waste',   'search',         'chat', 'google', 'gemini-1.5-flash', 12000, 3,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	(13, 'eval-waste',   'internal-tools', 'chat', 'google', 'gemini-1.5-flash',  8000, 2,
	 200, 1000, 600, 1500, 0, 0, 0, 0, NULL),
	-- (b) tiny prompts on gpt-4
	(14, 'eval-waste',   'support-bot',    'chat', 'openai', 'gpt-4',             6000, 2,
	 100, 300, 20, 80, 0, 0, 0, 0, 'model_overuse'),
	-- (c) long-document summaries, 8 % failing; "kb" is their clean peer,
	-- so that the prompt size of "docs" has a norm to be compared with
	(15, 'eval-waste',   'docs',           'summarize', 'google', 'gemini-1.5-flash', 10000, 3,
	 40000, 100000, 200, 800, 0, 0, 0.08, 0, 'errors'),
	(16, 'eval-waste',   'kb',             'summarize', 'google', 'gemini-1.5-flash',  3000, 1,
	 40000, 100000, 200, 800, 0, 0, 0, 0, NULL),
	-- (d) normal chat prompts plus 3,000-5,000 tokens of padding
	(17, 'eval-waste',   'reports',        'chat', 'google', 'gemini-1.5-flash', 15000, 3,
	 200, 1000, 600, 1500, 3000, 5000, 0, 0, 'bloated_prompts');

-- Decoys, the same for both organisations, before and after the window:
-- gpt-4 support traffic with 20 % failures and 30 % replays (model
-- downgrade, errors, duplicates), an hour of gpt-4 calls from user
-- <o>-assistant-u1 right before the window and right from as_of (a spike of
-- a user active in the window) and bloated chat prompts (prompt
-- optimisation).
INSERT INTO bench.plan (ord, org, project, operation, provider, model, calls, users,
						in_lo, in_hi, out_lo, out_hi, error_rate, replay_share, planted,
						span_from, span_to)
SELECT o.base + d.ord, o.org, d.project, 'chat', d.provider, d.model, d.calls, d.users,
	   d.in_lo, d.in_hi, d.out_lo, d.out_hi, d.error_rate, d.replay_share, 'decoy',
	   d.span_from, d.span_to
  FROM (VALUES (100, 'eval-control'), (200, 'eval-waste')) o(base, org),
	   (VALUES
		(1, 'legacy-bot',     'openai', 'gpt-4',            1000, 2, 100,  300,  20,   80, 0.2, 0.3,
		 interval '-32 days', interval '-30 days -1 hour'),
		(2, 'legacy-bot',     'openai', 'gpt-4',            1000, 2, 100,  300,  20,   80, 0.2, 0.3,
		 interval '0', interval '2 days'),
		(3, 'assistant',      'openai', 'gpt-4',             400, 1, 100,  300,  20,   80, 0,   0,
		 interval '-30 days -1 hour', interval '-30 days'),
		(4, 'assistant',      'openai', 'gpt-4',             400, 1, 100,  300,  20,   80, 0,   0,
		 interval '0', interval '1 hour'),
		(5, 'legacy-reports', 'google', 'gemini-1.5-flash', 3000, 1, 4000, 6000, 600, 1500, 0,   0,
		 interval '-32 days', interval '-30 days'),
		(6, 'legacy-reports', 'google', 'gemini-1.5-flash', 3000, 1, 4000, 6000, 600, 1500, 0,   0,
		 interval '0', interval '2 days'))
	   d(ord, project, provider, model, calls, users, in_lo, in_hi, out_lo, out_hi, error_rate,
		 replay_share, span_from, span_to);

-------------------------------------------------------------------------------
-- Calls
-------------------------------------------------------------------------------

SELECT setseed(:seed) \g /dev/null

-- Calls of a stream are spread evenly over its span (call k in the k-th
-- slot of calls / span, at a random point of its slot; call 0 at the start)
-- and dealt to the stream's users in turn, so every user sends the same
-- number of calls every hour: steady traffic without spikes.  Failed calls
-- bill their prompt and at most 10 output tokens.
CREATE TABLE bench.calls AS
SELECT nextval(pg_get_serial_sequence('costopt.api_usage_logs', 'id')) AS id,
	   d.*,
	   d.base_input + d.extra_tokens AS input_tokens,
	   CASE WHEN d.failed THEN d.out_small ELSE d.out_full END AS output_tokens,
	   NULL::bigint AS replay_of
  FROM (SELECT p.org, p.project, p.operation, p.provider, p.model, p.planted, p.ord, k,
			   x.as_of + p.span_from
				 + (k + CASE WHEN k = 0 THEN 0 ELSE random() END)
				   * ((p.span_to - p.span_from) / p.calls) AS created_at,
			   format('%s-%s-u%s', CASE p.org WHEN 'eval-control' THEN 'c' ELSE 'w' END,
					  p.project, k % p.users + 1) AS user_id,
			   p.in_lo + floor(random() * (p.in_hi - p.in_lo + 1))::integer AS base_input,
			   CASE WHEN p.extra_hi > 0
					THEN p.extra_lo + floor(random() * (p.extra_hi - p.extra_lo + 1))::integer
					ELSE 0 END AS extra_tokens,
			   p.out_lo + floor(random() * (p.out_hi - p.out_lo + 1))::integer AS out_full,
			   floor(random() * 11)::integer AS out_small,
			   random() < p.error_rate AS failed,
			   random() < p.replay_share AS replayed,
			   interval '1 minute' + random() * interval '19 minutes' AS replay_delay,
			   md5(format('%s:%s:%s:%s', p.org, p.project, p.ord, k)) AS request_hash
		  FROM bench.plan p
		 CROSS JOIN bench.params x
		 CROSS JOIN LATERAL generate_series(0, p.calls - 1) k
		 ORDER BY p.ord, k) d;

-- (a) the replays: the same request (hash, model, tokens, user) 1-20
-- minutes after a successful original, kept when on the same side of the
-- window's bounds as the original.
INSERT INTO bench.calls
SELECT nextval(pg_get_serial_sequence('costopt.api_usage_logs', 'id')),
	   c.org, c.project, c.operation, c.provider, c.model,
	   CASE WHEN c.planted = 'decoy' THEN 'decoy' ELSE 'duplicates' END, c.ord, c.k,
	   c.created_at + c.replay_delay, c.user_id, c.base_input, c.extra_tokens,
	   c.out_full, c.out_small, false, false, c.replay_delay, c.request_hash,
	   c.input_tokens, c.output_tokens, c.id
  FROM bench.calls c, bench.params x
 WHERE c.replayed AND NOT c.failed
   AND (c.created_at >= x.win_from AND c.created_at < x.as_of)
	   = (c.created_at + c.replay_delay >= x.win_from AND c.created_at + c.replay_delay < x.as_of)
 ORDER BY c.id;

-- What is planted where: the replays are the duplicates; in "assistant"
-- the originals are clean; in "docs" only the failed calls are.
UPDATE bench.calls SET planted = NULL
 WHERE planted = 'duplicates' AND replay_of IS NULL;
UPDATE bench.calls SET planted = NULL
 WHERE planted = 'errors' AND NOT failed;

CREATE TABLE bench.timings (step text, calls bigint, ms numeric);
SELECT clock_timestamp() AS t0 \gset
INSERT INTO costopt.api_usage_logs
	(id, created_at, organization_id, user_id, project, tags, provider, model, operation,
	 is_batch, input_tokens, output_tokens, latency_ms, status, error_message, request_hash)
SELECT id, created_at, org, user_id, project,
	   jsonb_build_object('env', 'prod', 'team', CASE WHEN project IN ('docs', 'kb', 'reports')
													   THEN 'content' ELSE 'product' END),
	   provider, model, operation, false, input_tokens, output_tokens,
	   (150 + input_tokens / 200 + output_tokens * 12)::integer,
	   CASE WHEN failed THEN 'error' ELSE 'success' END,
	   CASE WHEN failed THEN 'upstream error 500' END,
	   request_hash
  FROM bench.calls
 ORDER BY created_at, id;
INSERT INTO bench.timings
SELECT 'insert into costopt.api_usage_logs (costing trigger)', count(*),
	   round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000)
  FROM bench.calls;
ANALYZE costopt.api_usage_logs;

-------------------------------------------------------------------------------
-- Truth
-------------------------------------------------------------------------------

-- One row per planted call.  amount is the waste the call carries, in USD:
--	 duplicates			the replay's total_cost
--	 errors				the failed call's total_cost
--	 bloated_prompts	extra_tokens x input_price / 1e6 of the price version
--						that priced the call (no cache, no batch, far below
--						any long-context threshold: the checks below make sure)
--	 model_overuse		total_cost minus the call's cost on the best adequate
--						alternative (set below)
CREATE TABLE bench.truth AS
SELECT c.org, c.planted AS category, c.id AS log_id, l.created_at, c.extra_tokens,
	   CASE c.planted
			WHEN 'duplicates' THEN l.total_cost
			WHEN 'errors' THEN l.total_cost
			WHEN 'bloated_prompts' THEN c.extra_tokens * mp.input_price / 1000000
	   END AS amount
  FROM bench.calls c
  JOIN costopt.api_usage_logs l ON l.id = c.id AND l.created_at = c.created_at
  JOIN costopt.model_pricing mp ON mp.id = l.pricing_id
 WHERE c.planted <> 'decoy';

-- (b) The overuse: actual cost of the support-bot calls minus their cost on
-- the best adequate alternative, candidates chosen as the rule says (active,
-- same mode, quality >= gpt-4's - margin, context window, output limit, no
-- long-context threshold below the largest prompt), each priced call by call
-- with costopt_request_cost().
CREATE TABLE bench.overuse_candidates AS
WITH seg AS (
	SELECT max(l.input_tokens) AS max_in, max(l.output_tokens) AS max_out,
		   sum(l.total_cost) AS actual, count(*) AS calls, min(l.pricing_id) AS pricing_id
	  FROM bench.truth t
	  JOIN costopt.api_usage_logs l ON l.id = t.log_id AND l.created_at = t.created_at
	 WHERE t.category = 'model_overuse'
), cur AS (
	SELECT mp.* FROM costopt.model_pricing mp, seg WHERE mp.id = seg.pricing_id
), catalog AS (
	SELECT DISTINCT ON (mp.provider, mp.model_name) mp.*
	  FROM costopt.model_pricing mp, bench.params x
	 WHERE mp.effective_from <= x.as_of
	 ORDER BY mp.provider, mp.model_name, mp.effective_from DESC
)
SELECT c.provider, c.model_name, c.quality_score, seg.calls, seg.actual,
	   (SELECT sum(rc.total_cost)
		  FROM bench.truth t
		  JOIN costopt.api_usage_logs l ON l.id = t.log_id AND l.created_at = t.created_at,
			   costopt_request_cost(c.model_name, l.input_tokens, l.output_tokens,
									at => l.created_at, provider => c.provider) rc
		 WHERE t.category = 'model_overuse') AS candidate_cost
  FROM catalog c, cur, seg, bench.params x
 WHERE (c.effective_to IS NULL OR c.effective_to > x.as_of)
   AND c.is_active AND c.mode = cur.mode
   AND (c.provider, c.model_name) <> (cur.provider, cur.model_name)
   AND c.quality_score >= cur.quality_score - x.downgrade_quality_margin
   AND coalesce(c.context_window >= seg.max_in, true)
   AND coalesce(c.max_output_tokens >= seg.max_out, true)
   AND coalesce(c.long_context_threshold >= seg.max_in, true);

-- The best alternative is the cheapest over all support-bot calls; each call
-- carries its own part of the saving, so that the truth of any shorter
-- window is a sum over bench.truth too.
UPDATE bench.truth t
   SET amount = u.amount
  FROM (SELECT l.id, l.total_cost - rc.total_cost AS amount
		  FROM bench.truth t2
		  JOIN costopt.api_usage_logs l ON l.id = t2.log_id AND l.created_at = t2.created_at,
			   (SELECT provider, model_name FROM bench.overuse_candidates
				 ORDER BY candidate_cost, provider, model_name LIMIT 1) b,
			   costopt_request_cost(b.model_name, l.input_tokens, l.output_tokens,
									at => l.created_at, provider => b.provider) rc
		 WHERE t2.category = 'model_overuse') u
 WHERE t.category = 'model_overuse' AND t.log_id = u.id;

-- Planted waste per organisation and category, in the window (= per month:
-- the window is 30 days), with the recommendation type expected to find it
-- and a word its scope should name.
CREATE TABLE bench.expected (
	org				text NOT NULL,
	category		text NOT NULL,
	expected_type	text NOT NULL,
	marker			text NOT NULL,
	planted_calls	bigint NOT NULL,
	truth			numeric NOT NULL,
	detail			text,
	PRIMARY KEY (org, category)
);
INSERT INTO bench.expected
SELECT 'eval-waste', 'duplicates', 'response_caching', 'assistant', count(*), sum(amount),
	   'replays 1-20 min after the original, project assistant'
  FROM bench.truth WHERE category = 'duplicates'
UNION ALL
SELECT 'eval-waste', 'errors', 'error_waste', 'gemini-1.5-flash', count(*), sum(amount),
	   'failed summarize calls, project docs'
  FROM bench.truth WHERE category = 'errors'
UNION ALL
SELECT 'eval-waste', 'bloated_prompts', 'prompt_optimization', 'reports', count(*), sum(amount),
	   format('%s extra prompt tokens at the input price, project reports', sum(extra_tokens))
  FROM bench.truth WHERE category = 'bloated_prompts'
UNION ALL
SELECT 'eval-waste', 'model_overuse', 'model_downgrade', 'support-bot', b.calls,
	   (SELECT sum(amount) FROM bench.truth WHERE category = 'model_overuse'),
	   format('gpt-4 $%s -> %s $%s, project support-bot', round(b.actual, 4), b.model_name,
			  round(b.candidate_cost, 4))
  FROM (SELECT * FROM bench.overuse_candidates ORDER BY candidate_cost, provider, model_name
		 LIMIT 1) b;

-------------------------------------------------------------------------------
-- The rules, written from the brief (reference implementations)
-------------------------------------------------------------------------------

-- Calls of an organisation in [from, to).
CREATE FUNCTION bench.window_calls(org text, from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF costopt.api_usage_logs
LANGUAGE sql STABLE AS $$
	SELECT * FROM costopt.api_usage_logs
	 WHERE organization_id = org AND created_at >= from_ts AND created_at < to_ts
$$;

-- response_caching: repeats of (request_hash, model) at most cache_window
-- after the organisation's previous identical request; per project.
CREATE FUNCTION bench.ref_response_caching(org text, from_ts timestamptz, to_ts timestamptz,
										   cache_window interval)
RETURNS TABLE (project text, repeats bigint, savings numeric)
LANGUAGE sql STABLE AS $$
	SELECT r.project, count(*), sum(r.total_cost)
	  FROM (SELECT c.project, c.total_cost, c.created_at,
				   lag(c.created_at) OVER (PARTITION BY c.request_hash, c.model
										   ORDER BY c.created_at, c.id) AS prev_at
			  FROM bench.window_calls(org, from_ts, to_ts) c
			 WHERE c.request_hash IS NOT NULL) r
	 WHERE r.prev_at >= r.created_at - cache_window
	 GROUP BY r.project
$$;

-- error_waste: spend on calls with status <> 'success' per (provider,
-- model), with its share of the model's and of the organisation's spend.
CREATE FUNCTION bench.ref_error_waste(org text, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (provider text, model text, failed_calls bigint, savings numeric,
			   share_of_model numeric, share_of_org numeric)
LANGUAGE sql STABLE AS $$
	SELECT c.provider, c.model, count(*) FILTER (WHERE c.status <> 'success'),
		   coalesce(sum(c.total_cost) FILTER (WHERE c.status <> 'success'), 0),
		   round(coalesce(sum(c.total_cost) FILTER (WHERE c.status <> 'success'), 0)
				 / nullif(sum(c.total_cost), 0), 4),
		   round(coalesce(sum(c.total_cost) FILTER (WHERE c.status <> 'success'), 0)
				 / nullif(sum(sum(c.total_cost)) OVER (), 0), 4)
	  FROM bench.window_calls(org, from_ts, to_ts) c
	 GROUP BY c.provider, c.model
$$;

-- prompt_optimization: per (project, operation), the norm is the median
-- prompt of the same operation over the organisation's other projects; a
-- project whose median exceeds factor x norm wastes, per call,
-- max(0, input_tokens - norm) prompt tokens at the call's input cost per
-- prompt token.  Every (project, operation) is listed, flagged or not.
CREATE FUNCTION bench.ref_prompt_optimization(org text, from_ts timestamptz, to_ts timestamptz,
											  factor numeric)
RETURNS TABLE (project text, operation text, calls bigint, median_input numeric,
			   norm numeric, flagged boolean, savings numeric)
LANGUAGE sql STABLE AS $$
	WITH c AS (SELECT * FROM bench.window_calls(org, from_ts, to_ts)),
	seg AS (
		SELECT c.project, c.operation, count(*) AS calls,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY c.input_tokens)::numeric AS median_input
		  FROM c GROUP BY c.project, c.operation
	), normed AS (
		SELECT s.*,
			   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY o.input_tokens)::numeric
				  FROM c o
				 WHERE o.operation = s.operation AND o.project IS DISTINCT FROM s.project) AS norm
		  FROM seg s
	)
	SELECT n.project, n.operation, n.calls, n.median_input, n.norm,
		   coalesce(n.median_input > factor * n.norm, false),
		   CASE WHEN n.median_input > factor * n.norm THEN
				(SELECT sum(greatest(0, c.input_tokens - n.norm) * c.input_cost / c.input_tokens)
				   FROM c
				  WHERE c.project IS NOT DISTINCT FROM n.project AND c.operation = n.operation
					AND c.input_tokens > 0)
		   ELSE 0 END
	  FROM normed n
$$;

-- model_downgrade: per (provider, model, project, operation) segment, the
-- savings on the best adequate candidate (see bench.overuse_candidates),
-- each call priced on the candidate with costopt.price_call (the function
-- behind costopt_request_cost; it keeps batch calls at batch prices).
-- Every segment is listed, with savings <= 0 when no candidate is cheaper.
CREATE FUNCTION bench.ref_model_downgrade(org text, from_ts timestamptz, to_ts timestamptz,
										  margin numeric, at timestamptz)
RETURNS TABLE (provider text, model text, project text, operation text, calls bigint,
			   actual numeric, best_candidate text, candidate_cost numeric, savings numeric)
LANGUAGE sql STABLE AS $$
	WITH c AS (SELECT * FROM bench.window_calls(org, from_ts, to_ts) WHERE pricing_id IS NOT NULL),
	seg AS (
		SELECT c.provider, c.model, c.project, c.operation, count(*) AS calls,
			   sum(c.total_cost) AS actual, max(c.input_tokens) AS max_in,
			   max(c.output_tokens) AS max_out, max(c.pricing_id) AS pricing_id
		  FROM c GROUP BY 1, 2, 3, 4
	), catalog AS (
		SELECT DISTINCT ON (mp.provider, mp.model_name) mp.*
		  FROM costopt.model_pricing mp
		 WHERE mp.effective_from <= at
		 ORDER BY mp.provider, mp.model_name, mp.effective_from DESC
	), cand AS (
		SELECT s.provider, s.model, s.project, s.operation, k.provider AS cprov, k.model_name AS cmodel,
			   (SELECT sum(pc.total_cost)
				  FROM c, costopt.price_call(k.provider, k.model_name, c.created_at, c.input_tokens,
											 c.output_tokens, c.cached_input_tokens,
											 c.cache_write_tokens, c.is_batch) pc
				 WHERE c.provider IS NOT DISTINCT FROM s.provider AND c.model = s.model
				   AND c.project IS NOT DISTINCT FROM s.project AND c.operation = s.operation)
				   AS cost
		  FROM seg s
		  JOIN costopt.model_pricing cur ON cur.id = s.pricing_id
		  JOIN catalog k
			ON (k.effective_to IS NULL OR k.effective_to > at)
		   AND k.is_active AND k.mode = cur.mode
		   AND (k.provider, k.model_name) <> (cur.provider, cur.model_name)
		   AND k.quality_score >= cur.quality_score - margin
		   AND coalesce(k.context_window >= s.max_in, true)
		   AND coalesce(k.max_output_tokens >= s.max_out, true)
		   AND coalesce(k.long_context_threshold >= s.max_in, true)
	)
	SELECT s.provider, s.model, s.project, s.operation, s.calls, s.actual,
		   b.cprov || '/' || b.cmodel, b.cost, s.actual - b.cost
	  FROM seg s
	  LEFT JOIN LATERAL (SELECT * FROM cand
						  WHERE cand.provider IS NOT DISTINCT FROM s.provider AND cand.model = s.model
							AND cand.project IS NOT DISTINCT FROM s.project
							AND cand.operation = s.operation
						  ORDER BY cand.cost, cand.cprov, cand.cmodel LIMIT 1) b ON true
$$;

-- By-rule value of each category per organisation for the calls of
-- [from_ts, to_ts), per month (x 30 days / the span); only what meets the
-- rule's conditions and the minimum saving counts.
CREATE FUNCTION bench.rule_values(from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (days numeric, org text, category text, expected_type text, scope text,
			   rule_value numeric)
LANGUAGE sql STABLE AS $$
	WITH o(org) AS (VALUES ('eval-control'), ('eval-waste')),
	w AS (SELECT x.*, extract(epoch FROM to_ts - from_ts) / 86400 AS span_days,
				 2592000 / extract(epoch FROM to_ts - from_ts) AS month_factor
			FROM bench.params x),
	found AS (
		SELECT o.org, 'duplicates' AS category, 'response_caching' AS expected_type,
			   r.project AS scope, r.savings * w.month_factor AS monthly
		  FROM o, w, bench.ref_response_caching(o.org, from_ts, to_ts, w.response_cache_window) r
		UNION ALL
		SELECT o.org, 'errors', 'error_waste', r.provider || '/' || r.model, r.savings * w.month_factor
		  FROM o, w, bench.ref_error_waste(o.org, from_ts, to_ts) r
		 WHERE r.share_of_model >= 0.01
		UNION ALL
		SELECT o.org, 'bloated_prompts', 'prompt_optimization', r.project || '/' || r.operation,
			   r.savings * w.month_factor
		  FROM o, w, bench.ref_prompt_optimization(o.org, from_ts, to_ts, w.prompt_bloat_factor) r
		 WHERE r.flagged
		UNION ALL
		SELECT o.org, 'model_overuse', 'model_downgrade',
			   format('%s/%s/%s/%s -> %s', r.provider, r.model, r.project, r.operation, r.best_candidate),
			   r.savings * w.month_factor
		  FROM o, w, bench.ref_model_downgrade(o.org, from_ts, to_ts, w.downgrade_quality_margin, to_ts) r
	)
	SELECT w.span_days, f.org, f.category, f.expected_type, f.scope, f.monthly
	  FROM found f, w
	 WHERE f.monthly >= w.min_savings
$$;

-- The calls of the window (decoys excluded).
CREATE VIEW bench.win AS
SELECT l.* FROM costopt.api_usage_logs l, bench.params x
 WHERE l.created_at >= x.win_from AND l.created_at < x.as_of;

-------------------------------------------------------------------------------
-- Self-check of the data: what the traffic must be for the eval to mean
-- anything.  Fails (ERROR) when a property does not hold.
-------------------------------------------------------------------------------

-- computed once: the data do not change after this script
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE bench.rules AS SELECT r.* FROM bench.params x, bench.rule_values(x.win_from, x.as_of) r;
INSERT INTO bench.timings
SELECT 'reference rules, both organisations (bench.rules)', NULL,
	   round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);
-- what the rules would find if the window leaked: the window and the decoys
-- on both sides
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE bench.leak_rules AS
SELECT r.* FROM bench.params x, bench.rule_values(x.win_from - interval '2 days', x.as_of + interval '2 days') r;
INSERT INTO bench.timings
SELECT 'reference rules over the window and the decoys (bench.leak_rules)', NULL,
	   round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);

CREATE TABLE bench.data_checks (name text, ok boolean, detail text);
INSERT INTO bench.data_checks
SELECT 'every call priced; decoys outside the window, all other calls inside',
	   bool_and(l.cost_status = 'priced'
				AND (c.planted IS NOT DISTINCT FROM 'decoy') <> (l.created_at >= x.win_from AND l.created_at < x.as_of)),
	   format('%s calls in the window (%s at exactly its start), %s decoys (%s at exactly as_of)',
			  count(*) FILTER (WHERE c.planted IS DISTINCT FROM 'decoy'),
			  count(*) FILTER (WHERE l.created_at = x.win_from),
			  count(*) FILTER (WHERE c.planted = 'decoy'), count(*) FILTER (WHERE l.created_at = x.as_of))
  FROM costopt.api_usage_logs l
  JOIN bench.calls c ON c.id = l.id AND c.created_at = l.created_at,
	   bench.params x
UNION ALL
SELECT 'eval-control: chat only, gemini-1.5-flash only, prompts < 1024, all success, no tags the rules read',
	   bool_and(operation = 'chat' AND model = 'gemini-1.5-flash' AND input_tokens < 1024
				AND status = 'success' AND NOT tags ? 'prompt_id' AND NOT tags ? 'interactive'
				AND NOT is_batch),
	   format('%s calls, %s projects, %s users', count(*), count(DISTINCT project), count(DISTINCT user_id))
  FROM bench.win WHERE organization_id = 'eval-control'
UNION ALL
SELECT 'eval-control: unique request_hash',
	   count(*) = count(DISTINCT request_hash), format('%s hashes', count(DISTINCT request_hash))
  FROM bench.win WHERE organization_id = 'eval-control'
UNION ALL
SELECT 'eval-waste: no batch, no prompt_id or interactive tag, no batch operation',
	   bool_and(NOT is_batch AND NOT tags ? 'prompt_id' AND NOT tags ? 'interactive'
				AND operation NOT IN ('batch', 'backfill', 'eval', 'evaluation', 'classification',
									  'extraction', 'labeling', 'embedding')),
	   string_agg(DISTINCT operation, ', ')
  FROM bench.win WHERE organization_id = 'eval-waste'
UNION ALL
SELECT 'eval-waste: repeated hashes are exactly the planted replays, all successful',
	   count(*) FILTER (WHERE n > 1) = (SELECT count(*) FROM bench.truth WHERE category = 'duplicates')
	   AND bool_and(n <= 2) AND coalesce(bool_and(all_ok) FILTER (WHERE n > 1), true),
	   format('%s repeated hashes', count(*) FILTER (WHERE n > 1))
  FROM (SELECT request_hash, count(*) AS n, bool_and(status = 'success') AS all_ok
		  FROM bench.win WHERE organization_id = 'eval-waste'
		 GROUP BY request_hash) h
UNION ALL
SELECT 'eval-waste: failed calls are exactly the planted errors',
	   count(*) = (SELECT count(*) FROM bench.truth WHERE category = 'errors')
	   AND bool_and(project = 'docs' AND model = 'gemini-1.5-flash'),
	   format('%s failed calls', count(*))
  FROM bench.win WHERE organization_id = 'eval-waste' AND status <> 'success'
UNION ALL
-- the bloat truth prices extra tokens at input_price: true only without
-- cache, batch or long-context tier
SELECT 'bloated prompts: input_cost = input_tokens x input_price, below the long-context threshold',
	   bool_and(l.input_cost = l.input_tokens * mp.input_price / 1000000
				AND l.cached_input_tokens = 0 AND l.cache_write_tokens = 0 AND NOT l.is_batch
				AND l.input_tokens <= coalesce(mp.long_context_threshold, l.input_tokens)),
	   format('%s calls, prompts %s-%s', count(*), min(l.input_tokens), max(l.input_tokens))
  FROM bench.truth t
  JOIN costopt.api_usage_logs l ON l.id = t.log_id AND l.created_at = t.created_at
  JOIN costopt.model_pricing mp ON mp.id = l.pricing_id
 WHERE t.category = 'bloated_prompts'
UNION ALL
SELECT 'model overuse: candidates exist and none is gpt-4 itself',
	   count(*) > 0 AND bool_and(model_name <> 'gpt-4'),
	   string_agg(model_name || ' ' || round(candidate_cost, 4), ', ' ORDER BY candidate_cost)
  FROM bench.overuse_candidates
UNION ALL
-- by rule, each planted category is found once, exactly where planted, and
-- nothing else is found in either organisation
SELECT 'rules find nothing in eval-control',
	   count(*) = 0, coalesce(string_agg(category || ' ' || scope || ' ' || round(rule_value, 4), '; '), 'none')
  FROM bench.rules WHERE org = 'eval-control'
UNION ALL
SELECT 'rules find in eval-waste exactly one scope per planted category',
	   count(*) = 4 AND count(DISTINCT category) = 4
	   AND bool_and(EXISTS (SELECT 1 FROM bench.expected e
							 WHERE e.category = r.category AND r.scope LIKE '%' || e.marker || '%')),
	   string_agg(category || ': ' || scope, '; ' ORDER BY category)
  FROM bench.rules r WHERE org = 'eval-waste'
UNION ALL
SELECT 'the decoys matter: over the window plus the decoys, the rules find in eval-control ' ||
	   'all four kinds of waste',
	   count(DISTINCT category) = 4,
	   string_agg(category || ': ' || scope || ' ' || round(rule_value, 2), '; ' ORDER BY category, scope)
  FROM bench.leak_rules WHERE org = 'eval-control'
UNION ALL
-- steadiness: per user, the busiest hour against the median hour, also in
-- robust units ((max - median) / MAD; informational: with 720 hours even
-- pure noise reaches about 4-5 MADs)
SELECT 'steady traffic: per user, max hourly spend <= 2 x median hourly spend',
	   max(ratio) <= 2,
	   format('largest ratio %s (%s); largest (max - median) / MAD %s (%s)',
			  round(max(ratio), 2), (array_agg(user_id ORDER BY ratio DESC))[1],
			  round(max(mads), 1), (array_agg(user_id ORDER BY mads DESC))[1])
  FROM (SELECT h.organization_id, h.user_id, max(h.spend) / m.med AS ratio,
			   (max(h.spend) - m.med) / nullif(percentile_cont(0.5) WITHIN GROUP
												(ORDER BY abs(h.spend - m.med))::numeric, 0) AS mads
		  FROM (SELECT organization_id, user_id, date_trunc('hour', created_at) AS hour,
					   sum(total_cost) AS spend
				  FROM bench.win GROUP BY 1, 2, 3) h
		  JOIN (SELECT organization_id, user_id,
					   (percentile_cont(0.5) WITHIN GROUP (ORDER BY spend))::numeric AS med
				  FROM (SELECT organization_id, user_id, date_trunc('hour', created_at),
							   sum(total_cost) AS spend
						  FROM bench.win GROUP BY 1, 2, 3) h2
				 GROUP BY 1, 2) m USING (organization_id, user_id)
		 GROUP BY h.organization_id, h.user_id, m.med) u;

\pset footer off
\echo
\echo === generated calls in the window
SELECT organization_id AS org, project, operation, provider || '/' || model AS model,
	   count(*) AS calls, count(DISTINCT user_id) AS users,
	   round(avg(input_tokens)) AS avg_in, max(input_tokens) AS max_in,
	   round(avg(output_tokens)) AS avg_out,
	   count(*) FILTER (WHERE status <> 'success') AS failed,
	   round(sum(total_cost), 4) AS cost_usd
  FROM bench.win
 GROUP BY ROLLUP (1, (2, 3, 4))
 ORDER BY 1, 2 NULLS LAST;

\echo === decoys outside the window (per organisation)
SELECT CASE WHEN l.created_at < x.win_from THEN 'before' ELSE 'from as_of' END AS side,
	   l.project, l.provider || '/' || l.model AS model, l.user_id IS NOT DISTINCT FROM
	   CASE l.organization_id WHEN 'eval-control' THEN 'c' ELSE 'w' END || '-assistant-u1' AS spike,
	   count(*) / 2 AS calls, count(*) FILTER (WHERE l.status <> 'success') / 2 AS failed,
	   (count(*) - count(DISTINCT (l.organization_id, l.request_hash))) / 2 AS replays,
	   round(avg(l.input_tokens)) AS avg_in,
	   min(l.created_at) AS first, max(l.created_at) AS last,
	   round(sum(l.total_cost) / 2, 4) AS cost_usd
  FROM costopt.api_usage_logs l, bench.params x
 WHERE l.created_at < x.win_from OR l.created_at >= x.as_of
 GROUP BY 1, 2, 3, 4 ORDER BY 1 DESC, 2;

\echo === planted waste (window = 30 days, so also per month)
SELECT e.org, e.category, e.expected_type, e.planted_calls, round(e.truth, 6) AS truth_usd, e.detail
  FROM bench.expected e ORDER BY e.org, e.expected_type;

\echo === model overuse: candidates for the support-bot calls (rule of the brief)
SELECT provider, model_name, quality_score, round(candidate_cost, 6) AS cost_on_candidate,
	   round(actual - candidate_cost, 6) AS savings
  FROM bench.overuse_candidates ORDER BY candidate_cost;

\echo === timings
SELECT step, calls, ms FROM bench.timings;

\echo === data checks
SELECT CASE WHEN ok THEN 'ok' ELSE 'FAIL' END AS result, name, detail
  FROM bench.data_checks;

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM bench.data_checks WHERE ok IS NOT TRUE) THEN
		RAISE EXCEPTION 'generated data fails its own checks (see "data checks" above)';
	END IF;
END
$$;
