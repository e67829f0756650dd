// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio blk-serve: a vhost-user-blk server that hands the data path to
 * /dev/vhost-blk.
 *
 * QEMU has no vhost-kernel block device, but it speaks vhost-user-blk
 * (-chardev socket,path=S -device vhost-user-blk-pci,chardev=...).  This
 * server answers that protocol: it maps the guest memory regions QEMU
 * sends (memory-backend-memfd,share=on), gives /dev/vhost-blk a memory
 * table of those mappings, translates the ring addresses into them, and
 * passes QEMU's own kick and call eventfds to the kernel.  From then on
 * guest requests go guest -> KVM -> kick eventfd -> vhost_blk -> backend
 * and back through the call eventfd: never through this process.
 *
 * One connection at a time; each connection is a fresh /dev/vhost-blk
 * device.  When QEMU disconnects, the device is closed (the kernel drains
 * it) and the server waits for the next connection, unless --once.
 *
 * As a service (tools/systemd/kvmio-blk@.service): options from a file
 * (--config), the socket's owner, group and mode for libvirt's QEMU user,
 * a pid file, and readiness sent to systemd (NOTIFY_SOCKET, READY=1) once
 * the socket listens.  SIGTERM and SIGINT are blocked except while the
 * server waits (ppoll), so they end it between messages: the started
 * rings are stopped, their requests in flight completed into the used
 * rings (drain_rings(), which prints what each ring took and used), the
 * device is closed, the socket and pid file are removed, and it exits 0.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/fs.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/vhost_blk.h>

#include "kvmio.h"
#include "blk_bridge_log.h"

/* vhost-user protocol (docs/interop/vhost-user.rst in QEMU). */
enum {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,	/* "SET_SLAVE_REQ_FD" in QEMU 7.2 */
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
};

/* Requests of the backend channel (backend to front end). */
enum {
	VU_BACKEND_CONFIG_CHANGE_MSG = 2,
};

#define VU_VERSION_MASK		0x3
#define VU_VERSION		0x1
#define VU_REPLY		0x4
#define VU_NEED_REPLY		0x8
#define VU_F_PROTOCOL_FEATURES	30
#define VU_PF_MQ		0
#define VU_PF_LOG_SHMFD		1
#define VU_PF_REPLY_ACK		3
#define VU_PF_BACKEND_REQ	5	/* "SLAVE_REQ" in QEMU 7.2 */
#define VU_PF_CONFIG		9
#define VU_PF_CONFIGURE_MEM_SLOTS 15
/* regions in one SET_MEM_TABLE (QEMU's VHOST_MEMORY_BASELINE_NREGIONS) */
#define VU_MAX_REGIONS		8
/*
 * Regions the bridge holds, the answer to GET_MAX_MEM_SLOTS: the most
 * /dev/vhost-blk takes in one VHOST_SET_MEM_TABLE.  A QEMU guest has a few
 * regions of its own RAM (with one memfd backend: one or two), then one per
 * pc-dimm; QEMU refuses a DIMM that would need more.
 */
#define VU_MAX_MEM_SLOTS	VHOST_BLK_MAX_MEM_REGIONS
#define VU_MAX_FDS		8
#define VU_VRING_NOFD		(1ULL << 8)
#define VU_VRING_IDX_MASK	0xffULL
#define VU_CONFIG_HDR_SIZE	12
#define VU_MAX_RING		32768

/*
 * What the bridge offers is what it implements.  Device features: those
 * of the kernel's that need nothing of the bridge beyond passing ring
 * addresses, eventfds and ring bases through, and VHOST_F_LOG_ALL (live
 * migration: the dirty log of SET_LOG_BASE, blk_bridge_log.c).  Protocol
 * features: MQ (GET_QUEUE_NUM), LOG_SHMFD (SET_LOG_BASE with the log's
 * file, SET_LOG_FD), REPLY_ACK (the acks in serve_connection()), CONFIG
 * (GET_CONFIG, SET_CONFIG), CONFIGURE_MEM_SLOTS (GET_MAX_MEM_SLOTS,
 * ADD_MEM_REG, REM_MEM_REG: QEMU then sends the memory table region by
 * region, at start and on memory hot-plug, instead of SET_MEM_TABLE) and
 * BACKEND_REQ (the backend channel, for CONFIG_CHANGE_MSG on a resize).
 */
#define VU_DEVICE_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |		\
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) |	\
				 (1ULL << VIRTIO_F_RING_PACKED) |	\
				 (1ULL << VIRTIO_BLK_F_SEG_MAX) |	\
				 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |	\
				 (1ULL << VIRTIO_BLK_F_RO) |		\
				 (1ULL << VIRTIO_BLK_F_FLUSH) |		\
				 (1ULL << VIRTIO_BLK_F_MQ) |		\
				 (1ULL << VIRTIO_BLK_F_DISCARD) |	\
				 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |	\
				 (1ULL << VHOST_F_LOG_ALL))
#define VU_PROTOCOL_FEATURES	((1ULL << VU_PF_MQ) | (1ULL << VU_PF_LOG_SHMFD) | \
				 (1ULL << VU_PF_REPLY_ACK) |		\
				 (1ULL << VU_PF_CONFIG) |		\
				 (1ULL << VU_PF_CONFIGURE_MEM_SLOTS) |	\
				 (1ULL << VU_PF_BACKEND_REQ))

struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t qemu_va;
	uint64_t mmap_offset;
};

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

/* The header, then the payload (they are contiguous on the wire). */
struct vu_msg {
	struct vu_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct {
			uint64_t size;		/* bytes of bitmap */
			uint64_t offset;	/* where it starts in the file */
		} log;
		struct {
			uint32_t nregions;
			uint32_t padding;
			struct vu_region regions[VU_MAX_REGIONS];
		} mem;
		struct {		/* ADD_MEM_REG, REM_MEM_REG */
			uint64_t padding;
			struct vu_region region;
		} memreg;
		struct {
			uint32_t offset;
			uint32_t size;
			uint32_t flags;
			uint8_t region[256];
		} config;
	} p;
};

#define VU_HDR_SIZE	sizeof(struct vu_hdr)
#define VU_MEM_HDR_SIZE	8	/* nregions, padding */
#define VU_MEMREG_SIZE	(8 + sizeof(struct vu_region))

struct bridge_map {
	void *base;		/* our mapping of the region's fd */
	size_t len;
	uint64_t gpa, size, qemu_va;
	uint8_t *va;		/* where guest memory starts in our mapping */
};

/* What the bridge knows of one ring. */
struct bridge_ring {
	unsigned int num;	/* SET_VRING_NUM, 0: not yet */
	int addr_set;		/* desc/avail/used are valid */
	uint64_t desc, avail, used;	/* QEMU's addresses of the ring */
	unsigned int flags;	/* SET_VRING_ADDR's (VHOST_VRING_F_LOG), recorded */
	int kick;		/* QEMU's kick eventfd: the kernel's ring is started */
	int enabled;		/* SET_VRING_ENABLE, recorded only */
};

struct bridge {
	const char *backend_path;
	int backend;
	int readonly;
	const char *serial;
	unsigned int queues;
	int vhost;		/* /dev/vhost-blk of the current connection */
	uint64_t features;	/* SET_FEATURES, without VU_F_PROTOCOL_FEATURES */
	uint64_t protocol;	/* SET_PROTOCOL_FEATURES */
	struct bridge_map maps[VU_MAX_MEM_SLOTS];	/* the kernel's table */
	unsigned int nmaps;
	struct bridge_log log;	/* SET_LOG_BASE's dirty log, if any */
	struct bridge_ring rings[VHOST_BLK_NUM_QUEUES];
	int verbose;
	int poll_us;		/* poll_budget_us of each device, -1: leave it */
	/* I/O limits (--iops..., --bps..., --burst-..., --group) */
	struct vhost_blk_limits limits;
	int have_limits;
	/* the backend's range (--offset, --length) and --weight */
	uint64_t offset, length;
	uint32_t weight;
	int have_range;
	/* online resize: QEMU's backend channel, -1: none; the size last seen */
	int backend_req;
	uint64_t backend_size;
};

