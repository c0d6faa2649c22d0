#!/usr/bin/env bash
# Rollup benchmark for costopt (see bench/rollups/README.md).
#
#   bash bench/rollups/run.sh                                       10M rows of history, 1M new (~15 min)
#   HISTORY_ROWS=500000 NEW_ROWS=100000 bash bench/rollups/run.sh   smoke run (~2 min)
#
# Calls are generated in SQL and inserted through costopt.api_usage_logs, so
# the costing and rollup capture triggers fire as in production.
#
# A. Empty database: NEW_ROWS new calls (the NEW_DAYS days before END_TIME);
#    costopt_refresh_rollups() is timed.
# B. HISTORY_ROWS calls over the HISTORY_DAYS before that, rolled up (one
#    refresh per chunk), VACUUM ANALYZE; then the same NEW_ROWS new calls as
#    in A and the same timed refresh.  B / A shows whether the refresh cost
#    follows the new rows or the history.
# In A and in B, after our refresh, two peers build the same rollups:
#    peer 1  plain SQL: INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO
#            UPDATE over the new usage rows (id above a watermark) into a
#            copy of costopt.cost_analysis holding the same history;
#    peer 2  REFRESH MATERIALIZED VIEW of the rollup over the whole log.
# Then, checks: nothing pending, costopt_verify_rollups(QUERY_ORG) empty,
# totals of every grain equal to the raw log, and the three rollups equal.
# In B, finally: costopt.v_monthly_cost_summary for one organisation vs the
# same query on the raw rows, QUERY_RUNS timed runs each (median).
#
# Every time is measured on the server (clock_timestamp() around the
# statement, commit excluded; synchronous_commit is off).
#
# Environment (all optional):
#   HISTORY_ROWS=10000000  calls of history in B
#   NEW_ROWS=1000000       new calls in A and in B
#   CHUNK_ROWS=1000000     calls per INSERT transaction (and per history refresh)
#   HISTORY_DAYS=730       days covered by history and new calls together
#   NEW_DAYS=3             days covered by the new calls
#   END_TIME='2025-05-16 00:00:00+00'   end of the new calls
#   QUERY_ORG=org-01       organisation of the view query (org-01 is the largest)
#   QUERY_RUNS=20          timed runs of each query (after 2 warm-up runs)
#   REFRESH_RUNS=3         rounds of our refresh and peer 1 in A and in B (all
#                          but the last rolled back); medians are reported
#   SEED=20231116          seed of the data generator
#   BUILD=1                0: use the installed extension, do not build
#   EXPLAIN=0              1: log the plans of the timed statements with
#                          auto_explain (ANALYZE, nested statements) and print
#                          them; the times then include the instrumentation
#   KEEP_CLUSTER=0         1: keep the stopped cluster's directory afterwards
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

HISTORY_ROWS=${HISTORY_ROWS:-10000000}
NEW_ROWS=${NEW_ROWS:-1000000}
CHUNK_ROWS=${CHUNK_ROWS:-1000000}
HISTORY_DAYS=${HISTORY_DAYS:-730}
NEW_DAYS=${NEW_DAYS:-3}
END_TIME=${END_TIME:-2025-05-16 00:00:00+00}
QUERY_ORG=${QUERY_ORG:-org-01}
QUERY_RUNS=${QUERY_RUNS:-20}
REFRESH_RUNS=${REFRESH_RUNS:-3}
SEED=${SEED:-20231116}
BUILD=${BUILD:-1}
EXPLAIN=${EXPLAIN:-0}
BENCH_DIR=$REPO/bench/rollups

for v in HISTORY_ROWS NEW_ROWS CHUNK_ROWS HISTORY_DAYS NEW_DAYS QUERY_RUNS REFRESH_RUNS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a non-negative integer" >&2; exit 2; }
done
[ "$NEW_ROWS" -gt 0 ] && [ "$CHUNK_ROWS" -gt 0 ] && [ "$QUERY_RUNS" -gt 0 ] && [ "$REFRESH_RUNS" -gt 0 ] ||
  { echo "NEW_ROWS, CHUNK_ROWS, QUERY_RUNS and REFRESH_RUNS must be positive" >&2; exit 2; }
[ "$NEW_DAYS" -gt 0 ] && [ "$HISTORY_DAYS" -gt "$NEW_DAYS" ] ||
  { echo "need 0 < NEW_DAYS < HISTORY_DAYS" >&2; exit 2; }
