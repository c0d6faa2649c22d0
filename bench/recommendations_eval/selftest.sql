-- bench/recommendations_eval/selftest.sql: mock recommenders with the call
-- signature and result columns of costopt_generate_recommendations(), for
-- checking check.sql itself (run.sh with SELFTEST=1):
--
--	 bench.mock_ok			returns what the reference rules of generate.sql find
--							in the window asked for: check.sql must pass
--	 bench.mock_bad			the same, but the duplicates 10 % low, an extra
--							model_downgrade for project assistant in
--							eval-waste and a rate_limiting recommendation for
--							eval-control: check.sql must fail with exactly
--							these findings
--	 bench.mock_unstable	mock_ok with savings that change from call to call
--							(by less than the tolerance): only the rerun check
--							must fail

\set ON_ERROR_STOP on

CREATE FUNCTION bench.mock_ok(organization_id text, days integer DEFAULT 30,
							  as_of timestamptz DEFAULT now())
RETURNS TABLE (organization_id text, recommendation_type text, scope_key text, title text,
			   current_monthly_cost numeric, projected_monthly_cost numeric,
			   estimated_savings numeric, savings_percentage numeric, priority_score numeric,
			   confidence_score numeric, status text, recommended_action jsonb,
			   analysis_data jsonb)
LANGUAGE sql STABLE AS $$
	SELECT r.org, r.expected_type, r.scope, format('%s: %s', r.expected_type, r.scope),
		   NULL::numeric, NULL::numeric, r.rule_value, NULL::numeric, 50::numeric,
		   0.9::numeric, 'pending', '{}'::jsonb,
		   jsonb_build_object('window_savings', r.rule_value * days / 30,
							  'window_from', as_of - days * interval '1 day', 'window_to', as_of)
	  FROM bench.rule_values(as_of - days * interval '1 day', as_of) r
	 WHERE r.org = mock_ok.organization_id
$$;

CREATE FUNCTION bench.mock_bad(organization_id text, days integer DEFAULT 30,
							   as_of timestamptz DEFAULT now())
RETURNS TABLE (organization_id text, recommendation_type text, scope_key text, title text,
			   current_monthly_cost numeric, projected_monthly_cost numeric,
			   estimated_savings numeric, savings_percentage numeric, priority_score numeric,
			   confidence_score numeric, status text, recommended_action jsonb,
			   analysis_data jsonb)
LANGUAGE sql STABLE AS $$
	SELECT m.organization_id, m.recommendation_type, m.scope_key, m.title,
		   m.current_monthly_cost, m.projected_monthly_cost,
		   CASE WHEN m.recommendation_type = 'response_caching' THEN m.estimated_savings * 0.9
				ELSE m.estimated_savings END,
		   m.savings_percentage, m.priority_score, m.confidence_score, m.status,
		   m.recommended_action, m.analysis_data
	  FROM bench.mock_ok(organization_id, days, as_of) m
	UNION ALL
	SELECT 'eval-waste', 'model_downgrade', 'google/gemini-1.5-flash/assistant/chat',
		   'Move assistant to a cheaper model', NULL, NULL, 2.5, NULL, 10, 0.5, 'pending', '{}', '{}'
	 WHERE organization_id = 'eval-waste'
	UNION ALL
	SELECT 'eval-control', 'rate_limiting', 'c-assistant-u1', 'Rate-limit c-assistant-u1',
		   NULL, NULL, 1.5, NULL, 10, 0.5, 'pending', '{}', '{}'
	 WHERE organization_id = 'eval-control'
$$;

CREATE FUNCTION bench.mock_unstable(organization_id text, days integer DEFAULT 30,
									as_of timestamptz DEFAULT now())
RETURNS TABLE (organization_id text, recommendation_type text, scope_key text, title text,
			   current_monthly_cost numeric, projected_monthly_cost numeric,
			   estimated_savings numeric, savings_percentage numeric, priority_score numeric,
			   confidence_score numeric, status text, recommended_action jsonb,
			   analysis_data jsonb)
LANGUAGE sql VOLATILE AS $$
	SELECT m.organization_id, m.recommendation_type, m.scope_key, m.title,
		   m.current_monthly_cost, m.projected_monthly_cost,
		   round(m.estimated_savings * (1 + 0.01 * random())::numeric, 6),
		   m.savings_percentage, m.priority_score, m.confidence_score, m.status,
		   m.recommended_action, m.analysis_data
	  FROM bench.mock_ok(organization_id, days, as_of) m
$$;
