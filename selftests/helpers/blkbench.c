// SPDX-License-Identifier: GPL-2.0
/*
 * blkbench - 4 KiB random O_DIRECT reads or writes at a queue depth, for
 * make bench-blk (not a test).  Linux AIO through the raw system calls, so
 * it links statically and runs in a second-level guest's initramfs.
 *
 *	blkbench DEVICE read|write QUEUE_DEPTH SECONDS
 *
 * Prints "BLKBENCH <read|write> qd=<n> iops=<completions per second>".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>

#include "../lib/kt_bench.h"

#define BS	4096
#define MAXQD	64

int main(int argc, char **argv)
{
	struct iocb cbs[MAXQD], *p[1];
	struct io_event ev[MAXQD];
	aio_context_t ctx = 0;
	uint64_t size, blocks, done = 0;
	int fd, qd, write, i, secs;
	double t0, end;
	void *buf;

	if (argc != 5)
		goto usage;
	write = !strcmp(argv[2], "write");
	if (!write && strcmp(argv[2], "read"))
		goto usage;
	qd = atoi(argv[3]);
	secs = atoi(argv[4]);
	if (qd < 1 || qd > MAXQD || secs < 1)
		goto usage;
	fd = open(argv[1], (write ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) || size < 16 * BS) {
		perror(argv[1]);
		return 1;
	}
	blocks = size / BS;
	if (posix_memalign(&buf, BS, (size_t)BS * qd))
		return 1;
	memset(buf, 0x5a, (size_t)BS * qd);
	if (syscall(SYS_io_setup, qd, &ctx)) {
		perror("io_setup");
		return 1;
	}
	for (i = 0; i < qd; i++) {
		memset(&cbs[i], 0, sizeof(cbs[i]));
		cbs[i].aio_fildes = fd;
		cbs[i].aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		cbs[i].aio_buf = (uintptr_t)buf + (size_t)BS * i;
		cbs[i].aio_nbytes = BS;
		cbs[i].aio_offset = (kt_rnd() % blocks) * BS;
		cbs[i].aio_data = i;
		p[0] = &cbs[i];
		if (syscall(SYS_io_submit, ctx, 1, p) != 1) {
			perror("io_submit");
			return 1;
		}
	}
	t0 = kt_now();
	end = t0 + secs;
	while (kt_now() < end) {
		long n = syscall(SYS_io_getevents, ctx, 1, qd, ev, NULL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("io_getevents");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct iocb *cb = &cbs[ev[i].data];

			if (ev[i].res != BS) {
				fprintf(stderr, "blkbench: I/O error %lld\n", (long long)ev[i].res);
				return 1;
			}
			done++;
			cb->aio_offset = (kt_rnd() % blocks) * BS;
			p[0] = cb;
			if (syscall(SYS_io_submit, ctx, 1, p) != 1) {
				perror("io_submit");
				return 1;
			}
		}
	}
	printf("BLKBENCH %s qd=%d iops=%.0f\n", argv[2], qd, done / (kt_now() - t0));
	return 0;
usage:
	fprintf(stderr, "usage: blkbench DEVICE read|write QUEUE_DEPTH(1..%d) SECONDS\n", MAXQD);
	return 2;
}
