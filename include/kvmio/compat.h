/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - the one place where kernel-version differences live.
 *
 * Force-included into every object of the suite by Kbuild.  The macros it
 * tests come from compat_gen.h, which conftest.sh (run from Kbuild) writes
 * into the build's generated/ folder from probes of the target kernel (its
 * Module.symvers and compile tests), never from version numbers alone:
 * Debian backports move APIs within a series.
 *
 * Supported: Debian 12's 6.1 and 6.12 series.
 */
#ifndef _KVMIO_COMPAT_H
#define _KVMIO_COMPAT_H

/*
 * Every message of the suite starts with its module's name.  Defined here,
 * before any kernel header, because this file is included first.
 */
#ifndef pr_fmt
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#endif

#include <linux/version.h>
#include <linux/types.h>

#include <kvmio/compat_gen.h>	/* written by conftest.sh, see Kbuild */

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "kvmio needs Linux 6.1 or later (Debian 12's 6.1 and 6.12 series are supported)"
#endif

#if !defined(KVMIO_HAVE_KTHREAD_USE_MM)
#error "kvmio needs kthread_use_mm() to be exported"
#endif

/*
 * eventfd_signal(): 6.8 dropped the count argument.
 */
#include <linux/eventfd.h>

static inline void kvmio_eventfd_signal(struct eventfd_ctx *ctx)
{
#if defined(KVMIO_HAVE_EVENTFD_SIGNAL_ONE_ARG)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * class_create(): 6.4 dropped the owner argument.
 */
#if defined(KVMIO_HAVE_CLASS_CREATE_ONE_ARG)
#define kvmio_class_create(name)	class_create(name)
#else
#define kvmio_class_create(name)	class_create(THIS_MODULE, name)
#endif

/*
 * str_up_down(): <linux/string_choices.h> has it from 6.2; before, the
 * string itself.
 */
#if defined(KVMIO_HAVE_STR_UP_DOWN)
#include <linux/string_choices.h>
#else
static inline const char *str_up_down(bool v)
{
	return v ? "up" : "down";
}
#endif

/*
 * PCI_IRQ_INTX: called PCI_IRQ_LEGACY before 6.8.
 */
#if !defined(KVMIO_HAVE_PCI_IRQ_INTX)
#define PCI_IRQ_INTX	PCI_IRQ_LEGACY
#endif

/*
 * Workers that run in the owner's context: vhost_task (6.11+ signature with
 * a kill callback) where the kernel has it, else a kthread that adopts the
 * owner's mm with kthread_use_mm().
 */
#if defined(KVMIO_HAVE_VHOST_TASK_CREATE_KILL) && \
	defined(KVMIO_HAVE_VHOST_TASK_WAKE) && defined(KVMIO_HAVE_VHOST_TASK_STOP)
#define KVMIO_USE_VHOST_TASK 1
#endif

/*
 * ==== vhost_blk: a worker thread in the owner's context ====
 *
 * struct kvmio_vtask runs @fn(@arg) whenever it is woken, until stopped;
 * @fn returns false when it found no work (the task then sleeps) and is
 * entered in TASK_INTERRUPTIBLE, so it must set TASK_RUNNING before it
 * blocks.  Create it from the owner (an ioctl of the owning process).
 *
 * - vhost_task (6.11+ API with a kill callback): the worker is a thread of
 *   the owner's process, so it shares its mm, cgroups and accounting; @kill
 *   runs if the owner is SIGKILLed, after which @fn is never called again.
 * - otherwise a kthread that adopts the owner's mm with kthread_use_mm()
 *   and joins the owner's cgroups (cgroup_attach_task_all(), as vhost did
 *   before vhost_task); @kill is never called.
 */
#if defined(KVMIO_USE_VHOST_TASK)
#include <linux/err.h>
#include <linux/sched/vhost_task.h>

struct kvmio_vtask {
	struct vhost_task *vtsk;
};

static inline int kvmio_vtask_create(struct kvmio_vtask *t,
				     bool (*fn)(void *), void (*kill)(void *),
				     void *arg, const char *name)
{
	t->vtsk = vhost_task_create(fn, kill, arg, name);
	if (IS_ERR(t->vtsk))
		return PTR_ERR(t->vtsk);
	vhost_task_start(t->vtsk);
	return 0;
}

static inline void kvmio_vtask_wake(struct kvmio_vtask *t)
{
	vhost_task_wake(t->vtsk);
}

static inline void kvmio_vtask_stop(struct kvmio_vtask *t)
{
	vhost_task_stop(t->vtsk);
}
#else /* kthread with the owner's mm */
#include <linux/cgroup.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>

struct kvmio_vtask {
	struct task_struct *task;
	bool (*fn)(void *arg);
	void *arg;
	struct mm_struct *mm;
};

static inline int kvmio_vtask_thread(void *data)
{
	struct kvmio_vtask *t = data;

	kthread_use_mm(t->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!t->fn(t->arg))
			schedule();
	}
	kthread_unuse_mm(t->mm);
	return 0;
}

static inline int kvmio_vtask_create(struct kvmio_vtask *t,
				     bool (*fn)(void *), void (*kill)(void *),
				     void *arg, const char *name)
{
	int ret;

	t->fn = fn;
	t->arg = arg;
	t->mm = get_task_mm(current);
	if (!t->mm)
		return -EINVAL;
	t->task = kthread_create(kvmio_vtask_thread, t, "%s", name);
	if (IS_ERR(t->task)) {
		ret = PTR_ERR(t->task);
		goto err_mm;
	}
	ret = cgroup_attach_task_all(current, t->task);
	if (ret)
		goto err_thread;
	wake_up_process(t->task);
	return 0;

err_thread:
	kthread_stop(t->task);
err_mm:
	mmput(t->mm);
	return ret;
}

static inline void kvmio_vtask_wake(struct kvmio_vtask *t)
{
	wake_up_process(t->task);
}

static inline void kvmio_vtask_stop(struct kvmio_vtask *t)
{
	kthread_stop(t->task);
	mmput(t->mm);
}
#endif
/* ==== end of vhost_blk ==== */

#endif /* _KVMIO_COMPAT_H */
