#!/usr/bin/env bash
# Ingest benchmark for the costopt costing trigger (see bench/ingest/README.md).
#
#   bash bench/ingest/run.sh                       1M rows, 3 rounds (~5 min)
#   ROWS=100000 RUNS=1 bash bench/ingest/run.sh    quick smoke run
#
# 1. COPY of ROWS realistic usage rows into tables shaped like
#    costopt.api_usage_logs: (a) no trigger, (b) a C no-op trigger, (c) the
#    costing trigger, (d) the same pricing in PL/pgSQL, the reference
#    (e) = (b) with the costs already in the CSV, and (f) = (c) plus the
#    rollup capture trigger.  Rounds a,b,c,d,e,f are interleaved; each run
#    starts from a truncated table after VACUUM and CHECKPOINT; each COPY is
#    timed on the server, alone and with its commit.  Medians are reported.
# 2. A row-by-row comparison of the costs written by (c) and (d), and the
#    deltas captured by (f) against its rows.
# 3. Single-row INSERT throughput with pgbench, no trigger vs costing trigger.
# 4. Optionally (PERF=1), a perf profile of the (b) and (c) COPY backends.
#
# Environment (all optional):
#   ROWS=1000000           rows per COPY
#   RUNS=3                 rounds of COPY runs and of pgbench runs
#   SEED=20231116          seed of the data generator
#   PGBENCH_SECONDS=20     length of one pgbench run (0 skips pgbench)
#   PGBENCH_CLIENTS=2      pgbench clients (and threads)
#   PLPGSQL_LOOKUP=direct  how (d) finds the price: direct | price_at
#   PERF=0                 1: profile one extra (b) and (c) COPY with perf
#   TRACE_DIR=../shared/data/azure_llm_trace   the Azure trace CSVs (beside the repo)
#   BENCH_OUT=bench/out/ingest   where the generated CSV is kept and reused
#                          (git-ignored; must be readable by the postgres user)
#   KEEP_CLUSTER=0         1: keep the stopped cluster's directory afterwards
#   BUILD=1                0: use the installed costopt, do not build it
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
. scripts/common.sh

ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
SEED=${SEED:-20231116}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-2}
PLPGSQL_LOOKUP=${PLPGSQL_LOOKUP:-direct}
PERF=${PERF:-0}
BUILD=${BUILD:-1}
TRACE_DIR=${TRACE_DIR:-$REPO/../shared/data/azure_llm_trace}
BENCH_OUT=${BENCH_OUT:-$REPO/bench/out/ingest}
BENCH_DIR=$REPO/bench/ingest
DB=costopt_bench
PGC="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
VARIANTS="a b c d e f"

case "$PLPGSQL_LOOKUP" in
  direct | price_at) ;;
  *) echo "PLPGSQL_LOOKUP must be direct or price_at" >&2; exit 2 ;;
esac
for v in ROWS RUNS SEED PGBENCH_SECONDS PGBENCH_CLIENTS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a non-negative integer" >&2; exit 2; }
done
[ "$ROWS" -gt 0 ] && [ "$RUNS" -gt 0 ] || { echo "ROWS and RUNS must be positive" >&2; exit 2; }

# psql against the bench database: no psqlrc, stop on the first error.
bpsql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# ---------------------------------------------------------------------------
# Build: the extension itself and the bench-only no-op trigger module.
# ---------------------------------------------------------------------------
ensure_packages
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
if [ "$BUILD" = 1 ]; then build_and_install; else log "BUILD=0: using the installed costopt"; fi
log "building and installing the no-op trigger module"
make -s -C "$BENCH_DIR/noop_trigger" PG_CONFIG="$PGC" >/dev/null
make -s -C "$BENCH_DIR/noop_trigger" PG_CONFIG="$PGC" install >/dev/null

