#!/usr/bin/env bash
# Soak test for costopt (see bench/soak/README.md).  Not part of make test.
#
#   bash bench/soak/run.sh                   2,000,000 calls, 4 writers
#   ROWS=100000 bash bench/soak/run.sh       smoke run (about a minute)
#
# 1. A throwaway cluster (test/costopt.conf + bench/soak/bench.conf) whose
#    costopt scheduler refreshes the rollups every ROLLUP_EVERY and the
#    budgets every BUDGET_EVERY seconds (ALTER SYSTEM, reload); database soak.
# 2. Budgets of every period type for five organisations
#    (costopt_create_budget; hard, soft and tracking-only), limits sized from
#    a priced sample of the workload so that thresholds are crossed.
# 3. WRITERS writers (bash + psql, gen_writer.py) write ROWS calls: COPY
#    batches, multi-row INSERT transactions and single-row INSERTs.  Each
#    batch is one transaction tagged with writer, session and batch number; a
#    writer appends the batch to its ledger only after COMMIT returned.  A
#    writer that loses its connection reconnects and goes on in a new
#    session.
# 4. Chaos, at fractions of the rows committed: the scheduler backend is
#    terminated while it runs a refresh (KILL_REFRESH_AT), one writer's
#    backend in the middle of a transaction (KILL_WRITER_AT; that writer
#    reconnects), and the server is stopped with -m immediate and started
#    again (CRASH_AT).
# 5. After the writers finish: costopt_refresh_rollups() and
#    costopt_refresh_budgets(), then the checks (check.sql, one snapshot):
#    ledger batches all present, every batch all-or-nothing, rows = ledger +
#    in-flight batches, costopt_verify_rollups() empty, every budget's spend
#    = the raw sum of its scope and period, no alert repeated within its
#    cooldown or within a period, none missing, no failed job run.  Exit
#    status 1 when a check fails.
#
# Environment (all optional):
#   ROWS=2000000          calls the writers commit (their ledgers)
#   WRITERS=4             concurrent writers
#   ROLLUP_EVERY=3        costopt.refresh_rollups_interval, seconds
#   BUDGET_EVERY=5        costopt.refresh_budgets_interval, seconds
#   NAPTIME=1             costopt.scheduler_naptime, seconds
#   MIN_SECONDS=60        the writers write at most ROWS / MIN_SECONDS calls/s
#                         in all, so that short runs last long enough for the
#                         chaos steps (0: no limit)
#   KILL_REFRESH_AT=25    % of ROWS committed when the refresh is terminated
#   KILL_WRITER_AT=45     % when a writer is terminated
#   CRASH_AT=65           % when the server is stopped -m immediate
#   KILL_WRITER=2         which writer is terminated
#   DOWN_SECONDS=3        how long the server stays down
#   CALIB_ROWS=20000      calls of the priced sample that sizes the budgets
#   SEED=20261202         seed of the workload
#   TRACE_DIR=../shared/data/azure_llm_trace   token counts (log-normal without it)
#   BUILD=0               1: build and install costopt first (scripts/common.sh)
#   KEEP_CLUSTER=0        1: keep the stopped cluster's directory (logs, ledgers)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

ROWS=${ROWS:-2000000}
WRITERS=${WRITERS:-4}
ROLLUP_EVERY=${ROLLUP_EVERY:-3}
BUDGET_EVERY=${BUDGET_EVERY:-5}
NAPTIME=${NAPTIME:-1}
MIN_SECONDS=${MIN_SECONDS:-60}
KILL_REFRESH_AT=${KILL_REFRESH_AT:-25}
KILL_WRITER_AT=${KILL_WRITER_AT:-45}
CRASH_AT=${CRASH_AT:-65}
KILL_WRITER=${KILL_WRITER:-2}
DOWN_SECONDS=${DOWN_SECONDS:-3}
CALIB_ROWS=${CALIB_ROWS:-20000}
SEED=${SEED:-20261202}
TRACE_DIR=${TRACE_DIR:-$REPO/../shared/data/azure_llm_trace}
BUILD=${BUILD:-0}
BENCH_DIR=$REPO/bench/soak
DB=soak

