// SPDX-License-Identifier: GPL-2.0
/*
 * e1000_offload_test - kvm_assign/e1000_offload.c (the e1000's TX checksum
 * and TSO done in software for context-to-context frames), compiled here
 * in userspace through lib/kt_kshim.h.  Needs no module and no device.
 *
 * Packets are built as Linux's e1000 driver leaves them for the NIC
 * (e1000_tso(), e1000_tx_csum()): for TSO the IPv4 total length and header
 * checksum zeroed and the TCP checksum holding the pseudo-header sum
 * without the length; for checksum offload the pseudo-header sum with the
 * length.  Every checksum in a result is verified by this file's own
 * checksum code, not the one under test.
 *
 * fuzz: random contexts and packets; the packet is read-only and ends at
 * an inaccessible page, the scratch buffer too, so an overread or a write
 * outside scratch faults (build with -fsanitize=address,undefined on the
 * host for the rest); every frame must be the packet itself or lie in
 * scratch, within the promised lengths.  KT_FUZZ_SEED and KT_FUZZ_ITERS
 * override the seed and the 100000 iterations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <arpa/inet.h>

#include "lib/kt_test.h"
#include "lib/kt_kshim.h"
#include "../kvm_assign/e1000_offload.c"

#define ETH_HLEN	14
#define IP4_OFF		ETH_HLEN
#define L4_OFF4		(ETH_HLEN + 20)
#define IP6_OFF		ETH_HLEN
#define L4_OFF6		(ETH_HLEN + 40)
#define TCP_OPT_LEN	12		/* NOP, NOP, timestamps */
#define TCP_HLEN	(20 + TCP_OPT_LEN)
#define HDR4		(L4_OFF4 + TCP_HLEN)	/* 66 */
#define HDR6		(L4_OFF6 + 20)		/* 74 */
#define MSS		1448
#define SEQ0		0xfffff000u		/* wraps inside the packet */
#define TCP_FIN		0x01
#define TCP_PSH		0x08
#define TCP_ACK		0x10
#define MAX_FRAMES	256

/* ---- frames the function emits, kept for checking ---- */

struct capture {
	unsigned int	n;
	unsigned int	len[MAX_FRAMES];
	uint8_t		*data[MAX_FRAMES];
	const uint8_t	*ptr[MAX_FRAMES];
};

static void capture_emit(void *arg, const u8 *frame, unsigned int flen)
{
	struct capture *c = arg;

	if (c->n >= MAX_FRAMES) {
		c->n++;
		return;
	}
	c->data[c->n] = malloc(flen ? flen : 1);
	if (!c->data[c->n])
		abort();
	memcpy(c->data[c->n], frame, flen);
	c->len[c->n] = flen;
	c->ptr[c->n] = frame;
	c->n++;
}

static void capture_free(struct capture *c)
{
	unsigned int i;

	for (i = 0; i < c->n && i < MAX_FRAMES; i++)
		free(c->data[i]);
	memset(c, 0, sizeof(*c));
}

/* ---- the test's own checksum arithmetic (RFC 1071, 64-bit accumulator) ---- */

static uint64_t ref_add(uint64_t acc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint16_t w;

	while (n >= 2) {
		memcpy(&w, p, 2);
		acc += ntohs(w);
		p += 2;
		n -= 2;
	}
	if (n)
		acc += (uint64_t)p[0] << 8;
	return acc;
}

static uint16_t ref_fold(uint64_t acc)
{
	while (acc > 0xffff)
		acc = (acc >> 16) + (acc & 0xffff);
	return (uint16_t)acc;
}

/* The pseudo-header sums the driver leaves in the checksum field. */
static uint16_t pseudo4(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	uint64_t acc = ref_add(0, ip + 12, 8);

	return ref_fold(acc + proto + l4len);
}

static uint16_t pseudo6(const uint8_t *ip6, uint8_t proto, uint32_t l4len)
{
	uint64_t acc = ref_add(0, ip6 + 8, 32);

	return ref_fold(acc + proto + (l4len >> 16) + (l4len & 0xffff));
}

