// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign_test - an edu device assigned through kvm_assign, driven
 * through the VFIO container/group/device API exactly as QEMU does.
 *
 * Each test binds the VM's edu device (1234:11e8) to kvm_assign with
 * driver_override, creates a context (mdev), opens it through a type1
 * container with a test buffer mapped at IOVAs different from the test's
 * own addresses, and tears everything down afterwards.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/vfio.h>
#include <linux/pci_regs.h>
#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/kt_vfio.h"
#include "kvmio/edu.h"
#include "modules/kt_ka_race.h"

#define UUID		"5b2c1f6e-7a41-4e0b-9d1c-000000000ed0"
#define TYPE		"kvm_assign-edu"
#define IOVA_RW		0x10000000ULL	/* above edu's 28-bit mask: bounced */
#define IOVA_LOW	0x00200000ULL	/* below it */
#define IOVA_RO		0x00300000ULL
#define BUF_PAGES	4


/* A statistic of the context's iommu_soft domain. */
static long domain_stat(const char *name)
{
	char path[256], buf[64];
	long id = -1;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/iommu_domain", UUID);
	if (!kt_read_str(path, buf, sizeof(buf)))
		id = atol(buf);
	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%ld/%s", id, name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

/* A listing of the context's domain (mapping_list, fault_log) into @buf. */
static int domain_listing(const char *name, char *buf, size_t len)
{
	char path[256], id[32];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/iommu_domain", UUID);
	if (kt_read_str(path, id, sizeof(id)))
		return -1;
	snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%ld/%s", atol(id), name);
	return kt_read_str(path, buf, len);
}

/* The test process's locked memory (type1 accounts VFIO pins there), kB. */
static long vm_locked_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static long stat_of(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/%s", UUID, name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return atol(buf);
}

FIXTURE(edu) {
	char bdf[256];
	int container, group, device;
	uint8_t *buf;		/* mapped R/W at IOVA_RW and IOVA_LOW */
	uint8_t *ro;		/* mapped read-only at IOVA_RO */
	uint64_t cfg_off, bar0_off;
	int efd;
};

FIXTURE_SETUP(edu)
{
	char path[512], link[256];
	ssize_t n;

	self->container = self->group = self->device = self->efd = -1;
	if (kt_find_pci("0x1234", "0x11e8", self->bdf, sizeof(self->bdf)))
		SKIP("no edu device (1234:11e8) in this VM");
	ASSERT_EQ(system("modprobe vfio_iommu_type1"), 0);

	ASSERT_OK(kt_bind_kvm_assign(self->bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", self->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = 0;
	ASSERT_TRUE(strstr(link, "/kvm_assign") != NULL);

	ASSERT_OK(kt_mdev_create(self->bdf, TYPE, UUID));
	ASSERT_OK(kt_vfio_open_mdev(UUID, VFIO_TYPE1v2_IOMMU, &self->container, &self->group,
				    &self->device));

	self->buf = mmap(NULL, BUF_PAGES * 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(self->buf != MAP_FAILED);
	self->ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(self->ro != MAP_FAILED);
	memset(self->buf, 0, BUF_PAGES * 4096);
	memset(self->ro, 0x5a, 4096);

	ASSERT_OK(kt_vfio_map(self->container, self->buf, IOVA_RW, BUF_PAGES * 4096,
			      VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_OK(kt_vfio_map(self->container, self->buf, IOVA_LOW, BUF_PAGES * 4096,
			      VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_OK(kt_vfio_map(self->container, self->ro, IOVA_RO, 4096, VFIO_DMA_MAP_FLAG_READ));

	ASSERT_OK(kt_vfio_region_offset(self->device, VFIO_PCI_CONFIG_REGION_INDEX,
					&self->cfg_off));
	ASSERT_OK(kt_vfio_region_offset(self->device, VFIO_PCI_BAR0_REGION_INDEX,
					&self->bar0_off));
	self->efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_GE(self->efd, 0);
}

FIXTURE_TEARDOWN(edu)
{
	if (self->efd >= 0)
		close(self->efd);
	kt_vfio_close(&self->container, &self->group, &self->device);
	kt_mdev_remove(UUID);
	if (self->bdf[0])
		kt_unbind_kvm_assign(self->bdf);
}

static uint32_t cfg_read(struct kt_fix_edu *s, unsigned int off, int size)
{
	uint32_t v = 0;

	if (pread(s->device, &v, size, s->cfg_off + off) != size)
		return 0xdeadbeef;
	return v;
}

static int cfg_write(struct kt_fix_edu *s, unsigned int off, uint32_t v, int size)
{
	return pwrite(s->device, &v, size, s->cfg_off + off) == size ? 0 : -1;
}

static uint64_t bar_read(struct kt_fix_edu *s, unsigned int off, int size)
{
	uint64_t v = 0;

	if (pread(s->device, &v, size, s->bar0_off + off) != size)
		return 0xdeadbeefdeadbeefULL;
	return v;
}

static int bar_write(struct kt_fix_edu *s, unsigned int off, uint64_t v, int size)
{
	return pwrite(s->device, &v, size, s->bar0_off + off) == size ? 0 : -1;
}

static void enable(struct kt_fix_edu *s)
{
	cfg_write(s, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

static int set_irq(struct kt_fix_edu *s, unsigned int index, unsigned int action, int fd)
{
	char b[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (void *)b;

	set->argsz = sizeof(b);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | action;
	set->index = index;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &fd, sizeof(fd));
	return ioctl(s->device, VFIO_DEVICE_SET_IRQS, set);
}

static int set_irq_none(struct kt_fix_edu *s, unsigned int index, unsigned int action,
			unsigned int count)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | action,
		.index = index,
		.count = count,
	};

	return ioctl(s->device, VFIO_DEVICE_SET_IRQS, &set);
}

/* Waits up to @ms for the eventfd; returns its counter (0: nothing). */
static uint64_t wait_efd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(fd, &v, sizeof(v)) == sizeof(v))
		return v;
	return 0;
}

/* Starts one edu transfer (with its completion interrupt). */
static int dma_start(struct kt_fix_edu *s, uint64_t src, uint64_t dst, uint64_t cnt,
		     int to_ram)
{
	if (bar_write(s, EDU_DMA_SRC, src, 8) || bar_write(s, EDU_DMA_DST, dst, 8) ||
	    bar_write(s, EDU_DMA_CNT, cnt, 8) ||
	    bar_write(s, EDU_DMA_CMD, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0) | EDU_DMA_IRQ, 8))
		return -1;
	return 0;
}

/* Runs one edu transfer and waits for its completion interrupt. */
static int dma(struct kt_fix_edu *s, uint64_t src, uint64_t dst, uint64_t cnt, int to_ram)
{
	if (dma_start(s, src, dst, cnt, to_ram))
		return -1;
	/* edu completes 100 ms of virtual time later; TCG is slow. */
	if (!wait_efd(s->efd, 20000))
		return -2;
	if (bar_read(s, EDU_DMA_CMD, 8) & EDU_DMA_RUN)
		return -3;
	bar_write(s, EDU_IRQ_ACK, 0x100, 4);
	return 0;
}

TEST_F(edu, identification)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };

	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_INFO, &di));
	EXPECT_TRUE(di.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_TRUE(di.flags & VFIO_DEVICE_FLAGS_RESET);
	EXPECT_EQ(cfg_read(self, PCI_VENDOR_ID, 2), 0x1234);
	EXPECT_EQ(cfg_read(self, PCI_DEVICE_ID, 2), 0x11e8);
	EXPECT_EQ(cfg_read(self, PCI_CAPABILITY_LIST, 1), 0x40);
	EXPECT_EQ(cfg_read(self, 0x40, 1), PCI_CAP_ID_MSI);
	EXPECT_TRUE(cfg_read(self, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);

	/* Memory decoding off: the BAR reads as all ones. */
	EXPECT_EQ(bar_read(self, EDU_ID, 4), 0xffffffff);
	enable(self);
	EXPECT_EQ(bar_read(self, EDU_ID, 4), 0x010000ed);

	EXPECT_OK(bar_write(self, EDU_LIVENESS, 0x12345678, 4));
	EXPECT_EQ(bar_read(self, EDU_LIVENESS, 4), (uint32_t)~0x12345678);
}

TEST_F(edu, regions_and_irqs)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };

	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(ri.size, 256);
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(ri.size, 1 << 20);
	/* The register page is trapped; the rest of the BAR may be mapped. */
	EXPECT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	EXPECT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
	{
		char b[512];
		struct vfio_region_info *big = (void *)b;
		struct vfio_region_info_cap_sparse_mmap *sp;

		memset(b, 0, sizeof(b));
		big->argsz = sizeof(b);
		big->index = VFIO_PCI_BAR0_REGION_INDEX;
		ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_REGION_INFO, big));
		ASSERT_GE(big->cap_offset, sizeof(*big));
		sp = (void *)(b + big->cap_offset);
		EXPECT_EQ(sp->header.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
		ASSERT_EQ(sp->nr_areas, 1);
		EXPECT_EQ(sp->areas[0].offset, 4096);
		EXPECT_EQ(sp->areas[0].size, (1 << 20) - 4096);
	}
	ri.argsz = sizeof(ri);
	ri.index = VFIO_PCI_BAR1_REGION_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(ri.size, 0);
	ri.index = VFIO_PCI_NUM_REGIONS;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_GET_REGION_INFO, &ri), EINVAL);

	ii.index = VFIO_PCI_INTX_IRQ_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	EXPECT_EQ(ii.count, 1);
	EXPECT_TRUE(ii.flags & VFIO_IRQ_INFO_AUTOMASKED);
	ii.index = VFIO_PCI_MSI_IRQ_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	EXPECT_EQ(ii.count, 1);
	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	EXPECT_EQ(ii.count, 0);
	ii.index = VFIO_PCI_REQ_IRQ_INDEX;
	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_GET_IRQ_INFO, &ii));
	EXPECT_EQ(ii.count, 1);
}

