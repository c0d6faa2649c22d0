/*-------------------------------------------------------------------------
 *
 * costing_trigger.c
 *	  BEFORE INSERT OR UPDATE row trigger that prices each LLM call.
 *
 * The trigger reads the call's model, provider, timestamp and token counts,
 * finds the price version in force at created_at through the pricing cache
 * and fills input_cost, output_cost, total_cost, pricing_id and
 * cost_status.  No SPI runs per row: a cache hit is a hash probe and
 * integer arithmetic (see cost_math.c).
 *
 * A call whose model has no price is stored with NULL costs and cost_status
 * 'unpriced' (costopt.missing_price_action can make that a warning or an
 * error).  Token counts that cannot be right are rejected with a clear
 * error before any constraint fires.
 *
 * An INSERT by a superuser (or by the table's owner with
 * costopt.keep_supplied_costs on) of a row that is already costed
 * consistently, as in a restore, keeps its costs.
 *
 * UPDATE re-prices when a pricing input changed (model, provider,
 * created_at, token counts, is_batch) or when the new total_cost is NULL,
 * which is how costopt_recost() asks for it.  Any other UPDATE keeps the
 * stored costs: the cost columns belong to the trigger, so an UPDATE that
 * writes them directly is undone.
 *
 * Column numbers come from usage_columns.c, resolved once per relation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "costing_trigger.h"
#include "guc.h"
#include "pricing_cache.h"
#include "usage_columns.h"

/* cost_status values, made once */
static Datum status_priced;
static Datum status_unpriced;
static Datum status_estimated;

/*
 * Set up the constant datums.  Called once from _PG_init.
 */
void
costopt_costing_init(void)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

	status_priced = CStringGetTextDatum("priced");
	status_unpriced = CStringGetTextDatum("unpriced");
	status_estimated = CStringGetTextDatum("estimated");
	MemoryContextSwitchTo(oldcxt);
}

/* A token count: required to be present and non-negative. */
static int32
token_count(const UsageColumnMap *map, UsageColumn c, Datum *values, bool *nulls)
{
	int			idx;
	int32		v;

	if (map->attnum[c] == 0)
		return 0;
	idx = map->attnum[c] - 1;
	if (nulls[idx])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token count \"%s\" must not be null", costopt_usage_column_name(c)),
				 errhint("Use 0 when the provider reported no tokens of this kind.")));
	v = DatumGetInt32(values[idx]);
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token count \"%s\" must not be negative", costopt_usage_column_name(c)),
				 errdetail("The value is %d.", v)));
	return v;
}

/* Do two rows differ in a column? (absent columns never differ) */
static bool
column_differs(const UsageColumnMap *map, TupleDesc desc, UsageColumn c,
			   Datum *v1, bool *n1, Datum *v2, bool *n2)
{
	int			idx;
	Form_pg_attribute att;

	if (map->attnum[c] == 0)
		return false;
	idx = map->attnum[c] - 1;
	if (n1[idx] || n2[idx])
		return n1[idx] != n2[idx];
	att = TupleDescAttr(desc, idx);
	return !datumIsEqual(v1[idx], v2[idx], att->attbyval, att->attlen);
}

static const UsageColumn pricing_inputs[] = {
	UC_CREATED_AT, UC_MODEL, UC_PROVIDER, UC_INPUT_TOKENS, UC_OUTPUT_TOKENS,
	UC_CACHED_TOKENS, UC_CACHE_WRITE_TOKENS, UC_IS_BATCH, UC_REASONING_TOKENS,
	UC_TOKENS_ESTIMATED
};

static const UsageColumn cost_outputs[] = {
	UC_INPUT_COST, UC_OUTPUT_COST, UC_TOTAL_COST, UC_PRICING_ID, UC_COST_STATUS
};

/*
 * Does an inserted row arrive with a complete, consistent costing of its
 * own: cost_status 'unpriced' with no costs, or 'priced'/'estimated' with
 * all three costs (and a pricing_id where the table has one), 'estimated'
 * exactly when the token counts are estimates?
 */
static bool
row_arrives_costed(const UsageColumnMap *map, Datum *values, bool *nulls, bool estimated)
{
	const char *status;
	int			len;
	bool		unpriced;
	bool		has_costs;
	bool		no_costs;

	status = costopt_usage_text(map, UC_COST_STATUS, values, nulls, &len);
	if (status == NULL)
		return false;
	unpriced = (len == 8 && memcmp(status, "unpriced", 8) == 0);
	/* 'estimated' if and only if the token counts are estimates */
	if (!unpriced && estimated != (len == 9 && memcmp(status, "estimated", 9) == 0))
		return false;
	has_costs = !nulls[map->attnum[UC_INPUT_COST] - 1] &&
		!nulls[map->attnum[UC_OUTPUT_COST] - 1] &&
		!nulls[map->attnum[UC_TOTAL_COST] - 1];
	no_costs = nulls[map->attnum[UC_INPUT_COST] - 1] &&
		nulls[map->attnum[UC_OUTPUT_COST] - 1] &&
		nulls[map->attnum[UC_TOTAL_COST] - 1];

	if (unpriced)
		return no_costs &&
			(map->attnum[UC_PRICING_ID] == 0 || nulls[map->attnum[UC_PRICING_ID] - 1]);
	return has_costs &&
		(map->attnum[UC_PRICING_ID] == 0 || !nulls[map->attnum[UC_PRICING_ID] - 1]);
}

