// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_vhost - the ioctls of /dev/vhost-blk with hostile arguments in
 * random orders, from several threads on two shared opens.
 *
 * SET_OWNER / RESET_OWNER, features, memory tables of random regions
 * (overlapping, empty, huge, wrapping in guest or user space, outside the
 * user address space, too many), log base and log fd, every vring ioctl
 * with random indexes and values, kick / call / err eventfds of every
 * kind, backends (a file read-write, read-only and O_DIRECT, brd's
 * /dev/ram0 when brd loads, /dev/null, an eventfd, a directory), the
 * private ioctls with broken argsz / flags / padding, numbers near the
 * valid ones, kicks on rings whose guest memory is garbage, the guest
 * memory replaced under the device, a forked child (not the owner) using
 * the inherited file, and the files replaced or closed mid-call.
 *
 * Guest memory lives in a reserved area of its own (so that a region the
 * kernel accepts cannot make the device scribble over the fuzzer), and the
 * sequence "owner, features, table, ring 0, backend" is replayed now and
 * then so that rings do run.
 *
 * Findings: a call that succeeds although the uAPI says it must fail (a
 * table with overlapping, empty, wrapping or out-of-range regions or more
 * than 64 of them, nonzero padding, a ring size that is no power of two,
 * misaligned ring addresses, broken private-ioctl headers, an unknown
 * ioctl, any owner-only ioctl from a process that is not the owner) and a
 * GET_CONFIG answer that contradicts the header.
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_blk.h>

#include "fuzz.h"

#define NSLOT		2
#define NEFD		6
#define NBACK		8
#define RESERVE		(256UL << 20)	/* guest memory lives in here */
#define GMEM		(1UL << 20)	/* the writable part */
#define GPA_BASE	0x100000000ULL
#define IMG_SIZE	(1UL << 20)
#define MAX_REGIONS	70

static int dev_fd[NSLOT];
static int efd[NEFD];
static int back[NBACK], nback;
static uint8_t *gmem;			/* GMEM writable bytes at the reserve's start */
static uint8_t *logmap;			/* a bitmap big enough for any table we build */
static size_t loglen;
static struct fuzz_ptrs ptrs;
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static char img[64];
static bool brd_loaded;
/*
 * Dirty logging only with --wild: the rings here hold garbage, and the
 * device logs the pages of any writable descriptor, inside the memory table
 * or not, so the bits would land anywhere in the fuzzer's own memory
 * (fuzz_vring fuzzes logging with guest addresses it keeps in bounds).
 */
static uint64_t log_mask = ~(1ULL << VHOST_F_LOG_ALL);

#define LD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

static int pick_dev(struct fuzz_rng *r)
{
	return LD(dev_fd[fuzz_below(r, NSLOT)]);
}

static int pick_fd(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 10)) {
	case 0: return -1;
	case 1: return back[fuzz_below(r, nback)];
	case 2: return LD(dev_fd[0]);
	case 3: return 1000 + fuzz_below(r, 8);
	case 4: return (int)fuzz_int(r, 3);
	default: return LD(efd[fuzz_below(r, NEFD)]);
	}
}

/* A user address for a ring part: in guest memory mostly, else hostile. */
static uint64_t pick_uaddr(struct fuzz_rng *r, unsigned int align)
{
	uint64_t a;

	if (fuzz_one_in(r, 5))
		return fuzz_ptr(r, &ptrs, 64);
	a = (uintptr_t)gmem + fuzz_below(r, GMEM);
	if (fuzz_one_in(r, 10))
		a = (uintptr_t)gmem + GMEM - fuzz_below(r, 64);
	if (!fuzz_one_in(r, 6))
		a &= ~(uint64_t)(align - 1);
	return a;
}

static bool mem_overlap(const struct vhost_memory_region *a,
			const struct vhost_memory_region *b)
{
	return a->guest_phys_addr < b->guest_phys_addr + b->memory_size &&
	       b->guest_phys_addr < a->guest_phys_addr + a->memory_size;
}

