// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/irq_remap/table<id>/: one directory per table with
 * its identity, statistics and the coalesce_us knob, and two listings for
 * the administrator (mode 0400: they show what guests and VMMs programmed
 * and did): entry_list (the allocated entries, as a VT-d IRTE dump would
 * show them) and fault_log (the pending fault records, left in the log).  Both fit one page; what does not is counted on a "... N more" line.
 */
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "irq_remap_priv.h"

/* /sys/kernel/irq_remap */
static struct kobject *irq_remap_kobj;

/**
 * struct irq_remap_sysfs - a table's sysfs directory
 * @kobj: the directory
 * @t: its table; valid while the directory is in sysfs (kobject_del()
 *	waits for running show/store calls)
 */
struct irq_remap_sysfs {
	struct kobject		kobj;
	struct irq_remap_table	*t;
};

enum irq_remap_attr_id {
	IRQ_REMAP_A_REQUESTER_ID,
	IRQ_REMAP_A_NR_ENTRIES,
	IRQ_REMAP_A_ALLOCATED,
	IRQ_REMAP_A_COALESCE_US,
	IRQ_REMAP_A_RAISED,
	IRQ_REMAP_A_ACCEPTED,
	IRQ_REMAP_A_DELIVERED,
	IRQ_REMAP_A_COALESCED,
	IRQ_REMAP_A_MASKED,
	IRQ_REMAP_A_INTX_SUPPRESSED,
	IRQ_REMAP_A_TIMER_FIRES,
	IRQ_REMAP_A_UNMASK_FIRES,
	IRQ_REMAP_A_RESAMPLE_FIRES,
	IRQ_REMAP_A_DEFERRED,
	IRQ_REMAP_A_RESAMPLE_LOOPS,
	IRQ_REMAP_A_FAULTS_INDEX,
	IRQ_REMAP_A_FAULTS_NOT_PRESENT,
	IRQ_REMAP_A_FAULTS_SOURCE_ID,
	IRQ_REMAP_A_FAULTS_MODE,
	IRQ_REMAP_A_FAULT_OVERFLOW,
	IRQ_REMAP_A_FAULT_RECORDS,
};

struct irq_remap_attr {
	struct kobj_attribute	attr;
	enum irq_remap_attr_id	id;
};

static ssize_t irq_remap_attr_show(struct kobject *kobj,
				   struct kobj_attribute *kattr, char *buf)
{
	struct irq_remap_table *t =
		container_of(kobj, struct irq_remap_sysfs, kobj)->t;
	struct irq_remap_attr *a = container_of(kattr, struct irq_remap_attr,
						attr);
	u64 faults[IRQ_REMAP_FI_NR], overflow, raised, v;
	struct irq_remap_stats sum;
	unsigned int alloc, records;
	unsigned long irqflags;
	u32 coalesce_us;

	irq_remap_table_totals(t, &sum, &alloc, &coalesce_us);
	irq_remap_fault_counts(t, faults, &overflow, &records);
	spin_lock_irqsave(&t->lock, irqflags);
	raised = t->raised;
	spin_unlock_irqrestore(&t->lock, irqflags);

