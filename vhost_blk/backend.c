// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk backends: a regular file or a block device, read and written on
 * the guest's buffers (owner addresses; the worker runs in the owner's mm).
 *
 * - A block device opened with O_DIRECT: IN and OUT become bios of our
 *   own.  The guest's pages are pinned (pin_user_pages_fast(), FOLL_WRITE
 *   for reads into the guest), added to bios allocated on the device and
 *   submitted under the worker's block plug.  The last bio's end_io
 *   (irq context) records the status and hands the request back to the
 *   ring (req.c); the pages are unpinned, dirtied for reads, when the ring
 *   reaps the request (process context: dirtying a page may sleep).
 *   Requests of more than VBLK_BIO_MAX_PAGES pages use the kiocb path.
 * - A regular file opened with O_DIRECT: asynchronous direct I/O through a
 *   kiocb with ki_complete (as fs/aio.c does, with the same freeze
 *   protection handed from submission to completion): ->read_iter and
 *   ->write_iter pin the guest pages and return -EIOCBQUEUED; the
 *   completion, possibly in irq context, hands the request back.
 * - On both, a request whose device offset or buffers are not aligned to
 *   the backend's logical block size (offset, address or length), or that
 *   the file system refuses with -EINVAL, is redone synchronously with
 *   IOCB_DIRECT cleared (buffered), and counted as a fallback: a bio of
 *   ours is never misaligned for its device.
 * - Writes, discards and write-zeroes first ask vblk_backend_may_write():
 *   a device made read-only or swapped on after attach is not written.
 * - Otherwise: synchronous vfs_iter_read()/vfs_iter_write() through the
 *   page cache, coherent with other buffered users of the file or device.
 *
 * FLUSH of a block device opened with O_DIRECT whose page cache holds no
 * dirty page is an empty preflush bio, asynchronous; otherwise it is
 * vfs_fsync() after the ring's requests in flight.  DISCARD on a block
 * device that supports it is a discard (page cache written back and
 * dropped first); otherwise DISCARD and WRITE_ZEROES go through
 * vfs_fallocate(), which keeps a block device's page cache coherent.
 */
#include <linux/falloc.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

#include "vhost_blk_priv.h"

/*
 * The capacity, in sectors, that @be has now: the file's size or the block
 * device's capacity (a block device inode's i_size follows set_capacity()),
 * past the range's offset, at most the range's length.
 */
static u64 vblk_backend_size(struct vblk_backend *be)
{
	u64 size = i_size_read(be->file->f_mapping->host);

	if (size <= be->offset)
		return 0;
	size -= be->offset;
	if (be->length)
		size = min(size, be->length);
	return size >> SECTOR_SHIFT;
}

/**
 * vblk_backend_open() - take a reference on a backend for a device
 * @fd: the file or block device
 * @readonly: the device is read-only
 * @offset: byte offset of the device's range
 * @length: bytes of the range, 0: up to the backend's end
 * @out: the new backend
 *
 * Return: 0, -EBADF or -EINVAL (see VHOST_BLK_SET_BACKEND_RANGE), -ENOMEM.
 */
int vblk_backend_open(int fd, bool readonly, u64 offset, u64 length,
		      struct vblk_backend **out)
{
	struct vblk_backend *be;
	struct inode *inode;
	struct file *file;
	u64 end;
	int ret;

