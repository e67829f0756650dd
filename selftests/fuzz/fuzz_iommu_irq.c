// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_iommu_irq - the /dev/iommu_soft and /dev/irq_remap uAPIs from
 * several threads at once.
 *
 * Every thread draws operations on two shared opens of each device: every
 * documented ioctl and numbers near them, with argsz, flags, padding, ids,
 * sizes, addresses and eventfds drawn hostile (unmapped, read-only and
 * PROT_NONE user pointers, a structure ending at a PROT_NONE page, kernel
 * and non-canonical addresses), create/destroy/map/unmap on the same ids
 * racing between threads, and the files themselves replaced (dup2 of a new
 * open) or closed while other threads are inside an ioctl on them.
 *
 * Checked here (findings): a call that succeeds although the uAPI says it
 * must fail (unknown ioctl number, argsz too small, unknown flags, nonzero
 * padding), a byte of the caller's memory at or beyond argsz written by the
 * kernel, and, once every file is closed, a domain, table, mapping or
 * pinned page left behind.
 */
#include <dirent.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/iommu_soft.h>
#include <linux/irq_remap.h>

#include "fuzz.h"

#define NSLOT	2		/* opens of each device */
#define NIDS	8		/* remembered ids per kind */
#define NEFD	4		/* eventfds in the pool */
#define ARGBUF	8192		/* room for a structure and what follows */

struct pad {
	uint16_t off, len;
};

/* What a structure-taking ioctl must refuse. */
struct op {
	const char *name;
	unsigned long cmd;
	size_t size;
	uint32_t flags_ok;	/* flags the call accepts */
	bool check_flags;	/* unknown flags must fail */
	struct pad pads[3];	/* input padding that must be zero */
};

#define PAD(s, f) { offsetof(struct s, f), sizeof(((struct s *)0)->f) }

enum {
	IS_CREATE, IS_DESTROY, IS_MAP, IS_UNMAP, IS_DMA_RW, IS_GET_FAULTS,
	IS_SET_EFD, IS_STATS, IS_MAPPINGS,
	IR_CREATE, IR_DESTROY, IR_ALLOC, IR_FREE, IR_SET, IR_MASK, IR_UNMASK,
	IR_RAISE, IR_ASSERT, IR_DEASSERT, IR_RESAMPLE, IR_FAULTS, IR_SET_EFD,
	IR_TSTATS, IR_ENTRY, IR_COALESCE, NOPS
};

