//! The session thread: owns the writer, completes events with what the kernel cannot know
//! (the paths of the fds of I/O summaries and fchdir, the path of clone3's cgroup, the
//! containers of cgroups), and keeps the process table.

use beefine_schema::{CgroupAttachInfo, CgroupMkdirInfo, ExecArgs, ExitInfo, ForkInfo};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use beefine_schema::{
    Component, Container, CriInfo, DaemonSample, DockerEvent, Event, EventData, Image, Kind, Layer,
    Loss, Namespaces, Pod, Probe, Process, Sample, SessionWriter, Str, WriteSummary,
};
use rustc_hash::FxHashMap;

use crate::cgroups;
use crate::scope::{self, ProcInfo};
use crate::stats::Stats;

/// What the other threads send to the session thread.
#[derive(Debug)]
pub enum SessionMsg {
    Events(Vec<Event>),
    Loss(Loss),
    /// Processes found in /proc at start, with the ones in scope.
    Seed {
        procs: Vec<ProcInfo>,
        boot_ticks_per_sec: u64,
    },
    /// The command run after `--` (its descendants are the traced command too).
    Command {
        pid: u32,
    },
    /// cgroup v2 ids found at start, with their paths.
    Cgroups(Vec<(u64, String)>),
    Container(Box<Container>),
    Pod(Box<Pod>),
    /// A CRI call or a change of state the CRI runtime reported.
    CriEvent(Box<CriEvent>),
    Image(Box<Image>),
    Layer(Box<Layer>),
    DockerEvent(Box<DockerEvent>),
    Sample(Box<Sample>),
    DaemonSample(DaemonSample),
    Probe(Box<Probe>),
    /// A metadata value (written with the next commit).
    Meta {
        key: &'static str,
        value: String,
    },
    /// Write everything and finish at this boot-clock time.
    Finish {
        end_ts_nanos: u64,
    },
}

/// A CRI lifecycle call the recorder made (`method` set, with its duration and error), or a
/// change of state the runtime reported (`state`: `created`, `started`, `exited`,
/// `notready`, `removed`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CriEvent {
    pub ts_nanos: u64,
    pub duration_nanos: u64,
    pub method: String,
    pub state: String,
    pub pod_id: String,
    pub container_id: String,
    /// The pod's `namespace/name`, the container's name or the image reference.
    pub name: String,
    /// The gRPC status of a failed call (`NotFound: …`); empty when it succeeded.
    pub error: String,
}

/// Derives the story of a finished session file and stores its chapters in it.
pub fn store_chapters(path: &std::path::Path) -> Result<usize> {
    use beefine_schema::story::{Story, StoryInput, write_chapters};
    let session = beefine_schema::Session::open(path)?;
    let input = StoryInput::read(&session)?;
    let story = Story::derive(input, &session, |_| {})?;
    drop(session);
    write_chapters(path, &story.chapters)?;
    Ok(story.chapters.len())
}

struct ProcEntry {
    row: Process,
    dirty: bool,
}

/// The session file being written, and what the events it receives are completed with.
pub struct SessionBuilder {
    writer: SessionWriter,
    stats: Arc<Stats>,
    procs: FxHashMap<u32, ProcEntry>,
    /// Rows of ended processes not written yet.
    ended: Vec<Process>,
    /// Recently ended processes, for events that arrive after their exit (swept I/O).
    exited: FxHashMap<u32, Process>,
    fd_paths: FxHashMap<(u32, i32), Str>,
    cgroup_paths: FxHashMap<u64, String>,
    containers: BTreeMap<String, Container>,
    containers_dirty: bool,
    pods: BTreeMap<String, Pod>,
    cgroup_root: Option<PathBuf>,
}

impl SessionBuilder {
    pub fn new(writer: SessionWriter, stats: Arc<Stats>) -> Self {
        Self {
            writer,
            stats,
            procs: FxHashMap::default(),
            ended: Vec::new(),
            exited: FxHashMap::default(),
            fd_paths: FxHashMap::default(),
            cgroup_paths: FxHashMap::default(),
            containers: BTreeMap::new(),
            containers_dirty: false,
            pods: BTreeMap::new(),
            cgroup_root: cgroups::v2_mount(),
        }
    }

