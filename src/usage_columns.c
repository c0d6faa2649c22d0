/*-------------------------------------------------------------------------
 *
 * usage_columns.c
 *	  The columns costopt reads from a usage table, resolved per relation.
 *
 * The costing trigger and the rollup capture trigger find their columns by
 * name, so they work on costopt.api_usage_logs, its partitions (whose
 * column numbers can differ) and users' own tables.  Column numbers are
 * resolved once per relation and kept in UsageColumnMaps; a relcache
 * callback drops a relation's entry when the table changes (InvalidOid:
 * all of them).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "usage_columns.h"

typedef struct UsageColumnSpec
{
	const char *name;
	Oid			type;
	Oid			alt_type;		/* binary-compatible alternative, or InvalidOid */
} UsageColumnSpec;

static const UsageColumnSpec usage_columns[UC_NUM_COLUMNS] = {
	[UC_CREATED_AT] = {"created_at", TIMESTAMPTZOID, InvalidOid},
	[UC_MODEL] = {"model", TEXTOID, VARCHAROID},
	[UC_INPUT_TOKENS] = {"input_tokens", INT4OID, InvalidOid},
	[UC_OUTPUT_TOKENS] = {"output_tokens", INT4OID, InvalidOid},
	[UC_INPUT_COST] = {"input_cost", NUMERICOID, InvalidOid},
	[UC_OUTPUT_COST] = {"output_cost", NUMERICOID, InvalidOid},
	[UC_TOTAL_COST] = {"total_cost", NUMERICOID, InvalidOid},
	[UC_PROVIDER] = {"provider", TEXTOID, VARCHAROID},
	[UC_CACHED_TOKENS] = {"cached_input_tokens", INT4OID, InvalidOid},
	[UC_CACHE_WRITE_TOKENS] = {"cache_write_tokens", INT4OID, InvalidOid},
	[UC_IS_BATCH] = {"is_batch", BOOLOID, InvalidOid},
	[UC_PRICING_ID] = {"pricing_id", INT8OID, InvalidOid},
	[UC_COST_STATUS] = {"cost_status", TEXTOID, VARCHAROID},
	[UC_REASONING_TOKENS] = {"reasoning_tokens", INT4OID, InvalidOid},
	[UC_TOKENS_ESTIMATED] = {"tokens_estimated", BOOLOID, InvalidOid},
	[UC_ORGANIZATION_ID] = {"organization_id", TEXTOID, VARCHAROID},
	[UC_USER_ID] = {"user_id", TEXTOID, VARCHAROID},
	[UC_LATENCY_MS] = {"latency_ms", INT4OID, InvalidOid},
	[UC_STATUS] = {"status", TEXTOID, VARCHAROID},
	[UC_PROJECT] = {"project", TEXTOID, VARCHAROID},
};

static HTAB *UsageColumnMaps = NULL;

/* Forget the column map of a relation that changed (all on InvalidOid). */
static void
usage_columns_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	UsageColumnMap *map;

	if (UsageColumnMaps == NULL)
		return;
	if (OidIsValid(relid))
	{
		hash_search(UsageColumnMaps, &relid, HASH_REMOVE, NULL);
		return;
	}
	hash_seq_init(&status, UsageColumnMaps);
	while ((map = hash_seq_search(&status)) != NULL)
		hash_search(UsageColumnMaps, &map->relid, HASH_REMOVE, NULL);
}

/*
 * Set up the column-map cache.  Called once from _PG_init.
 */
void
costopt_usage_columns_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(UsageColumnMap);
	ctl.hcxt = TopMemoryContext;
	UsageColumnMaps = hash_create("costopt column maps", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(usage_columns_relcache_callback, (Datum) 0);
}

/* The name of a usage column. */
const char *
costopt_usage_column_name(UsageColumn c)
{
	return usage_columns[c].name;
}

/*
 * Resolve the usage columns of a tuple descriptor.  Raises 09000 listing
 * every required column that is missing and every known column of the
 * wrong type.
 */
static void
column_map_build(TupleDesc desc, const char *relname, UsageColumnMap *map)
{
	StringInfoData missing;
	StringInfoData mistyped;
	int			c;

	initStringInfo(&missing);
	initStringInfo(&mistyped);

	for (c = 0; c < UC_NUM_COLUMNS; c++)
	{
		const UsageColumnSpec *spec = &usage_columns[c];
		int			i;

		map->attnum[c] = 0;
		map->typmod[c] = -1;
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped || strcmp(NameStr(att->attname), spec->name) != 0)
				continue;
			if (att->atttypid != spec->type && att->atttypid != spec->alt_type)
				appendStringInfo(&mistyped, "%s%s (%s, expected %s)",
								 mistyped.len ? ", " : "", spec->name,
								 format_type_be(att->atttypid),
								 format_type_be(spec->type));
			else
			{
				map->attnum[c] = att->attnum;
				map->typmod[c] = att->atttypmod;
			}
			break;
		}
		if (i == desc->natts && c < UC_NUM_REQUIRED)
			appendStringInfo(&missing, "%s%s", missing.len ? ", " : "", spec->name);
	}

	if (missing.len > 0 || mistyped.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("table \"%s\" is not a costopt usage table", relname),
				 missing.len > 0 ?
				 errdetail("Missing columns: %s.%s%s%s", missing.data,
						   mistyped.len ? " Wrong types: " : "",
						   mistyped.len ? mistyped.data : "",
						   mistyped.len ? "." : "") :
				 errdetail("Wrong types: %s.", mistyped.data),
				 errhint("A usage table needs created_at timestamptz, model text, input_tokens and output_tokens integer, and input_cost, output_cost, total_cost numeric; see doc/costing.md.")));
}

/*
 * The cached column map of a relation, built on first use.  Valid until the
 * relation changes; callers use it within one trigger call.
 */
UsageColumnMap *
costopt_usage_columns_get(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	UsageColumnMap *map;
	UsageColumnMap tmp;
	bool		found;

	map = hash_search(UsageColumnMaps, &relid, HASH_FIND, NULL);
	if (map != NULL)
		return map;

	column_map_build(RelationGetDescr(rel), RelationGetRelationName(rel), &tmp);
	map = hash_search(UsageColumnMaps, &relid, HASH_ENTER, &found);
	memcpy(map->attnum, tmp.attnum, sizeof(tmp.attnum));
	memcpy(map->typmod, tmp.typmod, sizeof(tmp.typmod));
	return map;
}

/*
 * Check that a table has what the costing trigger needs (09000 otherwise);
 * used by costopt_attach_costing() before it creates the trigger.
 */
void
costopt_usage_columns_check(Relation rel)
{
	UsageColumnMap tmp;

	column_map_build(RelationGetDescr(rel), RelationGetRelationName(rel), &tmp);
}

/*
 * A text column of a deformed row as pointer and length (not
 * NUL-terminated); NULL for SQL NULL or an absent column.
 */
const char *
costopt_usage_text(const UsageColumnMap *map, UsageColumn c,
				   Datum *values, bool *nulls, int *len)
{
	int			idx;
	struct varlena *t;

	*len = 0;
	if (map->attnum[c] == 0 || nulls[map->attnum[c] - 1])
		return NULL;
	idx = map->attnum[c] - 1;
	t = PG_DETOAST_DATUM_PACKED(values[idx]);
	*len = VARSIZE_ANY_EXHDR(t);
	return VARDATA_ANY(t);
}
