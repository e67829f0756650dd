// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: device model for the Intel 82540EM NIC (8086:100e), as QEMU's
 * "e1000" implements it, assigned to guests through shadow rings.
 *
 * Each context is a complete virtual function of the same model: its own
 * register file (every BAR0 register is virtual; the physical NIC never
 * sees a guest write), its own Microwire EEPROM holding the context's MAC
 * and a valid checksum, an emulated M88E1011 PHY behind MDIC, level INTx
 * from ICR & IMS, and an emulated I/O BAR (IOADDR/IODATA onto the same
 * register handlers: the stock driver resets the 82540 through it).
 *
 * The guest's descriptor rings stay in guest memory and are never given to
 * the NIC (e1000_tx.c, e1000_rx.c): the physical NIC and its rings are the
 * model's own (e1000_nic.c).  This file is the virtual side: the register
 * file and what the guest sees change there, under ec->lock.
 *
 * Register accesses come from the VFIO paths with ctx->lock held; aligned
 * 4-byte accesses, as the hardware decodes them (other reads return all
 * ones, other writes are dropped and counted as unknown).  Unknown
 * registers read 0; writes to them are dropped and counted (regs_unknown).
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "e1000.h"

/* Registers that are plain storage: read back what was written. */
static const u16 e1k_plain_regs[] = {
	E1K_CTRL_EXT, E1K_FCAL, E1K_FCAH, E1K_FCT, E1K_VET, E1K_FCTTV,
	E1K_TXCW, E1K_TIPG, E1K_AIT, E1K_LEDCTL, E1K_PBA, E1K_FCRTL,
	E1K_FCRTH, E1K_RXDCTL, E1K_TXDCTL, E1K_TXDMAC, E1K_TSPMT,
	E1K_RXCSUM, E1K_WUC, E1K_WUFC, E1K_MANC, E1K_TDBAL, E1K_TDBAH,
	E1K_RDBAL, E1K_RDBAH,
};

/* PHY registers the driver may read (R) and write (W), as the M88E1011 */
#define E1K_PHY_R	1
#define E1K_PHY_W	2
static const u8 e1k_phy_cap[E1K_PHY_REGS] = {
	[E1K_PHY_CTRL]		= E1K_PHY_R | E1K_PHY_W,
	[E1K_PHY_STATUS]	= E1K_PHY_R,
	[E1K_PHY_ID1]		= E1K_PHY_R,
	[E1K_PHY_ID2]		= E1K_PHY_R,
	[E1K_PHY_AUTONEG_ADV]	= E1K_PHY_R | E1K_PHY_W,
	[E1K_PHY_LP_ABILITY]	= E1K_PHY_R,
	[E1K_PHY_AUTONEG_EXP]	= E1K_PHY_R,
	[E1K_PHY_1000T_CTRL]	= E1K_PHY_R | E1K_PHY_W,
	[E1K_PHY_1000T_STATUS]	= E1K_PHY_R,
	[E1K_M88_PHY_SPEC_CTRL]	= E1K_PHY_R | E1K_PHY_W,
	[E1K_M88_PHY_SPEC_STATUS] = E1K_PHY_R,
	[E1K_M88_EXT_PHY_SPEC_CTRL] = E1K_PHY_R | E1K_PHY_W,
	[E1K_M88_RX_ERR_CNTR]	= E1K_PHY_R,
};

/* BMSR: 10/100 half/full, extended status and capabilities, autoneg */
#define E1K_BMSR_BASE		0x7949
#define E1K_BMSR_UP		(E1K_MII_SR_LINK_STATUS | E1K_MII_SR_AUTONEG_COMPLETE)
#define E1K_ANLPAR_BASE		0x01e0	/* partner: 10/100 half/full */
#define E1K_ANLPAR_ACK		0x4000

static bool e1k_is_plain(u32 off)
{
	unsigned int i;

	if ((off >= E1K_RA && off < E1K_RA + 8 * E1K_RAR_ENTRIES) ||
	    (off >= E1K_MTA && off < E1K_MTA + 4 * E1K_MTA_WORDS) ||
	    (off >= E1K_VFTA && off < E1K_VFTA + 4 * E1K_VFTA_WORDS))
		return true;
	for (i = 0; i < ARRAY_SIZE(e1k_plain_regs); i++)
		if (e1k_plain_regs[i] == off)
			return true;
	return false;
}

/* Caller holds ec->lock. */
static void __e1k_phy_reset(struct e1k_ctx *ec)
{
	bool up = ec->nic->link_up;

	lockdep_assert_held(&ec->lock);

	memset(ec->phy, 0, sizeof(ec->phy));
	ec->phy[E1K_PHY_CTRL] = 0x1140;		/* 1000 Mb/s, full, autoneg on */
	ec->phy[E1K_PHY_STATUS] = E1K_BMSR_BASE | (up ? E1K_BMSR_UP : 0);
	ec->phy[E1K_PHY_ID1] = E1K_M88E1011_ID1;
	ec->phy[E1K_PHY_ID2] = E1K_M88E1011_ID2;
	ec->phy[E1K_PHY_AUTONEG_ADV] = 0x0de1;	/* 10/100 h/f, pause, asym */
	ec->phy[E1K_PHY_LP_ABILITY] = E1K_ANLPAR_BASE | (up ? E1K_ANLPAR_ACK : 0);
	ec->phy[E1K_PHY_1000T_CTRL] = 0x0e00;	/* 1000 full, multi-port, master */
	ec->phy[E1K_PHY_1000T_STATUS] = 0x3c00;	/* partner 1000 h/f, rx ok */
	ec->phy[E1K_M88_PHY_SPEC_CTRL] = 0x0360;
	ec->phy[E1K_M88_PHY_SPEC_STATUS] = 0xac00;	/* 1000, full, resolved, up */
	ec->phy[E1K_M88_EXT_PHY_SPEC_CTRL] = 0x0d60;
}

