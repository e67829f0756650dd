#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench_nic_share.sh - make bench-nic's sharing section inside the test VM
# (not a test; selftests/helpers/bench_nic.sh runs it after the one-guest
# modes).
#
#   bench_nic_share.sh [MODES [COUNTS]]    (default "kvm_assign vhost", "1 2 4")
#
# N second-level guests (1 vCPU each) at once, each sending TCP to the peer
# (the test VM's second e1000 under Linux, 10.99.0.1, on the same QEMU hub
# as the first) as fast as it can; the peer's "nicbench sink" tells them all
# to go at once, lets WARMUP seconds pass and counts what each guest
# delivers in one common WINDOW.  Per MODE, how the first e1000 reaches the
# guests:
#   kvm_assign  N kvm_assign-e1000 contexts on the one NIC, one per guest
#               (-device vfio-pci,sysfsdev=...), the stock e1000 driver;
#               the NIC's ctx_switches and each context's tx_packets,
#               sched_wait_us and tx_throttled are read at the window's
#               start and end
#   vhost       the NIC under Linux in a bridge with N taps, virtio-net
#               with vhost=on in each guest (what users pick today)
# Guest memory is 256 MiB, lowered to 160 MiB when the test VM's
# MemAvailable cannot hold N of them with room to spare, and N is lowered
# to what fits at 160 MiB (the line says so).  Prints one line per
# (MODE, N):
#   BENCH nicshare <mode> guests=N connected=K mem_mib=M window_us=T
#     agg_bytes_per_s=X per_guest=x1,x2,.. [ctx_switches=D tx_packets=P
#     sched_wait_us=W tx_throttled=Z]  (counter deltas over the window)
# or "BENCH-FAILED nicshare <mode> guests=N" when no guest got going;
# and after the kvm_assign guests, helpers/e1k_ctxbench's rounds (two
# contexts sending in turn from this process's memory against one alone):
#   BENCH nicctx single|pair frames=F us=T frames_per_s=R ctx_switches=D
# everything else as comments.  NIC_SHARE_WARMUP and NIC_SHARE_WINDOW
# (seconds, default 3 and 10) change the window.
case $(uname -r) in
*kvmio-debug*) L2_LIMIT=1200 ;;
*) L2_LIMIT=400 ;;
esac
# (kvmio.share_modes=a,b and kvmio.share_counts=1,2 on the test VM's
# command line, run-vm.sh --append, stand in for the arguments.)
CL_MODES=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^kvmio.share_modes=//p' | tr , ' ')
CL_COUNTS=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^kvmio.share_counts=//p' | tr , ' ')
MODES=${1:-${CL_MODES:-kvm_assign vhost}}
COUNTS=${2:-${CL_COUNTS:-1 2 4}}
WARMUP=${NIC_SHARE_WARMUP:-3}
WINDOW=${NIC_SHARE_WINDOW:-10}
L2=/usr/share/kvmio/l2
HELPERS=$(cd "$(dirname "$0")" && pwd)
NB=$HELPERS/nicbench
PEER_IP=10.99.0.1
PORT=5010
UUID0=5b2c1f6e-7a41-4e0b-9d1c-0000000e11
say() { echo "# share: $*"; }
# Every guest's QEMU on the test VM's last CPU, in both modes, as
# assign_e1000_share_guest_test.sh does: with several second-level guests
# free to run on both vCPUs, nested SVM under TCG took the test VM down
# (three runs in six) or left a guest that never got going.
L2_CPUS=$(sed 's/.*[-,]//' /sys/devices/system/cpu/online)

nic1=
nic2=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x8086 ] && [ "$(cat $d/device)" = 0x100e ] || continue
	if [ -z "$nic1" ]; then nic1=$(basename $d); else nic2=${nic2:-$(basename $d)}; fi
done
if [ -z "$nic2" ] || ! grep -qw svm /proc/cpuinfo; then
	say "skipped: needs two e1000s and SVM"
	exit 4
fi
NICSYS=/sys/bus/pci/devices/$nic1/kvm_assign_e1000
netdev_of() { ls /sys/bus/pci/devices/$1/net 2>/dev/null | head -n 1; }
noipv6() { echo 1 > /proc/sys/net/ipv6/conf/$1/disable_ipv6 2>/dev/null; }
mdev() { echo /sys/bus/mdev/devices/$UUID0$(printf %02d "$1"); }

