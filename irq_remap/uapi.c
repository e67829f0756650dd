// SPDX-License-Identifier: GPL-2.0
/*
 * uapi.c - /dev/irq_remap: tables owned by an open file, driven by the
 * ioctls of include/uapi/linux/irq_remap.h (for tests and the tool).
 */
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "irq_remap_priv.h"

/**
 * struct irq_remap_file - an open /dev/irq_remap
 * @tables: the tables this file created, by table id (the xarray's own
 *	lock protects it; a lookup takes a table reference under it)
 *
 * The file's address is also the owner cookie of the entries it allocates.
 */
struct irq_remap_file {
	struct xarray	tables;
};

/* Copy a structure in, check its size and flags. */
static int irq_remap_copy_in(void *karg, size_t minsz, unsigned long arg,
			     u32 known_flags)
{
	u32 *hdr = karg;	/* argsz, flags */

	if (copy_from_user(karg, (void __user *)arg, minsz))
		return -EFAULT;
	if (hdr[0] < minsz)
		return -EINVAL;
	if (hdr[1] & ~known_flags)
		return -EINVAL;
	return 0;
}

static int irq_remap_copy_out(unsigned long arg, const void *karg,
			      size_t minsz)
{
	return copy_to_user((void __user *)arg, karg, minsz) ? -EFAULT : 0;
}

/* Take a reference on table @id of @f. */
static struct irq_remap_table *irq_remap_file_table(struct irq_remap_file *f,
						    u32 id)
{
	struct irq_remap_table *t;

	xa_lock(&f->tables);
	t = xa_load(&f->tables, id);
	if (t)
		irq_remap_table_get(t);
	xa_unlock(&f->tables);
	return t ? t : ERR_PTR(-ENOENT);
}

static long irq_remap_ioc_table_create(struct irq_remap_file *f,
				       unsigned long arg)
{
	struct irq_remap_table_create c;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&c, sizeof(c), arg, 0);
	if (ret)
		return ret;
	if (c.pad0 || c.pad1)
		return -EINVAL;
	t = irq_remap_table_create(c.requester_id, c.nr_entries);
	if (IS_ERR(t))
		return PTR_ERR(t);
	c.table_id = t->id;
	ret = irq_remap_copy_out(arg, &c, sizeof(c));
	if (ret)
		goto err_destroy;
	/*
	 * Only now may another thread of this file reach the table by its
	 * (predictable) id, and destroy it: the error paths above still own
	 * it alone.
	 */
	ret = xa_insert(&f->tables, c.table_id, t, GFP_KERNEL);
	if (ret)
		goto err_destroy;
	return 0;

err_destroy:
	irq_remap_table_destroy(t);
	return ret;
}

static long irq_remap_ioc_table_destroy(struct irq_remap_file *f,
					unsigned long arg)
{
	struct irq_remap_table_op op;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&op, sizeof(op), arg, 0);
	if (ret)
		return ret;
	if (op.pad0)
		return -EINVAL;
	t = xa_erase(&f->tables, op.table_id);
	if (!t)
		return -ENOENT;
	irq_remap_table_destroy(t);
	return 0;
}

