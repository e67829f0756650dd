// SPDX-License-Identifier: GPL-2.0
/*
 * kt_edu_guest: test-only driver loaded in a second-level guest to which an
 * edu device is assigned through kvm_assign (QEMU's vfio-pci,sysfsdev=).
 *
 * It drives the device the way any driver would, with the standard DMA
 * API, and prints one line per check on the console:
 *
 *	KT-EDU-GUEST: ok <check>
 *	KT-EDU-GUEST: not ok <check> (<detail>)
 *	KT-EDU-GUEST: done pass=N fail=M irqs=K
 *
 * The host side turns these lines into TAP.  The module parameter bad_dma
 * is a guest-physical address outside the guest's RAM: a transfer from it
 * must be refused on the host (and visible there as a refused DMA), move
 * nothing, and still complete for the guest.
 */
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "kvmio/edu.h"

static unsigned int bench;
module_param(bench, uint, 0444);
MODULE_PARM_DESC(bench, "instead of the checks, time this many interrupt round trips and register reads");

static unsigned long bad_dma = 0x0ff00000;
module_param(bad_dma, ulong, 0444);
MODULE_PARM_DESC(bad_dma, "guest-physical address outside RAM for the refused-DMA check");

struct kt_edu {
	void __iomem		*regs;
	struct completion	irq_done;
	u32			last_status;
	atomic_t		irqs;
	int			pass;
	int			fail;
};

static void kt_check(struct kt_edu *e, bool ok, const char *what, const char *detail)
{
	if (ok) {
		e->pass++;
		pr_info("KT-EDU-GUEST: ok %s\n", what);
	} else {
		e->fail++;
		pr_info("KT-EDU-GUEST: not ok %s (%s)\n", what, detail);
	}
}

static irqreturn_t kt_edu_irq(int irq, void *data)
{
	struct kt_edu *e = data;
	u32 status = ioread32(e->regs + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	iowrite32(status, e->regs + EDU_IRQ_ACK);
	e->last_status = status;
	atomic_inc(&e->irqs);
	complete(&e->irq_done);
	return IRQ_HANDLED;
}

static bool kt_wait_irq(struct kt_edu *e)
{
	return wait_for_completion_timeout(&e->irq_done, 20 * HZ) > 0;
}

static bool kt_dma(struct kt_edu *e, u64 src, u64 dst, u32 cnt, bool to_ram)
{
	reinit_completion(&e->irq_done);
	iowrite32(src, e->regs + EDU_DMA_SRC);
	iowrite32(dst, e->regs + EDU_DMA_DST);
	iowrite32(cnt, e->regs + EDU_DMA_CNT);
	iowrite32(EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0) | EDU_DMA_IRQ,
		  e->regs + EDU_DMA_CMD);
	return kt_wait_irq(e) && (e->last_status & EDU_IRQ_DMA) &&
	       !(ioread32(e->regs + EDU_DMA_CMD) & EDU_DMA_RUN);
}

static void kt_edu_run(struct pci_dev *pdev, struct kt_edu *e)
{
	dma_addr_t a_bus, b_bus;
	u8 *a, *b;
	int i, n;

	kt_check(e, ioread32(e->regs + EDU_ID) == 0x010000ed, "identification", "bad id");
	iowrite32(0x5555aaaa, e->regs + EDU_LIVENESS);
	kt_check(e, ioread32(e->regs + EDU_LIVENESS) == ~0x5555aaaaU, "liveness", "bad value");

	reinit_completion(&e->irq_done);
	iowrite32(0x80, e->regs + EDU_STATUS);
	iowrite32(6, e->regs + EDU_FACTORIAL);
	kt_check(e, kt_wait_irq(e) && ioread32(e->regs + EDU_FACTORIAL) == 720,
		 "factorial with interrupt", "no interrupt or wrong result");
	iowrite32(0, e->regs + EDU_STATUS);

	for (i = 0, n = 0; i < 10; i++) {
		reinit_completion(&e->irq_done);
		iowrite32(0x1000, e->regs + EDU_IRQ_RAISE);
		n += kt_wait_irq(e) && e->last_status == 0x1000;
	}
	kt_check(e, n == 10, "10 raised interrupts delivered", "some were lost");

	a = dma_alloc_coherent(&pdev->dev, PAGE_SIZE, &a_bus, GFP_KERNEL);
	b = dma_alloc_coherent(&pdev->dev, PAGE_SIZE, &b_bus, GFP_KERNEL);
	if (!a || !b) {
		kt_check(e, false, "dma buffers", "allocation failed");
		goto out;
	}
	for (i = 0; i < 512; i++)
		a[i] = i * 7 + 3;
	memset(b, 0, PAGE_SIZE);
	kt_check(e, kt_dma(e, a_bus, EDU_BUF_START, 512, false), "DMA guest RAM to device",
		 "no completion");
	kt_check(e, kt_dma(e, EDU_BUF_START, b_bus, 512, true), "DMA device to guest RAM",
		 "no completion");
	kt_check(e, !memcmp(a, b, 512), "DMA data round trip", "data differs");

	/* Outside guest RAM: refused on the host, nothing moves. */
	memset(b, 0, PAGE_SIZE);
	kt_check(e, kt_dma(e, bad_dma, EDU_BUF_START, 512, false),
		 "bad DMA address completes for the guest", "no completion");
	kt_check(e, kt_dma(e, EDU_BUF_START, b_bus, 512, true), "DMA after the refused one",
		 "no completion");
	kt_check(e, !memcmp(a, b, 512), "refused DMA moved nothing", "device buffer changed");

out:
	if (a)
		dma_free_coherent(&pdev->dev, PAGE_SIZE, a, a_bus);
	if (b)
		dma_free_coherent(&pdev->dev, PAGE_SIZE, b, b_bus);
}

