/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt_kshim.h - just enough of the kernel's types and helpers for a test to
 * compile a pure kernel .c file (no locks, no allocation) in userspace:
 *
 *	#include "lib/kt_kshim.h"
 *	#include "../kvm_assign/e1000_offload.c"
 *
 * The .c file's own <linux/...> includes then find the uapi headers, which
 * are harmless; everything kernel-only it uses must be here.  Host byte
 * order is whatever <endian.h> says.
 */
#ifndef _KT_KSHIM_H
#define _KT_KSHIM_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>

typedef uint8_t		u8;
typedef uint16_t	u16;
typedef uint32_t	u32;
typedef uint64_t	u64;
typedef int8_t		s8;
typedef int16_t		s16;
typedef int32_t		s32;
typedef int64_t		s64;

#define le16_to_cpu(x)	le16toh(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)
#define cpu_to_le16(x)	htole16(x)
#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)

#define min_t(type, a, b)						\
	({ type _a = (a), _b = (b); _a < _b ? _a : _b; })
#define max_t(type, a, b)						\
	({ type _a = (a), _b = (b); _a > _b ? _a : _b; })

#endif /* _KT_KSHIM_H */