TEST_F(edu, config_space_virtualized)
{
	long before = stat_of("config_writes_dropped");
	uint32_t sz;

	/* Read-only identity: the write is dropped and counted. */
	ASSERT_OK(cfg_write(self, PCI_VENDOR_ID, 0xbeef, 2));
	EXPECT_EQ(cfg_read(self, PCI_VENDOR_ID, 2), 0x1234);
	EXPECT_EQ(stat_of("config_writes_dropped"), before + 1);

	/* BAR sizing: all ones reads back the 1 MiB size mask. */
	ASSERT_OK(cfg_write(self, PCI_BASE_ADDRESS_0, 0xffffffff, 4));
	sz = cfg_read(self, PCI_BASE_ADDRESS_0, 4);
	EXPECT_EQ(sz & ~0xfU, 0xfff00000);
	ASSERT_OK(cfg_write(self, PCI_BASE_ADDRESS_0, 0xfe000000, 4));
	EXPECT_EQ(cfg_read(self, PCI_BASE_ADDRESS_0, 4) & ~0xfU, 0xfe000000);

	/* Virtual MSI capability: address/data writable, enable bit too. */
	ASSERT_OK(cfg_write(self, 0x44, 0xfee00000, 4));
	ASSERT_OK(cfg_write(self, 0x4c, 0x4041, 2));
	EXPECT_EQ(cfg_read(self, 0x44, 4), 0xfee00000);
	EXPECT_EQ(cfg_read(self, 0x4c, 2), 0x4041);
	EXPECT_TRUE(cfg_read(self, 0x42, 2) & 0x80);	/* 64-bit capable */

	/* Accesses outside config space fail. */
	EXPECT_ERRNO(pread(self->device, &sz, 4, self->cfg_off + 256), EINVAL);
}

TEST_F(edu, factorial_with_msi)
{
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_OK(bar_write(self, EDU_STATUS, 0x80, 4));
	ASSERT_OK(bar_write(self, EDU_FACTORIAL, 5, 4));
	ASSERT_EQ(wait_efd(self->efd, 10000), 1);
	EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), 1);
	EXPECT_EQ(bar_read(self, EDU_FACTORIAL, 4), 120);
	ASSERT_OK(bar_write(self, EDU_IRQ_ACK, 1, 4));
	EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), 0);
	EXPECT_GE(stat_of("irqs_delivered"), 1);
	ASSERT_OK(set_irq_none(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0));
}

TEST_F(edu, raised_interrupt_round_trip)
{
	int i;

	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	for (i = 0; i < 20; i++) {
		ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x10000, 4));
		ASSERT_EQ(wait_efd(self->efd, 5000), 1);
		EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), 0x10000);
		ASSERT_OK(bar_write(self, EDU_IRQ_ACK, 0x10000, 4));
	}
}

