/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommu_soft private declarations shared by its files.
 */
#ifndef _IOMMU_SOFT_PRIV_H
#define _IOMMU_SOFT_PRIV_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "uapi/linux/iommu_soft.h"
#include "kvmio/iommu_soft.h"

struct eventfd_ctx;
struct mm_struct;
struct iommu_soft_sysfs;

/* Module parameters (main.c); read with READ_ONCE(), clamped where used. */
extern unsigned int iommu_soft_max_mappings;
extern unsigned long iommu_soft_max_map_bytes;
extern unsigned int iommu_soft_max_xlate_bytes;
extern unsigned int iommu_soft_fault_log_size;
extern unsigned int iommu_soft_iotlb_size;
extern unsigned int iommu_soft_unmap_wait_ms;

/**
 * struct iommu_soft_mapping - one contiguous IOVA range
 * @node: in iommu_soft_domain.mappings, keyed by @iova
 * @dead_node: on a local list once unmapped, until released
 * @iova: first IOVA
 * @last: last IOVA (inclusive)
 * @perm: IOMMU_SOFT_PERM_*
 * @pages: one page per PAGE_SIZE of the range
 * @mm: for pages iommu_soft pinned itself: the mm they are accounted to
 *	(mmgrab()ed); NULL for caller-provided pages
 * @owner: for caller-provided pages: how to give them back
 */
struct iommu_soft_mapping {
	struct rb_node node;
	struct list_head dead_node;
	u64 iova;
	u64 last;
	u32 perm;
	struct page **pages;
	struct mm_struct *mm;
	struct iommu_soft_page_owner owner;
};

/**
 * struct iommu_soft_iotlb_entry - one cached IOVA page
 * @pfn: IOVA >> PAGE_SHIFT
 * @page: the host page
 * @perm: the permissions of its mapping
 * @valid: the entry holds a translation
 */
struct iommu_soft_iotlb_entry {
	u64 pfn;
	struct page *page;
	u32 perm;
	bool valid;
};

/**
 * struct iommu_soft_iotlb - direct-mapped per-domain translation cache
 * @lock: protects @entries (lookups run concurrently under the domain's
 *	map_lock held for reading; invalidation holds it for writing)
 * @entries: @size entries, @size a power of two
 * @size: number of entries
 */
struct iommu_soft_iotlb {
	spinlock_t lock;		/* protects entries[] */
	struct iommu_soft_iotlb_entry *entries;
	unsigned int size;
};

/**
 * struct iommu_soft_fault_log - bounded ring of fault records
 * @lock: protects every field below
 * @records: ring of @size records
 * @size: capacity
 * @head: index of the oldest record
 * @count: records in the ring
 * @overflow: faults dropped because the ring was full
 * @eventfd: signalled on every fault, or NULL
 */
struct iommu_soft_fault_log {
	spinlock_t lock;		/* protects the fields below */
	struct iommu_soft_fault_record *records;
	unsigned int size;
	unsigned int head;
	unsigned int count;
	u64 overflow;
	struct eventfd_ctx *eventfd;
};

/* Per-domain counters (atomic: updated without the domain's locks). */
struct iommu_soft_counters {
	atomic64_t translations;
	atomic64_t bounced;
	atomic64_t held;
	atomic64_t unmap_wait_timeouts;
	atomic64_t iotlb_hits;
	atomic64_t iotlb_misses;
	atomic64_t iotlb_evictions;
	atomic64_t iotlb_invalidations;
	atomic64_t faults[IOMMU_SOFT_FAULT_NR];
	atomic64_t rejected[IOMMU_SOFT_REJ_NR];
};

