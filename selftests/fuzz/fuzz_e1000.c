// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_e1000 - a kvm_assign e1000 context through VFIO, as a hostile VMM
 * (or a guest driving its NIC) would use it.
 *
 * Set-up: the VM's first e1000 (MAC 52:54:00:12:34:01) bound to kvm_assign,
 * a kvm_assign-e1000 context opened through a type1 container and its
 * group as selftests/kvm_assign_test.c opens edu's; the second e1000
 * (...:02) stays with Linux's driver as the peer on the wire, reached with
 * an AF_PACKET socket.  Guest memory is 4 MiB of anonymous memory mapped
 * into the container in four pieces with unmapped holes between them:
 *
 *	IOVA 0x00100000  1 MiB  rw  (rings by default; the probe's area at the top)
 *	     0x00200000 64 KiB      hole
 *	     0x00210000  1 MiB  rw
 *	     0x00400000 64 KiB  r-  (the device may read, not write)
 *	  0x100000000    1 MiB  rw  (above 4 GiB: TDBAH / RDBAH and addresses)
 *
 * Two threads by default (--threads 1 runs both kinds of operation in one
 * loop, for an exact replay of a seed):
 *
 *  - the guest thread: register writes over all of BAR0, biased toward
 *    the real registers (CTRL with RST, TCTL / RCTL, the ring registers,
 *    IMS / IMC / ICS / ICR, EECD / MDIC / EERD, RAR / MTA / VFTA, ITR), the
 *    same through the I/O BAR (IOADDR / IODATA), register reads, random
 *    descriptors written into the TX ring where TDBAL points (legacy,
 *    context and data descriptors, unknown types; random lengths;
 *    addresses inside, across the edge of and outside the mapping; EOP
 *    sometimes missing; TSE contexts with random hdr_len / mss) followed
 *    by TDT bumps, and random RX descriptors followed by RDT bumps;
 *  - the control thread: VFIO_DEVICE_RESET, SET_IRQS (INTx trigger on and
 *    off, unmask eventfds, mask / unmask, the MSI index the 82540 lacks),
 *    container unmap and remap of whole pieces (rings and buffers) while
 *    traffic is queued, config-space command toggles (bus mastering,
 *    memory and I/O decoding), frames sent by the peer (unicast to the
 *    context, broadcast, multicast, random, VLAN-tagged, short and long)
 *    so that receive runs against whatever RX ring the guest thread left,
 *    and counter checks.
 *
 * Every --arg probe=N operations of the guest thread (default 300) the
 * probe runs alone (the other thread waits): VFIO reset, then pages_pinned
 * must be 0; config IDs, STATUS and the EEPROM (EERD, checksum 0xBABA, the
 * context's MAC) read right; a clean TX ring with one well-formed frame
 * must reach the peer (DD written back, TDH moved, tx_packets up); with bus
 * mastering off a queued frame must stay queued; a clean RX ring must
 * receive a frame the peer sends (length with FCS, contents); a descriptor
 * pointing into a hole must count tx_faults, add a fault to the domain's
 * log, stop the transmit unit (TCTL.EN clear) and leave TDH on it.
 *
 * Findings besides the probe's: an access inside a region, or an ioctl
 * with valid arguments, that fails (or an MSI set-up that succeeds); a
 * context, kvm_assign or domain counter that went down; pages still
 * pinned after close; a domain or interrupt table left behind once the
 * context is removed; kvm_assign still referenced (it could not unload).
 * A kernel splat is the runner's (its kernel-log check).
 *
 * --arg takes a comma-separated list: "probe=N" as above, "nopeer" leaves
 * the peer out (no frames sent, no TX probe against it), "nounmap" and
 * "noreset" leave out container unmaps and resets.
 */
#include <dirent.h>
#include <poll.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pci_regs.h>
#include <linux/sockios.h>
#include <linux/vfio.h>

#include "fuzz.h"
#include "../lib/kt_sysfs.h"
#include "../lib/kt_vfio.h"
#include "kvmio/e1000.h"

#define UUID		"5b2c1f6e-7a41-4e0b-9d1c-0000000e1000"
#define TYPE		"kvm_assign-e1000"
#define MDEV		"/sys/bus/mdev/devices/" UUID
#define REGION(i)	((uint64_t)(i) << 40)
#define BAR0		REGION(VFIO_PCI_BAR0_REGION_INDEX)
#define BAR1		REGION(VFIO_PCI_BAR1_REGION_INDEX)
#define CFG		REGION(VFIO_PCI_CONFIG_REGION_INDEX)
#define MIB		(1UL << 20)
#define MEM_SIZE	(4 * MIB)
#define NEFD		3
#define ETHERTYPE_FUZZ	0x88b6	/* local experimental: random frames */
#define ETHERTYPE_PROBE	0x88b5	/* the probe's frames */
#define CMD_ON		(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

/* Pieces of guest memory; the holes between them are mapped by no one. */
struct piece {
	size_t		off;	/* in mem */
	uint64_t	iova;
	size_t		size;
	bool		ro;
	bool		mapped;	/* under pieces_lock */
};

static struct piece pieces[] = {
	{ 0,		0x00100000ULL,	 MIB,		false, false },
	{ MIB,		0x00210000ULL,	 MIB,		false, false },
	{ 2 * MIB,	0x00400000ULL,	 64 << 10,	true,  false },
	{ 3 * MIB,	0x100000000ULL,	 MIB,		false, false },
};
#define NPIECES		(sizeof(pieces) / sizeof(pieces[0]))
#define HOLE_IOVA	0x00200000ULL	/* 64 KiB nobody maps */

/* The probe's area: the top 64 KiB of piece 0 */
#define PROBE_TX	0x001f0000ULL	/* 8 descriptors */
#define PROBE_TXBUF	0x001f1000ULL
#define PROBE_RX	0x001f2000ULL	/* 8 descriptors */
#define PROBE_RXBUF	0x001f4000ULL	/* 8 x 2048 */

static uint8_t *mem;
static char bdf[64], peer_bdf[64], peer_if[IFNAMSIZ];
static uint8_t ctx_mac[6], peer_mac[6];
static int container = -1, group = -1, device = -1;
static int psock = -1, peer_ifindex, peer_flags0 = -1;
static int efd[NEFD];
static char domain_dir[128];
static pthread_rwlock_t op_lock = PTHREAD_RWLOCK_INITIALIZER;	/* probe: write */
static pthread_mutex_t pieces_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int probe_every = 300;
static bool nopeer, nounmap, noreset;
static uint64_t n_probes, n_peer_stalls, n_frames_peer, n_unmaps, n_resets, n_txdesc, n_tdt;
static uint32_t probe_seq;

/* ---- small helpers ---- */

static long long read_ll(const char *path)
{
	char b[64];

	if (kt_read_str(path, b, sizeof(b)))
		return -1;
	return atoll(b);
}

static long long e1k_stat(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), MDEV "/e1000/%s", name);
	return read_ll(p);
}

static long long ka_stat(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), MDEV "/kvm_assign/%s", name);
	return read_ll(p);
}

static long long dom_stat(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", domain_dir, name);
	return read_ll(p);
}

