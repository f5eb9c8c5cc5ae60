//! What an event means for the story, in the few shapes the derivations use.
//!
//! This is the one place of the story that knows the event kinds: [`fact`] turns an
//! event's fields into a [`Fact`], and every derivation (attribution, chapters, noise, the
//! state at a time) reads facts, never `EventData`. A new kind that matters to the story
//! (the new mount API's `move_mount`, say) is one more arm here.

use std::net::IpAddr;

use crate::event::{Event, EventData, Kind, Namespaces, SockAddr};

/// `MS_*` flags the mount table follows.
pub mod ms {
    pub const RDONLY: u64 = 1;
    pub const NOSUID: u64 = 2;
    pub const NODEV: u64 = 4;
    pub const NOEXEC: u64 = 8;
    pub const REMOUNT: u64 = 32;
    pub const NOATIME: u64 = 1024;
    pub const NODIRATIME: u64 = 2048;
    pub const BIND: u64 = 4096;
    pub const MOVE: u64 = 8192;
    pub const REC: u64 = 16384;
    pub const UNBINDABLE: u64 = 1 << 17;
    pub const PRIVATE: u64 = 1 << 18;
    pub const SLAVE: u64 = 1 << 19;
    pub const SHARED: u64 = 1 << 20;
    pub const RELATIME: u64 = 1 << 21;
    pub const STRICTATIME: u64 = 1 << 24;
    /// Flags that change only how mounts propagate.
    pub const PROPAGATION: u64 = UNBINDABLE | PRIVATE | SLAVE | SHARED;
}

/// `O_PATH`: a descriptor that names a place (runc mounts through them).
pub const O_PATH: u64 = 0o10_000_000;
/// `O_CREAT`.
pub const O_CREAT: u64 = 0o100;

/// A socket address, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr<'a> {
    Inet(IpAddr, u16),
    Unix(&'a str),
    Other,
}

/// The arguments of `mount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountFact<'a> {
    pub source: &'a str,
    pub target: &'a str,
    pub fstype: &'a str,
    pub flags: u64,
    /// The start of the options string.
    pub data: &'a str,
}

/// What an event is, for the story.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact<'a> {
    /// A process replaced its program.
    Exec {
        filename: &'a str,
        argv: Vec<&'a str>,
    },
    /// A new process (not a thread).
    Fork {
        parent_tgid: u32,
        child_tgid: u32,
    },
    /// A task ended (the process ends with its thread-group leader, `pid == tgid`).
    Exit {
        code: i32,
    },
    /// `unshare`, or `clone`/`clone3` with `CLONE_NEW*` flags (`child_tgid` is the new
    /// process, which gets the namespaces).
    NewNamespaces {
        flags: u64,
        child_tgid: Option<u32>,
    },
    Setns {
        fd: i32,
        nstype: i32,
    },
    Mount(MountFact<'a>),
    Umount {
        target: &'a str,
        flags: u32,
    },
    PivotRoot {
        new_root: &'a str,
        put_old: &'a str,
    },
    Chroot {
        path: &'a str,
    },
    /// `chdir`, or `fchdir` with the path its descriptor was opened with.
    Chdir {
        path: Option<&'a str>,
    },
    /// The new mount API: `open_tree` (a mount as an fd, or a copy of it to bind), the
    /// filesystem context of `fsopen` and its `fsconfig` options, `fsmount` (a detached
    /// mount fd) and `move_mount` (attaching or moving a mount).
    OpenTree {
        dirfd: i32,
        path: &'a str,
        flags: u32,
    },
    Fsopen {
        fstype: &'a str,
    },
    Fsconfig {
        fd: i32,
        cmd: u32,
        key: &'a str,
        value: &'a str,
    },
    Fsmount {
        fs_fd: i32,
        attr_flags: u32,
    },
    MoveMount {
        from_dirfd: i32,
        from_path: &'a str,
        to_dirfd: i32,
        to_path: &'a str,
        flags: u32,
    },
    Open {
        path: &'a str,
        flags: u64,
    },
    Mkdir {
        path: &'a str,
    },
    FileIo {
        path: &'a str,
        bytes_written: u64,
    },
    /// A task moved into a cgroup (`attach_pid`), or a cgroup was made.
    Cgroup {
        path: &'a str,
        cgroup_id: u64,
        v2: bool,
        attach_pid: Option<u32>,
    },
    Connect {
        addr: Addr<'a>,
    },
    Accept,
    Packet {
        saddr: IpAddr,
        sport: u16,
        daddr: IpAddr,
        dport: u16,
        payload: &'a [u8],
    },
    Docker {
        event_type: &'a str,
        action: &'a str,
        actor_id: &'a str,
        attributes: Vec<(&'a str, &'a str)>,
    },
    Sample {
        container_id: &'a str,
    },
    /// A CRI call the kubelet made (`method`), or a change the runtime reported (`state`).
    Cri {
        method: &'a str,
        state: &'a str,
        container_id: &'a str,
        pod_id: &'a str,
        duration_nanos: u64,
    },
    Prctl {
        option: i32,
    },
    Seccomp {
        operation: u32,
    },
    Capset,
    /// Nothing the story reads.
    Other,
}