/* A region is valid when its sum, field included, folds to 0xffff. */
static int ip4_csum_ok(const uint8_t *ip)
{
	return ref_fold(ref_add(0, ip, 20)) == 0xffff;
}

static int l4_csum4_ok(const uint8_t *ip, const uint8_t *l4, uint32_t l4len, uint8_t proto)
{
	uint64_t acc = ref_add(0, ip + 12, 8) + proto + l4len;

	return ref_fold(ref_add(acc, l4, l4len)) == 0xffff;
}

static int l4_csum6_ok(const uint8_t *ip6, const uint8_t *l4, uint32_t l4len, uint8_t proto)
{
	uint64_t acc = ref_add(0, ip6 + 8, 32) + proto + (l4len >> 16) + (l4len & 0xffff);

	return ref_fold(ref_add(acc, l4, l4len)) == 0xffff;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* ---- packets as the driver queues them ---- */

static void fill_payload(uint8_t *p, unsigned int n, unsigned int seed)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static void build_eth(uint8_t *p, uint16_t type)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	wr16(p + 12, type);
}

/* IPv4 header; tot_len and check as given (the driver zeroes them for TSO). */
static void build_ip4(uint8_t *ip, uint8_t proto, uint16_t tot_len)
{
	ip[0] = 0x45;
	ip[1] = 0;
	wr16(ip + 2, tot_len);
	wr16(ip + 4, 0xfffe);	/* the ID wraps inside a 9-segment packet */
	wr16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	wr16(ip + 10, 0);
	wr32(ip + 12, 0x0a000001);
	wr32(ip + 16, 0x0a000002);
}

static void build_ip6(uint8_t *ip6, uint8_t proto)
{
	unsigned int i;

	wr32(ip6, 0x60012345);
	wr16(ip6 + 4, 0);	/* tcp_v6_gso_csum_prep() zeroes it */
	ip6[6] = proto;
	ip6[7] = 64;
	for (i = 0; i < 16; i++) {
		ip6[8 + i] = i == 0 ? 0xfd : (i == 15 ? 1 : i);
		ip6[24 + i] = i == 0 ? 0xfd : (i == 15 ? 2 : i);
	}
}

static void build_tcp(uint8_t *th, unsigned int hlen, uint8_t flags)
{
	memset(th, 0, hlen);
	wr16(th, 40000);
	wr16(th + 2, 5201);
	wr32(th + 4, SEQ0);
	wr32(th + 8, 0x01020304);
	th[12] = (uint8_t)((hlen / 4) << 4);
	th[13] = flags;
	wr16(th + 14, 0x1000);
	if (hlen > 20) {	/* NOP, NOP, timestamps */
		th[20] = 1;
		th[21] = 1;
		th[22] = 8;
		th[23] = 10;
		wr32(th + 24, 0x11223344);
		wr32(th + 28, 0x55667788);
	}
}

/* An IPv4/TCP TSO packet; returns its length. */
static unsigned int build_tso4(uint8_t *p, unsigned int payload)
{
	build_eth(p, 0x0800);
	build_ip4(p + IP4_OFF, 6, 0);
	build_tcp(p + L4_OFF4, TCP_HLEN, TCP_ACK | TCP_PSH | TCP_FIN);
	wr16(p + L4_OFF4 + 16, pseudo4(p + IP4_OFF, 6, 0));
	fill_payload(p + HDR4, payload, 3);
	return HDR4 + payload;
}

static void ctx_desc(struct e1k_tx_ctx_desc *c, unsigned int ipcss,
		     unsigned int ipcso, unsigned int ipcse, unsigned int tucss,
		     unsigned int tucso, unsigned int tucse, uint32_t cmd,
		     unsigned int hdr_len, unsigned int mss)
{
	c->ip_fields = htole32(ipcss | ipcso << 8 | ipcse << 16);
	c->tcp_fields = htole32(tucss | tucso << 8 | tucse << 16);
	c->cmd_and_length = htole32(cmd | E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_C);
	c->tcp_seg_setup = htole32(hdr_len << 8 | mss << 16);
}

