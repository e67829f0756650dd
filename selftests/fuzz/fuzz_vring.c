// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_vring - hostile ring contents for /dev/vhost-blk, with dirty
 * logging on, while a second thread rewrites them under the device.
 *
 * Guest memory is three regions laid out in one reserved area, each
 * between canary pages that are mapped and writable but in no region:
 *
 *	user:  | canary | A 1 MiB | canary | B 256 KiB | canary | C 256 KiB | canary |
 *	guest:   A at 0x200000, B at 0x800000, C right after B (0x840000)
 *
 * so B and C are contiguous in guest-physical space but not in user
 * space: a buffer crossing from B into C must be split by the device, and a
 * device that assumes user contiguity writes into the canary after B.
 *
 * Each round opens a device with random features (VERSION_1; indirect,
 * event index, dirty logging and packed rings at random), one to three
 * rings of random power-of-two sizes, and a backend (a file, buffered or
 * O_DIRECT, or brd's /dev/ram0 O_DIRECT).  Each episode restarts a ring at
 * a random base (split: any 16-bit index, so indexes wrap; packed: any
 * position and wrap counters), fills it with random requests (all types,
 * random sectors, lengths, segment counts, indirect tables, flag, next and
 * length corruption, buffers across region ends, into the gap, wrapping),
 * publishes them (sometimes with an avail index jump), kicks, and waits for
 * the used ring, the call or the err eventfd, while the mutator thread
 * rewrites descriptors, indirect tables, headers and indexes.  Now and then
 * the memory table, the log base or the backend is replaced mid-episode.
 *
 * Findings (checked explicitly):
 *  - a canary byte changed: the device wrote outside the guest memory it
 *    was given;
 *  - a dirty-log bit set beyond the bitmap the memory table needs (the
 *    slack after it, up to a PROT_NONE page, must stay zero), or for a
 *    guest page in no region;
 *  - a split used element with a head outside the ring, or the used index
 *    moving more than the ring size past the base;
 *  - packed rings (episodes the mutator left alone, that published at most
 *    a ring's worth of descriptors, and whose writable buffers do not
 *    overlap the ring or an indirect table): a used descriptor whose id is
 *    not that of a chain the device could take (as it walks them, from a
 *    snapshot of the ring taken before the kick), or that completes a
 *    chain twice; a used length above the chain's writable bytes; used
 *    flags whose AVAIL and USED bits differ or disagree with the used wrap
 *    counter at that position; used descriptors not where each previous
 *    one's chain ends; and the used position and wrap counter
 *    VHOST_GET_VRING_BASE reports (bits 16-31) not where the last used
 *    descriptor's chain ends;
 *  - requests still in flight (GET_STATS) once every ring is stopped;
 *  - a stall (the watchdog): GET_VRING_BASE or close that never returns.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_blk.h>

#include "fuzz.h"

#define CANARY		(2 * 4096UL)
#define A_SIZE		(1UL << 20)
#define B_SIZE		(256UL << 10)
#define C_SIZE		(256UL << 10)
#define A_GPA		0x200000ULL
#define B_GPA		0x800000ULL
#define C_GPA		(B_GPA + B_SIZE)
#define GPA_END		(C_GPA + C_SIZE)
#define RING_STRIDE	0x10000UL	/* per ring in A: desc, avail +0x4000, used +0x8000 */
#define DATA_OFF	0x40000UL	/* data in A from here */
#define MAXQ		3
#define MAXNUM		256
#define IMG_SIZE	(1UL << 20)
#define SECT		512
#define BM_LEN		((GPA_END >> 12) / 8)	/* bytes the table needs */
#define P_AVAIL		(1 << VRING_PACKED_DESC_F_AVAIL)
#define P_USED		(1 << VRING_PACKED_DESC_F_USED)

struct region {
	uint8_t *hva;
	uint64_t gpa, size;
};

static uint8_t *area;		/* the whole layout */
static size_t area_len;
static struct region reg[3];
static uint8_t *canary[4];
static uint8_t *bm_page;	/* bitmap: BM_LEN bytes, zero slack, then PROT_NONE */
static size_t bm_map;
static int back[3], nback;
static const char *back_name[3];
static char img[64];
static bool brd_loaded;
static struct fuzz_ptrs ptrs;

struct ring {
	unsigned int idx, num;
	uint8_t *base;		/* in A */
	int kick, call, err;
	uint16_t start;		/* split: base index; packed: position */
	bool wrap;		/* packed: driver wrap counter at start */
};

struct dev {
	int fd;
	uint64_t features;
	bool packed, indirect, log;
	unsigned int nq;
	struct ring q[MAXQ];
	int logfd;
};

/* What the mutator works on; it runs for the life of the fuzzer. */
static struct dev *volatile cur;
/* held by the mutator while it touches cur's rings: cur may not go then */
static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int mutate_on;
/* Writes the mutator made, so an episode knows whether it was touched. */
static unsigned long mutations;

static uint64_t stat_episodes, stat_broken, stat_used, stat_timeouts;
static uint64_t stat_packed_checked, stat_packed_skipped;

/*
 * What a packed episode published (packed_add()), for check_packed_used():
 * the writable buffers (which the device may write, over the ring too),
 * how many ring entries were written, and the ring as it was at the kick.
 */
#define PK_MAXSEG	1024
static struct { uint64_t gpa, len; } pk_wseg[PK_MAXSEG];
static unsigned int pk_nwseg, pk_total;
static bool pk_overflow;
static struct vring_packed_desc pk_snap[MAXNUM];	/* what the driver wrote */

/* A chain as the device walks it from the snapshot */
struct pk_chain {
	uint16_t id, ndesc;
	uint64_t writable;	/* bytes the device may write */
	bool len_known;		/* an indirect table we could read */
	bool used;
};
static struct pk_chain pk_chain[MAXNUM];
static unsigned int pk_nchain;

static void *gpa_ptr(uint64_t gpa)
{
	int i;

	for (i = 0; i < 3; i++)
		if (gpa >= reg[i].gpa && gpa - reg[i].gpa < reg[i].size)
			return reg[i].hva + (gpa - reg[i].gpa);
	return NULL;
}

/* @len bytes at @gpa, if they lie in one region (contiguous for the fuzzer). */
static void *gpa_span(uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < 3; i++)
		if (gpa >= reg[i].gpa && gpa - reg[i].gpa < reg[i].size &&
		    len <= reg[i].size - (gpa - reg[i].gpa))
			return reg[i].hva + (gpa - reg[i].gpa);
	return NULL;
}

