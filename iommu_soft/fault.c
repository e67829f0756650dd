// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft fault log: a bounded ring of fault records per domain.  When
 * it is full new faults are dropped and counted in an overflow counter, as
 * VT-d drops faults when its recording registers are full.  An optional
 * eventfd is signalled on every fault, recorded or dropped.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "iommu_soft_priv.h"

#define IOMMU_SOFT_FAULT_LOG_MAX	4096U

int iommu_soft_faults_init(struct iommu_soft_domain *d, unsigned int size)
{
	struct iommu_soft_fault_log *log = &d->faults;

	size = clamp(size, 1U, IOMMU_SOFT_FAULT_LOG_MAX);
	log->records = kcalloc(size, sizeof(*log->records), GFP_KERNEL_ACCOUNT);
	if (!log->records)
		return -ENOMEM;
	log->size = size;
	spin_lock_init(&log->lock);
	return 0;
}

void iommu_soft_faults_free(struct iommu_soft_domain *d)
{
	struct iommu_soft_fault_log *log = &d->faults;

	if (log->eventfd)
		eventfd_ctx_put(log->eventfd);
	log->eventfd = NULL;
	kfree(log->records);
	log->records = NULL;
}

/**
 * iommu_soft_fault() - record a refused access
 * @d: the domain
 * @source: requester name (device name, "cpu", "ioctl")
 * @iova: start of the access
 * @fault_addr: first refused IOVA
 * @len: length of the access
 * @dir: IOMMU_SOFT_DIR_* bits
 * @reason: IOMMU_SOFT_FAULT_*
 */
void iommu_soft_fault(struct iommu_soft_domain *d, const char *source,
		      u64 iova, u64 fault_addr, u64 len, u32 dir, u32 reason)
{
	struct iommu_soft_fault_log *log = &d->faults;
	struct iommu_soft_fault_record *r;

	if (reason < IOMMU_SOFT_FAULT_NR)
		atomic64_inc(&d->stats.faults[reason]);
	pr_debug("domain %u: fault %#x %s iova %#llx len %llu addr %#llx\n",
		 d->id, reason, source, iova, len, fault_addr);

	spin_lock(&log->lock);
	if (log->count == log->size) {
		log->overflow++;
	} else {
		r = &log->records[(log->head + log->count) % log->size];
		memset(r, 0, sizeof(*r));
		r->timestamp_ns = ktime_get_ns();
		r->iova = iova;
		r->fault_addr = fault_addr;
		r->len = len;
		r->reason = reason;
		r->dir = dir;
		r->domain_id = d->id;
		strscpy(r->source, source, sizeof(r->source));
		log->count++;
	}
	if (log->eventfd)
		kvmio_eventfd_signal(log->eventfd);
	spin_unlock(&log->lock);
}

/**
 * iommu_soft_faults_read() - copy the oldest fault records
 * @d: the domain
 * @out: room for @max records (may be NULL when @max is 0)
 * @max: most records to copy
 * @consume: remove the copied records from the log (the uAPI does; sysfs
 *	only looks, since nobody reads a kernel user's domain through the uAPI)
 * @overflow: out, optional: faults dropped so far
 * @pending: out, optional: records left in the log
 *
 * Return: records copied to @out.
 */
unsigned int iommu_soft_faults_read(struct iommu_soft_domain *d,
				    struct iommu_soft_fault_record *out,
				    unsigned int max, bool consume,
				    u64 *overflow, unsigned int *pending)
{
	struct iommu_soft_fault_log *log = &d->faults;
	unsigned int n;

	spin_lock(&log->lock);
	for (n = 0; n < max && n < log->count; n++)
		out[n] = log->records[(log->head + n) % log->size];
	if (consume) {
		log->head = (log->head + n) % log->size;
		log->count -= n;
	}
	if (overflow)
		*overflow = log->overflow;
	if (pending)
		*pending = log->count;
	spin_unlock(&log->lock);
	return n;
}

/* Signal eventfd @fd on faults; -1 removes the current one. */
int iommu_soft_faults_set_eventfd(struct iommu_soft_domain *d, int fd)
{
	struct iommu_soft_fault_log *log = &d->faults;
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	spin_lock(&log->lock);
	old = log->eventfd;
	log->eventfd = ctx;
	spin_unlock(&log->lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}
