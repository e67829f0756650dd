// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: BAR region access.
 *
 * Every BAR access of a context is mediated: accesses inside a range the
 * model traps go to its handlers, which decide what reaches the hardware
 * (registers where a device learns DMA addresses never do directly).
 * Accesses elsewhere read as all-ones and drop writes, as an unclaimed PCI
 * address would; they are counted.  With memory (for an I/O BAR: I/O)
 * decoding disabled in the virtual command register, the BARs behave the
 * same way.
 *
 * Pages of a BAR that hold no trapped register may be mmapped instead
 * (direct access, no mediation); VFIO_DEVICE_GET_REGION_INFO lists them in
 * a sparse-mmap capability.
 */
#include <linux/mm.h>

#include "kvm_assign_priv.h"

static const struct ka_trap *ka_find_trap(const struct ka_model *m, int bar,
					  u32 off, u32 len)
{
	unsigned int i;

	for (i = 0; i < m->nr_traps; i++) {
		const struct ka_trap *t = &m->traps[i];

		if (t->bar == bar && off >= t->offset &&
		    off + len <= t->offset + t->size)
			return t;
	}
	return NULL;
}

/**
 * ka_bar_rw() - one access to a BAR of a context
 * @ctx:	the context; its lock is held
 * @bar:	BAR index, one the guest sees
 * @buf:	data, little-endian
 * @count:	1, 2, 4 or 8, naturally aligned
 * @off:	offset in the BAR
 * @write:	direction
 *
 * Return: @count, -EINVAL outside the BAR, or the model's error.
 */
ssize_t ka_bar_rw(struct ka_ctx *ctx, int bar, char *buf, size_t count,
		  loff_t off, bool write)
{
	const struct ka_model *m = ctx->kd->model;
	u64 val = 0;
	int ret;

	lockdep_assert_held(&ctx->lock);

	if (off < 0 || off >= ctx->bar_size[bar] ||
	    count > ctx->bar_size[bar] - off)
		return -EINVAL;

	if (!(ctx->bar_io[bar] ? ka_config_io_enabled(ctx) :
				 ka_config_memory_enabled(ctx)) ||
	    !ka_find_trap(m, bar, off, count)) {
		atomic64_inc(&ctx->stats.bar_refused);
		if (!write)
			memset(buf, 0xff, count);
		return count;
	}

	if (write) {
		memcpy(&val, buf, count);
		val = le64_to_cpu((__force __le64)val);
		atomic64_inc(&ctx->stats.bar_writes);
		ret = m->write(ctx, bar, off, val, count);
	} else {
		atomic64_inc(&ctx->stats.bar_reads);
		ret = m->read(ctx, bar, off, &val, count);
		val = (__force u64)cpu_to_le64(val);
		memcpy(buf, &val, count);
	}
	return ret < 0 ? ret : count;
}

/* Does any trap of @bar overlap the page at @off? */
static bool ka_page_trapped(const struct ka_model *m, int bar, u64 off)
{
	unsigned int i;

	for (i = 0; i < m->nr_traps; i++) {
		const struct ka_trap *t = &m->traps[i];

		if (t->bar == bar && t->offset < off + PAGE_SIZE &&
		    off < (u64)t->offset + t->size)
			return true;
	}
	return false;
}

/**
 * ka_bar_mmap_areas() - the parts of a BAR that may be mapped directly
 * @ctx:	the context
 * @bar:	BAR index
 * @areas:	out: up to @max page-aligned areas with no trapped register
 * @max:	room in @areas
 *
 * Return: the number of areas (0: the BAR is trapped throughout, or
 * smaller than a page).
 */
int ka_bar_mmap_areas(struct ka_ctx *ctx, int bar,
		      struct vfio_region_sparse_mmap_area *areas, int max)
{
	const struct ka_model *m = ctx->kd->model;
	u64 size = ctx->bar_size[bar], off;
	int n = 0;

	if (!ctx->kd->bar[bar] || size < PAGE_SIZE || !PAGE_ALIGNED(size) ||
	    !PAGE_ALIGNED(pci_resource_start(ctx->kd->pdev, bar)))
		return 0;
	for (off = 0; off < size; off += PAGE_SIZE) {
		if (ka_page_trapped(m, bar, off))
			continue;
		if (n && areas[n - 1].offset + areas[n - 1].size == off) {
			areas[n - 1].size += PAGE_SIZE;
			continue;
		}
		if (n == max)
			break;
		areas[n].offset = off;
		areas[n].size = PAGE_SIZE;
		n++;
	}
	return n;
}

/**
 * ka_bar_mmap() - map pages of a BAR that hold no trapped register
 * @ctx:	the context
 * @bar:	BAR index
 * @off:	offset in the BAR, page aligned
 * @vma:	the user mapping
 *
 * Registers where the device learns DMA addresses are always trapped, so
 * a mapping must not touch a page that holds one.
 *
 * Return: 0, or -EINVAL for a range outside the BAR or over a trapped page.
 */
int ka_bar_mmap(struct ka_ctx *ctx, int bar, u64 off, struct vm_area_struct *vma)
{
	const struct ka_model *m = ctx->kd->model;
	u64 len = vma->vm_end - vma->vm_start, p;

	if (!ctx->kd->bar[bar] || !PAGE_ALIGNED(off) || !len ||
	    off >= ctx->bar_size[bar] ||
	    len > ctx->bar_size[bar] - off ||
	    !PAGE_ALIGNED(pci_resource_start(ctx->kd->pdev, bar)))
		return -EINVAL;
	for (p = off; p < off + len; p += PAGE_SIZE)
		if (ka_page_trapped(m, bar, p))
			return -EINVAL;

	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	return io_remap_pfn_range(vma, vma->vm_start,
				  (pci_resource_start(ctx->kd->pdev, bar) + off) >> PAGE_SHIFT,
				  len, vma->vm_page_prot);
}
