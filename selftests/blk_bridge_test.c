// SPDX-License-Identifier: GPL-2.0
/*
 * blk_bridge_test - kvmio blk-serve against a hostile vhost-user front end.
 *
 * Each test starts the bridge (kvmio blk-serve, not --once) on a tmpfs
 * image and talks to its unix socket as QEMU would, or as QEMU must not:
 *
 *   - messages cut short, with a size larger than any payload, with a size
 *     that does not match the request, with descriptors on requests that
 *     take none, with two SCM_RIGHTS batches, with more descriptors than
 *     the bridge accepts (its control buffer is truncated, MSG_CTRUNC): each
 *     is refused (an error ack, or the connection closed), and afterwards
 *     the bridge still serves a new connection and holds exactly as many
 *     descriptors as before (/proc/<pid>/fd);
 *   - GET_FEATURES and GET_PROTOCOL_FEATURES offer only what the bridge
 *     implements (VHOST_F_LOG_ALL with LOG_SHMFD), bits not offered are
 *     refused, and VHOST_F_LOG_ALL without a dirty log is refused;
 *   - a minimal vhost-user driver (lib/virtq_driver.h) does real I/O
 *     through the bridge and vhost_blk, and the memory table changes
 *     (a region added, then removed) while the ring runs, requests in
 *     flight: the requests complete and I/O keeps working; a table
 *     without the running ring is refused;
 *   - memory slots (CONFIGURE_MEM_SLOTS): GET_MAX_MEM_SLOTS, guest memory
 *     given by ADD_MEM_REG, a region added and removed while writes are in
 *     flight, the table filled to the limit and emptied again, and the
 *     malformed cases (size 0, overflows, a region past its file, overlap,
 *     a removal of a region that is not there, descriptor counts, no
 *     negotiation): each refused with an error ack, and afterwards the
 *     bridge holds exactly the descriptors and mappings it held before
 *     (/proc/<pid>/fd, /proc/<pid>/maps);
 *   - blk-serve's --iops/--bps/--burst/--group/--offset/--length/--weight
 *     reach the device (serve_limits_and_range);
 *   - online resize (resize_config_change): a backend that grows or
 *     shrinks (noticed within a second, or at once on SIGHUP) is resized
 *     on the device and announced on the backend channel with
 *     CONFIG_CHANGE_MSG; GET_CONFIG then reports the new capacity;
 *   - the dirty log of a live migration (dirty_log): QEMU's bitmap gets
 *     the pages the device wrote (read data, status, used ring) while
 *     VHOST_F_LOG_ALL is acked, a new log takes over, a log smaller than
 *     the memory table is refused;
 *   - as kvmio-blk@.service runs it (service_sigterm): options from
 *     --config, the socket's owner, group and mode, a pid file, READY=1 on
 *     $NOTIFY_SOCKET; SIGTERM with writes in flight ends it with exit 0,
 *     STOPPING=1, socket and pid file removed, no vhost_blk device left,
 *     and every write whose status was written is on the backend.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>

#include "lib/kt_test.h"
#include "lib/virtq_driver.h"

/* vhost-user (docs/interop/vhost-user.rst in QEMU) */
#define VU_GET_FEATURES			1
#define VU_SET_FEATURES			2
#define VU_SET_OWNER			3
#define VU_SET_MEM_TABLE		5
#define VU_SET_LOG_BASE			6
#define VU_SET_VRING_NUM		8
#define VU_SET_VRING_ADDR		9
#define VU_SET_VRING_BASE		10
#define VU_GET_VRING_BASE		11
#define VU_SET_VRING_KICK		12
#define VU_SET_VRING_CALL		13
#define VU_GET_PROTOCOL_FEATURES	15
#define VU_SET_PROTOCOL_FEATURES	16
#define VU_GET_QUEUE_NUM		17
#define VU_SET_VRING_ENABLE		18
#define VU_SET_BACKEND_REQ_FD		21
#define VU_GET_CONFIG			24
#define VU_GET_MAX_MEM_SLOTS		36
#define VU_ADD_MEM_REG			37
#define VU_REM_MEM_REG			38

#define VU_VERSION		0x1
#define VU_REPLY		0x4
#define VU_NEED_REPLY		0x8
#define VU_F_PROTOCOL_FEATURES	30
#define VU_PF_MQ		0
#define VU_PF_LOG_SHMFD		1
#define VU_PF_REPLY_ACK		3
#define VU_PF_BACKEND_REQ	5
#define VU_PF_CONFIG		9
#define VU_PF_CONFIGURE_MEM_SLOTS 15
#define VU_VRING_NOFD		(1ULL << 8)
#define VU_MAX_FDS		8	/* what the bridge accepts per message */

struct vu_region {
	uint64_t gpa, size, qemu_va, mmap_offset;
};

struct vu_msg {
	uint32_t request, flags, size;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct {
			uint32_t nregions, padding;
			struct vu_region regions[8];
		} mem;
		struct {
			uint64_t padding;
			struct vu_region region;
		} memreg;
		uint8_t bytes[4096];
	} p;
} __attribute__((packed));

#define HDR	12

#define IMG_SIZE	(16UL << 20)
#define GPA_BASE	0x100000000ULL
#define GMEM_SIZE	(4UL << 20)
#define EXTRA_SIZE	(1UL << 20)
#define QNUM		64
#define HDR_OFF		(64UL << 10)
#define DATA_OFF	(1UL << 20)
#define BS		4096
#define NREQ		8
#define WAIT_MS		10000

FIXTURE(br) {
	pid_t pid;
	char sock[64], log[64], img[64];
	int baseline;		/* the bridge's descriptors with one connection */
};

/* Descriptors the process @pid holds. */
static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int vu_sendv(int s, struct iovec *iov, int niov, const int *fds, int nfds)
{
	char control[CMSG_SPACE(32 * sizeof(int))];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = niov };
	struct cmsghdr *c;
	size_t len = 0;
	int i;

	for (i = 0; i < niov; i++)
		len += iov[i].iov_len;
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

/* Any bytes (a whole message or a piece of one) with descriptors. */
static int vu_send_raw(int s, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return vu_sendv(s, &iov, 1, fds, nfds);
}

static int vu_send(int s, uint32_t req, uint32_t flags, const void *payload,
		   uint32_t size, const int *fds, int nfds)
{
	struct vu_msg m = { .request = req, .flags = VU_VERSION | flags, .size = size };

	if (size > sizeof(m.p))
		return -1;
	if (size)
		memcpy(&m.p, payload, size);
	return vu_send_raw(s, &m, HDR + size, fds, nfds);
}

/* A reply: 1, 0 if the bridge closed the connection, -1 on error or timeout. */
static int vu_recv(int s, struct vu_msg *m)
{
	size_t got = 0, want = HDR;
	ssize_t n;

	while (got < want) {
		n = recv(s, (char *)m + got, want - got, 0);
		if (n == 0 && got == 0)
			return 0;
		if (n <= 0)
			return n == 0 || errno == ECONNRESET ? 0 : -1;
		got += n;
		if (got == HDR && want == HDR) {
			if (m->size > sizeof(m->p))
				return -1;
			want += m->size;
		}
	}
	return 1;
}

/*
 * A request that takes an ack (REPLY_ACK negotiated): 0 acked, 1 refused
 * with an error ack, 2 refused by closing the connection, -1 broken.
 */
static int vu_ack_result(int s, uint32_t req)
{
	struct vu_msg m;
	int r;

	r = vu_recv(s, &m);
	if (r <= 0)
		return r == 0 ? 2 : -1;
	if (m.request != req || !(m.flags & VU_REPLY) || m.size != 8)
		return -1;
	return m.p.u64 ? 1 : 0;
}

