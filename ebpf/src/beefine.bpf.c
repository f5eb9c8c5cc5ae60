// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * Beefine's built-in probes: tracepoints for processes, namespaces, mounts, files,
 * cgroups and sockets, and an XDP packet summary. Records are defined in beefine_abi.h.
 *
 * Scope: a task is recorded when its thread group is in `tracked` (seeded by the recorder
 * from /proc, extended here on fork) or when `bf_trace_all` is set; the recorder itself
 * (`bf_self_tgid`) never is. Syscalls are paired in the kernel: the entry saves the
 * arguments in task-local storage, the exit reads the strings, adds the result and emits.
 *
 * Syscalls come through the two raw tracepoints sys_enter and sys_exit, with a switch on
 * the syscall number, rather than one tracepoint per syscall: attaching and detaching a
 * tracepoint waits for an RCU grace period each, and sixty of them made starting and
 * stopping a recording take seconds. The switch rejects other syscalls in a few
 * instructions.
 */
#include "vmlinux_min.h"
#include "beefine_abi.h"
#include "bf_syscalls.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u8 bf_trace_all = 0;
const volatile __u32 bf_self_tgid = 0;

#define AT_FDCWD -100
#define CLONE_INTO_CGROUP 0x200000000ULL
#define CGROUP2_SUPER_MAGIC 0x63677270
/* fsconfig commands whose key, and whose value, is a string. */
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_SET_PATH 3
#define FSCONFIG_SET_PATH_EMPTY 4
#define FSCONFIG_SET_FD 5
/* struct mount_attr, version 0 (the only one). */
#define MOUNT_ATTR_SIZE_VER0 32
/* struct clone_args up to set_tid_size (version 1) and up to cgroup (version 2). */
#define CLONE_ARGS_SIZE_VER1 80
#define CLONE_ARGS_SIZE_VER2 88

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} BF_EVENTS SEC(".maps");

/* tgid -> 1 for every process in scope. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} BF_TRACKED SEC(".maps");

/*
 * Per-task state in task-local storage (a pointer away from the task, no hashing, freed
 * with the task): the arguments of the syscall the task is in, and its pid namespace,
 * which never changes once the task exists.
 */
struct bf_task {
	__u64 ts_nanos;
	__u64 args[6];
	__u32 kind;
	__u32 pid_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bf_task);
} BF_TASK SEC(".maps");

/* A copy of what the syscall's entry saved. */
struct bf_inflight {
	__u64 ts_nanos;
	__u64 args[6];
	__u32 kind;
};

/* (tgid, fd) -> reads and writes summed until close. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bf_io_key);
	__type(value, struct bf_io_value);
} BF_FILEIO SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BF_COUNTER_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} BF_COUNTERS SEC(".maps");

union bf_scratch_rec {
	struct bf_path path;
	struct bf_cgroup cgroup;
};

/* Per-CPU space to build variable-length records before copying them out. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union bf_scratch_rec);
} BF_SCRATCH SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *n = bpf_map_lookup_elem(&BF_COUNTERS, &counter);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline bool tgid_tracked(__u32 tgid)
{
	if (tgid == bf_self_tgid)
		return false;
	if (bf_trace_all)
		return true;
	return bpf_map_lookup_elem(&BF_TRACKED, &tgid) != 0;
}

/* The inode of a namespace, or 0 when this kernel has no such namespace type. */
#define NS_INUM(ns_ptr) (bpf_core_field_exists((ns_ptr)->ns) ? (ns_ptr)->ns.inum : 0)

/*
 * The header of every record. Everything but the pid namespace is read through the BTF
 * pointer of the current task (plain loads, no helper calls: on a virtual machine each
 * helper costs 40–80 ns, which adds up at a million events a second). The pid namespace
 * needs an index into a flexible array, which the verifier allows only through probe reads:
 * it is read once per task and kept in the task's storage `t` (when there is one).
 */