/* A memory table; false if the kernel must refuse it (and why). */
static bool build_table(struct fuzz_rng *r, struct vhost_memory *m, unsigned int n,
			const char **why)
{
	bool ok = true;
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		struct vhost_memory_region *g = &m->regions[i];
		uint64_t room;

		g->guest_phys_addr = fuzz_one_in(r, 4) ? fuzz_int(r, GPA_BASE) :
				     GPA_BASE + fuzz_below(r, 16) * (GMEM / 4);
		g->userspace_addr = fuzz_one_in(r, 8) ? fuzz_ptr(r, &ptrs, 4096) :
				    (uintptr_t)gmem + fuzz_below(r, 4) * (GMEM / 4);
		room = (uintptr_t)gmem + RESERVE - g->userspace_addr;
		switch (fuzz_below(r, 6)) {
		case 0: g->memory_size = fuzz_int(r, GMEM); break;
		case 1: g->memory_size = ~0ULL - fuzz_below(r, 4096); break;
		case 2: g->memory_size = 1ULL << (40 + fuzz_below(r, 24)); break;
		default: g->memory_size = (1 + fuzz_below(r, 4)) * (GMEM / 4); break;
		}
		g->flags_padding = fuzz_one_in(r, 30) ? fuzz_next(r) : 0;
		if (g->flags_padding) {
			ok = false;
			*why = "nonzero flags_padding";
		}
		if (!g->memory_size) {
			ok = false;
			*why = "an empty region";
		} else if (g->guest_phys_addr + g->memory_size - 1 < g->guest_phys_addr) {
			ok = false;
			*why = "a region wrapping in guest-physical space";
		} else if (g->userspace_addr + g->memory_size - 1 < g->userspace_addr) {
			ok = false;
			*why = "a region wrapping in user space";
		} else if (g->userspace_addr >= 1ULL << 63 ||
			   g->userspace_addr + g->memory_size > 1ULL << 63) {
			ok = false;
			*why = "a region reaching kernel space";
		} else {
			/*
			 * Accepted or not (access_ok() lets user ranges run
			 * past the highest mapped address), it must not let
			 * the device write over the fuzzer itself: the user
			 * range stays inside the reserve (or a few pool
			 * pages), and guest addresses below 2^47, whose
			 * dirty bits stay inside the bitmap's reserve.
			 */
			if ((uint8_t *)(uintptr_t)g->userspace_addr >= gmem &&
			    (uint8_t *)(uintptr_t)g->userspace_addr < gmem + RESERVE) {
				if (g->memory_size > room)
					g->memory_size = room;
			} else if (g->memory_size > 4 * 4096) {
				g->memory_size = 4 * 4096;
			}
			if (g->guest_phys_addr >= 1ULL << 47)
				g->guest_phys_addr &= (1ULL << 46) - 1;
			if (g->guest_phys_addr + g->memory_size > 1ULL << 47)
				g->memory_size = (1ULL << 47) - g->guest_phys_addr;
		}
	}
	for (i = 0; ok && i < n; i++)
		for (j = i + 1; ok && j < n; j++)
			if (mem_overlap(&m->regions[i], &m->regions[j])) {
				ok = false;
				*why = "overlapping regions";
			}
	if (n > 64) {
		ok = false;
		*why = "more than 64 regions";
	}
	return ok;
}

static long xioctl(unsigned int tid, const char *what, int fd, unsigned long cmd, void *arg)
{
	long ret;

	fz_cur[tid] = what;
	errno = 0;
	ret = ioctl(fd, cmd, arg);
	fz_cur[tid] = NULL;
	return ret;
}

static void must_fail(long ret, const char *what, const char *why)
{
	if (ret >= 0)
		fuzz_finding("%s succeeded with %s", what, why);
}

