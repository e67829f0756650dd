// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft_test - domain semantics of the software IOMMU through
 * /dev/iommu_soft: argument checking, map / DMA_RW round trips, permission
 * and not-present faults, partial unmaps, memlock accounting, the fault log
 * and its eventfd, the IOTLB, concurrency and clean-up at process exit.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/iommu_soft.h>

#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/iommu_soft_util.h"

#define DEV		"/dev/iommu_soft"

static int dev_open(void)
{
	return open(DEV, O_RDWR | O_CLOEXEC);
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

FIXTURE(dom) {
	int fd;
	uint32_t id;
	unsigned char *buf;	/* 16 pages */
};

FIXTURE_SETUP(dom)
{
	self->fd = dev_open();
	ASSERT_GE(self->fd, 0);
	ASSERT_OK(dom_create(self->fd, 48, &self->id));
	ASSERT_GT(self->id, 0);
	self->buf = pages(16);
	ASSERT_TRUE(self->buf != NULL);
}

FIXTURE_TEARDOWN(dom)
{
	if (self->fd > 0)
		close(self->fd);
	if (self->buf)
		munmap(self->buf, 16 * PG);
}

/* Bad map requests get the documented errno and are counted. */

TEST_F(dom, bad_maps_rejected)
{
	struct iommu_soft_stats st;
	uint32_t id32 = 0;
	int fd = self->fd;
	void *b = self->buf;

	ASSERT_ERRNO(do_map(fd, self->id, 0x10000, b, 0, IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0x10800, b, PG, IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0x10000, self->buf + 8, PG,
			    IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0x10000, b, PG + 1, IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0x10000, b, PG, 0), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0x10000, b, PG, 1U << 5), EINVAL);
	/* Beyond the 48-bit width, and wrapping. */
	ASSERT_ERRNO(do_map(fd, self->id, 1ULL << 48, b, PG, IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, (1ULL << 48) - PG, b, 2 * PG,
			    IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_ERRNO(do_map(fd, self->id, 0xfffffffffffff000ULL, b, 2 * PG,
			    IOMMU_SOFT_MAP_READ), EINVAL);
	/* Above max_map_bytes (1 GiB): refused before anything is pinned. */
	ASSERT_ERRNO(do_map(fd, self->id, 0, b, 2ULL << 30, IOMMU_SOFT_MAP_READ), E2BIG);
	/* A 64-bit domain: the wrap is still refused. */
	ASSERT_OK(dom_create(fd, 64, &id32));
	ASSERT_ERRNO(do_map(fd, id32, 0xfffffffffffff000ULL, b, 2 * PG,
			    IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_OK(do_map(fd, id32, 0xfffffffffffff000ULL, b, PG, IOMMU_SOFT_MAP_READ));
	/* A 32-bit domain. */
	ASSERT_OK(dom_create(fd, 32, &id32));
	ASSERT_ERRNO(do_map(fd, id32, 0x100000000ULL, b, PG, IOMMU_SOFT_MAP_READ), EINVAL);
	ASSERT_OK(do_map(fd, id32, 0xfffff000ULL, b, PG, IOMMU_SOFT_MAP_READ));

	/* Overlaps. */
	ASSERT_OK(do_map(fd, self->id, 0x10000, b, 4 * PG, IOMMU_SOFT_MAP_READ));
	ASSERT_ERRNO(do_map(fd, self->id, 0x12000, b, 4 * PG, IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_ERRNO(do_map(fd, self->id, 0xe000, b, 3 * PG, IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_ERRNO(do_map(fd, self->id, 0x13000, b, PG, IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_ERRNO(do_map(fd, self->id, 0x0, b, 0x20 * PG, IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_OK(do_map(fd, self->id, 0x14000, b, PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(fd, self->id, 0xf000, b, PG, IOMMU_SOFT_MAP_READ));
	/* Unmapped user memory. */
	ASSERT_ERRNO(do_map(fd, self->id, 0x100000, (void *)0x1000, PG,
			    IOMMU_SOFT_MAP_READ), EFAULT);

	ASSERT_OK(get_stats(fd, self->id, &st));
	EXPECT_EQ(st.mappings, 3);
	EXPECT_EQ(st.bytes_mapped, 6 * PG);
	EXPECT_EQ(st.pinned_pages, 6);
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_INVAL], 5);
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_RANGE], 3);
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_LIMIT], 1);
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_EXIST], 4);
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_PIN], 1);
}

/* Data written through the domain lands in the process's pages, and back. */
TEST_F(dom, dma_rw_round_trip)
{
	const uint64_t iova = 0x80000000ULL;	/* unrelated to self->buf */
	unsigned char out[3 * PG], in[3 * PG];

	ASSERT_OK(do_map(self->fd, self->id, iova, self->buf, 8 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	fill(out, sizeof(out), 1);
	/* Unaligned, crossing three pages. */
	ASSERT_OK(dma_rw(self->fd, self->id, iova + PG + 100, out, 2 * PG + 5, 1));
	ASSERT_EQ(memcmp(self->buf + PG + 100, out, 2 * PG + 5), 0);
	EXPECT_EQ(self->buf[PG + 99], 0);
	EXPECT_EQ(self->buf[3 * PG + 105], 0);

	fill(self->buf + 4 * PG, 3 * PG, 2);
	ASSERT_OK(dma_rw(self->fd, self->id, iova + 4 * PG, in, 3 * PG, 0));
	ASSERT_EQ(memcmp(in, self->buf + 4 * PG, 3 * PG), 0);
	/* A single byte at the very end. */
	ASSERT_OK(dma_rw(self->fd, self->id, iova + 8 * PG - 1, in, 1, 0));
	EXPECT_EQ(in[0], self->buf[8 * PG - 1]);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, iova + 8 * PG - 1, in, 2, 0), EFAULT);
}

/* Read-only and write-only mappings refuse the other direction. */
TEST_F(dom, permission_faults)
{
	struct iommu_soft_fault_record r[4];
	struct iommu_soft_get_faults g;
	struct iommu_soft_stats st;
	unsigned char data[64];

	ASSERT_OK(do_map(self->fd, self->id, 0x200000, self->buf, PG,
			 IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(self->fd, self->id, 0x201000, self->buf + PG, PG,
			 IOMMU_SOFT_MAP_WRITE));
	memset(self->buf, 0x5a, 2 * PG);
	memset(data, 0xa5, sizeof(data));

	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x200010, data, 16, 1), EFAULT);
	EXPECT_EQ(self->buf[0x10], 0x5a);
	ASSERT_OK(dma_rw(self->fd, self->id, 0x200010, data, 16, 0));
	EXPECT_EQ(data[0], 0x5a);

	memset(data, 0xa5, sizeof(data));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x201020, data, 16, 0), EFAULT);
	EXPECT_EQ(data[0], 0xa5);
	ASSERT_OK(dma_rw(self->fd, self->id, 0x201020, data, 16, 1));
	EXPECT_EQ(self->buf[PG + 0x20], 0xa5);

	/* A write spanning both: the read-only page refuses all of it. */
	memset(data, 0x11, sizeof(data));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x201000 - 32, data, 64, 1), EFAULT);
	EXPECT_EQ(self->buf[PG + 0], 0x5a);

	ASSERT_OK(get_faults(self->fd, self->id, r, 4, &g));
	ASSERT_EQ(g.count, 3);
	EXPECT_EQ(g.pending, 0);
	EXPECT_EQ(g.overflow, 0);
	EXPECT_EQ(r[0].reason, IOMMU_SOFT_FAULT_NO_WRITE);
	EXPECT_EQ(r[0].dir, IOMMU_SOFT_DIR_WRITE);
	EXPECT_EQ(r[0].iova, 0x200010);
	EXPECT_EQ(r[0].fault_addr, 0x200010);
	EXPECT_EQ(r[0].len, 16);
	EXPECT_EQ(r[0].domain_id, self->id);
	EXPECT_STREQ(r[0].source, "ioctl");
	EXPECT_GT(r[0].timestamp_ns, 0);
	EXPECT_EQ(r[1].reason, IOMMU_SOFT_FAULT_NO_READ);
	EXPECT_EQ(r[1].dir, IOMMU_SOFT_DIR_READ);
	EXPECT_EQ(r[1].iova, 0x201020);
	EXPECT_EQ(r[2].reason, IOMMU_SOFT_FAULT_NO_WRITE);
	EXPECT_EQ(r[2].fault_addr, 0x201000 - 32);
	EXPECT_LE(r[0].timestamp_ns, r[1].timestamp_ns);

	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.faults[IOMMU_SOFT_FAULT_NO_WRITE], 2);
	EXPECT_EQ(st.faults[IOMMU_SOFT_FAULT_NO_READ], 1);
	EXPECT_EQ(st.translations, 2);
}

