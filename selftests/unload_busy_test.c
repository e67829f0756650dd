// SPDX-License-Identifier: GPL-2.0
/*
 * unload_busy_test - unloading a module of the suite while it is in use is
 * refused, and what uses it goes on unharmed; once everything is closed
 * the module unloads.
 *
 * For each module a user runs in a thread (vhost_blk: requests on a ring,
 * iommu_soft: DMA_RW through a domain with pinned pages, irq_remap:
 * interrupts raised through a programmed entry, kvm_assign: an open VFIO
 * context doing edu DMA) while the test asks delete_module(O_NONBLOCK) to
 * unload it, and its users: each attempt fails with EWOULDBLOCK (the
 * module is referenced) and the user's work stays correct.  Opening a new
 * instance while the attempts run still works.  Then the user closes, the
 * module unloads, and it is loaded again from the runner's path (the
 * runner and later tests expect the whole suite loaded).  Unloads and loads
 * happen with the other vCPUs offline: the test VM loads modules on one
 * vCPU (see selftests/vm/runner.sh).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/irq_remap.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "lib/iommu_soft_util.h"
#include "lib/virtq_driver.h"
#include "kvmio/edu.h"

#define ATTEMPTS	20

static const char *const suite[] = { "iommu_soft", "irq_remap", "vhost_blk", "kvm_assign" };
#define NSUITE	(sizeof(suite) / sizeof(suite[0]))

static bool mod_loaded(const char *m)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", m);
	return !access(path, F_OK);
}

static int try_unload(const char *m)
{
	return syscall(SYS_delete_module, m, O_NONBLOCK);
}

/* All vCPUs but the first offline (@on false) or online again. */
static void cpus_online(bool on)
{
	char path[96];
	int c;

	for (c = 1; c < 64; c++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", c);
		if (access(path, F_OK))
			break;
		kt_write_str(path, on ? "1" : "0");
	}
}

static int load(const char *m)
{
	struct utsname u;
	char cmd[256];

	uname(&u);
	snprintf(cmd, sizeof(cmd), "insmod /lib/modules/%s/extra/%s.ko", u.release, m);
	return system(cmd) ? -1 : 0;
}

/* Loads whatever of the suite is missing, in dependency order. */
static int restore_suite(void)
{
	unsigned int i;
	int ret = 0;

	cpus_online(false);
	for (i = 0; i < NSUITE; i++)
		if (!mod_loaded(suite[i]) && load(suite[i])) {
			printf("# could not load %s again\n", suite[i]);
			ret = -1;
		}
	cpus_online(true);
	return ret;
}

/*
 * Unload @m, idle now; 0 if it went.  The fixture's teardown loads it
 * back.
 */
static int unload_idle(struct kt_ctx *_kt, const char *m)
{
	int r;

	cpus_online(false);
	r = try_unload(m);
	if (r)
		KT_LOG("unloading idle %s: %s", m, strerror(errno));
	EXPECT_FALSE(mod_loaded(m));
	cpus_online(true);
	return r;
}

/*
 * @n attempts to unload @m, each refused with EWOULDBLOCK; each attempt
 * also on the modules that @m uses (@also, may be NULL).
 */
static void refused(struct kt_ctx *_kt, const char *m, const char *const *also)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	unsigned int i, j;

	for (i = 0; i < ATTEMPTS; i++) {
		EXPECT_ERRNO(try_unload(m), EWOULDBLOCK);
		for (j = 0; also && also[j]; j++)
			EXPECT_ERRNO(try_unload(also[j]), EWOULDBLOCK);
		EXPECT_TRUE(mod_loaded(m));
		nanosleep(&ts, NULL);
	}
}

FIXTURE(suite) { int dummy; };

FIXTURE_SETUP(suite)
{
	unsigned int i;

	for (i = 0; i < NSUITE; i++)
		if (!mod_loaded(suite[i]))
			SKIP("%s is not loaded", suite[i]);
}

FIXTURE_TEARDOWN(suite)
{
	if (restore_suite())
		_exit(KT_EXIT_FAIL);
}

/* ---- users running in a thread ---- */

struct user {
	pthread_t th;
	volatile bool stop;
	unsigned long rounds, errors;
	void *priv;
};

static void user_stop(struct user *u)
{
	u->stop = true;
	pthread_join(u->th, NULL);
}

