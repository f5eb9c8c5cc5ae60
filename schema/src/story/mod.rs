//! The story of a container's birth, derived from a session's events and entities.
//!
//! - **Chapters** ([`Chapter`]): per container, the steps that make it — the image pull,
//!   each layer unpacked, the overlay root filesystem, the network endpoint, the runtime
//!   (shim and runc), cgroups, namespaces, mounts, `pivot_root`, the entrypoint's exec, the
//!   running container, a `docker exec` joining it, the stop and the cleanup — each with a
//!   time span, its event count and two lines on what to notice.
//! - **Attribution** ([`Note::container`]): the container an event works for, also before
//!   any process is in its cgroup (runc's and the shim's arguments name it, overlay
//!   directories map to it, `setns` joins its namespaces), so a container filter keeps the
//!   whole birth.
//! - **Expected noise** ([`noise`]): failures that are part of normal work, with reasons.
//! - **The state at a time** ([`Story::state_at`]): a container's namespaces, its mount
//!   table as it sees it, the overlay stack, the process lineage across the stack, its
//!   cgroup and latest resource sample.
//!
//! Everything is a pure function of the events (in time order) and the entity tables:
//! [`Story::derive`] reads the events twice (a first pass finds the image pulls, whose
//! end is only known at their end), and reports each event's [`Note`] on the way. The
//! per-kind knowledge is in [`fact`], the stack roles in [`roles`].

pub mod fact;
pub mod mounts;
pub mod noise;
pub mod roles;
pub mod runs;

mod builder;
mod chapters;
mod keys;
mod marks;
mod mountapi;
mod mountcalls;
mod pods;
mod procs;
mod pulls;
mod state;
mod table;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::entities::{Container, Image, Layer, Pod, Process, Sample};
pub use builder::StoryBuilder;
pub use fact::{Ev, Fact};
pub use procs::{NS_TYPES, ns_index};
pub use state::{
    CgroupState, ContainerState, LineageNode, MountRow, NamespaceState, OverlayLayer, OverlayState,
    SampleState,
};
pub use table::{CHAPTERS_VERSION, read_chapters, write_bookmarks, write_chapters};

/// The steps of a container's story, in the order they usually come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChapterKind {
    /// The image's manifest and layers fetched from the registry.
    Pull,
    /// A Kubernetes pod's sandbox asked for (`RunPodSandbox`): the pause container that
    /// holds the pod's namespaces.
    Sandbox,
    /// The CNI plugins that give a pod's sandbox its network (veth, bridge, address).
    Cni,
    /// One layer unpacked into its directory.
    Unpack,
    /// The overlay mount of the layers: the container's root filesystem.
    Rootfs,
    /// The daemon's network endpoint for the container (bridge, iptables, proxy).
    Network,
    /// containerd starts a shim, the shim runs `runc create`.
    Runtime,
    Cgroups,
    Namespaces,
    /// proc, dev, sys, cgroups, hosts files mounted into the root filesystem.
    Mounts,
    PivotRoot,
    /// The entrypoint executed.
    Exec,
    Running,
    /// A process joining a running container (`docker exec`).
    Join,
    Stop,
    Cleanup,
}

impl ChapterKind {
    pub const ALL: [ChapterKind; 16] = [
        Self::Pull,
        Self::Sandbox,
        Self::Cni,
        Self::Unpack,
        Self::Rootfs,
        Self::Network,
        Self::Runtime,
        Self::Cgroups,
        Self::Namespaces,
        Self::Mounts,
        Self::PivotRoot,
        Self::Exec,
        Self::Running,
        Self::Join,
        Self::Stop,
        Self::Cleanup,
    ];

    /// The id people and files use (`pivot_root`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Sandbox => "sandbox",
            Self::Cni => "cni",
            Self::Unpack => "unpack",
            Self::Rootfs => "rootfs",
            Self::Network => "network",
            Self::Runtime => "runtime",
            Self::Cgroups => "cgroups",
            Self::Namespaces => "namespaces",
            Self::Mounts => "mounts",
            Self::PivotRoot => "pivot_root",
            Self::Exec => "exec",
            Self::Running => "running",
            Self::Join => "join",
            Self::Stop => "stop",
            Self::Cleanup => "cleanup",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for ChapterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One chapter of a container's story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    pub chapter: ChapterKind,
    pub title: String,
    /// First instant of the chapter (boot clock).
    pub ts_nanos: u64,
    /// Last instant of the chapter, inclusive.
    pub end_ts_nanos: u64,
    /// The container it belongs to; `None` for an image pulled for no container.
    pub container_id: Option<String>,
    /// Events of the chapter's container (or pull) within its span.
    pub events: u64,
    /// What to notice, in two lines.
    pub notice: String,
}

impl Chapter {
    /// Whether `ts` is within the chapter.
    pub fn contains(&self, ts: u64) -> bool {
        (self.ts_nanos..=self.end_ts_nanos).contains(&ts)
    }
}

/// What the story is derived from besides the events.
#[derive(Clone, Debug, Default)]
pub struct StoryInput {
    pub containers: Vec<Container>,
    pub images: Vec<Image>,
    pub layers: Vec<Layer>,
    /// The process table (may be empty: then it is derived from the events).
    pub processes: Vec<Process>,
    pub samples: Vec<Sample>,
    /// Kubernetes pods (their sandboxes are containers too, `container_id = pod_id`).
    pub pods: Vec<Pod>,
    /// The daemon's `/proc/PID/mountinfo` when the recording started (meta
    /// `host_mountinfo`): the table a new mount namespace copies.
    pub host_mountinfo: Option<String>,
    /// Boot-clock span of the session.
    pub start_ts_nanos: u64,
    pub end_ts_nanos: u64,
}