static const struct op ops[NOPS] = {
	[IS_CREATE] = { "iommu_soft DOMAIN_CREATE", IOMMU_SOFT_DOMAIN_CREATE,
			sizeof(struct iommu_soft_domain_create), 0, true },
	[IS_DESTROY] = { "iommu_soft DOMAIN_DESTROY", IOMMU_SOFT_DOMAIN_DESTROY,
			 sizeof(struct iommu_soft_domain_destroy), 0, true,
			 { PAD(iommu_soft_domain_destroy, pad) } },
	[IS_MAP] = { "iommu_soft MAP", IOMMU_SOFT_MAP, sizeof(struct iommu_soft_map),
		     IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE, true,
		     { PAD(iommu_soft_map, pad) } },
	[IS_UNMAP] = { "iommu_soft UNMAP", IOMMU_SOFT_UNMAP, sizeof(struct iommu_soft_unmap),
		       0, true, { PAD(iommu_soft_unmap, pad) } },
	[IS_DMA_RW] = { "iommu_soft DMA_RW", IOMMU_SOFT_DMA_RW, sizeof(struct iommu_soft_dma_rw),
			IOMMU_SOFT_DMA_RW_WRITE, true, { PAD(iommu_soft_dma_rw, pad) } },
	[IS_GET_FAULTS] = { "iommu_soft GET_FAULTS", IOMMU_SOFT_GET_FAULTS,
			    sizeof(struct iommu_soft_get_faults), 0, true,
			    { PAD(iommu_soft_get_faults, pad) } },
	[IS_SET_EFD] = { "iommu_soft SET_FAULT_EVENTFD", IOMMU_SOFT_SET_FAULT_EVENTFD,
			 sizeof(struct iommu_soft_set_fault_eventfd), 0, true },
	[IS_STATS] = { "iommu_soft GET_STATS", IOMMU_SOFT_GET_STATS,
		       sizeof(struct iommu_soft_stats), 0, true },
	[IS_MAPPINGS] = { "iommu_soft GET_MAPPINGS", IOMMU_SOFT_GET_MAPPINGS,
			  sizeof(struct iommu_soft_get_mappings), 0, true,
			  { PAD(iommu_soft_get_mappings, pad) } },
	[IR_CREATE] = { "irq_remap TABLE_CREATE", IRQ_REMAP_TABLE_CREATE,
			sizeof(struct irq_remap_table_create), 0, true,
			{ PAD(irq_remap_table_create, pad0), PAD(irq_remap_table_create, pad1) } },
	[IR_DESTROY] = { "irq_remap TABLE_DESTROY", IRQ_REMAP_TABLE_DESTROY,
			 sizeof(struct irq_remap_table_op), 0, true,
			 { PAD(irq_remap_table_op, pad0) } },
	[IR_ALLOC] = { "irq_remap ENTRY_ALLOC", IRQ_REMAP_ENTRY_ALLOC,
		       sizeof(struct irq_remap_entry_alloc), IRQ_REMAP_ALLOC_FIXED, true },
	[IR_FREE] = { "irq_remap ENTRY_FREE", IRQ_REMAP_ENTRY_FREE,
		      sizeof(struct irq_remap_entry_op), 0, true },
	[IR_SET] = { "irq_remap ENTRY_SET", IRQ_REMAP_ENTRY_SET,
		     sizeof(struct irq_remap_entry_set),
		     IRQ_REMAP_ENTRY_PRESENT | IRQ_REMAP_ENTRY_MASKED | IRQ_REMAP_ENTRY_INTX, true,
		     { PAD(irq_remap_entry_set, pad0), PAD(irq_remap_entry_set, pad1) } },
	[IR_MASK] = { "irq_remap ENTRY_MASK", IRQ_REMAP_ENTRY_MASK,
		      sizeof(struct irq_remap_entry_op), 0, true },
	[IR_UNMASK] = { "irq_remap ENTRY_UNMASK", IRQ_REMAP_ENTRY_UNMASK,
			sizeof(struct irq_remap_entry_op), 0, true },
	[IR_RAISE] = { "irq_remap RAISE", IRQ_REMAP_RAISE, sizeof(struct irq_remap_raise),
		       IRQ_REMAP_RAISE_HARDIRQ, true, { PAD(irq_remap_raise, pad0) } },
	[IR_ASSERT] = { "irq_remap INTX_ASSERT", IRQ_REMAP_INTX_ASSERT,
			sizeof(struct irq_remap_raise), IRQ_REMAP_RAISE_HARDIRQ, true,
			{ PAD(irq_remap_raise, pad0) } },
	[IR_DEASSERT] = { "irq_remap INTX_DEASSERT", IRQ_REMAP_INTX_DEASSERT,
			  sizeof(struct irq_remap_entry_op), 0, true },
	[IR_RESAMPLE] = { "irq_remap INTX_RESAMPLE", IRQ_REMAP_INTX_RESAMPLE,
			  sizeof(struct irq_remap_entry_op), 0, true },
	[IR_FAULTS] = { "irq_remap GET_FAULTS", IRQ_REMAP_GET_FAULTS,
			sizeof(struct irq_remap_get_faults), IRQ_REMAP_FAULTS_PEEK, true,
			{ PAD(irq_remap_get_faults, pad0) } },
	[IR_SET_EFD] = { "irq_remap SET_FAULT_EVENTFD", IRQ_REMAP_SET_FAULT_EVENTFD,
			 sizeof(struct irq_remap_fault_eventfd), 0, true },
	[IR_TSTATS] = { "irq_remap GET_TABLE_STATS", IRQ_REMAP_GET_TABLE_STATS,
			sizeof(struct irq_remap_table_stats), 0, true },
	[IR_ENTRY] = { "irq_remap GET_ENTRY", IRQ_REMAP_GET_ENTRY,
		       sizeof(struct irq_remap_entry_info), 0, true },
	[IR_COALESCE] = { "irq_remap SET_COALESCE", IRQ_REMAP_SET_COALESCE,
			  sizeof(struct irq_remap_coalesce), 0, true },
};

/* Shared state: racy on purpose, every access relaxed-atomic. */
static int is_fd[NSLOT], ir_fd[NSLOT];
static uint32_t dom_ids[NIDS], tbl_ids[NIDS], handles[NIDS];
static int efd[NEFD];
static int nullfd;
static struct fuzz_ptrs ptrs;
static uint64_t refused_ok;	/* calls that failed as they should */
/* Serializes op_files(): no fd number closed twice or leaked. */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

