// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: config-space virtualization.
 *
 * The guest sees a coherent PCI function that never touches the physical
 * device's config space: identity registers copied from the device, BARs
 * with emulated sizing (the device's, or the model's own layout, which may
 * include an emulated I/O BAR), a command register whose I/O, memory and
 * bus-master enables are tracked (BAR access and DMA honour them), and one
 * capability unless the model has none, a virtual 64-bit MSI capability
 * (the physical device's own interrupt is owned by kvm_assign; the guest's
 * MSI address/data are virtual).  Every other byte is read-only: writes to
 * it are dropped and counted.
 */
#include "kvm_assign_priv.h"

static void ka_cfg_set(struct ka_ctx *ctx, unsigned int off, unsigned int len,
		       u32 val, u32 wmask)
{
	unsigned int i;

	for (i = 0; i < len; i++) {
		ctx->config[off + i] = val >> (8 * i);
		ctx->config_wmask[off + i] = wmask >> (8 * i);
	}
}

static u32 ka_cfg_get(struct ka_ctx *ctx, unsigned int off, unsigned int len)
{
	u32 val = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		val |= (u32)ctx->config[off + i] << (8 * i);
	return val;
}

/**
 * ka_config_init() - build the virtual config space of a context
 * @ctx: the context (its lock held, or not yet visible)
 *
 * Called when a context is created and on VFIO_DEVICE_RESET.
 */
void ka_config_init(struct ka_ctx *ctx)
{
	struct pci_dev *pdev = ctx->kd->pdev;
	bool no_msi = ctx->kd->model->no_msi;
	int i;

	memset(ctx->config, 0, sizeof(ctx->config));
	memset(ctx->config_wmask, 0, sizeof(ctx->config_wmask));

	ka_cfg_set(ctx, PCI_VENDOR_ID, 2, pdev->vendor, 0);
	ka_cfg_set(ctx, PCI_DEVICE_ID, 2, pdev->device, 0);
	ka_cfg_set(ctx, PCI_COMMAND, 2, 0,
		   PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
		   PCI_COMMAND_INTX_DISABLE);
	ka_cfg_set(ctx, PCI_STATUS, 2, no_msi ? 0 : PCI_STATUS_CAP_LIST, 0);
	ka_cfg_set(ctx, PCI_REVISION_ID, 1, pdev->revision, 0);
	ka_cfg_set(ctx, PCI_CLASS_PROG, 3, pdev->class, 0);
	ka_cfg_set(ctx, PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
	ka_cfg_set(ctx, PCI_LATENCY_TIMER, 1, 0, 0xff);
	ka_cfg_set(ctx, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL, 0);

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		unsigned long flags = pci_resource_flags(pdev, i);
		u32 low = PCI_BASE_ADDRESS_SPACE_MEMORY;
		unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;

		if (!ctx->bar_size[i])
			continue;
		if (ctx->bar_io[i]) {
			ka_cfg_set(ctx, off, 4, PCI_BASE_ADDRESS_SPACE_IO,
				   ~(ctx->bar_size[i] - 1) & ~0x3U);
			continue;
		}
		if (ctx->kd->model->vbars)
			flags = 0;	/* a 32-bit memory BAR of the model's */
		if (flags & IORESOURCE_PREFETCH)
			low |= PCI_BASE_ADDRESS_MEM_PREFETCH;
		if (flags & IORESOURCE_MEM_64)
			low |= PCI_BASE_ADDRESS_MEM_TYPE_64;
		/* Sizing: the address bits below the BAR's size read as 0. */
		ka_cfg_set(ctx, off, 4, low, ~(ctx->bar_size[i] - 1) & ~0xfU);
		if ((flags & IORESOURCE_MEM_64) && i + 1 < PCI_STD_NUM_BARS)
			ka_cfg_set(ctx, off + 4, 4, 0, 0xffffffff);
	}

	ka_cfg_set(ctx, PCI_SUBSYSTEM_VENDOR_ID, 2, pdev->subsystem_vendor, 0);
	ka_cfg_set(ctx, PCI_SUBSYSTEM_ID, 2, pdev->subsystem_device, 0);
	ka_cfg_set(ctx, PCI_INTERRUPT_LINE, 1, 0, 0xff);
	ka_cfg_set(ctx, PCI_INTERRUPT_PIN, 1, 1, 0);	/* INTA# */
	if (no_msi)
		return;
	ka_cfg_set(ctx, PCI_CAPABILITY_LIST, 1, KA_MSI_CAP, 0);

	/* Virtual MSI: one vector, 64-bit address, enable bit writable. */
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSI, 0);
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_CAP_LIST_NEXT, 1, 0, 0);
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT,
		   PCI_MSI_FLAGS_ENABLE);
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffc);
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffff);
	ka_cfg_set(ctx, KA_MSI_CAP + PCI_MSI_DATA_64, 2, 0, 0xffff);
}