	file = fget(fd);
	if (!file)
		return -EBADF;
	inode = file->f_mapping->host;
	ret = -EINVAL;
	if (!S_ISREG(inode->i_mode) && !S_ISBLK(inode->i_mode))
		goto err_put;
	ret = -EBADF;
	if (!(file->f_mode & FMODE_READ) ||
	    (!readonly && !(file->f_mode & FMODE_WRITE)))
		goto err_put;
	ret = -ENOMEM;
	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		goto err_put;
	be->file = file;
	be->readonly = readonly;
	be->blk_size = SECTOR_SIZE;
	if (S_ISBLK(inode->i_mode)) {
		be->bdev = I_BDEV(inode);
		be->blk_size = bdev_logical_block_size(be->bdev);
	}
	be->direct = file->f_flags & O_DIRECT;
	be->dio_align = be->blk_size;
	if (S_ISREG(inode->i_mode) && inode->i_sb->s_bdev)
		be->dio_align = bdev_logical_block_size(inode->i_sb->s_bdev);
	ret = -EINVAL;
	/* the range: block-aligned, inside the backend as it is now */
	if ((offset | length) & (be->blk_size - 1) ||
	    check_add_overflow(offset, length, &end) ||
	    end > i_size_read(inode))
		goto err_free;
	be->offset = offset;
	be->length = length;
	be->capacity = vblk_backend_size(be);
	if (!be->capacity)
		goto err_free;
	*out = be;
	return 0;

err_free:
	kfree(be);
err_put:
	fput(file);
	return ret;
}

/**
 * vblk_backend_resize() - read the backend's size again
 * @be: the backend
 *
 * Called under the device's mutex.  Workers read the capacity with
 * READ_ONCE() when they take each request.
 *
 * Return: 0, or -EINVAL when the backend is now smaller than one sector
 * (the capacity is left as it was).
 */
int vblk_backend_resize(struct vblk_backend *be)
{
	u64 cap = vblk_backend_size(be);

	if (!cap)
		return -EINVAL;
	WRITE_ONCE(be->capacity, cap);
	return 0;
}

void vblk_backend_put(struct vblk_backend *be)
{
	vblk_share_leave(be);
	fput(be->file);
	kfree(be);
}

int vblk_backend_may_write(struct vblk_backend *be)
{
	if (be->readonly)
		return -EROFS;
	if (be->bdev && bdev_read_only(be->bdev))
		return -EPERM;
	if (IS_SWAPFILE(be->file->f_mapping->host))
		return -ETXTBSY;
	return 0;
}

/* Transfer all of @iter at byte offset @pos; returns bytes or -errno. */
ssize_t vblk_backend_rw(struct vblk_backend *be, struct iov_iter *iter,
			u64 pos, bool write)
{
	loff_t off = pos;
	ssize_t total = 0, ret;

	while (iov_iter_count(iter)) {
		if (write)
			ret = vfs_iter_write(be->file, iter, &off, 0);
		else
			ret = vfs_iter_read(be->file, iter, &off, 0);
		if (ret < 0)
			return ret;
		if (!ret)
			return -EIO;
		total += ret;
	}
	return total;
}

/* Synchronous and buffered (IOCB_DIRECT cleared) transfer of all of @iter. */
static ssize_t vblk_backend_rw_buffered(struct vblk_backend *be,
					struct iov_iter *iter, u64 pos,
					bool write)
{
	struct file *file = be->file;
	ssize_t total = 0, ret;
	struct kiocb kiocb;

	while (iov_iter_count(iter)) {
		init_sync_kiocb(&kiocb, file);
		kiocb.ki_flags &= ~IOCB_DIRECT;
		kiocb.ki_pos = pos + total;
		if (write) {
			kiocb.ki_flags |= IOCB_WRITE;
			file_start_write(file);
			ret = file->f_op->write_iter(&kiocb, iter);
			file_end_write(file);
		} else {
			ret = file->f_op->read_iter(&kiocb, iter);
		}
		if (ret < 0)
			return ret;
		if (!ret)
			return -EIO;
		total += ret;
	}
	return total;
}

/* Unpin the pages of a request's bios (process context: may sleep). */
void vblk_backend_unpin(struct vblk_req *req)
{
	if (!req->pages)
		return;
	/* a read wrote into the guest's pages */
	unpin_user_pages_dirty_lock(req->pages, req->nr_pages, !req->write);
	kvfree(req->pages);
	req->pages = NULL;
	req->nr_pages = 0;
}

