// SPDX-License-Identifier: GPL-2.0
/*
 * e1000_offload.c - the 82540's transmit offloads in software.
 *
 * A frame one context sends to another context of the same NIC never
 * reaches the NIC, so the checksums and the TCP segmentation the sending
 * guest asked the NIC for are done here, as QEMU's e1000 (the NIC these
 * frames would otherwise meet) does them:
 *
 *  - checksum insertion: the ones' complement of the 16-bit ones'
 *    complement sum of bytes css..cse (cse 0: to the end of the frame),
 *    stored big-endian at cso; a result of 0 is sent as 0xffff.  TCP/UDP
 *    first, then IP.
 *  - TSO: the payload after the hdr_len header bytes is cut into mss-sized
 *    pieces, each sent behind a copy of the header in which the NIC sets,
 *    frame i of the packet: IPv4 total length and IP ID + i (IPv6: the
 *    payload length), the TCP sequence number + the payload already sent
 *    with PSH and FIN cleared except on the last frame (UDP: the length),
 *    and, with TXSM, adds the frame's TCP/UDP length to the pseudo-header
 *    sum the driver left in the checksum field before summing.
 *
 * Where this differs from QEMU, on purpose:
 *  - a payload that is a multiple of mss ends with its last full segment
 *    (QEMU sends one more frame, the bare header, after it);
 *  - the IPv6 payload length excludes the 40-byte fixed header (QEMU
 *    writes the length from ipcss, which a receiver drops as truncated;
 *    Linux's e1000 driver never asks for IPv6 TSO);
 *  - PSH/FIN are cleared on all but the last frame of the payload actually
 *    given, not by the context's PAYLEN;
 *  - TCP segments longer than E1K_OFFLOAD_FRAME_MAX are cut smaller (the
 *    receiving context takes no longer frame); a UDP one is refused;
 *  - offsets that do not fit the packet make the whole packet invalid
 *    (QEMU skips a checksum whose cso lies beyond the frame, and clamps a
 *    cse beyond it to the end);
 *  - legacy descriptors get no offload (as QEMU: it ignores their CSO/CSS).
 *
 * VLAN tag insertion (VLE) is the caller's.  Pure: no locks, no
 * allocation, reads only pkt[0..len) and writes only scratch.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "e1000_offload.h"

#define E1K_IPV4_HLEN		20	/* without options */
#define E1K_IPV6_HLEN		40	/* the fixed header */
#define E1K_TCP_HLEN		20	/* without options */
#define E1K_UDP_HLEN		8
#define E1K_TCP_FLAGS		13	/* offset of the flags byte */
#define E1K_TCP_FIN		0x01
#define E1K_TCP_PSH		0x08

static u16 e1k_get_be16(const u8 *p)
{
	return p[0] << 8 | p[1];
}

static void e1k_put_be16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static u32 e1k_get_be32(const u8 *p)
{
	return (u32)e1k_get_be16(p) << 16 | e1k_get_be16(p + 2);
}

static void e1k_put_be32(u8 *p, u32 v)
{
	e1k_put_be16(p, v >> 16);
	e1k_put_be16(p + 2, v & 0xffff);
}

/* Adds @n bytes, as big-endian 16-bit words, to a ones' complement sum. */
static u32 e1k_sum16(u32 sum, const u8 *p, unsigned int n)
{
	/* At most 32 Ki words of 0xffff each: no carry is lost in 32 bits. */
	for (; n > 1; p += 2, n -= 2)
		sum += e1k_get_be16(p);
	if (n)
		sum += p[0] << 8;
	return sum;
}

static u16 e1k_fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * Whether a checksum's offsets fit every frame of at least @n bytes cut
 * from a @len-byte packet: the sum starts inside the frame, the field lies
 * inside it, and an end, if given, is neither before the start nor beyond
 * the packet.
 */
static bool e1k_csum_fits(unsigned int css, unsigned int cso,
			  unsigned int cse, unsigned int n, unsigned int len)
{
	if (css >= n || cso + 2 > n)
		return false;
	return !cse || (cse >= css && cse < len);
}

/* Checksum of bytes css..cse of the frame into cso; offsets checked. */
static void e1k_put_csum(u8 *f, unsigned int flen, unsigned int css,
			 unsigned int cso, unsigned int cse)
{
	unsigned int end = cse && cse < flen ? cse + 1 : flen;
	u16 csum = ~e1k_fold(e1k_sum16(0, f + css, end - css));

	e1k_put_be16(f + cso, csum ? csum : 0xffff);
}

