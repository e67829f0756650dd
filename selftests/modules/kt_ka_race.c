// SPDX-License-Identifier: GPL-2.0
/*
 * kt_ka_race - test-only module that widens race windows of kvm_assign
 * with kprobes, so that a regression test hits them every time.  Nothing
 * is added to kvm_assign itself; the probes sit on its own functions (and
 * on iommu_soft_translate(), which it calls).
 *
 * A round is armed by writing its kind to <debugfs>/kt_ka_race/arm.
 *
 * KT_ROUND_CLOSE: edu's interrupt handler (ka_edu_irq(), hard irq)
 * forwards an interrupt to the context that owns the device with
 * ka_ctx_interrupt(owner).  A close of that context, followed by the
 * removal of its mdev, frees it.  The handler must not reach the context
 * once the close has returned: kvm_assign keeps the owner under kd->lock
 * while it is used, and the close clears it there and waits for the
 * handler (synchronize_irq()).
 *
 * 1. In the close (on the test's CPU), at the entry of
 *    ka_dma_invalidate() for the whole space (close and reset are its
 *    only such callers; the test resets nothing meanwhile), the module
 *    raises an interrupt on the device itself (EDU_IRQ_RAISE), and waits,
 *    up to wait_ms, until a handler holds the context (step 2).  This
 *    point is after the close's model reset (which takes the lock the
 *    handler holds) and before it clears the owner.
 * 2. In the handler (another CPU: the test steers the IRQ there), at the
 *    entry of ka_ctx_interrupt() for the context being closed, the module
 *    holds the handler: it busy-waits until the context's release
 *    (ka_release_dev(), entered from the mdev removal) has been seen plus
 *    settle_ms, or hold_ms at most.  Then the handler goes on and uses
 *    the context.
 *
 * With the fix, the close cannot return while the handler holds the
 * owner, so the release never starts in the window: the hold ends after
 * hold_ms, then the close returns.  Without it, the close returns at once,
 * the test removes the mdev, the release runs and the context is freed:
 * released_in_window reads 1 and the handler's use is a use-after-free
 * (a KASAN report on the debug kernel, an oops with slub_debug=P).
 *
 * KT_ROUND_UNMAP: VFIO's dma_unmap notification for a range
 * (ka_dma_invalidate() with a length) is held at its entry, up to
 * wait_ms, until a transfer start (the test's other thread, on the other
 * CPU) has translated guest memory (iommu_soft_translate() returned 0).
 * With ctx->dma_lock, the unmap then waits for that start and for its
 * transfer to end before it unmaps; without it (the model's quiesce done
 * before, unserialized), it unmaps under the running transfer and
 * iommu_soft revokes the translation after unmap_wait_ms: the device
 * keeps reading pages given back to the VMM.
 *
 * Results (debugfs, read-only): stage (KT_STAGE_*), handler_cpu,
 * close_cpu (KT_ROUND_UNMAP: the translating CPU and the unmapping CPU),
 * held_us (how long the handler was held), released_in_window.
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>

#include "kvmio/edu.h"
#include "kt_ka_race.h"

static unsigned int hold_ms = 1000;
module_param(hold_ms, uint, 0644);
MODULE_PARM_DESC(hold_ms, "longest time a handler is held at ka_ctx_interrupt()");
static unsigned int settle_ms = 30;
module_param(settle_ms, uint, 0644);
MODULE_PARM_DESC(settle_ms, "hold kept after the context's release was seen");
static unsigned int wait_ms = 2000;
module_param(wait_ms, uint, 0644);
MODULE_PARM_DESC(wait_ms, "longest time the close waits for a handler to be held");

/* The interrupt bit raised on the device (not DMA-done: the model's). */
#define KT_RACE_IRQ_BIT		0x10000

/*
 * One round's state.  @stage moves forward only, with atomic_cmpxchg();
 * each result is written by the one probe that owns that stage, before it
 * moves the stage on (release order), and read by userspace once the
 * round is over.
 */
static atomic_t kt_stage = ATOMIC_INIT(KT_STAGE_IDLE);
static int kt_round;			/* KT_ROUND_*, set when armed */
static unsigned long kt_closing_ctx;	/* ka_dma_invalidate()'s context */
static u32 kt_handler_cpu = U32_MAX;
static u32 kt_close_cpu = U32_MAX;
static u32 kt_held_us;
static u32 kt_released_in_window;
static bool kt_release_seen;		/* ka_release_dev() entered, in HELD */