static void op_mem_table(struct fuzz_rng *r, unsigned int tid)
{
	static __thread uint8_t buf[sizeof(struct vhost_memory) +
				    MAX_REGIONS * sizeof(struct vhost_memory_region)];
	struct vhost_memory *m = (void *)buf;
	unsigned int n = fuzz_one_in(r, 20) ? fuzz_below(r, MAX_REGIONS + 1) : fuzz_below(r, 5);
	const char *why = NULL;
	bool ok, skip = false;
	long ret;
	void *arg = m;

	memset(buf, 0, sizeof(buf));
	ok = build_table(r, m, n, &why);
	m->nregions = n;
	if (fuzz_one_in(r, 40)) {
		m->nregions = fuzz_int(r, 64);
		if (m->nregions > 64) {
			ok = false;
			why = "more than 64 regions";
		} else if (m->nregions != n) {
			skip = true;	/* judged on other regions than built */
		}
	}
	if (fuzz_one_in(r, 30)) {
		m->padding = fuzz_next(r) | 1;
		ok = false;
		why = "nonzero header padding";
	}
	if (fuzz_one_in(r, 20))
		arg = (void *)(uintptr_t)fuzz_bad_ptr(r, &ptrs);
	ret = xioctl(tid, "SET_MEM_TABLE", pick_dev(r), VHOST_SET_MEM_TABLE, arg);
	if (arg == m && !ok && !skip)
		must_fail(ret, "SET_MEM_TABLE", why);
}

/* The usual sequence, so that rings get somewhere. */
static void op_setup(struct fuzz_rng *r, unsigned int tid)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region g[1];
	} t = { .m.nregions = 1 };
	struct vhost_vring_state s = { .index = 0, .num = 1U << fuzz_below(r, 9) };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	int fd = pick_dev(r);
	uint64_t feat;
	unsigned int q = fuzz_below(r, 4);

	xioctl(tid, "SET_OWNER", fd, VHOST_SET_OWNER, NULL);
	if (!xioctl(tid, "GET_FEATURES", fd, VHOST_GET_FEATURES, &feat)) {
		feat &= (fuzz_next(r) | (1ULL << VIRTIO_F_VERSION_1)) & log_mask;
		if (fuzz_one_in(r, 2))
			feat &= ~(1ULL << VIRTIO_F_RING_PACKED);
		xioctl(tid, "SET_FEATURES", fd, VHOST_SET_FEATURES, &feat);
	}
	t.g[0].guest_phys_addr = GPA_BASE;
	t.g[0].memory_size = GMEM;
	t.g[0].userspace_addr = (uintptr_t)gmem;
	xioctl(tid, "SET_MEM_TABLE", fd, VHOST_SET_MEM_TABLE, &t);
	s.index = a.index = f.index = q;
	xioctl(tid, "SET_VRING_NUM", fd, VHOST_SET_VRING_NUM, &s);
	a.desc_user_addr = (uintptr_t)gmem + q * 0x4000;
	a.avail_user_addr = a.desc_user_addr + 0x2000;
	a.used_user_addr = a.desc_user_addr + 0x3000;
	xioctl(tid, "SET_VRING_ADDR", fd, VHOST_SET_VRING_ADDR, &a);
	s.num = fuzz_one_in(r, 2) ? 0 : 0x80008000u;
	xioctl(tid, "SET_VRING_BASE", fd, VHOST_SET_VRING_BASE, &s);
	f.fd = LD(efd[q]);
	xioctl(tid, "SET_VRING_KICK", fd, VHOST_SET_VRING_KICK, &f);
	f.fd = LD(efd[(q + 1) % NEFD]);
	xioctl(tid, "SET_VRING_CALL", fd, VHOST_SET_VRING_CALL, &f);
	f.index = 0;
	f.fd = back[fuzz_below(r, 3)];
	xioctl(tid, "SET_BACKEND", fd, VHOST_BLK_SET_BACKEND, &f);
}

