/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *	  The costopt job scheduler: background workers and the pg_cron link.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COSTOPT_SCHEDULER_H
#define COSTOPT_SCHEDULER_H

extern void costopt_scheduler_init(void);

#endif							/* COSTOPT_SCHEDULER_H */
