// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk requests: decode a virtio-blk request whose descriptors the ring
 * code has translated, run it on the backend, write its status byte.
 *
 * A request is copied out of the ring's walk scratch into its own
 * allocation (vblk_req_copy()), started (vblk_req_start()), and ends on the
 * ring's ready list: at once when it ran synchronously, through the done
 * list when its data transfer is asynchronous (vblk_req_complete(), called
 * by the backend's completion).  The ring code then writes its status byte
 * (vblk_req_finish()), its used entry, and frees it (vblk_req_free()).
 */
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "vhost_blk_priv.h"

/* struct virtio_blk_outhdr, little-endian (VIRTIO_F_VERSION_1) */
struct vblk_outhdr {
	__le32 type;
	__le32 ioprio;
	__le64 sector;
};

/*
 * IN or OUT: req->iter holds the guest's buffers for the transfer.  Returns
 * true when the transfer went asynchronous.
 */
static bool vblk_req_rw(struct vblk_req *req, u64 sector, bool write)
{
	struct vblk_dev *dev = req->vq->dev;
	struct vblk_backend *be = req->vq->be;
	u64 len = iov_iter_count(&req->iter);
	/* the capacity now: VHOST_BLK_RESIZE may change it at any time */
	u64 cap = READ_ONCE(be->capacity);

	req->write = write;
	req->len = len;
	if (write && vblk_backend_may_write(be)) {
		vblk_count(dev, err_readonly);
		req->status_val = VIRTIO_BLK_S_IOERR;
		return false;
	}
	if (len % SECTOR_SIZE || sector > cap ||
	    (len >> SECTOR_SHIFT) > cap - sector) {
		vblk_count(dev, err_range);
		req->status_val = VIRTIO_BLK_S_IOERR;
		return false;
	}
	req->rw = true;
	req->ret = 0;
	if (!len)
		return false;
	/* inside the range: the sector is below its capacity */
	return vblk_backend_submit(req, (sector << SECTOR_SHIFT) + be->offset);
}

/* struct virtio_blk_discard_write_zeroes, little-endian */
struct vblk_dwz {
	__le64 sector;
	__le32 num_sectors;
	__le32 flags;
};

/*
 * DISCARD or WRITE_ZEROES: @data holds the segments.  All of them are
 * checked before any is run.
 */
static u8 vblk_req_dwz(struct vblk_req *req, struct iov_iter *data,
		       bool zeroes)
{
	struct vblk_dev *dev = req->vq->dev;
	struct vblk_backend *be = req->vq->be;
	struct vblk_dwz seg[VHOST_BLK_DISCARD_SEG_MAX];
	u64 align = be->blk_size >> SECTOR_SHIFT;
	u64 cap = READ_ONCE(be->capacity);
	size_t len = iov_iter_count(data);
	unsigned int i, nr = len / sizeof(seg[0]);
	u32 allowed = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	int ret;

	if (vblk_backend_may_write(be)) {
		vblk_count(dev, err_readonly);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!len || len % sizeof(seg[0]) || nr > ARRAY_SIZE(seg)) {
		vblk_count(dev, err_range);
		return VIRTIO_BLK_S_IOERR;
	}
	if (copy_from_iter(seg, len, data) != len) {
		vblk_count(dev, err_bad_desc);
		return VIRTIO_BLK_S_IOERR;
	}
	for (i = 0; i < nr; i++) {
		u64 sector = le64_to_cpu(seg[i].sector);
		u32 num = le32_to_cpu(seg[i].num_sectors);

		if (le32_to_cpu(seg[i].flags) & ~allowed) {
			vblk_count(dev, err_unsupp);
			return VIRTIO_BLK_S_UNSUPP;
		}
		if (num > VHOST_BLK_DISCARD_SECTORS_MAX ||
		    sector > cap || num > cap - sector ||
		    sector % align || num % align) {
			vblk_count(dev, err_range);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	for (i = 0; i < nr; i++) {
		u64 pos = (le64_to_cpu(seg[i].sector) << SECTOR_SHIFT) +
			  be->offset;
		u64 n = (u64)le32_to_cpu(seg[i].num_sectors) << SECTOR_SHIFT;
		bool unmap = le32_to_cpu(seg[i].flags) &
			     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

		if (!n)
			continue;
		if (zeroes)
			ret = vblk_backend_write_zeroes(be, pos, n, unmap);
		else
			ret = vblk_backend_discard(be, pos, n);
		if (ret) {
			vblk_count(dev, err_io);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	return VIRTIO_BLK_S_OK;
}

/**
 * vblk_req_copy() - give a walked request its own allocation
 * @walked: the request as the chain walk filled it (iovecs and writable
 *	ranges in the ring's scratch)
 *
 * Return: the new request, or NULL without memory.
 */
struct vblk_req *vblk_req_copy(const struct vblk_req *walked)
{
	unsigned int nr_iov = walked->nr_rd + walked->nr_wr;
	struct vblk_req *req;
	size_t size;

	/* both counts are at most VBLK_MAX_IOV: no overflow */
	size = sizeof(*req) + nr_iov * sizeof(struct iovec) +
	       walked->nr_wlog * sizeof(struct vblk_wrange);
	req = kmalloc(size, GFP_KERNEL_ACCOUNT);
	if (!req)
		return NULL;
	*req = *walked;
	INIT_LIST_HEAD(&req->node);
	req->pages = NULL;
	req->nr_pages = 0;
	req->iov = (struct iovec *)(req + 1);
	req->wlog = (struct vblk_wrange *)(req->iov + nr_iov);
	memcpy(req->iov, walked->iov, nr_iov * sizeof(struct iovec));
	memcpy(req->wlog, walked->wlog,
	       walked->nr_wlog * sizeof(struct vblk_wrange));
	req->share_be = NULL;
	atomic64_inc(&req->vq->dev->stats.inflight);
	vblk_req_peek(req);
	return req;
}

/*
 * Read the request's header once, and what the I/O limits charge for it:
 * reads and writes by their data, DISCARD and WRITE_ZEROES as writes of no
 * bytes.  A malformed request is not limited (it fails at once).
 */
void vblk_req_peek(struct vblk_req *req)
{
	struct vblk_outhdr hdr;
	struct iov_iter rd;

	req->hdr_ok = false;
	req->limited = false;
	req->rw_type = false;
	if (req->bad || req->rd_len > U32_MAX || req->wr_len > U32_MAX ||
	    !req->wr_len)
		return;
	iov_iter_init(&rd, ITER_SOURCE, req->iov, req->nr_rd, req->rd_len);
	if (copy_from_iter(&hdr, sizeof(hdr), &rd) != sizeof(hdr))
		return;
	req->hdr_ok = true;
	req->type = le32_to_cpu(hdr.type);
	req->sector = le64_to_cpu(hdr.sector);
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		req->limited = true;
		req->rw_type = true;
		req->write = false;
		req->len = req->wr_len - 1;
		break;
	case VIRTIO_BLK_T_OUT:
		req->limited = true;
		req->rw_type = true;
		req->write = true;
		req->len = req->rd_len - sizeof(hdr);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		req->limited = true;
		req->write = true;
		req->len = 0;
		break;
	}
}

void vblk_req_free(struct vblk_req *req)
{
	if (req->share_be)
		vblk_share_release(req);
	vblk_backend_unpin(req);
	atomic64_dec(&req->vq->dev->stats.inflight);
	kfree(req);
}

/**
 * vblk_req_complete() - an asynchronous transfer finished
 * @req: the request, req->ret set
 *
 * Any context, irq included.  Queues @req on its ring's done list and
 * wakes whoever reaps it.  The ring is not touched after done_lock is
 * dropped: it may be freed as soon as the request is reaped.
 */
void vblk_req_complete(struct vblk_req *req)
{
	struct vblk_vq *vq = req->vq;
	unsigned long flags;

	spin_lock_irqsave(&vq->done_lock, flags);
	list_add_tail(&req->node, &vq->done);
	wake_up(&vq->done_wq);
	vblk_worker_queue(vq);
	spin_unlock_irqrestore(&vq->done_lock, flags);
}

/**
 * vblk_req_start() - run one request, or start its data transfer
 * @req: the request, from vblk_req_copy()
 *
 * Called under the ring's mutex.  A request that ran to the end is put on
 * the ring's ready list; an asynchronous one gets there later through the
 * done list.
 */
void vblk_req_start(struct vblk_req *req)
{
	struct vblk_vq *vq = req->vq;
	struct vblk_dev *dev = vq->dev;
	struct iov_iter rd, wr;
	u8 serial[VHOST_BLK_SERIAL_LEN];
	size_t n;

	lockdep_assert_held(&vq->mutex);
	req->status_val = VIRTIO_BLK_S_IOERR;
	req->written = 0;
	req->rw = false;
	/* the header as vblk_req_peek() read it, once */
	if (!req->hdr_ok)
		goto bad;
	iov_iter_init(&rd, ITER_SOURCE, req->iov, req->nr_rd, req->rd_len);
	iov_iter_advance(&rd, sizeof(struct vblk_outhdr));
	/* the writable part minus the status byte, which is its last byte */
	iov_iter_init(&wr, ITER_DEST, req->iov + req->nr_rd, req->nr_wr,
		      req->wr_len);
	iov_iter_truncate(&wr, req->wr_len - 1);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		vblk_count(dev, req_in);
		req->iter = wr;
		if (vblk_req_rw(req, req->sector, false))
			return;
		break;
	case VIRTIO_BLK_T_OUT:
		vblk_count(dev, req_out);
		req->iter = rd;
		if (vblk_req_rw(req, req->sector, true))
			return;
		break;
	case VIRTIO_BLK_T_FLUSH:
		vblk_count(dev, req_flush);
		if (vblk_backend_flush_async(req))
			return;
		/* durable: every write of the ring that completed before */
		vblk_vq_wait_idle(vq);
		req->status_val = VIRTIO_BLK_S_OK;
		if (vblk_backend_flush(vq->be)) {
			vblk_count(dev, err_io);
			req->status_val = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		vblk_count(dev, req_get_id);
		spin_lock(&dev->serial_lock);
		memcpy(serial, dev->serial, sizeof(serial));
		spin_unlock(&dev->serial_lock);
		n = min_t(size_t, iov_iter_count(&wr), sizeof(serial));
		req->written = copy_to_iter(serial, n, &wr);
		req->status_val = req->written == n ? VIRTIO_BLK_S_OK :
						      VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_DISCARD:
		vblk_count(dev, req_discard);
		req->status_val = vblk_req_dwz(req, &rd, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		vblk_count(dev, req_write_zeroes);
		req->status_val = vblk_req_dwz(req, &rd, true);
		break;
	default:
		vblk_count(dev, req_other);
		vblk_count(dev, err_unsupp);
		req->status_val = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	list_add_tail(&req->node, &vq->ready);
	return;

bad:
	vblk_count(dev, err_bad_desc);
	vblk_vq_err(vq, "malformed request (head %u)\n", req->head);
	list_add_tail(&req->node, &vq->ready);
}

/**
 * vblk_req_finish() - account a finished request and write its status byte
 * @req: the request, off every list
 *
 * In the owner's mm (the worker, or an ioctl of the owner).
 *
 * Return: the number of bytes written to the guest's buffers (for the used
 * ring), including the status byte.
 */
u32 vblk_req_finish(struct vblk_req *req)
{
	struct vblk_dev *dev = req->vq->dev;

	if (req->rw) {
		if (req->ret == req->len) {
			req->status_val = VIRTIO_BLK_S_OK;
			atomic64_add(req->len, req->write ?
				     &dev->stats.bytes_written :
				     &dev->stats.bytes_read);
			req->written = req->write ? 0 : req->len;
		} else {
			vblk_count(dev, err_io);
			req->status_val = VIRTIO_BLK_S_IOERR;
			req->written = 0;
		}
	}
	if (put_user(req->status_val, req->status))
		vblk_count(dev, err_bad_desc);
	return req->written + 1;
}
