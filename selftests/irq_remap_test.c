// SPDX-License-Identifier: GPL-2.0
/*
 * irq_remap_test - the software interrupt-remapping engine through
 * /dev/irq_remap: delivery to eventfds (process and hard-irq context),
 * faults (not present, index, source id, mode) and the fault log, source
 * checks (requester id with function mask, bus range), masking, coalescing,
 * INTx level semantics with resample, eventfd pairs that would loop
 * (refused when programmed, or broken at run time across tables),
 * argument checking, clean-up on close, create and alloc calls whose
 * copy-out fails while another thread destroys and frees by guessed ids,
 * and concurrent raises while entries are reprogrammed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/irq_remap.h>
#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"

#define DEV	"/dev/irq_remap"
#define RID	0x0108		/* bus 1, device 1, function 0 */

static int ir_open(void)
{
	return open(DEV, O_RDWR | O_CLOEXEC);
}

static int ir_table(int fd, uint16_t rid, uint32_t nr)
{
	struct irq_remap_table_create c = {
		.argsz = sizeof(c), .requester_id = rid, .nr_entries = nr,
	};

	if (ioctl(fd, IRQ_REMAP_TABLE_CREATE, &c))
		return -1;
	return c.table_id;
}

static int ir_alloc(int fd, uint32_t tid)
{
	struct irq_remap_entry_alloc a = { .argsz = sizeof(a), .table_id = tid };

	if (ioctl(fd, IRQ_REMAP_ENTRY_ALLOC, &a))
		return -1;
	return a.handle;
}

static struct irq_remap_entry_set ir_cfg(uint32_t tid, uint32_t h,
					 uint32_t flags, int efd)
{
	struct irq_remap_entry_set s = {
		.argsz = sizeof(s), .flags = flags, .table_id = tid,
		.handle = h, .eventfd = efd, .resample_fd = -1,
	};
	return s;
}

static int ir_set(int fd, uint32_t tid, uint32_t h, uint32_t flags, int efd)
{
	struct irq_remap_entry_set s = ir_cfg(tid, h, flags, efd);

	return ioctl(fd, IRQ_REMAP_ENTRY_SET, &s);
}

static int ir_op(int fd, unsigned long cmd, uint32_t tid, uint32_t h)
{
	struct irq_remap_entry_op op = {
		.argsz = sizeof(op), .table_id = tid, .handle = h,
	};

	return ioctl(fd, cmd, &op);
}

/* Raises @count interrupts; returns how many the table accepted, or -1. */
static int ir_raise_cmd(int fd, unsigned long cmd, uint32_t tid, uint32_t h,
			uint16_t src, uint32_t count, uint32_t flags,
			uint32_t *faulted)
{
	struct irq_remap_raise r = {
		.argsz = sizeof(r), .flags = flags, .table_id = tid,
		.handle = h, .source = src, .count = count,
	};

	if (ioctl(fd, cmd, &r))
		return -1;
	if (faulted)
		*faulted = r.faulted;
	return r.delivered;
}

static int ir_raise(int fd, uint32_t tid, uint32_t h, uint16_t src,
		    uint32_t count)
{
	return ir_raise_cmd(fd, IRQ_REMAP_RAISE, tid, h, src, count, 0, NULL);
}

static int ir_entry(int fd, uint32_t tid, uint32_t h,
		    struct irq_remap_entry_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->table_id = tid;
	info->handle = h;
	return ioctl(fd, IRQ_REMAP_GET_ENTRY, info);
}

static int ir_stats(int fd, uint32_t tid, struct irq_remap_table_stats *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->argsz = sizeof(*ts);
	ts->table_id = tid;
	return ioctl(fd, IRQ_REMAP_GET_TABLE_STATS, ts);
}

static int ir_faults(int fd, uint32_t tid, struct irq_remap_fault *recs,
		     uint32_t nr, uint32_t flags, struct irq_remap_get_faults *g)
{
	memset(g, 0, sizeof(*g));
	g->argsz = sizeof(*g);
	g->flags = flags;
	g->table_id = tid;
	g->nr = nr;
	g->records = (uintptr_t)recs;
	return ioctl(fd, IRQ_REMAP_GET_FAULTS, g);
}

static int ir_coalesce(int fd, uint32_t tid, uint32_t us)
{
	struct irq_remap_coalesce c = {
		.argsz = sizeof(c), .table_id = tid, .interval_us = us,
	};

	return ioctl(fd, IRQ_REMAP_SET_COALESCE, &c);
}

/* Waits up to @ms for @efd to become readable; returns its count or 0. */
static uint64_t efd_wait(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int new_efd(void)
{
	return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

FIXTURE(ir) {
	int fd;
	int tid;
	int efd;
};

FIXTURE_SETUP(ir)
{
	self->fd = ir_open();
	ASSERT_GE(self->fd, 0);
	self->tid = ir_table(self->fd, RID, 16);
	ASSERT_GE(self->tid, 0);
	self->efd = new_efd();
	ASSERT_GE(self->efd, 0);
}

FIXTURE_TEARDOWN(ir)
{
	close(self->efd);
	close(self->fd);
}

TEST(device_node_is_0600)
{
	struct stat st;

	ASSERT_OK(stat(DEV, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0600);
}

TEST_F(ir, deliver_to_eventfd)
{
	struct irq_remap_entry_info info;
	int h = ir_alloc(self->fd, self->tid);
	uint32_t faulted = 1;

	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			 self->efd));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 1), 1);
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);

	/* The same through hard-irq context. */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_RAISE, self->tid, h, RID, 3,
			       IRQ_REMAP_RAISE_HARDIRQ, &faulted), 3);
	ASSERT_EQ(faulted, 0);
	ASSERT_EQ(efd_wait(self->efd, 1000), 3);
	ASSERT_EQ(efd_wait(self->efd, 50), 0);

	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.accepted, 4);
	EXPECT_EQ(info.delivered, 4);
	EXPECT_EQ(info.faults, 0);
	EXPECT_EQ(info.state & (IRQ_REMAP_STATE_ALLOCATED |
				IRQ_REMAP_STATE_OWNED |
				IRQ_REMAP_STATE_PRESENT),
		  IRQ_REMAP_STATE_ALLOCATED | IRQ_REMAP_STATE_OWNED |
		  IRQ_REMAP_STATE_PRESENT);
}

TEST_F(ir, msi_vector_is_stored)
{
	struct irq_remap_entry_set s;
	struct irq_remap_entry_info info;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.msi_addr = 0xfee01000ULL;
	s.msi_data = 0x4041;
	s.svt = IRQ_REMAP_SVT_RID;
	s.sid = RID;
	s.sq = IRQ_REMAP_SQ_IGN_2;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.msi_addr, 0xfee01000ULL);
	EXPECT_EQ(info.msi_data, 0x4041);
	EXPECT_EQ(info.svt, IRQ_REMAP_SVT_RID);
	EXPECT_EQ(info.sid, RID);
	EXPECT_EQ(info.sq, IRQ_REMAP_SQ_IGN_2);
}

