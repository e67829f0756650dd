// SPDX-License-Identifier: GPL-2.0
/*
 * kt_sticky: test-only module that cannot be unloaded (no exit function).
 *
 * The meta tests load it to check that a module which fails to unload makes
 * the run fail.
 */
#include <linux/module.h>

static int __init kt_sticky_init(void)
{
	pr_info("loaded; it has no exit function and cannot be unloaded\n");
	return 0;
}

module_init(kt_sticky_init);

MODULE_DESCRIPTION("kvmio test-only module: refuses to unload");
MODULE_LICENSE("GPL");
