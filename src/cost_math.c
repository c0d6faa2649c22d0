/*-------------------------------------------------------------------------
 *
 * cost_math.c
 *	  Exact price arithmetic for one LLM call.
 *
 * The pricing rule (documented in doc/costing.md):
 *
 *	 P = prompt tokens (input), R = cache reads, W = cache writes, O = output
 *	 tier   = long-context rates when the version has a threshold and P > it
 *	 input  = (P - R - W) * in + R * cache_read + W * cache_write
 *	 output = O * out
 *	 total  = input + output				(all divided by 10^6)
 *
 * A cache rate that is not set falls back to the input rate in force (the
 * tokens are billed as if they had not been cached: spend is never
 * understated).  A long-context rate that is not set falls back to its base
 * rate.  A batch call bills all of P at the batch input rate and O at the
 * batch output rate, where the version has them, unless the prompt is above
 * the long-context threshold (then the long-context rates apply).
 *
 * Two evaluation paths give identical values:
 *
 *	 - the integer path: every rate is held as an int64 scaled by 10^scale,
 *	   the sums are formed in 128-bit integers and the result is turned into a
 *	   numeric once;
 *	 - the numeric path, for rates with more than COSTOPT_FAST_MAX_SCALE
 *	   decimals or too large for int64, and for token counts beyond int32.
 *
 * Both are exact: numeric multiplication and addition do not round, and the
 * division by one million is a shift of the decimal point.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "cost_math.h"

/* Indexes of the rates that apply to one call. */
typedef struct RateChoice
{
	int			uncached;		/* rate for P - R - W, or for all of P (batch) */
	int			cache_read;
	int			cache_write;
	int			output;
	bool		split_cache;	/* false: batch, all of P at 'uncached' */
} RateChoice;

static const int64 pow10_int64[] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000),
	INT64CONST(10000), INT64CONST(100000), INT64CONST(1000000),
	INT64CONST(10000000), INT64CONST(100000000), INT64CONST(1000000000),
	INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000)
};

/*
 * Parse a non-negative numeric into digits scaled by 10^COSTOPT_FAST_MAX_SCALE.
 * Returns false when the value has more decimals than that or does not fit
 * in int64; *min_scale receives the number of significant decimals.
 */
static bool
numeric_to_scaled(Numeric value, int64 *scaled, int *min_scale)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(value)));
	char	   *dot = strchr(text, '.');
	int			frac_len = 0;
	int64		acc = 0;
	char	   *p;
	bool		ok = true;

	if (text[0] == '-' || text[0] == 'N' || text[0] == 'I')
		ok = false;				/* excluded by CHECK constraints */

	if (ok && dot != NULL)
	{
		char	   *end = dot + strlen(dot) - 1;

		while (end > dot && *end == '0')
			*end-- = '\0';
		frac_len = strlen(dot + 1);
	}
	if (frac_len > COSTOPT_FAST_MAX_SCALE)
		ok = false;

	for (p = text; ok && *p; p++)
	{
		if (*p == '.')
			continue;
		if (pg_mul_s64_overflow(acc, 10, &acc) ||
			pg_add_s64_overflow(acc, *p - '0', &acc))
			ok = false;
	}
	if (ok && pg_mul_s64_overflow(acc, pow10_int64[COSTOPT_FAST_MAX_SCALE - frac_len], &acc))
		ok = false;

	pfree(text);
	*scaled = acc;
	*min_scale = frac_len;
	return ok;
}

/*
 * Fill version->fast, ->scale and ->scaled[] from version->price[].  Called
 * once when a version enters the pricing cache.
 */
void
costopt_price_version_prepare(CostoptPriceVersion *version)
{
	int64		full[COSTOPT_NUM_RATES];
	int			scale = 0;
	int			r;

	version->fast = false;
	for (r = 0; r < COSTOPT_NUM_RATES; r++)
	{
		int			s;

		full[r] = 0;
		if (!version->has[r])
			continue;
		if (!numeric_to_scaled(version->price[r], &full[r], &s))
			return;
		scale = Max(scale, s);
	}

	/* Keep only the decimals some rate needs, so results stay short. */
	for (r = 0; r < COSTOPT_NUM_RATES; r++)
		version->scaled[r] = full[r] / pow10_int64[COSTOPT_FAST_MAX_SCALE - scale];
	version->scale = scale;
	version->fast = true;
}

