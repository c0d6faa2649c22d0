/*-------------------------------------------------------------------------
 *
 * forecast.c
 *	  costopt.forecast_summary(): forecast of a daily series with
 *	  prediction intervals, the method chosen by backtest when asked for
 *	  'auto', and the diagnostics stored with each forecast.  The SQL
 *	  functions costopt_forecast_series(), costopt_forecast_series_total(),
 *	  costopt_forecast() and costopt_run_forecasts() are built on it.
 *
 * Method choice ('auto'): every method forecasts the next min(h, 7) days
 * from up to 40 weekly origins in the history (each seeing only the days
 * before it); the method with the smallest weighted absolute percentage
 * error of those period totals (sum |actual - forecast| / sum |actual|)
 * wins, except that the ensemble is kept unless the winner's error is at
 * least 10% lower than the ensemble's.  1 - that error is reported as the
 * forecast's accuracy.
 *
 * Prediction intervals are empirical: the chosen method also forecasts
 * from every day of the last year of history, its errors on each horizon
 * day (and on the period total), divided by the level of the forecast
 * they belong to, give quantiles that are scaled by the level of the real
 * forecast.  They therefore carry the series' own error distribution:
 * skewed, heavy tailed, wider after level shifts.  Too short a history
 * falls back to the textbook interval of a straight line.
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
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "forecast_methods.h"
#include "series_input.h"
#include "stats_dist.h"

#define MAX_HORIZON 365
#define MAX_HISTORY 3660		/* days used at most (ten years) */
#define MIN_TRAIN 28			/* fewest days a backtest origin sees */
#define SELECT_HORIZON 7
#define SELECT_ORIGINS 40
#define ENSEMBLE_MARGIN 0.9		/* a single method must beat the ensemble by 10% */
#define INTERVAL_ORIGINS 365
#define MIN_INTERVAL_ERRORS 10
#define SEASONALITY_THRESHOLD 0.4
#define TREND_STABLE_CHANGE 0.05

PG_FUNCTION_INFO_V1(costopt_forecast_summary);

/*
 * The series as consecutive days: NULLs skipped, sorted, duplicate days
 * rejected, missing days interpolated linearly.  Returns the number of
 * days (0 when there is no value) and the first day.
 */
static int
read_series(ArrayType *days_arr, ArrayType *values_arr, double **y_out, DateADT *first_day)
{
	SeriesPoint *pts;
	int			npts;
	int			span;
	double	   *y;
	int			i;
	int			filled = 0;

	npts = costopt_series_read(days_arr, DATEOID, "day", values_arr, &pts);
	if (npts == 0)
		return 0;
	for (i = 1; i < npts; i++)
		if (pts[i].key == pts[i - 1].key)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("day %s appears more than once in the forecast input",
							DatumGetCString(DirectFunctionCall1(date_out,
																DateADTGetDatum((DateADT) pts[i].key)))),
					 errhint("Sum the values per day first.")));

	/* keep the most recent MAX_HISTORY days */
	{
		int			start = 0;

		while (pts[npts - 1].key - pts[start].key >= MAX_HISTORY)
			start++;
		pts += start;
		npts -= start;
	}

	span = pts[npts - 1].key - pts[0].key + 1;
	y = palloc(sizeof(double) * span);
	for (i = 0; i < npts; i++)
	{
		int			at = pts[i].key - pts[0].key;

		y[at] = pts[i].value;
		if (i > 0)
		{
			int			prev = pts[i - 1].key - pts[0].key;
			int			k;

			for (k = prev + 1; k < at; k++)
			{
				y[k] = y[prev] + (y[at] - y[prev]) * (k - prev) / (double) (at - prev);
				filled++;
			}
		}
	}
	if (filled > 0)
		ereport(NOTICE,
				(errmsg("%d missing day%s in the forecast input were interpolated",
						filled, filled == 1 ? "" : "s"),
				 errhint("Pass 0 for days without spend.")));
	*first_day = (DateADT) pts[0].key;
	*y_out = y;
	return span;
}

