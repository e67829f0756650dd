// SPDX-License-Identifier: GPL-2.0
/*
 * faultinj_test - every allocation of the suite's set-up paths, and of a few
 * data paths, made to fail in turn, and pinning refused by RLIMIT_MEMLOCK.
 *
 * Allocation failures use the kernel's per-task fault injection
 * (/proc/<tid>/fail-nth, CONFIG_FAULT_INJECTION with FAILSLAB and
 * FAIL_PAGE_ALLOC): for each operation, for n = 1, 2, ... the n-th slab or
 * page allocation the operation's task makes fails.  The operation must
 * either succeed (the failure had a fallback) or fail with a clean errno;
 * once it is undone, every counter of lib/kt_leak.h (pins, VmLck, module
 * reference counts, domains, tables, devices, contexts, threads, file
 * descriptors) is back to its baseline, and the next run of the operation
 * works.  The loop ends when the operation succeeds without consuming the
 * armed failure: n - 1 fault points were exercised, printed per operation.
 * Sleeping allocations are failed too (ignore-gfp-wait=N), order-0 and
 * highmem pages as well (min-order=0, ignore-gfp-highmem=N), so pinning that
 * faults pages in is covered.
 *
 * Data paths run in vhost_blk's ring worker (a thread of this process):
 * fail-nth is armed on the worker, a request is kicked, and it must complete
 * (never hang) with OK and the right data, or IOERR.
 *
 * Kernels without fault injection (the Debian ones) skip those tests with a
 * reason; the RLIMIT_MEMLOCK tests run everywhere.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/irq_remap.h>
#include <linux/vfio.h>
#include <linux/pci_regs.h>
#include <linux/vhost.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/kt_leak.h"
#include "lib/iommu_soft_util.h"
#include "kvmio/edu.h"

#define DBG		"/sys/kernel/debug"
#define MAX_NTH		4000	/* an operation with more points is a bug */
#define SECT		512

/* ---- fault injection ---- */

