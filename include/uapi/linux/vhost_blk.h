/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost_blk.h - private ioctls of /dev/vhost-blk (kvmio's in-kernel
 * virtio-blk backend)
 *
 * /dev/vhost-blk is driven by the standard vhost ioctls of <linux/vhost.h>
 * (VHOST_SET_OWNER, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_*, ...; see
 * Documentation/vhost_blk.rst for the subset and its exact semantics).  This
 * header adds the backend ioctl and the device's private ioctls.  The private
 * numbers (0xF0..0xF7 and 0xFF in the VHOST_VIRTIO space) are not used by
 * <linux/vhost.h> of Linux 6.1 or 6.12.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vhost.h>

/* Number of virtqueues of every /dev/vhost-blk device (vring index 0..15). */
#define VHOST_BLK_NUM_QUEUES	16

/*
 * Most regions in one VHOST_SET_MEM_TABLE; more fail with E2BIG.  The
 * table may be replaced while rings run (memory hot-plug): the call waits
 * for the requests in flight, which hold addresses of the old table.
 */
#define VHOST_BLK_MAX_MEM_REGIONS	64

/* Largest number of data segments per request (VIRTIO_BLK_F_SEG_MAX). */
#define VHOST_BLK_SEG_MAX	128

/* Limits of VIRTIO_BLK_T_DISCARD and VIRTIO_BLK_T_WRITE_ZEROES requests. */
#define VHOST_BLK_DISCARD_SEG_MAX	16
#define VHOST_BLK_DISCARD_SECTORS_MAX	(1U << 22)

/* Length of the serial number returned by VIRTIO_BLK_T_GET_ID. */
#define VHOST_BLK_SERIAL_LEN	20

/**
 * VHOST_BLK_SET_BACKEND - _IOW(VHOST_VIRTIO, 0xFF, struct vhost_vring_file)
 *
 * Attach the backend of the device: @fd is an open regular file or block
 * device; @index must be 0.  The file must be open for reading, and for
 * writing unless the device is read-only (VHOST_BLK_SET_FLAGS).  The device
 * takes its own reference; the caller may close @fd afterwards.  The capacity
 * is the file's size rounded down to 512-byte sectors, read when the backend
 * is attached.  A file opened with O_DIRECT is read and written with
 * asynchronous direct I/O (several requests in flight per ring), others
 * synchronously through the page cache.  fd == -1 detaches the backend, and
 * a new fd replaces it, after every request in flight on the old one has
 * completed into the used rings.  Rings are processed only while a backend
 * is attached.
 *
 * Caller must own the device (VHOST_SET_OWNER).
 *
 * Return: 0 on success, -1 and errno: EPERM (not the owner), EINVAL (@index
 * not 0, @fd neither a regular file nor a block device, or smaller than one
 * sector), EBADF (@fd not open, not readable, or not writable on a writable
 * device).
 */
#define VHOST_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, 0xFF, struct vhost_vring_file)

/**
 * VHOST_BLK_SET_SERIAL - _IOW(VHOST_VIRTIO, 0xF0, struct vhost_blk_serial)
 *
 * Set the serial number that VIRTIO_BLK_T_GET_ID returns (20 bytes, padded
 * with NUL bytes if shorter, as the virtio specification describes).  The
 * default is empty (20 NUL bytes).  Allowed at any time.
 *
 * Return: 0 on success, -1 and errno: EFAULT, EINVAL (@argsz too small,
 * unknown @flags, nonzero @pad).
 */
struct vhost_blk_serial {
	__u32 argsz;
	__u32 flags;			/* none defined: must be 0 */
	__u8 serial[VHOST_BLK_SERIAL_LEN];
	__u32 pad;			/* must be 0 */
};

#define VHOST_BLK_SET_SERIAL	_IOW(VHOST_VIRTIO, 0xF0, struct vhost_blk_serial)

