//! Comparing two sessions of the same image: what changes when an isolation option does.
//!
//! Each session is first reduced to a [`Digest`] (one pass of its story, [`digest`]): the
//! chapters of one of its containers, the calls its events make as they would be in any run
//! ([`normalize::CallKey`]: kind, process role and name, decoded arguments, outcome — pids,
//! ids, descriptors, times, inodes, container ids and random names left out), that
//! container's state while it runs (namespaces, mounts as it sees them) and the settings
//! its runtime reports. [`compare`] then puts two digests side by side ([`Diff`]): the
//! chapters aligned with their durations, the calls only one of them makes, the namespaces,
//! mounts and settings that differ, and a few headlines in words ("no CLONE_NEWNET").
//!
//! Memory is bounded: a digest holds at most [`MAX_CALL_KEYS`] distinct calls (events past
//! that are counted, not compared) and a diff lists at most [`MAX_LISTED`] calls per side.

pub mod normalize;

mod diff;
mod headlines;
mod settings;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

use rustc_hash::FxHashMap;
use serde::Serialize;

pub use diff::{
    CallCount, CallsDiff, ChapterRow, ChapterSide, Diff, MountDiff, MountSide, NamespaceDiff,
    SettingDiff, compare,
};
use normalize::CallKey;

use crate::event::text::CSIGNAL;
use crate::event::{Event, EventData};
use crate::names::CLONE_NEW_MASK;
use crate::story::fact::Ev;
use crate::story::{Chapter, ChapterKind, ContainerState, EventSource, Note, Story, StoryInput};
use crate::{Query, Session};

/// Distinct calls a digest keeps at most.
pub const MAX_CALL_KEYS: usize = 100_000;
/// Calls a diff lists at most on each side (the totals count them all).
pub const MAX_LISTED: usize = 2_000;
/// Containers whose namespace calls are tallied (the others are not compared).
const MAX_TALLIED: usize = 256;
/// Program names kept at most.
const MAX_PROGRAMS: usize = 4_096;
/// `setns` calls remembered at most.
const MAX_JOINS: usize = 16_384;

/// How many times a call happened, and whether the story expects it to fail (its noise
/// rules: a library searched along a path, a capability probed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStat {
    pub count: u32,
    pub expected: bool,
}

/// A successful `setns`: the namespace type (`NS_TYPES` order), the inode joined, and the
/// container the story says it joined or worked for.
#[derive(Clone, Copy, Debug)]
struct JoinRec {
    ns: usize,
    inode: u64,
    container: Option<usize>,
}

/// Which container of a session to compare.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pick<'a> {
    /// A full id, the start of one, or a name.
    pub container: Option<&'a str>,
    /// Prefer a container of this image (the other session's).
    pub image: Option<&'a str>,
}

/// What a session is, in a few words.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Side {
    pub session_name: String,
    /// What was recorded (the command after `--`, or the recorder's arguments).
    pub command: Vec<String>,
    pub duration_nanos: u64,
    pub events: u64,
    pub container_id: Option<String>,
    pub container_name: Option<String>,
    pub image: Option<String>,
    /// The time of the state compared, from the start of the session.
    pub state_offset_nanos: Option<u64>,
    /// Chunks that could not be read (their events are not compared).
    pub damaged_chunks: usize,
}

/// What the calls that worked for one container did to isolate it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `CLONE_NEW*` bits of its successful `unshare`, `clone` and `clone3` calls.
    pub new_ns_bits: u64,
    /// Successful `setns` calls into its namespaces, by type (`NS_TYPES` order).
    pub setns: [u32; 8],
    /// The effective capabilities its last `capset` installed.
    pub caps_effective: Option<u64>,
    /// Seccomp filters its processes installed (`seccomp` or `prctl(PR_SET_SECCOMP)`).
    pub seccomp_filters: u32,
    /// The user id its processes last set.
    pub uid: Option<u32>,
    /// Files of its cgroup that were written (`memory.limit_in_bytes`, `pids.max`: its
    /// limits).
    pub cgroup_files: std::collections::BTreeSet<String>,
}

