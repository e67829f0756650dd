// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: device model for QEMU's "edu" device (1234:11e8).
 *
 * BAR0 registers (all 32-bit below 0x80; 32- or 64-bit from 0x80):
 *   0x00 identification     0x04 liveness (reads ~written)
 *   0x08 factorial          0x20 status (bit 0 computing, bit 7 IRQ when done)
 *   0x24 interrupt status   0x60 raise interrupt   0x64 acknowledge interrupt
 *   0x80 DMA source         0x88 DMA destination   0x90 DMA count
 *   0x98 DMA command (bit 0 start, bit 1 direction: 0 RAM->device,
 *        1 device->RAM, bit 2 interrupt on completion)
 *
 * Identification, liveness, factorial, status and raise go to the device.
 * The DMA registers are virtual: the guest's addresses never reach the
 * device.  When the guest starts a transfer, the model checks it (bus
 * mastering enabled, a non-empty range strictly inside the device's 4 KiB
 * buffer at 0x40000: QEMU 7.2 aborts the whole VM otherwise), translates the
 * guest range (dma.c: refused unless every byte is mapped with the needed
 * permission; bounced when the device cannot reach it: edu's mask is 28
 * bits), and only then programs the device with the bus address.  A refused
 * transfer moves nothing, completes at once and is counted.
 *
 * The interrupt status the guest sees is virtual too: the physical
 * interrupt handler acknowledges the device, keeps DMA completions for the
 * model (the translation is released first) and forwards the rest (the
 * factorial interrupt, raised bits) to the owning context.
 *
 * Only the device's own completion ends a transfer.  The device's DMA-done
 * status bit never comes from the guest: a raise of that bit is made in
 * the guest's view only, never on the device.  And the handler takes a
 * DMA-done bit as the end of the transfer only while one is running and
 * the device's command register says its engine stopped; the completion
 * work checks the same under the lock before it releases the translation
 * (and a bounce buffer) the device was given.
 *
 * Transfer states (ka_edu.state, under ka_edu.lock):
 *
 *   IDLE --start--> STARTING --programmed--> RUNNING --device done--> DONE
 *     ^                 | refused                          done_work |
 *     +-----------------+---------------------------------------------+
 *
 * STARTING: checks and translation (process context, the context's VFIO
 * lock held); RUNNING is set under the lock together with the write that
 * starts the engine, so the handler never sees RUNNING before the device
 * does; DONE: done_work releases the translation, then raises the guest's
 * DMA-done bit if it asked for it.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "kvm_assign_priv.h"

#include "kvmio/edu.h"

enum ka_edu_state {
	KA_EDU_IDLE,		/* the engine is free */
	KA_EDU_STARTING,	/* a start is being checked and translated */
	KA_EDU_RUNNING,		/* the device runs it with @xfer's address */
	KA_EDU_DONE,		/* the device stopped; done_work releases @xfer */
};

/**
 * struct ka_edu - per-device state of the edu model
 * @kd:		the device
 * @lock:	protects every field below and each context's ka_edu_ctx;
 *		taken in hard-irq context, nests outside kd->lock
 * @state:	where the one transfer of the device is (see the top)
 * @dma_ctx:	the context it runs for (not IDLE)
 * @xfer:	its translation (RUNNING, DONE; STARTING once translated)
 * @done_work:	releases the translation when the device reports completion
 * @idle:	woken when a transfer ends
 */
struct ka_edu {
	struct ka_dev		*kd;
	spinlock_t		lock;		/* the fields below, each ka_edu_ctx */
	enum ka_edu_state	state;
	struct ka_ctx		*dma_ctx;
	struct ka_xfer		xfer;
	struct work_struct	done_work;
	wait_queue_head_t	idle;
};

/* The guest's view of the DMA engine and interrupt status. */
struct ka_edu_ctx {
	u64	dma_src;
	u64	dma_dst;
	u64	dma_cnt;
	u64	dma_cmd;
	u32	irq_status;
};