static int fi_write(const char *path, const char *val)
{
	if (kt_write_str(path, val)) {
		KT_LOG("%s <- %s: %s", path, val, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * 0 if fail-nth and the failslab / fail_page_alloc knobs are there and set
 * so that every allocation counts; else -1 with @why filled.
 */
static int fi_setup(char *why, size_t len)
{
	if (access("/proc/thread-self/fail-nth", F_OK)) {
		snprintf(why, len, "kernel without CONFIG_FAULT_INJECTION (no /proc/thread-self/fail-nth)");
		return -1;
	}
	if (access(DBG "/failslab", F_OK))
		mount("debugfs", DBG, "debugfs", 0, NULL);
	if (access(DBG "/failslab", F_OK) || access(DBG "/fail_page_alloc", F_OK)) {
		snprintf(why, len, "no failslab / fail_page_alloc in debugfs (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)");
		return -1;
	}
	/* fail-nth counts only allocations these filters let through */
	if (fi_write(DBG "/failslab/ignore-gfp-wait", "N") ||
	    fi_write(DBG "/failslab/verbose", "0") ||
	    fi_write(DBG "/fail_page_alloc/ignore-gfp-wait", "N") ||
	    fi_write(DBG "/fail_page_alloc/ignore-gfp-highmem", "N") ||
	    fi_write(DBG "/fail_page_alloc/min-order", "0") ||
	    fi_write(DBG "/fail_page_alloc/verbose", "0")) {
		snprintf(why, len, "cannot set the fault-injection filters");
		return -1;
	}
	return 0;
}

#define FI_REQUIRE()							\
	do {								\
		char _why[200];						\
		if (fi_setup(_why, sizeof(_why)))			\
			SKIP("%s", _why);				\
	} while (0)

/* fail-nth of one task: opened before the operation, so no allocation. */
struct fi {
	int fd;
};

static int fi_open(struct fi *f, pid_t tid)
{
	char path[64];

	if (tid)
		snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", tid);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/fail-nth");
	f->fd = open(path, O_RDWR | O_CLOEXEC);
	return f->fd < 0 ? -1 : 0;
}

static void fi_arm(struct fi *f, unsigned int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%u", n);

	if (pwrite(f->fd, b, l, 0) != l)
		abort();
}

/* Disarms; returns true if the armed failure was injected. */
static bool fi_disarm(struct fi *f)
{
	char b[16] = "";
	ssize_t n = pread(f->fd, b, sizeof(b) - 1, 0);

	if (n <= 0)
		abort();
	b[n] = 0;
	fi_arm(f, 0);
	return atoi(b) == 0;
}

/* ---- shared state of the operations ---- */

#define GPA_BASE	0x100000000ULL
#define GMEM_SIZE	(1UL << 20)
#define QNUM		64
#define DATA_OFF	0x10000UL

struct fctx {
	int bad;		/* set by a teardown that found a problem */
	/* iommu_soft */
	int is_fd;
	uint32_t dom;
	uint8_t *buf;
	size_t buf_len;
	/* irq_remap */
	int ir_fd, efd;
	uint32_t tid, handle;
	/* vhost_blk */
	int vb_fd, img, kick, call, err;
	uint8_t *mem;
	unsigned int steps;	/* set-up steps done */
	uint16_t avail_idx, last_used;
	/* kvm_assign */
	char bdf[64];
	int container, group, device, msi;
	uint64_t bar0_off, cfg_off;
	unsigned int mdev_leaks;	/* instances mdev_device_create() lost */
};

/* ---- the systematic loop ---- */

/*
 * One operation: @setup (not injected) brings the state it needs,
 * @op is run with fail-nth armed (returns 0, or -1 with errno), @teardown
 * undoes everything, whether @op worked or not.  @errnos: errnos besides
 * ENOMEM that a failed allocation may cleanly turn into (0-terminated).
 */
struct fop {
	const char *name;
	int (*setup)(struct kt_ctx *_kt, struct fctx *c);
	int (*op)(struct fctx *c);
	void (*teardown)(struct fctx *c);
	int errnos[4];
};

static bool errno_ok(const struct fop *o, int e)
{
	unsigned int i;

	if (e == ENOMEM)
		return true;
	for (i = 0; i < sizeof(o->errnos) / sizeof(o->errnos[0]) && o->errnos[i]; i++)
		if (o->errnos[i] == e)
			return true;
	return false;
}

/*
 * Runs @o for n = 1, 2, ... until it succeeds with the failure unused.
 * Returns the number of fault points, or -1 (a failure was recorded).
 */
static int fi_loop(struct kt_ctx *_kt, const struct fop *o, struct fctx *c)
{
	struct kt_snap base, now;
	int injected = 0, absorbed = 0, seen[8] = { 0 }, nseen = 0;
	unsigned int n;
	struct fi f;

	if (fi_open(&f, 0))
		return -1;
	/* one clean run first: the baseline includes any one-time set-up */
	if (o->setup(_kt, c))
		return -1;
	if (o->op(c)) {
		KT_LOG("%s: fails without injection: %s", o->name, strerror(errno));
		o->teardown(c);
		kt_fail(_kt, 0);
		return -1;
	}
	o->teardown(c);
	kt_snap(&base);
	for (n = 1; n <= MAX_NTH; n++) {
		bool hit;
		int r, e;

		if (o->setup(_kt, c))
			return -1;
		fi_arm(&f, n);
		errno = 0;
		r = o->op(c);
		e = errno;
		hit = fi_disarm(&f);
		c->bad = 0;
		o->teardown(c);
		if (c->bad) {
			KT_LOG("%s: fault %u (%s): the undo found a problem", o->name, n,
			       r ? strerror(e) : "op succeeded");
			kt_fail(_kt, 0);
		}
		if (kt_snap_settle(&base, &now, 3000)) {
			KT_LOG("%s: fault %u (%s): state not back to its baseline",
			       o->name, n, r ? strerror(e) : "op succeeded");
			kt_snap_diff(&base, &now);
			kt_fail(_kt, 0);
			return -1;
		}
		if (!hit) {
			if (r) {
				KT_LOG("%s: fails with no fault injected (n=%u): %s",
				       o->name, n, strerror(e));
				kt_fail(_kt, 0);
				return -1;
			}
			close(f.fd);
			KT_LOG("%s: %u fault points: %d failed cleanly, %d absorbed%s",
			       o->name, n - 1, injected, absorbed,
			       nseen ? "; errnos:" : "");
			for (r = 0; r < nseen; r++)
				KT_LOG("%s:   %s", o->name, strerror(seen[r]));
			return n - 1;
		}
		if (!r) {
			absorbed++;
			continue;
		}
		if (!errno_ok(o, e)) {
			KT_LOG("%s: fault %u: unexpected errno %d (%s)", o->name, n,
			       e, strerror(e));
			kt_fail(_kt, 0);
		}
		injected++;
		for (r = 0; r < nseen && seen[r] != e; r++)
			;
		if (r == nseen && nseen < 8)
			seen[nseen++] = e;
	}
	close(f.fd);
	KT_LOG("%s: still consuming faults after %d", o->name, MAX_NTH);
	kt_fail(_kt, 0);
	return -1;
}

static void fi_run(struct kt_ctx *_kt, const struct fop *ops, unsigned int nops,
		   struct fctx *c)
{
	unsigned int i;

	for (i = 0; i < nops; i++)
		fi_loop(_kt, &ops[i], c);
}

/* ---- iommu_soft ---- */

static int is_nop_setup(struct kt_ctx *_kt, struct fctx *c)
{
	(void)_kt;
	c->is_fd = -1;
	c->buf = NULL;
	return 0;
}

static void is_teardown(struct fctx *c)
{
	if (c->is_fd >= 0)
		close(c->is_fd);
	c->is_fd = -1;
	if (c->buf)
		munmap(c->buf, c->buf_len);
	c->buf = NULL;
}

static int is_op_open(struct fctx *c)
{
	c->is_fd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	return c->is_fd < 0 ? -1 : 0;
}

static int is_open_setup(struct kt_ctx *_kt, struct fctx *c)
{
	is_nop_setup(_kt, c);
	c->is_fd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	ASSERT_GE(c->is_fd, 0);
	/* untouched: MAP pins it, faulting every page in */
	c->buf_len = 16 * PG;
	c->buf = mmap(NULL, c->buf_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(c->buf != MAP_FAILED);
	return 0;
}

static int is_op_create(struct fctx *c)
{
	return dom_create(c->is_fd, 48, &c->dom);
}

static int is_dom_setup(struct kt_ctx *_kt, struct fctx *c)
{
	is_open_setup(_kt, c);
	ASSERT_OK(dom_create(c->is_fd, 48, &c->dom));
	return 0;
}

static int is_op_map(struct fctx *c)
{
	return do_map(c->is_fd, c->dom, 0x100000, c->buf, 16 * PG,
		      IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE);
}

static int is_mapped_setup(struct kt_ctx *_kt, struct fctx *c)
{
	is_dom_setup(_kt, c);
	ASSERT_OK(is_op_map(c));
	return 0;
}

/* The middle of a mapping: a split, which needs memory. */
static int is_op_unmap_split(struct fctx *c)
{
	return do_unmap(c->is_fd, c->dom, 0x104000, 4 * PG) == 4 * (long long)PG ? 0 : -1;
}

static int is_op_dma_rw(struct fctx *c)
{
	static uint8_t b[3 * PG];

	memset(b, 0x3c, sizeof(b));
	if (dma_rw(c->is_fd, c->dom, 0x100800, b, sizeof(b), 1))
		return -1;
	return c->buf[0x800] == 0x3c && c->buf[0x800 + 3 * PG - 1] == 0x3c ? 0 : (errno = EILSEQ, -1);
}

static int is_op_fault_eventfd(struct fctx *c)
{
	struct iommu_soft_set_fault_eventfd s = {
		.argsz = sizeof(s), .domain_id = c->dom,
	};
	int ret;

	s.fd = eventfd(0, EFD_CLOEXEC);
	if (s.fd < 0)
		return -1;
	ret = ioctl(c->is_fd, IOMMU_SOFT_SET_FAULT_EVENTFD, &s);
	close(s.fd);
	return ret;
}

static const struct fop is_ops[] = {
	{ "iommu_soft open", is_nop_setup, is_op_open, is_teardown, { 0 } },
	{ "iommu_soft DOMAIN_CREATE", is_open_setup, is_op_create, is_teardown, { 0 } },
	/* a page that cannot be faulted in is EFAULT for pin_user_pages() */
	{ "iommu_soft MAP (pins, faults pages in)", is_dom_setup, is_op_map,
	  is_teardown, { EFAULT } },
	{ "iommu_soft UNMAP (split)", is_mapped_setup, is_op_unmap_split,
	  is_teardown, { 0 } },
	{ "iommu_soft DMA_RW", is_mapped_setup, is_op_dma_rw, is_teardown, { 0 } },
	{ "iommu_soft SET_FAULT_EVENTFD", is_dom_setup, is_op_fault_eventfd,
	  is_teardown, { EMFILE } },
};

TEST_TIMEOUT(iommu_soft_alloc_failures, 1200)
{
	struct fctx c;

	FI_REQUIRE();
	memset(&c, 0, sizeof(c));
	fi_run(_kt, is_ops, sizeof(is_ops) / sizeof(is_ops[0]), &c);
}

/* ---- irq_remap ---- */

static int ir_nop_setup(struct kt_ctx *_kt, struct fctx *c)
{
	(void)_kt;
	c->ir_fd = -1;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return 0;
}

static void ir_teardown(struct fctx *c)
{
	if (c->ir_fd >= 0)
		close(c->ir_fd);
	c->ir_fd = -1;
	if (c->efd >= 0)
		close(c->efd);
	c->efd = -1;
}

static int ir_op_open(struct fctx *c)
{
	c->ir_fd = open("/dev/irq_remap", O_RDWR | O_CLOEXEC);
	return c->ir_fd < 0 ? -1 : 0;
}

static int ir_open_setup(struct kt_ctx *_kt, struct fctx *c)
{
	ir_nop_setup(_kt, c);
	ASSERT_OK(ir_op_open(c));
	return 0;
}

static int ir_op_table(struct fctx *c)
{
	struct irq_remap_table_create t = {
		.argsz = sizeof(t), .requester_id = 0x0108, .nr_entries = 64,
	};

	if (ioctl(c->ir_fd, IRQ_REMAP_TABLE_CREATE, &t))
		return -1;
	c->tid = t.table_id;
	return 0;
}

static int ir_table_setup(struct kt_ctx *_kt, struct fctx *c)
{
	ir_open_setup(_kt, c);
	ASSERT_OK(ir_op_table(c));
	return 0;
}

static int ir_op_alloc(struct fctx *c)
{
	struct irq_remap_entry_alloc a = { .argsz = sizeof(a), .table_id = c->tid };

	if (ioctl(c->ir_fd, IRQ_REMAP_ENTRY_ALLOC, &a))
		return -1;
	c->handle = a.handle;
	return 0;
}

static int ir_entry_setup(struct kt_ctx *_kt, struct fctx *c)
{
	ir_table_setup(_kt, c);
	ASSERT_OK(ir_op_alloc(c));
	return 0;
}

/* Program the entry, then deliver through it: the eventfd must fire. */
static int ir_op_set(struct fctx *c)
{
	struct irq_remap_entry_set s = {
		.argsz = sizeof(s), .flags = IRQ_REMAP_ENTRY_PRESENT,
		.table_id = c->tid, .handle = c->handle, .eventfd = c->efd,
		.resample_fd = -1, .svt = IRQ_REMAP_SVT_RID, .sid = 0x0108,
	};
	struct irq_remap_raise r = {
		.argsz = sizeof(r), .table_id = c->tid, .handle = c->handle,
		.source = 0x0108, .count = 1,
	};
	uint64_t v = 0;

	if (ioctl(c->ir_fd, IRQ_REMAP_ENTRY_SET, &s))
		return -1;
	if (ioctl(c->ir_fd, IRQ_REMAP_RAISE, &r))
		return -1;
	if (r.delivered != 1 || read(c->efd, &v, sizeof(v)) != sizeof(v) || v != 1) {
		errno = EILSEQ;
		return -1;
	}
	return 0;
}

static int ir_op_fault_eventfd(struct fctx *c)
{
	struct irq_remap_fault_eventfd s = {
		.argsz = sizeof(s), .table_id = c->tid, .fd = c->efd,
	};

	return ioctl(c->ir_fd, IRQ_REMAP_SET_FAULT_EVENTFD, &s);
}

static const struct fop ir_ops[] = {
	{ "irq_remap open", ir_nop_setup, ir_op_open, ir_teardown, { 0 } },
	{ "irq_remap TABLE_CREATE", ir_open_setup, ir_op_table, ir_teardown, { 0 } },
	{ "irq_remap ENTRY_ALLOC", ir_table_setup, ir_op_alloc, ir_teardown, { 0 } },
	{ "irq_remap ENTRY_SET + RAISE", ir_entry_setup, ir_op_set, ir_teardown, { 0 } },
	{ "irq_remap SET_FAULT_EVENTFD", ir_table_setup, ir_op_fault_eventfd,
	  ir_teardown, { 0 } },
};

TEST_TIMEOUT(irq_remap_alloc_failures, 1200)
{
	struct fctx c;

	FI_REQUIRE();
	memset(&c, 0, sizeof(c));
	fi_run(_kt, ir_ops, sizeof(ir_ops) / sizeof(ir_ops[0]), &c);
}

/* ---- vhost_blk ---- */

static struct vring_desc *vb_desc(struct fctx *c) { return (void *)c->mem; }
static struct vring_avail *vb_avail(struct fctx *c) { return (void *)(c->mem + 4096); }
static struct vring_used *vb_used(struct fctx *c) { return (void *)(c->mem + 8192); }

/* The set-up sequence of a one-ring device; step k is one ioctl. */
static int vb_step(struct fctx *c, unsigned int k)
{
	struct vhost_vring_state s = { .index = 0, .num = QNUM };
	struct vhost_vring_addr a = {
		.index = 0,
		.desc_user_addr = (uintptr_t)vb_desc(c),
		.avail_user_addr = (uintptr_t)vb_avail(c),
		.used_user_addr = (uintptr_t)vb_used(c),
	};
	struct vhost_vring_file f = { .index = 0 };
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mt;
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;

	switch (k) {
	case 0:
		c->vb_fd = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
		return c->vb_fd < 0 ? -1 : 0;
	case 1:
		return ioctl(c->vb_fd, VHOST_SET_OWNER);
	case 2:
		return ioctl(c->vb_fd, VHOST_SET_FEATURES, &feat);
	case 3:
		memset(&mt, 0, sizeof(mt));
		mt.m.nregions = 1;
		mt.r[0].guest_phys_addr = GPA_BASE;
		mt.r[0].memory_size = GMEM_SIZE;
		mt.r[0].userspace_addr = (uintptr_t)c->mem;
		return ioctl(c->vb_fd, VHOST_SET_MEM_TABLE, &mt);
	case 4:
		return ioctl(c->vb_fd, VHOST_SET_VRING_NUM, &s);
	case 5:
		return ioctl(c->vb_fd, VHOST_SET_VRING_ADDR, &a);
	case 6:
		s.num = 0;
		return ioctl(c->vb_fd, VHOST_SET_VRING_BASE, &s);
	case 7:
		f.fd = c->kick;
		return ioctl(c->vb_fd, VHOST_SET_VRING_KICK, &f);
	case 8:
		f.fd = c->call;
		return ioctl(c->vb_fd, VHOST_SET_VRING_CALL, &f);
	case 9:
		f.fd = c->err;
		return ioctl(c->vb_fd, VHOST_SET_VRING_ERR, &f);
	case 10:
		f.fd = c->img;
		return ioctl(c->vb_fd, VHOST_BLK_SET_BACKEND, &f);
	}
	errno = EINVAL;
	return -1;
}

#define VB_READY	11	/* steps of a device with its backend */

static void vb_teardown(struct fctx *c)
{
	if (c->vb_fd >= 0)
		close(c->vb_fd);
	c->vb_fd = -1;
}

/* Device state for the step after @steps; the backend file is shared. */
static int vb_setup_n(struct kt_ctx *_kt, struct fctx *c, unsigned int steps)
{
	unsigned int k;

	c->vb_fd = -1;
	memset(c->mem, 0, 3 * 4096);
	c->avail_idx = c->last_used = 0;
	for (k = 0; k < steps; k++) {
		if (vb_step(c, k)) {
			KT_LOG("vhost_blk set-up step %u: %s", k, strerror(errno));
			vb_teardown(c);
			ASSERT_TRUE(0);
		}
	}
	c->steps = steps;
	return 0;
}

static int vb_op(struct fctx *c)
{
	return vb_step(c, c->steps);
}

#define VB_SETUP(n)							\
	static int vb_setup_##n(struct kt_ctx *_kt, struct fctx *c)	\
	{								\
		return vb_setup_n(_kt, c, n);				\
	}
VB_SETUP(0) VB_SETUP(1) VB_SETUP(2) VB_SETUP(3) VB_SETUP(4) VB_SETUP(5)
VB_SETUP(6) VB_SETUP(7) VB_SETUP(8) VB_SETUP(9) VB_SETUP(10)

static const struct fop vb_ops[] = {
	{ "vhost_blk open", vb_setup_0, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_OWNER", vb_setup_1, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_FEATURES", vb_setup_2, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_MEM_TABLE", vb_setup_3, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_NUM", vb_setup_4, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_ADDR", vb_setup_5, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_BASE", vb_setup_6, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_KICK", vb_setup_7, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_CALL", vb_setup_8, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_VRING_ERR", vb_setup_9, vb_op, vb_teardown, { 0 } },
	{ "vhost_blk SET_BACKEND", vb_setup_10, vb_op, vb_teardown, { 0 } },
};

static int vb_ctx_init(struct fctx *c, int backend)
{
	c->mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->mem == MAP_FAILED)
		return -1;
	c->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->img = backend;
	return c->kick < 0 || c->call < 0 || c->err < 0 ? -1 : 0;
}

static int make_img(char *path, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/finj-%d.img", getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && ftruncate(fd, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_TIMEOUT(vhost_blk_setup_alloc_failures, 1200)
{
	char path[64];
	struct fctx c;
	int img;

	FI_REQUIRE();
	memset(&c, 0, sizeof(c));
	img = make_img(path, 1 << 20);
	ASSERT_GE(img, 0);
	ASSERT_OK(vb_ctx_init(&c, img));
	fi_run(_kt, vb_ops, sizeof(vb_ops) / sizeof(vb_ops[0]), &c);
	close(img);
	unlink(path);
}

/* ---- vhost_blk data path: faults in the ring's worker ---- */

/* The tid of this process's thread named @comm, or 0. */
static pid_t find_thread(const char *comm)
{
	char path[300], name[64];
	struct dirent *e;
	pid_t tid = 0;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return 0;
	while (!tid && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!kt_read_str(path, name, sizeof(name)) && !strcmp(name, comm))
			tid = atoi(e->d_name);
	}
	closedir(d);
	return tid;
}

/* One request on ring 0; its status, or -1 if it did not complete in 20 s. */
static int vb_request(struct fctx *c, uint32_t type, uint64_t sector,
		      uint32_t len)
{
	struct virtio_blk_outhdr *h = (void *)(c->mem + DATA_OFF);
	uint8_t *st = c->mem + DATA_OFF + 64;
	uint8_t *data = c->mem + DATA_OFF + 4096;
	struct vring_desc *d = vb_desc(c);
	struct pollfd p = { .fd = c->call, .events = POLLIN };
	uint64_t one = 1, v;
	int ms = 20000;

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	*st = 0xee;
	d[0] = (struct vring_desc){ GPA_BASE + DATA_OFF, sizeof(*h), VRING_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc){ GPA_BASE + DATA_OFF + 4096, len,
				    VRING_DESC_F_NEXT |
				    (type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0), 2 };
	d[2] = (struct vring_desc){ GPA_BASE + DATA_OFF + 64, 1, VRING_DESC_F_WRITE, 0 };
	(void)data;
	vb_avail(c)->ring[c->avail_idx % QNUM] = 0;
	c->avail_idx++;
	__atomic_store_n(&vb_avail(c)->idx, c->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(c->kick, &one, sizeof(one)) != sizeof(one))
		return -1;
	while (__atomic_load_n(&vb_used(c)->idx, __ATOMIC_ACQUIRE) == c->last_used) {
		if (ms <= 0)
			return -1;
		if (poll(&p, 1, 20) > 0 && read(c->call, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			return -1;
		ms -= 20;
	}
	c->last_used++;
	return *st;
}

static void fill(uint8_t *b, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/*
 * Write then read back 8 KiB with the worker's n-th allocation failing,
 * n = 1, 2, ...: each request completes, OK with the right data or IOERR.
 */
static void vb_data_loop(struct kt_ctx *_kt, struct fctx *c, int backend,
			 const char *what)
{
	uint8_t *data = c->mem + DATA_OFF + 4096, want[8192];
	int ok = 0, ioerr = 0, st_w, st_r;
	struct kt_snap base, now;
	unsigned int n;
	bool hit = true;
	struct fi f;
	pid_t tid;
	char comm[32];

	c->img = backend;
	vb_setup_n(_kt, c, VB_READY);
	snprintf(comm, sizeof(comm), "vblk-%d-0", getpid());
	tid = find_thread(comm);
	if (!tid) {
		vb_teardown(c);
		SKIP("no worker thread named %s", comm);
	}
	ASSERT_OK(fi_open(&f, tid));
	/* a first request brings anything one-time in */
	fill(data, 8192, 1);
	ASSERT_EQ(vb_request(c, VIRTIO_BLK_T_OUT, 64, 8192), VIRTIO_BLK_S_OK);
	kt_snap(&base);
	for (n = 1; hit && n <= MAX_NTH; n++) {
		fill(want, sizeof(want), n);
		memcpy(data, want, sizeof(want));
		fi_arm(&f, n);
		st_w = vb_request(c, VIRTIO_BLK_T_OUT, 64, 8192);
		memset(data, 0, sizeof(want));
		st_r = st_w == VIRTIO_BLK_S_OK ?
		       vb_request(c, VIRTIO_BLK_T_IN, 64, 8192) : VIRTIO_BLK_S_OK;
		hit = fi_disarm(&f);
		if (st_w < 0 || st_r < 0) {
			KT_LOG("%s: fault %u: request did not complete (write %d, read %d)",
			       what, n, st_w, st_r);
			kt_fail(_kt, 0);
			break;
		}
		if ((st_w != VIRTIO_BLK_S_OK && st_w != VIRTIO_BLK_S_IOERR) ||
		    (st_r != VIRTIO_BLK_S_OK && st_r != VIRTIO_BLK_S_IOERR)) {
			KT_LOG("%s: fault %u: status write %d read %d", what, n, st_w, st_r);
			kt_fail(_kt, 0);
		}
		if (st_w == VIRTIO_BLK_S_OK && st_r == VIRTIO_BLK_S_OK) {
			if (memcmp(data, want, sizeof(want))) {
				KT_LOG("%s: fault %u: read back different data", what, n);
				kt_fail(_kt, 0);
			}
			ok++;
		} else {
			ioerr++;
		}
		if (kt_snap_settle(&base, &now, 3000)) {
			KT_LOG("%s: fault %u: state not back to its baseline", what, n);
			kt_snap_diff(&base, &now);
			kt_fail(_kt, 0);
			break;
		}
	}
	KT_LOG("%s: %u fault points in the worker: %d requests OK, %d IOERR",
	       what, n - 2, ok, ioerr);
	if (n > MAX_NTH) {
		KT_LOG("%s: still consuming faults after %d", what, MAX_NTH);
		kt_fail(_kt, 0);
	}
	/* the device still works */
	fill(data, 8192, 7);
	EXPECT_EQ(vb_request(c, VIRTIO_BLK_T_OUT, 128, 8192), VIRTIO_BLK_S_OK);
	memset(data, 0, 8192);
	EXPECT_EQ(vb_request(c, VIRTIO_BLK_T_IN, 128, 8192), VIRTIO_BLK_S_OK);
	fill(want, sizeof(want), 7);
	EXPECT_EQ(memcmp(data, want, sizeof(want)), 0);
	close(f.fd);
	vb_teardown(c);
}

TEST_TIMEOUT(vhost_blk_request_alloc_failures_file, 900)
{
	char path[64];
	struct fctx c;
	int img;

	FI_REQUIRE();
	memset(&c, 0, sizeof(c));
	img = make_img(path, 1 << 20);
	ASSERT_GE(img, 0);
	ASSERT_OK(vb_ctx_init(&c, img));
	vb_data_loop(_kt, &c, img, "vhost_blk request (buffered file)");
	close(img);
	unlink(path);
}

static int brd_load(bool *loaded)
{
	*loaded = false;
	if (!access("/dev/ram0", F_OK))
		return 0;
	if (system("modprobe brd rd_nr=1 rd_size=65536 >/dev/null 2>&1"))
		return -1;
	*loaded = true;
	return 0;
}

TEST_TIMEOUT(vhost_blk_request_alloc_failures_bdev, 900)
{
	struct fctx c;
	bool loaded;
	int disk;

	FI_REQUIRE();
	if (brd_load(&loaded))
		SKIP("brd not available");
	memset(&c, 0, sizeof(c));
	disk = open("/dev/ram0", O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_GE(disk, 0);
	ASSERT_OK(vb_ctx_init(&c, disk));
	vb_data_loop(_kt, &c, disk, "vhost_blk request (O_DIRECT bdev)");
	close(disk);
	if (loaded)
		EXPECT_EQ(system("rmmod brd"), 0);
}

/* ---- kvm_assign: mdev create, VFIO open, DMA ---- */

#define KA_UUID		"5b2c1f6e-7a41-4e0b-9d1c-0000000f1a00"
#define KA_TYPE		"kvm_assign-edu"
#define KA_IOVA		0x00200000ULL

static void ka_close(struct fctx *c)
{
	if (c->msi >= 0)
		close(c->msi);
	if (c->device >= 0)
		close(c->device);
	if (c->group >= 0)
		close(c->group);
	if (c->container >= 0)
		close(c->container);
	c->msi = c->device = c->group = c->container = -1;
}

static int ka_instances(struct fctx *c)
{
	char path[512], buf[16];

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/mdev_supported_types/" KA_TYPE
		 "/available_instances", c->bdf);
	return kt_read_str(path, buf, sizeof(buf)) ? -1 : atoi(buf);
}

/*
 * Linux 6.12's mdev_device_create() takes an instance from the parent
 * before it allocates the mdev and does not give it back when that
 * allocation fails (drivers/vfio/mdev/mdev_core.c): the type then has no
 * instance left although no mdev exists.  Counted and failed (a user of
 * kvm_assign cannot create a context any more), then undone by binding
 * edu again (registering the parent resets the count) so that the loop
 * goes on.
 */
static void ka_check_instances(struct fctx *c)
{
	if (ka_instances(c) != 0 || !access("/sys/bus/mdev/devices/" KA_UUID, F_OK))
		return;
	c->mdev_leaks++;
	kt_unbind_kvm_assign(c->bdf);
	if (kt_bind_kvm_assign(c->bdf) || ka_instances(c) != 1)
		c->bad = 1;
}

static void ka_teardown(struct fctx *c)
{
	ka_close(c);
	kt_write_str("/sys/bus/mdev/devices/" KA_UUID "/remove", "1");
	ka_check_instances(c);
}

static int ka_op_create(struct fctx *c)
{
	char path[512];

	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/mdev_supported_types/" KA_TYPE "/create",
		 c->bdf);
	return kt_write_str(path, KA_UUID);
}

static int ka_nop_setup(struct kt_ctx *_kt, struct fctx *c)
{
	(void)_kt;
	c->msi = c->device = c->group = c->container = -1;
	return 0;
}

static int ka_created_setup(struct kt_ctx *_kt, struct fctx *c)
{
	ka_nop_setup(_kt, c);
	ASSERT_OK(ka_op_create(c));
	return 0;
}

/* What QEMU does: container, group, type1, the device's fd. */
static int ka_op_open(struct fctx *c)
{
	char link[256], path[300];
	ssize_t n;

	n = readlink("/sys/bus/mdev/devices/" KA_UUID "/iommu_group", link,
		     sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	c->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c->container < 0)
		return -1;
	c->group = open(path, O_RDWR | O_CLOEXEC);
	if (c->group < 0)
		return -1;
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container) ||
	    ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -1;
	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, KA_UUID);
	return c->device < 0 ? -1 : 0;
}

static int ka_op_map(struct fctx *c)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)c->buf, .iova = KA_IOVA, .size = 4 * PG,
	};

	return ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map);
}

