// SPDX-License-Identifier: GPL-2.0
/*
 * vblk_bench - the userspace-driver half of make bench-blk (not a test).
 *
 * Plays a virtio-blk guest with no guest: one split ring of 256 entries and
 * the request buffers live in a memfd mapping registered at guest-physical
 * 4 GiB (lib/virtq_driver.h), and the same driver code runs against
 *
 *   vhost   /dev/vhost-blk with the backend handed over by
 *           VHOST_BLK_SET_BACKEND;
 *   uring   a userspace device of ours in a second thread: it maps the memfd
 *           itself, waits for kicks, pops avail entries, parses each chain
 *           as a device must (guest addresses translated through its memory
 *           table, bounds checked), does the data I/O with io_uring (raw
 *           system calls, so the program links statically) on the backend
 *           and completes in the used ring, signalling the call eventfd as
 *           EVENT_IDX or VRING_AVAIL_F_NO_INTERRUPT asks.
 *
 *	vblk_bench --target vhost|uring --backend PATH [--name NAME]
 *		   [--direct auto|on|off] [--event-idx]
 *		   (--rw read|write --qd N --seconds S | --verify)
 *	vblk_bench --probe PATH
 *
 * The workload is 4 KiB random aligned reads or writes over the backend at
 * queue depth N: QD requests are kept in flight, a batch of submissions is
 * published with one kick (when the device wants one), completions are
 * awaited on the call eventfd and reaped, and as many are resubmitted.
 * Prints "BENCH driver <target> <name> <rw> qd=<N> iops=<integer>".
 * --poll-us N (vhost only) sets the device's poll_budget_us knob: the target
 * is then named "vhost-poll".
 * --verify writes patterned blocks through the ring, flushes, reads them
 * back through the ring and directly from the backend, and prints
 * "BENCH-VERIFY <target> <name> ok|FAIL".  --probe prints "direct" if the
 * backend opens with O_DIRECT, else "buffered".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/vhost_blk.h>

#include "../lib/kt_bench.h"
#include "../lib/virtq_driver.h"

#define GPA_BASE	0x100000000ULL
#define GMEM_SIZE	(4UL << 20)
#define QNUM		256
#define HDR_OFF		(64UL << 10)	/* per slot: 16-byte header, status */
#define SLOT_HDR	32
#define DATA_OFF	(1UL << 20)	/* per slot: one 4 KiB block */
#define BS		4096
#define SECT		512
#define MAXQD		(QNUM / 3)
#define VERIFY_N	64
#define WAIT_MS		10000

static const char *prog = "vblk_bench";

#define die(...) do { fprintf(stderr, "%s: ", prog);			\
		      fprintf(stderr, __VA_ARGS__);			\
		      fputc('\n', stderr); exit(1); } while (0)

/* ------------------------------------------------------------------ */
/* io_uring through the raw system calls                              */

struct uring {
	int fd;
	unsigned int entries;
	uint32_t *sq_head, *sq_tail, *sq_mask, *sq_array;
	uint32_t *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	uint32_t sq_local;		/* our tail, not yet published */
	unsigned int to_submit;
};

static int uring_init(struct uring *u, unsigned int entries)
{
	struct io_uring_params p;
	size_t sq_sz, cq_sz;
	uint8_t *sq, *cq;

	memset(&p, 0, sizeof(p));
	memset(u, 0, sizeof(*u));
	u->fd = syscall(__NR_io_uring_setup, entries, &p);
	if (u->fd < 0)
		return -1;
	sq_sz = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
	cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_sz = cq_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
	sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  u->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -1;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -1;
	}
	u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       u->fd, IORING_OFF_SQES);
	if (u->sqes == MAP_FAILED)
		return -1;
	u->entries = p.sq_entries;
	u->sq_head = (void *)(sq + p.sq_off.head);
	u->sq_tail = (void *)(sq + p.sq_off.tail);
	u->sq_mask = (void *)(sq + p.sq_off.ring_mask);
	u->sq_array = (void *)(sq + p.sq_off.array);
	u->cq_head = (void *)(cq + p.cq_off.head);
	u->cq_tail = (void *)(cq + p.cq_off.tail);
	u->cq_mask = (void *)(cq + p.cq_off.ring_mask);
	u->cqes = (void *)(cq + p.cq_off.cqes);
	u->sq_local = *u->sq_tail;
	return 0;
}

