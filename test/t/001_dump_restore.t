#!/usr/bin/env bash
# pg_dump of a database using costopt restores into a fresh database with
# every usage row, cost and user price intact, even with
# costopt.missing_price_action = 'error' on the target database.
# Needs PGHOST/PGPORT/PGUSER of a running test cluster (scripts/test.sh).
set -uo pipefail
src=costopt_dump_src
dst=costopt_dump_dst
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

echo "1..8"
for db in $src $dst; do PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null; done
psql -X -q -d postgres -c "CREATE DATABASE $src" >/dev/null
q $src "CREATE EXTENSION costopt" >/dev/null
q $src "
INSERT INTO costopt.model_pricing (provider, model_name, input_price, output_price, effective_from)
VALUES ('acme-ai', 'house-model', 0.40, 1.60, '2025-01-01');
INSERT INTO costopt.model_aliases (alias, target_provider, target_model)
VALUES ('prod-chat', 'openai', 'gpt-4o');
INSERT INTO costopt.api_usage_logs (created_at, organization_id, provider, model, input_tokens, output_tokens, cached_input_tokens)
SELECT timestamptz '2025-02-01' + g * interval '1 minute', 'org-' || g % 3,
       CASE g % 4 WHEN 0 THEN 'acme-ai' ELSE NULL END,
       CASE g % 4 WHEN 0 THEN 'house-model' WHEN 1 THEN 'prod-chat' WHEN 2 THEN 'claude-3-haiku' ELSE 'not-priced-yet' END,
       100 + g, 10 + g, g % 50
  FROM generate_series(1, 400) g;
-- recent calls, then retention: the 2025 calls leave the raw log for the archive
INSERT INTO costopt.api_usage_logs (created_at, organization_id, model, input_tokens, output_tokens)
SELECT date_trunc('hour', now()) - g * interval '1 minute', 'org-recent', 'gpt-4o-mini', 500 + g, 20
  FROM generate_series(1, 200) g;
SELECT costopt_refresh_rollups();
SELECT costopt_cleanup('30 days', '10 years');" >/dev/null
ALTER_ERR="ALTER DATABASE $dst SET costopt.missing_price_action = 'error'"

fingerprint() {
	q "$1" "SELECT count(*) || ':' || md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', id, organization_id, model,
	               input_tokens, input_cost, output_cost, total_cost, cost_status), ',' ORDER BY id))
	          FROM costopt.api_usage_logs"
}
catalog() {
	q "$1" "SELECT count(*) || ':' || md5(string_agg(format('%s|%s|%s|%s|%s', id, provider, model_name, input_price, effective_from), ',' ORDER BY id))
	          FROM costopt.model_pricing"
}

before=$(fingerprint $src)
cat_before=$(catalog $src)
pg_dump -d $src -Fc -f /tmp/costopt_dump.$$ 2>/tmp/costopt_dump.err.$$
ok $? "pg_dump of a database with costopt"
psql -X -q -d postgres -c "CREATE DATABASE $dst" >/dev/null
q postgres "$ALTER_ERR" >/dev/null
pg_restore -d $dst --exit-on-error /tmp/costopt_dump.$$ 2>>/tmp/costopt_dump.err.$$
ok $? "pg_restore into a fresh database with missing_price_action = error"
[ -s /tmp/costopt_dump.err.$$ ] && sed 's/^/# /' /tmp/costopt_dump.err.$$
after=$(fingerprint $dst)
[ "$before" = "$after" ]; ok $? "usage rows and their costs are identical after restore ($after)"
[ "$cat_before" = "$(catalog $dst)" ]; ok $? "the price catalog (seed and user rows) is identical after restore"
[ "$(q $dst "SELECT count(*) FROM costopt.model_aliases WHERE alias = 'prod-chat'")" = 1 ]
ok $? "user aliases are restored"
# the identity sequence continues after the restored rows
next=$(q $dst "SET costopt.missing_price_action = store; INSERT INTO costopt.api_usage_logs (organization_id, model, input_tokens, output_tokens) VALUES ('org-new', 'gpt-4o', 1, 1) RETURNING id")
[ "$next" = 601 ]; ok $? "new usage rows continue the id sequence (got $next)"

# the rollups are rebuilt by the restore: exact, and the same totals
q $src "SELECT costopt_refresh_rollups()" >/dev/null
q $dst "SELECT costopt_refresh_rollups()" >/dev/null
[ "$(q $dst "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ]
ok $? "the restored database's rollups match its usage rows"
roll() { q "$1" "SELECT period_type || ':' || sum(total_requests) || ':' || sum(total_cost) FROM costopt.cost_analysis WHERE organization_id LIKE 'org-%' AND organization_id <> 'org-new' GROUP BY period_type ORDER BY 1" | tr '\n' ' '; }
[ "$(roll $src)" = "$(roll $dst)" ]
ok $? "rollups after restore equal the original's, archived calls included ($(roll $dst))"

rm -f /tmp/costopt_dump.$$ /tmp/costopt_dump.err.$$
for db in $src $dst; do PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null; done
exit $fails
