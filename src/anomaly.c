/*-------------------------------------------------------------------------
 *
 * anomaly.c
 *	  costopt_anomaly_scan(): causal anomaly detection on any time series.
 *
 * Every point is scored against what came before it only, so a scan gives
 * the same decision for a point whether or not later points exist.
 *
 *	  zscore    (value - mean) / sd of the previous window_size points: the
 *	            classic three-sigma rule.
 *	  robust    the same with median and scaled median absolute deviation,
 *	            which a past spike cannot inflate.
 *	  seasonal  the expected value is the median of the same phase (time of
 *	            day, or weekday for daily data) in the previous seasons; the
 *	            score divides the deviation by the robust spread of the
 *	            recent deviations from that seasonal expectation.
 *	  adaptive  the robust score, alarming only when it is also extreme
 *	            compared with the series' own recent scores (a noisy series
 *	            raises its own bar; a single huge anomaly counts no more
 *	            than a critical one).
 *
 * With suppress (the default) an alarm is not repeated for the next
 * window_size points unless the deviation grows beyond the alarmed one or
 * goes the other way: one alarm per incident, which is what a person paged
 * by it wants.
 *
 * The default window and the season length follow the median spacing of
 * the timestamps, a property of how the series is sampled; a series that
 * changes its sampling rate should pass window_size.
 *
 * The window is one day of points for sub-daily data, four weeks for daily
 * data and twelve points otherwise.  A point is scored once enough history
 * exists (a quarter window, at least 8 points); before that nothing is
 * flagged, so short series never produce false alarms.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "series_input.h"
#include "stats_dist.h"

#define DAY_SECONDS 86400.0
#define SEASONS_BACK 7			/* seasons the seasonal median looks at */
#define MIN_SCORED 8
#define ADAPTIVE_QUANTILE 0.99
#define ADAPTIVE_FACTOR 1.2
#define ADAPTIVE_SPAN 10		/* windows of past scores the bar looks at */

PG_FUNCTION_INFO_V1(costopt_anomaly_scan);

typedef enum AnomalyMethod
{
	ANOMALY_ZSCORE,
	ANOMALY_ROBUST,
	ANOMALY_SEASONAL,
	ANOMALY_ADAPTIVE
} AnomalyMethod;

/* Median of n values (the buffer is reordered). */
static double
median_of(double *v, int n)
{
	return costopt_sample_quantile(v, n, 0.5);
}

/*
 * Robust centre and spread of v[0..n-1]: median and 1.4826 * MAD; when
 * more than half the values are equal the MAD is zero, and the mean
 * absolute deviation (scaled to the normal) is used instead.  work must
 * hold n values.
 */
static void
robust_location(const double *v, int n, double *work, double *centre, double *spread)
{
	double		med;
	double		mad;
	double		meanabs = 0.0;
	int			i;

	memcpy(work, v, sizeof(double) * n);
	med = median_of(work, n);
	for (i = 0; i < n; i++)
	{
		work[i] = fabs(v[i] - med);
		meanabs += work[i];
	}
	mad = median_of(work, n);
	*centre = med;
	*spread = mad > 0.0 ? 1.4826 * mad : 1.2533 * meanabs / n;
}

static double
score_of(double deviation, double spread)
{
	if (spread > 0.0)
		return deviation / spread;
	if (deviation == 0.0)
		return 0.0;
	return deviation > 0.0 ? get_float8_infinity() : -get_float8_infinity();
}

static const char *
severity_of(double z, double threshold)
{
	double		a = fabs(z);

	if (a >= 2.0 * threshold)
		return "critical";
	if (a >= threshold + 2.0)
		return "high";
	if (a >= threshold + 1.0)
		return "medium";
	return "low";
}

/* Median spacing of the points, in seconds (at least one second). */
static double
typical_spacing(const SeriesPoint *p, int n)
{
	double	   *gaps;
	int			m = 0;
	int			i;
	double		med;

	if (n < 2)
		return DAY_SECONDS;
	gaps = palloc(sizeof(double) * (n - 1));
	for (i = 1; i < n; i++)
		if (p[i].key > p[i - 1].key)
			gaps[m++] = (double) (p[i].key - p[i - 1].key) / USECS_PER_SEC;
	med = m > 0 ? median_of(gaps, m) : DAY_SECONDS;
	pfree(gaps);
	return Max(med, 1.0);
}

