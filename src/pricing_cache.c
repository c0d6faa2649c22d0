/*-------------------------------------------------------------------------
 *
 * pricing_cache.c
 *	  Backend-local cache of effective-dated prices, and its invalidation.
 *
 * The costing trigger needs the price history of the (provider, model) a
 * usage row reports.  The first lookup of a name in a backend resolves it
 * (aliases, provider prefixes, dated snapshots: costopt.resolve_model) and
 * reads every price version of the catalog model with one prepared query;
 * later lookups are a hash probe.  Names that resolve to nothing are cached
 * too, so unpriced traffic costs no query either.
 *
 * Invalidation protocol:
 *
 *	- A statement-level trigger on costopt.model_pricing and
 *	  costopt.model_aliases (costopt_pricing_invalidate) sends a relcache
 *	  invalidation for model_pricing.  It is delivered to every backend when
 *	  the changing transaction commits, and to the changing backend itself at
 *	  its next command.
 *	- The relcache callback only clears cache_valid and forgets the cached
 *	  relation OID; it never looks anything up (it can run in the middle of a
 *	  catalog read).  InvalidOid means "everything changed".
 *	- A (sub)transaction abort also clears cache_valid: the cache may have
 *	  been filled from prices that were never committed.
 *	- So does the end of any transaction in which an invalidation arrived:
 *	  the cache may have been refilled from that transaction's snapshot,
 *	  which can predate the change (REPEATABLE READ, or a statement whose
 *	  snapshot was taken just before the change committed).
 *	- The next lookup that finds the cache invalid resets the memory context
 *	  and starts over.
 *
 * Memory: everything lives in PricingCacheContext, a child of
 * CacheMemoryContext, reset (not deleted) on rebuild.  An invalidation that
 * arrives while an entry is being filled leaves that entry usable for the
 * current row; the reset happens at the start of the next lookup.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pricing_cache.h"

/* provider, separator, model: both bounded by CHECK constraints */
#define PRICE_KEY_LEN 272
#define PRICE_KEY_SEP '\x1f'

typedef struct PriceCacheEntry
{
	char		key[PRICE_KEY_LEN]; /* hash key, must be first */
	CostoptPriceList list;
} PriceCacheEntry;

static MemoryContext PricingCacheContext = NULL;
static HTAB *PriceCache = NULL;
static bool cache_valid = false;
static bool inval_in_xact = false;	/* an invalidation arrived in this xact */
static Oid	pricing_relid = InvalidOid;
static SPIPlanPtr load_plan = NULL;

/* Columns read by the load query, in this order. */
#define LOAD_QUERY \
	"SELECT r.catalog_provider, r.catalog_model, p.id, p.effective_from, p.effective_to, " \
	"       p.long_context_threshold, " \
	"       p.input_price, p.output_price, p.cache_read_price, p.cache_write_price, " \
	"       p.long_context_input_price, p.long_context_output_price, " \
	"       p.long_context_cache_read_price, p.long_context_cache_write_price, " \
	"       p.batch_input_price, p.batch_output_price " \
	"  FROM costopt.resolve_model($1, $2) AS r " \
	"  LEFT JOIN costopt.model_pricing AS p " \
	"         ON p.provider = r.catalog_provider AND p.model_name = r.catalog_model " \
	" ORDER BY p.effective_from"
#define LOAD_FIRST_PRICE_COL 7

/*
 * Relcache callback: note that prices may have changed.  Must not do any
 * catalog access.
 */
static void
pricing_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == pricing_relid)
	{
		cache_valid = false;
		pricing_relid = InvalidOid;
		inval_in_xact = true;
	}
}

/*
 * At the end of a transaction, drop the cache if it may hold prices that
 * are not the committed state: after an abort (it may have seen the
 * transaction's own uncommitted prices), and after any transaction in which
 * an invalidation arrived (the cache may have been refilled from a snapshot
 * taken before the change committed, as in REPEATABLE READ, and no further
 * invalidation would ever correct it).
 */
