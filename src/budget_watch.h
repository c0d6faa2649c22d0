/*-------------------------------------------------------------------------
 *
 * budget_watch.h
 *	  The budget watermark: usage rows from this time on feed the budgets.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_BUDGET_WATCH_H
#define COSTOPT_BUDGET_WATCH_H

#include "datatype/timestamp.h"

extern void costopt_budget_watch_init(void);
extern TimestampTz costopt_budget_watermark(void);

#endif							/* COSTOPT_BUDGET_WATCH_H */
