#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_assign.sh - run edu_bench on the test VM's edu device, through
# kvm_assign when the VM has no IOMMU, through vfio-pci when it has one
# (make bench-assign boots one VM of each kind).  Prints a BENCH line.
HERE=$(cd "$(dirname "$0")" && pwd)
UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000be01
bdf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && bdf=$(basename $d)
done
[ -n "$bdf" ] || { echo "# no edu device"; exit 1; }
modprobe vfio_iommu_type1
if [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	modprobe vfio_pci
	echo vfio-pci > /sys/bus/pci/devices/$bdf/driver_override
	echo $bdf > /sys/bus/pci/drivers_probe
	"$HERE/edu_bench" --pci $bdf --label vfio-pci+intel-iommu
	rc=$?
	echo $bdf > /sys/bus/pci/drivers/vfio-pci/unbind
else
	kvmio bind $bdf >/dev/null && kvmio create $bdf $UUID >/dev/null || exit 1
	"$HERE/edu_bench" --mdev $UUID --label kvm_assign
	rc=$?
	kvmio remove $UUID >/dev/null
	kvmio unbind $bdf >/dev/null
fi
exit $rc
