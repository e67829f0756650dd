#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libvirt_domain_test.sh - libvirt's own daemon (libvirtd 9.0, QEMU driver)
# starts the domain of Documentation/libvirt-domain.xml inside the test VM:
# an assigned kvm_assign-e1000 context (<hostdev type='mdev'>) and a
# vhost_blk disk (<disk type='vhostuser'>) served by kvmio blk-serve.
#
# The test VM has no systemd, D-Bus or polkit: libvirtd runs by hand
# (--daemon) with a minimal configuration: UNIX socket without
# authentication, QEMU as root, no security driver, no cgroup controllers,
# no mount namespace, QEMU's own log files instead of virtlogd.
#
# The domain is a copy of the documented XML with only what this VM
# needs changed (the differences are printed): 256 MiB instead of 2 GiB,
# a direct kernel boot of the second-level guest (kernel, initrd and
# command line in <os>), its serial port into a file instead of a pty,
# and no <interface type='network'> (the test VM has no libvirt network).
# The socket path, the context's UUID, the memory backing, the disk's
# queues and the hostdev element are the documented ones.
#
# The first e1000 (52:54:00:12:34:01) goes to kvm_assign and gets the
# documented context; the second is the peer (10.99.0.1) on the same hub.
# A 64 MiB brd disk holds random data at its start and its end, written
# here.  The guest (selftests/vm/l2-init, kvmio.l2=libvirt) reports the
# disk's size and checksums, writes a block, finds its e1000 with the
# context's MAC and pings the peer.  Then virsh destroy and undefine: the
# bridge and the context outlive the domain, hold the guest's block, and
# are released (SIGTERM, kvmio remove, kvmio unbind).
HELPERS=$(cd "$(dirname "$0")" && pwd)/helpers
. $HELPERS/nic_common.sh
DOC=/usr/share/kvmio/libvirt-domain.xml
UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000a001
MDEV=/sys/bus/mdev/devices/$UUID
SOCK=/run/kvmio/vm1-disk0.sock
CONSOLE=/tmp/libvirt-l2.log
XML=/tmp/libvirt-vm1.xml
DISK_MIB=64
export LIBVIRT_DEFAULT_URI=qemu:///system
# How long libvirtd may take to accept clients (see below).
case $(uname -r) in
*kvmio-debug*) LIBVIRTD_LIMIT=1200 ;;
*) LIBVIRTD_LIMIT=480 ;;
esac

echo "TAP version 13"
find_e1000s
if [ -z "$nic2" ] || ! grep -qw svm /proc/cpuinfo || [ ! -c /dev/vhost-blk ]; then
	echo "1..0 # SKIP needs two e1000s, SVM and /dev/vhost-blk"
	exit 4
fi
if [ ! -x /usr/sbin/libvirtd ] || [ ! -x /usr/bin/virsh ] || [ ! -f $DOC ]; then
	echo "1..0 # SKIP libvirtd, virsh or $DOC not in the initramfs"
	exit 4
fi
if ! grep -q "8086:100e" /sys/bus/pci/drivers/kvm_assign/models 2>/dev/null; then
	echo "1..0 # SKIP kvm_assign has no e1000 model"
	exit 4
fi

SERVE=
cleanup() {
	virsh destroy vm1 > /dev/null 2>&1
	virsh undefine vm1 > /dev/null 2>&1
	[ -s /run/libvirtd.pid ] && kill $(cat /run/libvirtd.pid) 2>/dev/null
	[ -n "$SERVE" ] && kill $SERVE 2>/dev/null
	[ -e $MDEV ] && kvmio remove $UUID > /dev/null
	[ -e /sys/bus/pci/drivers/kvm_assign/$nic1 ] && kvmio unbind $nic1 > /dev/null
	[ -n "$peer" ] && ip addr flush dev $peer && ip link set $peer down
	rmmod brd 2>/dev/null	# kvm stays loaded (see nested_test.sh)
}
trap cleanup EXIT

peer_setup
modprobe brd rd_nr=1 rd_size=$((DISK_MIB * 1024))
check "a $DISK_MIB MiB brd disk" "[ -b /dev/ram0 ]"
# What the guest must read: random data at the start and at the end.
dd if=/dev/urandom of=/tmp/head bs=64k count=1 2>/dev/null
dd if=/dev/urandom of=/tmp/tail bs=512 count=8 2>/dev/null
dd if=/tmp/head of=/dev/ram0 bs=64k count=1 conv=notrunc 2>/dev/null
dd if=/tmp/tail of=/dev/ram0 bs=512 seek=$((DISK_MIB * 2048 - 8)) count=8 conv=notrunc 2>/dev/null
sync
head_sum=$(sha256sum < /tmp/head | cut -d' ' -f1)
tail_sum=$(sha256sum < /tmp/tail | cut -d' ' -f1)