	switch (a->id) {
	case IRQ_REMAP_A_REQUESTER_ID:
		return sysfs_emit(buf, "%04x\n", t->requester_id);
	case IRQ_REMAP_A_NR_ENTRIES:
		v = t->nr_entries;
		break;
	case IRQ_REMAP_A_ALLOCATED:
		v = alloc;
		break;
	case IRQ_REMAP_A_COALESCE_US:
		v = coalesce_us;
		break;
	case IRQ_REMAP_A_RAISED:
		v = raised;
		break;
	case IRQ_REMAP_A_ACCEPTED:
		v = sum.accepted;
		break;
	case IRQ_REMAP_A_DELIVERED:
		v = sum.delivered;
		break;
	case IRQ_REMAP_A_COALESCED:
		v = sum.coalesced;
		break;
	case IRQ_REMAP_A_MASKED:
		v = sum.masked;
		break;
	case IRQ_REMAP_A_INTX_SUPPRESSED:
		v = sum.intx_suppressed;
		break;
	case IRQ_REMAP_A_TIMER_FIRES:
		v = sum.timer_fires;
		break;
	case IRQ_REMAP_A_UNMASK_FIRES:
		v = sum.unmask_fires;
		break;
	case IRQ_REMAP_A_RESAMPLE_FIRES:
		v = sum.resample_fires;
		break;
	case IRQ_REMAP_A_DEFERRED:
		v = sum.deferred;
		break;
	case IRQ_REMAP_A_RESAMPLE_LOOPS:
		v = sum.resample_loops;
		break;
	case IRQ_REMAP_A_FAULTS_INDEX:
		v = faults[IRQ_REMAP_FI_INDEX];
		break;
	case IRQ_REMAP_A_FAULTS_NOT_PRESENT:
		v = faults[IRQ_REMAP_FI_NOT_PRESENT];
		break;
	case IRQ_REMAP_A_FAULTS_SOURCE_ID:
		v = faults[IRQ_REMAP_FI_SOURCE_ID];
		break;
	case IRQ_REMAP_A_FAULTS_MODE:
		v = faults[IRQ_REMAP_FI_MODE];
		break;
	case IRQ_REMAP_A_FAULT_OVERFLOW:
		v = overflow;
		break;
	case IRQ_REMAP_A_FAULT_RECORDS:
		v = records;
		break;
	default:
		return -EINVAL;
	}
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t irq_remap_coalesce_store(struct kobject *kobj,
					struct kobj_attribute *kattr,
					const char *buf, size_t count)
{
	struct irq_remap_table *t =
		container_of(kobj, struct irq_remap_sysfs, kobj)->t;
	u32 us;
	int ret;

	ret = kstrtou32(buf, 0, &us);
	if (ret)
		return ret;
	ret = irq_remap_table_set_coalesce(t, us);
	return ret ? ret : count;
}

#define IRQ_REMAP_ATTR_RO(_name, _id)					\
	static struct irq_remap_attr irq_remap_attr_##_name = {		\
		.attr = __ATTR(_name, 0444, irq_remap_attr_show, NULL),	\
		.id = _id,						\
	}

IRQ_REMAP_ATTR_RO(requester_id, IRQ_REMAP_A_REQUESTER_ID);
IRQ_REMAP_ATTR_RO(nr_entries, IRQ_REMAP_A_NR_ENTRIES);
IRQ_REMAP_ATTR_RO(allocated, IRQ_REMAP_A_ALLOCATED);
IRQ_REMAP_ATTR_RO(raised, IRQ_REMAP_A_RAISED);
IRQ_REMAP_ATTR_RO(accepted, IRQ_REMAP_A_ACCEPTED);
IRQ_REMAP_ATTR_RO(delivered, IRQ_REMAP_A_DELIVERED);
IRQ_REMAP_ATTR_RO(coalesced, IRQ_REMAP_A_COALESCED);
IRQ_REMAP_ATTR_RO(masked, IRQ_REMAP_A_MASKED);
IRQ_REMAP_ATTR_RO(intx_suppressed, IRQ_REMAP_A_INTX_SUPPRESSED);
IRQ_REMAP_ATTR_RO(timer_fires, IRQ_REMAP_A_TIMER_FIRES);
IRQ_REMAP_ATTR_RO(unmask_fires, IRQ_REMAP_A_UNMASK_FIRES);
IRQ_REMAP_ATTR_RO(resample_fires, IRQ_REMAP_A_RESAMPLE_FIRES);
IRQ_REMAP_ATTR_RO(deferred, IRQ_REMAP_A_DEFERRED);
IRQ_REMAP_ATTR_RO(resample_loops, IRQ_REMAP_A_RESAMPLE_LOOPS);
IRQ_REMAP_ATTR_RO(faults_index, IRQ_REMAP_A_FAULTS_INDEX);
IRQ_REMAP_ATTR_RO(faults_not_present, IRQ_REMAP_A_FAULTS_NOT_PRESENT);
IRQ_REMAP_ATTR_RO(faults_source_id, IRQ_REMAP_A_FAULTS_SOURCE_ID);
IRQ_REMAP_ATTR_RO(faults_mode, IRQ_REMAP_A_FAULTS_MODE);
IRQ_REMAP_ATTR_RO(fault_overflow, IRQ_REMAP_A_FAULT_OVERFLOW);
IRQ_REMAP_ATTR_RO(fault_records, IRQ_REMAP_A_FAULT_RECORDS);

