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

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"

int			costopt_missing_price_action = COSTOPT_MISSING_PRICE_STORE;
bool		costopt_keep_supplied_costs = false;
bool		costopt_retention_mode = false;

/* the scheduler (src/scheduler.c, doc/scheduler.md) */
char	   *costopt_database = NULL;
bool		costopt_scheduler = true;
int			costopt_scheduler_naptime = 10;

/*
 * Job intervals, in seconds; 0 turns the job off for the worker.  The
 * worker does not read these variables: a job's row in costopt.jobs names
 * its setting (interval_setting) and the SQL that decides which jobs are due
 * reads it with current_setting(), so a job added later needs one row and
 * one entry in job_intervals[] below.
 */
static int	costopt_refresh_rollups_interval = 300;
static int	costopt_refresh_budgets_interval = 900;
static int	costopt_forecasts_interval = 86400;
static int	costopt_cleanup_interval = 86400;

typedef struct JobIntervalSetting
{
	const char *name;
	const char *short_desc;
	int		   *variable;
	int			boot_value;
} JobIntervalSetting;

static const JobIntervalSetting job_intervals[] = {
	{"costopt.refresh_rollups_interval",
		"How often the scheduler worker runs the refresh_rollups job.",
		&costopt_refresh_rollups_interval, 300},
	{"costopt.refresh_budgets_interval",
		"How often the scheduler worker runs the refresh_budgets job.",
		&costopt_refresh_budgets_interval, 900},
	{"costopt.forecasts_interval",
		"How often the scheduler worker runs the forecasts job.",
		&costopt_forecasts_interval, 86400},
	{"costopt.cleanup_interval",
		"How often the scheduler worker runs the cleanup job.",
		&costopt_cleanup_interval, 86400},
};

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

	/*
	 * A server-start setting can only be defined while the library is
	 * preloaded (PostgreSQL refuses it later, FATAL); the worker it
	 * configures exists only then too.  Backends inherit it from the
	 * postmaster.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("costopt.database",
								   "Database the costopt scheduler worker connects to.",
								   "The worker runs the jobs of the costopt extension installed in "
								   "this database. While the database or the extension is missing "
								   "the worker waits quietly.",
								   &costopt_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

	DefineCustomBoolVariable("costopt.scheduler",
							 "Lets the costopt scheduler worker run jobs.",
							 "When off, the worker runs no job and holds no database connection. "
							 "costopt_run_job() and pg_cron (costopt_schedule_cron) still work.",
							 &costopt_scheduler,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("costopt.scheduler_naptime",
							"How long the scheduler worker sleeps between looks for due jobs.",
							NULL,
							&costopt_scheduler_naptime,
							10,
							1,
							3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	for (int i = 0; i < (int) lengthof(job_intervals); i++)
		DefineCustomIntVariable(job_intervals[i].name,
								job_intervals[i].short_desc,
								"Seconds from the start of the job's last run to the next one; "
								"0 means the worker never runs it. pg_cron uses the job's "
								"cron_schedule instead.",
								job_intervals[i].variable,
								job_intervals[i].boot_value,
								0,
								INT_MAX,
								PGC_SIGHUP,
								GUC_UNIT_S,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("costopt");
}
