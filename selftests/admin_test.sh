#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# admin_test.sh - the tool as a KVM host's admin uses it, and contexts that
# come back after a reboot.
#
#   - "kvmio --json" of every listing command parses (jq) and says what
#     the sysfs says, with contexts on the VM's edu and e1000; commands
#     that do not list refuse it;
#   - "kvmio create" prints the <hostdev> element that
#     Documentation/libvirt-domain.xml (validated on the host by
#     virt-xml-validate, selftests/vm/tool-test.sh) holds;
#   - the mdev parent attributes mdevctl 1.2 and libvirt 9.0 read:
#     mdev_supported_types/kvm_assign-edu/{device_api,available_instances,
#     name,description}, and "mdevctl types" shows them;
#   - persistence: "kvmio bind --persist", "mdevctl define --auto" and
#     "mdevctl start" (Debian's mdevctl 1.2 binary); then a "reboot": the
#     context and the binding dropped, kvm_assign unloaded and loaded
#     again; "kvmio restore" (kvmio-bind.service's command) binds the
#     device, the kernel's "change" uevent with MDEV_STATE=registered
#     reaches helpers/mdevctl_udev.sh (run by busybox uevent, doing what
#     mdevctl's udev rule does), which runs "mdevctl start-parent-mdevs":
#     the context is back with the same UUID.
# Module unloads and loads happen with the other vCPUs offline, as the
# runner loads modules (selftests/vm/runner.sh says why).

UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000a001	# Documentation/libvirt-domain.xml's
E1K_UUID=5b2c1f6e-7a41-4e0b-9d1c-00000000a002
KVER=$(uname -r)
DOC=/usr/share/kvmio/libvirt-domain.xml
RULE=/usr/share/kvmio/mdevctl/60-mdevctl.rules
HELPER=/usr/share/kvmio/tests/helpers/mdevctl_udev.sh
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n $1"; }
check() { if eval "$2"; then ok "$1"; else notok "$1"; fi; }

find_pci() { # vendor device: the first such PCI device
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat $d/vendor)" = "$1" ] && [ "$(cat $d/device)" = "$2" ]; then
			basename $d
			return
		fi
	done
}

echo "TAP version 13"
T0=$(date +%s)
edu=$(find_pci 0x1234 0x11e8)
e1k=$(find_pci 0x8086 0x100e)
if [ -z "$edu" ] || [ ! -d /sys/bus/pci/drivers/kvm_assign ]; then
	echo "1..0 # SKIP needs an edu device and kvm_assign loaded"
	exit 4
fi
command -v jq > /dev/null || { echo "1..0 # SKIP no jq in this VM"; exit 4; }

uevent_pid=
cleanup() {
	[ -n "$uevent_pid" ] && kill $uevent_pid 2>/dev/null
	for u in $UUID $E1K_UUID; do
		[ -e /sys/bus/mdev/devices/$u ] && echo 1 > /sys/bus/mdev/devices/$u/remove
	done
	mdevctl undefine -u $UUID > /dev/null 2>&1
	for b in $edu $e1k; do
		[ -e /sys/bus/pci/drivers/kvm_assign/$b ] && kvmio unbind $b > /dev/null
	done
	rm -f /etc/kvmio/bind.conf
}
trap cleanup EXIT

cpus() { # 0: all vCPUs but the first offline; 1: online again
	for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
		[ -e "$c" ] && echo "$1" > "$c"
	done
}

# --- --json ----------------------------------------------------------------
j() { # description, jq filter, kvmio arguments...: exit 0 and the filter true
	local what=$1 filter=$2
	shift 2
	kvmio "$@" > /tmp/admin.json 2> /tmp/admin.err
	local rc=$?
	if [ $rc -eq 0 ] && jq -e --arg edu "$edu" --arg e1k "$e1k" --arg u "$UUID" \
		--arg eu "$E1K_UUID" "$filter" /tmp/admin.json > /dev/null; then
		ok "kvmio $* parses: $what"
	else
		notok "kvmio $* parses: $what (exit $rc)"
		sed 's/^/# /' /tmp/admin.json /tmp/admin.err | head -20
	fi
}

j "four modules loaded" '.modules | length == 4 and all(.loaded and (.users | type == "number"))' \
	--json status