static long long dom_faults(void)
{
	return dom_stat("faults_not_present") + dom_stat("faults_beyond_width") +
	       dom_stat("faults_no_write") + dom_stat("faults_no_read") +
	       dom_stat("fault_overflow");
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

/* The netdev of a PCI function and its MAC; 0 or -1. */
static int pci_netdev(const char *pci, char *ifname, uint8_t *mac)
{
	char path[512], b[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", pci);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			break;
	if (!e || strlen(e->d_name) >= IFNAMSIZ) {
		closedir(d);
		return -1;
	}
	strcpy(ifname, e->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	if (kt_read_str(path, b, sizeof(b)))
		return -1;
	return parse_mac(b, mac);
}

/* User memory behind an IOVA range inside one piece, or NULL. */
static void *hva(uint64_t iova, size_t len)
{
	unsigned int i;

	for (i = 0; i < NPIECES; i++)
		if (iova >= pieces[i].iova && len <= pieces[i].size &&
		    iova - pieces[i].iova <= pieces[i].size - len)
			return mem + pieces[i].off + (iova - pieces[i].iova);
	return NULL;
}

/* ---- device access: returns checked ---- */

/* A 4-byte access inside a region must go through whole. */
static uint32_t rd32(uint64_t off)
{
	uint32_t v = ~0U;
	ssize_t n = pread(device, &v, 4, off);

	if (n != 4)
		fuzz_finding("4-byte read at region %llu offset %#llx returned %zd (%s)",
			     (unsigned long long)(off >> 40),
			     (unsigned long long)(off & ((1ULL << 40) - 1)), n,
			     n < 0 ? strerror(errno) : "short");
	return v;
}

static void wr32(uint64_t off, uint32_t v)
{
	ssize_t n = pwrite(device, &v, 4, off);

	if (n != 4)
		fuzz_finding("4-byte write of %#x at region %llu offset %#llx returned %zd (%s)",
			     v, (unsigned long long)(off >> 40),
			     (unsigned long long)(off & ((1ULL << 40) - 1)), n,
			     n < 0 ? strerror(errno) : "short");
}

static uint32_t reg_rd(uint32_t r)
{
	return rd32(BAR0 + r);
}

static void reg_wr(uint32_t r, uint32_t v)
{
	wr32(BAR0 + r, v);
}

static void cfg_cmd(uint16_t cmd)
{
	ssize_t n = pwrite(device, &cmd, 2, CFG + PCI_COMMAND);

	if (n != 2)
		fuzz_finding("config command write returned %zd", n);
}

static int set_irqs(uint32_t index, uint32_t flags, uint32_t count, int fd)
{
	uint8_t b[sizeof(struct vfio_irq_set) + sizeof(int)] __attribute__((aligned(8)));
	struct vfio_irq_set *s = (void *)b;

	memset(b, 0, sizeof(b));
	s->argsz = sizeof(*s) + ((flags & VFIO_IRQ_SET_DATA_EVENTFD) ? 4 * count :
				 (flags & VFIO_IRQ_SET_DATA_BOOL) ? count : 0);
	s->index = index;
	s->flags = flags;
	s->start = 0;
	s->count = count;
	if (count)
		memcpy(s->data, &fd, sizeof(fd));
	return ioctl(device, VFIO_DEVICE_SET_IRQS, s);
}

static int piece_map(unsigned int i)
{
	return kt_vfio_map(container, mem + pieces[i].off, pieces[i].iova, pieces[i].size,
			   VFIO_DMA_MAP_FLAG_READ | (pieces[i].ro ? 0 : VFIO_DMA_MAP_FLAG_WRITE));
}

static int piece_unmap(unsigned int i, uint64_t *size)
{
	return kt_vfio_unmap(container, pieces[i].iova, pieces[i].size, size);
}

/* Map every piece that is not; caller holds pieces_lock. */
static void pieces_map_all(void)
{
	unsigned int i;

	for (i = 0; i < NPIECES; i++) {
		if (pieces[i].mapped)
			continue;
		if (piece_map(i))
			fuzz_finding("map of piece %u (IOVA %#llx) failed: %s", i,
				     (unsigned long long)pieces[i].iova, strerror(errno));
		else
			pieces[i].mapped = true;
	}
}

/* ---- the peer ---- */

static int peer_up(void)
{
	struct ifreq ifr;
	struct sockaddr_ll sll;
	char path[256];
	int fd, i;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, peer_if);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		close(fd);
		return -1;
	}
	peer_flags0 = ifr.ifr_flags;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
		close(fd);
		return -1;
	}
	close(fd);
	peer_ifindex = if_nametoindex(peer_if);
	psock = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (psock < 0 || !peer_ifindex)
		return -1;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = peer_ifindex;
	if (bind(psock, (struct sockaddr *)&sll, sizeof(sll)))
		return -1;
	/* the driver's watchdog reports the carrier within a few seconds */
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", peer_if);
	for (i = 0; i < 100; i++) {
		if (read_ll(path) == 1)
			return 0;
		usleep(100000);
	}
	fuzz_log("peer %s: no carrier after 10 s", peer_if);
	return -1;
}

static void peer_restore(void)
{
	struct ifreq ifr;
	int fd;

	if (psock >= 0)
		close(psock);
	if (peer_flags0 < 0 || (peer_flags0 & IFF_UP))
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, peer_if);
	ifr.ifr_flags = peer_flags0;
	ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
}

static void peer_drain(void);

/* Take the peer's interface down and up again (its receive restarts). */
static void peer_bounce(void)
{
	struct ifreq ifr;
	char path[256];
	int fd, i;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, peer_if);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags &= ~IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", peer_if);
	for (i = 0; i < 100 && read_ll(path) != 1; i++)
		usleep(100000);
	usleep(200000);
	peer_drain();
}