static void logmsg(struct bridge *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void logmsg(struct bridge *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "kvmio blk-serve: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void close_fds(int *fds, int nfds)
{
	int i;

	for (i = 0; i < nfds; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

static void unmap_maps(struct bridge_map *maps, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(maps[i].base, maps[i].len);
}

static void unmap_all(struct bridge *b)
{
	unmap_maps(b->maps, b->nmaps);
	b->nmaps = 0;
}

/* QEMU's virtual address -> ours, for a range of @len bytes in one region. */
static uint64_t qva_to_ours(const struct bridge_map *maps, unsigned int n,
			    uint64_t qva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct bridge_map *m = &maps[i];

		if (qva >= m->qemu_va && qva - m->qemu_va < m->size &&
		    len <= m->size - (qva - m->qemu_va))
			return (uint64_t)(uintptr_t)(m->va + (qva - m->qemu_va));
	}
	return 0;
}

/*
 * The kernel's addresses of ring @idx in the mappings @maps: each part of
 * the ring, whole (its size from the ring's num, or one entry before
 * SET_VRING_NUM), inside one region and aligned as the virtio
 * specification says.  0, or -EINVAL.
 */
static int ring_translate(struct bridge *b, const struct bridge_map *maps,
			  unsigned int n, unsigned int idx,
			  struct vhost_vring_addr *a)
{
	const struct bridge_ring *r = &b->rings[idx];
	int packed = !!(b->features & (1ULL << VIRTIO_F_RING_PACKED));
	uint64_t num = r->num ? r->num : 1;

	memset(a, 0, sizeof(*a));
	a->index = idx;
	a->desc_user_addr = qva_to_ours(maps, n, r->desc, 16 * num);
	a->avail_user_addr = qva_to_ours(maps, n, r->avail, packed ? 4 : 6 + 2 * num);
	a->used_user_addr = qva_to_ours(maps, n, r->used, packed ? 4 : 6 + 8 * num);
	if (!a->desc_user_addr || !a->avail_user_addr || !a->used_user_addr)
		return -EINVAL;
	if ((a->desc_user_addr & 15) || (a->avail_user_addr & (packed ? 3 : 1)) ||
	    (a->used_user_addr & 3))
		return -EINVAL;
	return 0;
}

/*
 * Take the descriptors of one SCM_RIGHTS message: into @fds while there is
 * room and it is the message's first batch, otherwise closed at once.
 * Returns 0, or -EBADMSG if any had to be closed.
 */
static int take_fds(struct cmsghdr *c, int *fds, int *nfds, int *batches)
{
	size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
	int first = (*batches)++ == 0, ret = 0, fd;

	for (i = 0; i < k; i++) {
		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
		if (first && *nfds < VU_MAX_FDS) {
			fds[(*nfds)++] = fd;
		} else {
			close(fd);
			ret = -EBADMSG;
		}
	}
	return first ? ret : -EBADMSG;
}

/* Set by SIGTERM or SIGINT, which are delivered only inside wait_readable(). */
static volatile sig_atomic_t stop_signal;
static sigset_t wait_mask;	/* the mask while waiting: those two unblocked */

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* Wait until @fd is readable: 0, or -ECANCELED once asked to stop. */
static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (stop_signal)
			return -ECANCELED;
		if (ppoll(&p, 1, NULL, &wait_mask) > 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/*
 * Read exactly @len bytes (a message arrives in as many pieces as the
 * sender likes), taking the descriptors that come with them.  Returns
 * @len, 0 at end of file before the first byte, or an error: -EPROTO end of
 * file inside, -EBADMSG descriptors the protocol does not allow (a second
 * batch, more than VU_MAX_FDS, truncated control data), -errno.  The bytes
 * are read to the end even after -EBADMSG, and the descriptors taken are
 * the caller's to close.
 */
static ssize_t recv_bytes(int sock, void *buf, size_t len, int *fds, int *nfds,
			  int *batches)
{
	char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	size_t got = 0;
	int bad = 0;

	while (got < len) {
		struct iovec iov = { .iov_base = (char *)buf + got, .iov_len = len - got };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control),
		};
		struct cmsghdr *c;
		ssize_t n;
		int err = wait_readable(sock);

		if (err)
			return err;
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				if (take_fds(c, fds, nfds, batches))
					bad = 1;
			} else {
				bad = 1;
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			bad = 1;	/* the kernel closed what did not fit */
		if (n == 0)
			return got ? -EPROTO : 0;
		got += n;
	}
	return bad ? -EBADMSG : (ssize_t)len;
}

/*
 * One message: 1, 0 at end of file between messages, or an error (the
 * connection is then closed: the stream cannot be trusted any more).  On
 * anything but 1 every descriptor received is closed; on 1 they are in
 * @fds, the caller's to keep or close.
 */
static int recv_msg(int sock, struct vu_msg *msg, int *fds, int *nfds)
{
	int batches = 0;
	ssize_t n;

	*nfds = 0;
	n = recv_bytes(sock, &msg->hdr, VU_HDR_SIZE, fds, nfds, &batches);
	if (n <= 0)
		goto err;
	if (msg->hdr.size > sizeof(msg->p)) {
		n = -EMSGSIZE;
		goto err;
	}
	memset(&msg->p, 0, sizeof(msg->p));
	if (msg->hdr.size) {
		n = recv_bytes(sock, &msg->p, msg->hdr.size, fds, nfds, &batches);
		if (n == 0)
			n = -EPROTO;
		if (n < 0)
			goto err;
	}
	return 1;
err:
	close_fds(fds, *nfds);
	*nfds = 0;
	return n;
}

/* Requests answered with a message of their own (no REPLY_ACK ack). */
static int has_reply(const struct bridge *b, uint32_t request)
{
	switch (request) {
	case VU_SET_LOG_BASE:
		/* QEMU reads a reply when LOG_SHMFD is negotiated */
		return !!(b->protocol & (1ULL << VU_PF_LOG_SHMFD));
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_VRING_BASE:
	case VU_GET_QUEUE_NUM:
	case VU_GET_CONFIG:
	case VU_GET_MAX_MEM_SLOTS:
		return 1;
	}
	return 0;
}

/* SIGHUP: look at the backend's size now (delivered only while waiting). */
static volatile sig_atomic_t resize_signal;

static void on_hup(int sig)
{
	resize_signal = sig;
}

/*
 * The header against its request: the version, a payload of exactly the
 * request's size, and exactly the descriptors it takes.  0, or -EINVAL
 * with *@why set.
 */
static int check_msg(const struct vu_msg *msg, int nfds, const char **why)
{
	uint32_t size = msg->hdr.size;
	int want = 0, ok;

	if ((msg->hdr.flags & VU_VERSION_MASK) != VU_VERSION) {
		*why = "unknown protocol version";
		return -EINVAL;
	}
	switch (msg->hdr.request) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_GET_MAX_MEM_SLOTS:
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
		ok = size == 0;
		break;
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		ok = size == sizeof(msg->p.u64);
		break;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		ok = size == sizeof(msg->p.u64);
		want = msg->p.u64 & VU_VRING_NOFD ? 0 : 1;
		break;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		ok = size == sizeof(msg->p.state);
		break;
	case VU_SET_VRING_ADDR:
		ok = size == sizeof(msg->p.addr);
		break;
	case VU_SET_LOG_BASE:
		ok = size == sizeof(msg->p.log);
		want = 1;
		break;
	case VU_SET_LOG_FD:
		ok = size == 0 || size == sizeof(msg->p.u64);
		want = 1;
		break;
	case VU_SET_MEM_TABLE:
		ok = size >= VU_MEM_HDR_SIZE && msg->p.mem.nregions <= VU_MAX_REGIONS &&
		     size == VU_MEM_HDR_SIZE + msg->p.mem.nregions * sizeof(struct vu_region);
		want = ok ? (int)msg->p.mem.nregions : 0;
		break;
	case VU_ADD_MEM_REG:
		ok = size == VU_MEMREG_SIZE;
		want = 1;
		break;
	case VU_REM_MEM_REG:
		/* no fd, or (QEMU 7.2) the region's, which is closed */
		ok = size == VU_MEMREG_SIZE;
		want = nfds ? 1 : 0;
		break;
	case VU_SET_BACKEND_REQ_FD:
		ok = size == 0;
		want = 1;
		break;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		ok = size >= VU_CONFIG_HDR_SIZE &&
		     msg->p.config.size <= sizeof(msg->p.config.region) &&
		     size == VU_CONFIG_HDR_SIZE + msg->p.config.size;
		break;
	default:
		ok = 1;		/* refused as unsupported */
		break;
	}
	if (!ok) {
		*why = "payload size does not match the request";
		return -EINVAL;
	}
	if (nfds != want) {
		*why = "wrong number of file descriptors for the request";
		return -EINVAL;
	}
	return 0;
}

static int send_reply(int sock, struct vu_msg *msg, uint32_t size)
{
	struct iovec iov[2] = {
		{ .iov_base = &msg->hdr, .iov_len = VU_HDR_SIZE },
		{ .iov_base = &msg->p, .iov_len = size },
	};
	ssize_t len = VU_HDR_SIZE + size;

	msg->hdr.flags = VU_VERSION | VU_REPLY;
	msg->hdr.size = size;
	return writev(sock, iov, 2) == len ? 0 : -EIO;
}

static int vhost_ioctl(struct bridge *b, unsigned long req, void *arg, const char *what)
{
	if (ioctl(b->vhost, req, arg) < 0) {
		int err = errno;

		fprintf(stderr, "kvmio blk-serve: %s: %s\n", what, strerror(err));
		return -err;
	}
	return 0;
}

static int set_kick(struct bridge *b, unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return vhost_ioctl(b, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK");
}

/* The features the bridge offers: see VU_DEVICE_FEATURES. */
static int offered_features(struct bridge *b, uint64_t *f)
{
	if (vhost_ioctl(b, VHOST_GET_FEATURES, f, "VHOST_GET_FEATURES"))
		return -EIO;
	*f = (*f & VU_DEVICE_FEATURES) | (1ULL << VU_F_PROTOCOL_FEATURES);
	return 0;
}

/* Map one region QEMU sent; 0 or -errno. */
static int map_region(struct bridge *b, unsigned int i, const struct vu_region *r,
		      int fd, struct bridge_map *m)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off, end;
	struct stat st;
	int ret;

	off = r->mmap_offset & ~(page - 1);
	if (!r->size || r->mmap_offset > UINT64_MAX - r->size ||
	    r->gpa > UINT64_MAX - r->size || r->qemu_va > UINT64_MAX - r->size ||
	    r->size + (r->mmap_offset - off) > SIZE_MAX || off > (uint64_t)INT64_MAX)
		goto bad;
	end = r->mmap_offset + r->size;
	/* a region past the end of its file would fault when touched */
	if (fstat(fd, &st) < 0 || (S_ISREG(st.st_mode) && end > (uint64_t)st.st_size))
		goto bad;
	m->len = r->size + (r->mmap_offset - off);
	m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (m->base == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "kvmio blk-serve: cannot map guest memory (%s); QEMU needs -object memory-backend-memfd,share=on\n",
			strerror(errno));
		return ret;
	}
	m->va = (uint8_t *)m->base + (r->mmap_offset - off);
	m->gpa = r->gpa;
	m->size = r->size;
	m->qemu_va = r->qemu_va;
	logmsg(b, "region %u: gpa %#llx size %#llx", i, (unsigned long long)r->gpa,
	       (unsigned long long)r->size);
	return 0;
bad:
	fprintf(stderr, "kvmio blk-serve: memory region %u is invalid\n", i);
	return -EINVAL;
}

