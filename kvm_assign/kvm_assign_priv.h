/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm_assign private header: the structures shared by the files of the
 * module and their cross-file functions.
 *
 *   main.c        module init/exit, PCI driver (claiming devices), mdev parent
 *   mdev.c        mdev driver, vfio_device ops, device/region/IRQ info, reset
 *   config.c      config-space virtualization
 *   rdwr.c        BAR region access: trapped registers go to the model
 *   dma.c         translation of guest ranges for one device transfer
 *   intrs.c       VFIO_DEVICE_SET_IRQS (INTx with unmask eventfd, MSI) and
 *                 delivery of the device's interrupts to the context
 *   model_edu.c   the device model for QEMU's edu device
 *   model_e1000.c, e1000_*.c  the device model for the 82540EM NIC (e1000.h)
 *
 * Object lifetime: a ka_dev exists while kvm_assign is bound to a PCI device;
 * its contexts (ka_ctx, one per mdev) are created and removed through the
 * mdev sysfs interface and hold no reference on the ka_dev: the PCI remove
 * path unregisters the mdev parent first, which removes every context
 * (waiting for its VFIO users to close it) before the ka_dev goes away.
 */
#ifndef _KVM_ASSIGN_PRIV_H
#define _KVM_ASSIGN_PRIV_H

#include <linux/dma-direction.h>
#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/vfio.h>

#include "kvmio/iommu_soft.h"
#include "kvmio/irq_remap.h"

#define KA_CONFIG_SIZE		256
#define KA_MSI_CAP		0x40	/* offset of the virtual MSI capability */
#define KA_MSI_CAP_SIZE		14	/* 64-bit MSI, no per-vector masking */

struct ka_ctx;
struct ka_dev;

#define KA_DMA_MAX		4096	/* longest single transfer a model asks for */

/**
 * struct ka_xfer - a guest range translated for one device transfer
 * @xlate:	the iommu_soft translation (xlate.dma_addr goes to the device)
 * @held:	@xlate must be released
 */
struct ka_xfer {
	struct iommu_soft_xlate	xlate;
	bool			held;
};

/**
 * struct ka_trap - a range of device registers a model mediates
 * @bar:	BAR index
 * @offset:	first byte of the range in the BAR
 * @size:	length of the range
 *
 * Accesses inside a trap go to the model's read/write handlers; accesses
 * to a BAR outside every trap are refused (the model says what is safe).
 */
struct ka_trap {
	u8	bar;
	u32	offset;
	u32	size;
};

/**
 * struct ka_vbar - a BAR of the function the guest sees
 * @size:	its size (a power of two; 0: no such BAR)
 * @io:		an I/O BAR (else a 32-bit memory BAR)
 */
struct ka_vbar {
	u32	size;
	bool	io;
};

/**
 * struct ka_model - what kvm_assign knows about one device type
 * @name:	short name, used in the mdev type ("kvm_assign-<name>")
 * @vendor:	PCI vendor ID the model applies to
 * @device:	PCI device ID the model applies to
 * @dma_bits:	width of the device's DMA addresses
 * @bar_mask:	BARs of the physical device kvm_assign maps (bit n = BAR n);
 *		the guest sees the same BARs unless @vbars says otherwise
 * @vbars:	optional: the guest's BARs, when they differ from the
 *		device's (an emulated I/O BAR, say); traps cover them whole
 * @no_msi:	the function has no MSI capability (INTx only)
 * @traps:	register ranges the model mediates
 * @nr_traps:	number of @traps
 * @probe:	check the physical device, set up model state in @kd
 * @remove:	undo @probe
 * @ctx_init:	set up a context's model state
 * @ctx_fini:	undo @ctx_init; no transfer may be in flight afterwards
 * @reset:	bring a context's device view back to its power-on state
 * @quiesce:	wait until no device transfer of the context is in flight
 * @read:	trapped read of @size bytes at BAR @bar offset @off
 * @write:	trapped write
 * @irq:	physical interrupt handler (hard-irq context); returns
 *		IRQ_HANDLED if the device raised it
 * @max_contexts: optional: how many contexts one device offers, all open
 *		at once (the model shares the device between them); without
 *		it one context at a time owns the device (ka_dev.owner)
 *
 * A new device type is one file that fills in a ka_model and adds it to
 * ka_models[] in main.c.
 */
