// SPDX-License-Identifier: GPL-2.0
/*
 * kvmio blk-serve: the dirty log of a live migration.
 *
 * While QEMU migrates a guest it must know every guest page written behind
 * its back, and vhost_blk writes guest memory (the data of reads, status
 * bytes, used rings) without QEMU.  The vhost-user protocol's answer is a
 * shared bitmap: QEMU creates it in a memory file, sends the file with
 * VHOST_USER_SET_LOG_BASE (protocol feature LOG_SHMFD), then acks
 * VHOST_F_LOG_ALL; the back end sets bit N whenever it writes the 4 KiB
 * guest-physical page N, and QEMU sends those pages again.
 *
 * The bridge maps the file and hands the kernel the address of the bitmap
 * in its own address space (VHOST_SET_LOG_BASE): vhost_blk's bitmap is
 * indexed by guest-physical page exactly as QEMU's is (bit N of the
 * little-endian bitmap, vhost_blk/log.c), so nothing is translated.  The
 * kernel only checks that the address is a user address, not that it is
 * mapped or big enough: a bitmap shorter than the memory table would let
 * the kernel set bits in whatever the bridge maps after it.  So the bridge
 * refuses a log that does not cover every page of the memory table, and a
 * memory table that outgrows the log while logging (blk_bridge.c).
 *
 * A new log (QEMU resizes it when memory is plugged during a migration)
 * replaces the old one in this order: map the new file, switch the kernel
 * (vhost_blk drains the requests in flight before it switches, so nothing
 * logs into the old bitmap afterwards), then unmap the old one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/vhost.h>

#include "blk_bridge_log.h"

#define LOG_PAGE_SHIFT	12

/*
 * Whether @log covers every page below guest-physical @mem_end (the end of
 * the highest region of the memory table; 0: no table yet).
 */
int bridge_log_covers(const struct bridge_log *log, uint64_t mem_end)
{
	uint64_t pages = (mem_end >> LOG_PAGE_SHIFT) +
			 !!(mem_end & ((1ULL << LOG_PAGE_SHIFT) - 1));

	return log->base && pages / 8 + !!(pages % 8) <= log->size;
}

void bridge_log_unmap(struct bridge_log *log)
{
	if (log->base)
		munmap(log->base, log->len);
	memset(log, 0, sizeof(*log));
}

/**
 * bridge_log_set_base() - map a new log and point the kernel at it
 * @log: the current log, replaced on success and kept on failure
 * @vhost: the /dev/vhost-blk device
 * @size: bytes of bitmap, from VHOST_USER_SET_LOG_BASE
 * @offset: where the bitmap starts in @fd
 * @fd: QEMU's log file (not taken: the caller closes it, the mapping stays)
 * @mem_end: end of the memory table (guest-physical), 0 if none yet
 *
 * Return: 0, or -EINVAL (a bitmap that is empty, wraps, lies past the end
 * of its file or misses pages of the memory table), -errno of mmap or of
 * VHOST_SET_LOG_BASE.
 */
int bridge_log_set_base(struct bridge_log *log, int vhost, uint64_t size,
			uint64_t offset, int fd, uint64_t mem_end)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off, base;
	struct bridge_log nl = { .size = size };
	struct stat st;
	int err;

	off = offset & ~(page - 1);
	if (!size || offset > UINT64_MAX - size ||
	    size + (offset - off) > SIZE_MAX || off > (uint64_t)INT64_MAX)
		goto bad;
	/* a bitmap past the end of its file would fault when the kernel sets a bit */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    offset + size > (uint64_t)st.st_size)
		goto bad;
	nl.len = size + (offset - off);
	nl.base = mmap(NULL, nl.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (nl.base == MAP_FAILED) {
		err = -errno;
		fprintf(stderr, "kvmio blk-serve: cannot map the dirty log: %s\n",
			strerror(errno));
		return err;
	}
	nl.bitmap = (uint8_t *)nl.base + (offset - off);
	if (mem_end && !bridge_log_covers(&nl, mem_end)) {
		fprintf(stderr, "kvmio blk-serve: dirty log of %llu bytes does not cover guest memory up to %#llx\n",
			(unsigned long long)size, (unsigned long long)mem_end);
		munmap(nl.base, nl.len);
		return -EINVAL;
	}
	base = (uint64_t)(uintptr_t)nl.bitmap;
	if (ioctl(vhost, VHOST_SET_LOG_BASE, &base) < 0) {
		err = -errno;
		fprintf(stderr, "kvmio blk-serve: VHOST_SET_LOG_BASE: %s\n", strerror(errno));
		munmap(nl.base, nl.len);
		return err;
	}
	/* the kernel uses the new bitmap only now: the old one can go */
	bridge_log_unmap(log);
	*log = nl;
	return 0;
bad:
	fprintf(stderr, "kvmio blk-serve: dirty log (size %llu, offset %llu) is invalid\n",
		(unsigned long long)size, (unsigned long long)offset);
	return -EINVAL;
}

/*
 * VHOST_USER_SET_LOG_FD: an eventfd the kernel signals after each batch of
 * requests that logged something (VHOST_SET_LOG_FD).  The kernel takes its
 * own reference; the caller closes @fd.
 */
int bridge_log_set_fd(int vhost, int fd)
{
	if (ioctl(vhost, VHOST_SET_LOG_FD, &fd) < 0) {
		int err = -errno;

		fprintf(stderr, "kvmio blk-serve: VHOST_SET_LOG_FD: %s\n", strerror(errno));
		return err;
	}
	return 0;
}
