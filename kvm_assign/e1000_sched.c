// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign e1000 model: the device-context scheduler.
 *
 * Every context of a NIC sends through the one physical TX ring.  A
 * context with transmit work (its guest moved TDT) is on nic->active; a
 * scheduling pass takes packets from those contexts in deficit round robin
 * by bytes: at the start of its turn a context gets quantum x weight bytes
 * of credit, sends whole packets while its credit is positive (the last
 * one may take it into debt, paid back from its next turns), then the next
 * context's turn starts.  The scheduler switches contexts only between
 * packets: the NIC keeps one TSO state and one partial packet, and each
 * packet carries its own context descriptor (e1000_tx.c).
 *
 * What the NIC can take bounds a pass: the physical ring's free slots, at
 * most ring_share of them held by one context, and, if the administrator
 * set link_rate, a token bucket of the link's bytes/s (the wire a real
 * 82540 has; QEMU's NIC takes frames as fast as the host runs, so without
 * it the guests' own rates decide).  Each context may also have its own
 * token buckets (rate_bytes, rate_packets).  Buckets hold 100 ms worth (or
 * the time a late pass waited, up to 250 ms) and may run into debt by one
 * packet, so a limit holds on average.  A context
 * held back shows STATUS.TXOFF, which the stock driver takes as flow
 * control: it does not report "Tx Unit Hang" for descriptors that wait
 * then.
 *
 * A pass runs inside the TDT write that made work (the vCPU's thread), up
 * to E1K_SCHED_BUDGET packets, then continues in a work item (on a
 * high-priority workqueue of the NIC's own); it runs
 * again from the NIC's completion work (room on the ring) and from a timer
 * when a bucket allows again.  The pass holds nic->sched_lock throughout:
 * one pass at a time, which is also what lets it copy a packet for other
 * contexts into nic->sw and deliver it after the sender's locks are
 * dropped.
 */
#include <linux/etherdevice.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "e1000.h"

#define E1K_QUANTUM_DEF		1514
#define E1K_QUANTUM_MIN		64
#define E1K_QUANTUM_MAX		65536
#define E1K_RING_SHARE_DEF	128
#define E1K_RING_SHARE_MIN	8
#define E1K_WEIGHT_MAX		100
#define E1K_RATE_MAX		(100ULL * 1000 * 1000 * 1000)	/* 100 GB/s */
#define E1K_BUCKET_NS		(100 * NSEC_PER_MSEC)
#define E1K_BUCKET_MAX_NS	(250 * NSEC_PER_MSEC)
#define E1K_BUCKET_MIN		(2 * 1514)
#define E1K_SCHED_BUDGET	256	/* packets per pass in a TDT write */

/**
 * __e1k_nic_mac_owner() - the context of the NIC whose MAC is @mac
 * @nic:	the NIC; nic->sched_lock or nic->ctx_lock held
 * @mac:	a MAC address
 *
 * Return: the context, or NULL.
 */
struct e1k_ctx *__e1k_nic_mac_owner(struct e1k_nic *nic, const u8 *mac)
{
	struct e1k_ctx *ec;

	lockdep_assert(lockdep_is_held(&nic->sched_lock) ||
		       lockdep_is_held(&nic->ctx_lock));

	list_for_each_entry(ec, &nic->ctxs, node)
		if (ether_addr_equal(ec->mac, mac))
			return ec;
	return NULL;
}

/*
 * Add what @rate allows since @last to @tok.  A bucket holds 100 ms worth,
 * or what the time since the last fill allowed if that was longer (up to
 * 250 ms): a pass that runs late (a busy host, a timer or work item
 * delayed) still gets the credit of the time that passed, and a context
 * back from idle bursts at most 250 ms worth.
 */
static void e1k_bucket_fill(s64 *tok, u64 rate, u64 scale, ktime_t now,
			    ktime_t last)
{
	u64 dt = ktime_to_ns(ktime_sub(now, last));
	s64 cap, add;

	if (dt > E1K_BUCKET_MAX_NS)
		dt = E1K_BUCKET_MAX_NS;
	add = mul_u64_u64_div_u64(rate * scale, dt, NSEC_PER_SEC);
	cap = mul_u64_u64_div_u64(rate * scale, max_t(u64, dt, E1K_BUCKET_NS),
				  NSEC_PER_SEC);
	cap = max_t(s64, cap, scale == 1 ? E1K_BUCKET_MIN : 2 * scale);
	if (*tok < cap)
		*tok = min(*tok + add, cap);
}

/* When a bucket in debt has a token again */
static ktime_t e1k_bucket_ready(s64 tok, u64 rate, u64 scale, ktime_t now)
{
	u64 need = tok <= 0 ? (u64)(1 - tok) : 0;

	return ktime_add_ns(now, mul_u64_u64_div_u64(need, NSEC_PER_SEC,
						     rate * scale) + 1);
}

/* STATUS.TXOFF as the guest sees it. */
static void e1k_sched_txoff(struct e1k_ctx *ec, bool on)
{
	unsigned long flags;

	lockdep_assert_held(&ec->nic->sched_lock);

	if (ec->txoff == on)
		return;
	ec->txoff = on;
	spin_lock_irqsave(&ec->lock, flags);
	if (on)
		E1K_R(ec, E1K_STATUS) |= E1K_STATUS_TXOFF;
	else
		E1K_R(ec, E1K_STATUS) &= ~E1K_STATUS_TXOFF;
	spin_unlock_irqrestore(&ec->lock, flags);
}

/*
 * May the context send now as far as its own limits go?  If not, *wake is
 * lowered to when it may.
 */
static bool e1k_sched_ctx_may(struct e1k_ctx *ec, ktime_t now, ktime_t *wake)
{
	bool ok = true;
	ktime_t t;

	if (!ec->rate_bytes && !ec->rate_packets)
		return true;
	if (ec->rate_bytes)
		e1k_bucket_fill(&ec->tok_bytes, ec->rate_bytes, 1, now, ec->tok_last);
	if (ec->rate_packets)
		e1k_bucket_fill(&ec->tok_pkts, ec->rate_packets, 1000, now,
				ec->tok_last);
	ec->tok_last = now;
	if (ec->rate_bytes && ec->tok_bytes <= 0) {
		t = e1k_bucket_ready(ec->tok_bytes, ec->rate_bytes, 1, now);
		*wake = min(*wake, t);
		ok = false;
	}
	if (ec->rate_packets && ec->tok_pkts <= 0) {
		t = e1k_bucket_ready(ec->tok_pkts, ec->rate_packets, 1000, now);
		*wake = min(*wake, t);
		ok = false;
	}
	return ok;
}

struct e1k_sched_emit_arg {
	struct e1k_nic		*nic;
	struct e1k_ctx		*from;
	const struct e1k_tx_out	*out;
	unsigned int		dropped;	/* frames e1k_rx_local() refused */
};

/* The offload's output: one finished frame for the other contexts. */
static void e1k_sched_emit(void *arg, const u8 *frame, unsigned int len)
{
	struct e1k_sched_emit_arg *a = arg;

	if (!e1k_rx_local(a->nic, a->from, a->out, frame, len,
			  a->nic->sw->tagged, a->nic->sw->tci))
		a->dropped++;
}

/*
 * Deliver the packet in nic->sw to the contexts it is for, its offloads
 * done in software (each receiver gets finished frames).  Caller holds
 * nic->sched_lock and no lock of any context.
 */
static void __e1k_sched_deliver(struct e1k_nic *nic, struct e1k_ctx *from,
				const struct e1k_tx_out *out)
{
	struct e1k_sched_emit_arg a = { .nic = nic, .from = from, .out = out };
	struct e1k_sw_pkt *sw = nic->sw;
	int n;

	lockdep_assert_held(&nic->sched_lock);

	mutex_lock(&nic->ctx_lock);
	n = e1k_offload_frames(sw->data, sw->len, &sw->off, e1k_sched_emit, &a,
			       nic->sw_scratch);
	mutex_unlock(&nic->ctx_lock);
	/*
	 * tx_switched: the frames (TSO: segments) that stayed inside, less
	 * those dropped as too long (counted in tx_bad_desc already)
	 */
	if (n < 0) {
		atomic64_inc(&from->stats.tx_bad_desc);
	} else if (out->to_ctx && n > a.dropped) {
		atomic64_add(n - a.dropped, &from->stats.tx_switched);
		atomic64_add(n - a.dropped, &nic->tx_switched);
	}
}

/* Leave the active list: no work, or the unit stopped. */
static void __e1k_sched_idle(struct e1k_ctx *ec)
{
	lockdep_assert_held(&ec->nic->sched_lock);

	list_del_init(&ec->sched_node);
	ec->deficit = 0;
	ec->in_turn = false;
	ec->wait_since = 0;
	e1k_sched_txoff(ec, false);
}

/*
 * Put the contexts that register writes kicked since the last pass on the
 * active list (at its tail, their wait starting now).  Caller holds
 * nic->sched_lock.
 */
static void __e1k_sched_take_kicked(struct e1k_nic *nic)
{
	struct e1k_ctx *ec, *tmp;
	LIST_HEAD(kicked);

	lockdep_assert_held(&nic->sched_lock);

	spin_lock(&nic->kick_lock);
	list_splice_init(&nic->kicked, &kicked);
	spin_unlock(&nic->kick_lock);
	list_for_each_entry_safe(ec, tmp, &kicked, kick_node) {
		list_del_init(&ec->kick_node);
		if (list_empty(&ec->sched_node)) {
			list_add_tail(&ec->sched_node, &nic->active);
			ec->wait_since = ktime_get();
		}
	}
}

/* One scheduling pass; caller holds nic->sched_lock. */
static void __e1k_sched_pass(struct e1k_nic *nic, unsigned int budget)
{
	unsigned int held = 0, nactive = 0, done = 0;
	struct e1k_ctx *ec;
	ktime_t wake = KTIME_MAX, now;
	enum e1k_tx_result res;
	struct e1k_tx_out out;

	lockdep_assert_held(&nic->sched_lock);

	__e1k_sched_take_kicked(nic);
	list_for_each_entry(ec, &nic->active, sched_node)
		nactive++;
	while (!list_empty(&nic->active) && held < nactive) {
		if (done >= budget) {
			if (!READ_ONCE(nic->removing))
				queue_work(nic->sched_wq, &nic->sched_work);
			break;
		}
		ec = list_first_entry(&nic->active, struct e1k_ctx, sched_node);
		now = ktime_get();
		if (nic->link_rate) {
			e1k_bucket_fill(&nic->link_tokens, nic->link_rate, 1, now,
					nic->link_last);
			nic->link_last = now;
			if (nic->link_tokens <= 0) {
				wake = min(wake, e1k_bucket_ready(nic->link_tokens,
								  nic->link_rate, 1, now));
				list_for_each_entry(ec, &nic->active, sched_node) {
					if (!ec->txoff)
						atomic64_inc(&ec->stats.tx_throttled);
					e1k_sched_txoff(ec, true);
				}
				break;
			}
		}
		if (!e1k_sched_ctx_may(ec, now, &wake)) {
			if (!ec->txoff)
				atomic64_inc(&ec->stats.tx_throttled);
			e1k_sched_txoff(ec, true);
			list_move_tail(&ec->sched_node, &nic->active);
			held++;
			continue;
		}
		if (!ec->in_turn) {
			ec->deficit += (s64)nic->quantum * ec->weight;
			ec->in_turn = true;
			if (ec->deficit <= 0) {
				/* still paying for a large packet */
				ec->in_turn = false;
				list_move_tail(&ec->sched_node, &nic->active);
				continue;
			}
		}

		res = __e1k_tx_one(ec, &out);
		switch (res) {
		case E1K_TXR_SENT:
		case E1K_TXR_DROPPED:
			done++;
			held = 0;
			if (nic->sched_last && nic->sched_last != ec)
				atomic64_inc(&nic->ctx_switches);
			nic->sched_last = ec;
			ec->deficit -= out.bytes;
			nic->link_tokens -= out.bytes;
			ec->tok_bytes -= out.bytes;
			ec->tok_pkts -= out.frames * 1000;
			if (ec->wait_since) {
				atomic64_add(ktime_to_ns(ktime_sub(now, ec->wait_since)),
					     &ec->stats.sched_wait_ns);
				ec->wait_since = now;
			}
			e1k_sched_txoff(ec, false);
			if (out.to_ctx || out.to_all)
				__e1k_sched_deliver(nic, ec, &out);
			if (ec->deficit <= 0) {
				ec->in_turn = false;
				list_move_tail(&ec->sched_node, &nic->active);
			}
			break;
		case E1K_TXR_NONE:
		case E1K_TXR_STOPPED:
			__e1k_sched_idle(ec);
			nactive--;
			held = 0;
			break;
		case E1K_TXR_BLOCKED:
			/* the NIC's completion work runs the scheduler again */
			list_move_tail(&ec->sched_node, &nic->active);
			held++;
			break;
		}
	}
	if (wake != KTIME_MAX && !READ_ONCE(nic->removing))
		hrtimer_start(&nic->sched_timer, wake, HRTIMER_MODE_ABS);
}

/**
 * e1k_sched_run() - let the contexts with work send
 * @nic: the NIC; no lock of ours held but a context's VFIO ctx->lock
 */
void e1k_sched_run(struct e1k_nic *nic)
{
	mutex_lock(&nic->sched_lock);
	__e1k_sched_pass(nic, E1K_SCHED_BUDGET);
	mutex_unlock(&nic->sched_lock);
}

static void e1k_sched_workfn(struct work_struct *work)
{
	struct e1k_nic *nic = container_of(work, struct e1k_nic, sched_work);

	e1k_sched_run(nic);
}

static enum hrtimer_restart e1k_sched_timer_fn(struct hrtimer *t)
{
	struct e1k_nic *nic = container_of(t, struct e1k_nic, sched_timer);

	if (!READ_ONCE(nic->removing))
		queue_work(nic->sched_wq, &nic->sched_work);
	return HRTIMER_NORESTART;
}

/**
 * e1k_sched_kick() - a register write gave the context transmit work
 * @ec: the context; its VFIO ctx->lock held, no lock of the NIC
 *
 * The vCPU that wrote TDT never waits for a pass that moves other
 * contexts' packets (a pass may move E1K_SCHED_BUDGET of them, seconds on
 * a starved debug kernel): the context is queued on nic->kicked, and the
 * pass runs here only if the scheduler is free, else on the NIC's
 * workqueue after the pass in progress.
 */
void e1k_sched_kick(struct e1k_ctx *ec)
{
	struct e1k_nic *nic = ec->nic;

	spin_lock(&nic->kick_lock);
	if (list_empty(&ec->kick_node))
		list_add_tail(&ec->kick_node, &nic->kicked);
	spin_unlock(&nic->kick_lock);
	if (mutex_trylock(&nic->sched_lock)) {
		__e1k_sched_pass(nic, E1K_SCHED_BUDGET);
		mutex_unlock(&nic->sched_lock);
	} else if (!READ_ONCE(nic->removing)) {
		queue_work(nic->sched_wq, &nic->sched_work);
	}
}

/**
 * e1k_sched_forget() - the context's transmit state is gone (reset, removal)
 * @ec: the context
 */
void e1k_sched_forget(struct e1k_ctx *ec)
{
	mutex_lock(&ec->nic->sched_lock);
	spin_lock(&ec->nic->kick_lock);
	list_del_init(&ec->kick_node);
	spin_unlock(&ec->nic->kick_lock);
	if (!list_empty(&ec->sched_node))
		__e1k_sched_idle(ec);
	if (ec->nic->sched_last == ec)
		ec->nic->sched_last = NULL;
	ec->txoff = false;
	mutex_unlock(&ec->nic->sched_lock);
}

/**
 * e1k_sched_ctx_init() - a new context's scheduling defaults
 * @ec: the context, not yet on any list
 */
void e1k_sched_ctx_init(struct e1k_ctx *ec)
{
	INIT_LIST_HEAD(&ec->kick_node);
	INIT_LIST_HEAD(&ec->sched_node);
	ec->weight = 1;
	ec->tok_last = ktime_get();
}

/**
 * e1k_sched_init() - the NIC's scheduler
 * @nic: the NIC
 *
 * Return: 0 or -ENOMEM.
 */
int e1k_sched_init(struct e1k_nic *nic)
{
	mutex_init(&nic->sched_lock);
	INIT_LIST_HEAD(&nic->active);
	spin_lock_init(&nic->kick_lock);
	INIT_LIST_HEAD(&nic->kicked);
	hrtimer_init(&nic->sched_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS);
	nic->sched_timer.function = e1k_sched_timer_fn;
	INIT_WORK(&nic->sched_work, e1k_sched_workfn);
	nic->quantum = E1K_QUANTUM_DEF;
	nic->ring_share = E1K_RING_SHARE_DEF;
	nic->link_last = ktime_get();
	nic->sw = kvzalloc(sizeof(*nic->sw), GFP_KERNEL);
	nic->sw_scratch = kvzalloc(E1K_OFFLOAD_SCRATCH, GFP_KERNEL);
	/*
	 * The deferred passes are the NIC's transmit path: a high-priority
	 * worker, or busy guests' threads starve the link below link_rate.
	 */
	nic->sched_wq = alloc_workqueue("kvm_assign_e1k/%s", WQ_HIGHPRI, 0,
					pci_name(nic->kd->pdev));
	if (!nic->sw || !nic->sw_scratch || !nic->sched_wq) {
		e1k_sched_fini(nic);
		return -ENOMEM;
	}
	return 0;
}

/**
 * e1k_sched_fini() - stop the scheduler
 * @nic: the NIC; nic->removing set, no context left
 */
void e1k_sched_fini(struct e1k_nic *nic)
{
	hrtimer_cancel(&nic->sched_timer);
	cancel_work_sync(&nic->sched_work);
	if (nic->sched_wq)
		destroy_workqueue(nic->sched_wq);
	nic->sched_wq = NULL;
	kvfree(nic->sw_scratch);
	kvfree(nic->sw);
	nic->sw = NULL;
	nic->sw_scratch = NULL;
	mutex_destroy(&nic->sched_lock);
}

/* --- sysfs: /sys/bus/pci/devices/<bdf>/kvm_assign_e1000/ --- */

static struct e1k_nic *e1k_dev_nic(struct device *dev)
{
	struct ka_dev *kd = dev_get_drvdata(dev);

	return kd ? e1k_nic(kd) : NULL;
}

/* A knob of the NIC: read and written under nic->sched_lock. */
#define E1K_NIC_KNOB(name, min, max)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct e1k_nic *nic = e1k_dev_nic(dev);				\
	u64 v;								\
									\
	if (!nic)							\
		return -ENODEV;						\
	mutex_lock(&nic->sched_lock);					\
	v = nic->name;							\
	mutex_unlock(&nic->sched_lock);					\
	return sysfs_emit(buf, "%llu\n", v);				\
}									\
static ssize_t name##_store(struct device *dev,				\
			    struct device_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	struct e1k_nic *nic = e1k_dev_nic(dev);				\
	u64 v;								\
	int ret;							\
									\
	if (!nic)							\
		return -ENODEV;						\
	ret = kstrtou64(buf, 0, &v);					\
	if (ret)							\
		return ret;						\
	if (v < (min) || v > (max))					\
		return -ERANGE;						\
	mutex_lock(&nic->sched_lock);					\
	nic->name = v;							\
	nic->link_tokens = 0;						\
	nic->link_last = ktime_get();					\
	mutex_unlock(&nic->sched_lock);					\
	e1k_sched_run(nic);						\
	return count;							\
}									\
static DEVICE_ATTR_RW(name)