static void data_desc(struct e1k_tx_desc *d, unsigned int len, int tse, uint8_t popts)
{
	d->addr = 0;
	d->lower = htole32(len | E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D |
			   E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS |
			   (tse ? E1K_TXD_CMD_TSE : 0));
	d->upper = htole32((uint32_t)popts << 8);
}

/* The stock driver's IPv4 TSO context for build_tso4() packets. */
static void tso4_offload(struct e1k_tx_pkt_offload *o, unsigned int payload,
			 unsigned int mss)
{
	struct e1k_tx_ctx_desc c;
	struct e1k_tx_desc d;

	ctx_desc(&c, IP4_OFF, IP4_OFF + 10, L4_OFF4 - 1, L4_OFF4, L4_OFF4 + 16, 0,
		 E1K_TXD_CMD_TSE | E1K_TXD_CMD_IP | E1K_TXD_CMD_TCP | payload,
		 HDR4, mss);
	data_desc(&d, 1000, 1, E1K_TXD_POPTS_IXSM | E1K_TXD_POPTS_TXSM);
	if (e1k_tx_offload_init(o, &d, &c, NULL))
		abort();
}

static u8 scratch_buf[E1K_OFFLOAD_SCRATCH];

/* Checks an IPv4/TSO result against the packet it came from. */
static void check_tso4(struct kt_ctx *_kt, const uint8_t *pkt, unsigned int len,
		      const struct capture *c, unsigned int seg)
{
	unsigned int payload = len - HDR4, sent = 0, i;

	for (i = 0; i < c->n; i++) {
		const uint8_t *f = c->data[i];
		unsigned int chunk = c->len[i] - HDR4;
		int last = i == c->n - 1;

		EXPECT_LE(c->len[i], 1514);
		EXPECT_EQ(chunk, last ? payload - sent : seg);
		EXPECT_EQ(memcmp(f, pkt, IP4_OFF + 2), 0);		/* eth, ver, tos */
		EXPECT_EQ(rd16(f + IP4_OFF + 2), c->len[i] - ETH_HLEN);
		EXPECT_EQ(rd16(f + IP4_OFF + 4), (uint16_t)(0xfffe + i));
		EXPECT_EQ(memcmp(f + IP4_OFF + 6, pkt + IP4_OFF + 6, 4), 0);
		EXPECT_EQ(memcmp(f + IP4_OFF + 12, pkt + IP4_OFF + 12, 8), 0);
		EXPECT_TRUE(ip4_csum_ok(f + IP4_OFF));
		EXPECT_EQ(memcmp(f + L4_OFF4, pkt + L4_OFF4, 4), 0);	/* ports */
		EXPECT_EQ(rd32(f + L4_OFF4 + 4), (uint32_t)(SEQ0 + sent));
		EXPECT_EQ(rd32(f + L4_OFF4 + 8), 0x01020304);
		EXPECT_EQ(f[L4_OFF4 + 13],
			  last ? (TCP_ACK | TCP_PSH | TCP_FIN) : TCP_ACK);
		EXPECT_EQ(memcmp(f + L4_OFF4 + 18, pkt + L4_OFF4 + 18, TCP_HLEN - 18), 0);
		EXPECT_TRUE(l4_csum4_ok(f + IP4_OFF, f + L4_OFF4,
					c->len[i] - L4_OFF4, 6));
		EXPECT_EQ(memcmp(f + HDR4, pkt + HDR4 + sent, chunk), 0);
		sent += chunk;
	}
	EXPECT_EQ(sent, payload);
}

/*
 * Segments a build_tso4() packet of @payload bytes with the stock context
 * and checks the result: @frames frames of @seg payload bytes but the last.
 * The packet is allocated to its exact length (for ASan).
 */
