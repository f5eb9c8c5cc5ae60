//! The daemon's events, followed for the whole session, and what each one changes.

use std::sync::Arc;
use std::time::Duration;

use beefine_schema::{DaemonSample, DockerEvent, Loss, LossSource};
use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::rows::{describe_container, describe_image, sample_one};
use super::{Shared, connect};
use crate::clock::{boot_nanos, wall_nanos};
use crate::session::SessionMsg;

/// What the daemon has at the start: running containers (to sample) and the images present.
pub(super) async fn snapshot(docker: &Docker, shared: &Shared) {
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
pub(super) async fn daemon_sample(docker: &Docker, shared: &Shared) {
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

/// Records one daemon event and what it changes.
pub(super) async fn handle_event(docker: &Docker, shared: &Shared, ev: EventMessage) {
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
pub(super) async fn follow_events(
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
