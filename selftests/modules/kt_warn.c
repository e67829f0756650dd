// SPDX-License-Identifier: GPL-2.0
/*
 * kt_warn: test-only module that triggers a kernel WARN on load.
 *
 * The harness must be able to fail: the meta tests load this module and
 * check that the run is judged failed because of the warning.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init kt_warn_init(void)
{
	WARN(1, "kt_warn: deliberate warning for the harness self-test\n");
	return 0;
}

static void __exit kt_warn_exit(void)
{
}

module_init(kt_warn_init);
module_exit(kt_warn_exit);

MODULE_DESCRIPTION("kvmio test-only module: WARN on load");
MODULE_LICENSE("GPL");