/* Apply a numeric column's typmod, as an assignment would. */
static Datum
fit_numeric(const UsageColumnMap *map, UsageColumn c, Numeric value)
{
	if (map->typmod[c] < 0)
		return NumericGetDatum(value);
	return DirectFunctionCall2(numeric, NumericGetDatum(value),
							   Int32GetDatum(map->typmod[c]));
}

/*
 * Price one row: fill the cost columns of values/nulls (full-width arrays
 * of the relation's columns).  On UPDATE, tokens_estimated is taken as
 * written; on INSERT, cost_status 'estimated' also marks the row.  With
 * keep_supplied, a row that arrives with a consistent costing of its own
 * keeps it (after the same validation as any other row).
 */
static void
price_row(Relation rel, const UsageColumnMap *map, Datum *values, bool *nulls,
		  bool is_update, bool keep_supplied)
{
	CostoptUsage usage;
	const char *model;
	const char *provider;
	int			model_len;
	int			provider_len;
	int			idx;
	TimestampTz at;
	bool		estimated = false;
	const CostoptPriceList *list;
	const CostoptPriceVersion *version;

	idx = map->attnum[UC_CREATED_AT] - 1;
	if (nulls[idx])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"created_at\" of a usage row must not be null"),
				 errhint("Leave created_at out to use the current time.")));
	at = DatumGetTimestampTz(values[idx]);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"created_at\" of a usage row must be a finite time"),
				 errdetail("The value is %s.", timestamptz_to_str(at))));

	model = costopt_usage_text(map, UC_MODEL, values, nulls, &model_len);
	if (model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"model\" of a usage row must not be null")));
	provider = costopt_usage_text(map, UC_PROVIDER, values, nulls, &provider_len);

	usage.input = token_count(map, UC_INPUT_TOKENS, values, nulls);
	usage.output = token_count(map, UC_OUTPUT_TOKENS, values, nulls);
	usage.cached = token_count(map, UC_CACHED_TOKENS, values, nulls);
	usage.cache_write = token_count(map, UC_CACHE_WRITE_TOKENS, values, nulls);
	costopt_usage_check(&usage);
	usage.is_batch = map->attnum[UC_IS_BATCH] != 0 &&
		!nulls[map->attnum[UC_IS_BATCH] - 1] &&
		DatumGetBool(values[map->attnum[UC_IS_BATCH] - 1]);

	{
		int32		reasoning = token_count(map, UC_REASONING_TOKENS, values, nulls);

		if (reasoning > usage.output)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("reasoning tokens exceed output tokens"),
					 errdetail("output_tokens is " INT64_FORMAT ", reasoning_tokens %d.",
							   usage.output, reasoning),
					 errhint("output_tokens counts all generated tokens, reasoning included. "
							 "If the provider reports reasoning apart (Gemini thoughtsTokenCount), "
							 "add it to output_tokens.")));
	}

	/*
	 * Were the token counts estimated?  tokens_estimated, where the table
	 * has it, is the record; a row inserted with cost_status 'estimated'
	 * sets it.  Without the column, cost_status 'estimated' is kept.
	 */
	if (map->attnum[UC_COST_STATUS] != 0 && !nulls[map->attnum[UC_COST_STATUS] - 1])
	{
		int			len;
		const char *s = costopt_usage_text(map, UC_COST_STATUS, values, nulls, &len);

		estimated = (len == 9 && memcmp(s, "estimated", 9) == 0);
	}
	if (map->attnum[UC_TOKENS_ESTIMATED] != 0)
	{
		idx = map->attnum[UC_TOKENS_ESTIMATED] - 1;
		if (!is_update || nulls[idx])
			estimated = estimated || (!nulls[idx] && DatumGetBool(values[idx]));
		else
			estimated = DatumGetBool(values[idx]);
		values[idx] = BoolGetDatum(estimated);
		nulls[idx] = false;
	}

	if (keep_supplied && row_arrives_costed(map, values, nulls, estimated))
		return;

	list = costopt_pricing_lookup(provider, provider_len, model, model_len);
	version = costopt_pricing_version_at(list, at);

	if (version == NULL)
	{
		if (costopt_missing_price_action != COSTOPT_MISSING_PRICE_STORE)
			ereport(costopt_missing_price_action == COSTOPT_MISSING_PRICE_ERROR ? ERROR : WARNING,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no price for model \"%.*s\"%s%.*s%s at %s",
							model_len, model,
							provider ? " (provider \"" : "",
							provider_len, provider ? provider : "",
							provider ? "\")" : "",
							timestamptz_to_str(at)),
					 costopt_missing_price_action == COSTOPT_MISSING_PRICE_ERROR ?
					 errdetail("costopt.missing_price_action is 'error', so the call is not stored.") :
					 errdetail("The call is stored in \"%s\" with cost_status 'unpriced'.",
							   RelationGetRelationName(rel)),
					 errhint("Add a price to costopt.model_pricing or an alias to costopt.model_aliases, then run costopt_recost().")));

		nulls[map->attnum[UC_INPUT_COST] - 1] = true;
		nulls[map->attnum[UC_OUTPUT_COST] - 1] = true;
		nulls[map->attnum[UC_TOTAL_COST] - 1] = true;
		if (map->attnum[UC_PRICING_ID])
			nulls[map->attnum[UC_PRICING_ID] - 1] = true;
		if (map->attnum[UC_COST_STATUS])
		{
			values[map->attnum[UC_COST_STATUS] - 1] = status_unpriced;
			nulls[map->attnum[UC_COST_STATUS] - 1] = false;
		}
		return;
	}

	{
		CostoptCost cost;

		costopt_cost_compute(version, &usage, &cost);
		values[map->attnum[UC_INPUT_COST] - 1] = fit_numeric(map, UC_INPUT_COST, cost.input_cost);
		values[map->attnum[UC_OUTPUT_COST] - 1] = fit_numeric(map, UC_OUTPUT_COST, cost.output_cost);
		values[map->attnum[UC_TOTAL_COST] - 1] = fit_numeric(map, UC_TOTAL_COST, cost.total_cost);
		nulls[map->attnum[UC_INPUT_COST] - 1] = false;
		nulls[map->attnum[UC_OUTPUT_COST] - 1] = false;
		nulls[map->attnum[UC_TOTAL_COST] - 1] = false;
	}
	if (map->attnum[UC_PRICING_ID])
	{
		values[map->attnum[UC_PRICING_ID] - 1] = Int64GetDatum(version->pricing_id);
		nulls[map->attnum[UC_PRICING_ID] - 1] = false;
	}
	if (map->attnum[UC_COST_STATUS])
	{
		values[map->attnum[UC_COST_STATUS] - 1] = estimated ? status_estimated : status_priced;
		nulls[map->attnum[UC_COST_STATUS] - 1] = false;
	}
}

