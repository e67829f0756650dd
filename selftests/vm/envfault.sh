#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# envfault.sh CONSOLE - is the death of a test VM (its console log) one of
# the known faults of the environment rather than of the suite?  Prints
# what it found (lines for the log) and exits 0 if so, 1 if not.
# check.sh and check-debug.sh repeat such a VM run once; a second fault
# fails the check.  Known:
#
# 1. Multi-threaded TCG's cross-modifying-code race: an "Oops: int3" in
#    kernel text being patched (see check.sh).
# 2. Nested SVM under TCG taking an interrupt inside the guest-mode window
#    of KVM's svm_vcpu_enter_exit(), where the second-level guest's GS base
#    is still loaded: the handler faults on its per-CPU data, and the
#    page-fault handler faults on itself until "stack guard page was hit".
#    On hardware the global interrupt flag is clear there; no kvmio code
#    runs in that window.  Seen on 2026-12-07 in vhost_blk_migrate_test.sh
#    (6.1 test VM, two second-level QEMUs running).
set -u
c=$1
[ -s "$c" ] || exit 1
if grep -q "Oops: int3" "$c"; then
	echo "the VM died on an int3 oops in patched kernel text (TCG cross-modifying-code race, see selftests/vm/check.sh)"
	grep -m1 -A4 "Oops: int3" "$c" | sed 's/^/  /'
	exit 0
fi
if grep -q "stack guard page was hit" "$c" &&
   sed -n '/stack guard page was hit/,/end trace/p' "$c" | grep -q "svm_vcpu_enter_exit"; then
	echo "the VM died on an interrupt taken inside svm_vcpu_enter_exit() with a second-level guest's GS base (nested SVM under TCG, see selftests/vm/envfault.sh)"
	grep -m1 -A2 "stack guard page was hit" "$c" | sed 's/^/  /'
	sed -n '/stack guard page was hit/,/end trace/p' "$c" | grep -m3 -E "sysvec|svm_vcpu" | sed 's/^/  /'
	exit 0
fi
exit 1
