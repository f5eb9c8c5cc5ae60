// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * Beefine's built-in probes: tracepoints for processes, namespaces, mounts, files,
 * cgroups and sockets, and a packet summary (tc ingress, through tcx). Records are
 * defined in beefine_abi.h.
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
 *
 * This file holds the programs; records.bpf.h the maps and the writing of records, and
 * syscalls.bpf.h what each syscall's record holds.
 */
#include "vmlinux_min.h"
#include "beefine_abi.h"
#include "bf_syscalls.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* The rest of this translation unit: maps and records, then what each syscall records. */
#include "records.bpf.h"
#include "syscalls.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- Syscalls ------------------------------------------------------------------------ */

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

/* A new program: first the execveat that started it, if one did (see emit_execveat_done). */
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

/* ---- Packets (tc classifier on ingress, attached through tcx) ------------------------ */
/*
 * tcx (kernel >= 6.6) lets several programs attach to one interface, each in its own link,
 * so that two recordings at once both see every packet; XDP in generic mode allows one per
 * interface. Every packet is passed on unchanged (TC_ACT_UNSPEC: the next program decides).
 */

struct ethhdr_min {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
} __attribute__((packed));

SEC("classifier")
int on_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr_min *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	__u16 proto = bpf_ntohs(eth->proto);
	__u8 *l3 = (void *)(eth + 1);
	__u8 ip_version, l4_proto;
	__u32 l4_off;
	__u8 saddr[16] = {}, daddr[16] = {};
	if (proto == 0x0800) {
		if ((void *)(l3 + 20) > end)
			return TC_ACT_UNSPEC;
		ip_version = 4;
		l4_proto = l3[9];
		l4_off = (l3[0] & 0xF) * 4;
		__builtin_memcpy(saddr, l3 + 12, 4);
		__builtin_memcpy(daddr, l3 + 16, 4);
	} else if (proto == 0x86DD) {
		if ((void *)(l3 + 40) > end)
			return TC_ACT_UNSPEC;
		ip_version = 6;
		l4_proto = l3[6];
		l4_off = 40;
		__builtin_memcpy(saddr, l3 + 8, 16);
		__builtin_memcpy(daddr, l3 + 24, 16);
	} else {
		return TC_ACT_UNSPEC;
	}
	if (l4_off < 20 || l4_off > 60)
		return TC_ACT_UNSPEC;
	__u8 *l4 = l3 + l4_off;
	__u16 sport = 0, dport = 0;
	__u32 payload_off = 0;
	if (l4_proto == 6) {
		if ((void *)(l4 + 20) > end)
			return TC_ACT_UNSPEC;
		sport = *(__u16 *)l4;
		dport = *(__u16 *)(l4 + 2);
		payload_off = ((l4[12] >> 4) & 0xF) * 4;
	} else if (l4_proto == 17) {
		if ((void *)(l4 + 8) > end)
			return TC_ACT_UNSPEC;
		sport = *(__u16 *)l4;
		dport = *(__u16 *)(l4 + 2);
		payload_off = 8;
	}
	struct bf_packet *rec = reserve(sizeof(*rec));
	if (!rec)
		return TC_ACT_UNSPEC;
	__builtin_memset(&rec->h, 0, sizeof(rec->h));
	rec->h.ts_nanos = bpf_ktime_get_boot_ns();
	rec->h.kind = BF_PACKET;
	rec->h.len = sizeof(*rec);
	rec->ifindex = skb->ingress_ifindex;
	rec->len = skb->len;
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
		/* The payload may be past the linear part of the buffer: copied, not read. */
		if (avail > 0 && bpf_skb_load_bytes(skb, off, rec->payload, avail) == 0)
			rec->payload_len = avail;
	}
	bpf_ringbuf_submit(rec, wakeup_flags());
	return TC_ACT_UNSPEC;
}