static const struct ka_trap ka_edu_traps[] = {
	{ .bar = 0, .offset = 0, .size = EDU_REGS_END },
};

static inline struct ka_edu *ka_edu(struct ka_dev *kd)
{
	return kd->model_data;
}

static inline struct ka_edu_ctx *ka_edu_ctx(struct ka_ctx *ctx)
{
	return ctx->model_state;
}

/* Raise interrupt bits in a context's view; caller holds edu->lock. */
static void __ka_edu_raise(struct ka_edu *edu, struct ka_ctx *ctx, u32 bits)
{
	lockdep_assert_held(&edu->lock);

	ka_edu_ctx(ctx)->irq_status |= bits;
	ka_ctx_interrupt(ctx);
}

/* Has the device's engine stopped?  Caller holds edu->lock. */
static bool __ka_edu_engine_stopped(struct ka_edu *edu)
{
	lockdep_assert_held(&edu->lock);

	return !(ioread32(edu->kd->bar[0] + EDU_DMA_CMD) & EDU_DMA_RUN);
}

/* End the transfer in the guest's view; caller holds edu->lock. */
static void __ka_edu_finish(struct ka_edu *edu, struct ka_ctx *ctx)
{
	struct ka_edu_ctx *ec = ka_edu_ctx(ctx);

	lockdep_assert_held(&edu->lock);

	ec->dma_cmd &= ~EDU_DMA_RUN;
	if (ec->dma_cmd & EDU_DMA_IRQ)
		__ka_edu_raise(edu, ctx, EDU_IRQ_DMA);
	edu->state = KA_EDU_IDLE;
	edu->dma_ctx = NULL;
}

static void ka_edu_done_work(struct work_struct *work)
{
	struct ka_edu *edu = container_of(work, struct ka_edu, done_work);
	unsigned long flags;
	struct ka_ctx *ctx;

	spin_lock_irqsave(&edu->lock, flags);
	if (edu->state != KA_EDU_DONE) {
		spin_unlock_irqrestore(&edu->lock, flags);
		return;
	}
	if (WARN_ON_ONCE(!__ka_edu_engine_stopped(edu))) {
		/* Not the device's completion after all: keep it held. */
		edu->state = KA_EDU_RUNNING;
		spin_unlock_irqrestore(&edu->lock, flags);
		return;
	}
	ctx = edu->dma_ctx;
	spin_unlock_irqrestore(&edu->lock, flags);

	/*
	 * DONE: nothing else touches the transfer until it is IDLE.  Copies
	 * a bounced transfer back and releases, before the guest knows.
	 */
	ka_dma_unmap(ctx, &edu->xfer);
	atomic64_dec(&ctx->stats.dma_in_flight);

	spin_lock_irqsave(&edu->lock, flags);
	__ka_edu_finish(edu, ctx);
	spin_unlock_irqrestore(&edu->lock, flags);
	wake_up_all(&edu->idle);
}

static irqreturn_t ka_edu_irq(struct ka_dev *kd)
{
	struct ka_edu *edu = ka_edu(kd);
	void __iomem *regs = kd->bar[0];
	u32 status;

	status = ioread32(regs + EDU_IRQ_STATUS);
	if (!status || status == ~0U)
		return IRQ_NONE;
	iowrite32(status, regs + EDU_IRQ_ACK);

	spin_lock(&edu->lock);
	/*
	 * The device's DMA-done bit is the model's (a guest cannot raise it
	 * on the device): the end of the running transfer if the engine has
	 * stopped, else nothing.  The guest's bit is raised by done_work.
	 */
	if (status & EDU_IRQ_DMA) {
		status &= ~EDU_IRQ_DMA;
		if (edu->state == KA_EDU_RUNNING && __ka_edu_engine_stopped(edu)) {
			edu->state = KA_EDU_DONE;
			schedule_work(&edu->done_work);
		}
	}
	/*
	 * The owner is used under kd->lock: ka_close_device() clears it there
	 * before the context can go away.
	 */
	spin_lock(&kd->lock);
	if (status && kd->owner)
		__ka_edu_raise(edu, kd->owner, status);
	spin_unlock(&kd->lock);
	spin_unlock(&edu->lock);
	return IRQ_HANDLED;
}

