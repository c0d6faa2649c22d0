#!/usr/bin/env bash
# Budget benchmark for costopt (see bench/budgets/README.md).
#
#   bash bench/budgets/run.sh              full run: 10,000 budgets, 8 clients (~7 min)
#   SMOKE=1 bash bench/budgets/run.sh      smoke run: 2,000 budgets, 5 s pgbench runs (~1 min)
#
# 1. Data: calls through costopt.api_usage_logs (costing and capture
#    triggers fire): OLD_ROWS before the current (monthly, UTC) period,
#    PERIOD_ROWS in it; then 4 * ORGS budgets (per organisation one
#    organisation-wide and one per user u1..u3; hard, soft and none), limits
#    from the spend so far.
# 2. costopt_refresh_budgets(), each timed on the server in a new session:
#    "init" (every budget just created: spend from the raw log), "steady"
#    (nothing new), "deltas" (after NEW_ROWS calls over the last NEW_MINUTES
#    minutes), "minute" (after MINUTE_ROWS calls in the last minute); all
#    but the last round of init, deltas and minute are rolled back.  Also
#    SELECT count(*) FROM costopt.v_active_budget_status (just created, with
#    pending deltas, steady) and costopt_budget_status(id).
# 3. pgbench -M prepared, CLIENTS clients, PGBENCH_SECONDS per run, ROUNDS
#    interleaved rounds of: SELECT 1 (baseline), an index probe of the
#    organisation's budget rows, costopt_check_budget(), a plain INSERT of a
#    call into the usage log (second baseline) and reserve+settle
#    (costopt_reserve, then the INSERT naming the reservation).  Before each
#    run: a refresh, VACUUM and CHECKPOINT.  Also the server-side cost of
#    SELECT 1, the probe and the check alone (PL/pgSQL loops, no round trip).
# 4. Refresh under load: reserve+settle for LOAD_SECONDS while a refresh
#    runs REFRESH_EVERY seconds after the last one ended (deadlocks, stalls,
#    refresh times).
# 5. Admission under contention: CLIENTS clients reserve $0.01 HARD_TX times
#    each on HARD_ORGS organisations with hard budgets of $1 (users $0.50),
#    grace 10%, never settled.
#
# Checks (exit status 1 when one fails; no time ever fails the run):
#   * right after the budgets are created, after every refresh, and (through
#     the view) with deltas pending, every active budget's spend and priced
#     calls (costopt.budgets unless deltas are pending,
#     costopt.v_active_budget_status always) equal the raw log's sum over its
#     scope and current period;
#   * after the pgbench runs and a last refresh: no reservation left open,
#     reserved = 0 on every budget;
#   * admission: every hard organisation budget admitted exactly its limit
#     plus grace ($1.10), every user budget at most $0.55, budgets.reserved
#     equals the admitted reservations, the check refuses the next call, no
#     pgbench transaction failed;
#   * costopt_check_budget() is inlined (its generic plan is an index scan
#     on budgets_org_idx, no function scan).
#
# Environment (all optional; SMOKE=1 changes the defaults marked *):
#   ORGS=2500 *            organisations (4 budgets each: 10,000 budgets)
#   OLD_ROWS=100000 *      calls in the 60 days before the current period
#   PERIOD_ROWS=200000 *   calls in the current period before the budgets exist
#   NEW_ROWS=200000 *      calls over the last NEW_MINUTES minutes, after the
#                          budgets exist (budget deltas for the "deltas" refresh)
#   NEW_MINUTES=60         minutes they cover
#   MINUTE_ROWS=2000 *     calls in the last minute for the "minute" refresh
#   CHUNK_ROWS=50000       calls per INSERT transaction
#   REFRESH_RUNS=3 *       timed refreshes of each kind
#   VIEW_RUNS=3            timed reads of the view (steady and pending deltas)
#   CLIENTS=8              pgbench clients
#   THREADS=min(nproc, CLIENTS)   pgbench threads
#   PGBENCH_SECONDS=20 *   length of one pgbench run
#   ROUNDS=3 *             interleaved rounds of the five pgbench scripts
#   LOAD_SECONDS=30 *      length of the refresh-under-load run (0 skips it)
#   REFRESH_EVERY=1        seconds from the end of one refresh to the start of the next
#   HARD_ORGS=10           organisations of the admission check
#   HARD_TX=400            reservations per client in it
#   LOOP_CALLS=20000       calls per server-side loop (SELECT 1, probe, check)
#   SEED=20251123          seed of the data generators
#   BUILD=0                1: build and install costopt first (scripts/common.sh)
#   KEEP_CLUSTER=0         1: keep the stopped cluster's directory afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  ORGS=${ORGS:-500} OLD_ROWS=${OLD_ROWS:-20000} PERIOD_ROWS=${PERIOD_ROWS:-40000}
  NEW_ROWS=${NEW_ROWS:-40000} MINUTE_ROWS=${MINUTE_ROWS:-400} REFRESH_RUNS=${REFRESH_RUNS:-1}
  PGBENCH_SECONDS=${PGBENCH_SECONDS:-5} ROUNDS=${ROUNDS:-1} LOAD_SECONDS=${LOAD_SECONDS:-8}
