// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft domains: IOVA -> page mappings in an rbtree, pinning and
 * RLIMIT_MEMLOCK accounting of user memory, map / unmap (with splits) /
 * query, and the global id space.
 */
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "iommu_soft_priv.h"

/*
 * Global id -> domain.  Its internal lock orders lookups by id against the
 * last reference going away (kref_get_unless_zero() under xa_lock).
 */
static DEFINE_XARRAY_ALLOC1(iommu_soft_ids);
/* Next id to try; protected by the xarray's lock inside xa_alloc_cyclic(). */
static u32 iommu_soft_next_id;

/* Module-wide totals over all live domains (GET_STATS of domain 0). */
static atomic64_t iommu_soft_total_domains;
static atomic64_t iommu_soft_total_mappings;
static atomic64_t iommu_soft_total_bytes;
static atomic64_t iommu_soft_total_pinned;

static inline unsigned long iommu_soft_npages(const struct iommu_soft_mapping *m)
{
	return (unsigned long)((m->last - m->iova + 1) >> PAGE_SHIFT);
}

static inline void iommu_soft_reject(struct iommu_soft_domain *d,
				     unsigned int why)
{
	atomic64_inc(&d->stats.rejected[why]);
}

/* Domains */

static struct iommu_soft_domain *iommu_soft_domain_create(unsigned int width)
{
	struct iommu_soft_domain *d;
	int ret;

	if (width < IOMMU_SOFT_MIN_ADDR_WIDTH || width > IOMMU_SOFT_MAX_ADDR_WIDTH)
		return ERR_PTR(-EINVAL);

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return ERR_PTR(-ENOMEM);
	kref_init(&d->ref);
	d->addr_width = width;
	d->last_iova = width == 64 ? U64_MAX : (1ULL << width) - 1;
	init_rwsem(&d->map_lock);
	d->mappings = RB_ROOT;
	spin_lock_init(&d->hold_lock);
	INIT_LIST_HEAD(&d->holds);
	init_waitqueue_head(&d->hold_wq);
	mutex_init(&d->inval_lock);

	ret = iommu_soft_iotlb_init(d, READ_ONCE(iommu_soft_iotlb_size));
	if (ret)
		goto err_free;
	ret = iommu_soft_faults_init(d, READ_ONCE(iommu_soft_fault_log_size));
	if (ret)
		goto err_iotlb;
	/* Reserve an id (lookups see nothing yet), publish when complete. */
	ret = xa_alloc_cyclic(&iommu_soft_ids, &d->id, NULL, XA_LIMIT(1, INT_MAX),
			      &iommu_soft_next_id, GFP_KERNEL);
	if (ret < 0)
		goto err_faults;
	ret = iommu_soft_sysfs_add(d);
	if (ret)
		goto err_id;
	ret = xa_err(xa_store(&iommu_soft_ids, d->id, d, GFP_KERNEL));
	if (ret)
		goto err_sysfs;
	atomic64_inc(&iommu_soft_total_domains);
	return d;

err_sysfs:
	iommu_soft_sysfs_remove(d);

err_id:
	xa_erase(&iommu_soft_ids, d->id);
err_faults:
	iommu_soft_faults_free(d);
err_iotlb:
	iommu_soft_iotlb_free(d);
err_free:
	kfree(d);
	return ERR_PTR(ret == -EBUSY ? -ENOSPC : ret);
}

struct iommu_soft_domain *iommu_soft_domain_alloc(unsigned int addr_width)
{
	return iommu_soft_domain_create(addr_width);
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_alloc);

static void iommu_soft_domain_release(struct kref *kref)
{
	struct iommu_soft_domain *d = container_of(kref, struct iommu_soft_domain,
						   ref);

	/* No translation is held: each hold owns a reference. */
	iommu_soft_domain_destroy(d);
	iommu_soft_faults_free(d);
	iommu_soft_iotlb_free(d);
	mutex_destroy(&d->inval_lock);
	kfree(d);
	atomic64_dec(&iommu_soft_total_domains);
}

void iommu_soft_domain_get(struct iommu_soft_domain *domain)
{
	kref_get(&domain->ref);
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_get);

void iommu_soft_domain_put(struct iommu_soft_domain *domain)
{
	if (domain)
		kref_put(&domain->ref, iommu_soft_domain_release);
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_put);

struct iommu_soft_domain *iommu_soft_domain_get_by_id(u32 id)
{
	struct iommu_soft_domain *d;

