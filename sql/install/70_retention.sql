-------------------------------------------------------------------------------
-- Retention: raw calls kept for a while, rollups for longer; partitions
-------------------------------------------------------------------------------

-- Hourly sums of the calls that retention removed from the raw log.  The
-- rollups are always "archive + raw": cleanup moves a call's contribution
-- from the raw log to the archive, so the rollups do not change, and a
-- restore rebuilds the rollups from both (the trigger below turns restored
-- archive rows into deltas; the capture trigger does the same for raw
-- rows).
CREATE TABLE costopt.rollup_archive (LIKE costopt.rollup_deltas INCLUDING ALL);
CREATE INDEX rollup_archive_hour_idx ON costopt.rollup_archive (hour);
SELECT pg_catalog.pg_extension_config_dump('costopt.rollup_archive', '');

COMMENT ON TABLE costopt.rollup_archive IS
	'Hourly sums of the calls removed from the raw usage log by retention (the rollups keep them)';

-- Restored archive rows go back into the rollups.  costopt_cleanup() runs
-- with costopt.retention_mode on, when the rollups already hold the calls.
CREATE FUNCTION costopt.rollup_archive_restore()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('costopt.retention_mode', true) = 'on' THEN
		RETURN NULL;
	END IF;
	-- the archive is declared LIKE costopt.rollup_deltas
	INSERT INTO costopt.rollup_deltas
	SELECT * FROM archived;
	RETURN NULL;
END;
$$;

COMMENT ON FUNCTION costopt.rollup_archive_restore() IS
	'Statement trigger: restored archive rows become rollup deltas';

CREATE TRIGGER rollup_archive_restore
	AFTER INSERT ON costopt.rollup_archive
	REFERENCING NEW TABLE AS archived
	FOR EACH STATEMENT EXECUTE FUNCTION costopt.rollup_archive_restore();

-- The upper bound of a range partition, from its bound expression; NULL for
-- the default partition.
CREATE FUNCTION costopt.partition_upper_bound(part regclass)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), $r$TO \('([^']+)'\)$r$))[1]::timestamptz
	  FROM pg_class c WHERE c.oid = part
$$;

COMMENT ON FUNCTION costopt.partition_upper_bound(regclass) IS
	'Upper bound of a range partition of the usage log (NULL for the default partition)';

-- Makes the monthly partitions (UTC months) of the usage log from the
-- current month to 'ahead' from now, so calls do not pile up in the default
-- partition.  A month whose calls already sit in the default partition, or
-- that overlaps a partition made by hand, is skipped with a WARNING.  Each
-- new partition gets the log's primary key and indexes.
CREATE FUNCTION @extschema@.costopt_create_partitions(ahead interval DEFAULT '3 months',
													  OUT created integer, OUT skipped integer)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m timestamptz;
	last_month timestamptz;
	part_name text;
