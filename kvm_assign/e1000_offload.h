/* SPDX-License-Identifier: GPL-2.0 */
/*
 * e1000_offload.h - the 82540's transmit offloads (checksum insertion, TCP
 * segmentation) done in software on one packet, for the frames the model
 * delivers itself from one context to another instead of giving them to
 * the NIC.  e1000.h includes this; it stays free of the model's state and
 * of kernel-only headers so that selftests/e1000_offload_test.c compiles
 * e1000_offload.c unchanged in userspace.
 */
#ifndef _KVM_ASSIGN_E1000_OFFLOAD_H
#define _KVM_ASSIGN_E1000_OFFLOAD_H

#include <linux/types.h>

#include "kvmio/e1000.h"

/* The longest frame a segment becomes (without FCS, without VLAN tag). */
#define E1K_OFFLOAD_FRAME_MAX	1514
/* The scratch buffer: a segment, or a whole non-TSO packet with checksums. */
#define E1K_OFFLOAD_SCRATCH	(256 + 9216)

/**
 * struct e1k_tx_pkt_offload - what the NIC would do to one packet
 * @ipcse:	IP checksum end, inclusive (0: to the end of the frame)
 * @tucse:	TCP/UDP checksum end, inclusive (0: to the end of the frame)
 * @mss:	TSO: payload bytes per segment
 * @ipcss:	IP checksum start; TSO: the IP header's offset
 * @ipcso:	where the IP checksum goes
 * @tucss:	TCP/UDP checksum start; TSO: the TCP/UDP header's offset
 * @tucso:	where the TCP/UDP checksum goes
 * @hdr_len:	TSO: the header bytes copied in front of each segment
 * @tse:	segment (the data descriptors' TSE); the TSO context applies,
 *		else the checksum context
 * @ipv4:	TSO: the context's IP bit (IPv4 header, else IPv6)
 * @tcp:	TSO: the context's TCP bit (TCP header, else UDP)
 * @ixsm:	insert the IP checksum (POPTS.IXSM of the first data descriptor)
 * @txsm:	insert the TCP/UDP checksum (POPTS.TXSM)
 *
 * All zero: no offload, the packet is one frame as it is.
 */
struct e1k_tx_pkt_offload {
	u16	ipcse;
	u16	tucse;
	u16	mss;
	u8	ipcss;
	u8	ipcso;
	u8	tucss;
	u8	tucso;
	u8	hdr_len;
	bool	tse;
	bool	ipv4;
	bool	tcp;
	bool	ixsm;
	bool	txsm;
};

int e1k_tx_offload_init(struct e1k_tx_pkt_offload *o,
			const struct e1k_tx_desc *first,
			const struct e1k_tx_ctx_desc *tso_ctx,
			const struct e1k_tx_ctx_desc *csum_ctx);
int e1k_offload_frames(const u8 *pkt, unsigned int len,
		       const struct e1k_tx_pkt_offload *o,
		       void (*emit)(void *arg, const u8 *frame, unsigned int flen),
		       void *arg, u8 *scratch);

#endif /* _KVM_ASSIGN_E1000_OFFLOAD_H */
