/* SPDX-License-Identifier: GPL-2.0 */
/*
 * irq_remap_priv.h - functions and structures shared by the files of
 * irq_remap.ko (not an interface for other modules: see
 * include/kvmio/irq_remap.h).
 */
#ifndef _IRQ_REMAP_PRIV_H
#define _IRQ_REMAP_PRIV_H

#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "kvmio/irq_remap.h"

/* Module parameters (main.c). */
extern unsigned int irq_remap_max_tables;
extern unsigned int irq_remap_max_entries;
extern unsigned int irq_remap_fault_log_size;
extern unsigned int irq_remap_default_coalesce_us;

/* Bits of irq_remap_entry.kick: work for the entry's irq_work. */
#define IRQ_REMAP_KICK_RESAMPLE	0
#define IRQ_REMAP_KICK_LOOP	1	/* count a refused looping resample */

/**
 * struct irq_remap_entry - one remapping entry (an IRTE)
 * @table: the table it belongs to
 * @handle: its index in the table
 * @owner: who allocated it, NULL when free (written under table->cfg_lock
 *	and table->lock; read under either)
 * @flags: IRQ_REMAP_ENTRY_PRESENT / _MASKED / _INTX (table->lock)
 * @pending: an interrupt arrived while masked (table->lock)
 * @asserted: INTx line level (table->lock)
 * @in_service: INTx delivered, waiting for a resample (table->lock)
 * @coalescing: the coalescing timer will deliver (table->lock)
 * @svt: source validation type (table->lock)
 * @sid: source id for IRQ_REMAP_SVT_RID (table->lock)
 * @sq: source-id qualifier (table->lock)
 * @bus_start: first bus for IRQ_REMAP_SVT_BUS (table->lock)
 * @bus_end: last bus for IRQ_REMAP_SVT_BUS (table->lock)
 * @msi_addr: guest-visible MSI address (table->lock)
 * @msi_data: guest-visible MSI data (table->lock)
 * @trigger: eventfd signalled on delivery (table->lock; swapped under
 *	table->cfg_lock too; read under @sig_lock to signal it)
 * @sig_lock: held while a signal decided under table->lock is made, after
 *	table->lock is dropped (irq_remap_sig_fire()); whoever replaces
 *	@trigger takes it once before dropping the old eventfd, so that a
 *	signal in flight ends first.  Never taken with table->lock held, nor
 *	inside an eventfd wake-up (where signals are deferred)
 * @resample: INTx EOI eventfd; @resample_wait is on its wait queue while
 *	set (table->cfg_lock; pointer also under table->lock)
 * @resample_wait: our wake-up function on @resample's wait queue
 * @eoi: owner's EOI callback (table->lock)
 * @eoi_data: its argument (table->lock)
 * @last: time of the last signal, 0 before the first (table->lock)
 * @deferred: signals waiting for @work (table->lock)
 * @kick: IRQ_REMAP_KICK_* bits for @work (atomic bitops)
 * @work: irq_work for deferred signals and resamples
 * @timer: the coalescing timer
 * @st: statistics (table->lock)
 */
struct irq_remap_entry {
	struct irq_remap_table	*table;
	unsigned int		handle;
	const void		*owner;
	u32			flags;
	bool			pending;
	bool			asserted;
	bool			in_service;
	bool			coalescing;
	u16			svt;
	u16			sid;
	u8			sq;
	u8			bus_start;
	u8			bus_end;
	u64			msi_addr;
	u32			msi_data;
	struct eventfd_ctx	*trigger;
	spinlock_t		sig_lock;	/* see above */
	struct eventfd_ctx	*resample;
	wait_queue_entry_t	resample_wait;
	void			(*eoi)(void *eoi_data, unsigned int handle);
	void			*eoi_data;
	ktime_t			last;
	unsigned int		deferred;
	unsigned long		kick;
	struct irq_work		work;
	struct hrtimer		timer;
	struct irq_remap_stats	st;
};

/**
 * struct irq_remap_fault_log - bounded ring of fault records
 * @lock: protects every field below but @work
 * @recs: @size records
 * @size: capacity
 * @head: index of the oldest record
 * @count: records in the ring
 * @overflow: faults lost because the ring was full
 * @faults: faults by enum irq_remap_fault_index
 * @eventfd: signalled (from @work) on every fault, or NULL; @work reads
 *	it under @lock and signals it once @lock is dropped, so whoever
 *	replaces it syncs @work before dropping the old eventfd
 * @signal: a fault happened since @work last ran
 * @work: signals @eventfd outside the delivery path
 */
