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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
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
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/vhost_blk.h>

#include "kvmio.h"

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
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
};

#define VU_VERSION		0x1
#define VU_REPLY		0x4
#define VU_NEED_REPLY		0x8
#define VU_F_PROTOCOL_FEATURES	30
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define VU_PF_CONFIG		9
#define VU_MAX_REGIONS		8
#define VU_MAX_FDS		8
#define VU_VRING_NOFD		(1ULL << 8)
#define VU_VRING_IDX_MASK	0xffULL

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
			uint32_t nregions;
			uint32_t padding;
			struct vu_region regions[VU_MAX_REGIONS];
		} mem;
		struct {
			uint32_t offset;
			uint32_t size;
			uint32_t flags;
			uint8_t region[256];
		} config;
	} p;
};

#define VU_HDR_SIZE	sizeof(struct vu_hdr)

struct bridge_map {
	void *base;		/* our mapping of the region's fd */
	size_t len;
	uint64_t gpa, size, qemu_va;
	uint8_t *va;		/* base + mmap_offset: where guest memory starts */
};

struct bridge {
	const char *backend_path;
	int backend;
	int readonly;
	const char *serial;
	unsigned int queues;
	int vhost;		/* /dev/vhost-blk of the current connection */
	uint64_t protocol;
	struct bridge_map maps[VU_MAX_REGIONS];
	unsigned int nmaps;
	int kick[VHOST_BLK_NUM_QUEUES];
	int enabled[VHOST_BLK_NUM_QUEUES];
	int verbose;
	int poll_us;		/* poll_budget_us of each device, -1: leave it */
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

static void unmap_all(struct bridge *b)
{
	unsigned int i;

	for (i = 0; i < b->nmaps; i++)
		munmap(b->maps[i].base, b->maps[i].len);
	b->nmaps = 0;
}

/* QEMU's virtual address -> ours, for a range of @len bytes. */
static uint64_t qva_to_ours(struct bridge *b, uint64_t qva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < b->nmaps; i++) {
		struct bridge_map *m = &b->maps[i];

		if (qva >= m->qemu_va && qva - m->qemu_va < m->size &&
		    len <= m->size - (qva - m->qemu_va))
			return (uint64_t)(uintptr_t)(m->va + (qva - m->qemu_va));
	}
	return 0;
}

static int recv_msg(int sock, struct vu_msg *msg, int *fds, int *nfds)
{
	char control[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = &msg->hdr, .iov_len = VU_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n == 0 ? 0 : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (k > VU_MAX_FDS)
				k = VU_MAX_FDS;
			memcpy(fds, CMSG_DATA(c), k * sizeof(int));
			*nfds = k;
		}
	}
	if (n != VU_HDR_SIZE || msg->hdr.size > sizeof(msg->p))
		return -EPROTO;
	if (msg->hdr.size) {
		size_t got = 0;

		while (got < msg->hdr.size) {
			n = read(sock, (char *)&msg->p + got, msg->hdr.size - got);
			if (n <= 0)
				return n == 0 ? -EPROTO : -errno;
			got += n;
		}
	}
	return 1;
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
	return writev(sock, iov, 2) == len ? 0 : -errno;
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

static int do_mem_table(struct bridge *b, struct vu_msg *msg, int *fds, int nfds)
{
	unsigned int n = msg->p.mem.nregions, i;
	struct vhost_memory *mem;
	int ret;

	if (n == 0 || n > VU_MAX_REGIONS || (int)n != nfds)
		return -EINVAL;
	unmap_all(b);
	mem = calloc(1, sizeof(*mem) + n * sizeof(mem->regions[0]));
	if (!mem)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vu_region *r = &msg->p.mem.regions[i];
		struct bridge_map *m = &b->maps[i];

		if (!r->size || r->mmap_offset > SIZE_MAX - r->size ||
		    r->gpa > UINT64_MAX - r->size || r->qemu_va > UINT64_MAX - r->size) {
			fprintf(stderr, "kvmio blk-serve: memory region %u is invalid\n", i);
			free(mem);
			return -EINVAL;
		}
		m->len = r->size + r->mmap_offset;
		m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (m->base == MAP_FAILED) {
			ret = -errno;
			fprintf(stderr, "kvmio blk-serve: cannot map guest memory (%s); QEMU needs -object memory-backend-memfd,share=on\n",
				strerror(errno));
			free(mem);
			return ret;
		}
		b->nmaps = i + 1;
		m->va = (uint8_t *)m->base + r->mmap_offset;
		m->gpa = r->gpa;
		m->size = r->size;
		m->qemu_va = r->qemu_va;
		mem->regions[i].guest_phys_addr = r->gpa;
		mem->regions[i].memory_size = r->size;
		mem->regions[i].userspace_addr = (uint64_t)(uintptr_t)m->va;
		logmsg(b, "region %u: gpa %#llx size %#llx", i, (unsigned long long)r->gpa,
		       (unsigned long long)r->size);
	}
	mem->nregions = n;
	ret = vhost_ioctl(b, VHOST_SET_MEM_TABLE, mem, "VHOST_SET_MEM_TABLE");
	free(mem);
	return ret;
}

