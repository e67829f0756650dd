#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-remap.sh - the remapping engines' own costs (make bench-remap).
#
# Not a test.  Boots the test VM once and runs:
#   helpers/irq_remap_bench   interrupt round trip through an irq_remap
#                             entry (process and hard-irq delivery) against
#                             a plain eventfd write, the anchor;
#   helpers/iommu_soft_bench  CPU-side DMA through a domain with IOTLB hits
#                             against misses.
# Each prints its figures and ratios; the device-level figure (edu's
# interrupt through kvm_assign and irq_remap against vfio-pci) is make
# bench-assign.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KVMIO_CACHE:-$TOP/.cache}
OUT=$CACHE/runs/bench-remap
"$TOP/selftests/vm/run-vm.sh" "$@" --tests helpers/irq_remap_bench,helpers/iommu_soft_bench \
	--out "$OUT" > "$CACHE/bench-remap.out" 2>&1
rc=$?
sed -n 's/^    //p' "$OUT/results.log" | grep -v '^TAP version'
[ $rc -eq 0 ] || echo "bench-remap: the VM run failed; see $CACHE/bench-remap.out"
exit $rc
