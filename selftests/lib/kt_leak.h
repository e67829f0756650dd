/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_leak.h - counters that must come back to where they were once a test
 * has undone what it did: pins (the kernel's FOLL_PIN counters), locked
 * memory (VmLck), the suite's module reference counts, the objects each
 * module lists in sysfs (domains, tables, devices, contexts) and the
 * process's threads (vhost workers) and file descriptors.
 *
 *	struct kt_snap base, now;
 *
 *	kt_snap(&base);
 *	... set up, use and undo ...
 *	if (kt_snap_settle(&base, &now, 2000))	   (0: equal again)
 *		kt_snap_diff(&base, &now);	   (logs what differs)
 */
#ifndef _KT_LEAK_H
#define _KT_LEAK_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/iommu_soft.h>

#include "kt_sysfs.h"

#define KT_NR_MODS	4
static const char *const kt_mods[KT_NR_MODS] = {
	"iommu_soft", "irq_remap", "vhost_blk", "kvm_assign",
};

struct kt_snap {
	long long	foll_pins;	/* nr_foll_pin_acquired - _released */
	long		vmlck_kb;	/* this process's VmLck */
	long		refcnt[KT_NR_MODS];
	long long	is_domains;	/* iommu_soft module totals */
	long long	is_mappings;
	long long	is_pinned;
	int		ir_tables;	/* /sys/kernel/irq_remap/table* */
	int		vb_devs;	/* /sys/kernel/vhost_blk/ entries */
	int		mdevs;		/* /sys/bus/mdev/devices/ entries */
	int		threads;	/* /proc/self/task/ entries */
	int		fds;		/* /proc/self/fd/ entries */
};

static inline long long kt_vmstat(const char *name)
{
	char line[128];
	size_t l = strlen(name);
	long long v = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, l) && line[l] == ' ') {
			v = atoll(line + l + 1);
			break;
		}
	fclose(f);
	return v;
}

static inline long kt_vmlck_kb(void)
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

/*
 * The iommu_soft totals need a /dev/iommu_soft descriptor: opened once
 * (before the first snapshot, so that it is part of every one) and kept.
 */
static int kt_snap_isfd = -1;

static inline void kt_snap(struct kt_snap *s)
{
	struct iommu_soft_stats st;
	char path[128], buf[32];
	unsigned int i;

	memset(s, 0, sizeof(*s));
	/* fold the per-CPU vmstat deltas: /proc/vmstat is exact only then */
	kt_write_str("/proc/sys/vm/stat_refresh", "1");
	if (kt_snap_isfd < 0)
		kt_snap_isfd = open("/dev/iommu_soft", O_RDWR | O_CLOEXEC);
	s->foll_pins = kt_vmstat("nr_foll_pin_acquired") -
		       kt_vmstat("nr_foll_pin_released");
	s->vmlck_kb = kt_vmlck_kb();
	for (i = 0; i < KT_NR_MODS; i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt", kt_mods[i]);
		s->refcnt[i] = kt_read_str(path, buf, sizeof(buf)) ? -1 : atol(buf);
	}
	memset(&st, 0, sizeof(st));
	st.argsz = sizeof(st);
	if (kt_snap_isfd >= 0 && !ioctl(kt_snap_isfd, IOMMU_SOFT_GET_STATS, &st)) {
		s->is_domains = st.domains;
		s->is_mappings = st.mappings;
		s->is_pinned = st.pinned_pages;
	}
	s->ir_tables = kt_count_dir("/sys/kernel/irq_remap", "table");
	s->vb_devs = kt_count_dir("/sys/kernel/vhost_blk", "");
	s->mdevs = kt_count_dir("/sys/bus/mdev/devices", "");
	s->threads = kt_count_dir("/proc/self/task", "");
	s->fds = kt_count_dir("/proc/self/fd", "");
}

/* Logs every counter that differs; returns how many do. */
static inline int kt_snap_diff(const struct kt_snap *a, const struct kt_snap *b)
{
	unsigned int i;
	int n = 0;

#define KT_SNAP_CMP(f, what)						\
	do {								\
		if (a->f != b->f) {					\
			printf("# leak check: %s %lld -> %lld\n", what,	\
			       (long long)a->f, (long long)b->f);	\
			n++;						\
		}							\
	} while (0)
	KT_SNAP_CMP(foll_pins, "pinned pages (FOLL_PIN)");
	KT_SNAP_CMP(vmlck_kb, "VmLck kB");
	for (i = 0; i < KT_NR_MODS; i++)
		if (a->refcnt[i] != b->refcnt[i]) {
			printf("# leak check: %s refcnt %ld -> %ld\n", kt_mods[i],
			       a->refcnt[i], b->refcnt[i]);
			n++;
		}
	KT_SNAP_CMP(is_domains, "iommu_soft domains");
	KT_SNAP_CMP(is_mappings, "iommu_soft mappings");
	KT_SNAP_CMP(is_pinned, "iommu_soft pinned pages");
	KT_SNAP_CMP(ir_tables, "irq_remap tables");
	KT_SNAP_CMP(vb_devs, "vhost_blk devices");
	KT_SNAP_CMP(mdevs, "mdev devices");
	KT_SNAP_CMP(threads, "threads of this process");
	KT_SNAP_CMP(fds, "open file descriptors");
#undef KT_SNAP_CMP
	fflush(stdout);
	return n;
}

static inline int kt_snap_equal(const struct kt_snap *a, const struct kt_snap *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/*
 * Waits up to @ms for the counters to equal @base again (workers exit and
 * deferred releases run asynchronously); 0 if they do, -1 with @now
 * holding the last snapshot if not.
 */
static inline int kt_snap_settle(const struct kt_snap *base, struct kt_snap *now,
				 int ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	for (;;) {
		kt_snap(now);
		if (kt_snap_equal(base, now))
			return 0;
		if (ms <= 0)
			return -1;
		nanosleep(&ts, NULL);
		ms -= 20;
	}
}

#endif /* _KT_LEAK_H */
