// SPDX-License-Identifier: GPL-2.0
/*
 * iommu_soft uAPI: /dev/iommu_soft.  Each open file owns the domains it
 * creates; release() destroys them.  See include/uapi/linux/iommu_soft.h.
 */
#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "iommu_soft_priv.h"

/* Most domains one open file may own. */
#define IOMMU_SOFT_FILE_MAX_DOMAINS	256
/* Most entries one GET_FAULTS or GET_MAPPINGS returns. */
#define IOMMU_SOFT_MAX_FAULT_READ	4096U

/**
 * struct iommu_soft_file - one open /dev/iommu_soft
 * @domains: id -> domain this file owns (one reference each); the
 *	xarray's lock orders lookups against DOMAIN_DESTROY
 * @nr_domains: entries in @domains
 */
struct iommu_soft_file {
	struct xarray domains;
	atomic_t nr_domains;
};

/*
 * Copy an argsz-headed structure of @ksize bytes from @uarg.  argsz below
 * @ksize or above PAGE_SIZE: -EINVAL; bytes beyond @ksize must be zero.
 */
static int iommu_soft_copy_in(void *karg, size_t ksize, void __user *uarg)
{
	u32 argsz;
	int ret;

	if (get_user(argsz, (u32 __user *)uarg))
		return -EFAULT;
	if (argsz < ksize || argsz > PAGE_SIZE)
		return -EINVAL;
	ret = copy_struct_from_user(karg, ksize, uarg, argsz);
	if (ret == -E2BIG)
		return -EINVAL;
	return ret;
}

static struct iommu_soft_domain *iommu_soft_file_domain(struct iommu_soft_file *f,
							u32 id)
{
	struct iommu_soft_domain *d;

	xa_lock(&f->domains);
	d = xa_load(&f->domains, id);
	if (d)
		iommu_soft_domain_get(d);
	xa_unlock(&f->domains);
	return d;
}

/*
 * Read-only requests may name any domain: this file's, or, for a caller
 * with CAP_SYS_ADMIN now, a global id (another file's or a kernel user's
 * domain, whose mappings are guest DMA addresses).  A descriptor passed to
 * an unprivileged process reads its own domains only.  Returns the domain
 * (referenced) or an ERR_PTR: -ENOENT, -EPERM.
 */
static struct iommu_soft_domain *iommu_soft_any_domain(struct iommu_soft_file *f,
						       u32 id)
{
	struct iommu_soft_domain *d = iommu_soft_file_domain(f, id);

	if (d)
		return d;
	d = iommu_soft_domain_get_by_id(id);
	if (!d)
		return ERR_PTR(-ENOENT);
	if (!capable(CAP_SYS_ADMIN)) {
		iommu_soft_domain_put(d);
		return ERR_PTR(-EPERM);
	}
	return d;
}

static void iommu_soft_file_drop(struct iommu_soft_file *f,
				 struct iommu_soft_domain *d)
{
	iommu_soft_domain_destroy(d);
	iommu_soft_domain_put(d);
	atomic_dec(&f->nr_domains);
}

static long iommu_soft_ioctl_create(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_domain_create arg;
	struct iommu_soft_domain *d;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	if (!arg.addr_width)
		arg.addr_width = 48;
	if (atomic_inc_return(&f->nr_domains) > IOMMU_SOFT_FILE_MAX_DOMAINS) {
		atomic_dec(&f->nr_domains);
		return -ENOSPC;
	}
	d = iommu_soft_domain_alloc(arg.addr_width);
	if (IS_ERR(d)) {
		atomic_dec(&f->nr_domains);
		return PTR_ERR(d);
	}
	ret = xa_insert(&f->domains, d->id, d, GFP_KERNEL);
	if (ret) {
		iommu_soft_file_drop(f, d);
		return ret;
	}
	arg.domain_id = d->id;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		if (xa_erase(&f->domains, arg.domain_id) == d)
			iommu_soft_file_drop(f, d);
		return -EFAULT;
	}
	return 0;
}

static long iommu_soft_ioctl_destroy(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_domain_destroy arg;
	struct iommu_soft_domain *d;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags || arg.pad)
		return -EINVAL;
	d = xa_erase(&f->domains, arg.domain_id);
	if (!d)
		return -ENOENT;
	iommu_soft_file_drop(f, d);
	return 0;
}