/* Unmapped and out-of-width IOVAs fault; nothing is copied. */
TEST_F(dom, not_present_and_width_faults)
{
	struct iommu_soft_fault_record r[4];
	struct iommu_soft_get_faults g;
	unsigned char data[2 * PG];

	ASSERT_OK(do_map(self->fd, self->id, 0x300000, self->buf, PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	memset(data, 0x77, sizeof(data));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x400000, data, 8, 0), EFAULT);
	/* Crosses the end of the mapping: the mapped part is not written. */
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x300800, data, PG, 1), EFAULT);
	EXPECT_EQ(self->buf[0x800], 0);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 1ULL << 48, data, 8, 0), EFAULT);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, (1ULL << 48) - 4, data, 8, 1), EFAULT);

	ASSERT_OK(get_faults(self->fd, self->id, r, 4, &g));
	ASSERT_EQ(g.count, 4);
	EXPECT_EQ(r[0].reason, IOMMU_SOFT_FAULT_NOT_PRESENT);
	EXPECT_EQ(r[0].fault_addr, 0x400000);
	EXPECT_EQ(r[1].reason, IOMMU_SOFT_FAULT_NOT_PRESENT);
	EXPECT_EQ(r[1].iova, 0x300800);
	EXPECT_EQ(r[1].fault_addr, 0x301000);
	EXPECT_EQ(r[1].dir, IOMMU_SOFT_DIR_WRITE);
	EXPECT_EQ(r[2].reason, IOMMU_SOFT_FAULT_BEYOND_WIDTH);
	EXPECT_EQ(r[3].reason, IOMMU_SOFT_FAULT_BEYOND_WIDTH);
	EXPECT_EQ(r[3].fault_addr, 1ULL << 48);
}

