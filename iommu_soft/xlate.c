// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft translation: permission checks page by page through the IOTLB,
 * bus addresses for a physical device (direct or bounced), CPU-side access,
 * and the held-translation contract with unmap.
 */
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>

#include "iommu_soft_priv.h"

#define IOMMU_SOFT_XLATE_CAP	(16U << 20)

/* The largest translation or access: max_xlate_bytes, capped. */
size_t iommu_soft_max_xlate(void)
{
	return min(READ_ONCE(iommu_soft_max_xlate_bytes), IOMMU_SOFT_XLATE_CAP);
}

static unsigned long iommu_soft_span(u64 iova, size_t len)
{
	return (unsigned long)(((iova & ~PAGE_MASK) + len + PAGE_SIZE - 1) >>
			       PAGE_SHIFT);
}

/*
 * Check that every byte of [@iova, @iova + @len) is mapped with @need and
 * collect its pages into @pages (room for iommu_soft_span() entries).  On
 * failure a fault is recorded and -EFAULT returned.
 */
static int __iommu_soft_resolve(struct iommu_soft_domain *d, u64 iova,
				size_t len, u32 need, const char *source,
				struct page **pages)
{
	u64 last, pfn, addr;
	unsigned long i = 0;

	lockdep_assert_held(&d->map_lock);
	if (check_add_overflow(iova, (u64)len - 1, &last) || last > d->last_iova) {
		addr = iova > d->last_iova ? iova : d->last_iova + 1;
		iommu_soft_fault(d, source, iova, addr, len, need,
				 IOMMU_SOFT_FAULT_BEYOND_WIDTH);
		return -EFAULT;
	}
	for (pfn = iova >> PAGE_SHIFT; pfn <= last >> PAGE_SHIFT; pfn++, i++) {
		struct page *page;
		u32 perm;

		addr = max(pfn << PAGE_SHIFT, iova);
		if (!iommu_soft_iotlb_lookup(d, pfn, &page, &perm)) {
			struct iommu_soft_mapping *m;

			m = __iommu_soft_find(d, pfn << PAGE_SHIFT);
			if (!m) {
				iommu_soft_fault(d, source, iova, addr, len, need,
						 IOMMU_SOFT_FAULT_NOT_PRESENT);
				return -EFAULT;
			}
			page = m->pages[((pfn << PAGE_SHIFT) - m->iova) >> PAGE_SHIFT];
			perm = m->perm;
			iommu_soft_iotlb_insert(d, pfn, page, perm);
		}
		if ((need & IOMMU_SOFT_PERM_READ) && !(perm & IOMMU_SOFT_PERM_READ)) {
			iommu_soft_fault(d, source, iova, addr, len, need,
					 IOMMU_SOFT_FAULT_NO_READ);
			return -EFAULT;
		}
		if ((need & IOMMU_SOFT_PERM_WRITE) && !(perm & IOMMU_SOFT_PERM_WRITE)) {
			iommu_soft_fault(d, source, iova, addr, len, need,
					 IOMMU_SOFT_FAULT_NO_WRITE);
			return -EFAULT;
		}
		pages[i] = page;
	}
	return 0;
}

/* Copy between @len bytes of @pages starting at @off and @buf. */
static void iommu_soft_copy_pages(struct page **pages, unsigned int off,
				  void *buf, size_t len, bool to_pages)
{
	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		void *p = kmap_local_page(*pages);

		if (to_pages) {
			memcpy(p + off, buf, n);
			flush_dcache_page(*pages);
		} else {
			memcpy(buf, p + off, n);
		}
		kunmap_local(p);
		pages++;
		off = 0;
		buf += n;
		len -= n;
	}
}

/* CPU-side access */

