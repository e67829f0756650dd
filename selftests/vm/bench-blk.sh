#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-blk.sh - make bench-blk (not a test).
#
#   bench-blk.sh [--driver-only | --guest-only] [run-vm.sh options...]
#
# Boots the test VM once and runs two halves there:
#
# driver (selftests/helpers/bench_blk_driver.sh, first): no guest; the
# userspace driver vblk_bench pushes 4 KiB random reads and writes at QD 1
# and 32 through vhost_blk and through its own io_uring userspace device
# doing the same ring work, and fio runs natively, on a brd device and on a
# file in /tmp.
#
# guest (selftests/helpers/bench_blk.sh; skipped with --driver-only, alone
# with --guest-only): one
# second-level guest doing 4 KiB random reads and writes at QD 1 and 32
# through QEMU's virtio-blk (iothread, aio=native), qemu-storage-daemon's
# vhost-user-blk export, and vhost_blk behind kvmio blk-serve, all on the
# same brd device, plus the native rate of that device; each path once with
# all its processes pinned to one vCPU ("1cpu") and once free ("2cpu").
#
# BENCH_ROUNDS=N boots the test VM N times (default 1) and gives each
# figure as the median over the boots: under nested TCG one path's figure
# moves by 2x or more from one boot to the next.
#
# Prints one table of IOPS with ratios per half.  Absolute numbers under
# TCG (and nested TCG for the guest half) mean little.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/runs/bench-blk
mkdir -p "$CACHE"
TESTS=helpers/bench_blk_driver.sh,helpers/bench_blk.sh
case "${1:-}" in
--driver-only) TESTS=helpers/bench_blk_driver.sh; shift ;;
--guest-only) TESTS=helpers/bench_blk.sh; shift ;;
esac
ROUNDS=${BENCH_ROUNDS:-1}
: > "$CACHE/bench-blk-rounds.txt"
for r in $(seq "$ROUNDS"); do
	"$TOP/selftests/vm/run-vm.sh" "$@" --tests "$TESTS" --out "$OUT" \
		> "$CACHE/bench-blk.out" 2>&1
	grep -o "BENCH .*" "$OUT/results.log" | tr -d '\r' >> "$CACHE/bench-blk-rounds.txt"
	grep -o "BENCH-VERIFY .*" "$OUT/results.log" | tr -d '\r'
	grep -q "^ok .*helpers/bench_blk" "$OUT/results.log" &&
		! grep -q "^not ok .*helpers/bench_blk" "$OUT/results.log" ||
		{ echo "bench-blk: round $r failed; see $OUT/results.log"; exit 1; }
done
# Each figure: the median over the rounds (the lower middle one for an
# even count), each line "BENCH <fields...> iops=<median>".
grep "^BENCH " "$CACHE/bench-blk-rounds.txt" | awk '
	{ k = $1; for (i = 2; i < NF; i++) k = k " " $i
	  sub("iops=", "", $NF); n[k]++; v[k, n[k]] = $NF + 0
	  if (n[k] == 1) order[++nk] = k }
	END {
		for (j = 1; j <= nk; j++) {
			k = order[j]; m = n[k]
			for (a = 1; a <= m; a++)
				for (b = a + 1; b <= m; b++)
					if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
			print k " iops=" v[k, int((m + 1) / 2)]
		}
	}' > "$CACHE/bench-blk.txt"
if [ ! -s "$CACHE/bench-blk.txt" ]; then
	echo "bench-blk: no figures; see $CACHE/bench-blk.out"
	exit 1
fi
[ "$ROUNDS" -gt 1 ] && echo "medians over $ROUNDS boots of the test VM (every figure: $CACHE/bench-blk-rounds.txt)"
if grep -q "^BENCH [a-z/0-9-]* read" "$CACHE/bench-blk.txt"; then
	grep "^BENCH [a-z/0-9-]* read\|^BENCH [a-z/0-9-]* write" "$CACHE/bench-blk.txt" | awk '
	{ np = split($2, pp, "/"); path = pp[1]; place = (np > 1 ? pp[2] : "")
	  key = $3 " " $4; sub("iops=", "", $5); v[path, place, key] = $5; keys[key] = 1 }
	END {
		print "guest (second-level guest, brd backend), IOPS:"
		printf "%-14s %-6s %9s %8s %8s %8s %10s %10s %9s %10s\n", "workload", "cpus", "native", "qemu", "qsd", "vhost", "vhost-poll", "vhost/qemu", "vhost/qsd", "poll/qemu"
		n = split("read qd=1,read qd=32,write qd=1,write qd=32", order, ",")
		np = split("1cpu,2cpu", places, ",")
		for (j = 1; j <= np; j++) {
			c = places[j]
			for (i = 1; i <= n; i++) {
				k = order[i]
				q = v["qemu", c, k]; s = v["qsd", c, k]; h = v["vhost", c, k]; p = v["vhost-poll", c, k]
				printf "%-14s %-6s %9s %8s %8s %8s %10s %10s %9s %10s\n", k, c, v["native", "", k], q, s, h, (p != "" ? p : "-"),
					(q > 0 ? sprintf("%.2fx", h / q) : "-"), (s > 0 ? sprintf("%.2fx", h / s) : "-"),
					(q > 0 && p > 0 ? sprintf("%.2fx", p / q) : "-")
			}
		}
	}'
	echo
fi
case "$TESTS" in *driver*) ;; *) exit 0 ;; esac
grep "^BENCH driver " "$CACHE/bench-blk.txt" | awk '
	{ t = $3; b = $4; key = $5 " " $6; sub("iops=", "", $7); v[t, b, key] = $7
	  if (!(b in seen)) { seen[b] = 1; backends[++nb] = b } }
	END {
		print "driver (userspace driver, no guest), IOPS:"
		printf "%-14s %-14s %10s %10s %10s %10s %12s %12s %12s\n", "workload", "backend", "native", "uring", "vhost", "vhost-poll", "vhost/uring", "vhost/native", "poll/uring"
		n = split("read qd=1,read qd=32,write qd=1,write qd=32", order, ",")
		for (j = 1; j <= nb; j++) {
			b = backends[j]
			for (i = 1; i <= n; i++) {
				k = order[i]
				x = v["native", b, k]; u = v["uring", b, k]; h = v["vhost", b, k]; p = v["vhost-poll", b, k]
				printf "%-14s %-14s %10s %10s %10s %10s %12s %12s %12s\n", k, b, x, u, h, (p != "" ? p : "-"),
					(u > 0 ? sprintf("%.2fx", h / u) : "-"), (x > 0 ? sprintf("%.2fx", h / x) : "-"),
					(u > 0 && p > 0 ? sprintf("%.2fx", p / u) : "-")
			}
		}
	}'