static __always_inline void fill_header_with(struct bf_header *h, __u16 kind, __u16 len, __u64 ts,
					     struct bf_task *t)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *btf_task = bpf_get_current_task_btf();
	struct nsproxy *nsp = btf_task->nsproxy;
	__u32 pid_ns = t ? t->pid_ns : 0;
	if (!pid_ns) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct pid *tpid = BPF_CORE_READ(task, thread_pid);
		unsigned int level = BPF_CORE_READ(tpid, level);
		pid_ns = BPF_CORE_READ(tpid, numbers[level & 31].ns, ns.inum);
		if (t)
			t->pid_ns = pid_ns;
	}

	h->ts_nanos = ts ? ts : bpf_ktime_get_boot_ns();
	h->cgroup_id = btf_task->cgroups->dfl_cgrp->kn->id;
	h->pid = (__u32)id;
	h->tgid = id >> 32;
	h->pid_ns = pid_ns;
	if (nsp) {
		h->mnt_ns = nsp->mnt_ns->ns.inum;
		h->net_ns = nsp->net_ns->ns.inum;
		h->uts_ns = nsp->uts_ns->ns.inum;
		h->ipc_ns = nsp->ipc_ns->ns.inum;
		h->cgroup_ns = NS_INUM(nsp->cgroup_ns);
		h->time_ns = bpf_core_field_exists(nsp->time_ns) ? NS_INUM(nsp->time_ns) : 0;
	} else {
		/* A task past exit_task_namespaces(). */
		h->mnt_ns = 0;
		h->net_ns = 0;
		h->uts_ns = 0;
		h->ipc_ns = 0;
		h->cgroup_ns = 0;
		h->time_ns = 0;
	}
	h->user_ns = btf_task->cred->user_ns->ns.inum;
	h->kind = kind;
	h->len = len;
	__builtin_memcpy(h->comm, btf_task->comm, sizeof(h->comm));
	h->_pad = 0;
}

static __always_inline void fill_header(struct bf_header *h, __u16 kind, __u16 len, __u64 ts)
{
	struct bf_task *t = bpf_task_storage_get(&BF_TASK, bpf_get_current_task_btf(), 0, 0);
	fill_header_with(h, kind, len, ts, t);
}

/*
 * Waking the reader for every record costs an interrupt per event: the reader polls with a
 * short timeout anyway, so it is woken only once enough data waits.
 */
#define BF_WAKEUP_BYTES (256 << 10)

static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&BF_EVENTS, BPF_RB_AVAIL_DATA) >= BF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										    : BPF_RB_NO_WAKEUP;
}

/* Reserves a fixed-size record or counts the loss. */
static __always_inline void *reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&BF_EVENTS, size, 0);
	if (!rec)
		count(BF_COUNTER_RINGBUF_FULL);
	return rec;
}

/* Copies a record built in scratch space out, `len` bytes of it. */
static __always_inline void output(void *rec, __u64 len)
{
	if (bpf_ringbuf_output(&BF_EVENTS, rec, len, wakeup_flags()))
		count(BF_COUNTER_RINGBUF_FULL);
}

static __always_inline void *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&BF_SCRATCH, &zero);
}

/* ---- Syscall pairing ------------------------------------------------------------------ */

/* What a syscall is recorded as (0: not recorded), from this architecture's table. */
#define BF_SYSCALL_CASE(nr, kind, name)                                                  \
	case nr:                                                                         \
		return kind;

static __always_inline __u32 syscall_kind(long nr)
{
	switch (nr) {
		BF_SYSCALLS(BF_SYSCALL_CASE)
	default:
		return 0;
	}
}

/*
 * The architecture's syscall registers: the number at the exit, the first argument, and all
 * six at the entry (a syscall's arguments are not yet clobbered when sys_enter runs).
 */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, di)

static __always_inline int syscall_args(struct pt_regs *regs, __u64 *args)
{
	/* The argument registers r10 … di are contiguous in x86-64's pt_regs: one read. */
	unsigned long r[8];
	if (bpf_probe_read_kernel(r, sizeof(r), &regs->r10))
		return -1;
	args[0] = r[7]; /* di */
	args[1] = r[6]; /* si */
	args[2] = r[5]; /* dx */
	args[3] = r[0]; /* r10 */
	args[4] = r[2]; /* r8 */
	args[5] = r[1]; /* r9 */
	return 0;
}
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, orig_x0)

static __always_inline int syscall_args(struct pt_regs *regs, __u64 *args)
{
	/* x0 … x5, contiguous: one read. */
	return bpf_probe_read_kernel(args, 6 * sizeof(__u64), &regs->regs[0]);
}
#endif

/* close: the summary of the fd, if it was read or written, goes out now. */
static __always_inline void flush_fd(__u32 tgid, int fd)
{
	struct bf_io_key key = { .tgid = tgid, .fd = fd };
	struct bf_io_value *v = bpf_map_lookup_elem(&BF_FILEIO, &key);
	if (!v)
		return;
	struct bf_file_io *rec = reserve(sizeof(*rec));
	if (rec) {
		fill_header(&rec->h, BF_FILE_IO, sizeof(*rec), v->first_ts_nanos);
		rec->fd = fd;
		rec->reads = v->reads;
		rec->writes = v->writes;
		rec->_pad = 0;
		rec->bytes_read = v->bytes_read;
		rec->bytes_written = v->bytes_written;
		bpf_ringbuf_submit(rec, wakeup_flags());
	}
	bpf_map_delete_elem(&BF_FILEIO, &key);
}

