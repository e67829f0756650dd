#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# assign_e1000_share_guest_test.sh - full stack, one NIC shared: four (or
# N) second-level Linux guests, each in its own stock QEMU on nested KVM
# with its own kvm_assign-e1000 context of the test VM's first e1000
# (-device vfio-pci,sysfsdev=...), each with the stock e1000 driver.  The
# second e1000 stays with the test VM's driver as the peer, 10.99.0.1/24,
# on the same QEMU hub ("the wire").
#
#   assign_e1000_share_guest_test.sh [MODE]
#
# Guest i takes 10.99.0.(2+i) and the MAC its context shows in sysfs; all
# of them at the same time (selftests/vm/l2-nic.sh with kvmio.nic_mates):
# ping the peer and every other guest, send 1 MiB of random data to the
# peer and take 1 MiB from it, and send 1 MiB to every other guest (sha256
# compared at both ends).  Guest-to-guest frames never reach the wire on a
# shared NIC: they are switched inside the model, so every context's
# tx_switched and rx_switched must rise, and the peer, watching the wire
# promiscuously (nicbench sniff), must see no unicast from one guest's MAC
# to another's.  The per-context counters (kvmio sched show) are printed.
# Before the guests start, kvmio sched is tried on the contexts' knobs
# (show, set, nic; refusals with their errno; usage errors).
#
# MODE (default: kvmio.e1000_mode= on the kernel command line, else
# kvm_assign):
#   kvm_assign  the test.  SKIP when kvm_assign has no e1000 model or its
#               kvm_assign-e1000 type offers one context per NIC
#               (available_instances 1: no NIC sharing in that kernel).
#   emulated    the same guests on QEMU-emulated e1000s on taps bridged
#               with the first e1000 (no sharing checks): checks the
#               test's own guest-side machinery on any kernel.
# Guests: kvmio.share_guests=N on the kernel command line (default 4).
# Time under TCG: see Documentation/kvm_assign.rst, "Sharing one NIC".
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
. $HELPERS/nic_common.sh
MODE=$1
if [ -z "$MODE" ]; then
	MODE=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^kvmio.e1000_mode=//p')
	MODE=${MODE:-kvm_assign}
fi
GUESTS=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^kvmio.share_guests=//p')
GUESTS=${GUESTS:-4}
# The guests share one vCPU (below): more of them take longer.
[ "$GUESTS" -gt 2 ] && L2_LIMIT=$((L2_LIMIT * GUESTS / 2))
KIB=1024
MATE_KIB=1024
UUID_BASE=5b2c1f6e-7a41-4e0b-9d1c-00000e1000
KVMIO_MAC=02:6b:76:6d:69:6f	# what kvmio sched set mac= writes, then undoes
uuid_of() { printf '%s%02d' $UUID_BASE $1; }
mdev_of() { echo /sys/bus/mdev/devices/$(uuid_of $1); }
ip_of() { echo 10.99.0.$((2 + $1)); }
# Guests are numbered 0..GUESTS-1.
seq_guests() { i=0; while [ $i -lt $GUESTS ]; do echo $i; i=$((i + 1)); done; }

echo "TAP version 13"
echo "# mode $MODE, $GUESTS guests"
find_e1000s
if [ -z "$nic2" ] || ! grep -qw svm /proc/cpuinfo; then
	echo "1..0 # SKIP needs two e1000s and SVM"
	exit 4
fi
if [ "$GUESTS" -lt 2 ] || [ "$GUESTS" -gt 8 ]; then
	echo "# kvmio.share_guests=$GUESTS: 2..8"
	echo "1..0"
	exit 1
fi
case "$MODE" in
kvm_assign)
	if ! grep -q "8086:100e" /sys/bus/pci/drivers/kvm_assign/models 2>/dev/null; then
		echo "1..0 # SKIP kvm_assign has no e1000 model (no mdev type kvm_assign-e1000)"
		exit 4
	fi ;;
emulated) ;;
*) echo "# unknown mode $MODE"; echo "1..0"; exit 1 ;;
esac

