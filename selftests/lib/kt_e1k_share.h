/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_e1k_share.h - several kvm_assign-e1000 contexts of one NIC driven at
 * once from userspace through VFIO, with the VM's other e1000 as the wire;
 * shared by kvm_assign_e1000_share_test and kvm_assign_e1000_fair_test.
 *
 * The NIC (52:54:00:12:34:01) is bound to kvm_assign and shared by N
 * contexts (/work/spec-nic-share.md, "issue 11"); 52:54:00:12:34:02 stays
 * with Linux's e1000 as the peer, seen through an AF_PACKET socket, as in
 * kvm_assign_e1000_test.  Each context is a struct kc: its own container,
 * group and device, and one small anonymous buffer DMA-mapped at KC_IOVA
 * that holds its rings and packet buffers (64 KiB by default, so that 64
 * contexts pin 4 MiB):
 *
 *	0x0000	TX ring, KC_TX_DESCS descriptors
 *	0x1000	RX ring, KC_RX_DESCS descriptors
 *	0x2000	RX buffers, KC_RX_DESCS x 2 KiB
 *	0xa000	TX buffers, up to the end of the buffer
 *
 * The test's frames carry the sending context's index (or KC_PEER for the
 * peer), a sequence number, their length and a checksum of their payload,
 * so that a frame delivered to the wrong ring, cut, or changed is seen.
 *
 * Helpers that may SKIP take the fixture's share_nic and clean up first:
 * the harness's SKIP() exits at once, without the fixture's teardown.
 */
#ifndef _KT_E1K_SHARE_H
#define _KT_E1K_SHARE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pci_regs.h>
#include <linux/sockios.h>
#include <linux/vfio.h>

#include "kt_test.h"
#include "kt_sysfs.h"
#include "kt_vfio.h"
#include "kvmio/e1000.h"

#define KC_TYPE		"kvm_assign-e1000"
#define KC_NIC_MAC	"52:54:00:12:34:01"
#define KC_PEER_MAC	"52:54:00:12:34:02"
#define KC_MAX		64
#define KC_PEER		0xffff		/* the index in the peer's frames */

/* The context's buffer: rings and packet buffers, mapped at KC_IOVA. */
#define KC_IOVA		0x20000000ULL
#define KC_IOVA_UNMAPPED 0x7000000ULL	/* never mapped into any container */
#define KC_SIZE_SMALL	0x10000
#define KC_TXR_OFF	0x0000
#define KC_RXR_OFF	0x1000
#define KC_RXB_OFF	0x2000
#define KC_TXB_OFF	0xa000
#define KC_TX_DESCS	256	/* a sender thread's ring lasts a while */
#define KC_RX_DESCS	16
#define KC_RX_BUF	2048

/* The test's frames: a local experimental ethertype, then our header. */
#define KC_ETHERTYPE	0x88b5
#define KC_MAGIC	0x53314b45	/* "E1KS" */
#define KC_HDR		34	/* eth 14, magic 4, idx 2, seq 4, len 2, sum 4, pad 2 */

struct kc {
	int		idx;
	char		uuid[40];
	uint8_t		mac[6];
	int		created;
	int		container, group, device;
	uint8_t		*buf;		/* size bytes, mapped at KC_IOVA */
	size_t		size;
	uint64_t	cfg_off, bar0_off;
	unsigned int	ntx, tdt;	/* TX ring size, next descriptor */
	unsigned int	txb;		/* next free TX buffer byte */
};

struct share_nic {
	char		bdf[64], peer_bdf[64], peer_if[IF_NAMESIZE];
	char		dir[256];	/* the NIC's kvm_assign_e1000/ */
	int		peer_ifindex, psock;
	uint8_t		peer_mac[6];
	int		bound;
	struct kc	*k;		/* the contexts (KC_MAX) */
	int		n;		/* how many of them created */
};

/* --- small helpers ------------------------------------------------------ */

