//! Which container an event belongs to.
//!
//! A kernel event belongs to the container whose cgroup it ran in; a daemon event to the
//! container it names (`actor_id`); a resource sample to the container it measures.

use beefine_schema::{Container, Event, EventData};
use rustc_hash::FxHashMap;

/// The containers of a session, indexed for lookups by cgroup id and by container id.
#[derive(Debug, Default, Clone)]
pub struct ContainerIndex {
    containers: Vec<Container>,
    by_cgroup: FxHashMap<u64, usize>,
    by_id: FxHashMap<String, usize>,
}

impl ContainerIndex {
    pub fn new(containers: Vec<Container>) -> Self {
        let mut by_cgroup = FxHashMap::default();
        let mut by_id = FxHashMap::default();
        for (i, c) in containers.iter().enumerate() {
            if let Some(cg) = c.cgroup_id.filter(|&cg| cg > 1) {
                by_cgroup.entry(cg).or_insert(i);
            }
            by_id.entry(c.container_id.clone()).or_insert(i);
            by_id.entry(c.short_id().to_owned()).or_insert(i);
        }
        Self {
            containers,
            by_cgroup,
            by_id,
        }
    }

    pub fn containers(&self) -> &[Container] {
        &self.containers
    }

    pub fn get(&self, index: usize) -> Option<&Container> {
        self.containers.get(index)
    }

    pub fn len(&self) -> usize {
        self.containers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// The container whose cgroup has this id.
    pub fn by_cgroup(&self, cgroup_id: u64) -> Option<usize> {
        self.by_cgroup.get(&cgroup_id).copied()
    }

    /// The container with this full or 12-character id.
    pub fn by_id(&self, container_id: &str) -> Option<usize> {
        self.by_id.get(container_id).copied()
    }

    /// Whether the container of an event depends on its fields (not only on its cgroup).
    pub fn depends_on_fields<S>(data: &EventData<S>) -> bool {
        matches!(
            data,
            EventData::Docker(_)
                | EventData::ResourceSample(_)
                | EventData::CgroupAttach { .. }
                | EventData::CgroupMkdir { .. }
        )
    }

    /// The container an event belongs to, if any: the one a daemon event names, the one a
    /// sample measures, the one whose cgroup a cgroup event creates or joins (v2), else the
    /// one whose cgroup the task ran in.
    pub fn for_event<S: AsRef<str>>(&self, e: &Event<S>) -> Option<usize> {
        match &e.data {
            EventData::Docker(d) => self.by_id(d.actor_id.as_ref()),
            EventData::ResourceSample(s) => self.by_id(s.container_id.as_ref()),
            EventData::CgroupAttach {
                cgroup_id,
                hierarchy_id: 0,
                ..
            }
            | EventData::CgroupMkdir {
                cgroup_id,
                hierarchy_id: 0,
                ..
            } => self
                .by_cgroup(*cgroup_id)
                .or_else(|| self.by_cgroup(e.header.cgroup_id)),
            _ => self.by_cgroup(e.header.cgroup_id),
        }
    }
}
