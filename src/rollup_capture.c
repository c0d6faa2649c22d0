/*-------------------------------------------------------------------------
 *
 * rollup_capture.c
 *	  Captures what usage-log changes do to the cost rollups.
 *
 * costopt.rollup_capture() is an AFTER INSERT OR UPDATE OR DELETE row
 * trigger on costopt.api_usage_logs.  For every row it adds the row's
 * measures (calls, tokens, costs, errors, latency) with sign +1 (new row)
 * or -1 (old row) to an in-memory delta for its (organization, user,
 * provider, model, UTC hour).  Being an AFTER trigger, it sees exactly the
 * rows that were written, as they were written: rows skipped by ON CONFLICT
 * DO NOTHING or by another trigger are never counted.
 *
 * Just before the transaction commits (XACT_EVENT_PRE_COMMIT, and
 * PRE_PREPARE for two-phase commit) the non-zero deltas are appended to
 * costopt.rollup_deltas with direct heap inserts: one row per key and hour
 * touched by the transaction, whatever the number of calls.  Writers never
 * touch the rollups themselves, so they do not contend with each other or
 * with costopt_refresh_rollups(), which consumes the deltas.  The deltas
 * commit or vanish with the transaction that wrote the calls, so the
 * rollups can be exact.
 *
 * Budgets: the same trigger also keeps per-minute deltas of priced spend
 * per (organization, user, project, provider, model) for rows at or after
 * the budget watermark (budget_watch.c), appended at commit to
 * costopt.budget_deltas and consumed by costopt_refresh_budgets().  Minutes,
 * not hours, because budget periods start at any whole minute of any time
 * zone.  Both kinds share the hash table and its subtransaction handling.
 *
 * Deletions made with costopt.retention_mode on (costopt_cleanup()) are
 * not captured: retention removes calls from the raw log, and the rollups
 * keep them (costopt_cleanup() records them in costopt.rollup_archive).
 *
 * Subtransactions: each delta is tagged with the subtransaction that made
 * it.  When a subtransaction aborts its deltas are dropped; when it commits
 * they are merged into its parent's.  A failed statement always aborts a
 * (sub)transaction, so half-captured statements never reach the table.
 *
 * Memory: the deltas live in DeltaContext, a child of TopTransactionContext,
 * and go away with the transaction.  A transaction that touches more than
 * DELTAS_FLUSH_THRESHOLD keys (a bulk load or a restore) writes the current
 * subtransaction's deltas early, so memory stays bounded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "budget_watch.h"
#include "guc.h"
#include "rollup_capture.h"
#include "usage_columns.h"

/*
 * The usage log's CHECKs allow 200 characters per name; in UTF-8 that is at
 * most 800 bytes.  Longer names (tables without those CHECKs) are refused.
 */
#define DELTA_NAME_MAX 800

/* The two kinds of delta and the tables they go to. */
typedef enum DeltaKind
{
	DELTA_ROLLUP = 0,			/* costopt.rollup_deltas, per UTC hour */
	DELTA_BUDGET,				/* costopt.budget_deltas, per minute */
	DELTA_NUM_KINDS
} DeltaKind;

/*
 * A delta's key: kind, subtransaction, time bucket and the names (four for
 * the rollups, five with the project for budgets), each encoded as a
 * flag byte ('v' value, 'n' NULL) and, for a value, its length (uint32)
 * and bytes: no byte of a name can be mistaken for a boundary.  The
 * names live outside the key: a lookup key points into the caller's buffer,
 * a stored key to a copy in DeltaContext (delta_key_copy).
 */
typedef struct DeltaKey
{
	DeltaKind	kind;
	SubTransactionId subid;
	TimestampTz bucket;			/* start of the UTC hour or of the minute */
	uint32		names_len;
	char	   *names;
} DeltaKey;

typedef enum DeltaCounter
{
	DC_REQUESTS = 0,
	DC_INPUT_TOKENS,
	DC_OUTPUT_TOKENS,
	DC_CACHED_TOKENS,
	DC_CACHE_WRITE_TOKENS,
	DC_REASONING_TOKENS,
	DC_ERRORS,
	DC_LATENCY_SUM,
	DC_LATENCY_COUNT,
	DC_UNPRICED,
	DC_NUM_COUNTERS
} DeltaCounter;

typedef enum DeltaCost
{
	DK_INPUT = 0,
	DK_OUTPUT,
	DK_TOTAL,
	DK_NUM_COSTS
} DeltaCost;

typedef struct DeltaEntry
{
	DeltaKey	key;			/* hash key, must be first */
	int64		counter[DC_NUM_COUNTERS];
	Numeric		cost[DK_NUM_COSTS]; /* NULL means zero */
} DeltaEntry;

