/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz.h - what the suite's fuzzers share: a seeded generator, the
 * command line (--seed, --iters, --time, --threads, --stall, -v), a stall
 * watchdog, a pool of hostile user pointers, findings and the TAP summary.
 *
 * A fuzzer is bounded (it stops after --iters operations or --time
 * seconds, whichever comes first) and reproducible as far as threads allow:
 * thread i draws from its own generator seeded with fuzz_thread_seed(i),
 * so a seed replays the same operations in the same order per thread; only
 * the interleaving between threads differs.  It ends with TAP:
 *
 *	TAP version 13
 *	1..1
 *	# fuzz_x: seed=1 iterations=5000 time=10.0s threads=4 findings=0
 *	ok 1 - fuzz_x seed=1 iterations=5000 findings=0
 *
 * A finding (an invariant the fuzzer checks itself: a canary overwritten,
 * a bit outside the dirty bitmap, an undocumented success, a stall) is a
 * "# FINDING:" line and makes the result "not ok" (exit status 1).  A kernel
 * splat is caught by the runner's kernel-log check, not here.
 */
#ifndef KVMIO_FUZZ_H
#define KVMIO_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/mman.h>

#define FUZZ_MAX_THREADS	16
#define FUZZ_MAX_FINDINGS	64	/* printed in full; the rest counted */

struct fuzz_rng {
	uint64_t s;
};

struct fuzz_opts {
	const char	*name;
	uint64_t	seed;
	uint64_t	iters;		/* 0: no bound */
	double		time;		/* seconds; 0: no bound */
	unsigned int	threads;
	unsigned int	stall;		/* seconds without progress = finding */
	int		verbose;
	int		wild;		/* fuzzer-specific "less constrained" */
	const char	*arg;		/* fuzzer-specific --arg */
};

static struct fuzz_opts fz = { .threads = 4, .stall = 60, .time = 10 };
static uint64_t fz_done;		/* operations done, all threads */
static uint64_t fz_findings;
static double fz_t0;
static volatile int fz_stop;
static pthread_mutex_t fz_lock = PTHREAD_MUTEX_INITIALIZER;
/* What each thread is doing, for the stall report. */
static const char *volatile fz_cur[FUZZ_MAX_THREADS];

static inline double fuzz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: small, fast, and every seed (0 too) is a good one. */
static inline uint64_t fuzz_next(struct fuzz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t fuzz_thread_seed(unsigned int i)
{
	struct fuzz_rng r = { fz.seed + 0x1000193ULL * (i + 1) };

	return fuzz_next(&r);
}

/* Uniform in [0, n); 0 if n is 0. */
static inline uint64_t fuzz_below(struct fuzz_rng *r, uint64_t n)
{
	return n ? fuzz_next(r) % n : 0;
}

/* True with probability 1/n. */
static inline bool fuzz_one_in(struct fuzz_rng *r, unsigned int n)
{
	return fuzz_below(r, n) == 0;
}

/*
 * A "hostile" integer: mostly small or near a boundary, sometimes any
 * 64-bit value, sometimes near @valid (a value known to work).
 */
static inline uint64_t fuzz_int(struct fuzz_rng *r, uint64_t valid)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256,
		511, 512, 4095, 4096, 4097, 0x7fff, 0x8000, 0xffff, 0x10000,
		0x7fffffff, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 4095,
	};

	switch (fuzz_below(r, 6)) {
	case 0:
		return fuzz_next(r);
	case 1:
		return edges[fuzz_below(r, sizeof(edges) / sizeof(edges[0]))];
	case 2:
		return fuzz_below(r, 64);
	case 3:
		return valid + fuzz_below(r, 9) - 4;
	case 4:
		return valid ^ (1ULL << fuzz_below(r, 64));
	default:
		return valid;
	}
}

static inline void fuzz_fill(struct fuzz_rng *r, void *p, size_t len)
{
	uint8_t *b = p;

	while (len >= 8) {
		uint64_t v = fuzz_next(r);

		memcpy(b, &v, 8);
		b += 8;
		len -= 8;
	}
	while (len--)
		*b++ = fuzz_next(r);
}