[[ $QUERY_ORG =~ ^org-[0-9][0-9]$ ]] || { echo "QUERY_ORG must be org-01 .. org-50" >&2; exit 2; }

. bench/lib.sh

# seed_of STREAM CHUNK: a setseed() value in [0, 1) for one chunk of one
# series, so that A and B get the same new calls.
seed_of() {
  awk -v s="$SEED" -v k="$1" -v c="$2" \
    'BEGIN { x = (s % 1000003) / 1000003 + k * 0.6180339887 + c * 0.4142135623; printf "%.12f", x - int(x) }'
}

# settle DB: write out dirty buffers and WAL (CHECKPOINT, then sync(1),
# since fsync is off), so that a timed step does not pay for earlier writes.
settle() { bpsql "$1" -c "CHECKPOINT"; sync; }

# ---------------------------------------------------------------------------
# Build and throwaway cluster: test/costopt.conf plus bench/rollups/bench.conf.
# ---------------------------------------------------------------------------
ensure_packages
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi

bench_cluster rollups "$BENCH_DIR"

read -r HIST_FROM NEW_FROM END_TS < <(psql -X -At -F ' ' -d postgres -c "
  SELECT to_char((e - make_interval(days => $HISTORY_DAYS)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
         to_char((e - make_interval(days => $NEW_DAYS)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
         to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
    FROM (SELECT timestamptz '$END_TIME' AS e) s")

# load_series DB TOTAL FROM TO STREAM REFRESH: insert TOTAL calls spread over
# [FROM, TO) in chunks of CHUNK_ROWS, one transaction each; with REFRESH=1,
# refresh the rollups after every chunk.  Adds the insert and refresh times
# (ms) to the results under <prefix>_insert_ms and <prefix>_refresh_ms, where
# the prefix is the 7th argument.
load_series() {
  local db=$1 total=$2 from=$3 to=$4 stream=$5 refresh=$6 prefix=$7
  local first=0 chunk=0 n ms rms ins_total=0 ref_total=0
  while [ "$first" -lt "$total" ]; do
    n=$((total - first < CHUNK_ROWS ? total - first : CHUNK_ROWS))
    ms=$(bpsql "$db" -At -c "SELECT bench.insert_usage($total, $first, $n, '$from', '$to', $(seed_of "$stream" "$chunk"))")
    ins_total=$(calc "$ins_total + $ms")
    if [ "$refresh" = 1 ]; then
      rms=$(bpsql "$db" -At -c "SELECT ms FROM bench.timed_refresh()")
      ref_total=$(calc "$ref_total + $rms")
      log "  rows $((first + 1))-$((first + n)): insert $(printf '%.1f' "$(calc "$ms / 1000")") s, refresh $(printf '%.1f' "$(calc "$rms / 1000")") s"
    else
      log "  rows $((first + 1))-$((first + n)): insert $(printf '%.1f' "$(calc "$ms / 1000")") s"
    fi
    first=$((first + n))
    chunk=$((chunk + 1))
  done
  put "${prefix}_insert_ms" "$ins_total"
  put "${prefix}_refresh_ms" "$ref_total"
  put "${prefix}_chunks" "$chunk"
}

# timed DB NAME COMMIT SQL: run a statement that returns its own time in ms
# (and maybe more columns) in a new session and print its output; with
# COMMIT=0 inside a transaction that is rolled back.  With EXPLAIN=1 the
# session logs the plans of the statement and of the statements nested in
# it (10 ms or longer) to $WORK/plans_NAME (the last call's).
timed() {
  local db=$1 name=$2 commit=$3 sql=$4
  local pre=() post=()
  if [ "$commit" = 0 ]; then pre+=(-c "BEGIN"); post+=(-c "ROLLBACK"); fi
  if [ "$EXPLAIN" = 1 ]; then
    bpsql "$db" -At -F ' ' -c "LOAD 'auto_explain'" \
      -c "SET auto_explain.log_min_duration = 10" -c "SET auto_explain.log_analyze = on" \
      -c "SET auto_explain.log_buffers = on" -c "SET auto_explain.log_nested_statements = on" \
      -c "SET auto_explain.log_level = notice" "${pre[@]}" -c "$sql" "${post[@]}" 2>"$WORK/plans_$name"
  else
    bpsql "$db" -At -F ' ' "${pre[@]}" -c "$sql" "${post[@]}"
  fi
}

# scenario NAME HISTORY: one database, HISTORY rows of history, then the new
# rows and the timed refreshes; results under NAME_*.
scenario() {
  local s=$1 hist=$2 db=rollups_${1,,} watermark ms ms2 d n
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
  bpsql "$db" -c "ALTER DATABASE $db SET synchronous_commit = off" -c "CREATE EXTENSION costopt"
  bpsql "$db" -f "$BENCH_DIR/setup.sql" >/dev/null

  if [ "$hist" -gt 0 ]; then
    log "$s: $hist calls of history, $HIST_FROM to $NEW_FROM, a refresh after each chunk"
    load_series "$db" "$hist" "$HIST_FROM" "$NEW_FROM" 1 1 "${s}_history"
    # The peer starts from the same rolled-up history.
    bpsql "$db" <<'SQL'
INSERT INTO bench.peer_rollup
	(organization_id, user_id, provider, model_name, period_type, period_start, period_end,
	 total_requests, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
	 reasoning_tokens, error_count, latency_sum, latency_count, unpriced_requests,
	 input_cost, output_cost, total_cost, created_at, updated_at)
SELECT organization_id, user_id, provider, model_name, period_type, period_start, period_end,
	   total_requests, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
	   reasoning_tokens, error_count, latency_sum, latency_count, unpriced_requests,
	   input_cost, output_cost, total_cost, created_at, updated_at
  FROM costopt.cost_analysis;
SQL
  fi
  log "$s: VACUUM ANALYZE"
  bpsql "$db" -c "VACUUM ANALYZE"
  put "${s}_history_rollup_rows" "$(bpsql "$db" -At -c "SELECT count(*) FROM costopt.cost_analysis")"

  watermark=$(bpsql "$db" -At -c "SELECT coalesce(max(id), 0) FROM costopt.api_usage_logs")
  log "$s: $NEW_ROWS new calls, $NEW_FROM to $END_TS"
  load_series "$db" "$NEW_ROWS" "$NEW_FROM" "$END_TS" 2 0 "${s}_new"

  # Our refresh and peer 1, interleaved, REFRESH_RUNS rounds: every round
  # but the last is rolled back, then VACUUM removes what it left behind, so
  # each round starts from the same rows.
  local r commit
  for r in $(seq 1 "$REFRESH_RUNS"); do
    commit=0
    [ "$r" = "$REFRESH_RUNS" ] && commit=1
    settle "$db"
    read -r ms d n <<<"$(timed "$db" "${s}_refresh" "$commit" "SELECT ms, delta_rows, rollup_rows FROM bench.timed_refresh()")"
    put "${s}_refresh_ms_$r" "$ms"
    [ "$commit" = 1 ] || bpsql "$db" -c "VACUUM costopt.cost_analysis, costopt.rollup_deltas"
    settle "$db"
    ms2=$(timed "$db" "${s}_peer" "$commit" "SELECT bench.timed('SELECT bench.peer_refresh($watermark)')")
    put "${s}_peer_ms_$r" "$ms2"
    [ "$commit" = 1 ] || bpsql "$db" -c "VACUUM bench.peer_rollup"
    log "$s: round $r/$REFRESH_RUNS$([ "$commit" = 1 ] || echo ' (rolled back)'):" \
      "costopt_refresh_rollups() $(printf '%.0f' "$ms") ms, $d delta rows -> $n rollup rows;" \
      "peer 1 $(printf '%.0f' "$ms2") ms"
  done
  put "${s}_refresh_delta_rows" "$d"
  put "${s}_refresh_rollup_rows" "$n"
  put "${s}_refresh_ms" "$(median "${s}_refresh_ms_")"
  put "${s}_peer_ms" "$(median "${s}_peer_ms_")"

  settle "$db"
  ms=$(timed "$db" "${s}_matview" 1 "SELECT bench.timed('REFRESH MATERIALIZED VIEW bench.mv_rollup')")
  put "${s}_matview_ms" "$ms"
  put "${s}_raw_rows" "$(bpsql "$db" -At -c "SELECT count(*) FROM costopt.api_usage_logs")"
  log "$s: peer 2, REFRESH MATERIALIZED VIEW: $(printf '%.0f' "$ms") ms"

  # -- exactness ------------------------------------------------------------
  log "$s: checks"
  put "${s}_pending_after" "$(bpsql "$db" -At -c "SELECT count(*) FROM costopt.rollup_deltas")"
  put "${s}_verify_diffs" "$(bpsql "$db" -At -c "SELECT count(*) FROM costopt_verify_rollups('$QUERY_ORG')")"
  echo
  echo "=== $s: totals of each grain of costopt.cost_analysis against the raw usage log (all organisations)"
  bpsql "$db" -P footer=off <<'SQL'
WITH raw AS (
	SELECT count(*)::numeric AS calls, coalesce(sum(total_cost), 0) AS cost,
		   sum(input_tokens)::numeric AS input_tokens, sum(output_tokens)::numeric AS output_tokens,
		   count(*) FILTER (WHERE status <> 'success')::numeric AS errors
	  FROM costopt.api_usage_logs
), ca AS (
	SELECT period_type, count(*) AS rollup_rows, sum(total_requests) AS calls,
		   sum(total_cost) AS cost, sum(input_tokens) AS input_tokens,
		   sum(output_tokens) AS output_tokens, sum(error_count) AS errors
	  FROM costopt.cost_analysis GROUP BY period_type
)
SELECT ca.period_type AS grain, ca.rollup_rows, ca.calls, raw.calls AS raw_calls,
	   round(ca.cost, 6) AS cost, round(raw.cost, 6) AS raw_cost,
	   (ca.calls, ca.cost, ca.input_tokens, ca.output_tokens, ca.errors)
		   = (raw.calls, raw.cost, raw.input_tokens, raw.output_tokens, raw.errors) AS equal
  FROM ca, raw
 ORDER BY array_position('{hourly,daily,weekly,monthly}'::text[], ca.period_type);
SQL
  put "${s}_totals_equal" "$(bpsql "$db" -At <<'SQL'
WITH raw AS (
	SELECT count(*)::numeric AS calls, coalesce(sum(total_cost), 0) AS cost,
		   sum(input_tokens)::numeric AS i, sum(output_tokens)::numeric AS o,
		   count(*) FILTER (WHERE status <> 'success')::numeric AS e
	  FROM costopt.api_usage_logs
)
SELECT count(*) FILTER (WHERE (ca.calls, ca.cost, ca.i, ca.o, ca.e) = (raw.calls, raw.cost, raw.i, raw.o, raw.e))
	   || '/' || count(*)
  FROM (SELECT sum(total_requests) AS calls, sum(total_cost) AS cost, sum(input_tokens) AS i,
			   sum(output_tokens) AS o, sum(error_count) AS e
		  FROM costopt.cost_analysis GROUP BY period_type) ca, raw;
SQL
)"
  # The three rollups hold the same rows: per grain, row count and a
  # checksum over every row's key and measures.
  put "${s}_peers_equal" "$(bpsql "$db" -At <<'SQL'
SELECT count(*) FILTER (WHERE (c.rows, c.checksum) = (p.rows, p.checksum)
						  AND (c.rows, c.checksum) = (m.rows, m.checksum))
	   || '/' || count(*)
  FROM bench.rollup_checksums('costopt.cost_analysis') c
  FULL JOIN bench.rollup_checksums('bench.peer_rollup') p USING (period_type)
  FULL JOIN bench.rollup_checksums('bench.mv_rollup') m USING (period_type);
SQL
)"
}

# verdict VALUE TARGET: "met" when VALUE <= TARGET
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

# ---------------------------------------------------------------------------
# A, then B (A's database is dropped first).
# ---------------------------------------------------------------------------
scenario A 0
psql -X -q -d postgres -c "DROP DATABASE rollups_a"
scenario B "$HISTORY_ROWS"

# ---------------------------------------------------------------------------
# B: the monthly summary view for one organisation vs the raw rows.
# ---------------------------------------------------------------------------
DB=rollups_b
log "B: VACUUM ANALYZE, then $QUERY_RUNS timed runs of each query for $QUERY_ORG"
bpsql "$DB" -c "VACUUM ANALYZE"
VIEW_Q="SELECT * FROM costopt.v_monthly_cost_summary WHERE organization_id = '$QUERY_ORG'"
# The view's columns from the raw rows (months aligned in UTC, the rollups' default).
RAW_Q="SELECT u.organization_id, date_trunc('month', u.created_at, 'UTC') AS month_start,
	   count(*) AS total_requests, sum(u.input_tokens) AS input_tokens,
	   sum(u.output_tokens) AS output_tokens,
	   sum(u.input_tokens) + sum(u.output_tokens) AS total_tokens,
	   sum(u.cached_input_tokens) AS cached_input_tokens,
	   coalesce(sum(u.input_cost), 0) AS input_cost, coalesce(sum(u.output_cost), 0) AS output_cost,
	   coalesce(sum(u.total_cost), 0) AS total_cost,
	   round(coalesce(sum(u.total_cost), 0) / count(*), 8) AS cost_per_request,
	   count(*) FILTER (WHERE u.status <> 'success') AS error_count,
	   round((count(*) FILTER (WHERE u.status <> 'success'))::numeric / count(*), 4) AS error_rate,
	   round(sum(u.latency_ms)::numeric / nullif(count(u.latency_ms), 0), 1) AS avg_latency_ms,
	   count(*) FILTER (WHERE u.total_cost IS NULL) AS unpriced_requests,
	   count(DISTINCT u.model) AS models, count(DISTINCT u.user_id) AS users
  FROM costopt.api_usage_logs u
 WHERE u.organization_id = '$QUERY_ORG'
 GROUP BY 1, 2"
# (psql interpolates variables only in what it reads, not in -c)
bpsql "$DB" -v view_q="$VIEW_Q" -v raw_q="$RAW_Q" -v runs="$QUERY_RUNS" <<'SQL'
CALL bench.time_query('view', :'view_q', :runs, 2);
CALL bench.time_query('raw', :'raw_q', :runs, 2);
SQL
read -r VIEW_MS VIEW_MIN VIEW_MAX RAW_MS RAW_MIN RAW_MAX < <(bpsql "$DB" -At -F ' ' <<'SQL'
SELECT v.med, v.lo, v.hi, r.med, r.lo, r.hi
  FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med, min(ms) AS lo, max(ms) AS hi
		  FROM bench.query_runs WHERE query = 'view') v,
	   (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS med, min(ms) AS lo, max(ms) AS hi
		  FROM bench.query_runs WHERE query = 'raw') r;
SQL
)
QUERY_DIFFS=$(bpsql "$DB" -At -c "SELECT count(*) FROM (($VIEW_Q EXCEPT ALL $RAW_Q) UNION ALL ($RAW_Q EXCEPT ALL $VIEW_Q)) d")
read -r QUERY_MONTHS ORG_ROWS < <(bpsql "$DB" -At -F ' ' -c "SELECT (SELECT count(*) FROM ($VIEW_Q) v), (SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = '$QUERY_ORG')")

echo
echo "=== B: plan of the view query"
bpsql "$DB" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $VIEW_Q"
echo "=== B: plan of the same query on raw rows"
bpsql "$DB" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $RAW_Q"
B_SIZES=$(bpsql "$DB" -At -F ' ' -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c WHERE c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'costopt.api_usage_logs'::regclass UNION SELECT 'costopt.api_usage_logs'::regclass)" -c "SELECT pg_size_pretty(pg_total_relation_size('costopt.cost_analysis'))" | paste -sd' ')

# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
A_MS=$(get A_refresh_ms)
B_MS=$(get B_refresh_ms)
BA=$(calc "$B_MS / $A_MS")
B_P1=$(calc "$B_MS / $(get B_peer_ms)")
B_P2=$(calc "$B_MS / $(get B_matview_ms)")
A_P1=$(calc "$A_MS / $(get A_peer_ms)")
A_P2=$(calc "$A_MS / $(get A_matview_ms)")
RAW_VIEW=$(calc "$RAW_MS / $VIEW_MS")
sec() { printf '%.2f s' "$(calc "$1 / 1000")"; }

echo
echo "=== machine: $(nproc) CPUs; load average at the start $LOAD_START, at the end" \
  "$(cut -d' ' -f1-3 /proc/loadavg); whole run $(( ($(date +%s) - T0) / 60 )) min"
echo "=== data: $HISTORY_ROWS calls of history $HIST_FROM .. $NEW_FROM (B only)," \
  "$NEW_ROWS new calls $NEW_FROM .. $END_TS; B: usage log $(echo "$B_SIZES" | cut -d' ' -f1-2)," \
  "cost_analysis $(echo "$B_SIZES" | cut -d' ' -f3-4)"
BUILD_ID_END=$(costopt_build_id)
if [ "$BUILD_ID_END" = "$BUILD_ID" ]; then
  echo "=== installed costopt: $BUILD_ID (md5 of library and install scripts), unchanged during the run"
else
  echo "=== WARNING: the installed costopt changed during the run ($BUILD_ID -> $BUILD_ID_END): A and B may differ in version"
fi
[ "$EXPLAIN" = 1 ] && echo "=== EXPLAIN=1: the times below include auto_explain's instrumentation"
echo
echo "=== rollup refresh: server-side time, median of $REFRESH_RUNS interleaved rounds of our refresh and peer 1"
echo "    (REFRESH MATERIALIZED VIEW: one run)"
row() { printf '  %-3s %-60s %10s %-15s %-8s %s\n' "$@"; }
row "" "" "value" "range" "target" ""
row A "costopt_refresh_rollups(), $NEW_ROWS new calls, empty db" "$(sec "$A_MS")" "$(range A_refresh_ms_)"
row B "the same, $HISTORY_ROWS calls of history rolled up" "$(sec "$B_MS")" "$(range B_refresh_ms_)"
row "" "B / A   (cost follows new rows, not history)" "$(printf '%.2f' "$BA")" "" "<= 1.20" "$(verdict "$BA" 1.2)"
row P1 "peer 1 in B: INSERT..SELECT..GROUP BY..ON CONFLICT DO UPDATE" "$(sec "$(get B_peer_ms)")" "$(range B_peer_ms_)"
row "" "B / P1  (ours / plain SQL incremental peer)" "$(printf '%.2f' "$B_P1")"
row P2 "peer 2 in B: REFRESH MATERIALIZED VIEW, $(get B_raw_rows) calls" "$(sec "$(get B_matview_ms)")"
row "" "B / P2  (ours / materialized view)" "$(printf '%.3f' "$B_P2")"
row "" "in A: peer 1, A / P1" "$(sec "$(get A_peer_ms)")" "$(range A_peer_ms_)" "" "$(printf 'ratio %.2f' "$A_P1")"
row "" "in A: peer 2 over $(get A_raw_rows) calls, A / P2" "$(sec "$(get A_matview_ms)")" "" "" "$(printf 'ratio %.2f' "$A_P2")"
row "" "peer 1: B / A" "$(printf '%.2f' "$(calc "$(get B_peer_ms) / $(get A_peer_ms)")")"
echo
echo "=== monthly summary of $QUERY_ORG ($ORG_ROWS calls, $QUERY_MONTHS months) in B: median of $QUERY_RUNS runs after 2 warm-up runs"
row Q "costopt.v_monthly_cost_summary WHERE organization_id = ..." "$(printf '%.2f ms' "$VIEW_MS")" \
  "$(printf '%.2f - %.2f' "$VIEW_MIN" "$VIEW_MAX")" "< 5 ms" "$(awk -v r="$VIEW_MS" 'BEGIN { print (r < 5) ? "met" : "MISSED" }')"
row R "the same query on the raw rows (GROUP BY month)" "$(printf '%.1f ms' "$RAW_MS")" \
  "$(printf '%.1f - %.1f' "$RAW_MIN" "$RAW_MAX")"
row "" "R / Q" "$(printf '%.0f' "$RAW_VIEW")"
echo
echo "=== exactness (must be: 0, 0, 4/4, 4/4, 0)"
for s in A B; do
  printf '  %s: pending deltas after refresh %s; costopt_verify_rollups(%s) rows %s; grain totals = raw %s;' \
    "$s" "$(get ${s}_pending_after)" "$QUERY_ORG" "$(get ${s}_verify_diffs)" "$(get ${s}_totals_equal)"
  printf ' cost_analysis = peer 1 = peer 2 %s\n' "$(get ${s}_peers_equal)"
done
echo "  B: view rows differing from the raw query $QUERY_DIFFS"
echo
echo "=== details"
for s in A B; do
  echo "  $s: the timed refresh consumed $(get ${s}_refresh_delta_rows) delta rows and wrote $(get ${s}_refresh_rollup_rows) rollup rows" \
    "into a cost_analysis of $(get ${s}_history_rollup_rows) rows"
done
echo "  B: history insert $(sec "$(get B_history_insert_ms)") and $(get B_history_chunks) refreshes $(sec "$(get B_history_refresh_ms)");" \
  "new calls insert A $(sec "$(get A_new_insert_ms)"), B $(sec "$(get B_new_insert_ms)")"

fail=0
for s in A B; do
  [ "$(get ${s}_pending_after)" = 0 ] && [ "$(get ${s}_verify_diffs)" = 0 ] &&
    [ "$(get ${s}_totals_equal)" = 4/4 ] && [ "$(get ${s}_peers_equal)" = 4/4 ] || fail=1
done
[ "$QUERY_DIFFS" = 0 ] || fail=1

if [ "$EXPLAIN" = 1 ]; then
  for f in "$WORK"/plans_*; do
    echo
    echo "=== plans: $(basename "$f")"
    cat "$f"
  done
fi
if [ "$fail" = 1 ]; then
  echo "exactness check FAILED" >&2
  exit 1
fi