static struct io_uring_sqe *uring_sqe(struct uring *u)
{
	uint32_t head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
	struct io_uring_sqe *sqe;
	uint32_t i;

	if (u->sq_local - head >= u->entries)
		return NULL;
	i = u->sq_local & *u->sq_mask;
	sqe = &u->sqes[i];
	memset(sqe, 0, sizeof(*sqe));
	u->sq_array[i] = i;
	u->sq_local++;
	u->to_submit++;
	return sqe;
}

/* Submit what is queued and wait for at least @wait completions. */
static int uring_enter(struct uring *u, unsigned int wait)
{
	int r;

	__atomic_store_n(u->sq_tail, u->sq_local, __ATOMIC_RELEASE);
	do {
		r = syscall(__NR_io_uring_enter, u->fd, u->to_submit, wait,
			    wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	u->to_submit -= r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the userspace device                                               */

struct ureq {
	struct iovec iov[VHOST_BLK_SEG_MAX];
	int niov;
	uint8_t *status;
	uint32_t inlen;		/* bytes written to device-writable buffers */
	uint32_t want;		/* bytes the I/O must transfer */
};

struct udev {
	/* what the device is told, as a VMM would tell it */
	int memfd;
	uint64_t gpa, size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	unsigned int num;
	bool event_idx;
	int kick, call, backend;
	uint64_t capacity;	/* bytes */
	/* its own state */
	uint8_t *mem;		/* its own mapping of guest memory */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail, used_idx, signalled;
	struct uring ring;
	struct ureq req[QNUM];
	uint64_t kick_val;
	volatile bool stop;
	unsigned long bad, kicks, irqs;
};

/* Guest-physical [gpa, gpa + len) to the device's address, or NULL. */
static void *u_gpa(struct udev *d, uint64_t gpa, uint64_t len)
{
	if (gpa < d->gpa || len > d->size || gpa - d->gpa > d->size - len)
		return NULL;
	return d->mem + (gpa - d->gpa);
}

/* Copy the first @len bytes described by @iov into @dst. */
static int iov_copy_from(const struct iovec *iov, int n, void *dst, size_t len)
{
	uint8_t *p = dst;
	int i;

	for (i = 0; i < n && len; i++) {
		size_t c = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(p, iov[i].iov_base, c);
		p += c;
		len -= c;
	}
	return len ? -1 : 0;
}

/* @dst gets the part [skip, skip + len) of @src; returns its count or -1. */
static int iov_slice(const struct iovec *src, int n, size_t skip, size_t len,
		     struct iovec *dst, int max)
{
	int i, k = 0;

	for (i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (k == max)
			return -1;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[k].iov_len = l - skip < len ? l - skip : len;
		len -= dst[k].iov_len;
		skip = 0;
		k++;
	}
	return len ? -1 : k;
}

static size_t iov_len(const struct iovec *iov, int n)
{
	size_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += iov[i].iov_len;
	return s;
}

static void u_used(struct udev *d, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &d->used->ring[d->used_idx & (d->num - 1)];

	e->id = head;
	e->len = len;
	d->used_idx++;
}

/* Publish used entries and interrupt the driver if it asked for it. */
static void u_flush_used(struct udev *d)
{
	uint16_t old = d->signalled, nw = d->used_idx;
	uint64_t one = 1;
	bool sig;

	if (old == nw)
		return;
	__atomic_store_n(&d->used->idx, nw, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->signalled = nw;
	if (d->event_idx) {
		uint16_t ev = __atomic_load_n(&d->avail->ring[d->num],
					      __ATOMIC_ACQUIRE);

		sig = (uint16_t)(nw - ev - 1) < (uint16_t)(nw - old);
	} else {
		sig = !(__atomic_load_n(&d->avail->flags, __ATOMIC_ACQUIRE) &
			VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (sig) {
		d->irqs++;
		if (write(d->call, &one, sizeof(one)) != sizeof(one))
			die("signal call eventfd: %s", strerror(errno));
	}
}

/*
 * Parse the chain at @head and start its I/O.  Malformed chains are
 * counted and completed with length 0 and no status (there is no status
 * byte to trust); requests the device refuses get a virtio status.
 */
static void u_request(struct udev *d, uint16_t head)
{
	struct ureq *r = &d->req[head];
	struct iovec out[VHOST_BLK_SEG_MAX + 2], in[VHOST_BLK_SEG_MAX + 2];
	struct virtio_blk_outhdr hdr;
	struct io_uring_sqe *sqe;
	int nout = 0, nin = 0, n;
	unsigned int count = 0;
	size_t outlen, inlen, datalen;
	uint16_t i = head;
	uint64_t off;
	uint8_t st;

	for (;;) {
		struct vring_desc dsc;
		void *p;

		memcpy(&dsc, &d->desc[i], sizeof(dsc));
		if (++count > d->num || (dsc.flags & VRING_DESC_F_INDIRECT) ||
		    !dsc.len)
			goto bad;
		p = u_gpa(d, dsc.addr, dsc.len);
		if (!p)
			goto bad;
		if (dsc.flags & VRING_DESC_F_WRITE) {
			if (nin == VHOST_BLK_SEG_MAX + 2)
				goto bad;
			in[nin].iov_base = p;
			in[nin++].iov_len = dsc.len;
		} else {
			/* device-readable after device-writable */
			if (nin || nout == VHOST_BLK_SEG_MAX + 2)
				goto bad;
			out[nout].iov_base = p;
			out[nout++].iov_len = dsc.len;
		}
		if (!(dsc.flags & VRING_DESC_F_NEXT))
			break;
		if (dsc.next >= d->num)
			goto bad;
		i = dsc.next;
	}
	outlen = iov_len(out, nout);
	inlen = iov_len(in, nin);
	if (iov_copy_from(out, nout, &hdr, sizeof(hdr)) || !inlen)
		goto bad;
	/* the status byte is the last device-writable byte */
	in[nin - 1].iov_len--;
	r->status = (uint8_t *)in[nin - 1].iov_base + in[nin - 1].iov_len;
	inlen--;
	r->inlen = 1;
	st = VIRTIO_BLK_S_OK;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		datalen = hdr.type == VIRTIO_BLK_T_IN ? inlen
						      : outlen - sizeof(hdr);
		if (!datalen || datalen % SECT ||
		    hdr.sector > d->capacity / SECT ||
		    datalen > d->capacity - hdr.sector * SECT) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (hdr.type == VIRTIO_BLK_T_IN)
			n = iov_slice(in, nin, 0, datalen, r->iov,
				      VHOST_BLK_SEG_MAX);
		else
			n = iov_slice(out, nout, sizeof(hdr), datalen, r->iov,
				      VHOST_BLK_SEG_MAX);
		if (n < 0) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		off = hdr.sector * SECT;
		r->niov = n;
		r->want = datalen;
		if (hdr.type == VIRTIO_BLK_T_IN)
			r->inlen += datalen;
		sqe = uring_sqe(&d->ring);
		if (!sqe)
			die("io_uring submission queue full");
		sqe->opcode = hdr.type == VIRTIO_BLK_T_IN ? IORING_OP_READV
							   : IORING_OP_WRITEV;
		sqe->fd = d->backend;
		sqe->addr = (uintptr_t)r->iov;
		sqe->len = n;
		sqe->off = off;
		sqe->user_data = head;
		return;
	case VIRTIO_BLK_T_FLUSH:
		sqe = uring_sqe(&d->ring);
		if (!sqe)
			die("io_uring submission queue full");
		r->want = 0;
		sqe->opcode = IORING_OP_FSYNC;
		sqe->fd = d->backend;
		sqe->user_data = head;
		return;
	case VIRTIO_BLK_T_GET_ID: {
		static const char id[VIRTIO_BLK_ID_BYTES] = "kvmio-uring";
		struct iovec v[VHOST_BLK_SEG_MAX + 2];
		size_t c = inlen < sizeof(id) ? inlen : sizeof(id);
		const char *s = id;
		int k;

		n = iov_slice(in, nin, 0, c, v, VHOST_BLK_SEG_MAX + 2);
		for (k = 0; k < n; k++) {
			memcpy(v[k].iov_base, s, v[k].iov_len);
			s += v[k].iov_len;
		}
		r->inlen += c;
		break;
	}
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*r->status = st;
	u_used(d, head, r->inlen);
	return;
bad:
	d->bad++;
	u_used(d, head, 0);
}

/* Pop every available chain; with EVENT_IDX ask for a kick past them. */
static int u_drain_avail(struct udev *d)
{
	uint16_t avail;

	for (;;) {
		avail = __atomic_load_n(&d->avail->idx, __ATOMIC_ACQUIRE);
		if ((uint16_t)(avail - d->last_avail) > d->num)
			return -1;	/* the driver broke the ring */
		while (d->last_avail != avail) {
			uint16_t head = d->avail->ring[d->last_avail &
						       (d->num - 1)];

			d->last_avail++;
			if (head >= d->num)
				return -1;
			u_request(d, head);
		}
		if (!d->event_idx)
			return 0;
		__atomic_store_n((uint16_t *)&d->used->ring[d->num],
				 d->last_avail, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&d->avail->idx, __ATOMIC_ACQUIRE) == avail)
			return 0;
	}
}

/*
 * The device's loop.  Idle (nothing in flight), it sleeps in read() on the
 * kick eventfd; with I/O in flight, it sleeps in io_uring_enter() for
 * completions and looks at the avail ring after every batch of them, so a
 * kick that came meanwhile (still counted in the eventfd) costs no extra
 * wake-up.  Kicks are never lost: the eventfd keeps them until read.
 */
static void *u_thread(void *arg)
{
	struct udev *d = arg;
	unsigned int inflight = 0;

	d->mem = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->memfd, 0);
	if (d->mem == MAP_FAILED)
		die("device mmap: %s", strerror(errno));
	d->desc = u_gpa(d, d->desc_gpa, 16UL * d->num);
	d->avail = u_gpa(d, d->avail_gpa, 6 + 2UL * d->num);
	d->used = u_gpa(d, d->used_gpa, 6 + 8UL * d->num);
	if (!d->desc || !d->avail || !d->used)
		die("ring outside guest memory");
	for (;;) {
		uint32_t head, tail;

		if (!inflight) {
			if (read(d->kick, &d->kick_val, sizeof(d->kick_val)) !=
			    sizeof(d->kick_val))
				die("read kick eventfd: %s", strerror(errno));
			d->kicks++;
			if (d->stop)
				break;
		} else if (uring_enter(&d->ring, 1)) {
			die("io_uring_enter: %s", strerror(errno));
		}
		head = *d->ring.cq_head;
		tail = __atomic_load_n(d->ring.cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct io_uring_cqe *c =
				&d->ring.cqes[head & *d->ring.cq_mask];
			struct ureq *r = &d->req[c->user_data];

			*r->status = c->res >= 0 && (uint32_t)c->res == r->want ?
				     VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
			u_used(d, c->user_data, r->inlen);
			inflight--;
		}
		__atomic_store_n(d->ring.cq_head, head, __ATOMIC_RELEASE);
		u_flush_used(d);
		if (u_drain_avail(d))
			die("the driver broke the ring");
		/* queued I/O is submitted by the io_uring_enter() above */
		inflight += d->ring.to_submit;
		u_flush_used(d);	/* requests refused at once */
	}
	munmap(d->mem, d->size);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the driver                                                         */

struct bench {
	const char *target, *path, *name;
	int backend;		/* the backend, opened for the device */
	bool direct, event_idx;
	uint64_t capacity;
	int memfd;
	uint8_t *mem;
	struct vqd q;
	int kick, call;
	int vhost;
	struct udev *ud;
	pthread_t thr;
};

struct slot {
	struct virtio_blk_outhdr *hdr;
	uint8_t *status;
	uint8_t *data;
	uint64_t lba;
};

static struct slot slots[QNUM];

static int open_backend(const char *path, const char *mode, bool *direct)
{
	int fd = -1;

	if (strcmp(mode, "off")) {
		fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd < 0 && (errno != EINVAL || !strcmp(mode, "on")))
			die("open %s O_DIRECT: %s", path, strerror(errno));
	}
	*direct = fd >= 0;
	if (fd < 0)
		fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static uint64_t backend_size(int fd)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st))
		die("fstat: %s", strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			die("BLKGETSIZE64: %s", strerror(errno));
		return sz;
	}
	return st.st_size;
}

static void setup_vhost(struct bench *b)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mt;
	struct vhost_vring_state s = { .index = 0, .num = QNUM };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1, offered;

	b->vhost = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
	if (b->vhost < 0)
		die("open /dev/vhost-blk: %s", strerror(errno));
	if (ioctl(b->vhost, VHOST_SET_OWNER))
		die("SET_OWNER: %s", strerror(errno));
	if (ioctl(b->vhost, VHOST_GET_FEATURES, &offered))
		die("GET_FEATURES: %s", strerror(errno));
	if (b->event_idx)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if ((features & offered) != features)
		die("features %llx not offered (%llx)",
		    (unsigned long long)features, (unsigned long long)offered);
	if (ioctl(b->vhost, VHOST_SET_FEATURES, &features))
		die("SET_FEATURES: %s", strerror(errno));
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 1;
	mt.r[0].guest_phys_addr = GPA_BASE;
	mt.r[0].memory_size = GMEM_SIZE;
	mt.r[0].userspace_addr = (uintptr_t)b->mem;
	if (ioctl(b->vhost, VHOST_SET_MEM_TABLE, &mt))
		die("SET_MEM_TABLE: %s", strerror(errno));
	if (ioctl(b->vhost, VHOST_SET_VRING_NUM, &s))
		die("SET_VRING_NUM: %s", strerror(errno));
	a.desc_user_addr = (uintptr_t)b->q.desc;
	a.avail_user_addr = (uintptr_t)b->q.avail;
	a.used_user_addr = (uintptr_t)b->q.used;
	if (ioctl(b->vhost, VHOST_SET_VRING_ADDR, &a))
		die("SET_VRING_ADDR: %s", strerror(errno));
	s.num = 0;
	if (ioctl(b->vhost, VHOST_SET_VRING_BASE, &s))
		die("SET_VRING_BASE: %s", strerror(errno));
	f.fd = b->kick;
	if (ioctl(b->vhost, VHOST_SET_VRING_KICK, &f))
		die("SET_VRING_KICK: %s", strerror(errno));
	f.fd = b->call;
	if (ioctl(b->vhost, VHOST_SET_VRING_CALL, &f))
		die("SET_VRING_CALL: %s", strerror(errno));
	f.fd = b->backend;
	if (ioctl(b->vhost, VHOST_BLK_SET_BACKEND, &f))
		die("SET_BACKEND: %s", strerror(errno));
}

/* vhost_blk's busy-polling knob of our device, /sys/kernel/vhost_blk/<pid>-<n>/ */
static void set_poll_budget(int us)
{
	char pat[64];
	glob_t g;
	FILE *f;

	snprintf(pat, sizeof(pat), "/sys/kernel/vhost_blk/%d-*/poll_budget_us", getpid());
	if (glob(pat, 0, NULL, &g) || g.gl_pathc != 1)
		die("%s: not exactly one device", pat);
	f = fopen(g.gl_pathv[0], "w");
	if (!f || fprintf(f, "%d\n", us) < 0 || fclose(f))
		die("%s: %s", g.gl_pathv[0], strerror(errno));
	globfree(&g);
}

static void setup_uring(struct bench *b)
{
	struct udev *d = calloc(1, sizeof(*d));

	if (!d)
		die("out of memory");
	d->memfd = b->memfd;
	d->gpa = GPA_BASE;
	d->size = GMEM_SIZE;
	d->desc_gpa = vqd_gpa(&b->q, b->q.desc);
	d->avail_gpa = vqd_gpa(&b->q, b->q.avail);
	d->used_gpa = vqd_gpa(&b->q, b->q.used);
	d->num = QNUM;
	d->event_idx = b->event_idx;
	d->kick = b->kick;
	d->call = b->call;
	d->backend = b->backend;
	d->capacity = b->capacity;
	if (uring_init(&d->ring, 2 * QNUM))
		die("io_uring_setup: %s", strerror(errno));
	b->ud = d;
	if (pthread_create(&b->thr, NULL, u_thread, d))
		die("pthread_create failed");
}

static void teardown(struct bench *b)
{
	uint64_t one = 1;

	if (b->ud) {
		b->ud->stop = true;
		if (write(b->kick, &one, sizeof(one)) != sizeof(one))
			die("kick: %s", strerror(errno));
		pthread_join(b->thr, NULL);
		if (b->ud->bad)
			die("the device saw %lu malformed chains", b->ud->bad);
	}
	if (b->vhost >= 0)
		close(b->vhost);
}

static void submit(struct bench *b, struct slot *s, uint32_t type,
		   uint64_t lba)
{
	s->hdr->type = type;
	s->hdr->ioprio = 0;
	s->hdr->sector = lba * (BS / SECT);
	*s->status = 0xff;
	s->lba = lba;
	if (vqd_add_blk(&b->q, s->hdr, s->data,
			type == VIRTIO_BLK_T_FLUSH ? 0 : BS, s->status, s) < 0)
		die("ring full");
}

static void kick(struct bench *b)
{
	uint64_t one = 1;

	vqd_publish(&b->q);
	if (vqd_kick_needed(&b->q) &&
	    write(b->kick, &one, sizeof(one)) != sizeof(one))
		die("kick: %s", strerror(errno));
}

/* Reap at least one completion; returns how many, each checked OK. */
static int reap(struct bench *b, struct slot **done, int max)
{
	struct pollfd p = { .fd = b->call, .events = POLLIN };
	uint64_t v;
	int n = 0, h;
	void *c;

	for (;;) {
		while (n < max && (h = vqd_pop_used(&b->q, &c, NULL)) >= 0) {
			struct slot *s = c;

			if (*s->status != VIRTIO_BLK_S_OK)
				die("request on lba %llu: status %u",
				    (unsigned long long)s->lba, *s->status);
			done[n++] = s;
		}
		if (h == -2)
			die("the device returned a bad head");
		if (n)
			return n;
		if (vqd_enable_cb(&b->q))
			continue;
		if (poll(&p, 1, WAIT_MS) != 1)
			die("no completion in %d ms", WAIT_MS);
		if (read(b->call, &v, sizeof(v)) < 0 && errno != EAGAIN)
			die("read call eventfd: %s", strerror(errno));
	}
}

static void fill(uint8_t *buf, uint64_t lba, uint64_t seed)
{
	uint64_t *w = (uint64_t *)buf;
	unsigned int i;

	for (i = 0; i < BS / 8; i++)
		w[i] = (lba << 20 | i) ^ seed;
}

static int verify(struct bench *b)
{
	uint64_t blocks = b->capacity / BS, seed = (uint64_t)time(NULL) << 32;
	uint64_t lbas[VERIFY_N];
	struct slot *done[QNUM];
	uint8_t *want, *got;
	int i, k, n, bad = 0, ck;

	if (posix_memalign((void **)&want, BS, BS) ||
	    posix_memalign((void **)&got, BS, BS))
		die("out of memory");
	ck = open(b->path, O_RDONLY | O_CLOEXEC);
	if (ck < 0)
		die("open %s: %s", b->path, strerror(errno));
	for (i = 0; i < VERIFY_N; i++)
		lbas[i] = (uint64_t)i * (blocks / VERIFY_N) + kt_rnd() %
			  (blocks / VERIFY_N);
	/* write in two batches of 32, then flush */
	for (k = 0; k < VERIFY_N; k += 32) {
		for (i = 0; i < 32; i++) {
			fill(slots[i].data, lbas[k + i], seed);
			submit(b, &slots[i], VIRTIO_BLK_T_OUT, lbas[k + i]);
		}
		kick(b);
		for (n = 0; n < 32; n += reap(b, done, QNUM))
			;
	}
	submit(b, &slots[0], VIRTIO_BLK_T_FLUSH, 0);
	kick(b);
	reap(b, done, QNUM);
	/* read back through the ring into cleared buffers */
	for (k = 0; k < VERIFY_N; k += 32) {
		for (i = 0; i < 32; i++) {
			memset(slots[i].data, 0, BS);
			submit(b, &slots[i], VIRTIO_BLK_T_IN, lbas[k + i]);
		}
		kick(b);
		for (n = 0; n < 32; n += reap(b, done, QNUM))
			;
		for (i = 0; i < 32; i++) {
			fill(want, lbas[k + i], seed);
			if (memcmp(slots[i].data, want, BS)) {
				fprintf(stderr, "%s: lba %llu read back wrong\n",
					prog, (unsigned long long)lbas[k + i]);
				bad++;
			}
			if (pread(ck, got, BS, lbas[k + i] * BS) != BS ||
			    memcmp(got, want, BS)) {
				fprintf(stderr, "%s: lba %llu wrong on the backend\n",
					prog, (unsigned long long)lbas[k + i]);
				bad++;
			}
		}
	}
	close(ck);
	free(want);
	free(got);
	return bad ? -1 : 0;
}

static uint64_t run(struct bench *b, bool write, int qd, int secs,
		    double *elapsed)
{
	uint32_t type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t blocks = b->capacity / BS, count = 0;
	struct slot *done[QNUM];
	int i, n, inflight;
	double t0, end;

	for (i = 0; i < qd; i++)
		memset(slots[i].data, 0x5a, BS);
	t0 = kt_now();
	end = t0 + secs;
	for (i = 0; i < qd; i++)
		submit(b, &slots[i], type, kt_rnd() % blocks);
	kick(b);
	inflight = qd;
	while (inflight) {
		n = reap(b, done, QNUM);
		inflight -= n;
		count += n;
		if (kt_now() < end) {
			for (i = 0; i < n; i++)
				submit(b, done[i], type, kt_rnd() % blocks);
			kick(b);
			inflight += n;
		}
	}
	*elapsed = kt_now() - t0;
	return count;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --target vhost|uring --backend PATH [--name NAME]\n"
		"       [--direct auto|on|off] [--event-idx] [--poll-us N]\n"
		"       (--rw read|write --qd N --seconds S | --verify)\n"
		"       %s --probe PATH\n", prog, prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "backend", required_argument, NULL, 'b' },
		{ "name", required_argument, NULL, 'n' },
		{ "direct", required_argument, NULL, 'd' },
		{ "event-idx", no_argument, NULL, 'e' },
		{ "rw", required_argument, NULL, 'r' },
		{ "qd", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "verify", no_argument, NULL, 'v' },
		{ "probe", required_argument, NULL, 'p' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ }
	};
	struct bench b = { .vhost = -1 };
	const char *rw = NULL, *direct = "auto";
	int c, qd = 0, secs = 0, i, poll_us = 0;
	bool do_verify = false;
	uint64_t count;
	double el;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': b.target = optarg; break;
		case 'b': b.path = optarg; break;
		case 'n': b.name = optarg; break;
		case 'd': direct = optarg; break;
		case 'e': b.event_idx = true; break;
		case 'r': rw = optarg; break;
		case 'q': qd = atoi(optarg); break;
		case 's': secs = atoi(optarg); break;
		case 'v': do_verify = true; break;
		case 'P': poll_us = atoi(optarg); break;
		case 'p':
			close(open_backend(optarg, "auto", &b.direct));
			printf("%s\n", b.direct ? "direct" : "buffered");
			return 0;
		default: usage();
		}
	}
	if (!b.target || !b.path || (strcmp(b.target, "vhost") &&
				     strcmp(b.target, "uring")))
		usage();
	if (strcmp(direct, "auto") && strcmp(direct, "on") &&
	    strcmp(direct, "off"))
		usage();
	if (!do_verify && (!rw || (strcmp(rw, "read") && strcmp(rw, "write")) ||
			   qd < 1 || qd > MAXQD || secs < 1))
		usage();
	if (!b.name)
		b.name = b.path;

	b.backend = open_backend(b.path, direct, &b.direct);
	b.capacity = backend_size(b.backend) & ~(uint64_t)(BS - 1);
	if (b.capacity < (uint64_t)VERIFY_N * 2 * BS)
		die("%s: too small", b.path);
	b.memfd = memfd_create("vblk-guest", MFD_CLOEXEC);
	if (b.memfd < 0 || ftruncate(b.memfd, GMEM_SIZE))
		die("memfd: %s", strerror(errno));
	b.mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_POPULATE, b.memfd, 0);
	if (b.mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (vqd_init(&b.q, b.mem, GPA_BASE, GMEM_SIZE, 0, QNUM, b.event_idx))
		die("ring does not fit");
	for (i = 0; i < QNUM; i++) {
		slots[i].hdr = (void *)(b.mem + HDR_OFF + i * SLOT_HDR);
		slots[i].status = (uint8_t *)slots[i].hdr +
				  sizeof(struct virtio_blk_outhdr);
		slots[i].data = b.mem + DATA_OFF + (size_t)i * BS;
	}
	/* blocking kick: the userspace device reads it through io_uring */
	b.kick = eventfd(0, EFD_CLOEXEC);
	b.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b.kick < 0 || b.call < 0)
		die("eventfd: %s", strerror(errno));

	if (!strcmp(b.target, "vhost")) {
		setup_vhost(&b);
		if (poll_us) {
			set_poll_budget(poll_us);
			b.target = "vhost-poll";
		}
	} else {
		setup_uring(&b);
	}

	if (do_verify) {
		int r = verify(&b);

		teardown(&b);
		printf("BENCH-VERIFY %s %s %s\n", b.target, b.name,
		       r ? "FAIL" : "ok");
		return r ? 1 : 0;
	}
	count = run(&b, !strcmp(rw, "write"), qd, secs, &el);
	teardown(&b);
	printf("BENCH driver %s %s %s qd=%d iops=%.0f\n", b.target, b.name, rw,
	       qd, count / el);
	return 0;
}