GPIDS=
SPID=
cleanup() {
	for p in $GPIDS $SPID; do kill $p 2>/dev/null; done
	for i in 1 2 3 4 5 6 7 8 21 22; do
		[ -e "$(mdev $i)" ] && kvmio remove $UUID0$(printf %02d $i) > /dev/null
	done
	[ -e /sys/bus/pci/drivers/kvm_assign/$nic1 ] && kvmio unbind $nic1 > /dev/null
	ip link del br0 2>/dev/null
	for i in 1 2 3 4 5 6 7 8; do ip link del tap$i 2>/dev/null; done
	[ -n "$peer" ] && ip addr flush dev $peer && ip link set $peer down
}
trap cleanup EXIT

modprobe kvm_amd && modprobe vfio_iommu_type1 && modprobe e1000 || { say "modprobe failed"; exit 1; }
peer=$(netdev_of $nic2)
noipv6 $peer
ip addr flush dev $peer
ip addr add $PEER_IP/24 dev $peer
ip link set $peer up
i=0
while [ "$(cat /sys/class/net/$peer/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
say "peer $peer ($nic2) $(cat /sys/class/net/$peer/address) carrier $(cat /sys/class/net/$peer/carrier)"
cat $L2/initrd $L2/suite.cpio > /tmp/l2-share.cpio

# fit N: how many guests of which memory the test VM holds now (each
# guest's QEMU costs its RAM plus ~100 MiB; 256 MiB stay for the rest).
avail_mib() { echo $(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024)); }
fit() {
	a=$(avail_mib)
	n=$1
	MEM=256
	[ $((n * (MEM + 100) + 256)) -le $a ] && return
	MEM=160
	while [ $n -gt 1 ] && [ $((n * (MEM + 100) + 256)) -gt $a ]; do n=$((n - 1)); done
	FIT=$n
}

