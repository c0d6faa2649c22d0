-- bench/ingest/setup.sql: objects of the ingest benchmark, in schema
-- "bench" of a scratch database that already has CREATE EXTENSION costopt.
--
-- Four tables shaped exactly like costopt.api_usage_logs (same columns,
-- defaults, identity, CHECK constraints and indexes; LIKE never copies
-- triggers), one per variant:
--
--	 (a) bench.ingest_none		no trigger
--	 (b) bench.ingest_noop		C BEFORE INSERT trigger that returns the row
--	 (c) bench.ingest_costing	the costopt costing trigger
--	 (d) bench.ingest_plpgsql	the same pricing rule written in PL/pgSQL
--
-- and a reference that is not a way to price rows but tells how much of
-- (c) - (b) is the cost of having the five cost columns filled at all:
--
--	 (e) bench.ingest_precosted	the (b) trigger, with the costs already in
--								the CSV (computed by (c) before the runs),
--								as if the application priced each call
--
-- and, to show what the rollup capture adds to costing:
--
--	 (f) bench.ingest_capture	the costing trigger (as (c)) and the costopt
--								rollup capture trigger, AFTER INSERT OR
--								UPDATE OR DELETE FOR EACH ROW, as on
--								costopt.api_usage_logs; its deltas go to
--								costopt.rollup_deltas
--
-- psql variable plpgsql_lookup (direct or price_at) selects how (d) finds
-- the price; see bench.plpgsql_costing below.

\set ON_ERROR_STOP on

CREATE SCHEMA bench;

