// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_bridge - hostile vhost-user clients for `kvmio blk-serve`
 * (tools/blk_bridge.c).
 *
 * Starts the bridge on a socket of its own with a small file as backend
 * (not --once: it must serve connection after connection), then connects
 * again and again.  Each connection sends a random sequence of messages:
 * every request number the bridge knows and others, random flags, payload
 * sizes that are right, short, long or beyond the largest payload, payloads
 * that are random or nearly right (memory tables of memfd regions with
 * random sizes, offsets, guest and QEMU addresses, too many or too few fds;
 * the same for single regions added and removed (CONFIGURE_MEM_SLOTS);
 * vring numbers, bases, addresses and eventfds for random indexes; config
 * offsets and sizes), fds of every kind attached to any message (eventfds,
 * memfds, /dev/null, a socket, more than the bridge takes), headers split
 * or cut short, and disconnects at any point.  Now and then the sequence
 * is QEMU's own (features, owner, memory table or memory slots, one ring,
 * kick), with the
 * ring's guest memory filled with garbage the kernel then reads.
 *
 * Findings: the bridge dies (its exit status or signal, and the tail of its
 * stderr), stops answering a well-formed GET_FEATURES on a new connection
 * (checked every few connections), sends a reply that is not a reply or
 * bigger than the protocol allows, or keeps more file descriptors or
 * mappings open between connections than after the first one (a leak).
 *
 * $KVMIO names the kvmio binary (default: kvmio on PATH).
 */
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/vhost.h>

#include "fuzz.h"

enum {
	VU_GET_FEATURES = 1, VU_SET_FEATURES, VU_SET_OWNER, VU_RESET_OWNER,
	VU_SET_MEM_TABLE, VU_SET_LOG_BASE, VU_SET_LOG_FD, VU_SET_VRING_NUM,
	VU_SET_VRING_ADDR, VU_SET_VRING_BASE, VU_GET_VRING_BASE, VU_SET_VRING_KICK,
	VU_SET_VRING_CALL, VU_SET_VRING_ERR, VU_GET_PROTOCOL_FEATURES,
	VU_SET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM, VU_SET_VRING_ENABLE,
	VU_GET_CONFIG = 24, VU_SET_CONFIG = 25,
	VU_GET_MAX_MEM_SLOTS = 36, VU_ADD_MEM_REG, VU_REM_MEM_REG,
};

#define VU_VERSION	0x1
#define VU_REPLY	0x4
#define VU_NEED_REPLY	0x8
#define VU_NOFD		(1ULL << 8)
#define MAX_PAYLOAD	(8 + 8 * 32)	/* the bridge's largest: a table of 8 regions */
#define GMEM		(1UL << 20)

struct vu_hdr {
	uint32_t request, flags, size;
};

struct vu_region {
	uint64_t gpa, size, qemu_va, mmap_offset;
};

static char sock_path[108], log_path[64], img[64];
static const char *kvmio = "kvmio";
static pid_t bridge = -1;
static int memfd = -1;		/* the guest memory we offer */
static uint8_t *gmem;
static int efd[4], nullfd;
static int base_fds = -1, base_maps = -1;
static uint64_t conns, msgs, replies, restarts;

static void log_tail(void)
{
	char line[256];
	FILE *f = fopen(log_path, "r");
	long n = 0;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	if (ftell(f) > 2048)
		fseek(f, -2048, SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	while (fgets(line, sizeof(line), f))
		if (n++ > 0)	/* the first may be cut */
			fuzz_log("bridge: %.*s", (int)strcspn(line, "\n"), line);
	fclose(f);
}

static int connect_bridge(int tries)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	strcpy(sa.sun_path, sock_path);
	while (tries--) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s >= 0 && !connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			return s;
		if (s >= 0)
			close(s);
		usleep(20000);
	}
	return -1;
}

static int start_bridge(void)
{
	int s;

	bridge = fork();
	if (bridge < 0)
		return -1;
	if (!bridge) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* the bridge goes with the fuzzer, however it ends */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(kvmio, kvmio, "blk-serve", "--socket", sock_path, "--backend", img,
		       "--verbose", (char *)NULL);
		_exit(127);
	}
	s = connect_bridge(250);
	if (s < 0)
		return -1;
	close(s);	/* the bridge sees an empty connection and goes on */
	return 0;
}