fi
ORGS=${ORGS:-2500}
OLD_ROWS=${OLD_ROWS:-100000}
PERIOD_ROWS=${PERIOD_ROWS:-200000}
NEW_ROWS=${NEW_ROWS:-200000}
NEW_MINUTES=${NEW_MINUTES:-60}
MINUTE_ROWS=${MINUTE_ROWS:-2000}
CHUNK_ROWS=${CHUNK_ROWS:-50000}
REFRESH_RUNS=${REFRESH_RUNS:-3}
VIEW_RUNS=${VIEW_RUNS:-3}
CLIENTS=${CLIENTS:-8}
NPROC=$(nproc)
THREADS=${THREADS:-$((NPROC < CLIENTS ? NPROC : CLIENTS))}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
ROUNDS=${ROUNDS:-3}
LOAD_SECONDS=${LOAD_SECONDS:-30}
REFRESH_EVERY=${REFRESH_EVERY:-1}
HARD_ORGS=${HARD_ORGS:-10}
HARD_TX=${HARD_TX:-400}
LOOP_CALLS=${LOOP_CALLS:-20000}
SEED=${SEED:-20251123}
BUILD=${BUILD:-0}
BENCH_DIR=$REPO/bench/budgets
DB=budgets

for v in ORGS OLD_ROWS PERIOD_ROWS NEW_ROWS NEW_MINUTES MINUTE_ROWS CHUNK_ROWS REFRESH_RUNS VIEW_RUNS \
  CLIENTS THREADS PGBENCH_SECONDS ROUNDS LOAD_SECONDS REFRESH_EVERY HARD_ORGS HARD_TX LOOP_CALLS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a non-negative integer" >&2; exit 2; }
done
for v in ORGS PERIOD_ROWS NEW_ROWS NEW_MINUTES MINUTE_ROWS CHUNK_ROWS REFRESH_RUNS VIEW_RUNS CLIENTS \
  THREADS PGBENCH_SECONDS ROUNDS REFRESH_EVERY HARD_ORGS HARD_TX LOOP_CALLS; do
  [ "${!v}" -gt 0 ] || { echo "$v must be positive" >&2; exit 2; }
done

. bench/lib.sh
seed_frac() { awk -v s="$SEED" -v k="$1" 'BEGIN { x = (s % 1000003) / 1000003 + k * 0.6180339887; printf "%.12f", x - int(x) }'; }
# settle: write out dirty buffers and WAL (fsync is off, so sync(1) too)
settle() { bpsql $DB -c "CHECKPOINT"; sync; }
vacuum_budgets() {
  bpsql $DB -c "VACUUM costopt.budgets, costopt.budget_deltas, costopt.budget_reservations,
                       costopt.budget_history, costopt.budget_alerts"
}
ms1() { printf '%.1f' "$1"; }
ms0() { printf '%.0f' "$1"; }
fail=0
failed() { log "CHECK FAILED: $*"; echo "CHECK FAILED: $*" >>"$WORK/failures"; fail=1; }

# ---------------------------------------------------------------------------
# Build and throwaway cluster: test/costopt.conf plus bench/budgets/bench.conf.
# ---------------------------------------------------------------------------
ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi

bench_cluster budgets "$BENCH_DIR"
: >"$WORK/failures"
# A costopt scheduler, if this build has one, must not refresh behind our back.
if sched=$(psql -X -At -d postgres -c "SHOW costopt.scheduler" 2>/dev/null); then
  if [ "$sched" != off ]; then
    log "turning costopt.scheduler off (was $sched)"
    psql -X -q -d postgres -c "ALTER SYSTEM SET costopt.scheduler = off" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    if [ "$(psql -X -At -d postgres -c "SHOW costopt.scheduler")" != off ]; then
      as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w restart >/dev/null
    fi
  fi
  SCHEDULER="costopt.scheduler = $(psql -X -At -d postgres -c "SHOW costopt.scheduler")"
else
  SCHEDULER="no costopt.scheduler setting in this build"
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
bpsql $DB -c "ALTER DATABASE $DB SET synchronous_commit = off" -c "CREATE EXTENSION costopt"
DB_BUILD=$(costopt_build_id)
bpsql $DB -f "$BENCH_DIR/setup.sql" >/dev/null
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)
REPO_HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')

# check_spend LABEL TABLE_TOO: every active budget's spend against the raw
# log, through the view and (TABLE_TOO=1, right after a refresh) in
# costopt.budgets.  Results under spend_LABEL_*.
check_spend() {
  local label=$1 table_too=$2 n td vr vd total
  read -r n td vr vd total < <(bpsql $DB -At -F ' ' -c "SELECT * FROM bench.spend_mismatches()")
  put "spend_${label}_budgets" "$n"; put "spend_${label}_table" "$td"
  put "spend_${label}_view" "$vd"; put "spend_${label}_total" "$total"
  [ "$vr" = "$n" ] && [ "$vd" = 0 ] || failed "$label: view rows $vr of $n budgets, $vd differ from the raw log"
  if [ "$table_too" = 1 ] && [ "$td" != 0 ]; then failed "$label: $td budgets' current_spend differ from the raw log"; fi
  log "check $label: $n budgets, raw spend \$$total; differing: view $vd$([ "$table_too" = 1 ] && echo ", table $td")"
}