/* Unmapping the middle of a mapping leaves two working halves. */
TEST_F(dom, partial_unmap_splits)
{
	const uint64_t base = 0x1000000;
	struct iommu_soft_stats st;
	unsigned char v;
	int i;

	for (i = 0; i < 8; i++)
		self->buf[i * PG] = (unsigned char)(0x10 + i);
	ASSERT_OK(do_map(self->fd, self->id, base, self->buf, 8 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	/* Nothing mapped there: 0 bytes. */
	EXPECT_EQ(do_unmap(self->fd, self->id, 0x2000000, 4 * PG), 0);
	EXPECT_EQ(do_unmap(self->fd, self->id, base + 3 * PG, 2 * PG), 2 * PG);

	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.mappings, 2);
	EXPECT_EQ(st.bytes_mapped, 6 * PG);
	EXPECT_EQ(st.pinned_pages, 6);

	for (i = 0; i < 8; i++) {
		int r = dma_rw(self->fd, self->id, base + i * PG, &v, 1, 0);

		if (i == 3 || i == 4) {
			EXPECT_EQ(r, -1);
			EXPECT_EQ(errno, EFAULT);
		} else {
			EXPECT_EQ(r, 0);
			EXPECT_EQ(v, 0x10 + i);
		}
	}
	v = 0xee;
	ASSERT_OK(dma_rw(self->fd, self->id, base + 5 * PG + 7, &v, 1, 1));
	EXPECT_EQ(self->buf[5 * PG + 7], 0xee);

	/* Across the hole and into both halves: only mapped bytes count. */
	EXPECT_EQ(do_unmap(self->fd, self->id, base + 2 * PG, 4 * PG), 2 * PG);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.mappings, 2);
	EXPECT_EQ(st.bytes_mapped, 4 * PG);
	EXPECT_EQ(do_unmap(self->fd, self->id, 0, 1ULL << 40), 4 * PG);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.mappings, 0);
	EXPECT_EQ(st.pinned_pages, 0);
	/* The space is free again. */
	ASSERT_OK(do_map(self->fd, self->id, base, self->buf, 8 * PG, IOMMU_SOFT_MAP_READ));
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].inheritable &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d);
}

/* Pins count in VmLck and against RLIMIT_MEMLOCK without CAP_IPC_LOCK. */
TEST(memlock_accounting)
{
	struct rlimit rl = { .rlim_cur = 64 * 1024, .rlim_max = 64 * 1024 };
	unsigned char *b = pages(32);
	struct iommu_soft_stats st;
	long before, now;
	uint32_t id = 0;
	int fd;

	ASSERT_TRUE(b != NULL);
	ASSERT_OK(drop_ipc_lock());
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &rl));
	fd = dev_open();
	ASSERT_GE(fd, 0);
	ASSERT_OK(dom_create(fd, 48, &id));
	before = vmlck_kb();
	ASSERT_GE(before, 0);

	ASSERT_OK(do_map(fd, id, 0x100000, b, 8 * PG, IOMMU_SOFT_MAP_READ));
	now = vmlck_kb();
	EXPECT_EQ(now, before + 32);
	/* 32 KiB + 64 KiB > 64 KiB: refused, nothing pinned. */
	ASSERT_ERRNO(do_map(fd, id, 0x200000, b + 8 * PG, 16 * PG,
			    IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE), ENOMEM);
	EXPECT_EQ(vmlck_kb(), before + 32);
	ASSERT_OK(do_map(fd, id, 0x200000, b + 8 * PG, 8 * PG, IOMMU_SOFT_MAP_WRITE));
	EXPECT_EQ(vmlck_kb(), before + 64);
	ASSERT_ERRNO(do_map(fd, id, 0x300000, b + 16 * PG, PG, IOMMU_SOFT_MAP_READ), ENOMEM);
	ASSERT_OK(get_stats(fd, id, &st));
	EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_MEMLOCK], 2);
	EXPECT_EQ(st.pinned_pages, 16);

	/* A partial unmap gives back exactly its pages. */
	EXPECT_EQ(do_unmap(fd, id, 0x102000, 2 * PG), 2 * PG);
	EXPECT_EQ(vmlck_kb(), before + 56);
	/* Destroying the domain gives back the rest. */
	ASSERT_OK(dom_destroy(fd, id));
	EXPECT_EQ(vmlck_kb(), before);
	ASSERT_ERRNO(dom_destroy(fd, id), ENOENT);
	close(fd);
}