#define LD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static int reopen(const char *dev)
{
	return open(dev, O_RDWR | O_CLOEXEC);
}

static uint32_t pick_id(struct fuzz_rng *r, uint32_t *pool)
{
	if (fuzz_one_in(r, 8))
		return fuzz_int(r, 1);
	return LD(pool[fuzz_below(r, NIDS)]);
}

static void remember(struct fuzz_rng *r, uint32_t *pool, uint32_t id)
{
	ST(pool[fuzz_below(r, NIDS)], id);
}

static int pick_fd(struct fuzz_rng *r)
{
	switch (fuzz_below(r, 10)) {
	case 0: return -1;
	case 1: return nullfd;
	case 2: return LD(is_fd[0]);
	case 3: return 1000 + fuzz_below(r, 10);	/* not open */
	case 4: return (int)fuzz_int(r, 3);
	default: return LD(efd[fuzz_below(r, NEFD)]);
	}
}

/* A 4 KiB-aligned IOVA, now and then not. */
static uint64_t pick_iova(struct fuzz_rng *r)
{
	uint64_t v;

	switch (fuzz_below(r, 5)) {
	case 0: v = fuzz_int(r, 0x100000); break;
	case 1: v = (fuzz_below(r, 64) << 12); break;
	case 2: v = (1ULL << fuzz_below(r, 65)) - fuzz_below(r, 3) * 4096; break;
	default: v = fuzz_below(r, 1ULL << 20) << 12; break;
	}
	if (!fuzz_one_in(r, 8))
		v &= ~4095ULL;
	return v;
}

static uint64_t pick_size(struct fuzz_rng *r)
{
	uint64_t v;

	switch (fuzz_below(r, 4)) {
	case 0: v = fuzz_int(r, 4096); break;
	case 1: v = (1 + fuzz_below(r, FUZZ_BUF_PAGES + 2)) * 4096; break;
	case 2: v = 1ULL << fuzz_below(r, 64); break;
	default: v = (1 + fuzz_below(r, 4)) * 4096; break;
	}
	if (!fuzz_one_in(r, 8))
		v &= ~4095ULL;
	return v;
}

/* Where MAP takes its pages from: only the pool, never the fuzzer's own. */
static uint64_t pick_vaddr(struct fuzz_rng *r)
{
	if (fuzz_one_in(r, 2))
		return (uintptr_t)ptrs.rw + fuzz_below(r, FUZZ_BUF_PAGES) * 4096;
	return fuzz_ptr(r, &ptrs, 4096) & (fuzz_one_in(r, 6) ? ~0ULL : ~4095ULL);
}

struct call {
	int op;
	uint8_t *arg;		/* ARGBUF bytes, the structure at its start */
	uint8_t snap[ARGBUF];
	uint32_t argsz;
	bool must_fail;
	const char *why;
};

/*
 * Fill the header and perhaps break it: argsz, flags, padding.  Remembers
 * whether the call must then fail.
 */
static void prepare(struct fuzz_rng *r, struct call *c, uint32_t flags)
{
	const struct op *o = &ops[c->op];
	uint32_t *hdr = (uint32_t *)c->arg;
	unsigned int i;

	c->must_fail = false;
	c->argsz = o->size;
	switch (fuzz_below(r, 10)) {
	case 0:
		c->argsz = fuzz_below(r, o->size);
		c->must_fail = true;
		c->why = "argsz below the structure";
		break;
	case 1:
		c->argsz = o->size + 1 + fuzz_below(r, 64);	/* zeros follow */
		break;
	case 2:
		c->argsz = (uint32_t)fuzz_int(r, o->size);
		break;
	}
	if (fuzz_one_in(r, 10)) {
		uint32_t bad = 1U << fuzz_below(r, 32);

		if (o->check_flags && !(bad & o->flags_ok)) {
			flags |= bad;
			c->must_fail = true;
			c->why = "unknown flag";
		}
	}
	hdr[0] = c->argsz;
	hdr[1] = flags;
	for (i = 0; i < 3 && o->pads[i].len; i++) {
		if (fuzz_one_in(r, 12)) {
			memset(c->arg + o->pads[i].off, 0xff, o->pads[i].len);
			c->must_fail = true;
			c->why = "nonzero padding";
		}
	}
}

