/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtq_driver.h - the driver ("guest") side of one split virtqueue for
 * virtio-blk, for userspace programs that play the guest.
 *
 * The ring and the buffers live in "guest memory": a mapping the caller
 * owns, registered with the device at guest-physical address @gpa (not at
 * its own address).  Descriptors carry guest-physical addresses; the ring
 * addresses a vhost device is given are the caller's own (vhost's
 * convention).  Requests are header / data / status chains of three
 * descriptors taken from a free list; completions are reaped from the used
 * ring and give their descriptors back.  VIRTIO_RING_F_EVENT_IDX is
 * honoured when negotiated (used_event / avail_event), otherwise the
 * VRING_USED_F_NO_NOTIFY flag.
 *
 * Single-threaded: one driver thread owns a struct vqd.
 */
#ifndef KVMIO_SELFTESTS_VIRTQ_DRIVER_H
#define KVMIO_SELFTESTS_VIRTQ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#define VQD_MAX_NUM	1024

struct vqd {
	uint8_t *mem;			/* guest memory, as the driver maps it */
	uint64_t gpa;			/* its guest-physical base */
	uint64_t size;
	unsigned int num;		/* ring size, a power of two */
	bool event_idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;		/* next avail->idx to publish */
	uint16_t kicked_idx;		/* avail->idx at the last kick decision */
	uint16_t last_used;		/* next used entry to reap */
	uint16_t free_head;		/* free descriptor list */
	unsigned int nfree;
	void *cookie[VQD_MAX_NUM];	/* per head, for the caller */
};

/* Bytes of guest memory a ring of @num entries needs at its start. */
static inline size_t vqd_ring_bytes(unsigned int num)
{
	size_t d = 16UL * num, a = 6 + 2UL * num, u = 6 + 8UL * num;

	d = (d + 4095) & ~4095UL;
	a = (a + 4095) & ~4095UL;
	u = (u + 4095) & ~4095UL;
	return d + a + u;
}

static inline uint64_t vqd_gpa(const struct vqd *q, const void *p)
{
	return q->gpa + (uint64_t)((const uint8_t *)p - q->mem);
}

/*
 * Lay a ring of @num entries out at offset @off of guest memory @mem
 * (@size bytes at guest-physical @gpa): descriptor table, then avail, then
 * used, each page aligned.  Returns 0, or -1 if it does not fit.
 */
static inline int vqd_init(struct vqd *q, void *mem, uint64_t gpa,
			   uint64_t size, uint64_t off, unsigned int num,
			   bool event_idx)
{
	uint8_t *r = (uint8_t *)mem + off;
	unsigned int i;

	if (!num || num > VQD_MAX_NUM || (num & (num - 1)) ||
	    off > size || vqd_ring_bytes(num) > size - off)
		return -1;
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->gpa = gpa;
	q->size = size;
	q->num = num;
	q->event_idx = event_idx;
	memset(r, 0, vqd_ring_bytes(num));
	q->desc = (void *)r;
	q->avail = (void *)(r + ((16UL * num + 4095) & ~4095UL));
	q->used = (void *)((uint8_t *)q->avail +
			   ((6 + 2UL * num + 4095) & ~4095UL));
	for (i = 0; i < num; i++)
		q->desc[i].next = (i + 1) % num;
	q->free_head = 0;
	q->nfree = num;
	return 0;
}

/*
 * Queue one virtio-blk request: @hdr (device-readable), @len bytes of data
 * at @buf (device-writable for VIRTIO_BLK_T_IN, none if @len is 0) and the
 * status byte @status (device-writable).  All three must lie in guest
 * memory.  Not visible to the device until vqd_publish().  Returns the head
 * index, or -1 if the ring has no room.
 */
static inline int vqd_add_blk(struct vqd *q, struct virtio_blk_outhdr *hdr,
			      void *buf, uint32_t len, uint8_t *status,
			      void *cookie)
{
	unsigned int n = len ? 3 : 2;
	uint16_t head = q->free_head, i = head;
	bool in = hdr->type == VIRTIO_BLK_T_IN ||
		  hdr->type == VIRTIO_BLK_T_GET_ID;

	if (q->nfree < n)
		return -1;
	q->desc[i].addr = vqd_gpa(q, hdr);
	q->desc[i].len = sizeof(*hdr);
	q->desc[i].flags = VRING_DESC_F_NEXT;
	i = q->desc[i].next;
	if (len) {
		q->desc[i].addr = vqd_gpa(q, buf);
		q->desc[i].len = len;
		q->desc[i].flags = VRING_DESC_F_NEXT |
				   (in ? VRING_DESC_F_WRITE : 0);
		i = q->desc[i].next;
	}
	q->desc[i].addr = vqd_gpa(q, status);
	q->desc[i].len = 1;
	q->desc[i].flags = VRING_DESC_F_WRITE;
	q->free_head = q->desc[i].next;
	q->nfree -= n;
	q->cookie[head] = cookie;
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	return head;
}

/* Make queued requests visible to the device. */
static inline void vqd_publish(struct vqd *q)
{
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

/*
 * After vqd_publish(): does the device want a kick?  With EVENT_IDX, when
 * the new entries cross its avail_event; otherwise unless it set
 * VRING_USED_F_NO_NOTIFY.
 */
static inline bool vqd_kick_needed(struct vqd *q)
{
	uint16_t old = q->kicked_idx, nw = q->avail_idx;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->kicked_idx = nw;
	if (q->event_idx) {
		/* avail_event sits just past the used ring's entries */
		uint16_t ev = __atomic_load_n(
			(uint16_t *)&q->used->ring[q->num], __ATOMIC_ACQUIRE);

		return (uint16_t)(nw - ev - 1) < (uint16_t)(nw - old);
	}
	return !(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) &
		 VRING_USED_F_NO_NOTIFY);
}

/*
 * Ask for an interrupt at the next completion (EVENT_IDX: used_event is
 * the next entry to reap; otherwise clear VRING_AVAIL_F_NO_INTERRUPT).
 * Returns true if completions are already pending: check before sleeping.
 */
static inline bool vqd_enable_cb(struct vqd *q)
{
	if (q->event_idx)
		__atomic_store_n(&q->avail->ring[q->num], q->last_used,
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&q->avail->flags, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) !=
	       q->last_used;
}

/*
 * Reap one completion: returns its head (and the caller's cookie and the
 * used length) and frees its descriptors, or -1 if none is pending or the
 * device returned a bad head (-2).
 */
static inline int vqd_pop_used(struct vqd *q, void **cookie, uint32_t *len)
{
	struct vring_used_elem *e;
	uint16_t head, i, n = 1;

	if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used)
		return -1;
	e = &q->used->ring[q->last_used & (q->num - 1)];
	head = e->id;
	if (head >= q->num)
		return -2;
	if (len)
		*len = e->len;
	q->last_used++;
	for (i = head; q->desc[i].flags & VRING_DESC_F_NEXT; i = q->desc[i].next)
		n++;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	q->nfree += n;
	if (cookie)
		*cookie = q->cookie[head];
	return head;
}

#endif /* KVMIO_SELFTESTS_VIRTQ_DRIVER_H */