# run MODE N: one configuration; the NIC is set up for MODE already.
run() {
	mode=$1
	want=$2
	FIT=$want
	fit $want
	n=$FIT
	[ $n -lt $want ] && say "$mode: MemAvailable $(avail_mib) MiB holds only $n guests of $MEM MiB, not $want"
	files=
	i=1
	while [ $i -le $n ]; do
		case $mode in
		kvm_assign)
			u=$UUID0$(printf %02d $i)
			if ! kvmio create $nic1 $u > /tmp/share-create.out 2>&1; then
				say "$mode: only $((i - 1)) of $want contexts could be created: $(cat /tmp/share-create.out)"
				n=$((i - 1))
				break
			fi
			for t in 1 2 3 4 5 6 7 8 9 10; do
				[ "$(cat $(mdev $i)/e1000/link 2>/dev/null)" = up ] && break
				sleep 0.3
			done
			say "context $i $u mac $(cat $(mdev $i)/e1000/mac) link $(cat $(mdev $i)/e1000/link)"
			eval "DEV$i=\"-device vfio-pci,sysfsdev=$(mdev $i)\""
			files="$files $(mdev $i)/e1000/tx_packets $(mdev $i)/e1000/sched_wait_us $(mdev $i)/e1000/tx_throttled"
			;;
		vhost)
			tunctl -t tap$i > /dev/null
			noipv6 tap$i
			brctl addif br0 tap$i
			ip link set tap$i up
			eval "DEV$i=\"-netdev tap,id=n0,ifname=tap$i,script=no,downscript=no,vhost=on -device virtio-net-pci,netdev=n0,mac=52:54:00:12:35:$(printf %02d $i),romfile=\""
			files="$files /sys/class/net/tap$i/statistics/rx_packets"
			;;
		esac
		i=$((i + 1))
	done
	[ $mode = kvm_assign ] && files="$NICSYS/ctx_switches $files" &&
		say "NIC: contexts $(cat $NICSYS/contexts) rx_filter $(cat $NICSYS/rx_filter)" \
			"quantum $(cat $NICSYS/quantum) link_rate $(cat $NICSYS/link_rate) ring_share $(cat $NICSYS/ring_share)"
	if [ $n -lt 1 ]; then
		echo "BENCH-FAILED nicshare $mode guests=$want"
		return
	fi
	drv=e1000
	[ $mode = vhost ] && drv=virtio_net
	$NB sink $PORT $n $WARMUP $WINDOW 300 $files > /tmp/share-sink.out 2>&1 &
	SPID=$!
	start=$(date +%s)
	GPIDS=
	rm -f /tmp/share-l2-*.log /tmp/share-l2-*.txt /tmp/share-qemu-*.log
	i=1
	while [ $i -le $n ]; do
		eval "dev=\$DEV$i"
		# dev is split into options on purpose.
		taskset -c $L2_CPUS timeout -s KILL $L2_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m $MEM \
			-machine q35 -nodefaults -no-reboot -display none -serial file:/tmp/share-l2-$i.log \
			-L /usr/share/seabios -L /usr/share/qemu \
			-kernel $L2/vmlinuz -initrd /tmp/l2-share.cpio \
			-append "console=ttyS0 panic=-1 loglevel=4 ipv6.disable=1 kvmio.l2=nic kvmio.nic_drv=$drv kvmio.nic_ip=10.99.0.$((10 + i)) kvmio.nic_stream=$PORT" \
			$dev < /dev/null > /tmp/share-qemu-$i.log 2>&1 &
		GPIDS="$GPIDS $!"
		i=$((i + 1))
	done
	# Once every guest is sending-ready or gone, the sink is told to
	# wait for no one else.
	told=
	while kill -0 $SPID 2>/dev/null; do
		if [ -z "$told" ]; then
			left=0
			i=1
			for p in $GPIDS; do
				kill -0 $p 2>/dev/null && ! grep -q "stream ready" /tmp/share-l2-$i.log 2>/dev/null &&
					left=$((left + 1))
				i=$((i + 1))
			done
			if [ $left = 0 ]; then
				sleep 2
				kill -USR1 $SPID 2>/dev/null
				told=1
			fi
		fi
		sleep 1
	done
	wait $SPID
	SPID=
	sinkt=$(($(date +%s) - start))
	# The guests end when the sink closes; one that did not get going
	# waits for it forever: 60 s, then it is stopped.
	for t in $(seq 60); do
		left=
		for p in $GPIDS; do kill -0 $p 2>/dev/null && left=1; done
		[ -z "$left" ] && break
		sleep 1
	done
	i=1
	for p in $GPIDS; do
		kill -0 $p 2>/dev/null && say "guest $i (timeout+qemu $p) still running 60 s after the window: stopped" && kill $p
		wait $p
		say "guest $i: qemu exit $?, $(wc -c < /tmp/share-l2-$i.log) bytes on its serial port"
		i=$((i + 1))
	done
	GPIDS=
	say "$mode x$n: guests booted and sent ($sinkt s to the window's end), all off after $(($(date +%s) - start)) s; MemAvailable now $(avail_mib) MiB"
	sed 's/^/# share: sink: /' /tmp/share-sink.out
	i=1
	while [ $i -le $n ]; do
		tr -d '\r' < /tmp/share-l2-$i.log > /tmp/share-l2-$i.txt
		sed "s/^/# share: guest $i qemu: /" /tmp/share-qemu-$i.log
		grep -E "^KVMIO-L2-NIC: (interface|carrier|ping|stream|stat [rt]x_(packets|bytes|errors|dropped))" /tmp/share-l2-$i.txt |
			sed "s/^KVMIO-L2-NIC: /# share: guest $i: /"
		grep -q '^KVMIO-L2-NIC: done' /tmp/share-l2-$i.txt ||
			tail -n 30 /tmp/share-l2-$i.txt | sed "s/^/# share: guest $i l2: /"
		i=$((i + 1))
	done
	# Per guest, by its address, in guest order; a guest the sink never
	# saw counts as 0.
	per=
	i=1
	while [ $i -le $n ]; do
		r=$(sed -n "s/^NICBENCH sink conn=[0-9]* from=10\.99\.0\.$((10 + i)) .*bytes_per_s=\([0-9]*\).*/\1/p" /tmp/share-sink.out)
		per="$per${per:+,}${r:-0}"
		i=$((i + 1))
	done
	conn=$(sed -n 's/^NICBENCH sink connected=\([0-9]*\).*/\1/p' /tmp/share-sink.out)
	tot=$(sed -n 's/^NICBENCH sink total window_us=\([0-9]*\) .*bytes_per_s=\([0-9]*\).*/\1 \2/p' /tmp/share-sink.out)
	if [ -z "$tot" ] || [ "${conn:-0}" = 0 ]; then
		echo "BENCH-FAILED nicshare $mode guests=$want"
	else
		extra=
		if [ $mode = kvm_assign ]; then
			extra=$(awk '/^NICBENCH sink file=/ {
				split($4, b, "="); split($5, a, "="); d = a[2] - b[2]
				if ($3 ~ /ctx_switches/) sw += d
				else if ($3 ~ /tx_packets/) tp += d
				else if ($3 ~ /sched_wait_us/) sw_us += d
				else if ($3 ~ /tx_throttled/) th += d
			} END { printf "ctx_switches=%d tx_packets=%d sched_wait_us=%d tx_throttled=%d", sw, tp, sw_us, th }' \
				/tmp/share-sink.out)
		fi
		echo "BENCH nicshare $mode guests=$want connected=$conn of=$n mem_mib=$MEM window_us=${tot% *}" \
			"agg_bytes_per_s=${tot#* } per_guest=$per $extra"
	fi
	# take the configuration down
	i=1
	while [ $i -le $n ]; do
		case $mode in
		kvm_assign)
			for f in tx_packets tx_bytes rx_packets tx_switched rx_switched tx_spoofed tx_throttled sched_wait_us rx_no_buffer tx_bad_desc tx_faults; do
				printf '%s=%s ' $f "$(cat $(mdev $i)/e1000/$f)"
			done | sed "s/^/# share: context $i: /"; echo
			kvmio remove $UUID0$(printf %02d $i) > /dev/null || say "kvmio remove context $i failed"
			;;
		vhost)
			ip link del tap$i
			;;
		esac
		i=$((i + 1))
	done
}