/*
 * The EEPROM image of a context: its MAC, the identity the driver reads
 * (8254x manual, table 5-2: init control words, IDs) and the checksum word
 * that makes words 0..63 sum to 0xBABA.
 */
static void e1k_eeprom_build(struct e1k_ctx *ec)
{
	struct pci_dev *pdev = ec->ctx->kd->pdev;
	u16 *w = ec->eeprom, sum = 0;
	unsigned int i;

	for (i = 0; i < E1K_EEPROM_WORDS; i++)
		w[i] = 0xffff;
	w[0] = ec->mac[0] | ec->mac[1] << 8;
	w[1] = ec->mac[2] | ec->mac[3] << 8;
	w[2] = ec->mac[4] | ec->mac[5] << 8;
	w[3] = 0x0000;		/* compatibility: no special features */
	w[5] = 0x0000;		/* EEPROM image version */
	w[6] = 0x0000;
	w[7] = 0x0000;
	w[8] = 0x3000;		/* PBA number */
	w[9] = 0x1000;
	w[10] = 0x6403;		/* init control 1 */
	w[11] = pdev->subsystem_device;
	w[12] = pdev->subsystem_vendor;
	w[13] = pdev->device;
	w[14] = pdev->vendor;
	w[15] = 0x3040;		/* init control 2: full flow control */
	for (i = 0; i < E1K_EEPROM_WORDS - 1; i++)
		sum += w[i];
	w[E1K_EEPROM_WORDS - 1] = E1K_EEPROM_SUM - sum;
}

/* The register file at power-on; caller holds ec->lock. */
static void __e1k_regs_reset(struct e1k_ctx *ec)
{
	bool up = ec->nic->link_up;

	lockdep_assert_held(&ec->lock);

	memset(ec->reg, 0, E1K_REGS * sizeof(u32));
	E1K_R(ec, E1K_CTRL) = E1K_CTRL_SPD_1000 | E1K_CTRL_SLU | E1K_CTRL_FD;
	E1K_R(ec, E1K_STATUS) = E1K_STATUS_FD | E1K_STATUS_SPEED_1000 |
				E1K_STATUS_ASDV_1000 | E1K_STATUS_GIO_M_ENA |
				(up ? E1K_STATUS_LU : 0);
	E1K_R(ec, E1K_PBA) = 0x00100030;
	E1K_R(ec, E1K_LEDCTL) = 0x602;
	E1K_R(ec, E1K_MANC) = E1K_MANC_ARP_EN;
	E1K_R(ec, E1K_VET) = 0x8100;
	/* RAR0 holds the EEPROM's MAC after reset, as on the hardware. */
	E1K_R(ec, E1K_RA) = ec->mac[0] | ec->mac[1] << 8 | ec->mac[2] << 16 |
			    (u32)ec->mac[3] << 24;
	E1K_R(ec, E1K_RA + 4) = ec->mac[4] | ec->mac[5] << 8 | E1K_RAH_AV;
	memset(&ec->ee, 0, sizeof(ec->ee));
	ec->tx_next = 0;
	ec->tx_done = 0;
	memset(&ec->tx_ctx_tso, 0, sizeof(ec->tx_ctx_tso));
	memset(&ec->tx_ctx_csum, 0, sizeof(ec->tx_ctx_csum));
	ec->gen++;
}

/* Raise the virtual line now; caller holds ec->lock. */
static void __e1k_raise(struct e1k_ctx *ec)
{
	lockdep_assert_held(&ec->lock);

	ec->irq_level = true;
	ec->itr_held = false;
	ec->last_raise = ktime_get();
	atomic64_inc(&ec->stats.irqs_raised);
	ka_ctx_interrupt(ec->ctx);
}

/*
 * Re-evaluate the virtual INTx line, (ICR & IMS) != 0; caller holds
 * ec->lock.  A rising edge inside the ITR interval (256 ns units) after the
 * last one is held until the interval ends, as the hardware moderates.
 */
static void __e1k_update_irq(struct e1k_ctx *ec)
{
	bool level = E1K_R(ec, E1K_ICR) & E1K_R(ec, E1K_IMS);
	u32 itr = E1K_R(ec, E1K_ITR) & 0xffff;
	ktime_t next;

	lockdep_assert_held(&ec->lock);

	if (!level) {
		ec->itr_held = false;
		if (ec->irq_level) {
			ec->irq_level = false;
			ka_ctx_intx_deassert(ec->ctx);
		}
		return;
	}
	if (ec->irq_level || ec->itr_held)
		return;
	next = ktime_add_ns(ec->last_raise, (u64)itr * 256);
	if (itr && ktime_before(ktime_get(), next)) {
		ec->itr_held = true;
		hrtimer_start(&ec->itr_timer, next, HRTIMER_MODE_ABS);
		return;
	}
	__e1k_raise(ec);
}

