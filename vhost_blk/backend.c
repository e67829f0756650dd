// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk backends: a regular file or a block device, accessed
 * synchronously by the worker with vfs_iter_read()/vfs_iter_write() on the
 * guest's buffers (owner addresses; the worker runs in the owner's mm).  A
 * file opened with O_DIRECT is read and written with direct I/O; FLUSH is
 * vfs_fsync(); DISCARD and WRITE_ZEROES go through vfs_fallocate(), which
 * keeps a block device's page cache coherent.
 */
#include <linux/falloc.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>

#include "vhost_blk_priv.h"

int vblk_backend_open(int fd, bool readonly, struct vblk_backend **out)
{
	struct vblk_backend *be;
	struct inode *inode;
	struct file *file;
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
	be->capacity = i_size_read(inode) >> SECTOR_SHIFT;
	be->blk_size = SECTOR_SIZE;
	if (S_ISBLK(inode->i_mode))
		be->blk_size = bdev_logical_block_size(I_BDEV(inode));
	ret = -EINVAL;
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

void vblk_backend_put(struct vblk_backend *be)
{
	fput(be->file);
	kfree(be);
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

int vblk_backend_flush(struct vblk_backend *be)
{
	return vfs_fsync(be->file, 0);
}

/*
 * DISCARD is a hint (the virtio specification lets a device ignore it):
 * punch a hole where the backend can, else do nothing.
 */
int vblk_backend_discard(struct vblk_backend *be, u64 pos, u64 len)
{
	int ret;

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