/* deltas kept in memory before the current subtransaction's are written */
#define DELTAS_FLUSH_THRESHOLD 50000

/* The names that key each kind of delta, in the order of its table. */
static const UsageColumn rollup_key_columns[] = {
	UC_ORGANIZATION_ID, UC_USER_ID, UC_PROVIDER, UC_MODEL
};
static const UsageColumn budget_key_columns[] = {
	UC_ORGANIZATION_ID, UC_USER_ID, UC_PROJECT, UC_PROVIDER, UC_MODEL
};

/* costopt.rollup_deltas, column by column */
#define DELTAS_NATTS (5 + DC_NUM_COUNTERS + DK_NUM_COSTS)
/* costopt.budget_deltas: five names, minute, requests, total_cost */
#define BUDGET_DELTAS_NATTS 8

static MemoryContext DeltaContext = NULL;
static HTAB *Deltas = NULL;

static void deltas_flush(SubTransactionId only_subid);

/* Store a key: copy its names into DeltaContext. */
static void *
delta_key_copy(void *dest, const void *src, Size keysize)
{
	DeltaKey   *d = (DeltaKey *) dest;
	const DeltaKey *k = (const DeltaKey *) src;

	*d = *k;
	d->names = MemoryContextAlloc(DeltaContext, k->names_len);
	memcpy(d->names, k->names, k->names_len);
	return dest;
}

/* Hash a key by its content. */
static uint32
delta_key_hash(const void *key, Size keysize)
{
	const DeltaKey *k = (const DeltaKey *) key;
	uint32		h;

	h = hash_bytes((const unsigned char *) k->names, k->names_len);
	h = hash_combine(h, hash_bytes_uint32((uint32) k->subid));
	h = hash_combine(h, hash_bytes_uint32((uint32) k->kind));
	h = hash_combine(h, hash_bytes_uint32((uint32) (k->bucket / USECS_PER_SEC / 60)));
	return h;
}

static int
delta_key_match(const void *key1, const void *key2, Size keysize)
{
	const DeltaKey *a = (const DeltaKey *) key1;
	const DeltaKey *b = (const DeltaKey *) key2;

	if (a->kind != b->kind || a->subid != b->subid || a->bucket != b->bucket ||
		a->names_len != b->names_len)
		return 1;
	return memcmp(a->names, b->names, a->names_len);
}

/* Create the transaction's delta table on first use. */
static void
deltas_ensure(void)
{
	HASHCTL		ctl;

	if (Deltas != NULL)
		return;
	DeltaContext = AllocSetContextCreate(TopTransactionContext,
										 "costopt rollup deltas",
										 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(DeltaKey);
	ctl.entrysize = sizeof(DeltaEntry);
	ctl.hash = delta_key_hash;
	ctl.match = delta_key_match;
	ctl.keycopy = delta_key_copy;
	ctl.hcxt = DeltaContext;
	Deltas = hash_create("costopt rollup deltas", 64, &ctl,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);
}

/* Append one name (NULL allowed) to the names of a key being built. */
static void
key_add_name(StringInfo names, const char *name, int len, const char *column)
{
	if (len > DELTA_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("value of \"%s\" is too long for the cost rollups", column),
				 errdetail("It has %d bytes; the rollups keep at most %d.", len, DELTA_NAME_MAX)));
	appendStringInfoChar(names, name ? 'v' : 'n');
	if (name)
	{
		uint32		n = (uint32) len;

		appendBinaryStringInfo(names, (const char *) &n, sizeof(n));
		appendBinaryStringInfo(names, name, len);
	}
}

/* Decode the next name of a key (for the flush): text Datum or NULL. */
static Datum
key_next_name(const DeltaKey *key, int *pos, bool *isnull)
{
	uint32		len;
	Datum		d;

	*isnull = (key->names[*pos] == 'n');
	*pos += 1;
	if (*isnull)
		return (Datum) 0;
	memcpy(&len, key->names + *pos, sizeof(len));
	*pos += sizeof(len);
	d = PointerGetDatum(cstring_to_text_with_len(key->names + *pos, (int) len));
	*pos += len;
	return d;
}

/* Start of the UTC hour (seconds = 3600) or minute (60) of a time. */
static TimestampTz
bucket_of(TimestampTz t, int seconds)
{
	int64		len = (int64) seconds * USECS_PER_SEC;
	int64		rem = t % len;

	if (rem < 0)
		rem += len;
	return t - rem;
}

