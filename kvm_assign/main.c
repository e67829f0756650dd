// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_assign: assignment of ordinary PCI devices to KVM guests as VFIO
 * mediated devices.
 *
 * This file: module init/exit and the PCI driver.  The driver has no ID
 * table: it claims a device only when asked, through driver_override, as
 * vfio-pci is used:
 *
 *   echo kvm_assign > /sys/bus/pci/devices/<bdf>/driver_override
 *   echo <bdf> > /sys/bus/pci/drivers_probe
 *
 * and accepts only device types it has a model for.  A claimed device
 * becomes an mdev parent offering the type "kvm_assign-<model>"; each mdev
 * created from it is an assignment context (mdev.c).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/interrupt.h>

#include "kvmio/version.h"
#include "kvm_assign_priv.h"

static const struct ka_model *const ka_models[] = {
	&ka_model_edu,
	&ka_model_e1000,
};

static const struct ka_model *ka_find_model(struct pci_dev *pdev)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ka_models); i++)
		if (ka_models[i]->vendor == pdev->vendor &&
		    ka_models[i]->device == pdev->device)
			return ka_models[i];
	return NULL;
}

static irqreturn_t ka_irq(int irq, void *data)
{
	struct ka_dev *kd = data;

	return kd->model->irq(kd);
}

static void ka_unmap_bars(struct ka_dev *kd)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (kd->bar[i])
			pci_iounmap(kd->pdev, kd->bar[i]);
}

static int ka_map_bars(struct ka_dev *kd)
{
	struct pci_dev *pdev = kd->pdev;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!(kd->model->bar_mask & BIT(i)))
			continue;
		if (!(pci_resource_flags(pdev, i) & IORESOURCE_MEM)) {
			pci_err(pdev, "BAR%d is not a memory BAR\n", i);
			goto err;
		}
		kd->bar_len[i] = pci_resource_len(pdev, i);
		kd->bar[i] = pci_iomap(pdev, i, 0);
		if (!kd->bar[i]) {
			pci_err(pdev, "cannot map BAR%d\n", i);
			goto err;
		}
	}
	return 0;
err:
	ka_unmap_bars(kd);
	return -ENODEV;
}

/*
 * Give the device back as it came: reset it where it can be reset (the
 * driver core holds its lock during remove), then restore the config
 * space saved at probe time.
 */
static void ka_restore(struct ka_dev *kd)
{
	struct pci_dev *pdev = kd->pdev;
	bool restored = false;
	int reset;

	reset = __pci_reset_function_locked(pdev);
	if (kd->saved_state &&
	    !pci_load_and_free_saved_state(pdev, &kd->saved_state)) {
		pci_restore_state(pdev);
		restored = true;
	}
	pci_info(pdev, "released (%s, config space %s)\n",
		 reset ? "no reset method" : "reset",
		 restored ? "restored" : "not restored");
}

