// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: assignment of ordinary PCI devices to KVM guests as VFIO mediated devices
 *
 * Module skeleton: it loads, reports the suite version and unloads.  It
 * provides no capability yet; see Documentation/kvm_assign.rst for the plan.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kvmio/version.h"

static int __init kvm_assign_init(void)
{
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;
}

static void __exit kvm_assign_exit(void)
{
	pr_info("unloaded\n");
}

module_init(kvm_assign_init);
module_exit(kvm_assign_exit);

MODULE_DESCRIPTION("assignment of ordinary PCI devices to KVM guests as VFIO mediated devices");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
