//! The tracks of the Perfetto export and their descriptors.
//!
//! - one process track per process (a `ProcessDescriptor`: pid, name, command line, start,
//!   and labels naming its part of the stack and its container), holding its lifetime as
//!   slices (one per program it ran), with one thread track per task under it holding the
//!   task's syscalls and tracepoints;
//! - one track per container, holding its lifecycle (created, running, exited), with its
//!   chapters, daemon events and resource counters (CPU, memory, pids, network, block I/O)
//!   as child tracks;
//! - global tracks for what no task did: daemon events of no container, packets per
//!   interface, losses per source and CPU, story chapters of no container.
//!
//! Trace processor keeps process tracks at the root of their process (a process track's
//! parent is ignored), so processes name their container in their labels rather than sit
//! under its track.

use beefine_schema::{Container, LossSource, Process};
use rustc_hash::FxHashMap;

use super::proto::{
    CHILD_ORDERING_EXPLICIT, CounterDescriptor, ProcessDescriptor, ThreadDescriptor,
    TrackDescriptor, UNIT_COUNT, UNIT_SIZE_BYTES, UNIT_TIME_NS,
};

/// A process as the export knows it: a row of the `processes` table, or a thread group
/// seen only in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ProcKey {
    Table(usize),
    Seen(u32),
}

/// A process track and the lifetime slice open on it.
#[derive(Debug)]
pub struct ProcTrack {
    pub uuid: u64,
    /// The name of the open lifetime slice (the program), if one is open.
    pub open: Option<String>,
}

/// Tracks that belong to no task and no container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Global {
    /// Daemon events that name no container of the session.
    Daemon,
    /// Kernel events without a task (pid 0) other than packets.
    NoTask,
    Packets(u32),
    Lost(LossSource, u32),
    /// Chapters of no container (an image pulled for none).
    Story,
}

/// A resource counter of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    CpuTime,
    CpuUsage,
    Memory,
    Pids,
    NetRx,
    NetTx,
    BlkRead,
    BlkWrite,
}

impl Counter {
    pub const ALL: [Counter; 8] = [
        Self::CpuUsage,
        Self::CpuTime,
        Self::Memory,
        Self::Pids,
        Self::NetRx,
        Self::NetTx,
        Self::BlkRead,
        Self::BlkWrite,
    ];

    fn descriptor(self) -> (&'static str, CounterDescriptor) {
        let unit = |unit: i32| CounterDescriptor {
            unit: Some(unit),
            ..CounterDescriptor::default()
        };
        let shared = |unit: i32, key: &str| CounterDescriptor {
            unit: Some(unit),
            y_axis_share_key: Some(key.to_owned()),
            ..CounterDescriptor::default()
        };
        match self {
            Self::CpuUsage => (
                "cpu usage (% of one CPU)",
                CounterDescriptor {
                    unit_name: Some("%".to_owned()),
                    ..CounterDescriptor::default()
                },
            ),
            Self::CpuTime => ("cpu time (cumulative)", unit(UNIT_TIME_NS)),
            Self::Memory => ("memory", unit(UNIT_SIZE_BYTES)),
            Self::Pids => ("pids", unit(UNIT_COUNT)),
            Self::NetRx => (
                "network received (cumulative)",
                shared(UNIT_SIZE_BYTES, "net"),
            ),
            Self::NetTx => ("network sent (cumulative)", shared(UNIT_SIZE_BYTES, "net")),
            Self::BlkRead => ("block read (cumulative)", shared(UNIT_SIZE_BYTES, "blk")),
            Self::BlkWrite => ("block written (cumulative)", shared(UNIT_SIZE_BYTES, "blk")),
        }
    }
}

/// The tracks of one container.
#[derive(Debug)]
pub struct ContainerTracks {
    pub uuid: u64,
    docker: Option<u64>,
    chapters: Option<u64>,
    counters: Option<[u64; Counter::ALL.len()]>,
    /// The previous sample's time and CPU time, for the usage counter.
    pub last_cpu: Option<(u64, u64)>,
}

/// Child tracks of a container, in the order they are shown.
const RANK_CHAPTERS: i32 = 0;
const RANK_DOCKER: i32 = 1;
const RANK_COUNTERS: i32 = 2;

/// Every track of the export, created on first use.
#[derive(Debug, Default)]
pub struct Tracks {
    next_uuid: u64,
    processes: Vec<Process>,
    /// Rows of `processes` by pid, oldest first.
    by_pid: FxHashMap<u32, Vec<(u64, usize)>>,
    procs: FxHashMap<ProcKey, ProcTrack>,
    threads: FxHashMap<(u64, u32), u64>,
    containers: Vec<ContainerTracks>,
    /// Containers that appear only in events (samples, daemon events), by id.
    extra_containers: FxHashMap<String, usize>,
    globals: FxHashMap<Global, u64>,
    /// Descriptors of tracks created since the last [`Tracks::take_new`].
    new: Vec<TrackDescriptor>,
    pub count: u64,
}

/// The last path component of a program.
fn basename(path: &str) -> &str {
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
}