static uint64_t ptr_gpa(const void *p)
{
	int i;

	for (i = 0; i < 3; i++)
		if ((const uint8_t *)p >= reg[i].hva &&
		    (const uint8_t *)p < reg[i].hva + reg[i].size)
			return reg[i].gpa + ((const uint8_t *)p - reg[i].hva);
	return 0;
}

/* ---- layout and checks ---- */

static int layout(void)
{
	uint8_t *p;
	int i;

	area_len = 4 * CANARY + A_SIZE + B_SIZE + C_SIZE;
	area = mmap(NULL, area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -1;
	p = area;
	canary[0] = p;
	p += CANARY;
	reg[0] = (struct region){ p, A_GPA, A_SIZE };
	p += A_SIZE;
	canary[1] = p;
	p += CANARY;
	reg[1] = (struct region){ p, B_GPA, B_SIZE };
	p += B_SIZE;
	canary[2] = p;
	p += CANARY;
	reg[2] = (struct region){ p, C_GPA, C_SIZE };
	p += C_SIZE;
	canary[3] = p;
	for (i = 0; i < 4; i++)
		fuzz_canary_set(canary[i], CANARY);

	/*
	 * The bitmap: BM_LEN bytes, the rest of its page and one more page of
	 * slack (must stay zero), then PROT_NONE up to what guest addresses
	 * below 2^47 would need (4 GiB, reserved), so that a bit the device
	 * sets beyond the bitmap is seen or faults, and never lands on the
	 * fuzzer's own memory.
	 */
	bm_map = (1ULL << 47) >> 15;
	bm_page = mmap(NULL, bm_map, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bm_page == MAP_FAILED || mprotect(bm_page, 2 * 4096, PROT_READ | PROT_WRITE))
		return -1;
	return 0;
}

static const char *canary_name[4] = {
	"before A", "between A and B", "between B and C", "after C",
};

static void check_memory(const char *when)
{
	long off;
	int i;

	for (i = 0; i < 4; i++) {
		off = fuzz_canary_check(canary[i], CANARY);
		if (off >= 0) {
			fuzz_finding("%s: canary %s overwritten at byte %ld (now %#x): the device wrote outside guest memory",
				     when, canary_name[i], off, canary[i][off]);
			fuzz_canary_set(canary[i], CANARY);
		}
	}
}

static bool gpa_in_table(uint64_t gpa)
{
	return gpa_ptr(gpa) != NULL;
}

/* Logging bitmap: only pages of the table, nothing in the slack. */
static void check_bitmap(const char *when)
{
	uint64_t page, bad = 0, first = 0;
	size_t i;

	for (i = BM_LEN; i < 2 * 4096; i++)
		if (bm_page[i]) {
			fuzz_finding("%s: dirty-log byte %zu set (%#x) beyond the %lu-byte bitmap the memory table needs",
				     when, i, bm_page[i], (unsigned long)BM_LEN);
			bm_page[i] = 0;
			break;
		}
	for (page = 0; page < GPA_END >> 12; page++)
		if ((bm_page[page / 8] >> (page % 8)) & 1 && !gpa_in_table(page << 12)) {
			if (!bad++)
				first = page;
		}
	if (bad)
		fuzz_finding("%s: %llu dirty-log bits set for guest pages in no region (first gpa %#llx)",
			     when, (unsigned long long)bad, (unsigned long long)(first << 12));
	memset(bm_page, 0, 2 * 4096);
}

/* ---- the device ---- */

static int set_table(struct dev *d, bool all)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[3];
	} t;
	int i;

	memset(&t, 0, sizeof(t));
	t.m.nregions = all ? 3 : 1;
	for (i = 0; i < 3; i++) {
		t.r[i].guest_phys_addr = reg[i].gpa;
		t.r[i].memory_size = reg[i].size;
		t.r[i].userspace_addr = (uintptr_t)reg[i].hva;
	}
	return ioctl(d->fd, VHOST_SET_MEM_TABLE, &t);
}

