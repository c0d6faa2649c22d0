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
static int	costopt_recommendations_interval = 604800;
static int	costopt_savings_detection_interval = 86400;

/*
 * Recommendation rules (sql/install/87_recommendations.sql reads them with
 * current_setting(); doc/recommendations.md).  Only defined here so that the
 * reserved costopt prefix accepts them and they are validated.
 */
static double costopt_downgrade_quality_margin = 0.05;
static double costopt_prompt_bloat_factor = 2.0;
static double costopt_recommendation_min_savings = 1.0;
static double costopt_spike_threshold = 5.0;
static int	costopt_response_cache_window = 3600;
static char *costopt_batch_operations = NULL;
static char *costopt_prompt_tag = NULL;

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
	{"costopt.recommendations_interval",
		"How often the scheduler worker runs the recommendations job.",
		&costopt_recommendations_interval, 604800},
	{"costopt.savings_detection_interval",
		"How often the scheduler worker runs the savings_detection job.",
		&costopt_savings_detection_interval, 86400},
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

	DefineCustomRealVariable("costopt.downgrade_quality_margin",
							 "How much lower a cheaper model's quality score may be for a model_downgrade recommendation.",
							 "A model is an adequate replacement when its quality_score is at least the "
							 "current model's minus this margin (scores are on a 0-1 scale).",
							 &costopt_downgrade_quality_margin,
							 0.05, 0.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("costopt.prompt_bloat_factor",
							 "How many times the norm a project's median prompt must be for a prompt_optimization recommendation.",
							 "The norm is the median prompt of the same operation in the organisation's "
							 "other projects.",
							 &costopt_prompt_bloat_factor,
							 2.0, 1.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("costopt.recommendation_min_savings",
							 "Smallest monthly saving, in USD, worth a recommendation or a savings opportunity.",
							 NULL,
							 &costopt_recommendation_min_savings,
							 1.0, 0.0, 1e12,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("costopt.spike_threshold",
							 "How many robust standard deviations above a user's median hour make a spend spike.",
							 "Spikes past this threshold make a rate_limiting recommendation.",
							 &costopt_spike_threshold,
							 5.0, 1.0, 1000.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("costopt.response_cache_window",
							"How close two identical requests must be for the second to count as cacheable.",
							"The time-to-live a response cache would need; a repeat of the same "
							"request_hash and model within it is a response_caching saving.",
							&costopt_response_cache_window,
							3600, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("costopt.batch_operations",
							   "Operations treated as non-interactive, so eligible for batch prices.",
							   "Comma-separated operation names; calls tagged interactive=false count too.",
							   &costopt_batch_operations,
							   "batch,backfill,eval,evaluation,classification,extraction,labeling,embedding",
							   PGC_USERSET, GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("costopt.prompt_tag",
							   "Usage tag that names a call's prompt template, for prompt_caching.",
							   "Calls sharing a value of this tag share their prompt prefix.",
							   &costopt_prompt_tag,
							   "prompt_id",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);

	MarkGUCPrefixReserved("costopt");
}
