/*-------------------------------------------------------------------------
 *
 * stats_dist.c
 *	  Quantiles of the normal and Student t distributions, and empirical
 *	  quantiles of a sample.
 *
 * The t distribution function is written through the regularised
 * incomplete beta function, evaluated by its continued fraction (modified
 * Lentz iteration); quantiles are found by bisection on the distribution
 * function, which is monotone, so the search cannot diverge; it stops at
 * a relative width of 1e-15, so quantiles near zero are exact too, and
 * every caller evaluates a handful of quantiles per call, so speed is not
 * a concern here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "stats_dist.h"

/* Continued fraction of the incomplete beta function (x < (a+1)/(a+b+2)). */
static double
beta_continued_fraction(double a, double b, double x)
{
	const double tiny = 1e-300;
	double		qab = a + b;
	double		qap = a + 1.0;
	double		qam = a - 1.0;
	double		c = 1.0;
	double		d = 1.0 - qab * x / qap;
	double		h;
	int			m;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (m = 1; m <= 300; m++)
	{
		int			m2 = 2 * m;
		double		aa;
		double		delta;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		h *= d * c;

		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		delta = d * c;
		h *= delta;
		if (fabs(delta - 1.0) < 1e-15)
			break;
	}
	return h;
}

/* Regularised incomplete beta function I_x(a, b). */
static double
incomplete_beta(double a, double b, double x)
{
	double		front;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) +
				a * log(x) + b * log1p(-x));
	if (x < (a + 1.0) / (a + b + 2.0))
		return front * beta_continued_fraction(a, b, x) / a;
	return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double
t_cdf(double t, double df)
{
	double		tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));

	return t >= 0 ? 1.0 - tail : tail;
}

/* P(Z <= z) for the standard normal distribution. */
static double
normal_cdf(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

/* Bisection for the p-quantile of a monotone distribution function. */
static double
bisect_quantile(double p, double (*cdf) (double, double), double arg)
{
	double		lo = -1.0;
	double		hi = 1.0;
	int			i;

	while (cdf(lo, arg) > p && lo > -1e12)
		lo *= 2.0;
	while (cdf(hi, arg) < p && hi < 1e12)
		hi *= 2.0;
	for (i = 0; i < 200 && hi - lo > 1e-15 * Max(fabs(lo), fabs(hi)); i++)
	{
		double		mid = 0.5 * (lo + hi);

		if (cdf(mid, arg) < p)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

static double
normal_cdf_arg(double z, double unused)
{
	return normal_cdf(z);
}

/*
 * The p-quantile of the standard normal distribution, 0 < p < 1.
 */
double
costopt_normal_quantile(double p)
{
	Assert(p > 0.0 && p < 1.0);
	return bisect_quantile(p, normal_cdf_arg, 0.0);
}

/*
 * The p-quantile of Student's t distribution with df > 0 degrees of
 * freedom, 0 < p < 1.  Very large df is the normal distribution.
 */
double
costopt_t_quantile(double p, double df)
{
	Assert(p > 0.0 && p < 1.0 && df > 0.0);
	if (df > 1e7)
		return costopt_normal_quantile(p);
	return bisect_quantile(p, t_cdf, df);
}

static int
double_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * The p-quantile of a sample, interpolated between order statistics (the
 * definition R calls type 7).  Sorts values in place.
 */
double
costopt_sample_quantile(double *values, int n, double p)
{
	double		pos;
	int			i;

	Assert(n > 0);
	qsort(values, n, sizeof(double), double_cmp);
	pos = p * (n - 1);
	i = (int) floor(pos);
	if (i >= n - 1)
		return values[n - 1];
	if (i < 0)
		return values[0];
	return values[i] + (values[i + 1] - values[i]) * (pos - i);
}
