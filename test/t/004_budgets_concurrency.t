#!/usr/bin/env bash
# Budgets under real concurrency (pgbench clients, separate sessions):
#  - 16 clients reserving against one hard budget admit exactly limit plus
#    grace, never more;
#  - clients that reserve and then write the usage row, while refreshes run
#    alongside, leave every budget equal to the raw sum with nothing reserved;
#  - alerts reach LISTENers through pg_notify at commit, and not at all when
#    the refresh rolls back.
# Needs PGHOST/PGPORT/PGUSER of a running test cluster (scripts/test.sh).
set -uo pipefail
db=costopt_budget_conc
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d $db -c "$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "1..9"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
q "CREATE EXTENSION costopt;
   INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
   VALUES ('concai', 'conc-m', 10, 0, '-infinity');" >/dev/null
# one hard budget of \$1 with 10 % grace: room for exactly 110 reservations of 1 cent
q "SELECT costopt_create_budget('conc-1', 'one dollar', 1, enforcement => 'hard', grace => 0.1);
   SELECT costopt_refresh_budgets();" >/dev/null

cat >"$tmp/reserve.sql" <<'SQL'
SELECT reservation_id FROM costopt_reserve('conc-1', estimated_cost => 0.01);
SQL
pgbench -n -c 16 -j 4 -t 20 -f "$tmp/reserve.sql" -d $db >"$tmp/pgbench1.out" 2>&1
ok $? "16 clients x 20 reservations ran"
admitted=$(q "SELECT count(*) || ' ' || sum(estimated_cost) FROM costopt.budget_reservations WHERE organization_id = 'conc-1'")
[ "$admitted" = "110 1.10" ]
ok $? "exactly limit plus grace was admitted out of 320 attempts (admitted: $admitted)"
reserved=$(q "SELECT reserved FROM costopt.budgets WHERE organization_id = 'conc-1'")
[ "$reserved" = "1.10" ]
ok $? "the budget's reserved amount matches its reservations ($reserved)"

# reserve, then write the call naming the reservation; refreshes run meanwhile
q "SELECT costopt_create_budget('conc-2', 'org', 1000);
   SELECT costopt_create_budget('conc-2', 'user u1', 1000, user_id => 'u1', enforcement => 'hard');
   SELECT costopt_refresh_budgets();" >/dev/null
cat >"$tmp/settle.sql" <<'SQL'
\set u random(1, 3)
SELECT reservation_id AS rid FROM costopt_reserve('conc-2', 'u' || :u, estimated_cost => 0.05) \gset
INSERT INTO costopt.api_usage_logs (organization_id, user_id, provider, model, input_tokens, output_tokens, reservation_id)
VALUES ('conc-2', 'u' || :u, 'concai', 'conc-m', 1000 + :u, 0, :rid);
SQL
cat >"$tmp/refresh.sql" <<'SQL'
SELECT costopt_refresh_budgets();
SQL
pgbench -n -c 1 -j 1 -T 6 -f "$tmp/refresh.sql" -d $db >"$tmp/pgbench_r.out" 2>&1 &
refresher=$!
pgbench -n -c 8 -j 4 -T 5 -f "$tmp/settle.sql" -d $db >"$tmp/pgbench2.out" 2>&1
rc=$?
wait $refresher
rc2=$?
[ $rc = 0 ] && [ $rc2 = 0 ]
ok $? "8 clients reserved and settled for 5 s while refreshes ran"
q "SELECT costopt_refresh_budgets()" >/dev/null
calls=$(q "SELECT count(*) FROM costopt.api_usage_logs WHERE organization_id = 'conc-2'")
exact=$(q "SELECT count(*) FILTER (WHERE b.current_spend = (SELECT coalesce(sum(u.total_cost), 0) FROM costopt.api_usage_logs u
                                  WHERE u.organization_id = b.organization_id AND (b.user_id IS NULL OR u.user_id = b.user_id)
                                    AND u.created_at >= b.period_start AND u.created_at < b.period_end))
             || '/' || count(*) FROM costopt.budgets b WHERE b.organization_id = 'conc-2'")
[ "$exact" = "2/2" ] && [ "$calls" -gt 0 ]
ok $? "after $calls settled calls both budgets equal the raw sum ($exact exact)"
left=$(q "SELECT (sum(reserved) = 0) || ' ' || (SELECT count(*) FROM costopt.budget_reservations
                                          WHERE organization_id = 'conc-2' AND status <> 'closed')
          FROM costopt.budgets WHERE organization_id = 'conc-2'")
[ "$left" = "true 0" ]
ok $? "every reservation was settled and closed, nothing stays reserved ($left)"

# pg_notify at commit
q "SELECT costopt_create_budget('conc-3', 'notify', 1);
   SELECT costopt_refresh_budgets();
   INSERT INTO costopt.api_usage_logs (organization_id, provider, model, input_tokens, output_tokens)
   SELECT 'conc-3', 'concai', 'conc-m', 10000, 0 FROM generate_series(1, 9);" >/dev/null
refresh_cmd="psql -X -q -d $db"
cat >"$tmp/listen_rollback.sql" <<SQL
LISTEN costopt_alerts;
\\! $refresh_cmd -c "BEGIN; SELECT costopt_refresh_budgets(); ROLLBACK;" >/dev/null
SELECT 1;
SQL
psql -X -q -At -d $db -f "$tmp/listen_rollback.sql" >"$tmp/listen1.out" 2>&1
! grep -q "Asynchronous notification" "$tmp/listen1.out"
ok $? "a rolled-back refresh notifies nobody"
cat >"$tmp/listen.sql" <<SQL
LISTEN costopt_alerts;
\\! $refresh_cmd -c "SELECT costopt_refresh_budgets();" >/dev/null
SELECT 1;
SQL
psql -X -q -At -d $db -f "$tmp/listen.sql" >"$tmp/listen2.out" 2>&1
alert_id=$(sed -n 's/.*Asynchronous notification "costopt_alerts" with payload "{"alert_id" : \([0-9]*\), .*/\1/p' "$tmp/listen2.out" | head -1)
[ -n "$alert_id" ] &&
	[ "$(q "SELECT organization_id || ' ' || level FROM costopt.budget_alerts WHERE id = $alert_id")" = "conc-3 warning" ]
ok $? "the committed refresh notifies listeners of the warning alert (90 % of the limit), by id ($alert_id)"
! grep -q 'conc-3\|contacts\|message' "$tmp/listen2.out"
ok $? "the payload names the alert only: any role may LISTEN, the details are read under row-level security"
[ $fails -gt 0 ] && { sed 's/^/# /' "$tmp"/*.out; }

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
exit $((fails > 0))