/* A full fault log counts what it drops; GET_FAULTS consumes. */
TEST_F(dom, fault_log_overflow)
{
	struct iommu_soft_fault_record r[128];
	struct iommu_soft_get_faults g;
	struct iommu_soft_stats st;
	char param[32];
	unsigned long size;
	unsigned char v;
	unsigned int i;

	ASSERT_OK(kt_read_str("/sys/module/iommu_soft/parameters/fault_log_size",
			     param, sizeof(param)));
	size = strtoul(param, NULL, 0);
	ASSERT_GT(size, 0);
	ASSERT_LE(size, 100);

	for (i = 0; i < size + 7; i++)
		ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x5000000 + i * PG, &v, 1, 0),
			     EFAULT);
	ASSERT_OK(get_faults(self->fd, self->id, r, 0, &g));
	EXPECT_EQ(g.count, 0);
	EXPECT_EQ(g.pending, size);
	EXPECT_EQ(g.overflow, 7);

	ASSERT_OK(get_faults(self->fd, self->id, r, 5, &g));
	EXPECT_EQ(g.count, 5);
	EXPECT_EQ(g.pending, size - 5);
	/* The oldest records are kept, in order. */
	for (i = 0; i < 5; i++)
		EXPECT_EQ(r[i].iova, 0x5000000 + i * PG);
	ASSERT_OK(get_faults(self->fd, self->id, r, 128, &g));
	EXPECT_EQ(g.count, size - 5);
	EXPECT_EQ(r[0].iova, 0x5000000 + 5 * PG);
	EXPECT_EQ(g.pending, 0);
	EXPECT_EQ(g.overflow, 7);

	/* Room again: the next fault is recorded. */
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x6000000, &v, 1, 0), EFAULT);
	ASSERT_OK(get_faults(self->fd, self->id, r, 128, &g));
	EXPECT_EQ(g.count, 1);
	EXPECT_EQ(r[0].iova, 0x6000000);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.fault_overflow, 7);
	EXPECT_EQ(st.faults[IOMMU_SOFT_FAULT_NOT_PRESENT], size + 8);
}

/* The fault eventfd is signalled on each fault and can be removed. */
TEST_F(dom, fault_eventfd)
{
	struct iommu_soft_set_fault_eventfd s = {
		.argsz = sizeof(s), .domain_id = self->id,
	};
	uint64_t cnt = 0;
	unsigned char v;
	int efd;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	s.fd = efd;
	ASSERT_OK(ioctl(self->fd, IOMMU_SOFT_SET_FAULT_EVENTFD, &s));
	ASSERT_ERRNO(read(efd, &cnt, sizeof(cnt)), EAGAIN);

	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x7000000, &v, 1, 0), EFAULT);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x7001000, &v, 1, 1), EFAULT);
	ASSERT_EQ(read(efd, &cnt, sizeof(cnt)), sizeof(cnt));
	EXPECT_EQ(cnt, 2);

	/* A successful access does not signal. */
	ASSERT_OK(do_map(self->fd, self->id, 0x7000000, self->buf, PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x7000000, &v, 1, 0));
	ASSERT_ERRNO(read(efd, &cnt, sizeof(cnt)), EAGAIN);

	s.fd = -1;
	ASSERT_OK(ioctl(self->fd, IOMMU_SOFT_SET_FAULT_EVENTFD, &s));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x7001000, &v, 1, 0), EFAULT);
	ASSERT_ERRNO(read(efd, &cnt, sizeof(cnt)), EAGAIN);

	s.fd = self->fd;	/* not an eventfd */
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_SET_FAULT_EVENTFD, &s), EINVAL);
	s.fd = 12345;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_SET_FAULT_EVENTFD, &s), EBADF);
	close(efd);
}