/* ka_edu_dma_start() with ctx->dma_lock held. */
static void __ka_edu_dma_start(struct ka_ctx *ctx, u64 cmd)
{
	struct ka_edu *edu = ka_edu(ctx->kd);
	struct ka_edu_ctx *ec = ka_edu_ctx(ctx);
	void __iomem *regs = ctx->kd->bar[0];
	bool to_ram = cmd & EDU_DMA_TO_RAM;
	u64 src, dst, cnt, dev_addr, ram, dev_end;
	unsigned long flags;
	int ret;

	lockdep_assert_held(&ctx->dma_lock);

	spin_lock_irqsave(&edu->lock, flags);
	if ((ec->dma_cmd & EDU_DMA_RUN) || edu->state != KA_EDU_IDLE) {
		/* edu ignores a start while its engine runs. */
		spin_unlock_irqrestore(&edu->lock, flags);
		return;
	}
	src = ec->dma_src;
	dst = ec->dma_dst;
	cnt = ec->dma_cnt;
	ec->dma_cmd = cmd;
	edu->state = KA_EDU_STARTING;
	edu->dma_ctx = ctx;
	spin_unlock_irqrestore(&edu->lock, flags);

	dev_addr = to_ram ? src : dst;
	ram = to_ram ? dst : src;

	ret = -EPERM;
	if (!ka_config_bus_master(ctx))
		goto refuse;
	/* Device side strictly inside the buffer: QEMU 7.2 aborts otherwise. */
	ret = -EINVAL;
	if (!cnt || cnt >= EDU_BUF_SIZE || dev_addr < EDU_BUF_START ||
	    check_add_overflow(dev_addr, cnt, &dev_end) ||
	    dev_end >= EDU_BUF_START + EDU_BUF_SIZE)
		goto refuse;

	ret = __ka_dma_map(ctx, ram, cnt,
			 to_ram ? DMA_FROM_DEVICE : DMA_TO_DEVICE, &edu->xfer);
	if (ret)
		goto refuse;
	/* edu clamps addresses to its mask; a bus address beyond it is a bug. */
	if (WARN_ON_ONCE(edu->xfer.xlate.dma_addr + cnt >
			 DMA_BIT_MASK(ctx->kd->model->dma_bits) + 1)) {
		ka_dma_unmap(ctx, &edu->xfer);
		ret = -EIO;
		goto refuse;
	}

	/*
	 * Every value fits 32 bits (bus addresses are below the 28-bit mask)
	 * and a 32-bit write sets the whole edu register.
	 */
	atomic64_inc(&ctx->stats.dma_started);
	atomic64_inc(&ctx->stats.dma_in_flight);
	iowrite32(to_ram ? dev_addr : edu->xfer.xlate.dma_addr, regs + EDU_DMA_SRC);
	iowrite32(to_ram ? edu->xfer.xlate.dma_addr : dev_addr, regs + EDU_DMA_DST);
	iowrite32(cnt, regs + EDU_DMA_CNT);
	/*
	 * Always ask for the completion interrupt: it releases the pages.
	 * RUNNING and the start together, under the lock the handler takes.
	 */
	spin_lock_irqsave(&edu->lock, flags);
	edu->state = KA_EDU_RUNNING;
	iowrite32(EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0) | EDU_DMA_IRQ,
		  regs + EDU_DMA_CMD);
	spin_unlock_irqrestore(&edu->lock, flags);
	return;

refuse:
	atomic64_inc(&ctx->stats.dma_refused);
	dev_info_ratelimited(&ctx->mdev->dev,
			     "DMA refused (%d): %s iova %#llx count %#llx device %#llx\n",
			     ret, to_ram ? "to RAM" : "from RAM", ram, cnt, dev_addr);
	spin_lock_irqsave(&edu->lock, flags);
	/* Nothing moved; the engine completes at once, as a master abort. */
	__ka_edu_finish(edu, ctx);
	spin_unlock_irqrestore(&edu->lock, flags);
	wake_up_all(&edu->idle);
}

