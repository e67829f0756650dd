// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk_ioerr_test - backend I/O errors that start and stop while
 * requests are in flight.
 *
 * The backend is a device-mapper device over brd's /dev/ram0, or over
 * null_blk with a volatile write cache (so that FLUSH reaches the table),
 * opened O_DIRECT; the DM ioctls are issued directly (no dmsetup in the
 * test VM).  A userspace
 * driver keeps 16 requests in flight on one ring (each of 16 slots writes
 * its own blocks, then reads back what it wrote) while another thread
 * switches the table under load: suspend, load "error" or "flakey ...
 * error_writes", resume, and later back to "linear".  Then:
 *
 *  - every request completes (a hang fails the test at its deadline);
 *  - a request submitted after the error table was live and completed
 *    before it went away is IOERR (dm-error: every request; flakey with
 *    error_writes: every write, and FLUSH), never OK;
 *  - a read that is OK returns what the last OK write of its block wrote;
 *  - the device's err_io counter grew by exactly the IOERR completions;
 *  - after the switch back, I/O works again;
 *  - the base device, read directly, holds for each block exactly what its
 *    last write acknowledged OK wrote (nothing of a write that failed);
 *  - with the write cache, a FLUSH through the flakey table is IOERR.
 *
 * The buffered (page cache) backend acknowledges writes before writeback:
 * there the promise is FLUSH's.  A FLUSH after writes whose writeback
 * failed is IOERR, and what was flushed OK before the errors is on the
 * device afterwards.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/vhost.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "lib/kt_test.h"
#include "lib/virtq_driver.h"

#define GPA_BASE	0x100000000ULL
#define GMEM_SIZE	(4UL << 20)
#define QNUM		128
#define HDR_OFF		0x10000UL	/* headers and status bytes, per slot */
#define DATA_OFF	0x100000UL	/* 4 KiB of data per slot */
#define BLK		4096
#define SPB		(BLK / 512)	/* sectors per block */
#define QD		16
#define NBLK		512		/* 2 MiB of blocks written */
#define DM_SECTORS	32768		/* 16 MiB device */
#define DM_NAME		"vblk-ioerr"

/* ---- device mapper, by ioctl ---- */

struct dm_msg {
	struct dm_ioctl io;
	struct dm_target_spec spec;
	char params[256];
};

