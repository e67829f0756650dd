/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost_blk_priv.h - state and cross-file functions of vhost_blk
 *
 * Locking (outermost first):
 *   vblk_dev.mutex   - device configuration: owner, memory table, features,
 *                      backend, flags, eventfd set-up; taken by every ioctl.
 *   vblk_vq.mutex    - one virtqueue's ring state, its ready list and its
 *                      in-flight count; held by the worker while it
 *                      processes that ring and by ioctls changing it.
 *                      Requests are submitted and reaped only under it, but
 *                      asynchronous ones stay in flight after it is dropped:
 *                      holding it does NOT mean the ring is idle.  Whoever
 *                      changes what a request in flight uses (backend,
 *                      memory table, ring layout, features, log, owner)
 *                      first calls vblk_vq_drain() under it, which waits
 *                      until nr_inflight is 0; it stays 0 until the mutex is
 *                      dropped, since only its holder submits.
 *                      Everyone but the worker takes it through
 *                      vblk_vq_lock(), which makes a busy-polling worker
 *                      give it up at once instead of at the end of the
 *                      budget.
 *   vblk_vq.done_lock - the ring's list of completed requests, filled by
 *                      completion callbacks (any context, irq included).
 *                      A callback touches nothing of the ring after it drops
 *                      this lock, so a ring whose nr_inflight reached 0 under
 *                      its mutex may be freed.
 *   vblk_dev.wake_lock - every ring's worker pointer as seen from the kick
 *                      and completion callbacks (nested inside done_lock
 *                      and vblk_share.lock).
 *   limits.c's vblk_tg_mutex, vblk_share_mutex (group and share lists) and
 *   vblk_tg.lock, vblk_share.lock (buckets, slots): see limits.c.
 */
#ifndef _VHOST_BLK_PRIV_H
#define _VHOST_BLK_PRIV_H

#include <linux/atomic.h>
#include <linux/blk_types.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/uidgid.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include <linux/vhost_types.h>

#include "uapi/linux/vhost_blk.h"

#define VBLK_NUM_QUEUES		VHOST_BLK_NUM_QUEUES
#define VBLK_MAX_REGIONS	VHOST_BLK_MAX_MEM_REGIONS
#define VBLK_MAX_RING		32768
/* largest IN/OUT sent as our own bios (pages); larger ones use a kiocb */
#define VBLK_BIO_MAX_PAGES	1024
/* iovecs per request: data segments, header, status, region splits */
#define VBLK_MAX_IOV		(VHOST_BLK_SEG_MAX + 64)
/* requests a ring's worker handles in a row before it yields (knob) */
#define VBLK_BATCH		64
#define VBLK_MAX_BATCH		1024
/* a shared backend's weight when none is given */
#define VBLK_WEIGHT_DEFAULT	100
/* upper bound of the busy-polling knob, microseconds */
#define VBLK_MAX_POLL_US	100000

#define VBLK_FEATURES	((1ULL << VIRTIO_F_VERSION_1) |			\
			 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
			 (1ULL << VIRTIO_RING_F_EVENT_IDX) |		\
			 (1ULL << VIRTIO_BLK_F_SEG_MAX) |		\
			 (1ULL << VIRTIO_BLK_F_BLK_SIZE) |		\
			 (1ULL << VIRTIO_BLK_F_FLUSH) |			\
			 (1ULL << VIRTIO_BLK_F_MQ) |			\
			 (1ULL << VIRTIO_BLK_F_DISCARD) |		\
			 (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |		\
			 (1ULL << VIRTIO_F_RING_PACKED) |		\
			 (1ULL << VHOST_F_LOG_ALL))

/* Guest memory: guest-physical ranges mapped at the owner's addresses. */
struct vblk_region {
	u64 gpa;
	u64 size;
	u64 uaddr;
};

struct vblk_mem {
	u64 log_pages;		/* bits of a dirty bitmap: vblk_log_pages() */
	u32 nregions;
	struct vblk_region regions[];
};

/* Split-ring layout, little-endian (VIRTIO_F_VERSION_1). */
struct vblk_desc {
	__le64 addr;
	__le32 len;
	__le16 flags;
	__le16 next;
};

/* Packed-ring descriptor (VIRTIO_F_RING_PACKED). */
struct vblk_pdesc {
	__le64 addr;
	__le32 len;
	__le16 id;
	__le16 flags;
};

/* Packed-ring event suppression structure (driver and device areas). */
struct vblk_pevent {
	__le16 off_wrap;
	__le16 flags;
};

struct vblk_used_elem {
	__le32 id;
	__le32 len;
};

