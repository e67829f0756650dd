/* SPDX-License-Identifier: GPL-2.0 */
/* kvmio blk-serve: the dirty log of a live migration (blk_bridge_log.c) */
#ifndef _KVMIO_BLK_BRIDGE_LOG_H
#define _KVMIO_BLK_BRIDGE_LOG_H

#include <stddef.h>
#include <stdint.h>

/*
 * QEMU's dirty log as the bridge maps it (VHOST_USER_SET_LOG_BASE): a
 * bitmap, bit N for the 4 KiB guest-physical page N, in a shared memory
 * file QEMU reads while it migrates.  The kernel sets the bits through our
 * mapping (VHOST_SET_LOG_BASE takes an address of this process).
 */
struct bridge_log {
	void *base;		/* our mapping of QEMU's log file, NULL: none */
	size_t len;		/* of the mapping */
	uint8_t *bitmap;	/* where the bitmap starts in the mapping */
	uint64_t size;		/* bytes of bitmap QEMU sent */
};

int bridge_log_set_base(struct bridge_log *log, int vhost, uint64_t size,
			uint64_t offset, int fd, uint64_t mem_end);
int bridge_log_set_fd(int vhost, int fd);
int bridge_log_covers(const struct bridge_log *log, uint64_t mem_end);
void bridge_log_unmap(struct bridge_log *log);

#endif /* _KVMIO_BLK_BRIDGE_LOG_H */