impl StoryInput {
    /// The entity tables of an open session.
    pub fn read(session: &crate::Session) -> crate::Result<Self> {
        let meta = session.meta();
        let span = session.time_span()?;
        let start = meta.info.start_ts_nanos;
        Ok(Self {
            containers: session.containers()?,
            images: session.images()?,
            layers: session.layers()?,
            processes: session.processes()?,
            samples: session.resource_samples()?,
            pods: session.pods()?,
            host_mountinfo: session.meta_value(HOST_MOUNTINFO_KEY)?,
            start_ts_nanos: span
                .map_or(start, |(lo, _)| if start > 0 { start.min(lo) } else { lo }),
            end_ts_nanos: meta
                .end_ts_nanos
                .unwrap_or(0)
                .max(span.map_or(start, |(_, hi)| hi)),
        })
    }
}

/// The meta key under which the recorder stores the daemon's mountinfo at start.
pub const HOST_MOUNTINFO_KEY: &str = "host_mountinfo";

/// The longest mountinfo text read (a host has a few dozen KiB).
pub const MAX_MOUNTINFO_BYTES: usize = 1 << 20;

/// What the story says about one event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Note {
    /// Index (into [`StoryInput::containers`]) of the container the event works for.
    pub container: Option<usize>,
    /// Index of the [`noise::RULES`] rule that expects it.
    pub expected: Option<u8>,
    /// For `setns`: the namespace joined.
    pub joins: Option<Joined>,
    /// The part of the stack the event's process is at that time (`None` for events no
    /// task caused).
    pub role: Option<crate::entities::Component>,
}

/// The namespace a `setns` joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    /// `net`, `mnt`, …
    pub ns_type: &'static str,
    /// Its inode, when known.
    pub inode: u64,
    /// The container it belongs to (`None`: the host's, or unknown).
    pub container: Option<usize>,
    /// The path the descriptor was opened from (`/proc/31892/ns/net`).
    pub via: Option<String>,
}

/// Events of a session, visited in time order, as many times as asked.
pub trait EventSource {
    /// Calls `f` with every event in time order.
    fn visit(&self, f: &mut dyn FnMut(&Ev<'_>)) -> crate::Result<()>;
}

impl EventSource for crate::Session {
    fn visit(&self, f: &mut dyn FnMut(&Ev<'_>)) -> crate::Result<()> {
        self.scan(&crate::Query::all(), |e| {
            f(&Ev::of(&e));
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(())
    }
}

impl EventSource for [crate::Event] {
    fn visit(&self, f: &mut dyn FnMut(&Ev<'_>)) -> crate::Result<()> {
        for e in self {
            f(&Ev::of(e));
        }
        Ok(())
    }
}

/// The derived story of a session.
#[derive(Clone, Debug, Default)]
pub struct Story {
    /// Every chapter, in time order.
    pub chapters: Vec<Chapter>,
    containers: Vec<builder::ContainerStory>,
    input: StoryInput,
    host: procs::NsSet,
    procs: procs::Procs,
    /// Each process's namespaces whenever they changed, in time order.
    ns_by_tgid: rustc_hash::FxHashMap<u32, Vec<(u64, procs::NsSet)>>,
    layer_files: builder::LayerFiles,
    layers: crate::paths::LayerIndex,
    /// The layer directory each docker-untar process unpacked.
    untars: rustc_hash::FxHashMap<u32, String>,
}

impl Story {
    /// Derives the story from the events of `source` (visited twice) and `input`;
    /// `on_note` receives each event's [`Note`] in the order of the second visit.
    pub fn derive(
        input: StoryInput,
        source: &(impl EventSource + ?Sized),
        mut on_note: impl FnMut(Note),
    ) -> crate::Result<Self> {
        let prescan = {
            let mut pre = pulls::PullScan::new(&input);
            source.visit(&mut |e| pre.observe(e))?;
            pre.finish()
        };
        let mut b = StoryBuilder::new(input, prescan);
        source.visit(&mut |e| on_note(b.observe(e)))?;
        Ok(b.finish())
    }

    /// The chapters of one container (by its index), in time order.
    pub fn chapters_of(&self, container: usize) -> impl Iterator<Item = &Chapter> {
        let id = self
            .input
            .containers
            .get(container)
            .map(|c| c.container_id.as_str());
        self.chapters
            .iter()
            .filter(move |c| c.container_id.as_deref() == id && id.is_some())
    }

    /// The image layer a docker-untar process unpacked (its directory, and the layer when
    /// the session knows it).
    pub fn unpacked_by(&self, tgid: u32) -> Option<(&str, Option<&crate::paths::LayerRef>)> {
        let dir = self.untars.get(&tgid)?;
        Some((dir.as_str(), self.layers.layer_of(dir)))
    }

    /// The input the story was derived from.
    pub fn input(&self) -> &StoryInput {
        &self.input
    }

    /// Replaces the chapters (with those stored in the session, say).
    pub fn set_chapters(&mut self, chapters: Vec<Chapter>) {
        self.chapters = chapters;
    }

    /// The chapter of container `container` at `ts`: the one whose span holds it, else the
    /// last one before it.
    pub fn chapter_at(&self, container: Option<usize>, ts: u64) -> Option<&Chapter> {
        let id = container
            .and_then(|c| self.input.containers.get(c))
            .map(|c| c.container_id.as_str());
        let mut last = None;
        for c in self
            .chapters
            .iter()
            .filter(|c| c.container_id.as_deref() == id)
        {
            if c.contains(ts) {
                return Some(c);
            }
            if c.ts_nanos <= ts {
                last = Some(c);
            }
        }
        last
    }
}