PIDS=
SNIFF=
cleanup() {
	for p in $PIDS $SNIFF; do kill $p 2>/dev/null; done
	for i in $(seq_guests); do
		[ -e $(mdev_of $i) ] && kvmio remove $(uuid_of $i) >/dev/null
		ip link del tap$i 2>/dev/null
	done
	[ -e /sys/bus/pci/drivers/kvm_assign/$nic1 ] && kvmio unbind $nic1 >/dev/null
	ip link del br0 2>/dev/null
	[ -n "$peer" ] && ip addr flush dev $peer && ip link set $peer down
	# kvm stays loaded (see Documentation/testing.rst, second-level guests)
}
trap cleanup EXIT

# Whether this kernel shares a NIC, asked before any case is printed so
# that a kernel without sharing counts as one skip.
T=/sys/bus/pci/devices/$nic1/mdev_supported_types/kvm_assign-e1000
if [ "$MODE" = kvm_assign ]; then
	kvmio bind $nic1 > /tmp/bind.out 2>&1
	bind_rc=$?
	sed 's/^/# /' /tmp/bind.out
	if [ $bind_rc -eq 0 ] && [ ! -d $T ]; then
		echo "# mdev types: $(ls /sys/bus/pci/devices/$nic1/mdev_supported_types 2>&1)"
		echo "1..0 # SKIP no mdev type kvm_assign-e1000"
		exit 4
	fi
	avail=$(cat $T/available_instances 2>/dev/null)
	if [ $bind_rc -eq 0 ] && [ "${avail:-0}" -le 1 ]; then
		echo "1..0 # SKIP kvm_assign-e1000 offers ${avail:-no} context per NIC (available_instances ${avail:-?}: this kernel does not share a NIC)"
		exit 4
	fi
fi

peer_setup

# kvmio sched against the contexts' sysfs, before any VMM holds them.
# c: the second context (the first has the NIC's own MAC).
sched_tool_checks() {
	local c=$(uuid_of 1) m=$(mdev_of 1)/e1000 mac0 mac1 rc
	kvmio sched show $nic1 > /tmp/sched.out 2>&1
	rc=$?
	sed 's/^/# kvmio sched show: /' /tmp/sched.out
	check "kvmio sched show $nic1: the NIC's knobs and one line per context" \
		"[ $rc -eq 0 ] && grep -q 'quantum=' /tmp/sched.out && grep -q 'ring_share=' /tmp/sched.out && [ \$(grep -c '$UUID_BASE' /tmp/sched.out) -eq $GUESTS ]"
	check "kvmio sched show UUID: the context's NIC, the context marked" \
		"kvmio sched show $c | grep -q '^\*$c $(cat $m/mac) '"
	check "kvmio sched set weight=3 rate_bytes=0 rate_packets=0 trusted=0 allow_spoof=0" \
		"kvmio sched set $c weight=3 rate_bytes=0 rate_packets=0 trusted=0 allow_spoof=0 >/dev/null && [ \"\$(cat $m/weight)\" = 3 ] && [ \"\$(cat $m/rate_bytes)\" = 0 ]"
	kvmio sched set $c weight=0 > /tmp/sched.err 2>&1
	rc=$?
	sed 's/^/# kvmio sched set weight=0: /' /tmp/sched.err
	check "kvmio sched set weight=0: refused, exit 1, names the attribute, its errno and range" \
		"[ $rc -eq 1 ] && grep -q '/weight' /tmp/sched.err && grep -Eq 'Invalid argument|out of range' /tmp/sched.err && grep -q '1\.\.100' /tmp/sched.err && [ \"\$(cat $m/weight)\" = 3 ]"
	kvmio sched set $c weight=1 > /dev/null
	mac0=$(cat $(mdev_of 0)/e1000/mac)
	mac1=$(cat $m/mac)
	kvmio sched set $c mac=$mac0 > /tmp/sched.err 2>&1
	rc=$?
	sed 's/^/# kvmio sched set mac=(the first context'"'"'s): /' /tmp/sched.err
	check "kvmio sched set mac= another context's MAC: EADDRINUSE, exit 1" \
		"[ $rc -eq 1 ] && grep -q 'Address already in use' /tmp/sched.err && [ \"\$(cat $m/mac)\" = $mac1 ]"
	check "kvmio sched set mac=$KVMIO_MAC while closed, and back" \
		"kvmio sched set $c mac=$KVMIO_MAC >/dev/null && [ \"\$(cat $m/mac)\" = $KVMIO_MAC ] && kvmio sched set $c mac=$mac1 >/dev/null && [ \"\$(cat $m/mac)\" = $mac1 ]"
	kvmio sched set $c weight=1 bogus=1 > /dev/null 2>&1
	rc=$?
	kvmio sched set $c weight=2 trusted=2 > /dev/null 2>&1
	check "kvmio sched set: unknown knob, bad value: usage (exit 2), nothing written" \
		"[ $rc -eq 2 ] && [ $? -eq 2 ] && [ \"\$(cat $m/weight)\" = 1 ] && [ \"\$(cat $m/trusted)\" = 0 ]"
	check "kvmio sched nic quantum=1514 link_rate=0 ring_share=128 (the defaults)" \
		"kvmio sched nic $nic1 quantum=1514 link_rate=0 ring_share=128 >/dev/null && [ \"\$(cat /sys/bus/pci/devices/$nic1/kvm_assign_e1000/quantum)\" = 1514 ]"
	kvmio sched nic $nic1 ring_share=1000 > /tmp/sched.err 2>&1
	rc=$?
	sed 's/^/# kvmio sched nic ring_share=1000: /' /tmp/sched.err
	check "kvmio sched nic ring_share=1000: refused, exit 1, names the attribute" \
		"[ $rc -eq 1 ] && grep -q '/ring_share' /tmp/sched.err && [ \"\$(cat /sys/bus/pci/devices/$nic1/kvm_assign_e1000/ring_share)\" = 128 ]"
	kvmio sched > /dev/null 2>&1
	check "kvmio sched without a subcommand: usage, exit 2" "[ $? -eq 2 ]"
}