static void run_tso4(struct kt_ctx *_kt, unsigned int payload, unsigned int mss,
		     unsigned int frames, unsigned int seg)
{
	struct e1k_tx_pkt_offload o;
	struct capture c = { 0 };
	uint8_t *pkt = malloc(HDR4 + payload);
	unsigned int len;

	ASSERT_TRUE(pkt);
	len = build_tso4(pkt, payload);
	tso4_offload(&o, payload, mss);
	ASSERT_TRUE(o.tse && o.ipv4 && o.tcp && o.ixsm && o.txsm);
	ASSERT_EQ(o.hdr_len, HDR4);
	ASSERT_EQ(o.mss, mss);
	EXPECT_EQ(e1k_offload_frames(pkt, len, &o, capture_emit, &c, scratch_buf),
		  frames);
	EXPECT_EQ(c.n, frames);
	if (c.n == frames)
		check_tso4(_kt, pkt, len, &c, seg);
	capture_free(&c);
	free(pkt);
}

TEST(tso_ipv4_9_segments)
{
	run_tso4(_kt, 8 * MSS + 1000, MSS, 9, MSS);
}

/* A payload that is a multiple of the MSS ends with its last full segment. */
TEST(tso_ipv4_exact_multiple)
{
	run_tso4(_kt, 3 * MSS, MSS, 3, MSS);
}

/* No payload: the header alone is one frame, as on the NIC. */
TEST(tso_ipv4_header_only)
{
	run_tso4(_kt, 0, MSS, 1, MSS);
}

/* An MSS beyond one frame is cut to what a frame holds (TCP only). */
TEST(tso_ipv4_mss_clamped)
{
	run_tso4(_kt, 5000, 8948, 4, 1514 - HDR4);
}

TEST(tso_ipv6)
{
	unsigned int payload = 3500, mss = 1000, len = HDR6 + payload, sent = 0, i;
	struct e1k_tx_pkt_offload o;
	struct e1k_tx_ctx_desc cd;
	struct e1k_tx_desc d;
	struct capture c = { 0 };
	static uint8_t pkt[HDR6 + 3500];

	build_eth(pkt, 0x86dd);
	build_ip6(pkt + IP6_OFF, 6);
	build_tcp(pkt + L4_OFF6, 20, TCP_ACK | TCP_PSH);
	wr16(pkt + L4_OFF6 + 16, pseudo6(pkt + IP6_OFF, 6, 0));
	fill_payload(pkt + HDR6, payload, 11);
	/* e1000_tso() for IPv6: ipcse 0, no IP bit; TXSM only */
	ctx_desc(&cd, IP6_OFF, 0, 0, L4_OFF6, L4_OFF6 + 16, 0,
		 E1K_TXD_CMD_TSE | E1K_TXD_CMD_TCP | payload, HDR6, mss);
	data_desc(&d, 4096, 1, E1K_TXD_POPTS_TXSM);
	ASSERT_EQ(e1k_tx_offload_init(&o, &d, &cd, NULL), 0);
	ASSERT_TRUE(o.tse && !o.ipv4 && o.tcp && !o.ixsm && o.txsm);

	ASSERT_EQ(e1k_offload_frames(pkt, len, &o, capture_emit, &c, scratch_buf), 4);
	for (i = 0; i < c.n; i++) {
		const uint8_t *f = c.data[i];
		unsigned int chunk = c.len[i] - HDR6;
		int last = i == c.n - 1;

		EXPECT_EQ(chunk, last ? 500 : mss);
		EXPECT_EQ(memcmp(f, pkt, IP6_OFF + 4), 0);
		EXPECT_EQ(rd16(f + IP6_OFF + 4), c.len[i] - ETH_HLEN - 40);
		EXPECT_EQ(memcmp(f + IP6_OFF + 6, pkt + IP6_OFF + 6, 34), 0);
		EXPECT_EQ(rd32(f + L4_OFF6 + 4), (uint32_t)(SEQ0 + sent));
		EXPECT_EQ(f[L4_OFF6 + 13], last ? (TCP_ACK | TCP_PSH) : TCP_ACK);
		EXPECT_TRUE(l4_csum6_ok(f + IP6_OFF, f + L4_OFF6, c.len[i] - L4_OFF6, 6));
		EXPECT_EQ(memcmp(f + HDR6, pkt + HDR6 + sent, chunk), 0);
		sent += chunk;
	}
	EXPECT_EQ(sent, payload);
	capture_free(&c);
}

