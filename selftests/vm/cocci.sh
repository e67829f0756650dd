#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cocci.sh - the kernel's own Coccinelle semantic patches, in report mode,
# over the suite's kernel code.
#
#   cocci.sh [--kver V]
#
# The semantic patches come from Debian's linux-source-6.12 package
# (scripts/coccinelle/, unpacked once into the cache).  Every report fails
# the check unless selftests/cocci-waivers lists it with a reason:
#
#	<semantic patch name> <path relative to the tree> -- <reason>
#
# e.g. "api/kstrdup irq_remap/table.c -- the copy is bounded by the uAPI".

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
WAIVERS=$TOP/selftests/cocci-waivers
KVER=$("$TOP/selftests/vm/deps.sh" "$@") || exit 1
KDIR=/usr/src/linux-headers-$KVER
CDIR=$CACHE/cocci
DIRS="iommu_soft irq_remap vhost_blk kvm_assign include selftests/modules"

die() { echo "cocci: error: $*" >&2; exit 1; }

if [ ! -e "$CDIR/.complete" ]; then
	tarball=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n1)
	[ -n "$tarball" ] || die "linux-source-6.12 is not installed"
	rm -rf "$CDIR"
	mkdir -p "$CDIR"
	tar -C "$CDIR" -xf "$tarball" --strip-components=1 --wildcards \
		'*/scripts/coccinelle/*' || die "cannot unpack $tarball"
	touch "$CDIR/.complete"
fi

spver=$(spatch --version | awk '/spatch version/{print $3}')
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# The kernel-side sources, copied so that one --dir covers them all.
mkdir -p "$W/src"
(cd "$TOP" && cp -r --parents $DIRS "$W/src/")
find "$W/src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete

# One spatch per semantic patch, as many at a time as there are cores.
find "$CDIR/scripts/coccinelle" -name '*.cocci' | sort > "$W/list"
export KDIR W spver
run_one() {
	local cocci=$1 name opt req
	name=$(echo "${cocci#*/scripts/coccinelle/}" | sed 's/\.cocci$//')
	opt=$(grep "^// Options:" "$cocci" | cut -d: -f2)
	req=$(grep "^// Requires:" "$cocci" | cut -d: -f2 | tr -d ' ')
	if [ -n "$req" ] && ! printf '%s\n%s\n' "$req" "$spver" | sort -CV; then
		return 0
	fi
	(cd "$W/src" && spatch -D report --no-show-diff --very-quiet \
		--cocci-file "$cocci" $opt -I include -I "$KDIR/include" \
		--dir . 2>/dev/null) |
		grep -E '^[^ ]+:[0-9]+' | sed "s|^\./||; s|^$W/src/||; s|^|$name |" \
		> "$W/out.$(echo "$name" | tr / _)"
}
export -f run_one
xargs -a "$W/list" -P "$(nproc)" -I{} bash -c 'run_one "$@"' _ {}

cat "$W"/out.* 2>/dev/null | sort -u > "$W/reports"
total=$(wc -l < "$W/reports")
bad=0
while read -r name loc msg; do
	path=${loc%%:*}
	if grep -Eq "^$name[[:space:]]+$path[[:space:]]+--[[:space:]]+[^[:space:]]" \
			"$WAIVERS" 2>/dev/null; then
		echo "cocci: waived: $name $loc $msg"
	else
		echo "cocci: $name: $loc $msg"
		bad=$((bad + 1))
	fi
done < "$W/reports"

n=$(wc -l < "$W/list")
if [ $bad -gt 0 ]; then
	echo "cocci: $bad report(s) not waived (of $total) from $n semantic patches" >&2
	exit 1
fi
echo "cocci: clean: $n semantic patches, $total report(s), all waived" >&2
