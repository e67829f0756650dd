#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhost_blk_migrate_test.sh - live migration of a second-level guest whose
# disk is served by vhost_blk through the vhost-user-blk bridge.
#
# A stock QEMU on nested KVM boots the guest (256 MiB of
# memory-backend-memfd,share=on) with a vhost-user-blk disk served by
# `kvmio blk-serve` on a brd.  Each migration starts a second QEMU with
# -incoming and its own bridge on the same brd, and tells the running one
# (QMP over a pipe chardev) to migrate to it; the guest then runs on the
# new QEMU and the old one quits.  The guest (selftests/helpers/blkmig,
# started by l2-init's blk-mig mode) takes commands the test writes into
# the disk's last block:
#
#   1. idle: A -> B with the guest only polling its control block; it
#      keeps running on B.
#   2. one writer: each 4 KiB block written with O_DIRECT carries its
#      block number, a generation and a checksum, and is read back into a
#      buffer only the device writes, and compared: a read drained when
#      the source stops, its page not in the dirty log, reaches the target
#      stale.  B -> C while it writes; it keeps writing on C, then stops.
#      The test VM checks every block of the writer's range on the brd:
#      checksum, and generation g below the last block written and g - 1
#      from there on, g past the generation it had reached before the
#      migration.
#   3. heavy: four writers, C -> D, the same checks.
#
# Printed: the downtime QEMU reports (query-migrate), and the writers'
# writes/s in the 10 s before the migration, during it (dirty logging on,
# and QEMU sending memory) and in the 10 s after it, as ratios against the
# rate before.  The bridges must have mapped QEMU's dirty log and turned
# dirty logging on.

# Wall-time limits: far longer on the debug kernel (KASAN and lockdep in
# the first level slow nested KVM several times).
case $(uname -r) in
*kvmio-debug*) L2_LIMIT=1200; MIG_LIMIT=600; QEMU_LIMIT=3000; RESUME_LIMIT=300 ;;
*) L2_LIMIT=240; MIG_LIMIT=120; QEMU_LIMIT=600; RESUME_LIMIT=60 ;;
esac

L2=/usr/share/kvmio/l2
# One vCPU by default: the migration is the point, not the queues, and a
# second vCPU under nested TCG crashed the guest while it booted (the
# emulator race of vhost_blk_guest_test.sh's note).  L2_SMP=2 gives the
# four writers two vCPUs and two queues.
L2_SMP=${L2_SMP:-1}
L2_ONLINE=
[ "$L2_SMP" -gt 1 ] && L2_ONLINE="maxcpus=1 kvmio.online"
BLKMIG=/usr/share/kvmio/tests/helpers/blkmig
# Every QEMU on the test VM's last CPU, as assign_e1000_share_guest_test.sh
# does.  Two second-level QEMUs run at once here (the source and the
# target), and with them free to run on both vCPUs nested SVM under TCG
# has taken the test VM down: on 2026-12-07 a 6.1 test VM panicked in
# this test ("stack guard page was hit", a reschedule IPI taken inside
# svm_vcpu_enter_exit() with the second-level guest's GS base still
# loaded) while the migration C -> D ran.
L2_CPUS=$(sed 's/.*[-,]//' /sys/devices/system/cpu/online)
MIG_BW=${KVMIO_MIG_BW:-$(sed -n 's/.*kvmio\.mig_bw=\([0-9]*\).*/\1/p' /proc/cmdline)}
D=/tmp/mig
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; return 1; fi; }

echo "TAP version 13"
if ! grep -qw svm /proc/cpuinfo || [ ! -c /dev/vhost-blk ]; then
	echo "1..0 # SKIP needs SVM and /dev/vhost-blk"
	exit 4
fi
# On the 6.1 test VM one run of four hung after the one-writer migration:
# the guest made no progress on the target and nothing says why yet
# (Documentation/vhost_blk.rst, "Live migration through the bridge").
# Until that is understood make check runs the test on 6.12 (the issue's
# minimum); KVMIO_MIGRATE_61=1 runs it on 6.1 too.
case $(uname -r) in
6.1.*)
	if [ "${KVMIO_MIGRATE_61:-0}" != 1 ] && ! grep -qw kvmio.migrate61 /proc/cmdline; then
		echo "1..0 # SKIP on 6.1 until its target hang is understood (kvmio.migrate61 on the VM's command line runs it)"
		exit 4
	fi ;;
