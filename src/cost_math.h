/*-------------------------------------------------------------------------
 *
 * cost_math.h
 *	  Exact price arithmetic for one LLM call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_COST_MATH_H
#define COSTOPT_COST_MATH_H

#include "datatype/timestamp.h"
#include "utils/numeric.h"

/*
 * The rates of one price version, in USD per million tokens.  The order
 * matches the columns the pricing cache reads from costopt.model_pricing.
 */
typedef enum CostoptRate
{
	COSTOPT_RATE_INPUT = 0,
	COSTOPT_RATE_OUTPUT,
	COSTOPT_RATE_CACHE_READ,
	COSTOPT_RATE_CACHE_WRITE,
	COSTOPT_RATE_LC_INPUT,
	COSTOPT_RATE_LC_OUTPUT,
	COSTOPT_RATE_LC_CACHE_READ,
	COSTOPT_RATE_LC_CACHE_WRITE,
	COSTOPT_RATE_BATCH_INPUT,
	COSTOPT_RATE_BATCH_OUTPUT,
	COSTOPT_NUM_RATES
} CostoptRate;

/* Largest number of decimal places a rate may have for the integer path. */
#define COSTOPT_FAST_MAX_SCALE 12

/*
 * One effective-dated price version, resolved for costing.  valid_until is
 * DT_NOEND for the open-ended newest version.
 */
typedef struct CostoptPriceVersion
{
	int64		pricing_id;
	TimestampTz valid_from;
	TimestampTz valid_until;
	int32		lc_threshold;	/* 0: no long-context tier */
	bool		has[COSTOPT_NUM_RATES];
	Numeric		price[COSTOPT_NUM_RATES];	/* NULL when !has[] */

	/*
	 * Integer representation: price[r] == scaled[r] / 10^scale exactly. Only
	 * valid when fast is true.
	 */
	bool		fast;
	int			scale;
	int64		scaled[COSTOPT_NUM_RATES];
} CostoptPriceVersion;

/* Token counts of one call, in the costopt convention (see doc/costing.md). */
typedef struct CostoptUsage
{
	int64		input;			/* whole prompt */
	int64		output;
	int64		cached;			/* cache reads, part of input */
	int64		cache_write;	/* cache writes, part of input */
	bool		is_batch;
} CostoptUsage;

/* The cost of one call; Numerics are palloc'd in CurrentMemoryContext. */
typedef struct CostoptCost
{
	Numeric		input_cost;
	Numeric		output_cost;
	Numeric		total_cost;
} CostoptCost;

extern void costopt_usage_check(const CostoptUsage *usage);
extern void costopt_price_version_prepare(CostoptPriceVersion *version);
extern void costopt_cost_compute(const CostoptPriceVersion *version,
								 const CostoptUsage *usage,
								 CostoptCost *cost);

#endif							/* COSTOPT_COST_MATH_H */
