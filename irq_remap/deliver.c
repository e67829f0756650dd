// SPDX-License-Identifier: GPL-2.0
/*
 * deliver.c - the delivery path: from a physical (or software) interrupt to
 * the eventfd of the right entry, with source checks, masking, coalescing
 * and INTx level semantics.  Everything here runs in any context,
 * hard-irq included: it only takes table->lock (irqsave), an entry's
 * sig_lock (to signal, after table->lock is dropped) and the fault log's
 * lock, and never sleeps.  No eventfd is signalled and no owner callback
 * made with table->lock held.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/sched.h>

#include "irq_remap_priv.h"

/*
 * Signals irq_remap is making on this CPU right now: raised by
 * irq_remap_sig_fire() around eventfd_signal(), with an entry's sig_lock
 * held and interrupts off, so the count cannot move to another CPU
 * meanwhile.  The wake-up functions of the eventfd run inside.
 *
 * A resample (EOI) that arrives while it is non-zero was caused by one of
 * our own deliveries: a trigger that is also the resample eventfd of an
 * entry of another table (or the unmask eventfd of another context), which
 * the per-table check at programming time cannot see.  Two such entries
 * crossed, with both lines asserted, would resample each other for ever in
 * irq_works, a hard-irq livelock a VMM could cause.  A real EOI never runs
 * inside our signal (KVM's resampler signals from the vCPU's EOI), so such
 * a resample is refused: the entry stays in service and the refusal is
 * counted (resample_loops).
 */
static DEFINE_PER_CPU(unsigned int, irq_remap_signalling);

static bool irq_remap_in_own_signal(void)
{
	return this_cpu_read(irq_remap_signalling);
}

/**
 * __irq_remap_signal() - decide to signal an entry's eventfd
 * @e: the entry, present with a trigger
 * @sig: where the signal is counted; the caller makes it with
 *	irq_remap_sig_fire() once table->lock is dropped
 *
 * eventfd_signal() refuses (and warns) when called from inside another
 * eventfd's wake-up on the same task (eventfd_signal_allowed() false): a
 * caller may reach us from such a callback (an owner's unmask eventfd, or
 * the wake-up of our own signal on a trigger that is also the owner's
 * unmask eventfd).  The signal is then counted and made from the entry's
 * irq_work, which runs in a context of its own.
 */
void __irq_remap_signal(struct irq_remap_entry *e, struct irq_remap_sig *sig)
{
	lockdep_assert_held(&e->table->lock);

	if (!eventfd_signal_allowed()) {
		e->deferred++;
		e->st.deferred++;
		irq_work_queue(&e->work);
		return;
	}
	sig->e = e;
	sig->n++;
}

/**
 * irq_remap_sig_fire() - make the signals decided under table->lock
 * @sig: from __irq_remap_signal(); emptied
 *
 * Called without table->lock: the wake-up functions of the eventfd run in
 * here.  The signals go to the entry's trigger as it is now (none if the
 * entry was reset meanwhile).
 *
 * Context: any, eventfd_signal() allowed.
 */
void irq_remap_sig_fire(struct irq_remap_sig *sig)
{
	struct irq_remap_entry *e = sig->e;
	struct eventfd_ctx *ctx;
	unsigned long irqflags;

	if (!e || !sig->n)
		return;
	spin_lock_irqsave(&e->sig_lock, irqflags);
	__this_cpu_inc(irq_remap_signalling);
	ctx = READ_ONCE(e->trigger);
	for (; ctx && sig->n; sig->n--)
		kvmio_eventfd_signal(ctx);
	__this_cpu_dec(irq_remap_signalling);
	spin_unlock_irqrestore(&e->sig_lock, irqflags);
	sig->n = 0;
}

/**
 * irq_remap_trigger_sync() - wait for signals in flight on an entry
 * @e: the entry, whose trigger was just replaced under table->lock
 *
 * Once this returns no irq_remap_sig_fire() uses the old trigger.
 * Context: process, no table->lock held.
 */
void irq_remap_trigger_sync(struct irq_remap_entry *e)
{
	unsigned long irqflags;

	spin_lock_irqsave(&e->sig_lock, irqflags);
	spin_unlock_irqrestore(&e->sig_lock, irqflags);
}

