#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_blk_driver.sh - the userspace-driver half of make bench-blk inside
# the test VM (not a test; the runner has loaded the suite modules).
#
# No guest: vblk_bench plays the guest on one split ring and pushes 4 KiB
# random reads and writes at QD 1 and 32 (3 s each, on one vCPU and on
# two: see below) through
#   vhost    /dev/vhost-blk
#   uring    vblk_bench's own userspace device (io_uring, same ring work)
#   vhost-poll  the same with vhost_blk's busy polling (poll_budget_us 50;
#            two-vCPU rows only: polling needs a CPU of its own)
# and fio runs natively on the backend (libaio).  Backends: a 256 MiB brd
# device and a 256 MiB file in /tmp (tmpfs: O_DIRECT only where the kernel
# supports it there, otherwise every path is buffered and the backend is
# named "file-buffered").  Each target first passes a --verify round.
# Prints "BENCH driver <target> <backend> <rw> qd=<n> iops=<x>" lines.
HERE=$(cd "$(dirname "$0")" && pwd)
VB=$HERE/vblk_bench
SECS=${BENCH_SECS:-3}
POLL_US=${BENCH_POLL_US:-50}
FILE=/tmp/bench-blk-driver.img
rc=0

modprobe brd rd_nr=1 rd_size=262144 || exit 1
# Write every block once so that no path reads unallocated pages.
dd if=/dev/zero of=/dev/ram0 bs=1M count=256 2>/dev/null
dd if=/dev/zero of=$FILE bs=1M count=256 2>/dev/null

native() { # path name rw qd direct
	iops=$($PIN fio --name=n --filename="$1" --direct="$5" --ioengine=libaio \
		--rw=rand"$3" --bs=4k --iodepth="$4" --runtime="$SECS" \
		--time_based --output-format=terse 2>/dev/null |
		awk -F';' -v rw="$3" '{ print (rw == "read" ? $8 : $49) }')
	echo "BENCH driver native $2 $3 qd=$4 iops=${iops:-0}"
}

for path in /dev/ram0 $FILE; do
	if [ "$path" = /dev/ram0 ]; then
		name=brd
	else
		name=file
	fi
	if [ "$($VB --probe $path)" = direct ]; then
		direct=1 mode=on
	else
		direct=0 mode=off name=$name-buffered
	fi
	for t in vhost uring; do
		$VB --target $t --backend $path --name $name --direct $mode \
			--event-idx --verify || rc=1
	done
	# Each point twice: everything pinned to CPU 0 ("<backend>/1cpu": the
	# driver, the userspace device's thread, vhost_blk's worker, which
	# inherits the owner's affinity), then free on both vCPUs
	# ("<backend>/2cpu").  Under TCG a wake-up across vCPUs costs some
	# 100 us and up: the 2-CPU figures mostly measure how many of them a
	# design needs per request (the userspace device needs two threads to
	# hand off twice), the 1-CPU figures the work itself.
	for PIN in "taskset 1" ""; do
		label=$name/1cpu
		[ -z "$PIN" ] && label=$name/2cpu
		for rw in read write; do
			for qd in 1 32; do
				native $path $label $rw $qd $direct
				for t in uring vhost; do
					$PIN $VB --target $t --backend $path --name $label \
						--direct $mode --event-idx --rw $rw \
						--qd $qd --seconds "$SECS" || rc=1
				done
				# busy polling needs a CPU of its own
				[ -n "$PIN" ] && continue
				$VB --target vhost --poll-us $POLL_US --backend $path \
					--name $label --direct $mode --event-idx \
					--rw $rw --qd $qd --seconds "$SECS" || rc=1
			done
		done
	done
done
rm -f $FILE
rmmod brd
exit $rc
