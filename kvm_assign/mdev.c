// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: assignment contexts as VFIO mediated devices.
 *
 * Each mdev created from a claimed device's type is one context, registered
 * with VFIO's emulated-IOMMU path so that a stock QEMU attaches it with
 * -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/<uuid>.  This file holds
 * the mdev driver, the vfio_device ops and the device-level ioctls
 * (GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, RESET; SET_IRQS is in intrs.c).
 *
 * Region layout follows vfio-pci: region index N lives at file offset
 * N << KA_OFFSET_SHIFT.
 */
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvm_assign_priv.h"

#define KA_OFFSET_SHIFT		40
#define KA_OFFSET_TO_INDEX(off)	((off) >> KA_OFFSET_SHIFT)
#define KA_OFFSET_MASK		((1ULL << KA_OFFSET_SHIFT) - 1)
#define KA_INDEX_TO_OFFSET(i)	((u64)(i) << KA_OFFSET_SHIFT)

/* --- statistics in sysfs: /sys/bus/mdev/devices/<uuid>/kvm_assign/ --- */

#define KA_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct ka_ctx *ctx = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%lld\n",				\
			  (long long)atomic64_read(&ctx->stats.name));	\
}									\
static DEVICE_ATTR_RO(name)

KA_STAT_ATTR(config_writes_dropped);
KA_STAT_ATTR(bar_reads);
KA_STAT_ATTR(bar_writes);
KA_STAT_ATTR(bar_refused);
KA_STAT_ATTR(pages_pinned);

/*
 * Interrupts the VMM's eventfd really received from the context's
 * irq_remap entry (at once, on unmask or resample, or coalesced), not those
 * it accepted and holds.
 */
static ssize_t irqs_delivered_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);
	struct irq_remap_stats st;

	if (irq_remap_entry_stats(ctx->kd->irq_table, ctx->irq_handle, &st))
		return -EIO;
	return sysfs_emit(buf, "%llu\n", (unsigned long long)st.signalled);
}
static DEVICE_ATTR_RO(irqs_delivered);

/* Interrupts held by the context's irq_remap entry: masked or in service. */
static ssize_t irqs_masked_show(struct device *dev, struct device_attribute *attr,
				char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);
	struct irq_remap_stats st;

	if (irq_remap_entry_stats(ctx->kd->irq_table, ctx->irq_handle, &st))
		return -EIO;
	return sysfs_emit(buf, "%llu\n", (unsigned long long)(st.masked + st.intx_suppressed));
}
static DEVICE_ATTR_RO(irqs_masked);

static ssize_t iommu_domain_show(struct device *dev, struct device_attribute *attr,
				 char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", iommu_soft_domain_id(ctx->domain));
}
static DEVICE_ATTR_RO(iommu_domain);

static ssize_t irq_entry_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", ctx->irq_handle);
}
static DEVICE_ATTR_RO(irq_entry);

/* The irq_remap table holding irq_entry: /sys/kernel/irq_remap/table<id> */
static ssize_t irq_table_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", irq_remap_table_id(ctx->kd->irq_table));
}
static DEVICE_ATTR_RO(irq_table);
KA_STAT_ATTR(dma_started);
KA_STAT_ATTR(dma_refused);
KA_STAT_ATTR(dma_in_flight);
KA_STAT_ATTR(resets);

static ssize_t model_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", ctx->kd->model->name);
}
static DEVICE_ATTR_RO(model);

static ssize_t physical_device_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct ka_ctx *ctx = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", pci_name(ctx->kd->pdev));
}
static DEVICE_ATTR_RO(physical_device);

static struct attribute *ka_ctx_attrs[] = {
	&dev_attr_model.attr,
	&dev_attr_physical_device.attr,
	&dev_attr_config_writes_dropped.attr,
	&dev_attr_bar_reads.attr,
	&dev_attr_bar_writes.attr,
	&dev_attr_bar_refused.attr,
	&dev_attr_irqs_delivered.attr,
	&dev_attr_irqs_masked.attr,
	&dev_attr_dma_started.attr,
	&dev_attr_dma_refused.attr,
	&dev_attr_dma_in_flight.attr,
	&dev_attr_resets.attr,
	&dev_attr_pages_pinned.attr,
	&dev_attr_iommu_domain.attr,
	&dev_attr_irq_entry.attr,
	&dev_attr_irq_table.attr,
	NULL,
};

