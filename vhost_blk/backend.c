// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk backends: a regular file or a block device, accessed
 * synchronously by the worker with vfs_iter_read()/vfs_iter_write() on the
 * guest's buffers (owner addresses; the worker runs in the owner's mm).  A
 * file opened with O_DIRECT is read and written with direct I/O; FLUSH is
 * vfs_fsync().
 */
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