esac
PIDS=
cleanup() {
	for p in $PIDS; do kill -9 $p 2>/dev/null; done
	rmmod brd 2>/dev/null	# kvm stays loaded (see nested_test.sh)
}
trap cleanup EXIT
trap 'echo "# killed"; abort' TERM
# Give up: the logs, every QEMU and bridge killed, the plan.
# Where VM $1's bridge and QEMU (every thread) wait, and the devices'
# counters: what a guest that stopped on a target was waiting for.
diag() {
	local p t c kids s
	eval "p=\"\$SERVE_$1 \$QEMU_$1\""
	kids=
	for c in $p; do	# QEMU_x is timeout's pid: QEMU is its child
		for s in /proc/[0-9]*/stat; do
			[ "$(cut -d' ' -f4 $s 2>/dev/null)" = $c ] && kids="$kids $(cut -d' ' -f1 $s)"
		done
	done
	for c in $p $kids; do
		for t in /proc/$c/task/*; do
			[ -e $t/stat ] || continue
			echo "# $1: pid $c task ${t##*/} ($(cat $t/comm)): state $(cut -d' ' -f3 $t/stat), waits in $(cat $t/wchan)"
			sed 's/^/#     /' $t/stack 2>/dev/null | head -n 6
		done
	done
	for s in /sys/kernel/vhost_blk/*-*; do
		[ -d $s ] && echo "# ${s##*/}: inflight $(cat $s/inflight) kicks $(cat $s/kicks)" \
			"interrupts $(cat $s/interrupts) req_in $(cat $s/req_in) req_out $(cat $s/req_out)"
	done
}

abort() {
	for f in $D/qemu-*.log $D/serve-*.log $D/l2-*.log $D/qmp-*.log; do
		[ -s "$f" ] && tail -n 25 "$f" | tr -d '\r' | sed "s|^|# $(basename $f): |"
	done
	for p in $PIDS; do kill -9 $p 2>/dev/null; done
	echo "1..$n"
	exit 1
}
# Wait up to $2 s for process $1 to end: its exit status, or 124.
wait_pid() {
	i=0
	while kill -0 $1 2>/dev/null && [ $i -lt $(($2 * 5)) ]; do sleep 0.2; i=$((i + 1)); done
	kill -0 $1 2>/dev/null && return 124
	wait $1
}