MACS=
case "$MODE" in
kvm_assign)
	check "kvmio bind $nic1" "[ $bind_rc -eq 0 ]"
	[ $bind_rc -eq 0 ] || { echo "1..$n"; exit 1; }
	if [ "$avail" -lt $GUESTS ]; then
		echo "# available_instances $avail: $avail guests instead of $GUESTS"
		GUESTS=$avail
	fi
	created=0
	for i in $(seq_guests); do
		kvmio create $nic1 $(uuid_of $i) > /tmp/create.out 2>&1
		sed 's/^/# /' /tmp/create.out
		check "kvmio create context $i on $nic1" \
			"grep -q sysfsdev=$(mdev_of $i) /tmp/create.out" && created=$((created + 1))
	done
	check "available_instances went from $avail to $((avail - GUESTS)) (reads $(cat $T/available_instances))" \
		"[ \"\$(cat $T/available_instances)\" = $((avail - GUESTS)) ]"
	if [ $created -lt $GUESTS ]; then
		echo "# only $created of $GUESTS contexts: no guests booted"
		echo "1..$n"
		exit 1
	fi
	check "context 0's MAC is the NIC's (52:54:00:12:34:01)" \
		"[ \"\$(cat $(mdev_of 0)/e1000/mac)\" = 52:54:00:12:34:01 ]"
	for i in $(seq_guests); do
		MACS="${MACS:+$MACS }$(cat $(mdev_of $i)/e1000/mac)"
	done
	echo "# context MACs: $MACS"
	check "contexts have $GUESTS distinct MACs, the later ones locally administered (02)" \
		"[ \$(echo $MACS | tr ' ' '\n' | sort -u | wc -l) -eq $GUESTS ] && ! echo '$MACS' | tr ' ' '\n' | sed 1d | grep -qv '^.[2367abef]:'"
	sched_tool_checks
	# The NIC's own driver just let it go: QEMU's autonegotiation may
	# still hold the link down for half a second after its PHY reset.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(cat $(mdev_of 0)/e1000/link)" = up ] && break
		sleep 0.3
	done
	check "contexts see the physical link up" \
		"[ \"\$(cat $(mdev_of 0)/e1000/link)\" = up ]"
	;;
emulated)
	modprobe bridge && modprobe tun
	ip link add br0 type bridge || brctl addbr br0
	echo 0 > /sys/class/net/br0/bridge/stp_state
	echo 0 > /sys/class/net/br0/bridge/forward_delay
	echo 1 > /proc/sys/net/ipv4/conf/br0/arp_ignore
	noipv6 br0
	noipv6 $e1
	brctl addif br0 $e1
	for i in $(seq_guests); do
		tunctl -t tap$i > /dev/null
		noipv6 tap$i
		brctl addif br0 tap$i
		ip link set tap$i up
		MACS="${MACS:+$MACS }52:54:00:12:34:$((20 + i))"
	done
	ip link set $e1 up
	ip link set br0 up
	check "bridge br0 holds $e1 and $GUESTS taps" \
		"[ \$(ls /sys/class/net/br0/brif | wc -l) -eq $((GUESTS + 1)) ]"
	;;
