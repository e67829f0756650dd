#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-assign.sh - what kvm_assign's mediation costs (make bench-assign).
#
# Not a test.  Boots the test VM twice on the same kernel and runs the same
# VFIO client (selftests/helpers/edu_bench) against the VM's edu device:
#   (a) soft-assigned: an mdev of kvm_assign, no IOMMU in the VM;
#   (b) the hardware-IOMMU anchor: vfio-pci behind QEMU's intel-iommu
#       (interrupt remapping on, intel_iommu=on).
# Prints the interrupt round trip (raise -> eventfd -> acknowledge) and the
# register access times, and the ratios (a)/(b).  Then, seen from a
# second-level guest's driver (kt_edu_guest bench=N): the edu assigned
# through kvm_assign against (c) an edu emulated by that guest's own QEMU.
# Absolute times under TCG mean little; the ratios are the figures.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
ARGS=("$@")

"$VM/build.sh" "${ARGS[@]}" >/dev/null || exit 1
run() { # label, program, run-vm args...
	local label=$1 prog=$2
	shift 2
	"$VM/run-vm.sh" "${ARGS[@]}" --no-build --tests "$prog" \
		--out "$CACHE/runs/bench-assign-$label" "$@" > "$CACHE/bench-assign-$label.out" 2>&1
	grep -o "BENCH .*" "$CACHE/bench-assign-$label.out" | tr -d '\r'
}
A=$(run soft helpers/bench_assign.sh)
B=$(run iommu helpers/bench_assign.sh --iommu)
L2=$(run l2 helpers/bench_assign_l2.sh)
LA=$(echo "$L2" | grep "l2-kvm_assign")
LC=$(echo "$L2" | grep "l2-emulated-edu")
[ -n "$A" ] && [ -n "$B" ] || { echo "bench-assign: a run failed; see $CACHE/bench-assign-*.out"; exit 1; }

val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
printf '%-28s %12s %12s %12s %12s\n' "path" "irq rt (us)" "irq p90" "reg rd (us)" "reg wr (us)"
for r in "$A" "$B" "$LA" "$LC"; do
	[ -n "$r" ] || continue
	printf '%-28s %12s %12s %12s %12s\n' "$(echo "$r" | awk '{print $2}')" \
		"$(val "$r" irq_rt_us)" "$(val "$r" irq_rt_p90_us)" \
		"$(val "$r" reg_rd_us)" "$(val "$r" reg_wr_us)"
done
awk -v a="$(val "$A" irq_rt_us)" -v b="$(val "$B" irq_rt_us)" \
    -v ra="$(val "$A" reg_rd_us)" -v rb="$(val "$B" reg_rd_us)" \
    -v wa="$(val "$A" reg_wr_us)" -v wb="$(val "$B" reg_wr_us)" 'BEGIN {
	printf "ratio kvm_assign / vfio-pci+intel-iommu: interrupt round trip %.2fx (target <= 1.5x), register read %.2fx, register write %.2fx\n", a / b, ra / rb, wa / wb
}'
if [ -n "$LA" ] && [ -n "$LC" ]; then
	awk -v a="$(val "$LA" irq_rt_us)" -v c="$(val "$LC" irq_rt_us)" \
	    -v ra="$(val "$LA" reg_rd_us)" -v rc="$(val "$LC" reg_rd_us)" 'BEGIN {
		printf "ratio seen from a second-level guest, kvm_assign / edu emulated by its QEMU: interrupt round trip %.2fx, register read %.2fx\n", a / c, ra / rc
	}'
else
	echo "bench-assign: the second-level guest runs gave no figures; see $CACHE/bench-assign-l2.out"
fi
