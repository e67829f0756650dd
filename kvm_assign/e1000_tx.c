// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign e1000 model: shadow transmit.
 *
 * The guest's TX ring stays in guest memory.  When the guest moves TDT (or
 * enables the unit), the model fetches the descriptors from tx_next up to
 * TDT through the context's domain, one packet at a time: context
 * descriptors, then legacy or data descriptors up to the one with EOP.  The
 * copy is checked (a known descriptor type, no context descriptor inside a
 * packet, each buffer 1..4096 bytes, a packet of at most 64 KiB and 64
 * descriptors, a sane TSO context), each buffer is translated for the
 * physical NIC (pinned through VFIO, bounced only if the NIC cannot reach
 * it or it is not contiguous), and the packet is queued on the one
 * physical TX ring with its own context descriptor in front of it: the
 * physical ring is shared, so the offload state a packet needs always
 * travels with it.
 *
 * A bad packet sends nothing: its translations are released, the fault is
 * counted (and, for an address, logged in the domain's fault log), and the
 * context's transmit unit stops as a real NIC's does on a DMA error: the
 * virtual TCTL.EN is cleared and TDH stays on the packet's first
 * descriptor once the packets before it complete.  The driver's reset
 * starts it again.  Other contexts never notice.
 *
 * Completion: the physical TDH says which physical descriptors the NIC is
 * done with (__e1k_tx_reap(), under nic->tx_lock); their translations are
 * released and each context is credited with its completed guest
 * descriptors.  e1k_tx_complete() then writes DD back into those that had
 * RS or RPS, advances the virtual TDH and raises TXDW/TXQE.  Writing guest
 * memory needs ctx->dma_lock, which nests outside nic->tx_lock: so the
 * reap only credits, and each context writes back for itself.
 */
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/if_ether.h>
#include <linux/jiffies.h>

#include "e1000.h"

#define E1K_TXD_STAT_ERRS	0x0e	/* EC, LC, TU: cleared on write-back */

/* A guest packet as fetched and checked */
struct e1k_tx_pkt {
	unsigned int		ndesc;		/* guest descriptors, ctx ones too */
	unsigned int		ndata;		/* buffers */
	struct e1k_tx_desc	d[E1K_PKT_MAX_DESC];	/* the copy */
	struct ka_xfer		x[E1K_PKT_MAX_DESC];	/* per buffer */
	u32			len[E1K_PKT_MAX_DESC];	/* 0: all header */
	u64			addr[E1K_PKT_MAX_DESC];	/* after the header */
	unsigned int		data_idx[E1K_PKT_MAX_DESC]; /* into d[] */
	u8			hdr[ETH_HLEN];	/* the checked host copy */
	bool			has_tso_ctx, has_csum_ctx;
	struct e1k_tx_ctx_desc	tso_ctx, csum_ctx;	/* set by this packet */
	bool			tse;		/* uses the TSO context */
	bool			csum;		/* uses the checksum context */
	u64			bytes;
};

enum e1k_tx_verdict {
	E1K_TX_OK,
	E1K_TX_WAIT,		/* no EOP before TDT yet */
	E1K_TX_BAD_DESC,
	E1K_TX_FAULT,		/* a buffer or the ring outside the domain */
};

/* What a TX pass of one context works from (copied under ec->lock) */
struct e1k_tx_view {
	u64		base;
	unsigned int	ndesc;
	unsigned int	tdt;
	unsigned int	next;
	u32		gen;
	bool		vme;
};

static bool e1k_ctx_desc_ok(const struct e1k_tx_ctx_desc *c)
{
	u32 cmd = le32_to_cpu(c->cmd_and_length);
	u32 seg = le32_to_cpu(c->tcp_seg_setup);
	unsigned int hdr_len = (seg >> 8) & 0xff, mss = seg >> 16;

	if (!(cmd & E1K_TXD_CMD_TSE))
		return true;	/* checksum offsets are bytes inside the packet */
	return hdr_len >= ETH_HLEN && mss && (cmd & E1K_TXD_LEN_MASK) <= E1K_TX_PKT_MAX;
}

/* Stop the transmit unit after a bad packet; caller holds ec->lock. */
static void __e1k_tx_stop(struct e1k_ctx *ec)
{
	lockdep_assert_held(&ec->lock);

	E1K_R(ec, E1K_TCTL) &= ~E1K_TCTL_EN;
}

/*
 * Fetch and check the next packet: descriptors view->next onwards, not
 * past TDT.  Caller holds ctx->dma_lock.
 */
static enum e1k_tx_verdict __e1k_tx_fetch(struct e1k_ctx *ec,
					  const struct e1k_tx_view *v,
					  struct e1k_tx_pkt *p)
{
	unsigned int avail = (v->tdt + v->ndesc - v->next) % v->ndesc;
	unsigned int i, want, chunk, idx;
	bool ext = false, legacy = false;
	int ret;

	/* d[] is filled below, x[] by the translation: the rest starts empty. */
	p->ndesc = 0;
	p->ndata = 0;
	p->has_tso_ctx = false;
	p->has_csum_ctx = false;
	p->tse = false;
	p->csum = false;
	p->bytes = 0;
	want = min_t(unsigned int, avail, E1K_PKT_MAX_DESC);
	/* Copy once: descriptors up to the ring's end, then from its start. */
	for (i = 0; i < want; i += chunk) {
		idx = (v->next + i) % v->ndesc;
		chunk = min(want - i, v->ndesc - idx);
		ret = __ka_dma_rw(ec->ctx, v->base + (u64)idx * E1K_DESC_SIZE,
				  &p->d[i], chunk * E1K_DESC_SIZE, false);
		if (ret)
			return E1K_TX_FAULT;
	}

	for (i = 0; i < want; i++) {
		struct e1k_tx_desc *d = &p->d[i];
		u32 lower = le32_to_cpu(d->lower);
		u32 type = lower & (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_MASK);
		u32 len;

		if (type == (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_C)) {
			struct e1k_tx_ctx_desc *c = (struct e1k_tx_ctx_desc *)d;

			if (p->ndata || !e1k_ctx_desc_ok(c))
				return E1K_TX_BAD_DESC;	/* inside a packet */
			if (le32_to_cpu(c->cmd_and_length) & E1K_TXD_CMD_TSE) {
				p->tso_ctx = *c;
				p->has_tso_ctx = true;
			} else {
				p->csum_ctx = *c;
				p->has_csum_ctx = true;
			}
			continue;
		}
		if (type == (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D)) {
			u8 popts = le32_to_cpu(d->upper) >> 8;

			len = lower & E1K_TXD_LEN_MASK;
			if (!p->ndata) {
				p->tse = lower & E1K_TXD_CMD_TSE;
				p->csum = popts & (E1K_TXD_POPTS_IXSM | E1K_TXD_POPTS_TXSM);
			} else if (!!(lower & E1K_TXD_CMD_TSE) != p->tse) {
				/* The NIC reads TSE on each: one packet, one mode. */
				return E1K_TX_BAD_DESC;
			}
			ext = true;
		} else if (!(lower & E1K_TXD_CMD_DEXT)) {
			len = lower & E1K_TXD_LEGACY_LEN_MASK;
			legacy = true;
		} else {
			return E1K_TX_BAD_DESC;		/* unknown DTYP */
		}
		if ((ext && legacy) || !len || len > E1K_TX_BUF_MAX)
			return E1K_TX_BAD_DESC;
		p->bytes += len;
		if (p->bytes > E1K_TX_PKT_MAX)
			return E1K_TX_BAD_DESC;
		p->len[p->ndata] = len;
		p->addr[p->ndata] = le64_to_cpu(d->addr);
		p->data_idx[p->ndata] = i;
		p->ndata++;
		if (lower & E1K_TXD_CMD_EOP) {
			p->ndesc = i + 1;
			/*
			 * TSO needs a TSO context (this packet's or an earlier
			 * one): the NIC would segment with whatever it last had,
			 * nothing at all after its reset (a zero-length frame,
			 * which stalls QEMU's hub for good).
			 */
			if (p->tse && !p->has_tso_ctx &&
			    !(le32_to_cpu(ec->tx_ctx_tso.cmd_and_length) & E1K_TXD_CMD_TSE))
				return E1K_TX_BAD_DESC;
			return E1K_TX_OK;
		}
	}
	/* No end of packet: more to come, unless the packet is too long. */
	return want == E1K_PKT_MAX_DESC ? E1K_TX_BAD_DESC : E1K_TX_WAIT;
}

static void e1k_tx_release(struct ka_ctx *ctx, struct e1k_tx_pkt *p,
			   unsigned int n)
{
	while (n--)
		ka_dma_unmap(ctx, &p->x[n]);
}

/* Translate every buffer of the packet; caller holds ctx->dma_lock. */
static int __e1k_tx_translate(struct e1k_ctx *ec, struct e1k_tx_pkt *p)
{
	unsigned int i;
	int ret;

	for (i = 0; i < p->ndata; i++) {
		memset(&p->x[i], 0, sizeof(p->x[i]));
		if (!p->len[i])
			continue;	/* all of it went into the header */
		ret = __ka_dma_map(ec->ctx, p->addr[i], p->len[i], DMA_TO_DEVICE,
				   &p->x[i]);
		if (ret) {
			e1k_tx_release(ec->ctx, p, i);
			return ret;
		}
	}
	return 0;
}

/*
 * Copy the packet's Ethernet header into p->hdr and take it off the
 * guest's buffers: the header the NIC sends and the one routing and the
 * spoofing check look at are then the same host copy, whatever the guest
 * writes into its buffers meanwhile.  Caller holds ctx->dma_lock.
 */
static int __e1k_tx_take_header(struct e1k_ctx *ec, struct e1k_tx_pkt *p)
{
	unsigned int i, off = 0, n;
	int ret;

	if (p->bytes <= ETH_HLEN)
		return -EINVAL;
	for (i = 0; i < p->ndata && off < ETH_HLEN; i++) {
		n = min_t(unsigned int, p->len[i], ETH_HLEN - off);
		ret = __ka_dma_rw(ec->ctx, p->addr[i], p->hdr + off, n, false);
		if (ret)
			return ret;
		off += n;
		p->addr[i] += n;
		p->len[i] -= n;
	}
	return 0;
}

/* The rest of the packet behind the header, into @buf; ctx->dma_lock held. */
static int __e1k_tx_copy_out(struct e1k_ctx *ec, const struct e1k_tx_pkt *p,
			     u8 *buf)
{
	unsigned int i, off = ETH_HLEN;
	int ret;

	memcpy(buf, p->hdr, ETH_HLEN);
	for (i = 0; i < p->ndata; i++) {
		if (!p->len[i])
			continue;
		ret = __ka_dma_rw(ec->ctx, p->addr[i], buf + off, p->len[i], false);
		if (ret)
			return ret;
		off += p->len[i];
	}
	return off;
}

/* Free physical TX slots; caller holds nic->tx_lock. */
static unsigned int __e1k_tx_free(struct e1k_nic *nic)
{
	lockdep_assert_held(&nic->tx_lock);

	return (nic->tx_clean + E1K_PRING_DESC - nic->tx_tail - 1) % E1K_PRING_DESC;
}

/**
 * __e1k_tx_reap() - release what the NIC has transmitted
 * @nic: the NIC; nic->tx_lock held
 *
 * The physical TDH is the first descriptor the NIC has not finished.
 */
void __e1k_tx_reap(struct e1k_nic *nic)
{
	u32 head = ioread32(nic->regs + E1K_TDH);
	unsigned long flags;

	lockdep_assert_held(&nic->tx_lock);

	if (head >= E1K_PRING_DESC)
		return;
	while (nic->tx_clean != head) {
		struct e1k_pslot *s = &nic->pslot[nic->tx_clean];

		if (s->ctx) {
			struct e1k_ctx *ec = e1k_ctx(s->ctx);

			ka_dma_unmap(s->ctx, &s->xfer);
			ec->ring_held--;
			atomic_dec(&nic->ring_inflight);
			if (s->eop) {
				spin_lock_irqsave(&ec->lock, flags);
				if (s->gen == ec->gen)
					ec->tx_done += s->guest_count;
				ec->tx_inflight--;
				spin_unlock_irqrestore(&ec->lock, flags);
			}
		}
		memset(s, 0, sizeof(*s));
		nic->tx_clean = (nic->tx_clean + 1) % E1K_PRING_DESC;
	}
}

/* One physical descriptor in the next slot; caller holds nic->tx_lock. */
static void __e1k_tx_put(struct e1k_nic *nic, const void *desc,
			 struct ka_ctx *ctx, struct ka_xfer *x)
{
	struct e1k_pslot *s = &nic->pslot[nic->tx_tail];

	lockdep_assert_held(&nic->tx_lock);

	memcpy(&nic->tx_ring[nic->tx_tail], desc, E1K_DESC_SIZE);
	memset(s, 0, sizeof(*s));
	if (x) {
		int n = atomic_inc_return(&nic->ring_inflight);

		s->ctx = ctx;
		ka_dma_move(&s->xfer, x);	/* the slot holds it now */
		e1k_ctx(ctx)->ring_held++;
		if (n > atomic_read(&nic->ring_inflight_max))
			atomic_set(&nic->ring_inflight_max, n);
	}
	nic->tx_tail = (nic->tx_tail + 1) % E1K_PRING_DESC;
}

/* A descriptor's length field set to @len (legacy: 16 bits, else 20). */
static __le32 e1k_txd_with_len(__le32 lower_le, u32 len)
{
	u32 lower = le32_to_cpu(lower_le);
	u32 mask = (lower & E1K_TXD_CMD_DEXT) ? E1K_TXD_LEN_MASK :
						 E1K_TXD_LEGACY_LEN_MASK;

	return cpu_to_le32((lower & ~mask) | len);
}

/*
 * Queue a checked, translated packet on the physical ring: its context
 * descriptor first, then its buffers with the NIC's addresses.  Caller
 * holds nic->tx_lock.
 *
 * Return: false if the ring has no room now.
 */
static bool __e1k_tx_queue(struct e1k_ctx *ec, struct e1k_tx_pkt *p,
			   const struct e1k_tx_view *v)
{
	struct e1k_nic *nic = ec->nic;
	struct e1k_tx_desc pd;
	struct e1k_pslot *last;
	unsigned int i;
	u32 lower;

	lockdep_assert_held(&nic->tx_lock);

	/* a context descriptor, the header, the buffers */
	if (__e1k_tx_free(nic) < p->ndata + 2) {
		__e1k_tx_reap(nic);
		if (__e1k_tx_free(nic) < p->ndata + 2)
			return false;
	}
	/* One context holds at most ring_share slots (one packet always). */
	if (ec->ring_held && ec->ring_held + p->ndata > nic->ring_share)
		return false;
	/* Only a context the guest gave: an empty one is no descriptor at all. */
	if ((p->tse || p->csum) &&
	    ((p->tse ? ec->tx_ctx_tso : ec->tx_ctx_csum).cmd_and_length &
	     cpu_to_le32(E1K_TXD_CMD_DEXT))) {
		const struct e1k_tx_ctx_desc *c = p->tse ? &ec->tx_ctx_tso :
							   &ec->tx_ctx_csum;
		struct e1k_tx_ctx_desc cd = *c;

		/* No write-back wanted for the model's own descriptor. */
		cd.cmd_and_length &= ~cpu_to_le32(E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS);
		__e1k_tx_put(nic, &cd, NULL, NULL);
	}
	/*
	 * The header from the host copy, as the first data descriptor of the
	 * packet says (its POPTS, TSE, VLE), then the guest's buffers.
	 */
	pd = p->d[p->data_idx[0]];
	lower = le32_to_cpu(pd.lower) &
		~(E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS | E1K_TXD_CMD_EOP);
	if (!v->vme)	/* no VLAN insertion unless the guest enabled it */
		lower &= ~E1K_TXD_CMD_VLE;
	pd.lower = e1k_txd_with_len(cpu_to_le32(lower), ETH_HLEN);
	pd.upper &= ~cpu_to_le32(0xff);	/* status */
	memcpy(nic->tx_hdr + nic->tx_tail * E1K_TX_HDR_SLOT, p->hdr, ETH_HLEN);
	pd.addr = cpu_to_le64(nic->tx_hdr_dma + nic->tx_tail * E1K_TX_HDR_SLOT);
	__e1k_tx_put(nic, &pd, NULL, NULL);
	for (i = 0; i < p->ndata; i++) {
		if (!p->len[i])
			continue;
		pd = p->d[p->data_idx[i]];
		lower = le32_to_cpu(pd.lower) & ~(E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS);
		if (!v->vme)
			lower &= ~E1K_TXD_CMD_VLE;
		pd.lower = e1k_txd_with_len(cpu_to_le32(lower), p->len[i]);
		pd.upper &= ~cpu_to_le32(0xff);	/* status */
		pd.addr = cpu_to_le64(p->x[i].xlate.dma_addr);
		__e1k_tx_put(nic, &pd, ec->ctx, &p->x[i]);
	}
	last = &nic->pslot[(nic->tx_tail + E1K_PRING_DESC - 1) % E1K_PRING_DESC];
	last->eop = true;
	last->guest_count = p->ndesc;
	last->gen = v->gen;
	return true;
}

/* Take a snapshot of the ring registers; caller holds ec->lock. */
static bool __e1k_tx_view(struct e1k_ctx *ec, struct e1k_tx_view *v)
{
	u32 tdlen = E1K_R(ec, E1K_TDLEN);

	lockdep_assert_held(&ec->lock);

	v->base = (u64)E1K_R(ec, E1K_TDBAH) << 32 | (E1K_R(ec, E1K_TDBAL) & ~0xfU);
	v->ndesc = tdlen / E1K_DESC_SIZE;
	v->tdt = E1K_R(ec, E1K_TDT);
	v->next = ec->tx_next;
	v->gen = ec->gen;
	v->vme = E1K_R(ec, E1K_CTRL) & E1K_CTRL_VME;
	return tdlen && !(tdlen % E1K_RING_ALIGN) && v->ndesc <= E1K_RING_MAX_DESC &&
	       v->tdt < v->ndesc && v->next < v->ndesc &&
	       E1K_R(ec, E1K_TDH) < v->ndesc;
}

/* Write back completed descriptors; caller holds ctx->dma_lock. */
static void __e1k_tx_writeback(struct e1k_ctx *ec)
{
	unsigned int done, tdh, ndesc, i, idx;
	unsigned long flags;
	bool wb = false;
	u64 base;
	u32 gen;

	lockdep_assert_held(&ec->ctx->dma_lock);

	/*
	 * TDH first, then DD, as the 82540 moves its head before it writes
	 * back: a driver that sees DD sees the head past the descriptor.
	 */
	spin_lock_irqsave(&ec->lock, flags);
	done = ec->tx_done;
	ec->tx_done = 0;
	tdh = E1K_R(ec, E1K_TDH);
	ndesc = E1K_R(ec, E1K_TDLEN) / E1K_DESC_SIZE;
	base = (u64)E1K_R(ec, E1K_TDBAH) << 32 | (E1K_R(ec, E1K_TDBAL) & ~0xfU);
	gen = ec->gen;
	/* TDLEN may have changed since the fetch: stay inside tx_wb[]. */
	if (done && ndesc && ndesc <= E1K_RING_MAX_DESC)
		E1K_R(ec, E1K_TDH) = (tdh + done) % ndesc;
	spin_unlock_irqrestore(&ec->lock, flags);
	if (!done || !ndesc || ndesc > E1K_RING_MAX_DESC)
		return;

	for (i = 0; i < done; i++) {
		__le32 upper;

		idx = (tdh + i) % ndesc;
		if (!ec->tx_wb[idx])
			continue;
		upper = cpu_to_le32((ec->tx_upper[idx] | E1K_TXD_STAT_DD) &
				    ~E1K_TXD_STAT_ERRS);
		/* A fault here is logged in the domain; the guest loses DD. */
		__ka_dma_rw(ec->ctx, base + (u64)idx * E1K_DESC_SIZE +
			    offsetof(struct e1k_tx_desc, upper), &upper,
			    sizeof(upper), true);
		wb = true;
	}

	spin_lock_irqsave(&ec->lock, flags);
	if (gen == ec->gen) {
		__e1k_set_causes(ec, (wb ? E1K_ICR_TXDW : 0) |
				 (E1K_R(ec, E1K_TDH) == E1K_R(ec, E1K_TDT) ?
				  E1K_ICR_TXQE : 0));
	}
	spin_unlock_irqrestore(&ec->lock, flags);
}

/*
 * Count a packet as the wire sees it: a TSO packet leaves as one frame per
 * MSS of payload, each with its own copy of the headers (as the guest
 * driver and the 82540's GPTC/GOTC count it).  The guest's statistics
 * registers count the FCS too.
 */
static void e1k_tx_count(struct e1k_ctx *ec, const struct e1k_tx_pkt *p,
			 struct e1k_tx_out *out)
{
	u64 frames = 1, bytes = p->bytes, v;
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	if (p->tse) {
		u32 seg = le32_to_cpu(ec->tx_ctx_tso.tcp_seg_setup);
		unsigned int hdr_len = (seg >> 8) & 0xff, mss = seg >> 16;

		if (mss && p->bytes > hdr_len)
			frames = DIV_ROUND_UP(p->bytes - hdr_len, mss);
		bytes += (frames - 1) * hdr_len;
		E1K_R(ec, E1K_TSCTC)++;
	}
	E1K_R(ec, E1K_GPTC) += frames;
	E1K_R(ec, E1K_TPT) += frames;
	v = ((u64)E1K_R(ec, E1K_GOTCH) << 32 | E1K_R(ec, E1K_GOTCL)) +
	    bytes + frames * E1K_ETH_FCS;
	E1K_R(ec, E1K_GOTCL) = v;
	E1K_R(ec, E1K_GOTCH) = v >> 32;
	v = ((u64)E1K_R(ec, E1K_TOTH) << 32 | E1K_R(ec, E1K_TOTL)) +
	    bytes + frames * E1K_ETH_FCS;
	E1K_R(ec, E1K_TOTL) = v;
	E1K_R(ec, E1K_TOTH) = v >> 32;
	spin_unlock_irqrestore(&ec->lock, flags);
	atomic64_add(frames, &ec->stats.tx_packets);
	atomic64_add(bytes, &ec->stats.tx_bytes);
	out->frames = frames;
	out->bytes = bytes;
}

/* Is the transmit unit on, with a sane ring?  Caller holds ec->lock. */
static enum e1k_tx_result __e1k_tx_ready(struct e1k_ctx *ec, struct e1k_tx_view *v)
{
	bool ring_ok;

	lockdep_assert_held(&ec->lock);

	if (!(E1K_R(ec, E1K_TCTL) & E1K_TCTL_EN) || !ka_config_bus_master(ec->ctx))
		return E1K_TXR_NONE;
	ring_ok = __e1k_tx_view(ec, v);
	if (v->next == v->tdt)
		return E1K_TXR_NONE;
	if (!ring_ok) {
		__e1k_tx_stop(ec);
		atomic64_inc(&ec->stats.tx_bad_ring);
		dev_info_ratelimited(&ec->ctx->mdev->dev,
				     "e1000: bad TX ring (TDLEN %#x, TDT %#x): transmit stopped\n",
				     E1K_R(ec, E1K_TDLEN), v->tdt);
		return E1K_TXR_STOPPED;
	}
	return E1K_TXR_SENT;
}

/*
 * Where the packet goes, from the checked header: a unicast MAC another
 * context of the NIC owns stays inside the NIC; broadcast and multicast go
 * to the wire and to the other contexts; anything else to the wire.
 * Caller holds nic->sched_lock (the contexts' MACs).
 */
static void __e1k_tx_route(struct e1k_ctx *ec, const u8 *dst,
			   struct e1k_tx_out *out)
{
	struct e1k_ctx *owner;

	lockdep_assert_held(&ec->nic->sched_lock);

	if (is_multicast_ether_addr(dst)) {
		out->to_wire = true;
		out->to_all = true;
		return;
	}
	owner = __e1k_nic_mac_owner(ec->nic, dst);
	if (owner && owner != ec)
		out->to_ctx = owner;
	else
		out->to_wire = true;
}

/* A context descriptor the guest gave, or NULL */
static const struct e1k_tx_ctx_desc *e1k_tx_ctx_given(const struct e1k_tx_ctx_desc *c)
{
	return c->cmd_and_length & cpu_to_le32(E1K_TXD_CMD_DEXT) ? c : NULL;
}

/* A packet checked bad: nothing is sent, the unit stops, it is counted. */
static enum e1k_tx_result e1k_tx_refuse(struct e1k_ctx *ec,
					const struct e1k_tx_view *v,
					enum e1k_tx_verdict verdict)
{
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	if (v->gen == ec->gen)
		__e1k_tx_stop(ec);
	spin_unlock_irqrestore(&ec->lock, flags);
	atomic64_inc(verdict == E1K_TX_FAULT ? &ec->stats.tx_faults :
		     &ec->stats.tx_bad_desc);
	dev_info_ratelimited(&ec->ctx->mdev->dev,
			     "e1000: %s in the TX packet at descriptor %u: transmit stopped\n",
			     verdict == E1K_TX_FAULT ? "DMA fault" : "bad descriptor",
			     v->next);
	return E1K_TXR_STOPPED;
}

/*
 * One packet of the context, if the guest queued a complete one: fetched
 * and checked, its header copied, routed, then queued on the physical
 * ring and/or copied into nic->sw for other contexts (the caller delivers
 * those once the context's locks are dropped).  Caller holds
 * ctx->dma_lock and nic->sched_lock.
 */
static enum e1k_tx_result __e1k_tx_one_locked(struct e1k_ctx *ec,
					      struct e1k_tx_pkt *p,
					      struct e1k_tx_out *out)
{
	struct e1k_nic *nic = ec->nic;
	struct ka_ctx *ctx = ec->ctx;
	enum e1k_tx_verdict verdict;
	enum e1k_tx_result res;
	struct e1k_tx_view v;
	unsigned long flags;
	unsigned int i, idx;
	bool queued = true;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	spin_lock_irqsave(&ec->lock, flags);
	res = __e1k_tx_ready(ec, &v);
	spin_unlock_irqrestore(&ec->lock, flags);
	if (res != E1K_TXR_SENT)
		return res;

	verdict = __e1k_tx_fetch(ec, &v, p);
	if (verdict == E1K_TX_WAIT)
		return E1K_TXR_NONE;
	if (verdict == E1K_TX_OK) {
		ret = __e1k_tx_take_header(ec, p);
		if (ret)
			verdict = ret == -EFAULT ? E1K_TX_FAULT : E1K_TX_BAD_DESC;
	}
	if (verdict != E1K_TX_OK)
		return e1k_tx_refuse(ec, &v, verdict);

	if (!ec->allow_spoof && !ether_addr_equal(p->hdr + ETH_ALEN, ec->mac)) {
		/* Dropped as an SR-IOV NIC drops it: completed, counted. */
		res = E1K_TXR_DROPPED;
		atomic64_inc(&ec->stats.tx_spoofed);
		dev_info_ratelimited(&ctx->mdev->dev,
				     "e1000: frame from %pM, not the context's MAC: dropped\n",
				     p->hdr + ETH_ALEN);
	} else {
		__e1k_tx_route(ec, p->hdr, out);
		res = E1K_TXR_SENT;
	}
	/*
	 * Completions reach the guest in ring order: a packet that does not
	 * go through the physical ring waits for those that do.
	 */
	if (!out->to_wire && READ_ONCE(ec->tx_inflight)) {
		mutex_lock(&nic->tx_lock);
		__e1k_tx_reap(nic);
		mutex_unlock(&nic->tx_lock);
		if (READ_ONCE(ec->tx_inflight))
			return E1K_TXR_BLOCKED;
	}

	/* The packet's context descriptors apply from now on. */
	if (p->has_tso_ctx)
		ec->tx_ctx_tso = p->tso_ctx;
	if (p->has_csum_ctx)
		ec->tx_ctx_csum = p->csum_ctx;

	if (out->to_ctx || out->to_all) {
		const struct e1k_tx_desc *first = &p->d[p->data_idx[0]];
		const struct e1k_tx_desc *eop = &p->d[p->data_idx[p->ndata - 1]];
		struct e1k_sw_pkt *sw = nic->sw;

		ret = __e1k_tx_copy_out(ec, p, sw->data);
		if (ret < 0)
			return e1k_tx_refuse(ec, &v, E1K_TX_FAULT);
		sw->len = ret;
		if (e1k_tx_offload_init(&sw->off, first,
					e1k_tx_ctx_given(&ec->tx_ctx_tso),
					e1k_tx_ctx_given(&ec->tx_ctx_csum)))
			return e1k_tx_refuse(ec, &v, E1K_TX_BAD_DESC);
		sw->tagged = v.vme && (le32_to_cpu(eop->lower) & E1K_TXD_CMD_VLE);
		sw->tci = le32_to_cpu(eop->upper) >> 16;
	}

	if (out->to_wire) {
		ret = __e1k_tx_translate(ec, p);
		if (ret)
			return e1k_tx_refuse(ec, &v, ret == -EFAULT ? E1K_TX_FAULT :
					     E1K_TX_BAD_DESC);
		mutex_lock(&nic->tx_lock);
		queued = __e1k_tx_queue(ec, p, &v);
		if (queued) {
			spin_lock_irqsave(&ec->lock, flags);
			ec->tx_inflight++;
			spin_unlock_irqrestore(&ec->lock, flags);
			/* QEMU's NIC transmits inside this write. */
			wmb();
			iowrite32(nic->tx_tail, nic->regs + E1K_TDT);
			__e1k_tx_reap(nic);
		}
		mutex_unlock(&nic->tx_lock);
		if (!queued) {
			e1k_tx_release(ctx, p, p->ndata);
			return E1K_TXR_BLOCKED;	/* the NIC's completion runs us again */
		}
	}

	for (i = 0; i < p->ndesc; i++) {
		u32 lower = le32_to_cpu(p->d[i].lower);

		idx = (v.next + i) % v.ndesc;
		ec->tx_wb[idx] = !!(lower & (E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS));
		ec->tx_upper[idx] = le32_to_cpu(p->d[i].upper);
	}
	spin_lock_irqsave(&ec->lock, flags);
	ec->tx_next = (v.next + p->ndesc) % v.ndesc;
	/* nothing on the physical ring: complete at once */
	if (!out->to_wire && v.gen == ec->gen)
		ec->tx_done += p->ndesc;
	spin_unlock_irqrestore(&ec->lock, flags);
	if (res == E1K_TXR_SENT)
		e1k_tx_count(ec, p, out);
	__e1k_tx_writeback(ec);
	return res;
}

/**
 * __e1k_tx_one() - move one packet of a context
 * @ec:		the context
 * @out:	where it went and its size
 *
 * Called by the scheduler (e1000_sched.c) with nic->sched_lock held.
 *
 * Return: what happened (enum e1k_tx_result).
 */
enum e1k_tx_result __e1k_tx_one(struct e1k_ctx *ec, struct e1k_tx_out *out)
{
	enum e1k_tx_result res;

	lockdep_assert_held(&ec->nic->sched_lock);

	memset(out, 0, sizeof(*out));
	mutex_lock(&ec->ctx->dma_lock);
	res = __e1k_tx_one_locked(ec, ec->nic->tx_pkt, out);
	mutex_unlock(&ec->ctx->dma_lock);
	return res;
}

/**
 * e1k_tx_kick() - the context's transmit unit may have work
 * @ec: the context
 *
 * From the guest's TDT or TCTL write (ctx->lock held).  The scheduler
 * decides whose packets go next; when it is free it runs at once, inside
 * the VMM's register write, on the vCPU's own thread (a handover to a
 * worker costs more than it saves under nested virtualization); when a
 * pass is in progress the write returns and the NIC's workqueue runs the
 * next one (e1k_sched_kick()).
 */
void e1k_tx_kick(struct e1k_ctx *ec)
{
	e1k_sched_kick(ec);
}

/**
 * e1k_tx_complete() - write back what the NIC completed for a context
 * @ec: the context
 */
void e1k_tx_complete(struct e1k_ctx *ec)
{
	mutex_lock(&ec->ctx->dma_lock);
	__e1k_tx_writeback(ec);
	mutex_unlock(&ec->ctx->dma_lock);
}

/**
 * e1k_tx_quiesce() - wait until the NIC holds no buffer of the context
 * @ec: the context
 *
 * Called with or without ctx->dma_lock (dma.c's invalidation holds it),
 * never with nic->tx_lock.  The NIC completes what it was given; one that
 * does not within a second has its transmit unit stopped and the slots of
 * the context are released (it can no longer read them).
 */
void e1k_tx_quiesce(struct e1k_ctx *ec)
{
	struct e1k_nic *nic = ec->nic;
	unsigned long timeout = jiffies + HZ;
	unsigned long flags;
	unsigned int inflight, i;

	for (;;) {
		mutex_lock(&nic->tx_lock);
		__e1k_tx_reap(nic);
		mutex_unlock(&nic->tx_lock);
		spin_lock_irqsave(&ec->lock, flags);
		inflight = ec->tx_inflight;
		spin_unlock_irqrestore(&ec->lock, flags);
		if (!inflight)
			return;
		if (time_after(jiffies, timeout))
			break;
		usleep_range(1000, 2000);
	}

	pci_warn(nic->kd->pdev, "e1000: transmit did not complete; resetting the TX ring\n");
	mutex_lock(&nic->tx_lock);
	iowrite32(E1K_TCTL_PSP, nic->regs + E1K_TCTL);
	for (i = 0; i < E1K_PRING_DESC; i++) {
		struct e1k_pslot *s = &nic->pslot[i];

		if (s->ctx) {
			ka_dma_unmap(s->ctx, &s->xfer);
			e1k_ctx(s->ctx)->ring_held--;
			atomic_dec(&nic->ring_inflight);
		}
		if (s->ctx && s->eop) {
			struct e1k_ctx *owner = e1k_ctx(s->ctx);

			spin_lock_irqsave(&owner->lock, flags);
			owner->tx_inflight--;
			spin_unlock_irqrestore(&owner->lock, flags);
		}
		memset(s, 0, sizeof(*s));
	}
	memset(nic->tx_ring, 0, E1K_PRING_DESC * sizeof(*nic->tx_ring));
	nic->tx_tail = 0;
	nic->tx_clean = 0;
	iowrite32(0, nic->regs + E1K_TDH);
	iowrite32(0, nic->regs + E1K_TDT);
	iowrite32(E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12),
		  nic->regs + E1K_TCTL);
	mutex_unlock(&nic->tx_lock);
}

/**
 * e1k_tx_init() - the NIC's transmit scratch space
 * @nic: the NIC
 *
 * Return: 0 or -ENOMEM.
 */
int e1k_tx_init(struct e1k_nic *nic)
{
	nic->tx_pkt = kvzalloc(sizeof(*nic->tx_pkt), GFP_KERNEL);
	return nic->tx_pkt ? 0 : -ENOMEM;
}

void e1k_tx_fini(struct e1k_nic *nic)
{
	kvfree(nic->tx_pkt);
	nic->tx_pkt = NULL;
}
