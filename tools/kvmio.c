// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio - control tool of the kvmio module suite.
 *
 *   kvmio status            which suite modules are loaded, their versions
 *                           and use counts
 *   kvmio devices           PCI devices, their drivers, and the kvm_assign
 *                           model that applies to each
 *   kvmio bind BDF          hand a device to kvm_assign (driver_override)
 *   kvmio unbind BDF        give it back to its default driver
 *   kvmio create BDF [UUID] create an assignment context (an mdev) on a
 *                           claimed device; prints its UUID and QEMU option
 *   kvmio remove UUID       remove a context
 *   kvmio contexts          kvm_assign contexts (mdevs): model, physical
 *                           device and statistics
 *   kvmio context UUID      one context in full
 *   kvmio e1000 UUID        an e1000 context's virtual NIC and counters
 *   kvmio sched show BDF|UUID
 *                           a shared NIC's scheduler knobs and counters and
 *                           one line per context
 *   kvmio sched set UUID KEY=VALUE...
 *                           a context's weight, rate_bytes, rate_packets,
 *                           trusted, allow_spoof, mac
 *   kvmio sched nic BDF KEY=VALUE...
 *                           a shared NIC's quantum, link_rate, ring_share
 *   kvmio blk-serve ...     vhost-user-blk server for QEMU whose data path
 *                           is /dev/vhost-blk (blk_bridge.c)
 *   kvmio version           the tool's version
 *
 * Exit status: 0 success, 1 failure (with a message on stderr), 2 usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvmio.h"

#define KVMIO_TOOL_VERSION "0.1.0"

static const char *const suite_modules[] = {
	"iommu_soft", "irq_remap", "vhost_blk", "kvm_assign",
};

static int read_sysfs(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

/* A hint after an error writing sysfs, for the common cause. */
static const char *hint(int err)
{
	if (err == -EACCES || err == -EPERM)
		return " (this needs root: CAP_SYS_ADMIN and write access to sysfs)";
	if (err == -EBUSY)
		return " (the device or context is in use)";
	return "";
}

static int cmd_status(void)
{
	char path[256], version[64], refcnt[32];
	unsigned int i;

	printf("%-12s %-8s %-8s %s\n", "MODULE", "STATE", "VERSION", "USERS");
	for (i = 0; i < sizeof(suite_modules) / sizeof(suite_modules[0]); i++) {
		const char *m = suite_modules[i];

		snprintf(path, sizeof(path), "/sys/module/%s/version", m);
		if (read_sysfs(path, version, sizeof(version)) < 0) {
			printf("%-12s %-8s %-8s %s\n", m, "absent", "-", "-");
			continue;
		}
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt", m);
		if (read_sysfs(path, refcnt, sizeof(refcnt)) < 0)
			strcpy(refcnt, "?");
		printf("%-12s %-8s %-8s %s\n", m, "loaded", version, refcnt);
	}
	return 0;
}

static int write_sysfs(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static int valid_bdf(const char *bdf)
{
	char path[300];

	if (strlen(bdf) > 32 || strchr(bdf, '/') || bdf[0] == '.')
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	return access(path, F_OK) == 0;
}

/* 8-4-4-4-12 hexadecimal digits, as mdev and libvirt write UUIDs */
static int valid_uuid(const char *uuid)
{
	unsigned int i;

	if (strlen(uuid) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (uuid[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)uuid[i])) {
			return 0;
		}
	}
	return 1;
}

static void current_driver(const char *bdf, char *out, size_t len)
{
	char path[300], link[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(out, len, "-");
		return;
	}
	link[n] = 0;
	snprintf(out, len, "%s", strrchr(link, '/') + 1);
}

/* The model kvm_assign has for vendor:device, from its driver's "models". */
static int model_for(const char *ids, char *out, size_t len)
{
	char line[128], name[64], vd[32];
	FILE *f = fopen("/sys/bus/pci/drivers/kvm_assign/models", "r");

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %31s", name, vd) == 2 && !strcmp(vd, ids)) {
			snprintf(out, len, "%s", name);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -ENODEV;
}

static int device_ids(const char *bdf, char *out, size_t len)
{
	char path[300], v[16], d[16];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
	if (read_sysfs(path, v, sizeof(v)) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
	if (read_sysfs(path, d, sizeof(d)) < 0)
		return -ENOENT;
	snprintf(out, len, "%s:%s", v + 2, d + 2);
	return 0;
}

static int cmd_devices(void)
{
	char ids[32], drv[64], model[64];
	struct dirent *e;
	int loaded = access("/sys/bus/pci/drivers/kvm_assign", F_OK) == 0;
	DIR *d = opendir("/sys/bus/pci/devices");

	if (!d) {
		fprintf(stderr, "kvmio: cannot list PCI devices: %s\n", strerror(errno));
		return 1;
	}
	printf("%-14s %-10s %-14s %s\n", "DEVICE", "ID", "DRIVER", "KVM_ASSIGN MODEL");
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || device_ids(e->d_name, ids, sizeof(ids)))
			continue;
		current_driver(e->d_name, drv, sizeof(drv));
		if (!loaded)
			snprintf(model, sizeof(model), "? (kvm_assign not loaded)");
		else if (model_for(ids, model, sizeof(model)))
			snprintf(model, sizeof(model), "none");
		printf("%-14s %-10s %-14s %s\n", e->d_name, ids, drv, model);
	}
	closedir(d);
	return 0;
}