/**
 * __irq_remap_take_deferred() - take the signals deferred to the irq_work
 * @e: the entry
 *
 * Before the trigger is replaced or dropped: the caller makes the signals
 * already counted on the eventfd they were meant for (it holds that
 * eventfd's reference), once table->lock is dropped.
 *
 * Return: how many.
 */
unsigned int __irq_remap_take_deferred(struct irq_remap_entry *e)
{
	unsigned int n = e->deferred;

	lockdep_assert_held(&e->table->lock);

	e->deferred = 0;
	return n;
}

/**
 * irq_remap_rid_match() - the IRQ_REMAP_SVT_RID comparison
 * @sid: the requester id an entry verifies
 * @sq: IRQ_REMAP_SQ_*: function bits ignored
 * @source: the requester id to check
 *
 * Return: true if @source passes.
 */
bool irq_remap_rid_match(u16 sid, u8 sq, u16 source)
{
	static const u16 sq_mask[] = {
		[IRQ_REMAP_SQ_ALL]	= 0xffff,
		[IRQ_REMAP_SQ_IGN_2]	= 0xfffb,
		[IRQ_REMAP_SQ_IGN_2_1]	= 0xfff9,
		[IRQ_REMAP_SQ_IGN_2_0]	= 0xfff8,
	};

	return !((source ^ sid) & sq_mask[sq & 3]);
}

static bool irq_remap_source_ok(const struct irq_remap_entry *e, u16 source)
{
	u8 bus = source >> 8;

	switch (e->svt) {
	case IRQ_REMAP_SVT_RID:
		return irq_remap_rid_match(e->sid, e->sq, source);
	case IRQ_REMAP_SVT_BUS:
		return bus >= e->bus_start && bus <= e->bus_end;
	default:
		return true;
	}
}

/* Called with the lock held; returns the fault reason, or 0. */
static u8 __irq_remap_check(struct irq_remap_table *t, u16 source,
			    unsigned int handle, bool intx)
{
	struct irq_remap_entry *e;

	lockdep_assert_held(&t->lock);

	t->raised++;
	if (handle >= t->nr_entries)
		return IRQ_REMAP_FAULT_INDEX;
	e = &t->entries[handle];
	if (!(e->flags & IRQ_REMAP_ENTRY_PRESENT))
		return IRQ_REMAP_FAULT_NOT_PRESENT;
	if (!irq_remap_source_ok(e, source)) {
		e->st.faults++;
		return IRQ_REMAP_FAULT_SOURCE_ID;
	}
	if (intx && !(e->flags & IRQ_REMAP_ENTRY_INTX)) {
		e->st.faults++;
		return IRQ_REMAP_FAULT_MODE;
	}
	return 0;
}

static int irq_remap_fault_errno(u8 reason)
{
	switch (reason) {
	case IRQ_REMAP_FAULT_INDEX:
		return -ERANGE;
	case IRQ_REMAP_FAULT_NOT_PRESENT:
		return -ENOENT;
	case IRQ_REMAP_FAULT_SOURCE_ID:
		return -EPERM;
	default:
		return -EINVAL;
	}
}

static void __irq_remap_intx_assert(struct irq_remap_entry *e,
				    struct irq_remap_sig *sig)
{
	lockdep_assert_held(&e->table->lock);

	e->st.accepted++;
	e->asserted = true;
	if (e->flags & IRQ_REMAP_ENTRY_MASKED) {
		e->pending = true;
		e->st.masked++;
	} else if (e->in_service) {
		e->st.intx_suppressed++;
	} else {
		e->in_service = true;
		e->st.delivered++;
		e->last = ktime_get();
		__irq_remap_signal(e, sig);
	}
}

static void __irq_remap_msi(struct irq_remap_entry *e,
			    struct irq_remap_sig *sig)
{
	struct irq_remap_table *t = e->table;
	ktime_t now;

	lockdep_assert_held(&t->lock);

	e->st.accepted++;
	if (e->flags & IRQ_REMAP_ENTRY_MASKED) {
		e->pending = true;
		e->st.masked++;
		return;
	}
	if (e->coalescing) {
		e->st.coalesced++;
		return;
	}
	now = ktime_get();
	if (t->coalesce_ns && e->last &&
	    ktime_to_ns(ktime_sub(now, e->last)) < t->coalesce_ns) {
		e->coalescing = true;
		e->st.coalesced++;
		hrtimer_start(&e->timer, ktime_add_ns(e->last, t->coalesce_ns),
			      HRTIMER_MODE_ABS);
		return;
	}
	e->st.delivered++;
	e->last = now;
	__irq_remap_signal(e, sig);
}

