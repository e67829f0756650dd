// SPDX-License-Identifier: GPL-2.0
/*
 * e1000_regress_test - regressions fuzz_e1000 found in kvm_assign's e1000
 * model, each as a small deterministic case at the VFIO level.
 *
 * The context is set up as fuzz_e1000 does it: the VM's first e1000
 * (52:54:00:12:34:01) bound to kvm_assign, a kvm_assign-e1000 context
 * opened through a type1 container, 1 MiB of anonymous memory mapped at
 * IOVA 0x100000.
 *
 * tx.slots_own_their_translations: packets queued on the physical ring,
 * one and several buffers each, around a ring of 8 descriptors, each one
 * completing (DD, TDH) with every translation released (the domain holds
 * none, no page stays pinned after reset).  The model used to copy each
 * buffer's held iommu_soft translation (linked into the domain's hold
 * list) into the physical slot and free the original with the packet:
 * the first completion's list_del() found the list pointing at freed
 * memory (a "list_del corruption" BUG on kernels with list hardening, a
 * use-after-free of the hold list on others).
 *
 * tx.tso_needs_a_context: a TSO data descriptor with no TSO context ever
 * given is a bad packet (tx_bad_desc, the unit stops, nothing sent), and a
 * clean packet goes out after the restart.  The model used to queue it
 * behind the context's empty (all-zero) context copy, which is a legacy
 * descriptor of length 0 at bus address 0 on the physical ring; QEMU's NIC
 * then segmented with its reset TSO parameters (header 0, MSS 0) and sent
 * a zero-length frame, after which QEMU's hub queued every further frame
 * of that NIC forever: the NIC's wire was dead for the rest of the boot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/kt_vfio.h"
#include "kvmio/e1000.h"

#define UUID		"5b2c1f6e-7a41-4e0b-9d1c-0000000e1001"
#define TYPE		"kvm_assign-e1000"
#define MDEV		"/sys/bus/mdev/devices/" UUID
#define IOVA		0x100000ULL
#define MEM_SIZE	(1UL << 20)
#define BAR0		((uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40)
#define CFG		((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)
#define RING		IOVA			/* 8 TX descriptors */
#define BUFS		(IOVA + 0x1000)

FIXTURE(e1k) {
	char bdf[64];
	int container, group, device;
	uint8_t *mem;
	char domain[128];
};

static long long read_ll(const char *path)
{
	char b[64];

	if (kt_read_str(path, b, sizeof(b)))
		return -1;
	return atoll(b);
}

static uint32_t reg_rd(struct kt_fix_e1k *self, uint32_t r)
{
	uint32_t v = ~0U;

	if (pread(self->device, &v, 4, BAR0 + r) != 4)
		return ~0U;
	return v;
}

static int reg_wr(struct kt_fix_e1k *self, uint32_t r, uint32_t v)
{
	return pwrite(self->device, &v, 4, BAR0 + r) == 4 ? 0 : -1;
}

static void *hva(struct kt_fix_e1k *self, uint64_t iova)
{
	return self->mem + (iova - IOVA);
}

