// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign e1000 model: the physical NIC.
 *
 * The NIC is the model's own.  No guest value ever reaches it: its rings
 * live in host memory (one TX ring that every context's packets go
 * through, one RX ring of host buffers), its receive filter is the
 * model's (the contexts' MACs in its spare RAR entries, or promiscuous
 * once they do not fit; each context filters further in the model), and
 * it strips and inserts VLAN tags (CTRL.VME) so that each context chooses
 * for itself.  RCTL changes only between those two modes: QEMU's e1000
 * receives nothing for a second after any RCTL write.
 *
 * Its INTx is handled here: the handler reads ICR (which acknowledges the
 * NIC), keeps the causes and schedules the work, which receives, reaps
 * transmit completions and forwards link changes to every context.  The
 * NIC interrupts only while a context exists; with none it is quiet, its
 * units idle and its rings empty of guest buffers.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/slab.h>

#include "e1000.h"

#define E1K_PIMS	(E1K_ICR_RXT0 | E1K_ICR_RXO | E1K_ICR_RXDMT0 | \
			 E1K_ICR_TXDW | E1K_ICR_LSC)

static inline u32 e1k_rd(struct e1k_nic *nic, u32 reg)
{
	return ioread32(nic->regs + reg);
}

static inline void e1k_wr(struct e1k_nic *nic, u32 reg, u32 val)
{
	iowrite32(val, nic->regs + reg);
}

/* Give every RX descriptor its host buffer back; the ring is all free. */
static void e1k_rx_ring_init(struct e1k_nic *nic)
{
	unsigned int i;

	for (i = 0; i < E1K_PRING_DESC; i++) {
		memset(&nic->rx_ring[i], 0, sizeof(nic->rx_ring[i]));
		nic->rx_ring[i].addr = cpu_to_le64(nic->rx_bufs_dma + i * E1K_PRX_BUF);
	}
	nic->rx_clean = 0;
	e1k_wr(nic, E1K_RDBAL, lower_32_bits(nic->rx_dma));
	e1k_wr(nic, E1K_RDBAH, upper_32_bits(nic->rx_dma));
	e1k_wr(nic, E1K_RDLEN, E1K_PRING_DESC * E1K_DESC_SIZE);
	e1k_wr(nic, E1K_RDH, 0);
	e1k_wr(nic, E1K_RDT, E1K_PRING_DESC - 1);
}

static void e1k_tx_ring_init(struct e1k_nic *nic)
{
	memset(nic->tx_ring, 0, E1K_PRING_DESC * sizeof(*nic->tx_ring));
	nic->tx_tail = 0;
	nic->tx_clean = 0;
	e1k_wr(nic, E1K_TDBAL, lower_32_bits(nic->tx_dma));
	e1k_wr(nic, E1K_TDBAH, upper_32_bits(nic->tx_dma));
	e1k_wr(nic, E1K_TDLEN, E1K_PRING_DESC * E1K_DESC_SIZE);
	e1k_wr(nic, E1K_TDH, 0);
	e1k_wr(nic, E1K_TDT, 0);
}

/* How long a frame may wait on the RX ring for a context's room */
#define E1K_RX_HOLD	msecs_to_jiffies(10)

/*
 * Receive: hand each complete frame to the contexts, recycle the buffers.
 * A frame that a context would lose for want of room waits on the ring
 * (and QEMU's NIC queues what follows) until that context's guest gives
 * buffers or E1K_RX_HOLD has passed; then it is delivered, or lost by
 * those still full.
 */
