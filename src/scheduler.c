/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The costopt job scheduler: a launcher, the scheduler worker, and a
 *	  one-shot helper that reaches pg_cron's database.
 *
 * The jobs themselves are SQL (sql/install/92_scheduler.sql): costopt.jobs,
 * the run history costopt.job_runs, the view costopt.v_job_status that says
 * which jobs are due, and costopt_run_job(), which runs one job in the
 * caller's transaction behind a per-job advisory lock and records the run.
 * This file only decides when to call it.  See doc/scheduler.md.
 *
 * Processes:
 *
 *	launcher	Registered in _PG_init when the library is preloaded
 *				(restarted COSTOPT_LAUNCHER_RESTART_SECS after it exits).  It
 *				connects to no database, so it can wait for costopt.database
 *				to exist without failing: every costopt.scheduler_naptime, or
 *				when its scheduler starts or stops, it starts the scheduler if
 *				costopt.scheduler is on, the database accepts connections and
 *				no scheduler of its runs.  It logs a state once, not each time
 *				round.
 *
 *	scheduler	A dynamic worker connected to costopt.database.  Each
 *				naptime it looks, in one short transaction, whether the
 *				costopt extension is installed, whether the worker runs the
 *				jobs (costopt.scheduler_state; pg_cron runs them after
 *				costopt_schedule_cron) and which jobs are due; then it runs
 *				each due job in a transaction of its own through
 *				costopt_run_job(job, 'worker').  A failing job is recorded by
 *				costopt_run_job and does not raise; anything else that fails
 *				(a cancel, the extension dropped meanwhile) aborts only that
 *				job's transaction, is logged and, if it can be, recorded as a
 *				failed run, and the loop goes on.  It exits when
 *				costopt.scheduler is turned off, so the database can be
 *				dropped, and holds a session advisory lock so that at most
 *				one scheduler runs in a database.
 *
 *	pg_cron helper
 *				costopt_schedule_cron() and costopt_unschedule_cron() call
 *				costopt.cron_sync(), which must work in pg_cron's database
 *				(cron.database_name).  When that is the caller's database the
 *				work is done in the caller's transaction; otherwise a
 *				short-lived worker connected to it as the calling role does
 *				it and commits at once.  Request and answer travel in a
 *				dynamic shared memory segment.
 *
 * Memory: the scheduler allocates everything of one round in
 * SchedulerContext, reset at the end of each round.  Starting and
 * committing transactions change CurrentMemoryContext, so every place that
 * ends a transaction switches back to the round's context on purpose.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "guc.h"
#include "scheduler.h"

#define COSTOPT_LAUNCHER_RESTART_SECS 10

/* The pg_cron link: room in the shared request (see CronSyncRequest). */
#define COSTOPT_CRON_MAX_RESULTS 256
#define COSTOPT_CRON_MSG_LEN 1024

/* Entry points the postmaster finds by name. */
extern PGDLLEXPORT void costopt_launcher_main(Datum main_arg);
extern PGDLLEXPORT void costopt_scheduler_main(Datum main_arg);
extern PGDLLEXPORT void costopt_cron_helper_main(Datum main_arg);

PG_FUNCTION_INFO_V1(costopt_cron_sync);

/* What the launcher last found; it logs a state when it changes. */
typedef enum LauncherState
{
	LAUNCHER_STARTING,
	LAUNCHER_DISABLED,			/* costopt.scheduler is off */
	LAUNCHER_NO_DATABASE,		/* costopt.database does not exist */
	LAUNCHER_NO_CONNECTIONS,	/* it exists but takes no connections */
	LAUNCHER_NO_SLOT,			/* no background worker slot free */
	LAUNCHER_READY				/* the database is ready: start the scheduler */
} LauncherState;

/* What the scheduler last found; it logs a state when it changes. */
typedef enum SchedulerState
{
	SCHEDULER_STARTING,
	SCHEDULER_NO_EXTENSION,		/* costopt is not installed in the database */
	SCHEDULER_CRON,				/* pg_cron runs the jobs */
	SCHEDULER_WORKER,			/* the worker runs the jobs */
	SCHEDULER_FAILED			/* looking for due jobs failed */
} SchedulerState;