static void ring_mem_reset(struct dev *d, struct ring *q, struct fuzz_rng *r)
{
	memset(q->base, 0, RING_STRIDE);
	if (d->packed) {
		q->start = fuzz_one_in(r, 2) ? 0 : fuzz_below(r, q->num);
		q->wrap = fuzz_one_in(r, 3) ? false : true;
	} else {
		q->start = fuzz_one_in(r, 3) ? 0 : fuzz_next(r);
		/* used->idx where the device will start */
		((struct vring_used *)(q->base + 0x8000))->idx = q->start;
		((struct vring_avail *)(q->base + 0x4000))->idx = q->start;
	}
}

static uint32_t ring_base(struct dev *d, struct ring *q)
{
	if (!d->packed)
		return q->start;
	/* bits 0-14 avail position, 15 its wrap; 16-30 used position, 31 its wrap */
	return q->start | (q->wrap << 15) | ((uint32_t)q->start << 16) | ((uint32_t)q->wrap << 31);
}

static int ring_start(struct dev *d, struct ring *q)
{
	struct vhost_vring_state s = { .index = q->idx, .num = ring_base(d, q) };

	return ioctl(d->fd, VHOST_SET_VRING_BASE, &s);
}

static int ring_stop(struct dev *d, struct ring *q)
{
	struct vhost_vring_state s = { .index = q->idx };

	fz_cur[0] = "GET_VRING_BASE";
	if (ioctl(d->fd, VHOST_GET_VRING_BASE, &s)) {
		fz_cur[0] = NULL;
		return -1;
	}
	fz_cur[0] = NULL;
	return 0;
}

/* Is device queue @idx already one of rings 0..n-1? */
static bool queue_taken(const struct dev *d, unsigned int n, unsigned int idx)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (d->q[i].idx == idx)
			return true;
	return false;
}

static int dev_open(struct dev *d, struct fuzz_rng *r)
{
	uint64_t offered, want;
	unsigned int i;
	struct vhost_vring_file f;

	memset(d, 0, sizeof(*d));
	d->logfd = -1;
	for (i = 0; i < MAXQ; i++)
		d->q[i].kick = d->q[i].call = d->q[i].err = -1;
	d->fd = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
	if (d->fd < 0 || ioctl(d->fd, VHOST_SET_OWNER) ||
	    ioctl(d->fd, VHOST_GET_FEATURES, &offered))
		return -1;
	want = 1ULL << VIRTIO_F_VERSION_1;
	if (fuzz_below(r, 4))
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (fuzz_below(r, 2))
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (fuzz_below(r, 5))
		want |= 1ULL << VHOST_F_LOG_ALL;
	if (fuzz_one_in(r, 3))
		want |= 1ULL << VIRTIO_F_RING_PACKED;
	want |= offered & fuzz_next(r) & ((1ULL << 24) - 1);	/* device bits */
	want &= offered;
	if (ioctl(d->fd, VHOST_SET_FEATURES, &want))
		return -1;
	d->features = want;
	d->packed = want & (1ULL << VIRTIO_F_RING_PACKED);
	d->indirect = want & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	d->log = want & (1ULL << VHOST_F_LOG_ALL);
	if (set_table(d, true))
		return -1;
	if (d->log) {
		uint64_t base = (uintptr_t)bm_page;

		memset(bm_page, 0, 2 * 4096);
		if (ioctl(d->fd, VHOST_SET_LOG_BASE, &base))
			fuzz_finding("SET_LOG_BASE of a bitmap covering the table failed: %s",
				     strerror(errno));
		d->logfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ioctl(d->fd, VHOST_SET_LOG_FD, &d->logfd);
	}
	d->nq = 1 + fuzz_below(r, MAXQ);
	for (i = 0; i < d->nq; i++) {
		struct ring *q = &d->q[i];
		struct vhost_vring_state s;
		struct vhost_vring_addr a = { 0 };

		q->idx = fuzz_one_in(r, 4) ? fuzz_below(r, VHOST_BLK_NUM_QUEUES) : i;
		/*
		 * One ring per queue: two rings set up on one queue leave it
		 * with the last one's size and addresses, and an episode on
		 * the other would check memory the device never used (what
		 * the packed used-position check once reported).
		 */
		while (queue_taken(d, i, q->idx))
			q->idx = (q->idx + 1) % VHOST_BLK_NUM_QUEUES;
		q->num = 1U << fuzz_below(r, 9);	/* 1..256 */
		q->base = reg[0].hva + i * RING_STRIDE;
		ring_mem_reset(d, q, r);
		s.index = q->idx;
		s.num = q->num;
		a.index = q->idx;
		a.desc_user_addr = (uintptr_t)q->base;
		a.avail_user_addr = (uintptr_t)q->base + 0x4000;
		a.used_user_addr = (uintptr_t)q->base + 0x8000;
		if (ioctl(d->fd, VHOST_SET_VRING_NUM, &s) ||
		    ioctl(d->fd, VHOST_SET_VRING_ADDR, &a) || ring_start(d, q))
			return -1;
		q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		f.index = q->idx;
		f.fd = q->kick;
		if (ioctl(d->fd, VHOST_SET_VRING_KICK, &f))
			return -1;
		f.fd = q->call;
		ioctl(d->fd, VHOST_SET_VRING_CALL, &f);
		f.fd = q->err;
		ioctl(d->fd, VHOST_SET_VRING_ERR, &f);
	}
	f.index = 0;
	f.fd = back[fuzz_below(r, nback)];
	if (ioctl(d->fd, VHOST_BLK_SET_BACKEND, &f))
		return -1;
	return 0;
}

