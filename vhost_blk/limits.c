// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk I/O limits and shared backends.
 *
 * I/O limits (VHOST_BLK_SET_LIMITS): a device, or a throttle group of
 * devices, has a set of token buckets (struct vblk_tg).  Each bucket is
 * kept as a theoretical arrival time (the generic cell rate algorithm): a
 * request of cost c on a bucket of rate r moves the bucket's time tat on by
 * c / r seconds; the bucket allows a request while tat is at most its burst
 * (as time, tol_ns) ahead of now, and tat never falls behind now, so an
 * idle device saves at most its burst.  A request the buckets do not allow
 * is not taken from its ring: the ring's worker stops there and arms the
 * ring's hrtimer for the time the buckets allow it.
 *
 * Shared backends (VHOST_BLK_SET_BACKEND_RANGE): devices whose backends are
 * the same file or block device (same inode) meet in a struct vblk_share.
 * Each device's backend is a member with a weight and a count of requests
 * in flight (slots, O_DIRECT backends only).  While more than one member is
 * active (slots in flight or a ring waiting), a member may take a slot only
 * while it holds less than its weighted share of VHOST_BLK_SHARE_DEPTH;
 * otherwise the ring stops at that request and waits on the share's list,
 * and every slot given back wakes the waiting rings.  With the backend the
 * bottleneck, each member's throughput follows its slots in flight, so
 * backlogged members get the backend in proportion to their weights; a
 * member alone is never held.
 *
 * Locking: vblk_tg_mutex protects the list of groups and every group's
 * users count; vblk_tg.lock its buckets.  vblk_share_mutex protects the
 * list of shares and every share's users count; vblk_share.lock the share's
 * members' slot counts and its waiting rings.  Both spinlocks are taken by
 * ring workers under their ring's mutex, and only in process context;
 * dev->wake_lock nests inside vblk_share.lock (waking the waiting rings).
 */
#include <linux/cred.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "vhost_blk_priv.h"

/* protects vblk_tgs and every group's users; see the top of this file */
static DEFINE_MUTEX(vblk_tg_mutex);
static LIST_HEAD(vblk_tgs);

/* protects vblk_shares and every share's users; see the top of this file */
static DEFINE_MUTEX(vblk_share_mutex);
static LIST_HEAD(vblk_shares);

/*
 * Requests in flight a contended share divides among its members (module
 * parameter share_depth, read with READ_ONCE at every check; 0 is taken
 * as 1).  It caps the backend's requests in flight only while several
 * members are active: set it near the backend's own queue depth.
 */
static unsigned int vblk_share_depth = VHOST_BLK_SHARE_DEPTH;
module_param_named(share_depth, vblk_share_depth, uint, 0644);
MODULE_PARM_DESC(share_depth,
		 "requests in flight shared by weight among the active devices of one backend (default 64)");

/* ---- token buckets ---- */

static u64 vblk_cost_ns(u64 cost, u64 rate)
{
	return mul_u64_u64_div_u64(cost, NSEC_PER_SEC, rate);
}

/* The buckets a request uses: bit i is bucket i of enum vblk_tb. */
static unsigned int vblk_tb_mask(bool write, u64 bytes)
{
	unsigned int m = BIT(VBLK_TB_IOPS_TOTAL) |
			 BIT(write ? VBLK_TB_IOPS_WR : VBLK_TB_IOPS_RD);

	if (bytes)
		m |= BIT(VBLK_TB_BPS_TOTAL) |
		     BIT(write ? VBLK_TB_BPS_WR : VBLK_TB_BPS_RD);
	return m;
}

/*
 * How long a request must wait (0: allowed now); with @charge, an allowed
 * request is charged to its buckets.
 */
static u64 vblk_tg_admit(struct vblk_tg *tg, bool write, u64 bytes, u64 now,
			 bool charge)
{
	unsigned int m = vblk_tb_mask(write, bytes), i;
	u64 wait = 0;

	spin_lock(&tg->lock);
	for (i = 0; i < VBLK_TB_NR; i++) {
		struct vblk_bucket *b = &tg->b[i];

		if (!(m & BIT(i)) || !b->rate)
			continue;
		if (b->tat > now + b->tol_ns)
			wait = max(wait, b->tat - b->tol_ns - now);
	}
	if (!wait && charge) {
		for (i = 0; i < VBLK_TB_NR; i++) {
			struct vblk_bucket *b = &tg->b[i];

			if (!(m & BIT(i)) || !b->rate)
				continue;
			b->tat = max(b->tat, now) +
				 vblk_cost_ns(i < VBLK_TB_BPS_RD ? 1 : bytes,
					      b->rate);
		}
	}
	spin_unlock(&tg->lock);
	return wait;
}

