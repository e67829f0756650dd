// SPDX-License-Identifier: GPL-2.0
/*
 * edu_bench - what mediation costs, seen by a VFIO client of an edu device.
 *
 *   edu_bench --mdev UUID | --pci BDF [--rounds N] [--label NAME]
 *             [--irq-name PATTERN]
 *
 * Opens the device through a type1 container as QEMU does (an mdev of
 * kvm_assign, or a function bound to vfio-pci behind a hardware IOMMU),
 * enables MSI with an eventfd, and measures:
 *   irq_rt   interrupt round trip: write the raise register, wait for the
 *            eventfd, acknowledge (all through the VFIO region);
 *   reg_rd   one register read through the VFIO region (pread);
 *   reg_wr   one register write through the VFIO region (pwrite).
 * Prints one line: "BENCH <label> irq_rt_us=<median> irq_rt_p90_us=...
 * reg_rd_us=<median> reg_wr_us=<median> rounds=N cpu=C irq_cpu=I", where
 * C is the CPU the client ran on and I the CPU that handled most of the
 * device's interrupts during the round trips (the /proc/interrupts line
 * containing PATTERN; -1 without --irq-name).  Not a test: it asserts
 * nothing about time.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>
#include <linux/pci_regs.h>

static int container, group, device;
static uint64_t cfg_off, bar_off;

static void die(const char *what)
{
	fprintf(stderr, "edu_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[(int)(p * (n - 1))];
}

static void open_device(const char *group_link, const char *name)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char link[256], path[300];
	ssize_t n;

	n = readlink(group_link, link, sizeof(link) - 1);
	if (n < 0)
		die(group_link);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		die("open container/group");
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		die("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU");
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
	if (device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("config region");
	cfg_off = ri.offset;
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("BAR0 region");
	bar_off = ri.offset;
}

static void bar_write(unsigned int off, uint32_t v)
{
	if (pwrite(device, &v, 4, bar_off + off) != 4)
		die("BAR write");
}

static uint32_t bar_read(unsigned int off)
{
	uint32_t v;

	if (pread(device, &v, 4, bar_off + off) != 4)
		die("BAR read");
	return v;
}

#define MAX_CPUS 64

/* Per-CPU counts of the /proc/interrupts line containing @pat; CPUs seen. */
static int irq_counts(const char *pat, unsigned long long *cnt)
{
	char line[1024], *p, *end;
	int ncpu = 0, n;
	FILE *f;

	memset(cnt, 0, MAX_CPUS * sizeof(*cnt));
	f = fopen("/proc/interrupts", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!ncpu) {	/* header: CPU0 CPU1 ... */
			for (p = line; (p = strstr(p, "CPU")); p += 3)
				ncpu++;
			continue;
		}
		if (!strstr(line, pat))
			continue;
		p = strchr(line, ':');
		for (n = 0; p && n < ncpu && n < MAX_CPUS; n++) {
			cnt[n] = strtoull(p + 1, &end, 10);
			p = end;
		}
		break;
	}
	fclose(f);
	return ncpu < MAX_CPUS ? ncpu : MAX_CPUS;
}

int main(int argc, char **argv)
{
	const char *mdev = NULL, *pci = NULL, *label = "edu", *irq_name = NULL;
	unsigned long long c0[MAX_CPUS], c1[MAX_CPUS], best = 0;
	int ncpu = 0, irq_cpu = -1;
	char b[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (void *)b;
	char link[300];
	int rounds = 2000, i, efd;
	double *rt, *rd, *wr, t0;
	uint16_t cmd;
	uint64_t cnt;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mdev") && i + 1 < argc)
			mdev = argv[++i];
		else if (!strcmp(argv[i], "--pci") && i + 1 < argc)
			pci = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--label") && i + 1 < argc)
			label = argv[++i];
		else if (!strcmp(argv[i], "--irq-name") && i + 1 < argc)
			irq_name = argv[++i];
		else {
			fprintf(stderr, "usage: edu_bench --mdev UUID | --pci BDF [--rounds N] [--label L] [--irq-name PATTERN]\n");
			return 2;
		}
	}
	if (!!mdev == !!pci || rounds < 10)
		return 2;
	if (mdev) {
		snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", mdev);
		open_device(link, mdev);
	} else {
		snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", pci);
		open_device(link, pci);
	}

	cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(device, &cmd, 2, cfg_off + PCI_COMMAND) != 2)
		die("command register");
	efd = eventfd(0, 0);
	set->argsz = sizeof(b);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &efd, sizeof(efd));
	if (ioctl(device, VFIO_DEVICE_SET_IRQS, set))
		die("VFIO_DEVICE_SET_IRQS (MSI)");
	if (bar_read(0) != 0x010000ed)
		die("not an edu device");

	rt = calloc(rounds, sizeof(*rt));
	rd = calloc(rounds, sizeof(*rd));
	wr = calloc(rounds, sizeof(*wr));
	if (irq_name)
		irq_counts(irq_name, c0);
	for (i = 0; i < rounds + 50; i++) {	/* 50 rounds of warm-up */
		struct pollfd p = { .fd = efd, .events = POLLIN };

		t0 = now_us();
		bar_write(0x60, 0x40000000);
		if (poll(&p, 1, 5000) != 1) {
			fprintf(stderr, "edu_bench: interrupt %d lost\n", i);
			return 1;
		}
		if (read(efd, &cnt, sizeof(cnt)) != sizeof(cnt))
			die("eventfd read");
		bar_write(0x64, 0x40000000);
		if (i >= 50)
			rt[i - 50] = now_us() - t0;
	}
	if (irq_name)
		ncpu = irq_counts(irq_name, c1);
	for (i = 0; i < ncpu; i++) {
		if (c1[i] - c0[i] > best) {
			best = c1[i] - c0[i];
			irq_cpu = i;
		}
	}
	for (i = 0; i < rounds; i++) {
		t0 = now_us();
		bar_read(0x04);
		rd[i] = now_us() - t0;
		t0 = now_us();
		bar_write(0x04, i);
		wr[i] = now_us() - t0;
	}
	printf("BENCH %s irq_rt_us=%.1f irq_rt_p90_us=%.1f reg_rd_us=%.2f reg_wr_us=%.2f rounds=%d cpu=%d irq_cpu=%d\n",
	       label, pct(rt, rounds, 0.5), pct(rt, rounds, 0.9), pct(rd, rounds, 0.5),
	       pct(wr, rounds, 0.5), rounds, sched_getcpu(), irq_cpu);
	return 0;
}
