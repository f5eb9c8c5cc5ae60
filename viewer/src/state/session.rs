//! A session loaded for viewing: its events in a [`Store`] and its entities, with the
//! indexes the panels need (components per process, samples per container, overlay paths).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use beefine_schema::{
    Bookmark, Component, Container, Event, EventData, Family, Image, Kind, Layer, Loss, Meta,
    Namespaces, Pod, Probe, Process, Query, Sample, Session, Status, TailCursor,
};

pub use super::paths::{OverlayIndex, Roots};
use super::store::{EventIdx, Store};
use crate::containers::ContainerIndex;
use crate::format;
use crate::probes::Probes;

/// Index of a "component" in filters: the [`Component`]s, then events no task caused.
pub type ComponentIdx = u8;

/// The pseudo-component of daemon events, resource samples and loss records.
pub const UNTASKED: ComponentIdx = Component::ALL.len() as ComponentIdx;
pub const COMPONENT_COUNT: usize = Component::ALL.len() + 1;

pub fn component_name(c: ComponentIdx) -> &'static str {
    Component::ALL
        .get(usize::from(c))
        .map_or("daemon & recorder", |c| c.name())
}

/// A session in memory.
#[derive(Debug)]
pub struct LoadedSession {
    pub path: PathBuf,
    pub meta: Meta,
    pub status: Status,
    pub file_bytes: u64,
    pub store: Store,
    pub containers: ContainerIndex,
    /// Processes from the session's table, or derived from fork/exit events when the table
    /// is empty. In start order.
    pub processes: Vec<Process>,
    pub images: Vec<Image>,
    /// Kubernetes pods (a pod's containers are next to each other in `containers`).
    pub pods: Vec<Pod>,
    pub layers: Vec<Layer>,
    pub losses: Vec<Loss>,
    pub lost_events: u64,
    /// Resource samples of each container (by container index), in time order.
    pub samples: Vec<Vec<Sample>>,
    pub probes: Probes,
    /// Instants someone marked, in time order.
    pub bookmarks: Vec<Bookmark>,
    /// Parts of the file that could not be read.
    pub damage: Vec<String>,
    /// Component of each process context of the store.
    pub ctx_component: Vec<ComponentIdx>,
    pub overlay: OverlayIndex,
    /// Roots of processes that changed theirs, to place their paths on the host.
    pub roots: Roots,
    /// Mount-table changes (mount, umount, pivot_root, chroot) of each container.
    pub container_mounts: Vec<Vec<EventIdx>>,
    /// The daemon's events (kind `docker`), in time order: the story's phases.
    pub docker_events: Vec<EventIdx>,
    /// How long reading the file and building the store took.
    pub load_millis: u128,
    /// The story derived from the events ([`super::story`]).
    pub story: super::story::SessionStory,
    /// The daemon's mount table when the recording started (meta `host_mountinfo`).
    pub host_mountinfo: Option<String>,
    /// The chapters the session stores, if it does.
    pub stored_chapters: Option<Vec<beefine_schema::story::Chapter>>,
}

/// What went wrong opening a session, for the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn load_error(path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The entity tables of a session, read together.
#[derive(Debug, Default, Clone)]
pub struct Entities {
    pub containers: Vec<Container>,
    pub processes: Vec<Process>,
    pub images: Vec<Image>,
    pub pods: Vec<Pod>,
    pub layers: Vec<Layer>,
    pub losses: Vec<Loss>,
    pub lost_events: u64,
    pub samples: Vec<Sample>,
    pub probes: Vec<Probe>,
    pub bookmarks: Vec<Bookmark>,
}

impl Entities {
    pub fn read(session: &Session) -> beefine_schema::Result<Self> {
        Ok(Self {
            containers: session.containers()?,
            processes: session.processes()?,
            images: session.images()?,
            pods: session.pods()?,
            layers: session.layers()?,
            losses: session.losses()?,
            lost_events: session.lost_events()?,
            samples: session.resource_samples()?,
            probes: session.probes()?,
            bookmarks: session.bookmarks()?,
        })
    }
}

/// An open session file ready to be followed after loading.
#[derive(Debug)]
pub struct Follow {
    pub session: Session,
    pub cursor: TailCursor,
}

