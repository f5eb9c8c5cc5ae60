//! `--pod`: the kubelet's part, played by the recorder: run a pod from its manifest through
//! the CRI the way the kubelet would, wait, optionally fetch a page inside the pod, then stop
//! and remove everything it made.
//!
//! The order is the kubelet's: `RunPodSandbox` (the runtime pulls the sandbox image, makes
//! the pod's namespaces, runs CNI and the pause container), then for each container in turn
//! `ImageStatus`/`PullImage` (by the pull policy), `CreateContainer`, `StartContainer`.
//! Teardown: `StopContainer` and `RemoveContainer` for each, `StopPodSandbox` (CNI tears
//! the network down), `RemovePodSandbox`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_cri::v1::{ContainerState, PodSandboxConfig};

use super::client::{CriClient, Target};
use super::follow::Follower;
use super::manifest::{PodManifest, Pull, new_uid};
use crate::docker::SESSION_LABEL;

fn progress(line: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("\r\x1b[2K{line}");
    }
}

/// What the pod run made, for the teardown.
#[derive(Debug, Default)]
struct Made {
    pod_id: Option<String>,
    /// (container id, name).
    containers: Vec<(String, String)>,
}

/// A pod to run while recording.
#[derive(Debug)]
pub struct PodRun {
    manifest: PodManifest,
    uid: String,
    session: String,
    fetch: Option<(std::net::SocketAddr, String, String)>,
    linger: Duration,
    logs: PathBuf,
    made: Mutex<Made>,
}

