#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# assign_e1000_guest_test.sh - full stack: a stock QEMU on nested KVM boots
# a second-level Linux guest whose stock e1000 driver runs the test VM's
# first e1000 (52:54:00:12:34:01) through kvm_assign
# (-device vfio-pci,sysfsdev=/sys/bus/mdev/devices/<uuid>).  The second
# e1000 (…:02) stays with the test VM's own e1000 driver as the peer,
# 10.99.0.1/24, on the same QEMU hub ("the wire").
#
#   assign_e1000_guest_test.sh [MODE [bench]]
#
# The guest (selftests/vm/l2-nic.sh) gets carrier, takes 10.99.0.2/24,
# pings the peer, moves 4 MiB of random data each way over TCP (checksums
# compared here) and times UDP round trips, then prints its interface
# counters, which are compared with the host side's count of the same
# frames.  MODE says how the NIC reaches the guest (default: kvmio.e1000_mode=
# on the kernel command line, else kvm_assign):
#   kvm_assign  the first e1000 bound to kvm_assign, one kvm_assign-e1000
#               context, -device vfio-pci,sysfsdev=...; host counters from
#               /sys/bus/mdev/devices/<uuid>/e1000/ (the test; SKIP when
#               kvm_assign has no e1000 model)
#   emulated    the first e1000 stays with Linux, bridged (br0) with a tap;
#               the guest's QEMU emulates an e1000 on the tap
#   vhost       the same bridge, virtio-net with vhost=on
#   vfio        the first e1000 bound to vfio-pci, -device vfio-pci,host=
#               (needs an IOMMU in the test VM: run-vm.sh --iommu)
# The last three are for make bench-nic (selftests/helpers/bench_nic.sh),
# which passes "bench": a larger transfer, more round trips, and a
# "BENCH nic <mode> ..." line.
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
. $HELPERS/nic_common.sh
MODE=$1
BENCH=$2
if [ -z "$MODE" ]; then
	MODE=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^kvmio.e1000_mode=//p')
	MODE=${MODE:-kvm_assign}
fi
KIB=4096
PINGS=20
if [ "$BENCH" = bench ]; then
	KIB=${NIC_BENCH_KIB:-16384}
	PINGS=200
fi
UUID=5b2c1f6e-7a41-4e0b-9d1c-0000000e1000
MDEV=/sys/bus/mdev/devices/$UUID

echo "TAP version 13"
echo "# mode $MODE${BENCH:+ (bench)}"
find_e1000s
if [ -z "$nic2" ] || ! grep -qw svm /proc/cpuinfo; then
	echo "1..0 # SKIP needs two e1000s and SVM"
	exit 4
fi
case "$MODE" in
kvm_assign)
	if ! grep -q "8086:100e" /sys/bus/pci/drivers/kvm_assign/models 2>/dev/null; then
		echo "# kvm_assign models: $(tr '\n' ' ' < /sys/bus/pci/drivers/kvm_assign/models 2>&1)"
		echo "1..0 # SKIP kvm_assign has no e1000 model (no mdev type kvm_assign-e1000)"
		exit 4
	fi ;;
vfio)
	if [ -z "$(ls /sys/class/iommu 2>/dev/null)" ]; then
		echo "1..0 # SKIP mode vfio needs an IOMMU in the test VM (run-vm.sh --iommu)"
		exit 4
	fi ;;
emulated|vhost) ;;
*) echo "# unknown mode $MODE"; echo "1..0"; exit 1 ;;
esac

PIDS=
cleanup() {
	for p in $PIDS; do kill $p 2>/dev/null; done
	[ -e $MDEV ] && kvmio remove $UUID >/dev/null
	[ -e /sys/bus/pci/drivers/kvm_assign/$nic1 ] && kvmio unbind $nic1 >/dev/null
	if [ -e /sys/bus/pci/drivers/vfio-pci/$nic1 ]; then
		echo $nic1 > /sys/bus/pci/drivers/vfio-pci/unbind
		echo > /sys/bus/pci/devices/$nic1/driver_override
		echo $nic1 > /sys/bus/pci/drivers_probe
	fi
	ip link del br0 2>/dev/null
	ip link del tap0 2>/dev/null
	[ -n "$peer" ] && ip addr flush dev $peer && ip link set $peer down
	# kvm stays loaded (see Documentation/testing.rst, second-level guests)
}
trap cleanup EXIT

peer_setup