TEST_F(ir, not_present_faults)
{
	struct irq_remap_fault recs[8];
	struct irq_remap_get_faults g;
	struct irq_remap_table_stats ts;
	int other = new_efd();
	int h, h2;
	uint32_t faulted = 0;

	ASSERT_GE(other, 0);
	h = ir_alloc(self->fd, self->tid);	/* allocated, never programmed */
	h2 = ir_alloc(self->fd, self->tid);	/* present, must stay quiet */
	ASSERT_GE(h, 0);
	ASSERT_GE(h2, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h2, IRQ_REMAP_ENTRY_PRESENT,
			 other));

	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_RAISE, self->tid, h, RID, 1,
			       0, &faulted), 0);
	ASSERT_EQ(faulted, 1);
	/* A handle beyond the table, and a free entry. */
	ASSERT_EQ(ir_raise(self->fd, self->tid, 16, RID, 1), 0);
	ASSERT_EQ(ir_raise(self->fd, self->tid, 9, 0x0300, 1), 0);
	/* Programmed but not present. */
	ASSERT_OK(ir_set(self->fd, self->tid, h, 0, self->efd));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 1), 0);

	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_EQ(efd_wait(other, 10), 0);

	ASSERT_OK(ir_faults(self->fd, self->tid, recs, 8, 0, &g));
	ASSERT_EQ(g.nr, 4);
	EXPECT_EQ(g.remaining, 0);
	EXPECT_EQ(g.overflow, 0);
	EXPECT_EQ(recs[0].reason, IRQ_REMAP_FAULT_NOT_PRESENT);
	EXPECT_EQ(recs[0].handle, h);
	EXPECT_EQ(recs[0].source, RID);
	EXPECT_EQ(recs[1].reason, IRQ_REMAP_FAULT_INDEX);
	EXPECT_EQ(recs[1].handle, 16);
	EXPECT_EQ(recs[2].reason, IRQ_REMAP_FAULT_NOT_PRESENT);
	EXPECT_EQ(recs[2].source, 0x0300);
	EXPECT_EQ(recs[3].reason, IRQ_REMAP_FAULT_NOT_PRESENT);
	EXPECT_LE(recs[0].timestamp_ns, recs[3].timestamp_ns);
	EXPECT_GT(recs[0].timestamp_ns, 0);

	ASSERT_OK(ir_stats(self->fd, self->tid, &ts));
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_NOT_PRESENT], 3);
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_INDEX], 1);
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_SOURCE_ID], 0);
	EXPECT_EQ(ts.raised, 4);
	EXPECT_EQ(ts.nr_allocated, 2);
	EXPECT_EQ(ts.requester_id, RID);
	EXPECT_EQ(ts.nr_entries, 16);
	close(other);
}

TEST_F(ir, spoofed_source_faults)
{
	struct irq_remap_entry_set s;
	struct irq_remap_fault rec;
	struct irq_remap_get_faults g;
	struct irq_remap_entry_info info;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.svt = IRQ_REMAP_SVT_RID;
	s.sid = RID;
	s.sq = IRQ_REMAP_SQ_ALL;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));

	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID + 1, 1), 0);
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, 0x0208, 1), 0);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 1), 1);
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);

	ASSERT_OK(ir_faults(self->fd, self->tid, &rec, 1, 0, &g));
	ASSERT_EQ(g.nr, 1);
	EXPECT_EQ(g.remaining, 1);
	EXPECT_EQ(rec.reason, IRQ_REMAP_FAULT_SOURCE_ID);
	EXPECT_EQ(rec.source, RID + 1);
	EXPECT_EQ(rec.handle, h);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.faults, 2);
	EXPECT_EQ(info.delivered, 1);
}

/* Sources accepted by one source check, as a bit per try. */
static unsigned int check_sources(int fd, int tid, int h, int efd,
				  const uint16_t *src, unsigned int n)
{
	unsigned int i, ok = 0;

	for (i = 0; i < n; i++) {
		if (ir_raise(fd, tid, h, src[i], 1) == 1 && efd_wait(efd, 1000) == 1)
			ok |= 1u << i;
	}
	return ok;
}

TEST_F(ir, sq_function_mask)
{
	static const uint16_t src[] = {
		0x0108, 0x0109, 0x010a, 0x010b, 0x010c, 0x010d, 0x010e,
		0x010f, 0x0110, 0x0100, 0x0208,
	};
	struct irq_remap_entry_set s;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.svt = IRQ_REMAP_SVT_RID;
	s.sid = 0x0108;

	s.sq = IRQ_REMAP_SQ_ALL;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	EXPECT_EQ(check_sources(self->fd, self->tid, h, self->efd, src, 11), 0x001);
	s.sq = IRQ_REMAP_SQ_IGN_2;		/* fn 0 and 4 */
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	EXPECT_EQ(check_sources(self->fd, self->tid, h, self->efd, src, 11), 0x011);
	s.sq = IRQ_REMAP_SQ_IGN_2_1;		/* fn 0, 2, 4, 6 */
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	EXPECT_EQ(check_sources(self->fd, self->tid, h, self->efd, src, 11), 0x055);
	s.sq = IRQ_REMAP_SQ_IGN_2_0;		/* every function of 01:01 */
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	EXPECT_EQ(check_sources(self->fd, self->tid, h, self->efd, src, 11), 0x0ff);
}

TEST_F(ir, bus_range_check)
{
	static const uint16_t src[] = {
		0x01ff, 0x0200, 0x0318, 0x04ff, 0x0500, 0x0000,
	};
	struct irq_remap_entry_set s;
	struct irq_remap_table_stats ts;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.svt = IRQ_REMAP_SVT_BUS;
	s.bus_start = 2;
	s.bus_end = 4;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	EXPECT_EQ(check_sources(self->fd, self->tid, h, self->efd, src, 6), 0x0e);
	ASSERT_OK(ir_stats(self->fd, self->tid, &ts));
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_SOURCE_ID], 3);
}

TEST_F(ir, mask_pending_unmask)
{
	struct irq_remap_entry_info info;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h,
			 IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_MASKED,
			 self->efd));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 5), 5);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_TRUE(info.state & IRQ_REMAP_STATE_PENDING);
	EXPECT_TRUE(info.state & IRQ_REMAP_STATE_MASKED);
	EXPECT_EQ(info.masked, 5);
	EXPECT_EQ(info.delivered, 0);

	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_FALSE(info.state & (IRQ_REMAP_STATE_PENDING | IRQ_REMAP_STATE_MASKED));
	EXPECT_EQ(info.unmask_fires, 1);

	/* Mask with nothing pending: unmask delivers nothing. */
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_MASK, self->tid, h));
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	/* Masking through ENTRY_SET keeps the pending state; unmask delivers. */
	ASSERT_OK(ir_set(self->fd, self->tid, h,
			 IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_MASKED,
			 self->efd));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 1), 1);
	ASSERT_OK(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			 self->efd));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
}