static int vu_ack(int s, uint32_t req, const void *payload, uint32_t size,
		  const int *fds, int nfds)
{
	if (vu_send(s, req, VU_NEED_REPLY, payload, size, fds, nfds))
		return errno == EPIPE || errno == ECONNRESET ? 2 : -1;
	return vu_ack_result(s, req);
}

/* A request with a u64 reply: 1 and *@v, 0 connection closed, -1 broken. */
static int vu_get_u64(int s, uint32_t req, uint64_t *v)
{
	struct vu_msg m;
	int r;

	if (vu_send(s, req, 0, NULL, 0, NULL, 0))
		return errno == EPIPE || errno == ECONNRESET ? 0 : -1;
	r = vu_recv(s, &m);
	if (r <= 0)
		return r;
	if (m.request != req || !(m.flags & VU_REPLY) || m.size != 8)
		return -1;
	*v = m.p.u64;
	return 1;
}

static int vu_set_u64(int s, uint32_t req, uint64_t v)
{
	return vu_ack(s, req, &v, sizeof(v), NULL, 0);
}

static int vu_state(int s, uint32_t req, unsigned int idx, unsigned int num)
{
	struct vhost_vring_state st = { .index = idx, .num = num };

	return vu_ack(s, req, &st, sizeof(st), NULL, 0);
}

static int vu_connect(struct kt_fix_br *self)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int s;

	strcpy(sa.sun_path, self->sock);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return s;
}

/*
 * A connection as QEMU opens it: GET_FEATURES answered, REPLY_ACK and the
 * protocol features @pf negotiated (checked by an acked SET_OWNER).  -1 if
 * the bridge does not serve.
 */
static int vu_open_pf(struct kt_fix_br *self, uint64_t pf)
{
	uint64_t f;
	int s = vu_connect(self);

	if (s < 0)
		return -1;
	pf |= 1ULL << VU_PF_REPLY_ACK;
	if (vu_get_u64(s, VU_GET_FEATURES, &f) != 1 ||
	    vu_send(s, VU_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0) ||
	    vu_ack(s, VU_SET_OWNER, NULL, 0, NULL, 0) != 0) {
		close(s);
		return -1;
	}
	return s;
}

static int vu_open(struct kt_fix_br *self)
{
	return vu_open_pf(self, 0);
}

/* Mappings of the memfd called @name that the process @pid holds. */
static int map_count(pid_t pid, const char *name)
{
	char path[64], line[512], pat[64];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	snprintf(pat, sizeof(pat), "/memfd:%s ", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, pat))
			n++;
	fclose(f);
	return n;
}

/* The bridge answers a new connection and holds no more descriptors. */
static void still_serves(struct kt_ctx *_kt, struct kt_fix_br *self)
{
	int s = vu_open(self);

	ASSERT_GE(s, 0);
	EXPECT_EQ(fd_count(self->pid), self->baseline);
	close(s);
}

/* Still serves on @s, a connection it kept; no descriptor held. */
static void conn_serves(struct kt_ctx *_kt, struct kt_fix_br *self, int s)
{
	uint64_t q;

	ASSERT_EQ(vu_get_u64(s, VU_GET_QUEUE_NUM, &q), 1);
	EXPECT_EQ(q, 2);
	EXPECT_EQ(fd_count(self->pid), self->baseline);
}

/* Refused: an error ack or the connection closed, never a success. */
#define EXPECT_REFUSED(r)						\
	do {								\
		int _r = (r);						\
		if (_r != 1 && _r != 2) {				\
			KT_LOG("%s:%d: %s: accepted or broken (%d)",	\
			       __FILE__, __LINE__, #r, _r);		\
			kt_fail(_kt, 0);				\
		}							\
	} while (0)

static void make_fds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
}

static void close_all(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

FIXTURE_SETUP(br)
{
	int fd, i, s = -1;

	if (access("/dev/vhost-blk", F_OK))
		SKIP("no /dev/vhost-blk (vhost_blk not loaded)");
	snprintf(self->sock, sizeof(self->sock), "/tmp/blk-bridge-%d.sock", getpid());
	snprintf(self->log, sizeof(self->log), "/tmp/blk-bridge-%d.log", getpid());
	snprintf(self->img, sizeof(self->img), "/tmp/blk-bridge-%d.img", getpid());
	fd = open(self->img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, IMG_SIZE));
	close(fd);
	self->pid = fork();
	ASSERT_GE(self->pid, 0);
	if (!self->pid) {
		fd = open(self->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execlp("kvmio", "kvmio", "blk-serve", "--socket", self->sock,
		       "--backend", self->img, "--queues", "2", "--verbose", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && s < 0; i++) {
		s = vu_open(self);
		if (s < 0)
			usleep(10000);
	}
	ASSERT_GE(s, 0);
	self->baseline = fd_count(self->pid);
	ASSERT_GT(self->baseline, 0);
	KT_LOG("bridge %d holds %d descriptors with one connection", (int)self->pid,
	       self->baseline);
	close(s);
}

FIXTURE_TEARDOWN(br)
{
	char line[256];
	FILE *f;

	if (self->pid > 0) {
		kill(self->pid, SIGTERM);
		waitpid(self->pid, NULL, 0);
	}
	f = _kt->failed ? fopen(self->log, "r") : NULL;
	if (f) {
		while (fgets(line, sizeof(line), f))
			KT_LOG("bridge: %.*s", (int)strcspn(line, "\n"), line);
		fclose(f);
	}
	unlink(self->sock);
	unlink(self->log);
	unlink(self->img);
}

/* Messages cut short, descriptors attached; the front end goes away. */
TEST_F(br, short_messages)
{
	struct vu_msg m = { .request = VU_SET_VRING_CALL, .flags = VU_VERSION, .size = 8 };
	int fds[2], s;

	/* half a header */
	s = vu_connect(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 2);
	ASSERT_OK(vu_send_raw(s, &m, 6, fds, 2));
	close_all(fds, 2);
	close(s);
	still_serves(_kt, self);

	/* a header, half its payload: disconnect inside a message */
	s = vu_connect(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 1);
	ASSERT_OK(vu_send_raw(s, &m, HDR + 4, fds, 1));
	close_all(fds, 1);
	close(s);
	still_serves(_kt, self);

	/* half a header, with the rest never sent, after a good message */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 2);
	ASSERT_OK(vu_send_raw(s, &m, 3, fds, 2));
	close_all(fds, 2);
	close(s);
	still_serves(_kt, self);
}

/* A size no payload has: the connection closes, nothing is kept. */
TEST_F(br, oversized_size)
{
	struct vu_msg m = { .request = VU_SET_MEM_TABLE, .flags = VU_VERSION,
			    .size = 4096 };
	int fds[3], s;

	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 3);
	ASSERT_OK(vu_send_raw(s, &m, HDR + 512, fds, 3));
	close_all(fds, 3);
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);

	/* the largest size there is */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	m.size = 0xffffffff;
	make_fds(fds, 1);
	ASSERT_OK(vu_send_raw(s, &m, HDR, fds, 1));
	close_all(fds, 1);
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);
}

