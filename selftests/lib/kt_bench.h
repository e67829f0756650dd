/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_bench.h - what the benchmark helpers share: a monotonic clock in
 * seconds and a cheap pseudo-random sequence (xorshift64, fixed seed, so
 * runs pick the same offsets).  Not for tests: nothing here asserts.
 */
#ifndef KT_BENCH_H
#define KT_BENCH_H

#include <stdint.h>
#include <time.h>

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t kt_rnd(void)
{
	static uint64_t x = 88172645463325252ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

#endif /* KT_BENCH_H */
