// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft_edu_test - real device DMA through a software IOMMU domain.
 *
 * Loads the test-only kt_edu module, which binds QEMU's edu device and makes
 * it DMA through iommu_soft_translate() into this process's memory and back.
 * Proves: data round-trips through the device; pages beyond edu's 28-bit
 * DMA mask are bounced (checked against the page frame numbers from
 * /proc/self/pagemap); refused translations never reach the device and are
 * logged with the device's name; unmap waits for a held translation, and
 * revokes it when the wait times out.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <linux/iommu_soft.h>

#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/iommu_soft_util.h"
#include "modules/kt_edu.h"

#define EDU_MASK	((1ULL << 28) - 1)
#define KT_EDU_KO	"/usr/share/kvmio/test-modules/kt_edu.ko"
#define WAIT_PARAM	"/sys/module/iommu_soft/parameters/unmap_wait_ms"

static int edu(int efd, uint32_t op, uint32_t flags, uint32_t id, uint64_t iova,
	       uint32_t len, uint32_t dev_off, struct kt_edu_xfer *out)
{
	struct kt_edu_xfer x = {
		.op = op, .flags = flags, .domain_id = id, .iova = iova,
		.len = len, .dev_off = dev_off,
	};
	int ret = ioctl(efd, KT_EDU_XFER, &x);

	if (out)
		*out = x;
	return ret;
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 13 + i * 5 + (i >> 7) + 1);
}

/* Physical frame of a (pinned) page of ours, or 0. */
static uint64_t pfn_of(const void *va)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), ((uintptr_t)va / PG) * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	if (!(e >> 63))
		return 0;
	return e & ((1ULL << 55) - 1);
}

/* Whether iommu_soft must bounce [va, va + len) for edu's 28-bit mask. */
static int needs_bounce(const unsigned char *va, size_t len)
{
	uintptr_t first = (uintptr_t)va & ~(PG - 1);
	uintptr_t last = ((uintptr_t)va + len - 1) & ~(PG - 1);
	uint64_t pfn0 = pfn_of((void *)first), i;

	for (i = 1; first + i * PG <= last; i++)
		if (pfn_of((void *)(first + i * PG)) != pfn0 + i)
			return 1;
	return pfn0 * PG + ((uintptr_t)va - first) + len - 1 > EDU_MASK;
}

static int edu_pci_name(char *name, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/drivers/kt_edu");
	struct dirent *de;
	int ret = -1;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "0000:", 5)) {
			snprintf(name, len, "%s", de->d_name);
			ret = 0;
			break;
		}
	closedir(d);
	return ret;
}

FIXTURE(edu) {
	int fd;		/* /dev/iommu_soft */
	int efd;	/* /dev/kt_edu */
	int loaded;
	uint32_t id;
};

FIXTURE_SETUP(edu)
{
	int mfd = open(KT_EDU_KO, O_RDONLY | O_CLOEXEC);

	self->fd = -1;
	self->efd = -1;
	if (mfd < 0)
		SKIP("no %s", KT_EDU_KO);
	ASSERT_OK(syscall(SYS_finit_module, mfd, "", 0));
	close(mfd);
	self->loaded = 1;
	self->efd = open("/dev/kt_edu", O_RDWR | O_CLOEXEC);
	if (self->efd < 0) {
		syscall(SYS_delete_module, "kt_edu", O_NONBLOCK);
		SKIP("kt_edu bound no edu device");
	}
	self->fd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->fd, 0);
	ASSERT_OK(dom_create(self->fd, 48, &self->id));
}

FIXTURE_TEARDOWN(edu)
{
	if (self->efd >= 0)
		close(self->efd);
	if (self->fd >= 0)
		close(self->fd);
	kt_write_str(WAIT_PARAM, "2000");
	if (self->loaded)
		EXPECT_OK(syscall(SYS_delete_module, "kt_edu", O_NONBLOCK));
}

