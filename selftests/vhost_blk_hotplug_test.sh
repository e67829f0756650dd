#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhost_blk_hotplug_test.sh - memory hot-plug under a vhost_blk disk.  A
# stock QEMU on nested KVM runs a second-level guest with
# -m 256M,slots=4,maxmem=1G (memfd backend, share=on) and a
# vhost-user-blk disk served by kvmio blk-serve, which offers
# CONFIGURE_MEM_SLOTS: QEMU sends the memory table region by region
# (ADD_MEM_REG), also at start.
#
# Once the guest says it is ready, the test plugs a DIMM in through QEMU's
# monitor (object_add memory-backend-memfd,share=on + device_add pc-dimm):
# QEMU sends ADD_MEM_REG while the rings run.  The guest onlines the new
# memory (movable), finds pages of it through /proc/self/pagemap, writes
# blocks from them with O_DIRECT and reads them back into others
# (selftests/helpers/memhp_io.c): the device has to translate guest
# addresses of the new region.  The test checks that the bridge added a
# region containing those addresses, that the data came back, and that the
# backend holds what the guest read.  Then device_del: the guest offlines
# the DIMM, QEMU sends REM_MEM_REG, and I/O goes on.

# The second-level guest's wall-time limit, boot to power-off: on a busy
# host its boot alone took 206 s once (42 s another time); the program's
# own timeout in the test VM is 600 s (1800 s on the debug kernel, where
# nested KVM is several times slower).
case $(uname -r) in
*kvmio-debug*) L2_LIMIT=1500 ;;
*) L2_LIMIT=540 ;;
esac

L2=/usr/share/kvmio/l2
SOCK=/tmp/vhost-user-blk-hp.sock
MON=/tmp/l2-hp-mon
LOG=/tmp/l2-hp.log
SLOG=/tmp/serve-hp.log
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
SERVE=; QPID=; CAT=
cleanup() {
	[ -n "$QPID" ] && kill -9 $QPID 2>/dev/null
	[ -n "$SERVE" ] && kill $SERVE 2>/dev/null
	[ -n "$CAT" ] && kill $CAT 2>/dev/null
	rm -f $MON.in $MON.out
	rmmod brd 2>/dev/null
}
trap cleanup EXIT

modprobe kvm_amd
modprobe brd rd_nr=1 rd_size=65536
check "kvm_amd and a 64 MiB brd disk" "[ -c /dev/kvm ] && [ -b /dev/ram0 ]"

