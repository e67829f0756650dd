#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh - the test VM's initramfs for one kernel.
#
#   mkinitramfs.sh KVER BUILD_DIR OUTPUT [L2_KVER [L2_BUILD_DIR]]
#
# Two concatenated newc archives (the kernel unpacks both):
#   base   cached per kernel, rebuilt when this script changes: busybox, the
#          kernel's modules the tests need (decompressed, with modules.dep;
#          those the kernel has built in are skipped), and everything for
#          second-level guests: a stock qemu-system-x86_64 with its
#          libraries and firmware, a Debian kernel (L2_KVER, default KVER)
#          and a tiny initramfs for it; fio with its libraries for the
#          benchmarks' native rates; libvirt's daemon (QEMU driver only)
#          and virsh.
#   suite  rebuilt every time: /init, the runner, the suite's modules, the
#          test-only modules, the tool and the tests; the guest-side test
#          module comes from L2_BUILD_DIR (default BUILD_DIR), built for
#          L2_KVER.  With KVMIO_PKG_DIR set (run-vm.sh --pkg), also the
#          modules DKMS built from the package and the packaged tool.

set -euo pipefail

KVER=$1
B=$2
OUT=$3
L2KVER=${4:-$1}
L2B=${5:-$2}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
# A kernel's boot/ and lib/modules/: an unpacked Debian image (deps.sh) or
# the debug kernel's installation (debug-kernel.sh links it here).
KROOT=$CACHE/kernels/$KVER/root
L2ROOT=$CACHE/kernels/$L2KVER/root
VM=$TOP/selftests/vm
LIBVIRT_DRV=/usr/lib/x86_64-linux-gnu/libvirt/connection-driver

# Kernel modules a test may load (their dependencies are added).
TEST_MODULES="kvm kvm_amd vfio vfio_iommu_type1 vfio_virqfd vfio_pci mdev vhost vhost_iotlb
	vhost_net tun brd null_blk loop dm_mod dm_flakey ext4 virtio_blk
	virtio_net virtio_console e1000 e1000e bridge"

die() { echo "mkinitramfs: error: $*" >&2; exit 1; }

[ -d "$KROOT/lib/modules/$KVER" ] || die "no unpacked kernel for $KVER (run deps.sh)"
[ -d "$L2ROOT/lib/modules/$L2KVER" ] || die "no unpacked kernel for $L2KVER (run deps.sh)"

mkcpio() { # DIR OUTPUT
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --owner 0:0 --quiet) > "$2"
}

copy_elf() { # BINARY ROOT [PATH]: the binary (at PATH) and every library it links
	local bin=$1 root=$2 lib
	install -D -m 0755 "$bin" "$root${3:-$bin}"
	for lib in $(ldd "$bin" | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

# A kernel's modules and their dependencies into ROOT, decompressed so that
# any modprobe can load them, with what depmod needs beside them.  A module
# the kernel has built in needs nothing (modprobe of it succeeds); one it
# has neither way is noted and skipped (the test that wants it skips).
copy_modules() { # ROOT KROOT KVER MODULE...
	local root=$1 kroot=$2 kver=$3 m mods rel dst
	shift 3
	mods=$(for m in "$@"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" {print $2}' ||
			echo "mkinitramfs: note: $kver has no module $m" >&2
	done | sort -u)
	for m in $mods; do
		rel=${m#"$kroot"}
		dst=$root${rel%.xz}
		mkdir -p "$(dirname "$dst")"
		case "$m" in
		*.xz) xz -dc "$m" > "$dst" ;;
		*.zst) zstd -qdc "$m" > "$dst" ;;
		*) cp "$m" "$dst" ;;
		esac
	done
	mkdir -p "$root/lib/modules/$kver"
	cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} \
		"$root/lib/modules/$kver/"
}

# Modules a second-level guest loads (block tests: a virtio disk, ext4;
# network tests: e1000 or virtio-net).
L2_MODULES="virtio_pci virtio_blk ext4 crc32c_generic e1000 virtio_net"

