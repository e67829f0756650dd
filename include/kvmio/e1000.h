/* SPDX-License-Identifier: GPL-2.0 */
/*
 * e1000.h - the parts of the Intel 82540EM (8086:100e) programming interface
 * that QEMU 7.2's hw/net/e1000.c implements and Linux's e1000 driver uses:
 * register offsets, bits and descriptor layouts, as the 8254x software
 * developer's manual defines them.  Plain constants and fixed-layout
 * structures (little-endian on the wire), so that the kvm_assign model and
 * the userspace tests share one copy.  Kernel code includes it with the
 * kernel's types; userspace with <stdint.h>/<linux/types.h> first.
 */
#ifndef _KVMIO_E1000_H
#define _KVMIO_E1000_H

#include <linux/types.h>

#define E1K_VENDOR		0x8086
#define E1K_DEVICE_82540EM	0x100e

#define E1K_BAR0_SIZE		0x20000	/* 128 KiB memory BAR */
#define E1K_BAR1_SIZE		0x40	/* I/O BAR: IOADDR, IODATA */
#define E1K_IOADDR		0x00
#define E1K_IODATA		0x04

/* Registers (byte offsets in BAR0) */
#define E1K_CTRL		0x00000
#define E1K_STATUS		0x00008
#define E1K_EECD		0x00010
#define E1K_EERD		0x00014
#define E1K_CTRL_EXT		0x00018
#define E1K_MDIC		0x00020
#define E1K_FCAL		0x00028
#define E1K_FCAH		0x0002c
#define E1K_FCT			0x00030
#define E1K_VET			0x00038
#define E1K_ICR			0x000c0
#define E1K_ITR			0x000c4
#define E1K_ICS			0x000c8
#define E1K_IMS			0x000d0
#define E1K_IMC			0x000d8
#define E1K_RCTL		0x00100
#define E1K_FCTTV		0x00170
#define E1K_TXCW		0x00178
#define E1K_RXCW		0x00180
#define E1K_TCTL		0x00400
#define E1K_TIPG		0x00410
#define E1K_AIT			0x00458
#define E1K_LEDCTL		0x00e00
#define E1K_PBA			0x01000
#define E1K_FCRTL		0x02160
#define E1K_FCRTH		0x02168
#define E1K_RDBAL		0x02800
#define E1K_RDBAH		0x02804
#define E1K_RDLEN		0x02808
#define E1K_RDH			0x02810
#define E1K_RDT			0x02818
#define E1K_RDTR		0x02820
#define E1K_RXDCTL		0x02828
#define E1K_RADV		0x0282c
#define E1K_TXDMAC		0x03000
#define E1K_TDBAL		0x03800
#define E1K_TDBAH		0x03804
#define E1K_TDLEN		0x03808
#define E1K_TDH			0x03810
#define E1K_TDT			0x03818
#define E1K_TIDV		0x03820
#define E1K_TXDCTL		0x03828
#define E1K_TADV		0x0382c
#define E1K_TSPMT		0x03830
#define E1K_STATS_START		0x04000	/* read-to-clear statistics ... */
#define E1K_CRCERRS		0x04000
#define E1K_MPC			0x04010
#define E1K_GPRC		0x04074
#define E1K_BPRC		0x04078
#define E1K_MPRC		0x0407c
#define E1K_GPTC		0x04080
#define E1K_GORCL		0x04088
#define E1K_GORCH		0x0408c
#define E1K_GOTCL		0x04090
#define E1K_GOTCH		0x04094
#define E1K_RNBC		0x040a0
#define E1K_TORL		0x040c0
#define E1K_TORH		0x040c4
#define E1K_TOTL		0x040c8
#define E1K_TOTH		0x040cc
#define E1K_TPR			0x040d0
#define E1K_TPT			0x040d4
#define E1K_MPTC		0x040f0
#define E1K_BPTC		0x040f4
#define E1K_TSCTC		0x040f8
#define E1K_STATS_END		0x04100	/* ... up to here */
#define E1K_RXCSUM		0x05000
#define E1K_MTA			0x05200	/* 128 x 32 bits */
#define E1K_MTA_WORDS		128
#define E1K_RA			0x05400	/* 16 x (RAL, RAH) */
#define E1K_RAR_ENTRIES		16
#define E1K_VFTA		0x05600	/* 128 x 32 bits */
#define E1K_VFTA_WORDS		128
#define E1K_WUC			0x05800
#define E1K_WUFC		0x05808
#define E1K_MANC		0x05820

/* CTRL */
#define E1K_CTRL_FD		0x00000001
#define E1K_CTRL_LRST		0x00000008
#define E1K_CTRL_ASDE		0x00000020
#define E1K_CTRL_SLU		0x00000040
#define E1K_CTRL_SPD_1000	0x00000200
#define E1K_CTRL_FRCSPD		0x00000800
#define E1K_CTRL_FRCDPX		0x00001000
#define E1K_CTRL_RST		0x04000000
#define E1K_CTRL_VME		0x40000000
#define E1K_CTRL_PHY_RST	0x80000000