impl LoadedSession {
    /// Opens and reads a session. Returns the open session with a tail cursor placed before
    /// the events read, so that a live session can be followed without a gap.
    pub fn load(path: &Path) -> Result<(Self, Follow), LoadError> {
        let started = Instant::now();
        let session = Session::open(path).map_err(|e| load_error(path, e))?;
        let err = |e: beefine_schema::Error| load_error(path, e);
        // The cursor is taken first and the events read are those before it: what is
        // appended while reading comes on the first poll, once.
        let cursor = session.tail().map_err(err)?;
        let containers = ContainerIndex::new(session.containers().map_err(err)?);
        // What the file says it holds sizes nothing: it only chooses whether to read in
        // parallel, and how much room to make at first (bounded).
        let expected: u64 = session
            .kind_counts()
            .map_err(err)?
            .iter()
            .fold(0u64, |sum, (_, n)| sum.saturating_add(*n));
        let (store, errors) =
            read_events(&session, &cursor.before(), &containers, expected).map_err(err)?;
        let mut loaded = Self::assemble(&session, store, containers).map_err(err)?;
        loaded.damage = session.notes().to_vec();
        loaded.damage.extend(errors);
        super::story::derive(&mut loaded);
        loaded.load_millis = started.elapsed().as_millis();
        Ok((loaded, Follow { session, cursor }))
    }

    /// A session from events held in memory (tests, and sessions written by hand).
    pub fn from_parts(session: &Session, events: &[Event]) -> beefine_schema::Result<Self> {
        let containers = ContainerIndex::new(session.containers()?);
        let mut store = Store::default();
        for e in events {
            store.push(e, &containers);
        }
        let mut loaded = Self::assemble(session, store, containers)?;
        super::story::derive(&mut loaded);
        Ok(loaded)
    }

    fn assemble(
        session: &Session,
        store: Store,
        containers: ContainerIndex,
    ) -> beefine_schema::Result<Self> {
        let entities = Entities::read(session)?;
        let mut loaded = Self {
            path: session.path().to_owned(),
            meta: session.meta().clone(),
            status: session.status(),
            file_bytes: session.file_bytes(),
            store,
            containers,
            processes: Vec::new(),
            images: Vec::new(),
            pods: Vec::new(),
            layers: Vec::new(),
            losses: Vec::new(),
            lost_events: 0,
            samples: Vec::new(),
            probes: Probes::default(),
            bookmarks: Vec::new(),
            damage: Vec::new(),
            ctx_component: Vec::new(),
            overlay: OverlayIndex::default(),
            roots: Roots::default(),
            container_mounts: Vec::new(),
            docker_events: Vec::new(),
            load_millis: 0,
            story: super::story::SessionStory::default(),
            host_mountinfo: session
                .meta_value(beefine_schema::story::HOST_MOUNTINFO_KEY)
                .ok()
                .flatten(),
            // An unreadable chapters table is derived again, like a missing one.
            stored_chapters: session.chapters().ok().flatten(),
        };
        loaded.set_entities(entities);
        Ok(loaded)
    }

    /// Takes the entity tables as read now (a live session adds containers, processes and
    /// samples as it goes) and rebuilds what depends on them. Returns whether the
    /// containers changed, in which case events were attributed again.
    pub fn set_entities(&mut self, e: Entities) -> bool {
        let containers_changed = e.containers != self.containers.containers();
        if containers_changed {
            self.containers = ContainerIndex::new(e.containers);
            self.store.attribute_containers(&self.containers);
        }
        let mut samples = vec![Vec::new(); self.containers.len()];
        for s in e.samples {
            if let Some(i) = self.containers.by_id(&s.sample.container_id) {
                samples[i].push(s);
            }
        }
        for list in &mut samples {
            list.sort_by_key(|s| s.ts_nanos);
        }
        self.samples = samples;
        self.overlay = OverlayIndex::new(&e.layers, &e.images, self.containers.containers());
        self.layers = e.layers;
        self.images = e.images;
        self.pods = e.pods;
        self.losses = e.losses;
        self.lost_events = e.lost_events;
        self.probes = Probes::new(&e.probes);
        self.bookmarks = e.bookmarks;
        self.bookmarks.sort_by_key(|b| b.ts_nanos);
        let processes_changed = e.processes != self.processes;
        self.processes = if e.processes.is_empty() {
            derive_processes(&self.store, &self.containers)
        } else {
            e.processes
        };
        if containers_changed || processes_changed {
            self.ctx_component.clear();
        }
        self.index_from(0);
        containers_changed
    }

