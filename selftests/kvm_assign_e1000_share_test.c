// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign_e1000_share_test - one e1000 shared by several kvm_assign
 * contexts, each driven from userspace through VFIO, with the VM's other
 * e1000 as the wire (lib/kt_e1k_share.h).
 *
 * Written against the sharing contract (the spec of issue 11: contexts,
 * receive, transmit, sysfs):
 *
 *   contexts_64    64 contexts on the NIC with distinct MACs (the first
 *                  the NIC's own), all open at once, each sending two
 *                  frames to the peer and receiving two addressed to its
 *                  MAC, contents checked, none receiving another's; all
 *                  closed and removed with nothing pinned or left behind.
 *   isolation_*    receive demux (UPE of an untrusted context ignored,
 *                  unknown unicast to trusted contexts only, else counted
 *                  in rx_unknown_unicast; never another's unicast, even
 *                  trusted and with that MAC in its own RAR), a context's
 *                  RCTL/RAR/MTA writes not changing what another receives,
 *                  anti-spoofing (tx_spoofed, DD still written back,
 *                  allow_spoof), a DMA fault in one context leaving the
 *                  other working, the mac file (EADDRINUSE, EINVAL,
 *                  refused while open).
 *   switching_*    unicast between contexts delivered inside the model
 *                  and never on the wire (tx_switched, rx_switched),
 *                  broadcast to the wire and every other context but not
 *                  back to the sender, TSO and checksum offload finished
 *                  in software for a context receiving them.
 *   lifecycle_link_flap
 *                  the wire down and up again (QEMU's set_link, asked of
 *                  the VM's host): every context sees both changes, no
 *                  ring stalls and switching goes on while it is down,
 *                  every context talks to the peer again once it is up.
 *
 * Every case skips, with the reason, on a kernel that cannot share a NIC
 * (no e1000_max_contexts parameter, available_instances below what the
 * case needs, or a sysfs file the case uses missing).
 */
#include <pthread.h>

#include "lib/kt_test.h"
#include "lib/kt_leak.h"
#include "lib/kt_e1k_share.h"

#define BIG_SIZE	0x40000		/* switching_offloads: a TSO packet */
#define UNKNOWN_MAC	"02:00:00:00:ee:01"	/* no context owns it */
#define FOREIGN_MAC	"02:00:00:00:5f:01"	/* a spoofed source */
#define MCAST_MAC	"01:00:5e:11:22:33"

FIXTURE(share) {
	struct share_nic nic;
	struct kc k[KC_MAX];
	int wire_down;		/* lifecycle_link_flap took the wire down */
};

FIXTURE_SETUP(share)
{
	self->nic.k = self->k;
	self->nic.psock = -1;
}

FIXTURE_TEARDOWN(share)
{
	if (self->wire_down)
		share_wire_link(1);
	share_cleanup(&self->nic);
}

/* --- checks shared by the cases ----------------------------------------- */

/*
 * Context @k's ring holds exactly the frames @want[0 .. @n - 1] (test
 * frame numbers, in that order), each whole, from the peer's or a
 * context's MAC as the header's index says, to @dst[i] (NULL: the
 * context's MAC).  Logs what differs; returns the number of problems.
 */
static int rx_exactly(struct share_nic *nic, const struct kc *k, const uint32_t *want,
		      const uint8_t *const *dst, unsigned int n)
{
	unsigned int got = kc_rx_count(k), i, idx, bad = 0;
	uint32_t seq;

	if (got != n) {
		KT_LOG("ctx %d: %u frames in the ring, want %u", k->idx, got, n);
		bad++;
	}
	for (i = 0; i < got; i++) {
		unsigned int len = kc_rx_len(k, i);
		const uint8_t *src;
		int r;

		if (!len) {
			KT_LOG("ctx %d: descriptor %u: status %#x errors %#x length %u", k->idx,
			       i, kc_rxd(k, i)->status, kc_rxd(k, i)->errors,
			       kc_rxd(k, i)->length);
			bad++;
			continue;
		}
		r = kc_check_frame(kc_rxbuf(k, i), len, NULL, NULL, &idx, &seq);
		src = idx == KC_PEER ? nic->peer_mac : idx < KC_MAX ? nic->k[idx].mac : NULL;
		if (!r && (!src || memcmp(kc_rxbuf(k, i) + 6, src, 6)))
			r = -1;
		if (!r && i < n && memcmp(kc_rxbuf(k, i), dst && dst[i] ? dst[i] : k->mac, 6))
			r = -1;
		if (r || i >= n || seq != want[i]) {
			KT_LOG("ctx %d: descriptor %u: frame %u from %u, %u bytes%s, want %u",
			       k->idx, i, seq, idx, len, r ? " (damaged or misaddressed)" : "",
			       i < n ? want[i] : ~0U);
			bad++;
		}
	}
	return bad;
}

/*
 * Collects the peer's test frames for up to @ms: each of numbers
 * @seq0 .. @seq0 + @n - 1 counted in @count (whole frames only, from the
 * index and source MAC they carry), @stop_seq ends the wait once seen
 * (a control frame sent last).  Returns the number of damaged frames.
 */
static int peer_collect(struct share_nic *nic, uint32_t seq0, unsigned int n, int *count,
			uint32_t stop_seq, int ms)
{
	double end = kt_now() + ms / 1000.0;
	int bad = 0;

	memset(count, 0, n * sizeof(*count));
	while (kt_now() < end) {
		int len = peer_recv(nic, KC_ETHERTYPE, (end - kt_now()) * 1000 + 1);
		unsigned int idx;
		uint32_t seq;

		if (len <= 0)
			break;
		if (kc_check_frame(kc_peer_frame, len, NULL, NULL, &idx, &seq) ||
		    idx == KC_PEER) {
			if (idx != KC_PEER && bad++ < 4)
				KT_LOG("peer: damaged frame, %d bytes, ctx %u seq %u", len, idx,
				       seq);
			continue;
		}
		if (seq - seq0 < n)
			count[seq - seq0]++;
		if (seq == stop_seq && end > kt_now() + 0.3)
			end = kt_now() + 0.3;	/* stragglers */
	}
	return bad;
}

/* Writes a knob of a context; if the kernel refuses it while the context
 * is open, closes the device, writes it and opens and sets it up again. */
static void kc_knob(struct kc *k, struct kt_ctx *_kt, const char *name, const char *val)
{
	int err;

	if (!kc_set(k, name, val))
		return;
	err = errno;
	KT_LOG("ctx %d: %s=%s refused while open (%s): closed, written, reopened", k->idx,
	       name, val, strerror(err));
	kc_close_device(k);
	ASSERT_OK(kc_set(k, name, val));
	ASSERT_OK(kc_open_device(k));
	kc_wait_link(k, _kt);
	kc_tx_setup(k);
	kc_rx_setup(k, 0);
}

/* ====================================================================== */
/* 1. 64 contexts                                                          */
/* ====================================================================== */

#define N64	64

static unsigned int len_of(unsigned int idx, uint32_t seq)
{
	return KC_HDR + 26 + (idx * 97 + seq * 389) % (1514 - KC_HDR - 26 + 1);
}

TEST_F_TIMEOUT(share, contexts_64, 240)
{
	struct share_nic *nic = &self->nic;
	int i, j, bad, lost = 0;
	long long pinned = 0, ctxs, unk0;
	struct kt_snap base, now;
	uint8_t nic_mac[6], unknown[6];
	unsigned int want_got;
	double t0;

	share_nic_setup(nic, _kt, N64);
	kt_snap(&base);
	t0 = kt_now();
	share_create(nic, _kt, N64, NULL, NULL);
	KT_LOG("%d contexts created in %.1f s", N64, kt_now() - t0);

	/* Distinct MACs: the first the NIC's own, the others locally
	 * administered unicast. */
	ASSERT_OK(kc_parse_mac(KC_NIC_MAC, nic_mac));
	EXPECT_EQ(memcmp(self->k[0].mac, nic_mac, 6), 0);
	for (i = 0; i < N64; i++) {
		const uint8_t *m = self->k[i].mac;
		char s[24];

		kc_fmt_mac(m, s);
		if (i < 3 || i == N64 - 1)
			KT_LOG("ctx %d: %s mac %s", i, self->k[i].uuid, s);
		EXPECT_FALSE(m[0] & 1);
		if (i)
			EXPECT_TRUE(m[0] & 2);
		for (j = 0; j < i; j++)
			if (!memcmp(m, self->k[j].mac, 6)) {
				KT_LOG("ctx %d and %d share mac %s", j, i, s);
				kt_fail(_kt, 0);
			}
	}
	ctxs = nic_stat(nic, "contexts");
	KT_LOG("NIC: contexts %lld with %d created", ctxs, N64);
	if (ctxs >= 0)
		EXPECT_EQ(ctxs, N64);

	/* All 64 open and up. */
	t0 = kt_now();
	share_open(nic, _kt, N64, KC_SIZE_SMALL);
	for (i = 0; i < N64; i++)
		pinned += kc_stat(&self->k[i], "kvm_assign/pages_pinned");
	KT_LOG("%d contexts open and up in %.1f s, %lld pages pinned by kvm_assign", N64,
	       kt_now() - t0, pinned);
	{
		char f[32] = "";

		if (!nic_read(nic, "rx_filter", f, sizeof(f)))
			KT_LOG("NIC: rx_filter %s with %d contexts open", f, N64);
	}

	/* Transmit: two frames each, all kicked, then the peer's count. */
	for (i = 0; i < N64; i++) {
		for (j = 0; j < 2; j++)
			kc_tx_frame(&self->k[i], nic->peer_mac, NULL, len_of(i, j), j);
	}
	for (i = 0; i < N64; i++)
		kc_tx_kick(&self->k[i]);
	{
		int count2[N64][2];
		double end = kt_now() + 30;
		int got = 0, dups = 0;

		memset(count2, 0, sizeof(count2));
		bad = 0;
		while (got < N64 * 2 && kt_now() < end) {
			int len = peer_recv(nic, KC_ETHERTYPE, (end - kt_now()) * 1000 + 1);
			unsigned int idx;
			uint32_t seq;

			if (len <= 0)
				break;
			if (kc_check_frame(kc_peer_frame, len, nic->peer_mac, NULL, &idx, &seq) ||
			    idx >= N64 || seq > 1 ||
			    memcmp(kc_peer_frame + 6, self->k[idx].mac, 6)) {
				if (bad++ < 4)
					KT_LOG("peer: bad frame, %d bytes, ctx %u seq %u", len, idx,
					       seq);
				continue;
			}
			if (count2[idx][seq]++)
				dups++;
			else
				got++;
		}
		usleep(300 * 1000);
		while (peer_recv(nic, KC_ETHERTYPE, 0) > 0)
			dups++;	/* anything more is one too many */
		KT_LOG("peer got %d of %d frames (%d more, %d bad)", got, N64 * 2, dups, bad);
		for (i = 0; i < N64; i++)
			for (j = 0; j < 2; j++)
				if (count2[i][j] != 1 && lost++ < 8)
					KT_LOG("ctx %d frame %d: at the peer %d times", i, j,
					       count2[i][j]);
		EXPECT_EQ(got, N64 * 2);
		EXPECT_EQ(dups, 0);
		EXPECT_EQ(bad, 0);
	}
	for (i = 0; i < N64; i++) {
		struct kc *k = &self->k[i];

		if (kc_tx_wait(k, 1000) || !(*kc_txd(k, 1, 3) & E1K_TXD_STAT_DD)) {
			KT_LOG("ctx %d: TDH %u TDT %u, DD %u %u", i, kc_rd(k, E1K_TDH), k->tdt,
			       *kc_txd(k, 0, 3) & 1, *kc_txd(k, 1, 3) & 1);
			kt_fail(_kt, 0);
		}
		EXPECT_EQ(kc_stat(k, "e1000/tx_packets"), 2);
	}

	/*
	 * Receive: the peer sends frame 100 to every context, then 101,
	 * interleaved across the MACs, and three to a MAC nobody owns: 64
	 * MACs do not fit the NIC's RARs, it is promiscuous, and the model
	 * drops and counts those (no context is trusted).
	 */
	{
		char f[32] = "";

		EXPECT_OK(nic_read(nic, "rx_filter", f, sizeof(f)));
		EXPECT_STREQ(f, "promiscuous");
		unk0 = nic_stat(nic, "rx_unknown_unicast");
		ASSERT_OK(kc_parse_mac(UNKNOWN_MAC, unknown));
	}
	for (j = 0; j < 2; j++) {
		for (i = 0; i < N64; i++) {
			ASSERT_OK(peer_send_test(nic, self->k[i].mac, len_of(i, 100 + j), 100 + j));
			if (i % 32 == 31 && j * 2 + i / 32 < 3)
				ASSERT_OK(peer_send_test(nic, unknown, 100, 200 + j * 2 + i / 32));
		}
		t0 = kt_now();
		want_got = 0;
		while (kt_now() < t0 + 20) {
			want_got = 0;
			for (i = 0; i < N64; i++)
				want_got += kc_rx_count(&self->k[i]) >= (unsigned int)j + 1;
			if (want_got == N64)
				break;
			kc_sleep_ms(20);
		}
		KT_LOG("round %d: %u of %d contexts received their frame", j, want_got, N64);
	}
	usleep(300 * 1000);
	for (i = 0; i < N64; i++) {
		static const uint32_t want[2] = { 100, 101 };
		struct kc *k = &self->k[i];

		if (rx_exactly(nic, k, want, NULL, 2))
			kt_fail(_kt, 0);
		/* The header's index is the receiving context's own too. */
		for (j = 0; j < 2 && j < (int)kc_rx_count(k); j++) {
			unsigned int len = kc_rx_len(k, j), idx;
			uint32_t seq;

			kc_check_frame(kc_rxbuf(k, j), len, NULL, NULL, &idx, &seq);
			EXPECT_EQ(len, len_of(i, seq));
		}
		EXPECT_EQ(kc_stat(k, "e1000/rx_packets"), 2);
	}
	KT_LOG("rx_unknown_unicast +%lld for 3 frames to %s",
	       nic_stat(nic, "rx_unknown_unicast") - unk0, UNKNOWN_MAC);
	EXPECT_EQ(nic_stat(nic, "rx_unknown_unicast"), unk0 + 3);

	/* Everything closed: nothing pinned by any context; removed: every
	 * counter back. */
	for (i = 0; i < N64; i++)
		kc_close(&self->k[i]);
	for (i = 0, pinned = 0; i < N64; i++)
		pinned += kc_stat(&self->k[i], "kvm_assign/pages_pinned");
	EXPECT_EQ(pinned, 0);
	t0 = kt_now();
	for (i = 0; i < N64; i++) {
		EXPECT_OK(kt_mdev_remove(self->k[i].uuid));
		self->k[i].created = 0;
	}
	KT_LOG("closed and removed in %.1f s", kt_now() - t0);
	ctxs = nic_stat(nic, "contexts");
	if (ctxs >= 0)
		EXPECT_EQ(ctxs, 0);
	if (kt_snap_settle(&base, &now, 5000)) {
		kt_snap_diff(&base, &now);
		kt_fail(_kt, 0);
	}
}

/* ====================================================================== */
/* 2. isolation                                                            */
/* ====================================================================== */

static const char *const rx_knobs[] = { "e1000/trusted", NULL };
static const char *const rx_nic_files[] = { "rx_unknown_unicast", NULL };

/*
 * Receive demux: A (context 1: not the NIC's own MAC) with RCTL.UPE, B
 * (context 2).  Untrusted, A gets neither B's unicast nor unknown
 * unicast, which is counted; trusted, A gets unknown unicast when its
 * filter takes it, and never B's unicast, even with B's MAC in its RAR1.
 */
TEST_F_TIMEOUT(share, isolation_receive, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[1], *b = &self->k[2];
	uint8_t unknown[6];
	long long unk0, unk1;
	uint32_t s = 1000;
	char filter[32];

	ASSERT_OK(kc_parse_mac(UNKNOWN_MAC, unknown));
	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, rx_knobs, rx_nic_files);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);
	ASSERT_EQ(kc_stat(a, "e1000/trusted"), 0);	/* the default */

	/* Untrusted A with UPE. */
	kc_rx_setup(a, E1K_RCTL_UPE);
	kc_rx_setup(b, 0);
	unk0 = nic_stat(nic, "rx_unknown_unicast");
	ASSERT_GE(unk0, 0);
	{
		static const uint32_t wa[] = { 1003 }, wb[] = { 1000, 1004 };

		ASSERT_OK(peer_send_test(nic, b->mac, 100, s));		/* 1000 */
		ASSERT_OK(peer_send_test(nic, unknown, 101, s + 1));
		ASSERT_OK(peer_send_test(nic, unknown, 102, s + 2));
		ASSERT_OK(peer_send_test(nic, a->mac, 103, s + 3));	/* controls */
		ASSERT_OK(peer_send_test(nic, b->mac, 104, s + 4));
		kc_rx_wait(a, 1, 10000);
		kc_rx_wait(b, 2, 10000);
		usleep(300 * 1000);
		KT_LOG("untrusted A with UPE: B's unicast and two unknown unicast sent");
		EXPECT_EQ(rx_exactly(nic, a, wa, NULL, 1), 0);
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 2), 0);
		EXPECT_EQ(rx_exactly(nic, &self->k[0], NULL, NULL, 0), 0);
		/*
		 * Three contexts, none trusted: the NIC filters exactly (their
		 * MACs in its RAR1..15), so unknown unicast never reaches the
		 * model and cannot be counted; promiscuous, it must be.
		 */
		ASSERT_OK(nic_read(nic, "rx_filter", filter, sizeof(filter)));
		EXPECT_STREQ(filter, "exact");
		unk1 = nic_stat(nic, "rx_unknown_unicast");
		KT_LOG("rx_filter %s, rx_unknown_unicast %lld -> %lld", filter, unk0, unk1);
		if (!strcmp(filter, "exact"))
			EXPECT_TRUE(unk1 == unk0 || unk1 == unk0 + 2);
		else
			EXPECT_EQ(unk1, unk0 + 2);
	}

	/* Trusted A, no UPE: unknown unicast its filter does not take is
	 * still dropped and counted. */
	kc_knob(a, _kt, "e1000/trusted", "1");
	EXPECT_EQ(kc_stat(a, "e1000/trusted"), 1);
	s = 1100;
	kc_rx_setup(a, 0);
	kc_rx_setup(b, 0);
	unk0 = nic_stat(nic, "rx_unknown_unicast");
	{
		static const uint32_t wa[] = { 1101 };

		ASSERT_OK(peer_send_test(nic, unknown, 100, s));
		ASSERT_OK(peer_send_test(nic, a->mac, 101, s + 1));
		kc_rx_wait(a, 1, 10000);
		usleep(300 * 1000);
		KT_LOG("trusted A without UPE: one unknown unicast sent");
		EXPECT_EQ(rx_exactly(nic, a, wa, NULL, 1), 0);
		EXPECT_EQ(rx_exactly(nic, b, NULL, NULL, 0), 0);
		/* A trusted context: the NIC is promiscuous, the model drops
		 * and counts. */
		ASSERT_OK(nic_read(nic, "rx_filter", filter, sizeof(filter)));
		EXPECT_STREQ(filter, "promiscuous");
		EXPECT_EQ(nic_stat(nic, "rx_unknown_unicast"), unk0 + 1);
	}

	/* Trusted A with UPE and B's MAC in its RAR1: unknown unicast to A
	 * (not counted as dropped), B's unicast to B only. */
	s = 1200;
	kc_rx_setup(a, E1K_RCTL_UPE);
	kc_set_rar(a, 1, b->mac);
	kc_rx_setup(b, 0);
	unk0 = nic_stat(nic, "rx_unknown_unicast");
	{
		static const uint32_t wa[] = { 1201, 1203 }, wb[] = { 1200, 1202, 1204 };
		const uint8_t *da[] = { unknown, NULL };

		ASSERT_OK(peer_send_test(nic, b->mac, 100, s));		/* 1200 */
		ASSERT_OK(peer_send_test(nic, unknown, 101, s + 1));	/* 1201 */
		ASSERT_OK(peer_send_test(nic, b->mac, 102, s + 2));	/* 1202 */
		ASSERT_OK(peer_send_test(nic, a->mac, 103, s + 3));	/* controls */
		ASSERT_OK(peer_send_test(nic, b->mac, 104, s + 4));
		kc_rx_wait(a, 2, 10000);
		kc_rx_wait(b, 3, 10000);
		usleep(300 * 1000);
		KT_LOG("trusted A with UPE and RAR1 = B's MAC");
		EXPECT_EQ(rx_exactly(nic, a, wa, da, 2), 0);
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 3), 0);
		EXPECT_EQ(rx_exactly(nic, &self->k[0], NULL, NULL, 0), 0);
		EXPECT_EQ(nic_stat(nic, "rx_unknown_unicast"), unk0);
	}
}