/* One job's pg_cron job after a sync. */
typedef struct CronSyncResult
{
	char		jobname[NAMEDATALEN];
	int64		jobid;
	bool		removed;		/* unscheduled rather than scheduled */
} CronSyncResult;

/*
 * A request to make pg_cron's costopt jobs of one database exactly the
 * given ones, and its answer.  Lives in the caller's memory or, for the
 * helper worker, in a dynamic shared memory segment: the caller fills the
 * request part before starting the helper, the helper the answer part
 * before it sets done (after a write barrier), and the caller reads the
 * answer only once the helper has exited.
 */
typedef struct CronSyncRequest
{
	/* request */
	Oid			cron_dboid;		/* pg_cron's database */
	Oid			userid;			/* role that schedules the jobs */
	bool		missing_ok;		/* no pg_cron means nothing to do */
	char		jobs_database[NAMEDATALEN]; /* database the jobs run in */
	int			njobs;
	/* answer */
	bool		done;
	int			sqlerrcode;
	char		message[COSTOPT_CRON_MSG_LEN];
	char		detail[COSTOPT_CRON_MSG_LEN];
	char		hint[COSTOPT_CRON_MSG_LEN];
	int			nresults;
	CronSyncResult results[COSTOPT_CRON_MAX_RESULTS];
	/* njobs times pg_cron job name, schedule, command; each NUL-terminated */
	char		jobs[FLEXIBLE_ARRAY_MEMBER];
} CronSyncRequest;

/* scheduler: memory of one round */
static MemoryContext SchedulerContext = NULL;
static SchedulerState scheduler_state = SCHEDULER_STARTING;

/*
 * Where the postmaster starts the launcher.  Called from _PG_init; does
 * nothing unless the library is being preloaded, and nothing in binary
 * upgrade mode (no job may write while pg_upgrade runs).
 */