/* Attach the kicks of the started rings in @moved again; 0 or -EIO. */
static int reattach_kicks(struct bridge *b, const int *moved)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < b->queues; i++) {
		struct bridge_ring *r = &b->rings[i];

		if (!moved[i] || r->kick < 0 || !set_kick(b, i, r->kick))
			continue;
		close(r->kick);
		r->kick = -1;
		err = -EIO;
	}
	return err;
}

/*
 * Refuse regions of @nm whose guest-physical ranges overlap (a guest
 * address would have two meanings; the kernel refuses them too); only
 * pairs with a member at index >= @first are checked.  QEMU's addresses
 * may overlap: QEMU maps one RAM block at one address, whatever guest
 * addresses it has.  0, or -EINVAL.
 */
static int check_overlap(const struct bridge_map *nm, unsigned int n, unsigned int first)
{
	unsigned int i, j;

	for (j = first; j < n; j++)
		for (i = 0; i < j; i++) {
			const struct bridge_map *a = &nm[i], *c = &nm[j];

			if (a->gpa < c->gpa + c->size && c->gpa < a->gpa + a->size) {
				fprintf(stderr, "kvmio blk-serve: memory region gpa %#llx size %#llx overlaps region gpa %#llx size %#llx\n",
					(unsigned long long)c->gpa, (unsigned long long)c->size,
					(unsigned long long)a->gpa, (unsigned long long)a->size);
				return -EINVAL;
			}
		}
	return 0;
}

static bool map_in(const struct bridge_map *maps, unsigned int n, const void *base)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (maps[i].base == base)
			return true;
	return false;
}

/*
 * Make the @n mappings @nm the memory table, at start-up or while rings
 * run (memory hot-plug).  @nm[@first..@n) are new mappings, the others are
 * ones of b->maps kept at the same address.
 *
 * The kernel uses the old mappings until its table is switched, and a
 * started ring refuses new addresses (EBUSY), so: translate every ring
 * into the new mappings; detach the kicks of the started rings whose
 * addresses change; switch the kernel's table (it drains the requests in
 * flight); give those rings their new addresses; attach the kicks again (a
 * kick that came in between is still counted in the eventfd, and
 * attaching one runs the ring); and only then unmap the old mappings that
 * are not kept.  QEMU does not resend the ring addresses: they are its
 * own, unchanged.  A ring whose translation does not change (a region
 * added or removed elsewhere) keeps running across the switch.
 *
 * Before the switch, a failure unmaps @nm[@first..@n) and changes nothing.
 * After it, @nm is the table: a ring that could not be re-addressed is left
 * stopped and -EIO returned.
 */
static int mem_switch(struct bridge *b, struct bridge_map *nm, unsigned int n,
		      unsigned int first)
{
	struct vhost_vring_addr addr[VHOST_BLK_NUM_QUEUES], cur;
	int moved[VHOST_BLK_NUM_QUEUES] = { 0 };	/* 1: new addresses, 2: none */
	struct vhost_memory *mem;
	unsigned int i;
	int ret, err = 0;

	ret = -ENOMEM;
	mem = calloc(1, sizeof(*mem) + (n ?: 1) * sizeof(mem->regions[0]));
	if (!mem)
		goto unmap_new;
	for (i = 0; i < n; i++) {
		mem->regions[i].guest_phys_addr = nm[i].gpa;
		mem->regions[i].memory_size = nm[i].size;
		mem->regions[i].userspace_addr = (uint64_t)(uintptr_t)nm[i].va;
	}
	mem->nregions = n;

	for (i = 0; i < b->queues; i++) {
		struct bridge_ring *r = &b->rings[i];

		if (!r->addr_set)
			continue;
		if (!ring_translate(b, nm, n, i, &addr[i])) {
			if (ring_translate(b, b->maps, b->nmaps, i, &cur) ||
			    memcmp(&cur, &addr[i], sizeof(cur)))
				moved[i] = 1;
			continue;
		}
		if (r->kick >= 0) {
			fprintf(stderr, "kvmio blk-serve: ring %u is running and lies outside the new memory table\n", i);
			ret = -EBUSY;
			goto free_mem;
		}
		/* stopped: addresses the kernel refuses until QEMU sends new ones */
		memset(&addr[i], 0, sizeof(addr[i]));
		addr[i].index = i;
		moved[i] = 2;
	}

	for (i = 0; i < b->queues; i++)
		if (moved[i] && b->rings[i].kick >= 0)
			set_kick(b, i, -1);
	ret = vhost_ioctl(b, VHOST_SET_MEM_TABLE, mem, "VHOST_SET_MEM_TABLE");
	if (ret) {
		reattach_kicks(b, moved);
		goto free_mem;
	}
	for (i = 0; i < b->queues; i++) {
		struct bridge_ring *r = &b->rings[i];

		if (!moved[i])
			continue;
		if (!vhost_ioctl(b, VHOST_SET_VRING_ADDR, &addr[i], "VHOST_SET_VRING_ADDR")) {
			if (moved[i] == 2)
				r->addr_set = 0;
			continue;
		}
		/* left stopped: it cannot run at the old addresses */
		if (r->kick >= 0) {
			close(r->kick);
			r->kick = -1;
		}
		r->addr_set = 0;
		err = -EIO;
	}
	if (reattach_kicks(b, moved))
		err = -EIO;
	for (i = 0; i < b->nmaps; i++)
		if (!map_in(nm, n, b->maps[i].base))
			munmap(b->maps[i].base, b->maps[i].len);
	memmove(b->maps, nm, n * sizeof(nm[0]));
	b->nmaps = n;
	free(mem);
	return err;

free_mem:
	free(mem);
unmap_new:
	unmap_maps(nm + first, n - first);
	return ret;
}

/* SET_MEM_TABLE: a whole new table (up to VU_MAX_REGIONS regions). */
static int do_mem_table(struct bridge *b, struct vu_msg *msg, int *fds)
{
	unsigned int n = msg->p.mem.nregions, mapped = 0, i;
	struct bridge_map nm[VU_MAX_REGIONS];
	int ret;

	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		ret = map_region(b, i, &msg->p.mem.regions[i], fds[i], &nm[i]);
		if (ret)
			goto unmap_new;
		mapped++;
	}
	ret = check_overlap(nm, n, 1);
	if (ret)
		goto unmap_new;
	return mem_switch(b, nm, n, 0);

unmap_new:
	unmap_maps(nm, mapped);
	return ret;
}

/*
 * ADD_MEM_REG (CONFIGURE_MEM_SLOTS): one more region, its fd in @fds[0].
 * The regions already in the table keep their mappings.
 */
