//! The Docker daemon's side of the story, through its API (bollard): daemon events,
//! container inspect data and namespaces, images and their layers, resource samples, and
//! the pull / run / fetch the recorder can perform itself.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use beefine_schema::{
    Container, DaemonSample, DockerEvent, Image, Layer, Loss, LossSource, ResourceSample, Sample,
};
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStatsResponse, EventMessage,
    HostConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, StatsOptions, StopContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::cli::RecordArgs;
use crate::clock::{boot_nanos, wall_nanos, wall_to_boot};
use crate::session::SessionMsg;

/// Label put on everything the recorder creates, so that it can be found and removed.
pub const SESSION_LABEL: &str = "io.beefine.session";

/// State shared by the Docker tasks.
struct Shared {
    tx: SyncSender<SessionMsg>,
    clock_offset: i64,
    /// Containers to sample.
    running: Mutex<BTreeSet<String>>,
    /// Images already described in the session.
    images: Mutex<BTreeSet<String>>,
    /// Image ids present before the session started.
    images_before: Mutex<BTreeSet<String>>,
    data_root: Mutex<Option<PathBuf>>,
}

impl Shared {
    fn send(&self, msg: SessionMsg) {
        // The session thread ends only after the Docker side has stopped; an error here
        // means it failed, which the recorder reports itself.
        let _ = self.tx.send(msg);
    }

    fn to_boot(&self, time_nano: Option<i64>) -> u64 {
        time_nano.map_or_else(boot_nanos, |t| wall_to_boot(t, self.clock_offset))
    }
}

/// The daemon connection and its background tasks.
pub struct DockerSide {
    docker: Option<Docker>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_local_defaults()
        .context("connecting to the Docker daemon at /var/run/docker.sock")?;
    let docker = docker
        .negotiate_version()
        .await
        .context("asking the Docker daemon for its API version")?;
    docker.ping().await.context("pinging the Docker daemon")?;
    Ok(docker)
}

/// Connects and starts following the daemon. Without a daemon the kernel side records alone
/// and the missing span is recorded as a loss when (if) the daemon appears.
/// Connects before recording starts: negotiating the API version (`GET /version`) makes
/// dockerd run `runc --version` and `docker-init --version`, which belong to the recorder,
/// not to the story. Without a daemon the kernel side records alone.
pub async fn connect_early() -> Option<Docker> {
    match connect().await {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("beefine-record: {e:#}; recording the kernel side only until it answers");
            None
        }
    }
}

/// Starts following the daemon through `docker` (from [`connect_early`]).
pub async fn start(
    docker: Option<Docker>,
    tx: SyncSender<SessionMsg>,
    clock_offset: i64,
    interval: Duration,
) -> DockerSide {
    let shared = Arc::new(Shared {
        tx,
        clock_offset,
        running: Mutex::default(),
        images: Mutex::default(),
        images_before: Mutex::default(),
        data_root: Mutex::default(),
    });
    let (shutdown, stop) = watch::channel(false);
    if let Some(d) = &docker {
        snapshot(d, &shared).await;
    }
    let tasks = vec![
        tokio::spawn(follow_events(docker.clone(), shared.clone(), stop.clone())),
        tokio::spawn(sample_resources(
            docker.clone(),
            shared.clone(),
            interval,
            stop,
        )),
    ];
    DockerSide {
        docker,
        shared,
        tasks,
        shutdown,
    }
}

impl DockerSide {
    fn client(&self) -> Result<&Docker> {
        self.docker.as_ref().ok_or_else(|| {
            anyhow!(
                "the Docker daemon is not reachable at /var/run/docker.sock (is dockerd running?)"
            )
        })
    }

    /// Stops following; takes a last daemon sample.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        if let Some(d) = &self.docker {
            daemon_sample(d, &self.shared).await;
        }
    }
}

