#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - what "make demo" shows, run inside the test VM by /init.
#
# Loads the suite, shows what each module provides today, proves that the
# test VM runs KVM guests (a second-level guest on nested KVM), unloads the
# suite.  Each step also prints an ok/not ok line; verdict.sh judges them.

. /usr/share/kvmio/runner.sh

exec 1>/dev/ttyS1 2>&1
say() { echo; echo "== $*"; }

echo "TAP version 13"
say "kvmio demo on $(uname -r) ($(grep -c ^processor /proc/cpuinfo) cpus, TCG with SVM)"

say "1. Load the suite's modules"
for m in $SUITE_MODULES; do
	load_module "/lib/modules/$KVER/extra/$m.ko"
done
dmesg | grep -E "^\[[ 0-9.]+\] ($(echo $SUITE_MODULES | tr ' ' '|')):" | sed 's/^/   /'
kvmio status | sed 's/^/   /'

say "2. What each module is for (state: Documentation/index.rst)"
for m in $SUITE_MODULES; do
	printf '   %-11s %s\n' "$m" "$(modinfo -F description "/lib/modules/$KVER/extra/$m.ko")"
done

say "3. Assign this VM's edu device to a KVM guest through kvm_assign"
echo "   kvmio binds edu, creates a context (a VFIO mdev); a stock QEMU on"
echo "   nested KVM attaches it with -device vfio-pci,sysfsdev=...; the"
echo "   guest's own driver (kt_edu_guest) uses it with the DMA API, and"
echo "   aims one transfer outside its RAM, which the host refuses."
t0=$(date +%s)
/usr/share/kvmio/tests/assign_guest_test.sh > /tmp/assign.out 2>&1
rc=$?
grep -E "^(ok|not ok)|^# (DEVICE|0000|kvmio|context|  |KT-EDU|KVMIO-L2: init|second)" /tmp/assign.out | grep -v "^ok [0-9]* guest:" |
	sed 's/^# //; s/^/   /'
if [ $rc -eq 0 ]; then
	tap ok "edu assigned to a second-level guest; its DMA and interrupts mediated ($(($(date +%s) - t0)) s)"
else
	tap "not ok" "edu assigned to a second-level guest"
fi

say "4. Assign this VM's e1000 NIC to a KVM guest's stock e1000 driver"
echo "   kvmio binds the first e1000 and creates a context; the second-level"
echo "   guest's own e1000 driver probes it, gets link, pings the second e1000"
echo "   (this VM's own driver) and moves 4 MiB each way, checksummed.  The"
echo "   guest's rings never reach the NIC: the model shadows them, each buffer"
echo "   translated through the context's iommu_soft domain."
t0=$(date +%s)
/usr/share/kvmio/tests/assign_e1000_guest_test.sh > /tmp/e1000.out 2>&1
rc=$?
grep -E "^(ok|not ok)|^# (kvmio e1000:|KVMIO-L2-NIC: (interface|carrier|ping|sha256|rtt))" /tmp/e1000.out |
	sed 's/^# //; s/^/   /'
if [ $rc -eq 0 ]; then
	tap ok "e1000 assigned to a second-level guest's stock driver through shadow rings ($(($(date +%s) - t0)) s)"
else
	tap "not ok" "e1000 assigned to a second-level guest's stock driver"
fi

say "5. Serve a guest's disk from the kernel: vhost_blk behind kvmio blk-serve"
echo "   A stock QEMU (vhost-user-blk, 4 queues) boots a guest whose virtio_blk"
echo "   disk is a brd device served by /dev/vhost-blk; the guest makes ext4,"
echo "   writes files and runs fstrim; the host checks fsck and checksums;"
echo "   a second boot reads the files back."
t0=$(date +%s)
/usr/share/kvmio/tests/vhost_blk_guest_test.sh > /tmp/blk.out 2>&1
rc=$?
grep -E "^(ok|not ok)|^# (KVMIO-L2: (vda|fstrim|blk)|KVMIO-L2-CHECK|serve: kvmio blk-serve: (serving|QEMU)|/dev/ram0)" /tmp/blk.out |
	sed 's/^# //; s/^/   /'
if [ $rc -eq 0 ]; then
	tap ok "a guest's ext4 disk served by vhost_blk survived fsck and a reboot ($(($(date +%s) - t0)) s)"
else
	tap "not ok" "a guest's disk served by vhost_blk"
fi

say "6. Unload the suite"
for m in $(echo $SUITE_MODULES | tr ' ' '\n' | sed '1!G;h;$!d'); do
	unload_module "$m"
done
LOGPOS=0
if klog_check; then
	tap ok "kernel log clean"
else
	tap "not ok" "kernel log clean"
fi
echo "1..$N"
echo "kvmio-runner: done failed=$FAILED"
