//! Mount calls as changes of a mount table: `mount`, `umount2` and `pivot_root`, and the
//! new mount API (`fsopen`, `fsconfig`, `fsmount`, `open_tree`, `move_mount`), whose
//! mounts are prepared on file descriptors and attached by `move_mount`.

use rustc_hash::FxHashMap;

use super::fact::{Ev, Fact, ms};
use super::mounts::MountOp;

const OPEN_TREE_CLONE: u32 = 1;
const AT_RECURSIVE: u32 = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
/// `MOUNT_ATTR_*` bits and the `MS_*` flags they are.
const MOUNT_ATTRS: [(u32, u64); 6] = [
    (0x1, ms::RDONLY),
    (0x2, ms::NOSUID),
    (0x4, ms::NODEV),
    (0x8, ms::NOEXEC),
    (0x10, ms::NOATIME),
    (0x20, ms::STRICTATIME),
];

/// What a descriptor of the new mount API stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MountFd {
    /// A filesystem context being configured (`fsopen`, `fsconfig`).
    Context {
        fstype: String,
        source: String,
        data: String,
    },
    /// A detached new mount (`fsmount`).
    Detached {
        fstype: String,
        source: String,
        data: String,
        flags: u64,
    },
    /// A detached copy of a mount, to bind (`open_tree` with `OPEN_TREE_CLONE`).
    Copy { path: String, recursive: bool },
    /// An existing mount (`open_tree` without `OPEN_TREE_CLONE`): `move_mount` moves it.
    Existing { path: String },
}

/// Descriptors of the new mount API, by process and number.
#[derive(Clone, Debug, Default)]
pub struct MountFds {
    fds: FxHashMap<(u32, i32), MountFd>,
}

const MAX_FDS: usize = 1 << 12;

impl MountFds {
    /// The change a successful mount call makes; `resolve(dirfd, path)` makes a path
    /// absolute as the caller sees it (`AT_FDCWD` is -100, `/proc/self/fd/N` names N).
    pub fn op(&mut self, e: &Ev<'_>, resolve: &dyn Fn(i32, &str) -> String) -> Option<MountOp> {
        if !e.ok() {
            return None;
        }
        let fd = || e.result.and_then(|r| i32::try_from(r).ok());
        match &e.fact {
            Fact::Mount(m) => Some(MountOp::Mount {
                source: if m.flags & (ms::BIND | ms::MOVE) != 0 {
                    resolve(-100, m.source)
                } else {
                    m.source.to_owned()
                },
                target: resolve(-100, m.target),
                fstype: m.fstype.to_owned(),
                flags: m.flags,
                data: m.data.to_owned(),
            }),
            Fact::Umount { target, .. } => Some(MountOp::Umount {
                target: resolve(-100, target),
            }),
            Fact::PivotRoot { new_root, put_old } => Some(MountOp::PivotRoot {
                new_root: resolve(-100, new_root),
                put_old: resolve(-100, put_old),
            }),
            Fact::Fsopen { fstype } => {
                self.set(
                    e.tgid,
                    fd()?,
                    MountFd::Context {
                        fstype: (*fstype).to_owned(),
                        source: String::new(),
                        data: String::new(),
                    },
                );
                None
            }
            Fact::Fsconfig {
                fd,
                cmd,
                key,
                value,
            } => {
                if let Some(MountFd::Context { source, data, .. }) =
                    self.fds.get_mut(&(e.tgid, *fd))
                {
                    let mut add = |opt: String| {
                        if data.len() < 4096 {
                            if !data.is_empty() {
                                data.push(',');
                            }
                            data.push_str(&opt);
                        }
                    };
                    match *cmd {
                        FSCONFIG_SET_STRING if *key == "source" => *source = (*value).to_owned(),
                        FSCONFIG_SET_STRING => add(format!("{key}={value}")),
                        FSCONFIG_SET_FLAG => add((*key).to_owned()),
                        _ => {}
                    }
                }
                None
            }
            Fact::Fsmount { fs_fd, attr_flags } => {
                if let Some(MountFd::Context {
                    fstype,
                    source,
                    data,
                }) = self.fds.get(&(e.tgid, *fs_fd)).cloned()
                {
                    let flags = MOUNT_ATTRS
                        .iter()
                        .filter(|(a, _)| attr_flags & a != 0)
                        .fold(0, |f, (_, m)| f | m);
                    self.set(
                        e.tgid,
                        fd()?,
                        MountFd::Detached {
                            fstype,
                            source,
                            data,
                            flags,
                        },
                    );
                }
                None
            }
            Fact::OpenTree { dirfd, path, flags } => {
                let path = resolve(*dirfd, path);
                let m = if flags & OPEN_TREE_CLONE != 0 {
                    MountFd::Copy {
                        path,
                        recursive: flags & AT_RECURSIVE != 0,
                    }
                } else {
                    MountFd::Existing { path }
                };
                self.set(e.tgid, fd()?, m);
                None
            }
            Fact::MoveMount {
                from_dirfd,
                from_path,
                to_dirfd,
                to_path,
                flags,
            } => self.move_mount(
                e.tgid,
                (*from_dirfd, from_path),
                (*to_dirfd, to_path),
                *flags,
                resolve,
            ),
            Fact::Exit { .. } if e.pid == e.tgid => {
                self.fds.retain(|(t, _), _| *t != e.tgid);
                None
            }
            _ => None,
        }
    }

