#!/usr/bin/env bash
# The main job: a throwaway cluster with costopt and pg_cron preloaded, the
# sample workload of sample/ and a printed cost report.  Installs missing
# packages, builds and installs the extension; stops and removes the cluster
# at the end unless KEEP_CLUSTER=1 (then it prints how to connect).
# SAMPLE_ROWS sets the size of the workload (default 100000 calls).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

ensure_packages
build_and_install

WORK=$(mktemp -d /tmp/costopt-demo.XXXXXX)
finish() {
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
		log "cluster kept: psql -h $WORK -p $PGPORT -U postgres postgres"
		log "stop it with: runuser -u postgres -- $(pg_bindir)/pg_ctl -D $WORK/data stop"
	else
		cluster_stop "$WORK"
		rm -rf "$WORK"
	fi
}
trap finish EXIT

cluster_start "$WORK" "$(pick_port)" test/costopt.conf
log "creating extensions pg_cron and costopt"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE EXTENSION pg_cron; CREATE EXTENSION costopt;"
log "loading ${SAMPLE_ROWS:-100000} sample calls"
psql -X -q -v ON_ERROR_STOP=1 -v rows="${SAMPLE_ROWS:-100000}" -d postgres -f sample/workload.sql
log "refreshing the cost rollups"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SELECT * FROM costopt_refresh_rollups()"
log "storing forecasts and refreshing the budgets"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SELECT costopt_run_forecasts('{7,30}')" \
	-c "SELECT * FROM costopt_refresh_budgets()"
log "looking for savings (recommendations and opportunities jobs)"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SELECT costopt.recommendations_job(), costopt.savings_detection_job()"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -f sample/report.sql