/*
 * A's register file (RAR, MTA, RCTL) is A's own: what B receives does not
 * change when A fills its filters or switches its receiver off.
 */
TEST_F_TIMEOUT(share, isolation_register_file, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[1], *b = &self->k[2];
	uint8_t mcast[6], unknown[6];
	unsigned int i;

	ASSERT_OK(kc_parse_mac(MCAST_MAC, mcast));
	ASSERT_OK(kc_parse_mac(UNKNOWN_MAC, unknown));
	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, NULL, NULL);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);

	/* A: B's MAC in RAR0 and RAR1, an unknown one in RAR2, every MTA bit,
	 * UPE and MPE.  B: BAM only, MTA clear. */
	kc_rx_setup(a, E1K_RCTL_UPE | E1K_RCTL_MPE);
	kc_set_rar(a, 1, b->mac);
	kc_set_rar(a, 2, unknown);
	for (i = 0; i < E1K_MTA_WORDS; i++)
		kc_wr(a, E1K_MTA + 4 * i, 0xffffffff);
	kc_set_rar(a, 0, b->mac);
	kc_rx_setup(b, 0);
	for (i = 0; i < E1K_MTA_WORDS; i++)
		kc_wr(b, E1K_MTA + 4 * i, 0);
	{
		static const uint32_t wa[] = { 2001 }, wb[] = { 2000, 2002 };
		const uint8_t *da[] = { mcast };

		ASSERT_OK(peer_send_test(nic, b->mac, 100, 2000));
		ASSERT_OK(peer_send_test(nic, mcast, 101, 2001));
		ASSERT_OK(peer_send_test(nic, b->mac, 102, 2002));
		kc_rx_wait(b, 2, 10000);
		kc_rx_wait(a, 1, 2000);
		usleep(300 * 1000);
		KT_LOG("A's RAR0/RAR1 = B's MAC, MTA all ones, UPE|MPE; B: BAM, MTA clear");
		/* A: the multicast its MPE takes, none of B's unicast. */
		EXPECT_EQ(rx_exactly(nic, a, wa, da, 1), 0);
		/* B: its unicast, not the multicast A's filter takes. */
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 2), 0);
	}

	/* A's receiver off, then on with a cleared ring base: B unaffected. */
	kc_wr(a, E1K_RCTL, 0);
	kc_rx_setup(b, 0);
	{
		static const uint32_t wb[] = { 2100, 2101 };

		ASSERT_OK(peer_send_test(nic, b->mac, 300, 2100));
		ASSERT_OK(peer_send_test(nic, b->mac, 301, 2101));
		kc_rx_wait(b, 2, 10000);
		usleep(200 * 1000);
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 2), 0);
	}
	kc_wr(a, E1K_RDLEN, 0);
	kc_wr(a, E1K_RDBAL, 0);
	kc_wr(a, E1K_RCTL, E1K_RCTL_EN | E1K_RCTL_UPE | E1K_RCTL_MPE | E1K_RCTL_BAM);
	kc_rx_setup(b, 0);
	{
		static const uint32_t wb[] = { 2200, 2201 };

		ASSERT_OK(peer_send_test(nic, b->mac, 300, 2200));
		ASSERT_OK(peer_send_test(nic, b->mac, 301, 2201));
		kc_rx_wait(b, 2, 10000);
		usleep(200 * 1000);
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 2), 0);
	}
}

