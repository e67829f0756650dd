/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommu_soft kernel API: software DMA remapping for the kvmio modules.
 *
 * A domain is an address space of IOVA -> host pages, page-granular
 * (PAGE_SIZE, 4 KiB on x86), each mapping readable and/or writable.
 * Consumers (device models) never hand a device a guest address: they ask
 * iommu_soft_translate() for a bus address valid for one transfer, or copy
 * through iommu_soft_rw().  A refused request records a fault in the
 * domain's log and fails with -EFAULT; nothing is transferred.
 *
 * Holding translations: a struct iommu_soft_xlate keeps the pages it covers
 * referenced and the range "held".  Hold it only for one device transfer
 * and release it with iommu_soft_xlate_release() as soon as the transfer
 * completes or is aborted.  iommu_soft_unmap() of a range that overlaps a
 * held translation first calls the domain's invalidate callback (if one is
 * registered, see iommu_soft_domain_set_invalidate(); the consumer should
 * abort the transfer and release), then waits until the holders have
 * released, killably and at most the unmap_wait_ms module parameter.  If
 * that wait ends early, the held translations are marked revoked (a bounce
 * buffer is not copied back) and unmap returns; the page references of the
 * holders keep the pages allocated until they release, so a late device
 * write cannot reach memory that was reused, only the pages of the mapping
 * that was just removed.
 *
 * All functions may sleep unless stated otherwise.
 */
#ifndef _KVMIO_IOMMU_SOFT_H
#define _KVMIO_IOMMU_SOFT_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/list.h>
#include <linux/dma-direction.h>

/* Statistics, fault records and mapping info are shared with the uAPI. */
#include "uapi/linux/iommu_soft.h"

struct device;
struct page;
struct iommu_soft_domain;

/* Mapping permissions: the same values as the uAPI's IOMMU_SOFT_MAP_*. */
#define IOMMU_SOFT_PERM_READ	BIT(0)
#define IOMMU_SOFT_PERM_WRITE	BIT(1)

/**
 * struct iommu_soft_page_owner - releases caller-provided pages
 * @release: called once per unmapped piece of a mapping made with
 *	iommu_soft_map_pages(), after the piece left the domain and no
 *	translation holds it any more (or the wait gave up).  @iova and
 *	@npages describe the piece; @pages are its pages.  Called without the
 *	domain's locks held, from process context; it may sleep (e.g. call
 *	vfio_unpin_pages()).  It must not call back into the same domain's
 *	map/unmap.
 * @priv: passed to @release.
 */
struct iommu_soft_page_owner {
	void (*release)(void *priv, u64 iova, struct page **pages,
			unsigned long npages);
	void *priv;
};

/**
 * struct iommu_soft_xlate - one held translation
 * @dma_addr: bus address the device may use for the whole range (output)
 * @len: length of the range
 * @bounced: true when @dma_addr points to a bounce buffer
 *
 * The remaining fields are private to iommu_soft.
 */
struct iommu_soft_xlate {
	dma_addr_t dma_addr;
	size_t len;
	bool bounced;

	/* private: to iommu_soft */
	struct iommu_soft_domain *domain;
	struct device *dev;
	enum dma_data_direction dir;
	u64 iova;
	struct page **pages;
	unsigned long npages;
	void *bounce_cpu;
	size_t bounce_size;
	struct list_head hold_node;
	bool revoked;
};

/**
 * iommu_soft_domain_alloc() - create a domain not owned by any file
 * @addr_width: address width in bits, 32..64
 *
 * Return: the domain with one reference (drop it with iommu_soft_domain_put(),
 * which destroys the domain when it is the last), or an ERR_PTR().
 */
struct iommu_soft_domain *iommu_soft_domain_alloc(unsigned int addr_width);

/**
 * iommu_soft_domain_get_by_id() - look a domain up by its global id
 * @id: the id DOMAIN_CREATE returned (or iommu_soft_domain_id())
 *
 * Return: the domain with a new reference, or NULL if there is none.
 */
struct iommu_soft_domain *iommu_soft_domain_get_by_id(u32 id);

/**
 * iommu_soft_domain_get() - take a reference on a domain
 * @domain: the domain
 */
void iommu_soft_domain_get(struct iommu_soft_domain *domain);

