// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_vfio - a kvm_assign context (the VM's edu device) through VFIO,
 * as a hostile VMM would drive it.
 *
 * Set-up as selftests/kvm_assign_test.c does it: edu bound to kvm_assign,
 * a context created through mdev, opened through a type1 container and
 * its group, a buffer mapped read-write at two IOVAs and a read-only page
 * at a third.  Then two threads:
 *
 *  - the register thread: region reads and writes of random offsets and
 *    sizes (1, 2, 4, 8 and odd ones) on config space, BAR0 and every other
 *    region index, and hostile edu sequences: DMA source / destination /
 *    count / command in any order, starts while a transfer runs, raise and
 *    acknowledge, factorial, status;
 *  - the control thread: VFIO_DEVICE_SET_IRQS with random index, start,
 *    count, flags, eventfds and argsz, the info ioctls, reset, numbers near
 *    the valid ones, container DMA map / unmap (VFIO's unmap notification
 *    while a transfer may run), mmap of BAR pages, bus mastering and
 *    memory decoding toggled, and the device file closed and reopened.
 *
 * QEMU 7.2's edu aborts the whole VM when a DMA's device-side range is not
 * strictly inside its buffer at 0x40000..0x41000, and the kvm_assign model
 * refuses such a transfer before it reaches the device (model_edu.c).  By
 * default the fuzzer does not rely on that: it never starts a transfer
 * whose device side (read back from the model's registers just before the
 * start, under a lock that also holds off reset and reopen) lies outside,
 * never lets a region write carry the start bit to the command register
 * otherwise, and never writes to a mapping of the register page.  With
 * --wild it starts any transfer, trusting the model: a VM that dies then
 * is a finding (QEMU's "edu: DMA range" message on the host).
 *
 * --arg takes a comma-separated list, to look past findings until they are
 * fixed: "noforge" keeps the EDU_IRQ_DMA bit out of what is written to the
 * raise register (a guest that raises it fakes a DMA completion, which the
 * model takes for the real one); "noshare" gives INTx unmask eventfds of
 * their own, never one that is also a trigger (a delivery then runs the
 * unmask handler inside its own signal, under the irq_remap table lock);
 * "nounmap" and "noreset" leave out container unmaps and resets / reopens.
 *
 * Findings: an mmap of the register page or beyond the BAR that succeeds,
 * identification or vendor / device IDs that read back wrong, a transfer
 * the model started although its device side was outside the buffer
 * (dma_started moved), and a domain or interrupt table left behind once
 * the context is gone.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/vfio.h>
#include <linux/pci_regs.h>

#include "fuzz.h"
#include "../lib/kt_sysfs.h"
#include "../lib/kt_vfio.h"
#include "kvmio/edu.h"

#define UUID		"5b2c1f6e-7a41-4e0b-9d1c-0000000f0220"
#define TYPE		"kvm_assign-edu"
#define IOVA_RW		0x10000000ULL
#define IOVA_LOW	0x00200000ULL
#define IOVA_RO		0x00300000ULL
#define BUF_PAGES	4
#define NEFD		4
#define REGION(i)	((uint64_t)(i) << 40)	/* vfio-pci's region offsets */

static char bdf[64];
static int container = -1, group = -1;
static int device = -1;			/* replaced under edu_lock */
static uint8_t *buf, *ro;
static int efd[NEFD];
static struct fuzz_ptrs ptrs;
/* Held around "check the DMA registers, then start", reset and reopen. */
static pthread_mutex_t edu_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t starts_checked, starts_held_back, mmaps_ok;
static bool noforge, noshare;	/* --arg noforge,noshare */
static bool nounmap, noreset;	/* --arg nounmap,noreset: bisecting a hang */

#define LD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

static long ctx_stat(const char *name)
{
	char path[256], b[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/%s", UUID, name);
	if (kt_read_str(path, b, sizeof(b)))
		return -1;
	return atol(b);
}

static int setup(void)
{
	if (kt_find_pci("0x1234", "0x11e8", bdf, sizeof(bdf)))
		fuzz_skip("no edu device (1234:11e8) in this VM");
	if (system("modprobe vfio_iommu_type1"))
		return -1;
	if (kt_bind_kvm_assign(bdf) || kt_mdev_create(bdf, TYPE, UUID) ||
	    kt_vfio_open_mdev(UUID, VFIO_TYPE1v2_IOMMU, &container, &group, &device))
		return -1;
	buf = mmap(NULL, BUF_PAGES * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || ro == MAP_FAILED)
		return -1;
	memset(buf, 0, BUF_PAGES * 4096);
	memset(ro, 0x5a, 2 * 4096);
	if (kt_vfio_map(container, buf, IOVA_RW, BUF_PAGES * 4096,
			VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) ||
	    kt_vfio_map(container, buf, IOVA_LOW, BUF_PAGES * 4096,
			VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return -1;
	return kt_vfio_map(container, ro, IOVA_RO, 4096, VFIO_DMA_MAP_FLAG_READ);
}

static void teardown(void)
{
	kt_vfio_close(&container, &group, &device);
	kt_mdev_remove(UUID);
	kt_unbind_kvm_assign(bdf);
}

static int rd(int fd, uint64_t off, void *v, size_t size)
{
	return pread(fd, v, size, off) == (ssize_t)size ? 0 : -1;
}

static int wr(int fd, uint64_t off, const void *v, size_t size)
{
	return pwrite(fd, v, size, off) == (ssize_t)size ? 0 : -1;
}

/* A device-side range edu accepts: strictly inside its buffer. */
static bool dev_range_ok(uint64_t a, uint64_t cnt)
{
	return cnt && a >= EDU_BUF_START && cnt < EDU_BUF_SIZE &&
	       a + cnt < EDU_BUF_START + EDU_BUF_SIZE;
}

static uint64_t pick_dev_addr(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 6)) {
	case 0: return fuzz_int(r, EDU_BUF_START);
	case 1: return EDU_BUF_START + EDU_BUF_SIZE - fuzz_below(r, 16);
	case 2: return EDU_BUF_START - fuzz_below(r, 16);
	default: return EDU_BUF_START + fuzz_below(r, EDU_BUF_SIZE);
	}
}

static uint64_t pick_iova(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 7)) {
	case 0: return fuzz_int(r, IOVA_RW);
	case 1: return IOVA_RO + fuzz_below(r, 4096);
	case 2: return IOVA_LOW + fuzz_below(r, BUF_PAGES * 4096 + 64);
	case 3: return IOVA_RW + BUF_PAGES * 4096 - fuzz_below(r, 4096);
	default: return IOVA_RW + fuzz_below(r, BUF_PAGES * 4096);
	}
}