/* Waits (up to 10 s) until no merged delivery is scheduled on @h. */
static int wait_not_coalescing(int fd, int tid, int h,
			       struct irq_remap_entry_info *info)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (ir_entry(fd, tid, h, info))
			return -1;
		if (!(info->state & IRQ_REMAP_STATE_COALESCING))
			return 0;
		usleep(10000);
	}
	return -1;
}

TEST_F(ir, coalescing_accounts)
{
	struct irq_remap_entry_info info;
	struct irq_remap_table_stats ts;
	uint64_t got = 0, v;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			 self->efd));
	ASSERT_OK(ir_coalesce(self->fd, self->tid, 200000));
	ASSERT_OK(ir_stats(self->fd, self->tid, &ts));
	EXPECT_EQ(ts.coalesce_us, 200000);

	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 100), 100);
	ASSERT_OK(wait_not_coalescing(self->fd, self->tid, h, &info));
	while ((v = efd_wait(self->efd, 300)))
		got += v;

	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	KT_LOG("100 raises: delivered %llu coalesced %llu timer %llu, eventfd %llu",
	       (unsigned long long)info.delivered,
	       (unsigned long long)info.coalesced,
	       (unsigned long long)info.timer_fires,
	       (unsigned long long)got);
	EXPECT_EQ(info.accepted, 100);
	EXPECT_EQ(info.delivered + info.coalesced, 100);
	EXPECT_EQ(got, info.delivered + info.timer_fires);
	EXPECT_GT(info.coalesced, 0);
	EXPECT_GE(info.delivered, 1);
	EXPECT_LE(info.timer_fires, info.coalesced);
	EXPECT_LT(got, 100);

	/* Off again: every raise is delivered at once. */
	ASSERT_OK(ir_coalesce(self->fd, self->tid, 0));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 10), 10);
	ASSERT_EQ(efd_wait(self->efd, 1000), 10);
}

TEST_F(ir, coalesced_while_masked_stays_pending)
{
	struct irq_remap_entry_info info;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			 self->efd));
	ASSERT_OK(ir_coalesce(self->fd, self->tid, 300000));
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 2), 2);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_MASK, self->tid, h));
	ASSERT_OK(wait_not_coalescing(self->fd, self->tid, h, &info));
	ASSERT_EQ(efd_wait(self->efd, 100), 1);	/* the first, at once */
	EXPECT_TRUE(info.state & IRQ_REMAP_STATE_PENDING);
	EXPECT_EQ(info.timer_fires, 0);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.unmask_fires, 1);
}

/* Waits (up to 5 s) until the INTx line of @h leaves service. */
static int wait_out_of_service(int fd, int tid, int h)
{
	struct irq_remap_entry_info info;
	int i;

	for (i = 0; i < 500; i++) {
		if (ir_entry(fd, tid, h, &info))
			return -1;
		if (!(info.state & IRQ_REMAP_STATE_IN_SERVICE))
			return 0;
		usleep(10000);
	}
	return -1;
}

TEST_F(ir, intx_level_and_resample)
{
	struct irq_remap_entry_set s;
	struct irq_remap_entry_info info;
	uint64_t one = 1;
	int h = ir_alloc(self->fd, self->tid);
	int rfd = new_efd();

	ASSERT_GE(h, 0);
	ASSERT_GE(rfd, 0);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX,
		   self->efd);
	s.resample_fd = rfd;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));

	/* Assert: one delivery; further asserts are held. */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 1);
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 3, IRQ_REMAP_RAISE_HARDIRQ, NULL), 3);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);

	/* EOI through the resample eventfd while still asserted: again. */
	ASSERT_EQ(write(rfd, &one, sizeof(one)), sizeof(one));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_TRUE(info.state & IRQ_REMAP_STATE_IN_SERVICE);
	EXPECT_EQ(info.resample_fires, 1);
	/* The resample eventfd was consumed by the kernel. */
	ASSERT_EQ(efd_wait(rfd, 10), 0);

	/* Deassert + EOI: nothing more. */
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_DEASSERT, self->tid, h));
	ASSERT_EQ(write(rfd, &one, sizeof(one)), sizeof(one));
	ASSERT_OK(wait_out_of_service(self->fd, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 100), 0);

	/* The same through the RESAMPLE ioctl. */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 1);
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_RESAMPLE, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_DEASSERT, self->tid, h));
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_RESAMPLE, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 100), 0);

	/* Masked: pending while asserted, delivered on unmask. */
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_MASK, self->tid, h));
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 1);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	/* Masked, asserted, then deasserted: nothing on unmask. */
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_DEASSERT, self->tid, h));
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_RESAMPLE, self->tid, h));
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_MASK, self->tid, h));
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 1);
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_INTX_DEASSERT, self->tid, h));
	ASSERT_OK(ir_op(self->fd, IRQ_REMAP_ENTRY_UNMASK, self->tid, h));
	ASSERT_EQ(efd_wait(self->efd, 100), 0);

	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.accepted, info.delivered + info.coalesced + info.masked +
		  info.intx_suppressed);
	EXPECT_EQ(info.intx_suppressed, 3);
	close(rfd);
}

TEST_F(ir, intx_mode_mismatch_faults)
{
	struct irq_remap_fault rec;
	struct irq_remap_get_faults g;
	int h = ir_alloc(self->fd, self->tid);

	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			 self->efd));
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 0);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_OK(ir_faults(self->fd, self->tid, &rec, 1, 0, &g));
	ASSERT_EQ(g.nr, 1);
	EXPECT_EQ(rec.reason, IRQ_REMAP_FAULT_MODE);
	ASSERT_ERRNO(ir_op(self->fd, IRQ_REMAP_INTX_DEASSERT, self->tid, h), ENXIO);
	ASSERT_ERRNO(ir_op(self->fd, IRQ_REMAP_INTX_RESAMPLE, self->tid, h), ENXIO);
}

/*
 * The engine must not listen to an eventfd it signals: a resample eventfd
 * that is the entry's own trigger (under any fd number), another entry's
 * trigger or the fault eventfd, or a trigger another entry resamples on,
 * would resample on every delivery and, with the line still asserted,
 * deliver again for ever (an endless irq_work loop).
 */