# --- the context and the bridge, as the documentation sets them up ------
kvmio bind $nic1 > /tmp/bind.out 2>&1
check "kvmio bind $nic1" "[ $? -eq 0 ]" || sed 's/^/# /' /tmp/bind.out
kvmio create $nic1 $UUID > /tmp/create.out 2>&1
check "kvmio create $nic1 $UUID (the documented context)" "[ $? -eq 0 ] && [ -d $MDEV ]" ||
	sed 's/^/# /' /tmp/create.out
sed -n '/<hostdev/,/<\/hostdev>/p' /tmp/create.out | sed 's/^ *//' > /tmp/hostdev.printed
sed -n '/<hostdev/,/<\/hostdev>/p' $DOC | sed 's/^ *//' > /tmp/hostdev.doc
check "kvmio create printed the <hostdev> of the documented domain" \
	"[ -s /tmp/hostdev.doc ] && cmp -s /tmp/hostdev.printed /tmp/hostdev.doc"

mkdir -p /run/kvmio
kvmio blk-serve --socket $SOCK --backend /dev/ram0 --queues 2 --verbose \
	> /tmp/serve-libvirt.log 2>&1 &
SERVE=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "kvmio blk-serve listens on $SOCK (2 queues)" "[ -S $SOCK ]"

# --- libvirtd by hand -----------------------------------------------------
mkdir -p /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt/qemu \
	/run/libvirt
# virsh's default socket is /var/run/libvirt/libvirt-sock.
[ -e /var/run ] || ln -s /run /var/run
# Debian's build resolves its default QEMU user and group (libvirt-qemu,
# kvm) before it reads qemu.conf: they must exist even though QEMU runs
# as root here.
grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >> /etc/passwd
grep -q '^libvirt-qemu:' /etc/passwd ||
	echo 'libvirt-qemu:x:64055:64055:libvirt qemu:/var/lib/libvirt:/bin/false' >> /etc/passwd
grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >> /etc/group
grep -q '^kvm:' /etc/group || echo 'kvm:x:64054:' >> /etc/group
grep -q '^libvirt-qemu:' /etc/group || echo 'libvirt-qemu:x:64055:' >> /etc/group
cat > /etc/libvirt/libvirtd.conf <<EOF
# No polkit, no D-Bus: the socket is root's, without authentication.
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_filters = "1:qemu.qemu_process 1:util.command 1:daemon 2:qemu.qemu_capabilities"
log_outputs = "1:file:/tmp/libvirtd.log"
EOF
cat > /etc/libvirt/qemu.conf <<EOF
# QEMU as root, no security driver, no cgroups (none mounted), no private
# /dev namespace (the root is an initramfs), QEMU's own log files (no
# virtlogd).
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
: > /tmp/libvirtd.log
# What libvirtd did when something fails: its log, the processes it ran.
libvirtd_report() {
	tail -n 60 /tmp/libvirtd.log | cut -c1-400 | sed 's/^/# libvirtd.log: /'
	ps -o pid,stat,time,args 2>/dev/null | grep -E 'libvirtd|qemu' | grep -v grep |
		cut -c1-300 | sed 's/^/# ps: /'
	for p in $(pidof libvirtd qemu-system-x86_64); do
		echo "# wchan $p: $(cat /proc/$p/wchan 2>/dev/null)"
	done
	ls -la /var/cache/libvirt/qemu/capabilities 2>&1 | sed 's/^/# caps: /'
}
start=$(date +%s)
timeout 120 libvirtd --daemon --pid-file /run/libvirtd.pid > /tmp/libvirtd.out 2>&1
rc=$?
echo "# libvirtd --daemon returned $rc after $(($(date +%s) - start)) s"
sed 's/^/# libvirtd: /' /tmp/libvirtd.out
# It accepts clients once its drivers are initialised: the QEMU driver
# probes QEMU's capabilities first (QEMU under nested KVM in a TCG VM,
# twice: with KVM and with TCG), which takes minutes on a loaded host.
up=1
while ! timeout 20 virsh -q version > /tmp/virsh-version.out 2>&1; do
	if [ $(($(date +%s) - start)) -gt $LIBVIRTD_LIMIT ] ||
	   ! kill -0 "$(cat /run/libvirtd.pid 2>/dev/null)" 2>/dev/null; then
		up=0
		break
	fi
	sleep 1
