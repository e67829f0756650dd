#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-vm.sh - boot the test VM and judge what it reports.
#
#   run-vm.sh [--series S | --kver V | --debug] [--mode check|demo|shell|hang]
#             [--tests a,b] [--extra m1,m2] [--test-timeout S]
#             [--vm-timeout S] [--out DIR] [--no-build] [--strict]
#             [--mem MiB] [--smp N] [--device SPEC]... [--iommu]
#             [--append ARGS] [--pkg]
#
# Builds (build.sh), makes the initramfs, boots the Debian kernel under
# qemu-system-x86_64 -accel tcg -cpu max (SVM for nested KVM) with the
# devices tests use: an edu device and two e1000s on one hub by default.
# --iommu adds QEMU's intel-iommu (interrupt remapping on) before them and
# boots with intel_iommu=on: the hardware-IOMMU anchor for benchmarks.
# In check mode the guest writes TAP to its second serial port; this script
# streams it, then prints the verdict (verdict.sh) and exits with it.
# The kernel console is kept in OUT/console.log.
# A test may ask this script for what only the VM's host can do, by
# writing a line to the VM's third serial port (/dev/ttyS2): "set_link
# hp0|hp1 on|off" (the wire of the first or second e1000 goes down or up,
# a link flap) is carried out on QEMU's monitor; nothing else is.  Requests
# are in OUT/host-requests, the monitor's answers in OUT/monitor.log.
# --pkg adds what selftests/vm/pkg-test.sh left in .cache/pkg/<kver>/ (the
# modules DKMS built from kvmio-dkms, the packaged tool) for
# selftests/pkg_test.sh.
# --debug boots the debug kernel instead (selftests/vm/debug-kernel.sh
# builds it once: KASAN, lockdep, UBSAN, kmemleak, fault injection), with
# the suite built against its tree; second-level guests keep the newest
# Debian 6.12.  Its default timeouts are longer: it runs several times
# slower under TCG.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
BUILD_ARGS=()
MODE=check
TESTS=
EXTRA=
TEST_TIMEOUT=600
VM_TIMEOUT=1800
OUT=
BUILD=1
MEM=3072
SMP=2
DEVICES=()
IOMMU=()
EXTRA_APPEND=
DEBUG=0
TIMEOUTS_SET=
PKG=0

while [ $# -gt 0 ]; do
	case "$1" in
	--series|--kver) BUILD_ARGS+=("$1" "$2"); shift 2 ;;
	--debug) DEBUG=1; shift ;;
	--strict) BUILD_ARGS+=("$1"); shift ;;
	--mode) MODE=$2; shift 2 ;;
	--tests) TESTS=$2; shift 2 ;;
	--extra) EXTRA=$2; shift 2 ;;
	--test-timeout) TEST_TIMEOUT=$2; TIMEOUTS_SET="$TIMEOUTS_SET t"; shift 2 ;;
	--vm-timeout) VM_TIMEOUT=$2; TIMEOUTS_SET="$TIMEOUTS_SET v"; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--mem) MEM=$2; shift 2 ;;
	--smp) SMP=$2; shift 2 ;;
	--device) DEVICES+=(-device "$2"); shift 2 ;;
	--iommu) IOMMU=(-device intel-iommu,intremap=on)
		 EXTRA_APPEND="$EXTRA_APPEND intel_iommu=on"; shift ;;
	--append) EXTRA_APPEND="$EXTRA_APPEND $2"; shift 2 ;;
	--pkg) PKG=1; shift ;;
	*) echo "run-vm.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

die() { echo "run-vm: error: $*" >&2; exit 1; }

SEL_ARGS=()
for a in "${BUILD_ARGS[@]}"; do
	[ "$a" = --strict ] || SEL_ARGS+=("$a")
