/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The syscalls the probes record, per architecture, chosen by the -D__TARGET_ARCH_* that
 * ebpf/build.rs passes: BF_SYSCALLS(X) expands X(number, kind, name) once per syscall,
 * where `name` is the kernel's __NR_ name. The probes' switch (syscall_kind) and the check
 * of the numbers against each architecture's kernel headers (ebpf/tests/syscall_numbers.c,
 * run by `cargo xtask test`) are both generated from it.
 *
 * The two tables record the same calls, except that arm64 has none of x86-64's legacy
 * calls: there is no mkdir (mkdirat is what its C library calls).
 *
 * BF_READ and BF_WRITE are summed per file descriptor, not emitted; BF_NR_CLOSE is the
 * close(2) that sends the summary out.
 */
#ifndef BEEFINE_SYSCALLS_H
#define BEEFINE_SYSCALLS_H

#if defined(__TARGET_ARCH_x86)

#define BF_NR_CLOSE 3
#define BF_SYSCALLS(X)                                                                   \
	X(0, BF_READ, read)                                                              \
	X(1, BF_WRITE, write)                                                            \
	X(17, BF_READ, pread64)                                                          \
	X(18, BF_WRITE, pwrite64)                                                        \
	X(19, BF_READ, readv)                                                            \
	X(20, BF_WRITE, writev)                                                          \
	X(41, BF_SOCKET, socket)                                                         \
	X(42, BF_CONNECT, connect)                                                       \
	X(43, BF_ACCEPT, accept)                                                         \
	X(49, BF_BIND, bind)                                                             \
	X(50, BF_LISTEN, listen)                                                         \
	X(56, BF_CLONE, clone)                                                           \
	X(80, BF_CHDIR, chdir)                                                           \
	X(81, BF_FCHDIR, fchdir)                                                         \
	X(83, BF_MKDIR, mkdir)                                                           \
	X(95, BF_UMASK, umask)                                                           \
	X(105, BF_SETUID, setuid)                                                        \
	X(106, BF_SETGID, setgid)                                                        \
	X(116, BF_SETGROUPS, setgroups)                                                  \
	X(126, BF_CAPSET, capset)                                                        \
	X(155, BF_PIVOT_ROOT, pivot_root)                                                \
	X(157, BF_PRCTL, prctl)                                                          \
	X(161, BF_CHROOT, chroot)                                                        \
	X(165, BF_MOUNT, mount)                                                          \
	X(166, BF_UMOUNT, umount2)                                                       \
	X(170, BF_SETHOSTNAME, sethostname)                                              \
	X(257, BF_OPENAT, openat)                                                        \
	X(258, BF_MKDIRAT, mkdirat)                                                      \
	X(272, BF_UNSHARE, unshare)                                                      \
	X(288, BF_ACCEPT4, accept4)                                                      \
	X(308, BF_SETNS, setns)                                                          \
	X(317, BF_SECCOMP, seccomp)                                                      \
	X(322, BF_EXECVEAT, execveat)                                                    \
	X(428, BF_OPEN_TREE, open_tree)                                                  \
	X(429, BF_MOVE_MOUNT, move_mount)                                                \
	X(430, BF_FSOPEN, fsopen)                                                        \
	X(431, BF_FSCONFIG, fsconfig)                                                    \
	X(432, BF_FSMOUNT, fsmount)                                                      \
	X(433, BF_FSPICK, fspick)                                                        \
	X(435, BF_CLONE3, clone3)                                                        \
	X(437, BF_OPENAT2, openat2)                                                      \
	X(442, BF_MOUNT_SETATTR, mount_setattr)

#elif defined(__TARGET_ARCH_arm64)

/* The generic table of include/uapi/asm-generic/unistd.h. */
#define BF_NR_CLOSE 57
#define BF_SYSCALLS(X)                                                                   \
	X(34, BF_MKDIRAT, mkdirat)                                                       \
	X(39, BF_UMOUNT, umount2)                                                        \
	X(40, BF_MOUNT, mount)                                                           \
	X(41, BF_PIVOT_ROOT, pivot_root)                                                 \
	X(49, BF_CHDIR, chdir)                                                           \
	X(50, BF_FCHDIR, fchdir)                                                         \
	X(51, BF_CHROOT, chroot)                                                         \
	X(56, BF_OPENAT, openat)                                                         \
	X(63, BF_READ, read)                                                             \
	X(64, BF_WRITE, write)                                                           \
	X(65, BF_READ, readv)                                                            \
	X(66, BF_WRITE, writev)                                                          \
	X(67, BF_READ, pread64)                                                          \
	X(68, BF_WRITE, pwrite64)                                                        \
	X(91, BF_CAPSET, capset)                                                         \
	X(97, BF_UNSHARE, unshare)                                                       \
	X(144, BF_SETGID, setgid)                                                        \
	X(146, BF_SETUID, setuid)                                                        \
	X(159, BF_SETGROUPS, setgroups)                                                  \
	X(161, BF_SETHOSTNAME, sethostname)                                              \
	X(166, BF_UMASK, umask)                                                          \
	X(167, BF_PRCTL, prctl)                                                          \
	X(198, BF_SOCKET, socket)                                                        \
	X(200, BF_BIND, bind)                                                            \
	X(201, BF_LISTEN, listen)                                                        \
	X(202, BF_ACCEPT, accept)                                                        \
	X(203, BF_CONNECT, connect)                                                      \
	X(220, BF_CLONE, clone)                                                          \
	X(242, BF_ACCEPT4, accept4)                                                      \
	X(268, BF_SETNS, setns)                                                          \
	X(277, BF_SECCOMP, seccomp)                                                      \
	X(281, BF_EXECVEAT, execveat)                                                    \
	X(428, BF_OPEN_TREE, open_tree)                                                  \
	X(429, BF_MOVE_MOUNT, move_mount)                                                \
	X(430, BF_FSOPEN, fsopen)                                                        \
	X(431, BF_FSCONFIG, fsconfig)                                                    \
	X(432, BF_FSMOUNT, fsmount)                                                      \
	X(433, BF_FSPICK, fspick)                                                        \
	X(435, BF_CLONE3, clone3)                                                        \
	X(437, BF_OPENAT2, openat2)                                                      \
	X(442, BF_MOUNT_SETATTR, mount_setattr)

#else
#error "Beefine's probes know the syscalls of x86-64 and arm64 only: build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

#endif /* BEEFINE_SYSCALLS_H */