/// What the daemon has at the start: running containers (to sample) and the images present.
async fn snapshot(docker: &Docker, shared: &Shared) {
    if let Ok(images) = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
    {
        shared
            .images_before
            .lock()
            .expect("not poisoned")
            .extend(images.into_iter().map(|i| i.id));
    }
    let running = docker
        .list_containers(Some(ListContainersOptions {
            all: false,
            ..Default::default()
        }))
        .await
        .unwrap_or_default();
    for c in running {
        if let Some(id) = c.id {
            describe_container(docker, shared, &id, None).await;
            shared.running.lock().expect("not poisoned").insert(id);
        }
    }
    daemon_sample(docker, shared).await;
}

/// Daemon-wide totals, from the container and image lists: `GET /info` would make dockerd
/// run `docker-init --version` and friends each time, processes the recording would then
/// show as if the container stack had started them on its own.
async fn daemon_sample(docker: &Docker, shared: &Shared) {
    let all = ListContainersOptions {
        all: true,
        ..Default::default()
    };
    let (Ok(containers), Ok(images)) = (
        docker.list_containers(Some(all)).await,
        docker
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await,
    ) else {
        return;
    };
    let state = |s: &str| {
        containers
            .iter()
            .filter(|c| c.state.as_ref().is_some_and(|st| st.to_string() == s))
            .count() as u32
    };
    let running = state("running");
    let paused = state("paused");
    shared.send(SessionMsg::DaemonSample(DaemonSample {
        ts_nanos: boot_nanos(),
        containers_running: running,
        containers_paused: paused,
        containers_stopped: containers.len() as u32 - running - paused,
        images: images.len() as u32,
    }));
}

/// Namespace inodes of a process, from /proc/PID/ns/*.
pub fn namespaces_of(pid: u32) -> Vec<(String, u64)> {
    ["pid", "mnt", "net", "uts", "ipc", "cgroup", "user", "time"]
        .into_iter()
        .filter_map(|kind| {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
            let text = link.to_string_lossy().into_owned();
            let inode = text.split_once('[')?.1.trim_end_matches(']').parse().ok()?;
            Some((kind.to_owned(), inode))
        })
        .collect()
}

/// The cgroup v2 id and path of a process.
fn cgroup_of(pid: u32) -> Option<(u64, String)> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
    let root = crate::cgroups::v2_mount()?;
    let meta = std::fs::metadata(root.join(path.trim_start_matches('/'))).ok()?;
    Some((meta.ino(), path))
}

/// A container row from inspect data, with the init's namespaces and cgroup.
pub fn container_row(i: &ContainerInspectResponse) -> Container {
    let state = i.state.clone().unwrap_or_default();
    let pid = state.pid.filter(|p| *p > 0).map(|p| p as u32);
    let data = i
        .graph_driver
        .as_ref()
        .map(|g| g.data.clone())
        .unwrap_or_default();
    let dir = |k: &str| data.get(k).cloned();
    let (cgroup_id, cgroup_path) = match pid.and_then(cgroup_of) {
        Some((id, path)) => (Some(id), Some(path)),
        None => (None, None),
    };
    Container {
        container_id: i.id.clone().unwrap_or_default(),
        name: i
            .name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: i
            .config
            .as_ref()
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        image_id: i.image.clone().unwrap_or_default(),
        init_pid: pid,
        cgroup_id,
        cgroup_path,
        exit_code: if state.running == Some(true) {
            None
        } else {
            state.exit_code
        },
        namespaces: pid.map(namespaces_of).unwrap_or_default(),
        lower_dirs: dir("LowerDir")
            .map(|l| {
                l.split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        upper_dir: dir("UpperDir"),
        work_dir: dir("WorkDir"),
        merged_dir: dir("MergedDir"),
        inspect_json: serde_json::to_string(i).unwrap_or_default(),
        ..Container::default()
    }
}

/// Inspects a container and sends its row; `event` sets the lifecycle time it marks.
async fn describe_container(
    docker: &Docker,
    shared: &Shared,
    id: &str,
    event: Option<(&str, u64)>,
) {
    let mut row = match docker.inspect_container(id, None).await {
        Ok(i) => container_row(&i),
        // Gone already (destroy): only the lifecycle time is news.
        Err(_) => Container {
            container_id: id.to_owned(),
            inspect_json: "{}".into(),
            ..Default::default()
        },
    };
    if let Some((action, ts)) = event {
        match action {
            "create" => row.created_ts_nanos = Some(ts),
            "start" => row.started_ts_nanos = Some(ts),
            "die" => row.died_ts_nanos = Some(ts),
            "destroy" => row.destroyed_ts_nanos = Some(ts),
            _ => {}
        }
    }
    if !row.image_id.is_empty() {
        let reference = if row.image.is_empty() {
            row.image_id.clone()
        } else {
            row.image.clone()
        };
        describe_image(docker, shared, &reference).await;
    }
    shared.send(SessionMsg::Container(Box::new(row)));
}

/// `sha256:` chain ids of a layer stack (the layer database's keys).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let id = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{:x}",
                Sha256::digest(format!("{prev} {d}").as_bytes())
            ),
        };
        out.push(id);
    }
    out
}