j "edu with its model" '.kvm_assign_loaded and any(.devices[]; .device == $edu and .model == "edu")' \
	devices --json
check "kvmio bind $edu" "kvmio bind $edu > /dev/null"
j "the new context, its type and libvirt element" \
	'.uuid == $u and .device == $edu and .type == "kvm_assign-edu" and (.libvirt_hostdev | contains("uuid=\u0027" + $u + "\u0027"))' \
	--json create $edu $UUID
j "the edu context with numeric counters" \
	'any(.contexts[]; .uuid == $u and .model == "edu" and .device == $edu and (.stats.dma_started | type == "number") and (.iommu_domain.stats.mappings | type == "number"))' \
	--json contexts
j "mappings, fault logs, interrupt entry" \
	'.uuid == $u and (.iommu_domain.mappings | type == "array") and (.iommu_domain.fault_log | type == "array") and (.interrupt.entry_list | type == "array")' \
	context $UUID --json
if [ -n "$e1k" ]; then
	kvmio bind $e1k > /dev/null && kvmio create $e1k $E1K_UUID > /dev/null
	j "an e1000 context's NIC" '(.mac | test("^([0-9a-f]{2}:){5}[0-9a-f]{2}$")) and (.stats.tx_packets | type == "number")' \
		--json e1000 $E1K_UUID
	j "a shared NIC's scheduler" \
		'.nic == $e1k and (.sched.quantum | type == "number") and any(.contexts[]; .uuid == $eu and (.weight | type == "number"))' \
		--json sched show $e1k
	echo 1 > /sys/bus/mdev/devices/$E1K_UUID/remove
	kvmio unbind $e1k > /dev/null
else
	echo "# no e1000 in this VM: e1000 and sched show --json not checked"
fi
j "the version" '.version | test("^[0-9]+\\.[0-9]+")' --json version
kvmio --json bind $edu > /dev/null 2>&1
check "kvmio --json bind is a usage error (exit 2)" "[ $? -eq 2 ]"
kvmio --json context 00000000-0000-0000-0000-000000000000 > /tmp/admin.json 2>/dev/null
check "kvmio --json context of no context: exit 1, nothing on stdout" "[ $? -eq 1 ] && [ ! -s /tmp/admin.json ]"

# --- libvirt -------------------------------------------------------------
echo 1 > /sys/bus/mdev/devices/$UUID/remove
kvmio create $edu $UUID > /tmp/admin.create
sed 's/^/# /' /tmp/admin.create
sed -n '/<hostdev/,/<\/hostdev>/s/^ *//p' /tmp/admin.create > /tmp/admin.printed
sed -n '/<hostdev/,/<\/hostdev>/s/^ *//p' $DOC > /tmp/admin.doc
check "kvmio create prints the <hostdev> of Documentation/libvirt-domain.xml" \
	"[ -s /tmp/admin.printed ] && cmp -s /tmp/admin.printed /tmp/admin.doc"
echo 1 > /sys/bus/mdev/devices/$UUID/remove

# --- parent attributes ---------------------------------------------------
T=/sys/bus/pci/devices/$edu/mdev_supported_types/kvm_assign-edu
for a in device_api available_instances name description; do
	echo "# $a: $(cat $T/$a 2>&1)"
done
check "the parent is in /sys/class/mdev_bus" "[ -e /sys/class/mdev_bus/$edu ]"
check "device_api is vfio-pci" "[ \"\$(cat $T/device_api)\" = vfio-pci ]"
check "available_instances is 1 with no context" "[ \"\$(cat $T/available_instances)\" = 1 ]"
check "name and description are set" "[ -n \"\$(cat $T/name)\" ] && [ -n \"\$(cat $T/description)\" ]"
mdevctl types -p $edu > /tmp/admin.types 2>&1
sed 's/^/# /' /tmp/admin.types
check "mdevctl types shows kvm_assign-edu: vfio-pci, one instance free" \
	"grep -q kvm_assign-edu /tmp/admin.types && grep -q 'Device API: vfio-pci' /tmp/admin.types && grep -q 'Available instances: 1' /tmp/admin.types"

