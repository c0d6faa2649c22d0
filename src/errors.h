/*-------------------------------------------------------------------------
 *
 * errors.h
 *	  costopt's own SQLSTATEs (class YC, unused by PostgreSQL).
 *
 * Keep this list short and in step with doc/errors.md.  SQL code raises
 * the same codes by their text ('YC001').
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_ERRORS_H
#define COSTOPT_ERRORS_H

#include "utils/elog.h"

/* YC001: a hard budget refused a call (costopt_reserve / costopt_check_budget
 * with raise_on_deny) */
#define COSTOPT_ERRCODE_BUDGET_EXCEEDED MAKE_SQLSTATE('Y','C','0','0','1')

#endif							/* COSTOPT_ERRORS_H */