/// One event as the story reads it: who, when, the result, and the fact.
#[derive(Clone, Debug, PartialEq)]
pub struct Ev<'a> {
    pub ts_nanos: u64,
    pub pid: u32,
    pub tgid: u32,
    pub comm: &'a str,
    pub cgroup_id: u64,
    pub ns: Namespaces,
    pub result: Option<i64>,
    pub kind: Kind,
    pub fact: Fact<'a>,
}

impl<'a> Ev<'a> {
    /// The story's view of an event.
    pub fn of<S: AsRef<str>>(e: &'a Event<S>) -> Self {
        Self {
            ts_nanos: e.header.ts_nanos,
            pid: e.header.pid,
            tgid: e.header.tgid,
            comm: e.header.comm.as_ref(),
            cgroup_id: e.header.cgroup_id,
            ns: e.header.ns,
            result: e.result,
            kind: e.kind(),
            fact: fact(&e.data, e.result, &|s: &'a S| s.as_ref()),
        }
    }

    pub fn ok(&self) -> bool {
        self.result.is_none_or(|r| r >= 0)
    }

    pub fn failed(&self) -> bool {
        self.result.is_some_and(|r| r < 0)
    }

    /// The errno of a failed call (2 for ENOENT).
    pub fn errno(&self) -> Option<i64> {
        self.result.filter(|r| *r < 0).map(|r| -r)
    }
}

/// The fact an event's fields make, with strings read through `text` (the strings of
/// `EventData<S>` may be indexes into a table).
pub fn fact<'a, S>(
    data: &'a EventData<S>,
    result: Option<i64>,
    text: &impl Fn(&'a S) -> &'a str,
) -> Fact<'a> {
    use EventData as D;
    let child = || {
        result
            .filter(|r| *r > 0)
            .and_then(|r| u32::try_from(r).ok())
    };
    let new_namespaces = |flags: u64, child_tgid: Option<u32>| {
        if flags & crate::names::CLONE_NEW_MASK != 0 {
            Fact::NewNamespaces { flags, child_tgid }
        } else {
            Fact::Other
        }
    };
    if let Some(f) = mount_fact(data, text) {
        return f;
    }
    match data {
        D::Exec(a) => Fact::Exec {
            filename: text(&a.filename),
            argv: a.argv.iter().map(text).collect(),
        },
        D::Fork(f) if f.parent_tgid != f.child_tgid => Fact::Fork {
            parent_tgid: f.parent_tgid,
            child_tgid: f.child_tgid,
        },
        D::Exit(x) => Fact::Exit { code: x.code },
        D::Unshare(a) => Fact::NewNamespaces {
            flags: a.flags,
            child_tgid: None,
        },
        D::Clone(a) => new_namespaces(a.flags, child()),
        D::Clone3(a) => new_namespaces(a.flags, child()),
        D::Setns(a) => Fact::Setns {
            fd: a.fd,
            nstype: a.nstype,
        },
        D::Openat(a) | D::Openat2(a) => Fact::Open {
            path: text(&a.path),
            flags: a.flags,
        },
        D::Mkdir(a) | D::Mkdirat(a) => Fact::Mkdir {
            path: text(&a.path),
        },
        D::FileIo(f) => Fact::FileIo {
            path: f.path.as_ref().map_or("", text),
            bytes_written: f.bytes_written,
        },
        D::CgroupAttach(c) => Fact::Cgroup {
            path: text(&c.path),
            cgroup_id: c.target_cgroup_id,
            v2: c.hierarchy_id == 0,
            attach_pid: Some(c.dst_pid),
        },
        D::CgroupMkdir(c) => Fact::Cgroup {
            path: text(&c.path),
            cgroup_id: c.target_cgroup_id,
            v2: c.hierarchy_id == 0,
            attach_pid: None,
        },
        D::Connect(a) => Fact::Connect {
            addr: match &a.addr {
                SockAddr::Inet { ip, port } => Addr::Inet(*ip, *port),
                SockAddr::Unix { path } => Addr::Unix(text(path)),
                SockAddr::None | SockAddr::Other { .. } => Addr::Other,
            },
        },
        D::Accept(_) | D::Accept4(_) => Fact::Accept,
        D::Packet(p) => Fact::Packet {
            saddr: p.saddr,
            sport: p.sport,
            daddr: p.daddr,
            dport: p.dport,
            payload: &p.payload,
        },
        D::Docker(d) => Fact::Docker {
            event_type: text(&d.event_type),
            action: text(&d.action),
            actor_id: text(&d.actor_id),
            attributes: d
                .attributes
                .iter()
                .map(|(k, v)| (text(k), text(v)))
                .collect(),
        },
        D::ResourceSample(s) => Fact::Sample {
            container_id: text(&s.container_id),
        },
        D::Cri(c) => Fact::Cri {
            method: text(&c.method),
            state: text(&c.state),
            container_id: text(&c.container_id),
            pod_id: text(&c.pod_id),
            duration_nanos: c.duration_nanos,
        },
        D::Prctl(a) => Fact::Prctl { option: a.option },
        D::Seccomp(a) => Fact::Seccomp {
            operation: a.operation,
        },
        D::Capset(_) => Fact::Capset,
        D::Mount(_)
        | D::Umount(_)
        | D::PivotRoot(_)
        | D::Chroot(_)
        | D::Chdir(_)
        | D::Fchdir(_)
        | D::OpenTree(_)
        | D::Fsopen(_)
        | D::Fsconfig(_)
        | D::Fsmount(_)
        | D::MoveMount(_)
        | D::Fork(_)
        | D::Socket(_)
        | D::Bind(_)
        | D::Listen(_)
        | D::TcpState(_)
        | D::Custom(_)
        | D::Lost(_)
        | D::Fspick(_)
        | D::MountSetattr(_)
        | D::Execveat(_)
        | D::Umask(_)
        | D::Sethostname(_)
        | D::Setuid(_)
        | D::Setgid(_)
        | D::Setgroups(_) => Fact::Other,
    }
}

