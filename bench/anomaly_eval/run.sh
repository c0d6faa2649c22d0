#!/usr/bin/env bash
# Anomaly-detector evaluation of costopt on NAB series (see bench/anomaly_eval/README.md).
#
#   bash bench/anomaly_eval/run.sh               evaluate costopt_anomaly_scan() (CONFIGS below)
#   SELFTEST=1 bash bench/anomaly_eval/run.sh    first check the scorer with fixed detectors and
#                                                a SQL mock of the scan function, then evaluate
#                                                if costopt_anomaly_scan() is installed
#
# Every file listed in labels/combined_windows.json is loaded into a
# throwaway cluster, each configuration's scan runs over each file (arrays in
# file order) and its alarms (is_anomaly) are scored in SQL (scorer.sql) with
# the protocol of the NAB README: warm-up, windows detected, false alarms per
# 1000 scored out-of-window points (points and runs), NAB standard score.
#
# Environment (all optional):
#   NAB_DIR=<repo>/../shared/data/nab   the NAB subset (data/, labels/)
#   CONFIGS=...         configurations, one a line: label method threshold
#                       window suppress, "-" for the function's default
#   SELFTEST=0          1: run the scorer self-test first (selftest.sql)
#   CAUSAL_CHECK=1      0: skip the causality check (reruns of each scan on
#                       prefixes of the files)
#   KEEP_CLUSTER=0      1: keep the stopped cluster's directory afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