static const char *const tx_knobs[] = { "e1000/tx_spoofed", "e1000/allow_spoof", NULL };

/*
 * Anti-spoofing: frames of A with a source MAC not its own reach neither
 * the wire nor B, complete with DD, count in tx_spoofed; with
 * allow_spoof=1 they go out.
 */
TEST_F_TIMEOUT(share, isolation_spoofing, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[1], *b = &self->k[2];
	uint8_t foreign[6], bcast[6];
	unsigned int d[4], i;
	long long spoofed;
	int count[8];

	memset(bcast, 0xff, 6);
	ASSERT_OK(kc_parse_mac(FOREIGN_MAC, foreign));
	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, tx_knobs, NULL);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);
	ASSERT_EQ(kc_stat(a, "e1000/allow_spoof"), 0);	/* the default */

	spoofed = kc_stat(a, "e1000/tx_spoofed");
	ASSERT_GE(spoofed, 0);
	kc_rx_setup(b, 0);
	d[0] = kc_tx_frame(a, nic->peer_mac, foreign, 200, 3000);
	d[1] = kc_tx_frame(a, nic->peer_mac, b->mac, 201, 3001);
	d[2] = kc_tx_frame(a, bcast, foreign, 202, 3002);
	d[3] = kc_tx_frame(a, b->mac, foreign, 203, 3003);
	kc_tx_frame(a, nic->peer_mac, NULL, 204, 3004);	/* control */
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 5000));
	EXPECT_EQ(peer_collect(nic, 3000, 5, count, 3004, 5000), 0);
	KT_LOG("spoofed: peer saw %d %d %d %d, control %d; tx_spoofed +%lld", count[0],
	       count[1], count[2], count[3], count[4],
	       kc_stat(a, "e1000/tx_spoofed") - spoofed);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(count[i], 0);
		EXPECT_TRUE(*kc_txd(a, d[i], 3) & E1K_TXD_STAT_DD);
	}
	EXPECT_EQ(count[4], 1);
	EXPECT_EQ(kc_stat(a, "e1000/tx_spoofed"), spoofed + 4);
	EXPECT_EQ(rx_exactly(nic, b, NULL, NULL, 0), 0);

	/* allow_spoof=1: the same frame goes out as it is. */
	kc_knob(a, _kt, "e1000/allow_spoof", "1");
	spoofed = kc_stat(a, "e1000/tx_spoofed");
	kc_tx_frame(a, nic->peer_mac, foreign, 200, 3100);
	kc_tx_frame(a, nic->peer_mac, NULL, 201, 3101);
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 5000));
	{
		double end = kt_now() + 5;
		int got = 0, ctl = 0;

		while (kt_now() < end && !ctl) {
			int len = peer_recv(nic, KC_ETHERTYPE, (end - kt_now()) * 1000 + 1);
			unsigned int idx;
			uint32_t seq;

			if (len <= 0)
				break;
			if (kc_check_frame(kc_peer_frame, len, nic->peer_mac, NULL, &idx, &seq))
				continue;
			if (seq == 3100 && !memcmp(kc_peer_frame + 6, foreign, 6))
				got++;
			ctl |= seq == 3101;
		}
		KT_LOG("allow_spoof=1: spoofed frame at the peer %d times", got);
		EXPECT_EQ(got, 1);
		EXPECT_EQ(ctl, 1);
	}
	EXPECT_EQ(kc_stat(a, "e1000/tx_spoofed"), spoofed);
	kc_knob(a, _kt, "e1000/allow_spoof", "0");
}