/*
 * costopt_anomaly_scan(ts timestamptz[], value float8[], method text,
 *                      threshold float8, window_size int, suppress boolean)
 * RETURNS TABLE (ts, value, expected, z, is_anomaly, severity, direction)
 */
Datum
costopt_anomaly_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *ts_arr;
	ArrayType  *val_arr;
	char	   *method_name;
	AnomalyMethod method;
	double		threshold;
	int			window;
	bool		suppress;
	SeriesPoint *pts;
	int			n;
	double		spacing;
	double		period_secs;
	int			min_history;
	double	   *hist;			/* the window's values or deviations */
	double	   *work;
	double	   *score_work = NULL;
	double	   *resid = NULL;	/* seasonal: deviations from the phase median */
	double	   *scores = NULL;	/* adaptive: past |z| */
	int			nscores = 0;
	int			last_alarm = -1;
	double		last_alarm_z = 0.0;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		/* no series: no rows */
		InitMaterializedSRF(fcinfo, 0);
		return (Datum) 0;
	}
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("method, threshold and suppress must not be null")));
	ts_arr = PG_GETARG_ARRAYTYPE_P(0);
	val_arr = PG_GETARG_ARRAYTYPE_P(1);
	method_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	threshold = PG_GETARG_FLOAT8(3);
	suppress = PG_GETARG_BOOL(5);

	if (strcmp(method_name, "zscore") == 0)
		method = ANOMALY_ZSCORE;
	else if (strcmp(method_name, "robust") == 0)
		method = ANOMALY_ROBUST;
	else if (strcmp(method_name, "seasonal") == 0)
		method = ANOMALY_SEASONAL;
	else if (strcmp(method_name, "adaptive") == 0)
		method = ANOMALY_ADAPTIVE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown anomaly detection method \"%s\"", method_name),
				 errhint("Use zscore, robust, seasonal or adaptive.")));
	if (!(threshold > 0.0) || isinf(threshold))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be a positive number, not %g", threshold),
				 errhint("3 flags points more than three standard deviations from normal.")));

	n = costopt_series_read(ts_arr, TIMESTAMPTZOID, "ts", val_arr, &pts);

	spacing = typical_spacing(pts, n);
	if (PG_ARGISNULL(4))
	{
		if (spacing < DAY_SECONDS * 0.99)
			window = (int) rint(DAY_SECONDS / spacing);
		else if (spacing < DAY_SECONDS * 1.01)
			window = 28;
		else
			window = 12;
		window = Max(window, MIN_SCORED);
	}
	else
	{
		window = PG_GETARG_INT32(4);
		if (window < 2 || window > 100000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window_size must be between 2 and 100000, not %d", window)));
	}
	min_history = Min(window, Max(MIN_SCORED, window / 4));
	/* the seasonal phase: a day for sub-daily data, a week otherwise */
	period_secs = spacing < DAY_SECONDS * 0.99 ? DAY_SECONDS : 7 * DAY_SECONDS;
	if (n > 0 && n < min_history + 1)
		ereport(NOTICE,
				(errmsg("only %d point%s: at least %d are needed before any can be scored",
						n, n == 1 ? "" : "s", min_history + 1),
				 errdetail("No point is flagged.")));

	InitMaterializedSRF(fcinfo, 0);
	hist = palloc(sizeof(double) * (Max(window, SEASONS_BACK) + 1));
	work = palloc(sizeof(double) * (Max(window, SEASONS_BACK) + 1));
	if (method == ANOMALY_SEASONAL)
		resid = palloc(sizeof(double) * Max(n, 1));
	if (method == ANOMALY_ADAPTIVE)
	{
		scores = palloc(sizeof(double) * Max(n, 1));
		score_work = palloc(sizeof(double) * ((Size) ADAPTIVE_SPAN * window + 1));
	}

	for (i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};
		double		x = pts[i].value;
		int			from = Max(0, i - window);
		int			have = i - from;
		bool		scored = false;
		double		expected = 0.0;
		double		z = 0.0;
		bool		alarm = false;

		/* a long series with a wide window is quadratic: stay cancellable */
		CHECK_FOR_INTERRUPTS();

		if (method == ANOMALY_ZSCORE && have >= min_history)
		{
			double		mean = 0.0;
			double		ss = 0.0;
			int			k;

			for (k = from; k < i; k++)
				mean += pts[k].value;
			mean /= have;
			for (k = from; k < i; k++)
				ss += (pts[k].value - mean) * (pts[k].value - mean);
			expected = mean;
			z = score_of(x - mean, sqrt(ss / (have - 1)));
			scored = true;
		}
		else if ((method == ANOMALY_ROBUST || method == ANOMALY_ADAPTIVE) &&
				 have >= min_history)
		{
			double		spread;
			int			k;

			for (k = from; k < i; k++)
				hist[k - from] = pts[k].value;
			robust_location(hist, have, work, &expected, &spread);
			z = score_of(x - expected, spread);
			scored = true;
		}
		else if (method == ANOMALY_SEASONAL)
		{
			/* the same phase in up to SEASONS_BACK previous seasons */
			int64		period_us = (int64) (period_secs * USECS_PER_SEC);
			int64		tol = (int64) (spacing * USECS_PER_SEC / 2);
			int			found = 0;
			int			s;
			int			k = i - 1;

			for (s = 1; s <= SEASONS_BACK; s++)
			{
				TimestampTz target = pts[i].key - s * period_us;

				while (k >= 0 && pts[k].key > target + tol)
					k--;
				if (k < 0)
					break;
				if (pts[k].key >= target - tol)
					work[found++] = pts[k].value;
			}
			resid[i] = get_float8_nan();
			if (found >= 2)
			{
				int			m = 0;
				double		centre;
				double		spread;

				expected = median_of(work, found);
				resid[i] = x - expected;
				for (k = from; k < i; k++)
					if (!isnan(resid[k]))
						hist[m++] = resid[k];
				if (m >= min_history)
				{
					robust_location(hist, m, work, &centre, &spread);
					z = score_of(resid[i] - centre, spread);
					scored = true;
				}
			}
		}

		if (scored)
		{
			alarm = fabs(z) >= threshold;
			if (method == ANOMALY_ADAPTIVE)
			{
				double		bar = threshold;

				if (nscores >= window)
				{
					int			lo = Max(0, nscores - ADAPTIVE_SPAN * window);

					memcpy(score_work, scores + lo, sizeof(double) * (nscores - lo));
					bar = Max(bar, ADAPTIVE_FACTOR *
							  costopt_sample_quantile(score_work, nscores - lo,
													  ADAPTIVE_QUANTILE));
				}
				alarm = fabs(z) >= bar;
				/*
				 * The bar learns from every score, but one extreme point
				 * counts no more than a critical one, so a single huge
				 * anomaly cannot blind the detector for long.
				 */
				scores[nscores++] = Min(fabs(z), 2.0 * threshold);
			}
			if (alarm && suppress && last_alarm >= 0 && i - last_alarm <= window &&
				fabs(z) <= fabs(last_alarm_z) &&
				((z > 0) == (last_alarm_z > 0) || fabs(z) < 2.0 * threshold))
				alarm = false;
			if (alarm)
			{
				last_alarm = i;
				last_alarm_z = z;
			}
		}

		values[0] = TimestampTzGetDatum(pts[i].key);
		values[1] = Float8GetDatum(x);
		if (scored)
		{
			values[2] = Float8GetDatum(expected);
			values[3] = Float8GetDatum(z);
		}
		else
			nulls[2] = nulls[3] = true;
		values[4] = BoolGetDatum(alarm);
		if (alarm)
		{
			values[5] = CStringGetTextDatum(severity_of(z, threshold));
			values[6] = CStringGetTextDatum(z > 0 ? "spike" : "drop");
		}
		else
			nulls[5] = nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
