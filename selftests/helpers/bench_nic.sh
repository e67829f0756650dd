#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_nic.sh - make bench-nic inside the test VM (not a test).
#
# Runs assign_e1000_guest_test.sh with "bench" once per way the test VM's
# first e1000 can reach a second-level guest (the same guest, 1 vCPU,
# 256 MiB; the same peer, the second e1000 on the hub; 16 MiB each way
# over TCP, 200 UDP round trips, one every 10 ms):
#   kvm_assign  (a) a kvm_assign-e1000 context (when kvm_assign has an
#               e1000 model)
#   vfio        (b) vfio-pci behind the VM's IOMMU (only in a VM with one:
#               run-vm.sh --iommu)
#   emulated    (c) the anchor: an e1000 emulated by the guest's QEMU on a
#               tap bridged with the first e1000
#   vhost       (d) virtio-net with vhost-net on the same bridge (not in
#               the IOMMU VM: it adds nothing there)
# Passes the test's "BENCH nic <mode> ..." lines through and prints
# "BENCH-FAILED nic <mode>" for a mode whose test failed (its figures are
# not to be trusted), everything else as comments.  Then, in the VM without
# an IOMMU, the sharing section: bench_nic_share.sh (1, 2 and 4 guests at
# once on kvm_assign-e1000 contexts of the one NIC and on virtio-net +
# vhost-net over a bridge), its "BENCH nicshare ..." lines passed through.
# Exits 1 if a mode failed.  kvmio.bench_nic=share on the test VM's
# command line (bench-nic.sh --share-only) runs the sharing section alone.
HERE=$(cd "$(dirname "$0")" && pwd)
TEST=$HERE/../assign_e1000_guest_test.sh
if [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	MODES="vfio emulated"
else
	MODES="kvm_assign emulated vhost"
fi
grep -qw kvmio.bench_nic=share /proc/cmdline && MODES=
rc=0
for m in $MODES; do
	"$TEST" "$m" bench > /tmp/bench-nic-$m.out 2>&1
	r=$?
	grep -v "^BENCH " /tmp/bench-nic-$m.out | sed "s/^/# $m: /"
	case $r in
	0) grep "^BENCH " /tmp/bench-nic-$m.out ;;
	4) echo "# $m: skipped" ;;
	*) echo "BENCH-FAILED nic $m"; rc=1 ;;
	esac
done
if [ -z "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	"$HERE/bench_nic_share.sh" > /tmp/bench-nic-share.out 2>&1
	grep -v "^BENCH" /tmp/bench-nic-share.out
	grep "^BENCH" /tmp/bench-nic-share.out
fi
exit $rc
