//! A mount table rebuilt from mount, umount and pivot_root calls and their results, as
//! `/proc/PID/mountinfo` would show it to a process of that mount namespace.
//!
//! Mounts form a tree: each mount sits on a place of its parent, and a mount on the same
//! path as another covers it. `pivot_root` makes one mount the root and hangs the old root
//! tree under `put_old`; a detached `umount` takes a mount and everything on it away. A
//! bind mount shows the filesystem of the mount its source lies in (`fstype`, `source`),
//! with the source's place inside it as `root`, as mountinfo does.

use serde::{Deserialize, Serialize};

use super::fact::ms;

/// One mount of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    /// Ours, in the order mounts were made (not the kernel's mount id).
    pub mount_id: u32,
    pub parent_id: u32,
    /// Where it is mounted, in the namespace's root.
    pub mount_point: String,
    /// The directory of the filesystem that is mounted (`/` unless a bind mount).
    pub root: String,
    pub source: String,
    pub fstype: String,
    /// Per-mount options as mountinfo's sixth field writes them (`rw,nosuid,relatime`).
    pub options: String,
    /// Filesystem options as the call passed them (the kernel writes its own form).
    pub super_options: String,
    /// For a bind mount: the path that was bound, as the caller named it.
    pub bind_of: Option<String>,
}

/// A mount call with its target made absolute (and `/proc/self/fd/N` replaced by the path
/// the descriptor names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountOp {
    Mount {
        source: String,
        target: String,
        fstype: String,
        flags: u64,
        data: String,
    },
    Umount {
        target: String,
    },
    PivotRoot {
        new_root: String,
        put_old: String,
    },
}

/// A mount table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountTable {
    entries: Vec<MountEntry>,
    next_id: u32,
}

/// Mountinfo's per-mount options from `MS_*` flags (`relatime` unless told otherwise).
pub fn options_from_flags(flags: u64) -> String {
    let mut s = flag_options(flags);
    s.push_str(atime_options(flags));
    s
}

/// `ro`/`rw` and `nosuid`, `nodev`, `noexec`.
fn flag_options(flags: u64) -> String {
    let mut s = String::from(if flags & ms::RDONLY != 0 { "ro" } else { "rw" });
    for (bit, name) in [
        (ms::NOSUID, ",nosuid"),
        (ms::NODEV, ",nodev"),
        (ms::NOEXEC, ",noexec"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    s
}

fn atime_options(flags: u64) -> &'static str {
    if flags & ms::STRICTATIME != 0 {
        ""
    } else if flags & ms::NOATIME != 0 {
        ",noatime"
    } else if flags & ms::NODIRATIME != 0 {
        ",nodiratime,relatime"
    } else {
        ",relatime"
    }
}

/// Whether a call names an atime behaviour (a remount without one keeps the mount's).
fn names_atime(flags: u64) -> bool {
    flags & (ms::NOATIME | ms::NODIRATIME | ms::RELATIME | ms::STRICTATIME) != 0
}

/// The atime part (`,relatime`, `,noatime`, or nothing) of a per-mount option string.
fn atime_part(options: &str) -> String {
    options
        .split(',')
        .filter(|o| matches!(*o, "noatime" | "nodiratime" | "relatime"))
        .fold(String::new(), |mut s, o| {
            s.push(',');
            s.push_str(o);
            s
        })
}

/// `a` is `b` or a directory above it.
fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `path` with `from` (a directory above it) replaced by `to`.
fn rebase(path: &str, from: &str, to: &str) -> String {
    let rest = if from == "/" {
        path
    } else {
        path.strip_prefix(from).unwrap_or(path)
    };
    join(to, rest)
}

/// `dir` + `rest` as one absolute path without a doubled or trailing slash.
pub fn join(dir: &str, rest: &str) -> String {
    let rest = rest.trim_start_matches('/');
    let dir = dir.trim_end_matches('/');
    match (dir.is_empty(), rest.is_empty()) {
        (true, true) => "/".to_owned(),
        (true, false) => format!("/{rest}"),
        (false, true) => dir.to_owned(),
        (false, false) => format!("{dir}/{rest}"),
    }
}

/// A path with `.` and `..` resolved and repeated slashes removed (absolute input).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut s = String::with_capacity(path.len());
    for p in &parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() { "/".to_owned() } else { s }
}