struct irq_remap_fault_log {
	spinlock_t		lock;		/* see above */
	struct irq_remap_fault	*recs;
	unsigned int		size;
	unsigned int		head;
	unsigned int		count;
	u64			overflow;
	u64			faults[IRQ_REMAP_FI_NR];
	struct eventfd_ctx	*eventfd;
	bool			signal;
	struct irq_work		work;
};

/**
 * struct irq_remap_sig - eventfd signals decided under table->lock
 * @e: the entry whose trigger is to be signalled, or NULL
 * @n: how many signals
 *
 * The delivery path decides under table->lock and signals once it is
 * dropped, with irq_remap_sig_fire(): the trigger's wake-up functions run
 * inside eventfd_signal() and may call back into the engine (kvm_assign's
 * unmask handler, when the VMM gave one eventfd as trigger and unmask,
 * unmasks and resamples the entry).
 */
struct irq_remap_sig {
	struct irq_remap_entry	*e;
	unsigned int		n;
};

struct irq_remap_sysfs;

/**
 * struct irq_remap_table - a remapping table of one physical source
 * @ref: references: the creator's (dropped by destroy) and temporary ones
 *	of uAPI calls in flight
 * @id: global id (uAPI table id and sysfs name)
 * @requester_id: the physical source (bus << 8 | devfn)
 * @nr_entries: size of @entries
 * @cfg_lock: serialises programming: allocation, eventfd swaps (the fault
 *	eventfd's too), resample wait-queue registration, @dead; taken
 *	before @lock and the log's lock
 * @dead: destroyed; no more programming (cfg_lock)
 * @nr_allocated: allocated entries (cfg_lock)
 * @lock: protects the delivery state and statistics of every entry,
 *	@coalesce_ns and @raised
 * @coalesce_ns: coalescing interval, 0 for none (lock)
 * @raised: requests that reached the table (lock)
 * @log: the fault log
 * @sysfs: the table's sysfs directory, or NULL
 * @entries: the entries
 */
struct irq_remap_table {
	struct kref			ref;
	u32				id;
	u16				requester_id;
	unsigned int			nr_entries;
	struct mutex			cfg_lock;	/* see above */
	bool				dead;
	unsigned int			nr_allocated;
	spinlock_t			lock;		/* see above */
	u64				coalesce_ns;
	u64				raised;
	struct irq_remap_fault_log	log;
	struct irq_remap_sysfs		*sysfs;
	struct irq_remap_entry		entries[];
};

/* table.c */
void irq_remap_table_get(struct irq_remap_table *t);
void irq_remap_table_put(struct irq_remap_table *t);
void irq_remap_table_totals(struct irq_remap_table *t,
			    struct irq_remap_stats *sum,
			    unsigned int *nr_allocated, u32 *coalesce_us);

bool __irq_remap_is_resample(struct irq_remap_table *t,
			     struct eventfd_ctx *ctx);
int irq_remap_entry_chown(struct irq_remap_table *t, const void *from,
			  const void *to, unsigned int handle);

/* deliver.c */
void irq_remap_entry_init(struct irq_remap_table *t, unsigned int handle);
bool irq_remap_rid_match(u16 sid, u8 sq, u16 source);
void __irq_remap_signal(struct irq_remap_entry *e, struct irq_remap_sig *sig);
void irq_remap_sig_fire(struct irq_remap_sig *sig);
unsigned int __irq_remap_take_deferred(struct irq_remap_entry *e);
void irq_remap_trigger_sync(struct irq_remap_entry *e);
void __irq_remap_unmask(struct irq_remap_entry *e, struct irq_remap_sig *sig);
int irq_remap_resample_register(struct irq_remap_entry *e, struct file *file);
void irq_remap_resample_unregister(struct irq_remap_entry *e,
				   struct eventfd_ctx *ctx);

/* fault.c */
int irq_remap_fault_init(struct irq_remap_fault_log *log, unsigned int size);
void irq_remap_fault_exit(struct irq_remap_fault_log *log);
void irq_remap_fault_record(struct irq_remap_table *t, u16 source,
			    unsigned int handle, u8 reason);
int irq_remap_fault_set_eventfd(struct irq_remap_table *t, int fd);
bool irq_remap_fault_is_eventfd(struct irq_remap_table *t,
				struct eventfd_ctx *ctx);
void irq_remap_fault_counts(struct irq_remap_table *t, u64 *faults,
			    u64 *overflow, unsigned int *records);

/* sysfs.c */
int irq_remap_sysfs_init(void);
void irq_remap_sysfs_exit(void);
int irq_remap_sysfs_add(struct irq_remap_table *t);
void irq_remap_sysfs_del(struct irq_remap_table *t);

/* uapi.c */
int irq_remap_uapi_init(void);
void irq_remap_uapi_exit(void);

#endif /* _IRQ_REMAP_PRIV_H */