/// The facts of the mount calls (the old API and the new one), and of the calls that
/// change the root or the working directory.
fn mount_fact<'a, S>(data: &'a EventData<S>, text: &impl Fn(&'a S) -> &'a str) -> Option<Fact<'a>> {
    use EventData as D;
    Some(match data {
        D::Mount(m) => Fact::Mount(MountFact {
            source: text(&m.source),
            target: text(&m.target),
            fstype: text(&m.fstype),
            flags: m.flags,
            data: text(&m.data),
        }),
        D::Umount(a) => Fact::Umount {
            target: text(&a.target),
            flags: a.flags,
        },
        D::PivotRoot(a) => Fact::PivotRoot {
            new_root: text(&a.new_root),
            put_old: text(&a.put_old),
        },
        D::Chroot(a) => Fact::Chroot {
            path: text(&a.path),
        },
        D::Chdir(a) => Fact::Chdir {
            path: Some(text(&a.path)),
        },
        D::Fchdir(a) => Fact::Chdir {
            path: a.path.as_ref().map(text),
        },
        D::OpenTree(a) => Fact::OpenTree {
            dirfd: a.dirfd,
            path: text(&a.path),
            flags: a.flags,
        },
        D::Fsopen(a) => Fact::Fsopen {
            fstype: text(&a.fstype),
        },
        D::Fsconfig(a) => Fact::Fsconfig {
            fd: a.fd,
            cmd: a.cmd,
            key: text(&a.key),
            value: text(&a.value),
        },
        D::Fsmount(a) => Fact::Fsmount {
            fs_fd: a.fs_fd,
            attr_flags: a.attr_flags,
        },
        D::MoveMount(a) => Fact::MoveMount {
            from_dirfd: a.from_dirfd,
            from_path: text(&a.from_path),
            to_dirfd: a.to_dirfd,
            to_path: text(&a.to_path),
            flags: a.flags,
        },
        _ => return None,
    })
}