/*
 * A transmits from a buffer outside its domain: refused (tx_faults),
 * nothing of it on the wire; B keeps sending and receiving meanwhile.
 */
TEST_F_TIMEOUT(share, isolation_dma_fault, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[1], *b = &self->k[2];
	long long faults, bfaults;
	unsigned int i;
	int count[16];

	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, NULL, NULL);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);

	faults = kc_stat(a, "e1000/tx_faults");
	bfaults = kc_stat(b, "e1000/tx_faults");
	ASSERT_GE(faults, 0);
	kc_tx_frame(a, nic->peer_mac, NULL, 300, 4000);
	{
		unsigned int off = kc_txbuf(a, 1000);

		kc_make_frame(a->buf + off, nic->peer_mac, a->mac, 1000, a->idx, 4001);
		kc_tx_desc(a, KC_IOVA + off, 500 | E1K_TXD_CMD_IFCS, 0);
		kc_tx_desc(a, KC_IOVA_UNMAPPED, 500 | KC_LEGACY_CMD, 0);
	}
	kc_tx_frame(a, nic->peer_mac, NULL, 302, 4002);
	kc_tx_kick(a);
	/* B meanwhile: four frames out. */
	for (i = 0; i < 4; i++)
		kc_tx_frame(b, nic->peer_mac, NULL, 400 + i, 4010 + i);
	kc_tx_kick(b);
	EXPECT_EQ(peer_collect(nic, 4000, 14, count, ~0U, 2500), 0);
	kc_log_regs(a, "after the fault");
	KT_LOG("peer: A %d %d %d, B %d %d %d %d; A tx_faults +%lld", count[0], count[1],
	       count[2], count[10], count[11], count[12], count[13],
	       kc_stat(a, "e1000/tx_faults") - faults);
	EXPECT_EQ(count[0], 1);		/* before the bad one */
	EXPECT_EQ(count[1], 0);		/* nothing of it */
	for (i = 0; i < 4; i++)
		EXPECT_EQ(count[10 + i], 1);
	EXPECT_EQ(kc_stat(a, "e1000/tx_faults"), faults + 1);
	EXPECT_EQ(kc_stat(b, "e1000/tx_faults"), bfaults);

	/* B receives too, after A's fault. */
	kc_rx_setup(b, 0);
	{
		static const uint32_t wb[] = { 4100, 4101 };

		ASSERT_OK(peer_send_test(nic, b->mac, 500, 4100));
		ASSERT_OK(peer_send_test(nic, b->mac, 60, 4101));
		kc_rx_wait(b, 2, 10000);
		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 2), 0);
	}
	/* And A works again after its driver's restart. */
	kc_tx_setup(a);
	kc_tx_frame(a, nic->peer_mac, NULL, 300, 4200);
	kc_tx_kick(a);
	EXPECT_EQ(peer_collect(nic, 4200, 1, count, 4200, 5000), 0);
	EXPECT_EQ(count[0], 1);
}