/**
 * VHOST_BLK_SET_FLAGS - _IOW(VHOST_VIRTIO, 0xF1, struct vhost_blk_flags)
 *
 * Set device flags.  VHOST_BLK_FLAG_READONLY makes the device read-only:
 * VHOST_GET_FEATURES then offers VIRTIO_BLK_F_RO, and every VIRTIO_BLK_T_OUT
 * request completes with VIRTIO_BLK_S_IOERR without reaching the backend.
 * Only while no backend is attached.
 *
 * Return: 0 on success, -1 and errno: EFAULT, EINVAL (@argsz too small,
 * unknown flag bits), EBUSY (a backend is attached).
 */
struct vhost_blk_flags {
	__u32 argsz;
	__u32 flags;
#define VHOST_BLK_FLAG_READONLY	(1U << 0)
};

#define VHOST_BLK_SET_FLAGS	_IOW(VHOST_VIRTIO, 0xF1, struct vhost_blk_flags)

/**
 * VHOST_BLK_GET_CONFIG - _IOWR(VHOST_VIRTIO, 0xF2, struct vhost_blk_config)
 *
 * Report what a VMM needs for the virtio-blk configuration space.  The
 * caller sets @argsz; the kernel fills the rest.  @flags reports
 * VHOST_BLK_CONFIG_BACKEND (a backend is attached) and
 * VHOST_BLK_CONFIG_READONLY.  @capacity is in 512-byte sectors (0 without a
 * backend), @blk_size the backend's logical block size (512 for a regular
 * file), @seg_max VHOST_BLK_SEG_MAX, @num_queues VHOST_BLK_NUM_QUEUES.
 * The discard and write-zeroes limits are those of the virtio-blk
 * configuration space: at most @max_discard_seg segments of at most
 * @max_discard_sectors sectors each, starting and ending on multiples of
 * @discard_sector_alignment sectors (the logical block size); the same for
 * write zeroes, which may deallocate (@write_zeroes_may_unmap).
 *
 * Return: 0 on success, -1 and errno: EFAULT, EINVAL (@argsz too small).
 */
struct vhost_blk_config {
	__u32 argsz;
	__u32 flags;
#define VHOST_BLK_CONFIG_BACKEND	(1U << 0)
#define VHOST_BLK_CONFIG_READONLY	(1U << 1)
	__u64 capacity;
	__u32 blk_size;
	__u32 seg_max;
	__u32 num_queues;
	__u32 max_discard_sectors;
	__u32 max_discard_seg;
	__u32 discard_sector_alignment;
	__u32 max_write_zeroes_sectors;
	__u32 max_write_zeroes_seg;
	__u32 write_zeroes_may_unmap;
	__u32 pad;			/* written as 0 */
};

#define VHOST_BLK_GET_CONFIG	_IOWR(VHOST_VIRTIO, 0xF2, struct vhost_blk_config)

/**
 * VHOST_BLK_GET_STATS - _IOWR(VHOST_VIRTIO, 0xF3, struct vhost_blk_stats)
 *
 * Read the device's counters (the same ones as its sysfs directory
 * /sys/kernel/vhost_blk/<pid>-<n>/;
 * Documentation/vhost_blk.rst describes each).  The caller sets @argsz;
 * the kernel fills at most @argsz bytes of the structure, so older callers
 * keep working when counters are appended (req_async and the fields after
 * it were appended that way).  @argsz is set to the size filled.  @flags
 * must be 0.
 *
 * Return: 0 on success, -1 and errno: EFAULT, EINVAL (@argsz smaller than
 * the first two fields, nonzero @flags).
 */