static int do_config(struct bridge *b, struct vu_msg *msg)
{
	struct vhost_blk_config kc = { .argsz = sizeof(kc) };
	struct virtio_blk_config c;
	uint32_t off = msg->p.config.offset, len = msg->p.config.size;

	if (off > sizeof(c) || len > sizeof(c) - off || len > sizeof(msg->p.config.region))
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
	memcpy(msg->p.config.region, (uint8_t *)&c + off, len);
	return 0;
}

/* Returns 1 if the message was answered, 0 if it needs an ack, <0 error. */
static int handle(struct bridge *b, int sock, struct vu_msg *msg, int *fds, int nfds)
{
	unsigned int idx;
	uint64_t f;
	int ret;

	switch (msg->hdr.request) {
	case VU_GET_FEATURES:
		if (vhost_ioctl(b, VHOST_GET_FEATURES, &f, "VHOST_GET_FEATURES"))
			return -EIO;
		msg->p.u64 = f | (1ULL << VU_F_PROTOCOL_FEATURES);
		return send_reply(sock, msg, 8) ?: 1;
	case VU_SET_FEATURES:
		f = msg->p.u64 & ~(1ULL << VU_F_PROTOCOL_FEATURES);
		return vhost_ioctl(b, VHOST_SET_FEATURES, &f, "VHOST_SET_FEATURES");
	case VU_GET_PROTOCOL_FEATURES:
		msg->p.u64 = (1ULL << VU_PF_MQ) | (1ULL << VU_PF_REPLY_ACK) |
			     (1ULL << VU_PF_CONFIG);
		return send_reply(sock, msg, 8) ?: 1;
	case VU_SET_PROTOCOL_FEATURES:
		b->protocol = msg->p.u64;
		return 0;
	case VU_GET_QUEUE_NUM:
		msg->p.u64 = b->queues;
		return send_reply(sock, msg, 8) ?: 1;
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
		return 0;	/* the bridge owns the device from the start */
	case VU_SET_MEM_TABLE:
		return do_mem_table(b, msg, fds, nfds);
	case VU_SET_VRING_NUM:
		if (msg->p.state.index >= b->queues)
			return -EINVAL;
		return vhost_ioctl(b, VHOST_SET_VRING_NUM, &msg->p.state, "VHOST_SET_VRING_NUM");
	case VU_SET_VRING_BASE:
		if (msg->p.state.index >= b->queues)
			return -EINVAL;
		return vhost_ioctl(b, VHOST_SET_VRING_BASE, &msg->p.state, "VHOST_SET_VRING_BASE");
	case VU_SET_VRING_ADDR: {
		struct vhost_vring_addr a = msg->p.addr;

		if (a.index >= b->queues)
			return -EINVAL;
		a.desc_user_addr = qva_to_ours(b, msg->p.addr.desc_user_addr, 16);
		a.used_user_addr = qva_to_ours(b, msg->p.addr.used_user_addr, 8);
		a.avail_user_addr = qva_to_ours(b, msg->p.addr.avail_user_addr, 4);
		if (!a.desc_user_addr || !a.used_user_addr || !a.avail_user_addr) {
			fprintf(stderr, "kvmio blk-serve: ring %u lies outside guest memory\n", a.index);
			return -EINVAL;
		}
		return vhost_ioctl(b, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR");
	}
	case VU_GET_VRING_BASE:
		idx = msg->p.state.index;
		if (idx >= b->queues)
			return -EINVAL;
		/* Stops the ring after draining it. */
		ret = vhost_ioctl(b, VHOST_GET_VRING_BASE, &msg->p.state, "VHOST_GET_VRING_BASE");
		if (ret)
			return ret;
		set_kick(b, idx, -1);
		b->enabled[idx] = 0;
		logmsg(b, "ring %u stopped at %u", idx, msg->p.state.num);
		return send_reply(sock, msg, sizeof(msg->p.state)) ?: 1;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR: {
		struct vhost_vring_file vf;
		int fd = (msg->p.u64 & VU_VRING_NOFD) || nfds < 1 ? -1 : fds[0];

		idx = msg->p.u64 & VU_VRING_IDX_MASK;
		if (idx >= b->queues)
			return -EINVAL;
		if (msg->hdr.request == VU_SET_VRING_KICK) {
			if (fd < 0)
				return -EINVAL;	/* no polling mode */
			if (b->kick[idx] >= 0)
				close(b->kick[idx]);
			b->kick[idx] = fd;
			fds[0] = -1;	/* kept */
			/*
			 * The ring starts now.  Enabled or not, a started
			 * ring is processed (the vhost-user specification);
			 * for a block device disabling has no side effect to
			 * suppress.
			 */
			return set_kick(b, idx, fd);
		}
		vf.index = idx;
		vf.fd = fd;
		return vhost_ioctl(b, msg->hdr.request == VU_SET_VRING_CALL ?
				   VHOST_SET_VRING_CALL : VHOST_SET_VRING_ERR, &vf,
				   "VHOST_SET_VRING_CALL/ERR");
	}
	case VU_SET_VRING_ENABLE:
		/* Recorded only: see VU_SET_VRING_KICK. */
		idx = msg->p.state.index;
		if (idx >= b->queues)
			return -EINVAL;
		b->enabled[idx] = !!msg->p.state.num;
		return 0;
	case VU_GET_CONFIG:
		ret = do_config(b, msg);
		if (ret)
			return ret;
		return send_reply(sock, msg, 12 + msg->p.config.size) ?: 1;
	case VU_SET_CONFIG:
		return 0;	/* only the writeback bit is writable; ignored */
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
	if (vhost_ioctl(b, VHOST_BLK_SET_BACKEND, &bf, "VHOST_BLK_SET_BACKEND"))
		goto err;
	if (b->poll_us >= 0 && set_poll_budget(b))
		goto err;
	for (i = 0; i < VHOST_BLK_NUM_QUEUES; i++) {
		b->kick[i] = -1;
		b->enabled[i] = 0;
	}
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
		if (b->kick[i] >= 0) {
			close(b->kick[i]);
			b->kick[i] = -1;
		}
	if (b->vhost >= 0)
		close(b->vhost);	/* the kernel drains and frees the device */
	b->vhost = -1;
	unmap_all(b);
}

static void serve_connection(struct bridge *b, int sock)
{
	struct vu_msg msg;
	int fds[VU_MAX_FDS], nfds, ret, i;
	unsigned long count = 0;

	for (;;) {
		ret = recv_msg(sock, &msg, fds, &nfds);
		if (ret <= 0) {
			if (ret < 0)
				fprintf(stderr, "kvmio blk-serve: bad message from QEMU: %s\n",
					strerror(-ret));
			break;
		}
		count++;
		if (b->verbose > 1)
			fprintf(stderr, "kvmio blk-serve: request %u flags %#x size %u u64 %#llx\n",
				msg.hdr.request, msg.hdr.flags, msg.hdr.size,
				msg.hdr.size >= 8 ? (unsigned long long)msg.p.u64 : 0ULL);
		ret = handle(b, sock, &msg, fds, nfds);
		for (i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (ret == 1)
			continue;
		if ((msg.hdr.flags & VU_NEED_REPLY) && (b->protocol & (1ULL << VU_PF_REPLY_ACK))) {
			msg.p.u64 = ret ? 1 : 0;
			if (send_reply(sock, &msg, 8))
				break;
		} else if (ret < 0) {
			fprintf(stderr, "kvmio blk-serve: request %u failed (%s); closing the connection\n",
				msg.hdr.request, strerror(-ret));
			break;
		}
	}
	logmsg(b, "connection closed after %lu messages", count);
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

int cmd_blk_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct bridge b = { .queues = 4, .vhost = -1, .backend = -1, .poll_us = -1 };
	const char *sock_path = NULL;
	int once = 0, opt, ls, flags, direct = 1;
	struct stat st;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'b': b.backend_path = optarg; break;
		case 'r': b.readonly = 1; break;
		case 'S': b.serial = optarg; break;
		case 'q': b.queues = parse_num(optarg); break;
		case 'o': once = 1; break;
		case 'v': b.verbose++; break;
		case 'p': b.poll_us = parse_num(optarg); break;
		default: return 2;
		}
	}
	if (!sock_path || !b.backend_path) {
		fprintf(stderr, "usage: kvmio blk-serve --socket PATH --backend FILE|BLOCKDEV [--readonly] [--serial S] [--queues N] [--poll-us N] [--once] [--verbose]\n");
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
	ls = listen_on(sock_path);
	if (ls < 0)
		return 1;
	printf("kvmio blk-serve: serving %s on %s (%u queues, %s I/O%s)\n", b.backend_path,
	       sock_path, b.queues, direct ? "direct" : "buffered", b.readonly ? ", read-only" : "");
	fflush(stdout);

	for (;;) {
		int sock = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

		if (sock < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kvmio blk-serve: accept: %s\n", strerror(errno));
			break;
		}
		if (open_device(&b) == 0) {
			logmsg(&b, "QEMU connected");
			serve_connection(&b, sock);
			close_device(&b);
		}
		close(sock);
		printf("kvmio blk-serve: QEMU disconnected%s\n", once ? "" : "; waiting for a new connection");
		fflush(stdout);
		if (once)
			break;
	}
	close(ls);
	unlink(sock_path);
	close(b.backend);
	return 0;
}