/*
 * Issue the call: on the argument buffer (the bytes after the structure
 * zero or canary, and checked afterwards), or now and then on a hostile
 * pointer instead.
 */
static long issue(struct fuzz_rng *r, struct call *c, int fd, unsigned int tid)
{
	const struct op *o = &ops[c->op];
	size_t end;
	long ret;
	void *p = c->arg;
	bool hostile = fuzz_one_in(r, 16);

	/* never a buffer of garbage: MAP could then pin the fuzzer's own pages */
	if (hostile)
		p = (void *)(uintptr_t)fuzz_bad_ptr(r, &ptrs);
	if (p == c->arg) {
		/* After argsz: zeros (accepted) or canary (E2BIG) up to the end. */
		end = c->argsz < ARGBUF ? c->argsz : ARGBUF;
		if (end < o->size)
			end = o->size;
		if (fuzz_one_in(r, 4))
			fuzz_canary_set(c->arg + end, ARGBUF - end);
		memcpy(c->snap, c->arg, ARGBUF);
	}
	fz_cur[tid] = o->name;
	errno = 0;
	ret = ioctl(fd, o->cmd, p);
	fz_cur[tid] = NULL;
	if (p != c->arg)
		return ret;
	if (ret >= 0 && c->must_fail)
		fuzz_finding("%s succeeded with %s (argsz %u, flags %#x)", o->name,
			     c->why, c->argsz, ((uint32_t *)c->arg)[1]);
	else if (ret < 0 && c->must_fail)
		__atomic_add_fetch(&refused_ok, 1, __ATOMIC_RELAXED);
	/* Nothing at or beyond argsz may change (the kernel writes at most argsz). */
	for (end = c->argsz; end < ARGBUF; end++) {
		if (c->arg[end] != c->snap[end]) {
			fuzz_finding("%s wrote byte %zu of the caller's buffer (argsz %u, ret %ld)",
				     o->name, end, c->argsz, ret);
			break;
		}
	}
	return ret;
}

static void op_iommu(struct fuzz_rng *r, struct call *c, unsigned int tid)
{
	int fd = LD(is_fd[fuzz_below(r, NSLOT)]);
	uint32_t flags = 0;
	long ret;

	memset(c->arg, 0, ARGBUF);
	c->op = IS_CREATE + fuzz_below(r, IS_MAPPINGS - IS_CREATE + 1);
	switch (c->op) {
	case IS_CREATE: {
		struct iommu_soft_domain_create *a = (void *)c->arg;

		a->addr_width = fuzz_one_in(r, 3) ? fuzz_int(r, 48) : 32 + fuzz_below(r, 33);
		break;
	}
	case IS_DESTROY:
		((struct iommu_soft_domain_destroy *)c->arg)->domain_id = pick_id(r, dom_ids);
		break;
	case IS_MAP: {
		struct iommu_soft_map *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->iova = pick_iova(r);
		a->vaddr = pick_vaddr(r);
		a->size = pick_size(r);
		flags = fuzz_below(r, 4);
		break;
	}
	case IS_UNMAP: {
		struct iommu_soft_unmap *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->iova = pick_iova(r);
		a->size = fuzz_one_in(r, 4) ? ~0ULL & ~4095ULL : pick_size(r);
		break;
	}
	case IS_DMA_RW: {
		struct iommu_soft_dma_rw *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->iova = pick_iova(r) + (fuzz_one_in(r, 2) ? fuzz_below(r, 4096) : 0);
		a->len = fuzz_one_in(r, 2) ? 1 + fuzz_below(r, 8192) : fuzz_int(r, 4096);
		/* buf: the pool (a "device" read writes it) */
		a->buf = fuzz_ptr(r, &ptrs, a->len);
		flags = fuzz_below(r, 2) ? IOMMU_SOFT_DMA_RW_WRITE : 0;
		break;
	}
	case IS_GET_FAULTS: {
		struct iommu_soft_get_faults *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->count = fuzz_one_in(r, 3) ? fuzz_int(r, 4096) : fuzz_below(r, 16);
		a->records = fuzz_ptr(r, &ptrs, a->count * sizeof(struct iommu_soft_fault_record));
		break;
	}
	case IS_SET_EFD: {
		struct iommu_soft_set_fault_eventfd *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->fd = pick_fd(r);
		break;
	}
	case IS_STATS:
		((struct iommu_soft_stats *)c->arg)->domain_id =
			fuzz_one_in(r, 4) ? 0 : pick_id(r, dom_ids);
		break;
	case IS_MAPPINGS: {
		struct iommu_soft_get_mappings *a = (void *)c->arg;

		a->domain_id = pick_id(r, dom_ids);
		a->count = fuzz_one_in(r, 3) ? fuzz_int(r, 4096) : fuzz_below(r, 16);
		a->start = pick_iova(r);
		a->entries = fuzz_ptr(r, &ptrs, a->count * sizeof(struct iommu_soft_mapping_info));
		break;
	}
	}
	prepare(r, c, flags);
	ret = issue(r, c, fd, tid);
	if (ret == 0 && c->op == IS_CREATE && !c->must_fail)
		remember(r, dom_ids, ((struct iommu_soft_domain_create *)c->arg)->domain_id);
}