/* The mac file: a MAC in use is EADDRINUSE, an invalid one EINVAL, an
 * open context's refused; a new MAC is the context's (EEPROM, receive). */
TEST_F_TIMEOUT(share, isolation_mac_file, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[0], *b = &self->k[1], *c = &self->k[2];
	static const char *const bad[] = {
		"01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "zz", "52:54:00",
	};
	char path[256], s[24], val[32];
	uint8_t fresh[6];
	unsigned int i;

	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, NULL, NULL);
	ASSERT_OK(kc_open(a, KC_SIZE_SMALL));
	kc_path(c, "e1000/mac", path, sizeof(path));

	/* Another context's MAC, open (A) or not (B): EADDRINUSE. */
	kc_fmt_mac(a->mac, s);
	EXPECT_ERRNO(kt_write_str(path, s), EADDRINUSE);
	kc_fmt_mac(b->mac, s);
	EXPECT_ERRNO(kt_write_str(path, s), EADDRINUSE);
	/* Its own: fine (or in use by itself: either is sane; logged). */
	kc_fmt_mac(c->mac, s);
	if (kt_write_str(path, s))
		KT_LOG("writing ctx 2's own MAC back: %s", strerror(errno));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_ERRNO(kt_write_str(path, bad[i]), EINVAL);
	ASSERT_OK(kt_read_str(path, val, sizeof(val)));
	EXPECT_STREQ(val, s);

	/* A fresh one. */
	ASSERT_OK(kc_parse_mac("02:00:00:c0:ff:ee", fresh));
	ASSERT_OK(kt_write_str(path, "02:00:00:c0:ff:ee"));
	ASSERT_OK(kt_read_str(path, val, sizeof(val)));
	EXPECT_STREQ(val, "02:00:00:c0:ff:ee");
	/* C's old MAC is free again: B may take it. */
	kc_path(b, "e1000/mac", path, sizeof(path));
	EXPECT_OK(kt_write_str(path, s));
	kc_parse_mac(s, b->mac);
	memcpy(c->mac, fresh, 6);

	/* While open: refused, unchanged. */
	kc_path(a, "e1000/mac", path, sizeof(path));
	errno = 0;
	EXPECT_NE(kt_write_str(path, "02:00:00:c0:ff:ef"), 0);
	KT_LOG("mac write on an open context: %s", strerror(errno));
	ASSERT_OK(kt_read_str(path, val, sizeof(val)));
	EXPECT_STREQ(val, KC_NIC_MAC);

	/* C open: its EEPROM carries the new MAC; it receives there. */
	ASSERT_OK(kc_open(c, KC_SIZE_SMALL));
	for (i = 0; i < 3; i++) {
		uint32_t v = 0;
		int t;

		kc_wr(c, E1K_EERD, E1K_EERD_START | i << E1K_EERD_ADDR_SHIFT);
		for (t = 0; t < 1000 && !((v = kc_rd(c, E1K_EERD)) & E1K_EERD_DONE); t++)
			;
		EXPECT_EQ(v >> E1K_EERD_DATA_SHIFT, fresh[2 * i] | fresh[2 * i + 1] << 8);
	}
	kc_wait_link(c, _kt);
	kc_tx_setup(c);
	kc_rx_setup(c, 0);
	peer_drain(nic);
	{
		static const uint32_t wc[] = { 5000 };

		ASSERT_OK(peer_send_test(nic, fresh, 100, 5000));
		kc_rx_wait(c, 1, 10000);
		EXPECT_EQ(rx_exactly(nic, c, wc, NULL, 1), 0);
	}
}

/* ====================================================================== */
/* 3. switching                                                            */
/* ====================================================================== */

static const char *const sw_knobs[] = { "e1000/tx_switched", "e1000/rx_switched", NULL };
static const char *const sw_nic_files[] = { "tx_switched", NULL };

/*
 * A to B's MAC: delivered to B inside the model, intact, never on the
 * wire, counted; broadcast from A: to the peer, B and C, not back to A.
 */