static int ka_open_setup(struct kt_ctx *_kt, struct fctx *c)
{
	ka_created_setup(_kt, c);
	ASSERT_OK(ka_op_open(c));
	return 0;
}

static uint64_t ka_region(struct fctx *c, unsigned int index)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(c->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return ~0ULL;
	return ri.offset;
}

static int ka_bar_write(struct fctx *c, unsigned int off, uint64_t v)
{
	return pwrite(c->device, &v, 8, c->bar0_off + off) == 8 ? 0 : -1;
}

static uint64_t ka_bar_read(struct fctx *c, unsigned int off)
{
	uint64_t v = ~0ULL;

	if (pread(c->device, &v, 8, c->bar0_off + off) != 8)
		return ~0ULL;
	return v;
}

/* Mapped, bus master, MSI on an eventfd, the transfer's registers set. */
static int ka_dma_setup(struct kt_ctx *_kt, struct fctx *c)
{
	char b[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (void *)b;
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	ka_open_setup(_kt, c);
	ASSERT_OK(ka_op_map(c));
	c->cfg_off = ka_region(c, VFIO_PCI_CONFIG_REGION_INDEX);
	c->bar0_off = ka_region(c, VFIO_PCI_BAR0_REGION_INDEX);
	ASSERT_EQ(pwrite(c->device, &cmd, 2, c->cfg_off + PCI_COMMAND), 2);
	c->msi = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(c->msi, 0);
	set->argsz = sizeof(b);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &c->msi, sizeof(int));
	ASSERT_OK(ioctl(c->device, VFIO_DEVICE_SET_IRQS, set));
	memset(c->buf, 0x5a, 4 * PG);
	ASSERT_OK(ka_bar_write(c, EDU_DMA_SRC, KA_IOVA + 0xf80));
	ASSERT_OK(ka_bar_write(c, EDU_DMA_DST, EDU_BUF_START));
	ASSERT_OK(ka_bar_write(c, EDU_DMA_CNT, 0x100));
	return 0;
}

