// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk split-ring handling (VIRTIO_F_VERSION_1: little-endian).
 *
 * The rings live in the owner's memory at the addresses VHOST_SET_VRING_ADDR
 * gave; descriptors carry guest-physical addresses translated through the
 * memory table.  All access goes through copy_{from,to}_user and friends in
 * the worker, which runs in the owner's mm.  Every value read from a ring is
 * guest-controlled: a request whose status byte can be located fails with
 * VIRTIO_BLK_S_IOERR, anything worse breaks the ring (it is no longer
 * processed until VHOST_SET_VRING_BASE re-arms it) and signals its error
 * eventfd.
 *
 * A pass of the worker (vblk_vq_process()) reaps the asynchronous requests
 * that completed, takes new requests from the ring and starts them (under
 * a block plug), then publishes every finished one in batches of up to
 * max_batch: status bytes and used entries first, then one used->idx write
 * (split) or the batch's descriptor flags in order (packed), then one
 * interrupt decision for the batch.  With a polling budget, a pass that
 * found nothing to do keeps looking, notifications off, for that long.
 */
#include <linux/blkdev.h>
#include <linux/sched/clock.h>
#include <linux/uaccess.h>

#include "vhost_blk_priv.h"

/* offsets inside the split ring structures */
#define VBLK_AVAIL_IDX		2
#define VBLK_AVAIL_RING		4
#define VBLK_USED_IDX		2
#define VBLK_USED_RING		4

static bool vblk_uaddr_in_mem(const struct vblk_mem *mem, u64 uaddr, u64 size)
{
	u32 i;

	for (i = 0; i < mem->nregions; i++) {
		const struct vblk_region *r = &mem->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr <= r->size &&
		    size <= r->size - (uaddr - r->uaddr))
			return true;
	}
	return false;
}

/**
 * vblk_translate() - translate a guest-physical range to owner addresses
 * @mem: memory table
 * @gpa: start of the range
 * @len: its length
 * @iov: where to store the pieces (one per memory region crossed)
 * @max_iov: room in @iov
 *
 * Return: number of iovecs used, -EFAULT if part of the range is not in the
 * table, -E2BIG if @max_iov is too small.
 */
int vblk_translate(const struct vblk_mem *mem, u64 gpa, u64 len,
		   struct iovec *iov, unsigned int max_iov)
{
	unsigned int n = 0;
	u32 i;