/* The bridge is alive; else a finding, and it is started again. */
static bool check_alive(const char *after)
{
	int st;

	if (waitpid(bridge, &st, WNOHANG) != bridge)
		return true;
	if (WIFSIGNALED(st))
		fuzz_finding("the bridge died of signal %d (%s) after %s", WTERMSIG(st),
			     strsignal(WTERMSIG(st)), after);
	else
		fuzz_finding("the bridge exited with status %d after %s", WEXITSTATUS(st), after);
	log_tail();
	restarts++;
	if (start_bridge())
		fuzz_finding("the bridge could not be started again");
	return false;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int send_msg(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Read what the bridge answered within @ms; checks each reply's header. */
static void read_replies(int s, int ms)
{
	uint8_t b[4096];
	struct pollfd p = { .fd = s, .events = POLLIN };
	ssize_t n, off;

	while (poll(&p, 1, ms) > 0) {
		n = recv(s, b, sizeof(b), MSG_DONTWAIT);
		if (n <= 0)
			return;
		for (off = 0; off + (ssize_t)sizeof(struct vu_hdr) <= n;) {
			struct vu_hdr h;

			memcpy(&h, b + off, sizeof(h));
			replies++;
			if (!(h.flags & VU_REPLY) || h.size > MAX_PAYLOAD) {
				fuzz_finding("the bridge sent a reply with request %u flags %#x size %u",
					     h.request, h.flags, h.size);
				return;
			}
			off += sizeof(h) + h.size;
		}
		ms = 20;
	}
}

static int pick_fds(struct fuzz_rng *r, int *fds, int max)
{
	int n = fuzz_one_in(r, 10) ? fuzz_below(r, max + 1) : fuzz_below(r, 3), i;

	for (i = 0; i < n; i++) {
		switch (fuzz_below(r, 6)) {
		case 0: fds[i] = nullfd; break;
		case 1: fds[i] = memfd; break;
		case 2: fds[i] = 0; break;	/* stdin: whatever it is */
		default: fds[i] = efd[fuzz_below(r, 4)]; break;
		}
	}
	return n;
}

/* A payload for @req: nearly right most of the time. */
static uint32_t payload(struct fuzz_rng *r, uint32_t req, uint8_t *p, int *nfds_hint)
{
	uint64_t *u = (uint64_t *)p;
	uint32_t *w = (uint32_t *)p;
	unsigned int i, n;

	memset(p, 0, 512);
	*nfds_hint = 0;
	switch (req) {
	case VU_SET_FEATURES: case VU_SET_PROTOCOL_FEATURES:
		u[0] = fuzz_one_in(r, 2) ? fuzz_next(r) :
		       (1ULL << 32) | (1ULL << 30) | (1ULL << 15) | 0x3ff;
		return 8;
	case VU_ADD_MEM_REG: case VU_REM_MEM_REG: {
		struct vu_region *g = (void *)(p + 8);

		u[0] = fuzz_one_in(r, 20) ? fuzz_next(r) : 0;
		i = fuzz_below(r, 4);
		g->gpa = fuzz_one_in(r, 4) ? fuzz_int(r, 0) : (0x100000000ULL + i * GMEM);
		g->size = fuzz_one_in(r, 4) ? fuzz_int(r, GMEM) : GMEM;
		g->qemu_va = fuzz_one_in(r, 4) ? fuzz_int(r, 0x7f0000000000ULL) :
			     0x7f0000000000ULL + i * GMEM;
		g->mmap_offset = fuzz_one_in(r, 4) ? fuzz_int(r, 0) : 0;
		*nfds_hint = req == VU_ADD_MEM_REG || fuzz_one_in(r, 2);
		return 40;
	}
	case VU_SET_MEM_TABLE: {
		struct vu_region *g = (void *)(p + 8);

		n = fuzz_one_in(r, 8) ? fuzz_below(r, 12) : 1 + fuzz_below(r, 2);
		w[0] = n;
		w[1] = fuzz_one_in(r, 20) ? fuzz_next(r) : 0;
		for (i = 0; i < n && i < 8; i++) {
			g[i].gpa = fuzz_one_in(r, 4) ? fuzz_int(r, 0) : i * GMEM;
			g[i].size = fuzz_one_in(r, 4) ? fuzz_int(r, GMEM) : GMEM;
			g[i].qemu_va = fuzz_one_in(r, 4) ? fuzz_int(r, 0x7f0000000000ULL) :
				       0x7f0000000000ULL + i * GMEM;
			g[i].mmap_offset = fuzz_one_in(r, 4) ? fuzz_int(r, 0) : 0;
		}
		*nfds_hint = n;
		return 8 + 32 * (n < 8 ? n : 8);
	}
	case VU_SET_VRING_NUM: case VU_SET_VRING_BASE: case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		w[0] = fuzz_one_in(r, 6) ? fuzz_int(r, 0) : fuzz_below(r, 5);
		w[1] = fuzz_one_in(r, 3) ? fuzz_int(r, 256) : 1U << fuzz_below(r, 9);
		return 8;
	case VU_SET_VRING_ADDR:
		w[0] = fuzz_one_in(r, 6) ? fuzz_int(r, 0) : fuzz_below(r, 5);
		w[1] = fuzz_one_in(r, 6) ? fuzz_next(r) : 0;
		for (i = 1; i < 5; i++)
			u[i] = fuzz_one_in(r, 4) ? fuzz_int(r, 0x7f0000000000ULL) :
			       0x7f0000000000ULL + fuzz_below(r, 4) * 0x4000 +
			       (i - 1) * 0x1000 + (fuzz_one_in(r, 8) ? fuzz_below(r, 16) : 0);
		return 40;
	case VU_SET_VRING_KICK: case VU_SET_VRING_CALL: case VU_SET_VRING_ERR:
	case VU_SET_LOG_FD:
		u[0] = fuzz_one_in(r, 5) ? fuzz_int(r, 0) :
		       fuzz_below(r, 5) | (fuzz_one_in(r, 4) ? VU_NOFD : 0);
		*nfds_hint = !(u[0] & VU_NOFD);
		return 8;
	case VU_GET_CONFIG: case VU_SET_CONFIG:
		w[0] = fuzz_one_in(r, 3) ? fuzz_int(r, 0) : fuzz_below(r, 64);
		w[1] = fuzz_one_in(r, 3) ? fuzz_int(r, 60) : fuzz_below(r, 64);
		w[2] = fuzz_one_in(r, 6) ? fuzz_next(r) : 0;
		return 12 + (w[1] < 256 ? w[1] : 256);
	default:
		if (fuzz_one_in(r, 4)) {
			fuzz_fill(r, p, 64);
			return fuzz_below(r, 64);
		}
		return fuzz_one_in(r, 2) ? 8 : 0;
	}
}

static void one_message(struct fuzz_rng *r, int s, uint32_t req)
{
	uint8_t b[sizeof(struct vu_hdr) + 1024];
	struct vu_hdr *h = (void *)b;
	int fds[16], nfds, hint, i;
	uint32_t len = payload(r, req, b + sizeof(*h), &hint);
	size_t total;

	h->request = req;
	h->flags = VU_VERSION | (fuzz_below(r, 2) ? VU_NEED_REPLY : 0);
	if (fuzz_one_in(r, 15))
		h->flags = fuzz_next(r);
	h->size = len;
	switch (fuzz_below(r, 14)) {
	case 0: h->size = fuzz_int(r, len); break;		/* what follows differs */
	case 1: h->size = MAX_PAYLOAD + 1 + fuzz_below(r, 64); break;
	case 2: len = fuzz_below(r, len + 1); break;		/* body cut short */
	}
	nfds = hint && fuzz_below(r, 4) ? hint : pick_fds(r, fds, 12);
	if (hint && nfds == hint)
		for (i = 0; i < nfds; i++)
			fds[i] = fuzz_one_in(r, 6) ? efd[0] : memfd;
	if (nfds > 12)
		nfds = 12;
	total = sizeof(*h) + (len < 1024 ? len : 1024);
	msgs++;
	if (fuzz_one_in(r, 12)) {
		/* the header in two pieces, the fds with the second */
		size_t cut = 1 + fuzz_below(r, sizeof(*h) - 1);

		if (send_msg(s, b, cut, NULL, 0) == 0)
			send_msg(s, b + cut, total - cut, fds, nfds);
		return;
	}
	send_msg(s, b, total, fds, nfds);
}

/* What QEMU sends to start one ring, then garbage in the ring, a kick. */
static void qemu_like(struct fuzz_rng *r, int s)
{
	static const uint32_t seq[] = {
		VU_GET_FEATURES, VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES,
		VU_GET_QUEUE_NUM, VU_GET_CONFIG, VU_SET_OWNER, VU_SET_FEATURES,
		VU_SET_MEM_TABLE, VU_SET_VRING_NUM, VU_SET_VRING_BASE, VU_SET_VRING_ADDR,
		VU_SET_VRING_CALL, VU_SET_VRING_KICK, VU_SET_VRING_ENABLE,
	};
	uint8_t b[sizeof(struct vu_hdr) + 512];
	struct vu_hdr *h = (void *)b;
	uint64_t *u = (uint64_t *)(b + sizeof(*h));
	uint32_t *w = (uint32_t *)u;
	bool slots = fuzz_one_in(r, 2);	/* memory by ADD_MEM_REG */
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		memset(b, 0, sizeof(b));
		h->request = seq[i];
		h->flags = VU_VERSION;
		fd = -1;
		switch (seq[i]) {
		case VU_SET_PROTOCOL_FEATURES:
			u[0] = 1ULL << 3;	/* REPLY_ACK */
			if (slots)
				u[0] |= 1ULL << 15;	/* CONFIGURE_MEM_SLOTS */
			h->size = 8;
			break;
		case VU_GET_CONFIG:
			w[0] = 0;
			w[1] = 60;
			h->size = 12 + 60;
			break;
		case VU_SET_FEATURES:
			u[0] = 1ULL << 32;	/* VERSION_1 */
			h->size = 8;
			break;
		case VU_SET_MEM_TABLE: {
			struct vu_region *g = (void *)(b + sizeof(*h) + 8);

			w[0] = !slots;	/* ADD_MEM_REG: 8 bytes of padding */
			if (slots)
				h->request = VU_ADD_MEM_REG;
			g->gpa = 0;
			g->size = GMEM;
			g->qemu_va = 0x7f0000000000ULL;
			h->size = 8 + 32;
			fd = memfd;
			break;
		}
		case VU_SET_VRING_NUM:
			w[1] = 1U << fuzz_below(r, 9);
			h->size = 8;
			break;
		case VU_SET_VRING_BASE: case VU_SET_VRING_ENABLE:
			w[1] = seq[i] == VU_SET_VRING_ENABLE;
			h->size = 8;
			break;
		case VU_SET_VRING_ADDR:
			u[1] = 0x7f0000000000ULL;
			u[2] = 0x7f0000000000ULL + 0x2000;
			u[3] = 0x7f0000000000ULL + 0x1000;
			h->size = 40;
			break;
		case VU_SET_VRING_CALL: case VU_SET_VRING_KICK:
			h->size = 8;
			fd = efd[seq[i] == VU_SET_VRING_KICK ? 1 : 2];
			break;
		}
		if (send_msg(s, b, sizeof(*h) + h->size, &fd, fd >= 0))
			return;
		msgs++;
		if (seq[i] == VU_GET_FEATURES || seq[i] == VU_GET_PROTOCOL_FEATURES ||
		    seq[i] == VU_GET_QUEUE_NUM || seq[i] == VU_GET_CONFIG)
			read_replies(s, 500);
	}
	/* guest memory garbage the kernel now reads as a ring */
	fuzz_fill(r, gmem, 0x3000);
	{
		uint64_t one = 1;

		if (write(efd[1], &one, 8) < 0)
			return;
	}
	usleep(fuzz_below(r, 20000));
}

/* A new connection answers a well-formed GET_FEATURES. */
static void check_answers(void)
{
	struct vu_hdr h = { VU_GET_FEATURES, VU_VERSION, 0 };
	struct pollfd p;
	uint8_t b[64];
	int s = connect_bridge(100);

	if (s < 0) {
		fuzz_finding("the bridge accepts no connection");
		return;
	}
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (send_msg(s, &h, sizeof(h), NULL, 0) || poll(&p, 1, 5000) != 1 ||
	    recv(s, b, sizeof(b), 0) != sizeof(h) + 8)
		fuzz_finding("the bridge did not answer GET_FEATURES on a new connection within 5 s");
	close(s);
}

/* Descriptors and mappings the bridge holds between connections. */
static void check_leaks(void)
{
	char path[64];
	int fds, maps, i;

	/* it is idle once it accepts again: make sure of that first */
	check_answers();
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/proc/%d/fd", bridge);
		fds = count_entries(path);
		snprintf(path, sizeof(path), "/proc/%d/maps", bridge);
		maps = count_lines(path);
		if (base_fds < 0) {
			base_fds = fds;
			base_maps = maps;
			return;
		}
		if (fds <= base_fds && maps <= base_maps)
			return;
		usleep(50000);
	}
	if (fds > base_fds + 2 || maps > base_maps + 2) {
		fuzz_finding("the bridge holds %d fds and %d mappings between connections (after the first: %d and %d)",
			     fds, maps, base_fds, base_maps);
		base_fds = fds;		/* report growth once per step */
		base_maps = maps;
	}
}