PG_FUNCTION_INFO_V1(costopt_costing_trigger);

/*
 * The trigger function.  Must be fired BEFORE INSERT OR UPDATE FOR EACH ROW.
 */
Datum
costopt_costing_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	UsageColumnMap *map;
	TupleTableSlot *slot;
	Datum	   *values;
	bool	   *nulls;
	bool		is_update;
	bool		keep_supplied = false;
	int			natts;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.costing_trigger\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt.costing_trigger\" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW"),
				 errhint("Use costopt_attach_costing() to install the trigger.")));

	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	map = costopt_usage_columns_get(rel);
	is_update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	slot = is_update ? td->tg_newslot : td->tg_trigslot;
	natts = desc->natts;

	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * natts);
	nulls = palloc(sizeof(bool) * natts);
	memcpy(values, slot->tts_values, sizeof(Datum) * natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * natts);

	if (is_update)
	{
		TupleTableSlot *oldslot = td->tg_trigslot;
		Datum	   *oldvalues;
		bool	   *oldnulls;
		bool		reprice;
		int			i;

		slot_getallattrs(oldslot);
		oldvalues = oldslot->tts_values;
		oldnulls = oldslot->tts_isnull;

		reprice = nulls[map->attnum[UC_TOTAL_COST] - 1];
		for (i = 0; !reprice && i < (int) lengthof(pricing_inputs); i++)
			reprice = column_differs(map, desc, pricing_inputs[i],
									 values, nulls, oldvalues, oldnulls);

		if (!reprice)
		{
			bool		tampered = false;

			for (i = 0; i < (int) lengthof(cost_outputs); i++)
			{
				UsageColumn c = cost_outputs[i];

				if (column_differs(map, desc, c, values, nulls, oldvalues, oldnulls))
				{
					values[map->attnum[c] - 1] = oldvalues[map->attnum[c] - 1];
					nulls[map->attnum[c] - 1] = oldnulls[map->attnum[c] - 1];
					tampered = true;
				}
			}
			if (!tampered)
				return PointerGetDatum(td->tg_newtuple);
			return PointerGetDatum(heap_form_tuple(desc, values, nulls));
		}
	}

	/*
	 * Rows that arrive already costed may be kept as they are, but only for a
	 * superuser, or for the table's owner with costopt.keep_supplied_costs on:
	 * a restore (pg_dump writes the usage log before the price catalog) or a
	 * migration of billed history.  Decided only when cost_status arrives
	 * set, so ordinary inserts pay nothing for it.
	 */
	if (!is_update && map->attnum[UC_COST_STATUS] != 0 &&
		!nulls[map->attnum[UC_COST_STATUS] - 1])
		keep_supplied = superuser() ||
			(costopt_keep_supplied_costs &&
			 pg_class_ownercheck(RelationGetRelid(rel), GetUserId()));

	price_row(rel, map, values, nulls, is_update, keep_supplied);
	result = heap_form_tuple(desc, values, nulls);
	return PointerGetDatum(result);
}
