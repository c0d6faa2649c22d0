/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Every costopt configuration parameter and its variable.
 *
 * All settings are named costopt.<name>; the prefix is reserved, so a
 * misspelt costopt.* setting is reported.  See doc/configuration.md.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "guc.h"

int			costopt_missing_price_action = COSTOPT_MISSING_PRICE_STORE;
bool		costopt_keep_supplied_costs = false;
bool		costopt_retention_mode = false;

static const struct config_enum_entry missing_price_options[] = {
	{"store", COSTOPT_MISSING_PRICE_STORE, false},
	{"warning", COSTOPT_MISSING_PRICE_WARN, false},
	{"error", COSTOPT_MISSING_PRICE_ERROR, false},
	{NULL, 0, false}
};

/*
 * Define the parameters.  Called once from _PG_init.
 */
void
costopt_guc_init(void)
{
	DefineCustomEnumVariable("costopt.missing_price_action",
							 "What the costing trigger does with a call whose model has no price.",
							 "store keeps the row with cost_status 'unpriced'; warning also raises a "
							 "WARNING; error rejects the row.",
							 &costopt_missing_price_action,
							 COSTOPT_MISSING_PRICE_STORE,
							 missing_price_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("costopt.keep_supplied_costs",
							 "Lets the owner of a usage table insert rows that are already costed.",
							 "Rows inserted by a superuser that carry a consistent costing (a restore) "
							 "are always kept as they are; with this on, the table's owner may do the "
							 "same (a restore or a migration run as the owner). Anyone else's costs "
							 "are always recomputed.",
							 &costopt_keep_supplied_costs,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("costopt.retention_mode",
							 "Marks deletions of usage rows as retention: the rollups keep those calls.",
							 "Set by costopt_cleanup() for its own transaction, which records the removed "
							 "calls in costopt.rollup_archive first. Setting it anywhere else makes the "
							 "rollups disagree with what a dump restores.",
							 &costopt_retention_mode,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("costopt");
}
