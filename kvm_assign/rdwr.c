// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: BAR region access.
 *
 * Every BAR access of a context is mediated: accesses inside a range the
 * model traps go to its handlers, which decide what reaches the hardware
 * (registers where a device learns DMA addresses never do directly).
 * Accesses elsewhere read as all-ones and drop writes, as an unclaimed PCI
 * address would; they are counted.  With memory decoding disabled in the
 * virtual command register, the BARs behave the same way.
 */
#include "kvm_assign_priv.h"

static const struct ka_trap *ka_find_trap(const struct ka_model *m, int bar,
					  u32 off, u32 len)
{
	unsigned int i;

	for (i = 0; i < m->nr_traps; i++) {
		const struct ka_trap *t = &m->traps[i];

		if (t->bar == bar && off >= t->offset &&
		    off + len <= t->offset + t->size)
			return t;
	}
	return NULL;
}

/**
 * ka_bar_rw() - one access to a BAR of a context
 * @ctx:	the context; its lock is held
 * @bar:	BAR index, one the guest sees
 * @buf:	data, little-endian
 * @count:	1, 2, 4 or 8, naturally aligned
 * @off:	offset in the BAR
 * @write:	direction
 *
 * Return: @count, -EINVAL outside the BAR, or the model's error.
 */
ssize_t ka_bar_rw(struct ka_ctx *ctx, int bar, char *buf, size_t count,
		  loff_t off, bool write)
{
	const struct ka_model *m = ctx->kd->model;
	u64 val = 0;
	int ret;

	lockdep_assert_held(&ctx->lock);

	if (off < 0 || off >= ctx->bar_size[bar] ||
	    count > ctx->bar_size[bar] - off)
		return -EINVAL;

	if (!ka_config_memory_enabled(ctx) ||
	    !ka_find_trap(m, bar, off, count)) {
		atomic64_inc(&ctx->stats.bar_refused);
		if (!write)
			memset(buf, 0xff, count);
		return count;
	}

	if (write) {
		memcpy(&val, buf, count);
		val = le64_to_cpu((__force __le64)val);
		atomic64_inc(&ctx->stats.bar_writes);
		ret = m->write(ctx, bar, off, val, count);
	} else {
		atomic64_inc(&ctx->stats.bar_reads);
		ret = m->read(ctx, bar, off, &val, count);
		val = (__force u64)cpu_to_le64(val);
		memcpy(buf, &val, count);
	}
	return ret < 0 ? ret : count;
}