# wait_for PATTERN SECONDS: the guest printed PATTERN (0), or it did not in time
wait_for() {
	i=0
	while [ $i -lt $(($2 * 5)) ]; do
		grep -q "$1" $LOG 2>/dev/null && return 0
		kill -0 $QPID 2>/dev/null || return 1
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# One HMP command on the monitor's pipe; its answer goes to $MON.log.
hmp() {
	echo "# hmp: $1"
	echo "$1" > $MON.in
	sleep 1
}

kvmio blk-serve --socket $SOCK --backend /dev/ram0 --queues 2 --once --verbose \
	> $SLOG 2>&1 &
SERVE=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
rm -f $MON.in $MON.out
mkfifo $MON.in $MON.out
cat $MON.out > $MON.log &
CAT=$!
# the guest's helpers (memhp_io): its initramfs with the suite's archive
cat $L2/initrd $L2/suite.cpio > /tmp/l2-hp.cpio
start=$(date +%s)
timeout -s KILL $L2_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp 1 \
	-m 256M,slots=4,maxmem=1G \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-machine q35,memory-backend=mem -nodefaults -no-reboot -display none \
	-serial stdio -monitor pipe:$MON -L /usr/share/seabios -L /usr/share/qemu \
	-kernel $L2/vmlinuz -initrd /tmp/l2-hp.cpio \
	-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=blk-hotplug memhp_default_state=online_movable" \
	-chardev socket,id=vub,path=$SOCK \
	-device vhost-user-blk-pci,chardev=vub,num-queues=2 \
	> $LOG 2>&1 &
QPID=$!

plugged=0
if wait_for "ready for hotplug" $L2_LIMIT; then
	echo "# guest ready after $(($(date +%s) - start)) s"
	hmp "object_add memory-backend-memfd,id=m1,size=128M,share=on"
	hmp "device_add pc-dimm,id=d1,memdev=m1"
	plugged=1
fi
if [ $plugged = 1 ] && wait_for "ready for unplug" $L2_LIMIT; then
	hmp "device_del d1"
fi
wait $QPID
rc=$?
QPID=
wait $SERVE
SERVE=
kill $CAT 2>/dev/null
CAT=
echo "# the guest ran $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2|qemu-system|vhost" $LOG | tr -d '\r' | sed 's/^/# /'
# the monitor's answers (its echo of each command is full of line editing)
tr -d '\r' < $MON.log | grep -v "$(printf '\033')" | grep -v '^(qemu) *$' | grep -v '^$' |
	sed 's/^/# monitor: /'
grep -v "region [0-9]*: gpa" $SLOG | sed 's/^/# serve: /'

check "QEMU ran with the vhost-user-blk disk and powered off" "[ $rc -eq 0 ]"
check "QEMU sent its memory by ADD_MEM_REG (CONFIGURE_MEM_SLOTS)" \
	"grep -q 'added region gpa 0 ' $SLOG"
check "the guest booted and saw the disk" "grep -q 'vda: yes' $LOG" ||
	tail -n 60 $LOG | tr -d '\r' | sed 's/^/# l2: /'
# the last ring event before the DIMM's region is a start: a ring ran
ring=$(sed -n '/ring [0-9]* \(started\|stopped\)/h; /added region gpa 0x[0-9a-f]* size 0x8000000/{x;p;q}' $SLOG)
echo "# before the DIMM came: ${ring:-no ring event}"
check "the DIMM came to the bridge while a ring ran (ADD_MEM_REG)" \
	"grep -q 'added region gpa 0x[0-9a-f]* size 0x8000000' $SLOG && echo \"$ring\" | grep -q started"
check "the guest onlined the hot-plugged memory" "grep -q 'hotplugged memory \[' $LOG"

# The guest's buffers lay in the new memory, and the region the bridge
# added covers them.
range=$(tr -d '\r' < $LOG | sed -n 's/.*hotplugged memory \[\(0x[0-9a-f]*\), \(0x[0-9a-f]*\)).*/\1 \2/p')
dimm=$(sed -n 's/.*added region gpa \(0x[0-9a-f]*\) size 0x8000000.*/\1/p' $SLOG | head -n 1)
echo "# guest's new memory: [${range% *}, ${range#* }); the bridge's added region at ${dimm:-none}, 128 MiB"
check "the bridge's new region is the guest's new memory" \
	"[ -n \"$dimm\" ] && [ -n \"$range\" ] && [ \$((${range% *})) -ge \$(($dimm)) ] && [ \$((${range#* })) -le \$(($dimm + 0x8000000)) ]"
check "I/O from and into pages of the new memory came back intact" \
	"grep -q 'memhp_io: 256 blocks .*: 0 differ, 0 pages moved out meanwhile: OK' $LOG"
gsum=$(tr -d '\r' < $LOG | sed -n 's/^KVMIO-L2-SUM: //p')
hsum=$(dd if=/dev/ram0 bs=4096 count=256 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "# guest read $gsum, backend holds $hsum"
check "the backend holds what the guest wrote from the new memory" \
	"[ -n \"$gsum\" ] && [ \"$gsum\" = \"$hsum\" ]"
check "device_del: the guest gave the DIMM back" "grep -q 'hotplugged memory removed' $LOG"
check "device_del: QEMU removed the region (REM_MEM_REG)" \
	"[ -n \"$dimm\" ] && grep -q \"removed region gpa $dimm size 0x8000000\" $SLOG"
check "I/O goes on after the unplug" "grep -q 'io after unplug: OK' $LOG"
check "the bridge refused nothing" "grep -q 'messages, 0 refused' $SLOG"
echo "1..$n"
exit $fail