/* edu reads a pattern from one buffer and writes it to another. */
TEST_F_TIMEOUT(edu, dma_round_trip_with_bounce, 300)
{
	unsigned char *a = pages(16), *b = pages(16);
	const uint64_t ia = 0x10000000, ib = 0x20000000;
	struct iommu_soft_stats st;
	struct kt_edu_xfer x;
	int i, ops = 0, bounced = 0;

	ASSERT_TRUE(a && b);
	ASSERT_OK(do_map(self->fd, self->id, ia, a, 16 * PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(self->fd, self->id, ib, b, 16 * PG, IOMMU_SOFT_MAP_WRITE));

	for (i = 0; i < 9; i++) {
		/* Page 8's transfer crosses into page 9. */
		uint32_t off = i == 8 ? PG - 500 : (uint32_t)(i * 456) % 3000;
		uint32_t len = 1000 + i, dev_off = i * 16;
		size_t at = i * PG + off;

		fill(a + at, len, i);
		ASSERT_OK(edu(self->efd, KT_EDU_OP_TO_DEVICE, 0, self->id, ia + at,
			      len, dev_off, &x));
		EXPECT_EQ(x.bounced, needs_bounce(a + at, len));
		bounced += x.bounced;
		ASSERT_OK(edu(self->efd, KT_EDU_OP_FROM_DEVICE, 0, self->id, ib + at,
			      len, dev_off, &x));
		EXPECT_EQ(x.bounced, needs_bounce(b + at, len));
		bounced += x.bounced;
		ops += 2;
		EXPECT_EQ(memcmp(b + at, a + at, len), 0);
		if (at)
			EXPECT_EQ(b[at - 1], 0);
		EXPECT_EQ(b[at + len], 0);
	}
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.translations, ops);
	EXPECT_EQ(st.bounced, bounced);
	EXPECT_EQ(st.held, 0);
	KT_LOG("%d of %d transfers bounced", bounced, ops);
	/* Test VMs have most RAM far above 256 MiB: bouncing must be seen. */
	EXPECT_GT(bounced, 0);
}

/* Refused translations never reach the device and are logged. */
TEST_F_TIMEOUT(edu, refused_dma_does_not_happen, 300)
{
	unsigned char *a = pages(1), *b = pages(1), *c = pages(1);
	struct iommu_soft_fault_record r[4];
	struct iommu_soft_get_faults g;
	char name[256];
	int i;

	ASSERT_TRUE(a && b && c);
	ASSERT_OK(edu_pci_name(name, sizeof(name)));
	ASSERT_OK(do_map(self->fd, self->id, 0x10000000, a, PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(do_map(self->fd, self->id, 0x20000000, b, PG, IOMMU_SOFT_MAP_WRITE));
	ASSERT_OK(do_map(self->fd, self->id, 0x30000000, c, PG, IOMMU_SOFT_MAP_READ));
	fill(a, 512, 7);
	memset(c, 0x33, PG);

	/* edu's buffer gets the pattern. */
	ASSERT_OK(edu(self->efd, KT_EDU_OP_TO_DEVICE, 0, self->id, 0x10000000, 512,
		      0x300, NULL));
	/* Unmapped source, write-only source, read-only destination. */
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_TO_DEVICE, 0, self->id, 0x50000000,
			 512, 0x300, NULL), EFAULT);
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_TO_DEVICE, 0, self->id, 0x20000000,
			 512, 0x300, NULL), EFAULT);
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_FROM_DEVICE, 0, self->id, 0x30000000,
			 512, 0x300, NULL), EFAULT);
	for (i = 0; i < (int)PG; i++)
		if (c[i] != 0x33)
			break;
	EXPECT_EQ(i, PG);
	/* A range that would leave edu's buffer is refused by the driver. */
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_TO_DEVICE, 0, self->id, 0x10000000,
			 0x100, 0xf00, NULL), EINVAL);

	/* The buffer still holds the first pattern: no refused DMA ran. */
	ASSERT_OK(edu(self->efd, KT_EDU_OP_FROM_DEVICE, 0, self->id, 0x20000000,
		      512, 0x300, NULL));
	EXPECT_EQ(memcmp(b, a, 512), 0);

	ASSERT_OK(get_faults(self->fd, self->id, r, 4, &g));
	ASSERT_EQ(g.count, 3);
	EXPECT_EQ(r[0].reason, IOMMU_SOFT_FAULT_NOT_PRESENT);
	EXPECT_EQ(r[0].dir, IOMMU_SOFT_DIR_READ);
	EXPECT_EQ(r[0].iova, 0x50000000);
	EXPECT_EQ(r[0].len, 512);
	EXPECT_STREQ(r[0].source, name);
	EXPECT_EQ(r[1].reason, IOMMU_SOFT_FAULT_NO_READ);
	EXPECT_EQ(r[2].reason, IOMMU_SOFT_FAULT_NO_WRITE);
	EXPECT_EQ(r[2].dir, IOMMU_SOFT_DIR_WRITE);
	EXPECT_STREQ(r[2].source, name);
}