static int irq_remap_request(struct irq_remap_table *t, u16 source,
			     unsigned int handle, bool intx)
{
	struct irq_remap_sig sig = {};
	struct irq_remap_entry *e;
	unsigned long irqflags;
	u8 reason;

	spin_lock_irqsave(&t->lock, irqflags);
	reason = __irq_remap_check(t, source, handle, intx);
	if (!reason) {
		e = &t->entries[handle];
		if (e->flags & IRQ_REMAP_ENTRY_INTX)
			__irq_remap_intx_assert(e, &sig);
		else
			__irq_remap_msi(e, &sig);
	}
	spin_unlock_irqrestore(&t->lock, irqflags);

	if (!reason) {
		irq_remap_sig_fire(&sig);
		return 0;
	}
	irq_remap_fault_record(t, source, handle, reason);
	return irq_remap_fault_errno(reason);
}

/**
 * irq_remap_deliver() - deliver one interrupt of a physical source
 * @t: the table
 * @source: requester id the interrupt came from (bus << 8 | devfn)
 * @handle: entry the interrupt names
 *
 * The entry must be present and its source check must accept @source;
 * otherwise a fault is logged and nothing is delivered.  A masked entry
 * keeps the interrupt pending (delivered once on unmask); inside the
 * table's coalescing interval the interrupt is merged into one delivery at
 * the end of the interval; otherwise the entry's eventfd is signalled.  On
 * an INTx entry this is irq_remap_intx_assert().
 *
 * Context: any, including hard-irq.
 * Return: 0 when the entry accepted the interrupt (delivered, pending or
 * coalesced); -ERANGE (handle beyond the table), -ENOENT (entry not
 * present) or -EPERM (source check failed) after logging a fault.
 */
int irq_remap_deliver(struct irq_remap_table *t, u16 source,
		      unsigned int handle)
{
	return irq_remap_request(t, source, handle, false);
}
EXPORT_SYMBOL_GPL(irq_remap_deliver);

/**
 * irq_remap_intx_assert() - raise the INTx line of an entry
 * @t: the table
 * @source: requester id asserting the line
 * @handle: an entry programmed with IRQ_REMAP_ENTRY_INTX
 *
 * Checks as irq_remap_deliver().  The first assert signals the eventfd and
 * puts the line in service: later asserts are not delivered until a
 * resample (irq_remap_intx_resample() or the entry's resample eventfd),
 * which delivers again if the line is still asserted.  While masked, the
 * assert is left pending and delivered on unmask if the line is still high.
 *
 * Context: any, including hard-irq.
 * Return: as irq_remap_deliver(); -EINVAL (after a fault) when the entry is
 * not an INTx entry.
 */
int irq_remap_intx_assert(struct irq_remap_table *t, u16 source,
			  unsigned int handle)
{
	return irq_remap_request(t, source, handle, true);
}
EXPORT_SYMBOL_GPL(irq_remap_intx_assert);

static struct irq_remap_entry *__irq_remap_intx_entry(struct irq_remap_table *t,
						      unsigned int handle,
						      int *err)
{
	struct irq_remap_entry *e;

	lockdep_assert_held(&t->lock);

	if (handle >= t->nr_entries) {
		*err = -EINVAL;
		return NULL;
	}
	e = &t->entries[handle];
	if (!(e->flags & IRQ_REMAP_ENTRY_INTX)) {
		*err = -ENXIO;
		return NULL;
	}
	return e;
}

/**
 * irq_remap_intx_deassert() - lower the INTx line of an entry
 * @t: the table
 * @handle: an INTx entry
 *
 * An assert left pending by a mask is dropped (the level is gone).
 *
 * Context: any, including hard-irq.
 * Return: 0, -EINVAL (handle beyond the table) or -ENXIO (not INTx).
 */