esac
mac_of() { echo $MACS | cut -d' ' -f$(($1 + 1)); }
nicdev_of() {
	if [ "$MODE" = kvm_assign ]; then
		echo "-device vfio-pci,sysfsdev=$(mdev_of $1)"
	else
		echo "-netdev tap,id=n0,ifname=tap$1,script=no,downscript=no -device e1000,netdev=n0,mac=$(mac_of $1),romfile="
	fi
}

# The peer's side, per guest i: what it sends (5001+10i), what it takes
# (5002+10i).  The wire watched for guest-to-guest unicast.
dd if=/dev/urandom of=/tmp/share-down bs=1024 count=$KIB 2>/dev/null
down_sum=$(sha256sum /tmp/share-down | cut -d' ' -f1)
for i in $(seq_guests); do
	rm -f /tmp/share-up-$i
	$HELPERS/nicbench listen $((5001 + 10 * i)) recv /tmp/share-up-$i $L2_LIMIT > /tmp/share-peer-up-$i.out 2>&1 &
	PIDS="$PIDS $!"
	$HELPERS/nicbench listen $((5002 + 10 * i)) send /tmp/share-down $L2_LIMIT > /tmp/share-peer-down-$i.out 2>&1 &
	PIDS="$PIDS $!"
done
$HELPERS/nicbench sniff $peer $L2_LIMIT $MACS > /tmp/share-sniff.out 2>&1 &
SNIFF=$!

# Every guest's QEMU on the test VM's last CPU.  With guests free to run
# on both vCPUs (two or four), three runs in six died at once, the kernel
# panicking with "corrupted stack end detected inside scheduler" in a
# second-level QEMU's thread (once with no kvmio module in the data path:
# emulated mode), never seen with one guest at a time.
L2_CPUS=$(sed 's/.*[-,]//' /sys/devices/system/cpu/online)
echo "# second-level QEMUs on cpu $L2_CPUS"
start=$(date +%s)
QPIDS=
for i in $(seq_guests); do
	mates=
	for j in $(seq_guests); do
		[ $j = $i ] || mates="$mates${mates:+,}$(ip_of $j)"
	done
	# nicdev_of is split into options on purpose.
	l2_start g$i "kvmio.nic_drv=e1000 kvmio.nic_kib=$KIB kvmio.nic_pings=0 kvmio.nic_ip=$(ip_of $i) kvmio.nic_port=$((5000 + 10 * i)) kvmio.nic_mates=$mates kvmio.nic_mate_kib=$MATE_KIB" \
		$(nicdev_of $i)
	QPIDS="$QPIDS $L2_PID"
done
i=0
for p in $QPIDS; do
	wait $p
	eval rc$i=$?
	eval t$i=$(($(date +%s) - start))
	i=$((i + 1))
done
echo "# all $GUESTS guests ran in $(($(date +%s) - start)) s"
kill $SNIFF 2>/dev/null
wait $SNIFF
SNIFF=
sed 's/^/# peer sniff: /' /tmp/share-sniff.out
for f in /tmp/share-peer-*.out; do sed "s|^|# peer $(basename $f .out): |" $f; done

# Every guest's report first: the checks below read each other's.
for i in $(seq_guests); do
	eval l2_report g$i \$rc$i \$t$i
