//! What identifies a container in events: its id, cgroup, overlay directories, network
//! sandbox, address; read from the entity rows once.

use rustc_hash::FxHashMap;

use super::roles;
use crate::entities::{Container, Image, Layer};
use crate::paths::{LayerIndex, LayerRef};

/// The names a container goes by in events.
#[derive(Clone, Debug, Default)]
pub struct ContainerKeys {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub cgroup_v2: Option<u64>,
    pub merged: Option<String>,
    /// `…/overlay2/<dir>`: the container's layer directory (its `-init` sibling too).
    pub layer_dir: Option<String>,
    pub lower_dirs: Vec<String>,
    /// `/var/run/docker/netns/<sandbox>` (inspect's NetworkSettings.SandboxKey).
    pub sandbox_key: Option<String>,
    pub ip: Option<String>,
    pub created_ts: Option<u64>,
    pub started_ts: Option<u64>,
    pub died_ts: Option<u64>,
    pub destroyed_ts: Option<u64>,
    /// Published ports, `127.0.0.1:18080→80/tcp`.
    pub ports: Vec<String>,
    pub cmd: Vec<String>,
    /// The Kubernetes pod it belongs to (its sandbox has the pod's id as its own).
    pub pod_id: Option<String>,
}

/// The directory of a layer path (`…/overlay2/<dir>/diff` → `…/overlay2/<dir>`).
fn layer_dir_of(path: &str) -> Option<&str> {
    let p = path.trim_end_matches('/');
    p.strip_suffix("/diff")
        .or_else(|| p.strip_suffix("/merged"))
        .or_else(|| p.strip_suffix("/work"))
}

impl ContainerKeys {
    pub fn new(c: &Container) -> Self {
        let inspect: serde_json::Value = if c.inspect_json.len() <= 4 << 20 {
            serde_json::from_str(&c.inspect_json).unwrap_or_default()
        } else {
            serde_json::Value::Null
        };
        let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let net = &inspect["NetworkSettings"];
        let mut ports = Vec::new();
        // Ports are known once it started; the bindings asked for, from its creation.
        let bindings = net["Ports"]
            .as_object()
            .filter(|m| m.values().any(|v| v.is_array()))
            .or_else(|| inspect["HostConfig"]["PortBindings"].as_object());
        if let Some(map) = bindings {
            for (inner, binds) in map {
                for b in binds.as_array().into_iter().flatten() {
                    ports.push(format!(
                        "{}:{}→{inner}",
                        b["HostIp"].as_str().unwrap_or(""),
                        b["HostPort"].as_str().unwrap_or("")
                    ));
                }
            }
        }
        let ip = text(&net["IPAddress"]).or_else(|| {
            net["Networks"]
                .as_object()
                .and_then(|m| m.values().find_map(|n| text(&n["IPAddress"])))
        });
        Self {
            id: c.container_id.clone(),
            name: c.name.trim_start_matches('/').to_owned(),
            image: c.image.clone(),
            image_id: c.image_id.clone(),
            cgroup_v2: c.cgroup_id.filter(|&id| id > 1),
            merged: c.merged_dir.clone().filter(|d| !d.is_empty()),
            layer_dir: c
                .upper_dir
                .as_deref()
                .or(c.merged_dir.as_deref())
                .and_then(layer_dir_of)
                .map(str::to_owned),
            lower_dirs: c.lower_dirs.clone(),
            sandbox_key: text(&net["SandboxKey"]),
            ip,
            created_ts: c.created_ts_nanos,
            started_ts: c.started_ts_nanos,
            died_ts: c.died_ts_nanos,
            destroyed_ts: c.destroyed_ts_nanos,
            pod_id: c.pod_id.clone().filter(|p| !p.is_empty()),
            ports,
            cmd: inspect["Config"]["Cmd"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether it is a pod's sandbox (the pause container holding the pod's namespaces).
    pub fn is_sandbox(&self) -> bool {
        self.pod_id.as_deref() == Some(self.id.as_str())
    }

    /// A short name for titles: the container's name, else its short id.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            crate::format::short_id(&self.id)
        } else {
            &self.name
        }
    }
}

/// Lookups from what events name to container indexes.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    pub keys: Vec<ContainerKeys>,
    by_id: FxHashMap<String, usize>,
    by_cgroup: FxHashMap<u64, usize>,
    /// The last path segment of a container's layer directory (and `<it>-init`).
    by_layer_dir: FxHashMap<String, usize>,
    by_sandbox: FxHashMap<String, usize>,
    pub layers: LayerIndex,
}

impl Lookup {
    pub fn new(containers: &[Container], images: &[Image], layers: &[Layer]) -> Self {
        let mut l = Self {
            layers: LayerIndex::new(images, layers),
            ..Self::default()
        };
        for (i, c) in containers.iter().enumerate() {
            let k = ContainerKeys::new(c);
            l.by_id.entry(k.id.clone()).or_insert(i);
            if let Some(cg) = k.cgroup_v2 {
                l.by_cgroup.entry(cg).or_insert(i);
            }
            if let Some(dir) = k.layer_dir.as_deref().and_then(|d| d.rsplit('/').next()) {
                l.by_layer_dir.entry(dir.to_owned()).or_insert(i);
                l.by_layer_dir.entry(format!("{dir}-init")).or_insert(i);
            }
            if let Some(s) = &k.sandbox_key {
                l.by_sandbox.entry(s.clone()).or_insert(i);
                if let Some(rest) = s.strip_prefix("/var/run/") {
                    l.by_sandbox.entry(format!("/run/{rest}")).or_insert(i);
                }
            }
            l.keys.push(k);
        }
        l
    }