done
KVER=$("$VM/deps.sh" "${SEL_ARGS[@]}") || die "set-up failed"
L2KVER=$KVER
if [ $DEBUG -eq 1 ]; then
	# The Debian kernel resolved above stays the second-level guests'.
	KDIR=$("$VM/debug-kernel.sh") || die "no debug kernel"
	KVER=$(cat "$KDIR/include/config/kernel.release")
	case " ${BUILD_ARGS[*]} " in
	*" --strict "*) BUILD_ARGS=(--kdir "$KDIR" --strict) ;;
	*) BUILD_ARGS=(--kdir "$KDIR") ;;
	esac
	case "$TIMEOUTS_SET" in *t*) ;; *) TEST_TIMEOUT=1800 ;; esac
	case "$TIMEOUTS_SET" in *v*) ;; *) VM_TIMEOUT=7200 ;; esac
	# KASAN reports every bad access, not only the first one.
	EXTRA_APPEND="$EXTRA_APPEND kasan_multi_shot"
fi
if [ $BUILD -eq 1 ]; then
	B=$("$VM/build.sh" "${BUILD_ARGS[@]}") || die "build failed"
else
	B=${KVMIO_BUILD_DIR:-$CACHE/build/$KVER}
fi
L2B=$B
if [ $DEBUG -eq 1 ]; then
	# The guest-side test module must match the second-level guests'
	# Debian kernel.
	if [ $BUILD -eq 1 ]; then
		L2B=$("$VM/build.sh" "${SEL_ARGS[@]}") || die "build for $L2KVER failed"
	else
		L2B=$CACHE/build/$L2KVER
	fi
fi
KIMG=$CACHE/kernels/$KVER/root/boot/vmlinuz-$KVER
[ -e "$KIMG" ] || die "no kernel image $KIMG"

[ -n "$OUT" ] || OUT=$CACHE/runs/$KVER-$MODE
rm -rf "$OUT"
mkdir -p "$OUT"

if [ $PKG -eq 1 ]; then
	[ -s "$CACHE/pkg/$KVER/key" ] ||
		die "no packaged build for $KVER in $CACHE/pkg (run selftests/vm/pkg-test.sh)"
	export KVMIO_PKG_DIR=$CACHE/pkg/$KVER
fi
echo "run-vm: initramfs for $KVER" >&2
"$VM/mkinitramfs.sh" "$KVER" "$B" "$OUT/initramfs.cpio" "$L2KVER" "$L2B"

# maxcpus=1 kvmio.online: boot on one vCPU, bring the others up once the
# kernel text is patched (selftests/vm/runner.sh says why).
APPEND="console=ttyS0,115200 loglevel=5 panic=-1 oops=panic maxcpus=1 kvmio.online"
APPEND="$APPEND kvmio.mode=$MODE kvmio.timeout=$TEST_TIMEOUT"
[ -n "$TESTS" ] && APPEND="$APPEND kvmio.tests=$TESTS"
[ -n "$EXTRA" ] && APPEND="$APPEND kvmio.extra=$EXTRA"
APPEND="$APPEND$EXTRA_APPEND"

QEMU=(qemu-system-x86_64 -accel tcg -cpu max -machine q35 -smp "$SMP" -m "$MEM"
      -nodefaults -no-reboot -display none
      -kernel "$KIMG" -initrd "$OUT/initramfs.cpio" -append "$APPEND"
      "${IOMMU[@]}"
      -device edu
      -netdev hubport,id=hp0,hubid=0 -device e1000,netdev=hp0,mac=52:54:00:12:34:01
      -netdev hubport,id=hp1,hubid=0 -device e1000,netdev=hp1,mac=52:54:00:12:34:02
      "${DEVICES[@]}")

if [ "$MODE" = shell ]; then
	# Console and shell on this terminal; Ctrl-A X quits QEMU.
	exec "${QEMU[@]}" -serial mon:stdio
fi