static long irq_remap_ioc_entry_alloc(struct irq_remap_file *f,
				      unsigned long arg)
{
	struct irq_remap_entry_alloc a;
	struct irq_remap_table *t;
	int ret, handle = -1;

	ret = irq_remap_copy_in(&a, sizeof(a), arg, IRQ_REMAP_ALLOC_FIXED);
	if (ret)
		return ret;
	if (a.flags & IRQ_REMAP_ALLOC_FIXED) {
		if (a.handle > INT_MAX)
			return -EINVAL;
		handle = a.handle;
	}
	t = irq_remap_file_table(f, a.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	/*
	 * The entry belongs to this call (owner @a, our own stack) until its
	 * handle is copied out: before that, another thread of the file
	 * could free it by its predictable handle and allocate it again, and
	 * the error path would free that thread's entry.
	 */
	ret = irq_remap_entry_alloc(t, &a, handle);
	if (ret < 0)
		goto out;
	a.handle = ret;
	ret = irq_remap_copy_out(arg, &a, sizeof(a));
	if (ret)
		irq_remap_entry_free(t, &a, a.handle);
	else
		ret = irq_remap_entry_chown(t, &a, f, a.handle);
out:
	irq_remap_table_put(t);
	return ret;
}

static long irq_remap_ioc_entry_op(struct irq_remap_file *f,
				   unsigned int cmd, unsigned long arg)
{
	struct irq_remap_entry_op op;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&op, sizeof(op), arg, 0);
	if (ret)
		return ret;
	t = irq_remap_file_table(f, op.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	switch (cmd) {
	case IRQ_REMAP_ENTRY_FREE:
		ret = irq_remap_entry_free(t, f, op.handle);
		break;
	case IRQ_REMAP_ENTRY_MASK:
		ret = irq_remap_entry_set_masked(t, f, op.handle, true);
		break;
	case IRQ_REMAP_ENTRY_UNMASK:
		ret = irq_remap_entry_set_masked(t, f, op.handle, false);
		break;
	case IRQ_REMAP_INTX_DEASSERT:
		ret = irq_remap_intx_deassert(t, op.handle);
		break;
	default:
		ret = irq_remap_intx_resample(t, op.handle);
		break;
	}
	irq_remap_table_put(t);
	return ret;
}

static long irq_remap_ioc_entry_set(struct irq_remap_file *f,
				    unsigned long arg)
{
	struct irq_remap_entry_cfg cfg = {};
	struct irq_remap_entry_set s;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&s, sizeof(s), arg,
				IRQ_REMAP_ENTRY_PRESENT |
				IRQ_REMAP_ENTRY_MASKED | IRQ_REMAP_ENTRY_INTX);
	if (ret)
		return ret;
	if (s.pad0 || s.pad1)
		return -EINVAL;
	cfg.flags = s.flags;
	cfg.trigger_fd = s.eventfd;
	cfg.resample_fd = s.resample_fd;
	cfg.svt = s.svt;
	cfg.sid = s.sid;
	cfg.sq = s.sq;
	cfg.bus_start = s.bus_start;
	cfg.bus_end = s.bus_end;
	cfg.msi_addr = s.msi_addr;
	cfg.msi_data = s.msi_data;

	t = irq_remap_file_table(f, s.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = irq_remap_entry_program(t, f, s.handle, &cfg);
	irq_remap_table_put(t);
	return ret;
}

/* One software interrupt delivered from hard-irq context. */
struct irq_remap_hardirq {
	struct irq_work		work;
	struct irq_remap_table	*t;
	u16			source;
	unsigned int		handle;
	bool			intx;
	int			ret;
};

static int irq_remap_raise_one(struct irq_remap_table *t, u16 source,
			       unsigned int handle, bool intx)
{
	return intx ? irq_remap_intx_assert(t, source, handle) :
		      irq_remap_deliver(t, source, handle);
}

static void irq_remap_hardirq_fn(struct irq_work *work)
{
	struct irq_remap_hardirq *h = container_of(work,
						   struct irq_remap_hardirq,
						   work);

	h->ret = irq_remap_raise_one(h->t, h->source, h->handle, h->intx);
}

static long irq_remap_ioc_raise(struct irq_remap_file *f, unsigned long arg,
				bool intx)
{
	struct irq_remap_hardirq h = {};
	struct irq_remap_raise r;
	struct irq_remap_table *t;
	u32 i;
	int ret;

	ret = irq_remap_copy_in(&r, sizeof(r), arg, IRQ_REMAP_RAISE_HARDIRQ);
	if (ret)
		return ret;
	if (r.pad0 || !r.count || r.count > IRQ_REMAP_MAX_RAISE)
		return -EINVAL;
	t = irq_remap_file_table(f, r.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);

	init_irq_work(&h.work, irq_remap_hardirq_fn);
	h.t = t;
	h.source = r.source;
	h.handle = r.handle;
	h.intx = intx;
	r.delivered = 0;
	r.faulted = 0;
	for (i = 0; i < r.count; i++) {
		if (!(i % 64)) {
			if (signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			cond_resched();
		}
		if (r.flags & IRQ_REMAP_RAISE_HARDIRQ) {
			irq_work_queue(&h.work);
			irq_work_sync(&h.work);
		} else {
			h.ret = irq_remap_raise_one(t, r.source, r.handle,
						    intx);
		}
		if (h.ret)
			r.faulted++;
		else
			r.delivered++;
	}
	irq_remap_table_put(t);
	return irq_remap_copy_out(arg, &r, sizeof(r)) ?: ret;
}

static long irq_remap_ioc_get_faults(struct irq_remap_file *f,
				     unsigned long arg)
{
	struct irq_remap_fault *recs = NULL;
	struct irq_remap_get_faults g;
	struct irq_remap_table *t;
	unsigned int n;
	int ret;

	ret = irq_remap_copy_in(&g, sizeof(g), arg, IRQ_REMAP_FAULTS_PEEK);
	if (ret)
		return ret;
	if (g.pad0 || g.nr > IRQ_REMAP_MAX_FAULT_READ)
		return -EINVAL;
	t = irq_remap_file_table(f, g.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	if (g.nr) {
		recs = kvcalloc(g.nr, sizeof(*recs), GFP_KERNEL);
		if (!recs) {
			ret = -ENOMEM;
			goto out;
		}
	}

	/* Consumers are serialised so that what is copied is what is dropped. */
	mutex_lock(&t->cfg_lock);
	n = irq_remap_fault_read(t, recs, g.nr, false, &g.overflow,
				 &g.remaining);
	if (n && copy_to_user(u64_to_user_ptr(g.records), recs,
			      n * sizeof(*recs))) {
		ret = -EFAULT;
	} else if (!(g.flags & IRQ_REMAP_FAULTS_PEEK)) {
		irq_remap_fault_read(t, recs, n, true, &g.overflow,
				     &g.remaining);
	}
	mutex_unlock(&t->cfg_lock);
	if (!ret) {
		g.nr = n;
		ret = irq_remap_copy_out(arg, &g, sizeof(g));
	}
	kvfree(recs);
out:
	irq_remap_table_put(t);
	return ret;
}

static long irq_remap_ioc_fault_eventfd(struct irq_remap_file *f,
					unsigned long arg)
{
	struct irq_remap_fault_eventfd fe;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&fe, sizeof(fe), arg, 0);
	if (ret)
		return ret;
	t = irq_remap_file_table(f, fe.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = irq_remap_fault_set_eventfd(t, fe.fd);
	irq_remap_table_put(t);
	return ret;
}

static long irq_remap_ioc_table_stats(struct irq_remap_file *f,
				      unsigned long arg)
{
	struct irq_remap_table_stats ts;
	struct irq_remap_stats sum;
	struct irq_remap_table *t;
	unsigned long irqflags;
	int ret;

	ret = irq_remap_copy_in(&ts, sizeof(ts), arg, 0);
	if (ret)
		return ret;
	t = irq_remap_file_table(f, ts.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ts.requester_id = t->requester_id;
	ts.pad0 = 0;
	ts.nr_entries = t->nr_entries;
	irq_remap_table_totals(t, &sum, &ts.nr_allocated, &ts.coalesce_us);
	irq_remap_fault_counts(t, ts.faults, &ts.fault_overflow,
			       &ts.fault_records);
	spin_lock_irqsave(&t->lock, irqflags);
	ts.raised = t->raised;
	spin_unlock_irqrestore(&t->lock, irqflags);
	irq_remap_table_put(t);
	return irq_remap_copy_out(arg, &ts, sizeof(ts));
}

static long irq_remap_ioc_get_entry(struct irq_remap_file *f,
				    unsigned long arg)
{
	struct irq_remap_entry_info in, info = {};
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&in, sizeof(in), arg, 0);
	if (ret)
		return ret;
	info.argsz = in.argsz;
	info.table_id = in.table_id;
	info.handle = in.handle;
	t = irq_remap_file_table(f, info.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = irq_remap_entry_info(t, info.handle, f, &info);
	irq_remap_table_put(t);
	if (ret)
		return ret;
	return irq_remap_copy_out(arg, &info, sizeof(info));
}

static long irq_remap_ioc_coalesce(struct irq_remap_file *f,
				   unsigned long arg)
{
	struct irq_remap_coalesce c;
	struct irq_remap_table *t;
	int ret;

	ret = irq_remap_copy_in(&c, sizeof(c), arg, 0);
	if (ret)
		return ret;
	t = irq_remap_file_table(f, c.table_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = irq_remap_table_set_coalesce(t, c.interval_us);
	irq_remap_table_put(t);
	return ret;
}

static long irq_remap_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct irq_remap_file *f = file->private_data;

	switch (cmd) {
	case IRQ_REMAP_TABLE_CREATE:
		return irq_remap_ioc_table_create(f, arg);
	case IRQ_REMAP_TABLE_DESTROY:
		return irq_remap_ioc_table_destroy(f, arg);
	case IRQ_REMAP_ENTRY_ALLOC:
		return irq_remap_ioc_entry_alloc(f, arg);
	case IRQ_REMAP_ENTRY_FREE:
	case IRQ_REMAP_ENTRY_MASK:
	case IRQ_REMAP_ENTRY_UNMASK:
	case IRQ_REMAP_INTX_DEASSERT:
	case IRQ_REMAP_INTX_RESAMPLE:
		return irq_remap_ioc_entry_op(f, cmd, arg);
	case IRQ_REMAP_ENTRY_SET:
		return irq_remap_ioc_entry_set(f, arg);
	case IRQ_REMAP_RAISE:
		return irq_remap_ioc_raise(f, arg, false);
	case IRQ_REMAP_INTX_ASSERT:
		return irq_remap_ioc_raise(f, arg, true);
	case IRQ_REMAP_GET_FAULTS:
		return irq_remap_ioc_get_faults(f, arg);
	case IRQ_REMAP_SET_FAULT_EVENTFD:
		return irq_remap_ioc_fault_eventfd(f, arg);
	case IRQ_REMAP_GET_TABLE_STATS:
		return irq_remap_ioc_table_stats(f, arg);
	case IRQ_REMAP_GET_ENTRY:
		return irq_remap_ioc_get_entry(f, arg);
	case IRQ_REMAP_SET_COALESCE:
		return irq_remap_ioc_coalesce(f, arg);
	default:
		return -ENOTTY;
	}
}

static int irq_remap_open(struct inode *inode, struct file *file)
{
	struct irq_remap_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init(&f->tables);
	file->private_data = f;
	return 0;
}

static int irq_remap_release(struct inode *inode, struct file *file)
{
	struct irq_remap_file *f = file->private_data;
	struct irq_remap_table *t;
	unsigned long id;

	xa_for_each(&f->tables, id, t) {
		xa_erase(&f->tables, id);
		irq_remap_table_destroy(t);
	}
	xa_destroy(&f->tables);
	kfree(f);
	return 0;
}

static const struct file_operations irq_remap_fops = {
	.owner		= THIS_MODULE,
	.open		= irq_remap_open,
	.release	= irq_remap_release,
	.unlocked_ioctl	= irq_remap_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice irq_remap_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "irq_remap",
	.fops	= &irq_remap_fops,
	.mode	= 0600,
};

int irq_remap_uapi_init(void)
{
	/* The same layout for 32-bit and 64-bit callers (compat_ptr_ioctl). */
	BUILD_BUG_ON(sizeof(struct irq_remap_table_create) != 24);
	BUILD_BUG_ON(sizeof(struct irq_remap_entry_set) != 48);
	BUILD_BUG_ON(sizeof(struct irq_remap_raise) != 32);
	BUILD_BUG_ON(sizeof(struct irq_remap_fault) != 16);
	BUILD_BUG_ON(sizeof(struct irq_remap_get_faults) != 40);
	BUILD_BUG_ON(sizeof(struct irq_remap_table_stats) != 80);
	BUILD_BUG_ON(sizeof(struct irq_remap_entry_info) != 120);
	BUILD_BUG_ON(offsetof(struct irq_remap_entry_set, msi_addr) != 40);
	BUILD_BUG_ON(offsetof(struct irq_remap_table_stats, raised) != 32);

	return misc_register(&irq_remap_misc);
}

void irq_remap_uapi_exit(void)
{
	misc_deregister(&irq_remap_misc);
}
