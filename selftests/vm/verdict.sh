#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# verdict.sh - judge one test-VM run from the host side.
#
#   verdict.sh RUN_DIR
#
# Reads RUN_DIR/results.log (the runner's TAP), RUN_DIR/console.log (the
# kernel console) and RUN_DIR/vm.status.  Prints the reasons a run failed,
# then "verdict: N passed, N failed, N skipped" and writes the same counts
# to RUN_DIR/counts.  Exit 0 only if the runner finished, nothing failed and
# the console shows no WARN, BUG, oops, panic, lockdep, KASAN or UBSAN
# report.
#
# Counting: each leaf test case (a test program's own "ok"/"not ok" lines)
# counts once; the runner's own checks (module load/unload, kernel log,
# taint) count once each; a program's summary line counts only when the
# program printed no test cases, or failed although none of them did
# (a crash or a timeout).

set -uo pipefail

D=$1
RES=$D/results.log
CON=$D/console.log
SPLAT='WARNING:|BUG:|Oops|general protection fault|Kernel panic|KASAN|UBSAN|kmemleak: [0-9]+ new suspected|kmemleak: .*(disabled|[Cc]annot|empty)|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|list_(add|del) corruption|refcount_t:|INFO: task .* blocked for more than|stack-protector'

reasons=()

[ -e "$RES" ] || reasons+=("no results file")
if ! grep -q '^kvmio-runner: done' "$RES" 2>/dev/null; then
	st=$(cat "$D/vm.status" 2>/dev/null)
	case "$st" in
	qemu_rc=124*|qemu_rc=137*) reasons+=("the VM did not finish in time ($st)") ;;
	*) reasons+=("the runner did not finish ($st)") ;;
	esac
fi
if [ -e "$CON" ] && grep -Eq "$SPLAT" "$CON"; then
	reasons+=("kernel console reports: $(grep -Eo "$SPLAT" "$CON" | sort -u | tr '\n' ' ')")
fi

counts=$(awk '
	function flush() {
		if (!inprog)
			return
		inprog = 0
	}
	/^# Subtest: / { inprog = 1; leaves = 0; leaffail = 0; next }
	/^    (not )?ok [0-9]+/ {
		if (!inprog)
			next
		leaves++
		if ($0 ~ /^    not ok/) { fail++; leaffail++ }
		else if ($0 ~ /# SKIP/) skip++
		else pass++
		next
	}
	/^(not )?ok [0-9]+/ {
		isprog = inprog
		inprog = 0
		if (isprog && leaves > 0) {
			if ($0 ~ /^not ok/ && leaffail == 0)
				fail++
			next
		}
		if ($0 ~ /^not ok/) fail++
		else if ($0 ~ /# SKIP/) skip++
		else pass++
	}
	END { printf "%d %d %d\n", pass, fail, skip }
' "$RES" 2>/dev/null || echo "0 0 0")
read -r pass fail skip <<< "$counts"
[ "$fail" -gt 0 ] && reasons+=("$fail failed test(s): $(grep -E '^ *not ok' "$RES" | sed 's/^ *//' | tr '\n' ';')")
if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
	reasons+=("no test ran")
fi

echo "$pass $fail $skip" > "$D/counts"
if [ ${#reasons[@]} -gt 0 ]; then
	for r in "${reasons[@]}"; do
		echo "verdict: FAIL: $r"
	done
	printf '%s\n' "${reasons[@]}" > "$D/reasons"
	[ "$fail" -eq 0 ] && fail=1 && echo "$pass $fail $skip" > "$D/counts"
	echo "verdict: $pass passed, $fail failed, $skip skipped"
	exit 1
fi
: > "$D/reasons"
echo "verdict: $pass passed, $fail failed, $skip skipped"
exit 0
