/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - the one place where kernel-version differences live.
 *
 * Force-included into every object of the suite by Kbuild.  The macros it
 * tests come from compat_gen.h, written at build time by conftest.sh from
 * probes of the target kernel (its Module.symvers and compile tests), never
 * from version numbers alone: Debian backports move APIs within a series.
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

#include "compat_gen.h"

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

#endif /* _KVMIO_COMPAT_H */
