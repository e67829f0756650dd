#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# pkg_test.sh - the modules DKMS built from the kvmio-dkms package load, and
# the packaged tool sees them.
#
# selftests/vm/pkg-test.sh (on the host, before the VM; make check runs it)
# builds the .debs and runs dkms on kvmio-dkms against this kernel's
# headers; "run-vm.sh --pkg" puts the four modules it built and the
# packaged kvmio (dynamically linked, Debian's build flags) into
# /usr/share/kvmio/pkg.  Without them every test here skips.
#
# The runner's modules are unloaded, the DKMS-built ones loaded, "kvmio
# status" and "kvmio devices" asked, then the runner's modules come back
# (later tests and the runner's own unload use them).  Loads and unloads
# happen with the other vCPUs offline, as the runner loads modules
# (selftests/vm/runner.sh says why).

PKG=/usr/share/kvmio/pkg
KVER=$(uname -r)
MODULES="iommu_soft irq_remap vhost_blk kvm_assign"
REVERSED="kvm_assign vhost_blk irq_remap iommu_soft"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }

echo "TAP version 13"
if [ ! -d $PKG ]; then
	echo "1..0 # SKIP no packaged build in this VM (run-vm.sh --pkg after selftests/vm/pkg-test.sh)"
	exit 4
fi
echo "1..6"
echo "# packaged build: $(cat $PKG/key 2>/dev/null)"

cpus() { # 0: all vCPUs but the first offline; 1: online again
	for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
		[ -e "$c" ] && echo "$1" > "$c"
	done
}

cpus 0
r=0
for m in $REVERSED; do
	[ -e /sys/module/$m ] && { rmmod $m || r=1; }
done
[ $r -eq 0 ] && ok "the runner's modules unload" || notok "the runner's modules unload"

r=0
for m in $MODULES; do
	if ! insmod $PKG/$m.ko 2>/tmp/pkg-insmod.err; then
		echo "# insmod $PKG/$m.ko: $(cat /tmp/pkg-insmod.err)"
		r=1
	fi
done
cpus 1
[ $r -eq 0 ] && ok "the DKMS-built modules load" || notok "the DKMS-built modules load"

version=$($PKG/kvmio version | awk '{print $2}')
$PKG/kvmio status > /tmp/pkg-status 2>&1
rc=$?
sed 's/^/# /' /tmp/pkg-status
r=$rc
for m in $MODULES; do
	grep -Eq "^$m +loaded +$version " /tmp/pkg-status || r=1
done
[ $r -eq 0 ] && ok "packaged 'kvmio status' sees the four modules loaded, version $version" ||
	notok "packaged 'kvmio status' sees the four modules loaded, version $version (exit $rc)"

# kvm_assign of the package finds the VM's edu device and its model.
$PKG/kvmio devices > /tmp/pkg-devices 2>&1
rc=$?
sed 's/^/# /' /tmp/pkg-devices
[ $rc -eq 0 ] && grep -q edu /tmp/pkg-devices &&
	ok "packaged 'kvmio devices' lists the edu device" ||
	notok "packaged 'kvmio devices' lists the edu device (exit $rc)"

cpus 0
r=0
for m in $REVERSED; do
	rmmod $m 2>/tmp/pkg-rmmod.err || { echo "# rmmod $m: $(cat /tmp/pkg-rmmod.err)"; r=1; }
done
[ $r -eq 0 ] && ok "the DKMS-built modules unload" || notok "the DKMS-built modules unload"
r=0
for m in $MODULES; do
	insmod /lib/modules/$KVER/extra/$m.ko || r=1
done
cpus 1
[ $r -eq 0 ] && ok "the runner's modules are back" || notok "the runner's modules are back"
exit $fail
