#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh - build the modules, the tool and the tests for one kernel.
#
#   build.sh [--series 6.12|6.1] [--kver EXACT] [--kdir TREE] [--strict]
#
# Runs deps.sh (packages, headers, kernel image), then builds in
# .cache/build/<kver>/ (or $KVMIO_BUILD_DIR; a tree of symlinks to the sources, so that two
# kernels never share objects; Kbuild writes the probed compat header there):
#   modules          W=1, and with --strict also sparse on every file (C=2)
#   test modules     selftests/modules (kt_warn, kt_sticky)
#   bin/             tools/kvmio and the selftests, static, -Werror
# With --strict any compiler, sparse, kernel-doc (-Wall, headers included)
# or modpost warning fails the build and is printed.  The build directory is the last line on stdout.
# --kdir builds against a built kernel tree instead of a Debian kernel's
# headers (the debug kernel of selftests/vm/debug-kernel.sh); deps.sh is
# then not run.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
DEPS_ARGS=()
STRICT=0
KDIR=

while [ $# -gt 0 ]; do
	case "$1" in
	--series|--kver) DEPS_ARGS+=("$1" "$2"); shift 2 ;;
	--kdir) KDIR=$(cd "$2" && pwd); shift 2 ;;
	--strict) STRICT=1; shift ;;
	*) echo "build.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

die() { echo "build: error: $*" >&2; exit 1; }

if [ -n "$KDIR" ]; then
	KVER=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null) ||
		die "$KDIR is not a built kernel tree"
else
	KVER=$("$TOP/selftests/vm/deps.sh" "${DEPS_ARGS[@]}")
	KDIR=/usr/src/linux-headers-$KVER
fi
B=${KVMIO_BUILD_DIR:-$CACHE/build/$KVER}
LOG=$B/build.log
JOBS=$(nproc)

[ -e "$KDIR/Makefile" ] || die "no kernel headers at $KDIR"
mkdir -p "$B"

# Mirror the kernel-side sources as symlinks; drop links to deleted files.
(cd "$TOP" && cp -as --remove-destination "$TOP"/Kbuild "$TOP"/include \
	"$TOP"/iommu_soft "$TOP"/irq_remap "$TOP"/vhost_blk "$TOP"/kvm_assign "$B"/)
mkdir -p "$B/selftests"
cp -as --remove-destination "$TOP/selftests/modules" "$B/selftests/"
find "$B" -xtype l -delete

# The top-level Kbuild probes the kernel itself (include/kvmio/conftest.sh,
# into $B/generated/), as a plain "make -C KDIR M=..." or DKMS does.

KFLAGS=(W=1)
[ $STRICT -eq 1 ] && KFLAGS+=(C=2 CHECK=sparse)

: > "$LOG"
step() {
	local what=$1
	shift
	echo "build: $what ($KVER)" >&2
	if ! "$@" >>"$LOG" 2>&1; then
		grep -E "error|warning|Error" "$LOG" >&2 || tail -n 30 "$LOG" >&2
		die "$what failed; full log in $LOG"
	fi
}

step "modules" make -C "$KDIR" M="$B" "${KFLAGS[@]}" -j"$JOBS" modules
step "test modules" make -C "$KDIR" M="$B/selftests/modules" "${KFLAGS[@]}" -j"$JOBS" modules
step "tool" make -C "$TOP/tools" OUT="$B/bin" -j"$JOBS"
# Rebuilt from scratch (it is small): a deleted test must not linger.
rm -rf "$B/bin/selftests"
step "selftests" make -C "$TOP/selftests" OUT="$B/bin/selftests" -j"$JOBS"

if [ $STRICT -eq 1 ]; then
	# kernel-doc on every kernel-side file, headers included (W=1 covers
	# only the .c files it compiles, and without -Wall).  It reads source
	# text only: kernels whose kernel-doc lacks -Wall (6.1) skip it.
	# uAPI headers document their ioctls in blocks like
	# include/uapi/linux/vfio.h does, which are not kernel-doc.
	if "$KDIR/scripts/kernel-doc" -none -Wall "$TOP/include/kvmio/version.h" >/dev/null 2>&1; then
		step "kernel-doc" bash -c 'cd "$1" && find iommu_soft irq_remap vhost_blk kvm_assign \
			include selftests/modules -name "*.[ch]" ! -name "*.mod.c" ! -path "*/conftest/*" \
			! -path "include/uapi/*" \
			! -name compat_gen.h -print0 | sort -z |
			xargs -0 -r "$2/scripts/kernel-doc" -none -Wall' _ "$TOP" "$KDIR"
	else
		echo "build: kernel-doc of $KVER has no -Wall; checked with 6.12 instead" >&2
	fi
	# Anything a compiler, sparse or modpost has to say is a failure.
	if grep -E "(warning|error):|WARNING:" "$LOG" >&2; then
		die "warnings in the $KVER build (W=1, sparse, kernel-doc); full log in $LOG"
	fi
	echo "build: $KVER clean with W=1, sparse and kernel-doc" >&2
fi

echo "$B"
