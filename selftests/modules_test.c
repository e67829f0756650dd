// SPDX-License-Identifier: GPL-2.0
/*
 * modules_test - every module of the suite is loaded, idle and reports the
 * suite's version; the control tool sees them.
 *
 * The runner loads the suite before the tests and unloads it after them (an
 * unload failure fails the run); this test checks the loaded state.
 */
#include <dirent.h>
#include <fcntl.h>
#include "lib/kt_test.h"
#include "../include/kvmio/version.h"

static const char *const mods[] = {
	"iommu_soft", "irq_remap", "vhost_blk", "kvm_assign",
};

static int read_file(const char *path, char *buf, size_t len)
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

TEST(suite_modules_loaded_with_version)
{
	char path[128], buf[64];
	unsigned int i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/version", mods[i]);
		EXPECT_OK(read_file(path, buf, sizeof(buf)));
		EXPECT_STREQ(buf, KVMIO_VERSION);
	}
}

/* Modules holding a reference on @mod because they use its exports. */
static int count_holders(const char *mod)
{
	char path[128];
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

/* Idle: no reference but those of the suite's modules that use the exports. */
TEST(suite_modules_idle)
{
	char path[128], buf[64];
	unsigned int i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt", mods[i]);
		ASSERT_OK(read_file(path, buf, sizeof(buf)));
		KT_LOG("%s: refcnt %s, holders %d", mods[i], buf, count_holders(mods[i]));
		EXPECT_EQ(atoi(buf), count_holders(mods[i]));
	}
	/* kvm_assign uses the remapping engines. */
	EXPECT_EQ(count_holders("iommu_soft"), 1);
	EXPECT_EQ(count_holders("irq_remap"), 1);
}

TEST(tool_reports_modules)
{
	char line[256];
	int seen = 0;
	FILE *p;

	p = popen("kvmio status", "r");
	ASSERT_TRUE(p != NULL);
	while (fgets(line, sizeof(line), p)) {
		KT_LOG("%.*s", (int)strcspn(line, "\n"), line);
		if (strstr(line, " loaded ") && strstr(line, KVMIO_VERSION))
			seen++;
	}
	ASSERT_EQ(pclose(p), 0);
	ASSERT_EQ(seen, 4);
}

KT_MAIN()
