/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * irq_remap.h - uAPI of the kvmio software interrupt-remapping engine
 *
 * /dev/irq_remap (mode 0600) lets a process create remapping tables, program
 * their entries with eventfds and drive interrupts through them in software
 * (for tests and the control tool).  The in-kernel users (kvm_assign) use the
 * kernel API in include/kvmio/irq_remap.h instead; both share the structures
 * and constants below.
 *
 * Every open file owns the tables it created: closing it destroys them and
 * drops every eventfd they hold.  A table id is only valid on the file that
 * created it (ENOENT elsewhere).
 *
 * Every ioctl takes a structure that starts with __u32 argsz (the size the
 * caller filled in, at least the size of the version documented here) and
 * __u32 flags.  Common errors: EFAULT (bad pointer), EINVAL (argsz too
 * small, unknown flags, nonzero padding, out-of-range value), ENOENT (no
 * such table on this file).
 */
#ifndef _UAPI_LINUX_IRQ_REMAP_H
#define _UAPI_LINUX_IRQ_REMAP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define IRQ_REMAP_TYPE	0xB7	/* out of tree, not registered */
#define IRQ_REMAP_BASE	0x40

/*
 * Fault reasons.  The values are VT-d's interrupt-remapping fault reasons
 * where one fits (Intel VT-d specification, "Interrupt Remapping Fault
 * Conditions"); the others are above 0x80.
 */
#define IRQ_REMAP_FAULT_INDEX		0x21	/* handle beyond the table (VT-d 0x21) */
#define IRQ_REMAP_FAULT_NOT_PRESENT	0x22	/* entry not present (VT-d 0x22) */
#define IRQ_REMAP_FAULT_SOURCE_ID	0x26	/* source-id check failed (VT-d 0x26) */
#define IRQ_REMAP_FAULT_MODE		0x81	/* INTx request on an MSI entry or the reverse */

/* Index of each reason in the faults[] arrays of the statistics. */
enum irq_remap_fault_index {
	IRQ_REMAP_FI_INDEX,
	IRQ_REMAP_FI_NOT_PRESENT,
	IRQ_REMAP_FI_SOURCE_ID,
	IRQ_REMAP_FI_MODE,
	IRQ_REMAP_FI_NR,
};

/* Source validation type, as VT-d's IRTE.SVT. */
#define IRQ_REMAP_SVT_NONE	0	/* no check */
#define IRQ_REMAP_SVT_RID	1	/* requester id == sid, with the sq qualifier */
#define IRQ_REMAP_SVT_BUS	2	/* requester's bus in [bus_start, bus_end] */

/*
 * Source-id qualifier for IRQ_REMAP_SVT_RID, as VT-d's IRTE.SQ: which low
 * bits of the function number are ignored in the comparison.
 */
#define IRQ_REMAP_SQ_ALL	0	/* compare all 16 bits */
#define IRQ_REMAP_SQ_IGN_2	1	/* ignore bit 2 */
#define IRQ_REMAP_SQ_IGN_2_1	2	/* ignore bits 2:1 */
#define IRQ_REMAP_SQ_IGN_2_0	3	/* ignore bits 2:0 (the whole function) */

/*
 * IRQ_REMAP_TABLE_CREATE - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 0)
 *
 * Create a table for the physical source @requester_id (bus << 8 | devfn)
 * with @nr_entries entries (1 .. the max_entries module parameter), all
 * free.  Returns the table's id in @table_id.  The coalescing interval
 * starts at the default_coalesce_us module parameter.
 *
 * Errors: EINVAL (nr_entries out of range), ENOSPC (max_tables reached),
 * ENOMEM, EFAULT (the table is destroyed again; it was not reachable by
 * its id on this file before @table_id was copied out).
 */
struct irq_remap_table_create {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u16	requester_id;
	__u16	pad0;
	__u32	nr_entries;
	__u32	table_id;	/* out */
	__u32	pad1;
};

#define IRQ_REMAP_TABLE_CREATE	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 0)

/*
 * IRQ_REMAP_TABLE_DESTROY - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 1)
 *
 * Destroy table @table_id: every entry is freed and its eventfds dropped.
 * Takes struct irq_remap_table_op.
 */
