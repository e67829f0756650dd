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
# The (a) and (b) VMs are booted alternately BENCH_ROUNDS times (default 2)
# and each figure is the median over the rounds, with the spread of the
# interrupt round trip printed.  The client runs pinned to each vCPU in
# turn: "same CPU" rows are runs where the device's interrupt was handled
# on the client's CPU, "other CPU" rows where it had to wake it across
# vCPUs, which under TCG costs 70-100 us and swamps what is measured.

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
val() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# median of key $2 over the lines of $1
med() { echo "$1" | while read -r l; do [ -n "$l" ] && val "$l" "$2"; done |
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
spread() { echo "$1" | while read -r l; do [ -n "$l" ] && val "$l" irq_rt_us; done |
	sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi }'; }
# one synthetic line of medians, named $2, from the lines of $1
median_line() {
	[ -n "$1" ] || return 0
	echo "BENCH $2 irq_rt_us=$(med "$1" irq_rt_us) irq_rt_p90_us=$(med "$1" irq_rt_p90_us)" \
		"reg_rd_us=$(med "$1" reg_rd_us) reg_wr_us=$(med "$1" reg_wr_us)"
}
AS= BS=
for i in $(seq "${BENCH_ROUNDS:-2}"); do
	AS+=$(run soft helpers/bench_assign.sh)$'\n'
	BS+=$(run iommu helpers/bench_assign.sh --iommu)$'\n'
done
# "same": the client ran on the CPU that took the device's interrupts;
# "cross": on the other one (see selftests/helpers/bench_assign.sh).
A=$(median_line "$(echo "$AS" | grep 'kvm_assign-same ')" kvm_assign-same-cpu)
B=$(median_line "$(echo "$BS" | grep 'vfio-pci+intel-iommu-same ')" vfio-pci+intel-iommu-same-cpu)
AX=$(median_line "$(echo "$AS" | grep 'kvm_assign-cross ')" kvm_assign-cross-cpu)
BX=$(median_line "$(echo "$BS" | grep 'vfio-pci+intel-iommu-cross ')" vfio-pci+intel-iommu-cross-cpu)
L2=$(run l2 helpers/bench_assign_l2.sh)
LA=$(echo "$L2" | grep "l2-kvm_assign")
LC=$(echo "$L2" | grep "l2-emulated-edu")
[ -n "$A" ] && [ -n "$B" ] || { echo "bench-assign: a run failed; see $CACHE/bench-assign-*.out"; exit 1; }

echo "rounds: ${BENCH_ROUNDS:-2} boots of each VM; round trip spread over all runs (us):" \
	"kvm_assign $(spread "$(echo "$AS" | grep -- -same)") same CPU, $(spread "$(echo "$AS" | grep -- -cross)") cross;" \
	"vfio-pci $(spread "$(echo "$BS" | grep -- -same)") same, $(spread "$(echo "$BS" | grep -- -cross)") cross"
printf '%-32s %12s %12s %12s %12s\n' "path" "irq rt (us)" "irq p90" "reg rd (us)" "reg wr (us)"
for r in "$A" "$B" "$AX" "$BX" "$LA" "$LC"; do
	[ -n "$r" ] || continue
	printf '%-32s %12s %12s %12s %12s\n' "$(echo "$r" | awk '{print $2}')" \
		"$(val "$r" irq_rt_us)" "$(val "$r" irq_rt_p90_us)" \
		"$(val "$r" reg_rd_us)" "$(val "$r" reg_wr_us)"
done
awk -v a="$(val "$A" irq_rt_us)" -v b="$(val "$B" irq_rt_us)" \
    -v ra="$(val "$A" reg_rd_us)" -v rb="$(val "$B" reg_rd_us)" \
    -v wa="$(val "$A" reg_wr_us)" -v wb="$(val "$B" reg_wr_us)" 'BEGIN {
	printf "ratio kvm_assign / vfio-pci+intel-iommu, same CPU: interrupt round trip %.2fx (target <= 1.5x), register read %.2fx, register write %.2fx\n", a / b, ra / rb, wa / wb
}'
[ -n "$AX" ] && [ -n "$BX" ] && awk -v a="$(val "$AX" irq_rt_us)" -v b="$(val "$BX" irq_rt_us)" 'BEGIN {
	printf "ratio kvm_assign / vfio-pci+intel-iommu, client on the other CPU: interrupt round trip %.2fx (dominated by TCG cross-vCPU wake-up)\n", a / b
}'
if [ -n "$LA" ] && [ -n "$LC" ]; then
	awk -v a="$(val "$LA" irq_rt_us)" -v c="$(val "$LC" irq_rt_us)" \
	    -v ra="$(val "$LA" reg_rd_us)" -v rc="$(val "$LC" reg_rd_us)" 'BEGIN {
		printf "ratio seen from a second-level guest, kvm_assign / edu emulated by its QEMU: interrupt round trip %.2fx, register read %.2fx\n", a / c, ra / rc
	}'
else
	echo "bench-assign: the second-level guest runs gave no figures; see $CACHE/bench-assign-l2.out"
fi