/*
 * Start a transfer as the guest would, after writing the DMA registers in
 * a random way.  Constrained: the device side is read back from the model
 * first and the start withheld when edu would abort.
 */
static void edu_dma(struct fuzz_rng *r, unsigned int tid)
{
	uint64_t bar = REGION(VFIO_PCI_BAR0_REGION_INDEX);
	uint64_t v, src, dst, cnt, cmd, started0, started1;
	bool to_ram = fuzz_below(r, 2);
	int fd;

	fz_cur[tid] = "edu DMA";
	fd = LD(device);
	v = to_ram ? pick_dev_addr(r) : pick_iova(r);
	if (fuzz_below(r, 4))
		wr(fd, bar + EDU_DMA_SRC, &v, fuzz_one_in(r, 3) ? 4 : 8);
	v = to_ram ? pick_iova(r) : pick_dev_addr(r);
	if (fuzz_below(r, 4))
		wr(fd, bar + EDU_DMA_DST, &v, fuzz_one_in(r, 3) ? 4 : 8);
	v = fuzz_one_in(r, 4) ? fuzz_int(r, 64) : 1 + fuzz_below(r, 4096);
	if (fuzz_below(r, 4))
		wr(fd, bar + EDU_DMA_CNT, &v, fuzz_one_in(r, 3) ? 4 : 8);
	cmd = EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0) |
	      (fuzz_below(r, 4) ? EDU_DMA_IRQ : 0) | (fuzz_one_in(r, 8) ? fuzz_next(r) : 0);

	pthread_mutex_lock(&edu_lock);
	fd = LD(device);
	src = dst = cnt = 0;
	if (rd(fd, bar + EDU_DMA_SRC, &src, 8) || rd(fd, bar + EDU_DMA_DST, &dst, 8) ||
	    rd(fd, bar + EDU_DMA_CNT, &cnt, 8)) {
		pthread_mutex_unlock(&edu_lock);
		fz_cur[tid] = NULL;
		return;
	}
	/* the model answers all ones with memory decoding off */
	if (!fz.wild && !dev_range_ok(cmd & EDU_DMA_TO_RAM ? src : dst, cnt)) {
		starts_held_back++;
		pthread_mutex_unlock(&edu_lock);
		fz_cur[tid] = NULL;
		return;
	}
	started0 = ctx_stat("dma_started");
	wr(fd, bar + EDU_DMA_CMD, &cmd, fuzz_one_in(r, 3) ? 4 : 8);
	started1 = ctx_stat("dma_started");
	starts_checked++;
	if (fz.wild && !dev_range_ok(cmd & EDU_DMA_TO_RAM ? src : dst, cnt) &&
	    started1 != started0)
		fuzz_finding("the model started a transfer with device side %#llx count %#llx (outside 0x40000..0x41000)",
			     (unsigned long long)(cmd & EDU_DMA_TO_RAM ? src : dst),
			     (unsigned long long)cnt);
	pthread_mutex_unlock(&edu_lock);
	if (fuzz_one_in(r, 4))
		usleep(fuzz_below(r, 200000));	/* edu takes 100 ms of virtual time */
	fz_cur[tid] = NULL;
}