static int cmd_bind(const char *bdf)
{
	char path[300], ids[32], model[64], drv[64];
	int err;

	if (!valid_bdf(bdf)) {
		fprintf(stderr, "kvmio: no PCI device %s\n", bdf);
		return 1;
	}
	if (access("/sys/bus/pci/drivers/kvm_assign", F_OK)) {
		fprintf(stderr, "kvmio: kvm_assign is not loaded (modprobe kvm_assign)\n");
		return 1;
	}
	device_ids(bdf, ids, sizeof(ids));
	if (model_for(ids, model, sizeof(model))) {
		fprintf(stderr, "kvmio: kvm_assign has no device model for %s (%s); see /sys/bus/pci/drivers/kvm_assign/models\n",
			bdf, ids);
		return 1;
	}
	current_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "kvm_assign")) {
		printf("%s is already bound to kvm_assign\n", bdf);
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	err = write_sysfs(path, "kvm_assign");
	if (err) {
		fprintf(stderr, "kvmio: cannot set driver_override of %s: %s%s\n", bdf,
			strerror(-err), hint(err));
		return 1;
	}
	if (strcmp(drv, "-")) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		err = write_sysfs(path, bdf);
		if (err) {
			fprintf(stderr, "kvmio: cannot unbind %s from %s: %s%s\n", bdf, drv,
				strerror(-err), hint(err));
			return 1;
		}
	}
	write_sysfs("/sys/bus/pci/drivers_probe", bdf);
	current_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "kvm_assign")) {
		fprintf(stderr, "kvmio: kvm_assign did not claim %s (see the kernel log)\n", bdf);
		return 1;
	}
	printf("%s (%s) bound to kvm_assign with the %s model\n", bdf, ids, model);
	return 0;
}

static int cmd_unbind(const char *bdf)
{
	char path[300], drv[64];
	int err;

	if (!valid_bdf(bdf)) {
		fprintf(stderr, "kvmio: no PCI device %s\n", bdf);
		return 1;
	}
	current_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "kvm_assign")) {
		fprintf(stderr, "kvmio: %s is not bound to kvm_assign (driver: %s)\n", bdf, drv);
		return 1;
	}
	/* Blocks while a VMM holds one of its contexts; it is asked to let go. */
	err = write_sysfs("/sys/bus/pci/drivers/kvm_assign/unbind", bdf);
	if (err) {
		fprintf(stderr, "kvmio: cannot unbind %s: %s%s\n", bdf, strerror(-err), hint(err));
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	write_sysfs(path, "\n");
	write_sysfs("/sys/bus/pci/drivers_probe", bdf);
	current_driver(bdf, drv, sizeof(drv));
	printf("%s released; now bound to: %s\n", bdf, drv);
	return 0;
}

