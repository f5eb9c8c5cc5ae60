//! Processes as the story follows them: their role, command line, names over time,
//! namespaces, open descriptors that matter (namespace files, `O_PATH` mount targets) and
//! the container they work for.

use rustc_hash::FxHashMap;

use crate::entities::Component;
use crate::event::Namespaces;

/// Namespace types, in the order of a [`NsSet`].
pub const NS_TYPES: [&str; 8] = ["pid", "mnt", "net", "uts", "ipc", "cgroup", "user", "time"];

/// `CLONE_NEW*` bit of each namespace type, in [`NS_TYPES`] order.
pub const NS_BITS: [u64; 8] = [
    0x2000_0000,
    0x0002_0000,
    0x4000_0000,
    0x0400_0000,
    0x0800_0000,
    0x0200_0000,
    0x1000_0000,
    0x80,
];

/// The inodes of the initial namespaces on kernels that fix them (include/linux/proc_ns.h),
/// in [`NS_TYPES`] order; mnt and net are fixed since 6.x.
pub const INIT_INODES: [u64; 8] = [
    0xEFFF_FFFC,
    0xEFFF_FFF8,
    0xEFFF_FFF9,
    0xEFFF_FFFE,
    0xEFFF_FFFF,
    0xEFFF_FFFB,
    0xEFFF_FFFD,
    0xEFFF_FFFA,
];

/// The index of a namespace type name (`net` → 2).
pub fn ns_index(name: &str) -> Option<usize> {
    NS_TYPES.iter().position(|t| *t == name)
}

/// The namespace type a `setns` nstype or a single `CLONE_NEW*` bit names.
pub fn ns_index_of_bit(bit: u64) -> Option<usize> {
    NS_BITS.iter().position(|b| *b == bit)
}

/// Inodes of a process's namespaces, in [`NS_TYPES`] order; 0 is unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NsSet(pub [u64; 8]);

impl NsSet {
    /// What an event header says (all eight in format 2; pid, mnt and net in format 1,
    /// the others 0).
    pub fn of_header(ns: &Namespaces) -> Self {
        Self(
            [
                ns.pid_ns,
                ns.mnt_ns,
                ns.net_ns,
                ns.uts_ns,
                ns.ipc_ns,
                ns.cgroup_ns,
                ns.user_ns,
                ns.time_ns,
            ]
            .map(u64::from),
        )
    }

    /// Takes the known inodes of `other`.
    pub fn update(&mut self, other: &NsSet) -> bool {
        let mut changed = false;
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            if theirs != 0 && *mine != theirs {
                *mine = theirs;
                changed = true;
            }
        }
        changed
    }

    pub fn get(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// One process (thread group) followed through the events.
#[derive(Clone, Debug)]
pub struct Proc {
    pub tgid: u32,
    pub ppid: u32,
    pub role: Component,
    /// The command line of its last exec, and when that was.
    pub argv: Vec<String>,
    pub exec_ts: u64,
    /// Its names over time (`exe`, `runc`, `runc:[0:PARENT]`), with when each began.
    pub names: Vec<(u64, String)>,
    pub start_ts: u64,
    pub exit: Option<(u64, i32)>,
    pub ns: NsSet,
    /// The pid namespace its children get (after `unshare(CLONE_NEWPID)`).
    pub pid_for_children: u64,
    /// The container it works for.
    pub container: Option<usize>,
    /// Its working directory, when followed (`chdir` in format 2).
    pub cwd: Option<String>,
    /// Descriptors whose path matters: namespace files and `O_PATH` opens.
    pub fds: FxHashMap<i32, String>,
}

impl Proc {
    pub fn name_at(&self, ts: u64) -> &str {
        self.names
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts)
            .or(self.names.first())
            .map_or("", |(_, n)| n.as_str())
    }
}

impl Default for Proc {
    fn default() -> Self {
        Self {
            tgid: 0,
            ppid: 0,
            role: Component::Other,
            argv: Vec::new(),
            exec_ts: 0,
            names: Vec::new(),
            start_ts: 0,
            exit: None,
            ns: NsSet::default(),
            pid_for_children: 0,
            container: None,
            cwd: None,
            fds: FxHashMap::default(),
        }
    }
}

/// Every process seen, by tgid (the latest process of a reused pid).
#[derive(Clone, Debug, Default)]
pub struct Procs {
    pub by_tgid: FxHashMap<u32, Proc>,
    /// Ended processes whose pid was reused, kept for the lineage.
    pub ended: Vec<Proc>,
    fd_entries: usize,
}

/// Descriptors followed at most (all processes together).
const MAX_FDS: usize = 1 << 16;
/// Names kept per process at most.
const MAX_NAMES: usize = 16;

impl Procs {
    pub fn get(&self, tgid: u32) -> Option<&Proc> {
        self.by_tgid.get(&tgid)
    }

    /// The process, created when first seen.
    pub fn entry(&mut self, tgid: u32, ts: u64) -> &mut Proc {
        self.by_tgid.entry(tgid).or_insert_with(|| Proc {
            tgid,
            start_ts: ts,
            ..Proc::default()
        })
    }

    /// Notes the name a process had at `ts`.
    pub fn saw_name(&mut self, tgid: u32, ts: u64, comm: &str) {
        let p = self.entry(tgid, ts);
        if !p.names.iter().any(|(_, n)| n == comm) && p.names.len() < MAX_NAMES && !comm.is_empty()
        {
            p.names.push((ts, comm.to_owned()));
        }
    }