static enum hrtimer_restart e1k_itr_fire(struct hrtimer *t)
{
	struct e1k_ctx *ec = container_of(t, struct e1k_ctx, itr_timer);
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	if (ec->itr_held && (E1K_R(ec, E1K_ICR) & E1K_R(ec, E1K_IMS)))
		__e1k_raise(ec);
	ec->itr_held = false;
	spin_unlock_irqrestore(&ec->lock, flags);
	return HRTIMER_NORESTART;
}

/**
 * __e1k_set_causes() - interrupt causes of the context's device view
 * @ec:		the context; ec->lock held
 * @causes:	ICR bits to set
 */
void __e1k_set_causes(struct e1k_ctx *ec, u32 causes)
{
	lockdep_assert_held(&ec->lock);

	E1K_R(ec, E1K_ICR) |= causes;
	__e1k_update_irq(ec);
}

/**
 * e1k_ctx_link_changed() - the physical link went up or down
 * @ec:	the context
 * @up:	its new state
 *
 * The context sees it in STATUS.LU and the PHY, and gets LSC.
 */
void e1k_ctx_link_changed(struct e1k_ctx *ec, bool up)
{
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	if (up) {
		E1K_R(ec, E1K_STATUS) |= E1K_STATUS_LU;
		ec->phy[E1K_PHY_STATUS] |= E1K_BMSR_UP;
		ec->phy[E1K_PHY_LP_ABILITY] |= E1K_ANLPAR_ACK;
	} else {
		E1K_R(ec, E1K_STATUS) &= ~E1K_STATUS_LU;
		ec->phy[E1K_PHY_STATUS] &= ~E1K_BMSR_UP;
		ec->phy[E1K_PHY_LP_ABILITY] &= ~E1K_ANLPAR_ACK;
	}
	__e1k_set_causes(ec, E1K_ICR_LSC);
	spin_unlock_irqrestore(&ec->lock, flags);
}

/* EECD read: GNT follows REQ, DO is the EEPROM's; caller holds ec->lock. */
static u32 __e1k_eecd_read(struct e1k_ctx *ec)
{
	struct e1k_eeprom *ee = &ec->ee;
	u32 v = ee->eecd | E1K_EECD_PRES;
	u16 word;

	lockdep_assert_held(&ec->lock);

	if (ee->eecd & E1K_EECD_REQ)
		v |= E1K_EECD_GNT;
	if (!ee->reading) {
		v |= E1K_EECD_DO;
	} else {
		word = ec->eeprom[(ee->out_bit >> 4) % E1K_EEPROM_WORDS];
		if ((word >> (15 - (ee->out_bit & 15))) & 1)
			v |= E1K_EECD_DO;
	}
	return v;
}

/*
 * EECD write: Microwire.  With CS asserted, each rising edge of SK shifts
 * DI in; after the 3-bit opcode and 6 address bits of a READ the data bits
 * come out on DO, most significant first, advancing on each falling edge.
 * A rising edge of CS starts a new command.  Caller holds ec->lock.
 */
static void __e1k_eecd_write(struct e1k_ctx *ec, u32 val)
{
	struct e1k_eeprom *ee = &ec->ee;
	u32 old = ee->eecd;

	lockdep_assert_held(&ec->lock);

	ee->eecd = val & (E1K_EECD_SK | E1K_EECD_CS | E1K_EECD_DI |
			  E1K_EECD_FWE_MASK | E1K_EECD_REQ);
	if (!(val & E1K_EECD_CS))
		return;
	if (!(old & E1K_EECD_CS)) {
		ee->in_val = 0;
		ee->in_bits = 0;
		ee->out_bit = 0;
		ee->reading = false;
	}
	if (!((val ^ old) & E1K_EECD_SK))
		return;
	if (!(val & E1K_EECD_SK)) {
		ee->out_bit++;
		return;
	}
	ee->in_val = (ee->in_val << 1) | ((val & E1K_EECD_DI) ? 1 : 0);
	if (++ee->in_bits == 3 + E1K_EEPROM_ADDR_BITS && !ee->reading) {
		ee->reading = ((ee->in_val >> E1K_EEPROM_ADDR_BITS) & 7) ==
			      E1K_EEPROM_READ_OPCODE;
		/* the next falling edge brings the first data bit */
		ee->out_bit = (ee->in_val & (E1K_EEPROM_WORDS - 1)) * 16 - 1;
	}
}

