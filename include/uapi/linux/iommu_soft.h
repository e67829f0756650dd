/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * iommu_soft.h - user API of the kvmio software DMA-remapping engine
 *
 * /dev/iommu_soft (mode 0600; open() fails with EPERM without
 * CAP_SYS_ADMIN) gives a process software IOMMU domains: address spaces of
 * IOVA -> pinned host pages with read/write permission per mapping.  Each
 * open file owns the domains it creates; closing the file (or the process
 * exiting) destroys them, unpins every page and returns the locked-memory
 * accounting.
 *
 * The capability is checked at open(): whoever holds the open file
 * afterwards (a descriptor passed to another process, or kept across a
 * privilege drop, included) may use every ioctl on the file's own domains.
 * IOMMU_SOFT_GET_STATS and IOMMU_SOFT_GET_MAPPINGS on a domain the file
 * does not own (another file's, or a kernel user's such as kvm_assign's:
 * guest DMA addresses) check CAP_SYS_ADMIN again at the call and fail with
 * EPERM without it.
 *
 * Every structure starts with argsz (the size of the structure the caller
 * passes; the kernel reads/writes at most that many bytes and fails with
 * EINVAL if it is smaller than the structure as first defined here) and
 * flags (unknown flags fail with EINVAL).  Padding and reserved fields must
 * be zero (EINVAL otherwise).  All ioctls are _IO() with the structure
 * passed by pointer, as in VFIO.
 *
 * Granularity is 4 KiB (IOMMU_SOFT_PAGE_SIZE): map and unmap addresses and
 * sizes must be multiples of it.
 */
#ifndef _UAPI_LINUX_IOMMU_SOFT_H
#define _UAPI_LINUX_IOMMU_SOFT_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define IOMMU_SOFT_TYPE		0xB6	/* ioctl magic */
#define IOMMU_SOFT_BASE		0x40

#define IOMMU_SOFT_PAGE_SIZE	4096ULL

/* Address width accepted by DOMAIN_CREATE (bits). */
#define IOMMU_SOFT_MIN_ADDR_WIDTH	32
#define IOMMU_SOFT_MAX_ADDR_WIDTH	64

/*
 * Fault reasons.  Values follow Intel VT-d's DMA-remapping fault reasons
 * where one fits:
 *
 * IOMMU_SOFT_FAULT_NOT_PRESENT   0x01  no mapping covers the address (VT-d
 *                                      reports a not-present leaf entry as
 *                                      0x05/0x06 with R=W=0; here it has its
 *                                      own value so it can be told apart)
 * IOMMU_SOFT_FAULT_BEYOND_WIDTH  0x04  address above 2^width - 1 of the
 *                                      domain, or the range wraps (VT-d 0x04)
 * IOMMU_SOFT_FAULT_NO_WRITE      0x05  write to a mapping without write
 *                                      permission (VT-d 0x05)
 * IOMMU_SOFT_FAULT_NO_READ       0x06  read of a mapping without read
 *                                      permission (VT-d 0x06)
 */
#define IOMMU_SOFT_FAULT_NOT_PRESENT	0x01
#define IOMMU_SOFT_FAULT_BEYOND_WIDTH	0x04
#define IOMMU_SOFT_FAULT_NO_WRITE	0x05
#define IOMMU_SOFT_FAULT_NO_READ	0x06

/* Access direction of a fault record (seen from the device). */
#define IOMMU_SOFT_DIR_READ		0x1	/* device reads memory */
#define IOMMU_SOFT_DIR_WRITE		0x2	/* device writes memory */

/* Mapping permissions (IOMMU_SOFT_MAP.flags). */
#define IOMMU_SOFT_MAP_READ		(1U << 0)
#define IOMMU_SOFT_MAP_WRITE		(1U << 1)

