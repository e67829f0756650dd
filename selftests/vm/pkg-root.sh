#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pkg-root.sh - install the .debs into a throwaway Debian 12 root and let
# the package's own maintainer scripts and dkms's kernel hook build the
# modules.  Run by pkg-test.sh as
#
#   unshare -m --propagation private pkg-root.sh DEB_DIR VERSION OUT KVER...
#
# The root is this build host's own root (Debian 12, with dkms, the
# compiler and both kernels' headers, which deps.sh and deb.sh installed)
# under an overlay whose upper layer is a tmpfs, in a private mount
# namespace: dpkg, dkms and depmod write into the overlay only, and all of
# it is gone when this script ends.  In the root:
#   dpkg -i kvmio-dkms kvmio     (dh_dkms's postinst: dkms add, build and
#                                 install for the newest kernel with headers)
#   /etc/kernel/postinst.d/dkms KVER   for each KVER, what installing that
#                                 kernel runs (dkms autoinstall)
# then checks /lib/modules/KVER/updates/dkms/, the signature by dkms's
# default key (/var/lib/dkms/mok.key, made on the first build), depmod's
# modules.dep, dkms status, the packaged tool, BUILD_EXCLUSIVE_KERNEL, and
# dpkg -r.  Copies the four modules of each KVER into OUT/KVER/.
# Prints "RESULT <0|1> <description>" lines and "# " comments.

set -uo pipefail

DEB=$1
V=$2
OUT=$3
shift 3
MODULES="iommu_soft irq_remap vhost_blk kvm_assign"

res() { echo "RESULT $1 $2"; }

R=$(mktemp -d /dev/shm/kvmio-pkgroot.XXXXXX) || exit 1
M=$R/root
cleanup() {
	umount -R "$M" 2>/dev/null
	rm -rf "$R"
}
trap cleanup EXIT
mkdir -p "$R/upper" "$R/work" "$M"
mount --make-rprivate / &&
mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$M" &&
mount -t proc proc "$M/proc" &&
mount -t sysfs sysfs "$M/sys" &&
mount --rbind /dev "$M/dev" &&
mount -t tmpfs tmpfs "$M/tmp" || { res 1 "root: overlay of / mounted"; exit 1; }

in_root() {
	chroot "$M" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# A fresh machine as far as kvmio is concerned (the host has none of it;
# this makes sure).
rm -rf "$M/var/lib/dkms/kvmio" "$M"/usr/src/kvmio-* "$M/var/lib/dkms/mok.key" \
	"$M/var/lib/dkms/mok.pub"
for kv in "$@"; do
	rm -rf "$M/lib/modules/$kv/updates/dkms"
done
mkdir -p "$M/tmp/pkg"
cp "$DEB/kvmio-dkms_${V}_all.deb" "$DEB"/kvmio_"${V}"_*.deb "$M/tmp/pkg/"

in_root sh -c 'dpkg -i /tmp/pkg/kvmio-dkms_*.deb /tmp/pkg/kvmio_*.deb' > "$OUT/dpkg-i.log" 2>&1
rc=$?
sed -n 's/^/# dpkg: /p' "$OUT/dpkg-i.log" | grep -E 'Building|Signing|Installing|skipped|rror|dkms' | head -n 20
res $rc "root: dpkg -i kvmio-dkms kvmio (dh_dkms's postinst ran dkms)"
in_root dpkg-query -W -f='${Status}' kvmio-dkms kvmio | grep -q '^install ok installed.*install ok installed$'
res $? "root: both packages installed and configured"

for kv in "$@"; do
	in_root /etc/kernel/postinst.d/dkms "$kv" > "$OUT/hook-$kv.log" 2>&1
	rc=$?
	grep -v 'readelf: Warning' "$OUT/hook-$kv.log" | sed 's/^/# hook: /' | tail -n 2
	d=$M/lib/modules/$kv/updates/dkms
	bad=0
	mkdir -p "$OUT/$kv"
	for m in $MODULES; do
		f=$(ls "$d/$m".ko* 2>/dev/null | head -n1)
		[ -n "$f" ] || { echo "# $kv: no $m in /lib/modules/$kv/updates/dkms"; bad=1; continue; }
		case "$f" in
		*.xz) xz -dc "$f" > "$OUT/$kv/$m.ko" ;;
		*.zst) zstd -qdc "$f" > "$OUT/$kv/$m.ko" ;;
		*) cp "$f" "$OUT/$kv/$m.ko" ;;
		esac
		vm=$(modinfo -F vermagic "$OUT/$kv/$m.ko")
		[ "${vm%% *}" = "$kv" ] || { echo "# $kv: $m has vermagic '$vm'"; bad=1; }
		signer=$(modinfo -F signer "$OUT/$kv/$m.ko")
		[ "$signer" = "DKMS module signing key" ] ||
			{ echo "# $kv: $m signed by '$signer'"; bad=1; }
		grep -q "^updates/dkms/$m.ko[.a-z]*:" "$M/lib/modules/$kv/modules.dep" ||
			{ echo "# $kv: $m not in modules.dep"; bad=1; }
	done
	in_root dkms status kvmio/"$V" -k "$kv" 2>/dev/null | tee "$OUT/status-$kv" | sed 's/^/# /'
	grep -q ': installed' "$OUT/status-$kv" || bad=1
	log=$M/var/lib/dkms/kvmio/$V/$kv/$(uname -m)/log/make.log
	grep -q PROBE "$log" || { echo "# $kv: the probes did not run"; bad=1; }
	grep -E '(warning|error):|WARNING:' "$log" | sed 's/^/# make.log: /' | grep . && bad=1
	res $(( rc != 0 || bad )) "root: kernel hook for $kv: four modules in /lib/modules/$kv/updates/dkms, vermagic $kv, signed with /var/lib/dkms/mok.key, in modules.dep, dkms status installed, no warning"
done
[ -s "$M/var/lib/dkms/mok.pub" ] && echo "# signing certificate: $(openssl x509 -inform DER -in "$M/var/lib/dkms/mok.pub" -noout -subject 2>/dev/null)"

in_root kvmio status > "$OUT/kvmio-status" 2>&1
res $? "root: /usr/sbin/kvmio status runs"

in_root dkms build kvmio/"$V" -k 6.5.0-1-amd64 --kernelsourcedir "/usr/src/linux-headers-$1" \
	> "$OUT/exclusive.log" 2>&1
rc=$?
grep -q BUILD_EXCLUSIVE "$OUT/exclusive.log"
res $(( rc == 77 && $? == 0 ? 0 : 1 )) "root: dkms refuses a 6.5 kernel (BUILD_EXCLUSIVE_KERNEL, exit $rc)"

in_root dpkg -r kvmio-dkms kvmio > "$OUT/dpkg-r.log" 2>&1
rc=$?
left=$(ls -d "$M"/usr/src/kvmio-* "$M"/var/lib/dkms/kvmio \
	$(for kv in "$@"; do echo "$M/lib/modules/$kv/updates/dkms/kvm_assign.ko"*; done) 2>/dev/null)
[ -z "$left" ] || echo "# left after dpkg -r: $left"
res $(( rc != 0 || ${#left} != 0 )) "root: dpkg -r removes the modules from every kernel and the sources"
