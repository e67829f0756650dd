// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio - control tool of the kvmio module suite.
 *
 *   kvmio status            which suite modules are loaded, their versions
 *                           and use counts
 *   kvmio contexts          kvm_assign contexts (mdevs): model, physical
 *                           device and statistics
 *   kvmio version           the tool's version
 *
 * Exit status: 0 success, 1 failure (with a message on stderr), 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static const char *const ctx_stats[] = {
	"dma_started", "dma_refused", "irqs_delivered", "irqs_masked",
	"bar_reads", "bar_writes", "bar_refused", "config_writes_dropped",
	"resets",
};

static int cmd_contexts(void)
{
	char path[512], val[64], model[64], phys[64];
	struct dirent *e;
	unsigned int i;
	int found = 0;
	DIR *d;

	d = opendir("/sys/bus/mdev/devices");
	if (!d) {
		printf("no mediated devices (is the mdev module loaded?)\n");
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/model",
			 e->d_name);
		if (read_sysfs(path, model, sizeof(model)) < 0)
			continue;	/* another vendor driver's mdev */
		snprintf(path, sizeof(path),
			 "/sys/bus/mdev/devices/%s/kvm_assign/physical_device", e->d_name);
		if (read_sysfs(path, phys, sizeof(phys)) < 0)
			strcpy(phys, "?");
		printf("context %s: model %s on %s\n", e->d_name, model, phys);
		for (i = 0; i < sizeof(ctx_stats) / sizeof(ctx_stats[0]); i++) {
			snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/kvm_assign/%s",
				 e->d_name, ctx_stats[i]);
			if (read_sysfs(path, val, sizeof(val)) < 0)
				strcpy(val, "?");
			printf("  %-22s %s\n", ctx_stats[i], val);
		}
		found++;
	}
	closedir(d);
	if (!found)
		printf("no kvm_assign contexts\n");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmio <command>\n"
		"  status     suite modules loaded, their versions and users\n"
		"  contexts   kvm_assign contexts: model, device, statistics\n"
		"  version    print the tool's version\n");
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