static int kt_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Not a check: what a guest driver sees.  Interrupt round trip = write the
 * raise register, the handler acknowledges and completes; register read =
 * one ioread32 of the liveness register.  Prints medians.
 */
static void kt_edu_bench(struct kt_edu *e, unsigned int n)
{
	u64 *rt = kcalloc(n, sizeof(u64), GFP_KERNEL);
	u64 *rd = kcalloc(n, sizeof(u64), GFP_KERNEL);
	unsigned int i, lost = 0;
	u64 t0;

	if (!rt || !rd)
		goto out;
	for (i = 0; i < n; i++) {
		reinit_completion(&e->irq_done);
		t0 = ktime_get_ns();
		iowrite32(0x2000, e->regs + EDU_IRQ_RAISE);
		if (!wait_for_completion_timeout(&e->irq_done, 5 * HZ))
			lost++;
		rt[i] = ktime_get_ns() - t0;
	}
	for (i = 0; i < n; i++) {
		t0 = ktime_get_ns();
		ioread32(e->regs + EDU_LIVENESS);
		rd[i] = ktime_get_ns() - t0;
	}
	sort(rt, n, sizeof(u64), kt_cmp_u64, NULL);
	sort(rd, n, sizeof(u64), kt_cmp_u64, NULL);
	pr_info("KT-EDU-GUEST: bench irq_rt_ns=%llu irq_rt_p90_ns=%llu reg_rd_ns=%llu rounds=%u lost=%u\n",
		rt[n / 2], rt[n * 9 / 10], rd[n / 2], n, lost);
out:
	kfree(rt);
	kfree(rd);
}

static int kt_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct kt_edu *e;
	int ret;

	e = devm_kzalloc(&pdev->dev, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	init_completion(&e->irq_done);
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	e->regs = pcim_iomap_table(pdev)[0];
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret)
		return ret;
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		return ret;
	ret = request_irq(pci_irq_vector(pdev, 0), kt_edu_irq, IRQF_SHARED,
			  KBUILD_MODNAME, e);
	if (ret)
		goto err_vectors;
	pr_info("KT-EDU-GUEST: probing %s with %s\n", pci_name(pdev),
		pdev->msi_enabled ? "MSI" : "INTx");

	if (bench)
		kt_edu_bench(e, bench);
	else
		kt_edu_run(pdev, e);
	pr_info("KT-EDU-GUEST: done pass=%d fail=%d irqs=%d\n", e->pass, e->fail,
		atomic_read(&e->irqs));

	free_irq(pci_irq_vector(pdev, 0), e);
	pci_free_irq_vectors(pdev);
	return 0;

err_vectors:
	pci_free_irq_vectors(pdev);
	return ret;
}

static const struct pci_device_id kt_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, kt_edu_ids);

static struct pci_driver kt_edu_driver = {
	.name		= "kt_edu_guest",
	.id_table	= kt_edu_ids,
	.probe		= kt_edu_probe,
};
module_pci_driver(kt_edu_driver);

MODULE_DESCRIPTION("kvmio test-only guest driver for an assigned edu device");
MODULE_LICENSE("GPL");
