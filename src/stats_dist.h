/*-------------------------------------------------------------------------
 *
 * stats_dist.h
 *	  Quantiles of the normal and Student t distributions, and empirical
 *	  quantiles of a sample.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_STATS_DIST_H
#define COSTOPT_STATS_DIST_H

extern double costopt_normal_quantile(double p);
extern double costopt_t_quantile(double p, double df);
extern double costopt_sample_quantile(double *values, int n, double p);

/*
 * Whether a prediction-interval level can be used: 0 < level < 1, and the
 * quantile 0.5 + level / 2 that the intervals need stays below 1 in double
 * precision (it rounds to 1 for the largest doubles below 1).
 */
static inline bool
costopt_interval_level_ok(double level)
{
	return level > 0.0 && level < 1.0 && 0.5 + level / 2.0 < 1.0;
}

#endif							/* COSTOPT_STATS_DIST_H */