/* The limits as struct vhost_blk_limits orders them. */
static u64 *vblk_limits_rate(struct vhost_blk_limits *l, unsigned int i)
{
	return &l->iops_rd + i;
}

static u64 *vblk_limits_burst(struct vhost_blk_limits *l, unsigned int i)
{
	return &l->burst_iops_rd + i;
}

static int vblk_limits_check(const struct vhost_blk_limits *l)
{
	struct vhost_blk_limits c = *l;
	unsigned int i;

	if (c.flags || c.pad)
		return -EINVAL;
	for (i = 0; i < VBLK_TB_NR; i++) {
		u64 rate = *vblk_limits_rate(&c, i);
		u64 burst = *vblk_limits_burst(&c, i);

		/* rate * 3600 < 2^52: no overflow */
		if (rate > VHOST_BLK_LIMIT_MAX || burst > VHOST_BLK_LIMIT_MAX ||
		    (rate && burst > rate * 3600))
			return -EINVAL;
	}
	return 0;
}

/* Set @tg's buckets from @l (checked); a bucket's saved credit is kept. */
static void vblk_tg_set(struct vblk_tg *tg, struct vhost_blk_limits *l)
{
	unsigned int i;

	spin_lock(&tg->lock);
	for (i = 0; i < VBLK_TB_NR; i++) {
		struct vblk_bucket *b = &tg->b[i];
		u64 burst = *vblk_limits_burst(l, i);

		b->rate = *vblk_limits_rate(l, i);
		b->burst = burst;
		if (!b->rate)
			continue;
		if (!burst)
			burst = max_t(u64, 1, div_u64(b->rate, 10));
		b->tol_ns = vblk_cost_ns(burst, b->rate);
	}
	spin_unlock(&tg->lock);
}

static void vblk_tg_get(struct vblk_tg *tg, struct vhost_blk_limits *l)
{
	unsigned int i;

	spin_lock(&tg->lock);
	for (i = 0; i < VBLK_TB_NR; i++) {
		*vblk_limits_rate(l, i) = tg->b[i].rate;
		*vblk_limits_burst(l, i) = tg->b[i].burst;
	}
	spin_unlock(&tg->lock);
	l->group = tg->group;
}

static void vblk_tg_put(struct vblk_tg *tg)
{
	if (!tg)
		return;
	mutex_lock(&vblk_tg_mutex);
	if (--tg->users) {
		mutex_unlock(&vblk_tg_mutex);
		return;
	}
	if (tg->group)
		list_del(&tg->node);
	mutex_unlock(&vblk_tg_mutex);
	kfree(tg);
}

/*
 * A reference on group @group of @uid (created if new), or on a new private
 * bucket set when @group is 0.
 */
static struct vblk_tg *vblk_tg_get_ref(u32 group, kuid_t uid)
{
	struct vblk_tg *tg;

	mutex_lock(&vblk_tg_mutex);
	if (group) {
		list_for_each_entry(tg, &vblk_tgs, node) {
			if (tg->group == group && uid_eq(tg->uid, uid)) {
				tg->users++;
				goto out;
			}
		}
	}
	tg = kzalloc(sizeof(*tg), GFP_KERNEL_ACCOUNT);
	if (!tg)
		goto out;
	spin_lock_init(&tg->lock);
	tg->group = group;
	tg->uid = uid;
	tg->users = 1;
	if (group)
		list_add(&tg->node, &vblk_tgs);
out:
	mutex_unlock(&vblk_tg_mutex);
	return tg;
}

/* Give every ring of @dev the device's bucket set (dev->mutex held). */
static void vblk_tg_install(struct vblk_dev *dev, struct vblk_tg *tg)
{
	struct vblk_tg *old = dev->tg;
	unsigned int i;

	lockdep_assert_held(&dev->mutex);
	dev->tg = tg;
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		struct vblk_vq *vq = &dev->vqs[i];

		vblk_vq_lock(vq);
		vq->tg = tg;
		mutex_unlock(&vq->mutex);
		/* a ring held by the old buckets looks again */
		vblk_worker_queue(vq);
	}
	vblk_tg_put(old);
}

static bool vblk_limits_none(struct vhost_blk_limits *l)
{
	unsigned int i;

	for (i = 0; i < VBLK_TB_NR; i++)
		if (*vblk_limits_rate(l, i))
			return false;
	return !l->group;
}