    /// `move_mount`: attaches what a descriptor holds, or moves a mount.
    fn move_mount(
        &mut self,
        tgid: u32,
        (from_dirfd, from_path): (i32, &str),
        (to_dirfd, to_path): (i32, &str),
        flags: u32,
        resolve: &dyn Fn(i32, &str) -> String,
    ) -> Option<MountOp> {
        let target = if flags & MOVE_MOUNT_T_EMPTY_PATH != 0 && to_path.is_empty() {
            resolve(to_dirfd, ".")
        } else {
            resolve(to_dirfd, to_path)
        };
        let from = if flags & MOVE_MOUNT_F_EMPTY_PATH != 0 || from_path.is_empty() {
            self.fds.remove(&(tgid, from_dirfd))
        } else {
            Some(MountFd::Existing {
                path: resolve(from_dirfd, from_path),
            })
        };
        Some(match from? {
            MountFd::Detached {
                fstype,
                source,
                data,
                flags,
            } => MountOp::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            },
            MountFd::Copy { path, recursive } => MountOp::Mount {
                source: path,
                target,
                fstype: String::new(),
                flags: ms::BIND | if recursive { ms::REC } else { 0 },
                data: String::new(),
            },
            MountFd::Existing { path } => MountOp::Mount {
                source: path,
                target,
                fstype: String::new(),
                flags: ms::MOVE,
                data: String::new(),
            },
            MountFd::Context { .. } => return None,
        })
    }

    fn set(&mut self, tgid: u32, fd: i32, m: MountFd) {
        if self.fds.len() >= MAX_FDS {
            self.fds.clear();
        }
        self.fds.insert((tgid, fd), m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use crate::event::Namespaces;
    use crate::story::mounts::MountTable;

    fn ev(kind: Kind, result: i64, fact: Fact<'static>) -> Ev<'static> {
        Ev {
            ts_nanos: 1,
            pid: 9,
            tgid: 9,
            comm: "runc:[2:INIT]",
            cgroup_id: 1,
            ns: Namespaces::default(),
            result: Some(result),
            kind,
            fact,
        }
    }

    fn resolve(dirfd: i32, p: &str) -> String {
        match (dirfd, p.starts_with('/')) {
            (_, true) => p.to_owned(),
            (-100, false) => format!("/rootfs/{p}"),
            (fd, false) => format!("/fd{fd}/{p}"),
        }
    }

    #[test]
    fn the_new_mount_api_mounts_like_mount() {
        let mut fds = MountFds::default();
        let mut t = MountTable::unknown_root();
        let mut apply = |fds: &mut MountFds, e: Ev<'static>| {
            if let Some(op) = fds.op(&e, &resolve) {
                t.apply(&op);
            }
        };
        apply(
            &mut fds,
            ev(Kind::Fsopen, 5, Fact::Fsopen { fstype: "proc" }),
        );
        apply(
            &mut fds,
            ev(
                Kind::Fsconfig,
                0,
                Fact::Fsconfig {
                    fd: 5,
                    cmd: 1,
                    key: "source",
                    value: "proc",
                },
            ),
        );
        apply(
            &mut fds,
            ev(
                Kind::Fsconfig,
                0,
                Fact::Fsconfig {
                    fd: 5,
                    cmd: 6,
                    key: "",
                    value: "",
                },
            ),
        );
        apply(
            &mut fds,
            ev(
                Kind::Fsmount,
                6,
                Fact::Fsmount {
                    fs_fd: 5,
                    attr_flags: 0x2 | 0x4 | 0x8,
                },
            ),
        );
        apply(
            &mut fds,
            ev(
                Kind::MoveMount,
                0,
                Fact::MoveMount {
                    from_dirfd: 6,
                    from_path: "",
                    to_dirfd: -100,
                    to_path: "/proc",
                    flags: 0x4,
                },
            ),
        );
        // A bind with open_tree(OPEN_TREE_CLONE) and move_mount.
        apply(
            &mut fds,
            ev(
                Kind::OpenTree,
                7,
                Fact::OpenTree {
                    dirfd: -100,
                    path: "/proc",
                    flags: OPEN_TREE_CLONE,
                },
            ),
        );
        apply(
            &mut fds,
            ev(
                Kind::MoveMount,
                0,
                Fact::MoveMount {
                    from_dirfd: 7,
                    from_path: "",
                    to_dirfd: 3,
                    to_path: "x",
                    flags: 0x4,
                },
            ),
        );
        let rows: Vec<(&str, &str, &str, &str)> = t
            .entries()
            .iter()
            .map(|e| {
                (
                    e.mount_point.as_str(),
                    e.fstype.as_str(),
                    e.root.as_str(),
                    e.options.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("/", "", "/", ""),
                ("/proc", "proc", "/", "rw,nosuid,nodev,noexec,relatime"),
                ("/fd3/x", "proc", "/", "rw,nosuid,nodev,noexec,relatime"),
            ]
        );
        // A failed call changes nothing; a moved existing mount moves.
        assert_eq!(
            fds.op(
                &ev(Kind::Fsopen, -1, Fact::Fsopen { fstype: "x" }),
                &resolve
            ),
            None
        );
        let op = fds.op(
            &ev(
                Kind::MoveMount,
                0,
                Fact::MoveMount {
                    from_dirfd: -100,
                    from_path: "/a",
                    to_dirfd: -100,
                    to_path: "/b",
                    flags: 0,
                },
            ),
            &resolve,
        );
        assert!(matches!(op, Some(MountOp::Mount { flags, .. }) if flags == ms::MOVE));
    }
}
