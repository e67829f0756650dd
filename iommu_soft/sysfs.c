// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft sysfs: one read-only directory of statistics per live domain,
 * /sys/kernel/iommu_soft/domains/<id>/, one value per file.  Each read
 * takes a fresh snapshot (the same as IOMMU_SOFT_GET_STATS).  Two listings
 * serve the administrator of a domain owned by a kernel user (kvm_assign):
 * mapping_list (one line per mapping) and fault_log (the pending fault
 * records, left in the log).  Both fit one page; what does not is counted on
 * a last "... N more" line.  The statistics are world-readable; the two
 * listings, guest DMA addresses, are for root only (0400).
 */
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/sysfs.h>

#include "iommu_soft_priv.h"

/**
 * struct iommu_soft_sysfs - the sysfs directory of one domain
 * @kobj: /sys/kernel/iommu_soft/domains/<id>
 * @domain: the domain; valid while @kobj is in sysfs (kobject_del() waits
 *	for readers before the domain can go)
 */
struct iommu_soft_sysfs {
	struct kobject kobj;
	struct iommu_soft_domain *domain;
};

/* /sys/kernel/iommu_soft and its domains/ folder. */
static struct kobject *iommu_soft_sysfs_root;
static struct kobject *iommu_soft_sysfs_domains;

struct iommu_soft_stat_attr {
	struct kobj_attribute attr;
	size_t offset;
};

static ssize_t iommu_soft_stat_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	struct iommu_soft_sysfs *s = container_of(kobj, struct iommu_soft_sysfs,
						  kobj);
	struct iommu_soft_stat_attr *sa = container_of(attr,
						       struct iommu_soft_stat_attr,
						       attr);
	struct iommu_soft_stats st;
	u64 val;

	memset(&st, 0, sizeof(st));
	iommu_soft_get_stats(s->domain, &st);
	if (sa->offset == offsetof(struct iommu_soft_stats, addr_width))
		val = st.addr_width;
	else
		val = *(u64 *)((char *)&st + sa->offset);
	return sysfs_emit(buf, "%llu\n", val);
}

#define IOMMU_SOFT_STAT(_name, _field)					\
	static struct iommu_soft_stat_attr iommu_soft_stat_##_name = {	\
		.attr = __ATTR(_name, 0444, iommu_soft_stat_show, NULL), \
		.offset = offsetof(struct iommu_soft_stats, _field),	\
	}

IOMMU_SOFT_STAT(addr_width, addr_width);
IOMMU_SOFT_STAT(mappings, mappings);
IOMMU_SOFT_STAT(bytes_mapped, bytes_mapped);
IOMMU_SOFT_STAT(pinned_pages, pinned_pages);
IOMMU_SOFT_STAT(translations, translations);
IOMMU_SOFT_STAT(bounced, bounced);
IOMMU_SOFT_STAT(held, held);
IOMMU_SOFT_STAT(unmap_wait_timeouts, unmap_wait_timeouts);
IOMMU_SOFT_STAT(iotlb_hits, iotlb_hits);
IOMMU_SOFT_STAT(iotlb_misses, iotlb_misses);
IOMMU_SOFT_STAT(iotlb_evictions, iotlb_evictions);
IOMMU_SOFT_STAT(iotlb_invalidations, iotlb_invalidations);
IOMMU_SOFT_STAT(fault_overflow, fault_overflow);
IOMMU_SOFT_STAT(faults_not_present, faults[IOMMU_SOFT_FAULT_NOT_PRESENT]);
IOMMU_SOFT_STAT(faults_beyond_width, faults[IOMMU_SOFT_FAULT_BEYOND_WIDTH]);
IOMMU_SOFT_STAT(faults_no_write, faults[IOMMU_SOFT_FAULT_NO_WRITE]);
IOMMU_SOFT_STAT(faults_no_read, faults[IOMMU_SOFT_FAULT_NO_READ]);
IOMMU_SOFT_STAT(rejected_inval, rejected[IOMMU_SOFT_REJ_INVAL]);
IOMMU_SOFT_STAT(rejected_range, rejected[IOMMU_SOFT_REJ_RANGE]);
IOMMU_SOFT_STAT(rejected_exist, rejected[IOMMU_SOFT_REJ_EXIST]);
IOMMU_SOFT_STAT(rejected_limit, rejected[IOMMU_SOFT_REJ_LIMIT]);
IOMMU_SOFT_STAT(rejected_memlock, rejected[IOMMU_SOFT_REJ_MEMLOCK]);
IOMMU_SOFT_STAT(rejected_pin, rejected[IOMMU_SOFT_REJ_PIN]);

