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
 *   kvmio restore           bind the devices "bind --persist" recorded
 *   kvmio version           the tool's version
 *   kvmio help [COMMAND]    usage, of one command or all
 *
 * --json (before or after the command) makes status, devices, contexts,
 * context, e1000, sched show, create and version print one JSON document.
 * --help or -h after any command prints its usage.  The command table at
 * the end drives dispatch, argument counts and help; tools/kvmio.8 is the
 * manual page.
 *
 * Exit status: 0 success, 1 failure (with a message on stderr), 2 usage.
 */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kvmio.h"

#define KVMIO_TOOL_VERSION "0.1.0"
#define KVMIO_CONF_DIR "/etc/kvmio"
#define BIND_CONF KVMIO_CONF_DIR "/bind.conf"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool json;	/* --json: one JSON document on stdout */

/*
 * A small JSON writer for --json.  Keys and values are written in order;
 * j_open()/j_close() nest objects and arrays, a comma goes before every
 * member but the first of each level.  Strings are escaped as RFC 8259
 * asks (quote, backslash, control characters).
 */
#define J_DEPTH 8
static struct {
	int depth;
	bool first[J_DEPTH];
	bool after_key;
} jw;

static void j_sep(void)
{
	if (jw.after_key) {
		jw.after_key = false;
		return;
	}
	if (jw.depth && !jw.first[jw.depth - 1])
		putchar(',');
	if (jw.depth)
		jw.first[jw.depth - 1] = false;
}