impl PodRun {
    pub fn new(
        manifest: PodManifest,
        session: &str,
        fetch: Option<&str>,
        linger: Duration,
    ) -> Result<Self> {
        let fetch = fetch
            .map(|u| crate::docker::parse_loopback_url(u).map(|(a, p)| (a, p, u.to_owned())))
            .transpose()?;
        let uid = manifest.metadata.uid.clone().unwrap_or_else(new_uid);
        let logs = std::env::temp_dir().join(format!(
            "beefine-pods/{}_{}_{uid}",
            manifest.metadata.namespace, manifest.metadata.name
        ));
        Ok(Self {
            manifest,
            uid,
            session: session.to_owned(),
            fetch,
            linger,
            logs,
            made: Mutex::default(),
        })
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Made> {
        self.made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sandbox_config(&self) -> PodSandboxConfig {
        self.manifest
            .sandbox_config(&self.uid, &self.logs, &[(SESSION_LABEL, &self.session)])
    }

    fn full_name(&self) -> String {
        format!(
            "{}/{}",
            self.manifest.metadata.namespace, self.manifest.metadata.name
        )
    }

    /// Runs the pod; returns the exit code: the first non-zero one of its containers, else 0.
    pub async fn perform(&self, cri: &CriClient, follower: &Follower) -> Result<i32> {
        std::fs::create_dir_all(&self.logs)
            .with_context(|| format!("creating the pod's log directory {}", self.logs.display()))?;
        let sandbox = self.sandbox_config();
        progress(&format!("▶ RunPodSandbox {}", self.full_name()));
        let pod_id = cri
            .run_pod_sandbox(sandbox.clone(), &self.full_name())
            .await?;
        self.made().pod_id = Some(pod_id.clone());
        let pod = follower.describe_pod(&pod_id).await;
        if let Some(ip) = pod.as_ref().and_then(|p| p.ip.as_deref()) {
            progress(&format!(
                "  sandbox {} up, pod IP {ip}",
                beefine_schema::format::short_id(&pod_id)
            ));
        }
        for (index, spec) in self.manifest.spec.containers.iter().enumerate() {
            let pull = match spec.pull()? {
                Pull::Always => true,
                Pull::IfNotPresent => !cri.image_present(&spec.image).await?,
                Pull::Never => false,
            };
            if pull {
                progress(&format!("⇣ PullImage {}", spec.image));
                cri.pull_image(&spec.image, &sandbox).await?;
            }
            let config = self
                .manifest
                .container_config(index, &self.uid)
                .context("a container of the manifest")?;
            let id = cri.create_container(&pod_id, config, &sandbox).await?;
            self.made().containers.push((id.clone(), spec.name.clone()));
            follower.describe_container(&id, &pod_id).await;
            progress(&format!(
                "▶ StartContainer {} ({})",
                spec.name,
                beefine_schema::format::short_id(&id)
            ));
            cri.start_container(Target {
                pod_id: pod_id.clone(),
                container_id: id.clone(),
                name: spec.name.clone(),
            })
            .await?;
            follower.describe_container(&id, &pod_id).await;
        }
        if let Some((addr, path, url)) = &self.fetch {
            let pid = follower
                .describe_pod(&pod_id)
                .await
                .and_then(|p| p.sandbox_pid)
                .context("the sandbox's process, whose network namespace --fetch enters")?;
            let (status, body) = super::netns::fetch_in_netns(pid, *addr, path.clone()).await?;
            progress(&format!(
                "⇄ fetched {url} inside the pod: {status} ({} bytes)",
                body.len()
            ));
            tokio::time::sleep(self.linger).await;
            return Ok(0);
        }
        self.wait_for_an_exit(cri).await
    }

    /// Waits until one container exited, then `--linger`; its exit code.
    async fn wait_for_an_exit(&self, cri: &CriClient) -> Result<i32> {
        let ids: Vec<(String, String)> = self.made().containers.clone();
        loop {
            for (id, name) in &ids {
                let status = cri.container_status(id).await?.status;
                let Some(s) = status else { continue };
                if s.state == ContainerState::ContainerExited as i32 {
                    progress(&format!("■ {name} exited with code {}", s.exit_code));
                    tokio::time::sleep(self.linger).await;
                    return Ok(s.exit_code);
                }
                if s.state == ContainerState::ContainerUnknown as i32 {
                    bail!("container {name} is in an unknown state: {}", s.message);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops and removes the containers and the sandbox it made, prints what the containers
    /// wrote, and removes their logs. Every step is tried; the first failure is returned.
    pub async fn cleanup(&self, cri: &CriClient, follower: &Follower) -> Result<()> {
        let made = std::mem::take(&mut *self.made());
        let Some(pod_id) = made.pod_id else {
            return Ok(());
        };
        let grace = self
            .manifest
            .spec
            .termination_grace_period_seconds
            .unwrap_or(2)
            .clamp(0, 30);
        let mut first_error = None;
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                eprintln!("beefine-record: {e:#}");
                first_error.get_or_insert(e);
            }
        };
        for (id, name) in &made.containers {
            let target = Target {
                pod_id: pod_id.clone(),
                container_id: id.clone(),
                name: name.clone(),
            };
            note(cri.stop_container(target, grace).await);
            follower.describe_container(id, &pod_id).await;
        }
        self.print_logs(&made.containers);
        for (id, name) in &made.containers {
            let target = Target {
                pod_id: pod_id.clone(),
                container_id: id.clone(),
                name: name.clone(),
            };
            note(cri.remove_container(target).await);
        }
        let target = Target {
            pod_id: pod_id.clone(),
            name: self.full_name(),
            ..Target::default()
        };
        note(cri.stop_pod_sandbox(target.clone()).await);
        follower.describe_pod(&pod_id).await;
        note(cri.remove_pod_sandbox(target).await);
        let _ = std::fs::remove_dir_all(&self.logs);
        first_error.map_or(Ok(()), Err)
    }

    /// What each container wrote, from its CRI log (`TIME STREAM TAG MESSAGE` lines).
    fn print_logs(&self, containers: &[(String, String)]) {
        use std::io::Write;
        for (_, name) in containers {
            let path = self.logs.join(name).join("0.log");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (stream, message) in text.lines().filter_map(parse_log_line) {
                let line = format!("[{name}] {message}\n");
                let _ = if stream == "stderr" {
                    std::io::stderr().write_all(line.as_bytes())
                } else {
                    std::io::stdout().write_all(line.as_bytes())
                };
            }
        }
    }

    /// The pod's log directory (the kubelet's `/var/log/pods/NS_NAME_UID`).
    pub fn log_directory(&self) -> &Path {
        &self.logs
    }
}

/// (stream, message) of a CRI log line: `2026-12-01T09:40:24.437Z stdout F hello`.
fn parse_log_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.splitn(4, ' ');
    let _time = parts.next()?;
    let stream = parts.next()?;
    let _tag = parts.next()?;
    Some((stream, parts.next().unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_log_lines() {
        assert_eq!(
            parse_log_line("2026-12-01T09:40:24.437Z stdout F Beefine pod fixture"),
            Some(("stdout", "Beefine pod fixture"))
        );
        assert_eq!(
            parse_log_line("2026-12-01T09:40:24.437Z stderr F "),
            Some(("stderr", ""))
        );
        assert_eq!(parse_log_line("garbage"), None);
    }
}
