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
# boot's).
# Then, from the first boot, the sharing section
# (selftests/helpers/bench_nic_share.sh): 1, 2 and 4 second-level guests
# sending TCP to the peer at once, (e) each on its own kvm_assign-e1000
# context of the one NIC, (f) each on virtio-net + vhost-net over a bridge
# with the NIC; aggregate and per-guest MB/s over one common window, the
# aggregate against (e) with one guest (the anchor: one guest owning the
# NIC), Jain's fairness index over the per-guest figures, and the NIC's
# context switches per second; then the switch cost from VFIO with no
# guest (helpers/e1k_ctxbench.c: two contexts sending in turn against one
# alone).
# BENCH_ROUNDS=N boots each VM N times (default 1) and gives each figure
# as the median over the boots.  --share-only (first argument) boots only
# the first VM and runs only the sharing section (the one-guest table then
# says "no figures").  SHARE_COUNTS=1,2 (default 1,2,4) the guest counts.  Absolute figures under nested TCG mean
# little; the ratios are the figures.

set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
SHARE_ONLY=0
if [ "${1:-}" = --share-only ]; then
	SHARE_ONLY=1
	shift
fi
ARGS=("$@")
SHARE_APPEND=
[ -n "${SHARE_COUNTS:-}" ] && SHARE_APPEND="kvmio.share_counts=$SHARE_COUNTS"
[ $SHARE_ONLY = 1 ] && SHARE_APPEND="$SHARE_APPEND kvmio.bench_nic=share"

"$VM/build.sh" "${ARGS[@]}" >/dev/null || exit 1
run() { # label, run-vm args...
	local label=$1
	shift
	"$VM/run-vm.sh" "${ARGS[@]}" --no-build --tests helpers/bench_nic.sh --test-timeout 2400 --vm-timeout 2700 \
		${SHARE_APPEND:+--append "$SHARE_APPEND"} \
		--out "$CACHE/runs/bench-nic-$label" "$@" > "$CACHE/bench-nic-$label.out" 2>&1
	grep -o "BENCH\(-FAILED\)\? nic .*" "$CACHE/runs/bench-nic-$label/results.log" | tr -d '\r' |
		sed "s/^\(BENCH\(-FAILED\)\{0,1\} nic emulated\)\( \|\$\)/\1-$label\3/"
	grep -o "BENCH\(-FAILED\)\? nic\(share\|ctx\) .*" "$CACHE/runs/bench-nic-$label/results.log" |
		tr -d '\r' >> "$CACHE/bench-nic-share-rounds.txt"
	grep -o "# share: .*\(holds only\|be created\|skipped\|failed\).*" "$CACHE/runs/bench-nic-$label/results.log" |
		tr -d '\r' >> "$CACHE/bench-nic-share-notes.txt"
}
: > "$CACHE/bench-nic-rounds.txt"
: > "$CACHE/bench-nic-share-rounds.txt"
: > "$CACHE/bench-nic-share-notes.txt"
for _ in $(seq "${BENCH_ROUNDS:-1}"); do
	run plain >> "$CACHE/bench-nic-rounds.txt"
	[ $SHARE_ONLY = 1 ] || run iommu --iommu >> "$CACHE/bench-nic-rounds.txt"
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

# The sharing section.
echo
sort -u "$CACHE/bench-nic-share-notes.txt" | sed 's/^# share: /bench-nic: /'
grep "^BENCH-FAILED nicshare" "$CACHE/bench-nic-share-rounds.txt" | sort | uniq -c | while read -r c _ _ m g; do
	echo "bench-nic: sharing, $m $g failed in $c boot(s) (no guest got going); see $CACHE/runs/bench-nic-plain/results.log"