fn hex_of(id: &str) -> &str {
    id.strip_prefix("sha256:").unwrap_or(id)
}

/// Layers of an image from the daemon's data root: sizes and directories from the layer
/// database, compressed digests from the distribution metadata.
pub fn layers_of(
    data_root: &Path,
    image_id: &str,
    diff_ids: &[String],
    repository: Option<&str>,
) -> Vec<Layer> {
    let image_dir = data_root.join("image/overlay2");
    chain_ids(diff_ids)
        .iter()
        .zip(diff_ids)
        .enumerate()
        .map(|(index, (chain, diff))| {
            let layer_dir = image_dir.join("layerdb/sha256").join(hex_of(chain));
            let read = |f: &str| std::fs::read_to_string(layer_dir.join(f)).ok();
            let cache_id = read("cache-id");
            let meta = std::fs::read_to_string(
                image_dir
                    .join("distribution/v2metadata-by-diffid/sha256")
                    .join(hex_of(diff)),
            )
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
            .unwrap_or_default();
            let digest = meta
                .iter()
                .find(|m| {
                    repository.is_some_and(|r| {
                        m["SourceRepository"]
                            .as_str()
                            .is_some_and(|s| s.ends_with(r))
                    })
                })
                .or(meta.first())
                .and_then(|m| m["Digest"].as_str().map(str::to_owned));
            Layer {
                image_id: image_id.to_owned(),
                layer_index: index as u32,
                digest,
                diff_id: diff.clone(),
                size_bytes: read("size")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0),
                overlay_dir: cache_id.map(|c| {
                    data_root
                        .join("overlay2")
                        .join(c.trim())
                        .join("diff")
                        .display()
                        .to_string()
                }),
            }
        })
        .collect()
}

/// Inspects an image and sends it with its layers, once per session.
async fn describe_image(docker: &Docker, shared: &Shared, reference: &str) {
    let Ok(img) = docker.inspect_image(reference).await else {
        return;
    };
    let Some(image_id) = img.id.clone() else {
        return;
    };
    if !shared
        .images
        .lock()
        .expect("not poisoned")
        .insert(image_id.clone())
    {
        return;
    }
    let repository = split_reference(reference).0;
    let manifest_digest = img
        .repo_digests
        .iter()
        .flatten()
        .find(|d| d.starts_with(&format!("{repository}@")))
        .or(img.repo_digests.as_ref().and_then(|d| d.first()))
        .and_then(|d| d.split_once('@').map(|(_, digest)| digest.to_owned()));
    let existed_before = shared
        .images_before
        .lock()
        .expect("not poisoned")
        .contains(&image_id);
    shared.send(SessionMsg::Image(Box::new(Image {
        image_id: image_id.clone(),
        reference: reference.to_owned(),
        manifest_digest,
        config_json: serde_json::to_string(&img.config).unwrap_or_default(),
        size_bytes: img.size.unwrap_or(0).max(0) as u64,
        existed_before,
    })));
    let diff_ids = img.root_fs.and_then(|r| r.layers).unwrap_or_default();
    // The daemon's data root, from where the image is unpacked (GET /info would tell too, but
    // makes dockerd run runc and docker-init with --version: noise in the recording).
    let data_root = {
        let mut root = shared.data_root.lock().expect("not poisoned");
        if root.is_none() {
            *root = img
                .graph_driver
                .as_ref()
                .and_then(|g| g.data.get("UpperDir"))
                .and_then(|dir| dir.split_once("/overlay2/").map(|(r, _)| PathBuf::from(r)));
        }
        root.clone()
    };
    let repo_name = repository.split_once('/').map_or(repository, |(_, r)| r);
    if let Some(root) = data_root {
        for layer in layers_of(&root, &image_id, &diff_ids, Some(repo_name)) {
            shared.send(SessionMsg::Layer(Box::new(layer)));
        }
    }
}

