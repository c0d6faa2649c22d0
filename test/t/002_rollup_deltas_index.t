#!/usr/bin/env bash
# The rollup capture at COMMIT, which pgTAP (one transaction, rolled back)
# cannot reach: the deltas are written when the transaction commits; an index
# on costopt.rollup_deltas makes that commit fail with 55000 and nothing of
# the transaction is kept; an UPDATE that changes nothing the rollups keep
# writes no delta row; names of the allowed length are captured intact.
#
# The last test writes names whose combined length overflowed the capture's
# key buffer and crashed the backend (the server then restarts); it runs last
# and waits until the server accepts connections again.
# Needs PGHOST/PGPORT/PGUSER of a running test cluster (scripts/test.sh).
set -uo pipefail
db=costopt_deltas_commit
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db -c "$1"; }
# run SQL, print "rc:stderr" (VERBOSITY verbose, so the SQLSTATE is there)
try() {
	local err rc
	err=$(PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
		-d $db -c "$1" 2>&1 >/dev/null)
	rc=$?
	echo "$rc:$err"
}
deltas() { q "SELECT count(*) FROM costopt.rollup_deltas"; }
ins="INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, model, input_tokens, output_tokens)
     VALUES ('2025-03-03 09:15+00', 'acme', 'ana', 'gpt-4o', 1000, 100)"

echo "1..9"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION costopt" >/dev/null

q "$ins" >/dev/null
[ "$(q "SELECT requests || ':' || total_cost FROM costopt.rollup_deltas")" = "1:0.00350000" ]
ok $? "a committed insert leaves one delta row ($(q "SELECT requests || ':' || total_cost FROM costopt.rollup_deltas"))"

# an UPDATE of tags only: the delta is zero, and zero deltas are not written
before=$(deltas)
q "UPDATE costopt.api_usage_logs SET tags = '{\"team\": \"search\"}' WHERE organization_id = 'acme'" >/dev/null
after=$(deltas)
[ "$before" = "$after" ]
ok $? "a committed tags-only UPDATE writes no delta row (rollup_deltas: $before rows before, $after after)"
[ "$(q "SELECT count(*) FROM costopt.rollup_deltas WHERE requests <> 0 OR total_cost <> 0")" = 1 ]
ok $? "the only non-zero delta is the insert's"

q "SELECT costopt_refresh_rollups()" >/dev/null
q "CREATE INDEX rollup_deltas_org_idx ON costopt.rollup_deltas (organization_id)" >/dev/null
calls=$(q "SELECT count(*) FROM costopt.api_usage_logs")
res=$(try "$ins")
case "$res" in
	1:*55000*"costopt.rollup_deltas must not have indexes"*) r=0 ;;
	*) r=1 ;;
esac
ok $r "with an index on costopt.rollup_deltas, committing a usage insert fails with 55000"
[ $r = 0 ] || echo "$res" | sed 's/^/# /'
[ "$(q "SELECT count(*) FROM costopt.api_usage_logs")" = "$calls" ] && [ "$(deltas)" = 0 ]
ok $? "the failed commit kept neither the call nor a delta"
res=$(try "BEGIN; $ins; ROLLBACK")
[ "${res%%:*}" = 0 ]
ok $? "a rolled-back usage insert is not affected by the index"
q "DROP INDEX costopt.rollup_deltas_org_idx" >/dev/null
q "$ins" >/dev/null
[ "$(deltas)" = 1 ] && [ "$(q "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ]
ok $? "after DROP INDEX the same insert commits, its delta is written and the rollups verify"

# Names of 200 bytes each are allowed (doc/rollups.md: 22001 only above
# 200 bytes); the provider is 50 four-byte characters, within the usage
# log's CHECK of 64 characters.  Together with the flag and separator of
# each name they need 808 bytes of key.
res=$(try "INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, provider, model, input_tokens, output_tokens)
           VALUES ('2025-03-03 10:00+00', repeat('o', 200), repeat('u', 200), repeat(U&'\+01F600', 50), repeat('m', 200), 10, 1)")
[ "${res%%:*}" = 0 ]
ok $? "a call with four 200-byte names is stored (no crash)"
[ "${res%%:*}" = 0 ] || echo "${res#*:}" | head -3 | sed 's/^/# /'
# if the backend crashed, wait for the restart before checking
for _ in $(seq 1 60); do psql -X -q -At -d postgres -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
got=$(q "SELECT count(*) FROM costopt.rollup_deltas
          WHERE organization_id = repeat('o', 200) AND user_id = repeat('u', 200)
            AND provider = repeat(U&'\+01F600', 50) AND model = repeat('m', 200) AND requests = 1" 2>&1)
[ "$got" = 1 ]
ok $? "its delta row carries the four names intact (got: $got)"

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
exit $fails