    /// A fork: the child starts as a copy of its parent (role, container, namespaces).
    pub fn fork(&mut self, parent: u32, child: u32, ts: u64) {
        let p = self.by_tgid.get(&parent).cloned().unwrap_or_default();
        if let Some(old) = self.by_tgid.remove(&child) {
            self.fd_entries -= old.fds.len();
            if self.ended.len() < 1 << 16 {
                self.ended.push(old);
            }
        }
        let mut ns = p.ns;
        if p.pid_for_children != 0 {
            ns.0[0] = p.pid_for_children;
        }
        self.by_tgid.insert(
            child,
            Proc {
                tgid: child,
                ppid: parent,
                // The children of a container's first process are its workload.
                role: if p.role == Component::ContainerInit {
                    Component::Workload
                } else {
                    p.role
                },
                argv: p.argv,
                exec_ts: ts,
                names: p
                    .names
                    .last()
                    .map(|(_, n)| vec![(ts, n.clone())])
                    .unwrap_or_default(),
                start_ts: ts,
                exit: None,
                ns,
                pid_for_children: 0,
                container: p.container,
                cwd: p.cwd,
                fds: FxHashMap::default(),
            },
        );
    }

    pub fn exit(&mut self, tgid: u32, ts: u64, code: i32) {
        let p = self.entry(tgid, ts);
        p.exit = Some((ts, code));
        let n = p.fds.len();
        p.fds.clear();
        self.fd_entries -= n;
    }

    pub fn set_fd(&mut self, tgid: u32, fd: i32, path: &str) {
        if self.fd_entries >= MAX_FDS {
            for p in self.by_tgid.values_mut() {
                p.fds.clear();
            }
            self.fd_entries = 0;
        }
        let p = self.entry(tgid, 0);
        if p.fds.insert(fd, path.to_owned()).is_none() {
            self.fd_entries += 1;
        }
    }

    /// The path a descriptor of `tgid` was opened from.
    pub fn fd_path(&self, tgid: u32, fd: i32) -> Option<&str> {
        self.by_tgid.get(&tgid)?.fds.get(&fd).map(String::as_str)
    }

    /// `/proc/self/fd/6` through the descriptor it names; other paths as they are.
    pub fn through_fd<'a>(&'a self, tgid: u32, path: &'a str) -> &'a str {
        let fd = path
            .strip_prefix("/proc/self/fd/")
            .or_else(|| path.strip_prefix("/proc/thread-self/fd/"))
            .and_then(|n| n.parse::<i32>().ok());
        fd.and_then(|fd| self.fd_path(tgid, fd)).unwrap_or(path)
    }

    /// Every process, ended ones included.
    pub fn all(&self) -> impl Iterator<Item = &Proc> {
        self.ended.iter().chain(self.by_tgid.values())
    }
}

/// The process and namespace type a namespace file names: `/proc/31892/ns/net` →
/// (31892, net); `/proc/self/ns/net` → (`self_tgid`, net);
/// `/proc/31288/task/31305/ns/net` → (31288, net).
pub fn ns_file(path: &str, self_tgid: u32) -> Option<(u32, usize)> {
    let rest = path.strip_prefix("/proc/")?;
    let (who, rest) = rest.split_once('/')?;
    let tgid = match who {
        "self" | "thread-self" => self_tgid,
        n => n.parse().ok()?,
    };
    let ty = match rest.strip_prefix("task/") {
        Some(t) => t.split_once('/')?.1.strip_prefix("ns/")?,
        None => rest.strip_prefix("ns/")?,
    };
    Some((tgid, ns_index(ty.trim_end_matches("_for_children"))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_files_and_bits() {
        assert_eq!(ns_file("/proc/31892/ns/net", 1), Some((31892, 2)));
        assert_eq!(ns_file("/proc/self/ns/mnt", 7), Some((7, 1)));
        assert_eq!(
            ns_file("/proc/31288/task/31305/ns/net", 1),
            Some((31288, 2))
        );
        assert_eq!(ns_file("/proc/1/ns/pid_for_children", 1), Some((1, 0)));
        assert_eq!(ns_file("/proc/1/status", 1), None);
        assert_eq!(ns_index_of_bit(0x4000_0000), Some(2));
        assert_eq!(INIT_INODES[0], 4_026_531_836);
        assert_eq!(INIT_INODES[2], 4_026_531_833);
    }

    #[test]
    fn forks_copy_and_exits_forget_descriptors() {
        let mut p = Procs::default();
        p.entry(10, 0).container = Some(3);
        p.saw_name(10, 0, "runc");
        p.entry(10, 0).pid_for_children = 99;
        p.set_fd(10, 6, "/proc/5/ns/net");
        assert_eq!(p.through_fd(10, "/proc/self/fd/6"), "/proc/5/ns/net");
        assert_eq!(p.through_fd(10, "/proc/self/fd/7"), "/proc/self/fd/7");
        p.fork(10, 11, 5);
        let c = p.get(11).unwrap();
        assert_eq!(
            (c.container, c.ns.get(0), c.ppid, c.name_at(9)),
            (Some(3), 99, 10, "runc")
        );
        p.exit(10, 9, 0);
        assert_eq!(p.fd_path(10, 6), None);
        assert_eq!(p.fd_entries, 0);
    }
}
