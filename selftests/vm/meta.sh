#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# meta.sh - the harness must be able to fail.
#
#   meta.sh [--series S | --kver V]
#
# Runs the checks of make check on inputs that must fail, and asserts that
# they do, each for the right reason:
#   1. a strict build of a copy of the tree with a W=1-only warning, a
#      sparse-only warning and a kernel-doc error injected fails and names
#      each, and the Coccinelle check of that copy fails on an injected
#      pattern;
#   2. a test VM that loads kt_warn (WARN on load) and kt_sticky (cannot be
#      unloaded) and runs a program that never ends is judged failed: the
#      WARN is seen in the kernel log and on the console, the taint is
#      reported, the unload failure and the program timeout are reported;
#   3. a test VM that never finishes is killed and judged failed.
# Prints TAP; exits non-zero if any of these expected failures went unseen.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
VM=$TOP/selftests/vm
CACHE=${KVMIO_CACHE:-$TOP/.cache}
export KVMIO_CACHE=$CACHE	# the tree copy below shares the kernels
ARGS=("$@")
B=$("$VM/build.sh" "${ARGS[@]}") || exit 1
KVER=$(basename "$B")
W=$(mktemp -d "$CACHE/meta.XXXXXX")
trap 'rm -rf "$W"' EXIT

n=0
failed=0
check() { # description, command...
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $d"
	else
		failed=$((failed + 1))
		echo "not ok $n - $d"
	fi
}

echo "TAP version 13"
echo "# meta: expected failures on $KVER"

# 1. Static checks: a copy of the tree with two injected warnings.
mkdir -p "$W/tree"
(cd "$TOP" && git ls-files -z -c -o --exclude-standard | xargs -0 cp --parents -t "$W/tree")
cat >> "$W/tree/irq_remap/main.c" <<'EOF'

/* Injected by selftests/vm/meta.sh: must fail the strict build. */
#include <linux/slab.h>
int kvmio_meta_noproto(void);
int kvmio_meta_noproto2(void) { return 0; }
static int __maybe_unused kvmio_meta_sparse(void __iomem *p)
{
	return *(int *)p;
}

/**
 * kvmio_meta_doc() - a kernel-doc comment that misses its parameter
 */
static int __maybe_unused kvmio_meta_doc(int x)
{
	return x;
}

static void __maybe_unused kvmio_meta_cocci(void *p)
{
	if (p)
		kfree(p);
}
EOF
KVMIO_BUILD_DIR=$W/build "$W/tree/selftests/vm/build.sh" --kver "$KVER" --strict \
	> "$W/build.out" 2>&1
brc=$?
sed 's/^/# /' "$W/build.out" | grep -E "warning|error" | head -n 6
check "strict build fails on injected warnings" test $brc -ne 0
check "W=1 warning reported (missing prototype)" \
	grep -q "no previous prototype for .kvmio_meta_noproto2" "$W/build.out"
check "sparse warning reported (address space)" \
	grep -q "removes address space" "$W/build.out"
check "kernel-doc warning reported (undescribed parameter)" \
	grep -q "not described in 'kvmio_meta_doc'" "$W/build.out"
"$W/tree/selftests/vm/cocci.sh" --kver "$KVER" > "$W/cocci.out" 2>&1
crc=$?
grep "^cocci:" "$W/cocci.out" | sed 's/^/# /'
check "coccinelle check fails on an injected pattern (ifnullfree)" test $crc -ne 0
check "coccinelle report names the semantic patch" \
	grep -q "^cocci: free/ifnullfree: irq_remap/main.c" "$W/cocci.out"

# 2. A test VM that must be judged failed.
vm1() {
	"$VM/run-vm.sh" --kver "$KVER" --no-build --out "$W/vm1" \
		--extra kt_warn,kt_sticky --tests modules_test,helpers/sleeper.sh \
		--test-timeout 10 --vm-timeout 600 > "$W/vm1.out" 2>&1
}
vm1
vrc=$?
# A known fault of the environment (selftests/vm/envfault.sh) is not the
# failure this run must show: repeat once, as check.sh does.
if "$VM/envfault.sh" "$W/vm1/console.log" > "$W/envfault" 2>&1; then
	echo "# ENVIRONMENT FAULT: $(head -n 1 "$W/envfault"); repeating once"
	vm1
	vrc=$?
fi
grep -E "^(not ok|verdict)" "$W/vm1.out" | sed 's/^/# /'
check "VM run with a WARN, a sticky module and a hung program fails" test $vrc -ne 0
check "WARN seen in the guest's kernel log after loading modules" \
	grep -q "^not ok [0-9]* - kernel log clean after loading modules" "$W/vm1/results.log"
check "WARN seen on the kernel console" \
	grep -q "kernel console reports: .*WARNING:" "$W/vm1/reasons"
check "warning taint reported" \
	grep -q "^not ok [0-9]* - kernel not tainted" "$W/vm1/results.log"
check "module that cannot unload reported" \
	grep -q "^not ok [0-9]* - unload kt_sticky" "$W/vm1/results.log"
check "hung program killed at its timeout and reported" \
	grep -q "^not ok [0-9]* - helpers/sleeper.sh # timeout" "$W/vm1/results.log"
check "other tests still pass in that run" \
	grep -q "^ok [0-9]* - modules_test" "$W/vm1/results.log"

# 3. A VM that never finishes.
"$VM/run-vm.sh" --kver "$KVER" --no-build --out "$W/vm2" --mode hang \
	--vm-timeout 40 > "$W/vm2.out" 2>&1
vrc=$?
grep -E "^verdict" "$W/vm2.out" | sed 's/^/# /'
check "VM that never finishes is killed and fails" test $vrc -ne 0
check "timeout named as the reason" grep -q "did not finish in time" "$W/vm2/reasons"

echo "1..$n"
[ $failed -eq 0 ]