/// cgroup controllers, whose files are named `<controller>.<setting>`.
const CONTROLLERS: &[&str] = &[
    "memory", "cpu", "cpuset", "cpuacct", "pids", "blkio", "io", "hugetlb", "devices", "freezer",
    "net_cls", "net_prio", "rdma", "misc",
];
/// cgroup file names kept at most per container.
const MAX_CGROUP_FILES: usize = 256;
/// `O_WRONLY | O_RDWR`.
const O_WRITE: u64 = 0o3;

/// The cgroup setting a path names (`memory/docker/<id>/memory.limit_in_bytes` →
/// `memory.limit_in_bytes`), if it names one.
fn cgroup_file(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next()?;
    let (controller, rest) = name.split_once('.')?;
    (CONTROLLERS.contains(&controller) && !rest.is_empty()).then_some(name)
}

/// A session reduced to what is compared.
#[derive(Clone, Debug, Default)]
pub struct Digest {
    pub side: Side,
    /// The chapters of the container (and of pulls for no container), in time order.
    pub chapters: Vec<Chapter>,
    /// Every compared call with how many times it happened.
    pub calls: FxHashMap<CallKey, CallStat>,
    /// Events of compared kinds that did not fit in [`MAX_CALL_KEYS`].
    pub uncounted: u64,
    /// The container's state while it runs.
    pub state: Option<ContainerState>,
    /// What its runtime says of its isolation and limits (`HostConfig.NetworkMode`, …).
    pub settings: BTreeMap<String, String>,
    /// Its namespace calls.
    pub tally: Tally,
    /// Programs executed (file names), with how many times.
    pub programs: BTreeMap<String, u32>,
}

/// Collects calls while the story is derived.
#[derive(Default)]
struct Collect {
    calls: FxHashMap<CallKey, CallStat>,
    uncounted: u64,
    tallies: Vec<Tally>,
    joins: Vec<JoinRec>,
    programs: BTreeMap<String, u32>,
}

/// The name a program is known by: its file name, or for one run through `/proc`
/// (`/proc/self/exe`, `/proc/1234/exe`, a descriptor) the name it gave itself
/// (`libnetwork-setkey`, runc's `runc:[1:CHILD]`).
fn program_name(filename: &str, argv0: Option<&str>) -> String {
    let base = |p: &str| normalize::text(p.rsplit('/').next().unwrap_or(p));
    match argv0.filter(|a| !a.is_empty()) {
        Some(a) if filename.starts_with("/proc/") => base(a),
        _ if filename.starts_with("/proc/") => normalize::text(filename),
        _ => base(filename),
    }
}

impl Collect {
    fn observe(&mut self, e: &Event<&str>, note: &Note) {
        if let Some(key) = normalize::call_key(e, note.role) {
            let expected = note.expected.is_some();
            if let Some(n) = self.calls.get_mut(&key) {
                n.count = n.count.saturating_add(1);
                n.expected |= expected;
            } else if self.calls.len() < MAX_CALL_KEYS {
                self.calls.insert(key, CallStat { count: 1, expected });
            } else {
                self.uncounted += 1;
            }
        }
        let ok = e.result.is_none_or(|r| r >= 0);
        let new_ns = match &e.data {
            EventData::Unshare(a) => a.flags,
            EventData::Clone(a) => a.flags & !CSIGNAL,
            EventData::Clone3(a) => a.flags,
            _ => 0,
        } & CLONE_NEW_MASK;
        if new_ns != 0
            && ok
            && let Some(t) = self.tally(note.container)
        {
            t.new_ns_bits |= new_ns;
        }
        if ok {
            self.isolation(e, note.container);
        }
        if let (EventData::Setns(_), Some(j)) = (&e.data, note.joins.as_ref())
            && ok
            && let Some(ns) = crate::story::ns_index(j.ns_type)
            && self.joins.len() < MAX_JOINS
        {
            self.joins.push(JoinRec {
                ns,
                inode: j.inode,
                container: j.container,
            });
        }
        if let EventData::Exec(x) = &e.data {
            let name = program_name(x.filename, x.argv.first().copied());
            if let Some(n) = self.programs.get_mut(&name) {
                *n = n.saturating_add(1);
            } else if self.programs.len() < MAX_PROGRAMS {
                self.programs.insert(name, 1);
            }
        }
    }

