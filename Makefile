# costopt -- PGXS build
#
#   make              build the module and the install script
#   make install      install into the PostgreSQL found by $(PG_CONFIG)
#   make installcheck pg_regress (sql/ + expected/) and isolation specs
#                     against a running server (see scripts/test.sh)
#   make prove        pgTAP suites in test/pgtap via pg_prove
#   make test         everything above on a throwaway cluster (README)
#   make demo         throwaway cluster with sample data and a cost report

EXTENSION = costopt
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = costopt
OBJS = \
	src/costopt.o \
	src/guc.o \
	src/cost_math.o \
	src/pricing_cache.o \
	src/usage_columns.o \
	src/costing_trigger.o \
	src/rollup_capture.o \
	src/pricing_funcs.o \
	src/stats_dist.o \
	src/series_input.o \
	src/aggregates.o \
	src/anomaly.o \
	src/forecast_methods.o \
	src/forecast.o \
	src/budget_watch.o \
	src/scheduler.o

PG_CPPFLAGS += -Isrc
PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers

# The install script is assembled from one file per feature area, in this
# order, so each area is edited in one place (see sql/install/README.md).
INSTALL_SQL = \
	sql/install/00_schema.sql \
	sql/install/10_pricing.sql \
	sql/install/20_costing.sql \
	sql/install/30_functions.sql \
	sql/install/40_load_pricing.sql \
	sql/install/50_ingest.sql \
	sql/install/60_rollups.sql \
	sql/install/65_rollup_reads.sql \
	sql/install/70_retention.sql \
	sql/install/80_statistics.sql \
	sql/install/85_budgets.sql \
	sql/install/87_recommendations.sql \
	sql/install/88_chargeback.sql \
	sql/install/92_scheduler.sql \
	sql/install/95_security.sql \
	sql/install/90_seed_prices.sql

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
# Released versions' install scripts are frozen in sql/released/; upgrade
# scripts (sql/costopt--<old>--<new>.sql) lead from each to the next.
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*--*.sql)) \
	$(wildcard sql/released/$(EXTENSION)--*.sql)
DOCS = $(wildcard doc/*.md)

# pg_regress: explicit, ordered; the first file creates the extension.
REGRESS = setup costing exactness partition rollups rollup_reads retention
REGRESS_OPTS = --inputdir=.

# Isolation specs (PGXS runs them from installcheck as well).
ISOLATION = pricing_invalidation rollup_refresh budgets job_lock
ISOLATION_OPTS = --inputdir=test/isolation

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql results/ regression.diffs regression.out \
	output_iso/ tmp_check/ log/

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL) Makefile
	cat $(INSTALL_SQL) > $@

# pgTAP suites; connection settings come from the usual PG* variables.
PROVE_DB ?= costopt_tap
.PHONY: prove test demo
prove:
	pg_prove -d $(PROVE_DB) --ext .sql -r test/pgtap

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh
