//! A Kubernetes node's side of the story, through the CRI (`--cri SOCKET`): the pods and
//! containers the runtime runs, described from the kubelet's labels and the runtime's
//! verbose status, and, with `--pod MANIFEST`, the kubelet's part played by the recorder.
//!
//! The CRI knowledge stays here: the session gets runtime-neutral rows (pods, containers with
//! their pod, images, resource samples) and `cri` events (the lifecycle calls with their
//! durations, and the changes of state the runtime reports).

pub mod client;
pub mod follow;
pub mod manifest;
mod netns;
pub mod pod;

use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::RecordArgs;
use crate::session::SessionMsg;

/// The CRI part of a recording, from the command line.
pub struct CriSetup {
    client: client::CriClient,
    pod: Option<pod::PodRun>,
}

/// The CRI part while recording.
pub struct CriSide {
    client: client::CriClient,
    pod: Option<pod::PodRun>,
    follow: follow::FollowTask,
}

impl CriSetup {
    /// Connects to the `--cri` runtime (before the probes load, so that the connection is
    /// not in the recording) and reads the `--pod` manifest; `None` without `--cri`.
    pub async fn from_args(args: &RecordArgs) -> Result<Option<Self>> {
        let Some(endpoint) = &args.cri else {
            if args.pod.is_some() {
                bail!("--pod needs --cri: the CRI runtime's socket");
            }
            return Ok(None);
        };
        let pod = args
            .pod
            .as_deref()
            .map(|path| {
                let manifest = manifest::PodManifest::read(path)?;
                pod::PodRun::new(
                    manifest,
                    args.session.as_deref().unwrap_or_default(),
                    args.fetch.as_deref(),
                    args.linger,
                )
            })
            .transpose()?;
        let client = client::connect(endpoint).await?;
        Ok(Some(Self { client, pod }))
    }

    /// Starts following the runtime; the lifecycle calls are reported from now on.
    pub async fn start(
        self,
        tx: SyncSender<SessionMsg>,
        clock_offset: i64,
        start_ts_nanos: u64,
        interval: Duration,
    ) -> CriSide {
        let client = self.client.reporting(tx.clone());
        let follow = follow::start(self.client, tx, clock_offset, start_ts_nanos, interval).await;
        CriSide {
            client,
            pod: self.pod,
            follow,
        }
    }
}

impl CriSide {
    /// Runs the `--pod`, if any; its exit code.
    pub async fn perform(&self) -> Option<Result<i32>> {
        let pod = self.pod.as_ref()?;
        Some(pod.perform(&self.client, &self.follow.follower).await)
    }

    /// Stops and removes what `--pod` made (unless `keep`).
    pub async fn cleanup(&self, keep: bool) -> Result<()> {
        match &self.pod {
            Some(pod) if !keep => pod.cleanup(&self.client, &self.follow.follower).await,
            _ => Ok(()),
        }
    }

    /// Stops following after a last look.
    pub async fn stop(self) {
        self.follow.stop().await;
    }
}
