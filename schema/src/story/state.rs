//! The state of a container at a time: its namespaces, its mount table as it sees it, the
//! overlay stack, the process lineage across the stack, its cgroup and latest sample.

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::Story;
use super::chapters::Mark;
use super::mounts::MountEntry;
use super::procs::{NS_TYPES, NsSet, Proc};
use crate::entities::Component;
use crate::names as decode;

/// One namespace type as a container has it at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceState {
    /// `pid`, `mnt`, `net`, `uts`, `ipc`, `cgroup`, `user`, `time`.
    #[serde(rename = "type")]
    pub ns_type: String,
    /// 0 when unknown.
    pub inode: u64,
    /// `container` (its own), `host` (shared with the host, or not made yet), `sandbox`
    /// (another container's it joined).
    pub owner: String,
    /// Processes of the lineage in it at that time.
    pub pids: Vec<u32>,
    /// When the container's own namespace of this type was made.
    pub created_ts_nanos: Option<u64>,
}

/// One mount of the container's table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRow {
    pub mount_point: String,
    pub source: String,
    pub fstype: String,
    pub options: String,
    pub root: String,
    pub super_options: String,
    pub bind_of: Option<String>,
}

impl From<&MountEntry> for MountRow {
    fn from(e: &MountEntry) -> Self {
        Self {
            mount_point: e.mount_point.clone(),
            source: e.source.clone(),
            fstype: e.fstype.clone(),
            options: e.options.clone(),
            root: e.root.clone(),
            super_options: e.super_options.clone(),
            bind_of: e.bind_of.clone(),
        }
    }
}

/// One lower directory of the overlay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayLayer {
    /// The image layer number, 1 = bottom (`None` for Docker's init layer or an unknown
    /// directory).
    pub layer: Option<u32>,
    /// How many layers the image has.
    pub of: Option<u32>,
    pub digest: Option<String>,
    pub dir: String,
    /// Docker's `-init` layer (placeholders for /etc/hosts, /etc/resolv.conf …).
    pub init: bool,
}

/// The overlay root filesystem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayState {
    /// Top first, as `lowerdir=` lists them.
    pub lower: Vec<OverlayLayer>,
    pub upper: Option<String>,
    pub work: Option<String>,
    pub merged: Option<String>,
    /// Whether the overlay is mounted at that time.
    pub mounted: bool,
}

/// One process of the lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    pub pid: u32,
    pub ppid: u32,
    /// Depth in the tree (0 = a root).
    pub depth: u32,
    /// Its name at that time.
    pub comm: String,
    /// Its names up to that time (`runc:[1:CHILD]`, `runc:[2:INIT]`, `nginx`).
    pub names: Vec<String>,
    pub role: String,
    /// Its command line (the first arguments): `docker-untar / …/diff` for a process
    /// whose name is only `exe`.
    pub argv: Vec<String>,
    pub start_ts_nanos: u64,
    pub exit_ts_nanos: Option<u64>,
    /// The wait status, and in words (`exited 0`, `killed by SIGKILL`).
    pub exit_code: Option<i32>,
    pub exit: Option<String>,
    pub alive: bool,
    /// Whether it works for the container (not one of the stack above it).
    pub in_container: bool,
}

/// The container's cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupState {
    pub path: Option<String>,
    /// Its cgroup v2 id.
    pub cgroup_id: Option<u64>,
    /// Whether it exists at that time.
    pub created: bool,
    pub pids: Vec<u32>,
}

/// The latest resource sample.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleState {
    pub ts_nanos: u64,
    pub cpu_nanos: u64,
    pub mem_bytes: u64,
    pub mem_limit_bytes: u64,
    pub blk_read_bytes: u64,
    pub blk_write_bytes: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub pids: u32,
}

/// A container at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub container_id: String,
    pub name: String,
    pub ts_nanos: u64,
    /// `not created`, `being created`, `running`, `exited`, `removed`.
    pub status: String,
    /// The chapter at that time.
    pub chapter: Option<String>,
    pub namespaces: Vec<NamespaceState>,
    /// The mount table as the container sees it (empty before it has its own mount
    /// namespace; `mounts_note` says so).
    pub mounts: Vec<MountRow>,
    pub mounts_note: String,
    pub overlay: OverlayState,
    pub lineage: Vec<LineageNode>,
    pub cgroup: CgroupState,
    pub sample: Option<SampleState>,
}

