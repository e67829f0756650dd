# SPDX-License-Identifier: GPL-2.0
#
# nic_common.sh - sourced by the full-stack NIC tests
# (assign_e1000_guest_test.sh, assign_e1000_share_guest_test.sh): TAP
# helpers, the test VM's two e1000s (the first one for the guests, the
# second the peer on the wire, 10.99.0.1/24), and second-level guests
# booted with selftests/vm/l2-nic.sh.  Not a test itself.

case $(uname -r) in
*kvmio-debug*) L2_LIMIT=${L2_LIMIT:-1200} ;;
*) L2_LIMIT=${L2_LIMIT:-400} ;;
esac
L2=/usr/share/kvmio/l2
PEER_IP=10.99.0.1
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; return 1; fi; }
# near A B: A and B differ by at most 5 frames or 1 %
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d
	t = (a > b ? a : b) / 100; if (t < 5) t = 5; exit !(a != "" && b != "" && d <= t) }'; }

netdev_of() { ls /sys/bus/pci/devices/$1/net 2>/dev/null | head -n 1; }
noipv6() { echo 1 > /proc/sys/net/ipv6/conf/$1/disable_ipv6 2>/dev/null; }
stat_of() { cat /sys/class/net/$1/statistics/$2 2>/dev/null; }

# Sets nic1 and nic2: the test VM's e1000s (8086:100e) in PCI order.
find_e1000s() {
	local d
	nic1=
	nic2=
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor)" = 0x8086 ] && [ "$(cat $d/device)" = 0x100e ] || continue
		if [ -z "$nic1" ]; then nic1=$(basename $d); else nic2=${nic2:-$(basename $d)}; fi
	done
}

# Loads what second-level guests and the peer need, brings the peer (the
# second e1000, Linux's driver) up as $PEER_IP and checks both NICs' MACs.
# Sets peer and e1.
peer_setup() {
	local i
	modprobe kvm_amd && modprobe vfio_iommu_type1 && modprobe e1000
	check "kvm_amd, vfio_iommu_type1 and e1000 loaded" \
		"[ -c /dev/kvm ] && [ -c /dev/vfio/vfio ] && [ -d /sys/bus/pci/drivers/e1000 ]"
	# The peer: the second e1000, by PCI order; its MAC says it is the one.
	peer=$(netdev_of $nic2)
	check "peer $nic2 is the e1000 with MAC 52:54:00:12:34:02 ($peer)" \
		"[ -n \"$peer\" ] && [ \"\$(cat /sys/class/net/$peer/address)\" = 52:54:00:12:34:02 ]"
	noipv6 $peer
	ip addr flush dev $peer
	ip addr add $PEER_IP/24 dev $peer
	ip link set $peer up
	i=0
	while [ "$(cat /sys/class/net/$peer/carrier 2>/dev/null)" != 1 ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	check "peer $peer has carrier and $PEER_IP" \
		"[ \"\$(cat /sys/class/net/$peer/carrier)\" = 1 ] && ip addr show $peer | grep -q 'inet $PEER_IP/24'"
	# (Already given to kvm_assign by a test that asked it first.)
	[ -e /sys/bus/pci/drivers/kvm_assign/$nic1 ] && return
	e1=$(netdev_of $nic1)
	check "first e1000 $nic1 has MAC 52:54:00:12:34:01 ($e1)" \
		"[ -n \"$e1\" ] && [ \"\$(cat /sys/class/net/$e1/address)\" = 52:54:00:12:34:01 ]"
}

# l2_start NAME APPEND NICDEV...: boots a second-level guest running
# l2-nic.sh in the background (stock QEMU, nested KVM, one vCPU, 256 MiB),
# its console in /tmp/l2-NAME.log; L2_PID is the pid to wait for.  With
# L2_CPUS set, its QEMU runs on those CPUs of the test VM only.
l2_start() {
	local name=$1 append=$2
	shift 2
	[ -s /tmp/l2-nic.cpio ] || cat $L2/initrd $L2/suite.cpio > /tmp/l2-nic.cpio
	${L2_CPUS:+taskset -c $L2_CPUS} timeout -s KILL $L2_LIMIT qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256 \
		-machine q35 -nodefaults -no-reboot -display none -serial stdio \
		-L /usr/share/seabios -L /usr/share/qemu \
		-kernel $L2/vmlinuz -initrd /tmp/l2-nic.cpio \
		-append "console=ttyS0 panic=-1 loglevel=4 ipv6.disable=1 kvmio.l2=nic $append" \
		"$@" > /tmp/l2-$name.log 2>&1 &
	L2_PID=$!
}

# l2_report NAME RC SECONDS: what the guest NAME said (its KVMIO-L2 lines,
# and its last words if it did not finish), its console in
# /tmp/l2-NAME.txt, and the check that its QEMU ran and powered off.
l2_report() {
	local name=$1 rc=$2 secs=$3
	echo "# second-level guest $name ran $secs s, qemu exit $rc"
	tr -d '\r' < /tmp/l2-$name.log > /tmp/l2-$name.txt
	grep -E "KVMIO-L2|qemu-system|Kernel panic|Call Trace" /tmp/l2-$name.txt | sed "s/^/# $name: /"
	check "$name: QEMU attached the NIC and the guest powered off" "[ $rc -eq 0 ]"
	# A guest that did not finish: its last words (driver, link, watchdog).
	grep -q '^KVMIO-L2-NIC: done' /tmp/l2-$name.txt ||
		tail -n 40 /tmp/l2-$name.txt | sed "s/^/# $name l2: /"
}

# l2_say NAME WHAT: the rest of guest NAME's first "KVMIO-L2-NIC: WHAT" line.
l2_say() { sed -n "s/^KVMIO-L2-NIC: $2//p" /tmp/l2-$1.txt | head -n 1; }
