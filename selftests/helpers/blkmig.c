// SPDX-License-Identifier: GPL-2.0
/*
 * blkmig - the writer of the live-migration test (vhost_blk_migrate_test.sh)
 * and its checker.  Static, so it runs in the second-level guest
 * (/lib/kvmio/blkmig) as well as in the test VM.
 *
 *	blkmig guest DEVICE CTL_BLOCK
 *		In the guest: poll the control block CTL_BLOCK of DEVICE
 *		(O_DIRECT, every 0.5 s) for "KVMIO-CTL <seq> <command>" that
 *		the test VM writes to the backend, and run the command once:
 *		  write <first> <count>	start writers <first>..<first+count-1>
 *		  stop			stop the writers, print what each wrote
 *		  off			return (the init powers the guest off)
 *		A line "BLKMIG tick <n>" every second shows the guest runs.
 *	blkmig ctl DEVICE CTL_BLOCK SEQ COMMAND...
 *		In the test VM: write a command into the control block.
 *	blkmig verify DEVICE ID GEN NEXT
 *		In the test VM: check writer ID's blocks on the backend.
 *
 * Writer ID owns blocks ID * RANGE .. ID * RANGE + RANGE - 1 (4 KiB each)
 * and writes them in order, generation after generation, each with
 * O_DIRECT, then reads it back (O_DIRECT, into another buffer that only the
 * device writes) and compares: a read's data page missing from the dirty log
 * while the guest migrates shows up here as a mismatch.  (The status byte
 * shares a page with what the guest's driver writes, and QEMU marks the used
 * ring dirty itself when it stops a ring, so those two are not caught here:
 * blk_bridge_test's dirty_log checks their bits.)
 * Each block holds a header (magic, writer, generation, block number,
 * write count), a pattern derived from them, and an FNV-1a checksum of
 * the rest in its last 8 bytes.  Progress every 0.5 s:
 *	BLKMIG id=<id> writes=<n> gen=<g> next=<block index in the range>
 * and when stopped:
 *	BLKMIG id=<id> done writes=<n> gen=<g> next=<i> errors=<e>
 * so every block below index i holds generation g and every block from i
 * on generation g - 1 (never written if g is 1: zeros); verify checks that
 * and every checksum.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define BS		4096
#define RANGE		1024		/* blocks per writer: 4 MiB */
#define MAX_WRITERS	16
#define MAGIC		0x4749414d4f494d4bULL	/* "KMIOMAIG" */

struct blkhdr {
	uint64_t magic;
	uint32_t id, gen;
	uint64_t block;
	uint64_t writes;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(1, line, n) < 0)
		exit(3);
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void fill(uint8_t *buf, uint32_t id, uint32_t gen, uint64_t block, uint64_t writes)
{
	struct blkhdr h = { MAGIC, id, gen, block, writes };
	uint64_t x = (block << 20) ^ ((uint64_t)gen << 40) ^ ((uint64_t)id << 56) ^ 0x9e3779b97f4a7c15ULL;
	uint64_t sum;
	size_t i;

	memcpy(buf, &h, sizeof(h));
	for (i = sizeof(h); i < BS - 8; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	sum = fnv1a(buf, BS - 8);
	memcpy(buf + BS - 8, &sum, 8);
}

/* 0: a good block of writer @id at @block, its generation in *@gen. */
static int check_block(const uint8_t *buf, uint32_t id, uint64_t block, uint32_t *gen)
{
	static uint8_t want[BS];
	struct blkhdr h;

	memcpy(&h, buf, sizeof(h));
	if (h.magic != MAGIC || h.id != id || h.block != block)
		return -1;
	fill(want, id, h.gen, block, h.writes);
	if (memcmp(want, buf, BS))
		return -1;
	*gen = h.gen;
	return 0;
}

static void *alloc_buf(void)
{
	void *p;

	if (posix_memalign(&p, BS, BS))
		exit(3);
	return p;
}

static int writer(const char *dev, uint32_t id)
{
	uint8_t *wbuf = alloc_buf(), *rbuf = alloc_buf();
	uint64_t writes = 0, i = 0, first = (uint64_t)id * RANGE;
	uint32_t gen = 1;
	double next_report = now() + 0.5;
	int fd, errors = 0;

	signal(SIGTERM, on_term);
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		say("BLKMIG id=%u cannot open %s: %s", id, dev, strerror(errno));
		return 1;
	}
	while (!stop) {
		off_t off = (off_t)(first + i) * BS;

		fill(wbuf, id, gen, first + i, writes);
		if (pwrite(fd, wbuf, BS, off) != BS) {
			say("BLKMIG id=%u write of block %llu failed: %s", id,
			    (unsigned long long)(first + i), strerror(errno));
			errors++;
			break;
		}
		writes++;
		/*
		 * Not cleared first: only the device writes @rbuf, so only
		 * the dirty log tells QEMU it changed (a CPU write would mark
		 * the page dirty in KVM's log too).  A read drained after the
		 * source stopped whose page was not logged leaves the
		 * previous block's data here on the target: a mismatch.
		 */
		if (pread(fd, rbuf, BS, off) != BS || memcmp(rbuf, wbuf, BS)) {
			say("BLKMIG id=%u MISMATCH block %llu gen %u", id,
			    (unsigned long long)(first + i), gen);
			errors++;
		}
		if (++i == RANGE) {
			i = 0;
			gen++;
		}
		if (now() >= next_report) {
			say("BLKMIG id=%u writes=%llu gen=%u next=%llu", id,
			    (unsigned long long)writes, gen, (unsigned long long)i);
			next_report += 0.5;
		}
	}
	if (fsync(fd))
		errors++;
	say("BLKMIG id=%u done writes=%llu gen=%u next=%llu errors=%d", id,
	    (unsigned long long)writes, gen, (unsigned long long)i, errors);
	close(fd);
	return errors ? 1 : 0;
}