/* A size that does not match the request's payload is refused. */
TEST_F(br, size_not_the_requests)
{
	struct vhost_vring_state st = { .index = 0, .num = 1 };
	uint8_t junk[64] = { 0 };
	struct vu_msg m;
	uint64_t v;
	int s;

	s = vu_open(self);
	ASSERT_GE(s, 0);
	/* cut short: the missing bytes must not be taken from anywhere */
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_ENABLE, &st, 4, NULL, 0));
	st.num = 64;
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_NUM, &st, 4, NULL, 0));
	/* too long */
	memcpy(junk, &st, sizeof(st));
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_NUM, junk, 16, NULL, 0));
	EXPECT_REFUSED(vu_ack(s, VU_SET_FEATURES, junk, 16, NULL, 0));
	EXPECT_REFUSED(vu_ack(s, VU_SET_OWNER, junk, 8, NULL, 0));
	/* a memory table longer than its regions */
	EXPECT_REFUSED(vu_ack(s, VU_SET_MEM_TABLE, junk, 8 + 32 + 8, NULL, 0));
	close(s);
	still_serves(_kt, self);

	/* a request with a reply of its own closes the connection */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	ASSERT_OK(vu_send(s, VU_GET_FEATURES, 0, junk, 8, NULL, 0));
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);

	/* GET_CONFIG: its size says 12 + 8 bytes, the payload has 12 + 4 */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	memset(junk, 0, sizeof(junk));
	junk[4] = 8;	/* config.size */
	ASSERT_OK(vu_send(s, VU_GET_CONFIG, 0, junk, 16, NULL, 0));
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);

	/* the bridge that refused kept serving the first connection */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	st.num = 1;
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_ENABLE, &st, 4, NULL, 0));
	conn_serves(_kt, self, s);
	EXPECT_EQ(vu_get_u64(s, VU_GET_PROTOCOL_FEATURES, &v), 1);
	close(s);
}

/* Descriptors on requests that take none (or fewer) are refused. */
TEST_F(br, fds_where_none_belong)
{
	struct vhost_vring_state st = { .index = 0, .num = 64 };
	uint64_t u = 0;
	struct vu_msg m;
	int fds[2], s;

	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 2);
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_NUM, &st, sizeof(st), fds, 1));
	EXPECT_REFUSED(vu_ack(s, VU_SET_OWNER, NULL, 0, fds, 2));
	/* "no descriptor" flag, one attached */
	u = 0 | VU_VRING_NOFD;
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_CALL, &u, 8, fds, 1));
	/* two where one belongs */
	u = 0;
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_CALL, &u, 8, fds, 2));
	/* a memory table of no region with a descriptor */
	EXPECT_REFUSED(vu_ack(s, VU_SET_MEM_TABLE, &u, 8, fds, 1));
	close_all(fds, 2);
	close(s);
	still_serves(_kt, self);

	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 1);
	ASSERT_OK(vu_send(s, VU_GET_FEATURES, 0, NULL, 0, fds, 1));
	close_all(fds, 1);
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);
}

/* Two SCM_RIGHTS batches in one message: refused, none kept. */
TEST_F(br, two_fd_batches)
{
	struct vu_msg m = { .request = VU_SET_VRING_CALL,
			    .flags = VU_VERSION | VU_NEED_REPLY, .size = 8 };
	int a[2], b[2], s;

	/* the header with one batch, the payload with another */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(a, 1);
	make_fds(b, 2);
	m.p.u64 = 0;
	ASSERT_OK(vu_send_raw(s, &m, HDR, a, 1));
	ASSERT_OK(vu_send_raw(s, &m.p, 8, b, 2));
	close_all(a, 1);
	close_all(b, 2);
	EXPECT_REFUSED(vu_ack_result(s, VU_SET_VRING_CALL));
	close(s);
	still_serves(_kt, self);

	/* the header in two pieces, each with a batch */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(a, 2);
	make_fds(b, 1);
	m.request = VU_SET_VRING_CALL;
	m.flags = VU_VERSION | VU_NEED_REPLY;
	m.size = 8;
	m.p.u64 = 1;
	ASSERT_OK(vu_send_raw(s, &m, 6, a, 2));
	usleep(100000);
	ASSERT_OK(vu_send_raw(s, (char *)&m + 6, HDR - 6 + 8, b, 1));
	close_all(a, 2);
	close_all(b, 1);
	EXPECT_EQ(vu_recv(s, &m), 0);
	close(s);
	still_serves(_kt, self);
}

/* More descriptors than the bridge's control buffer holds (MSG_CTRUNC). */
TEST_F(br, control_truncated)
{
	uint64_t u = 0;
	int fds[VU_MAX_FDS + 4], s;

	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, VU_MAX_FDS + 4);
	EXPECT_REFUSED(vu_ack(s, VU_SET_VRING_CALL, &u, 8, fds, VU_MAX_FDS + 4));
	close_all(fds, VU_MAX_FDS + 4);
	close(s);
	still_serves(_kt, self);
}

/* Only what is implemented is offered; what is not offered is refused. */
TEST_F(br, features_only_implemented)
{
	uint64_t f, pf;
	int s;

	s = vu_open(self);
	ASSERT_GE(s, 0);
	ASSERT_EQ(vu_get_u64(s, VU_GET_FEATURES, &f), 1);
	KT_LOG("features %#llx", (unsigned long long)f);
	EXPECT_TRUE(f & (1ULL << VHOST_F_LOG_ALL));
	EXPECT_TRUE(f & (1ULL << VIRTIO_F_VERSION_1));
	EXPECT_TRUE(f & (1ULL << VU_F_PROTOCOL_FEATURES));
	ASSERT_EQ(vu_get_u64(s, VU_GET_PROTOCOL_FEATURES, &pf), 1);
	KT_LOG("protocol features %#llx", (unsigned long long)pf);
	EXPECT_EQ(pf & ~((1ULL << VU_PF_MQ) | (1ULL << VU_PF_REPLY_ACK) |
			 (1ULL << VU_PF_LOG_SHMFD) | (1ULL << VU_PF_CONFIG) |
			 (1ULL << VU_PF_CONFIGURE_MEM_SLOTS) | (1ULL << VU_PF_BACKEND_REQ)), 0);
	EXPECT_TRUE(pf & (1ULL << VU_PF_REPLY_ACK));
	EXPECT_TRUE(pf & (1ULL << VU_PF_CONFIGURE_MEM_SLOTS));
	EXPECT_TRUE(pf & (1ULL << VU_PF_LOG_SHMFD));

	/* dirty logging before any log was set */
	EXPECT_REFUSED(vu_set_u64(s, VU_SET_FEATURES,
				  (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VHOST_F_LOG_ALL)));
	EXPECT_REFUSED(vu_set_u64(s, VU_SET_PROTOCOL_FEATURES,
				  (1ULL << VU_PF_REPLY_ACK) | (1ULL << 2)));
	EXPECT_EQ(vu_set_u64(s, VU_SET_FEATURES, f & ~((1ULL << VIRTIO_F_RING_PACKED) |
							(1ULL << VHOST_F_LOG_ALL))), 0);
	EXPECT_REFUSED(vu_set_u64(s, VU_SET_LOG_BASE, 0));
	close(s);
	still_serves(_kt, self);
}

/* The capacity GET_CONFIG reports (sectors); -1 on a broken reply. */
static int config_capacity(int s, uint64_t *cap)
{
	struct {
		uint32_t offset, size, flags;
		uint8_t region[8];
	} __attribute__((packed)) c = { .offset = 0, .size = 8 };
	struct vu_msg m;

	if (vu_send(s, VU_GET_CONFIG, 0, &c, sizeof(c), NULL, 0) ||
	    vu_recv(s, &m) != 1 || m.request != VU_GET_CONFIG ||
	    !(m.flags & VU_REPLY) || m.size != sizeof(c))
		return -1;
	memcpy(cap, m.p.bytes + 12, sizeof(*cap));
	return 0;
}