/**
 * iommu_soft_domain_put() - drop a reference on a domain
 * @domain: the domain (NULL is ignored)
 *
 * The last reference unmaps everything and frees the domain.
 */
void iommu_soft_domain_put(struct iommu_soft_domain *domain);

/**
 * iommu_soft_domain_id() - the global id of a domain
 * @domain: the domain
 *
 * Return: the id, as iommu_soft_domain_get_by_id() and the uAPI know it.
 */
u32 iommu_soft_domain_id(struct iommu_soft_domain *domain);

/**
 * iommu_soft_domain_set_invalidate() - register the unmap callback
 * @domain: the domain
 * @fn: called by iommu_soft_unmap() with the unmapped range (@first and
 *	@last IOVA, inclusive) when it overlaps a held translation, before
 *	waiting for it; NULL removes it.
 *	Called from process context with no iommu_soft lock held; it must
 *	not wait for the release itself.
 * @priv: passed to @fn
 */
void iommu_soft_domain_set_invalidate(struct iommu_soft_domain *domain,
				      void (*fn)(void *priv, u64 first, u64 last),
				      void *priv);

/**
 * iommu_soft_map_user() - map a range of the current process's memory
 * @domain: the domain
 * @iova: first IOVA, page aligned
 * @uaddr: user address in current->mm, page aligned
 * @size: bytes, page aligned, not 0
 * @perm: IOMMU_SOFT_PERM_READ and/or IOMMU_SOFT_PERM_WRITE
 *
 * Pins the pages (FOLL_LONGTERM, FOLL_WRITE when writable) and accounts them
 * to current's RLIMIT_MEMLOCK (CAP_IPC_LOCK exempt).
 *
 * Return: 0, -EINVAL (alignment, size 0, wrap, beyond the domain's width,
 * bad @perm), -E2BIG (above max_map_bytes), -ENOSPC (max_mappings reached),
 * -EEXIST (overlap), -ENOMEM (memlock limit or no memory), -EFAULT,
 * -ENODEV (domain destroyed).
 */
int iommu_soft_map_user(struct iommu_soft_domain *domain, u64 iova,
			unsigned long uaddr, u64 size, u32 perm);

/**
 * iommu_soft_map_pages() - map pages the caller pinned itself
 * @domain: the domain
 * @iova: first IOVA, page aligned
 * @pages: @npages pages; the array is copied, the page references stay the
 *	caller's until @owner->release() hands them back
 * @npages: number of pages, not 0
 * @perm: IOMMU_SOFT_PERM_READ and/or IOMMU_SOFT_PERM_WRITE
 * @owner: how to give the pages back on unmap; copied, must not be NULL
 *
 * For users of vfio_pin_pages(): no memlock accounting is done here.
 *
 * Return: as iommu_soft_map_user() (no -EFAULT).  On failure @owner is not
 * called.
 */
int iommu_soft_map_pages(struct iommu_soft_domain *domain, u64 iova,
			 struct page **pages, unsigned long npages, u32 perm,
			 const struct iommu_soft_page_owner *owner);

/**
 * iommu_soft_unmap() - unmap a range, splitting straddling mappings
 * @domain: the domain
 * @iova: first IOVA, page aligned
 * @size: bytes, page aligned, not 0
 *
 * Invalidates the IOTLB for the range before it returns and waits for held
 * translations overlapping it (see the top of this header).
 *
 * Return: the number of bytes that were mapped in the range (0 when none),
 * or -EINVAL, -ENOMEM (a split needed memory; nothing changed).
 */
s64 iommu_soft_unmap(struct iommu_soft_domain *domain, u64 iova, u64 size);

/**
 * iommu_soft_query() - which mapping covers an IOVA
 * @domain: the domain
 * @iova: the address
 * @start: out: first IOVA of the mapping
 * @size: out: its size
 * @perm: out: its permissions
 *
 * Return: 0, or -ENOENT when nothing is mapped at @iova.
 */
int iommu_soft_query(struct iommu_soft_domain *domain, u64 iova, u64 *start,
		     u64 *size, u32 *perm);

