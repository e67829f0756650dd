/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KVMIO_VERSION_H
#define _KVMIO_VERSION_H

/* The suite's version; every module reports it in /sys/module/<name>/version. */
#define KVMIO_VERSION "0.1.0"

#endif /* _KVMIO_VERSION_H */
