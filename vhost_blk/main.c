// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk: in-kernel virtio-blk backend driven by the vhost uAPI
 *
 * Module set-up: the /dev/vhost-blk misc device and /sys/kernel/vhost_blk.  Each
 * open of the device is one virtio-blk device (dev.c).
 */
#include <linux/init.h>
#include <linux/kobject.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "kvmio/version.h"
#include "vhost_blk_priv.h"

struct kobject *vblk_sysfs_root;

static const struct file_operations vblk_fops = {
	.owner		= THIS_MODULE,
	.open		= vblk_open,
	.release	= vblk_release,
	.unlocked_ioctl	= vblk_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vblk_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vhost-blk",
	.fops	= &vblk_fops,
	.mode	= 0600,
};

static int __init vblk_init(void)
{
	int ret;

	vblk_sysfs_root = kobject_create_and_add("vhost_blk", kernel_kobj);
	if (!vblk_sysfs_root)
		return -ENOMEM;
	ret = misc_register(&vblk_misc);
	if (ret)
		goto err_sysfs;
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;

err_sysfs:
	kobject_put(vblk_sysfs_root);
	return ret;
}

static void __exit vblk_exit(void)
{
	misc_deregister(&vblk_misc);
	kobject_put(vblk_sysfs_root);
	pr_info("unloaded\n");
}

module_init(vblk_init);
module_exit(vblk_exit);

MODULE_DESCRIPTION("in-kernel virtio-blk backend driven by the vhost uAPI");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
