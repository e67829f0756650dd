/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_sysfs.h - small sysfs and PCI helpers shared by the tests.
 */
#ifndef _KT_SYSFS_H
#define _KT_SYSFS_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a sysfs file into @buf without its trailing newlines; 0 or -1. */
static inline int kt_read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	return 0;
}

/* Writes @s to a sysfs file in one write; 0 or -1 (errno set). */
static inline int kt_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* Modules holding a reference on @mod because they use its exports. */
static inline int kt_count_holders(const char *mod)
{
	char path[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/module/%s/holders", mod);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Entries of directory @path whose names start with @prefix ("" for all
 * but "." and ".."); -1 if it cannot be read. */
static inline int kt_count_dir(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* Finds a PCI function by IDs ("0x1234", "0x11e8"); its address in @bdf. */
static inline int kt_find_pci(const char *vendor, const char *device, char *bdf,
			      size_t len)
{
	char path[512], v[32], d[32];
	struct dirent *e;
	DIR *dir = opendir("/sys/bus/pci/devices");

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' || l >= len || l > 64)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (kt_read_str(path, v, sizeof(v)))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (kt_read_str(path, d, sizeof(d)))
			continue;
		if (!strcmp(v, vendor) && !strcmp(d, device)) {
			memcpy(bdf, e->d_name, l + 1);
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return -1;
}

/*
 * The PCI functions with IDs @vendor:@device in PCI address order: the
 * first @max of their addresses into @list; how many.
 */
static inline int kt_find_pci_all(const char *vendor, const char *device, char list[][64],
				  int max)
{
	char path[512], v[32], d[32];
	struct dirent **ents;
	int n, i, found = 0;

	n = scandir("/sys/bus/pci/devices", &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (found < max && name[0] != '.' && strlen(name) < 64) {
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", name);
			if (!kt_read_str(path, v, sizeof(v)) && !strcmp(v, vendor)) {
				snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", name);
				if (!kt_read_str(path, d, sizeof(d)) && !strcmp(d, device))
					strcpy(list[found++], name);
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return found;
}

/*
 * Bind PCI device @bdf to kvm_assign (unbinding whatever driver it has)
 * through driver_override; 0 or -1.
 */
static inline int kt_bind_kvm_assign(const char *bdf)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	kt_write_str(path, bdf);	/* may have no driver */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (kt_write_str(path, "kvm_assign"))
		return -1;
	return kt_write_str("/sys/bus/pci/drivers_probe", bdf);
}

/* Unbind @bdf from kvm_assign and clear its driver_override. */
static inline void kt_unbind_kvm_assign(const char *bdf)
{
	char path[512];

	kt_write_str("/sys/bus/pci/drivers/kvm_assign/unbind", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	kt_write_str(path, "\n");
}

#endif /* _KT_SYSFS_H */