/*
 * A line on the kernel log too (/dev/kmsg, when it can be written): the
 * console then shows which fuzzer and seed ran before a splat, and what a
 * fuzzer said when the VM dies before its output is collected.
 */
static inline void fuzz_kmsg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void fuzz_kmsg(const char *fmt, ...)
{
	char b[256];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC), n;
	va_list ap;

	if (fd < 0)
		return;
	n = snprintf(b, sizeof(b), "<4>kvmio-fuzz: %s: ", fz.name);
	va_start(ap, fmt);
	if (n > 0 && n < (int)sizeof(b))
		vsnprintf(b + n, sizeof(b) - n, fmt, ap);
	va_end(ap);
	if (write(fd, b, strlen(b)) < 0)
		n = 0;
	close(fd);
}

static inline void fuzz_log(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void fuzz_log(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fz_lock);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&fz_lock);
}

#define fuzz_vlog(fmt, ...)						\
	do {								\
		if (fz.verbose)						\
			fuzz_log(fmt, ##__VA_ARGS__);			\
	} while (0)

static inline void fuzz_finding(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void fuzz_finding(const char *fmt, ...)
{
	uint64_t n = __atomic_add_fetch(&fz_findings, 1, __ATOMIC_RELAXED);
	va_list ap;

	if (n > FUZZ_MAX_FINDINGS)
		return;
	pthread_mutex_lock(&fz_lock);
	printf("# FINDING %llu (seed %llu, after %llu operations): ",
	       (unsigned long long)n, (unsigned long long)fz.seed,
	       (unsigned long long)__atomic_load_n(&fz_done, __ATOMIC_RELAXED));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&fz_lock);
}

/* Count one operation; false once the fuzzer should stop. */
static inline bool fuzz_tick(void)
{
	uint64_t n = __atomic_add_fetch(&fz_done, 1, __ATOMIC_RELAXED);

	if (fz.iters && n >= fz.iters)
		fz_stop = 1;
	return !fz_stop;
}

static inline bool fuzz_running(void)
{
	return !fz_stop;
}

static inline void fuzz_summary_line(void)
{
	printf("# %s: seed=%llu iterations=%llu time=%.1fs threads=%u findings=%llu\n",
	       fz.name, (unsigned long long)fz.seed,
	       (unsigned long long)fz_done, fuzz_now() - fz_t0, fz.threads,
	       (unsigned long long)fz_findings);
}

/* Prints the summary and the TAP result; the process's exit status. */
static inline int fuzz_finish(void)
{
	fuzz_kmsg("done: seed=%llu iterations=%llu findings=%llu", (unsigned long long)fz.seed,
		  (unsigned long long)fz_done, (unsigned long long)fz_findings);
	pthread_mutex_lock(&fz_lock);
	fuzz_summary_line();
	printf("%s 1 - %s seed=%llu iterations=%llu findings=%llu\n",
	       fz_findings ? "not ok" : "ok", fz.name,
	       (unsigned long long)fz.seed, (unsigned long long)fz_done,
	       (unsigned long long)fz_findings);
	fflush(stdout);
	pthread_mutex_unlock(&fz_lock);
	return fz_findings ? 1 : 0;
}

/* Ends the run as skipped (the interface is not there). */
static inline void fuzz_skip(const char *why)
{
	printf("ok 1 - %s # SKIP %s\n", fz.name, why);
	fflush(stdout);
	exit(4);
}

/* Ask the kernel for diagnostics on its console (what a stall is waiting on). */
static inline void fuzz_sysrq(const char *keys)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (; *keys; keys++)
		if (write(fd, keys, 1) != 1)
			break;
	close(fd);
}

/*
 * The watchdog: stops the fuzzer at --time, and reports a stall (no
 * operation completed for --stall seconds: a call that hangs in the
 * kernel) as a finding, with the blocked tasks and every CPU's backtrace
 * on the kernel console (sysrq w and l), then exits at once.
 */
