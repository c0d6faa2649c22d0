#!/usr/bin/env bash
# Runs every test of costopt on a throwaway cluster:
#   pg_regress (sql/ + expected/), isolation specs (test/isolation), the
#   pgTAP suites (test/pgtap) through pg_prove and the cluster-level TAP
#   scripts (test/t, dump and restore) through prove.
# Installs missing packages, builds and installs the extension, always removes
# the cluster, prints "costopt tests: N passed, N failed" and exits non-zero
# on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

ensure_packages || exit 1
build_and_install || exit 1

WORK=$(mktemp -d /tmp/costopt-test.XXXXXX)
cleanup() {
	cluster_stop "$WORK"
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then log "cluster kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cluster_start "$WORK" "$(pick_port)" test/costopt.conf || exit 1
PGC="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"

passed=0
failed=0

log "pg_regress and isolation"
make -s PG_CONFIG="$PGC" installcheck >"$WORK/installcheck.out" 2>&1
rc=$?
cat "$WORK/installcheck.out"
for f in regression.diffs output_iso/regression.diffs; do
	[ -s "$f" ] && { echo "---- $f"; cat "$f"; }
done
# "ok 1 - name" / "not ok 2 - name" lines (PG15 pg_regress prints "ok"/"FAILED")
p=$(grep -Ec '^(ok|test |     )?.* \.\.\. ok|^ok ' "$WORK/installcheck.out")
f=$(grep -Ec '\.\.\. FAILED|^not ok ' "$WORK/installcheck.out")
passed=$((passed + p))
failed=$((failed + f))
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))

# count_prove FILE RC: add a prove/pg_prove run's results to the totals
count_prove() {
	local out=$1 rc=$2 t bad
	t=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$out")
	bad=$(grep -Eo 'Failed [0-9]+/[0-9]+ subtests' "$out" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
	t=${t:-0}
	passed=$((passed + t - bad))
	failed=$((failed + bad))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then failed=$((failed + 1)); fi
}

log "pgTAP suites"
psql -X -q -d postgres -c "CREATE DATABASE costopt_tap" >/dev/null
psql -X -q -d costopt_tap -c "CREATE EXTENSION pgtap; CREATE EXTENSION costopt;" >/dev/null
# suites that read ../shared/data find it through this placeholder setting
SHARED_DIR=$(cd .. && pwd)/shared
PGOPTIONS="-c costopt_test.shared_dir=$SHARED_DIR" \
	pg_prove -d costopt_tap --ext .sql -r test/pgtap >"$WORK/prove.out" 2>&1
rc=$?
cat "$WORK/prove.out"
count_prove "$WORK/prove.out" $rc

log "cluster-level TAP scripts (dump and restore)"
prove -e bash test/t/ >"$WORK/tap.out" 2>&1
rc=$?
cat "$WORK/tap.out"
count_prove "$WORK/tap.out" $rc

echo
echo "costopt tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