TEST_F(ir, resample_loops_refused)
{
	const uint32_t intx = IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX;
	struct irq_remap_entry_info info;
	struct irq_remap_fault_eventfd fe;
	struct irq_remap_entry_set s;
	int h = ir_alloc(self->fd, self->tid), h2 = ir_alloc(self->fd, self->tid);
	int rfd = new_efd(), ffd = new_efd(), dupfd = dup(self->efd);

	ASSERT_GE(h, 0);
	ASSERT_GE(h2, 0);
	ASSERT_GE(rfd, 0);
	ASSERT_GE(ffd, 0);
	ASSERT_GE(dupfd, 0);

	s = ir_cfg(self->tid, h, intx, self->efd);
	s.resample_fd = self->efd;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.resample_fd = dupfd;		/* the same eventfd */
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.resample_fd = rfd;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));

	/* Across entries: h2 may not trigger h's resample nor resample on h's trigger. */
	s = ir_cfg(self->tid, h2, intx, rfd);
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s = ir_cfg(self->tid, h2, intx, ffd);
	s.resample_fd = self->efd;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);

	/* The fault eventfd, both ways. */
	fe = (struct irq_remap_fault_eventfd){
		.argsz = sizeof(fe), .table_id = self->tid, .fd = rfd,
	};
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe), EINVAL);
	fe.fd = ffd;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe));
	s = ir_cfg(self->tid, h2, intx, self->efd);
	s.resample_fd = ffd;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	/* Two entries may share a trigger. */
	s.resample_fd = -1;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));

	/* A delivery is one signal, not a resample. */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, h,
			       RID, 1, 0, NULL), 1);
	ASSERT_EQ(efd_wait(self->efd, 1000), 1);
	ASSERT_EQ(efd_wait(self->efd, 100), 0);
	ASSERT_OK(ir_entry(self->fd, self->tid, h, &info));
	EXPECT_EQ(info.delivered, 1);
	EXPECT_EQ(info.resample_fires, 0);
	close(dupfd);
	close(ffd);
	close(rfd);
}

/*
 * Across tables the programming check cannot see a loop: entry a (table 1)
 * triggers E and resamples on F, entry b (table 2) triggers F and resamples
 * on E.  With both lines asserted each delivery would resample the other
 * entry, which delivers again, for ever (a livelock in irq_works).  A
 * resample caused by the engine's own signal must be refused and counted;
 * one the VMM makes (a write to the resample eventfd) still works.
 */
TEST_F(ir, resample_loop_across_tables_broken)
{
	struct irq_remap_entry_info ia, ib;
	struct irq_remap_entry_set s;
	char path[128], buf[32];
	uint64_t one = 1;
	int t2 = ir_table(self->fd, RID + 1, 4);
	int a = ir_alloc(self->fd, self->tid), b;
	int e = new_efd(), f = new_efd();
	unsigned long loops;

	ASSERT_GE(t2, 0);
	ASSERT_GE(a, 0);
	b = ir_alloc(self->fd, t2);
	ASSERT_GE(b, 0);
	ASSERT_GE(e, 0);
	ASSERT_GE(f, 0);
	s = ir_cfg(self->tid, a, IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX, e);
	s.resample_fd = f;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));
	s = ir_cfg(t2, b, IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX, f);
	s.resample_fd = e;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s));

	/* a's delivery on E is a resample of b: refused (b not asserted). */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, self->tid, a,
			       RID, 1, 0, NULL), 1);
	/* b's delivery on F would resample a, which is asserted: the loop. */
	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_INTX_ASSERT, t2, b,
			       RID + 1, 1, 0, NULL), 1);
	usleep(300000);
	ASSERT_OK(ir_entry(self->fd, self->tid, a, &ia));
	ASSERT_OK(ir_entry(self->fd, t2, b, &ib));
	EXPECT_EQ(ia.resample_fires, 0);
	EXPECT_EQ(ib.resample_fires, 0);
	EXPECT_TRUE(ia.state & IRQ_REMAP_STATE_IN_SERVICE);
	EXPECT_TRUE(ib.state & IRQ_REMAP_STATE_IN_SERVICE);
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/resample_loops",
		 self->tid);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	loops = strtoul(buf, NULL, 0);
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/resample_loops", t2);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	loops += strtoul(buf, NULL, 0);
	EXPECT_EQ(loops, 2);

	/*
	 * The VMM's own EOI of a (a write to F) still resamples a, once; its
	 * delivery on E (consumed by b's resample wait) is refused as b's
	 * resample, as before.
	 */
	ASSERT_EQ(write(f, &one, sizeof(one)), sizeof(one));
	usleep(300000);
	ASSERT_OK(ir_entry(self->fd, self->tid, a, &ia));
	ASSERT_OK(ir_entry(self->fd, t2, b, &ib));
	EXPECT_EQ(ia.resample_fires, 1);
	EXPECT_EQ(ib.resample_fires, 0);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_EQ(strtoul(buf, NULL, 0), 2);	/* table 2: b refused twice */
	close(e);
	close(f);
}

TEST_F(ir, fault_log_overflow_and_eventfd)
{
	static struct irq_remap_fault recs[IRQ_REMAP_MAX_FAULT_READ];
	struct irq_remap_get_faults g;
	struct irq_remap_fault_eventfd fe;
	struct irq_remap_table_stats ts;
	unsigned int size;
	uint32_t faulted = 0;
	char buf[32];
	int ffd = new_efd();

	ASSERT_GE(ffd, 0);
	ASSERT_OK(kt_read_str("/sys/module/irq_remap/parameters/fault_log_size",
			     buf, sizeof(buf)));
	size = atoi(buf);
	ASSERT_GT(size, 0);
	ASSERT_LT(size, IRQ_REMAP_MAX_FAULT_READ);

	fe = (struct irq_remap_fault_eventfd){
		.argsz = sizeof(fe), .table_id = self->tid, .fd = ffd,
	};
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe));

	ASSERT_EQ(ir_raise_cmd(self->fd, IRQ_REMAP_RAISE, self->tid, 3, RID,
			       size + 10, 0, &faulted), 0);
	ASSERT_EQ(faulted, size + 10);
	ASSERT_GE(efd_wait(ffd, 1000), 1);

	/* Peek leaves the records in place. */
	ASSERT_OK(ir_faults(self->fd, self->tid, recs, 2, IRQ_REMAP_FAULTS_PEEK, &g));
	EXPECT_EQ(g.nr, 2);
	EXPECT_EQ(g.remaining, size);
	ASSERT_OK(ir_faults(self->fd, self->tid, recs, IRQ_REMAP_MAX_FAULT_READ, 0, &g));
	EXPECT_EQ(g.nr, size);
	EXPECT_EQ(g.overflow, 10);
	EXPECT_EQ(g.remaining, 0);
	EXPECT_EQ(recs[size - 1].reason, IRQ_REMAP_FAULT_NOT_PRESENT);
	ASSERT_OK(ir_faults(self->fd, self->tid, recs, 16, 0, &g));
	EXPECT_EQ(g.nr, 0);
	EXPECT_EQ(g.overflow, 10);
	ASSERT_OK(ir_stats(self->fd, self->tid, &ts));
	EXPECT_EQ(ts.fault_overflow, 10);
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_NOT_PRESENT], size + 10);
	EXPECT_EQ(ts.fault_records, 0);

	/* No more signals once the fault eventfd is cleared. */
	fe.fd = -1;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe));
	efd_wait(ffd, 10);
	ASSERT_EQ(ir_raise(self->fd, self->tid, 3, RID, 1), 0);
	ASSERT_EQ(efd_wait(ffd, 100), 0);
	close(ffd);
}