static int read_ctl(int fd, uint64_t block, char *out, size_t len)
{
	static uint8_t *buf;

	if (!buf)
		buf = alloc_buf();
	if (pread(fd, buf, BS, (off_t)block * BS) != BS)
		return -1;
	buf[BS - 1] = 0;
	if (strncmp((char *)buf, "KVMIO-CTL ", 10))
		return -1;
	snprintf(out, len, "%s", (char *)buf + 10);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

static int guest(const char *dev, uint64_t ctl)
{
	pid_t pids[MAX_WRITERS];
	int fd, nw = 0, i, tick = 0, seen = -1, rc = 0;
	double next_tick = now() + 1;
	char cmd[128];

	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		say("BLKMIG cannot open %s: %s", dev, strerror(errno));
		return 1;
	}
	say("BLKMIG guest ready");
	for (;;) {
		int seq, first, count;
		char what[16];

		usleep(500 * 1000);
		if (now() >= next_tick) {
			say("BLKMIG tick %d", ++tick);
			next_tick += 1;
		}
		if (read_ctl(fd, ctl, cmd, sizeof(cmd)) || sscanf(cmd, "%d %15s", &seq, what) != 2 ||
		    seq == seen)
			continue;
		seen = seq;
		say("BLKMIG ctl %d %s", seq, what);
		if (!strcmp(what, "write") &&
		    sscanf(cmd, "%*d %*s %d %d", &first, &count) == 2 && first >= 0 &&
		    count > 0 && first + count <= MAX_WRITERS && !nw) {
			for (i = 0; i < count; i++) {
				pids[i] = fork();
				if (pids[i] == 0)
					exit(writer(dev, first + i));
			}
			nw = count;
		} else if (!strcmp(what, "stop")) {
			for (i = 0; i < nw; i++) {
				int st;

				kill(pids[i], SIGTERM);
				if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
					rc = 1;
			}
			nw = 0;
			say("BLKMIG stopped rc=%d", rc);
		} else if (!strcmp(what, "off")) {
			say("BLKMIG off");
			return rc;
		}
	}
}

static int ctl(const char *dev, uint64_t block, int argc, char **argv)
{
	uint8_t *buf = alloc_buf();
	size_t n;
	int fd, i;

	memset(buf, 0, BS);
	n = snprintf((char *)buf, BS, "KVMIO-CTL");
	for (i = 0; i < argc && n < BS - 64; i++)
		n += snprintf((char *)buf + n, BS - n, " %s", argv[i]);
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0 || pwrite(fd, buf, BS, (off_t)block * BS) != BS || fsync(fd)) {
		perror(dev);
		return 1;
	}
	close(fd);
	return 0;
}

static int verify(const char *dev, uint32_t id, uint32_t gen, uint64_t next)
{
	uint8_t *buf = alloc_buf();
	uint64_t i, first = (uint64_t)id * RANGE, bad = 0, good = 0, zero = 0;
	int fd;

	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror(dev);
		return 1;
	}
	for (i = 0; i < RANGE; i++) {
		uint32_t want = i < next ? gen : gen - 1, got = 0;
		size_t k;

		if (pread(fd, buf, BS, (off_t)(first + i) * BS) != BS) {
			perror("pread");
			return 1;
		}
		if (want == 0) {
			for (k = 0; k < BS && !buf[k]; k++)
				;
			if (k == BS) {
				zero++;
				continue;
			}
		} else if (!check_block(buf, id, first + i, &got) && got == want) {
			good++;
			continue;
		}
		if (bad++ < 5)
			printf("BLKMIG verify id=%u block %llu: want generation %u, %s %u\n", id,
			       (unsigned long long)(first + i), want,
			       got ? "found" : "bad block, generation", got);
	}
	printf("BLKMIG verify id=%u gen=%u next=%llu: %llu good, %llu never written, %llu bad\n",
	       id, gen, (unsigned long long)next, (unsigned long long)good,
	       (unsigned long long)zero, (unsigned long long)bad);
	close(fd);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "guest"))
		return guest(argv[2], strtoull(argv[3], NULL, 0));
	if (argc >= 5 && !strcmp(argv[1], "ctl"))
		return ctl(argv[2], strtoull(argv[3], NULL, 0), argc - 4, argv + 4);
	if (argc == 6 && !strcmp(argv[1], "verify"))
		return verify(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
			      strtoull(argv[5], NULL, 0));
	fprintf(stderr, "usage: blkmig guest DEVICE CTL_BLOCK | ctl DEVICE CTL_BLOCK SEQ CMD... | verify DEVICE ID GEN NEXT\n");
	return 2;
}
