// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft: software DMA remapping for devices assigned without a hardware
 * IOMMU.  Module parameters, init and exit.
 *
 * Files: domain.c (domains, mappings, pinning), xlate.c (translation for a
 * device, CPU-side access, held translations), iotlb.c (translation cache),
 * fault.c (fault log), sysfs.c (per-domain statistics), uapi.c
 * (/dev/iommu_soft).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/moduleparam.h>
#include <linux/build_bug.h>
#include <linux/mm.h>

#include "kvmio/version.h"
#include "iommu_soft_priv.h"

unsigned int iommu_soft_max_mappings = 65536;
module_param_named(max_mappings, iommu_soft_max_mappings, uint, 0644);
MODULE_PARM_DESC(max_mappings, "most mappings in one domain (default 65536)");

unsigned long iommu_soft_max_map_bytes = 1UL << 30;
module_param_named(max_map_bytes, iommu_soft_max_map_bytes, ulong, 0644);
MODULE_PARM_DESC(max_map_bytes, "largest single map request in bytes (default 1 GiB)");

unsigned int iommu_soft_max_xlate_bytes = 1U << 20;
module_param_named(max_xlate_bytes, iommu_soft_max_xlate_bytes, uint, 0644);
MODULE_PARM_DESC(max_xlate_bytes,
		 "largest translation or device access in bytes (default 1 MiB, at most 16 MiB)");

unsigned int iommu_soft_fault_log_size = 64;
module_param_named(fault_log_size, iommu_soft_fault_log_size, uint, 0644);
MODULE_PARM_DESC(fault_log_size,
		 "fault records kept per domain, taken at domain creation (default 64, 1..4096)");

unsigned int iommu_soft_iotlb_size = 64;
module_param_named(iotlb_size, iommu_soft_iotlb_size, uint, 0644);
MODULE_PARM_DESC(iotlb_size,
		 "IOTLB entries per domain, taken at domain creation, rounded down to a power of two (default 64, 1..4096)");

unsigned int iommu_soft_unmap_wait_ms = 2000;
module_param_named(unmap_wait_ms, iommu_soft_unmap_wait_ms, uint, 0644);
MODULE_PARM_DESC(unmap_wait_ms,
		 "how long unmap waits for held translations before revoking them (default 2000 ms)");

static int __init iommu_soft_init(void)
{
	int ret;

	/* uAPI map flags and fault directions are used as permissions. */
	BUILD_BUG_ON(IOMMU_SOFT_MAP_READ != IOMMU_SOFT_PERM_READ);
	BUILD_BUG_ON(IOMMU_SOFT_MAP_WRITE != IOMMU_SOFT_PERM_WRITE);
	BUILD_BUG_ON(IOMMU_SOFT_DIR_READ != IOMMU_SOFT_PERM_READ);
	BUILD_BUG_ON(IOMMU_SOFT_DIR_WRITE != IOMMU_SOFT_PERM_WRITE);
	BUILD_BUG_ON(PAGE_SIZE != IOMMU_SOFT_PAGE_SIZE);

	ret = iommu_soft_domains_init();
	if (ret)
		return ret;
	ret = iommu_soft_sysfs_init();
	if (ret)
		goto err_domains;
	ret = iommu_soft_uapi_init();
	if (ret)
		goto err_sysfs;
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;

err_sysfs:
	iommu_soft_sysfs_exit();
err_domains:
	iommu_soft_domains_exit();
	return ret;
}

static void __exit iommu_soft_exit(void)
{
	iommu_soft_uapi_exit();
	iommu_soft_sysfs_exit();
	iommu_soft_domains_exit();
	pr_info("unloaded\n");
}

module_init(iommu_soft_init);
module_exit(iommu_soft_exit);

MODULE_DESCRIPTION("software DMA remapping for devices assigned without a hardware IOMMU");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
