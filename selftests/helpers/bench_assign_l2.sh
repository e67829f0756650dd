#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_assign_l2.sh - edu seen from a second-level guest's driver
# (kt_edu_guest bench=N): (a) the test VM's edu assigned through kvm_assign,
# (c) an edu emulated by the second-level guest's own QEMU.  Prints two
# BENCH lines in edu_bench's format (times in microseconds).
L2=/usr/share/kvmio/l2
UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000be02
bdf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && bdf=$(basename $d)
done
[ -n "$bdf" ] || { echo "# no edu device"; exit 1; }
modprobe kvm_amd && modprobe vfio_iommu_type1 || exit 1
cat $L2/initrd $L2/suite.cpio > /tmp/l2-bench.cpio

l2() { # label, extra device option
	timeout -s KILL 300 qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 128 \
		-machine q35 -nodefaults -no-reboot -display none -serial stdio \
		-L /usr/share/seabios -L /usr/share/qemu \
		-kernel $L2/vmlinuz -initrd /tmp/l2-bench.cpio \
		-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=edu-bench" \
		-device "$2" > /tmp/l2-bench-$1.log 2>&1
	grep -o "KT-EDU-GUEST: bench .*" /tmp/l2-bench-$1.log | tr -d '\r' |
		awk -v l="$1" '{
			for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "BENCH %s irq_rt_us=%.1f irq_rt_p90_us=%.1f reg_rd_us=%.2f reg_wr_us=- rounds=%s\n",
				l, v["irq_rt_ns"] / 1000, v["irq_rt_p90_ns"] / 1000, v["reg_rd_ns"] / 1000, v["rounds"]
		}'
}

kvmio bind $bdf >/dev/null && kvmio create $bdf $UUID >/dev/null || exit 1
l2 l2-kvm_assign "vfio-pci,sysfsdev=/sys/bus/mdev/devices/$UUID"
kvmio remove $UUID >/dev/null
kvmio unbind $bdf >/dev/null
l2 l2-emulated-edu edu
# kvm stays loaded (see Documentation/testing.rst, second-level guests)
exit 0