/* Raw tracepoint arguments are read as plain u64s: (struct pt_regs *regs, long id). */
SEC("raw_tracepoint/sys_enter")
int on_sys_enter(unsigned long long *ctx)
{
	long nr = ctx[1];
	__u32 kind = syscall_kind(nr);
	if (!kind && nr != BF_NR_CLOSE)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!tgid_tracked(id >> 32))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	if (nr == BF_NR_CLOSE) {
		flush_fd(id >> 32, SYSCALL_ARG0(regs));
		return 0;
	}
	struct bf_task *t = bpf_task_storage_get(&BF_TASK, bpf_get_current_task_btf(), 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		count(BF_COUNTER_INFLIGHT_FULL);
		return 0;
	}
	if (syscall_args(regs, t->args))
		return 0;
	t->ts_nanos = bpf_ktime_get_boot_ns();
	t->kind = kind;
	return 0;
}

/* Takes (copies and removes) this thread's in-flight call if it is of `kind`. */
static __always_inline struct bf_task *take(__u32 kind, struct bf_inflight *out)
{
	struct bf_task *t = bpf_task_storage_get(&BF_TASK, bpf_get_current_task_btf(), 0, 0);
	if (!t || !t->kind)
		return 0;
	bool match = t->kind == kind;
	if (match) {
		out->ts_nanos = t->ts_nanos;
		__builtin_memcpy(out->args, t->args, sizeof(out->args));
		out->kind = kind;
	}
	t->kind = 0;
	return match ? t : 0;
}

/* ---- Numeric-argument syscalls ------------------------------------------------------- */