static void dm_init(struct dm_ioctl *io, size_t size)
{
	memset(io, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = size;
	io->data_start = sizeof(*io);
	snprintf(io->name, sizeof(io->name), "%s", DM_NAME);
}

static int dm_cmd(int ctl, unsigned long cmd, uint32_t flags, dev_t *dev)
{
	struct dm_ioctl io;

	dm_init(&io, sizeof(io));
	io.flags = flags;
	if (ioctl(ctl, cmd, &io))
		return -1;
	if (dev)
		*dev = (dev_t)io.dev;
	return 0;
}

/* Load @type with @params over the whole device into the inactive slot. */
static int dm_load(int ctl, const char *type, const char *params)
{
	struct dm_msg m;

	dm_init(&m.io, sizeof(m));
	m.io.target_count = 1;
	m.spec.sector_start = 0;
	m.spec.length = DM_SECTORS;
	snprintf(m.spec.target_type, sizeof(m.spec.target_type), "%s", type);
	snprintf(m.params, sizeof(m.params), "%s", params);
	return ioctl(ctl, DM_TABLE_LOAD, &m.io);
}

/* Suspend (in-flight I/O drains), load the new table, resume: a switch. */
static int dm_switch(int ctl, const char *type, const char *params)
{
	if (dm_cmd(ctl, DM_DEV_SUSPEND, DM_SUSPEND_FLAG, NULL))
		return -1;
	if (dm_load(ctl, type, params)) {
		dm_cmd(ctl, DM_DEV_SUSPEND, 0, NULL);
		return -1;
	}
	return dm_cmd(ctl, DM_DEV_SUSPEND, 0, NULL);
}

/* ---- the backend: dm over brd ---- */

struct back {
	int ctl;
	bool brd_loaded, nullb_loaded, dm_made;
	char ram_dev[32];	/* "major:minor" of the base device */
	char lin[64];		/* linear table parameters */
	char node[64];		/* our node for the dm device */
};

static void back_fini(struct back *b)
{
	if (b->node[0])
		unlink(b->node);
	if (b->dm_made && dm_cmd(b->ctl, DM_DEV_REMOVE, 0, NULL))
		printf("# DM_DEV_REMOVE: %s\n", strerror(errno));
	if (b->ctl >= 0)
		close(b->ctl);
	if (b->brd_loaded && system("rmmod brd"))
		printf("# rmmod brd failed\n");
	if (b->nullb_loaded && system("rmmod null_blk"))
		printf("# rmmod null_blk failed\n");
}

/* The device under the dm device: brd, or null_blk with a write cache. */
static const char *base_node = "/dev/ram0";

/*
 * brd has no volatile write cache, so the block layer completes a FLUSH
 * before it reaches device mapper; null_blk with cache_size has one, so
 * FLUSH goes through the table (and a flakey target can fail it).
 */
static int back_init(struct kt_ctx *_kt, struct back *b, bool nullb)
{
	struct stat st;
	dev_t dev;

	memset(b, 0, sizeof(*b));
	b->ctl = -1;
	base_node = nullb ? "/dev/nullb0" : "/dev/ram0";
	if (nullb) {
		if (!access("/sys/module/null_blk", F_OK))
			SKIP("null_blk already loaded by someone else");
		if (system("modprobe null_blk nr_devices=1 gb=1 memory_backed=1 cache_size=64 >/dev/null 2>&1"))
			SKIP("null_blk not available");
		b->nullb_loaded = true;
	} else if (access("/dev/ram0", F_OK)) {
		if (system("modprobe brd rd_nr=1 rd_size=65536 >/dev/null 2>&1"))
			SKIP("brd not available");
		b->brd_loaded = true;
	}
	if (system("modprobe dm_mod >/dev/null 2>&1") &&
	    access("/dev/mapper/control", F_OK))
		SKIP("device-mapper not available");
	b->ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (b->ctl < 0)
		SKIP("no /dev/mapper/control: %s", strerror(errno));
	ASSERT_OK(stat(base_node, &st));
	snprintf(b->ram_dev, sizeof(b->ram_dev), "%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	snprintf(b->lin, sizeof(b->lin), "%s 0", b->ram_dev);
	ASSERT_OK(dm_cmd(b->ctl, DM_DEV_CREATE, 0, NULL));
	b->dm_made = true;
	ASSERT_OK(dm_load(b->ctl, "linear", b->lin));
	ASSERT_OK(dm_cmd(b->ctl, DM_DEV_SUSPEND, 0, &dev));
	snprintf(b->node, sizeof(b->node), "/tmp/vblk-ioerr-%d", getpid());
	unlink(b->node);
	ASSERT_OK(mknod(b->node, S_IFBLK | 0600, makedev(major(dev), minor(dev))));
	return 0;
}

/* Read block @i of the base device itself, bypassing the page cache. */
static int ram_read(uint8_t *buf, unsigned int i)
{
	void *b;
	int fd, ret = -1;

	if (posix_memalign(&b, BLK, BLK))
		return -1;
	fd = open(base_node, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd >= 0 && pread(fd, b, BLK, (off_t)i * BLK) == BLK) {
		memcpy(buf, b, BLK);
		ret = 0;
	}
	if (fd >= 0)
		close(fd);
	free(b);
	return ret;
}

static void pattern(uint8_t *buf, unsigned int blk, unsigned int gen)
{
	uint32_t *w = (uint32_t *)buf;
	unsigned int i;

	for (i = 0; i < BLK / 4; i++)
		w[i] = (blk << 20) ^ (gen << 8) ^ i ^ 0x5a5a0000u;
}

/* Generation 0 everywhere: the starting content of every block. */
static int ram_init(void)
{
	void *b;
	unsigned int i;
	int fd, ret = 0;

	if (posix_memalign(&b, BLK, BLK))
		return -1;
	fd = open(base_node, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		free(b);
		return -1;
	}
	for (i = 0; i < NBLK && !ret; i++) {
		pattern(b, i, 0);
		if (pwrite(fd, b, BLK, (off_t)i * BLK) != BLK)
			ret = -1;
	}
	close(fd);
	free(b);
	return ret;
}

/* ---- the device, one ring ---- */

struct dev {
	int fd, kick, call, err;
	uint8_t *mem;
	struct vqd q;
};

static void dev_close(struct dev *d)
{
	if (d->fd > 0)
		close(d->fd);
	if (d->kick > 0)
		close(d->kick);
	if (d->call > 0)
		close(d->call);
	if (d->err > 0)
		close(d->err);
	if (d->mem && d->mem != MAP_FAILED)
		munmap(d->mem, GMEM_SIZE);
	memset(d, 0, sizeof(*d));
}

static int dev_open(struct kt_ctx *_kt, struct dev *d, int backend)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;
	struct vhost_vring_state s = { .index = 0, .num = QNUM };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mt;

	memset(d, 0, sizeof(*d));
	d->fd = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
	ASSERT_GE(d->fd, 0);
	d->mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(d->mem != MAP_FAILED);
	ASSERT_OK(vqd_init(&d->q, d->mem, GPA_BASE, GMEM_SIZE, 0, QNUM, false));
	d->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_OK(ioctl(d->fd, VHOST_SET_OWNER));
	ASSERT_OK(ioctl(d->fd, VHOST_SET_FEATURES, &feat));
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 1;
	mt.r[0].guest_phys_addr = GPA_BASE;
	mt.r[0].memory_size = GMEM_SIZE;
	mt.r[0].userspace_addr = (uintptr_t)d->mem;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_MEM_TABLE, &mt));
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_NUM, &s));
	a.desc_user_addr = (uintptr_t)d->q.desc;
	a.avail_user_addr = (uintptr_t)d->q.avail;
	a.used_user_addr = (uintptr_t)d->q.used;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_ADDR, &a));
	s.num = 0;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_BASE, &s));
	f.fd = d->kick;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_KICK, &f));
	f.fd = d->call;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_CALL, &f));
	f.fd = d->err;
	ASSERT_OK(ioctl(d->fd, VHOST_SET_VRING_ERR, &f));
	f.fd = backend;
	ASSERT_OK(ioctl(d->fd, VHOST_BLK_SET_BACKEND, &f));
	return 0;
}