# refresh_run KEY R COMMIT: one timed refresh in a new session (rolled back
# unless COMMIT=1), with the calls of costopt.scope_spend() it made.
refresh_run() {
  local key=$1 r=$2 commit=$3 end=ROLLBACK ms b d ro al pa ex calls
  [ "$commit" = 1 ] && end=COMMIT
  settle
  read -r ms b d ro al pa ex calls < <(bpsql $DB -At -F ' ' -c "SET track_functions = 'all'" -c "BEGIN" \
    -c "SELECT * FROM bench.timed_refresh()" \
    -c "SELECT coalesce(pg_stat_get_xact_function_calls('costopt.scope_spend'::regproc), 0)" -c "$end" |
    paste -sd' ')
  put "${key}_ms_$r" "$ms"
  put "${key}_deltas" "$d"; put "${key}_alerts" "$al"; put "${key}_paused" "$pa"
  put "${key}_raw_calls" "$calls"; put "${key}_budgets" "$b"; put "${key}_rolled" "$ro"
  [ "$commit" = 1 ] || vacuum_budgets
  log "refresh $key $r/$REFRESH_RUNS: $(ms0 "$ms") ms; $b budgets, $d delta rows, $ro rolled over, $al alerts," \
    "$pa paused, $calls scope_spend calls$([ "$commit" = 1 ] || echo ' (rolled back)')"
}
refresh_kind() {
  local key=$1 last_commits=$2 r c
  for r in $(seq 1 "$REFRESH_RUNS"); do
    c=1; [ "$last_commits" = 1 ] && [ "$r" -lt "$REFRESH_RUNS" ] && c=0
    refresh_run "$key" "$r" "$c"
  done
  put "${key}_ms" "$(median "${key}_ms_")"
}
# view_run KEY RUNS: timed SELECT count(*) FROM the view, a new session each.
view_run() {
  local key=$1 runs=$2 r ms calls
  for r in $(seq 1 "$runs"); do
    read -r ms calls < <(bpsql $DB -At -F ' ' -c "SET track_functions = 'all'" -c "BEGIN" \
      -c "SELECT bench.time_query('SELECT count(*) FROM costopt.v_active_budget_status')" \
      -c "SELECT coalesce(pg_stat_get_xact_function_calls('costopt.scope_spend'::regproc), 0)" -c "COMMIT" |
      paste -sd' ')
    put "${key}_ms_$r" "$ms"; put "${key}_raw_calls" "$calls"
  done
  put "${key}_ms" "$(median "${key}_ms_")"
  log "view $key: $(ms0 "$(get "${key}_ms")") ms (median of $runs), $(get "${key}_raw_calls") scope_spend calls"
}
# insert_usage N FROM_SQL TO_SQL STREAM: N calls in chunks of CHUNK_ROWS
insert_usage() {
  local n=$1 from=$2 to=$3 stream=$4 first=0 k c=0
  while [ "$first" -lt "$n" ]; do
    k=$((n - first < CHUNK_ROWS ? n - first : CHUNK_ROWS))
    bpsql $DB -At -c "SELECT bench.make_usage($k, $ORGS, $from, $to, $(seed_frac "$stream$c"))" >/dev/null
    first=$((first + k)); c=$((c + 1))
  done
}

# ===========================================================================
# 1. Data
# ===========================================================================
log "1: $OLD_ROWS calls before the period, $PERIOD_ROWS in it ($ORGS organisations)"
t=$(date +%s)
PSTART="bench.period_start()"
# the calls of the period end NEW_MINUTES before now (or at the period start)
PEND="greatest(bench.period_start(), now() - interval '$NEW_MINUTES minutes')"
[ "$OLD_ROWS" -gt 0 ] && insert_usage "$OLD_ROWS" "$PSTART - interval '60 days'" "$PSTART" 1
insert_usage "$PERIOD_ROWS" "$PSTART" "$PEND" 2
put data_s $(( $(date +%s) - t ))
bpsql $DB -c "VACUUM ANALYZE"
put_ms=$(bpsql $DB -At -c "SELECT bench.time_query('SELECT bench.make_budgets($ORGS, $(seed_frac 3))')")
nb=$(bpsql $DB -At -c "SELECT count(*) FROM costopt.budgets")
put create_ms "$put_ms"; put budgets "$nb"
bpsql $DB -c "VACUUM ANALYZE costopt.budgets"
IFS='|' read -r PERIOD_START PERIOD_END < <(bpsql $DB -At -F '|' -c "SELECT min(period_start), max(period_end) FROM costopt.budgets")
bpsql $DB -At -F ' ' -c "SELECT enforcement, count(*) FROM costopt.budgets GROUP BY 1 ORDER BY 1" >"$WORK/enforcement"
log "1: $nb budgets inserted in $(ms0 "$put_ms") ms; period $PERIOD_START .. $PERIOD_END"
if [ "$(bpsql $DB -At -c "SELECT now() + interval '20 minutes' >= max(period_end) FROM costopt.budgets")" = t ]; then
  log "WARNING: the budget period ends within 20 minutes: refreshes may roll it over during the run"