    /// Rebuilds the derived indexes for events from `from` on (after events were added).
    pub fn index_from(&mut self, from: usize) {
        self.roots.follow(&mut self.store, from);
        // Components of new contexts.
        let by_pid = {
            let mut m: HashMap<u32, Vec<usize>> = HashMap::new();
            for (i, p) in self.processes.iter().enumerate() {
                m.entry(p.pid).or_default().push(i);
            }
            m
        };
        for ctx_id in self.ctx_component.len()..self.store.contexts().len() {
            let c = self.store.contexts()[ctx_id];
            let comm = self.store.comm(&c);
            let component = if c.tgid == 0 && comm.is_empty() {
                UNTASKED
            } else {
                let seen = self.store.context_seen(ctx_id as u32).0;
                let from_table = by_pid.get(&c.tgid).and_then(|candidates| {
                    candidates
                        .iter()
                        .map(|&i| &self.processes[i])
                        .find(|p| {
                            p.start_ts_nanos <= seen && p.exit_ts_nanos.is_none_or(|x| seen <= x)
                        })
                        .or_else(|| {
                            candidates
                                .iter()
                                .map(|&i| &self.processes[i])
                                .find(|p| p.cgroup_id == c.cgroup_id)
                        })
                        .map(|p| p.component)
                });
                let component = from_table.unwrap_or_else(|| {
                    guess_component(comm, self.containers.by_cgroup(c.cgroup_id).is_some())
                });
                Component::ALL
                    .iter()
                    .position(|&x| x == component)
                    .unwrap_or(Component::ALL.len() - 1) as ComponentIdx
            };
            self.ctx_component.push(component);
        }
        // Mount-table changes per container (by container or by its mount namespace).
        self.container_mounts
            .resize(self.containers.len(), Vec::new());
        if from == 0 {
            for list in &mut self.container_mounts {
                list.clear();
            }
        } else {
            for list in &mut self.container_mounts {
                let keep = list.partition_point(|&i| (i as usize) < from);
                list.truncate(keep);
            }
        }
        let mnt_ns: Vec<u64> = self
            .containers
            .containers()
            .iter()
            .map(|c| c.namespace("mnt").unwrap_or(0))
            .collect();
        let keep = self.docker_events.partition_point(|&i| (i as usize) < from);
        self.docker_events.truncate(keep);
        let kinds = self.store.kinds();
        self.docker_events.extend(
            kinds
                .iter()
                .enumerate()
                .skip(from)
                .filter(|(_, k)| **k == Kind::Docker)
                .map(|(i, _)| i as EventIdx),
        );
        for (i, &kind) in kinds.iter().enumerate().skip(from) {
            if kind.family() != Family::Mount {
                continue;
            }
            let idx = i as EventIdx;
            let by_container = self.store.container_of(idx);
            let ctx = self.store.get(idx).map(|e| *e.ctx);
            for (c, list) in self.container_mounts.iter_mut().enumerate() {
                let in_ns =
                    ctx.is_some_and(|x| mnt_ns[c] != 0 && u64::from(x.ns.mnt_ns) == mnt_ns[c]);
                if by_container == Some(c) || in_ns {
                    list.push(idx);
                }
            }
        }
    }

    /// Boot-clock span shown by the viewer: from the start of the recording (or the first
    /// event) to its end (or the last event).
    pub fn time_span(&self) -> (u64, u64) {
        let start = self.meta.info.start_ts_nanos;
        let (lo, hi) = format::session_span(start, self.meta.end_ts_nanos, self.store.time_span());
        (lo, hi.max(lo + 1))
    }

    /// Boot-clock time the viewer counts from.
    pub fn origin(&self) -> u64 {
        self.time_span().0
    }