# --- persistence ---------------------------------------------------------
kvmio bind --persist $edu > /tmp/admin.out 2>&1
check "kvmio bind --persist records the device" \
	"grep -qx $edu /etc/kvmio/bind.conf" || sed 's/^/# /' /tmp/admin.out
mdevctl define --auto -u $UUID -p $edu -t kvm_assign-edu > /tmp/admin.out 2>&1
{ cat /tmp/admin.out /etc/mdevctl.d/$edu/$UUID 2>/dev/null; echo; } | sed 's/^/# /'
check "mdevctl define --auto writes /etc/mdevctl.d/$edu/$UUID" \
	"jq -e '.mdev_type == \"kvm_assign-edu\" and .start == \"auto\"' /etc/mdevctl.d/$edu/$UUID > /dev/null"
mdevctl start -u $UUID > /tmp/admin.out 2>&1
check "mdevctl start creates the context" \
	"[ \"\$(cat /sys/bus/mdev/devices/$UUID/kvm_assign/model 2>/dev/null)\" = edu ]" ||
	sed 's/^/# /' /tmp/admin.out
check "available_instances is 0 with it" "[ \"\$(cat $T/available_instances)\" = 0 ]"
mdevctl list > /tmp/admin.list 2>&1
sed 's/^/# /' /tmp/admin.list
check "mdevctl list shows it active" "grep -q \"^$UUID $edu kvm_assign-edu\" /tmp/admin.list"

# The reboot: nothing of the context or the binding survives.
echo 1 > /sys/bus/mdev/devices/$UUID/remove
kvmio unbind $edu > /dev/null
cpus 0
r=0
rmmod kvm_assign || r=1
insmod /lib/modules/$KVER/extra/kvm_assign.ko || r=1
cpus 1
check "kvm_assign unloaded and loaded again; no context, device unbound" \
	"[ $r -eq 0 ] && [ ! -e /sys/bus/mdev/devices/$UUID ] && [ ! -e /sys/bus/pci/drivers/kvm_assign/$edu ]"
check "mdevctl's udev rule is the one mdevctl_udev.sh follows" \
	"grep -q '^ACTION==\"change\", ENV{MDEV_STATE}==\"registered\", TEST==\"/etc/mdevctl.d/\$kernel\", RUN+=.*mdevctl start-parent-mdevs %k' $RULE"
rm -f /tmp/mdevctl-udev.log
busybox uevent $HELPER &
uevent_pid=$!
sleep 1
kvmio restore > /tmp/admin.out 2>&1
rc=$?
sed 's/^/# /' /tmp/admin.out
check "kvmio restore binds the recorded device" \
	"[ $rc -eq 0 ] && [ -e /sys/bus/pci/drivers/kvm_assign/$edu ]"
for i in $(seq 50); do
	[ -e /sys/bus/mdev/devices/$UUID ] && break
	sleep 0.2
done
sed 's/^/# /' /tmp/mdevctl-udev.log 2>/dev/null
kill $uevent_pid 2>/dev/null
uevent_pid=
check "the parent's registered uevent ran mdevctl start-parent-mdevs $edu" \
	"grep -q 'change .*/$edu MDEV_STATE=registered' /tmp/mdevctl-udev.log && grep -q 'start-parent-mdevs $edu: exit 0' /tmp/mdevctl-udev.log"
check "the context is back with the same UUID" \
	"[ \"\$(cat /sys/bus/mdev/devices/$UUID/kvm_assign/model 2>/dev/null)\" = edu ] && [ \"\$(cat /sys/bus/mdev/devices/$UUID/kvm_assign/physical_device 2>/dev/null)\" = $edu ]"

mdevctl stop -u $UUID > /dev/null 2>&1
mdevctl undefine -u $UUID > /dev/null 2>&1
check "mdevctl stop and undefine: gone, not defined" \
	"[ ! -e /sys/bus/mdev/devices/$UUID ] && [ ! -e /etc/mdevctl.d/$edu/$UUID ]"
kvmio unbind --persist $edu > /tmp/admin.out 2>&1
check "kvmio unbind --persist forgets and unbinds the device" \
	"! grep -q $edu /etc/kvmio/bind.conf && [ ! -e /sys/bus/pci/drivers/kvm_assign/$edu ]"
echo "# admin_test.sh took $(($(date +%s) - T0)) s"
echo "1..$n"
exit $fail
