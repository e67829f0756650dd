// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign_e1000_fair_test - the transmit scheduler of one e1000 shared
 * by several kvm_assign contexts: shares by weight under the NIC's
 * link_rate, a stopped context's share freed, a per-context rate limit.
 *
 * Contexts 0..3 of the NIC are opened through VFIO (lib/kt_e1k_share.h);
 * each has its own thread that keeps its TX ring full of 1514-byte frames
 * to the peer.  The NIC's link_rate makes the scheduler the bottleneck.
 * What a context got is measured twice over each interval: its tx_bytes
 * counter, and the bytes the peer received with its source MAC (a thread
 * of the test on the peer's AF_PACKET socket).
 *
 * Nothing here asserts a speed: link_rate is chosen from what one
 * context and the peer manage in this run (a calibration interval with
 * link_rate 0: half of what went out, at most 70 % of what the peer
 * took, at most 2 MB/s), and every check is a ratio of bytes measured
 * in the same interval or of them to the configured rates:
 *
 *   fair_equal_2      2 contexts, weights 1:1: Jain's index of bytes/weight
 *                     >= 0.95 (tx_bytes and at the peer)
 *   fair_weighted_4   4 contexts, weights 1:2:3:4: the same
 *   fair_share_freed  4 contexts; one stops: in the next interval the other
 *                     three move >= 90 % of what all four moved before,
 *                     and >= 1.2 times what they moved themselves
 *   fair_rate_limit   rate_bytes of one context set to min(1 MB/s,
 *                     link_rate / 4) beside an unlimited one: it moves
 *                     within 5 % of it, counts tx_throttled and shows
 *                     STATUS.TXOFF while held back
 *   fair_lifecycle_never_stalls_others  two contexts keep moving frames in
 *                     every 250 ms window while a third is reset with its
 *                     ring full and a fourth's VMM goes away (device
 *                     closed, mdev removed) with its ring full; the reset
 *                     one sends again after its set-up; no guest buffer
 *                     left on the NIC once all stop
 *
 * The aggregate never exceeds link_rate by more than 6 % (FCS counted or
 * not), and contexts held back by it count tx_throttled.  The figures are printed as TAP diagnostics.  Every case skips,
 * with the reason, on a kernel that cannot share a NIC or lacks the
 * scheduler's sysfs files.
 */
#include <pthread.h>
#include <sys/utsname.h>
#include <sys/socket.h>

#include "lib/kt_test.h"
#include "lib/kt_e1k_share.h"

#define NCTX		4
#define FRAME		1514
#define NBUF		8		/* distinct frames each context cycles through */
#define WARM_MS		1000
#define INTERVAL_MS	4000
#define LINK_MAX	(2LL << 20)	/* link_rate at most 2 MB/s: little CPU, so a busy host still gives it */
#define LINK_MIN	(32LL << 10)	/* a starved debug VM moves 100 KB/s with one context */
#define RATE_JUDGED	0.97	/* rate_limit's lower bound needs the link this busy */
#define MIN_FRAMES	400		/* an interval holds at least this many at link_rate */

static const char *const sched_knobs[] = {
	"e1000/weight", "e1000/rate_bytes", "e1000/tx_bytes", "e1000/tx_throttled", NULL,
};
static const char *const sched_nic_files[] = { "link_rate", "quantum", NULL };

/* A thread keeping one context's TX ring full while run is set. */
struct sender {
	struct kc	*k;
	pthread_t	thread;
	volatile int	run, quit;
	volatile int	idle;		/* the thread saw run clear: it stopped */
	int		joined;		/* the test joined it already */
	long long	kicks;
};

/* The peer's count of the test's frames by source MAC. */
struct counter {
	struct share_nic *nic;
	pthread_t	thread;
	volatile int	quit;
	long long	bytes[NCTX], frames[NCTX], others;
};

FIXTURE(fair) {
	struct share_nic nic;
	struct kc k[KC_MAX];
	struct sender s[NCTX];
	struct counter pc;
	int started, pc_started;
	long long link_rate;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct kc *k = s->k;

	while (!s->quit) {
		s->idle = !s->run;
		if (s->run) {
			unsigned int tdh = kc_rd(k, E1K_TDH), used, room;

			if (tdh >= k->ntx)
				break;		/* the device went away */
			used = (k->tdt + k->ntx - tdh) % k->ntx;
			room = k->ntx - 1 - used;
			if (room) {
				while (room--)
					kc_tx_desc(k, KC_IOVA + KC_TXB_OFF +
						   (k->tdt % NBUF) * 1536,
						   FRAME | KC_LEGACY_CMD, 0);
				kc_tx_kick(k);
				s->kicks++;
			}
		}
		usleep(s->run ? 1000 : 10000);	/* idle: little load on the vCPUs */
	}
	return NULL;
}