TEST_F_TIMEOUT(share, switching_unicast_broadcast, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[0], *b = &self->k[1], *c = &self->k[2];
	long long atx, brx, crx, ntx;
	uint8_t bcast[6];
	int count[8];

	memset(bcast, 0xff, 6);
	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, sw_knobs, sw_nic_files);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);

	atx = kc_stat(a, "e1000/tx_switched");
	brx = kc_stat(b, "e1000/rx_switched");
	crx = kc_stat(c, "e1000/rx_switched");
	ntx = nic_stat(nic, "tx_switched");
	ASSERT_GE(atx, 0);
	kc_tx_frame(a, b->mac, NULL, 700, 6000);	/* to B */
	kc_tx_frame(a, c->mac, NULL, 42, 6001);		/* to C: padded to 60 */
	kc_tx_frame(a, nic->peer_mac, NULL, 100, 6002);	/* control, to the wire */
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 5000));
	EXPECT_EQ(peer_collect(nic, 6000, 3, count, 6002, 5000), 0);
	kc_rx_wait(b, 1, 5000);
	kc_rx_wait(c, 1, 5000);
	usleep(300 * 1000);
	KT_LOG("switched: peer saw %d %d, control %d", count[0], count[1], count[2]);
	EXPECT_EQ(count[0], 0);
	EXPECT_EQ(count[1], 0);
	EXPECT_EQ(count[2], 1);
	{
		static const uint32_t wb[] = { 6000 }, wc[] = { 6001 };

		EXPECT_EQ(rx_exactly(nic, b, wb, NULL, 1), 0);
		EXPECT_EQ(rx_exactly(nic, c, wc, NULL, 1), 0);
		EXPECT_EQ(rx_exactly(nic, a, NULL, NULL, 0), 0);
		/* As from the wire: FCS counted, short frames padded. */
		EXPECT_EQ(kc_rxd(b, 0)->length, 700 + E1K_ETH_FCS);
		EXPECT_EQ(kc_rxd(c, 0)->length, E1K_ETH_MIN_FRAME + E1K_ETH_FCS);
	}
	KT_LOG("tx_switched A +%lld, NIC +%lld; rx_switched B +%lld, C +%lld",
	       kc_stat(a, "e1000/tx_switched") - atx, nic_stat(nic, "tx_switched") - ntx,
	       kc_stat(b, "e1000/rx_switched") - brx, kc_stat(c, "e1000/rx_switched") - crx);
	EXPECT_EQ(kc_stat(a, "e1000/tx_switched"), atx + 2);
	EXPECT_EQ(kc_stat(b, "e1000/rx_switched"), brx + 1);
	EXPECT_EQ(kc_stat(c, "e1000/rx_switched"), crx + 1);
	EXPECT_EQ(nic_stat(nic, "tx_switched"), ntx + 2);

	/* Broadcast from A. */
	kc_rx_setup(a, 0);
	kc_rx_setup(b, 0);
	kc_rx_setup(c, 0);
	kc_tx_frame(a, bcast, NULL, 300, 6100);
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 5000));
	EXPECT_EQ(peer_collect(nic, 6100, 1, count, 6100, 5000), 0);
	kc_rx_wait(b, 1, 5000);
	kc_rx_wait(c, 1, 5000);
	usleep(300 * 1000);
	KT_LOG("broadcast: peer %d, B %u, C %u, A %u", count[0], kc_rx_count(b),
	       kc_rx_count(c), kc_rx_count(a));
	EXPECT_EQ(count[0], 1);
	{
		static const uint32_t w[] = { 6100 };
		const uint8_t *d[] = { bcast };

		EXPECT_EQ(rx_exactly(nic, b, w, d, 1), 0);
		EXPECT_EQ(rx_exactly(nic, c, w, d, 1), 0);
		EXPECT_EQ(rx_exactly(nic, a, NULL, NULL, 0), 0);
	}

	/* And the peer's broadcast reaches all three. */
	kc_rx_setup(a, 0);
	kc_rx_setup(b, 0);
	kc_rx_setup(c, 0);
	ASSERT_OK(peer_send_test(nic, bcast, 120, 6200));
	{
		static const uint32_t w[] = { 6200 };
		const uint8_t *d[] = { bcast };
		int i;

		for (i = 0; i < 3; i++) {
			kc_rx_wait(&self->k[i], 1, 5000);
			EXPECT_EQ(rx_exactly(nic, &self->k[i], w, d, 1), 0);
		}
	}
}

static const char *const big_knobs[] = { "e1000/tx_bad_desc", "e1000/tx_switched", NULL };
static const char *const big_nic_files[] = { "rx_bad", NULL };

/*
 * A packet without TSO may be far longer than a frame (the descriptor
 * length is 16 bits).  Switched to another context it has no receive
 * buffer to go to: dropped and counted (the sender's tx_bad_desc, the
 * NIC's rx_bad), untagged or with a tag to put back (the copy that
 * re-inserts a tag is one receive buffer long: a heap overflow before
 * c03b83b); the sender's ring goes on, and a full-size frame after them
 * arrives whole.
 */
TEST_F_TIMEOUT(share, switching_oversized_dropped, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[0], *b = &self->k[1];
	long long bad, rxbad, sw;
	unsigned int off;

	share_nic_setup(nic, _kt, 2);
	share_create(nic, _kt, 2, big_knobs, big_nic_files);
	share_open(nic, _kt, 2, KC_SIZE_SMALL);

	/* A inserts tags (CTRL.VME), B does not strip them */
	ASSERT_OK(kc_wr(a, E1K_CTRL, kc_rd(a, E1K_CTRL) | E1K_CTRL_VME));
	bad = kc_stat(a, "e1000/tx_bad_desc");
	sw = kc_stat(a, "e1000/tx_switched");
	rxbad = nic_stat(nic, "rx_bad");
	ASSERT_GE(bad, 0);
	ASSERT_GE(rxbad, 0);

	kc_tx_frame(a, b->mac, NULL, 3000, 6300);		/* untagged */
	off = kc_txbuf(a, 9000);				/* tagged, 9000 bytes */
	kc_make_frame(a->buf + off, b->mac, a->mac, 9000, a->idx, 6301);
	/* at most E1K_TX_BUF_MAX per descriptor, as Linux's driver */
	kc_tx_desc(a, KC_IOVA + off, 4096 | E1K_TXD_CMD_IFCS, 0);
	kc_tx_desc(a, KC_IOVA + off + 4096, 4096 | E1K_TXD_CMD_IFCS, 0);
	kc_tx_desc(a, KC_IOVA + off + 8192, 808 | KC_LEGACY_CMD | E1K_TXD_CMD_VLE,
		   (uint32_t)0x0123 << 16);
	kc_tx_frame(a, b->mac, NULL, 1514, 6302);		/* the largest frame */
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 5000));
	kc_rx_wait(b, 1, 5000);
	usleep(300 * 1000);
	KT_LOG("A tx_bad_desc +%lld, tx_switched +%lld; NIC rx_bad +%lld; B has %u",
	       kc_stat(a, "e1000/tx_bad_desc") - bad, kc_stat(a, "e1000/tx_switched") - sw,
	       nic_stat(nic, "rx_bad") - rxbad, kc_rx_count(b));
	{
		static const uint32_t w[] = { 6302 };

		EXPECT_EQ(rx_exactly(nic, b, w, NULL, 1), 0);
	}
	EXPECT_EQ(kc_stat(a, "e1000/tx_bad_desc"), bad + 2);
	EXPECT_EQ(nic_stat(nic, "rx_bad"), rxbad + 2);
	EXPECT_EQ(kc_stat(a, "e1000/tx_switched"), sw + 1);
}

/* --- offloads between contexts ------------------------------------------ */

#define HDRS		54	/* Ethernet 14, IPv4 20, TCP 20 */
#define UHDRS		42	/* Ethernet 14, IPv4 20, UDP 8 */
#define TCP_SPORT	40000
#define TCP_DPORT	5001

static uint8_t l4_pattern(unsigned int k)
{
	return k * 31 + (k >> 8) + 7;
}

/* Ethernet and IPv4 headers of @l4_len bytes of @proto from A to B;
 * IP checksum 0 (the device's) if @ip_sum is 0, else computed. */
static void make_ip(uint8_t *p, const struct kc *a, const struct kc *b, unsigned int proto,
		    unsigned int total, uint16_t id, int ip_sum)
{
	uint8_t *ip = p + 14;

	memcpy(p, b->mac, 6);
	memcpy(p + 6, a->mac, 6);
	kc_put16(p + 12, ETH_P_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	kc_put16(ip + 2, total);
	kc_put16(ip + 4, id);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, (const uint8_t[]){ 10, 11, 12, 1, 10, 11, 12, 2 }, 8);
	if (ip_sum)
		kc_put16(ip + 10, ~kc_fold(kc_sum16(0, ip, 20)));
}

/* A context descriptor: IP at 14, L4 at 34 with its checksum at @tucso. */
static void tx_context(struct kc *k, uint32_t paylen, uint32_t tucmd, unsigned int tucso,
		       unsigned int hdr_len, unsigned int mss)
{
	unsigned int i = k->tdt;

	*kc_txd(k, i, 0) = 14 | (14 + 10) << 8 | (uint32_t)(14 + 20 - 1) << 16;
	*kc_txd(k, i, 1) = 34 | tucso << 8;
	*kc_txd(k, i, 2) = paylen | E1K_TXD_DTYP_C | E1K_TXD_CMD_DEXT | tucmd;
	*kc_txd(k, i, 3) = hdr_len << 8 | mss << 16;
	k->tdt = (i + 1) % k->ntx;
}