const MAX_LINEAGE: usize = 512;

impl Story {
    /// The state of container `c` (an index of the input's containers) at `ts`.
    pub fn state_at(&self, c: usize, ts: u64) -> Option<ContainerState> {
        let cs = self.containers.get(c)?;
        let k = &cs.keys;
        let lineage = self.lineage(c, ts);
        let chapter = self.chapter_at(Some(c), ts).filter(|ch| ch.ts_nanos <= ts);
        let created = k
            .created_ts
            .or(k.started_ts)
            .or_else(|| self.chapters_of(c).next().map(|ch| ch.ts_nanos));
        let status = if created.is_some_and(|t| t > ts) {
            "not created".to_owned()
        } else if k.destroyed_ts.is_some_and(|t| t <= ts) {
            "removed".to_owned()
        } else if k.died_ts.is_some_and(|t| t <= ts) {
            "exited".to_owned()
        } else if k.started_ts.is_some_and(|t| t <= ts)
            || chapter.is_some_and(|ch| ch.chapter == super::ChapterKind::Running)
        {
            "running".to_owned()
        } else {
            "being created".to_owned()
        };
        let (mounts, mounts_note) = self.mounts_at(c, ts);
        Some(ContainerState {
            container_id: k.id.clone(),
            name: k.name.clone(),
            ts_nanos: ts,
            status,
            chapter: chapter.map(|ch| ch.chapter.name().to_owned()),
            namespaces: self.namespaces_at(c, ts, &lineage),
            mounts,
            mounts_note,
            overlay: self.overlay_at(c, ts),
            cgroup: self.cgroup_at(c, ts),
            sample: self.sample_at(c, ts),
            lineage,
        })
    }

    fn ns_of(&self, tgid: u32, start_ts: u64, ts: u64) -> NsSet {
        let Some(list) = self.ns_by_tgid.get(&tgid) else {
            return NsSet::default();
        };
        let n = list.partition_point(|(t, _)| *t <= ts);
        n.checked_sub(1)
            .map(|i| list[i])
            .filter(|(t, _)| *t >= start_ts)
            .map_or_else(NsSet::default, |(_, s)| s)
    }