done
check "libvirtd --daemon runs and virsh reaches it (qemu:///system)" \
	"[ $rc -eq 0 ] && [ $up -eq 1 ]" ||
	{ sed 's/^/# virsh: /' /tmp/virsh-version.out; libvirtd_report; }
echo "# libvirtd answered after $(($(date +%s) - start)) s"
sed 's/^/# /' /tmp/virsh-version.out
timeout 300 virsh domcapabilities --virttype kvm > /tmp/domcaps.xml 2>&1
check "libvirt's QEMU driver offers KVM domains" \
	"grep -q '<domain>kvm</domain>' /tmp/domcaps.xml" ||
	{ tail -n 20 /tmp/domcaps.xml | sed 's/^/# domcaps: /'
	  tail -n 40 /tmp/libvirtd.log | sed 's/^/# libvirtd.log: /'; }

# --- the domain: the documented XML, paths filled -------------------------
l2_append="console=ttyS0 panic=-1 loglevel=4 ipv6.disable=1 maxcpus=1 kvmio.online kvmio.l2=libvirt"
sed -e "s|<memory unit='GiB'>2</memory>|<memory unit='MiB'>256</memory>|" \
    -e "s|<currentMemory unit='GiB'>2</currentMemory>|<currentMemory unit='MiB'>256</currentMemory>|" \
    -e "s|^\( *\)<boot dev='hd'/>|&\n\1<kernel>$L2/vmlinuz</kernel>\n\1<initrd>$L2/initrd</initrd>\n\1<cmdline>$l2_append</cmdline>|" \
    -e "/<interface type='network'>/,/<\/interface>/d" \
    -e "s|<serial type='pty'/>|<serial type='file'><source path='$CONSOLE'/></serial>|" \
    -e "/<console type='pty'\/>/d" $DOC > $XML
diff $DOC $XML | grep '^[<>]' | sed 's/^/# domain differs: /'
check "the domain copy keeps the documented disk, memory backing and hostdev" \
	"grep -q \"<disk type='vhostuser' device='disk'>\" $XML && grep -q \"queues='2'\" $XML &&
	 grep -q \"path='$SOCK'\" $XML && grep -q \"<access mode='shared'/>\" $XML &&
	 grep -q \"<address uuid='$UUID'/>\" $XML"
timeout 120 virsh define $XML > /tmp/define.out 2>&1
check "virsh define" "[ $? -eq 0 ]" || sed 's/^/# /' /tmp/define.out
rm -f $CONSOLE
start=$(date +%s)
timeout 600 virsh start vm1 > /tmp/start.out 2>&1
rc=$?
check "virsh start" "[ $rc -eq 0 ]" ||
	{ sed 's/^/# /' /tmp/start.out
	  tail -n 20 /var/log/libvirt/qemu/vm1.log 2>/dev/null | sed 's/^/# vm1.log: /'
	  tail -n 40 /tmp/libvirtd.log | sed 's/^/# libvirtd.log: /'; }
# QEMU's command line, as libvirt made it: the two devices.
tr ' ' '\n' < /var/log/libvirt/qemu/vm1.log 2>/dev/null |
	grep -E 'vhost-user-blk|vfio-pci|memory-backend|chr-vu|^-machine' | sed 's/^/# qemu: /'
# What QEMU itself said (its warnings) in the domain's log.
grep -E 'qemu-system-x86_64: ' /var/log/libvirt/qemu/vm1.log 2>/dev/null | cut -c1-400 |
	sed 's/^/# vm1.log: /'
check "libvirt gave QEMU the vhost-user-blk disk (2 queues) on the bridge's socket" \
	"grep -q '\"driver\":\"vhost-user-blk-pci\",\"num-queues\":2,' /var/log/libvirt/qemu/vm1.log &&
	 grep -q 'socket,id=chr-vu-virtio-disk0,path=$SOCK' /var/log/libvirt/qemu/vm1.log"
check "libvirt gave QEMU the context (vfio-pci, sysfsdev=$MDEV)" \
	"grep -q '\"driver\":\"vfio-pci\",\"id\":\"hostdev0\",\"sysfsdev\":\"$MDEV\"' /var/log/libvirt/qemu/vm1.log"
