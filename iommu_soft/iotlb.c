// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft IOTLB: a small direct-mapped cache of IOVA page -> host page
 * per domain, indexed by the low bits of the IOVA page number.  Lookups and
 * inserts run under the domain's map_lock held for reading; invalidation
 * runs under it held for writing, so an entry can never be inserted for a
 * mapping that an unmap already removed.
 */
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/slab.h>

#include "iommu_soft_priv.h"

#define IOMMU_SOFT_IOTLB_MAX	4096U

int iommu_soft_iotlb_init(struct iommu_soft_domain *d, unsigned int size)
{
	struct iommu_soft_iotlb *t = &d->iotlb;

	size = rounddown_pow_of_two(clamp(size, 1U, IOMMU_SOFT_IOTLB_MAX));
	t->entries = kcalloc(size, sizeof(*t->entries), GFP_KERNEL_ACCOUNT);
	if (!t->entries)
		return -ENOMEM;
	t->size = size;
	spin_lock_init(&t->lock);
	return 0;
}

void iommu_soft_iotlb_free(struct iommu_soft_domain *d)
{
	kfree(d->iotlb.entries);
	d->iotlb.entries = NULL;
}

static inline struct iommu_soft_iotlb_entry *
iommu_soft_iotlb_slot(struct iommu_soft_iotlb *t, u64 pfn)
{
	return &t->entries[pfn & (t->size - 1)];
}

bool iommu_soft_iotlb_lookup(struct iommu_soft_domain *d, u64 pfn,
			     struct page **page, u32 *perm)
{
	struct iommu_soft_iotlb *t = &d->iotlb;
	struct iommu_soft_iotlb_entry *e;
	bool hit;

	lockdep_assert_held(&d->map_lock);
	spin_lock(&t->lock);
	e = iommu_soft_iotlb_slot(t, pfn);
	hit = e->valid && e->pfn == pfn;
	if (hit) {
		*page = e->page;
		*perm = e->perm;
	}
	spin_unlock(&t->lock);
	atomic64_inc(hit ? &d->stats.iotlb_hits : &d->stats.iotlb_misses);
	return hit;
}

void iommu_soft_iotlb_insert(struct iommu_soft_domain *d, u64 pfn,
			     struct page *page, u32 perm)
{
	struct iommu_soft_iotlb *t = &d->iotlb;
	struct iommu_soft_iotlb_entry *e;
	bool evicted;

	lockdep_assert_held(&d->map_lock);
	spin_lock(&t->lock);
	e = iommu_soft_iotlb_slot(t, pfn);
	evicted = e->valid && e->pfn != pfn;
	e->pfn = pfn;
	e->page = page;
	e->perm = perm;
	e->valid = true;
	spin_unlock(&t->lock);
	if (evicted)
		atomic64_inc(&d->stats.iotlb_evictions);
}

/* Drop every entry of [@first, @last] (inclusive); counts entries dropped. */
void __iommu_soft_iotlb_invalidate(struct iommu_soft_domain *d, u64 first,
				   u64 last)
{
	struct iommu_soft_iotlb *t = &d->iotlb;
	u64 pfn_first = first >> PAGE_SHIFT, pfn_last = last >> PAGE_SHIFT;
	unsigned int i, dropped = 0;

	lockdep_assert_held_write(&d->map_lock);
	spin_lock(&t->lock);
	for (i = 0; i < t->size; i++) {
		struct iommu_soft_iotlb_entry *e = &t->entries[i];

		if (e->valid && e->pfn >= pfn_first && e->pfn <= pfn_last) {
			e->valid = false;
			dropped++;
		}
	}
	spin_unlock(&t->lock);
	if (dropped)
		atomic64_add(dropped, &d->stats.iotlb_invalidations);
}
