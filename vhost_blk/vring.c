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
 */
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
		vq->need_init = false;
		return 0;
	}
	if (!vblk_uaddr_in_mem(vq->mem, vq->desc_uaddr, num * 16) ||
	    !vblk_uaddr_in_mem(vq->mem, vq->avail_uaddr, 6 + num * 2) ||
	    !vblk_uaddr_in_mem(vq->mem, vq->used_uaddr, 6 + num * 8))
		return -EFAULT;
	if (get_user(idx, (__le16 __user *)vblk_used_ptr(vq, VBLK_USED_IDX)))
		return -EFAULT;
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
void vblk_vq_signal(struct vblk_vq *vq)
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
	}
}

/* What the chain walk learnt so far. */
struct vblk_walk_state {
	unsigned int used;		/* iovecs filled */
	bool seen_write;
	bool last_write;
	u64 last_addr, last_len;
};

/* Account one data descriptor (direct or from an indirect table). */
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
	if (write && len && vblk_logging(vq)) {
		if (req->nr_wlog < VBLK_MAX_IOV)
			vq->wlog[req->nr_wlog++] = (struct vblk_wrange){
				.gpa = addr, .len = len };
		else
			req->bad = true;
	}
	if (len && !req->bad) {
		n = vblk_translate(vq->mem, addr, len, vq->iov + ws->used,
				   VBLK_MAX_IOV - ws->used);
		if (n < 0) {
			req->bad = true;
		} else {
			ws->used += n;
			if (write) {
				req->nr_wr += n;
				req->wr_len += len;
			} else {
				req->nr_rd += n;
				req->rd_len += len;
			}
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

/* Log what a completed request may have written (whole buffers). */
static int vblk_log_req(struct vblk_vq *vq, struct vblk_req *req)
{
	unsigned int i;

	if (!vblk_logging(vq))
		return 0;
	for (i = 0; i < req->nr_wlog; i++)
		if (vblk_log_gpa(vq, vq->wlog[i].gpa, vq->wlog[i].len))
			return -EFAULT;
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

/* Put one completion in the used ring and publish it. */
static int vblk_push_used(struct vblk_vq *vq, u16 head, u32 len)
{
	struct vblk_used_elem e = {
		.id = cpu_to_le32(head),
		.len = cpu_to_le32(len),
	};
	u32 slot = vq->used_idx & (vq->num - 1);

	if (copy_to_user(vblk_used_ptr(vq, VBLK_USED_RING + slot * sizeof(e)),
			 &e, sizeof(e)))
		return -EFAULT;
	/* the element is visible before the index that covers it */
	smp_wmb();
	if (put_user(cpu_to_le16(vq->used_idx + 1),
		     (__le16 __user *)vblk_used_ptr(vq, VBLK_USED_IDX)))
		return -EFAULT;
	vq->used_idx++;
	if (vblk_log_uaddr(vq, vq->used_uaddr + VBLK_USED_RING + slot * sizeof(e),
			   sizeof(e)) ||
	    vblk_log_uaddr(vq, vq->used_uaddr + VBLK_USED_IDX, 2))
		return -EFAULT;
	return 0;
}

/* Packed ring: write the used descriptor for buffer @id, skip @ndesc. */
static int vblk_push_used_packed(struct vblk_vq *vq, u16 id, u32 len,
				 u16 ndesc)
{
	struct vblk_pdesc __user *d = u64_to_user_ptr(vq->desc_uaddr);
	u16 flags = vq->used_wrap ? BIT(VRING_PACKED_DESC_F_AVAIL) |
				    BIT(VRING_PACKED_DESC_F_USED) : 0;

	d += vq->used_idx;
	if (put_user(cpu_to_le32(len), &d->len) ||
	    put_user(cpu_to_le16(id), &d->id))
		return -EFAULT;
	/* id and len are visible before the flags that hand them over */
	smp_wmb();
	if (put_user(cpu_to_le16(flags), &d->flags) ||
	    vblk_log_uaddr(vq, (u64)(uintptr_t)d, sizeof(*d)))
		return -EFAULT;
	vq->used_idx += ndesc;
	if (vq->used_idx >= vq->num) {
		vq->used_idx -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->used_unsignalled += ndesc;
	return 0;
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

/* Packed-ring counterpart of the loop in vblk_vq_process(). */
static unsigned int vblk_vq_process_packed(struct vblk_vq *vq,
					   const char **why)
{
	struct vblk_dev *dev = vq->dev;
	unsigned int done = 0;
	u16 id, ndesc;
	bool avail;
	u32 len;

	for (;;) {
		struct vblk_req req = { .vq = vq };

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
		if (vblk_walk_packed(vq, &req, &id, &ndesc, why))
			break;
		req.head = id;
		vq->last_avail_idx += ndesc;
		if (vq->last_avail_idx >= vq->num) {
			vq->last_avail_idx -= vq->num;
			vq->avail_wrap = !vq->avail_wrap;
		}
		atomic64_inc(&dev->stats.inflight);
		len = vblk_req_handle(&req);
		atomic64_dec(&dev->stats.inflight);
		if (vblk_log_req(vq, &req)) {
			*why = "dirty log unwritable";
			break;
		}
		if (vblk_push_used_packed(vq, id, len, ndesc)) {
			*why = "descriptor ring unwritable";
			break;
		}
		done++;
	}
	return done;
}

static int vblk_read_avail_idx(struct vblk_vq *vq, u16 *idx)
{
	__le16 v;

	if (get_user(v, vblk_avail_ptr(vq, VBLK_AVAIL_IDX)))
		return -EFAULT;
	*idx = le16_to_cpu(v);
	return 0;
}

/* Tell the guest how far we got (EVENT_IDX), then look once more. */
static int vblk_enable_notify(struct vblk_vq *vq, u16 *avail)
{
	__le16 __user *ev = vblk_used_ptr(vq, VBLK_USED_RING + 8 * vq->num);

	if (put_user(cpu_to_le16(vq->last_avail_idx), ev) ||
	    vblk_log_uaddr(vq, (u64)(uintptr_t)ev, sizeof(*ev)))
		return -EFAULT;
	/* avail_event is visible before we look at avail->idx again */
	smp_mb();
	return vblk_read_avail_idx(vq, avail);
}

/**
 * vblk_vq_process() - handle the requests available on one ring
 * @vq: the ring
 *
 * Called by the ring's worker.  Handles up to max_batch requests (a sysfs
 * knob), then queues the ring again and yields the CPU.
 */
void vblk_vq_process(struct vblk_vq *vq)
{
	struct vblk_dev *dev = vq->dev;
	const char *why = NULL;
	unsigned int done = 0;
	u16 avail, head;
	__le16 v;
	u32 len;

	mutex_lock(&vq->mutex);
	if (!vblk_vq_ready(vq))
		goto out;
	if (vq->need_init && vblk_vq_init_access(vq)) {
		why = "ring outside guest memory";
		goto out;
	}
	if (vq->packed) {
		done = vblk_vq_process_packed(vq, &why);
		goto signal;
	}

	for (;;) {
		struct vblk_req req = { .vq = vq };

		if (vblk_read_avail_idx(vq, &avail)) {
			why = "avail ring unreadable";
			break;
		}
		if ((u16)(avail - vq->last_avail_idx) > vq->num) {
			why = "avail index moved by more than the ring size";
			break;
		}
		if (avail == vq->last_avail_idx) {
			if (!vq->event_idx)
				break;
			if (vblk_enable_notify(vq, &avail)) {
				why = "used ring unwritable";
				break;
			}
			if (avail == vq->last_avail_idx)
				break;
			continue;
		}
		if (done >= READ_ONCE(dev->max_batch)) {
			vblk_worker_queue(vq);
			break;
		}
		/* read the entries only after the index that covers them */
		smp_rmb();
		if (get_user(v, vblk_avail_ptr(vq, VBLK_AVAIL_RING + 2 *
					       (vq->last_avail_idx & (vq->num - 1))))) {
			why = "avail ring unreadable";
			break;
		}
		head = le16_to_cpu(v);
		req.head = head;
		if (vblk_walk(vq, head, &req, &why))
			break;
		vq->last_avail_idx++;
		atomic64_inc(&dev->stats.inflight);
		len = vblk_req_handle(&req);
		atomic64_dec(&dev->stats.inflight);
		if (vblk_log_req(vq, &req)) {
			why = "dirty log unwritable";
			break;
		}
		if (vblk_push_used(vq, head, len)) {
			why = "used ring unwritable";
			break;
		}
		done++;
	}
signal:
	if (done)
		vblk_vq_signal(vq);
out:
	if (vq->logged && vq->log_ctx)
		kvmio_eventfd_signal(vq->log_ctx);
	vq->logged = false;
	if (why)
		vblk_vq_break(vq, why);
	mutex_unlock(&vq->mutex);
}