/**
 * __vblk_limits_apply() - set a device's limits
 * @dev: the device, mutex held
 * @l: the new limits (unchecked)
 *
 * A device already in group @l->group (0: its private set) keeps its
 * buckets and their state; otherwise it joins the group of the caller's
 * effective uid, or gets a private set.  No limits and no group: no set.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int __vblk_limits_apply(struct vblk_dev *dev, struct vhost_blk_limits *l)
{
	struct vblk_tg *tg = dev->tg;
	int ret;

	lockdep_assert_held(&dev->mutex);
	ret = vblk_limits_check(l);
	if (ret)
		return ret;
	if (vblk_limits_none(l)) {
		if (tg)
			vblk_tg_install(dev, NULL);
		return 0;
	}
	if (!tg || tg->group != l->group) {
		tg = vblk_tg_get_ref(l->group, current_euid());
		if (!tg)
			return -ENOMEM;
		vblk_tg_set(tg, l);
		vblk_tg_install(dev, tg);
		return 0;
	}
	vblk_tg_set(tg, l);
	/* rings held by the old rates look again */
	vblk_limits_kick(dev);
	return 0;
}

void vblk_limits_kick(struct vblk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < VBLK_NUM_QUEUES; i++)
		vblk_worker_queue(&dev->vqs[i]);
}

/* The device's limits (dev->mutex held); all 0 without limits. */
void __vblk_limits_get(struct vblk_dev *dev, struct vhost_blk_limits *l)
{
	lockdep_assert_held(&dev->mutex);
	memset(l, 0, sizeof(*l));
	l->argsz = sizeof(*l);
	if (dev->tg)
		vblk_tg_get(dev->tg, l);
}

long vblk_set_limits(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_limits l;

	if (copy_from_user(&l, argp, sizeof(l)))
		return -EFAULT;
	if (l.argsz < sizeof(l))
		return -EINVAL;
	return __vblk_limits_apply(dev, &l);
}

long vblk_get_limits(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_limits l;
	u32 hdr[2];

	if (copy_from_user(hdr, argp, sizeof(hdr)))
		return -EFAULT;
	/* argsz, and flags: none defined for reading */
	if (hdr[0] < sizeof(l) || hdr[1])
		return -EINVAL;
	__vblk_limits_get(dev, &l);
	if (copy_to_user(argp, &l, sizeof(l)))
		return -EFAULT;
	return 0;
}

/* Drop the device's limits (release, reset of the owner). */
void __vblk_limits_free(struct vblk_dev *dev)
{
	lockdep_assert_held(&dev->mutex);
	vblk_tg_put(dev->tg);
	dev->tg = NULL;
}

/* ---- shared backends ---- */

static bool vblk_member_active(struct vblk_backend *be)
{
	return be->share_inflight || be->share_waiting;
}

/* Account @be's activity change (share lock held). */
static void __vblk_share_update(struct vblk_share *s, struct vblk_backend *be,
				bool was)
{
	bool now = vblk_member_active(be);

	lockdep_assert_held(&s->lock);
	if (was == now)
		return;
	if (now) {
		s->nr_active++;
		s->active_weight += be->weight;
	} else {
		s->nr_active--;
		s->active_weight -= be->weight;
	}
}

/* May @be take a slot now (share lock held)? */
static bool __vblk_share_may(struct vblk_share *s, struct vblk_backend *be)
{
	u64 w = s->active_weight;
	unsigned int n = s->nr_active;
	u64 depth = max(READ_ONCE(vblk_share_depth), 1U);

	lockdep_assert_held(&s->lock);
	if (!vblk_member_active(be)) {
		w += be->weight;
		n++;
	}
	if (n <= 1)
		return true;
	return (u64)be->share_inflight * w < depth * be->weight;
}

/* Stop waiting for a slot (ring mutex held). */
void vblk_share_unwait(struct vblk_vq *vq)
{
	struct vblk_backend *be = vq->share_be;
	struct vblk_share *s;
	bool was;

	lockdep_assert_held(&vq->mutex);
	if (!be)
		return;
	s = be->share;
	spin_lock(&s->lock);
	was = vblk_member_active(be);
	list_del_init(&vq->share_node);
	be->share_waiting--;
	__vblk_share_update(s, be, was);
	spin_unlock(&s->lock);
	vq->share_be = NULL;
}

/*
 * Take a slot of the shared backend for @req, or make its ring wait for
 * one.  Returns false when the ring must stop at @req.
 */
static bool vblk_share_take(struct vblk_vq *vq, struct vblk_req *req)
{
	struct vblk_backend *be = vq->be;
	struct vblk_share *s = be->share;
	bool was, ok;

	spin_lock(&s->lock);
	was = vblk_member_active(be);
	ok = __vblk_share_may(s, be);
	if (ok) {
		be->share_inflight++;
		req->share_be = be;
	} else if (!vq->share_be) {
		list_add_tail(&vq->share_node, &s->waiters);
		be->share_waiting++;
		vq->share_be = be;
		vblk_count(vq->dev, share_waits);
	}
	__vblk_share_update(s, be, was);
	spin_unlock(&s->lock);
	if (ok)
		vblk_share_unwait(vq);
	return ok;
}

