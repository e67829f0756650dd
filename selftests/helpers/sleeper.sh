#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A test program that never ends: the runner's program timeout must kill it.
echo "TAP version 13"
echo "1..1"
while :; do sleep 3600; done
