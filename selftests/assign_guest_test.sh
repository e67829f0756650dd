#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# assign_guest_test.sh - full stack: a stock QEMU on nested KVM boots a
# second-level Linux guest with the test VM's edu device assigned through
# kvm_assign (-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/<uuid>).
#
# Inside that guest, kt_edu_guest (a test-only driver built for the same
# kernel) drives the device with the standard DMA API and prints one
# KT-EDU-GUEST line per check; this script turns them into TAP, then checks
# on the host, through the kvmio tool, that the guest's deliberately bad DMA
# address was refused and counted.

UUID=5b2c1f6e-7a41-4e0b-9d1c-000000000ed1
L2=/usr/share/kvmio/l2
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }

echo "TAP version 13"
bdf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ]; then
		bdf=$(basename $d)
	fi
done
if [ -z "$bdf" ] || ! grep -qw svm /proc/cpuinfo; then
	echo "1..0 # SKIP needs an edu device and SVM"
	exit 4
fi

cleanup() {
	[ -e /sys/bus/mdev/devices/$UUID ] && kvmio remove $UUID
	[ -e /sys/bus/pci/drivers/kvm_assign/$bdf ] && kvmio unbind $bdf
	# kvm stays loaded: unloading it patches kernel text (static keys),
	# the moment multi-threaded TCG is most likely to fault (see testing.rst)
}
trap cleanup EXIT

modprobe kvm_amd && modprobe vfio_iommu_type1
check "kvm_amd and vfio_iommu_type1 loaded" "[ -c /dev/kvm ] && [ -c /dev/vfio/vfio ]"
kvmio devices | sed 's/^/# /'
# A device kvm_assign has no model for, and no driver holds (a bridge).
other=$(kvmio devices | awk '$3 == "-" && $4 == "none" {print $1; exit}')
if [ -n "$other" ]; then
	kvmio bind $other > /tmp/bind.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/bind.out
	check "kvmio refuses a device without a model ($other)" \
		"[ $rc -ne 0 ] && grep -q 'no device model' /tmp/bind.out"
	[ $rc -eq 0 ] && kvmio unbind $other > /dev/null 2>&1
fi
check "kvmio create refuses a device not bound to kvm_assign" \
	"kvmio create $bdf 2>&1 >/dev/null | grep -q 'not bound to kvm_assign (run: kvmio bind'"
check "kvmio bind $bdf" "kvmio bind $bdf"
check "kvmio create a context" "kvmio create $bdf $UUID | grep -q sysfsdev=/sys/bus/mdev/devices/$UUID"
check "context created for $bdf" "[ -e /sys/bus/mdev/devices/$UUID ]"
check "kvmio create refuses a second context on the device, saying why" \
	"kvmio create $bdf 2>&1 >/dev/null | grep -q 'no free context on this device'"

cat $L2/initrd $L2/suite.cpio > /tmp/l2-edu.cpio
start=$(date +%s)
timeout -s KILL 400 qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 128 \
	-machine q35 -nodefaults -no-reboot -display none -serial stdio \
	-L /usr/share/seabios -L /usr/share/qemu \
	-kernel $L2/vmlinuz -initrd /tmp/l2-edu.cpio \
	-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=edu" \
	-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/$UUID \
	> /tmp/l2-edu.log 2>&1
rc=$?
echo "# second-level guest ran $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2|KT-EDU-GUEST|qemu-system" /tmp/l2-edu.log | sed 's/^/# /'
check "QEMU attached the context and the guest powered off" "[ $rc -eq 0 ]"

grep -o "KT-EDU-GUEST: .*" /tmp/l2-edu.log | tr -d '\r' > /tmp/l2-edu.res
check "guest driver ran to the end" "grep -q '^KT-EDU-GUEST: done' /tmp/l2-edu.res"
while read -r tag verdict rest; do
	case "$verdict" in
	ok) ok "guest: $rest" ;;
	not) notok "guest: ${rest#ok }" ;;
	esac
done < /tmp/l2-edu.res

kvmio contexts > /tmp/ctx.out 2>&1
sed 's/^/# /' /tmp/ctx.out
refused=$(awk '$1 == "dma_refused" {print $2}' /tmp/ctx.out)
started=$(awk '$1 == "dma_started" {print $2}' /tmp/ctx.out)
check "host: the guest's bad DMA address was refused and counted (kvmio)" "[ \"${refused:-0}\" -ge 1 ]"
check "host: the guest's good transfers ran on the device" "[ \"${started:-0}\" -ge 3 ]"
notpresent=$(awk '$1 == "faults_not_present" {print $2}' /tmp/ctx.out)
check "host: the refused DMA is a not-present fault in the context's iommu_soft domain" \
	"[ \"${notpresent:-0}\" -ge 1 ]"
kvmio context $UUID > /tmp/ctx1.out 2>&1
sed 's/^/# /' /tmp/ctx1.out
check "host: kvmio context shows the refused DMA in the domain's fault log, named after $bdf" \
	"grep -A20 'domain fault log' /tmp/ctx1.out | grep -q ' not-present .* $bdf\$'"
check "host: kvmio context shows the context's interrupt entry" \
	"grep -A1 '^  interrupt entry' /tmp/ctx1.out | grep -q ' svt 1 sid '"
check "kvmio context refuses an unknown UUID" \
	"! kvmio context 00000000-0000-0000-0000-000000000000 2>/dev/null"
check "kvmio refuses a malformed UUID (no path games)" \
	"kvmio context ../../../../sys/kernel/iommu_soft/x-0000-0000-000000 2>&1 | grep -q 'is not a UUID' && ! kvmio remove 5b2c1f6e-7a41-4e0b-9d1c-00000000/d01 2>/dev/null"
check "kvmio remove the context" "kvmio remove $UUID"
check "kvmio unbind gives the device back" "kvmio unbind $bdf && [ ! -e /sys/bus/pci/drivers/kvm_assign/$bdf ]"
echo "1..$n"
exit $fail