/* Drop one reference of a request's bios; the last one completes it. */
static void vblk_bio_put_req(struct vblk_req *req)
{
	if (!atomic_dec_and_test(&req->bios))
		return;
	req->ret = req->bio_err ? req->bio_err : req->len;
	vblk_req_complete(req);
}

/* bio end_io: irq context. */
static void vblk_bio_end_io(struct bio *bio)
{
	struct vblk_req *req = bio->bi_private;

	if (bio->bi_status)
		cmpxchg(&req->bio_err, 0, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	vblk_bio_put_req(req);
}

/*
 * Walk the data: @nr iovecs from byte @skip on, @count bytes; calls @fn for
 * each piece (stops at its first nonzero return).
 */
static int vblk_iov_for_each(const struct iovec *iov, unsigned int nr,
			     size_t skip, size_t count,
			     int (*fn)(void *arg, unsigned long base, size_t len),
			     void *arg)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr && count; i++) {
		unsigned long base = (unsigned long)iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len = min(len - skip, count);
		skip = 0;
		count -= len;
		ret = fn(arg, base, len);
		if (ret)
			return ret;
	}
	return 0;
}

static int vblk_check_align(void *arg, unsigned long base, size_t len)
{
	const unsigned long *mask = arg;

	return (base | len) & *mask ? -EINVAL : 0;
}

static int vblk_count_pages(void *arg, unsigned long base, size_t len)
{
	unsigned long *n = arg;

	*n += DIV_ROUND_UP(offset_in_page(base) + len, PAGE_SIZE);
	return *n > VBLK_BIO_MAX_PAGES ? -E2BIG : 0;
}

static int vblk_pin_piece(void *arg, unsigned long base, size_t len)
{
	struct vblk_req *req = arg;
	int n = DIV_ROUND_UP(offset_in_page(base) + len, PAGE_SIZE);
	int ret;

	ret = pin_user_pages_fast(base & PAGE_MASK, n,
				  req->write ? 0 : FOLL_WRITE,
				  req->pages + req->nr_pages);
	if (ret > 0)
		req->nr_pages += ret;
	return ret == n ? 0 : -EFAULT;
}

/* Building the bios of one request. */
struct vblk_bio_ctx {
	struct vblk_req *req;
	struct block_device *bdev;
	struct bio *bio;
	blk_opf_t opf;
	u64 pos;			/* bytes, where the next byte goes */
	unsigned int page;		/* next page of req->pages */
};

static void vblk_bio_submit(struct vblk_bio_ctx *c)
{
	atomic_inc(&c->req->bios);
	submit_bio(c->bio);
	c->bio = NULL;
}

static int vblk_bio_piece(void *arg, unsigned long base, size_t len)
{
	struct vblk_bio_ctx *c = arg;
	struct vblk_req *req = c->req;
	unsigned int off = offset_in_page(base);

	while (len) {
		unsigned int chunk = min_t(size_t, len, PAGE_SIZE - off);

		if (!c->bio) {
			c->bio = bio_alloc(c->bdev,
					   min_t(unsigned int, BIO_MAX_VECS,
						 req->nr_pages - c->page),
					   c->opf, GFP_KERNEL);
			c->bio->bi_iter.bi_sector = c->pos >> SECTOR_SHIFT;
			c->bio->bi_end_io = vblk_bio_end_io;
			c->bio->bi_private = req;
		}
		if (bio_add_page(c->bio, req->pages[c->page], chunk, off) !=
		    chunk) {
			/* full: send it, the page goes to the next one */
			vblk_bio_submit(c);
			continue;
		}
		c->pos += chunk;
		len -= chunk;
		off = 0;
		c->page++;
	}
	return 0;
}

/*
 * Send an aligned IN or OUT to a block device as bios of our own.
 * Return: 1 submitted (asynchronous), 0 done with req->ret set, -E2BIG,
 * -ENOMEM or -EBUSY when the caller should use the kiocb path instead.
 */
