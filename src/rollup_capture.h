/*-------------------------------------------------------------------------
 *
 * rollup_capture.h
 *	  Capture of usage-log changes for the cost rollups.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_ROLLUP_CAPTURE_H
#define COSTOPT_ROLLUP_CAPTURE_H

extern void costopt_rollup_capture_init(void);

#endif							/* COSTOPT_ROLLUP_CAPTURE_H */