static __always_inline void emit_args(long ret, __u32 kind, struct bf_inflight *in,
				     struct bf_task *t)
{
	struct bf_args *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, kind, sizeof(*rec), in->ts_nanos, t);
	rec->ret = ret;
	__builtin_memcpy(rec->args, in->args, sizeof(rec->args));
	if (kind == BF_CAPSET) {
		/* Two struct __user_cap_data_struct { effective, permitted, inheritable }. */
		__u32 data[6] = {};
		bpf_probe_read_user(data, sizeof(data), (void *)in->args[1]);
		rec->args[0] = data[0] | ((__u64)data[3] << 32);
		rec->args[1] = data[1] | ((__u64)data[4] << 32);
		rec->args[2] = data[2] | ((__u64)data[5] << 32);
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- One-path syscalls --------------------------------------------------------------- */

static __always_inline void emit_path(long ret, __u32 kind, struct bf_inflight *in,
				     struct bf_task *t)
{
	struct bf_path *rec = scratch();
	if (!rec)
		return;
	rec->ret = ret;
	rec->args[0] = in->args[0];
	rec->args[1] = in->args[1];
	rec->args[2] = in->args[2];
	rec->args[3] = in->args[3];
	rec->_pad = 0;
	/* Which argument is the string: these take it first, the others second. */
	__u32 at = 1;
	if (kind == BF_MKDIR || kind == BF_CHROOT || kind == BF_UMOUNT || kind == BF_FSOPEN ||
	    kind == BF_CHDIR || kind == BF_SETHOSTNAME)
		at = 0;
	__u64 path = at ? in->args[1] : in->args[0];
	if (at)
		rec->args[1] = 0;
	else
		rec->args[0] = 0;
	long n;
	if (kind == BF_OPENAT2) {
		/*
		 * struct open_how { u64 flags; u64 mode; u64 resolve; }: flags and mode where
		 * openat has them, resolve (RESOLVE_*) in the path's place.
		 */
		__u64 how[3] = {};
		bpf_probe_read_user(how, sizeof(how), (void *)in->args[2]);
		rec->args[1] = how[2];
		rec->args[2] = how[0];
		rec->args[3] = how[1];
	} else if (kind == BF_EXECVEAT) {
		/* execveat(dirfd, path, argv, envp, flags) that failed (see on_exec). */
		rec->args[2] = in->args[4];
		rec->args[3] = 0;
	}
	if (kind == BF_SETHOSTNAME) {
		/* sethostname(name, len): `len` bytes, no NUL; more than 64 is EINVAL. */
		__u64 len = in->args[1] >= 64 ? 64 : in->args[1] & 63;
		n = -1;
		if (bpf_probe_read_user(rec->path, len, (void *)path) == 0) {
			rec->path[len] = 0;
			n = len + 1;
		}
	} else {
		n = bpf_probe_read_user_str(rec->path, sizeof(rec->path), (void *)path);
	}
	if (n < 0) {
		rec->path[0] = 0;
		n = 1;
	}
	rec->path_len = n;
	__u64 len = __builtin_offsetof(struct bf_path, path) + (n & (BF_PATH_LEN - 1));
	if (n >= BF_PATH_LEN)
		len = sizeof(struct bf_path);
	fill_header_with(&rec->h, kind, len, in->ts_nanos, t);
	output(rec, len);
}

/* ---- Two strings: move_mount and fsconfig -------------------------------------------- */

static __always_inline void emit_str_pair(long ret, __u32 kind, struct bf_inflight *in,
					  struct bf_task *t)
{
	struct bf_str_pair *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, kind, sizeof(*rec), in->ts_nanos, t);
	rec->ret = ret;
	rec->first[0] = 0;
	rec->second[0] = 0;
	if (kind == BF_MOVE_MOUNT) {
		/* move_mount(from_dirfd, from_path, to_dirfd, to_path, flags) */
		rec->args[0] = in->args[0];
		rec->args[1] = in->args[2];
		rec->args[2] = in->args[4];
		bpf_probe_read_user_str(rec->first, sizeof(rec->first), (void *)in->args[1]);
		bpf_probe_read_user_str(rec->second, sizeof(rec->second), (void *)in->args[3]);
	} else {
		/* fsconfig(fd, cmd, key, value, aux) */
		__u64 cmd = in->args[1];
		rec->args[0] = in->args[0];
		rec->args[1] = cmd;
		rec->args[2] = in->args[4];
		if (cmd <= FSCONFIG_SET_FD && in->args[2])
			bpf_probe_read_user_str(rec->first, sizeof(rec->first), (void *)in->args[2]);
		if ((cmd == FSCONFIG_SET_STRING || cmd == FSCONFIG_SET_PATH ||
		     cmd == FSCONFIG_SET_PATH_EMPTY) &&
		    in->args[3])
			bpf_probe_read_user_str(rec->second, sizeof(rec->second),
						(void *)in->args[3]);
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- mount_setattr ------------------------------------------------------------------- */

static __always_inline void emit_mount_setattr(long ret, struct bf_inflight *in,
					       struct bf_task *t)
{
	struct bf_mount_setattr *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, BF_MOUNT_SETATTR, sizeof(*rec), in->ts_nanos, t);
	/* mount_setattr(dirfd, path, flags, struct mount_attr *attr, size) */
	rec->ret = ret;
	rec->dirfd = in->args[0];
	rec->flags = in->args[2];
	rec->size = in->args[4];
	rec->_pad = 0;
	__u64 attr[4] = {};
	if (in->args[4] >= MOUNT_ATTR_SIZE_VER0)
		bpf_probe_read_user(attr, sizeof(attr), (void *)in->args[3]);
	rec->attr_set = attr[0];
	rec->attr_clr = attr[1];
	rec->propagation = attr[2];
	rec->userns_fd = attr[3];
	if (bpf_probe_read_user_str(rec->path, sizeof(rec->path), (void *)in->args[1]) < 0)
		rec->path[0] = 0;
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- setgroups ----------------------------------------------------------------------- */

static __always_inline void emit_groups(long ret, struct bf_inflight *in, struct bf_task *t)
{
	struct bf_groups *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, BF_SETGROUPS, sizeof(*rec), in->ts_nanos, t);
	/* setgroups(int size, gid_t *list) */
	rec->ret = ret;
	rec->size = in->args[0];
	/* Masked, not only compared: the verifier then knows the read stays in `gids`. */
	__u32 n = in->args[0] >= BF_GROUPS_MAX ? BF_GROUPS_MAX : in->args[0] & (BF_GROUPS_MAX - 1);
	__builtin_memset(rec->gids, 0, sizeof(rec->gids));
	if (n && bpf_probe_read_user(rec->gids, n * sizeof(__u32), (void *)in->args[1]))
		n = 0;
	rec->count = n;
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- clone3 -------------------------------------------------------------------------- */

/*
 * The cgroup v2 id of the directory that `fd` of the current task names: its file's inode
 * is a kernfs node on a cgroup2 superblock, whose id is the cgroup's. 0 for anything else.
 */
static __always_inline __u64 cgroup_id_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if (BPF_CORE_READ(inode, i_sb, s_magic) != CGROUP2_SUPER_MAGIC)
		return 0;
	struct kernfs_node *kn = BPF_CORE_READ(inode, i_private);
	return BPF_CORE_READ(kn, id);
}

static __always_inline void emit_clone3(long ret, struct bf_inflight *in, struct bf_task *t)
{
	struct bf_clone3 *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, BF_CLONE3, sizeof(*rec), in->ts_nanos, t);
	/* clone3(struct clone_args *args, size): as much of the struct as the caller passed. */
	struct {
		__u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
		__u64 set_tid, set_tid_size, cgroup;
	} ca = {};
	__u64 size = in->args[1];
	if (size >= CLONE_ARGS_SIZE_VER2)
		bpf_probe_read_user(&ca, CLONE_ARGS_SIZE_VER2, (void *)in->args[0]);
	else if (size >= CLONE_ARGS_SIZE_VER1)
		bpf_probe_read_user(&ca, CLONE_ARGS_SIZE_VER1, (void *)in->args[0]);
	else
		bpf_probe_read_user(&ca, 64, (void *)in->args[0]);
	rec->ret = ret;
	rec->flags = ca.flags;
	rec->exit_signal = ca.exit_signal;
	rec->cgroup_fd = -1;
	rec->cgroup_id = 0;
	if (ca.flags & CLONE_INTO_CGROUP) {
		rec->cgroup_fd = ca.cgroup;
		rec->cgroup_id = cgroup_id_of_fd(ca.cgroup);
	}
	__u32 n = ca.set_tid_size >= BF_SET_TID_MAX ? BF_SET_TID_MAX
						    : ca.set_tid_size & (BF_SET_TID_MAX - 1);
	__builtin_memset(rec->set_tid, 0, sizeof(rec->set_tid));
	if (n && bpf_probe_read_user(rec->set_tid, n * sizeof(__u32), (void *)ca.set_tid))
		n = 0;
	rec->set_tid_len = n;
	rec->_pad = 0;
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- mount and pivot_root ------------------------------------------------------------ */

static __always_inline void emit_mount(long ret, __u32 kind, struct bf_inflight *in,
				     struct bf_task *t)
{
	struct bf_mount *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, kind, sizeof(*rec), in->ts_nanos, t);
	rec->ret = ret;
	rec->source[0] = 0;
	rec->target[0] = 0;
	rec->fstype[0] = 0;
	rec->data[0] = 0;
	if (kind == BF_MOUNT) {
		rec->flags = in->args[3];
		bpf_probe_read_user_str(rec->source, sizeof(rec->source), (void *)in->args[0]);
		bpf_probe_read_user_str(rec->target, sizeof(rec->target), (void *)in->args[1]);
		bpf_probe_read_user_str(rec->fstype, sizeof(rec->fstype), (void *)in->args[2]);
		/* Options are a string for every filesystem the container stack mounts. */
		bpf_probe_read_user_str(rec->data, sizeof(rec->data), (void *)in->args[4]);
	} else {
		rec->flags = 0;
		bpf_probe_read_user_str(rec->target, sizeof(rec->target), (void *)in->args[0]);
		bpf_probe_read_user_str(rec->data, sizeof(rec->data), (void *)in->args[1]);
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- Socket addresses ---------------------------------------------------------------- */

static __always_inline void emit_sockaddr(long ret, __u32 kind, struct bf_inflight *in,
				     struct bf_task *t)
{
	struct bf_sockaddr *rec = reserve(sizeof(*rec));
	if (!rec)
		return;
	fill_header_with(&rec->h, kind, sizeof(*rec), in->ts_nanos, t);
	rec->ret = ret;
	rec->fd = in->args[0];
	__u32 addr_len = 0;
	if (kind == BF_ACCEPT || kind == BF_ACCEPT4) {
		/* The peer address was written by the call; its length through a pointer. */
		if (in->args[2])
			bpf_probe_read_user(&addr_len, sizeof(addr_len), (void *)in->args[2]);
	} else {
		addr_len = in->args[2];
	}
	if (addr_len > BF_SOCKADDR_LEN)
		addr_len = BF_SOCKADDR_LEN;
	rec->addr_len = addr_len;
	__builtin_memset(rec->addr, 0, sizeof(rec->addr));
	if (in->args[1] && addr_len)
		bpf_probe_read_user(rec->addr, sizeof(rec->addr), (void *)in->args[1]);
	bpf_ringbuf_submit(rec, wakeup_flags());
}

/* ---- Reads and writes, summed per (process, fd) -------------------------------------- */

static __always_inline void sum_io(long ret, __u32 kind, struct bf_inflight *in)
{
	if (ret < 0)
		return;
	struct bf_io_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .fd = in->args[0] };
	struct bf_io_value *v = bpf_map_lookup_elem(&BF_FILEIO, &key);
	if (!v) {
		struct bf_io_value fresh = { .first_ts_nanos = in->ts_nanos };
		if (bpf_map_update_elem(&BF_FILEIO, &key, &fresh, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&BF_FILEIO, &key)) {
			count(BF_COUNTER_FILEIO_FULL);
			return;
		}
		v = bpf_map_lookup_elem(&BF_FILEIO, &key);
		if (!v)
			return;
	}
	v->last_ts_nanos = in->ts_nanos;
	if (kind == BF_READ) {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->bytes_read, ret);
	} else {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->bytes_written, ret);
	}
}