GUEST_MAC=52:54:00:12:34:11
DRV=e1000
case "$MODE" in
kvm_assign)
	kvmio bind $nic1 > /tmp/bind.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/bind.out
	check "kvmio bind $nic1" "[ $rc -eq 0 ]"
	if [ ! -d /sys/bus/pci/devices/$nic1/mdev_supported_types/kvm_assign-e1000 ]; then
		echo "# mdev types: $(ls /sys/bus/pci/devices/$nic1/mdev_supported_types 2>&1)"
		echo "1..$n # SKIP no mdev type kvm_assign-e1000"
		exit 4
	fi
	check "kvmio create an e1000 context" \
		"kvmio create $nic1 $UUID | grep -q sysfsdev=$MDEV"
	check "context's MAC defaults to the NIC's (52:54:00:12:34:01)" \
		"[ \"\$(cat $MDEV/e1000/mac)\" = 52:54:00:12:34:01 ]"
	# The NIC's own driver just let it go: QEMU's autonegotiation may still
	# hold the link down for half a second after that driver's PHY reset.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(cat $MDEV/e1000/link)" = up ] && break
		sleep 0.3
	done
	check "context sees the physical link up" "[ \"\$(cat $MDEV/e1000/link)\" = up ]"
	GUEST_MAC=52:54:00:12:34:01
	NICDEV="-device vfio-pci,sysfsdev=$MDEV"
	;;
vfio)
	modprobe vfio_pci
	echo $nic1 > /sys/bus/pci/devices/$nic1/driver/unbind
	echo vfio-pci > /sys/bus/pci/devices/$nic1/driver_override
	echo $nic1 > /sys/bus/pci/drivers_probe
	check "$nic1 bound to vfio-pci" "[ -e /sys/bus/pci/drivers/vfio-pci/$nic1 ]"
	GUEST_MAC=52:54:00:12:34:01
	NICDEV="-device vfio-pci,host=$nic1"
	;;
emulated|vhost)
	modprobe bridge && modprobe tun
	[ "$MODE" = vhost ] && modprobe vhost_net
	ip link add br0 type bridge || brctl addbr br0
	echo 0 > /sys/class/net/br0/bridge/stp_state
	echo 0 > /sys/class/net/br0/bridge/forward_delay
	# br0 has no address and must not answer ARP for the peer's.
	echo 1 > /proc/sys/net/ipv4/conf/br0/arp_ignore
	tunctl -t tap0 > /dev/null
	for d in br0 tap0 $e1; do noipv6 $d; done
	brctl addif br0 $e1 && brctl addif br0 tap0
	for d in $e1 tap0 br0; do ip link set $d up; done
	check "bridge br0 holds $e1 and tap0" \
		"[ -e /sys/class/net/br0/brif/$e1 ] && [ -e /sys/class/net/br0/brif/tap0 ]"
	if [ "$MODE" = vhost ]; then
		check "/dev/vhost-net exists" "[ -c /dev/vhost-net ]"
		NICDEV="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on -device virtio-net-pci,netdev=n0,mac=$GUEST_MAC,romfile="
		DRV=virtio_net
	else
		NICDEV="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device e1000,netdev=n0,mac=$GUEST_MAC,romfile="
	fi
	;;
esac

# The peer's side: what the guest sends (5001), what it takes (5002),
# UDP echo (5003).
dd if=/dev/urandom of=/tmp/nic-down bs=1024 count=$KIB 2>/dev/null
down_sum=$(sha256sum /tmp/nic-down | cut -d' ' -f1)
rm -f /tmp/nic-up
$HELPERS/nicbench listen 5001 recv /tmp/nic-up $L2_LIMIT > /tmp/nic-peer-up.out 2>&1 &
PIDS="$PIDS $!"
$HELPERS/nicbench listen 5002 send /tmp/nic-down $L2_LIMIT > /tmp/nic-peer-down.out 2>&1 &
PIDS="$PIDS $!"
$HELPERS/nicbench udp-echo 5003 $PINGS $L2_LIMIT > /tmp/nic-peer-udp.out 2>&1 &
PIDS="$PIDS $!"
peer_rx0=$(stat_of $peer rx_packets)
peer_tx0=$(stat_of $peer tx_packets)
peer_rxb0=$(stat_of $peer rx_bytes)
peer_txb0=$(stat_of $peer tx_bytes)

start=$(date +%s)
# NICDEV is split into options on purpose.
l2_start nic "kvmio.nic_drv=$DRV kvmio.nic_kib=$KIB kvmio.nic_pings=$PINGS" $NICDEV
wait $L2_PID
rc=$?
l2_report nic $rc $(($(date +%s) - start))
peer_rx=$(($(stat_of $peer rx_packets) - peer_rx0))
peer_tx=$(($(stat_of $peer tx_packets) - peer_tx0))
peer_rxb=$(($(stat_of $peer rx_bytes) - peer_rxb0))
peer_txb=$(($(stat_of $peer tx_bytes) - peer_txb0))
sleep 1
for f in /tmp/nic-peer-*.out; do sed "s|^|# peer $(basename $f .out): |" $f; done

g() { l2_say nic "$1"; }
check "guest ran to the end" "grep -q '^KVMIO-L2-NIC: done' /tmp/l2-nic.txt"
check "guest: the NIC has driver $DRV and MAC $GUEST_MAC" \
	"g 'interface ' | grep -q 'driver $DRV address $GUEST_MAC'"
check "guest: carrier (link up)" "g 'carrier ' | grep -q '^1 '"
check "guest: 5 pings to the peer, all answered" \
	"g 'ping ' | grep -q '5 packets transmitted, 5 packets received'"
