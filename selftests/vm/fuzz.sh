#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh - a long fuzzing run in the test VM (make fuzz).
#
#   fuzz.sh [--series S | --kver V] [--time S] [--seed N] [--only a,b]
#           [--wild] [--threads N] [--arg X] [--out DIR]
#
# Boots the test VM (run-vm.sh) with only selftests/fuzz_test.sh, which
# then runs each fuzzer for --time seconds (default 180) with --seed
# (default: the clock; printed, replay with the same --seed).  --only picks
# fuzzers (iommu_irq, vhost, vring, vfio, e1000, bridge), --wild passes --wild to
# each (see Documentation/testing.rst, "Fuzzing").  The verdict is
# run-vm.sh's: a finding, a crash of a fuzzer or a kernel splat fails.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
SEL=()
TIME=180
SEED=$(date +%s)
ONLY=
WILD=
THREADS=
FARG=
OUT=

while [ $# -gt 0 ]; do
	case "$1" in
	--series|--kver) SEL+=("$1" "$2"); shift 2 ;;
	--time) TIME=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--wild) WILD=1; shift ;;
	--threads) THREADS=$2; shift 2 ;;
	--arg) FARG=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

APPEND="kvmio.fuzz_time=$TIME kvmio.fuzz_seed=$SEED"
[ -n "$ONLY" ] && APPEND="$APPEND kvmio.fuzz_only=$ONLY"
[ -n "$WILD" ] && APPEND="$APPEND kvmio.fuzz_wild=1"
[ -n "$THREADS" ] && APPEND="$APPEND kvmio.fuzz_threads=$THREADS"
[ -n "$FARG" ] && APPEND="$APPEND kvmio.fuzz_arg=$FARG"
n=6
[ -n "$ONLY" ] && n=$(echo "$ONLY" | tr ',' '\n' | wc -l)
[ -n "$OUT" ] || OUT=$TOP/.cache/runs/fuzz-$SEED

echo "fuzz: seed $SEED, $TIME s per fuzzer; run in $OUT" >&2
exec "$TOP/selftests/vm/run-vm.sh" "${SEL[@]}" --tests fuzz_test.sh \
	--append "$APPEND" --test-timeout $((n * (TIME + 150))) \
	--vm-timeout $((n * (TIME + 150) + 600)) --out "$OUT"