static void peer_drain(void)
{
	uint8_t b[2048];

	while (recv(psock, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

static int peer_send(const void *frame, size_t len)
{
	ssize_t n = send(psock, frame, len, MSG_DONTWAIT);

	if (n > 0)
		n_frames_peer++;
	return n == (ssize_t)len ? 0 : -1;
}

/* Wait up to @ms for a frame from the model carrying @seq; 0 if it came. */
static int peer_wait(uint32_t seq, size_t len, int ms)
{
	double end = fuzz_now() + ms / 1000.0;
	uint8_t b[2048];

	while (fuzz_now() < end) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd p = { psock, POLLIN, 0 };
		ssize_t n;
		uint32_t s;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = recvfrom(psock, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 18 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		memcpy(&s, b + 14, 4);
		if (b[12] == ETHERTYPE_PROBE >> 8 && b[13] == (ETHERTYPE_PROBE & 0xff) &&
		    s == seq && !memcmp(b, peer_mac, 6)) {
			if ((size_t)n != len)
				fuzz_finding("probe frame %u reached the peer with %zd bytes, sent %zu",
					     seq, n, len);
			return 0;
		}
	}
	return -1;
}

/* What the peer and the interrupt lines looked like, once, for a finding. */
static void peer_diag(void)
{
	static const char *const st[] = {
		"rx_packets", "rx_dropped", "rx_missed_errors", "rx_fifo_errors",
		"rx_errors", "tx_packets", "tx_errors",
	};
	static bool done;
	char path[256], line[512];
	unsigned int i;
	FILE *f;

	if (done)
		return;
	done = true;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", peer_if, st[i]);
		fuzz_log("peer %s %s %lld", peer_if, st[i], read_ll(path));
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", peer_if);
	fuzz_log("peer carrier %lld, context regs:", read_ll(path));
	if (!kt_read_str(MDEV "/e1000/regs", line, sizeof(line)))
		fuzz_log("%s", line);
	f = fopen("/proc/interrupts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "eth") || strstr(line, "kvm_assign") || strstr(line, "CPU0"))
			fuzz_log("%.*s", (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

/* ---- counters: they only grow ---- */

static const char *const e1k_counters[] = {
	"tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "rx_no_buffer",
	"rx_filtered", "rx_faults", "tx_faults", "tx_bad_desc", "tx_bad_ring",
	"regs_unknown", "irqs_raised",
};
static const char *const ka_counters[] = {
	"bar_reads", "bar_writes", "bar_refused", "config_writes_dropped",
	"irqs_delivered", "irqs_masked", "dma_started", "dma_refused", "resets",
};
static const char *const dom_counters[] = {
	"translations", "bounced", "faults_not_present", "faults_beyond_width",
	"faults_no_write", "faults_no_read", "fault_overflow", "iotlb_hits",
	"iotlb_misses",
};
#define NCOUNTERS	(sizeof(e1k_counters) / sizeof(e1k_counters[0]) + \
			 sizeof(ka_counters) / sizeof(ka_counters[0]) + \
			 sizeof(dom_counters) / sizeof(dom_counters[0]))
static long long counters_last[NCOUNTERS];
static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;

static void check_counters(void)
{
	unsigned int i, k = 0;
	long long v;

	pthread_mutex_lock(&counters_lock);
	for (i = 0; i < sizeof(e1k_counters) / sizeof(e1k_counters[0]); i++, k++) {
		v = e1k_stat(e1k_counters[i]);
		if (v < counters_last[k])
			fuzz_finding("e1000 counter %s went from %lld to %lld",
				     e1k_counters[i], counters_last[k], v);
		counters_last[k] = v;
	}
	for (i = 0; i < sizeof(ka_counters) / sizeof(ka_counters[0]); i++, k++) {
		v = ka_stat(ka_counters[i]);
		if (v < counters_last[k])
			fuzz_finding("kvm_assign counter %s went from %lld to %lld",
				     ka_counters[i], counters_last[k], v);
		counters_last[k] = v;
	}
	for (i = 0; i < sizeof(dom_counters) / sizeof(dom_counters[0]); i++, k++) {
		v = dom_stat(dom_counters[i]);
		if (v < counters_last[k])
			fuzz_finding("domain counter %s went from %lld to %lld",
				     dom_counters[i], counters_last[k], v);
		counters_last[k] = v;
	}
	pthread_mutex_unlock(&counters_lock);
}

/* ---- random values ---- */

static const uint32_t hot_regs[] = {
	E1K_CTRL, E1K_CTRL, E1K_STATUS, E1K_EECD, E1K_EERD, E1K_CTRL_EXT, E1K_MDIC,
	E1K_MDIC, E1K_ICR, E1K_ICR, E1K_ITR, E1K_ICS, E1K_ICS, E1K_IMS, E1K_IMS,
	E1K_IMC, E1K_RCTL, E1K_RCTL, E1K_RCTL, E1K_TCTL, E1K_TCTL, E1K_TCTL,
	E1K_TIPG, E1K_RDBAL, E1K_RDBAH, E1K_RDLEN, E1K_RDH, E1K_RDT, E1K_RDT,
	E1K_RDTR, E1K_RADV, E1K_TDBAL, E1K_TDBAH, E1K_TDLEN, E1K_TDH, E1K_TDT,
	E1K_TDT, E1K_TDT, E1K_TIDV, E1K_TADV, E1K_RXCSUM, E1K_RA, E1K_RA + 4,
	E1K_MTA, E1K_VFTA, E1K_GPRC, E1K_GORCH, E1K_TPT, E1K_TXDCTL, E1K_RXDCTL,
	E1K_MANC, E1K_VET, E1K_LEDCTL, E1K_PBA, E1K_FCRTL, E1K_WUC,
};
#define NHOT	(sizeof(hot_regs) / sizeof(hot_regs[0]))

/* A ring base: mostly in a piece, sometimes across an edge or nowhere. */
static uint64_t pick_ring(struct fuzz_rng *r, size_t len)
{
	const struct piece *p = &pieces[fuzz_below(r, NPIECES)];

	if (len > 0x10000)
		len = 0x10000;

	switch (fuzz_below(r, 12)) {
	case 0: case 1: case 2: case 3: return pieces[0].iova;
	case 4: return pieces[0].iova + (fuzz_below(r, pieces[0].size - 0x10000 - len) & ~127ULL);
	case 5: return p->iova + (fuzz_below(r, p->size - len + 1) & ~127ULL);
	case 6: return pieces[3].iova;
	case 7: return p->iova + p->size - (fuzz_below(r, 8) + 1) * 16;	/* ends in a hole */
	case 8: return HOLE_IOVA + (fuzz_below(r, 0x10000) & ~15ULL);
	case 9: return pieces[2].iova;					/* read-only */
	case 10: return fuzz_int(r, pieces[0].iova);
	default: return pieces[1].iova + (fuzz_below(r, pieces[1].size - len + 1) & ~15ULL);
	}
}

/* A buffer address for @len bytes. */
static uint64_t pick_buf(struct fuzz_rng *r, size_t len)
{
	const struct piece *p = &pieces[fuzz_below(r, NPIECES)];
	size_t l = len > p->size ? p->size : len;

	switch (fuzz_below(r, 16)) {
	case 0: return p->iova + p->size - l / 2 - 1;		/* across the end */
	case 1: return p->iova - fuzz_below(r, l + 1);		/* across the start */
	case 2: return HOLE_IOVA + fuzz_below(r, 0x10000);
	case 3: return 0;
	case 4: return fuzz_int(r, p->iova);
	case 5: return 0xffffffffULL - fuzz_below(r, 64);
	case 6: return ~0ULL - fuzz_below(r, 4096);
	default: return p->iova + fuzz_below(r, p->size - l + 1);
	}
}

static uint32_t pick_len(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 12)) {
	case 0: return 0;
	case 1: return 4096;
	case 2: return 4097;
	case 3: return fuzz_next(r);
	case 4: return 1 + fuzz_below(r, 4096);
	default: return 14 + fuzz_below(r, 1500);
	}
}

static uint32_t pick_ringlen(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 10)) {
	case 0: return 0;
	case 1: return E1K_RING_MAX_DESC * E1K_DESC_SIZE;
	case 2: return E1K_RING_MAX_DESC * E1K_DESC_SIZE + 128;
	case 3: return fuzz_next(r);
	case 4: return 128 * (1 + fuzz_below(r, 512));
	default: return 128 * (1 + fuzz_below(r, 32));
	}
}

static uint32_t reg_value(struct fuzz_rng *r, uint32_t reg)
{
	uint32_t v;

	if (fuzz_one_in(r, 10))
		return fuzz_int(r, 0);
	switch (reg) {
	case E1K_CTRL:
		v = E1K_CTRL_SLU | E1K_CTRL_FD | E1K_CTRL_SPD_1000;
		if (fuzz_one_in(r, 6))
			v |= E1K_CTRL_RST;
		if (fuzz_one_in(r, 6))
			v |= E1K_CTRL_PHY_RST;
		if (fuzz_one_in(r, 3))
			v |= E1K_CTRL_VME;
		return v;
	case E1K_TCTL:
		return fuzz_below(r, 5) ? E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12) :
		       fuzz_below(r, 2) ? 0 : (uint32_t)fuzz_next(r);
	case E1K_RCTL:
		v = E1K_RCTL_EN | (fuzz_next(r) & (E1K_RCTL_BAM | E1K_RCTL_UPE | E1K_RCTL_MPE |
						    E1K_RCTL_SECRC | E1K_RCTL_SZ_MASK |
						    E1K_RCTL_BSEX | E1K_RCTL_LPE | E1K_RCTL_VFE |
						    E1K_RCTL_MO_MASK | E1K_RCTL_RDMTS_MASK |
						    E1K_RCTL_SBP));
		return fuzz_one_in(r, 8) ? v & ~E1K_RCTL_EN : v;
	case E1K_TDBAL: case E1K_RDBAL:
		return pick_ring(r, 128);
	case E1K_TDBAH: case E1K_RDBAH:
		return fuzz_below(r, 4) ? 0 : fuzz_below(r, 2) ? 1 : (uint32_t)fuzz_next(r);
	case E1K_TDLEN: case E1K_RDLEN:
		return pick_ringlen(r);
	case E1K_TDH: case E1K_TDT: case E1K_RDH: case E1K_RDT:
		return fuzz_below(r, 4) ? fuzz_below(r, 256) : fuzz_int(r, 4096);
	case E1K_ICR: case E1K_ICS: case E1K_IMS: case E1K_IMC:
		return fuzz_below(r, 3) ? fuzz_next(r) & E1K_ICR_CAUSES : ~0U;
	case E1K_EECD:
		return fuzz_next(r) & (E1K_EECD_SK | E1K_EECD_CS | E1K_EECD_DI |
				       E1K_EECD_REQ | E1K_EECD_FWE_MASK);
	case E1K_EERD:
		return E1K_EERD_START | (uint32_t)fuzz_below(r, 80) << E1K_EERD_ADDR_SHIFT;
	case E1K_MDIC:
		return (fuzz_below(r, 2) ? E1K_MDIC_OP_READ : E1K_MDIC_OP_WRITE) |
		       (fuzz_below(r, 4) ? 1U : (uint32_t)fuzz_below(r, 32)) << E1K_MDIC_PHY_SHIFT |
		       (uint32_t)fuzz_below(r, 32) << E1K_MDIC_REG_SHIFT |
		       (fuzz_one_in(r, 4) ? E1K_MDIC_INT_EN : 0) | (fuzz_next(r) & 0xffff);
	case E1K_ITR: case E1K_RDTR: case E1K_RADV: case E1K_TIDV: case E1K_TADV:
		return fuzz_below(r, 3) ? fuzz_below(r, 200) : fuzz_next(r);
	case E1K_RA:
		return ctx_mac[0] | ctx_mac[1] << 8 | ctx_mac[2] << 16 | (uint32_t)ctx_mac[3] << 24;
	case E1K_RA + 4:
		return ctx_mac[4] | ctx_mac[5] << 8 | (fuzz_below(r, 4) ? E1K_RAH_AV : 0);
	default:
		return fuzz_next(r);
	}
}

/* ---- guest operations ---- */

static void op_reg_write(struct fuzz_rng *r)
{
	uint8_t data[8];
	uint32_t reg, v;
	uint64_t off;
	size_t size;

	switch (fuzz_below(r, 20)) {
	case 0:	/* anything in (or just past) BAR0, any size */
		size = 1 << fuzz_below(r, 4);
		off = fuzz_below(r, E1K_BAR0_SIZE + 16);
		if (fuzz_below(r, 2))
			off &= ~(uint64_t)(size - 1);
		fuzz_fill(r, data, sizeof(data));
		if (pwrite(device, data, size, BAR0 + off) < 0 && off + size <= E1K_BAR0_SIZE)
			fuzz_finding("%zu-byte write inside BAR0 at %#llx failed: %s", size,
				     (unsigned long long)off, strerror(errno));
		return;
	case 1: case 2:	/* any register */
		reg = fuzz_below(r, E1K_BAR0_SIZE) & ~3U;
		break;
	case 3:	/* filter tables */
		reg = (fuzz_below(r, 2) ? E1K_MTA : E1K_VFTA) + 4 * fuzz_below(r, 128);
		if (fuzz_one_in(r, 2))
			reg = E1K_RA + 4 * fuzz_below(r, 2 * E1K_RAR_ENTRIES);
		break;
	default:
		reg = hot_regs[fuzz_below(r, NHOT)];
		break;
	}
	v = reg_value(r, reg);
	if (fuzz_one_in(r, 6)) {	/* through the I/O BAR */
		wr32(BAR1 + E1K_IOADDR, reg);
		if (fuzz_one_in(r, 8))
			wr32(BAR1 + E1K_IOADDR, fuzz_next(r));
		wr32(BAR1 + E1K_IODATA, v);
		return;
	}
	reg_wr(reg, v);
}

static void op_reg_read(struct fuzz_rng *r)
{
	uint8_t data[8];
	uint64_t off;
	size_t size;
	ssize_t n;

	if (fuzz_below(r, 3)) {
		rd32(BAR0 + hot_regs[fuzz_below(r, NHOT)]);
		return;
	}
	if (fuzz_one_in(r, 3)) {
		wr32(BAR1 + E1K_IOADDR, fuzz_below(r, 2) ? hot_regs[fuzz_below(r, NHOT)] :
				       (uint32_t)fuzz_next(r));
		rd32(BAR1 + E1K_IODATA);
		rd32(BAR1 + E1K_IOADDR);
		return;
	}
	size = 1 << fuzz_below(r, 4);
	off = fuzz_below(r, 2) ? fuzz_below(r, E1K_BAR0_SIZE + 16) :
	      E1K_STATS_START + fuzz_below(r, 0x100);
	if (fuzz_below(r, 2))
		off &= ~(uint64_t)(size - 1);
	n = pread(device, data, size, (fuzz_one_in(r, 6) ? BAR1 : BAR0) + off);
	if (n > (ssize_t)size)
		fuzz_finding("read of %zu bytes returned %zd", size, n);
}

/* One random packet's descriptors at @d (room for @max); how many. */
static unsigned int gen_packet(struct fuzz_rng *r, struct e1k_tx_desc *d, unsigned int max)
{
	unsigned int n = 0, ndata, i;
	bool ext = fuzz_below(r, 2), tse = false;
	uint32_t lower, len;

	if (ext && fuzz_below(r, 2) && n < max) {	/* a context descriptor */
		struct e1k_tx_ctx_desc *c = (void *)&d[n++];
		uint32_t hdr = fuzz_below(r, 4) ? 14 + fuzz_below(r, 66) : fuzz_below(r, 256);
		uint32_t mss = fuzz_below(r, 8) ? 256 + fuzz_below(r, 1300) :
			       fuzz_below(r, 2) ? fuzz_below(r, 64) : (uint32_t)fuzz_below(r, 65536);

		tse = fuzz_below(r, 3) == 0;
		c->ip_fields = htole32(fuzz_below(r, 4) ? 14 | 24 << 8 | 33 << 16 : (uint32_t)fuzz_next(r));
		c->tcp_fields = htole32(fuzz_below(r, 4) ? 34 | 50 << 8 : (uint32_t)fuzz_next(r));
		c->cmd_and_length = htole32(E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_C |
					    (tse ? E1K_TXD_CMD_TSE : 0) |
					    (fuzz_next(r) & (E1K_TXD_CMD_TCP | E1K_TXD_CMD_IP |
							     E1K_TXD_CMD_RS | E1K_TXD_CMD_IDE)) |
					    (fuzz_below(r, 3) ? fuzz_below(r, 8192) :
					     fuzz_next(r) & E1K_TXD_LEN_MASK));
		c->tcp_seg_setup = htole32(hdr << 8 | mss << 16);
		if (fuzz_one_in(r, 16))
			fuzz_fill(r, c, sizeof(*c));
	}
	ndata = fuzz_below(r, 8) ? 1 + fuzz_below(r, 4) : 1 + fuzz_below(r, 70);
	for (i = 0; i < ndata && n < max; i++) {
		struct e1k_tx_desc *t = &d[n++];

		len = pick_len(r);
		t->addr = htole64(pick_buf(r, len & 0xffff));
		if (ext) {
			lower = E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D | (len & E1K_TXD_LEN_MASK) |
				(tse || fuzz_one_in(r, 8) ? E1K_TXD_CMD_TSE : 0);
			t->upper = htole32((uint32_t)(fuzz_below(r, 4)) << 8 |
					   (fuzz_one_in(r, 4) ? (uint32_t)fuzz_next(r) & 0xffff0000 : 0));
		} else {
			lower = (len & E1K_TXD_LEGACY_LEN_MASK) |
				(fuzz_one_in(r, 4) ? (uint32_t)fuzz_below(r, 256) << 16 : 0) |
				(fuzz_one_in(r, 6) ? E1K_TXD_CMD_IC : 0);
			t->upper = htole32(fuzz_one_in(r, 4) ? (uint32_t)fuzz_next(r) & ~0xffU : 0);
		}
		lower |= E1K_TXD_CMD_IFCS;
		if (fuzz_below(r, 2))
			lower |= E1K_TXD_CMD_RS;
		if (fuzz_one_in(r, 8))
			lower |= E1K_TXD_CMD_RPS | E1K_TXD_CMD_IDE;
		if (fuzz_one_in(r, 10))
			lower |= E1K_TXD_CMD_VLE;
		if (i + 1 == ndata && !fuzz_one_in(r, 10))
			lower |= E1K_TXD_CMD_EOP;
		if (fuzz_one_in(r, 30))	/* an unknown descriptor type */
			lower = (lower & ~E1K_TXD_DTYP_MASK) | E1K_TXD_CMD_DEXT |
				(uint32_t)(2 + fuzz_below(r, 14)) << 20;
		if (fuzz_one_in(r, 40))
			lower ^= 1U << fuzz_below(r, 32);
		t->lower = htole32(lower);
	}
	return n;
}

/* Random packets into the TX ring the model has, then a TDT bump. */
static void op_tx(struct fuzz_rng *r)
{
	uint64_t base = (uint64_t)reg_rd(E1K_TDBAH) << 32 | (reg_rd(E1K_TDBAL) & ~0xfU);
	uint32_t ndesc = reg_rd(E1K_TDLEN) / E1K_DESC_SIZE, tdt = reg_rd(E1K_TDT);
	struct e1k_tx_desc d[80];
	unsigned int npkt = 1 + fuzz_below(r, 6), k, n, i, put = 0;

	memset(d, 0, sizeof(d));
	for (k = 0; k < npkt; k++) {
		n = gen_packet(r, d, 80);
		for (i = 0; i < n && ndesc && ndesc <= 0x10000; i++) {
			struct e1k_tx_desc *slot = hva(base + (uint64_t)((tdt + put) % ndesc) * 16, 16);

			if (slot)
				memcpy(slot, &d[i], sizeof(*slot));
			put++;
		}
		n_txdesc += n;
	}
	if (!ndesc)
		ndesc = 1;
	if (fuzz_one_in(r, 10))
		put = fuzz_below(r, 2 * ndesc);
	if (fuzz_one_in(r, 6)) {	/* in two steps: a packet may be cut */
		reg_wr(E1K_TDT, (tdt + put / 2) % ndesc);
		n_tdt++;
	}
	reg_wr(E1K_TDT, fuzz_one_in(r, 20) ? (uint32_t)fuzz_int(r, ndesc) : (tdt + put) % ndesc);
	n_tdt++;
}

/* Random RX descriptors from RDT on, then an RDT bump. */
static void op_rx(struct fuzz_rng *r)
{
	uint64_t base = (uint64_t)reg_rd(E1K_RDBAH) << 32 | (reg_rd(E1K_RDBAL) & ~0xfU);
	uint32_t ndesc = reg_rd(E1K_RDLEN) / E1K_DESC_SIZE, rdt = reg_rd(E1K_RDT);
	unsigned int n = 1 + fuzz_below(r, 32), i;

	if (!ndesc || ndesc > 0x10000) {
		reg_wr(E1K_RDT, fuzz_below(r, 64));
		return;
	}
	for (i = 0; i < n; i++) {
		struct e1k_rx_desc *d = hva(base + (uint64_t)((rdt + i) % ndesc) * 16, 16);

		if (!d)
			continue;
		memset(d, 0, sizeof(*d));
		d->addr = htole64(fuzz_below(r, 10) ? pieces[fuzz_below(r, 2)].iova +
				  (fuzz_below(r, MIB - 0x12000) & ~15ULL) : pick_buf(r, 2048));
		if (fuzz_one_in(r, 10))
			fuzz_fill(r, d, sizeof(*d));
	}
	reg_wr(E1K_RDT, fuzz_one_in(r, 10) ? (uint32_t)fuzz_int(r, ndesc) : (rdt + n) % ndesc);
}

/* A whole, consistent ring set-up (TX or RX) in random order. */
static void op_ring(struct fuzz_rng *r)
{
	bool tx = fuzz_below(r, 2);
	uint32_t len = pick_ringlen(r);
	uint64_t base = pick_ring(r, len <= MIB / 2 ? len : 4096);
	uint32_t regs[5], vals[5], i, j, t;

	regs[0] = tx ? E1K_TDBAL : E1K_RDBAL;
	regs[1] = tx ? E1K_TDBAH : E1K_RDBAH;
	regs[2] = tx ? E1K_TDLEN : E1K_RDLEN;
	regs[3] = tx ? E1K_TDH : E1K_RDH;
	regs[4] = tx ? E1K_TDT : E1K_RDT;
	vals[0] = base;
	vals[1] = base >> 32;
	vals[2] = len;
	vals[3] = fuzz_below(r, 3) ? 0 : fuzz_below(r, len / 16 + 2);
	vals[4] = tx ? vals[3] : (len / 16 ? (vals[3] + len / 16 - 1) % (len / 16) : 0);
	for (i = 0; i < 5; i++) {
		j = i + fuzz_below(r, 5 - i);
		if (fuzz_below(r, 3))
			j = i;
		t = regs[i]; regs[i] = regs[j]; regs[j] = t;
		t = vals[i]; vals[i] = vals[j]; vals[j] = t;
	}
	for (i = 0; i < 5; i++)
		reg_wr(regs[i], vals[i]);
	reg_wr(tx ? E1K_TCTL : E1K_RCTL, reg_value(r, tx ? E1K_TCTL : E1K_RCTL));
}

/* Random bytes over ring memory (descriptors half-written, stale). */
static void op_scribble(struct fuzz_rng *r)
{
	size_t off = fuzz_below(r, 2) ? fuzz_below(r, 0x20000) : fuzz_below(r, MEM_SIZE - 64);

	fuzz_fill(r, mem + off, 1 + fuzz_below(r, 64));
}

/* ---- control operations ---- */

static void restore_cmd(struct fuzz_rng *r)
{
	cfg_cmd(fuzz_one_in(r, 10) ? (uint16_t)fuzz_next(r) : CMD_ON);
}

static void op_reset(struct fuzz_rng *r)
{
	if (noreset)
		return;
	if (ioctl(device, VFIO_DEVICE_RESET))
		fuzz_finding("VFIO_DEVICE_RESET failed: %s", strerror(errno));
	n_resets++;
	if (fuzz_below(r, 4))
		restore_cmd(r);
}

static void op_irqs(struct fuzz_rng *r)
{
	int fd = efd[fuzz_below(r, NEFD)];
	uint64_t v;

	switch (fuzz_below(r, 8)) {
	case 0: case 1:
		if (set_irqs(VFIO_PCI_INTX_IRQ_INDEX,
			     VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, efd[0]))
			fuzz_finding("INTx trigger eventfd refused: %s", strerror(errno));
		break;
	case 2:
		if (set_irqs(VFIO_PCI_INTX_IRQ_INDEX,
			     VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, -1))
			fuzz_finding("INTx disable refused: %s", strerror(errno));
		break;
	case 3:
		/* the same eventfd as the trigger is refused, another one is not */
		set_irqs(VFIO_PCI_INTX_IRQ_INDEX,
			 VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 1,
			 fuzz_below(r, 4) ? efd[1] : fd);
		break;
	case 4:
		set_irqs(VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
			 (fuzz_below(r, 2) ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK),
			 1, -1);
		break;
	case 5:
		if (!set_irqs(VFIO_PCI_MSI_IRQ_INDEX,
			      VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, fd))
			fuzz_finding("MSI set up on an 82540 (no MSI capability)");
		break;
	default:
		while (read(efd[fuzz_below(r, NEFD)], &v, 8) == 8)
			;
		break;
	}
}

static void op_unmap(struct fuzz_rng *r)
{
	unsigned int i = fuzz_below(r, 3) ? 0 : fuzz_below(r, NPIECES);
	uint64_t size = 0;

	if (nounmap)
		return;
	pthread_mutex_lock(&pieces_lock);
	if (pieces[i].mapped) {
		if (piece_unmap(i, &size) || size != pieces[i].size)
			fuzz_finding("unmap of piece %u returned %s, size %#llx", i,
				     strerror(errno), (unsigned long long)size);
		pieces[i].mapped = false;
		n_unmaps++;
		if (fuzz_below(r, 3)) {
			pthread_mutex_unlock(&pieces_lock);
			usleep(fuzz_below(r, 20000));	/* traffic finds the hole */
			pthread_mutex_lock(&pieces_lock);
			pieces_map_all();
		}
	} else {
		pieces_map_all();
	}
	pthread_mutex_unlock(&pieces_lock);
}

static void op_config(struct fuzz_rng *r)
{
	uint16_t v;

	switch (fuzz_below(r, 4)) {
	case 0:
		cfg_cmd(CMD_ON & ~(1U << fuzz_below(r, 3)));	/* one of IO, MEM, MASTER off */
		break;
	case 1:
		cfg_cmd(CMD_ON | PCI_COMMAND_INTX_DISABLE);
		break;
	case 2:
		v = fuzz_next(r);
		if (pwrite(device, &v, 2, CFG + (fuzz_below(r, 0x100) & ~1ULL)) < 0)
			fuzz_finding("config write failed: %s", strerror(errno));
		break;
	default:
		cfg_cmd(CMD_ON);
		break;
	}
}

static void op_peer(struct fuzz_rng *r)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[1522];
	unsigned int n = 1 + fuzz_below(r, 8), i;
	size_t len, h = 12;

	if (nopeer || psock < 0)
		return;
	for (i = 0; i < n; i++) {
		len = fuzz_below(r, 4) ? 14 + fuzz_below(r, 200) : 14 + fuzz_below(r, 1501);
		fuzz_fill(r, f, sizeof(f));
		switch (fuzz_below(r, 8)) {
		case 0: memcpy(f, bcast, 6); break;
		case 1: f[0] |= 1; break;				/* multicast */
		case 2: f[0] &= ~1; break;				/* random unicast */
		default: memcpy(f, ctx_mac, 6); break;
		}
		memcpy(f + 6, peer_mac, 6);
		if (fuzz_one_in(r, 5)) {	/* tagged */
			f[h++] = 0x81;
			f[h++] = 0x00;
			h += 2;
			len += 4;
		}
		f[h] = ETHERTYPE_FUZZ >> 8;
		f[h + 1] = ETHERTYPE_FUZZ & 0xff;
		peer_send(f, len);
		h = 12;
	}
	if (fuzz_one_in(r, 3))
		usleep(fuzz_below(r, 5000));
}

