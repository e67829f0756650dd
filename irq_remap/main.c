// SPDX-License-Identifier: GPL-2.0
/*
 * irq_remap: software interrupt remapping to guest eventfds
 *
 * Module set-up and parameters.  Tables and entries: table.c; the delivery
 * path: deliver.c; the fault log: fault.c; /dev/irq_remap: uapi.c; sysfs:
 * sysfs.c.  See Documentation/irq_remap.rst.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "kvmio/version.h"
#include "irq_remap_priv.h"

unsigned int irq_remap_max_tables = 256;
unsigned int irq_remap_max_entries = 2048;
unsigned int irq_remap_fault_log_size = 256;
unsigned int irq_remap_default_coalesce_us;

static int irq_remap_param_tables(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 65536);
}

static int irq_remap_param_entries(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 65536);
}

static int irq_remap_param_log(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 65536);
}

static int irq_remap_param_coalesce(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, IRQ_REMAP_MAX_COALESCE_US);
}

static const struct kernel_param_ops irq_remap_tables_ops = {
	.set = irq_remap_param_tables,
	.get = param_get_uint,
};

static const struct kernel_param_ops irq_remap_entries_ops = {
	.set = irq_remap_param_entries,
	.get = param_get_uint,
};

static const struct kernel_param_ops irq_remap_log_ops = {
	.set = irq_remap_param_log,
	.get = param_get_uint,
};

static const struct kernel_param_ops irq_remap_coalesce_ops = {
	.set = irq_remap_param_coalesce,
	.get = param_get_uint,
};

module_param_cb(max_tables, &irq_remap_tables_ops, &irq_remap_max_tables, 0644);
MODULE_PARM_DESC(max_tables, "Most tables alive at once (0..65536, default 256)");
module_param_cb(max_entries, &irq_remap_entries_ops, &irq_remap_max_entries, 0644);
MODULE_PARM_DESC(max_entries, "Most entries per new table (1..65536, default 2048)");
module_param_cb(fault_log_size, &irq_remap_log_ops, &irq_remap_fault_log_size, 0644);
MODULE_PARM_DESC(fault_log_size, "Fault records kept per new table (1..65536, default 256)");
module_param_cb(default_coalesce_us, &irq_remap_coalesce_ops,
		&irq_remap_default_coalesce_us, 0644);
MODULE_PARM_DESC(default_coalesce_us,
		 "Coalescing interval of new tables in us (0 = off, default 0)");

static int __init irq_remap_init(void)
{
	int ret;

	ret = irq_remap_sysfs_init();
	if (ret)
		return ret;
	ret = irq_remap_uapi_init();
	if (ret)
		goto err_sysfs;
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;

err_sysfs:
	irq_remap_sysfs_exit();
	return ret;
}

static void __exit irq_remap_exit(void)
{
	irq_remap_uapi_exit();
	irq_remap_sysfs_exit();
	pr_info("unloaded\n");
}

module_init(irq_remap_init);
module_exit(irq_remap_exit);

MODULE_DESCRIPTION("software interrupt remapping to guest eventfds");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