static int do_add_mem_reg(struct bridge *b, struct vu_msg *msg, int *fds)
{
	const struct vu_region *r = &msg->p.memreg.region;
	struct bridge_map nm[VU_MAX_MEM_SLOTS];
	unsigned int n = b->nmaps;
	int ret;

	if (!(b->protocol & (1ULL << VU_PF_CONFIGURE_MEM_SLOTS))) {
		fprintf(stderr, "kvmio blk-serve: ADD_MEM_REG without CONFIGURE_MEM_SLOTS\n");
		return -EPROTO;
	}
	if (n >= VU_MAX_MEM_SLOTS) {
		fprintf(stderr, "kvmio blk-serve: ADD_MEM_REG: the table is full (%u regions, GET_MAX_MEM_SLOTS said so)\n",
			n);
		return -E2BIG;
	}
	memcpy(nm, b->maps, n * sizeof(nm[0]));
	ret = map_region(b, n, r, fds[0], &nm[n]);
	if (ret)
		return ret;
	if (check_overlap(nm, n + 1, n)) {
		unmap_maps(&nm[n], 1);
		return -EINVAL;
	}
	ret = mem_switch(b, nm, n + 1, n);
	if (ret >= 0 || b->nmaps == n + 1)
		logmsg(b, "added region gpa %#llx size %#llx: %u regions",
		       (unsigned long long)r->gpa, (unsigned long long)r->size, b->nmaps);
	return ret;
}

/*
 * REM_MEM_REG (CONFIGURE_MEM_SLOTS): remove the region of that guest
 * address, QEMU address and size (the mmap offset is ignored, as the
 * specification says).  QEMU 7.2 sends the region's fd along, which the
 * specification allows and which is closed unused.
 */
static int do_rem_mem_reg(struct bridge *b, struct vu_msg *msg)
{
	const struct vu_region *r = &msg->p.memreg.region;
	struct bridge_map nm[VU_MAX_MEM_SLOTS];
	unsigned int n = b->nmaps, i, j;
	int ret;

	if (!(b->protocol & (1ULL << VU_PF_CONFIGURE_MEM_SLOTS))) {
		fprintf(stderr, "kvmio blk-serve: REM_MEM_REG without CONFIGURE_MEM_SLOTS\n");
		return -EPROTO;
	}
	for (i = 0; i < n; i++)
		if (b->maps[i].gpa == r->gpa && b->maps[i].size == r->size &&
		    b->maps[i].qemu_va == r->qemu_va)
			break;
	if (i == n) {
		fprintf(stderr, "kvmio blk-serve: REM_MEM_REG: no region gpa %#llx size %#llx in the table\n",
			(unsigned long long)r->gpa, (unsigned long long)r->size);
		return -ENOENT;
	}
	for (j = 0; j < n; j++)
		if (j != i)
			nm[j < i ? j : j - 1] = b->maps[j];
	ret = mem_switch(b, nm, n - 1, n - 1);
	if (b->nmaps == n - 1)
		logmsg(b, "removed region gpa %#llx size %#llx: %u regions",
		       (unsigned long long)r->gpa, (unsigned long long)r->size, b->nmaps);
	return ret;
}

static int logging(const struct bridge *b)
{
	return !!(b->features & (1ULL << VHOST_F_LOG_ALL));
}

/*
 * SET_VRING_ADDR.  VHOST_VRING_F_LOG (log the used ring) is passed
 * through: vhost_blk logs the used ring whenever VHOST_F_LOG_ALL is acked
 * and a log is set, finding its guest-physical address through the memory
 * table, so log_guest_addr is not needed.  QEMU sends the flag to a running
 * ring when a migration starts or ends, with the addresses unchanged: the
 * kernel refuses new addresses on a started ring (EBUSY), and there is
 * nothing to tell it, so that is only recorded.
 */
static int do_vring_addr(struct bridge *b, struct vu_msg *msg)
{
	unsigned int idx = msg->p.addr.index;
	unsigned int flags = msg->p.addr.flags;
	struct bridge_ring *r, old;
	struct vhost_vring_addr a;

	if (idx >= b->queues || (flags & ~(1U << VHOST_VRING_F_LOG)))
		return -EINVAL;
	/* QEMU acks VHOST_F_LOG_ALL first, and clears the flag first */
	if (flags && !logging(b))
		return -EINVAL;
	r = &b->rings[idx];
	if (r->kick >= 0 && r->addr_set && r->desc == msg->p.addr.desc_user_addr &&
	    r->avail == msg->p.addr.avail_user_addr && r->used == msg->p.addr.used_user_addr) {
		r->flags = flags;
		logmsg(b, "ring %u: used ring logging %s", idx, flags ? "on" : "off");
		return 0;
	}
	old = *r;
	r->desc = msg->p.addr.desc_user_addr;
	r->avail = msg->p.addr.avail_user_addr;
	r->used = msg->p.addr.used_user_addr;
	if (ring_translate(b, b->maps, b->nmaps, idx, &a)) {
		fprintf(stderr, "kvmio blk-serve: ring %u lies outside guest memory or is misaligned\n",
			idx);
		*r = old;
		return -EINVAL;
	}
	a.flags = flags;
	a.log_guest_addr = msg->p.addr.log_guest_addr;
	/* refused (a started ring): the kernel keeps the old addresses */
	if (vhost_ioctl(b, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR")) {
		*r = old;
		return -EIO;
	}
	r->addr_set = 1;
	r->flags = flags;
	return 0;
}

/* The end of guest-physical memory in @n regions (0: none). */
static uint64_t regions_end(const struct vu_region *regs, const struct bridge_map *maps,
			    unsigned int n)
{
	uint64_t end = 0, e;
	unsigned int i;

	for (i = 0; i < n; i++) {
		e = regs ? regs[i].gpa + regs[i].size : maps[i].gpa + maps[i].size;
		if (e > end)
			end = e;
	}
	return end;
}

/*
 * SET_LOG_BASE: QEMU's dirty log, with its file (LOG_SHMFD).  It must
 * cover the memory table: see blk_bridge_log.c.
 */
static int do_log_base(struct bridge *b, struct vu_msg *msg, int *fds)
{
	int ret;

	if (!(b->protocol & (1ULL << VU_PF_LOG_SHMFD)))
		return -EINVAL;	/* a log in QEMU's memory only: not reachable */
	ret = bridge_log_set_base(&b->log, b->vhost, msg->p.log.size, msg->p.log.offset,
				  fds[0], regions_end(NULL, b->maps, b->nmaps));
	if (ret)
		return ret;
	logmsg(b, "dirty log: %llu bytes", (unsigned long long)msg->p.log.size);
	return 0;
}

static int do_vring_fd(struct bridge *b, struct vu_msg *msg, int *fds)
{
	struct vhost_vring_file vf;
	unsigned int idx = msg->p.u64 & VU_VRING_IDX_MASK;
	int fd = msg->p.u64 & VU_VRING_NOFD ? -1 : fds[0];
	struct bridge_ring *r;

	if (idx >= b->queues || (msg->p.u64 & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)))
		return -EINVAL;
	r = &b->rings[idx];
	if (msg->hdr.request == VU_SET_VRING_KICK) {
		if (fd < 0)
			return -EINVAL;	/* no polling mode */
		/*
		 * The ring starts now.  Enabled or not, a started ring is
		 * processed (the vhost-user specification); for a block
		 * device disabling has no side effect to suppress.
		 */
		if (set_kick(b, idx, fd)) {
			/* the kernel detached the old kick before refusing */
			if (r->kick >= 0)
				close(r->kick);
			r->kick = -1;
			return -EIO;
		}
		if (r->kick >= 0)
			close(r->kick);
		r->kick = fd;
		fds[0] = -1;	/* kept */
		logmsg(b, "ring %u started", idx);
		return 0;
	}
	vf.index = idx;
	vf.fd = fd;
	return vhost_ioctl(b, msg->hdr.request == VU_SET_VRING_CALL ?
			   VHOST_SET_VRING_CALL : VHOST_SET_VRING_ERR, &vf,
			   "VHOST_SET_VRING_CALL/ERR");
}

/* The config space range of GET_CONFIG/SET_CONFIG; 0 or -EINVAL. */
static int config_range(struct vu_msg *msg)
{
	uint32_t off = msg->p.config.offset, len = msg->p.config.size;

	if (off > sizeof(struct virtio_blk_config) ||
	    len > sizeof(struct virtio_blk_config) - off)
		return -EINVAL;
	return 0;
}

static int do_config(struct bridge *b, struct vu_msg *msg)
{
	struct vhost_blk_config kc = { .argsz = sizeof(kc) };
	struct virtio_blk_config c;

	if (config_range(msg))
		return -EINVAL;
	if (vhost_ioctl(b, VHOST_BLK_GET_CONFIG, &kc, "VHOST_BLK_GET_CONFIG"))
		return -EIO;
	memset(&c, 0, sizeof(c));
	c.capacity = kc.capacity;
	c.seg_max = kc.seg_max;
	c.blk_size = kc.blk_size;
	c.num_queues = b->queues;
	c.max_discard_sectors = kc.max_discard_sectors;
	c.max_discard_seg = kc.max_discard_seg;
	c.discard_sector_alignment = kc.discard_sector_alignment;
	c.max_write_zeroes_sectors = kc.max_write_zeroes_sectors;
	c.max_write_zeroes_seg = kc.max_write_zeroes_seg;
	c.write_zeroes_may_unmap = kc.write_zeroes_may_unmap;
	memcpy(msg->p.config.region, (uint8_t *)&c + msg->p.config.offset,
	       msg->p.config.size);
	return 0;
}