/**
 * iommu_soft_translate() - bus address for one device transfer
 * @domain: the domain
 * @dev: the physical device that will do the DMA
 * @iova: first IOVA of the transfer
 * @len: bytes, 1..max_xlate_bytes
 * @dir: DMA_TO_DEVICE (device reads memory: needs read permission),
 *	DMA_FROM_DEVICE (device writes: needs write) or DMA_BIDIRECTIONAL
 * @x: filled in; release it with iommu_soft_xlate_release().  It must not
 *	hold another translation.  On failure it is zeroed, and releasing it
 *	is a no-op.
 *
 * Every byte must be mapped with the needed permission, or a fault is
 * recorded (source: dev_name(@dev)) and -EFAULT returned.  When the range
 * is physically contiguous and below @dev's DMA mask it is dma_map_page()d;
 * otherwise a coherent bounce buffer is allocated for @dev (which honours
 * its coherent DMA mask), filled from the pages for DMA_TO_DEVICE and
 * DMA_BIDIRECTIONAL.
 *
 * Return: 0, -EFAULT (fault recorded), -EINVAL (@len, @dir), -ENOMEM,
 * -EIO (no bus address @dev can reach), -ENODEV (domain destroyed).
 */
int iommu_soft_translate(struct iommu_soft_domain *domain, struct device *dev,
			 u64 iova, size_t len, enum dma_data_direction dir,
			 struct iommu_soft_xlate *x);

/**
 * iommu_soft_xlate_release() - end a transfer
 * @x: a translation iommu_soft_translate() filled in
 *
 * Copies a bounce buffer back to the pages for DMA_FROM_DEVICE and
 * DMA_BIDIRECTIONAL (unless an unmap revoked the translation), unmaps or
 * frees the bus address, drops the page references and the hold.
 */
void iommu_soft_xlate_release(struct iommu_soft_xlate *x);

/**
 * iommu_soft_xlate_move() - hand a held translation to another structure
 * @dst: takes it over (its previous contents are overwritten: it must
 *	hold nothing)
 * @src: the translation; zeroed afterwards (releasing it is a no-op)
 *
 * A held translation is linked into its domain by its own address, so it
 * must never be copied by assignment; a user that keeps it somewhere else
 * (a device slot, say) moves it with this.  Does not sleep.
 */
void iommu_soft_xlate_move(struct iommu_soft_xlate *dst,
			   struct iommu_soft_xlate *src);

/**
 * iommu_soft_rw() - CPU-side access through the domain
 * @domain: the domain
 * @iova: first IOVA
 * @buf: kernel buffer of @len bytes
 * @len: bytes, 1..max_xlate_bytes
 * @write: true: copy @buf into the domain (needs write permission);
 *	false: copy from the domain into @buf (needs read permission)
 *
 * Same checks, IOTLB and faults (source "cpu") as iommu_soft_translate();
 * all or nothing.
 *
 * Return: 0, -EFAULT (fault recorded), -EINVAL, -ENODEV.
 */
int iommu_soft_rw(struct iommu_soft_domain *domain, u64 iova, void *buf,
		  size_t len, bool write);

/**
 * iommu_soft_domain_stats() - snapshot of a domain's statistics
 * @domain: the domain
 * @st: filled in as IOMMU_SOFT_GET_STATS does (struct in
 *	<uapi/linux/iommu_soft.h>); argsz, flags and domain_id are set too
 */
void iommu_soft_domain_stats(struct iommu_soft_domain *domain,
			     struct iommu_soft_stats *st);

/**
 * iommu_soft_read_faults() - consume the oldest fault records
 * @domain: the domain
 * @out: room for @max records
 * @max: most records to consume
 * @overflow: out, optional: faults dropped because the log was full
 * @pending: out, optional: records still in the log
 *
 * Does not sleep.
 *
 * Return: the number of records copied to @out.
 */
unsigned int iommu_soft_read_faults(struct iommu_soft_domain *domain,
				    struct iommu_soft_fault_record *out,
				    unsigned int max, u64 *overflow,
				    unsigned int *pending);

/**
 * iommu_soft_get_mappings() - list mappings in IOVA order
 * @domain: the domain
 * @start: in: lowest IOVA of interest (the mapping covering it is
 *	included); out: where to continue
 * @out: room for @max entries
 * @max: most entries
 * @more: out: whether mappings remain after the ones copied
 *
 * Return: the number of entries copied.
 */
unsigned int iommu_soft_get_mappings(struct iommu_soft_domain *domain,
				     u64 *start,
				     struct iommu_soft_mapping_info *out,
				     unsigned int max, bool *more);

#endif /* _KVMIO_IOMMU_SOFT_H */
