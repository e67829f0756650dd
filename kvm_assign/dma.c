// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: DMA on behalf of a context, through its iommu_soft domain.
 *
 * Each context owns an iommu_soft domain.  The domain is fed by VFIO's
 * pinning of the guest's memory: QEMU maps guest RAM into the VFIO
 * container as usual, and the first time a model needs a guest page, the
 * page is pinned with vfio_pin_pages() (which refuses IOVAs the VMM has not
 * mapped, or mapped without the needed permission) and mapped into the
 * domain with the permissions the container grants.  The model then asks
 * iommu_soft_translate() for one transfer's bus address: every byte must be
 * mapped with the permission the direction needs, or a fault is recorded in
 * the domain's log and nothing happens; pages beyond the device's DMA mask
 * are bounced.  The translation is held for the duration of the transfer
 * and released when the device reports completion.
 *
 * VFIO's dma_unmap notification unmaps the range from the domain:
 * iommu_soft_unmap() waits for held translations, then gives each page back
 * through ka_dma_release(), which unpins it.  Closing and resetting the
 * device unmap everything the same way.
 *
 * Pinning vs. unmapping: ctx->dma_lock serializes them.  A model holds it
 * around a whole transfer start (claiming its engine, ka_dma_map(),
 * starting the device), and ka_dma_invalidate() holds it while it waits for
 * the transfer in flight to end (model->quiesce) and unmaps: a start either
 * comes first, and its transfer ends before the unmap, or after, and finds
 * the pages gone from the domain.  The quiesce never waits for a start
 * blocked on the lock, because a start is over before the lock is dropped.
 *
 * Lock order (type1 is VFIO's vfio_iommu_type1):
 *
 *   ctx->lock -> ctx->dma_lock -> type1 iommu->lock (vfio_pin_pages(),
 *                                 vfio_unpin_pages())
 *   type1 device_list_lock -> ctx->dma_lock (type1 calls our dma_unmap with
 *                                 it held, having dropped iommu->lock)
 *
 * ctx->dma_lock is never taken with a spinlock held, never held while
 * ctx->lock or a type1 lock other than through pin/unpin is taken, and
 * iommu_soft's locks nest inside it.  Type1 already orders device_list_lock
 * before iommu->lock on this path (any mdev driver unpins from dma_unmap);
 * ctx->dma_lock only sits between the two, adding no other edge.
 *
 * Type1 calls dma_unmap again while pages of the range are still pinned,
 * and BUG()s after ten such rounds: a pin of the range made between our
 * return and type1 retaking iommu->lock would start another round.  A start
 * that needs a page of the range just invalidated therefore waits one tick
 * before pinning (KA_DMA_INVAL_SETTLE), which type1 needs far less than.
 */
#include <linux/dma-mapping.h>
#include <linux/iommu.h>

#include <linux/jiffies.h>
#include <linux/sched.h>

#include "kvm_assign_priv.h"
#include "kvmio/iommu_soft.h"

/* How long a start waits before pinning a page that was just unmapped. */
#define KA_DMA_INVAL_SETTLE	1	/* jiffies */

/* iommu_soft gives a piece of a mapping back: unpin it from VFIO. */
static void ka_dma_release(void *priv, u64 iova, struct page **pages,
			   unsigned long npages)
{
	struct ka_ctx *ctx = priv;

	vfio_unpin_pages(&ctx->vdev, iova, npages);
	atomic64_sub(npages, &ctx->stats.pages_pinned);
}

/*
 * Map one guest page into the domain, pinned with the widest permission the
 * container grants (read+write, else read, else write).
 */
static int ka_dma_fault_in(struct ka_ctx *ctx, u64 iova)
{
	static const struct { int prot; u32 perm; } tries[] = {
		{ IOMMU_READ | IOMMU_WRITE, IOMMU_SOFT_PERM_READ | IOMMU_SOFT_PERM_WRITE },
		{ IOMMU_READ, IOMMU_SOFT_PERM_READ },
		{ IOMMU_WRITE, IOMMU_SOFT_PERM_WRITE },
	};
	const struct iommu_soft_page_owner owner = {
		.release = ka_dma_release,
		.priv = ctx,
	};
	struct page *page;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(tries); i++) {
		ret = vfio_pin_pages(&ctx->vdev, iova, 1, tries[i].prot, &page);
		if (ret == 1)
			break;
	}
	if (i == ARRAY_SIZE(tries)) {
		/* type1 pins for v2 containers only: say so (once). */
		if (ret == -EACCES)
			dev_warn_once(&ctx->mdev->dev,
				      "VFIO refuses to pin guest pages: the container must be VFIO_TYPE1v2_IOMMU\n");
		return -ENOENT;	/* not mapped by the VMM: left to translate() */
	}

	ret = iommu_soft_map_pages(ctx->domain, iova, &page, 1, tries[i].perm, &owner);
	if (ret) {
		vfio_unpin_pages(&ctx->vdev, iova, 1);
		return ret == -EEXIST ? 0 : ret;
	}
	atomic64_inc(&ctx->stats.pages_pinned);
	return 0;
}