/* Decide which rates bill each token class of this call. */
static void
choose_rates(const CostoptPriceVersion *v, const CostoptUsage *u, RateChoice *c)
{
	bool		tier = v->lc_threshold > 0 && u->input > v->lc_threshold;

	c->uncached = (tier && v->has[COSTOPT_RATE_LC_INPUT]) ?
		COSTOPT_RATE_LC_INPUT : COSTOPT_RATE_INPUT;
	c->output = (tier && v->has[COSTOPT_RATE_LC_OUTPUT]) ?
		COSTOPT_RATE_LC_OUTPUT : COSTOPT_RATE_OUTPUT;

	if (tier && v->has[COSTOPT_RATE_LC_CACHE_READ])
		c->cache_read = COSTOPT_RATE_LC_CACHE_READ;
	else if (v->has[COSTOPT_RATE_CACHE_READ])
		c->cache_read = COSTOPT_RATE_CACHE_READ;
	else
		c->cache_read = c->uncached;

	if (tier && v->has[COSTOPT_RATE_LC_CACHE_WRITE])
		c->cache_write = COSTOPT_RATE_LC_CACHE_WRITE;
	else if (v->has[COSTOPT_RATE_CACHE_WRITE])
		c->cache_write = COSTOPT_RATE_CACHE_WRITE;
	else
		c->cache_write = c->uncached;

	/*
	 * Batch prices apply below the long-context threshold only: the catalog
	 * has no batch long-context rates, and billing a long prompt at the
	 * short-prompt batch rate would understate spend.
	 */
	c->split_cache = true;
	if (u->is_batch && !tier)
	{
		if (v->has[COSTOPT_RATE_BATCH_INPUT])
		{
			c->uncached = COSTOPT_RATE_BATCH_INPUT;
			c->split_cache = false;
		}
		if (v->has[COSTOPT_RATE_BATCH_OUTPUT])
			c->output = COSTOPT_RATE_BATCH_OUTPUT;
	}
}

/*
 * Turn value / 10^scale into a numeric.  Most values fit int64 and take the
 * cheap constructor; larger ones go through the decimal text form.
 */
static Numeric
int128_to_numeric(int128 value, int scale)
{
	char		buf[64];
	char	   *p = buf + sizeof(buf) - 1;
	int			digits = 0;

	if (value <= PG_INT64_MAX)
		return int64_div_fast_to_numeric((int64) value, scale);

	/* value is positive here: all rates and counts are non-negative */
	*p = '\0';
	while (value > 0 || digits <= scale)
	{
		if (digits == scale && scale > 0)
			*--p = '.';
		*--p = '0' + (int) (value % 10);
		value /= 10;
		digits++;
	}
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(p),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/* tokens * rate, as numeric */
static Numeric
numeric_term(int64 tokens, Numeric rate)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul,
											   NumericGetDatum(int64_to_numeric(tokens)),
											   NumericGetDatum(rate)));
}

static Numeric
numeric_plus(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add,
											   NumericGetDatum(a),
											   NumericGetDatum(b)));
}

/* value / 10^6, exactly: multiply by the numeric 0.000001 */
static Numeric
numeric_per_million(Numeric value)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul,
											   NumericGetDatum(value),
											   NumericGetDatum(int64_div_fast_to_numeric(1, 6))));
}

/*
 * Reject token counts that cannot describe a call: negative counts, or
 * cache reads plus cache writes above the whole prompt.
 */
void
costopt_usage_check(const CostoptUsage *u)
{
	if (u->input < 0 || u->output < 0 || u->cached < 0 || u->cache_write < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token counts must not be negative"),
				 errdetail("input " INT64_FORMAT ", output " INT64_FORMAT ", cached " INT64_FORMAT
						   ", cache write " INT64_FORMAT ".",
						   u->input, u->output, u->cached, u->cache_write)));
	/* both are non-negative here; compared without an addition that could overflow */
	if (u->cached > u->input || u->cache_write > u->input - u->cached)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cached and cache-write tokens exceed input tokens"),
				 errdetail("input_tokens is " INT64_FORMAT ", cached_input_tokens " INT64_FORMAT
						   ", cache_write_tokens " INT64_FORMAT ".",
						   u->input, u->cached, u->cache_write),
				 errhint("input_tokens counts the whole prompt, including cache reads and writes. "
						 "For Anthropic usage, add cache_read_input_tokens and "
						 "cache_creation_input_tokens to input_tokens.")));
}

/*
 * Compute the cost of one call under one price version.  The caller has
 * validated the usage (non-negative, cached + cache_write <= input).
 */
void
costopt_cost_compute(const CostoptPriceVersion *v, const CostoptUsage *u,
					 CostoptCost *cost)
{
	RateChoice	c;
	int64		uncached_tokens;

	choose_rates(v, u, &c);
	uncached_tokens = c.split_cache ? u->input - u->cached - u->cache_write : u->input;

	if (v->fast && u->input <= PG_INT32_MAX && u->output <= PG_INT32_MAX)
	{
		int128		in_units;
		int128		out_units;
		int			scale = v->scale + 6;

		in_units = (int128) uncached_tokens * v->scaled[c.uncached];
		if (c.split_cache)
			in_units += (int128) u->cached * v->scaled[c.cache_read] +
				(int128) u->cache_write * v->scaled[c.cache_write];
		out_units = (int128) u->output * v->scaled[c.output];

		cost->input_cost = int128_to_numeric(in_units, scale);
		cost->output_cost = int128_to_numeric(out_units, scale);
		cost->total_cost = int128_to_numeric(in_units + out_units, scale);
		return;
	}

	/* numeric path */
	{
		Numeric		in_sum = numeric_term(uncached_tokens, v->price[c.uncached]);
		Numeric		out_sum;

		if (c.split_cache)
		{
			in_sum = numeric_plus(in_sum, numeric_term(u->cached, v->price[c.cache_read]));
			in_sum = numeric_plus(in_sum, numeric_term(u->cache_write, v->price[c.cache_write]));
		}
		out_sum = numeric_term(u->output, v->price[c.output]);

		cost->input_cost = numeric_per_million(in_sum);
		cost->output_cost = numeric_per_million(out_sum);
		cost->total_cost = numeric_plus(cost->input_cost, cost->output_cost);
	}
}