/* Checksum offload of an IPv4/UDP packet (and its IP header, with IXSM). */
TEST(udp_csum_offload)
{
	unsigned int payload = 301, len = L4_OFF4 + 8 + payload, i;
	struct e1k_tx_pkt_offload o;
	struct e1k_tx_ctx_desc cd;
	struct e1k_tx_desc d;
	struct capture c = { 0 };
	static uint8_t pkt[L4_OFF4 + 8 + 301];

	build_eth(pkt, 0x0800);
	build_ip4(pkt + IP4_OFF, 17, len - ETH_HLEN);
	wr16(pkt + L4_OFF4, 5353);
	wr16(pkt + L4_OFF4 + 2, 53);
	wr16(pkt + L4_OFF4 + 4, 8 + payload);
	/* CHECKSUM_PARTIAL: the pseudo-header sum, length included */
	wr16(pkt + L4_OFF4 + 6, pseudo4(pkt + IP4_OFF, 17, 8 + payload));
	fill_payload(pkt + L4_OFF4 + 8, payload, 5);

	ctx_desc(&cd, IP4_OFF, IP4_OFF + 10, L4_OFF4 - 1, L4_OFF4, L4_OFF4 + 6, 0,
		 0, 0, 0);
	data_desc(&d, len, 0, E1K_TXD_POPTS_TXSM | E1K_TXD_POPTS_IXSM);
	ASSERT_EQ(e1k_tx_offload_init(&o, &d, NULL, &cd), 0);
	ASSERT_TRUE(!o.tse && o.txsm && o.ixsm);

	ASSERT_EQ(e1k_offload_frames(pkt, len, &o, capture_emit, &c, scratch_buf), 1);
	ASSERT_EQ(c.len[0], len);
	EXPECT_TRUE(ip4_csum_ok(c.data[0] + IP4_OFF));
	EXPECT_TRUE(l4_csum4_ok(c.data[0] + IP4_OFF, c.data[0] + L4_OFF4, 8 + payload, 17));
	for (i = 0; i < len; i++) {
		if (i == IP4_OFF + 10 || i == IP4_OFF + 11 ||
		    i == L4_OFF4 + 6 || i == L4_OFF4 + 7)
			continue;
		EXPECT_EQ(c.data[0][i], pkt[i]);
	}
	capture_free(&c);

	/* A UDP sum of 0 goes out as 0xffff ("no checksum" is 0), as QEMU's. */
	{
		uint8_t *w = pkt + L4_OFF4 + 8;	/* an even offset */
		uint64_t acc;

		/* the sum covers the seed (the pseudo header) and the datagram */
		wr16(w, 0);
		acc = ref_add(0, pkt + L4_OFF4, 8 + payload);
		wr16(w, (uint16_t)(0xffff - ref_fold(acc)));
		ASSERT_EQ(e1k_offload_frames(pkt, len, &o, capture_emit, &c,
					     scratch_buf), 1);
		EXPECT_EQ(rd16(c.data[0] + L4_OFF4 + 6), 0xffff);
		EXPECT_TRUE(l4_csum4_ok(c.data[0] + IP4_OFF, c.data[0] + L4_OFF4,
					8 + payload, 17));
		capture_free(&c);
	}

	/* TXSM alone leaves the IP header as it was. */
	d.upper = htole32(E1K_TXD_POPTS_TXSM << 8);
	ASSERT_EQ(e1k_tx_offload_init(&o, &d, NULL, &cd), 0);
	ASSERT_EQ(e1k_offload_frames(pkt, len, &o, capture_emit, &c, scratch_buf), 1);
	EXPECT_EQ(rd16(c.data[0] + IP4_OFF + 10), 0);
	EXPECT_TRUE(l4_csum4_ok(c.data[0] + IP4_OFF, c.data[0] + L4_OFF4, 8 + payload, 17));
	capture_free(&c);
}

