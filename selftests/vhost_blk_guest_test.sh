#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vhost_blk_guest_test.sh - full stack: a stock QEMU on nested KVM boots a
# second-level guest whose own virtio_blk driver uses a disk served by
# vhost_blk through the vhost-user-blk bridge (kvmio blk-serve), which
# offers four queues.
#
# The guest has two vCPUs (L2_SMP, default 2), so its driver uses two of
# the queues; the test checks that requests came through more than one
# ring.  It boots on one vCPU and onlines the other from its init: booting
# several vCPUs at once under nested TCG crashed or stalled the guest about
# once in six boots (an emulator race with the kernel patching its own
# text; see selftests/vm/l2-init).  L2_SMP=1 runs the single-queue case.
#
# First boot: the guest makes an ext4 file system, writes files, records
# their checksums, runs fstrim, syncs and powers off.  The host checks the
# backend with e2fsck and the checksums itself.  Second boot, through a new
# bridge and a new read-only /dev/vhost-blk device that busy-polls its
# rings (blk-serve --poll-us): the guest reads the
# files back and checks them.  Third boot: online resize: the disk is a
# file that grows while the guest runs; the bridge notices (it looks once
# a second), resizes the vhost_blk device and tells QEMU
# (CONFIG_CHANGE_MSG), and the guest's /sys/block/vda/size follows without
# a reboot.  Fourth boot: I/O limits: the bridge limits the device to 100
# IOPS (50 on the debug kernel) and the guest's own reads and writes must
# measure within 5% of it.

# A second-level guest's wall-time limit: far longer on the debug kernel
# (KASAN and lockdep in the first level slow nested KVM several times).
case $(uname -r) in
*kvmio-debug*) L2_LIMIT=1200 ;;
*) L2_LIMIT=300 ;;
esac

L2=/usr/share/kvmio/l2
L2_SMP=${L2_SMP:-2}
# Several vCPUs: boot on one, then online the rest (see l2-init).
L2_ONLINE=
[ "$L2_SMP" -gt 1 ] && L2_ONLINE="maxcpus=1 kvmio.online"
SOCK=/tmp/vhost-user-blk.sock
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
cleanup() {
	kill $SERVE 2>/dev/null
	umount /mnt 2>/dev/null
	rmmod brd 2>/dev/null	# kvm stays loaded (see nested_test.sh)
}
trap cleanup EXIT

modprobe kvm_amd
modprobe brd rd_nr=1 rd_size=262144
modprobe crc32c_generic
# Guest-caused errors are debug messages: show them in this test's log.
echo 'module vhost_blk +p' > /sys/kernel/debug/dynamic_debug/control 2>/dev/null
check "kvm_amd and a 256 MiB brd disk" "[ -c /dev/kvm ] && [ -b /dev/ram0 ]"
mkdir -p /mnt
# The guest's initramfs with the suite's guest-side helpers (blkbench).
cat $L2/initrd $L2/suite.cpio > /tmp/l2-blk.cpio