struct irq_remap_table_op {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__u32	pad0;
};

#define IRQ_REMAP_TABLE_DESTROY	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 1)

/*
 * IRQ_REMAP_ENTRY_ALLOC - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 2)
 *
 * Allocate an entry of table @table_id to this file: the lowest free handle,
 * or @handle itself with IRQ_REMAP_ALLOC_FIXED.  The new entry is not
 * present.  Returns the handle in @handle.
 *
 * Errors: ENOSPC (table full), EBUSY (fixed handle taken), EINVAL (fixed
 * handle beyond the table), EFAULT (the entry is given back; it was not
 * this file's before @handle was copied out).
 */
struct irq_remap_entry_alloc {
	__u32	argsz;
	__u32	flags;
#define IRQ_REMAP_ALLOC_FIXED	(1u << 0)
	__u32	table_id;
	__u32	handle;		/* in with ALLOC_FIXED, out */
};

#define IRQ_REMAP_ENTRY_ALLOC	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 2)

/*
 * IRQ_REMAP_ENTRY_FREE - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 3)
 * IRQ_REMAP_ENTRY_MASK - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 5)
 * IRQ_REMAP_ENTRY_UNMASK - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 6)
 * IRQ_REMAP_INTX_DEASSERT - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 9)
 * IRQ_REMAP_INTX_RESAMPLE - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 10)
 *
 * Take struct irq_remap_entry_op naming entry @handle of table @table_id.
 *
 * FREE returns the entry to the table (dropping its eventfds); MASK and
 * UNMASK set its mask (an interrupt that arrives while masked is left
 * pending and delivered once on unmask; for an INTx entry, unmask delivers
 * if the line is still asserted).  FREE, MASK and UNMASK need the entry to
 * be allocated to this file.
 *
 * INTX_DEASSERT lowers an INTx entry's line; INTX_RESAMPLE does what a
 * signal on the entry's resample eventfd does (the guest's EOI): the line
 * leaves service and, if still asserted, is delivered again.
 *
 * Errors: EINVAL (handle beyond the table), EPERM (entry not allocated to
 * this file), ENXIO (INTx operation on an entry not programmed for INTx).
 */
struct irq_remap_entry_op {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__u32	handle;
};

#define IRQ_REMAP_ENTRY_FREE	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 3)

/*
 * IRQ_REMAP_ENTRY_SET - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 4)
 *
 * Program entry @handle (allocated to this file) of table @table_id.
 *
 * @flags: IRQ_REMAP_ENTRY_PRESENT (the entry delivers; needs @eventfd),
 * IRQ_REMAP_ENTRY_MASKED, IRQ_REMAP_ENTRY_INTX (level-triggered shared line
 * semantics instead of MSI edge semantics).
 * @eventfd: the target eventfd, or -1 for none.
 * @resample_fd: for INTx entries, an eventfd whose signal means "EOI"
 * (KVM's irqfd resample eventfd), or -1 for none.
 * @svt, @sid, @sq, @bus_start, @bus_end: the source check (IRQ_REMAP_SVT_*).
 * @msi_addr, @msi_data: the guest-visible vector of the owner's virtual MSI,
 * stored and reported, not interpreted.
 *
 * Programming replaces the whole entry atomically for the delivery path;
 * a pending interrupt stays pending.  Changing the mask through ENTRY_SET
 * behaves as MASK / UNMASK.
 *
 * An IRQ_REMAP_SVT_RID check must accept the table's @requester_id (@sid
 * equal to it but for the bits @sq ignores).  The engine never listens to
 * an eventfd it signals: @resample_fd must not be the same eventfd as
 * @eventfd (whatever the fd numbers), another entry's eventfd or the
 * table's fault eventfd, and @eventfd not another entry's resample
 * eventfd (each delivery would be a resample, and an asserted line would
 * be delivered again for ever).
 *
 * Errors: EINVAL (unknown flags or svt, sq > 3, bus_start > bus_end,
 * PRESENT without an eventfd, resample_fd without INTX, nonzero padding,
 * an SVT_RID sid that is not the table's device, an eventfd pairing
 * above), EBADF (a fd that is not open), EINVAL (a fd that is not an
 * eventfd), EPERM (entry not allocated to this file).
 */