static void e1k_nic_rx(struct e1k_nic *nic)
{
	unsigned int done = 0;

	lockdep_assert_held(&nic->ctx_lock);

	WRITE_ONCE(nic->rx_held, false);
	while (done < E1K_PRING_DESC) {
		struct e1k_rx_desc *d = &nic->rx_ring[nic->rx_clean];
		u8 status = READ_ONCE(d->status);
		unsigned int len;

		if (!(status & E1K_RXD_STAT_DD))
			break;
		dma_rmb();
		len = le16_to_cpu(d->length);
		if ((status & E1K_RXD_STAT_EOP) && !d->errors &&
		    len >= ETH_HLEN && len <= E1K_PRX_BUF) {
			u8 *frame = nic->rx_bufs + nic->rx_clean * E1K_PRX_BUF;
			u16 special = le16_to_cpu(d->special);

			if (e1k_rx_would_lose(nic, frame, status, special)) {
				if (!nic->rx_hold_since)
					nic->rx_hold_since = jiffies ?: 1;
				if (time_before(jiffies, nic->rx_hold_since + E1K_RX_HOLD)) {
					WRITE_ONCE(nic->rx_held, true);
					if (!READ_ONCE(nic->removing))
						queue_delayed_work(nic->sched_wq, &nic->rx_retry, E1K_RX_HOLD);
					break;
				}
			}
			nic->rx_hold_since = 0;
			e1k_rx_frame(nic, frame, len, status, special);
		} else {
			atomic64_inc(&nic->rx_bad);
		}
		d->status = 0;
		d->errors = 0;
		nic->rx_clean = (nic->rx_clean + 1) % E1K_PRING_DESC;
		done++;
	}
	if (done) {
		dma_wmb();
		e1k_wr(nic, E1K_RDT, (nic->rx_clean + E1K_PRING_DESC - 1) % E1K_PRING_DESC);
	}
}

/**
 * e1k_nic_link_refresh() - read the NIC's link; tell every context if it changed
 * @nic: the NIC; nic->ctx_lock held
 *
 * The NIC does not interrupt while no context exists, so a change then is
 * only seen here, when the first context arrives.
 */
void e1k_nic_link_refresh(struct e1k_nic *nic)
{
	bool up = e1k_rd(nic, E1K_STATUS) & E1K_STATUS_LU;
	struct e1k_ctx *ec;

	lockdep_assert_held(&nic->ctx_lock);

	if (up == nic->link_up)
		return;
	WRITE_ONCE(nic->link_up, up);
	pci_info(nic->kd->pdev, "link %s\n", str_up_down(up));
	list_for_each_entry(ec, &nic->ctxs, node)
		e1k_ctx_link_changed(ec, up);
}

static void e1k_nic_work(struct work_struct *work)
{
	struct e1k_nic *nic = container_of(work, struct e1k_nic, work);
	struct e1k_ctx *ec;
	u32 causes;

	mutex_lock(&nic->ctx_lock);
	causes = atomic_xchg(&nic->causes, 0);
	if (causes & E1K_ICR_LSC)
		e1k_nic_link_refresh(nic);
	e1k_nic_rx(nic);

	mutex_lock(&nic->tx_lock);
	__e1k_tx_reap(nic);
	mutex_unlock(&nic->tx_lock);
	list_for_each_entry(ec, &nic->ctxs, node)
		e1k_tx_complete(ec);
	mutex_unlock(&nic->ctx_lock);
	/* room on the ring: contexts that were blocked go on */
	e1k_sched_run(nic);
}

/* The NIC's receive control: every frame when promiscuous, else its RARs. */
static void e1k_nic_rctl(struct e1k_nic *nic, bool exact)
{
	e1k_wr(nic, E1K_RCTL, E1K_RCTL_EN | E1K_RCTL_MPE | E1K_RCTL_BAM |
			      E1K_RCTL_SECRC | (exact ? 0 : E1K_RCTL_UPE));
	WRITE_ONCE(nic->filter_exact, exact);
}

static void e1k_nic_rar(struct e1k_nic *nic, unsigned int i, const u8 *mac)
{
	e1k_wr(nic, E1K_RA + 8 * i, mac ? mac[0] | mac[1] << 8 | mac[2] << 16 |
					  (u32)mac[3] << 24 : 0);
	e1k_wr(nic, E1K_RA + 8 * i + 4, mac ? mac[4] | mac[5] << 8 | E1K_RAH_AV : 0);
}

