#!/usr/bin/env bash
# Long fuzzing runs of costopt (see bench/fuzz/README.md): the harness of
# test/t/005_fuzz.t (bench/fuzz/fuzz.sql) with many more iterations, on a
# throwaway cluster, outside CI.
#
#   bash bench/fuzz/run.sh                          20,000 cases per target (~3 min)
#   ITERATIONS=200000 SEED=7 bash bench/fuzz/run.sh  a long run with another seed
#   TARGETS="cost series" ITERATIONS=50000 bash bench/fuzz/run.sh
#   ASSERTS=check bash bench/fuzz/run.sh             build costopt with assertions and
#                                                    check it would load; install nothing
#   ASSERTS=1 bash bench/fuzz/run.sh                 build and INSTALL costopt with
#                                                    -DUSE_ASSERT_CHECKING first
#
# Environment (all optional):
#   ITERATIONS=20000   cases per target
#   SEED=1             seed of the case generator (cases are reproducible per
#                      target, seed and case number)
#   TARGETS=all        any of: ingest_json ingest_payload load_pricing cost
#                      aggregates series (and crash_selftest: case 3 crashes
#                      the backend on purpose, to see the crash handling work)
#   CHUNK=500          cases per psql call (a crash loses one chunk)
#   CHUNK_TIMEOUT=900  seconds before a chunk counts as hung
#   AVOID=             bugs (K1-K7, README) whose inputs are not generated,
#                      e.g. AVOID=K5,K6 (all are fixed; default: none)
#   ASSERTS=0          1: build costopt with assertions (a copy of the source
#                      tree, PG_CPPFLAGS="-Isrc -DUSE_ASSERT_CHECKING"), check
#                      that the server can load it, install it over the
#                      installed costopt, then fuzz.  The shared install
#                      directory changes: reinstall the normal build (make
#                      install) afterwards.
#                      check: only build and check, install nothing, exit.
#   BUILD=0            1: build and install the normal costopt first
#   OUT=/tmp/costopt-fuzz-<seed>   directory for the report and the outcomes
#   KEEP_CLUSTER=0     1: keep the cluster's directory
#
# Exit status: 0 when nothing crashed, hung or failed (known bugs aside),
# 1 otherwise, 2 on bad settings.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh

ITERATIONS=${ITERATIONS:-20000}
SEED=${SEED:-1}
TARGETS=${TARGETS:-all}
CHUNK=${CHUNK:-500}
CHUNK_TIMEOUT=${CHUNK_TIMEOUT:-900}
AVOID=${AVOID-}
ASSERTS=${ASSERTS:-0}
BUILD=${BUILD:-0}
OUT=${OUT:-/tmp/costopt-fuzz-$SEED}
ALL_TARGETS="ingest_json ingest_payload load_pricing cost aggregates series"
[ "$TARGETS" = all ] && TARGETS=$ALL_TARGETS

for v in ITERATIONS SEED CHUNK CHUNK_TIMEOUT; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "$v must be a positive integer" >&2; exit 2; }
done
for t in $TARGETS; do
	[[ " $ALL_TARGETS crash_selftest " == *" $t "* ]] || { echo "unknown target $t (use: $ALL_TARGETS)" >&2; exit 2; }
done
[[ $AVOID =~ ^[K0-9,]*$ ]] || { echo "AVOID must look like K5,K6" >&2; exit 2; }

PGC="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# ---- optional builds -------------------------------------------------------
[[ $ASSERTS =~ ^(0|1|check)$ ]] || { echo "ASSERTS must be 0, 1 or check" >&2; exit 2; }
if [ "$BUILD" = 1 ] && [ "$ASSERTS" = 0 ]; then
	ensure_packages && build_and_install || exit 1
