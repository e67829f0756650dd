// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk workers and kicks.
 *
 * Every ring has its own worker, created by the first ioctl that configures
 * the ring, running in the owner's context (kvmio_vtask of compat.h: a
 * vhost_task where the kernel has the API, else a kthread that adopts the
 * owner's mm and joins the owner's cgroups).  Kicks arrive through a
 * wait-queue entry on the ring's kick eventfd; they mark the ring pending
 * and wake its worker.
 */
#include <linux/file.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "vhost_blk_priv.h"

struct vblk_worker {
	struct kvmio_vtask task;
	struct vblk_vq *vq;
};

/* One pass over the ring; false when there was nothing to do. */
static bool vblk_worker_fn(void *data)
{
	struct vblk_vq *vq = data;

	if (!test_and_clear_bit(0, &vq->pending))
		return false;
	__set_current_state(TASK_RUNNING);
	if (test_and_clear_bit(1, &vq->pending))
		schedule_timeout_uninterruptible(1);	/* memory back-off */
	vblk_vq_process(vq);
	cond_resched();
	return true;
}

void vblk_worker_queue(struct vblk_vq *vq)
{
	struct vblk_dev *dev = vq->dev;
	unsigned long flags;

	set_bit(0, &vq->pending);
	spin_lock_irqsave(&dev->wake_lock, flags);
	if (vq->worker_live)
		kvmio_vtask_wake(&vq->worker->task);
	spin_unlock_irqrestore(&dev->wake_lock, flags);
}

/* vhost_task only: the owner was killed; the task takes no more work. */
static void vblk_worker_kill(void *data)
{
	struct vblk_vq *vq = data;

	spin_lock_irq(&vq->dev->wake_lock);
	vq->worker_live = false;
	spin_unlock_irq(&vq->dev->wake_lock);
}

/* Give @vq its worker if it has none (called by the owner, dev->mutex held). */
int vblk_worker_start(struct vblk_vq *vq)
{
	struct vblk_dev *dev = vq->dev;
	char name[TASK_COMM_LEN];
	struct vblk_worker *w;
	int ret;

	lockdep_assert_held(&dev->mutex);
	if (vq->worker)
		return 0;
	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	w->vq = vq;
	snprintf(name, sizeof(name), "vblk-%d-%u", current->pid, vq->index);
	ret = kvmio_vtask_create(&w->task, vblk_worker_fn, vblk_worker_kill,
				 vq, name);
	if (ret) {
		kfree(w);
		return ret;
	}
	spin_lock_irq(&dev->wake_lock);
	vq->worker = w;
	vq->worker_live = true;
	spin_unlock_irq(&dev->wake_lock);
	/* anything queued before the worker existed */
	vblk_worker_queue(vq);
	return 0;
}

/* Stop the ring's worker; it finishes the requests it is running first. */
void vblk_worker_stop(struct vblk_vq *vq)
{
	struct vblk_worker *w = vq->worker;

	if (!w)
		return;
	spin_lock_irq(&vq->dev->wake_lock);
	vq->worker_live = false;
	vq->worker = NULL;
	spin_unlock_irq(&vq->dev->wake_lock);
	kvmio_vtask_stop(&w->task);
	kfree(w);
	vq->pending = 0;
}

/* ---- kick eventfds ---- */

static void vblk_poll_queue_proc(struct file *file, wait_queue_head_t *wqh,
				 poll_table *pt)
{
	struct vblk_poll *p = container_of(pt, struct vblk_poll, table);

	p->wqh = wqh;
	add_wait_queue(wqh, &p->wait);
}

static int vblk_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct vblk_poll *p = container_of(wait, struct vblk_poll, wait);

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	vblk_count(p->vq->dev, kicks);
	vblk_worker_queue(p->vq);
	return 0;
}

void vblk_poll_init(struct vblk_vq *vq)
{
	struct vblk_poll *p = &vq->kick;

	p->vq = vq;
	init_waitqueue_func_entry(&p->wait, vblk_poll_wakeup);
	init_poll_funcptr(&p->table, vblk_poll_queue_proc);
}

/* Watch @file (an eventfd; the reference passes to the ring). */
int vblk_poll_start(struct vblk_vq *vq, struct file *file)
{
	struct vblk_poll *p = &vq->kick;
	__poll_t mask;

	lockdep_assert_held(&vq->mutex);
	p->file = file;
	mask = vfs_poll(file, &p->table);
	if (!p->wqh) {
		/* cannot happen for an eventfd, which always poll_wait()s */
		p->file = NULL;
		fput(file);
		return -EINVAL;
	}
	if (mask & EPOLLIN)
		vblk_worker_queue(vq);
	return 0;
}

void vblk_poll_stop(struct vblk_vq *vq)
{
	struct vblk_poll *p = &vq->kick;

	lockdep_assert_held(&vq->mutex);
	if (p->wqh)
		remove_wait_queue(p->wqh, &p->wait);
	p->wqh = NULL;
	if (p->file)
		fput(p->file);
	p->file = NULL;
}