/**
 * ka_config_msi_vector() - the guest's MSI address and data
 * @ctx:	the context; its lock is held
 * @addr:	out: the 64-bit message address
 * @data:	out: the message data
 */
void ka_config_msi_vector(struct ka_ctx *ctx, u64 *addr, u32 *data)
{
	lockdep_assert_held(&ctx->lock);

	*addr = ka_cfg_get(ctx, KA_MSI_CAP + PCI_MSI_ADDRESS_LO, 4) |
		(u64)ka_cfg_get(ctx, KA_MSI_CAP + PCI_MSI_ADDRESS_HI, 4) << 32;
	*data = ka_cfg_get(ctx, KA_MSI_CAP + PCI_MSI_DATA_64, 2);
}

bool ka_config_memory_enabled(struct ka_ctx *ctx)
{
	return ka_cfg_get(ctx, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
}

bool ka_config_io_enabled(struct ka_ctx *ctx)
{
	return ka_cfg_get(ctx, PCI_COMMAND, 2) & PCI_COMMAND_IO;
}

bool ka_config_bus_master(struct ka_ctx *ctx)
{
	return ka_cfg_get(ctx, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

/**
 * ka_config_rw() - one access to the virtual config space
 * @ctx:	the context; its lock is held
 * @buf:	data (little-endian, as the region is)
 * @count:	1, 2, 4 or 8 bytes, naturally aligned (mdev.c splits accesses)
 * @pos:	offset in config space
 * @write:	direction
 *
 * Return: @count, or -EINVAL for an access outside config space.
 */
ssize_t ka_config_rw(struct ka_ctx *ctx, char *buf, size_t count, loff_t pos,
		     bool write)
{
	size_t i;
	bool dropped = false;

	lockdep_assert_held(&ctx->lock);

	if (pos < 0 || pos >= KA_CONFIG_SIZE || count > KA_CONFIG_SIZE - pos)
		return -EINVAL;

	if (!write) {
		memcpy(buf, ctx->config + pos, count);
		/* Interrupt status (bit 3 of the status register) is live. */
		if (pos <= PCI_STATUS && pos + count > PCI_STATUS) {
			unsigned long flags;
			bool pending;

			spin_lock_irqsave(&ctx->irq_lock, flags);
			pending = ctx->intx_pending;
			spin_unlock_irqrestore(&ctx->irq_lock, flags);
			if (pending && ctx->irq_type == KA_IRQ_INTX)
				buf[PCI_STATUS - pos] |= PCI_STATUS_INTERRUPT;
		}
		return count;
	}

	for (i = 0; i < count; i++) {
		u8 wmask = ctx->config_wmask[pos + i];
		u8 old = ctx->config[pos + i];
		u8 new = (old & ~wmask) | ((u8)buf[i] & wmask);

		/* BAR sizing writes to read-only low bits are normal. */
		if (((u8)buf[i] & ~wmask) != (old & ~wmask) &&
		    (pos + i < PCI_BASE_ADDRESS_0 || pos + i > PCI_BASE_ADDRESS_5 + 3))
			dropped = true;
		ctx->config[pos + i] = new;
	}
	if (dropped)
		atomic64_inc(&ctx->stats.config_writes_dropped);
	return count;
}