/* (struct pt_regs *regs, long ret) */
SEC("raw_tracepoint/sys_exit")
int on_sys_exit(unsigned long long *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	long ret = ctx[1];
	__u32 kind = syscall_kind(SYSCALL_NR(regs));
	if (!kind)
		return 0;
	struct bf_inflight in;
	struct bf_task *t = take(kind, &in);
	if (!t)
		return 0;
	switch (kind) {
	case BF_READ:
	case BF_WRITE:
		sum_io(ret, kind, &in);
		break;
	case BF_OPENAT:
	case BF_OPENAT2:
	case BF_MKDIR:
	case BF_MKDIRAT:
	case BF_CHROOT:
	case BF_UMOUNT:
	case BF_OPEN_TREE:
	case BF_FSOPEN:
	case BF_FSPICK:
	case BF_EXECVEAT:
	case BF_CHDIR:
	case BF_SETHOSTNAME:
		emit_path(ret, kind, &in, t);
		break;
	case BF_MOVE_MOUNT:
	case BF_FSCONFIG:
		emit_str_pair(ret, kind, &in, t);
		break;
	case BF_MOUNT_SETATTR:
		emit_mount_setattr(ret, &in, t);
		break;
	case BF_SETGROUPS:
		emit_groups(ret, &in, t);
		break;
	case BF_CLONE3:
		emit_clone3(ret, &in, t);
		break;
	case BF_MOUNT:
	case BF_PIVOT_ROOT:
		emit_mount(ret, kind, &in, t);
		break;
	case BF_BIND:
	case BF_CONNECT:
	case BF_ACCEPT:
	case BF_ACCEPT4:
		emit_sockaddr(ret, kind, &in, t);
		break;
	default:
		emit_args(ret, kind, &in, t);
		break;
	}
	return 0;
}

