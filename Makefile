# SPDX-License-Identifier: GPL-2.0
#
# kvmio: out-of-tree modules that extend KVM's I/O.  A thin wrapper: the
# work is done by the scripts in selftests/vm/ (see Documentation/testing.rst).
#
#   make                  build modules, tool and tests for the newest 6.12
#   make KSERIES=6.1      ... for the newest Debian 12 6.1 kernel
#   make KVER=<version>   ... for an exact Debian kernel version
#   make deps             install packages, fetch headers and kernel image
#   make check            static checks + test VM on 6.12 and 6.1 + harness
#                         self-tests; ends with "N passed, N failed, N skipped"
#   make check-quick      static checks + test VM on 6.12 only
#   make check-debug      the test VM on a debug 6.12 kernel (KASAN, lockdep,
#                         UBSAN, kmemleak; built once, cached in
#                         /var/cache/kvmio); any report fails
#   make demo             boot the test VM and show what the suite does
#   make vm-shell         interactive shell in the test VM (Ctrl-A X quits)
#   make bench-assign     kvm_assign's mediation cost against vfio-pci behind
#                         an (emulated) hardware IOMMU; prints ratios
#   make bench-remap      irq_remap and iommu_soft costs against their anchors
#   make fuzz             the fuzzers in the test VM, 180 s each (FUZZ_TIME,
#                         FUZZ_SEED, FUZZ_ONLY=a,b, FUZZ_WILD=1, FUZZ_ARG)
#   make bench-blk        guest block IOPS: QEMU virtio-blk, qemu-storage-daemon
#                         vhost-user-blk, vhost_blk via kvmio blk-serve
#   make bench-nic        a second-level guest's NIC throughput and round trip:
#                         kvm_assign-e1000, vfio-pci behind intel-iommu, vhost-net,
#                         against an e1000 emulated by its QEMU
#   make modules KDIR=... build only the modules against any kernel tree
#                         (the same as "make -C KDIR M=$PWD": Kbuild probes)
#   make deb              the Debian packages kvmio-dkms and kvmio, into
#                         .cache/deb (Documentation/packaging.rst)
#   make dkms-src DESTDIR=... copy the sources DKMS builds into DESTDIR
#   make clean            remove build products (keeps fetched kernels)
#   make distclean        remove the whole cache

KSERIES	?= 6.12
KVER	?=
VM	:= selftests/vm
SEL	:= $(if $(KVER),--kver $(KVER),--series $(KSERIES))

all:
	@$(VM)/build.sh $(SEL) >/dev/null

deps:
	@$(VM)/deps.sh $(SEL) --refresh

check:
	@$(VM)/check.sh

check-quick:
	@$(VM)/check.sh --quick

check-debug:
	@$(VM)/check-debug.sh

demo:
	@$(VM)/run-vm.sh $(SEL) --mode demo --out .cache/runs/demo

vm-shell:
	@$(VM)/run-vm.sh $(SEL) --mode shell --out .cache/runs/shell

FUZZ_TIME ?= 180
fuzz:
	@$(VM)/fuzz.sh $(SEL) --time $(FUZZ_TIME) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED)) \
		$(if $(FUZZ_ONLY),--only $(FUZZ_ONLY)) $(if $(FUZZ_WILD),--wild) \
		$(if $(FUZZ_ARG),--arg $(FUZZ_ARG))

bench-assign:
	@$(VM)/bench-assign.sh $(SEL)

bench-remap:
	@$(VM)/bench-remap.sh $(SEL)

bench-blk:
	@$(VM)/bench-blk.sh $(SEL)

bench-nic:
	@$(VM)/bench-nic.sh $(SEL)

# Plain Kbuild, for a developer's own kernel tree; Kbuild runs the compat
# probes itself (into generated/), so "make -C $(KDIR) M=$$PWD" is the same.
KDIR	?= /lib/modules/$(shell uname -r)/build
modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

deb:
	@$(VM)/deb.sh >/dev/null

# What DKMS needs to build the modules (kvmio-dkms ships it under
# /usr/src/kvmio-<version>/): the top Kbuild, dkms.conf, include/ with the
# probes, the four module folders; sources only, no build products.
DKMS_SRC := Kbuild dkms.conf include iommu_soft irq_remap vhost_blk kvm_assign
dkms-src:
	@test -n "$(DESTDIR)" || { echo "make dkms-src: set DESTDIR" >&2; exit 2; }
	@mkdir -p $(DESTDIR)
	@find $(DKMS_SRC) -type f \( -name '*.[ch]' ! -name '*.mod.c' ! -name compat_gen.h -o -name Kbuild \
		-o -name conftest.sh -o -name dkms.conf \) -print0 | \
		cpio -0 -pdm --quiet $(DESTDIR)

clean:
	rm -rf .cache/build .cache/runs .cache/initramfs generated include/kvmio/compat_gen.h
	@if [ -e $(KDIR)/Makefile ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null; fi
	$(MAKE) -C tools clean >/dev/null
	rm -rf selftests/bin

distclean: clean
	rm -rf .cache

.PHONY: all deps check check-quick check-debug demo vm-shell fuzz bench-assign bench-remap bench-blk bench-nic modules deb dkms-src clean distclean
