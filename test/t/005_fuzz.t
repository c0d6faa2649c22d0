#!/usr/bin/env bash
# Fuzzing: random and malformed JSON into costopt_ingest and
# costopt_load_pricing, numeric extremes into the cost functions, the
# statistics aggregates and the series functions (the harness is
# bench/fuzz/fuzz.sql; bench/fuzz/run.sh runs the same with many more
# iterations).  Every call runs in its own subtransaction and its SQLSTATE
# is recorded.  Asserts: the server never crashed, no internal error
# (XX000), every error in an allowed SQLSTATE class and with a message,
# no wrong result (negative or non-finite costs, row counts that disagree
# with the input, ...), stored usage rows with sane costs, and rollups that
# refresh and match the usage log afterwards.  Prints the outcome histogram.
#
# The bugs the fuzzing found (K1-K7, bench/fuzz/README.md) are fixed; each
# keeps a minimal reproducer below as a regression test.
#
# Starts its own throwaway cluster (test/costopt.conf, a free port, a
# directory under /tmp), so a crash cannot disturb other tests; run as root
# or as the postgres OS user, with costopt installed:
#     prove -v -e bash test/t/005_fuzz.t
# Deterministic: fixed seed.  FUZZ_ITERATIONS (cases per target, default
# 2000), FUZZ_SEED (default 1) and FUZZ_TARGETS (bench/fuzz/fuzz.sql;
# crash_selftest crashes a backend on purpose) change the run.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh

