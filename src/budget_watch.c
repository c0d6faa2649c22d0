/*-------------------------------------------------------------------------
 *
 * budget_watch.c
 *	  Which usage rows the budgets need to see: the budget watermark.
 *
 * Budget spend is kept exact incrementally: the capture trigger
 * (rollup_capture.c) turns every committed usage row whose created_at is at
 * or after the watermark into a per-minute budget delta, and
 * costopt_refresh_budgets() adds those deltas to the budgets they fall in.
 * The watermark is the earliest current-period start of any active budget
 * (+infinity when there is none), so an installation without budgets pays
 * nothing, and a bulk load of old calls writes no budget deltas.
 *
 * Each backend caches the watermark.  Invalidation follows the pricing
 * cache (pricing_cache.c):
 *
 *	- Triggers on costopt.budgets (costopt_budget_invalidate: per statement
 *	  for INSERT, DELETE and TRUNCATE, per row for an UPDATE that really
 *	  moves a period start or the active flag) send a relcache invalidation
 *	  for costopt.budgets.  A refresh that only changes spend sends none, so
 *	  backends keep their watermark and their cached plans.
 *	- The relcache callback only clears watermark_valid.
 *	- A (sub)transaction abort, and the end of a transaction in which an
 *	  invalidation arrived, clear it as well.
 *	- The reload reads the budgets with the latest snapshot, not the
 *	  transaction's: a REPEATABLE READ writer must not keep a watermark from
 *	  before a budget was created.
 *
 * Lowering the watermark (a new budget, a budget activated again, a period
 * moved back) also needs writers that are already past their lookup to
 * finish first: costopt_create_budget() and costopt_update_budget() take a
 * SHARE lock on the usage log for that (see sql/install/85_budgets.sql).
 * A watermark that is too low is harmless (more deltas than needed); one
 * that is too high would lose spend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "budget_watch.h"

static TimestampTz watermark = DT_NOEND;
static bool watermark_valid = false;
static bool inval_in_xact = false;
static Oid	budgets_relid = InvalidOid;

/*
 * Through a SECURITY DEFINER function: the writer of a usage row may see
 * only its own organisations' budgets (row-level security), but the
 * watermark is one for the whole backend.
 */
#define WATERMARK_QUERY "SELECT costopt.budget_watermark()"
/* the same before version 0.2.0 of the SQL objects (no such function yet) */
#define WATERMARK_QUERY_0_1 \
	"SELECT min(b.period_start) FROM costopt.budgets b WHERE b.is_active"

/* The OID of costopt.budgets, or InvalidOid when it does not exist. */
static Oid
budgets_oid(void)
{
	Oid			nsp = get_namespace_oid("costopt", true);

	return OidIsValid(nsp) ? get_relname_relid("budgets", nsp) : InvalidOid;
}

/*
 * Whether costopt.budget_watermark() exists: a database still on version
 * 0.1.0 of the extension (before ALTER EXTENSION costopt UPDATE) has the new
 * library but not the function.
 */
static bool
watermark_function_exists(void)
{
	List	   *name = list_make2(makeString("costopt"), makeString("budget_watermark"));

	return OidIsValid(LookupFuncName(name, 0, NULL, true));
}

/*
 * Read the watermark from costopt.budgets with the latest snapshot.  The
 * caller must be inside a transaction.
 */
static void
watermark_load(void)
{
	Oid			relid = budgets_oid();
	SPIPlanPtr	plan;
	int			rc;
	bool		isnull;
	Datum		d;

	budgets_relid = relid;
	watermark = DT_NOEND;
	if (!OidIsValid(relid))
	{
		/* no budgets table (extension being dropped): nothing to watch */
		watermark_valid = true;
		return;
	}

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	plan = SPI_prepare(watermark_function_exists() ? WATERMARK_QUERY : WATERMARK_QUERY_0_1,
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for the budget watermark: %s",
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the budget watermark failed: %s", SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		watermark = DatumGetTimestampTz(d);
	SPI_finish();
	watermark_valid = true;
}

/*
 * The earliest time whose usage any active budget counts (DT_NOEND when
 * there is no active budget).  Must be called inside a transaction.
 */
TimestampTz
costopt_budget_watermark(void)
{
	if (!watermark_valid)
		watermark_load();
	return watermark;
}

/* Relcache callback: forget the watermark; never look anything up here. */
static void
budget_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == budgets_relid || !OidIsValid(budgets_relid))
	{
		watermark_valid = false;
		inval_in_xact = true;
	}
}

static void
budget_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			watermark_valid = false;
			inval_in_xact = false;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (inval_in_xact)
				watermark_valid = false;
			inval_in_xact = false;
			break;
		default:
			break;
	}
}

static void
budget_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		watermark_valid = false;
}

PG_FUNCTION_INFO_V1(costopt_budget_invalidate);

/*
 * Statement-level trigger on costopt.budgets: tell every backend that the
 * watermark may have moved.  Sent when the transaction commits.
 */
Datum
costopt_budget_invalidate(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.budget_invalidate\" was not called by trigger manager")));

	relid = budgets_oid();
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	else
		CacheInvalidateRelcacheAll();
	return PointerGetDatum(NULL);
}

/*
 * Register the callbacks.  Called once from _PG_init.
 */
void
costopt_budget_watch_init(void)
{
	CacheRegisterRelcacheCallback(budget_relcache_callback, (Datum) 0);
	RegisterXactCallback(budget_xact_callback, NULL);
	RegisterSubXactCallback(budget_subxact_callback, NULL);
}
