/*-------------------------------------------------------------------------
 *
 * aggregates.c
 *	  costopt_stats(value) and costopt_trend(t, value): numerically stable,
 *	  parallel-safe aggregates; costopt_predict(): a point on a fitted
 *	  trend with its t-distribution prediction interval.
 *
 * Both states are float8 arrays, like the built-in float8_accum and
 * float8_regr_accum, so partial states cross process boundaries without
 * serialisation functions.  Sums of squares are accumulated with the
 * Youngs-Cramer update (a running sum plus a correction from the deviation
 * of the new value from the running mean) and merged with the pairwise
 * formula of Chan, Golub and LeVeque, so constant series give exactly zero
 * variance and long series do not lose the variance to cancellation.
 *
 * Both also subtract the first value (and time) they see from every point.
 * Epoch seconds are around 1.7e9, so x * N in the Youngs-Cramer update
 * would otherwise carry an absolute rounding error of a few seconds per row
 * on ten million rows; with the shift it does not matter where on the axis
 * the data sit, and a constant series has a variance of exactly zero.  The
 * shift is part of the state and partial states with different shifts are
 * aligned on merge.  Sums that overflow raise the built-ins' error instead
 * of returning Infinity or NaN.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "stats_dist.h"

/* costopt_stats state: N, Sx, Sxx, min, max, shift */
#define STATS_STATE_LEN 6
/* costopt_trend state: N, Sx, Sxx, Sy, Syy, Sxy, x shift, y shift */
#define TREND_STATE_LEN 8

#define SECONDS_PER_DAY 86400.0

PG_FUNCTION_INFO_V1(costopt_stats_accum);
PG_FUNCTION_INFO_V1(costopt_stats_combine);
PG_FUNCTION_INFO_V1(costopt_stats_final);
PG_FUNCTION_INFO_V1(costopt_trend_accum);
PG_FUNCTION_INFO_V1(costopt_trend_combine);
PG_FUNCTION_INFO_V1(costopt_trend_final);
PG_FUNCTION_INFO_V1(costopt_predict);

/*
 * The float8 values of a state array, checked the way the built-in
 * float8 aggregates check theirs (a state is never user input, but a
 * hand-written call could pass anything).
 */
static float8 *
check_state(ArrayType *state, int len, const char *caller)
{
	float8	   *s;

	/* these functions can be called directly, with any array */
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] != len ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the state must be a %d-element float8 array without NULLs", caller, len),
				 errhint("Use the aggregate; its state functions are not meant to be called directly.")));
	s = (float8 *) ((char *) state + ARR_OVERHEAD_NONULLS(1));
	/* element 0 counts the values: a whole number within float8's exact range */
	if (!(s[0] >= 0.0 && s[0] <= 9007199254740992.0) || s[0] != floor(s[0]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the state's count %g is not a count of values", caller, s[0]),
				 errhint("Use the aggregate; its state functions are not meant to be called directly.")));
	return s;
}

/*
 * The state to update: the input itself inside an aggregate (the executor
 * owns it), a copy otherwise.
 */
static ArrayType *
writable_state(FunctionCallInfo fcinfo, int argno)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return PG_GETARG_ARRAYTYPE_P(argno);
	return PG_GETARG_ARRAYTYPE_P_COPY(argno);
}

