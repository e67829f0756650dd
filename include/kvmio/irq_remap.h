/* SPDX-License-Identifier: GPL-2.0 */
/*
 * irq_remap.h - kernel API of the kvmio software interrupt-remapping engine
 *
 * A table belongs to one physical interrupt source (a PCI requester id).
 * Its owner (e.g. kvm_assign) allocates entries, programs each with a target
 * eventfd (the irqfd the VMM gave KVM), a source check and the guest-visible
 * MSI vector, and its interrupt handler calls irq_remap_deliver() or
 * irq_remap_intx_assert() for every interrupt of the device.
 *
 * Context rules: irq_remap_deliver(), irq_remap_intx_*() and the mask and
 * statistics calls may be called from any context, including hard-irq;
 * everything else may sleep.  The caller must not destroy a table while it
 * can still call into it (free_irq() first).
 */
#ifndef _KVMIO_IRQ_REMAP_H
#define _KVMIO_IRQ_REMAP_H

#include <linux/types.h>
#include <uapi/linux/irq_remap.h>

struct irq_remap_table;

/**
 * struct irq_remap_entry_cfg - what irq_remap_entry_program() installs
 * @flags: IRQ_REMAP_ENTRY_PRESENT, IRQ_REMAP_ENTRY_MASKED,
 *	IRQ_REMAP_ENTRY_INTX
 * @trigger_fd: eventfd to signal, resolved in the caller's process; -1 none
 * @resample_fd: INTx only: eventfd whose signal is the EOI; -1 none; not
 *	one the table signals (see irq_remap_entry_program())
 * @svt: IRQ_REMAP_SVT_NONE, IRQ_REMAP_SVT_RID or IRQ_REMAP_SVT_BUS
 * @sid: requester id to verify (SVT_RID); must be the table's, but for
 *	the function bits @sq ignores
 * @sq: IRQ_REMAP_SQ_*: function bits ignored by the SVT_RID check
 * @bus_start: first accepted bus (SVT_BUS)
 * @bus_end: last accepted bus (SVT_BUS)
 * @msi_addr: guest-visible MSI address (stored and reported)
 * @msi_data: guest-visible MSI data (stored and reported)
 * @eoi: optional, INTx only: called after each resample (EOI) of the
 *	entry, without irq_remap locks held, in the context of the resample:
 *	hard-irq (an irq_work) for a signal on @resample_fd, the caller's for
 *	irq_remap_intx_resample().  The owner typically unmasks the physical
 *	INTx there.
 * @eoi_data: argument of @eoi
 */
struct irq_remap_entry_cfg {
	u32	flags;
	int	trigger_fd;
	int	resample_fd;
	u16	svt;
	u16	sid;
	u8	sq;
	u8	bus_start;
	u8	bus_end;
	u64	msi_addr;
	u32	msi_data;
	void	(*eoi)(void *eoi_data, unsigned int handle);
	void	*eoi_data;
};

/**
 * struct irq_remap_stats - an entry's statistics and state
 * @state: IRQ_REMAP_STATE_* (IRQ_REMAP_STATE_OWNED is never set here)
 * @accepted: requests accepted by the present entry
 * @delivered: ... signalled at once
 * @coalesced: ... merged into a timer delivery
 * @masked: ... left pending while masked
 * @intx_suppressed: ... INTx asserts while the line was in service
 * @timer_fires: signals made by the coalescing timer
 * @unmask_fires: signals made on unmask
 * @resample_fires: signals made on an INTx resample with the line asserted
 * @deferred: signals made from an irq_work (caller inside an eventfd wake-up)
 * @faults: faults charged to this entry
 * @resample_loops: resamples (and unmask-eventfd unmasks) refused because
 *	they ran inside irq_remap's own signal of a trigger: a trigger wired
 *	back as the resample eventfd of an entry of another table
 * @signalled: every eventfd signal made (@delivered + @timer_fires +
 *	@unmask_fires + @resample_fires): the interrupts the target
 *	received, unlike @accepted, which also counts those held
 */
struct irq_remap_stats {
	u32	state;
	u64	accepted;
	u64	delivered;
	u64	coalesced;
	u64	masked;
	u64	intx_suppressed;
	u64	timer_fires;
	u64	unmask_fires;
	u64	resample_fires;
	u64	deferred;
	u64	faults;
	u64	signalled;
	u64	resample_loops;
};

struct irq_remap_table *irq_remap_table_create(u16 requester_id,
					       unsigned int nr_entries);
void irq_remap_table_destroy(struct irq_remap_table *t);
u16 irq_remap_table_requester_id(const struct irq_remap_table *t);
u32 irq_remap_table_id(const struct irq_remap_table *t);
int irq_remap_table_set_coalesce(struct irq_remap_table *t, u32 interval_us);

int irq_remap_entry_alloc(struct irq_remap_table *t, const void *owner,
			  int handle);
int irq_remap_entry_free(struct irq_remap_table *t, const void *owner,
			 unsigned int handle);
int irq_remap_entry_program(struct irq_remap_table *t, const void *owner,
			    unsigned int handle,
			    const struct irq_remap_entry_cfg *cfg);
int irq_remap_entry_set_masked(struct irq_remap_table *t, const void *owner,
			       unsigned int handle, bool masked);

int irq_remap_deliver(struct irq_remap_table *t, u16 source,
		      unsigned int handle);
int irq_remap_intx_assert(struct irq_remap_table *t, u16 source,
			  unsigned int handle);
int irq_remap_intx_deassert(struct irq_remap_table *t, unsigned int handle);
int irq_remap_intx_resample(struct irq_remap_table *t, unsigned int handle);

int irq_remap_entry_stats(struct irq_remap_table *t, unsigned int handle,
			  struct irq_remap_stats *st);
int irq_remap_entry_info(struct irq_remap_table *t, unsigned int handle,
			 const void *owner, struct irq_remap_entry_info *info);
unsigned int irq_remap_fault_read(struct irq_remap_table *t,
				  struct irq_remap_fault *recs,
				  unsigned int nr, bool consume,
				  u64 *overflow, unsigned int *remaining);

#endif /* _KVMIO_IRQ_REMAP_H */
