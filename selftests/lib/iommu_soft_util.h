/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommu_soft_util.h - /dev/iommu_soft calls shared by the iommu_soft tests.
 * Each returns what ioctl() returns (0, or -1 with errno), except
 * do_unmap(), which returns the bytes unmapped or -1.
 */
#ifndef _IOMMU_SOFT_UTIL_H
#define _IOMMU_SOFT_UTIL_H

#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/iommu_soft.h>

#define PG		4096ULL

static inline int dom_create(int fd, uint32_t width, uint32_t *id)
{
	struct iommu_soft_domain_create c = {
		.argsz = sizeof(c), .addr_width = width,
	};
	int ret = ioctl(fd, IOMMU_SOFT_DOMAIN_CREATE, &c);

	*id = ret ? 0 : c.domain_id;
	return ret;
}

static inline int dom_destroy(int fd, uint32_t id)
{
	struct iommu_soft_domain_destroy d = { .argsz = sizeof(d), .domain_id = id };

	return ioctl(fd, IOMMU_SOFT_DOMAIN_DESTROY, &d);
}

static inline int do_map(int fd, uint32_t id, uint64_t iova, void *vaddr,
			 uint64_t size, uint32_t flags)
{
	struct iommu_soft_map m = {
		.argsz = sizeof(m), .flags = flags, .domain_id = id,
		.iova = iova, .vaddr = (uintptr_t)vaddr, .size = size,
	};

	return ioctl(fd, IOMMU_SOFT_MAP, &m);
}

static inline long long do_unmap(int fd, uint32_t id, uint64_t iova, uint64_t size)
{
	struct iommu_soft_unmap u = {
		.argsz = sizeof(u), .domain_id = id, .iova = iova, .size = size,
	};

	if (ioctl(fd, IOMMU_SOFT_UNMAP, &u))
		return -1;
	return (long long)u.size;
}

static inline int dma_rw(int fd, uint32_t id, uint64_t iova, void *buf,
			 uint64_t len, int write)
{
	struct iommu_soft_dma_rw r = {
		.argsz = sizeof(r), .domain_id = id, .iova = iova,
		.buf = (uintptr_t)buf, .len = len,
		.flags = write ? IOMMU_SOFT_DMA_RW_WRITE : 0,
	};

	return ioctl(fd, IOMMU_SOFT_DMA_RW, &r);
}

static inline int get_stats(int fd, uint32_t id, struct iommu_soft_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->argsz = sizeof(*st);
	st->domain_id = id;
	return ioctl(fd, IOMMU_SOFT_GET_STATS, st);
}

static inline int get_faults(int fd, uint32_t id, struct iommu_soft_fault_record *r,
			     uint32_t max, struct iommu_soft_get_faults *g)
{
	memset(g, 0, sizeof(*g));
	g->argsz = sizeof(*g);
	g->domain_id = id;
	g->count = max;
	g->records = (uintptr_t)r;
	return ioctl(fd, IOMMU_SOFT_GET_FAULTS, g);
}

/* @n zeroed anonymous pages, or NULL. */
static inline void *pages(size_t n)
{
	void *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, n * PG);
	return p;
}

#endif /* _IOMMU_SOFT_UTIL_H */
