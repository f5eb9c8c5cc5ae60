//! Where paths live: which image layer or container directory a host path is in
//! ([`OverlayIndex`]), and each process's root directory over time ([`Roots`]).

use beefine_schema::paths::{LayerIndex, RootTracker};
use beefine_schema::{Container, Decode, Event, EventHeader, Image, Kind, Layer};
use rustc_hash::FxHashMap;

use super::store::{EventIdx, Store, StrId};
use crate::format;

/// Directories of image layers and container filesystems, to say where a path lives.
#[derive(Debug, Default, Clone)]
pub struct OverlayIndex {
    layers: LayerIndex,
    /// Container directories (upper, merged, work, lower dirs that are no known layer) with
    /// what they are, longest first.
    dirs: Vec<(String, String)>,
    /// Each container's root filesystem (merged directory) and the short form used in
    /// summaries: `web:`.
    merged: Vec<(String, String)>,
}

impl OverlayIndex {
    pub fn new(layers: &[Layer], images: &[Image], containers: &[Container]) -> Self {
        let layer_index = LayerIndex::new(images, layers);
        let mut dirs = Vec::new();
        let mut merged = Vec::new();
        for c in containers {
            let name = if c.name.is_empty() {
                c.short_id().to_owned()
            } else {
                c.name.trim_start_matches('/').to_owned()
            };
            if let Some(d) = &c.upper_dir {
                dirs.push((
                    d.clone(),
                    format!("writable layer of container {name} (upperdir)"),
                ));
            }
            if let Some(d) = &c.merged_dir {
                dirs.push((
                    d.clone(),
                    format!("root filesystem of container {name} (merged)"),
                ));
                if !d.is_empty() {
                    merged.push((d.trim_end_matches('/').to_owned(), format!("{name}:")));
                }
            }
            if let Some(d) = &c.work_dir {
                dirs.push((
                    d.clone(),
                    format!("overlay work directory of container {name}"),
                ));
            }
            let n = c.lower_dirs.len();
            for (i, d) in c.lower_dirs.iter().enumerate() {
                if layer_index.layer_of(d).is_none() {
                    // lowerdir lists the top layer first.
                    dirs.push((
                        d.clone(),
                        format!("image layer {} of container {name} (lowerdir)", n - i),
                    ));
                }
            }
        }
        dirs.retain(|(d, _)| !d.is_empty());
        for (d, _) in &mut dirs {
            while d.len() > 1 && d.ends_with('/') {
                d.pop();
            }
        }
        dirs.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
        Self {
            layers: layer_index,
            dirs,
            merged,
        }
    }

    /// `text` with each container's root filesystem written `name:` as `docker cp` does:
    /// `/var/lib/docker/overlay2/<id>/merged/proc` → `web:/proc`.
    pub fn abbreviate(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (dir, short) in &self.merged {
            if out.contains(dir.as_str()) {
                out = out.replace(&format!("{dir}/"), &format!("{short}/"));
                out = out.replace(dir.as_str(), &format!("{short}/"));
            }
        }
        out
    }

    /// What the directory holding the host path `path` is: an image layer or a container
    /// directory.
    pub fn describe(&self, path: &str) -> Option<String> {
        let container_dir = self.dirs.iter().find(|(dir, _)| {
            path.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        // Layer and container directories are never inside one another.
        match self.layers.layer_of(path) {
            Some(l) => Some(match &l.digest {
                Some(d) => format!("{l} ({})", format::short_id(d)),
                None => l.to_string(),
            }),
            None => container_dir.map(|(_, what)| what.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.dirs.is_empty()
    }
}

/// Host roots of processes that changed theirs (Docker's unpack helper, runc), followed
/// through the events, so that a path an event names can be placed on the host.
#[derive(Debug, Default, Clone)]
pub struct Roots {
    tracker: RootTracker,
    /// Events with a path whose process had another root than the host's: the root
    /// (interned), or `None` when it is unknown (a relative pivot_root).
    by_event: FxHashMap<EventIdx, Option<StrId>>,
    /// Events up to here were followed.
    followed: usize,
}

impl Roots {
    /// The root directory of the event's process on the host: `Some("/")` for the host's,
    /// `None` when unknown.
    pub fn root_of<'s>(&self, store: &'s Store, idx: EventIdx) -> Option<&'s str> {
        match self.by_event.get(&idx) {
            None => Some("/"),
            Some(None) => None,
            Some(Some(id)) => Some(store.str(*id)),
        }
    }

    /// Follows the events from `from` on (from the start when `from` is before what was
    /// followed: late events changed the order).
    pub(super) fn follow(&mut self, store: &mut Store, from: usize) {
        if from < self.followed || from == 0 {
            *self = Self::default();
        }
        let kinds = store.kinds().to_vec();
        let kind_has_path: Vec<bool> = Kind::ALL
            .iter()
            .map(|k| k.fields().iter().any(|f| matches!(f.decode, Decode::Path)))
            .collect();
        for (i, kind) in kinds.iter().enumerate().skip(self.followed) {
            let idx = i as EventIdx;
            let has_path = kind_has_path[usize::from(kind.index())];
            let changes_roots = RootTracker::changes_roots(*kind);
            if !has_path && !changes_roots {
                continue;
            }
            let tgid = store.tgid_of(idx);
            if has_path {
                match self.tracker.root(tgid) {
                    Some("/") => {}
                    Some(root) => {
                        let root = root.to_owned();
                        let id = store.strings.intern(&root);
                        self.by_event.insert(idx, Some(id));
                    }
                    None => {
                        self.by_event.insert(idx, None);
                    }
                }
            }
            if changes_roots && let Some(e) = store.get(idx) {
                let data = e.data.try_map_strings(&mut |&s: &StrId| {
                    Ok::<_, std::convert::Infallible>(store.str(s))
                });
                let Ok(data) = data;
                let event = Event {
                    header: EventHeader {
                        ts_nanos: e.ts_nanos,
                        pid: e.ctx.pid,
                        tgid: e.ctx.tgid,
                        comm: store.comm(e.ctx),
                        cgroup_id: e.ctx.cgroup_id,
                        ns: e.ctx.ns,
                    },
                    result: e.result,
                    data,
                };
                self.tracker.observe(&event);
            }
        }
        self.followed = kinds.len();
    }
}