static void op_vring(struct fuzz_rng *r, unsigned int tid)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	int fd = pick_dev(r);
	unsigned int idx = fuzz_one_in(r, 10) ? fuzz_int(r, 15) : fuzz_below(r, 4);
	long ret;

	switch (fuzz_below(r, 7)) {
	case 0:
		s.index = idx;
		s.num = fuzz_one_in(r, 2) ? 1U << fuzz_below(r, 16) : fuzz_int(r, 256);
		ret = xioctl(tid, "SET_VRING_NUM", fd, VHOST_SET_VRING_NUM, &s);
		if (!s.num || (s.num & (s.num - 1)) || s.num > 32768)
			must_fail(ret, "SET_VRING_NUM", "a size that is no power of two in 1..32768");
		break;
	case 1:
		memset(&a, 0, sizeof(a));
		a.index = idx;
		a.flags = fuzz_one_in(r, 4) ? fuzz_int(r, 1) : 0;
		a.desc_user_addr = pick_uaddr(r, 16);
		a.avail_user_addr = pick_uaddr(r, 4);
		a.used_user_addr = pick_uaddr(r, 4);
		a.log_guest_addr = fuzz_int(r, GPA_BASE);
		ret = xioctl(tid, "SET_VRING_ADDR", fd, VHOST_SET_VRING_ADDR, &a);
		if ((a.desc_user_addr & 15) || (a.avail_user_addr & 1) || (a.used_user_addr & 3))
			must_fail(ret, "SET_VRING_ADDR", "a misaligned ring address");
		if (a.flags & ~(1ULL << VHOST_VRING_F_LOG))
			must_fail(ret, "SET_VRING_ADDR", "unknown flags");
		break;
	case 2:
		s.index = idx;
		s.num = fuzz_one_in(r, 2) ? fuzz_int(r, 0x80008000u) : fuzz_below(r, 512);
		xioctl(tid, "SET_VRING_BASE", fd, VHOST_SET_VRING_BASE, &s);
		break;
	case 3:
		s.index = idx;
		s.num = 0;
		xioctl(tid, "GET_VRING_BASE", fd, VHOST_GET_VRING_BASE, &s);
		break;
	default: {
		static const unsigned long cmd[] = {
			VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
		};

		f.index = idx;
		f.fd = pick_fd(r);
		xioctl(tid, "SET_VRING_KICK/CALL/ERR", fd, cmd[fuzz_below(r, 3)], &f);
		break;
	}
	}
}

