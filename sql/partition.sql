-- The costing trigger on a user's time-partitioned usage table.
SET timezone = 'UTC';

CREATE TABLE part_usage (LIKE costopt.api_usage_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
	PARTITION BY RANGE (created_at);
CREATE TABLE part_usage_2025_01 PARTITION OF part_usage
	FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
CREATE TABLE part_usage_2025_02 PARTITION OF part_usage
	FOR VALUES FROM ('2025-02-01') TO ('2025-03-01');
CREATE TABLE part_usage_default PARTITION OF part_usage DEFAULT;

-- rows that arrived before the trigger are priced when it is attached
INSERT INTO part_usage (created_at, organization_id, provider, model, input_tokens, output_tokens)
VALUES ('2025-01-15', 'p', 'openai', 'gpt-4o', 1000, 200);
SELECT costopt_attach_costing('part_usage') AS priced_existing_rows;
SELECT costopt_attach_costing('part_usage') AS priced_on_second_call;

-- the trigger is cloned to every partition, present and future
CREATE TABLE part_usage_2025_03 PARTITION OF part_usage
	FOR VALUES FROM ('2025-03-01') TO ('2025-04-01');
SELECT c.relname, t.tgname
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'part_usage%' ORDER BY 1;

INSERT INTO part_usage (created_at, organization_id, provider, model, input_tokens, output_tokens, cached_input_tokens)
VALUES ('2025-01-20', 'p', 'openai', 'gpt-4o', 2000, 100, 1000),
	   ('2025-02-20', 'p', 'anthropic', 'claude-3-5-sonnet', 1000, 100, 0),
	   ('2025-03-20', 'p', 'google', 'gemini-2.0-flash', 1000, 100, 0),
	   ('2026-07-01', 'p', NULL, 'no-such-model', 1000, 100, 0);
COPY part_usage (created_at, organization_id, provider, model, input_tokens, output_tokens) FROM stdin;
2025-01-21 00:00:00+00	p	openai	gpt-4o-mini	1000	100
2025-02-21 00:00:00+00	p	openai	gpt-4o-mini	1000	100
\.
SELECT tableoid::regclass AS partition, created_at::date, model, input_cost, output_cost,
	   total_cost, cost_status
  FROM part_usage ORDER BY created_at;

-- re-costing works across partitions (ctid alone is not unique there)
INSERT INTO costopt.model_aliases (alias, target_provider, target_model)
VALUES ('no-such-model', 'openai', 'gpt-4o-mini');
SELECT * FROM costopt_recost('2025-01-01', '2027-01-01', usage_table => 'part_usage');
SELECT tableoid::regclass AS partition, model, total_cost, cost_status
  FROM part_usage WHERE model = 'no-such-model';

DROP TABLE part_usage;
DELETE FROM costopt.model_aliases WHERE alias = 'no-such-model';