static void *fuzz_watchdog(void *arg)
{
	uint64_t last = 0;
	double since = fuzz_now();
	unsigned int i;

	(void)arg;
	for (;;) {
		uint64_t n = __atomic_load_n(&fz_done, __ATOMIC_RELAXED);
		double now = fuzz_now();

		if (fz.time && now - fz_t0 >= fz.time)
			fz_stop = 1;
		if (n != last) {
			last = n;
			since = now;
		} else if (fz.stall && now - since >= fz.stall) {
			fuzz_finding("no progress for %u s", fz.stall);
			fuzz_kmsg("no progress for %u s (seed %llu)", fz.stall,
				  (unsigned long long)fz.seed);
			for (i = 0; i < FUZZ_MAX_THREADS; i++)
				if (fz_cur[i]) {
					fuzz_log("thread %u was in: %s", i, fz_cur[i]);
					fuzz_kmsg("thread %u was in: %s", i, fz_cur[i]);
				}
			fuzz_sysrq("wl");	/* blocked tasks, every CPU's backtrace */
			_exit(fuzz_finish());
		}
		usleep(100000);
	}
	return NULL;
}

/* A fuzzer that crashes says where, and what each thread was doing. */
static void fuzz_crash(int sig, siginfo_t *si, void *uc)
{
	unsigned int i;

	(void)uc;
	printf("# FINDING: %s crashed: signal %d (%s) at address %p\n", fz.name, sig,
	       strsignal(sig), si->si_addr);
	for (i = 0; i < FUZZ_MAX_THREADS; i++)
		if (fz_cur[i])
			printf("# thread %u was in: %s\n", i, fz_cur[i]);
	fz_findings++;
	fuzz_kmsg("crashed: signal %d at %p (seed %llu)", sig, si->si_addr,
		  (unsigned long long)fz.seed);
	fuzz_summary_line();
	printf("not ok 1 - %s seed=%llu iterations=%llu crashed\n", fz.name,
	       (unsigned long long)fz.seed, (unsigned long long)fz_done);
	fflush(stdout);
	_exit(1);
}

static inline void fuzz_usage(void)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--iters N] [--time S] [--threads N] [--stall S] [--wild] [--arg X] [-v]\n",
		fz.name);
	exit(2);
}

