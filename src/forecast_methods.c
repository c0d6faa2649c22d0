/*-------------------------------------------------------------------------
 *
 * forecast_methods.c
 *	  Daily forecasting methods.  Each forecasts h days after the first
 *	  t_end days of a series (day t_end is the first forecast day), so the
 *	  same code produces the real forecast (t_end = n) and the backtest
 *	  forecasts from earlier origins.
 *
 *	  seasonal_naive  each day repeats the same weekday of the last week.
 *	  linear          least-squares line through the last 28 days.
 *	  linear_dow      the same line plus one effect per weekday (28 days).
 *	  holt_winters    additive Holt-Winters with a damped trend and a
 *	                  weekly season; the smoothing parameters minimise the
 *	                  one-step squared error over a grid.
 *	  ensemble        mean of holt_winters, Holt-Winters fitted to the
 *	                  logarithm (a season proportional to the level, which
 *	                  follows sudden level shifts better) and seasonal
 *	                  naive.  Combining forecasts with different failure
 *	                  modes is the most reliable way known to lower the
 *	                  error of any single one.
 *
 * Holt-Winters is fitted once per series with the whole history; its
 * stored per-day states give every backtest origin's forecast without
 * refitting, so the parameters of a backtest forecast have seen later
 * days of the same history (the forecast itself has not).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "forecast_methods.h"
#include "stats_dist.h"

#define LINEAR_WINDOW 28
#define HW_STATE_LEN (2 + COSTOPT_SEASON)

static const char *const method_names[FORECAST_N_METHODS + 1] = {
	"seasonal_naive", "linear", "linear_dow", "holt_winters", "ensemble", "auto"
};

static const double hw_alphas[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9};
static const double hw_betas[] = {0.0, 0.01, 0.05, 0.1};
static const double hw_gammas[] = {0.01, 0.05, 0.1, 0.2, 0.4};
static const double hw_phis[] = {0.9, 0.98};

const char *
costopt_forecast_method_name(ForecastMethod m)
{
	return method_names[m];
}

bool
costopt_forecast_method_parse(const char *name, ForecastMethod *m)
{
	int			i;

	for (i = 0; i <= FORECAST_N_METHODS; i++)
	{
		if (strcmp(name, method_names[i]) == 0)
		{
			*m = (ForecastMethod) i;
			return true;
		}
	}
	return false;
}

int
costopt_forecast_min_days(ForecastMethod m)
{
	switch (m)
	{
		case FORECAST_LINEAR:
			return 1;
		case FORECAST_SEASONAL_NAIVE:
			return COSTOPT_SEASON;
		default:
			return 2 * COSTOPT_SEASON;
	}
}

/* ------------------------------------------------------------------------
 * Least squares
 * ------------------------------------------------------------------------
 */

/*
 * Solves the p x p system a x = b (row-major, destroyed) by Gaussian
 * elimination with partial pivoting.  A singular direction gets a zero
 * coefficient.
 */
static void
solve_system(double *a, double *b, int p, double *x)
{
	int			i;
	int			r;
	int			c;

	for (i = 0; i < p; i++)
	{
		int			piv = i;

		for (r = i + 1; r < p; r++)
			if (fabs(a[r * p + i]) > fabs(a[piv * p + i]))
				piv = r;
		if (piv != i)
		{
			for (c = 0; c < p; c++)
			{
				double		tmp = a[i * p + c];

				a[i * p + c] = a[piv * p + c];
				a[piv * p + c] = tmp;
			}
			{
				double		tmp = b[i];

				b[i] = b[piv];
				b[piv] = tmp;
			}
		}
		if (fabs(a[i * p + i]) < 1e-12)
			continue;
		for (r = i + 1; r < p; r++)
		{
			double		f = a[r * p + i] / a[i * p + i];

			for (c = i; c < p; c++)
				a[r * p + c] -= f * a[i * p + c];
			b[r] -= f * b[i];
		}
	}
	for (i = p - 1; i >= 0; i--)
	{
		double		s = b[i];

		if (fabs(a[i * p + i]) < 1e-12)
		{
			x[i] = 0.0;
			continue;
		}
		for (c = i + 1; c < p; c++)
			s -= a[i * p + c] * x[c];
		x[i] = s / a[i * p + i];
	}
}

/*
 * Regressors of day index t: intercept, centred time, and with weekday
 * effects one indicator per weekday but the last.
 */
static int
regressors(int t, double centre, bool dow, double *row)
{
	int			j;

	row[0] = 1.0;
	row[1] = t - centre;
	if (!dow)
		return 2;
	for (j = 0; j < COSTOPT_SEASON - 1; j++)
		row[2 + j] = (t % COSTOPT_SEASON == j) ? 1.0 : 0.0;
	return 2 + COSTOPT_SEASON - 1;
}

