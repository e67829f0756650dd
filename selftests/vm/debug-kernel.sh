#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh - build (once) the debug kernel the suite runs on in
# "make check-debug": Debian's linux-source-6.12 with KASAN, lockdep, UBSAN,
# kmemleak and fault injection, and what the tests use built in.
#
#   debug-kernel.sh [--no-build]
#
# Prints the built kernel tree on stdout (a KDIR for out-of-tree modules:
# fully built, Module.symvers included); --no-build fails instead of
# building when it is not there yet.
#
# Configuration: x86_64_defconfig + kvm_guest.config, then every line of
# debug-kernel/kvmio-debug.config set with scripts/config, "make
# olddefconfig", and each of those lines checked in the resulting .config
# (an option Kconfig dropped fails the build).  The patches in
# debug-kernel/*.patch are applied to the source first (see
# Documentation/kvm_assign.rst, "Known upstream issue: type1 lock order").
#
# Cache, outside the clone (a kernel build is 15-25 minutes on 2 cores; a
# "make distclean" must not throw it away):
#   $KVMIO_DEBUG_CACHE (default /var/cache/kvmio)/debug-<key>/
#     src/        the built tree
#     root/       boot/vmlinuz-<kver> and lib/modules/<kver> (the =m modules,
#                 modules.builtin), the layout mkinitramfs.sh reads
#     kver        the kernel release
#     build.log   configuration and build output; build.seconds
# <key> hashes the configuration fragment, the patches, RECIPE below and the
# linux-source package's version: changing any of them builds anew.  The
# clone's .cache/kernels/<kver> is a symbolic link to the directory.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
DCACHE=${KVMIO_DEBUG_CACHE:-/var/cache/kvmio}
FRAG=$VM/debug-kernel/kvmio-debug.config
SRCPKG=linux-source-6.12
TARBALL=/usr/src/$SRCPKG.tar.xz
# Bump when the steps below change what gets built.
RECIPE=1
BUILD=1

while [ $# -gt 0 ]; do
	case "$1" in
	--no-build) BUILD=0; shift ;;
	*) echo "debug-kernel.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

log() { echo "debug-kernel: $*" >&2; }
die() { echo "debug-kernel: error: $*" >&2; exit 1; }

srcver=$(dpkg-query -W -f='${Version}' "$SRCPKG" 2>/dev/null) ||
	die "$SRCPKG is not installed (selftests/vm/deps.sh installs it)"
[ -r "$TARBALL" ] || die "no $TARBALL"
key=$( { echo "recipe $RECIPE $SRCPKG $srcver"; cat "$FRAG";
	 cat "$VM"/debug-kernel/*.patch; } | sha256sum | cut -c1-16)
D=$DCACHE/debug-$key
S=$D/src

link_cache() { # the clone's view of the built kernel
	local kver
	kver=$(cat "$D/kver")
	mkdir -p "$CACHE/kernels"
	ln -sfn "$D" "$CACHE/kernels/$kver"
	ln -sfn "$D" "$CACHE/debug-kernel"
}

if [ -e "$D/.complete" ]; then
	link_cache
	echo "$S"
	exit 0
fi
[ $BUILD -eq 1 ] || die "the debug kernel is not built (run debug-kernel.sh)"

mkdir -p "$DCACHE"
# One builder at a time; a second caller waits for the first.
exec 9>"$DCACHE/.lock-$key"
flock 9
if [ -e "$D/.complete" ]; then
	link_cache
	echo "$S"
	exit 0
fi

rm -rf "$D"
mkdir -p "$S"
L=$D/build.log
: > "$L"
t0=$(date +%s)
log "unpacking $SRCPKG $srcver into $D"
tar -xJf "$TARBALL" -C "$S" --strip-components=1 ||
	die "cannot unpack $TARBALL"
for p in "$VM"/debug-kernel/*.patch; do
	log "applying $(basename "$p")"
	patch -d "$S" -p1 --forward --no-backup-if-mismatch < "$p" >>"$L" 2>&1 ||
		die "$(basename "$p") does not apply to $SRCPKG $srcver; see $L"
done

# Kconfig: defaults, the KVM-guest fragment, then ours.
log "configuring"
kmake() { make -C "$S" -s "$@" >>"$L" 2>&1; }
kmake x86_64_defconfig || die "make x86_64_defconfig failed; see $L"
kmake kvm_guest.config || die "make kvm_guest.config failed; see $L"
args=()
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	opt=${line%%=*}
	opt=${opt#CONFIG_}
	val=${line#*=}
	case "$val" in
	y) args+=(--enable "$opt") ;;
	m) args+=(--module "$opt") ;;
	n) args+=(--disable "$opt") ;;
	\"*\") val=${val#\"}; args+=(--set-str "$opt" "${val%\"}") ;;
	*) args+=(--set-val "$opt" "$val") ;;
	esac
done < "$FRAG"
"$S/scripts/config" --file "$S/.config" "${args[@]}"
kmake olddefconfig || die "make olddefconfig failed; see $L"

# Every wanted line must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	opt=${line%%=*}
	val=${line#*=}
	if [ "$val" = n ]; then
		grep -q "^$opt=" "$S/.config" || continue
		log "$opt is set ($(grep "^$opt=" "$S/.config")); wanted off"
		bad=1
	elif ! grep -qxF "$line" "$S/.config"; then
		log "$line wanted; .config has: $(grep -E "^(# )?$opt[= ]" "$S/.config" || echo nothing)"
		bad=1
	fi
done < "$FRAG"
[ $bad -eq 0 ] || die "the configuration lacks wanted options (Kconfig dependencies?)"

log "building (bzImage modules, make -j2, log in $L); 15-25 minutes"
nice -n 10 make -C "$S" -j2 bzImage modules >>"$L" 2>&1 ||
	{ tail -n 30 "$L" >&2; die "kernel build failed; see $L"; }
# With CONFIG_LOCALVERSION, known once the build has synced the config.
kver=$(cat "$S/include/config/kernel.release")
mkdir -p "$D/root/boot"
make -C "$S" -s INSTALL_MOD_PATH="$D/root" modules_install >>"$L" 2>&1 ||
	die "modules_install failed; see $L"
cp "$S/arch/x86/boot/bzImage" "$D/root/boot/vmlinuz-$kver"
cp "$S/.config" "$D/root/boot/config-$kver"
# modules_install links build and source to the tree; keep them relative
# to nothing the initramfs would follow.
rm -f "$D/root/lib/modules/$kver"/{build,source}
echo "$kver" > "$D/kver"
t1=$(date +%s)
echo $((t1 - t0)) > "$D/build.seconds"
touch "$D/.complete"
log "built $kver in $((t1 - t0)) s"
link_cache
echo "$S"
