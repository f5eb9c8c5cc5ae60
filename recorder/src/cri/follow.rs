//! What the CRI runtime runs, into the session: pods and their containers (from the
//! kubelet's labels, which containerd keeps), images, resource samples, and the changes of
//! state the runtime reports, whoever drives it (the recorder's `--pod` or a real kubelet).
//!
//! The runtime is asked every sample interval (`ListPodSandbox`, `ListContainers`,
//! `ListContainerStats`); a pod or container that is new or changed state is described with
//! its verbose status. These questions are the recorder's own and are not events.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beefine_schema::{Container, Image, Layer, Pod, ResourceSample, Sample};
use k8s_cri::v1::{
    ContainerState, ContainerStats, ContainerStatusResponse, NamespaceMode, PodSandboxState,
    PodSandboxStatusResponse,
};
use serde_json::Value;
use tokio::sync::watch;

use super::client::CriClient;
use super::manifest::CONTAINER_NAME;
use crate::clock::{boot_nanos, wall_to_boot};
use crate::docker::namespaces_of;
use crate::session::{CriEvent, SessionMsg};

/// Name of a sandbox's own container in the `containers` table (the kubelet's name for the
/// infrastructure container).
pub const SANDBOX_CONTAINER_NAME: &str = "POD";

/// What has been told to the session so far.
#[derive(Default)]
struct Seen {
    /// Pod id → (state, row).
    pods: HashMap<String, (i32, Pod)>,
    /// Container id → state.
    containers: HashMap<String, i32>,
    /// Reference → image id.
    images: HashMap<String, String>,
    images_before: HashSet<String>,
}

/// Describes what the runtime runs into the session.
pub struct Follower {
    client: CriClient,
    tx: SyncSender<SessionMsg>,
    clock_offset: i64,
    start_ts_nanos: u64,
    seen: Mutex<Seen>,
}

/// The follower's background task.
pub struct FollowTask {
    pub follower: Arc<Follower>,
    task: tokio::task::JoinHandle<()>,
    shutdown: watch::Sender<bool>,
}

impl FollowTask {
    /// Stops following after one last look, so that what the last calls changed is in.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.follower.poll(false).await;
    }
}

/// Starts following the runtime every `interval`.
pub async fn start(
    client: CriClient,
    tx: SyncSender<SessionMsg>,
    clock_offset: i64,
    start_ts_nanos: u64,
    interval: Duration,
) -> FollowTask {
    let follower = Arc::new(Follower {
        client,
        tx,
        clock_offset,
        start_ts_nanos,
        seen: Mutex::default(),
    });
    if let Ok(images) = follower.client.list_images().await {
        follower.seen().images_before = images.into_iter().map(|i| i.id).collect();
    }
    follower.poll(false).await;
    let (shutdown, mut stop) = watch::channel(false);
    let f = follower.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => f.poll(true).await,
                _ = stop.changed() => return,
            }
        }
    });
    FollowTask {
        follower,
        task,
        shutdown,
    }
}

fn state_name_pod(state: i32) -> &'static str {
    match PodSandboxState::try_from(state) {
        Ok(PodSandboxState::SandboxReady) => "ready",
        _ => "notready",
    }
}