/// Records one daemon event and what it changes.
async fn handle_event(docker: &Docker, shared: &Shared, ev: EventMessage) {
    let ts = shared.to_boot(ev.time_nano);
    let event_type = ev.typ.map(|t| t.to_string()).unwrap_or_default();
    let action = ev.action.unwrap_or_default();
    let actor = ev.actor.unwrap_or_default();
    let actor_id = actor.id.unwrap_or_default();
    let mut attributes: Vec<(String, String)> =
        actor.attributes.unwrap_or_default().into_iter().collect();
    attributes.sort();
    shared.send(SessionMsg::DockerEvent(Box::new(DockerEvent {
        ts_nanos: ts,
        event_type: event_type.clone(),
        action: action.clone(),
        actor_id: actor_id.clone(),
        attributes: attributes.clone(),
    })));
    // "exec_start: sh -c …" carries its command after a colon.
    let verb = action.split(':').next().unwrap_or("").trim();
    match (event_type.as_str(), verb) {
        ("container", "create" | "start" | "die" | "destroy") => {
            {
                let mut running = shared.running.lock().expect("not poisoned");
                if verb == "start" {
                    running.insert(actor_id.clone());
                } else if verb == "die" || verb == "destroy" {
                    running.remove(&actor_id);
                }
            }
            describe_container(docker, shared, &actor_id, Some((verb, ts))).await;
            if verb == "start" {
                // A first sample at once: short-lived containers get one too.
                sample_one(docker, shared, &actor_id).await;
            }
            daemon_sample(docker, shared).await;
        }
        // The last sample of a container before it goes: its processes are still there.
        ("container", "kill" | "stop") => {
            sample_one(docker, shared, &actor_id).await;
        }
        ("image", "pull" | "tag" | "load" | "import") => {
            describe_image(docker, shared, &actor_id).await;
            daemon_sample(docker, shared).await;
        }
        ("image", "delete" | "untag") => daemon_sample(docker, shared).await,
        _ => {}
    }
}

/// Follows the daemon's events for the whole session, reconnecting when it goes away; the
/// span without a daemon is recorded as a loss of source `docker`.
async fn follow_events(
    mut docker: Option<Docker>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut since_wall = wall_nanos();
    let mut gap_start = docker.is_none().then(boot_nanos);
    loop {
        if *stop.borrow() {
            return;
        }
        let Some(d) = docker.clone() else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
            if let Ok(d) = connect().await {
                snapshot(&d, &shared).await;
                docker = Some(d);
            }
            continue;
        };
        if let Some(start) = gap_start.take() {
            let now = boot_nanos();
            shared.send(SessionMsg::Loss(Loss {
                ts_nanos: start,
                until_ts_nanos: now,
                source: LossSource::Docker,
                cpu: 0,
                count: 0,
            }));
        }
        let since = format!(
            "{}.{:09}",
            since_wall / 1_000_000_000,
            since_wall % 1_000_000_000
        );
        let mut events = d.events(Some(EventsOptions {
            since: Some(since),
            ..Default::default()
        }));
        loop {
            tokio::select! {
                next = events.next() => match next {
                    Some(Ok(ev)) => {
                        if let Some(t) = ev.time_nano {
                            // Resume after the last event seen when reconnecting.
                            since_wall = t + 1;
                        }
                        handle_event(&d, &shared, ev).await;
                    }
                    // The daemon went away: remember since when, and wait for it.
                    Some(Err(_)) | None => break,
                },
                _ = stop.changed() => {
                    // Take what the daemon emitted up to now before stopping.
                    while let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_millis(150), events.next()).await {
                        handle_event(&d, &shared, ev).await;
                    }
                    return;
                }
            }
        }
        if d.ping().await.is_err() {
            gap_start = Some(boot_nanos());
            docker = None;
        }
    }
}