TEST_F(edu, intx_masking)
{
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	/* MSI cannot be enabled while INTx is. */
	EXPECT_ERRNO(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER,
			     self->efd), EBUSY);

	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x2, 4));
	ASSERT_EQ(wait_efd(self->efd, 5000), 1);
	/* Automasked: a second interrupt is held, not delivered. */
	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x4, 4));
	EXPECT_EQ(wait_efd(self->efd, 1000), 0);
	EXPECT_TRUE(cfg_read(self, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	/* irqs_delivered counts what the eventfd got, not the held one. */
	EXPECT_EQ(stat_of("irqs_delivered"), 1);
	/* Unmask with the line still up: delivered again. */
	ASSERT_OK(set_irq_none(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1));
	EXPECT_EQ(wait_efd(self->efd, 5000), 1);
	EXPECT_EQ(stat_of("irqs_delivered"), 2);
	/* Acknowledged and unmasked: nothing more. */
	ASSERT_OK(bar_write(self, EDU_IRQ_ACK, 0x6, 4));
	ASSERT_OK(set_irq_none(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 1));
	EXPECT_EQ(wait_efd(self->efd, 1000), 0);
	EXPECT_GE(stat_of("irqs_masked"), 1);

	/* An unmask eventfd (KVM's resampler) unmasks too. */
	{
		int rfd = eventfd(0, 0);
		uint64_t one = 1;

		ASSERT_GE(rfd, 0);
		ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, rfd));
		ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x8, 4));
		ASSERT_EQ(wait_efd(self->efd, 5000), 1);
		ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x8, 4));
		EXPECT_EQ(wait_efd(self->efd, 1000), 0);
		ASSERT_EQ(write(rfd, &one, sizeof(one)), sizeof(one));
		EXPECT_EQ(wait_efd(self->efd, 5000), 1);
		ASSERT_OK(bar_write(self, EDU_IRQ_ACK, 0x8, 4));
		ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, -1));
		close(rfd);
	}
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, -1));
}

/*
 * One eventfd as INTx trigger and unmask eventfd: the unmask handler would
 * run inside the trigger's signal, under irq_remap's table lock that it
 * takes itself (the host hung).  Refused in both orders, the request
 * eventfd likewise; compared as eventfds (a dup()ed number is the same
 * one); distinct eventfds keep working.
 */
TEST_F(edu, intx_unmask_eventfd_must_not_be_a_trigger)
{
	int rfd = eventfd(0, 0), req = eventfd(0, EFD_NONBLOCK), dupfd;
	uint64_t one = 1;

	ASSERT_GE(rfd, 0);
	ASSERT_GE(req, 0);
	dupfd = dup(self->efd);
	ASSERT_GE(dupfd, 0);
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));

	/* Trigger first, then the same eventfd (or a dup of it) as unmask. */
	ASSERT_ERRNO(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK,
			     self->efd), EINVAL);
	ASSERT_ERRNO(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK,
			     dupfd), EINVAL);
	/* Unmask first, then the same eventfd as trigger: refused, and the
	 * old trigger stays in place. */
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, rfd));
	ASSERT_ERRNO(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER,
			     rfd), EINVAL);
	/* The request eventfd cannot be the unmask eventfd either way. */
	ASSERT_ERRNO(set_irq(self, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER,
			     rfd), EINVAL);
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, -1));
	ASSERT_OK(set_irq(self, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, req));
	ASSERT_ERRNO(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK,
			     req), EINVAL);

	/* Distinct eventfds: delivered, held while in service, unmasked by
	 * the unmask eventfd. */
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, rfd));
	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x8, 4));
	ASSERT_EQ(wait_efd(self->efd, 5000), 1);
	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x8, 4));
	EXPECT_EQ(wait_efd(self->efd, 500), 0);
	ASSERT_EQ(write(rfd, &one, sizeof(one)), sizeof(one));
	EXPECT_EQ(wait_efd(self->efd, 5000), 1);
	ASSERT_OK(bar_write(self, EDU_IRQ_ACK, 0x8, 4));
	ASSERT_EQ(write(rfd, &one, sizeof(one)), sizeof(one));
	EXPECT_EQ(wait_efd(self->efd, 500), 0);
	EXPECT_EQ(wait_efd(req, 0), 0);

	/* Once INTx is off, the old unmask eventfd is free to be a trigger. */
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, -1));
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, rfd));
	ASSERT_OK(set_irq(self, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, -1));
	close(dupfd);
	close(req);
	close(rfd);
}

static void dma_round_trip(struct kt_fix_edu *self, struct kt_ctx *_kt, uint64_t iova)
{
	unsigned int i, off = 0xf80;	/* crosses a page boundary */

	for (i = 0; i < 0x100; i++)
		self->buf[off + i] = i ^ 0xa5;
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_EQ(dma(self, iova + off, EDU_BUF_START + 0x10, 0x100, 0), 0);
	ASSERT_EQ(dma(self, EDU_BUF_START + 0x10, iova + 0x2000, 0x100, 1), 0);
	EXPECT_EQ(memcmp(self->buf + off, self->buf + 0x2000, 0x100), 0);
	EXPECT_EQ(stat_of("dma_started"), 2);
	EXPECT_EQ(stat_of("dma_refused"), 0);
	/* The guest pages came into the context's domain through VFIO pins. */
	EXPECT_EQ(stat_of("pages_pinned"), 3);
	EXPECT_EQ(domain_stat("mappings"), 3);
	EXPECT_EQ(domain_stat("translations"), 2);
	/* The VMM unmapping its memory unpins everything. */
	ASSERT_OK(kt_vfio_unmap(self->container, iova, BUF_PAGES * 4096, NULL));
	EXPECT_EQ(stat_of("pages_pinned"), 0);
	EXPECT_EQ(domain_stat("mappings"), 0);
}

TEST_F(edu, dma_both_ways_low_iova)
{
	dma_round_trip(self, _kt, IOVA_LOW);
}

TEST_F(edu, dma_both_ways_high_iova)
{
	/* IOVA beyond edu's 28-bit mask: the device gets a bus address it can
	 * reach, the guest address is never clamped. */
	dma_round_trip(self, _kt, IOVA_RW);
}