static void e1k_put_csums(const struct e1k_tx_pkt_offload *o, u8 *f,
			  unsigned int flen)
{
	if (o->txsm)
		e1k_put_csum(f, flen, o->tucss, o->tucso, o->tucse);
	if (o->ixsm)
		e1k_put_csum(f, flen, o->ipcss, o->ipcso, o->ipcse);
}

/*
 * The payload bytes per TSO frame, or -EINVAL if the context does not fit
 * a @len-byte packet: the IP and TCP/UDP headers, the checksum fields and
 * starts all lie inside the hdr_len bytes every frame begins with.
 */
static int e1k_tso_seg_size(const struct e1k_tx_pkt_offload *o,
			    unsigned int len)
{
	unsigned int hl = o->hdr_len;
	unsigned int iph = o->ipv4 ? E1K_IPV4_HLEN : E1K_IPV6_HLEN;
	unsigned int l4h = o->tcp ? E1K_TCP_HLEN : E1K_UDP_HLEN;

	if (!o->mss || hl > len)
		return -EINVAL;
	if (o->ipcss + iph > hl || o->tucss + l4h > hl)
		return -EINVAL;
	if (o->txsm && !e1k_csum_fits(o->tucss, o->tucso, o->tucse, hl, len))
		return -EINVAL;
	if (o->ixsm && !e1k_csum_fits(o->ipcss, o->ipcso, o->ipcse, hl, len))
		return -EINVAL;
	if (hl + o->mss <= E1K_OFFLOAD_FRAME_MAX)
		return o->mss;
	/* Smaller TCP segments are still the same stream; datagrams are not. */
	if (!o->tcp)
		return -EINVAL;
	return E1K_OFFLOAD_FRAME_MAX - hl;
}

/*
 * Frame @i of a TSO packet, @sent payload bytes already in earlier frames:
 * the header fields the NIC rewrites, read from the fresh header copy and
 * written in the order QEMU writes them.
 */
static void e1k_tso_fixup(const struct e1k_tx_pkt_offload *o, u8 *f,
			  unsigned int flen, unsigned int i,
			  unsigned int sent, bool last)
{
	u8 *ip = f + o->ipcss, *l4 = f + o->tucss;

	if (o->ipv4) {
		e1k_put_be16(ip + 2, flen - o->ipcss);
		e1k_put_be16(ip + 4, (e1k_get_be16(ip + 4) + i) & 0xffff);
	} else {
		e1k_put_be16(ip + 4, flen - o->ipcss - E1K_IPV6_HLEN);
	}
	if (o->tcp) {
		e1k_put_be32(l4 + 4, e1k_get_be32(l4 + 4) + sent);
		if (!last)
			l4[E1K_TCP_FLAGS] &= ~(E1K_TCP_FIN | E1K_TCP_PSH);
	} else {
		e1k_put_be16(l4 + 4, flen - o->tucss);
	}
	if (o->txsm) {
		/* The driver's pseudo-header sum lacks the length: add it. */
		u32 sum = e1k_get_be16(f + o->tucso) + (flen - o->tucss);

		e1k_put_be16(f + o->tucso, e1k_fold(sum));
	}
}

static int e1k_tso_frames(const u8 *pkt, unsigned int len,
			  const struct e1k_tx_pkt_offload *o,
			  void (*emit)(void *arg, const u8 *frame,
				       unsigned int flen),
			  void *arg, u8 *scratch)
{
	unsigned int hl = o->hdr_len, payload = len - hl, sent = 0, i = 0;
	int seg = e1k_tso_seg_size(o, len);

	if (seg < 0)
		return seg;
	/* A bare header (no payload) is one frame, as on the NIC. */
	do {
		unsigned int chunk = min_t(unsigned int, payload - sent, seg);
		unsigned int flen = hl + chunk;

		memcpy(scratch, pkt, hl);
		memcpy(scratch + hl, pkt + hl + sent, chunk);
		e1k_tso_fixup(o, scratch, flen, i, sent,
			      sent + chunk == payload);
		e1k_put_csums(o, scratch, flen);
		emit(arg, scratch, flen);
		sent += chunk;
		i++;
	} while (sent < payload);
	return i;
}

