# SPDX-License-Identifier: GPL-2.0
#
# runner.sh - runs the tests inside the test VM (sourced by /init).
#
# Prints one TAP stream on the results port: loading each module of the
# suite, each test program as a KTAP subtest (its own TAP indented by four
# spaces), the kernel log after each program, unloading every module, and
# the kernel's taint flags.  Ends with "kvmio-runner: done".

SUITE_MODULES="iommu_soft irq_remap vhost_blk kvm_assign"
TESTDIR=/usr/share/kvmio/tests
KVER=$(uname -r)
# Kernel log lines that fail a run (WARN, BUG, oops, lockdep, KASAN, UBSAN,
# kmemleak's leak reports and its own failures, not its start-up line;
# list corruption, hung tasks).
SPLAT='WARNING:|BUG:|Oops|general protection fault|Kernel panic|KASAN|UBSAN|kmemleak: [0-9]+ new suspected|kmemleak: .*(disabled|[Cc]annot|empty)|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|list_(add|del) corruption|refcount_t:|INFO: task .* blocked for more than|stack-protector'
# Taint flags that fail a run: B (bad page), D (died: oops), W (warning).
TAINT_FAIL=$(( (1 << 5) | (1 << 7) | (1 << 9) ))

N=0
FAILED=0
LOGPOS=0

tap() { # ok|not ok, description
	N=$((N + 1))
	[ "$1" = "ok" ] || FAILED=$((FAILED + 1))
	echo "$1 $N - $2"
}

# Prints new kernel log lines matching $SPLAT since the last call; returns 1
# if there were any.
klog_check() {
	local total new
	dmesg > /tmp/dmesg.now
	total=$(wc -l < /tmp/dmesg.now)
	[ "$total" -lt "$LOGPOS" ] && LOGPOS=0
	tail -n +$((LOGPOS + 1)) /tmp/dmesg.now > /tmp/dmesg.new
	LOGPOS=$total
	if grep -Eq "$SPLAT" /tmp/dmesg.new; then
		sed 's/^/# kernel: /' /tmp/dmesg.new | tail -n 60
		return 1
	fi
	return 0
}

load_module() { # path
	local name dep
	name=$(basename "$1" .ko)
	# Debian modules it links against first (the suite's own are loaded
	# in order by the caller).
	for dep in $(modinfo -F depends "$1" 2>/dev/null | tr , ' '); do
		case " $SUITE_MODULES " in
		*" $dep "*) ;;
		*) modprobe "$dep" 2>/dev/null ;;
		esac
	done
	if insmod "$1" 2>/tmp/insmod.err; then
		tap ok "load $name"
	else
		echo "# $(cat /tmp/insmod.err)"
		tap "not ok" "load $name"
	fi
}

unload_module() { # name
	if rmmod "$1" 2>/tmp/rmmod.err && [ ! -e "/sys/module/$1" ]; then
		tap ok "unload $1"
	else
		echo "# $(cat /tmp/rmmod.err)"
		tap "not ok" "unload $1"
	fi
}

run_program() { # path relative to $TESTDIR
	local t=$1 rc
	echo "# Subtest: $t"
	if [ ! -x "$TESTDIR/$t" ]; then
		echo "# no such test program: $t"
		tap "not ok" "$t"
		return
	fi
	rm -f /tmp/rc /tmp/timedout
	# The program runs in a session of its own; at the timeout the
	# watchdog kills that whole session, children included.
	(
		cd "$TESTDIR" || exit 1
		PATH=$TESTDIR:$PATH setsid "./$t" 2>&1 &
		pid=$!
		(
			i=0
			while kill -0 $pid 2>/dev/null; do
				if [ $i -ge "$TIMEOUT" ]; then
					echo > /tmp/timedout
					kill -KILL -- -$pid $pid
					break
				fi
				sleep 1
				i=$((i + 1))
			done
		) >/dev/null 2>&1 &
		wait $pid 2>/dev/null
		echo "rc=$?" > /tmp/rc
	) | sed 's/^/    /'
	rc=$(sed -n 's/^rc=//p' /tmp/rc)
	[ -e /tmp/timedout ] && rc=timeout
	case "$rc" in
	0) tap ok "$t" ;;
	4) tap ok "$t # SKIP all of its tests skipped" ;;
	timeout) echo "# $t: killed after the ${TIMEOUT} s program timeout"
	     tap "not ok" "$t # timeout" ;;
	*) echo "# $t: exit status $rc"; tap "not ok" "$t" ;;
	esac
	if klog_check; then
		tap ok "kernel log clean after $t"
	else
		tap "not ok" "kernel log clean after $t"
	fi
}