/*
 * Give type1 the time to finish an unmap whose dma_unmap just returned
 * before pinning a page of its range again; caller holds ctx->dma_lock.
 */
static void __ka_dma_settle(struct ka_ctx *ctx, u64 first, u64 last)
{
	lockdep_assert_held(&ctx->dma_lock);

	if (first > ctx->inval_last || last < ctx->inval_first)
		return;
	if (time_after(jiffies, ctx->inval_done + KA_DMA_INVAL_SETTLE))
		return;
	schedule_timeout_uninterruptible(KA_DMA_INVAL_SETTLE);
}

/*
 * Pin and map into the domain the pages of [@iova, @end] not mapped yet;
 * caller holds ctx->dma_lock.  Pages the VMM has not mapped are left out:
 * the translation or access that follows records the fault.
 */
static int __ka_dma_fault_range(struct ka_ctx *ctx, u64 iova, u64 end)
{
	u64 page, start, size, i, npages;
	u32 perm;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	__ka_dma_settle(ctx, iova & PAGE_MASK, end | ~PAGE_MASK);
	npages = ((end & PAGE_MASK) - (iova & PAGE_MASK)) / PAGE_SIZE + 1;
	for (i = 0, page = iova & PAGE_MASK; i < npages; i++, page += PAGE_SIZE) {
		if (!iommu_soft_query(ctx->domain, page, &start, &size, &perm))
			continue;
		ret = ka_dma_fault_in(ctx, page);
		if (ret && ret != -ENOENT)
			return ret;
	}
	return 0;
}

/**
 * __ka_dma_rw() - the model's CPU access to guest memory
 * @ctx:	the context; the caller holds ctx->dma_lock
 * @iova:	guest (container) address
 * @buf:	kernel buffer
 * @len:	bytes, 1..KA_DMA_MAX
 * @write:	copy @buf into guest memory (else from it)
 *
 * What a device model reads or writes itself (descriptors, received
 * frames) goes through the domain as the device's own DMA would: every
 * byte mapped with the needed permission, else a fault in the domain's log
 * and nothing copied.
 *
 * Return: 0, -EFAULT (fault recorded), -EINVAL, -ENOMEM.
 */
int __ka_dma_rw(struct ka_ctx *ctx, u64 iova, void *buf, size_t len, bool write)
{
	u64 end;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	if (!len || len > KA_DMA_MAX || check_add_overflow(iova, (u64)len - 1, &end))
		return -EINVAL;
	ret = __ka_dma_fault_range(ctx, iova, end);
	if (ret)
		return ret;
	return iommu_soft_rw(ctx->domain, iova, buf, len, write);
}

/**
 * __ka_dma_map() - translate a guest range for one device transfer
 * @ctx:	the context; the caller holds ctx->dma_lock from before it
 *		claims the device's engine until the device runs the transfer
 * @iova:	guest (container) address
 * @len:	length in bytes, 1..KA_DMA_MAX
 * @dir:	DMA_TO_DEVICE (device reads guest memory) or DMA_FROM_DEVICE
 * @x:		filled in; x->xlate.dma_addr is what the device is given
 *
 * Return: 0, or -EFAULT when the domain refuses the range (a fault is in
 * its log), -EINVAL for a bad range, -ENOMEM, -EIO.
 */