    fn namespaces_at(&self, c: usize, ts: u64, lineage: &[LineageNode]) -> Vec<NamespaceState> {
        let cs = &self.containers[c];
        let before = cs.keys.created_ts.is_some_and(|t| t > ts);
        let alive: Vec<(u32, NsSet)> = lineage
            .iter()
            .filter(|n| n.alive)
            .map(|n| (n.pid, self.ns_of(n.pid, n.start_ts_nanos, ts)))
            .collect();
        NS_TYPES
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let own = cs.ns.get(t);
                let host = self.host.get(t);
                let created = cs.ns_created[t];
                let (inode, owner) = if before || created.is_some_and(|at| at > ts) {
                    (host, "host")
                } else if created.is_some() {
                    (own, "container")
                } else if own != 0 && host != 0 && own != host {
                    let joined = self.containers.iter().enumerate().any(|(o, other)| {
                        o != c && other.ns.get(t) == own && other.ns_created[t].is_some()
                    });
                    (own, if joined { "sandbox" } else { "container" })
                } else {
                    (if own != 0 { own } else { host }, "host")
                };
                NamespaceState {
                    ns_type: (*name).to_owned(),
                    inode,
                    owner: owner.to_owned(),
                    // A process's namespace of a type nobody changed for it (and that its
                    // event headers do not carry) is the one it inherited: the host's.
                    pids: if inode == 0 {
                        Vec::new()
                    } else {
                        alive
                            .iter()
                            .filter(|(_, s)| {
                                if s.get(t) == 0 {
                                    host == inode
                                } else {
                                    s.get(t) == inode
                                }
                            })
                            .map(|(p, _)| *p)
                            .collect()
                    },
                    created_ts_nanos: created,
                }
            })
            .collect()
    }

    fn mounts_at(&self, c: usize, ts: u64) -> (Vec<MountRow>, String) {
        let cs = &self.containers[c];
        let Some((made, base)) = cs.mount_base.as_ref().filter(|(t, _)| *t <= ts) else {
            return (
                Vec::new(),
                "no mount namespace of its own yet: it will start as a copy of the host's"
                    .to_owned(),
            );
        };
        let mut table = base.clone();
        let mut pivoted = false;
        for (t, op) in &cs.mount_ops {
            if *t > ts {
                break;
            }
            pivoted |= matches!(op, super::mounts::MountOp::PivotRoot { .. });
            table.apply(op);
        }
        let note = if pivoted {
            "as the container sees it (/proc/PID/mountinfo)".to_owned()
        } else {
            format!(
                "its own mount namespace since {:.6} s, still a copy of the host's: the container's root is not in place yet",
                (made.saturating_sub(self.input.start_ts_nanos)) as f64 / 1e9
            )
        };
        (table.entries().iter().map(MountRow::from).collect(), note)
    }

    fn overlay_at(&self, c: usize, ts: u64) -> OverlayState {
        let cs = &self.containers[c];
        let k = &cs.keys;
        let lower = k
            .lower_dirs
            .iter()
            .map(|d| {
                let l = self.layers.layer_of(d.trim_end_matches('/'));
                OverlayLayer {
                    layer: l.map(|l| l.layer_index + 1),
                    of: l.map(|l| l.layer_count),
                    digest: l.and_then(|l| l.digest.clone()),
                    dir: d.clone(),
                    init: d.contains("-init/"),
                }
            })
            .collect();
        let row = &self.input.containers[c];
        let mounted = cs
            .marks
            .0
            .iter()
            .rev()
            .find(|(t, m)| *t <= ts && matches!(m, Mark::Overlay | Mark::OverlayGone))
            .map_or(
                k.started_ts.is_some_and(|s| s < self.input.start_ts_nanos),
                |(_, m)| *m == Mark::Overlay,
            );
        OverlayState {
            lower,
            upper: row.upper_dir.clone(),
            work: row.work_dir.clone(),
            merged: row.merged_dir.clone(),
            mounted,
        }
    }

    fn cgroup_at(&self, c: usize, ts: u64) -> CgroupState {
        let cs = &self.containers[c];
        let alive = |tgid: u32, since: u64| {
            since <= ts
                && self
                    .procs
                    .all()
                    .filter(|p| p.tgid == tgid && p.start_ts <= ts)
                    .last()
                    .is_some_and(|p| p.exit.is_none_or(|(t, _)| t > ts))
        };
        CgroupState {
            path: cs.cgroup_path.clone(),
            cgroup_id: cs.keys.cgroup_v2,
            created: cs.cgroup_created.map_or_else(
                || {
                    cs.keys.started_ts.is_some_and(|s| s <= ts)
                        && cs.keys.died_ts.is_none_or(|d| d > ts)
                },
                |t| t <= ts,
            ) && cs.keys.destroyed_ts.is_none_or(|d| d > ts),
            pids: cs
                .members
                .iter()
                .filter(|(p, s)| alive(*p, *s))
                .map(|(p, _)| *p)
                .collect(),
        }
    }

    fn sample_at(&self, c: usize, ts: u64) -> Option<SampleState> {
        let id = &self.containers[c].keys.id;
        self.input
            .samples
            .iter()
            .filter(|s| s.sample.container_id == *id && s.ts_nanos <= ts)
            .max_by_key(|s| s.ts_nanos)
            .map(|s| SampleState {
                ts_nanos: s.ts_nanos,
                cpu_nanos: s.sample.cpu_nanos,
                mem_bytes: s.sample.mem_bytes,
                mem_limit_bytes: s.sample.mem_limit_bytes,
                blk_read_bytes: s.sample.blk_read_bytes,
                blk_write_bytes: s.sample.blk_write_bytes,
                net_rx_bytes: s.sample.net_rx_bytes,
                net_tx_bytes: s.sample.net_tx_bytes,
                pids: s.sample.pids,
            })
    }

    /// The processes that worked for container `c` up to `ts`, with the stack above them
    /// (dockerd → containerd → shim → runc → runc:[1:CHILD] → runc:[2:INIT] → entrypoint).
    pub fn lineage(&self, c: usize, ts: u64) -> Vec<LineageNode> {
        let started = |p: &Proc| p.start_ts <= ts || p.names.first().is_some_and(|(t, _)| *t <= ts);
        let mine: Vec<&Proc> = self
            .procs
            .all()
            .filter(|p| p.container == Some(c) && started(p) && p.tgid != 0)
            .take(MAX_LINEAGE)
            .collect();
        let mut nodes: Vec<&Proc> = mine.clone();
        let mut seen: FxHashSet<u32> = mine.iter().map(|p| p.tgid).collect();
        for p in &mine {
            let mut ppid = p.ppid;
            while ppid > 1 && nodes.len() < MAX_LINEAGE && seen.insert(ppid) {
                let Some(parent) = self.procs.get(ppid) else {
                    break;
                };
                nodes.push(parent);
                ppid = parent.ppid;
            }
        }
        nodes.sort_by_key(|p| (p.start_ts, p.tgid));
        let in_set: FxHashSet<u32> = nodes.iter().map(|p| p.tgid).collect();
        let mut out = Vec::with_capacity(nodes.len());
        let roots: Vec<&Proc> = nodes
            .iter()
            .copied()
            .filter(|p| !in_set.contains(&p.ppid) || p.ppid == p.tgid)
            .collect();
        let mut stack: Vec<(&Proc, u32)> = roots.into_iter().rev().map(|p| (p, 0)).collect();
        let mut emitted: FxHashSet<(u32, u64)> = FxHashSet::default();
        while let Some((p, depth)) = stack.pop() {
            if !emitted.insert((p.tgid, p.start_ts)) || out.len() >= MAX_LINEAGE {
                continue;
            }
            out.push(self.node(p, depth, ts, p.container == Some(c)));
            let mut children: Vec<&Proc> = nodes
                .iter()
                .copied()
                .filter(|q| q.ppid == p.tgid && q.tgid != p.tgid && q.start_ts >= p.start_ts)
                .collect();
            children.sort_by_key(|q| std::cmp::Reverse((q.start_ts, q.tgid)));
            stack.extend(children.into_iter().map(|q| (q, depth + 1)));
        }
        out
    }

    fn node(&self, p: &Proc, depth: u32, ts: u64, in_container: bool) -> LineageNode {
        let names: Vec<String> = p
            .names
            .iter()
            .filter(|(t, _)| *t <= ts)
            .map(|(_, n)| n.clone())
            .collect();
        let exit = p.exit.filter(|(t, _)| *t <= ts);
        LineageNode {
            pid: p.tgid,
            ppid: p.ppid,
            depth,
            comm: p.name_at(ts).to_owned(),
            names,
            role: if p.role == Component::Other && in_container {
                "workload"
            } else {
                p.role.name()
            }
            .to_owned(),
            argv: if p.exec_ts <= ts {
                p.argv
                    .iter()
                    .take(8)
                    .map(|a| a.chars().take(256).collect())
                    .collect()
            } else {
                Vec::new()
            },
            start_ts_nanos: p.start_ts,
            exit_ts_nanos: exit.map(|(t, _)| t),
            exit_code: exit.map(|(_, c)| c),
            exit: exit.map(|(_, c)| decode::wait_status(c)),
            alive: exit.is_none(),
            in_container,
        }
    }

    /// Which lower layer of container `c` provides `path` (as the container names it),
    /// when the unpacking of its layers was recorded: the topmost that wrote it.
    pub fn layer_providing(&self, c: usize, path: &str) -> Option<OverlayLayer> {
        let cs = self.containers.get(c)?;
        let path = super::mounts::normalize(path);
        cs.keys.lower_dirs.iter().find_map(|d| {
            let d = d.trim_end_matches('/');
            let files = self.layer_files.get(d)?;
            files.contains(&path).then(|| {
                let l = self.layers.layer_of(d);
                OverlayLayer {
                    layer: l.map(|l| l.layer_index + 1),
                    of: l.map(|l| l.layer_count),
                    digest: l.and_then(|l| l.digest.clone()),
                    dir: d.to_owned(),
                    init: d.contains("-init"),
                }
            })
        })
    }
}