static long ka_stat(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/%s",
		 KA_UUID, name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

/*
 * Start a transfer from RAM (pins the guest page, maps it into the
 * context's domain, translates); it completes, or is refused, with an
 * interrupt either way.
 */
static int ka_op_dma(struct fctx *c)
{
	return ka_bar_write(c, EDU_DMA_CMD, EDU_DMA_RUN | EDU_DMA_IRQ);
}

static void ka_dma_teardown(struct fctx *c)
{
	struct pollfd p = { .fd = c->msi, .events = POLLIN };

	/* the completion (or refusal) interrupt, then no transfer running */
	if (c->msi >= 0 && (poll(&p, 1, 20000) != 1 ||
			    (ka_bar_read(c, EDU_DMA_CMD) & EDU_DMA_RUN))) {
		printf("# kvm_assign DMA: no completion interrupt, or still running\n");
		c->bad = 1;
	}
	ka_teardown(c);
}

static const struct fop ka_ops[] = {
	{ "kvm_assign mdev create", ka_nop_setup, ka_op_create, ka_teardown, { 0 } },
	{ "kvm_assign VFIO open (container, group, type1, device)", ka_created_setup,
	  ka_op_open, ka_teardown, { 0 } },
	{ "kvm_assign VFIO_IOMMU_MAP_DMA", ka_open_setup, ka_op_map, ka_teardown, { 0 } },
	{ "kvm_assign edu DMA (pin, map, translate)", ka_dma_setup, ka_op_dma,
	  ka_dma_teardown, { 0 } },
};

/* edu bound to kvm_assign for the test, unbound whatever happens. */
FIXTURE(edu) { struct fctx c; };

FIXTURE_SETUP(edu)
{
	if (kt_find_pci("0x1234", "0x11e8", self->c.bdf, sizeof(self->c.bdf)))
		SKIP("no edu device (1234:11e8) in this VM");
	ASSERT_EQ(system("modprobe vfio_iommu_type1"), 0);
	self->c.buf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(self->c.buf != MAP_FAILED);
	memset(self->c.buf, 0, 4 * PG);
	self->c.msi = self->c.device = self->c.group = self->c.container = -1;
}

FIXTURE_TEARDOWN(edu)
{
	ka_close(&self->c);
	kt_write_str("/sys/bus/mdev/devices/" KA_UUID "/remove", "1");
	if (self->c.bdf[0])
		kt_unbind_kvm_assign(self->c.bdf);
	if (self->c.buf && self->c.buf != MAP_FAILED)
		munmap(self->c.buf, 4 * PG);
}

TEST_F_TIMEOUT(edu, kvm_assign_alloc_failures, 2400)
{
	FI_REQUIRE();
	ASSERT_OK(kt_bind_kvm_assign(self->c.bdf));
	fi_run(_kt, ka_ops, sizeof(ka_ops) / sizeof(ka_ops[0]), &self->c);
	if (self->c.mdev_leaks)
		KT_LOG("kernel defect on kvm_assign's path: mdev_device_create() lost the type's instance %u time(s) when its allocation failed (edu bound again each time)",
		       self->c.mdev_leaks);
	EXPECT_EQ(self->c.mdev_leaks, 0);
}

/* ---- pinning refused by RLIMIT_MEMLOCK (every kernel) ---- */

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].inheritable &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d);
}