modprobe kvm_amd
modprobe brd rd_nr=1 rd_size=262144
check "kvm_amd and a 256 MiB brd disk" "[ -c /dev/kvm ] && [ -b /dev/ram0 ]"
echo 'module vhost_blk +p' > /sys/kernel/debug/dynamic_debug/control 2>/dev/null
rm -rf $D
mkdir -p $D
CTL=$(($(cat /sys/block/ram0/size) / 8 - 1))
cat $L2/initrd $L2/suite.cpio > $D/l2.cpio

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# Wait up to $2 s for a line matching $3 (grep -E) in file $1; 1 at once
# if the guest panicked or process $4 (its QEMU) is gone.
wait_for() {
	i=0
	while [ $i -lt $(($2 * 5)) ]; do
		tr -d '\r' < "$1" 2>/dev/null | grep -qE "$3" && return 0
		grep -q "Kernel panic" "$1" 2>/dev/null && return 1
		[ -n "$4" ] && ! kill -0 $4 2>/dev/null && return 1
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# A QMP command to VM $1: command $2, arguments $3 (JSON).  Prints the
# response (the line with this command's id); 1 if none came in 20 s.
# (Called in command substitutions: the id counter lives in a file.)
qmp() {
	QN=$(($(cat $D/qmp-id 2>/dev/null || echo 0) + 1))
	echo $QN > $D/qmp-id
	timeout 10 sh -c "echo '{\"execute\": \"$2\"${3:+, \"arguments\": $3}, \"id\": \"q$QN\"}' > $D/qmp-$1.in"
	i=0
	while [ $i -lt 100 ]; do
		r=$(grep -F "\"q$QN\"" $D/qmp-$1.log | tail -n 1)
		if [ -n "$r" ]; then
			echo "$r"
			return 0
		fi
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# Start VM $1 (its own bridge, its own QMP pipe); $2: -incoming ...
start_vm() {
	kvmio blk-serve --socket $D/$1.sock --backend /dev/ram0 --queues 4 --once --verbose \
		> $D/serve-$1.log 2>&1 &
	eval SERVE_$1=$!
	PIDS="$PIDS $!"
	i=0
	while [ ! -S $D/$1.sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	mkfifo $D/qmp-$1.in $D/qmp-$1.out
	: > $D/qmp-$1.log
	: > $D/l2-$1.log
	taskset -c $L2_CPUS timeout -s KILL $QEMU_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp $L2_SMP -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine q35,memory-backend=mem -nodefaults -no-reboot -display none \
		-serial file:$D/l2-$1.log -L /usr/share/seabios -L /usr/share/qemu \
		-kernel $L2/vmlinuz -initrd $D/l2.cpio \
		-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=blk-mig $L2_ONLINE" \
		-chardev socket,id=vub,path=$D/$1.sock \
		-device vhost-user-blk-pci,chardev=vub,num-queues=4 \
		-chardev pipe,id=qmp,path=$D/qmp-$1 -mon chardev=qmp,mode=control \
		$2 > $D/qemu-$1.log 2>&1 &
	eval QEMU_$1=$!
	PIDS="$PIDS $!"
	cat $D/qmp-$1.out > $D/qmp-$1.log &
	PIDS="$PIDS $!"
	wait_for $D/qmp-$1.log 30 QMP && qmp $1 qmp_capabilities > /dev/null
}

# Writes so far of the writers, summed (their last progress lines in every
# VM's console log; the count goes on across migrations).
writes() {
	cat $D/l2-*.log | tr -d '\r' | awk '
		/^BLKMIG id=[0-9]+ (done )?writes=[0-9]+ gen=[0-9]+ next=[0-9]+( errors=[0-9]+)?$/ {
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^id=/) id = substr($i, 4)
				if ($i ~ /^writes=/) w = substr($i, 8) + 0
			}
			if (w > last[id]) last[id] = w
		}
		END { s = 0; for (id in last) s += last[id]; print s }'
}

# The latest "gen next" of writer $1, from whole lines only: the writers
# share the guest's console, and a line of one can be cut by another's
# (seen on the debug kernel: "BLKMIG id=3 writes=45" and no more).
progress() {
	cat $D/l2-*.log | tr -d '\r' |
		sed -n "s/^BLKMIG id=$1 \(done \)\{0,1\}writes=[0-9]* gen=\([0-9]*\) next=\([0-9]*\)\( errors=[0-9]*\)\{0,1\}\$/\2 \3/p" |
		tail -n 1
}

SEQ=0
ctl() { # command: write FIRST COUNT | stop | off; waits for the guest's ack in VM $1's log
	vm=$1
	shift
	SEQ=$((SEQ + 1))
	$BLKMIG ctl /dev/ram0 $CTL $SEQ "$@" && wait_for $D/l2-$vm.log 30 "BLKMIG ctl $SEQ "
}

# Migrate the guest from VM $1 to a new VM $2: prints the downtime in
# DOWNTIME, the time it took in MIG_S, the writes/s during it in RATE_MIG.
migrate() {
	start_vm $2 "-incoming unix:$D/mig-$2.sock"
	i=0
	while [ ! -S $D/mig-$2.sock ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	# kvmio.mig_bw=BYTES on the test VM's command line caps the
	# migration's bandwidth: a migration as long as one on the debug
	# kernel or a loaded host (where the target stall was seen), on a
	# kernel where it otherwise takes a few seconds.
	if [ -n "$MIG_BW" ]; then
		echo "# migrate $1 -> $2: max-bandwidth $MIG_BW bytes/s:" \
			"$(qmp $1 migrate-set-parameters "{\"max-bandwidth\": $MIG_BW}")"
	fi
	t0=$(uptime_s)
	w0=$(writes)
	r=$(qmp $1 migrate "{\"uri\": \"unix:$D/mig-$2.sock\"}")
	echo "# migrate $1 -> $2: $r"
	st=
	end=$(awk "BEGIN { print $t0 + $MIG_LIMIT }")
	while awk "BEGIN { exit !($(uptime_s) < $end) }"; do
		eval "kill -0 \$QEMU_$1" 2>/dev/null || break
		st=$(qmp $1 query-migrate | jq -r '.return.status // empty')
		case "$st" in completed|failed|cancelled) break ;; esac
		sleep 0.5
	done
	t1=$(uptime_s)
	w1=$(writes)
	r=$(qmp $1 query-migrate)
	DOWNTIME=$(echo "$r" | jq -r '.return.downtime // empty')
	MIG_S=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
	RATE_MIG=$(awk "BEGIN { printf \"%.1f\", ($w1 - $w0) / ($t1 - $t0) }")
	echo "# migrate $1 -> $2: status $st after $MIG_S s, downtime ${DOWNTIME:-?} ms," \
		"total-time $(echo "$r" | jq -r '.return["total-time"] // empty') ms," \
		"RAM transferred $(echo "$r" | jq -r '.return.ram.transferred // empty') bytes"
	check "$1 -> $2: migration completed (query-migrate)" "[ \"$st\" = completed ]" || abort
	qmp $1 quit > /dev/null
	eval "wait_pid \$QEMU_$1 60; wait_pid \$SERVE_$1 60"
	sed 's/^/# serve '$1': /' $D/serve-$1.log | grep -E "dirty|stopped|refused|failed|error" | head -n 20
	return 0
}

# Writes per second over $1 seconds from now.
rate() {
	t0=$(uptime_s)
	w0=$(writes)
	sleep $1
	t1=$(uptime_s)
	w1=$(writes)
	awk "BEGIN { printf \"%.1f\", ($w1 - $w0) / ($t1 - $t0) }"
}

# Stop the writers first..first+count-1 running in VM $1 and check their
# blocks on the backend; $2: "gen next" of each before the migration.
stop_and_verify() {
	vm=$1
	first=$2
	count=$3
	ctl $vm stop && wait_for $D/l2-$vm.log 60 "BLKMIG stopped rc="
	check "writers stopped on $vm without an error in the guest" \
		"tr -d '\r' < $D/l2-$vm.log | grep -q 'BLKMIG stopped rc=0'"
	bad=0
	id=$first
	while [ $id -lt $((first + count)) ]; do
		set -- $(progress $id)
		g=$1
		nx=$2
		b=$(eval echo \$BEFORE_$id)
		echo "# writer $id: before the migration generation/next $b, at the end $g/$nx"
		$BLKMIG verify /dev/ram0 $id $g $nx | sed 's/^/# /'
		$BLKMIG verify /dev/ram0 $id $g $nx > /dev/null || bad=1
		set -- $b
		# written on after the migration: a later generation or block
		[ -n "$g" ] && [ -n "$1" ] && { [ $g -gt $1 ] || { [ $g -eq $1 ] && [ $nx -gt $2 ]; }; } ||
			bad=1
		id=$((id + 1))
	done
	check "every block of writers $first..$((first + count - 1)) verifies on the backend, written before and after the migration" \
		"[ $bad -eq 0 ]"
}

# Writers first..first+count-1 in VM $1, migrated to VM $2.
write_case() {
	ctl $1 write $3 $4
	sleep 3
	before=$(rate 10)
	id=$3
	while [ $id -lt $(($3 + $4)) ]; do
		eval BEFORE_$id=\"$(progress $id)\"
		id=$((id + 1))
	done
	migrate $1 $2 || return 1
	# The guest runs on the target once it prints there (a tick a second).
	t0=$(uptime_s)
	if wait_for $D/l2-$2.log $RESUME_LIMIT 'BLKMIG (tick|id=)'; then
		echo "# the guest printed on $2 $(awk "BEGIN { printf \"%.1f\", $(uptime_s) - $t0 }") s after the migration completed"
	else
		echo "# the guest printed nothing on $2 for $RESUME_LIMIT s after the migration completed"
		diag $2
	fi
	after=$(rate 10)
	echo "# $5: writes/s before $before, during the migration $RATE_MIG" \
		"($(awk "BEGIN { if ($before > 0) printf \"%.2f\", $RATE_MIG / $before }") of before)," \
		"after $after ($(awk "BEGIN { if ($before > 0) printf \"%.2f\", $after / $before }") of before);" \
		"downtime ${DOWNTIME:-?} ms, migration $MIG_S s"
	check "$5: the guest kept writing on $2" "awk 'BEGIN { exit !($after > 0) }'" || {
		diag $2
		abort
	}
	stop_and_verify $2 $3 $4
}