/* Kick eventfd watched through its wait queue. */
struct vblk_poll {
	poll_table table;
	wait_queue_entry_t wait;
	wait_queue_head_t *wqh;
	struct file *file;
	struct vblk_vq *vq;
};

/* Token buckets of the I/O limits, in struct vhost_blk_limits order. */
enum vblk_tb {
	VBLK_TB_IOPS_RD, VBLK_TB_IOPS_WR, VBLK_TB_IOPS_TOTAL,
	VBLK_TB_BPS_RD, VBLK_TB_BPS_WR, VBLK_TB_BPS_TOTAL,
	VBLK_TB_NR
};

/* One token bucket as a theoretical arrival time (limits.c). */
struct vblk_bucket {
	u64 rate;		/* per second, 0: no limit */
	u64 burst;		/* as set, 0: the default */
	u64 tol_ns;		/* the burst, as time at the rate */
	u64 tat;		/* ktime_get_ns() the bucket is paid up to */
};

/* A device's or a throttle group's buckets. */
struct vblk_tg {
	struct list_head node;	/* vblk_tgs (groups); under vblk_tg_mutex */
	unsigned int users;	/* devices; under vblk_tg_mutex */
	u32 group;		/* 0: one device's own */
	kuid_t uid;		/* the group's user */
	/* protects b; see limits.c */
	spinlock_t lock;
	struct vblk_bucket b[VBLK_TB_NR];
};

/* The devices whose backends are one inode (limits.c). */
struct vblk_share {
	struct list_head node;	/* vblk_shares; under vblk_share_mutex */
	unsigned int users;	/* backends; under vblk_share_mutex */
	struct inode *inode;	/* the key; held through the members' files */
	/* protects the fields below and the members' share_* */
	spinlock_t lock;
	unsigned int nr_active;	/* members with slots or a waiting ring */
	u64 active_weight;	/* their weights */
	struct list_head waiters; /* rings waiting for a slot (share_node) */
};

struct vblk_backend {
	struct file *file;
	u64 capacity;		/* 512-byte sectors; READ_ONCE (resize) */
	u64 offset;		/* bytes: the device's range on the file */
	u64 length;		/* bytes, 0: to the end */
	u32 blk_size;
	u32 dio_align;		/* direct I/O: address and length alignment */
	bool readonly;
	bool direct;		/* opened O_DIRECT: asynchronous kiocbs */
	struct block_device *bdev; /* a block device backend, else NULL */
	struct vblk_share *share;
	u32 weight;
	unsigned int share_inflight;	/* slots held; under share->lock */
	unsigned int share_waiting;	/* rings waiting; under share->lock */
};

struct vblk_dev;

/* A writable guest range of a request (dirty logging). */
struct vblk_wrange {
	u64 gpa;
	u32 len;
};

struct vblk_vq {
	struct vblk_dev *dev;
	unsigned int index;
	/* protects every field below; see the top of this file */
	struct mutex mutex;

	/* ring configuration (ioctls) */
	u32 num;
	u64 desc_uaddr, avail_uaddr, used_uaddr;
	bool addr_set;
	u16 last_avail_idx;	/* next avail entry (packed: ring position) */
	u16 used_idx;		/* shadow of used->idx (packed: position) */
	bool avail_wrap;	/* packed: driver's wrap counter to expect */
	bool used_wrap;		/* packed: our used wrap counter */
	u16 used_unsignalled;	/* packed: entries used since last signal */
	u16 signalled_used;	/* used idx at the last interrupt */
	bool signalled_valid;
	bool call_missed;	/* an interrupt was due while no call fd was set */
	bool need_init;		/* check addresses, read used->idx */
	bool stopped;		/* VHOST_GET_VRING_BASE */
	bool broken;		/* unrecoverable guest error */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX acked */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC acked */
	bool packed;		/* VIRTIO_F_RING_PACKED acked */

	struct vblk_poll kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;

	/* copies of the device's state, updated under this mutex */
	struct vblk_mem *mem;
	struct vblk_backend *be;

	/* scratch for the chain walk, copied into each request */
	struct iovec *iov;
	struct vblk_wrange *wlog;	/* writable ranges, for the log */

	/* requests finished, waiting to be put in the used ring */
	struct list_head ready;
	/* asynchronous requests submitted and not yet reaped from done */
	unsigned int nr_inflight;
	bool poll_notify_off;		/* notifications disabled for polling */

	/* protects done; see the top of this file */
	spinlock_t done_lock;
	struct list_head done;		/* completed asynchronous requests */
	wait_queue_head_t done_wq;	/* woken when done gets a request */