int main(int argc, char **argv)
{
	static const uint32_t known[] = {
		VU_GET_FEATURES, VU_SET_FEATURES, VU_SET_OWNER, VU_RESET_OWNER,
		VU_SET_MEM_TABLE, VU_SET_LOG_BASE, VU_SET_LOG_FD, VU_SET_VRING_NUM,
		VU_SET_VRING_ADDR, VU_SET_VRING_BASE, VU_GET_VRING_BASE, VU_SET_VRING_KICK,
		VU_SET_VRING_CALL, VU_SET_VRING_ERR, VU_GET_PROTOCOL_FEATURES,
		VU_SET_PROTOCOL_FEATURES, VU_GET_QUEUE_NUM, VU_SET_VRING_ENABLE,
		VU_GET_CONFIG, VU_SET_CONFIG, VU_GET_MAX_MEM_SLOTS, VU_ADD_MEM_REG,
		VU_REM_MEM_REG,
	};
	struct fuzz_rng r;
	char after[64];
	int fd, i;

	fz.threads = 1;
	fuzz_init(argc, argv, "fuzz_bridge");
	r.s = fuzz_thread_seed(0);
	if (getenv("KVMIO"))
		kvmio = getenv("KVMIO");
	if (access("/dev/vhost-blk", F_OK))
		fuzz_skip("no /dev/vhost-blk");
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-bridge-%d.sock", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/fuzz-bridge-%d.log", getpid());
	snprintf(img, sizeof(img), "/tmp/fuzz-bridge-%d.img", getpid());
	fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		fuzz_skip("cannot create the backing file");
	close(fd);
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, GMEM))
		fuzz_skip("memfd_create failed");
	gmem = mmap(NULL, GMEM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (gmem == MAP_FAILED)
		fuzz_skip("mmap failed");
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (i = 0; i < 4; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (start_bridge()) {
		log_tail();
		fuzz_skip("the bridge does not start (kvmio blk-serve)");
	}

	while (fuzz_tick()) {
		int s = connect_bridge(100), n, k;

		if (s < 0) {
			if (check_alive("a connect"))
				fuzz_finding("the bridge accepts no connection");
			continue;
		}
		conns++;
		fz_cur[0] = "a connection";
		if (fuzz_one_in(&r, 5))
			qemu_like(&r, s);
		n = fuzz_one_in(&r, 4) ? fuzz_below(&r, 60) : fuzz_below(&r, 12);
		for (k = 0; k < n; k++) {
			uint32_t req = fuzz_one_in(&r, 10) ? (uint32_t)fuzz_int(&r, 20) :
				       known[fuzz_below(&r, sizeof(known) / sizeof(known[0]))];

			one_message(&r, s, req);
			if (fuzz_one_in(&r, 3))
				read_replies(s, 5);
			if (fuzz_one_in(&r, 30))
				break;		/* disconnect mid-sequence */
		}
		read_replies(s, 20);
		close(s);
		fz_cur[0] = NULL;
		snprintf(after, sizeof(after), "connection %llu", (unsigned long long)conns);
		if (check_alive(after) && conns % 16 == 1)
			check_leaks();
	}
	check_leaks();
	fuzz_log("%llu connections, %llu messages, %llu replies, %llu bridge restarts",
		 (unsigned long long)conns, (unsigned long long)msgs,
		 (unsigned long long)replies, (unsigned long long)restarts);
	kill(bridge, SIGTERM);
	waitpid(bridge, NULL, 0);
	unlink(sock_path);
	unlink(img);
	if (!fz_findings)
		unlink(log_path);
	return fuzz_finish();
}
