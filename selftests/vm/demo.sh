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

say "2. What each module provides today"
for m in $SUITE_MODULES; do
	printf '   %-11s %s\n' "$m" "$(modinfo -F description "/lib/modules/$KVER/extra/$m.ko")"
done
echo "   (Skeletons: each loads, reports its version and unloads cleanly."
echo "    Capabilities arrive issue by issue; see Documentation/.)"

say "3. The test VM runs KVM guests: boot a second-level guest"
t0=$(date +%s)
/usr/share/kvmio/tests/nested_test.sh > /tmp/nested.out 2>&1
rc=$?
sed 's/^/   /' /tmp/nested.out
if [ $rc -eq 0 ]; then
	tap ok "second-level guest booted on nested KVM in $(($(date +%s) - t0)) s"
else
	tap "not ok" "second-level guest booted on nested KVM"
fi

say "4. Unload the suite"
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