for v in ROWS WRITERS ROLLUP_EVERY BUDGET_EVERY NAPTIME MIN_SECONDS KILL_REFRESH_AT KILL_WRITER_AT CRASH_AT \
  KILL_WRITER DOWN_SECONDS CALIB_ROWS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a non-negative integer" >&2; exit 2; }
done
for v in ROWS WRITERS ROLLUP_EVERY BUDGET_EVERY NAPTIME CALIB_ROWS; do
  [ "${!v}" -gt 0 ] || { echo "$v must be positive" >&2; exit 2; }
done
[ "$ROWS" -ge "$WRITERS" ] || { echo "ROWS must be at least WRITERS" >&2; exit 2; }
[ "$KILL_WRITER" -ge 1 ] && [ "$KILL_WRITER" -le "$WRITERS" ] ||
  { echo "KILL_WRITER must name a writer (1..$WRITERS)" >&2; exit 2; }
[ "$KILL_REFRESH_AT" -lt "$KILL_WRITER_AT" ] && [ "$KILL_WRITER_AT" -lt "$CRASH_AT" ] &&
  [ "$CRASH_AT" -lt 100 ] || { echo "need KILL_REFRESH_AT < KILL_WRITER_AT < CRASH_AT < 100" >&2; exit 2; }
TRACE_ARG=()
if [ -d "$TRACE_DIR" ]; then TRACE_ARG=(--trace-dir "$TRACE_DIR"); TOKENS="Azure LLM trace ($TRACE_DIR)"
else TOKENS="log-normal (no trace at $TRACE_DIR)"; fi

ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi

# ---------------------------------------------------------------------------
# Cluster, database, budgets
# ---------------------------------------------------------------------------
WRITER_PIDS=()
bench_cluster soak "$BENCH_DIR"
. bench/lib.sh
# on any exit: stop our writer loops (by pid), then the cluster (which ends
# their psql sessions and so the generators)
soak_cleanup() {
  local p
  for p in "${WRITER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  bench_cluster_cleanup
}
trap soak_cleanup EXIT
trap 'exit 130' INT TERM