struct vhost_blk_stats {
	__u32 argsz;
	__u32 flags;
	__u64 req_in;		/* VIRTIO_BLK_T_IN completed (any status) */
	__u64 req_out;		/* VIRTIO_BLK_T_OUT */
	__u64 req_flush;	/* VIRTIO_BLK_T_FLUSH */
	__u64 req_get_id;	/* VIRTIO_BLK_T_GET_ID */
	__u64 req_other;	/* any other type */
	__u64 bytes_read;	/* bytes read from the backend for the guest */
	__u64 bytes_written;	/* bytes written to the backend */
	__u64 err_bad_desc;	/* requests failed for malformed descriptors */
	__u64 err_range;	/* sectors past capacity or partial sectors */
	__u64 err_io;		/* backend I/O errors */
	__u64 err_unsupp;	/* unsupported request types */
	__u64 err_readonly;	/* writes refused on a read-only device */
	__u64 rings_broken;	/* rings stopped for unrecoverable guest errors */
	__u64 inflight;		/* requests taken, not yet in a used ring */
	__u64 kicks;		/* kick eventfd wake-ups */
	__u64 interrupts;	/* call eventfd signals */
	__u64 interrupts_suppressed; /* used batches the guest did not want signalled */
	__u64 req_discard;	/* VIRTIO_BLK_T_DISCARD */
	__u64 req_write_zeroes;	/* VIRTIO_BLK_T_WRITE_ZEROES */
	/* appended: older callers with a smaller @argsz do not get these */
	__u64 req_async;	/* IN/OUT submitted as asynchronous direct I/O */
	__u64 sync_fallbacks;	/* IN/OUT on an O_DIRECT backend redone buffered */
	__u64 poll_hits;	/* busy polls that found work */
	__u64 poll_misses;	/* busy polls that ran out of budget */
	__u64 poll_yields;	/* busy polls cut short for an ioctl on the ring */
	__u64 throttled_requests; /* requests held by the I/O limits */
	__u64 throttled_ns;	/* time requests were held by the I/O limits */
	__u64 share_waits;	/* requests held for a shared backend's fairness */
};

#define VHOST_BLK_GET_STATS	_IOWR(VHOST_VIRTIO, 0xF3, struct vhost_blk_stats)

/**
 * VHOST_BLK_RESIZE - _IO(VHOST_VIRTIO, 0xF4)
 *
 * Read the attached backend's size again (a regular file's size, a block
 * device's capacity; for a backend attached with a range, the range's
 * length, no more than what the backend still holds past its offset) and
 * make it the device's capacity, in 512-byte sectors, rounded down.  Every
 * request is checked against the capacity the device has when the worker
 * takes it, so a request past a capacity that shrank completes with
 * VIRTIO_BLK_S_IOERR (counted in err_range).  The VMM then reads the new
 * capacity with VHOST_BLK_GET_CONFIG and tells the guest (a configuration
 * change notification).
 *
 * Caller must own the device (VHOST_SET_OWNER).
 *
 * Return: 0 on success, -1 and errno: EPERM (not the owner), ENODEV (no
 * backend attached), EINVAL (the backend is now smaller than one sector).
 */
#define VHOST_BLK_RESIZE	_IO(VHOST_VIRTIO, 0xF4)

/**
 * VHOST_BLK_SET_LIMITS - _IOW(VHOST_VIRTIO, 0xF5, struct vhost_blk_limits)
 * VHOST_BLK_GET_LIMITS - _IOWR(VHOST_VIRTIO, 0xF6, struct vhost_blk_limits)
 *
 * I/O limits of the device: operations per second (@iops_*) and bytes per
 * second (@bps_*) for reads (VIRTIO_BLK_T_IN), writes (VIRTIO_BLK_T_OUT,
 * DISCARD and WRITE_ZEROES, which count as operations of no bytes) and
 * their total.  0 is no limit.  Each limit is a token bucket that holds at
 * most its @burst_* beyond the steady rate (operations or bytes that may
 * pass at once after the device was idle; 0 is a tenth of the rate, at
 * least one operation).  A request the buckets do not allow is not failed:
 * it stays in its ring, and the ring's worker takes it when the buckets
 * allow it (an hrtimer wakes it); requests behind it wait in the ring too.
 * A request is charged in full when it is taken, so a large one may drive
 * the bytes buckets into debt that the following requests wait out.  FLUSH
 * and GET_ID are not limited.  Each held request is counted once in
 * throttled_requests, and the time it was held in throttled_ns.
 *
 * @group: 0 for limits of this device alone.  Otherwise every device whose
 * owner sets the same @group shares one set of buckets (a throttle group,
 * as QEMU's): the limits are those of the last VHOST_BLK_SET_LIMITS on any
 * member.  Groups are private to the effective uid of the caller: devices
 * of different users never share a group (or could slow each other down),
 * even with the same @group.
 *
 * Rates and bursts are at most VHOST_BLK_LIMIT_MAX, and a burst at most an
 * hour of its rate.  GET_LIMITS reports the limits in force (the group's)
 * with @burst_* as set (0: the default); its @flags must be 0 on entry.
 * Allowed at any time; setting all
 * rates to 0 with @group 0 removes every limit.
 *
 * Caller must own the device (VHOST_SET_OWNER) for SET_LIMITS.
 *
 * Return: 0 on success, -1 and errno: EPERM (not the owner), EFAULT,
 * EINVAL (@argsz too small, nonzero @flags or @pad, a value too large),
 * ENOMEM.
 */