/* ---- Processes ----------------------------------------------------------------------- */

/* The number of decimal digits of a non-negative int. */
static __always_inline __u32 digits(int v)
{
	return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5
		: v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
}

/*
 * A successful execveat ends here, not at sys_exit: its exit is reported as execve's on
 * x86-64 (the new program's registers pretend it came from execve) and as no syscall at all
 * on arm64. So it is emitted now, before the exec it caused, with result 0; a failed one
 * still ends at sys_exit with its own number.
 *
 * The caller's memory is gone by now, and reading the path at the entry fails whenever its
 * page is not mapped yet (a fork's child has not touched its .rodata). The path comes from
 * the name the kernel built instead: the path as given when it is absolute or dirfd is
 * AT_FDCWD, else "/dev/fd/DIRFD/PATH" ("/dev/fd/DIRFD" for an empty one), whose prefix is
 * taken off here.
 */
static __always_inline void emit_execveat_done(struct trace_event_raw_sched_process_exec *ctx,
					       struct bf_inflight *in, struct bf_task *t)
{
	struct bf_path *rec = scratch();
	if (!rec)
		return;
	int dirfd = in->args[0];
	rec->ret = 0;
	rec->args[0] = in->args[0];
	rec->args[1] = 0;
	rec->args[2] = in->args[4];
	rec->args[3] = 0;
	rec->_pad = 0;
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
	const char *name = (const char *)ctx + (loc & 0xFFFF);
	__u32 skip = 0;
	__u64 head = 0;
	/* "/dev/fd/", read as one big-endian word. */
	if (dirfd >= 0 && bpf_probe_read_kernel(&head, sizeof(head), name) == 0 &&
	    bpf_be64_to_cpu(head) == 0x2f6465762f66642fULL) {
		skip = sizeof(head) + digits(dirfd);
		char slash = 0;
		bpf_probe_read_kernel(&slash, 1, name + skip);
		if (slash == '/')
			skip++;
	}
	long n = bpf_probe_read_kernel_str(rec->path, sizeof(rec->path), name + (skip & 31));
	if (n < 0) {
		rec->path[0] = 0;
		n = 1;
	}
	rec->path_len = n;
	__u64 len = __builtin_offsetof(struct bf_path, path) + (n & (BF_PATH_LEN - 1));
	if (n >= BF_PATH_LEN)
		len = sizeof(struct bf_path);
	fill_header_with(&rec->h, BF_EXECVEAT, len, in->ts_nanos, t);
	output(rec, len);
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!tgid_tracked(id >> 32))
		return 0;
	struct bf_task *t = bpf_task_storage_get(&BF_TASK, bpf_get_current_task_btf(), 0, 0);
	if (t && t->kind == BF_EXECVEAT) {
		struct bf_inflight in;
		if (take(BF_EXECVEAT, &in))
			emit_execveat_done(ctx, &in, t);
	}
	struct bf_exec *rec = reserve(sizeof(*rec));
	if (!rec)
		return 0;
	fill_header(&rec->h, BF_EXEC, sizeof(*rec), 0);
	__u32 loc = BPF_CORE_READ(ctx, __data_loc_filename);
	long n = bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename),
					   (void *)ctx + (loc & 0xFFFF));
	rec->filename_len = n > 0 ? n : 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = end > start ? end - start : 0;
	if (len > BF_ARGV_LEN)
		len = BF_ARGV_LEN;
	rec->argv_len = 0;
	if (len > 0 && bpf_probe_read_user(rec->argv, len, (void *)start) == 0)
		rec->argv_len = len;
	bpf_ringbuf_submit(rec, wakeup_flags());
	return 0;
}