fi

# ===========================================================================
# 2. Refresh and view
# ===========================================================================
log "2: the view with every budget just created (spend from the raw log)"
view_run view_init 1
check_spend created 1

log "2: refresh, every budget just created ($REFRESH_RUNS rounds, all but the last rolled back)"
refresh_kind init 1
check_spend init 1

log "2: refresh with nothing new ($REFRESH_RUNS rounds, committed)"
refresh_kind steady 0
view_run view_steady "$VIEW_RUNS"
# costopt_budget_status() of 50 budgets spread over the ids, each timed
read -r st_med st_max < <(bpsql $DB -At -F ' ' -c "
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), max(ms)
    FROM (SELECT bench.time_query(format('SELECT count(*) FROM costopt_budget_status(%s)', id)) AS ms
            FROM costopt.budgets WHERE id % (SELECT greatest(count(*) / 50, 1) FROM costopt.budgets) = 0
           LIMIT 50) x")
put status_ms "$st_med"; put status_max_ms "$st_max"

log "2: $NEW_ROWS calls over the last $NEW_MINUTES minutes"
t=$(date +%s)
insert_usage "$NEW_ROWS" "now() - interval '$NEW_MINUTES minutes'" "now()" 4
put new_s $(( $(date +%s) - t ))
put pending_deltas "$(bpsql $DB -At -c "SELECT count(*) FROM costopt.budget_deltas")"
view_run view_pending "$VIEW_RUNS"
check_spend pending 0

log "2: refresh consuming $(get pending_deltas) delta rows ($REFRESH_RUNS rounds, all but the last rolled back)"
refresh_kind deltas 1
check_spend deltas 1