TEST_F(edu, dma_refused_unmapped_readonly_and_out_of_buffer)
{
	unsigned int i;

	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	for (i = 0; i < 0x80; i++)
		self->buf[i] = 0x11;
	/* Known content in the device buffer. */
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START, 0x80, 0), 0);

	/* From an unmapped IOVA: refused, the device buffer is unchanged, and
	 * the context's domain logs a not-present fault. */
	ASSERT_EQ(dma(self, 0x7000000, EDU_BUF_START, 0x80, 0), 0);
	EXPECT_EQ(stat_of("dma_refused"), 1);
	EXPECT_EQ(domain_stat("faults_not_present"), 1);
	/* To the read-only mapping: refused (write-permission fault), its
	 * content unchanged. */
	ASSERT_EQ(dma(self, EDU_BUF_START, IOVA_RO, 0x80, 1), 0);
	EXPECT_EQ(stat_of("dma_refused"), 2);
	EXPECT_EQ(domain_stat("faults_no_write"), 1);
	for (i = 0; i < 0x80; i++)
		EXPECT_EQ(self->ro[i], 0x5a);
	/* Device-side range ending at or beyond the buffer's end (QEMU 7.2
	 * would abort the VM), zero length and a range below the buffer. */
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START + 0xf80, 0x80, 0), 0);
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START, 0, 0), 0);
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START - 0x10, 0x20, 0), 0);
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START + 0xfff, 0xffffffffffff0000ULL, 0), 0);
	EXPECT_EQ(stat_of("dma_refused"), 6);

	/* The refusals are in the domain's fault log as an administrator sees
	 * it (kvmio context), named after the physical device. */
	{
		char log[4096], want[512];

		ASSERT_OK(domain_listing("fault_log", log, sizeof(log)));
		KT_LOG("fault_log:\n%s", log);
		snprintf(want, sizeof(want), "not-present r- iova 0x7000000 addr 0x7000000 len 128 %s",
			 self->bdf);
		EXPECT_TRUE(strstr(log, want) != NULL);
		snprintf(want, sizeof(want), "no-write -w iova 0x%llx", IOVA_RO);
		EXPECT_TRUE(strstr(log, want) != NULL);
	}

	/* The device buffer still holds the known content. */
	ASSERT_EQ(dma(self, EDU_BUF_START, IOVA_LOW + 0x1000, 0x80, 1), 0);
	for (i = 0; i < 0x80; i++)
		EXPECT_EQ(self->buf[0x1000 + i], 0x11);
	EXPECT_EQ(stat_of("dma_started"), 2);
}

TEST_F(edu, dma_needs_bus_master)
{
	cfg_write(self, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START, 0x10, 0), 0);
	EXPECT_EQ(stat_of("dma_refused"), 1);
	EXPECT_EQ(stat_of("dma_started"), 0);
}

/*
 * A reset with a transfer really in flight (to RAM, bounced: the IOVA is
 * beyond edu's mask) returns once the device has ended it: afterwards no
 * translation, bounce buffer or pin is held, nothing lands in guest memory
 * any more (the destination, poisoned after the reset, stays poisoned past
 * the transfer's original completion time), and the device works again.
 */
TEST_F(edu, reset_mid_dma)
{
	long locked0 = vm_locked_kb(), in_flight, held, pinned, locked;
	unsigned int i, bad = 0;
	double t0, ms;
	uint64_t cmd;

	ASSERT_GE(locked0, 0);
	for (i = 0; i < 0x40; i++)
		self->buf[0x100 + i] = i ^ 0x77;
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_EQ(dma(self, IOVA_RW + 0x100, EDU_BUF_START, 0x40, 0), 0);
	memset(self->buf + 0x2000, 0, 0x40);

	t0 = kt_now();
	ASSERT_OK(dma_start(self, EDU_BUF_START, IOVA_RW + 0x2000, 0x40, 1));
	/* In flight: the guest's view, the context and its domain say so. */
	cmd = bar_read(self, EDU_DMA_CMD, 8);
	in_flight = stat_of("dma_in_flight");
	held = domain_stat("held");
	pinned = stat_of("pages_pinned");
	locked = vm_locked_kb();
	ms = (kt_now() - t0) * 1000;
	if (ms > 90)
		SKIP("checks came %.0f ms after the start, edu may have completed: inconclusive",
		     ms);
	EXPECT_EQ(cmd & EDU_DMA_RUN, EDU_DMA_RUN);
	EXPECT_EQ(in_flight, 1);
	EXPECT_EQ(held, 1);
	EXPECT_GT(pinned, 0);
	EXPECT_GT(locked, locked0);

	ASSERT_OK(ioctl(self->device, VFIO_DEVICE_RESET));
	KT_LOG("reset returned %.0f ms after the start", (kt_now() - t0) * 1000);
	EXPECT_EQ(stat_of("dma_in_flight"), 0);
	EXPECT_EQ(domain_stat("held"), 0);
	EXPECT_EQ(stat_of("pages_pinned"), 0);
	EXPECT_EQ(domain_stat("mappings"), 0);
	EXPECT_EQ(vm_locked_kb(), locked0);
	/* The transfer ended whole before the reset returned... */
	EXPECT_EQ(memcmp(self->buf + 0x100, self->buf + 0x2000, 0x40), 0);
	/* ...and nothing comes after it. */
	memset(self->buf + 0x2000, 0xee, 0x40);
	while (kt_now() < t0 + 0.4)
		usleep(20 * 1000);
	for (i = 0; i < 0x40; i++)
		bad += self->buf[0x2000 + i] != 0xee;
	EXPECT_EQ(bad, 0);

	EXPECT_EQ(bar_read(self, EDU_DMA_CMD, 8), 0xffffffffffffffffULL); /* memory off */
	enable(self);
	EXPECT_EQ(bar_read(self, EDU_DMA_CMD, 8), 0);
	EXPECT_EQ(bar_read(self, EDU_DMA_SRC, 8), 0);
	EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), 0);
	EXPECT_EQ(stat_of("resets"), 1);

	/* The device works again (the completion before the reset may have
	 * signalled the eventfd: drained). */
	wait_efd(self->efd, 0);
	memset(self->buf + 0x3000, 0, 0x40);
	ASSERT_EQ(dma(self, IOVA_RW + 0x100, EDU_BUF_START + 0x80, 0x40, 0), 0);
	ASSERT_EQ(dma(self, EDU_BUF_START + 0x80, IOVA_RW + 0x3000, 0x40, 1), 0);
	EXPECT_EQ(memcmp(self->buf + 0x100, self->buf + 0x3000, 0x40), 0);
	EXPECT_EQ(domain_stat("held"), 0);
}

/*
 * Only the device's own completion ends a transfer.  A guest that raises
 * edu's DMA-done bit and acknowledges it while a transfer runs gets that
 * interrupt in its view, but the transfer stays in flight, its translation
 * (a bounce buffer: the IOVA is beyond edu's mask) and pins held, until the
 * device completes it; then the data arrives whole.
 */
