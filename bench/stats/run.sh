#!/usr/bin/env bash
# Statistics benchmark for costopt (see bench/stats/README.md).
#
#   bash bench/stats/run.sh                                      full run (~15 min)
#   ROWS=200000 ORGS=200 AGG_RUNS=3 FORECAST_RUNS=5 RF_RUNS=1 bash bench/stats/run.sh
#                                                                smoke run (~1 min)
#
# 1. Aggregates: costopt_trend(t, value) against regr_slope + regr_intercept
#    over extract(epoch FROM t), costopt_stats(value) against avg,
#    stddev_samp, min and max, over ROWS rows, serial and parallel, without
#    and with GROUP BY (NGROUPS groups).
# 2. costopt_forecast() of one organisation with FORECAST_DAYS days of
#    calls (CALLS_PER_DAY a day, through costopt.api_usage_logs, rolled up).
# 3. costopt_run_forecasts() for ORGS organisations with ORG_DAYS days of
#    daily rollups each (written straight into costopt.cost_analysis).
#
# Every time is measured on the server: clock_timestamp() around a dynamic
# statement in PL/pgSQL (bench.time_query(), bench.time_scalar()), so
# parsing and planning are included and nothing is sent to the client.
# Parts 1 and 2 interleave their queries round by round and report
# medians; ratios are of times measured in the same rounds.  No time makes
# the script fail: only wrong results do (exit status 1).
#
# Environment (all optional):
#   ROWS=10000000        rows of the part-1 table
#   NGROUPS=1000         groups of the GROUP BY variant
#   WORKERS=2            max_parallel_workers_per_gather of the parallel runs
#   AGG_RUNS=7           timed rounds of part 1 (after one warm-up round)
#   FORECAST_DAYS=730    days of calls of the part-2 organisation
#   CALLS_PER_DAY=5      its calls a day
#   FORECAST_RUNS=20     timed rounds of part 2 (after two warm-up rounds)
#   ORGS=10000           organisations of part 3
#   ORG_DAYS=365         days of daily rollups each (some start later, see README)
#   KEYS_PER_DAY=2       daily rollup rows per organisation and day (models)
#   RF_RUNS=3            rounds of part 3 (each: {7} then {7,30}; all rolled back
#                        but the last {7,30})
#   PARTS=123            which parts to run
#   SEED=20240601        seed of the data generators
#   BUILD=0              1: build and install costopt first (scripts/common.sh)
#   EXPLAIN=0            1: part 3 also runs costopt_run_forecasts('{7,30}') once
#                        under auto_explain (nested statements) and prints the plan
#   KEEP_CLUSTER=0       1: keep the stopped cluster's directory afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

ROWS=${ROWS:-10000000}
NGROUPS=${NGROUPS:-1000}
WORKERS=${WORKERS:-2}
AGG_RUNS=${AGG_RUNS:-7}
FORECAST_DAYS=${FORECAST_DAYS:-730}
CALLS_PER_DAY=${CALLS_PER_DAY:-5}
FORECAST_RUNS=${FORECAST_RUNS:-20}
ORGS=${ORGS:-10000}
ORG_DAYS=${ORG_DAYS:-365}
KEYS_PER_DAY=${KEYS_PER_DAY:-2}
RF_RUNS=${RF_RUNS:-3}
PARTS=${PARTS:-123}
SEED=${SEED:-20240601}
BUILD=${BUILD:-0}
EXPLAIN=${EXPLAIN:-0}
BENCH_DIR=$REPO/bench/stats

for v in ROWS NGROUPS WORKERS AGG_RUNS FORECAST_DAYS CALLS_PER_DAY FORECAST_RUNS ORGS ORG_DAYS \
  KEYS_PER_DAY RF_RUNS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[[ $PARTS =~ ^[123]+$ ]] || { echo "PARTS must be made of the digits 1, 2, 3" >&2; exit 2; }