/// The verbose `info` of a status answer, parsed (containerd puts one JSON document there).
fn info_json(info: &HashMap<String, String>) -> Value {
    info.get("info")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// Overlay directories of a process's root, from its mountinfo: (lower, upper, work).
pub fn root_overlay(pid: u32) -> Option<(Vec<String>, Option<String>, Option<String>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
    overlay_of_root(&text)
}

/// The overlay options of the `/` mount in a mountinfo text.
pub fn overlay_of_root(mountinfo: &str) -> Option<(Vec<String>, Option<String>, Option<String>)> {
    let line = mountinfo.lines().find(|l| {
        let (pre, post) = l.split_once(" - ").unwrap_or((l, ""));
        pre.split_whitespace().nth(4) == Some("/") && post.starts_with("overlay ")
    })?;
    let options = line.split_once(" - ")?.1.split_whitespace().nth(2)?;
    let opt = |k: &str| {
        options
            .split(',')
            .find_map(|o| o.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let lower = opt("lowerdir")
        .map(|l| l.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    Some((lower, opt("upperdir"), opt("workdir")))
}

fn cgroup_of(pid: u32) -> (Option<u64>, Option<String>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return (None, None);
    };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return (None, None);
    };
    let id = crate::cgroups::v2_mount()
        .and_then(|root| std::fs::metadata(root.join(path.trim_start_matches('/'))).ok())
        .map(|m| m.ino());
    (id, Some(path.to_owned()))
}

fn mode_name(mode: i32) -> &'static str {
    match NamespaceMode::try_from(mode) {
        Ok(NamespaceMode::Pod) => "pod",
        Ok(NamespaceMode::Container) => "container",
        Ok(NamespaceMode::Node) => "node",
        Ok(NamespaceMode::Target) => "target",
        Err(_) => "unknown",
    }
}

fn pid_of(info: &Value) -> Option<u32> {
    info["pid"]
        .as_u64()
        .filter(|p| *p > 0)
        .and_then(|p| u32::try_from(p).ok())
}

fn sorted(labels: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort();
    v
}

/// The pod row and its sandbox's container row, from a verbose `PodSandboxStatus`.
pub fn pod_rows(
    r: &PodSandboxStatusResponse,
    runtime: &str,
    to_boot: impl Fn(i64) -> Option<u64>,
) -> Option<(Pod, Container)> {
    let status = r.status.as_ref()?;
    let meta = status.metadata.clone().unwrap_or_default();
    let info = info_json(&r.info);
    let pid = pid_of(&info);
    let namespaces = pid.map(namespaces_of).unwrap_or_default();
    let modes = status
        .linux
        .as_ref()
        .and_then(|l| l.namespaces.as_ref())
        .and_then(|n| n.options.as_ref())
        .map(|o| {
            vec![
                ("network".to_owned(), mode_name(o.network).to_owned()),
                ("pid".to_owned(), mode_name(o.pid).to_owned()),
                ("ipc".to_owned(), mode_name(o.ipc).to_owned()),
            ]
        })
        .unwrap_or_default();
    let status_json = serde_json::json!({ "status": status, "info": info }).to_string();
    let created = to_boot(status.created_at);
    let pod = Pod {
        pod_id: status.id.clone(),
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        attempt: meta.attempt,
        runtime: runtime.to_owned(),
        ip: status
            .network
            .as_ref()
            .map(|n| n.ip.clone())
            .filter(|ip| !ip.is_empty()),
        sandbox_pid: pid,
        namespaces: namespaces.clone(),
        namespace_modes: modes,
        cgroup_parent: info["config"]["linux"]["cgroup_parent"]
            .as_str()
            .map(str::to_owned),
        created_ts_nanos: created,
        stopped_ts_nanos: None,
        removed_ts_nanos: None,
        labels: sorted(&status.labels),
        status_json: status_json.clone(),
    };
    let (cgroup_id, cgroup_path) = pid.map_or((None, None), cgroup_of);
    let (lower, upper, work) = pid.and_then(root_overlay).unwrap_or_default();
    let sandbox = Container {
        container_id: status.id.clone(),
        name: SANDBOX_CONTAINER_NAME.to_owned(),
        image: info["image"].as_str().unwrap_or_default().to_owned(),
        init_pid: pid,
        cgroup_id,
        cgroup_path,
        created_ts_nanos: created,
        namespaces,
        lower_dirs: lower,
        upper_dir: upper,
        work_dir: work,
        merged_dir: info["runtimeSpec"]["root"]["path"]
            .as_str()
            .map(str::to_owned),
        inspect_json: status_json,
        pod_id: Some(status.id.clone()),
        ..Container::default()
    };
    Some((pod, sandbox))
}

/// A container row from a verbose `ContainerStatus`; `pod_id` from the listing.
pub fn container_row(
    r: &ContainerStatusResponse,
    pod_id: &str,
    to_boot: impl Fn(i64) -> Option<u64>,
) -> Option<Container> {
    let status = r.status.as_ref()?;
    let info = info_json(&r.info);
    let state = ContainerState::try_from(status.state).ok();
    // The init's pid stays in the status after it exited; /proc is read only while it lives.
    // Once created it already is in all its namespaces (runc's init waits there to exec the
    // entrypoint), so a container that runs for a moment only is described from then.
    let pid = pid_of(&info);
    let live = pid.filter(|_| {
        matches!(
            state,
            Some(ContainerState::ContainerCreated | ContainerState::ContainerRunning)
        )
    });
    let (cgroup_id, cgroup_path) = live.map_or((None, None), cgroup_of);
    let (lower, upper, work) = live.and_then(root_overlay).unwrap_or_default();
    let name = status
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .or_else(|| status.labels.get(CONTAINER_NAME).cloned())
        .unwrap_or_default();
    let sandbox = info["sandboxID"].as_str().unwrap_or(pod_id);
    Some(Container {
        container_id: status.id.clone(),
        name,
        image: status
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        image_id: status.image_ref.clone(),
        init_pid: pid,
        cgroup_id,
        cgroup_path,
        created_ts_nanos: to_boot(status.created_at),
        started_ts_nanos: to_boot(status.started_at),
        died_ts_nanos: to_boot(status.finished_at),
        exit_code: (state == Some(ContainerState::ContainerExited))
            .then_some(i64::from(status.exit_code)),
        namespaces: live.map(namespaces_of).unwrap_or_default(),
        lower_dirs: lower,
        upper_dir: upper,
        work_dir: work,
        merged_dir: info["runtimeSpec"]["root"]["path"]
            .as_str()
            .map(str::to_owned),
        inspect_json: serde_json::json!({ "status": status, "info": info }).to_string(),
        pod_id: (!sandbox.is_empty()).then(|| sandbox.to_owned()),
        ..Container::default()
    })
}

/// A resource sample from the CRI's container statistics.
pub fn sample_of(s: &ContainerStats) -> Option<ResourceSample<String>> {
    let id = s.attributes.as_ref()?.id.clone();
    let memory = s.memory.as_ref();
    Some(ResourceSample {
        container_id: id,
        cpu_nanos: s
            .cpu
            .as_ref()
            .and_then(|c| c.usage_core_nano_seconds.as_ref())
            .map_or(0, |v| v.value),
        mem_bytes: memory
            .and_then(|m| m.working_set_bytes.as_ref())
            .map_or(0, |v| v.value),
        mem_limit_bytes: memory
            .and_then(|m| m.available_bytes.as_ref())
            .zip(memory.and_then(|m| m.working_set_bytes.as_ref()))
            .map_or(0, |(a, w)| a.value + w.value),
        ..ResourceSample::default()
    })
}

impl Follower {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send(&self, msg: SessionMsg) {
        // The session thread ends after the CRI side stopped; an error here means it
        // failed, which the recorder reports itself.
        let _ = self.tx.send(msg);
    }

    /// Wall-clock ns (the CRI's timestamps) on the session's clock; `None` for 0 (unset).
    fn to_boot(&self, wall_nanos: i64) -> Option<u64> {
        (wall_nanos > 0).then(|| wall_to_boot(wall_nanos, self.clock_offset))
    }

    /// A change of state the runtime reported, as an event, if it happened while recording.
    fn state_event(
        &self,
        ts_nanos: Option<u64>,
        state: &str,
        pod_id: &str,
        container_id: &str,
        name: &str,
    ) {
        let Some(ts) = ts_nanos.filter(|t| *t >= self.start_ts_nanos) else {
            return;
        };
        self.send(SessionMsg::CriEvent(Box::new(CriEvent {
            ts_nanos: ts,
            duration_nanos: 0,
            method: String::new(),
            state: state.to_owned(),
            pod_id: pod_id.to_owned(),
            container_id: container_id.to_owned(),
            name: name.to_owned(),
            error: String::new(),
        })));
    }

    /// Describes a pod sandbox and its own container; returns the pod.
    pub async fn describe_pod(&self, pod_id: &str) -> Option<Pod> {
        let r = self.client.pod_sandbox_status(pod_id).await.ok()?;
        let (mut pod, sandbox) = pod_rows(&r, &self.client.runtime_name, |t| self.to_boot(t))?;
        let state = r.status.as_ref().map_or(0, |s| s.state);
        let previous = {
            let seen = self.seen();
            seen.pods.get(pod_id).map(|(s, p)| (*s, p.clone()))
        };
        if let Some((_, old)) = &previous {
            pod.stopped_ts_nanos = old.stopped_ts_nanos;
            if pod.sandbox_pid.is_none() {
                pod.sandbox_pid = old.sandbox_pid;
                pod.namespaces.clone_from(&old.namespaces);
            }
        }
        let changed = previous.as_ref().map(|(s, _)| *s) != Some(state);
        if changed {
            if previous.is_none() {
                self.state_event(
                    pod.created_ts_nanos,
                    "created",
                    pod_id,
                    "",
                    &pod.full_name(),
                );
            }
            if state_name_pod(state) == "notready" {
                pod.stopped_ts_nanos = pod.stopped_ts_nanos.or(Some(boot_nanos()));
                self.state_event(
                    pod.stopped_ts_nanos,
                    "notready",
                    pod_id,
                    "",
                    &pod.full_name(),
                );
            }
        }
        let mut sandbox = sandbox;
        if let Some(id) = self.describe_image(&sandbox.image).await {
            sandbox.image_id = id;
        }
        self.seen()
            .pods
            .insert(pod_id.to_owned(), (state, pod.clone()));
        self.send(SessionMsg::Container(Box::new(sandbox)));
        self.send(SessionMsg::Pod(Box::new(pod.clone())));
        Some(pod)
    }

    /// Describes a container of pod `pod_id`.
    pub async fn describe_container(&self, container_id: &str, pod_id: &str) -> Option<Container> {
        let r = self.client.container_status(container_id).await.ok()?;
        let row = container_row(&r, pod_id, |t| self.to_boot(t))?;
        let state = r.status.as_ref().map_or(0, |s| s.state);
        let previous = self
            .seen()
            .containers
            .insert(container_id.to_owned(), state);
        if previous != Some(state) {
            let pod = row.pod_id.as_deref().unwrap_or_default();
            if previous.is_none() {
                self.state_event(
                    row.created_ts_nanos,
                    "created",
                    pod,
                    container_id,
                    &row.name,
                );
            }
            if previous.is_none_or(|p| p == ContainerState::ContainerCreated as i32) {
                self.state_event(
                    row.started_ts_nanos,
                    "started",
                    pod,
                    container_id,
                    &row.name,
                );
            }
            self.state_event(row.died_ts_nanos, "exited", pod, container_id, &row.name);
        }
        let mut row = row;
        // containerd 1.6 gives the image as a repository digest (`image_ref`), not its id.
        if let Some(id) = self.describe_image(&row.image).await {
            row.image_id = id;
        }
        self.send(SessionMsg::Container(Box::new(row.clone())));
        Some(row)
    }

    /// Describes an image once per session (with the layers its config names); its id.
    pub async fn describe_image(&self, reference: &str) -> Option<String> {
        if reference.is_empty() {
            return None;
        }
        if let Some(id) = self.seen().images.get(reference) {
            return Some(id.clone());
        }
        let r = self.client.image_status(reference).await.ok()?;
        let image = r.image?;
        let info = info_json(&r.info);
        {
            let mut seen = self.seen();
            let first = !seen.images.values().any(|id| *id == image.id);
            seen.images.insert(reference.to_owned(), image.id.clone());
            if !first {
                return Some(image.id);
            }
        }
        let existed_before = self.seen().images_before.contains(&image.id);
        let repo = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
        let manifest_digest = image
            .repo_digests
            .iter()
            .find(|d| d.starts_with(&format!("{repo}@")))
            .or(image.repo_digests.first())
            .and_then(|d| d.split_once('@').map(|(_, digest)| digest.to_owned()));
        let config = &info["imageSpec"];
        self.send(SessionMsg::Image(Box::new(Image {
            image_id: image.id.clone(),
            reference: reference.to_owned(),
            manifest_digest,
            config_json: config.to_string(),
            size_bytes: image.size,
            existed_before,
        })));
        for (index, diff) in config["rootfs"]["diff_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .enumerate()
        {
            self.send(SessionMsg::Layer(Box::new(Layer {
                image_id: image.id.clone(),
                layer_index: index as u32,
                digest: None,
                diff_id: diff.to_owned(),
                size_bytes: 0,
                overlay_dir: None,
            })));
        }
        Some(image.id)
    }

    /// One look at the runtime: new and changed pods and containers are described, gone
    /// ones marked removed; with `stats`, a resource sample of every container.
    pub async fn poll(&self, stats: bool) {
        let (Ok(pods), Ok(containers)) = (
            self.client.list_pod_sandboxes().await,
            self.client.list_containers().await,
        ) else {
            return;
        };
        let now = boot_nanos();
        for p in &pods {
            let known = self.seen().pods.get(&p.id).map(|(s, _)| *s);
            if known != Some(p.state) {
                self.describe_pod(&p.id).await;
            }
        }
        for c in &containers {
            let known = self.seen().containers.get(&c.id).copied();
            if known != Some(c.state) {
                self.describe_container(&c.id, &c.pod_sandbox_id).await;
            }
        }
        let listed: HashSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        let gone: Vec<String> = self
            .seen()
            .containers
            .keys()
            .filter(|id| !listed.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.seen().containers.remove(&id);
            self.state_event(Some(now), "removed", "", &id, "");
            self.send(SessionMsg::Container(Box::new(Container {
                container_id: id,
                destroyed_ts_nanos: Some(now),
                inspect_json: "{}".into(),
                ..Container::default()
            })));
        }
        let listed: HashSet<&str> = pods.iter().map(|p| p.id.as_str()).collect();
        let gone: Vec<(String, Pod)> = self
            .seen()
            .pods
            .iter()
            .filter(|(id, _)| !listed.contains(id.as_str()))
            .map(|(id, (_, p))| (id.clone(), p.clone()))
            .collect();
        for (id, mut pod) in gone {
            self.seen().pods.remove(&id);
            self.state_event(Some(now), "removed", &id, "", &pod.full_name());
            pod.removed_ts_nanos = Some(now);
            pod.stopped_ts_nanos = pod.stopped_ts_nanos.or(Some(now));
            self.send(SessionMsg::Container(Box::new(Container {
                container_id: id,
                destroyed_ts_nanos: Some(now),
                inspect_json: "{}".into(),
                ..Container::default()
            })));
            self.send(SessionMsg::Pod(Box::new(pod)));
        }
        if stats && let Ok(all) = self.client.list_container_stats().await {
            for s in all.iter().filter_map(sample_of) {
                self.send(SessionMsg::Sample(Box::new(Sample {
                    ts_nanos: now,
                    sample: s,
                })));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_of_a_container_root() {
        let mountinfo = "\
2201 1870 0:151 / / rw,relatime - overlay overlay rw,lowerdir=/s/3/fs:/s/2/fs,upperdir=/s/9/fs,workdir=/s/9/work
2202 2201 0:153 / /proc rw,nosuid - proc proc rw
";
        let (lower, upper, work) = overlay_of_root(mountinfo).unwrap();
        assert_eq!(lower, ["/s/3/fs", "/s/2/fs"]);
        assert_eq!(upper.as_deref(), Some("/s/9/fs"));
        assert_eq!(work.as_deref(), Some("/s/9/work"));
        assert!(overlay_of_root("22 1 8:1 / / rw - ext4 /dev/vda rw\n").is_none());
    }
}
