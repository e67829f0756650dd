// SPDX-License-Identifier: GPL-2.0
/*
 * table.c - remapping tables and their entries: creation, destruction,
 * allocation to owners, programming, masking, statistics.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "irq_remap_priv.h"

/* Every live table by id (uAPI ids and sysfs names); has its own lock. */
static DEFINE_XARRAY_ALLOC(irq_remap_tables);

void irq_remap_table_get(struct irq_remap_table *t)
{
	kref_get(&t->ref);
}

static void irq_remap_table_release(struct kref *ref)
{
	struct irq_remap_table *t = container_of(ref, struct irq_remap_table,
						 ref);
	unsigned int i;

	/*
	 * Nothing can queue work or arm a timer any more (every entry is
	 * not present and its resample wait is gone), but some may still be
	 * queued or running.
	 */
	for (i = 0; i < t->nr_entries; i++) {
		irq_work_sync(&t->entries[i].work);
		hrtimer_cancel(&t->entries[i].timer);
	}
	irq_remap_fault_exit(&t->log);
	mutex_destroy(&t->cfg_lock);
	kvfree(t);
}

/* Context: process (may sleep). */
void irq_remap_table_put(struct irq_remap_table *t)
{
	kref_put(&t->ref, irq_remap_table_release);
}

/**
 * irq_remap_table_create() - create a remapping table
 * @requester_id: the physical source (bus << 8 | devfn)
 * @nr_entries: number of entries, 1 .. the max_entries module parameter
 *
 * All entries start free.  The coalescing interval starts at the
 * default_coalesce_us module parameter.  The table appears in sysfs as
 * /sys/kernel/irq_remap/table<id>.
 *
 * Context: process.
 * Return: the table, or ERR_PTR(-EINVAL) (bad size), ERR_PTR(-ENOSPC)
 * (max_tables reached) or ERR_PTR(-ENOMEM).
 */