	/* dirty logging: copies of the device's settings */
	bool log_all;			/* VHOST_F_LOG_ALL acked */
	u64 log_base;			/* owner address of the bitmap, 0: none */
	struct eventfd_ctx *log_ctx;	/* the device's reference */
	bool logged;			/* pages logged since the last signal */

	/* the ring's worker; pointer and liveness under dev->wake_lock */
	struct vblk_worker *worker;
	bool worker_live;
	unsigned long pending;		/* bit 0: the ring needs a look;
					 * bit 1: back off before it (a
					 * request could not be allocated) */
	atomic_t lockers;		/* vblk_vq_lock() callers waiting */

	/* I/O limits and shared backends (limits.c) */
	struct vblk_tg *tg;		/* copy of the device's */
	struct hrtimer throttle_timer;	/* queues the ring when it may go on */
	u64 held_since;			/* ns: the limits hold a request */
	bool held;			/* this pass stopped at a held request */
	struct list_head share_node;	/* share->waiters, under share->lock */
	struct vblk_backend *share_be;	/* waiting for a slot of its share */
};

struct vblk_stats {
	atomic64_t req_in, req_out, req_flush, req_get_id, req_other;
	atomic64_t bytes_read, bytes_written;
	atomic64_t err_bad_desc, err_range, err_io, err_unsupp, err_readonly;
	atomic64_t rings_broken, inflight, kicks, interrupts, suppressed;
	atomic64_t req_discard, req_write_zeroes;
	atomic64_t req_async, sync_fallbacks, poll_hits, poll_misses;
	atomic64_t poll_yields;
	atomic64_t throttled_requests, throttled_ns, share_waits;
};

struct vblk_worker;

struct vblk_dev {
	/* protects the configuration; see the top of this file */
	struct mutex mutex;
	struct mm_struct *mm;		/* owner's mm, NULL without owner */
	u64 features;			/* acked */
	struct vblk_mem *mem;
	struct vblk_backend *be;
	u64 log_base;
	struct eventfd_ctx *log_ctx;
	bool readonly;
	struct vblk_tg *tg;		/* I/O limits, NULL: none */
	/* protects serial (read by the worker, written by an ioctl) */
	spinlock_t serial_lock;
	u8 serial[VHOST_BLK_SERIAL_LEN];

	/* protects each vq's worker and worker_live; see the top of this file */
	spinlock_t wake_lock;

	struct vblk_stats stats;
	unsigned int max_batch;		/* sysfs knob, read with READ_ONCE */
	unsigned int poll_budget_us;	/* sysfs knob, read with READ_ONCE */
	struct kobject *kobj;		/* sysfs directory */
	struct vblk_vq vqs[VBLK_NUM_QUEUES];
};

/* main.c */
extern struct kobject *vblk_sysfs_root;

/* dev.c */
long vblk_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int vblk_open(struct inode *inode, struct file *file);
int vblk_release(struct inode *inode, struct file *file);

/* vring.c */
void vblk_vq_process(struct vblk_vq *vq);
void vblk_vq_lock(struct vblk_vq *vq);
void vblk_vq_drain(struct vblk_vq *vq, bool guest);
void vblk_vq_wait_idle(struct vblk_vq *vq);
bool vblk_vq_active(struct vblk_vq *vq);
u32 vblk_vq_get_base(struct vblk_vq *vq);
int vblk_vq_set_base(struct vblk_vq *vq, u32 base);
int vblk_translate(const struct vblk_mem *mem, u64 gpa, u64 len,
		   struct iovec *iov, unsigned int max_iov);

/* log.c */
static inline bool vblk_logging(struct vblk_vq *vq)
{
	return vq->log_all && vq->log_base;
}

int vblk_log_gpa(struct vblk_vq *vq, u64 gpa, u64 len);
int vblk_log_uaddr(struct vblk_vq *vq, u64 uaddr, u64 len);
u64 vblk_log_pages(const struct vblk_mem *mem);
bool vblk_log_access_ok(u64 base, const struct vblk_mem *mem);

/* req.c */

/*
 * One request, from the chain walk until its used entry is written.  It
 * lives on the heap: an asynchronous one outlives the worker's pass.
 */