/*
 * One message, checked by check_msg().  Returns 1 if it was answered, 0 if
 * it needs an ack, <0 error.
 */
static int handle(struct bridge *b, int sock, struct vu_msg *msg, int *fds)
{
	struct bridge_ring *r;
	unsigned int idx;
	uint64_t f;
	int ret;

	switch (msg->hdr.request) {
	case VU_GET_FEATURES:
		if (offered_features(b, &f))
			return -EIO;
		msg->p.u64 = f;
		return send_reply(sock, msg, sizeof(msg->p.u64)) ?: 1;
	case VU_SET_FEATURES:
		if (offered_features(b, &f))
			return -EIO;
		if (msg->p.u64 & ~f)
			return -EINVAL;
		f = msg->p.u64 & ~(1ULL << VU_F_PROTOCOL_FEATURES);
		/* logging into no log, or one that misses pages, loses writes */
		if ((f & (1ULL << VHOST_F_LOG_ALL)) &&
		    !bridge_log_covers(&b->log, regions_end(NULL, b->maps, b->nmaps))) {
			fprintf(stderr, "kvmio blk-serve: VHOST_F_LOG_ALL without a dirty log that covers guest memory\n");
			return -EINVAL;
		}
		ret = vhost_ioctl(b, VHOST_SET_FEATURES, &f, "VHOST_SET_FEATURES");
		if (!ret) {
			if ((f ^ b->features) & (1ULL << VHOST_F_LOG_ALL))
				logmsg(b, "dirty logging %s", f & (1ULL << VHOST_F_LOG_ALL) ?
				       "on" : "off");
			b->features = f;
		}
		return ret;
	case VU_GET_PROTOCOL_FEATURES:
		msg->p.u64 = VU_PROTOCOL_FEATURES;
		return send_reply(sock, msg, sizeof(msg->p.u64)) ?: 1;
	case VU_SET_PROTOCOL_FEATURES:
		if (msg->p.u64 & ~VU_PROTOCOL_FEATURES)
			return -EINVAL;
		b->protocol = msg->p.u64;
		return 0;
	case VU_GET_QUEUE_NUM:
		msg->p.u64 = b->queues;
		return send_reply(sock, msg, sizeof(msg->p.u64)) ?: 1;
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
		return 0;	/* the bridge owns the device from the start */
	case VU_SET_MEM_TABLE:
		/* while logging, QEMU grows the log before the table */
		if (logging(b) && !bridge_log_covers(&b->log, regions_end(msg->p.mem.regions, NULL,
									    msg->p.mem.nregions))) {
			fprintf(stderr, "kvmio blk-serve: memory table outgrows the dirty log\n");
			return -EINVAL;
		}
		return do_mem_table(b, msg, fds);
	case VU_GET_MAX_MEM_SLOTS:
		msg->p.u64 = VU_MAX_MEM_SLOTS;
		return send_reply(sock, msg, sizeof(msg->p.u64)) ?: 1;
	case VU_ADD_MEM_REG:
		/*
		 * As for SET_MEM_TABLE: a region past the log would let the
		 * kernel set bits past it (QEMU grows the log first).
		 */
		if (logging(b) && !bridge_log_covers(&b->log,
						     regions_end(&msg->p.memreg.region, NULL, 1))) {
			fprintf(stderr, "kvmio blk-serve: ADD_MEM_REG: the region outgrows the dirty log\n");
			return -EINVAL;
		}
		return do_add_mem_reg(b, msg, fds);
	case VU_REM_MEM_REG:
		return do_rem_mem_reg(b, msg);
	case VU_SET_LOG_BASE:
		ret = do_log_base(b, msg, fds);
		if (ret)
			return ret;
		msg->p.u64 = 0;
		return send_reply(sock, msg, sizeof(msg->p.u64)) ?: 1;
	case VU_SET_LOG_FD:
		if (!(b->protocol & (1ULL << VU_PF_LOG_SHMFD)))
			return -EINVAL;
		return bridge_log_set_fd(b->vhost, fds[0]);
	case VU_SET_VRING_NUM:
		idx = msg->p.state.index;
		f = msg->p.state.num;
		if (idx >= b->queues || !f || f > VU_MAX_RING || (f & (f - 1)))
			return -EINVAL;
		ret = vhost_ioctl(b, VHOST_SET_VRING_NUM, &msg->p.state, "VHOST_SET_VRING_NUM");
		if (!ret)
			b->rings[idx].num = f;
		return ret;
	case VU_SET_VRING_BASE:
		if (msg->p.state.index >= b->queues)
			return -EINVAL;
		return vhost_ioctl(b, VHOST_SET_VRING_BASE, &msg->p.state, "VHOST_SET_VRING_BASE");
	case VU_SET_VRING_ADDR:
		return do_vring_addr(b, msg);
	case VU_GET_VRING_BASE:
		idx = msg->p.state.index;
		if (idx >= b->queues)
			return -EINVAL;
		/* Stops the ring after draining it. */
		ret = vhost_ioctl(b, VHOST_GET_VRING_BASE, &msg->p.state, "VHOST_GET_VRING_BASE");
		if (ret)
			return ret;
		r = &b->rings[idx];
		if (r->kick >= 0) {
			set_kick(b, idx, -1);
			close(r->kick);
			r->kick = -1;
		}
		r->enabled = 0;
		logmsg(b, "ring %u stopped at %u", idx, msg->p.state.num);
		return send_reply(sock, msg, sizeof(msg->p.state)) ?: 1;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return do_vring_fd(b, msg, fds);
	case VU_SET_VRING_ENABLE:
		/* Recorded only: see do_vring_fd(). */
		idx = msg->p.state.index;
		if (idx >= b->queues || msg->p.state.num > 1)
			return -EINVAL;
		b->rings[idx].enabled = msg->p.state.num;
		return 0;
	case VU_GET_CONFIG:
		ret = do_config(b, msg);
		if (ret)
			return ret;
		return send_reply(sock, msg, VU_CONFIG_HDR_SIZE + msg->p.config.size) ?: 1;
	case VU_SET_CONFIG:
		/* nothing is writable: VIRTIO_BLK_F_CONFIG_WCE is not offered */
		return config_range(msg);
	case VU_SET_BACKEND_REQ_FD:
		/* the channel for CONFIG_CHANGE_MSG; kept until disconnection */
		if (!(b->protocol & (1ULL << VU_PF_BACKEND_REQ)))
			return -EINVAL;
		if (b->backend_req >= 0)
			close(b->backend_req);
		b->backend_req = fds[0];
		fds[0] = -1;
		return 0;
	default:
		fprintf(stderr, "kvmio blk-serve: unsupported vhost-user request %u\n",
			msg->hdr.request);
		return -EOPNOTSUPP;
	}
}

/*
 * Set the busy-polling budget of our device: its sysfs directory is
 * /sys/kernel/vhost_blk/<our pid>-<n>/, and we hold one device at a time.
 */
static int set_poll_budget(struct bridge *b)
{
	char pat[80];
	glob_t g;
	FILE *f;
	int ret = -1;

	snprintf(pat, sizeof(pat), "/sys/kernel/vhost_blk/%d-*/poll_budget_us", getpid());
	if (glob(pat, 0, NULL, &g) || g.gl_pathc != 1) {
		fprintf(stderr, "kvmio blk-serve: cannot find the device's poll_budget_us (%s)\n", pat);
		goto out;
	}
	f = fopen(g.gl_pathv[0], "w");
	if (!f || fprintf(f, "%d\n", b->poll_us) < 0 || fclose(f)) {
		fprintf(stderr, "kvmio blk-serve: cannot set %s to %d: %s\n", g.gl_pathv[0],
			b->poll_us, strerror(errno));
		goto out;
	}
	logmsg(b, "busy polling: %d us per idle ring", b->poll_us);
	ret = 0;
out:
	globfree(&g);
	return ret;
}