static int cmd_create(const char *bdf, const char *uuid_arg)
{
	char path[512], uuid[64], drv[64], model[64], ids[32];
	int err;

	if (!valid_bdf(bdf)) {
		fprintf(stderr, "kvmio: no PCI device %s\n", bdf);
		return 1;
	}
	current_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "kvm_assign")) {
		fprintf(stderr, "kvmio: %s is not bound to kvm_assign (run: kvmio bind %s)\n",
			bdf, bdf);
		return 1;
	}
	device_ids(bdf, ids, sizeof(ids));
	if (model_for(ids, model, sizeof(model)))
		return 1;
	if (uuid_arg) {
		if (!valid_uuid(uuid_arg)) {
			fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid_arg);
			return 2;
		}
		snprintf(uuid, sizeof(uuid), "%s", uuid_arg);
	} else if (read_sysfs("/proc/sys/kernel/random/uuid", uuid, sizeof(uuid))) {
		fprintf(stderr, "kvmio: cannot generate a UUID\n");
		return 1;
	}
	snprintf(path, sizeof(path),
		 "/sys/bus/pci/devices/%s/mdev_supported_types/kvm_assign-%s/create", bdf, model);
	err = write_sysfs(path, uuid);
	if (err) {
		fprintf(stderr, "kvmio: cannot create a context on %s: %s%s\n", bdf,
			strerror(-err), err == -ENOSPC || err == -EUSERS ?
			" (no free context on this device)" : hint(err));
		return 1;
	}
	printf("%s\n", uuid);
	printf("QEMU: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s\n", uuid);
	return 0;
}

static int cmd_remove(const char *uuid)
{
	char path[512];
	int err;

	if (!valid_uuid(uuid)) {
		fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid);
		return 2;
	}
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", uuid);
	if (access(path, F_OK)) {
		fprintf(stderr, "kvmio: no context %s\n", uuid);
		return 1;
	}
	/* Blocks while a VMM holds it; it is asked to let go. */
	err = write_sysfs(path, "1");
	if (err) {
		fprintf(stderr, "kvmio: cannot remove %s: %s%s\n", uuid, strerror(-err), hint(err));
		return 1;
	}
	printf("context %s removed\n", uuid);
	return 0;
}

static const char *const ctx_stats[] = {
	"dma_started", "dma_refused", "pages_pinned", "irqs_delivered",
	"irqs_masked", "bar_reads", "bar_writes", "bar_refused",
	"config_writes_dropped", "resets", "iommu_domain", "irq_table", "irq_entry",
};

/* The context's iommu_soft domain: /sys/kernel/iommu_soft/domains/<id>/ */
static const char *const domain_stats[] = {
	"mappings", "pinned_pages", "translations", "bounced", "iotlb_hits",
	"iotlb_misses", "faults_not_present", "faults_no_read", "faults_no_write",
	"faults_beyond_width", "fault_overflow",
};

static const char *const e1000_stats[] = {
	"tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "rx_no_buffer",
	"rx_filtered", "rx_faults", "tx_faults", "tx_bad_desc", "tx_bad_ring",
	"regs_unknown", "irqs_raised",
};

/* The virtual NIC of an e1000 context: MAC, link, ring registers, counters. */
static int print_e1000(const char *uuid)
{
	char path[512], val[512];
	unsigned int i;

#define E1K_ATTR(name) (snprintf(path, sizeof(path), \
	"/sys/bus/mdev/devices/%s/e1000/%s", uuid, (name)), path)
	if (read_sysfs(E1K_ATTR("mac"), val, sizeof(val)) < 0)
		return -ENOENT;
	printf("  e1000 virtual NIC: MAC %s", val);
	if (read_sysfs(E1K_ATTR("link"), val, sizeof(val)) < 0)
		strcpy(val, "?");
	printf(", physical link %s\n", val);
	if (!read_sysfs(E1K_ATTR("regs"), val, sizeof(val)))
		printf("    %s\n", val);
	for (i = 0; i < sizeof(e1000_stats) / sizeof(e1000_stats[0]); i++) {
		if (read_sysfs(E1K_ATTR(e1000_stats[i]), val, sizeof(val)) < 0)
			strcpy(val, "?");
		printf("    %-20s %s\n", e1000_stats[i], val);
	}
