// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_blk device: open/release and the vhost ioctls.
 *
 * Every ioctl runs under vblk_dev.mutex; changes to a ring take the ring's
 * mutex too (which waits for the worker's pass) and drain the ring first:
 * every request in flight completes and is put in the used ring before the
 * backend, memory table, features, log or ring layout change.  Release
 * does the same (from a kworker in the owner's mm: __vblk_release_drain()),
 * so that a VMM restarting the rings from their used index resumes exactly
 * after the last request taken; VHOST_RESET_OWNER only waits for the
 * requests and frees them.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/workqueue.h>

#include "vhost_blk_priv.h"

static atomic_t vblk_dev_ids = ATOMIC_INIT(0);

/* The caller owns the device: it called VHOST_SET_OWNER in this mm. */
static bool vblk_is_owner(struct vblk_dev *dev)
{
	return dev->mm && dev->mm == current->mm;
}

static u64 vblk_offered_features(struct vblk_dev *dev)
{
	u64 f = VBLK_FEATURES;

	if (dev->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

/* Reset one ring to its state after open (caller holds dev->mutex). */
static void vblk_vq_reset(struct vblk_vq *vq)
{
	vblk_vq_lock(vq);
	vblk_poll_stop(vq);
	vblk_throttle_stop(vq);
	if (vq->call)
		eventfd_ctx_put(vq->call);
	if (vq->err)
		eventfd_ctx_put(vq->err);
	vq->call = NULL;
	vq->err = NULL;
	vq->num = 0;
	vq->desc_uaddr = 0;
	vq->avail_uaddr = 0;
	vq->used_uaddr = 0;
	vq->addr_set = false;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_valid = false;
	vq->call_missed = false;
	vq->need_init = true;
	vq->stopped = false;
	vq->broken = false;
	vq->event_idx = false;
	vq->indirect = false;
	vq->packed = false;
	vq->avail_wrap = false;
	vq->used_wrap = false;
	vq->mem = NULL;
	vq->be = NULL;
	vq->tg = NULL;
	vq->log_all = false;
	vq->log_base = 0;
	vq->log_ctx = NULL;
	vq->logged = false;
	vq->poll_notify_off = false;
	mutex_unlock(&vq->mutex);
}

/* Lock @vq and complete its requests in flight into its used ring. */
static void vblk_vq_lock_drained(struct vblk_vq *vq)
{
	vblk_vq_lock(vq);
	vblk_vq_drain(vq, true);
}

/*
 * Release's drain, run by a kworker: release() may run in a task without
 * the owner's mm (the owner was killed and is closing its files in exit),
 * so the used rings are written in the owner's mm adopted here.  The mm is
 * alive: dev->mm holds a reference on its users until the reset.
 */
struct vblk_drain_work {
	struct work_struct work;
	struct vblk_dev *dev;
};

static void vblk_drain_work_fn(struct work_struct *work)
{
	struct vblk_drain_work *w = container_of(work, struct vblk_drain_work, work);
	struct vblk_dev *dev = w->dev;
	unsigned int i;

	kthread_use_mm(dev->mm);
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		vblk_vq_lock(&dev->vqs[i]);
		vblk_vq_drain(&dev->vqs[i], true);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	kthread_unuse_mm(dev->mm);
}

/*
 * Complete every request in flight into its used ring and signal the
 * guest (caller holds dev->mutex; kicks and workers are stopped).  This is
 * what lets a VMM whose backend died resume without inflight shared
 * memory: QEMU, unable to ask for the ring base, takes the used index from
 * guest memory as the next request to hand the new backend, which is right
 * only if everything taken is in the used ring.
 */
static void __vblk_release_drain(struct vblk_dev *dev)
{
	struct vblk_drain_work w = { .dev = dev };

	lockdep_assert_held(&dev->mutex);
	if (!dev->mm)
		return;
	INIT_WORK_ONSTACK(&w.work, vblk_drain_work_fn);
	queue_work(system_unbound_wq, &w.work);
	flush_work(&w.work);
	destroy_work_on_stack(&w.work);
}

/*
 * Drop the owner and everything it set up (caller holds dev->mutex).
 * @publish: complete the requests in flight into the used rings (release);
 * else only wait for them and free them (VHOST_RESET_OWNER).
 */
static void __vblk_dev_reset_owner(struct vblk_dev *dev, bool publish)
{
	unsigned int i;

	lockdep_assert_held(&dev->mutex);
	/* no new kicks, then no worker: nothing runs on the rings after this */
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		vblk_vq_lock(&dev->vqs[i]);
		vblk_poll_stop(&dev->vqs[i]);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	for (i = 0; i < VBLK_NUM_QUEUES; i++)
		vblk_worker_stop(&dev->vqs[i]);
	if (publish)
		__vblk_release_drain(dev);
	/* wait for the requests in flight; the rings are being dropped */
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		vblk_vq_lock(&dev->vqs[i]);
		vblk_vq_drain(&dev->vqs[i], false);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	for (i = 0; i < VBLK_NUM_QUEUES; i++)
		vblk_vq_reset(&dev->vqs[i]);
	kvfree(dev->mem);
	dev->mem = NULL;
	if (dev->be)
		vblk_backend_put(dev->be);
	dev->be = NULL;
	/* limits are the owner's (and groups its user's) */
	__vblk_limits_free(dev);
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = 0;
	dev->features = 0;
	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
}

int vblk_open(struct inode *inode, struct file *file)
{
	struct vblk_dev *dev;
	int ret = -ENOMEM;
	char name[32];
	unsigned int i;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->mutex);
	spin_lock_init(&dev->wake_lock);
	spin_lock_init(&dev->serial_lock);
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		struct vblk_vq *vq = &dev->vqs[i];

		vq->dev = dev;
		vq->index = i;
		vq->need_init = true;
		mutex_init(&vq->mutex);
		INIT_LIST_HEAD(&vq->ready);
		spin_lock_init(&vq->done_lock);
		INIT_LIST_HEAD(&vq->done);
		init_waitqueue_head(&vq->done_wq);
		vblk_poll_init(vq);
		vblk_throttle_init(vq);
		vq->iov = kmalloc_array(VBLK_MAX_IOV, sizeof(*vq->iov),
					GFP_KERNEL_ACCOUNT);
		vq->wlog = kmalloc_array(VBLK_MAX_IOV, sizeof(*vq->wlog),
					 GFP_KERNEL_ACCOUNT);
		if (!vq->iov || !vq->wlog) {
			kfree(vq->iov);
			kfree(vq->wlog);
			goto err_iov;
		}
	}
	dev->max_batch = VBLK_BATCH;
	snprintf(name, sizeof(name), "%d-%d", task_tgid_nr(current),
		 atomic_inc_return(&vblk_dev_ids));
	ret = vblk_sysfs_add(dev, name);
	if (ret)
		goto err_iov;
	file->private_data = dev;
	return 0;

err_iov:
	while (i--) {
		kfree(dev->vqs[i].iov);
		kfree(dev->vqs[i].wlog);
	}
	kfree(dev);
	return ret;
}

int vblk_release(struct inode *inode, struct file *file)
{
	struct vblk_dev *dev = file->private_data;
	unsigned int i;

	vblk_sysfs_remove(dev);
	mutex_lock(&dev->mutex);
	__vblk_dev_reset_owner(dev, true);
	mutex_unlock(&dev->mutex);
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		kfree(dev->vqs[i].iov);
		kfree(dev->vqs[i].wlog);
		mutex_destroy(&dev->vqs[i].mutex);
	}
	mutex_destroy(&dev->mutex);
	kfree(dev);
	return 0;
}

static long vblk_set_owner(struct vblk_dev *dev)
{
	if (dev->mm)
		return -EBUSY;
	dev->mm = get_task_mm(current);
	return dev->mm ? 0 : -EINVAL;
}

static long vblk_set_features(struct vblk_dev *dev, u64 __user *argp)
{
	unsigned int i;
	u64 f;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f & ~vblk_offered_features(dev))
		return -EOPNOTSUPP;
	if (!(f & (1ULL << VIRTIO_F_VERSION_1)))
		return -EINVAL;
	dev->features = f;
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		struct vblk_vq *vq = &dev->vqs[i];

		vblk_vq_lock_drained(vq);
		vq->event_idx = f & (1ULL << VIRTIO_RING_F_EVENT_IDX);
		vq->indirect = f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
		vq->packed = f & (1ULL << VIRTIO_F_RING_PACKED);
		vq->log_all = f & (1ULL << VHOST_F_LOG_ALL);
		vq->need_init = true;
		vq->signalled_valid = false;
		mutex_unlock(&vq->mutex);
	}
	return 0;
}