fi
if [ "$ASSERTS" != 0 ]; then
	# Build in a copy so the working tree's objects stay release objects.
	# Safe against Debian's non-cassert server: see README.md, "Assertions".
	ensure_packages || exit 1
	ABUILD=$(mktemp -d /tmp/costopt-asserts.XXXXXX)
	git ls-files -co --exclude-standard | grep -E '^(src/|sql/|doc/|Makefile$|costopt.control$)' |
		tar cf - -T - | tar xf - -C "$ABUILD"
	log "building costopt with -DUSE_ASSERT_CHECKING in $ABUILD"
	make -s -C "$ABUILD" PG_CONFIG="$PGC" PG_CPPFLAGS="-Isrc -DUSE_ASSERT_CHECKING" >"$ABUILD/build.log" 2>&1 ||
		{ cat "$ABUILD/build.log"; exit 1; }
	# Every symbol the module needs must be defined by the server binary or
	# the C libraries it links: an assert-only server function (say
	# AssertCouldGetRelation) would make the module fail to load.
	postgres_bin="$($PGC --bindir)/postgres"
	defined=$( { nm -D --defined-only "$postgres_bin"
				for lib in $(ldd "$postgres_bin" | awk '/lib(c|m)\.so/ { print $3 }'); do
					nm -D --defined-only "$lib"
				done; } | awk '{ print $3 }' | sed 's/@.*//' | sort -u)
	missing=$(nm -D --undefined-only "$ABUILD/costopt.so" | awk '$1 == "U" { print $2 }' | sed 's/@.*//' |
		sort -u | comm -23 - <(echo "$defined"))
	if [ -n "$missing" ]; then
		echo "the assertion build needs symbols the server does not define:" >&2
		echo "$missing" >&2
		exit 1
	fi
	# (grep -c, not -q: with pipefail an early exit of grep fails the pipe)
	[ "$(nm -D --undefined-only "$ABUILD/costopt.so" | grep -c ExceptionalCondition)" -gt 0 ] ||
		{ echo "the assertion build has no assertions (ExceptionalCondition not referenced)" >&2; exit 1; }
	log "assertion build checked: it needs nothing the server and libc/libm do not define"
	if [ "$ASSERTS" = check ]; then
		rm -rf "$ABUILD"
		exit 0
	fi
	log "installing the assertion build over the installed costopt"
	$SUDO make -s -C "$ABUILD" PG_CONFIG="$PGC" PG_CPPFLAGS="-Isrc -DUSE_ASSERT_CHECKING" install >/dev/null || exit 1
	rm -rf "$ABUILD"
fi
[ "$(nm -D --undefined-only "$($PGC --pkglibdir)/costopt.so" 2>/dev/null | grep -c ExceptionalCondition)" -gt 0 ] &&
	BUILD_KIND="with assertions" || BUILD_KIND="release (no assertions)"
BUILD_ID=$(costopt_build_id)

# ---- cluster -----------------------------------------------------------------
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/costopt-fuzz-run.XXXXXX)
cleanup() {
	if [ -f "$WORK/data/postmaster.pid" ]; then
		as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_postgres "$(pg_bindir)/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
	[ "$ASSERTS" = 1 ] && log "the installed costopt is the assertion build: run make install to restore the normal one"
}
trap cleanup EXIT
cluster_start "$WORK" "$(pick_port)" test/costopt.conf || exit 1
db=costopt_fuzz
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
q postgres "CREATE DATABASE $db" >/dev/null
# test/costopt.conf turns synchronous_commit off; a crash would then lose
# the last outcomes (and even the harness if it was just loaded)
q postgres "ALTER DATABASE $db SET synchronous_commit = on" >/dev/null
q $db "CREATE EXTENSION costopt" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d $db -f bench/fuzz/fuzz.sql >/dev/null || exit 1
log "costopt $BUILD_ID ($BUILD_KIND); $ITERATIONS cases per target, seed $SEED, targets: $TARGETS; avoiding: ${AVOID:-nothing}"