#undef E1K_ATTR
	return 0;
}

/* Print a multi-line sysfs listing, indented, or "(none)". */
static void print_listing(const char *title, const char *path)
{
	char buf[8192], *line, *save = NULL;
	int err;

	err = read_sysfs(path, buf, sizeof(buf));
	printf("  %s:\n", title);
	if (err) {
		printf("    (unreadable: %s)\n", strerror(-err));
		return;
	}
	if (!buf[0]) {
		printf("    (none)\n");
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("    %s\n", line);
}

/*
 * One context: its model, device and counters, its iommu_soft domain's
 * counters; with @detail also the domain's mappings and fault log and the
 * context's interrupt table entry and the table's fault log.
 */
static void print_context(const char *uuid, bool detail)
{
	char path[512], val[64], model[64], phys[64], dom[32], table[32], entry[32];
	unsigned int i;

#define CTX_ATTR(name) (snprintf(path, sizeof(path), \
	"/sys/bus/mdev/devices/%s/kvm_assign/%s", uuid, (name)), path)
	if (read_sysfs(CTX_ATTR("model"), model, sizeof(model)) < 0)
		strcpy(model, "?");
	if (read_sysfs(CTX_ATTR("physical_device"), phys, sizeof(phys)) < 0)
		strcpy(phys, "?");
	printf("context %s: model %s on %s\n", uuid, model, phys);
	for (i = 0; i < sizeof(ctx_stats) / sizeof(ctx_stats[0]); i++) {
		if (read_sysfs(CTX_ATTR(ctx_stats[i]), val, sizeof(val)) < 0)
			strcpy(val, "?");
		printf("  %-22s %s\n", ctx_stats[i], val);
	}
	if (!strcmp(model, "e1000"))
		print_e1000(uuid);
	if (!read_sysfs(CTX_ATTR("iommu_domain"), dom, sizeof(dom))) {
		printf("  iommu_soft domain %s:\n", dom);
		for (i = 0; i < sizeof(domain_stats) / sizeof(domain_stats[0]); i++) {
			snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%s/%s",
				 dom, domain_stats[i]);
			if (read_sysfs(path, val, sizeof(val)) < 0)
				strcpy(val, "?");
			printf("    %-20s %s\n", domain_stats[i], val);
		}
		if (detail) {
			snprintf(path, sizeof(path),
				 "/sys/kernel/iommu_soft/domains/%s/mapping_list", dom);
			print_listing("domain mappings (iova range, perm, pages)", path);
			snprintf(path, sizeof(path),
				 "/sys/kernel/iommu_soft/domains/%s/fault_log", dom);
			print_listing("domain fault log (ns, reason, dir, ...)", path);
		}
	}
	if (detail && !read_sysfs(CTX_ATTR("irq_table"), table, sizeof(table)) &&
	    !read_sysfs(CTX_ATTR("irq_entry"), entry, sizeof(entry))) {
		char buf[8192], *line, *save = NULL;
		size_t n = strlen(entry);
		int shown = 0;

		/* The table is the device's; show this context's entry only. */
		printf("  interrupt entry %s of irq_remap table%s:\n", entry, table);
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%s/entry_list", table);
		if (!read_sysfs(path, buf, sizeof(buf))) {
			for (line = strtok_r(buf, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				if (!strncmp(line, entry, n) && line[n] == ' ') {
					printf("    %s\n", line);
					shown++;
				}
			}
		}
		if (!shown)
			printf("    (not allocated)\n");
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%s/fault_log", table);
		print_listing("interrupt fault log of the device (ns, reason, ...)", path);
	}
#undef CTX_ATTR
}