    /// Handles messages until `Finish` (or until every sender is gone).
    pub fn run(mut self, rx: Receiver<SessionMsg>) -> Result<WriteSummary> {
        let mut end = None;
        let mut last_flush = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(SessionMsg::Finish { end_ts_nanos }) => {
                    end = Some(end_ts_nanos);
                    break;
                }
                Ok(msg) => self.handle(msg)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_flush.elapsed() >= Duration::from_millis(200) && self.writer_due() {
                self.flush_rows()?;
                last_flush = Instant::now();
            }
            self.writer
                .tick()
                .context("committing to the session file")?;
        }
        // Messages sent before Finish are all in already (one channel, in order).
        self.flush_rows()?;
        for p in self.procs.values_mut() {
            p.dirty = true;
        }
        self.flush_rows()?;
        let path = self.writer.path().to_owned();
        let summary = self
            .writer
            .finish(end)
            .context("finishing the session file")?;
        // The chapters, derived from what was written. The session is complete without
        // them (viewers derive them), so a failure is reported, not fatal.
        if let Err(e) = store_chapters(&path) {
            eprintln!(
                "beefine-record: the chapters were not stored in {}: {e:#}",
                path.display()
            );
        }
        Ok(summary)
    }

    fn writer_due(&self) -> bool {
        !self.ended.is_empty() || self.containers_dirty || self.procs.values().any(|p| p.dirty)
    }

    fn handle(&mut self, msg: SessionMsg) -> Result<()> {
        match msg {
            SessionMsg::Events(events) => {
                let n = events.len() as u64;
                for e in events {
                    self.event(e)?;
                }
                self.stats.events.fetch_add(n, Ordering::Relaxed);
            }
            SessionMsg::Loss(l) => self.writer.loss(&l)?,
            SessionMsg::Seed {
                procs,
                boot_ticks_per_sec,
            } => {
                for p in procs {
                    let start = p.start_ticks * 1_000_000_000 / boot_ticks_per_sec.max(1);
                    let row = self.row_from_proc(&p, start);
                    self.procs.insert(p.pid, ProcEntry { row, dirty: true });
                }
            }
            SessionMsg::Command { pid } => {
                let entry = self.entry(pid, 0);
                entry.row.component = Component::Command;
                entry.dirty = true;
            }
            SessionMsg::Cgroups(list) => {
                for (id, path) in list {
                    self.learn_cgroup(id, path);
                }
            }
            SessionMsg::Container(c) => self.merge_container(*c),
            SessionMsg::Pod(p) => self.merge_pod(*p)?,
            SessionMsg::CriEvent(e) => self.cri_event(&e)?,
            SessionMsg::Image(i) => self.writer.upsert_image(&i)?,
            SessionMsg::Layer(l) => self.writer.upsert_layer(&l)?,
            SessionMsg::DockerEvent(e) => self.writer.docker_event(&e)?,
            SessionMsg::Sample(s) => self.writer.resource_sample(&s)?,
            SessionMsg::DaemonSample(d) => self.writer.daemon_sample(&d)?,
            SessionMsg::Probe(p) => self.writer.upsert_probe(&p)?,
            SessionMsg::Meta { key, value } => self.writer.set_meta(key, &value)?,
            SessionMsg::Finish { .. } => {}
        }
        Ok(())
    }

    fn learn_cgroup(&mut self, id: u64, path: String) {
        if let Some(cid) = cgroups::container_id(&path) {
            let cid = cid.to_owned();
            let c = self
                .containers
                .entry(cid.clone())
                .or_insert_with(|| Container {
                    container_id: cid,
                    inspect_json: "{}".into(),
                    ..Container::default()
                });
            if c.cgroup_id.is_none() {
                c.cgroup_id = Some(id);
                c.cgroup_path = Some(path.clone());
                self.containers_dirty = true;
            }
        }
        self.cgroup_paths.insert(id, path);
    }

    /// Merges what the daemon says about a container with what was known (from cgroups or
    /// an earlier inspect): known values are kept unless the new data has them.
    fn merge_container(&mut self, new: Container) {
        let c = match self.containers.remove(&new.container_id) {
            None => new,
            Some(old) => {
                let text = |n: String, o: String| if n.is_empty() { o } else { n };
                fn list<T>(n: Vec<T>, o: Vec<T>) -> Vec<T> {
                    if n.is_empty() { o } else { n }
                }
                Container {
                    container_id: new.container_id,
                    name: text(new.name, old.name),
                    image: text(new.image, old.image),
                    image_id: text(new.image_id, old.image_id),
                    init_pid: new.init_pid.or(old.init_pid),
                    cgroup_id: new.cgroup_id.or(old.cgroup_id),
                    cgroup_path: new.cgroup_path.or(old.cgroup_path),
                    created_ts_nanos: new.created_ts_nanos.or(old.created_ts_nanos),
                    started_ts_nanos: new.started_ts_nanos.or(old.started_ts_nanos),
                    died_ts_nanos: new.died_ts_nanos.or(old.died_ts_nanos),
                    destroyed_ts_nanos: new.destroyed_ts_nanos.or(old.destroyed_ts_nanos),
                    exit_code: new.exit_code.or(old.exit_code),
                    namespaces: list(new.namespaces, old.namespaces),
                    lower_dirs: list(new.lower_dirs, old.lower_dirs),
                    upper_dir: new.upper_dir.or(old.upper_dir),
                    work_dir: new.work_dir.or(old.work_dir),
                    merged_dir: new.merged_dir.or(old.merged_dir),
                    inspect_json: if new.inspect_json == "{}" {
                        old.inspect_json
                    } else {
                        new.inspect_json
                    },
                    pod_id: new.pod_id.or(old.pod_id),
                }
            }
        };
        if let Some(id) = c.cgroup_id {
            self.cgroup_paths
                .entry(id)
                .or_insert_with(|| c.cgroup_path.clone().unwrap_or_default());
        }
        self.containers.insert(c.container_id.clone(), c);
        self.containers_dirty = true;
    }

    /// Keeps what was known of a pod that a later description lacks (the sandbox's process
    /// and namespaces once it stopped, the first time it was seen stopped).
    fn merge_pod(&mut self, mut new: Pod) -> Result<()> {
        if let Some(old) = self.pods.get(&new.pod_id) {
            if new.sandbox_pid.is_none() {
                new.sandbox_pid = old.sandbox_pid;
            }
            if new.namespaces.is_empty() {
                new.namespaces.clone_from(&old.namespaces);
            }
            if new.ip.is_none() {
                new.ip.clone_from(&old.ip);
            }
            new.created_ts_nanos = old.created_ts_nanos.or(new.created_ts_nanos);
            new.stopped_ts_nanos = old.stopped_ts_nanos.or(new.stopped_ts_nanos);
            new.removed_ts_nanos = old.removed_ts_nanos.or(new.removed_ts_nanos);
        }
        self.writer.upsert_pod(&new)?;
        self.pods.insert(new.pod_id.clone(), new);
        Ok(())
    }

    /// A CRI call or reported change, on the timeline (kind `cri`). A pod's own events name
    /// its sandbox as their container.
    fn cri_event(&mut self, e: &CriEvent) -> Result<()> {
        let container_id = if e.container_id.is_empty() {
            &e.pod_id
        } else {
            &e.container_id
        };
        self.writer.push(Event::untasked(
            e.ts_nanos,
            EventData::Cri(Box::new(CriInfo {
                method: Str::from(e.method.as_str()),
                state: Str::from(e.state.as_str()),
                container_id: Str::from(container_id.as_str()),
                pod_id: Str::from(e.pod_id.as_str()),
                name: Str::from(e.name.as_str()),
                duration_nanos: e.duration_nanos,
                error: Str::from(e.error.as_str()),
            })),
        ))?;
        Ok(())
    }

    /// The container a cgroup id belongs to, looking the id up in the hierarchy if unknown.
    fn container_of(&mut self, cgroup_id: u64) -> Option<String> {
        if cgroup_id <= 1 {
            return None;
        }
        self.cgroup_path(cgroup_id)
            .and_then(cgroups::container_id)
            .map(str::to_owned)
    }

    /// The path of a cgroup v2 id (relative to the hierarchy's mount), looked up in the
    /// hierarchy once when it is unknown; `None` when it is not there either.
    fn cgroup_path(&mut self, cgroup_id: u64) -> Option<&str> {
        if !self.cgroup_paths.contains_key(&cgroup_id) {
            // A cgroup made before recording or missed: find it once.
            let found = self
                .cgroup_root
                .as_deref()
                .map(cgroups::walk)
                .unwrap_or_default();
            for (id, path) in found {
                if !self.cgroup_paths.contains_key(&id) {
                    self.learn_cgroup(id, path);
                }
            }
            self.cgroup_paths.entry(cgroup_id).or_default();
        }
        self.cgroup_paths
            .get(&cgroup_id)
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }

    fn row_from_proc(&mut self, p: &ProcInfo, start_ts_nanos: u64) -> Process {
        let component = scope::classify(&p.comm)
            .or_else(|| p.exe.as_deref().and_then(scope::classify))
            .unwrap_or(if scope::in_container_cgroup(&p.cgroup) {
                Component::Workload
            } else {
                Component::Other
            });
        Process {
            pid: p.pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            exe: p.exe.clone(),
            argv: p.argv.clone(),
            start_ts_nanos,
            exit_ts_nanos: None,
            exit_code: None,
            container_id: None,
            component,
            cgroup_id: 0,
            ns: Namespaces::default(),
        }
    }

    /// The process table entry of `tgid`, created from /proc when first seen.
    fn entry(&mut self, tgid: u32, ts_nanos: u64) -> &mut ProcEntry {
        if !self.procs.contains_key(&tgid) {
            let row = match scope::read_proc(std::path::Path::new("/proc"), tgid) {
                Some(p) => self.row_from_proc(&p, ts_nanos),
                None => Process {
                    pid: tgid,
                    ppid: 0,
                    comm: String::new(),
                    exe: None,
                    argv: Vec::new(),
                    start_ts_nanos: ts_nanos,
                    exit_ts_nanos: None,
                    exit_code: None,
                    container_id: None,
                    component: Component::Other,
                    cgroup_id: 0,
                    ns: Namespaces::default(),
                },
            };
            self.procs.insert(tgid, ProcEntry { row, dirty: true });
        }
        self.procs.get_mut(&tgid).expect("inserted above")
    }

    fn event(&mut self, mut e: Event) -> Result<()> {
        let tgid = e.header.tgid;
        match &mut e.data {
            EventData::CgroupMkdir(CgroupMkdirInfo {
                path,
                target_cgroup_id,
                hierarchy_id: 0,
            })
            | EventData::CgroupAttach(CgroupAttachInfo {
                path,
                target_cgroup_id,
                hierarchy_id: 0,
                ..
            }) if !self.cgroup_paths.contains_key(target_cgroup_id) => {
                self.learn_cgroup(*target_cgroup_id, path.to_string());
            }
            EventData::Openat(a) | EventData::Openat2(a) => {
                if let Some(fd) = e.result.filter(|r| *r >= 0) {
                    self.fd_paths.insert((tgid, fd as i32), a.path.clone());
                }
            }
            EventData::OpenTree(a) => {
                if let Some(fd) = e.result.filter(|r| *r >= 0) {
                    self.fd_paths.insert((tgid, fd as i32), a.path.clone());
                }
            }
            // The directory stays open: its path stays known.
            EventData::Fchdir(a) if a.path.is_none() => {
                a.path = self.fd_paths.get(&(tgid, a.fd)).cloned();
            }
            EventData::Clone3(a) if a.target_cgroup_id != 0 && a.target_cgroup.is_none() => {
                a.target_cgroup = self.cgroup_path(a.target_cgroup_id).map(Str::from);
            }
            EventData::FileIo(io) => {
                if io.path.is_none()
                    && let Some(known) = self.fd_paths.remove(&(tgid, io.fd))
                {
                    io.path = Some(known);
                }
                if e.header.comm.is_empty() {
                    // Swept from the kernel's table after the process ended.
                    let known = self
                        .procs
                        .get(&tgid)
                        .map(|p| &p.row)
                        .or(self.exited.get(&tgid));
                    if let Some(p) = known {
                        e.header.comm = p.comm.as_str().into();
                        e.header.cgroup_id = p.cgroup_id;
                        e.header.ns = p.ns;
                    }
                }
            }
            // A user probe's record names at most its process and cgroup: the rest comes
            // from the process table when it knows the process, which the record does not
            // change.
            EventData::Custom(_) => {
                let known = self
                    .procs
                    .get(&tgid)
                    .map(|p| &p.row)
                    .or(self.exited.get(&tgid));
                if let Some(p) = known.filter(|_| tgid != 0) {
                    if e.header.comm.is_empty() {
                        e.header.comm = p.comm.as_str().into();
                    }
                    if e.header.cgroup_id == 0 {
                        e.header.cgroup_id = p.cgroup_id;
                    }
                    e.header.ns = p.ns;
                }
            }
            _ => {}
        }
        if tgid != 0 && !matches!(e.kind(), Kind::TcpState | Kind::Custom) {
            self.observe_process(&e);
        }
        self.writer.push(e)?;
        Ok(())
    }

    /// Keeps the process table up to date with an event of that process.
    fn observe_process(&mut self, e: &Event) {
        let h = &e.header;
        if !self.procs.contains_key(&h.tgid) && self.exited.contains_key(&h.tgid) {
            // After its exit (a swept summary): the row is final.
            if !matches!(e.data, EventData::Fork(_) | EventData::Exec(_)) {
                return;
            }
        }
        let container = self.container_of(h.cgroup_id);
        match &e.data {
            EventData::Fork(ForkInfo {
                child_tgid,
                parent_tgid,
                ..
            }) if child_tgid != parent_tgid => {
                let parent = self.entry(*parent_tgid, h.ts_nanos).row.clone();
                // A reused pid: the old process ended; its row was written then.
                if let Some(old) = self.procs.remove(child_tgid)
                    && old.row.exit_ts_nanos.is_none()
                {
                    self.ended.push(old.row);
                }
                let row = Process {
                    pid: *child_tgid,
                    ppid: *parent_tgid,
                    start_ts_nanos: h.ts_nanos,
                    exit_ts_nanos: None,
                    exit_code: None,
                    container_id: container.clone(),
                    cgroup_id: h.cgroup_id,
                    ns: h.ns,
                    ..parent
                };
                self.procs
                    .insert(*child_tgid, ProcEntry { row, dirty: true });
            }
            EventData::Exec(ExecArgs { filename, argv }) => {
                let in_container = container.is_some();
                let entry = self.entry(h.tgid, h.ts_nanos);
                let row = &mut entry.row;
                let previous = row.component;
                row.comm = h.comm.to_string();
                row.exe = Some(filename.to_string());
                row.argv = argv.iter().map(|a| a.to_string()).collect();
                row.component = beefine_schema::story::roles::after_exec(
                    previous,
                    &h.comm,
                    filename,
                    in_container,
                );
                entry.dirty = true;
            }
            EventData::Exit(ExitInfo { code }) => {
                let entry = self.entry(h.tgid, h.ts_nanos);
                entry.row.exit_ts_nanos = Some(h.ts_nanos);
                entry.row.exit_code = Some(*code);
                if let Some(p) = self.procs.remove(&h.tgid) {
                    if self.exited.len() >= 1 << 16 {
                        self.exited.clear();
                    }
                    self.exited.insert(h.tgid, p.row.clone());
                    self.ended.push(p.row);
                }
                self.fd_paths.retain(|(t, _), _| *t != h.tgid);
                return;
            }
            _ => {}
        }
        let entry = self.entry(h.tgid, h.ts_nanos);
        let row = &mut entry.row;
        if row.cgroup_id != h.cgroup_id || row.ns != h.ns || row.container_id != container {
            row.cgroup_id = h.cgroup_id;
            row.ns = h.ns;
            if container.is_some() {
                row.container_id = container;
            }
            if row.comm.is_empty() {
                row.comm = h.comm.to_string();
            }
            entry.dirty = true;
        }
    }

    /// A container that ended before its runtime was asked (a short-lived one) has no
    /// namespaces from /proc: its init process's events tell them (the kernel stamps each
    /// event with the task's namespaces, the inodes of /proc/PID/ns/*).
    /// Whether it filled any.
    fn namespaces_from_events(&mut self) -> bool {
        let mut filled = false;
        for c in self.containers.values_mut() {
            if !c.namespaces.is_empty() {
                continue;
            }
            // Without an init pid (it exited before its runtime said it), its first
            // process: the one that executed the entrypoint, in the container's namespaces.
            let id = c.container_id.as_str();
            let first = || {
                self.procs
                    .values()
                    .map(|p| &p.row)
                    .chain(self.exited.values())
                    .filter(|p| {
                        p.container_id.as_deref() == Some(id)
                            && matches!(p.component, Component::ContainerInit | Component::Workload)
                    })
                    .min_by_key(|p| (p.start_ts_nanos, p.pid))
                    .map(|p| p.pid)
            };
            let Some(pid) = c.init_pid.or_else(first) else {
                continue;
            };
            let row = self
                .procs
                .get(&pid)
                .map(|p| &p.row)
                .or(self.exited.get(&pid))
                .filter(|p| p.container_id.as_deref() == Some(c.container_id.as_str()));
            if let Some(p) = row {
                c.namespaces =
                    p.ns.by_type()
                        .into_iter()
                        .filter(|(_, inode)| *inode != 0)
                        .map(|(kind, inode)| (kind.to_owned(), u64::from(inode)))
                        .collect();
                filled |= !c.namespaces.is_empty();
            }
        }
        filled
    }

    fn flush_rows(&mut self) -> Result<()> {
        for row in self.ended.drain(..) {
            self.writer.upsert_process(&row)?;
        }
        for p in self.procs.values_mut().filter(|p| p.dirty) {
            self.writer.upsert_process(&p.row)?;
            p.dirty = false;
        }
        if self.namespaces_from_events() {
            self.containers_dirty = true;
        }
        if self.containers_dirty {
            for c in self.containers.values() {
                self.writer.upsert_container(c)?;
            }
            self.stats
                .containers
                .store(self.containers.len() as u64, Ordering::Relaxed);
            self.containers_dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_schema::{
        Clone3Args, EventHeader, FchdirArgs, OpenArgs, Session, SessionInfo, WriterOptions,
    };

    fn event(ts_nanos: u64, result: Option<i64>, data: EventData) -> Event {
        Event {
            header: EventHeader {
                ts_nanos,
                pid: 42,
                tgid: 42,
                comm: "runc".into(),
                cgroup_id: 0,
                ns: Namespaces::default(),
            },
            result,
            data,
        }
    }

    /// fchdir names the directory its fd was opened as, clone3 the cgroup its id is.
    #[test]
    fn fds_and_cgroup_ids_get_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.beefine");
        let info = SessionInfo {
            session_name: "s".into(),
            command: vec![],
            tool_version: "test".into(),
            host_kernel: String::new(),
            hostname: String::new(),
            clock_offset_nanos: 0,
            start_ts_nanos: 0,
        };
        let writer = SessionWriter::create(&path, &info, WriterOptions::default()).unwrap();
        let mut b = SessionBuilder::new(writer, Arc::new(Stats::default()));
        b.learn_cgroup(9001, "/pod/runtime".into());
        let open = OpenArgs {
            dirfd: -100,
            path: "/run/rootfs".into(),
            flags: 0,
            mode: 0,
        };
        b.event(event(1, Some(7), EventData::Openat(open))).unwrap();
        let fchdir = |fd| EventData::Fchdir(FchdirArgs { fd, path: None });
        b.event(event(2, Some(0), fchdir(7))).unwrap();
        b.event(event(3, Some(-9), fchdir(8))).unwrap();
        let clone3 = |target_cgroup_id| {
            EventData::Clone3(Box::new(Clone3Args {
                flags: 0x2_0000_0000,
                exit_signal: 17,
                cgroup_fd: 5,
                target_cgroup_id,
                target_cgroup: None,
                set_tid: vec![],
            }))
        };
        b.event(event(4, Some(43), clone3(9001))).unwrap();
        b.writer.finish(Some(5)).unwrap();
        let events = Session::open(&path).unwrap().all_events().unwrap();
        let paths: Vec<Option<String>> = events
            .iter()
            .filter_map(|e| match &e.data {
                EventData::Fchdir(a) => Some(a.path.as_deref().map(str::to_owned)),
                EventData::Clone3(a) => Some(a.target_cgroup.as_deref().map(str::to_owned)),
                _ => None,
            })
            .collect();
        assert_eq!(
            paths,
            [
                Some("/run/rootfs".to_string()),
                None,
                Some("/pod/runtime".to_string())
            ]
        );
    }
}
