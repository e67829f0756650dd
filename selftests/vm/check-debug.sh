#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-debug.sh - what "make check-debug" runs: the whole test VM on the
# debug kernel (KASAN, lockdep, UBSAN, kmemleak, fault injection).
#
#   check-debug.sh
#
# Builds the debug kernel once (debug-kernel.sh; cached outside the clone),
# builds the suite against its tree and runs every test program on it
# (run-vm.sh --debug); any KASAN, lockdep, UBSAN, kmemleak or WARN report
# fails the run.  A VM that dies of a known fault of the environment
# (selftests/vm/envfault.sh: TCG's cross-modifying-code race, nested SVM
# under TCG) is repeated once.  Ends with
# "N passed, N failed, N skipped"; exits non-zero on any failure.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/runs/check-debug
T0=$(date +%s)

echo "### debug kernel"
KDIR=$("$VM/debug-kernel.sh") || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
echo "# tree $KDIR ($(cat "$KDIR/include/config/kernel.release"), built in $(cat "$KDIR/../build.seconds" 2>/dev/null || echo '?') s)"

echo "### test VM on the debug kernel ($(($(date +%s) - T0)) s)"
"$VM/run-vm.sh" --debug --out "$OUT"
rc=$?
if [ $rc -ne 0 ] && "$VM/envfault.sh" "$OUT/console.log" > "$OUT.envfault" 2>&1; then
	echo "### ENVIRONMENT FAULT: $(head -n 1 "$OUT.envfault")"
	tail -n +2 "$OUT.envfault" | sed 's/^/###   /'
	echo "### run kept in $OUT-envfault; repeating once"
	rm -rf "$OUT-envfault"
	mv "$OUT" "$OUT-envfault"
	"$VM/run-vm.sh" --debug --no-build --out "$OUT"
	rc=$?
fi

echo "### summary"
echo "make check-debug took $(($(date +%s) - T0)) s (VM: $(cat "$OUT/vm.status" 2>/dev/null))"
if [ -s "$OUT/counts" ]; then
	read -r p f k < "$OUT/counts"
else
	p=0 f=1 k=0
fi
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
[ -s "$OUT/reasons" ] && sed 's/^/FAILED: /' "$OUT/reasons"
echo "$p passed, $f failed, $k skipped"
[ $rc -eq 0 ]
