// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: interrupts of a context.
 *
 * VFIO_DEVICE_SET_IRQS gives a context the VMM's eventfds: one for INTx
 * (with an unmask eventfd, which QEMU connects to KVM's irqfd resampler)
 * or one for the single MSI vector.  They are programmed into the
 * context's entry of the device's irq_remap table (source check: the
 * physical device's requester ID; the guest's MSI address/data recorded).
 * The model reports the guest-visible interrupt line of its device view
 * with ka_ctx_interrupt() (raise) and ka_ctx_intx_deassert() (the guest
 * acknowledged it); irq_remap turns those into eventfd signals, with INTx
 * level semantics: a delivery puts the line in service until the VMM's
 * unmask (resample), and an unmask with the line still raised delivers
 * again.
 *
 * The request interrupt (VFIO_PCI_REQ_IRQ_INDEX) is how the context asks
 * the VMM to release the device when its mdev is removed or the physical
 * device unbound while the VMM holds it.
 *
 * One eventfd for two roles: the unmask eventfd's handler runs inside that
 * eventfd's wake-up and takes irq_remap's table lock, and a trigger is
 * signalled from inside irq_remap (table lock held) and from the model's
 * interrupt path (the model's locks and ctx->irq_lock held).  An unmask
 * eventfd that is also the INTx trigger would run the handler inside the
 * trigger's signal, under the lock it takes (a hang), and unmask the line
 * each time it is delivered; the request eventfd likewise.  So SET_IRQS
 * refuses, with EINVAL and in either order, an unmask eventfd that is the
 * INTx trigger or the request eventfd of the context, and such a trigger
 * while that unmask eventfd is set.  The eventfds compared are those the
 * numbers name during the call (the context keeps references, so a
 * pointer cannot be reused meanwhile); irq_remap and VFIO's virqfd resolve
 * the numbers again, so a VMM that renumbers its descriptors while its own
 * SET_IRQS runs is only caught by irq_remap signalling outside its lock.
 * The unmask handler itself takes no kvm_assign lock: it may run nested
 * in another context's delivery.
 */
#include <linux/eventfd.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvm_assign_priv.h"

static u16 ka_source_id(struct ka_ctx *ctx)
{
	return pci_dev_id(ctx->kd->pdev);
}

/**
 * ka_ctx_interrupt() - the context's device view raises its interrupt
 * @ctx: the context
 *
 * Callable from hard-irq context.  The interrupt goes through the context's
 * irq_remap entry, as coming from the physical device's requester ID: MSI,
 * one delivery; INTx, the line is raised (delivered unless the entry is in
 * service or masked, then held until the VMM's resample or unmask).
 */
void ka_ctx_interrupt(struct ka_ctx *ctx)
{
	struct irq_remap_table *t = ctx->kd->irq_table;
	unsigned long flags;

	/* a refusal is irq_remap's fault to log; delivery counts are its own */
	spin_lock_irqsave(&ctx->irq_lock, flags);
	switch (ctx->irq_type) {
	case KA_IRQ_MSI:
		irq_remap_deliver(t, ka_source_id(ctx), ctx->irq_handle);
		break;
	case KA_IRQ_INTX:
		ctx->intx_pending = true;
		irq_remap_intx_assert(t, ka_source_id(ctx), ctx->irq_handle);
		break;
	case KA_IRQ_NONE:
		break;
	}
	spin_unlock_irqrestore(&ctx->irq_lock, flags);
}

/**
 * ka_ctx_intx_deassert() - the guest lowered the interrupt line
 * @ctx: the context
 */
void ka_ctx_intx_deassert(struct ka_ctx *ctx)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->irq_lock, flags);
	if (ctx->intx_pending && ctx->irq_type == KA_IRQ_INTX)
		irq_remap_intx_deassert(ctx->kd->irq_table, ctx->irq_handle);
	ctx->intx_pending = false;
	spin_unlock_irqrestore(&ctx->irq_lock, flags);
}

