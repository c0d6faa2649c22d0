/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  costopt configuration parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_GUC_H
#define COSTOPT_GUC_H

typedef enum CostoptMissingPriceAction
{
	COSTOPT_MISSING_PRICE_STORE,	/* store the row as 'unpriced' quietly */
	COSTOPT_MISSING_PRICE_WARN,		/* store it and raise a WARNING */
	COSTOPT_MISSING_PRICE_ERROR		/* reject the row */
} CostoptMissingPriceAction;

extern int	costopt_missing_price_action;
extern bool costopt_keep_supplied_costs;
extern bool costopt_retention_mode;
extern char *costopt_database;
extern bool costopt_scheduler;
extern int	costopt_scheduler_naptime;

extern void costopt_guc_init(void);

#endif							/* COSTOPT_GUC_H */