# ---------------------------------------------------------------------------
# Data: generated once per (rows, seed, generator version) and kept.
# ---------------------------------------------------------------------------
mkdir -p "$BENCH_OUT"
chmod 0755 "$BENCH_OUT"
GEN_ID=$(md5sum "$BENCH_DIR/gen_usage.py" | cut -c1-8)
CSV="$BENCH_OUT/usage_${ROWS}_${SEED}_${GEN_ID}.csv"
if [ ! -s "$CSV" ]; then
  log "generating $ROWS rows into $CSV"
  python3 "$BENCH_DIR/gen_usage.py" --trace-dir "$TRACE_DIR" --rows "$ROWS" \
    --seed "$SEED" --out "$CSV"
else
  log "reusing $CSV"
fi
chmod 0644 "$CSV"
# the server reads the file itself (server-side COPY), as the postgres user
as_postgres test -r "$CSV" || {
  echo "the postgres OS user cannot read $CSV; set BENCH_OUT to a readable directory" >&2
  exit 1
}
HEADER=$(head -n 1 "$CSV")

# ---------------------------------------------------------------------------
# Throwaway cluster: test/costopt.conf plus bench/ingest/bench.conf.
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/costopt-bench-ingest.XXXXXX)
PERF_PID=""
cleanup() {
  if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
  cluster_stop "$WORK"
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cat test/costopt.conf "$BENCH_DIR/bench.conf" >"$WORK/bench.conf"
cluster_start "$WORK" "$(pick_port)" "$WORK/bench.conf"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
# also set per database, in case bench.conf is edited
bpsql -c "ALTER DATABASE $DB SET synchronous_commit = off" \
  -c "CREATE EXTENSION costopt"
bpsql -v plpgsql_lookup="$PLPGSQL_LOOKUP" -f "$BENCH_DIR/setup.sql" >/dev/null

# Table, input file and its column list of each variant.
TABLE_a=bench.ingest_none
TABLE_b=bench.ingest_noop
TABLE_c=bench.ingest_costing
TABLE_d=bench.ingest_plpgsql
TABLE_e=bench.ingest_precosted
TABLE_f=bench.ingest_capture
for v in a b c d f; do
  printf -v "CSV_$v" '%s' "$CSV"
  printf -v "HEADER_$v" '%s' "$HEADER"
done
# (e)'s input: the same rows with the costs (c) computes, written once by
# the server into the cluster directory (which belongs to postgres).
CSV_e=$WORK/usage_priced.csv
HEADER_e="$HEADER,input_cost,output_cost,total_cost,pricing_id,cost_status"
log "writing the pre-priced CSV for (e)"
bpsql -c "SELECT bench.timed_copy('$TABLE_c', '$CSV', '$HEADER', $ROWS)" >/dev/null
bpsql -c "COPY (SELECT $HEADER_e FROM $TABLE_c ORDER BY id) TO '$CSV_e' WITH (FORMAT csv, HEADER true)"
bpsql -c "TRUNCATE $TABLE_c RESTART IDENTITY"

# prepare_run [KEEP...]: empty every variant table but those named (and,
# unless (f) is kept, the rollup deltas (f) wrote), then VACUUM (the
# catalogs and the emptied tables) and CHECKPOINT, so that each
# run starts from the same state and does not pay for an earlier run's dirty
# buffers or dead rows.  With fsync = off the checkpoint and the WAL only
# reach the kernel's page cache, so sync(1) then waits until the kernel has
# written them: otherwise the write-back of one run (or of a kept table)
# would compete with the next run.
prepare_run() {
  local v t
  for v in $VARIANTS; do
    t="TABLE_$v"
    [[ " $* " == *" $v "* ]] || bpsql -c "TRUNCATE ${!t} RESTART IDENTITY"
  done
  [[ " $* " == *" f "* ]] || bpsql -c "TRUNCATE costopt.rollup_deltas"
  bpsql -c "VACUUM" -c "CHECKPOINT"
  sync
}

# copy_sql VARIANT: the statement that loads the variant's input and
# returns the server-side COPY time in ms.
copy_sql() {
  local t="TABLE_$1" f="CSV_$1" h="HEADER_$1"
  echo "SELECT bench.timed_copy('${!t}', '${!f}', '${!h}', $ROWS)"
}

# ---------------------------------------------------------------------------
# 1. COPY, interleaved rounds.
# ---------------------------------------------------------------------------
log "COPY benchmark: $ROWS rows, $RUNS rounds of $VARIANTS (PL/pgSQL lookup: $PLPGSQL_LOOKUP)"
# Other work on the machine skews every number; show how busy it was.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$RUNS"); do
  keep=()
  for v in $VARIANTS; do
    prepare_run "${keep[@]}"
    # a new session for every run; the second statement, in the next
    # transaction, gives the time of the COPY and its commit
    out=$(bpsql -At -c "$(copy_sql "$v")" -c "SELECT bench.since_copy_start()")
    ms=${out%%$'\n'*}
    ms_commit=${out##*$'\n'}
    bpsql -c "INSERT INTO bench.copy_runs VALUES ('$v', $round, $ROWS, $ms, $ms_commit)"
    log "round $round ($v): $(printf '%.0f' "$ms") ms, with commit $(printf '%.0f' "$ms_commit") ms"
    # in the last round keep the rows of (c) and (d) for the correctness check
    if [ "$round" = "$RUNS" ] && { [ "$v" = c ] || [ "$v" = d ]; }; then keep+=("$v"); fi
  done
done

echo
echo "=== machine: $(nproc) CPUs; load average before the COPY runs $LOAD_START," \
  "after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "=== COPY of $ROWS rows into tables shaped like costopt.api_usage_logs"
echo "    server-side time of the COPY statement (and of the COPY with its commit), median of $RUNS interleaved runs"
bpsql -P footer=off <<'SQL'
WITH m AS (
	SELECT r.variant, v.label, max(r.rows) AS rows,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms) AS ms,
		   min(r.ms) AS min_ms, max(r.ms) AS max_ms,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms_commit) AS ms_commit
	  FROM bench.copy_runs r JOIN bench.variants v USING (variant)
	 GROUP BY r.variant, v.label
)
SELECT '(' || m.variant || ')' AS variant, m.label,
	   to_char(m.ms / 1000, 'FM990.00') AS "median s",
	   to_char(m.min_ms / 1000, 'FM990.00') || ' - ' || to_char(m.max_ms / 1000, 'FM990.00')
		   AS "range s",
	   to_char(m.rows / (m.ms / 1000), 'FM9,999,999') AS "rows/s",
	   to_char(m.ms / a.ms, 'FM990.00') AS "time / (a)",
	   to_char((m.ms - a.ms) * 1000 / m.rows, 'FM990.00') AS "us/row over (a)",
	   to_char(m.ms_commit / 1000, 'FM990.00') AS "with commit s"
  FROM m, (SELECT ms FROM m WHERE variant = 'a') a
 ORDER BY m.variant;
