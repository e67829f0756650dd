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
	printf("kvm_hold: holding VM\n");
	fflush(stdout);
	for (;;)
		pause();
}