int irq_remap_intx_deassert(struct irq_remap_table *t, unsigned int handle)
{
	struct irq_remap_entry *e;
	unsigned long irqflags;
	int err = 0;

	spin_lock_irqsave(&t->lock, irqflags);
	e = __irq_remap_intx_entry(t, handle, &err);
	if (e) {
		e->asserted = false;
		e->pending = false;
	}
	spin_unlock_irqrestore(&t->lock, irqflags);
	return err;
}
EXPORT_SYMBOL_GPL(irq_remap_intx_deassert);

/**
 * irq_remap_intx_resample() - end of interrupt for an INTx entry
 * @t: the table
 * @handle: an INTx entry
 *
 * The line leaves service; if it is still asserted (and the entry present
 * and unmasked), it is delivered again.  Then the owner's EOI callback, if
 * any, runs.  A signal on the entry's resample eventfd does the same.
 *
 * A resample made from inside one of irq_remap's own signals (an unmask
 * eventfd that is another entry's trigger) is refused and counted: see
 * irq_remap_signalling.
 *
 * Context: any, including hard-irq.
 * Return: 0, -EINVAL (handle beyond the table), -ENXIO (not INTx) or
 * -ELOOP (refused: caused by irq_remap's own delivery).
 */
int irq_remap_intx_resample(struct irq_remap_table *t, unsigned int handle)
{
	void (*eoi)(void *eoi_data, unsigned int handle) = NULL;
	struct irq_remap_sig sig = {};
	struct irq_remap_entry *e;
	unsigned long irqflags;
	void *eoi_data = NULL;
	int err = 0;

	spin_lock_irqsave(&t->lock, irqflags);
	e = __irq_remap_intx_entry(t, handle, &err);
	if (e && irq_remap_in_own_signal()) {
		e->st.resample_loops++;
		spin_unlock_irqrestore(&t->lock, irqflags);
		return -ELOOP;
	}
	if (e) {
		e->in_service = false;
		if ((e->flags & IRQ_REMAP_ENTRY_PRESENT) && e->asserted &&
		    !(e->flags & IRQ_REMAP_ENTRY_MASKED)) {
			e->in_service = true;
			e->st.resample_fires++;
			e->last = ktime_get();
			__irq_remap_signal(e, &sig);
		}
		eoi = e->eoi;
		eoi_data = e->eoi_data;
	}
	spin_unlock_irqrestore(&t->lock, irqflags);

	irq_remap_sig_fire(&sig);
	if (eoi)
		eoi(eoi_data, handle);
	return err;
}
EXPORT_SYMBOL_GPL(irq_remap_intx_resample);

/**
 * __irq_remap_unmask() - clear an entry's mask and deliver what is pending
 * @e: the entry
 * @sig: for the signal (see __irq_remap_signal())
 */
void __irq_remap_unmask(struct irq_remap_entry *e, struct irq_remap_sig *sig)
{
	lockdep_assert_held(&e->table->lock);

	if (!(e->flags & IRQ_REMAP_ENTRY_MASKED))
		return;
	e->flags &= ~IRQ_REMAP_ENTRY_MASKED;
	if (!e->pending || !(e->flags & IRQ_REMAP_ENTRY_PRESENT))
		return;
	e->pending = false;
	if (e->flags & IRQ_REMAP_ENTRY_INTX) {
		if (!e->asserted || e->in_service)
			return;
		e->in_service = true;
	}
	e->st.unmask_fires++;
	e->last = ktime_get();
	__irq_remap_signal(e, sig);
}

/* The end of a coalescing interval: make the merged delivery. */
static enum hrtimer_restart irq_remap_timer_fn(struct hrtimer *timer)
{
	struct irq_remap_entry *e = container_of(timer, struct irq_remap_entry,
						 timer);
	struct irq_remap_table *t = e->table;
	struct irq_remap_sig sig = {};
	unsigned long irqflags;

	spin_lock_irqsave(&t->lock, irqflags);
	if (e->coalescing) {
		e->coalescing = false;
		if (e->flags & IRQ_REMAP_ENTRY_MASKED) {
			e->pending = true;
		} else if (e->flags & IRQ_REMAP_ENTRY_PRESENT) {
			e->st.timer_fires++;
			e->last = ktime_get();
			__irq_remap_signal(e, &sig);
		}
	}
	spin_unlock_irqrestore(&t->lock, irqflags);
	irq_remap_sig_fire(&sig);
	return HRTIMER_NORESTART;
}

