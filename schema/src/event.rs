//! The event model: one [`Event`] per thing that happened, on the boot clock.
//!
//! Kernel events carry the full [`EventHeader`] (who, where, result). Events that come from
//! the Docker daemon or from the recorder itself (daemon events, resource samples, losses)
//! use the same shape with a zero pid and an empty comm, so one timeline holds them all.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Shared, immutable string. Decoding a chunk hands out clones of its interned strings, so a
/// path repeated a million times is stored once in memory too.
pub type Str = Arc<str>;

/// The process context of an event: who did it, in which cgroup and namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventHeader<S = Str> {
    /// CLOCK_BOOTTIME in nanoseconds (`bpf_ktime_get_boot_ns`).
    pub ts_nanos: u64,
    /// Kernel task id (the thread).
    pub pid: u32,
    /// Thread-group id (what user space calls the pid).
    pub tgid: u32,
    /// `comm` of the task when the event happened (at most 15 bytes from the kernel).
    pub comm: S,
    /// cgroup v2 id of the task (the inode of its cgroup directory); 0 when unknown.
    pub cgroup_id: u64,
    /// Namespace inodes of the task; 0 when unknown.
    pub ns: Namespaces,
}

/// Inode numbers of a task's pid, mount and network namespaces.
///
/// Inodes are reused by the kernel once a namespace is gone: attribute with time, never with
/// an inode alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid_ns: u32,
    pub mnt_ns: u32,
    pub net_ns: u32,
}

/// One recorded event.
///
/// Owned events use [`Str`]; `Event<&str>` is a borrowed view whose strings point into a
/// decoded chunk (see [`crate::Session::scan`]), turned into an owned event with
/// [`Event::to_owned_event`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event<S = Str> {
    pub header: EventHeader<S>,
    /// The syscall's return value, for events that come from a syscall.
    pub result: Option<i64>,
    pub data: EventData<S>,
}

impl<S> Event<S> {
    pub fn kind(&self) -> Kind {
        self.data.kind()
    }

    pub fn ts_nanos(&self) -> u64 {
        self.header.ts_nanos
    }

    /// Whether the syscall failed (a negative result).
    pub fn failed(&self) -> bool {
        self.result.is_some_and(|r| r < 0)
    }
}

impl Event<&str> {
    /// An owned copy of a borrowed event.
    pub fn to_owned_event(&self) -> Event {
        let Ok(data) = self
            .data
            .try_map_strings(&mut |s: &&str| Ok::<_, std::convert::Infallible>(Str::from(*s)));
        Event {
            header: EventHeader {
                ts_nanos: self.header.ts_nanos,
                pid: self.header.pid,
                tgid: self.header.tgid,
                comm: Str::from(self.header.comm),
                cgroup_id: self.header.cgroup_id,
                ns: self.header.ns,
            },
            result: self.result,
            data,
        }
    }
}

impl Event {
    /// An event that no task caused (daemon events, samples, losses).
    pub fn untasked(ts_nanos: u64, data: EventData) -> Self {
        Self {
            header: EventHeader {
                ts_nanos,
                pid: 0,
                tgid: 0,
                comm: Str::from(""),
                cgroup_id: 0,
                ns: Namespaces::default(),
            },
            result: None,
            data,
        }
    }
}

/// A socket address as the kernel saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SockAddr<S = Str> {
    /// No address was passed or it could not be read.
    None,
    Inet {
        ip: IpAddr,
        port: u16,
    },
    Unix {
        path: S,
    },
    /// Another address family, by number (`AF_*`).
    Other {
        family: u16,
    },
}

/// Where lost events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LossSource {
    /// The kernel could not reserve space in the ring buffer.
    RingBuffer,
    /// The recorder's own queue to the writer was full.
    Recorder,
    /// The Docker daemon was unreachable; `count` is 0 and the loss is a time span.
    Docker,
}

impl LossSource {
    pub const fn name(self) -> &'static str {
        match self {
            Self::RingBuffer => "ring_buffer",
            Self::Recorder => "recorder",
            Self::Docker => "docker",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::RingBuffer, Self::Recorder, Self::Docker]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// Arguments of `clone` and `clone3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CloneArgs {
    /// `CLONE_*` flags (for clone3 the `flags` field of `struct clone_args`).
    pub flags: u64,
}

/// Arguments of `openat` and `openat2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpenArgs<S = Str> {
    pub dirfd: i32,
    pub path: S,
    /// `O_*` flags.
    pub flags: u64,
    pub mode: u32,
}

