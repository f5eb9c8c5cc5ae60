/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * Checks the probes' syscall table (include/bf_syscalls.h) against an architecture's kernel
 * headers. `cargo xtask test` compiles it, syntax only, once per architecture the probes
 * know, with that architecture's -D__TARGET_ARCH_* and asm/unistd.h: a number that is not
 * the kernel's is a compile error naming the syscall, and so is a name that architecture
 * does not have.
 */
#include <asm/unistd.h>

#include "beefine_abi.h"
#include "bf_syscalls.h"

#define BF_CHECK_NR(nr, kind, name)                                                      \
	_Static_assert((nr) == __NR_##name, "bf_syscalls.h has " #nr " for " #name           \
					    ", not the kernel's __NR_" #name);

BF_SYSCALLS(BF_CHECK_NR)

_Static_assert(BF_NR_CLOSE == __NR_close, "BF_NR_CLOSE is not the kernel's __NR_close");