BEGIN
	created := 0;
	skipped := 0;
	IF ahead IS NULL OR ahead < interval '0' OR ahead > interval '10 years' THEN
		RAISE EXCEPTION 'ahead must be between 0 and 10 years'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('ahead is %s.', ahead);
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('costopt.partitions'));
	m := date_trunc('month', now(), 'UTC');
	last_month := date_trunc('month', now() + ahead, 'UTC');
	WHILE m <= last_month LOOP
		part_name := 'api_usage_logs_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM');
		IF to_regclass('costopt.' || part_name) IS NULL THEN
			BEGIN
				EXECUTE format('CREATE TABLE costopt.%I PARTITION OF costopt.api_usage_logs FOR VALUES FROM (%L) TO (%L)',
							   part_name, m, (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
				-- the log's key and indexes live on each partition, so that
				-- a dump restores (see costopt.add_usage_indexes)
				PERFORM costopt.add_usage_indexes(format('costopt.%I', part_name)::regclass);
				created := created + 1;
			EXCEPTION WHEN check_violation OR invalid_object_definition THEN
				RAISE WARNING 'partition "%" not created: %', part_name, SQLERRM
					USING HINT = 'Calls of that month are in the default partition, or another partition covers it.';
				skipped := skipped + 1;
			END;
		END IF;
		m := (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
	END LOOP;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_create_partitions(interval) IS
	'Creates the monthly partitions of the usage log from this month to ahead';

-- Retention.  Raw calls older than raw_keep (rounded down to the hour) leave
-- the raw log: whole monthly partitions are dropped, the rest deleted.
-- Their contribution is kept in costopt.rollup_archive first, so the
-- rollups do not change.  Rollups and archive rows of months older than
-- rollup_keep are deleted.
CREATE FUNCTION @extschema@.costopt_cleanup(raw_keep interval DEFAULT '90 days',
											rollup_keep interval DEFAULT '2 years',
											OUT raw_rows_removed bigint,
											OUT partitions_dropped integer,
											OUT archived_rows bigint,
											OUT rollup_rows_deleted bigint)
RETURNS record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h timestamptz;
	r timestamptz;
	tz text;
	part record;
	n bigint;
BEGIN
	IF raw_keep IS NULL OR rollup_keep IS NULL THEN
		RAISE EXCEPTION 'raw_keep and rollup_keep must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF raw_keep < interval '1 hour' THEN
		RAISE EXCEPTION 'raw_keep must be at least one hour'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('raw_keep is %s.', raw_keep);
	END IF;
	IF rollup_keep < raw_keep THEN
		RAISE EXCEPTION 'rollup_keep must not be shorter than raw_keep'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('raw_keep is %s, rollup_keep is %s.', raw_keep, rollup_keep),
				  HINT = 'The rollups are what is left of a call once its raw row is gone.';
	END IF;

	PERFORM pg_advisory_xact_lock(hashtext('costopt.partitions'));
	PERFORM set_config('costopt.retention_mode', 'on', true);
	INSERT INTO costopt.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
	SELECT s.rollup_timezone INTO tz FROM costopt.rollup_state s;
	h := date_trunc('hour', now() - raw_keep, 'UTC');
	r := date_trunc('month', now() - rollup_keep, tz);

	-- 1. keep what the raw calls contribute to the rollups
	INSERT INTO costopt.rollup_archive
	SELECT * FROM costopt.raw_hourly(NULL, r, h);
	GET DIAGNOSTICS archived_rows = ROW_COUNT;

	-- 2. drop whole partitions, delete the rest
	raw_rows_removed := 0;
	partitions_dropped := 0;
	FOR part IN
		SELECT i.inhrelid::regclass AS rel, costopt.partition_upper_bound(i.inhrelid::regclass) AS upper
		  FROM pg_inherits i
		 WHERE i.inhparent = 'costopt.api_usage_logs'::regclass
	LOOP
		CONTINUE WHEN part.upper IS NULL OR part.upper > h;
		EXECUTE format('SELECT count(*) FROM %s', part.rel) INTO n;
		EXECUTE format('DROP TABLE %s', part.rel);
		raw_rows_removed := raw_rows_removed + n;
		partitions_dropped := partitions_dropped + 1;
	END LOOP;
	DELETE FROM costopt.api_usage_logs u WHERE u.created_at < h;
	GET DIAGNOSTICS n = ROW_COUNT;
	raw_rows_removed := raw_rows_removed + n;

	UPDATE costopt.rollup_state SET raw_horizon = greatest(raw_horizon, h);

	-- 3. rollups and archive older than rollup_keep
	DELETE FROM costopt.cost_analysis c WHERE c.period_start < r;
	GET DIAGNOSTICS rollup_rows_deleted = ROW_COUNT;
	DELETE FROM costopt.rollup_archive a WHERE a.hour < r;
	DELETE FROM costopt.rollup_deltas d WHERE d.hour < r;
END;
$$;

COMMENT ON FUNCTION @extschema@.costopt_cleanup(interval, interval) IS
	'Retention: drops or deletes raw calls older than raw_keep (the rollups keep them) and rollups older than rollup_keep';