struct irq_remap_entry_set {
	__u32	argsz;
	__u32	flags;
#define IRQ_REMAP_ENTRY_PRESENT	(1u << 0)
#define IRQ_REMAP_ENTRY_MASKED	(1u << 1)
#define IRQ_REMAP_ENTRY_INTX	(1u << 2)
	__u32	table_id;
	__u32	handle;
	__s32	eventfd;
	__s32	resample_fd;
	__u16	svt;
	__u16	sid;
	__u8	sq;
	__u8	bus_start;
	__u8	bus_end;
	__u8	pad0;
	__u32	msi_data;
	__u32	pad1;
	__u64	msi_addr;
};

#define IRQ_REMAP_ENTRY_SET	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 4)

#define IRQ_REMAP_ENTRY_MASK	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 5)
#define IRQ_REMAP_ENTRY_UNMASK	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 6)

/*
 * IRQ_REMAP_RAISE - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 7)
 * IRQ_REMAP_INTX_ASSERT - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 8)
 *
 * Inject @count (1 .. 65536) software interrupts into table @table_id as
 * requester @source on @handle, through the same path a physical device's
 * interrupt takes (irq_remap_deliver() / irq_remap_intx_assert()).  With
 * IRQ_REMAP_RAISE_HARDIRQ each one is delivered from hard-irq context (an
 * irq_work on this CPU) and the call waits for it.  Any file may raise into
 * its own tables; a blocked interrupt is a fault, not an error of the call:
 * @delivered and @faulted (out) count how the @count requests ended
 * (accepted by a present entry, or refused with a fault).
 *
 * Errors: EINVAL (count out of range, unknown flags), EINTR (a signal
 * arrived; the counts say how far it got).
 */
struct irq_remap_raise {
	__u32	argsz;
	__u32	flags;
#define IRQ_REMAP_RAISE_HARDIRQ	(1u << 0)
	__u32	table_id;
	__u32	handle;
	__u16	source;
	__u16	pad0;
	__u32	count;
	__u32	delivered;	/* out */
	__u32	faulted;	/* out */
};

#define IRQ_REMAP_RAISE		_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 7)
#define IRQ_REMAP_INTX_ASSERT	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 8)
#define IRQ_REMAP_INTX_DEASSERT	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 9)
#define IRQ_REMAP_INTX_RESAMPLE	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 10)

/*
 * IRQ_REMAP_GET_FAULTS - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 11)
 *
 * Consume up to @nr records (oldest first) from the fault log of table
 * @table_id into the array at @records.  On return @nr is the number of
 * records copied, @remaining the number still in the log and @overflow the
 * number of faults lost because the log was full (cumulative).
 * IRQ_REMAP_FAULTS_PEEK copies without consuming.
 *
 * Errors: EINVAL (nr > 4096), EFAULT (records not writable; the records
 * are then not consumed).
 */
struct irq_remap_fault {
	__u64	timestamp_ns;	/* CLOCK_MONOTONIC */
	__u32	handle;
	__u16	source;
	__u8	reason;		/* IRQ_REMAP_FAULT_* */
	__u8	pad0;
};

struct irq_remap_get_faults {
	__u32	argsz;
	__u32	flags;
#define IRQ_REMAP_FAULTS_PEEK	(1u << 0)
	__u32	table_id;
	__u32	nr;		/* in: capacity, out: copied */
	__u64	records;	/* user pointer to struct irq_remap_fault[nr] */
	__u64	overflow;	/* out */
	__u32	remaining;	/* out */
	__u32	pad0;
};

#define IRQ_REMAP_GET_FAULTS	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 11)

/*
 * IRQ_REMAP_SET_FAULT_EVENTFD - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 12)
 *
 * Signal eventfd @fd (or none with -1) whenever table @table_id logs a
 * fault.  The signal comes from an irq_work, shortly after the fault.
 *
 * Errors: EBADF, EINVAL (not an eventfd, or a resample eventfd of the
 * table).
 */
struct irq_remap_fault_eventfd {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__s32	fd;
};