static const struct attribute_group ka_ctx_group = {
	.name	= "kvm_assign",
	.attrs	= ka_ctx_attrs,
};

/* Each model's own files (<mdev>/<model>/), visible on its contexts only. */
static const struct attribute_group *ka_ctx_groups[] = {
	&ka_ctx_group,
	&ka_e1000_ctx_group,
	NULL,
};

/* --- vfio_device ops --- */

static int ka_init_dev(struct vfio_device *vdev)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	struct ka_dev *kd = container_of(mdev->type->parent, struct ka_dev, parent);
	int i, ret;

	ctx->kd = kd;
	ctx->mdev = mdev;
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->irq_lock);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (kd->model->vbars) {
			ctx->bar_size[i] = kd->model->vbars[i].size;
			ctx->bar_io[i] = kd->model->vbars[i].io;
		} else if (kd->model->bar_mask & BIT(i)) {
			ctx->bar_size[i] = kd->bar_len[i];
		}
	}
	ka_config_init(ctx);
	ret = ka_dma_ctx_init(ctx);
	if (ret)
		return ret;
	ret = ka_irq_ctx_init(ctx);
	if (ret)
		goto err_dma;
	ret = kd->model->ctx_init(ctx);
	if (ret)
		goto err_irq;
	return 0;

err_irq:
	ka_irq_ctx_fini(ctx);
err_dma:
	ka_dma_ctx_fini(ctx);
	return ret;
}

static void ka_release_dev(struct vfio_device *vdev)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);

	ctx->kd->model->ctx_fini(ctx);
	ka_irq_ctx_fini(ctx);
	ka_dma_ctx_fini(ctx);
	mutex_destroy(&ctx->lock);
}

static int ka_open_device(struct vfio_device *vdev)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);
	struct ka_dev *kd = ctx->kd;
	int ret = 0;

	mutex_lock(&ctx->lock);
	/* A shared device has no owner: its model serves every context. */
	spin_lock_irq(&kd->lock);
	if (!kd->model->max_contexts) {
		if (kd->owner && kd->owner != ctx)
			ret = -EBUSY;
		else
			kd->owner = ctx;
	}
	spin_unlock_irq(&kd->lock);
	if (!ret) {
		kd->model->reset(ctx);
		ctx->open = true;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

static void ka_close_device(struct vfio_device *vdev)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);
	struct ka_dev *kd = ctx->kd;

	mutex_lock(&ctx->lock);
	ka_irqs_disable(ctx);
	kd->model->reset(ctx);
	/* Unpin every guest page while VFIO still allows it. */
	ka_dma_invalidate(ctx, 0, 0);
	spin_lock_irq(&kd->lock);
	if (kd->owner == ctx)
		kd->owner = NULL;
	spin_unlock_irq(&kd->lock);
	/*
	 * From here no interrupt handler reaches the context, which may be
	 * freed once closed: the handler uses the owner only under kd->lock,
	 * and an instance that took it before has returned.
	 */
	synchronize_irq(kd->irq);
	ctx->open = false;
	mutex_unlock(&ctx->lock);
}

static ssize_t ka_rw(struct ka_ctx *ctx, char __user *ubuf, size_t count,
		     loff_t *ppos, bool write)
{
	unsigned int index = KA_OFFSET_TO_INDEX(*ppos);
	loff_t off = *ppos & KA_OFFSET_MASK;
	size_t done = 0;
	ssize_t ret = 0;

	/*
	 * Split into naturally aligned accesses of at most 8 bytes, as a CPU
	 * would issue them; each goes through the region's handler.
	 */
	while (done < count) {
		size_t left = count - done, n;
		u8 buf[8];

		if (left >= 8 && !((off + done) & 7))
			n = 8;
		else if (left >= 4 && !((off + done) & 3))
			n = 4;
		else if (left >= 2 && !((off + done) & 1))
			n = 2;
		else
			n = 1;

		if (write && copy_from_user(buf, ubuf + done, n))
			return -EFAULT;

		mutex_lock(&ctx->lock);
		if (index == VFIO_PCI_CONFIG_REGION_INDEX)
			ret = ka_config_rw(ctx, buf, n, off + done, write);
		else if (index < PCI_STD_NUM_BARS && ctx->bar_size[index])
			ret = ka_bar_rw(ctx, index, buf, n, off + done, write);
		else
			ret = -EINVAL;
		mutex_unlock(&ctx->lock);
		if (ret < 0)
			break;

		if (!write && copy_to_user(ubuf + done, buf, n))
			return -EFAULT;
		done += n;
	}
	if (!done)
		return ret;
	*ppos += done;
	return done;
}