[ "$FORECAST_DAYS" -ge 14 ] || { echo "FORECAST_DAYS must be at least 14" >&2; exit 2; }
[ "$KEYS_PER_DAY" -le 6 ] || { echo "KEYS_PER_DAY must be at most 6" >&2; exit 2; }
part() { [[ $PARTS == *$1* ]]; }

RANGE_FORMAT='%.1f - %.1f'
. bench/lib.sh
seed_frac() { awk -v s="$SEED" -v k="$1" 'BEGIN { x = (s % 1000003) / 1000003 + k * 0.6180339887; printf "%.12f", x - int(x) }'; }
settle() { bpsql "$1" -c "CHECKPOINT"; sync; }
# new_db NAME: a database with costopt and the bench schema
new_db() {
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $1"
  bpsql "$1" -c "ALTER DATABASE $1 SET synchronous_commit = off" -c "CREATE EXTENSION costopt"
  bpsql "$1" -f "$BENCH_DIR/setup.sql" >/dev/null
  put "db_build_$1" "$(costopt_build_id)"
}
# sec MS: seconds with one decimal; msf MS: ms with two significant decimals
sec() { printf '%.1f' "$(calc "$1 / 1000")"; }
msf() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }

# ---------------------------------------------------------------------------
# Build and throwaway cluster: test/costopt.conf plus bench/stats/bench.conf.
# ---------------------------------------------------------------------------
ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi

bench_cluster stats "$BENCH_DIR"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
fail=0