/* ---- the probe: a clean set-up must still work ---- */

static bool wait_u32(volatile uint32_t *p, uint32_t mask, int ms)
{
	double end = fuzz_now() + ms / 1000.0;

	do {
		if (__atomic_load_n(p, __ATOMIC_ACQUIRE) & mask)
			return true;
		usleep(1000);
	} while (fuzz_now() < end);
	return false;
}

static void probe_identity(void)
{
	uint16_t id[2] = { 0, 0 }, sum = 0, w[3];
	uint32_t st, v, i;

	if (pread(device, id, 4, CFG) != 4 || id[0] != E1K_VENDOR || id[1] != E1K_DEVICE_82540EM)
		fuzz_finding("config IDs read %04x:%04x", id[0], id[1]);
	st = reg_rd(E1K_STATUS);
	if (!(st & E1K_STATUS_FD) || !(st & E1K_STATUS_SPEED_1000))
		fuzz_finding("STATUS %#x after reset", st);
	for (i = 0; i < E1K_EEPROM_WORDS; i++) {
		reg_wr(E1K_EERD, E1K_EERD_START | i << E1K_EERD_ADDR_SHIFT);
		v = reg_rd(E1K_EERD);
		if (!(v & E1K_EERD_DONE)) {
			fuzz_finding("EERD word %u: no DONE (%#x)", i, v);
			return;
		}
		sum += v >> E1K_EERD_DATA_SHIFT;
		if (i < 3)
			w[i] = v >> E1K_EERD_DATA_SHIFT;
	}
	if (sum != E1K_EEPROM_SUM)
		fuzz_finding("EEPROM words sum to %#x", sum);
	for (i = 0; i < 3; i++)
		if (w[i] != (ctx_mac[2 * i] | ctx_mac[2 * i + 1] << 8))
			fuzz_finding("EEPROM word %u is %#x, the MAC says %02x%02x", i, w[i],
				     ctx_mac[2 * i + 1], ctx_mac[2 * i]);
}

