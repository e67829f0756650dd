// SPDX-License-Identifier: GPL-2.0
/*
 * harness_test - the test harness must be able to fail.
 *
 * Runs helpers/harness_sample (tests that pass, fail, skip, hang and crash
 * on purpose) and checks the verdict it prints for each, that a hung test is
 * killed at its timeout, and that the exit status says "failed".
 */
#include <sys/types.h>
#include "lib/kt_test.h"

static char out[16384];
static int status;
static double elapsed;

static int run_sample(void)
{
	char path[4096], *slash;
	ssize_t n, len;
	double t0;
	FILE *p;

	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (n < 0)
		return -1;
	path[n] = 0;
	slash = strrchr(path, '/');
	strcpy(slash + 1, "helpers/harness_sample 2>&1");

	t0 = kt_now();
	p = popen(path, "r");
	if (!p)
		return -1;
	len = fread(out, 1, sizeof(out) - 1, p);
	out[len > 0 ? len : 0] = 0;
	status = pclose(p);
	elapsed = kt_now() - t0;
	return 0;
}

static int has_line(const char *line)
{
	const char *p = out;
	size_t l = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == out || p[-1] == '\n') && (p[l] == '\n' || p[l] == 0))
			return 1;
		p += l;
	}
	return 0;
}

FIXTURE(sample) {
	int dummy;
};

FIXTURE_SETUP(sample)
{
	ASSERT_OK(run_sample());
}

FIXTURE_TEARDOWN(sample)
{
	if (_kt->failed)
		KT_LOG("sample output:\n%s", out);
}

TEST_F(sample, verdicts)
{
	EXPECT_TRUE(has_line("1..8"));
	EXPECT_TRUE(has_line("ok 1 passes"));
	EXPECT_TRUE(has_line("not ok 2 assert_fails"));
	EXPECT_FALSE(strstr(out, "# not reached"));
	EXPECT_TRUE(has_line("not ok 3 expect_fails_and_continues"));
	EXPECT_TRUE(has_line("# continued after EXPECT"));
	EXPECT_TRUE(has_line("ok 4 skips # SKIP no such device"));
	EXPECT_TRUE(has_line("not ok 5 hangs"));
	EXPECT_TRUE(has_line("# hangs: timeout after 2 s"));
	EXPECT_TRUE(has_line("not ok 6 crashes"));
	EXPECT_TRUE(has_line("ok 7 errno_checked"));
	EXPECT_TRUE(has_line("not ok 8 fx_assert_in_body"));
	EXPECT_TRUE(has_line("# teardown ran set_up=1"));
	EXPECT_TRUE(has_line("# Totals: pass:2 fail:5 skip:1"));
}

TEST_F(sample, exit_status_says_failed)
{
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), KT_EXIT_FAIL);
}

TEST_F(sample, hung_test_killed_at_timeout)
{
	/* The 2 s timeout must end the hung test: the whole run is bounded. */
	KT_LOG("sample ran %.1f s", elapsed);
	ASSERT_LT(elapsed, 20);
}

KT_MAIN()