# ===========================================================================
# Part 1: aggregates
# ===========================================================================
if part 1; then
  DB=stats_agg
  new_db $DB
  bpsql $DB -c "CREATE EXTENSION pg_prewarm"
  log "1: $ROWS points in $NGROUPS groups"
  t=$(date +%s)
  bpsql $DB -At -c "SELECT bench.make_points($ROWS, $NGROUPS, $(seed_frac 1))" >/dev/null
  log "1: generated in $(( $(date +%s) - t )) s; VACUUM ANALYZE, prewarm"
  bpsql $DB -c "VACUUM ANALYZE bench.points"
  settle $DB
  bpsql $DB -At -c "SELECT pg_prewarm('bench.points')" >/dev/null
  bpsql $DB -At -c "SELECT count(*) FROM bench.points" >/dev/null
  P1_SIZE=$(bpsql $DB -At -c "SELECT pg_size_pretty(pg_relation_size('bench.points'))")

  # kind | label | aggregates (SELECT list without GROUP BY column)
  KINDS=(trend regr regr_f8 stats builtin4 count)
  declare -A AGG=(
    [trend]="costopt_trend(t, value)"
    [regr]="regr_slope(value, extract(epoch FROM t)), regr_intercept(value, extract(epoch FROM t))"
    [regr_f8]="regr_slope(value, date_part('epoch', t)), regr_intercept(value, date_part('epoch', t))"
    [stats]="costopt_stats(value)"
    [builtin4]="avg(value), stddev_samp(value), min(value), max(value)"
    [count]="count(*)"
  )
  declare -A NAME=(
    [trend]="costopt_trend(t, value)"
    [regr]="regr_slope + regr_intercept (extract(epoch))"
    [regr_f8]="  the same over date_part('epoch', t) (float8)"
    [stats]="costopt_stats(value)"
    [builtin4]="avg + stddev_samp + min + max"
    [count]="count(*) (the scan alone)"
  )
  PAR_SET="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = $WORKERS;"
  labels=() queries=() workers=()
  for k in "${KINDS[@]}"; do
    for shape in all grp; do
      if [ $shape = all ]; then q="SELECT ${AGG[$k]} FROM bench.points"
      else q="SELECT g, ${AGG[$k]} FROM bench.points GROUP BY g"; fi
      for mode in s p; do
        labels+=("${k}_${shape}_${mode}")
        queries+=("$q")
        if [ $mode = s ]; then workers+=(0); else workers+=("$WORKERS"); fi
      done
    done
  done

  # Plans: the parallel ones must aggregate in the workers (Partial
  # Aggregate / Partial HashAggregate), the serial ones must not use workers.
  log "1: checking the plans"
  : >"$WORK/plans_1"
  plan_bad=0
  for i in "${!labels[@]}"; do
    l=${labels[$i]}
    [[ $l == count_* ]] && continue
    if [[ $l == *_p ]]; then set_sql="$PAR_SET"; else set_sql="SET max_parallel_workers_per_gather = 0;"; fi
    plan=$(bpsql $DB -At -c "$set_sql EXPLAIN (COSTS OFF) ${queries[$i]}")
    if [[ $l == *_p ]]; then
      grep -q "Partial .*Aggregate" <<<"$plan" || { echo "plan of $l has no partial aggregate:"; echo "$plan"; plan_bad=1; }
    else
      ! grep -q "Gather" <<<"$plan" || { echo "plan of $l is parallel:"; echo "$plan"; plan_bad=1; }
    fi
  done
  # One executed plan of each parallel costopt aggregate: workers launched.
  for l in trend_all_p trend_grp_p stats_all_p stats_grp_p; do
    for i in "${!labels[@]}"; do [ "${labels[$i]}" = "$l" ] && q=${queries[$i]}; done
    {
      echo "--- $l: $q"
      bpsql $DB -At -c "$PAR_SET EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $q"
    } >>"$WORK/plans_1"
  done
  WL=$(grep -c "Workers Launched: $WORKERS" "$WORK/plans_1" || true)
  put p1_plans_launched "$WL"
  [ "$plan_bad" = 0 ] || fail=1

  # Same results: slope and intercept, mean, sd, min, max (relative differences).
  P1_DIFF=$(bpsql $DB -At -F ' ' <<'SQL'
SET max_parallel_workers_per_gather = 0;
SELECT to_char(greatest(abs((f).slope_per_day / 86400 - s) / abs(s), abs((f).intercept - i) / abs(i)), '9.9EEEE'),
	   to_char(greatest(abs((st).mean - a) / abs(a), abs((st).stddev - sd) / sd,
						abs((st).min - mn), abs((st).max - mx)), '9.9EEEE'),
	   (st).n = n
  FROM (SELECT costopt_trend(t, value) AS f,
			   regr_slope(value, extract(epoch FROM t)) AS s,
			   regr_intercept(value, extract(epoch FROM t)) AS i,
			   costopt_stats(value) AS st, avg(value) AS a, stddev_samp(value) AS sd,
			   min(value) AS mn, max(value) AS mx, count(*) AS n
		  FROM bench.points) x;
SQL
)
  read -r P1_TREND_DIFF P1_STATS_DIFF P1_N_OK <<<"$P1_DIFF"
  awk -v a="$P1_TREND_DIFF" -v b="$P1_STATS_DIFF" 'BEGIN { exit !(a + 0 < 1e-6 && b + 0 < 1e-9) }' &&
    [ "$P1_N_OK" = t ] || fail=1

  log "1: $AGG_RUNS timed rounds of ${#labels[@]} queries (after one warm-up round)"
  # bash arrays to SQL arrays, through psql variables (quoted by psql)
  ql=$(printf '%s\037' "${labels[@]}")
  qq=$(printf '%s\037' "${queries[@]}")
  qw=$(IFS=,; echo "${workers[*]}")
  bpsql $DB -v ql="$ql" -v qq="$qq" -v qw="{$qw}" -v runs="$AGG_RUNS" <<SQL
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
INSERT INTO bench.runs
SELECT * FROM bench.measure(string_to_array(rtrim(:'ql', chr(31)), chr(31)),
							string_to_array(rtrim(:'qq', chr(31)), chr(31)),
							:'qw'::integer[], :runs, 1);
SQL
  bpsql $DB -At -F ' ' -c "SELECT label, med, lo, hi FROM bench.summary" >"$WORK/p1_summary"
  p1() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$WORK/p1_summary"; }
fi

