// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk: in-kernel virtio-blk backend driven by the vhost uAPI
 *
 * Module set-up: the /dev/vhost-blk misc device and the debugfs root.  Each
 * open of the device is one virtio-blk device (dev.c).
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "kvmio/version.h"
#include "vhost_blk_priv.h"

struct dentry *vblk_debugfs_root;

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

	vblk_debugfs_root = debugfs_create_dir("vhost_blk", NULL);
	ret = misc_register(&vblk_misc);
	if (ret)
		goto err_debugfs;
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;

err_debugfs:
	debugfs_remove_recursive(vblk_debugfs_root);
	return ret;
}

static void __exit vblk_exit(void)
{
	misc_deregister(&vblk_misc);
	debugfs_remove_recursive(vblk_debugfs_root);
	pr_info("unloaded\n");
}

module_init(vblk_init);
module_exit(vblk_exit);

MODULE_DESCRIPTION("in-kernel virtio-blk backend driven by the vhost uAPI");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