# The monitor is two FIFOs (QEMU's pipe: chardev opens them read-write, so
# neither side blocks on open); a request from the VM's /dev/ttyS2 is
# checked against the one form allowed, then written to the monitor.
host_requests() { # qemu pid
	cat "$OUT/monitor.out" > "$OUT/monitor.log" 2>/dev/null &
	local cpid=$! cmd dev state
	# (no filter between tail and read: tr would hold the lines in its
	# buffer; the guest's \r\n ends in IFS instead)
	tail -n +1 -F --pid="$1" "$OUT/host-requests" 2>/dev/null |
	while IFS=$' \t\r' read -r cmd dev state _; do
		case "$cmd:$dev:$state" in
		set_link:hp[01]:on|set_link:hp[01]:off)
			echo "run-vm: host request: set_link $dev $state" >&2
			# (bounded: once QEMU is gone nothing reads the FIFO,
			# and opening it to write would wait for ever)
			timeout 5 bash -c 'echo "$1" > "$2"' _ "set_link $dev $state" "$OUT/monitor.in" ;;
		*) [ -n "$cmd" ] && echo "run-vm: host request refused: $cmd $dev $state" >&2 ;;
		esac
	done
	kill $cpid 2>/dev/null
}

# A report from the debug kernel's own early boot, before the runner
# starts (so before any module of the suite is loaded): twice on a loaded
# host, KASAN's "wild-memory-access" in handle_edge_irq() at 0.003 s, inside
# identify_cpu(), an interrupt taken in a window of the kernel's start-up
# under TCG, after which the VM spins in interrupts until its timeout.
# Such a boot is stopped, kept as console-earlyfault.log, and booted once
# more; a second one is judged as it is (the verdict sees the report).
early_boot_watch() { # qemu pid
	while kill -0 "$1" 2>/dev/null; do
		if [ ! -s "$OUT/results.log" ] && grep -q "BUG: KASAN" "$OUT/console.log" 2>/dev/null; then
			echo "early" > "$OUT/early-boot-fault"
			sleep 5	# the report whole in the log
			kill "$1" 2>/dev/null
			return
		fi
		[ -s "$OUT/results.log" ] && return
		sleep 2
	done
}

t0=$(date +%s)
for attempt in 1 2; do
	: > "$OUT/results.log"
	: > "$OUT/host-requests"
	rm -f "$OUT/early-boot-fault" "$OUT/monitor.in" "$OUT/monitor.out"
	mkfifo "$OUT/monitor.in" "$OUT/monitor.out"
	echo "run-vm: booting $KVER (TCG, $SMP cpus, $MEM MiB, timeout ${VM_TIMEOUT}s)" >&2
	set +e
	timeout -k 10 "$VM_TIMEOUT" "${QEMU[@]}" \
		-serial "file:$OUT/console.log" -serial "file:$OUT/results.log" \
		-serial "file:$OUT/host-requests" -monitor "pipe:$OUT/monitor" &
	qpid=$!
	host_requests $qpid &
	hpid=$!
	tail -n +1 -f --pid=$qpid "$OUT/results.log" 2>/dev/null &
	tpid=$!
	early_boot_watch $qpid &
	wpid=$!
	wait $qpid
	qrc=$?
	wait $tpid 2>/dev/null
	kill $wpid 2>/dev/null
	wait $wpid 2>/dev/null
	wait $hpid 2>/dev/null
	set -e
	if [ "$attempt" = 1 ] && [ -e "$OUT/early-boot-fault" ]; then
		echo "run-vm: ENVIRONMENT FAULT: a kernel report during early boot, before the runner started:" >&2
		grep -m2 "BUG: KASAN\|RIP:" "$OUT/console.log" | sed 's/^/run-vm:   /' >&2
		echo "run-vm: console kept as $OUT/console-earlyfault.log; booting once more" >&2
		mv "$OUT/console.log" "$OUT/console-earlyfault.log"
		continue
	fi
	break
done
rm -f "$OUT/early-boot-fault"
t1=$(date +%s)
echo "qemu_rc=$qrc seconds=$((t1 - t0))" > "$OUT/vm.status"
echo "run-vm: VM ran $((t1 - t0)) s (qemu exit $qrc)" >&2

exec "$VM/verdict.sh" "$OUT"