# A guest that resets before its init prints anything (QEMU exits 0 with
# -no-reboot, an empty console) is booted once more, and the test says so
# with what the bridge saw: under nested TCG a second-level guest was lost
# that way now and then, in this test (the debug kernel, 2026-12-07) and
# in others, with or without a vhost_blk disk.  Anything later is judged.
boot() { # mode, log, extra serve options (backend: $BACKEND, default /dev/ram0)
	local try
	for try in 1 2; do
		kvmio blk-serve --socket $SOCK --backend ${BACKEND:-/dev/ram0} --queues 4 --once --verbose $3 \
			> /tmp/serve-$1.log 2>&1 &
		SERVE=$!
		i=0
		while [ ! -S $SOCK ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		timeout -s KILL $L2_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp $L2_SMP -m 256 \
			-object memory-backend-memfd,id=mem,size=256M,share=on \
			-machine q35,memory-backend=mem -nodefaults -no-reboot -display none \
			-serial stdio -L /usr/share/seabios -L /usr/share/qemu \
			-kernel $L2/vmlinuz -initrd /tmp/l2-blk.cpio \
			-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=$1 $L2_ONLINE" \
			-chardev socket,id=vub,path=$SOCK \
			-device vhost-user-blk-pci,chardev=vub,num-queues=4 \
			> $2 2>&1
		rc=$?
		wait $SERVE
		SERVE=
		[ $rc -eq 0 ] && [ $try -eq 1 ] && ! grep -q "KVMIO-L2: init reached" $2 || break
		echo "# $1: the guest reset before its init printed anything ($(wc -c < $2) bytes on its console), booted again; the bridge saw:"
		sed 's/^/#   /' /tmp/serve-$1.log
	done
	return $rc
}

start=$(date +%s)
boot blk-write /tmp/l2-blk1.log
rc=$?
echo "# first boot: $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2|qemu-system|vhost" /tmp/l2-blk1.log | tr -d '\r' | sed 's/^/# /'
sed 's/^/# serve: /' /tmp/serve-blk-write.log
check "first boot: QEMU ran with the vhost-user-blk disk and powered off" "[ $rc -eq 0 ]"
if [ "$L2_SMP" -gt 1 ]; then
	check "guest uses several queues" "grep -q 'vda queues: [2-9]' /tmp/l2-blk1.log"
	check "requests came through more than one ring" \
		"[ \$(grep -c 'ring [0-9]* stopped at [1-9]' /tmp/serve-blk-write.log) -ge 2 ]"
else
	check "guest's virtio_blk found the disk" "grep -q 'vda queues: [1-9]' /tmp/l2-blk1.log"
fi
check "guest made ext4, wrote files, unmounted" "grep -q 'blk-write done' /tmp/l2-blk1.log" ||
	tail -n 40 /tmp/l2-blk1.log | tr -d '\r' | sed 's/^/# l2: /'
check "guest fstrim succeeded" "grep -q 'fstrim: /mnt: [0-9].* trimmed' /tmp/l2-blk1.log"
check "bridge saw QEMU disconnect" "grep -q 'QEMU disconnected' /tmp/serve-blk-write.log"

e2fsck -fn /dev/ram0 > /tmp/fsck.log 2>&1
frc=$?
tail -n 3 /tmp/fsck.log | sed 's/^/# /'
check "host: e2fsck of the backend is clean" "[ $frc -eq 0 ]"
grep -o 'KVMIO-L2-SUM: .*' /tmp/l2-blk1.log | tr -d '\r' | sed 's/^KVMIO-L2-SUM: //' > /tmp/guest.sums
if mount -t ext4 -o ro /dev/ram0 /mnt; then
	(cd /mnt && sha256sum file1 file2 file3 file4) > /tmp/host.sums
	umount /mnt
fi
check "host: checksums of the guest's files match (4 files)" \
	"[ \$(wc -l < /tmp/guest.sums) -eq 4 ] && cmp -s /tmp/guest.sums /tmp/host.sums"

start=$(date +%s)
boot blk-read /tmp/l2-blk2.log "--readonly --poll-us 20"
rc=$?
echo "# second boot (read-only device, busy polling): $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2" /tmp/l2-blk2.log | tr -d '\r' | sed 's/^/# /'
sed 's/^/# serve: /' /tmp/serve-blk-read.log
check "second boot: the guest read every file back intact" \
	"grep -q 'blk-read done rc=0' /tmp/l2-blk2.log && [ \$(grep -c 'KVMIO-L2-CHECK: file[1-4]: OK' /tmp/l2-blk2.log) -eq 4 ]" ||
	tail -n 40 /tmp/l2-blk2.log | tr -d '\r' | sed 's/^/# l2: /'
check "second boot: the bridge set the device's busy polling (--poll-us 20)" \
	"grep -q 'busy polling: 20 us' /tmp/serve-blk-read.log"
check "blk-serve refuses a malformed --poll-us" \
	"kvmio blk-serve --socket /tmp/x.sock --backend /dev/ram0 --poll-us 2x 2>&1 | grep -q 'must be 0..100000'"

# Third boot: the backend grows under the running guest.
rm -f /tmp/resize.img
truncate -s 64M /tmp/resize.img
start=$(date +%s)
BACKEND=/tmp/resize.img boot blk-resize /tmp/l2-blk3.log &
BOOT=$!
i=0
while ! grep -q "vda size before" /tmp/l2-blk3.log 2>/dev/null && [ $i -lt $L2_LIMIT ]; do
	sleep 1
	i=$((i + 1))
done
truncate -s 96M /tmp/resize.img
wait $BOOT
rc=$?
echo "# third boot (online resize): $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2" /tmp/l2-blk3.log | tr -d '\r' | sed 's/^/# /'
sed 's/^/# serve: /' /tmp/serve-blk-resize.log
check "third boot: the guest saw a 64 MiB disk" \
	"grep -q 'vda size before: 131072' /tmp/l2-blk3.log"
check "third boot: the bridge resized the device and told QEMU" \
	"grep -q 'capacity 131072 -> 196608' /tmp/serve-blk-resize.log && grep -q 'sent CONFIG_CHANGE_MSG' /tmp/serve-blk-resize.log"
check "third boot: the guest sees 96 MiB without a reboot, and reads its new last sector" \
	"grep -q 'vda size after: 196608' /tmp/l2-blk3.log && grep -q 'blk-resize last sector read' /tmp/l2-blk3.log" ||
	tail -n 40 /tmp/l2-blk3.log | tr -d '\r' | sed 's/^/# l2: /'
rm -f /tmp/resize.img

# Fourth boot: I/O limits measured by the guest.  The bridge limits the
# device to LIMIT IOPS in total (blk-serve --iops, default burst: a tenth
# of a second); the guest's reads and then writes (4 KiB, random, queue
# depth 8, 10 s each) must each measure within 5% of LIMIT.  Then the
# test VM lifts the limit through sysfs and the same reads must go well
# past it, so the limit, not the nested guest's speed, is what held them.
# 50 on the debug kernel: a guest there read 166 IOPS unlimited in one
# run and 277 in another, and with a limit of 100 measured 83 in the slow
# one (a limit is only reached by a guest that can go well past it all
# through the interval).
LIMIT=100
case $(uname -r) in *kvmio-debug*) LIMIT=50 ;; esac
start=$(date +%s)
boot blk-limit /tmp/l2-blk4.log "--iops $LIMIT" &
BOOT=$!
thr=0
lifted=
while kill -0 $BOOT 2>/dev/null; do
	d=$(ls -d /sys/kernel/vhost_blk/*-* 2>/dev/null | head -n 1)
	[ -n "$d" ] && t=$(cat $d/throttled_requests 2>/dev/null) && [ "${t:-0}" -gt $thr ] && thr=$t
	if [ -z "$lifted" ] && grep -q "blk-limit lift" /tmp/l2-blk4.log 2>/dev/null; then
		echo 0 > $d/iops_total && lifted=$(cat $d/iops_total)
	fi
	sleep 0.2
done
wait $BOOT
rc=$?
echo "# fourth boot (I/O limits): $(($(date +%s) - start)) s, qemu exit $rc"
grep -E "KVMIO-L2" /tmp/l2-blk4.log | tr -d '\r' | sed 's/^/# /'
iops() { grep -o "KVMIO-L2: $1: BLKBENCH $2 qd=8 iops=[0-9]*" /tmp/l2-blk4.log | sed 's/.*=//' | head -n 1; }
rd=$(iops limited read)
wr=$(iops limited write)
un=$(iops unlimited read)
echo "# limit $LIMIT IOPS: the guest measured reads ${rd:-?}, writes ${wr:-?} ($(awk -v r=${rd:-0} -v w=${wr:-0} -v l=$LIMIT 'BEGIN { printf "%.3f and %.3f of the limit", r / l, w / l }')); unlimited reads ${un:-?}; throttled_requests $thr"
within() { [ -n "$1" ] && awk -v x="$1" -v l=$LIMIT 'BEGIN { exit !(x >= 0.95 * l && x <= 1.05 * l) }'; }
check "fourth boot: a guest limited to $LIMIT IOPS reads at $LIMIT IOPS (within 5%)" "within '$rd'"
check "fourth boot: and writes at $LIMIT IOPS (within 5%)" "within '$wr'"
check "fourth boot: the device held requests back (throttled_requests > 0)" "[ $thr -gt 0 ]"
check "fourth boot: with the limit lifted through sysfs the guest reads faster than 1.3 x $LIMIT IOPS" \
	"[ '$lifted' = 0 ] && [ -n '$un' ] && [ '$un' -gt $((LIMIT * 13 / 10)) ]" ||
	tail -n 40 /tmp/l2-blk4.log | tr -d '\r' | sed 's/^/# l2: /'
rm -f /tmp/l2-blk.cpio
dmesg | grep "vhost_blk" | tail -n 20 | sed 's/^/# dmesg: /'
echo "1..$n"
exit $fail