    pub fn by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn by_cgroup(&self, cgroup_id: u64) -> Option<usize> {
        if cgroup_id <= 1 {
            return None;
        }
        self.by_cgroup.get(&cgroup_id).copied()
    }

    /// The container a network-namespace file belongs to (`/var/run/docker/netns/<id>`).
    pub fn by_sandbox(&self, path: &str) -> Option<usize> {
        self.by_sandbox.get(path).copied()
    }

    /// Learns a sandbox path (dockerd bind-mounts a container's net namespace there).
    pub fn learn_sandbox(&mut self, path: &str, container: usize) {
        self.by_sandbox.entry(path.to_owned()).or_insert(container);
    }

    /// The container a path names: by its id, or by its overlay layer directory.
    pub fn in_path(&self, path: &str) -> Option<usize> {
        for seg in path.split('/') {
            if seg.len() >= 64 {
                if let Some(&i) = self.by_id.get(seg) {
                    return Some(i);
                }
                if let Some(&i) = self.by_layer_dir.get(seg) {
                    return Some(i);
                }
            }
        }
        None
    }

    /// The container named in a command line (the shim's `-id`, runc's paths and ids).
    pub fn in_argv(&self, argv: &[&str]) -> Option<usize> {
        argv.iter()
            .flat_map(|a| roles::ids_in(a, 8))
            .find_map(|id| self.by_id(id))
    }

    /// The container whose address a command line names (`-d 172.17.0.2`,
    /// `-container-ip 172.17.0.2`), among those that exist at `ts`.
    pub fn by_address_in(&self, argv: &[&str], ts: u64) -> Option<usize> {
        self.keys.iter().position(|k| {
            k.ip.as_deref().is_some_and(|ip| {
                argv.iter()
                    .any(|a| *a == ip || a.strip_prefix(ip).is_some_and(|r| r.starts_with('/')))
            }) && k.created_ts.is_none_or(|c| c <= ts)
                && k.destroyed_ts.is_none_or(|d| d >= ts)
        })
    }

    /// The image layer a directory is (`…/overlay2/<dir>/diff`).
    pub fn layer_of(&self, dir: &str) -> Option<&LayerRef> {
        self.layers.layer_of(dir.trim_end_matches('/'))
    }

    /// The first container created at or after `ts` whose lower directories hold `dir`.
    pub fn container_using_layer(&self, dir: &str, ts: u64) -> Option<usize> {
        let dir = dir.trim_end_matches('/');
        self.first_created_after(ts, |k| {
            k.lower_dirs.iter().any(|d| d.trim_end_matches('/') == dir)
        })
    }

    /// The first container created at or after `ts` (or, failing that, before it) that
    /// matches.
    pub fn first_created_after(
        &self,
        ts: u64,
        f: impl Fn(&ContainerKeys) -> bool,
    ) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (i, k) in self.keys.iter().enumerate() {
            if !f(k) {
                continue;
            }
            let created = k.created_ts.or(k.started_ts).unwrap_or(u64::MAX);
            if created >= ts && best.is_none_or(|(b, _)| created < b) {
                best = Some((created, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_a_row() {
        let id = "7b2f574bb0b6cba2057f4db483c2d5890c2a38cc2b47baaf2614b52454b83444";
        let c = Container {
            container_id: id.into(),
            name: "/web".into(),
            cgroup_id: Some(1488),
            upper_dir: Some("/var/lib/docker/overlay2/abc/diff".into()),
            inspect_json: r#"{"NetworkSettings":{"SandboxKey":"/var/run/docker/netns/7f4c","IPAddress":"172.17.0.2",
                "Ports":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}]}},"Config":{"Cmd":["sleep","30"]}}"#
                .into(),
            ..Container::default()
        };
        let l = Lookup::new(&[c], &[], &[]);
        let k = &l.keys[0];
        assert_eq!(k.label(), "web");
        assert_eq!(k.ip.as_deref(), Some("172.17.0.2"));
        assert_eq!(k.ports, ["127.0.0.1:18080→80/tcp"]);
        assert_eq!(k.cmd, ["sleep", "30"]);
        assert_eq!(l.by_cgroup(1488), Some(0));
        assert_eq!(l.by_cgroup(1), None);
        assert_eq!(
            l.in_path("/var/lib/docker/overlay2/abc-init/merged"),
            None,
            "short dir ids are not matched"
        );
        assert_eq!(
            l.in_path(&format!("/var/lib/docker/containers/{id}/hosts")),
            Some(0)
        );
        assert_eq!(l.by_sandbox("/run/docker/netns/7f4c"), Some(0));
        let log = format!("/run/x/moby/{id}/log.json");
        assert_eq!(l.in_argv(&["runc", "--log", &log, "create"]), Some(0));
    }
}