/* Weighted absolute percentage error of min(h, 7)-day totals, or -1. */
static double
backtest_wape(const ForecastSeries *fs, ForecastMethod m, int h)
{
	int			hs = Min(h, SELECT_HORIZON);
	double		f[SELECT_HORIZON];
	double		err = 0.0;
	double		tot = 0.0;
	int			origins = 0;
	int			j;

	for (j = 0; j < SELECT_ORIGINS; j++)
	{
		int			t_end = fs->n - hs - COSTOPT_SEASON * j;
		double		a = 0.0;
		double		p = 0.0;
		int			k;

		if (t_end < MIN_TRAIN || t_end < costopt_forecast_min_days(m))
			break;
		costopt_forecast_from(fs, m, t_end, hs, f);
		for (k = 0; k < hs; k++)
		{
			a += fs->y[t_end + k];
			p += f[k];
		}
		err += fabs(a - p);
		tot += fabs(a);
		origins++;
	}
	if (origins < 3)
		return -1.0;
	if (tot == 0.0)
		return err == 0.0 ? 0.0 : 1.0;
	return err / tot;
}

/*
 * The level a forecast's errors are measured against: the mean absolute
 * forecast, or for a zero forecast the mean absolute value of the last
 * week before t_end (never exactly zero).
 */
static double
forecast_level(const double *f, int h, const double *y, int t_end)
{
	double		level = 0.0;
	int			from = Max(0, t_end - COSTOPT_SEASON);
	int			k;

	for (k = 0; k < h; k++)
		level += fabs(f[k]);
	if (level > 0.0)
		return level / h;
	for (k = from; k < t_end; k++)
		level += fabs(y[k]);
	return Max(level / Max(t_end - from, 1), 1e-12);
}

static bool
method_usable(const ForecastSeries *fs, ForecastMethod m)
{
	if (fs->n < costopt_forecast_min_days(m))
		return false;
	if ((m == FORECAST_HOLT_WINTERS || m == FORECAST_ENSEMBLE) && !fs->hw.valid)
		return false;
	return true;
}

/*
 * Empirical interval quantiles of method m: per horizon day and for the
 * total, as multiples of the forecast level.  Returns false when the
 * history has too few origins.
 */
static bool
interval_quantiles(const ForecastSeries *fs, ForecastMethod m, int h, double level,
				   double *q_lo, double *q_hi, double *qt_lo, double *qt_hi)
{
	int			hb = Min(h, fs->n - MIN_TRAIN - MIN_INTERVAL_ERRORS);
	int			first;
	int			last;
	int			norigins;
	double	  **errs;
	double	   *terrs;
	double	   *f;
	double		plo = (1.0 - level) / 2.0;
	double		phi = (1.0 + level) / 2.0;
	int			o;
	int			k;

	if (hb < 1)
		return false;
	last = fs->n - hb;
	first = Max(Max(MIN_TRAIN, costopt_forecast_min_days(m)), last - INTERVAL_ORIGINS + 1);
	norigins = last - first + 1;
	if (norigins < MIN_INTERVAL_ERRORS)
		return false;

	errs = palloc(sizeof(double *) * hb);
	for (k = 0; k < hb; k++)
		errs[k] = palloc(sizeof(double) * norigins);
	terrs = palloc(sizeof(double) * norigins);
	f = palloc(sizeof(double) * hb);

	for (o = 0; o < norigins; o++)
	{
		int			t_end = first + o;
		double		scale;
		double		a = 0.0;
		double		p = 0.0;

		costopt_forecast_from(fs, m, t_end, hb, f);
		scale = forecast_level(f, hb, fs->y, t_end);
		for (k = 0; k < hb; k++)
		{
			errs[k][o] = (fs->y[t_end + k] - f[k]) / scale;
			a += fs->y[t_end + k];
			p += f[k];
		}
		terrs[o] = (a - p) / (scale * hb);
	}

	for (k = 0; k < h; k++)
	{
		if (k < hb)
		{
			q_lo[k] = costopt_sample_quantile(errs[k], norigins, plo);
			q_hi[k] = costopt_sample_quantile(errs[k], norigins, phi);
		}
		else
		{
			/* beyond the backtest horizon: widen like a random walk */
			double		grow = sqrt((k + 1.0) / hb);

			q_lo[k] = q_lo[hb - 1] * grow;
			q_hi[k] = q_hi[hb - 1] * grow;
		}
	}
	*qt_lo = costopt_sample_quantile(terrs, norigins, plo) * sqrt((double) h / hb);
	*qt_hi = costopt_sample_quantile(terrs, norigins, phi) * sqrt((double) h / hb);
	return true;
}