/* Legacy descriptors, and data descriptors without POPTS: the packet as is. */
TEST(no_offload_passes_packet)
{
	struct e1k_tx_pkt_offload o;
	struct e1k_tx_ctx_desc cd;
	struct e1k_tx_desc d;
	struct capture c = { 0 };
	static uint8_t pkt[3000];

	fill_payload(pkt, sizeof(pkt), 1);
	ctx_desc(&cd, 0, 0, 0, 0, 0, 0, E1K_TXD_CMD_TSE, 0, 0);
	d.lower = htole32(sizeof(pkt) | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IC);
	d.upper = htole32(0xff00);
	ASSERT_EQ(e1k_tx_offload_init(&o, &d, &cd, &cd), 0);
	ASSERT_TRUE(!o.tse && !o.txsm && !o.ixsm);
	ASSERT_EQ(e1k_offload_frames(pkt, sizeof(pkt), &o, capture_emit, &c, scratch_buf), 1);
	EXPECT_TRUE(c.ptr[0] == pkt);
	EXPECT_EQ(c.len[0], sizeof(pkt));
	capture_free(&c);

	data_desc(&d, sizeof(pkt), 0, 0);
	ASSERT_EQ(e1k_tx_offload_init(&o, &d, NULL, NULL), 0);
	ASSERT_EQ(e1k_offload_frames(pkt, sizeof(pkt), &o, capture_emit, &c, scratch_buf), 1);
	EXPECT_TRUE(c.ptr[0] == pkt);
	capture_free(&c);
}

/* Runs one unusable case: -EINVAL and nothing emitted. */
#define EXPECT_REFUSED(pkt, len, o)					\
	do {								\
		struct capture _c = { 0 };				\
									\
		EXPECT_EQ(e1k_offload_frames(pkt, len, o, capture_emit, &_c, \
					     scratch_buf), -EINVAL);	\
		EXPECT_EQ(_c.n, 0);					\
		capture_free(&_c);					\
	} while (0)

TEST(invalid_contexts)
{
	struct e1k_tx_pkt_offload o, good;
	struct e1k_tx_desc d;
	unsigned int len;
	static uint8_t pkt[HDR4 + 3000];

	len = build_tso4(pkt, 3000);
	tso4_offload(&good, 3000, MSS);

	/* a packet shorter than hdr_len */
	EXPECT_REFUSED(pkt, HDR4 - 1, &good);
	EXPECT_REFUSED(pkt, 20, &good);
	/* hdr_len 255 with a short packet */
	o = good;
	o.hdr_len = 255;
	EXPECT_REFUSED(pkt, 200, &o);
	/* mss 0 */
	o = good;
	o.mss = 0;
	EXPECT_REFUSED(pkt, len, &o);
	/* TSO: headers and checksum fields outside hdr_len */
	o = good;
	o.tucss = HDR4 - 19;
	EXPECT_REFUSED(pkt, len, &o);
	o = good;
	o.tucso = HDR4 - 1;
	EXPECT_REFUSED(pkt, len, &o);
	o = good;
	o.ipcso = 250;
	EXPECT_REFUSED(pkt, len, &o);
	o = good;
	o.ipv4 = false;		/* an IPv6 header does not fit at 14 in 34 bytes... */
	o.hdr_len = 50;
	EXPECT_REFUSED(pkt, len, &o);
	o = good;
	o.tucse = len;		/* end beyond the packet */
	EXPECT_REFUSED(pkt, len, &o);
	/* UDP TSO whose segments would exceed a frame */
	o = good;
	o.tcp = false;
	o.mss = 1500;
	EXPECT_REFUSED(pkt, len, &o);
	/* no packet, or one too long */
	EXPECT_REFUSED(pkt, 0, &good);
	EXPECT_REFUSED(pkt, E1K_TX_PKT_MAX + 1, &good);

	/* checksum offload: css, cso, cse beyond the packet */
	memset(&o, 0, sizeof(o));
	o.txsm = true;
	o.tucss = 34;
	o.tucso = 40;
	EXPECT_REFUSED(pkt, 34, &o);		/* css at the end */
	EXPECT_REFUSED(pkt, 41, &o);		/* cso's second byte beyond */
	o.tucse = 100;
	EXPECT_REFUSED(pkt, 100, &o);		/* cse beyond */
	o.tucse = 33;
	EXPECT_REFUSED(pkt, 200, &o);		/* cse before css */
	memset(&o, 0, sizeof(o));
	o.ixsm = true;
	o.ipcss = 200;
	o.ipcso = 24;
	EXPECT_REFUSED(pkt, 150, &o);
	/* a checksummed packet longer than scratch */
	memset(&o, 0, sizeof(o));
	o.txsm = true;
	o.tucss = 34;
	o.tucso = 40;
	{
		static uint8_t big[E1K_OFFLOAD_SCRATCH + 1];

		EXPECT_REFUSED(big, sizeof(big), &o);
	}

	/* a TSO (or checksum) data descriptor with no such context given */
	data_desc(&d, 100, 1, E1K_TXD_POPTS_TXSM);
	EXPECT_EQ(e1k_tx_offload_init(&o, &d, NULL, NULL), -EINVAL);
	data_desc(&d, 100, 0, E1K_TXD_POPTS_TXSM);
	EXPECT_EQ(e1k_tx_offload_init(&o, &d, NULL, NULL), -EINVAL);
}