done
for i in $(seq_guests); do
	g() { l2_say g$i "$1"; }
	check "g$i: ran to the end" "grep -q '^KVMIO-L2-NIC: done' /tmp/l2-g$i.txt"
	check "g$i: the NIC has driver e1000 and MAC $(mac_of $i)" \
		"g 'interface ' | grep -q 'driver e1000 address $(mac_of $i)'"
	check "g$i: carrier (link up)" "g 'carrier ' | grep -q '^1 '"
	check "g$i: 5 pings to the peer, all answered" \
		"g 'ping ' | grep -q '5 packets transmitted, 5 packets received'"
	check "g$i -> peer: $KIB KiB arrived intact (sha256)" \
		"[ \"\$(g 'sha256 up ')\" = \"\$(sha256sum /tmp/share-up-$i 2>/dev/null | cut -d' ' -f1)\" ] && [ \"\$(stat -c %s /tmp/share-up-$i 2>/dev/null)\" = $((KIB * 1024)) ]"
	check "peer -> g$i: $KIB KiB arrived intact (sha256)" \
		"[ \"\$(g 'sha256 down ')\" = $down_sum ]"
	for j in $(seq_guests); do
		[ $j = $i ] && continue
		check "g$i: 5 pings to g$j ($(ip_of $j)), all answered" \
			"g 'mate $(ip_of $j) ping ' | grep -q '5 packets transmitted, 5 packets received'"
		check "g$i -> g$j: $MATE_KIB KiB arrived intact (sha256)" \
			"[ -n \"\$(g 'sha256 to-mates ')\" ] && [ \"\$(l2_say g$j 'mate $(ip_of $i) sha256 from ')\" = \"\$(g 'sha256 to-mates ')\" ]"
	done
	check "g$i: no transmit errors" "[ \"\$(g 'stat tx_errors ')\" = 0 ]"
	echo "# g$i counters: tx_packets $(g 'stat tx_packets ') rx_packets $(g 'stat rx_packets ') tx_bytes $(g 'stat tx_bytes ') rx_bytes $(g 'stat rx_bytes ') rx_missed_errors $(g 'stat rx_missed_errors ')"
done

sniffed=$(sed -n 's/.*unicast_between=\([0-9]*\).*/\1/p' /tmp/share-sniff.out)
case "$MODE" in
kvm_assign)
	kvmio sched show $nic1 2>&1 | sed 's/^/# /'
	for f in /sys/bus/pci/devices/$nic1/kvm_assign_e1000/*; do
		[ -f $f ] && echo "# host NIC kvm_assign_e1000/$(basename $f): $(cat $f)"
	done
	check "the peer watched the wire and saw the guests' frames" \
		"grep -q 'from_macs=[1-9]' /tmp/share-sniff.out"
	check "the peer saw no guest-to-guest unicast on the wire (seen: ${sniffed:-?})" \
		"[ '$sniffed' = 0 ]"
	check "the NIC's tx_switched rose" \
		"[ \"\$(cat /sys/bus/pci/devices/$nic1/kvm_assign_e1000/tx_switched 2>/dev/null)\" -gt 0 ]"
	for i in $(seq_guests); do
		m=$(mdev_of $i)/e1000
		for f in $m/*; do
			[ -f $f ] && echo "# host g$i e1000/$(basename $f): $(cat $f)"
		done
		# The guest's register accesses (each a VMM exit) and interrupts:
		# whether its driver reached the context at all.
		for f in bar_reads bar_writes irqs_delivered; do
			echo "# host g$i kvm_assign/$f: $(cat $(mdev_of $i)/kvm_assign/$f)"
		done
		check "context $i: tx_switched and rx_switched rose (guest-to-guest switched in the model)" \
			"[ \"\$(cat $m/tx_switched 2>/dev/null)\" -gt 0 ] && [ \"\$(cat $m/rx_switched 2>/dev/null)\" -gt 0 ]"
		check "context $i: nothing spoofed" "[ \"\$(cat $m/tx_spoofed 2>/dev/null)\" = 0 ]"
		check "context $i: no bad descriptors, rings or DMA faults" \
			"[ \$(cat $m/tx_bad_desc) -eq 0 ] && [ \$(cat $m/tx_bad_ring) -eq 0 ] && [ \$(cat $m/tx_faults) -eq 0 ] && [ \$(cat $m/rx_faults) -eq 0 ]"
	done
	for i in $(seq_guests); do
		check "kvmio remove context $i" "kvmio remove $(uuid_of $i) >/dev/null"
	done
	check "kvmio unbind gives the NIC back to e1000" \
		"kvmio unbind $nic1 >/dev/null && [ -e /sys/bus/pci/drivers/e1000/$nic1 ]"
	;;
emulated)
	# A learning bridge may flood a frame before it knows the MAC.
	echo "# guest-to-guest unicast seen on the wire (bridge, not compared): ${sniffed:-?}"
	;;
esac
echo "1..$n"
exit $fail
