/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kt_ka_race.h - interface of the test-only kt_ka_race module (kprobes
 * that widen kvm_assign's race windows); shared with the tests.
 *
 * <debugfs>/kt_ka_race/: "arm" (write: start a round), and read-only
 * "stage", "handler_cpu", "close_cpu", "held_us", "released_in_window".
 */
#ifndef _KT_KA_RACE_H
#define _KT_KA_RACE_H

/* Rounds (what "arm" takes). */
#define KT_ROUND_CLOSE	1	/* a handler held with a context being closed */
#define KT_ROUND_UNMAP	2	/* a dma_unmap held until a start translated */

/* Values of "stage". */
enum {
	KT_STAGE_IDLE,		/* not armed */
	KT_STAGE_ARMED,		/* waiting for the close or dma_unmap */
	KT_STAGE_WAITING,	/* which waits (the close raised an interrupt) */
	KT_STAGE_HELD,		/* a handler holds the closing context, or a
				 * start translated */
	KT_STAGE_DONE,		/* the round is over */
	KT_STAGE_MISSED,	/* nothing came within wait_ms */
};

#endif /* _KT_KA_RACE_H */