static bool is_ka_context(const char *uuid)
{
	char path[512], model[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/model", uuid);
	return !read_sysfs(path, model, sizeof(model));
}

static int cmd_contexts(void)
{
	struct dirent *e;
	int found = 0;
	DIR *d;

	d = opendir("/sys/bus/mdev/devices");
	if (!d) {
		printf("no mediated devices (is the mdev module loaded?)\n");
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !is_ka_context(e->d_name))
			continue;	/* another vendor driver's mdev */
		print_context(e->d_name, false);
		found++;
	}
	closedir(d);
	if (!found)
		printf("no kvm_assign contexts\n");
	return 0;
}

static int cmd_context(const char *uuid)
{
	if (!valid_uuid(uuid)) {
		fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid);
		return 2;
	}
	if (!is_ka_context(uuid)) {
		fprintf(stderr, "kvmio: no kvm_assign context %s\n", uuid);
		return 1;
	}
	print_context(uuid, true);
	return 0;
}

static int cmd_e1000(const char *uuid)
{
	if (!valid_uuid(uuid)) {
		fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid);
		return 2;
	}
	if (print_e1000(uuid)) {
		fprintf(stderr, "kvmio: no e1000 context %s\n", uuid);
		return 1;
	}
	return 0;
}

/*
 * kvmio sched: the context scheduler of a shared NIC (kvm_assign-e1000).
 * Knobs and counters are sysfs files: per NIC in
 * /sys/bus/pci/devices/<bdf>/kvm_assign_e1000/, per context in
 * /sys/bus/mdev/devices/<uuid>/e1000/ (Documentation/kvm_assign.rst,
 * "Sharing one NIC").
 */
#define NIC_SCHED_DIR "/sys/bus/pci/devices/%s/kvm_assign_e1000"
#define CTX_E1000_DIR "/sys/bus/mdev/devices/%s/e1000"

struct sched_knob {
	const char *name;
	const char *range;	/* said when the kernel refuses a value */
	enum { KNOB_NUM, KNOB_BOOL, KNOB_MAC } kind;
};

static const struct sched_knob ctx_knobs[] = {
	{ "weight", "1..100", KNOB_NUM },
	{ "rate_bytes", "bytes/s, 0 = no limit", KNOB_NUM },
	{ "rate_packets", "packets/s, 0 = no limit", KNOB_NUM },
	{ "trusted", "0 or 1", KNOB_BOOL },
	{ "allow_spoof", "0 or 1", KNOB_BOOL },
	{ "mac", "a unicast MAC, not another context's of the NIC", KNOB_MAC },
};

static const struct sched_knob nic_knobs[] = {
	{ "quantum", "64..65536 bytes", KNOB_NUM },
	{ "link_rate", "bytes/s, 0 = no limit", KNOB_NUM },
	{ "ring_share", "8..256 descriptors", KNOB_NUM },
};

static const char *const nic_sched_stats[] = {
	"quantum", "link_rate", "ring_share", "contexts", "ctx_switches",
	"ring_inflight", "ring_inflight_max", "rx_unknown_unicast", "tx_switched",
	"rx_filter",
};