/* The private ioctls, headers broken now and then. */
static void op_private(struct fuzz_rng *r, unsigned int tid)
{
	uint8_t buf[512] __attribute__((aligned(8)));
	uint32_t *hdr = (uint32_t *)buf;
	const char *why = NULL;
	int fd = pick_dev(r);
	size_t size;
	unsigned long cmd;
	const char *name;
	long ret;

	memset(buf, 0, sizeof(buf));
	switch (fuzz_below(r, 6)) {
	case 0:
		cmd = VHOST_BLK_SET_SERIAL;
		name = "SET_SERIAL";
		size = sizeof(struct vhost_blk_serial);
		fuzz_fill(r, ((struct vhost_blk_serial *)buf)->serial, VHOST_BLK_SERIAL_LEN);
		if (fuzz_one_in(r, 10)) {
			((struct vhost_blk_serial *)buf)->pad = 1;
			why = "nonzero padding";
		}
		break;
	case 1:
		cmd = VHOST_BLK_SET_FLAGS;
		name = "SET_FLAGS";
		size = sizeof(struct vhost_blk_flags);
		hdr[1] = fuzz_below(r, 2);
		break;
	case 2:
		cmd = VHOST_BLK_GET_CONFIG;
		name = "GET_CONFIG";
		size = sizeof(struct vhost_blk_config);
		break;
	case 3:
		cmd = VHOST_BLK_GET_STATS;
		name = "GET_STATS";
		size = sizeof(struct vhost_blk_stats);
		break;
	case 4:
		cmd = VHOST_BLK_GET_LIMITS;
		name = "GET_LIMITS";
		size = sizeof(struct vhost_blk_limits);
		break;
	default: {
		/*
		 * SET_LIMITS only as it must be refused (nonzero padding, a
		 * rate past the maximum): limits that hold requests would
		 * stall the other operations' rings.
		 */
		struct vhost_blk_limits *l = (void *)buf;

		cmd = VHOST_BLK_SET_LIMITS;
		name = "SET_LIMITS";
		size = sizeof(*l);
		if (fuzz_one_in(r, 2)) {
			l->pad = 1 + fuzz_below(r, 1000);
			why = "nonzero padding";
		} else {
			(&l->iops_rd)[fuzz_below(r, 12)] = VHOST_BLK_LIMIT_MAX + 1 +
							   fuzz_below(r, 1 << 20);
			why = "a limit past VHOST_BLK_LIMIT_MAX";
		}
		l->group = fuzz_next(r);
		break;
	}
	}
	hdr[0] = size;
	if (fuzz_one_in(r, 8)) {
		/* GET_STATS takes any argsz from the first two fields on */
		hdr[0] = fuzz_below(r, cmd == VHOST_BLK_GET_STATS ? 8 : size);
		why = "argsz too small";
	} else if (fuzz_one_in(r, 8)) {
		hdr[0] = size + fuzz_below(r, 64);
	}
	if (cmd != VHOST_BLK_GET_CONFIG && fuzz_one_in(r, 8)) {
		uint32_t bad = 1U << fuzz_below(r, 32);

		if (!(cmd == VHOST_BLK_SET_FLAGS && bad == VHOST_BLK_FLAG_READONLY)) {
			hdr[1] |= bad;
			why = "unknown flags";
		}
	}
	if (fuzz_one_in(r, 16) && cmd != VHOST_BLK_SET_LIMITS) {
		ret = xioctl(tid, name, fd, cmd, (void *)(uintptr_t)fuzz_ptr(r, &ptrs, size));
		return;
	}
	ret = xioctl(tid, name, fd, cmd, buf);
	if (why)
		must_fail(ret, name, why);
	if (!why && ret == 0 && cmd == VHOST_BLK_GET_CONFIG) {
		struct vhost_blk_config *c = (void *)buf;

		if (c->seg_max != VHOST_BLK_SEG_MAX || c->num_queues != VHOST_BLK_NUM_QUEUES ||
		    c->pad || (c->flags & ~(VHOST_BLK_CONFIG_BACKEND | VHOST_BLK_CONFIG_READONLY)))
			fuzz_finding("GET_CONFIG answered seg_max %u num_queues %u pad %u flags %#x",
				     c->seg_max, c->num_queues, c->pad, c->flags);
	}
}

static void op_misc(struct fuzz_rng *r, unsigned int tid)
{
	static const unsigned long unsupported[] = {
		VHOST_SET_VRING_ENDIAN, VHOST_GET_VRING_ENDIAN,
		VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
		VHOST_SET_BACKEND_FEATURES, VHOST_GET_BACKEND_FEATURES,
		_IO(VHOST_VIRTIO, 0xF8), _IOW(VHOST_VIRTIO, 0xFE, struct vhost_vring_file),
		_IOW(VHOST_VIRTIO, 0x05, __u64), _IO(VHOST_VIRTIO, 0x30),
	};
	struct vhost_vring_file f;
	uint64_t v, buf[64];
	int fd = pick_dev(r);
	long ret;

	switch (fuzz_below(r, 8)) {
	case 0:
		xioctl(tid, "SET_OWNER", fd, VHOST_SET_OWNER, NULL);
		break;
	case 1:
		if (fuzz_one_in(r, 3))
			xioctl(tid, "RESET_OWNER", fd, VHOST_RESET_OWNER, NULL);
		break;
	case 2:
		if (fuzz_one_in(r, 2) && !xioctl(tid, "GET_FEATURES", fd, VHOST_GET_FEATURES, &v))
			v &= fuzz_next(r);
		else
			v = fuzz_int(r, 1ULL << VIRTIO_F_VERSION_1);
		v &= log_mask;
		xioctl(tid, "SET_FEATURES", fd, VHOST_SET_FEATURES, &v);
		break;
	case 3:
		switch (fuzz_below(r, 4)) {
		case 0: v = 0; break;
		case 1: v = fuzz_one_in(r, 2) ? 0xffff888000000000ULL + (fuzz_next(r) & 0xffffff000ULL) :
			    0x8000000000000000ULL | fuzz_next(r);
			break;
		default: v = (uintptr_t)logmap + (fuzz_one_in(r, 4) ? fuzz_below(r, loglen) : 0); break;
		}
		/* accepted while there is no memory table: checked against the next */
		xioctl(tid, "SET_LOG_BASE", fd, VHOST_SET_LOG_BASE, &v);
		break;
	case 4: {
		int lfd = pick_fd(r);

		xioctl(tid, "SET_LOG_FD", fd, VHOST_SET_LOG_FD, &lfd);
		break;
	}
	case 5:
		f.index = fuzz_one_in(r, 8) ? fuzz_int(r, 0) : 0;
		f.fd = fuzz_one_in(r, 4) ? pick_fd(r) : back[fuzz_below(r, nback)];
		xioctl(tid, "SET_BACKEND", fd, VHOST_BLK_SET_BACKEND, &f);
		break;
	case 6:
		memset(buf, 0, sizeof(buf));
		ret = xioctl(tid, "unsupported ioctl", fd,
			     unsupported[fuzz_below(r, sizeof(unsupported) / sizeof(unsupported[0]))],
			     buf);
		must_fail(ret, "an ioctl vhost-blk does not implement", "any argument");
		break;
	default: {
		/* kick a ring: the worker reads whatever guest memory holds */
		uint64_t one = 1;

		if (write(LD(efd[fuzz_below(r, NEFD)]), &one, 8) < 0)
			break;
		break;
	}
	}
}