/* One well-formed frame to the peer at descriptor @slot of the probe ring. */
static size_t probe_frame(struct fuzz_rng *r, unsigned int slot, uint32_t seq)
{
	struct e1k_tx_desc *d = hva(PROBE_TX, 128);
	uint8_t *b = hva(PROBE_TXBUF, 2048);
	size_t len = 60 + fuzz_below(r, 1455);

	fuzz_fill(r, b, len);
	memcpy(b, peer_mac, 6);
	memcpy(b + 6, ctx_mac, 6);
	b[12] = ETHERTYPE_PROBE >> 8;
	b[13] = ETHERTYPE_PROBE & 0xff;
	memcpy(b + 14, &seq, 4);
	memset(&d[slot], 0, sizeof(d[slot]));
	d[slot].addr = htole64(PROBE_TXBUF);
	d[slot].lower = htole32(len | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS);
	return len;
}

static void probe_tx(struct fuzz_rng *r)
{
	struct e1k_tx_desc *d = hva(PROBE_TX, 128);
	long long pkts0 = e1k_stat("tx_packets"), f0, tf0;
	uint32_t seq = ++probe_seq, tdh = 0, tctl;
	size_t len;
	int i;
	bool peer = !nopeer && psock >= 0;

	memset(d, 0, 128);
	reg_wr(E1K_TDBAL, (uint32_t)PROBE_TX);
	reg_wr(E1K_TDBAH, PROBE_TX >> 32);
	reg_wr(E1K_TDLEN, 128);
	reg_wr(E1K_TDH, 0);
	reg_wr(E1K_TDT, 0);
	reg_wr(E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12));

	/* bus mastering off: the frame stays queued */
	cfg_cmd(PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	len = probe_frame(r, 0, seq);
	if (peer)
		peer_drain();
	reg_wr(E1K_TDT, 1);
	usleep(20000);
	if (e1k_stat("tx_packets") != pkts0 || (le32toh(d[0].upper) & E1K_TXD_STAT_DD))
		fuzz_finding("probe: a frame went out with bus mastering off");
	cfg_cmd(CMD_ON);
	reg_wr(E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12));

	if (!wait_u32((volatile uint32_t *)&d[0].upper, htole32(E1K_TXD_STAT_DD), 2000))
		fuzz_finding("probe: no DD on the TX descriptor");
	for (i = 0; i < 100 && (tdh = reg_rd(E1K_TDH)) != 1; i++)
		usleep(1000);
	if (tdh != 1)
		fuzz_finding("probe: TDH %u after one packet", tdh);
	if (e1k_stat("tx_packets") != pkts0 + 1)
		fuzz_finding("probe: tx_packets %lld -> %lld for one packet", pkts0,
			     e1k_stat("tx_packets"));
	if (peer && peer_wait(seq, len, 2000)) {
		/*
		 * The peer's receive can stall on its own (see the report):
		 * restart its interface and send the frame once more.
		 */
		struct e1k_rx_desc *rd = hva(PROBE_RX, 128);
		uint8_t *rb = hva(PROBE_RXBUF, 8 * 2048);
		long long rx0 = e1k_stat("rx_packets"), filt0 = e1k_stat("rx_filtered");
		bool dd;

		n_peer_stalls++;
		peer_diag();
		peer_bounce();
		/* promiscuous receive: does the frame come back to us instead? */
		memset(rd, 0, 128);
		memset(rb, 0, 8 * 2048);
		for (i = 0; i < 8; i++)
			rd[i].addr = htole64(PROBE_RXBUF + 2048 * i);
		reg_wr(E1K_RDBAL, (uint32_t)PROBE_RX);
		reg_wr(E1K_RDBAH, 0);
		reg_wr(E1K_RDLEN, 128);
		reg_wr(E1K_RDH, 0);
		reg_wr(E1K_RDT, 7);
		reg_wr(E1K_RCTL, E1K_RCTL_EN | E1K_RCTL_UPE | E1K_RCTL_MPE | E1K_RCTL_BAM);
		memset(&d[1], 0, sizeof(d[1]));
		d[1] = d[0];
		d[1].upper = 0;
		reg_wr(E1K_TDT, 2);
		dd = wait_u32((volatile uint32_t *)&d[1].upper, htole32(E1K_TXD_STAT_DD), 2000);
		if (!dd || peer_wait(seq, len, 2000)) {
			usleep(200000);
			for (i = 0; i < 7; i++)
				if ((rd[i].status & E1K_RXD_STAT_DD) && !memcmp(rb + 2048 * i + 14, &seq, 4))
					break;
			fuzz_finding("probe: frame %u (%zu bytes) did not reach the peer, twice (the second time after the peer's interface restarted; DD %d; the context itself %s it, rx_packets +%lld rx_filtered +%lld, rdh %u)",
				     seq, len, dd, i < 7 ? "received" : "did not receive",
				     e1k_stat("rx_packets") - rx0, e1k_stat("rx_filtered") - filt0,
				     reg_rd(E1K_RDH));
		}
		reg_wr(E1K_RCTL, 0);
		reg_wr(E1K_TDH, 1);	/* as if one packet had gone: the fault check follows */
		reg_wr(E1K_TDT, 1);
		reg_wr(E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP | (0x0f << 4) | (0x40 << 12));
	}

	/* a buffer in the hole: a fault, logged; the unit stops on it */
	tf0 = e1k_stat("tx_faults");
	f0 = dom_faults();
	memset(&d[1], 0, sizeof(d[1]));
	d[1].addr = htole64(HOLE_IOVA + 0x100 + fuzz_below(r, 0x8000));
	d[1].lower = htole32(64 | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS);
	reg_wr(E1K_TDT, 2);
	/* The TDT write schedules the model's transmit work: let it run. */
	for (i = 0; i < 2000 && e1k_stat("tx_faults") == tf0; i++)
		usleep(1000);
	if (e1k_stat("tx_faults") != tf0 + 1)
		fuzz_finding("probe: tx_faults %lld -> %lld for a buffer in a hole", tf0,
			     e1k_stat("tx_faults"));
	if (dom_faults() <= f0)
		fuzz_finding("probe: the domain's fault log did not grow for a buffer in a hole");
	tctl = reg_rd(E1K_TCTL);
	tdh = reg_rd(E1K_TDH);
	if ((tctl & E1K_TCTL_EN) || tdh != 1)
		fuzz_finding("probe: after the fault TCTL %#x TDH %u (want EN clear, TDH 1)",
			     tctl, tdh);
	if (le32toh(d[1].upper) & E1K_TXD_STAT_DD)
		fuzz_finding("probe: DD written back on the faulting descriptor");
}