/* Parses the command line, prints the TAP header, starts the watchdog. */
static inline void fuzz_init(int argc, char **argv, const char *name)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iters", required_argument, NULL, 'i' },
		{ "time", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "stall", required_argument, NULL, 'S' },
		{ "wild", no_argument, NULL, 'w' },
		{ "arg", required_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	bool seeded = false;
	pthread_t wd;
	int opt;

	fz.name = name;
	while ((opt = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (opt) {
		case 's': fz.seed = strtoull(optarg, NULL, 0); seeded = true; break;
		case 'i': fz.iters = strtoull(optarg, NULL, 0); break;
		case 't': fz.time = atof(optarg); break;
		case 'j': fz.threads = atoi(optarg); break;
		case 'S': fz.stall = atoi(optarg); break;
		case 'w': fz.wild = 1; break;
		case 'a': fz.arg = optarg; break;
		case 'v': fz.verbose++; break;
		default: fuzz_usage();
		}
	}
	if (fz.threads < 1 || fz.threads > FUZZ_MAX_THREADS)
		fuzz_usage();
	if (!seeded)
		fz.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	printf("# %s: seed=%llu iters=%llu time=%.1fs threads=%u%s (replay: --seed %llu)\n",
	       name, (unsigned long long)fz.seed, (unsigned long long)fz.iters,
	       fz.time, fz.threads, fz.wild ? " wild" : "",
	       (unsigned long long)fz.seed);
	fflush(stdout);
	fuzz_kmsg("start: seed=%llu iters=%llu time=%.1fs threads=%u%s%s%s",
		  (unsigned long long)fz.seed, (unsigned long long)fz.iters, fz.time,
		  fz.threads, fz.wild ? " wild" : "", fz.arg ? " arg=" : "", fz.arg ? fz.arg : "");
	fz_t0 = fuzz_now();
	{
		struct sigaction sa = { .sa_sigaction = fuzz_crash, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		sigaction(SIGILL, &sa, NULL);
		sigaction(SIGFPE, &sa, NULL);
	}
	if (pthread_create(&wd, NULL, fuzz_watchdog, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	pthread_detach(wd);
}

/* ---- hostile user pointers ---- */

/*
 * A pool of user addresses of every kind: a writable buffer, the last
 * bytes of a writable page followed by a PROT_NONE page, a read-only page,
 * a PROT_NONE page, an unmapped page, NULL, a kernel address, a
 * non-canonical one.  The fuzzer never hands the kernel a pointer into its
 * own code, stack or heap: a "device" write through one would corrupt the
 * fuzzer itself rather than find anything.
 */
#define FUZZ_BUF_PAGES	16

struct fuzz_ptrs {
	uint8_t *rw;		/* FUZZ_BUF_PAGES writable pages */
	uint8_t *edge;		/* a writable page; PROT_NONE after it */
	uint8_t *ro;		/* a read-only page */
	uint8_t *none;		/* a PROT_NONE page */
	uint8_t *unmapped;	/* a page that was unmapped */
};

/* Then 16 PROT_NONE pages: nothing of anyone's follows the pool closely. */
static inline int fuzz_ptrs_init(struct fuzz_ptrs *p)
{
	uint8_t *m = mmap(NULL, (FUZZ_BUF_PAGES + 5 + 16) * 4096UL,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	if (mprotect(m + (FUZZ_BUF_PAGES + 5) * 4096UL, 16 * 4096UL, PROT_NONE))
		return -1;
	memset(m, 0, (FUZZ_BUF_PAGES + 5) * 4096UL);
	p->rw = m;
	p->edge = m + FUZZ_BUF_PAGES * 4096UL;
	p->none = p->edge + 4096;
	p->ro = p->none + 4096;
	p->unmapped = p->ro + 4096;
	memset(p->ro, 0x5a, 4096);
	if (mprotect(p->none, 4096, PROT_NONE) || mprotect(p->ro, 4096, PROT_READ) ||
	    munmap(p->unmapped, 4096))
		return -1;
	return 0;
}

/* A pointer for a structure or buffer of @len bytes. */
static inline uint64_t fuzz_ptr(struct fuzz_rng *r, struct fuzz_ptrs *p, size_t len)
{
	size_t l = len > 4096 ? 4096 : len;

	switch (fuzz_below(r, 12)) {
	case 0: return 0;
	case 1: return (uintptr_t)(p->edge + 4096 - l);		/* ends at PROT_NONE */
	case 2: return (uintptr_t)(p->edge + 4096 - l + 1 + fuzz_below(r, 8));
	case 3: return (uintptr_t)p->ro + fuzz_below(r, 4096);
	case 4: return (uintptr_t)p->none + fuzz_below(r, 4096);
	case 5: return (uintptr_t)p->unmapped + fuzz_below(r, 4096);
	case 6: return 0xffff888000000000ULL + (fuzz_next(r) & 0xffffff000ULL);
	case 7: return 0x8000000000000000ULL | fuzz_next(r);
	case 8: return (uintptr_t)p->rw + fuzz_below(r, 8);	/* misaligned */
	default:
		return (uintptr_t)p->rw +
		       (fuzz_below(r, FUZZ_BUF_PAGES * 4096UL - l) & ~7UL);
	}
}

/*
 * A pointer the kernel can never use: PROT_NONE, unmapped, kernel,
 * non-canonical, or the read-only page (constant 0x5a bytes).  For
 * structures whose contents would steer the kernel at the fuzzer's own
 * memory if read from a buffer that holds garbage (a memory table).
 */
static inline uint64_t fuzz_bad_ptr(struct fuzz_rng *r, struct fuzz_ptrs *p)
{
	switch (fuzz_below(r, 5)) {
	case 0: return (uintptr_t)p->none + fuzz_below(r, 4096);
	case 1: return (uintptr_t)p->unmapped + fuzz_below(r, 4096);
	case 2: return 0xffff888000000000ULL + (fuzz_next(r) & 0xffffff000ULL);
	case 3: return 0x8000000000000000ULL | fuzz_next(r);
	default: return (uintptr_t)p->ro + fuzz_below(r, 4096 - 64);
	}
}

/* ---- canaries ---- */

#define FUZZ_CANARY	0xa5

static inline void fuzz_canary_set(void *p, size_t len)
{
	memset(p, FUZZ_CANARY, len);
}

/* Offset of the first byte that is not the canary, or -1. */
static inline long fuzz_canary_check(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != FUZZ_CANARY)
			return i;
	return -1;
}

#endif /* KVMIO_FUZZ_H */
