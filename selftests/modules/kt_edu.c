// SPDX-License-Identifier: GPL-2.0
/*
 * kt_edu: test-only PCI driver for QEMU's edu device (1234:11e8) that makes
 * the device DMA through an iommu_soft domain, so the tests can prove that
 * real device DMA goes only where a domain allows it, bounced when a page
 * lies beyond the device's 28-bit DMA mask.
 *
 * /dev/kt_edu, one ioctl (KT_EDU_XFER, see kt_edu.h):
 *   TO_DEVICE / FROM_DEVICE: translate [iova, iova + len) of domain
 *     domain_id for the edu device, program edu's DMA engine between that
 *     bus address and its buffer at 0x40000 + dev_off, wait for completion,
 *     release.  A refused translation fails with its errno (EFAULT, fault
 *     logged) and the device is never programmed.
 *   HOLD / RELEASE: keep one translation held (no device DMA) to test
 *     unmap while held; an invalidate callback counts its calls.
 *   MAP_PAGES / STATUS: pin user pages here and map them with
 *     iommu_soft_map_pages(), as a vfio_pin_pages() user would; the owner
 *     callback unpins them and counts what it got back.  Each mapped page
 *     holds a module reference, so kt_edu cannot unload while iommu_soft
 *     may still call it.
 *
 * edu aborts the whole VM when a transfer's device-side range is not
 * strictly inside [0x40000, 0x41000) and silently clamps bus addresses to
 * 28 bits: both are checked before the device is programmed.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kvmio/iommu_soft.h"
#include "kt_edu.h"

#define KT_EDU_REG_ID		0x00
#define KT_EDU_REG_DMA_SRC	0x80
#define KT_EDU_REG_DMA_DST	0x88
#define KT_EDU_REG_DMA_CNT	0x90
#define KT_EDU_REG_DMA_CMD	0x98
#define KT_EDU_CMD_RUN		0x1
#define KT_EDU_CMD_TO_RAM	0x2	/* edu buffer -> RAM */
#define KT_EDU_BUF_ADDR		0x40000ULL
#define KT_EDU_MASK		DMA_BIT_MASK(28)

/**
 * struct kt_edu - the one bound edu device
 * @pdev: the PCI device
 * @bar: BAR0 mapping
 * @lock: serializes device programming and protects @hold, @hold_domain,
 *	@held
 * @hold: the held translation of HOLD
 * @hold_domain: its domain (one reference)
 * @held: @hold is in use
 * @inval_calls: invalidate callbacks since the last HOLD
 */
struct kt_edu {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct mutex lock;	/* device programming, hold state */
	struct iommu_soft_xlate hold;
	struct iommu_soft_domain *hold_domain;
	bool held;
	atomic_t inval_calls;
};

static struct kt_edu *kt_edu_dev;

/* Owner callback counters (MAP_PAGES): updated from iommu_soft's unmap. */
static atomic64_t kt_edu_released;
static atomic64_t kt_edu_last_iova;
static atomic64_t kt_edu_last_npages;
static atomic_t kt_edu_release_calls;

static void kt_edu_owner_release(void *priv, u64 iova, struct page **pages,
				 unsigned long npages)
{
	unsigned long i;

	unpin_user_pages(pages, npages);
	atomic64_add(npages, &kt_edu_released);
	atomic64_set(&kt_edu_last_iova, iova);
	atomic64_set(&kt_edu_last_npages, npages);
	atomic_inc(&kt_edu_release_calls);
	for (i = 0; i < npages; i++)
		module_put(THIS_MODULE);
}

static const struct iommu_soft_page_owner kt_edu_owner = {
	.release = kt_edu_owner_release,
};

static int kt_edu_map_pages(struct kt_edu_xfer *a)
{
	unsigned long npages = a->len / PAGE_SIZE, i;
	struct iommu_soft_domain *d;
	struct page **pages;
	int ret, pinned;

	if (!npages || npages > 64 || a->len % PAGE_SIZE)
		return -EINVAL;
	d = iommu_soft_domain_get_by_id(a->domain_id);
	if (!d)
		return -ENOENT;
	pages = kcalloc(npages, sizeof(*pages), GFP_KERNEL);
	ret = -ENOMEM;
	if (!pages)
		goto out_put;
	pinned = pin_user_pages_fast(a->uaddr, npages, FOLL_WRITE | FOLL_LONGTERM,
				     pages);
	if (pinned < 0) {
		ret = pinned;
		goto out_free;
	}
	ret = -EFAULT;
	if (pinned != npages)
		goto out_unpin;
	for (i = 0; i < npages; i++)
		__module_get(THIS_MODULE);
	ret = iommu_soft_map_pages(d, a->iova, pages, npages, a->flags,
				   &kt_edu_owner);
	if (!ret)
		goto out_free;
	for (i = 0; i < npages; i++)
		module_put(THIS_MODULE);
out_unpin:
	unpin_user_pages(pages, pinned);
out_free:
	kfree(pages);
out_put:
	iommu_soft_domain_put(d);
	return ret;
}