/// Resource use of a container from one-shot stats.
pub fn sample_of(id: &str, s: &ContainerStatsResponse) -> ResourceSample<String> {
    let blk = |op: &str| {
        s.blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref())
            .map_or(0, |entries| {
                entries
                    .iter()
                    .filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
                    .filter_map(|e| e.value)
                    .sum()
            })
    };
    let net = |f: fn(&bollard::models::ContainerNetworkStats) -> Option<u64>| {
        s.networks
            .as_ref()
            .map_or(0, |n| n.values().filter_map(f).sum())
    };
    ResourceSample {
        container_id: id.to_owned(),
        cpu_nanos: s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0),
        mem_bytes: s.memory_stats.as_ref().and_then(|m| m.usage).unwrap_or(0),
        mem_limit_bytes: s.memory_stats.as_ref().and_then(|m| m.limit).unwrap_or(0),
        blk_read_bytes: blk("read"),
        blk_write_bytes: blk("write"),
        net_rx_bytes: net(|n| n.rx_bytes),
        net_tx_bytes: net(|n| n.tx_bytes),
        pids: s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0) as u32,
    }
}

/// One resource sample of a container; false when the daemon did not give one.
async fn sample_one(docker: &Docker, shared: &Shared, id: &str) -> bool {
    let opts = StatsOptions {
        stream: false,
        one_shot: true,
    };
    let ts = boot_nanos();
    match docker.stats(id, Some(opts)).next().await {
        // A container that stopped answers with empty statistics: not a sample of zeros.
        Some(Ok(stats))
            if stats
                .memory_stats
                .as_ref()
                .is_some_and(|m| m.usage.is_some()) =>
        {
            shared.send(SessionMsg::Sample(Box::new(Sample {
                ts_nanos: ts,
                sample: sample_of(id, &stats),
            })));
            true
        }
        Some(Ok(_)) => true,
        _ => false,
    }
}

/// Samples every running container each `interval`.
/// Shares the connection negotiated at start: each negotiation (`GET /version`) makes dockerd
/// run `runc --version` and `docker-init --version`, which would then be in the recording.
async fn sample_resources(
    mut docker: Option<Docker>,
    shared: Arc<Shared>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let ids: Vec<String> = shared
            .running
            .lock()
            .expect("not poisoned")
            .iter()
            .cloned()
            .collect();
        if ids.is_empty() {
            continue;
        }
        if docker.is_none() {
            docker = connect().await.ok();
        }
        let Some(d) = &docker else { continue };
        for id in ids {
            if !sample_one(d, &shared, &id).await && d.ping().await.is_err() {
                docker = None;
                break;
            }
        }
    }
}

/// `[IP:]HOST:CONTAINER[/PROTO]`; the IP defaults to 127.0.0.1 (never all interfaces).
pub fn parse_publish(spec: &str) -> Result<(String, String, String)> {
    let (spec, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c, h] => (*c, *h, "127.0.0.1"),
        [c, h, ip] => (*c, *h, *ip),
        _ => {
            bail!("--publish {spec:?}: use [IP:]HOST_PORT:CONTAINER_PORT, e.g. 127.0.0.1:18080:80")
        }
    };
    for p in [container, host] {
        p.parse::<u16>()
            .map_err(|_| anyhow!("--publish {spec:?}: {p:?} is not a port"))?;
    }
    Ok((
        ip.trim_matches(['[', ']']).to_owned(),
        host.to_owned(),
        format!("{container}/{proto}"),
    ))
}

/// `http://HOST:PORT/PATH` on loopback only.
pub fn parse_loopback_url(url: &str) -> Result<(std::net::SocketAddr, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--fetch {url}: only http:// URLs"))?;
    let (authority, path) = rest
        .find('/')
        .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    let ip: std::net::IpAddr = match host.trim_matches(['[', ']']) {
        "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        h => h
            .parse()
            .map_err(|_| anyhow!("--fetch {url}: use a loopback address such as 127.0.0.1"))?,
    };
    if !ip.is_loopback() {
        bail!(
            "--fetch {url}: only loopback addresses (containers are reached through published ports)"
        );
    }
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow!("--fetch {url}: bad port"))?;
    Ok(((ip, port).into(), path.to_owned()))
}