/*
 * IOMMU_SOFT_DOMAIN_CREATE - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 0),
 *			      struct iommu_soft_domain_create
 *
 * Create a domain of @addr_width bits (32..64; 0 means 48) owned by this
 * file.  On success @domain_id holds its id, which is global: other kernel
 * modules find the domain with iommu_soft_domain_get_by_id().
 *
 * Errors: EINVAL (argsz, flags, padding, width), ENOSPC (no id left),
 * ENOMEM.
 */
struct iommu_soft_domain_create {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 addr_width;	/* in */
	__u32 domain_id;	/* out */
};

#define IOMMU_SOFT_DOMAIN_CREATE	_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 0)

/*
 * IOMMU_SOFT_DOMAIN_DESTROY - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 1),
 *			       struct iommu_soft_domain_destroy
 *
 * Destroy a domain of this file: every mapping is unmapped (waiting for
 * translations a kernel user holds, see the kernel API) and unpinned.  A
 * kernel user holding a reference keeps an empty, dead domain until it
 * drops it.
 *
 * Errors: EINVAL (argsz, flags, padding), ENOENT (no such domain in this
 * file).
 */
struct iommu_soft_domain_destroy {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__u32 pad;		/* must be 0 */
};

#define IOMMU_SOFT_DOMAIN_DESTROY	_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 1)

/*
 * IOMMU_SOFT_MAP - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 2),
 *		    struct iommu_soft_map
 *
 * Map @size bytes of the caller's memory at @vaddr to [@iova, @iova + @size)
 * with the permissions in @flags (IOMMU_SOFT_MAP_READ and/or _WRITE; at
 * least one).  The pages are pinned (long-term, for writing when
 * IOMMU_SOFT_MAP_WRITE) and accounted to the caller's RLIMIT_MEMLOCK unless
 * it has CAP_IPC_LOCK.
 *
 * Errors: EINVAL (argsz, flags, padding, @iova/@vaddr/@size not 4 KiB
 * aligned, @size 0, range wraps or lies beyond the domain's width),
 * E2BIG (@size above the max_map_bytes module parameter), ENOSPC (the domain
 * already has max_mappings mappings), EEXIST (overlaps a mapping), ENOMEM
 * (RLIMIT_MEMLOCK exceeded or out of memory), EFAULT (@vaddr not mapped
 * or not writable when writing is asked), ENOENT (bad domain id).
 */
struct iommu_soft_map {
	__u32 argsz;
	__u32 flags;		/* IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE */
	__u32 domain_id;
	__u32 pad;		/* must be 0 */
	__u64 iova;
	__u64 vaddr;
	__u64 size;
};

#define IOMMU_SOFT_MAP			_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 2)

/*
 * IOMMU_SOFT_UNMAP - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 3),
 *		      struct iommu_soft_unmap
 *
 * Unmap every page of [@iova, @iova + @size).  Mappings that straddle the
 * range are split: their parts outside it stay mapped.  Pages in the range
 * that were not mapped are ignored.  On return @size holds the number of
 * bytes that were mapped and are now unmapped (0 when nothing was).
 *
 * Errors: EINVAL (argsz, flags, padding, alignment, @size 0, wrap), ENOENT
 * (bad domain id), ENOMEM (a split needed memory; nothing was unmapped).
 */
struct iommu_soft_unmap {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__u32 pad;		/* must be 0 */
	__u64 iova;
	__u64 size;		/* in: range size; out: bytes unmapped */
};

#define IOMMU_SOFT_UNMAP		_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 3)

/*
 * IOMMU_SOFT_DMA_RW - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 4),
 *		       struct iommu_soft_dma_rw
 *
 * A simulated device access through the domain, for tests and the tool:
 * with IOMMU_SOFT_DMA_RW_WRITE the "device" writes @len bytes from the
 * user buffer @buf to [@iova, @iova + @len) (needs write permission),
 * otherwise it reads them from the domain into @buf (needs read
 * permission).  Every byte is checked first; if any is not permitted
 * nothing is copied, a fault is recorded and the call fails with EFAULT.
 * It goes through the IOTLB like a translation.  No physical address is
 * ever exposed.
 *
 * Errors: EINVAL (argsz, flags, padding, @len 0 or above max_xlate_bytes),
 * EFAULT (a fault was recorded, or @buf is bad), ENOENT (bad domain id).
 */