/* The IOTLB hits on repeated pages, evicts, and unmap invalidates it. */
TEST_F(dom, iotlb_hits_and_invalidation)
{
	struct iommu_soft_stats a, b;
	char param[32];
	unsigned long size;
	unsigned char v;

	ASSERT_OK(kt_read_str("/sys/module/iommu_soft/parameters/iotlb_size",
			     param, sizeof(param)));
	size = strtoul(param, NULL, 0);
	ASSERT_GE(size, 2);
	ASSERT_LE(size, 4096);

	ASSERT_OK(do_map(self->fd, self->id, 0x10000000, self->buf, PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	ASSERT_OK(get_stats(self->fd, self->id, &a));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x10000000, &v, 1, 0));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x10000010, &v, 1, 0));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x10000020, &v, 1, 1));
	ASSERT_OK(get_stats(self->fd, self->id, &b));
	EXPECT_EQ(b.iotlb_misses - a.iotlb_misses, 1);
	EXPECT_EQ(b.iotlb_hits - a.iotlb_hits, 2);

	/* A page that maps to the same slot (direct-mapped by page number). */
	ASSERT_OK(do_map(self->fd, self->id, 0x10000000 + size * PG, self->buf + PG,
			 PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x10000000 + size * PG, &v, 1, 0));
	ASSERT_OK(get_stats(self->fd, self->id, &a));
	EXPECT_EQ(a.iotlb_evictions - b.iotlb_evictions, 1);
	ASSERT_OK(dma_rw(self->fd, self->id, 0x10000000, &v, 1, 0));

	/* Unmap drops the cached entry: the next access faults. */
	EXPECT_EQ(do_unmap(self->fd, self->id, 0x10000000, PG), PG);
	ASSERT_OK(get_stats(self->fd, self->id, &b));
	EXPECT_GE(b.iotlb_invalidations - a.iotlb_invalidations, 1);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x10000000, &v, 1, 0), EFAULT);
	ASSERT_OK(get_stats(self->fd, self->id, &a));
	EXPECT_EQ(a.faults[IOMMU_SOFT_FAULT_NOT_PRESENT], 1);
}

/* Bad ioctl arguments. */
TEST_F(dom, bad_ioctl_args)
{
	struct iommu_soft_fault_record r;
	struct iommu_soft_get_faults g;
	struct iommu_soft_stats st;
	struct {
		struct iommu_soft_map m;
		uint64_t extra;
	} big;
	struct iommu_soft_domain_create c = { .argsz = sizeof(c) };
	struct iommu_soft_map m = {
		.argsz = sizeof(m), .flags = IOMMU_SOFT_MAP_READ,
		.domain_id = self->id, .iova = 0, .vaddr = (uintptr_t)self->buf,
		.size = PG,
	};
	unsigned char v;

	c.argsz = sizeof(c) - 4;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_DOMAIN_CREATE, &c), EINVAL);
	c.argsz = sizeof(c);
	c.flags = 1;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_DOMAIN_CREATE, &c), EINVAL);
	c.flags = 0;
	c.addr_width = 31;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_DOMAIN_CREATE, &c), EINVAL);
	c.addr_width = 65;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_DOMAIN_CREATE, &c), EINVAL);

	m.argsz = 8;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, &m), EINVAL);
	m.argsz = 1 << 20;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, &m), EINVAL);
	m.argsz = sizeof(m);
	m.pad = 1;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, &m), EINVAL);
	m.pad = 0;
	m.domain_id = self->id + 1000;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, &m), ENOENT);
	m.domain_id = self->id;
	/* A larger struct with a nonzero tail is refused, a zero one works. */
	memset(&big, 0, sizeof(big));
	big.m = m;
	big.m.argsz = sizeof(big);
	big.extra = 1;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, &big), EINVAL);
	big.extra = 0;
	ASSERT_OK(ioctl(self->fd, IOMMU_SOFT_MAP, &big));
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_MAP, NULL), EFAULT);

	ASSERT_ERRNO(do_unmap(self->fd, self->id, 0, 0), EINVAL);
	ASSERT_ERRNO(do_unmap(self->fd, self->id, 0x800, PG), EINVAL);
	ASSERT_ERRNO(do_unmap(self->fd, self->id + 1000, 0, PG), ENOENT);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0, &v, 0, 0), EINVAL);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0, &v, 1ULL << 40, 0), EINVAL);
	ASSERT_ERRNO(dma_rw(self->fd, self->id + 1000, 0, &v, 1, 0), ENOENT);
	ASSERT_ERRNO(get_faults(self->fd, self->id, &r, 5000, &g), EINVAL);
	ASSERT_ERRNO(get_faults(self->fd, self->id + 1000, &r, 1, &g), ENOENT);
	ASSERT_ERRNO(get_stats(self->fd, self->id + 1000, &st), ENOENT);
	ASSERT_ERRNO(dom_destroy(self->fd, self->id + 1000), ENOENT);
	ASSERT_ERRNO(ioctl(self->fd, _IO(IOMMU_SOFT_TYPE, 0x7f), &m), ENOTTY);

	/* Another file cannot reach this file's domain. */
	{
		int fd2 = dev_open();

		ASSERT_GE(fd2, 0);
		ASSERT_ERRNO(dma_rw(fd2, self->id, 0, &v, 1, 0), ENOENT);
		ASSERT_ERRNO(dom_destroy(fd2, self->id), ENOENT);
		close(fd2);
	}
	ASSERT_OK(dom_destroy(self->fd, self->id));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0, &v, 1, 0), ENOENT);
}