/// The name people know a process by: its program (argv[0]) when the recorder saw it,
/// else its comm.
pub fn process_name(p: &Process) -> String {
    p.argv
        .first()
        .map(|a| basename(a))
        .filter(|a| !a.is_empty())
        .unwrap_or(&p.comm)
        .to_owned()
}

/// `container web`.
pub fn container_label(c: &Container) -> String {
    if c.name.is_empty() {
        format!("container {}", c.short_id())
    } else {
        format!("container {}", c.name.trim_start_matches('/'))
    }
}

impl Tracks {
    pub fn new(mut processes: Vec<Process>, containers: &[Container]) -> Self {
        processes.sort_by_key(|p| (p.pid, p.start_ts_nanos));
        let mut by_pid: FxHashMap<u32, Vec<(u64, usize)>> = FxHashMap::default();
        for (i, p) in processes.iter().enumerate() {
            by_pid.entry(p.pid).or_default().push((p.start_ts_nanos, i));
        }
        let mut t = Self {
            next_uuid: 1,
            processes,
            by_pid,
            ..Self::default()
        };
        for c in containers {
            let description = format!("image {}, id {}", c.image, c.container_id);
            t.add_container(container_label(c), Some(description));
        }
        t
    }

    fn uuid(&mut self) -> u64 {
        let u = self.next_uuid;
        self.next_uuid += 1;
        self.count += 1;
        u
    }

    /// Descriptors to write before the next event.
    pub fn take_new(&mut self) -> Vec<TrackDescriptor> {
        std::mem::take(&mut self.new)
    }

    fn add_container(&mut self, label: String, description: Option<String>) -> usize {
        let uuid = self.uuid();
        self.new.push(TrackDescriptor {
            uuid: Some(uuid),
            name: Some(label),
            description,
            child_ordering: Some(CHILD_ORDERING_EXPLICIT),
            ..TrackDescriptor::default()
        });
        self.containers.push(ContainerTracks {
            uuid,
            docker: None,
            chapters: None,
            counters: None,
            last_cpu: None,
        });
        self.containers.len() - 1
    }

    /// The tracks of container `index` (of the session's containers), or of a container
    /// known only by its id.
    pub fn container(&mut self, index: Option<usize>, container_id: &str) -> usize {
        if let Some(i) = index {
            return i;
        }
        if let Some(&i) = self.extra_containers.get(container_id) {
            return i;
        }
        let short = &container_id[..container_id.floor_char_boundary(12)];
        let i = self.add_container(
            format!("container {short}"),
            Some(format!("id {container_id} (not in the containers table)")),
        );
        self.extra_containers.insert(container_id.to_owned(), i);
        i
    }

    pub fn container_tracks(&mut self, i: usize) -> &mut ContainerTracks {
        &mut self.containers[i]
    }

    fn child(&mut self, parent: u64, name: &str, rank: i32) -> u64 {
        let uuid = self.uuid();
        self.new.push(TrackDescriptor {
            uuid: Some(uuid),
            parent_uuid: Some(parent),
            name: Some(name.to_owned()),
            sibling_order_rank: Some(rank),
            ..TrackDescriptor::default()
        });
        uuid
    }

    pub fn container_docker(&mut self, i: usize) -> u64 {
        if let Some(u) = self.containers[i].docker {
            return u;
        }
        let parent = self.containers[i].uuid;
        let u = self.child(parent, "daemon events", RANK_DOCKER);
        self.containers[i].docker = Some(u);
        u
    }

    pub fn container_chapters(&mut self, i: usize) -> u64 {
        if let Some(u) = self.containers[i].chapters {
            return u;
        }
        let parent = self.containers[i].uuid;
        let u = self.child(parent, "chapters", RANK_CHAPTERS);
        self.containers[i].chapters = Some(u);
        u
    }

    pub fn counter(&mut self, i: usize, which: Counter) -> u64 {
        let slot = Counter::ALL.iter().position(|c| *c == which).unwrap_or(0);
        if let Some(ids) = self.containers[i].counters {
            return ids[slot];
        }
        let parent = self.containers[i].uuid;
        let mut ids = [0; Counter::ALL.len()];
        for (n, c) in Counter::ALL.iter().enumerate() {
            let (name, counter) = c.descriptor();
            let uuid = self.uuid();
            self.new.push(TrackDescriptor {
                uuid: Some(uuid),
                parent_uuid: Some(parent),
                name: Some(name.to_owned()),
                counter: Some(counter),
                sibling_order_rank: Some(RANK_COUNTERS + n as i32),
                ..TrackDescriptor::default()
            });
            ids[n] = uuid;
        }
        self.containers[i].counters = Some(ids);
        ids[slot]
    }

    pub fn global(&mut self, g: Global) -> u64 {
        if let Some(&u) = self.globals.get(&g) {
            return u;
        }
        let name = match g {
            Global::Daemon => "Docker daemon".to_owned(),
            Global::NoTask => "kernel (no task)".to_owned(),
            Global::Packets(1) => "packets on lo (ifindex 1)".to_owned(),
            Global::Packets(n) => format!("packets on ifindex {n}"),
            Global::Lost(source, cpu) => format!("lost: {} cpu {cpu}", source.name()),
            Global::Story => "image pulls".to_owned(),
        };
        let uuid = self.uuid();
        self.new.push(TrackDescriptor {
            uuid: Some(uuid),
            name: Some(name),
            ..TrackDescriptor::default()
        });
        self.globals.insert(g, uuid);
        uuid
    }