static void dev_fds_close(struct dev *d)
{
	unsigned int i;

	for (i = 0; i < MAXQ; i++) {
		if (d->q[i].kick >= 0)
			close(d->q[i].kick);
		if (d->q[i].call >= 0)
			close(d->q[i].call);
		if (d->q[i].err >= 0)
			close(d->q[i].err);
	}
	if (d->logfd >= 0)
		close(d->logfd);
}

static void dev_close(struct dev *d)
{
	struct vhost_blk_stats s = { .argsz = sizeof(s) };
	unsigned int i;

	for (i = 0; i < d->nq; i++)
		ring_stop(d, &d->q[i]);
	if (!ioctl(d->fd, VHOST_BLK_GET_STATS, &s)) {
		if (s.inflight)
			fuzz_finding("%llu requests in flight after GET_VRING_BASE stopped every ring",
				     (unsigned long long)s.inflight);
		stat_broken += s.rings_broken;
	}
	if (d->log)
		check_bitmap("round end");
	fz_cur[0] = "close the device";
	close(d->fd);
	fz_cur[0] = NULL;
	dev_fds_close(d);
	check_memory("after close");
}

/* ---- requests ---- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;
};

/* Guest buffers: a bump allocator over A's data part, B and C. */
static uint64_t galloc(struct fuzz_rng *r, uint32_t len)
{
	uint64_t g;

	switch (fuzz_below(r, 12)) {
	case 0:	/* across B into C (contiguous in guest space) */
		return C_GPA - 1 - fuzz_below(r, len ? len - 1 : 1);
	case 1:	/* across the end of A (into the gap) */
		return A_GPA + A_SIZE - fuzz_below(r, len + 1);
	case 2:	/* across the end of C */
		return GPA_END - fuzz_below(r, len + 1);
	case 3:	/* just below A, or in the gap */
		return fuzz_one_in(r, 2) ? A_GPA - fuzz_below(r, 4096) :
		       A_GPA + A_SIZE + fuzz_below(r, B_GPA - A_GPA - A_SIZE);
	case 4:
		g = fuzz_int(r, B_GPA);
		/*
		 * The device logs a writable buffer's pages whatever they are
		 * (see the report); keep those bits inside the bitmap's reserve
		 * unless --wild.
		 */
		if (!fz.wild && g >= 1ULL << 46)
			g &= (1ULL << 46) - 1;
		return g;
	case 5: case 6:
		g = B_GPA + fuzz_below(r, B_SIZE + C_SIZE);
		break;
	default:
		g = A_GPA + DATA_OFF + fuzz_below(r, A_SIZE - DATA_OFF);
		break;
	}
	if (fuzz_below(r, 4))
		g &= ~(uint64_t)(SECT - 1);
	if (!gpa_ptr(g) || !gpa_ptr(g + (len ? len - 1 : 0)))
		g = A_GPA + DATA_OFF + ((g & 0x7ffff) & ~(uint64_t)(SECT - 1)) % (A_SIZE - DATA_OFF - 16384);
	return g;
}

/* A virtio-blk request as segments: header, data, status. */
static int gen_request(struct fuzz_rng *r, struct seg *s, int max)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_OUT,
		VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES,
	};
	struct virtio_blk_outhdr *h;
	uint32_t type = fuzz_one_in(r, 12) ? (uint32_t)fuzz_int(r, 8) :
			types[fuzz_below(r, sizeof(types) / sizeof(types[0]))];
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	int n = 0, ndata = fuzz_one_in(r, 6) ? fuzz_below(r, max - 1) : fuzz_below(r, 4);
	uint64_t hg = galloc(r, 16);
	int i;

	if (ndata > max - 2)
		ndata = max - 2;
	h = gpa_span(hg, 16);
	if (h) {
		h->type = type;
		h->ioprio = fuzz_next(r);
		h->sector = fuzz_one_in(r, 8) ? fuzz_int(r, IMG_SIZE / SECT) :
			    fuzz_below(r, IMG_SIZE / SECT + 16);
	}
	s[n++] = (struct seg){ hg, fuzz_one_in(r, 16) ? fuzz_int(r, 16) : 16, 0 };
	for (i = 0; i < ndata; i++) {
		uint32_t len = fuzz_one_in(r, 8) ? (uint32_t)fuzz_int(r, 4096) :
			       SECT * (1 + fuzz_below(r, 16));
		uint64_t g = galloc(r, len);

		if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
			struct virtio_blk_discard_write_zeroes *dz;

			len = 16 * (1 + fuzz_below(r, 3));
			dz = gpa_span(g, len);
			if (dz) {
				dz->sector = fuzz_below(r, IMG_SIZE / SECT + 8);
				dz->num_sectors = fuzz_one_in(r, 4) ? fuzz_next(r) : fuzz_below(r, 64);
				dz->flags = fuzz_below(r, 4);
			}
		}
		s[n++] = (struct seg){ g, len, in ? VRING_DESC_F_WRITE : 0 };
	}
	s[n++] = (struct seg){ galloc(r, 1), 1, VRING_DESC_F_WRITE };
	/* corruption */
	for (i = 0; i < n; i++) {
		if (fuzz_one_in(r, 25))
			s[i].flags ^= 1 << fuzz_below(r, 16);
		if (fuzz_one_in(r, 40))
			s[i].len = fuzz_int(r, s[i].len);
		if (fuzz_one_in(r, 60))
			s[i].gpa = fuzz_int(r, s[i].gpa);
		if (!fz.wild && s[i].gpa >= 1ULL << 46)
			s[i].gpa &= (1ULL << 46) - 1;
	}
	return n;
}