/* STATUS */
#define E1K_STATUS_FD		0x00000001
#define E1K_STATUS_LU		0x00000002
#define E1K_STATUS_TXOFF	0x00000010
#define E1K_STATUS_SPEED_1000	0x00000080
#define E1K_STATUS_ASDV_1000	0x00000200
#define E1K_STATUS_PCIX_MODE	0x00002000
#define E1K_STATUS_GIO_M_ENA	0x00080000

/* EECD: Microwire EEPROM bit-banging */
#define E1K_EECD_SK		0x00000001
#define E1K_EECD_CS		0x00000002
#define E1K_EECD_DI		0x00000004
#define E1K_EECD_DO		0x00000008
#define E1K_EECD_FWE_MASK	0x00000030
#define E1K_EECD_REQ		0x00000040
#define E1K_EECD_GNT		0x00000080
#define E1K_EECD_PRES		0x00000100
#define E1K_EECD_SIZE		0x00000200	/* 0: 64 words */
#define E1K_EEPROM_WORDS	64
#define E1K_EEPROM_SUM		0xbaba		/* words 0..63 sum to this */
#define E1K_EEPROM_READ_OPCODE	0x6		/* 3 bits: start bit + 10b */
#define E1K_EEPROM_ADDR_BITS	6

/* EERD (unused by e1000 on the 82540, offered as QEMU does) */
#define E1K_EERD_START		0x00000001
#define E1K_EERD_DONE		0x00000010
#define E1K_EERD_ADDR_SHIFT	8
#define E1K_EERD_DATA_SHIFT	16

/* MDIC */
#define E1K_MDIC_DATA_MASK	0x0000ffff
#define E1K_MDIC_REG_SHIFT	16
#define E1K_MDIC_REG_MASK	0x001f0000
#define E1K_MDIC_PHY_SHIFT	21
#define E1K_MDIC_PHY_MASK	0x03e00000
#define E1K_MDIC_OP_WRITE	0x04000000
#define E1K_MDIC_OP_READ	0x08000000
#define E1K_MDIC_READY		0x10000000
#define E1K_MDIC_INT_EN		0x20000000
#define E1K_MDIC_ERROR		0x40000000
#define E1K_PHY_ADDR		1

/* PHY registers (M88E1011) */
#define E1K_PHY_CTRL		0x00	/* BMCR */
#define E1K_PHY_STATUS		0x01	/* BMSR */
#define E1K_PHY_ID1		0x02
#define E1K_PHY_ID2		0x03
#define E1K_PHY_AUTONEG_ADV	0x04
#define E1K_PHY_LP_ABILITY	0x05
#define E1K_PHY_AUTONEG_EXP	0x06
#define E1K_PHY_NEXT_PAGE_TX	0x07
#define E1K_PHY_LP_NEXT_PAGE	0x08
#define E1K_PHY_1000T_CTRL	0x09
#define E1K_PHY_1000T_STATUS	0x0a
#define E1K_PHY_EXT_STATUS	0x0f
#define E1K_M88_PHY_SPEC_CTRL	0x10
#define E1K_M88_PHY_SPEC_STATUS	0x11
#define E1K_M88_EXT_PHY_SPEC_CTRL 0x14
#define E1K_M88_RX_ERR_CNTR	0x15
#define E1K_PHY_REGS		0x20
#define E1K_M88E1011_ID1	0x0141
#define E1K_M88E1011_ID2	0x0c20

/* BMCR / BMSR bits */
#define E1K_MII_CR_RESTART_AUTONEG 0x0200
#define E1K_MII_CR_AUTONEG_EN	0x1000
#define E1K_MII_CR_RESET	0x8000
#define E1K_MII_SR_LINK_STATUS	0x0004
#define E1K_MII_SR_AUTONEG_COMPLETE 0x0020

/* Interrupt causes (ICR, ICS, IMS, IMC) */
#define E1K_ICR_TXDW		0x00000001
#define E1K_ICR_TXQE		0x00000002
#define E1K_ICR_LSC		0x00000004
#define E1K_ICR_RXSEQ		0x00000008
#define E1K_ICR_RXDMT0		0x00000010
#define E1K_ICR_RXO		0x00000040
#define E1K_ICR_RXT0		0x00000080
#define E1K_ICR_MDAC		0x00000200
#define E1K_ICR_TXD_LOW		0x00008000
#define E1K_ICR_SRPD		0x00010000
#define E1K_ICR_CAUSES		0x0001ffff	/* causes a write may set */
#define E1K_ICR_INT_ASSERTED	0x80000000