/* Deferred signals and resamples of one entry, in hard-irq context. */
static void irq_remap_work_fn(struct irq_work *work)
{
	struct irq_remap_entry *e = container_of(work, struct irq_remap_entry,
						 work);
	struct irq_remap_table *t = e->table;
	struct irq_remap_sig sig = { .e = e };
	unsigned long irqflags;

	if (eventfd_signal_allowed()) {
		spin_lock_irqsave(&t->lock, irqflags);
		sig.n = __irq_remap_take_deferred(e);
		spin_unlock_irqrestore(&t->lock, irqflags);
		irq_remap_sig_fire(&sig);
	}

	if (test_and_clear_bit(IRQ_REMAP_KICK_LOOP, &e->kick)) {
		spin_lock_irqsave(&t->lock, irqflags);
		e->st.resample_loops++;
		spin_unlock_irqrestore(&t->lock, irqflags);
	}
	if (test_and_clear_bit(IRQ_REMAP_KICK_RESAMPLE, &e->kick))
		irq_remap_intx_resample(t, e->handle);
}

/*
 * Wake-up function on the resample eventfd's wait queue: called with that
 * eventfd's lock held, possibly inside eventfd_signal(), so it only consumes
 * the count and kicks the entry's irq_work: to resample, or, when the
 * signal is one of irq_remap's own (see irq_remap_signalling), only to
 * count the refusal.
 */
static int irq_remap_resample_wakeup(wait_queue_entry_t *wait,
				     unsigned int mode, int sync, void *key)
{
	struct irq_remap_entry *e = container_of(wait, struct irq_remap_entry,
						 resample_wait);
	__poll_t flags = key_to_poll(key);
	u64 cnt;

	if (flags & EPOLLIN) {
		eventfd_ctx_do_read(e->resample, &cnt);
		set_bit(irq_remap_in_own_signal() ? IRQ_REMAP_KICK_LOOP :
			IRQ_REMAP_KICK_RESAMPLE, &e->kick);
		irq_work_queue(&e->work);
	}
	return 0;
}

struct irq_remap_ptable {
	poll_table			pt;
	struct irq_remap_entry		*e;
};

static void irq_remap_resample_queue(struct file *file,
				     wait_queue_head_t *wqh, poll_table *pt)
{
	struct irq_remap_ptable *p = container_of(pt, struct irq_remap_ptable,
						  pt);

	add_wait_queue(wqh, &p->e->resample_wait);
}

/**
 * irq_remap_resample_register() - listen to an entry's resample eventfd
 * @e: the entry, whose @resample is already set to @file's eventfd
 * @file: the eventfd's file
 *
 * Context: process, table->cfg_lock held.
 * Return: 0.
 */
int irq_remap_resample_register(struct irq_remap_entry *e, struct file *file)
{
	struct irq_remap_ptable p = { .e = e };

	lockdep_assert_held(&e->table->cfg_lock);

	init_waitqueue_func_entry(&e->resample_wait, irq_remap_resample_wakeup);
	init_poll_funcptr(&p.pt, irq_remap_resample_queue);
	vfs_poll(file, &p.pt);
	return 0;
}

/**
 * irq_remap_resample_unregister() - stop listening to a resample eventfd
 * @e: the entry
 * @ctx: the eventfd it was registered on
 *
 * Once this returns, the wake-up function no longer runs for @e.
 * Context: process, table->cfg_lock held.
 */
void irq_remap_resample_unregister(struct irq_remap_entry *e,
				   struct eventfd_ctx *ctx)
{
	u64 cnt;

	lockdep_assert_held(&e->table->cfg_lock);
	eventfd_ctx_remove_wait_queue(ctx, &e->resample_wait, &cnt);
}

/**
 * irq_remap_entry_init() - set up an entry of a new table
 * @t: the table
 * @handle: the entry's index
 */
void irq_remap_entry_init(struct irq_remap_table *t, unsigned int handle)
{
	struct irq_remap_entry *e = &t->entries[handle];

	e->table = t;
	e->handle = handle;
	spin_lock_init(&e->sig_lock);
	init_irq_work(&e->work, irq_remap_work_fn);
	hrtimer_init(&e->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	e->timer.function = irq_remap_timer_fn;
}