/* Garbage in guest memory, or the memory itself replaced under the device. */
static void op_memory(struct fuzz_rng *r, unsigned int tid)
{
	size_t off = fuzz_below(r, GMEM / 64) * 64, len = 64 + fuzz_below(r, 4096);

	fz_cur[tid] = "guest memory";
	/* one at a time: a fill must not meet the read-only window below */
	pthread_mutex_lock(&mem_lock);
	if (off + len > GMEM)
		len = GMEM - off;
	switch (fuzz_below(r, 10)) {
	case 0:	/* fresh zero pages under the same addresses */
		mmap(gmem + (off & ~4095UL), 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 1:	/* read-only for a moment */
		mprotect(gmem + (off & ~4095UL), 4096, PROT_READ);
		usleep(fuzz_below(r, 2000));
		mprotect(gmem + (off & ~4095UL), 4096, PROT_READ | PROT_WRITE);
		break;
	default:
		fuzz_fill(r, gmem + off, len);
		break;
	}
	pthread_mutex_unlock(&mem_lock);
	fz_cur[tid] = NULL;
}

/* A process that is not the owner uses the inherited file. */
static void op_child(struct fuzz_rng *r, unsigned int tid)
{
	int fd = pick_dev(r), st;
	pid_t pid;

	fz_cur[tid] = "fork a non-owner";
	pid = fork();
	if (pid == 0) {
		struct vhost_vring_state s = { .index = 0, .num = 0 };
		struct vhost_vring_file f = { .index = 0, .fd = back[0] };
		uint64_t feat = 1ULL << VIRTIO_F_VERSION_1, base = 0;
		int bad = 0;

		bad |= (ioctl(fd, VHOST_SET_FEATURES, &feat) == 0) << 0;
		bad |= (ioctl(fd, VHOST_GET_VRING_BASE, &s) == 0) << 1;
		bad |= (ioctl(fd, VHOST_BLK_SET_BACKEND, &f) == 0) << 2;
		bad |= (ioctl(fd, VHOST_SET_LOG_BASE, &base) == 0) << 3;
		bad |= (ioctl(fd, VHOST_RESET_OWNER, NULL) == 0) << 4;
		_exit(bad);
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st))
		fuzz_finding("a process that is not the owner succeeded with owner-only ioctls (mask %#x: SET_FEATURES, GET_VRING_BASE, SET_BACKEND, SET_LOG_BASE, RESET_OWNER)",
			     WEXITSTATUS(st));
	fz_cur[tid] = NULL;
}