static void probe_rx(struct fuzz_rng *r)
{
	struct e1k_rx_desc *d = hva(PROBE_RX, 128);
	uint8_t *bufs = hva(PROBE_RXBUF, 8 * 2048), f[1514];
	uint32_t seq = ++probe_seq, i;
	size_t len = 60 + fuzz_below(r, 1455);
	double end;

	if (nopeer || psock < 0)
		return;
	memset(d, 0, 128);
	memset(bufs, 0, 8 * 2048);
	for (i = 0; i < 8; i++)
		d[i].addr = htole64(PROBE_RXBUF + 2048 * i);
	reg_wr(E1K_RDBAL, (uint32_t)PROBE_RX);
	reg_wr(E1K_RDBAH, PROBE_RX >> 32);
	reg_wr(E1K_RDLEN, 128);
	reg_wr(E1K_RDH, 0);
	reg_wr(E1K_RDT, 7);
	reg_wr(E1K_RCTL, E1K_RCTL_EN);	/* 2 KiB buffers, RAR0 (the MAC), FCS counted */

	fuzz_fill(r, f, len);
	memcpy(f, ctx_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = ETHERTYPE_PROBE >> 8;
	f[13] = ETHERTYPE_PROBE & 0xff;
	memcpy(f + 14, &seq, 4);
	if (peer_send(f, len)) {
		fuzz_finding("probe: the peer could not send: %s", strerror(errno));
		return;
	}
	end = fuzz_now() + 3;
	while (fuzz_now() < end) {
		for (i = 0; i < 7; i++) {
			uint8_t st = __atomic_load_n(&d[i].status, __ATOMIC_ACQUIRE);

			if (!(st & E1K_RXD_STAT_DD) || memcmp(bufs + 2048 * i + 14, &seq, 4))
				continue;
			if (le16toh(d[i].length) != len + E1K_ETH_FCS ||
			    !(st & E1K_RXD_STAT_EOP) || memcmp(bufs + 2048 * i, f, len))
				fuzz_finding("probe: frame %u received with length %u status %#x (sent %zu bytes)%s",
					     seq, le16toh(d[i].length), st, len,
					     memcmp(bufs + 2048 * i, f, len) ? ", contents differ" : "");
			return;
		}
		usleep(2000);
	}
	fuzz_finding("probe: frame %u (%zu bytes) from the peer was not received (rx_packets %lld, regs rdh %#x)",
		     seq, len, e1k_stat("rx_packets"), reg_rd(E1K_RDH));
}

static void probe(struct fuzz_rng *r, unsigned int tid)
{
	long long pinned;
	int i;

	fz_cur[tid] = "probe";
	pthread_rwlock_wrlock(&op_lock);
	n_probes++;
	if (ioctl(device, VFIO_DEVICE_RESET))
		fuzz_finding("probe: VFIO_DEVICE_RESET failed: %s", strerror(errno));
	/* a reset device holds nothing of the guest's memory */
	for (i = 0; i < 10 && (pinned = ka_stat("pages_pinned")) != 0; i++)
		usleep(10000);
	if (pinned)
		fuzz_finding("probe: %lld pages still pinned after VFIO_DEVICE_RESET", pinned);
	pthread_mutex_lock(&pieces_lock);
	pieces_map_all();
	pthread_mutex_unlock(&pieces_lock);
	cfg_cmd(CMD_ON);
	probe_identity();
	probe_tx(r);
	probe_rx(r);
	check_counters();
	pthread_rwlock_unlock(&op_lock);
	fz_cur[tid] = NULL;
}

/* ---- threads ---- */

static void guest_op(struct fuzz_rng *r, unsigned int tid)
{
	unsigned int k = fuzz_below(r, 100);

	if (k < 30) {
		fz_cur[tid] = "register write";
		op_reg_write(r);
	} else if (k < 40) {
		fz_cur[tid] = "register read";
		op_reg_read(r);
	} else if (k < 65) {
		fz_cur[tid] = "TX descriptors + TDT";
		op_tx(r);
	} else if (k < 78) {
		fz_cur[tid] = "RX descriptors + RDT";
		op_rx(r);
	} else if (k < 92) {
		fz_cur[tid] = "ring set-up";
		op_ring(r);
	} else {
		fz_cur[tid] = "scribble";
		op_scribble(r);
	}
	fz_cur[tid] = NULL;
}

static void control_op(struct fuzz_rng *r, unsigned int tid)
{
	unsigned int k = fuzz_below(r, 100);

	if (k < 3) {
		fz_cur[tid] = "VFIO_DEVICE_RESET";
		op_reset(r);
	} else if (k < 18) {
		fz_cur[tid] = "SET_IRQS";
		op_irqs(r);
	} else if (k < 26) {
		fz_cur[tid] = "container unmap / remap";
		op_unmap(r);
	} else if (k < 32) {
		fz_cur[tid] = "config command";
		op_config(r);
	} else if (k < 60) {
		fz_cur[tid] = "peer frames";
		op_peer(r);
	} else if (k < 64) {
		fz_cur[tid] = "counters";
		check_counters();
	} else {
		fz_cur[tid] = "register read";
		op_reg_read(r);
	}
	fz_cur[tid] = NULL;
}

static void *guest_thread(void *arg)
{
	unsigned int tid = (uintptr_t)arg, n = 0;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };

	while (fuzz_tick()) {
		if (++n % probe_every == 0)
			probe(&r, tid);
		pthread_rwlock_rdlock(&op_lock);
		if (fz.threads == 1 && fuzz_below(&r, 3) == 0)
			control_op(&r, tid);
		else
			guest_op(&r, tid);
		pthread_rwlock_unlock(&op_lock);
	}
	return NULL;
}

