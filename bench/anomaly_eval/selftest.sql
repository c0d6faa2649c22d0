-- bench/anomaly_eval/selftest.sql: objects of SELFTEST=1 (see README.md),
-- loaded after scorer.sql and the data.
--
--	 nab.mock_anomaly_scan()	a stand-in with the signature of
--								costopt_anomaly_scan(): a trailing 3-sigma
--								z-score, to exercise nab.run_config()
--	 nab.ref_file_raw()			a second, independent implementation of the
--								NAB raw score: a loop over the points in time
--								order, the way NAB's sweeper walks a file
--	 nab.add_fixed_detector()	detectors whose alarms are given directly:
--								never, always, first point of every window,
--								every 97th point

\set ON_ERROR_STOP on

-- Trailing z-score of each point against the window_size points before it
-- (not itself): z = (value - mean) / stddev_samp, alarm when |z| > threshold.
-- No alarm before 30 points of history, nor when the history is flat.
-- Defaults: threshold 3, window 288.  suppress is accepted and ignored.
CREATE FUNCTION nab.mock_anomaly_scan(ts timestamptz[], value float8[], method text,
									  threshold float8, window_size integer DEFAULT NULL,
									  suppress boolean DEFAULT true)
RETURNS TABLE (ts timestamptz, value float8, expected float8, z float8,
			   is_anomaly boolean, severity text, direction text)
LANGUAGE sql STABLE AS $$
	-- ($1 ts, $2 value, $4 threshold, $5 window_size; a SQL function, since
	-- the input and output columns share names)
	WITH s AS (
		SELECT u.t, u.v, u.i,
			   avg(u.v) OVER h AS mean, stddev_samp(u.v) OVER h AS sd, count(u.v) OVER h AS hist
		  FROM unnest($1, $2) WITH ORDINALITY u(t, v, i)
		WINDOW h AS (ORDER BY u.i ROWS BETWEEN coalesce($5, 288) PRECEDING AND 1 PRECEDING)
	), zz AS (
		SELECT s.*, CASE WHEN s.hist >= 30 AND s.sd > 0 THEN (s.v - s.mean) / s.sd END AS zv,
			   coalesce($4, 3.0) AS k
		  FROM s
	)
	SELECT zz.t, zz.v, zz.mean, zz.zv, coalesce(abs(zz.zv) > zz.k, false),
		   CASE WHEN abs(zz.zv) > 2 * zz.k THEN 'high' WHEN abs(zz.zv) > zz.k THEN 'medium' END,
		   CASE WHEN zz.zv > 0 THEN 'up' WHEN zz.zv < 0 THEN 'down' END
	  FROM zz ORDER BY zz.i
$$;

-- The raw NAB score of one file, computed the way NAB's sweeper does it:
-- walk the points in time order; enter a window at the point whose
-- timestamp is the window's start and leave it after the point whose
-- timestamp is its end; weight every point as a true or false positive;
-- drop the warm-up points; add up the false positives and, per window, the
-- best weight of its alarms (or -A_FN if none).  It reads nab.points,
-- nab.windows (timestamps only, not i_start/i_end), nab.alarms and
-- nab.profile, not nab.point_weights.
CREATE FUNCTION nab.ref_file_raw(p_config text, p_file text) RETURNS float8
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pr nab.profile;
	v_ts timestamptz[];
	v_alarm boolean[];
	v_n integer;
	v_prob integer;
	v_starts timestamptz[];
	v_ends timestamptz[];
	v_next integer := 1;			-- next window to enter
	v_cur integer;					-- window we are in, or NULL
	v_right integer;				-- its right edge (0-based)
	v_width float8;
	v_prev_right integer;
	v_prev_width float8;
	v_max_tp float8 := 2.0 / (1.0 + exp(-5.0)) - 1.0;
	v_pos float8;
	v_u float8;
	v_weight float8;
	v_fp float8 := 0;
	v_best float8[];				-- per window: best alarm weight
	v_seen boolean[];				-- per window: has a scored point
	v_total float8;
	i integer;
	k integer;