/*
 * Start a transfer the guest asked for.  Caller holds ctx->lock; the
 * virtual registers are read under edu->lock, and ctx->dma_lock is held
 * from the claim of the engine to the start of the device (dma.c).
 */
static void ka_edu_dma_start(struct ka_ctx *ctx, u64 cmd)
{
	mutex_lock(&ctx->dma_lock);
	__ka_edu_dma_start(ctx, cmd);
	mutex_unlock(&ctx->dma_lock);
}

static int ka_edu_read(struct ka_ctx *ctx, int bar, u32 off, u64 *val, int size)
{
	struct ka_edu *edu = ka_edu(ctx->kd);
	struct ka_edu_ctx *ec = ka_edu_ctx(ctx);
	void __iomem *regs = ctx->kd->bar[0];
	unsigned long flags;
	u64 v = ~0ULL;

	if ((off < EDU_DMA_SRC && size != 4) ||
	    (off >= EDU_DMA_SRC && size != 4 && size != 8)) {
		*val = v;	/* edu answers such reads with all ones */
		return 0;
	}

	switch (off) {
	case EDU_ID:
	case EDU_LIVENESS:
	case EDU_FACTORIAL:
	case EDU_STATUS:
		v = ioread32(regs + off);
		break;
	case EDU_IRQ_STATUS:
		spin_lock_irqsave(&edu->lock, flags);
		v = ec->irq_status;
		spin_unlock_irqrestore(&edu->lock, flags);
		break;
	case EDU_DMA_SRC:
	case EDU_DMA_DST:
	case EDU_DMA_CNT:
	case EDU_DMA_CMD:
		spin_lock_irqsave(&edu->lock, flags);
		v = off == EDU_DMA_SRC ? ec->dma_src :
		    off == EDU_DMA_DST ? ec->dma_dst :
		    off == EDU_DMA_CNT ? ec->dma_cnt : ec->dma_cmd;
		spin_unlock_irqrestore(&edu->lock, flags);
		break;
	}
	*val = size == 4 ? (u32)v : v;
	return 0;
}

static int ka_edu_write(struct ka_ctx *ctx, int bar, u32 off, u64 val, int size)
{
	struct ka_edu *edu = ka_edu(ctx->kd);
	struct ka_edu_ctx *ec = ka_edu_ctx(ctx);
	void __iomem *regs = ctx->kd->bar[0];
	unsigned long flags;
	u64 *reg;

	if ((off < EDU_DMA_SRC && size != 4) ||
	    (off >= EDU_DMA_SRC && size != 4 && size != 8))
		return 0;	/* edu ignores such writes */

	switch (off) {
	case EDU_LIVENESS:
	case EDU_FACTORIAL:
		iowrite32(val, regs + off);
		break;
	case EDU_STATUS:
		/* Only the "interrupt when the factorial is done" bit. */
		iowrite32(val & 0x80, regs + off);
		break;
	case EDU_IRQ_RAISE:
		/*
		 * Through the device, the interrupt coming back via
		 * ka_edu_irq(); but the DMA-done bit, which ends a transfer
		 * on the device, only in the guest's view.
		 */
		if (val & EDU_IRQ_DMA) {
			spin_lock_irqsave(&edu->lock, flags);
			__ka_edu_raise(edu, ctx, EDU_IRQ_DMA);
			spin_unlock_irqrestore(&edu->lock, flags);
		}
		if ((u32)val & ~EDU_IRQ_DMA)
			iowrite32((u32)val & ~EDU_IRQ_DMA, regs + off);
		break;
	case EDU_IRQ_ACK:
		spin_lock_irqsave(&edu->lock, flags);
		ec->irq_status &= ~(u32)val;
		if (!ec->irq_status)
			ka_ctx_intx_deassert(ctx);
		spin_unlock_irqrestore(&edu->lock, flags);
		break;
	case EDU_DMA_SRC:
	case EDU_DMA_DST:
	case EDU_DMA_CNT:
		reg = off == EDU_DMA_SRC ? &ec->dma_src :
		      off == EDU_DMA_DST ? &ec->dma_dst : &ec->dma_cnt;
		spin_lock_irqsave(&edu->lock, flags);
		if (!(ec->dma_cmd & EDU_DMA_RUN))	/* locked while running */
			*reg = size == 4 ? (u32)val : val;
		spin_unlock_irqrestore(&edu->lock, flags);
		break;
	case EDU_DMA_CMD:
		if (val & EDU_DMA_RUN)
			ka_edu_dma_start(ctx, val & (EDU_DMA_RUN | EDU_DMA_TO_RAM | EDU_DMA_IRQ));
		break;
	default:
		break;
	}
	return 0;
}