/* Columns of a context's line: header, sysfs file. */
static const char *const ctx_sched_cols[][2] = {
	{ "WEIGHT", "weight" }, { "RATE_B", "rate_bytes" },
	{ "RATE_P", "rate_packets" }, { "TRUST", "trusted" },
	{ "SPOOF", "allow_spoof" }, { "TX_BYTES", "tx_bytes" },
	{ "RX_BYTES", "rx_bytes" }, { "TX_SWITCHED", "tx_switched" },
	{ "RX_SWITCHED", "rx_switched" }, { "TX_SPOOFED", "tx_spoofed" },
	{ "TX_THROTTLED", "tx_throttled" }, { "SCHED_WAIT_US", "sched_wait_us" },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Write @val to @path with one write(): the attribute's own errno. */
static int write_attr(const char *path, const char *val)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

static int valid_mac(const char *s)
{
	unsigned int i;

	if (strlen(s) != 17)
		return 0;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int valid_number(const char *s)
{
	if (!*s || strlen(s) > 20)
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return 0;
	}
	return 1;
}

/*
 * Checks every KEY=VALUE against @knobs before anything is written: a
 * usage error (exit 2) changes nothing.
 */
static int sched_check_args(int argc, char **argv, const struct sched_knob *knobs,
			    unsigned int nknobs, const char *what)
{
	unsigned int k;
	int i;

	if (argc < 1) {
		fprintf(stderr, "kvmio: sched %s: nothing to set (KEY=VALUE ...)\n", what);
		return 2;
	}
	for (i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t len = eq ? (size_t)(eq - argv[i]) : 0;

		for (k = 0; eq && k < nknobs; k++) {
			if (strlen(knobs[k].name) == len && !strncmp(argv[i], knobs[k].name, len))
				break;
		}
		if (!eq || k == nknobs) {
			fprintf(stderr, "kvmio: sched %s: '%s' is not KEY=VALUE with KEY one of:",
				what, argv[i]);
			for (k = 0; k < nknobs; k++)
				fprintf(stderr, " %s", knobs[k].name);
			fprintf(stderr, "\n");
			return 2;
		}
		eq++;
		if ((knobs[k].kind == KNOB_NUM && !valid_number(eq)) ||
		    (knobs[k].kind == KNOB_BOOL && strcmp(eq, "0") && strcmp(eq, "1")) ||
		    (knobs[k].kind == KNOB_MAC && !valid_mac(eq))) {
			fprintf(stderr, "kvmio: sched %s: bad value '%s' for %s (%s)\n",
				what, eq, knobs[k].name,
				knobs[k].kind == KNOB_MAC ? "XX:XX:XX:XX:XX:XX" : knobs[k].range);
			return 2;
		}
	}
	return 0;
}

static const struct sched_knob *knob_of(const char *arg, const struct sched_knob *knobs,
					unsigned int nknobs)
{
	size_t len = strchr(arg, '=') - arg;
	unsigned int k;

	for (k = 0; k < nknobs; k++) {
		if (strlen(knobs[k].name) == len && !strncmp(arg, knobs[k].name, len))
			return &knobs[k];
	}
	return NULL;
}

/* Writes the checked KEY=VALUE pairs into @dir in order; stops at an error. */
static int sched_apply(const char *dir, const char *who, int argc, char **argv,
		       const struct sched_knob *knobs, unsigned int nknobs)
{
	char path[512];
	int i, err;

	for (i = 0; i < argc; i++) {
		const struct sched_knob *kn = knob_of(argv[i], knobs, nknobs);
		const char *val = strchr(argv[i], '=') + 1;
		const char *why = "";

		snprintf(path, sizeof(path), "%s/%s", dir, kn->name);
		err = write_attr(path, val);
		if (!err) {
			printf("%s: %s=%s\n", who, kn->name, val);
			continue;
		}
		if (err == -ENOENT)
			why = " (this kvm_assign has no such knob: no NIC sharing in the loaded module?)";
		else if (err == -EINVAL || err == -ERANGE)
			why = kn->kind == KNOB_MAC ? " (not a valid unicast MAC)" : "";
		else if (err == -EADDRINUSE)
			why = " (another context of this NIC has that MAC)";
		else if (err == -EBUSY)
			why = kn->kind == KNOB_MAC ?
				" (the context is open: set its MAC before the VMM starts)" :
				" (the device or context is in use)";
		else
			why = hint(err);
		fprintf(stderr, "kvmio: cannot set %s=%s on %s (%s): %s%s", kn->name, val,
			who, path, strerror(-err), why);
		if ((err == -EINVAL || err == -ERANGE) && kn->kind != KNOB_MAC)
			fprintf(stderr, " (%s: %s)", kn->name, kn->range);
		if (i)
			fprintf(stderr, "; the %d setting(s) before it were applied", i);
		fprintf(stderr, "\n");
		return 1;
	}
	return 0;
}

/* The NIC (PCI name) of a kvm_assign context, or an error. */
static int nic_of_context(const char *uuid, char *bdf, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/physical_device",
		 uuid);
	return read_sysfs(path, bdf, len);
}