static void op_irq(struct fuzz_rng *r, struct call *c, unsigned int tid)
{
	int fd = LD(ir_fd[fuzz_below(r, NSLOT)]);
	uint32_t flags = 0;
	long ret;

	memset(c->arg, 0, ARGBUF);
	c->op = IR_CREATE + fuzz_below(r, IR_COALESCE - IR_CREATE + 1);
	switch (c->op) {
	case IR_CREATE: {
		struct irq_remap_table_create *a = (void *)c->arg;

		a->requester_id = fuzz_next(r);
		a->nr_entries = fuzz_one_in(r, 4) ? fuzz_int(r, 2048) : 1 + fuzz_below(r, 32);
		break;
	}
	case IR_DESTROY:
		((struct irq_remap_table_op *)c->arg)->table_id = pick_id(r, tbl_ids);
		break;
	case IR_ALLOC: {
		struct irq_remap_entry_alloc *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		if (fuzz_one_in(r, 3)) {
			flags = IRQ_REMAP_ALLOC_FIXED;
			a->handle = fuzz_one_in(r, 4) ? fuzz_int(r, 32) : fuzz_below(r, 40);
		}
		break;
	}
	case IR_FREE: case IR_MASK: case IR_UNMASK: case IR_DEASSERT: case IR_RESAMPLE:
	case IR_ENTRY: {
		struct irq_remap_entry_op *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->handle = fuzz_one_in(r, 2) ? pick_id(r, handles) : fuzz_below(r, 40);
		break;
	}
	case IR_SET: {
		struct irq_remap_entry_set *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->handle = fuzz_one_in(r, 2) ? pick_id(r, handles) : fuzz_below(r, 40);
		flags = fuzz_below(r, 8);
		a->eventfd = pick_fd(r);
		a->resample_fd = fuzz_one_in(r, 2) ? -1 : pick_fd(r);
		a->svt = fuzz_one_in(r, 8) ? fuzz_next(r) : fuzz_below(r, 3);
		a->sid = fuzz_next(r);
		a->sq = fuzz_one_in(r, 8) ? fuzz_next(r) : fuzz_below(r, 4);
		a->bus_start = fuzz_next(r);
		a->bus_end = fuzz_one_in(r, 2) ? 0xff : fuzz_next(r);
		a->msi_data = fuzz_next(r);
		a->msi_addr = fuzz_next(r);
		break;
	}
	case IR_RAISE: case IR_ASSERT: {
		struct irq_remap_raise *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->handle = fuzz_one_in(r, 2) ? pick_id(r, handles) : fuzz_below(r, 40);
		a->source = fuzz_one_in(r, 2) ? 0 : fuzz_next(r);
		/* mostly few; rarely the most (delivered one by one: slow) */
		a->count = fuzz_one_in(r, 200) ? fuzz_int(r, IRQ_REMAP_MAX_RAISE) :
			   fuzz_one_in(r, 20) ? fuzz_int(r, 0) : 1 + fuzz_below(r, 16);
		if (a->count > 1024 && !fuzz_one_in(r, 4))
			a->count = 1024;
		flags = fuzz_one_in(r, 4) ? IRQ_REMAP_RAISE_HARDIRQ : 0;
		break;
	}
	case IR_FAULTS: {
		struct irq_remap_get_faults *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->nr = fuzz_one_in(r, 3) ? fuzz_int(r, 4096) : fuzz_below(r, 16);
		a->records = fuzz_ptr(r, &ptrs, a->nr * sizeof(struct irq_remap_fault));
		flags = fuzz_below(r, 2);
		break;
	}
	case IR_SET_EFD: {
		struct irq_remap_fault_eventfd *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->fd = pick_fd(r);
		break;
	}
	case IR_TSTATS:
		((struct irq_remap_table_stats *)c->arg)->table_id = pick_id(r, tbl_ids);
		break;
	case IR_COALESCE: {
		struct irq_remap_coalesce *a = (void *)c->arg;

		a->table_id = pick_id(r, tbl_ids);
		a->interval_us = fuzz_one_in(r, 4) ? fuzz_int(r, IRQ_REMAP_MAX_COALESCE_US) :
				 fuzz_below(r, 2000);
		break;
	}
	}
	prepare(r, c, flags);
	ret = issue(r, c, fd, tid);
	if (ret == 0 && !c->must_fail) {
		if (c->op == IR_CREATE)
			remember(r, tbl_ids, ((struct irq_remap_table_create *)c->arg)->table_id);
		else if (c->op == IR_ALLOC)
			remember(r, handles, ((struct irq_remap_entry_alloc *)c->arg)->handle);
	}
}