: >"$WORK/failures"
fail=0
failed() { log "CHECK FAILED: $*"; echo "CHECK FAILED: $*" >>"$WORK/failures"; fail=1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
event() { bpsql $DB -c "INSERT INTO soak.events (step, detail) VALUES ('$1', \$d\$$2\$d\$)"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -c "ALTER SYSTEM SET costopt.scheduler_naptime = $NAPTIME" \
  -c "ALTER SYSTEM SET costopt.refresh_rollups_interval = $ROLLUP_EVERY" \
  -c "ALTER SYSTEM SET costopt.refresh_budgets_interval = $BUDGET_EVERY" \
  -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
bpsql $DB -c "CREATE EXTENSION costopt"
bpsql $DB -f "$BENCH_DIR/setup.sql" >/dev/null
python3 "$BENCH_DIR/gen_writer.py" --calibrate "$CALIB_ROWS" --seed "$SEED" "${TRACE_ARG[@]}" |
  bpsql $DB >/dev/null
BUDGETS=$(bpsql $DB -At -c "SELECT soak.create_budgets($ROWS)")
log "$BUDGETS budgets created, limits sized for $ROWS calls from $CALIB_ROWS priced sample calls"

# the scheduler connects within a naptime of CREATE EXTENSION and runs both
# refreshes at once
for i in $(seq 1 120); do
  n=$(bpsql $DB -At -c "SELECT count(DISTINCT job) FROM costopt.job_runs
                         WHERE job IN ('refresh_rollups', 'refresh_budgets') AND runner = 'worker'")
  [ "$n" = 2 ] && break
  sleep 0.5
done
[ "$n" = 2 ] || { failed "the costopt scheduler ran no refresh within 60 s"; exit 1; }
sched_pid() { bpsql $DB -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'costopt scheduler'"; }
log "scheduler running (pid $(sched_pid)): refresh_rollups every ${ROLLUP_EVERY}s, refresh_budgets every ${BUDGET_EVERY}s, naptime ${NAPTIME}s"

# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------
# What psql may say when its connection is lost or cannot be made: anything
# else stops the writer and fails the run.
EXPECTED_RE='terminating connection due to (administrator|immediate shutdown) command|terminating connection because of crash of another server process|The postmaster has commanded this server process|In a moment you should be able to reconnect|server closed the connection unexpectedly|This probably means the server terminated abnormally|before or while processing the request|connection to server was lost|could not (send|receive) data (to|from) server|no connection to the server|the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)|Connection refused|No such file or directory|Is the server running locally|^CONTEXT:  COPY api_usage_logs, line [0-9]+|^invalid socket$|^=== '

# ledger_rows FILE...: rows of the batches whose COMMIT returned
ledger_rows() { awk '$1 == "L" && NF == 5 { s += $5 } END { print s + 0 }' "$@"; }

# wait_server: until a new session can run a query (at most 5 minutes)
wait_server() {
  local i
  for i in $(seq 1 600); do
    psql -X -q -d $DB -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# writer W TARGET: sessions of gen_writer.py | psql until the ledger holds
# TARGET rows.  The ledger is psql's stderr ($WORK/writer.W.log): the
# "L w e b n" lines that \warn prints after each COMMIT, between psql's own
# messages.  A session that ends with a lost connection is followed by a new
# one (after the server accepts connections again); one that prints anything
# unexpected stops the writer.
writer() {
  set +e
  local w=$1 target=$2 e=0 done_rows rc gen bad
  local log="$WORK/writer.$w.log"
  while :; do
    done_rows=$(ledger_rows "$log")
    [ "$done_rows" -ge "$target" ] && break
    wait_server || { echo "writer $w: no server for 5 minutes" >>"$WORK/unexpected"; return 1; }
    e=$((e + 1))
    echo "=== session $e start $(date -u +%T.%N) ledger_rows=$done_rows" >>"$log"
    python3 "$BENCH_DIR/gen_writer.py" --writer "$w" --epoch "$e" --rows $((target - done_rows)) \
        --rate "$RATE" --seed "$SEED" "${TRACE_ARG[@]}" 2>>"$log" |
      PGAPPNAME="soak-writer-$w" psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null 2>>"$log"
    gen=${PIPESTATUS[0]} rc=${PIPESTATUS[1]}
    echo "=== session $e end $(date -u +%T.%N) psql exit $rc" >>"$log"
    # the generator ends with psql (141: SIGPIPE) or by itself (0)
    [ "$gen" = 0 ] || [ "$gen" = 141 ] || echo "generator exit status $gen" >>"$log"
    printf '%s\t%s\t%s\n' "$w" "$e" "$rc" >>"$WORK/epochs"
    bad=$(awk -v m="=== session $e start " 'index($0, m) == 1 { f = 1; next } f' "$log" |
      grep -v '^L ' | grep -Ev "$EXPECTED_RE")
    if [ -n "$bad" ]; then
      { echo "writer $w session $e (psql exit $rc):"; echo "$bad"; } >>"$WORK/unexpected"
      return 1
    fi
    [ "$rc" = 0 ] || sleep 0.2
  done
  echo "=== done" >>"$log"
}

: >"$WORK/epochs"
: >"$WORK/unexpected"
PER=$((ROWS / WRITERS))
# calls/s per writer (0: no limit)
RATE=$(awk -v r="$ROWS" -v s="$MIN_SECONDS" -v w="$WRITERS" 'BEGIN { printf "%.3f", (s > 0) ? r / s / w : 0 }')
T0=$(now)
for w in $(seq 1 "$WRITERS"); do : >"$WORK/writer.$w.log"; done
for w in $(seq 1 "$WRITERS"); do
  target=$PER
  [ "$w" = 1 ] && target=$((ROWS - PER * (WRITERS - 1)))
  writer "$w" "$target" &
  WRITER_PIDS+=($!)
done
log "$WRITERS writers started: $ROWS calls (COPY, multi-row and single-row INSERT transactions), at most $RATE calls/s each"

# ---------------------------------------------------------------------------
# Chaos
# ---------------------------------------------------------------------------
committed() { ledger_rows "$WORK"/writer.*.log; }

# The scheduler is terminated while it runs a refresh job.  The run is
# confirmed to have been cut short when costopt.job_runs has no run of that
# job started between the job's statement start and the termination (a run
# that finished is recorded with its start; a terminated one is not
# recorded at all, its transaction aborts).  If the signal arrived just
# after the job committed, the step is repeated (at most 3 times).
KILLED_REFRESH=0
chaos_kill_refresh() {
  local attempt pid job qs ms term killed_at recorded newpid i
  for attempt in 1 2 3; do
    IFS='|' read -r pid job qs ms term killed_at < <(bpsql $DB -At -c \
      "SELECT pid, job, query_start, round(running_ms::numeric, 1), terminated, clock_timestamp()
         FROM soak.kill_refresh(min_ms => 5, timeout_s => 30)") || true
    if [ -z "${pid:-}" ] || [ "$term" != t ]; then
      log "chaos: no refresh of 5 ms or more seen in 30 s (attempt $attempt)"
      continue
    fi
    # wait for the launcher to start a new scheduler
    newpid=""
    for i in $(seq 1 120); do
      newpid=$(sched_pid)
      [ -n "$newpid" ] && [ "$newpid" != "$pid" ] && break
      sleep 0.25
    done
    recorded=$(bpsql $DB -At -c "SELECT count(*) FROM costopt.job_runs WHERE job = '$job'
                                   AND started_at >= '$qs' AND started_at < '$killed_at'")
    event "refresh killed" "scheduler pid $pid terminated after $ms ms in job $job (attempt $attempt); run recorded: $recorded; new scheduler pid ${newpid:-none}"
    log "chaos: terminated the scheduler (pid $pid) $ms ms into $job; run recorded: $recorded; new scheduler ${newpid:-none}"
    if [ "$recorded" = 0 ]; then KILLED_REFRESH=1; return 0; fi
    log "chaos: the job had already committed; again"
  done
  failed "could not terminate a refresh in progress (3 attempts)"
}

KILLED_WRITER=0
chaos_kill_writer() {
  local pid stmt state term
  IFS='|' read -r pid stmt state term < <(bpsql $DB -At -c \
    "SELECT * FROM soak.kill_writer('soak-writer-$KILL_WRITER', 20)") || true
  if [ -n "${pid:-}" ] && [ "$term" = t ]; then
    KILLED_WRITER=1
    event "writer killed" "writer $KILL_WRITER backend $pid terminated ($state, in a transaction that has written: $stmt)"
    log "chaos: terminated writer $KILL_WRITER's backend $pid ($state: $stmt)"
  else
    failed "writer $KILL_WRITER was not seen in a writing transaction within 20 s"
  fi
}

CRASHED=0
CRASH_DOWN=0
BUILD_RESTART=$BUILD_ID
chaos_crash() {
  local t1 t2 c
  c=$(committed)
  event "crash" "pg_ctl stop -m immediate at $c ledger rows"
  t1=$(now)
  as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null
  log "chaos: server stopped with -m immediate at $c ledger rows"
  sleep "$DOWN_SECONDS"
  as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 300 start >/dev/null ||
    { failed "the server did not start again after the crash"; exit 1; }
  t2=$(now)
  # the restarted postmaster loads the library installed now
  BUILD_RESTART=$(costopt_build_id)
  CRASH_DOWN=$(secs "$t1" "$t2")
  event "restarted" "server up again after $CRASH_DOWN s (crash recovery included)"
  CRASHED=1
  log "chaos: server up again after $CRASH_DOWN s"
}

stage=0
last_report=$(now)
alive() { local p; for p in "${WRITER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while alive; do
  c=$(committed)
  pct=$((c * 100 / ROWS))
  if [ $stage = 0 ] && [ $pct -ge "$KILL_REFRESH_AT" ]; then chaos_kill_refresh; stage=1
  elif [ $stage = 1 ] && [ $pct -ge "$KILL_WRITER_AT" ]; then chaos_kill_writer; stage=2
  elif [ $stage = 2 ] && [ $pct -ge "$CRASH_AT" ]; then chaos_crash; stage=3
  fi
  t=$(now)
  if awk -v a="$last_report" -v b="$t" 'BEGIN { exit !(b - a >= 15) }'; then
    log "$(secs "$T0" "$t") s: $c ledger rows ($pct%)"
    last_report=$t
  fi
  sleep 0.5
done
writers_ok=1
for p in "${WRITER_PIDS[@]}"; do wait "$p" || writers_ok=0; done
WRITER_PIDS=()
T1=$(now)
LOAD_S=$(secs "$T0" "$T1")
LEDGER=$(committed)
log "writers done after $LOAD_S s: $LEDGER ledger rows"
[ "$writers_ok" = 1 ] && [ ! -s "$WORK/unexpected" ] ||
  { cat "$WORK/unexpected" >&2; failed "a writer stopped on an unexpected error"; }
[ "$KILLED_REFRESH" = 1 ] || failed "no refresh was terminated"
[ "$KILLED_WRITER" = 1 ] || failed "no writer was terminated"
[ "$CRASHED" = 1 ] || failed "the server was not crashed and restarted"

# ---------------------------------------------------------------------------
# Final refreshes and checks
# ---------------------------------------------------------------------------
t=$(now)
bpsql $DB -c "SELECT 'rollups' AS final_refresh, * FROM costopt_refresh_rollups()"
bpsql $DB -c "SELECT 'budgets' AS final_refresh, * FROM costopt_refresh_budgets()"
REFRESH_S=$(secs "$t" "$(now)")
awk '$1 == "L" && NF == 5 { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$WORK"/writer.*.log |
  bpsql $DB -c "\copy soak.ledger FROM STDIN"
bpsql $DB -c "\copy soak.epochs FROM '$WORK/epochs'"
bpsql $DB -At -c "SELECT soak.collect_batches()" >/dev/null
t=$(now)
bpsql $DB -f "$BENCH_DIR/check.sql" | tee "$WORK/check.out"
CHECK_S=$(secs "$t" "$(now)")
n=$(awk '/^failed checks:/ { print $3 }' "$WORK/check.out")
[ "$n" = 0 ] || failed "$n of the checks above"

echo
echo "=== server log: chaos as the server saw it"
grep -E 'terminating background worker "costopt scheduler"|terminating connection due to administrator|received immediate shutdown|database system was interrupted|redo (starts|done)|database system is ready' \
  "$WORK/server.log" | sed -E 's/^[0-9-]+ ([0-9:.]+) UTC/\1/' || true
BAD_LOG=$(grep -E 'PANIC|TRAP:|was terminated by signal (6|11)|costopt scheduler: job .* did not finish' "$WORK/server.log" || true)
[ -z "$BAD_LOG" ] || { echo "$BAD_LOG"; failed "server log: crash of a backend or a job that did not finish"; }

echo
echo "=== costopt soak: $ROWS calls, $WRITERS writers, scheduler refreshes every ${ROLLUP_EVERY}s (rollups) / ${BUDGET_EVERY}s (budgets)"
BUILD_END=$(costopt_build_id)
if [ "$BUILD_RESTART" = "$BUILD_ID" ] && [ "$BUILD_END" = "$BUILD_ID" ]; then BUILDS="$BUILD_ID (unchanged during the run)"
else BUILDS="$BUILD_ID at the start, $BUILD_RESTART at the restart, $BUILD_END at the end: CHANGED during the run (someone installed another build; the restarted server runs $BUILD_RESTART)"; fi
echo "    installed costopt $BUILDS, PostgreSQL $(psql -X -At -d postgres -c 'SHOW server_version'), $(nproc) CPUs, tokens: $TOKENS"
IFS='|' read -r TABLE_ROWS FLIGHT_ROWS FLIGHT_BATCHES < <(bpsql $DB -At -c \
  "SELECT (SELECT count(*) FROM costopt.api_usage_logs), coalesce(sum(rows), 0), count(*)
     FROM soak.batch_status WHERE kind = 'in flight'")
echo "    rows in the usage log: $TABLE_ROWS = $LEDGER in the writers' ledgers + $FLIGHT_ROWS in $FLIGHT_BATCHES in-flight batches"
echo "    load: $LOAD_S s for $LEDGER ledger rows = $(awk -v r="$LEDGER" -v s="$LOAD_S" 'BEGIN { printf "%.0f", r / s }') calls/s (server down $CRASH_DOWN s of it; writers paced to at most $(awk -v r="$RATE" -v w="$WRITERS" 'BEGIN { printf "%.0f", r * w }') calls/s)"
echo "    final refreshes $REFRESH_S s, checks $CHECK_S s"
if [ "$fail" = 0 ]; then
  echo "    all checks passed"
else
  echo "    FAILED:"
  sed 's/^/      /' "$WORK/failures"
fi
exit "$fail"
