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

#endif							/* COSTOPT_STATS_DIST_H */