static int vblk_backend_bios(struct vblk_req *req, u64 pos,
			     const struct iovec *iov, unsigned int nr,
			     size_t skip)
{
	struct vblk_vq *vq = req->vq;
	struct vblk_bio_ctx c = {
		.req = req,
		.bdev = vq->be->bdev,
		.opf = req->write ? REQ_OP_WRITE | REQ_SYNC | REQ_IDLE :
				    REQ_OP_READ,
		.pos = pos,
	};
	struct address_space *mapping = vq->be->file->f_mapping;
	loff_t end = pos + req->len - 1;
	unsigned long n = 0;
	int ret;

	ret = vblk_iov_for_each(iov, nr, skip, req->len, vblk_count_pages, &n);
	if (ret)
		return ret;
	/*
	 * Coherent with the page cache (buffered fallbacks, other users) as
	 * the kernel's own direct I/O is: write back dirty pages first, and
	 * drop the cached pages a write makes stale.
	 */
	if (!mapping_empty(mapping)) {
		ret = filemap_write_and_wait_range(mapping, pos, end);
		if (ret) {
			req->ret = ret;
			return 0;
		}
		if (req->write &&
		    invalidate_inode_pages2_range(mapping, pos >> PAGE_SHIFT,
						  end >> PAGE_SHIFT))
			return -EBUSY;	/* the kiocb path copes with it */
	}
	req->pages = kvmalloc_array(n, sizeof(*req->pages), GFP_KERNEL_ACCOUNT);
	if (!req->pages)
		return -ENOMEM;
	req->nr_pages = 0;
	/* the guest's memory: the worker runs in the owner's mm */
	if (vblk_iov_for_each(iov, nr, skip, req->len, vblk_pin_piece, req)) {
		req->ret = -EFAULT;	/* unpinned when the request is freed */
		return 0;
	}
	atomic_set(&req->bios, 1);
	req->bio_err = 0;
	vq->nr_inflight++;
	vblk_iov_for_each(iov, nr, skip, req->len, vblk_bio_piece, &c);
	if (c.bio)
		vblk_bio_submit(&c);
	vblk_count(vq->dev, req_async);
	/* may complete it at once: req is not touched afterwards */
	vblk_bio_put_req(req);
	return 1;
}

/* ki_complete: any context, irq included. */
static void vblk_backend_complete(struct kiocb *iocb, long ret)
{
	struct vblk_req *req = container_of(iocb, struct vblk_req, iocb);

	if (req->write && !req->vq->be->bdev)
		kiocb_end_write(iocb);
	req->ret = ret;
	vblk_req_complete(req);
}

/**
 * vblk_backend_submit() - start the data transfer of an IN or OUT request
 * @req: the request; req->iter holds the guest's buffers, req->len bytes
 * @pos: byte offset on the backend
 *
 * Called under the ring's mutex.
 *
 * Return: true when the transfer went asynchronous (req->ret is set by its
 * completion, which calls vblk_req_complete()), false when it is done and
 * req->ret is set.
 */