static int ka_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	const struct ka_model *model = ka_find_model(pdev);
	struct ka_dev *kd;
	int ret;

	if (!model) {
		pci_info(pdev, "no device model for %04x:%04x; see /sys/bus/pci/drivers/kvm_assign/models\n",
			 pdev->vendor, pdev->device);
		return -ENODEV;
	}

	kd = kzalloc(sizeof(*kd), GFP_KERNEL);
	if (!kd)
		return -ENOMEM;
	kd->pdev = pdev;
	kd->model = model;
	spin_lock_init(&kd->lock);
	pci_set_drvdata(pdev, kd);

	/* The configuration the device came with, restored when it leaves. */
	pci_save_state(pdev);
	kd->saved_state = pci_store_saved_state(pdev);
	if (!kd->saved_state)
		pci_warn(pdev, "cannot store its config space; it will not be restored on release\n");

	ret = pci_enable_device_mem(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(model->dma_bits));
	if (ret) {
		pci_err(pdev, "cannot use a %u-bit DMA mask\n", model->dma_bits);
		goto err_regions;
	}
	ret = ka_map_bars(kd);
	if (ret)
		goto err_regions;
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		goto err_bars;
	kd->irq = pci_irq_vector(pdev, 0);

	ret = model->probe(kd);
	if (ret)
		goto err_vectors;

	/* One entry per context the device offers. */
	kd->irq_table = irq_remap_table_create(pci_dev_id(pdev),
					       model->max_contexts ?
					       model->max_contexts() : 1);
	if (IS_ERR(kd->irq_table)) {
		ret = PTR_ERR(kd->irq_table);
		goto err_model;
	}

	ret = request_irq(kd->irq, ka_irq, pdev->msi_enabled ? 0 : IRQF_SHARED,
			  KBUILD_MODNAME, kd);
	if (ret)
		goto err_table;

	snprintf(kd->type_name, sizeof(kd->type_name), "%s", model->name);
	kd->type.sysfs_name = kd->type_name;
	kd->type.pretty_name = model->name;
	kd->types[0] = &kd->type;
	ret = mdev_register_parent(&kd->parent, &pdev->dev, &ka_mdev_driver,
				   kd->types, ARRAY_SIZE(kd->types));
	if (ret)
		goto err_irq;
	/*
	 * A model that shares the device offers more than the driver-wide
	 * default; the mdev core counts them down from here, under its lock.
	 */
	if (model->max_contexts)
		atomic_set(&kd->parent.available_instances, model->max_contexts());

	pci_info(pdev, "claimed with the %s model (%s interrupts); contexts: mdev type %s-%s\n",
		 model->name, pdev->msi_enabled ? "MSI" : "INTx",
		 dev_driver_string(&pdev->dev), kd->type_name);
	return 0;

err_irq:
	free_irq(kd->irq, kd);
err_table:
	irq_remap_table_destroy(kd->irq_table);
err_model:
	model->remove(kd);
err_vectors:
	pci_free_irq_vectors(pdev);
err_bars:
	pci_clear_master(pdev);
	ka_unmap_bars(kd);
err_regions:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	kfree(kd->saved_state);
	pci_set_drvdata(pdev, NULL);
	kfree(kd);
	return ret;
}

static void ka_remove(struct pci_dev *pdev)
{
	struct ka_dev *kd = pci_get_drvdata(pdev);

	/* Removes every context, waiting for their VFIO users to close them. */
	mdev_unregister_parent(&kd->parent);
	free_irq(kd->irq, kd);
	irq_remap_table_destroy(kd->irq_table);
	kd->model->remove(kd);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	ka_unmap_bars(kd);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	ka_restore(kd);
	pci_set_drvdata(pdev, NULL);
	kfree(kd);
}

/* /sys/bus/pci/drivers/kvm_assign/models: "<name> <vendor>:<device>" lines */
static ssize_t models_show(struct device_driver *drv, char *buf)
{
	ssize_t n = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ka_models); i++)
		n += sysfs_emit_at(buf, n, "%s %04x:%04x\n", ka_models[i]->name,
				   ka_models[i]->vendor, ka_models[i]->device);
	return n;
}
static DRIVER_ATTR_RO(models);

static struct attribute *ka_drv_attrs[] = {
	&driver_attr_models.attr,
	NULL,
};
ATTRIBUTE_GROUPS(ka_drv);

static struct pci_driver ka_pci_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= NULL,		/* never claims a device by default */
	.probe		= ka_probe,
	.remove		= ka_remove,
	.groups		= ka_drv_groups,
};

static int __init ka_init(void)
{
	int ret;

	ret = mdev_register_driver(&ka_mdev_driver);
	if (ret)
		return ret;
	ret = pci_register_driver(&ka_pci_driver);
	if (ret)
		goto err_mdev;
	pr_info("version %s loaded\n", KVMIO_VERSION);
	return 0;

err_mdev:
	mdev_unregister_driver(&ka_mdev_driver);
	return ret;
}

static void __exit ka_exit(void)
{
	pci_unregister_driver(&ka_pci_driver);
	mdev_unregister_driver(&ka_mdev_driver);
	pr_info("unloaded\n");
}

module_init(ka_init);
module_exit(ka_exit);

MODULE_DESCRIPTION("assignment of ordinary PCI devices to KVM guests as VFIO mediated devices");
MODULE_VERSION(KVMIO_VERSION);
MODULE_LICENSE("GPL");
