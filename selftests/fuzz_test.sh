#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fuzz_test.sh - a short, bounded pass of every fuzzer in fuzz/ (see
# Documentation/testing.rst, "Fuzzing"): one TAP case per fuzzer, its own
# output as "# " diagnostics, its findings as "# FINDING" lines.
#
# The kernel command line tunes it (selftests/vm/fuzz.sh sets these for
# long runs; a normal test run leaves them out):
#   kvmio.fuzz_time=S    seconds per fuzzer (default 15)
#   kvmio.fuzz_seed=N    the seed (default: the clock, printed)
#   kvmio.fuzz_only=a,b  only these fuzzers (names without "fuzz_")
#   kvmio.fuzz_wild=1    pass --wild (each fuzzer says what it loosens)
#   kvmio.fuzz_threads=N threads per fuzzer (default: each fuzzer's own)
#   kvmio.fuzz_arg=X     pass --arg X (to every fuzzer run; see each one)

DIR=$(dirname "$0")/fuzz
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^kvmio\.$1=//p" | tail -n 1; }

TIME=$(arg fuzz_time)
SEED=$(arg fuzz_seed)
ONLY=$(arg fuzz_only | tr ',' ' ')
WILD=$(arg fuzz_wild)
THREADS=$(arg fuzz_threads)
FARG=$(arg fuzz_arg)
[ -n "$TIME" ] || TIME=15
[ -n "$SEED" ] || SEED=$(date +%s)

FUZZERS="iommu_irq vhost vring vfio e1000 bridge"
[ -n "$ONLY" ] && FUZZERS=$ONLY

set -- $FUZZERS
echo "TAP version 13"
echo "1..$#"
echo "# fuzz: seed $SEED, $TIME s per fuzzer"

n=0
fail=0
for f in $FUZZERS; do
	n=$((n + 1))
	prog=$DIR/fuzz_$f
	if [ ! -x "$prog" ]; then
		echo "not ok $n fuzz_$f # no such fuzzer"
		fail=1
		continue
	fi
	opts="--seed $SEED --time $TIME"
	[ "$WILD" = 1 ] && opts="$opts --wild"
	[ -n "$THREADS" ] && opts="$opts --threads $THREADS"
	[ -n "$FARG" ] && opts="$opts --arg $FARG"
	# The fuzzer's own watchdog ends a stall; this bounds the rest.
	timeout -s KILL $((TIME + 120)) "$prog" $opts > /tmp/fuzz.out 2>&1
	rc=$?
	# What a fuzzer that died may have left: its kvm_assign context.
	for u in /sys/bus/mdev/devices/5b2c1f6e-7a41-4e0b-9d1c-0000000f0220 \
		 /sys/bus/mdev/devices/5b2c1f6e-7a41-4e0b-9d1c-0000000e1000; do
		[ -e "$u/remove" ] && echo 1 > "$u/remove"
	done
	# Its TAP becomes diagnostics; its result line becomes our case.
	grep -v '^TAP version\|^1\.\.\|^ok \|^not ok ' /tmp/fuzz.out | sed 's/^\([^#]\)/# \1/'
	res=$(grep -E '^(not )?ok 1 ' /tmp/fuzz.out | tail -n 1 | sed 's/^\(not \)\{0,1\}ok 1 - //')
	case "$rc" in
	0) echo "ok $n $res" ;;
	4) echo "ok $n fuzz_$f # SKIP $(echo "$res" | sed 's/.*# SKIP //')" ;;
	*) [ -n "$res" ] || res="fuzz_$f seed=$SEED (exit status $rc: crashed or killed)"
	   echo "not ok $n $res"
	   echo "# replay: $prog $opts"
	   fail=1 ;;
	esac
done
exit $fail