/* ---- fuzz ---- */

struct fuzz_state {
	const uint8_t	*pkt;
	unsigned int	len;
	const uint8_t	*scratch;
	const struct e1k_tx_pkt_offload *o;
	unsigned int	frames;
	unsigned long	payload;
	int		bad;
};

static void fuzz_emit(void *arg, const u8 *frame, unsigned int flen)
{
	struct fuzz_state *s = arg;

	s->frames++;
	if (s->o->tse) {
		if (frame != s->scratch || flen > E1K_OFFLOAD_FRAME_MAX ||
		    flen < s->o->hdr_len)
			s->bad = 1;
		else
			s->payload += flen - s->o->hdr_len;
	} else if (frame == s->pkt) {
		if (flen != s->len)
			s->bad = 1;
	} else if (frame != s->scratch || flen != s->len ||
		   flen > E1K_OFFLOAD_SCRATCH) {
		s->bad = 1;
	}
}

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static unsigned int rnd_below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

/* A small offset near the usual headers, or anything. */
static unsigned int rnd_off(unsigned int max)
{
	return rnd_below(4) ? rnd_below(80) : rnd_below(max + 1);
}

/* Maps @size bytes ending at an inaccessible page; returns the end. */
static uint8_t *guarded_end(size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (size + pg - 1) / pg * pg;
	uint8_t *m = mmap(NULL, span + pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + span, pg, PROT_NONE))
		return NULL;
	return m + span;
}