/* MDIC write: one PHY access, complete at once; caller holds ec->lock. */
static void __e1k_mdic_write(struct e1k_ctx *ec, u32 val)
{
	u32 reg = (val & E1K_MDIC_REG_MASK) >> E1K_MDIC_REG_SHIFT;
	u32 phy = (val & E1K_MDIC_PHY_MASK) >> E1K_MDIC_PHY_SHIFT;
	u16 data = val & E1K_MDIC_DATA_MASK;

	lockdep_assert_held(&ec->lock);

	if (phy != E1K_PHY_ADDR) {
		val = E1K_R(ec, E1K_MDIC) | E1K_MDIC_ERROR;
	} else if (val & E1K_MDIC_OP_READ) {
		if (e1k_phy_cap[reg] & E1K_PHY_R)
			val = (val & ~E1K_MDIC_DATA_MASK) | ec->phy[reg];
		else
			val |= E1K_MDIC_ERROR;
	} else if (val & E1K_MDIC_OP_WRITE) {
		if (!(e1k_phy_cap[reg] & E1K_PHY_W))
			val |= E1K_MDIC_ERROR;
		else if (reg == E1K_PHY_CTRL)	/* reset, restart: self-clearing */
			ec->phy[reg] = data & ~(0x3f | E1K_MII_CR_RESET |
						E1K_MII_CR_RESTART_AUTONEG);
		else
			ec->phy[reg] = data;
	}
	E1K_R(ec, E1K_MDIC) = val | E1K_MDIC_READY;
	if (val & E1K_MDIC_INT_EN)
		__e1k_set_causes(ec, E1K_ICR_MDAC);
}

/* Statistics: read to clear; a 64-bit pair is cleared by reading its high half. */
static u32 __e1k_stat_read(struct e1k_ctx *ec, u32 off)
{
	u32 v = ec->reg[off / 4];

	lockdep_assert_held(&ec->lock);

	switch (off) {
	case E1K_GORCL:
	case E1K_GOTCL:
	case E1K_TORL:
	case E1K_TOTL:
		return v;
	case E1K_GORCH:
	case E1K_GOTCH:
	case E1K_TORH:
	case E1K_TOTH:
		ec->reg[off / 4 - 1] = 0;
		break;
	}
	ec->reg[off / 4] = 0;
	return v;
}

/* One 4-byte register read; caller holds ec->lock. */
static u32 __e1k_reg_read(struct e1k_ctx *ec, u32 off)
{
	u32 v;

	lockdep_assert_held(&ec->lock);

	switch (off) {
	case E1K_CTRL:
	case E1K_STATUS:
	case E1K_MDIC:
	case E1K_IMS:
	case E1K_RCTL:
	case E1K_TCTL:
	case E1K_TDLEN:
	case E1K_TDH:
	case E1K_TDT:
	case E1K_RDLEN:
	case E1K_RDH:
	case E1K_RDT:
	case E1K_ITR:
	case E1K_RDTR:
	case E1K_RADV:
	case E1K_TIDV:
	case E1K_TADV:
	case E1K_EERD:
		return ec->reg[off / 4];
	case E1K_EECD:
		return __e1k_eecd_read(ec);
	case E1K_ICS:
		return E1K_R(ec, E1K_ICR);
	case E1K_ICR:
		v = E1K_R(ec, E1K_ICR);
		E1K_R(ec, E1K_ICR) = 0;
		__e1k_update_irq(ec);
		return v;
	}
	if (off >= E1K_STATS_START && off < E1K_STATS_END)
		return __e1k_stat_read(ec, off);
	if (e1k_is_plain(off))
		return ec->reg[off / 4];
	atomic64_inc(&ec->stats.regs_unknown);
	return 0;
}

/* What a register write asks of the model once ec->lock is dropped */
enum e1k_action {
	E1K_ACT_NONE,
	E1K_ACT_TX,		/* the transmit unit may have work */
	E1K_ACT_RESET,		/* CTRL.RST: reset the function */
	E1K_ACT_RX,		/* new receive buffers */
};

/* One 4-byte register write; caller holds ec->lock. */
static enum e1k_action __e1k_reg_write(struct e1k_ctx *ec, u32 off, u32 val)
{
	lockdep_assert_held(&ec->lock);