	xa_lock(&iommu_soft_ids);
	d = xa_load(&iommu_soft_ids, id);
	if (d && !kref_get_unless_zero(&d->ref))
		d = NULL;
	xa_unlock(&iommu_soft_ids);
	return d;
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_get_by_id);

u32 iommu_soft_domain_id(struct iommu_soft_domain *domain)
{
	return domain->id;
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_id);

void iommu_soft_domain_set_invalidate(struct iommu_soft_domain *domain,
				      void (*fn)(void *priv, u64 first, u64 last),
				      void *priv)
{
	mutex_lock(&domain->inval_lock);
	domain->inval_fn = fn;
	domain->inval_priv = fn ? priv : NULL;
	mutex_unlock(&domain->inval_lock);
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_set_invalidate);

/* Mapping tree */

/* The mapping with the highest start <= @iova, or NULL. */
static struct iommu_soft_mapping *
__iommu_soft_find_le(struct iommu_soft_domain *d, u64 iova)
{
	struct rb_node *n = d->mappings.rb_node;
	struct iommu_soft_mapping *best = NULL;

	lockdep_assert_held(&d->map_lock);
	while (n) {
		struct iommu_soft_mapping *m = rb_entry(n, struct iommu_soft_mapping,
							node);

		if (m->iova <= iova) {
			best = m;
			n = n->rb_right;
		} else {
			n = n->rb_left;
		}
	}
	return best;
}

/* The mapping that covers @iova, or NULL. */
struct iommu_soft_mapping *__iommu_soft_find(struct iommu_soft_domain *d,
					     u64 iova)
{
	struct iommu_soft_mapping *m = __iommu_soft_find_le(d, iova);

	return m && iova <= m->last ? m : NULL;
}

static void __iommu_soft_link(struct iommu_soft_domain *d,
			      struct iommu_soft_mapping *m)
{
	struct rb_node **link = &d->mappings.rb_node, *parent = NULL;

	lockdep_assert_held_write(&d->map_lock);
	while (*link) {
		struct iommu_soft_mapping *cur;

		parent = *link;
		cur = rb_entry(parent, struct iommu_soft_mapping, node);
		link = m->iova < cur->iova ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&m->node, parent, link);
	rb_insert_color(&m->node, &d->mappings);
	d->nr_mappings++;
	atomic64_inc(&iommu_soft_total_mappings);
}

/* Check a page-granular range of the domain; *@last is its last byte. */
static int iommu_soft_check_range(struct iommu_soft_domain *d, u64 iova,
				  u64 size, u64 *last)
{
	if (!size || !PAGE_ALIGNED(iova) || !PAGE_ALIGNED(size)) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_INVAL);
		return -EINVAL;
	}
	if (check_add_overflow(iova, size - 1, last) || *last > d->last_iova) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_RANGE);
		return -EINVAL;
	}
	return 0;
}

static int iommu_soft_check_map(struct iommu_soft_domain *d, u64 iova,
				u64 size, u32 perm, u64 *last)
{
	int ret;

	if (!perm || (perm & ~(IOMMU_SOFT_PERM_READ | IOMMU_SOFT_PERM_WRITE))) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_INVAL);
		return -EINVAL;
	}
	ret = iommu_soft_check_range(d, iova, size, last);
	if (ret)
		return ret;
	if (size > READ_ONCE(iommu_soft_max_map_bytes)) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_LIMIT);
		return -E2BIG;
	}
	return 0;
}

static int __iommu_soft_can_insert(struct iommu_soft_domain *d, u64 iova,
				   u64 last)
{
	struct iommu_soft_mapping *prev;

	lockdep_assert_held(&d->map_lock);
	if (d->dead)
		return -ENODEV;
	if (d->nr_mappings >= READ_ONCE(iommu_soft_max_mappings)) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_LIMIT);
		return -ENOSPC;
	}
	prev = __iommu_soft_find_le(d, last);
	if (prev && prev->last >= iova) {
		iommu_soft_reject(d, IOMMU_SOFT_REJ_EXIST);
		return -EEXIST;
	}
	return 0;
}

static int iommu_soft_insert(struct iommu_soft_domain *d,
			     struct iommu_soft_mapping *m)
{
	int ret;

	down_write(&d->map_lock);
	ret = __iommu_soft_can_insert(d, m->iova, m->last);
	if (!ret) {
		__iommu_soft_link(d, m);
		d->bytes_mapped += m->last - m->iova + 1;
		atomic64_add(m->last - m->iova + 1, &iommu_soft_total_bytes);
		if (m->mm) {
			d->pinned_pages += iommu_soft_npages(m);
			atomic64_add(iommu_soft_npages(m), &iommu_soft_total_pinned);
		}
	}
	up_write(&d->map_lock);
	return ret;
}

