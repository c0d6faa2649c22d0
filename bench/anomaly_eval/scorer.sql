-- bench/anomaly_eval/scorer.sql: data tables and the scorer of the anomaly
-- evaluation, in schema "nab" of a scratch database (see README.md).
--
--	 data		nab.points (one row per CSV row, idx = 0-based file order),
--				nab.windows (labelled windows as point indexes), nab.files
--				(length and warm-up per file), nab.point_weights (the NAB
--				weight of an alarm at each point; it does not depend on the
--				detector, so it is computed once)
--	 detectors	nab.configs (what run.sh evaluates), nab.alarms (the alarm
--				points of each configuration), nab.scan_runs (rows returned
--				and time per file), nab.scan_call() and nab.scan_file() (call a
--				scan function), nab.run_config(), nab.causality_check()
--	 scoring	nab.file_scores(config), nab.total_score(config)
--
-- The scoring follows NAB's sweeper (numenta/NAB nab/sweeper.py, commit
-- ea702d75) for binary detections and its runner's normalisation; every
-- rule is restated next to the code that implements it.

\set ON_ERROR_STOP on

CREATE SCHEMA nab;

-------------------------------------------------------------------------------
-- Data
-------------------------------------------------------------------------------

-- The NAB "standard" application profile.
CREATE TABLE nab.profile (
	a_tp		float8 NOT NULL,
	a_fn		float8 NOT NULL,
	a_fp		float8 NOT NULL
);
INSERT INTO nab.profile VALUES (1.0, 1.0, 0.11);

-- COPY target for one CSV; seq keeps the file order.
CREATE TABLE nab.staging (
	seq			bigint GENERATED ALWAYS AS IDENTITY,
	ts_text		text NOT NULL,
	value		float8 NOT NULL
);

CREATE TABLE nab.points (
	file		text NOT NULL,
	idx			integer NOT NULL,		-- 0-based position in the file
	ts			timestamptz NOT NULL,	-- CSV timestamps are UTC
	value		float8 NOT NULL,
	PRIMARY KEY (file, idx)
);
CREATE INDEX ON nab.points (file, ts);

CREATE TABLE nab.files (
	file		text PRIMARY KEY,
	n			integer NOT NULL,
	probation	integer NOT NULL		-- points 0 .. probation-1 are not scored
);

CREATE TABLE nab.windows (
	file		text NOT NULL,
	win_id		integer NOT NULL,		-- 0-based, in time order
	t_start		timestamptz NOT NULL,
	t_end		timestamptz NOT NULL,
	i_start		integer,
	i_end		integer,
	exact		boolean,				-- both limits are timestamps of the file
	PRIMARY KEY (file, win_id)
);