CREATE TABLE bench.ingest_none (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench.ingest_noop (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench.ingest_costing (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench.ingest_plpgsql (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench.ingest_precosted (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);
CREATE TABLE bench.ingest_capture (LIKE costopt.api_usage_logs
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING INDEXES);

-- Which table is which variant, for the result queries.
CREATE TABLE bench.variants (
	variant		text PRIMARY KEY,
	tbl			regclass NOT NULL,
	label		text NOT NULL
);
INSERT INTO bench.variants VALUES
	('a', 'bench.ingest_none', 'no trigger'),
	('b', 'bench.ingest_noop', 'C no-op trigger'),
	('c', 'bench.ingest_costing', 'costopt costing trigger (C)'),
	('d', 'bench.ingest_plpgsql', 'PL/pgSQL costing trigger'),
	('e', 'bench.ingest_precosted', 'C no-op trigger, costs in CSV'),
	('f', 'bench.ingest_capture', 'costing + rollup capture triggers');

-------------------------------------------------------------------------------
-- (b) the do-nothing C trigger (bench/ingest/noop_trigger)
-------------------------------------------------------------------------------

CREATE FUNCTION bench.noop_trigger()
RETURNS trigger
LANGUAGE C
AS '$libdir/costopt_bench_noop', 'costopt_bench_noop_trigger';

CREATE TRIGGER bench_noop
	BEFORE INSERT ON bench.ingest_noop
	FOR EACH ROW EXECUTE FUNCTION bench.noop_trigger();
CREATE TRIGGER bench_noop
	BEFORE INSERT ON bench.ingest_precosted
	FOR EACH ROW EXECUTE FUNCTION bench.noop_trigger();

-------------------------------------------------------------------------------
-- (c) the costing trigger, installed the supported way
-------------------------------------------------------------------------------

SELECT costopt_attach_costing('bench.ingest_costing') AS priced_existing_rows;

-------------------------------------------------------------------------------
-- (f) the costing trigger and the rollup capture trigger
-------------------------------------------------------------------------------

SELECT costopt_attach_costing('bench.ingest_capture') AS priced_existing_rows;

CREATE TRIGGER costopt_rollup_capture
	AFTER INSERT OR UPDATE OR DELETE ON bench.ingest_capture
	FOR EACH ROW EXECUTE FUNCTION costopt.rollup_capture();

-------------------------------------------------------------------------------
-- (d) the same pricing rule in PL/pgSQL
-------------------------------------------------------------------------------

-- The PL/pgSQL trigger: one function, as a user would write it.  It mirrors
-- the rule of src/cost_math.c:
--	 tier     = the version has a long-context threshold and input_tokens is
--				above it
--	 rates    = long-context rate when tier and set, else the base rate;
--				cache read/write rates fall back to the (tiered) input rate
--	 batch    = all of the prompt at batch_input_price, output at
--				batch_output_price, where the version has them, and only
--				below the long-context threshold
--	 input    = (input - cached - cache_write) * in + cached * read
--				+ cache_write * write
--	 output   = output_tokens * out; total = input + output; all * 0.000001
-- Estimated token counts: tokens_estimated, or a row inserted with
-- cost_status 'estimated', sets tokens_estimated and makes a priced row
-- 'estimated'.  A row without a price in force gets NULL costs and
-- 'unpriced'.  Not mirrored: the C trigger keeps rows that the table's
-- owner inserts already costed (restores); bench rows never arrive costed.
--
-- The trigger argument chooses how the price version is found:
--	 direct    (default) one indexed query on costopt.model_pricing by
--			   provider and catalog model name (model_pricing_version_key
--			   covers it).  It knows catalog names only, where the C trigger
--			   also resolves aliases, provider prefixes and dated snapshots;
--			   every bench row uses a catalog name or an unknown one, so both
--			   price alike, and (d) does less work than (c): the comparison
--			   favours (d).
--	 price_at  costopt.price_at(), the extension's SQL API, which resolves
--			   names exactly as the C trigger does (and is much slower).
CREATE FUNCTION bench.plpgsql_costing()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
	p			costopt.model_pricing;
	tier		boolean;
	in_rate		numeric;
	out_rate	numeric;
	read_rate	numeric;
	write_rate	numeric;
	split		boolean := true;
	estimated	boolean;
BEGIN
	estimated := NEW.cost_status IS NOT DISTINCT FROM 'estimated'
		OR NEW.tokens_estimated IS TRUE;
	NEW.tokens_estimated := estimated;

	IF TG_ARGV[0] = 'price_at' THEN
		SELECT v.* INTO p FROM costopt.price_at(NEW.provider, NEW.model, NEW.created_at) v;
	ELSE
		SELECT mp.* INTO p
		  FROM costopt.model_pricing mp
		 WHERE mp.provider = NEW.provider
		   AND mp.model_name = NEW.model
		   AND mp.effective_from <= NEW.created_at
		 ORDER BY mp.effective_from DESC
		 LIMIT 1;
		IF p.effective_to IS NOT NULL AND NEW.created_at >= p.effective_to THEN
			p := NULL;			-- a gap after an explicit effective_to
		END IF;
	END IF;

	IF p.id IS NULL THEN
		NEW.input_cost := NULL;
		NEW.output_cost := NULL;
		NEW.total_cost := NULL;
		NEW.pricing_id := NULL;
		NEW.cost_status := 'unpriced';
		RETURN NEW;
	END IF;

	tier := p.long_context_threshold IS NOT NULL
		AND NEW.input_tokens > p.long_context_threshold;
	in_rate := CASE WHEN tier THEN coalesce(p.long_context_input_price, p.input_price)
					ELSE p.input_price END;
	out_rate := CASE WHEN tier THEN coalesce(p.long_context_output_price, p.output_price)
					 ELSE p.output_price END;
	read_rate := coalesce(CASE WHEN tier THEN p.long_context_cache_read_price END,
						  p.cache_read_price, in_rate);
	write_rate := coalesce(CASE WHEN tier THEN p.long_context_cache_write_price END,
						   p.cache_write_price, in_rate);
	IF NEW.is_batch AND NOT tier THEN
		IF p.batch_input_price IS NOT NULL THEN
			in_rate := p.batch_input_price;
			split := false;
		END IF;
		out_rate := coalesce(p.batch_output_price, out_rate);
	END IF;

	IF split THEN
		NEW.input_cost := ((NEW.input_tokens - NEW.cached_input_tokens - NEW.cache_write_tokens)
						   * in_rate
						   + NEW.cached_input_tokens * read_rate
						   + NEW.cache_write_tokens * write_rate) * 0.000001;
	ELSE
		NEW.input_cost := NEW.input_tokens * in_rate * 0.000001;
	END IF;
	NEW.output_cost := NEW.output_tokens * out_rate * 0.000001;
	NEW.total_cost := NEW.input_cost + NEW.output_cost;
	NEW.pricing_id := p.id;
	NEW.cost_status := CASE WHEN estimated THEN 'estimated' ELSE 'priced' END;
	RETURN NEW;
END;
$$;

SELECT format('CREATE TRIGGER bench_plpgsql_costing BEFORE INSERT ON bench.ingest_plpgsql '
			  'FOR EACH ROW EXECUTE FUNCTION bench.plpgsql_costing(%L)', :'plpgsql_lookup') \gexec

-------------------------------------------------------------------------------
-- Timing and results
-------------------------------------------------------------------------------

-- Loads a server-side CSV file (with a header naming the columns) into a
-- table and returns the elapsed time of the COPY statement alone, in
-- milliseconds, measured on the server with clock_timestamp(); the commit
-- that follows is not included (synchronous_commit is off).  Raises an
-- error unless exactly expected_rows were loaded.  The start time is kept
-- in the session setting bench.copy_start for bench.since_copy_start().
CREATE FUNCTION bench.timed_copy(tbl regclass, path text, header text, expected_rows bigint)
RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
	cols	text;
	t0		timestamptz;
	t1		timestamptz;
	n		bigint;
BEGIN
	SELECT string_agg(quote_ident(btrim(c)), ', ') INTO cols
	  FROM unnest(string_to_array(header, ',')) c;
	t0 := clock_timestamp();
	PERFORM set_config('bench.copy_start', t0::text, false);
	EXECUTE format('COPY %s (%s) FROM %L WITH (FORMAT csv, HEADER true)', tbl, cols, path);
	t1 := clock_timestamp();
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n <> expected_rows THEN
		RAISE EXCEPTION 'COPY into % loaded % rows, expected %', tbl, n, expected_rows;
	END IF;
	RETURN extract(epoch FROM t1 - t0) * 1000;
END;
$$;

-- Milliseconds since the start of the session's last bench.timed_copy().
-- Called in the next transaction, it gives the COPY plus the commit of its
-- transaction (plus one small statement): the rollup capture trigger
-- writes the deltas it still holds at commit, which timed_copy() does not
-- see.
CREATE FUNCTION bench.since_copy_start()
RETURNS double precision
LANGUAGE sql VOLATILE
AS $$
	SELECT extract(epoch FROM clock_timestamp()
				   - current_setting('bench.copy_start')::timestamptz) * 1000
$$;

-- One row per timed COPY: ms the COPY statement, ms_commit the COPY and
-- the commit of its transaction.
CREATE TABLE bench.copy_runs (
	variant		text NOT NULL REFERENCES bench.variants,
	round		integer NOT NULL,
	rows		bigint NOT NULL,
	ms			double precision NOT NULL,
	ms_commit	double precision NOT NULL,
	PRIMARY KEY (variant, round)
);

-- One row per pgbench run.
CREATE TABLE bench.pgbench_runs (
	variant		text NOT NULL REFERENCES bench.variants,
	round		integer NOT NULL,
	tps			double precision NOT NULL,
	PRIMARY KEY (variant, round)
);