struct irq_remap_table *irq_remap_table_create(u16 requester_id,
					       unsigned int nr_entries)
{
	unsigned int max_tables = READ_ONCE(irq_remap_max_tables);
	struct irq_remap_table *t;
	unsigned int i;
	int ret;

	if (!nr_entries || nr_entries > READ_ONCE(irq_remap_max_entries))
		return ERR_PTR(-EINVAL);
	if (!max_tables)
		return ERR_PTR(-ENOSPC);

	t = kvzalloc(struct_size(t, entries, nr_entries), GFP_KERNEL_ACCOUNT);
	if (!t)
		return ERR_PTR(-ENOMEM);
	kref_init(&t->ref);
	mutex_init(&t->cfg_lock);
	spin_lock_init(&t->lock);
	t->requester_id = requester_id;
	t->nr_entries = nr_entries;
	t->coalesce_ns = (u64)READ_ONCE(irq_remap_default_coalesce_us) *
			 NSEC_PER_USEC;
	for (i = 0; i < nr_entries; i++)
		irq_remap_entry_init(t, i);

	ret = irq_remap_fault_init(&t->log, READ_ONCE(irq_remap_fault_log_size));
	if (ret)
		goto err_free;
	ret = xa_alloc(&irq_remap_tables, &t->id, t,
		       XA_LIMIT(0, max_tables - 1), GFP_KERNEL);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (ret)
		goto err_log;
	ret = irq_remap_sysfs_add(t);
	if (ret)
		goto err_id;
	return t;

err_id:
	xa_erase(&irq_remap_tables, t->id);
err_log:
	irq_remap_fault_exit(&t->log);
err_free:
	mutex_destroy(&t->cfg_lock);
	kvfree(t);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(irq_remap_table_create);

/*
 * Return an entry to its initial, not present state and drop what it
 * holds.  The owner is kept unless @free.
 */
static void __irq_remap_entry_reset(struct irq_remap_entry *e, bool free)
{
	struct irq_remap_table *t = e->table;
	struct eventfd_ctx *trigger, *resample;
	unsigned long irqflags;
	unsigned int deferred;

	lockdep_assert_held(&t->cfg_lock);

	resample = e->resample;
	if (resample)
		irq_remap_resample_unregister(e, resample);

	spin_lock_irqsave(&t->lock, irqflags);
	deferred = __irq_remap_take_deferred(e);
	trigger = e->trigger;
	WRITE_ONCE(e->trigger, NULL);
	e->resample = NULL;
	e->flags = 0;
	e->pending = false;
	e->asserted = false;
	e->in_service = false;
	e->coalescing = false;
	e->deferred = 0;
	e->eoi = NULL;
	e->eoi_data = NULL;
	e->svt = IRQ_REMAP_SVT_NONE;
	e->sid = 0;
	e->sq = 0;
	e->bus_start = 0;
	e->bus_end = 0;
	e->msi_addr = 0;
	e->msi_data = 0;
	if (free)
		e->owner = NULL;
	spin_unlock_irqrestore(&t->lock, irqflags);

	/* An EOI callback of the old programming must not run after this. */
	irq_work_sync(&e->work);
	clear_bit(IRQ_REMAP_KICK_RESAMPLE, &e->kick);

	if (trigger) {
		irq_remap_trigger_sync(e);
		/* Signals already counted reach the eventfd they were for. */
		for (; deferred; deferred--)
			kvmio_eventfd_signal(trigger);
		eventfd_ctx_put(trigger);
	}
	if (resample)
		eventfd_ctx_put(resample);
}

/**
 * irq_remap_table_destroy() - destroy a table
 * @t: a table from irq_remap_table_create()
 *
 * Every entry is freed and its eventfds dropped; the caller must no longer
 * deliver into @t (free its interrupt handler first).
 *
 * Context: process.
 */
void irq_remap_table_destroy(struct irq_remap_table *t)
{
	unsigned int i;

	irq_remap_sysfs_del(t);

	mutex_lock(&t->cfg_lock);
	t->dead = true;
	for (i = 0; i < t->nr_entries; i++)
		__irq_remap_entry_reset(&t->entries[i], true);
	t->nr_allocated = 0;
	mutex_unlock(&t->cfg_lock);

	irq_remap_fault_set_eventfd(t, -1);
	xa_erase(&irq_remap_tables, t->id);
	irq_remap_table_put(t);
}
EXPORT_SYMBOL_GPL(irq_remap_table_destroy);

/**
 * irq_remap_table_requester_id() - the physical source of a table
 * @t: the table
 *
 * Return: its requester id.
 */
u16 irq_remap_table_requester_id(const struct irq_remap_table *t)
{
	return t->requester_id;
}
EXPORT_SYMBOL_GPL(irq_remap_table_requester_id);

/**
 * irq_remap_table_id() - the id of a table
 * @t: the table
 *
 * Return: the id that names it in the uAPI and in sysfs
 * (/sys/kernel/irq_remap/table<id>).
 */
u32 irq_remap_table_id(const struct irq_remap_table *t)
{
	return t->id;
}
EXPORT_SYMBOL_GPL(irq_remap_table_id);

/**
 * irq_remap_table_set_coalesce() - set a table's coalescing interval
 * @t: the table
 * @interval_us: microseconds, 0 (no coalescing) .. IRQ_REMAP_MAX_COALESCE_US
 *
 * Each MSI entry then signals at most once per interval; interrupts inside
 * it are merged into one delivery at the end of the interval.  A merged
 * delivery already scheduled keeps its time.
 *
 * Context: any.
 * Return: 0 or -EINVAL.
 */
int irq_remap_table_set_coalesce(struct irq_remap_table *t, u32 interval_us)
{
	unsigned long irqflags;

	if (interval_us > IRQ_REMAP_MAX_COALESCE_US)
		return -EINVAL;
	spin_lock_irqsave(&t->lock, irqflags);
	t->coalesce_ns = (u64)interval_us * NSEC_PER_USEC;
	spin_unlock_irqrestore(&t->lock, irqflags);
	return 0;
}
EXPORT_SYMBOL_GPL(irq_remap_table_set_coalesce);

/**
 * irq_remap_entry_alloc() - allocate an entry to an owner
 * @t: the table
 * @owner: the owner's cookie (not NULL); only it may program the entry
 * @handle: the handle wanted, or -1 for the lowest free one
 *
 * The entry starts not present, with fresh statistics.
 *
 * Context: process.
 * Return: the handle, or -EINVAL (bad owner or handle), -EBUSY (@handle is
 * allocated), -ENOSPC (table full), -ENOENT (table destroyed).
 */
int irq_remap_entry_alloc(struct irq_remap_table *t, const void *owner,
			  int handle)
{
	struct irq_remap_entry *e = NULL;
	unsigned long irqflags;
	unsigned int i;
	int ret;

	if (!owner || handle < -1 ||
	    (handle >= 0 && (unsigned int)handle >= t->nr_entries))
		return -EINVAL;

	mutex_lock(&t->cfg_lock);
	ret = -ENOENT;
	if (t->dead)
		goto out;
	if (handle >= 0) {
		ret = -EBUSY;
		if (t->entries[handle].owner)
			goto out;
		e = &t->entries[handle];
	} else {
		ret = -ENOSPC;
		for (i = 0; i < t->nr_entries && !e; i++)
			if (!t->entries[i].owner)
				e = &t->entries[i];
		if (!e)
			goto out;
	}
	spin_lock_irqsave(&t->lock, irqflags);
	e->owner = owner;
	memset(&e->st, 0, sizeof(e->st));
	e->last = 0;
	spin_unlock_irqrestore(&t->lock, irqflags);
	t->nr_allocated++;
	ret = e->handle;
out:
	mutex_unlock(&t->cfg_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_alloc);

/* Return the entry @owner may change, or an ERR_PTR. */
static struct irq_remap_entry *__irq_remap_owned(struct irq_remap_table *t,
						 const void *owner,
						 unsigned int handle)
{
	lockdep_assert_held(&t->cfg_lock);

	if (t->dead)
		return ERR_PTR(-ENOENT);
	if (handle >= t->nr_entries)
		return ERR_PTR(-EINVAL);
	if (!owner || t->entries[handle].owner != owner)
		return ERR_PTR(-EPERM);
	return &t->entries[handle];
}

/**
 * irq_remap_entry_free() - give an entry back to its table
 * @t: the table
 * @owner: the owner that allocated it
 * @handle: the entry
 *
 * The entry stops delivering, its eventfds are dropped and its EOI
 * callback will not run again once this returns.
 *
 * Context: process.
 * Return: 0, -EINVAL (handle beyond the table), -EPERM (not @owner's),
 * -ENOENT (table destroyed).
 */
int irq_remap_entry_free(struct irq_remap_table *t, const void *owner,
			 unsigned int handle)
{
	struct irq_remap_entry *e;
	int ret = 0;

	mutex_lock(&t->cfg_lock);
	e = __irq_remap_owned(t, owner, handle);
	if (IS_ERR(e)) {
		ret = PTR_ERR(e);
		goto out;
	}
	__irq_remap_entry_reset(e, true);
	t->nr_allocated--;
out:
	mutex_unlock(&t->cfg_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_free);

/**
 * irq_remap_entry_chown() - hand an allocated entry to another owner
 * @t: the table
 * @from: its owner
 * @to: the new owner (not NULL)
 * @handle: the entry
 *
 * Lets the uAPI allocate under a cookie of its own call and publish the
 * entry to the file only once the handle is copied out.
 *
 * Context: process.
 * Return: 0, -EINVAL (bad @to or handle), -EPERM (not @from's), -ENOENT
 * (table destroyed).
 */
int irq_remap_entry_chown(struct irq_remap_table *t, const void *from,
			  const void *to, unsigned int handle)
{
	struct irq_remap_entry *e;
	unsigned long irqflags;
	int ret = 0;

	if (!to)
		return -EINVAL;
	mutex_lock(&t->cfg_lock);
	e = __irq_remap_owned(t, from, handle);
	if (IS_ERR(e)) {
		ret = PTR_ERR(e);
		goto out;
	}
	spin_lock_irqsave(&t->lock, irqflags);
	e->owner = to;
	spin_unlock_irqrestore(&t->lock, irqflags);
out:
	mutex_unlock(&t->cfg_lock);
	return ret;
}

static int irq_remap_cfg_check(struct irq_remap_table *t,
			       const struct irq_remap_entry_cfg *cfg)
{
	if (cfg->flags & ~(IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_MASKED |
			   IRQ_REMAP_ENTRY_INTX))
		return -EINVAL;
	if ((cfg->flags & IRQ_REMAP_ENTRY_PRESENT) && cfg->trigger_fd < 0)
		return -EINVAL;
	if (cfg->resample_fd >= 0 && !(cfg->flags & IRQ_REMAP_ENTRY_INTX))
		return -EINVAL;
	if (cfg->eoi && !(cfg->flags & IRQ_REMAP_ENTRY_INTX))
		return -EINVAL;
	if (cfg->trigger_fd < -1 || cfg->resample_fd < -1)
		return -EBADF;
	switch (cfg->svt) {
	case IRQ_REMAP_SVT_NONE:
		break;
	case IRQ_REMAP_SVT_RID:
		if (cfg->sq > IRQ_REMAP_SQ_IGN_2_0)
			return -EINVAL;
		/* An entry of the table accepts the table's own device. */
		if (!irq_remap_rid_match(cfg->sid, cfg->sq, t->requester_id))
			return -EINVAL;
		break;
	case IRQ_REMAP_SVT_BUS:
		if (cfg->bus_start > cfg->bus_end)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/**
 * __irq_remap_is_resample() - is an eventfd a resample eventfd of a table?
 * @t: the table
 * @ctx: the eventfd
 *
 * Context: process, t->cfg_lock held.
 * Return: true if an entry of @t listens to @ctx.
 */
bool __irq_remap_is_resample(struct irq_remap_table *t,
			     struct eventfd_ctx *ctx)
{
	unsigned int i;

	lockdep_assert_held(&t->cfg_lock);

	for (i = 0; i < t->nr_entries; i++)
		if (t->entries[i].resample == ctx)
			return true;
	return false;
}

/*
 * Would programming @self with @trigger and @resample make the engine
 * listen to an eventfd it signals?  Every signal would then be a resample
 * and, with the line still asserted, a delivery again: an endless loop of
 * irq_works.  Checked within the table: its triggers, its resample
 * eventfds and its fault eventfd.
 */
static bool __irq_remap_loops(struct irq_remap_table *t,
			      struct irq_remap_entry *self,
			      struct eventfd_ctx *trigger,
			      struct eventfd_ctx *resample)
{
	unsigned int i;

	lockdep_assert_held(&t->cfg_lock);

	if (resample && (resample == trigger ||
			 irq_remap_fault_is_eventfd(t, resample)))
		return true;
	for (i = 0; i < t->nr_entries; i++) {
		struct irq_remap_entry *e = &t->entries[i];

		if (e == self)
			continue;
		if (trigger && e->resample == trigger)
			return true;
		if (resample && e->trigger == resample)
			return true;
	}
	return false;
}

/**
 * irq_remap_entry_program() - program an entry
 * @t: the table
 * @owner: the owner that allocated the entry
 * @handle: the entry
 * @cfg: what to install; the eventfds are resolved from the caller's file
 *	table and the entry takes its own references
 *
 * The delivery path sees the old or the new programming, never a mix.  An
 * interrupt pending on the entry stays pending; clearing the mask delivers
 * it.  The resample eventfd (INTx) is re-registered when given.
 *
 * An SVT_RID source check must accept the table's requester id (the
 * entries of a table are its device's).  The resample eventfd must not be
 * one the table signals (the entry's own or another entry's trigger, the
 * fault eventfd), nor the trigger one another entry resamples on: the
 * engine would resample on its own signals for ever.
 *
 * Context: process (the caller's file table is used).
 * Return: 0, -EINVAL (bad @cfg, a fd that is not an eventfd, a source
 * check that refuses the table's device, a resample eventfd the table
 * signals), -EBADF (a fd not open), -EPERM (not @owner's), -ENOENT (table
 * destroyed).
 */
int irq_remap_entry_program(struct irq_remap_table *t, const void *owner,
			    unsigned int handle,
			    const struct irq_remap_entry_cfg *cfg)
{
	struct eventfd_ctx *trigger = NULL, *resample = NULL;
	struct eventfd_ctx *old_trigger, *old_resample;
	struct irq_remap_sig sig = {};
	unsigned int old_deferred = 0;
	struct file *rfile = NULL;
	struct irq_remap_entry *e;
	unsigned long irqflags;
	bool had_eoi;
	int ret;

	ret = irq_remap_cfg_check(t, cfg);
	if (ret)
		return ret;

	if (cfg->trigger_fd >= 0) {
		trigger = eventfd_ctx_fdget(cfg->trigger_fd);
		if (IS_ERR(trigger))
			return PTR_ERR(trigger);
	}
	if (cfg->resample_fd >= 0) {
		ret = -EBADF;
		rfile = fget(cfg->resample_fd);
		if (!rfile)
			goto err_trigger;
		resample = eventfd_ctx_fileget(rfile);
		if (IS_ERR(resample)) {
			ret = PTR_ERR(resample);
			resample = NULL;
			goto err_file;
		}
	}

	mutex_lock(&t->cfg_lock);
	e = __irq_remap_owned(t, owner, handle);
	if (IS_ERR(e)) {
		ret = PTR_ERR(e);
		goto err_unlock;
	}
	ret = -EINVAL;
	if (__irq_remap_loops(t, e, trigger, resample))
		goto err_unlock;

	old_resample = e->resample;
	if (old_resample)
		irq_remap_resample_unregister(e, old_resample);

	spin_lock_irqsave(&t->lock, irqflags);
	if (e->trigger != trigger)
		old_deferred = __irq_remap_take_deferred(e);
	old_trigger = e->trigger;
	had_eoi = e->eoi;
	WRITE_ONCE(e->trigger, trigger);
	e->resample = resample;
	e->svt = cfg->svt;
	e->sid = cfg->sid;
	e->sq = cfg->sq;
	e->bus_start = cfg->bus_start;
	e->bus_end = cfg->bus_end;
	e->msi_addr = cfg->msi_addr;
	e->msi_data = cfg->msi_data;
	e->eoi = cfg->eoi;
	e->eoi_data = cfg->eoi_data;
	if ((e->flags ^ cfg->flags) & IRQ_REMAP_ENTRY_INTX) {
		/* A mode change starts from a clean line and timer state. */
		e->pending = false;
		e->asserted = false;
		e->in_service = false;
		e->coalescing = false;
	}
	e->flags = (e->flags & IRQ_REMAP_ENTRY_MASKED) |
		   (cfg->flags & ~IRQ_REMAP_ENTRY_MASKED);
	if (!(e->flags & IRQ_REMAP_ENTRY_PRESENT)) {
		e->pending = false;
		e->coalescing = false;
	}
	if (cfg->flags & IRQ_REMAP_ENTRY_MASKED)
		e->flags |= IRQ_REMAP_ENTRY_MASKED;
	else
		__irq_remap_unmask(e, &sig);
	spin_unlock_irqrestore(&t->lock, irqflags);

	if (resample)
		irq_remap_resample_register(e, rfile);
	/* The old EOI callback must not run after we return. */
	if (had_eoi)
		irq_work_sync(&e->work);
	mutex_unlock(&t->cfg_lock);

	irq_remap_sig_fire(&sig);
	if (old_trigger) {
		irq_remap_trigger_sync(e);
		for (; old_deferred; old_deferred--)
			kvmio_eventfd_signal(old_trigger);
		eventfd_ctx_put(old_trigger);
	}
	if (old_resample)
		eventfd_ctx_put(old_resample);
	if (rfile)
		fput(rfile);
	return 0;

err_unlock:
	mutex_unlock(&t->cfg_lock);
	if (resample)
		eventfd_ctx_put(resample);
err_file:
	if (rfile)
		fput(rfile);
err_trigger:
	if (trigger)
		eventfd_ctx_put(trigger);
	return ret;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_program);

/**
 * irq_remap_entry_set_masked() - mask or unmask an entry
 * @t: the table
 * @owner: the owner that allocated the entry
 * @handle: the entry
 * @masked: the new mask
 *
 * Unmasking delivers once what arrived while masked (for INTx: if the line
 * is still asserted and not in service).
 *
 * Context: any, including hard-irq.
 * Return: 0, -EINVAL (handle beyond the table), -EPERM (not @owner's).
 */
int irq_remap_entry_set_masked(struct irq_remap_table *t, const void *owner,
			       unsigned int handle, bool masked)
{
	struct irq_remap_sig sig = {};
	struct irq_remap_entry *e;
	unsigned long irqflags;
	int ret = 0;

	if (handle >= t->nr_entries)
		return -EINVAL;
	e = &t->entries[handle];
	spin_lock_irqsave(&t->lock, irqflags);
	if (!owner || e->owner != owner)
		ret = -EPERM;
	else if (masked)
		e->flags |= IRQ_REMAP_ENTRY_MASKED;
	else
		__irq_remap_unmask(e, &sig);
	spin_unlock_irqrestore(&t->lock, irqflags);
	irq_remap_sig_fire(&sig);
	return ret;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_set_masked);

static u32 __irq_remap_state(const struct irq_remap_entry *e)
{
	u32 s = 0;

	lockdep_assert_held(&e->table->lock);

	if (e->owner)
		s |= IRQ_REMAP_STATE_ALLOCATED;
	if (e->flags & IRQ_REMAP_ENTRY_PRESENT)
		s |= IRQ_REMAP_STATE_PRESENT;
	if (e->flags & IRQ_REMAP_ENTRY_MASKED)
		s |= IRQ_REMAP_STATE_MASKED;
	if (e->flags & IRQ_REMAP_ENTRY_INTX)
		s |= IRQ_REMAP_STATE_INTX;
	if (e->pending)
		s |= IRQ_REMAP_STATE_PENDING;
	if (e->asserted)
		s |= IRQ_REMAP_STATE_ASSERTED;
	if (e->in_service)
		s |= IRQ_REMAP_STATE_IN_SERVICE;
	if (e->coalescing)
		s |= IRQ_REMAP_STATE_COALESCING;
	return s;
}

/**
 * irq_remap_entry_stats() - snapshot of an entry's statistics and state
 * @t: the table
 * @handle: the entry
 * @st: filled in
 *
 * Context: any, including hard-irq.
 * Return: 0 or -EINVAL (handle beyond the table).
 */
int irq_remap_entry_stats(struct irq_remap_table *t, unsigned int handle,
			  struct irq_remap_stats *st)
{
	struct irq_remap_entry *e;
	unsigned long irqflags;

	if (handle >= t->nr_entries)
		return -EINVAL;
	e = &t->entries[handle];
	spin_lock_irqsave(&t->lock, irqflags);
	*st = e->st;
	st->state = __irq_remap_state(e);
	spin_unlock_irqrestore(&t->lock, irqflags);
	st->signalled = st->delivered + st->timer_fires + st->unmask_fires +
			st->resample_fires;
	return 0;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_stats);

/**
 * irq_remap_entry_info() - programming, state and statistics of an entry
 * @t: the table
 * @handle: the entry
 * @owner: IRQ_REMAP_STATE_OWNED is set in @info->state if the entry is
 *	allocated to this owner (may be NULL)
 * @info: filled in from @info->state on (the header fields are left alone);
 *	the layout is the uAPI's IRQ_REMAP_GET_ENTRY, so an owner can pass it
 *	on to its own users (e.g. to show a context's interrupt table)
 *
 * Context: any, including hard-irq.
 * Return: 0 or -EINVAL (handle beyond the table).
 */
int irq_remap_entry_info(struct irq_remap_table *t, unsigned int handle,
			 const void *owner, struct irq_remap_entry_info *info)
{
	struct irq_remap_entry *e;
	unsigned long irqflags;

	if (handle >= t->nr_entries)
		return -EINVAL;
	e = &t->entries[handle];
	spin_lock_irqsave(&t->lock, irqflags);
	info->state = __irq_remap_state(e);
	if (e->owner && e->owner == owner)
		info->state |= IRQ_REMAP_STATE_OWNED;
	info->svt = e->svt;
	info->sid = e->sid;
	info->sq = e->sq;
	info->bus_start = e->bus_start;
	info->bus_end = e->bus_end;
	info->msi_addr = e->msi_addr;
	info->msi_data = e->msi_data;
	info->accepted = e->st.accepted;
	info->delivered = e->st.delivered;
	info->coalesced = e->st.coalesced;
	info->masked = e->st.masked;
	info->intx_suppressed = e->st.intx_suppressed;
	info->timer_fires = e->st.timer_fires;
	info->unmask_fires = e->st.unmask_fires;
	info->resample_fires = e->st.resample_fires;
	info->deferred = e->st.deferred;
	info->faults = e->st.faults;
	spin_unlock_irqrestore(&t->lock, irqflags);
	return 0;
}
EXPORT_SYMBOL_GPL(irq_remap_entry_info);

/**
 * irq_remap_table_totals() - statistics summed over a table's entries
 * @t: the table
 * @sum: filled with the sums (state is 0)
 * @nr_allocated: allocated entries
 * @coalesce_us: the coalescing interval
 */
void irq_remap_table_totals(struct irq_remap_table *t,
			    struct irq_remap_stats *sum,
			    unsigned int *nr_allocated, u32 *coalesce_us)
{
	unsigned long irqflags;
	unsigned int i, n = 0;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < t->nr_entries; i++) {
		struct irq_remap_entry *e = &t->entries[i];

		spin_lock_irqsave(&t->lock, irqflags);
		n += !!e->owner;
		sum->accepted += e->st.accepted;
		sum->delivered += e->st.delivered;
		sum->coalesced += e->st.coalesced;
		sum->masked += e->st.masked;
		sum->intx_suppressed += e->st.intx_suppressed;
		sum->timer_fires += e->st.timer_fires;
		sum->unmask_fires += e->st.unmask_fires;
		sum->resample_fires += e->st.resample_fires;
		sum->deferred += e->st.deferred;
		sum->faults += e->st.faults;
		sum->resample_loops += e->st.resample_loops;
		spin_unlock_irqrestore(&t->lock, irqflags);
	}
	sum->signalled = sum->delivered + sum->timer_fires +
			 sum->unmask_fires + sum->resample_fires;
	*nr_allocated = n;
	spin_lock_irqsave(&t->lock, irqflags);
	*coalesce_us = div_u64(t->coalesce_ns, NSEC_PER_USEC);
	spin_unlock_irqrestore(&t->lock, irqflags);
}