static void sched_ctx_line(const char *uuid, bool mark)
{
	char path[512], val[64];
	unsigned int i;

	snprintf(path, sizeof(path), CTX_E1000_DIR "/mac", uuid);
	if (read_sysfs(path, val, sizeof(val)))
		strcpy(val, "-");
	printf("%c%-36s %-17s", mark ? '*' : ' ', uuid, val);
	for (i = 0; i < ARRAY_LEN(ctx_sched_cols); i++) {
		snprintf(path, sizeof(path), CTX_E1000_DIR "/%s", uuid, ctx_sched_cols[i][1]);
		if (read_sysfs(path, val, sizeof(val)))
			strcpy(val, "-");
		printf(" %*s", (int)strlen(ctx_sched_cols[i][0]), val);
	}
	printf("\n");
}

static int cmd_sched_show(const char *arg)
{
	char bdf[64], path[512], val[64], ctxnic[64];
	const char *uuid = NULL;
	struct dirent *e;
	unsigned int i;
	int found = 0;
	DIR *d;

	if (valid_uuid(arg)) {
		uuid = arg;
		if (!is_ka_context(uuid)) {
			fprintf(stderr, "kvmio: no kvm_assign context %s\n", uuid);
			return 1;
		}
		if (nic_of_context(uuid, bdf, sizeof(bdf))) {
			fprintf(stderr, "kvmio: cannot read the device of context %s\n", uuid);
			return 1;
		}
	} else if (valid_bdf(arg)) {
		snprintf(bdf, sizeof(bdf), "%s", arg);
	} else {
		fprintf(stderr, "kvmio: '%s' is neither a PCI device nor a context UUID\n", arg);
		return 1;
	}
	snprintf(path, sizeof(path), NIC_SCHED_DIR, bdf);
	if (access(path, F_OK)) {
		fprintf(stderr, "kvmio: %s has no context scheduler (%s missing: not an e1000 bound to kvm_assign, or a kvm_assign without NIC sharing)\n",
			bdf, path);
		return 1;
	}
	printf("NIC %s:", bdf);
	for (i = 0; i < ARRAY_LEN(nic_sched_stats); i++) {
		snprintf(path, sizeof(path), NIC_SCHED_DIR "/%s", bdf, nic_sched_stats[i]);
		if (read_sysfs(path, val, sizeof(val)))
			strcpy(val, "-");
		printf("%s%s=%s", i % 5 ? " " : "\n  ", nic_sched_stats[i], val);
	}
	printf("\n %-36s %-17s", "CONTEXT", "MAC");
	for (i = 0; i < ARRAY_LEN(ctx_sched_cols); i++)
		printf(" %s", ctx_sched_cols[i][0]);
	printf("\n");
	d = opendir("/sys/bus/mdev/devices");
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !is_ka_context(e->d_name) ||
		    nic_of_context(e->d_name, ctxnic, sizeof(ctxnic)) || strcmp(ctxnic, bdf))
			continue;
		sched_ctx_line(e->d_name, uuid && !strcmp(uuid, e->d_name));
		found++;
	}
	if (d)
		closedir(d);
	if (!found)
		printf(" (no contexts)\n");
	return 0;
}

static int cmd_sched_set(const char *uuid, int argc, char **argv)
{
	char dir[512];
	int rc;

	if (!valid_uuid(uuid)) {
		fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid);
		return 2;
	}
	rc = sched_check_args(argc, argv, ctx_knobs, ARRAY_LEN(ctx_knobs), "set");
	if (rc)
		return rc;
	if (!is_ka_context(uuid)) {
		fprintf(stderr, "kvmio: no kvm_assign context %s\n", uuid);
		return 1;
	}
	snprintf(dir, sizeof(dir), CTX_E1000_DIR, uuid);
	if (access(dir, F_OK)) {
		fprintf(stderr, "kvmio: context %s is not an e1000 context (no %s)\n", uuid, dir);
		return 1;
	}
	return sched_apply(dir, uuid, argc, argv, ctx_knobs, ARRAY_LEN(ctx_knobs));
}

