/*-------------------------------------------------------------------------
 *
 * series_input.c
 *	  Reading a series given as two parallel arrays (times or days, and
 *	  values), as the anomaly scan and the forecasts take it: both arrays
 *	  one-dimensional and of the same length, pairs with a NULL skipped
 *	  (like an aggregate skips NULL inputs), times and values finite, and
 *	  the points sorted by time, ties in input order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "series_input.h"

static int
point_cmp(const void *a, const void *b)
{
	const SeriesPoint *x = a;
	const SeriesPoint *y = b;

	if (x->key != y->key)
		return (x->key > y->key) ? 1 : -1;
	return x->order - y->order;
}

/*
 * Returns the number of points (pairs without NULLs) and, in *points, the
 * points sorted by key.  key_type is TIMESTAMPTZOID or DATEOID; key_name
 * names the key array in messages.
 */
int
costopt_series_read(ArrayType *keys, Oid key_type, const char *key_name,
					ArrayType *values, SeriesPoint **points)
{
	Datum	   *key_d;
	Datum	   *val_d;
	bool	   *key_null;
	bool	   *val_null;
	int			nkeys;
	int			nvals;
	SeriesPoint *pts;
	int			n = 0;
	int			i;

	Assert(key_type == TIMESTAMPTZOID || key_type == DATEOID);
	if (ARR_NDIM(keys) > 1 || ARR_NDIM(values) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s and value must be one-dimensional arrays", key_name)));
	if (key_type == DATEOID)
		deconstruct_array(keys, DATEOID, sizeof(DateADT), true, TYPALIGN_INT,
						  &key_d, &key_null, &nkeys);
	else
		deconstruct_array(keys, TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &key_d, &key_null, &nkeys);
	deconstruct_array(values, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &val_d, &val_null, &nvals);
	if (nkeys != nvals)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s and value arrays have different lengths (%d and %d)",
						key_name, nkeys, nvals)));

	pts = palloc(sizeof(SeriesPoint) * Max(nkeys, 1));
	for (i = 0; i < nkeys; i++)
	{
		double		v;
		bool		finite;

		if (key_null[i] || val_null[i])
			continue;
		v = DatumGetFloat8(val_d[i]);
		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("series values must be finite numbers"),
					 errdetail("Element %d is %g.", i + 1, v)));
		if (key_type == DATEOID)
		{
			finite = !DATE_NOT_FINITE(DatumGetDateADT(key_d[i]));
			pts[n].key = DatumGetDateADT(key_d[i]);
		}
		else
		{
			finite = !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(key_d[i]));
			pts[n].key = DatumGetTimestampTz(key_d[i]);
		}
		if (!finite)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("every %s of a series must be finite", key_name),
					 errdetail("Element %d is infinite.", i + 1)));
		pts[n].value = v;
		pts[n].order = i;
		n++;
	}
	qsort(pts, n, sizeof(SeriesPoint), point_cmp);
	*points = pts;
	return n;
}
