#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-blk.sh - make bench-blk (not a test).
#
# Boots the test VM and runs selftests/helpers/bench_blk.sh: one
# second-level guest doing 4 KiB random reads and writes at QD 1 and 32
# through QEMU's virtio-blk (iothread, aio=native), qemu-storage-daemon's
# vhost-user-blk export, and vhost_blk behind kvmio blk-serve, all on the
# same brd device, plus the native rate of that device.  Prints one table
# of IOPS with ratios.  Absolute numbers under nested TCG mean little.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/runs/bench-blk
"$TOP/selftests/vm/run-vm.sh" "$@" --tests helpers/bench_blk.sh --out "$OUT" \
	> "$CACHE/bench-blk.out" 2>&1
grep -o "BENCH .*" "$OUT/results.log" | tr -d '\r' > "$CACHE/bench-blk.txt"
if [ ! -s "$CACHE/bench-blk.txt" ]; then
	echo "bench-blk: no figures; see $CACHE/bench-blk.out"
	exit 1
fi
awk '
	{ path = $2; key = $3 " " $4; sub("iops=", "", $5); v[path, key] = $5; keys[key] = 1 }
	END {
		printf "%-16s %10s %10s %10s %10s %10s %10s\n", "workload", "native", "qemu", "qsd", "vhost", "vhost/qemu", "vhost/qsd"
		n = split("read qd=1,read qd=32,write qd=1,write qd=32", order, ",")
		for (i = 1; i <= n; i++) {
			k = order[i]
			q = v["qemu", k]; s = v["qsd", k]; h = v["vhost", k]
			printf "%-16s %10s %10s %10s %10s %10s %10s\n", k, v["native", k], q, s, h,
				(q > 0 ? sprintf("%.2fx", h / q) : "-"), (s > 0 ? sprintf("%.2fx", h / s) : "-")
		}
	}' "$CACHE/bench-blk.txt"