static int vblk_region_cmp(const void *a, const void *b)
{
	const struct vblk_region *ra = a, *rb = b;

	if (ra->gpa < rb->gpa)
		return -1;
	return ra->gpa > rb->gpa;
}

static long vblk_set_mem_table(struct vblk_dev *dev,
			       struct vhost_memory __user *argp)
{
	struct vhost_memory hdr;
	struct vhost_memory_region r;
	struct vblk_mem *mem, *old;
	u64 end;
	u32 i;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return -EINVAL;
	if (hdr.nregions > VBLK_MAX_REGIONS)
		return -E2BIG;
	mem = kvzalloc(struct_size(mem, regions, hdr.nregions),
		       GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	mem->nregions = hdr.nregions;
	for (i = 0; i < hdr.nregions; i++) {
		if (copy_from_user(&r, &argp->regions[i], sizeof(r)))
			goto err_fault;
		if (r.flags_padding || !r.memory_size ||
		    check_add_overflow(r.guest_phys_addr, r.memory_size, &end) ||
		    check_add_overflow(r.userspace_addr, r.memory_size, &end))
			goto err_inval;
		if (!access_ok(u64_to_user_ptr(r.userspace_addr), r.memory_size))
			goto err_fault;
		mem->regions[i].gpa = r.guest_phys_addr;
		mem->regions[i].size = r.memory_size;
		mem->regions[i].uaddr = r.userspace_addr;
	}
	sort(mem->regions, mem->nregions, sizeof(mem->regions[0]),
	     vblk_region_cmp, NULL);
	for (i = 1; i < mem->nregions; i++) {
		const struct vblk_region *p = &mem->regions[i - 1];

		if (p->gpa + p->size > mem->regions[i].gpa)
			goto err_inval;
	}
	/* the bound of every dirty-log bit; a log in use must cover it */
	mem->log_pages = vblk_log_pages(mem);
	if (!vblk_log_access_ok(dev->log_base, mem))
		goto err_fault;

	old = dev->mem;
	dev->mem = mem;
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		struct vblk_vq *vq = &dev->vqs[i];

		/* requests in flight hold addresses of the old table */
		vblk_vq_lock_drained(vq);
		vq->mem = mem;
		vq->need_init = true;
		mutex_unlock(&vq->mutex);
		vblk_worker_queue(vq);
	}
	kvfree(old);
	return 0;

err_fault:
	kvfree(mem);
	return -EFAULT;
err_inval:
	kvfree(mem);
	return -EINVAL;
}