static long iommu_soft_ioctl_map(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_domain *d;
	struct iommu_soft_map arg;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.pad || (arg.flags & ~(IOMMU_SOFT_MAP_READ | IOMMU_SOFT_MAP_WRITE)))
		return -EINVAL;
	d = iommu_soft_file_domain(f, arg.domain_id);
	if (!d)
		return -ENOENT;
	if (arg.vaddr > ULONG_MAX)
		ret = -EINVAL;
	else
		ret = iommu_soft_map_user(d, arg.iova, (unsigned long)arg.vaddr,
					  arg.size, arg.flags);
	iommu_soft_domain_put(d);
	return ret;
}

static long iommu_soft_ioctl_unmap(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_domain *d;
	struct iommu_soft_unmap arg;
	s64 bytes;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags || arg.pad)
		return -EINVAL;
	d = iommu_soft_file_domain(f, arg.domain_id);
	if (!d)
		return -ENOENT;
	bytes = iommu_soft_unmap(d, arg.iova, arg.size);
	iommu_soft_domain_put(d);
	if (bytes < 0)
		return bytes;
	arg.size = bytes;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long iommu_soft_ioctl_dma_rw(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_dma_rw arg;
	struct iommu_soft_domain *d;
	void __user *ubuf;
	bool write;
	void *buf;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.pad || (arg.flags & ~IOMMU_SOFT_DMA_RW_WRITE))
		return -EINVAL;
	if (!arg.len || arg.len > iommu_soft_max_xlate())
		return -EINVAL;
	write = arg.flags & IOMMU_SOFT_DMA_RW_WRITE;
	ubuf = u64_to_user_ptr(arg.buf);
	d = iommu_soft_file_domain(f, arg.domain_id);
	if (!d)
		return -ENOENT;
	buf = kvmalloc(arg.len, GFP_KERNEL_ACCOUNT);
	if (!buf) {
		ret = -ENOMEM;
		goto out_put;
	}
	if (write && copy_from_user(buf, ubuf, arg.len)) {
		ret = -EFAULT;
		goto out_free;
	}
	ret = __iommu_soft_rw(d, arg.iova, buf, arg.len, write, "ioctl");
	if (!ret && !write && copy_to_user(ubuf, buf, arg.len))
		ret = -EFAULT;
out_free:
	kvfree(buf);
out_put:
	iommu_soft_domain_put(d);
	return ret;
}

static long iommu_soft_ioctl_get_faults(struct iommu_soft_file *f,
					void __user *uarg)
{
	struct iommu_soft_fault_record *recs = NULL;
	struct iommu_soft_get_faults arg;
	struct iommu_soft_domain *d;
	int ret = 0;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags || arg.pad || arg.count > IOMMU_SOFT_MAX_FAULT_READ)
		return -EINVAL;
	d = iommu_soft_file_domain(f, arg.domain_id);
	if (!d)
		return -ENOENT;
	if (arg.count) {
		recs = kvcalloc(arg.count, sizeof(*recs), GFP_KERNEL_ACCOUNT);
		if (!recs) {
			ret = -ENOMEM;
			goto out_put;
		}
	}
	arg.count = iommu_soft_faults_read(d, recs, arg.count, true, &arg.overflow,
					  &arg.pending);
	if (arg.count && copy_to_user(u64_to_user_ptr(arg.records), recs,
				      arg.count * sizeof(*recs)))
		ret = -EFAULT;
	else if (copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	kvfree(recs);
out_put:
	iommu_soft_domain_put(d);
	return ret;
}

static long iommu_soft_ioctl_set_eventfd(struct iommu_soft_file *f,
					 void __user *uarg)
{
	struct iommu_soft_set_fault_eventfd arg;
	struct iommu_soft_domain *d;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	if (arg.fd < -1)
		return -EBADF;
	d = iommu_soft_file_domain(f, arg.domain_id);
	if (!d)
		return -ENOENT;
	ret = iommu_soft_faults_set_eventfd(d, arg.fd);
	iommu_soft_domain_put(d);
	return ret;
}

