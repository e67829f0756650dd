#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb.sh - build the Debian packages (what "make deb" runs).
#
#   deb.sh [--no-lintian]
#
# Installs the build dependencies with apt-get (idempotent), copies the
# tree's sources (git's tracked and untracked, not ignored, files: no
# .cache, no build products) into .cache/deb/src/kvmio-<version>/ and runs
# dpkg-buildpackage there (source and binaries, unsigned), so nothing is
# written into the tree or beside it.  Results in .cache/deb/:
#   kvmio-dkms_<v>_all.deb, kvmio_<v>_amd64.deb, the source package, the
#   .changes and .buildinfo, build.log, lintian.txt
# Then runs lintian on the .changes (source and both binaries): any E: tag
# fails; the other tags are printed.  Prints .cache/deb on stdout.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/deb
LINTIAN=1
[ "${1:-}" = "--no-lintian" ] && LINTIAN=0

log() { echo "deb: $*" >&2; }
die() { echo "deb: error: $*" >&2; exit 1; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

# Build-Depends of debian/control, what dpkg-buildpackage itself runs, and
# lintian.
PKGS="dpkg-dev debhelper dh-dkms dkms fakeroot gcc make libc6-dev lintian"
miss=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		miss="$miss $p"
done
if [ -n "$miss" ]; then
	mkdir -p "$CACHE"
	log "apt-get install$miss"
	{ $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends $miss; } \
		>"$CACHE/apt-deb.log" 2>&1 ||
		{ cat "$CACHE/apt-deb.log" >&2; die "apt-get install$miss failed"; }
fi

VERSION=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
SRC=$OUT/src/kvmio-$VERSION

rm -rf "$OUT"
mkdir -p "$SRC"
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -z -co --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		cpio -0 -pdm --quiet "$SRC")
else
	(cd "$TOP" && tar -c --exclude=./.cache --exclude-vcs . | tar -x -C "$SRC")
fi

log "dpkg-buildpackage kvmio $VERSION"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc --no-check-builddeps) >"$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log" >&2
	die "dpkg-buildpackage failed; full log in $OUT/build.log"
fi
mv "$OUT"/src/*.deb "$OUT"/src/*.dsc "$OUT"/src/*.tar.* "$OUT"/src/*.changes \
	"$OUT"/src/*.buildinfo "$OUT"/
rm -rf "$OUT/src"
ls "$OUT"/*.deb >&2

if [ $LINTIAN -eq 1 ]; then
	log "lintian"
	lintian --display-info --pedantic "$OUT"/kvmio_"$VERSION"_*.changes \
		>"$OUT/lintian.txt" 2>&1 || true
	sed 's/^/deb: lintian: /' "$OUT/lintian.txt" >&2
	if grep -q '^E: ' "$OUT/lintian.txt"; then
		die "lintian reports errors (E:), see $OUT/lintian.txt"
	fi
fi

echo "$OUT"