void
costopt_scheduler_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = COSTOPT_LAUNCHER_RESTART_SECS;
	strlcpy(worker.bgw_library_name, "costopt", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "costopt_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "costopt launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "costopt launcher", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/*
 * Apply a pending configuration reload.  Called outside transactions.
 */
static void
reload_config_if_pending(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * Start one task's short transaction: statement time, transaction, SPI, a
 * snapshot and, when given, the activity shown in pg_stat_activity.  Ended
 * by task_end, or by task_abort in the PG_CATCH of a failed task.
 */
static void
task_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (activity != NULL)
		pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commit a task started with task_begin. */
static void
task_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * In a PG_CATCH: copy the error being handled into cxt (the caller's
 * memory context, which stays current), clear it and abort the task's
 * transaction.  The caller frees the copy.
 */
static ErrorData *
task_abort(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	return edata;
}

/* Sleep for costopt.scheduler_naptime, or until the latch is set. */
static void
worker_nap(void)
{
	(void) WaitLatch(MyLatch,
					 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 costopt_scheduler_naptime * 1000L,
					 PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/* ------------------------------------------------------------------------
 * Launcher
 * ------------------------------------------------------------------------
 */

/*
 * Whether costopt.database exists and accepts connections.  Runs a short
 * transaction.  The launcher has no database, so it reads only pg_database,
 * and with a plain heap scan: an index or syscache lookup could need
 * relcache entries that only a database connection can build (as
 * autovacuum's launcher, get_database_list).
 */
static LauncherState
launcher_database_state(void)
{
	LauncherState result = LAUNCHER_NO_DATABASE;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (strcmp(NameStr(db->datname), costopt_database) != 0)
			continue;
		result = db->datallowconn ? LAUNCHER_READY : LAUNCHER_NO_CONNECTIONS;
#ifdef DATCONNLIMIT_INVALID_DB
		if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			result = LAUNCHER_NO_CONNECTIONS;
#endif
		break;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return result;
}

/*
 * Start the scheduler worker; NULL when no background worker slot is free.
 * The handle is allocated in TopMemoryContext; the caller frees it.
 */
static BackgroundWorkerHandle *
launcher_start_scheduler(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle = NULL;
	MemoryContext oldcxt;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "costopt", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "costopt_scheduler_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "costopt scheduler", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "costopt scheduler", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	/* our latch is set when it starts and when it stops */
	worker.bgw_notify_pid = MyProcPid;

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		handle = NULL;
	MemoryContextSwitchTo(oldcxt);
	return handle;
}

/*
 * Log what the launcher found, when it differs from last time.
 */
static void
launcher_report(LauncherState *last, LauncherState now)
{
	if (now == *last)
		return;
	switch (now)
	{
		case LAUNCHER_NO_DATABASE:
			ereport(LOG,
					(errmsg("costopt scheduler is waiting for database \"%s\" to exist",
							costopt_database),
					 errdetail("costopt.database names the database whose jobs the scheduler runs.")));
			break;
		case LAUNCHER_NO_CONNECTIONS:
			ereport(LOG,
					(errmsg("costopt scheduler is waiting for database \"%s\" to accept connections",
							costopt_database)));
			break;
		case LAUNCHER_NO_SLOT:
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start the costopt scheduler: no background worker slot is free"),
					 errhint("Raise max_worker_processes (now %d).", max_worker_processes)));
			break;
		case LAUNCHER_DISABLED:
		case LAUNCHER_READY:
		case LAUNCHER_STARTING:
			break;
	}
	*last = now;
}

/*
 * The launcher: keeps one scheduler running while costopt.scheduler is on
 * and costopt.database accepts connections.  Never returns.
 */
void
costopt_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle *handle = NULL;
	LauncherState last = LAUNCHER_STARTING;
	TimestampTz stopped_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: shared catalogs only */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("costopt launcher");

	for (;;)
	{
		pid_t		pid;
		bool		running = false;

		CHECK_FOR_INTERRUPTS();
		reload_config_if_pending();

		if (handle != NULL)
		{
			running = GetBackgroundWorkerPid(handle, &pid) != BGWH_STOPPED;
			if (!running)
			{
				pfree(handle);
				handle = NULL;
				stopped_at = GetCurrentTimestamp();
			}
		}

		/*
		 * A running scheduler stops by itself when costopt.scheduler goes
		 * off.  One that stopped is started again a naptime later, not at
		 * once: it may have been stopped by DROP DATABASE, whose row is
		 * still there until the drop commits.
		 */
		if (!costopt_scheduler)
			launcher_report(&last, LAUNCHER_DISABLED);
		else if (!running &&
				 TimestampDifferenceExceeds(stopped_at, GetCurrentTimestamp(),
											costopt_scheduler_naptime * 1000))
		{
			LauncherState state = launcher_database_state();

			if (state == LAUNCHER_READY)
			{
				handle = launcher_start_scheduler();
				if (handle == NULL)
					state = LAUNCHER_NO_SLOT;
			}
			launcher_report(&last, state);
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		worker_nap();
	}
}

/* ------------------------------------------------------------------------
 * Scheduler
 * ------------------------------------------------------------------------
 */

/*
 * Log what the scheduler found, when it differs from last time.
 */
static void
scheduler_report(SchedulerState now)
{
	if (now == scheduler_state)
		return;
	switch (now)
	{
		case SCHEDULER_NO_EXTENSION:
			ereport(LOG,
					(errmsg("costopt scheduler is idle: extension \"costopt\" is not installed in database \"%s\"",
							costopt_database)));
			break;
		case SCHEDULER_CRON:
			ereport(LOG,
					(errmsg("costopt scheduler is idle: pg_cron runs the jobs of database \"%s\"",
							costopt_database),
					 errhint("costopt_unschedule_cron() gives the jobs back to the scheduler.")));
			break;
		case SCHEDULER_WORKER:
			if (scheduler_state != SCHEDULER_STARTING && scheduler_state != SCHEDULER_FAILED)
				ereport(LOG,
						(errmsg("costopt scheduler runs the jobs of database \"%s\"",
								costopt_database)));
			break;
		case SCHEDULER_FAILED:
		case SCHEDULER_STARTING:
			break;
	}
	scheduler_state = now;
}

/*
 * Take the session advisory lock that makes this the only scheduler of the
 * database (a scheduler left running by a launcher that has since been
 * restarted keeps it).  Returns whether it was taken.
 */
static bool
scheduler_take_lock(void)
{
	bool		taken;
	bool		isnull;
	int			ret;

	task_begin(NULL);
	ret = SPI_execute("SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('costopt.scheduler'))",
					  false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not take the costopt scheduler lock: SPI_execute returned %d", ret);
	taken = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	task_end();
	MemoryContextSwitchTo(SchedulerContext);
	return taken && !isnull;
}

/*
 * Find the due jobs, in one short transaction.  Returns the quoted schema
 * of the extension in *schema and the due job names in *due (both in the
 * round's memory context, CurrentMemoryContext at entry); false when no job
 * is to run: no extension, pg_cron runs the jobs, or the look failed (which
 * is logged).
 */
/* the last look failed because the extension's objects were gone */
static bool objects_vanished = false;

static bool
scheduler_find_due_jobs(char **schema, List **due)
{
	MemoryContext roundcxt = CurrentMemoryContext;
	volatile SchedulerState found = SCHEDULER_FAILED;

	*schema = NULL;
	*due = NIL;

	PG_TRY();
	{
		task_begin("costopt scheduler: looking for due jobs");

		if (!OidIsValid(get_extension_oid("costopt", true)))
			found = SCHEDULER_NO_EXTENSION;
		else
		{
			bool		isnull;
			char	   *mode;
			int			ret;

			ret = SPI_execute("SELECT costopt.scheduler_mode(), pg_catalog.quote_ident(n.nspname) "
							  "  FROM pg_catalog.pg_extension e "
							  "  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
							  " WHERE e.extname = 'costopt'",
							  false, 1);
			if (ret != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not read the costopt scheduler mode: SPI_execute returned %d", ret);
			mode = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			*schema = MemoryContextStrdup(roundcxt,
										  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));

			if (mode == NULL || strcmp(mode, "worker") != 0)
				found = SCHEDULER_CRON;
			else
			{
				ret = SPI_execute("SELECT s.job FROM costopt.v_job_status s "
								  " WHERE s.next_due <= pg_catalog.now() "
								  " ORDER BY s.next_due, s.job",
								  false, 0);
				if (ret != SPI_OK_SELECT)
					elog(ERROR, "could not read the due jobs: SPI_execute returned %d", ret);
				for (uint64 i = 0; i < SPI_processed; i++)
				{
					Datum		name = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
													 1, &isnull);
					MemoryContext spicxt;

					if (isnull)
						continue;
					spicxt = MemoryContextSwitchTo(roundcxt);
					*due = lappend(*due, TextDatumGetCString(name));
					MemoryContextSwitchTo(spicxt);
				}
				found = SCHEDULER_WORKER;
			}
		}
		task_end();
		objects_vanished = false;
	}
	PG_CATCH();
	{
		ErrorData  *edata = task_abort(roundcxt);
		bool		vanished;

		/*
		 * DROP EXTENSION committing while this look waited for its locks:
		 * the objects are gone.  Say nothing this round; the next one finds
		 * no extension and goes idle.  If they are still missing while the
		 * extension exists, the next round's failure is logged.
		 */
		vanished = !objects_vanished &&
			(edata->sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
			 edata->sqlerrcode == ERRCODE_UNDEFINED_FUNCTION ||
			 edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT ||
			 edata->sqlerrcode == ERRCODE_UNDEFINED_SCHEMA);

		/* a lasting problem is logged once, not every round */
		ereport(scheduler_state == SCHEDULER_FAILED || vanished ? DEBUG1 : LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("costopt scheduler could not look for due jobs in database \"%s\": %s",
						costopt_database, edata->message)));
		FreeErrorData(edata);
		*due = NIL;
		objects_vanished = vanished;
		found = vanished ? SCHEDULER_NO_EXTENSION : SCHEDULER_FAILED;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(roundcxt);
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	scheduler_report(found);
	return found == SCHEDULER_WORKER && *due != NIL;
}

/*
 * Record a run of job that failed outside costopt_run_job (it was
 * cancelled, or costopt_run_job itself failed), in a transaction of its
 * own.  Does nothing when the extension is gone; a failure here is logged.
 */
static void
scheduler_record_failure(const char *job, TimestampTz started_at, ErrorData *edata)
{
	MemoryContext roundcxt = CurrentMemoryContext;

	PG_TRY();
	{
		task_begin(NULL);
		if (OidIsValid(get_extension_oid("costopt", true)))
		{
			Oid			argtypes[4] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
			Datum		values[4];
			int			ret;

			values[0] = CStringGetTextDatum(job);
			values[1] = TimestampTzGetDatum(started_at);
			values[2] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
			values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
			ret = SPI_execute_with_args("INSERT INTO costopt.job_runs "
										"  (job, runner, started_at, finished_at, status, error, sqlstate) "
										"VALUES ($1, 'worker', $2, "
										"        GREATEST($2, pg_catalog.clock_timestamp()), "
										"        'failed', $3, $4)",
										4, argtypes, values, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not record the failed run: SPI_execute_with_args returned %d", ret);
		}
		task_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata2 = task_abort(roundcxt);

		ereport(LOG,
				(errcode(edata2->sqlerrcode),
				 errmsg("costopt scheduler could not record the failed run of job \"%s\": %s",
						job, edata2->message)));
		FreeErrorData(edata2);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(roundcxt);
}

/*
 * Run one job in a transaction of its own through costopt_run_job(job,
 * 'worker').  An error that escapes it aborts only this transaction; it is
 * logged and recorded as a failed run.  Called in the round's memory
 * context, and returns in it.
 */
static void
scheduler_run_job(const char *schema, const char *job)
{
	MemoryContext roundcxt = CurrentMemoryContext;
	TimestampTz started_at = GetCurrentTimestamp();
	StringInfoData sql;
	StringInfoData activity;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT r.status FROM %s.costopt_run_job($1, 'worker') AS r", schema);
	initStringInfo(&activity);
	appendStringInfo(&activity, "costopt scheduler: job %s", job);

	PG_TRY();
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		int			ret;

		task_begin(activity.data);

		values[0] = CStringGetTextDatum(job);
		ret = SPI_execute_with_args(sql.data, 1, argtypes, values, NULL, false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "costopt_run_job returned no run: SPI_execute_with_args returned %d", ret);
		task_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata = task_abort(roundcxt);

		ereport(LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("costopt scheduler: job \"%s\" did not finish: %s", job, edata->message)));
		scheduler_record_failure(job, started_at, edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(roundcxt);
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * One round: find the due jobs and run them, one transaction each.
 */
static void
scheduler_round(void)
{
	char	   *schema;
	List	   *due;
	ListCell   *lc;

	if (!scheduler_find_due_jobs(&schema, &due))
		return;
	foreach(lc, due)
	{
		CHECK_FOR_INTERRUPTS();
		reload_config_if_pending();
		if (!costopt_scheduler)
			break;
		scheduler_run_job(schema, (const char *) lfirst(lc));
	}
}

/*
 * The scheduler worker, started by the launcher.  Never returns; exits
 * when costopt.scheduler is turned off or another scheduler runs in the
 * database.
 */
void
costopt_scheduler_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(costopt_database, NULL, 0);
	pgstat_report_appname("costopt scheduler");

	SchedulerContext = AllocSetContextCreate(TopMemoryContext,
											 "costopt scheduler",
											 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(SchedulerContext);

	if (!scheduler_take_lock())
	{
		ereport(LOG,
				(errmsg("costopt scheduler not started: another one runs in database \"%s\"",
						costopt_database)));
		proc_exit(0);
	}
	ereport(LOG,
			(errmsg("costopt scheduler started in database \"%s\"", costopt_database)));

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		reload_config_if_pending();
		if (!costopt_scheduler)
		{
			ereport(LOG,
					(errmsg("costopt scheduler stopped: costopt.scheduler is off")));
			proc_exit(0);
		}
		AcceptInvalidationMessages();

		MemoryContextSwitchTo(SchedulerContext);
		scheduler_round();
		MemoryContextReset(SchedulerContext);
		worker_nap();
	}
}

/* ------------------------------------------------------------------------
 * The pg_cron link
 * ------------------------------------------------------------------------
 */

/*
 * Add one pg_cron job to the answer.  Errors when the answer is full.
 */
static void
cron_add_result(CronSyncRequest *req, const char *jobname, int64 jobid, bool removed)
{
	CronSyncResult *r;

	if (req->nresults >= COSTOPT_CRON_MAX_RESULTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many costopt jobs in pg_cron"),
				 errdetail("At most %d pg_cron jobs can be scheduled or removed at once.",
						   COSTOPT_CRON_MAX_RESULTS)));
	r = &req->results[req->nresults++];
	strlcpy(r->jobname, jobname, NAMEDATALEN);
	r->jobid = jobid;
	r->removed = removed;
}

/*
 * The job id that cron.schedule or cron.schedule_in_database returned.
 */
static int64
cron_jobid_result(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed != 1 || SPI_gettypeid(SPI_tuptable->tupdesc, 1) != INT8OID)
		elog(ERROR, "cron.schedule did not return one job id");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "cron.schedule returned NULL");
	return DatumGetInt64(d);
}

/*
 * Make pg_cron's costopt jobs of req->jobs_database exactly the requested
 * ones: unschedule every other job named costopt:* of that database (and
 * those of other roles), then schedule each requested job (pg_cron updates
 * a job of the same name and role in place).  Must run in pg_cron's
 * database, inside a transaction with a snapshot; fills the answer.
 */
static void
cron_sync_apply(CronSyncRequest *req)
{
	char	   *dbname = get_database_name(MyDatabaseId);
	char	   *username = GetUserNameFromId(GetUserId(), false);
	bool		same_database = strcmp(dbname, req->jobs_database) == 0;
	const char **names = palloc0(sizeof(char *) * (req->njobs + 1));
	const char **scheds = palloc0(sizeof(char *) * (req->njobs + 1));
	const char **cmds = palloc0(sizeof(char *) * (req->njobs + 1));
	const char *p = req->jobs;
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	uint64		nexisting;
	int64	   *existing_ids;
	char	  **existing_names;
	int			ret;

	req->nresults = 0;
	if (!OidIsValid(get_extension_oid("pg_cron", true)))
	{
		if (req->missing_ok)
			return;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pg_cron\" is not installed in database \"%s\"", dbname),
				 errdetail("pg_cron keeps its jobs in the database named by cron.database_name."),
				 errhint("Run CREATE EXTENSION pg_cron in database \"%s\".", dbname)));
	}

	for (int i = 0; i < req->njobs; i++)
	{
		names[i] = p;
		p += strlen(p) + 1;
		scheds[i] = p;
		p += strlen(p) + 1;
		cmds[i] = p;
		p += strlen(p) + 1;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* 1. pg_cron's costopt jobs of the database, any role's that we see */
	values[0] = CStringGetTextDatum(req->jobs_database);
	ret = SPI_execute_with_args("SELECT j.jobid, j.jobname::text, j.username::text "
								"  FROM cron.job j "
								" WHERE j.database = $1 AND j.jobname LIKE 'costopt:%' "
								" ORDER BY j.jobid",
								1, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read cron.job: SPI_execute_with_args returned %d", ret);
	nexisting = SPI_processed;
	existing_ids = palloc0(sizeof(int64) * (nexisting + 1));
	existing_names = palloc0(sizeof(char *) * (nexisting + 1));
	for (uint64 i = 0; i < nexisting; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *jobname = SPI_getvalue(tuple, desc, 2);
		char	   *owner = SPI_getvalue(tuple, desc, 3);
		bool		keep = false;

		existing_ids[i] = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		/* a requested job of our role is updated in place, not removed */
		for (int k = 0; k < req->njobs && owner != NULL && strcmp(owner, username) == 0; k++)
			if (strcmp(jobname, names[k]) == 0)
				keep = true;
		existing_names[i] = keep ? NULL : jobname;
	}

	/* 2. unschedule the others */
	for (uint64 i = 0; i < nexisting; i++)
	{
		Oid			int8type[1] = {INT8OID};
		Datum		jobid[1];

		if (existing_names[i] == NULL)
			continue;
		jobid[0] = Int64GetDatum(existing_ids[i]);
		ret = SPI_execute_with_args("SELECT cron.unschedule($1)", 1, int8type, jobid, NULL, false, 0);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "cron.unschedule failed: SPI_execute_with_args returned %d", ret);
		cron_add_result(req, existing_names[i], existing_ids[i], true);
	}

	/* 3. schedule (or update) the requested jobs */
	for (int k = 0; k < req->njobs; k++)
	{
		values[0] = CStringGetTextDatum(names[k]);
		values[1] = CStringGetTextDatum(scheds[k]);
		values[2] = CStringGetTextDatum(cmds[k]);
		values[3] = CStringGetTextDatum(req->jobs_database);
		if (same_database)
			ret = SPI_execute_with_args("SELECT cron.schedule($1, $2, $3)",
										3, argtypes, values, NULL, false, 0);
		else
			ret = SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4)",
										4, argtypes, values, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "cron.schedule failed: SPI_execute_with_args returned %d", ret);
		cron_add_result(req, names[k], cron_jobid_result(), false);
	}

	SPI_finish();
}