TEST_F(edu, forged_dma_done_does_not_end_a_transfer)
{
	unsigned int i, early = 0;
	long bounced, in_flight, held, pinned;
	uint64_t cmd;
	double t0, t1;

	for (i = 0; i < 0x80; i++)
		self->buf[0x100 + i] = i ^ 0x3c;
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_EQ(dma(self, IOVA_RW + 0x100, EDU_BUF_START + 0x20, 0x80, 0), 0);
	bounced = domain_stat("bounced");
	memset(self->buf + 0x2000, 0, 0x80);

	t0 = kt_now();
	ASSERT_OK(dma_start(self, EDU_BUF_START + 0x20, IOVA_RW + 0x2000, 0x80, 1));
	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, EDU_IRQ_DMA, 4));
	ASSERT_OK(bar_write(self, EDU_IRQ_ACK, EDU_IRQ_DMA, 4));
	/* The raise is the guest's own interrupt. */
	EXPECT_EQ(wait_efd(self->efd, 50), 1);
	/* Time for a forged completion to take effect, if it could. */
	usleep(10 * 1000);
	in_flight = stat_of("dma_in_flight");
	held = domain_stat("held");
	pinned = stat_of("pages_pinned");
	cmd = bar_read(self, EDU_DMA_CMD, 8);
	for (i = 0; i < 0x80; i++)
		early += self->buf[0x2000 + i] != 0;
	t1 = kt_now();
	KT_LOG("checked %.0f ms after the start", (t1 - t0) * 1000);
	if (t1 - t0 > 0.09)
		SKIP("checks came %.0f ms after the start, edu may have completed: inconclusive",
		     (t1 - t0) * 1000);
	EXPECT_EQ(in_flight, 1);
	EXPECT_EQ(held, 1);
	EXPECT_GT(pinned, 0);
	EXPECT_EQ(cmd & EDU_DMA_RUN, EDU_DMA_RUN);
	EXPECT_EQ(early, 0);
	EXPECT_EQ(domain_stat("bounced"), bounced + 1);

	/* The device's completion: now it ends, with the data. */
	ASSERT_EQ(wait_efd(self->efd, 20000), 1);
	EXPECT_EQ(bar_read(self, EDU_DMA_CMD, 8) & EDU_DMA_RUN, 0);
	EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), EDU_IRQ_DMA);
	EXPECT_EQ(stat_of("dma_in_flight"), 0);
	EXPECT_EQ(domain_stat("held"), 0);
	EXPECT_EQ(memcmp(self->buf + 0x100, self->buf + 0x2000, 0x80), 0);
	ASSERT_OK(bar_write(self, EDU_IRQ_ACK, EDU_IRQ_DMA, 4));
	/* Raised bits other than DMA-done still go through the device. */
	ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, EDU_IRQ_DMA | 0x20, 4));
	EXPECT_GE(wait_efd(self->efd, 5000), 1);
	usleep(20 * 1000);
	EXPECT_EQ(bar_read(self, EDU_IRQ_STATUS, 4), EDU_IRQ_DMA | 0x20);
	EXPECT_EQ(stat_of("dma_in_flight"), 0);
}

/*
 * Closing, and removing, a context while its device interrupts: MSI or
 * INTx enabled, raised and factorial interrupts coming, a transfer in
 * flight or not.  Close waits for the transfer and gives every pin back;
 * repeated; no crash, nothing left pinned (type1 accounts the pins in
 * VmLck).
 */
struct remover {
	volatile int	done;
	int		ret;
};

static void *remove_thread(void *arg)
{
	struct remover *r = arg;

	r->ret = kt_mdev_remove(UUID);
	r->done = 1;
	return NULL;
}