static uint64_t err_io(struct dev *d)
{
	struct vhost_blk_stats s = { .argsz = sizeof(s) };

	if (ioctl(d->fd, VHOST_BLK_GET_STATS, &s))
		return ~0ULL;
	return s.err_io;
}

/* One request of slot @slot (its header, status and 4 KiB of data). */
struct slot {
	unsigned int idx;
	uint32_t type;
	unsigned int blk, gen;	/* block, and the generation a write carries */
	double t_sub, t_done;
	struct virtio_blk_outhdr *hdr;
	uint8_t *st, *data;
};

static void slot_init(struct dev *d, struct slot *s, unsigned int i)
{
	memset(s, 0, sizeof(*s));
	s->idx = i;
	s->hdr = (void *)(d->mem + HDR_OFF + i * 64);
	s->st = d->mem + HDR_OFF + i * 64 + 32;
	s->data = d->mem + DATA_OFF + i * BLK;
}

static void submit(struct dev *d, struct slot *s, uint32_t type, unsigned int blk,
		   unsigned int gen)
{
	s->type = type;
	s->blk = blk;
	s->gen = gen;
	s->hdr->type = type;
	s->hdr->ioprio = 0;
	s->hdr->sector = (uint64_t)blk * SPB;
	*s->st = 0xee;
	if (type == VIRTIO_BLK_T_OUT)
		pattern(s->data, blk, gen);
	else
		memset(s->data, 0xcc, BLK);
	s->t_sub = kt_now();
	if (vqd_add_blk(&d->q, s->hdr, type == VIRTIO_BLK_T_FLUSH ? NULL : s->data,
			type == VIRTIO_BLK_T_FLUSH ? 0 : BLK, s->st, s) < 0)
		abort();	/* QD * 3 < QNUM */
}