/*
 * The pg_cron helper worker: connects to pg_cron's database as the
 * requesting role, applies the request in a transaction of its own and
 * writes the answer (or the error) back.  Never returns.
 */
void
costopt_cron_helper_main(Datum main_arg)
{
	dsm_segment *seg;
	CronSyncRequest *req;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the segment stays mapped until we exit, whatever the transactions do */
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);			/* the caller has gone */
	req = (CronSyncRequest *) dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(req->cron_dboid, req->userid, 0);
	pgstat_report_appname("costopt pg_cron helper");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "costopt: syncing the jobs with pg_cron");
		cron_sync_apply(req);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata = task_abort(TopMemoryContext);

		req->nresults = 0;
		req->sqlerrcode = edata->sqlerrcode;
		strlcpy(req->message, edata->message ? edata->message : "unknown error", COSTOPT_CRON_MSG_LEN);
		strlcpy(req->detail, edata->detail ? edata->detail : "", COSTOPT_CRON_MSG_LEN);
		strlcpy(req->hint, edata->hint ? edata->hint : "", COSTOPT_CRON_MSG_LEN);
		FreeErrorData(edata);
	}
	PG_END_TRY();

	pg_write_barrier();
	req->done = true;
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * Apply a request in pg_cron's database through the helper worker and wait
 * for its answer, which is copied into req.  Errors from the helper are
 * raised here with their SQLSTATE.
 */
