// SPDX-License-Identifier: GPL-2.0
/*
 * irq_remap: software interrupt remapping to guest eventfds
 *
 * Module skeleton: it loads, reports the suite version and unloads.  It
 * provides no capability yet; see Documentation/irq_remap.rst for the plan.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kvmio/version.h"

static int __init irq_remap_init(void)
{
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;
}

static void __exit irq_remap_exit(void)
{
	pr_info("unloaded\n");
}

module_init(irq_remap_init);
module_exit(irq_remap_exit);

MODULE_DESCRIPTION("software interrupt remapping to guest eventfds");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