/* A CONFIG_CHANGE_MSG (no payload, no reply asked) within @ms: 0, else -1. */
static int backend_msg(int bs, int ms)
{
	struct pollfd p = { .fd = bs, .events = POLLIN };
	uint32_t h[3];

	if (poll(&p, 1, ms) != 1)
		return -1;
	if (recv(bs, h, sizeof(h), MSG_DONTWAIT) != sizeof(h))
		return -1;
	return h[0] == 2 && h[1] == VU_VERSION && h[2] == 0 ? 0 : -1;
}

TEST_F_TIMEOUT(br, resize_config_change, 60)
{
	uint64_t pf, cap;
	int s, sv[2], fd;

	s = vu_connect(self);
	ASSERT_GE(s, 0);
	ASSERT_EQ(vu_get_u64(s, VU_GET_PROTOCOL_FEATURES, &pf), 1);
	ASSERT_TRUE(pf & (1ULL << VU_PF_BACKEND_REQ));
	ASSERT_OK(vu_send(s, VU_SET_PROTOCOL_FEATURES, 0,
			  &(uint64_t){ (1ULL << VU_PF_REPLY_ACK) | (1ULL << VU_PF_CONFIG) |
				       (1ULL << VU_PF_BACKEND_REQ) }, 8, NULL, 0));
	ASSERT_EQ(vu_ack(s, VU_SET_OWNER, NULL, 0, NULL, 0), 0);
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(vu_ack(s, VU_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1), 0);
	close(sv[1]);
	ASSERT_OK(config_capacity(s, &cap));
	EXPECT_EQ(cap, IMG_SIZE / 512);
	fd = open(self->img, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	/* grown: noticed by its look once a second */
	ASSERT_OK(ftruncate(fd, 2 * IMG_SIZE));
	EXPECT_OK(backend_msg(sv[0], 5000));
	ASSERT_OK(config_capacity(s, &cap));
	EXPECT_EQ(cap, 2 * IMG_SIZE / 512);
	/* shrunk, and told with SIGHUP */
	ASSERT_OK(ftruncate(fd, IMG_SIZE / 2));
	ASSERT_OK(kill(self->pid, SIGHUP));
	EXPECT_OK(backend_msg(sv[0], 5000));
	ASSERT_OK(config_capacity(s, &cap));
	EXPECT_EQ(cap, IMG_SIZE / 2 / 512);
	/* nothing changed: nothing sent */
	EXPECT_NE(backend_msg(sv[0], 2500), 0);
	ASSERT_OK(ftruncate(fd, IMG_SIZE));
	close(fd);
	close(sv[0]);
	close(s);
	still_serves(_kt, self);
}

/* A vhost_blk sysfs value of the device the bridge @pid holds; -1: none. */
static long long bridge_sysfs(pid_t pid, const char *name)
{
	char prefix[32], path[320], buf[32];
	long long v = -1;
	struct dirent *e;
	ssize_t n;
	DIR *d;
	int fd;

	snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
	d = opendir("/sys/kernel/vhost_blk");
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)))
			break;
	if (e) {
		snprintf(path, sizeof(path), "/sys/kernel/vhost_blk/%s/%s", e->d_name, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			if (n > 0) {
				buf[n] = 0;
				v = atoll(buf);
			}
			close(fd);
		}
	}
	closedir(d);
	return v;
}