# ctxbench: the scheduler's switch cost from VFIO, no guest
# (helpers/e1k_ctxbench.c): two contexts sending 1514-byte frames from
# this process's memory in turn against one context sending them all.
ctxbench() {
	u1=${UUID0}21
	u2=${UUID0}22
	if ! kvmio create $nic1 $u1 > /tmp/share-create.out 2>&1; then
		say "ctxbench: kvmio create failed: $(cat /tmp/share-create.out)"
		return
	fi
	if ! kvmio create $nic1 $u2 > /tmp/share-create.out 2>&1; then
		say "ctxbench: the second context could not be created, one context only: $(cat /tmp/share-create.out)"
		u2=-
	fi
	for t in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(cat /sys/bus/mdev/devices/$u1/e1000/link 2>/dev/null)" = up ] && break
		sleep 0.3
	done
	"$HELPERS/e1k_ctxbench" $nic1 $u1 $u2 ${NIC_SHARE_CTX_FRAMES:-16384} 3 > /tmp/share-ctx.out 2>&1
	say "ctxbench exit $?"
	grep -v "^NICBENCH ctxbench mode=\(single\|pair\)" /tmp/share-ctx.out | sed 's/^/# share: ctxbench: /'
	sed -n 's/^NICBENCH ctxbench mode=\(single\|pair\) /BENCH nicctx \1 /p' /tmp/share-ctx.out
	for u in $u1 $u2; do
		[ "$u" = - ] && continue
		printf 'tx_packets=%s tx_bytes=%s tx_throttled=%s sched_wait_us=%s tx_bad_desc=%s' \
			"$(cat /sys/bus/mdev/devices/$u/e1000/tx_packets)" "$(cat /sys/bus/mdev/devices/$u/e1000/tx_bytes)" \
			"$(cat /sys/bus/mdev/devices/$u/e1000/tx_throttled)" "$(cat /sys/bus/mdev/devices/$u/e1000/sched_wait_us)" \
			"$(cat /sys/bus/mdev/devices/$u/e1000/tx_bad_desc)" | sed "s/^/# share: ctxbench context $u: /"; echo
		kvmio remove $u > /dev/null || say "ctxbench: kvmio remove $u failed"
	done
}

for mode in $MODES; do
	e1=$(netdev_of $nic1)
	case $mode in
	kvm_assign)
		if ! grep -q "8086:100e" /sys/bus/pci/drivers/kvm_assign/models 2>/dev/null; then
			say "kvm_assign: skipped, no e1000 model"
			continue
		fi
		kvmio bind $nic1 > /tmp/share-bind.out 2>&1 || { say "kvmio bind: $(cat /tmp/share-bind.out)"; continue; }
		say "NIC $nic1: available_instances $(cat /sys/bus/pci/devices/$nic1/mdev_supported_types/kvm_assign-e1000/available_instances 2>&1)"
		;;
	vhost)
		modprobe bridge && modprobe tun && modprobe vhost_net
		ip link add br0 type bridge || brctl addbr br0
		echo 0 > /sys/class/net/br0/bridge/stp_state
		echo 0 > /sys/class/net/br0/bridge/forward_delay
		echo 1 > /proc/sys/net/ipv4/conf/br0/arp_ignore
		noipv6 br0
		noipv6 $e1
		brctl addif br0 $e1
		ip link set $e1 up
		ip link set br0 up
		;;
	esac
	for c in $COUNTS; do
		run $mode $c
	done
	[ $mode = kvm_assign ] && ctxbench
	case $mode in
	kvm_assign) kvmio unbind $nic1 > /dev/null || say "kvmio unbind failed" ;;
	vhost) ip link del br0 ;;
	esac
done
exit 0
