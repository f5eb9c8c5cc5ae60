//! The Docker daemon's side of the story, through its API (bollard): daemon events
//! (`events.rs`), container inspect data, images, layers and resource samples as session
//! rows (`rows.rs`), the pull / run / fetch the recorder performs itself and the removal of
//! what a killed recorder left (`actions.rs`), the isolation options of the `--run`
//! container (`isolation.rs`), and the small HTTP client of `--fetch` (`http.rs`).

mod actions;
mod events;
mod http;
mod isolation;
mod rows;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use tokio::sync::watch;

use crate::clock::{boot_nanos, wall_to_boot};
use crate::session::SessionMsg;

pub use actions::{Actions, cleanup_left_containers, parse_loopback_url, parse_publish};
pub use isolation::{describe as describe_isolation, parse_bytes, parse_cpus};
pub use rows::{chain_ids, container_row, layers_of, namespaces_of, sample_of};

/// Label put on everything the recorder creates, so that it can be found and removed.
pub const SESSION_LABEL: &str = "io.beefine.session";

/// State shared by the Docker tasks.
pub(super) struct Shared {
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
    pub(super) fn send(&self, msg: SessionMsg) {
        // The session thread ends only after the Docker side has stopped; an error here
        // means it failed, which the recorder reports itself.
        let _ = self.tx.send(msg);
    }

    pub(super) fn to_boot(&self, time_nano: Option<i64>) -> u64 {
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

pub(super) async fn connect() -> Result<Docker> {
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
        events::snapshot(d, &shared).await;
    }
    let tasks = vec![
        tokio::spawn(events::follow_events(
            docker.clone(),
            shared.clone(),
            stop.clone(),
        )),
        tokio::spawn(rows::sample_resources(
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
            events::daemon_sample(d, &self.shared).await;
        }
    }
}
