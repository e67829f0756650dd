// SPDX-License-Identifier: GPL-2.0
/* vfio_device_ops grew iommufd bind callbacks in 6.2. */
#include <linux/vfio.h>

int probe(void);
int probe(void)
{
	struct vfio_device_ops ops = { .bind_iommufd = NULL };

	return ops.bind_iommufd != NULL;
}