/* The translation honours the device's DMA mask. */
TEST_F(edu, dma_mask_decides_bounce)
{
	unsigned char *a = pages(1);
	struct kt_edu_xfer x;

	ASSERT_TRUE(a != NULL);
	ASSERT_OK(do_map(self->fd, self->id, 0x10000000, a, PG, IOMMU_SOFT_MAP_READ));
	ASSERT_OK(edu(self->efd, KT_EDU_OP_HOLD, KT_EDU_F_MASK64, self->id,
		      0x10000100, 64, 0, &x));
	EXPECT_EQ(x.bounced, 0);
	ASSERT_OK(edu(self->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, NULL));
	ASSERT_OK(edu(self->efd, KT_EDU_OP_HOLD, 0, self->id, 0x10000100, 64, 0, &x));
	EXPECT_EQ(x.bounced, needs_bounce(a + 0x100, 64));
	KT_LOG("page frame %#llx, bounced %u", (unsigned long long)pfn_of(a), x.bounced);
	/* One hold at a time. */
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_HOLD, 0, self->id, 0x10000100, 64, 0,
			 NULL), EBUSY);
	ASSERT_OK(edu(self->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, NULL));
	ASSERT_ERRNO(edu(self->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, NULL), ENOENT);
}

struct unmapper {
	int fd;
	uint32_t id;
	uint64_t iova, size;
	long long ret;
	volatile int done;
};

static void *unmap_thread(void *arg)
{
	struct unmapper *u = arg;

	u->ret = do_unmap(u->fd, u->id, u->iova, u->size);
	u->done = 1;
	return NULL;
}

/* Unmap of a held range waits for the holder, after asking it to abort. */
TEST_F(edu, unmap_waits_for_held_translation)
{
	unsigned char *c = pages(4);
	struct unmapper u = { .fd = self->fd, .id = self->id,
			      .iova = 0x40000000, .size = 4 * PG };
	struct iommu_soft_stats st;
	struct kt_edu_xfer x, rel;
	pthread_t t;
	int i;

	ASSERT_TRUE(c != NULL);
	memset(c, 0xab, 4 * PG);
	ASSERT_OK(do_map(self->fd, self->id, 0x40000000, c, 4 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	ASSERT_OK(edu(self->efd, KT_EDU_OP_HOLD, KT_EDU_F_FROM_DEVICE, self->id,
		      0x40001000, 64, 0, &x));
	ASSERT_OK(pthread_create(&t, NULL, unmap_thread, &u));
	usleep(300 * 1000);
	EXPECT_EQ(u.done, 0);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.held, 1);
	/* Already gone from the domain: new translations fault. */
	EXPECT_EQ(st.mappings, 0);

	ASSERT_OK(edu(self->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, &rel));
	pthread_join(t, NULL);
	EXPECT_EQ(u.ret, 4 * PG);
	EXPECT_EQ(rel.revoked, 0);
	EXPECT_EQ(rel.inval_calls, 1);
	/* A bounced FROM_DEVICE hold copies its (zeroed) buffer back. */
	for (i = 0; i < 64; i++)
		if (c[PG + i] != (x.bounced ? 0 : 0xab))
			break;
	EXPECT_EQ(i, 64);
	EXPECT_EQ(c[PG + 64], 0xab);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.held, 0);
	EXPECT_EQ(st.unmap_wait_timeouts, 0);
	EXPECT_EQ(st.pinned_pages, 0);
}

