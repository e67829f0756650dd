// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk statistics and knobs: /sys/kernel/vhost_blk/<pid>-<n>/ (one
 * value per file) and VHOST_BLK_GET_STATS.
 *
 * Each device has a small kobject of its own that points at it; release()
 * removes the kobject (which waits for readers in show/store) before the
 * device is freed, so the pointer is valid whenever an attribute runs.
 */
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "vhost_blk_priv.h"

struct vblk_kobj {
	struct kobject kobj;
	struct vblk_dev *dev;
};

static struct vblk_dev *vblk_kobj_dev(struct kobject *kobj)
{
	return container_of(kobj, struct vblk_kobj, kobj)->dev;
}

#define VBLK_STAT_ATTR(name, field)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n",				\
		atomic64_read(&vblk_kobj_dev(kobj)->stats.field));	\
}									\
static struct kobj_attribute vblk_attr_##name = __ATTR_RO(name)

VBLK_STAT_ATTR(req_in, req_in);
VBLK_STAT_ATTR(req_out, req_out);
VBLK_STAT_ATTR(req_flush, req_flush);
VBLK_STAT_ATTR(req_get_id, req_get_id);
VBLK_STAT_ATTR(req_discard, req_discard);
VBLK_STAT_ATTR(req_write_zeroes, req_write_zeroes);
VBLK_STAT_ATTR(req_other, req_other);
VBLK_STAT_ATTR(bytes_read, bytes_read);
VBLK_STAT_ATTR(bytes_written, bytes_written);
VBLK_STAT_ATTR(err_bad_desc, err_bad_desc);
VBLK_STAT_ATTR(err_range, err_range);
VBLK_STAT_ATTR(err_io, err_io);
VBLK_STAT_ATTR(err_unsupp, err_unsupp);
VBLK_STAT_ATTR(err_readonly, err_readonly);
VBLK_STAT_ATTR(rings_broken, rings_broken);
VBLK_STAT_ATTR(inflight, inflight);
VBLK_STAT_ATTR(kicks, kicks);
VBLK_STAT_ATTR(interrupts, interrupts);
VBLK_STAT_ATTR(interrupts_suppressed, suppressed);
VBLK_STAT_ATTR(req_async, req_async);
VBLK_STAT_ATTR(sync_fallbacks, sync_fallbacks);
VBLK_STAT_ATTR(poll_hits, poll_hits);
VBLK_STAT_ATTR(poll_misses, poll_misses);
VBLK_STAT_ATTR(poll_yields, poll_yields);
VBLK_STAT_ATTR(throttled_requests, throttled_requests);
VBLK_STAT_ATTR(throttled_ns, throttled_ns);
VBLK_STAT_ATTR(share_waits, share_waits);

/*
 * I/O limit knobs, one per field of struct vhost_blk_limits: the limits in
 * force (a group's, for a member of one).  Writable by root only (the
 * files' mode): an administrator may change what the VMM set; a write
 * changes the whole group's limit, as VHOST_BLK_SET_LIMITS does.
 */
static u64 *vblk_limit_field(struct vhost_blk_limits *l, const char *name)
{
	static const char * const names[] = {
		"iops_rd", "iops_wr", "iops_total",
		"bps_rd", "bps_wr", "bps_total",
		"burst_iops_rd", "burst_iops_wr", "burst_iops_total",
		"burst_bps_rd", "burst_bps_wr", "burst_bps_total",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return &l->iops_rd + i;
	return NULL;
}

static ssize_t vblk_limit_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	struct vblk_dev *dev = vblk_kobj_dev(kobj);
	struct vhost_blk_limits l;

	mutex_lock(&dev->mutex);
	__vblk_limits_get(dev, &l);
	mutex_unlock(&dev->mutex);
	return sysfs_emit(buf, "%llu\n", *vblk_limit_field(&l, attr->attr.name));
}

static ssize_t vblk_limit_store(struct kobject *kobj,
				struct kobj_attribute *attr, const char *buf,
				size_t count)
{
	struct vblk_dev *dev = vblk_kobj_dev(kobj);
	struct vhost_blk_limits l;
	u64 v;
	int ret;

	ret = kstrtou64(buf, 0, &v);
	if (ret)
		return ret;
	mutex_lock(&dev->mutex);
	__vblk_limits_get(dev, &l);
	*vblk_limit_field(&l, attr->attr.name) = v;
	/* checked there; the device keeps its group */
	ret = __vblk_limits_apply(dev, &l);
	mutex_unlock(&dev->mutex);
	return ret ? ret : count;
}

#define VBLK_LIMIT_ATTR(name)						\
static struct kobj_attribute vblk_attr_##name =				\
	__ATTR(name, 0644, vblk_limit_show, vblk_limit_store)

VBLK_LIMIT_ATTR(iops_rd);
VBLK_LIMIT_ATTR(iops_wr);
VBLK_LIMIT_ATTR(iops_total);
VBLK_LIMIT_ATTR(bps_rd);
VBLK_LIMIT_ATTR(bps_wr);
VBLK_LIMIT_ATTR(bps_total);
VBLK_LIMIT_ATTR(burst_iops_rd);
VBLK_LIMIT_ATTR(burst_iops_wr);
VBLK_LIMIT_ATTR(burst_iops_total);
VBLK_LIMIT_ATTR(burst_bps_rd);
VBLK_LIMIT_ATTR(burst_bps_wr);
VBLK_LIMIT_ATTR(burst_bps_total);

