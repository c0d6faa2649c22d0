#!/usr/bin/env bash
# Recommendation evaluation for costopt (see bench/recommendations_eval/README.md).
#
#   bash bench/recommendations_eval/run.sh              evaluate costopt_generate_recommendations()
#   SELFTEST=1 bash bench/recommendations_eval/run.sh   first check check.sql against two mock
#                                                       recommenders, then evaluate if installed
#
# 1. A throwaway cluster (test/costopt.conf), database "receval" with
#    CREATE EXTENSION costopt, and generate.sql: 30 days of calls up to AS_OF
#    for "eval-control" (clean) and "eval-waste" (clean plus planted waste of
#    known size), priced by the costing trigger, the truth in schema "bench",
#    and a self-check of the data (fails the run if the data are not what
#    the eval assumes).
# 2. check.sql: costopt_generate_recommendations() for both organisations
#    with as_of AS_OF and days 30, then DAYS2, then 30 again: each planted
#    category against its estimate (PASS within TOLERANCE), false positives,
#    the control, the rerun returning the same; then days 30 in a session
#    with TimeZone SESSION_TZ (differences shown, not scored).
# 3. The shipped sample workload (sample/workload.sql, as scripts/demo.sh
#    loads it) in a second database, "receval_sample", and the
#    recommendations for each of its organisations (printed, not scored:
#    only an error fails the run).
#
# Exit status: 0 passed; 1 the eval failed (or the recommender raised an
# error); 2 bad arguments; 3 the generated data fail their own checks or the
# self-test failed; 4 costopt_generate_recommendations() is not installed.
#
# Environment (all optional):
#   AS_OF='2026-11-01 00:00+00'   end of the 30-day window (the data are generated up to it)
#   SEED=0.20261101       seed of the generator (setseed, -1 .. 1)
#   TOLERANCE=0.05        relative error allowed per planted category
#   DAYS2=15              the shorter window of the second analysis (days)
#   SESSION_TZ=Europe/Berlin  session TimeZone of the last, unscored analysis
#   SAMPLE=1              0: skip the sample workload
#   SAMPLE_ROWS=100000    size of the sample workload
#   SELFTEST=0            1: run check.sql against the mocks of selftest.sql first
#                         (a good one must pass, two bad ones must fail as expected)
#   BUILD=0               1: build and install costopt first (scripts/common.sh)
#   KEEP_CLUSTER=0        1: keep the stopped cluster's directory afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

AS_OF=${AS_OF:-2026-11-01 00:00+00}
SEED=${SEED:-0.20261101}
TOLERANCE=${TOLERANCE:-0.05}
DAYS2=${DAYS2:-15}
SESSION_TZ=${SESSION_TZ:-Europe/Berlin}
SAMPLE=${SAMPLE:-1}
SAMPLE_ROWS=${SAMPLE_ROWS:-100000}
SELFTEST=${SELFTEST:-0}
BUILD=${BUILD:-0}
BENCH_DIR=$REPO/bench/recommendations_eval
DB=receval
SAMPLE_DB=receval_sample
FN_SIG='costopt_generate_recommendations(text,integer,timestamptz)'

[[ $SEED =~ ^-?(0|1)?(\.[0-9]+)?$ ]] && [ -n "$SEED" ] || { echo "SEED must be a number in [-1, 1]" >&2; exit 2; }
[[ $TOLERANCE =~ ^(0|1)?\.[0-9]+$ ]] || { echo "TOLERANCE must be a fraction like 0.05" >&2; exit 2; }
[[ $SAMPLE_ROWS =~ ^[1-9][0-9]*$ ]] || { echo "SAMPLE_ROWS must be a positive integer" >&2; exit 2; }
[[ $DAYS2 =~ ^[1-9][0-9]*$ ]] && [ "$DAYS2" -le 30 ] || { echo "DAYS2 must be an integer in 1..30" >&2; exit 2; }
[[ $SESSION_TZ =~ ^[A-Za-z0-9_+/-]+$ ]] || { echo "SESSION_TZ must be a time zone name" >&2; exit 2; }
for v in SAMPLE SELFTEST BUILD; do
  [[ ${!v} =~ ^[01]$ ]] || { echo "$v must be 0 or 1" >&2; exit 2; }