/* Interrupts coming (raised, factorial), and a DMA in flight if @dma. */
static void start_interrupting(struct kt_fix_edu *self, struct kt_ctx *_kt, int intx,
			       int dma)
{
	unsigned int i;

	enable(self);
	ASSERT_OK(set_irq(self, intx ? VFIO_PCI_INTX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX,
			  VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	if (dma) {
		ASSERT_OK(dma_start(self, IOVA_LOW + 0x100, EDU_BUF_START, 0x80, 0));
		EXPECT_EQ(stat_of("dma_in_flight"), 1);
	}
	ASSERT_OK(bar_write(self, EDU_STATUS, 0x80, 4));
	ASSERT_OK(bar_write(self, EDU_FACTORIAL, 10, 4));
	for (i = 0; i < 4; i++)
		ASSERT_OK(bar_write(self, EDU_IRQ_RAISE, 0x1000 << i, 4));
}

/*
 * Make the device's interrupts run on CPU 1 while the test runs on CPU 0,
 * so that the host's handler really runs beside a close.  Returns 1 if
 * steered, 0 if there is one CPU (or no such IRQ file).
 */
static int steer_irq_away(const char *bdf)
{
	char path[320], buf[32];
	struct dirent *de;
	cpu_set_t set;
	int irq = -1;
	DIR *d;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
				irq = atoi(de->d_name);
		closedir(d);
	}
	if (irq < 0) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/irq", bdf);
		if (kt_read_str(path, buf, sizeof(buf)))
			return 0;
		irq = atoi(buf);
	}
	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity", irq);
	if (kt_write_str(path, "2"))
		return 0;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

TEST_F(edu, close_and_remove_while_the_device_interrupts)
{
	long locked0 = vm_locked_kb();
	struct remover r = { 0 };
	cpu_set_t all;
	pthread_t t;
	int round;

	ASSERT_GE(locked0, 0);
	ASSERT_OK(sched_getaffinity(0, sizeof(all), &all));
	KT_LOG("handler on another CPU than the close: %s",
	       steer_irq_away(self->bdf) ? "yes" : "no (one CPU)");
	for (round = 0; round < 32; round++) {
		if (self->device < 0)
			ASSERT_OK(kt_vfio_open_device(UUID, self->group, &self->device));
		start_interrupting(self, _kt, round & 1, !(round & 2));
		close(self->device);
		self->device = -1;
		EXPECT_EQ(stat_of("dma_in_flight"), 0);
		EXPECT_EQ(stat_of("pages_pinned"), 0);
		EXPECT_EQ(domain_stat("held"), 0);
		EXPECT_EQ(vm_locked_kb(), locked0);
		wait_efd(self->efd, 0);
	}

	/* Removal while open waits for the close; the context is freed while
	 * the interrupts raised just before may still be handled. */
	ASSERT_OK(kt_vfio_open_device(UUID, self->group, &self->device));
	start_interrupting(self, _kt, 0, 0);
	ASSERT_EQ(pthread_create(&t, NULL, remove_thread, &r), 0);
	close(self->device);
	self->device = -1;
	pthread_join(t, NULL);
	EXPECT_EQ(r.ret, 0);
	EXPECT_NE(access("/sys/bus/mdev/devices/" UUID, F_OK), 0);
	EXPECT_EQ(vm_locked_kb(), locked0);
	sched_setaffinity(0, sizeof(all), &all);
}

/*
 * The same close and removal, with the race made certain: the test-only
 * kt_ka_race module holds the host's handler (on the other CPU) at
 * ka_ctx_interrupt() for the context being closed, from an interrupt it
 * raises on the device in the middle of the close (after the model reset,
 * before the owner is cleared), until that context's release starts or
 * hold_ms (1 s) pass.  The close must wait for the handler; the release,
 * which follows the removal, must not start while the handler is about to
 * use the context (without kd->lock around the owner's use and
 * synchronize_irq() in the close it does: a use-after-free, which KASAN
 * reports).
 */
#define RACE_KO		"/usr/share/kvmio/test-modules/kt_ka_race.ko"
#define RACE_DIR	"/sys/kernel/debug/kt_ka_race/"
#define UNMAP_WAIT	"/sys/module/iommu_soft/parameters/unmap_wait_ms"
#define KT_STR_(x)	#x
#define KT_STR(x)	KT_STR_(x)

FIXTURE(edu_race) {
	struct kt_fix_edu	e;
	int			loaded;
	char			unmap_wait[32];	/* to restore, if changed */
};

FIXTURE_SETUP(edu_race)
{
	int mfd;

	self->e.container = self->e.group = self->e.device = self->e.efd = -1;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP("one CPU: the handler cannot run beside the close");
	if (kt_find_pci("0x1234", "0x11e8", self->e.bdf, sizeof(self->e.bdf)))
		SKIP("no edu device (1234:11e8) in this VM");
	self->e.bdf[0] = 0;	/* not bound yet: nothing to unbind */
	mfd = open(RACE_KO, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		SKIP("no %s", RACE_KO);
	if (syscall(SYS_finit_module, mfd, "", 0)) {
		int err = errno;

		close(mfd);
		/* register_kprobe() without CONFIG_KPROBES */
		if (err == EOPNOTSUPP || err == ENOSYS)
			SKIP("kprobes unavailable on this kernel (%s)", strerror(err));
		errno = err;
		ASSERT_OK(-1);	/* e.g. ENOENT: a probed function is gone */
	}
	close(mfd);
	self->loaded = 1;
	kt_setup_edu(_kt, &self->e);
}

FIXTURE_TEARDOWN(edu_race)
{
	if (self->unmap_wait[0])
		EXPECT_OK(kt_write_str(UNMAP_WAIT, self->unmap_wait));
	kt_teardown_edu(_kt, &self->e);
	if (self->loaded)
		EXPECT_OK(syscall(SYS_delete_module, "kt_ka_race", O_NONBLOCK));
}

static long race_stat(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), RACE_DIR "%s", name);
	if (kt_read_str(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 0);
}

TEST_F(edu_race, close_and_remove_beside_a_handler_holding_the_owner)
{
	struct kt_fix_edu *e = &self->e;
	long stage, held_us;
	double t0, close_s;
	cpu_set_t all;
	int i;

	ASSERT_OK(sched_getaffinity(0, sizeof(all), &all));
	ASSERT_TRUE(steer_irq_away(e->bdf));

	ASSERT_OK(kt_write_str(RACE_DIR "arm", KT_STR(KT_ROUND_CLOSE)));
	t0 = kt_now();
	close(e->device);
	e->device = -1;
	close_s = kt_now() - t0;
	EXPECT_OK(kt_mdev_remove(UUID));
	/* Without the fix the handler may still be held, after the removal. */
	for (i = 0; i < 300; i++) {
		stage = race_stat("stage");
		if (stage != KT_STAGE_WAITING && stage != KT_STAGE_HELD)
			break;
		usleep(10 * 1000);
	}
	sched_setaffinity(0, sizeof(all), &all);

	held_us = race_stat("held_us");
	KT_LOG("stage %ld, handler on CPU %ld, close on CPU %ld, held %ld us, close %.0f us",
	       stage, race_stat("handler_cpu"), race_stat("close_cpu"), held_us,
	       close_s * 1e6);
	/* The window was reached: a handler held with the closing context. */
	ASSERT_EQ(stage, KT_STAGE_DONE);
	EXPECT_NE(race_stat("handler_cpu"), race_stat("close_cpu"));
	/* The close waited for it... */
	EXPECT_GE(close_s * 1e6, (double)held_us);
	/* ...so the context was not released under it. */
	EXPECT_EQ(race_stat("released_in_window"), 0);
	EXPECT_NE(access("/sys/bus/mdev/devices/" UUID, F_OK), 0);
}

/*
 * VFIO's dma_unmap of a range while a transfer start translates it:
 * kt_ka_race holds the unmap notification at the entry of
 * ka_dma_invalidate() until a start, on the other CPU, has translated the
 * range.  The unmap must wait for that start (ctx->dma_lock) and for its
 * transfer to end (the model's quiesce, under the lock) before it unmaps:
 * iommu_soft never has to give up on a held translation.  Its wait is cut
 * to 20 ms, below the 100 ms edu takes per transfer, so that an unmap
 * under a running transfer shows (unmap_wait_timeouts; the translation is
 * revoked while the device still reads the pages given back).
 */
struct race_starter {
	struct kt_fix_edu	*s;
	volatile int		ready;	/* running on CPU 1 */
	int			ret;
	long			stage;
};

/* Created on CPU 1: CPU 0 spins in the held unmap, preemption disabled. */
static void *race_start_thread(void *arg)
{
	struct race_starter *st = arg;
	int i;

	st->ret = -1;
	st->ready = 1;
	for (i = 0; i < 500; i++) {
		st->stage = race_stat("stage");
		if (st->stage != KT_STAGE_ARMED)
			break;
		usleep(10 * 1000);
	}
	if (st->stage == KT_STAGE_WAITING)
		st->ret = dma_start(st->s, IOVA_LOW + 0x100, EDU_BUF_START, 0x80, 0);
	return NULL;
}

TEST_F(edu_race, unmap_beside_a_start_waits_for_its_transfer)
{
	struct vfio_iommu_type1_dma_unmap um = { .argsz = sizeof(um) };
	struct kt_fix_edu *e = &self->e;
	struct race_starter st = { .s = e };
	long locked0 = vm_locked_kb();
	cpu_set_t all, set;
	pthread_attr_t attr;
	pthread_t t;
	int i;

	ASSERT_GE(locked0, 0);
	ASSERT_OK(kt_read_str(UNMAP_WAIT, self->unmap_wait, sizeof(self->unmap_wait)));
	ASSERT_OK(kt_write_str(UNMAP_WAIT, "20"));
	enable(e);
	ASSERT_OK(set_irq(e, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, e->efd));
	/* Pinned first, so that type1 calls the context's dma_unmap. */
	ASSERT_OK(dma_start(e, IOVA_LOW + 0x100, EDU_BUF_START, 0x80, 0));
	for (i = 0; i < 100 && stat_of("dma_in_flight"); i++)
		usleep(10 * 1000);
	ASSERT_EQ(stat_of("dma_in_flight"), 0);
	ASSERT_GT(stat_of("pages_pinned"), 0);

	ASSERT_OK(sched_getaffinity(0, sizeof(all), &all));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ASSERT_OK(sched_setaffinity(0, sizeof(set), &set));
	ASSERT_OK(kt_write_str(RACE_DIR "arm", KT_STR(KT_ROUND_UNMAP)));
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	ASSERT_EQ(pthread_attr_init(&attr), 0);
	ASSERT_EQ(pthread_attr_setaffinity_np(&attr, sizeof(set), &set), 0);
	ASSERT_EQ(pthread_create(&t, &attr, race_start_thread, &st), 0);
	pthread_attr_destroy(&attr);
	for (i = 0; i < 500 && !st.ready; i++)
		usleep(1000);
	ASSERT_TRUE(st.ready);
	um.iova = IOVA_LOW;
	um.size = BUF_PAGES * 4096;
	EXPECT_OK(ioctl(e->container, VFIO_IOMMU_UNMAP_DMA, &um));
	pthread_join(t, NULL);
	sched_setaffinity(0, sizeof(all), &all);

	KT_LOG("stage %ld (the start saw %ld), translated on CPU %ld, unmapped on CPU %ld, start %d",
	       race_stat("stage"), st.stage, race_stat("handler_cpu"), race_stat("close_cpu"),
	       st.ret);
	/* The window was reached: a start translated inside the unmap. */
	ASSERT_EQ(st.ret, 0);
	ASSERT_EQ(race_stat("stage"), KT_STAGE_DONE);
	EXPECT_NE(race_stat("handler_cpu"), race_stat("close_cpu"));
	/* The unmap waited for the transfer instead of revoking it. */
	EXPECT_EQ(domain_stat("unmap_wait_timeouts"), 0);
	for (i = 0; i < 100 && stat_of("dma_in_flight"); i++)
		usleep(10 * 1000);
	EXPECT_EQ(stat_of("dma_in_flight"), 0);
	EXPECT_EQ(stat_of("pages_pinned"), 0);
	EXPECT_EQ(domain_stat("held"), 0);
	EXPECT_EQ(vm_locked_kb(), locked0);
}

/*
 * VFIO_IOMMU_UNMAP_DMA of a range racing with transfer starts that pin
 * the same range from another thread, repeated: no crash, and once all is
 * unmapped nothing is left pinned or held.
 */
struct starter {
	struct kt_fix_edu	*s;
	volatile int		stop;
	long			starts;
};

static void *start_thread(void *arg)
{
	struct starter *st = arg;

	while (!st->stop) {
		/* Ignored while the engine runs; refused while unmapped. */
		if (!dma_start(st->s, IOVA_LOW + 0xf80, EDU_BUF_START, 0x100, 0))
			st->starts++;
		usleep(500);
	}
	return NULL;
}

TEST_F(edu, unmap_races_dma_start_on_the_same_range)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap um = { .argsz = sizeof(um) };
	struct starter st = { .s = self };
	long locked0 = vm_locked_kb();
	pthread_t t;
	int i;

	ASSERT_GE(locked0, 0);
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)self->buf;
	map.iova = IOVA_LOW;
	map.size = BUF_PAGES * 4096;
	um.iova = IOVA_LOW;
	um.size = BUF_PAGES * 4096;

	ASSERT_EQ(pthread_create(&t, NULL, start_thread, &st), 0);
	for (i = 0; i < 40; i++) {
		usleep((i * 7919 % 23) * 1000);
		if (ioctl(self->container, VFIO_IOMMU_UNMAP_DMA, &um) ||
		    ioctl(self->container, VFIO_IOMMU_MAP_DMA, &map)) {
			KT_LOG("round %d: %s", i, strerror(errno));
			break;
		}
	}
	st.stop = 1;
	pthread_join(t, NULL);
	EXPECT_EQ(i, 40);
	KT_LOG("%ld starts, %ld started, %ld refused", st.starts, stat_of("dma_started"),
	       stat_of("dma_refused"));
	EXPECT_GT(stat_of("dma_started"), 2);

	/* Let the last transfer end, then unmap: nothing left. */
	for (i = 0; i < 100 && stat_of("dma_in_flight"); i++)
		usleep(50 * 1000);
	EXPECT_EQ(stat_of("dma_in_flight"), 0);
	ASSERT_OK(ioctl(self->container, VFIO_IOMMU_UNMAP_DMA, &um));
	EXPECT_EQ(stat_of("pages_pinned"), 0);
	EXPECT_EQ(domain_stat("mappings"), 0);
	EXPECT_EQ(domain_stat("held"), 0);
	EXPECT_EQ(vm_locked_kb(), locked0);
}

