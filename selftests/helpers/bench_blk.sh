#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_blk.sh - make bench-blk inside the test VM (not a test).
#
# The same second-level guest (1 vCPU, 256 MiB in a shared memfd) runs
# blkbench (4 KiB random O_DIRECT reads and writes, QD 1 and 32, 5 s each)
# on a disk backed by the same 256 MiB brd device through:
#   qemu     QEMU's own virtio-blk, iothread, aio=native, cache=none
#   qsd      qemu-storage-daemon's vhost-user-blk export (aio=native, direct)
#   vhost    vhost_blk through kvmio blk-serve
#   vhost-poll  the same with busy polling (blk-serve --poll-us 50; QEMU's
#            iothread and qemu-storage-daemon poll by default too, for up
#            to 32 us)
# and blkbench runs natively on the brd device in the test VM.
#
# Each path runs twice (the order of the paths alternates between the two):
#   1cpu  every process of the path pinned to the test VM's CPU 1: the
#         second-level guest's QEMU (its vCPU and I/O threads),
#         qemu-storage-daemon, kvmio blk-serve (vhost_blk's worker inherits
#         its affinity).  Under TCG a wake-up across the test VM's vCPUs
#         costs 70-100 us and where the scheduler puts each thread decides
#         the result; pinned, the figures compare the work of each path.
#   2cpu  free on both vCPUs, as a host would run them unpinned.
# Busy polling needs a CPU of its own: vhost-poll runs only in 2cpu.
# Prints "BENCH <path>/<placement> <rw> qd=<n> iops=<x>" lines.
HERE=$(cd "$(dirname "$0")" && pwd)
L2=/usr/share/kvmio/l2
SOCK=/tmp/bench-blk.sock
modprobe kvm_amd && modprobe brd rd_nr=1 rd_size=262144 || exit 1
cat $L2/initrd $L2/suite.cpio > /tmp/l2-blk.cpio

# native: the same program on the backend itself
for rw in read write; do
	for qd in 1 32; do
		$HERE/blkbench /dev/ram0 $rw $qd 5 | sed 's/^BLKBENCH/BENCH native/'
	done
done

l2() { # label, disk options...
	label=$1
	shift
	timeout -s KILL 300 $PIN qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-machine q35,memory-backend=mem -nodefaults -no-reboot -display none \
		-serial stdio -L /usr/share/seabios -L /usr/share/qemu \
		-kernel $L2/vmlinuz -initrd /tmp/l2-blk.cpio \
		-append "console=ttyS0 panic=-1 loglevel=4 kvmio.l2=blk-bench" \
		"$@" > /tmp/l2-bench-$label.log 2>&1
	grep -o "BLKBENCH .*" /tmp/l2-bench-$label.log | tr -d '\r' |
		sed "s|^BLKBENCH|BENCH $label/$PLACE|"
}

wait_sock() {
	i=0
	while [ ! -S $SOCK ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

path_qemu() {
	l2 qemu -object iothread,id=io0 \
		-drive file=/dev/ram0,if=none,id=d0,format=raw,cache=none,aio=native \
		-device virtio-blk-pci,drive=d0,iothread=io0
}

path_qsd() {
	$PIN qemu-storage-daemon --blockdev driver=host_device,node-name=disk,filename=/dev/ram0,cache.direct=on,aio=native \
		--export type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,addr.path=$SOCK,writable=on \
		> /tmp/qsd.log 2>&1 &
	QSD=$!
	wait_sock
	l2 qsd -chardev socket,id=vub,path=$SOCK -device vhost-user-blk-pci,chardev=vub,num-queues=1
	kill $QSD 2>/dev/null
	wait $QSD 2>/dev/null
	rm -f $SOCK
}

path_vhost() { # label, blk-serve options...
	label=$1
	shift
	$PIN kvmio blk-serve --socket $SOCK --backend /dev/ram0 --queues 1 --once "$@" \
		> /tmp/serve-bench-$label.log 2>&1 &
	SERVE=$!
	wait_sock
	l2 $label -chardev socket,id=vub,path=$SOCK -device vhost-user-blk-pci,chardev=vub,num-queues=1
	wait $SERVE
}

PIN="taskset 2" PLACE=1cpu
path_qemu
path_qsd
path_vhost vhost
PIN= PLACE=2cpu
path_vhost vhost
path_vhost vhost-poll --poll-us 50
path_qsd
path_qemu
rmmod brd
exit 0