static void j_quote(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void j_open(char c)
{
	j_sep();
	putchar(c);
	if (jw.depth < J_DEPTH)
		jw.first[jw.depth] = true;
	jw.depth++;
}

static void j_close(char c)
{
	jw.depth--;
	putchar(c);
	if (!jw.depth)
		putchar('\n');
}

static void j_key(const char *k)
{
	j_sep();
	j_quote(k);
	putchar(':');
	jw.after_key = true;
}

static void j_str(const char *v)
{
	j_sep();
	if (v)
		j_quote(v);
	else
		fputs("null", stdout);
}

static void j_bool(bool v)
{
	j_sep();
	fputs(v ? "true" : "false", stdout);
}

/* A decimal integer as a number, anything else as a string, NULL as null. */
static void j_val(const char *v)
{
	const char *p = v;

	if (p && *p == '-')
		p++;
	if (p && *p && strlen(p) < 20 && strspn(p, "0123456789") == strlen(p) &&
	    (p[0] != '0' || !p[1])) {
		j_sep();
		fputs(v, stdout);
		return;
	}
	j_str(v);
}

static void j_kstr(const char *k, const char *v)
{
	j_key(k);
	j_str(v);
}

static void j_kval(const char *k, const char *v)
{
	j_key(k);
	j_val(v);
}

/* A multi-line sysfs listing as an array of its lines. */
static void j_lines(const char *k, char *buf)
{
	char *line, *save = NULL;

	j_key(k);
	if (!buf) {
		j_str(NULL);
		return;
	}
	j_open('[');
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		j_str(line);
	j_close(']');
}

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

static int cmd_status(int argc, char **argv)
{
	char path[256], version[64], refcnt[32];
	unsigned int i;

	(void)argc;
	(void)argv;
	if (json) {
		j_open('{');
		j_key("modules");
		j_open('[');
	} else {
		printf("%-12s %-8s %-8s %s\n", "MODULE", "STATE", "VERSION", "USERS");
	}
	for (i = 0; i < ARRAY_LEN(suite_modules); i++) {
		const char *m = suite_modules[i];
		bool loaded, users;

		snprintf(path, sizeof(path), "/sys/module/%s/version", m);
		loaded = !read_sysfs(path, version, sizeof(version));
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt", m);
		users = loaded && !read_sysfs(path, refcnt, sizeof(refcnt));
		if (json) {
			j_open('{');
			j_kstr("name", m);
			j_key("loaded");
			j_bool(loaded);
			j_kstr("version", loaded ? version : NULL);
			j_kval("users", users ? refcnt : NULL);
			j_close('}');
		} else {
			printf("%-12s %-8s %-8s %s\n", m, loaded ? "loaded" : "absent",
			       loaded ? version : "-", !loaded ? "-" : users ? refcnt : "?");
		}
	}
	if (json) {
		j_close(']');
		j_close('}');
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

static int cmd_devices(int argc, char **argv)
{
	char ids[32], drv[64], model[64];
	struct dirent *e;
	int loaded = access("/sys/bus/pci/drivers/kvm_assign", F_OK) == 0;
	DIR *d = opendir("/sys/bus/pci/devices");

	(void)argc;
	(void)argv;
	if (!d) {
		fprintf(stderr, "kvmio: cannot list PCI devices: %s\n", strerror(errno));
		return 1;
	}
	if (json) {
		j_open('{');
		j_key("kvm_assign_loaded");
		j_bool(loaded);
		j_key("devices");
		j_open('[');
	} else {
		printf("%-14s %-10s %-14s %s\n", "DEVICE", "ID", "DRIVER", "KVM_ASSIGN MODEL");
	}
	while ((e = readdir(d))) {
		bool has_model;

		if (e->d_name[0] == '.' || device_ids(e->d_name, ids, sizeof(ids)))
			continue;
		current_driver(e->d_name, drv, sizeof(drv));
		has_model = loaded && !model_for(ids, model, sizeof(model));
		if (json) {
			j_open('{');
			j_kstr("device", e->d_name);
			j_kstr("id", ids);
			j_kstr("driver", strcmp(drv, "-") ? drv : NULL);
			/* null: no model, or kvm_assign not loaded (see above) */
			j_kstr("model", has_model ? model : NULL);
			j_close('}');
			continue;
		}
		if (!loaded)
			snprintf(model, sizeof(model), "? (kvm_assign not loaded)");
		else if (!has_model)
			snprintf(model, sizeof(model), "none");
		printf("%-14s %-10s %-14s %s\n", e->d_name, ids, drv, model);
	}
	closedir(d);
	if (json) {
		j_close(']');
		j_close('}');
	}
	return 0;
}

static int bind_one(const char *bdf)
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

static int unbind_one(const char *bdf)
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

/*
 * Persistent bindings: BIND_CONF lists one PCI name a line ('#' comments);
 * "kvmio restore" binds each at boot (tools/systemd/kvmio-bind.service),
 * after which mdevctl's udev rule starts the contexts defined on it.
 * KVMIO_CONF_DIR in the environment replaces /etc/kvmio (tests).
 */
static const char *conf_path(char *buf, size_t len)
{
	const char *dir = getenv("KVMIO_CONF_DIR");

	snprintf(buf, len, "%s/bind.conf", dir && *dir ? dir : KVMIO_CONF_DIR);
	return buf;
}

/* The BDF of a line of BIND_CONF, or NULL for a blank or comment line. */
static const char *conf_word(const char *line, char *w, size_t len)
{
	size_t n;

	line += strspn(line, " \t");
	n = strcspn(line, " \t\n#");
	if (!n || n >= len)
		return NULL;
	memcpy(w, line, n);
	w[n] = 0;
	return w;
}

/* Adds @bdf to BIND_CONF or removes it; the file is replaced atomically. */
static int persist_edit(const char *bdf, bool add)
{
	char path[512], tmp[520], line[256], w[64], *slash;
	bool found = false;
	FILE *in, *out;
	int err = 0;

	conf_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	slash = strrchr(path, '/');
	if (slash) {
		*slash = 0;
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	in = fopen(path, "r");
	if (!in && errno != ENOENT)
		return -errno;
	if (!in && !add)
		return 0;
	out = fopen(tmp, "w");
	if (!out) {
		err = -errno;
		if (in)
			fclose(in);
		return err;
	}
	if (!in)
		fputs("# PCI devices bound to kvm_assign at boot by \"kvmio restore\"\n"
		      "# (kvmio-bind.service); edited by \"kvmio bind|unbind --persist\".\n", out);
	while (in && fgets(line, sizeof(line), in)) {
		if (conf_word(line, w, sizeof(w)) && !strcmp(w, bdf)) {
			found = true;
			if (!add)
				continue;
		}
		fputs(line, out);
	}
	if (add && !found)
		fprintf(out, "%s\n", bdf);
	if (in)
		fclose(in);
	if (fclose(out) || rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
	}
	return err;
}

/* The BDF of "CMD BDF", "CMD --persist BDF" or "CMD BDF --persist"; NULL: usage. */
static const char *persist_arg(int argc, char **argv)
{
	if (argc == 2)
		return argv[1][0] == '-' ? NULL : argv[1];
	if (!strcmp(argv[1], "--persist") && argv[2][0] != '-')
		return argv[2];
	if (!strcmp(argv[2], "--persist") && argv[1][0] != '-')
		return argv[1];
	return NULL;
}

/* kvmio bind [--persist] BDF */
static int cmd_bind(int argc, char **argv)
{
	bool persist = argc == 3;
	const char *bdf;
	char path[512];
	int rc, err;

	bdf = persist_arg(argc, argv);
	if (!bdf)
		return -2;
	rc = bind_one(bdf);
	if (rc || !persist)
		return rc;
	err = persist_edit(bdf, true);
	if (err) {
		fprintf(stderr, "kvmio: %s is bound, but cannot record it in %s: %s%s\n", bdf,
			conf_path(path, sizeof(path)), strerror(-err), hint(err));
		return 1;
	}
	printf("%s recorded in %s: bound again at boot (kvmio restore)\n", bdf,
	       conf_path(path, sizeof(path)));
	return 0;
}

/* kvmio unbind [--persist] BDF: --persist also forgets it */
static int cmd_unbind(int argc, char **argv)
{
	bool persist = argc == 3;
	const char *bdf;
	char path[512], drv[64];
	int err;

	bdf = persist_arg(argc, argv);
	if (!bdf)
		return -2;
	if (persist) {
		err = persist_edit(bdf, false);
		if (err) {
			fprintf(stderr, "kvmio: cannot edit %s: %s%s\n",
				conf_path(path, sizeof(path)), strerror(-err), hint(err));
			return 1;
		}
		printf("%s removed from %s\n", bdf, conf_path(path, sizeof(path)));
		current_driver(bdf, drv, sizeof(drv));
		if (strcmp(drv, "kvm_assign"))
			return 0;
	}
	return unbind_one(bdf);
}

/* kvmio restore: bind every device of BIND_CONF; 1 if any failed */
static int cmd_restore(int argc, char **argv)
{
	char path[512], line[256], w[64];
	int rc = 0, n = 0;
	FILE *f;

	(void)argc;
	(void)argv;
	f = fopen(conf_path(path, sizeof(path)), "r");
	if (!f) {
		if (errno == ENOENT) {
			printf("nothing to restore (no %s)\n", path);
			return 0;
		}
		fprintf(stderr, "kvmio: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!conf_word(line, w, sizeof(w)))
			continue;
		n++;
		if (bind_one(w))
			rc = 1;
	}
	fclose(f);
	if (!n)
		printf("nothing to restore (%s lists no device)\n", path);
	return rc;
}

/* The <hostdev> element libvirt needs for context @uuid, indented by @ind. */
static void print_hostdev(const char *uuid, const char *ind)
{
	printf("%s<hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n"
	       "%s  <source>\n"
	       "%s    <address uuid='%s'/>\n"
	       "%s  </source>\n"
	       "%s</hostdev>\n", ind, ind, ind, uuid, ind, ind);
}

static int cmd_create(int argc, char **argv)
{
	char path[512], uuid[64], drv[64], model[64], ids[96];
	const char *bdf = argv[1], *uuid_arg = argc == 3 ? argv[2] : NULL;
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
	if (json) {
		char xml[512];

		snprintf(xml, sizeof(xml), "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='%s'/></source></hostdev>",
			 uuid);
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
		j_open('{');
		j_kstr("uuid", uuid);
		j_kstr("device", bdf);
		j_kstr("model", model);
		snprintf(ids, sizeof(ids), "kvm_assign-%s", model);
		j_kstr("type", ids);
		j_kstr("sysfsdev", path);
		j_kstr("libvirt_hostdev", xml);
		j_close('}');
		return 0;
	}
	printf("%s\n", uuid);
	printf("QEMU: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s\n", uuid);
	printf("libvirt (virsh edit, inside <devices>):\n");
	print_hostdev(uuid, "  ");
	return 0;
}

static int cmd_remove(int argc, char **argv)
{
	const char *uuid = argv[1];
	char path[512];
	int err;

	(void)argc;
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
	char path[512], mac[64], link[64], regs[512], val[64];
	bool has_link, has_regs;
	unsigned int i;

#define E1K_ATTR(name) (snprintf(path, sizeof(path), \
	"/sys/bus/mdev/devices/%s/e1000/%s", uuid, (name)), path)
	if (read_sysfs(E1K_ATTR("mac"), mac, sizeof(mac)) < 0)
		return -ENOENT;
	has_link = !read_sysfs(E1K_ATTR("link"), link, sizeof(link));
	has_regs = !read_sysfs(E1K_ATTR("regs"), regs, sizeof(regs));
	if (json) {
		j_open('{');
		j_kstr("mac", mac);
		j_kstr("link", has_link ? link : NULL);
		j_kstr("regs", has_regs ? regs : NULL);
		j_key("stats");
		j_open('{');
	} else {
		printf("  e1000 virtual NIC: MAC %s, physical link %s\n", mac,
		       has_link ? link : "?");
		if (has_regs)
			printf("    %s\n", regs);
	}
	for (i = 0; i < ARRAY_LEN(e1000_stats); i++) {
		bool ok = !read_sysfs(E1K_ATTR(e1000_stats[i]), val, sizeof(val));

		if (json)
			j_kval(e1000_stats[i], ok ? val : NULL);
		else
			printf("    %-20s %s\n", e1000_stats[i], ok ? val : "?");
	}
	if (json) {
		j_close('}');
		j_close('}');
	}
#undef E1K_ATTR
	return 0;
}

/* Print a multi-line sysfs listing, indented, or "(none)"; JSON: lines. */
static void print_listing(const char *key, const char *title, const char *path)
{
	char buf[8192], *line, *save = NULL;
	int err;

	err = read_sysfs(path, buf, sizeof(buf));
	if (json) {
		j_lines(key, err ? NULL : buf);
		return;
	}
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
 * context's interrupt table entry and the table's fault log.  JSON: one
 * object (uuid, model, device, stats, e1000, iommu_domain, interrupt).
 */
static void print_context(const char *uuid, bool detail)
{
	char path[512], val[64], model[64], phys[64], dom[32], table[32], entry[32];
	bool has_model, has_phys;
	unsigned int i;

#define CTX_ATTR(name) (snprintf(path, sizeof(path), \
	"/sys/bus/mdev/devices/%s/kvm_assign/%s", uuid, (name)), path)
	has_model = !read_sysfs(CTX_ATTR("model"), model, sizeof(model));
	has_phys = !read_sysfs(CTX_ATTR("physical_device"), phys, sizeof(phys));
	if (json) {
		j_open('{');
		j_kstr("uuid", uuid);
		j_kstr("model", has_model ? model : NULL);
		j_kstr("device", has_phys ? phys : NULL);
		j_key("stats");
		j_open('{');
	} else {
		printf("context %s: model %s on %s\n", uuid, has_model ? model : "?",
		       has_phys ? phys : "?");
	}
	for (i = 0; i < ARRAY_LEN(ctx_stats); i++) {
		bool ok = !read_sysfs(CTX_ATTR(ctx_stats[i]), val, sizeof(val));

		if (json)
			j_kval(ctx_stats[i], ok ? val : NULL);
		else
			printf("  %-22s %s\n", ctx_stats[i], ok ? val : "?");
	}
	if (json)
		j_close('}');
	if (has_model && !strcmp(model, "e1000")) {
		if (json)
			j_key("e1000");
		if (print_e1000(uuid) && json)
			j_str(NULL);	/* the key has its value */
	}
	if (!read_sysfs(CTX_ATTR("iommu_domain"), dom, sizeof(dom))) {
		if (json) {
			j_key("iommu_domain");
			j_open('{');
			j_kval("id", dom);
			j_key("stats");
			j_open('{');
		} else {
			printf("  iommu_soft domain %s:\n", dom);
		}
		for (i = 0; i < ARRAY_LEN(domain_stats); i++) {
			bool ok;

			snprintf(path, sizeof(path), "/sys/kernel/iommu_soft/domains/%s/%s",
				 dom, domain_stats[i]);
			ok = !read_sysfs(path, val, sizeof(val));
			if (json)
				j_kval(domain_stats[i], ok ? val : NULL);
			else
				printf("    %-20s %s\n", domain_stats[i], ok ? val : "?");
		}
		if (json)
			j_close('}');
		if (detail) {
			snprintf(path, sizeof(path),
				 "/sys/kernel/iommu_soft/domains/%s/mapping_list", dom);
			print_listing("mappings", "domain mappings (iova range, perm, pages)", path);
			snprintf(path, sizeof(path),
				 "/sys/kernel/iommu_soft/domains/%s/fault_log", dom);
			print_listing("fault_log", "domain fault log (ns, reason, dir, ...)", path);
		}
		if (json)
			j_close('}');
	}
	if (detail && !read_sysfs(CTX_ATTR("irq_table"), table, sizeof(table)) &&
	    !read_sysfs(CTX_ATTR("irq_entry"), entry, sizeof(entry))) {
		char buf[8192], *line, *save = NULL;
		size_t n = strlen(entry);
		int shown = 0;

		/* The table is the device's; show this context's entry only. */
		if (json) {
			j_key("interrupt");
			j_open('{');
			j_kval("table", table);
			j_kval("entry", entry);
			j_key("entry_list");
			j_open('[');
		} else {
			printf("  interrupt entry %s of irq_remap table%s:\n", entry, table);
		}
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%s/entry_list", table);
		if (!read_sysfs(path, buf, sizeof(buf))) {
			for (line = strtok_r(buf, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				if (strncmp(line, entry, n) || line[n] != ' ')
					continue;
				if (json)
					j_str(line);
				else
					printf("    %s\n", line);
				shown++;
			}
		}
		if (json)
			j_close(']');
		else if (!shown)
			printf("    (not allocated)\n");
		snprintf(path, sizeof(path), "/sys/kernel/irq_remap/table%s/fault_log", table);
		print_listing("fault_log", "interrupt fault log of the device (ns, reason, ...)",
			      path);
		if (json)
			j_close('}');
	}
	if (json)
		j_close('}');
#undef CTX_ATTR
}

static bool is_ka_context(const char *uuid)
{
	char path[512], model[64];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/model", uuid);
	return !read_sysfs(path, model, sizeof(model));
}

static int cmd_contexts(int argc, char **argv)
{
	struct dirent *e;
	int found = 0;
	DIR *d;

	(void)argc;
	(void)argv;
	d = opendir("/sys/bus/mdev/devices");
	if (json) {
		j_open('{');
		j_key("contexts");
		j_open('[');
	} else if (!d) {
		printf("no mediated devices (is the mdev module loaded?)\n");
		return 0;
	}
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !is_ka_context(e->d_name))
			continue;	/* another vendor driver's mdev */
		print_context(e->d_name, false);
		found++;
	}
	if (d)
		closedir(d);
	if (json) {
		j_close(']');
		j_close('}');
	} else if (!found) {
		printf("no kvm_assign contexts\n");
	}
	return 0;
}

static int cmd_context(int argc, char **argv)
{
	const char *uuid = argv[1];

	(void)argc;
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

static int cmd_e1000(int argc, char **argv)
{
	const char *uuid = argv[1];
	char path[512];

	(void)argc;
	if (!valid_uuid(uuid)) {
		fprintf(stderr, "kvmio: '%s' is not a UUID\n", uuid);
		return 2;
	}
	/* Checked first: JSON must not start a document it cannot finish. */
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/e1000/mac", uuid);
	if (access(path, F_OK) || print_e1000(uuid)) {
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
	"ring_inflight", "ring_inflight_max", "rx_unknown_unicast", "rx_bad",
	"tx_switched", "rx_filter",
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
	bool ok;

	snprintf(path, sizeof(path), CTX_E1000_DIR "/mac", uuid);
	ok = !read_sysfs(path, val, sizeof(val));
	if (json) {
		j_open('{');
		j_kstr("uuid", uuid);
		j_key("selected");
		j_bool(mark);
		j_kstr("mac", ok ? val : NULL);
	} else {
		printf("%c%-36s %-17s", mark ? '*' : ' ', uuid, ok ? val : "-");
	}
	for (i = 0; i < ARRAY_LEN(ctx_sched_cols); i++) {
		snprintf(path, sizeof(path), CTX_E1000_DIR "/%s", uuid, ctx_sched_cols[i][1]);
		ok = !read_sysfs(path, val, sizeof(val));
		if (json)
			j_kval(ctx_sched_cols[i][1], ok ? val : NULL);
		else
			printf(" %*s", (int)strlen(ctx_sched_cols[i][0]), ok ? val : "-");
	}
	if (json)
		j_close('}');
	else
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
	if (json) {
		j_open('{');
		j_kstr("nic", bdf);
		j_key("sched");
		j_open('{');
	} else {
		printf("NIC %s:", bdf);
	}
	for (i = 0; i < ARRAY_LEN(nic_sched_stats); i++) {
		bool ok;

		snprintf(path, sizeof(path), NIC_SCHED_DIR "/%s", bdf, nic_sched_stats[i]);
		ok = !read_sysfs(path, val, sizeof(val));
		if (json)
			j_kval(nic_sched_stats[i], ok ? val : NULL);
		else
			printf("%s%s=%s", i % 5 ? " " : "\n  ", nic_sched_stats[i], ok ? val : "-");
	}
	if (json) {
		j_close('}');
		j_key("contexts");
		j_open('[');
	} else {
		printf("\n %-36s %-17s", "CONTEXT", "MAC");
		for (i = 0; i < ARRAY_LEN(ctx_sched_cols); i++)
			printf(" %s", ctx_sched_cols[i][0]);
		printf("\n");
	}
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
	if (json) {
		j_close(']');
		j_close('}');
	} else if (!found) {
		printf(" (no contexts)\n");
	}
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
	if (argc == 3 && !strcmp(argv[1], "show"))
		return cmd_sched_show(argv[2]);
	if (json) {
		fprintf(stderr, "kvmio: --json: only \"sched show\" lists\n");
		return 2;
	}
	if (argc >= 3 && !strcmp(argv[1], "set"))
		return cmd_sched_set(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && !strcmp(argv[1], "nic"))
		return cmd_sched_nic(argv[2], argc - 3, argv + 3);
	return -2;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (json) {
		j_open('{');
		j_kstr("version", KVMIO_TOOL_VERSION);
		j_close('}');
	} else {
		printf("kvmio %s\n", KVMIO_TOOL_VERSION);
	}
	return 0;
}

static int cmd_blk(int argc, char **argv)
{
	return cmd_blk_serve(argc, argv);
}

static int cmd_help(int argc, char **argv);

/*
 * The commands.  @min and @max count the arguments after the name (-1: the
 * command checks them itself); a handler returning -2 means "usage", the
 * command's synopsis is then printed and the exit status is 2.  tools/kvmio.8
 * and tools/kvmio.bash-completion follow this table.
 */
static const struct command {
	const char *name;
	const char *synopsis;	/* after "kvmio NAME" */
	const char *help;	/* what "kvmio help NAME" adds */
	int min, max;
	bool json;		/* lists: --json allowed */
	int (*fn)(int argc, char **argv);	/* argv[0] is the name */
} commands[] = {
	{ "status", "",
	  "Which suite modules are loaded, their versions and use counts.",
	  0, 0, true, cmd_status },
	{ "devices", "",
	  "PCI devices, their vendor:device IDs, their drivers, and the kvm_assign\n"
	  "model that applies to each (none: kvm_assign cannot assign it).",
	  0, 0, true, cmd_devices },
	{ "bind", "[--persist] BDF",
	  "Hand PCI device BDF (e.g. 0000:00:05.0) to kvm_assign through its\n"
	  "driver_override.  --persist also records it in /etc/kvmio/bind.conf, so\n"
	  "that \"kvmio restore\" (kvmio-bind.service) binds it again at boot.",
	  1, 2, false, cmd_bind },
	{ "unbind", "[--persist] BDF",
	  "Give BDF back to its default driver (waits while a VMM holds one of\n"
	  "its contexts).  --persist also removes it from /etc/kvmio/bind.conf.",
	  1, 2, false, cmd_unbind },
	{ "restore", "",
	  "Bind every device listed in /etc/kvmio/bind.conf to kvm_assign (what\n"
	  "kvmio-bind.service runs at boot; mdevctl's udev rule then starts the\n"
	  "contexts defined on each).  Exit 1 if any device could not be bound.",
	  0, 0, false, cmd_restore },
	{ "create", "BDF [UUID]",
	  "Create an assignment context (an mdev of type kvm_assign-<model>) on a\n"
	  "device bound to kvm_assign.  Prints its UUID, the QEMU option and the\n"
	  "<hostdev> element of a libvirt domain.  For a context that comes back\n"
	  "at boot, use mdevctl (kvmio(8), PERSISTENCE).",
	  1, 2, true, cmd_create },
	{ "remove", "UUID",
	  "Remove a context (waits while a VMM holds it).",
	  1, 1, false, cmd_remove },
	{ "contexts", "",
	  "Every kvm_assign context: model, physical device, counters, and its\n"
	  "iommu_soft domain's counters.",
	  0, 0, true, cmd_contexts },
	{ "context", "UUID",
	  "One context in full: counters, DMA mappings, DMA fault log, interrupt\n"
	  "entry, interrupt fault log.",
	  1, 1, true, cmd_context },
	{ "e1000", "UUID",
	  "An e1000 context's virtual NIC: MAC, link, ring registers, frame\n"
	  "counters and drops.",
	  1, 1, true, cmd_e1000 },
	{ "sched", "show BDF|UUID | set UUID KEY=VALUE... | nic BDF KEY=VALUE...",
	  "A shared NIC's context scheduler.\n"
	  "  show BDF|UUID   the NIC's knobs and counters, one line per context\n"
	  "  set UUID KEY=VALUE...\n"
	  "                  a context's knobs: weight=1..100 rate_bytes=N\n"
	  "                  rate_packets=N trusted=0|1 allow_spoof=0|1\n"
	  "                  mac=XX:XX:XX:XX:XX:XX (while no VMM holds it)\n"
	  "  nic BDF KEY=VALUE...\n"
	  "                  the NIC's knobs: quantum=64..65536 link_rate=N\n"
	  "                  (bytes/s, 0 = none) ring_share=8..256\n"
	  "Values are checked before anything is written.  --json: show only.",
	  2, -1, true, cmd_sched },
	{ "blk-serve", "--socket PATH --backend FILE|BLOCKDEV [OPTION]...",
	  "A vhost-user-blk server for QEMU whose data path is /dev/vhost-blk.\n"
	  "  --socket PATH          the unix socket QEMU connects to\n"
	  "  --backend PATH         the image file or block device\n"
	  "  --readonly             a read-only disk\n"
	  "  --serial S             the disk's serial (GET_ID)\n"
	  "  --queues N             1..16 queues (default 4)\n"
	  "  --poll-us N            busy polling per idle ring, 0..100000 us\n"
	  "  --iops N, --iops-rd N, --iops-wr N\n"
	  "                         I/O limit, operations/s (total, reads, writes)\n"
	  "  --bps N, --bps-rd N, --bps-wr N\n"
	  "                         I/O limit, bytes/s (suffix k, m, g, t)\n"
	  "  --burst-iops[-rd|-wr] N, --burst-bps[-rd|-wr] N\n"
	  "                         what an idle device may do at once beyond it\n"
	  "  --group ID             a throttle group (same user, same ID)\n"
	  "  --offset BYTES, --length BYTES\n"
	  "                         serve only this range of the backend\n"
	  "  --weight 1..1000       share of a backend several devices keep busy\n"
	  "  --socket-owner USER    chown the socket (e.g. libvirt-qemu)\n"
	  "  --socket-group GROUP   chgrp the socket (e.g. kvm)\n"
	  "  --socket-mode MODE     chmod the socket, octal (e.g. 0660)\n"
	  "  --pidfile PATH         write the pid once the socket listens\n"
	  "  --config FILE          read KEY=VALUE lines: the long options\n"
	  "                         without \"--\" (socket=..., backend=...)\n"
	  "  --once                 exit after the first connection ends\n"
	  "  --verbose              log connections (twice: every message)\n"
	  "Readiness: with NOTIFY_SOCKET set (systemd Type=notify) it sends\n"
	  "READY=1 once it listens.  SIGTERM or SIGINT: the connection's device\n"
	  "is closed (the kernel completes the requests in flight), the socket\n"
	  "and pid file are removed, exit 0.",
	  -1, -1, false, cmd_blk },
	{ "version", "",
	  "The tool's version.",
	  0, 0, true, cmd_version },
	{ "help", "[COMMAND]",
	  "Usage of every command, or of COMMAND.",
	  0, 1, false, cmd_help },
};

static const struct command *find_command(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "usage: kvmio [--json] COMMAND [ARG]...\n\n");
	for (i = 0; i < ARRAY_LEN(commands); i++) {
		const char *nl = strchr(commands[i].help, '\n');
		int n = nl ? (int)(nl - commands[i].help) : (int)strlen(commands[i].help);

		fprintf(f, "  %s%s%s\n      %.*s%s\n", commands[i].name,
			*commands[i].synopsis ? " " : "", commands[i].synopsis,
			n, commands[i].help, nl ? " ..." : "");
	}
	fprintf(f, "\n--json: status, devices, contexts, context, e1000, sched show, create\n"
		"and version print one JSON document.  \"kvmio help COMMAND\" or\n"
		"\"kvmio COMMAND --help\": one command.  Exit status: 0 success,\n"
		"1 failure, 2 usage.  See kvmio(8).\n");
}

static void command_usage(FILE *f, const struct command *c, bool full)
{
	fprintf(f, "usage: kvmio %s%s%s%s\n", c->json ? "[--json] " : "", c->name,
		*c->synopsis ? " " : "", c->synopsis);
	if (full)
		fprintf(f, "\n%s\n", c->help);
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc == 1) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "kvmio: no command '%s' (kvmio help lists them)\n", argv[1]);
		return 2;
	}
	command_usage(stdout, c, true);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;
	int i, n, rc;

	/* Options before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			return cmd_version(0, NULL);
		} else {
			fprintf(stderr, "kvmio: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	c = find_command(argv[i]);
	if (!c) {
		fprintf(stderr, "kvmio: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	argc -= i;
	argv += i;
	/*
	 * After the command: --help anywhere asks for its usage, --json is
	 * taken out (blk-serve parses its own options, --help among them).
	 */
	for (i = 1, n = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			command_usage(stdout, c, true);
			return 0;
		}
		if (c->fn != cmd_blk && !strcmp(argv[i], "--json"))
			json = true;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	if (json && !c->json) {
		fprintf(stderr, "kvmio: %s does not list: no --json\n", c->name);
		return 2;
	}
	if ((c->min >= 0 && argc - 1 < c->min) || (c->max >= 0 && argc - 1 > c->max)) {
		command_usage(stderr, c, false);
		return 2;
	}
	rc = c->fn(argc, argv);
	if (rc == -2) {
		command_usage(stderr, c, false);
		return 2;
	}
	fflush(stdout);
	return rc ? (rc == 2 ? 2 : 1) : 0;
}
