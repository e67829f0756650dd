#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_assign.sh - run edu_bench on the test VM's edu device, through
# kvm_assign when the VM has no IOMMU, through vfio-pci when it has one
# (make bench-assign boots one VM of each kind).
#
# Under TCG, waking a thread on the other vCPU costs some 70-100 us, an
# order of magnitude more than the path measured, and where the device's
# interrupt lands depends on the boot and the path (kvm_assign's and
# vfio-pci's often on different CPUs).  So edu_bench runs pinned to each
# CPU in turn and each run is labelled by whether the device's interrupts
# were handled on the client's own CPU ("-same") or another ("-cross").
HERE=$(cd "$(dirname "$0")" && pwd)
UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000be01
bdf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && bdf=$(basename $d)
done
[ -n "$bdf" ] || { echo "# no edu device"; exit 1; }
modprobe vfio_iommu_type1

# pinned CPU LABEL IRQ-NAME edu_bench-device-options...
pinned() {
	cpu=$1 label=$2 irq=$3
	shift 3
	taskset $((1 << cpu)) "$HERE/edu_bench" "$@" --label tmp --irq-name "$irq" \
		> /tmp/edu_bench.out || return 1
	where=cross
	grep -q " cpu=\([0-9]*\) irq_cpu=\1\$" /tmp/edu_bench.out && where=same
	sed "s/^BENCH tmp /BENCH $label-$where /" /tmp/edu_bench.out
}
if [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	modprobe vfio_pci
	echo vfio-pci > /sys/bus/pci/devices/$bdf/driver_override
	echo $bdf > /sys/bus/pci/drivers_probe
	pinned 0 vfio-pci+intel-iommu vfio-msi --pci $bdf &&
		pinned 1 vfio-pci+intel-iommu vfio-msi --pci $bdf
	rc=$?
	echo $bdf > /sys/bus/pci/drivers/vfio-pci/unbind
else
	kvmio bind $bdf >/dev/null && kvmio create $bdf $UUID >/dev/null || exit 1
	pinned 0 kvm_assign kvm_assign --mdev $UUID &&
		pinned 1 kvm_assign kvm_assign --mdev $UUID
	rc=$?
	kvmio remove $UUID >/dev/null
	kvmio unbind $bdf >/dev/null
fi
exit $rc