/* The backend's size in bytes (a file's, or a block device's capacity). */
static int backend_size(struct bridge *b, uint64_t *size)
{
	struct stat st;

	if (fstat(b->backend, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(b->backend, BLKGETSIZE64, size) ? -errno : 0;
	*size = st.st_size;
	return 0;
}

static int open_device(struct bridge *b)
{
	struct vhost_blk_flags fl = { .argsz = sizeof(fl) };
	struct vhost_blk_serial sn = { .argsz = sizeof(sn) };
	struct vhost_vring_file bf = { .index = 0, .fd = b->backend };
	unsigned int i;

	b->vhost = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
	if (b->vhost < 0) {
		fprintf(stderr, "kvmio blk-serve: cannot open /dev/vhost-blk: %s%s\n",
			strerror(errno), errno == ENOENT ? " (is vhost_blk loaded?)" : "");
		return -1;
	}
	if (vhost_ioctl(b, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER"))
		goto err;
	if (b->readonly) {
		fl.flags = VHOST_BLK_FLAG_READONLY;
		if (vhost_ioctl(b, VHOST_BLK_SET_FLAGS, &fl, "VHOST_BLK_SET_FLAGS"))
			goto err;
	}
	if (b->serial) {
		memcpy(sn.serial, b->serial, strnlen(b->serial, sizeof(sn.serial)));
		if (vhost_ioctl(b, VHOST_BLK_SET_SERIAL, &sn, "VHOST_BLK_SET_SERIAL"))
			goto err;
	}
	if (b->have_range) {
		struct vhost_blk_range r = {
			.argsz = sizeof(r), .fd = b->backend, .offset = b->offset,
			.length = b->length, .weight = b->weight,
		};

		if (vhost_ioctl(b, VHOST_BLK_SET_BACKEND_RANGE, &r,
				"VHOST_BLK_SET_BACKEND_RANGE"))
			goto err;
	} else if (vhost_ioctl(b, VHOST_BLK_SET_BACKEND, &bf, "VHOST_BLK_SET_BACKEND")) {
		goto err;
	}
	if (b->have_limits) {
		b->limits.argsz = sizeof(b->limits);
		if (vhost_ioctl(b, VHOST_BLK_SET_LIMITS, &b->limits, "VHOST_BLK_SET_LIMITS"))
			goto err;
	}
	if (b->poll_us >= 0 && set_poll_budget(b))
		goto err;
	memset(b->rings, 0, sizeof(b->rings));
	for (i = 0; i < VHOST_BLK_NUM_QUEUES; i++)
		b->rings[i].kick = -1;
	b->backend_req = -1;
	if (backend_size(b, &b->backend_size))
		b->backend_size = 0;
	b->features = 0;
	b->protocol = 0;
	return 0;
err:
	close(b->vhost);
	b->vhost = -1;
	return -1;
}

static void close_device(struct bridge *b)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_NUM_QUEUES; i++)
		if (b->rings[i].kick >= 0) {
			close(b->rings[i].kick);
			b->rings[i].kick = -1;
		}
	if (b->vhost >= 0)
		close(b->vhost);	/* the kernel drains and frees the device */
	b->vhost = -1;
	if (b->backend_req >= 0)
		close(b->backend_req);
	b->backend_req = -1;
	unmap_all(b);
	bridge_log_unmap(&b->log);	/* the kernel is done with it */
}

/*
 * Stopping (SIGTERM or SIGINT) with QEMU connected: stop every started
 * ring as GET_VRING_BASE does, which makes the kernel complete the ring's
 * requests in flight into its used ring first, and say what was taken and
 * what is in the used ring.  QEMU, finding the socket closed, cannot ask
 * for the ring bases: it takes each split ring's used index from guest
 * memory as the next request to hand a new server (hw/virtio/vhost.c,
 * vhost_virtqueue_stop()), which is right because the two are now equal.
 * The kernel's release() would complete them too; doing it here first is
 * what lets the counters be reported and checked.
 */
static void drain_rings(struct bridge *b)
{
	struct vhost_blk_stats st = { .argsz = sizeof(st) };
	long long before = -1;
	unsigned int i;

	if (!vhost_ioctl(b, VHOST_BLK_GET_STATS, &st, "VHOST_BLK_GET_STATS"))
		before = (long long)st.inflight;
	for (i = 0; i < b->queues; i++) {
		struct vhost_vring_state vs = { .index = i };
		struct bridge_ring *r = &b->rings[i];
		uint64_t p;

		if (r->kick < 0)
			continue;
		if (vhost_ioctl(b, VHOST_GET_VRING_BASE, &vs, "VHOST_GET_VRING_BASE"))
			continue;
		set_kick(b, i, -1);
		close(r->kick);
		r->kick = -1;
		p = b->features & (1ULL << VIRTIO_F_RING_PACKED) ? 0 :
		    qva_to_ours(b->maps, b->nmaps, r->used, 4);
		/* used->idx, which the kernel wrote through its own mapping */
		if (p)
			printf("kvmio blk-serve: ring %u drained: %u taken, %u used\n", i, vs.num,
			       le16toh(__atomic_load_n((uint16_t *)(uintptr_t)p + 1,
						       __ATOMIC_ACQUIRE)));
		else
			printf("kvmio blk-serve: ring %u drained: %u taken (packed ring)\n", i,
			       vs.num);
	}
	st.argsz = sizeof(st);
	st.flags = 0;
	if (!vhost_ioctl(b, VHOST_BLK_GET_STATS, &st, "VHOST_BLK_GET_STATS"))
		printf("kvmio blk-serve: drained: %lld in flight before, %llu after; %llu reads, %llu writes, %llu flushes completed\n",
		       before, (unsigned long long)st.inflight,
		       (unsigned long long)st.req_in, (unsigned long long)st.req_out,
		       (unsigned long long)st.req_flush);
	fflush(stdout);
}

/*
 * Online resize: when the backend's size changed (or on SIGHUP, @told),
 * the device reads it again (VHOST_BLK_RESIZE: the kernel checks every
 * request against the new capacity from then on), and if the capacity
 * moved QEMU is told on the backend channel: CONFIG_CHANGE_MSG, without
 * NEED_REPLY (QEMU answers it by sending GET_CONFIG on the main socket,
 * which this single thread serves only once it is back in its loop), then
 * QEMU reads the configuration and interrupts the guest.
 */
static void check_resize(struct bridge *b, bool told)
{
	struct vhost_blk_config before = { .argsz = sizeof(before) };
	struct vhost_blk_config after = { .argsz = sizeof(after) };
	struct vu_hdr h = {
		.request = VU_BACKEND_CONFIG_CHANGE_MSG, .flags = VU_VERSION,
	};
	uint64_t size;

	if (b->vhost < 0 || backend_size(b, &size) || (!told && size == b->backend_size))
		return;
	b->backend_size = size;
	if (vhost_ioctl(b, VHOST_BLK_GET_CONFIG, &before, "VHOST_BLK_GET_CONFIG") ||
	    vhost_ioctl(b, VHOST_BLK_RESIZE, NULL, "VHOST_BLK_RESIZE") ||
	    vhost_ioctl(b, VHOST_BLK_GET_CONFIG, &after, "VHOST_BLK_GET_CONFIG") ||
	    after.capacity == before.capacity)
		return;
	printf("kvmio blk-serve: capacity %llu -> %llu sectors\n",
	       (unsigned long long)before.capacity, (unsigned long long)after.capacity);
	fflush(stdout);
	if (b->backend_req < 0) {
		fprintf(stderr, "kvmio blk-serve: QEMU gave no backend channel: the guest sees the new size only after it reconnects\n");
		return;
	}
	if (send(b->backend_req, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h)) {
		fprintf(stderr, "kvmio blk-serve: cannot send CONFIG_CHANGE_MSG: %s\n",
			strerror(errno));
		close(b->backend_req);
		b->backend_req = -1;
		return;
	}
	logmsg(b, "sent CONFIG_CHANGE_MSG");
}

/*
 * Wait for QEMU's next message; meanwhile look at the backend's size once
 * a second, and at once on SIGHUP (check_resize()).  0, or -ECANCELED once
 * asked to stop.
 */
static int wait_message(struct bridge *b, int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	const struct timespec tick = { .tv_sec = 1 };
	int ret;

	for (;;) {
		if (stop_signal)
			return -ECANCELED;
		if (resize_signal) {
			resize_signal = 0;
			check_resize(b, true);
		}
		ret = ppoll(&p, 1, &tick, &wait_mask);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (!ret)
			check_resize(b, false);
	}
}

/*
 * Messages until QEMU disconnects.  A message that cannot be read as the
 * protocol says (cut short, too long, descriptors it does not allow) ends
 * the connection.  A request that fails its checks or the kernel's is
 * counted and, if QEMU asked for an ack (REPLY_ACK), acked with an error;
 * otherwise, and always for a request with a reply of its own, the
 * connection is closed.  Every descriptor received is closed unless kept.
 */
static void serve_connection(struct bridge *b, int sock)
{
	unsigned long count = 0, refused = 0;
	int fds[VU_MAX_FDS], nfds, ret;
	const char *why = NULL;
	struct vu_msg msg;

	for (;;) {
		ret = wait_message(b, sock);
		if (!ret)
			ret = recv_msg(sock, &msg, fds, &nfds);
		if (ret <= 0) {
			if (ret == -ECANCELED) {
				logmsg(b, "stopping: draining the rings, closing the connection");
				drain_rings(b);
			} else if (ret < 0) {
				fprintf(stderr, "kvmio blk-serve: bad message from QEMU: %s\n",
					strerror(-ret));
			}
			break;
		}
		count++;
		if (b->verbose > 1)
			fprintf(stderr, "kvmio blk-serve: request %u flags %#x size %u fds %d u64 %#llx\n",
				msg.hdr.request, msg.hdr.flags, msg.hdr.size, nfds,
				msg.hdr.size >= 8 ? (unsigned long long)msg.p.u64 : 0ULL);
		ret = check_msg(&msg, nfds, &why);
		if (ret)
			fprintf(stderr, "kvmio blk-serve: request %u refused: %s\n",
				msg.hdr.request, why);
		else
			ret = handle(b, sock, &msg, fds);
		close_fds(fds, nfds);
		if (ret == 1)
			continue;
		if (ret < 0)
			refused++;
		if (ret < 0 && has_reply(b, msg.hdr.request)) {
			fprintf(stderr, "kvmio blk-serve: request %u failed (%s); closing the connection\n",
				msg.hdr.request, strerror(-ret));
			break;
		}
		if ((msg.hdr.flags & VU_NEED_REPLY) && (b->protocol & (1ULL << VU_PF_REPLY_ACK))) {
			msg.p.u64 = ret ? 1 : 0;
			if (send_reply(sock, &msg, sizeof(msg.p.u64)))
				break;
		} else if (ret < 0) {
			fprintf(stderr, "kvmio blk-serve: request %u failed (%s); closing the connection\n",
				msg.hdr.request, strerror(-ret));
			break;
		}
	}
	logmsg(b, "connection closed after %lu messages, %lu refused", count, refused);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, c;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "kvmio blk-serve: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			goto err;
		/* In use by a live server, or a stale file? */
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fprintf(stderr, "kvmio blk-serve: socket %s is in use by another server\n", path);
			close(c);
			close(s);
			return -1;
		}
		if (c >= 0)
			close(c);
		unlink(path);
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto err;
	}
	if (listen(s, 1) < 0)
		goto err;
	return s;
err:
	fprintf(stderr, "kvmio blk-serve: cannot listen on %s: %s\n", path, strerror(errno));
	close(s);
	return -1;
}