TEST_F(ir, bad_arguments)
{
	struct irq_remap_table_create c = { .argsz = sizeof(c), .nr_entries = 4 };
	struct irq_remap_entry_set s;
	struct irq_remap_raise r;
	struct irq_remap_get_faults g;
	struct irq_remap_entry_alloc a;
	int h = ir_alloc(self->fd, self->tid);
	int nfd = open("/dev/null", O_RDONLY);
	int other;

	ASSERT_GE(h, 0);
	ASSERT_GE(nfd, 0);

	/* argsz, flags, padding */
	c.argsz = sizeof(c) - 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, &c), EINVAL);
	c.argsz = sizeof(c);
	c.flags = 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, &c), EINVAL);
	c.flags = 0;
	c.pad0 = 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, &c), EINVAL);
	c.pad0 = 0;
	c.nr_entries = 0;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, &c), EINVAL);
	c.nr_entries = 1u << 20;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, &c), EINVAL);
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_CREATE, (void *)8), EFAULT);
	ASSERT_ERRNO(ioctl(self->fd, _IO(IRQ_REMAP_TYPE, 0x7f), &c), ENOTTY);

	/* bad table id; a table of another file is not visible */
	ASSERT_ERRNO(ir_alloc(self->fd, 0xdead), ENOENT);
	ASSERT_ERRNO(ir_raise(self->fd, 0xdead, 0, RID, 1), ENOENT);
	other = ir_open();
	ASSERT_GE(other, 0);
	ASSERT_ERRNO(ir_alloc(other, self->tid), ENOENT);
	ASSERT_ERRNO(ir_set(other, self->tid, h, 0, -1), ENOENT);
	close(other);

	/* handles */
	ASSERT_ERRNO(ir_set(self->fd, self->tid, 16, IRQ_REMAP_ENTRY_PRESENT,
			    self->efd), EINVAL);
	ASSERT_ERRNO(ir_set(self->fd, self->tid, 0xffffffff, 0, -1), EINVAL);
	ASSERT_ERRNO(ir_op(self->fd, IRQ_REMAP_ENTRY_FREE, self->tid, 16), EINVAL);
	ASSERT_ERRNO(ir_op(self->fd, IRQ_REMAP_ENTRY_MASK, self->tid, 99), EINVAL);
	ASSERT_ERRNO(ir_set(self->fd, self->tid, 5, IRQ_REMAP_ENTRY_PRESENT,
			    self->efd), EPERM);	/* not allocated */
	ASSERT_ERRNO(ir_op(self->fd, IRQ_REMAP_ENTRY_FREE, self->tid, 5), EPERM);
	a = (struct irq_remap_entry_alloc){
		.argsz = sizeof(a), .flags = IRQ_REMAP_ALLOC_FIXED,
		.table_id = self->tid, .handle = h,
	};
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_ALLOC, &a), EBUSY);
	a.handle = 16;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_ALLOC, &a), EINVAL);
	a.handle = 7;
	ASSERT_OK(ioctl(self->fd, IRQ_REMAP_ENTRY_ALLOC, &a));
	ASSERT_EQ(a.handle, 7);
	a.flags = 2;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_ALLOC, &a), EINVAL);

	/* eventfds */
	ASSERT_ERRNO(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT, 9999),
		     EBADF);
	ASSERT_ERRNO(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT, nfd),
		     EINVAL);
	ASSERT_ERRNO(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT, -1),
		     EINVAL);
	ASSERT_ERRNO(ir_set(self->fd, self->tid, h, IRQ_REMAP_ENTRY_PRESENT, -5),
		     EINVAL);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX,
		   self->efd);
	s.resample_fd = 9999;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EBADF);
	s.resample_fd = nfd;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.resample_fd = self->efd;	/* resample needs INTx */
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);

	/* entry programming fields */
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.flags |= 1u << 7;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.svt = 3;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.svt = IRQ_REMAP_SVT_RID;
	s.sq = 4;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.svt = IRQ_REMAP_SVT_BUS;
	s.sq = 0;
	s.bus_start = 5;
	s.bus_end = 4;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s = ir_cfg(self->tid, h, IRQ_REMAP_ENTRY_PRESENT, self->efd);
	s.pad0 = 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.pad0 = 0;
	s.pad1 = 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	s.pad1 = 0;
	s.argsz = 8;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_ENTRY_SET, &s), EINVAL);
	/* Nothing above changed the entry. */
	ASSERT_EQ(ir_raise(self->fd, self->tid, h, RID, 1), 0);

	/* raise */
	r = (struct irq_remap_raise){
		.argsz = sizeof(r), .table_id = self->tid, .handle = h,
		.source = RID, .count = 0,
	};
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_RAISE, &r), EINVAL);
	r.count = IRQ_REMAP_MAX_RAISE + 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_RAISE, &r), EINVAL);
	r.count = 1;
	r.flags = 2;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_RAISE, &r), EINVAL);
	r.flags = 0;
	r.pad0 = 1;
	ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_RAISE, &r), EINVAL);

	/* faults, coalescing, fault eventfd */
	ASSERT_ERRNO(ir_faults(self->fd, self->tid, NULL, IRQ_REMAP_MAX_FAULT_READ + 1,
			       0, &g), EINVAL);
	ASSERT_ERRNO(ir_faults(self->fd, self->tid, NULL, 1, 4, &g), EINVAL);
	ASSERT_EQ(ir_raise(self->fd, self->tid, 2, RID, 1), 0);	/* a fault */
	ASSERT_ERRNO(ir_faults(self->fd, self->tid, (void *)8, 1, 0, &g), EFAULT);
	ASSERT_OK(ir_faults(self->fd, self->tid, NULL, 0, 0, &g));
	EXPECT_EQ(g.remaining, 2);	/* the EFAULT consumed nothing */
	ASSERT_ERRNO(ir_coalesce(self->fd, self->tid, IRQ_REMAP_MAX_COALESCE_US + 1),
		     EINVAL);
	{
		struct irq_remap_fault_eventfd fe = {
			.argsz = sizeof(fe), .table_id = self->tid, .fd = nfd,
		};

		ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe), EINVAL);
		fe.fd = 9999;
		ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe), EBADF);
	}
	{
		struct irq_remap_table_op op = {
			.argsz = sizeof(op), .table_id = self->tid, .pad0 = 1,
		};

		ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_DESTROY, &op), EINVAL);
		op.pad0 = 0;
		ASSERT_OK(ioctl(self->fd, IRQ_REMAP_TABLE_DESTROY, &op));
		ASSERT_ERRNO(ioctl(self->fd, IRQ_REMAP_TABLE_DESTROY, &op), ENOENT);
		ASSERT_ERRNO(ir_raise(self->fd, self->tid, h, RID, 1), ENOENT);
	}
	close(nfd);
}