/* blk-serve with one more option, which it must refuse: its exit status. */
static int serve_status(const char *img, const char *opt, const char *val)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("kvmio", "kvmio", "blk-serve", "--socket", "/tmp/blk-bridge-opt.sock",
		       "--backend", img, opt, val, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * blk-serve's I/O limit and range options reach the device: the limits in
 * its sysfs directory, the range's size in GET_CONFIG; bad values are
 * refused before anything is served.
 */
TEST_TIMEOUT(serve_limits_and_range, 60)
{
	struct kt_fix_br br = { 0 };
	uint64_t cap;
	int fd, s = -1, i;

	if (access("/dev/vhost-blk", F_OK))
		SKIP("no /dev/vhost-blk (vhost_blk not loaded)");
	snprintf(br.sock, sizeof(br.sock), "/tmp/blk-bridge-%d.sock", getpid());
	snprintf(br.img, sizeof(br.img), "/tmp/blk-bridge-%d.img", getpid());
	fd = open(br.img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, IMG_SIZE));
	close(fd);
	EXPECT_EQ(serve_status(br.img, "--weight", "0"), 1);
	EXPECT_EQ(serve_status(br.img, "--iops", "12x"), 1);
	EXPECT_EQ(serve_status(br.img, "--bps", "-5"), 1);
	br.pid = fork();
	ASSERT_GE(br.pid, 0);
	if (!br.pid) {
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("kvmio", "kvmio", "blk-serve", "--socket", br.sock, "--backend", br.img,
		       "--iops", "300", "--bps-wr", "2m", "--burst-iops", "30", "--group", "9",
		       "--offset", "1m", "--length", "4m", "--weight", "7", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && s < 0; i++) {
		s = vu_open(&br);
		if (s < 0)
			usleep(10000);
	}
	ASSERT_GE(s, 0);
	ASSERT_OK(config_capacity(s, &cap));
	EXPECT_EQ(cap, (4 << 20) / 512);
	EXPECT_EQ(bridge_sysfs(br.pid, "iops_total"), 300);
	EXPECT_EQ(bridge_sysfs(br.pid, "bps_wr"), 2 << 20);
	EXPECT_EQ(bridge_sysfs(br.pid, "burst_iops_total"), 30);
	EXPECT_EQ(bridge_sysfs(br.pid, "throttle_group"), 9);
	close(s);
	kill(br.pid, SIGTERM);
	waitpid(br.pid, NULL, 0);
	unlink(br.sock);
	unlink(br.img);
}

/* The guest's memory, a ring in it, and the eventfds of the ring. */
struct drv {
	int s;
	int memfd, extrafd, kick, call;
	uint8_t *mem, *extra;
	struct vqd q;
	unsigned int done;
};

enum { TABLE_GUEST, TABLE_BOTH, TABLE_EXTRA };

/* The guest memory, the extra region and the guest memory, or the extra one. */
static int drv_mem_table(struct drv *d, int which)
{
	struct {
		uint32_t nregions, padding;
		struct vu_region r[2];
	} t = { 0 };
	int fds[2], n = 0;

	if (which != TABLE_GUEST) {
		t.r[n] = (struct vu_region){ .gpa = 0, .size = EXTRA_SIZE,
					     .qemu_va = (uintptr_t)d->extra };
		fds[n++] = d->extrafd;
	}
	if (which != TABLE_EXTRA) {
		t.r[n] = (struct vu_region){ .gpa = GPA_BASE, .size = GMEM_SIZE,
					     .qemu_va = (uintptr_t)d->mem };
		fds[n++] = d->memfd;
	}
	t.nregions = n;
	return vu_ack(d->s, VU_SET_MEM_TABLE, &t, 8 + n * sizeof(t.r[0]), fds, n);
}

/* ADD_MEM_REG or REM_MEM_REG of one region; vu_ack()'s result. */
static int mem_reg(int s, uint32_t req, uint64_t gpa, uint64_t size, const void *qva,
		   uint64_t off, const int *fds, int nfds)
{
	struct vu_msg m;

	memset(&m.p.memreg, 0, sizeof(m.p.memreg));
	m.p.memreg.region = (struct vu_region){ .gpa = gpa, .size = size,
						.qemu_va = (uintptr_t)qva, .mmap_offset = off };
	return vu_ack(s, req, &m.p.memreg, sizeof(m.p.memreg), fds, nfds);
}

/*
 * Start ring 0; its memory by SET_MEM_TABLE, or with @slots (the
 * connection negotiated CONFIGURE_MEM_SLOTS) by ADD_MEM_REG, as QEMU
 * sends it then.
 */
static void drv_start_ex(struct kt_ctx *_kt, struct drv *d, bool slots)
{
	struct vhost_vring_addr a = { .index = 0 };
	uint64_t f, u;

	d->memfd = memfd_create("guest", MFD_CLOEXEC);
	d->extrafd = memfd_create("dimm", MFD_CLOEXEC);
	ASSERT_GE(d->memfd, 0);
	ASSERT_GE(d->extrafd, 0);
	ASSERT_OK(ftruncate(d->memfd, GMEM_SIZE));
	ASSERT_OK(ftruncate(d->extrafd, EXTRA_SIZE));
	/* guest memory, then room for a DIMM right above it (HOT_GPA) */
	d->mem = mmap(NULL, GMEM_SIZE + EXTRA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	ASSERT_TRUE(d->mem != MAP_FAILED);
	d->mem = mmap(d->mem, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		      d->memfd, 0);
	d->extra = mmap(NULL, EXTRA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d->extrafd, 0);
	ASSERT_TRUE(d->mem != MAP_FAILED);
	ASSERT_TRUE(d->extra != MAP_FAILED);
	ASSERT_OK(vqd_init(&d->q, d->mem, GPA_BASE, GMEM_SIZE, 0, QNUM, false));
	d->kick = eventfd(0, EFD_CLOEXEC);
	d->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(d->kick, 0);
	ASSERT_GE(d->call, 0);

	ASSERT_EQ(vu_get_u64(d->s, VU_GET_FEATURES, &f), 1);
	ASSERT_TRUE(f & (1ULL << VIRTIO_F_VERSION_1));
	ASSERT_EQ(vu_set_u64(d->s, VU_SET_FEATURES, (1ULL << VIRTIO_F_VERSION_1) |
			     (1ULL << VU_F_PROTOCOL_FEATURES)), 0);
	if (slots)
		ASSERT_EQ(mem_reg(d->s, VU_ADD_MEM_REG, GPA_BASE, GMEM_SIZE, d->mem, 0,
				  &d->memfd, 1), 0);
	else
		ASSERT_EQ(drv_mem_table(d, TABLE_GUEST), 0);
	ASSERT_EQ(vu_state(d->s, VU_SET_VRING_NUM, 0, QNUM), 0);
	ASSERT_EQ(vu_state(d->s, VU_SET_VRING_BASE, 0, 0), 0);
	a.desc_user_addr = (uintptr_t)d->q.desc;
	a.avail_user_addr = (uintptr_t)d->q.avail;
	a.used_user_addr = (uintptr_t)d->q.used;
	ASSERT_EQ(vu_ack(d->s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	u = 0;
	ASSERT_EQ(vu_ack(d->s, VU_SET_VRING_CALL, &u, 8, &d->call, 1), 0);
	ASSERT_EQ(vu_ack(d->s, VU_SET_VRING_KICK, &u, 8, &d->kick, 1), 0);
	ASSERT_EQ(vu_state(d->s, VU_SET_VRING_ENABLE, 0, 1), 0);
}

static void drv_start(struct kt_ctx *_kt, struct drv *d)
{
	drv_start_ex(_kt, d, false);
}

static uint8_t *drv_data(struct drv *d, unsigned int i)
{
	return d->mem + DATA_OFF + (size_t)i * BS;
}

/*
 * Queue @n requests of @type on blocks 0..n-1, block i's data at @data +
 * i * BS (guest memory or the DIMM above it); kick.
 */
static int drv_queue_at(struct drv *d, uint32_t type, unsigned int n, uint8_t *data)
{
	uint64_t one = 1;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct virtio_blk_outhdr *h = (void *)(d->mem + HDR_OFF + 32 * i);
		uint8_t *st = (uint8_t *)h + 16;

		h->type = type;
		h->ioprio = 0;
		h->sector = (uint64_t)i * (BS / 512);
		*st = 0xff;
		if (vqd_add_blk(&d->q, h, data + (size_t)i * BS, BS, st, NULL) < 0)
			return -1;
	}
	vqd_publish(&d->q);
	return write(d->kick, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static int drv_queue(struct drv *d, uint32_t type, unsigned int n)
{
	return drv_queue_at(d, type, n, drv_data(d, 0));
}

/* Wait for @n completions; 0, or -1 after WAIT_MS. */
static int drv_wait(struct drv *d, unsigned int n)
{
	double end = kt_now() + WAIT_MS / 1000.0;
	unsigned int got = 0;
	uint64_t v;

	while (got < n) {
		struct pollfd p = { .fd = d->call, .events = POLLIN };

		if (vqd_pop_used(&d->q, NULL, NULL) >= 0) {
			got++;
			continue;
		}
		if (kt_now() > end)
			return -1;
		poll(&p, 1, 50);
		if (read(d->call, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -1;
	}
	d->done += n;
	return 0;
}

/* Every status byte of the last @n requests: VIRTIO_BLK_S_OK. */
static bool drv_status_ok(struct drv *d, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (d->mem[HDR_OFF + 32 * i + 16] != VIRTIO_BLK_S_OK)
			return false;
	return true;
}

static void fill(struct drv *d, unsigned int n, uint8_t seed)
{
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < BS; j++)
			drv_data(d, i)[j] = (uint8_t)(seed + i * 7 + j);
}

static bool check(const uint8_t *p, unsigned int i, uint8_t seed)
{
	unsigned int j;

	for (j = 0; j < BS; j++)
		if (p[j] != (uint8_t)(seed + i * 7 + j))
			return false;
	return true;
}

/* Read blocks 0..n-1 through the ring; each holds the pattern @seed. */
static void read_back(struct kt_ctx *_kt, struct drv *d, unsigned int n, uint8_t seed)
{
	unsigned int i;

	memset(d->mem + DATA_OFF, 0, (size_t)n * BS);
	ASSERT_OK(drv_queue(d, VIRTIO_BLK_T_IN, n));
	ASSERT_OK(drv_wait(d, n));
	EXPECT_TRUE(drv_status_ok(d, n));
	for (i = 0; i < n; i++)
		EXPECT_TRUE(check(drv_data(d, i), i, seed));
}

/*
 * The memory table changes while the ring runs, with writes in flight: a
 * region is added below guest memory (QEMU's memory hot-plug), then taken
 * away.  QEMU does not resend ring addresses; the bridge must move the
 * kernel's ring to its new mapping itself.  A table the running ring is
 * not in is refused, and the ring keeps working.
 */
TEST_F_TIMEOUT(br, mem_table_change_while_running, 120)
{
	struct drv d = { .s = -1 };
	uint8_t blk[BS];
	unsigned int i;
	int img;

	d.s = vu_open(self);
	ASSERT_GE(d.s, 0);
	drv_start(_kt, &d);

	fill(&d, NREQ, 1);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	read_back(_kt, &d, NREQ, 1);

	/* writes in flight while the table grows */
	fill(&d, NREQ, 2);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_EQ(drv_mem_table(&d, TABLE_BOTH), 0);
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	read_back(_kt, &d, NREQ, 2);

	/* and shrinks again, the ring idle */
	ASSERT_EQ(drv_mem_table(&d, TABLE_GUEST), 0);
	/* a table without the running ring is refused; the ring goes on */
	EXPECT_REFUSED(drv_mem_table(&d, TABLE_EXTRA));
	fill(&d, NREQ, 3);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	read_back(_kt, &d, NREQ, 3);

	/* the backend has what the ring wrote */
	img = open(self->img, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(img, 0);
	for (i = 0; i < NREQ; i++) {
		ASSERT_EQ(pread(img, blk, BS, (off_t)i * BS), BS);
		EXPECT_TRUE(check(blk, i, 3));
	}
	close(img);

	/* the ring stops where the driver is */
	{
		struct vhost_vring_state st = { .index = 0 };
		struct vu_msg m;

		ASSERT_OK(vu_send(d.s, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
		ASSERT_EQ(vu_recv(d.s, &m), 1);
		EXPECT_EQ(m.p.state.num, d.q.avail_idx);
		EXPECT_EQ(d.done, d.q.avail_idx);
	}
	close(d.s);
	still_serves(_kt, self);
}

#define MAX_SLOTS	64	/* VHOST_BLK_MAX_MEM_REGIONS */
#define SLOT_GPA	0x200000000ULL
#define HOT_GPA		(GPA_BASE + GMEM_SIZE)	/* the DIMM, right above */

/*
 * Memory slots (CONFIGURE_MEM_SLOTS) as QEMU uses them for memory
 * hot-plug: the guest memory arrives by ADD_MEM_REG, a DIMM is added
 * while writes are in flight and removed again while the ring runs; the
 * table fills to GET_MAX_MEM_SLOTS and no further; malformed regions are
 * refused with an error ack and leave no descriptor and no mapping behind.
 */
TEST_F_TIMEOUT(br, mem_slots_hotplug, 180)
{
	int fds[2], nfd, slotfd, hotfd, s, i;
	struct drv d = { .s = -1 };
	uint8_t *slot, *hot;
	uint64_t v;

	/* without the negotiation, ADD_MEM_REG is refused */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	make_fds(fds, 1);
	EXPECT_REFUSED(mem_reg(s, VU_ADD_MEM_REG, 0, 4096, (void *)0x10000, 0, fds, 1));
	close_all(fds, 1);
	close(s);
	still_serves(_kt, self);

	d.s = vu_open_pf(self, 1ULL << VU_PF_CONFIGURE_MEM_SLOTS);
	ASSERT_GE(d.s, 0);
	ASSERT_EQ(vu_get_u64(d.s, VU_GET_MAX_MEM_SLOTS, &v), 1);
	KT_LOG("GET_MAX_MEM_SLOTS: %llu", (unsigned long long)v);
	EXPECT_EQ(v, MAX_SLOTS);
	drv_start_ex(_kt, &d, true);
	EXPECT_EQ(map_count(self->pid, "guest"), 1);

	fill(&d, NREQ, 1);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	read_back(_kt, &d, NREQ, 1);

	/* a DIMM right above guest memory, plugged with writes in flight */
	hotfd = memfd_create("hot", MFD_CLOEXEC);
	ASSERT_GE(hotfd, 0);
	ASSERT_OK(ftruncate(hotfd, EXTRA_SIZE));
	hot = mmap(d.mem + GMEM_SIZE, EXTRA_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, hotfd, 0);
	ASSERT_TRUE(hot == d.mem + GMEM_SIZE);
	fill(&d, NREQ, 2);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, HOT_GPA, EXTRA_SIZE, hot, 0, &hotfd, 1), 0);
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	read_back(_kt, &d, NREQ, 2);
	EXPECT_EQ(map_count(self->pid, "hot"), 1);
	EXPECT_EQ(map_count(self->pid, "guest"), 1);	/* kept, not mapped again */
	/* I/O from and into the DIMM: the kernel translates its addresses */
	for (i = 0; i < NREQ; i++)
		memcpy(hot + (size_t)i * BS, drv_data(&d, 0), BS);	/* block 0 of seed 2 */
	ASSERT_OK(drv_queue_at(&d, VIRTIO_BLK_T_OUT, NREQ, hot));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	memset(hot, 0, NREQ * BS);
	ASSERT_OK(drv_queue_at(&d, VIRTIO_BLK_T_IN, NREQ, hot));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	for (i = 0; i < NREQ; i++)
		EXPECT_TRUE(check(hot + (size_t)i * BS, 0, 2));
	nfd = fd_count(self->pid);

	/* malformed regions, each refused with an error ack */
	slotfd = memfd_create("slot", MFD_CLOEXEC);
	ASSERT_GE(slotfd, 0);
	ASSERT_OK(ftruncate(slotfd, MAX_SLOTS * 4096));
	slot = mmap(NULL, MAX_SLOTS * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, slotfd, 0);
	ASSERT_TRUE(slot != MAP_FAILED);
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA, 0, slot, 0, &slotfd, 1), 1);
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, ~0ULL - 4095, 8192, slot, 0, &slotfd, 1), 1);
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA, 8192, slot, ~0ULL - 4095,
			  &slotfd, 1), 1);
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA, 4096, slot, MAX_SLOTS * 4096,
			  &slotfd, 1), 1);		/* past the end of its file */
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, GPA_BASE + GMEM_SIZE - 4096, 8192, slot, 0,
			  &slotfd, 1), 1);		/* overlaps guest memory */
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, HOT_GPA, EXTRA_SIZE, hot, 0, &hotfd, 1), 1);
	EXPECT_REFUSED(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA, 4096, slot, 0, NULL, 0));
	EXPECT_EQ(mem_reg(d.s, VU_REM_MEM_REG, SLOT_GPA, 4096, slot, 0, NULL, 0), 1);
	EXPECT_EQ(mem_reg(d.s, VU_REM_MEM_REG, HOT_GPA, EXTRA_SIZE / 2, hot, 0, NULL, 0), 1);
	EXPECT_EQ(fd_count(self->pid), nfd);
	EXPECT_EQ(map_count(self->pid, "slot"), 0);
	EXPECT_EQ(map_count(self->pid, "hot"), 1);
	make_fds(fds, 2);
	EXPECT_REFUSED(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA, 4096, slot, 0, fds, 2));
	close_all(fds, 2);
	EXPECT_EQ(fd_count(self->pid), nfd);

	/* the table fills to the limit: guest memory, the DIMM and 62 slots */
	for (i = 0; i < MAX_SLOTS - 2; i++)
		ASSERT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA + i * 4096ULL, 4096,
				  slot + i * 4096, i * 4096ULL, &slotfd, 1), 0);
	EXPECT_EQ(map_count(self->pid, "slot"), MAX_SLOTS - 2);
	EXPECT_EQ(mem_reg(d.s, VU_ADD_MEM_REG, SLOT_GPA + MAX_SLOTS * 4096ULL, 4096,
			  slot, 0, &slotfd, 1), 1);
	EXPECT_EQ(map_count(self->pid, "slot"), MAX_SLOTS - 2);
	fill(&d, NREQ, 3);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	/* removed again; QEMU 7.2 sends the region's descriptor along */
	for (i = 0; i < MAX_SLOTS - 2; i++)
		ASSERT_EQ(mem_reg(d.s, VU_REM_MEM_REG, SLOT_GPA + i * 4096ULL, 4096,
				  slot + i * 4096, 0, &slotfd, i & 1), 0);
	EXPECT_EQ(map_count(self->pid, "slot"), 0);
	EXPECT_EQ(fd_count(self->pid), nfd);

	/* hot-unplug of the DIMM while the ring runs, then I/O goes on */
	fill(&d, NREQ, 4);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	EXPECT_EQ(mem_reg(d.s, VU_REM_MEM_REG, HOT_GPA, EXTRA_SIZE, hot, 0, NULL, 0), 0);
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	EXPECT_EQ(map_count(self->pid, "hot"), 0);
	/* its addresses are gone from the kernel's table: a request there fails */
	ASSERT_OK(drv_queue_at(&d, VIRTIO_BLK_T_IN, 1, hot));
	ASSERT_OK(drv_wait(&d, 1));
	EXPECT_EQ(d.mem[HDR_OFF + 16], VIRTIO_BLK_S_IOERR);
	/* the region the running ring lies in cannot go */
	EXPECT_EQ(mem_reg(d.s, VU_REM_MEM_REG, GPA_BASE, GMEM_SIZE, d.mem, 0, NULL, 0), 1);
	read_back(_kt, &d, NREQ, 4);
	EXPECT_EQ(map_count(self->pid, "guest"), 1);
	EXPECT_EQ(fd_count(self->pid), nfd);

	munmap(slot, MAX_SLOTS * 4096);
	close(slotfd);
	close(hotfd);
	close(d.s);
	still_serves(_kt, self);
	EXPECT_EQ(map_count(self->pid, "guest"), 0);
}