    /// Capabilities, seccomp filters, user ids and cgroup settings of a successful call.
    fn isolation(&mut self, e: &Event<&str>, container: Option<usize>) {
        let Some(t) = self.tally(container) else {
            return;
        };
        match &e.data {
            EventData::Capset(a) => t.caps_effective = Some(a.effective),
            EventData::Seccomp(a) if a.operation == 1 => t.seccomp_filters += 1,
            // PR_SET_SECCOMP, SECCOMP_MODE_FILTER.
            EventData::Prctl(a) if a.option == 22 && a.arg2 == 2 => t.seccomp_filters += 1,
            EventData::Setuid(a) => t.uid = Some(a.uid),
            EventData::Openat(a) | EventData::Openat2(a) if a.flags & O_WRITE != 0 => {
                if let Some(f) = cgroup_file(a.path)
                    && t.cgroup_files.len() < MAX_CGROUP_FILES
                {
                    t.cgroup_files.insert(f.to_owned());
                }
            }
            _ => {}
        }
    }

    fn tally(&mut self, container: Option<usize>) -> Option<&mut Tally> {
        let c = container.filter(|c| *c < MAX_TALLIED)?;
        if self.tallies.len() <= c {
            self.tallies.resize(c + 1, Tally::default());
        }
        self.tallies.get_mut(c)
    }
}

/// The session's events for the story, each also handed to a [`Collect`] with the note
/// the story gave it (notes come only on the story's second visit).
struct Tap<'s> {
    session: &'s Session,
    note: RefCell<Option<Note>>,
    collect: RefCell<Collect>,
    events: Cell<u64>,
    damaged: Cell<usize>,
}

impl EventSource for Tap<'_> {
    fn visit(&self, f: &mut dyn FnMut(&Ev<'_>)) -> crate::Result<()> {
        let mut events = 0;
        let summary = self.session.scan(&Query::all(), |e| {
            events += 1;
            f(&Ev::of(&e));
            if let Some(note) = self.note.borrow_mut().take() {
                self.collect.borrow_mut().observe(&e, &note);
            }
            ControlFlow::Continue(())
        })?;
        self.events.set(events);
        self.damaged.set(summary.errors.len());
        Ok(())
    }
}