/* ---- vhost_blk ---- */

#define GPA_BASE	0x100000000ULL
#define GMEM_SIZE	(1UL << 20)
#define QNUM		64

struct vdev {
	int fd, kick, call, err, img;
	uint8_t *mem;
	struct vqd q;
};

static int vdev_open(struct vdev *d, int backend)
{
	uint64_t feat = 1ULL << VIRTIO_F_VERSION_1;
	struct vhost_vring_state s = { .index = 0, .num = QNUM };
	struct vhost_vring_addr a = { .index = 0 };
	struct vhost_vring_file f = { .index = 0 };
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[1];
	} mt;

	memset(d, 0, sizeof(*d));
	d->fd = open("/dev/vhost-blk", O_RDWR | O_CLOEXEC);
	d->mem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (d->fd < 0 || d->mem == MAP_FAILED ||
	    vqd_init(&d->q, d->mem, GPA_BASE, GMEM_SIZE, 0, QNUM, false))
		return -1;
	d->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->err = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 1;
	mt.r[0].guest_phys_addr = GPA_BASE;
	mt.r[0].memory_size = GMEM_SIZE;
	mt.r[0].userspace_addr = (uintptr_t)d->mem;
	a.desc_user_addr = (uintptr_t)d->q.desc;
	a.avail_user_addr = (uintptr_t)d->q.avail;
	a.used_user_addr = (uintptr_t)d->q.used;
	if (ioctl(d->fd, VHOST_SET_OWNER) ||
	    ioctl(d->fd, VHOST_SET_FEATURES, &feat) ||
	    ioctl(d->fd, VHOST_SET_MEM_TABLE, &mt) ||
	    ioctl(d->fd, VHOST_SET_VRING_NUM, &s) ||
	    ioctl(d->fd, VHOST_SET_VRING_ADDR, &a))
		return -1;
	s.num = 0;
	if (ioctl(d->fd, VHOST_SET_VRING_BASE, &s))
		return -1;
	f.fd = d->kick;
	if (ioctl(d->fd, VHOST_SET_VRING_KICK, &f))
		return -1;
	f.fd = d->call;
	if (ioctl(d->fd, VHOST_SET_VRING_CALL, &f))
		return -1;
	f.fd = d->err;
	if (ioctl(d->fd, VHOST_SET_VRING_ERR, &f))
		return -1;
	f.fd = backend;
	return ioctl(d->fd, VHOST_BLK_SET_BACKEND, &f);
}

static void vdev_close(struct vdev *d)
{
	if (d->fd > 0)
		close(d->fd);
	if (d->kick > 0) {
		close(d->kick);
		close(d->call);
		close(d->err);
	}
	if (d->mem && d->mem != MAP_FAILED)
		munmap(d->mem, GMEM_SIZE);
	memset(d, 0, sizeof(*d));
}

/* 8 requests in flight: 4 writes of distinct blocks, then their reads. */
static int vdev_round(struct vdev *d, unsigned long round)
{
	struct virtio_blk_outhdr *h = (void *)(d->mem + 0x10000);
	uint8_t *st = d->mem + 0x11000, *data = d->mem + 0x20000;
	struct pollfd p = { .fd = d->call, .events = POLLIN };
	unsigned int i, done = 0, pass;
	uint64_t one = 1, v;
	int ms;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 8; i++) {
			uint32_t type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

			h[i].type = type;
			h[i].ioprio = 0;
			h[i].sector = (round % 64) * 64 + i * 8;
			st[i] = 0xee;
			if (!pass)
				memset(data + i * 4096, (int)(round + i), 4096);
			else
				memset(data + i * 4096, 0, 4096);
			if (vqd_add_blk(&d->q, &h[i], data + i * 4096, 4096, &st[i], NULL) < 0)
				return -1;
		}
		vqd_publish(&d->q);
		if (write(d->kick, &one, sizeof(one)) != sizeof(one))
			return -1;
		for (done = 0, ms = 20000; done < 8 && ms > 0;) {
			if (vqd_pop_used(&d->q, NULL, NULL) >= 0) {
				done++;
				continue;
			}
			if (poll(&p, 1, 10) > 0 && read(d->call, &v, sizeof(v)) < 0)
				return -1;
			ms -= 10;
		}
		if (done < 8)
			return -1;	/* a hang */
		for (i = 0; i < 8; i++)
			if (st[i] != VIRTIO_BLK_S_OK)
				return -1;
	}
	for (i = 0; i < 8 * 4096; i++)
		if (data[i] != (uint8_t)(round + i / 4096))
			return -1;
	return 0;
}

