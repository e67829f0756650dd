// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk workers and kicks.
 *
 * One worker per device runs in the owner's context: a vhost_task (a thread
 * of the owner's process) where the kernel has the API, else a kthread that
 * adopts the owner's mm and joins the owner's cgroups.  Kicks arrive through
 * a wait-queue entry on each ring's kick eventfd; they mark the ring pending
 * and wake the worker, which processes the pending rings.
 */
#include <linux/cgroup.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "vhost_blk_priv.h"

#if defined(KVMIO_USE_VHOST_TASK)
#include <linux/sched/vhost_task.h>
#endif

struct vblk_worker {
#if defined(KVMIO_USE_VHOST_TASK)
	struct vhost_task *vtsk;
#else
	struct task_struct *task;
#endif
	struct vblk_dev *dev;
};

/* One pass over the pending rings; false when there was nothing to do. */
static bool vblk_worker_run(struct vblk_dev *dev)
{
	unsigned long pending = xchg(&dev->pending, 0);
	unsigned int i;

	if (!pending)
		return false;
	__set_current_state(TASK_RUNNING);
	for_each_set_bit(i, &pending, VBLK_NUM_QUEUES)
		vblk_vq_process(&dev->vqs[i]);
	cond_resched();
	return true;
}

static void vblk_worker_wake(struct vblk_worker *w)
{
#if defined(KVMIO_USE_VHOST_TASK)
	vhost_task_wake(w->vtsk);
#else
	wake_up_process(w->task);
#endif
}

void vblk_worker_queue(struct vblk_vq *vq)
{
	struct vblk_dev *dev = vq->dev;
	unsigned long flags;

	set_bit(vq->index, &dev->pending);
	spin_lock_irqsave(&dev->wake_lock, flags);
	if (dev->worker_live)
		vblk_worker_wake(dev->worker);
	spin_unlock_irqrestore(&dev->wake_lock, flags);
}

/* ---- worker threads (the shim of compat.h's KVMIO_USE_VHOST_TASK) ---- */

#if defined(KVMIO_USE_VHOST_TASK)

static bool vblk_vtask_fn(void *data)
{
	return vblk_worker_run(data);
}

/* The owner was killed: the task exits and stops taking work. */
static void vblk_vtask_kill(void *data)
{
	struct vblk_dev *dev = data;

	spin_lock_irq(&dev->wake_lock);
	dev->worker_live = false;
	spin_unlock_irq(&dev->wake_lock);
}

static int vblk_worker_create(struct vblk_worker *w, struct vblk_dev *dev)
{
	char name[TASK_COMM_LEN];

	snprintf(name, sizeof(name), "vhost-blk-%d", current->pid);
	w->vtsk = vhost_task_create(vblk_vtask_fn, vblk_vtask_kill, dev, name);
	if (IS_ERR(w->vtsk))
		return PTR_ERR(w->vtsk);
	vhost_task_start(w->vtsk);
	return 0;
}

static void vblk_worker_destroy(struct vblk_worker *w)
{
	vhost_task_stop(w->vtsk);
}

#else /* !KVMIO_USE_VHOST_TASK */

static int vblk_kthread_fn(void *data)
{
	struct vblk_dev *dev = data;

	kthread_use_mm(dev->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!vblk_worker_run(dev))
			schedule();
	}
	kthread_unuse_mm(dev->mm);
	return 0;
}

static int vblk_worker_create(struct vblk_worker *w, struct vblk_dev *dev)
{
	int ret;

	w->task = kthread_create(vblk_kthread_fn, dev, "vhost-blk-%d",
				 current->pid);
	if (IS_ERR(w->task))
		return PTR_ERR(w->task);
	/* account the worker to the owner's cgroups, as vhost does */
	ret = cgroup_attach_task_all(current, w->task);
	if (ret) {
		kthread_stop(w->task);
		return ret;
	}
	wake_up_process(w->task);
	return 0;
}

static void vblk_worker_destroy(struct vblk_worker *w)
{
	kthread_stop(w->task);
}

#endif /* KVMIO_USE_VHOST_TASK */

int vblk_worker_start(struct vblk_dev *dev)
{
	struct vblk_worker *w;
	int ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	w->dev = dev;
	ret = vblk_worker_create(w, dev);
	if (ret) {
		kfree(w);
		return ret;
	}
	spin_lock_irq(&dev->wake_lock);
	dev->worker = w;
	dev->worker_live = true;
	spin_unlock_irq(&dev->wake_lock);
	return 0;
}

/* Stop the worker; it finishes the ring it is processing first. */
void vblk_worker_stop(struct vblk_dev *dev)
{
	struct vblk_worker *w = dev->worker;

	if (!w)
		return;
	spin_lock_irq(&dev->wake_lock);
	dev->worker_live = false;
	dev->worker = NULL;
	spin_unlock_irq(&dev->wake_lock);
	vblk_worker_destroy(w);
	kfree(w);
	dev->pending = 0;
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
