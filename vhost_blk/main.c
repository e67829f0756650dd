// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk: in-kernel virtio-blk backend driven by the vhost uAPI
 *
 * Module skeleton: it loads, reports the suite version and unloads.  It
 * provides no capability yet; see Documentation/vhost_blk.rst for the plan.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kvmio/version.h"

static int __init vhost_blk_init(void)
{
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;
}

static void __exit vhost_blk_exit(void)
{
	pr_info("unloaded\n");
}

module_init(vhost_blk_init);
module_exit(vhost_blk_exit);

MODULE_DESCRIPTION("in-kernel virtio-blk backend driven by the vhost uAPI");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
