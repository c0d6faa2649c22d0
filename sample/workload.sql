-- costopt sample workload: 60 days of LLM calls from five organisations.
--
-- Token counts follow the real per-request distribution of two production
-- LLM services (conversation and coding assistant): the 5 % quantiles below
-- were computed from the Azure LLM inference trace 2023 (Microsoft Azure,
-- AzurePublicDataset, CC BY 4.0; Patel et al., "Splitwise: Efficient
-- generative LLM inference using phase splitting", ISCA 2024), and values
-- are drawn uniformly between neighbouring quantiles.
--
-- Usage: psql -v rows=100000 -f sample/workload.sql   (rows defaults to 100000)

\set ON_ERROR_STOP on
\if :{?rows}
\else
\set rows 100000
\endif

SELECT setseed(0.20231116) \gset

-- draw from a 21-point quantile table (0 %, 5 %, ..., 100 %)
CREATE FUNCTION pg_temp.draw(q integer[], u double precision)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
	SELECT greatest(1, round(q[i + 1] + (q[least(i + 2, 21)] - q[i + 1]) * (u * 20 - i)))::integer
	  FROM (SELECT least(floor(u * 20)::integer, 20) AS i) s
$$;

CREATE TEMP TABLE sample_orgs (org text, kind text, weight float8, models text[], providers text[],
							   users integer, cache_share float8, batch_share float8);
INSERT INTO sample_orgs VALUES
	-- chat assistant on premium models
	('acme-corp',  'conv', 0.30, '{gpt-4o,gpt-4o,gpt-4o-mini,claude-3-5-sonnet,gpt-4}',
	 '{openai,openai,openai,anthropic,openai}', 40, 0.30, 0.00),
	-- coding assistant with prompt caching
	('globex',     'code', 0.25, '{claude-3-5-sonnet-20241022,claude-3-5-sonnet-20241022,claude-3-haiku-20240307,gpt-4o-2024-08-06}',
	 '{anthropic,anthropic,anthropic,openai}', 25, 0.55, 0.00),
	-- cost-conscious support bot
	('initech',    'conv', 0.20, '{gemini-2.0-flash,gemini-2.0-flash,gpt-4o-mini,claude-3-haiku}',
	 '{google,google,openai,anthropic}', 15, 0.10, 0.00),
	-- legacy models, some batch jobs, one unpriced fine-tune
	('umbrella',   'conv', 0.15, '{gpt-4,gpt-4-turbo,gpt-3.5-turbo,umbrella-ft-v2}',
	 '{openai,openai,openai,openai}', 10, 0.00, 0.25),
	-- research: reasoning model and embeddings
	('hooli',      'code', 0.10, '{o1,text-embedding-3-small,text-embedding-3-large,gemini-2.5-pro}',
	 '{openai,openai,openai,google}', 8, 0.20, 0.10);

-- 5 % quantiles of prompt and completion tokens (see header)
CREATE TEMP TABLE sample_dist (kind text, ctx integer[], gen integer[]);
INSERT INTO sample_dist VALUES
	('conv', '{2,181,207,372,387,396,403,414,703,984,1020,1045,1071,1097,1130,1189,1315,1876,2734,4083,14050}',
			 '{7,41,54,67,77,85,91,96,103,113,129,151,177,217,384,395,400,411,424,451,1000}'),
	('code', '{3,75,147,232,385,578,770,938,1075,1261,1469,1690,1909,2163,2433,2744,3192,3919,5186,7302,7437}',
			 '{6,6,7,7,8,9,9,10,11,12,13,14,16,18,20,24,29,39,55,90,1899}');

WITH draws AS (
	SELECT g, random() AS u_org, random() AS u_model, random() AS u_user, random() AS u_day,
		   random() AS u_hour, random() AS u_ctx, random() AS u_gen, random() AS u_cache,
		   random() AS u_err, random() AS u_dup, random() AS u_batch, random() AS u_lat
	  FROM generate_series(1, :rows) g
), orgs AS (
	SELECT o.*, sum(o.weight) OVER (ORDER BY o.org) - o.weight AS lo, sum(o.weight) OVER (ORDER BY o.org) AS hi
	  FROM sample_orgs o
), calls AS (
	SELECT d.*, o.org, o.kind, o.users, o.cache_share, o.batch_share,
		   1 + floor(d.u_model * array_length(o.models, 1))::integer AS mi, o.models, o.providers
	  FROM draws d JOIN orgs o ON d.u_org >= o.lo AND d.u_org < o.hi
), shaped AS (
	SELECT c.*, pg_temp.draw(s.ctx, c.u_ctx) AS ctx, pg_temp.draw(s.gen, c.u_gen) AS gen,
		   date_trunc('day', now()) - (floor(c.u_day * 60)::integer * interval '1 day')
			 + (7 + 12 * c.u_hour) * interval '1 hour' AS ts
	  FROM calls c JOIN sample_dist s ON s.kind = c.kind
)
INSERT INTO costopt.api_usage_logs
	(created_at, organization_id, user_id, project, tags, provider, model, operation, is_batch,
	 input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
	 latency_ms, status, error_message, request_hash)
SELECT ts,
	   org,
	   org || '-user-' || (1 + floor(u_user * u_user * users)::integer),
	   CASE WHEN u_user < 0.5 THEN 'assistant' WHEN u_user < 0.8 THEN 'search' ELSE 'internal-tools' END,
	   jsonb_build_object('team', CASE WHEN u_user < 0.6 THEN 'product' ELSE 'platform' END,
						  'env', CASE WHEN u_lat < 0.9 THEN 'prod' ELSE 'staging' END),
	   providers[mi],
	   models[mi],
	   CASE WHEN models[mi] LIKE 'text-embedding%' THEN 'embedding' ELSE 'chat' END,
	   u_batch < batch_share,
	   ctx,
	   CASE WHEN models[mi] LIKE 'text-embedding%' OR u_err < 0.02 THEN 0 ELSE gen END,
	   CASE WHEN u_cache < cache_share AND ctx >= 1024 THEN (ctx * 0.75)::integer ELSE 0 END,
	   CASE WHEN providers[mi] = 'anthropic' AND u_cache >= cache_share AND u_cache < cache_share + 0.05
				 AND ctx >= 1024 THEN (ctx * 0.5)::integer ELSE 0 END,
	   CASE WHEN models[mi] = 'o1' AND u_err >= 0.02 THEN (gen * 0.6)::integer ELSE 0 END,
	   (200 + gen * 15 + u_lat * 400)::integer,
	   CASE WHEN u_err < 0.02 THEN 'error' ELSE 'success' END,
	   CASE WHEN u_err < 0.02 THEN 'upstream timeout' END,
	   -- about 6 % of calls repeat an earlier identical request
	   md5(org || ':' || CASE WHEN u_dup < 0.06 THEN (floor(u_dup * 200))::text ELSE g::text END)
  FROM shaped
 -- quieter weekends
 WHERE extract(isodow FROM ts) < 6 OR u_hour < 0.35;

ANALYZE costopt.api_usage_logs;

-- Budgets: a monthly budget per organisation at 90 % of its spend over the
-- last 30 days (so some are on course to run out), and a hard daily budget
-- for the busiest organisation's busiest user.
\o /dev/null
SELECT costopt_create_budget(o.organization_id, o.organization_id || ' monthly',
							 greatest(round(o.spend * 0.9, -1), 10), enforcement => 'soft',
							 alert_contacts => '{"emails": ["finops@example.com"]}')
  FROM (SELECT organization_id, sum(total_cost) AS spend
		  FROM costopt.api_usage_logs
		 WHERE created_at >= now() - interval '30 days'
		 GROUP BY 1) o
 ORDER BY 1;
SELECT costopt_create_budget(u.organization_id, u.user_id || ' daily', greatest(round(u.spend / 30, 0), 1),
							 period => 'daily', user_id => u.user_id, enforcement => 'hard')
  FROM (SELECT organization_id, user_id, sum(total_cost) AS spend
		  FROM costopt.api_usage_logs
		 WHERE created_at >= now() - interval '30 days'
		 GROUP BY 1, 2
		 ORDER BY 3 DESC
		 LIMIT 1) u;
\o
