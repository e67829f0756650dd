/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kt_edu.h - interface of the test-only kt_edu module (QEMU edu device
 * doing DMA through an iommu_soft domain); shared with the tests.
 */
#ifndef _KT_EDU_H
#define _KT_EDU_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Operations (kt_edu_xfer.op). */
#define KT_EDU_OP_TO_DEVICE	1	/* edu reads [iova, +len) into its buffer */
#define KT_EDU_OP_FROM_DEVICE	2	/* edu writes its buffer to [iova, +len) */
#define KT_EDU_OP_HOLD		3	/* translate and keep it, no device DMA */
#define KT_EDU_OP_RELEASE	4	/* release the held translation */
#define KT_EDU_OP_MAP_PAGES	5	/* pin [uaddr, +len), map_pages() it */
#define KT_EDU_OP_STATUS	6	/* report the owner callback counters */

/* kt_edu_xfer.flags (MAP_PAGES: IOMMU_SOFT_MAP_READ/WRITE) */
#define KT_EDU_F_FROM_DEVICE	(1U << 0)	/* HOLD: DMA_FROM_DEVICE, else TO */
#define KT_EDU_F_MASK64		(1U << 1)	/* HOLD: translate with a 64-bit mask */

/*
 * The edu buffer is at device address 0x40000, 4 KiB; a transfer must end
 * strictly below 0x41000, so dev_off + len must be below 4096.
 */
#define KT_EDU_BUF_SIZE		4096U

struct kt_edu_xfer {
	__u32 op;
	__u32 flags;
	__u32 domain_id;
	__u32 len;
	__u64 iova;
	__u32 dev_off;		/* offset in the edu buffer */
	__u32 bounced;		/* out: the translation used a bounce buffer */
	__u32 revoked;		/* out (RELEASE): an unmap revoked the hold */
	__u32 inval_calls;	/* out (RELEASE): invalidate callbacks seen */
	__u64 uaddr;		/* MAP_PAGES: user address */
	__u64 released_pages;	/* out (STATUS): pages the owner got back */
	__u64 last_iova;	/* out (STATUS): iova of the last release */
	__u64 last_npages;	/* out (STATUS): pages of the last release */
	__u32 release_calls;	/* out (STATUS): owner release callbacks */
	__u32 pad;
};

#define KT_EDU_XFER	_IOWR('k', 0xe0, struct kt_edu_xfer)

#endif /* _KT_EDU_H */