/// Arguments of `mkdir` and `mkdirat`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MkdirArgs<S = Str> {
    /// `AT_FDCWD` (-100) for `mkdir`.
    pub dirfd: i32,
    pub path: S,
    pub mode: u32,
}

/// Arguments of `bind`, `connect`, `accept` and `accept4`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SockArgs<S = Str> {
    pub fd: i32,
    /// For accept: the peer; for bind and connect: the address passed in.
    pub addr: SockAddr<S>,
}

/// What happened, with the fields of its kind.
///
/// Generic over the string type so that the chunk encoder can store strings as indexes into
/// a per-chunk table; everyone else uses the default, [`Str`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventData<S = Str> {
    /// `sched_process_exec`: a task replaced its program.
    Exec {
        filename: S,
        argv: Vec<S>,
    },
    /// `sched_process_fork`: a new task exists.
    Fork {
        parent_pid: u32,
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
    },
    /// `sched_process_exit`: a task ended. `code` is the raw wait status (`exit_code`).
    Exit {
        code: i32,
    },
    Clone(CloneArgs),
    Clone3(CloneArgs),
    Unshare {
        flags: u64,
    },
    Setns {
        fd: i32,
        nstype: i32,
    },
    Prctl {
        option: i32,
        arg2: u64,
    },
    Seccomp {
        operation: u32,
        flags: u32,
    },
    /// `capset`: the capability sets being installed (first 32-bit word pairs joined).
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    Mount(Box<MountArgs<S>>),
    /// `umount2`.
    Umount {
        target: S,
        flags: u32,
    },
    PivotRoot {
        new_root: S,
        put_old: S,
    },
    Chroot {
        path: S,
    },
    Openat(OpenArgs<S>),
    Openat2(OpenArgs<S>),
    Mkdir(MkdirArgs<S>),
    Mkdirat(MkdirArgs<S>),
    /// Reads and writes of one open file by one process, summed in the kernel and emitted
    /// once when the file was closed (or the process exited).
    FileIo {
        path: S,
        bytes_read: u64,
        bytes_written: u64,
        reads: u32,
        writes: u32,
    },
    /// `cgroup_attach_task`: a task moved into a cgroup. `hierarchy_id` 0 is cgroup v2, whose
    /// ids are the `cgroup_id` of events; v1 hierarchies have their own ids.
    CgroupAttach {
        path: S,
        dst_pid: u32,
        cgroup_id: u64,
        hierarchy_id: i32,
    },
    /// `cgroup_mkdir`: a cgroup was created.
    CgroupMkdir {
        path: S,
        cgroup_id: u64,
        hierarchy_id: i32,
    },
    Socket {
        family: u16,
        sock_type: u32,
        protocol: u32,
    },
    Bind(SockArgs<S>),
    Listen {
        fd: i32,
        backlog: i32,
    },
    Accept(SockArgs<S>),
    Accept4(SockArgs<S>),
    Connect(SockArgs<S>),
    /// `sock:inet_sock_set_state`.
    TcpState(Box<TcpStateChange>),
    /// One packet seen by XDP: protocol, addresses, length and the first bytes of payload.
    Packet(Box<PacketSummary>),
    /// A record from a user-supplied probe; decode it with the probe's BTF (`probes` table).
    Custom {
        probe_id: u32,
        bytes: Vec<u8>,
    },
    /// An event from the Docker daemon (`docker events`).
    Docker(Box<DockerInfo<S>>),
    /// A resource sample of one container.
    ResourceSample(Box<ResourceSample<S>>),
    /// Events that were lost, or a time span in which a source was not recorded.
    Lost {
        source: LossSource,
        cpu: u32,
        count: u64,
        until_ts_nanos: u64,
    },
}

/// Arguments of `mount`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MountArgs<S = Str> {
    pub source: S,
    pub target: S,
    pub fstype: S,
    /// `MS_*` flags.
    pub flags: u64,
    /// The start of the options string (`lowerdir=…,upperdir=…` for overlay).
    pub data: S,
}

/// A TCP state change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpStateChange {
    pub old_state: u8,
    pub new_state: u8,
    pub saddr: IpAddr,
    pub sport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
}

/// What XDP saw of one packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PacketSummary {
    pub ifindex: u32,
    /// IP protocol number (6 = TCP, 17 = UDP).
    pub protocol: u8,
    pub saddr: IpAddr,
    pub sport: u16,
    pub daddr: IpAddr,
    pub dport: u16,
    /// Length of the whole frame.
    pub len: u32,
    /// The first bytes of TCP/UDP payload.
    pub payload: Vec<u8>,
}