TEST(sysfs_table_directory)
{
	char path[128], buf[64];
	int fd = ir_open(), tid, h, efd = new_efd(), sfd;

	ASSERT_GE(fd, 0);
	ASSERT_GE(efd, 0);
	tid = ir_table(fd, 0x0a10, 4);
	ASSERT_GE(tid, 0);
	h = ir_alloc(fd, tid);
	ASSERT_GE(h, 0);
	ASSERT_OK(ir_set(fd, tid, h, IRQ_REMAP_ENTRY_PRESENT, efd));
	ASSERT_EQ(ir_raise(fd, tid, h, 0x0a10, 3), 3);
	ASSERT_EQ(ir_raise(fd, tid, 3, 0x0a10, 1), 0);

	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/requester_id", tid);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ(buf, "0a10");
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/delivered", tid);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ(buf, "3");
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/faults_not_present", tid);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ(buf, "1");
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/allocated", tid);
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	EXPECT_STREQ(buf, "1");

	/* The listings show what guests and VMMs programmed: root only. */
	{
		static const char *const listing[] = { "entry_list", "fault_log" };
		struct stat st;
		int i;

		for (i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/%s",
				 tid, listing[i]);
			ASSERT_OK(stat(path, &st));
			EXPECT_EQ(st.st_mode & 0777, 0400);
		}
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/delivered", tid);
		ASSERT_OK(stat(path, &st));
		EXPECT_EQ(st.st_mode & 0777, 0444);
	}

	/* The coalescing knob is the same as SET_COALESCE. */
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d/coalesce_us", tid);
	sfd = open(path, O_WRONLY);
	ASSERT_GE(sfd, 0);
	ASSERT_EQ(write(sfd, "1234", 4), 4);
	ASSERT_ERRNO(write(sfd, "99999999", 8), EINVAL);
	close(sfd);
	{
		struct irq_remap_table_stats ts;

		ASSERT_OK(ir_stats(fd, tid, &ts));
		EXPECT_EQ(ts.coalesce_us, 1234);
	}

	close(fd);
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d", tid);
	ASSERT_ERRNO(access(path, F_OK), ENOENT);
	close(efd);
}

static int read_refcnt(void)
{
	char buf[32];

	if (kt_read_str("/sys/module/irq_remap/refcnt", buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/* Tables in sysfs, every file's. */
static int count_tables(void)
{
	DIR *d = opendir("/sys/kernel/irq_remap");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "table", 5);
	closedir(d);
	return n;
}

/* A read-only page holding @size bytes of @arg. */
static void *ro_arg(const void *arg, size_t size)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, arg, size);
	if (mprotect(p, 4096, PROT_READ)) {
		munmap(p, 4096);
		return NULL;
	}
	return p;
}

#define NR_GUESS	16
#define NR_EFAULT	3000

struct guesser {
	int		fd;
	uint32_t	tid;
	volatile int	stop;
	unsigned long	hits;	/* calls on a guessed id that succeeded */
	unsigned long	own;	/* own allocations that worked throughout */
	int		err;
};

static void *destroy_guessed_fn(void *arg)
{
	struct guesser *g = arg;
	uint32_t id;

	while (!g->stop) {
		for (id = 0; id < NR_GUESS; id++) {
			struct irq_remap_table_op op = {
				.argsz = sizeof(op), .table_id = id,
			};

			if (!ioctl(g->fd, IRQ_REMAP_TABLE_DESTROY, &op))
				g->hits++;
		}
	}
	return NULL;
}

/*
 * TABLE_CREATE whose result cannot be copied out (a read-only page) fails
 * with EFAULT and destroys its table, while another thread of the file
 * destroys every id it can guess.  The new table must not be reachable by
 * its id before the copy-out succeeded: the error path used to erase and
 * destroy a table the other thread might have destroyed already (a
 * use-after-free and a double destroy).  Nothing may be left behind.
 */
TEST_TIMEOUT(create_efault_races_destroy, 240)
{
	struct irq_remap_table_create c = {
		.argsz = sizeof(c), .requester_id = RID, .nr_entries = 4,
	};
	struct guesser g = {};
	int before = count_tables(), i, efault = 0;
	pthread_t th;
	void *ro;

	ASSERT_GE(before, 0);
	g.fd = ir_open();
	ASSERT_GE(g.fd, 0);
	ro = ro_arg(&c, sizeof(c));
	ASSERT_TRUE(ro);
	ASSERT_OK(pthread_create(&th, NULL, destroy_guessed_fn, &g));
	for (i = 0; i < NR_EFAULT; i++)
		efault += ioctl(g.fd, IRQ_REMAP_TABLE_CREATE, ro) == -1 &&
			  errno == EFAULT;
	g.stop = 1;
	pthread_join(th, NULL);
	KT_LOG("%d EFAULT, %lu tables destroyed by guessed id", efault, g.hits);
	EXPECT_EQ(efault, NR_EFAULT);
	EXPECT_EQ(g.hits, 0);
	EXPECT_EQ(count_tables(), before);
	close(g.fd);
	EXPECT_EQ(count_tables(), before);
	munmap(ro, 4096);
}

static void *free_guessed_fn(void *arg)
{
	struct guesser *g = arg;
	uint32_t h;

	while (!g->stop) {
		struct irq_remap_entry_info info;
		int mine;

		for (h = 0; h < 4; h++)
			if (!ir_op(g->fd, IRQ_REMAP_ENTRY_FREE, g->tid, h))
				g->hits++;
		mine = ir_alloc(g->fd, g->tid);
		if (mine < 0)
			continue;	/* the other thread holds the lowest */
		if (ir_entry(g->fd, g->tid, mine, &info) ||
		    !(info.state & IRQ_REMAP_STATE_OWNED) ||
		    ir_op(g->fd, IRQ_REMAP_ENTRY_FREE, g->tid, mine)) {
			g->err++;
			continue;
		}
		g->own++;
	}
	return NULL;
}

/*
 * The same for ENTRY_ALLOC: the entry of a call whose copy-out fails is
 * given back, and another thread of the same file (the same owner) frees
 * the handles it guesses and allocates its own.  The failing call may only
 * give back its own entry, and the other thread never sees it.
 */