/* Room kept for the "... N more" line of a listing. */
#define IOMMU_SOFT_LIST_SLACK	64

static struct iommu_soft_domain *iommu_soft_kobj_domain(struct kobject *kobj)
{
	return container_of(kobj, struct iommu_soft_sysfs, kobj)->domain;
}

/* "<first iova>-<last iova> <r|-><w|-> <pages>" per mapping, by IOVA. */
static ssize_t mapping_list_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	struct iommu_soft_domain *d = iommu_soft_kobj_domain(kobj);
	struct iommu_soft_mapping_info m[16];
	unsigned long more = 0;
	unsigned int i, nr;
	u64 start = 0;
	ssize_t n = 0;
	bool again;

	do {
		nr = iommu_soft_get_mappings(d, &start, m, ARRAY_SIZE(m), &again);
		for (i = 0; i < nr; i++) {
			if (n > PAGE_SIZE - IOMMU_SOFT_LIST_SLACK) {
				more++;
				continue;
			}
			n += sysfs_emit_at(buf, n, "0x%llx-0x%llx %c%c %llu\n",
					   m[i].iova, m[i].iova + m[i].size - 1,
					   m[i].flags & IOMMU_SOFT_MAP_READ ? 'r' : '-',
					   m[i].flags & IOMMU_SOFT_MAP_WRITE ? 'w' : '-',
					   m[i].size / PAGE_SIZE);
		}
		/* start wraps to 0 after a mapping ending at the top */
	} while (again && start);
	if (more)
		n += sysfs_emit_at(buf, n, "... %lu more\n", more);
	return n;
}
/* root only: the IOVAs are guest DMA addresses */
static struct kobj_attribute iommu_soft_attr_mapping_list =
	__ATTR_RO_MODE(mapping_list, 0400);

static const char *iommu_soft_fault_name(u32 reason)
{
	switch (reason) {
	case IOMMU_SOFT_FAULT_NOT_PRESENT:
		return "not-present";
	case IOMMU_SOFT_FAULT_BEYOND_WIDTH:
		return "beyond-width";
	case IOMMU_SOFT_FAULT_NO_WRITE:
		return "no-write";
	case IOMMU_SOFT_FAULT_NO_READ:
		return "no-read";
	}
	return "?";
}

#define IOMMU_SOFT_FAULTS_SHOWN	32

/*
 * "<ns> <reason> <r|-><w|-> iova 0x.. addr 0x.. len N <source>" per
 * pending record, oldest first.
 */
static ssize_t fault_log_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	struct iommu_soft_domain *d = iommu_soft_kobj_domain(kobj);
	struct iommu_soft_fault_record *r;
	unsigned int i, nr, pending;
	ssize_t n = 0;

	r = kcalloc(IOMMU_SOFT_FAULTS_SHOWN, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	nr = iommu_soft_faults_read(d, r, IOMMU_SOFT_FAULTS_SHOWN, false, NULL,
				    &pending);
	for (i = 0; i < nr && n <= PAGE_SIZE - 2 * IOMMU_SOFT_LIST_SLACK; i++)
		n += sysfs_emit_at(buf, n,
				   "%llu %s %c%c iova 0x%llx addr 0x%llx len %llu %.*s\n",
				   r[i].timestamp_ns,
				   iommu_soft_fault_name(r[i].reason),
				   r[i].dir & IOMMU_SOFT_DIR_READ ? 'r' : '-',
				   r[i].dir & IOMMU_SOFT_DIR_WRITE ? 'w' : '-',
				   r[i].iova, r[i].fault_addr, r[i].len,
				   (int)sizeof(r[i].source), r[i].source);
	kfree(r);
	if (pending > i)
		n += sysfs_emit_at(buf, n, "... %u more\n", pending - i);
	return n;
}
/* root only, as mapping_list */
static struct kobj_attribute iommu_soft_attr_fault_log =
	__ATTR_RO_MODE(fault_log, 0400);