/// An event of the Docker daemon.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DockerInfo<S = Str> {
    /// `container`, `image`, `network`, …
    pub event_type: S,
    /// `create`, `start`, `pull`, `die`, …
    pub action: S,
    pub actor_id: S,
    pub attributes: Vec<(S, S)>,
}

/// Resource use of one container at one instant; counters are cumulative since its start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceSample<S = Str> {
    pub container_id: S,
    pub cpu_nanos: u64,
    pub mem_bytes: u64,
    pub mem_limit_bytes: u64,
    pub blk_read_bytes: u64,
    pub blk_write_bytes: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub pids: u32,
}

/// The family an event kind belongs to: one timeline lane each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    Process,
    Namespace,
    Mount,
    File,
    Cgroup,
    Network,
    Docker,
    Custom,
    Meta,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Self::Process,
        Self::Namespace,
        Self::Mount,
        Self::File,
        Self::Cgroup,
        Self::Network,
        Self::Docker,
        Self::Custom,
        Self::Meta,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Namespace => "namespaces",
            Self::Mount => "mounts",
            Self::File => "files",
            Self::Cgroup => "cgroups",
            Self::Network => "network",
            Self::Docker => "docker",
            Self::Custom => "custom",
            Self::Meta => "recorder",
        }
    }
}

macro_rules! kinds {
    ($($variant:ident = $name:literal, $family:ident, $about:literal;)*) => {
        /// The kind of an event: the snake_case name of the syscall or tracepoint it came
        /// from. Its number is stored in chunk kind masks and must never change.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[repr(u8)]
        pub enum Kind { $($variant,)* }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            /// The public name (`kind` in JSONL, in the `kind_counts` table, in filters).
            pub const fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            pub const fn family(self) -> Family {
                match self { $(Kind::$variant => Family::$family,)* }
            }

            /// One line on what this call does when a container is made.
            pub const fn about(self) -> &'static str {
                match self { $(Kind::$variant => $about,)* }
            }
        }
    };
}

kinds! {
    Exec = "exec", Process, "Replaces the program of a process: runc becomes the container's entrypoint this way.";
    Fork = "fork", Process, "A new task exists: every process of the container stack starts with one.";
    Exit = "exit", Process, "A task ended; its exit code reaches the parent (for the container, the shim).";
    Clone = "clone", Process, "Creates a task; with CLONE_NEW* flags it also creates namespaces for it.";
    Clone3 = "clone3", Process, "Creates a task from a clone_args struct; CLONE_NEW* flags create namespaces.";
    Unshare = "unshare", Namespace, "Moves the caller into new namespaces: how runc isolates the container's mounts, pids, network, hostname and IPC.";
    Setns = "setns", Namespace, "Joins an existing namespace through an fd: runc entering the container's namespaces, or a docker exec.";
    Prctl = "prctl", Namespace, "Sets a process attribute: no-new-privileges, the parent-death signal, the child subreaper, the name.";
    Seccomp = "seccomp", Namespace, "Installs a seccomp filter: the syscall allow-list Docker applies to every container.";
    Capset = "capset", Namespace, "Sets the capability sets: runc drops the container's privileges to Docker's default list.";
    Mount = "mount", Mount, "Attaches a filesystem: the overlay rootfs, /proc, /sys, /dev and the bind mounts of /etc/hosts and friends.";
    Umount = "umount", Mount, "Detaches a filesystem: the old root after pivot_root, or the rootfs when the container goes away.";
    PivotRoot = "pivot_root", Mount, "Makes the container's overlay rootfs the new / of its mount namespace.";
    Chroot = "chroot", Mount, "Changes the root directory of the caller (used instead of pivot_root on ramdisks).";
    Openat = "openat", File, "Opens a file: layer unpacking, config.json, the container's /proc and /sys files.";
    Openat2 = "openat2", File, "Opens a file with resolve restrictions: runc uses it to stay inside the rootfs.";
    Mkdir = "mkdir", File, "Creates a directory.";
    Mkdirat = "mkdirat", File, "Creates a directory relative to a directory fd: layer unpacking and mount points.";
    FileIo = "file_io", File, "Bytes read and written through one open file, summed until it was closed.";
    CgroupAttach = "cgroup_attach", Cgroup, "Moves a task into a cgroup: the container's init joins the limits Docker set.";
    CgroupMkdir = "cgroup_mkdir", Cgroup, "Creates a cgroup: one per container, named after its id.";
    Socket = "socket", Network, "Creates a socket.";
    Bind = "bind", Network, "Gives a socket a local address: docker-proxy listening on a published port.";
    Listen = "listen", Network, "Marks a socket as accepting connections.";
    Accept = "accept", Network, "Takes a connection from a listening socket.";
    Accept4 = "accept4", Network, "Takes a connection from a listening socket, with flags.";
    Connect = "connect", Network, "Connects a socket: the daemon reaching the registry, a client reaching a published port.";
    TcpState = "tcp_state", Network, "A TCP connection changed state (SYN_SENT, ESTABLISHED, CLOSE…).";
    Packet = "packet", Network, "A packet seen on an interface; HTTP request lines of an image pull are readable in its payload.";
    Custom = "custom", Custom, "A record emitted by a user-supplied eBPF probe.";
    Docker = "docker", Docker, "An event from the Docker daemon: pull, create, start, die, destroy…";
    ResourceSample = "resource_sample", Docker, "CPU, memory, block I/O, network and pids of one container.";
    Lost = "lost", Meta, "Events that were lost, or a span in which a source was not recorded.";
}