log "2: $MINUTE_ROWS calls in the last minute, refresh"
insert_usage "$MINUTE_ROWS" "now() - interval '1 minute'" "now()" 5
refresh_kind minute 1
check_spend minute 1
read -r AL_WARN AL_CRIT AL_EXC AL_PAUSED < <(bpsql $DB -At -F ' ' -c "
  SELECT count(*) FILTER (WHERE alert_level = 'warning'), count(*) FILTER (WHERE alert_level = 'critical'),
         count(*) FILTER (WHERE alert_level = 'exceeded'), count(*) FILTER (WHERE paused_at IS NOT NULL)
    FROM costopt.budgets")

# ===========================================================================
# Plans of the check
# ===========================================================================
PLAN_CUSTOM=$(bpsql $DB -At -c "EXPLAIN (COSTS OFF) SELECT * FROM costopt_check_budget('org-42', 'org-42-u2', NULL, 0.01)")
PLAN_GENERIC=$(bpsql $DB -At -c "PREPARE p(text, text) AS SELECT * FROM costopt_check_budget('org-' || \$1, CASE WHEN \$2::integer > 0 THEN 'org-' || \$1 || '-u' || \$2 END, NULL, 0.01)" \
  -c "SET plan_cache_mode = force_generic_plan" -c "EXPLAIN (COSTS OFF) EXECUTE p('42', '2')")
plan_ok=1
for p in "$PLAN_CUSTOM" "$PLAN_GENERIC"; do
  grep -q "Index Scan using budgets_org_idx" <<<"$p" && ! grep -q "Function Scan" <<<"$p" || plan_ok=0
done
[ "$plan_ok" = 1 ] || failed "costopt_check_budget() is not inlined into an index scan on budgets_org_idx"
PLAN_ANALYZE=$(bpsql $DB -At -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM costopt_check_budget('org-42', 'org-42-u2', NULL, 0.01)")
# what the checks of every (organisation, user) pair decide now
bpsql $DB -At -F ' ' -c "
  SELECT c.allowed, c.reason, count(*)
    FROM generate_series(1, $ORGS) o, generate_series(0, 3) u,
         LATERAL costopt_check_budget('org-' || o, CASE WHEN u > 0 THEN 'org-' || o || '-u' || u END, NULL, 0.01) c
   GROUP BY 1, 2 ORDER BY 3 DESC" >"$WORK/decisions"

# Server-side cost of a call alone (no round trip): LOOP_CALLS calls in a
# PL/pgSQL loop, 3 interleaved rounds, median.
log "3: server-side loops of $LOOP_CALLS calls"
for r in 1 2 3; do
  for k in select1 probe check; do
    put "loop_${k}_$r" "$(bpsql $DB -At -c "SELECT bench.loop_us('$k', $LOOP_CALLS, $ORGS)")"
  done
done
for k in select1 probe check; do put "loop_$k" "$(median "loop_${k}_")"; done

# ===========================================================================
# 3. pgbench
# ===========================================================================
KINDS=(select1 probe check insert reserve_settle)
declare -A KNAME=(
  [select1]="SELECT 1"
  [probe]="index probe of the organisation's budgets"
  [check]="costopt_check_budget()"
  [insert]="INSERT of a call (no budget)"
  [reserve_settle]="reserve + settle"
)
# prepare_run: what the scheduler would have done, then a clean slate
prepare_run() {
  bpsql $DB -At -c "SELECT * FROM costopt_refresh_budgets()" >/dev/null
  vacuum_budgets
  settle
}
# pgbench_run SCRIPT OUT [ARGS...]: prints tps latency_ms processed failed retried
pgbench_run() {
  local script=$1 out=$2; shift 2
  pgbench -n -r -M prepared -c "$CLIENTS" -j "$THREADS" -D orgs="$ORGS" -D hard_orgs="$HARD_ORGS" \
    "$@" -f "$script" $DB >"$out" 2>"$out.err" || { cat "$out" "$out.err" >&2; return 1; }
  awk '/^tps = / { tps = $3 } /^latency average = / { lat = $4 }
       /^number of transactions actually processed: / { split($6, a, "/"); n = a[1] }
       /^number of failed transactions: / { f = $5 }
       /^number of transactions retried: / { r = $5 }
       END { print tps, lat, n, f + 0, r + 0 }' "$out"
}

log "3: pgbench, $CLIENTS clients, $THREADS threads, ${PGBENCH_SECONDS} s a run, $ROUNDS rounds of ${KINDS[*]}"
nk=${#KINDS[@]}
for r in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((nk - 1))); do
    k=${KINDS[$(((r - 1 + i) % nk))]}
    prepare_run
    rid0=$(bpsql $DB -At -c "SELECT coalesce(max(id), 0) FROM costopt.budget_reservations")
    out="$WORK/pgbench_${k}_$r"
    read -r tps lat n f rt < <(pgbench_run "$BENCH_DIR/$k.sql" "$out" -T "$PGBENCH_SECONDS")
    put "tps_${k}_$r" "$tps"; put "lat_${k}_$r" "$lat"
    [ "$f" = 0 ] || failed "pgbench $k round $r: $f failed transactions"
    if [ "$k" = reserve_settle ]; then
      put "admitted_$r" "$(bpsql $DB -At -c "SELECT count(*) FROM costopt.budget_reservations WHERE id > $rid0")"
      put "tx_reserve_$r" "$n"
      # per-statement latencies (-r): the reservation and the INSERT
      put "stmt_reserve_$r" "$(awk '$1 ~ /^[0-9.]+$/ && /SELECT coalesce\(reservation_id/ { print $1 }' "$out")"
      put "stmt_settle_$r" "$(awk '$1 ~ /^[0-9.]+$/ && /INSERT INTO/ { print $1 }' "$out")"
    fi
    log "3: round $r/$ROUNDS $k: $tps tps, latency $lat ms, $n transactions, $f failed"
  done
done
for k in "${KINDS[@]}"; do
  put "tps_$k" "$(median "tps_${k}_")"; put "lat_$k" "$(median "lat_${k}_")"
done
put stmt_reserve "$(median stmt_reserve_)"; put stmt_settle "$(median stmt_settle_)"
# ratio_range A B: min - max over the rounds of tps(B) / tps(A) (time of A / time of B)
ratio_range() {
  local r lo="" hi="" x
  for r in $(seq 1 "$ROUNDS"); do
    x=$(calc "$(get "tps_${2}_$r") / $(get "tps_${1}_$r")")
    lo=$(awk -v a="$lo" -v b="$x" 'BEGIN { print (a == "" || b < a) ? b : a }')
    hi=$(awk -v a="$hi" -v b="$x" 'BEGIN { print (a == "" || b > a) ? b : a }')
  done
  printf '%.2f - %.2f' "$lo" "$hi"
}

# ===========================================================================
# 4. Refresh under load
# ===========================================================================
if [ "$LOAD_SECONDS" -gt 0 ]; then
  log "4: reserve+settle for $LOAD_SECONDS s with refreshes $REFRESH_EVERY s apart"
  prepare_run
  pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -D orgs="$ORGS" -T "$LOAD_SECONDS" -P 1 --max-tries=10 \
    -f "$BENCH_DIR/reserve_settle.sql" $DB >"$WORK/load.out" 2>"$WORK/load.progress" &
  load_pid=$!
  : >"$WORK/load_refresh"
  nref=0 nfail=0
  sleep "$REFRESH_EVERY"
  while kill -0 "$load_pid" 2>/dev/null; do
    if ms=$(bpsql $DB -At -c "SELECT ms FROM bench.timed_refresh()" 2>>"$WORK/load_refresh_errors"); then
      echo "$ms" >>"$WORK/load_refresh"
      put "load_refresh_ms_$nref" "$ms"
    else
      nfail=$((nfail + 1))
    fi
    nref=$((nref + 1))
    sleep "$REFRESH_EVERY"
  done
  wait "$load_pid" || { cat "$WORK/load.out" "$WORK/load.progress" >&2; failed "pgbench under load exited with an error"; }
  read -r LOAD_TPS LOAD_LAT LOAD_N LOAD_FAILED LOAD_RETRIED < <(awk '
       /^tps = / { tps = $3 } /^latency average = / { lat = $4 }
       /^number of transactions actually processed: / { split($6, a, "/"); n = a[1] }
       /^number of failed transactions: / { f = $5 } /^number of transactions retried: / { r = $5 }
       END { print tps, lat, n, f + 0, r + 0 }' "$WORK/load.out")
  LOAD_STALLS=$(awk -v t="$(get tps_reserve_settle)" '/^progress: / && $4 + 0 < 0.1 * t { n++ } END { print n + 0 }' "$WORK/load.progress")
  LOAD_DEADLOCKS=$(grep -c "deadlock detected" "$WORK/load_refresh_errors" 2>/dev/null || true)
  LOAD_OTHER_ERR=$(grep "^ERROR" "$WORK/load_refresh_errors" 2>/dev/null | grep -vc "deadlock detected" || true)
  put load_refreshes "$nref"; put load_refresh_failed "$nfail"
  log "4: $LOAD_TPS tps, $LOAD_RETRIED transactions retried, $LOAD_FAILED failed; refreshes $nref," \
    "$nfail failed ($LOAD_DEADLOCKS deadlocks); $LOAD_STALLS seconds under 10% of the normal rate"
  [ "$LOAD_FAILED" = 0 ] || log "4: $LOAD_FAILED reserve+settle transactions failed even after 10 tries"
fi

# ===========================================================================
# Final checks: the last refresh leaves nothing open
# ===========================================================================
log "final refresh and checks"
bpsql $DB -At -c "SELECT * FROM costopt_refresh_budgets()" >/dev/null
check_spend final 1
read -r OPEN_RES RESERVED_SUM RES_TOTAL RES_CLOSED RES_SIZE < <(bpsql $DB -At -F ' ' -c "
  SELECT (SELECT count(*) FROM costopt.budget_reservations WHERE status IN ('active', 'settled')),
         (SELECT sum(reserved) FROM costopt.budgets),
         (SELECT count(*) FROM costopt.budget_reservations),
         (SELECT count(*) FROM costopt.budget_reservations WHERE status = 'closed'),
         (SELECT replace(pg_size_pretty(pg_total_relation_size('costopt.budget_reservations')), ' ', ''))")
[ "$OPEN_RES" = 0 ] || failed "$OPEN_RES reservations still open after the last refresh"
[ "$(calc "$RESERVED_SUM == 0")" = 1 ] || failed "budgets still hold \$$RESERVED_SUM reserved after the last refresh"

# ===========================================================================
# 5. Admission under contention
# ===========================================================================
log "5: $CLIENTS clients x $HARD_TX reservations of \$0.01 on $HARD_ORGS organisations with hard budgets"
bpsql $DB -At -c "SELECT bench.make_hard_budgets($HARD_ORGS)" >/dev/null
read -r H_TPS H_LAT H_N H_FAILED H_RETRIED < <(pgbench_run "$BENCH_DIR/hard_reserve.sql" "$WORK/hard.out" -t "$HARD_TX")
[ "$H_FAILED" = 0 ] && [ "$H_N" = $((CLIENTS * HARD_TX)) ] ||
  failed "admission: $H_N of $((CLIENTS * HARD_TX)) reservations processed, $H_FAILED failed"
read -r H_BUDGETS H_ORG_FULL H_OVER H_USER_MAX H_RES_DIFF H_ADMITTED H_ORG_MIN H_ORG_MAX < <(bpsql $DB -At -F ' ' <<'SQL'
WITH b AS (
	SELECT id, user_id, limit_usd * (1 + grace_fraction) AS ceiling, reserved
	  FROM costopt.budgets WHERE organization_id LIKE 'hard-%'
), s AS (
	SELECT b.*, coalesce((SELECT sum(r.estimated_cost) FROM costopt.budget_reservations r
						   WHERE r.status = 'active' AND b.id = ANY (r.budget_ids)), 0) AS admitted
	  FROM b
)
SELECT count(*),
	   count(*) FILTER (WHERE user_id IS NULL AND admitted = ceiling),
	   count(*) FILTER (WHERE admitted > ceiling),
	   max(admitted) FILTER (WHERE user_id IS NOT NULL),
	   count(*) FILTER (WHERE reserved <> admitted),
	   (SELECT count(*) FROM costopt.budget_reservations r
		 WHERE r.organization_id LIKE 'hard-%' AND r.status = 'active'),
	   min(admitted) FILTER (WHERE user_id IS NULL), max(admitted) FILTER (WHERE user_id IS NULL)
  FROM s;
SQL
)
H_REFUSES=$(bpsql $DB -At -c "SELECT count(*) FROM generate_series(1, $HARD_ORGS) o,
  LATERAL costopt_check_budget('hard-' || o, NULL, NULL, 0.01) c WHERE NOT c.allowed")
[ "$H_OVER" = 0 ] || failed "admission: $H_OVER hard budgets admitted more than limit plus grace"
[ "$H_ORG_FULL" = "$HARD_ORGS" ] || failed "admission: $H_ORG_FULL of $HARD_ORGS organisation budgets filled exactly to \$1.10 (min \$$H_ORG_MIN, max \$$H_ORG_MAX)"
[ "$H_RES_DIFF" = 0 ] || failed "admission: $H_RES_DIFF budgets' reserved differs from their admitted reservations"
[ "$H_REFUSES" = "$HARD_ORGS" ] || failed "admission: the check refuses the next call on $H_REFUSES of $HARD_ORGS full budgets"
log "5: $H_ADMITTED of $H_N admitted; organisation budgets at \$$H_ORG_MIN - \$$H_ORG_MAX; user budgets at most \$$H_USER_MAX"

# ===========================================================================
# Results
# ===========================================================================
echo
echo "=== machine: $NPROC CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GB; load average at the start $LOAD_START," \
  "at the end $(cut -d' ' -f1-3 /proc/loadavg); whole run $(( ($(date +%s) - T0) / 60 )) min $(( ($(date +%s) - T0) % 60 )) s"
BUILD_ID_END=$(costopt_build_id)
if [ "$BUILD_ID_END" = "$BUILD_ID" ]; then
  echo "=== installed costopt: $BUILD_ID (md5 of library and install scripts), unchanged during the run; $SCHEDULER"
else
  # The server preloads the library at start, so it ran the library of
  # $BUILD_ID throughout; the database has the install script of $DB_BUILD.
  echo "=== WARNING: the installed costopt changed during the run ($BUILD_ID at the start, $DB_BUILD at" \
    "CREATE EXTENSION, $BUILD_ID_END at the end); the server ran the library of $BUILD_ID; $SCHEDULER"
fi
echo "=== repository at the start: $REPO_HEAD (the installed build is whatever was installed last, see BUILD)"
echo "=== data: $ORGS organisations, $(get budgets) budgets ($(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' "$WORK/enforcement"));" \
  "period $PERIOD_START .. $PERIOD_END;"
echo "    calls: $OLD_ROWS before the period, $PERIOD_ROWS in it before the budgets, $NEW_ROWS over the last" \
  "$NEW_MINUTES minutes, $MINUTE_ROWS in the last minute; budgets inserted in $(ms0 "$(get create_ms)") ms"

echo
echo "=== costopt_refresh_budgets(): server-side ms, median of $REFRESH_RUNS (each in a new session after CHECKPOINT)"
r2() { printf '  %-58s %8s %17s %9s %7s %7s %9s   %s\n' "$@"; }
r2 "refresh" "median" "range" "deltas" "alerts" "paused" "raw sums" "target"
# minmax PREFIX: "min - max" (rounded) of the values whose key starts with PREFIX
minmax() { awk -v p="$1" 'index($1, p) == 1 { v = $2 + 0; if (n++ == 0 || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
                          END { printf "%.0f - %.0f", lo, hi }' "$WORK/results"; }
rrow() { r2 "$2" "$(ms0 "$(get "$1_ms")")" "$(minmax "$1_ms_")" \
  "$(get "$1_deltas")" "$(get "$1_alerts")" "$(get "$1_paused")" "$(get "$1_raw_calls")" "< 2000 ms"; }
rrow init "every budget just created (spend from the raw log)"
rrow steady "nothing new"
rrow deltas "$NEW_ROWS calls of the last $NEW_MINUTES minutes"
rrow minute "$MINUTE_ROWS calls of the last minute"
echo "  (deltas: delta rows consumed; raw sums: calls of costopt.scope_spend)"
echo "  levels after the refreshes: $AL_WARN warning, $AL_CRIT critical, $AL_EXC exceeded, $AL_PAUSED paused"
echo
echo "=== reads: server-side ms"
r3() { printf '  %-70s %9s   %s\n' "$@"; }
r3 "SELECT count(*) FROM costopt.v_active_budget_status, steady (median of $VIEW_RUNS)" "$(ms0 "$(get view_steady_ms)")" \
  "$(get view_steady_raw_calls) scope_spend calls"
r3 "  the same with $(get pending_deltas) pending delta rows (median of $VIEW_RUNS)" "$(ms0 "$(get view_pending_ms)")" \
  "$(get view_pending_raw_calls) scope_spend calls"
r3 "  the same with every budget just created (once)" "$(ms0 "$(get view_init_ms)")" \
  "$(get view_init_raw_calls) scope_spend calls ($(get budgets) budgets)"
r3 "SELECT count(*) FROM costopt_budget_status(id), median of 50 budgets" "$(printf '%.2f' "$(get status_ms)")" \
  "max $(printf '%.2f' "$(get status_max_ms)")"

echo
echo "=== pgbench -M prepared, $CLIENTS clients, $THREADS threads, ${PGBENCH_SECONDS} s a run, median of $ROUNDS interleaved rounds"
r4() { printf '  %-44s %10s %13s %11s %s\n' "$@"; }
r4 "script" "tps" "latency ms" "time ratio" ""
for k in "${KINDS[@]}"; do
  case $k in
    check | probe) ratio=$(printf '%.2f' "$(calc "$(get tps_select1) / $(get tps_$k)")"); note="x SELECT 1 (rounds: $(ratio_range "$k" select1))" ;;
    insert) ratio=$(printf '%.2f' "$(calc "$(get tps_select1) / $(get tps_insert)")"); note="x SELECT 1" ;;
    reserve_settle) ratio=$(printf '%.2f' "$(calc "$(get tps_insert) / $(get tps_reserve_settle)")"); note="x INSERT (rounds: $(ratio_range reserve_settle insert)); $(printf '%.1f' "$(calc "$(get tps_select1) / $(get tps_reserve_settle)")") x SELECT 1" ;;
    *) ratio="" note="baseline" ;;
  esac
  r4 "${KNAME[$k]}" "$(printf '%.0f' "$(get tps_$k)")" "$(printf '%.3f' "$(get lat_$k)")" "$ratio" "$note"
done
CHECK_RATIO=$(calc "$(get tps_select1) / $(get tps_check)")
echo "  costopt_check_budget() / SELECT 1 (time per call): $(printf '%.2f' "$CHECK_RATIO")  target <= 2.00" \
  "$(awk -v r="$CHECK_RATIO" 'BEGIN { print (r <= 2) ? "met" : "MISSED" }')"
echo "  server-side, without the round trip (PL/pgSQL loop of $LOOP_CALLS calls, median of 3): SELECT 1" \
  "$(printf '%.1f' "$(get loop_select1)") us, index probe $(printf '%.1f' "$(get loop_probe)") us," \
  "costopt_check_budget() $(printf '%.1f' "$(get loop_check)") us a call"
echo "  reserve+settle, per statement (-r): costopt_reserve $(get stmt_reserve) ms, INSERT naming it $(get stmt_settle) ms;" \
  "admitted $(get admitted_1) of $(get tx_reserve_1) calls in round 1"
echo "  range of tps over the rounds:"
for k in "${KINDS[@]}"; do
  echo "    ${KNAME[$k]}: $(awk -v p="tps_${k}_" 'index($1, p) == 1 { printf "%s%.0f", (n++ ? ", " : ""), $2 }' "$WORK/results")"
done
echo "  decisions of costopt_check_budget() over all (organisation, user) pairs after the refreshes:"
sed 's/^/    /' "$WORK/decisions"

if [ "$LOAD_SECONDS" -gt 0 ]; then
  echo
  echo "=== refresh under load: reserve+settle for $LOAD_SECONDS s (--max-tries=10), refreshes $REFRESH_EVERY s apart"
  echo "  reserve+settle: $(printf '%.0f' "$LOAD_TPS") tps ($(printf '%.2f' "$(calc "$LOAD_TPS / $(get tps_reserve_settle)")") of the runs" \
    "without refreshes), $LOAD_RETRIED transactions retried after a deadlock, $LOAD_FAILED failed;" \
    "$LOAD_STALLS one-second intervals under 10% of the normal rate"
  echo "  refreshes: $nref, $nfail failed ($LOAD_DEADLOCKS deadlock detected, $LOAD_OTHER_ERR other errors);" \
    "times of the others (ms): $(sort -g "$WORK/load_refresh" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }')"
  echo "  pgbench progress (tps per second):"
  awk '/^progress: / { printf "%s%.0f", (n++ ? " " : "    "), $4 } END { print "" }' "$WORK/load.progress"
fi

echo
echo "=== checks (must be: 0 everywhere, all organisation budgets full)"
for l in created init pending deltas minute final; do
  printf '  %-8s %s budgets; spend differing from the raw log: view %s, table %s\n' "$l" "$(get spend_${l}_budgets)" \
    "$(get spend_${l}_view)" "$([ "$l" = pending ] && echo "- (deltas pending)" || get spend_${l}_table)"
done
echo "  after the last refresh: $OPEN_RES reservations open, \$$RESERVED_SUM reserved; $RES_CLOSED of $RES_TOTAL reservations closed" \
  "(costopt.budget_reservations keeps them: $RES_SIZE with its indexes)"
echo "  admission: $H_N reservations by $CLIENTS clients ($H_FAILED failed), $H_ADMITTED admitted;" \
  "organisation budgets full at \$1.10: $H_ORG_FULL of $HARD_ORGS (\$$H_ORG_MIN - \$$H_ORG_MAX);" \
  "over the ceiling: $H_OVER of $H_BUDGETS; user budgets at most \$$H_USER_MAX (ceiling \$0.55);" \
  "reserved differs: $H_RES_DIFF; next call refused: $H_REFUSES of $HARD_ORGS"
echo "  costopt_check_budget() inlined, index scan on budgets_org_idx: $([ "$plan_ok" = 1 ] && echo yes || echo NO)"
echo
echo "=== plan of SELECT * FROM costopt_check_budget('org-42', 'org-42-u2', NULL, 0.01)"
sed 's/^/  /' <<<"$PLAN_ANALYZE"
echo "=== generic plan of the prepared check (pgbench -M prepared)"
sed 's/^/  /' <<<"$PLAN_GENERIC"

if [ "$fail" = 1 ]; then
  echo
  cat "$WORK/failures" >&2
  echo "check FAILED (see above)" >&2
  exit 1
fi
