/*-------------------------------------------------------------------------
 *
 * pricing_cache.h
 *	  Backend-local cache of effective-dated prices.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_PRICING_CACHE_H
#define COSTOPT_PRICING_CACHE_H

#include "cost_math.h"

/* What a reported (provider, model) resolved to, with its price history. */
typedef struct CostoptPriceList
{
	char	   *provider;		/* catalog provider, NULL if unresolved */
	char	   *model_name;		/* catalog model name, NULL if unresolved */
	int			nversions;
	CostoptPriceVersion *versions;	/* ascending valid_from */
} CostoptPriceList;

extern void costopt_pricing_cache_init(void);
extern const CostoptPriceList *costopt_pricing_lookup(const char *provider, int provider_len,
													  const char *model, int model_len);
extern const CostoptPriceVersion *costopt_pricing_version_at(const CostoptPriceList *list,
															 TimestampTz at);

#endif							/* COSTOPT_PRICING_CACHE_H */