TEST_TIMEOUT(alloc_efault_races_free, 240)
{
	struct irq_remap_entry_alloc a = { .argsz = sizeof(a) };
	struct irq_remap_table_stats ts;
	struct guesser g = {};
	int i, tid, efault = 0;
	pthread_t th;
	void *ro;

	g.fd = ir_open();
	ASSERT_GE(g.fd, 0);
	tid = ir_table(g.fd, RID, 2);
	ASSERT_GE(tid, 0);
	g.tid = tid;
	a.table_id = g.tid;
	ro = ro_arg(&a, sizeof(a));
	ASSERT_TRUE(ro);
	ASSERT_OK(pthread_create(&th, NULL, free_guessed_fn, &g));
	for (i = 0; i < NR_EFAULT; i++)
		efault += ioctl(g.fd, IRQ_REMAP_ENTRY_ALLOC, ro) == -1 &&
			  errno == EFAULT;
	g.stop = 1;
	pthread_join(th, NULL);
	KT_LOG("%d EFAULT, %lu entries freed by guessed handle, %lu own allocations",
	       efault, g.hits, g.own);
	EXPECT_EQ(efault, NR_EFAULT);
	EXPECT_EQ(g.hits, 0);
	EXPECT_EQ(g.err, 0);
	EXPECT_GT(g.own, 0);
	ASSERT_OK(ir_stats(g.fd, g.tid, &ts));
	EXPECT_EQ(ts.nr_allocated, 0);
	close(g.fd);
	munmap(ro, 4096);
}

