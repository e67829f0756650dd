#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# vhost_blk_guest_test.sh with a two-vCPU second-level guest, whose driver
# then uses several of the bridge's queues (see that test's header for why
# make check uses one vCPU).
L2_SMP=2 exec "$(dirname "$0")/../vhost_blk_guest_test.sh"