/* RCTL */
#define E1K_RCTL_EN		0x00000002
#define E1K_RCTL_SBP		0x00000004
#define E1K_RCTL_UPE		0x00000008
#define E1K_RCTL_MPE		0x00000010
#define E1K_RCTL_LPE		0x00000020
#define E1K_RCTL_LBM_MASK	0x000000c0
#define E1K_RCTL_RDMTS_MASK	0x00000300
#define E1K_RCTL_RDMTS_SHIFT	8
#define E1K_RCTL_MO_MASK	0x00003000
#define E1K_RCTL_MO_SHIFT	12
#define E1K_RCTL_BAM		0x00008000
#define E1K_RCTL_SZ_MASK	0x00030000
#define E1K_RCTL_SZ_SHIFT	16
#define E1K_RCTL_VFE		0x00040000
#define E1K_RCTL_BSEX		0x02000000
#define E1K_RCTL_SECRC		0x04000000

/* TCTL */
#define E1K_TCTL_EN		0x00000002
#define E1K_TCTL_PSP		0x00000008
#define E1K_TCTL_CT		0x00000ff0
#define E1K_TCTL_COLD		0x003ff000
#define E1K_TCTL_RTLC		0x01000000

/* RXCSUM */
#define E1K_RXCSUM_IPOFL	0x00000100
#define E1K_RXCSUM_TUOFL	0x00000200

/* RAH */
#define E1K_RAH_AV		0x80000000

/* MANC */
#define E1K_MANC_ARP_EN		0x00002000

/* Descriptor rings: TDLEN/RDLEN are multiples of 128 bytes (8 descriptors) */
#define E1K_DESC_SIZE		16
#define E1K_RING_ALIGN		128
#define E1K_RING_MAX_DESC	4096	/* what the model accepts (64 KiB) */

/* Transmit descriptors (legacy, context, data): the lower/upper dwords */
#define E1K_TXD_CMD_EOP		0x01000000
#define E1K_TXD_CMD_IFCS	0x02000000
#define E1K_TXD_CMD_IC		0x04000000	/* legacy: insert checksum */
#define E1K_TXD_CMD_TSE		0x04000000	/* context/data: TCP segmentation */
#define E1K_TXD_CMD_RS		0x08000000
#define E1K_TXD_CMD_RPS		0x10000000
#define E1K_TXD_CMD_DEXT	0x20000000
#define E1K_TXD_CMD_VLE		0x40000000
#define E1K_TXD_CMD_IDE		0x80000000
#define E1K_TXD_CMD_TCP		0x01000000	/* context: TCP (else UDP) */
#define E1K_TXD_CMD_IP		0x02000000	/* context: IPv4 (else IPv6) */
#define E1K_TXD_DTYP_MASK	0x00f00000
#define E1K_TXD_DTYP_C		0x00000000	/* context descriptor */
#define E1K_TXD_DTYP_D		0x00100000	/* data descriptor */
#define E1K_TXD_LEN_MASK	0x000fffff	/* data/context: 20 bits */
#define E1K_TXD_LEGACY_LEN_MASK	0x0000ffff
#define E1K_TXD_STAT_DD		0x00000001
#define E1K_TXD_POPTS_IXSM	0x01
#define E1K_TXD_POPTS_TXSM	0x02
#define E1K_TX_BUF_MAX		4096	/* longest buffer the driver uses */
#define E1K_TX_PKT_MAX		0x10000	/* longest packet (TSO payload) */

struct e1k_tx_desc {
	__le64	addr;
	__le32	lower;	/* legacy: length | cso << 16 | cmd << 24 */
	__le32	upper;	/* legacy: status | css << 8 | special << 16 */
};

struct e1k_tx_ctx_desc {
	__le32	ip_fields;	/* ipcss | ipcso << 8 | ipcse << 16 */
	__le32	tcp_fields;	/* tucss | tucso << 8 | tucse << 16 */
	__le32	cmd_and_length;	/* paylen | dtyp | tucmd */
	__le32	tcp_seg_setup;	/* status | hdr_len << 8 | mss << 16 */
};

/* Receive descriptor */
#define E1K_RXD_STAT_DD		0x01
#define E1K_RXD_STAT_EOP	0x02
#define E1K_RXD_STAT_IXSM	0x04
#define E1K_RXD_STAT_VP		0x08
#define E1K_RXD_STAT_TCPCS	0x20
#define E1K_RXD_STAT_IPCS	0x40
#define E1K_RXD_ERR_RXE		0x80

struct e1k_rx_desc {
	__le64	addr;
	__le16	length;
	__le16	csum;
	__u8	status;
	__u8	errors;
	__le16	special;
};

#define E1K_ETH_FCS		4
#define E1K_ETH_MIN_FRAME	60	/* without FCS: shorter frames padded */
#define E1K_ETH_MAX_FRAME	1518	/* with FCS, without LPE */
#define E1K_RX_FRAME_MAX	16384	/* the largest a physical buffer takes */

#endif /* _KVMIO_E1000_H */