/* Where an indirect table goes: in A's data part, 16-byte aligned. */
static struct vring_desc *indirect_table(struct fuzz_rng *r, int n)
{
	uint64_t g = A_GPA + DATA_OFF +
		     (fuzz_below(r, A_SIZE - DATA_OFF - 16 * (n + 1)) & ~15ULL);

	return gpa_ptr(g);
}

/* Split: the chain at descriptor @*next on; returns its head. */
static uint16_t split_add(struct fuzz_rng *r, struct dev *d, struct ring *q,
			  struct vring_desc *desc, unsigned int *next)
{
	struct seg s[24];
	int n = gen_request(r, s, 24), i;
	uint16_t head = *next % q->num;
	bool ind = (d->indirect && fuzz_one_in(r, 3)) || fuzz_one_in(r, 60);

	if (ind) {
		struct vring_desc *t = indirect_table(r, n);

		for (i = 0; i < n; i++) {
			t[i].addr = s[i].gpa;
			t[i].len = s[i].len;
			t[i].flags = s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
			t[i].next = fuzz_one_in(r, 30) ? (uint16_t)fuzz_next(r) : (uint16_t)(i + 1);
		}
		if (fuzz_one_in(r, 20))	/* a nested indirect */
			t[fuzz_below(r, n)].flags |= VRING_DESC_F_INDIRECT;
		s[0] = (struct seg){ ptr_gpa(t), fuzz_one_in(r, 20) ? (uint32_t)fuzz_int(r, 16 * n) : (uint32_t)(16 * n),
				     VRING_DESC_F_INDIRECT };
		n = 1;
	}
	for (i = 0; i < n; i++) {
		unsigned int k = (*next)++ % q->num;

		desc[k].addr = s[i].gpa;
		desc[k].len = s[i].len;
		desc[k].flags = s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		desc[k].next = fuzz_one_in(r, 40) ? fuzz_next(r) : (k + 1) % q->num;
	}
	return head;
}

/* Packed: the chain at position @*pos on, wrapping; the head's flags last. */
static void packed_add(struct fuzz_rng *r, struct dev *d, struct ring *q, unsigned int *pos,
		       bool *wrap, uint16_t id)
{
	struct vring_packed_desc *ring = (void *)q->base;
	struct seg s[24];
	int n = gen_request(r, s, 24), i;
	unsigned int head = *pos;
	uint16_t head_flags = 0;

	for (i = 0; i < n; i++) {
		if (!(s[i].flags & VRING_DESC_F_WRITE))
			continue;
		if (pk_nwseg == PK_MAXSEG) {
			pk_overflow = true;
			break;
		}
		pk_wseg[pk_nwseg].gpa = s[i].gpa;
		pk_wseg[pk_nwseg++].len = s[i].len;
	}
	if ((d->indirect && fuzz_one_in(r, 3)) || fuzz_one_in(r, 60)) {
		struct vring_packed_desc *t = (void *)indirect_table(r, n);

		for (i = 0; i < n; i++) {
			t[i].addr = s[i].gpa;
			t[i].len = s[i].len;
			t[i].id = fuzz_one_in(r, 20) ? fuzz_next(r) : 0;
			t[i].flags = s[i].flags;
		}
		s[0] = (struct seg){ ptr_gpa(t), 16 * n, VRING_DESC_F_INDIRECT };
		n = 1;
	}
	if ((unsigned int)n > q->num && !fuzz_one_in(r, 8))
		n = q->num;
	pk_total += n;
	for (i = 0; i < n; i++) {
		uint16_t f = s[i].flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
			     (*wrap ? P_AVAIL : P_USED);

		ring[*pos].addr = s[i].gpa;
		ring[*pos].len = s[i].len;
		ring[*pos].id = fuzz_one_in(r, 30) ? fuzz_next(r) : id;
		if (i)
			ring[*pos].flags = f;
		else
			head_flags = f;
		if (*pos < MAXNUM) {
			pk_snap[*pos] = ring[*pos];
			pk_snap[*pos].flags = f;
		}
		if (++*pos >= q->num) {
			*pos = 0;
			*wrap = !*wrap;
		}
	}
	__atomic_store_n(&ring[head].flags, head_flags, __ATOMIC_RELEASE);
}