static struct attribute *iommu_soft_stat_attrs[] = {
	&iommu_soft_stat_addr_width.attr.attr,
	&iommu_soft_stat_mappings.attr.attr,
	&iommu_soft_stat_bytes_mapped.attr.attr,
	&iommu_soft_stat_pinned_pages.attr.attr,
	&iommu_soft_stat_translations.attr.attr,
	&iommu_soft_stat_bounced.attr.attr,
	&iommu_soft_stat_held.attr.attr,
	&iommu_soft_stat_unmap_wait_timeouts.attr.attr,
	&iommu_soft_stat_iotlb_hits.attr.attr,
	&iommu_soft_stat_iotlb_misses.attr.attr,
	&iommu_soft_stat_iotlb_evictions.attr.attr,
	&iommu_soft_stat_iotlb_invalidations.attr.attr,
	&iommu_soft_stat_fault_overflow.attr.attr,
	&iommu_soft_stat_faults_not_present.attr.attr,
	&iommu_soft_stat_faults_beyond_width.attr.attr,
	&iommu_soft_stat_faults_no_write.attr.attr,
	&iommu_soft_stat_faults_no_read.attr.attr,
	&iommu_soft_stat_rejected_inval.attr.attr,
	&iommu_soft_stat_rejected_range.attr.attr,
	&iommu_soft_stat_rejected_exist.attr.attr,
	&iommu_soft_stat_rejected_limit.attr.attr,
	&iommu_soft_stat_rejected_memlock.attr.attr,
	&iommu_soft_stat_rejected_pin.attr.attr,
	&iommu_soft_attr_mapping_list.attr,
	&iommu_soft_attr_fault_log.attr,
	NULL,
};
ATTRIBUTE_GROUPS(iommu_soft_stat);

static void iommu_soft_sysfs_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct iommu_soft_sysfs, kobj));
}

static const struct kobj_type iommu_soft_sysfs_ktype = {
	.release	= iommu_soft_sysfs_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= iommu_soft_stat_groups,
};

/* Create the directory of a new domain (its id is set). */
int iommu_soft_sysfs_add(struct iommu_soft_domain *d)
{
	struct iommu_soft_sysfs *s;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->domain = d;
	ret = kobject_init_and_add(&s->kobj, &iommu_soft_sysfs_ktype,
				   iommu_soft_sysfs_domains, "%u", d->id);
	if (ret) {
		kobject_put(&s->kobj);
		return ret;
	}
	d->sysfs = s;
	return 0;
}

/* Remove it; safe to call twice.  Waits for readers in progress. */
void iommu_soft_sysfs_remove(struct iommu_soft_domain *d)
{
	struct iommu_soft_sysfs *s = xchg(&d->sysfs, NULL);

	if (!s)
		return;
	kobject_del(&s->kobj);
	kobject_put(&s->kobj);
}

int iommu_soft_sysfs_init(void)
{
	iommu_soft_sysfs_root = kobject_create_and_add("iommu_soft", kernel_kobj);
	if (!iommu_soft_sysfs_root)
		return -ENOMEM;
	iommu_soft_sysfs_domains = kobject_create_and_add("domains",
							  iommu_soft_sysfs_root);
	if (!iommu_soft_sysfs_domains) {
		kobject_put(iommu_soft_sysfs_root);
		return -ENOMEM;
	}
	return 0;
}

void iommu_soft_sysfs_exit(void)
{
	kobject_put(iommu_soft_sysfs_domains);
	kobject_put(iommu_soft_sysfs_root);
}
