#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pkg-test.sh - the packages, on the host: what "make check" runs before the
# test VMs (Documentation/packaging.rst).
#
#   pkg-test.sh [--series S]...     (default: 6.12 and 6.1)
#
# Builds both .debs (deb.sh: build dependencies with apt-get, lintian) and
# checks their contents; then pkg-root.sh installs them into a throwaway
# Debian 12 root (this host's root under a tmpfs overlay, in a private
# mount namespace: nothing reaches the host) with the newest Debian 12
# kernel of each series' headers: dh_dkms's postinst and dkms's kernel
# hook build, sign (dkms's default /var/lib/dkms/mok.key, made in the root)
# and install the modules; dkms refuses a 6.5 kernel; dpkg -r removes it
# all.
#
# For the test VM it leaves, in .cache/pkg/<kver>/, the four modules DKMS
# installed for that kernel and the packaged tool; "run-vm.sh --pkg" puts
# them into the VM, where selftests/pkg_test.sh loads them and asks the
# tool.  When the packages' contents, the kernels and dkms did not change
# since a run that passed, the root is not made again (reported as
# cached).  Prints TAP.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
SERIES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--series) SERIES+=("$2"); shift 2 ;;
	*) echo "pkg-test.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ ${#SERIES[@]} -gt 0 ] || SERIES=(6.12 6.1)

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # rc description
	if [ "$1" -eq 0 ]; then ok "$2"; else notok "$2"; fi
}
finish() { echo "1..$n"; [ $failed -eq 0 ]; exit $?; }

MODULES="iommu_soft irq_remap vhost_blk kvm_assign"
P=$CACHE/pkg
mkdir -p "$P"

# 1. The packages.
DEB=$("$VM/deb.sh" 2>"$P/deb.log")
check $? "package: make deb builds kvmio-dkms and kvmio; lintian reports no error"
grep '^deb: lintian: [WIPE]:' "$P/deb.log" | sed 's/^deb: lintian: /# lintian: /'
[ -n "$DEB" ] || { sed 's/^/# /' "$P/deb.log" | tail -n 20; finish; }

V=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
DKMS_DEB=$DEB/kvmio-dkms_${V}_all.deb
TOOL_DEB=$(ls "$DEB"/kvmio_"${V}"_*.deb)

# 2. One version everywhere: debian/changelog, dkms.conf, the modules'
# KVMIO_VERSION and the tool's.
vconf=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
vmod=$(sed -n 's/^#define KVMIO_VERSION "\(.*\)"/\1/p' "$TOP/include/kvmio/version.h")
rm -rf "$P/unpacked"
mkdir -p "$P/unpacked"
dpkg-deb -x "$DKMS_DEB" "$P/unpacked" && dpkg-deb -x "$TOOL_DEB" "$P/unpacked"
vtool=$("$P/unpacked/usr/sbin/kvmio" version 2>&1 | grep -o '[0-9][0-9.]*' | head -n1)
echo "# versions: changelog $V, dkms.conf $vconf, KVMIO_VERSION $vmod, kvmio version $vtool"
[ "$V" = "$vconf" ] && [ "$V" = "$vmod" ] && [ "$V" = "$vtool" ]
check $? "package: one version in debian/changelog, dkms.conf, version.h and the tool ($V)"

# 3. What the packages hold.
S=$P/unpacked/usr/src/kvmio-$V
rc=0
for f in dkms.conf Kbuild include/kvmio/conftest.sh include/kvmio/compat.h \
	 iommu_soft/Kbuild irq_remap/Kbuild vhost_blk/Kbuild kvm_assign/Kbuild; do
	[ -e "$S/$f" ] || { echo "# kvmio-dkms lacks /usr/src/kvmio-$V/$f"; rc=1; }
done
if find "$S" -name '*.o' -o -name '*.ko' -o -name compat_gen.h | grep -q .; then
	echo "# kvmio-dkms ships build products"; rc=1
fi
dpkg-deb -I "$DKMS_DEB" postinst 2>/dev/null | grep -q 'common.postinst' ||
	{ echo "# kvmio-dkms has no dkms postinst"; rc=1; }
