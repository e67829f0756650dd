// SPDX-License-Identifier: GPL-2.0
/*
 * e1k_ctxbench - what the kvm_assign e1000 scheduler's context switch
 * costs, from VFIO, with no guest (make bench-nic's sharing section; not a
 * test: nothing here asserts).
 *
 *	e1k_ctxbench BDF UUID_A UUID_B FRAMES [ROUNDS]
 *
 * Opens two kvm_assign-e1000 contexts of the NIC BDF (created beforehand,
 * links up) as a VMM does, each with its own container and a TX ring of 256
 * descriptors in this process's memory, and sends 1514-byte frames (from
 * the context's own MAC to the peer's, 52:54:00:12:34:02, EtherType
 * 0x88b5) in two ways:
 *   single  context A sends all FRAMES
 *   pair    A and B each send FRAMES/2, refilling and kicking their rings
 *           in turn, so both have work queued and the scheduler takes a
 *           packet from each in turn (quantum 1514 x weight 1)
 * Each way keeps its ring(s) as full as it can (refill when TDH moves,
 * the whole ring in one TDT write: more than the ring_share one context
 * may hold on the NIC's ring, so a context waits there and the other's
 * packets go in between) and is timed ROUNDS times (default 3,
 * alternating).  Prints per round "NICBENCH ctxbench mode=<single|pair>
 * frames=<n> us=<t> frames_per_s=<r> ctx_switches=<d>" (d: the NIC's
 * ctx_switches counter across the round).  UUID_B "-": only the single
 * rounds (one context is all the NIC gave).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vfio.h>
#include <linux/pci_regs.h>

#include "../lib/kt_bench.h"
#include "../lib/kt_sysfs.h"
#include "../lib/kt_vfio.h"
#include "kvmio/e1000.h"

#define IOVA		0x20000000ULL
#define BUF_SIZE	0x10000
#define TXR_OFF		0x0000		/* 256 descriptors */
#define FRAME_OFF	0x2000
#define NTX		256
#define FRAME_LEN	1514
#define BATCH		(NTX - 1)	/* the whole ring per TDT write */

struct ctx {
	const char *uuid;
	int container, group, device;
	uint64_t cfg_off, bar0_off;
	uint8_t *buf;
	unsigned int tdt;		/* next descriptor to write */
	unsigned int queued;		/* frames given to the ring in total */
	unsigned int done;		/* frames the ring has taken (TDH) */
	unsigned int head;		/* last TDH read */
};

static const char *bdf;

static uint32_t rd(struct ctx *c, unsigned int off)
{
	uint32_t v = 0;

	if (pread(c->device, &v, 4, c->bar0_off + off) != 4)
		return 0xdeadbeef;
	return v;
}

static void wr(struct ctx *c, unsigned int off, uint32_t v)
{
	if (pwrite(c->device, &v, 4, c->bar0_off + off) != 4)
		perror("e1k_ctxbench: register write");
}

static int parse_mac(const char *s, uint8_t *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
		      &mac[3], &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static int ctx_open(struct ctx *c)
{
	static const uint8_t peer[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x02 };
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	char path[256], mac[32];
	uint8_t *f;
	uint64_t ring = IOVA + TXR_OFF;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/e1000/mac", c->uuid);
	c->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->buf == MAP_FAILED || kt_read_str(path, mac, sizeof(mac)))
		return -1;
	memset(c->buf, 0, BUF_SIZE);
	f = c->buf + FRAME_OFF;
	memcpy(f, peer, 6);
	if (parse_mac(mac, f + 6))
		return -1;
	f[12] = 0x88;
	f[13] = 0xb5;
	for (unsigned int i = 14; i < FRAME_LEN; i++)
		f[i] = (uint8_t)kt_rnd();
	if (kt_vfio_open_mdev(c->uuid, VFIO_TYPE1v2_IOMMU, &c->container, &c->group, &c->device) ||
	    kt_vfio_map(c->container, c->buf, IOVA, BUF_SIZE,
			VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) ||
	    kt_vfio_region_offset(c->device, VFIO_PCI_CONFIG_REGION_INDEX, &c->cfg_off) ||
	    kt_vfio_region_offset(c->device, VFIO_PCI_BAR0_REGION_INDEX, &c->bar0_off))
		return -1;
	if (pwrite(c->device, &cmd, 2, c->cfg_off + PCI_COMMAND) != 2)
		return -1;
	wr(c, E1K_TCTL, 0);
	wr(c, E1K_TDBAL, (uint32_t)ring);
	wr(c, E1K_TDBAH, ring >> 32);
	wr(c, E1K_TDLEN, NTX * E1K_DESC_SIZE);
	wr(c, E1K_TDH, 0);
	wr(c, E1K_TDT, 0);
	wr(c, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP);
	return 0;
}