/// GET over loopback; the status line and body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(String, Vec<u8>)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: beefine-record\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.lines().next().unwrap_or("").to_owned();
    Ok((status, raw[split + 4..].to_vec()))
}

/// The pull / run / fetch asked for on the command line.
#[derive(Debug)]
pub struct Actions {
    session: String,
    pull: Option<String>,
    run: Option<String>,
    publish: Vec<(String, String, String)>,
    fetch: Option<(std::net::SocketAddr, String, String)>,
    linger: Duration,
    created: Mutex<Vec<String>>,
    pulled: Mutex<Vec<String>>,
}

fn progress(line: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("\r\x1b[2K{line}");
    }
}

/// `repo[:tag]` → (repo, tag), `latest` when there is no tag; a `@digest` is dropped.
fn split_reference(image: &str) -> (&str, &str) {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

impl Actions {
    pub fn from_args(args: &RecordArgs) -> Result<Option<Self>> {
        if args.pull.is_none() && args.run.is_none() {
            return Ok(None);
        }
        let publish = args
            .publish
            .iter()
            .map(|p| parse_publish(p))
            .collect::<Result<_>>()?;
        let fetch = args
            .fetch
            .as_deref()
            .map(|u| parse_loopback_url(u).map(|(a, p)| (a, p, u.to_owned())))
            .transpose()?;
        Ok(Some(Self {
            session: args.session.clone().unwrap_or_default(),
            pull: args.pull.clone(),
            run: args.run.clone(),
            publish,
            fetch,
            linger: args.linger,
            created: Mutex::default(),
            pulled: Mutex::default(),
        }))
    }

    async fn pull(&self, docker: &Docker, shared: &Shared, image: &str) -> Result<()> {
        let existed = docker.inspect_image(image).await.is_ok();
        let (repo, tag) = split_reference(image);
        progress(&format!("⇣ pulling {image}"));
        let mut stream = docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repo.to_owned()),
                tag: Some(tag.to_owned()),
                ..Default::default()
            }),
            None,
            None,
        );
        let mut last = HashMap::new();
        while let Some(item) = stream.next().await {
            let info = item.with_context(|| format!("pulling {image}"))?;
            if let Some(err) = info.error_detail.and_then(|e| e.message) {
                bail!("pulling {image}: {err}");
            }
            if let (Some(id), Some(status)) = (info.id, info.status)
                && last.insert(id.clone(), status.clone()).as_ref() != Some(&status)
                && !status.starts_with("Download")
                && !status.starts_with("Extract")
            {
                progress(&format!("  {id}: {status}"));
            }
        }
        if !existed {
            self.pulled
                .lock()
                .expect("not poisoned")
                .push(image.to_owned());
        }
        describe_image(docker, shared, image).await;
        Ok(())
    }

    /// Performs the actions; returns the exit code of a run container (0 otherwise).
    pub async fn perform(&self, side: &DockerSide, command: &[String]) -> Result<i32> {
        let docker = side.client()?;
        let shared = &side.shared;
        if let Some(image) = &self.pull {
            self.pull(docker, shared, image).await?;
        }
        let Some(image) = &self.run else { return Ok(0) };
        if docker.inspect_image(image).await.is_err() {
            self.pull(docker, shared, image).await?;
        }
        let mut labels = HashMap::new();
        labels.insert(SESSION_LABEL.to_owned(), self.session.clone());
        let bindings = self.publish.iter().fold(
            HashMap::new(),
            |mut m: HashMap<String, Option<Vec<PortBinding>>>, (ip, host, ctr)| {
                m.entry(ctr.clone())
                    .or_default()
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding {
                        host_ip: Some(ip.clone()),
                        host_port: Some(host.clone()),
                    });
                m
            },
        );
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: (!command.is_empty()).then(|| command.to_vec()),
            labels: Some(labels),
            exposed_ports: (!bindings.is_empty()).then(|| bindings.keys().cloned().collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .with_context(|| format!("creating a container of {image}"))?;
        let id = created.id;
        self.created.lock().expect("not poisoned").push(id.clone());
        progress(&format!("▶ starting container {} of {image}", &id[..12]));
        docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("starting container {}", &id[..12]))?;
        if let Some((addr, path, url)) = &self.fetch {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            let (status, body) = loop {
                match http_get(*addr, path).await {
                    Ok(r) => break r,
                    Err(e) if tokio::time::Instant::now() > deadline => {
                        bail!("fetching {url}: {e:#} (the container did not answer within 15 s)")
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            };
            progress(&format!("⇄ fetched {url}: {status} ({} bytes)", body.len()));
            sample_one(docker, shared, &id).await;
            tokio::time::sleep(self.linger).await;
            docker
                .stop_container(
                    &id,
                    Some(StopContainerOptions {
                        t: Some(2),
                        ..Default::default()
                    }),
                )
                .await
                .with_context(|| format!("stopping container {}", &id[..12]))?;
            return Ok(0);
        }
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code as i32,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
            Some(Err(e)) => return Err(e).context("waiting for the container"),
            None => 0,
        };
        // What the container printed, as `docker run` shows it.
        let mut logs = docker.logs(
            &id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        while let Some(Ok(chunk)) = logs.next().await {
            use std::io::Write;
            match chunk {
                bollard::container::LogOutput::StdErr { message } => {
                    let _ = std::io::stderr().write_all(&message);
                }
                other => {
                    let _ = std::io::stdout().write_all(&other.into_bytes());
                }
            }
        }
        Ok(code)
    }

    /// Removes the containers it created and the images it pulled that were not there.
    pub async fn cleanup(&self, side: &DockerSide) {
        let Ok(docker) = side.client() else { return };
        let containers: Vec<String> =
            std::mem::take(&mut *self.created.lock().expect("not poisoned"));
        for id in containers {
            let _ = docker
                .remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
        let images: Vec<String> = std::mem::take(&mut *self.pulled.lock().expect("not poisoned"));
        for image in images {
            let _ = docker
                .remove_image(
                    &image,
                    Some(RemoveImageOptions {
                        force: false,
                        ..Default::default()
                    }),
                    None,
                )
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let diff = vec!["sha256:aa".to_owned(), "sha256:bb".to_owned()];
        let chain = chain_ids(&diff);
        assert_eq!(chain[0], "sha256:aa");
        let expected = format!("sha256:{:x}", Sha256::digest(b"sha256:aa sha256:bb"));
        assert_eq!(chain[1], expected);
    }

    #[test]
    fn publish_specs() {
        assert_eq!(
            parse_publish("127.0.0.1:18080:80").unwrap(),
            ("127.0.0.1".into(), "18080".into(), "80/tcp".into())
        );
        assert_eq!(
            parse_publish("8080:80/udp").unwrap(),
            ("127.0.0.1".into(), "8080".into(), "80/udp".into())
        );
        assert!(parse_publish("80").is_err());
        assert!(parse_publish("a:b").is_err());
    }

    #[test]
    fn references() {
        assert_eq!(
            split_reference("localhost:5000/nginx:1"),
            ("localhost:5000/nginx", "1")
        );
        assert_eq!(
            split_reference("localhost:5000/nginx"),
            ("localhost:5000/nginx", "latest")
        );
        assert_eq!(split_reference("busybox@sha256:ab"), ("busybox", "latest"));
    }

    #[test]
    fn fetch_is_loopback_only() {
        let (addr, path) = parse_loopback_url("http://127.0.0.1:18080/index.html").unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:18080");
        assert_eq!(path, "/index.html");
        assert_eq!(
            parse_loopback_url("http://localhost:1/").unwrap().0.port(),
            1
        );
        assert!(parse_loopback_url("http://172.17.0.2/").is_err());
        assert!(parse_loopback_url("https://127.0.0.1/").is_err());
    }

    #[test]
    fn own_namespaces() {
        let ns = namespaces_of(std::process::id());
        assert!(ns.iter().any(|(k, v)| k == "net" && *v > 0));
    }
}