struct worker {
	int fd;
	uint32_t id;
	int n;
	unsigned char *buf;	/* 4 pages of its own */
	int errors;
	int faults;
};

/* Map, write/read through the domain, check, unmap, in a loop. */
static void *worker_own(void *arg)
{
	struct worker *w = arg;
	uint64_t iova = 0x40000000ULL + (uint64_t)w->n * 0x100000;
	unsigned char out[PG], in[PG];
	int i;

	for (i = 0; i < 200; i++) {
		fill(out, sizeof(out), i + w->n);
		if (do_map(w->fd, w->id, iova, w->buf, 4 * PG,
			   IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE)) {
			w->errors++;
			continue;
		}
		if (dma_rw(w->fd, w->id, iova + PG + 17, out, PG, 1) ||
		    dma_rw(w->fd, w->id, iova + PG + 17, in, PG, 0) ||
		    memcmp(in, out, PG) || memcmp(w->buf + PG + 17, out, PG))
			w->errors++;
		if (do_unmap(w->fd, w->id, iova, 4 * PG) != 4 * PG)
			w->errors++;
	}
	return NULL;
}

/* Access a range another thread maps and unmaps: only EFAULT allowed. */
static void *worker_prober(void *arg)
{
	struct worker *w = arg;
	unsigned char in[64];
	int i;

	for (i = 0; i < 2000; i++) {
		uint64_t iova = 0x40000000ULL + (uint64_t)(i % 3) * 0x100000 + PG;

		if (dma_rw(w->fd, w->id, iova, in, sizeof(in), 0)) {
			if (errno == EFAULT)
				w->faults++;
			else
				w->errors++;
		}
	}
	return NULL;
}

TEST_TIMEOUT(concurrent_map_unmap_rw, 240)
{
	struct worker w[5];
	pthread_t t[5];
	struct iommu_soft_stats st;
	uint32_t id = 0;
	int fd, i;

	fd = dev_open();
	ASSERT_GE(fd, 0);
	ASSERT_OK(dom_create(fd, 48, &id));
	for (i = 0; i < 5; i++) {
		w[i] = (struct worker){ .fd = fd, .id = id, .n = i };
		w[i].buf = pages(4);
		ASSERT_TRUE(w[i].buf != NULL);
		ASSERT_OK(pthread_create(&t[i], NULL,
					 i < 3 ? worker_own : worker_prober, &w[i]));
	}
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(w[i].errors, 0);
	KT_LOG("prober faults: %d %d", w[3].faults, w[4].faults);

	ASSERT_OK(get_stats(fd, id, &st));
	EXPECT_EQ(st.mappings, 0);
	EXPECT_EQ(st.pinned_pages, 0);
	EXPECT_EQ(st.held, 0);
	EXPECT_EQ(st.faults[IOMMU_SOFT_FAULT_NOT_PRESENT], w[3].faults + w[4].faults);
	close(fd);
}

/* A process that exits with domains mapped leaves nothing pinned behind. */
TEST(exit_cleans_up)
{
	struct iommu_soft_stats st;
	char refcnt[16];
	int pfd[2], status, fd;
	uint64_t pinned_before;
	pid_t pid;
	char c;

	fd = dev_open();
	ASSERT_GE(fd, 0);
	ASSERT_OK(get_stats(fd, 0, &st));
	pinned_before = st.pinned_pages;
	ASSERT_OK(pipe(pfd));

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		unsigned char *b = pages(64);
		uint32_t a = 0, z = 0;
		int cfd = dev_open();

		if (!b || cfd < 0 || dom_create(cfd, 48, &a) ||
		    dom_create(cfd, 39, &z) ||
		    do_map(cfd, a, 0, b, 32 * PG, IOMMU_SOFT_MAP_READ) ||
		    do_map(cfd, a, 1ULL << 40, b + 32 * PG, 32 * PG,
			   IOMMU_SOFT_MAP_WRITE) ||
		    do_map(cfd, z, 0x1000, b, 64 * PG, IOMMU_SOFT_MAP_READ))
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	ASSERT_EQ(read(pfd[0], &c, 1), 1);
	ASSERT_OK(get_stats(fd, 0, &st));
	EXPECT_EQ(st.pinned_pages, pinned_before + 128);
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));

	ASSERT_OK(get_stats(fd, 0, &st));
	EXPECT_EQ(st.pinned_pages, pinned_before);
	close(fd);
	close(pfd[0]);
	/*
	 * No file of ours is open now: the only references left are those of
	 * modules that use iommu_soft's exports (kvm_assign); the runner also
	 * checks the unload.
	 */
	ASSERT_OK(kt_read_str("/sys/module/iommu_soft/refcnt", refcnt, sizeof(refcnt)));
	EXPECT_EQ(atoi(refcnt), kt_count_holders("iommu_soft"));
}