static long vblk_set_log_base(struct vblk_dev *dev, u64 __user *argp)
{
	unsigned int i;
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if (!vblk_log_access_ok(base, dev->mem))
		return -EFAULT;
	dev->log_base = base;
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		vblk_vq_lock_drained(&dev->vqs[i]);
		dev->vqs[i].log_base = base;
		mutex_unlock(&dev->vqs[i].mutex);
	}
	return 0;
}

static long vblk_set_log_fd(struct vblk_dev *dev, int __user *argp)
{
	struct eventfd_ctx *ctx = NULL;
	unsigned int i;
	int fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	swap(dev->log_ctx, ctx);
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		vblk_vq_lock_drained(&dev->vqs[i]);
		dev->vqs[i].log_ctx = dev->log_ctx;
		mutex_unlock(&dev->vqs[i].mutex);
	}
	if (ctx)
		eventfd_ctx_put(ctx);
	return 0;
}

/* Attach @be (NULL: detach) once the rings' requests on the old one are done. */
static void vblk_install_backend(struct vblk_dev *dev, struct vblk_backend *be)
{
	struct vblk_backend *old = dev->be;
	unsigned int i;

	dev->be = be;
	for (i = 0; i < VBLK_NUM_QUEUES; i++) {
		struct vblk_vq *vq = &dev->vqs[i];

		/* completes the ring's requests on the old backend */
		vblk_vq_lock_drained(vq);
		vblk_share_unwait(vq);
		vq->be = be;
		mutex_unlock(&vq->mutex);
		vblk_worker_queue(vq);
	}
	if (old)
		vblk_backend_put(old);
}