FIXTURE_SETUP(e1k)
{
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	self->container = self->group = self->device = -1;
	/* the first in PCI order: 52:54:00:12:34:01 in the test VM */
	if (kt_find_pci_all("0x8086", "0x100e", &self->bdf, 1) < 1)
		SKIP("no e1000 (8086:100e) in this VM");
	ASSERT_EQ(system("modprobe vfio_iommu_type1"), 0);
	ASSERT_OK(kt_bind_kvm_assign(self->bdf));
	ASSERT_OK(kt_mdev_create(self->bdf, TYPE, UUID));
	snprintf(self->domain, sizeof(self->domain), "/sys/kernel/iommu_soft/domains/%lld",
		 read_ll(MDEV "/kvm_assign/iommu_domain"));
	ASSERT_OK(kt_vfio_open_mdev(UUID, VFIO_TYPE1v2_IOMMU, &self->container, &self->group,
				    &self->device));

	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(self->mem != MAP_FAILED);
	memset(self->mem, 0, MEM_SIZE);
	ASSERT_OK(kt_vfio_map(self->container, self->mem, IOVA, MEM_SIZE,
			      VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(pwrite(self->device, &cmd, 2, CFG + PCI_COMMAND), 2);
}

FIXTURE_TEARDOWN(e1k)
{
	kt_vfio_close(&self->container, &self->group, &self->device);
	kt_mdev_remove(UUID);
	if (self->bdf[0]) {
		kt_unbind_kvm_assign(self->bdf);
		kt_write_str("/sys/bus/pci/drivers_probe", self->bdf);
	}
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, MEM_SIZE);
}

/* Waits up to 2 s for DD in the upper dword of TX descriptor @i. */
static int wait_dd(struct kt_fix_e1k *self, unsigned int i)
{
	volatile struct e1k_tx_desc *d = hva(self, RING + 16 * i);
	int ms;

	for (ms = 0; ms < 2000; ms++) {
		if (le32toh(__atomic_load_n(&d->upper, __ATOMIC_ACQUIRE)) & E1K_TXD_STAT_DD)
			return 0;
		usleep(1000);
	}
	return -1;
}

TEST_F(e1k, tx_slots_own_their_translations)
{
	struct e1k_tx_desc *ring = hva(self, RING);
	unsigned int tdt = 0, pkt, i, nbuf, total = 0;
	long long pkts0 = read_ll(MDEV "/e1000/tx_packets"), held, pinned;
	char path[256];

	ASSERT_OK(reg_wr(self, E1K_TDBAL, RING));
	ASSERT_OK(reg_wr(self, E1K_TDBAH, 0));
	ASSERT_OK(reg_wr(self, E1K_TDLEN, 8 * E1K_DESC_SIZE));
	ASSERT_OK(reg_wr(self, E1K_TDH, 0));
	ASSERT_OK(reg_wr(self, E1K_TDT, 0));
	ASSERT_OK(reg_wr(self, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP));

	/* 12 packets of 1, 2 or 3 buffers: the ring wraps several times */
	for (pkt = 0; pkt < 12; pkt++) {
		unsigned int first = tdt;

		nbuf = 1 + pkt % 3;
		for (i = 0; i < nbuf; i++) {
			/* the last buffer of a packet crosses a page boundary */
			uint64_t buf = BUFS + 0x2000 * pkt + (i + 1 == nbuf ? 0x1000 - 40 : 0x100 * i);
			uint8_t *b = hva(self, buf);
			struct e1k_tx_desc *d = &ring[tdt];
			uint32_t len = i ? 80 : 60;

			if (!i) {	/* broadcast, a local ethertype */
				memset(b, 0xff, 6);
				memcpy(b + 6, "\x52\x54\x00\x12\x34\x01", 6);
				b[12] = 0x88;
				b[13] = 0xb5;
			}
			memset(d, 0, sizeof(*d));
			d->addr = htole64(buf);
			d->lower = htole32(len | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS |
					   (i + 1 == nbuf ? E1K_TXD_CMD_EOP : 0));
			tdt = (tdt + 1) % 8;
		}
		ASSERT_OK(reg_wr(self, E1K_TDT, tdt));
		for (i = 0; i < nbuf; i++)
			EXPECT_OK(wait_dd(self, (first + i) % 8));
		EXPECT_EQ(reg_rd(self, E1K_TDH), tdt);
		total++;
	}
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_packets"), pkts0 + total);
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_faults"), 0);
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_bad_desc"), 0);
	EXPECT_TRUE(reg_rd(self, E1K_TCTL) & E1K_TCTL_EN);

	/* every translation released once its packet completed */
	snprintf(path, sizeof(path), "%s/held", self->domain);
	held = read_ll(path);
	EXPECT_EQ(held, 0);
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_RESET));
	pinned = read_ll(MDEV "/kvm_assign/pages_pinned");
	EXPECT_EQ(pinned, 0);
}

TEST_F(e1k, tso_needs_a_context)
{
	struct e1k_tx_desc *ring = hva(self, RING);
	uint8_t *b = hva(self, BUFS);
	long long pkts0 = read_ll(MDEV "/e1000/tx_packets");
	long long bad0 = read_ll(MDEV "/e1000/tx_bad_desc");

	ASSERT_OK(reg_wr(self, E1K_TDBAL, RING));
	ASSERT_OK(reg_wr(self, E1K_TDBAH, 0));
	ASSERT_OK(reg_wr(self, E1K_TDLEN, 8 * E1K_DESC_SIZE));
	ASSERT_OK(reg_wr(self, E1K_TDH, 0));
	ASSERT_OK(reg_wr(self, E1K_TDT, 0));
	ASSERT_OK(reg_wr(self, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP));

	memset(b, 0xff, 6);
	memcpy(b + 6, "\x52\x54\x00\x12\x34\x01", 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	/* a TSO data descriptor; the context never gave a TSO context */
	memset(ring, 0, 8 * sizeof(*ring));
	ring[0].addr = htole64(BUFS);
	ring[0].lower = htole32(100 | E1K_TXD_CMD_DEXT | E1K_TXD_DTYP_D | E1K_TXD_CMD_TSE |
				E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS | E1K_TXD_CMD_EOP);
	ASSERT_OK(reg_wr(self, E1K_TDT, 1));
	usleep(20000);
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_bad_desc"), bad0 + 1);
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_packets"), pkts0);
	EXPECT_FALSE(reg_rd(self, E1K_TCTL) & E1K_TCTL_EN);
	EXPECT_EQ(reg_rd(self, E1K_TDH), 0);
	EXPECT_FALSE(le32toh(ring[0].upper) & E1K_TXD_STAT_DD);

	/* as the driver's reset does: the ring again, then a clean packet */
	ASSERT_OK(reg_wr(self, E1K_TDH, 0));
	ASSERT_OK(reg_wr(self, E1K_TDT, 0));
	ASSERT_OK(reg_wr(self, E1K_TCTL, E1K_TCTL_EN | E1K_TCTL_PSP));
	memset(ring, 0, sizeof(*ring));
	ring[0].addr = htole64(BUFS);
	ring[0].lower = htole32(100 | E1K_TXD_CMD_IFCS | E1K_TXD_CMD_RS | E1K_TXD_CMD_EOP);
	ASSERT_OK(reg_wr(self, E1K_TDT, 1));
	EXPECT_OK(wait_dd(self, 0));
	EXPECT_EQ(read_ll(MDEV "/e1000/tx_packets"), pkts0 + 1);
}

KT_MAIN()