BEGIN
	SELECT * INTO STRICT pr FROM nab.profile;
	SELECT array_agg(p.ts ORDER BY p.idx), array_agg(a.idx IS NOT NULL ORDER BY p.idx)
	  INTO v_ts, v_alarm
	  FROM nab.points p LEFT JOIN nab.alarms a ON a.config = p_config AND a.file = p.file AND a.idx = p.idx
	 WHERE p.file = p_file;
	v_n := array_length(v_ts, 1);
	v_prob := least(floor(0.15 * v_n), 0.15 * 5000);
	SELECT array_agg(t_start ORDER BY t_start), array_agg(t_end ORDER BY t_start)
	  INTO v_starts, v_ends FROM nab.windows WHERE file = p_file;
	v_best := array_fill(NULL::float8, ARRAY[coalesce(array_length(v_starts, 1), 0)]);
	v_seen := array_fill(false, ARRAY[coalesce(array_length(v_starts, 1), 0)]);

	FOR i IN 0 .. v_n - 1 LOOP
		IF v_cur IS NULL AND v_next <= coalesce(array_length(v_starts, 1), 0)
		   AND v_ts[i + 1] = v_starts[v_next] THEN
			v_cur := v_next;
			v_next := v_next + 1;
			v_right := array_position(v_ts, v_ends[v_cur]) - 1;
			v_width := v_right - i + 1;
		END IF;
		IF v_cur IS NOT NULL THEN
			v_pos := -(v_right - i + 1) / v_width;
			v_u := CASE WHEN v_pos > 3 THEN -1.0 ELSE 2.0 / (1.0 + exp(5.0 * v_pos)) - 1.0 END;
			v_weight := v_u * pr.a_tp / v_max_tp;
		ELSIF v_prev_right IS NULL OR v_prev_width <= 1 THEN
			v_weight := -1.0 * pr.a_fp;
		ELSE
			v_pos := abs(v_prev_right - i) / (v_prev_width - 1);
			v_u := CASE WHEN v_pos > 3 THEN -1.0 ELSE 2.0 / (1.0 + exp(5.0 * v_pos)) - 1.0 END;
			v_weight := v_u * pr.a_fp;
		END IF;
		IF i >= v_prob THEN
			IF v_cur IS NOT NULL THEN
				v_seen[v_cur] := true;
				IF v_alarm[i + 1] THEN
					v_best[v_cur] := greatest(v_best[v_cur], v_weight);
				END IF;
			ELSIF v_alarm[i + 1] THEN
				v_fp := v_fp + v_weight;
			END IF;
		END IF;
		IF v_cur IS NOT NULL AND v_ts[i + 1] = v_ends[v_cur] THEN
			v_prev_right := i;
			v_prev_width := v_width;
			v_cur := NULL;
		END IF;
	END LOOP;

	v_total := v_fp;
	FOR k IN 1 .. coalesce(array_length(v_starts, 1), 0) LOOP
		IF v_seen[k] THEN
			v_total := v_total + coalesce(v_best[k], -pr.a_fn);
		END IF;
	END LOOP;
	RETURN v_total;
END
$$;

-- A detector whose alarm points are given by a query on nab.points (p) and
-- nab.windows-derived columns: in_window, win_first.
CREATE FUNCTION nab.add_fixed_detector(p_ord integer, p_config text, p_where text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO nab.configs (ord, config) VALUES (p_ord, p_config);
	EXECUTE format($q$
		INSERT INTO nab.alarms (config, file, idx)
		SELECT %L, file, idx
		  FROM (SELECT p.file, p.idx,
					   EXISTS (SELECT FROM nab.windows w WHERE w.file = p.file
								  AND p.idx BETWEEN w.i_start AND w.i_end) AS in_window,
					   EXISTS (SELECT FROM nab.windows w WHERE w.file = p.file
								  AND p.idx = w.i_start) AS win_first
				  FROM nab.points p) p
		 WHERE %s$q$, p_config, p_where);
END
$$;

-- The mock with a centred window (window_size / 2 points on each side, the
-- point itself excluded): not causal, for the self-test of
-- nab.causality_check().
CREATE FUNCTION nab.mock_centred_scan(ts timestamptz[], value float8[], method text,
									  threshold float8, window_size integer DEFAULT NULL,
									  suppress boolean DEFAULT true)
RETURNS TABLE (ts timestamptz, value float8, expected float8, z float8,
			   is_anomaly boolean, severity text, direction text)
LANGUAGE sql STABLE AS $$
	WITH s AS (
		SELECT u.t, u.v, u.i,
			   avg(u.v) OVER h AS mean, stddev_samp(u.v) OVER h AS sd, count(u.v) OVER h AS hist
		  FROM unnest($1, $2) WITH ORDINALITY u(t, v, i)
		WINDOW h AS (ORDER BY u.i ROWS BETWEEN coalesce($5, 288) / 2 PRECEDING
						 AND coalesce($5, 288) / 2 FOLLOWING EXCLUDE CURRENT ROW)
	), zz AS (
		SELECT s.*, CASE WHEN s.hist >= 30 AND s.sd > 0 THEN (s.v - s.mean) / s.sd END AS zv,
			   coalesce($4, 3.0) AS k
		  FROM s
	)
	SELECT zz.t, zz.v, zz.mean, zz.zv, coalesce(abs(zz.zv) > zz.k, false), NULL::text, NULL::text
	  FROM zz ORDER BY zz.i
$$;