static int kt_edu_wait(struct kt_edu *e)
{
	unsigned int i;

	/* edu completes 100 ms of virtual time after the start. */
	for (i = 0; i < 3000; i++) {
		if (!(readl(e->bar + KT_EDU_REG_DMA_CMD) & KT_EDU_CMD_RUN))
			return 0;
		msleep(20);
	}
	return -ETIMEDOUT;
}

static int kt_edu_dma(struct kt_edu *e, struct kt_edu_xfer *a)
{
	enum dma_data_direction dir;
	struct iommu_soft_domain *d;
	struct iommu_soft_xlate x;
	u64 dev_addr, cmd;
	int ret;

	/* Strictly inside edu's buffer: the end must stay below 0x41000. */
	if (!a->len || a->len >= KT_EDU_BUF_SIZE || a->dev_off >= KT_EDU_BUF_SIZE ||
	    a->dev_off + a->len >= KT_EDU_BUF_SIZE)
		return -EINVAL;
	dir = a->op == KT_EDU_OP_TO_DEVICE ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	d = iommu_soft_domain_get_by_id(a->domain_id);
	if (!d)
		return -ENOENT;
	ret = iommu_soft_translate(d, &e->pdev->dev, a->iova, a->len, dir, &x);
	if (ret)
		goto out_put;
	a->bounced = x.bounced;
	if (x.dma_addr > KT_EDU_MASK || x.dma_addr + a->len - 1 > KT_EDU_MASK) {
		ret = -EIO;	/* edu would clamp it: never program it */
		goto out_release;
	}
	dev_addr = KT_EDU_BUF_ADDR + a->dev_off;
	if (dir == DMA_TO_DEVICE) {
		writeq(x.dma_addr, e->bar + KT_EDU_REG_DMA_SRC);
		writeq(dev_addr, e->bar + KT_EDU_REG_DMA_DST);
		cmd = KT_EDU_CMD_RUN;
	} else {
		writeq(dev_addr, e->bar + KT_EDU_REG_DMA_SRC);
		writeq(x.dma_addr, e->bar + KT_EDU_REG_DMA_DST);
		cmd = KT_EDU_CMD_RUN | KT_EDU_CMD_TO_RAM;
	}
	writeq(a->len, e->bar + KT_EDU_REG_DMA_CNT);
	writeq(cmd, e->bar + KT_EDU_REG_DMA_CMD);
	ret = kt_edu_wait(e);
	if (ret) {
		/* The device may still write: keep the pages held for good. */
		pci_err(e->pdev, "DMA did not complete; leaking its translation\n");
		goto out_put;
	}
out_release:
	iommu_soft_xlate_release(&x);
out_put:
	iommu_soft_domain_put(d);
	return ret;
}

static void kt_edu_inval(void *priv, u64 first, u64 last)
{
	struct kt_edu *e = priv;

	atomic_inc(&e->inval_calls);
}

static int __kt_edu_hold(struct kt_edu *e, struct kt_edu_xfer *a)
{
	enum dma_data_direction dir;
	struct iommu_soft_domain *d;
	int ret;

	lockdep_assert_held(&e->lock);
	if (e->held)
		return -EBUSY;
	dir = a->flags & KT_EDU_F_FROM_DEVICE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	d = iommu_soft_domain_get_by_id(a->domain_id);
	if (!d)
		return -ENOENT;
	if (a->flags & KT_EDU_F_MASK64)
		dma_set_mask_and_coherent(&e->pdev->dev, DMA_BIT_MASK(64));
	ret = iommu_soft_translate(d, &e->pdev->dev, a->iova, a->len, dir,
				   &e->hold);
	if (a->flags & KT_EDU_F_MASK64)
		dma_set_mask_and_coherent(&e->pdev->dev, KT_EDU_MASK);
	if (ret) {
		iommu_soft_domain_put(d);
		return ret;
	}
	a->bounced = e->hold.bounced;
	atomic_set(&e->inval_calls, 0);
	iommu_soft_domain_set_invalidate(d, kt_edu_inval, e);
	e->hold_domain = d;
	e->held = true;
	return 0;
}