int __iommu_soft_rw(struct iommu_soft_domain *d, u64 iova, void *buf,
		    size_t len, bool write, const char *source)
{
	u32 need = write ? IOMMU_SOFT_PERM_WRITE : IOMMU_SOFT_PERM_READ;
	struct page **pages;
	int ret;

	if (!len || len > iommu_soft_max_xlate())
		return -EINVAL;
	pages = kmalloc_array(iommu_soft_span(iova, len), sizeof(*pages),
			      GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	down_read(&d->map_lock);
	if (d->dead) {
		ret = -ENODEV;
		goto out;
	}
	ret = __iommu_soft_resolve(d, iova, len, need, source, pages);
	if (ret)
		goto out;
	/* The read lock keeps the pages mapped and pinned while copying. */
	iommu_soft_copy_pages(pages, iova & ~PAGE_MASK, buf, len, write);
	atomic64_inc(&d->stats.translations);
out:
	up_read(&d->map_lock);
	kfree(pages);
	return ret;
}

int iommu_soft_rw(struct iommu_soft_domain *domain, u64 iova, void *buf,
		  size_t len, bool write)
{
	return __iommu_soft_rw(domain, iova, buf, len, write, "cpu");
}
EXPORT_SYMBOL_GPL(iommu_soft_rw);

/* Held translations */

static bool iommu_soft_hold_overlaps(struct iommu_soft_xlate *x, u64 first,
				     u64 last)
{
	return x->iova <= last && x->iova + x->len - 1 >= first;
}

bool iommu_soft_holds_overlap(struct iommu_soft_domain *d, u64 first, u64 last)
{
	struct iommu_soft_xlate *x;
	bool ret = false;

	spin_lock(&d->hold_lock);
	list_for_each_entry(x, &d->holds, hold_node) {
		if (!x->revoked && iommu_soft_hold_overlaps(x, first, last)) {
			ret = true;
			break;
		}
	}
	spin_unlock(&d->hold_lock);
	return ret;
}

/**
 * iommu_soft_wait_holds() - wait for translations of an unmapped range
 * @d: the domain
 * @first: first unmapped IOVA
 * @last: last unmapped IOVA (inclusive)
 *
 * Called after the range left the mapping tree (no new translation can
 * start in it).  Asks the consumer to abort through its invalidate
 * callback, then waits, killably and at most unmap_wait_ms.  Holds still
 * there after that are revoked: their bounce buffers are not copied back.
 */
void iommu_soft_wait_holds(struct iommu_soft_domain *d, u64 first, u64 last)
{
	struct iommu_soft_xlate *x;
	long left;

	if (!iommu_soft_holds_overlap(d, first, last))
		return;

	mutex_lock(&d->inval_lock);
	if (d->inval_fn)
		d->inval_fn(d->inval_priv, first, last);
	mutex_unlock(&d->inval_lock);

	left = wait_event_killable_timeout(d->hold_wq,
					   !iommu_soft_holds_overlap(d, first, last),
					   msecs_to_jiffies(READ_ONCE(iommu_soft_unmap_wait_ms)));
	if (left > 0)
		return;

	spin_lock(&d->hold_lock);
	list_for_each_entry(x, &d->holds, hold_node)
		if (iommu_soft_hold_overlaps(x, first, last))
			x->revoked = true;
	spin_unlock(&d->hold_lock);
	atomic64_inc(&d->stats.unmap_wait_timeouts);
	pr_warn_ratelimited("domain %u: unmap gave up waiting for a held translation\n",
			    d->id);
}

/* Translation for a physical device */

static bool iommu_soft_contiguous(struct page **pages, unsigned long n)
{
	unsigned long i, pfn = page_to_pfn(pages[0]);

	for (i = 1; i < n; i++)
		if (page_to_pfn(pages[i]) != pfn + i)
			return false;
	return true;
}

static u64 iommu_soft_dev_limit(struct device *dev)
{
	u64 mask = dma_get_mask(dev);

	if (dev->bus_dma_limit)
		mask = min(mask, dev->bus_dma_limit);
	return mask;
}

/* Give @x a bus address: the pages themselves, or a bounce buffer. */
static int iommu_soft_xlate_map(struct iommu_soft_xlate *x)
{
	unsigned int off = x->iova & ~PAGE_MASK;
	u64 limit = iommu_soft_dev_limit(x->dev);
	struct device *dev = x->dev;
	dma_addr_t dma;
	void *cpu;

	if (iommu_soft_contiguous(x->pages, x->npages) &&
	    page_to_phys(x->pages[0]) + off + x->len - 1 <= limit) {
		dma = dma_map_page(dev, x->pages[0], off, x->len, x->dir);
		if (!dma_mapping_error(dev, dma)) {
			if (dma + x->len - 1 <= limit) {
				x->dma_addr = dma;
				x->bounced = false;
				return 0;
			}
			dma_unmap_page(dev, dma, x->len, x->dir);
		}
	}

	x->bounce_size = PAGE_ALIGN(x->len);
	cpu = dma_alloc_coherent(dev, x->bounce_size, &dma, GFP_KERNEL);
	if (!cpu)
		return -ENOMEM;
	if (dma + x->len - 1 > min(dev->coherent_dma_mask, limit)) {
		dma_free_coherent(dev, x->bounce_size, cpu, dma);
		return -EIO;
	}
	if (x->dir != DMA_FROM_DEVICE)
		iommu_soft_copy_pages(x->pages, off, cpu, x->len, false);
	x->bounce_cpu = cpu;
	x->dma_addr = dma;
	x->bounced = true;
	atomic64_inc(&x->domain->stats.bounced);
	return 0;
}

static void iommu_soft_unhold(struct iommu_soft_xlate *x)
{
	struct iommu_soft_domain *d = x->domain;
	unsigned long i;

	for (i = 0; i < x->npages; i++)
		put_page(x->pages[i]);
	kfree(x->pages);
	x->pages = NULL;
	atomic64_dec(&d->stats.held);
	x->domain = NULL;
	iommu_soft_domain_put(d);
}

int iommu_soft_translate(struct iommu_soft_domain *domain, struct device *dev,
			 u64 iova, size_t len, enum dma_data_direction dir,
			 struct iommu_soft_xlate *x)
{
	struct iommu_soft_domain *d = domain;
	unsigned long i, npages;
	struct page **pages;
	u32 need;
	int ret;

	memset(x, 0, sizeof(*x));
	switch (dir) {
	case DMA_TO_DEVICE:
		need = IOMMU_SOFT_PERM_READ;
		break;
	case DMA_FROM_DEVICE:
		need = IOMMU_SOFT_PERM_WRITE;
		break;
	case DMA_BIDIRECTIONAL:
		need = IOMMU_SOFT_PERM_READ | IOMMU_SOFT_PERM_WRITE;
		break;
	default:
		return -EINVAL;
	}
	if (!dev || !len || len > iommu_soft_max_xlate())
		return -EINVAL;
	npages = iommu_soft_span(iova, len);
	pages = kmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	down_read(&d->map_lock);
	if (d->dead) {
		ret = -ENODEV;
		goto err_unlock;
	}
	ret = __iommu_soft_resolve(d, iova, len, need, dev_name(dev), pages);
	if (ret)
		goto err_unlock;
	for (i = 0; i < npages; i++)
		get_page(pages[i]);
	x->domain = d;
	x->dev = dev;
	x->dir = dir;
	x->iova = iova;
	x->len = len;
	x->pages = pages;
	x->npages = npages;
	iommu_soft_domain_get(d);
	atomic64_inc(&d->stats.held);
	/* Registered before the read lock goes: unmap sees it. */
	spin_lock(&d->hold_lock);
	list_add(&x->hold_node, &d->holds);
	spin_unlock(&d->hold_lock);
	up_read(&d->map_lock);

	ret = iommu_soft_xlate_map(x);
	if (ret)
		goto err_hold;
	atomic64_inc(&d->stats.translations);
	return 0;

err_hold:
	spin_lock(&d->hold_lock);
	list_del(&x->hold_node);
	spin_unlock(&d->hold_lock);
	wake_up_all(&d->hold_wq);
	iommu_soft_unhold(x);
	return ret;

err_unlock:
	up_read(&d->map_lock);
	kfree(pages);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_soft_translate);

void iommu_soft_xlate_release(struct iommu_soft_xlate *x)
{
	struct iommu_soft_domain *d = x->domain;

	if (!d)
		return;
	if (!x->bounced)
		dma_unmap_page(x->dev, x->dma_addr, x->len, x->dir);

	/*
	 * Copy back under hold_lock: an unmap that gives up waiting marks
	 * the hold revoked under the same lock, so once it returns nothing
	 * is written to the unmapped pages any more.
	 */
	spin_lock(&d->hold_lock);
	if (x->bounced && !x->revoked && x->dir != DMA_TO_DEVICE)
		iommu_soft_copy_pages(x->pages, x->iova & ~PAGE_MASK,
				      x->bounce_cpu, x->len, true);
	list_del(&x->hold_node);
	spin_unlock(&d->hold_lock);
	wake_up_all(&d->hold_wq);

	if (x->bounced)
		dma_free_coherent(x->dev, x->bounce_size, x->bounce_cpu,
				  x->dma_addr);
	iommu_soft_unhold(x);
}
EXPORT_SYMBOL_GPL(iommu_soft_xlate_release);

void iommu_soft_xlate_move(struct iommu_soft_xlate *dst,
			   struct iommu_soft_xlate *src)
{
	struct iommu_soft_domain *d = src->domain;

	if (!d) {
		memset(dst, 0, sizeof(*dst));
		return;
	}
	/* The hold list links the structure itself: move it, under its lock. */
	spin_lock(&d->hold_lock);
	*dst = *src;
	list_replace(&src->hold_node, &dst->hold_node);
	spin_unlock(&d->hold_lock);
	memset(src, 0, sizeof(*src));
}
EXPORT_SYMBOL_GPL(iommu_soft_xlate_move);