done

# psql against one database: no psqlrc, stop on the first error, no notices.
bpsql() { local db=$1; shift; PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi
BUILD_ID=$(costopt_build_id)

WORK=$(mktemp -d /tmp/costopt-receval.XXXXXX)
cleanup() {
  cluster_stop "$WORK"
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cluster_start "$WORK" "$(pick_port)" test/costopt.conf
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
bpsql $DB -c "CREATE EXTENSION costopt"
bpsql $DB -At -c "SELECT 1" >/dev/null
AS_OF_NORM=$(bpsql $DB -At -v a="$AS_OF" <<<"SELECT :'a'::timestamptz;") ||
  { echo "AS_OF is not a timestamp: $AS_OF" >&2; exit 2; }

# ---------------------------------------------------------------------------
# 1. Data
# ---------------------------------------------------------------------------
log "generating 30 days of calls up to $AS_OF_NORM (seed $SEED)"
t0=$(date +%s%N)
if ! bpsql $DB -v as_of="$AS_OF" -v seed="$SEED" -f "$BENCH_DIR/generate.sql" >"$WORK/generate.out" 2>&1; then
  cat "$WORK/generate.out"
  echo "the generated data fail their own checks" >&2
  exit 3
fi
t1=$(date +%s%N)
GEN_S=$(secs "$t0" "$t1")
echo
echo "=== generated in $GEN_S s (insert through the costing trigger and reference rules included)"
cat "$WORK/generate.out"

# ---------------------------------------------------------------------------
# Self-test: check.sql against the mocks
# ---------------------------------------------------------------------------
if [ "$SELFTEST" = 1 ]; then
  bpsql $DB -f "$BENCH_DIR/selftest.sql" >/dev/null
  st_fail=0
  # selftest MOCK EXPECTED_SUMMARY_REGEX: check.sql on the mock, its exit
  # status (0 only for a PASS summary) and its summary line
  selftest() {
    local mock=$1 want=$2 out="$WORK/selftest_$1.out" rc=0
    bpsql $DB -v recommender="bench.$mock" -v tolerance="$TOLERANCE" -f "$BENCH_DIR/check.sql" >"$out" 2>&1 || rc=$?
    local summary
    summary=$(grep '^recommendations_eval:' "$out" || echo '(no summary)')
    echo "  $mock: exit $rc, $summary"
    if ! grep -Eq "$want" <<<"$summary" || { [[ $summary == *": PASS" ]] && [ $rc != 0 ]; } ||
       { [[ $summary != *": PASS" ]] && [ $rc = 0 ]; }; then
      st_fail=1; echo "  SELFTEST: unexpected result for $mock"; cat "$out"
    fi
  }
  echo
  echo "=== SELFTEST: check.sql against mock recommenders (selftest.sql)"
  selftest mock_ok '^recommendations_eval: days 30: 4/4 [^;]*, 0 false positives, 0 for eval-control; days [0-9]+: 4/4 [^;]*, 0 false positives, 0 for eval-control; rerun identical \(TimeZone [^)]*\): PASS$'
  selftest mock_bad '^recommendations_eval: days 30: 3/4 [^;]*, 1 false positives, 1 for eval-control; days [0-9]+: 3/4 [^;]*, 1 false positives, 1 for eval-control; rerun identical \(TimeZone [^)]*\): FAIL$'
  selftest mock_unstable '^recommendations_eval: days 30: 4/4 [^;]*, 0 false positives, 0 for eval-control; days [0-9]+: 4/4 [^;]*, 0 false positives, 0 for eval-control; rerun DIFFERS \(TimeZone [^)]*\): FAIL$'
  if [ "$st_fail" = 1 ]; then
    echo "SELFTEST FAILED" >&2
    exit 3
  fi
  echo "  SELFTEST passed"
fi

if [ "$(bpsql $DB -At -c "SELECT to_regprocedure('$FN_SIG') IS NOT NULL")" != t ]; then
  echo
  if [ "$SELFTEST" = 1 ]; then
    echo "=== $FN_SIG is not installed: not evaluated"
    exit 0
  fi
  echo "$FN_SIG is not installed (make install, then rerun; SELFTEST=1 checks the harness alone)" >&2
  exit 4
fi

# ---------------------------------------------------------------------------
# 2. The eval
# ---------------------------------------------------------------------------
log "running the recommender and scoring it"
rc=0
bpsql $DB -v tolerance="$TOLERANCE" -v days2="$DAYS2" -v tz="$SESSION_TZ" -f "$BENCH_DIR/check.sql" 2>&1 | tee "$WORK/check.out" || rc=1
grep -q '^recommendations_eval: .*: PASS$' "$WORK/check.out" || rc=1

# ---------------------------------------------------------------------------
# 3. The sample workload
# ---------------------------------------------------------------------------
if [ "$SAMPLE" = 1 ]; then
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $SAMPLE_DB"
  bpsql $SAMPLE_DB -c "CREATE EXTENSION costopt"
  log "loading $SAMPLE_ROWS sample calls (sample/workload.sql)"
  bpsql $SAMPLE_DB -v rows="$SAMPLE_ROWS" -f sample/workload.sql >/dev/null
  echo
  echo "=== sample workload ($SAMPLE_ROWS calls, sample/workload.sql): recommendations per organisation (days 30, as_of now())"
  if ! bpsql $SAMPLE_DB <<'SQL' 2>&1 | tee "$WORK/sample.out"; then
\pset footer off
CREATE TEMP TABLE runs AS
SELECT o.organization_id AS org, 0::numeric AS ms, 0 AS n
  FROM (SELECT DISTINCT organization_id FROM costopt.api_usage_logs) o;
DO $$
DECLARE
	o record;
	t0 timestamptz;
	first boolean := true;
BEGIN
	FOR o IN SELECT org FROM runs ORDER BY org LOOP
		t0 := clock_timestamp();
		IF first THEN
			CREATE TEMP TABLE recs AS SELECT * FROM costopt_generate_recommendations(o.org, 30, now());
			first := false;
		ELSE
			INSERT INTO recs SELECT * FROM costopt_generate_recommendations(o.org, 30, now());
		END IF;
		UPDATE runs SET ms = round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1),
						n = (SELECT count(*) FROM recs WHERE recs.organization_id = o.org)
		 WHERE org = o.org;
	END LOOP;
END
$$;
SELECT r.org, count(l.*) AS calls_in_window, round(sum(l.total_cost), 2) AS spend_usd,
	   r.n AS recommendations, r.ms
  FROM runs r
  LEFT JOIN costopt.api_usage_logs l
	ON l.organization_id = r.org AND l.created_at >= now() - interval '30 days' AND l.created_at < now()
 GROUP BY r.org, r.n, r.ms ORDER BY r.org;
SELECT organization_id AS org, recommendation_type AS type, scope_key,
	   round(current_monthly_cost, 2) AS current, round(estimated_savings, 2) AS savings,
	   round(savings_percentage, 1) AS pct, round(priority_score, 1) AS priority,
	   round(confidence_score, 2) AS confidence, title
  FROM recs
 ORDER BY organization_id, estimated_savings DESC, recommendation_type, scope_key;
SQL
    rc=1
    log "the recommender failed on the sample workload"
  fi
fi

END_ID=$(costopt_build_id)
echo
echo "installed costopt $BUILD_ID (md5 of library and install scripts)$([ "$END_ID" = "$BUILD_ID" ] || echo "; CHANGED during the run to $END_ID: rerun")"
[ "$rc" = 0 ] && log "recommendations_eval passed" || log "recommendations_eval FAILED"
exit "$rc"
