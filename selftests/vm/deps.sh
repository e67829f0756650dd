#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh - install what the suite needs and fetch a Debian kernel.
#
#   deps.sh [--series 6.12|6.1] [--kver EXACT] [--refresh]
#
# Installs the Debian packages the build, the static checks and the test VM
# use (idempotent: when everything is present it only checks and returns),
# resolves the newest available Debian 12 kernel of a series (never a
# hard-coded ABI version: old ones disappear from the archive), installs its
# headers with apt-get and unpacks its image (apt-get download + dpkg -x) into
# the git-ignored cache.  Prints the resolved kernel version on stdout.
#
# Cache layout (under $KVMIO_CACHE, default <tree>/.cache):
#   kver-<series>         the version resolved for a series
#   kernels/<kver>/       the unpacked linux-image package (boot/, lib/modules/)
#   stamps/               markers that make a second run fast

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
SERIES=6.12
KVER=
REFRESH=0

while [ $# -gt 0 ]; do
	case "$1" in
	--series) SERIES=$2; shift 2 ;;
	--kver) KVER=$2; shift 2 ;;
	--refresh) REFRESH=1; shift ;;
	*) echo "deps.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

log() { echo "deps: $*" >&2; }
die() { echo "deps: error: $*" >&2; exit 1; }

# Packages for building, checking and the test VM.  qemu-system-x86 also
# provides the second-level VMM copied into the test VM, jq checks --json
# output (here and in the VM), libvirt-clients has virt-xml-validate and
# virsh, libvirt-daemon and libvirt-daemon-driver-qemu have libvirtd and its
# QEMU driver (copied into the test VM; no service is enabled: that is
# libvirt-daemon-system, not installed).  linux-source-6.12
# and the last line build the debug kernel (debug-kernel.sh).
PKGS="make gcc libc6-dev kmod cpio xz-utils zstd e2fsprogs busybox-static
      qemu-system-x86 qemu-utils seabios sparse coccinelle python3
      linux-source-6.12 dmsetup fio jq libvirt-clients
      libvirt-daemon libvirt-daemon-driver-qemu
      flex bison bc libelf-dev libssl-dev patch"

mkdir -p "$CACHE/stamps" "$CACHE/kernels"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_update() {
	[ $apt_updated -eq 1 ] && return 0
	log "apt-get update"
	$SUDO apt-get update -qq >"$CACHE/apt.log" 2>&1 ||
		{ cat "$CACHE/apt.log" >&2; die "apt-get update failed"; }
	apt_updated=1
}

missing_pkgs() {
	local p out=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q "install ok installed" || out="$out $p"
	done
	echo $out
}

apt_install() {
	local miss
	miss=$(missing_pkgs "$@")
	[ -z "$miss" ] && return 0
	apt_update
	log "apt-get install $miss"
	$SUDO apt-get install -y -qq --no-install-recommends $miss \
		>"$CACHE/apt.log" 2>&1 ||
		{ cat "$CACHE/apt.log" >&2; die "apt-get install $miss failed"; }
}

apt_install $PKGS

# mdevctl (Debian's 1.2, a Rust binary) for the test VM's persistence test:
# downloaded and unpacked, never installed (its udev rule stays off this
# host).
mdir=$CACHE/mdevctl
if [ ! -x "$mdir/usr/bin/mdevctl" ]; then
	apt-cache show mdevctl >/dev/null 2>&1 || apt_update
	log "fetching mdevctl"
	rm -rf "$mdir" "$mdir.tmp"
	mkdir -p "$mdir.tmp/deb"
	(cd "$mdir.tmp/deb" &&
	 apt-get download -qq -o APT::Sandbox::User=root mdevctl >&2) ||
		die "apt-get download mdevctl failed"
	dpkg -x "$mdir.tmp"/deb/*.deb "$mdir.tmp"
	rm -rf "$mdir.tmp/deb"
	mv "$mdir.tmp" "$mdir"
fi

# --- kernel resolution ----------------------------------------------------

newest_kver() {
	# Newest linux-headers-<series>.*-amd64 the archive offers (not -rt, not
	# -cloud), sorted by Debian version order.
	local series=$1
	apt-cache search --names-only "^linux-headers-${series//./\\.}[.-].*-amd64\$" 2>/dev/null |
		awk '{print $1}' | grep -v -e '-rt-' -e '-cloud-' |
		sed -e 's/^linux-headers-//' |
		while read -r v; do
			echo "$(apt-cache show "linux-headers-$v" 2>/dev/null |
				awk '/^Version:/{print $2; exit}') $v"
		done | sort -V -k1,1 | tail -n1 | awk '{print $2}'
}

if [ -z "$KVER" ]; then
	stamp=$CACHE/kver-$SERIES
	if [ $REFRESH -eq 0 ] && [ -s "$stamp" ]; then
		KVER=$(cat "$stamp")
	else
		KVER=$(newest_kver "$SERIES")
		if [ -z "$KVER" ]; then
			apt_update
			KVER=$(newest_kver "$SERIES")
		fi
		[ -n "$KVER" ] || die "no linux-headers package for series $SERIES in the archive"
		echo "$KVER" > "$stamp"
	fi
fi

# Headers (installed: they are what /lib/modules/<kver>/build points at).
if [ ! -e "/usr/src/linux-headers-$KVER/Makefile" ]; then
	apt_install "linux-headers-$KVER" ||
		die "cannot install linux-headers-$KVER"
fi

# Image: downloaded and unpacked into the cache, never installed.
kdir=$CACHE/kernels/$KVER
if [ ! -e "$kdir/.complete" ]; then
	pkg=linux-image-$KVER-unsigned
	apt-cache show "$pkg" >/dev/null 2>&1 || apt_update
	apt-cache show "$pkg" >/dev/null 2>&1 || die "package $pkg is not in the archive"
	log "fetching $pkg"
	rm -rf "$kdir" "$kdir.tmp"
	mkdir -p "$kdir.tmp/deb"
	(cd "$kdir.tmp/deb" &&
	 apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) ||
		die "apt-get download $pkg failed"
	dpkg -x "$kdir.tmp"/deb/*.deb "$kdir.tmp/root"
	rm -rf "$kdir.tmp/deb"
	# The package ships no modules.dep: generate it for the unpacked tree.
	depmod -b "$kdir.tmp/root" "$KVER" ||
		die "depmod failed for $KVER"
	mv "$kdir.tmp" "$kdir"
	touch "$kdir/.complete"
fi

echo "$KVER"
