// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: DMA on behalf of a context.
 *
 * A model that is about to let the device touch guest memory asks for a
 * translation of the guest's address range (an IOVA of the VFIO container:
 * QEMU maps guest RAM there as usual).  The pages are pinned through VFIO
 * (vfio_pin_pages(), which refuses IOVAs the VMM has not mapped, or mapped
 * without the needed permission), and the device gets one bus address for
 * the whole range: the page itself when the range lies in one page the
 * device can reach, otherwise a bounce buffer allocated within the device's
 * DMA mask, copied in before a transfer to the device and out after a
 * transfer from it.  Nothing is programmed into the device unless every
 * byte of the range was granted.
 *
 * A translation is held for the duration of one transfer and released by
 * ka_dma_unmap() when the device reports completion; VFIO's dma_unmap
 * notification waits for in-flight transfers of the context (model).
 */
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/slab.h>

#include "kvm_assign_priv.h"

static int ka_dma_copy(struct ka_xfer *x, bool to_bounce)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < x->npages; i++) {
		size_t pofs = i ? 0 : offset_in_page(x->iova);
		size_t n = min_t(size_t, PAGE_SIZE - pofs, x->len - done);
		void *va = kmap_local_page(x->pages[i]);

		if (to_bounce)
			memcpy(x->bounce + done, va + pofs, n);
		else
			memcpy(va + pofs, x->bounce + done, n);
		kunmap_local(va);
		done += n;
	}
	return 0;
}

/*
 * Can the device reach the page directly?  Behind an IOMMU the DMA API
 * hands out addresses within the mask; without one the bus address is the
 * physical address, and asking dma_map_page() for a page beyond the mask
 * would warn, so such pages are bounced here instead.
 */
static bool ka_dma_reachable(struct device *dev, struct page *page, u64 iova,
			     size_t len)
{
	phys_addr_t last = page_to_phys(page) + offset_in_page(iova) + len - 1;

	if (device_iommu_mapped(dev))
		return true;
	return dev->dma_mask && last <= *dev->dma_mask;
}

/**
 * ka_dma_map() - translate a guest range for one device transfer
 * @ctx:	the context
 * @iova:	guest (container) address
 * @len:	length in bytes, at most KA_DMA_MAX
 * @dir:	DMA_TO_DEVICE (device reads guest memory) or DMA_FROM_DEVICE
 * @x:		filled in; x->bus is what the device is given
 *
 * Return: 0, or -EFAULT when VFIO refuses a page (not mapped, or mapped
 * without the permission @dir needs), -EINVAL for a bad range, -ENOMEM.
 */
int ka_dma_map(struct ka_ctx *ctx, u64 iova, size_t len,
	       enum dma_data_direction dir, struct ka_xfer *x)
{
	struct device *dev = &ctx->kd->pdev->dev;
	int prot = dir == DMA_TO_DEVICE ? IOMMU_READ : IOMMU_WRITE;
	u64 end, first;
	int ret;

	memset(x, 0, sizeof(*x));
	if (!len || len > KA_DMA_MAX || check_add_overflow(iova, (u64)len - 1, &end))
		return -EINVAL;
	first = iova & PAGE_MASK;
	x->npages = ((end & PAGE_MASK) - first) / PAGE_SIZE + 1;
	x->iova = iova;
	x->len = len;
	x->dir = dir;

	ret = vfio_pin_pages(&ctx->vdev, first, x->npages, prot, x->pages);
	if (ret != x->npages) {
		if (ret > 0)
			vfio_unpin_pages(&ctx->vdev, first, ret);
		x->npages = 0;
		return -EFAULT;
	}

	if (x->npages == 1 && ka_dma_reachable(dev, x->pages[0], iova, len)) {
		x->bus = dma_map_page(dev, x->pages[0], offset_in_page(iova),
				      len, dir);
		if (!dma_mapping_error(dev, x->bus))
			return 0;
	}

	/* Spans pages, or the page is out of the device's reach: bounce. */
	x->bounce = dma_alloc_coherent(dev, len, &x->bus, GFP_KERNEL);
	if (!x->bounce) {
		vfio_unpin_pages(&ctx->vdev, first, x->npages);
		x->npages = 0;
		return -ENOMEM;
	}
	if (dir == DMA_TO_DEVICE)
		ka_dma_copy(x, true);
	return 0;
}

/**
 * ka_dma_unmap() - release a translation after the transfer completed
 * @ctx:	the context
 * @x:		the translation from ka_dma_map()
 *
 * Copies a bounced transfer from the device back into guest memory, then
 * unmaps and unpins.  May sleep.
 */
void ka_dma_unmap(struct ka_ctx *ctx, struct ka_xfer *x)
{
	struct device *dev = &ctx->kd->pdev->dev;

	if (!x->npages)
		return;
	if (x->bounce) {
		if (x->dir == DMA_FROM_DEVICE)
			ka_dma_copy(x, false);
		dma_free_coherent(dev, x->len, x->bounce, x->bus);
	} else {
		dma_unmap_page(dev, x->bus, x->len, x->dir);
	}
	vfio_unpin_pages(&ctx->vdev, x->iova & PAGE_MASK, x->npages);
	x->npages = 0;
}