/* The raw tracepoint's arguments are read as plain u64s: (parent, child). */
SEC("raw_tracepoint/sched_process_fork")
int on_fork(unsigned long long *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx[0];
	struct task_struct *child = (struct task_struct *)ctx[1];
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	if (!tgid_tracked(parent_tgid))
		return 0;
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 child_pid = BPF_CORE_READ(child, pid);
	/* Threads share the tgid; only a new process joins the scope. */
	if (child_tgid != parent_tgid) {
		__u8 one = 1;
		bpf_map_update_elem(&BF_TRACKED, &child_tgid, &one, BPF_ANY);
	}
	struct bf_fork *rec = reserve(sizeof(*rec));
	if (!rec)
		return 0;
	fill_header(&rec->h, BF_FORK, sizeof(*rec), 0);
	rec->parent_pid = BPF_CORE_READ(parent, pid);
	rec->parent_tgid = parent_tgid;
	rec->child_pid = child_pid;
	rec->child_tgid = child_tgid;
	bpf_ringbuf_submit(rec, wakeup_flags());
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	/* Only the end of a process, not of each of its threads. */
	if ((__u32)id != tgid || !tgid_tracked(tgid))
		return 0;
	struct bf_exit *rec = reserve(sizeof(*rec));
	if (rec) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		fill_header(&rec->h, BF_EXIT, sizeof(*rec), 0);
		rec->exit_code = BPF_CORE_READ(task, exit_code);
		rec->_pad = 0;
		bpf_ringbuf_submit(rec, wakeup_flags());
	}
	bpf_map_delete_elem(&BF_TRACKED, &tgid);
	return 0;
}

/* ---- cgroups ------------------------------------------------------------------------- */

static __always_inline int emit_cgroup(void *ctx, __u32 kind, __u64 cgroup_id, int dst_pid,
				       int root, int level, __u32 loc)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!tgid_tracked(id >> 32))
		return 0;
	struct bf_cgroup *rec = scratch();
	if (!rec)
		return 0;
	rec->cgroup_id = cgroup_id;
	rec->dst_pid = dst_pid;
	rec->root = root;
	rec->level = level;
	long n = bpf_probe_read_kernel_str(rec->path, sizeof(rec->path), ctx + (loc & 0xFFFF));
	if (n < 0) {
		rec->path[0] = 0;
		n = 1;
	}
	rec->path_len = n;
	__u64 len = __builtin_offsetof(struct bf_cgroup, path) + (n & (BF_PATH_LEN - 1));
	if (n >= BF_PATH_LEN)
		len = sizeof(struct bf_cgroup);
	fill_header(&rec->h, kind, len, 0);
	output(rec, len);
	return 0;
}

SEC("tracepoint/cgroup/cgroup_attach_task")
int on_cgroup_attach(struct trace_event_raw_cgroup_migrate *ctx)
{
	return emit_cgroup(ctx, BF_CGROUP_ATTACH, BPF_CORE_READ(ctx, dst_id),
			   BPF_CORE_READ(ctx, pid), BPF_CORE_READ(ctx, dst_root),
			   BPF_CORE_READ(ctx, dst_level), BPF_CORE_READ(ctx, __data_loc_dst_path));
}

SEC("tracepoint/cgroup/cgroup_mkdir")
int on_cgroup_mkdir(struct trace_event_raw_cgroup *ctx)
{
	return emit_cgroup(ctx, BF_CGROUP_MKDIR, BPF_CORE_READ(ctx, id), 0,
			   BPF_CORE_READ(ctx, root), BPF_CORE_READ(ctx, level),
			   BPF_CORE_READ(ctx, __data_loc_path));
}

