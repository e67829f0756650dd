// SPDX-License-Identifier: GPL-2.0
/*
 * kt_irq_remap_client - a test-only user of irq_remap's kernel API, as
 * kvm_assign will use it.  Everything happens in module_init, in the
 * context of the insmod process whose eventfds are named by the
 * parameters; a failed check fails the load (-EINVAL, with a message).
 *
 * Eventfd signals made on trigger_fd: 5 (see the checks below).  With
 * loop_fd, an INTx entry whose trigger is also its unmask eventfd (as
 * kvm_assign's when the VMM passes one eventfd as INTx trigger and
 * unmask): the signal's wake-up unmasks and resamples the entry.
 */
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>

#include "kvmio/irq_remap.h"

static int trigger_fd = -1;
module_param(trigger_fd, int, 0444);
MODULE_PARM_DESC(trigger_fd, "eventfd (of the insmod process) to deliver to");
static int nest_fd = -1;
module_param(nest_fd, int, 0444);
MODULE_PARM_DESC(nest_fd, "eventfd from whose wake-up an interrupt is delivered");
static int loop_fd = -1;
module_param(loop_fd, int, 0444);
MODULE_PARM_DESC(loop_fd, "eventfd both trigger and unmask eventfd of an INTx entry");

#define KT_RID	0x0108

static int kt_owner_a, kt_owner_b, kt_owner_c;

/* State of the nested delivery; only used during module_init. */
static struct {
	wait_queue_entry_t	wait;
	struct irq_remap_table	*t;
	unsigned int		handle;
	int			calls;
	bool			allowed;
	int			ret;
} kt_nest;

/* The unmask handler on the trigger eventfd; only used during module_init. */
static struct {
	wait_queue_entry_t	wait;
	struct eventfd_ctx	*ctx;
	struct irq_remap_table	*t;
	unsigned int		handle;
	atomic_t		calls;
} kt_loop;

static int kt_eoi_calls;
static unsigned int kt_eoi_handle;

#define KT_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			pr_err("check failed at line %d: %s\n", __LINE__, #cond); \
			ret = -EINVAL;					\
			goto out;					\
		}							\
	} while (0)

static void kt_eoi(void *data, unsigned int handle)
{
	int *calls = data;

	(*calls)++;
	kt_eoi_handle = handle;
}

static int kt_nest_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			  int sync, void *key)
{
	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	kt_nest.calls++;
	kt_nest.allowed = eventfd_signal_allowed();
	kt_nest.ret = irq_remap_deliver(kt_nest.t, KT_RID, kt_nest.handle);
	return 0;
}

static void kt_nest_queue(struct file *file, wait_queue_head_t *wqh,
			  poll_table *pt)
{
	add_wait_queue(wqh, &kt_nest.wait);
}

/*
 * What kvm_assign's virqfd unmask handler does, inside the wake-up of the
 * eventfd irq_remap signalled: consume the count, unmask, resample.  The
 * second time the line has been lowered (the guest acknowledged).
 */
static int kt_loop_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			  int sync, void *key)
{
	u64 cnt;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	eventfd_ctx_do_read(kt_loop.ctx, &cnt);
	if (atomic_inc_return(&kt_loop.calls) >= 2)
		irq_remap_intx_deassert(kt_loop.t, kt_loop.handle);
	irq_remap_entry_set_masked(kt_loop.t, &kt_owner_c, kt_loop.handle, false);
	irq_remap_intx_resample(kt_loop.t, kt_loop.handle);
	return 0;
}

static void kt_loop_queue(struct file *file, wait_queue_head_t *wqh,
			  poll_table *pt)
{
	add_wait_queue(wqh, &kt_loop.wait);
}

/*
 * Assert an INTx entry whose trigger eventfd is also its unmask eventfd.
 * The signal's wake-up calls back into the engine, so the engine must not
 * hold its table lock while it signals (it used to: the host hung).  The
 * resample made inside the engine's own signal is refused (it would
 * re-deliver for as long as the line stays asserted), so there is one
 * wake-up; a second one would lower the line.  Return: wake-ups seen, or
 * < 0.
 */
static int kt_loop_deliver(struct irq_remap_table *t, unsigned int handle)
{
	struct file *file;
	poll_table pt;
	int i, calls;
	u64 cnt;

	file = fget(loop_fd);
	if (!file)
		return -EBADF;
	kt_loop.ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(kt_loop.ctx)) {
		fput(file);
		return PTR_ERR(kt_loop.ctx);
	}
	kt_loop.t = t;
	kt_loop.handle = handle;
	atomic_set(&kt_loop.calls, 0);
	init_waitqueue_func_entry(&kt_loop.wait, kt_loop_wakeup);
	init_poll_funcptr(&pt, kt_loop_queue);
	vfs_poll(file, &pt);

	irq_remap_intx_assert(t, KT_RID, handle);
	for (i = 0; i < 50 && atomic_read(&kt_loop.calls) < 2; i++)
		msleep(10);
	calls = atomic_read(&kt_loop.calls);

	eventfd_ctx_remove_wait_queue(kt_loop.ctx, &kt_loop.wait, &cnt);
	eventfd_ctx_put(kt_loop.ctx);
	fput(file);
	return calls;
}