	switch (off) {
	case E1K_CTRL:
		if (val & E1K_CTRL_RST)
			return E1K_ACT_RESET;
		if ((val & E1K_CTRL_PHY_RST) && !(E1K_R(ec, E1K_CTRL) & E1K_CTRL_PHY_RST))
			__e1k_phy_reset(ec);
		E1K_R(ec, E1K_CTRL) = val;
		return E1K_ACT_NONE;
	case E1K_STATUS:
		return E1K_ACT_NONE;	/* read-only */
	case E1K_EECD:
		__e1k_eecd_write(ec, val);
		return E1K_ACT_NONE;
	case E1K_EERD:
		if (val & E1K_EERD_START) {
			u32 addr = (val >> E1K_EERD_ADDR_SHIFT) & 0xff;

			val &= ~E1K_EERD_START;
			val |= E1K_EERD_DONE;
			if (addr < E1K_EEPROM_WORDS)
				val |= (u32)ec->eeprom[addr] << E1K_EERD_DATA_SHIFT;
		}
		E1K_R(ec, E1K_EERD) = val;
		return E1K_ACT_NONE;
	case E1K_MDIC:
		__e1k_mdic_write(ec, val);
		return E1K_ACT_NONE;
	case E1K_ICR:
		E1K_R(ec, E1K_ICR) &= ~val;
		__e1k_update_irq(ec);
		return E1K_ACT_NONE;
	case E1K_ICS:
		__e1k_set_causes(ec, val & E1K_ICR_CAUSES);
		return E1K_ACT_NONE;
	case E1K_IMS:
		E1K_R(ec, E1K_IMS) |= val & E1K_ICR_CAUSES;
		__e1k_update_irq(ec);
		return E1K_ACT_NONE;
	case E1K_IMC:
		E1K_R(ec, E1K_IMS) &= ~val;
		__e1k_update_irq(ec);
		return E1K_ACT_NONE;
	case E1K_ITR:
	case E1K_RDTR:
	case E1K_RADV:
	case E1K_TIDV:
	case E1K_TADV:
		ec->reg[off / 4] = val & 0xffff;
		return E1K_ACT_NONE;
	case E1K_RCTL:
		E1K_R(ec, E1K_RCTL) = val;
		return E1K_ACT_NONE;
	case E1K_TCTL:
		E1K_R(ec, E1K_TCTL) = val;
		return val & E1K_TCTL_EN ? E1K_ACT_TX : E1K_ACT_NONE;
	case E1K_TDLEN:
	case E1K_RDLEN:
		ec->reg[off / 4] = val & 0xfff80;
		return E1K_ACT_NONE;
	case E1K_TDH:
		/* Only meaningful with the unit idle: in-flight work is dropped. */
		E1K_R(ec, E1K_TDH) = val & 0xffff;
		ec->tx_next = val & 0xffff;
		ec->tx_done = 0;
		ec->gen++;
		return E1K_ACT_NONE;
	case E1K_TDT:
		E1K_R(ec, E1K_TDT) = val & 0xffff;
		return E1K_ACT_TX;
	case E1K_RDH:
		E1K_R(ec, E1K_RDH) = val & 0xffff;
		return E1K_ACT_NONE;
	case E1K_RDT:
		E1K_R(ec, E1K_RDT) = val & 0xffff;
		return E1K_ACT_RX;
	}
	if (off >= E1K_STATS_START && off < E1K_STATS_END)
		return E1K_ACT_NONE;	/* read-only counters */
	if (e1k_is_plain(off)) {
		ec->reg[off / 4] = val;
		return E1K_ACT_NONE;
	}
	atomic64_inc(&ec->stats.regs_unknown);
	return E1K_ACT_NONE;
}

/*
 * Reset the function (CTRL.RST, VFIO reset, open, close): the transmit
 * work in flight completes or is dropped, then the register file is back
 * at power-on.  The PHY and the EEPROM state survive a CTRL.RST, as on the
 * hardware; @full resets them too.
 */
static void e1k_function_reset(struct e1k_ctx *ec, bool full)
{
	unsigned long flags;

	e1k_sched_forget(ec);
	e1k_tx_quiesce(ec);
	e1k_rx_flush(ec);
	spin_lock_irqsave(&ec->lock, flags);
	__e1k_regs_reset(ec);
	if (full) {
		e1k_eeprom_build(ec);
		__e1k_phy_reset(ec);
	}
	__e1k_update_irq(ec);
	spin_unlock_irqrestore(&ec->lock, flags);
	hrtimer_cancel(&ec->itr_timer);
}

static int e1k_mmio_read(struct e1k_ctx *ec, u32 off, u32 *val)
{
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	*val = __e1k_reg_read(ec, off);
	spin_unlock_irqrestore(&ec->lock, flags);
	return 0;
}

static void e1k_mmio_write(struct e1k_ctx *ec, u32 off, u32 val)
{
	enum e1k_action act;
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	act = __e1k_reg_write(ec, off, val);
	spin_unlock_irqrestore(&ec->lock, flags);

	if (act == E1K_ACT_TX)
		e1k_tx_kick(ec);
	else if (act == E1K_ACT_RX)
		e1k_rx_kick(ec);
	else if (act == E1K_ACT_RESET)
		e1k_function_reset(ec, false);
}

static int e1k_read(struct ka_ctx *ctx, int bar, u32 off, u64 *val, int size)
{
	struct e1k_ctx *ec = e1k_ctx(ctx);
	u32 lo, reg;

	if (bar == 1) {
		/* I/O BAR: IOADDR selects a register, IODATA accesses it. */
		*val = 0;
		if (size != 4)
			return 0;
		if (off == E1K_IOADDR) {
			*val = READ_ONCE(ec->ioaddr);
		} else if (off == E1K_IODATA) {
			e1k_mmio_read(ec, READ_ONCE(ec->ioaddr), &lo);
			*val = lo;
		}
		return 0;
	}
	if (size != 4 || (off & 3)) {
		*val = ~0ULL;	/* the 82540 decodes aligned dwords only */
		return 0;
	}
	e1k_mmio_read(ec, off, &reg);
	*val = reg;
	return 0;
}

static int e1k_write(struct ka_ctx *ctx, int bar, u32 off, u64 val, int size)
{
	struct e1k_ctx *ec = e1k_ctx(ctx);

	if (bar == 1) {
		if (size != 4)
			return 0;
		if (off == E1K_IOADDR)
			WRITE_ONCE(ec->ioaddr, (u32)val & (E1K_BAR0_SIZE - 4));
		else if (off == E1K_IODATA)
			e1k_mmio_write(ec, READ_ONCE(ec->ioaddr), val);
		return 0;
	}
	if (size != 4 || (off & 3)) {
		atomic64_inc(&ec->stats.regs_unknown);
		return 0;
	}
	e1k_mmio_write(ec, off, val);
	return 0;
}