TEST_F(edu, hostile_requests)
{
	struct vfio_irq_set set = { .argsz = sizeof(set) };
	uint64_t v;

	/* Unknown index, bad action, bad region offsets. */
	set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.index = VFIO_PCI_MSIX_IRQ_INDEX;
	set.count = 1;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	set.index = VFIO_PCI_MSI_IRQ_INDEX;
	set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	set.argsz = 4;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	/* Eventfd or bool data announced, but no entry: no data to read. */
	set.argsz = sizeof(set);
	set.count = 0;
	set.index = VFIO_PCI_MSI_IRQ_INDEX;
	set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	set.index = VFIO_PCI_INTX_IRQ_INDEX;
	set.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	set.index = VFIO_PCI_REQ_IRQ_INDEX;
	set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	EXPECT_ERRNO(ioctl(self->device, VFIO_DEVICE_SET_IRQS, &set), EINVAL);
	EXPECT_ERRNO(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0),
		     EINVAL);	/* fd 0 is not an eventfd */
	EXPECT_ERRNO(pread(self->device, &v, 8, self->bar0_off + (1 << 20)), EINVAL);
	EXPECT_ERRNO(pread(self->device, &v, 8, (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40),
		     EINVAL);
	EXPECT_ERRNO(ioctl(self->device, _IO(VFIO_TYPE, VFIO_BASE + 60)), ENOTTY);

	/* Odd sizes the device does not decode read as all ones. */
	enable(self);
	EXPECT_EQ(bar_read(self, EDU_ID, 2), 0xffff);
	/* Outside the registers: refused, counted. */
	EXPECT_EQ(bar_read(self, 0x1000, 4), 0xffffffff);
	EXPECT_GE(stat_of("bar_refused"), 1);
}

struct writer {
	const char	*path;
	const char	*val;
	int		ret;
	volatile int	done;
};

static void *write_thread(void *arg)
{
	struct writer *w = arg;

	w->ret = kt_write_str(w->path, w->val);
	w->done = 1;
	return NULL;
}

/*
 * Removing the context, or unbinding the device, while the device is open
 * asks the user to release it through the request eventfd, and completes
 * once it has.
 */