/**
 * e1k_nic_filter_update() - the NIC's own filter after contexts changed
 * @nic: the NIC; nic->ctx_lock held
 *
 * While the contexts' MACs fit in RAR1..15 and none is trusted, the NIC
 * filters exactly (unicast for no context never reaches the host).
 * Beyond that it is promiscuous and the model alone filters.  QEMU's NIC
 * receives nothing for a second after an RCTL write, so the switch back to
 * exact waits until no context is left.
 */
void e1k_nic_filter_update(struct e1k_nic *nic)
{
	unsigned int n = 0, i = 1;
	bool trusted = false, exact;
	struct e1k_ctx *ec;

	lockdep_assert_held(&nic->ctx_lock);

	list_for_each_entry(ec, &nic->ctxs, node) {
		n++;
		trusted |= READ_ONCE(ec->trusted);
	}
	exact = n < E1K_RAR_ENTRIES && !trusted && (nic->filter_exact || !n);
	if (exact) {
		list_for_each_entry(ec, &nic->ctxs, node)
			e1k_nic_rar(nic, i++, ec->mac);
		for (; i < E1K_RAR_ENTRIES; i++)
			e1k_nic_rar(nic, i, NULL);
	}
	if (exact != nic->filter_exact) {
		e1k_nic_rctl(nic, exact);
		pci_info(nic->kd->pdev, "e1000: receive filter %s (%u contexts%s)\n",
			 exact ? "exact" : "promiscuous", n,
			 trusted ? ", one trusted" : "");
	}
}

/* A held frame's time is up, or a context has room again. */
static void e1k_nic_rx_retry(struct work_struct *work)
{
	struct e1k_nic *nic = container_of(to_delayed_work(work), struct e1k_nic,
					   rx_retry);

	e1k_nic_schedule(nic);
}

/**
 * e1k_nic_schedule() - run the NIC's receive and completion work
 * @nic: the NIC
 */
void e1k_nic_schedule(struct e1k_nic *nic)
{
	if (!READ_ONCE(nic->removing))
		queue_work(nic->sched_wq, &nic->work);
}

/**
 * e1k_nic_irq() - the physical NIC's interrupt (hard-irq context)
 * @kd: the device
 *
 * Reading ICR acknowledges the NIC and lowers its line; the causes go to
 * the work.  The line may be shared: ICR 0 means not ours.
 *
 * Return: IRQ_HANDLED if the NIC had causes.
 */
irqreturn_t e1k_nic_irq(struct ka_dev *kd)
{
	struct e1k_nic *nic = e1k_nic(kd);
	u32 icr = e1k_rd(nic, E1K_ICR);

	if (!icr || icr == ~0U)
		return IRQ_NONE;
	atomic_or(icr, &nic->causes);
	atomic64_inc(&nic->irqs);
	if (!READ_ONCE(nic->removing))
		queue_work(nic->sched_wq, &nic->work);
	return IRQ_HANDLED;
}

/**
 * e1k_nic_start() - the first context arrived: let the NIC interrupt
 * @nic: the NIC; nic->ctx_lock held
 *
 * Frames received while no context existed are given to the new one.
 */
void e1k_nic_start(struct e1k_nic *nic)
{
	lockdep_assert_held(&nic->ctx_lock);

	e1k_nic_link_refresh(nic);
	e1k_rd(nic, E1K_ICR);
	atomic_set(&nic->causes, E1K_ICR_LSC);
	e1k_wr(nic, E1K_IMS, E1K_PIMS);
	queue_work(nic->sched_wq, &nic->work);
}

/**
 * e1k_nic_stop() - the last context left: quiet the NIC
 * @nic: the NIC; nic->ctx_lock held; no packet of a context is in flight
 */
void e1k_nic_stop(struct e1k_nic *nic)
{
	lockdep_assert_held(&nic->ctx_lock);

	e1k_wr(nic, E1K_IMC, ~0U);
	e1k_rd(nic, E1K_ICR);
}