/* A number near the valid ones that is none of them: must fail. */
static void op_bad_cmd(struct fuzz_rng *r, unsigned int tid)
{
	bool iommu = fuzz_below(r, 2);
	int fd = iommu ? LD(is_fd[0]) : LD(ir_fd[0]);
	unsigned int type = iommu ? IOMMU_SOFT_TYPE : IRQ_REMAP_TYPE;
	unsigned int nr = (iommu ? IOMMU_SOFT_BASE + 9 : IRQ_REMAP_BASE + 16) + fuzz_below(r, 32);
	unsigned long cmd;
	unsigned int i;

	if (fuzz_one_in(r, 3))
		nr = fuzz_below(r, IRQ_REMAP_BASE);		/* below the base */
	switch (fuzz_below(r, 4)) {
	case 0: cmd = _IO(type, nr); break;
	case 1: cmd = _IOWR(type, nr, struct iommu_soft_map); break;
	case 2: cmd = _IOR(type, (nr & 0xc0) | fuzz_below(r, 16), struct iommu_soft_stats); break;
	default: cmd = _IO(type ^ (1 + fuzz_below(r, 3)), IRQ_REMAP_BASE + fuzz_below(r, 16)); break;
	}
	for (i = 0; i < NOPS; i++)
		if (ops[i].cmd == cmd)
			return;
	fz_cur[tid] = "unknown ioctl";
	errno = 0;
	if (ioctl(fd, cmd, ptrs.rw) >= 0)
		fuzz_finding("unknown ioctl %#lx on /dev/%s succeeded", cmd,
			     iommu ? "iommu_soft" : "irq_remap");
	else if (errno != ENOTTY && errno != EBADF)
		fuzz_vlog("unknown ioctl %#lx: %s", cmd, strerror(errno));
	fz_cur[tid] = NULL;
}

/* Replace or close a file while other threads may be inside it. */
static void op_files(struct fuzz_rng *r, unsigned int tid)
{
	unsigned int i = fuzz_below(r, NSLOT);
	int *slot = fuzz_below(r, 2) ? &is_fd[i] : &ir_fd[i];
	const char *dev = slot == &is_fd[i] ? "/dev/iommu_soft" : "/dev/irq_remap";
	int nfd, old;

	fz_cur[tid] = "replace a file";
	pthread_mutex_lock(&files_lock);
	switch (fuzz_below(r, 3)) {
	case 0:	/* the slot's number now names a fresh open */
		nfd = reopen(dev);
		old = LD(*slot);
		if (nfd >= 0 && old >= 0) {
			dup2(nfd, old);
			close(nfd);
		}
		break;
	case 1:	/* closed outright, reopened under a new number */
		nfd = reopen(dev);
		old = __atomic_exchange_n(slot, nfd, __ATOMIC_RELAXED);
		if (old >= 0)
			close(old);
		break;
	default: /* an eventfd of the pool replaced */
		i = fuzz_below(r, NEFD);
		nfd = eventfd(fuzz_below(r, 3), EFD_CLOEXEC | EFD_NONBLOCK);
		old = LD(efd[i]);
		if (nfd >= 0 && old >= 0) {
			dup2(nfd, old);
			close(nfd);
		}
		break;
	}
	pthread_mutex_unlock(&files_lock);
	fz_cur[tid] = NULL;
}