TEST(close_cleans_up)
{
	int pipefd[2], refcnt = read_refcnt(), ids[3], i, status;
	char path[128];
	pid_t pid;

	ASSERT_GE(refcnt, 0);
	ASSERT_OK(pipe(pipefd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = ir_open();

		for (i = 0; i < 3; i++) {
			struct irq_remap_entry_set s;
			struct irq_remap_fault_eventfd fe;
			int h, j;

			ids[i] = ir_table(fd, 0x100 + i, 8);
			for (j = 0; j < 8; j++) {
				h = ir_alloc(fd, ids[i]);
				s = ir_cfg(ids[i], h, IRQ_REMAP_ENTRY_PRESENT |
					   (j & 1 ? IRQ_REMAP_ENTRY_INTX : 0),
					   new_efd());
				if (j & 1)
					s.resample_fd = new_efd();
				if (ioctl(fd, IRQ_REMAP_ENTRY_SET, &s))
					_exit(2);
			}
			fe = (struct irq_remap_fault_eventfd){
				.argsz = sizeof(fe), .table_id = ids[i],
				.fd = new_efd(),
			};
			if (ioctl(fd, IRQ_REMAP_SET_FAULT_EVENTFD, &fe))
				_exit(3);
			ir_coalesce(fd, ids[i], 500000);
			/* leave a merged delivery scheduled */
			ir_raise(fd, ids[i], 0, 0x100 + i, 5);
		}
		if (write(pipefd[1], ids, sizeof(ids)) != sizeof(ids))
			_exit(4);
		_exit(0);	/* no close: the exit does it */
	}
	close(pipefd[1]);
	ASSERT_EQ(read(pipefd[0], ids, sizeof(ids)), sizeof(ids));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	for (i = 0; i < 3; i++) {
		ASSERT_GE(ids[i], 0);
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%d", ids[i]);
		EXPECT_ERRNO(access(path, F_OK), ENOENT);
	}
	EXPECT_EQ(read_refcnt(), refcnt);
}

/* Module parameters: limits and defaults of new tables. */
#define PARAM(n) "/sys/module/irq_remap/parameters/" n

static const char *const params[] = {
	PARAM("max_tables"), PARAM("max_entries"), PARAM("fault_log_size"),
	PARAM("default_coalesce_us"),
};

FIXTURE(param) {
	char saved[4][32];
	int fd;
};

FIXTURE_SETUP(param)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		ASSERT_OK(kt_read_str(params[i], self->saved[i], sizeof(self->saved[i])));
	self->fd = ir_open();
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(param)
{
	unsigned int i;

	close(self->fd);
	for (i = 0; i < 4; i++)
		if (self->saved[i][0])
			EXPECT_OK(kt_write_str(params[i], self->saved[i]));
}

TEST_F(param, limits_and_defaults)
{
	struct irq_remap_fault recs[16];
	struct irq_remap_get_faults g;
	struct irq_remap_table_stats ts;
	int tid;

	/* Out-of-range values are refused. */
	ASSERT_ERRNO(kt_write_str(params[1], "0"), EINVAL);
	ASSERT_ERRNO(kt_write_str(params[1], "65537"), EINVAL);
	ASSERT_ERRNO(kt_write_str(params[2], "0"), EINVAL);
	ASSERT_ERRNO(kt_write_str(params[3], "10000001"), EINVAL);

	ASSERT_OK(kt_write_str(params[0], "0"));
	ASSERT_ERRNO(ir_table(self->fd, RID, 4), ENOSPC);
	ASSERT_OK(kt_write_str(params[0], self->saved[0]));

	ASSERT_OK(kt_write_str(params[1], "8"));
	ASSERT_ERRNO(ir_table(self->fd, RID, 9), EINVAL);
	ASSERT_GE(ir_table(self->fd, RID, 8), 0);

	ASSERT_OK(kt_write_str(params[2], "4"));
	ASSERT_OK(kt_write_str(params[3], "1234"));
	tid = ir_table(self->fd, RID, 2);
	ASSERT_GE(tid, 0);
	ASSERT_EQ(ir_raise(self->fd, tid, 0, RID, 10), 0);
	ASSERT_OK(ir_faults(self->fd, tid, recs, 16, 0, &g));
	EXPECT_EQ(g.nr, 4);
	EXPECT_EQ(g.overflow, 6);
	ASSERT_OK(ir_stats(self->fd, tid, &ts));
	EXPECT_EQ(ts.coalesce_us, 1234);
}

#define CLIENT_KO "/usr/share/kvmio/test-modules/kt_irq_remap_client.ko"

static int run_cmd(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A kernel module uses the kernel API the way kvm_assign does (ownership,
 * programming from a fd, delivery, faults, masking, INTx with an EOI
 * callback, a delivery from inside another eventfd's wake-up, which must
 * be deferred instead of tripping eventfd_signal()'s warning, and an INTx
 * entry whose trigger is also its unmask eventfd, whose wake-up unmasks
 * and resamples the entry: the engine must not signal with its table lock
 * held, or the host hangs); its checks run in module_init.  Its signals
 * arrive on our eventfd.
 */
TEST(kernel_api_client_module)
{
	char a1[32], a2[32], a3[32];
	int efd = eventfd(0, EFD_NONBLOCK), nfd = eventfd(0, EFD_NONBLOCK);
	int lfd = eventfd(0, EFD_NONBLOCK);
	char *insmod[] = { "insmod", CLIENT_KO, a1, a2, a3, NULL };
	char *rmmod[] = { "rmmod", "kt_irq_remap_client", NULL };
	uint64_t got = 0, v;

	ASSERT_GE(efd, 0);
	ASSERT_GE(nfd, 0);
	ASSERT_GE(lfd, 0);
	ASSERT_OK(access(CLIENT_KO, R_OK));
	snprintf(a1, sizeof(a1), "trigger_fd=%d", efd);
	snprintf(a2, sizeof(a2), "nest_fd=%d", nfd);
	snprintf(a3, sizeof(a3), "loop_fd=%d", lfd);
	ASSERT_EQ(run_cmd(insmod), 0);
	while ((v = efd_wait(efd, 500)))
		got += v;
	EXPECT_EQ(got, 5);
	/* The module's unmask handler consumed every signal on lfd. */
	EXPECT_EQ(efd_wait(lfd, 10), 0);
	ASSERT_EQ(run_cmd(rmmod), 0);
	close(efd);
	close(nfd);
	close(lfd);
}

/* Concurrency: raisers on every entry while another thread reprograms. */
#define NR_ENT		4
#define NR_RAISERS	3
#define NR_ITER		2000

struct stress {
	int		fd;
	int		tid;
	int		efd[NR_ENT][2];
	volatile int	stop;
	uint64_t	accepted[NR_RAISERS];
	uint64_t	faulted[NR_RAISERS];
	int		err;
};

struct raiser {
	struct stress	*s;
	int		idx;
};

static void *raiser_fn(void *arg)
{
	struct raiser *r = arg;
	struct stress *s = r->s;
	unsigned int i;

	for (i = 0; i < NR_ITER; i++) {
		uint32_t faulted = 0;
		int h = (i + r->idx) % (NR_ENT + 1);	/* NR_ENT is not allocated */
		int n = ir_raise_cmd(s->fd, IRQ_REMAP_RAISE, s->tid, h, RID, 8,
				     (i & 1) ? IRQ_REMAP_RAISE_HARDIRQ : 0,
				     &faulted);

		if (n < 0) {
			s->err = errno;
			break;
		}
		s->accepted[r->idx] += n;
		s->faulted[r->idx] += faulted;
	}
	return NULL;
}

static void *reprogram_fn(void *arg)
{
	struct stress *s = arg;
	unsigned int i = 0;

	while (!s->stop) {
		int h = i % NR_ENT;

		switch ((i / NR_ENT) % 6) {
		case 0:
			ir_op(s->fd, IRQ_REMAP_ENTRY_MASK, s->tid, h);
			break;
		case 1:
			ir_set(s->fd, s->tid, h, IRQ_REMAP_ENTRY_PRESENT,
			       s->efd[h][(i / 8) & 1]);
			break;
		case 2:
			ir_op(s->fd, IRQ_REMAP_ENTRY_UNMASK, s->tid, h);
			break;
		case 3:
			ir_coalesce(s->fd, s->tid, (i & 8) ? 500 : 0);
			break;
		case 4:		/* now and then an INTx entry */
			if (!(i & 0x70))
				ir_set(s->fd, s->tid, h, IRQ_REMAP_ENTRY_PRESENT |
				       IRQ_REMAP_ENTRY_INTX, s->efd[h][0]);
			break;
		default:
			ir_op(s->fd, IRQ_REMAP_INTX_RESAMPLE, s->tid, h);
			break;
		}
		i++;
	}
	return NULL;
}

TEST_TIMEOUT(concurrent_raise_and_reprogram, 300)
{
	pthread_t th[NR_RAISERS], rp;
	struct raiser r[NR_RAISERS];
	struct stress *s = calloc(1, sizeof(*s));
	uint64_t accepted = 0, faulted = 0, sum_acc = 0, sum_sig = 0, got = 0, v;
	uint64_t masked = 0, coalesced = 0, suppressed = 0;
	struct irq_remap_table_stats ts;
	int i, j;

	ASSERT_TRUE(s);
	s->fd = ir_open();
	ASSERT_GE(s->fd, 0);
	s->tid = ir_table(s->fd, RID, NR_ENT + 1);
	ASSERT_GE(s->tid, 0);
	for (i = 0; i < NR_ENT; i++) {
		ASSERT_EQ(ir_alloc(s->fd, s->tid), i);
		s->efd[i][0] = new_efd();
		s->efd[i][1] = new_efd();
		ASSERT_OK(ir_set(s->fd, s->tid, i, IRQ_REMAP_ENTRY_PRESENT,
				 s->efd[i][0]));
	}
	ASSERT_OK(pthread_create(&rp, NULL, reprogram_fn, s));
	for (i = 0; i < NR_RAISERS; i++) {
		r[i].s = s;
		r[i].idx = i;
		ASSERT_OK(pthread_create(&th[i], NULL, raiser_fn, &r[i]));
	}
	for (i = 0; i < NR_RAISERS; i++)
		pthread_join(th[i], NULL);
	s->stop = 1;
	pthread_join(rp, NULL);
	ASSERT_EQ(s->err, 0);

	/* Settle: unmask everything, let merged deliveries fire. */
	for (i = 0; i < NR_ENT; i++) {
		struct irq_remap_entry_info info;

		ASSERT_OK(ir_op(s->fd, IRQ_REMAP_ENTRY_UNMASK, s->tid, i));
		ASSERT_OK(ir_entry(s->fd, s->tid, i, &info));
		if (info.state & IRQ_REMAP_STATE_INTX)
			ASSERT_OK(ir_op(s->fd, IRQ_REMAP_INTX_DEASSERT, s->tid, i));
		ASSERT_OK(wait_not_coalescing(s->fd, s->tid, i, &info));
	}
	for (i = 0; i < NR_RAISERS; i++) {
		accepted += s->accepted[i];
		faulted += s->faulted[i];
	}
	for (i = 0; i < NR_ENT; i++) {
		struct irq_remap_entry_info info;

		ASSERT_OK(ir_entry(s->fd, s->tid, i, &info));
		EXPECT_FALSE(info.state & IRQ_REMAP_STATE_PENDING);
		EXPECT_EQ(info.accepted, info.delivered + info.coalesced +
			  info.masked + info.intx_suppressed);
		sum_acc += info.accepted;
		masked += info.masked;
		coalesced += info.coalesced;
		suppressed += info.intx_suppressed;
		sum_sig += info.delivered + info.timer_fires +
			   info.unmask_fires + info.resample_fires;
		for (j = 0; j < 2; j++)
			while ((v = efd_wait(s->efd[i][j], 0)))
				got += v;
	}
	ASSERT_OK(ir_stats(s->fd, s->tid, &ts));
	KT_LOG("accepted %llu (masked %llu coalesced %llu intx held %llu) faulted %llu signals %llu eventfd %llu",
	       (unsigned long long)accepted, (unsigned long long)masked,
	       (unsigned long long)coalesced, (unsigned long long)suppressed,
	       (unsigned long long)faulted, (unsigned long long)sum_sig,
	       (unsigned long long)got);
	EXPECT_EQ(accepted + faulted, NR_RAISERS * NR_ITER * 8);
	EXPECT_EQ(sum_acc, accepted);
	EXPECT_EQ(got, sum_sig);
	EXPECT_EQ(ts.raised, accepted + faulted);
	EXPECT_EQ(ts.faults[IRQ_REMAP_FI_NOT_PRESENT], faulted);
	EXPECT_GT(faulted, 0);
	close(s->fd);
	for (i = 0; i < NR_ENT; i++) {
		close(s->efd[i][0]);
		close(s->efd[i][1]);
	}
	free(s);
}

KT_MAIN()