static int e1k_nic_alloc_rings(struct e1k_nic *nic)
{
	struct device *dev = &nic->kd->pdev->dev;

	nic->tx_ring = dma_alloc_coherent(dev, E1K_PRING_DESC * E1K_DESC_SIZE,
					  &nic->tx_dma, GFP_KERNEL);
	nic->rx_ring = dma_alloc_coherent(dev, E1K_PRING_DESC * E1K_DESC_SIZE,
					  &nic->rx_dma, GFP_KERNEL);
	nic->rx_bufs = dma_alloc_coherent(dev, E1K_PRING_DESC * E1K_PRX_BUF,
					  &nic->rx_bufs_dma, GFP_KERNEL);
	nic->tx_hdr = dma_alloc_coherent(dev, E1K_PRING_DESC * E1K_TX_HDR_SLOT,
					 &nic->tx_hdr_dma, GFP_KERNEL);
	if (nic->tx_ring && nic->rx_ring && nic->rx_bufs && nic->tx_hdr)
		return 0;
	return -ENOMEM;
}

static void e1k_nic_free_rings(struct e1k_nic *nic)
{
	struct device *dev = &nic->kd->pdev->dev;

	if (nic->tx_hdr)
		dma_free_coherent(dev, E1K_PRING_DESC * E1K_TX_HDR_SLOT, nic->tx_hdr,
				  nic->tx_hdr_dma);
	if (nic->rx_bufs)
		dma_free_coherent(dev, E1K_PRING_DESC * E1K_PRX_BUF, nic->rx_bufs,
				  nic->rx_bufs_dma);
	if (nic->rx_ring)
		dma_free_coherent(dev, E1K_PRING_DESC * E1K_DESC_SIZE, nic->rx_ring,
				  nic->rx_dma);
	if (nic->tx_ring)
		dma_free_coherent(dev, E1K_PRING_DESC * E1K_DESC_SIZE, nic->tx_ring,
				  nic->tx_dma);
}

/* Units off, interrupts masked and acknowledged. */
static void e1k_nic_quiet(struct e1k_nic *nic)
{
	e1k_wr(nic, E1K_IMC, ~0U);
	e1k_wr(nic, E1K_RCTL, 0);
	e1k_wr(nic, E1K_TCTL, E1K_TCTL_PSP);
	e1k_rd(nic, E1K_ICR);
}

/**
 * e1k_nic_probe() - take the NIC over
 * @kd: the device (BAR0 mapped, bus mastering on, its IRQ not requested yet)
 *
 * Return: 0 or a negative errno.
 */