static int get_mappings(int fd, uint32_t id, uint64_t *start,
			struct iommu_soft_mapping_info *e, uint32_t max,
			uint32_t *more)
{
	struct iommu_soft_get_mappings g = {
		.argsz = sizeof(g), .domain_id = id, .count = max,
		.start = *start, .entries = (uintptr_t)e,
	};
	int ret = ioctl(fd, IOMMU_SOFT_GET_MAPPINGS, &g);

	if (ret)
		return ret;
	*start = g.start;
	*more = g.more;
	return (int)g.count;
}

/* GET_MAPPINGS pages through the mappings in IOVA order. */
TEST_F(dom, get_mappings_in_order)
{
	struct iommu_soft_mapping_info e[8];
	struct iommu_soft_get_mappings bad = { .argsz = sizeof(bad) };
	struct iommu_soft_stats st;
	uint64_t start = 0;
	uint32_t more = 0;
	int fd2;

	ASSERT_OK(do_map(self->fd, self->id, 0x900000, self->buf, 4 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	ASSERT_OK(do_map(self->fd, self->id, 0x100000, self->buf + 4 * PG, PG,
			 IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(self->fd, self->id, 0x500000, self->buf + 5 * PG, 2 * PG,
			 IOMMU_SOFT_MAP_WRITE));
	/* Split the first into [0x900000] and [0x902000, 0x903fff]. */
	ASSERT_EQ(do_unmap(self->fd, self->id, 0x901000, PG), PG);

	ASSERT_EQ(get_mappings(self->fd, self->id, &start, e, 2, &more), 2);
	EXPECT_EQ(more, 1);
	EXPECT_EQ(e[0].iova, 0x100000);
	EXPECT_EQ(e[0].size, PG);
	EXPECT_EQ(e[0].flags, IOMMU_SOFT_MAP_READ);
	EXPECT_EQ(e[1].iova, 0x500000);
	EXPECT_EQ(e[1].size, 2 * PG);
	EXPECT_EQ(e[1].flags, IOMMU_SOFT_MAP_WRITE);
	EXPECT_EQ(start, 0x502000);
	ASSERT_EQ(get_mappings(self->fd, self->id, &start, e, 8, &more), 2);
	EXPECT_EQ(more, 0);
	EXPECT_EQ(e[0].iova, 0x900000);
	EXPECT_EQ(e[0].size, PG);
	EXPECT_EQ(e[1].iova, 0x902000);
	EXPECT_EQ(e[1].size, 2 * PG);
	EXPECT_EQ(e[1].flags, IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE);
	/* A start inside a mapping includes it. */
	start = 0x903800;
	ASSERT_EQ(get_mappings(self->fd, self->id, &start, e, 8, &more), 1);
	EXPECT_EQ(e[0].iova, 0x902000);
	start = 0x904000;
	ASSERT_EQ(get_mappings(self->fd, self->id, &start, e, 8, &more), 0);
	EXPECT_EQ(more, 0);

	bad.domain_id = self->id;
	bad.count = 5000;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_GET_MAPPINGS, &bad), EINVAL);
	bad.count = 1;
	bad.pad = 1;
	ASSERT_ERRNO(ioctl(self->fd, IOMMU_SOFT_GET_MAPPINGS, &bad), EINVAL);

	/* Read-only requests work on another file's domain; others do not. */
	fd2 = dev_open();
	ASSERT_GE(fd2, 0);
	start = 0;
	EXPECT_EQ(get_mappings(fd2, self->id, &start, e, 8, &more), 4);
	ASSERT_OK(get_stats(fd2, self->id, &st));
	EXPECT_EQ(st.mappings, 4);
	EXPECT_EQ(st.addr_width, 48);
	ASSERT_ERRNO(do_unmap(fd2, self->id, 0x100000, PG), ENOENT);
	close(fd2);
}

static long long domain_attr(uint32_t id, const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u/%s", id, name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 0);
}

/* Per-domain statistics in sysfs match GET_STATS; the folder goes with it. */
TEST_F(dom, sysfs_domain_stats)
{
	struct iommu_soft_stats st;
	char path[128];
	unsigned char v;

	ASSERT_OK(do_map(self->fd, self->id, 0x100000, self->buf, 2 * PG,
			 IOMMU_SOFT_MAP_READ));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x100000, &v, 1, 0));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x100001, &v, 1, 0));
	ASSERT_OK(dma_rw(self->fd, self->id, 0x101000, &v, 1, 0));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x100000, &v, 1, 1), EFAULT);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x200000, &v, 1, 0), EFAULT);
	ASSERT_ERRNO(do_map(self->fd, self->id, 0x100000, self->buf, PG,
			    IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_OK(get_stats(self->fd, self->id, &st));

	EXPECT_EQ(domain_attr(self->id, "addr_width"), 48);
	EXPECT_EQ(domain_attr(self->id, "mappings"), 1);
	EXPECT_EQ(domain_attr(self->id, "bytes_mapped"), 2 * PG);
	EXPECT_EQ(domain_attr(self->id, "pinned_pages"), 2);
	EXPECT_EQ(domain_attr(self->id, "translations"), 3);
	EXPECT_EQ(domain_attr(self->id, "iotlb_hits"), st.iotlb_hits);
	EXPECT_EQ(domain_attr(self->id, "iotlb_misses"), st.iotlb_misses);
	EXPECT_GE(st.iotlb_hits, 2);
	EXPECT_EQ(domain_attr(self->id, "faults_no_write"), 1);
	EXPECT_EQ(domain_attr(self->id, "faults_not_present"), 1);
	EXPECT_EQ(domain_attr(self->id, "faults_no_read"), 0);
	EXPECT_EQ(domain_attr(self->id, "rejected_exist"), 1);

	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u", self->id);
	ASSERT_OK(access(path, F_OK));
	ASSERT_OK(dom_destroy(self->fd, self->id));
	ASSERT_ERRNO(access(path, F_OK), ENOENT);
}

/* File mode of a domain's sysfs file, or -1. */
static int domain_attr_mode(uint32_t id, const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u/%s", id, name);
	if (stat(path, &st))
		return -1;
	return st.st_mode & 07777;
}

/* errno of opening a domain's sysfs file as user nobody, 0 if it opens. */
static int domain_attr_open_as_nobody(uint32_t id, const char *name)
{
	char path[128];
	int status, fd;
	pid_t pid;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u/%s", id, name);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(255);
		fd = open(path, O_RDONLY);
		_exit(fd >= 0 ? 0 : errno);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * The listings (mapping_list, fault_log) show guest DMA addresses: root
 * only.  The statistics stay world-readable.
 */
TEST_F(dom, sysfs_listings_root_only)
{
	char path[128], buf[4096];
	unsigned char v;

	ASSERT_OK(do_map(self->fd, self->id, 0x100000, self->buf, 2 * PG,
			 IOMMU_SOFT_MAP_READ));
	ASSERT_ERRNO(dma_rw(self->fd, self->id, 0x200000, &v, 1, 0), EFAULT);

	EXPECT_EQ(domain_attr_mode(self->id, "mapping_list"), 0400);
	EXPECT_EQ(domain_attr_mode(self->id, "fault_log"), 0400);
	EXPECT_EQ(domain_attr_mode(self->id, "mappings"), 0444);
	EXPECT_EQ(domain_attr_mode(self->id, "faults_not_present"), 0444);

	/* root reads them */
	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u/mapping_list",
		 self->id);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_TRUE(strstr(buf, "0x100000-0x101fff r- 2") != NULL);
	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%u/fault_log",
		 self->id);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_TRUE(strstr(buf, "iova 0x200000") != NULL);

	/* another user does not */
	EXPECT_EQ(domain_attr_open_as_nobody(self->id, "mapping_list"), EACCES);
	EXPECT_EQ(domain_attr_open_as_nobody(self->id, "fault_log"), EACCES);
	EXPECT_EQ(domain_attr_open_as_nobody(self->id, "mappings"), 0);
}