/* sum := sum + sign * value, in DeltaContext */
static void
cost_add(Numeric *sum, Datum value, int sign)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(DeltaContext);
	Numeric		old = *sum;

	if (old == NULL)
		*sum = sign > 0 ? DatumGetNumericCopy(value) :
			DatumGetNumeric(DirectFunctionCall1(numeric_uminus, value));
	else
	{
		*sum = DatumGetNumeric(DirectFunctionCall2(sign > 0 ? numeric_add : numeric_sub,
												   NumericGetDatum(old), value));
		pfree(old);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* An int4 column of the row as int64 (0 when absent or NULL). */
static int64
int_column(const UsageColumnMap *map, UsageColumn c, Datum *values, bool *nulls, bool *present)
{
	int			idx = map->attnum[c] - 1;

	*present = map->attnum[c] != 0 && !nulls[idx];
	return *present ? (int64) DatumGetInt32(values[idx]) : 0;
}

/*
 * Find or create (counters and costs at zero) the delta of a row for one
 * kind: its key is the kind's names read from the row and the UTC hour
 * (rollups) or minute (budgets) of created_at.
 */
static DeltaEntry *
delta_for_row(DeltaKind kind, const UsageColumnMap *map, Datum *values, bool *nulls,
			  TimestampTz created_at)
{
	const UsageColumn *cols = (kind == DELTA_BUDGET) ? budget_key_columns : rollup_key_columns;
	int			ncols = (kind == DELTA_BUDGET) ? lengthof(budget_key_columns) : lengthof(rollup_key_columns);
	DeltaKey	key;
	StringInfoData names;
	DeltaEntry *entry;
	bool		found;
	int			i;

	initStringInfo(&names);
	for (i = 0; i < ncols; i++)
	{
		int			len;
		const char *name = costopt_usage_text(map, cols[i], values, nulls, &len);

		key_add_name(&names, name, len, costopt_usage_column_name(cols[i]));
	}
	key.kind = kind;
	key.subid = GetCurrentSubTransactionId();
	key.bucket = bucket_of(created_at, (kind == DELTA_BUDGET) ? 60 : 3600);
	key.names = names.data;
	key.names_len = names.len;

	deltas_ensure();
	entry = hash_search(Deltas, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(entry->counter, 0, sizeof(entry->counter));
		memset(entry->cost, 0, sizeof(entry->cost));
	}
	pfree(names.data);
	return entry;
}

/*
 * Add a priced row's spend, with its sign, to the budget deltas when the
 * budgets count its time.
 */
static void
capture_budget_row(const UsageColumnMap *map, Datum *values, bool *nulls,
				   TimestampTz created_at, int sign)
{
	DeltaEntry *entry;
	int			idx = map->attnum[UC_TOTAL_COST] - 1;

	if (nulls[idx] || created_at < costopt_budget_watermark())
		return;

	entry = delta_for_row(DELTA_BUDGET, map, values, nulls, created_at);
	entry->counter[DC_REQUESTS] += sign;
	cost_add(&entry->cost[DK_TOTAL], values[idx], sign);
}

/* Add one row's measures, with sign +1 or -1, to the deltas. */
static void
capture_row(Relation rel, const UsageColumnMap *map, TupleTableSlot *slot, int sign)
{
	DeltaEntry *entry;
	Datum	   *values;
	bool	   *nulls;
	bool		present;
	const char *s;
	int			len;
	int64		latency;
	int			c;
	TimestampTz created_at;

	if (map->attnum[UC_ORGANIZATION_ID] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("table \"%s\" has no column \"organization_id\" for the cost rollups",
						RelationGetRelationName(rel))));

	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;

	if (costopt_usage_text(map, UC_ORGANIZATION_ID, values, nulls, &len) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"organization_id\" of a usage row must not be null")));
	created_at = DatumGetTimestampTz(values[map->attnum[UC_CREATED_AT] - 1]);
	entry = delta_for_row(DELTA_ROLLUP, map, values, nulls, created_at);

	entry->counter[DC_REQUESTS] += sign;
	entry->counter[DC_INPUT_TOKENS] += sign * int_column(map, UC_INPUT_TOKENS, values, nulls, &present);
	entry->counter[DC_OUTPUT_TOKENS] += sign * int_column(map, UC_OUTPUT_TOKENS, values, nulls, &present);
	entry->counter[DC_CACHED_TOKENS] += sign * int_column(map, UC_CACHED_TOKENS, values, nulls, &present);
	entry->counter[DC_CACHE_WRITE_TOKENS] += sign * int_column(map, UC_CACHE_WRITE_TOKENS, values, nulls, &present);
	entry->counter[DC_REASONING_TOKENS] += sign * int_column(map, UC_REASONING_TOKENS, values, nulls, &present);
	latency = int_column(map, UC_LATENCY_MS, values, nulls, &present);
	if (present)
	{
		entry->counter[DC_LATENCY_SUM] += sign * latency;
		entry->counter[DC_LATENCY_COUNT] += sign;
	}
	s = costopt_usage_text(map, UC_STATUS, values, nulls, &len);
	if (s != NULL && !(len == 7 && memcmp(s, "success", 7) == 0))
		entry->counter[DC_ERRORS] += sign;

	if (nulls[map->attnum[UC_TOTAL_COST] - 1])
		entry->counter[DC_UNPRICED] += sign;
	for (c = 0; c < DK_NUM_COSTS; c++)
	{
		UsageColumn col = (c == DK_INPUT) ? UC_INPUT_COST :
		(c == DK_OUTPUT) ? UC_OUTPUT_COST : UC_TOTAL_COST;
		int			idx = map->attnum[col] - 1;

		if (!nulls[idx])
			cost_add(&entry->cost[c], values[idx], sign);
	}

	capture_budget_row(map, values, nulls, created_at, sign);
}