static void *control_thread(void *arg)
{
	unsigned int tid = (uintptr_t)arg;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };

	while (fuzz_tick()) {
		pthread_rwlock_rdlock(&op_lock);
		control_op(&r, tid);
		pthread_rwlock_unlock(&op_lock);
		if (fuzz_one_in(&r, 4))
			usleep(fuzz_below(&r, 2000));
	}
	return NULL;
}

/* ---- set-up and tear-down ---- */

static int setup(void)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	char bdfs[4][64], path[512], b[64], ifname[IFNAMSIZ];
	struct vfio_region_info ri;
	uint8_t mac[6];
	int n, i;

	n = kt_find_pci_all("0x8086", "0x100e", bdfs, 4);	/* in PCI order */
	if (!n)
		fuzz_skip("no e1000 (8086:100e) in this VM");
	if (system("modprobe vfio_iommu_type1") || system("modprobe e1000 2>/dev/null"))
		fuzz_log("modprobe failed; going on");
	usleep(200000);
	/* the first is ours (...:01), the other the peer (...:02) */
	strcpy(bdf, bdfs[0]);
	for (i = 0; i < n; i++) {
		if (pci_netdev(bdfs[i], ifname, mac))
			continue;
		if (mac[5] == 0x01 && !memcmp(mac, "\x52\x54\x00\x12\x34", 5))
			strcpy(bdf, bdfs[i]);
		else if (!peer_bdf[0] || mac[5] == 0x02) {
			strcpy(peer_bdf, bdfs[i]);
			strcpy(peer_if, ifname);
			memcpy(peer_mac, mac, 6);
		}
	}
	if (!strcmp(peer_bdf, bdf))
		peer_bdf[0] = 0;
	if (!peer_bdf[0] && !nopeer) {
		fuzz_log("no peer e1000 with a netdev: running without the peer");
		nopeer = true;
	}
	if (kt_bind_kvm_assign(bdf) || kt_mdev_create(bdf, TYPE, UUID))
		return -1;
	if (kt_read_str(MDEV "/e1000/mac", b, sizeof(b)) || parse_mac(b, ctx_mac))
		return -1;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%lld",
		 ka_stat("iommu_domain"));
	strcpy(domain_dir, path);
	if (kt_vfio_open_mdev(UUID, VFIO_TYPE1v2_IOMMU, &container, &group, &device))
		return -1;

	/* what the contract promises a VMM */
	if (kt_vfio_region(device, VFIO_PCI_BAR0_REGION_INDEX, &ri) ||
	    ri.size != E1K_BAR0_SIZE || (ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		fuzz_finding("BAR0 region: size %#llx flags %#x",
			     (unsigned long long)ri.size, ri.flags);
	if (kt_vfio_region(device, VFIO_PCI_BAR1_REGION_INDEX, &ri) || ri.size != E1K_BAR1_SIZE)
		fuzz_finding("BAR1 region: size %#llx", (unsigned long long)ri.size);
	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	if (ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &ii) || ii.count != 1)
		fuzz_finding("INTx: count %u", ii.count);
	ii.argsz = sizeof(ii);
	ii.index = VFIO_PCI_MSI_IRQ_INDEX;
	if (!ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &ii) && ii.count)
		fuzz_finding("MSI: count %u on an 82540", ii.count);

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	/* frames to the peer by default: the wire gets exercised */
	for (i = 0; i < (int)(MEM_SIZE / 2048); i++) {
		uint8_t *f = mem + 2048UL * i;

		memcpy(f, peer_mac, 6);
		memcpy(f + 6, ctx_mac, 6);
		f[12] = ETHERTYPE_FUZZ >> 8;
		f[13] = ETHERTYPE_FUZZ & 0xff;
	}
	memset(mem, 0, 0x20000);	/* the default rings start empty */
	pthread_mutex_lock(&pieces_lock);
	pieces_map_all();
	pthread_mutex_unlock(&pieces_lock);
	for (i = 0; i < NEFD; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cfg_cmd(CMD_ON);
	if (!nopeer && peer_up()) {
		fuzz_log("peer %s could not be brought up: running without the peer", peer_if);
		nopeer = true;
	}
	return 0;
}