/* The throttle group (0: none or the device's own limits); read-only. */
static ssize_t throttle_group_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	struct vblk_dev *dev = vblk_kobj_dev(kobj);
	struct vhost_blk_limits l;

	mutex_lock(&dev->mutex);
	__vblk_limits_get(dev, &l);
	mutex_unlock(&dev->mutex);
	return sysfs_emit(buf, "%u\n", l.group);
}

static struct kobj_attribute vblk_attr_throttle_group =
	__ATTR_RO(throttle_group);

/* A knob's new value: an unsigned number within [@min, @max]. */
static int vblk_knob_parse(const char *buf, unsigned int min, unsigned int max,
			   unsigned int *v)
{
	int ret = kstrtouint(buf, 0, v);

	if (ret)
		return ret;
	return *v < min || *v > max ? -EINVAL : 0;
}

/* Knob: requests a ring's worker handles in a row before it yields. */
static ssize_t max_batch_show(struct kobject *kobj, struct kobj_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(vblk_kobj_dev(kobj)->max_batch));
}

static ssize_t max_batch_store(struct kobject *kobj, struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned int v;
	int ret;

	ret = vblk_knob_parse(buf, 1, VBLK_MAX_BATCH, &v);
	if (ret)
		return ret;
	WRITE_ONCE(vblk_kobj_dev(kobj)->max_batch, v);
	return count;
}

static struct kobj_attribute vblk_attr_max_batch = __ATTR_RW(max_batch);

/* Knob: how long an idle ring's worker polls before it sleeps (0: never). */
static ssize_t poll_budget_us_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n",
			  READ_ONCE(vblk_kobj_dev(kobj)->poll_budget_us));
}

static ssize_t poll_budget_us_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	unsigned int v;
	int ret;

	ret = vblk_knob_parse(buf, 0, VBLK_MAX_POLL_US, &v);
	if (ret)
		return ret;
	WRITE_ONCE(vblk_kobj_dev(kobj)->poll_budget_us, v);
	return count;
}

static struct kobj_attribute vblk_attr_poll_budget_us =
	__ATTR_RW(poll_budget_us);

static struct attribute *vblk_attrs[] = {
	&vblk_attr_req_in.attr,
	&vblk_attr_req_out.attr,
	&vblk_attr_req_flush.attr,
	&vblk_attr_req_get_id.attr,
	&vblk_attr_req_discard.attr,
	&vblk_attr_req_write_zeroes.attr,
	&vblk_attr_req_other.attr,
	&vblk_attr_bytes_read.attr,
	&vblk_attr_bytes_written.attr,
	&vblk_attr_err_bad_desc.attr,
	&vblk_attr_err_range.attr,
	&vblk_attr_err_io.attr,
	&vblk_attr_err_unsupp.attr,
	&vblk_attr_err_readonly.attr,
	&vblk_attr_rings_broken.attr,
	&vblk_attr_inflight.attr,
	&vblk_attr_kicks.attr,
	&vblk_attr_interrupts.attr,
	&vblk_attr_interrupts_suppressed.attr,
	&vblk_attr_req_async.attr,
	&vblk_attr_sync_fallbacks.attr,
	&vblk_attr_poll_hits.attr,
	&vblk_attr_poll_misses.attr,
	&vblk_attr_poll_yields.attr,
	&vblk_attr_throttled_requests.attr,
	&vblk_attr_throttled_ns.attr,
	&vblk_attr_share_waits.attr,
	&vblk_attr_iops_rd.attr,
	&vblk_attr_iops_wr.attr,
	&vblk_attr_iops_total.attr,
	&vblk_attr_bps_rd.attr,
	&vblk_attr_bps_wr.attr,
	&vblk_attr_bps_total.attr,
	&vblk_attr_burst_iops_rd.attr,
	&vblk_attr_burst_iops_wr.attr,
	&vblk_attr_burst_iops_total.attr,
	&vblk_attr_burst_bps_rd.attr,
	&vblk_attr_burst_bps_wr.attr,
	&vblk_attr_burst_bps_total.attr,
	&vblk_attr_throttle_group.attr,
	&vblk_attr_max_batch.attr,
	&vblk_attr_poll_budget_us.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vblk);

static void vblk_kobj_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct vblk_kobj, kobj));
}

static const struct kobj_type vblk_ktype = {
	.release	= vblk_kobj_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= vblk_groups,
};

int vblk_sysfs_add(struct vblk_dev *dev, const char *name)
{
	struct vblk_kobj *k;
	int ret;

	k = kzalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	k->dev = dev;
	ret = kobject_init_and_add(&k->kobj, &vblk_ktype, vblk_sysfs_root,
				   "%s", name);
	if (ret) {
		kobject_put(&k->kobj);
		return ret;
	}
	dev->kobj = &k->kobj;
	return 0;
}

void vblk_sysfs_remove(struct vblk_dev *dev)
{
	/* waits for show/store in progress: none runs after this */
	kobject_del(dev->kobj);
	kobject_put(dev->kobj);
	dev->kobj = NULL;
}

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
	s->req_async = atomic64_read(&c->req_async);
	s->sync_fallbacks = atomic64_read(&c->sync_fallbacks);
	s->poll_hits = atomic64_read(&c->poll_hits);
	s->poll_misses = atomic64_read(&c->poll_misses);
	s->poll_yields = atomic64_read(&c->poll_yields);
	s->throttled_requests = atomic64_read(&c->throttled_requests);
	s->throttled_ns = atomic64_read(&c->throttled_ns);
	s->share_waits = atomic64_read(&c->share_waits);
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