static void
cron_sync_remote(CronSyncRequest *req, Size size, const char *cron_db)
{
	dsm_segment *seg;
	CronSyncRequest *shared;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;

	seg = dsm_create(size, 0);
	shared = (CronSyncRequest *) dsm_segment_address(seg);
	memcpy(shared, req, size);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "costopt", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "costopt_cron_helper_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "costopt pg_cron helper", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "costopt pg_cron helper", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker to reach pg_cron's database \"%s\"",
						cron_db),
				 errhint("Raise max_worker_processes (now %d), or try again when fewer background workers run.",
						 max_worker_processes)));

	status = WaitForBackgroundWorkerShutdown(handle);
	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while costopt waited for its pg_cron helper")));
	pg_read_barrier();

	if (!shared->done)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the background worker that reaches pg_cron's database \"%s\" stopped without an answer",
						cron_db),
				 errhint("The server log says why. The role must be allowed to log in and to connect to that database.")));
	if (shared->sqlerrcode != 0)
		ereport(ERROR,
				(errcode(shared->sqlerrcode),
				 errmsg_internal("%s", shared->message),
				 shared->detail[0] ? errdetail_internal("%s", shared->detail) : 0,
				 shared->hint[0] ? errhint("%s", shared->hint) : 0,
				 errcontext("pg_cron database \"%s\" (cron.database_name)", cron_db)));

	req->nresults = shared->nresults;
	memcpy(req->results, shared->results, sizeof(CronSyncResult) * shared->nresults);
	dsm_detach(seg);
}