/* Room kept for the "... N more" line of a listing. */
#define IRQ_REMAP_LIST_SLACK	128

static struct irq_remap_table *irq_remap_kobj_table(struct kobject *kobj)
{
	return container_of(kobj, struct irq_remap_sysfs, kobj)->t;
}

/*
 * "<handle> <P|-><M|-><I|-> svt N sid 0x.. sq N bus a-b addr 0x.. data 0x..
 * pending N delivered N" per allocated entry (P present, M masked, I INTx).
 */
static ssize_t entry_list_show(struct kobject *kobj,
			       struct kobj_attribute *kattr, char *buf)
{
	struct irq_remap_table *t = irq_remap_kobj_table(kobj);
	struct irq_remap_entry_info e;
	unsigned int i, more = 0;
	ssize_t n = 0;

	for (i = 0; i < t->nr_entries; i++) {
		if (irq_remap_entry_info(t, i, NULL, &e) ||
		    !(e.state & IRQ_REMAP_STATE_ALLOCATED))
			continue;
		if (n > PAGE_SIZE - IRQ_REMAP_LIST_SLACK) {
			more++;
			continue;
		}
		n += sysfs_emit_at(buf, n,
				   "%u %c%c%c svt %u sid 0x%04x sq %u bus %u-%u addr 0x%llx data 0x%x pending %u delivered %llu\n",
				   i,
				   e.state & IRQ_REMAP_STATE_PRESENT ? 'P' : '-',
				   e.state & IRQ_REMAP_STATE_MASKED ? 'M' : '-',
				   e.state & IRQ_REMAP_STATE_INTX ? 'I' : '-',
				   e.svt, e.sid, e.sq, e.bus_start, e.bus_end,
				   e.msi_addr, e.msi_data,
				   !!(e.state & IRQ_REMAP_STATE_PENDING),
				   e.delivered);
	}
	if (more)
		n += sysfs_emit_at(buf, n, "... %u more\n", more);
	return n;
}
/* Guest-programmed vectors and the VMM's set-up: root only. */
static struct kobj_attribute irq_remap_attr_entry_list =
	__ATTR(entry_list, 0400, entry_list_show, NULL);

static const char *irq_remap_fault_name(u8 reason)
{
	switch (reason) {
	case IRQ_REMAP_FAULT_INDEX:
		return "index";
	case IRQ_REMAP_FAULT_NOT_PRESENT:
		return "not-present";
	case IRQ_REMAP_FAULT_SOURCE_ID:
		return "source-id";
	case IRQ_REMAP_FAULT_MODE:
		return "mode";
	}
	return "?";
}

#define IRQ_REMAP_FAULTS_SHOWN	64

/* "<ns> <reason> handle N source 0x...." per pending record, oldest first */
static ssize_t fault_log_show(struct kobject *kobj,
			      struct kobj_attribute *kattr, char *buf)
{
	struct irq_remap_table *t = irq_remap_kobj_table(kobj);
	unsigned int i, nr, remaining;
	struct irq_remap_fault *r;
	ssize_t n = 0;