bool vblk_backend_submit(struct vblk_req *req, u64 pos)
{
	struct vblk_vq *vq = req->vq;
	struct vblk_backend *be = vq->be;
	struct file *file = be->file;
	struct kiocb *iocb = &req->iocb;
	struct iov_iter saved;
	const struct iovec *iov;
	unsigned long mask;
	unsigned int nr;
	size_t skip;
	ssize_t ret;

	lockdep_assert_held(&vq->mutex);
	if (!be->direct) {
		req->ret = vblk_backend_rw(be, &req->iter, pos, req->write);
		return false;
	}
	/* the data: after the header, or the writable part */
	iov = req->write ? req->iov : req->iov + req->nr_rd;
	nr = req->write ? req->nr_rd : req->nr_wr;
	skip = req->write ? req->rd_len - req->len : 0;
	/* device offset, length and every segment, as direct I/O wants */
	mask = be->dio_align - 1;
	if (((pos | req->len) & mask) ||
	    vblk_iov_for_each(iov, nr, skip, req->len, vblk_check_align, &mask))
		goto fallback;
	if (be->bdev) {
		ret = vblk_backend_bios(req, pos, iov, nr, skip);
		if (ret >= 0)
			return ret == 1;
	}

	init_sync_kiocb(iocb, file);
	iocb->ki_pos = pos;
	iocb->ki_complete = vblk_backend_complete;
	saved = req->iter;
	vq->nr_inflight++;
	if (req->write) {
		iocb->ki_flags |= IOCB_WRITE;
		/* freeze protection handed to the completion, as fs/aio.c */
		if (!be->bdev)
			kiocb_start_write(iocb);
		ret = file->f_op->write_iter(iocb, &req->iter);
	} else {
		ret = file->f_op->read_iter(iocb, &req->iter);
	}
	if (ret == -EIOCBQUEUED) {
		vblk_count(vq->dev, req_async);
		return true;
	}
	/* finished inline: ki_complete is not called */
	vq->nr_inflight--;
	if (req->write && !be->bdev)
		kiocb_end_write(iocb);
	if (ret == req->len) {
		req->ret = ret;
		return false;
	}
	req->iter = saved;
	if (ret > 0) {
		/* a short transfer: the rest synchronously */
		iov_iter_advance(&req->iter, ret);
		pos += ret;
	} else if (ret != -EINVAL) {
		req->ret = ret;
		return false;
	} else {
		ret = 0;
	}
	vblk_count(vq->dev, sync_fallbacks);
	req->ret = vblk_backend_rw_buffered(be, &req->iter, pos, req->write);
	if (req->ret >= 0)
		req->ret += ret;
	return false;

fallback:
	vblk_count(vq->dev, sync_fallbacks);
	req->ret = vblk_backend_rw_buffered(be, &req->iter, pos, req->write);
	return false;
}

int vblk_backend_flush(struct vblk_backend *be)
{
	return vfs_fsync(be->file, 0);
}

/* The preflush bio's end_io: irq context. */
static void vblk_flush_end_io(struct bio *bio)
{
	struct vblk_req *req = bio->bi_private;

	if (bio->bi_status) {
		vblk_count(req->vq->dev, err_io);
		req->status_val = VIRTIO_BLK_S_IOERR;
	}
	bio_put(bio);
	vblk_req_complete(req);
}

/**
 * vblk_backend_flush_async() - FLUSH a block device without blocking the ring
 * @req: the FLUSH request; req->status_val is set by the completion
 *
 * Called under the ring's mutex.  virtio-blk makes a write stable once it
 * has completed and a FLUSH sent after its completion has completed; an
 * empty preflush bio gives exactly that for every write that reached the
 * device as a bio (direct I/O), so the ring goes on while it runs.  Writes
 * still in the page cache (buffered fallbacks, other users of the device)
 * need writeback first: then, and for files and buffered backends, the
 * caller uses the synchronous vblk_backend_flush().
 *
 * Return: true when the flush went asynchronous.
 */
bool vblk_backend_flush_async(struct vblk_req *req)
{
	struct vblk_vq *vq = req->vq;
	struct vblk_backend *be = vq->be;
	struct address_space *mapping = be->file->f_mapping;
	struct bio *bio;

	lockdep_assert_held(&vq->mutex);
	if (!be->direct || !be->bdev ||
	    mapping_tagged(mapping, PAGECACHE_TAG_DIRTY) ||
	    mapping_tagged(mapping, PAGECACHE_TAG_WRITEBACK))
		return false;
	bio = bio_alloc(be->bdev, 0,
			REQ_OP_WRITE | REQ_PREFLUSH | REQ_SYNC, GFP_KERNEL);
	bio->bi_end_io = vblk_flush_end_io;
	bio->bi_private = req;
	req->status_val = VIRTIO_BLK_S_OK;
	vq->nr_inflight++;
	vblk_count(vq->dev, req_async);
	/* may complete it at once: req is not touched afterwards */
	submit_bio(bio);
	return true;
}

