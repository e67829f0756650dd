#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# l2-nic.sh - the second-level guest's side of assign_e1000_guest_test.sh
# and make bench-nic (run by l2-init for kvmio.l2=nic; it comes with the
# suite's archive, /lib/kvmio/ in the guest).
#
# Kernel command-line parameters:
#   kvmio.nic_drv=e1000|virtio_net   the driver of the guest's one NIC
#   kvmio.nic_kib=N                  bulk transfer size each way (KiB)
#   kvmio.nic_pings=N                UDP round trips to time
#   kvmio.nic_ip=A.B.C.D             the guest's address (default 10.99.0.2)
#   kvmio.nic_stream=PORT            instead of the transfers and round
#                                    trips: send to the peer's "nicbench
#                                    sink" on PORT from its go until it
#                                    closes (make bench-nic's sharing
#                                    section, several guests at once)
# Loads the driver, waits for carrier, takes 10.99.0.2/24, pings the peer
# 10.99.0.1 (ICMP), sends N KiB of random data to the peer's port 5001 and
# takes what the peer's port 5002 sends, times UDP round trips against the
# peer's echo on port 5003, then prints its interface counters and the
# driver's kernel log.  Every line it prints starts with KVMIO-L2-NIC:,
# then what (carrier, ping, sha256, NICBENCH, stat, dmesg, done).
PEER=10.99.0.1
DRV=e1000
KIB=4096
PINGS=20
IP=10.99.0.2
STREAM=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvmio.nic_drv=*) DRV=${arg#kvmio.nic_drv=} ;;
	kvmio.nic_kib=*) KIB=${arg#kvmio.nic_kib=} ;;
	kvmio.nic_pings=*) PINGS=${arg#kvmio.nic_pings=} ;;
	kvmio.nic_ip=*) IP=${arg#kvmio.nic_ip=} ;;
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

ping -c 5 -W 5 $PEER > /tmp/ping.out 2>&1
say "ping $(grep 'packets transmitted' /tmp/ping.out)"

if [ -n "$STREAM" ]; then
	say "stream ready"
	$NB stream $PEER "$STREAM" 600 2>&1 | sed 's/^/KVMIO-L2-NIC: stream /'
	finish
	exit 0
fi

dd if=/dev/urandom of=/tmp/up bs=1024 count="$KIB" 2>/dev/null
say "sha256 up $(sha256sum /tmp/up | cut -d' ' -f1)"
$NB connect $PEER 5001 send /tmp/up 600 2>&1 | sed 's/^/KVMIO-L2-NIC: up /'
rm -f /tmp/up
$NB connect $PEER 5002 recv /tmp/down 600 2>&1 | sed 's/^/KVMIO-L2-NIC: down /'
say "sha256 down $(sha256sum /tmp/down | cut -d' ' -f1)"
rm -f /tmp/down
$NB udp-ping $PEER 5003 "$PINGS" 10 300 2>&1 | sed 's/^/KVMIO-L2-NIC: rtt /'
finish