/* This CPU runs ka_edu_irq() (between its kretprobe's entry and return). */
static DEFINE_PER_CPU(bool, kt_in_edu_irq);

static struct pci_dev *kt_pdev;
static void __iomem *kt_bar;
static struct dentry *kt_dir;

/*
 * Busy-wait up to @ms for @cond: kprobe handlers cannot sleep, and the
 * deadline is in real time (a loop count is not, under TCG on a loaded
 * host).  The fast clock may be read from any context, NMI included.
 */
#define kt_spin_until(cond, ms)						\
	({								\
		u64 __end = ktime_get_mono_fast_ns() +			\
			    (u64)(ms) * NSEC_PER_MSEC;			\
		while (!(cond) && ktime_get_mono_fast_ns() < __end)	\
			udelay(10);					\
		(cond);							\
	})

/* ka_dma_invalidate(ctx, iova, len): the close (step 1), or a dma_unmap. */
static int kt_inval_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long ctx = regs_get_kernel_argument(regs, 0);
	bool whole = !regs_get_kernel_argument(regs, 1) &&
		     !regs_get_kernel_argument(regs, 2);
	int round = READ_ONCE(kt_round);

	if (atomic_read(&kt_stage) != KT_STAGE_ARMED ||
	    whole != (round == KT_ROUND_CLOSE))
		return 0;
	WRITE_ONCE(kt_closing_ctx, ctx);
	WRITE_ONCE(kt_close_cpu, raw_smp_processor_id());
	if (atomic_cmpxchg(&kt_stage, KT_STAGE_ARMED, KT_STAGE_WAITING) != KT_STAGE_ARMED)
		return 0;
	if (round == KT_ROUND_CLOSE)
		iowrite32(KT_RACE_IRQ_BIT, kt_bar + EDU_IRQ_RAISE);
	if (!kt_spin_until(atomic_read(&kt_stage) >= KT_STAGE_HELD, wait_ms))
		atomic_cmpxchg(&kt_stage, KT_STAGE_WAITING, KT_STAGE_MISSED);
	else if (round == KT_ROUND_UNMAP)
		atomic_set_release(&kt_stage, KT_STAGE_DONE);
	return 0;
}

/* iommu_soft_translate() returned: a start translated (KT_ROUND_UNMAP). */
static int kt_translate_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (READ_ONCE(kt_round) != KT_ROUND_UNMAP || regs_return_value(regs))
		return 0;
	WRITE_ONCE(kt_handler_cpu, raw_smp_processor_id());
	atomic_cmpxchg(&kt_stage, KT_STAGE_WAITING, KT_STAGE_HELD);
	return 0;
}

/* ka_ctx_interrupt(ctx): step 2, in the handler. */
static int kt_interrupt_pre(struct kprobe *p, struct pt_regs *regs)
{
	u64 t0;

	if (READ_ONCE(kt_round) != KT_ROUND_CLOSE || !this_cpu_read(kt_in_edu_irq) ||
	    regs_get_kernel_argument(regs, 0) != READ_ONCE(kt_closing_ctx))
		return 0;
	WRITE_ONCE(kt_handler_cpu, raw_smp_processor_id());
	if (atomic_cmpxchg(&kt_stage, KT_STAGE_WAITING, KT_STAGE_HELD) != KT_STAGE_WAITING)
		return 0;
	t0 = ktime_get_mono_fast_ns();
	if (kt_spin_until(READ_ONCE(kt_release_seen), hold_ms)) {
		WRITE_ONCE(kt_released_in_window, 1);
		mdelay(settle_ms);
	}
	WRITE_ONCE(kt_held_us, div_u64(ktime_get_mono_fast_ns() - t0, NSEC_PER_USEC));
	atomic_set_release(&kt_stage, KT_STAGE_DONE);
	return 0;
}

/* ka_release_dev(vdev): the context is being freed. */
static int kt_release_pre(struct kprobe *p, struct pt_regs *regs)
{
	if (atomic_read(&kt_stage) == KT_STAGE_HELD)
		WRITE_ONCE(kt_release_seen, true);
	return 0;
}

static int kt_edu_irq_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	this_cpu_write(kt_in_edu_irq, true);
	return 0;
}

static int kt_edu_irq_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	this_cpu_write(kt_in_edu_irq, false);
	return 0;
}

static struct kretprobe kt_edu_irq_krp = {
	.kp.symbol_name	= "ka_edu_irq",
	.entry_handler	= kt_edu_irq_entry,
	.handler	= kt_edu_irq_ret,
};

