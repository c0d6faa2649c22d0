-------------------------------------------------------------------------------
-- Costing trigger, attaching it, re-costing
-------------------------------------------------------------------------------

CREATE FUNCTION costopt.costing_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'costopt_costing_trigger';

COMMENT ON FUNCTION costopt.costing_trigger() IS
	'BEFORE INSERT OR UPDATE row trigger that prices LLM calls from costopt.model_pricing';

CREATE TRIGGER costopt_costing
	BEFORE INSERT OR UPDATE ON costopt.api_usage_logs
	FOR EACH ROW EXECUTE FUNCTION costopt.costing_trigger();

CREATE FUNCTION costopt.check_usage_table(usage_table regclass)
RETURNS void
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'costopt_check_usage_table';

COMMENT ON FUNCTION costopt.check_usage_table(regclass) IS
	'Raises SQLSTATE 09000 unless a table has the columns the costing trigger needs';

-- Installs the costing trigger on a user's usage table (plain or
-- partitioned) and prices the rows it already holds that have no cost yet.
-- Returns the number of rows it priced (rows whose model still has no price
-- stay unpriced and are not counted).
CREATE FUNCTION @extschema@.costopt_attach_costing(usage_table regclass)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	priced bigint;
BEGIN
	IF usage_table IS NULL THEN
		RAISE EXCEPTION 'argument "usage_table" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = usage_table;
	IF kind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', usage_table
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'The costing trigger can be attached to plain and partitioned tables.';
	END IF;

	PERFORM costopt.check_usage_table(usage_table);

	IF NOT EXISTS (SELECT 1 FROM pg_trigger t
				   WHERE t.tgrelid = usage_table AND t.tgname = 'costopt_costing'
					 AND NOT t.tgisinternal) THEN
		EXECUTE format('CREATE TRIGGER costopt_costing BEFORE INSERT OR UPDATE ON %s '
					   'FOR EACH ROW EXECUTE FUNCTION costopt.costing_trigger()',
					   usage_table);
	END IF;

	-- an UPDATE that leaves total_cost NULL asks the trigger to price the row
	EXECUTE format('WITH u AS (UPDATE %s SET total_cost = NULL WHERE total_cost IS NULL '
				   'RETURNING total_cost) SELECT count(*) FROM u WHERE total_cost IS NOT NULL',
				   usage_table)
	   INTO priced;
	RETURN priced;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_attach_costing(regclass) IS
	'Installs the costopt costing trigger on a usage table and prices its unpriced rows';

-- Re-prices the calls made in [from_time, to_time) whose stored cost differs
-- from what the catalog says now: rows that were unpriced and have a price
-- now, and rows priced before a price correction.  Only changed rows are
-- written.
CREATE FUNCTION @extschema@.costopt_recost(from_time timestamptz, to_time timestamptz,
										   model text DEFAULT NULL,
										   usage_table regclass DEFAULT 'costopt.api_usage_logs',
										   OUT changed bigint, OUT still_unpriced bigint)
RETURNS record
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	opt_cols text := '';
	col text;
	cmp_old text := 't.input_cost, t.output_cost, t.total_cost';
	cmp_new text;
	has_col boolean;
	expr text;
	args text[] := ARRAY[]::text[];
BEGIN
	IF from_time IS NULL OR to_time IS NULL THEN
		RAISE EXCEPTION 'arguments "from_time" and "to_time" must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF from_time >= to_time THEN
		RAISE EXCEPTION 'from_time must be earlier than to_time'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('from_time is %s, to_time is %s.', from_time, to_time);
	END IF;
	PERFORM costopt.check_usage_table(usage_table);

	-- computed costs compared as the columns would store them (typmod)
	SELECT string_agg(format('pc.%1$I::%2$s', a.attname, format_type(a.atttypid, a.atttypmod)),
					  ', ' ORDER BY array_position(ARRAY['input_cost', 'output_cost', 'total_cost'], a.attname::text))
	  INTO cmp_new
	  FROM pg_attribute a
	 WHERE a.attrelid = usage_table AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.attname IN ('input_cost', 'output_cost', 'total_cost');

	-- optional columns: use them when the table has them
	FOREACH col IN ARRAY ARRAY['provider', 'cached_input_tokens', 'cache_write_tokens',
							   'is_batch', 'pricing_id'] LOOP
		SELECT EXISTS (SELECT 1 FROM pg_attribute a
						WHERE a.attrelid = usage_table AND a.attname = col
						  AND a.attnum > 0 AND NOT a.attisdropped)
		  INTO has_col;
		IF col = 'pricing_id' THEN
			IF has_col THEN
				cmp_old := cmp_old || ', t.pricing_id';
				cmp_new := cmp_new || ', pc.pricing_id';
			END IF;
			CONTINUE;
		END IF;
		expr := CASE WHEN has_col THEN 't.' || quote_ident(col)
					 WHEN col = 'provider' THEN 'NULL::text'
					 WHEN col = 'is_batch' THEN 'false'
					 ELSE '0' END;
		args := args || expr;
	END LOOP;

	EXECUTE format(
		'WITH todo AS ('
		'  SELECT t.tableoid AS row_rel, t.ctid AS row_ctid'
		'    FROM %1$s t,'
		'         LATERAL costopt.price_call(%2$s, t.model, t.created_at, t.input_tokens,'
		'                                    t.output_tokens, %3$s, %4$s, %5$s) pc'
		'   WHERE t.created_at >= $1 AND t.created_at < $2'
		'     AND ($3 IS NULL OR lower(t.model) = lower($3) OR pc.catalog_model = lower($3))'
		'     AND (%6$s) IS DISTINCT FROM (%7$s)'
		'     FOR UPDATE OF t)'
		'UPDATE %1$s u SET total_cost = NULL FROM todo'
		' WHERE u.tableoid = todo.row_rel AND u.ctid = todo.row_ctid',
		usage_table, args[1], args[2], args[3], args[4], cmp_old, cmp_new)
	USING from_time, to_time, model;
	GET DIAGNOSTICS changed = ROW_COUNT;

	EXECUTE format('SELECT count(*) FROM %1$s t'
				   ' WHERE t.created_at >= $1 AND t.created_at < $2 AND t.total_cost IS NULL'
				   '   AND ($3 IS NULL OR lower(t.model) = lower($3)'
				   '        OR (SELECT r.catalog_model FROM costopt.resolve_model(%2$s, t.model) r) = lower($3))',
				   usage_table, args[1])
	   INTO still_unpriced
	  USING from_time, to_time, model;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_recost(timestamptz, timestamptz, text, regclass) IS
	'Re-prices calls in a time range whose stored cost differs from the current catalog';