static void *counter_main(void *arg)
{
	struct counter *c = arg;
	struct share_nic *nic = c->nic;
	struct mmsghdr m[32];
	struct iovec iov[32];
	struct sockaddr_ll sll[32];
	uint8_t hdr[32][64];
	int i, j, n;

	while (!c->quit) {
		struct pollfd p = { .fd = nic->psock, .events = POLLIN };

		if (poll(&p, 1, 100) != 1)
			continue;
		for (i = 0; i < 32; i++) {
			iov[i].iov_base = hdr[i];
			iov[i].iov_len = sizeof(hdr[i]);
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &sll[i];
			m[i].msg_hdr.msg_namelen = sizeof(sll[i]);
		}
		/* MSG_TRUNC: the frame's whole length, 64 bytes of it copied. */
		n = recvmmsg(nic->psock, m, 32, MSG_DONTWAIT | MSG_TRUNC, NULL);
		for (i = 0; i < n; i++) {
			if (sll[i].sll_pkttype == PACKET_OUTGOING || m[i].msg_len < 14 ||
			    kc_get16(hdr[i] + 12) != KC_ETHERTYPE)
				continue;
			for (j = 0; j < NCTX; j++)
				if (!memcmp(hdr[i] + 6, nic->k[j].mac, 6))
					break;
			if (j == NCTX) {
				__atomic_add_fetch(&c->others, 1, __ATOMIC_RELAXED);
				continue;
			}
			__atomic_add_fetch(&c->bytes[j], m[i].msg_len, __ATOMIC_RELAXED);
			__atomic_add_fetch(&c->frames[j], 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

FIXTURE_SETUP(fair)
{
	int i, j;

	self->nic.k = self->k;
	self->nic.psock = -1;
	share_nic_setup(&self->nic, _kt, NCTX);
	share_create(&self->nic, _kt, NCTX, sched_knobs, sched_nic_files);
	share_open(&self->nic, _kt, NCTX, KC_SIZE_SMALL);
	for (i = 0; i < NCTX; i++) {
		struct kc *k = &self->k[i];

		ASSERT_OK(kc_set(k, "e1000/weight", "1"));
		ASSERT_OK(kc_set(k, "e1000/rate_bytes", "0"));
		kc_wr(k, E1K_RCTL, 0);		/* nothing to receive */
		for (j = 0; j < NBUF; j++)
			kc_make_frame(k->buf + KC_TXB_OFF + j * 1536, self->nic.peer_mac, k->mac,
				      FRAME, k->idx, j);
		self->s[i].k = k;
	}
	self->pc.nic = &self->nic;
	ASSERT_EQ(pthread_create(&self->pc.thread, NULL, counter_main, &self->pc), 0);
	self->pc_started = 1;
	for (i = 0; i < NCTX; i++) {
		ASSERT_EQ(pthread_create(&self->s[i].thread, NULL, sender_main, &self->s[i]), 0);
		self->started = i + 1;
	}
}

FIXTURE_TEARDOWN(fair)
{
	int i;

	for (i = 0; i < self->started; i++) {
		if (self->s[i].joined)
			continue;
		self->s[i].quit = 1;
		pthread_join(self->s[i].thread, NULL);
	}
	if (self->pc_started) {
		self->pc.quit = 1;
		pthread_join(self->pc.thread, NULL);
	}
	share_cleanup(&self->nic);
}

/* --- measuring ---------------------------------------------------------- */

struct sample {
	double		t;
	long long	tx[NCTX], peer[NCTX], throttled[NCTX], wait_us[NCTX];
	long long	peer_drops;
};

static long long peer_drops(struct share_nic *nic)
{
	static const char *const f[] = { "rx_dropped", "rx_missed_errors", "rx_fifo_errors" };
	char path[256], buf[32];
	long long sum = 0;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", nic->peer_if,
			 f[i]);
		if (!kt_read_str(path, buf, sizeof(buf)))
			sum += atoll(buf);
	}
	return sum;
}

static void take(struct kt_fix_fair *self, struct sample *s)
{
	int i;

	s->t = kt_now();
	for (i = 0; i < NCTX; i++) {
		s->tx[i] = kc_stat(&self->k[i], "e1000/tx_bytes");
		s->peer[i] = __atomic_load_n(&self->pc.bytes[i], __ATOMIC_RELAXED);
		s->throttled[i] = kc_stat(&self->k[i], "e1000/tx_throttled");
		s->wait_us[i] = kc_stat(&self->k[i], "e1000/sched_wait_us");
	}
	s->peer_drops = peer_drops(&self->nic);
}

/* What each context moved between two samples. */
struct result {
	double		secs;
	long long	tx[NCTX], peer[NCTX], throttled[NCTX], wait_us[NCTX];
	long long	tx_sum, peer_sum, peer_drops;
};

static void diff(const struct sample *a, const struct sample *b, struct result *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->secs = b->t - a->t;
	for (i = 0; i < NCTX; i++) {
		r->tx[i] = b->tx[i] - a->tx[i];
		r->peer[i] = b->peer[i] - a->peer[i];
		r->throttled[i] = b->throttled[i] - a->throttled[i];
		r->wait_us[i] = a->wait_us[i] >= 0 ? b->wait_us[i] - a->wait_us[i] : -1;
		r->tx_sum += r->tx[i];
		r->peer_sum += r->peer[i];
	}
	r->peer_drops = b->peer_drops - a->peer_drops;
}

/* Contexts in @mask send, the others stop; after @warm_ms, one interval
 * of @ms measured into @r. */
static void run(struct kt_fix_fair *self, unsigned int mask, int warm_ms, int ms,
		struct result *r)
{
	struct sample a, b;
	int i;

	for (i = 0; i < NCTX; i++)
		self->s[i].run = !!(mask & 1U << i);
	/*
	 * Contexts that stop: their threads out of their round (a slow kernel
	 * takes a while to write a ring's worth), then their rings drained
	 * before the interval.
	 */
	for (i = 0; i < NCTX; i++) {
		double end = kt_now() + 10;

		if (mask & 1U << i || self->s[i].joined)
			continue;
		while (!self->s[i].idle && kt_now() < end)
			kc_sleep_ms(5);
		if (kc_tx_wait(&self->k[i], 60000))
			KT_LOG("ctx %d: ring not drained after 60 s", i);
	}
	kc_sleep_ms(warm_ms);
	take(self, &a);
	kc_sleep_ms(ms);
	take(self, &b);
	diff(&a, &b, r);
}

/* Jain's index of x[i] / w[i] over the contexts in @mask. */
static double jain(const long long *x, const int *w, unsigned int mask)
{
	double s = 0, s2 = 0;
	int i, n = 0;

	for (i = 0; i < NCTX; i++)
		if (mask & 1U << i) {
			double v = (double)x[i] / w[i];

			s += v;
			s2 += v * v;
			n++;
		}
	return s2 > 0 ? s * s / (n * s2) : 0;
}

static void report(const char *what, const struct result *r, const int *w, unsigned int mask,
		   long long link_rate)
{
	int i, wsum = 0;

	for (i = 0; i < NCTX; i++)
		if (mask & 1U << i)
			wsum += w[i];
	KT_LOG("%s: %.2f s, link_rate %lld B/s; aggregate %.0f B/s by tx_bytes (%.3f of "
	       "link_rate), %.0f B/s at the peer (peer drops +%lld)", what, r->secs, link_rate,
	       r->tx_sum / r->secs, link_rate ? r->tx_sum / r->secs / link_rate : 0,
	       r->peer_sum / r->secs, r->peer_drops);
	for (i = 0; i < NCTX; i++) {
		if (!(mask & 1U << i) && !r->tx[i])
			continue;
		KT_LOG("  ctx %d weight %d: tx_bytes %lld (share %.3f, want %.3f), peer %lld "
		       "(share %.3f), tx_throttled +%lld, sched_wait_us +%lld", i,
		       mask & 1U << i ? w[i] : 0, r->tx[i],
		       r->tx_sum ? (double)r->tx[i] / r->tx_sum : 0,
		       mask & 1U << i ? (double)w[i] / wsum : 0, r->peer[i],
		       r->peer_sum ? (double)r->peer[i] / r->peer_sum : 0, r->throttled[i],
		       r->wait_us[i]);
	}
	KT_LOG("  Jain's index of bytes/weight: %.4f by tx_bytes, %.4f at the peer",
	       jain(r->tx, w, mask), jain(r->peer, w, mask));
}

/*
 * The backlogged contexts together moved under 90 % of link_rate: the
 * test VM did not get the CPU to run the link (a busy host deschedules
 * its TCG vCPUs; seen at 0.52 to 0.80 with other VMs on the two cores),
 * so absolute rates in that interval say nothing.  The cases that check
 * them measure again, up to STARVED_TRIES intervals in all; the last is
 * judged as it is.  (On the debug kernel, alone on the host, two starved
 * intervals in a row were seen: its TCG vCPUs are slow enough that any
 * other work in the VM shows.)
 */
#define STARVED_TRIES	3

static int vm_starved(struct kt_fix_fair *self, const struct result *r, const char *who)
{
	double got = r->tx_sum / r->secs / self->link_rate;

	if (got >= 0.90)
		return 0;
	KT_LOG("%s moved %.3f of link_rate with every one backlogged: the test VM was "
	       "short of CPU (busy host?); measured again", who, got);
	return 1;
}

/*
 * The measured interval: INTERVAL_MS, longer when link_rate is low (a
 * starved or debug VM) so that it still holds MIN_FRAMES frames; a share
 * of a few frames would be judged by one frame more or less.
 */
static int interval_ms(const struct kt_fix_fair *self)
{
	long long ms = MIN_FRAMES * (FRAME + 4) * 1000LL / self->link_rate;

	return ms > INTERVAL_MS ? ms : INTERVAL_MS;
}

/* Jain's index at least 0.95 (the harness compares integers). */
#define EXPECT_FAIR(j)	EXPECT_GE((long long)((j) * 10000), 9500)

static void set_weights(struct kt_fix_fair *self, struct kt_ctx *_kt, const int *w)
{
	char v[16];
	int i;

	for (i = 0; i < NCTX; i++) {
		snprintf(v, sizeof(v), "%d", w[i]);
		ASSERT_OK(kc_set(&self->k[i], "e1000/weight", v));
		ASSERT_EQ(kc_stat(&self->k[i], "e1000/weight"), w[i]);
	}
}

/*
 * link_rate for this run: with no limit, one context sends for a while;
 * the limit is half of what went out and at most 70 % of what the peer
 * took (so that neither the contexts nor the peer are the bottleneck), at
 * most LINK_MAX.  One context, not four: with link_rate set the
 * scheduler's passes move every context's packets one after the other
 * (mostly from its own worker, as the link allows), so what one sender
 * moves alone is what the scheduler can give all of them; four senders
 * unlimited each run a pass in their own thread, on both CPUs.
 */
static void calibrate(struct kt_fix_fair *self, struct kt_ctx *_kt)
{
	static const int w[NCTX] = { 1, 1, 1, 1 };
	struct result r;
	long long l;

	ASSERT_OK(nic_set(&self->nic, "link_rate", 0));
	run(self, 0x1, 500, 1500, &r);
	report("calibration, one context, no link_rate", &r, w, 0x1, 0);
	l = r.tx_sum / r.secs / 2;
	if (l > r.peer_sum / r.secs * 0.7)
		l = r.peer_sum / r.secs * 0.7;
	if (l > LINK_MAX)
		l = LINK_MAX;
	if (l < LINK_MIN) {
		KT_LOG("the contexts and the peer moved only %.0f B/s together", r.peer_sum / r.secs);
		l = LINK_MIN;
	}
	l &= ~1023LL;
	self->link_rate = l;
	ASSERT_OK(nic_set(&self->nic, "link_rate", l));
	ASSERT_EQ(nic_stat(&self->nic, "link_rate"), l);
	KT_LOG("link_rate set to %lld B/s; intervals of %d ms", l, interval_ms(self));
}

/* The limit holds: at most 6 % above link_rate (FCS counted or not). */
static void expect_within_link(struct kt_fix_fair *self, struct kt_ctx *_kt,
			       const struct result *r)
{
	EXPECT_LE(r->tx_sum / r->secs, self->link_rate * 1.06);
}

/* Every context of @mask was held back by the link rate at some point
 * (tx_throttled counts that as well as its own limits). */
static void expect_throttled(struct kt_ctx *_kt, const struct result *r, unsigned int mask)
{
	int i;

	for (i = 0; i < NCTX; i++)
		if (mask & 1U << i)
			EXPECT_GT(r->throttled[i], 0);
}

/* --- cases -------------------------------------------------------------- */

TEST_F_TIMEOUT(fair, equal_2, 300)
{
	static const int w[NCTX] = { 1, 1, 1, 1 };
	struct result r;
	int tries;

	calibrate(self, _kt);
	set_weights(self, _kt, w);
	for (tries = 0; tries < STARVED_TRIES; tries++) {
		run(self, 0x3, WARM_MS, interval_ms(self), &r);
		report("2 contexts, weights 1:1", &r, w, 0x3, self->link_rate);
		if (!vm_starved(self, &r, "both"))
			break;
	}
	EXPECT_GT(r.tx[0], 0);
	EXPECT_GT(r.tx[1], 0);
	EXPECT_FAIR(jain(r.tx, w, 0x3));
	EXPECT_FAIR(jain(r.peer, w, 0x3));
	expect_within_link(self, _kt, &r);
	expect_throttled(_kt, &r, 0x3);
}

TEST_F_TIMEOUT(fair, weighted_4, 300)
{
	static const int w[NCTX] = { 1, 2, 3, 4 };
	struct result r;
	int tries;

	calibrate(self, _kt);
	set_weights(self, _kt, w);
	for (tries = 0; tries < STARVED_TRIES; tries++) {
		run(self, 0xf, WARM_MS, interval_ms(self), &r);
		report("4 contexts, weights 1:2:3:4", &r, w, 0xf, self->link_rate);
		if (!vm_starved(self, &r, "all four"))
			break;
	}
	EXPECT_FAIR(jain(r.tx, w, 0xf));
	EXPECT_FAIR(jain(r.peer, w, 0xf));
	/* And the order of the shares is the order of the weights. */
	EXPECT_LT(r.tx[0], r.tx[1]);
	EXPECT_LT(r.tx[1], r.tx[2]);
	EXPECT_LT(r.tx[2], r.tx[3]);
	expect_within_link(self, _kt, &r);
	expect_throttled(_kt, &r, 0xf);
}

TEST_F_TIMEOUT(fair, share_freed, 300)
{
	static const int w[NCTX] = { 1, 1, 1, 1 };
	long long three_before, three_after;
	struct result r1, r2;
	int tries;

	calibrate(self, _kt);
	set_weights(self, _kt, w);
	for (tries = 0; tries < STARVED_TRIES; tries++) {
		run(self, 0xf, WARM_MS, interval_ms(self), &r1);
		report("4 contexts, weights 1:1:1:1", &r1, w, 0xf, self->link_rate);
		/* Context 3 stops; once its ring has drained, the next interval. */
		run(self, 0x7, 200, interval_ms(self), &r2);
		report("context 3 stopped", &r2, w, 0x7, self->link_rate);
		if (!vm_starved(self, &r1, "all four") && !vm_starved(self, &r2, "three"))
			break;
	}

	three_before = (r1.tx[0] + r1.tx[1] + r1.tx[2]) / r1.secs;
	three_after = (r2.tx[0] + r2.tx[1] + r2.tx[2]) / r2.secs;
	KT_LOG("contexts 0-2: %lld B/s beside context 3, %lld B/s after it stopped "
	       "(%.3f of all four before, %.3f of link_rate)", three_before, three_after,
	       three_after / (r1.tx_sum / r1.secs), (double)three_after / self->link_rate);
	EXPECT_FAIR(jain(r1.tx, w, 0xf));
	EXPECT_GE(three_after, r1.tx_sum / r1.secs * 0.90);
	EXPECT_GE(three_after, three_before * 1.2);
	/* Stopped: at most the tail of its last round (the debug kernel's
	 * slow completions once counted 7 frames after the drain check). */
	EXPECT_LE(r2.tx[3] * 50, r2.tx_sum);
	EXPECT_FAIR(jain(r2.tx, w, 0x7));
	EXPECT_FAIR(jain(r2.peer, w, 0x7));
	expect_within_link(self, _kt, &r1);
	expect_within_link(self, _kt, &r2);
}

TEST_F_TIMEOUT(fair, rate_limit, 300)
{
	static const int w[NCTX] = { 1, 1, 1, 1 };
	long long rate, throttled0;
	struct result r;
	char v[32];
	double got, peer;
	int tries;

	calibrate(self, _kt);
	set_weights(self, _kt, w);
	rate = self->link_rate / 4;
	if (rate > (1LL << 20))
		rate = 1LL << 20;
	snprintf(v, sizeof(v), "%lld", rate);
	ASSERT_OK(kc_set(&self->k[0], "e1000/rate_bytes", v));
	ASSERT_EQ(kc_stat(&self->k[0], "e1000/rate_bytes"), rate);
	throttled0 = kc_stat(&self->k[0], "e1000/tx_throttled");
	for (tries = 0; tries < 3; tries++) {
		run(self, 0x3, WARM_MS, interval_ms(self), &r);
		report("context 0 at rate_bytes, context 1 unlimited", &r, w, 0x3,
		       self->link_rate);
		if (r.tx_sum / r.secs >= self->link_rate * RATE_JUDGED)
			break;
		KT_LOG("both moved %.3f of link_rate: measured again", r.tx_sum / r.secs /
		       self->link_rate);
	}
	got = r.tx[0] / r.secs;
	peer = r.peer[0] / r.secs;
	KT_LOG("context 0: rate_bytes %lld B/s, moved %.0f B/s by tx_bytes (%.4f), %.0f B/s at "
	       "the peer (%.4f); context 1 %.0f B/s; both together %.4f of link_rate", rate, got,
	       got / rate, peer, peer / rate, r.tx[1] / r.secs,
	       r.tx_sum / r.secs / self->link_rate);
	/*
	 * Below its limit only if the VM could not run the link: a context
	 * held to its rate gets no credit for a pass the VM ran late (its
	 * bucket holds 100 ms), so a starved VM moves less (measured: the
	 * link at 0.79 to 0.90 of link_rate, the limit at 0.83 to 0.93; at
	 * 0.997 to 1.008, 0.999 to 1.008); more is never allowed.
	 */
	if (r.tx_sum / r.secs >= self->link_rate * RATE_JUDGED)
		EXPECT_GE(got, rate * 0.95);
	else
		KT_LOG("the VM was short of CPU in every interval: the lower bound (%.4f of "
		       "rate_bytes) not judged", got / rate);
	EXPECT_LE(got, rate * 1.05);
	EXPECT_LE(peer, rate * 1.05);
	EXPECT_GT(kc_stat(&self->k[0], "e1000/tx_throttled"), throttled0);
	/* Held back by its limit, it shows its guest STATUS.TXOFF (the stock
	 * driver then declares no "Tx Unit Hang"): still sending, sampled. */
	{
		int i, txoff = 0;

		for (i = 0; i < 200; i++) {
			txoff += !!(kc_rd(&self->k[0], E1K_STATUS) & E1K_STATUS_TXOFF);
			kc_sleep_ms(5);
		}
		KT_LOG("context 0: STATUS.TXOFF in %d of 200 samples", txoff);
		EXPECT_GT(txoff, 0);
	}
	/* The unlimited one is not held to it. */
	EXPECT_GT(r.tx[1], r.tx[0] * 1.2);
	expect_within_link(self, _kt, &r);
}

KT_MAIN()

/* Bus mastering on again after a reset (the config space is reset too). */
static int bus_master(struct kc *k)
{
	uint16_t cmd = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	return pwrite(k->device, &cmd, 2, k->cfg_off + PCI_COMMAND) == 2 ? 0 : -1;
}

/* Stops a sender thread's work (it keeps polling, touching nothing). */
static void sender_pause(struct sender *s)
{
	double end = kt_now() + 10;

	s->run = 0;
	while (!s->idle && kt_now() < end)	/* past the thread's current round */
		kc_sleep_ms(5);
}

/*
 * lifecycle_never_stalls_others: contexts 0 and 1 send all along (no
 * link_rate); meanwhile context 2 is reset (VFIO_DEVICE_RESET) with its
 * TX ring full, and context 3's VMM goes away with its ring full (its
 * device closed, then the mdev removed).  Sampled every 250 ms, contexts
 * 0 and 1 must never go a second (five on the debug kernel) without
 * moving a frame while they have descriptors queued (a ring a busy host's
 * sender thread let run empty is logged, not counted); context 2, its driver's set-up redone, sends
 * again; once every sender stops, the NIC holds no guest buffer
 * (ring_inflight 0).
 */
TEST_F_TIMEOUT(fair, lifecycle_never_stalls_others, 240)
{
	long long last[2], before2 = 0;
	double moved_at[2], stall_s = 1.0;
	int i, w, stalls = 0, stalled[2] = { 0, 0 };
	struct sample a, b;
	struct utsname u;

	/* The debug kernel (KASAN, lockdep) runs everything several times slower. */
	if (!uname(&u) && strstr(u.release, "kvmio-debug"))
		stall_s = 5.0;
	ASSERT_OK(nic_set(&self->nic, "link_rate", 0));
	for (i = 0; i < NCTX; i++)
		self->s[i].run = 1;
	kc_sleep_ms(500);
	take(self, &a);
	last[0] = a.tx[0];
	last[1] = a.tx[1];
	moved_at[0] = moved_at[1] = a.t;
	for (w = 0; w < 16; w++) {
		double t0 = kt_now();

		if (w == 4) {
			/* context 2: reset with its ring full */
			sender_pause(&self->s[2]);
			KT_LOG("context 2 reset with TDH %u TDT %u (sender paused in %.2f s)",
			       kc_rd(&self->k[2], E1K_TDH), kc_rd(&self->k[2], E1K_TDT),
			       kt_now() - t0);
			t0 = kt_now();
			EXPECT_OK(ioctl(self->k[2].device, VFIO_DEVICE_RESET));
			KT_LOG("context 2 reset in %.2f s", kt_now() - t0);
		}
		if (w == 8) {
			/* context 3: its VMM killed, then the context removed */
			self->s[3].quit = 1;
			pthread_join(self->s[3].thread, NULL);
			self->s[3].joined = 1;
			KT_LOG("context 3's sender joined in %.2f s", kt_now() - t0);
			t0 = kt_now();
			kc_close(&self->k[3]);
			KT_LOG("context 3 closed in %.2f s", kt_now() - t0);
			t0 = kt_now();
			EXPECT_OK(kt_mdev_remove(self->k[3].uuid));
			self->k[3].created = 0;
			KT_LOG("context 3 removed in %.2f s", kt_now() - t0);
		}
		if (w == 10) {
			/* context 2's driver sets its NIC up again */
			EXPECT_OK(bus_master(&self->k[2]));
			kc_tx_setup(&self->k[2]);
			before2 = kc_stat(&self->k[2], "e1000/tx_bytes");
			self->s[2].run = 1;
		}
		kc_sleep_ms(250);
		t0 = kt_now();
		take(self, &b);
		if (kt_now() - t0 > 1)
			KT_LOG("window %d: the counters took %.2f s to read", w, kt_now() - t0);
		for (i = 0; i < 2; i++) {
			unsigned int tdh = kc_rd(&self->k[i], E1K_TDH);
			unsigned int tdt = kc_rd(&self->k[i], E1K_TDT);

			/*
			 * Nothing moved for longer than the stock driver waits
			 * before it declares a "Tx Unit Hang" (one second)
			 * although descriptors were queued: a stall (any
			 * context's pass serves every context).  An empty ring
			 * is its sender thread not run by a busy host, not the
			 * NIC's doing.
			 */
			if (b.tx[i] != last[i]) {
				moved_at[i] = b.t;
				stalled[i] = 0;
			} else if (tdh == tdt) {
				KT_LOG("window %d: context %d's sender queued nothing", w, i);
				moved_at[i] = b.t;
			} else if (b.t - moved_at[i] > stall_s && !stalled[i]) {
				KT_LOG("window %d: context %d moved nothing for %.2f s with TDH %u "
				       "TDT %u", w, i, b.t - moved_at[i], tdh, tdt);
				stalls++;
				stalled[i] = 1;
			} else if (!stalled[i]) {
				KT_LOG("window %d: context %d moved nothing for %.2f s (TDH %u TDT %u)",
				       w, i, b.t - moved_at[i], tdh, tdt);
			}
			last[i] = b.tx[i];
		}
	}
	EXPECT_EQ(stalls, 0);
	KT_LOG("contexts 0 and 1 moved %lld and %lld bytes over 4 s beside a reset and a removal",
	       b.tx[0] - a.tx[0], b.tx[1] - a.tx[1]);
	EXPECT_GT(kc_stat(&self->k[2], "e1000/tx_bytes"), before2);
	EXPECT_EQ(nic_stat(&self->nic, "contexts"), NCTX - 1);

	for (i = 0; i < NCTX - 1; i++)
		sender_pause(&self->s[i]);
	kc_sleep_ms(200);
	EXPECT_EQ(nic_stat(&self->nic, "ring_inflight"), 0);
}
