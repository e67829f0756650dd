/* SPDX-License-Identifier: GPL-2.0 */
/*
 * edu.h - register map of QEMU's educational PCI device "edu" (1234:11e8),
 * as QEMU 7.2's hw/misc/edu.c implements it.  Plain constants, so that the
 * kvm_assign model, the test-only guest driver and the userspace tests
 * share one copy.
 */
#ifndef _KVMIO_EDU_H
#define _KVMIO_EDU_H

/* BAR 0 registers (byte offsets) */
#define EDU_ID			0x00	/* 0x010000ed: version 1.0 */
#define EDU_LIVENESS		0x04	/* reads back the bitwise inverse */
#define EDU_FACTORIAL		0x08
#define EDU_STATUS		0x20
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_RAISE		0x60
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_REGS_END		0x100	/* first offset past the registers */

/* EDU_DMA_CMD bits */
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_RAM		0x2	/* device buffer -> RAM */
#define EDU_DMA_IRQ		0x4	/* raise EDU_IRQ_DMA when done */

/* EDU_IRQ_STATUS bit of a finished DMA */
#define EDU_IRQ_DMA		0x100

/* The device-side DMA buffer; a transfer must end strictly inside it. */
#define EDU_BUF_START		0x40000
#define EDU_BUF_SIZE		0x1000

/* Width of the DMA addresses edu uses (QEMU's dma_mask property) */
#define EDU_DMA_BITS		28

#endif /* _KVMIO_EDU_H */