PG_FUNCTION_INFO_V1(costopt_rollup_capture);

/*
 * The capture trigger.  Must be fired AFTER INSERT OR UPDATE OR DELETE FOR
 * EACH ROW.
 */
Datum
costopt_rollup_capture(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	UsageColumnMap *map;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.rollup_capture\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.rollup_capture\" must be fired AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW")));

	/* retention removes calls from the raw log, not from the rollups */
	if (costopt_retention_mode && TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);

	map = costopt_usage_columns_get(td->tg_relation);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		capture_row(td->tg_relation, map, td->tg_trigslot, +1);
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		capture_row(td->tg_relation, map, td->tg_trigslot, -1);
	else
	{
		capture_row(td->tg_relation, map, td->tg_trigslot, -1);
		capture_row(td->tg_relation, map, td->tg_newslot, +1);
	}

	if (hash_get_num_entries(Deltas) > DELTAS_FLUSH_THRESHOLD)
		deltas_flush(GetCurrentSubTransactionId());
	return PointerGetDatum(NULL);
}

/* Is a delta all zero (an UPDATE that changed nothing the rollups keep)? */
static bool
delta_is_zero(const DeltaEntry *e)
{
	int			c;

	for (c = 0; c < DC_NUM_COUNTERS; c++)
		if (e->counter[c] != 0)
			return false;
	for (c = 0; c < DK_NUM_COSTS; c++)
		if (e->cost[c] != NULL &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(e->cost[c]),
											  NumericGetDatum(int64_to_numeric(0)))) != 0)
			return false;
	return true;
}

/*
 * Open one delta table for writing, after checking its shape (NULL when the
 * extension was dropped in this transaction).
 */
static Relation
delta_table_open(const char *name, int natts)
{
	Oid			nsp = get_namespace_oid("costopt", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
	Relation	rel;

	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(rel)->natts != natts)
		elog(ERROR, "costopt.%s has %d columns, expected %d",
			 name, RelationGetDescr(rel)->natts, natts);
	if (RelationGetIndexList(rel) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("costopt.%s must not have indexes", name),
				 errhint("costopt writes the table with direct heap inserts; drop the index.")));
	return rel;
}

/* Form the row of one delta for its table; returns the number of columns. */
static int
delta_row(const DeltaEntry *e, Datum *values, bool *nulls, Numeric zero)
{
	int			pos = 0;
	int			i = 0;
	int			nnames = (e->key.kind == DELTA_BUDGET) ? lengthof(budget_key_columns) : lengthof(rollup_key_columns);
	int			c;

	for (c = 0; c < nnames; c++)
	{
		values[i] = key_next_name(&e->key, &pos, &nulls[i]);
		i++;
	}
	values[i] = TimestampTzGetDatum(e->key.bucket);
	nulls[i++] = false;
	if (e->key.kind == DELTA_BUDGET)
	{
		values[i] = Int64GetDatum(e->counter[DC_REQUESTS]);
		nulls[i++] = false;
		values[i] = NumericGetDatum(e->cost[DK_TOTAL] ? e->cost[DK_TOTAL] : zero);
		nulls[i++] = false;
		return i;
	}
	for (c = 0; c < DC_NUM_COUNTERS; c++)
	{
		values[i] = Int64GetDatum(e->counter[c]);
		nulls[i++] = false;
	}
	for (c = 0; c < DK_NUM_COSTS; c++)
	{
		values[i] = NumericGetDatum(e->cost[c] ? e->cost[c] : zero);
		nulls[i++] = false;
	}
	return i;
}