/*
 * DISCARD on a block device that discards, as the BLKDISCARD ioctl does:
 * under the inode and invalidate locks, the range's cached pages are
 * written back and dropped (nothing stale is read afterwards), then the
 * range is discarded.  Return: 0, -errno, or -EBUSY when pages of the range
 * cannot be dropped (mapped by someone): then nothing was discarded.
 */
static int vblk_backend_discard_bdev(struct vblk_backend *be, u64 pos,
				     u64 len)
{
	struct address_space *mapping = be->file->f_mapping;
	struct inode *inode = mapping->host;
	loff_t end = pos + len - 1;
	int ret;

	inode_lock(inode);
	filemap_invalidate_lock(mapping);
	ret = filemap_write_and_wait_range(mapping, pos, end);
	if (!ret && invalidate_inode_pages2_range(mapping, pos >> PAGE_SHIFT,
						  end >> PAGE_SHIFT))
		ret = -EBUSY;
	if (!ret)
		ret = blkdev_issue_discard(be->bdev, pos >> SECTOR_SHIFT,
					   len >> SECTOR_SHIFT, GFP_KERNEL);
	filemap_invalidate_unlock(mapping);
	inode_unlock(inode);
	return ret;
}

/*
 * DISCARD is a hint (the virtio specification lets a device ignore it): a
 * block device that discards gets a discard; elsewhere a hole is punched
 * where the backend can, else nothing is done.
 */
int vblk_backend_discard(struct vblk_backend *be, u64 pos, u64 len)
{
	int ret;

	if (be->bdev && bdev_max_discard_sectors(be->bdev)) {
		ret = vblk_backend_discard_bdev(be, pos, len);
		if (ret != -EBUSY && ret != -EOPNOTSUPP)
			return ret;
	}
	ret = vfs_fallocate(be->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    pos, len);
	return ret == -EOPNOTSUPP ? 0 : ret;
}

/* Write zero pages: the fallback when the backend has no zeroing op. */
static int vblk_backend_zero_fill(struct vblk_backend *be, u64 pos, u64 len)
{
	struct bio_vec bv[16];
	struct iov_iter it;
	unsigned int i, nr;
	size_t chunk;
	ssize_t ret;

	while (len) {
		chunk = min_t(u64, len, ARRAY_SIZE(bv) * PAGE_SIZE);
		nr = DIV_ROUND_UP(chunk, PAGE_SIZE);
		for (i = 0; i < nr; i++) {
			bv[i].bv_page = ZERO_PAGE(0);
			bv[i].bv_offset = 0;
			bv[i].bv_len = min_t(size_t, PAGE_SIZE,
					     chunk - i * PAGE_SIZE);
		}
		iov_iter_bvec(&it, ITER_SOURCE, bv, nr, chunk);
		ret = vblk_backend_rw(be, &it, pos, true);
		if (ret < 0)
			return ret;
		pos += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * WRITE_ZEROES: with @unmap, punching a hole is enough (files read back
 * zeroes from holes; block devices zero with unmap where they can);
 * otherwise, or where the backend cannot punch, zero the range in place.
 */
int vblk_backend_write_zeroes(struct vblk_backend *be, u64 pos, u64 len,
			      bool unmap)
{
	int ret;

	if (unmap) {
		ret = vfs_fallocate(be->file,
				    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
		if (ret != -EOPNOTSUPP)
			return ret;
	}
	ret = vfs_fallocate(be->file, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			    pos, len);
	if (ret != -EOPNOTSUPP)
		return ret;
	return vblk_backend_zero_fill(be, pos, len);
}