static int cmd_sched_nic(const char *bdf, int argc, char **argv)
{
	char dir[512];
	int rc;

	rc = sched_check_args(argc, argv, nic_knobs, ARRAY_LEN(nic_knobs), "nic");
	if (rc)
		return rc;
	if (!valid_bdf(bdf)) {
		fprintf(stderr, "kvmio: no PCI device %s\n", bdf);
		return 1;
	}
	snprintf(dir, sizeof(dir), NIC_SCHED_DIR, bdf);
	if (access(dir, F_OK)) {
		fprintf(stderr, "kvmio: %s has no context scheduler (%s missing: not an e1000 bound to kvm_assign, or a kvm_assign without NIC sharing)\n",
			bdf, dir);
		return 1;
	}
	return sched_apply(dir, bdf, argc, argv, nic_knobs, ARRAY_LEN(nic_knobs));
}

static int cmd_sched(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "show") && argc == 3)
		return cmd_sched_show(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "set"))
		return cmd_sched_set(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && !strcmp(argv[1], "nic"))
		return cmd_sched_nic(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: kvmio sched show BDF|UUID\n"
		"       kvmio sched set UUID KEY=VALUE...   (weight rate_bytes rate_packets trusted allow_spoof mac)\n"
		"       kvmio sched nic BDF KEY=VALUE...    (quantum link_rate ring_share)\n");
	return 2;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmio <command>\n"
		"  status                suite modules loaded, their versions and users\n"
		"  devices               PCI devices and the kvm_assign model for each\n"
		"  bind BDF              hand a device to kvm_assign\n"
		"  unbind BDF            give it back to its default driver\n"
		"  create BDF [UUID]     create an assignment context on a bound device\n"
		"  remove UUID           remove a context\n"
		"  contexts              kvm_assign contexts: model, device, statistics\n"
		"  context UUID          one context in full: statistics, DMA mappings,\n"
		"                        DMA fault log, interrupt entry, interrupt faults\n"
		"  e1000 UUID            an e1000 context's virtual NIC: MAC, link, ring\n"
		"                        registers, frame counters and drops\n"
		"  sched show BDF|UUID   a shared NIC's scheduler: its knobs and counters,\n"
		"                        one line per context (weight, rates, trust,\n"
		"                        spoofing, bytes, switched, spoofed, throttled, wait)\n"
		"  sched set UUID KEY=VALUE...\n"
		"                        a context's knobs: weight=1..100 rate_bytes=N\n"
		"                        rate_packets=N trusted=0|1 allow_spoof=0|1\n"
		"                        mac=XX:XX:XX:XX:XX:XX (while no VMM holds it)\n"
		"  sched nic BDF KEY=VALUE...\n"
		"                        a shared NIC's knobs: quantum=64..65536\n"
		"                        link_rate=N (bytes/s, 0 = none) ring_share=8..256\n"
		"  blk-serve --socket PATH --backend FILE|BLOCKDEV [--readonly] [--serial S]\n"
		"            [--queues N] [--poll-us N] [--once] [--verbose]\n"
		"                        vhost-user-blk server for QEMU; data path in /dev/vhost-blk\n"
		"  version               print the tool's version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status() ? 1 : 0;
	if (!strcmp(argv[1], "contexts"))
		return cmd_contexts() ? 1 : 0;
	if (!strcmp(argv[1], "context") && argc == 3)
		return cmd_context(argv[2]);
	if (!strcmp(argv[1], "e1000") && argc == 3)
		return cmd_e1000(argv[2]);
	if (!strcmp(argv[1], "sched"))
		return cmd_sched(argc - 1, argv + 1);
	if (!strcmp(argv[1], "blk-serve"))
		return cmd_blk_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "devices"))
		return cmd_devices();
	if (!strcmp(argv[1], "bind") && argc == 3)
		return cmd_bind(argv[2]);
	if (!strcmp(argv[1], "unbind") && argc == 3)
		return cmd_unbind(argv[2]);
	if (!strcmp(argv[1], "create") && (argc == 3 || argc == 4))
		return cmd_create(argv[2], argc == 4 ? argv[3] : NULL);
	if (!strcmp(argv[1], "remove") && argc == 3)
		return cmd_remove(argv[2]);
	if (!strcmp(argv[1], "version")) {
		printf("kvmio %s\n", KVMIO_TOOL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "kvmio: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
