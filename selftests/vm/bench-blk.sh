#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-blk.sh - make bench-blk (not a test).
#
#   bench-blk.sh [--driver-only] [run-vm.sh options...]
#
# Boots the test VM once and runs two halves there:
#
# driver (selftests/helpers/bench_blk_driver.sh, first): no guest; the
# userspace driver vblk_bench pushes 4 KiB random reads and writes at QD 1
# and 32 through vhost_blk and through its own io_uring userspace device
# doing the same ring work, and fio runs natively, on a brd device and on a
# file in /tmp.
#
# guest (selftests/helpers/bench_blk.sh; skipped with --driver-only): one
# second-level guest doing 4 KiB random reads and writes at QD 1 and 32
# through QEMU's virtio-blk (iothread, aio=native), qemu-storage-daemon's
# vhost-user-blk export, and vhost_blk behind kvmio blk-serve, all on the
# same brd device, plus the native rate of that device.
#
# Prints one table of IOPS with ratios per half.  Absolute numbers under
# TCG (and nested TCG for the guest half) mean little.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/runs/bench-blk
mkdir -p "$CACHE"
TESTS=helpers/bench_blk_driver.sh,helpers/bench_blk.sh
if [ "${1:-}" = --driver-only ]; then
	TESTS=helpers/bench_blk_driver.sh
	shift
fi
"$TOP/selftests/vm/run-vm.sh" "$@" --tests "$TESTS" --out "$OUT" \
	> "$CACHE/bench-blk.out" 2>&1
grep -o "BENCH .*" "$OUT/results.log" | tr -d '\r' > "$CACHE/bench-blk.txt"
if [ ! -s "$CACHE/bench-blk.txt" ]; then
	echo "bench-blk: no figures; see $CACHE/bench-blk.out"
	exit 1
fi
grep -o "BENCH-VERIFY .*" "$OUT/results.log" | tr -d '\r'
if grep -q "^BENCH [a-z-]* read" "$CACHE/bench-blk.txt"; then
	grep "^BENCH [a-z-]* read\|^BENCH [a-z-]* write" "$CACHE/bench-blk.txt" | awk '
	{ path = $2; key = $3 " " $4; sub("iops=", "", $5); v[path, key] = $5; keys[key] = 1 }
	END {
		print "guest (second-level guest, brd backend), IOPS:"
		printf "%-14s %9s %8s %8s %8s %10s %10s %9s %10s\n", "workload", "native", "qemu", "qsd", "vhost", "vhost-poll", "vhost/qemu", "vhost/qsd", "poll/qemu"
		n = split("read qd=1,read qd=32,write qd=1,write qd=32", order, ",")
		for (i = 1; i <= n; i++) {
			k = order[i]
			q = v["qemu", k]; s = v["qsd", k]; h = v["vhost", k]; p = v["vhost-poll", k]
			printf "%-14s %9s %8s %8s %8s %10s %10s %9s %10s\n", k, v["native", k], q, s, h, (p != "" ? p : "-"),
				(q > 0 ? sprintf("%.2fx", h / q) : "-"), (s > 0 ? sprintf("%.2fx", h / s) : "-"),
				(q > 0 && p > 0 ? sprintf("%.2fx", p / q) : "-")
		}
	}'
	echo
fi
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
grep -q "^ok .*bench_blk_driver" "$OUT/results.log" ||
	{ echo "bench-blk: the driver half failed; see $OUT/results.log"; exit 1; }
