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
	u32			len[E1K_PKT_MAX_DESC];
	unsigned int		data_idx[E1K_PKT_MAX_DESC]; /* into d[] */
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
		u64 addr = le64_to_cpu(p->d[p->data_idx[i]].addr);

		ret = __ka_dma_map(ec->ctx, addr, p->len[i], DMA_TO_DEVICE, &p->x[i]);
		if (ret) {
			e1k_tx_release(ec->ctx, p, i);
			return ret;
		}
	}
	return 0;
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
		s->ctx = ctx;
		ka_dma_move(&s->xfer, x);	/* the slot holds it now */
	}
	nic->tx_tail = (nic->tx_tail + 1) % E1K_PRING_DESC;
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

	lockdep_assert_held(&nic->tx_lock);

	if (__e1k_tx_free(nic) < p->ndata + 1) {
		__e1k_tx_reap(nic);
		if (__e1k_tx_free(nic) < p->ndata + 1)
			return false;
	}
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
	for (i = 0; i < p->ndata; i++) {
		u32 lower;

		pd = p->d[p->data_idx[i]];
		lower = le32_to_cpu(pd.lower) & ~(E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS);
		if (!v->vme)	/* no VLAN insertion unless the guest enabled it */
			lower &= ~E1K_TXD_CMD_VLE;
		pd.lower = cpu_to_le32(lower);
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
static void e1k_tx_count(struct e1k_ctx *ec, const struct e1k_tx_pkt *p)
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
}

/* The transmit pass of one context; caller holds ctx->dma_lock. */
static void __e1k_tx_process(struct e1k_ctx *ec, struct e1k_tx_pkt *p)
{
	struct ka_ctx *ctx = ec->ctx;
	struct e1k_nic *nic = ec->nic;
	enum e1k_tx_verdict verdict;
	struct e1k_tx_view v;
	unsigned long flags;
	unsigned int i, idx;
	bool queued, ring_ok;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	for (;;) {
		spin_lock_irqsave(&ec->lock, flags);
		if (!(E1K_R(ec, E1K_TCTL) & E1K_TCTL_EN) || !ka_config_bus_master(ctx)) {
			spin_unlock_irqrestore(&ec->lock, flags);
			break;
		}
		ring_ok = __e1k_tx_view(ec, &v);
		if (v.next == v.tdt) {
			spin_unlock_irqrestore(&ec->lock, flags);
			break;
		}
		if (!ring_ok) {
			__e1k_tx_stop(ec);
			spin_unlock_irqrestore(&ec->lock, flags);
			atomic64_inc(&ec->stats.tx_bad_ring);
			dev_info_ratelimited(&ctx->mdev->dev,
					     "e1000: bad TX ring (TDLEN %#x, TDT %#x): transmit stopped\n",
					     E1K_R(ec, E1K_TDLEN), v.tdt);
			break;
		}
		spin_unlock_irqrestore(&ec->lock, flags);

		verdict = __e1k_tx_fetch(ec, &v, p);
		if (verdict == E1K_TX_WAIT)
			break;
		if (verdict == E1K_TX_OK) {
			ret = __e1k_tx_translate(ec, p);
			if (ret)
				verdict = ret == -EFAULT ? E1K_TX_FAULT : E1K_TX_BAD_DESC;
		}
		if (verdict != E1K_TX_OK) {
			spin_lock_irqsave(&ec->lock, flags);
			if (v.gen == ec->gen)
				__e1k_tx_stop(ec);
			spin_unlock_irqrestore(&ec->lock, flags);
			atomic64_inc(verdict == E1K_TX_FAULT ? &ec->stats.tx_faults :
				     &ec->stats.tx_bad_desc);
			dev_info_ratelimited(&ctx->mdev->dev,
					     "e1000: %s in the TX packet at descriptor %u: transmit stopped\n",
					     verdict == E1K_TX_FAULT ? "DMA fault" : "bad descriptor",
					     v.next);
			break;
		}

		/* The packet's context descriptors apply from now on. */
		if (p->has_tso_ctx)
			ec->tx_ctx_tso = p->tso_ctx;
		if (p->has_csum_ctx)
			ec->tx_ctx_csum = p->csum_ctx;
		for (i = 0; i < p->ndesc; i++) {
			u32 lower = le32_to_cpu(p->d[i].lower);

			idx = (v.next + i) % v.ndesc;
			ec->tx_wb[idx] = !!(lower & (E1K_TXD_CMD_RS | E1K_TXD_CMD_RPS));
			ec->tx_upper[idx] = le32_to_cpu(p->d[i].upper);
		}

		mutex_lock(&nic->tx_lock);
		queued = __e1k_tx_queue(ec, p, &v);
		if (queued) {
			spin_lock_irqsave(&ec->lock, flags);
			ec->tx_next = (v.next + p->ndesc) % v.ndesc;
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
			break;		/* the NIC's completion kicks again */
		}
		e1k_tx_count(ec, p);
		__e1k_tx_writeback(ec);
	}
	__e1k_tx_writeback(ec);
}

/**
 * e1k_tx_kick() - the context's transmit unit may have work
 * @ec: the context
 *
 * From the guest's TDT or TCTL write (ctx->lock held; the packets go out
 * inside the VMM's register write, on the vCPU's own thread: a handover to
 * a worker costs more than it saves under nested virtualization) and from
 * the NIC's completion work (nic->ctx_lock held) when a full physical ring
 * left descriptors behind.
 */
void e1k_tx_kick(struct e1k_ctx *ec)
{
	struct e1k_tx_pkt *p;

	p = kmalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return;		/* retried at the next kick */
	mutex_lock(&ec->ctx->dma_lock);
	__e1k_tx_process(ec, p);
	mutex_unlock(&ec->ctx->dma_lock);
	kfree(p);
}

/**
 * e1k_tx_pending() - has the context's transmit unit work left?
 * @ec: the context
 *
 * Return: true if it is enabled and the guest queued descriptors the
 * model has not taken yet (a full physical ring left them).
 */
bool e1k_tx_pending(struct e1k_ctx *ec)
{
	unsigned long flags;
	bool pending;

	spin_lock_irqsave(&ec->lock, flags);
	pending = (E1K_R(ec, E1K_TCTL) & E1K_TCTL_EN) &&
		  ec->tx_next != E1K_R(ec, E1K_TDT);
	spin_unlock_irqrestore(&ec->lock, flags);
	return pending;
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

		if (s->ctx)
			ka_dma_unmap(s->ctx, &s->xfer);
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
