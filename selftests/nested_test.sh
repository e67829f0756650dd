#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# nested_test.sh - a second-level guest boots inside the test VM.
#
# Loads kvm + kvm_amd (the test VM's -cpu max exposes SVM), then starts the
# stock qemu-system-x86_64 copied into the initramfs with -enable-kvm on the
# same Debian kernel and a tiny initramfs whose init reports back on the
# serial console and powers off.  Later full-stack tests start their guests
# the same way (see Documentation/testing.rst).

# A second-level guest's wall-time limit: far longer on the debug kernel
# (KASAN and lockdep in the first level slow nested KVM several times).
case $(uname -r) in
*kvmio-debug*) L2_LIMIT=1200 ;;
*) L2_LIMIT=300 ;;
esac

L2=/usr/share/kvmio/l2
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

echo "TAP version 13"
echo "1..3"

if ! grep -qw svm /proc/cpuinfo; then
	skip "kvm_amd loads" "the CPU has no SVM"
	skip "second-level guest reaches init" "no SVM"
	skip "second-level guest powers off" "no SVM"
	exit 4
fi

if modprobe kvm_amd 2>/tmp/modprobe.err && [ -c /dev/kvm ]; then
	ok "kvm_amd loads and /dev/kvm exists"
else
	echo "# $(cat /tmp/modprobe.err)"
	notok "kvm_amd loads and /dev/kvm exists"
fi

start=$(date +%s)
timeout -s KILL $L2_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256 \
	-machine q35 -nodefaults -no-reboot -display none -serial stdio \
	-L /usr/share/seabios -L /usr/share/qemu \
	-kernel $L2/vmlinuz -initrd $L2/initrd \
	-append "console=ttyS0 panic=-1 quiet kvmio.l2=smoke" \
	> /tmp/l2.log 2>&1
rc=$?
end=$(date +%s)
echo "# second-level guest ran $((end - start)) s, qemu exit $rc"
grep '^KVMIO-L2:' /tmp/l2.log | sed 's/^/# /'

if grep -q '^KVMIO-L2: init reached' /tmp/l2.log &&
   grep -q 'kvmio.l2=smoke' /tmp/l2.log; then
	ok "second-level guest reaches init and reports back"
else
	tail -n 20 /tmp/l2.log | sed 's/^/# l2: /'
	notok "second-level guest reaches init and reports back"
fi
if [ $rc -eq 0 ]; then
	ok "second-level guest powers off cleanly"
else
	notok "second-level guest powers off cleanly (qemu exit $rc)"
fi
# kvm stays loaded (see Documentation/testing.rst, second-level guests)
exit $fail