ITERATIONS=${FUZZ_ITERATIONS:-2000}
SEED=${FUZZ_SEED:-1}
CHUNK=200
TARGETS=${FUZZ_TARGETS:-"ingest_json ingest_payload load_pricing cost aggregates series"}
db=costopt_fuzz
probe=costopt_fuzz_probe
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
diag() { sed 's/^/# /'; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# try DB SQL: "rc:stderr" of a statement (VERBOSITY verbose: the SQLSTATE is
# there); OPTS adds server options
try() {
	local err rc
	err=$(PGOPTIONS="-c client_min_messages=warning ${OPTS:-}" psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
		-d "$1" -c "$2" 2>&1 >/dev/null)
	rc=$?
	echo "$rc:$err"
}

WORK=$(mktemp -d /tmp/costopt-fuzz.XXXXXX)
cleanup() {
	# a backend stuck in a loop without interrupt checks ignores a fast
	# shutdown: fall back to an immediate one
	if [ -f "$WORK/data/postmaster.pid" ]; then
		as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then echo "# cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "1..17"
start=$(date +%s)
if ! cluster_start "$WORK" "$(pick_port)" test/costopt.conf 2>"$WORK/setup.log" >&2; then
	echo "Bail out! could not start a cluster:"
	diag <"$WORK/setup.log"
	exit 1
fi
logfile="$WORK/server.log"
q postgres "CREATE DATABASE $db" >/dev/null
# test/costopt.conf turns synchronous_commit off; a crash would then lose
# the last outcomes (and even the harness if it was just loaded)
q postgres "ALTER DATABASE $db SET synchronous_commit = on" >/dev/null
q $db "CREATE EXTENSION costopt" >/dev/null &&
	psql -X -q -v ON_ERROR_STOP=1 -d $db -f bench/fuzz/fuzz.sql >/dev/null 2>"$WORK/load.log"
rc=$?
ok $rc "costopt and the fuzz harness (bench/fuzz/fuzz.sql) load"
[ -s "$WORK/load.log" ] && diag <"$WORK/load.log"
[ $rc = 0 ] || { echo "Bail out! costopt or the fuzz harness does not load"; exit 1; }
pm_start=$(q postgres "SELECT pg_postmaster_start_time()")

# ---- the fuzzing ---------------------------------------------------------
# Chunks of CHUNK cases per psql call, the targets interleaved, so a crash
# loses one chunk and later targets see the catalog earlier ones loaded.
crashed=0
wait_server() { for _ in $(seq 1 60); do q postgres "SELECT 1" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }
fuzz_run() { # OPTIONS TARGET FROM TO [TRACE]
	PGOPTIONS="$1 -c statement_timeout=300s" timeout 600 psql -X -q -At -v ON_ERROR_STOP=1 -d $db \
		-c "SET fuzz.avoid = ''" -c "SELECT fuzz.run('$2', $SEED, $3, $4, ${5:-false})" 2>&1
}
# run_chunk TARGET FROM TO: on a crash (or hang), find the case with a traced
# rerun, record it as outcome "crash", run the other cases of the chunk
run_chunk() {
	local target=$1 from=$2 to=$3 out last no
	out=$(fuzz_run "-c client_min_messages=error" "$target" "$from" "$to") && return 0
	crashed=$((crashed + 1))
	echo "chunk $target $from..$to failed: $out" | diag
	wait_server
	last=$(fuzz_run "-c client_min_messages=notice" "$target" "$from" "$to" true | grep -o 'fuzzcase [^ ]*' | tail -1)
	wait_server
	[ -n "$last" ] || return 0
	no=${last##*/}
	echo "the traced rerun stopped in case $no: $(q $db "SET fuzz.avoid = ''; SELECT left(sql, 500) FROM fuzz.gen('$target', $SEED, $no)")" | diag
	q $db "INSERT INTO fuzz.outcome (target, seed, case_no, sqlstate, message, input)
	       SELECT '$target', $SEED, $no, 'crash', 'the server process died or hung (see the server log)', left(sql, 400)
	         FROM fuzz.gen('$target', $SEED, $no) ON CONFLICT DO NOTHING" >/dev/null
	[ "$no" -gt "$from" ] && run_chunk "$target" "$from" $((no - 1))
	[ "$no" -lt "$to" ] && run_chunk "$target" $((no + 1)) "$to"
	return 0
}
fuzz_start=$(date +%s)
for ((from = 1; from <= ITERATIONS; from += CHUNK)); do
	to=$((from + CHUNK - 1))
	[ $to -gt "$ITERATIONS" ] && to=$ITERATIONS
	for t in $TARGETS; do run_chunk "$t" $from $to; done
done
fuzz_secs=$(($(date +%s) - fuzz_start))

ntargets=$(echo $TARGETS | wc -w)
cases=$(q $db "SELECT count(*) FROM fuzz.outcome")
[ "$cases" = $((ITERATIONS * ntargets)) ]
ok $? "every case ran ($cases cases: $ITERATIONS per target, seed $SEED, ${fuzz_secs}s)"

echo "# outcomes (target, SQLSTATE or result, cases, a message):"
q $db "SELECT * FROM fuzz.report()" | diag

crash_lines=$(grep -E 'server process .*(terminated by signal|was terminated by exception|exited with exit code)|TRAP:|PANIC:|terminating any other active server processes' "$logfile")
[ $crashed = 0 ] && [ -z "$crash_lines" ] && [ "$(q postgres "SELECT pg_postmaster_start_time()")" = "$pm_start" ]
ok $? "the server never crashed (same postmaster start time, no crash in the server log)"
[ -n "$crash_lines" ] && echo "$crash_lines" | head -20 | diag

# failures: internal errors, unexpected classes, empty messages, wrong results
show_failures() {
	q $db "SELECT format('%s/%s/%s known=%s %s %s %s | %s', target, seed, case_no, known, coalesce(sqlstate, ''),
	                     coalesce(left(message, 120), ''), coalesce(violation, ''), left(regexp_replace(input, '\s+', ' ', 'g'), 300))
	         FROM fuzz.failures WHERE $1 ORDER BY target, case_no LIMIT 10" | diag
}
xx=$(q $db "SELECT count(*) FROM fuzz.outcome WHERE sqlstate LIKE 'XX%' AND known IS DISTINCT FROM 'K3'")
[ "$xx" = 0 ]
ok $? "no internal error (XX000) outside known bug K3 ($xx)"
[ "$xx" = 0 ] || show_failures "sqlstate LIKE 'XX%' AND known IS DISTINCT FROM 'K3'"

bad=$(q $db "SELECT count(*) FROM fuzz.outcome WHERE sqlstate NOT LIKE 'XX%' AND left(sqlstate, 2) NOT IN (SELECT class FROM fuzz.allowed_class)")
[ "$bad" = 0 ]
ok $? "every error is in an allowed SQLSTATE class: $(q $db "SELECT string_agg(class, ' ' ORDER BY class) FROM fuzz.allowed_class") ($bad outside)"
[ "$bad" = 0 ] || show_failures "failure = 'unexpected SQLSTATE class'"

empty=$(q $db "SELECT count(*) FROM fuzz.outcome WHERE sqlstate IS NOT NULL AND coalesce(message, '') = ''")
[ "$empty" = 0 ]
ok $? "every rejected input got an error message ($empty without)"

wrong=$(q $db "SELECT count(*) FROM fuzz.outcome WHERE violation LIKE 'hard:%' AND known IS NULL")
[ "$wrong" = 0 ]
ok $? "no wrong result outside known bugs: costs non-negative and finite, counts match the input ($wrong)"
[ "$wrong" = 0 ] || show_failures "violation LIKE 'hard:%' AND known IS NULL"
echo "# fuzz cases that hit a known bug:"
q $db "SELECT format('%s: %s cases, %s showed it', known, count(*),
                     count(*) FILTER (WHERE sqlstate LIKE 'XX%' OR violation LIKE 'hard:%'))
         FROM fuzz.outcome WHERE known IS NOT NULL GROUP BY known ORDER BY known" | diag

stored=$(q $db "SELECT count(*) || ' ' || count(*) FILTER (WHERE input_cost < 0 OR output_cost < 0 OR total_cost < 0
                                  OR total_cost >= 'Infinity' OR input_cost >= 'Infinity' OR output_cost >= 'Infinity'
                                  OR (cost_status IN ('priced', 'estimated') AND total_cost IS DISTINCT FROM input_cost + output_cost)
                                  OR (cost_status = 'unpriced' AND total_cost IS NOT NULL))
                  FROM costopt.api_usage_logs")
[ "${stored#* }" = 0 ]
ok $? "stored usage rows have finite, non-negative costs, total = input + output (${stored% *} rows, ${stored#* } bad)"

res=$(try $db "SELECT costopt_refresh_rollups()")
[ "${res%%:*}" = 0 ]
ok $? "costopt_refresh_rollups() succeeds on the fuzzed usage log"
[ "${res%%:*}" = 0 ] || echo "$res" | diag
diffs=$(q $db "SELECT count(*) FROM costopt_verify_rollups()")
[ "$diffs" = 0 ]
ok $? "the rollups match the fuzzed usage log (costopt_verify_rollups: $diffs differences)"

# ---- the bugs fuzzing found: one minimal reproducer each ----------------
q postgres "CREATE DATABASE $probe" >/dev/null
q $probe "CREATE EXTENSION costopt" >/dev/null

res=$(try $probe "SELECT * FROM costopt_request_cost('gpt-4o', 10, 0, 9223372036854775807, 2)")
case "$res" in 1:*22023*) r=0 ;; *) r=1 ;; esac
ok $r "cached_tokens + cache_write_tokens beyond the bigint range is refused (22023) (K1)"
[ $r = 0 ] || echo "$res" "$(q $probe "SELECT total_cost FROM costopt_request_cost('gpt-4o', 10, 0, 9223372036854775807, 2)" 2>&1)" | diag