/* A request gives its slot back (process context). */
void vblk_share_release(struct vblk_req *req)
{
	struct vblk_backend *be = req->share_be;
	struct vblk_share *s = be->share;
	struct vblk_vq *vq;
	bool was;

	spin_lock(&s->lock);
	was = vblk_member_active(be);
	be->share_inflight--;
	__vblk_share_update(s, be, was);
	list_for_each_entry(vq, &s->waiters, share_node)
		vblk_worker_queue(vq);
	spin_unlock(&s->lock);
	req->share_be = NULL;
}

/**
 * vblk_share_join() - make a new backend a member of its file's share
 * @be: the backend, not yet used by any ring
 * @weight: its weight (checked)
 *
 * Return: 0 or -ENOMEM.
 */
int vblk_share_join(struct vblk_backend *be, u32 weight)
{
	struct inode *inode = be->file->f_mapping->host;
	struct vblk_share *s;

	be->weight = weight;
	mutex_lock(&vblk_share_mutex);
	list_for_each_entry(s, &vblk_shares, node) {
		if (s->inode == inode) {
			s->users++;
			goto out;
		}
	}
	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s) {
		mutex_unlock(&vblk_share_mutex);
		return -ENOMEM;
	}
	/* the key only: every member holds the file, so the inode lives */
	s->inode = inode;
	s->users = 1;
	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->waiters);
	list_add(&s->node, &vblk_shares);
out:
	be->share = s;
	mutex_unlock(&vblk_share_mutex);
	return 0;
}

/* @be leaves its share: no request of it is in flight, no ring waits. */
void vblk_share_leave(struct vblk_backend *be)
{
	struct vblk_share *s = be->share;

	if (!s)
		return;
	WARN_ON_ONCE(vblk_member_active(be));
	mutex_lock(&vblk_share_mutex);
	if (!--s->users) {
		list_del(&s->node);
		kfree(s);
	}
	mutex_unlock(&vblk_share_mutex);
	be->share = NULL;
}

/* ---- both, when the worker takes a request ---- */

static enum hrtimer_restart vblk_throttle_fn(struct hrtimer *t)
{
	struct vblk_vq *vq = container_of(t, struct vblk_vq, throttle_timer);

	vblk_worker_queue(vq);
	return HRTIMER_NORESTART;
}

void vblk_throttle_init(struct vblk_vq *vq)
{
	hrtimer_init(&vq->throttle_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	vq->throttle_timer.function = vblk_throttle_fn;
	INIT_LIST_HEAD(&vq->share_node);
}

/* The ring no longer holds a request (ring mutex held). */
void vblk_throttle_stop(struct vblk_vq *vq)
{
	lockdep_assert_held(&vq->mutex);
	hrtimer_cancel(&vq->throttle_timer);
	vblk_share_unwait(vq);
	if (vq->held_since) {
		atomic64_add(ktime_get_ns() - vq->held_since,
			     &vq->dev->stats.throttled_ns);
		vq->held_since = 0;
	}
}

/**
 * vblk_req_hold() - must the ring stop at this request?
 * @vq: the ring, mutex held
 * @req: the request as walked, header read (vblk_req_peek())
 *
 * Checks the device's I/O limits and, on a shared O_DIRECT backend, takes a
 * slot for an IN or OUT.  A request held is not taken: the caller frees it
 * and leaves it in the ring; the hrtimer (limits) or a slot given back
 * (share) queues the ring again.
 *
 * Return: true when the ring must stop at @req.
 */
bool vblk_req_hold(struct vblk_vq *vq, struct vblk_req *req)
{
	struct vblk_tg *tg = vq->tg;
	u64 now, wait;

	lockdep_assert_held(&vq->mutex);
	if (!req->limited)
		return false;
	now = ktime_get_ns();
	if (tg) {
		wait = vblk_tg_admit(tg, req->write, req->len, now, false);
		if (wait) {
			if (!vq->held_since) {
				vq->held_since = now;
				vblk_count(vq->dev, throttled_requests);
			}
			hrtimer_start(&vq->throttle_timer, ns_to_ktime(wait),
				      HRTIMER_MODE_REL);
			vq->held = true;
			return true;
		}
	}
	if (vq->be->share && vq->be->direct && req->rw_type &&
	    !vblk_share_take(vq, req)) {
		vq->held = true;
		return true;
	}
	if (tg)
		vblk_tg_admit(tg, req->write, req->len, now, true);
	if (vq->held_since) {
		atomic64_add(now - vq->held_since,
			     &vq->dev->stats.throttled_ns);
		vq->held_since = 0;
	}
	return false;
}
