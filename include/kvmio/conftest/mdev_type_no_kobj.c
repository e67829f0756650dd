// SPDX-License-Identifier: GPL-2.0
/* 6.1+ mdev: parents pass an array of struct mdev_type with a sysfs_name. */
#include <linux/mdev.h>

int probe(void);
int probe(void)
{
	struct mdev_type t = { .sysfs_name = "x" };

	return t.sysfs_name != NULL;
}
