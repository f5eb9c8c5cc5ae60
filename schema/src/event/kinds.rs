//! The one description of every event kind: its data (fields, their types and what they
//! mean) and its pinned number, name, family, whether it carries a syscall result, one line
//! on what it does, and the summary people read in a table.
//!
//! **Numbers are pinned.** A kind's number is the wire tag of its data in chunks and its bit
//! in chunk kind masks; a new kind takes the next free number and an existing number never
//! changes (`tests/golden.rs` lists them all). A struct's fields are encoded in the order they
//! are listed: changing them is a new format version, with the old layout kept decodable
//! (`v1.rs`). Fields are described once here; details, export, search and generated test data
//! are written against these descriptions, not per kind.
//!
//! Summary templates: `{field}` is the field's short text, `{ip:port}` an address with its
//! port, and `[…]` a part left out when a field inside it is empty, zero or absent.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::define::event_model;
use super::field::{
    Decode as D, FieldClass, FieldDesc, FieldRef, FieldSource, Fields, field_class, field_ref,
    generate_field, map_field, mapped_ty,
};
use super::{Family, LossSource, SockAddr, Str, wire};
use crate::names::{
    AT_FLAGS, FSMOUNT_FLAGS, FSOPEN_FLAGS, FSPICK_FLAGS, MOUNT_ATTR_FLAGS, MOUNT_FLAGS,
    MOVE_MOUNT_FLAGS, OPEN_TREE_FLAGS, UMOUNT_FLAGS, named,
};

/// Stands in for a field description in generated code that never runs without one.
const NO_FIELD: FieldDesc = FieldDesc {
    name: "",
    class: FieldClass::U64,
    decode: D::Plain,
};

