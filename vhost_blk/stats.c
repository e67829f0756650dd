// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk statistics: debugfs vhost_blk/<pid>-<n>/stats and
 * VHOST_BLK_GET_STATS.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "vhost_blk_priv.h"

static void vblk_stats_fill(struct vblk_dev *dev, struct vhost_blk_stats *s)
{
	struct vblk_stats *c = &dev->stats;

	s->req_in = atomic64_read(&c->req_in);
	s->req_out = atomic64_read(&c->req_out);
	s->req_flush = atomic64_read(&c->req_flush);
	s->req_get_id = atomic64_read(&c->req_get_id);
	s->req_other = atomic64_read(&c->req_other);
	s->bytes_read = atomic64_read(&c->bytes_read);
	s->bytes_written = atomic64_read(&c->bytes_written);
	s->err_bad_desc = atomic64_read(&c->err_bad_desc);
	s->err_range = atomic64_read(&c->err_range);
	s->err_io = atomic64_read(&c->err_io);
	s->err_unsupp = atomic64_read(&c->err_unsupp);
	s->err_readonly = atomic64_read(&c->err_readonly);
	s->rings_broken = atomic64_read(&c->rings_broken);
	s->inflight = atomic64_read(&c->inflight);
	s->kicks = atomic64_read(&c->kicks);
	s->interrupts = atomic64_read(&c->interrupts);
	s->interrupts_suppressed = atomic64_read(&c->suppressed);
	s->req_discard = atomic64_read(&c->req_discard);
	s->req_write_zeroes = atomic64_read(&c->req_write_zeroes);
}

static int vblk_stats_show(struct seq_file *m, void *unused)
{
	struct vhost_blk_stats s;

	vblk_stats_fill(m->private, &s);
	seq_printf(m, "req_in %llu\nreq_out %llu\nreq_flush %llu\n",
		   s.req_in, s.req_out, s.req_flush);
	seq_printf(m, "req_get_id %llu\nreq_other %llu\n",
		   s.req_get_id, s.req_other);
	seq_printf(m, "bytes_read %llu\nbytes_written %llu\n",
		   s.bytes_read, s.bytes_written);
	seq_printf(m, "err_bad_desc %llu\nerr_range %llu\nerr_io %llu\n",
		   s.err_bad_desc, s.err_range, s.err_io);
	seq_printf(m, "err_unsupp %llu\nerr_readonly %llu\nrings_broken %llu\n",
		   s.err_unsupp, s.err_readonly, s.rings_broken);
	seq_printf(m, "inflight %llu\nkicks %llu\ninterrupts %llu\n",
		   s.inflight, s.kicks, s.interrupts);
	seq_printf(m, "interrupts_suppressed %llu\n", s.interrupts_suppressed);
	seq_printf(m, "req_discard %llu\nreq_write_zeroes %llu\n",
		   s.req_discard, s.req_write_zeroes);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vblk_stats);

void vblk_stats_debugfs_add(struct vblk_dev *dev, const char *name)
{
	dev->debugfs = debugfs_create_dir(name, vblk_debugfs_root);
	debugfs_create_file("stats", 0400, dev->debugfs, dev, &vblk_stats_fops);
}

void vblk_stats_debugfs_remove(struct vblk_dev *dev)
{
	debugfs_remove_recursive(dev->debugfs);
	dev->debugfs = NULL;
}

long vblk_stats_ioctl(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_stats s;
	u32 hdr[2];

	if (copy_from_user(hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr[0] < sizeof(hdr) || hdr[1])
		return -EINVAL;
	vblk_stats_fill(dev, &s);
	s.argsz = min_t(u32, hdr[0], sizeof(s));
	s.flags = 0;
	if (copy_to_user(argp, &s, s.argsz))
		return -EFAULT;
	return 0;
}