/* Sum of squared deviations from the mean of v[0..n-1]. */
static double
sum_squares(const double *v, int n)
{
	double		mean = 0.0;
	double		ss = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		mean += v[i];
	mean /= n;
	for (i = 0; i < n; i++)
		ss += (v[i] - mean) * (v[i] - mean);
	return ss;
}

/*
 * Strength of the weekly season over the last 8 weeks, 0..1: how much of
 * the detrended variation the weekday means explain.
 */
static double
seasonality_strength(const double *y, int n)
{
	int			from = Max(0, n - 8 * COSTOPT_SEASON);
	int			lo = from + 3;
	int			hi = n - 3;
	double	   *detr;
	double	   *resid;
	double		phase_sum[COSTOPT_SEASON] = {0};
	int			phase_n[COSTOPT_SEASON] = {0};
	double		var_r;
	double		var_sr;
	int			t;

	if (n - from < 3 * COSTOPT_SEASON)
		return 0.0;
	detr = palloc(sizeof(double) * (hi - lo));
	resid = palloc(sizeof(double) * (hi - lo));
	for (t = lo; t < hi; t++)
	{
		double		ma = 0.0;
		int			k;

		for (k = -3; k <= 3; k++)
			ma += y[t + k];
		detr[t - lo] = y[t] - ma / COSTOPT_SEASON;
		phase_sum[t % COSTOPT_SEASON] += detr[t - lo];
		phase_n[t % COSTOPT_SEASON]++;
	}
	for (t = lo; t < hi; t++)
	{
		int			p = t % COSTOPT_SEASON;

		resid[t - lo] = detr[t - lo] - phase_sum[p] / phase_n[p];
	}
	var_r = sum_squares(resid, hi - lo);
	var_sr = sum_squares(detr, hi - lo);
	pfree(detr);
	pfree(resid);
	if (var_sr == 0.0)
		return 0.0;
	return Max(0.0, 1.0 - var_r / var_sr);
}

/*
 * Slope per day and r^2 of the trend over the last 28 days, fitted to the
 * centred 7-day moving average so the weekly cycle does not tilt it (with
 * fewer than 7 days, to the values themselves).  mean is the level.
 */
static void
recent_trend(const double *y, int n, double *slope, double *r2, double *mean)
{
	int			from = Max(0, n - 28);
	bool		smooth = n - from >= COSTOPT_SEASON;
	int			lo = smooth ? from + 3 : from;
	int			hi = smooth ? n - 3 : n;
	int			m = hi - lo;
	double		xbar = 0.0;
	double		ybar = 0.0;
	double		sxx = 0.0;
	double		syy = 0.0;
	double		sxy = 0.0;
	double	   *v = palloc(sizeof(double) * Max(m, 1));
	int			t;

	for (t = lo; t < hi; t++)
	{
		double		a = 0.0;
		int			k;

		if (smooth)
		{
			for (k = -3; k <= 3; k++)
				a += y[t + k];
			a /= COSTOPT_SEASON;
		}
		else
			a = y[t];
		v[t - lo] = a;
		xbar += t;
		ybar += a;
	}
	xbar /= m;
	ybar /= m;
	for (t = lo; t < hi; t++)
	{
		sxx += (t - xbar) * (t - xbar);
		syy += (v[t - lo] - ybar) * (v[t - lo] - ybar);
		sxy += (t - xbar) * (v[t - lo] - ybar);
	}
	*mean = ybar;
	*slope = sxx > 0.0 ? sxy / sxx : 0.0;
	*r2 = (sxx > 0.0 && syy > 0.0) ? sxy * sxy / (sxx * syy) : 0.0;
	pfree(v);
}