/* When the holder does not release in time, unmap revokes the hold. */
TEST_F(edu, unmap_revokes_after_timeout)
{
	unsigned char *c = pages(4);
	struct iommu_soft_stats st;
	struct kt_edu_xfer x, rel;
	int i;

	ASSERT_TRUE(c != NULL);
	ASSERT_OK(kt_write_str(WAIT_PARAM, "200"));
	memset(c, 0xab, 4 * PG);
	ASSERT_OK(do_map(self->fd, self->id, 0x40000000, c, 4 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	ASSERT_OK(edu(self->efd, KT_EDU_OP_HOLD, KT_EDU_F_FROM_DEVICE, self->id,
		      0x40000000, 64, 0, &x));
	EXPECT_EQ(do_unmap(self->fd, self->id, 0x40000000, 4 * PG), 4 * PG);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.unmap_wait_timeouts, 1);
	EXPECT_EQ(st.held, 1);
	EXPECT_EQ(st.pinned_pages, 0);

	ASSERT_OK(edu(self->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, &rel));
	EXPECT_EQ(rel.revoked, 1);
	EXPECT_EQ(rel.inval_calls, 1);
	/* Nothing was copied back after unmap returned. */
	for (i = 0; i < 64; i++)
		if (c[i] != 0xab)
			break;
	EXPECT_EQ(i, 64);
	if (!x.bounced)
		KT_LOG("page below edu's mask: copy-back check is vacuous");
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.held, 0);
}

static int edu_map_pages(int efd, uint32_t id, uint64_t iova, void *va,
			 uint32_t len, uint32_t perm)
{
	struct kt_edu_xfer x = {
		.op = KT_EDU_OP_MAP_PAGES, .flags = perm, .domain_id = id,
		.iova = iova, .len = len, .uaddr = (uintptr_t)va,
	};

	return ioctl(efd, KT_EDU_XFER, &x);
}

