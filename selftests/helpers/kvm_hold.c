// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_hold - keep one (empty) KVM VM alive until killed.
 *
 * Why: the test VM runs under TCG.  When KVM creates its first VM or
 * destroys its last one, the kernel flips the preempt-notifier static key
 * and live-patches __schedule() with text_poke_bp() (int3, sync, patch,
 * sync).  Under multi-threaded TCG another vCPU can still run a stale
 * translation holding the temporary int3, and the test VM dies with
 * "Oops: int3 ... __schedule ... Fatal exception in interrupt": an
 * emulator race, not a bug of the code under test.  Holding one VM from
 * boot makes the key flip once, before any test runs, instead of at the
 * start and exit of every second-level guest.
 *
 * The VM also holds one vCPU with an in-kernel local APIC that never runs:
 * its APIC stays software-disabled, so KVM's apic_sw_disabled static key
 * (tested inline in kvm_arch_vcpu_ioctl_run()) stays on.  Otherwise every
 * new second-level vCPU turns it on and every guest that enables its APIC
 * turns it off again, patching the code another guest's vCPU thread is
 * running: the same race, seen as "Oops: int3 ... RIP
 * kvm_arch_vcpu_ioctl_run" while vhost_blk_migrate_test.sh started a
 * migration's target QEMU beside the running source.
 *
 * Usage: kvm_hold   (prints "kvm_hold: holding VM" once ready; exits 1
 * with a message if /dev/kvm cannot create a VM)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

int main(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm_hold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	/* an in-kernel irqchip first, so that the vCPU gets a local APIC */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		fprintf(stderr, "kvm_hold: KVM_CREATE_IRQCHIP: %s (no vCPU held)\n",
			strerror(errno));
	else if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		fprintf(stderr, "kvm_hold: KVM_CREATE_VCPU: %s (no vCPU held)\n",
			strerror(errno));
	else
		printf("kvm_hold: holding a vCPU whose APIC stays disabled\n");
	printf("kvm_hold: holding VM\n");
	fflush(stdout);
	for (;;)
		pause();
}