static const char *const off_knobs[] = { "e1000/rx_switched", NULL };

/*
 * A TSO packet from A to B arrives at B as MSS-sized frames with valid IP
 * and TCP checksums and the payload in order; TCP and UDP checksum
 * offload from A to B arrive with valid checksums; none on the wire.
 */
TEST_F_TIMEOUT(share, switching_offloads, 120)
{
	const unsigned int mss = 1000, paylen = 8200, nseg = (paylen + mss - 1) / mss;
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[0], *b = &self->k[1];
	uint32_t dcmd, popts = (E1K_TXD_POPTS_TXSM | E1K_TXD_POPTS_IXSM) << 8;
	unsigned int hoff, poff, i, k, got, seen[16] = { 0 };
	const uint32_t tseq = 0x20000000;
	long long brx;
	uint8_t *p;

	share_nic_setup(nic, _kt, 2);
	share_create(nic, _kt, 2, off_knobs, NULL);
	share_open(nic, _kt, 2, BIG_SIZE);
	brx = kc_stat(b, "e1000/rx_switched");

	/* TSO: headers in one buffer, the payload in 4096 + 4096 + 8. */
	hoff = kc_txbuf(a, HDRS);
	poff = kc_txbuf(a, paylen);
	p = a->buf + hoff;
	make_ip(p, a, b, IPPROTO_TCP, 0, 0x7700, 0);
	kc_put16(p + 34, TCP_SPORT);
	kc_put16(p + 36, TCP_DPORT);
	kc_put32(p + 38, tseq);
	kc_put32(p + 42, 0);
	p[46] = 5 << 4;
	p[47] = 0x18;			/* PSH | ACK */
	kc_put16(p + 48, 0xffff);
	kc_put16(p + 50, kc_fold(kc_pseudo(p + 14, IPPROTO_TCP, 0)));
	kc_put16(p + 52, 0);
	for (k = 0; k < paylen; k++)
		a->buf[poff + k] = l4_pattern(k);
	tx_context(a, paylen, E1K_TXD_CMD_TCP | E1K_TXD_CMD_IP | E1K_TXD_CMD_TSE, 34 + 16,
		   HDRS, mss);
	dcmd = E1K_TXD_DTYP_D | E1K_TXD_CMD_DEXT | E1K_TXD_CMD_TSE | E1K_TXD_CMD_IFCS;
	kc_tx_desc(a, KC_IOVA + hoff, HDRS | dcmd, popts);
	kc_tx_desc(a, KC_IOVA + poff, 4096 | dcmd, popts);
	kc_tx_desc(a, KC_IOVA + poff + 4096, 4096 | dcmd, popts);
	kc_tx_desc(a, KC_IOVA + poff + 8192, 8 | dcmd | E1K_TXD_CMD_EOP | E1K_TXD_CMD_RS, popts);
	kc_tx_kick(a);
	EXPECT_OK(kc_tx_wait(a, 10000));
	got = kc_rx_wait(b, nseg, 10000);
	usleep(300 * 1000);
	got = kc_rx_count(b);
	KT_LOG("TSO A -> B: %u frames at B for %u segments", got, nseg);
	EXPECT_EQ(got, nseg);
	for (i = 0; i < got; i++) {
		unsigned int len = kc_rx_len(b, i), off, seg, seglen;
		const uint8_t *f = kc_rxbuf(b, i), *ip = f + 14, *th = f + 34;

		if (len < HDRS || kc_get16(f + 12) != ETH_P_IP || ip[9] != IPPROTO_TCP) {
			KT_LOG("B descriptor %u: not a TCP frame (%u bytes)", i, len);
			kt_fail(_kt, 0);
			continue;
		}
		EXPECT_LE(len + E1K_ETH_FCS, E1K_ETH_MAX_FRAME);
		EXPECT_EQ(memcmp(f, b->mac, 6), 0);
		EXPECT_EQ(memcmp(f + 6, a->mac, 6), 0);
		off = kc_get32(th + 4) - tseq;
		seg = off / mss;
		if (off % mss || seg >= nseg) {
			KT_LOG("B descriptor %u: sequence offset %u", i, off);
			kt_fail(_kt, 0);
			continue;
		}
		seglen = seg + 1 == nseg ? paylen - seg * mss : mss;
		seen[seg]++;
		EXPECT_EQ(len, HDRS + seglen);
		EXPECT_EQ(kc_get16(ip + 2), 40 + seglen);
		if (!kc_ip_ok(ip) || !kc_l4_ok(ip, IPPROTO_TCP, 20 + seglen)) {
			KT_LOG("segment %u: IP checksum %s, TCP checksum %s", seg,
			       kc_ip_ok(ip) ? "ok" : "bad",
			       kc_l4_ok(ip, IPPROTO_TCP, 20 + seglen) ? "ok" : "bad");
			kt_fail(_kt, 0);
		}
		for (k = 0; k < seglen; k++)
			if (f[HDRS + k] != l4_pattern(seg * mss + k))
				break;
		if (k < seglen) {
			KT_LOG("segment %u: payload differs at byte %u", seg, k);
			kt_fail(_kt, 0);
		}
	}
	for (i = 0; i < nseg; i++)
		EXPECT_EQ(seen[i], 1);
	EXPECT_EQ(peer_recv(nic, ETH_P_IP, 300), 0);	/* nothing on the wire */

	/* UDP checksum offload, A to B: the pseudo-header sum in place. */
	kc_rx_setup(b, 0);
	{
		const unsigned int plen = 333, len = UHDRS + plen;
		unsigned int off = kc_txbuf(a, len);
		const uint8_t *f, *ip;

		p = a->buf + off;
		make_ip(p, a, b, IPPROTO_UDP, 20 + 8 + plen, 0x7800, 1);
		kc_put16(p + 34, 40001);
		kc_put16(p + 36, 5002);
		kc_put16(p + 38, 8 + plen);
		kc_put16(p + 40, kc_fold(kc_pseudo(p + 14, IPPROTO_UDP, 8 + plen)));
		for (k = 0; k < plen; k++)
			p[UHDRS + k] = l4_pattern(k + 5);
		tx_context(a, 0, E1K_TXD_CMD_IP, 34 + 6, 0, 0);
		kc_tx_desc(a, KC_IOVA + off, len | E1K_TXD_DTYP_D | E1K_TXD_CMD_DEXT |
			   E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS,
			   E1K_TXD_POPTS_TXSM << 8);
		kc_tx_kick(a);
		EXPECT_OK(kc_tx_wait(a, 5000));
		ASSERT_EQ(kc_rx_wait(b, 1, 5000), 1);
		f = kc_rxbuf(b, 0);
		ip = f + 14;
		EXPECT_EQ(kc_rx_len(b, 0), len);
		EXPECT_TRUE(kc_ip_ok(ip));
		EXPECT_NE(kc_get16(f + 40), 0);		/* a checksum, not "none" */
		EXPECT_TRUE(kc_l4_ok(ip, IPPROTO_UDP, 8 + plen));
		for (k = 0; k < plen; k++)
			if (f[UHDRS + k] != l4_pattern(k + 5))
				break;
		EXPECT_EQ(k, plen);
		KT_LOG("UDP checksum offload A -> B: checksum %04x %s", kc_get16(f + 40),
		       kc_l4_ok(ip, IPPROTO_UDP, 8 + plen) ? "valid" : "INVALID");
	}

	/* TCP and IP checksum offload, A to B. */
	kc_rx_setup(b, 0);
	{
		const unsigned int plen = 1401, len = HDRS + plen;
		unsigned int off = kc_txbuf(a, len);
		const uint8_t *f;

		p = a->buf + off;
		make_ip(p, a, b, IPPROTO_TCP, 20 + 20 + plen, 0x7900, 0);
		memset(p + 34, 0, 20);
		kc_put16(p + 34, TCP_SPORT);
		kc_put16(p + 36, TCP_DPORT);
		kc_put32(p + 38, 0x30000000);
		p[46] = 5 << 4;
		p[47] = 0x18;
		kc_put16(p + 48, 0xffff);
		kc_put16(p + 50, kc_fold(kc_pseudo(p + 14, IPPROTO_TCP, 20 + plen)));
		for (k = 0; k < plen; k++)
			p[HDRS + k] = l4_pattern(k + 9);
		tx_context(a, 0, E1K_TXD_CMD_TCP | E1K_TXD_CMD_IP, 34 + 16, 0, 0);
		kc_tx_desc(a, KC_IOVA + off, len | E1K_TXD_DTYP_D | E1K_TXD_CMD_DEXT |
			   E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS, popts);
		kc_tx_kick(a);
		EXPECT_OK(kc_tx_wait(a, 5000));
		ASSERT_EQ(kc_rx_wait(b, 1, 5000), 1);
		f = kc_rxbuf(b, 0);
		EXPECT_EQ(kc_rx_len(b, 0), len);
		EXPECT_TRUE(kc_ip_ok(f + 14));
		EXPECT_TRUE(kc_l4_ok(f + 14, IPPROTO_TCP, 20 + plen));
		EXPECT_EQ(memcmp(f + HDRS, p + HDRS, plen), 0);
	}
	EXPECT_EQ(peer_recv(nic, ETH_P_IP, 300), 0);
	/* Counted per frame delivered (9 segments) or per packet sent (1). */
	brx = kc_stat(b, "e1000/rx_switched") - brx;
	KT_LOG("rx_switched B +%lld", brx);
	EXPECT_TRUE(brx == nseg + 2 || brx == 3);
}