TEST_TIMEOUT(fuzz, 600)
{
	unsigned long iters = 100000, it, ok = 0, tso = 0, refused = 0, frames = 0;
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *pkt_end, *scratch;
	const char *env;

	rng_state = 0x2545f4914f6cdd1dull;
	env = getenv("KT_FUZZ_SEED");
	if (env)
		rng_state = strtoull(env, NULL, 0) ?: 1;
	env = getenv("KT_FUZZ_ITERS");
	if (env)
		iters = strtoul(env, NULL, 0);
	KT_LOG("seed 0x%llx, %lu iterations", (unsigned long long)rng_state, iters);

	pkt_end = guarded_end(E1K_TX_PKT_MAX);
	ASSERT_TRUE(pkt_end);
	scratch = guarded_end(E1K_OFFLOAD_SCRATCH);
	ASSERT_TRUE(scratch);
	scratch -= E1K_OFFLOAD_SCRATCH;

	for (it = 0; it < iters; it++) {
		struct e1k_tx_ctx_desc cd;
		struct e1k_tx_desc d;
		struct e1k_tx_pkt_offload o;
		struct fuzz_state s = { 0 };
		unsigned int len, r = rnd_below(100), i;
		uint8_t *pkt, *page;
		int ret;

		if (r < 70)
			len = 1 + rnd_below(2000);
		else if (r < 95)
			len = 1 + rnd_below(12000);
		else
			len = 1 + rnd_below(E1K_TX_PKT_MAX);
		if (!rnd_below(50))
			len = rnd_below(2) ? 0 : E1K_TX_PKT_MAX + rnd_below(3);
		pkt = pkt_end - (len > E1K_TX_PKT_MAX ? E1K_TX_PKT_MAX : len);
		page = (uint8_t *)((uintptr_t)pkt & ~(uintptr_t)(pg - 1));
		ASSERT_EQ(mprotect(page, pkt_end - page, PROT_READ | PROT_WRITE), 0);
		for (i = 0; i + 4 <= (unsigned int)(pkt_end - pkt); i += 4) {
			uint32_t v = rnd();

			memcpy(pkt + i, &v, 4);
		}
		for (; pkt + i < pkt_end; i++)
			pkt[i] = (uint8_t)rnd();
		/* the function must never write the packet */
		ASSERT_EQ(mprotect(page, pkt_end - page, PROT_READ), 0);

		if (rnd_below(3) == 0) {
			/* the stock driver's IPv4 TSO layout, header length varied */
			unsigned int hl = L4_OFF4 + 20 + 4 * rnd_below(11);
			unsigned int mss = 1 + rnd_below(len > 2000 ? 1600 : 200);

			if (len > 2000 && mss < 64)
				mss += 64;
			ctx_desc(&cd, IP4_OFF, IP4_OFF + 10, L4_OFF4 - 1, L4_OFF4,
				 L4_OFF4 + 16, 0, E1K_TXD_CMD_TSE | E1K_TXD_CMD_IP |
				 E1K_TXD_CMD_TCP, hl, mss);
		} else if (rnd_below(2)) {
			/* near the stock driver's contexts */
			unsigned int hl = rnd_below(4) ? 54 + rnd_below(40) : rnd_below(256);
			unsigned int mss = rnd_below(8) ? 500 + rnd_below(9000) :
					   rnd_below(65536);

			if (len > 2000 && mss < 64)
				mss += 64;	/* keep the run short */
			ctx_desc(&cd, rnd_off(255), rnd_off(255), rnd_below(3) ? rnd_off(65535) : 0,
				 rnd_off(255), rnd_off(255), rnd_below(3) ? 0 : rnd_off(65535),
				 (rnd() & (E1K_TXD_CMD_IP | E1K_TXD_CMD_TCP)) |
				 (rnd() & E1K_TXD_LEN_MASK) | E1K_TXD_CMD_TSE, hl, mss);
		} else {
			cd.ip_fields = htole32(rnd());
			cd.tcp_fields = htole32(rnd());
			cd.cmd_and_length = htole32(rnd());
			cd.tcp_seg_setup = htole32(rnd());
			if (len > 2000 && (le32toh(cd.tcp_seg_setup) >> 16) < 64)
				cd.tcp_seg_setup |= htole32(64u << 16);
		}
		d.addr = 0;
		d.lower = htole32(rnd_below(8) ? (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D |
						   (rnd() & E1K_TXD_CMD_TSE)) : rnd());
		d.upper = htole32(rnd());
		if (e1k_tx_offload_init(&o, &d, rnd_below(8) ? &cd : NULL,
					rnd_below(8) ? &cd : NULL))
			continue;

		s.pkt = pkt;
		s.len = len;
		s.scratch = scratch;
		s.o = &o;
		ret = e1k_offload_frames(pkt, len, &o, fuzz_emit, &s, scratch);
		if (ret < 0) {
			ASSERT_EQ(ret, -EINVAL);
			ASSERT_EQ(s.frames, 0);
			refused++;
			continue;
		}
		ASSERT_FALSE(s.bad);
		ASSERT_EQ((unsigned int)ret, s.frames);
		ASSERT_GE(ret, 1);
		if (o.tse) {
			ASSERT_EQ(s.payload, len - o.hdr_len);
			tso++;
		}
		ok++;
		frames += ret;
	}
	KT_LOG("%lu packets applied (%lu of them TSO, %lu frames), %lu refused",
	       ok, tso, frames, refused);
	ASSERT_GT(ok, iters / 10);
	ASSERT_GT(tso, iters / 20);
	ASSERT_GT(refused, iters / 10);
}

KT_MAIN()