/* Open @fd's range as the device's backend, a member of its file's share. */
static long vblk_attach(struct vblk_dev *dev, int fd, u64 offset, u64 length,
			u32 weight)
{
	struct vblk_backend *be = NULL;
	int ret;

	if (fd != VHOST_FILE_UNBIND) {
		ret = vblk_backend_open(fd, dev->readonly, offset, length, &be);
		if (ret)
			return ret;
		ret = vblk_share_join(be, weight);
		if (ret) {
			vblk_backend_put(be);
			return ret;
		}
	}
	vblk_install_backend(dev, be);
	return 0;
}

static long vblk_set_backend(struct vblk_dev *dev,
			     struct vhost_vring_file __user *argp)
{
	struct vhost_vring_file f;

	if (copy_from_user(&f, argp, sizeof(f)))
		return -EFAULT;
	if (f.index)
		return -EINVAL;
	return vblk_attach(dev, f.fd, 0, 0, VBLK_WEIGHT_DEFAULT);
}

static long vblk_set_backend_range(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_range r;

	if (copy_from_user(&r, argp, sizeof(r)))
		return -EFAULT;
	if (r.argsz < sizeof(r) || r.flags || r.pad || r.pad2 ||
	    r.fd == VHOST_FILE_UNBIND || r.weight > VHOST_BLK_WEIGHT_MAX)
		return -EINVAL;
	return vblk_attach(dev, r.fd, r.offset, r.length,
			   r.weight ? r.weight : VBLK_WEIGHT_DEFAULT);
}

static long vblk_resize(struct vblk_dev *dev)
{
	if (!dev->be)
		return -ENODEV;
	return vblk_backend_resize(dev->be);
}