build_l2_initrd() { # OUTPUT: a second-level guest's initramfs
	local d
	d=$(mktemp -d)
	mkdir -p "$d"/{bin,dev,proc,sys,mnt,tmp} "$d/lib/modules/$L2KVER"
	cp /bin/busybox "$d/bin/busybox"
	copy_elf /sbin/mke2fs "$d"
	copy_modules "$d" "$L2ROOT" "$L2KVER" $L2_MODULES
	depmod -b "$d" "$L2KVER" || die "depmod failed for the second-level guest"
	cp "$VM/l2-init" "$d/init"
	chmod 0755 "$d/init"
	[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$d/dev/console" c 5 1
	mkcpio "$d" "$1"
	rm -rf "$d"
}

build_base() { # OUTPUT
	local r
	r=$(mktemp -d)
	mkdir -p "$r"/{bin,sbin,dev,proc,sys,tmp,run,mnt,etc,root,usr/bin,usr/share/kvmio/l2,usr/share/libvirt}
	mkdir -p "$r/lib/modules/$KVER"
	cp /bin/busybox "$r/bin/busybox"
	[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$r/dev/console" c 5 1
	ln -s /proc/mounts "$r/etc/mtab"

	copy_modules "$r" "$KROOT" "$KVER" $TEST_MODULES
	depmod -b "$r" "$KVER" || die "depmod failed"

	# Second-level guests: stock QEMU, its firmware, a Debian kernel;
	# e2fsprogs to check what they wrote.
	copy_elf /usr/bin/qemu-system-x86_64 "$r"
	copy_elf /sbin/e2fsck "$r"
	copy_elf /usr/bin/qemu-storage-daemon "$r"
	copy_elf /sbin/mke2fs "$r"
	# fio for the native rate of the block benchmarks' backends.
	copy_elf /usr/bin/fio "$r"
	# jq parses kvmio --json; Debian's mdevctl (unpacked by deps.sh) and
	# its udev rule, which admin_test.sh replays, for persistent contexts.
	copy_elf /usr/bin/jq "$r"
	copy_elf "$CACHE/mdevctl/usr/bin/mdevctl" "$r" /usr/sbin/mdevctl
	cp -r "$CACHE/mdevctl/etc/mdevctl.d" "$r/etc/"	# the package's folders
	mkdir -p "$r/usr/share/kvmio/mdevctl"
	cp "$CACHE/mdevctl/lib/udev/rules.d/60-mdevctl.rules" "$r/usr/share/kvmio/mdevctl/"
	# libvirt's daemon with its QEMU driver only, and virsh, for
	# libvirt_domain_test.sh (no network, storage or nodedev driver: the
	# test's domain needs none); cpu_map for host-passthrough.
	copy_elf /usr/sbin/libvirtd "$r"
	copy_elf /usr/bin/virsh "$r"
	copy_elf "$LIBVIRT_DRV/libvirt_driver_qemu.so" "$r"
	cp -r /usr/share/libvirt/cpu_map "$r/usr/share/libvirt/"
	# Debian builds QEMU's TCG as a module: libvirtd probes QEMU with
	# accel=tcg too and finds no emulator when that probe fails.
	copy_elf /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$r"
	mkdir -p "$r/usr/share/seabios" "$r/usr/share/qemu"
	cp -L /usr/share/seabios/*.bin "$r/usr/share/seabios/"
	cp -rL /usr/share/qemu/. "$r/usr/share/qemu/"
	cp "$L2ROOT/boot/vmlinuz-$L2KVER" "$r/usr/share/kvmio/l2/vmlinuz"
	build_l2_initrd "$r/usr/share/kvmio/l2/initrd"

	mkcpio "$r" "$1"
	rm -rf "$r"
}

build_suite() { # OUTPUT
	local s m
	s=$(mktemp -d)
	mkdir -p "$s/lib/modules/$KVER/extra" "$s/usr/share/kvmio/test-modules" \
		"$s/usr/share/kvmio/tests" "$s/usr/bin"
	for m in iommu_soft irq_remap vhost_blk kvm_assign; do
		cp "$B/$m/$m.ko" "$s/lib/modules/$KVER/extra/"
	done
	cp "$B"/selftests/modules/*.ko "$s/usr/share/kvmio/test-modules/"
	# Guest-side test modules, as an archive to append to the
	# second-level guest's initramfs (/lib/kvmio/ there).
	mkdir -p "$s/l2/lib/kvmio" "$s/usr/share/kvmio/l2"
	cp "$L2B"/selftests/modules/kt_edu_guest.ko "$s/l2/lib/kvmio/"
	cp "$B"/bin/selftests/helpers/blkbench "$B"/bin/selftests/helpers/nicbench \
		"$B"/bin/selftests/helpers/memhp_io "$B"/bin/selftests/helpers/blkpattern \
		"$B"/bin/selftests/helpers/blkmig "$s/l2/lib/kvmio/"
	install -m 0755 "$VM/l2-nic.sh" "$s/l2/lib/kvmio/l2-nic.sh"
	mkcpio "$s/l2" "$s/usr/share/kvmio/l2/suite.cpio"
	rm -rf "$s/l2"
	cp "$B/bin/kvmio" "$s/usr/bin/kvmio"
	cp "$TOP/Documentation/libvirt-domain.xml" "$s/usr/share/kvmio/"
	cp -r "$B/bin/selftests/." "$s/usr/share/kvmio/tests/"
	install -m 0755 "$VM/init" "$s/init"
	install -m 0755 "$VM/runner.sh" "$s/usr/share/kvmio/runner.sh"
	install -m 0755 "$VM/demo.sh" "$s/usr/share/kvmio/demo.sh"
	echo "$KVER" > "$s/usr/share/kvmio/kver"
	# The packages' build (run-vm.sh --pkg): modules DKMS built from
	# kvmio-dkms and the packaged tool, for selftests/pkg_test.sh.
	if [ -n "${KVMIO_PKG_DIR:-}" ]; then
		mkdir -p "$s/usr/share/kvmio/pkg"
		cp "$KVMIO_PKG_DIR"/*.ko "$KVMIO_PKG_DIR/kvmio" "$KVMIO_PKG_DIR/key" \
			"$s/usr/share/kvmio/pkg/"
	fi
	mkcpio "$s" "$1"
	rm -rf "$s"
}

base=$CACHE/initramfs/base-$KVER.cpio
stamp=$base.src
want="$(cat "$0" "$VM/l2-init" | sha256sum | cut -d' ' -f1) $(stat -c %Y "$KROOT/boot/vmlinuz-$KVER")"
[ "$L2KVER" = "$KVER" ] || want="$want $L2KVER $(stat -c %Y "$L2ROOT/boot/vmlinuz-$L2KVER")"
mkdir -p "$CACHE/initramfs"
if [ ! -s "$base" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	echo "mkinitramfs: building the base archive for $KVER" >&2
	build_base "$base.tmp"
	mv "$base.tmp" "$base"
	echo "$want" > "$stamp"
fi

build_suite "$OUT.suite"
# The suite's own modules are not in the base's modules.dep: the runner
# loads them by path, in dependency order.
cat "$base" "$OUT.suite" > "$OUT"
rm -f "$OUT.suite"
