/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * The one definition of every record Beefine's kernel probes write into the ring buffer.
 *
 * Mirrored in ebpf/src/abi.rs; ebpf/tests/abi.rs compiles this header with the host C
 * compiler and checks every size and offset against the Rust mirror.
 *
 * Recording a new syscall takes: its number in each architecture's table
 * (include/bf_syscalls.h, checked against the kernel headers by `cargo xtask test`); a kind
 * here and in the Rust mirror's `records!` table, with the record shape it is written in
 * (an existing one when it fits, else a new struct here, mirrored and layout-checked); the
 * reading of its arguments in on_sys_exit's switch (src/beefine.bpf.c); its kind description
 * in the schema; the arm that makes its event in recorder/src/convert.rs (which does not
 * compile without one); and a test that makes the call and finds it in a session.
 *
 * All records start with struct bf_header. Records whose last field is a string are
 * written only up to the string's end: `header.len` is the number of bytes written.
 * Integers are in host byte order, except addresses and ports in network byte order.
 */
#ifndef BEEFINE_ABI_H
#define BEEFINE_ABI_H

#ifndef BF_NO_TYPES
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;
typedef signed long long __s64;
#endif

#define BF_COMM_LEN 16
#define BF_PATH_LEN 256
#define BF_ARGV_LEN 512
#define BF_MOUNT_SOURCE_LEN 128
#define BF_MOUNT_FSTYPE_LEN 32
#define BF_SOCKADDR_LEN 112
#define BF_PAYLOAD_LEN 64
/* setgroups: the first gids read of the list. */
#define BF_GROUPS_MAX 64
/* clone3: set_tid holds at most one pid per pid namespace level (MAX_PID_NS_LEVEL). */
#define BF_SET_TID_MAX 32

/* What a record is: the event kind it becomes. */
enum bf_kind {
	BF_EXEC = 1,
	BF_FORK = 2,
	BF_EXIT = 3,
	BF_CLONE = 4,
	BF_CLONE3 = 5,
	BF_UNSHARE = 6,
	BF_SETNS = 7,
	BF_PRCTL = 8,
	BF_SECCOMP = 9,
	BF_CAPSET = 10,
	BF_MOUNT = 11,
	BF_UMOUNT = 12,
	BF_PIVOT_ROOT = 13,
	BF_CHROOT = 14,
	BF_OPENAT = 15,
	BF_OPENAT2 = 16,
	BF_MKDIR = 17,
	BF_MKDIRAT = 18,
	BF_FILE_IO = 19,
	BF_CGROUP_ATTACH = 20,
	BF_CGROUP_MKDIR = 21,
	BF_SOCKET = 22,
	BF_BIND = 23,
	BF_LISTEN = 24,
	BF_ACCEPT = 25,
	BF_ACCEPT4 = 26,
	BF_CONNECT = 27,
	BF_TCP_STATE = 28,
	BF_PACKET = 29,
	/* In-flight only, never emitted: reads and writes summed into BF_FILE_IO. */
	BF_READ = 30,
	BF_WRITE = 31,
	BF_OPEN_TREE = 32,
	BF_MOVE_MOUNT = 33,
	BF_FSOPEN = 34,
	BF_FSCONFIG = 35,
	BF_FSMOUNT = 36,
	BF_FSPICK = 37,
	BF_MOUNT_SETATTR = 38,
	BF_EXECVEAT = 39,
	BF_CHDIR = 40,
	BF_FCHDIR = 41,
	BF_UMASK = 42,
	BF_SETHOSTNAME = 43,
	BF_SETUID = 44,
	BF_SETGID = 45,
	BF_SETGROUPS = 46,
};

/* Indexes of the per-CPU counters map. */
enum bf_counter {
	/* Records the ring buffer had no room for. */
	BF_COUNTER_RINGBUF_FULL = 0,
	/* Files whose I/O could not be summed because the table was full. */
	BF_COUNTER_FILEIO_FULL = 1,
	/* Syscalls not recorded because no per-task storage could be allocated. */
	BF_COUNTER_INFLIGHT_FULL = 2,
	BF_COUNTER_COUNT = 3,
};

struct bf_header {
	/* CLOCK_BOOTTIME, ns. For syscalls: when the call was entered. */
	__u64 ts_nanos;
	/* cgroup v2 id of the task. */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tgid;
	/*
	 * Namespace inodes of the task (for syscalls: after the call returned); 0 when the
	 * kernel has no such namespace (time needs CONFIG_TIME_NS). pid_ns is the task's own
	 * (active) pid namespace, user_ns the one of its credentials.
	 */
	__u32 pid_ns;
	__u32 mnt_ns;
	__u32 net_ns;
	__u32 uts_ns;
	__u32 ipc_ns;
	__u32 user_ns;
	__u32 cgroup_ns;
	__u32 time_ns;
	/* enum bf_kind */
	__u16 kind;
	/* Bytes of the record actually written, header included. */
	__u16 len;
	char comm[BF_COMM_LEN];
	__u32 _pad;
};

/* sched_process_exec. Strings are NUL-terminated; argv is NUL-separated. */
struct bf_exec {
	struct bf_header h;
	__u32 filename_len;
	__u32 argv_len;
	char filename[BF_PATH_LEN];
	char argv[BF_ARGV_LEN];
};

/* sched_process_fork. The header describes the parent. */
struct bf_fork {
	struct bf_header h;
	__u32 parent_pid;
	__u32 parent_tgid;
	__u32 child_pid;
	__u32 child_tgid;
};

/* sched_process_exit of a whole process (group_dead). */
struct bf_exit {
	struct bf_header h;
	/* Raw wait status (task->exit_code). */
	__s32 exit_code;
	__u32 _pad;
};

