/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_assign e1000 model: state shared by its files.
 *
 *   model_e1000.c  the virtual function of each context: register file,
 *                  EEPROM, PHY, interrupt causes, reset, sysfs
 *   e1000_nic.c    the physical NIC: its rings, its interrupt, link state
 *   e1000_tx.c     shadow transmit: guest descriptors checked, translated
 *                  and queued on the physical ring; completions written back
 *   e1000_rx.c     receive: frames from the physical ring filtered and
 *                  copied into each context's guest buffers
 *
 *   e1000_sched.c  the device-context scheduler: which context's packets
 *                  the one physical TX ring takes next (deficit round
 *                  robin by bytes, weights, rate limits, the link rate),
 *                  switching between contexts, the NIC's sysfs knobs
 *
 * One NIC serves up to e1000_max_contexts contexts at once (the mdev
 * parent's available_instances): a list of contexts, one TX ring shared
 * by all, a receive path that demultiplexes by destination MAC, and
 * frames between contexts of the NIC switched inside the model.
 *
 * Lock order (outermost first):
 *
 *   ctx->lock (VFIO paths) -> nic->sched_lock -> nic->ctx_lock
 *      -> ctx->dma_lock -> nic->tx_lock -> ec->lock
 *
 * No path holds one context's dma_lock while it takes another's: a frame
 * for another context is copied out first, then delivered.  ec->lock is a
 * spinlock (the register file; also taken from the interrupt-moderation
 * timer); the others are mutexes.  Interrupts are raised
 * (ka_ctx_interrupt()) under ec->lock: irq_remap signals outside its own
 * locks and takes none of ours.
 */
#ifndef _KVM_ASSIGN_E1000_H
#define _KVM_ASSIGN_E1000_H

#include <linux/hrtimer.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "kvm_assign_priv.h"
#include "kvmio/e1000.h"
/*
 * e1000_offload.c: TX checksum and TSO in software, for frames delivered
 * from context to context (struct e1k_tx_pkt_offload, e1k_tx_offload_init(),
 * e1k_offload_frames(), E1K_OFFLOAD_SCRATCH).  Declared in their own header
 * so that the userspace unit test compiles e1000_offload.c without the
 * model's kernel headers.
 */
#include "e1000_offload.h"

#define E1K_PRING_DESC		256	/* physical TX and RX rings */
#define E1K_PRX_BUF		2048	/* physical receive buffers */
#define E1K_PKT_MAX_DESC	64	/* guest descriptors in one packet */
#define E1K_REGS		(E1K_BAR0_SIZE / 4)
#define E1K_TX_HDR_SLOT		16	/* bytes per slot in nic->tx_hdr */

struct e1k_tx_pkt;

/* Per-context counters (sysfs <mdev>/e1000/) */
struct e1k_stats {
	atomic64_t	tx_packets;
	atomic64_t	tx_bytes;
	atomic64_t	rx_packets;
	atomic64_t	rx_bytes;
	atomic64_t	rx_no_buffer;
	atomic64_t	rx_filtered;
	atomic64_t	rx_faults;
	atomic64_t	tx_faults;
	atomic64_t	tx_bad_desc;
	atomic64_t	tx_bad_ring;
	atomic64_t	regs_unknown;
	atomic64_t	irqs_raised;
	atomic64_t	tx_spoofed;
	atomic64_t	tx_switched;
	atomic64_t	rx_switched;
	atomic64_t	tx_throttled;
	atomic64_t	sched_wait_ns;
};

/* Microwire EEPROM state, as the driver bit-bangs it through EECD */
struct e1k_eeprom {
	u32	eecd;		/* the bits the driver drives */
	u32	in_val;
	u16	in_bits;
	u16	out_bit;
	bool	reading;
};

/* A frame waiting for guest receive buffers (the virtual NIC's RX FIFO) */
#define E1K_RX_FIFO		32	/* frames: about the 82540's 48 KiB */
struct e1k_rx_frame {
	u16	len;
	u16	special;
	bool	tagged;
	u8	data[E1K_PRX_BUF];
};

/* One physical transmit slot */
struct e1k_pslot {
	struct ka_ctx	*ctx;		/* owner (NULL: free or context desc) */
	struct ka_xfer	xfer;		/* the buffer's translation */
	u16		guest_count;	/* EOP: guest descriptors it completes */
	u32		gen;		/* ec->gen when queued */
	bool		eop;
};

/* A packet copied out for other contexts */
#define E1K_SW_PKT_MAX		(E1K_TX_PKT_MAX + 64)

/**
 * struct e1k_sw_pkt - a packet copied out of a guest for other contexts
 * @len:	its length
 * @tagged:	the guest asked for a VLAN tag (VLE with CTRL.VME)
 * @tci:	the tag
 * @off:	the offloads it asked for (checksums, TSO), from its first
 *		data descriptor and the contexts in effect
 * @data:	the packet, its Ethernet header the checked host copy
 */
struct e1k_sw_pkt {
	unsigned int			len;
	bool				tagged;
	u16				tci;
	struct e1k_tx_pkt_offload	off;
	u8				data[E1K_SW_PKT_MAX];
};

/**
 * struct e1k_nic - the physical NIC (ka_dev->model_data)
 * @kd:		the device
 * @regs:	its BAR0
 * @mac:	its own MAC address (RAR0 at probe), given back at remove
 * @ctx_lock:	protects @ctxs (the contexts attached, open or not)
 * @ctxs:	list of e1k_ctx.node
 * @tx_lock:	protects the physical TX ring and @pslot
 * @tx_ring:	physical TX descriptors (coherent)
 * @tx_dma:	their bus address
 * @pslot:	what each physical TX slot holds
 * @tx_tail:	next slot to fill (the physical TDT we wrote)
 * @tx_clean:	next slot to reap
 * @rx_ring:	physical RX descriptors (coherent)
 * @rx_dma:	their bus address
 * @rx_bufs:	the receive buffers, E1K_PRX_BUF each (coherent)
 * @rx_bufs_dma: their bus address
 * @rx_clean:	next RX descriptor to look at (only the work touches it)
 * @work:	runs receive, transmit completion and link changes
 * @causes:	ICR causes the handler saw, for @work
 * @rx_retry:	runs @work again when a held frame's time is up
 * @rx_held:	a frame waits on the RX ring for a context's room
 * @rx_hold_since: when it started waiting (jiffies; only the work)
 * @link_up:	physical link state
 * @removing:	the NIC is going away: no new work
 * @irqs:	physical interrupts handled
 * @rx_bad:	frames the NIC received in error or split (dropped)
 * @tx_hdr:	host copies of each packet's Ethernet header, one per
 *		physical TX slot (coherent; the header the NIC sends is the
 *		one the model checked)
 * @tx_hdr_dma:	their bus address
 * @tx_pkt:	the packet being moved (under @sched_lock)
 * @sched_lock:	the scheduler: @active, @sw, the knobs and each context's
 *		scheduling state; held across a whole scheduling pass.  Adding
 *		or removing a context and changing its MAC also take it, so a
 *		pass may read @ctxs and every context's MAC under it alone
 * @active:	contexts with transmit work (e1k_ctx.sched_node), in round
 *		robin order
 * @kick_lock:	protects @kicked (a spinlock: a guest's TDT write never
 *		waits for a scheduling pass; taken under @sched_lock, or alone)
 * @kicked:	contexts a register write gave work that no pass has put
 *		on @active yet (e1k_ctx.kick_node)
 * @sched_timer: wakes the scheduler when a rate limit allows again
 * @sched_work:	runs the scheduler from the timer
 * @sched_wq:	the NIC's high-priority workqueue (@work, @rx_retry, @sched_work)
 * @sched_last: the context whose packet went last (a switch is counted
 *		when the next one is another's, across passes)
 * @link_tokens: bytes the link rate allows now (may run into debt)
 * @link_last:	when @link_tokens was last refilled
 * @quantum:	bytes per round per unit of weight (sysfs)
 * @link_rate:	bytes/s the scheduler shares, 0: as fast as the NIC takes
 * @ring_share:	physical TX descriptors one context may hold
 * @sw:		a packet copied out for contexts of this NIC, and room for
 *		the frames the software offload makes of it (under
 *		@sched_lock)
 * @sw_scratch:	the software offload's scratch space (under @sched_lock)
 * @filter_exact: the NIC's RAR entries hold every context's MAC (RCTL
 *		without UPE); else it is promiscuous
 * @ctx_switches: times the scheduler moved to another context
 * @ring_inflight: physical TX descriptors holding guest buffers now
 * @ring_inflight_max: the most there were
 * @rx_unknown_unicast: unicast frames for no context, dropped
 * @tx_switched: frames switched between contexts of the NIC
 */
struct e1k_nic {
	struct ka_dev		*kd;
	void __iomem		*regs;
	u8			mac[6];

	struct mutex		ctx_lock;	/* @ctxs */
	struct list_head	ctxs;

	struct mutex		tx_lock;	/* physical TX ring, @pslot */
	struct e1k_tx_desc	*tx_ring;
	dma_addr_t		tx_dma;
	struct e1k_pslot	pslot[E1K_PRING_DESC];
	unsigned int		tx_tail;
	unsigned int		tx_clean;

	struct e1k_rx_desc	*rx_ring;
	dma_addr_t		rx_dma;
	u8			*rx_bufs;
	dma_addr_t		rx_bufs_dma;
	unsigned int		rx_clean;

	struct work_struct	work;
	atomic_t		causes;
	struct delayed_work	rx_retry;
	bool			rx_held;
	unsigned long		rx_hold_since;
	bool			link_up;
	bool			removing;
	atomic64_t		irqs;
	atomic64_t		rx_bad;

	u8			*tx_hdr;
	dma_addr_t		tx_hdr_dma;
	struct e1k_tx_pkt	*tx_pkt;

	struct mutex		sched_lock;	/* scheduler, see above */
	struct list_head	active;
	spinlock_t		kick_lock;	/* @kicked, see above */
	struct list_head	kicked;
	struct hrtimer		sched_timer;
	struct work_struct	sched_work;
	struct workqueue_struct	*sched_wq;
	struct e1k_ctx		*sched_last;
	s64			link_tokens;
	ktime_t			link_last;
	unsigned int		quantum;
	u64			link_rate;
	unsigned int		ring_share;
	struct e1k_sw_pkt	*sw;
	u8			*sw_scratch;
	bool			filter_exact;

	atomic64_t		ctx_switches;
	atomic_t		ring_inflight;
	atomic_t		ring_inflight_max;
	atomic64_t		rx_unknown_unicast;
	atomic64_t		tx_switched;
};

/**
 * struct e1k_ctx - a context's virtual function (ka_ctx->model_state)
 * @ctx:	the context
 * @nic:	its NIC
 * @node:	in nic->ctxs (under nic->ctx_lock)
 * @lock:	protects everything below but @stats; hard-irq safe
 * @reg:	the register file, indexed by offset / 4
 * @phy:	PHY registers
 * @eeprom:	EEPROM contents (MAC and checksum)
 * @ee:		EEPROM access state
 * @mac:	the context's MAC (sysfs; copied into @eeprom at reset)
 * @ioaddr:	the I/O BAR's IOADDR (the register IODATA reaches)
 * @irq_level:	the virtual INTx line as last reported
 * @last_raise:	when it was last raised (ITR moderation)
 * @gen:	bumped at each reset: work queued before it is dropped
 * @tx_next:	next guest TX descriptor to fetch (TDH <= tx_next <= TDT)
 * @tx_inflight: guest packets queued on the physical ring
 * @tx_ctx_tso:	the guest's last TSO context descriptor (copy)
 * @tx_ctx_csum: its last checksum context descriptor (copy)
 * @tx_wb:	per guest TX descriptor: write DD back (RS/RPS)
 * @tx_upper:	per guest TX descriptor: its upper dword as fetched
 * @tx_done:	guest descriptors completed, not yet written back
 * @rx_fifo:	frames the guest had no buffer for yet, oldest first at
 *		@rx_fifo_head (under ctx->dma_lock, not @lock)
 * @rx_fifo_head: first frame
 * @rx_fifo_count: frames queued
 * @rx_scratch:	room to rebuild one frame (a tag put back, padding);
 *		under ctx->dma_lock
 * @itr_timer:	interrupt moderation (ITR)
 * @itr_held:	an interrupt is held until @itr_timer fires
 * @ring_held:	physical TX descriptors holding this context's buffers
 *		(under nic->tx_lock)
 * @kick_node:	in nic->kicked between a register write and the next pass
 *		(nic->kick_lock)
 * @sched_node:	in nic->active while it has transmit work (nic->sched_lock
 *		for this and every field down to @txoff)
 * @weight:	its share of the link against the others' (sysfs, 1..100)
 * @rate_bytes:	its own limit, bytes/s (0: none)
 * @rate_packets: its own limit, packets/s (0: none)
 * @trusted:	may receive unicast no context owns (extra RAR, UPE)
 * @allow_spoof: may send from a MAC not its own
 * @deficit:	bytes it may still send in this round (may be negative)
 * @in_turn:	its turn has started (@deficit got its quantum)
 * @tok_bytes:	@rate_bytes tokens (may run into debt)
 * @tok_pkts:	@rate_packets tokens, in thousandths of a packet
 * @tok_last:	when they were last refilled
 * @wait_since: when its oldest unsent work became ready (0: none)
 * @txoff:	STATUS.TXOFF is shown: the scheduler holds it back
 * @stats:	counters
 */
struct e1k_ctx {
	struct ka_ctx		*ctx;
	struct e1k_nic		*nic;
	struct list_head	node;

	spinlock_t		lock;		/* the fields below */
	u32			*reg;
	u16			phy[E1K_PHY_REGS];
	u16			eeprom[E1K_EEPROM_WORDS];
	struct e1k_eeprom	ee;
	u8			mac[6];
	u32			ioaddr;
	bool			irq_level;
	ktime_t			last_raise;
	u32			gen;

	unsigned int		tx_next;
	unsigned int		tx_inflight;
	struct e1k_tx_ctx_desc	tx_ctx_tso;
	struct e1k_tx_ctx_desc	tx_ctx_csum;
	u8			*tx_wb;
	u32			*tx_upper;
	unsigned int		tx_done;

	struct e1k_rx_frame	*rx_fifo;
	unsigned int		rx_fifo_head;
	unsigned int		rx_fifo_count;
	u8			*rx_scratch;

	struct hrtimer		itr_timer;
	bool			itr_held;

	unsigned int		ring_held;

	struct list_head	kick_node;
	struct list_head	sched_node;
	unsigned int		weight;
	u64			rate_bytes;
	u64			rate_packets;
	bool			trusted;
	bool			allow_spoof;
	s64			deficit;
	bool			in_turn;
	s64			tok_bytes;
	s64			tok_pkts;
	ktime_t			tok_last;
	ktime_t			wait_since;
	bool			txoff;

	struct e1k_stats	stats;
};

static inline struct e1k_nic *e1k_nic(struct ka_dev *kd)
{
	return kd->model_data;
}

static inline struct e1k_ctx *e1k_ctx(struct ka_ctx *ctx)
{
	return ctx->model_state;
}

#define E1K_R(ec, r)	((ec)->reg[(r) / 4])

/* model_e1000.c */
void __e1k_set_causes(struct e1k_ctx *ec, u32 causes);
void e1k_ctx_link_changed(struct e1k_ctx *ec, bool up);

/* e1000_nic.c */
int e1k_nic_probe(struct ka_dev *kd);
void e1k_nic_remove(struct ka_dev *kd);
irqreturn_t e1k_nic_irq(struct ka_dev *kd);
void e1k_nic_start(struct e1k_nic *nic);
void e1k_nic_stop(struct e1k_nic *nic);
void e1k_nic_schedule(struct e1k_nic *nic);
void e1k_nic_link_refresh(struct e1k_nic *nic);
void e1k_nic_filter_update(struct e1k_nic *nic);

/* e1000_tx.c */
enum e1k_tx_result {
	E1K_TXR_NONE,		/* no complete packet queued by the guest */
	E1K_TXR_SENT,		/* a packet went to the wire and/or @sw */
	E1K_TXR_DROPPED,	/* a packet was dropped (spoofed); completed */
	E1K_TXR_STOPPED,	/* a bad packet stopped the transmit unit */
	E1K_TXR_BLOCKED,	/* no room: the physical ring or ring_share */
};

struct e1k_tx_out {
	u64		bytes;		/* as the wire counts them */
	u64		frames;
	bool		to_wire;
	struct e1k_ctx	*to_ctx;	/* unicast for this context only */
	bool		to_all;		/* broadcast/multicast: every context */
};

int e1k_tx_init(struct e1k_nic *nic);
void e1k_tx_fini(struct e1k_nic *nic);
enum e1k_tx_result __e1k_tx_one(struct e1k_ctx *ec, struct e1k_tx_out *out);
void e1k_tx_kick(struct e1k_ctx *ec);
void __e1k_tx_reap(struct e1k_nic *nic);
void e1k_tx_complete(struct e1k_ctx *ec);
void e1k_tx_quiesce(struct e1k_ctx *ec);

/* e1000_sched.c */
extern const struct attribute_group e1k_nic_group;
int e1k_sched_init(struct e1k_nic *nic);
void e1k_sched_fini(struct e1k_nic *nic);
void e1k_sched_ctx_init(struct e1k_ctx *ec);
void e1k_sched_run(struct e1k_nic *nic);
void e1k_sched_kick(struct e1k_ctx *ec);
void e1k_sched_forget(struct e1k_ctx *ec);
struct e1k_ctx *__e1k_nic_mac_owner(struct e1k_nic *nic, const u8 *mac);

/* e1000_rx.c */
void e1k_rx_frame(struct e1k_nic *nic, const u8 *frame, unsigned int len,
		  u8 status, u16 special);
void e1k_rx_kick(struct e1k_ctx *ec);
bool e1k_rx_would_lose(struct e1k_nic *nic, const u8 *frame, u8 status,
		       u16 special);
void e1k_rx_flush(struct e1k_ctx *ec);
bool e1k_rx_local(struct e1k_nic *nic, struct e1k_ctx *from,
		  const struct e1k_tx_out *out, const u8 *frame,
		  unsigned int len, bool tagged, u16 tci);

#endif /* _KVM_ASSIGN_E1000_H */