/* A region access of any kind; BAR0 writes never carry the start bit. */
static void region_rw(struct fuzz_rng *r, unsigned int tid, bool writes)
{
	static const size_t sizes[] = { 1, 2, 4, 8, 1, 2, 4, 8, 3, 16, 64 };
	uint8_t data[64] __attribute__((aligned(8)));
	unsigned int idx;
	uint64_t off;
	size_t size = sizes[fuzz_below(r, sizeof(sizes) / sizeof(sizes[0]))];
	int fd = LD(device);

	switch (fuzz_below(r, 10)) {
	case 0: idx = fuzz_below(r, 10); break;
	case 1: case 2: case 3: idx = VFIO_PCI_CONFIG_REGION_INDEX; break;
	default: idx = VFIO_PCI_BAR0_REGION_INDEX; break;
	}
	switch (fuzz_below(r, 6)) {
	case 0: off = fuzz_int(r, 0x100); break;
	case 1: off = fuzz_below(r, 2 << 20); break;
	case 2: off = (1 << 20) - fuzz_below(r, 16); break;
	default: off = fuzz_below(r, 0x110); break;
	}
	if (fuzz_one_in(r, 2))
		off &= ~(uint64_t)(size - 1 < 8 ? size - 1 : 7);
	fuzz_fill(r, data, sizeof(data));
	fz_cur[tid] = writes ? "region write" : "region read";
	if (!writes || fuzz_one_in(r, 2)) {
		rd(fd, REGION(idx) + off, data, size);
	} else {
		if (idx == VFIO_PCI_BAR0_REGION_INDEX && !fz.wild &&
		    off <= EDU_DMA_CMD && off + size > EDU_DMA_CMD)
			data[EDU_DMA_CMD - off] &= ~EDU_DMA_RUN;
		if (idx == VFIO_PCI_BAR0_REGION_INDEX && noforge &&
		    off <= EDU_IRQ_RAISE + 1 && off + size > EDU_IRQ_RAISE + 1)
			data[EDU_IRQ_RAISE + 1 - off] &= ~(EDU_IRQ_DMA >> 8);
		if (idx == VFIO_PCI_CONFIG_REGION_INDEX && off == PCI_COMMAND && fuzz_below(r, 2))
			data[0] |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		wr(fd, REGION(idx) + off, data, size);
	}
	fz_cur[tid] = NULL;
}