#define IRQ_REMAP_SET_FAULT_EVENTFD	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 12)

/*
 * IRQ_REMAP_GET_TABLE_STATS - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 13)
 *
 * Table-wide state and statistics.  @faults[] counts faults by
 * enum irq_remap_fault_index, @raised every request that reached the table.
 */
struct irq_remap_table_stats {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__u16	requester_id;	/* out */
	__u16	pad0;
	__u32	nr_entries;	/* out */
	__u32	nr_allocated;	/* out */
	__u32	coalesce_us;	/* out */
	__u32	fault_records;	/* out: records in the log */
	__u64	raised;		/* out */
	__u64	fault_overflow;	/* out */
	__u64	faults[IRQ_REMAP_FI_NR];	/* out */
};

#define IRQ_REMAP_GET_TABLE_STATS	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 13)

/*
 * IRQ_REMAP_GET_ENTRY - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 14)
 *
 * State, programming and statistics of entry @handle of table @table_id
 * (any entry of the file's table, allocated or not).
 *
 * Every request accepted by a present entry ends in exactly one of
 * @delivered (signalled at once), @coalesced (merged into a delivery the
 * coalescing timer makes), @masked (left pending while masked) or
 * @intx_suppressed (INTx line already in service), so
 * accepted == delivered + coalesced + masked + intx_suppressed.
 * Every eventfd signal is one of @delivered, @timer_fires, @unmask_fires or
 * @resample_fires, so their sum is what the eventfd's counter received.
 * @deferred counts signals that had to be made from an irq_work because the
 * caller was inside another eventfd's wake-up.  @faults counts source-id
 * and mode faults charged to this entry.
 */
struct irq_remap_entry_info {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__u32	handle;
	__u32	state;		/* out: IRQ_REMAP_STATE_* */
#define IRQ_REMAP_STATE_ALLOCATED	(1u << 0)
#define IRQ_REMAP_STATE_OWNED		(1u << 1)	/* by this file */
#define IRQ_REMAP_STATE_PRESENT		(1u << 2)
#define IRQ_REMAP_STATE_MASKED		(1u << 3)
#define IRQ_REMAP_STATE_PENDING		(1u << 4)
#define IRQ_REMAP_STATE_INTX		(1u << 5)
#define IRQ_REMAP_STATE_ASSERTED	(1u << 6)
#define IRQ_REMAP_STATE_IN_SERVICE	(1u << 7)
#define IRQ_REMAP_STATE_COALESCING	(1u << 8)
	__u16	svt;		/* out */
	__u16	sid;		/* out */
	__u8	sq;		/* out */
	__u8	bus_start;	/* out */
	__u8	bus_end;	/* out */
	__u8	pad0;
	__u32	msi_data;	/* out */
	__u64	msi_addr;	/* out */
	__u64	accepted;
	__u64	delivered;
	__u64	coalesced;
	__u64	masked;
	__u64	intx_suppressed;
	__u64	timer_fires;
	__u64	unmask_fires;
	__u64	resample_fires;
	__u64	deferred;
	__u64	faults;
};

#define IRQ_REMAP_GET_ENTRY	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 14)

/*
 * IRQ_REMAP_SET_COALESCE - _IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 15)
 *
 * Set the coalescing interval of table @table_id to @interval_us
 * microseconds (0 disables; at most 10 s): each MSI entry delivers at most
 * once per interval; interrupts inside it are merged into one delivery made
 * by a timer at the end of the interval.  INTx entries are not coalesced
 * (their level semantics already hold further interrupts until the EOI).
 *
 * Errors: EINVAL (interval above 10000000).
 */
struct irq_remap_coalesce {
	__u32	argsz;
	__u32	flags;		/* none defined: 0 */
	__u32	table_id;
	__u32	interval_us;
};

#define IRQ_REMAP_SET_COALESCE	_IO(IRQ_REMAP_TYPE, IRQ_REMAP_BASE + 15)

#define IRQ_REMAP_MAX_COALESCE_US	10000000u
#define IRQ_REMAP_MAX_RAISE		65536u
#define IRQ_REMAP_MAX_FAULT_READ	4096u

#endif /* _UAPI_LINUX_IRQ_REMAP_H */