/* Wait for the device: used index (split), call and err eventfds. */
static void wait_ring(struct dev *d, struct ring *q, uint16_t want, int ms)
{
	struct vring_used *used = (void *)(q->base + 0x8000);
	struct pollfd p[2] = { { q->call, POLLIN, 0 }, { q->err, POLLIN, 0 } };
	uint64_t v;
	int quiet = 0;

	while (ms > 0) {
		if (!d->packed && __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) == want)
			return;
		if (poll(p, 2, 10) > 0) {
			if (p[1].revents & POLLIN) {
				if (read(q->err, &v, 8) == 8)
					stat_broken++;
				return;
			}
			if (read(q->call, &v, 8) == 8)
				quiet = 0;
		} else if (d->packed && ++quiet > 5) {
			return;
		}
		ms -= 10;
	}
	stat_timeouts++;
}

/*
 * @republished: the mutator ran during the episode.  It may move the
 * avail index after the device took what was published (case 2), which
 * makes more requests available, legitimately: the used index may then
 * move past the base by more than the ring size, and only the last
 * ring-size elements are checked.
 */
static void check_split_used(struct ring *q, int republished)
{
	struct vring_used *used = (void *)(q->base + 0x8000);
	uint16_t start = q->start, n = used->idx - start, i;

	if (republished && n > q->num) {
		stat_used += n - q->num;
		start = used->idx - q->num;
		n = q->num;
	}
	if (n > q->num) {
		fuzz_finding("used index moved %u past the base %u on a ring of %u",
			     n, start, q->num);
		return;
	}
	for (i = 0; i < n; i++) {
		struct vring_used_elem *e = &used->ring[(uint16_t)(start + i) % q->num];

		if (e->id >= q->num)
			fuzz_finding("used element %u has head %u on a ring of %u",
				     (uint16_t)(start + i), e->id, q->num);
	}
	stat_used += n;
}

static bool pk_overlaps(uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < pk_nwseg; i++)
		if (pk_wseg[i].len && len && pk_wseg[i].gpa < gpa + len &&
		    gpa < pk_wseg[i].gpa + pk_wseg[i].len)
			return true;
	return false;
}

/*
 * Before the kick: walk what the driver wrote (pk_snap, which packed_add()
 * keeps: the ring itself may already carry used descriptors if the device
 * got there first) as the device will
 * (vblk_walk_packed(): a head is available when its AVAIL bit is the wrap
 * counter and its USED bit is not; the chain follows NEXT, ends at an
 * indirect descriptor, and its id is its last descriptor's).  Returns
 * false if the episode cannot be checked.
 */
static bool pk_prepare(struct ring *q)
{
	unsigned int pos = q->start, taken = 0, count, p, j;
	bool w = q->wrap;

	pk_nchain = 0;
	if (pk_overflow || pk_total > q->num ||
	    pk_overlaps(ptr_gpa(q->base), q->num * sizeof(struct vring_packed_desc)))
		return false;
	while (taken < q->num && pk_nchain < MAXNUM) {
		struct pk_chain *c = &pk_chain[pk_nchain];
		uint16_t f = pk_snap[pos].flags;
		struct vring_packed_desc *dd = NULL;

		if (!!(f & P_AVAIL) != w || !!(f & P_USED) == w)
			break;
		memset(c, 0, sizeof(*c));
		c->len_known = true;
		for (count = 0, p = pos;;) {
			if (count == q->num)
				return pk_nchain > 0;	/* the device stops here */
			dd = &pk_snap[p];
			count++;
			p = (p + 1) % q->num;
			if (dd->flags & VRING_DESC_F_INDIRECT) {
				struct vring_packed_desc *t = gpa_span(dd->addr, dd->len);

				if (!t || dd->len % 16 || pk_overlaps(dd->addr, dd->len)) {
					c->len_known = false;
					break;
				}
				for (j = 0; j < dd->len / 16; j++)
					if (t[j].flags & VRING_DESC_F_WRITE)
						c->writable += t[j].len;
				break;
			}
			if (dd->flags & VRING_DESC_F_WRITE)
				c->writable += dd->len;
			if (!(dd->flags & VRING_DESC_F_NEXT))
				break;
		}
		c->id = dd->id;
		c->ndesc = count;
		pk_nchain++;
		taken += count;
		pos += count;
		if (pos >= q->num) {
			pos -= q->num;
			w = !w;
		}
	}
	return true;
}

/*
 * After the ring is stopped (every request taken is in the used ring):
 * the used descriptors from the start on, each where the previous one's
 * chain ends, against the chains of pk_prepare(); @base is what
 * VHOST_GET_VRING_BASE returned.
 */
