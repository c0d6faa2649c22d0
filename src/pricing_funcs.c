/*-------------------------------------------------------------------------
 *
 * pricing_funcs.c
 *	  SQL-callable pricing: the cost of a hypothetical or recorded call.
 *
 * costopt.price_call() prices token counts exactly as the costing trigger
 * does (same cache, same arithmetic), so that costopt_request_cost(),
 * costopt_compare_models() and costopt_recost() agree with stored rows to
 * the last digit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "cost_math.h"
#include "costing_trigger.h"
#include "pricing_cache.h"
#include "usage_columns.h"

#define PRICE_CALL_COLS 7

/* An argument that must not be NULL. */
static void
require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", name)));
}

PG_FUNCTION_INFO_V1(costopt_price_call);

/*
 * costopt.price_call(provider, model, at, input, output, cached,
 *                    cache_write, is_batch)
 *   RETURNS (input_cost, output_cost, total_cost, pricing_id, cost_status,
 *            provider, model_name)
 *
 * An unknown model gives NULL costs and cost_status 'unpriced'; callers
 * that want an error raise it.
 */
Datum
costopt_price_call(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[PRICE_CALL_COLS];
	bool		nulls[PRICE_CALL_COLS];
	text	   *provider = NULL;
	text	   *model;
	TimestampTz at;
	CostoptUsage usage;
	const CostoptPriceList *list;
	const CostoptPriceVersion *version;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "costopt.price_call must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != PRICE_CALL_COLS)
		elog(ERROR, "costopt.price_call: expected %d result columns, got %d",
			 PRICE_CALL_COLS, tupdesc->natts);

	require_arg(fcinfo, 1, "model");
	require_arg(fcinfo, 2, "at");
	require_arg(fcinfo, 3, "input_tokens");
	require_arg(fcinfo, 4, "output_tokens");
	require_arg(fcinfo, 5, "cached_tokens");
	require_arg(fcinfo, 6, "cache_write_tokens");

	if (!PG_ARGISNULL(0))
		provider = PG_GETARG_TEXT_PP(0);
	model = PG_GETARG_TEXT_PP(1);
	at = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the time of a call must be finite")));
	usage.input = PG_GETARG_INT64(3);
	usage.output = PG_GETARG_INT64(4);
	usage.cached = PG_GETARG_INT64(5);
	usage.cache_write = PG_GETARG_INT64(6);
	usage.is_batch = PG_ARGISNULL(7) ? false : PG_GETARG_BOOL(7);
	costopt_usage_check(&usage);

	list = costopt_pricing_lookup(provider ? VARDATA_ANY(provider) : NULL,
								  provider ? VARSIZE_ANY_EXHDR(provider) : 0,
								  VARDATA_ANY(model), VARSIZE_ANY_EXHDR(model));
	version = costopt_pricing_version_at(list, at);

	memset(nulls, 0, sizeof(nulls));
	if (version == NULL)
	{
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;
		values[4] = CStringGetTextDatum("unpriced");
	}
	else
	{
		CostoptCost cost;

		costopt_cost_compute(version, &usage, &cost);
		values[0] = NumericGetDatum(cost.input_cost);
		values[1] = NumericGetDatum(cost.output_cost);
		values[2] = NumericGetDatum(cost.total_cost);
		values[3] = Int64GetDatum(version->pricing_id);
		values[4] = CStringGetTextDatum("priced");
	}
	if (list->provider)
		values[5] = CStringGetTextDatum(list->provider);
	else
		nulls[5] = true;
	if (list->model_name)
		values[6] = CStringGetTextDatum(list->model_name);
	else
		nulls[6] = true;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(costopt_check_usage_table);

/*
 * costopt.check_usage_table(regclass): raise 09000 unless the table has
 * the columns the costing trigger needs, with the right types.
 */
Datum
costopt_check_usage_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = relation_open(relid, AccessShareLock);

	costopt_usage_columns_check(rel);
	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}