struct vblk_req {
	struct list_head node;		/* vq->done, vq->ready */
	struct vblk_vq *vq;
	struct kiocb iocb;		/* asynchronous data transfer */
	struct iov_iter iter;		/* its data */
	u16 head;			/* split: head; packed: buffer id */
	u16 ndesc;			/* packed: ring entries of the chain */
	u16 pos;			/* packed: used position (publishing) */
	bool wrap;			/* packed: its wrap counter */
	unsigned int nr_rd, nr_wr;	/* iovecs readable, then writable */
	unsigned int nr_wlog;		/* entries of wlog */
	u64 rd_len, wr_len;
	u8 __user *status;		/* last byte of the final descriptor */
	u64 status_gpa;
	bool bad;			/* malformed but with a status byte */
	bool rw;			/* IN or OUT: status from ret */
	bool write;
	u8 status_val;			/* other types: the status */
	u32 written;			/* other types: bytes for the used ring */
	u64 len;			/* IN/OUT: bytes to transfer */
	long ret;			/* IN/OUT: bytes transferred or -errno */
	/* block device, O_DIRECT: our own bios on pinned guest pages */
	struct page **pages;		/* pinned, unpinned when freed */
	unsigned int nr_pages;
	atomic_t bios;			/* bios in flight, plus one */
	int bio_err;			/* first bio error, -errno */
	struct iovec *iov;		/* nr_rd + nr_wr entries */
	struct vblk_wrange *wlog;	/* writable ranges, for the log */
	/* the header, read once by vblk_req_peek() */
	bool hdr_ok;
	bool limited;			/* charged to the I/O limits */
	bool rw_type;			/* IN or OUT */
	u32 type;
	u64 sector;
	struct vblk_backend *share_be;	/* holds a slot of its share */
};

struct vblk_req *vblk_req_copy(const struct vblk_req *walked);
void vblk_req_start(struct vblk_req *req);
u32 vblk_req_finish(struct vblk_req *req);
void vblk_req_free(struct vblk_req *req);
void vblk_req_complete(struct vblk_req *req);
void vblk_req_peek(struct vblk_req *req);

/* backend.c */
int vblk_backend_open(int fd, bool readonly, u64 offset, u64 length,
		      struct vblk_backend **out);
int vblk_backend_resize(struct vblk_backend *be);
void vblk_backend_put(struct vblk_backend *be);
int vblk_backend_may_write(struct vblk_backend *be);
ssize_t vblk_backend_rw(struct vblk_backend *be, struct iov_iter *iter,
			u64 pos, bool write);
bool vblk_backend_submit(struct vblk_req *req, u64 pos);
void vblk_backend_unpin(struct vblk_req *req);
int vblk_backend_flush(struct vblk_backend *be);
bool vblk_backend_flush_async(struct vblk_req *req);
int vblk_backend_discard(struct vblk_backend *be, u64 pos, u64 len);
int vblk_backend_write_zeroes(struct vblk_backend *be, u64 pos, u64 len,
			      bool unmap);

/* limits.c */
int __vblk_limits_apply(struct vblk_dev *dev, struct vhost_blk_limits *l);
void __vblk_limits_get(struct vblk_dev *dev, struct vhost_blk_limits *l);
void __vblk_limits_free(struct vblk_dev *dev);
void vblk_limits_kick(struct vblk_dev *dev);
long vblk_set_limits(struct vblk_dev *dev, void __user *argp);
long vblk_get_limits(struct vblk_dev *dev, void __user *argp);
int vblk_share_join(struct vblk_backend *be, u32 weight);
void vblk_share_leave(struct vblk_backend *be);
void vblk_share_unwait(struct vblk_vq *vq);
void vblk_share_release(struct vblk_req *req);
void vblk_throttle_init(struct vblk_vq *vq);
void vblk_throttle_stop(struct vblk_vq *vq);
bool vblk_req_hold(struct vblk_vq *vq, struct vblk_req *req);

/* worker.c */
int vblk_worker_start(struct vblk_vq *vq);
void vblk_worker_stop(struct vblk_vq *vq);
void vblk_worker_queue(struct vblk_vq *vq);
void vblk_poll_init(struct vblk_vq *vq);
int vblk_poll_start(struct vblk_vq *vq, struct file *file);
void vblk_poll_stop(struct vblk_vq *vq);

/* sysfs.c */
int vblk_sysfs_add(struct vblk_dev *dev, const char *name);
void vblk_sysfs_remove(struct vblk_dev *dev);
long vblk_stats_ioctl(struct vblk_dev *dev, void __user *argp);

#define vblk_count(dev, ctr)	atomic64_inc(&(dev)->stats.ctr)

#define vblk_vq_err(vq, fmt, ...)						\
	pr_debug_ratelimited("queue %u: " fmt, (vq)->index, ##__VA_ARGS__)

#endif /* _VHOST_BLK_PRIV_H */
