//! Rows of the entity tables: what people query with plain `sqlite3`.

use serde::{Deserialize, Serialize};

use crate::event::{LossSource, Namespaces, ResourceSample};

/// What a recording was, as written by the recorder when it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub session_name: String,
    /// The command line that was recorded (after `--`), or the recorder's own arguments.
    pub command: Vec<String>,
    pub tool_version: String,
    /// `uname -r` of the recording host.
    pub host_kernel: String,
    pub hostname: String,
    /// Add to a boot-clock timestamp to get nanoseconds since the Unix epoch.
    pub clock_offset_nanos: i64,
    /// Boot-clock time at which recording started.
    pub start_ts_nanos: u64,
}

/// The session metadata as read back, with the state the writer left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub format_version: u32,
    pub info: SessionInfo,
    /// Boot-clock time at which recording ended (set on finish).
    pub end_ts_nanos: Option<u64>,
    pub stored_status: StoredStatus,
    /// Wall-clock time of the writer's last commit, ns since the epoch.
    pub heartbeat_wall_nanos: i64,
    /// Bumped when the writer rewrites chunks (compaction); tail cursors then start over.
    pub generation: i64,
    /// The writer holds `NAME.beefine-lock` locked while it runs (`meta.liveness = lock`),
    /// so its absence or a free lock means it is gone; otherwise the heartbeat decides.
    pub lock_liveness: bool,
    /// Process id of the writer (`meta.writer_pid`).
    pub writer_pid: Option<u32>,
}

/// The status field as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredStatus {
    Recording,
    Complete,
}

/// What a reader concludes about a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// A writer is still appending (its heartbeat is fresh).
    Live,
    /// The writer finished and marked the session complete.
    Complete,
    /// The writer stopped without finishing (killed, crashed, disk full); everything it
    /// committed is readable.
    Interrupted,
}

impl Status {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Complete => "complete",
            Self::Interrupted => "interrupted",
        }
    }
}

/// The part of the container stack a process belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Component {
    Dockerd,
    Containerd,
    Shim,
    Runc,
    DockerProxy,
    /// A CNI plugin the runtime ran to wire a pod's network (`bridge`, `host-local`, …).
    Cni,
    /// The container's first process (docker-init or the entrypoint).
    ContainerInit,
    /// Any other process inside a container.
    Workload,
    /// The command given to the recorder after `--`, and its descendants.
    Command,
    /// Everything else (recorded with `--all`, or helpers the stack ran).
    Other,
}

impl Component {
    pub const ALL: [Component; 10] = [
        Self::Dockerd,
        Self::Containerd,
        Self::Shim,
        Self::Runc,
        Self::DockerProxy,
        Self::Cni,
        Self::ContainerInit,
        Self::Workload,
        Self::Command,
        Self::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Dockerd => "dockerd",
            Self::Containerd => "containerd",
            Self::Shim => "shim",
            Self::Runc => "runc",
            Self::DockerProxy => "docker-proxy",
            Self::Cni => "cni",
            Self::ContainerInit => "container-init",
            Self::Workload => "workload",
            Self::Command => "command",
            Self::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One process (thread group) seen during the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub exe: Option<String>,
    pub argv: Vec<String>,
    /// When it started (fork) or was first seen.
    pub start_ts_nanos: u64,
    pub exit_ts_nanos: Option<u64>,
    /// Raw wait status from the exit event.
    pub exit_code: Option<i32>,
    pub container_id: Option<String>,
    pub component: Component,
    pub cgroup_id: u64,
    pub ns: Namespaces,
}

/// A container, from the runtime's description of it (Docker's inspect data, the CRI's
/// container status) and `/proc/<pid>/ns/*`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub container_id: String,
    /// Docker's container name; in a pod, the container's name in the pod spec (`POD` for
    /// the sandbox's own container).
    pub name: String,
    /// The image reference the container was created from.
    pub image: String,
    pub image_id: String,
    pub init_pid: Option<u32>,
    /// The container's cgroup v2 id (inode of its cgroup directory).
    pub cgroup_id: Option<u64>,
    pub cgroup_path: Option<String>,
    pub created_ts_nanos: Option<u64>,
    pub started_ts_nanos: Option<u64>,
    pub died_ts_nanos: Option<u64>,
    pub destroyed_ts_nanos: Option<u64>,
    pub exit_code: Option<i64>,
    /// Namespace inodes of the init process, by kind (`pid`, `mnt`, `net`, `uts`, `ipc`,
    /// `cgroup`, `user`, `time`).
    pub namespaces: Vec<(String, u64)>,
    /// Overlay directories of the rootfs.
    pub lower_dirs: Vec<String>,
    pub upper_dir: Option<String>,
    pub work_dir: Option<String>,
    pub merged_dir: Option<String>,
    /// What the runtime says of the container, as JSON: `docker inspect`, or the CRI's
    /// `ContainerStatus` (`PodSandboxStatus` for a sandbox) with its verbose `info`.
    pub inspect_json: String,
    /// The pod the container belongs to ([`Pod::pod_id`]); the sandbox's own container (the
    /// pause process that holds the pod's namespaces) has `container_id == pod_id`.
    pub pod_id: Option<String>,
}