static void op_files(struct fuzz_rng *r, unsigned int tid)
{
	unsigned int i = fuzz_below(r, NSLOT);
	int nfd, old;

	fz_cur[tid] = "replace a file";
	pthread_mutex_lock(&files_lock);
	if (fuzz_below(r, 3)) {
		nfd = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
		old = LD(dev_fd[i]);
		if (nfd >= 0 && old >= 0) {
			dup2(nfd, old);	/* the old device is released meanwhile */
			close(nfd);
		}
	} else {
		i = fuzz_below(r, NEFD);
		nfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		old = LD(efd[i]);
		if (nfd >= 0 && old >= 0) {
			dup2(nfd, old);
			close(nfd);
		}
	}
	pthread_mutex_unlock(&files_lock);
	fz_cur[tid] = NULL;
}

static void *worker(void *arg)
{
	unsigned int tid = (uintptr_t)arg;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };

	while (fuzz_tick()) {
		unsigned int k = fuzz_below(&r, 100);

		if (k < 8)
			op_setup(&r, tid);
		else if (k < 20)
			op_mem_table(&r, tid);
		else if (k < 50)
			op_vring(&r, tid);
		else if (k < 62)
			op_private(&r, tid);
		else if (k < 85)
			op_misc(&r, tid);
		else if (k < 96)
			op_memory(&r, tid);
		else if (k < 97)
			op_child(&r, tid);
		else
			op_files(&r, tid);
	}
	return NULL;
}

static void add_backend(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0 && nback < NBACK)
		back[nback++] = fd;
}

int main(int argc, char **argv)
{
	pthread_t th[FUZZ_MAX_THREADS];
	uint8_t *res;
	int i, fd;

	fz.threads = 3;
	fuzz_init(argc, argv, "fuzz_vhost");
	if (fz.wild)
		log_mask = ~0ULL;
	if (access("/dev/vhost-blk", F_OK))
		fuzz_skip("no /dev/vhost-blk");
	if (fuzz_ptrs_init(&ptrs))
		fuzz_skip("mmap failed");
	res = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED || mprotect(res, GMEM, PROT_READ | PROT_WRITE))
		fuzz_skip("cannot reserve guest memory");
	gmem = res;
	/*
	 * The dirty bitmap: writable for guest-physical addresses up to
	 * 2^33 + GMEM, the rest of what 2^47 needs (4 GiB) reserved
	 * PROT_NONE, so that no dirty bit lands on the fuzzer's own memory.
	 */
	loglen = ((GPA_BASE * 2 + GMEM) >> 12) / 8;
	logmap = mmap(NULL, (1ULL << 47) >> 15, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (logmap == MAP_FAILED || mprotect(logmap, loglen, PROT_READ | PROT_WRITE))
		fuzz_skip("cannot map a dirty bitmap");

	snprintf(img, sizeof(img), "/tmp/fuzz-vhost-%d.img", getpid());
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		fuzz_skip("cannot create the backing file");
	back[nback++] = fd;
	add_backend(img, O_RDWR | O_DIRECT);
	add_backend(img, O_RDONLY);
	if (access("/dev/ram0", F_OK) &&
	    !system("modprobe brd rd_nr=1 rd_size=65536 >/dev/null 2>&1"))
		brd_loaded = true;
	add_backend("/dev/ram0", O_RDWR | O_DIRECT);
	add_backend("/dev/null", O_RDWR);
	add_backend("/tmp", O_RDONLY | O_DIRECTORY);
	back[nback++] = eventfd(0, EFD_CLOEXEC);

	for (i = 0; i < NSLOT; i++) {
		dev_fd[i] = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
		if (dev_fd[i] < 0)
			fuzz_skip("cannot open /dev/vhost-blk");
	}
	for (i = 0; i < NEFD; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	for (i = 0; i < (int)fz.threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (i = 0; i < (int)fz.threads; i++)
		pthread_join(th[i], NULL);

	fz_cur[0] = "close the devices";
	for (i = 0; i < NSLOT; i++)
		close(dev_fd[i]);
	for (i = 0; i < nback; i++)
		close(back[i]);
	unlink(img);
	if (brd_loaded && system("rmmod brd"))
		fuzz_finding("rmmod brd failed after every device was closed (a reference left?)");
	return fuzz_finish();
}