static struct iommu_soft_mapping *iommu_soft_mapping_alloc(u64 iova, u64 last,
							   u32 perm)
{
	unsigned long npages = (unsigned long)((last - iova + 1) >> PAGE_SHIFT);
	struct iommu_soft_mapping *m;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return NULL;
	m->pages = kvmalloc_array(npages, sizeof(*m->pages), GFP_KERNEL_ACCOUNT);
	if (!m->pages) {
		kfree(m);
		return NULL;
	}
	m->iova = iova;
	m->last = last;
	m->perm = perm;
	INIT_LIST_HEAD(&m->dead_node);
	return m;
}

static void iommu_soft_mapping_free(struct iommu_soft_mapping *m)
{
	kvfree(m->pages);
	kfree(m);
}

/* Give an unmapped piece's pages back; no domain lock held. */
static void iommu_soft_mapping_release(struct iommu_soft_mapping *m)
{
	unsigned long npages = iommu_soft_npages(m);

	if (m->mm) {
		unpin_user_pages_dirty_lock(m->pages, npages,
					    m->perm & IOMMU_SOFT_PERM_WRITE);
		if (mmget_not_zero(m->mm)) {
			account_locked_vm(m->mm, npages, false);
			mmput(m->mm);
		}
		mmdrop(m->mm);
	} else {
		m->owner.release(m->owner.priv, m->iova, m->pages, npages);
	}
	iommu_soft_mapping_free(m);
}

/* Map */

int iommu_soft_map_user(struct iommu_soft_domain *domain, u64 iova,
			unsigned long uaddr, u64 size, u32 perm)
{
	unsigned int gup = FOLL_LONGTERM;
	struct iommu_soft_mapping *m;
	unsigned long npages, done = 0;
	u64 last, uend;
	int ret;

	if (!current->mm)
		return -EINVAL;
	ret = iommu_soft_check_map(domain, iova, size, perm, &last);
	if (ret)
		return ret;
	if (!PAGE_ALIGNED(uaddr) || check_add_overflow((u64)uaddr, size, &uend)) {
		iommu_soft_reject(domain, IOMMU_SOFT_REJ_INVAL);
		return -EINVAL;
	}
	if (perm & IOMMU_SOFT_PERM_WRITE)
		gup |= FOLL_WRITE;
	npages = (unsigned long)(size >> PAGE_SHIFT);

	/* Cheap early refusal before pinning anything. */
	down_read(&domain->map_lock);
	ret = __iommu_soft_can_insert(domain, iova, last);
	up_read(&domain->map_lock);
	if (ret)
		return ret;

	ret = account_locked_vm(current->mm, npages, true);
	if (ret) {
		iommu_soft_reject(domain, IOMMU_SOFT_REJ_MEMLOCK);
		return -ENOMEM;
	}
	m = iommu_soft_mapping_alloc(iova, last, perm);
	if (!m) {
		ret = -ENOMEM;
		goto err_unaccount;
	}
	while (done < npages) {
		int chunk = (int)min_t(unsigned long, npages - done, 1UL << 16);

		ret = pin_user_pages_fast(uaddr + (done << PAGE_SHIFT), chunk,
					  gup, m->pages + done);
		if (ret <= 0) {
			iommu_soft_reject(domain, IOMMU_SOFT_REJ_PIN);
			ret = ret ? ret : -EFAULT;
			goto err_unpin;
		}
		done += ret;
	}
	m->mm = current->mm;
	mmgrab(m->mm);
	ret = iommu_soft_insert(domain, m);
	if (ret)
		goto err_mm;
	return 0;

err_mm:
	mmdrop(m->mm);
err_unpin:
	unpin_user_pages(m->pages, done);
	iommu_soft_mapping_free(m);
err_unaccount:
	account_locked_vm(current->mm, npages, false);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_soft_map_user);

int iommu_soft_map_pages(struct iommu_soft_domain *domain, u64 iova,
			 struct page **pages, unsigned long npages, u32 perm,
			 const struct iommu_soft_page_owner *owner)
{
	struct iommu_soft_mapping *m;
	u64 size, last;
	int ret;

	if (!pages || !owner || !owner->release ||
	    check_mul_overflow((u64)npages, (u64)PAGE_SIZE, &size)) {
		iommu_soft_reject(domain, IOMMU_SOFT_REJ_INVAL);
		return -EINVAL;
	}
	ret = iommu_soft_check_map(domain, iova, size, perm, &last);
	if (ret)
		return ret;
	m = iommu_soft_mapping_alloc(iova, last, perm);
	if (!m)
		return -ENOMEM;
	memcpy(m->pages, pages, npages * sizeof(*pages));
	m->owner = *owner;
	ret = iommu_soft_insert(domain, m);
	if (ret)
		iommu_soft_mapping_free(m);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_soft_map_pages);