SQL

# verdict RATIO TARGET: "met" when RATIO <= TARGET
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }
read -r cb cd ce fc fc_commit < <(bpsql -At -F ' ' <<'SQL'
WITH m AS (
	SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_commit) AS ms_commit
	  FROM bench.copy_runs GROUP BY variant
)
SELECT c.ms / b.ms, c.ms / d.ms, c.ms / e.ms, f.ms / c.ms, f.ms_commit / c.ms_commit
  FROM m c, m b, m d, m e, m f
 WHERE c.variant = 'c' AND b.variant = 'b' AND d.variant = 'd' AND e.variant = 'e'
   AND f.variant = 'f';
SQL
)
echo
printf '    (c)/(b) time ratio: %.3f   target <= 1.10   %s\n' "$cb" "$(verdict "$cb" 1.10)"
printf '    (c)/(d) time ratio: %.3f   target <= 0.40   %s\n' "$cd" "$(verdict "$cd" 0.40)"
printf '    (c)/(e) time ratio: %.3f   (reference: costs computed in C vs sent ready-made)\n' "$ce"
printf '    (f)/(c) time ratio: %.3f   (what the rollup capture trigger adds to costing; COPY with commit: %.3f)\n' \
  "$fc" "$fc_commit"

# ---------------------------------------------------------------------------
# 2. Correctness: (c) and (d) of the last round, row by row (same CSV, same
#    identity sequence, so equal ids are the same input line).  Costs are
#    compared as numeric values (0.0025 = 0.00250000); rows whose values are
#    equal but whose text differs (display scale) are counted separately.
# ---------------------------------------------------------------------------
echo
echo "=== correctness: costing trigger (c) vs PL/pgSQL (d), rows of the last round"
bpsql -P footer=off <<'SQL'
SELECT count(*) AS rows_compared,
	   count(*) FILTER (WHERE c.id IS NULL OR d.id IS NULL
						OR (c.input_cost, c.output_cost, c.total_cost, c.pricing_id, c.cost_status, c.tokens_estimated)
						   IS DISTINCT FROM
						   (d.input_cost, d.output_cost, d.total_cost, d.pricing_id, d.cost_status, d.tokens_estimated))
		   AS differences,
	   count(*) FILTER (WHERE (c.input_cost::text, c.output_cost::text, c.total_cost::text)
						  IS DISTINCT FROM
						  (d.input_cost::text, d.output_cost::text, d.total_cost::text))
		   AS "text differs",
	   count(*) FILTER (WHERE c.cost_status = 'priced') AS priced,
	   count(*) FILTER (WHERE c.cost_status = 'unpriced') AS unpriced,
	   count(*) FILTER (WHERE c.cached_input_tokens > 0 OR c.cache_write_tokens > 0) AS "with cache",
	   count(*) FILTER (WHERE c.is_batch) AS batch,
	   count(*) FILTER (WHERE c.cost_status = 'estimated') AS estimated,
	   round(sum(c.total_cost), 2) AS "sum (c) USD",
	   round(sum(d.total_cost), 2) AS "sum (d) USD"
  FROM bench.ingest_costing c FULL JOIN bench.ingest_plpgsql d USING (id);