/*
 * For every limit from 0 to 16 pages, a 16-page map (untouched and
 * touched memory) and two 8-page maps: refused with ENOMEM exactly when
 * the limit is exceeded, nothing pinned or accounted by a refused map, and
 * everything given back on destroy.
 */
TEST_TIMEOUT(iommu_soft_memlock_sweep, 300)
{
	struct iommu_soft_stats st;
	struct kt_snap base, now;
	unsigned int lim, touch;
	uint64_t rej = 0;
	int fd;

	ASSERT_OK(drop_ipc_lock());
	fd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	kt_snap(&base);
	for (touch = 0; touch < 2; touch++) {
		for (lim = 0; lim <= 16; lim++) {
			struct rlimit rl = { lim * PG, lim * PG };
			uint8_t *b = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			uint32_t id;
			int r1, r2;

			ASSERT_TRUE(b != MAP_FAILED);
			if (touch)
				memset(b, 1, 16 * PG);
			ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &rl));
			ASSERT_OK(dom_create(fd, 48, &id));
			errno = 0;
			r1 = do_map(fd, id, 0, b, 16 * PG, IOMMU_SOFT_MAP_READ);
			if (lim < 16) {
				EXPECT_EQ(r1, -1);
				EXPECT_EQ(errno, ENOMEM);
				rej++;
				EXPECT_EQ(kt_vmlck_kb(), base.vmlck_kb);
			} else {
				EXPECT_EQ(r1, 0);
				EXPECT_EQ(kt_vmlck_kb(), base.vmlck_kb + 64);
				do_unmap(fd, id, 0, 16 * PG);
			}
			errno = 0;
			r1 = do_map(fd, id, 0x100000, b, 8 * PG, IOMMU_SOFT_MAP_WRITE);
			r2 = do_map(fd, id, 0x200000, b + 8 * PG, 8 * PG,
				    IOMMU_SOFT_MAP_READ);
			EXPECT_EQ(r1, lim >= 8 ? 0 : -1);
			EXPECT_EQ(r2, lim >= 16 ? 0 : -1);
			rej += (r1 != 0) + (r2 != 0);
			ASSERT_OK(get_stats(fd, id, &st));
			EXPECT_EQ(st.pinned_pages, (uint64_t)(!r1 + !r2) * 8);
			EXPECT_EQ(st.rejected[IOMMU_SOFT_REJ_MEMLOCK],
				  (lim < 16) + (r1 != 0) + (r2 != 0));
			ASSERT_OK(dom_destroy(fd, id));
			munmap(b, 16 * PG);
			if (kt_snap_settle(&base, &now, 1000)) {
				KT_LOG("limit %u pages (%s): not back to baseline", lim,
				       touch ? "touched" : "untouched");
				kt_snap_diff(&base, &now);
				ASSERT_TRUE(0);
			}
		}
	}
	KT_LOG("%llu maps refused for RLIMIT_MEMLOCK, nothing left pinned",
	       (unsigned long long)rej);
	close(fd);
}