/*
 * Append deltas to costopt.rollup_deltas and costopt.budget_deltas: all of
 * them (only_subid is InvalidSubTransactionId; at pre-commit every delta
 * belongs to the top transaction), or, to bound memory in a huge
 * transaction, only those of the current subtransaction, which are then
 * removed from memory: the rows are written in that subtransaction and
 * share its fate.
 */
static void
deltas_flush(SubTransactionId only_subid)
{
	static const char *const table_name[DELTA_NUM_KINDS] = {"rollup_deltas", "budget_deltas"};
	static const int table_natts[DELTA_NUM_KINDS] = {DELTAS_NATTS, BUDGET_DELTAS_NATTS};
	Relation	rel[DELTA_NUM_KINDS] = {NULL, NULL};
	HASH_SEQ_STATUS status;
	DeltaEntry *e;
	Numeric		zero = int64_to_numeric(0);
	int			k;

	hash_seq_init(&status, Deltas);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		Datum		values[DELTAS_NATTS];
		bool		nulls[DELTAS_NATTS];
		HeapTuple	tup;
		int			natts;

		if (only_subid != InvalidSubTransactionId && e->key.subid != only_subid)
			continue;
		if (!delta_is_zero(e))
		{
			k = e->key.kind;
			if (rel[k] == NULL)
				rel[k] = delta_table_open(table_name[k], table_natts[k]);
			if (rel[k] == NULL)
			{
				/* the extension was dropped in this transaction */
				hash_seq_term(&status);
				break;
			}
			natts = delta_row(e, values, nulls, zero);
			if (natts != table_natts[k])
				elog(ERROR, "delta of kind %d has %d columns, expected %d", k, natts, table_natts[k]);
			tup = heap_form_tuple(RelationGetDescr(rel[k]), values, nulls);
			simple_heap_insert(rel[k], tup);
			heap_freetuple(tup);
		}
		if (only_subid != InvalidSubTransactionId)
			hash_search(Deltas, &e->key, HASH_REMOVE, NULL);
	}
	for (k = 0; k < DELTA_NUM_KINDS; k++)
		if (rel[k] != NULL)
			table_close(rel[k], RowExclusiveLock);
}

/* Merge a committed subtransaction's deltas into its parent's. */
static void
deltas_merge_into_parent(SubTransactionId child, SubTransactionId parent)
{
	HASH_SEQ_STATUS status;
	DeltaEntry *e;
	List	   *moved = NIL;
	ListCell   *lc;

	hash_seq_init(&status, Deltas);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->key.subid == child)
			moved = lappend(moved, e);

	foreach(lc, moved)
	{
		DeltaEntry *src = lfirst(lc);
		DeltaEntry	copy = *src;
		DeltaEntry *dst;
		bool		found;
		int			c;

		hash_search(Deltas, &src->key, HASH_REMOVE, NULL);
		copy.key.subid = parent;
		dst = hash_search(Deltas, &copy.key, HASH_ENTER, &found);
		if (!found)
		{
			memcpy(dst->counter, copy.counter, sizeof(copy.counter));
			memcpy(dst->cost, copy.cost, sizeof(copy.cost));
			continue;
		}
		for (c = 0; c < DC_NUM_COUNTERS; c++)
			dst->counter[c] += copy.counter[c];
		for (c = 0; c < DK_NUM_COSTS; c++)
			if (copy.cost[c] != NULL)
				cost_add(&dst->cost[c], NumericGetDatum(copy.cost[c]), +1);
	}
	list_free(moved);
}

/* Drop an aborted subtransaction's deltas. */
static void
deltas_drop_sub(SubTransactionId subid)
{
	HASH_SEQ_STATUS status;
	DeltaEntry *e;

	hash_seq_init(&status, Deltas);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->key.subid == subid)
			hash_search(Deltas, &e->key, HASH_REMOVE, NULL);
}

static void
capture_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (Deltas != NULL)
				deltas_flush(InvalidSubTransactionId);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the memory went with TopTransactionContext */
			Deltas = NULL;
			DeltaContext = NULL;
			break;
		default:
			break;
	}
}

static void
capture_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (Deltas == NULL)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
		deltas_merge_into_parent(mySubid, parentSubid);
	else if (event == SUBXACT_EVENT_ABORT_SUB)
		deltas_drop_sub(mySubid);
}

/*
 * Register the transaction callbacks.  Called once from _PG_init.
 */
void
costopt_rollup_capture_init(void)
{
	RegisterXactCallback(capture_xact_callback, NULL);
	RegisterSubXactCallback(capture_subxact_callback, NULL);
}