SQL
diffs=$(bpsql -At <<'SQL'
SELECT count(*)
  FROM bench.ingest_costing c FULL JOIN bench.ingest_plpgsql d USING (id)
 WHERE c.id IS NULL OR d.id IS NULL
	OR (c.input_cost, c.output_cost, c.total_cost, c.pricing_id, c.cost_status, c.tokens_estimated)
	   IS DISTINCT FROM (d.input_cost, d.output_cost, d.total_cost, d.pricing_id, d.cost_status, d.tokens_estimated);
SQL
)
echo "    rows whose costs differ between (c) and (d): $diffs"
if [ "$diffs" != 0 ]; then
  echo "    first differing rows:"
  bpsql <<'SQL'
SELECT id, c.model, c.input_tokens AS inp, c.output_tokens AS outp,
	   c.cached_input_tokens AS cached, c.cache_write_tokens AS cwrite, c.is_batch,
	   c.total_cost AS c_total, d.total_cost AS d_total, c.cost_status AS c_status,
	   d.cost_status AS d_status
  FROM bench.ingest_costing c FULL JOIN bench.ingest_plpgsql d USING (id)
 WHERE c.id IS NULL OR d.id IS NULL
	OR (c.input_cost, c.output_cost, c.total_cost, c.pricing_id, c.cost_status, c.tokens_estimated)
	   IS DISTINCT FROM (d.input_cost, d.output_cost, d.total_cost, d.pricing_id, d.cost_status, d.tokens_estimated)
 ORDER BY id LIMIT 10;
SQL
fi