    /// The process row of thread group `tgid` at `ts`: the newest one started by then.
    fn row(&self, tgid: u32, ts: u64) -> Option<usize> {
        let rows = self.by_pid.get(&tgid)?;
        let n = rows.partition_point(|(start, _)| *start <= ts);
        rows.get(n.checked_sub(1)?).map(|(_, i)| *i)
    }

    /// The process track of `tgid` at `ts`, and the time its lifetime starts when it was
    /// just created. `label` names the container of an unknown process.
    pub fn process(
        &mut self,
        tgid: u32,
        ts: u64,
        comm: &str,
        label: Option<&str>,
        container_of: &dyn Fn(&str) -> Option<String>,
    ) -> (&mut ProcTrack, Option<u64>) {
        let key = self
            .row(tgid, ts)
            .map_or(ProcKey::Seen(tgid), ProcKey::Table);
        let mut started = None;
        if !self.procs.contains_key(&key) {
            let uuid = self.uuid();
            let descriptor = match key {
                ProcKey::Table(i) => {
                    let p = &self.processes[i];
                    let mut labels = vec![p.component.name().to_owned()];
                    labels.extend(p.container_id.as_deref().and_then(container_of));
                    started = Some(p.start_ts_nanos);
                    ProcessDescriptor {
                        pid: Some(p.pid as i32),
                        cmdline: p.argv.clone(),
                        process_name: Some(process_name(p)),
                        start_timestamp_ns: Some(p.start_ts_nanos as i64),
                        process_labels: labels,
                    }
                }
                ProcKey::Seen(_) => ProcessDescriptor {
                    pid: Some(tgid as i32),
                    process_name: Some(comm.to_owned()),
                    process_labels: label.map(str::to_owned).into_iter().collect(),
                    ..ProcessDescriptor::default()
                },
            };
            self.new.push(TrackDescriptor {
                uuid: Some(uuid),
                process: Some(descriptor),
                ..TrackDescriptor::default()
            });
            self.procs.insert(key, ProcTrack { uuid, open: None });
            started = Some(started.unwrap_or(ts).min(ts));
        }
        let track = self.procs.get_mut(&key).expect("inserted above");
        (track, started)
    }

    /// The thread track of task `pid` in the process track `process`.
    pub fn thread(&mut self, process: u64, tgid: u32, pid: u32, comm: &str) -> u64 {
        if let Some(&u) = self.threads.get(&(process, pid)) {
            return u;
        }
        let uuid = self.uuid();
        self.new.push(TrackDescriptor {
            uuid: Some(uuid),
            parent_uuid: Some(process),
            thread: Some(ThreadDescriptor {
                pid: Some(tgid as i32),
                tid: Some(i64::from(pid)),
                thread_name: Some(comm.to_owned()),
            }),
            ..TrackDescriptor::default()
        });
        self.threads.insert((process, pid), uuid);
        uuid
    }

    /// Process tracks whose lifetime slice is still open (closed at the end of the session).
    pub fn open_processes(&mut self) -> impl Iterator<Item = &mut ProcTrack> {
        self.procs.values_mut().filter(|p| p.open.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, start: u64, argv: &[&str]) -> Process {
        Process {
            pid,
            ppid: 1,
            comm: "exe".into(),
            exe: None,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            start_ts_nanos: start,
            exit_ts_nanos: None,
            exit_code: None,
            container_id: None,
            component: beefine_schema::Component::Dockerd,
            cgroup_id: 1,
            ns: Default::default(),
        }
    }

    #[test]
    fn a_reused_pid_gets_a_new_process_track() {
        let mut t = Tracks::new(
            vec![process(7, 100, &["/bin/a"]), process(7, 500, &["b"])],
            &[],
        );
        let none = |_: &str| None;
        let first = t.process(7, 200, "a", None, &none).0.uuid;
        assert_eq!(t.process(7, 300, "a", None, &none).0.uuid, first);
        let second = t.process(7, 600, "b", None, &none).0.uuid;
        assert_ne!(first, second);
        let names: Vec<_> = t
            .take_new()
            .into_iter()
            .filter_map(|d| d.process?.process_name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        // Before any row: a process seen only in events.
        let (seen, started) = t.process(7, 50, "early", None, &none);
        assert_ne!(seen.uuid, first);
        assert_eq!(started, Some(50));
    }

    #[test]
    fn thread_tracks_are_per_process_and_task() {
        let mut t = Tracks::default();
        let a = t.thread(10, 5, 5, "x");
        assert_eq!(t.thread(10, 5, 5, "x"), a);
        assert_ne!(t.thread(11, 5, 5, "x"), a);
        assert_eq!(t.take_new().len(), 2);
    }
}
