//! Where a path in an event is on the host, and which image layer it belongs to.
//!
//! Events keep the path exactly as the syscall saw it. Docker unpacks each layer in a helper
//! that first `pivot_root`s (or `chroot`s) into the layer's directory, so its opens say
//! `/usr/sbin/nginx` while the file is `/var/lib/docker/overlay2/<id>/diff/usr/sbin/nginx`.
//! [`RootTracker`] follows every process's root directory through the stream (forks inherit
//! it, `pivot_root` and `chroot` to an absolute path change it) and gives the host path;
//! [`LayerIndex`] maps host paths to the image layer whose directory holds them.

use rustc_hash::FxHashMap;

use crate::entities::{Image, Layer};
use crate::event::{Event, Kind};
use crate::story::fact::{self, Fact};

/// Root directories of processes, followed through events in time order.
#[derive(Clone, Debug, Default)]
pub struct RootTracker {
    roots: FxHashMap<u32, String>,
}

impl RootTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether events of this kind can change a root (only they need [`Self::observe`]):
    /// those that change a process's namespaces, mounts or lineage.
    pub fn changes_roots(kind: Kind) -> bool {
        fact::changes_state(kind)
    }

    /// Updates the roots with one event (events must come in time order), from what the
    /// event means (the story's [`Fact`], the one reading of the kinds).
    pub fn observe<S: AsRef<str>>(&mut self, e: &Event<S>) {
        let tgid = e.header.tgid;
        let ok = e.result == Some(0);
        match fact::fact(&e.data, e.result, &|s: &S| s.as_ref()) {
            Fact::Fork {
                parent_tgid,
                child_tgid,
            } if parent_tgid != child_tgid => {
                match self.roots.get(&parent_tgid).cloned() {
                    Some(root) => self.roots.insert(child_tgid, root),
                    None => self.roots.remove(&child_tgid),
                };
            }
            Fact::PivotRoot { new_root, .. } if ok => self.set_root(tgid, new_root),
            Fact::Chroot { path } if ok => self.set_root(tgid, path),
            Fact::Exit { .. } => {
                self.roots.remove(&tgid);
            }
            _ => {}
        }
    }

    fn set_root(&mut self, tgid: u32, dir: &str) {
        if dir.starts_with('/') {
            let host = self.resolve(tgid, dir);
            if host == "/" {
                self.roots.remove(&tgid);
            } else {
                self.roots.insert(tgid, host);
            }
        } else {
            // Relative to a working directory the recorder does not follow (runc's
            // `pivot_root(".", ".")`): from here on the host path is unknown.
            self.roots.insert(tgid, String::new());
        }
    }

    /// The root directory of a process on the host: `Some("/")` when unchanged, `None` when
    /// it is unknown.
    pub fn root(&self, tgid: u32) -> Option<&str> {
        match self.roots.get(&tgid) {
            None => Some("/"),
            Some(r) if r.is_empty() => None,
            Some(r) => Some(r),
        }
    }

    /// `path` as seen by process `tgid`, on the host (absolute paths only).
    pub fn resolve(&self, tgid: u32, path: &str) -> String {
        match self.root(tgid) {
            Some("/") | None => path.to_owned(),
            Some(root) if path.starts_with('/') => format!("{root}{path}"),
            Some(_) => path.to_owned(),
        }
    }

    /// The host path of an event's main path, when its process's root is known.
    pub fn host_path<S: AsRef<str>>(&self, e: &Event<S>) -> Option<String> {
        let path = e.data.path()?;
        self.root(e.header.tgid)?;
        Some(self.resolve(e.header.tgid, path))
    }
}

/// Which image layer a host path is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRef {
    pub image_id: String,
    /// The image's reference (`localhost:5000/nginx:1`).
    pub reference: String,
    /// 0 = bottom layer.
    pub layer_index: u32,
    pub layer_count: u32,
    pub digest: Option<String>,
}

impl std::fmt::Display for LayerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layer {} of {} of {}",
            self.layer_index + 1,
            self.layer_count,
            self.reference
        )
    }
}

/// Layer directories, longest first, for prefix lookups.
#[derive(Clone, Debug, Default)]
pub struct LayerIndex {
    dirs: Vec<(String, LayerRef)>,
}

impl LayerIndex {
    pub fn new(images: &[Image], layers: &[Layer]) -> Self {
        let mut dirs: Vec<(String, LayerRef)> = layers
            .iter()
            .filter_map(|l| {
                let dir = l.overlay_dir.clone()?;
                let reference = images
                    .iter()
                    .find(|i| i.image_id == l.image_id)
                    .map_or_else(|| l.image_id.clone(), |i| i.reference.clone());
                let layer_count = layers.iter().filter(|o| o.image_id == l.image_id).count() as u32;
                Some((
                    dir.trim_end_matches('/').to_owned(),
                    LayerRef {
                        image_id: l.image_id.clone(),
                        reference,
                        layer_index: l.layer_index,
                        layer_count,
                        digest: l.digest.clone(),
                    },
                ))
            })
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
        Self { dirs }
    }