/* End of INTx service (EOI): re-delivers if the line is still raised. */
static void ka_intx_unmask(struct ka_ctx *ctx)
{
	struct irq_remap_table *t = ctx->kd->irq_table;

	irq_remap_entry_set_masked(t, ctx, ctx->irq_handle, false);
	irq_remap_intx_resample(t, ctx->irq_handle);
}

/*
 * virqfd handler: the unmask eventfd fired (KVM's resampler, on EOI).  It
 * runs inside that eventfd's wake-up; irq_remap defers a re-delivery made
 * there to its irq_work, where signalling the trigger eventfd is allowed.
 */
static int ka_unmask_handler(void *opaque, void *unused)
{
	ka_intx_unmask(opaque);
	return 0;
}

/* Program the context's entry; @type KA_IRQ_NONE with @fd -1 disables. */
static int ka_program(struct ka_ctx *ctx, enum ka_irq_type type, int fd)
{
	struct irq_remap_entry_cfg cfg = {
		.trigger_fd = fd,
		.resample_fd = -1,
		.svt = IRQ_REMAP_SVT_RID,
		.sid = ka_source_id(ctx),
		.sq = IRQ_REMAP_SQ_ALL,
	};
	unsigned long flags;
	int ret;

	if (type != KA_IRQ_NONE)
		cfg.flags = IRQ_REMAP_ENTRY_PRESENT;
	if (type == KA_IRQ_INTX)
		cfg.flags |= IRQ_REMAP_ENTRY_INTX;
	if (type == KA_IRQ_MSI)
		ka_config_msi_vector(ctx, &cfg.msi_addr, &cfg.msi_data);

	ret = irq_remap_entry_program(ctx->kd->irq_table, ctx, ctx->irq_handle, &cfg);
	if (ret)
		return ret;
	spin_lock_irqsave(&ctx->irq_lock, flags);
	ctx->irq_type = type;
	ctx->intx_pending = false;
	spin_unlock_irqrestore(&ctx->irq_lock, flags);
	return 0;
}

/**
 * ka_irq_ctx_init() - give a context its interrupt remapping entry
 * @ctx: the context
 *
 * Return: 0 or a negative errno (-ENOSPC: the device's table is full).
 */
int ka_irq_ctx_init(struct ka_ctx *ctx)
{
	int h = irq_remap_entry_alloc(ctx->kd->irq_table, ctx, -1);

	if (h < 0)
		return h;
	ctx->irq_handle = h;
	return 0;
}

/**
 * ka_irq_ctx_fini() - free a context's entry
 * @ctx: the context
 */
void ka_irq_ctx_fini(struct ka_ctx *ctx)
{
	irq_remap_entry_free(ctx->kd->irq_table, ctx, ctx->irq_handle);
}

/* Caller holds ctx->lock, which protects ctx->req_trigger. */
static void ka_set_req(struct ka_ctx *ctx, struct eventfd_ctx *req)
{
	lockdep_assert_held(&ctx->lock);

	if (ctx->req_trigger)
		eventfd_ctx_put(ctx->req_trigger);
	ctx->req_trigger = req;
}

/**
 * ka_ctx_request() - ask the VMM to release the device
 * @ctx:	the context
 * @count:	how many times VFIO has asked already
 *
 * Called by VFIO (the vfio_device request op, no VFIO lock held) while an
 * unregistration waits for the device to be closed.  The eventfd is
 * signalled under ctx->lock only: no wake-up path takes it (the unmask
 * handler takes no kvm_assign lock).
 */
void ka_ctx_request(struct ka_ctx *ctx, unsigned int count)
{
	mutex_lock(&ctx->lock);
	if (ctx->req_trigger) {
		if (!(count % 10))
			dev_notice_ratelimited(&ctx->mdev->dev,
					       "asking the user to release the device (%u)\n",
					       count);
		kvmio_eventfd_signal(ctx->req_trigger);
	} else if (!count) {
		dev_notice(&ctx->mdev->dev,
			   "no request eventfd: waiting for the user to close the device\n");
	}
	mutex_unlock(&ctx->lock);
}