check "guest -> peer: $KIB KiB arrived intact (sha256)" \
	"[ \"\$(g 'sha256 up ')\" = \"\$(sha256sum /tmp/nic-up 2>/dev/null | cut -d' ' -f1)\" ] && [ \"\$(stat -c %s /tmp/nic-up 2>/dev/null)\" = $((KIB * 1024)) ]"
check "peer -> guest: $KIB KiB arrived intact (sha256)" \
	"[ \"\$(g 'sha256 down ')\" = $down_sum ]"
check "guest: $PINGS UDP round trips, none lost" \
	"g 'rtt NICBENCH udp rtt ' | grep -q 'count=$PINGS lost=0 '"

gtx=$(g 'stat tx_packets ')
grx=$(g 'stat rx_packets ')
echo "# guest counters: tx_packets $gtx rx_packets $grx tx_bytes $(g 'stat tx_bytes ') rx_bytes $(g 'stat rx_bytes ')" \
	"tx_errors $(g 'stat tx_errors ') rx_errors $(g 'stat rx_errors ') rx_dropped $(g 'stat rx_dropped ') rx_missed_errors $(g 'stat rx_missed_errors ')"
# The wire's count (the peer's) is not compared: GSO and GRO in the test
# VM's drivers and the QEMUs' own TSO segmentation count frames differently.
echo "# peer $peer during the run: rx_packets $peer_rx tx_packets $peer_tx rx_bytes $peer_rxb tx_bytes $peer_txb"
[ -e /sys/class/net/tap0 ] && echo "# tap0: rx_packets $(stat_of tap0 rx_packets) tx_packets $(stat_of tap0 tx_packets)" \
	"rx_bytes $(stat_of tap0 rx_bytes) tx_bytes $(stat_of tap0 tx_bytes) tx_dropped $(stat_of tap0 tx_dropped)"
check "guest: no transmit errors" "[ \"\$(g 'stat tx_errors ')\" = 0 ]"
case "$MODE" in
kvm_assign)
	for f in $MDEV/e1000/*; do
		[ -f $f ] && echo "# host e1000/$(basename $f): $(cat $f)"
	done
	# What the guest's register accesses cost: each is a VMM exit.
	for f in bar_reads bar_writes irqs_delivered pages_pinned; do
		echo "# host kvm_assign/$f: $(cat $MDEV/kvm_assign/$f)"
	done
	htx=$(cat $MDEV/e1000/tx_packets)
	hrx=$(cat $MDEV/e1000/rx_packets)
	check "host: model's tx_packets $htx agrees with the guest's $gtx" "near '$htx' '$gtx'"
	check "host: model's rx_packets $hrx agrees with the guest's $grx" "near '$hrx' '$grx'"
	hnb=$(cat $MDEV/e1000/rx_no_buffer)
	gmiss=$(g 'stat rx_missed_errors ')
	check "host: model's rx_no_buffer $hnb is the guest's rx_missed_errors $gmiss (MPC)" "near '$hnb' '$gmiss'"
	check "host: no bad descriptors, rings or DMA faults" \
		"[ \$(cat $MDEV/e1000/tx_bad_desc) -eq 0 ] && [ \$(cat $MDEV/e1000/tx_bad_ring) -eq 0 ] && [ \$(cat $MDEV/e1000/tx_faults) -eq 0 ] && [ \$(cat $MDEV/e1000/rx_faults) -eq 0 ]"
	kvmio e1000 $UUID 2>&1 | sed 's/^/# kvmio e1000: /'
	check "kvmio remove the context" "kvmio remove $UUID"
	check "kvmio unbind gives the NIC back to e1000" \
		"kvmio unbind $nic1 >/dev/null && [ -e /sys/bus/pci/drivers/e1000/$nic1 ]"
	;;
emulated|vhost)
	# The guest's QEMU emulating an e1000 segments the guest's TSO
	# frames on its own terms (more, shorter frames than the driver's
	# gso_segs count): in that mode only the receive side is compared.
	htx=$(stat_of tap0 rx_packets)
	hrx=$(stat_of tap0 tx_packets)
	[ "$MODE" = vhost ] &&
		check "host: tap0 took $htx frames, the guest sent $gtx" "near '$htx' '$gtx'"
	check "host: tap0 gave $hrx frames, the guest took $grx" "near '$hrx' '$grx'"
	;;
esac
if [ "$BENCH" = bench ]; then
	up=$(g 'up NICBENCH tcp send ' | sed -n 's/.*bytes_per_s=\([0-9]*\).*/\1/p')
	down=$(g 'down NICBENCH tcp recv ' | sed -n 's/.*bytes_per_s=\([0-9]*\).*/\1/p')
	rtt=$(g 'rtt NICBENCH udp rtt ')
	echo "BENCH nic $MODE up_bytes_per_s=${up:-0} down_bytes_per_s=${down:-0}" \
		"rtt_median_us=$(echo "$rtt" | sed -n 's/.*median_us=\([0-9]*\).*/\1/p')" \
		"rtt_p99_us=$(echo "$rtt" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p') kib=$KIB pings=$PINGS"
fi
echo "1..$n"
exit $fail