/* Caller-pinned pages (the vfio_pin_pages() path) go back to their owner. */
TEST_F(edu, caller_pinned_pages_released_to_owner)
{
	const uint64_t iova = 0x60000000;
	unsigned char *p = pages(8), v;
	struct iommu_soft_stats st;
	struct kt_edu_xfer s0, s;
	int i;

	ASSERT_TRUE(p != NULL);
	for (i = 0; i < 8; i++)
		p[i * PG + 9] = (unsigned char)(0x40 + i);
	ASSERT_OK(edu(self->efd, KT_EDU_OP_STATUS, 0, 0, 0, 0, 0, &s0));
	ASSERT_OK(edu_map_pages(self->efd, self->id, iova, p, 8 * PG,
				IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	ASSERT_ERRNO(edu_map_pages(self->efd, self->id, iova + PG, p, PG,
				   IOMMU_SOFT_MAP_READ), EEXIST);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.mappings, 1);
	EXPECT_EQ(st.bytes_mapped, 8 * PG);
	EXPECT_EQ(st.pinned_pages, 0);	/* pinned by the owner, not here */
	{
		struct iommu_soft_mapping_info e[2];
		struct iommu_soft_get_mappings g = {
			.argsz = sizeof(g), .domain_id = self->id, .count = 2,
			.entries = (uintptr_t)e,
		};

		ASSERT_OK(ioctl(self->fd, IOMMU_SOFT_GET_MAPPINGS, &g));
		ASSERT_EQ(g.count, 1);
		EXPECT_EQ(e[0].flags, IOMMU_SOFT_MAPPING_OWNED |
			  IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE);
	}

	for (i = 0; i < 8; i++) {
		ASSERT_OK(dma_rw(self->fd, self->id, iova + i * PG + 9, &v, 1, 0));
		EXPECT_EQ(v, 0x40 + i);
	}
	v = 0x99;
	ASSERT_OK(dma_rw(self->fd, self->id, iova + 7 * PG, &v, 1, 1));
	EXPECT_EQ(p[7 * PG], 0x99);

	/* A hole in the middle: the owner gets exactly those pages back. */
	EXPECT_EQ(do_unmap(self->fd, self->id, iova + 3 * PG, 2 * PG), 2 * PG);
	ASSERT_OK(edu(self->efd, KT_EDU_OP_STATUS, 0, 0, 0, 0, 0, &s));
	EXPECT_EQ(s.release_calls - s0.release_calls, 1);
	EXPECT_EQ(s.released_pages - s0.released_pages, 2);
	EXPECT_EQ(s.last_iova, iova + 3 * PG);
	EXPECT_EQ(s.last_npages, 2);
	ASSERT_ERRNO(dma_rw(self->fd, self->id, iova + 4 * PG, &v, 1, 0), EFAULT);
	ASSERT_OK(dma_rw(self->fd, self->id, iova + 5 * PG + 9, &v, 1, 0));
	EXPECT_EQ(v, 0x45);

	/* Unload is refused while iommu_soft may still call the owner. */
	close(self->efd);
	self->efd = -1;
	ASSERT_ERRNO(syscall(SYS_delete_module, "kt_edu", O_NONBLOCK), EWOULDBLOCK);

	/* The rest goes when the domain's file is closed. */
	close(self->fd);
	self->fd = -1;
	self->efd = open("/dev/kt_edu", O_RDWR | O_CLOEXEC);
	ASSERT_GE(self->efd, 0);
	ASSERT_OK(edu(self->efd, KT_EDU_OP_STATUS, 0, 0, 0, 0, 0, &s));
	EXPECT_EQ(s.release_calls - s0.release_calls, 3);
	EXPECT_EQ(s.released_pages - s0.released_pages, 8);
}

struct racer {
	int fd, efd;
	uint32_t id;
	unsigned char *buf;
	volatile int stop;
	int errors, holds, faults, unmaps;
};

static void *hold_loop(void *arg)
{
	struct racer *r = arg;
	struct kt_edu_xfer x;

	while (!r->stop) {
		if (edu(r->efd, KT_EDU_OP_HOLD, KT_EDU_F_FROM_DEVICE, r->id,
			0x70000800, 2 * PG, 0, &x)) {
			if (errno == EFAULT)
				r->faults++;
			else
				r->errors++;
			continue;
		}
		r->holds++;
		if (edu(r->efd, KT_EDU_OP_RELEASE, 0, 0, 0, 0, 0, &x) || x.revoked)
			r->errors++;
	}
	return NULL;
}

/* Holds and unmaps of the same range race without errors or time-outs. */
TEST_F_TIMEOUT(edu, hold_unmap_race, 120)
{
	struct racer r = { .fd = self->fd, .efd = self->efd, .id = self->id };
	struct iommu_soft_stats st;
	pthread_t t;
	int i;

	r.buf = pages(4);
	ASSERT_TRUE(r.buf != NULL);
	ASSERT_OK(pthread_create(&t, NULL, hold_loop, &r));
	for (i = 0; i < 300; i++) {
		if (do_map(self->fd, self->id, 0x70000000, r.buf, 4 * PG,
			   IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE))
			r.errors++;
		if (i % 2)
			usleep(100);
		if (do_unmap(self->fd, self->id, 0x70000000, 4 * PG) != 4 * PG)
			r.errors++;
	}
	r.stop = 1;
	pthread_join(t, NULL);
	KT_LOG("%d holds, %d faults", r.holds, r.faults);
	EXPECT_EQ(r.errors, 0);
	ASSERT_OK(get_stats(self->fd, self->id, &st));
	EXPECT_EQ(st.held, 0);
	EXPECT_EQ(st.mappings, 0);
	EXPECT_EQ(st.unmap_wait_timeouts, 0);
	EXPECT_EQ(st.faults[IOMMU_SOFT_FAULT_NOT_PRESENT], r.faults);
}

KT_MAIN()
