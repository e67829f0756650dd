/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_vfio.h - an mdev opened through VFIO as a VMM opens it, shared by the
 * tests: the context created on its parent, a new container of a given
 * IOMMU type, the group, the device; region info; DMA map and unmap.
 *
 * Each helper returns 0, or -1 with errno set.  Set-up steps that fail
 * also print the step as a TAP comment ("# kt_vfio: <uuid>: <step>:
 * <error>"), so that an ASSERT_OK() on them says which one it was.
 */
#ifndef _KT_VFIO_H
#define _KT_VFIO_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>

#include "kt_sysfs.h"

/* Creates mdev @uuid of type @type ("kvm_assign-edu") on PCI device @bdf. */
static inline int kt_mdev_create(const char *bdf, const char *type, const char *uuid)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/mdev_supported_types/%s/create",
		 bdf, type);
	return kt_write_str(path, uuid);
}

/* Removes mdev @uuid (waits for its device to be closed). */
static inline int kt_mdev_remove(const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", uuid);
	return kt_write_str(path, "1");
}

/* Prints which step of opening @uuid failed; -1 with errno kept. */
static inline int kt_vfio_fail(const char *uuid, const char *step)
{
	int err = errno;

	printf("# kt_vfio: %s: %s: %s\n", uuid, step, strerror(err));
	fflush(stdout);
	errno = err;
	return -1;
}

/*
 * Opens the IOMMU group of mdev @uuid in a new container of IOMMU type
 * @type (VFIO_TYPE1v2_IOMMU: type1 pins pages for an mdev only in a v2
 * container, as QEMU sets it up), checking what a VMM checks on the way:
 * the API version, the extension, a viable group.  *@container and
 * *@group are -1 until opened; the caller closes them (kt_vfio_close())
 * whether this succeeds or not.
 */
static inline int kt_vfio_open_group(const char *uuid, unsigned long type, int *container,
				     int *group)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	char path[512], link[256];
	const char *name;
	ssize_t n;

	*container = *group = -1;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return kt_vfio_fail(uuid, "readlink iommu_group");
	link[n] = 0;
	name = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%s", name ? name + 1 : link);

	*container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (*container < 0)
		return kt_vfio_fail(uuid, "open /dev/vfio/vfio");
	errno = EPROTO;
	if (ioctl(*container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return kt_vfio_fail(uuid, "VFIO_GET_API_VERSION is not VFIO_API_VERSION");
	errno = EOPNOTSUPP;
	if (ioctl(*container, VFIO_CHECK_EXTENSION, type) <= 0)
		return kt_vfio_fail(uuid, "VFIO_CHECK_EXTENSION of the IOMMU type");
	*group = open(path, O_RDWR | O_CLOEXEC);
	if (*group < 0)
		return kt_vfio_fail(uuid, path);
	if (ioctl(*group, VFIO_GROUP_GET_STATUS, &gs))
		return kt_vfio_fail(uuid, "VFIO_GROUP_GET_STATUS");
	errno = EPERM;
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return kt_vfio_fail(uuid, "group not viable");
	if (ioctl(*group, VFIO_GROUP_SET_CONTAINER, container))
		return kt_vfio_fail(uuid, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(*container, VFIO_SET_IOMMU, type))
		return kt_vfio_fail(uuid, "VFIO_SET_IOMMU");
	return 0;
}

/* The device fd of mdev @uuid from its open @group into *@device (-1 on failure). */
static inline int kt_vfio_open_device(const char *uuid, int group, int *device)
{
	*device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	return *device < 0 ? kt_vfio_fail(uuid, "VFIO_GROUP_GET_DEVICE_FD") : 0;
}

/* kt_vfio_open_group(), then kt_vfio_open_device(); *@device -1 until open. */
static inline int kt_vfio_open_mdev(const char *uuid, unsigned long type, int *container,
				    int *group, int *device)
{
	*device = -1;
	if (kt_vfio_open_group(uuid, type, container, group))
		return -1;
	return kt_vfio_open_device(uuid, *group, device);
}

/* Closes device, group and container (those >= 0) and sets them to -1. */
static inline void kt_vfio_close(int *container, int *group, int *device)
{
	if (*device >= 0)
		close(*device);
	if (*group >= 0)
		close(*group);
	if (*container >= 0)
		close(*container);
	*device = *group = *container = -1;
}

/* The info of region @index (VFIO_PCI_*_REGION_INDEX) without capabilities. */
static inline int kt_vfio_region(int device, unsigned int index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(device, VFIO_DEVICE_GET_REGION_INFO, ri);
}

/* The offset of region @index in the device file into *@off. */
static inline int kt_vfio_region_offset(int device, unsigned int index, uint64_t *off)
{
	struct vfio_region_info ri;

	if (kt_vfio_region(device, index, &ri))
		return -1;
	*off = ri.offset;
	return 0;
}

/* Maps @size bytes of user memory at @vaddr at @iova in the container;
 * @flags: VFIO_DMA_MAP_FLAG_READ and / or VFIO_DMA_MAP_FLAG_WRITE. */
static inline int kt_vfio_map(int container, const void *vaddr, uint64_t iova, uint64_t size,
			      uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

/* Unmaps [@iova, @iova + @size); what type1 unmapped into *@unmapped (if
 * not NULL). */
static inline int kt_vfio_unmap(int container, uint64_t iova, uint64_t size,
				uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap un = {
		.argsz = sizeof(un),
		.iova = iova,
		.size = size,
	};
	int ret = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &un);

	if (unmapped)
		*unmapped = un.size;
	return ret;
}

#endif /* _KT_VFIO_H */