static inline void kc_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void kc_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint16_t kc_get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static inline uint32_t kc_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static inline int kc_parse_mac(const char *s, uint8_t *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
		      &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static inline void kc_fmt_mac(const uint8_t *m, char *s)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static inline void kc_sleep_ms(int ms)
{
	usleep(ms * 1000);
}

/* --- sysfs -------------------------------------------------------------- */

static inline void kc_path(const struct kc *k, const char *name, char *path, size_t len)
{
	snprintf(path, len, "/sys/bus/mdev/devices/%s/%s", k->uuid, name);
}

/* A per-context file (e.g. "e1000/tx_bytes"); -1 if it cannot be read. */
static inline long long kc_stat(const struct kc *k, const char *name)
{
	char path[256], buf[64];

	kc_path(k, name, path, sizeof(path));
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

static inline int kc_set(const struct kc *k, const char *name, const char *val)
{
	char path[256];

	kc_path(k, name, path, sizeof(path));
	return kt_write_str(path, val);
}

static inline int kc_has(const struct kc *k, const char *name)
{
	char path[256];

	kc_path(k, name, path, sizeof(path));
	return !access(path, F_OK);
}

/* A file of the NIC's kvm_assign_e1000/ ("link_rate"); -1 if unreadable. */
static inline long long nic_stat(const struct share_nic *n, const char *name)
{
	char path[384], buf[64];

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

static inline int nic_read(const struct share_nic *n, const char *name, char *buf, size_t len)
{
	char path[384];

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	return kt_read_str(path, buf, len);
}

static inline int nic_set(const struct share_nic *n, const char *name, long long v)
{
	char path[384], val[32];

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	snprintf(val, sizeof(val), "%lld", v);
	return kt_write_str(path, val);
}

static inline int nic_has(const struct share_nic *n, const char *name)
{
	char path[384];

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	return !access(path, F_OK);
}

static inline void kc_log_regs(const struct kc *k, const char *when)
{
	char path[256], buf[512];

	kc_path(k, "e1000/regs", path, sizeof(path));
	if (kt_read_str(path, buf, sizeof(buf)))
		strcpy(buf, "(no e1000/regs)");
	KT_LOG("ctx %d %s: %s", k->idx, when, buf);
}

/* The first netdev of PCI device @bdf. */
static inline int kc_netdev_of(const char *bdf, char *name, size_t len)
{
	char path[640];
	struct dirent *e;
	DIR *d;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/net", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strlen(e->d_name) < len) {
			strcpy(name, e->d_name);
			ret = 0;
			break;
		}
	closedir(d);
	return ret;
}

static inline int kc_mac_of(const char *bdf, char *mac, size_t len)
{
	char ifn[64], path[640];

	if (kc_netdev_of(bdf, ifn, sizeof(ifn)))
		return -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifn);
	return kt_read_str(path, mac, len);
}

/* Gives @bdf back to whatever driver it matches (e1000). */
static inline void kc_give_back(const char *bdf)
{
	kt_unbind_kvm_assign(bdf);
	kt_write_str("/sys/bus/pci/drivers_probe", bdf);
}

/* --- registers ------------------------------------------------------------ */

static inline uint32_t kc_rd(const struct kc *k, unsigned int off)
{
	uint32_t v = 0;

	if (pread(k->device, &v, 4, k->bar0_off + off) != 4)
		return 0xdeadbeef;
	return v;
}

static inline int kc_wr(const struct kc *k, unsigned int off, uint32_t v)
{
	return pwrite(k->device, &v, 4, k->bar0_off + off) == 4 ? 0 : -1;
}

static inline void kc_set_rar(const struct kc *k, unsigned int i, const uint8_t *mac)
{
	kc_wr(k, E1K_RA + 8 * i, mac[0] | mac[1] << 8 | mac[2] << 16 | (uint32_t)mac[3] << 24);
	kc_wr(k, E1K_RA + 8 * i + 4, mac[4] | mac[5] << 8 | E1K_RAH_AV);
}

/* --- frames ----------------------------------------------------------- */

static inline uint8_t kc_pattern(unsigned int idx, uint32_t seq, unsigned int i)
{
	return idx * 29 + seq * 13 + i * 7 + (i >> 8);
}

static inline uint32_t kc_sum(const uint8_t *p, unsigned int len, unsigned int idx,
			      uint32_t seq)
{
	uint32_t sum = seq ^ idx << 16;
	unsigned int i;

	for (i = KC_HDR; i < len; i++)
		sum = sum * 31 + p[i];
	return sum;
}

/* Test frame @seq of context @idx, @len bytes without FCS (>= KC_HDR). */
static inline void kc_make_frame(uint8_t *p, const uint8_t *dst, const uint8_t *src,
				 unsigned int len, unsigned int idx, uint32_t seq)
{
	unsigned int i;

	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	kc_put16(p + 12, KC_ETHERTYPE);
	kc_put32(p + 14, KC_MAGIC);
	kc_put16(p + 18, idx);
	kc_put32(p + 20, seq);
	kc_put16(p + 24, len);
	kc_put16(p + 30, 0);
	for (i = KC_HDR; i < len; i++)
		p[i] = kc_pattern(idx, seq, i);
	kc_put32(p + 26, kc_sum(p, len, idx, seq));
}

/*
 * 0 if @p (@len bytes as received, without FCS) is a whole, unchanged test
 * frame from @src to @dst (either NULL: any); its index and number into
 * *@idx and *@seq (also when it is damaged, if the header is readable).
 */
static inline int kc_check_frame(const uint8_t *p, unsigned int len, const uint8_t *dst,
				 const uint8_t *src, unsigned int *idx, uint32_t *seq)
{
	unsigned int want, i;

	*idx = ~0U;
	*seq = ~0U;
	if (len < KC_HDR || kc_get16(p + 12) != KC_ETHERTYPE || kc_get32(p + 14) != KC_MAGIC)
		return -1;
	*idx = kc_get16(p + 18);
	*seq = kc_get32(p + 20);
	want = kc_get16(p + 24);
	if (want < KC_HDR || len < want)
		return -1;
	if ((dst && memcmp(p, dst, 6)) || (src && memcmp(p + 6, src, 6)))
		return -1;
	if (kc_get32(p + 26) != kc_sum(p, want, *idx, *seq))
		return -1;
	for (i = KC_HDR; i < want; i++)
		if (p[i] != kc_pattern(*idx, *seq, i))
			return -1;
	for (i = want; i < len; i++)	/* padding to the minimum frame */
		if (p[i])
			return -1;
	return 0;
}

/* --- checksums ---------------------------------------------------------- */

static inline uint32_t kc_sum16(uint32_t s, const uint8_t *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i + 1 < n; i += 2)
		s += p[i] << 8 | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

static inline uint16_t kc_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Pseudo-header sum of the IPv4 header at @ip for @len bytes of @proto. */
static inline uint32_t kc_pseudo(const uint8_t *ip, unsigned int proto, unsigned int len)
{
	return kc_sum16(0, ip + 12, 8) + proto + len;
}

static inline int kc_ip_ok(const uint8_t *ip)
{
	return kc_fold(kc_sum16(0, ip, 20)) == 0xffff;
}

/* The TCP or UDP checksum over @l4_len bytes after the IPv4 header is right. */
static inline int kc_l4_ok(const uint8_t *ip, unsigned int proto, unsigned int l4_len)
{
	return kc_fold(kc_sum16(kc_pseudo(ip, proto, l4_len), ip + 20, l4_len)) == 0xffff;
}

/* --- the peer --------------------------------------------------------- */

/* Peer up (no IPv6 chatter, no GRO), carrier waited for, an AF_PACKET
 * socket on it (as kvm_assign_e1000_test does). */
static inline void peer_setup(struct share_nic *n, struct kt_ctx *_kt)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 0 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	char path[256], carrier[16] = "";
	struct ifreq ifr;
	int fd, size = 8 << 20;
	double t0;

	ASSERT_OK(kc_netdev_of(n->peer_bdf, n->peer_if, sizeof(n->peer_if)));
	n->peer_ifindex = if_nametoindex(n->peer_if);
	ASSERT_GT(n->peer_ifindex, 0);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", n->peer_if);
	kt_write_str(path, "1");

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_GE(fd, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, n->peer_if);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		KT_LOG("peer %s: GRO not switched off: %s", n->peer_if, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, n->peer_if);
	ASSERT_OK(ioctl(fd, SIOCGIFFLAGS, &ifr));
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ASSERT_OK(ioctl(fd, SIOCSIFFLAGS, &ifr));
	}
	close(fd);
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", n->peer_if);
	t0 = kt_now();
	while (kt_now() < t0 + 20) {
		if (!kt_read_str(path, carrier, sizeof(carrier)) && !strcmp(carrier, "1"))
			break;
		kc_sleep_ms(100);
	}
	ASSERT_STREQ(carrier, "1");

	n->psock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ASSERT_GE(n->psock, 0);
	if (setsockopt(n->psock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(n->psock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = n->peer_ifindex;
	ASSERT_OK(bind(n->psock, (struct sockaddr *)&sll, sizeof(sll)));
}

static uint8_t kc_peer_frame[65536];

/* The next frame the peer receives (not one it sends) of @ethertype, into
 * kc_peer_frame; its length, 0 if none within @ms. */
static inline int peer_recv(struct share_nic *n, uint16_t ethertype, int ms)
{
	double end = kt_now() + ms / 1000.0;

	for (;;) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		struct pollfd p = { .fd = n->psock, .events = POLLIN };
		int left = (end - kt_now()) * 1000;
		ssize_t len;

		if (left < 0 || poll(&p, 1, left) != 1)
			return 0;
		len = recvfrom(n->psock, kc_peer_frame, sizeof(kc_peer_frame), MSG_DONTWAIT,
			       (struct sockaddr *)&sll, &sl);
		if (len < 14 || sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (kc_get16(kc_peer_frame + 12) == ethertype)
			return len;
	}
}

static inline void peer_drain(struct share_nic *n)
{
	while (recv(n->psock, kc_peer_frame, sizeof(kc_peer_frame), MSG_DONTWAIT) > 0)
		;
}

static inline int peer_send(struct share_nic *n, const uint8_t *frame, unsigned int len)
{
	return send(n->psock, frame, len, 0) == (ssize_t)len ? 0 : -1;
}

/* The peer sends test frame @seq (@len bytes) to @dst. */
static inline int peer_send_test(struct share_nic *n, const uint8_t *dst, unsigned int len,
				 uint32_t seq)
{
	uint8_t f[2048];

	kc_make_frame(f, dst, n->peer_mac, len, KC_PEER, seq);
	return peer_send(n, f, len);
}

/* --- the NIC ------------------------------------------------------------ */

/*
 * Finds the two e1000 of the test VM, leaves the peer with Linux's e1000
 * and up, binds the other to kvm_assign.  Skips (having undone what it
 * did) when kvm_assign cannot share a NIC: no e1000 model, no
 * e1000_max_contexts parameter, or fewer than @need instances offered.
 */
static inline void share_nic_setup(struct share_nic *n, struct kt_ctx *_kt, int need)
{
	char list[8][64], models[512], path[512], link[256], mac[32], val[32];
	int cnt, i, ctx = -1, peer = -1, avail;
	ssize_t l;

	n->psock = -1;
	if (kt_read_str("/sys/bus/pci/drivers/kvm_assign/models", models, sizeof(models)))
		SKIP("kvm_assign is not loaded");
	if (!strstr(models, "8086:100e"))
		SKIP("no mdev type " KC_TYPE ": kvm_assign has no e1000 model");
	if (kt_read_str("/sys/module/kvm_assign/parameters/e1000_max_contexts", val, sizeof(val)))
		SKIP("kvm_assign has no e1000_max_contexts parameter: one context per NIC, "
		     "no NIC sharing in this kernel");
	if (atoi(val) < need)
		SKIP("e1000_max_contexts is %d, the test needs %d contexts", atoi(val), need);
	cnt = kt_find_pci_all("0x8086", "0x100e", list, 8);
	if (cnt < 2)
		SKIP("needs two e1000 (8086:100e) on one hub, found %d", cnt);
	if (system("modprobe e1000 2>/dev/null"))
		KT_LOG("modprobe e1000 failed");

	/* Which is which: by MAC (netdevs of Linux's e1000), else PCI order. */
	for (i = 0; i < cnt; i++) {
		if (kc_mac_of(list[i], mac, sizeof(mac)))
			continue;
		if (!strcmp(mac, KC_NIC_MAC))
			ctx = i;
		else if (!strcmp(mac, KC_PEER_MAC))
			peer = i;
	}
	for (i = 0; ctx < 0 && i < cnt; i++)
		if (i != peer)
			ctx = i;
	for (i = 0; peer < 0 && i < cnt; i++)
		if (i != ctx)
			peer = i;
	strcpy(n->bdf, list[ctx]);
	strcpy(n->peer_bdf, list[peer]);
	snprintf(n->dir, sizeof(n->dir), "/sys/bus/pci/devices/%s/kvm_assign_e1000", n->bdf);
	ASSERT_OK(kc_parse_mac(KC_PEER_MAC, n->peer_mac));
	if (kc_netdev_of(n->peer_bdf, path, sizeof(path)))
		kc_give_back(n->peer_bdf);	/* left without its driver */

	ASSERT_OK(kt_bind_kvm_assign(n->bdf));
	n->bound = 1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", n->bdf);
	l = readlink(path, link, sizeof(link) - 1);
	ASSERT_GT(l, 0);
	link[l] = 0;
	ASSERT_TRUE(strstr(link, "/kvm_assign") != NULL);
	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/mdev_supported_types/" KC_TYPE "/available_instances",
		 n->bdf);
	avail = kt_read_str(path, val, sizeof(val)) ? -1 : atoi(val);
	if (avail < need) {
		kc_give_back(n->bdf);
		n->bound = 0;
		if (avail < 0)
			SKIP("no mdev type " KC_TYPE " on %s", n->bdf);
		SKIP(KC_TYPE " offers %d instance%s on %s, the test needs %d: no NIC sharing",
		     avail, avail == 1 ? "" : "s", n->bdf, need);
	}
	peer_setup(n, _kt);
}

/* --- one context ---------------------------------------------------------- */

/* Creates context @idx (UUID ...0000e2<idx>) and reads its MAC. */
static inline int kc_create(struct share_nic *n, struct kc *k, int idx)
{
	char path[256], mac[32];

	memset(k, 0, sizeof(*k));
	k->idx = idx;
	k->container = k->group = k->device = -1;
	snprintf(k->uuid, sizeof(k->uuid), "5b2c1f6e-7a41-4e0b-9d1c-00000000e2%02x",
		 (unsigned char)idx);
	if (kt_mdev_create(n->bdf, KC_TYPE, k->uuid)) {
		printf("# ctx %d: create %s: %s\n", idx, k->uuid, strerror(errno));
		return -1;
	}
	k->created = 1;
	kc_path(k, "e1000/mac", path, sizeof(path));
	if (kt_read_str(path, mac, sizeof(mac)) || kc_parse_mac(mac, k->mac)) {
		printf("# ctx %d: no MAC in %s\n", idx, path);
		return -1;
	}
	return 0;
}

/* The device fd again on the open group, its regions, bus mastering on. */
static inline int kc_open_device(struct kc *k)
{
	uint16_t cmd = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	if (kt_vfio_open_device(k->uuid, k->group, &k->device) ||
	    kt_vfio_region_offset(k->device, VFIO_PCI_CONFIG_REGION_INDEX, &k->cfg_off) ||
	    kt_vfio_region_offset(k->device, VFIO_PCI_BAR0_REGION_INDEX, &k->bar0_off))
		return -1;
	if (pwrite(k->device, &cmd, 2, k->cfg_off + PCI_COMMAND) != 2)
		return kt_vfio_fail(k->uuid, "command register");
	return 0;
}

static inline void kc_close_device(struct kc *k)
{
	if (k->device >= 0)
		close(k->device);
	k->device = -1;
}

/* Container (type1 v2), group, a @size buffer mapped at KC_IOVA, device. */
static inline int kc_open(struct kc *k, size_t size)
{
	if (kt_vfio_open_group(k->uuid, VFIO_TYPE1v2_IOMMU, &k->container, &k->group))
		return -1;
	k->size = size;
	k->buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->buf == MAP_FAILED) {
		k->buf = NULL;
		return kt_vfio_fail(k->uuid, "mmap");
	}
	memset(k->buf, 0, size);
	if (kt_vfio_map(k->container, k->buf, KC_IOVA, size,
			VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return kt_vfio_fail(k->uuid, "VFIO_IOMMU_MAP_DMA");
	return kc_open_device(k);
}

static inline void kc_close(struct kc *k)
{
	kt_vfio_close(&k->container, &k->group, &k->device);
	if (k->buf)
		munmap(k->buf, k->size);
	k->buf = NULL;
}

/* --- transmit ----------------------------------------------------------- */

static inline volatile uint32_t *kc_txd(const struct kc *k, unsigned int i, unsigned int w)
{
	return (volatile uint32_t *)(k->buf + KC_TXR_OFF + i * E1K_DESC_SIZE + 4 * w);
}

/* The TX ring as the driver opens it: TDBAL/H, TDLEN, TDH = TDT = 0,
 * TCTL = EN | PSP. */
static inline void kc_tx_setup(struct kc *k)
{
	kc_wr(k, E1K_TCTL, 0);
	memset(k->buf + KC_TXR_OFF, 0, KC_TX_DESCS * E1K_DESC_SIZE);
	kc_wr(k, E1K_TDBAL, (uint32_t)(KC_IOVA + KC_TXR_OFF));
	kc_wr(k, E1K_TDBAH, (KC_IOVA + KC_TXR_OFF) >> 32);
	kc_wr(k, E1K_TDLEN, KC_TX_DESCS * E1K_DESC_SIZE);
	kc_wr(k, E1K_TDH, 0);
	kc_wr(k, E1K_TDT, 0);
	k->ntx = KC_TX_DESCS;
	k->tdt = 0;
	kc_wr(k, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP);
}

/* Room for @len bytes among the TX buffers: its offset in the buffer. */
static inline unsigned int kc_txbuf(struct kc *k, unsigned int len)
{
	unsigned int off;

	if (KC_TXB_OFF + k->txb + len > k->size)
		k->txb = 0;
	off = KC_TXB_OFF + k->txb;
	k->txb += (len + 63) & ~63U;
	return off;
}

/* One descriptor (lower/upper dwords as given) at TDT's position. */
static inline unsigned int kc_tx_desc(struct kc *k, uint64_t addr, uint32_t lower,
				      uint32_t upper)
{
	unsigned int i = k->tdt;

	*kc_txd(k, i, 0) = (uint32_t)addr;
	*kc_txd(k, i, 1) = addr >> 32;
	*kc_txd(k, i, 2) = lower;
	*kc_txd(k, i, 3) = upper;
	k->tdt = (i + 1) % k->ntx;
	return i;
}

static inline void kc_tx_kick(struct kc *k)
{
	__sync_synchronize();
	kc_wr(k, E1K_TDT, k->tdt);
}

/* Waits for TDH to reach TDT; 0 or -1. */
static inline int kc_tx_wait(const struct kc *k, int ms)
{
	double end = kt_now() + ms / 1000.0;

	do {
		if (kc_rd(k, E1K_TDH) == k->tdt)
			return 0;
		kc_sleep_ms(2);
	} while (kt_now() < end);
	return -1;
}

#define KC_LEGACY_CMD	(E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS)

/* Queues a frame already built at buffer offset @off (one legacy
 * descriptor, RS); returns its descriptor. */
static inline unsigned int kc_tx_raw(struct kc *k, unsigned int off, unsigned int len)
{
	return kc_tx_desc(k, KC_IOVA + off, len | KC_LEGACY_CMD, 0);
}

/* Queues test frame @seq of @len bytes from @src (NULL: the context's own
 * MAC) to @dst; returns its descriptor. */
static inline unsigned int kc_tx_frame(struct kc *k, const uint8_t *dst, const uint8_t *src,
				       unsigned int len, uint32_t seq)
{
	unsigned int off = kc_txbuf(k, len);

	kc_make_frame(k->buf + off, dst, src ? src : k->mac, len, k->idx, seq);
	return kc_tx_raw(k, off, len);
}

/* --- receive ------------------------------------------------------------ */

static inline volatile struct e1k_rx_desc *kc_rxd(const struct kc *k, unsigned int i)
{
	return (volatile struct e1k_rx_desc *)(k->buf + KC_RXR_OFF + i * E1K_DESC_SIZE);
}

static inline uint8_t *kc_rxbuf(const struct kc *k, unsigned int i)
{
	return k->buf + KC_RXB_OFF + i * KC_RX_BUF;
}

/* The RX ring afresh (2 KiB buffers, RDH = 0, RDT = KC_RX_DESCS - 1),
 * RAR0 = the context's MAC, RCTL = EN | BAM | @rctl. */
static inline void kc_rx_setup(struct kc *k, uint32_t rctl)
{
	unsigned int i;

	kc_wr(k, E1K_RCTL, 0);
	memset(k->buf + KC_RXR_OFF, 0, KC_RX_DESCS * E1K_DESC_SIZE);
	memset(k->buf + KC_RXB_OFF, 0xee, KC_RX_DESCS * KC_RX_BUF);
	for (i = 0; i < KC_RX_DESCS; i++)
		kc_rxd(k, i)->addr = KC_IOVA + KC_RXB_OFF + i * KC_RX_BUF;
	kc_wr(k, E1K_RDBAL, (uint32_t)(KC_IOVA + KC_RXR_OFF));
	kc_wr(k, E1K_RDBAH, (KC_IOVA + KC_RXR_OFF) >> 32);
	kc_wr(k, E1K_RDLEN, KC_RX_DESCS * E1K_DESC_SIZE);
	kc_wr(k, E1K_RDH, 0);
	kc_wr(k, E1K_RDT, KC_RX_DESCS - 1);
	kc_set_rar(k, 0, k->mac);
	kc_wr(k, E1K_RCTL, E1K_RCTL_EN | E1K_RCTL_BAM | rctl);
}

/* Frames in the ring since kc_rx_setup(): descriptors with DD from 0. */
static inline unsigned int kc_rx_count(const struct kc *k)
{
	unsigned int i;

	__sync_synchronize();
	for (i = 0; i < KC_RX_DESCS - 1; i++)
		if (!(kc_rxd(k, i)->status & E1K_RXD_STAT_DD))
			break;
	return i;
}

/* Waits up to @ms for @n frames in the ring; how many there are. */
static inline unsigned int kc_rx_wait(const struct kc *k, unsigned int n, int ms)
{
	double end = kt_now() + ms / 1000.0;
	unsigned int got;

	while ((got = kc_rx_count(k)) < n && kt_now() < end)
		kc_sleep_ms(5);
	return got;
}

/*
 * Received frame @i, as the driver takes it: the descriptor's length
 * less the FCS; 0 if it is not a whole frame (no DD or EOP, errors).
 */
static inline unsigned int kc_rx_len(const struct kc *k, unsigned int i)
{
	volatile struct e1k_rx_desc *d = kc_rxd(k, i);

	if ((d->status & (E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP)) !=
	    (E1K_RXD_STAT_DD | E1K_RXD_STAT_EOP) || d->errors || d->length <= E1K_ETH_FCS ||
	    d->length > KC_RX_BUF)
		return 0;
	return d->length - E1K_ETH_FCS;
}

/* --- contexts of the fixture ---------------------------------------------- */

/* Closes and removes every context, gives the NIC back (teardown). */
static inline void share_cleanup(struct share_nic *n)
{
	int i;

	for (i = 0; i < n->n; i++)
		kc_close(&n->k[i]);
	for (i = 0; i < n->n; i++)
		if (n->k[i].created && !kt_mdev_remove(n->k[i].uuid))
			n->k[i].created = 0;
	n->n = 0;
	if (n->psock >= 0)
		close(n->psock);
	n->psock = -1;
	if (n->bound) {
		if (nic_has(n, "link_rate"))
			nic_set(n, "link_rate", 0);
		kc_give_back(n->bdf);
	}
	n->bound = 0;
}

/* SKIP from a test body: undo first (SKIP() exits without teardown). */
#define SHARE_SKIP(n, fmt, ...)						\
	do {								\
		share_cleanup(n);					\
		SKIP(fmt, ##__VA_ARGS__);				\
	} while (0)

/* Creates contexts 0 .. @cnt - 1; skips if context 0 lacks one of the
 * NULL-terminated per-context files @ctx_files or the NIC one of
 * @nic_files (the feature is not in this kernel yet). */
static inline void share_create(struct share_nic *n, struct kt_ctx *_kt, int cnt,
				const char *const *ctx_files, const char *const *nic_files)
{
	int i;

	for (i = 0; i < cnt; i++) {
		ASSERT_OK(kc_create(n, &n->k[i], i));
		n->n = i + 1;
		if (i)
			continue;
		for (; ctx_files && *ctx_files; ctx_files++)
			if (!kc_has(&n->k[0], *ctx_files))
				SHARE_SKIP(n, "no %s of a context in sysfs: that part of NIC "
					   "sharing is not in this kernel", *ctx_files);
		for (; nic_files && *nic_files; nic_files++)
			if (!nic_has(n, *nic_files))
				SHARE_SKIP(n, "no kvm_assign_e1000/%s of the NIC in sysfs: that "
					   "part of NIC sharing is not in this kernel",
					   *nic_files);
	}
}

/* Waits for the NIC's link as the context sees it (sysfs link, STATUS.LU). */
static inline void kc_wait_link(const struct kc *k, struct kt_ctx *_kt)
{
	char path[256], link[16] = "";
	double t0 = kt_now();

	kc_path(k, "e1000/link", path, sizeof(path));
	while (kt_now() < t0 + 20) {
		if (!kt_read_str(path, link, sizeof(link)) && !strcmp(link, "up") &&
		    (kc_rd(k, E1K_STATUS) & E1K_STATUS_LU))
			break;
		kc_sleep_ms(50);
	}
	if (kt_now() - t0 > 0.1)
		KT_LOG("ctx %d: link %s after %.1f s", k->idx, link, kt_now() - t0);
	ASSERT_STREQ(link, "up");
	ASSERT_TRUE(kc_rd(k, E1K_STATUS) & E1K_STATUS_LU);
}

/*
 * Takes the wire of the shared NIC down (@up 0) or up (1): asks the test
 * VM's host, selftests/vm/run-vm.sh, through the VM's third serial port,
 * to "set_link hp0 off|on" on QEMU's monitor (the NIC's hub port: QEMU
 * drops its frames both ways and the NIC sees its link change, as with a
 * cable pulled).  -1 when this VM has no such port (not run by run-vm.sh).
 */
static inline int share_wire_link(int up)
{
	const char *req = up ? "set_link hp0 on\n" : "set_link hp0 off\n";
	int fd = open("/dev/ttyS2", O_WRONLY | O_NOCTTY | O_NONBLOCK), ret = -1;

	if (fd < 0)
		return -1;
	if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
		ret = 0;
	close(fd);
	return ret;
}

/* Opens contexts 0 .. @cnt - 1 with @size buffers; each up: link, TX ring,
 * RX ring with RAR0 = its MAC. */
static inline void share_open(struct share_nic *n, struct kt_ctx *_kt, int cnt, size_t size)
{
	int i;

	for (i = 0; i < cnt; i++)
		ASSERT_OK(kc_open(&n->k[i], size));
	for (i = 0; i < cnt; i++) {
		kc_wait_link(&n->k[i], _kt);
		kc_tx_setup(&n->k[i]);
		kc_rx_setup(&n->k[i], 0);
	}
	peer_drain(n);
}

#endif /* _KT_E1K_SHARE_H */