-- nab.load_file(file): move nab.staging into nab.points and empty it.
CREATE FUNCTION nab.load_file(p_file text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_n integer;
BEGIN
	INSERT INTO nab.points (file, idx, ts, value)
	SELECT p_file, (row_number() OVER (ORDER BY seq) - 1)::integer,
		   ts_text::timestamp AT TIME ZONE 'UTC', value
	  FROM nab.staging;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	TRUNCATE nab.staging RESTART IDENTITY;
	RETURN v_n;
END
$$;

-- nab.load_windows(json): the windows of combined_windows.json for the
-- files loaded, and the warm-up length of every file.  Must run after the
-- points are loaded.
--
-- Warm-up (NAB's probationary period): min(floor(0.15 * n), 0.15 * 5000).
-- Window limits are point indexes: NAB enters a window at the point whose
-- timestamp equals the start and takes the first point whose timestamp
-- equals the end as its right edge (timestamps.index()).  When a limit is
-- not a timestamp of the file (it always is in NAB's labels), we fall back to
-- the first point at or after the start and the last point at or before the
-- end, and record exact = false so that run.sh can say so.
CREATE FUNCTION nab.load_windows(p_windows jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO nab.files (file, n, probation)
	SELECT file, count(*), least(floor(0.15 * count(*)), 750)::integer
	  FROM nab.points GROUP BY file;

	INSERT INTO nab.windows (file, win_id, t_start, t_end)
	SELECT f.key, (w.ord - 1)::integer,
		   (w.lim->>0)::timestamp AT TIME ZONE 'UTC',
		   (w.lim->>1)::timestamp AT TIME ZONE 'UTC'
	  FROM jsonb_each(p_windows) f,
		   jsonb_array_elements(f.value) WITH ORDINALITY w(lim, ord)
	 WHERE f.key IN (SELECT file FROM nab.files);

	UPDATE nab.windows w
	   SET i_start = coalesce(
			   (SELECT min(idx) FROM nab.points p WHERE p.file = w.file AND p.ts = w.t_start),
			   (SELECT min(idx) FROM nab.points p WHERE p.file = w.file AND p.ts >= w.t_start)),
		   i_end = coalesce(
			   (SELECT min(idx) FROM nab.points p WHERE p.file = w.file AND p.ts = w.t_end),
			   (SELECT max(idx) FROM nab.points p WHERE p.file = w.file AND p.ts <= w.t_end)),
		   exact = EXISTS (SELECT FROM nab.points p WHERE p.file = w.file AND p.ts = w.t_start)
			   AND EXISTS (SELECT FROM nab.points p WHERE p.file = w.file AND p.ts = w.t_end);

	IF EXISTS (SELECT FROM nab.windows WHERE i_start IS NULL OR i_end IS NULL OR i_end < i_start) THEN
		RAISE EXCEPTION 'a labelled window holds no point of its file';
	END IF;
	IF EXISTS (SELECT FROM nab.windows a JOIN nab.windows b
				 ON a.file = b.file AND a.win_id < b.win_id AND b.i_start <= a.i_end) THEN
		RAISE EXCEPTION 'labelled windows overlap or are out of order';
	END IF;
END
$$;

-- NAB's scaled sigmoid of a relative position: 2*sigmoid(-5*pos) - 1, and
-- -1 beyond 3 (far after a window).  -1 is the left edge of a window
-- (0.98661), 0 the right edge (0).
CREATE FUNCTION nab.scaled_sigmoid(pos float8) RETURNS float8
IMMUTABLE LANGUAGE sql AS $$
	SELECT CASE WHEN pos > 3.0 THEN -1.0 ELSE 2.0 / (1.0 + exp(5.0 * pos)) - 1.0 END
$$;

-- The weight an alarm would get at each point (NAB's "sweep score"):
--	 inside window w (first point i_start, right edge i_end, width
--	 W = i_end - i_start + 1):
--		 A_TP * scaled_sigmoid(-(i_end - idx + 1) / W) / scaled_sigmoid(-1)
--	   so 1 at the first point, falling towards 0 at the right edge.  A
--	   window's score is its best alarm weight, i.e. its first alarm's,
--	   or -A_FN without one.
--	 outside every window, after window p (the last one that ended before):
--		 A_FP * scaled_sigmoid(|idx - p.i_end| / (W_p - 1))
--	   so near 0 just after a window and -A_FP from 3 widths on; before the
--	   first window: -A_FP.  (A window of one point has W_p - 1 = 0, where
--	   NAB divides by zero; we use -A_FP.)
--	 scored: idx >= warm-up.  Warm-up points are not scored at all, and a
--	   window with no scored point counts neither as detected nor missed.
CREATE TABLE nab.point_weights (
	file		text NOT NULL,
	idx			integer NOT NULL,
	scored		boolean NOT NULL,
	win_id		integer,				-- NULL: outside every window
	weight		float8 NOT NULL,
	PRIMARY KEY (file, idx)
);

CREATE FUNCTION nab.compute_weights() RETURNS void
LANGUAGE sql AS $$
	INSERT INTO nab.point_weights (file, idx, scored, win_id, weight)
	SELECT p.file, p.idx, p.idx >= f.probation, w.win_id,
		   CASE
			   WHEN w.win_id IS NOT NULL THEN
				   pr.a_tp * nab.scaled_sigmoid(-(w.i_end - p.idx + 1)::float8 / (w.i_end - w.i_start + 1))
				   / nab.scaled_sigmoid(-1.0)
			   WHEN pw.i_end IS NULL OR pw.i_end = pw.i_start THEN -pr.a_fp
			   ELSE pr.a_fp * nab.scaled_sigmoid(abs(p.idx - pw.i_end)::float8 / (pw.i_end - pw.i_start))
		   END
	  FROM nab.points p
	  JOIN nab.files f USING (file)
	 CROSS JOIN nab.profile pr
	  LEFT JOIN nab.windows w ON w.file = p.file AND p.idx BETWEEN w.i_start AND w.i_end
	  LEFT JOIN LATERAL (SELECT x.i_start, x.i_end FROM nab.windows x
						  WHERE x.file = p.file AND x.i_end < p.idx
						  ORDER BY x.i_end DESC LIMIT 1) pw ON w.win_id IS NULL;
$$;

-------------------------------------------------------------------------------
-- Detectors
-------------------------------------------------------------------------------

CREATE TABLE nab.configs (
	ord			integer NOT NULL,
	config		text PRIMARY KEY,
	method		text,
	threshold	float8,					-- NULL: the function's default
	window_size	integer,				-- NULL: the method's default
	suppress	boolean,				-- NULL: the function's default
	scan_fn		regprocedure,			-- NULL: alarms inserted directly
	error		text,					-- the scan failed with this message
	causal_prefixes integer,			-- nab.causality_check(): prefixes run
	causal_mismatches integer			-- and decisions that differed
);

-- The alarm points of a configuration.
CREATE TABLE nab.alarms (
	config		text NOT NULL,
	file		text NOT NULL,
	idx			integer NOT NULL,
	PRIMARY KEY (config, file, idx)
);

CREATE TABLE nab.scan_runs (
	config		text NOT NULL,
	file		text NOT NULL,
	rows_out	bigint NOT NULL,		-- rows the scan function returned
	unmatched	bigint NOT NULL,		-- of which not matched to a point
	ms			float8 NOT NULL,
	call		text NOT NULL,
	PRIMARY KEY (config, file)
);

-- nab.scan_call(fn, ...): the text of a call of a scan function with the
-- signature (ts timestamptz[], value float8[], method text, threshold float8,
-- window_size int DEFAULT NULL, suppress boolean DEFAULT true) on $1 and $2.
-- A NULL option is left out when the parameter has a default, so that the
-- function's own default applies, and passed as NULL otherwise; options
-- after a left-out one are passed by name (the names come from pg_proc).
CREATE FUNCTION nab.scan_call(p_fn regprocedure, p_method text, p_threshold float8,
							  p_window integer, p_suppress boolean) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_proc pg_proc;
	v_vals text[] := ARRAY[quote_nullable(p_method), quote_nullable(p_threshold::text) || '::float8',
						   quote_nullable(p_window) || '::integer', quote_nullable(p_suppress) || '::boolean'];
	v_given boolean[] := ARRAY[p_method IS NOT NULL, p_threshold IS NOT NULL,
							   p_window IS NOT NULL, p_suppress IS NOT NULL];
	v_args text := '$1, $2';
	v_named boolean := false;
	v_has_default boolean;
	v_name text;
	k integer;
BEGIN
	SELECT * INTO STRICT v_proc FROM pg_proc WHERE oid = p_fn;
	IF v_proc.pronargs <> 6 THEN
		RAISE EXCEPTION '% does not take 6 arguments', p_fn;
	END IF;
	FOR k IN 1 .. 4 LOOP
		-- parameter k + 2 of 6 (1-based) has a default if it is among the
		-- last pronargdefaults
		v_has_default := k + 2 > 6 - v_proc.pronargdefaults;
		v_name := v_proc.proargnames[k + 2];
		IF NOT v_given[k] AND v_has_default THEN
			v_named := true;			-- skip it: later ones go by name
			CONTINUE;
		END IF;
		IF v_named THEN
			IF v_name IS NULL OR v_name = '' THEN
				RAISE EXCEPTION '% has unnamed parameters: cannot skip a default', p_fn;
			END IF;
			v_args := v_args || ', ' || quote_ident(v_name) || ' => ' || v_vals[k];
		ELSE
			v_args := v_args || ', ' || v_vals[k];
		END IF;
	END LOOP;
	RETURN p_fn::oid::regproc::text || '(' || v_args || ')';
END
$$;

-- nab.scan_file(call, file, upto): run a scan call (from nab.scan_call) on
-- the points 0 .. upto of a file, arrays in file order, and return the
-- indexes of the points it flags (is_anomaly), with the number of rows it
-- returned, how many of them match no point, and the time in ms.
-- Output rows are matched to points by timestamp and, because a few NAB
-- files repeat a timestamp, by occurrence of that timestamp: the k-th row
-- returned for timestamp t is the k-th point of the file at t.  So the
-- function may return its rows in any order, or only some of them.
CREATE FUNCTION nab.scan_file(p_call text, p_file text, p_upto integer,
							  OUT alarm_idx integer[], OUT rows_out bigint,
							  OUT unmatched bigint, OUT ms float8)
LANGUAGE plpgsql AS $$
DECLARE
	v_ts timestamptz[];
	v_v float8[];
	v_t0 timestamptz;
BEGIN
	SELECT array_agg(ts ORDER BY idx), array_agg(value ORDER BY idx) INTO v_ts, v_v
	  FROM nab.points WHERE file = p_file AND idx <= p_upto;
	CREATE TEMP TABLE IF NOT EXISTS scan_out (ord bigint, ts timestamptz, is_anomaly boolean);
	TRUNCATE scan_out;
	v_t0 := clock_timestamp();
	EXECUTE format('INSERT INTO scan_out SELECT s.ordinality, s.ts, s.is_anomaly FROM %s WITH ORDINALITY s',
				   p_call)
		USING v_ts, v_v;
	GET DIAGNOSTICS rows_out = ROW_COUNT;
	ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
	SELECT coalesce(array_agg(p.idx ORDER BY p.idx) FILTER (WHERE s.is_anomaly), '{}'),
		   count(*) FILTER (WHERE p.idx IS NULL)
	  INTO alarm_idx, unmatched
	  FROM (SELECT ts, is_anomaly, row_number() OVER (PARTITION BY ts ORDER BY ord) AS occ
			  FROM scan_out) s
	  LEFT JOIN (SELECT idx, ts, row_number() OVER (PARTITION BY ts ORDER BY idx) AS occ
				   FROM nab.points WHERE file = p_file AND idx <= p_upto) p USING (ts, occ);
END
$$;

-- nab.run_config(config): run the configuration's scan function on every
-- whole file and record its alarm points in nab.alarms (all of them,
-- warm-up included; the scorer skips the warm-up).
CREATE FUNCTION nab.run_config(p_config text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	c nab.configs;
	f nab.files;
	r record;
	v_call text;
BEGIN
	SELECT * INTO STRICT c FROM nab.configs WHERE config = p_config;
	v_call := nab.scan_call(c.scan_fn, c.method, c.threshold, c.window_size, c.suppress);
	DELETE FROM nab.alarms WHERE config = p_config;
	DELETE FROM nab.scan_runs WHERE config = p_config;
	FOR f IN SELECT * FROM nab.files ORDER BY file LOOP
		r := nab.scan_file(v_call, f.file, f.n - 1);
		INSERT INTO nab.alarms (config, file, idx)
		SELECT p_config, f.file, unnest(r.alarm_idx);
		INSERT INTO nab.scan_runs VALUES (p_config, f.file, r.rows_out, r.unmatched, r.ms, v_call);
	END LOOP;
END
$$;

-- nab.causality_check(config): NAB requires causal detectors (the decision
-- at t may use values up to t only).  Rerun the scan on prefixes of each
-- file, cut a quarter of the way into each labelled window and at 60% of
-- the file, and count the points of each prefix whose decision differs from
-- the whole-file run (nab.alarms).  A causal detector gives 0.
CREATE FUNCTION nab.causality_check(p_config text, OUT prefixes integer, OUT mismatches integer)
LANGUAGE plpgsql AS $$
DECLARE
	c nab.configs;
	r record;
	s record;
	v_call text;
	v_full integer[];
BEGIN
	SELECT * INTO STRICT c FROM nab.configs WHERE config = p_config;
	v_call := nab.scan_call(c.scan_fn, c.method, c.threshold, c.window_size, c.suppress);
	prefixes := 0;
	mismatches := 0;
	FOR r IN SELECT DISTINCT file, cut FROM (
				 SELECT file, i_start + (i_end - i_start) / 4 AS cut FROM nab.windows
				 UNION ALL
				 SELECT file, (0.6 * n)::integer FROM nab.files) x
			  ORDER BY file, cut LOOP
		s := nab.scan_file(v_call, r.file, r.cut);
		SELECT coalesce(array_agg(idx ORDER BY idx), '{}') INTO v_full
		  FROM nab.alarms WHERE config = p_config AND file = r.file AND idx <= r.cut;
		-- points flagged by exactly one of the two runs
		mismatches := mismatches + (SELECT count(*) FROM (
			(SELECT unnest(s.alarm_idx) EXCEPT SELECT unnest(v_full))
			UNION ALL
			(SELECT unnest(v_full) EXCEPT SELECT unnest(s.alarm_idx))) d);
		prefixes := prefixes + 1;
	END LOOP;
END
$$;

-------------------------------------------------------------------------------
-- Scoring
-------------------------------------------------------------------------------

-- nab.file_scores(config): per file
--	 windows		windows with at least one scored point
--	 label_windows	all labelled windows of the file
--	 detected		windows with at least one scored alarm inside
--	 alarms			scored alarm points
--	 oow_points		scored points outside every window
--	 fa_points		scored alarm points outside every window
--	 fa_runs		maximal runs of consecutive false-alarm points (a run
--					that continues an alarm run from inside a window, or
--					from the warm-up, still counts once)
--	 raw			NAB raw score: sum of the false alarms' weights + for
--					each window its first alarm's weight, or -A_FN
--	 null_score		raw score of a detector that never alarms: -A_FN * windows
--	 perfect		A_TP * label_windows (NAB's runner: number of labels *
--					tpWeight; every window detected at its first point)
CREATE FUNCTION nab.file_scores(p_config text)
RETURNS TABLE (file text, n integer, probation integer, windows integer, label_windows integer,
			   detected integer, alarms integer, oow_points integer, fa_points integer,
			   fa_runs integer, raw float8, null_score float8, perfect float8)
LANGUAGE sql STABLE AS $$
	WITH pt AS (
		SELECT w.file, w.idx, w.win_id, w.weight, (a.idx IS NOT NULL) AS alarm
		  FROM nab.point_weights w
		  LEFT JOIN nab.alarms a ON a.config = p_config AND a.file = w.file AND a.idx = w.idx
		 WHERE w.scored
	), fa AS (
		SELECT file, idx, weight,
			   lag(idx) OVER (PARTITION BY file ORDER BY idx) IS DISTINCT FROM idx - 1 AS run_start
		  FROM pt WHERE alarm AND win_id IS NULL
	), win AS (
		SELECT file, win_id, max(weight) FILTER (WHERE alarm) AS best
		  FROM pt WHERE win_id IS NOT NULL GROUP BY file, win_id
	)
	SELECT f.file, f.n, f.probation,
		   (SELECT count(*) FROM win WHERE win.file = f.file)::integer,
		   (SELECT count(*) FROM nab.windows x WHERE x.file = f.file)::integer,
		   (SELECT count(best) FROM win WHERE win.file = f.file)::integer,
		   (SELECT count(*) FROM pt WHERE pt.file = f.file AND alarm)::integer,
		   (SELECT count(*) FROM pt WHERE pt.file = f.file AND win_id IS NULL)::integer,
		   (SELECT count(*) FROM fa WHERE fa.file = f.file)::integer,
		   (SELECT count(*) FILTER (WHERE run_start) FROM fa WHERE fa.file = f.file)::integer,
		   coalesce((SELECT sum(weight) FROM fa WHERE fa.file = f.file), 0)
		   + coalesce((SELECT sum(coalesce(best, -pr.a_fn)) FROM win WHERE win.file = f.file), 0),
		   -pr.a_fn * (SELECT count(*) FROM win WHERE win.file = f.file),
		   pr.a_tp * (SELECT count(*) FROM nab.windows x WHERE x.file = f.file)
	  FROM nab.files f CROSS JOIN nab.profile pr
	 ORDER BY f.file
$$;

-- nab.normalised(raw, null, perfect): 100 * (raw - null) / (perfect - null),
-- 0 for a detector that never alarms, 100 for a perfect one.
CREATE FUNCTION nab.normalised(raw float8, null_score float8, perfect float8) RETURNS float8
IMMUTABLE LANGUAGE sql AS $$
	SELECT 100.0 * (raw - null_score) / nullif(perfect - null_score, 0)
$$;

-- nab.total_score(config): the same over all files together; the NAB score
-- is normalised on the sums, as NAB does over its corpus.
CREATE FUNCTION nab.total_score(p_config text)
RETURNS TABLE (files integer, windows integer, detected integer, alarms integer,
			   oow_points integer, fa_points integer, fa_runs integer,
			   fa_points_per_1000 float8, fa_runs_per_1000 float8,
			   raw float8, null_score float8, perfect float8, nab_score float8)
LANGUAGE sql STABLE AS $$
	SELECT count(*)::integer, sum(windows)::integer, sum(detected)::integer, sum(alarms)::integer,
		   sum(oow_points)::integer, sum(fa_points)::integer, sum(fa_runs)::integer,
		   1000.0 * sum(fa_points) / nullif(sum(oow_points), 0),
		   1000.0 * sum(fa_runs) / nullif(sum(oow_points), 0),
		   sum(raw), sum(null_score), sum(perfect),
		   nab.normalised(sum(raw), sum(null_score), sum(perfect))
	  FROM nab.file_scores(p_config)
$$;

-- Short name of a NAB file for the tables.
CREATE FUNCTION nab.short(p_file text) RETURNS text
IMMUTABLE LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(p_file, '^.*/', ''), '\.csv$', '')
$$;
