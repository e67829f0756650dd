// SPDX-License-Identifier: GPL-2.0
/* vhost_task_create() with a kill callback and a bool-returning worker (6.11+). */
#include <linux/types.h>
#include <linux/sched/vhost_task.h>

static bool fn(void *data) { return false; }
static void kill(void *data) { }

struct vhost_task *probe(void);
struct vhost_task *probe(void)
{
	return vhost_task_create(fn, kill, NULL, "probe");
}