# ===========================================================================
# Part 2: costopt_forecast() of one organisation
# ===========================================================================
if part 2; then
  DB=stats_forecast
  ORG=org-forecast
  new_db $DB
  log "2: $FORECAST_DAYS days x $CALLS_PER_DAY calls of $ORG through the usage log, refresh"
  n=$(bpsql $DB -At -c "SELECT bench.make_org_usage('$ORG', $FORECAST_DAYS, $CALLS_PER_DAY, $(seed_frac 2))")
  put p2_calls "$n"
  bpsql $DB -At -c "SELECT * FROM costopt_refresh_rollups()" >/dev/null
  bpsql $DB -c "VACUUM ANALYZE"
  put p2_series "$(bpsql $DB -At -c "SELECT bench.build_series(365)")"
  read -r P2_ROWS P2_METHOD P2_HIST P2_DAILY_ROWS P2_UNPRICED < <(bpsql $DB -At -F ' ' -c "
    SELECT (SELECT count(*) FROM costopt_forecast('$ORG')),
           (SELECT min(method) FROM costopt_forecast('$ORG')),
           (SELECT (costopt.org_forecast('$ORG', 7, 'auto', 0.95)).history_days),
           (SELECT count(*) FROM costopt.cost_analysis WHERE period_type = 'daily'),
           (SELECT count(*) FROM costopt.api_usage_logs WHERE total_cost IS NULL)")
  [ "$P2_ROWS" = 7 ] && [ "$P2_UNPRICED" = 0 ] || fail=1

  F="'$ORG'"
  p2_labels=(auto7 auto30 hw7 hw30 lin7 lin30 total7 read engine7 engine30 engine_hw7 engine_lin7)
  p2_queries=(
    "SELECT * FROM costopt_forecast($F)"
    "SELECT * FROM costopt_forecast($F, 30)"
    "SELECT * FROM costopt_forecast($F, 7, 'holt_winters')"
    "SELECT * FROM costopt_forecast($F, 30, 'holt_winters')"
    "SELECT * FROM costopt_forecast($F, 7, 'linear')"
    "SELECT * FROM costopt_forecast($F, 30, 'linear')"
    "SELECT * FROM costopt_forecast_total($F)"
    "SELECT * FROM costopt.daily_costs($F, costopt.rollup_today() - 365, costopt.rollup_today())"
    "SELECT costopt.forecast_summary(days, vals, 7, 'auto', 0.95) FROM bench.series"
    "SELECT costopt.forecast_summary(days, vals, 30, 'auto', 0.95) FROM bench.series"
    "SELECT costopt.forecast_summary(days, vals, 7, 'holt_winters', 0.95) FROM bench.series"
    "SELECT costopt.forecast_summary(days, vals, 7, 'linear', 0.95) FROM bench.series"
  )
  log "2: $FORECAST_RUNS timed rounds of ${#p2_labels[@]} queries (after two warm-up rounds)"
  ql=$(printf '%s\037' "${p2_labels[@]}")
  qq=$(printf '%s\037' "${p2_queries[@]}")
  bpsql $DB -v ql="$ql" -v qq="$qq" -v runs="$FORECAST_RUNS" <<'SQL'
INSERT INTO bench.runs
SELECT * FROM bench.measure(string_to_array(rtrim(:'ql', chr(31)), chr(31)),
							string_to_array(rtrim(:'qq', chr(31)), chr(31)),
							NULL, :runs, 2);
SQL
  bpsql $DB -At -F ' ' -c "SELECT label, med, lo, hi FROM bench.summary" >"$WORK/p2_summary"
  p2() { awk -v l="$1" -v c="$2" '$1 == l { print $c }' "$WORK/p2_summary"; }
fi

# ===========================================================================
# Part 3: costopt_run_forecasts() for many organisations
# ===========================================================================
if part 3; then
  DB=stats_many
  new_db $DB
  log "3: $ORGS organisations x $ORG_DAYS days x $KEYS_PER_DAY daily rollup rows into costopt.cost_analysis"
  t=$(date +%s)
  n=$(bpsql $DB -At -c "SELECT bench.make_daily_rollups($ORGS, $ORG_DAYS, $KEYS_PER_DAY, $(seed_frac 3))")
  put p3_rollup_rows "$n"
  log "3: $n rows in $(( $(date +%s) - t )) s; VACUUM ANALYZE"
  bpsql $DB -c "VACUUM ANALYZE"
  P3_SIZE=$(bpsql $DB -At -c "SELECT pg_size_pretty(pg_total_relation_size('costopt.cost_analysis'))")

  # run_forecasts HORIZONS COMMIT KEY: one timed costopt_run_forecasts() in a
  # new session, rolled back unless COMMIT=1; ms and rows under KEY_ms_*, KEY_rows
  # The session counts the calls of costopt.forecast_summary() in the
  # transaction (track_functions = all: a counter per call of the function).
  FS="'costopt.forecast_summary(date[], float8[], integer, text, float8)'::regprocedure"
  rf_run() {
    local h=$1 commit=$2 key=$3 r=$4 ms rows calls end=ROLLBACK
    [ "$commit" = 1 ] && end=COMMIT
    settle $DB
    if ! read -r ms rows calls < <(bpsql $DB -At -F ' ' -c "SET track_functions = 'all'" -c "BEGIN" \
      -c "SELECT ms, result FROM bench.time_scalar('SELECT costopt_run_forecasts(''$h'')')" \
      -c "SELECT pg_stat_get_xact_function_calls($FS)" -c "$end" 2>>"$WORK/rf_errors" | paste -sd' ') ||
      [ -z "$ms" ]; then
      log "3: round $r/$RF_RUNS: costopt_run_forecasts('$h') FAILED: $(head -c 300 "$WORK/rf_errors")"
      put rf_failed 1
      return 0
    fi
    put "${key}_ms_$r" "$ms"
    put "${key}_rows" "$rows"
    put "${key}_calls" "$calls"
    [ "$commit" = 1 ] || bpsql $DB -c "VACUUM costopt.cost_forecasts"
    log "3: round $r/$RF_RUNS: costopt_run_forecasts('$h') $(sec "$ms") s, $rows rows, $calls calls of forecast_summary$([ "$commit" = 1 ] || echo ' (rolled back)')"
  }
  for r in $(seq 1 "$RF_RUNS"); do
    rf_run '{7}' 0 rf7 "$r"
    c=0; [ "$r" = "$RF_RUNS" ] && c=1
    rf_run '{7,30}' "$c" rf730 "$r"
  done
  if [ -z "$(get rf_failed)" ]; then
    put rf7_ms "$(median rf7_ms_)"
    put rf730_ms "$(median rf730_ms_)"
  fi

  # Where the time goes: the same work in pieces, each once.
  log "3: breakdown"
  settle $DB
  put p3_refresh_ms "$(bpsql $DB -At -c "SELECT bench.time_query('SELECT costopt_refresh_rollups()')")"
  read -r ms n < <(bpsql $DB -At -F ' ' -c "SELECT ms, result FROM bench.time_scalar('SELECT bench.build_series(365)')")
  put p3_series_ms "$ms"; put p3_series "$n"
  bpsql $DB -c "VACUUM ANALYZE bench.series"
  for h in 7 30; do
    read -r ms n < <(bpsql $DB -At -F ' ' -c "SET max_parallel_workers_per_gather = 0" -c "SET client_min_messages = warning" \
      -c "SELECT ms, result FROM bench.time_scalar('SELECT count(costopt.forecast_summary(days, vals, $h, ''auto'', 0.95)) FROM bench.series')")
    put "p3_engine${h}_ms" "$ms"
  done
  bpsql $DB -At -F ' ' -c "
    SELECT forecast_horizon_days, forecast_model, count(*)
      FROM costopt.cost_forecasts GROUP BY 1, 2 ORDER BY 1, 3 DESC" >"$WORK/p3_methods"
  read -r P3_HIST_MIN P3_HIST_MED P3_HIST_MAX P3_ORGS_FC < <(bpsql $DB -At -F ' ' -c "
    SELECT min(historical_days_used), percentile_disc(0.5) WITHIN GROUP (ORDER BY historical_days_used),
           max(historical_days_used), count(DISTINCT organization_id)
      FROM costopt.cost_forecasts WHERE forecast_horizon_days = 7")
  if [ "$EXPLAIN" = 1 ]; then
    log "3: costopt_run_forecasts('{7,30}') under auto_explain"
    bpsql $DB -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 100" \
      -c "SET auto_explain.log_analyze = on" -c "SET auto_explain.log_buffers = on" \
      -c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_level = warning" \
      -c "BEGIN" -c "SELECT costopt_run_forecasts('{7,30}')" -c "ROLLBACK" 2>"$WORK/plans_3" >/dev/null
  fi
fi

# ===========================================================================
# Results
# ===========================================================================
echo
echo "=== machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GB; load average at the start $LOAD_START," \
  "at the end $(cut -d' ' -f1-3 /proc/loadavg); whole run $(( ($(date +%s) - T0) / 60 )) min"
BUILD_ID_END=$(costopt_build_id)
if [ "$BUILD_ID_END" = "$BUILD_ID" ]; then
  echo "=== installed costopt: $BUILD_ID (md5 of library and install scripts), unchanged during the run"
else
  # The server preloads the library at start (shared_preload_libraries), so
  # it runs the library of $BUILD_ID throughout; a database runs the SQL of
  # the install script of the moment it was created.
  same=1
  for k in $(awk '$1 ~ /^db_build_/ { print $1 }' "$WORK/results"); do
    [ "$(get "$k")" = "$BUILD_ID" ] || same=0
  done
  echo "=== WARNING: the installed costopt changed during the run ($BUILD_ID -> $BUILD_ID_END):" \
    "$([ $same = 1 ] && echo "every database was created before the change and the server preloaded the library at start, so the run used $BUILD_ID throughout" ||
       echo "some databases were created with the new install script: parts may differ in version")"
fi

if part 1; then
  echo
  echo "=== 1. aggregates over $ROWS rows (bench.points, $P1_SIZE, in shared buffers): server-side ms,"
  echo "    median of $AGG_RUNS interleaved rounds; parallel = $WORKERS workers + leader, parallel costs 0"
  r1() { printf '  %-46s %9s %9s %9s %9s   %s\n' "$@"; }
  for shape in all grp; do
    echo
    if [ $shape = all ]; then echo "  SELECT agg FROM bench.points"
    else echo "  SELECT g, agg FROM bench.points GROUP BY g   ($NGROUPS groups)"; fi
    r1 "aggregate" "serial" "parallel" "ratio ser" "ratio par" "(ratio: to the built-in row below it)"
    for k in "${KINDS[@]}"; do
      s=$(p1 "${k}_${shape}_s" 2); p=$(p1 "${k}_${shape}_p" 2)
      case $k in
        trend) ref=regr ;;
        stats) ref=builtin4 ;;
        *) ref= ;;
      esac
      if [ -n "$ref" ]; then
        rs=$(printf '%.2f' "$(calc "$s / $(p1 "${ref}_${shape}_s" 2)")")
        rp=$(printf '%.2f' "$(calc "$p / $(p1 "${ref}_${shape}_p" 2)")")
        note="target <= 1.30"
      else
        rs= rp= note=
        [ $k = regr ] && note="reference of costopt_trend"
        [ $k = builtin4 ] && note="reference of costopt_stats"
        if [ $k = regr_f8 ]; then
          note="costopt_trend / this: $(printf '%.2f' "$(calc "$(p1 "trend_${shape}_s" 2) / $s")") serial, $(printf '%.2f' "$(calc "$(p1 "trend_${shape}_p" 2) / $p")") parallel"
        fi
      fi
      r1 "${NAME[$k]}" "$(msf "$s")" "$(msf "$p")" "$rs" "$rp" "$note"
    done
    echo "  range (min - max ms) of the costopt rows: trend $(msf "$(p1 "trend_${shape}_s" 3)") - $(msf "$(p1 "trend_${shape}_s" 4)") serial," \
      "$(msf "$(p1 "trend_${shape}_p" 3)") - $(msf "$(p1 "trend_${shape}_p" 4)") parallel;" \
      "stats $(msf "$(p1 "stats_${shape}_s" 3)") - $(msf "$(p1 "stats_${shape}_s" 4)") serial," \
      "$(msf "$(p1 "stats_${shape}_p" 3)") - $(msf "$(p1 "stats_${shape}_p" 4)") parallel"
    # aggregation work alone: minus the scan (count(*))
    net() { calc "($(p1 "${1}_${shape}_$3" 2) - $(p1 "count_${shape}_$3" 2)) / ($(p1 "${2}_${shape}_$3" 2) - $(p1 "count_${shape}_$3" 2))"; }
    echo "  without the scan (time minus count(*)'s): costopt_trend / built-in pair $(printf '%.2f' "$(net trend regr s)") serial," \
      "$(printf '%.2f' "$(net trend regr p)") parallel; costopt_stats / built-ins $(printf '%.2f' "$(net stats builtin4 s)") serial," \
      "$(printf '%.2f' "$(net stats builtin4 p)") parallel"
  done
  echo
  echo "  plans: parallel queries use a Partial Aggregate / Partial HashAggregate, serial ones no Gather:" \
    "$([ "$plan_bad" = 0 ] && echo yes || echo NO)"
  echo "  executed parallel plans with 'Workers Launched: $WORKERS': $(get p1_plans_launched) of 4"
  echo "  same results as the built-ins (max relative difference): trend $P1_TREND_DIFF, stats $P1_STATS_DIFF; n equal: $P1_N_OK"