static long iommu_soft_ioctl_stats(struct iommu_soft_file *f, void __user *uarg)
{
	struct iommu_soft_domain *d;
	struct iommu_soft_stats arg;
	u32 id;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags)
		return -EINVAL;
	id = arg.domain_id;
	memset(&arg, 0, sizeof(arg));
	arg.argsz = sizeof(arg);
	arg.domain_id = id;
	if (!id) {
		iommu_soft_get_totals(&arg);
		return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
	}
	d = iommu_soft_any_domain(f, id);
	if (IS_ERR(d))
		return PTR_ERR(d);
	iommu_soft_get_stats(d, &arg);
	iommu_soft_domain_put(d);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long iommu_soft_ioctl_mappings(struct iommu_soft_file *f,
				      void __user *uarg)
{
	struct iommu_soft_mapping_info *out = NULL;
	struct iommu_soft_get_mappings arg;
	struct iommu_soft_domain *d;
	bool more = false;
	int ret;

	ret = iommu_soft_copy_in(&arg, sizeof(arg), uarg);
	if (ret)
		return ret;
	if (arg.flags || arg.pad || arg.count > IOMMU_SOFT_MAX_FAULT_READ)
		return -EINVAL;
	d = iommu_soft_any_domain(f, arg.domain_id);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (arg.count) {
		out = kvcalloc(arg.count, sizeof(*out), GFP_KERNEL_ACCOUNT);
		if (!out) {
			ret = -ENOMEM;
			goto out_put;
		}
	}
	arg.count = iommu_soft_get_mappings(d, &arg.start, out, arg.count, &more);
	arg.more = more;
	if (arg.count && copy_to_user(u64_to_user_ptr(arg.entries), out,
				      arg.count * sizeof(*out)))
		ret = -EFAULT;
	else if (copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	kvfree(out);
out_put:
	iommu_soft_domain_put(d);
	return ret;
}

static long iommu_soft_ioctl(struct file *file, unsigned int cmd,
			     unsigned long uarg)
{
	struct iommu_soft_file *f = file->private_data;
	void __user *p = (void __user *)uarg;

	switch (cmd) {
	case IOMMU_SOFT_DOMAIN_CREATE:
		return iommu_soft_ioctl_create(f, p);
	case IOMMU_SOFT_DOMAIN_DESTROY:
		return iommu_soft_ioctl_destroy(f, p);
	case IOMMU_SOFT_MAP:
		return iommu_soft_ioctl_map(f, p);
	case IOMMU_SOFT_UNMAP:
		return iommu_soft_ioctl_unmap(f, p);
	case IOMMU_SOFT_DMA_RW:
		return iommu_soft_ioctl_dma_rw(f, p);
	case IOMMU_SOFT_GET_FAULTS:
		return iommu_soft_ioctl_get_faults(f, p);
	case IOMMU_SOFT_SET_FAULT_EVENTFD:
		return iommu_soft_ioctl_set_eventfd(f, p);
	case IOMMU_SOFT_GET_STATS:
		return iommu_soft_ioctl_stats(f, p);
	case IOMMU_SOFT_GET_MAPPINGS:
		return iommu_soft_ioctl_mappings(f, p);
	default:
		return -ENOTTY;
	}
}

static int iommu_soft_open(struct inode *inode, struct file *file)
{
	struct iommu_soft_file *f;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	xa_init(&f->domains);
	file->private_data = f;
	return 0;
}

static int iommu_soft_release(struct inode *inode, struct file *file)
{
	struct iommu_soft_file *f = file->private_data;
	struct iommu_soft_domain *d;
	unsigned long id;

	xa_for_each(&f->domains, id, d) {
		xa_erase(&f->domains, id);
		iommu_soft_file_drop(f, d);
	}
	xa_destroy(&f->domains);
	kfree(f);
	return 0;
}

static const struct file_operations iommu_soft_fops = {
	.owner		= THIS_MODULE,
	.open		= iommu_soft_open,
	.release	= iommu_soft_release,
	.unlocked_ioctl	= iommu_soft_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice iommu_soft_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "iommu_soft",
	.fops	= &iommu_soft_fops,
	.mode	= 0600,
};

int iommu_soft_uapi_init(void)
{
	return misc_register(&iommu_soft_misc);
}

void iommu_soft_uapi_exit(void)
{
	misc_deregister(&iommu_soft_misc);
}