static void
forecast_regression(const double *y, int t_end, int h, bool dow, double *out)
{
	int			from = Max(0, t_end - LINEAR_WINDOW);
	int			m = t_end - from;
	double		centre = from + (m - 1) / 2.0;
	double		a[64];
	double		b[8];
	double		coef[8];
	double		row[8];
	int			p = 0;
	int			t;
	int			i;
	int			j;

	if (dow && m < 2 * COSTOPT_SEASON)
		dow = false;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	for (t = from; t < t_end; t++)
	{
		p = regressors(t, centre, dow, row);
		for (i = 0; i < p; i++)
		{
			b[i] += row[i] * y[t];
			for (j = 0; j < p; j++)
				a[i * p + j] += row[i] * row[j];
		}
	}
	solve_system(a, b, p, coef);
	for (i = 0; i < h; i++)
	{
		double		f = 0.0;

		regressors(t_end + i, centre, dow, row);
		for (j = 0; j < p; j++)
			f += coef[j] * row[j];
		out[i] = f;
	}
}

/*
 * The textbook prediction interval of the linear method (used where the
 * history is too short for empirical intervals).
 */
bool
costopt_forecast_linear_interval(const ForecastSeries *fs, int t_end, int h,
								 double level, double *lower, double *upper)
{
	int			from = Max(0, t_end - LINEAR_WINDOW);
	int			m = t_end - from;
	double		xbar = 0.0;
	double		ybar = 0.0;
	double		sxx = 0.0;
	double		sxy = 0.0;
	double		sse = 0.0;
	double		slope;
	double		s;
	double		q;
	int			t;
	int			k;

	if (m < 3)
		return false;
	for (t = from; t < t_end; t++)
	{
		xbar += t;
		ybar += fs->y[t];
	}
	xbar /= m;
	ybar /= m;
	for (t = from; t < t_end; t++)
	{
		sxx += (t - xbar) * (t - xbar);
		sxy += (t - xbar) * (fs->y[t] - ybar);
	}
	slope = sxy / sxx;
	for (t = from; t < t_end; t++)
	{
		double		r = fs->y[t] - ybar - slope * (t - xbar);

		sse += r * r;
	}
	s = sqrt(sse / (m - 2));
	q = costopt_t_quantile(0.5 + level / 2.0, m - 2);
	for (k = 0; k < h; k++)
	{
		double		x0 = t_end + k;
		double		f = ybar + slope * (x0 - xbar);
		double		se = s * sqrt(1.0 + 1.0 / m + (x0 - xbar) * (x0 - xbar) / sxx);

		lower[k] = f - q * se;
		upper[k] = f + q * se;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Holt-Winters
 * ------------------------------------------------------------------------
 */

/*
 * One pass of damped additive Holt-Winters over z[0..n-1]; returns the sum
 * of squared one-step errors and, when states is not NULL, stores the
 * state after every day.
 */
static double
hw_pass(const double *z, int n, double alpha, double beta, double gamma, double phi,
		double *states)
{
	double		level = 0.0;
	double		trend;
	double		season[COSTOPT_SEASON];
	double		sse = 0.0;
	int			t;

	for (t = 0; t < COSTOPT_SEASON; t++)
		level += z[t];
	level /= COSTOPT_SEASON;
	trend = 0.0;
	for (t = 0; t < COSTOPT_SEASON; t++)
		trend += z[t + COSTOPT_SEASON] - z[t];
	trend /= (double) (COSTOPT_SEASON * COSTOPT_SEASON);
	for (t = 0; t < COSTOPT_SEASON; t++)
		season[t] = z[t] - level;

	for (t = COSTOPT_SEASON; t < n; t++)
	{
		int			p = t % COSTOPT_SEASON;
		double		damped = phi * trend;
		double		err = z[t] - (level + damped + season[p]);
		double		new_level;

		sse += err * err;
		new_level = alpha * (z[t] - season[p]) + (1.0 - alpha) * (level + damped);
		trend = beta * (new_level - level) + (1.0 - beta) * damped;
		season[p] = gamma * (z[t] - new_level) + (1.0 - gamma) * season[p];
		level = new_level;
		if (states)
		{
			double	   *st = states + (size_t) t * HW_STATE_LEN;

			st[0] = level;
			st[1] = trend;
			memcpy(st + 2, season, sizeof(season));
		}
	}
	return sse;
}

static void
hw_fit(HoltWinters *hw, const double *y, int n, bool log_scale)
{
	double	   *z = palloc(sizeof(double) * n);
	double		best = -1.0;
	int			ia,
				ib,
				ig,
				ip;
	int			t;

	hw->valid = false;
	hw->log_scale = log_scale;
	hw->shift = 0.0;
	hw->n = n;
	hw->state = NULL;
	if (n < 2 * COSTOPT_SEASON)
		return;

	if (log_scale)
	{
		double		lo = y[0];
		double		mean_abs = 0.0;

		for (t = 0; t < n; t++)
		{
			lo = Min(lo, y[t]);
			mean_abs += fabs(y[t]);
		}
		mean_abs /= n;
		if (lo < 0.0 || mean_abs == 0.0)
			return;				/* a logarithm needs positive data */
		/* zero days (no spend on a weekend) need an offset */
		if (lo == 0.0)
			hw->shift = 0.05 * mean_abs;
		for (t = 0; t < n; t++)
			z[t] = log(y[t] + hw->shift);
	}
	else
		memcpy(z, y, sizeof(double) * n);

	for (ia = 0; ia < (int) lengthof(hw_alphas); ia++)
		for (ib = 0; ib < (int) lengthof(hw_betas); ib++)
			for (ig = 0; ig < (int) lengthof(hw_gammas); ig++)
				for (ip = 0; ip < (int) lengthof(hw_phis); ip++)
				{
					double		sse = hw_pass(z, n, hw_alphas[ia], hw_betas[ib],
											  hw_gammas[ig], hw_phis[ip], NULL);

					if (best < 0.0 || sse < best)
					{
						best = sse;
						hw->alpha = hw_alphas[ia];
						hw->beta = hw_betas[ib];
						hw->gamma = hw_gammas[ig];
						hw->phi = hw_phis[ip];
					}
				}
	hw->state = palloc(sizeof(double) * HW_STATE_LEN * n);
	hw_pass(z, n, hw->alpha, hw->beta, hw->gamma, hw->phi, hw->state);
	hw->valid = true;
	pfree(z);
}

static void
hw_forecast(const HoltWinters *hw, int t_end, int h, double *out)
{
	const double *st = hw->state + (size_t) (t_end - 1) * HW_STATE_LEN;
	double		damp = 0.0;
	double		phik = 1.0;
	int			k;

	Assert(hw->valid && t_end > COSTOPT_SEASON && t_end <= hw->n);
	for (k = 1; k <= h; k++)
	{
		double		f;

		phik *= hw->phi;
		damp += phik;
		f = st[0] + damp * st[1] + st[2 + (t_end - 1 + k) % COSTOPT_SEASON];
		out[k - 1] = hw->log_scale ? exp(f) - hw->shift : f;
	}
}

/* ------------------------------------------------------------------------
 * The methods
 * ------------------------------------------------------------------------
 */

/*
 * Fits what the methods share.  Holt-Winters is fitted only if needed
 * (need_hw) and possible.
 */
void
costopt_forecast_prepare(ForecastSeries *fs, const double *y, int n, bool need_hw)
{
	int			t;

	fs->y = y;
	fs->n = n;
	fs->nonnegative = true;
	for (t = 0; t < n; t++)
		if (y[t] < 0.0)
			fs->nonnegative = false;
	fs->hw.valid = false;
	fs->hw_log.valid = false;
	if (need_hw)
	{
		hw_fit(&fs->hw, y, n, false);
		hw_fit(&fs->hw_log, y, n, true);
	}
}

static void
seasonal_naive(const double *y, int t_end, int h, double *out)
{
	int			k;

	for (k = 0; k < h; k++)
		out[k] = y[t_end - COSTOPT_SEASON + k % COSTOPT_SEASON];
}

/*
 * Forecast of days t_end .. t_end + h - 1 from the first t_end days, which
 * must be at least costopt_forecast_min_days(m) (and, for the Holt-Winters
 * methods, more than one season).
 */
void
costopt_forecast_from(const ForecastSeries *fs, ForecastMethod m, int t_end, int h,
					  double *out)
{
	int			k;

	switch (m)
	{
		case FORECAST_SEASONAL_NAIVE:
			seasonal_naive(fs->y, t_end, h, out);
			break;
		case FORECAST_LINEAR:
			forecast_regression(fs->y, t_end, h, false, out);
			break;
		case FORECAST_LINEAR_DOW:
			forecast_regression(fs->y, t_end, h, true, out);
			break;
		case FORECAST_HOLT_WINTERS:
			hw_forecast(&fs->hw, t_end, h, out);
			break;
		case FORECAST_ENSEMBLE:
			{
				double	   *part = palloc(sizeof(double) * h);
				int			parts = 2;

				hw_forecast(&fs->hw, t_end, h, out);
				seasonal_naive(fs->y, t_end, h, part);
				for (k = 0; k < h; k++)
					out[k] += part[k];
				if (fs->hw_log.valid)
				{
					hw_forecast(&fs->hw_log, t_end, h, part);
					for (k = 0; k < h; k++)
						out[k] += part[k];
					parts++;
				}
				for (k = 0; k < h; k++)
					out[k] /= parts;
				pfree(part);
			}
			break;
		default:
			elog(ERROR, "unexpected forecast method %d", (int) m);
	}
	if (fs->nonnegative)
		for (k = 0; k < h; k++)
			out[k] = Max(out[k], 0.0);
}