struct iommu_soft_dma_rw {
	__u32 argsz;
	__u32 flags;
#define IOMMU_SOFT_DMA_RW_WRITE		(1U << 0)
	__u32 domain_id;
	__u32 pad;		/* must be 0 */
	__u64 iova;
	__u64 buf;		/* user pointer */
	__u64 len;
};

#define IOMMU_SOFT_DMA_RW		_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 4)

/**
 * struct iommu_soft_fault_record - one recorded fault
 * @timestamp_ns: ktime_get_ns() when it was recorded
 * @iova: start of the refused access
 * @fault_addr: first IOVA of the access that was refused
 * @len: length of the refused access
 * @reason: IOMMU_SOFT_FAULT_*
 * @dir: IOMMU_SOFT_DIR_READ and/or IOMMU_SOFT_DIR_WRITE
 * @domain_id: the domain
 * @pad: zero
 * @source: NUL-terminated name of the requester (the struct device name for
 *	    translations, "cpu" for iommu_soft_rw(), "ioctl" for DMA_RW)
 */
struct iommu_soft_fault_record {
	__u64 timestamp_ns;
	__u64 iova;
	__u64 fault_addr;
	__u64 len;
	__u32 reason;
	__u32 dir;
	__u32 domain_id;
	__u32 pad;
	char source[32];
};

/*
 * IOMMU_SOFT_GET_FAULTS - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 5),
 *			   struct iommu_soft_get_faults
 *
 * Copy out (and consume) up to @count of the oldest fault records of a
 * domain to the array at @records.  On return @count holds the number
 * copied, @overflow the number of faults dropped because the log (its size
 * is the fault_log_size module parameter when the domain was created) was
 * full since the domain was created, and @pending the number still in the
 * log.  @count 0 only reports @overflow and @pending.
 *
 * Errors: EINVAL (argsz, flags, padding, @count above 4096), EFAULT,
 * ENOENT (bad domain id).
 */
struct iommu_soft_get_faults {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__u32 count;		/* in: room in @records; out: copied */
	__u64 records;		/* user pointer to struct iommu_soft_fault_record[] */
	__u64 overflow;		/* out */
	__u32 pending;		/* out */
	__u32 pad;		/* must be 0 */
};

#define IOMMU_SOFT_GET_FAULTS		_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 5)

/*
 * IOMMU_SOFT_SET_FAULT_EVENTFD - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 6),
 *				  struct iommu_soft_set_fault_eventfd
 *
 * Signal eventfd @fd on every fault recorded in the domain; @fd -1 removes
 * it.  The previous eventfd, if any, is replaced.
 *
 * Errors: EINVAL (argsz, flags, padding, @fd not an eventfd), EBADF, ENOENT.
 */
struct iommu_soft_set_fault_eventfd {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__s32 fd;
};

#define IOMMU_SOFT_SET_FAULT_EVENTFD	_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 6)

/* Indices of iommu_soft_stats.rejected[]: refused requests by cause. */
#define IOMMU_SOFT_REJ_INVAL		0	/* bad alignment, size, flags */
#define IOMMU_SOFT_REJ_RANGE		1	/* wraps or beyond the width */
#define IOMMU_SOFT_REJ_EXIST		2	/* overlaps a mapping */
#define IOMMU_SOFT_REJ_LIMIT		3	/* max_mappings / max_map_bytes */
#define IOMMU_SOFT_REJ_MEMLOCK		4	/* RLIMIT_MEMLOCK */
#define IOMMU_SOFT_REJ_PIN		5	/* pinning the user pages failed */
#define IOMMU_SOFT_REJ_NR		8

/* Indices of iommu_soft_stats.faults[]: the fault reason values. */
#define IOMMU_SOFT_FAULT_NR		8