struct ka_model {
	const char		*name;
	u16			vendor;
	u16			device;
	unsigned int		dma_bits;
	u32			bar_mask;
	const struct ka_vbar	*vbars;
	bool			no_msi;
	const struct ka_trap	*traps;
	unsigned int		nr_traps;
	int	(*probe)(struct ka_dev *kd);
	void	(*remove)(struct ka_dev *kd);
	int	(*ctx_init)(struct ka_ctx *ctx);
	void	(*ctx_fini)(struct ka_ctx *ctx);
	void	(*reset)(struct ka_ctx *ctx);
	void	(*quiesce)(struct ka_ctx *ctx);
	int	(*read)(struct ka_ctx *ctx, int bar, u32 off, u64 *val, int size);
	int	(*write)(struct ka_ctx *ctx, int bar, u32 off, u64 val, int size);
	irqreturn_t (*irq)(struct ka_dev *kd);
	unsigned int (*max_contexts)(void);
};

/**
 * struct ka_dev - a physical device claimed by kvm_assign
 * @pdev:	the PCI device
 * @model:	its device model
 * @bar:	mapped BARs (only those in model->bar_mask)
 * @bar_len:	their lengths
 * @irq:	Linux IRQ number of the device's one vector
 * @parent:	the mdev parent that offers contexts
 * @type:	the one mdev type ("kvm_assign-<model>")
 * @types:	array of types passed to mdev_register_parent()
 * @type_name:	storage for @type's sysfs name
 * @irq_table:	irq_remap table of the device (its requester ID); each
 *		context owns one entry
 * @lock:	protects @owner; taken in hard-irq context
 * @owner:	the context whose guest owns the device (NULL: none)
 * @model_data:	the model's per-device state
 * @saved_state: the config space at probe time, restored at remove
 */
struct ka_dev {
	struct pci_dev		*pdev;
	const struct ka_model	*model;
	void __iomem		*bar[PCI_STD_NUM_BARS];
	resource_size_t		bar_len[PCI_STD_NUM_BARS];
	int			irq;
	struct mdev_parent	parent;
	struct mdev_type	type;
	struct mdev_type	*types[1];
	char			type_name[32];
	struct irq_remap_table	*irq_table;
	spinlock_t		lock;		/* @owner; hard-irq safe */
	struct ka_ctx		*owner;
	void			*model_data;
	struct pci_saved_state	*saved_state;
};

/**
 * struct ka_stats - per-context counters (sysfs: <mdev>/kvm_assign/)
 * @config_writes_dropped: writes that tried to change read-only config bits
 * @bar_reads:		trapped BAR reads handled by the model
 * @bar_writes:		trapped BAR writes handled by the model
 * @bar_refused:	BAR accesses outside every trap, or with memory
 *			decoding disabled (read all-ones, writes dropped)
 * @dma_started:	transfers the model let the device run
 * @dma_refused:	transfers refused (range, permission, bus mastering)
 * @dma_in_flight: transfers the device runs for the context right now
 *		(each holds its translation until the device completes it)
 * @resets:		VFIO_DEVICE_RESET calls
 * @pages_pinned:	guest pages pinned through VFIO and mapped in the
 *			context's iommu_soft domain
 */
struct ka_stats {
	atomic64_t	config_writes_dropped;
	atomic64_t	bar_reads;
	atomic64_t	bar_writes;
	atomic64_t	bar_refused;
	atomic64_t	dma_started;
	atomic64_t	dma_refused;
	atomic64_t	dma_in_flight;
	atomic64_t	resets;
	atomic64_t	pages_pinned;
};

enum ka_irq_type {
	KA_IRQ_NONE,
	KA_IRQ_INTX,
	KA_IRQ_MSI,
};

/**
 * struct ka_ctx - one assignment context (one mdev, one VFIO device)
 * @vdev:	the VFIO device (first: vfio_alloc_device() needs it there)
 * @kd:		the physical device
 * @mdev:	the mediated device
 * @lock:	serializes the VFIO paths of this context: config space,
 *		BAR access, SET_IRQS, reset, open/close, the request op
 * @config:	the virtual config space (protected by @lock)
 * @config_wmask: writable bits of @config
 * @bar_size:	sizes of the BARs the guest sees
 * @bar_io:	which of them are I/O BARs
 * @open:	the VFIO device is open (protected by @lock)
 * @dma_lock:	serializes the pinning and translation of guest pages
 *		(ka_dma_map()) with their unmapping (ka_dma_invalidate():
 *		VFIO's dma_unmap, close, reset); see dma.c for its order
 * @inval_first: first address of the last range ka_dma_invalidate()
 *		unmapped (under @dma_lock)
 * @inval_last:	its last address
 * @inval_done:	when it returned (jiffies)
 * @domain:	iommu_soft domain of the guest memory the device may reach
 * @irq_handle:	this context's entry in kd->irq_table
 * @unmask:	virqfd that ends INTx service (resample) when its eventfd
 *		fires (under @lock; VFIO's virqfd_lock when it tears down)
 * @intx_trigger: the INTx trigger eventfd as resolved for irq_remap, and
 * @unmask_eventfd: the eventfd of @unmask: references kept (under @lock)
 *		only to refuse one eventfd as both a trigger and the unmask
 *		eventfd (intrs.c)
 * @req_trigger: eventfd that asks the VMM to release the device (REQ IRQ;
 *		under @lock)
 * @irq_lock:	protects the interrupt state below; hard-irq safe
 * @irq_type:	how interrupts reach the VMM (through the irq_remap entry)
 * @intx_pending: the virtual INTx line is raised
 * @model_state: the model's per-context state
 * @stats:	counters
 */