# ---- fuzzing -----------------------------------------------------------------
: >"$OUT/incidents"
wait_server() { for _ in $(seq 1 120); do q postgres "SELECT 1" >/dev/null 2>&1 && return 0; sleep 1; done; return 1; }
# run_chunk TARGET FROM TO: on a crash or a hang, find the case with a traced
# rerun and note it in $OUT/incidents
run_chunk() {
	local target=$1 from=$2 to=$3 out rc last no
	out=$(PGOPTIONS="-c client_min_messages=error -c statement_timeout=${CHUNK_TIMEOUT}s" \
		timeout "$((CHUNK_TIMEOUT + 60))" psql -X -q -At -v ON_ERROR_STOP=1 -d $db \
		-c "SET fuzz.avoid = '$AVOID'" -c "SELECT fuzz.run('$target', $SEED, $from, $to)" 2>&1)
	rc=$?
	[ $rc = 0 ] && return 0
	log "chunk $target $from..$to failed (rc $rc): $(echo "$out" | head -2 | tr '\n' ' ')"
	wait_server || { log "the server does not come back"; exit 1; }
	last=$(PGOPTIONS="-c client_min_messages=notice -c statement_timeout=${CHUNK_TIMEOUT}s" \
		timeout "$((CHUNK_TIMEOUT + 60))" psql -X -q -At -d $db -c "SET fuzz.avoid = '$AVOID'" \
		-c "SELECT fuzz.run('$target', $SEED, $from, $to, true)" 2>&1 | grep -o 'fuzzcase [^ ]*' | tail -1)
	wait_server || { log "the server does not come back"; exit 1; }
	{
		echo "== chunk $target $from..$to: $(echo "$out" | head -3 | tr '\n' ' ')"
		echo "   last case started in the traced rerun: ${last:-none (the rerun passed)}"
		if [ -n "$last" ]; then
			IFS=/ read -r _t _s no <<<"${last#fuzzcase }"
			echo "   replay: SET fuzz.avoid = '$AVOID'; SELECT sql FROM fuzz.gen('$target', $SEED, $no);"
			q $db "SET fuzz.avoid = '$AVOID'; SELECT left(sql, 2000) FROM fuzz.gen('$target', $SEED, $no)" 2>&1 | sed 's/^/   | /'
		fi
	} >>"$OUT/incidents"
	[ -n "$last" ] || return 0
	q $db "INSERT INTO fuzz.outcome (target, seed, case_no, sqlstate, message, input)
	       SELECT '$target', $SEED, $no, 'crash', 'the server process died or hung (see incidents)', left(sql, 400)
	         FROM fuzz.gen('$target', $SEED, $no) ON CONFLICT DO NOTHING" >/dev/null
	# the other cases of the chunk
	[ "$no" -gt "$from" ] && run_chunk "$target" "$from" $((no - 1))
	[ "$no" -lt "$to" ] && run_chunk "$target" $((no + 1)) "$to"
	return 0
}
t_start=$(date +%s)
for ((from = 1; from <= ITERATIONS; from += CHUNK)); do
	to=$((from + CHUNK - 1))
	[ $to -gt "$ITERATIONS" ] && to=$ITERATIONS
	for t in $TARGETS; do run_chunk "$t" $from $to; done
	log "$to of $ITERATIONS cases per target done ($(($(date +%s) - t_start)) s)"
done
secs=$(($(date +%s) - t_start))

# ---- report ------------------------------------------------------------------
crash_lines=$(grep -E 'server process .*(terminated by signal|was terminated by exception|exited with exit code)|TRAP:|PANIC:' "$WORK/server.log")
refresh=$(q $db "SELECT costopt_refresh_rollups()" 2>&1) && refresh_ok=1 || refresh_ok=0
verify=$([ $refresh_ok = 1 ] && q $db "SELECT count(*) FROM costopt_verify_rollups()" 2>&1 || echo "not run")
q $db "COPY (SELECT * FROM fuzz.outcome ORDER BY target, case_no) TO STDOUT WITH (FORMAT csv, HEADER)" >"$OUT/outcomes.csv"
failures=$(q $db "SELECT count(*) FROM fuzz.failures WHERE known IS NULL")
{
	echo "costopt fuzz run: build $BUILD_ID ($BUILD_KIND), seed $SEED, $ITERATIONS cases per target, ${secs}s"
	echo "targets: $TARGETS; avoided known bugs: ${AVOID:-none}"
	echo
	echo "outcomes (target, SQLSTATE or result, cases, a message):"
	q $db "SELECT * FROM fuzz.report()"
	echo
	echo "cases that hit a known bug:"
	q $db "SELECT format('  %s: %s cases, %s showed it', known, count(*),
	                     count(*) FILTER (WHERE sqlstate LIKE 'XX%' OR violation LIKE 'hard:%'))
	         FROM fuzz.outcome WHERE known IS NOT NULL GROUP BY known ORDER BY known"
	echo
	echo "failures outside known bugs: $failures"
	q $db "SELECT format('  %s/%s/%s %s: %s %s %s', target, seed, case_no, failure, coalesce(sqlstate, ''),
	                     coalesce(left(message, 150), ''), coalesce(violation, ''))
	         FROM fuzz.failures WHERE known IS NULL ORDER BY target, case_no LIMIT 50"
	echo
	echo "crashes and hangs: $(grep -c '^==' "$OUT/incidents")"
	cat "$OUT/incidents"
	[ -n "$crash_lines" ] && echo "server log:" && echo "$crash_lines" | head -40
	echo
	echo "costopt_refresh_rollups() afterwards: $([ $refresh_ok = 1 ] && echo ok || echo "FAILED: $refresh")"
	echo "costopt_verify_rollups() differences: $verify"
} | tee "$OUT/report.txt"
log "report in $OUT/report.txt, every outcome in $OUT/outcomes.csv"
[ "$BUILD_ID" = "$(costopt_build_id)" ] || log "WARNING: the installed costopt changed during the run"

[ "$failures" = 0 ] && [ ! -s "$OUT/incidents" ] && [ -z "$crash_lines" ] && [ $refresh_ok = 1 ] && [ "$verify" = 0 ]