    pub fn container(&self, idx: usize) -> Option<&Container> {
        self.containers.get(idx)
    }

    /// A short name for a container: its name, else its short id.
    pub fn container_label(&self, idx: usize) -> String {
        self.containers.get(idx).map_or_else(String::new, |c| {
            let name = if c.name.is_empty() {
                c.short_id().to_owned()
            } else {
                c.name.trim_start_matches('/').to_owned()
            };
            match self.pod_of(idx) {
                Some(pod) if c.is_sandbox() => format!("{} sandbox", pod.name),
                Some(pod) => format!("{}/{name}", pod.name),
                None => name,
            }
        })
    }

    /// The pod container `idx` belongs to.
    pub fn pod_of(&self, idx: usize) -> Option<&Pod> {
        let pod_id = self.containers.get(idx)?.pod_id.as_deref()?;
        self.pods.iter().find(|p| p.pod_id == pod_id)
    }

    pub fn component_of(&self, idx: EventIdx) -> ComponentIdx {
        let ctx = self.store.ctx_column()[idx as usize];
        self.ctx_component
            .get(ctx as usize)
            .copied()
            .unwrap_or(UNTASKED)
    }

    /// The latest resource sample of a container at or before `ts`.
    pub fn sample_at(&self, container: usize, ts: u64) -> Option<&Sample> {
        let list = self.samples.get(container)?;
        let n = list.partition_point(|s| s.ts_nanos <= ts);
        n.checked_sub(1).map(|i| &list[i])
    }

    /// Processes of a container alive at `ts`.
    pub fn processes_alive(&self, container: usize, ts: u64) -> Vec<&Process> {
        let Some(c) = self.containers.get(container) else {
            return Vec::new();
        };
        let pid_ns = c.namespace("pid").unwrap_or(0);
        self.processes
            .iter()
            .filter(|p| {
                p.container_id.as_deref() == Some(c.container_id.as_str())
                    || (c.cgroup_id.is_some_and(|cg| cg > 1 && p.cgroup_id == cg))
                    || (pid_ns != 0 && u64::from(p.ns.pid_ns) == pid_ns)
            })
            .filter(|p| p.start_ts_nanos <= ts && p.exit_ts_nanos.is_none_or(|x| ts < x))
            .collect()
    }

    /// Whether a container exists at `ts` (created and not yet destroyed).
    pub fn container_alive(&self, container: usize, ts: u64) -> bool {
        self.containers.get(container).is_some_and(|c| {
            let (start, end) = container_lifetime(c);
            start.is_none_or(|s| s <= ts) && end.is_none_or(|e| ts <= e)
        })
    }
}

/// Reads every event into a store. Large sessions are read in two halves by time on two
/// threads (each with its own connection) and joined: reading is most of the time it
/// takes to open a session.
fn read_events(
    session: &Session,
    snapshot: &Query,
    containers: &ContainerIndex,
    expected: u64,
) -> beefine_schema::Result<(Store, Vec<String>)> {
    const PARALLEL_FROM: u64 = 200_000;
    /// Most events room is made for before reading: the store grows past it as needed.
    const MAX_RESERVED_EVENTS: u64 = 256 << 10;
    let expected = expected.min(MAX_RESERVED_EVENTS);
    let read = |s: &Session, query: &Query, capacity: usize| {
        let mut store = Store::with_capacity(capacity);
        let summary = s.scan(query, |e| {
            store.push(&e, containers);
            ControlFlow::Continue(())
        })?;
        let errors: Vec<String> = summary.errors.iter().map(ToString::to_string).collect();
        Ok::<_, beefine_schema::Error>((store, errors))
    };
    let chunks = session.chunks().unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = (expected >= PARALLEL_FROM && cores > 1 && chunks.len() >= 2)
        .then(|| chunks[chunks.len() / 2].first_ts_nanos)
        .filter(|&t| t > 0);
    let second = split.and_then(|split| Some((split, session.reopen().ok()?)));
    let Some((split, second)) = second else {
        return read(session, snapshot, expected as usize + 1024);
    };
    let half = expected as usize / 2 + 1024;
    let later_half = Query {
        time: Some((split, u64::MAX)),
        ..snapshot.clone()
    };
    std::thread::scope(|scope| {
        let later = {
            let query = later_half.clone();
            scope.spawn(move || read(&second, &query, half))
        };
        let (mut store, mut errors) = read(
            session,
            &Query {
                time: Some((0, split - 1)),
                ..snapshot.clone()
            },
            expected as usize + 1024,
        )?;
        let (rest, rest_errors) = later
            .join()
            .unwrap_or_else(|_| read(session, &later_half, half))?;
        store.append(rest);
        // A damaged chunk across the split is reported by both halves: once is enough.
        for e in rest_errors {
            if !errors.contains(&e) {
                errors.push(e);
            }
        }
        Ok((store, errors))
    })
}