dpkg-deb -f "$DKMS_DEB" Depends | grep -q dkms ||
	{ echo "# kvmio-dkms does not depend on dkms"; rc=1; }
check $rc "package: kvmio-dkms holds the sources DKMS builds, no build products, dh_dkms's scripts"
rc=0
for f in usr/sbin/kvmio etc/modprobe.d/kvmio.conf etc/modules-load.d/kvmio.conf; do
	[ -e "$P/unpacked/$f" ] || { echo "# kvmio lacks /$f"; rc=1; }
done
for f in /etc/modprobe.d/kvmio.conf /etc/modules-load.d/kvmio.conf; do
	dpkg-deb -I "$TOOL_DEB" conffiles 2>/dev/null | grep -qx "$f" ||
		{ echo "# $f is not a conffile of kvmio"; rc=1; }
done
"$P/unpacked/usr/sbin/kvmio" status >/dev/null 2>&1 ||
	{ echo "# the packaged kvmio status fails on the host"; rc=1; }
check $rc "package: kvmio holds the tool (it runs), modprobe.d and modules-load.d conffiles"

# 4. Installed into a throwaway Debian 12 root (pkg-root.sh): dpkg -i,
# dh_dkms's postinst, dkms's kernel hook per kernel, dpkg -r.
DKMS_VER=$(dpkg-query -W -f='${Version}' dkms)
# What the packages hold and their maintainer scripts.
srckey=$({ (cd "$P/unpacked" && find . -type f | LC_ALL=C sort | xargs sha256sum)
	   dpkg-deb --ctrl-tarfile "$DKMS_DEB" | tar -xO
	   dpkg-deb --ctrl-tarfile "$TOOL_DEB" | tar -xO; } | sha256sum | cut -d' ' -f1)
KVERS=()
for s in "${SERIES[@]}"; do
	kv=$("$VM/deps.sh" --series "$s" 2>>"$P/deps.log")
	if [ -z "$kv" ]; then
		notok "root: Debian 12 kernel $s resolved"
		continue
	fi
	KVERS+=("$kv")
done
[ ${#KVERS[@]} -gt 0 ] || finish
key="$srckey dkms $DKMS_VER"
for kv in "${KVERS[@]}"; do
	key="$key $kv $(stat -c %Y "/usr/src/linux-headers-$kv/Module.symvers")"
done
cached=1
for kv in "${KVERS[@]}"; do
	[ "$(cat "$P/$kv/key" 2>/dev/null)" = "$key" ] || cached=0
done
if [ $cached -eq 1 ]; then
	ok "root: install, DKMS builds for ${KVERS[*]}, remove (cached: same packages, kernels and dkms as a run that passed)"
	finish
fi

for kv in "${KVERS[@]}"; do rm -rf "${P:?}/$kv"; done
rm -rf "$P/root-logs"
mkdir -p "$P/root-logs"
t0=$(date +%s)
unshare -m --propagation private "$VM/pkg-root.sh" "$DEB" "$V" "$P/root-logs" "${KVERS[@]}" \
	> "$P/root.out" 2>&1
rrc=$?
echo "# pkg-root.sh: exit $rrc, $(($(date +%s) - t0)) s"
fails=0
while IFS= read -r line; do
	case "$line" in
	"RESULT "*)
		rest=${line#RESULT }
		[ "${rest%% *}" = 0 ] || fails=$((fails + 1))
		check "${rest%% *}" "${rest#* }" ;;
	"# "*) echo "$line" ;;
	esac
done < "$P/root.out"
grep -q '^RESULT ' "$P/root.out" || { tail -n 20 "$P/root.out" | sed 's/^/# /'; notok "root: pkg-root.sh ran"; fails=1; }
[ $rrc -eq 0 ] || [ $fails -gt 0 ] || { notok "root: pkg-root.sh exit $rrc"; fails=1; }

# For the test VM (run-vm.sh --pkg): the modules installed for each kernel
# and the packaged tool.
if [ $fails -eq 0 ]; then
	for kv in "${KVERS[@]}"; do
		mkdir -p "$P/$kv"
		cp "$P/root-logs/$kv"/*.ko "$P/unpacked/usr/sbin/kvmio" "$P/$kv/"
		echo "$key" > "$P/$kv/key"
	done
fi

finish