int e1k_nic_probe(struct ka_dev *kd)
{
	struct e1k_nic *nic;
	unsigned int i;
	u32 ral, rah;
	int ret;

	if (kd->bar_len[0] < E1K_BAR0_SIZE)
		return -ENODEV;
	nic = kzalloc(sizeof(*nic), GFP_KERNEL);
	if (!nic)
		return -ENOMEM;
	nic->kd = kd;
	nic->regs = kd->bar[0];
	mutex_init(&nic->ctx_lock);
	mutex_init(&nic->tx_lock);
	INIT_LIST_HEAD(&nic->ctxs);
	INIT_WORK(&nic->work, e1k_nic_work);
	INIT_DELAYED_WORK(&nic->rx_retry, e1k_nic_rx_retry);

	e1k_nic_quiet(nic);
	ral = e1k_rd(nic, E1K_RA);
	rah = e1k_rd(nic, E1K_RA + 4);
	nic->mac[0] = ral;
	nic->mac[1] = ral >> 8;
	nic->mac[2] = ral >> 16;
	nic->mac[3] = ral >> 24;
	nic->mac[4] = rah;
	nic->mac[5] = rah >> 8;
	if (!(rah & E1K_RAH_AV) || !is_valid_ether_addr(nic->mac)) {
		pci_warn(kd->pdev, "no MAC address in RAR0; using a random one\n");
		eth_random_addr(nic->mac);
	}

	ret = e1k_nic_alloc_rings(nic);
	if (ret)
		goto err;
	ret = e1k_tx_init(nic);
	if (ret)
		goto err;
	ret = e1k_sched_init(nic);
	if (ret)
		goto err_tx;
	e1k_tx_ring_init(nic);
	e1k_rx_ring_init(nic);
	e1k_wr(nic, E1K_VET, 0x8100);
	e1k_wr(nic, E1K_CTRL, e1k_rd(nic, E1K_CTRL) | E1K_CTRL_SLU | E1K_CTRL_VME);
	e1k_wr(nic, E1K_ITR, 0);
	e1k_wr(nic, E1K_RXCSUM, 0);
	/*
	 * Frames without FCS into 2 KiB buffers: for the contexts' MACs
	 * (RAR1..15), broadcast and multicast; the contexts filter further.
	 */
	for (i = 1; i < E1K_RAR_ENTRIES; i++)
		e1k_nic_rar(nic, i, NULL);
	e1k_nic_rctl(nic, true);
	e1k_wr(nic, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12));
	nic->link_up = e1k_rd(nic, E1K_STATUS) & E1K_STATUS_LU;
	kd->model_data = nic;
	ret = sysfs_create_group(&kd->pdev->dev.kobj, &e1k_nic_group);
	if (ret)
		goto err_quiet;
	pci_info(kd->pdev, "e1000 model: MAC %pM, link %s, %u-descriptor rings, up to %u contexts\n",
		 nic->mac, str_up_down(nic->link_up), E1K_PRING_DESC,
		 kd->model->max_contexts());
	return 0;

err_quiet:
	kd->model_data = NULL;
	e1k_nic_quiet(nic);
	e1k_sched_fini(nic);
err_tx:
	e1k_tx_fini(nic);
err:
	e1k_nic_free_rings(nic);
	kfree(nic);
	return ret;
}

/**
 * e1k_nic_remove() - give the NIC back
 * @kd: the device; every context is gone and its IRQ freed
 *
 * The NIC leaves quiet, with no ring of ours programmed and its own MAC
 * back in RAR0; kvm_assign then restores its config space.
 */
void e1k_nic_remove(struct ka_dev *kd)
{
	struct e1k_nic *nic = e1k_nic(kd);
	unsigned int i;

	sysfs_remove_group(&kd->pdev->dev.kobj, &e1k_nic_group);
	WRITE_ONCE(nic->removing, true);
	e1k_nic_quiet(nic);
	cancel_delayed_work_sync(&nic->rx_retry);
	cancel_work_sync(&nic->work);
	e1k_sched_fini(nic);
	mutex_lock(&nic->tx_lock);
	__e1k_tx_reap(nic);
	for (i = 0; i < E1K_PRING_DESC; i++)
		WARN_ON_ONCE(nic->pslot[i].ctx);
	mutex_unlock(&nic->tx_lock);

	for (i = E1K_TDBAL; i <= E1K_TDT; i += 4)
		e1k_wr(nic, i, 0);
	for (i = E1K_RDBAL; i <= E1K_RDT; i += 4)
		e1k_wr(nic, i, 0);
	e1k_wr(nic, E1K_RA, nic->mac[0] | nic->mac[1] << 8 | nic->mac[2] << 16 |
			    (u32)nic->mac[3] << 24);
	e1k_wr(nic, E1K_RA + 4, nic->mac[4] | nic->mac[5] << 8 | E1K_RAH_AV);
	e1k_wr(nic, E1K_CTRL, e1k_rd(nic, E1K_CTRL) & ~E1K_CTRL_VME);
	for (i = 1; i < E1K_RAR_ENTRIES; i++)
		e1k_nic_rar(nic, i, NULL);
	e1k_tx_fini(nic);
	e1k_nic_free_rings(nic);
	mutex_destroy(&nic->tx_lock);
	mutex_destroy(&nic->ctx_lock);
	kfree(nic);
	kd->model_data = NULL;
}