# Kernels with kmemleak (the debug kernel): one last scan once everything is
# unloaded; any unreferenced object fails the run and is printed.  Two
# scans: kmemleak reports an object only once it has stayed unreferenced
# and unchanged across a scan, and only when it is older than 5 s.
# A kernel built with DEBUG_KMEMLEAK_AUTO_SCAN (a developer's own debug
# kernel; the suite's has it off) scans all memory every 10 minutes from
# its own thread, seconds of vCPU under TCG, which the fairness and rate
# tests would measure as a VM short of CPU.  That thread is stopped at
# start; the two scans at the end (kmemleak_check) find every object
# still unreferenced then, which is what a leak is.
kmemleak_quiet() {
	[ -e /sys/kernel/debug/kmemleak ] || return 0
	echo scan=off > /sys/kernel/debug/kmemleak && echo "# kmemleak: automatic scanning off; scanned at the end"
}

kmemleak_check() {
	local f=/sys/kernel/debug/kmemleak
	[ -e "$f" ] || return 0
	sleep 5
	echo scan > "$f"
	echo scan > "$f"
	cat "$f" > /tmp/kmemleak
	if [ -s /tmp/kmemleak ]; then
		echo "# kmemleak: $(grep -c '^unreferenced object' /tmp/kmemleak) unreferenced object(s):"
		sed 's/^/# kmemleak: /' /tmp/kmemleak | head -n 400
		tap "not ok" "kmemleak: no leaks"
	else
		tap ok "kmemleak: no leaks"
	fi
}

# The test VM boots on one CPU (run-vm.sh passes maxcpus=1 kvmio.online).
# Everything that live-patches kernel text happens before the other vCPUs
# come up: KVM's first VM (see selftests/helpers/kvm_hold.c: held until
# power-off, so the preempt-notifier key flips once and never back) and the
# modules the tests load.  Multi-threaded TCG has a cross-modifying-code
# race: while the kernel patches text with text_poke_bp(), another vCPU can
# run a stale translation holding the temporary int3 and the VM dies
# ("Oops: int3").  With one vCPU online there is no other vCPU to race.

# Prints a TAP comment; sets KVM_HOLD to the holder's pid (empty: none).
kvm_hold_start() {
	KVM_HOLD=
	grep -qw svm /proc/cpuinfo || return 0
	modprobe kvm_amd 2>/dev/null && [ -c /dev/kvm ] || return 0
	"$TESTDIR/helpers/kvm_hold" > /tmp/kvm_hold.out 2>&1 &
	KVM_HOLD=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -qs "holding VM" /tmp/kvm_hold.out && break
		sleep 0.2
	done
	sed 's/^/# /' /tmp/kvm_hold.out
}

# Modules the tests use without parameters, loaded while one CPU is up.
PRELOAD="vfio_iommu_type1 vfio_pci ext4 dm_mod crc32c_generic"

# Brings the vCPUs that maxcpus=1 left offline up; prints a TAP comment.
cpus_online() {
	local c
	grep -qw kvmio.online /proc/cmdline || return 0
	for c in /sys/devices/system/cpu/cpu[0-9]*/online; do
		[ "$(cat "$c")" = 1 ] || echo 1 > "$c"
	done
	echo "# cpus online: $(cat /sys/devices/system/cpu/online)"
}

runner_main() { # results device
	local out=$1 m t tainted
	exec 3>&1
	exec 1>"$out" 2>&1
	echo "TAP version 13"
	echo "# kvmio test VM: kernel $KVER, cpus $(cat /sys/devices/system/cpu/present) (booted on $(cat /sys/devices/system/cpu/online)), $(awk '/MemTotal/{print $2 / 1024 " MiB"}' /proc/meminfo)"
	klog_check || echo "# boot log has splats (reported at the end)"
	LOGPOS=0
	kmemleak_quiet
	kvm_hold_start
	modprobe -a $PRELOAD 2>/dev/null

	for m in $SUITE_MODULES; do
		load_module "/lib/modules/$KVER/extra/$m.ko"
	done
	for m in $EXTRA; do
		load_module "/usr/share/kvmio/test-modules/$m.ko"
	done
	if klog_check; then
		tap ok "kernel log clean after loading modules"
	else
		tap "not ok" "kernel log clean after loading modules"
	fi
	cpus_online

	if [ -z "$TESTS" ]; then
		TESTS=$(cd "$TESTDIR" && ls | grep -E '_test(\.sh)?$')
	fi
	for t in $TESTS; do
		run_program "$t"
	done

	for m in $(echo $EXTRA | tr ' ' '\n' | sed '1!G;h;$!d'); do
		unload_module "$m"
	done
	for m in $(echo $SUITE_MODULES | tr ' ' '\n' | sed '1!G;h;$!d'); do
		unload_module "$m"
	done

	kmemleak_check

	# The whole log once more (boot included), then the taint flags.
	LOGPOS=0
	if klog_check; then
		tap ok "kernel log clean"
	else
		tap "not ok" "kernel log clean"
	fi
	tainted=$(cat /proc/sys/kernel/tainted)
	if [ $((tainted & TAINT_FAIL)) -eq 0 ]; then
		tap ok "kernel not tainted by a warning, oops or bad page (taint=$tainted)"
	else
		tap "not ok" "kernel not tainted by a warning, oops or bad page (taint=$tainted)"
	fi
	echo "1..$N"
	echo "kvmio-runner: done failed=$FAILED"
	exec 1>&3 2>&1
}