struct vhost_blk_limits {
	__u32 argsz;
	__u32 flags;			/* none defined: must be 0 */
	__u64 iops_rd;
	__u64 iops_wr;
	__u64 iops_total;
	__u64 bps_rd;
	__u64 bps_wr;
	__u64 bps_total;
	__u64 burst_iops_rd;
	__u64 burst_iops_wr;
	__u64 burst_iops_total;
	__u64 burst_bps_rd;
	__u64 burst_bps_wr;
	__u64 burst_bps_total;
	__u32 group;			/* 0: none */
	__u32 pad;			/* must be 0 */
};

#define VHOST_BLK_LIMIT_MAX	(1ULL << 40)

#define VHOST_BLK_SET_LIMITS	_IOW(VHOST_VIRTIO, 0xF5, struct vhost_blk_limits)
#define VHOST_BLK_GET_LIMITS	_IOWR(VHOST_VIRTIO, 0xF6, struct vhost_blk_limits)

/**
 * VHOST_BLK_SET_BACKEND_RANGE - _IOW(VHOST_VIRTIO, 0xF7, struct vhost_blk_range)
 *
 * Attach a range of a backend: as VHOST_BLK_SET_BACKEND, but the device
 * sees only the @length bytes of @fd from byte @offset on.  Its capacity is
 * @length / 512; every request is moved by @offset and checked against
 * @length (reads, writes, discards and write-zeroes), so the device never
 * reaches outside its range.  @offset and @length must be multiples of the
 * backend's logical block size and lie within the backend; @length 0 means
 * up to the backend's end.  Several devices may serve disjoint ranges of
 * one file or block device (nothing checks that they are disjoint: that is
 * the VMM's choice).
 *
 * @weight (1..1000, 0 = 100) is the device's share of the backend under
 * contention: devices attached to the same file or block device (same
 * inode) share its asynchronous (O_DIRECT) requests in flight.  When more
 * than one of them has requests in flight or waiting, each may keep at
 * most its weighted share of VHOST_BLK_SHARE_DEPTH requests in flight
 * (the default of the module parameter share_depth)
 * (more when the others leave theirs unused); a device alone is never held.
 * Requests held for it stay in their ring and are counted in share_waits.
 * Synchronous backends (no O_DIRECT) run one request per ring at a time
 * and are not weighted.
 *
 * Caller must own the device (VHOST_SET_OWNER).
 *
 * Return: 0 on success, -1 and errno as VHOST_BLK_SET_BACKEND, and EINVAL
 * (@argsz too small, nonzero @flags or @pad, @fd of -1, a misaligned or
 * out-of-bounds range, @weight above 1000).
 */
struct vhost_blk_range {
	__u32 argsz;
	__u32 flags;			/* none defined: must be 0 */
	__s32 fd;
	__u32 pad;			/* must be 0 */
	__u64 offset;			/* bytes */
	__u64 length;			/* bytes; 0: to the end */
	__u32 weight;			/* 0: 100 */
	__u32 pad2;			/* must be 0 */
};

#define VHOST_BLK_SHARE_DEPTH	64
#define VHOST_BLK_WEIGHT_MAX	1000

#define VHOST_BLK_SET_BACKEND_RANGE	_IOW(VHOST_VIRTIO, 0xF7, struct vhost_blk_range)

#endif /* _UAPI_LINUX_VHOST_BLK_H */