static void *vdev_user(void *p)
{
	struct user *u = p;

	while (!u->stop) {
		if (vdev_round(u->priv, u->rounds))
			u->errors++;
		u->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(suite, vhost_blk_busy, 300)
{
	char path[64];
	struct user u = { 0 };
	struct vdev d, d2;
	unsigned int i;
	int img;

	snprintf(path, sizeof(path), "/tmp/unload-%d.img", getpid());
	img = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(img, 0);
	ASSERT_OK(ftruncate(img, 4 << 20));
	ASSERT_OK(vdev_open(&d, img));
	u.priv = &d;
	ASSERT_EQ(pthread_create(&u.th, NULL, vdev_user, &u), 0);
	for (i = 0; i < 4; i++) {
		refused(_kt, "vhost_blk", NULL);
		/* a new device while the attempts run */
		EXPECT_OK(vdev_open(&d2, img));
		vdev_close(&d2);
	}
	user_stop(&u);
	KT_LOG("vhost_blk: %lu rounds of 8 writes + 8 reads during %u refused unloads, %lu failed",
	       u.rounds, 4 * ATTEMPTS, u.errors);
	EXPECT_GT(u.rounds, 0);
	EXPECT_EQ(u.errors, 0);
	vdev_close(&d);
	close(img);
	unlink(path);
	EXPECT_OK(unload_idle(_kt, "vhost_blk"));
	EXPECT_NE(access("/dev/vhost-blk", F_OK), 0);
}

/* ---- iommu_soft and irq_remap: kvm_assign (their user) unloaded first ---- */

struct isu {
	int fd;
	uint32_t id;
	uint8_t *buf;
};

static void *is_user(void *p)
{
	struct user *u = p;
	struct isu *s = u->priv;
	uint8_t out[8192], in[8192];

	while (!u->stop) {
		memset(out, (int)u->rounds, sizeof(out));
		if (dma_rw(s->fd, s->id, 0x100000 + (u->rounds % 8) * PG, out, sizeof(out), 1) ||
		    dma_rw(s->fd, s->id, 0x100000 + (u->rounds % 8) * PG, in, sizeof(in), 0) ||
		    memcmp(in, out, sizeof(in)))
			u->errors++;
		u->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(suite, iommu_soft_busy, 300)
{
	struct iommu_soft_stats st;
	struct user u = { 0 };
	struct isu s;
	int fd2;

	/* used by kvm_assign: refused for that reason alone */
	EXPECT_ERRNO(try_unload("iommu_soft"), EWOULDBLOCK);
	ASSERT_OK(unload_idle(_kt, "kvm_assign"));
	s.fd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	ASSERT_GE(s.fd, 0);
	ASSERT_OK(dom_create(s.fd, 48, &s.id));
	s.buf = pages(16);
	ASSERT_TRUE(s.buf != NULL);
	ASSERT_OK(do_map(s.fd, s.id, 0x100000, s.buf, 16 * PG,
			 IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE));
	u.priv = &s;
	ASSERT_EQ(pthread_create(&u.th, NULL, is_user, &u), 0);
	refused(_kt, "iommu_soft", NULL);
	fd2 = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	EXPECT_GE(fd2, 0);
	close(fd2);
	refused(_kt, "iommu_soft", NULL);
	user_stop(&u);
	KT_LOG("iommu_soft: %lu DMA_RW round trips during %u refused unloads, %lu failed",
	       u.rounds, 2 * ATTEMPTS, u.errors);
	EXPECT_GT(u.rounds, 0);
	EXPECT_EQ(u.errors, 0);
	ASSERT_OK(get_stats(s.fd, s.id, &st));
	EXPECT_EQ(st.pinned_pages, 16);
	close(s.fd);
	munmap(s.buf, 16 * PG);
	EXPECT_OK(unload_idle(_kt, "iommu_soft"));
	EXPECT_NE(access("/dev/iommu_soft", F_OK), 0);
}

struct iru {
	int fd, efd;
	uint32_t tid, h;
};

static void *ir_user(void *p)
{
	struct user *u = p;
	struct iru *s = u->priv;
	struct irq_remap_raise r = {
		.argsz = sizeof(r), .table_id = s->tid, .handle = s->h,
		.source = 0x0108, .count = 1,
	};
	uint64_t v;

	while (!u->stop) {
		r.delivered = 0;
		if (ioctl(s->fd, IRQ_REMAP_RAISE, &r) || r.delivered != 1 ||
		    read(s->efd, &v, sizeof(v)) != sizeof(v) || v != 1)
			u->errors++;
		u->rounds++;
	}
	return NULL;
}

TEST_F_TIMEOUT(suite, irq_remap_busy, 300)
{
	struct irq_remap_table_create t = {
		.argsz = sizeof(t), .requester_id = 0x0108, .nr_entries = 8,
	};
	struct irq_remap_entry_alloc a = { .argsz = sizeof(a) };
	struct irq_remap_entry_set e = {
		.argsz = sizeof(e), .flags = IRQ_REMAP_ENTRY_PRESENT,
		.resample_fd = -1, .svt = IRQ_REMAP_SVT_RID, .sid = 0x0108,
	};
	struct user u = { 0 };
	struct iru s;
	int fd2;

	EXPECT_ERRNO(try_unload("irq_remap"), EWOULDBLOCK);
	ASSERT_OK(unload_idle(_kt, "kvm_assign"));
	s.fd = open("/dev/irq_remap", O_RDWR | O_CLOEXEC);
	ASSERT_GE(s.fd, 0);
	s.efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(s.efd, 0);
	ASSERT_OK(ioctl(s.fd, IRQ_REMAP_TABLE_CREATE, &t));
	s.tid = t.table_id;
	a.table_id = s.tid;
	ASSERT_OK(ioctl(s.fd, IRQ_REMAP_ENTRY_ALLOC, &a));
	s.h = a.handle;
	e.table_id = s.tid;
	e.handle = s.h;
	e.eventfd = s.efd;
	ASSERT_OK(ioctl(s.fd, IRQ_REMAP_ENTRY_SET, &e));
	u.priv = &s;
	ASSERT_EQ(pthread_create(&u.th, NULL, ir_user, &u), 0);
	refused(_kt, "irq_remap", NULL);
	fd2 = open("/dev/irq_remap", O_RDWR | O_CLOEXEC);
	EXPECT_GE(fd2, 0);
	close(fd2);
	refused(_kt, "irq_remap", NULL);
	user_stop(&u);
	KT_LOG("irq_remap: %lu interrupts delivered during %u refused unloads, %lu failed",
	       u.rounds, 2 * ATTEMPTS, u.errors);
	EXPECT_GT(u.rounds, 0);
	EXPECT_EQ(u.errors, 0);
	close(s.efd);
	close(s.fd);
	EXPECT_OK(unload_idle(_kt, "irq_remap"));
	EXPECT_NE(access("/dev/irq_remap", F_OK), 0);
}

/* ---- kvm_assign: an open context doing DMA ---- */

#define KA_UUID		"5b2c1f6e-7a41-4e0b-9d1c-0000000b5e00"
#define KA_IOVA		0x00200000ULL

struct kau {
	char bdf[64];
	int container, group, device, msi;
	uint64_t cfg, bar0;
	uint8_t *buf;
};

static int bar_write(struct kau *k, unsigned int off, uint64_t v)
{
	return pwrite(k->device, &v, 8, k->bar0 + off) == 8 ? 0 : -1;
}

/* RAM -> edu -> RAM, 256 bytes, both completions awaited. */
static int ka_round(struct kau *k, unsigned long round)
{
	struct pollfd p = { .fd = k->msi, .events = POLLIN };
	unsigned int i, dir;
	uint64_t v;

	for (i = 0; i < 256; i++)
		k->buf[i] = (uint8_t)(round + i);
	memset(k->buf + 0x2000, 0, 256);
	for (dir = 0; dir < 2; dir++) {
		if (bar_write(k, EDU_DMA_SRC, dir ? EDU_BUF_START : KA_IOVA) ||
		    bar_write(k, EDU_DMA_DST, dir ? KA_IOVA + 0x2000 : EDU_BUF_START) ||
		    bar_write(k, EDU_DMA_CNT, 256) ||
		    bar_write(k, EDU_DMA_CMD, EDU_DMA_RUN | EDU_DMA_IRQ |
			      (dir ? EDU_DMA_TO_RAM : 0)))
			return -1;
		if (poll(&p, 1, 20000) != 1 || read(k->msi, &v, sizeof(v)) != sizeof(v))
			return -1;
		bar_write(k, EDU_IRQ_ACK, EDU_IRQ_DMA);
	}
	return memcmp(k->buf, k->buf + 0x2000, 256) ? -1 : 0;
}

static void *ka_user(void *p)
{
	struct user *u = p;

	while (!u->stop) {
		if (ka_round(u->priv, u->rounds))
			u->errors++;
		u->rounds++;
	}
	return NULL;
}

static int ka_open(struct kt_ctx *_kt, struct kau *k)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = KA_IOVA, .size = 4 * PG,
	};
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char b[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (void *)b;
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	char path[512], link[256];
	ssize_t n;

	ASSERT_OK(kt_bind_kvm_assign(k->bdf));
	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/mdev_supported_types/kvm_assign-edu/create",
		 k->bdf);
	ASSERT_OK(kt_write_str(path, KA_UUID));
	n = readlink("/sys/bus/mdev/devices/" KA_UUID "/iommu_group", link, sizeof(link) - 1);
	ASSERT_GT(n, 0);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	k->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	ASSERT_GE(k->container, 0);
	k->group = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_GE(k->group, 0);
	ASSERT_OK(ioctl(k->group, VFIO_GROUP_SET_CONTAINER, &k->container));
	ASSERT_OK(ioctl(k->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	k->device = ioctl(k->group, VFIO_GROUP_GET_DEVICE_FD, KA_UUID);
	ASSERT_GE(k->device, 0);
	k->buf = pages(4);
	ASSERT_TRUE(k->buf != NULL);
	map.vaddr = (uintptr_t)k->buf;
	ASSERT_OK(ioctl(k->container, VFIO_IOMMU_MAP_DMA, &map));
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_OK(ioctl(k->device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	k->cfg = ri.offset;
	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_OK(ioctl(k->device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	k->bar0 = ri.offset;
	ASSERT_EQ(pwrite(k->device, &cmd, 2, k->cfg + PCI_COMMAND), 2);
	k->msi = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_GE(k->msi, 0);
	set->argsz = sizeof(b);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSI_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &k->msi, sizeof(int));
	ASSERT_OK(ioctl(k->device, VFIO_DEVICE_SET_IRQS, set));
	return 0;
}

static void ka_close(struct kau *k)
{
	if (k->msi > 0)
		close(k->msi);
	if (k->device > 0)
		close(k->device);
	if (k->group > 0)
		close(k->group);
	if (k->container > 0)
		close(k->container);
	k->msi = k->device = k->group = k->container = 0;
	kt_write_str("/sys/bus/mdev/devices/" KA_UUID "/remove", "1");
	kt_unbind_kvm_assign(k->bdf);
}

TEST_F_TIMEOUT(suite, kvm_assign_busy, 400)
{
	static const char *const engines[] = { "iommu_soft", "irq_remap", NULL };
	struct user u = { 0 };
	unsigned int attempts = 0;
	struct kau k;

	memset(&k, 0, sizeof(k));
	if (kt_find_pci("0x1234", "0x11e8", k.bdf, sizeof(k.bdf)))
		SKIP("no edu device (1234:11e8) in this VM");
	ASSERT_EQ(system("modprobe vfio_iommu_type1"), 0);
	ka_open(_kt, &k);
	ASSERT_OK(ka_round(&k, 0));
	u.priv = &k;
	ASSERT_EQ(pthread_create(&u.th, NULL, ka_user, &u), 0);
	/* edu takes 100 ms of virtual time per transfer: a few rounds at least */
	do
		refused(_kt, "kvm_assign", engines);
	while (u.rounds < 4 && ++attempts < 25);
	user_stop(&u);
	KT_LOG("kvm_assign: %lu edu DMA round trips during %u refused unloads, %lu failed",
	       u.rounds, (attempts + 1) * ATTEMPTS, u.errors);
	EXPECT_GT(u.rounds, 0);
	EXPECT_EQ(u.errors, 0);
	ka_close(&k);
	munmap(k.buf, 4 * PG);
	EXPECT_OK(unload_idle(_kt, "kvm_assign"));
}

KT_MAIN()
