#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mdevctl_udev.sh - what mdevctl's udev rule does, for a test VM without
# udev.  "busybox uevent mdevctl_udev.sh" runs it for every kernel uevent,
# with the event's variables in the environment.  Debian's
# /lib/udev/rules.d/60-mdevctl.rules (mdevctl 1.2) says:
#
#   ACTION=="change", ENV{MDEV_STATE}=="registered",
#     TEST=="/etc/mdevctl.d/$kernel", RUN+="... mdevctl start-parent-mdevs %k ..."
#
# (its second rule, on "add", is for kernels without that change event;
# admin_test.sh checks the rule text this script follows.)
LOG=/tmp/mdevctl-udev.log
kernel=${DEVPATH##*/}
[ "$ACTION" = change ] && [ "$MDEV_STATE" = registered ] || exit 0
echo "uevent $ACTION $DEVPATH MDEV_STATE=$MDEV_STATE" >> $LOG
[ -e "/etc/mdevctl.d/$kernel" ] || exit 0
/usr/sbin/mdevctl start-parent-mdevs "$kernel" >> $LOG 2>&1
echo "mdevctl start-parent-mdevs $kernel: exit $?" >> $LOG