static void
pricing_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			cache_valid = false;
			inval_in_xact = false;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (inval_in_xact)
				cache_valid = false;
			inval_in_xact = false;
			break;
		default:
			break;
	}
}

static void
pricing_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		cache_valid = false;
}

/*
 * Register the invalidation callbacks.  Called once from _PG_init.
 */
void
costopt_pricing_cache_init(void)
{
	CacheRegisterRelcacheCallback(pricing_relcache_callback, (Datum) 0);
	RegisterXactCallback(pricing_xact_callback, NULL);
	RegisterSubXactCallback(pricing_subxact_callback, NULL);
}

/*
 * Make the cache usable: reset it if it was invalidated, and remember the
 * OID of costopt.model_pricing so the callback can match it.
 */
static void
pricing_cache_ensure_valid(void)
{
	HASHCTL		ctl;
	Oid			nsp;

	if (cache_valid && PriceCache != NULL)
		return;

	if (PricingCacheContext == NULL)
		PricingCacheContext = AllocSetContextCreate(CacheMemoryContext,
													"costopt pricing cache",
													ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(PricingCacheContext);
	PriceCache = NULL;

	nsp = get_namespace_oid("costopt", true);
	pricing_relid = OidIsValid(nsp) ? get_relname_relid("model_pricing", nsp) : InvalidOid;
	if (!OidIsValid(pricing_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("costopt price catalog \"costopt.model_pricing\" does not exist"),
				 errhint("Run CREATE EXTENSION costopt in this database.")));

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = PRICE_KEY_LEN;
	ctl.entrysize = sizeof(PriceCacheEntry);
	ctl.hcxt = PricingCacheContext;
	PriceCache = hash_create("costopt prices", 64, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	cache_valid = true;
}

/*
 * Read the price history of what (provider, model) resolves to into list.
 * Runs one prepared query through SPI; the list is allocated in 'target'.
 */
static void
pricing_load(const char *provider, const char *model, CostoptPriceList *list,
			 MemoryContext target)
{
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	int			rc;
	uint64		i;
	uint64		n;
	MemoryContext oldcxt;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "costopt: SPI_connect failed");

	if (load_plan == NULL)
	{
		Oid			argtypes[2] = {TEXTOID, TEXTOID};
		SPIPlanPtr	plan = SPI_prepare(LOAD_QUERY, 2, argtypes);

		if (plan == NULL)
			elog(ERROR, "costopt: SPI_prepare of the price query failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "costopt: SPI_keepplan failed");
		load_plan = plan;
	}

	if (provider != NULL)
		args[0] = CStringGetTextDatum(provider);
	else
	{
		args[0] = (Datum) 0;
		nulls[0] = 'n';
	}
	args[1] = CStringGetTextDatum(model);

	rc = SPI_execute_plan(load_plan, args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "costopt: price query failed: %s", SPI_result_code_string(rc));

	n = SPI_processed;
	oldcxt = MemoryContextSwitchTo(target);
	list->provider = NULL;
	list->model_name = NULL;
	list->nversions = 0;
	list->versions = NULL;
	if (n > 0)
		list->versions = palloc0(sizeof(CostoptPriceVersion) * n);

	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CostoptPriceVersion *v = &list->versions[list->nversions];
		bool		isnull;
		Datum		d;
		int			r;

		if (i == 0)
		{
			d = SPI_getbinval(tup, desc, 1, &isnull);
			if (!isnull)
				list->provider = TextDatumGetCString(d);
			d = SPI_getbinval(tup, desc, 2, &isnull);
			if (!isnull)
				list->model_name = TextDatumGetCString(d);
		}

		d = SPI_getbinval(tup, desc, 3, &isnull);
		if (isnull)
			continue;			/* resolved name without any price version */
		v->pricing_id = DatumGetInt64(d);
		v->valid_from = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		d = SPI_getbinval(tup, desc, 5, &isnull);
		v->valid_until = isnull ? DT_NOEND : DatumGetTimestampTz(d);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		v->lc_threshold = isnull ? 0 : DatumGetInt32(d);

		for (r = 0; r < COSTOPT_NUM_RATES; r++)
		{
			d = SPI_getbinval(tup, desc, LOAD_FIRST_PRICE_COL + r, &isnull);
			v->has[r] = !isnull;
			v->price[r] = isnull ? NULL : DatumGetNumericCopy(d);
		}
		costopt_price_version_prepare(v);

		/* an open-ended version ends where the next one starts */
		if (list->nversions > 0)
		{
			CostoptPriceVersion *prev = &list->versions[list->nversions - 1];

			if (prev->valid_until > v->valid_from)
				prev->valid_until = v->valid_from;
		}
		list->nversions++;
	}
	MemoryContextSwitchTo(oldcxt);

	SPI_finish();
}

/*
 * Fill a new cache entry.  If the load fails, remove the half-made entry so
 * the next lookup tries again.
 */
static void
pricing_fill_entry(PriceCacheEntry *entry, const char *provider, const char *model)
{
	memset(&entry->list, 0, sizeof(entry->list));
	PG_TRY();
	{
		pricing_load(provider, model, &entry->list, PricingCacheContext);
	}
	PG_CATCH();
	{
		if (PriceCache != NULL)
			hash_search(PriceCache, entry->key, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Find the price history for a reported (provider, model).  provider may be
 * NULL.  The strings need not be NUL-terminated.  The result stays valid
 * until the next call (names longer than the cache key are resolved on each
 * call into the caller's memory context).
 */
const CostoptPriceList *
costopt_pricing_lookup(const char *provider, int provider_len,
					   const char *model, int model_len)
{
	char		key[PRICE_KEY_LEN];
	PriceCacheEntry *entry;
	bool		found;
	char	   *prov_str;
	char	   *model_str;

	pricing_cache_ensure_valid();

	if (provider == NULL)
		provider_len = 0;

	/* Names too long for the key are resolved every time (never in practice). */
	if (provider_len + model_len + 2 > PRICE_KEY_LEN)
	{
		static CostoptPriceList uncached;

		pricing_load(provider ? pnstrdup(provider, provider_len) : NULL,
					 pnstrdup(model, model_len), &uncached, CurrentMemoryContext);
		return &uncached;
	}

	memset(key, 0, sizeof(key));
	if (provider != NULL)
		memcpy(key, provider, provider_len);
	key[provider_len] = PRICE_KEY_SEP;
	memcpy(key + provider_len + 1, model, model_len);

	entry = hash_search(PriceCache, key, HASH_ENTER, &found);
	if (found)
		return &entry->list;

	prov_str = provider ? pnstrdup(provider, provider_len) : NULL;
	model_str = pnstrdup(model, model_len);
	pricing_fill_entry(entry, prov_str, model_str);
	pfree(model_str);
	if (prov_str)
		pfree(prov_str);

	return &entry->list;
}

/*
 * The version in force at 'at', or NULL when none is (no price yet, or a
 * gap after an explicit effective_to).
 */
const CostoptPriceVersion *
costopt_pricing_version_at(const CostoptPriceList *list, TimestampTz at)
{
	int			i;

	/* newest first: most calls are recent */
	for (i = list->nversions - 1; i >= 0; i--)
	{
		const CostoptPriceVersion *v = &list->versions[i];

		if (v->valid_from <= at)
			return (at < v->valid_until) ? v : NULL;
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(costopt_pricing_invalidate);

/*
 * Statement-level trigger on the price tables: tell every backend that the
 * prices changed.  The invalidation is sent when the transaction commits.
 */
Datum
costopt_pricing_invalidate(PG_FUNCTION_ARGS)
{
	Oid			nsp;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.pricing_invalidate\" was not called by trigger manager")));

	nsp = get_namespace_oid("costopt", true);
	relid = OidIsValid(nsp) ? get_relname_relid("model_pricing", nsp) : InvalidOid;
	if (OidIsValid(relid))
		CacheInvalidateRelcacheByRelid(relid);
	else
		CacheInvalidateRelcacheAll();

	return PointerGetDatum(NULL);
}