/* Bytes of a dirty bitmap for the driver's memory (up to GPA_BASE + GMEM_SIZE). */
#define LOG_BYTES	((GPA_BASE + GMEM_SIZE) / BS / 8)

/* A dirty log of @size bytes in a memory file, as QEMU makes it. */
static uint8_t *log_new(int *fd, size_t size)
{
	uint8_t *p;

	*fd = memfd_create("vhost-log", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, size))
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* SET_LOG_BASE as QEMU sends it with LOG_SHMFD: 1 replied, 0 closed, -1. */
static int log_set(int s, int fd, uint64_t size)
{
	uint64_t p[2] = { size, 0 };
	struct vu_msg m;
	int r;

	if (vu_send(s, VU_SET_LOG_BASE, 0, p, sizeof(p), &fd, 1))
		return errno == EPIPE || errno == ECONNRESET ? 0 : -1;
	r = vu_recv(s, &m);
	if (r <= 0)
		return r;
	return m.request == VU_SET_LOG_BASE && (m.flags & VU_REPLY) ? 1 : -1;
}

static bool log_bit(const uint8_t *log, uint64_t gpa)
{
	uint64_t page = gpa / BS;

	return log[page / 8] & (1U << (page % 8));
}

static unsigned long log_count(const uint8_t *log)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < LOG_BYTES; i++)
		n += __builtin_popcount(log[i]);
	return n;
}

