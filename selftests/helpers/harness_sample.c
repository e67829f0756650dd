// SPDX-License-Identifier: GPL-2.0
/*
 * harness_sample - tests with known outcomes, for harness_test to check.
 *
 * Not a test of the suite: most of these fail on purpose.  harness_test runs
 * this program and asserts the TAP it prints.
 */
#include <signal.h>
#include "../lib/kt_test.h"

TEST(passes)
{
	ASSERT_EQ(2 + 2, 4);
	EXPECT_STREQ("a", "a");
}

TEST(assert_fails)
{
	ASSERT_EQ(1, 2);
	KT_LOG("not reached");
}

TEST(expect_fails_and_continues)
{
	EXPECT_EQ(1, 2);
	KT_LOG("continued after EXPECT");
}

TEST(skips)
{
	SKIP("no such device");
}

TEST_TIMEOUT(hangs, 2)
{
	for (;;)
		pause();
}

TEST(crashes)
{
	raise(SIGSEGV);
}

TEST(errno_checked)
{
	ASSERT_ERRNO(close(-1), EBADF);
}

FIXTURE(fx) {
	int set_up;
};

FIXTURE_SETUP(fx)
{
	self->set_up = 1;
}

FIXTURE_TEARDOWN(fx)
{
	KT_LOG("teardown ran set_up=%d", self->set_up);
}

TEST_F(fx, assert_in_body)
{
	ASSERT_EQ(self->set_up, 0);
}

KT_MAIN()