int __ka_dma_map(struct ka_ctx *ctx, u64 iova, size_t len,
		 enum dma_data_direction dir, struct ka_xfer *x)
{
	u64 end;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	memset(x, 0, sizeof(*x));
	if (!len || len > KA_DMA_MAX || check_add_overflow(iova, (u64)len - 1, &end))
		return -EINVAL;

	ret = __ka_dma_fault_range(ctx, iova, end);
	if (ret)
		return ret;

	ret = iommu_soft_translate(ctx->domain, &ctx->kd->pdev->dev, iova, len,
				   dir, &x->xlate);
	if (ret)
		return ret;
	x->held = true;
	return 0;
}

/**
 * ka_dma_unmap() - release a translation after the transfer completed
 * @ctx:	the context
 * @x:		the translation from ka_dma_map()
 *
 * Copies a bounced transfer from the device back into guest memory.  May
 * sleep.
 */
void ka_dma_unmap(struct ka_ctx *ctx, struct ka_xfer *x)
{
	if (!x->held)
		return;
	iommu_soft_xlate_release(&x->xlate);
	x->held = false;
}

/**
 * ka_dma_move() - hand a translation over to another ka_xfer
 * @dst:	takes it over (must hold nothing)
 * @src:	gives it up (holds nothing afterwards)
 *
 * A ka_xfer must never be copied by assignment: its translation is linked
 * into the domain by address.
 */
void ka_dma_move(struct ka_xfer *dst, struct ka_xfer *src)
{
	iommu_soft_xlate_move(&dst->xlate, &src->xlate);
	dst->held = src->held;
	src->held = false;
}

/**
 * ka_dma_invalidate() - unmap a range from the context's domain
 * @ctx:	the context
 * @iova:	first address
 * @len:	length (0 with @iova 0: everything)
 *
 * For VFIO's dma_unmap (the VMM unmapped the range from the container),
 * close and reset: waits for the transfer in flight to end, then unmaps
 * and unpins, serialized with starts by ctx->dma_lock (see the top).
 */
void ka_dma_invalidate(struct ka_ctx *ctx, u64 iova, u64 len)
{
	u64 first = iova & PAGE_MASK, last;

	if (!len || check_add_overflow(iova, len - 1, &last))
		last = U64_MAX;
	last |= ~PAGE_MASK;

	mutex_lock(&ctx->dma_lock);
	ctx->kd->model->quiesce(ctx);
	if (last == U64_MAX && first == 0) {
		/* The whole space: in two halves (size must fit in u64). */
		iommu_soft_unmap(ctx->domain, 0, 1ULL << 63);
		iommu_soft_unmap(ctx->domain, 1ULL << 63, 1ULL << 63);
	} else {
		iommu_soft_unmap(ctx->domain, first, last - first + 1);
	}
	ctx->inval_first = first;
	ctx->inval_last = last;
	ctx->inval_done = jiffies;
	mutex_unlock(&ctx->dma_lock);
}

/**
 * ka_dma_ctx_init() - give a context its domain
 * @ctx: the context
 *
 * Return: 0 or a negative errno.
 */
int ka_dma_ctx_init(struct ka_ctx *ctx)
{
	mutex_init(&ctx->dma_lock);
	ctx->inval_first = 1;	/* nothing invalidated yet: an empty range */
	ctx->inval_last = 0;
	ctx->domain = iommu_soft_domain_alloc(64);
	if (IS_ERR(ctx->domain)) {
		int ret = PTR_ERR(ctx->domain);

		ctx->domain = NULL;
		mutex_destroy(&ctx->dma_lock);
		return ret;
	}
	return 0;
}

/**
 * ka_dma_ctx_fini() - drop a context's domain (nothing may be mapped)
 * @ctx: the context
 */
void ka_dma_ctx_fini(struct ka_ctx *ctx)
{
	iommu_soft_domain_put(ctx->domain);
	ctx->domain = NULL;
	mutex_destroy(&ctx->dma_lock);
}