/*
 * Syscalls with numeric arguments only, as passed: clone (flags), unshare (flags), setns
 * (fd, nstype), prctl (option, arg2), seccomp (operation, flags), socket (family, type,
 * protocol), listen (fd, backlog), fsmount (fs_fd, flags, attr_flags), fchdir (fd), umask
 * (mask), setuid (uid), setgid (gid); capset's args[0..3] are the effective, permitted and
 * inheritable sets read from its data (64-bit: the two u32 words of each).
 */
struct bf_args {
	struct bf_header h;
	__s64 ret;
	__u64 args[6];
};

/*
 * Syscalls with one string, `path`, and `args` as listed ("-": 0, where the string was):
 * openat (dirfd, -, flags, mode), openat2 (dirfd, how.resolve, how.flags, how.mode: the
 * struct open_how read from the caller), mkdir (-, mode), mkdirat (dirfd, -, mode), chroot
 * (-), umount (-, flags), open_tree (dirfd, -, flags), fsopen (- = the fstype, flags),
 * fspick (dirfd, -, flags), execveat (dirfd, -, flags; a successful one is written when
 * the new program starts, its path taken from the name the kernel made of it), chdir (-),
 * sethostname (- = the name, len: the caller's name is not NUL-terminated; up to 64 bytes
 * are read and terminated here). Written up to the end of `path`.
 */
struct bf_path {
	struct bf_header h;
	__s64 ret;
	__u64 args[4];
	__u32 path_len;
	__u32 _pad;
	char path[BF_PATH_LEN];
};

/* mount (source, target, fstype, data) and pivot_root (target = new_root, data = put_old). */
struct bf_mount {
	struct bf_header h;
	__s64 ret;
	__u64 flags;
	char source[BF_MOUNT_SOURCE_LEN];
	char target[BF_PATH_LEN];
	char fstype[BF_MOUNT_FSTYPE_LEN];
	char data[BF_PATH_LEN];
};

/*
 * Syscalls with two strings: move_mount (args = from_dirfd, to_dirfd, flags; first =
 * from_path, second = to_path) and fsconfig (args = fd, cmd, aux; first = key, for the
 * FSCONFIG_SET_* commands; second = value, for FSCONFIG_SET_STRING, _SET_PATH and
 * _SET_PATH_EMPTY; empty strings otherwise).
 */
struct bf_str_pair {
	struct bf_header h;
	__s64 ret;
	__u64 args[3];
	char first[BF_PATH_LEN];
	char second[BF_PATH_LEN];
};

/* mount_setattr, with its struct mount_attr (zero when `size` is too small for one). */
struct bf_mount_setattr {
	struct bf_header h;
	__s64 ret;
	__s32 dirfd;
	__u32 flags;
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
	__u64 userns_fd;
	/* The size argument, as passed. */
	__u32 size;
	__u32 _pad;
	char path[BF_PATH_LEN];
};

/* setgroups: `size` as passed, the first `count` (at most BF_GROUPS_MAX) gids of its list. */
struct bf_groups {
	struct bf_header h;
	__s64 ret;
	__u32 size;
	__u32 count;
	__u32 gids[BF_GROUPS_MAX];
};

/* clone3: what its struct clone_args asks for. */
struct bf_clone3 {
	struct bf_header h;
	/* The child's pid (in the caller's pid namespace), or -errno. */
	__s64 ret;
	__u64 flags;
	__u32 exit_signal;
	/* With CLONE_INTO_CGROUP, the cgroup directory's fd; else -1. */
	__s32 cgroup_fd;
	/* The cgroup v2 id (directory inode) that fd names, read from the caller's fd table;
	 * 0 without CLONE_INTO_CGROUP or when the fd is not a cgroup v2 directory. */
	__u64 cgroup_id;
	/* The first set_tid_len (at most BF_SET_TID_MAX) pids of set_tid. */
	__u32 set_tid_len;
	__u32 _pad;
	__u32 set_tid[BF_SET_TID_MAX];
};

/* bind, connect (the address passed in) and accept, accept4 (the peer). */
struct bf_sockaddr {
	struct bf_header h;
	__s64 ret;
	__s32 fd;
	__u32 addr_len;
	__u8 addr[BF_SOCKADDR_LEN];
};

/* Reads and writes of one fd, summed until close. */
struct bf_file_io {
	struct bf_header h;
	__s32 fd;
	__u32 reads;
	__u32 writes;
	__u32 _pad;
	__u64 bytes_read;
	__u64 bytes_written;
};

/* Key and value of the in-kernel I/O table (shared with the recorder's sweep). */
struct bf_io_key {
	__u32 tgid;
	__s32 fd;
};

struct bf_io_value {
	__u64 first_ts_nanos;
	__u64 last_ts_nanos;
	__u64 bytes_read;
	__u64 bytes_written;
	__u32 reads;
	__u32 writes;
};

/* cgroup_attach_task (dst_pid = the task moved) and cgroup_mkdir. Written up to `path`. */
struct bf_cgroup {
	struct bf_header h;
	__u64 cgroup_id;
	__s32 dst_pid;
	__s32 root;
	__s32 level;
	__u32 path_len;
	char path[BF_PATH_LEN];
};

/* sock:inet_sock_set_state. */
struct bf_tcp_state {
	struct bf_header h;
	__s32 old_state;
	__s32 new_state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* XDP packet summary. The header carries no task (pid 0). */
struct bf_packet {
	struct bf_header h;
	__u32 ifindex;
	__u32 len;
	/* Network byte order. */
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	/* 4 or 6 */
	__u8 ip_version;
	__u8 payload_len;
	__u8 _pad;
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 payload[BF_PAYLOAD_LEN];
};

#endif /* BEEFINE_ABI_H */