# The configurations evaluated, one a line:
#   label  method  threshold  window_size  suppress     ("-": default)
# zscore-3s-w288 is the plain trailing 3-sigma reference of the NAB README.
CONFIGS=${CONFIGS:-"
zscore-3s-w288  zscore    3  288  false
zscore          zscore    -  -    -
seasonal        seasonal  -  -    -
robust          robust    -  -    -
adaptive        adaptive  -  -    -
"}

NAB_DIR=${NAB_DIR:-$(dirname "$REPO")/shared/data/nab}
SELFTEST=${SELFTEST:-0}
CAUSAL_CHECK=${CAUSAL_CHECK:-1}
BENCH_DIR=$REPO/bench/anomaly_eval
SCAN_SIG='costopt_anomaly_scan(timestamptz[],float8[],text,float8,integer,boolean)'
WINDOWS_JSON=$NAB_DIR/labels/combined_windows.json
DB=anomaly_eval

[ -r "$WINDOWS_JSON" ] || { echo "no $WINDOWS_JSON (set NAB_DIR)" >&2; exit 2; }
[[ $SELFTEST =~ ^[01]$ ]] || { echo "SELFTEST must be 0 or 1" >&2; exit 2; }
[[ $CAUSAL_CHECK =~ ^[01]$ ]] || { echo "CAUSAL_CHECK must be 0 or 1" >&2; exit 2; }

# psql against the bench database: no psqlrc, stop on the first error, no notices.
bpsql() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

WORK=$(mktemp -d /tmp/costopt-anomaly-eval.XXXXXX)
cleanup() {
  cluster_stop "$WORK"
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if declare -F pick_port >/dev/null; then PORT=$(pick_port); else PORT=$((55432 + RANDOM % 100)); fi
cluster_start "$WORK" "$PORT" test/costopt.conf
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
bpsql -c "CREATE EXTENSION costopt"
bpsql -f "$BENCH_DIR/scorer.sql" >/dev/null

# ---------------------------------------------------------------------------
# Data: every file of combined_windows.json, then its windows.
# ---------------------------------------------------------------------------
WINDOWS=$(cat "$WINDOWS_JSON")
mapfile -t FILES < <(bpsql -At -v w="$WINDOWS" <<'SQL'
SELECT jsonb_object_keys(:'w'::jsonb) ORDER BY 1;
SQL
)
[ ${#FILES[@]} -gt 0 ] || { echo "no files in $WINDOWS_JSON" >&2; exit 1; }
for f in "${FILES[@]}"; do
  csv=$NAB_DIR/data/$f
  [ -r "$csv" ] || { echo "missing $csv" >&2; exit 1; }
  bpsql -c "COPY nab.staging (ts_text, value) FROM STDIN WITH (FORMAT csv, HEADER true)" <"$csv"
  n=$(bpsql -At -v f="$f" <<<"SELECT nab.load_file(:'f');")
  log "loaded $f: $n points"
done
bpsql -v w="$WINDOWS" <<'SQL' >/dev/null
SELECT nab.load_windows(:'w'::jsonb);
SELECT nab.compute_weights();
ANALYZE;
SQL

# Configurations: parse CONFIGS into nab.configs (scan_fn set below).
bpsql -v c="$CONFIGS" <<'SQL'
INSERT INTO nab.configs (ord, config, method, threshold, window_size, suppress)
SELECT 1000 + ord, f[1], nullif(f[2], '-'), nullif(f[3], '-')::float8,
	   nullif(f[4], '-')::integer, nullif(f[5], '-')::boolean
  FROM regexp_split_to_table(:'c', '\n') WITH ORDINALITY l(line, ord),
	   regexp_split_to_array(btrim(line), '\s+') f
 WHERE btrim(line) <> '' AND btrim(line) NOT LIKE '#%';
SQL
bad=$(bpsql -At -c "SELECT string_agg(config, ', ') FROM nab.configs WHERE method IS NULL")
[ -z "$bad" ] || { echo "CONFIGS: no method for: $bad" >&2; exit 2; }

# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------
# summary WHERE: one line per configuration of nab.configs matching WHERE.
summary() {
  bpsql -P footer=off <<SQL
SELECT c.config,
	   coalesce(c.method, '') AS method,
	   coalesce(c.threshold::text, CASE WHEN c.scan_fn IS NOT NULL THEN 'dflt' ELSE '' END) AS thr,
	   coalesce(c.window_size::text, CASE WHEN c.scan_fn IS NOT NULL THEN 'dflt' ELSE '' END) AS win,
	   coalesce(c.suppress::text, CASE WHEN c.scan_fn IS NOT NULL THEN 'dflt' ELSE '' END) AS supp,
	   t.detected || '/' || t.windows AS "windows detected",
	   t.alarms,
	   to_char(t.fa_points_per_1000, 'FM99990.00') AS "FA pts/1000",
	   to_char(t.fa_runs_per_1000, 'FM99990.00') AS "FA runs/1000",
	   to_char(t.nab_score, 'FM99990.0') AS "NAB score",
	   coalesce(to_char((SELECT sum(ms) FROM nab.scan_runs r WHERE r.config = c.config) / 1000, 'FM9990.00'), '') AS "scan s",
	   CASE WHEN c.causal_prefixes IS NULL THEN ''
			WHEN c.causal_mismatches = 0 THEN format('yes (%s prefixes)', c.causal_prefixes)
			ELSE format('NO: %s decisions differ', c.causal_mismatches) END AS causal
  FROM nab.configs c, nab.total_score(c.config) t
 WHERE $1
 ORDER BY c.ord;
SQL
}

# per_file WHERE: one line per configuration and file.
per_file() {
  bpsql -P footer=off <<SQL
SELECT c.config, nab.short(s.file) AS file, s.n, s.probation AS "warm-up",
	   s.detected || '/' || s.windows AS windows, s.alarms,
	   s.fa_points AS "FA pts",
	   to_char(1000.0 * s.fa_points / nullif(s.oow_points, 0), 'FM99990.00') AS "FA pts/1000",
	   s.fa_runs AS "FA runs",
	   to_char(1000.0 * s.fa_runs / nullif(s.oow_points, 0), 'FM99990.00') AS "FA runs/1000",
	   to_char(s.raw, 'FM99990.000') AS "raw",
	   coalesce(to_char(nab.normalised(s.raw, s.null_score, s.perfect), 'FM99990.0'), '-') AS "NAB score"
  FROM nab.configs c, nab.file_scores(c.config) s
 WHERE $1
 ORDER BY c.ord, s.file;
SQL
}

echo
echo "=== data: $NAB_DIR"
bpsql -P footer=off <<'SQL'
SELECT nab.short(f.file) AS file, f.n AS points, f.probation AS "warm-up",
	   (SELECT count(*) FROM nab.windows w WHERE w.file = f.file) AS windows,
	   (SELECT string_agg(format('%s..%s (%s pts)', w.i_start, w.i_end, w.i_end - w.i_start + 1)
							  || CASE WHEN w.exact THEN '' ELSE ' INEXACT' END, ', ' ORDER BY w.win_id)
		  FROM nab.windows w WHERE w.file = f.file) AS "window points",
	   (SELECT count(*) FROM nab.point_weights p WHERE p.file = f.file AND p.scored AND p.win_id IS NULL)
		   AS "scored out-of-window",
	   (SELECT count(*) - count(DISTINCT ts) FROM nab.points p WHERE p.file = f.file) AS "repeated ts"
  FROM nab.files f ORDER BY f.file;
SQL

# ---------------------------------------------------------------------------
# SELFTEST=1: fixed detectors, the mock and a non-causal mock, each scored
# by nab.file_scores() and by the loop nab.ref_file_raw(), and checked.
# ---------------------------------------------------------------------------
if [ "$SELFTEST" = 1 ]; then
  bpsql -f "$BENCH_DIR/selftest.sql" >/dev/null
  bpsql >/dev/null <<'SQL'
SELECT nab.add_fixed_detector(1, 'selftest-never', 'false');
SELECT nab.add_fixed_detector(2, 'selftest-always', 'true');
SELECT nab.add_fixed_detector(3, 'selftest-window-first', 'win_first');
SELECT nab.add_fixed_detector(4, 'selftest-every-97th', 'idx % 97 = 0');
INSERT INTO nab.configs (ord, config, method, threshold, window_size, suppress, scan_fn)
VALUES (5, 'selftest-mock-3s-w288', 'zscore', 3, 288, false,
		'nab.mock_anomaly_scan(timestamptz[],float8[],text,float8,integer,boolean)'),
	   (6, 'selftest-mock-dflt', 'zscore', NULL, NULL, NULL,
		'nab.mock_anomaly_scan(timestamptz[],float8[],text,float8,integer,boolean)'),
	   (7, 'selftest-centred-3s-w288', 'zscore', 3, 288, false,
		'nab.mock_centred_scan(timestamptz[],float8[],text,float8,integer,boolean)');
SELECT nab.run_config(config) FROM nab.configs WHERE scan_fn IS NOT NULL ORDER BY ord;
UPDATE nab.configs c SET (causal_prefixes, causal_mismatches) = (SELECT * FROM nab.causality_check(c.config))
 WHERE scan_fn IS NOT NULL;
SQL
  echo
  echo "=== SELFTEST: fixed detectors, the SQL mock (trailing 3-sigma, window 288, 30 points of history)"
  echo "    and a non-causal variant of it (centred window)"
  summary "c.config LIKE 'selftest-%'"
  echo "=== SELFTEST: per file"
  per_file "c.config LIKE 'selftest-%'"
  echo "=== SELFTEST: checks"
  # Expected values, and the set-based scorer against the loop that
  # follows NAB's sweeper (nab.ref_file_raw), for every self-test detector.
  bpsql -At -F ' ' >"$WORK/selftest_checks" <<'SQL'
WITH t AS (SELECT c.config, t.* FROM nab.configs c, nab.total_score(c.config) t
			WHERE c.config LIKE 'selftest-%'),
	 ref AS (SELECT c.config, max(abs(s.raw - nab.ref_file_raw(c.config, s.file))) AS diff
			   FROM nab.configs c, nab.file_scores(c.config) s
			  WHERE c.config LIKE 'selftest-%' GROUP BY c.config),
	 checks(name, ok) AS (
	SELECT 'never: score 0, nothing detected, no false alarm',
		   abs(nab_score) < 1e-9 AND detected = 0 AND fa_points = 0 AND alarms = 0
	  FROM t WHERE config = 'selftest-never'
	UNION ALL
	SELECT 'window-first: score 100, every window detected, no false alarm',
		   abs(nab_score - 100) < 1e-9 AND detected = windows AND fa_points = 0
	  FROM t WHERE config = 'selftest-window-first'
	UNION ALL
	SELECT 'always: every window detected, false-alarm points 1000 per 1000, runs <= files + windows, score < 0',
		   detected = windows AND fa_points = oow_points AND abs(fa_points_per_1000 - 1000) < 1e-9
		   AND fa_runs <= files + windows AND nab_score < 0
	  FROM t WHERE config = 'selftest-always'
	UNION ALL
	SELECT 'every-97th: ' || (SELECT sum(fa_points) FROM t WHERE config = 'selftest-every-97th')
		   || ' false-alarm points = as many runs',
		   fa_points = fa_runs AND fa_points > 0
	  FROM t WHERE config = 'selftest-every-97th'
	UNION ALL
	SELECT 'mock: one row per point, all matched to points',
		   bool_and(rows_out = f.n AND unmatched = 0)
	  FROM nab.scan_runs r JOIN nab.files f USING (file) WHERE r.config LIKE 'selftest-mock%'
	UNION ALL
	SELECT 'causality check: mock passes, centred variant fails',
		   bool_and(CASE WHEN config LIKE 'selftest-mock%' THEN causal_mismatches = 0
						 ELSE causal_mismatches > 0 END)
	  FROM nab.configs WHERE scan_fn IS NOT NULL
	UNION ALL
	SELECT 'raw score = NAB sweeper loop (nab.ref_file_raw) for ' || config
		   || ', max diff ' || diff::text,
		   diff < 1e-9
	  FROM ref
)
SELECT CASE WHEN ok THEN 'ok  ' ELSE 'FAIL' END, name FROM checks;
SQL
  sed 's/^/  /' "$WORK/selftest_checks"
  if grep -q '^FAIL' "$WORK/selftest_checks"; then
    echo "SELFTEST FAILED" >&2
    exit 1
  fi
  echo "  SELFTEST passed"
fi

# ---------------------------------------------------------------------------
# costopt_anomaly_scan(), when installed.
# ---------------------------------------------------------------------------
HAVE_SCAN=$(bpsql -At -c "SELECT to_regprocedure('$SCAN_SIG') IS NOT NULL")
if [ "$HAVE_SCAN" != t ]; then
  if [ "$SELFTEST" = 1 ]; then
    echo
    echo "=== $SCAN_SIG is not installed: configurations not evaluated"
    exit 0
  fi
  echo "$SCAN_SIG is not installed (make install, then rerun; SELFTEST=1 checks the scorer alone)" >&2
  exit 1
fi

PGC="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
BUILD_ID=$(cat "$("$PGC" --pkglibdir)/costopt.so" "$("$PGC" --sharedir)"/extension/costopt--*.sql | md5sum | cut -c1-8)
bpsql -c "UPDATE nab.configs SET scan_fn = to_regprocedure('$SCAN_SIG') WHERE ord >= 1000"
mapfile -t CONFIG_NAMES < <(bpsql -At -c "SELECT config FROM nab.configs WHERE ord >= 1000 ORDER BY ord")
# A configuration whose scan fails (say, a method not implemented) is
# reported with its error; the others are still evaluated.
FAILED=0
for c in "${CONFIG_NAMES[@]}"; do
  if err=$(bpsql -v c="$c" -v k="$CAUSAL_CHECK" 2>&1 >/dev/null <<'SQL'
SELECT nab.run_config(:'c');
UPDATE nab.configs SET (causal_prefixes, causal_mismatches) = (SELECT * FROM nab.causality_check(:'c'))
 WHERE config = :'c' AND :k = 1;
SQL
  ); then
    log "scanned: $c ($(bpsql -At -v c="$c" <<<"SELECT min(call) FROM nab.scan_runs WHERE config = :'c';"))"
  else
    FAILED=1
    log "FAILED: $c: $err"
    bpsql -v c="$c" -v e="$(grep -m1 . <<<"$err")" <<<"UPDATE nab.configs SET error = :'e' WHERE config = :'c';"
  fi
done

echo
echo "=== costopt_anomaly_scan() on ${#FILES[@]} NAB files; installed costopt $BUILD_ID" \
  "(md5 of library and install scripts); extension version" \
  "$(bpsql -At -c "SELECT extversion FROM pg_extension WHERE extname = 'costopt'")"
echo "    NAB standard profile (A_TP=1, A_FN=1, A_FP=0.11), normalised over all files: 0 = no alarm, 100 = perfect"
summary "c.ord >= 1000 AND c.error IS NULL"
echo "=== per file"
per_file "c.ord >= 1000 AND c.error IS NULL"
bpsql -At -c "SELECT format('  note: %s on %s returned %s rows for %s points (%s not matched to a point)',
            r.config, nab.short(r.file), r.rows_out, f.n, r.unmatched)
        FROM nab.scan_runs r JOIN nab.files f USING (file)
        WHERE r.rows_out <> f.n OR r.unmatched <> 0 ORDER BY r.config, r.file"
bpsql -At -c "SELECT format('  FAILED: %s: %s', config, regexp_replace(error, '\s+', ' ', 'g'))
        FROM nab.configs WHERE error IS NOT NULL ORDER BY ord"
[ "$FAILED" = 0 ] || { echo "some configurations failed" >&2; exit 1; }