/*
 * A descriptor kept across a privilege drop (or passed to an unprivileged
 * VMM) reads its own domains' statistics and mappings, not another file's
 * (guest DMA addresses of another VMM).
 */
TEST_F(dom, foreign_domain_reads_need_cap_sys_admin)
{
	uint64_t start = 0;
	uint32_t more, other;
	struct iommu_soft_mapping_info e[4];
	struct iommu_soft_stats st;
	int fd2 = dev_open(), status;
	pid_t pid;

	ASSERT_GE(fd2, 0);
	ASSERT_OK(dom_create(fd2, 48, &other));
	ASSERT_OK(do_map(fd2, other, 0x100000, self->buf, PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(self->fd, self->id, 0x200000, self->buf, PG,
			 IOMMU_SOFT_MAP_READ));
	/* root may read both */
	ASSERT_OK(get_stats(self->fd, other, &st));
	ASSERT_EQ(get_mappings(self->fd, other, &start, e, 4, &more), 1);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int code = 0;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		start = 0;
		if (get_stats(self->fd, self->id, &st) ||
		    get_mappings(self->fd, self->id, &start, e, 4, &more) != 1)
			code |= 1;	/* its own domain: allowed */
		start = 0;
		if (get_stats(self->fd, other, &st) != -1 || errno != EPERM)
			code |= 2;
		if (get_mappings(self->fd, other, &start, e, 4, &more) != -1 ||
		    errno != EPERM)
			code |= 4;
		if (get_stats(self->fd, 0, &st))
			code |= 8;	/* module totals: allowed */
		_exit(code);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	close(fd2);
}

KT_MAIN()