/*
 * kvm_assign pins through VFIO (accounted to the container owner's
 * RLIMIT_MEMLOCK): with a limit of 0 and no CAP_IPC_LOCK every DMA is
 * refused as a master abort, with its interrupt, and nothing stays pinned;
 * with the limit back, the same transfer works.
 */
TEST_F_TIMEOUT(edu, kvm_assign_dma_memlock, 300)
{
	struct rlimit zero = { 0, 0 };
	struct fctx *c = &self->c;
	struct kt_snap base, now;
	struct pollfd p;
	uint64_t v;

	kt_snap(&base);
	ASSERT_OK(kt_bind_kvm_assign(c->bdf));
	ASSERT_OK(drop_ipc_lock());
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &zero));
	ka_dma_setup(_kt, c);
	ASSERT_OK(ka_op_dma(c));
	p = (struct pollfd){ .fd = c->msi, .events = POLLIN };
	EXPECT_EQ(poll(&p, 1, 20000), 1);
	EXPECT_EQ(read(c->msi, &v, sizeof(v)), sizeof(v));
	EXPECT_EQ(ka_bar_read(c, EDU_DMA_CMD) & EDU_DMA_RUN, 0);
	EXPECT_EQ(ka_stat("dma_refused"), 1);
	EXPECT_EQ(ka_stat("dma_started"), 0);
	EXPECT_EQ(ka_stat("pages_pinned"), 0);
	ka_teardown(c);
	kt_unbind_kvm_assign(c->bdf);
	if (kt_snap_settle(&base, &now, 3000)) {
		kt_snap_diff(&base, &now);
		EXPECT_TRUE(0);
	}
}

