// SPDX-License-Identifier: GPL-2.0
/*
 * @NAME@: a Beefine probe. As written, it records one `struct @NAME@_event` each time a
 * process in the recording's scope enters openat(2). Change the record and the program,
 * keep the conventions below, and Beefine records and decodes it with no other change.
 *
 * Build (or: beefine-record probe build @NAME@.bpf.c):
 *   @CLANG_COMMAND@
 * Record with it, beside the built-in probes:
 *   sudo beefine-record --session @NAME@-test --probe @NAME@.bpf.o -- cat /etc/hostname
 *
 * Conventions Beefine follows when it loads this object:
 * - Programs attach by section name: SEC("tracepoint/CATEGORY/NAME") (see
 *   /sys/kernel/tracing/events), SEC("raw_tracepoint/NAME"), SEC("xdp").
 * - Output: every BPF_MAP_TYPE_RINGBUF and BPF_MAP_TYPE_PERF_EVENT_ARRAY map is read; each
 *   record becomes one `custom` event of the session.
 * - Record type: the struct that the variable `beefine_record` points to (below); without
 *   that variable, a struct named `event`. Its BTF (the compiler's type description, from
 *   `-g`) is stored in the session, so the viewer shows every field by name and type.
 * - Event header: a first field `__u64 ts_nanos` (or `ts`, `timestamp`), taken from
 *   bpf_ktime_get_boot_ns(), is the event's time (otherwise: when the recorder read the
 *   record). Fields named `pid`, `tgid` (__u32) and `comm` (char[16]) name the process,
 *   `cgroup_id` (__u64) its cgroup, that is its container.
 * - Scope: the recorder puts its own tracked-process map in place of `beefine_tracked`,
 *   so in_scope() follows exactly what the built-in probes follow (the container stack,
 *   the command after `--`, their descendants). `beefine_trace_all` is 1 with `--all`;
 *   `beefine_self_tgid` is the recorder, never in scope.
 *
 * Types: this file declares the few kernel types it uses, so it builds with nothing but
 * clang and the libbpf headers (`apt-get install clang libbpf-dev`). For every kernel type,
 * generate vmlinux.h (`bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h`)
 * and include it instead of the block below.
 */

/* ---- Types (or: #include "vmlinux.h") ----------------------------------------------- */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef signed short __s16;
typedef signed int __s32;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* The context of every syscalls/sys_enter_* tracepoint
 * (/sys/kernel/tracing/events/syscalls/sys_enter_openat/format). */
struct syscall_enter {
	__u64 common;  /* common_type, common_flags, common_preempt_count, common_pid */
	__s64 nr;      /* __syscall_nr */
	__u64 args[6]; /* the arguments, 8 bytes each: openat(dfd, filename, flags, mode) */
};

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* ---- The record --------------------------------------------------------------------- */
struct @NAME@_event {
	__u64 ts_nanos; /* bpf_ktime_get_boot_ns() */
	__u32 pid;      /* thread id */
	__u32 tgid;     /* process id */
	char comm[16];  /* thread name */
	__u64 cgroup_id; /* cgroup v2 id: which container */
	__s32 dfd;      /* openat's directory fd (-100: the working directory) */
	__u32 flags;    /* openat's O_* flags */
};

/* Names the record type for Beefine (never read or written). */
struct @NAME@_event *beefine_record __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} @NAME@_events SEC(".maps");

/* ---- Scope -------------------------------------------------------------------------- */
const volatile __u32 beefine_self_tgid = 0;
const volatile __u8 beefine_trace_all = 0;

/* tgid -> 1: replaced by the recorder's own map when the object is loaded. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} beefine_tracked SEC(".maps");

static __always_inline bool in_scope(__u32 tgid)
{
	if (tgid == beefine_self_tgid)
		return 0;
	if (beefine_trace_all)
		return 1;
	return bpf_map_lookup_elem(&beefine_tracked, &tgid) != 0;
}

/* ---- The program -------------------------------------------------------------------- */
SEC("tracepoint/syscalls/sys_enter_openat")
int @NAME@_openat(struct syscall_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct @NAME@_event *e;

	if (!in_scope(tgid))
		return 0;
	e = bpf_ringbuf_reserve(&@NAME@_events, sizeof(*e), 0);
	if (!e)
		return 0; /* the ring buffer is full: read faster or make it larger */
	e->ts_nanos = bpf_ktime_get_boot_ns();
	e->pid = (__u32)id;
	e->tgid = tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->dfd = (__s32)ctx->args[0];
	e->flags = (__u32)ctx->args[2];
	bpf_ringbuf_submit(e, 0);
	return 0;
}