static ssize_t ka_read(struct vfio_device *vdev, char __user *buf,
		       size_t count, loff_t *ppos)
{
	return ka_rw(vdev_to_ctx(vdev), buf, count, ppos, false);
}

static ssize_t ka_write(struct vfio_device *vdev, const char __user *buf,
			size_t count, loff_t *ppos)
{
	return ka_rw(vdev_to_ctx(vdev), (char __user *)buf, count, ppos, true);
}

static int ka_ioctl_get_info(struct ka_ctx *ctx, unsigned long arg)
{
	struct vfio_device_info info;
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

#define KA_MAX_MMAP_AREAS	8

static int ka_ioctl_get_region_info(struct ka_ctx *ctx, unsigned long arg)
{
	struct vfio_region_info info;
	struct vfio_info_cap caps = { .buf = NULL, .size = 0 };
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	int ret = 0;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;

	info.offset = KA_INDEX_TO_OFFSET(info.index);
	info.flags = 0;
	info.size = 0;
	info.cap_offset = 0;
	if (info.index == VFIO_PCI_CONFIG_REGION_INDEX) {
		info.size = KA_CONFIG_SIZE;
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (info.index < PCI_STD_NUM_BARS && ctx->bar_size[info.index]) {
		struct vfio_region_info_cap_sparse_mmap *sparse;
		size_t size;
		int n;

		/* Trapped read/write everywhere; mmap where no register is trapped. */
		info.size = ctx->bar_size[info.index];
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		size = struct_size(sparse, areas, KA_MAX_MMAP_AREAS);
		sparse = kzalloc(size, GFP_KERNEL);
		if (!sparse)
			return -ENOMEM;
		n = ka_bar_mmap_areas(ctx, info.index, sparse->areas, KA_MAX_MMAP_AREAS);
		if (n) {
			info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
			sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
			sparse->header.version = 1;
			sparse->nr_areas = n;
			ret = vfio_info_add_capability(&caps, &sparse->header,
						       struct_size(sparse, areas, n));
		}
		kfree(sparse);
		if (ret)
			return ret;
	}

	if (caps.size) {
		info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (info.argsz < sizeof(info) + caps.size) {
			info.argsz = sizeof(info) + caps.size;
		} else {
			vfio_info_cap_shift(&caps, sizeof(info));
			if (copy_to_user((void __user *)arg + sizeof(info), caps.buf,
					 caps.size))
				ret = -EFAULT;
			info.cap_offset = sizeof(info);
		}
		kfree(caps.buf);
		if (ret)
			return ret;
	}
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static int ka_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);
	u64 pos = (u64)vma->vm_pgoff << PAGE_SHIFT;
	unsigned int index = KA_OFFSET_TO_INDEX(pos);

	if (index >= PCI_STD_NUM_BARS || !ctx->bar_size[index] ||
	    !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	return ka_bar_mmap(ctx, index, pos & KA_OFFSET_MASK, vma);
}

static int ka_ioctl_get_irq_info(struct ka_ctx *ctx, unsigned long arg)
{
	struct vfio_irq_info info;
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;

	info.flags = 0;
	info.count = 0;
	switch (info.index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
			     VFIO_IRQ_INFO_AUTOMASKED;
		info.count = 1;
		break;
	case VFIO_PCI_MSI_IRQ_INDEX:
		if (ctx->kd->model->no_msi)
			break;
		info.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE;
		info.count = 1;
		break;
	case VFIO_PCI_REQ_IRQ_INDEX:
		info.flags = VFIO_IRQ_INFO_EVENTFD;
		info.count = 1;
		break;
	default:
		break;
	}
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static long ka_ioctl(struct vfio_device *vdev, unsigned int cmd,
		     unsigned long arg)
{
	struct ka_ctx *ctx = vdev_to_ctx(vdev);
	int ret;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return ka_ioctl_get_info(ctx, arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return ka_ioctl_get_region_info(ctx, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return ka_ioctl_get_irq_info(ctx, arg);
	case VFIO_DEVICE_SET_IRQS:
		mutex_lock(&ctx->lock);
		ret = ka_set_irqs(ctx, arg);
		mutex_unlock(&ctx->lock);
		return ret;
	case VFIO_DEVICE_RESET:
		mutex_lock(&ctx->lock);
		ctx->kd->model->reset(ctx);
		/* A reset device holds nothing of the guest's memory. */
		ka_dma_invalidate(ctx, 0, 0);
		ka_ctx_intx_deassert(ctx);
		ka_config_init(ctx);
		atomic64_inc(&ctx->stats.resets);
		mutex_unlock(&ctx->lock);
		return 0;
	}
	return -ENOTTY;
}

/*
 * The VMM unmapped guest memory from the container: let a transfer in
 * flight end, then unmap the range from the context's domain (which waits
 * for any translation still held) and unpin its pages.  Type1 calls this
 * with its device_list_lock held; see dma.c for the lock order.
 */
static void ka_dma_unmap_notify(struct vfio_device *vdev, u64 iova, u64 length)
{
	ka_dma_invalidate(vdev_to_ctx(vdev), iova, length);
}

static void ka_request(struct vfio_device *vdev, unsigned int count)
{
	ka_ctx_request(vdev_to_ctx(vdev), count);
}

static const struct vfio_device_ops ka_vfio_ops = {
	.name		= "kvm_assign",
	.init		= ka_init_dev,
	.release	= ka_release_dev,
	.open_device	= ka_open_device,
	.close_device	= ka_close_device,
	.read		= ka_read,
	.write		= ka_write,
	.ioctl		= ka_ioctl,
	.mmap		= ka_mmap,
	.dma_unmap	= ka_dma_unmap_notify,
	.request	= ka_request,
#if defined(KVMIO_HAVE_VFIO_DEVICE_OPS_IOMMUFD)
	.bind_iommufd	= vfio_iommufd_emulated_bind,
	.unbind_iommufd	= vfio_iommufd_emulated_unbind,
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
#endif
};

/* --- mdev driver --- */

static int ka_mdev_probe(struct mdev_device *mdev)
{
	struct ka_ctx *ctx;
	int ret;

	ctx = vfio_alloc_device(ka_ctx, vdev, &mdev->dev, &ka_vfio_ops);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	ret = vfio_register_emulated_iommu_dev(&ctx->vdev);
	if (ret)
		goto err_put;
	dev_set_drvdata(&mdev->dev, ctx);
	dev_info(&mdev->dev, "context created on %s\n", pci_name(ctx->kd->pdev));
	return 0;

err_put:
	vfio_put_device(&ctx->vdev);
	return ret;
}

static void ka_mdev_remove(struct mdev_device *mdev)
{
	struct ka_ctx *ctx = dev_get_drvdata(&mdev->dev);

	/* Waits until the VMM has closed the device. */
	vfio_unregister_group_dev(&ctx->vdev);
	dev_info(&mdev->dev, "context removed\n");
	vfio_put_device(&ctx->vdev);
}

static ssize_t ka_mdev_show_description(struct mdev_type *mtype, char *buf)
{
	struct ka_dev *kd = container_of(mtype->parent, struct ka_dev, parent);

	return sysfs_emit(buf, "%s (%04x:%04x) at %s, software DMA/interrupt remapping\n",
			  kd->model->name, kd->pdev->vendor, kd->pdev->device,
			  pci_name(kd->pdev));
}

struct mdev_driver ka_mdev_driver = {
	.device_api	= VFIO_DEVICE_API_PCI_STRING,
	/* a shared model's parent gets its own count (main.c) */
	.max_instances	= 1,
	.driver = {
		.name		= "kvm_assign_mdev",
		.owner		= THIS_MODULE,
		.mod_name	= KBUILD_MODNAME,
		.dev_groups	= ka_ctx_groups,
	},
	.probe		= ka_mdev_probe,
	.remove		= ka_mdev_remove,
	.show_description = ka_mdev_show_description,
};