/* ---- TCP ----------------------------------------------------------------------------- */

/*
 * State changes often run in softirq context, where the current task is unrelated: they
 * are recorded for every TCP socket on the machine (a few per connection).
 */
SEC("tracepoint/sock/inet_sock_set_state")
int on_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != 6 /* IPPROTO_TCP */)
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == bf_self_tgid)
		return 0;
	struct bf_tcp_state *rec = reserve(sizeof(*rec));
	if (!rec)
		return 0;
	fill_header(&rec->h, BF_TCP_STATE, sizeof(*rec), 0);
	rec->old_state = BPF_CORE_READ(ctx, oldstate);
	rec->new_state = BPF_CORE_READ(ctx, newstate);
	rec->sport = BPF_CORE_READ(ctx, sport);
	rec->dport = BPF_CORE_READ(ctx, dport);
	rec->family = BPF_CORE_READ(ctx, family);
	rec->protocol = 6;
	if (rec->family == 2 /* AF_INET */) {
		__builtin_memset(rec->saddr, 0, sizeof(rec->saddr));
		__builtin_memset(rec->daddr, 0, sizeof(rec->daddr));
		bpf_core_read(rec->saddr, 4, &ctx->saddr);
		bpf_core_read(rec->daddr, 4, &ctx->daddr);
	} else {
		bpf_core_read(rec->saddr, 16, &ctx->saddr_v6);
		bpf_core_read(rec->daddr, 16, &ctx->daddr_v6);
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
	return 0;
}

/* ---- XDP ----------------------------------------------------------------------------- */

struct ethhdr_min {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
} __attribute__((packed));

SEC("xdp")
int on_packet(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr_min *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	__u16 proto = bpf_ntohs(eth->proto);
	__u8 *l3 = (void *)(eth + 1);
	__u8 ip_version, l4_proto;
	__u32 l4_off;
	__u8 saddr[16] = {}, daddr[16] = {};
	if (proto == 0x0800) {
		if ((void *)(l3 + 20) > end)
			return XDP_PASS;
		ip_version = 4;
		l4_proto = l3[9];
		l4_off = (l3[0] & 0xF) * 4;
		__builtin_memcpy(saddr, l3 + 12, 4);
		__builtin_memcpy(daddr, l3 + 16, 4);
	} else if (proto == 0x86DD) {
		if ((void *)(l3 + 40) > end)
			return XDP_PASS;
		ip_version = 6;
		l4_proto = l3[6];
		l4_off = 40;
		__builtin_memcpy(saddr, l3 + 8, 16);
		__builtin_memcpy(daddr, l3 + 24, 16);
	} else {
		return XDP_PASS;
	}
	if (l4_off < 20 || l4_off > 60)
		return XDP_PASS;
	__u8 *l4 = l3 + l4_off;
	__u16 sport = 0, dport = 0;
	__u32 payload_off = 0;
	if (l4_proto == 6) {
		if ((void *)(l4 + 20) > end)
			return XDP_PASS;
		sport = *(__u16 *)l4;
		dport = *(__u16 *)(l4 + 2);
		payload_off = ((l4[12] >> 4) & 0xF) * 4;
	} else if (l4_proto == 17) {
		if ((void *)(l4 + 8) > end)
			return XDP_PASS;
		sport = *(__u16 *)l4;
		dport = *(__u16 *)(l4 + 2);
		payload_off = 8;
	}
	struct bf_packet *rec = reserve(sizeof(*rec));
	if (!rec)
		return XDP_PASS;
	__builtin_memset(&rec->h, 0, sizeof(rec->h));
	rec->h.ts_nanos = bpf_ktime_get_boot_ns();
	rec->h.kind = BF_PACKET;
	rec->h.len = sizeof(*rec);
	rec->ifindex = ctx->ingress_ifindex;
	rec->len = end - data;
	rec->sport = sport;
	rec->dport = dport;
	rec->protocol = l4_proto;
	rec->ip_version = ip_version;
	rec->_pad = 0;
	__builtin_memcpy(rec->saddr, saddr, 16);
	__builtin_memcpy(rec->daddr, daddr, 16);
	__builtin_memset(rec->payload, 0, sizeof(rec->payload));
	rec->payload_len = 0;
	if (payload_off) {
		__u32 off = sizeof(struct ethhdr_min) + l4_off + payload_off;
		__u32 avail = rec->len > off ? rec->len - off : 0;
		if (avail > BF_PAYLOAD_LEN)
			avail = BF_PAYLOAD_LEN;
		if (avail > 0 && bpf_xdp_load_bytes(ctx, off, rec->payload, avail) == 0)
			rec->payload_len = avail;
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
	return XDP_PASS;
}
