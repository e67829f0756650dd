#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-nic.sh - what a NIC costs a second-level guest, by the way it gets
# there (make bench-nic; not a test).
#
#   bench-nic.sh [run-vm.sh options...]
#
# Boots the test VM twice on the same kernel and runs
# selftests/helpers/bench_nic.sh there: one second-level guest whose NIC
# moves 16 MiB each way over TCP to the peer (the test VM's second e1000 on
# the same QEMU hub) and times 200 UDP round trips to it, once per path:
#   (a) kvm_assign  the test VM's first e1000 through a kvm_assign-e1000
#                   context (when kvm_assign has the model)
#   (b) vfio-pci    the same NIC through vfio-pci behind QEMU's intel-iommu
#                   (interrupt remapping on, intel_iommu=on): the second
#                   boot, run-vm.sh --iommu
#   (c) emulated    an e1000 emulated by the guest's QEMU on a tap bridged
#                   with the first e1000: the anchor
#   (d) vhost       virtio-net with vhost-net on the same bridge
# Prints throughput each way and the round trip's median and 99th
# percentile, with ratios against (c) measured in the same run (the first
# boot's).  BENCH_ROUNDS=N boots each VM N times (default 1) and gives each
# figure as the median over the boots.  Absolute figures under nested TCG
# mean little; the ratios are the figures.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
ARGS=("$@")

"$VM/build.sh" "${ARGS[@]}" >/dev/null || exit 1
run() { # label, run-vm args...
	local label=$1
	shift
	"$VM/run-vm.sh" "${ARGS[@]}" --no-build --tests helpers/bench_nic.sh --test-timeout 1800 \
		--out "$CACHE/runs/bench-nic-$label" "$@" > "$CACHE/bench-nic-$label.out" 2>&1
	grep -o "BENCH\(-FAILED\)\? nic .*" "$CACHE/runs/bench-nic-$label/results.log" | tr -d '\r' |
		sed "s/^\(BENCH\(-FAILED\)\{0,1\} nic emulated\)\( \|\$\)/\1-$label\3/"
}
: > "$CACHE/bench-nic-rounds.txt"
for _ in $(seq "${BENCH_ROUNDS:-1}"); do
	run plain >> "$CACHE/bench-nic-rounds.txt"
	run iommu --iommu >> "$CACHE/bench-nic-rounds.txt"
done
grep "^BENCH-FAILED" "$CACHE/bench-nic-rounds.txt" | sort | uniq -c | while read -r c _ _ m; do
	echo "bench-nic: mode $m failed its checks in $c boot(s), figures left out; see $CACHE/runs/bench-nic-*/results.log"
done
grep "^BENCH nic " "$CACHE/bench-nic-rounds.txt" | awk -v rounds="${BENCH_ROUNDS:-1}" '
	# median (the lower middle one for an even count) of v[m, key, 1..n]
	function med(m, key,    k, a, b, t, x) {
		k = n[m]
		for (a = 1; a <= k; a++) x[a] = v[m, key, a]
		for (a = 1; a <= k; a++)
			for (b = a + 1; b <= k; b++)
				if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		return x[int((k + 1) / 2)]
	}
	function ratio(x, y) { return (x > 0 && y > 0) ? sprintf("%.2fx", x / y) : "-" }
	{
		m = $3; n[m]++
		for (i = 4; i <= NF; i++) { split($i, kv, "="); v[m, kv[1], n[m]] = kv[2] + 0 }
	}
	END {
		split("kvm_assign vfio emulated-plain vhost emulated-iommu", order, " ")
		name["kvm_assign"] = "(a) kvm_assign-e1000"
		name["vfio"] = "(b) vfio-pci+intel-iommu"
		name["emulated-plain"] = "(c) emulated e1000 (anchor)"
		name["vhost"] = "(d) virtio-net+vhost-net"
		name["emulated-iommu"] = "    emulated e1000, iommu VM"
		c = "emulated-plain"
		cu = (c in n) ? med(c, "up_bytes_per_s") : 0
		cd = (c in n) ? med(c, "down_bytes_per_s") : 0
		cr = (c in n) ? med(c, "rtt_median_us") : 0
		if (rounds > 1) printf "medians over %d boots of each VM\n", rounds
		printf "%-30s %9s %9s %9s %9s %8s %8s %8s\n", "second-level guest NIC", "up MB/s", "down MB/s",
			"rtt med", "rtt p99", "up/(c)", "down/(c)", "(c)/rtt"
		for (j = 1; j <= 5; j++) {
			m = order[j]
			if (!(m in n)) {
				if (m == "kvm_assign" || m == "vfio" || m == "vhost")
					printf "%-30s %9s\n", name[m], "(no figures)"
				continue
			}
			u = med(m, "up_bytes_per_s"); d = med(m, "down_bytes_per_s")
			r = med(m, "rtt_median_us"); p = med(m, "rtt_p99_us")
			printf "%-30s %9.2f %9.2f %9d %9d %8s %8s %8s\n", name[m], u / 1e6, d / 1e6, r, p,
				ratio(u, cu), ratio(d, cd), ratio(cr, r)
		}
		print "up: guest -> peer, down: peer -> guest (TCP, 16 MiB); rtt: UDP round trip in us;"
		print "ratios above 1x are better than (c): throughput / (c), and (c)s round trip / this one"
	}'