static void check_packed_used(struct ring *q, uint32_t base)
{
	struct vring_packed_desc *ring = (void *)q->base;
	unsigned int pos = q->start, n = 0, i, k;
	bool w = q->wrap, exact = true;

	while (n < pk_nchain) {
		struct vring_packed_desc e = ring[pos];
		bool a = e.flags & P_AVAIL, u = e.flags & P_USED;
		struct pk_chain *c = NULL;

		if (!memcmp(&e, &pk_snap[pos], sizeof(e)))
			break;		/* not written by the device */
		if (a != u || a != w) {
			fuzz_finding("packed used descriptor at %u has flags %#x, the used wrap counter is %d (ring of %u, start %u/%d)",
				     pos, e.flags, w, q->num, q->start, q->wrap);
			exact = false;
			break;
		}
		for (i = 0, k = 0; i < pk_nchain; i++) {
			if (pk_chain[i].id != e.id || pk_chain[i].used)
				continue;
			if (!c)
				c = &pk_chain[i];
			else if (pk_chain[i].ndesc != c->ndesc)
				k++;	/* which one it was is ambiguous */
		}
		if (!c) {
			for (i = 0; i < pk_nchain && pk_chain[i].id != e.id; i++)
				;
			fuzz_finding("packed used descriptor at %u has id %u, %s (ring of %u, %u chains offered)",
				     pos, e.id, i < pk_nchain ? "a chain already completed" :
				     "no chain the device could take", q->num, pk_nchain);
			exact = false;
			break;
		}
		if (c->len_known && e.len > c->writable)
			fuzz_finding("packed used descriptor at %u (id %u) has length %u, its chain has %llu writable bytes",
				     pos, e.id, e.len, (unsigned long long)c->writable);
		c->used = true;
		n++;
		stat_used++;
		if (k) {
			exact = false;
			break;
		}
		pos += c->ndesc;
		if (pos >= q->num) {
			pos -= q->num;
			w = !w;
		}
	}
	if (exact && (((base >> 16) & 0x7fff) != pos || (base >> 31) != w))
		fuzz_finding("packed used position %u wrap %u after the ring stopped, the used descriptors end at %u wrap %d (ring of %u, start %u/%d)",
			     (base >> 16) & 0x7fff, base >> 31, pos, w, q->num,
			     q->start, q->wrap);
	stat_packed_checked++;
}

/* Something replaced under the running rings now and then. */
static void disturb(struct fuzz_rng *r, struct dev *d)
{
	struct vhost_vring_file f = { .index = 0 };
	uint64_t base;

	switch (fuzz_below(r, 24)) {
	case 0:
		set_table(d, fuzz_below(r, 4) != 0);	/* A alone drops B and C */
		break;
	case 1:
		if (d->log) {
			base = fuzz_one_in(r, 2) ? 0 : (uintptr_t)bm_page;
			ioctl(d->fd, VHOST_SET_LOG_BASE, &base);
		}
		break;
	case 2:
		f.fd = back[fuzz_below(r, nback)];
		ioctl(d->fd, VHOST_BLK_SET_BACKEND, &f);
		break;
	}
	set_table(d, true);
	if (d->log) {
		base = (uintptr_t)bm_page;
		ioctl(d->fd, VHOST_SET_LOG_BASE, &base);
	}
}

static void episode(struct fuzz_rng *r, struct dev *d)
{
	struct ring *q = &d->q[fuzz_below(r, d->nq)];
	unsigned int count = 1 + fuzz_below(r, q->num), i, next = 0, pos;
	struct vring_avail *avail = (void *)(q->base + 0x4000);
	bool wrap;
	uint16_t idx;
	uint64_t one = 1;
	unsigned long m0 = __atomic_load_n(&mutations, __ATOMIC_ACQUIRE);
	bool checkable;
	int mutated;

	ring_stop(d, q);
	ring_mem_reset(d, q, r);
	if (ring_start(d, q))
		return;
	pk_nwseg = 0;
	pk_total = 0;
	pk_overflow = false;
	memset(pk_snap, 0, sizeof(pk_snap));	/* the ring was cleared too */
	pos = q->start;
	wrap = q->wrap;
	idx = q->start;
	if (count > 32)
		count = 32;
	if (d->packed) {
		for (i = 0; i < count; i++)
			packed_add(r, d, q, &pos, &wrap, i);
	} else {
		for (i = 0; i < count && next < q->num; i++)
			avail->ring[idx++ % q->num] =
				split_add(r, d, q, (void *)q->base, &next);
		if (fuzz_one_in(r, 20))
			idx += fuzz_below(r, 2 * q->num + 2);	/* a jump */
		if (fuzz_one_in(r, 40))
			avail->ring[q->num] = fuzz_next(r);	/* used_event */
		__atomic_store_n(&avail->idx, idx, __ATOMIC_RELEASE);
	}
	checkable = d->packed && pk_prepare(q);
	cur = d;
	mutate_on = fuzz_one_in(r, 2);
	if (write(q->kick, &one, 8) != 8)
		fuzz_log("kick failed: %s", strerror(errno));
	if (fuzz_one_in(r, 4))
		disturb(r, d);
	wait_ring(d, q, idx, 500);
	mutated = mutate_on ||
		  __atomic_load_n(&mutations, __ATOMIC_ACQUIRE) != m0;
	mutate_on = 0;
	if (!d->packed) {
		check_split_used(q, mutated);
	} else if (checkable && !mutated) {
		struct vhost_vring_state st = { .index = q->idx };

		/* stopped: what was taken is in the used ring, nothing moves */
		fz_cur[0] = "GET_VRING_BASE";
		if (!ioctl(d->fd, VHOST_GET_VRING_BASE, &st))
			check_packed_used(q, st.num);
		fz_cur[0] = NULL;
	} else {
		stat_packed_skipped++;
	}
	stat_episodes++;
}