    /// The layer whose directory holds `host_path` (or is it).
    pub fn layer_of(&self, host_path: &str) -> Option<&LayerRef> {
        self.dirs
            .iter()
            .find(|(dir, _)| {
                host_path
                    .strip_prefix(dir.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, l)| l)
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{
        CgroupMkdirInfo, EventData, EventHeader, ExitInfo, ForkInfo, MkdirArgs, Namespaces,
        OpenArgs, PathArgs, PivotRootArgs, Str,
    };

    fn ev(tgid: u32, result: Option<i64>, data: EventData) -> Event {
        Event {
            header: EventHeader {
                ts_nanos: 0,
                pid: tgid,
                tgid,
                comm: Str::from("exe"),
                cgroup_id: 1,
                ns: Namespaces::default(),
            },
            result,
            data,
        }
    }

    fn open(tgid: u32, path: &str) -> Event {
        ev(
            tgid,
            Some(3),
            EventData::Openat(OpenArgs {
                dirfd: -100,
                path: path.into(),
                flags: 0,
                mode: 0,
            }),
        )
    }

    #[test]
    fn pivot_root_into_a_layer_then_open() {
        let mut t = RootTracker::new();
        let layer = "/var/lib/docker/overlay2/abc/diff";
        assert_eq!(
            t.host_path(&open(10, "/usr/sbin/nginx")).as_deref(),
            Some("/usr/sbin/nginx")
        );
        t.observe(&ev(
            10,
            Some(0),
            EventData::PivotRoot(PivotRootArgs {
                new_root: layer.into(),
                put_old: layer.into(),
            }),
        ));
        let o = open(10, "/usr/sbin/nginx");
        assert_eq!(
            t.host_path(&o).as_deref(),
            Some("/var/lib/docker/overlay2/abc/diff/usr/sbin/nginx")
        );
        // Children inherit the root; other processes keep theirs.
        t.observe(&ev(
            10,
            None,
            EventData::Fork(ForkInfo {
                parent_pid: 10,
                parent_tgid: 10,
                child_pid: 11,
                child_tgid: 11,
            }),
        ));
        let m = ev(
            11,
            Some(0),
            EventData::Mkdirat(MkdirArgs {
                dirfd: -100,
                path: "/etc".into(),
                mode: 0,
            }),
        );
        assert_eq!(
            t.host_path(&m).as_deref(),
            Some("/var/lib/docker/overlay2/abc/diff/etc")
        );
        assert_eq!(t.host_path(&open(12, "/etc")).as_deref(), Some("/etc"));
        // A relative pivot_root (runc) makes the root unknown.
        t.observe(&ev(
            12,
            Some(0),
            EventData::PivotRoot(PivotRootArgs {
                new_root: ".".into(),
                put_old: ".".into(),
            }),
        ));
        assert_eq!(t.host_path(&open(12, "/etc")), None);
        // A failed call changes nothing; exit forgets.
        t.observe(&ev(
            13,
            Some(-1),
            EventData::Chroot(PathArgs { path: "/x".into() }),
        ));
        assert_eq!(t.root(13), Some("/"));
        t.observe(&ev(10, None, EventData::Exit(ExitInfo { code: 0 })));
        assert_eq!(t.root(10), Some("/"));
        let cg = ev(
            10,
            None,
            EventData::CgroupMkdir(CgroupMkdirInfo {
                path: "/docker/x".into(),
                target_cgroup_id: 9,
                hierarchy_id: 0,
            }),
        );
        assert_eq!(t.host_path(&cg), None);
    }

    #[test]
    fn layers_by_prefix() {
        let images = vec![Image {
            image_id: "sha256:i".into(),
            reference: "nginx:1".into(),
            ..Image::default()
        }];
        let layer = |i: u32, dir: &str| Layer {
            image_id: "sha256:i".into(),
            layer_index: i,
            overlay_dir: Some(dir.into()),
            ..Layer::default()
        };
        let idx = LayerIndex::new(&images, &[layer(0, "/d/a/diff"), layer(1, "/d/ab/diff")]);
        assert_eq!(
            idx.layer_of("/d/ab/diff/usr/sbin/nginx")
                .map(|l| l.layer_index),
            Some(1)
        );
        assert_eq!(idx.layer_of("/d/a/diff").map(|l| l.layer_index), Some(0));
        assert_eq!(idx.layer_of("/d/a/diffx"), None);
        assert_eq!(
            idx.layer_of("/d/ab/diff/x").unwrap().to_string(),
            "layer 2 of 2 of nginx:1"
        );
    }
}
