#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# pkg-test.sh - the packages, on the host: what "make check" runs before the
# test VMs (Documentation/packaging.rst).
#
#   pkg-test.sh [--series S]...     (default: 6.12 and 6.1)
#
# Builds both .debs (deb.sh: build dependencies with apt-get, lintian),
# checks their contents, then, for the newest Debian 12 kernel of each
# series, unpacks kvmio-dkms into a private root and runs Debian's own
# dkms (3.0.10) on it with a private tree: "dkms add" of
# /usr/src/kvmio-<version> as the package installs it, "dkms build"
# against /usr/src/linux-headers-<version> (the plain Kbuild build, with
# its probes), signing with a key of this test, as dkms signs with
# /var/lib/dkms/mok.key on a real host.  Nothing is written outside .cache:
# the host's /var/lib/dkms, /usr/src and /lib/modules are not touched
# ("dkms install", which copies into /lib/modules and runs depmod there,
# is therefore not run; the maintainer scripts are dh_dkms's own).
#
# For the test VM it leaves, in .cache/pkg/<kver>/, the four modules DKMS
# built and the packaged tool; "run-vm.sh --pkg" puts them into the VM,
# where selftests/pkg_test.sh loads them and asks the tool.  A series whose
# unpacked sources, kernel and dkms did not change since its last build
# is not built again (reported as cached).  Prints TAP.

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
rm -rf "$P/root"
mkdir -p "$P/root"
dpkg-deb -x "$DKMS_DEB" "$P/root" && dpkg-deb -x "$TOOL_DEB" "$P/root"
vtool=$("$P/root/usr/sbin/kvmio" version 2>&1 | grep -o '[0-9][0-9.]*' | head -n1)
echo "# versions: changelog $V, dkms.conf $vconf, KVMIO_VERSION $vmod, kvmio version $vtool"
[ "$V" = "$vconf" ] && [ "$V" = "$vmod" ] && [ "$V" = "$vtool" ]
check $? "package: one version in debian/changelog, dkms.conf, version.h and the tool ($V)"

# 3. What the packages hold.
S=$P/root/usr/src/kvmio-$V
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
	[ -e "$P/root/$f" ] || { echo "# kvmio lacks /$f"; rc=1; }
done
[ "$(dpkg-deb -I "$TOOL_DEB" conffiles 2>/dev/null | wc -l)" -eq 2 ] ||
	{ echo "# kvmio's conffiles: $(dpkg-deb -I "$TOOL_DEB" conffiles 2>&1 | tr '\n' ' ')"; rc=1; }
"$P/root/usr/sbin/kvmio" status >/dev/null 2>&1 ||
	{ echo "# the packaged kvmio status fails on the host"; rc=1; }
check $rc "package: kvmio holds the tool (it runs), modprobe.d and modules-load.d conffiles"

# 4. DKMS, per kernel series, with a private tree.
DKMS_VER=$(dpkg-query -W -f='${Version}' dkms)
srckey=$(cd "$S" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
D=$P/dkms
DK=(--dkmstree "$D/tree" --sourcetree "$D/src" --installtree "$D/install")
rm -rf "$D/tree" "$D/src"
mkdir -p "$D/tree" "$D/src"
cp -a "$S" "$D/src/"
# The signing key dkms makes when it has none (as /var/lib/dkms/mok.*):
# framework.conf's variables, from the environment.
export mok_signing_key=$D/mok.key mok_certificate=$D/mok.pub
dkms add -m kvmio -v "$V" "${DK[@]}" >"$P/dkms-add.log" 2>&1
check $? "dkms: add kvmio/$V from /usr/src/kvmio-$V as kvmio-dkms installs it"

for s in "${SERIES[@]}"; do
	kv=$("$VM/deps.sh" --series "$s" 2>>"$P/deps.log")
	[ -n "$kv" ] || { notok "dkms $s: kernel resolved"; continue; }
	K=/usr/src/linux-headers-$kv
	out=$P/$kv
	key="$srckey $kv $(stat -c %Y "$K/Module.symvers") dkms $DKMS_VER"
	if [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
		ok "dkms $s: build of kvmio $V for $kv (cached: same sources, kernel and dkms as a build that passed)"
		continue
	fi
	rm -rf "$out"
	mkdir -p "$out"
	t0=$(date +%s)
	dkms build -m kvmio -v "$V" -k "$kv" --kernelsourcedir "$K" "${DK[@]}" \
		>"$out/dkms.log" 2>&1
	rc=$?
	echo "# dkms build for $kv: exit $rc, $(($(date +%s) - t0)) s"
	mk=$D/tree/kvmio/$V/$kv/$(uname -m)/module
	if [ $rc -ne 0 ]; then
		tail -n 30 "$out/dkms.log" | sed 's/^/# /'
		cat "$D/tree/kvmio/$V/build/make.log" 2>/dev/null | grep -E 'error|warning' | head -n 20 | sed 's/^/# /'
		notok "dkms $s: build of kvmio $V for $kv"
		continue
	fi
	rc=0
	for m in $MODULES; do
		f=$(ls "$mk/$m".ko* 2>/dev/null | head -n1)
		[ -n "$f" ] || { echo "# no $m in $mk"; rc=1; continue; }
		case "$f" in
		*.xz) xz -dc "$f" > "$out/$m.ko" ;;
		*.zst) zstd -qdc "$f" > "$out/$m.ko" ;;
		*) cp "$f" "$out/$m.ko" ;;
		esac
		vm=$(modinfo -F vermagic "$out/$m.ko")
		signer=$(modinfo -F signer "$out/$m.ko")
		[ "${vm%% *}" = "$kv" ] || { echo "# $m: vermagic '$vm', not $kv"; rc=1; }
		[ "$signer" = "DKMS module signing key" ] ||
			{ echo "# $m: signer '$signer', not dkms's key"; rc=1; }
	done
	# The build log of a plain Kbuild build: the probes ran, no warning.
	grep -q 'PROBE' "$D/tree/kvmio/$V/$kv/$(uname -m)/log/make.log" ||
		{ echo "# no PROBE line in dkms's make.log"; rc=1; }
	if grep -E '(warning|error):|WARNING:' "$D/tree/kvmio/$V/$kv/$(uname -m)/log/make.log" | sed 's/^/# /' | grep .; then
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		cp "$P/root/usr/sbin/kvmio" "$out/kvmio"
		echo "$key" > "$out/key"
	fi
	check $rc "dkms $s: build of kvmio $V for $kv: four modules, vermagic $kv, signed with dkms's key, no warning"
done

# BUILD_EXCLUSIVE_KERNEL: a kernel outside both series is skipped, not built.
dkms build -m kvmio -v "$V" -k 6.5.0-1-amd64 \
	--kernelsourcedir "/usr/src/linux-headers-$(cat "$CACHE/kver-6.12")" \
	"${DK[@]}" >"$P/exclusive.log" 2>&1
rc=$?
grep -q BUILD_EXCLUSIVE "$P/exclusive.log"
check $(( rc == 77 && $? == 0 ? 0 : 1 )) "dkms: a 6.5 kernel is excluded by BUILD_EXCLUSIVE_KERNEL (exit $rc)"

finish