fi

if part 2; then
  echo
  echo "=== 2. costopt_forecast() of one organisation: $(get p2_calls) calls over $FORECAST_DAYS days through the usage log,"
  echo "    $P2_DAILY_ROWS daily rollup rows; the forecast reads the last 365 days ($P2_HIST days used, auto chose $P2_METHOD);"
  echo "    server-side ms, median of $FORECAST_RUNS interleaved rounds after 2 warm-up rounds"
  r2() { printf '  %-78s %8s %17s   %s\n' "$@"; }
  r2 "statement" "median" "range" "target"
  row2() { r2 "$2" "$(msf "$(p2 "$1" 2)")" "$(msf "$(p2 "$1" 3)") - $(msf "$(p2 "$1" 4)")" "${3:-}"; }
  row2 auto7 "SELECT * FROM costopt_forecast('$ORG')                (7 days, auto)" "< 20 ms"
  row2 auto30 "SELECT * FROM costopt_forecast('$ORG', 30)" "< 20 ms"
  row2 hw7 "SELECT * FROM costopt_forecast('$ORG', 7, 'holt_winters')" "< 20 ms"
  row2 hw30 "SELECT * FROM costopt_forecast('$ORG', 30, 'holt_winters')" "< 20 ms"
  row2 lin7 "SELECT * FROM costopt_forecast('$ORG', 7, 'linear')" "< 20 ms"
  row2 lin30 "SELECT * FROM costopt_forecast('$ORG', 30, 'linear')" "< 20 ms"
  row2 total7 "SELECT * FROM costopt_forecast_total('$ORG')"
  echo "  parts of it:"
  row2 read "  costopt.daily_costs(org, today - 365, today)     (the series it reads)"
  row2 engine7 "  costopt.forecast_summary(days, vals, 7, 'auto')  (the engine, prebuilt arrays)"
  row2 engine30 "  costopt.forecast_summary(days, vals, 30, 'auto')"
  row2 engine_hw7 "  costopt.forecast_summary(days, vals, 7, 'holt_winters')"
  row2 engine_lin7 "  costopt.forecast_summary(days, vals, 7, 'linear')"
  echo "  engine share of costopt_forecast('$ORG'): $(printf '%.0f%%' "$(calc "100 * $(p2 engine7 2) / $(p2 auto7 2)")") (7 days)," \
    "$(printf '%.0f%%' "$(calc "100 * $(p2 engine30 2) / $(p2 auto30 2)")") (30 days)"