/* Unmap */

/* Split @m so that a new mapping starts at @at (@m->iova < @at <= @m->last). */
static int __iommu_soft_split(struct iommu_soft_domain *d,
			      struct iommu_soft_mapping *m, u64 at)
{
	struct iommu_soft_mapping *r;

	lockdep_assert_held_write(&d->map_lock);
	r = iommu_soft_mapping_alloc(at, m->last, m->perm);
	if (!r)
		return -ENOMEM;
	memcpy(r->pages, m->pages + ((at - m->iova) >> PAGE_SHIFT),
	       iommu_soft_npages(r) * sizeof(*r->pages));
	r->mm = m->mm;
	if (r->mm)
		mmgrab(r->mm);
	r->owner = m->owner;
	m->last = at - 1;
	__iommu_soft_link(d, r);
	return 0;
}

/*
 * Remove [@first, @last] (page aligned, inclusive) from the tree; the
 * removed pieces go to @dead.  Returns the bytes removed or -ENOMEM.
 */
static s64 __iommu_soft_unlink_range(struct iommu_soft_domain *d, u64 first,
				     u64 last, struct list_head *dead)
{
	struct iommu_soft_mapping *m;
	u64 bytes = 0;
	int ret;

	lockdep_assert_held_write(&d->map_lock);
	m = __iommu_soft_find(d, first);
	if (m && m->iova < first) {
		ret = __iommu_soft_split(d, m, first);
		if (ret)
			return ret;
	}
	m = __iommu_soft_find(d, last);
	if (m && m->last > last) {
		ret = __iommu_soft_split(d, m, last + 1);
		if (ret)
			return ret;
	}
	/* Every mapping that overlaps the range now lies inside it. */
	for (;;) {
		m = __iommu_soft_find_le(d, last);
		if (!m || m->iova < first)
			break;
		rb_erase(&m->node, &d->mappings);
		d->nr_mappings--;
		d->bytes_mapped -= m->last - m->iova + 1;
		atomic64_dec(&iommu_soft_total_mappings);
		atomic64_sub(m->last - m->iova + 1, &iommu_soft_total_bytes);
		if (m->mm) {
			d->pinned_pages -= iommu_soft_npages(m);
			atomic64_sub(iommu_soft_npages(m), &iommu_soft_total_pinned);
		}
		bytes += m->last - m->iova + 1;
		list_add(&m->dead_node, dead);
	}
	__iommu_soft_iotlb_invalidate(d, first, last);
	return bytes;
}

static s64 iommu_soft_unmap_range(struct iommu_soft_domain *d, u64 first,
				  u64 last)
{
	struct iommu_soft_mapping *m, *tmp;
	LIST_HEAD(dead);
	s64 ret;

	down_write(&d->map_lock);
	ret = __iommu_soft_unlink_range(d, first, last, &dead);
	up_write(&d->map_lock);
	if (list_empty(&dead))
		return ret;

	/* New lookups fail now; wait for translations held before. */
	iommu_soft_wait_holds(d, first, last);
	list_for_each_entry_safe(m, tmp, &dead, dead_node) {
		list_del(&m->dead_node);
		iommu_soft_mapping_release(m);
	}
	return ret;
}

s64 iommu_soft_unmap(struct iommu_soft_domain *domain, u64 iova, u64 size)
{
	u64 last;
	int ret;

	ret = iommu_soft_check_range(domain, iova, size, &last);
	if (ret)
		return ret;
	return iommu_soft_unmap_range(domain, iova, last);
}
EXPORT_SYMBOL_GPL(iommu_soft_unmap);