/* Wait until no transfer of @ctx is running on the device. */
static void ka_edu_quiesce(struct ka_ctx *ctx)
{
	struct ka_edu *edu = ka_edu(ctx->kd);

	wait_event(edu->idle, READ_ONCE(edu->dma_ctx) != ctx);
	flush_work(&edu->done_work);
}

static void ka_edu_reset(struct ka_ctx *ctx)
{
	struct ka_edu *edu = ka_edu(ctx->kd);
	unsigned long flags;

	ka_edu_quiesce(ctx);
	spin_lock_irqsave(&edu->lock, flags);
	memset(ka_edu_ctx(ctx), 0, sizeof(struct ka_edu_ctx));
	spin_unlock_irqrestore(&edu->lock, flags);
	ka_ctx_intx_deassert(ctx);
}

static int ka_edu_ctx_init(struct ka_ctx *ctx)
{
	ctx->model_state = kzalloc(sizeof(struct ka_edu_ctx), GFP_KERNEL);
	return ctx->model_state ? 0 : -ENOMEM;
}

static void ka_edu_ctx_fini(struct ka_ctx *ctx)
{
	ka_edu_quiesce(ctx);
	kfree(ctx->model_state);
	ctx->model_state = NULL;
}

static int ka_edu_probe(struct ka_dev *kd)
{
	struct ka_edu *edu;
	u32 id;

	if (kd->bar_len[0] < EDU_REGS_END)
		return -ENODEV;
	id = ioread32(kd->bar[0] + EDU_ID);
	if ((id & 0xff) != 0xed) {
		pci_err(kd->pdev, "unexpected edu identification %#x\n", id);
		return -ENODEV;
	}
	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->kd = kd;
	spin_lock_init(&edu->lock);
	INIT_WORK(&edu->done_work, ka_edu_done_work);
	init_waitqueue_head(&edu->idle);
	kd->model_data = edu;

	/* Quiet device: no interrupt on factorial, nothing pending. */
	iowrite32(0, kd->bar[0] + EDU_STATUS);
	iowrite32(~0U, kd->bar[0] + EDU_IRQ_ACK);
	return 0;
}

static void ka_edu_remove(struct ka_dev *kd)
{
	struct ka_edu *edu = ka_edu(kd);

	/* Contexts are gone (each quiesced); nothing can be in flight. */
	cancel_work_sync(&edu->done_work);
	kfree(edu);
	kd->model_data = NULL;
}

const struct ka_model ka_model_edu = {
	.name		= "edu",
	.vendor		= 0x1234,
	.device		= 0x11e8,
	.dma_bits	= EDU_DMA_BITS,
	.bar_mask	= BIT(0),
	.traps		= ka_edu_traps,
	.nr_traps	= ARRAY_SIZE(ka_edu_traps),
	.probe		= ka_edu_probe,
	.remove		= ka_edu_remove,
	.ctx_init	= ka_edu_ctx_init,
	.ctx_fini	= ka_edu_ctx_fini,
	.reset		= ka_edu_reset,
	.quiesce	= ka_edu_quiesce,
	.read		= ka_edu_read,
	.write		= ka_edu_write,
	.irq		= ka_edu_irq,
};