static void release_on_request(struct kt_fix_edu *self, struct kt_ctx *_kt,
			       const char *path, const char *val)
{
	struct writer w = { .path = path, .val = val, .ret = -1 };
	int req = eventfd(0, EFD_NONBLOCK);
	pthread_t t;

	ASSERT_GE(req, 0);
	ASSERT_OK(set_irq(self, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, req));
	ASSERT_EQ(pthread_create(&t, NULL, write_thread, &w), 0);
	EXPECT_GE(wait_efd(req, 10000), 1);
	/* The removal waits for the user to release the device. */
	usleep(200 * 1000);
	EXPECT_EQ(w.done, 0);
	close(self->device);
	self->device = -1;
	pthread_join(t, NULL);
	EXPECT_EQ(w.ret, 0);
	EXPECT_NE(access("/sys/bus/mdev/devices/" UUID, F_OK), 0);
	close(req);
}

TEST_F(edu, context_removal_while_open)
{
	release_on_request(self, _kt, "/sys/bus/mdev/devices/" UUID "/remove", "1");
}

TEST_F(edu, unbind_while_open)
{
	char path[512];

	release_on_request(self, _kt, "/sys/bus/pci/drivers/kvm_assign/unbind", self->bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", self->bdf);
	EXPECT_NE(access(path, F_OK), 0);
}

TEST_F(edu, bar_mmap_only_where_no_register_is_trapped)
{
	volatile uint32_t *p;
	void *m;

	enable(self);
	/* The page of edu's registers (DMA ones among them) cannot be mapped. */
	EXPECT_TRUE(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->device,
			 self->bar0_off) == MAP_FAILED);
	EXPECT_TRUE(mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->device,
			 self->bar0_off) == MAP_FAILED);
	/* Beyond the BAR: refused. */
	EXPECT_TRUE(mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->device,
			 self->bar0_off + (1 << 20)) == MAP_FAILED);
	/* The next page maps the device directly (edu decodes nothing there). */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->device,
		 self->bar0_off + 4096);
	ASSERT_TRUE(m != MAP_FAILED);
	p = m;
	EXPECT_EQ(p[0], 0xffffffff);
	munmap(m, 4096);
}

/*
 * What `kvmio context` shows: the domain's mappings as VFIO made them, and
 * the context's interrupt entry as MSI programmed it.
 */
TEST_F(edu, introspection_mappings_and_interrupt_entry)
{
	char buf[4096], want[128], path[256], table[32], entry[32];
	char *line;
	int found = 0;

	/* The domain holds what DMA has needed so far, page by page, with the
	 * permissions the container grants. */
	ASSERT_OK(domain_listing("mapping_list", buf, sizeof(buf)));
	EXPECT_STREQ(buf, "");
	enable(self);
	ASSERT_OK(set_irq(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, self->efd));
	ASSERT_EQ(dma(self, IOVA_LOW, EDU_BUF_START, 0x80, 0), 0);
	ASSERT_EQ(dma(self, IOVA_RO, EDU_BUF_START, 0x80, 0), 0);
	ASSERT_OK(domain_listing("mapping_list", buf, sizeof(buf)));
	KT_LOG("mapping_list:\n%s", buf);
	snprintf(want, sizeof(want), "0x%llx-0x%llx rw 1\n", IOVA_LOW, IOVA_LOW + 4095);
	EXPECT_TRUE(strstr(buf, want) != NULL);
	snprintf(want, sizeof(want), "0x%llx-0x%llx r- 1", IOVA_RO, IOVA_RO + 4095);
	EXPECT_TRUE(strstr(buf, want) != NULL);

	/* Unmapping removes the line. */
	ASSERT_OK(kt_vfio_unmap(self->container, IOVA_RO, 4096, NULL));
	ASSERT_OK(domain_listing("mapping_list", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "0x%llx-", IOVA_RO);
	EXPECT_TRUE(strstr(buf, want) == NULL);

	ASSERT_OK(kt_read_str("/sys/bus/mdev/devices/" UUID "/kvm_assign/irq_table",
			      table, sizeof(table)));
	ASSERT_OK(kt_read_str("/sys/bus/mdev/devices/" UUID "/kvm_assign/irq_entry",
			      entry, sizeof(entry)));
	snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%s/entry_list", table);

	/* With MSI set up (above) the entry is present and checks edu's
	 * requester ID. */
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	KT_LOG("entry_list with MSI:\n%s", buf);
	{
		unsigned int bus, dev, fn;

		ASSERT_EQ(sscanf(self->bdf, "%*x:%x:%x.%x", &bus, &dev, &fn), 3);
		snprintf(want, sizeof(want), "%s P-- svt 1 sid 0x%04x ", entry,
			 bus << 8 | dev << 3 | fn);
		EXPECT_TRUE(strstr(buf, want) == buf);
	}
	/* Disabling MSI leaves the entry allocated but not present. */
	ASSERT_OK(set_irq_none(self, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0));
	ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
	KT_LOG("entry_list without MSI:\n%s", buf);
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		snprintf(want, sizeof(want), "%s --- ", entry);
		if (!strncmp(line, want, strlen(want)))
			found++;
	}
	EXPECT_EQ(found, 1);
}

/*
 * Unbinding gives the device back with the config space it came with:
 * kvm_assign's own changes (bus master cleared on release, MSI) undone.
 */
TEST(unbind_restores_config_space)
{
	char bdf[256], path[512];
	uint16_t before, mid, after;
	int fd;

	if (kt_find_pci("0x1234", "0x11e8", bdf, sizeof(bdf)))
		SKIP("no edu device (1234:11e8) in this VM");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	/* A distinctive starting state: memory decoding and bus master on. */
	ASSERT_EQ(pread(fd, &before, 2, PCI_COMMAND), 2);
	before |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(pwrite(fd, &before, 2, PCI_COMMAND), 2);

	ASSERT_OK(kt_bind_kvm_assign(bdf));
	ASSERT_EQ(pread(fd, &mid, 2, PCI_COMMAND), 2);
	EXPECT_TRUE(mid & PCI_COMMAND_MASTER);
	kt_unbind_kvm_assign(bdf);
	ASSERT_EQ(pread(fd, &after, 2, PCI_COMMAND), 2);
	KT_LOG("command register: before 0x%04x, bound 0x%04x, after 0x%04x", before, mid, after);
	EXPECT_EQ(after, before);

	/* It can be bound again, and released again. */
	EXPECT_OK(kt_bind_kvm_assign(bdf));
	kt_unbind_kvm_assign(bdf);
	before &= ~PCI_COMMAND_MASTER;
	ASSERT_EQ(pwrite(fd, &before, 2, PCI_COMMAND), 2);
	close(fd);
}

TEST_F(edu, unload_refused_while_open)
{
	EXPECT_ERRNO(syscall(SYS_delete_module, "kvm_assign", O_NONBLOCK), EWOULDBLOCK);
}

KT_MAIN()