/* 1 when every one of the first @n contexts shows the link @up, in sysfs
 * and in STATUS.LU; else 0. */
static int links_are(const struct kc *k, int n, int up)
{
	char path[256], link[16];
	int i;

	for (i = 0; i < n; i++) {
		kc_path(&k[i], "e1000/link", path, sizeof(path));
		if (kt_read_str(path, link, sizeof(link)) || strcmp(link, up ? "up" : "down") ||
		    !(kc_rd(&k[i], E1K_STATUS) & E1K_STATUS_LU) != !up)
			return 0;
	}
	return 1;
}

/*
 * A link flap: the NIC's wire goes down for a while, then up (the VM's
 * host runs QEMU's "set_link hp0 off", then "on": the hub port drops every
 * frame both ways and the NIC sees its link change, as with a cable
 * pulled).  Every context must see each change (sysfs "link", STATUS.LU,
 * LSC in ICR); while the wire is down, frames between two contexts are
 * still switched and a context sending to the wire still gets its
 * descriptors back (no ring stalls; the peer sees none of them); once it
 * is up, every context exchanges frames with the peer again.
 */
TEST_F_TIMEOUT(share, lifecycle_link_flap, 120)
{
	struct share_nic *nic = &self->nic;
	struct kc *a = &self->k[0], *b = &self->k[1], *c = &self->k[2];
	uint32_t want[8];
	int i, seen, count[8];
	double t0;

	share_nic_setup(nic, _kt, 3);
	share_create(nic, _kt, 3, sw_knobs, sw_nic_files);
	share_open(nic, _kt, 3, KC_SIZE_SMALL);
	for (i = 0; i < 3; i++)
		kc_rd(&self->k[i], E1K_ICR);	/* read to clear */

	if (share_wire_link(0))
		SHARE_SKIP(nic, "no /dev/ttyS2 to ask the VM's host for a link flap "
			   "(the VM was not started by selftests/vm/run-vm.sh)");
	self->wire_down = 1;
	t0 = kt_now();
	while (kt_now() < t0 + 10 && !links_are(self->k, 3, 0))
		kc_sleep_ms(20);
	KT_LOG("wire down: %s after %.2f s", links_are(self->k, 3, 0) ?
	       "every context saw it" : "not seen", kt_now() - t0);
	ASSERT_TRUE(links_are(self->k, 3, 0));
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(kc_rd(&self->k[i], E1K_ICR) & E1K_ICR_LSC);

	/* Down: A to B is switched; C's frames to the wire complete. */
	for (i = 0; i < 8; i++) {
		want[i] = 7000 + i;
		kc_tx_frame(a, b->mac, NULL, 600, 7000 + i);
		kc_tx_frame(c, nic->peer_mac, NULL, 600, 7100 + i);
	}
	kc_tx_kick(a);
	kc_tx_kick(c);
	EXPECT_OK(kc_tx_wait(a, 5000));
	EXPECT_OK(kc_tx_wait(c, 5000));
	kc_rx_wait(b, 8, 5000);
	EXPECT_EQ(rx_exactly(nic, b, want, NULL, 8), 0);
	EXPECT_EQ(peer_collect(nic, 7100, 8, count, ~0U, 1000), 0);
	for (i = 0, seen = 0; i < 8; i++)
		seen += count[i];
	KT_LOG("while down: B got %u of A's 8 frames, the peer %d of C's 8", kc_rx_count(b), seen);
	EXPECT_EQ(seen, 0);
	EXPECT_TRUE(links_are(self->k, 3, 0));

	/* Up again. */
	ASSERT_OK(share_wire_link(1));
	self->wire_down = 0;
	t0 = kt_now();
	while (kt_now() < t0 + 10 && !links_are(self->k, 3, 1))
		kc_sleep_ms(20);
	KT_LOG("wire up: %s after %.2f s", links_are(self->k, 3, 1) ?
	       "every context saw it" : "not seen", kt_now() - t0);
	ASSERT_TRUE(links_are(self->k, 3, 1));
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(kc_rd(&self->k[i], E1K_ICR) & E1K_ICR_LSC);

	/* Every context to the peer and back. */
	for (i = 0; i < 3; i++)
		kc_rx_setup(&self->k[i], 0);
	peer_drain(nic);
	for (i = 0; i < 3; i++) {
		kc_tx_frame(&self->k[i], nic->peer_mac, NULL, 500, 7200 + i);
		kc_tx_kick(&self->k[i]);
		EXPECT_OK(kc_tx_wait(&self->k[i], 5000));
	}
	EXPECT_EQ(peer_collect(nic, 7200, 3, count, ~0U, 2000), 0);
	KT_LOG("after: the peer got %d %d %d", count[0], count[1], count[2]);
	for (i = 0; i < 3; i++) {
		uint32_t w = 7300 + i;

		EXPECT_EQ(count[i], 1);
		ASSERT_OK(peer_send_test(nic, self->k[i].mac, 400, w));
		kc_rx_wait(&self->k[i], 1, 5000);
		EXPECT_EQ(rx_exactly(nic, &self->k[i], &w, NULL, 1), 0);
	}
}

KT_MAIN()