/// Mountinfo's octal escapes (`\040` for a space) decoded.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = b[i + 1..i + 4]
                .iter()
                .fold(0u16, |v, c| v * 8 + u16::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lines read from a mountinfo text at most (a host has a few hundred).
const MAX_MOUNTINFO_LINES: usize = 16_384;

impl MountTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The table of a `/proc/PID/mountinfo` text (lines that do not parse are skipped).
    pub fn from_mountinfo(text: &str) -> Self {
        let mut t = Self::new();
        let mut ids: Vec<(u64, u32)> = Vec::new();
        let mut parents: Vec<u64> = Vec::new();
        for line in text.lines().take(MAX_MOUNTINFO_LINES) {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let (Some(id), Some(parent), Some(root), Some(mp), Some(opts)) = (
                f.first().and_then(|v| v.parse::<u64>().ok()),
                f.get(1).and_then(|v| v.parse::<u64>().ok()),
                f.get(3),
                f.get(4),
                f.get(5),
            ) else {
                continue;
            };
            let id_ours = t.next();
            ids.push((id, id_ours));
            parents.push(parent);
            t.entries.push(MountEntry {
                mount_id: id_ours,
                parent_id: 0,
                mount_point: unescape(mp),
                root: unescape(root),
                source: r.get(1).map(|s| unescape(s)).unwrap_or_default(),
                fstype: r.first().map(|s| unescape(s)).unwrap_or_default(),
                options: (*opts).to_owned(),
                super_options: r.get(2).map(|s| (*s).to_owned()).unwrap_or_default(),
                bind_of: None,
            });
        }
        for (e, parent) in t.entries.iter_mut().zip(parents) {
            e.parent_id = ids
                .iter()
                .find(|(k, _)| *k == parent)
                .map_or(0, |(_, ours)| *ours);
        }
        t
    }

    fn next(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// A table with only the host's root, whose filesystem was not recorded (for sessions
    /// without the daemon's mountinfo): mounts made later sit on it, and `pivot_root`
    /// can hang it under `put_old`.
    pub fn unknown_root() -> Self {
        let mut t = Self::new();
        let id = t.next();
        t.entries.push(MountEntry {
            mount_id: id,
            parent_id: 0,
            mount_point: "/".to_owned(),
            root: "/".to_owned(),
            source: String::new(),
            fstype: String::new(),
            options: String::new(),
            super_options: String::new(),
            bind_of: None,
        });
        t
    }

    /// The mounts, in the order they were made.
    pub fn entries(&self) -> &[MountEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The mount on top at exactly `path`.
    fn topmost_at(&self, path: &str) -> Option<usize> {
        let at: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].mount_point == path)
            .collect();
        at.iter()
            .copied()
            .find(|&i| {
                let id = self.entries[i].mount_id;
                !at.iter().any(|&j| self.entries[j].parent_id == id)
            })
            .or_else(|| at.last().copied())
    }

    /// The mount a path lies in: the topmost of the deepest mount points above it.
    pub fn covering(&self, path: &str) -> Option<&MountEntry> {
        let deepest = self
            .entries
            .iter()
            .filter(|e| is_under(path, &e.mount_point))
            .map(|e| e.mount_point.len())
            .max()?;
        let mp = self
            .entries
            .iter()
            .find(|e| e.mount_point.len() == deepest && is_under(path, &e.mount_point))?
            .mount_point
            .clone();
        self.topmost_at(&mp).map(|i| &self.entries[i])
    }

    fn subtree(&self, top: usize) -> Vec<usize> {
        let mut out = vec![top];
        let mut i = 0;
        while i < out.len() {
            let id = self.entries[out[i]].mount_id;
            out.extend((0..self.entries.len()).filter(|&j| self.entries[j].parent_id == id));
            i += 1;
        }
        out
    }

    /// Applies one successful call.
    pub fn apply(&mut self, op: &MountOp) {
        match op {
            MountOp::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => self.mount(source, target, fstype, *flags, data),
            MountOp::Umount { target } => self.umount(target),
            MountOp::PivotRoot { new_root, put_old } => self.pivot_root(new_root, put_old),
        }
    }

    fn add(&mut self, mut e: MountEntry) {
        e.mount_id = self.next();
        e.parent_id = self.covering(&e.mount_point).map_or(0, |p| p.mount_id);
        self.entries.push(e);
    }

    fn mount(&mut self, source: &str, target: &str, fstype: &str, flags: u64, data: &str) {
        if flags & ms::REMOUNT != 0 {
            if let Some(i) = self.topmost_at(target) {
                let e = &mut self.entries[i];
                // "The default atime for remount is preservation" (fs/namespace.c).
                let mut opts = flag_options(flags);
                if names_atime(flags) {
                    opts.push_str(atime_options(flags));
                } else {
                    opts.push_str(&atime_part(&e.options));
                }
                if flags & ms::BIND == 0 && !data.is_empty() {
                    e.super_options = data.to_owned();
                }
                e.options = opts;
            }
            return;
        }
        if flags & ms::MOVE != 0 {
            if let Some(i) = self.topmost_at(source) {
                let sub = self.subtree(i);
                for j in &sub {
                    let mp = rebase(&self.entries[*j].mount_point, source, target);
                    self.entries[*j].mount_point = mp;
                }
                let parent = self.covering_excluding(target, &sub);
                self.entries[i].parent_id = parent;
            }
            return;
        }
        if flags & ms::BIND != 0 {
            self.bind(source, target, flags & ms::REC != 0);
            return;
        }
        if flags & ms::PROPAGATION != 0 && fstype.is_empty() {
            // Only how mounts propagate: the table does not change.
            return;
        }
        self.add(MountEntry {
            mount_id: 0,
            parent_id: 0,
            mount_point: target.to_owned(),
            root: "/".to_owned(),
            source: source.to_owned(),
            fstype: fstype.to_owned(),
            options: options_from_flags(flags),
            super_options: data.to_owned(),
            bind_of: None,
        });
    }

    fn covering_excluding(&self, path: &str, exclude: &[usize]) -> u32 {
        (0..self.entries.len())
            .filter(|i| !exclude.contains(i) && is_under(path, &self.entries[*i].mount_point))
            .max_by_key(|&i| (self.entries[i].mount_point.len(), self.entries[i].mount_id))
            .map_or(0, |i| self.entries[i].mount_id)
    }

    fn bind(&mut self, source: &str, target: &str, recursive: bool) {
        let Some(from) = self.covering(source).cloned() else {
            self.add(MountEntry {
                mount_id: 0,
                parent_id: 0,
                mount_point: target.to_owned(),
                root: source.to_owned(),
                source: source.to_owned(),
                fstype: String::new(),
                options: options_from_flags(0),
                super_options: String::new(),
                bind_of: Some(source.to_owned()),
            });
            return;
        };
        let below: Vec<MountEntry> = if recursive {
            self.entries
                .iter()
                .filter(|e| e.mount_point != source && is_under(&e.mount_point, source))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let root = rebase(source, &from.mount_point, &from.root);
        self.add(MountEntry {
            mount_point: target.to_owned(),
            root,
            bind_of: Some(source.to_owned()),
            ..from
        });
        for e in below {
            self.add(MountEntry {
                mount_point: rebase(&e.mount_point, source, target),
                ..e
            });
        }
    }

    fn umount(&mut self, target: &str) {
        if let Some(i) = self.topmost_at(target) {
            let mut gone = self.subtree(i);
            gone.sort_unstable();
            for j in gone.into_iter().rev() {
                self.entries.remove(j);
            }
        }
    }

    fn pivot_root(&mut self, new_root: &str, put_old: &str) {
        let Some(n) = self.topmost_at(new_root).or_else(|| {
            let c = self.covering(new_root)?.mount_id;
            self.entries.iter().position(|e| e.mount_id == c)
        }) else {
            return;
        };
        let keep = self.subtree(n);
        let new_root_id = self.entries[n].mount_id;
        // put_old as the new root sees it.
        let put_old_new = rebase(put_old, new_root, "/");
        for i in 0..self.entries.len() {
            let e = &mut self.entries[i];
            if keep.contains(&i) {
                e.mount_point = rebase(&e.mount_point, new_root, "/");
            } else {
                e.mount_point = join(&put_old_new, &e.mount_point);
            }
        }
        let old_root =
            (0..self.entries.len()).find(|i| !keep.contains(i) && self.entries[*i].parent_id == 0);
        self.entries[n].parent_id = 0;
        if let Some(o) = old_root {
            // The old root hangs where put_old is: on the new root (`pivot_root(".", ".")`
            // stacks it on top of the new root).
            let parent = self.covering_excluding(&put_old_new, &[o]);
            self.entries[o].parent_id = if parent == 0 { new_root_id } else { parent };
        }
        // The new root first, as mountinfo lists it.
        let root = self.entries.remove(n);
        self.entries.insert(0, root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(t: &mut MountTable, source: &str, target: &str, fstype: &str, flags: u64, data: &str) {
        t.apply(&MountOp::Mount {
            source: source.into(),
            target: target.into(),
            fstype: fstype.into(),
            flags,
            data: data.into(),
        });
    }

    const HOST: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
30 22 0:26 / /sys/fs/cgroup/cpu rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
31 22 0:27 / /mnt/with\\040space rw,relatime - tmpfs tmpfs rw
";

    #[test]
    fn runc_builds_a_container_table() {
        let mut t = MountTable::from_mountinfo(HOST);
        assert_eq!(t.entries().len(), 4);
        assert_eq!(t.entries()[3].mount_point, "/mnt/with space");
        assert_eq!(t.entries()[1].parent_id, t.entries()[0].mount_id);
        let merged = "/var/lib/docker/overlay2/x/merged";
        // dockerd mounts the overlay (in the host namespace the container copies).
        mount(
            &mut t,
            "overlay",
            merged,
            "overlay",
            0,
            "lowerdir=/l1:/l2,upperdir=/u,workdir=/w",
        );
        // runc: propagation, the rootfs bound onto itself, proc, a bind of a cgroup dir.
        mount(&mut t, "", "/", "", ms::REC | ms::SLAVE, "");
        mount(&mut t, merged, merged, "bind", ms::BIND | ms::REC, "");
        mount(
            &mut t,
            "proc",
            &format!("{merged}/proc"),
            "proc",
            ms::NOSUID | ms::NODEV | ms::NOEXEC,
            "",
        );
        mount(
            &mut t,
            "tmpfs",
            &format!("{merged}/dev"),
            "tmpfs",
            ms::NOSUID | ms::STRICTATIME,
            "mode=755",
        );
        let cg = format!("{merged}/sys/fs/cgroup/cpu");
        let bind_flags = ms::BIND | ms::REC | ms::RDONLY | ms::NOSUID | ms::NODEV | ms::NOEXEC;
        mount(
            &mut t,
            "/sys/fs/cgroup/cpu/docker/abc",
            &cg,
            "bind",
            bind_flags,
            "",
        );
        mount(
            &mut t,
            "/sys/fs/cgroup/cpu/docker/abc",
            &cg,
            "bind",
            bind_flags | ms::REMOUNT,
            "",
        );
        // pivot_root(".", ".") with "." the rootfs, then the old root detached.
        t.apply(&MountOp::PivotRoot {
            new_root: merged.into(),
            put_old: merged.into(),
        });
        t.apply(&MountOp::Umount { target: "/".into() });
        // Masking: /dev/null of the new /dev over a /proc file.
        mount(&mut t, "/dev/null", "/proc/kcore", "", ms::BIND, "");
        let rows: Vec<(&str, &str, &str, &str, &str)> = t
            .entries()
            .iter()
            .map(|e| {
                (
                    e.mount_point.as_str(),
                    e.fstype.as_str(),
                    e.source.as_str(),
                    e.root.as_str(),
                    e.options.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("/", "overlay", "overlay", "/", "rw,relatime"),
                (
                    "/proc",
                    "proc",
                    "proc",
                    "/",
                    "rw,nosuid,nodev,noexec,relatime"
                ),
                ("/dev", "tmpfs", "tmpfs", "/", "rw,nosuid"),
                (
                    "/sys/fs/cgroup/cpu",
                    "cgroup",
                    "cgroup",
                    "/docker/abc",
                    "ro,nosuid,nodev,noexec,relatime"
                ),
                ("/proc/kcore", "tmpfs", "tmpfs", "/null", "rw,nosuid"),
            ]
        );
        assert_eq!(t.covering("/etc/hosts").unwrap().fstype, "overlay");
    }

    #[test]
    fn umount_takes_the_subtree_and_move_carries_it() {
        let mut t = MountTable::new();
        mount(&mut t, "rootfs", "/", "ext4", 0, "");
        mount(&mut t, "tmpfs", "/a", "tmpfs", 0, "");
        mount(&mut t, "tmpfs", "/a/b", "tmpfs", 0, "");
        mount(&mut t, "", "/a", "", ms::MOVE, "");
        mount(&mut t, "/a", "/c", "", ms::MOVE, "");
        let mps: Vec<&str> = t.entries().iter().map(|e| e.mount_point.as_str()).collect();
        assert_eq!(mps, ["/", "/c", "/c/b"]);
        t.apply(&MountOp::Umount {
            target: "/c".into(),
        });
        assert_eq!(t.entries().len(), 1);
        // Two mounts on one path: the umount takes the top one.
        mount(&mut t, "one", "/m", "tmpfs", 0, "");
        mount(&mut t, "two", "/m", "tmpfs", 0, "");
        t.apply(&MountOp::Umount {
            target: "/m".into(),
        });
        assert_eq!(t.covering("/m/x").unwrap().source, "one");
    }

    #[test]
    fn paths() {
        assert_eq!(normalize("/a/./b/../c//d/"), "/a/c/d");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(join("/", "proc"), "/proc");
        assert_eq!(join("/a/", "/"), "/a");
        assert_eq!(rebase("/r/proc", "/r", "/"), "/proc");
        assert_eq!(rebase("/r", "/r", "/"), "/");
        assert!(is_under("/a/b", "/a") && !is_under("/ab", "/a") && is_under("/x", "/"));
        assert_eq!(options_from_flags(ms::RDONLY | ms::NOATIME), "ro,noatime");
        assert_eq!(unescape("a\\040b\\"), "a b\\");
    }
}