int iommu_soft_query(struct iommu_soft_domain *domain, u64 iova, u64 *start,
		     u64 *size, u32 *perm)
{
	struct iommu_soft_mapping *m;
	int ret = -ENOENT;

	down_read(&domain->map_lock);
	m = __iommu_soft_find(domain, iova);
	if (m) {
		*start = m->iova;
		*size = m->last - m->iova + 1;
		*perm = m->perm;
		ret = 0;
	}
	up_read(&domain->map_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(iommu_soft_query);

/**
 * iommu_soft_domain_destroy() - empty a domain for good
 * @d: the domain
 *
 * Marks it dead (no new mappings), removes its id and its sysfs directory
 * and unmaps everything.
 * The memory goes when the last reference is dropped.
 */
void iommu_soft_domain_destroy(struct iommu_soft_domain *d)
{
	down_write(&d->map_lock);
	d->dead = true;
	up_write(&d->map_lock);
	xa_cmpxchg(&iommu_soft_ids, d->id, d, NULL, GFP_KERNEL);
	iommu_soft_sysfs_remove(d);
	/* A split is never needed for the whole space: cannot fail. */
	iommu_soft_unmap_range(d, 0, d->last_iova);
}

void iommu_soft_get_stats(struct iommu_soft_domain *d,
			  struct iommu_soft_stats *st)
{
	struct iommu_soft_counters *c = &d->stats;
	unsigned int i;

	st->addr_width = d->addr_width;
	down_read(&d->map_lock);
	st->mappings = d->nr_mappings;
	st->bytes_mapped = d->bytes_mapped;
	st->pinned_pages = d->pinned_pages;
	up_read(&d->map_lock);
	st->translations = atomic64_read(&c->translations);
	st->bounced = atomic64_read(&c->bounced);
	st->held = atomic64_read(&c->held);
	st->unmap_wait_timeouts = atomic64_read(&c->unmap_wait_timeouts);
	st->iotlb_hits = atomic64_read(&c->iotlb_hits);
	st->iotlb_misses = atomic64_read(&c->iotlb_misses);
	st->iotlb_evictions = atomic64_read(&c->iotlb_evictions);
	st->iotlb_invalidations = atomic64_read(&c->iotlb_invalidations);
	for (i = 0; i < IOMMU_SOFT_FAULT_NR; i++)
		st->faults[i] = atomic64_read(&c->faults[i]);
	for (i = 0; i < IOMMU_SOFT_REJ_NR; i++)
		st->rejected[i] = atomic64_read(&c->rejected[i]);
	iommu_soft_faults_read(d, NULL, 0, false, &st->fault_overflow, NULL);
}

void iommu_soft_domain_stats(struct iommu_soft_domain *domain,
			     struct iommu_soft_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->argsz = sizeof(*st);
	st->domain_id = domain->id;
	iommu_soft_get_stats(domain, st);
}
EXPORT_SYMBOL_GPL(iommu_soft_domain_stats);

unsigned int iommu_soft_read_faults(struct iommu_soft_domain *domain,
				    struct iommu_soft_fault_record *out,
				    unsigned int max, u64 *overflow,
				    unsigned int *pending)
{
	return iommu_soft_faults_read(domain, out, max, true, overflow, pending);
}
EXPORT_SYMBOL_GPL(iommu_soft_read_faults);

unsigned int iommu_soft_get_mappings(struct iommu_soft_domain *domain,
				     u64 *start,
				     struct iommu_soft_mapping_info *out,
				     unsigned int max, bool *more)
{
	struct iommu_soft_mapping *m;
	struct rb_node *n;
	unsigned int i = 0;

	down_read(&domain->map_lock);
	m = __iommu_soft_find_le(domain, *start);
	if (m && m->last >= *start)
		n = &m->node;
	else
		n = m ? rb_next(&m->node) : rb_first(&domain->mappings);
	for (; n && i < max; n = rb_next(n), i++) {
		m = rb_entry(n, struct iommu_soft_mapping, node);
		out[i].iova = m->iova;
		out[i].size = m->last - m->iova + 1;
		out[i].flags = m->perm | (m->mm ? 0 : IOMMU_SOFT_MAPPING_OWNED);
		out[i].pad = 0;
		*start = m->last + 1;
	}
	*more = !!n;
	up_read(&domain->map_lock);
	return i;
}
EXPORT_SYMBOL_GPL(iommu_soft_get_mappings);

void iommu_soft_get_totals(struct iommu_soft_stats *st)
{
	st->domains = atomic64_read(&iommu_soft_total_domains);
	st->mappings = atomic64_read(&iommu_soft_total_mappings);
	st->bytes_mapped = atomic64_read(&iommu_soft_total_bytes);
	st->pinned_pages = atomic64_read(&iommu_soft_total_pinned);
}

int iommu_soft_domains_init(void)
{
	return 0;
}

void iommu_soft_domains_exit(void)
{
	/* Every domain is gone: files are closed and users hold the module. */
	xa_destroy(&iommu_soft_ids);
}