static void e1k_reset(struct ka_ctx *ctx)
{
	e1k_function_reset(e1k_ctx(ctx), true);
}

/* dma.c's invalidation: no buffer of the context may stay with the NIC. */
static void e1k_quiesce(struct ka_ctx *ctx)
{
	e1k_tx_quiesce(e1k_ctx(ctx));
}

static unsigned int e1000_max_contexts = 64;
module_param(e1000_max_contexts, uint, 0444);
MODULE_PARM_DESC(e1000_max_contexts,
		 "contexts one e1000 NIC offers at once (1..256, default 64)");

static unsigned int e1k_max_contexts(void)
{
	return clamp(e1000_max_contexts, 1U, 256U);
}

/*
 * A MAC for a new context: the NIC's own for the first, else a random
 * locally administered one that no context of the NIC has.
 */
static void e1k_pick_mac(struct e1k_nic *nic, u8 *mac)
{
	lockdep_assert_held(&nic->ctx_lock);

	if (!__e1k_nic_mac_owner(nic, nic->mac)) {
		ether_addr_copy(mac, nic->mac);
		return;
	}
	do {
		eth_random_addr(mac);
	} while (__e1k_nic_mac_owner(nic, mac) || ether_addr_equal(mac, nic->mac));
}

static int e1k_ctx_init(struct ka_ctx *ctx)
{
	struct e1k_nic *nic = e1k_nic(ctx->kd);
	struct e1k_ctx *ec;
	unsigned long flags;

	ec = kzalloc(sizeof(*ec), GFP_KERNEL);
	if (!ec)
		return -ENOMEM;
	ec->reg = vzalloc(E1K_REGS * sizeof(u32));
	ec->tx_wb = kvcalloc(E1K_RING_MAX_DESC, sizeof(*ec->tx_wb), GFP_KERNEL);
	ec->tx_upper = kvcalloc(E1K_RING_MAX_DESC, sizeof(*ec->tx_upper), GFP_KERNEL);
	ec->rx_fifo = kvcalloc(E1K_RX_FIFO, sizeof(*ec->rx_fifo), GFP_KERNEL);
	ec->rx_scratch = kmalloc(E1K_PRX_BUF + VLAN_HLEN, GFP_KERNEL);
	if (!ec->reg || !ec->tx_wb || !ec->tx_upper || !ec->rx_fifo || !ec->rx_scratch)
		goto err;
	ec->ctx = ctx;
	ec->nic = nic;
	spin_lock_init(&ec->lock);
	hrtimer_init(&ec->itr_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	ec->itr_timer.function = e1k_itr_fire;
	e1k_sched_ctx_init(ec);
	ctx->model_state = ec;

	mutex_lock(&nic->sched_lock);
	mutex_lock(&nic->ctx_lock);
	e1k_nic_link_refresh(nic);	/* the register file starts from it */
	e1k_pick_mac(nic, ec->mac);
	spin_lock_irqsave(&ec->lock, flags);
	e1k_eeprom_build(ec);
	__e1k_phy_reset(ec);
	__e1k_regs_reset(ec);
	spin_unlock_irqrestore(&ec->lock, flags);
	list_add_tail(&ec->node, &nic->ctxs);
	e1k_nic_filter_update(nic);
	if (list_is_singular(&nic->ctxs))
		e1k_nic_start(nic);
	mutex_unlock(&nic->ctx_lock);
	mutex_unlock(&nic->sched_lock);
	return 0;

err:
	kfree(ec->rx_scratch);
	kvfree(ec->rx_fifo);
	kvfree(ec->tx_upper);
	kvfree(ec->tx_wb);
	vfree(ec->reg);
	kfree(ec);
	return -ENOMEM;
}

static void e1k_ctx_fini(struct ka_ctx *ctx)
{
	struct e1k_ctx *ec = e1k_ctx(ctx);
	struct e1k_nic *nic = ec->nic;

	e1k_sched_forget(ec);
	mutex_lock(&nic->sched_lock);
	mutex_lock(&nic->ctx_lock);
	list_del(&ec->node);
	e1k_tx_quiesce(ec);
	e1k_nic_filter_update(nic);
	if (list_empty(&nic->ctxs))
		e1k_nic_stop(nic);
	mutex_unlock(&nic->ctx_lock);
	mutex_unlock(&nic->sched_lock);
	hrtimer_cancel(&ec->itr_timer);
	ctx->model_state = NULL;
	kfree(ec->rx_scratch);
	kvfree(ec->rx_fifo);
	kvfree(ec->tx_upper);
	kvfree(ec->tx_wb);
	vfree(ec->reg);
	kfree(ec);
}

/* --- sysfs: /sys/bus/mdev/devices/<uuid>/e1000/ --- */

static struct e1k_ctx *e1k_dev_ctx(struct device *dev)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return ctx ? e1k_ctx(ctx) : NULL;
}

#define E1K_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct e1k_ctx *ec = e1k_dev_ctx(dev);				\
									\
	return sysfs_emit(buf, "%lld\n",				\
			  (long long)atomic64_read(&ec->stats.name));	\
}									\
static DEVICE_ATTR_RO(name)