impl Container {
    pub fn namespace(&self, kind: &str) -> Option<u64> {
        self.namespaces
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| *v)
    }

    /// The short 12-character id Docker shows.
    pub fn short_id(&self) -> &str {
        crate::format::short_id(&self.container_id)
    }

    /// Whether this is a pod sandbox's own container (the pause process).
    pub fn is_sandbox(&self) -> bool {
        self.pod_id.as_deref() == Some(self.container_id.as_str())
    }
}

/// A Kubernetes pod as its node's CRI runtime ran it: the sandbox (a pause container holding
/// the pod's network, IPC and UTS namespaces, networked by CNI) and the containers that join
/// it (`containers.pod_id`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    /// The CRI sandbox id (also the id of the sandbox's own container).
    pub pod_id: String,
    /// `metadata.name`, `metadata.namespace` and `metadata.uid` of the pod.
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// How many times the kubelet made a sandbox for this pod before (0 for the first).
    pub attempt: u32,
    /// The runtime that ran it, as it names itself (`containerd 1.6.20 (CRI v1)`).
    pub runtime: String,
    /// The pod's IP address on its CNI network, if it has one.
    pub ip: Option<String>,
    /// The sandbox's process (the pause program), on the host.
    pub sandbox_pid: Option<u32>,
    /// Namespace inodes of the sandbox process, by kind (`net`, `ipc`, `uts`, `pid`, …): the
    /// namespaces the pod's containers join.
    pub namespaces: Vec<(String, u64)>,
    /// Which namespaces the containers share: `network`, `pid` and `ipc`, each `pod`,
    /// `container`, `node` or `target` (the CRI's `NamespaceMode`).
    pub namespace_modes: Vec<(String, String)>,
    /// The pod's cgroup parent (`/kubepods/besteffort/pod<uid>`).
    pub cgroup_parent: Option<String>,
    pub created_ts_nanos: Option<u64>,
    /// When the runtime was first seen reporting it not ready (stopped).
    pub stopped_ts_nanos: Option<u64>,
    /// When it was seen gone from the runtime (removed).
    pub removed_ts_nanos: Option<u64>,
    pub labels: Vec<(String, String)>,
    /// The CRI's `PodSandboxStatus` with its verbose `info`, as JSON.
    pub status_json: String,
}

impl Pod {
    pub fn namespace(&self, kind: &str) -> Option<u64> {
        self.namespaces
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, v)| *v)
    }

    /// `namespace/name`, as kubectl names a pod.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// An image pulled or run during the session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:…` of the image config.
    pub image_id: String,
    pub reference: String,
    /// `sha256:…` of the registry manifest, when pulled from a registry.
    pub manifest_digest: Option<String>,
    pub config_json: String,
    pub size_bytes: u64,
    /// Whether the image was already present when the session started.
    pub existed_before: bool,
}

/// One layer of an image, bottom first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub image_id: String,
    /// 0 is the bottom layer.
    pub layer_index: u32,
    /// Compressed digest as in the registry manifest.
    pub digest: Option<String>,
    /// Uncompressed digest (`rootfs.diff_ids`).
    pub diff_id: String,
    pub size_bytes: u64,
    /// Directory the layer is unpacked to under the daemon's data root (overlay2 `diff`).
    pub overlay_dir: Option<String>,
}

/// An event from the Docker daemon on the session clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerEvent {
    pub ts_nanos: u64,
    /// `container`, `image`, `network`, `volume`, …
    pub event_type: String,
    /// `create`, `start`, `die`, `pull`, …
    pub action: String,
    pub actor_id: String,
    pub attributes: Vec<(String, String)>,
}

/// A resource sample of one container on the session clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub ts_nanos: u64,
    pub sample: ResourceSample<String>,
}

/// Daemon-wide totals at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSample {
    pub ts_nanos: u64,
    pub containers_running: u32,
    pub containers_paused: u32,
    pub containers_stopped: u32,
    pub images: u32,
}

/// Events that were lost, or a span in which a source was not recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    pub ts_nanos: u64,
    pub until_ts_nanos: u64,
    pub source: LossSource,
    pub cpu: u32,
    pub count: u64,
}

/// A probe that produced events: built-in or user-supplied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub probe_id: u32,
    pub name: String,
    pub builtin: bool,
    /// Program names with their attach points (`tracepoint/syscalls/sys_enter_mount`, …).
    pub programs: Vec<(String, String)>,
    /// The record type's name in `btf`.
    pub record_type: Option<String>,
    /// Raw BTF describing the record type(s), enough to decode `custom` events by field.
    pub btf: Vec<u8>,
    /// sha256 of the object file, hex.
    pub object_sha256: Option<String>,
}

/// A named point in time someone marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    pub ts_nanos: u64,
    pub label: String,
    pub note: String,
}