/**
 * e1k_offload_frames() - apply a packet's transmit offloads in software
 * @pkt:	the packet as the guest queued it, its data buffers concatenated
 * @len:	its length, 1..E1K_TX_PKT_MAX
 * @o:		the offloads (e1k_tx_offload_init())
 * @emit:	called once per resulting frame, in order; @frame is @pkt or
 *		lies in @scratch, and is valid only during the call
 * @arg:	passed to @emit
 * @scratch:	E1K_OFFLOAD_SCRATCH bytes the frames are built in
 *
 * Without offload the packet is one frame, passed as it is whatever its
 * length.  With checksum offload it is one frame of the same length (at
 * most E1K_OFFLOAD_SCRATCH bytes).  With TSO each frame is at most
 * E1K_OFFLOAD_FRAME_MAX bytes.  Every offset the guest gave is checked
 * before the first frame is emitted: on error nothing is.
 *
 * Return: the number of frames emitted, or -EINVAL if the offloads cannot
 * apply to this packet.
 */
int e1k_offload_frames(const u8 *pkt, unsigned int len,
		       const struct e1k_tx_pkt_offload *o,
		       void (*emit)(void *arg, const u8 *frame, unsigned int flen),
		       void *arg, u8 *scratch)
{
	if (!len || len > E1K_TX_PKT_MAX)
		return -EINVAL;
	if (o->tse)
		return e1k_tso_frames(pkt, len, o, emit, arg, scratch);
	if (!o->txsm && !o->ixsm) {
		emit(arg, pkt, len);
		return 1;
	}
	if (len > E1K_OFFLOAD_SCRATCH ||
	    (o->txsm && !e1k_csum_fits(o->tucss, o->tucso, o->tucse, len, len)) ||
	    (o->ixsm && !e1k_csum_fits(o->ipcss, o->ipcso, o->ipcse, len, len)))
		return -EINVAL;
	memcpy(scratch, pkt, len);
	e1k_put_csums(o, scratch, len);
	emit(arg, scratch, len);
	return 1;
}

/**
 * e1k_tx_offload_init() - what the NIC would do to a packet
 * @o:		filled in
 * @first:	the packet's first data (or legacy) descriptor
 * @tso_ctx:	the TSO context descriptor in effect, NULL if none was given
 * @csum_ctx:	the checksum context descriptor in effect, NULL if none
 *
 * As QEMU reads them: a legacy descriptor means no offload; a data
 * descriptor's TSE picks the TSO context (else the checksum context), its
 * POPTS which checksums to insert.  The IP and TCP bits are the TSO
 * context's.
 *
 * Return: 0, or -EINVAL if the context the packet needs was never given.
 */
int e1k_tx_offload_init(struct e1k_tx_pkt_offload *o,
			const struct e1k_tx_desc *first,
			const struct e1k_tx_ctx_desc *tso_ctx,
			const struct e1k_tx_ctx_desc *csum_ctx)
{
	u32 lower = le32_to_cpu(first->lower);
	u8 popts = (le32_to_cpu(first->upper) >> 8) & 0xff;
	const struct e1k_tx_ctx_desc *c;
	u32 ip, tu, cmd, seg;

	memset(o, 0, sizeof(*o));
	if ((lower & (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_MASK)) !=
	    (E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D))
		return 0;
	o->tse = lower & E1K_TXD_CMD_TSE;
	o->ixsm = popts & E1K_TXD_POPTS_IXSM;
	o->txsm = popts & E1K_TXD_POPTS_TXSM;
	if (!o->tse && !o->ixsm && !o->txsm)
		return 0;

	c = o->tse ? tso_ctx : csum_ctx;
	if (!c)
		return -EINVAL;
	ip = le32_to_cpu(c->ip_fields);
	tu = le32_to_cpu(c->tcp_fields);
	cmd = le32_to_cpu(c->cmd_and_length);
	seg = le32_to_cpu(c->tcp_seg_setup);
	o->ipcss = ip & 0xff;
	o->ipcso = (ip >> 8) & 0xff;
	o->ipcse = ip >> 16;
	o->tucss = tu & 0xff;
	o->tucso = (tu >> 8) & 0xff;
	o->tucse = tu >> 16;
	if (o->tse) {
		o->ipv4 = cmd & E1K_TXD_CMD_IP;
		o->tcp = cmd & E1K_TXD_CMD_TCP;
		o->hdr_len = (seg >> 8) & 0xff;
		o->mss = seg >> 16;
	}
	return 0;
}