static int __kt_edu_release(struct kt_edu *e, struct kt_edu_xfer *a)
{
	lockdep_assert_held(&e->lock);
	if (!e->held)
		return -ENOENT;
	iommu_soft_domain_set_invalidate(e->hold_domain, NULL, NULL);
	if (a) {
		a->bounced = e->hold.bounced;
		a->revoked = e->hold.revoked;
		a->inval_calls = atomic_read(&e->inval_calls);
	}
	iommu_soft_xlate_release(&e->hold);
	iommu_soft_domain_put(e->hold_domain);
	e->hold_domain = NULL;
	e->held = false;
	return 0;
}

static long kt_edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kt_edu *e = kt_edu_dev;
	struct kt_edu_xfer a;
	long ret;

	if (cmd != KT_EDU_XFER)
		return -ENOTTY;
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	a.bounced = 0;
	a.revoked = 0;
	a.inval_calls = 0;

	switch (a.op) {
	case KT_EDU_OP_TO_DEVICE:
	case KT_EDU_OP_FROM_DEVICE:
		mutex_lock(&e->lock);
		ret = kt_edu_dma(e, &a);
		mutex_unlock(&e->lock);
		break;
	case KT_EDU_OP_HOLD:
		mutex_lock(&e->lock);
		ret = __kt_edu_hold(e, &a);
		mutex_unlock(&e->lock);
		break;
	case KT_EDU_OP_RELEASE:
		mutex_lock(&e->lock);
		ret = __kt_edu_release(e, &a);
		mutex_unlock(&e->lock);
		break;
	case KT_EDU_OP_MAP_PAGES:
		ret = kt_edu_map_pages(&a);
		break;
	case KT_EDU_OP_STATUS:
		a.released_pages = atomic64_read(&kt_edu_released);
		a.last_iova = atomic64_read(&kt_edu_last_iova);
		a.last_npages = atomic64_read(&kt_edu_last_npages);
		a.release_calls = atomic_read(&kt_edu_release_calls);
		ret = 0;
		break;
	default:
		return -EINVAL;
	}
	if (!ret && copy_to_user((void __user *)arg, &a, sizeof(a)))
		ret = -EFAULT;
	return ret;
}

static int kt_edu_release(struct inode *inode, struct file *file)
{
	struct kt_edu *e = kt_edu_dev;

	mutex_lock(&e->lock);
	__kt_edu_release(e, NULL);
	mutex_unlock(&e->lock);
	return 0;
}

static const struct file_operations kt_edu_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= kt_edu_ioctl,
	.release	= kt_edu_release,
	.llseek		= noop_llseek,
};

static struct miscdevice kt_edu_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kt_edu",
	.fops	= &kt_edu_fops,
	.mode	= 0600,
};

static int kt_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct kt_edu *e;
	int ret;

	if (kt_edu_dev)
		return -EBUSY;
	e = devm_kzalloc(&pdev->dev, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->pdev = pdev;
	mutex_init(&e->lock);
	ret = pci_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_region(pdev, 0, "kt_edu");
	if (ret)
		goto err_disable;
	e->bar = pci_iomap(pdev, 0, 0);
	if (!e->bar) {
		ret = -ENOMEM;
		goto err_region;
	}
	ret = -ENODEV;
	if ((readl(e->bar + KT_EDU_REG_ID) & 0xff) != 0xed)
		goto err_unmap;
	ret = dma_set_mask_and_coherent(&pdev->dev, KT_EDU_MASK);
	if (ret)
		goto err_unmap;
	pci_set_master(pdev);
	pci_set_drvdata(pdev, e);
	kt_edu_dev = e;
	ret = misc_register(&kt_edu_misc);
	if (ret)
		goto err_master;
	return 0;

err_master:
	kt_edu_dev = NULL;
	pci_clear_master(pdev);
err_unmap:
	pci_iounmap(pdev, e->bar);
err_region:
	pci_release_region(pdev, 0);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void kt_edu_remove(struct pci_dev *pdev)
{
	struct kt_edu *e = pci_get_drvdata(pdev);

	misc_deregister(&kt_edu_misc);
	kt_edu_dev = NULL;
	pci_clear_master(pdev);
	pci_iounmap(pdev, e->bar);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
}

static const struct pci_device_id kt_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, kt_edu_ids);

static struct pci_driver kt_edu_driver = {
	.name		= "kt_edu",
	.id_table	= kt_edu_ids,
	.probe		= kt_edu_probe,
	.remove		= kt_edu_remove,
};
module_pci_driver(kt_edu_driver);

MODULE_DESCRIPTION("kvmio test-only module: QEMU edu DMA through iommu_soft");
MODULE_LICENSE("GPL");