/*
 * A vhost_blk request on an O_DIRECT backend pins the guest pages for the
 * bio: with RLIMIT_MEMLOCK 0 (such pins are for one transfer, not
 * long-term, and not accounted) requests still complete and nothing stays
 * pinned.
 */
TEST_TIMEOUT(vhost_blk_memlock_zero, 120)
{
	struct rlimit zero = { 0, 0 };
	struct kt_snap base, now;
	uint8_t *data;
	struct fctx c;
	bool loaded;
	unsigned int i;
	int disk;

	if (brd_load(&loaded))
		SKIP("brd not available");
	memset(&c, 0, sizeof(c));
	disk = open("/dev/ram0", O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_GE(disk, 0);
	ASSERT_OK(vb_ctx_init(&c, disk));
	data = c.mem + DATA_OFF + 4096;
	ASSERT_OK(drop_ipc_lock());
	ASSERT_OK(setrlimit(RLIMIT_MEMLOCK, &zero));
	kt_snap(&base);
	vb_setup_n(_kt, &c, VB_READY);
	for (i = 0; i < 16; i++) {
		fill(data, 8192, i);
		EXPECT_EQ(vb_request(&c, VIRTIO_BLK_T_OUT, i * 16, 8192), VIRTIO_BLK_S_OK);
		memset(data, 0, 8192);
		EXPECT_EQ(vb_request(&c, VIRTIO_BLK_T_IN, i * 16, 8192), VIRTIO_BLK_S_OK);
	}
	vb_teardown(&c);
	if (kt_snap_settle(&base, &now, 3000)) {
		kt_snap_diff(&base, &now);
		EXPECT_TRUE(0);
	}
	close(disk);
	if (loaded)
		EXPECT_EQ(system("rmmod brd"), 0);
}

/* ---- kmemleak, where the kernel has it ---- */

/*
 * Last: a kmemleak scan after everything above (objects younger than
 * 5 s are not reported, hence the wait); any suspect whose backtrace
 * names one of the suite's modules fails.
 */
TEST_TIMEOUT(kmemleak_clean, 120)
{
	char line[512];
	int suspects = 0, ours = 0, in_ours = 0, printed = 0;
	FILE *f;

	if (access(DBG "/kmemleak", F_OK))
		mount("debugfs", DBG, "debugfs", 0, NULL);
	if (access(DBG "/kmemleak", F_OK))
		SKIP("kernel without kmemleak");
	sleep(6);
	ASSERT_OK(kt_write_str(DBG "/kmemleak", "scan"));
	ASSERT_OK(kt_write_str(DBG "/kmemleak", "scan"));
	f = fopen(DBG "/kmemleak", "r");
	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "unreferenced object", 19)) {
			suspects++;
			in_ours = 0;
		}
		if (!in_ours && (strstr(line, "[iommu_soft]") || strstr(line, "[irq_remap]") ||
				 strstr(line, "[vhost_blk]") || strstr(line, "[kvm_assign]"))) {
			in_ours = 1;
			ours++;
		}
		if (printed < 120) {
			printf("# kmemleak: %s", line);
			printed++;
		}
	}
	fclose(f);
	KT_LOG("kmemleak: %d suspects, %d with the suite's modules in their backtrace",
	       suspects, ours);
	EXPECT_EQ(ours, 0);
}

KT_MAIN()
