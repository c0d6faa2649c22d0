/*-------------------------------------------------------------------------
 *
 * usage_columns.h
 *	  The columns costopt reads from a usage table, resolved per relation.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_USAGE_COLUMNS_H
#define COSTOPT_USAGE_COLUMNS_H

#include "access/attnum.h"
#include "utils/relcache.h"

/* Every column costopt knows; the costing trigger requires the first seven. */
typedef enum UsageColumn
{
	UC_CREATED_AT = 0,
	UC_MODEL,
	UC_INPUT_TOKENS,
	UC_OUTPUT_TOKENS,
	UC_INPUT_COST,
	UC_OUTPUT_COST,
	UC_TOTAL_COST,
	UC_PROVIDER,				/* optional from here on */
	UC_CACHED_TOKENS,
	UC_CACHE_WRITE_TOKENS,
	UC_IS_BATCH,
	UC_PRICING_ID,
	UC_COST_STATUS,
	UC_REASONING_TOKENS,
	UC_TOKENS_ESTIMATED,
	UC_ORGANIZATION_ID,
	UC_USER_ID,
	UC_LATENCY_MS,
	UC_STATUS,
	UC_PROJECT,
	UC_NUM_COLUMNS
} UsageColumn;

#define UC_NUM_REQUIRED (UC_TOTAL_COST + 1)

/* Column numbers (0: absent) and typmods of one relation. */
typedef struct UsageColumnMap
{
	Oid			relid;			/* hash key */
	AttrNumber	attnum[UC_NUM_COLUMNS];
	int32		typmod[UC_NUM_COLUMNS];
} UsageColumnMap;

extern void costopt_usage_columns_init(void);
extern UsageColumnMap *costopt_usage_columns_get(Relation rel);
extern void costopt_usage_columns_check(Relation rel);
extern const char *costopt_usage_column_name(UsageColumn c);
extern const char *costopt_usage_text(const UsageColumnMap *map, UsageColumn c,
									  Datum *values, bool *nulls, int *len);

#endif							/* COSTOPT_USAGE_COLUMNS_H */