/*
 * The text elements of an array argument; errors on NULL elements.
 */
static int
cron_text_array(ArrayType *arr, const char *argname, Datum **elems)
{
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", argname)));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", argname)));
	return n;
}

/*
 * costopt.cron_sync(job_names, schedules, commands, missing_ok): make
 * pg_cron's costopt jobs of this database exactly the given ones, in
 * pg_cron's database: here when it is this database (in the caller's
 * transaction), otherwise through the helper worker (committed at once).
 * Returns each pg_cron job scheduled or removed.  With missing_ok, a
 * pg_cron that is not loaded or not installed means there is nothing to do.
 */
Datum
costopt_cron_sync(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		missing_ok = PG_GETARG_BOOL(3);
	Datum	   *names;
	Datum	   *scheds;
	Datum	   *cmds;
	int			n;
	const char *cron_db;
	Oid			cron_dboid = InvalidOid;
	StringInfoData jobs;
	CronSyncRequest *req;
	Size		size;

	InitMaterializedSRF(fcinfo, 0);

	n = cron_text_array(PG_GETARG_ARRAYTYPE_P(0), "job_names", &names);
	if (cron_text_array(PG_GETARG_ARRAYTYPE_P(1), "schedules", &scheds) != n ||
		cron_text_array(PG_GETARG_ARRAYTYPE_P(2), "commands", &cmds) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("job_names, schedules and commands must have the same length")));
	if (n > COSTOPT_CRON_MAX_RESULTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many jobs for pg_cron: %d", n),
				 errdetail("At most %d jobs can be scheduled at once.", COSTOPT_CRON_MAX_RESULTS)));

	cron_db = GetConfigOption("cron.database_name", true, false);
	if (cron_db != NULL)
		cron_dboid = get_database_oid(cron_db, true);
	if (!OidIsValid(cron_dboid))
	{
		if (missing_ok)
			PG_RETURN_VOID();
		if (cron_db == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_cron is not loaded"),
					 errhint("Add pg_cron to shared_preload_libraries, restart the server and run "
							 "CREATE EXTENSION pg_cron in the database named by cron.database_name.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("database \"%s\" named by cron.database_name does not exist", cron_db)));
	}

	/* the request, with its jobs as NUL-terminated strings */
	initStringInfo(&jobs);
	for (int i = 0; i < n; i++)
	{
		char	   *name = TextDatumGetCString(names[i]);
		char	   *sched = TextDatumGetCString(scheds[i]);
		char	   *cmd = TextDatumGetCString(cmds[i]);

		if (strlen(name) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("pg_cron job name \"%s\" is too long", name),
					 errdetail("pg_cron job names have at most %d bytes.", NAMEDATALEN - 1)));
		appendBinaryStringInfo(&jobs, name, strlen(name) + 1);
		appendBinaryStringInfo(&jobs, sched, strlen(sched) + 1);
		appendBinaryStringInfo(&jobs, cmd, strlen(cmd) + 1);
	}
	size = offsetof(CronSyncRequest, jobs) + jobs.len;
	req = palloc0(size);
	req->cron_dboid = cron_dboid;
	req->userid = GetUserId();
	req->missing_ok = missing_ok;
	strlcpy(req->jobs_database, get_database_name(MyDatabaseId), NAMEDATALEN);
	req->njobs = n;
	memcpy(req->jobs, jobs.data, jobs.len);

	if (cron_dboid == MyDatabaseId)
		cron_sync_apply(req);
	else
		cron_sync_remote(req, size, cron_db);

	for (int i = 0; i < req->nresults; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(req->results[i].jobname);
		values[1] = Int64GetDatum(req->results[i].jobid);
		values[2] = BoolGetDatum(req->results[i].removed);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