/// The container of the story `pick` asks for: the one it names, else the first (not a
/// pod's sandbox) of `pick.image` with chapters, else the first with chapters, else the
/// first.
fn pick_container(story: &Story, pick: &Pick<'_>) -> crate::Result<Option<usize>> {
    let containers = &story.input().containers;
    if let Some(w) = pick.container {
        let w = w.trim().trim_start_matches('/');
        let found: Vec<usize> = (0..containers.len())
            .filter(|&i| {
                let c = &containers[i];
                (!w.is_empty() && c.container_id.starts_with(w))
                    || c.name.trim_start_matches('/') == w
            })
            .collect();
        return match found.as_slice() {
            [i] => Ok(Some(*i)),
            [] => Err(crate::Error::NoSuchContainer {
                wanted: w.to_owned(),
                known: if containers.is_empty() {
                    "none".to_owned()
                } else {
                    containers
                        .iter()
                        .map(|c| format!("{} ({})", c.short_id(), c.name.trim_start_matches('/')))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
            _ => Err(crate::Error::AmbiguousContainer {
                wanted: w.to_owned(),
            }),
        };
    }
    let candidates: Vec<usize> = (0..containers.len())
        .filter(|&i| !containers[i].is_sandbox() && story.chapters_of(i).next().is_some())
        .collect();
    let of_image = pick.image.and_then(|img| {
        candidates
            .iter()
            .copied()
            .find(|&i| containers[i].image == img)
    });
    Ok(of_image
        .or_else(|| candidates.first().copied())
        .or((!containers.is_empty()).then_some(0)))
}

/// The namespace calls of container `c`: its new namespaces, and the `setns` calls into
/// namespaces its state says are its own (by their inode, or by the container the story
/// names when the inode is not known). A container that shares the host's namespace of a
/// type has none of its own to join.
fn tally_of(collect: &Collect, c: usize, state: Option<&ContainerState>) -> Tally {
    let mut t = collect.tallies.get(c).cloned().unwrap_or_default();
    let own = |ns: usize| {
        state
            .and_then(|s| {
                s.namespaces
                    .iter()
                    .find(|n| n.ns_type == crate::story::NS_TYPES[ns] && n.owner == "container")
            })
            .map_or(0, |n| n.inode)
    };
    for j in &collect.joins {
        let own = own(j.ns);
        if own != 0 && (j.inode == own || (j.inode == 0 && j.container == Some(c))) {
            t.setns[j.ns] = t.setns[j.ns].saturating_add(1);
        }
    }
    t
}

/// When a container's state is compared: when it starts running (its mounts and
/// namespaces are in place), else the end of its last chapter before it stops.
fn state_time(story: &Story, c: usize) -> Option<u64> {
    let chapters: Vec<&Chapter> = story.chapters_of(c).collect();
    chapters
        .iter()
        .find(|ch| ch.chapter == ChapterKind::Running)
        .map(|ch| ch.ts_nanos)
        .or_else(|| {
            chapters
                .iter()
                .filter(|ch| !matches!(ch.chapter, ChapterKind::Stop | ChapterKind::Cleanup))
                .map(|ch| ch.end_ts_nanos)
                .max()
        })
}

/// Reduces a session to what is compared: its story is derived (one read of the events
/// for the pulls, one for everything else) and its calls counted on the way.
pub fn digest(session: &Session, pick: &Pick<'_>) -> crate::Result<Digest> {
    let input = StoryInput::read(session)?;
    let tap = Tap {
        session,
        note: RefCell::new(None),
        collect: RefCell::new(Collect::default()),
        events: Cell::new(0),
        damaged: Cell::new(0),
    };
    let story = Story::derive(input, &tap, |note| *tap.note.borrow_mut() = Some(note))?;
    let collect = tap.collect.into_inner();
    let c = pick_container(&story, pick)?;
    let meta = session.meta();
    let start = story.input().start_ts_nanos;
    let container = c.and_then(|c| story.input().containers.get(c));
    let chapters: Vec<Chapter> = story
        .chapters
        .iter()
        .filter(|ch| match (&ch.container_id, container) {
            (None, _) => true,
            (Some(id), Some(k)) => *id == k.container_id,
            (Some(_), None) => false,
        })
        .cloned()
        .collect();
    let state_ts = c.and_then(|c| state_time(&story, c));
    let state = c.zip(state_ts).and_then(|(c, ts)| story.state_at(c, ts));
    let tally = c.map_or_else(Tally::default, |c| tally_of(&collect, c, state.as_ref()));
    Ok(Digest {
        side: Side {
            session_name: meta.info.session_name.clone(),
            command: meta.info.command.clone(),
            duration_nanos: story.input().end_ts_nanos.saturating_sub(start),
            events: tap.events.get(),
            container_id: container.map(|k| k.container_id.clone()),
            container_name: container.map(|k| k.name.trim_start_matches('/').to_owned()),
            image: container.map(|k| k.image.clone()),
            state_offset_nanos: state_ts.map(|t| t.saturating_sub(start)),
            damaged_chunks: tap.damaged.get(),
        },
        chapters,
        uncounted: collect.uncounted,
        calls: collect.calls,
        state,
        settings: container.map(settings::of).unwrap_or_default(),
        tally,
        programs: collect.programs,
    })
}