/* Deliver from inside the wake-up of another eventfd. */
static int kt_nested_deliver(struct irq_remap_table *t, unsigned int handle)
{
	struct eventfd_ctx *ctx;
	struct file *file;
	poll_table pt;
	u64 cnt;

	file = fget(nest_fd);
	if (!file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return PTR_ERR(ctx);
	}
	kt_nest.t = t;
	kt_nest.handle = handle;
	init_waitqueue_func_entry(&kt_nest.wait, kt_nest_wakeup);
	init_poll_funcptr(&pt, kt_nest_queue);
	vfs_poll(file, &pt);
	kvmio_eventfd_signal(ctx);
	eventfd_ctx_remove_wait_queue(ctx, &kt_nest.wait, &cnt);
	eventfd_ctx_put(ctx);
	fput(file);
	return 0;
}

static int __init kt_irq_remap_client_init(void)
{
	struct irq_remap_entry_cfg cfg = {
		.flags = IRQ_REMAP_ENTRY_PRESENT, .trigger_fd = trigger_fd,
		.resample_fd = -1, .svt = IRQ_REMAP_SVT_RID, .sid = KT_RID,
		.sq = IRQ_REMAP_SQ_ALL, .msi_addr = 0xfee00000, .msi_data = 0x31,
	};
	struct irq_remap_entry_info info = {};
	struct irq_remap_fault recs[8];
	struct irq_remap_stats st;
	struct irq_remap_table *t;
	unsigned int remaining;
	int h, h2, ret = 0;
	u64 overflow;

	t = irq_remap_table_create(KT_RID, 8);
	if (IS_ERR(t))
		return PTR_ERR(t);
	KT_CHECK(irq_remap_table_requester_id(t) == KT_RID);
	KT_CHECK(IS_ERR(irq_remap_table_create(KT_RID, 0)));

	/* Ownership. */
	h = irq_remap_entry_alloc(t, &kt_owner_a, -1);
	KT_CHECK(h == 0);
	KT_CHECK(irq_remap_entry_alloc(t, &kt_owner_a, 0) == -EBUSY);
	KT_CHECK(irq_remap_entry_alloc(t, NULL, -1) == -EINVAL);
	KT_CHECK(irq_remap_entry_program(t, &kt_owner_b, h, &cfg) == -EPERM);
	KT_CHECK(irq_remap_entry_program(t, &kt_owner_a, h, &cfg) == 0);
	KT_CHECK(irq_remap_entry_set_masked(t, &kt_owner_b, h, true) == -EPERM);
	KT_CHECK(irq_remap_entry_info(t, h, &kt_owner_a, &info) == 0);
	KT_CHECK(info.state == (IRQ_REMAP_STATE_ALLOCATED | IRQ_REMAP_STATE_OWNED |
				IRQ_REMAP_STATE_PRESENT));
	KT_CHECK(info.msi_addr == 0xfee00000 && info.msi_data == 0x31);
	KT_CHECK(info.svt == IRQ_REMAP_SVT_RID && info.sid == KT_RID);
	KT_CHECK(irq_remap_entry_info(t, h, &kt_owner_b, &info) == 0);
	KT_CHECK(!(info.state & IRQ_REMAP_STATE_OWNED));
	KT_CHECK(irq_remap_entry_info(t, 8, NULL, &info) == -EINVAL);

	/* Delivery and faults: signal 1. */
	KT_CHECK(irq_remap_deliver(t, KT_RID, h) == 0);
	KT_CHECK(irq_remap_deliver(t, KT_RID + 1, h) == -EPERM);
	KT_CHECK(irq_remap_deliver(t, KT_RID, 8) == -ERANGE);
	KT_CHECK(irq_remap_deliver(t, KT_RID, 1) == -ENOENT);
	KT_CHECK(irq_remap_fault_read(t, recs, 8, true, &overflow,
				      &remaining) == 3);
	KT_CHECK(recs[0].reason == IRQ_REMAP_FAULT_SOURCE_ID);
	KT_CHECK(recs[1].reason == IRQ_REMAP_FAULT_INDEX);
	KT_CHECK(recs[2].reason == IRQ_REMAP_FAULT_NOT_PRESENT);
	KT_CHECK(!overflow && !remaining);

	/*
	 * From inside another eventfd's wake-up eventfd_signal() is not
	 * allowed: the signal is deferred to the irq_work (signal 2).
	 */
	KT_CHECK(kt_nested_deliver(t, h) == 0);
	KT_CHECK(kt_nest.calls == 1);
	KT_CHECK(kt_nest.ret == 0);
	KT_CHECK(irq_remap_entry_stats(t, h, &st) == 0);
	KT_CHECK(st.delivered == 2);
	KT_CHECK(!kt_nest.allowed);
	KT_CHECK(st.deferred == 1);

	/* Mask, pending, unmask: signal 3. */
	KT_CHECK(irq_remap_entry_set_masked(t, &kt_owner_a, h, true) == 0);
	KT_CHECK(irq_remap_deliver(t, KT_RID, h) == 0);
	KT_CHECK(irq_remap_entry_stats(t, h, &st) == 0);
	KT_CHECK(st.state & IRQ_REMAP_STATE_PENDING);
	KT_CHECK(irq_remap_entry_set_masked(t, &kt_owner_a, h, false) == 0);
	KT_CHECK(irq_remap_entry_stats(t, h, &st) == 0);
	KT_CHECK(st.unmask_fires == 1 && !(st.state & IRQ_REMAP_STATE_PENDING));

	/* INTx with an EOI callback: signals 4 and 5. */
	h2 = irq_remap_entry_alloc(t, &kt_owner_b, 5);
	KT_CHECK(h2 == 5);
	cfg.flags = IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_INTX;
	cfg.eoi = kt_eoi;
	cfg.eoi_data = &kt_eoi_calls;
	KT_CHECK(irq_remap_entry_program(t, &kt_owner_b, h2, &cfg) == 0);
	KT_CHECK(irq_remap_intx_assert(t, KT_RID, h2) == 0);
	KT_CHECK(irq_remap_intx_assert(t, KT_RID, h2) == 0);
	KT_CHECK(irq_remap_intx_resample(t, h2) == 0);
	KT_CHECK(kt_eoi_calls == 1 && kt_eoi_handle == h2);
	KT_CHECK(irq_remap_intx_deassert(t, h2) == 0);
	KT_CHECK(irq_remap_intx_resample(t, h2) == 0);
	KT_CHECK(kt_eoi_calls == 2);
	KT_CHECK(irq_remap_entry_stats(t, h2, &st) == 0);
	KT_CHECK(st.delivered == 1 && st.intx_suppressed == 1 &&
		 st.resample_fires == 1);
	KT_CHECK(irq_remap_intx_deassert(t, h) == -ENXIO);

	/* A trigger that is also the unmask eventfd: no signal on trigger_fd. */
	if (loop_fd >= 0) {
		h2 = irq_remap_entry_alloc(t, &kt_owner_c, 6);
		KT_CHECK(h2 == 6);
		cfg.trigger_fd = loop_fd;
		cfg.eoi = NULL;
		cfg.eoi_data = NULL;
		KT_CHECK(irq_remap_entry_program(t, &kt_owner_c, h2, &cfg) == 0);
		KT_CHECK(kt_loop_deliver(t, h2) == 1);
		KT_CHECK(irq_remap_entry_stats(t, h2, &st) == 0);
		KT_CHECK(st.delivered == 1 && st.resample_fires == 0);
		KT_CHECK(st.resample_loops == 1 && st.signalled == 1);
		KT_CHECK((st.state & (IRQ_REMAP_STATE_ASSERTED |
				      IRQ_REMAP_STATE_IN_SERVICE)) ==
			 (IRQ_REMAP_STATE_ASSERTED | IRQ_REMAP_STATE_IN_SERVICE));
		/* An EOI from outside the engine's signal still resamples. */
		KT_CHECK(irq_remap_intx_deassert(t, h2) == 0);
		KT_CHECK(irq_remap_intx_resample(t, h2) == 0);
		KT_CHECK(irq_remap_entry_stats(t, h2, &st) == 0);
		KT_CHECK(!(st.state & IRQ_REMAP_STATE_IN_SERVICE));
		/* The engine's own resample eventfd may not be its trigger. */
		cfg.resample_fd = loop_fd;
		KT_CHECK(irq_remap_entry_program(t, &kt_owner_c, h2, &cfg) == -EINVAL);
		cfg.resample_fd = -1;
		KT_CHECK(irq_remap_entry_free(t, &kt_owner_c, h2) == 0);
		cfg.trigger_fd = trigger_fd;
	}
	/* An SVT_RID check must accept the table's own device. */
	cfg.sid = KT_RID + 1;
	KT_CHECK(irq_remap_entry_program(t, &kt_owner_b, 5, &cfg) == -EINVAL);
	cfg.sid = KT_RID;

	KT_CHECK(irq_remap_table_set_coalesce(t, IRQ_REMAP_MAX_COALESCE_US + 1) ==
		 -EINVAL);
	KT_CHECK(irq_remap_entry_free(t, &kt_owner_b, h) == -EPERM);
	KT_CHECK(irq_remap_entry_free(t, &kt_owner_a, h) == 0);
	KT_CHECK(irq_remap_deliver(t, KT_RID, h) == -ENOENT);
out:
	irq_remap_table_destroy(t);
	return ret;
}

static void __exit kt_irq_remap_client_exit(void)
{
}

module_init(kt_irq_remap_client_init);
module_exit(kt_irq_remap_client_exit);

MODULE_DESCRIPTION("kvmio test: a user of irq_remap's kernel API");
MODULE_LICENSE("GPL");