E1K_NIC_KNOB(quantum, E1K_QUANTUM_MIN, E1K_QUANTUM_MAX);
E1K_NIC_KNOB(link_rate, 0, E1K_RATE_MAX);
E1K_NIC_KNOB(ring_share, E1K_RING_SHARE_MIN, E1K_PRING_DESC);

#define E1K_NIC_COUNTER(name, read)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct e1k_nic *nic = e1k_dev_nic(dev);				\
									\
	if (!nic)							\
		return -ENODEV;						\
	return sysfs_emit(buf, "%lld\n", (long long)read(&nic->name));	\
}									\
static DEVICE_ATTR_RO(name)

E1K_NIC_COUNTER(ctx_switches, atomic64_read);
E1K_NIC_COUNTER(ring_inflight, atomic_read);
E1K_NIC_COUNTER(ring_inflight_max, atomic_read);
E1K_NIC_COUNTER(rx_unknown_unicast, atomic64_read);
E1K_NIC_COUNTER(rx_bad, atomic64_read);
E1K_NIC_COUNTER(tx_switched, atomic64_read);

static ssize_t contexts_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct e1k_nic *nic = e1k_dev_nic(dev);
	unsigned int n = 0;
	struct e1k_ctx *ec;

	if (!nic)
		return -ENODEV;
	mutex_lock(&nic->ctx_lock);
	list_for_each_entry(ec, &nic->ctxs, node)
		n++;
	mutex_unlock(&nic->ctx_lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(contexts);

static ssize_t rx_filter_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct e1k_nic *nic = e1k_dev_nic(dev);

	if (!nic)
		return -ENODEV;
	return sysfs_emit(buf, "%s\n", READ_ONCE(nic->filter_exact) ?
			  "exact" : "promiscuous");
}
static DEVICE_ATTR_RO(rx_filter);

static struct attribute *e1k_nic_attrs[] = {
	&dev_attr_quantum.attr,
	&dev_attr_link_rate.attr,
	&dev_attr_ring_share.attr,
	&dev_attr_contexts.attr,
	&dev_attr_ctx_switches.attr,
	&dev_attr_ring_inflight.attr,
	&dev_attr_ring_inflight_max.attr,
	&dev_attr_rx_unknown_unicast.attr,
	&dev_attr_rx_bad.attr,
	&dev_attr_tx_switched.attr,
	&dev_attr_rx_filter.attr,
	NULL,
};

const struct attribute_group e1k_nic_group = {
	.name	= "kvm_assign_e1000",
	.attrs	= e1k_nic_attrs,
};