/*
 * IOMMU_SOFT_GET_STATS - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 7),
 *			  struct iommu_soft_stats
 *
 * Statistics of one domain.  @faults is indexed by fault reason value,
 * @rejected by IOMMU_SOFT_REJ_*.  @translations counts successful
 * translations and device accesses, @bounced those that needed a bounce
 * buffer.  The iotlb_* counters describe the per-domain translation cache.
 *
 * Statistics are read-only: @domain_id may name any domain (also one of
 * another file or of a kernel user such as kvm_assign, for a caller with
 * CAP_SYS_ADMIN at the call), not only this file's.  @domain_id 0 asks for the module-wide totals instead: @domains (live
 * domains, including those of other files and of kernel users),
 * @mappings, @bytes_mapped and @pinned_pages summed over all of them; every
 * other counter is 0.  Any caller that can open the device may read them.
 *
 * Errors: EINVAL (argsz, flags, padding), ENOENT (bad domain id), EPERM
 * (another file's or a kernel user's domain without CAP_SYS_ADMIN).
 */
struct iommu_soft_stats {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__u32 addr_width;	/* out */
	__u64 mappings;
	__u64 bytes_mapped;
	__u64 pinned_pages;	/* pages pinned by MAP (not caller-provided) */
	__u64 translations;
	__u64 bounced;
	__u64 held;		/* translations held right now */
	__u64 unmap_wait_timeouts;
	__u64 iotlb_hits;
	__u64 iotlb_misses;
	__u64 iotlb_evictions;
	__u64 iotlb_invalidations;
	__u64 fault_overflow;
	__u64 domains;		/* domain_id 0 only */
	__u64 faults[IOMMU_SOFT_FAULT_NR];
	__u64 rejected[IOMMU_SOFT_REJ_NR];
};

#define IOMMU_SOFT_GET_STATS		_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 7)

/**
 * struct iommu_soft_mapping_info - one mapping (IOMMU_SOFT_GET_MAPPINGS)
 * @iova: first IOVA
 * @size: bytes
 * @flags: IOMMU_SOFT_MAP_READ / _WRITE, and IOMMU_SOFT_MAPPING_OWNED when
 *	the pages were pinned by a kernel user (e.g. through VFIO) rather
 *	than by IOMMU_SOFT_MAP
 * @pad: zero
 */
struct iommu_soft_mapping_info {
	__u64 iova;
	__u64 size;
	__u32 flags;
#define IOMMU_SOFT_MAPPING_OWNED	(1U << 31)
	__u32 pad;
};

/*
 * IOMMU_SOFT_GET_MAPPINGS - _IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 8),
 *			     struct iommu_soft_get_mappings
 *
 * List the mappings of a domain in IOVA order, starting with the one that
 * covers or follows @start, into the array at @entries (room for @count,
 * at most 4096).  On return @count holds the number copied, @more is 1
 * when further mappings exist and @start the IOVA to pass to continue.
 * Read-only: @domain_id may name any domain, as for IOMMU_SOFT_GET_STATS.
 *
 * Errors: EINVAL (argsz, flags, padding, @count above 4096), EFAULT,
 * ENOENT (no such domain), EPERM (as for IOMMU_SOFT_GET_STATS).
 */
struct iommu_soft_get_mappings {
	__u32 argsz;
	__u32 flags;		/* none defined, must be 0 */
	__u32 domain_id;
	__u32 count;		/* in: room; out: copied */
	__u64 start;		/* in: lowest IOVA; out: where to continue */
	__u64 entries;		/* user pointer to struct iommu_soft_mapping_info[] */
	__u32 more;		/* out */
	__u32 pad;		/* must be 0 */
};

#define IOMMU_SOFT_GET_MAPPINGS		_IO(IOMMU_SOFT_TYPE, IOMMU_SOFT_BASE + 8)

#endif /* _UAPI_LINUX_IOMMU_SOFT_H */
