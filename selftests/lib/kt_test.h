/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_test.h - the suite's small TAP test harness (written here, not copied).
 *
 * A test program includes this header, declares tests and ends with
 * KT_MAIN().  Every test runs in its own forked child, in its own process
 * group, with a timeout; the parent prints TAP:
 *
 *	TAP version 13
 *	1..3
 *	ok 1 basic
 *	not ok 2 fixture.works
 *	ok 3 needs_edu # SKIP no edu device
 *	# Totals: pass:1 fail:1 skip:1
 *
 * Exit status as kselftest uses it: 0 all passed, 1 something failed,
 * 4 everything was skipped.
 *
 *	TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *	TEST_TIMEOUT(slow, 120) { ... }
 *
 *	FIXTURE(dev) { int fd; };
 *	FIXTURE_SETUP(dev) { self->fd = open(...); ASSERT_GE(self->fd, 0); }
 *	FIXTURE_TEARDOWN(dev) { close(self->fd); }
 *	TEST_F(dev, reads) { ... self->fd ... }
 *
 * ASSERT_* stops the test (teardown still runs); EXPECT_* records a failure
 * and goes on.  SKIP(fmt, ...) ends the test as skipped with a reason.
 * KT_LOG(fmt, ...) prints a "# " diagnostic line.
 *
 * Command line: -l lists the tests, -t NAME runs one (repeatable),
 * -T SECONDS overrides every timeout (0 keeps each test's own).
 */
#ifndef _KT_TEST_H
#define _KT_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define KT_DEFAULT_TIMEOUT	30	/* seconds */
#define KT_EXIT_PASS		0
#define KT_EXIT_FAIL		1
#define KT_EXIT_SKIP		4

struct kt_ctx {
	jmp_buf		jmp;		/* where a failed ASSERT returns to */
	int		failed;		/* an ASSERT or EXPECT failed */
	int		in_teardown;
};

/* Shared with the forked child: how the test ended, and why. */
struct kt_shared {
	int		skipped;
	char		reason[256];
};

struct kt_test {
	const char	*name;
	void		(*fn)(struct kt_ctx *kt);
	int		timeout;
	struct kt_test	*next;
};

static struct kt_test *kt_tests, **kt_tail = &kt_tests;
static struct kt_shared *kt_shared;

static inline void kt_register(struct kt_test *t)
{
	*kt_tail = t;
	kt_tail = &t->next;
}

#define KT_LOG(fmt, ...)						\
	do {								\
		printf("# " fmt "\n", ##__VA_ARGS__);			\
		fflush(stdout);						\
	} while (0)

#define TEST_TIMEOUT(name, secs)					\
	static void kt_fn_##name(struct kt_ctx *_kt);			\
	static struct kt_test kt_t_##name = { #name, kt_fn_##name, secs, NULL }; \
	__attribute__((constructor)) static void kt_reg_##name(void)	\
	{								\
		kt_register(&kt_t_##name);				\
	}								\
	static void kt_fn_##name(struct kt_ctx *_kt __attribute__((unused)))

#define TEST(name) TEST_TIMEOUT(name, KT_DEFAULT_TIMEOUT)

#define FIXTURE(f) struct kt_fix_##f
#define FIXTURE_SETUP(f)						\
	static void kt_setup_##f(struct kt_ctx *_kt __attribute__((unused)), \
				 struct kt_fix_##f *self __attribute__((unused)))
#define FIXTURE_TEARDOWN(f)						\
	static void kt_teardown_##f(struct kt_ctx *_kt __attribute__((unused)), \
				    struct kt_fix_##f *self __attribute__((unused)))

#define TEST_F_TIMEOUT(f, name, secs)					\
	static void kt_body_##f##_##name(struct kt_ctx *_kt,		\
					 struct kt_fix_##f *self);	\
	TEST_TIMEOUT(f##_##name, secs)					\
	{								\
		struct kt_fix_##f self_;				\
									\
		memset(&self_, 0, sizeof(self_));			\
		if (!setjmp(_kt->jmp)) {				\
			kt_setup_##f(_kt, &self_);			\
			kt_body_##f##_##name(_kt, &self_);		\
		}							\
		_kt->in_teardown = 1;					\
		kt_teardown_##f(_kt, &self_);				\
	}								\
	static void kt_body_##f##_##name(struct kt_ctx *_kt __attribute__((unused)), \
					 struct kt_fix_##f *self __attribute__((unused)))

#define TEST_F(f, name) TEST_F_TIMEOUT(f, name, KT_DEFAULT_TIMEOUT)

static inline void kt_fail(struct kt_ctx *kt, int fatal)
{
	kt->failed = 1;
	if (!fatal)
		return;
	if (kt->in_teardown)
		_exit(KT_EXIT_FAIL);
	longjmp(kt->jmp, 1);
}

#define KT_CMP(fatal, a, op, b)						\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (!(_a op _b)) {					\
			KT_LOG("%s:%d: %s %s %s %s failed: %lld vs %lld", \
			       __FILE__, __LINE__,			\
			       fatal ? "ASSERT" : "EXPECT", #a, #op, #b, _a, _b); \
			kt_fail(_kt, fatal);				\
		}							\
	} while (0)

#define ASSERT_EQ(a, b)	KT_CMP(1, a, ==, b)
#define ASSERT_NE(a, b)	KT_CMP(1, a, !=, b)
#define ASSERT_LT(a, b)	KT_CMP(1, a, <, b)
#define ASSERT_LE(a, b)	KT_CMP(1, a, <=, b)
#define ASSERT_GT(a, b)	KT_CMP(1, a, >, b)
#define ASSERT_GE(a, b)	KT_CMP(1, a, >=, b)
#define EXPECT_EQ(a, b)	KT_CMP(0, a, ==, b)
#define EXPECT_NE(a, b)	KT_CMP(0, a, !=, b)
#define EXPECT_LT(a, b)	KT_CMP(0, a, <, b)
#define EXPECT_LE(a, b)	KT_CMP(0, a, <=, b)
#define EXPECT_GT(a, b)	KT_CMP(0, a, >, b)
#define EXPECT_GE(a, b)	KT_CMP(0, a, >=, b)
#define ASSERT_TRUE(x)	KT_CMP(1, !!(x), ==, 1)
#define ASSERT_FALSE(x)	KT_CMP(1, !!(x), ==, 0)
#define EXPECT_TRUE(x)	KT_CMP(0, !!(x), ==, 1)
#define EXPECT_FALSE(x)	KT_CMP(0, !!(x), ==, 0)

#define KT_STRCMP(fatal, a, b)						\
	do {								\
		const char *_a = (a), *_b = (b);			\
		if (!_a || !_b || strcmp(_a, _b)) {			\
			KT_LOG("%s:%d: \"%s\" != \"%s\"", __FILE__, __LINE__, \
			       _a ? _a : "(null)", _b ? _b : "(null)");	\
			kt_fail(_kt, fatal);				\
		}							\
	} while (0)
#define ASSERT_STREQ(a, b)	KT_STRCMP(1, a, b)
#define EXPECT_STREQ(a, b)	KT_STRCMP(0, a, b)

/* A call that must fail with -1 and a given errno. */
#define KT_ERRNO(fatal, expr, err)					\
	do {								\
		long _r;						\
		errno = 0;						\
		_r = (long)(expr);					\
		if (_r != -1 || errno != (err)) {			\
			KT_LOG("%s:%d: %s: want -1/%s, got %ld/%s",	\
			       __FILE__, __LINE__, #expr, strerror(err), \
			       _r, strerror(errno));			\
			kt_fail(_kt, fatal);				\
		}							\
	} while (0)
#define ASSERT_ERRNO(expr, err)	KT_ERRNO(1, expr, err)
#define EXPECT_ERRNO(expr, err)	KT_ERRNO(0, expr, err)

/* A call that must succeed (>= 0); prints errno otherwise. */
#define KT_OK(fatal, expr)						\
	do {								\
		long _r;						\
		errno = 0;						\
		_r = (long)(expr);					\
		if (_r < 0) {						\
			KT_LOG("%s:%d: %s failed: %ld (%s)", __FILE__,	\
			       __LINE__, #expr, _r, strerror(errno));	\
			kt_fail(_kt, fatal);				\
		}							\
	} while (0)
#define ASSERT_OK(expr)	KT_OK(1, expr)
#define EXPECT_OK(expr)	KT_OK(0, expr)

#define SKIP(fmt, ...)							\
	do {								\
		snprintf(kt_shared->reason, sizeof(kt_shared->reason),	\
			 fmt, ##__VA_ARGS__);				\
		kt_shared->skipped = 1;					\
		fflush(stdout);						\
		_exit(_kt->failed ? KT_EXIT_FAIL : KT_EXIT_SKIP);	\
	} while (0)

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one test in a child; returns KT_EXIT_* and fills @why. */
static inline int kt_run_one(struct kt_test *t, int timeout, char *why, size_t len)
{
	double deadline;
	int status;
	pid_t pid;

	memset(kt_shared, 0, sizeof(*kt_shared));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return KT_EXIT_FAIL;
	}
	if (pid == 0) {
		struct kt_ctx kt;

		setpgid(0, 0);
		memset(&kt, 0, sizeof(kt));
		if (!setjmp(kt.jmp))
			t->fn(&kt);
		fflush(stdout);
		_exit(kt.failed ? KT_EXIT_FAIL : KT_EXIT_PASS);
	}
	setpgid(pid, pid);

	deadline = kt_now() + timeout;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			snprintf(why, len, "waitpid: %s", strerror(errno));
			return KT_EXIT_FAIL;
		}
		if (kt_now() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, len, "timeout after %d s", timeout);
			return KT_EXIT_FAIL;
		}
		nanosleep(&ts, NULL);
	}
	/* Reap anything the test left behind in its process group. */
	kill(-pid, SIGKILL);

	if (WIFSIGNALED(status)) {
		snprintf(why, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return KT_EXIT_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case KT_EXIT_PASS:
		return KT_EXIT_PASS;
	case KT_EXIT_SKIP:
		if (kt_shared->skipped) {
			snprintf(why, len, "%s", kt_shared->reason);
			return KT_EXIT_SKIP;
		}
		/* fall through */
	default:
		if (kt_shared->skipped)
			snprintf(why, len, "failed before SKIP: %s", kt_shared->reason);
		else if (WEXITSTATUS(status) != KT_EXIT_FAIL)
			snprintf(why, len, "exit status %d", WEXITSTATUS(status));
		return KT_EXIT_FAIL;
	}
}

static inline int kt_selected(const char *name, char **only, int nonly)
{
	int i;

	if (!nonly)
		return 1;
	for (i = 0; i < nonly; i++)
		if (!strcmp(only[i], name))
			return 1;
	return 0;
}

static inline int kt_main(int argc, char **argv)
{
	int pass = 0, fail = 0, skip = 0, n = 0, total = 0, forced = 0, opt;
	char **only = calloc(argc, sizeof(char *));
	int nonly = 0;
	struct kt_test *t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "lt:T:")) != -1) {
		switch (opt) {
		case 'l':
			for (t = kt_tests; t; t = t->next)
				printf("%s\n", t->name);
			return 0;
		case 't':
			only[nonly++] = optarg;
			break;
		case 'T':
			forced = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-t test]... [-T seconds]\n", argv[0]);
			return 2;
		}
	}

	kt_shared = mmap(NULL, sizeof(*kt_shared), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kt_shared == MAP_FAILED) {
		perror("mmap");
		return KT_EXIT_FAIL;
	}

	for (t = kt_tests; t; t = t->next)
		total += kt_selected(t->name, only, nonly);
	printf("TAP version 13\n1..%d\n", total);

	for (t = kt_tests; t; t = t->next) {
		char why[300] = "";
		double t0;
		int r;

		if (!kt_selected(t->name, only, nonly))
			continue;
		n++;
		printf("# RUN %s\n", t->name);
		t0 = kt_now();
		r = kt_run_one(t, forced ? forced : t->timeout, why, sizeof(why));
		switch (r) {
		case KT_EXIT_PASS:
			pass++;
			printf("# %s: %.2f s\n", t->name, kt_now() - t0);
			printf("ok %d %s\n", n, t->name);
			break;
		case KT_EXIT_SKIP:
			skip++;
			printf("ok %d %s # SKIP %s\n", n, t->name, why);
			break;
		default:
			fail++;
			if (why[0])
				printf("# %s: %s\n", t->name, why);
			printf("not ok %d %s\n", n, t->name);
			break;
		}
	}
	printf("# Totals: pass:%d fail:%d skip:%d\n", pass, fail, skip);
	free(only);
	if (fail)
		return KT_EXIT_FAIL;
	if (!pass && skip)
		return KT_EXIT_SKIP;
	return KT_EXIT_PASS;
}

#define KT_MAIN()							\
	int main(int argc, char **argv)					\
	{								\
		return kt_main(argc, argv);				\
	}

#endif /* _KT_TEST_H */
