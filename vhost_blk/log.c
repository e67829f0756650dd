// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk dirty logging (VHOST_F_LOG_ALL, VHOST_SET_LOG_BASE/FD).
 *
 * While VHOST_F_LOG_ALL is acked and a log base is set, every guest page
 * the device writes (data of IN and GET_ID requests, status bytes, used
 * ring entries and indexes, packed used descriptors) gets its bit set in
 * the owner's bitmap: bit N (little-endian bit order) for the 4 KiB page at
 * guest-physical N * 4096, as vhost does, so that a VMM can migrate.  Only
 * what the device wrote, or may have written, is logged: the data of an IN
 * request (all of it, even when the transfer failed part-way), the id bytes
 * of GET_ID, and the status byte; a writable buffer nothing was written into
 * is not.  Every logged range was translated through the memory table
 * first, and every bit lies below the table's end (vblk_mem.log_pages), the
 * bitmap size checked when the table or the base was set: whatever a guest
 * puts in its descriptors, no bit outside that bitmap is set.  After each
 * batch the log eventfd, if any, is signalled.
 */
#include <linux/bitops.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "vhost_blk_priv.h"

#define VBLK_LOG_SHIFT	12

/* Set @n bits from bit @first in the owner's bitmap; 0 or -EFAULT. */
static int vblk_log_bits(u64 base, u64 first, u64 n)
{
	while (n) {
		u64 byte = base + first / 8;
		unsigned long uaddr = byte & PAGE_MASK;
		unsigned int bit = (byte & ~PAGE_MASK) * 8 + first % 8;
		u64 i, run = min_t(u64, n, PAGE_SIZE * 8 - bit);
		struct page *page;
		void *va;

		if (pin_user_pages_fast(uaddr, 1, FOLL_WRITE, &page) != 1)
			return -EFAULT;
		va = kmap_local_page(page);
		for (i = 0; i < run; i++)
			set_bit_le(bit + i, va);
		kunmap_local(va);
		unpin_user_pages_dirty_lock(&page, 1, true);
		first += run;
		n -= run;
	}
	return 0;
}

/*
 * Log a guest-physical range the device wrote.  The range lies in the
 * memory table (translated before it was written): one outside the pages
 * the bitmap covers is a bug, refused like an unwritable log.
 */
int vblk_log_gpa(struct vblk_vq *vq, u64 gpa, u64 len)
{
	u64 first, last, end;

	if (!vblk_logging(vq) || !len)
		return 0;
	if (check_add_overflow(gpa, len - 1, &end) || !vq->mem)
		return -EFAULT;
	first = gpa >> VBLK_LOG_SHIFT;
	last = end >> VBLK_LOG_SHIFT;
	if (last >= vq->mem->log_pages)
		return -EFAULT;
	vq->logged = true;
	return vblk_log_bits(vq->log_base, first, last - first + 1);
}

/* Log a range of the owner's memory (ring structures) by its guest address. */
int vblk_log_uaddr(struct vblk_vq *vq, u64 uaddr, u64 len)
{
	const struct vblk_mem *mem = vq->mem;
	u32 i;

	if (!vblk_logging(vq))
		return 0;
	for (i = 0; i < mem->nregions; i++) {
		const struct vblk_region *r = &mem->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size &&
		    len <= r->size - (uaddr - r->uaddr))
			return vblk_log_gpa(vq, r->gpa + (uaddr - r->uaddr),
					    len);
	}
	return -EFAULT;
}

/**
 * vblk_log_pages() - pages a dirty bitmap for a memory table covers
 * @mem: the table (regions checked: none wraps past 2^64)
 *
 * Return: one past the highest page number of the table, which is also
 * the number of bits its bitmap has.  Rounded up without overflow: a
 * region may end at 2^64 - 1.
 */
u64 vblk_log_pages(const struct vblk_mem *mem)
{
	u64 end = 0;
	u32 i;

	for (i = 0; i < mem->nregions; i++)
		end = max(end, mem->regions[i].gpa + mem->regions[i].size);
	return (end >> VBLK_LOG_SHIFT) +
	       !!(end & ((1ULL << VBLK_LOG_SHIFT) - 1));
}

/* Size in bytes the bitmap must have to cover every page of @mem. */
static u64 vblk_log_size(const struct vblk_mem *mem)
{
	return mem->log_pages / 8 + !!(mem->log_pages % 8);
}

/* The bitmap at @base covers @mem (both may be unset). */
bool vblk_log_access_ok(u64 base, const struct vblk_mem *mem)
{
	u64 size;

	if (!base || !mem)
		return true;
	size = vblk_log_size(mem);
	return base + size >= base &&
	       access_ok(u64_to_user_ptr(base), size);
}
