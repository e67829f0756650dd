// SPDX-License-Identifier: GPL-2.0
/*
 * fault.c - the per-table fault log: a bounded ring of records (source,
 * handle, reason, time) with an overflow counter and an optional eventfd.
 */
#include <linux/eventfd.h>
#include <linux/slab.h>

#include "irq_remap_priv.h"

static int irq_remap_fault_index(u8 reason)
{
	switch (reason) {
	case IRQ_REMAP_FAULT_INDEX:
		return IRQ_REMAP_FI_INDEX;
	case IRQ_REMAP_FAULT_NOT_PRESENT:
		return IRQ_REMAP_FI_NOT_PRESENT;
	case IRQ_REMAP_FAULT_SOURCE_ID:
		return IRQ_REMAP_FI_SOURCE_ID;
	default:
		return IRQ_REMAP_FI_MODE;
	}
}

/*
 * Signals the fault eventfd in a context of its own (hard-irq), without
 * the log's lock: the eventfd's wake-up functions may record a fault.
 * irq_remap_fault_set_eventfd() syncs with us before dropping an eventfd.
 */
static void irq_remap_fault_work_fn(struct irq_work *work)
{
	struct irq_remap_fault_log *log =
		container_of(work, struct irq_remap_fault_log, work);
	struct eventfd_ctx *ctx = NULL;
	unsigned long irqflags;

	spin_lock_irqsave(&log->lock, irqflags);
	if (log->signal && log->eventfd && eventfd_signal_allowed()) {
		log->signal = false;
		ctx = log->eventfd;
	}
	spin_unlock_irqrestore(&log->lock, irqflags);
	if (ctx)
		kvmio_eventfd_signal(ctx);
}

int irq_remap_fault_init(struct irq_remap_fault_log *log, unsigned int size)
{
	spin_lock_init(&log->lock);
	init_irq_work(&log->work, irq_remap_fault_work_fn);
	log->size = clamp(size, 1U, 65536U);
	log->recs = kvcalloc(log->size, sizeof(*log->recs), GFP_KERNEL_ACCOUNT);
	return log->recs ? 0 : -ENOMEM;
}

/* Context: process; the table no longer delivers. */
void irq_remap_fault_exit(struct irq_remap_fault_log *log)
{
	irq_work_sync(&log->work);
	if (log->eventfd)
		eventfd_ctx_put(log->eventfd);
	log->eventfd = NULL;
	kvfree(log->recs);
	log->recs = NULL;
}

/**
 * irq_remap_fault_record() - log a blocked interrupt
 * @t: the table
 * @source: requester id of the interrupt
 * @handle: handle it named
 * @reason: IRQ_REMAP_FAULT_*
 *
 * Context: any, including hard-irq.
 */
void irq_remap_fault_record(struct irq_remap_table *t, u16 source,
			    unsigned int handle, u8 reason)
{
	struct irq_remap_fault_log *log = &t->log;
	struct irq_remap_fault *rec;
	unsigned long irqflags;

	spin_lock_irqsave(&log->lock, irqflags);
	log->faults[irq_remap_fault_index(reason)]++;
	if (log->count == log->size) {
		log->overflow++;
	} else {
		rec = &log->recs[(log->head + log->count) % log->size];
		rec->timestamp_ns = ktime_get_ns();
		rec->handle = handle;
		rec->source = source;
		rec->reason = reason;
		rec->pad0 = 0;
		log->count++;
	}
	if (log->eventfd) {
		log->signal = true;
		irq_work_queue(&log->work);
	}
	spin_unlock_irqrestore(&log->lock, irqflags);
	pr_debug("table %u: fault 0x%02x source %04x handle %u\n", t->id,
		 reason, source, handle);
}

/**
 * irq_remap_fault_read() - read records from a table's fault log
 * @t: the table
 * @recs: room for @nr records
 * @nr: how many to read at most
 * @consume: remove the records read from the log
 * @overflow: if not NULL, faults lost because the log was full
 * @remaining: if not NULL, records left in the log
 *
 * Records come oldest first.
 *
 * Context: any.
 * Return: the number of records copied.
 */
unsigned int irq_remap_fault_read(struct irq_remap_table *t,
				  struct irq_remap_fault *recs,
				  unsigned int nr, bool consume,
				  u64 *overflow, unsigned int *remaining)
{
	struct irq_remap_fault_log *log = &t->log;
	unsigned long irqflags;
	unsigned int i, n;

	spin_lock_irqsave(&log->lock, irqflags);
	n = min(nr, log->count);
	for (i = 0; i < n; i++)
		recs[i] = log->recs[(log->head + i) % log->size];
	if (consume) {
		log->head = (log->head + n) % log->size;
		log->count -= n;
	}
	if (overflow)
		*overflow = log->overflow;
	if (remaining)
		*remaining = log->count;
	spin_unlock_irqrestore(&log->lock, irqflags);
	return n;
}
EXPORT_SYMBOL_GPL(irq_remap_fault_read);

/**
 * irq_remap_fault_set_eventfd() - set or clear the fault eventfd
 * @t: the table
 * @fd: an eventfd of the caller, or -1 for none
 *
 * The eventfd must not be a resample eventfd of the table (a fault would
 * be an EOI); programming refuses the reverse.
 *
 * Context: process.
 * Return: 0, -EBADF, -EINVAL (not an eventfd, or a resample eventfd of
 * the table) or -ENOENT (table destroyed).
 */
int irq_remap_fault_set_eventfd(struct irq_remap_table *t, int fd)
{
	struct irq_remap_fault_log *log = &t->log;
	struct eventfd_ctx *ctx = NULL, *old;
	unsigned long irqflags;
	int ret;

	if (fd < -1)
		return -EBADF;
	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	/* cfg_lock: no entry takes @ctx as its resample eventfd meanwhile. */
	mutex_lock(&t->cfg_lock);
	if (ctx && (t->dead || __irq_remap_is_resample(t, ctx))) {
		ret = t->dead ? -ENOENT : -EINVAL;
		mutex_unlock(&t->cfg_lock);
		eventfd_ctx_put(ctx);
		return ret;
	}
	spin_lock_irqsave(&log->lock, irqflags);
	old = log->eventfd;
	log->eventfd = ctx;
	spin_unlock_irqrestore(&log->lock, irqflags);
	mutex_unlock(&t->cfg_lock);
	/* The work signals outside the lock: let it finish with @old. */
	irq_work_sync(&log->work);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

/**
 * irq_remap_fault_is_eventfd() - is an eventfd the table's fault eventfd?
 * @t: the table
 * @ctx: the eventfd
 *
 * Context: process, t->cfg_lock held (the fault eventfd changes under it).
 * Return: true if it is.
 */
bool irq_remap_fault_is_eventfd(struct irq_remap_table *t,
				struct eventfd_ctx *ctx)
{
	unsigned long irqflags;
	bool ret;

	lockdep_assert_held(&t->cfg_lock);

	spin_lock_irqsave(&t->log.lock, irqflags);
	ret = t->log.eventfd == ctx;
	spin_unlock_irqrestore(&t->log.lock, irqflags);
	return ret;
}

/* Faults by reason, the overflow count and the records in the log. */
void irq_remap_fault_counts(struct irq_remap_table *t, u64 *faults,
			    u64 *overflow, unsigned int *records)
{
	struct irq_remap_fault_log *log = &t->log;
	unsigned long irqflags;

	spin_lock_irqsave(&log->lock, irqflags);
	memcpy(faults, log->faults, sizeof(log->faults));
	*overflow = log->overflow;
	*records = log->count;
	spin_unlock_irqrestore(&log->lock, irqflags);
}