/**
 * struct iommu_soft_domain - a software IOMMU domain
 * @ref: lifetime; the last put unmaps everything and frees it
 * @id: global id (iommu_soft_ids)
 * @addr_width: address width in bits
 * @last_iova: highest valid IOVA, 2^@addr_width - 1
 * @map_lock: protects @mappings, @nr_mappings, @bytes_mapped,
 *	@pinned_pages and @dead; held for reading by lookups (translate, rw,
 *	query), for writing by map and unmap
 * @mappings: rbtree of struct iommu_soft_mapping, non-overlapping
 * @nr_mappings: entries in @mappings
 * @bytes_mapped: sum of their sizes
 * @pinned_pages: pages pinned by iommu_soft_map_user()
 * @dead: destroyed; nothing can be mapped any more
 * @hold_lock: protects @holds and the revoked flag of every hold
 * @holds: struct iommu_soft_xlate.hold_node of held translations
 * @hold_wq: woken when a hold is released
 * @inval_lock: protects @inval_fn and @inval_priv, held while calling it
 * @inval_fn: the consumer's invalidate callback, or NULL
 * @inval_priv: its argument
 * @iotlb: the translation cache
 * @faults: the fault log
 * @stats: counters
 * @sysfs: its sysfs directory (sysfs.c), NULL once removed
 */
struct iommu_soft_domain {
	struct kref ref;
	u32 id;
	unsigned int addr_width;
	u64 last_iova;

	struct rw_semaphore map_lock;	/* protects the mapping tree */
	struct rb_root mappings;
	unsigned long nr_mappings;
	u64 bytes_mapped;
	u64 pinned_pages;
	bool dead;

	spinlock_t hold_lock;		/* protects holds, each hold's revoked */
	struct list_head holds;
	wait_queue_head_t hold_wq;

	struct mutex inval_lock;	/* protects inval_fn, inval_priv */
	void (*inval_fn)(void *priv, u64 first, u64 last);
	void *inval_priv;

	struct iommu_soft_iotlb iotlb;
	struct iommu_soft_fault_log faults;
	struct iommu_soft_counters stats;
	struct iommu_soft_sysfs *sysfs;
};

/* domain.c */
int iommu_soft_domains_init(void);
void iommu_soft_domains_exit(void);
void iommu_soft_domain_destroy(struct iommu_soft_domain *d);
struct iommu_soft_mapping *__iommu_soft_find(struct iommu_soft_domain *d,
					     u64 iova);
void iommu_soft_get_stats(struct iommu_soft_domain *d,
			  struct iommu_soft_stats *st);
void iommu_soft_get_totals(struct iommu_soft_stats *st);

/* xlate.c */
size_t iommu_soft_max_xlate(void);
int __iommu_soft_rw(struct iommu_soft_domain *d, u64 iova, void *buf,
		    size_t len, bool write, const char *source);
bool iommu_soft_holds_overlap(struct iommu_soft_domain *d, u64 first,
			      u64 last);
void iommu_soft_wait_holds(struct iommu_soft_domain *d, u64 first, u64 last);

/* iotlb.c */
int iommu_soft_iotlb_init(struct iommu_soft_domain *d, unsigned int size);
void iommu_soft_iotlb_free(struct iommu_soft_domain *d);
bool iommu_soft_iotlb_lookup(struct iommu_soft_domain *d, u64 pfn,
			     struct page **page, u32 *perm);
void iommu_soft_iotlb_insert(struct iommu_soft_domain *d, u64 pfn,
			     struct page *page, u32 perm);
void __iommu_soft_iotlb_invalidate(struct iommu_soft_domain *d, u64 first,
				   u64 last);

/* fault.c */
int iommu_soft_faults_init(struct iommu_soft_domain *d, unsigned int size);
void iommu_soft_faults_free(struct iommu_soft_domain *d);
void iommu_soft_fault(struct iommu_soft_domain *d, const char *source,
		      u64 iova, u64 fault_addr, u64 len, u32 dir, u32 reason);
unsigned int iommu_soft_faults_read(struct iommu_soft_domain *d,
				    struct iommu_soft_fault_record *out,
				    unsigned int max, bool consume,
				    u64 *overflow, unsigned int *pending);
int iommu_soft_faults_set_eventfd(struct iommu_soft_domain *d, int fd);

/* sysfs.c */
int iommu_soft_sysfs_init(void);
void iommu_soft_sysfs_exit(void);
int iommu_soft_sysfs_add(struct iommu_soft_domain *d);
void iommu_soft_sysfs_remove(struct iommu_soft_domain *d);

/* uapi.c */
int iommu_soft_uapi_init(void);
void iommu_soft_uapi_exit(void);

#endif /* _IOMMU_SOFT_PRIV_H */
