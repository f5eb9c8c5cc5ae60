/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/*
 * What every program of beefine.bpf.c shares: the loader's globals, the maps, the per-task
 * state, and the writing of records (the header, reserving, copying out, counting losses).
 * Part of that one translation unit: included once by beefine.bpf.c, after the type and
 * libbpf headers.
 */
#ifndef BEEFINE_RECORDS_BPF_H
#define BEEFINE_RECORDS_BPF_H

const volatile __u8 bf_trace_all = 0;
const volatile __u32 bf_self_tgid = 0;

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

#endif /* BEEFINE_RECORDS_BPF_H */