static void kick(struct dev *d)
{
	uint64_t one = 1;

	vqd_publish(&d->q);
	if (vqd_kick_needed(&d->q) && write(d->kick, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Waits up to @ms for a completion; returns its slot, or NULL. */
static struct slot *reap(struct dev *d, int ms)
{
	struct pollfd p = { .fd = d->call, .events = POLLIN };
	void *cookie;
	uint64_t v;

	for (;;) {
		int h = vqd_pop_used(&d->q, &cookie, NULL);

		if (h >= 0) {
			((struct slot *)cookie)->t_done = kt_now();
			return cookie;
		}
		if (h == -2 || ms <= 0)
			return NULL;
		vqd_enable_cb(&d->q);
		if (poll(&p, 1, 10) > 0 && read(d->call, &v, sizeof(v)) < 0)
			return NULL;
		ms -= 10;
	}
}

/* ---- the run: load while the table switches ---- */

struct window { volatile double start, end; };	/* when the error table was live */

struct switcher {
	int ctl;
	const char *type, *params, *lin;
	int ms_before, ms_error;
	struct window w;
	volatile int done, failed;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *switch_thread(void *p)
{
	struct switcher *sw = p;

	sleep_ms(sw->ms_before);
	if (dm_switch(sw->ctl, sw->type, sw->params)) {
		printf("# switch to %s: %s\n", sw->type, strerror(errno));
		sw->failed = 1;
		sw->done = 1;
		return NULL;
	}
	sw->w.start = kt_now();
	sleep_ms(sw->ms_error);
	sw->w.end = kt_now();
	if (dm_switch(sw->ctl, "linear", sw->lin)) {
		printf("# switch back to linear: %s\n", strerror(errno));
		sw->failed = 1;
	}
	sleep_ms(sw->ms_before);
	sw->done = 1;
	return NULL;
}

/* The first few of each kind of failure are logged, then only counted. */
#define LOG_FEW(n, ...)	do { if ((n)++ < 4) KT_LOG(__VA_ARGS__); } while (0)

struct tally {
	unsigned int bad_status, ok_in_window, bad_read;
	unsigned int ok_w, ok_r, err_w, err_r, in_window_w, in_window_r;
	unsigned int acked[NBLK];	/* generation of the last OK write */
	unsigned int next_gen[NBLK];
};

/*
 * Runs the load until the switcher is done; checks every completion.
 * @reads_fail: whether the error table fails reads too.
 */
static void run_load(struct kt_ctx *_kt, struct dev *d, struct switcher *sw,
		     struct tally *t, bool reads_fail)
{
	static struct slot slots[QD];
	unsigned int i, cursor[QD], inflight = 0;
	uint8_t want[BLK];
	pthread_t th;

	for (i = 0; i < QD; i++) {
		slot_init(d, &slots[i], i);
		cursor[i] = 0;
		submit(d, &slots[i], VIRTIO_BLK_T_OUT, i, ++t->next_gen[i]);
		inflight++;
	}
	kick(d);
	ASSERT_EQ(pthread_create(&th, NULL, switch_thread, sw), 0);
	while (inflight) {
		struct slot *s = reap(d, 20000);
		bool in_w, ok;

		if (!s) {
			KT_LOG("no completion in 20 s with %u requests in flight: hang",
			       inflight);
			kt_fail(_kt, 0);
			break;
		}
		inflight--;
		ok = *s->st == VIRTIO_BLK_S_OK;
		if (!ok && *s->st != VIRTIO_BLK_S_IOERR) {
			LOG_FEW(t->bad_status, "slot %u: status %u", s->idx, *s->st);
			kt_fail(_kt, 0);
		}
		in_w = sw->w.start && s->t_sub > sw->w.start &&
		       (!sw->w.end || s->t_done < sw->w.end);
		if (s->type == VIRTIO_BLK_T_OUT) {
			if (ok) {
				t->ok_w++;
				t->acked[s->blk] = s->gen;
			} else {
				t->err_w++;
			}
			if (in_w) {
				t->in_window_w++;
				if (ok) {
					LOG_FEW(t->ok_in_window,
						"write of block %u OK while the error table was live",
						s->blk);
					kt_fail(_kt, 0);
				}
			}
		} else {
			if (ok) {
				t->ok_r++;
				pattern(want, s->blk, t->acked[s->blk]);
				if (memcmp(want, s->data, BLK)) {
					LOG_FEW(t->bad_read,
						"read of block %u OK but not its last acknowledged write (gen %u)",
						s->blk, t->acked[s->blk]);
					kt_fail(_kt, 0);
				}
			} else {
				t->err_r++;
			}
			if (in_w) {
				t->in_window_r++;
				if (ok && reads_fail) {
					LOG_FEW(t->ok_in_window,
						"read of block %u OK while the error table was live",
						s->blk);
					kt_fail(_kt, 0);
				}
			}
		}
		if (sw->done)
			continue;
		/* the slot's next request: read back what it wrote, then a new block */
		if (s->type == VIRTIO_BLK_T_OUT) {
			submit(d, s, VIRTIO_BLK_T_IN, s->blk, 0);
		} else {
			unsigned int b;

			cursor[s->idx] = (cursor[s->idx] + 1) % (NBLK / QD);
			b = s->idx + QD * cursor[s->idx];
			submit(d, s, VIRTIO_BLK_T_OUT, b, ++t->next_gen[b]);
		}
		inflight++;
		kick(d);
	}
	pthread_join(th, NULL);
	ASSERT_FALSE(sw->failed);
}

/* Every block on the base device is its last acknowledged write. */
static void check_ram(struct kt_ctx *_kt, struct tally *t)
{
	uint8_t want[BLK], got[BLK];
	unsigned int i, bad = 0;

	for (i = 0; i < NBLK; i++) {
		ASSERT_OK(ram_read(got, i));
		pattern(want, i, t->acked[i]);
		if (memcmp(want, got, BLK)) {
			if (bad++ < 4)
				KT_LOG("block %u on the device is not its last acknowledged write (gen %u)",
				       i, t->acked[i]);
		}
	}
	EXPECT_EQ(bad, 0);
}

/* One request, waited for: its status (0xff: it did not complete). */
static uint8_t one_req(struct dev *d, uint32_t type, unsigned int blk, unsigned int gen)
{
	static struct slot s;
	struct slot *r;

	slot_init(d, &s, QD);
	submit(d, &s, type, blk, gen);
	kick(d);
	r = reap(d, 20000);
	return r == &s ? *s.st : 0xff;
}

static void ioerr_under_load(struct kt_ctx *_kt, bool nullb, const char *type,
			     const char *features, bool reads_fail, bool flush_fails)
{
	static struct tally t;
	struct switcher sw;
	char params[160];
	struct back b;
	uint64_t e0, e1;
	struct dev d;
	int disk;
	uint8_t st;

	memset(&t, 0, sizeof(t));
	back_init(_kt, &b, nullb);
	ASSERT_OK(ram_init());
	if (!strcmp(type, "flakey")) {
		snprintf(params, sizeof(params), "%s 0 0 1 %s", b.ram_dev, features);
		/* a module on Debian, built in on the debug kernel */
		if (system("modprobe dm_flakey >/dev/null 2>&1"))
			KT_LOG("modprobe dm_flakey failed; trying the target anyway");
		if (dm_load(b.ctl, "flakey", params)) {
			KT_LOG("no dm-flakey target: %s", strerror(errno));
			back_fini(&b);
			SKIP("no dm-flakey target");
		}
		/* drop the probe: the inactive table is replaced by the switch */
		dm_cmd(b.ctl, DM_TABLE_CLEAR, 0, NULL);
	} else {
		snprintf(params, sizeof(params), "%s", "");
	}
	disk = open(b.node, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_GE(disk, 0);
	dev_open(_kt, &d, disk);
	e0 = err_io(&d);
	sw = (struct switcher){ .ctl = b.ctl, .type = type, .params = params,
				.lin = b.lin, .ms_before = 1500, .ms_error = 1500 };
	run_load(_kt, &d, &sw, &t, reads_fail);
	e1 = err_io(&d);
	KT_LOG("%s%s%s: writes %u OK %u IOERR, reads %u OK %u IOERR; %u writes and %u reads wholly while the error table was live",
	       type, features[0] ? " " : "", features, t.ok_w, t.err_w, t.ok_r, t.err_r,
	       t.in_window_w, t.in_window_r);
	EXPECT_GT(t.ok_w, 0);
	EXPECT_GT(t.in_window_w, 0);
	EXPECT_GT(t.err_w, 0);
	EXPECT_EQ(e1 - e0, t.err_w + t.err_r);

	/* errors again, then a FLUSH */
	ASSERT_OK(dm_switch(b.ctl, type, params));
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_OUT, 0, 1000), VIRTIO_BLK_S_IOERR);
	st = one_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0);
	KT_LOG("FLUSH after a failed write on %s: %s", type,
	       st == VIRTIO_BLK_S_OK ? "OK" : st == VIRTIO_BLK_S_IOERR ? "IOERR" : "?");
	if (flush_fails)
		EXPECT_EQ(st, VIRTIO_BLK_S_IOERR);
	else
		EXPECT_TRUE(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR);
	ASSERT_OK(dm_switch(b.ctl, "linear", b.lin));

	/* works again */
	t.next_gen[1]++;
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_OUT, 1, t.next_gen[1]), VIRTIO_BLK_S_OK);
	t.acked[1] = t.next_gen[1];
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_IN, 1, 0), VIRTIO_BLK_S_OK);
	EXPECT_EQ(err_io(&d) - e1, 1 + (st == VIRTIO_BLK_S_IOERR));
	dev_close(&d);
	close(disk);
	check_ram(_kt, &t);
	back_fini(&b);
}

