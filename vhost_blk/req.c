// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk requests: decode a virtio-blk request whose descriptors the ring
 * code has translated, run it on the backend, write its status byte.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "vhost_blk_priv.h"

/* struct virtio_blk_outhdr, little-endian (VIRTIO_F_VERSION_1) */
struct vblk_outhdr {
	__le32 type;
	__le32 ioprio;
	__le64 sector;
};

/* IN or OUT: @data holds the guest's buffers for the transfer. */
static u8 vblk_req_rw(struct vblk_req *req, struct iov_iter *data, u64 sector,
		      bool write)
{
	struct vblk_dev *dev = req->vq->dev;
	struct vblk_backend *be = req->vq->be;
	u64 len = iov_iter_count(data);
	ssize_t ret;

	if (write && be->readonly) {
		vblk_count(dev, err_readonly);
		return VIRTIO_BLK_S_IOERR;
	}
	if (len % SECTOR_SIZE || sector > be->capacity ||
	    (len >> SECTOR_SHIFT) > be->capacity - sector) {
		vblk_count(dev, err_range);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!len)
		return VIRTIO_BLK_S_OK;
	ret = vblk_backend_rw(be, data, sector << SECTOR_SHIFT, write);
	if (ret != len) {
		vblk_count(dev, err_io);
		return VIRTIO_BLK_S_IOERR;
	}
	atomic64_add(len, write ? &dev->stats.bytes_written :
				  &dev->stats.bytes_read);
	return VIRTIO_BLK_S_OK;
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
	size_t len = iov_iter_count(data);
	unsigned int i, nr = len / sizeof(seg[0]);
	u32 allowed = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	int ret;

	if (be->readonly) {
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
		    sector > be->capacity || num > be->capacity - sector ||
		    sector % align || num % align) {
			vblk_count(dev, err_range);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	for (i = 0; i < nr; i++) {
		u64 pos = le64_to_cpu(seg[i].sector) << SECTOR_SHIFT;
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
 * vblk_req_handle() - run one request
 * @req: the request, as vblk_walk() described it
 *
 * Return: the number of bytes written to the guest's buffers (for the used
 * ring), including the status byte.
 */
u32 vblk_req_handle(struct vblk_req *req)
{
	struct vblk_vq *vq = req->vq;
	struct vblk_dev *dev = vq->dev;
	struct iov_iter rd, wr;
	u8 serial[VHOST_BLK_SERIAL_LEN];
	struct vblk_outhdr hdr;
	u32 written = 0;
	size_t n;
	u8 status;

	if (req->bad || req->rd_len > U32_MAX || req->wr_len > U32_MAX)
		goto bad;
	iov_iter_init(&rd, ITER_SOURCE, vq->iov, req->nr_rd, req->rd_len);
	/* the writable part minus the status byte, which is its last byte */
	iov_iter_init(&wr, ITER_DEST, vq->iov + req->nr_rd, req->nr_wr,
		      req->wr_len);
	iov_iter_truncate(&wr, req->wr_len - 1);
	if (copy_from_iter(&hdr, sizeof(hdr), &rd) != sizeof(hdr))
		goto bad;

	switch (le32_to_cpu(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		vblk_count(dev, req_in);
		n = iov_iter_count(&wr);
		status = vblk_req_rw(req, &wr, le64_to_cpu(hdr.sector), false);
		if (status == VIRTIO_BLK_S_OK)
			written = n;
		break;
	case VIRTIO_BLK_T_OUT:
		vblk_count(dev, req_out);
		status = vblk_req_rw(req, &rd, le64_to_cpu(hdr.sector), true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		vblk_count(dev, req_flush);
		status = VIRTIO_BLK_S_OK;
		if (vblk_backend_flush(vq->be)) {
			vblk_count(dev, err_io);
			status = VIRTIO_BLK_S_IOERR;
		}
		break;
	case VIRTIO_BLK_T_GET_ID:
		vblk_count(dev, req_get_id);
		spin_lock(&dev->serial_lock);
		memcpy(serial, dev->serial, sizeof(serial));
		spin_unlock(&dev->serial_lock);
		n = min_t(size_t, iov_iter_count(&wr), sizeof(serial));
		written = copy_to_iter(serial, n, &wr);
		status = written == n ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_DISCARD:
		vblk_count(dev, req_discard);
		status = vblk_req_dwz(req, &rd, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		vblk_count(dev, req_write_zeroes);
		status = vblk_req_dwz(req, &rd, true);
		break;
	default:
		vblk_count(dev, req_other);
		vblk_count(dev, err_unsupp);
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	goto out;

bad:
	vblk_count(dev, err_bad_desc);
	vblk_vq_err(vq, "malformed request (head %u)\n", req->head);
	status = VIRTIO_BLK_S_IOERR;
out:
	if (put_user(status, req->status))
		vblk_count(dev, err_bad_desc);
	return written + 1;
}
