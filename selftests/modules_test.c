// SPDX-License-Identifier: GPL-2.0
/*
 * modules_test - every module of the suite is loaded, idle and reports the
 * suite's version; the control tool sees them.
 *
 * The runner loads the suite before the tests and unloads it after them (an
 * unload failure fails the run); this test checks the loaded state.
 */
#include "lib/kt_test.h"
#include "lib/kt_sysfs.h"
#include "../include/kvmio/version.h"

static const char *const mods[] = {
	"iommu_soft", "irq_remap", "vhost_blk", "kvm_assign",
};

TEST(suite_modules_loaded_with_version)
{
	char path[128], buf[64];
	unsigned int i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/version", mods[i]);
		EXPECT_OK(kt_read_str(path, buf, sizeof(buf)));
		EXPECT_STREQ(buf, KVMIO_VERSION);
	}
}

/* Idle: no reference but those of the suite's modules that use the exports. */
TEST(suite_modules_idle)
{
	char path[128], buf[64];
	unsigned int i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/refcnt", mods[i]);
		ASSERT_OK(kt_read_str(path, buf, sizeof(buf)));
		KT_LOG("%s: refcnt %s, holders %d", mods[i], buf, kt_count_holders(mods[i]));
		EXPECT_EQ(atoi(buf), kt_count_holders(mods[i]));
	}
	/* kvm_assign uses the remapping engines. */
	EXPECT_EQ(kt_count_holders("iommu_soft"), 1);
	EXPECT_EQ(kt_count_holders("irq_remap"), 1);
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