check "libvirt gave QEMU shared memory (memory-backend-memfd, share)" \
	"grep -q 'memory-backend-memfd\",\"id\":\"pc.ram\",\"share\":true' /var/log/libvirt/qemu/vm1.log"
if [ $rc -eq 0 ]; then
	i=0
	while [ $i -lt $((L2_LIMIT * 2)) ]; do
		grep -qE 'KVMIO-L2: libvirt done|Kernel panic' $CONSOLE 2>/dev/null && break
		sleep 0.5; i=$((i + 1))
	done
fi
echo "# guest: $(($(date +%s) - start)) s from virsh start to its report"
tr -d '\r' < $CONSOLE 2>/dev/null > /tmp/l2-libvirt.txt
grep -E 'KVMIO-L2|Kernel panic|Call Trace' /tmp/l2-libvirt.txt | sed 's/^/# l2: /'
grep -q 'KVMIO-L2: libvirt done' /tmp/l2-libvirt.txt ||
	tail -n 30 /tmp/l2-libvirt.txt | sed 's/^/# l2 console: /'
g() { sed -n "s/^KVMIO-L2: $1//p" /tmp/l2-libvirt.txt | head -n 1; }
check "guest reported through the domain's <serial type='file'>" \
	"grep -q 'KVMIO-L2: libvirt done' /tmp/l2-libvirt.txt"
check "domain is running (virsh domstate)" "[ \"\$(virsh domstate vm1 2>&1)\" = running ]"
check "guest: virtio_blk disk of $DISK_MIB MiB ($((DISK_MIB * 2048)) sectors)" \
	"[ \"\$(g 'vda sectors: ')\" = $((DISK_MIB * 2048)) ]"
check "guest: 2 queues (<driver queues='2'/>)" "[ \"\$(g 'vda queues: ')\" = 2 ]"
check "guest: reads the host's data at the disk's start (64 KiB, sha256)" \
	"[ \"\$(g 'vda head: ')\" = $head_sum ]"
check "guest: reads the host's data at the disk's end (4 KiB, sha256)" \
	"[ \"\$(g 'vda tail: ')\" = $tail_sum ]"
check "guest: wrote a block" "[ \"\$(g 'vda write: ')\" = ok ]"
check "guest: an e1000 NIC with the context's MAC 52:54:00:12:34:01" \
	"g 'nic ' | grep -q 'driver e1000 address 52:54:00:12:34:01'"
check "guest: 5 pings to the peer $PEER_IP, all answered" "[ \"\$(g 'ping: ')\" = '5 sent, 5 answered' ]"

# --- destroy, undefine: the bridge and the context stay -------------------
timeout 120 virsh destroy vm1 > /tmp/destroy.out 2>&1
check "virsh destroy" "[ $? -eq 0 ]" || sed 's/^/# /' /tmp/destroy.out
check "domain is shut off" "[ \"\$(virsh domstate vm1 2>&1)\" = 'shut off' ]"
timeout 120 virsh undefine vm1 > /tmp/undefine.out 2>&1
check "virsh undefine; no domain left" \
	"[ $? -eq 0 ] && [ -z \"\$(virsh list --all --name | tr -d ' \n')\" ]" ||
	sed 's/^/# /' /tmp/undefine.out
i=0
while ! grep -q 'QEMU disconnected' /tmp/serve-libvirt.log && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
sed 's/^/# serve: /' /tmp/serve-libvirt.log
check "bridge saw QEMU go and still serves its socket" \
	"grep -q 'QEMU disconnected; waiting' /tmp/serve-libvirt.log && kill -0 $SERVE && [ -S $SOCK ]"
check "the guest's block reached the backend (sector 2048)" \
	"dd if=/dev/ram0 bs=512 skip=2048 count=1 2>/dev/null | grep -q 'kvmio-l2 wrote this through libvirt'"
check "the context outlives the domain" "[ -d $MDEV ] && kvmio contexts | grep -q $UUID"
kill $SERVE
wait $SERVE
rc=$?
SERVE=
check "bridge released: SIGTERM, exit 0, socket removed" "[ $rc -eq 0 ] && [ ! -e $SOCK ]"
check "context released: kvmio remove" "kvmio remove $UUID && [ ! -e $MDEV ]"
check "kvmio unbind gives the NIC back to e1000" \
	"kvmio unbind $nic1 > /dev/null && [ -e /sys/bus/pci/drivers/e1000/$nic1 ]"
grep -E 'error|warning' /tmp/libvirtd.log | tail -n 20 | sed 's/^/# libvirtd.log: /'
echo "1..$n"
exit $fail
