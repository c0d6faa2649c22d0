/*-------------------------------------------------------------------------
 *
 * costopt.c
 *	  Module entry point: _PG_init calls each module's init in a fixed order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "budget_watch.h"
#include "costing_trigger.h"
#include "guc.h"
#include "pricing_cache.h"
#include "rollup_capture.h"
#include "scheduler.h"
#include "usage_columns.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Module load.  Works with and without shared_preload_libraries; parts that
 * need preloading check process_shared_preload_libraries_in_progress.
 */
void
_PG_init(void)
{
	costopt_guc_init();
	costopt_pricing_cache_init();
	costopt_usage_columns_init();
	costopt_costing_init();
	costopt_rollup_capture_init();
	costopt_budget_watch_init();
	costopt_scheduler_init();
}