	r = kcalloc(IRQ_REMAP_FAULTS_SHOWN, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	nr = irq_remap_fault_read(t, r, IRQ_REMAP_FAULTS_SHOWN, false, NULL,
				  &remaining);
	for (i = 0; i < nr && n <= PAGE_SIZE - IRQ_REMAP_LIST_SLACK; i++)
		n += sysfs_emit_at(buf, n, "%llu %s handle %u source 0x%04x\n",
				   r[i].timestamp_ns,
				   irq_remap_fault_name(r[i].reason),
				   r[i].handle, r[i].source);
	kfree(r);
	if (remaining > i)
		n += sysfs_emit_at(buf, n, "... %u more\n", remaining - i);
	return n;
}
/* What the guest's device did, when: root only. */
static struct kobj_attribute irq_remap_attr_fault_log =
	__ATTR(fault_log, 0400, fault_log_show, NULL);

static struct irq_remap_attr irq_remap_attr_coalesce_us = {
	.attr = __ATTR(coalesce_us, 0644, irq_remap_attr_show,
		       irq_remap_coalesce_store),
	.id = IRQ_REMAP_A_COALESCE_US,
};

static struct attribute *irq_remap_table_attrs[] = {
	&irq_remap_attr_requester_id.attr.attr,
	&irq_remap_attr_nr_entries.attr.attr,
	&irq_remap_attr_allocated.attr.attr,
	&irq_remap_attr_coalesce_us.attr.attr,
	&irq_remap_attr_raised.attr.attr,
	&irq_remap_attr_accepted.attr.attr,
	&irq_remap_attr_delivered.attr.attr,
	&irq_remap_attr_coalesced.attr.attr,
	&irq_remap_attr_masked.attr.attr,
	&irq_remap_attr_intx_suppressed.attr.attr,
	&irq_remap_attr_timer_fires.attr.attr,
	&irq_remap_attr_unmask_fires.attr.attr,
	&irq_remap_attr_resample_fires.attr.attr,
	&irq_remap_attr_deferred.attr.attr,
	&irq_remap_attr_resample_loops.attr.attr,
	&irq_remap_attr_faults_index.attr.attr,
	&irq_remap_attr_faults_not_present.attr.attr,
	&irq_remap_attr_faults_source_id.attr.attr,
	&irq_remap_attr_faults_mode.attr.attr,
	&irq_remap_attr_fault_overflow.attr.attr,
	&irq_remap_attr_fault_records.attr.attr,
	&irq_remap_attr_entry_list.attr,
	&irq_remap_attr_fault_log.attr,
	NULL,
};
ATTRIBUTE_GROUPS(irq_remap_table);

static void irq_remap_sysfs_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct irq_remap_sysfs, kobj));
}

static const struct kobj_type irq_remap_table_ktype = {
	.release	= irq_remap_sysfs_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= irq_remap_table_groups,
};

/* Context: process. */
int irq_remap_sysfs_add(struct irq_remap_table *t)
{
	struct irq_remap_sysfs *s;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->t = t;
	ret = kobject_init_and_add(&s->kobj, &irq_remap_table_ktype,
				   irq_remap_kobj, "table%u", t->id);
	if (ret) {
		kobject_put(&s->kobj);
		return ret;
	}
	t->sysfs = s;
	return 0;
}

/* Context: process.  No show/store runs on @t once this returns. */
void irq_remap_sysfs_del(struct irq_remap_table *t)
{
	struct irq_remap_sysfs *s = t->sysfs;

	if (!s)
		return;
	t->sysfs = NULL;
	kobject_del(&s->kobj);
	kobject_put(&s->kobj);
}

int irq_remap_sysfs_init(void)
{
	irq_remap_kobj = kobject_create_and_add("irq_remap", kernel_kobj);
	return irq_remap_kobj ? 0 : -ENOMEM;
}

void irq_remap_sysfs_exit(void)
{
	kobject_put(irq_remap_kobj);
}
