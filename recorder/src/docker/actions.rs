//! What the recorder does through the daemon itself: `--pull`, `--run` with `--publish`
//! and `--fetch`, the removal of what it created, and of containers a killed recorder left.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, StopContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

use super::http::http_get;
use super::rows::{describe_image, sample_one};
use super::{DockerSide, SESSION_LABEL, Shared};
use crate::cli::RecordArgs;
use beefine_schema::format::short_id;

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

/// The pull / run / fetch asked for on the command line.
#[derive(Debug)]
pub struct Actions {
    session: String,
    pull: Option<String>,
    run: Option<String>,
    publish: Vec<(String, String, String)>,
    fetch: Option<(std::net::SocketAddr, String, String)>,
    linger: Duration,
    isolation: crate::cli::Isolation,
    created: Mutex<Vec<String>>,
    pulled: Mutex<Vec<String>>,
}

pub(super) fn progress(line: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("\r\x1b[2K{line}");
    }
}

/// `repo[:tag]` → (repo, tag), `latest` when there is no tag; a `@digest` is dropped.
pub(super) fn split_reference(image: &str) -> (&str, &str) {
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
            isolation: args.isolation.clone(),
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
        if let Some(me) = recorder_identity(std::process::id()) {
            labels.insert(RECORDER_LABEL.to_owned(), me);
        }
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
        let exposed_ports = (!bindings.is_empty()).then(|| bindings.keys().cloned().collect());
        let (host_config, user) = super::isolation::host_config(&self.isolation, bindings)?;
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: (!command.is_empty()).then(|| command.to_vec()),
            labels: Some(labels),
            exposed_ports,
            user,
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .with_context(|| format!("creating a container of {image}"))?;
        let id = created.id;
        self.created.lock().expect("not poisoned").push(id.clone());
        let isolated = super::isolation::describe(&self.isolation);
        progress(&format!(
            "▶ starting container {} of {image}{}{isolated}",
            short_id(&id),
            if isolated.is_empty() { "" } else { " with " }
        ));
        docker
            .start_container(&id, None)
            .await
            .with_context(|| format!("starting container {}", short_id(&id)))?;
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
                .with_context(|| format!("stopping container {}", short_id(&id)))?;
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

/// Label naming the recorder that created a container: `PID:START` (the process's start
/// time in clock ticks after boot, so that a reused pid is not taken for it).
pub const RECORDER_LABEL: &str = "io.beefine.recorder";

/// `PID:START` of a running process (see [`RECORDER_LABEL`]).
pub fn recorder_identity(pid: u32) -> Option<String> {
    let p = crate::scope::read_proc(std::path::Path::new("/proc"), pid)?;
    Some(format!("{pid}:{}", p.start_ticks))
}

/// Whether the recorder a [`RECORDER_LABEL`] names is still running.
fn recorder_alive(label: &str) -> bool {
    label
        .split_once(':')
        .and_then(|(pid, _)| pid.parse::<u32>().ok())
        .and_then(recorder_identity)
        .is_some_and(|now| now == label)
}

/// Removes the containers labelled [`SESSION_LABEL`] whose recorder is gone (killed before
/// it could clean up). With `unlabelled`, also those of recorders that did not say which
/// they were (older versions). Returns what it removed: (short id, session).
pub async fn cleanup_left_containers(
    docker: &Docker,
    unlabelled: bool,
) -> Result<Vec<(String, String)>> {
    let listed = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![SESSION_LABEL.to_owned()],
            )])),
            ..Default::default()
        }))
        .await
        .context("listing the containers recorders created")?;
    let mut removed = Vec::new();
    for c in listed {
        let (Some(id), Some(labels)) = (c.id, c.labels) else {
            continue;
        };
        let left = match labels.get(RECORDER_LABEL) {
            Some(recorder) => !recorder_alive(recorder),
            None => unlabelled,
        };
        if !left {
            continue;
        }
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .with_context(|| format!("removing container {}", short_id(&id)))?;
        let session = labels.get(SESSION_LABEL).cloned().unwrap_or_default();
        removed.push((short_id(&id).to_owned(), session));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_label_names_a_live_process_exactly() {
        let me = recorder_identity(std::process::id()).unwrap();
        assert!(recorder_alive(&me));
        let (pid, start) = me.split_once(':').unwrap();
        let reused = format!("{pid}:{}", start.parse::<u64>().unwrap() + 1);
        assert!(!recorder_alive(&reused), "a reused pid is another process");
        assert!(!recorder_alive("4194304:1"));
        assert!(!recorder_alive("garbage"));
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
}