/// The kinds whose facts change a process's namespaces, mounts or lineage (what the state
/// at a time replays).
pub fn changes_state(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Exec
            | Kind::Fork
            | Kind::Exit
            | Kind::Unshare
            | Kind::Clone
            | Kind::Clone3
            | Kind::Setns
            | Kind::Mount
            | Kind::Umount
            | Kind::PivotRoot
            | Kind::Chroot
            | Kind::Chdir
            | Kind::Fchdir
            | Kind::OpenTree
            | Kind::Fsopen
            | Kind::Fsconfig
            | Kind::Fsmount
            | Kind::MoveMount
            | Kind::CgroupAttach
            | Kind::CgroupMkdir
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CloneArgs, EventHeader, ForkInfo, MountArgs, PathArgs, Str, UnshareArgs};

    fn ev(result: Option<i64>, data: EventData) -> Event {
        Event {
            header: EventHeader {
                ts_nanos: 5,
                pid: 7,
                tgid: 7,
                comm: Str::from("runc:[1:CHILD]"),
                cgroup_id: 9,
                ns: Namespaces::default(),
            },
            result,
            data,
        }
    }

    #[test]
    fn facts_of_the_kinds_the_story_reads() {
        let e = ev(
            Some(0),
            EventData::Unshare(UnshareArgs { flags: 0x6c02_0000 }),
        );
        let f = Ev::of(&e);
        assert_eq!(f.comm, "runc:[1:CHILD]");
        assert_eq!(
            f.fact,
            Fact::NewNamespaces {
                flags: 0x6c02_0000,
                child_tgid: None
            }
        );
        // A clone without CLONE_NEW* is no namespace fact; with one, the child gets them.
        let plain = ev(Some(12), EventData::Clone(CloneArgs { flags: 0x11 }));
        assert_eq!(Ev::of(&plain).fact, Fact::Other);
        let new_pid = ev(Some(12), EventData::Clone(CloneArgs { flags: 0x2000_0000 }));
        assert_eq!(
            Ev::of(&new_pid).fact,
            Fact::NewNamespaces {
                flags: 0x2000_0000,
                child_tgid: Some(12)
            }
        );
        let m = ev(
            Some(0),
            EventData::Mount(Box::new(MountArgs {
                source: "proc".into(),
                target: "/proc/self/fd/6".into(),
                fstype: "proc".into(),
                flags: 14,
                data: "".into(),
            })),
        );
        let Fact::Mount(mf) = Ev::of(&m).fact else {
            panic!("a mount")
        };
        assert_eq!(
            (mf.fstype, mf.target, mf.flags),
            ("proc", "/proc/self/fd/6", 14)
        );
        let thread = ev(
            None,
            EventData::Fork(ForkInfo {
                parent_pid: 7,
                parent_tgid: 7,
                child_pid: 8,
                child_tgid: 7,
            }),
        );
        assert_eq!(
            Ev::of(&thread).fact,
            Fact::Other,
            "threads are no processes"
        );
        let failed = ev(Some(-2), EventData::Chroot(PathArgs { path: "/x".into() }));
        assert_eq!(Ev::of(&failed).errno(), Some(2));
        assert!(!Ev::of(&failed).ok());
    }
}
