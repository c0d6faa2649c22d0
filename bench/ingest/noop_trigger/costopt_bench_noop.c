/*-------------------------------------------------------------------------
 *
 * costopt_bench_noop.c
 *	  A C row trigger that does nothing, for the ingest benchmark only.
 *
 * bench/ingest compares the costopt costing trigger with this function to
 * separate what the costing work costs from what any C BEFORE ROW trigger
 * costs: the trigger manager call, forming a heap tuple from the slot and,
 * for COPY, giving up multi-row inserts.  The function returns the row it
 * was given, unchanged, so the executor stores it as is.
 *
 * Not part of the costopt extension: it is built and installed by
 * bench/ingest/run.sh and never shipped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(costopt_bench_noop_trigger);

/*
 * Return the row being inserted (or the new row of an UPDATE) unchanged.
 * Must be fired as a BEFORE ROW trigger.
 */
Datum
costopt_bench_noop_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt_bench_noop_trigger\" was not called by trigger manager")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BEFORE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"costopt_bench_noop_trigger\" must be fired BEFORE ROW")));

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(td->tg_newtuple);
	return PointerGetDatum(td->tg_trigtuple);
}