/* Reads TDH: how many more frames the ring has taken. */
static void ctx_reap(struct ctx *c)
{
	uint32_t h = rd(c, E1K_TDH);

	if (h >= NTX)
		return;
	c->done += (h - c->head + NTX) % NTX;
	c->head = h;
}

/* Queues up to BATCH more of @want frames where the ring has room; kicks. */
static void ctx_fill(struct ctx *c, unsigned int want)
{
	unsigned int n = 0;

	while (c->queued < want && c->queued - c->done < NTX - 1 && n < BATCH) {
		volatile uint32_t *d = (volatile uint32_t *)(c->buf + TXR_OFF + c->tdt * E1K_DESC_SIZE);

		d[0] = (uint32_t)(IOVA + FRAME_OFF);
		d[1] = 0;
		d[2] = FRAME_LEN | E1K_TXD_CMD_EOP | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS;
		d[3] = 0;
		c->tdt = (c->tdt + 1) % NTX;
		c->queued++;
		n++;
	}
	if (n) {
		__sync_synchronize();
		wr(c, E1K_TDT, c->tdt);
	}
}

static long long switches(void)
{
	char path[256], v[32];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/kvm_assign_e1000/ctx_switches", bdf);
	return kt_read_str(path, v, sizeof(v)) ? -1 : atoll(v);
}

/* One timed round over @n contexts, @frames in all; 0 or -1 (stalled). */
static int round_of(struct ctx *cs, int n, unsigned int frames, const char *mode)
{
	unsigned int per = frames / n, i;
	long long s0 = switches();
	double t0 = kt_now(), last = t0;
	unsigned int progress = 0, p;

	for (i = 0; i < (unsigned int)n; i++) {
		cs[i].queued = cs[i].done = 0;
	}
	for (;;) {
		int busy = 0;

		for (i = 0; i < (unsigned int)n; i++) {
			ctx_reap(&cs[i]);
			ctx_fill(&cs[i], per);
			busy |= cs[i].done < per;
		}
		if (!busy)
			break;
		for (p = 0, i = 0; i < (unsigned int)n; i++)
			p += cs[i].done;
		if (p != progress) {
			progress = p;
			last = kt_now();
		} else if (kt_now() - last > 5) {
			fprintf(stderr, "e1k_ctxbench: %s stalled at %u of %u frames\n", mode, p, per * n);
			return -1;
		}
		sched_yield();
	}
	t0 = kt_now() - t0;
	printf("NICBENCH ctxbench mode=%s frames=%u us=%.0f frames_per_s=%.0f ctx_switches=%lld\n",
	       mode, per * n, t0 * 1e6, per * n / t0, switches() - s0);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx cs[2] = { { .container = -1 }, { .container = -1 } };
	unsigned int frames, rounds = 3, r;
	int rc = 0, two;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5) {
		fprintf(stderr, "usage: e1k_ctxbench BDF UUID_A UUID_B FRAMES [ROUNDS]\n");
		return 2;
	}
	bdf = argv[1];
	cs[0].uuid = argv[2];
	cs[1].uuid = argv[3];
	frames = atoi(argv[4]) & ~1U;
	if (argc > 5)
		rounds = atoi(argv[5]);
	alarm(600);
	two = strcmp(cs[1].uuid, "-") != 0;
	if (ctx_open(&cs[0]) || (two && ctx_open(&cs[1]))) {
		perror("e1k_ctxbench: opening the contexts");
		return 1;
	}
	/* warm up: the rings once */
	rc |= round_of(cs, 1 + two, (1 + two) * 64, "warmup");
	for (r = 0; r < rounds && !rc; r++) {
		rc |= round_of(cs, 1, frames, "single");
		if (two)
			rc |= round_of(cs, 2, frames, "pair");
	}
	for (r = 0; r < (unsigned int)(1 + two); r++) {
		wr(&cs[r], E1K_TCTL, 0);
		kt_vfio_close(&cs[r].container, &cs[r].group, &cs[r].device);
	}
	return rc ? 1 : 0;
}