done
grep "^BENCH nic\(share\|ctx\) " "$CACHE/bench-nic-share-rounds.txt" | awk -v rounds="${BENCH_ROUNDS:-1}" '
	function med(key,    k, a, b, t, x) {
		k = cnt[key]
		for (a = 1; a <= k; a++) x[a] = v[key, a]
		for (a = 1; a <= k; a++)
			for (b = a + 1; b <= k; b++)
				if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		return x[int((k + 1) / 2)]
	}
	function put(key, val) { cnt[key]++; v[key, cnt[key]] = val + 0 }
	function ratio(x, y) { return (x > 0 && y > 0) ? sprintf("%.2fx", x / y) : "-" }
	$2 == "nicshare" {
		m = $3
		for (i = 4; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "guests") g = kv[2]
		}
		seen[m, g] = 1
		for (i = 4; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "per_guest") {
				np = split(kv[2], pg, ",")
				npg[m, g] = np
				for (j = 1; j <= np; j++) put(m SUBSEP g SUBSEP "g" j, pg[j])
			} else
				put(m SUBSEP g SUBSEP kv[1], kv[2])
		}
	}
	$2 == "nicctx" {
		for (i = 4; i <= NF; i++) { split($i, kv, "="); put("ctx" SUBSEP $3 SUBSEP kv[1], kv[2]) }
	}
	END {
		a1 = (("kvm_assign", 1) in seen) ? med("kvm_assign" SUBSEP 1 SUBSEP "agg_bytes_per_s") : 0
		print "sharing one NIC: N second-level guests (1 vCPU each) sending TCP to the peer at once"
		if (rounds > 1) printf "medians over %d boots\n", rounds
		printf "%-28s %6s %9s %8s %8s %6s %10s  %s\n", "path", "guests", "agg MB/s", "/anchor",
			"/same x1", "Jain", "switches/s", "per-guest MB/s"
		split("kvm_assign vhost", modes, " ")
		name["kvm_assign"] = "(e) kvm_assign-e1000 ctxs"
		name["vhost"] = "(f) virtio-net+vhost, bridge"
		for (mi = 1; mi <= 2; mi++) {
			m = modes[mi]
			s1 = ((m, 1) in seen) ? med(m SUBSEP 1 SUBSEP "agg_bytes_per_s") : 0
			for (g = 1; g <= 8; g++) {
				if (!((m, g) in seen)) {
					if (g == 1 || g == 2 || g == 4)
						printf "%-28s %6d %9s\n", name[m], g, "(no figures)"
					continue
				}
				k = m SUBSEP g SUBSEP
				agg = med(k "agg_bytes_per_s")
				win = med(k "window_us") / 1e6
				sum = 0; sq = 0; per = ""
				for (j = 1; j <= npg[m, g]; j++) {
					x = med(k "g" j)
					sum += x; sq += x * x
					per = per (j > 1 ? " " : "") sprintf("%.2f", x / 1e6)
				}
				jain = sq > 0 ? sprintf("%.3f", sum * sum / (npg[m, g] * sq)) : "-"
				sw = (m == "kvm_assign" && win > 0) ? sprintf("%.0f", med(k "ctx_switches") / win) : "-"
				anc = (m == "kvm_assign" && g == 1) ? "anchor" : ratio(agg, a1)
				printf "%-28s %6s %9.2f %8s %8s %6s %10s  %s\n", name[m],
					g (med(k "connected") < g ? "*" : ""), agg / 1e6, anc,
					ratio(agg, s1), jain, sw, per
				if (m == "kvm_assign" && win > 0 && med(k "tx_packets") > 0)
					kaextra[g] = sprintf("%.0f packets/s through the contexts, %.3f switches per packet, scheduler wait %.0f us/packet, held back %d times",
						med(k "tx_packets") / win, med(k "ctx_switches") / med(k "tx_packets"),
						med(k "sched_wait_us") / med(k "tx_packets"), med(k "tx_throttled"))
			}
		}
		for (g = 1; g <= 8; g++)
			if (g in kaextra) printf "  (e) x%d: %s\n", g, kaextra[g]
		print "agg: the sum over the guests of what the peer took in one common window; /anchor: agg against (e) with"
		print "one guest (one guest owning the NIC; issue target for (e) >= 0.90x); /same x1: against the same path"
		print "with one guest; Jain: (sum x)^2 / (n sum x^2) over the per-guest figures, 1 = equal shares;"
		print "switches/s: the NIC'"'"'s ctx_switches over the window; * fewer guests got going than asked"
		if (cnt["ctx" SUBSEP "single" SUBSEP "frames_per_s"] > 0 && cnt["ctx" SUBSEP "pair" SUBSEP "frames_per_s"] > 0) {
			rs = med("ctx" SUBSEP "single" SUBSEP "frames_per_s")
			rp = med("ctx" SUBSEP "pair" SUBSEP "frames_per_s")
			f = med("ctx" SUBSEP "pair" SUBSEP "frames")
			d = med("ctx" SUBSEP "pair" SUBSEP "ctx_switches")
			ds = med("ctx" SUBSEP "single" SUBSEP "ctx_switches")
			printf "\ncontext switch cost from VFIO, no guest (1514-byte frames from host memory, %d frames a round, median of %d rounds):\n",
				f, cnt["ctx" SUBSEP "pair" SUBSEP "frames_per_s"]
			printf "  one context alone     %9.0f frames/s  %7d switches\n", rs, ds
			printf "  two contexts in turn  %9.0f frames/s  %7d switches (%.2f per frame)  %s of alone\n", rp, d, (f > 0 ? d / f : 0), ratio(rp, rs)
			if (d > 0)
				printf "  cost per switch: %+.2f us ((1/pair - 1/alone) x frames / switches; within noise when near 0)\n",
					(1 / rp - 1 / rs) * 1e6 * f / d
			else
				print "  cost per switch: not measurable, the NIC counted no switches"
		} else if (cnt["ctx" SUBSEP "single" SUBSEP "frames_per_s"] > 0) {
			printf "\ncontext switch cost from VFIO, no guest: one context alone %.0f frames/s (1514 bytes, median of %d rounds);\n",
				med("ctx" SUBSEP "single" SUBSEP "frames_per_s"), cnt["ctx" SUBSEP "single" SUBSEP "frames_per_s"]
			print "  two contexts in turn: no figures (the NIC gave only one context), so no cost per switch"
		} else
			print "\ncontext switch cost from VFIO: no figures (see the run'"'"'s results.log)"
	}'