static Datum
float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_array(d, n, FLOAT8OID, sizeof(float8),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * costopt.forecast_summary(day date[], value float8[], horizon_days int,
 *                          method text, level float8)
 * RETURNS costopt.forecast_result
 *
 * NULL when the input has no value.
 */
Datum
costopt_forecast_summary(PG_FUNCTION_ARGS)
{
	int			horizon;
	char	   *method_name;
	double		level;
	ForecastMethod method;
	MemoryContext work;
	MemoryContext old;
	double	   *y;
	DateADT		first_day;
	int			n;
	ForecastSeries fs;
	double		accuracy = -1.0;
	double	   *pred;
	double	   *lower;
	double	   *upper;
	double		total;
	double		total_lo = 0.0;
	double		total_hi = 0.0;
	bool		have_interval;
	double		q_lo_t;
	double		q_hi_t;
	double		scale;
	double		slope;
	double		r2;
	double		mean;
	double		strength;
	TupleDesc	tupdesc;
	Datum		values[13];
	bool		nulls[13] = {0};
	HeapTuple	tuple;
	int			k;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("horizon_days, method and level must not be null")));
	horizon = PG_GETARG_INT32(2);
	method_name = text_to_cstring(PG_GETARG_TEXT_PP(3));
	level = PG_GETARG_FLOAT8(4);
	if (horizon < 1 || horizon > MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon_days must be between 1 and %d, not %d", MAX_HORIZON, horizon)));
	if (!costopt_interval_level_ok(level))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level must be between 0 and 1 (exclusive), not %g", level),
				 errhint("0.95 asks for 95%% prediction intervals.")));
	if (!costopt_forecast_method_parse(method_name, &method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown forecast method \"%s\"", method_name),
				 errhint("Use auto, ensemble, holt_winters, linear_dow, linear or seasonal_naive.")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "costopt.forecast_summary: return type must be a row type");

	work = AllocSetContextCreate(CurrentMemoryContext, "costopt forecast",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	n = read_series(PG_GETARG_ARRAYTYPE_P(0), PG_GETARG_ARRAYTYPE_P(1), &y, &first_day);
	if (n == 0)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
		ereport(NOTICE,
				(errmsg("no history to forecast from"),
				 errdetail("The input has no day with a value.")));
		PG_RETURN_NULL();
	}

	if (n < 2 * COSTOPT_SEASON && method != FORECAST_LINEAR)
	{
		ereport(NOTICE,
				(errmsg("only %d day%s of history: forecasting with a linear trend instead of %s",
						n, n == 1 ? "" : "s", method_name),
				 errdetail("Seasonal methods need at least %d days.", 2 * COSTOPT_SEASON)));
		method = FORECAST_LINEAR;
	}
	costopt_forecast_prepare(&fs, y, n, method != FORECAST_LINEAR &&
							 method != FORECAST_SEASONAL_NAIVE &&
							 method != FORECAST_LINEAR_DOW);

	if (method == FORECAST_AUTO)
	{
		double		wape[FORECAST_N_METHODS];
		double		best = -1.0;
		int			m;

		for (m = 0; m < FORECAST_N_METHODS; m++)
		{
			wape[m] = method_usable(&fs, (ForecastMethod) m) ?
				backtest_wape(&fs, (ForecastMethod) m, horizon) : -1.0;
			if (wape[m] >= 0.0 && (best < 0.0 || wape[m] < best))
			{
				best = wape[m];
				method = (ForecastMethod) m;
			}
		}

		/*
		 * The ensemble stays unless a single method is clearly better:
		 * among methods whose backtest errors are close, which one wins is
		 * mostly noise, and the combination is the more reliable forecast.
		 */
		if (fs.hw.valid)
		{
			double		ens = wape[FORECAST_ENSEMBLE];

			if (method == FORECAST_AUTO || (ens >= 0.0 && best > ENSEMBLE_MARGIN * ens))
			{
				method = FORECAST_ENSEMBLE;
				best = ens;
			}
		}
		else if (method == FORECAST_AUTO)
			method = FORECAST_LINEAR_DOW;
		accuracy = best;
	}
	else if (!method_usable(&fs, method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method %s cannot be fitted to this series", method_name),
				 errdetail("A logarithmic fit needs values that are not negative.")));
	else
		accuracy = backtest_wape(&fs, method, horizon);

	pred = palloc(sizeof(double) * horizon);
	lower = palloc(sizeof(double) * horizon);
	upper = palloc(sizeof(double) * horizon);
	costopt_forecast_from(&fs, method, n, horizon, pred);
	total = 0.0;
	for (k = 0; k < horizon; k++)
		total += pred[k];
	scale = forecast_level(pred, horizon, y, n);

	have_interval = interval_quantiles(&fs, method, horizon, level, lower, upper,
									   &q_lo_t, &q_hi_t);
	if (have_interval)
	{
		for (k = 0; k < horizon; k++)
		{
			double		lo = pred[k] + lower[k] * scale;
			double		hi = pred[k] + upper[k] * scale;

			lower[k] = Min(lo, pred[k]);
			upper[k] = Max(hi, pred[k]);
		}
		total_lo = Min(total + q_lo_t * scale * horizon, total);
		total_hi = Max(total + q_hi_t * scale * horizon, total);
	}
	else if (method == FORECAST_LINEAR &&
			 costopt_forecast_linear_interval(&fs, n, horizon, level, lower, upper))
	{
		have_interval = true;
		for (k = 0; k < horizon; k++)
		{
			total_lo += lower[k];
			total_hi += upper[k];
		}
	}
	if (have_interval)
	{
		/* clipped predictions must stay inside their intervals */
		for (k = 0; k < horizon; k++)
		{
			lower[k] = Min(lower[k], pred[k]);
			upper[k] = Max(upper[k], pred[k]);
			if (fs.nonnegative)
				lower[k] = Max(lower[k], 0.0);
		}
		total_lo = Min(total_lo, total);
		total_hi = Max(total_hi, total);
		if (fs.nonnegative)
			total_lo = Max(total_lo, 0.0);
	}

	recent_trend(y, n, &slope, &r2, &mean);
	strength = seasonality_strength(y, n);

	MemoryContextSwitchTo(old);
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = CStringGetTextDatum(costopt_forecast_method_name(method));
	values[1] = DateADTGetDatum(first_day + n);
	values[2] = Float8GetDatum(total);
	values[3] = Float8GetDatum(total_lo);
	values[4] = Float8GetDatum(total_hi);
	values[5] = float8_array(pred, horizon);
	values[6] = float8_array(lower, horizon);
	values[7] = float8_array(upper, horizon);
	nulls[3] = nulls[4] = nulls[6] = nulls[7] = !have_interval;
	values[8] = Float8GetDatum(Max(0.0, 1.0 - accuracy));
	nulls[8] = accuracy < 0.0;
	values[9] = Int32GetDatum(n);
	values[10] = Float8GetDatum(strength);
	values[11] = CStringGetTextDatum(n < 2 ? "stable" :
									 slope * Min(n, 28) > TREND_STABLE_CHANGE * fabs(mean) ? "increasing" :
									 slope * Min(n, 28) < -TREND_STABLE_CHANGE * fabs(mean) ? "decreasing" :
									 "stable");
	values[12] = Float8GetDatum(r2);
	tuple = heap_form_tuple(tupdesc, values, nulls);
	MemoryContextDelete(work);
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}