static void drain_eventfds(void)
{
	uint64_t v;
	int i;

	for (i = 0; i < NEFD; i++)
		if (read(LD(efd[i]), &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
}

static void *worker(void *arg)
{
	unsigned int tid = (uintptr_t)arg;
	struct fuzz_rng r = { fuzz_thread_seed(tid) };
	struct call *c = calloc(1, sizeof(*c));

	c->arg = mmap(NULL, ARGBUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->arg == MAP_FAILED)
		return NULL;
	while (fuzz_tick()) {
		unsigned int k = fuzz_below(&r, 100);

		if (k < 45)
			op_iommu(&r, c, tid);
		else if (k < 92)
			op_irq(&r, c, tid);
		else if (k < 96)
			op_bad_cmd(&r, tid);
		else if (k < 98)
			op_files(&r, tid);
		else
			drain_eventfds();
	}
	munmap(c->arg, ARGBUF);
	free(c);
	return NULL;
}

static int count_dir(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !strncmp(e->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* Module-wide totals of iommu_soft (domain 0). */
static int totals(struct iommu_soft_stats *s)
{
	int fd = reopen("/dev/iommu_soft"), ret;

	memset(s, 0, sizeof(*s));
	s->argsz = sizeof(*s);
	ret = fd >= 0 ? ioctl(fd, IOMMU_SOFT_GET_STATS, s) : -1;
	if (fd >= 0)
		close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	struct iommu_soft_stats s0, s1;
	pthread_t th[FUZZ_MAX_THREADS];
	int tables0, domains0, tables1 = 0, domains1 = 0, i, tries;

	fuzz_init(argc, argv, "fuzz_iommu_irq");
	if (access("/dev/iommu_soft", F_OK) || access("/dev/irq_remap", F_OK))
		fuzz_skip("no /dev/iommu_soft or /dev/irq_remap");
	if (fuzz_ptrs_init(&ptrs))
		fuzz_skip("mmap failed");
	tables0 = count_dir("/sys/kernel/irq_remap", "table");
	domains0 = count_dir("/sys/kernel/iommu_soft/domains", "");
	if (totals(&s0))
		fuzz_finding("GET_STATS of the totals failed: %s", strerror(errno));
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (i = 0; i < NSLOT; i++) {
		is_fd[i] = reopen("/dev/iommu_soft");
		ir_fd[i] = reopen("/dev/irq_remap");
		if (is_fd[i] < 0 || ir_fd[i] < 0)
			fuzz_skip("cannot open the devices");
	}
	for (i = 0; i < NEFD; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	for (i = 0; i < (int)fz.threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (i = 0; i < (int)fz.threads; i++)
		pthread_join(th[i], NULL);
	fuzz_log("refused as documented: %llu calls", (unsigned long long)refused_ok);

	/* Everything closed: nothing of ours may be left in either module. */
	for (i = 0; i < NSLOT; i++) {
		close(is_fd[i]);
		close(ir_fd[i]);
	}
	for (i = 0; i < NEFD; i++)
		close(efd[i]);
	for (tries = 0; tries < 50; tries++) {
		tables1 = count_dir("/sys/kernel/irq_remap", "table");
		domains1 = count_dir("/sys/kernel/iommu_soft/domains", "");
		if (!totals(&s1) && tables1 == tables0 && domains1 == domains0 &&
		    s1.domains == s0.domains && s1.mappings == s0.mappings &&
		    s1.pinned_pages == s0.pinned_pages)
			break;
		usleep(100000);
	}
	if (tables1 != tables0)
		fuzz_finding("irq_remap tables left after close: %d before, %d after",
			     tables0, tables1);
	if (domains1 != domains0 || s1.domains != s0.domains)
		fuzz_finding("iommu_soft domains left after close: %d/%llu before, %d/%llu after",
			     domains0, (unsigned long long)s0.domains, domains1,
			     (unsigned long long)s1.domains);
	if (s1.mappings != s0.mappings || s1.pinned_pages != s0.pinned_pages)
		fuzz_finding("iommu_soft mappings/pinned pages left: %llu/%llu before, %llu/%llu after",
			     (unsigned long long)s0.mappings, (unsigned long long)s0.pinned_pages,
			     (unsigned long long)s1.mappings, (unsigned long long)s1.pinned_pages);
	return fuzz_finish();
}