event_model! {
    structs {
        /// `sched_process_exec`: the program a task now runs.
        ExecArgs<S> {
            filename: str => D::Path,
            argv: strs => D::Argv,
        }
        /// `sched_process_fork`: the task that was created.
        ForkInfo {
            parent_pid: u32 => D::Plain,
            parent_tgid: u32 => D::Plain,
            child_pid: u32 => D::Plain,
            child_tgid: u32 => D::Plain,
        }
        /// `sched_process_exit`: a process ended.
        ExitInfo {
            /// The raw wait status (`exit_code`).
            code: i32 => D::WaitStatus,
        }
        /// `clone`.
        CloneArgs {
            flags: u64 => D::CloneFlags { exit_signal_byte: true },
        }
        /// `clone3`, from its `struct clone_args`.
        Clone3Args<S> {
            flags: u64 => D::CloneFlags { exit_signal_byte: false },
            exit_signal: u32 => D::Signal,
            /// The cgroup fd of `CLONE_INTO_CGROUP`, -1 without it.
            cgroup_fd: i32 => D::Fd,
            /// The id of the cgroup v2 directory the fd names; 0 when unknown.
            target_cgroup_id: u64 => D::CgroupId,
            /// That cgroup's path, when the recorder could name it.
            target_cgroup: opt_str => D::CgroupPath,
            /// The pids asked for in each pid namespace level (checkpoint/restore, runtimes).
            set_tid: u32s => D::Plain,
        }
        /// `unshare`.
        UnshareArgs {
            flags: u64 => D::CloneFlags { exit_signal_byte: false },
        }
        /// `setns`.
        SetnsArgs {
            fd: i32 => D::Fd,
            nstype: i32 => D::NsType,
        }
        /// `prctl` (its first two arguments).
        PrctlArgs {
            option: i32 => D::Named(named::prctl_option),
            arg2: u64 => D::Plain,
        }
        /// `seccomp`.
        SeccompArgs {
            operation: u32 => D::Named(named::seccomp_operation),
            flags: u32 => D::Hex,
        }
        /// `capset`: the capability sets being installed (the two 32-bit words joined).
        CapsetArgs {
            effective: u64 => D::Caps,
            permitted: u64 => D::Caps,
            inheritable: u64 => D::Caps,
        }
        /// `mount`.
        MountArgs<S> {
            source: str => D::MountSource,
            target: str => D::Path,
            fstype: str => D::Text,
            flags: u64 => D::Flags(MOUNT_FLAGS),
            /// The start of the options string.
            data: str => D::MountData,
        }
        /// `umount2`.
        UmountArgs<S> {
            target: str => D::Path,
            flags: u32 => D::Flags(UMOUNT_FLAGS),
        }
        /// `pivot_root`.
        PivotRootArgs<S> {
            new_root: str => D::Path,
            put_old: str => D::Path,
        }
        /// A call with one path: `chroot`, `chdir`.
        PathArgs<S> {
            path: str => D::Path,
        }
        /// `openat` and `openat2`.
        OpenArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            flags: u64 => D::OpenFlags,
            mode: u32 => D::Mode,
        }
        /// `mkdir` (whose dirfd is `AT_FDCWD`) and `mkdirat`.
        MkdirArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            mode: u32 => D::Mode,
        }
        /// Reads and writes of one open file by one process, summed in the kernel and
        /// emitted once when the file was closed (or the process exited).
        FileIoSummary<S> {
            fd: i32 => D::Fd,
            /// The path the fd was opened with, when the recorder saw the open.
            path: opt_str => D::Path,
            bytes_read: u64 => D::ByteCount,
            bytes_written: u64 => D::ByteCount,
            reads: u32 => D::Plain,
            writes: u32 => D::Plain,
        }
        /// `cgroup_attach_task`: a task moved into a cgroup.
        CgroupAttachInfo<S> {
            path: str => D::CgroupPath,
            dst_pid: u32 => D::Plain,
            /// Id of the cgroup joined: for `hierarchy_id` 0 (cgroup v2) the `cgroup_id` of
            /// events in it; v1 hierarchies have their own ids.
            target_cgroup_id: u64 => D::CgroupId,
            hierarchy_id: i32 => D::CgroupHierarchy,
        }
        /// `cgroup_mkdir`: a cgroup was created.
        CgroupMkdirInfo<S> {
            path: str => D::CgroupPath,
            target_cgroup_id: u64 => D::CgroupId,
            hierarchy_id: i32 => D::CgroupHierarchy,
        }
        /// `socket`.
        SocketArgs {
            family: u16 => D::Named(named::family),
            sock_type: u32 => D::Named(named::sock_type),
            protocol: u32 => D::Plain,
        }
        /// `bind`, `connect`, `accept` and `accept4`.
        SockArgs<S> {
            fd: i32 => D::Fd,
            /// For accept: the peer; for bind and connect: the address passed in.
            addr: addr => D::SockAddr,
        }
        /// `listen`.
        ListenArgs {
            fd: i32 => D::Fd,
            backlog: i32 => D::Plain,
        }
        /// `sock:inet_sock_set_state`: a TCP connection changed state.
        TcpStateChange {
            old_state: u8 => D::Named(named::tcp_state),
            new_state: u8 => D::Named(named::tcp_state),
            saddr: ip => D::Ip,
            sport: u16 => D::Port,
            daddr: ip => D::Ip,
            dport: u16 => D::Port,
        }
        /// What XDP saw of one packet.
        PacketSummary {
            ifindex: u32 => D::Plain,
            /// IP protocol number (6 = TCP, 17 = UDP).
            protocol: u8 => D::Named(named::ip_protocol),
            saddr: ip => D::Ip,
            sport: u16 => D::Port,
            daddr: ip => D::Ip,
            dport: u16 => D::Port,
            /// Length of the whole frame.
            len: u32 => D::ByteCount,
            /// The first bytes of TCP/UDP payload.
            payload: bytes => D::Payload,
        }
        /// A record from a user-supplied probe; decode it with the probe's BTF.
        CustomRecord {
            probe_id: u32 => D::ProbeId,
            bytes: bytes => D::ProbeRecord,
        }
        /// An event of the Docker daemon.
        DockerInfo<S> {
            /// `container`, `image`, `network`, …
            event_type: str => D::Text,
            /// `create`, `start`, `pull`, `die`, …
            action: str => D::Text,
            actor_id: str => D::ContainerId,
            attributes: pairs => D::Attributes,
        }
        /// Resource use of one container at one instant; counters are cumulative since its
        /// start.
        ResourceSample<S> {
            container_id: str => D::ContainerId,
            cpu_nanos: u64 => D::Nanos,
            mem_bytes: u64 => D::ByteCount,
            mem_limit_bytes: u64 => D::ByteCount,
            blk_read_bytes: u64 => D::ByteCount,
            blk_write_bytes: u64 => D::ByteCount,
            net_rx_bytes: u64 => D::ByteCount,
            net_tx_bytes: u64 => D::ByteCount,
            pids: u32 => D::Plain,
        }
        /// A call to a Kubernetes node's CRI runtime (the kubelet's part), or a change of
        /// state the runtime reported.
        CriInfo<S> {
            /// The CRI method (`RunPodSandbox`, `PullImage`, `CreateContainer`,
            /// `StartContainer`, …); empty for a change the runtime reported.
            method: str => D::Text,
            /// The change the runtime reported (`created`, `started`, `exited`, `notready`,
            /// `removed`); empty for a call.
            state: str => D::Text,
            /// The container it is about; for the pod's own calls and changes, its sandbox
            /// (whose container id is the pod id).
            container_id: str => D::ContainerId,
            /// The pod (CRI sandbox id), when it is about one.
            pod_id: str => D::Text,
            /// The pod's `namespace/name`, the container's name or the image reference.
            name: str => D::Text,
            /// How long the call took (0 for a reported change).
            duration_nanos: u64 => D::Nanos,
            /// The gRPC status of a failed call (`NotFound: …`); empty when it succeeded.
            error: str => D::Text,
        }
        /// Events that were lost, or a time span in which a source was not recorded.
        LossInfo {
            source: loss => D::LossSource,
            cpu: u32 => D::Plain,
            count: u64 => D::Plain,
            until_ts_nanos: u64 => D::BootTime,
        }
        /// `open_tree`: a mount (or a detached copy of it) as an fd.
        OpenTreeArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            flags: u32 => D::Flags(OPEN_TREE_FLAGS),
        }
        /// `move_mount`: attaches a mount fd (or moves a mount) somewhere.
        MoveMountArgs<S> {
            from_dirfd: i32 => D::DirFd,
            from_path: str => D::Path,
            to_dirfd: i32 => D::DirFd,
            to_path: str => D::Path,
            flags: u32 => D::Flags(MOVE_MOUNT_FLAGS),
        }
        /// `fsopen`: a filesystem context to configure.
        FsopenArgs<S> {
            fstype: str => D::Text,
            flags: u32 => D::Flags(FSOPEN_FLAGS),
        }
        /// `fsconfig`: one option of a filesystem context, or a command.
        FsconfigArgs<S> {
            fd: i32 => D::Fd,
            cmd: u32 => D::Named(named::fsconfig_cmd),
            key: str => D::Text,
            /// The value of `FSCONFIG_SET_STRING` and the paths; empty for the others.
            value: str => D::Text,
            aux: i32 => D::Plain,
        }
        /// `fsmount`: a mount fd from a configured filesystem context.
        FsmountArgs {
            fs_fd: i32 => D::Fd,
            flags: u32 => D::Flags(FSMOUNT_FLAGS),
            attr_flags: u32 => D::Flags(MOUNT_ATTR_FLAGS),
        }
        /// `fspick`: a filesystem context for an existing mount, to reconfigure it.
        FspickArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            flags: u32 => D::Flags(FSPICK_FLAGS),
        }
        /// `mount_setattr`, with its `struct mount_attr`.
        MountSetattrArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            flags: u32 => D::Flags(AT_FLAGS),
            attr_set: u64 => D::Flags(MOUNT_ATTR_FLAGS),
            attr_clr: u64 => D::Flags(MOUNT_ATTR_FLAGS),
            propagation: u64 => D::Flags(MOUNT_FLAGS),
            userns_fd: u64 => D::Plain,
        }
        /// `execveat` (the program and its argv are on the `exec` that follows).
        ExecveatArgs<S> {
            dirfd: i32 => D::DirFd,
            path: str => D::Path,
            flags: u32 => D::Flags(AT_FLAGS),
        }
        /// `fchdir`.
        FchdirArgs<S> {
            fd: i32 => D::Fd,
            /// The path the fd was opened with, when the recorder saw the open.
            path: opt_str => D::Path,
        }
        /// `umask`; its result is the previous mask.
        UmaskArgs {
            mask: u32 => D::Mode,
        }
        /// `sethostname`.
        SethostnameArgs<S> {
            name: str => D::Text,
        }
        /// `setuid`.
        SetuidArgs {
            uid: u32 => D::Plain,
        }
        /// `setgid`.
        SetgidArgs {
            gid: u32 => D::Plain,
        }
        /// `setgroups`.
        SetgroupsArgs {
            /// The number of groups passed.
            size: u32 => D::Plain,
            /// The first groups (at most 64).
            gids: u32s => D::Plain,
        }
    }
    kinds {
        0 Exec = "exec", Process, no_result, ExecArgs<S>,
            "Replaces the program of a process: runc becomes the container's entrypoint this way.";
        1 Fork = "fork", Process, no_result, ForkInfo,
            "A new task exists: every process of the container stack starts with one.";
        2 Exit = "exit", Process, no_result, ExitInfo,
            "A task ended; its exit code reaches the parent (for the container, the shim).",
            summary "{code}";
        3 Clone = "clone", Process, result, CloneArgs,
            "Creates a task; with CLONE_NEW* flags it also creates namespaces for it.",
            summary "{flags}";
        4 Clone3 = "clone3", Process, result, Box<Clone3Args<S>>,
            "Creates a task from a clone_args struct; CLONE_NEW* flags create namespaces, CLONE_INTO_CGROUP starts it in a cgroup.",
            summary "{flags}[ into cgroup {target_cgroup}][ with pids {set_tid}]";
        5 Unshare = "unshare", Namespace, result, UnshareArgs,
            "Moves the caller into new namespaces: how runc isolates the container's mounts, pids, network, hostname and IPC.",
            summary "{flags}";
        6 Setns = "setns", Namespace, result, SetnsArgs,
            "Joins an existing namespace through an fd: runc entering the container's namespaces, or a docker exec.",
            summary "join {nstype} (fd {fd})";
        7 Prctl = "prctl", Namespace, result, PrctlArgs,
            "Sets a process attribute: no-new-privileges, the parent-death signal, the child subreaper, the name.",
            summary "{option} {arg2}";
        8 Seccomp = "seccomp", Namespace, result, SeccompArgs,
            "Installs a seccomp filter: the syscall allow-list Docker applies to every container.",
            summary "{operation}[ flags {flags}]";
        9 Capset = "capset", Namespace, result, CapsetArgs,
            "Sets the capability sets: runc drops the container's privileges to Docker's default list.",
            summary "{effective} effective, {permitted} permitted capabilities";
        10 Mount = "mount", Mount, result, Box<MountArgs<S>>,
            "Attaches a filesystem: the overlay rootfs, /proc, /sys, /dev and the bind mounts of /etc/hosts and friends.";
        11 Umount = "umount", Mount, result, UmountArgs<S>,
            "Detaches a filesystem: the old root after pivot_root, or the rootfs when the container goes away.",
            summary "{target}[ ({flags})]";
        12 PivotRoot = "pivot_root", Mount, result, PivotRootArgs<S>,
            "Makes the container's overlay rootfs the new / of its mount namespace.",
            summary "new root {new_root}, old root to {put_old}";
        13 Chroot = "chroot", Mount, result, PathArgs<S>,
            "Changes the root directory of the caller (used instead of pivot_root on ramdisks).",
            summary "{path}";
        14 Openat = "openat", File, result, OpenArgs<S>,
            "Opens a file: layer unpacking, config.json, the container's /proc and /sys files.",
            summary "{path}  {flags}";
        15 Openat2 = "openat2", File, result, OpenArgs<S>,
            "Opens a file with resolve restrictions: runc uses it to stay inside the rootfs.",
            summary "{path}  {flags}";
        16 Mkdir = "mkdir", File, result, MkdirArgs<S>,
            "Creates a directory.",
            summary "{path}  {mode}";
        17 Mkdirat = "mkdirat", File, result, MkdirArgs<S>,
            "Creates a directory relative to a directory fd: layer unpacking and mount points.",
            summary "{path}  {mode}";
        18 FileIo = "file_io", File, no_result, FileIoSummary<S>,
            "Bytes read and written through one open file, summed until it was closed.";
        19 CgroupAttach = "cgroup_attach", Cgroup, no_result, CgroupAttachInfo<S>,
            "Moves a task into a cgroup: the container's init joins the limits Docker set.",
            summary "pid {dst_pid} into {path}";
        20 CgroupMkdir = "cgroup_mkdir", Cgroup, no_result, CgroupMkdirInfo<S>,
            "Creates a cgroup: one per container, named after its id.",
            summary "{path}";
        21 Socket = "socket", Network, result, SocketArgs,
            "Creates a socket.",
            summary "{family} {sock_type}";
        22 Bind = "bind", Network, result, SockArgs<S>,
            "Gives a socket a local address: docker-proxy listening on a published port.",
            summary "fd {fd} {addr}";
        23 Listen = "listen", Network, result, ListenArgs,
            "Marks a socket as accepting connections.",
            summary "fd {fd}, backlog {backlog}";
        24 Accept = "accept", Network, result, SockArgs<S>,
            "Takes a connection from a listening socket.",
            summary "fd {fd} {addr}";
        25 Accept4 = "accept4", Network, result, SockArgs<S>,
            "Takes a connection from a listening socket, with flags.",
            summary "fd {fd} {addr}";
        26 Connect = "connect", Network, result, SockArgs<S>,
            "Connects a socket: the daemon reaching the registry, a client reaching a published port.",
            summary "fd {fd} {addr}";
        27 TcpState = "tcp_state", Network, no_result, Box<TcpStateChange>,
            "A TCP connection changed state (SYN_SENT, ESTABLISHED, CLOSE…).",
            summary "{saddr:sport} → {daddr:dport}  {old_state} → {new_state}";
        28 Packet = "packet", Network, no_result, Box<PacketSummary>,
            "A packet seen on an interface; HTTP request lines of an image pull are readable in its payload.";
        29 Custom = "custom", Custom, no_result, CustomRecord,
            "A record emitted by a user-supplied eBPF probe.";
        30 Docker = "docker", Docker, no_result, Box<DockerInfo<S>>,
            "An event from the Docker daemon: pull, create, start, die, destroy…";
        31 ResourceSample = "resource_sample", Docker, no_result, Box<ResourceSample<S>>,
            "CPU, memory, block I/O, network and pids of one container.",
            summary "cpu {cpu_nanos}, memory {mem_bytes}, {pids} pids";
        32 Lost = "lost", Meta, no_result, LossInfo,
            "Events that were lost, or a span in which a source was not recorded.";
        33 OpenTree = "open_tree", Mount, result, OpenTreeArgs<S>,
            "Opens a mount as an fd, or clones it (OPEN_TREE_CLONE) for a bind mount with the new mount API.",
            summary "{path}  {flags}";
        34 MoveMount = "move_mount", Mount, result, Box<MoveMountArgs<S>>,
            "Attaches a mount fd to a place in the tree (or moves a mount): the new mount API's last step.",
            summary "{from_dirfd}[ {from_path}] → {to_dirfd}[ {to_path}][  {flags}]";
        35 Fsopen = "fsopen", Mount, result, FsopenArgs<S>,
            "Starts configuring a new filesystem (the new mount API): options follow with fsconfig.",
            summary "{fstype}[  {flags}]";
        36 Fsconfig = "fsconfig", Mount, result, FsconfigArgs<S>,
            "Sets an option of a filesystem being configured, or creates it (FSCONFIG_CMD_CREATE).",
            summary "fd {fd} {cmd}[ {key}][ = {value}]";
        37 Fsmount = "fsmount", Mount, result, FsmountArgs,
            "Turns a configured filesystem into a detached mount fd, ready for move_mount.",
            summary "fs fd {fs_fd}[  {attr_flags}]";
        38 Fspick = "fspick", Mount, result, FspickArgs<S>,
            "Picks an existing mount's filesystem to reconfigure it with fsconfig.",
            summary "{path}[  {flags}]";
        39 MountSetattr = "mount_setattr", Mount, result, Box<MountSetattrArgs<S>>,
            "Changes a mount's attributes (read-only, nosuid, idmapped, propagation), optionally for a whole tree.",
            summary "{path}[ set {attr_set}][ clear {attr_clr}][ propagation {propagation}]";
        40 Execveat = "execveat", Process, result, ExecveatArgs<S>,
            "Runs a program given by a directory fd and path (or an fd alone): how runc re-executes itself from a sealed copy.",
            summary "{dirfd}[ {path}][  {flags}]";
        41 Chdir = "chdir", File, result, PathArgs<S>,
            "Changes the working directory: runc moves into the new root before pivot_root(\".\", \".\").",
            summary "{path}";
        42 Fchdir = "fchdir", File, result, FchdirArgs<S>,
            "Changes the working directory to an open directory fd.",
            summary "fd {fd}[ {path}]";
        43 Umask = "umask", Process, result, UmaskArgs,
            "Sets the mode bits removed from new files; the result is the previous mask.",
            summary "{mask}";
        44 Sethostname = "sethostname", Namespace, result, SethostnameArgs<S>,
            "Sets the hostname of the UTS namespace: the container's own hostname.",
            summary "{name}";
        45 Setuid = "setuid", Process, result, SetuidArgs,
            "Sets the user id: the container's process becomes the image's user.",
            summary "uid {uid}";
        46 Setgid = "setgid", Process, result, SetgidArgs,
            "Sets the group id.",
            summary "gid {gid}";
        47 Setgroups = "setgroups", Process, result, SetgroupsArgs,
            "Sets the supplementary groups (runc clears or sets them before the entrypoint).",
            summary "{size} groups[ {gids}]";
        48 Cri = "cri", Cri, no_result, Box<CriInfo<S>>,
            "A call to the node's CRI runtime, as the kubelet makes it (RunPodSandbox, CreateContainer…), with how long it took, or a change of state the runtime reported.",
            summary "[{method}][{state}][ {name}][  {duration_nanos}][  failed: {error}]";
    }
}
