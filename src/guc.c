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

	MarkGUCPrefixReserved("costopt");
}