/* Replace a reference kept under ctx->lock (@new may be NULL). */
static void ka_keep_eventfd(struct eventfd_ctx **slot, struct eventfd_ctx *new)
{
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = new;
}

/* Stop the unmask eventfd; caller holds ctx->lock. */
static void ka_unmask_disable(struct ka_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);

	vfio_virqfd_disable(&ctx->unmask);
	ka_keep_eventfd(&ctx->unmask_eventfd, NULL);
}

/**
 * ka_irqs_disable() - drop every eventfd of a context
 * @ctx: the context; its lock is held
 */
void ka_irqs_disable(struct ka_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);

	ka_unmask_disable(ctx);
	ka_program(ctx, KA_IRQ_NONE, -1);
	ka_keep_eventfd(&ctx->intx_trigger, NULL);
	ka_set_req(ctx, NULL);
}

static int ka_set_irqs_req(struct ka_ctx *ctx, struct vfio_irq_set *hdr,
			   void *data)
{
	u32 dtype = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	struct eventfd_ctx *req;
	s32 fd;

	if ((hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_NONE && !hdr->count) {
		ka_set_req(ctx, NULL);
		return 0;
	}
	if (dtype != VFIO_IRQ_SET_DATA_EVENTFD)
		return -EINVAL;
	fd = *(s32 *)data;
	if (fd < 0) {
		ka_set_req(ctx, NULL);
		return 0;
	}
	req = eventfd_ctx_fdget(fd);
	if (IS_ERR(req))
		return PTR_ERR(req);
	if (req == ctx->unmask_eventfd) {	/* see the top of this file */
		eventfd_ctx_put(req);
		return -EINVAL;
	}
	ka_set_req(ctx, req);
	return 0;
}

static int ka_set_trigger_fd(struct ka_ctx *ctx, enum ka_irq_type type, s32 fd)
{
	struct eventfd_ctx *trigger = NULL;
	int ret;

	if (fd < 0) {
		if (ctx->irq_type != type)
			return 0;
		if (type == KA_IRQ_INTX)
			ka_unmask_disable(ctx);
		ret = ka_program(ctx, KA_IRQ_NONE, -1);
		if (!ret)
			ka_keep_eventfd(&ctx->intx_trigger, NULL);
		return ret;
	}
	/* One interrupt mode at a time, as on a real function. */
	if (ctx->irq_type != KA_IRQ_NONE && ctx->irq_type != type)
		return -EBUSY;
	if (type == KA_IRQ_INTX) {
		trigger = eventfd_ctx_fdget(fd);
		if (IS_ERR(trigger))
			return PTR_ERR(trigger);
		/* Not the unmask eventfd: see the top of this file. */
		if (trigger == ctx->unmask_eventfd) {
			eventfd_ctx_put(trigger);
			return -EINVAL;
		}
	}
	ret = ka_program(ctx, type, fd);
	if (ret) {
		if (trigger)
			eventfd_ctx_put(trigger);
		return ret;
	}
	if (trigger)
		ka_keep_eventfd(&ctx->intx_trigger, trigger);
	return 0;
}

/* VFIO_IRQ_SET_ACTION_UNMASK with an eventfd (KVM's resampler). */
static int ka_set_unmask_fd(struct ka_ctx *ctx, s32 fd)
{
	struct eventfd_ctx *unmask;
	int ret;

	if (fd < 0) {
		ka_unmask_disable(ctx);
		return 0;
	}
	if (ctx->irq_type != KA_IRQ_INTX)
		return -EINVAL;
	unmask = eventfd_ctx_fdget(fd);
	if (IS_ERR(unmask))
		return PTR_ERR(unmask);
	/* Not a trigger of this context: see the top of this file. */
	if (unmask == ctx->intx_trigger || unmask == ctx->req_trigger) {
		eventfd_ctx_put(unmask);
		return -EINVAL;
	}
	ret = vfio_virqfd_enable(ctx, ka_unmask_handler, NULL, NULL,
				 &ctx->unmask, fd);
	if (ret) {
		eventfd_ctx_put(unmask);
		return ret;
	}
	ka_keep_eventfd(&ctx->unmask_eventfd, unmask);
	return 0;
}

static int ka_set_irqs_intx(struct ka_ctx *ctx, struct vfio_irq_set *hdr,
			    void *data)
{
	u32 dtype = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	bool yes = dtype == VFIO_IRQ_SET_DATA_NONE ||
		   (dtype == VFIO_IRQ_SET_DATA_BOOL && *(u8 *)data);

	switch (hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) {
	case VFIO_IRQ_SET_ACTION_TRIGGER:
		if (dtype == VFIO_IRQ_SET_DATA_EVENTFD)
			return ka_set_trigger_fd(ctx, KA_IRQ_INTX, *(s32 *)data);
		if (dtype == VFIO_IRQ_SET_DATA_NONE && !hdr->count)
			return ka_set_trigger_fd(ctx, KA_IRQ_INTX, -1);
		if (ctx->irq_type != KA_IRQ_INTX)
			return -EINVAL;
		if (yes)	/* loopback: the VMM tests its eventfd */
			ka_ctx_interrupt(ctx);
		return 0;
	case VFIO_IRQ_SET_ACTION_MASK:
		if (dtype == VFIO_IRQ_SET_DATA_EVENTFD)
			return -EINVAL;
		if (yes)
			irq_remap_entry_set_masked(ctx->kd->irq_table, ctx,
						   ctx->irq_handle, true);
		return 0;
	case VFIO_IRQ_SET_ACTION_UNMASK:
		if (dtype == VFIO_IRQ_SET_DATA_EVENTFD)
			return ka_set_unmask_fd(ctx, *(s32 *)data);
		if (yes)
			ka_intx_unmask(ctx);
		return 0;
	}
	return -EINVAL;
}

static int ka_set_irqs_msi(struct ka_ctx *ctx, struct vfio_irq_set *hdr,
			   void *data)
{
	u32 dtype = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;

	if (ctx->kd->model->no_msi)
		return -EINVAL;	/* the function has no MSI capability */
	if ((hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;	/* no per-vector masking */

	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD)
		return ka_set_trigger_fd(ctx, KA_IRQ_MSI, *(s32 *)data);
	if (dtype == VFIO_IRQ_SET_DATA_NONE && !hdr->count)
		return ka_set_trigger_fd(ctx, KA_IRQ_MSI, -1);
	if (ctx->irq_type != KA_IRQ_MSI)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_NONE || *(u8 *)data)
		ka_ctx_interrupt(ctx);
	return 0;
}

/**
 * ka_set_irqs() - VFIO_DEVICE_SET_IRQS
 * @ctx: the context; its lock is held
 * @arg: user pointer to struct vfio_irq_set and its data
 *
 * Return: 0 or a negative errno (EINVAL for anything but INTx, the one
 * MSI vector and the request interrupt, EBUSY when switching between INTx
 * and MSI without disabling first).
 */
int ka_set_irqs(struct ka_ctx *ctx, unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	void *data = NULL;
	int ret;

	lockdep_assert_held(&ctx->lock);

	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, 1, VFIO_PCI_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;
	if (hdr.index != VFIO_PCI_INTX_IRQ_INDEX &&
	    hdr.index != VFIO_PCI_MSI_IRQ_INDEX &&
	    hdr.index != VFIO_PCI_REQ_IRQ_INDEX)
		return -EINVAL;
	if (hdr.count && hdr.start != 0)
		return -EINVAL;
	/* Only DATA_NONE may come without data (count 0 disables). */
	if (!hdr.count && (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) != VFIO_IRQ_SET_DATA_NONE)
		return -EINVAL;
	if (data_size) {
		data = memdup_user((void __user *)(arg + minsz), data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}

	if (hdr.index == VFIO_PCI_INTX_IRQ_INDEX)
		ret = ka_set_irqs_intx(ctx, &hdr, data);
	else if (hdr.index == VFIO_PCI_MSI_IRQ_INDEX)
		ret = ka_set_irqs_msi(ctx, &hdr, data);
	else
		ret = ka_set_irqs_req(ctx, &hdr, data);
	kfree(data);
	return ret;
}