static ArrayType *
new_state(int len)
{
	Datum		zeros[TREND_STATE_LEN];
	int			i;

	for (i = 0; i < len; i++)
		zeros[i] = Float8GetDatumFast(0.0);
	return construct_array(zeros, len, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static void
reject_non_finite(double v, const char *what)
{
	if (unlikely(isnan(v) || isinf(v)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number, not %s", what,
						isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
				 errhint("Filter the rows with WHERE value NOT IN ('NaN', 'Infinity', '-Infinity').")));
}

static void
check_overflow(const float8 *s, int len)
{
	int			i;

	for (i = 1; i < len; i++)
		if (unlikely(isinf(s[i]) || isnan(s[i])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow")));
}

/*
 * Pairwise merge of (n, sum, centred sum of squares) triples: the second
 * into the first.  Used for the x and y moments of both aggregates.
 */
static inline void
merge_moments(double n1, double *s1, double *ss1, double n2, double s2, double ss2)
{
	double		n = n1 + n2;
	double		d = *s1 / n1 - s2 / n2;

	*s1 += s2;
	*ss1 += ss2 + n1 * n2 * d * d / n;
}

/* ------------------------------------------------------------------------
 * costopt_stats
 * ------------------------------------------------------------------------
 */

Datum
costopt_stats_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *s;
	double		x;
	double		n;

	if (PG_ARGISNULL(0))
		state = new_state(STATS_STATE_LEN);
	else
		state = writable_state(fcinfo, 0);
	s = check_state(state, STATS_STATE_LEN, "costopt_stats_accum");
	if (PG_ARGISNULL(1))
		PG_RETURN_ARRAYTYPE_P(state);

	x = PG_GETARG_FLOAT8(1);
	reject_non_finite(x, "costopt_stats value");

	if (s[0] == 0.0)
	{
		s[5] = x;
		s[3] = x;
		s[4] = x;
	}
	else
	{
		if (x < s[3])
			s[3] = x;
		if (x > s[4])
			s[4] = x;
	}
	x -= s[5];

	n = s[0] + 1.0;
	s[1] += x;
	if (n > 1.0)
	{
		double		tmp = x * n - s[1];

		s[2] += tmp * tmp / (n * (n - 1.0));
		check_overflow(s, 3);
	}
	s[0] = n;
	PG_RETURN_ARRAYTYPE_P(state);
}

Datum
costopt_stats_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1;
	float8	   *s1;
	float8	   *s2;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_ARRAYTYPE_P(PG_GETARG_ARRAYTYPE_P_COPY(1));

	state1 = writable_state(fcinfo, 0);
	s1 = check_state(state1, STATS_STATE_LEN, "costopt_stats_combine");
	s2 = check_state(PG_GETARG_ARRAYTYPE_P(1), STATS_STATE_LEN, "costopt_stats_combine");

	if (s2[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(state1);
	if (s1[0] == 0.0)
	{
		memcpy(s1, s2, sizeof(float8) * STATS_STATE_LEN);
		PG_RETURN_ARRAYTYPE_P(state1);
	}
	/* the second state's sum, moved to the first state's origin */
	merge_moments(s1[0], &s1[1], &s1[2], s2[0], s2[1] + s2[0] * (s2[5] - s1[5]), s2[2]);
	s1[0] += s2[0];
	check_overflow(s1, 3);
	s1[3] = Min(s1[3], s2[3]);
	s1[4] = Max(s1[4], s2[4]);
	PG_RETURN_ARRAYTYPE_P(state1);
}

/* costopt.stats_summary: mean, stddev, n, min, max */
Datum
costopt_stats_final(PG_FUNCTION_ARGS)
{
	float8	   *s;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	double		n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = check_state(PG_GETARG_ARRAYTYPE_P(0), STATS_STATE_LEN, "costopt_stats_final");
	n = s[0];
	if (n == 0.0)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "costopt_stats_final: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = Float8GetDatum(s[5] + s[1] / n);
	if (n > 1.0)
		values[1] = Float8GetDatum(sqrt(s[2] / (n - 1.0)));
	else
		nulls[1] = true;
	values[2] = Int64GetDatum((int64) n);
	values[3] = Float8GetDatum(s[3]);
	values[4] = Float8GetDatum(s[4]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ------------------------------------------------------------------------
 * costopt_trend
 * ------------------------------------------------------------------------
 */

/* Seconds since the Unix epoch, as extract(epoch FROM t) gives them. */
static inline double
epoch_seconds(TimestampTz t)
{
	return (double) t / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECONDS_PER_DAY;
}

Datum
costopt_trend_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *s;
	TimestampTz t;
	double		x;
	double		y;
	double		n;

	if (PG_ARGISNULL(0))
		state = new_state(TREND_STATE_LEN);
	else
		state = writable_state(fcinfo, 0);
	s = check_state(state, TREND_STATE_LEN, "costopt_trend_accum");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_ARRAYTYPE_P(state);

	t = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("costopt_trend time must be finite")));
	y = PG_GETARG_FLOAT8(2);
	reject_non_finite(y, "costopt_trend value");
	x = epoch_seconds(t);

	if (s[0] == 0.0)
	{
		s[6] = x;
		s[7] = y;
	}
	x -= s[6];
	y -= s[7];

	n = s[0] + 1.0;
	s[1] += x;
	s[3] += y;
	if (n > 1.0)
	{
		double		dx = x * n - s[1];
		double		dy = y * n - s[3];
		double		scale = 1.0 / (n * (n - 1.0));

		s[2] += dx * dx * scale;
		s[4] += dy * dy * scale;
		s[5] += dx * dy * scale;
		check_overflow(s, 6);
	}
	s[0] = n;
	PG_RETURN_ARRAYTYPE_P(state);
}

Datum
costopt_trend_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1;
	float8	   *s1;
	float8	   *s2;
	double		n1;
	double		n2;
	double		sx2;
	double		sy2;
	double		dx;
	double		dy;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
		PG_RETURN_ARRAYTYPE_P(PG_GETARG_ARRAYTYPE_P_COPY(1));

	state1 = writable_state(fcinfo, 0);
	s1 = check_state(state1, TREND_STATE_LEN, "costopt_trend_combine");
	s2 = check_state(PG_GETARG_ARRAYTYPE_P(1), TREND_STATE_LEN, "costopt_trend_combine");
	n1 = s1[0];
	n2 = s2[0];
	if (n2 == 0.0)
		PG_RETURN_ARRAYTYPE_P(state1);
	if (n1 == 0.0)
	{
		memcpy(s1, s2, sizeof(float8) * TREND_STATE_LEN);
		PG_RETURN_ARRAYTYPE_P(state1);
	}

	/* the second state's sums, moved to the first state's origin */
	sx2 = s2[1] + n2 * (s2[6] - s1[6]);
	sy2 = s2[3] + n2 * (s2[7] - s1[7]);
	dx = s1[1] / n1 - sx2 / n2;
	dy = s1[3] / n1 - sy2 / n2;
	s1[5] += s2[5] + n1 * n2 * dx * dy / (n1 + n2);
	merge_moments(n1, &s1[1], &s1[2], n2, sx2, s2[2]);
	merge_moments(n1, &s1[3], &s1[4], n2, sy2, s2[4]);
	s1[0] = n1 + n2;
	check_overflow(s1, 6);
	PG_RETURN_ARRAYTYPE_P(state1);
}

/*
 * costopt.trend_fit: slope_per_day, intercept, r2, residual_sd, n, t_mean,
 * value_mean, t_sxx (squared days).  Follows the built-ins on degenerate
 * input: no slope or intercept when every time is the same, r2 = 1 for a
 * constant value, no residual_sd below three points.
 */
Datum
costopt_trend_final(PG_FUNCTION_ARGS)
{
	float8	   *s;
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	double		n;
	double		xbar;
	double		ybar;
	double		sxx;
	double		syy;
	double		sxy;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = check_state(PG_GETARG_ARRAYTYPE_P(0), TREND_STATE_LEN, "costopt_trend_final");
	n = s[0];
	if (n == 0.0)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "costopt_trend_final: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	xbar = s[1] / n + s[6];
	ybar = s[3] / n + s[7];
	sxx = s[2];
	syy = s[4];
	sxy = s[5];

	if (sxx > 0.0)
	{
		double		slope = sxy / sxx;

		values[0] = Float8GetDatum(slope * SECONDS_PER_DAY);
		values[1] = Float8GetDatum(ybar - slope * xbar);
		values[2] = Float8GetDatum(syy == 0.0 ? 1.0 : (sxy * sxy) / (sxx * syy));
		if (n > 2.0)
		{
			double		sse = syy - sxy * slope;

			values[3] = Float8GetDatum(sqrt(Max(sse, 0.0) / (n - 2.0)));
		}
		else
			nulls[3] = true;
	}
	else
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = true;

	values[4] = Int64GetDatum((int64) n);
	values[5] = TimestampTzGetDatum((TimestampTz)
									llround((xbar - (double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
											 SECONDS_PER_DAY) * USECS_PER_SEC));
	values[6] = Float8GetDatum(ybar);
	values[7] = Float8GetDatum(sxx / (SECONDS_PER_DAY * SECONDS_PER_DAY));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ------------------------------------------------------------------------
 * costopt_predict(fit costopt.trend_fit, at timestamptz, level float8)
 *   -> costopt.prediction (predicted, lower, upper)
 * ------------------------------------------------------------------------
 */

static double
fit_field(HeapTupleHeader fit, const char *name, bool *isnull)
{
	Datum		d = GetAttributeByName(fit, name, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

Datum
costopt_predict(PG_FUNCTION_ARGS)
{
	HeapTupleHeader fit;
	TimestampTz at;
	double		level;
	bool		isnull;
	bool		sd_null;
	double		slope_day;
	double		value_mean;
	double		residual_sd;
	double		sxx;
	double		n;
	double		dt;
	double		predicted;
	TimestampTz t_mean;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	fit = PG_GETARG_HEAPTUPLEHEADER(0);
	at = PG_GETARG_TIMESTAMPTZ(1);
	level = PG_ARGISNULL(2) ? 0.95 : PG_GETARG_FLOAT8(2);
	if (!costopt_interval_level_ok(level))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level must be between 0 and 1 (exclusive), not %g", level),
				 errhint("0.95 asks for a 95%% prediction interval.")));
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prediction time must be finite")));

	slope_day = fit_field(fit, "slope_per_day", &isnull);
	if (isnull)
		PG_RETURN_NULL();
	value_mean = fit_field(fit, "value_mean", &isnull);
	sxx = fit_field(fit, "t_sxx", &isnull);
	residual_sd = fit_field(fit, "residual_sd", &sd_null);
	n = (double) DatumGetInt64(GetAttributeByName(fit, "n", &isnull));
	t_mean = DatumGetTimestampTz(GetAttributeByName(fit, "t_mean", &isnull));
	if (isnull)
		PG_RETURN_NULL();

	/* predicting from the centre of the data avoids cancellation */
	dt = (double) (at - t_mean) / (double) USECS_PER_DAY;
	predicted = value_mean + slope_day * dt;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "costopt_predict: return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Float8GetDatum(predicted);
	if (!sd_null && n > 2.0 && sxx > 0.0)
	{
		double		se = residual_sd * sqrt(1.0 + 1.0 / n + dt * dt / sxx);
		double		q = costopt_t_quantile(0.5 + level / 2.0, n - 2.0);

		values[1] = Float8GetDatum(predicted - q * se);
		values[2] = Float8GetDatum(predicted + q * se);
	}
	else
		nulls[1] = nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