struct ka_ctx {
	struct vfio_device	vdev;
	struct ka_dev		*kd;
	struct mdev_device	*mdev;
	struct mutex		lock;		/* the VFIO paths of the context */
	u8			config[KA_CONFIG_SIZE];
	u8			config_wmask[KA_CONFIG_SIZE];
	u32			bar_size[PCI_STD_NUM_BARS];
	bool			bar_io[PCI_STD_NUM_BARS];
	bool			open;
	struct mutex		dma_lock;	/* pin/translate vs. unmap */
	u64			inval_first;
	u64			inval_last;
	unsigned long		inval_done;
	struct iommu_soft_domain *domain;
	unsigned int		irq_handle;

	struct virqfd		*unmask;
	struct eventfd_ctx	*intx_trigger;
	struct eventfd_ctx	*unmask_eventfd;
	struct eventfd_ctx	*req_trigger;

	spinlock_t		irq_lock;	/* the interrupt state below */
	enum ka_irq_type	irq_type;
	bool			intx_pending;

	void			*model_state;
	struct ka_stats		stats;
};

static inline struct ka_ctx *vdev_to_ctx(struct vfio_device *vdev)
{
	return container_of(vdev, struct ka_ctx, vdev);
}

/* mdev.c */
extern struct mdev_driver ka_mdev_driver;

/* config.c */
void ka_config_init(struct ka_ctx *ctx);
ssize_t ka_config_rw(struct ka_ctx *ctx, char *buf, size_t count, loff_t pos,
		     bool write);
bool ka_config_memory_enabled(struct ka_ctx *ctx);
bool ka_config_io_enabled(struct ka_ctx *ctx);
void ka_config_msi_vector(struct ka_ctx *ctx, u64 *addr, u32 *data);
bool ka_config_bus_master(struct ka_ctx *ctx);

/* rdwr.c */
ssize_t ka_bar_rw(struct ka_ctx *ctx, int bar, char *buf, size_t count,
		  loff_t off, bool write);
int ka_bar_mmap_areas(struct ka_ctx *ctx, int bar,
		      struct vfio_region_sparse_mmap_area *areas, int max);
int ka_bar_mmap(struct ka_ctx *ctx, int bar, u64 off, struct vm_area_struct *vma);

/* dma.c */
int __ka_dma_map(struct ka_ctx *ctx, u64 iova, size_t len,
		 enum dma_data_direction dir, struct ka_xfer *x);
void ka_dma_unmap(struct ka_ctx *ctx, struct ka_xfer *x);
void ka_dma_move(struct ka_xfer *dst, struct ka_xfer *src);
void ka_dma_invalidate(struct ka_ctx *ctx, u64 iova, u64 len);
int ka_dma_ctx_init(struct ka_ctx *ctx);
void ka_dma_ctx_fini(struct ka_ctx *ctx);

/* intrs.c */
int ka_irq_ctx_init(struct ka_ctx *ctx);
void ka_irq_ctx_fini(struct ka_ctx *ctx);
int ka_set_irqs(struct ka_ctx *ctx, unsigned long arg);
void ka_irqs_disable(struct ka_ctx *ctx);
void ka_ctx_interrupt(struct ka_ctx *ctx);
void ka_ctx_intx_deassert(struct ka_ctx *ctx);
void ka_ctx_request(struct ka_ctx *ctx, unsigned int count);

/* dma.c: CPU access to guest memory through the context's domain */
int __ka_dma_rw(struct ka_ctx *ctx, u64 iova, void *buf, size_t len, bool write);

/* model_edu.c */
extern const struct ka_model ka_model_edu;

/* model_e1000.c */
extern const struct ka_model ka_model_e1000;
extern const struct attribute_group ka_e1000_ctx_group;

#endif /* _KVM_ASSIGN_PRIV_H */
