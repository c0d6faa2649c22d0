/*-------------------------------------------------------------------------
 *
 * costing_trigger.h
 *	  The row trigger that prices LLM calls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_COSTING_TRIGGER_H
#define COSTOPT_COSTING_TRIGGER_H

#include "utils/relcache.h"

extern void costopt_costing_init(void);

#endif							/* COSTOPT_COSTING_TRIGGER_H */