/// When a container came to be and stopped, as far as the session knows.
pub fn container_lifetime(c: &Container) -> (Option<u64>, Option<u64>) {
    (
        c.created_ts_nanos.or(c.started_ts_nanos),
        c.died_ts_nanos.or(c.destroyed_ts_nanos),
    )
}

/// The part of the stack a process is, from its name, when the session does not say (the
/// rule the recorder uses too).
pub fn guess_component(comm: &str, in_container: bool) -> Component {
    beefine_schema::story::roles::guess(comm, in_container)
}

/// Processes from the events, for sessions without a process table.
fn derive_processes(store: &Store, containers: &ContainerIndex) -> Vec<Process> {
    let mut by_tgid: HashMap<u32, Process> = HashMap::new();
    for (ctx_id, c) in store.contexts().iter().enumerate() {
        if c.tgid == 0 {
            continue;
        }
        let (first, _) = store.context_seen(ctx_id as u32);
        let comm = store.comm(c).to_owned();
        let container = containers.by_cgroup(c.cgroup_id);
        let p = by_tgid.entry(c.tgid).or_insert_with(|| Process {
            pid: c.tgid,
            ppid: 0,
            comm: comm.clone(),
            exe: None,
            argv: Vec::new(),
            start_ts_nanos: first,
            exit_ts_nanos: None,
            exit_code: None,
            container_id: None,
            component: guess_component(&comm, container.is_some()),
            cgroup_id: c.cgroup_id,
            ns: c.ns,
        });
        if first < p.start_ts_nanos {
            p.start_ts_nanos = first;
        }
        if let Some(i) = container {
            p.container_id = containers.get(i).map(|c| c.container_id.clone());
            p.cgroup_id = c.cgroup_id;
            p.ns = c.ns;
            p.comm = comm;
        }
    }
    for i in 0..store.len() as EventIdx {
        match store.data_of(i) {
            EventData::Fork(f) if f.parent_tgid != f.child_tgid => {
                let ts = store.ts_of(i);
                if let Some(p) = by_tgid.get_mut(&f.child_tgid) {
                    p.ppid = f.parent_tgid;
                    p.start_ts_nanos = p.start_ts_nanos.min(ts);
                }
            }
            EventData::Exit(exit) => {
                let tgid = store.tgid_of(i);
                let pid = store.get(i).map_or(0, |e| e.ctx.pid);
                // The thread-group leader's exit ends the process.
                if pid == tgid
                    && let Some(p) = by_tgid.get_mut(&tgid)
                {
                    p.exit_ts_nanos = Some(store.ts_of(i));
                    p.exit_code = Some(exit.code);
                }
            }
            _ => {}
        }
    }
    let mut list: Vec<Process> = by_tgid.into_values().collect();
    list.sort_by_key(|p| (p.start_ts_nanos, p.pid));
    list
}

/// Namespace inodes as people compare them: `pid:[4026532401]`.
pub fn ns_text(kind: &str, inode: u64) -> String {
    format!("{kind}:[{inode}]")
}

/// Namespaces of a task as a short text.
pub fn task_ns_text(ns: &Namespaces) -> String {
    format!(
        "{} {} {}",
        ns_text("pid", u64::from(ns.pid_ns)),
        ns_text("mnt", u64::from(ns.mnt_ns)),
        ns_text("net", u64::from(ns.net_ns))
    )
}