static struct kretprobe kt_translate_krp = {
	.kp.symbol_name	= "iommu_soft_translate",
	.handler	= kt_translate_ret,
};

static struct kretprobe *kt_krps[] = { &kt_edu_irq_krp, &kt_translate_krp };

static struct kprobe kt_probes[] = {
	{ .symbol_name = "ka_dma_invalidate",	.pre_handler = kt_inval_pre },
	{ .symbol_name = "ka_ctx_interrupt",	.pre_handler = kt_interrupt_pre },
	{ .symbol_name = "ka_release_dev",	.pre_handler = kt_release_pre },
};

static ssize_t kt_arm_write(struct file *file, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	int stage = atomic_read(&kt_stage);
	int round, ret;

	ret = kstrtoint_from_user(buf, count, 0, &round);
	if (ret)
		return ret;
	if (round != KT_ROUND_CLOSE && round != KT_ROUND_UNMAP)
		return -EINVAL;
	/* A round still in a probe cannot be restarted. */
	if (stage == KT_STAGE_WAITING || stage == KT_STAGE_HELD)
		return -EBUSY;
	WRITE_ONCE(kt_round, round);
	kt_closing_ctx = 0;
	kt_handler_cpu = U32_MAX;
	kt_close_cpu = U32_MAX;
	kt_held_us = 0;
	kt_released_in_window = 0;
	WRITE_ONCE(kt_release_seen, false);
	atomic_set_release(&kt_stage, KT_STAGE_ARMED);
	return count;
}

static const struct file_operations kt_arm_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= kt_arm_write,
	.llseek	= noop_llseek,
};

static int kt_stage_get(void *data, u64 *val)
{
	*val = atomic_read_acquire(&kt_stage);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(kt_stage_fops, kt_stage_get, NULL, "%llu\n");

static int __init kt_ka_race_init(void)
{
	struct kprobe *kps[ARRAY_SIZE(kt_probes)];
	int i, ret;

	kt_pdev = pci_get_device(0x1234, 0x11e8, NULL);
	if (!kt_pdev)
		return -ENODEV;
	/* kvm_assign holds the region; this mapping only raises interrupts. */
	kt_bar = pci_iomap(kt_pdev, 0, EDU_REGS_END);
	if (!kt_bar) {
		ret = -ENOMEM;
		goto err_put;
	}

	ret = register_kretprobes(kt_krps, ARRAY_SIZE(kt_krps));
	if (ret) {
		pr_info("kretprobes on kvm_assign and iommu_soft: %d\n", ret);
		goto err_unmap;
	}
	for (i = 0; i < ARRAY_SIZE(kt_probes); i++)
		kps[i] = &kt_probes[i];
	ret = register_kprobes(kps, ARRAY_SIZE(kps));
	if (ret) {
		pr_info("kprobes on kvm_assign: %d\n", ret);
		goto err_krp;
	}

	kt_dir = debugfs_create_dir("kt_ka_race", NULL);
	debugfs_create_file("arm", 0200, kt_dir, NULL, &kt_arm_fops);
	debugfs_create_file_unsafe("stage", 0444, kt_dir, NULL, &kt_stage_fops);
	debugfs_create_u32("handler_cpu", 0444, kt_dir, &kt_handler_cpu);
	debugfs_create_u32("close_cpu", 0444, kt_dir, &kt_close_cpu);
	debugfs_create_u32("held_us", 0444, kt_dir, &kt_held_us);
	debugfs_create_u32("released_in_window", 0444, kt_dir, &kt_released_in_window);
	return 0;

err_krp:
	unregister_kretprobes(kt_krps, ARRAY_SIZE(kt_krps));
err_unmap:
	pci_iounmap(kt_pdev, kt_bar);
err_put:
	pci_dev_put(kt_pdev);
	return ret;
}

static void __exit kt_ka_race_exit(void)
{
	struct kprobe *kps[ARRAY_SIZE(kt_probes)];
	int i;

	debugfs_remove_recursive(kt_dir);
	for (i = 0; i < ARRAY_SIZE(kt_probes); i++)
		kps[i] = &kt_probes[i];
	unregister_kprobes(kps, ARRAY_SIZE(kps));
	unregister_kretprobes(kt_krps, ARRAY_SIZE(kt_krps));
	pci_iounmap(kt_pdev, kt_bar);
	pci_dev_put(kt_pdev);
}

module_init(kt_ka_race_init);
module_exit(kt_ka_race_exit);

MODULE_DESCRIPTION("kvmio test-only module: kprobes widening kvm_assign's race windows");
MODULE_LICENSE("GPL");