/* A whole decimal number, or -2 (refused by every range check below). */
static int parse_num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 1000000)
		return -2;
	return v;
}

/*
 * A size or rate: a whole number with an optional binary suffix k, m, g or
 * t (KiB, MiB, ...), at most 2^62; -1 when it is not one.
 */
static int64_t parse_size(const char *s)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	if (!s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || v > (1ULL << 62) >> shift)
		return -1;
	return (int64_t)(v << shift);
}

/* Options without a short letter: getopt_long() values past any char. */
enum {
	OPT_IOPS = 256, OPT_IOPS_RD, OPT_IOPS_WR, OPT_BPS, OPT_BPS_RD, OPT_BPS_WR,
	OPT_BURST_IOPS, OPT_BURST_IOPS_RD, OPT_BURST_IOPS_WR, OPT_BURST_BPS,
	OPT_BURST_BPS_RD, OPT_BURST_BPS_WR, OPT_GROUP, OPT_OFFSET, OPT_LENGTH,
	OPT_WEIGHT,
};

/* --iops ... --burst-bps-wr: the field of struct vhost_blk_limits. */
static __u64 *limit_field(struct vhost_blk_limits *l, int opt)
{
	switch (opt) {
	case OPT_IOPS: return &l->iops_total;
	case OPT_IOPS_RD: return &l->iops_rd;
	case OPT_IOPS_WR: return &l->iops_wr;
	case OPT_BPS: return &l->bps_total;
	case OPT_BPS_RD: return &l->bps_rd;
	case OPT_BPS_WR: return &l->bps_wr;
	case OPT_BURST_IOPS: return &l->burst_iops_total;
	case OPT_BURST_IOPS_RD: return &l->burst_iops_rd;
	case OPT_BURST_IOPS_WR: return &l->burst_iops_wr;
	case OPT_BURST_BPS: return &l->burst_bps_total;
	case OPT_BURST_BPS_RD: return &l->burst_bps_rd;
	case OPT_BURST_BPS_WR: return &l->burst_bps_wr;
	}
	return NULL;
}

/* The I/O limit, range and weight options; 2 when the value is refused. */
static int set_limit_option(struct bridge *b, int opt, const char *arg)
{
	int64_t v = parse_size(arg);

	if (v < 0)
		goto bad;
	switch (opt) {
	case OPT_GROUP:
		if (v > UINT32_MAX)
			goto bad;
		b->limits.group = v;
		b->have_limits = 1;
		return 0;
	case OPT_OFFSET:
		b->offset = v;
		b->have_range = 1;
		return 0;
	case OPT_LENGTH:
		b->length = v;
		b->have_range = 1;
		return 0;
	case OPT_WEIGHT:
		if (v < 1 || v > VHOST_BLK_WEIGHT_MAX)
			goto bad;
		b->weight = v;
		b->have_range = 1;
		return 0;
	}
	if ((uint64_t)v > VHOST_BLK_LIMIT_MAX)
		goto bad;
	*limit_field(&b->limits, opt) = v;
	b->have_limits = 1;
	return 0;
bad:
	fprintf(stderr, "kvmio blk-serve: '%s' is not a valid limit, burst, group, offset, length or weight (--weight: 1..%d)\n",
		arg ? arg : "", VHOST_BLK_WEIGHT_MAX);
	return 1;
}

/* Service options of blk-serve (the bridge's own are in struct bridge). */
struct serve_opts {
	const char *sock_path, *owner, *group, *mode, *pidfile;
	int once;
};

static const struct option serve_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "backend", required_argument, NULL, 'b' },
	{ "readonly", no_argument, NULL, 'r' },
	{ "serial", required_argument, NULL, 'S' },
	{ "queues", required_argument, NULL, 'q' },
	{ "once", no_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "poll-us", required_argument, NULL, 'p' },
	{ "socket-owner", required_argument, NULL, 'U' },
	{ "socket-group", required_argument, NULL, 'G' },
	{ "socket-mode", required_argument, NULL, 'M' },
	{ "pidfile", required_argument, NULL, 'P' },
	{ "config", required_argument, NULL, 'c' },
	{ "iops", required_argument, NULL, OPT_IOPS },
	{ "iops-rd", required_argument, NULL, OPT_IOPS_RD },
	{ "iops-wr", required_argument, NULL, OPT_IOPS_WR },
	{ "bps", required_argument, NULL, OPT_BPS },
	{ "bps-rd", required_argument, NULL, OPT_BPS_RD },
	{ "bps-wr", required_argument, NULL, OPT_BPS_WR },
	{ "burst-iops", required_argument, NULL, OPT_BURST_IOPS },
	{ "burst-iops-rd", required_argument, NULL, OPT_BURST_IOPS_RD },
	{ "burst-iops-wr", required_argument, NULL, OPT_BURST_IOPS_WR },
	{ "burst-bps", required_argument, NULL, OPT_BURST_BPS },
	{ "burst-bps-rd", required_argument, NULL, OPT_BURST_BPS_RD },
	{ "burst-bps-wr", required_argument, NULL, OPT_BURST_BPS_WR },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "weight", required_argument, NULL, OPT_WEIGHT },
	{ NULL, 0, NULL, 0 },
};

#define SERVE_USAGE "usage: kvmio blk-serve --socket PATH --backend FILE|BLOCKDEV [--readonly] [--serial S] [--queues N] [--poll-us N] [--iops N] [--iops-rd N] [--iops-wr N] [--bps N] [--bps-rd N] [--bps-wr N] [--burst-iops[-rd|-wr] N] [--burst-bps[-rd|-wr] N] [--group ID] [--offset BYTES] [--length BYTES] [--weight 1..1000] [--socket-owner USER] [--socket-group GROUP] [--socket-mode MODE] [--pidfile PATH] [--config FILE] [--once] [--verbose]\n"

static int read_config(struct bridge *b, struct serve_opts *o, const char *path, int depth);

/* One option; @arg is kept (strdup'ed by read_config for its values). */
static int set_option(struct bridge *b, struct serve_opts *o, int opt, const char *arg,
		      int depth)
{
	switch (opt) {
	case 's': o->sock_path = arg; break;
	case 'b': b->backend_path = arg; break;
	case 'r': b->readonly = 1; break;
	case 'S': b->serial = arg; break;
	case 'q': b->queues = parse_num(arg); break;
	case 'o': o->once = 1; break;
	case 'v': b->verbose++; break;
	case 'p': b->poll_us = parse_num(arg); break;
	case 'U': o->owner = arg; break;
	case 'G': o->group = arg; break;
	case 'M': o->mode = arg; break;
	case 'P': o->pidfile = arg; break;
	case 'c': return read_config(b, o, arg, depth + 1);
	case OPT_IOPS ... OPT_WEIGHT: return set_limit_option(b, opt, arg);
	default: return 2;
	}
	return 0;
}

