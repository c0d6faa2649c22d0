/*-------------------------------------------------------------------------
 *
 * forecast_methods.h
 *	  Daily forecasting methods: seasonal naive, linear trend, linear trend
 *	  with day-of-week effects, additive Holt-Winters (weekly season), and
 *	  their ensemble.  Pure computation on arrays; no SQL here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_FORECAST_METHODS_H
#define COSTOPT_FORECAST_METHODS_H

#define COSTOPT_SEASON 7

typedef enum ForecastMethod
{
	FORECAST_SEASONAL_NAIVE,
	FORECAST_LINEAR,
	FORECAST_LINEAR_DOW,
	FORECAST_HOLT_WINTERS,
	FORECAST_ENSEMBLE,
	FORECAST_N_METHODS,
	FORECAST_AUTO = FORECAST_N_METHODS
} ForecastMethod;

/* One Holt-Winters fit: smoothing parameters and the state after each day. */
typedef struct HoltWinters
{
	bool		valid;
	bool		log_scale;		/* fitted to log(y + shift) */
	double		shift;
	double		alpha;
	double		beta;
	double		gamma;
	double		phi;			/* trend damping */
	int			n;
	double	   *state;			/* per day: level, trend, 7 seasonals */
} HoltWinters;

/* Everything the methods need about one series, fitted once. */
typedef struct ForecastSeries
{
	const double *y;
	int			n;
	bool		nonnegative;	/* all values >= 0: forecasts are clamped */
	HoltWinters hw;
	HoltWinters hw_log;
} ForecastSeries;

/* fewest days each method needs */
extern int	costopt_forecast_min_days(ForecastMethod m);
extern const char *costopt_forecast_method_name(ForecastMethod m);
extern bool costopt_forecast_method_parse(const char *name, ForecastMethod *m);

extern void costopt_forecast_prepare(ForecastSeries *fs, const double *y, int n,
									 bool need_hw);
extern void costopt_forecast_from(const ForecastSeries *fs, ForecastMethod m,
								  int t_end, int h, double *out);
extern bool costopt_forecast_linear_interval(const ForecastSeries *fs, int t_end,
											 int h, double level, double *lower,
											 double *upper);

#endif							/* COSTOPT_FORECAST_METHODS_H */