# (f) of the last round (the last run of a round, so nothing truncated
# costopt.rollup_deltas since): the deltas its capture trigger wrote to
# costopt.rollup_deltas, summed per organisation, user, provider, model and
# UTC hour, against the same sums of its rows (as costopt_verify_rollups()
# sums raw calls).  EXCEPT compares NULL keys as equal and numeric values
# whatever their scale.
echo
echo "=== correctness: rollup deltas captured by (f) vs its rows, last round"
read -r f_rows f_delta_rows f_keys f_diffs < <(bpsql -At -F ' ' <<'SQL'
WITH d AS (
	SELECT organization_id, user_id, provider, model, hour, sum(requests) AS requests,
		   sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
		   sum(cached_input_tokens) AS cached_input_tokens,
		   sum(cache_write_tokens) AS cache_write_tokens,
		   sum(reasoning_tokens) AS reasoning_tokens, sum(error_count) AS error_count,
		   sum(latency_sum) AS latency_sum, sum(latency_count) AS latency_count,
		   sum(unpriced_requests) AS unpriced_requests, sum(input_cost) AS input_cost,
		   sum(output_cost) AS output_cost, sum(total_cost) AS total_cost
	  FROM costopt.rollup_deltas
	 GROUP BY 1, 2, 3, 4, 5
), raw AS (
	SELECT organization_id, user_id, provider, model, date_trunc('hour', created_at, 'UTC'),
		   count(*)::numeric, sum(input_tokens)::numeric, sum(output_tokens)::numeric,
		   sum(cached_input_tokens)::numeric, sum(cache_write_tokens)::numeric,
		   sum(reasoning_tokens)::numeric,
		   count(*) FILTER (WHERE status <> 'success')::numeric,
		   coalesce(sum(latency_ms), 0)::numeric, count(latency_ms)::numeric,
		   count(*) FILTER (WHERE total_cost IS NULL)::numeric,
		   coalesce(sum(input_cost), 0), coalesce(sum(output_cost), 0),
		   coalesce(sum(total_cost), 0)
	  FROM bench.ingest_capture
	 GROUP BY 1, 2, 3, 4, 5
)
SELECT (SELECT count(*) FROM bench.ingest_capture),
	   (SELECT count(*) FROM costopt.rollup_deltas),
	   (SELECT count(*) FROM d),
	   (SELECT count(*) FROM ((SELECT * FROM d EXCEPT ALL SELECT * FROM raw)
							  UNION ALL (SELECT * FROM raw EXCEPT ALL SELECT * FROM d)) x);
SQL
)
echo "    (f) rows: $f_rows; delta rows written: $f_delta_rows, for $f_keys (organisation, user," \
  "provider, model, hour) keys"
echo "    keys whose deltas differ from the sums of the rows: $f_diffs"

# ---------------------------------------------------------------------------
# 3. Single-row INSERTs with pgbench: (a) no trigger vs (c) costing trigger.
# ---------------------------------------------------------------------------
if [ "$PGBENCH_SECONDS" -gt 0 ]; then
  log "pgbench: $PGBENCH_CLIENTS clients x ${PGBENCH_SECONDS}s, $RUNS rounds of a, c"
  for v in a c; do
    t="TABLE_$v"
    sed "s/@TABLE@/${!t}/" "$BENCH_DIR/insert_row.sql" >"$WORK/insert_$v.sql"
  done
  for round in $(seq 1 "$RUNS"); do
    for v in a c; do
      prepare_run
      tps=$(PGOPTIONS="-c synchronous_commit=off" \
        pgbench -n -M prepared -c "$PGBENCH_CLIENTS" -j "$PGBENCH_CLIENTS" \
          -T "$PGBENCH_SECONDS" -f "$WORK/insert_$v.sql" "$DB" 2>"$WORK/pgbench.err" |
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
      [ -n "$tps" ] || { cat "$WORK/pgbench.err" >&2; exit 1; }
      bpsql -c "INSERT INTO bench.pgbench_runs VALUES ('$v', $round, $tps)"
      log "round $round ($v): $tps tps"
    done
  done

  echo
  echo "=== single-row INSERT, pgbench -M prepared, $PGBENCH_CLIENTS clients x ${PGBENCH_SECONDS}s," \
    "synchronous_commit=off, median of $RUNS interleaved runs"
  bpsql -P footer=off <<'SQL'
WITH m AS (
	SELECT r.variant, v.label,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY r.tps) AS tps,
		   min(r.tps) AS min_tps, max(r.tps) AS max_tps
	  FROM bench.pgbench_runs r JOIN bench.variants v USING (variant)
	 GROUP BY r.variant, v.label
)
SELECT '(' || m.variant || ')' AS variant, m.label,
	   to_char(m.tps, 'FM9,999,990.0') AS "median tps",
	   to_char(m.min_tps, 'FM9,999,990') || ' - ' || to_char(m.max_tps, 'FM9,999,990')
		   AS "range tps",
	   to_char(m.tps / a.tps, 'FM990.000') AS "tps / (a)",
	   to_char(a.tps / m.tps, 'FM990.000') AS "time / (a)"
  FROM m, (SELECT tps FROM m WHERE variant = 'a') a
 ORDER BY m.variant;