/* The second thread: rewrites ring memory while the device reads it. */
static void *mutator(void *arg)
{
	struct fuzz_rng r = { fuzz_thread_seed(99) };

	(void)arg;
	while (fuzz_running()) {
		struct dev *d;
		struct ring *q;
		uint8_t *p;
		size_t off;

		pthread_mutex_lock(&cur_lock);
		d = cur;
		if (!mutate_on || !d) {
			pthread_mutex_unlock(&cur_lock);
			usleep(1000);
			continue;
		}
		q = &d->q[fuzz_below(&r, d->nq)];
		switch (fuzz_below(&r, 4)) {
		case 0:	/* a descriptor field */
			off = fuzz_below(&r, q->num * 16);
			p = q->base + off;
			break;
		case 1:	/* avail ring or driver area */
			off = fuzz_below(&r, 4 + 2 * q->num + 2);
			p = q->base + 0x4000 + off;
			break;
		case 2:	/* the avail index itself */
			p = q->base + 0x4002;
			break;
		default: /* headers, indirect tables, data */
			off = DATA_OFF + fuzz_below(&r, A_SIZE - DATA_OFF - 8);
			p = reg[0].hva + off;
			break;
		}
		switch (fuzz_below(&r, 3)) {
		case 0: __atomic_store_n(p, (uint8_t)fuzz_next(&r), __ATOMIC_RELAXED); break;
		case 1: __atomic_fetch_add((uint16_t *)((uintptr_t)p & ~1UL), 1, __ATOMIC_RELAXED); break;
		default: __atomic_fetch_xor((uint16_t *)((uintptr_t)p & ~1UL),
					    1 << fuzz_below(&r, 16), __ATOMIC_RELAXED); break;
		}
		__atomic_fetch_add(&mutations, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&cur_lock);
		if (fuzz_one_in(&r, 8))
			sched_yield();
	}
	return NULL;
}

static void add_backend(const char *path, int flags, const char *name)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd >= 0) {
		back_name[nback] = name;
		back[nback++] = fd;
	}
}

int main(int argc, char **argv)
{
	struct fuzz_rng r;
	pthread_t mt;
	struct dev d;
	int fd, rounds = 0, failed = 0;

	fz.threads = 2;
	fuzz_init(argc, argv, "fuzz_vring");
	r.s = fuzz_thread_seed(0);
	if (access("/dev/vhost-blk", F_OK))
		fuzz_skip("no /dev/vhost-blk");
	if (layout() || fuzz_ptrs_init(&ptrs))
		fuzz_skip("mmap failed");
	snprintf(img, sizeof(img), "/tmp/fuzz-vring-%d.img", getpid());
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		fuzz_skip("cannot create the backing file");
	back_name[0] = "file";
	back[nback++] = fd;
	add_backend(img, O_RDWR | O_DIRECT, "file O_DIRECT");
	if (access("/dev/ram0", F_OK) &&
	    !system("modprobe brd rd_nr=1 rd_size=65536 >/dev/null 2>&1"))
		brd_loaded = true;
	add_backend("/dev/ram0", O_RDWR | O_DIRECT, "brd O_DIRECT");
	fuzz_log("backends: %s%s%s", back_name[0], nback > 1 ? ", file O_DIRECT" : "",
		 nback > 2 ? ", brd O_DIRECT" : "");

	pthread_create(&mt, NULL, mutator, NULL);
	while (fuzz_running()) {
		int e, n = 10 + fuzz_below(&r, 40);

		if (dev_open(&d, &r)) {
			if (!failed++)
				fuzz_log("device set-up failed: %s", strerror(errno));
			if (d.fd >= 0)
				close(d.fd);
			dev_fds_close(&d);
			if (!fuzz_tick())
				break;
			continue;
		}
		fuzz_vlog("round %d: features %#llx, %u rings, log %d packed %d",
			  rounds, (unsigned long long)d.features, d.nq, d.log, d.packed);
		for (e = 0; e < n && fuzz_tick(); e++) {
			episode(&r, &d);
			check_memory("episode");
		}
		/* the mutator lets go of the device before it is closed */
		pthread_mutex_lock(&cur_lock);
		cur = NULL;
		pthread_mutex_unlock(&cur_lock);
		dev_close(&d);
		rounds++;
	}
	pthread_join(mt, NULL);
	fuzz_log("%d rounds, %llu episodes, %llu used elements checked, %llu rings broken, %llu waits timed out, packed episodes %llu checked %llu not",
		 rounds, (unsigned long long)stat_episodes, (unsigned long long)stat_used,
		 (unsigned long long)stat_broken, (unsigned long long)stat_timeouts,
		 (unsigned long long)stat_packed_checked, (unsigned long long)stat_packed_skipped);
	for (fd = 0; fd < nback; fd++)
		close(back[fd]);
	unlink(img);
	if (brd_loaded && system("rmmod brd"))
		fuzz_finding("rmmod brd failed after every device was closed");
	return fuzz_finish();
}