static long vblk_vring_ioctl(struct vblk_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct vhost_vring_state s;
	struct vhost_vring_addr a;
	struct vhost_vring_file f;
	struct eventfd_ctx *ctx = NULL, **slot;
	struct file *kick = NULL;
	struct vblk_vq *vq;
	u32 index;
	long ret = 0;

	if (copy_from_user(&index, argp, sizeof(index)))
		return -EFAULT;
	if (index >= VBLK_NUM_QUEUES)
		return -ENOBUFS;
	vq = &dev->vqs[index];
	if (cmd != VHOST_GET_VRING_BASE) {
		ret = vblk_worker_start(vq);
		if (ret)
			return ret;
	}

	switch (cmd) {
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		if (copy_from_user(&f, argp, sizeof(f)))
			return -EFAULT;
		if (f.fd == VHOST_FILE_UNBIND)
			break;
		if (cmd != VHOST_SET_VRING_KICK) {
			ctx = eventfd_ctx_fdget(f.fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
			break;
		}
		kick = fget(f.fd);
		if (!kick)
			return -EBADF;
		ctx = eventfd_ctx_fileget(kick);
		if (IS_ERR(ctx)) {
			fput(kick);
			return PTR_ERR(ctx);
		}
		eventfd_ctx_put(ctx);
		ctx = NULL;
		break;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		if (copy_from_user(&s, argp, sizeof(s)))
			return -EFAULT;
		break;
	case VHOST_SET_VRING_ADDR:
		if (copy_from_user(&a, argp, sizeof(a)))
			return -EFAULT;
		break;
	}

	vblk_vq_lock(vq);
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		/* every request taken is in the used ring before it returns */
		vblk_vq_drain(vq, true);
		break;
	}
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		if (vblk_vq_active(vq)) {
			ret = -EBUSY;
			break;
		}
		if (!s.num || s.num > VBLK_MAX_RING || (s.num & (s.num - 1))) {
			ret = -EINVAL;
			break;
		}
		vq->num = s.num;
		vq->need_init = true;
		break;
	case VHOST_SET_VRING_ADDR:
		if (vblk_vq_active(vq)) {
			ret = -EBUSY;
			break;
		}
		/*
		 * VHOST_VRING_F_LOG is accepted; log_guest_addr is not needed:
		 * ring writes are logged through the memory table.
		 */
		if (a.flags & ~(1U << VHOST_VRING_F_LOG)) {
			ret = -EINVAL;
			break;
		}
		/* packed rings: both event areas are 4-byte aligned */
		if ((a.desc_user_addr & 15) ||
		    (a.avail_user_addr & (vq->packed ? 3 : 1)) ||
		    (a.used_user_addr & 3)) {
			ret = -EINVAL;
			break;
		}
		vq->desc_uaddr = a.desc_user_addr;
		vq->avail_uaddr = a.avail_user_addr;
		vq->used_uaddr = a.used_user_addr;
		vq->addr_set = true;
		vq->need_init = true;
		break;
	case VHOST_SET_VRING_BASE:
		if (vblk_vq_active(vq)) {
			ret = -EBUSY;
			break;
		}
		ret = vblk_vq_set_base(vq, s.num);
		if (ret)
			break;
		vq->stopped = false;
		vq->broken = false;
		vq->need_init = true;
		break;
	case VHOST_GET_VRING_BASE:
		/* drained above: nothing of the ring is in flight */
		vq->stopped = true;
		/* nothing held either: a held request is still in the ring */
		vblk_throttle_stop(vq);
		s.num = vblk_vq_get_base(vq);
		break;
	case VHOST_SET_VRING_KICK:
		vblk_poll_stop(vq);
		if (kick)
			ret = vblk_poll_start(vq, kick);	/* consumes kick */
		break;
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		slot = cmd == VHOST_SET_VRING_CALL ? &vq->call : &vq->err;
		swap(*slot, ctx);
		vq->signalled_valid = false;
		/*
		 * Requests completed while the ring had no call fd (QEMU
		 * starts a ring by its kick eventfd, which it creates
		 * signalled, and sends the call fd after it; a migration
		 * target or a restarted bridge does so with requests in the
		 * ring) would never interrupt the guest: a driver waiting for
		 * its only request would wait forever.  Give that interrupt
		 * now (under vq->mutex, as the worker does).
		 */
		if (cmd == VHOST_SET_VRING_CALL && vq->call && vq->call_missed) {
			vq->call_missed = false;
			vblk_count(dev, interrupts);
			kvmio_eventfd_signal(vq->call);
		}
		break;
	}
	mutex_unlock(&vq->mutex);

	if (ctx)
		eventfd_ctx_put(ctx);
	if (ret)
		return ret;
	if (cmd == VHOST_GET_VRING_BASE) {
		if (copy_to_user(argp, &s, sizeof(s)))
			return -EFAULT;
		return 0;
	}
	vblk_worker_queue(vq);
	return 0;
}

static long vblk_set_serial(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_serial s;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.argsz < sizeof(s) || s.flags || s.pad)
		return -EINVAL;
	spin_lock(&dev->serial_lock);
	memcpy(dev->serial, s.serial, sizeof(dev->serial));
	spin_unlock(&dev->serial_lock);
	return 0;
}

static long vblk_set_flags(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_flags fl;

	if (copy_from_user(&fl, argp, sizeof(fl)))
		return -EFAULT;
	if (fl.argsz < sizeof(fl) || (fl.flags & ~VHOST_BLK_FLAG_READONLY))
		return -EINVAL;
	if (dev->be)
		return -EBUSY;
	dev->readonly = fl.flags & VHOST_BLK_FLAG_READONLY;
	return 0;
}