/*
 * --config FILE: one KEY=VALUE a line, KEY a long option without "--"
 * (socket=/run/kvmio/vm1.sock); a flag takes "KEY" or KEY=1|yes|true
 * (0|no|false: not set).  Blank lines and '#' comments are skipped.  Later
 * options, in the file or on the command line, override earlier ones.
 */
static int read_config(struct bridge *b, struct serve_opts *o, const char *path, int depth)
{
	char line[1024];
	int lineno = 0, rc = 0;
	FILE *f;

	if (depth > 4) {
		fprintf(stderr, "kvmio blk-serve: %s: config files nested too deep\n", path);
		return 2;
	}
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "kvmio blk-serve: cannot read config %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *k = line + strspn(line, " \t"), *v, *end;
		const struct option *op;

		lineno++;
		end = k + strcspn(k, "\r\n");
		*end = 0;
		while (end > k && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = 0;
		if (!*k || *k == '#')
			continue;
		v = strchr(k, '=');
		if (v) {
			char *ke = v;

			*v++ = 0;
			while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
				*--ke = 0;
			v += strspn(v, " \t");
			if (*v == '"' && end > v + 1 && end[-1] == '"') {
				end[-1] = 0;
				v++;
			}
		}
		for (op = serve_options; op->name; op++)
			if (!strcmp(op->name, k))
				break;
		if (!op->name || (op->has_arg == required_argument && !v)) {
			fprintf(stderr, "kvmio blk-serve: %s:%d: '%s' is not KEY=VALUE with KEY an option of blk-serve\n",
				path, lineno, k);
			rc = 2;
			break;
		}
		if (op->has_arg == no_argument && v) {
			if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false"))
				continue;
			if (strcmp(v, "1") && strcmp(v, "yes") && strcmp(v, "true")) {
				fprintf(stderr, "kvmio blk-serve: %s:%d: %s takes 1|yes|true or 0|no|false\n",
					path, lineno, k);
				rc = 2;
				break;
			}
		}
		v = v ? strdup(v) : NULL;	/* kept for the server's lifetime */
		rc = set_option(b, o, op->val, v, depth);
	}
	fclose(f);
	return rc;
}

/* A user or group: a number, or a name from /etc/passwd or /etc/group. */
static int lookup_id(const char *name, bool group, unsigned int *id)
{
	char *end;
	FILE *f;
	long v;

	errno = 0;
	v = strtol(name, &end, 10);
	if (!errno && end != name && !*end && v >= 0 && v < 0x7fffffff) {
		*id = v;
		return 0;
	}
	/* Not getpwnam(): no NSS in the static build, local accounts only. */
	f = fopen(group ? "/etc/group" : "/etc/passwd", "r");
	if (!f)
		return -1;
	for (;;) {
		struct passwd *pw = group ? NULL : fgetpwent(f);
		struct group *gr = group ? fgetgrent(f) : NULL;

		if (!pw && !gr)
			break;
		if (pw && !strcmp(pw->pw_name, name)) {
			*id = pw->pw_uid;
			fclose(f);
			return 0;
		}
		if (gr && !strcmp(gr->gr_name, name)) {
			*id = gr->gr_gid;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

/* The socket's owner, group and mode, as --socket-owner/-group/-mode say. */
static int socket_access(const struct serve_opts *o)
{
	unsigned int uid = -1, gid = -1;
	char *end;
	long mode;

	if (o->owner && lookup_id(o->owner, false, &uid)) {
		fprintf(stderr, "kvmio blk-serve: no user '%s'\n", o->owner);
		return -1;
	}
	if (o->group && lookup_id(o->group, true, &gid)) {
		fprintf(stderr, "kvmio blk-serve: no group '%s'\n", o->group);
		return -1;
	}
	if ((o->owner || o->group) && chown(o->sock_path, uid, gid)) {
		fprintf(stderr, "kvmio blk-serve: cannot chown %s: %s\n", o->sock_path,
			strerror(errno));
		return -1;
	}
	if (o->mode) {
		mode = strtol(o->mode, &end, 8);
		if (*end || end == o->mode || mode < 0 || mode > 0777 ||
		    chmod(o->sock_path, mode)) {
			fprintf(stderr, "kvmio blk-serve: cannot chmod %s to %s: %s\n",
				o->sock_path, o->mode, *end || end == o->mode || mode < 0 ||
				mode > 0777 ? "not an octal mode up to 0777" : strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path,
 * or '@' for an abstract name).  Nothing when it is unset.
 */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int s;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (sendto(s, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		fprintf(stderr, "kvmio blk-serve: cannot notify %s: %s\n", path, strerror(errno));
	close(s);
}

static int write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "kvmio blk-serve: cannot write pid file %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int cmd_blk_serve(int argc, char **argv)
{
	struct bridge b = { .queues = 4, .vhost = -1, .backend = -1, .poll_us = -1,
			    .backend_req = -1 };
	struct serve_opts o = { 0 };
	int opt, ls, flags, direct = 1, rc;
	struct sigaction sa = { .sa_handler = on_stop };
	struct sigaction hup = { .sa_handler = on_hup };
	sigset_t stop_set;
	char state[64];
	struct stat st;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", serve_options, NULL)) != -1) {
		rc = set_option(&b, &o, opt, optarg, 0);
		if (rc == 2)
			fprintf(stderr, SERVE_USAGE);
		if (rc)
			return rc;
	}
	if (optind < argc || !o.sock_path || !b.backend_path) {
		fprintf(stderr, SERVE_USAGE);
		return 2;
	}
	if (b.poll_us < -1 || b.poll_us > 100000) {
		fprintf(stderr, "kvmio blk-serve: --poll-us must be 0..100000\n");
		return 2;
	}
	if (b.queues < 1 || b.queues > VHOST_BLK_NUM_QUEUES) {
		fprintf(stderr, "kvmio blk-serve: --queues must be 1..%d\n", VHOST_BLK_NUM_QUEUES);
		return 2;
	}
	/*
	 * O_DIRECT: the kernel then runs the guest's reads and writes as
	 * asynchronous direct I/O.  File systems without it (tmpfs before
	 * Linux 6.6) refuse the open with EINVAL: buffered I/O then.
	 */
	flags = (b.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	b.backend = open(b.backend_path, flags | O_DIRECT);
	if (b.backend < 0 && errno == EINVAL) {
		logmsg(&b, "%s refuses O_DIRECT; using buffered I/O", b.backend_path);
		direct = 0;
		b.backend = open(b.backend_path, flags);
	} else if (b.backend >= 0) {
		logmsg(&b, "%s opened with O_DIRECT (asynchronous direct I/O)", b.backend_path);
	}
	if (b.backend < 0 || fstat(b.backend, &st) < 0) {
		fprintf(stderr, "kvmio blk-serve: cannot open backend %s: %s\n", b.backend_path,
			strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "kvmio blk-serve: backend %s is neither a regular file nor a block device\n",
			b.backend_path);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* SIGTERM and SIGINT only while waiting (wait_readable()). */
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	sigaddset(&stop_set, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGHUP);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &hup, NULL);
	ls = listen_on(o.sock_path);
	if (ls < 0)
		return 1;
	if (socket_access(&o) || (o.pidfile && write_pidfile(o.pidfile))) {
		close(ls);
		unlink(o.sock_path);
		return 1;
	}
	printf("kvmio blk-serve: serving %s on %s (%u queues, %s I/O%s)\n", b.backend_path,
	       o.sock_path, b.queues, direct ? "direct" : "buffered", b.readonly ? ", read-only" : "");
	fflush(stdout);
	snprintf(state, sizeof(state), "READY=1\nMAINPID=%d", (int)getpid());
	notify_systemd(state);

	for (;;) {
		int sock = -1;

		rc = wait_readable(ls);
		if (!rc)
			sock = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (rc == -ECANCELED)
			break;
		if (sock < 0) {
			if (!rc && (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED))
				continue;
			fprintf(stderr, "kvmio blk-serve: accept: %s\n", strerror(rc ? -rc : errno));
			break;
		}
		if (open_device(&b) == 0) {
			logmsg(&b, "QEMU connected");
			serve_connection(&b, sock);
			close_device(&b);	/* release() completes what is in flight */
		}
		close(sock);
		if (stop_signal)
			break;
		printf("kvmio blk-serve: QEMU disconnected%s\n",
		       o.once ? "" : "; waiting for a new connection");
		fflush(stdout);
		if (o.once)
			break;
	}
	if (stop_signal) {
		notify_systemd("STOPPING=1");
		printf("kvmio blk-serve: %s: stopped\n",
		       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		fflush(stdout);
	}
	close(ls);
	unlink(o.sock_path);
	if (o.pidfile)
		unlink(o.pidfile);
	close(b.backend);
	return 0;
}
