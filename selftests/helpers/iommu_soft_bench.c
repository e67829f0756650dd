// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft_bench - benchmark, not a test: rate of 64-byte device reads
 * through a domain (IOMMU_SOFT_DMA_RW) when every page hits the IOTLB
 * versus when every access misses it (pages chosen to collide in the
 * direct-mapped cache).  Prints both rates and their ratio; absolute
 * figures mean little on a TCG test VM.
 *
 * Usage (in the test VM): iommu_soft_bench [iterations]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/iommu_soft.h>

#define PG	4096ULL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dma_read(int fd, uint32_t id, uint64_t iova, void *buf)
{
	struct iommu_soft_dma_rw r = {
		.argsz = sizeof(r), .domain_id = id, .iova = iova,
		.buf = (uintptr_t)buf, .len = 64,
	};

	return ioctl(fd, IOMMU_SOFT_DMA_RW, &r);
}

/* Reads cycling over @n pages @stride pages apart; returns reads/s. */
static double run(int fd, uint32_t id, unsigned long n, unsigned long stride,
		  unsigned long iters)
{
	unsigned char buf[64];
	unsigned long i;
	double t0;

	for (i = 0; i < n; i++)		/* warm up */
		if (dma_read(fd, id, i * stride * PG, buf))
			return -1;
	t0 = now();
	for (i = 0; i < iters; i++)
		if (dma_read(fd, id, (i % n) * stride * PG, buf))
			return -1;
	return iters / (now() - t0);
}

int main(int argc, char **argv)
{
	struct iommu_soft_domain_create c = { .argsz = sizeof(c), .addr_width = 48 };
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	unsigned long size = 64, pages;
	struct iommu_soft_map m = { .argsz = sizeof(m) };
	double hit, miss;
	char param[32];
	void *mem;
	FILE *f;
	int fd;

	f = fopen("/sys/module/iommu_soft/parameters/iotlb_size", "r");
	if (f) {
		if (fgets(param, sizeof(param), f))
			size = strtoul(param, NULL, 0);
		fclose(f);
	}
	if (!size || size > 4096 || !iters) {
		fprintf(stderr, "bad iotlb_size %lu or iterations\n", size);
		return 1;
	}
	/* Misses: 4 pages per cache slot, visited in turn. */
	pages = 4 * size;
	fd = open("/dev/iommu_soft", O_RDWR);
	if (fd < 0 || ioctl(fd, IOMMU_SOFT_DOMAIN_CREATE, &c)) {
		perror("iommu_soft");
		return 1;
	}
	mem = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	m.domain_id = c.domain_id;
	m.flags = IOMMU_SOFT_MAP_READ;
	m.vaddr = (uintptr_t)mem;
	m.size = pages * PG;
	if (ioctl(fd, IOMMU_SOFT_MAP, &m)) {
		perror("map");
		return 1;
	}
	hit = run(fd, c.domain_id, size / 2 ? size / 2 : 1, 1, iters);
	miss = run(fd, c.domain_id, 4, size, iters);
	if (hit < 0 || miss < 0) {
		perror("dma_rw");
		return 1;
	}
	printf("iommu_soft DMA_RW 64 B, iotlb_size %lu: hits %.0f/s, misses %.0f/s, ratio hit/miss %.2f\n",
	       size, hit, miss, hit / miss);
	close(fd);
	return 0;
}