start=$(uptime_s)
start_vm A
wait_for $D/l2-A.log $L2_LIMIT "BLKMIG guest ready" $QEMU_A
check "guest booted on A with the vhost-user-blk disk" \
	"tr -d '\r' < $D/l2-A.log | grep -q 'BLKMIG guest ready'" || {
	abort
}

# 1. idle
migrate A B
echo "# idle: downtime ${DOWNTIME:-?} ms, migration $MIG_S s"
want=$(($(tr -d '\r' < $D/l2-A.log | grep -c 'BLKMIG tick') + 3))
check "idle: the guest runs on B after the migration (tick $want)" \
	"wait_for $D/l2-B.log $RESUME_LIMIT 'BLKMIG tick $want\$'" || {
	diag B
	abort
}
check "bridge A mapped QEMU's dirty log and turned dirty logging on" \
	"grep -q 'dirty log: [1-9]' $D/serve-A.log && grep -q 'dirty logging on' $D/serve-A.log"
# 2. one writer, 3. four writers
write_case B C 0 1 "one writer"
write_case C D 1 4 "four writers"
ctl D off
eval "wait_pid \$QEMU_D 120"
rc=$?
check "the guest powered off (D exit $rc)" "[ $rc -eq 0 ]"
eval "wait_pid \$SERVE_D 60"
check "no block came back different in the guest" \
	"! cat $D/l2-*.log | tr -d '\r' | grep -q 'MISMATCH\|errors=[1-9]'"
cat $D/l2-*.log | tr -d '\r' | grep -E 'KVMIO-L2|MISMATCH|errors=|BLKMIG (ctl|stopped|off)|Call Trace|BUG' |
	sed 's/^/# l2: /'
echo "# $(awk "BEGIN { printf \"%.0f\", $(uptime_s) - $start }") s in all"
dmesg | grep "vhost_blk" | tail -n 20 | sed 's/^/# dmesg: /'
echo "1..$n"
exit $fail
