/* SPDX-License-Identifier: GPL-2.0 */
/* kvmio: commands implemented outside kvmio.c */
#ifndef _KVMIO_TOOL_H
#define _KVMIO_TOOL_H

/* blk_bridge.c: kvmio blk-serve (vhost-user-blk server for /dev/vhost-blk) */
int cmd_blk_serve(int argc, char **argv);

#endif /* _KVMIO_TOOL_H */