static long vblk_get_config(struct vblk_dev *dev, void __user *argp)
{
	struct vhost_blk_config c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.argsz < sizeof(c))
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.argsz = sizeof(c);
	if (dev->be) {
		c.flags |= VHOST_BLK_CONFIG_BACKEND;
		c.capacity = READ_ONCE(dev->be->capacity);
		c.blk_size = dev->be->blk_size;
	} else {
		c.blk_size = SECTOR_SIZE;
	}
	if (dev->readonly)
		c.flags |= VHOST_BLK_CONFIG_READONLY;
	c.seg_max = VHOST_BLK_SEG_MAX;
	c.num_queues = VBLK_NUM_QUEUES;
	c.max_discard_sectors = VHOST_BLK_DISCARD_SECTORS_MAX;
	c.max_discard_seg = VHOST_BLK_DISCARD_SEG_MAX;
	c.discard_sector_alignment = c.blk_size >> SECTOR_SHIFT;
	c.max_write_zeroes_sectors = VHOST_BLK_DISCARD_SECTORS_MAX;
	c.max_write_zeroes_seg = VHOST_BLK_DISCARD_SEG_MAX;
	c.write_zeroes_may_unmap = 1;
	if (copy_to_user(argp, &c, sizeof(c)))
		return -EFAULT;
	return 0;
}

long vblk_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vblk_dev *dev = file->private_data;
	void __user *argp = (void __user *)arg;
	u64 features;
	long ret;

	/* no device lock needed: counters only */
	if (cmd == VHOST_BLK_GET_STATS)
		return vblk_stats_ioctl(dev, argp);

	mutex_lock(&dev->mutex);
	switch (cmd) {
	case VHOST_GET_FEATURES:
		features = vblk_offered_features(dev);
		ret = copy_to_user(argp, &features, sizeof(features)) ?
		      -EFAULT : 0;
		break;
	case VHOST_SET_OWNER:
		ret = vblk_set_owner(dev);
		break;
	case VHOST_BLK_SET_SERIAL:
		ret = vblk_set_serial(dev, argp);
		break;
	case VHOST_BLK_SET_FLAGS:
		ret = vblk_set_flags(dev, argp);
		break;
	case VHOST_BLK_GET_CONFIG:
		ret = vblk_get_config(dev, argp);
		break;
	case VHOST_BLK_GET_LIMITS:
		ret = vblk_get_limits(dev, argp);
		break;
	case VHOST_RESET_OWNER:
	case VHOST_SET_FEATURES:
	case VHOST_SET_MEM_TABLE:
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
	case VHOST_BLK_SET_BACKEND:
	case VHOST_BLK_SET_BACKEND_RANGE:
	case VHOST_BLK_RESIZE:
	case VHOST_BLK_SET_LIMITS:
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		if (!vblk_is_owner(dev)) {
			ret = -EPERM;
			break;
		}
		if (cmd == VHOST_RESET_OWNER) {
			__vblk_dev_reset_owner(dev, false);
			ret = 0;
		} else if (cmd == VHOST_SET_FEATURES) {
			ret = vblk_set_features(dev, argp);
		} else if (cmd == VHOST_SET_MEM_TABLE) {
			ret = vblk_set_mem_table(dev, argp);
		} else if (cmd == VHOST_SET_LOG_BASE) {
			ret = vblk_set_log_base(dev, argp);
		} else if (cmd == VHOST_SET_LOG_FD) {
			ret = vblk_set_log_fd(dev, argp);
		} else if (cmd == VHOST_BLK_SET_BACKEND) {
			ret = vblk_set_backend(dev, argp);
		} else if (cmd == VHOST_BLK_SET_BACKEND_RANGE) {
			ret = vblk_set_backend_range(dev, argp);
		} else if (cmd == VHOST_BLK_RESIZE) {
			ret = vblk_resize(dev);
		} else if (cmd == VHOST_BLK_SET_LIMITS) {
			ret = vblk_set_limits(dev, argp);
		} else {
			ret = vblk_vring_ioctl(dev, cmd, argp);
		}
		break;
	default:
		ret = -ENOIOCTLCMD;
		break;
	}
	mutex_unlock(&dev->mutex);
	return ret;
}