/* Hostile but legitimate edu register sequences. */
static void edu_regs(struct fuzz_rng *r, unsigned int tid)
{
	uint64_t bar = REGION(VFIO_PCI_BAR0_REGION_INDEX);
	uint32_t v;
	int fd = LD(device);

	fz_cur[tid] = "edu registers";
	switch (fuzz_below(r, 6)) {
	case 0:
		v = fuzz_next(r);
		if (noforge)
			v &= ~EDU_IRQ_DMA;
		wr(fd, bar + EDU_IRQ_RAISE, &v, 4);
		break;
	case 1:
		v = fuzz_one_in(r, 2) ? ~0U : fuzz_next(r);
		wr(fd, bar + EDU_IRQ_ACK, &v, 4);
		break;
	case 2:
		v = fuzz_below(r, 20);
		wr(fd, bar + EDU_FACTORIAL, &v, 4);
		break;
	case 3:
		v = fuzz_below(r, 2) ? 0x80 : fuzz_next(r);
		wr(fd, bar + EDU_STATUS, &v, 4);
		break;
	case 4:
		if (!rd(fd, bar + EDU_ID, &v, 4) && v != 0x010000ed && v != 0xffffffff)
			fuzz_finding("edu identification read %#x", v);
		break;
	default: {
		uint16_t id[2];

		if (!rd(fd, REGION(VFIO_PCI_CONFIG_REGION_INDEX), id, 4) &&
		    (id[0] != 0x1234 || id[1] != 0x11e8))
			fuzz_finding("config space IDs read %04x:%04x", id[0], id[1]);
		break;
	}
	}
	fz_cur[tid] = NULL;
}

static void set_irqs(struct fuzz_rng *r, unsigned int tid)
{
	uint8_t b[sizeof(struct vfio_irq_set) + 64 * sizeof(int)] __attribute__((aligned(8)));
	struct vfio_irq_set *s = (void *)b;
	static const uint32_t data[] = {
		VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
	};
	static const uint32_t action[] = {
		VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER,
	};
	unsigned int i, n;
	int *fds = (int *)s->data;

	memset(b, 0, sizeof(b));
	s->index = fuzz_one_in(r, 8) ? fuzz_int(r, 4) :
		   (fuzz_below(r, 2) ? VFIO_PCI_MSI_IRQ_INDEX :
		    fuzz_below(r, 2) ? VFIO_PCI_INTX_IRQ_INDEX : fuzz_below(r, VFIO_PCI_NUM_IRQS));
	s->start = fuzz_one_in(r, 6) ? fuzz_int(r, 0) : 0;
	s->count = fuzz_one_in(r, 6) ? fuzz_int(r, 1) : fuzz_below(r, 3);
	s->flags = data[fuzz_below(r, 3)] | action[fuzz_below(r, 3)];
	if (fuzz_one_in(r, 10))
		s->flags |= 1U << fuzz_below(r, 32);
	n = s->count < 64 ? s->count : 64;
	for (i = 0; i < n; i++) {
		if (s->flags & VFIO_IRQ_SET_DATA_BOOL)
			s->data[i] = fuzz_below(r, 2);
		else if (noshare)	/* triggers 0, 1; unmask 2, 3 */
			fds[i] = fuzz_one_in(r, 4) ? -1 :
				 LD(efd[fuzz_below(r, 2) + ((s->flags & VFIO_IRQ_SET_ACTION_UNMASK) ? 2 : 0)]);
		else
			fds[i] = fuzz_one_in(r, 4) ? -1 : fuzz_one_in(r, 8) ? (int)fuzz_int(r, 3) :
				 LD(efd[fuzz_below(r, NEFD)]);
	}
	s->argsz = sizeof(*s) + (s->flags & VFIO_IRQ_SET_DATA_EVENTFD ? 4 * n :
				 s->flags & VFIO_IRQ_SET_DATA_BOOL ? n : 0);
	if (fuzz_one_in(r, 8))
		s->argsz = fuzz_int(r, s->argsz);
	fz_cur[tid] = "SET_IRQS";
	ioctl(LD(device), VFIO_DEVICE_SET_IRQS,
	      fuzz_one_in(r, 20) ? (void *)(uintptr_t)fuzz_ptr(r, &ptrs, sizeof(*s)) : s);
	fz_cur[tid] = NULL;
}

