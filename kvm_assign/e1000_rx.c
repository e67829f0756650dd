// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign e1000 model: receive.
 *
 * Frames arrive in the physical NIC's host buffers (e1000_nic.c), or from
 * another context of the NIC (switched inside the model, e1000_sched.c).
 * The NIC's policy picks the contexts a frame may reach (unicast: the
 * context that owns the MAC, or trusted contexts for a MAC nobody owns;
 * broadcast and multicast: all), then each context's own filter (its RAR entries,
 * multicast table, broadcast and promiscuous bits, VLAN filter) decides,
 * then the frame is copied through the context's domain into the guest's
 * next RX buffers, as the 82540 writes them: the length counts the 4 FCS
 * bytes unless RCTL.SECRC (the bytes themselves are not written, as in
 * QEMU), a frame longer than one buffer continues in the next descriptors,
 * the last gets EOP, every one DD and IXSM (no receive checksum), and a
 * tag the NIC stripped is either reported (the guest enabled CTRL.VME) or
 * put back in the frame.
 *
 * A frame the guest has no free descriptor for waits in the context's
 * receive FIFO (32 frames, about the 82540's packet buffer) until the
 * guest moves RDT; when that is full the frame is lost (rx_no_buffer,
 * RNBC, MPC, RXO), as on the hardware.  A descriptor or buffer outside the
 * domain loses the frame too (rx_faults, a fault in the domain's log).
 * What was not written back is not seen by the guest.  Nothing here waits
 * for a guest: the NIC's hold is bounded (10 ms).
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>

#include "e1000.h"

static bool e1k_rx_policy(struct e1k_ctx *ec, struct e1k_ctx *owner,
			  const u8 *dst);

/* What a delivery works from (copied under ec->lock) */
struct e1k_rx_view {
	u64		base;
	unsigned int	ndesc;
	unsigned int	rdh;
	unsigned int	rdt;
	unsigned int	bufsize;
	bool		secrc;
	bool		vme;
	u32		gen;
};

/* Receive buffer size from RCTL.BSIZE and BSEX */
static unsigned int e1k_rx_bufsize(u32 rctl)
{
	static const unsigned int sz[2][4] = {
		{ 2048, 1024, 512, 256 },
		{ 0, 16384, 8192, 4096 },	/* BSEX; 00 is reserved */
	};
	unsigned int s = sz[!!(rctl & E1K_RCTL_BSEX)][(rctl & E1K_RCTL_SZ_MASK) >>
						      E1K_RCTL_SZ_SHIFT];

	return s ? s : 2048;
}

/* Does the context's filter take a frame for @dst?  Caller holds ec->lock. */
static bool __e1k_rx_filter(struct e1k_ctx *ec, const u8 *dst, u32 rctl)
{
	static const unsigned int mo_shift[4] = { 4, 3, 2, 0 };
	unsigned int i, hash;

	lockdep_assert_held(&ec->lock);

	if (is_broadcast_ether_addr(dst))
		return rctl & (E1K_RCTL_BAM | E1K_RCTL_MPE);
	if (is_multicast_ether_addr(dst)) {
		if (rctl & E1K_RCTL_MPE)
			return true;
		hash = ((dst[4] | dst[5] << 8) >>
			mo_shift[(rctl & E1K_RCTL_MO_MASK) >> E1K_RCTL_MO_SHIFT]) & 0xfff;
		return E1K_R(ec, E1K_MTA + 4 * (hash >> 5)) & BIT(hash & 31);
	}
	if (rctl & E1K_RCTL_UPE)
		return true;
	for (i = 0; i < E1K_RAR_ENTRIES; i++) {
		u32 ral = E1K_R(ec, E1K_RA + 8 * i), rah = E1K_R(ec, E1K_RA + 8 * i + 4);

		if ((rah & E1K_RAH_AV) &&
		    dst[0] == (u8)ral && dst[1] == (u8)(ral >> 8) &&
		    dst[2] == (u8)(ral >> 16) && dst[3] == (u8)(ral >> 24) &&
		    dst[4] == (u8)rah && dst[5] == (u8)(rah >> 8))
			return true;
	}
	return false;
}

/* VLAN filter (RCTL.VFE): is the tag's VLAN in the context's table? */
static bool __e1k_rx_vlan_ok(struct e1k_ctx *ec, u32 rctl, bool tagged, u16 tci)
{
	unsigned int vid = tci & VLAN_VID_MASK;

	lockdep_assert_held(&ec->lock);

	if (!tagged || !(rctl & E1K_RCTL_VFE))
		return true;
	return E1K_R(ec, E1K_VFTA + 4 * (vid >> 5)) & BIT(vid & 31);
}

/* Statistics the guest reads in its registers; caller holds ec->lock. */
static void __e1k_rx_count(struct e1k_ctx *ec, const u8 *dst, unsigned int total)
{
	u64 v;

	lockdep_assert_held(&ec->lock);

	E1K_R(ec, E1K_GPRC)++;
	E1K_R(ec, E1K_TPR)++;
	if (is_broadcast_ether_addr(dst))
		E1K_R(ec, E1K_BPRC)++;
	else if (is_multicast_ether_addr(dst))
		E1K_R(ec, E1K_MPRC)++;
	v = ((u64)E1K_R(ec, E1K_GORCH) << 32 | E1K_R(ec, E1K_GORCL)) + total;
	E1K_R(ec, E1K_GORCL) = v;
	E1K_R(ec, E1K_GORCH) = v >> 32;
	v = ((u64)E1K_R(ec, E1K_TORH) << 32 | E1K_R(ec, E1K_TORL)) + total;
	E1K_R(ec, E1K_TORL) = v;
	E1K_R(ec, E1K_TORH) = v >> 32;
}

/* Copy @len bytes to guest memory in pieces __ka_dma_rw() takes. */
static int __e1k_rx_copy(struct ka_ctx *ctx, u64 addr, const u8 *src,
			 unsigned int len)
{
	unsigned int n;
	int ret;

	while (len) {
		n = min_t(unsigned int, len, KA_DMA_MAX);
		ret = __ka_dma_rw(ctx, addr, (void *)src, n, true);
		if (ret)
			return ret;
		addr += n;
		src += n;
		len -= n;
	}
	return 0;
}

/*
 * Write one frame into the guest's ring from RDH on; caller holds
 * ctx->dma_lock.  Return: the new RDH, or a negative errno.
 */
static int __e1k_rx_write(struct e1k_ctx *ec, const struct e1k_rx_view *v,
			  const u8 *frame, unsigned int len, u8 vp, u16 special)
{
	unsigned int total = len + (v->secrc ? 0 : E1K_ETH_FCS);
	unsigned int off = 0, rdh = v->rdh;
	struct e1k_rx_desc d;
	int ret;

	while (off < total) {
		u64 daddr = v->base + (u64)rdh * E1K_DESC_SIZE;
		unsigned int dsize = min(total - off, v->bufsize);
		struct {
			__le16	length;
			__le16	csum;
			u8	status;
			u8	errors;
			__le16	special;
		} __packed wb;
		u64 baddr;

		/* Null buffers are skipped: never run past RDT. */
		if (rdh == v->rdt)
			return -ENOBUFS;
		ret = __ka_dma_rw(ec->ctx, daddr, &d, sizeof(d), false);
		if (ret)
			return ret;
		baddr = le64_to_cpu(d.addr);
		memset(&wb, 0, sizeof(wb));
		if (baddr) {
			/* Frame bytes only: the FCS is counted, not written. */
			if (off < len) {
				ret = __e1k_rx_copy(ec->ctx, baddr, frame + off,
						    min(len - off, dsize));
				if (ret)
					return ret;
			}
			off += dsize;
			wb.length = cpu_to_le16(dsize);
			if (off >= total)
				wb.status = E1K_RXD_STAT_EOP | E1K_RXD_STAT_IXSM;
		}
		/* Length first, then the status with DD: the driver reads DD first. */
		wb.special = cpu_to_le16(special);
		wb.status |= vp;
		ret = __ka_dma_rw(ec->ctx, daddr + 8, &wb, 4, true);
		if (!ret) {
			wb.status |= E1K_RXD_STAT_DD;
			ret = __ka_dma_rw(ec->ctx, daddr + 12, &wb.status, 4, true);
		}
		if (ret)
			return ret;
		rdh = (rdh + 1) % v->ndesc;
	}
	return rdh;
}

/* Free descriptors between RDH and RDT */
static unsigned int e1k_rx_free(const struct e1k_rx_view *v)
{
	return (v->rdt + v->ndesc - v->rdh) % v->ndesc;
}

/*
 * Write a frame the filter took into the guest's ring; caller holds
 * ctx->dma_lock (which also serializes the use of the context's share of
 * scratch space).  Return: 0, -ENOBUFS when the guest has no room for it
 * (nothing written), or the error of a fault (counted; the frame is lost).
 */
static int __e1k_rx_deliver(struct e1k_ctx *ec, const u8 *frame, unsigned int len,
			    bool tagged, u16 tci)
{
	struct ka_ctx *ctx = ec->ctx;
	struct e1k_rx_view v;
	unsigned long flags;
	unsigned int total, need, free;
	u8 *buf = ec->rx_scratch;
	u32 rctl, causes;
	u8 vp = 0;
	int rdh;

	lockdep_assert_held(&ctx->dma_lock);

	spin_lock_irqsave(&ec->lock, flags);
	rctl = E1K_R(ec, E1K_RCTL);
	v.base = (u64)E1K_R(ec, E1K_RDBAH) << 32 | (E1K_R(ec, E1K_RDBAL) & ~0xfU);
	v.ndesc = E1K_R(ec, E1K_RDLEN) / E1K_DESC_SIZE;
	v.rdh = E1K_R(ec, E1K_RDH);
	v.rdt = E1K_R(ec, E1K_RDT);
	v.bufsize = e1k_rx_bufsize(rctl);
	v.secrc = rctl & E1K_RCTL_SECRC;
	v.vme = E1K_R(ec, E1K_CTRL) & E1K_CTRL_VME;
	v.gen = ec->gen;
	spin_unlock_irqrestore(&ec->lock, flags);

	/* A stripped tag goes back into the frame unless the guest takes it. */
	if (tagged && !v.vme) {
		memcpy(buf, frame, 2 * ETH_ALEN);
		put_unaligned_be16(ETH_P_8021Q, buf + 2 * ETH_ALEN);
		put_unaligned_be16(tci, buf + 2 * ETH_ALEN + 2);
		memcpy(buf + 2 * ETH_ALEN + VLAN_HLEN, frame + 2 * ETH_ALEN,
		       len - 2 * ETH_ALEN);
		frame = buf;
		len += VLAN_HLEN;
		tagged = false;
	} else if (len < E1K_ETH_MIN_FRAME) {
		memcpy(buf, frame, len);
		memset(buf + len, 0, E1K_ETH_MIN_FRAME - len);
		frame = buf;
		len = E1K_ETH_MIN_FRAME;
	}
	if (tagged)
		vp = E1K_RXD_STAT_VP;

	total = len + (v.secrc ? 0 : E1K_ETH_FCS);
	need = DIV_ROUND_UP(total, v.bufsize);
	if (!(rctl & E1K_RCTL_EN) || !v.ndesc || v.ndesc > E1K_RING_MAX_DESC ||
	    v.rdh >= v.ndesc || v.rdt >= v.ndesc || e1k_rx_free(&v) < need)
		return -ENOBUFS;

	rdh = __e1k_rx_write(ec, &v, frame, len, vp, tagged ? tci : 0);
	if (rdh == -ENOBUFS)
		return -ENOBUFS;
	if (rdh < 0) {
		atomic64_inc(&ec->stats.rx_faults);
		dev_info_ratelimited(&ctx->mdev->dev,
				     "e1000: receive descriptor or buffer outside the domain (%d): frame dropped\n",
				     rdh);
		return rdh;
	}
	v.rdh = rdh;
	free = e1k_rx_free(&v);
	causes = E1K_ICR_RXT0;

	spin_lock_irqsave(&ec->lock, flags);
	if (v.gen == ec->gen) {
		unsigned int shift = ((rctl & E1K_RCTL_RDMTS_MASK) >> E1K_RCTL_RDMTS_SHIFT) + 1;

		E1K_R(ec, E1K_RDH) = rdh;
		if (free * E1K_DESC_SIZE <= (E1K_R(ec, E1K_RDLEN) >> shift))
			causes |= E1K_ICR_RXDMT0;
		__e1k_rx_count(ec, frame, total);
		__e1k_set_causes(ec, causes);
	}
	spin_unlock_irqrestore(&ec->lock, flags);
	atomic64_inc(&ec->stats.rx_packets);
	atomic64_add(len, &ec->stats.rx_bytes);
	return 0;
}

/* The guest had no buffer and the FIFO is full: the frame is lost. */
static void e1k_rx_lost(struct e1k_ctx *ec)
{
	unsigned long flags;

	atomic64_inc(&ec->stats.rx_no_buffer);
	spin_lock_irqsave(&ec->lock, flags);
	E1K_R(ec, E1K_RNBC)++;
	E1K_R(ec, E1K_MPC)++;
	__e1k_set_causes(ec, E1K_ICR_RXO);
	spin_unlock_irqrestore(&ec->lock, flags);
}

/* Deliver queued frames while the guest has buffers; ctx->dma_lock held. */
static void __e1k_rx_drain(struct e1k_ctx *ec)
{
	lockdep_assert_held(&ec->ctx->dma_lock);

	while (ec->rx_fifo_count) {
		struct e1k_rx_frame *f = &ec->rx_fifo[ec->rx_fifo_head];

		if (__e1k_rx_deliver(ec, f->data, f->len, f->tagged, f->special) == -ENOBUFS)
			break;
		ec->rx_fifo_head = (ec->rx_fifo_head + 1) % E1K_RX_FIFO;
		WRITE_ONCE(ec->rx_fifo_count, ec->rx_fifo_count - 1);
	}
}

/*
 * A frame for the context: delivered now, or queued behind those waiting
 * for buffers, or lost when the FIFO is full.  ctx->dma_lock held.
 */
static void __e1k_rx_take(struct e1k_ctx *ec, const u8 *frame, unsigned int len,
			  bool tagged, u16 tci)
{
	struct e1k_rx_frame *f;
	unsigned long flags;

	lockdep_assert_held(&ec->ctx->dma_lock);

	__e1k_rx_drain(ec);
	if (!ec->rx_fifo_count &&
	    __e1k_rx_deliver(ec, frame, len, tagged, tci) != -ENOBUFS)
		return;
	if (ec->rx_fifo_count == E1K_RX_FIFO || len > sizeof(f->data)) {
		e1k_rx_lost(ec);
		return;
	}
	/* Kept, but the 82540 counts the missing buffer all the same. */
	spin_lock_irqsave(&ec->lock, flags);
	E1K_R(ec, E1K_RNBC)++;
	spin_unlock_irqrestore(&ec->lock, flags);
	f = &ec->rx_fifo[(ec->rx_fifo_head + ec->rx_fifo_count) % E1K_RX_FIFO];
	memcpy(f->data, frame, len);
	f->len = len;
	f->tagged = tagged;
	f->special = tci;
	WRITE_ONCE(ec->rx_fifo_count, ec->rx_fifo_count + 1);
}

/**
 * e1k_rx_kick() - the guest gave receive buffers (RDT write)
 * @ec: the context
 */
void e1k_rx_kick(struct e1k_ctx *ec)
{
	if (READ_ONCE(ec->rx_fifo_count)) {
		mutex_lock(&ec->ctx->dma_lock);
		__e1k_rx_drain(ec);
		mutex_unlock(&ec->ctx->dma_lock);
	}
	/* Frames the NIC held for want of room go on now. */
	if (READ_ONCE(ec->nic->rx_held))
		e1k_nic_schedule(ec->nic);
}

/**
 * e1k_rx_flush() - drop the frames waiting (reset)
 * @ec: the context
 */
void e1k_rx_flush(struct e1k_ctx *ec)
{
	mutex_lock(&ec->ctx->dma_lock);
	ec->rx_fifo_head = 0;
	WRITE_ONCE(ec->rx_fifo_count, 0);
	mutex_unlock(&ec->ctx->dma_lock);
}

/*
 * Does the context take the frame?  1: yes, 0: its filter refuses it,
 * -1: it receives nothing now (closed, RCTL.EN or bus mastering off).
 */
static int e1k_rx_takes(struct e1k_ctx *ec, const u8 *frame, bool tagged, u16 tci)
{
	unsigned long flags;
	bool take;
	u32 rctl;

	if (!READ_ONCE(ec->ctx->open) || !ka_config_bus_master(ec->ctx))
		return -1;
	spin_lock_irqsave(&ec->lock, flags);
	rctl = E1K_R(ec, E1K_RCTL);
	take = (rctl & E1K_RCTL_EN) && __e1k_rx_filter(ec, frame, rctl) &&
	       __e1k_rx_vlan_ok(ec, rctl, tagged, tci);
	spin_unlock_irqrestore(&ec->lock, flags);
	if (!(rctl & E1K_RCTL_EN))
		return -1;
	return take;
}

/**
 * e1k_rx_would_lose() - would a context that takes the frame lose it?
 * @nic:	the NIC; nic->ctx_lock held
 * @frame:	the frame
 * @status:	its physical descriptor's status
 * @special:	its stripped tag
 *
 * The NIC may then hold the frame on its own ring a little (e1000_nic.c),
 * so that a guest that is only slow loses nothing.
 *
 * Return: true when one of them has its receive FIFO full.
 */
bool e1k_rx_would_lose(struct e1k_nic *nic, const u8 *frame, u8 status,
		       u16 special)
{
	struct e1k_ctx *ec, *owner = NULL;

	lockdep_assert_held(&nic->ctx_lock);

	if (!is_multicast_ether_addr(frame))
		owner = __e1k_nic_mac_owner(nic, frame);
	list_for_each_entry(ec, &nic->ctxs, node)
		if (READ_ONCE(ec->rx_fifo_count) == E1K_RX_FIFO &&
		    e1k_rx_policy(ec, owner, frame) &&
		    e1k_rx_takes(ec, frame, status & E1K_RXD_STAT_VP, special) == 1)
			return true;
	return false;
}

/*
 * The NIC's policy, before a context's own filter: unicast to a MAC that
 * a context of the NIC owns is for that context alone; unicast to a MAC
 * nobody owns only for trusted contexts; broadcast and multicast for all.
 * Caller holds nic->ctx_lock (@owner stays valid).
 */
static bool e1k_rx_policy(struct e1k_ctx *ec, struct e1k_ctx *owner,
			  const u8 *dst)
{
	if (is_multicast_ether_addr(dst))
		return true;
	if (owner)
		return owner == ec;
	return READ_ONCE(ec->trusted);
}

/*
 * Offer a frame to the contexts of the NIC but @from (NULL: from the wire).
 * Return: how many contexts took it.
 */
static unsigned int e1k_rx_offer(struct e1k_nic *nic, struct e1k_ctx *from,
				 const u8 *frame, unsigned int len, bool tagged,
				 u16 tci)
{
	struct e1k_ctx *owner = NULL, *ec;
	unsigned int took = 0;
	int take;

	lockdep_assert_held(&nic->ctx_lock);

	if (!is_multicast_ether_addr(frame))
		owner = __e1k_nic_mac_owner(nic, frame);
	list_for_each_entry(ec, &nic->ctxs, node) {
		if (ec == from || !e1k_rx_policy(ec, owner, frame))
			continue;
		take = e1k_rx_takes(ec, frame, tagged, tci);
		if (take < 0)
			continue;
		if (!take) {
			atomic64_inc(&ec->stats.rx_filtered);
			continue;
		}
		mutex_lock(&ec->ctx->dma_lock);
		__e1k_rx_take(ec, frame, len, tagged, tci);
		mutex_unlock(&ec->ctx->dma_lock);
		if (from)
			atomic64_inc(&ec->stats.rx_switched);
		took++;
	}
	if (!owner && !took && !is_multicast_ether_addr(frame))
		atomic64_inc(&nic->rx_unknown_unicast);
	return took;
}

/**
 * e1k_rx_frame() - a frame from the wire, for whichever contexts take it
 * @nic:	the NIC; nic->ctx_lock held
 * @frame:	the frame, without FCS (and without its VLAN tag if stripped)
 * @len:	its length
 * @status:	the physical descriptor's status (VP: a tag was stripped)
 * @special:	the stripped tag's TCI
 */
void e1k_rx_frame(struct e1k_nic *nic, const u8 *frame, unsigned int len,
		  u8 status, u16 special)
{
	lockdep_assert_held(&nic->ctx_lock);

	e1k_rx_offer(nic, NULL, frame, len, status & E1K_RXD_STAT_VP, special);
}

/**
 * e1k_rx_local() - a frame one context sent to others of the same NIC
 * @nic:	the NIC; nic->ctx_lock held
 * @from:	the sender (never gets it back)
 * @out:	where the scheduler routed it (one context, or all)
 * @frame:	the finished frame (offloads done), without FCS
 * @len:	its length
 * @tagged:	it carries a VLAN tag, as if the NIC had stripped it
 * @tci:	the tag
 *
 * Return: false if the frame was dropped as malformed (counted), true if
 * it was offered to the contexts it is for.
 */
bool e1k_rx_local(struct e1k_nic *nic, struct e1k_ctx *from,
		  const struct e1k_tx_out *out, const u8 *frame,
		  unsigned int len, bool tagged, u16 tci)
{
	lockdep_assert_held(&nic->ctx_lock);

	/*
	 * A frame from the wire is at most one host buffer; a guest's packet
	 * without TSO can be 64 KiB, which no receive path here takes (the
	 * tag re-insertion and padding use rx_scratch, E1K_PRX_BUF + tag).
	 */
	if (len < ETH_HLEN || len > E1K_PRX_BUF) {
		atomic64_inc(&nic->rx_bad);
		atomic64_inc(&from->stats.tx_bad_desc);
		return false;
	}
	e1k_rx_offer(nic, from, frame, len, tagged, tci);
	return true;
}
