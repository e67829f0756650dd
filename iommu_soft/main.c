// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft: software DMA remapping for devices assigned without a hardware IOMMU
 *
 * Module skeleton: it loads, reports the suite version and unloads.  It
 * provides no capability yet; see Documentation/iommu_soft.rst for the plan.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kvmio/version.h"

static int __init iommu_soft_init(void)
{
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;
}

static void __exit iommu_soft_exit(void)
{
	pr_info("unloaded\n");
}

module_init(iommu_soft_init);
module_exit(iommu_soft_exit);

MODULE_DESCRIPTION("software DMA remapping for devices assigned without a hardware IOMMU");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