static void info_ioctls(struct fuzz_rng *r, unsigned int tid)
{
	uint8_t b[1024] __attribute__((aligned(8)));
	uint32_t *hdr = (uint32_t *)b;
	unsigned long cmd;
	int fd = LD(device);

	memset(b, 0, sizeof(b));
	switch (fuzz_below(r, 7)) {
	case 0:
		cmd = VFIO_DEVICE_GET_INFO;
		hdr[0] = sizeof(struct vfio_device_info);
		break;
	case 1: {
		struct vfio_region_info *ri = (void *)b;

		cmd = VFIO_DEVICE_GET_REGION_INFO;
		ri->argsz = fuzz_below(r, 2) ? sizeof(*ri) : fuzz_below(r, sizeof(b) + 1);
		ri->index = fuzz_one_in(r, 6) ? fuzz_int(r, 9) : fuzz_below(r, 10);
		break;
	}
	case 2: {
		struct vfio_irq_info *ii = (void *)b;

		cmd = VFIO_DEVICE_GET_IRQ_INFO;
		ii->argsz = fuzz_below(r, 2) ? sizeof(*ii) : fuzz_below(r, 64);
		ii->index = fuzz_one_in(r, 6) ? fuzz_int(r, 5) : fuzz_below(r, 6);
		break;
	}
	case 3:
		cmd = VFIO_DEVICE_GET_PCI_HOT_RESET_INFO;
		hdr[0] = fuzz_below(r, 2) ? sizeof(struct vfio_pci_hot_reset_info) : fuzz_below(r, 512);
		break;
	case 4:
		cmd = VFIO_DEVICE_FEATURE;
		hdr[0] = sizeof(struct vfio_device_feature) + fuzz_below(r, 64);
		hdr[1] = fuzz_one_in(r, 2) ? VFIO_DEVICE_FEATURE_PROBE | fuzz_below(r, 16) :
			 (uint32_t)fuzz_next(r);
		break;
	case 5:
		cmd = VFIO_DEVICE_IOEVENTFD;
		hdr[0] = sizeof(struct vfio_device_ioeventfd);
		hdr[1] = fuzz_below(r, 32);
		break;
	default:
		/* numbers near the valid ones */
		cmd = _IO(VFIO_TYPE, VFIO_BASE + fuzz_below(r, 40));
		if (cmd == VFIO_DEVICE_RESET || cmd == VFIO_DEVICE_PCI_HOT_RESET ||
		    cmd == VFIO_DEVICE_SET_IRQS)
			return;
		hdr[0] = fuzz_int(r, 16);
		break;
	}
	fz_cur[tid] = "device info ioctl";
	ioctl(fd, cmd, fuzz_one_in(r, 20) ? (void *)(uintptr_t)fuzz_ptr(r, &ptrs, 64) : b);
	fz_cur[tid] = NULL;
}

static void container_dma(struct fuzz_rng *r, unsigned int tid)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap un = { .argsz = sizeof(un) };
	uint64_t iovas[] = { IOVA_RW, IOVA_LOW, IOVA_RO };
	unsigned int k = fuzz_below(r, 3);

	fz_cur[tid] = "container map/unmap";
	un.iova = fuzz_one_in(r, 6) ? pick_iova(r) & ~4095ULL : iovas[k];
	un.size = fuzz_one_in(r, 6) ? fuzz_int(r, 4096) : k == 2 ? 4096 : BUF_PAGES * 4096;
	ioctl(container, VFIO_IOMMU_UNMAP_DMA, &un);
	if (fuzz_one_in(r, 4))
		usleep(fuzz_below(r, 50000));
	map.iova = iovas[k];
	map.vaddr = k == 2 ? (uintptr_t)ro : (uintptr_t)buf;
	map.size = k == 2 ? 4096 : BUF_PAGES * 4096;
	map.flags = k == 2 ? VFIO_DMA_MAP_FLAG_READ :
		    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	if (fuzz_one_in(r, 5))
		map.flags = fuzz_below(r, 4);
	if (fuzz_one_in(r, 8))
		map.vaddr = fuzz_ptr(r, &ptrs, 4096) & ~4095ULL;
	ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
	fz_cur[tid] = NULL;
}

static void bar_mmap(struct fuzz_rng *r, unsigned int tid)
{
	uint64_t page = fuzz_one_in(r, 3) ? 0 : fuzz_one_in(r, 4) ? 256 + fuzz_below(r, 4) :
			1 + fuzz_below(r, 255);
	size_t len = 4096 * (1 + (fuzz_one_in(r, 4) ? fuzz_below(r, 4) : 0));
	uint8_t *m;

	fz_cur[tid] = "mmap BAR0";
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, LD(device),
		 REGION(VFIO_PCI_BAR0_REGION_INDEX) + page * 4096);
	if (m != MAP_FAILED) {
		mmaps_ok++;
		if (page == 0)
			fuzz_finding("the register page of BAR0 could be mmapped");
		else if (page * 4096 + len > (1 << 20))
			fuzz_finding("BAR0 could be mmapped beyond its end (page %llu, %zu bytes)",
				     (unsigned long long)page, len);
		else	/* edu decodes nothing there */
			m[fuzz_below(r, len)] = fuzz_next(r);
		munmap(m, len);
	}
	fz_cur[tid] = NULL;
}

