//! Which container an event belongs to.
//!
//! A kernel event belongs to the container whose cgroup it ran in; a daemon event to the
//! container it names (`actor_id`); a resource sample to the container it measures.

use beefine_schema::text::{Direct, Strings};
use beefine_schema::{Container, Decode, Event, EventData, FieldRef, Kind};
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

    /// Whether the container of events of this kind depends on their fields (a container id
    /// or a cgroup they name), not only on the task's cgroup.
    pub fn depends_on_fields(kind: Kind) -> bool {
        kind.fields()
            .iter()
            .any(|f| matches!(f.decode, Decode::ContainerId | Decode::CgroupId))
    }

    /// The container an event belongs to, if any: the one a daemon event names, the one a
    /// sample measures, the one whose cgroup a cgroup event creates or joins (v2), else the
    /// one whose cgroup the task ran in.
    pub fn for_event<S: AsRef<str>>(&self, e: &Event<S>) -> Option<usize> {
        self.for_data(&e.data, &Direct, e.header.cgroup_id)
    }

    /// [`Self::for_event`] for data whose strings are reached through `strings`, done by
    /// task cgroup `task_cgroup`.
    pub fn for_data<S>(
        &self,
        data: &EventData<S>,
        strings: &dyn Strings<S>,
        task_cgroup: u64,
    ) -> Option<usize> {
        let mut named: Option<Option<usize>> = None;
        let mut cgroup = None;
        let mut v1 = false;
        data.visit_fields(&mut |d, v| match (d.decode, v) {
            (Decode::ContainerId, FieldRef::Str(id)) if named.is_none() => {
                named = Some(self.by_id(strings.get(id)));
            }
            (Decode::CgroupId, FieldRef::Uint(id)) if id != 0 => cgroup = Some(id),
            (Decode::CgroupHierarchy, v) => v1 = v.as_i64() != Some(0),
            _ => {}
        });
        if let Some(named) = named {
            return named;
        }
        cgroup
            .filter(|_| !v1)
            .and_then(|cg| self.by_cgroup(cg))
            .or_else(|| self.by_cgroup(task_cgroup))
    }
}