	while (len) {
		const struct vblk_region *r = NULL;
		u64 off, chunk;

		for (i = 0; i < mem->nregions; i++) {
			if (gpa >= mem->regions[i].gpa &&
			    gpa - mem->regions[i].gpa < mem->regions[i].size) {
				r = &mem->regions[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		if (n == max_iov)
			return -E2BIG;
		off = gpa - r->gpa;
		chunk = min(len, r->size - off);
		iov[n].iov_base = u64_to_user_ptr(r->uaddr + off);
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;	/* regions end below 2^64: no wrap */
		len -= chunk;
	}
	return n;
}

bool vblk_vq_active(struct vblk_vq *vq)
{
	lockdep_assert_held(&vq->mutex);
	return vq->be && vq->kick.file && !vq->stopped && !vq->broken;
}

/*
 * A ring is processed only while started: a kick eventfd is attached.  A
 * VMM restarting a ring sends SET_VRING_BASE before SET_VRING_ADDR; without
 * its kick the ring cannot be processed in between, at the old addresses.
 */
static bool vblk_vq_ready(struct vblk_vq *vq)
{
	return vq->num && vq->addr_set && vq->mem && vq->be && vq->kick.file &&
	       !vq->stopped && !vq->broken;
}

static void vblk_vq_break(struct vblk_vq *vq, const char *why)
{
	vq->broken = true;
	vblk_count(vq->dev, rings_broken);
	vblk_vq_err(vq, "ring broken: %s\n", why);
	if (vq->err)
		kvmio_eventfd_signal(vq->err);
}

static __le16 __user *vblk_avail_ptr(struct vblk_vq *vq, u32 off)
{
	return u64_to_user_ptr(vq->avail_uaddr + off);
}

static void __user *vblk_used_ptr(struct vblk_vq *vq, u32 off)
{
	return u64_to_user_ptr(vq->used_uaddr + off);
}

/* First access after (re)configuration: check the ring lies in memory. */
static int vblk_vq_init_access(struct vblk_vq *vq)
{
	u64 num = vq->num;
	__le16 idx;

	if (vq->packed) {
		struct vblk_pevent ev = { };

		if (!vblk_uaddr_in_mem(vq->mem, vq->desc_uaddr, num * 16) ||
		    !vblk_uaddr_in_mem(vq->mem, vq->avail_uaddr, sizeof(ev)) ||
		    !vblk_uaddr_in_mem(vq->mem, vq->used_uaddr, sizeof(ev)) ||
		    vq->last_avail_idx >= num || vq->used_idx >= num)
			return -EFAULT;
		/* kicks always wanted */
		if (copy_to_user(vblk_used_ptr(vq, 0), &ev, sizeof(ev)) ||
		    vblk_log_uaddr(vq, vq->used_uaddr, sizeof(ev)))
			return -EFAULT;
		vq->used_unsignalled = 0;
		vq->poll_notify_off = false;
		vq->need_init = false;
		return 0;
	}
	if (!vblk_uaddr_in_mem(vq->mem, vq->desc_uaddr, num * 16) ||
	    !vblk_uaddr_in_mem(vq->mem, vq->avail_uaddr, 6 + num * 2) ||
	    !vblk_uaddr_in_mem(vq->mem, vq->used_uaddr, 6 + num * 8))
		return -EFAULT;
	if (get_user(idx, (__le16 __user *)vblk_used_ptr(vq, VBLK_USED_IDX)))
		return -EFAULT;
	/* kicks turned off for polling come back on */
	if (vq->poll_notify_off &&
	    (put_user(0, (__le16 __user *)vblk_used_ptr(vq, 0)) ||
	     vblk_log_uaddr(vq, vq->used_uaddr, 2)))
		return -EFAULT;
	vq->poll_notify_off = false;
	vq->used_idx = le16_to_cpu(idx);
	vq->signalled_valid = false;
	vq->need_init = false;
	return 0;
}

/*
 * VHOST_GET/SET_VRING_BASE.  Split rings: the next avail index.  Packed
 * rings: bits 0-14 the next avail position, bit 15 the driver's wrap
 * counter, bits 16-30 the next used position, bit 31 our used wrap counter.
 */
u32 vblk_vq_get_base(struct vblk_vq *vq)
{
	lockdep_assert_held(&vq->mutex);
	if (!vq->packed)
		return vq->last_avail_idx;
	return vq->last_avail_idx | (u32)vq->avail_wrap << 15 |
	       (u32)vq->used_idx << 16 | (u32)vq->used_wrap << 31;
}

int vblk_vq_set_base(struct vblk_vq *vq, u32 base)
{
	lockdep_assert_held(&vq->mutex);
	if (!vq->packed) {
		if (base > 0xffff)
			return -EINVAL;
		vq->last_avail_idx = base;
		return 0;
	}
	/* positions inside the ring (checked again when the ring starts) */
	if (vq->num && ((base & 0x7fff) >= vq->num ||
			((base >> 16) & 0x7fff) >= vq->num))
		return -EINVAL;
	vq->last_avail_idx = base & 0x7fff;
	vq->avail_wrap = base & BIT(15);
	vq->used_idx = (base >> 16) & 0x7fff;
	vq->used_wrap = base & BIT(31);
	return 0;
}

/* Decide whether the guest wants an interrupt, then signal it. */
static void vblk_vq_signal(struct vblk_vq *vq)
{
	struct vblk_dev *dev = vq->dev;
	bool notify = true;
	__le16 v;

	/* the used index is visible before we read the guest's wishes */
	smp_mb();
	if (vq->packed) {
		struct vblk_pevent ev;
		u16 ow, off, old = vq->used_idx - vq->used_unsignalled;

		vq->used_unsignalled = 0;
		if (!copy_from_user(&ev, vblk_avail_ptr(vq, 0), sizeof(ev))) {
			switch (le16_to_cpu(ev.flags)) {
			case VRING_PACKED_EVENT_FLAG_DISABLE:
				notify = false;
				break;
			case VRING_PACKED_EVENT_FLAG_DESC:
				if (!vq->event_idx)
					break;
				ow = le16_to_cpu(ev.off_wrap);
				off = ow & 0x7fff;
				/* an event in the previous lap */
				if (!!(ow & BIT(15)) != vq->used_wrap)
					off -= vq->num;
				notify = vring_need_event(off, vq->used_idx,
							  old);
				break;
			}
		}
	} else if (vq->event_idx) {
		u16 old = vq->signalled_used;
		bool valid = vq->signalled_valid;

		vq->signalled_used = vq->used_idx;
		vq->signalled_valid = true;
		if (valid &&
		    !get_user(v, vblk_avail_ptr(vq, VBLK_AVAIL_RING + 2 * vq->num)))
			notify = vring_need_event(le16_to_cpu(v), vq->used_idx,
						  old);
	} else if (!get_user(v, vblk_avail_ptr(vq, 0))) {
		notify = !(le16_to_cpu(v) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!notify) {
		vblk_count(dev, suppressed);
		return;
	}
	if (vq->call) {
		/* counted first: a driver woken by the signal sees the count */
		vblk_count(dev, interrupts);
		kvmio_eventfd_signal(vq->call);
	} else {
		/* given when a call fd comes: see VHOST_SET_VRING_CALL */
		vq->call_missed = true;
	}
}

/* What the chain walk learnt so far. */
struct vblk_walk_state {
	unsigned int used;		/* iovecs filled */
	bool seen_write;
	bool last_write;
	u64 last_addr, last_len;
};

/*
 * Account one data descriptor (direct or from an indirect table).  Only a
 * writable range translated through the memory table may be logged: the
 * guest chooses the address, and a range outside the table is refused (the
 * request fails), never logged.
 */
static void vblk_walk_desc(struct vblk_vq *vq, struct vblk_req *req,
			   struct vblk_walk_state *ws, u64 addr, u32 len,
			   u16 flags)
{
	bool write = flags & VRING_DESC_F_WRITE;
	int n;

	if (write)
		ws->seen_write = true;
	else if (ws->seen_write)
		req->bad = true;	/* readable after writable */
	if (len && !req->bad) {
		n = vblk_translate(vq->mem, addr, len, req->iov + ws->used,
				   VBLK_MAX_IOV - ws->used);
		if (n < 0) {
			req->bad = true;
		} else if (write) {
			ws->used += n;
			req->nr_wr += n;
			req->wr_len += len;
			/* one entry per translated range: at most VBLK_MAX_IOV */
			if (vblk_logging(vq)) {
				req->wlog[req->nr_wlog].gpa = addr;
				req->wlog[req->nr_wlog].len = len;
				req->nr_wlog++;
			}
		} else {
			ws->used += n;
			req->nr_rd += n;
			req->rd_len += len;
		}
	}
	ws->last_addr = addr;
	ws->last_len = len;
	ws->last_write = write;
}

/* Check an indirect descriptor and map its table (one memory region). */
static int vblk_indirect_table(struct vblk_vq *vq, u64 addr, u32 len,
			       u16 flags, void __user **table, u32 *n,
			       const char **why)
{
	struct iovec tiov;

	if (!vq->indirect) {
		*why = "indirect descriptor not negotiated";
		return -EINVAL;
	}
	if (flags & VRING_DESC_F_NEXT) {
		*why = "indirect descriptor with NEXT";
		return -EINVAL;
	}
	if (!len || len % sizeof(struct vblk_desc) ||
	    len / sizeof(struct vblk_desc) > VBLK_MAX_RING) {
		*why = "bad indirect table length";
		return -EINVAL;
	}
	if (vblk_translate(vq->mem, addr, len, &tiov, 1) != 1) {
		*why = "indirect table outside guest memory";
		return -EFAULT;
	}
	*table = tiov.iov_base;
	*n = len / sizeof(struct vblk_desc);
	return 0;
}

/* The status byte is the last byte of the final descriptor. */
static int vblk_walk_finish(struct vblk_vq *vq, struct vblk_req *req,
			    struct vblk_walk_state *ws, const char **why)
{
	struct iovec tiov;

	if (!ws->last_write || !ws->last_len) {
		*why = "no writable status byte";
		return -EINVAL;
	}
	if (vblk_translate(vq->mem, ws->last_addr + ws->last_len - 1, 1,
			   &tiov, 1) != 1) {
		*why = "status byte outside guest memory";
		return -EFAULT;
	}
	req->status = tiov.iov_base;
	req->status_gpa = ws->last_addr + ws->last_len - 1;
	return 0;
}

/*
 * Log what a finished request wrote into the guest (after
 * vblk_req_finish()): the first bytes of its writable ranges, as many as
 * its data (an IN: all it asked for, since a failed transfer may have
 * written part of it; GET_ID: the id), and its status byte.
 */
static int vblk_log_req(struct vblk_vq *vq, struct vblk_req *req)
{
	u64 left = req->rw && !req->write ? req->len : req->written;
	unsigned int i;
	u64 n;

	if (!vblk_logging(vq))
		return 0;
	for (i = 0; i < req->nr_wlog && left; i++) {
		n = min_t(u64, left, req->wlog[i].len);
		if (vblk_log_gpa(vq, req->wlog[i].gpa, n))
			return -EFAULT;
		left -= n;
	}
	return vblk_log_gpa(vq, req->status_gpa, 1);
}

/*
 * Walk the split-ring chain starting at @head and fill @req.  Returns 0
 * when the request has a status byte (req->bad tells whether it is
 * malformed), or a negative value when the ring must be broken, with *why
 * set.
 */
static int vblk_walk(struct vblk_vq *vq, u16 head, struct vblk_req *req,
		     const char **why)
{
	const struct vblk_desc __user *table = u64_to_user_ptr(vq->desc_uaddr);
	u32 size = vq->num, idx = head, count = 0;
	struct vblk_walk_state ws = { };
	bool indirect = false;
	struct vblk_desc d;
	void __user *t;
	int ret;

	if (idx >= size) {
		*why = "head index out of range";
		return -EINVAL;
	}
	for (;;) {
		u16 flags;

		if (++count > size) {
			*why = "descriptor chain loops or exceeds the ring";
			return -EINVAL;
		}
		if (copy_from_user(&d, table + idx, sizeof(d))) {
			*why = "descriptor table unreadable";
			return -EFAULT;
		}
		flags = le16_to_cpu(d.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect) {
				*why = "nested indirect descriptor";
				return -EINVAL;
			}
			ret = vblk_indirect_table(vq, le64_to_cpu(d.addr),
						  le32_to_cpu(d.len), flags,
						  &t, &size, why);
			if (ret)
				return ret;
			table = t;
			idx = 0;
			count = 0;
			indirect = true;
			continue;
		}
		vblk_walk_desc(vq, req, &ws, le64_to_cpu(d.addr),
			       le32_to_cpu(d.len), flags);
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		idx = le16_to_cpu(d.next);
		if (idx >= size) {
			*why = "next index out of range";
			return -EINVAL;
		}
	}
	return vblk_walk_finish(vq, req, &ws, why);
}

/*
 * Walk the packed-ring chain at last_avail_idx; *id is the buffer id (in
 * the chain's last descriptor), *ndesc the ring entries it occupies.
 */
static int vblk_walk_packed(struct vblk_vq *vq, struct vblk_req *req,
			    u16 *id, u16 *ndesc, const char **why)
{
	const struct vblk_pdesc __user *ring = u64_to_user_ptr(vq->desc_uaddr);
	const struct vblk_pdesc __user *table;
	u32 pos = vq->last_avail_idx, count = 0, n, j;
	struct vblk_walk_state ws = { };
	struct vblk_pdesc d;
	void __user *t;
	u16 flags;
	int ret;

	for (;;) {
		if (count == vq->num) {
			*why = "descriptor chain longer than the ring";
			return -EINVAL;
		}
		if (copy_from_user(&d, ring + pos, sizeof(d))) {
			*why = "descriptor ring unreadable";
			return -EFAULT;
		}
		count++;
		pos = (pos + 1) & (vq->num - 1);
		flags = le16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			ret = vblk_indirect_table(vq, le64_to_cpu(d.addr),
						  le32_to_cpu(d.len), flags,
						  &t, &n, why);
			if (ret)
				return ret;
			table = t;
			for (j = 0; j < n; j++) {
				struct vblk_pdesc e;
				u16 ef;

				if (copy_from_user(&e, table + j, sizeof(e))) {
					*why = "indirect table unreadable";
					return -EFAULT;
				}
				ef = le16_to_cpu(e.flags);
				if (ef & VRING_DESC_F_INDIRECT) {
					*why = "nested indirect descriptor";
					return -EINVAL;
				}
				vblk_walk_desc(vq, req, &ws, le64_to_cpu(e.addr),
					       le32_to_cpu(e.len), ef);
			}
			break;
		}
		vblk_walk_desc(vq, req, &ws, le64_to_cpu(d.addr),
			       le32_to_cpu(d.len), flags);
		if (!(flags & VRING_DESC_F_NEXT))
			break;
	}
	*id = le16_to_cpu(d.id);
	*ndesc = count;
	return vblk_walk_finish(vq, req, &ws, why);
}

/* A request's used entry may be written: the ring is still usable. */
static bool vblk_vq_can_publish(struct vblk_vq *vq)
{
	return vq->num && vq->addr_set && vq->mem && !vq->need_init &&
	       !vq->broken;
}

/* Split ring: write the used elements of @batch, then used->idx once. */
static int vblk_publish_split(struct vblk_vq *vq, struct list_head *batch,
			      const char **why)
{
	struct vblk_req *req;
	u16 idx = vq->used_idx;

	list_for_each_entry(req, batch, node) {
		u32 slot = idx & (vq->num - 1);
		u64 off = VBLK_USED_RING + slot * sizeof(struct vblk_used_elem);
		struct vblk_used_elem e = {
			.id = cpu_to_le32(req->head),
			.len = cpu_to_le32(vblk_req_finish(req)),
		};

		if (vblk_log_req(vq, req)) {
			*why = "dirty log unwritable";
			return -EFAULT;
		}
		if (copy_to_user(vblk_used_ptr(vq, off), &e, sizeof(e)) ||
		    vblk_log_uaddr(vq, vq->used_uaddr + off, sizeof(e))) {
			*why = "used ring unwritable";
			return -EFAULT;
		}
		idx++;
	}
	/* the elements are visible before the index that covers them */
	smp_wmb();
	if (put_user(cpu_to_le16(idx),
		     (__le16 __user *)vblk_used_ptr(vq, VBLK_USED_IDX)) ||
	    vblk_log_uaddr(vq, vq->used_uaddr + VBLK_USED_IDX, 2)) {
		*why = "used ring unwritable";
		return -EFAULT;
	}
	vq->used_idx = idx;
	return 0;
}

/*
 * Packed ring: write id and length of every used descriptor of @batch, then
 * their flags in order; each buffer's used descriptor skips its chain.
 */
static int vblk_publish_packed(struct vblk_vq *vq, struct list_head *batch,
			       const char **why)
{
	struct vblk_pdesc __user *ring = u64_to_user_ptr(vq->desc_uaddr);
	struct vblk_req *req;
	u16 flags;

	list_for_each_entry(req, batch, node) {
		struct vblk_pdesc __user *d = ring + vq->used_idx;
		u32 len = vblk_req_finish(req);

		if (vblk_log_req(vq, req)) {
			*why = "dirty log unwritable";
			return -EFAULT;
		}
		if (put_user(cpu_to_le32(len), &d->len) ||
		    put_user(cpu_to_le16(req->head), &d->id)) {
			*why = "descriptor ring unwritable";
			return -EFAULT;
		}
		req->pos = vq->used_idx;
		req->wrap = vq->used_wrap;
		vq->used_idx += req->ndesc;
		if (vq->used_idx >= vq->num) {
			vq->used_idx -= vq->num;
			vq->used_wrap = !vq->used_wrap;
		}
		vq->used_unsignalled += req->ndesc;
	}
	/* ids and lengths are visible before the flags that hand them over */
	smp_wmb();
	list_for_each_entry(req, batch, node) {
		struct vblk_pdesc __user *d = ring + req->pos;

		flags = req->wrap ? BIT(VRING_PACKED_DESC_F_AVAIL) |
				    BIT(VRING_PACKED_DESC_F_USED) : 0;
		if (put_user(cpu_to_le16(flags), &d->flags) ||
		    vblk_log_uaddr(vq, (u64)(uintptr_t)d, sizeof(*d))) {
			*why = "descriptor ring unwritable";
			return -EFAULT;
		}
	}
	return 0;
}

/* Free every request of @list without touching the guest. */
static void vblk_req_free_list(struct list_head *list)
{
	struct vblk_req *req, *tmp;

	list_for_each_entry_safe(req, tmp, list, node) {
		list_del(&req->node);
		vblk_req_free(req);
	}
}

/*
 * Put the ready requests in the used ring, max_batch at a time, one
 * interrupt decision per batch.  With @guest false (or a ring that can no
 * longer take them) they are only freed.  Requests finished before an
 * error of the pass (*why already set) are still published; an error here
 * sets *why, and the rest is freed.
 */
static void vblk_vq_publish(struct vblk_vq *vq, bool guest, const char **why)
{
	unsigned int max = READ_ONCE(vq->dev->max_batch), n;
	const char *err = NULL;
	struct vblk_req *req;
	LIST_HEAD(batch);
	int ret;

	while (!list_empty(&vq->ready)) {
		if (!guest || err || !vblk_vq_can_publish(vq)) {
			vblk_req_free_list(&vq->ready);
			break;
		}
		n = 0;
		list_for_each_entry(req, &vq->ready, node)
			if (++n == max)
				break;
		if (n == max && !list_is_last(&req->node, &vq->ready))
			list_cut_position(&batch, &vq->ready, &req->node);
		else
			list_splice_init(&vq->ready, &batch);
		if (vq->packed)
			ret = vblk_publish_packed(vq, &batch, &err);
		else
			ret = vblk_publish_split(vq, &batch, &err);
		vblk_req_free_list(&batch);
		if (!ret)
			vblk_vq_signal(vq);
	}
	if (err && !*why)
		*why = err;
}

/* Move the completed asynchronous requests to the ready list. */
static bool vblk_vq_reap(struct vblk_vq *vq)
{
	struct vblk_req *req;
	LIST_HEAD(done);

	lockdep_assert_held(&vq->mutex);
	spin_lock_irq(&vq->done_lock);
	list_splice_init(&vq->done, &done);
	spin_unlock_irq(&vq->done_lock);
	if (list_empty(&done))
		return false;
	list_for_each_entry(req, &done, node)
		vq->nr_inflight--;
	list_splice_tail(&done, &vq->ready);
	return true;
}

static bool vblk_vq_done_pending(struct vblk_vq *vq)
{
	bool ret;

	spin_lock_irq(&vq->done_lock);
	ret = !list_empty(&vq->done);
	spin_unlock_irq(&vq->done_lock);
	return ret;
}

/**
 * vblk_vq_wait_idle() - wait until no request of the ring is in flight
 * @vq: the ring, mutex held
 *
 * Completed requests move to the ready list (not yet published).
 */
void vblk_vq_wait_idle(struct vblk_vq *vq)
{
	lockdep_assert_held(&vq->mutex);
	vblk_vq_reap(vq);
	while (vq->nr_inflight) {
		/* sleeping flushes the worker's plug */
		wait_event(vq->done_wq, vblk_vq_done_pending(vq));
		vblk_vq_reap(vq);
	}
}

/**
 * vblk_vq_drain() - complete every request of the ring
 * @vq: the ring, mutex held
 * @guest: the caller runs in the owner's mm and the ring state is still
 *	valid: put the requests in the used ring; else only free them
 *
 * Afterwards nothing of the ring is in flight (until the mutex is dropped).
 */
void vblk_vq_drain(struct vblk_vq *vq, bool guest)
{
	const char *why = NULL;

	vblk_vq_wait_idle(vq);
	vblk_vq_publish(vq, guest, &why);
	if (vq->logged && vq->log_ctx)
		kvmio_eventfd_signal(vq->log_ctx);
	vq->logged = false;
	if (why)
		vblk_vq_break(vq, why);
}

/* Packed ring: is the descriptor at last_avail_idx available? */
static int vblk_packed_avail(struct vblk_vq *vq, bool *avail)
{
	const struct vblk_pdesc __user *d = u64_to_user_ptr(vq->desc_uaddr);
	__le16 v;
	u16 f;

	if (get_user(v, &d[vq->last_avail_idx].flags))
		return -EFAULT;
	f = le16_to_cpu(v);
	*avail = !!(f & BIT(VRING_PACKED_DESC_F_AVAIL)) == vq->avail_wrap &&
		 !!(f & BIT(VRING_PACKED_DESC_F_USED)) != vq->avail_wrap;
	return 0;
}

/* Take and start the available requests of a packed ring. */
/*
 * No memory for a request: it stays in the ring, and the worker looks
 * again after a short back-off rather than spinning while the owner's
 * memory cgroup is at its limit (requests in flight free memory as they
 * complete and wake the worker anyway).
 */
static void vblk_vq_alloc_failed(struct vblk_vq *vq)
{
	vblk_vq_err(vq, "no memory for a request; retrying\n");
	set_bit(1, &vq->pending);
	vblk_worker_queue(vq);
}

static void vblk_vq_submit_packed(struct vblk_vq *vq,
					  const char **why)
{
	struct vblk_dev *dev = vq->dev;
	unsigned int done = 0;
	struct vblk_req *req;
	u16 id, ndesc;
	bool avail;

	for (;;) {
		struct vblk_req walk = {
			.vq = vq, .iov = vq->iov, .wlog = vq->wlog,
		};

		if (vblk_packed_avail(vq, &avail)) {
			*why = "descriptor ring unreadable";
			break;
		}
		if (!avail)
			break;
		if (done >= READ_ONCE(dev->max_batch)) {
			vblk_worker_queue(vq);
			break;
		}
		/* read the descriptors only after the flags that made them ours */
		smp_rmb();
		if (vblk_walk_packed(vq, &walk, &id, &ndesc, why))
			break;
		walk.head = id;
		walk.ndesc = ndesc;
		req = vblk_req_copy(&walk);
		if (!req) {
			/* not taken: try again on the next pass */
			vblk_vq_alloc_failed(vq);
			break;
		}
		if (vblk_req_hold(vq, req)) {
			/* left in the ring: taken again when it may go */
			vblk_req_free(req);
			break;
		}
		vq->last_avail_idx += ndesc;
		if (vq->last_avail_idx >= vq->num) {
			vq->last_avail_idx -= vq->num;
			vq->avail_wrap = !vq->avail_wrap;
		}
		vblk_req_start(req);
		done++;
	}
}

static int vblk_read_avail_idx(struct vblk_vq *vq, u16 *idx)
{
	__le16 v;

	if (get_user(v, vblk_avail_ptr(vq, VBLK_AVAIL_IDX)))
		return -EFAULT;
	*idx = le16_to_cpu(v);
	return 0;
}

/* Take and start the available requests of a split ring. */
static void vblk_vq_submit_split(struct vblk_vq *vq, const char **why)
{
	struct vblk_dev *dev = vq->dev;
	unsigned int done = 0;
	struct vblk_req *req;
	u16 avail, head;
	__le16 v;

	for (;;) {
		struct vblk_req walk = {
			.vq = vq, .iov = vq->iov, .wlog = vq->wlog,
		};

		if (vblk_read_avail_idx(vq, &avail)) {
			*why = "avail ring unreadable";
			break;
		}
		if ((u16)(avail - vq->last_avail_idx) > vq->num) {
			*why = "avail index moved by more than the ring size";
			break;
		}
		if (avail == vq->last_avail_idx)
			break;
		if (done >= READ_ONCE(dev->max_batch)) {
			vblk_worker_queue(vq);
			break;
		}
		/* read the entries only after the index that covers them */
		smp_rmb();
		if (get_user(v, vblk_avail_ptr(vq, VBLK_AVAIL_RING + 2 *
					       (vq->last_avail_idx & (vq->num - 1))))) {
			*why = "avail ring unreadable";
			break;
		}
		head = le16_to_cpu(v);
		walk.head = head;
		if (vblk_walk(vq, head, &walk, why))
			break;
		req = vblk_req_copy(&walk);
		if (!req) {
			vblk_vq_alloc_failed(vq);
			break;
		}
		if (vblk_req_hold(vq, req)) {
			vblk_req_free(req);
			break;
		}
		vq->last_avail_idx++;
		vblk_req_start(req);
		done++;
	}
}

/* Is a request available (split: avail->idx moved; packed: next desc)? */
static int vblk_vq_has_avail(struct vblk_vq *vq, bool *avail)
{
	u16 idx;

	if (vq->packed)
		return vblk_packed_avail(vq, avail);
	if (vblk_read_avail_idx(vq, &idx))
		return -EFAULT;
	*avail = idx != vq->last_avail_idx;
	return 0;
}

/*
 * Ask the driver for kicks (@on) or not, for polling.  Split rings with
 * EVENT_IDX write avail_event only when turning them on (while it stays
 * behind, the driver does not kick); without it VRING_USED_F_NO_NOTIFY.
 * Packed rings: the device area's ENABLE / DISABLE.
 */
static int vblk_vq_notify(struct vblk_vq *vq, bool on)
{
	if (vq->packed) {
		__le16 __user *f = vblk_used_ptr(vq, 2);
		u16 v = on ? VRING_PACKED_EVENT_FLAG_ENABLE :
			     VRING_PACKED_EVENT_FLAG_DISABLE;

		if (put_user(cpu_to_le16(v), f) ||
		    vblk_log_uaddr(vq, (u64)(uintptr_t)f, sizeof(*f)))
			return -EFAULT;
	} else if (vq->event_idx) {
		__le16 __user *ev = vblk_used_ptr(vq, VBLK_USED_RING +
						  8 * vq->num);

		if (on && (put_user(cpu_to_le16(vq->last_avail_idx), ev) ||
			   vblk_log_uaddr(vq, (u64)(uintptr_t)ev, sizeof(*ev))))
			return -EFAULT;
	} else {
		__le16 __user *f = vblk_used_ptr(vq, 0);

		if (put_user(cpu_to_le16(on ? 0 : VRING_USED_F_NO_NOTIFY), f) ||
		    vblk_log_uaddr(vq, (u64)(uintptr_t)f, sizeof(*f)))
			return -EFAULT;
	}
	vq->poll_notify_off = !on;
	return 0;
}

/**
 * vblk_vq_lock() - take a ring's mutex from outside its worker
 * @vq: the ring
 *
 * A worker busy-polling the ring holds the mutex for up to the poll budget;
 * it sees the waiter and gives the ring up (with kicks back on) at once.
 */
void vblk_vq_lock(struct vblk_vq *vq)
{
	atomic_inc(&vq->lockers);
	mutex_lock(&vq->mutex);
	atomic_dec(&vq->lockers);
}

/*
 * The ring ran empty: poll it (and the done list) for up to the budget with
 * kicks off, or until someone waits for the ring's mutex (vblk_vq_lock()).
 * Returns true when there is work (the ring is queued again).
 */
static bool vblk_vq_poll(struct vblk_vq *vq, unsigned int budget_us,
			 const char **why)
{
	u64 end = local_clock() + (u64)budget_us * NSEC_PER_USEC;
	bool avail;

	if (vblk_vq_notify(vq, false)) {
		*why = "used ring unwritable";
		return false;
	}
	do {
		if (vblk_vq_has_avail(vq, &avail)) {
			*why = "avail ring unreadable";
			return false;
		}
		if (avail || vblk_vq_done_pending(vq)) {
			vblk_count(vq->dev, poll_hits);
			vblk_worker_queue(vq);
			return true;
		}
		if (atomic_read(&vq->lockers)) {
			vblk_count(vq->dev, poll_yields);
			return false;
		}
		if (need_resched())
			cond_resched();
		else
			cpu_relax();
	} while (local_clock() < end);
	vblk_count(vq->dev, poll_misses);
	return false;
}

/*
 * Going to sleep: kicks back on, then look once more (a request added
 * before the driver saw them on was not kicked).
 */
static void vblk_vq_rearm(struct vblk_vq *vq, const char **why)
{
	bool avail;

	/* only EVENT_IDX's avail_event moves with every pass */
	if (*why || (!vq->poll_notify_off && (vq->packed || !vq->event_idx)))
		return;
	if (vblk_vq_notify(vq, true)) {
		*why = "used ring unwritable";
		return;
	}
	/* the notification setting is visible before we look again */
	smp_mb();
	if (vblk_vq_has_avail(vq, &avail)) {
		*why = "avail ring unreadable";
		return;
	}
	if (avail)
		vblk_worker_queue(vq);
}

/**
 * vblk_vq_process() - one pass of the ring's worker
 * @vq: the ring
 *
 * Reaps completed requests, takes and starts up to max_batch new ones
 * (then queues the ring again to yield the CPU), publishes the finished
 * ones; when the ring ran empty, polls it for the budget or re-enables
 * kicks.
 */
void vblk_vq_process(struct vblk_vq *vq)
{
	unsigned int budget = READ_ONCE(vq->dev->poll_budget_us);
	const char *why = NULL;
	struct blk_plug plug;
	bool empty = false;

	mutex_lock(&vq->mutex);
	vq->held = false;
	vblk_vq_reap(vq);
	if (!vblk_vq_ready(vq))
		goto publish;
	if (vq->need_init && vblk_vq_init_access(vq)) {
		why = "ring outside guest memory";
		goto publish;
	}
	blk_start_plug(&plug);
	if (vq->packed)
		vblk_vq_submit_packed(vq, &why);
	else
		vblk_vq_submit_split(vq, &why);
	blk_finish_plug(&plug);
	/* bios that completed during submission are published now */
	vblk_vq_reap(vq);
	/*
	 * stopped at an empty ring, not at max_batch, a failed allocation or
	 * a request held by the I/O limits or a shared backend (its timer or
	 * a slot given back queues the ring: no polling, kicks left as they
	 * are)
	 */
	empty = !why && !vq->held && !test_bit(0, &vq->pending);
publish:
	vblk_vq_publish(vq, true, &why);
	if (vq->logged && vq->log_ctx)
		kvmio_eventfd_signal(vq->log_ctx);
	vq->logged = false;
	/* the ring ran empty: poll it, or sleep with kicks on */
	if (empty && !why && !(budget && vblk_vq_poll(vq, budget, &why)))
		vblk_vq_rearm(vq, &why);
	if (why)
		vblk_vq_break(vq, why);
	mutex_unlock(&vq->mutex);
}
