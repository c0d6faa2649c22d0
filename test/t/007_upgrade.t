#!/usr/bin/env bash
# The upgrade path: CREATE EXTENSION costopt VERSION '0.1.0' (the frozen
# script of the last release, sql/released/) followed by ALTER EXTENSION
# costopt UPDATE gives the same objects as a fresh install of the default
# version (definitions, privileges, policies, dump settings, seed rows), and
# the data written under 0.1.0 keeps working after the update.
# Needs PGHOST/PGPORT/PGUSER of a running test cluster (scripts/test.sh).
set -uo pipefail
old=costopt_upgrade_old
new=costopt_upgrade_new
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

echo "1..9"
for db in $old $new; do
	PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
	psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
done

default=$(q postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'costopt'")
q $old "CREATE EXTENSION costopt VERSION '0.1.0'" >/dev/null
ok $? "CREATE EXTENSION costopt VERSION '0.1.0' (default is $default)"

# data under 0.1.0: calls, rollups, a budget with spend
q $old "
INSERT INTO costopt.api_usage_logs (created_at, organization_id, user_id, model, input_tokens, output_tokens)
SELECT now() - g * interval '3 minutes', 'up-' || g % 2, 'u' || g % 3, 'gpt-4o', 100 + g, 10 + g
  FROM generate_series(1, 300) g;
SELECT costopt_create_budget('up-0', 'up-0 monthly', 1000);" >/dev/null
q $old "SELECT costopt_refresh_rollups()" >/dev/null
q $old "SELECT costopt_refresh_budgets()" >/dev/null
before=$(q $old "SELECT count(*) || ':' || sum(total_cost) FROM costopt.api_usage_logs")

q $old "ALTER EXTENSION costopt UPDATE" >/dev/null
ok $? "ALTER EXTENSION costopt UPDATE"
[ "$(q $old "SELECT extversion FROM pg_extension WHERE extname = 'costopt'")" = "$default" ]
ok $? "the updated extension is at the default version $default"

q $new "CREATE EXTENSION costopt" >/dev/null

# Everything that makes up the extension, one line per fact, in a stable order.
describe() {
	q "$1" "
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'costopt'),
members AS (
	SELECT d.classid, d.objid FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'),
facts AS (
	SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) AS f FROM members m
	UNION ALL
	SELECT format('function %s | %s | definer %s | config %s | acl %s', p.oid::regprocedure,
				  md5(pg_get_functiondef(p.oid)), p.prosecdef, p.proconfig, p.proacl)
	  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	 WHERE p.prokind <> 'a'
	UNION ALL
	SELECT format('aggregate %s', p.oid::regprocedure)
	  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	 WHERE p.prokind = 'a'
	UNION ALL
	SELECT format('relation %s | kind %s | rls %s | options %s | acl %s', c.oid::regclass, c.relkind,
				  c.relrowsecurity, c.reloptions, c.relacl)
	  FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'costopt'
	UNION ALL
	SELECT format('column %s.%s | %s | %s | notnull %s | default %s | identity %s | generated %s',
				  a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
				  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated)
	  FROM pg_attribute a
	  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace s ON s.oid = c.relnamespace
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE s.nspname = 'costopt' AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT format('constraint %s.%s | %s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
	  FROM pg_constraint co JOIN pg_namespace s ON s.oid = co.connamespace WHERE s.nspname = 'costopt'
	UNION ALL
	SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace s ON s.oid = c.relnamespace
	 WHERE s.nspname = 'costopt'
	UNION ALL
	SELECT format('trigger %s', pg_get_triggerdef(t.oid))
	  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace s ON s.oid = c.relnamespace
	 WHERE s.nspname = 'costopt' AND NOT t.tgisinternal
	UNION ALL
	SELECT format('view %s | %s', c.oid::regclass, md5(pg_get_viewdef(c.oid)))
	  FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'costopt' AND c.relkind = 'v'
	UNION ALL
	SELECT format('policy %s.%s | %s | %s | %s | %s | %s', p.schemaname, p.tablename, p.policyname, p.cmd,
				  p.roles, p.qual, p.with_check)
	  FROM pg_policies p WHERE p.schemaname = 'costopt'
	UNION ALL
	SELECT format('dump %s | %s', x.rel::regclass, x.cond)
	  FROM pg_extension e, LATERAL unnest(e.extconfig, e.extcondition) AS x(rel, cond)
	 WHERE e.extname = 'costopt'
	UNION ALL
	SELECT format('schema acl %s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'costopt'
	UNION ALL
	SELECT format('job %s | %s | %s | %s | %s', j.name, j.command, j.interval_setting, j.cron_schedule, j.source)
	  FROM costopt.jobs j
	UNION ALL
	SELECT format('seed prices %s', md5(string_agg(format('%s|%s|%s|%s|%s', provider, model_name, input_price,
															output_price, effective_from), ',' ORDER BY provider, model_name, effective_from)))
	  FROM costopt.model_pricing WHERE source = 'seed'
)
SELECT f FROM facts ORDER BY f COLLATE \"C\""
}

describe $old >/tmp/costopt_upgrade_old.$$
describe $new >/tmp/costopt_upgrade_new.$$
lines=$(wc -l </tmp/costopt_upgrade_new.$$)
[ "$lines" -gt 500 ]
ok $? "the description of a fresh install has $lines facts"
diff /tmp/costopt_upgrade_old.$$ /tmp/costopt_upgrade_new.$$ >/tmp/costopt_upgrade_diff.$$
ok $? "0.1.0 + UPDATE has exactly the objects, definitions, privileges, policies and dump settings of a fresh install"
[ -s /tmp/costopt_upgrade_diff.$$ ] && head -60 /tmp/costopt_upgrade_diff.$$ | sed 's/^/# /'

[ "$(q $old "SELECT count(*) || ':' || sum(total_cost) FROM costopt.api_usage_logs")" = "$before" ]
ok $? "the calls written under 0.1.0 are intact ($before)"

q $old "
INSERT INTO costopt.api_usage_logs (organization_id, user_id, model, input_tokens, output_tokens)
SELECT 'up-0', 'u9', 'gpt-4o-mini', 1000, 100 FROM generate_series(1, 20)" >/dev/null
# a new transaction: the calls' deltas are written at commit
q $old "SELECT costopt_refresh_rollups()" >/dev/null
q $old "SELECT costopt_refresh_budgets()" >/dev/null
[ "$(q $old "SELECT count(*) FROM costopt_verify_rollups()")" = 0 ]
ok $? "after the update new calls are costed and rolled up exactly (costopt_verify_rollups is empty)"
[ "$(q $old "SELECT b.current_spend = (SELECT sum(total_cost) FROM costopt.api_usage_logs l
                                        WHERE l.organization_id = 'up-0' AND l.created_at >= b.period_start
                                          AND l.created_at < b.period_end)
             FROM costopt.budgets b WHERE b.name = 'up-0 monthly'")" = t ]
ok $? "the budget made under 0.1.0 still equals the raw spend after the update"
[ "$(q $old "SELECT count(*) FROM costopt_generate_recommendations('up-0')")" -ge 0 ] &&
	[ "$(q $old "SELECT relrowsecurity FROM pg_class WHERE oid = 'costopt.api_usage_logs'::regclass")" = t ]
ok $? "the 0.2.0 features work in the updated database (recommendations, row-level security)"

for db in $old $new; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null; done
rm -f /tmp/costopt_upgrade_old.$$ /tmp/costopt_upgrade_new.$$ /tmp/costopt_upgrade_diff.$$
exit $((fails > 0))
