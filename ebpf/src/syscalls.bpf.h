/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * Syscalls, from entry to record: which are recorded (this architecture's table in
 * bf_syscalls.h), their registers, the pairing of an exit with its entry through the task's
 * storage, and what each call's record holds (its strings and structs read from the caller
 * at the exit). Part of beefine.bpf.c's translation unit: included once, after
 * records.bpf.h; the programs themselves (on_sys_enter, on_sys_exit, on_exec) are there.
 */
#ifndef BEEFINE_SYSCALLS_BPF_H
#define BEEFINE_SYSCALLS_BPF_H

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

/* ---- execveat, when it succeeded ----------------------------------------------------- */

/* The number of decimal digits of a non-negative int. */
static __always_inline __u32 digits(int v)
{
	return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5
		: v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
}

/*
 * A successful execveat ends in on_exec, not at sys_exit: its exit is reported as execve's on
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

#endif /* BEEFINE_SYSCALLS_BPF_H */
