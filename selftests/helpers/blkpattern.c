// SPDX-License-Identifier: GPL-2.0
/*
 * blkpattern - parallel O_DIRECT writers of a checked block pattern, and
 * the check, for vhost_blk_restart_test.sh (run in a second-level guest on
 * its vhost-user-blk disk, and in the test VM on the backend afterwards).
 *
 *	blkpattern write DEVICE WRITERS BLOCKS SEED
 *	blkpattern verify DEVICE WRITERS BLOCKS SEED
 *
 * write: WRITERS processes; writer w writes blocks [w * BLOCKS, (w + 1) *
 * BLOCKS) of 4 KiB in order, one synchronous O_DIRECT pwrite() each, then
 * fdatasync()s.  Any error (or short write) is printed and makes the
 * writer, and the command, fail.  Every block carries its number, the
 * writer, the seed (the run's generation) and a checksum of the rest.
 *
 * verify: reads every block back (64 at a time) and compares it with what
 * write wrote.
 *
 * Prints "BLKPATTERN write|verify blocks=N bad=M errors=E rc=R" last;
 * exit status 0 only if everything was written or found right.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define BS		4096
#define WORDS		(BS / 8)
#define MAGIC		0x5441504f494d564bULL	/* "KVMIOPAT" */
#define MAX_WRITERS	64

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The content of block @blk of writer @w in the run @seed. */
static void fill(uint64_t *b, uint64_t blk, unsigned int w, uint64_t seed)
{
	uint64_t sum = 0;
	unsigned int i;

	b[0] = MAGIC;
	b[1] = blk;
	b[2] = seed;
	b[3] = w;
	for (i = 4; i < WORDS - 1; i++)
		b[i] = mix(seed ^ (blk << 20) ^ i);
	for (i = 0; i < WORDS - 1; i++)
		sum = mix(sum ^ b[i]);
	b[WORDS - 1] = sum;
}

static int writer(const char *dev, unsigned int w, uint64_t blocks, uint64_t seed)
{
	uint64_t *buf, blk, first = w * blocks;
	int fd;

	if (posix_memalign((void **)&buf, BS, BS))
		return 1;
	fd = open(dev, O_WRONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "blkpattern: writer %u: %s: %s\n", w, dev, strerror(errno));
		return 1;
	}
	for (blk = first; blk < first + blocks; blk++) {
		ssize_t n;

		fill(buf, blk, w, seed);
		n = pwrite(fd, buf, BS, (off_t)(blk * BS));
		if (n != BS) {
			printf("BLKPATTERN-ERROR writer %u block %" PRIu64 ": %s\n", w, blk,
			       n < 0 ? strerror(errno) : "short write");
			fflush(stdout);
			return 1;
		}
	}
	if (fdatasync(fd)) {
		printf("BLKPATTERN-ERROR writer %u fdatasync: %s\n", w, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int do_write(const char *dev, unsigned int writers, uint64_t blocks, uint64_t seed)
{
	unsigned int w, errors = 0;
	pid_t pid[MAX_WRITERS];
	int st;

	for (w = 0; w < writers; w++) {
		pid[w] = fork();
		if (pid[w] < 0)
			return 1;
		if (!pid[w])
			_exit(writer(dev, w, blocks, seed));
	}
	for (w = 0; w < writers; w++)
		if (waitpid(pid[w], &st, 0) != pid[w] || !WIFEXITED(st) || WEXITSTATUS(st))
			errors++;
	printf("BLKPATTERN write blocks=%" PRIu64 " bad=0 errors=%u rc=%d\n",
	       writers * blocks, errors, errors ? 1 : 0);
	return errors ? 1 : 0;
}

/* Reads CHUNK blocks at a time: a slow disk answers each read late. */
#define CHUNK	64

static int do_verify(const char *dev, unsigned int writers, uint64_t blocks, uint64_t seed)
{
	uint64_t *buf, *want, *b, blk, bad = 0, errors = 0, total = writers * blocks;
	unsigned int k;
	int fd;

	if (posix_memalign((void **)&buf, BS, BS * CHUNK) || posix_memalign((void **)&want, BS, BS))
		return 1;
	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "blkpattern: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	for (blk = 0; blk < total; blk += k) {
		k = total - blk < CHUNK ? total - blk : CHUNK;
		if (pread(fd, buf, (size_t)BS * k, (off_t)(blk * BS)) != (ssize_t)BS * k) {
			errors += k;
			continue;
		}
		for (b = buf; b < buf + (size_t)WORDS * k; b += WORDS) {
			uint64_t nr = blk + (b - buf) / WORDS;

			fill(want, nr, nr / blocks, seed);
			if (!memcmp(b, want, BS))
				continue;
			if (bad < 8)
				printf("BLKPATTERN-BAD block %" PRIu64 ": magic %#" PRIx64
				       " number %" PRIu64 " seed %" PRIu64 " writer %" PRIu64 "\n",
				       nr, b[0], b[1], b[2], b[3]);
			bad++;
		}
	}
	close(fd);
	printf("BLKPATTERN verify blocks=%" PRIu64 " bad=%" PRIu64 " errors=%" PRIu64 " rc=%d\n",
	       writers * blocks, bad, errors, bad || errors ? 1 : 0);
	return bad || errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long long blocks, seed;
	unsigned int writers;

	if (argc != 6)
		goto usage;
	writers = strtoul(argv[3], NULL, 0);
	blocks = strtoull(argv[4], NULL, 0);
	seed = strtoull(argv[5], NULL, 0);
	if (!writers || writers > MAX_WRITERS || !blocks || blocks > (1ULL << 30))
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], writers, blocks, seed);
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[2], writers, blocks, seed);
usage:
	fprintf(stderr, "usage: blkpattern write|verify DEVICE WRITERS(1-%d) BLOCKS SEED\n",
		MAX_WRITERS);
	return 2;
}