SQL
fi

# ---------------------------------------------------------------------------
# 4. Optional: where does the time go?  perf on the backend of one extra,
#    untimed COPY for (b) and for (c).
# ---------------------------------------------------------------------------
# Inclusive shares printed for these functions (executor steps of a COPY
# row, and the costing trigger's own parts):
PERF_FUNCS="CopyFrom NextCopyFrom ExecConstraints ExecBRInsertTriggers ExecFetchSlotHeapTuple \
costopt_costing_trigger costopt_pricing_lookup costopt_cost_compute heap_form_tuple \
ExecForceStoreHeapTuple heap_insert ExecInsertIndexTuples"
if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || { echo "PERF=1 needs perf" >&2; exit 1; }
  for v in b c; do
    prepare_run
    # the session sleeps a moment so that perf is attached before the COPY
    PGAPPNAME=costopt_bench_perf bpsql -At -c "SELECT pg_sleep(1)" -c "$(copy_sql "$v")" \
      >"$WORK/perf_ms" &
    copy_job=$!
    pid=""
    for _ in $(seq 1 100); do
      pid=$(bpsql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'costopt_bench_perf'")
      [ -z "$pid" ] || break
      sleep 0.01
    done
    [ -n "$pid" ] || { echo "the COPY session for perf did not start" >&2; exit 1; }
    perf record -F 999 -g -p "$pid" -o "$WORK/perf_$v.data" >/dev/null 2>&1 &
    PERF_PID=$!
    wait "$copy_job"
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" || true
    PERF_PID=""
    ms=$(tail -n 1 "$WORK/perf_ms")
    echo
    echo "=== perf, ($v) COPY backend ($(printf '%.0f' "$ms") ms): top symbols by self time"
    # awk, not head: reading to the end keeps perf from dying of SIGPIPE
    perf report -i "$WORK/perf_$v.data" --no-children --sort dso,symbol -g none \
      --stdio 2>/dev/null |
      awk '/^ +[0-9.]+%/ && n++ < 20 { printf "    %7s  %-22s %s\n", $1, $2, $4 }'
    echo "    inclusive (with callees), in % of samples and us per row:"
    perf report -i "$WORK/perf_$v.data" --children --sort symbol -g none --stdio 2>/dev/null |
      awk -v funcs="$PERF_FUNCS" -v ms="$ms" -v rows="$ROWS" '
        BEGIN { n = split(funcs, f, " "); for (i = 1; i <= n; i++) want[f[i]] = i }
        /^ +[0-9.]+%/ && ($4 in want) {
          pct = $1; sub("%", "", pct)
          share[want[$4]] = pct + 0
          line[want[$4]] = sprintf("    %7s  %6.3f us/row  %s", $1, pct / 100 * ms * 1000 / rows, $4)
        }
        END {
          for (i = 1; i <= n; i++) if (i in line) print line[i]
          if (!(1 in share) || share[1] < 80)
            print "    (call chains look incomplete: CopyFrom should be near 100%; run again)"
        }'
  done
fi