fi

if part 3; then
  echo
  echo "=== 3. costopt_run_forecasts() for $ORGS organisations: $(get p3_rollup_rows) daily rollup rows written directly"
  echo "    ($ORG_DAYS days, $KEYS_PER_DAY keys a day; cost_analysis $P3_SIZE); server-side seconds, median of $RF_RUNS runs"
  r3() { printf '  %-58s %9s %13s %9s %12s   %s\n' "$@"; }
  if [ -n "$(get rf_failed)" ]; then
    echo "  costopt_run_forecasts() FAILED (the runs that succeeded are in the log above):"
    sed 's/^/    /' "$WORK/rf_errors" | head -20
    fail=1
  else
    r3 "statement" "median s" "range s" "rows" "ms per org" "target"
  for k in rf730 rf7; do
    h='{7,30}'; [ $k = rf7 ] && h='{7}'
    r3 "SELECT costopt_run_forecasts('$h')" "$(sec "$(get ${k}_ms)")" "$(range ${k}_ms_)" "$(get ${k}_rows)" \
      "$(printf '%.2f' "$(calc "$(get ${k}_ms) / $(get p3_series)")")" "< 60 s"
  done
  echo "  {7,30} / {7}: $(printf '%.2f' "$(calc "$(get rf730_ms) / $(get rf7_ms)")")"
  echo "  calls of costopt.forecast_summary() per run: {7,30} $(get rf730_calls), {7} $(get rf7_calls);" \
    "per organisation and horizon (after the one validation call per horizon):" \
    "$(printf '%.1f' "$(calc "($(get rf730_calls) - 2) / (2 * $(get p3_series))")"),"\
    "$(printf '%.1f' "$(calc "($(get rf7_calls) - 1) / $(get p3_series)")")"
  fi
  echo "  the same work in pieces (each once):"
  r3 "  costopt_refresh_rollups(), nothing pending" "$(sec "$(get p3_refresh_ms)")"
  r3 "  every organisation's year as arrays (bench.build_series)" "$(sec "$(get p3_series_ms)")" "" "$(get p3_series)"
  r3 "  forecast_summary(..., 7, 'auto') for each series" "$(sec "$(get p3_engine7_ms)")" "" "" \
    "$(printf '%.2f' "$(calc "$(get p3_engine7_ms) / $(get p3_series)")")"
  r3 "  forecast_summary(..., 30, 'auto') for each series" "$(sec "$(get p3_engine30_ms)")" "" "" \
    "$(printf '%.2f' "$(calc "$(get p3_engine30_ms) / $(get p3_series)")")"
  ENG=$(calc "$(get p3_engine7_ms) + $(get p3_engine30_ms)")
  if [ -z "$(get rf_failed)" ]; then
    echo "  engine for {7,30} $(sec "$ENG") s = $(printf '%.0f%%' "$(calc "100 * $ENG / $(get rf730_ms)")") of costopt_run_forecasts('{7,30}');" \
      "reading the series $(printf '%.0f%%' "$(calc "100 * $(get p3_series_ms) / $(get rf730_ms)")")"
  fi
  echo "  history used (days, horizon 7): min $P3_HIST_MIN, median $P3_HIST_MED, max $P3_HIST_MAX; organisations forecast: $P3_ORGS_FC"
  echo "  methods chosen by auto (horizon, method, organisations):"
  sed 's/^/    /' "$WORK/p3_methods"
  if [ -z "$(get rf_failed)" ] && { [ "$(get rf7_rows)" != "$(get p3_series)" ] ||
       [ "$(get rf730_rows)" != "$(( 2 * $(get p3_series) ))" ]; }; then
    echo "  rows written differ from the organisations with spend ($(get p3_series)) per horizon"
    fail=1
  fi
fi

if part 1; then
  echo
  echo "=== details: executed parallel plans (part 1)"
  cat "$WORK/plans_1"
fi
if part 3 && [ "$EXPLAIN" = 1 ]; then
  echo
  echo "=== details: costopt_run_forecasts('{7,30}') under auto_explain"
  cat "$WORK/plans_3"
fi
if [ "$fail" = 1 ]; then
  echo "check FAILED (see above)" >&2
  exit 1
fi
