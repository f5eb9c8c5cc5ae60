//! The event model: one [`Event`] per thing that happened, on the boot clock.
//!
//! Kernel events carry the full [`EventHeader`] (who, where, result). Events that come from
//! the Docker daemon or from the recorder itself (daemon events, resource samples, losses)
//! use the same shape with a zero pid and an empty comm, so one timeline holds them all.

mod define;
mod field;
mod kinds;
pub mod text;
pub(crate) mod v1;
mod wire;

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use field::{Decode, FieldClass, FieldDesc, FieldRef, FieldSource, Fields};
pub use kinds::*;

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

/// Inode numbers of a task's namespaces, as `/proc/PID/ns/*` shows them; 0 when unknown
/// (sessions of format 1 hold only the pid, mount and network namespaces).
///
/// Inodes are reused by the kernel once a namespace is gone: attribute with time, never with
/// an inode alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid_ns: u32,
    pub mnt_ns: u32,
    pub net_ns: u32,
    pub uts_ns: u32,
    pub ipc_ns: u32,
    pub user_ns: u32,
    pub cgroup_ns: u32,
    pub time_ns: u32,
}

impl Namespaces {
    /// The namespace types and their inodes, in the order of `/proc/PID/ns`.
    pub fn by_type(&self) -> [(&'static str, u32); 8] {
        [
            ("cgroup", self.cgroup_ns),
            ("ipc", self.ipc_ns),
            ("mnt", self.mnt_ns),
            ("net", self.net_ns),
            ("pid", self.pid_ns),
            ("time", self.time_ns),
            ("user", self.user_ns),
            ("uts", self.uts_ns),
        ]
    }
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

impl<S> SockAddr<S> {
    /// The same address with its path passed through `f`.
    pub fn map_strings<T, E>(
        &self,
        f: &mut dyn FnMut(&S) -> Result<T, E>,
    ) -> Result<SockAddr<T>, E> {
        Ok(match self {
            Self::None => SockAddr::None,
            Self::Inet { ip, port } => SockAddr::Inet {
                ip: *ip,
                port: *port,
            },
            Self::Unix { path } => SockAddr::Unix { path: f(path)? },
            Self::Other { family } => SockAddr::Other { family: *family },
        })
    }

    /// An address made from `g`: Inet, Unix and the others in turn.
    pub fn generate(g: &mut dyn FieldSource, field: &FieldDesc) -> Self
    where
        S: From<String>,
    {
        match g.uint(field, 3) {
            0 => Self::Inet {
                ip: g.ip(field),
                port: g.uint(field, u64::from(u16::MAX)) as u16,
            },
            1 => Self::Unix {
                path: S::from(g.string(field)),
            },
            2 => Self::Other {
                family: g.uint(field, 64) as u16,
            },
            _ => Self::None,
        }
    }
}

/// Where lost events were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LossSource {
    /// The kernel could not reserve space in the ring buffer: `count` events were lost.
    RingBuffer,
    /// The recorder fell behind: its queue to the session writer was full from `ts` to
    /// `until` and the capture waited (`count` is 0; what the kernel could not hold
    /// meanwhile is counted as `RingBuffer`).
    Recorder,
    /// The Docker daemon was unreachable; `count` is 0 and the loss is a time span.
    Docker,
    /// The kernel's table of syscalls in flight was full: `count` syscalls were not
    /// recorded (their entry had nowhere to wait for their exit).
    InflightTable,
    /// The kernel's table of per-file I/O summaries was full: `count` reads or writes were
    /// not summed into any summary.
    FileIoTable,
    /// `count` records from the kernel did not parse (a probe and the recorder disagree).
    Malformed,
}

impl LossSource {
    pub const ALL: [LossSource; 6] = [
        Self::RingBuffer,
        Self::Recorder,
        Self::Docker,
        Self::InflightTable,
        Self::FileIoTable,
        Self::Malformed,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::RingBuffer => "ring_buffer",
            Self::Recorder => "recorder",
            Self::Docker => "docker",
            Self::InflightTable => "inflight_table",
            Self::FileIoTable => "fileio_table",
            Self::Malformed => "malformed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Arguments of `clone` and `clone3`.
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
    /// A Kubernetes node's CRI runtime: the kubelet's calls and the runtime's changes.
    Cri,
    Custom,
    Meta,
}

impl Family {
    pub const ALL: [Family; 10] = [
        Self::Process,
        Self::Namespace,
        Self::Mount,
        Self::File,
        Self::Cgroup,
        Self::Network,
        Self::Docker,
        Self::Cri,
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
            Self::Cri => "cri",
            Self::Custom => "custom",
            Self::Meta => "recorder",
        }
    }
}

impl Kind {
    pub const COUNT: usize = Self::ALL.len();

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The kind of number `index` (numbers are dense: 0 to `COUNT - 1`).
    pub fn from_index(index: u8) -> Option<Self> {
        Self::from_number(u32::from(index))
    }

    /// The kind's pinned number (its position in [`Kind::ALL`], its wire tag, its mask bit).
    pub const fn index(self) -> u8 {
        self as u8
    }

    pub const fn bit(self) -> u64 {
        1 << (self as u8)
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

impl<S: Default> Default for ResourceSample<S> {
    fn default() -> Self {
        Self {
            container_id: S::default(),
            cpu_nanos: 0,
            mem_bytes: 0,
            mem_limit_bytes: 0,
            blk_read_bytes: 0,
            blk_write_bytes: 0,
            net_rx_bytes: 0,
            net_tx_bytes: 0,
            pids: 0,
        }
    }
}

impl<S: AsRef<str>> EventData<S> {
    /// The main path an event is about, if any: its first field that is a file path (the
    /// program of an exec, the file opened, the mount target, …). Cgroup paths are not files.
    pub fn path(&self) -> Option<&str> {
        let mut found = None;
        self.visit_fields(&mut |d, v| {
            if found.is_none() && matches!(d.decode, Decode::Path) {
                found = match v {
                    FieldRef::Str(s) => Some(s.as_ref()),
                    FieldRef::OptStr(s) => s.map(AsRef::as_ref),
                    _ => None,
                };
            }
        });
        found
    }
}

impl<S> EventData<S> {
    /// Calls `f` on every string the event holds, in the order `try_map_strings` visits them.
    pub fn for_each_string(&self, mut f: impl FnMut(&S)) {
        let _ = self.try_map_strings(&mut |s| {
            f(s);
            Ok::<(), std::convert::Infallible>(())
        });
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