res=$(try $probe "SELECT * FROM costopt_monthly_projection('NaN', 100, 100, 'gpt-4o')")
case "$res" in 1:*22023*) r=0 ;; *) r=1 ;; esac
ok $r "costopt_monthly_projection refuses NaN and Infinity arguments (22023) (K2)"

res=$(try $probe "SELECT costopt.stats_final('{1,2,3}')")
case "$res" in 1:*XX000*) r=1 ;; 1:*) r=0 ;; *) r=1 ;; esac
ok $r "a malformed aggregate state passed by hand is a user error, not XX000 (K3)"
[ $r = 0 ] || echo "$res" | diag

# 23,500 points one second apart: the default window is 86400 points, the
# last 1,900 points are scored, each sorting over 21,600 values (about 3 s
# on a 2-core test machine)
t0=$(date +%s%N)
res=$(OPTS="-c statement_timeout=100ms" try $probe "SELECT count(*) FROM costopt_anomaly_scan(
		array(SELECT timestamptz '2025-01-01' + g * interval '1 second' FROM generate_series(1, 23500) g),
		array(SELECT (g % 97)::float8 FROM generate_series(1, 23500) g), 'robust')")
ms=$((($(date +%s%N) - t0) / 1000000))
case "$res" in 1:*57014*) [ $ms -lt 500 ] && r=0 || r=1 ;; *) r=1 ;; esac
ok $r "costopt_anomaly_scan honours statement_timeout (100 ms; cancelled after $ms ms) (K4)"

res=$(try $probe "INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
          VALUES ('294276-12-31 23:00:00+00', 'far-future', 'gpt-4o', 1000, 100)")
case "$res" in 1:*23514*) r=0 ;; *) r=1 ;; esac
res2=$(try $probe "SELECT costopt_refresh_rollups()")
[ $r = 0 ] && [ "${res2%%:*}" = 0 ]; r=$?
ok $r "a usage row in December 294276 is refused (23514) and cannot stop costopt_refresh_rollups() (K5)"
[ $r = 0 ] || echo "$res" | head -2 | diag

q $probe "SET costopt.retention_mode = on; DELETE FROM costopt.api_usage_logs; DELETE FROM costopt.rollup_deltas;" >/dev/null 2>&1
q $probe "INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
          VALUES ('2025-03-03 09:15+00', 'acme', 'mallory' || chr(31) || 'vother', 'openai', 'gpt-4o', 1000, 100)" >/dev/null
got=$(q $probe "SELECT format('%s|%s|%s|%s', organization_id, replace(user_id, chr(31), '<1f>'), provider, model) FROM costopt.rollup_deltas")
[ "$got" = "acme|mallory<1f>vother|openai|gpt-4o" ]; r=$?
ok $r "a user_id containing chr(31) keeps its rollup key (got $got) (K6)"

res=$(try $probe "SELECT * FROM costopt_predict((SELECT costopt_trend(t, v) FROM (VALUES (timestamptz '2025-01-01', 1.0::float8),
		('2025-01-02', 2.0), ('2025-01-03', 2.5), ('2025-01-04', 4.0)) x(t, v)), '2025-01-10', 0.9999999999999999)")
case "$res" in 1:*22023*) r=0 ;; *) r=1 ;; esac
ok $r "a level whose interval quantile rounds to 1 is refused (22023), not an assertion failure (K7)"
[ $r = 0 ] || echo "$res" | diag

echo "# $((ITERATIONS * ntargets)) fuzz cases in ${fuzz_secs}s; whole test $(($(date +%s) - start))s"
exit $fails
