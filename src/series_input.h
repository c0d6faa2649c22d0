/*-------------------------------------------------------------------------
 *
 * series_input.h
 *	  Reading a series given as two parallel arrays (times or days, and
 *	  values), as the anomaly scan and the forecasts take it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_SERIES_INPUT_H
#define COSTOPT_SERIES_INPUT_H

#include "utils/array.h"

/* One point: its time (timestamptz) or day (date), and its value. */
typedef struct SeriesPoint
{
	int64		key;
	double		value;
	int			order;			/* position in the input */
} SeriesPoint;

extern int	costopt_series_read(ArrayType *keys, Oid key_type, const char *key_name,
								ArrayType *values, SeriesPoint **points);

#endif							/* COSTOPT_SERIES_INPUT_H */