/* Reset, or the device file closed and opened again, mid-transfer. */
static void reset_reopen(struct fuzz_rng *r, unsigned int tid)
{
	int nfd, old;

	pthread_mutex_lock(&edu_lock);
	if (fuzz_below(r, 3)) {
		fz_cur[tid] = "VFIO_DEVICE_RESET";
		ioctl(LD(device), VFIO_DEVICE_RESET);
	} else {
		fz_cur[tid] = "reopen the device";
		/* one open at a time: close first (mdev refuses a second) */
		old = LD(device);
		close(old);
		nfd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, UUID);
		if (nfd >= 0 && nfd != old) {
			dup2(nfd, old);
			close(nfd);
		} else if (nfd < 0) {
			fuzz_finding("the context could not be opened again: %s", strerror(errno));
		}
	}
	pthread_mutex_unlock(&edu_lock);
	fz_cur[tid] = NULL;
}

static void *reg_thread(void *arg)
{
	unsigned int tid = (uintptr_t)arg;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };

	while (fuzz_tick()) {
		unsigned int k = fuzz_below(&r, 100);

		if (k < 20)
			edu_dma(&r, tid);
		else if (k < 70)
			region_rw(&r, tid, true);
		else
			edu_regs(&r, tid);
	}
	return NULL;
}

static void *ctl_thread(void *arg)
{
	unsigned int tid = (uintptr_t)arg;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };
	uint64_t v;
	int i;

	while (fuzz_tick()) {
		unsigned int k = fuzz_below(&r, 100);

		if (k < 30)
			set_irqs(&r, tid);
		else if (k < 50)
			info_ioctls(&r, tid);
		else if (k < 60) {
			if (!nounmap)
				container_dma(&r, tid);
		}
		else if (k < 66)
			bar_mmap(&r, tid);
		else if (k < 70) {
			if (!noreset)
				reset_reopen(&r, tid);
		}
		else if (k < 90)
			region_rw(&r, tid, false);
		else
			for (i = 0; i < NEFD; i++)
				if (read(LD(efd[i]), &v, 8) < 0)
					continue;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	int domains0, tables0, domains1 = 0, tables1 = 0, i, tries;

	fz.threads = 2;
	fuzz_init(argc, argv, "fuzz_vfio");
	noforge = fz.arg && strstr(fz.arg, "noforge");
	noshare = fz.arg && strstr(fz.arg, "noshare");
	nounmap = fz.arg && strstr(fz.arg, "nounmap");
	noreset = fz.arg && strstr(fz.arg, "noreset");
	if (access("/sys/bus/pci/drivers/kvm_assign", F_OK))
		fuzz_skip("kvm_assign not loaded");
	if (fuzz_ptrs_init(&ptrs))
		fuzz_skip("mmap failed");
	domains0 = kt_count_dir("/sys/kernel/iommu_soft/domains", "");
	tables0 = kt_count_dir("/sys/kernel/irq_remap", "table");
	if (setup()) {
		fuzz_finding("set-up of the context failed: %s", strerror(errno));
		teardown();
		return fuzz_finish();
	}
	for (i = 0; i < NEFD; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fuzz_log("edu %s, context " UUID "%s%s%s", bdf,
		 fz.wild ? ", wild: transfers started whatever their device side" : "",
		 noforge ? ", no forged DMA completions" : "",
		 noshare ? ", unmask eventfds of their own" : "");

	pthread_create(&th[0], NULL, reg_thread, (void *)0UL);
	pthread_create(&th[1], NULL, ctl_thread, (void *)1UL);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	fuzz_log("starts: %llu issued, %llu held back (device side outside the buffer); %llu BAR mmaps; context: dma_started %ld dma_refused %ld bar_refused %ld config_writes_dropped %ld resets %ld",
		 (unsigned long long)starts_checked, (unsigned long long)starts_held_back,
		 (unsigned long long)mmaps_ok, ctx_stat("dma_started"), ctx_stat("dma_refused"),
		 ctx_stat("bar_refused"), ctx_stat("config_writes_dropped"), ctx_stat("resets"));
	fz_cur[0] = "tear-down (close, remove, unbind)";
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
	fz_cur[0] = NULL;
	return fuzz_finish();
}
