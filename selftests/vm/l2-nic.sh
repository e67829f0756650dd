#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# l2-nic.sh - the second-level guest's side of assign_e1000_guest_test.sh,
# assign_e1000_share_guest_test.sh and make bench-nic (run by l2-init for kvmio.l2=nic; it comes with the
# suite's archive, /lib/kvmio/ in the guest).
#
# Kernel command-line parameters:
#   kvmio.nic_drv=e1000|virtio_net   the driver of the guest's one NIC
#   kvmio.nic_kib=N                  bulk transfer size each way (KiB)
#   kvmio.nic_pings=N                UDP round trips to time (0: none)
#   kvmio.nic_ip=A.B.C.D             its address (default 10.99.0.2)
#   kvmio.nic_port=P                 the peer's ports are P+1..P+3
#                                    (default 5000)
#   kvmio.nic_mates=IP,IP...         other guests on the same NIC (NIC
#                                    sharing): ping each, exchange data
#   kvmio.nic_mate_kib=N             bulk transfer size to each mate (KiB)
#   kvmio.nic_stream=PORT            instead of the transfers and round
#                                    trips: send to the peer's "nicbench
#                                    sink" on PORT from its go until it
#                                    closes (make bench-nic's sharing
#                                    section, several guests at once)
# Loads the driver, waits for carrier, takes 10.99.0.2/24, pings the peer
# 10.99.0.1 (ICMP), sends N KiB of random data to the peer's port 5001 and
# takes what the peer's port 5002 sends, times UDP round trips against the
# peer's echo on port 5003, then prints its interface counters and the
# driver's kernel log.  With mates it also listens on port 6000+X for the
# mate whose address ends in .X, waits until each mate answers a ping
# (they boot at their own pace), pings each 5 times, and sends the mates
# its own random file (port 6000+its own last octet) while it moves data
# with the peer.  Every line it prints starts with KVMIO-L2-NIC:, then
# what (carrier, ping, mate, sha256, NICBENCH, stat, dmesg, done).
PEER=10.99.0.1
DRV=e1000
KIB=4096
PINGS=20
IP=10.99.0.2
PORT=5000
MATES=
MATE_KIB=2048
STREAM=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvmio.nic_drv=*) DRV=${arg#kvmio.nic_drv=} ;;
	kvmio.nic_kib=*) KIB=${arg#kvmio.nic_kib=} ;;
	kvmio.nic_pings=*) PINGS=${arg#kvmio.nic_pings=} ;;
	kvmio.nic_ip=*) IP=${arg#kvmio.nic_ip=} ;;
	kvmio.nic_port=*) PORT=${arg#kvmio.nic_port=} ;;
	kvmio.nic_mates=*) MATES=$(echo "${arg#kvmio.nic_mates=}" | tr , ' ') ;;
	kvmio.nic_mate_kib=*) MATE_KIB=${arg#kvmio.nic_mate_kib=} ;;
	kvmio.nic_stream=*) STREAM=${arg#kvmio.nic_stream=} ;;
	esac
done
say() { echo "KVMIO-L2-NIC: $*"; }
NB=/lib/kvmio/nicbench

finish() {
	# The driver reads its MAC's counters (MPC: rx_missed_errors) in its
	# 2-second watchdog: let one pass after the traffic.
	sleep 2.5
	for f in /sys/class/net/${IF:-eth0}/statistics/*; do
		[ -e "$f" ] && say "stat $(basename "$f") $(cat "$f")"
	done
	dmesg | grep -Ei "e1000|virtio|eth0|NETDEV WATCHDOG|hang|link is|carrier|WARNING|RIP:|BUG|Modules linked" |
		sed 's/^/KVMIO-L2-NIC: dmesg /'
	say "done"
}

case "$DRV" in
virtio_net) modprobe virtio_pci; modprobe virtio_net ;;
*) modprobe "$DRV" ;;
esac || say "modprobe $DRV failed"

IF=
i=0
while [ $i -lt 50 ]; do
	for d in /sys/class/net/*; do
		[ "$(basename "$d")" = lo ] || IF=$(basename "$d")
	done
	[ -n "$IF" ] && break
	sleep 0.2
	i=$((i + 1))
done
if [ -z "$IF" ]; then
	say "no interface"
	finish
	exit 0
fi
say "interface $IF driver $(basename "$(readlink /sys/class/net/$IF/device/driver)") address $(cat /sys/class/net/$IF/address)"
ip link set "$IF" up
t0=$(date +%s)
i=0
while [ "$(cat /sys/class/net/$IF/carrier 2>/dev/null)" != 1 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
say "carrier $(cat /sys/class/net/$IF/carrier 2>/dev/null) after $(($(date +%s) - t0)) s"
ip addr add "$IP/24" dev "$IF"
say "address $IP"
octet() { echo "${1##*.}"; }
# ping5 HOST: five ICMP echoes, one at a time, each given 5 s for its
# answer; prints ping's own summary line.  (busybox ping -c 5 waits only
# about twice the slowest round trip so far, at least 1 s, for the last
# answer: under nested TCG with two guests an answer can take longer.)
ping5() {
	local got=0 k
	for k in 1 2 3 4 5; do
		ping -c 1 -W 5 "$1" > /dev/null 2>&1 && got=$((got + 1))
		sleep 0.2
	done
	echo "5 packets transmitted, $got packets received, $(((5 - got) * 20))% packet loss"
}

# What the mates send us: one listener per mate, started before anything
# else so that a mate's connection finds it.
for m in $MATES; do
	$NB listen $((6000 + $(octet $m))) recv /tmp/from-$m 400 > /tmp/from-$m.out 2>&1 &
	echo $! > /tmp/from-$m.pid
done

say "ping $(ping5 $PEER)"

if [ -n "$STREAM" ]; then
	say "stream ready"
	$NB stream $PEER "$STREAM" 600 2>&1 | sed 's/^/KVMIO-L2-NIC: stream /'
	finish
	exit 0
fi

if [ -z "$MATES" ]; then
	dd if=/dev/urandom of=/tmp/up bs=1024 count="$KIB" 2>/dev/null
	say "sha256 up $(sha256sum /tmp/up | cut -d' ' -f1)"
	$NB connect $PEER $((PORT + 1)) send /tmp/up 600 2>&1 | sed 's/^/KVMIO-L2-NIC: up /'
	rm -f /tmp/up
	$NB connect $PEER $((PORT + 2)) recv /tmp/down 600 2>&1 | sed 's/^/KVMIO-L2-NIC: down /'
	say "sha256 down $(sha256sum /tmp/down | cut -d' ' -f1)"
	rm -f /tmp/down
else
	# The mates boot at their own pace: wait until each answers, for
	# 120 s at most from here (an unreachable mate is not waited for
	# again, and nothing of it is waited for later).
	t0=$(date +%s)
	for m in $MATES; do
		while ! ping -c 1 -W 1 $m > /dev/null 2>&1 && [ $(($(date +%s) - t0)) -lt 120 ]; do
			:
		done
		if ! ping -c 1 -W 2 $m > /dev/null 2>&1; then
			say "mate $m unreachable after $(($(date +%s) - t0)) s"
			kill "$(cat /tmp/from-$m.pid)" 2>/dev/null
			continue
		fi
		say "mate $m reachable after $(($(date +%s) - t0)) s"
		say "mate $m ping $(ping5 $m)"
	done
	dd if=/dev/urandom of=/tmp/up bs=1024 count="$KIB" 2>/dev/null
	say "sha256 up $(sha256sum /tmp/up | cut -d' ' -f1)"
	dd if=/dev/urandom of=/tmp/to-mates bs=1024 count="$MATE_KIB" 2>/dev/null
	say "sha256 to-mates $(sha256sum /tmp/to-mates | cut -d' ' -f1)"
	# All at once: up to the peer, down from the peer, to every mate.
	$NB connect $PEER $((PORT + 1)) send /tmp/up 400 > /tmp/up.out 2>&1 &
	pids=$!
	$NB connect $PEER $((PORT + 2)) recv /tmp/down 400 > /tmp/down.out 2>&1 &
	pids="$pids $!"
	for m in $MATES; do
		$NB connect $m $((6000 + $(octet $IP))) send /tmp/to-mates 400 > /tmp/to-$m.out 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do wait $p; done
	sed 's/^/KVMIO-L2-NIC: up /' /tmp/up.out
	sed 's/^/KVMIO-L2-NIC: down /' /tmp/down.out
	say "sha256 down $(sha256sum /tmp/down | cut -d' ' -f1)"
	for m in $MATES; do
		sed "s/^/KVMIO-L2-NIC: mate $m send /" /tmp/to-$m.out
	done
	for m in $MATES; do
		wait "$(cat /tmp/from-$m.pid)"
		sed "s/^/KVMIO-L2-NIC: mate $m recv /" /tmp/from-$m.out
		say "mate $m sha256 from $(sha256sum /tmp/from-$m 2>/dev/null | cut -d' ' -f1)"
	done
	rm -f /tmp/up /tmp/down /tmp/to-mates /tmp/from-*
fi
[ "$PINGS" -gt 0 ] &&
	$NB udp-ping $PEER $((PORT + 3)) "$PINGS" 10 300 2>&1 | sed 's/^/KVMIO-L2-NIC: rtt /'
finish