static void teardown(void)
{
	kt_vfio_close(&container, &group, &device);
	kt_mdev_remove(UUID);
	kt_unbind_kvm_assign(bdf);
	/* back to Linux's driver, as the VM had it */
	kt_write_str("/sys/bus/pci/drivers_probe", bdf);
	peer_restore();
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	int domains0, tables0, domains1 = 0, tables1 = 0, tries;
	long long pinned = 0, refs;
	const char *p;

	fz.threads = 2;
	fuzz_init(argc, argv, "fuzz_e1000");
	if (fz.threads > 2)
		fz.threads = 2;
	nopeer = fz.arg && strstr(fz.arg, "nopeer");
	nounmap = fz.arg && strstr(fz.arg, "nounmap");
	noreset = fz.arg && strstr(fz.arg, "noreset");
	p = fz.arg ? strstr(fz.arg, "probe=") : NULL;
	if (p && atoi(p + 6) > 0)
		probe_every = atoi(p + 6);
	if (access("/sys/bus/pci/drivers/kvm_assign", F_OK))
		fuzz_skip("kvm_assign not loaded");
	domains0 = kt_count_dir("/sys/kernel/iommu_soft/domains", "");
	tables0 = kt_count_dir("/sys/kernel/irq_remap", "table");
	if (setup()) {
		fuzz_finding("set-up of the context failed: %s", strerror(errno));
		teardown();
		return fuzz_finish();
	}
	fuzz_log("e1000 %s (context %s, MAC %02x:%02x:%02x:%02x:%02x:%02x), peer %s %s, probe every %u",
		 bdf, UUID, ctx_mac[0], ctx_mac[1], ctx_mac[2], ctx_mac[3], ctx_mac[4], ctx_mac[5],
		 nopeer ? "none" : peer_bdf, nopeer ? "" : peer_if, probe_every);
	check_counters();

	pthread_create(&th[0], NULL, guest_thread, (void *)0UL);
	if (fz.threads > 1)
		pthread_create(&th[1], NULL, control_thread, (void *)1UL);
	pthread_join(th[0], NULL);
	if (fz.threads > 1)
		pthread_join(th[1], NULL);

	/* one last probe: whatever the random phase left, a clean set-up works */
	{
		struct fuzz_rng r = { fuzz_thread_seed(7) };

		probe(&r, 0);
	}
	fuzz_log("%llu probes (%llu with the peer's receive stalled), %llu TX descriptors written, %llu TDT writes, %llu peer frames, %llu unmaps, %llu resets",
		 (unsigned long long)n_probes, (unsigned long long)n_peer_stalls,
		 (unsigned long long)n_txdesc,
		 (unsigned long long)n_tdt, (unsigned long long)n_frames_peer,
		 (unsigned long long)n_unmaps, (unsigned long long)n_resets);
	fuzz_log("context: tx_packets %lld tx_bytes %lld rx_packets %lld rx_no_buffer %lld rx_filtered %lld rx_faults %lld tx_faults %lld tx_bad_desc %lld tx_bad_ring %lld regs_unknown %lld irqs_raised %lld; domain faults %lld",
		 e1k_stat("tx_packets"), e1k_stat("tx_bytes"), e1k_stat("rx_packets"),
		 e1k_stat("rx_no_buffer"), e1k_stat("rx_filtered"), e1k_stat("rx_faults"),
		 e1k_stat("tx_faults"), e1k_stat("tx_bad_desc"), e1k_stat("tx_bad_ring"),
		 e1k_stat("regs_unknown"), e1k_stat("irqs_raised"), dom_faults());
	check_counters();

	fz_cur[0] = "close";
	kt_vfio_close(&container, &group, &device);
	for (tries = 0; tries < 50 && (pinned = ka_stat("pages_pinned")) != 0; tries++)
		usleep(20000);
	if (pinned)
		fuzz_finding("%lld pages still pinned after close", pinned);
	if (dom_stat("held") > 0)
		fuzz_finding("the domain holds %lld translations after close", dom_stat("held"));
	fz_cur[0] = "tear-down (remove, unbind)";
	teardown();
	for (tries = 0; tries < 50; tries++) {
		domains1 = kt_count_dir("/sys/kernel/iommu_soft/domains", "");
		tables1 = kt_count_dir("/sys/kernel/irq_remap", "table");
		if (domains1 == domains0 && tables1 == tables0)
			break;
		usleep(100000);
	}
	if (domains1 != domains0 || tables1 != tables0)
		fuzz_finding("left behind once the context is gone: domains %d -> %d, irq tables %d -> %d",
			     domains0, domains1, tables0, tables1);
	refs = read_ll("/sys/module/kvm_assign/refcnt");
	if (refs > 0)
		fuzz_finding("kvm_assign still has %lld references: it could not unload", refs);
	fz_cur[0] = NULL;
	return fuzz_finish();
}