impl Kind {
    pub const COUNT: usize = Self::ALL.len();

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    pub fn from_index(index: u8) -> Option<Self> {
        Self::ALL.get(usize::from(index)).copied()
    }

    pub const fn index(self) -> u8 {
        self as u8
    }

    pub const fn bit(self) -> u64 {
        1 << (self as u8)
    }

    /// Whether events of this kind come from a syscall and therefore carry its result.
    pub const fn has_result(self) -> bool {
        !matches!(
            self,
            Self::Exec
                | Self::Fork
                | Self::Exit
                | Self::FileIo
                | Self::CgroupAttach
                | Self::CgroupMkdir
                | Self::TcpState
                | Self::Packet
                | Self::Custom
                | Self::Docker
                | Self::ResourceSample
                | Self::Lost
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of kinds as a bit mask (the form stored per chunk).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KindSet(pub u64);

impl KindSet {
    pub const EMPTY: Self = Self(0);

    pub fn all() -> Self {
        Self(Kind::ALL.iter().fold(0, |m, k| m | k.bit()))
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn insert(&mut self, kind: Kind) {
        self.0 |= kind.bit();
    }

    pub fn remove(&mut self, kind: Kind) {
        self.0 &= !kind.bit();
    }

    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.iter().copied().filter(move |k| self.contains(*k))
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        for k in iter {
            set.insert(k);
        }
        set
    }
}

impl<S> EventData<S> {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Exec { .. } => Kind::Exec,
            Self::Fork { .. } => Kind::Fork,
            Self::Exit { .. } => Kind::Exit,
            Self::Clone(_) => Kind::Clone,
            Self::Clone3(_) => Kind::Clone3,
            Self::Unshare { .. } => Kind::Unshare,
            Self::Setns { .. } => Kind::Setns,
            Self::Prctl { .. } => Kind::Prctl,
            Self::Seccomp { .. } => Kind::Seccomp,
            Self::Capset { .. } => Kind::Capset,
            Self::Mount(_) => Kind::Mount,
            Self::Umount { .. } => Kind::Umount,
            Self::PivotRoot { .. } => Kind::PivotRoot,
            Self::Chroot { .. } => Kind::Chroot,
            Self::Openat(_) => Kind::Openat,
            Self::Openat2(_) => Kind::Openat2,
            Self::Mkdir(_) => Kind::Mkdir,
            Self::Mkdirat(_) => Kind::Mkdirat,
            Self::FileIo { .. } => Kind::FileIo,
            Self::CgroupAttach { .. } => Kind::CgroupAttach,
            Self::CgroupMkdir { .. } => Kind::CgroupMkdir,
            Self::Socket { .. } => Kind::Socket,
            Self::Bind(_) => Kind::Bind,
            Self::Listen { .. } => Kind::Listen,
            Self::Accept(_) => Kind::Accept,
            Self::Accept4(_) => Kind::Accept4,
            Self::Connect(_) => Kind::Connect,
            Self::TcpState(_) => Kind::TcpState,
            Self::Packet(_) => Kind::Packet,
            Self::Custom { .. } => Kind::Custom,
            Self::Docker(_) => Kind::Docker,
            Self::ResourceSample(_) => Kind::ResourceSample,
            Self::Lost { .. } => Kind::Lost,
        }
    }

    /// The same event with every string passed through `f` (used to intern strings into a
    /// chunk's table, and to resolve them back). Stops at the first error.
    pub fn try_map_strings<T, E>(
        &self,
        f: &mut impl FnMut(&S) -> Result<T, E>,
    ) -> Result<EventData<T>, E> {
        use EventData as D;
        let addr = |a: &SockAddr<S>, f: &mut dyn FnMut(&S) -> Result<T, E>| {
            Ok(match a {
                SockAddr::None => SockAddr::None,
                SockAddr::Inet { ip, port } => SockAddr::Inet {
                    ip: *ip,
                    port: *port,
                },
                SockAddr::Unix { path } => SockAddr::Unix { path: f(path)? },
                SockAddr::Other { family } => SockAddr::Other { family: *family },
            })
        };
        let sock = |a: &SockArgs<S>, f: &mut dyn FnMut(&S) -> Result<T, E>| {
            Ok(SockArgs {
                fd: a.fd,
                addr: addr(&a.addr, f)?,
            })
        };
        let open = |a: &OpenArgs<S>, f: &mut dyn FnMut(&S) -> Result<T, E>| {
            Ok(OpenArgs {
                dirfd: a.dirfd,
                path: f(&a.path)?,
                flags: a.flags,
                mode: a.mode,
            })
        };
        let mkdir = |a: &MkdirArgs<S>, f: &mut dyn FnMut(&S) -> Result<T, E>| {
            Ok(MkdirArgs {
                dirfd: a.dirfd,
                path: f(&a.path)?,
                mode: a.mode,
            })
        };
        Ok(match self {
            D::Exec { filename, argv } => D::Exec {
                filename: f(filename)?,
                argv: argv.iter().map(&mut *f).collect::<Result<_, _>>()?,
            },
            D::Fork {
                parent_pid,
                parent_tgid,
                child_pid,
                child_tgid,
            } => D::Fork {
                parent_pid: *parent_pid,
                parent_tgid: *parent_tgid,
                child_pid: *child_pid,
                child_tgid: *child_tgid,
            },
            D::Exit { code } => D::Exit { code: *code },
            D::Clone(a) => D::Clone(a.clone()),
            D::Clone3(a) => D::Clone3(a.clone()),
            D::Unshare { flags } => D::Unshare { flags: *flags },
            D::Setns { fd, nstype } => D::Setns {
                fd: *fd,
                nstype: *nstype,
            },
            D::Prctl { option, arg2 } => D::Prctl {
                option: *option,
                arg2: *arg2,
            },
            D::Seccomp { operation, flags } => D::Seccomp {
                operation: *operation,
                flags: *flags,
            },
            D::Capset {
                effective,
                permitted,
                inheritable,
            } => D::Capset {
                effective: *effective,
                permitted: *permitted,
                inheritable: *inheritable,
            },
            D::Mount(m) => D::Mount(Box::new(MountArgs {
                source: f(&m.source)?,
                target: f(&m.target)?,
                fstype: f(&m.fstype)?,
                flags: m.flags,
                data: f(&m.data)?,
            })),
            D::Umount { target, flags } => D::Umount {
                target: f(target)?,
                flags: *flags,
            },
            D::PivotRoot { new_root, put_old } => D::PivotRoot {
                new_root: f(new_root)?,
                put_old: f(put_old)?,
            },
            D::Chroot { path } => D::Chroot { path: f(path)? },
            D::Openat(a) => D::Openat(open(a, f)?),
            D::Openat2(a) => D::Openat2(open(a, f)?),
            D::Mkdir(a) => D::Mkdir(mkdir(a, f)?),
            D::Mkdirat(a) => D::Mkdirat(mkdir(a, f)?),
            D::FileIo {
                path,
                bytes_read,
                bytes_written,
                reads,
                writes,
            } => D::FileIo {
                path: f(path)?,
                bytes_read: *bytes_read,
                bytes_written: *bytes_written,
                reads: *reads,
                writes: *writes,
            },
            D::CgroupAttach {
                path,
                dst_pid,
                cgroup_id,
                hierarchy_id,
            } => D::CgroupAttach {
                path: f(path)?,
                dst_pid: *dst_pid,
                cgroup_id: *cgroup_id,
                hierarchy_id: *hierarchy_id,
            },
            D::CgroupMkdir {
                path,
                cgroup_id,
                hierarchy_id,
            } => D::CgroupMkdir {
                path: f(path)?,
                cgroup_id: *cgroup_id,
                hierarchy_id: *hierarchy_id,
            },
            D::Socket {
                family,
                sock_type,
                protocol,
            } => D::Socket {
                family: *family,
                sock_type: *sock_type,
                protocol: *protocol,
            },
            D::Bind(a) => D::Bind(sock(a, f)?),
            D::Listen { fd, backlog } => D::Listen {
                fd: *fd,
                backlog: *backlog,
            },
            D::Accept(a) => D::Accept(sock(a, f)?),
            D::Accept4(a) => D::Accept4(sock(a, f)?),
            D::Connect(a) => D::Connect(sock(a, f)?),
            D::TcpState(t) => D::TcpState(t.clone()),
            D::Packet(p) => D::Packet(p.clone()),
            D::Custom { probe_id, bytes } => D::Custom {
                probe_id: *probe_id,
                bytes: bytes.clone(),
            },
            D::Docker(d) => D::Docker(Box::new(DockerInfo {
                event_type: f(&d.event_type)?,
                action: f(&d.action)?,
                actor_id: f(&d.actor_id)?,
                attributes: d
                    .attributes
                    .iter()
                    .map(|(k, v)| Ok((f(k)?, f(v)?)))
                    .collect::<Result<_, E>>()?,
            })),
            D::ResourceSample(s) => D::ResourceSample(Box::new(ResourceSample {
                container_id: f(&s.container_id)?,
                cpu_nanos: s.cpu_nanos,
                mem_bytes: s.mem_bytes,
                mem_limit_bytes: s.mem_limit_bytes,
                blk_read_bytes: s.blk_read_bytes,
                blk_write_bytes: s.blk_write_bytes,
                net_rx_bytes: s.net_rx_bytes,
                net_tx_bytes: s.net_tx_bytes,
                pids: s.pids,
            })),
            D::Lost {
                source,
                cpu,
                count,
                until_ts_nanos,
            } => D::Lost {
                source: *source,
                cpu: *cpu,
                count: *count,
                until_ts_nanos: *until_ts_nanos,
            },
        })
    }

    /// Calls `f` on every string the event holds, in the order `try_map_strings` visits them.
    pub fn for_each_string(&self, mut f: impl FnMut(&S)) {
        let _ = self.try_map_strings(&mut |s| {
            f(s);
            Ok::<(), std::convert::Infallible>(())
        });
    }
}

impl<S: AsRef<str>> EventData<S> {
    /// The main path an event is about, if any (open, mkdir, file I/O, mount target, …).
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Exec { filename, .. } => Some(filename.as_ref()),
            Self::Openat(a) | Self::Openat2(a) => Some(a.path.as_ref()),
            Self::Mkdir(a) | Self::Mkdirat(a) => Some(a.path.as_ref()),
            Self::FileIo { path, .. }
            | Self::Chroot { path }
            | Self::CgroupAttach { path, .. }
            | Self::CgroupMkdir { path, .. } => Some(path.as_ref()),
            Self::Mount(m) => Some(m.target.as_ref()),
            Self::Umount { target, .. } => Some(target.as_ref()),
            Self::PivotRoot { new_root, .. } => Some(new_root.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(usize::from(k.index()), i);
            assert!(seen.insert(k.name()), "duplicate kind name {}", k.name());
            assert!(
                k.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
            );
            assert_eq!(Kind::from_name(k.name()), Some(*k));
            assert_eq!(Kind::from_index(k.index()), Some(*k));
        }
        const { assert!(Kind::COUNT <= 64, "kinds must fit a u64 mask") };
    }

    #[test]
    fn kind_set_operations() {
        let mut set: KindSet = [Kind::Mount, Kind::Setns].into_iter().collect();
        assert!(set.contains(Kind::Mount));
        assert!(!set.contains(Kind::Exec));
        set.remove(Kind::Mount);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![Kind::Setns]);
        assert_eq!(KindSet::all().iter().count(), Kind::COUNT);
    }

    #[test]
    fn map_strings_visits_every_string() {
        let data: EventData = EventData::Docker(Box::new(DockerInfo {
            event_type: "container".into(),
            action: "start".into(),
            actor_id: "abc".into(),
            attributes: vec![("name".into(), "web".into())],
        }));
        let mut seen = Vec::new();
        data.for_each_string(|s| seen.push(s.to_string()));
        assert_eq!(seen, ["container", "start", "abc", "name", "web"]);
    }
}