TEST_TIMEOUT(odirect_dm_error_under_load, 180)
{
	ioerr_under_load(_kt, false, "error", "", true, false);
}

TEST_TIMEOUT(odirect_flakey_error_writes_write_cache_under_load, 180)
{
	ioerr_under_load(_kt, true, "flakey", "1 error_writes", false, true);
}

/*
 * Buffered backend: writes land in the page cache and are acknowledged;
 * the promise is the FLUSH's.  What was flushed OK before the errors
 * survives them; a FLUSH after writes whose writeback failed is IOERR;
 * after the switch back, write + FLUSH work and reach the device.
 */
TEST_TIMEOUT(buffered_flush_reports_failed_writeback, 180)
{
	static struct tally t;
	uint8_t got[BLK], want[BLK];
	unsigned int i;
	struct back b;
	struct dev d;
	uint8_t st;
	int disk;

	memset(&t, 0, sizeof(t));
	back_init(_kt, &b, false);
	ASSERT_OK(ram_init());
	disk = open(b.node, O_RDWR | O_CLOEXEC);
	ASSERT_GE(disk, 0);
	dev_open(_kt, &d, disk);
	/* A: blocks 0..31, flushed */
	for (i = 0; i < 32; i++)
		EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_OUT, i, 1), VIRTIO_BLK_S_OK);
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	ASSERT_OK(dm_switch(b.ctl, "error", ""));
	/* B: blocks 32..63 and over A's 0..7, then a FLUSH that must fail */
	for (i = 0; i < 40; i++) {
		st = one_req(&d, VIRTIO_BLK_T_OUT, (i + 32) % 64, 2);
		EXPECT_TRUE(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR);
	}
	st = one_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0);
	KT_LOG("FLUSH after writes whose writeback failed: %u", st);
	EXPECT_EQ(st, VIRTIO_BLK_S_IOERR);
	ASSERT_OK(dm_switch(b.ctl, "linear", b.lin));
	/* C: blocks 64..95, flushed, must reach the device */
	for (i = 64; i < 96; i++)
		EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_OUT, i, 3), VIRTIO_BLK_S_OK);
	EXPECT_EQ(one_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	dev_close(&d);
	close(disk);
	for (i = 8; i < 32; i++) {
		ASSERT_OK(ram_read(got, i));
		pattern(want, i, 1);
		EXPECT_EQ(memcmp(got, want, BLK), 0);
	}
	for (i = 64; i < 96; i++) {
		ASSERT_OK(ram_read(got, i));
		pattern(want, i, 3);
		EXPECT_EQ(memcmp(got, want, BLK), 0);
	}
	back_fini(&b);
}

KT_MAIN()
