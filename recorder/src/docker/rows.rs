//! Containers, images, layers and resource samples as the session's rows: from inspect
//! data, the daemon's data root and one-shot stats.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use beefine_schema::{Container, Image, Layer, ResourceSample, Sample};
use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse};
use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::actions::split_reference;
use super::{Shared, connect};
use crate::clock::boot_nanos;
use crate::session::SessionMsg;

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
pub(super) fn cgroup_of(pid: u32) -> Option<(u64, String)> {
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
pub(super) async fn describe_container(
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

pub(super) fn hex_of(id: &str) -> &str {
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
pub(super) async fn describe_image(docker: &Docker, shared: &Shared, reference: &str) {
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
pub(super) async fn sample_one(docker: &Docker, shared: &Shared, id: &str) -> bool {
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
pub(super) async fn sample_resources(
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
    fn own_namespaces() {
        let ns = namespaces_of(std::process::id());
        assert!(ns.iter().any(|(k, v)| k == "net" && *v > 0));
    }
}