E1K_STAT_ATTR(tx_packets);
E1K_STAT_ATTR(tx_bytes);
E1K_STAT_ATTR(rx_packets);
E1K_STAT_ATTR(rx_bytes);
E1K_STAT_ATTR(rx_no_buffer);
E1K_STAT_ATTR(rx_filtered);
E1K_STAT_ATTR(rx_faults);
E1K_STAT_ATTR(tx_faults);
E1K_STAT_ATTR(tx_bad_desc);
E1K_STAT_ATTR(tx_bad_ring);
E1K_STAT_ATTR(regs_unknown);
E1K_STAT_ATTR(irqs_raised);
E1K_STAT_ATTR(tx_spoofed);
E1K_STAT_ATTR(tx_switched);
E1K_STAT_ATTR(rx_switched);
E1K_STAT_ATTR(tx_throttled);

static ssize_t sched_wait_us_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct e1k_ctx *ec = e1k_dev_ctx(dev);

	return sysfs_emit(buf, "%lld\n", (long long)div_u64(
			  atomic64_read(&ec->stats.sched_wait_ns), NSEC_PER_USEC));
}
static DEVICE_ATTR_RO(sched_wait_us);

/*
 * A scheduling knob of the context, under nic->sched_lock; trusted also
 * changes the NIC's own filter (nic->ctx_lock).
 */
static int e1k_knob_set(struct e1k_ctx *ec, const char *name, u64 v)
{
	struct e1k_nic *nic = ec->nic;

	mutex_lock(&nic->sched_lock);
	if (!strcmp(name, "weight")) {
		ec->weight = v;
	} else if (!strcmp(name, "rate_bytes")) {
		ec->rate_bytes = v;
		ec->tok_bytes = 0;
	} else if (!strcmp(name, "rate_packets")) {
		ec->rate_packets = v;
		ec->tok_pkts = 0;
	} else if (!strcmp(name, "trusted")) {
		WRITE_ONCE(ec->trusted, v);
		mutex_lock(&nic->ctx_lock);
		e1k_nic_filter_update(nic);
		mutex_unlock(&nic->ctx_lock);
	} else if (!strcmp(name, "allow_spoof")) {
		ec->allow_spoof = v;
	}
	ec->tok_last = ktime_get();
	mutex_unlock(&nic->sched_lock);
	e1k_sched_run(nic);
	return 0;
}

static u64 e1k_knob_get(struct e1k_ctx *ec, const char *name)
{
	struct e1k_nic *nic = ec->nic;
	u64 v = 0;

	mutex_lock(&nic->sched_lock);
	if (!strcmp(name, "weight"))
		v = ec->weight;
	else if (!strcmp(name, "rate_bytes"))
		v = ec->rate_bytes;
	else if (!strcmp(name, "rate_packets"))
		v = ec->rate_packets;
	else if (!strcmp(name, "trusted"))
		v = ec->trusted;
	else if (!strcmp(name, "allow_spoof"))
		v = ec->allow_spoof;
	mutex_unlock(&nic->sched_lock);
	return v;
}

#define E1K_KNOB_ATTR(name, min, max)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n",				\
			  e1k_knob_get(e1k_dev_ctx(dev), #name));	\
}									\
static ssize_t name##_store(struct device *dev,				\
			    struct device_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	u64 v;								\
	int ret = kstrtou64(buf, 0, &v);				\
									\
	if (ret)							\
		return ret;						\
	if (v < (min) || v > (max))					\
		return -ERANGE;						\
	return e1k_knob_set(e1k_dev_ctx(dev), #name, v) ?: count;	\
}									\
static DEVICE_ATTR_RW(name)

E1K_KNOB_ATTR(weight, 1, 100);
E1K_KNOB_ATTR(rate_bytes, 0, 100000000000ULL);
E1K_KNOB_ATTR(rate_packets, 0, 1000000000ULL);
E1K_KNOB_ATTR(trusted, 0, 1);
E1K_KNOB_ATTR(allow_spoof, 0, 1);

static ssize_t mac_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	struct e1k_ctx *ec = e1k_dev_ctx(dev);
	unsigned long flags;
	u8 mac[ETH_ALEN];

	spin_lock_irqsave(&ec->lock, flags);
	ether_addr_copy(mac, ec->mac);
	spin_unlock_irqrestore(&ec->lock, flags);
	return sysfs_emit(buf, "%pM\n", mac);
}