/*
 * Live migration's dirty log (LOG_SHMFD): QEMU's bitmap, sent with
 * SET_LOG_BASE, gets a bit for every page the device writes while
 * VHOST_F_LOG_ALL is acked: the data of reads, the status bytes and the
 * used ring; writes of the guest's data into the disk set none of their
 * buffers' bits.  The log flag reaches a running ring.  A new log takes
 * over from the old one; a log too small for the memory table is refused
 * (the connection closes: QEMU must not migrate unlogged).
 */
TEST_F_TIMEOUT(br, dirty_log, 120)
{
	struct vhost_vring_addr a = { .index = 0 };
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VU_F_PROTOCOL_FEATURES);
	struct drv d = { .s = -1 };
	uint8_t *log1, *log2;
	int fd1, fd2, s, i;

	d.s = vu_open(self);
	ASSERT_GE(d.s, 0);
	ASSERT_EQ(vu_set_u64(d.s, VU_SET_PROTOCOL_FEATURES, (1ULL << VU_PF_REPLY_ACK) |
			     (1ULL << VU_PF_LOG_SHMFD)), 0);
	drv_start(_kt, &d);
	log1 = log_new(&fd1, LOG_BYTES);
	log2 = log_new(&fd2, LOG_BYTES);
	ASSERT_TRUE(log1 && log2);
	fill(&d, NREQ, 5);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));

	/* what QEMU sends when a migration starts */
	ASSERT_EQ(log_set(d.s, fd1, LOG_BYTES), 1);
	ASSERT_EQ(vu_set_u64(d.s, VU_SET_FEATURES, f | (1ULL << VHOST_F_LOG_ALL)), 0);
	a.flags = 1 << VHOST_VRING_F_LOG;
	a.desc_user_addr = (uintptr_t)d.q.desc;
	a.avail_user_addr = (uintptr_t)d.q.avail;
	a.used_user_addr = (uintptr_t)d.q.used;
	a.log_guest_addr = GPA_BASE + ((uint8_t *)d.q.used - d.mem);
	EXPECT_EQ(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);

	/* writes to the disk dirty the status bytes and the used ring only */
	fill(&d, NREQ, 6);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(log_bit(log1, GPA_BASE + HDR_OFF));
	EXPECT_TRUE(log_bit(log1, a.log_guest_addr));
	for (i = 0; i < NREQ; i++)
		EXPECT_FALSE(log_bit(log1, GPA_BASE + DATA_OFF + (uint64_t)i * BS));
	KT_LOG("after %d writes: %lu pages dirty", NREQ, log_count(log1));
	/* reads dirty their buffers */
	read_back(_kt, &d, NREQ, 6);
	for (i = 0; i < NREQ; i++)
		EXPECT_TRUE(log_bit(log1, GPA_BASE + DATA_OFF + (uint64_t)i * BS));
	KT_LOG("after %d reads: %lu pages dirty", NREQ, log_count(log1));
	EXPECT_EQ(log_count(log1), NREQ + 2);

	/* a new log (QEMU resizes it): the old one is no longer written */
	ASSERT_EQ(log_set(d.s, fd2, LOG_BYTES), 1);
	memset(log1, 0, LOG_BYTES);
	read_back(_kt, &d, NREQ, 6);
	EXPECT_EQ(log_count(log1), 0);
	EXPECT_EQ(log_count(log2), NREQ + 2);

	/* the migration ends (or fails): nothing is logged any more */
	EXPECT_EQ(vu_set_u64(d.s, VU_SET_FEATURES, f), 0);
	a.flags = 0;
	EXPECT_EQ(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	memset(log2, 0, LOG_BYTES);
	read_back(_kt, &d, NREQ, 6);
	EXPECT_EQ(log_count(log2), 0);
	/* the log flag without VHOST_F_LOG_ALL */
	a.flags = 1 << VHOST_VRING_F_LOG;
	EXPECT_REFUSED(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	/* a log that misses pages of the memory table: the connection closes */
	EXPECT_EQ(log_set(d.s, fd1, LOG_BYTES - 8), 0);
	close(d.s);

	/* and without LOG_SHMFD there is no log to take */
	s = vu_open(self);
	ASSERT_GE(s, 0);
	EXPECT_REFUSED(vu_ack(s, VU_SET_LOG_BASE, (uint64_t[2]){ LOG_BYTES, 0 }, 16, &fd1, 1));
	close(s);
	close(fd1);
	close(fd2);
	still_serves(_kt, self);
}

/* Ring requests the bridge must check before the kernel sees them. */
TEST_F(br, ring_requests_checked)
{
	struct vhost_vring_state st = { .index = 0 };
	struct vhost_vring_addr a = { .index = 0 };
	struct drv d = { .s = -1 };
	struct vu_msg m;
	uint64_t u;

	d.s = vu_open(self);
	ASSERT_GE(d.s, 0);
	drv_start(_kt, &d);
	/* stopped: a started ring refuses new addresses in any case */
	ASSERT_OK(vu_send(d.s, VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0));
	ASSERT_EQ(vu_recv(d.s, &m), 1);
	EXPECT_EQ(m.p.state.num, 0);

	EXPECT_REFUSED(vu_state(d.s, VU_SET_VRING_NUM, 2, QNUM));
	EXPECT_REFUSED(vu_state(d.s, VU_SET_VRING_NUM, 0, 48));
	EXPECT_REFUSED(vu_state(d.s, VU_SET_VRING_NUM, 0, 65536));
	EXPECT_REFUSED(vu_state(d.s, VU_SET_VRING_ENABLE, 0, 2));
	/* the log flag without VHOST_F_LOG_ALL */
	a.flags = 1 << VHOST_VRING_F_LOG;
	a.desc_user_addr = (uintptr_t)d.q.desc;
	a.avail_user_addr = (uintptr_t)d.q.avail;
	a.used_user_addr = (uintptr_t)d.q.used;
	EXPECT_REFUSED(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	/* misaligned; a used ring running off the end of guest memory */
	a.flags = 0;
	a.desc_user_addr += 8;
	EXPECT_REFUSED(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	a.desc_user_addr = (uintptr_t)d.q.desc;
	a.used_user_addr = (uintptr_t)d.mem + GMEM_SIZE - 64;
	EXPECT_REFUSED(vu_ack(d.s, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0));
	/* reserved bits of a ring's descriptor request */
	u = 0 | (1ULL << 20);
	EXPECT_REFUSED(vu_ack(d.s, VU_SET_VRING_CALL, &u, 8, &d.call, 1));
	conn_serves(_kt, self, d.s);
	close(d.s);
	still_serves(_kt, self);
}

/* Entries of /sys/kernel/vhost_blk: one per open device. */
static int vb_devices(void)
{
	struct dirent *e;
	DIR *dir = opendir("/sys/kernel/vhost_blk");
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* A datagram from the bridge on the notify socket, NUL-terminated. */
static int notify_recv(int ns, char *buf, size_t len)
{
	ssize_t n = recv(ns, buf, len - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

TEST_TIMEOUT(service_sigterm, 60)
{
	char conf[64], pidf[64], nsock[64], log[64], buf[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	struct kt_fix_br f = { .pid = -1 };
	struct drv d = { .s = -1 };
	int ns, fd, status = -1, devs, i, s = -1, done = 0;
	uint8_t blk[BS];
	struct stat st;
	FILE *cf;

	if (access("/dev/vhost-blk", F_OK))
		SKIP("no /dev/vhost-blk (vhost_blk not loaded)");
	snprintf(f.sock, sizeof(f.sock), "/tmp/blk-svc-%d.sock", getpid());
	snprintf(f.img, sizeof(f.img), "/tmp/blk-svc-%d.img", getpid());
	snprintf(conf, sizeof(conf), "/tmp/blk-svc-%d.conf", getpid());
	snprintf(pidf, sizeof(pidf), "/tmp/blk-svc-%d.pid", getpid());
	snprintf(nsock, sizeof(nsock), "/tmp/blk-svc-%d.notify", getpid());
	snprintf(log, sizeof(log), "/tmp/blk-svc-%d.log", getpid());
	fd = open(f.img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_OK(ftruncate(fd, IMG_SIZE));
	close(fd);
	cf = fopen(conf, "w");
	ASSERT_TRUE(cf != NULL);
	fprintf(cf, "# as /etc/kvmio/blk-NAME.conf\nsocket = %s\nbackend=%s\n"
		"socket-owner=4321\nsocket-group=1234\nsocket-mode=0640\n"
		"queues=2\nverbose=yes\n", f.sock, f.img);
	fclose(cf);
	ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_GE(ns, 0);
	strcpy(sa.sun_path, nsock);
	unlink(nsock);
	ASSERT_OK(bind(ns, (struct sockaddr *)&sa, sizeof(sa)));
	setsockopt(ns, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	devs = vb_devices();

	f.pid = fork();
	ASSERT_GE(f.pid, 0);
	if (!f.pid) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setenv("NOTIFY_SOCKET", nsock, 1);
		execlp("kvmio", "kvmio", "blk-serve", "--config", conf, "--pidfile", pidf,
		       (char *)NULL);
		_exit(127);
	}
	ASSERT_OK(notify_recv(ns, buf, sizeof(buf)));
	KT_LOG("notify: %.*s (then %s)", (int)strcspn(buf, "\n"), buf,
	       strchr(buf, '\n') ? strchr(buf, '\n') + 1 : "nothing");
	EXPECT_TRUE(!strncmp(buf, "READY=1", 7));
	snprintf((char *)blk, sizeof(blk), "MAINPID=%d", (int)f.pid);
	EXPECT_TRUE(strstr(buf, (char *)blk) != NULL);
	/* ready means listening, with its owner and mode, pid file written */
	ASSERT_OK(stat(f.sock, &st));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(st.st_mode & 0777, 0640);
	EXPECT_EQ(st.st_uid, 4321);
	EXPECT_EQ(st.st_gid, 1234);
	cf = fopen(pidf, "r");
	ASSERT_TRUE(cf != NULL);
	EXPECT_TRUE(fscanf(cf, "%d", &i) == 1 && i == f.pid);
	fclose(cf);

	for (i = 0; i < 100 && s < 0; i++)
		s = vu_open(&f);
	ASSERT_GE(s, 0);
	d.s = s;
	drv_start(_kt, &d);
	fill(&d, NREQ, 5);
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(drv_wait(&d, NREQ));
	EXPECT_TRUE(drv_status_ok(&d, NREQ));
	EXPECT_EQ(vb_devices(), devs + 1);

	/* writes kicked, and at once the service manager stops the unit */
	fill(&d, NREQ, 6);
	for (i = 0; i < NREQ; i++)
		d.mem[HDR_OFF + 32 * i + 16] = 0xff;
	ASSERT_OK(drv_queue(&d, VIRTIO_BLK_T_OUT, NREQ));
	ASSERT_OK(kill(f.pid, SIGTERM));
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (waitpid(f.pid, &status, WNOHANG) == f.pid)
			break;
		usleep(10000);
	}
	if (i == WAIT_MS / 10) {
		kill(f.pid, SIGKILL);
		waitpid(f.pid, &status, 0);
		KT_LOG("blk-serve did not stop within %d ms of SIGTERM", WAIT_MS);
		kt_fail(_kt, 0);
	}
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	KT_LOG("blk-serve exit status %#x", status);
	ASSERT_OK(notify_recv(ns, buf, sizeof(buf)));
	EXPECT_TRUE(!strcmp(buf, "STOPPING=1"));
	EXPECT_TRUE(access(f.sock, F_OK) && errno == ENOENT);
	EXPECT_TRUE(access(pidf, F_OK) && errno == ENOENT);
	/* release() ran to its end: no device, nothing in flight */
	EXPECT_EQ(vb_devices(), devs);

	/* a write with its status written is on the backend; the others
	 * were never started or completed untold: old or new, never torn */
	fd = open(f.img, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	for (i = 0; i < NREQ; i++) {
		uint8_t stat_byte = d.mem[HDR_OFF + 32 * i + 16];

		ASSERT_EQ(pread(fd, blk, BS, (off_t)i * BS), BS);
		if (stat_byte == VIRTIO_BLK_S_OK) {
			done++;
			EXPECT_TRUE(check(blk, i, 6));
		} else {
			EXPECT_EQ(stat_byte, 0xff);
			EXPECT_TRUE(check(blk, i, 5) || check(blk, i, 6));
		}
	}
	close(fd);
	KT_LOG("%d of %d writes in flight at SIGTERM reported done", done, NREQ);
	if (_kt->failed) {
		cf = fopen(log, "r");
		while (cf && fgets(buf, sizeof(buf), cf))
			KT_LOG("bridge: %.*s", (int)strcspn(buf, "\n"), buf);
		if (cf)
			fclose(cf);
	}
	close(d.s);
	close(ns);
	unlink(nsock);
	unlink(conf);
	unlink(log);
	unlink(f.img);
}

KT_MAIN()