/* A new MAC, only while the VMM does not hold the context. */
static ssize_t mac_store(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t count)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);
	struct e1k_ctx *ec = e1k_ctx(ctx);
	struct e1k_nic *nic = ec->nic;
	struct e1k_ctx *owner;
	unsigned long flags;
	u8 mac[ETH_ALEN];
	char str[18];
	int ret;

	if (count < 17 || count > 18)
		return -EINVAL;
	memcpy(str, buf, 17);
	str[17] = 0;
	if (!mac_pton(str, mac) || !is_valid_ether_addr(mac))
		return -EINVAL;
	mutex_lock(&ctx->lock);
	mutex_lock(&nic->sched_lock);
	mutex_lock(&nic->ctx_lock);
	owner = __e1k_nic_mac_owner(nic, mac);
	if (ctx->open) {
		ret = -EBUSY;
	} else if (owner && owner != ec) {
		ret = -EADDRINUSE;	/* each context of a NIC has its own */
	} else {
		spin_lock_irqsave(&ec->lock, flags);
		ether_addr_copy(ec->mac, mac);
		e1k_eeprom_build(ec);
		__e1k_regs_reset(ec);
		spin_unlock_irqrestore(&ec->lock, flags);
		e1k_nic_filter_update(nic);
		ret = count;
	}
	mutex_unlock(&nic->ctx_lock);
	mutex_unlock(&nic->sched_lock);
	mutex_unlock(&ctx->lock);
	return ret;
}
static DEVICE_ATTR_RW(mac);

static ssize_t link_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct e1k_ctx *ec = e1k_dev_ctx(dev);

	return sysfs_emit(buf, "%s\n", str_up_down(READ_ONCE(ec->nic->link_up)));
}
static DEVICE_ATTR_RO(link);

static ssize_t regs_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct e1k_ctx *ec = e1k_dev_ctx(dev);
	unsigned long flags;
	ssize_t n;

	spin_lock_irqsave(&ec->lock, flags);
	n = sysfs_emit(buf,
		       "ctrl=%08x status=%08x rctl=%08x tctl=%08x tdh=%x tdt=%x tdlen=%x rdh=%x rdt=%x rdlen=%x icr=%08x ims=%08x\n",
		       E1K_R(ec, E1K_CTRL), E1K_R(ec, E1K_STATUS),
		       E1K_R(ec, E1K_RCTL), E1K_R(ec, E1K_TCTL),
		       E1K_R(ec, E1K_TDH), E1K_R(ec, E1K_TDT),
		       E1K_R(ec, E1K_TDLEN), E1K_R(ec, E1K_RDH),
		       E1K_R(ec, E1K_RDT), E1K_R(ec, E1K_RDLEN),
		       E1K_R(ec, E1K_ICR), E1K_R(ec, E1K_IMS));
	spin_unlock_irqrestore(&ec->lock, flags);
	return n;
}
static DEVICE_ATTR_RO(regs);

static struct attribute *e1k_ctx_attrs[] = {
	&dev_attr_mac.attr,
	&dev_attr_link.attr,
	&dev_attr_regs.attr,
	&dev_attr_tx_packets.attr,
	&dev_attr_tx_bytes.attr,
	&dev_attr_rx_packets.attr,
	&dev_attr_rx_bytes.attr,
	&dev_attr_rx_no_buffer.attr,
	&dev_attr_rx_filtered.attr,
	&dev_attr_rx_faults.attr,
	&dev_attr_tx_faults.attr,
	&dev_attr_tx_bad_desc.attr,
	&dev_attr_tx_bad_ring.attr,
	&dev_attr_regs_unknown.attr,
	&dev_attr_irqs_raised.attr,
	&dev_attr_tx_spoofed.attr,
	&dev_attr_tx_switched.attr,
	&dev_attr_rx_switched.attr,
	&dev_attr_tx_throttled.attr,
	&dev_attr_sched_wait_us.attr,
	&dev_attr_weight.attr,
	&dev_attr_rate_bytes.attr,
	&dev_attr_rate_packets.attr,
	&dev_attr_trusted.attr,
	&dev_attr_allow_spoof.attr,
	NULL,
};

static umode_t e1k_ctx_attr_visible(struct kobject *kobj, struct attribute *a,
				    int n)
{
	struct ka_ctx *ctx = dev_get_drvdata(kobj_to_dev(kobj));

	return ctx && ctx->kd->model == &ka_model_e1000 ? a->mode : 0;
}

const struct attribute_group ka_e1000_ctx_group = {
	.name		= "e1000",
	.attrs		= e1k_ctx_attrs,
	.is_visible	= e1k_ctx_attr_visible,
};

static const struct ka_trap e1k_traps[] = {
	{ .bar = 0, .offset = 0, .size = E1K_BAR0_SIZE },
	{ .bar = 1, .offset = 0, .size = E1K_BAR1_SIZE },
};

static const struct ka_vbar e1k_vbars[PCI_STD_NUM_BARS] = {
	[0] = { .size = E1K_BAR0_SIZE },
	[1] = { .size = E1K_BAR1_SIZE, .io = true },
};

const struct ka_model ka_model_e1000 = {
	.name		= "e1000",
	.vendor		= E1K_VENDOR,
	.device		= E1K_DEVICE_82540EM,
	.dma_bits	= 32,
	.bar_mask	= BIT(0),
	.vbars		= e1k_vbars,
	.no_msi		= true,
	.traps		= e1k_traps,
	.nr_traps	= ARRAY_SIZE(e1k_traps),
	.probe		= e1k_nic_probe,
	.remove		= e1k_nic_remove,
	.ctx_init	= e1k_ctx_init,
	.ctx_fini	= e1k_ctx_fini,
	.reset		= e1k_reset,
	.quiesce	= e1k_quiesce,
	.read		= e1k_read,
	.write		= e1k_write,
	.irq		= e1k_nic_irq,
	.max_contexts	= e1k_max_contexts,
};
