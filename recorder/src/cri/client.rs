//! The CRI API over a Unix socket (tonic, `k8s-cri`'s v1 bindings), with the lifecycle calls
//! timed and reported to the session as the kubelet's part of the story.

use std::future::Future;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::clock::boot_nanos;
use crate::session::{CriEvent, SessionMsg};

/// The socket path of a `--cri` endpoint: `unix:///PATH` or a plain path.
pub fn socket_path(endpoint: &str) -> Result<PathBuf> {
    let path = match endpoint.strip_prefix("unix://") {
        Some(p) => p,
        None if endpoint.contains("://") => {
            bail!("--cri {endpoint}: only unix:// endpoints (a CRI runtime's socket)")
        }
        None => endpoint,
    };
    if !path.starts_with('/') {
        bail!(
            "--cri {endpoint}: give the socket's absolute path, e.g. unix:///run/beefine/cri/containerd.sock"
        );
    }
    Ok(PathBuf::from(path))
}

/// What a call was about, for its event.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub pod_id: String,
    pub container_id: String,
    /// The pod's `namespace/name`, the container's name or the image reference.
    pub name: String,
}

/// A connection to a CRI runtime.
#[derive(Clone)]
pub struct CriClient {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    /// `containerd 1.6.20~ds1 (CRI v1)`.
    pub runtime_name: String,
    pub socket: PathBuf,
    tx: Option<SyncSender<SessionMsg>>,
}

impl std::fmt::Debug for CriClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CriClient")
            .field("runtime_name", &self.runtime_name)
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// Connects to the runtime at `endpoint` and asks its version (the CRI's `Version`, which
/// also tells that the socket speaks the CRI v1 API).
pub async fn connect(endpoint: &str) -> Result<CriClient> {
    let socket = socket_path(endpoint)?;
    let path = socket.clone();
    let channel = Endpoint::try_from("http://[::]:0")
        .context("a tonic endpoint")?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(120))
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .with_context(|| {
            format!(
                "connecting to the CRI runtime at {} (is it running? `cargo xtask provision` \
                 starts one at /run/beefine/cri/containerd.sock)",
                socket.display()
            )
        })?;
    let mut runtime = RuntimeServiceClient::new(channel.clone());
    let version = runtime
        .version(VersionRequest {
            version: "v1".into(),
        })
        .await
        .map_err(|s| {
            anyhow!(
                "{} answers but not as a CRI v1 runtime ({}): a containerd without its CRI \
                 plugin (Docker's) does not serve it",
                socket.display(),
                s.message()
            )
        })?
        .into_inner();
    Ok(CriClient {
        runtime,
        images: ImageServiceClient::new(channel),
        runtime_name: format!(
            "{} {} (CRI {})",
            version.runtime_name, version.runtime_version, version.runtime_api_version
        ),
        socket,
        tx: None,
    })
}

fn status_error(method: &str, target: &Target, s: &tonic::Status) -> anyhow::Error {
    let what = [&target.name, &target.container_id, &target.pod_id]
        .into_iter()
        .find(|t| !t.is_empty())
        .map_or(String::new(), |t| format!(" ({t})"));
    anyhow!("CRI {method}{what} failed: {:?}: {}", s.code(), s.message())
}

impl CriClient {
    /// The same connection, reporting its lifecycle calls to the session.
    pub fn reporting(&self, tx: SyncSender<SessionMsg>) -> Self {
        Self {
            tx: Some(tx),
            ..self.clone()
        }
    }

    /// Runs one lifecycle call, timed; `ids` completes the target from the answer (the id
    /// the runtime gave what it created).
    async fn timed<T, F>(
        &self,
        method: &'static str,
        mut target: Target,
        call: F,
        ids: impl FnOnce(&T, &mut Target),
    ) -> Result<T>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let start = boot_nanos();
        let result = call.await;
        let duration_nanos = boot_nanos().saturating_sub(start);
        let (value, error) = match result {
            Ok(r) => {
                let v = r.into_inner();
                ids(&v, &mut target);
                (Some(v), String::new())
            }
            Err(s) => (None, format!("{:?}: {}", s.code(), s.message())),
        };
        if let Some(tx) = &self.tx {
            let _ = tx.send(SessionMsg::CriEvent(Box::new(CriEvent {
                ts_nanos: start,
                duration_nanos,
                method: method.to_owned(),
                state: String::new(),
                pod_id: target.pod_id.clone(),
                container_id: target.container_id.clone(),
                name: target.name.clone(),
                error: error.clone(),
            })));
        }
        value.ok_or_else(|| anyhow!("CRI {method} ({}) failed: {error}", target.name))
    }

    pub async fn run_pod_sandbox(&self, config: PodSandboxConfig, name: &str) -> Result<String> {
        let mut c = self.runtime.clone();
        let target = Target {
            name: name.into(),
            ..Target::default()
        };
        let r = self
            .timed(
                "RunPodSandbox",
                target,
                c.run_pod_sandbox(RunPodSandboxRequest {
                    config: Some(config),
                    runtime_handler: String::new(),
                }),
                |r: &RunPodSandboxResponse, t| t.pod_id = r.pod_sandbox_id.clone(),
            )
            .await?;
        Ok(r.pod_sandbox_id)
    }

    pub async fn stop_pod_sandbox(&self, target: Target) -> Result<()> {
        let mut c = self.runtime.clone();
        let req = StopPodSandboxRequest {
            pod_sandbox_id: target.pod_id.clone(),
        };
        self.timed("StopPodSandbox", target, c.stop_pod_sandbox(req), |_, _| {})
            .await
            .map(drop)
    }

    pub async fn remove_pod_sandbox(&self, target: Target) -> Result<()> {
        let mut c = self.runtime.clone();
        let req = RemovePodSandboxRequest {
            pod_sandbox_id: target.pod_id.clone(),
        };
        self.timed(
            "RemovePodSandbox",
            target,
            c.remove_pod_sandbox(req),
            |_, _| {},
        )
        .await
        .map(drop)
    }

    /// Pulls `image`; the image's id (`image_ref`).
    pub async fn pull_image(&self, image: &str, sandbox: &PodSandboxConfig) -> Result<String> {
        let mut c = self.images.clone();
        let target = Target {
            name: image.into(),
            ..Target::default()
        };
        let r = self
            .timed(
                "PullImage",
                target,
                c.pull_image(PullImageRequest {
                    image: Some(image_spec(image)),
                    auth: None,
                    sandbox_config: Some(sandbox.clone()),
                }),
                |_, _| {},
            )
            .await?;
        Ok(r.image_ref)
    }

    /// Whether the runtime has `image` (the kubelet asks before pulling `IfNotPresent`).
    pub async fn image_present(&self, image: &str) -> Result<bool> {
        let mut c = self.images.clone();
        let target = Target {
            name: image.into(),
            ..Target::default()
        };
        let r = self
            .timed(
                "ImageStatus",
                target,
                c.image_status(ImageStatusRequest {
                    image: Some(image_spec(image)),
                    verbose: false,
                }),
                |_, _| {},
            )
            .await?;
        Ok(r.image.is_some())
    }

    pub async fn create_container(
        &self,
        pod_id: &str,
        config: ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let mut c = self.runtime.clone();
        let target = Target {
            pod_id: pod_id.into(),
            name: config
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            ..Target::default()
        };
        let r = self
            .timed(
                "CreateContainer",
                target,
                c.create_container(CreateContainerRequest {
                    pod_sandbox_id: pod_id.into(),
                    config: Some(config),
                    sandbox_config: Some(sandbox.clone()),
                }),
                |r: &CreateContainerResponse, t| t.container_id = r.container_id.clone(),
            )
            .await?;
        Ok(r.container_id)
    }

    pub async fn start_container(&self, target: Target) -> Result<()> {
        let mut c = self.runtime.clone();
        let req = StartContainerRequest {
            container_id: target.container_id.clone(),
        };
        self.timed("StartContainer", target, c.start_container(req), |_, _| {})
            .await
            .map(drop)
    }

    pub async fn stop_container(&self, target: Target, timeout_secs: i64) -> Result<()> {
        let mut c = self.runtime.clone();
        let req = StopContainerRequest {
            container_id: target.container_id.clone(),
            timeout: timeout_secs,
        };
        self.timed("StopContainer", target, c.stop_container(req), |_, _| {})
            .await
            .map(drop)
    }

    pub async fn remove_container(&self, target: Target) -> Result<()> {
        let mut c = self.runtime.clone();
        let req = RemoveContainerRequest {
            container_id: target.container_id.clone(),
        };
        self.timed(
            "RemoveContainer",
            target,
            c.remove_container(req),
            |_, _| {},
        )
        .await
        .map(drop)
    }

    // What follows observes: not reported as calls (the recorder's own questions, not the
    // kubelet's part).

    pub async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandbox>> {
        let mut c = self.runtime.clone();
        c.list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .map(|r| r.into_inner().items)
            .map_err(|s| status_error("ListPodSandbox", &Target::default(), &s))
    }

    pub async fn list_containers(&self) -> Result<Vec<Container>> {
        let mut c = self.runtime.clone();
        c.list_containers(ListContainersRequest { filter: None })
            .await
            .map(|r| r.into_inner().containers)
            .map_err(|s| status_error("ListContainers", &Target::default(), &s))
    }

    pub async fn list_images(&self) -> Result<Vec<Image>> {
        let mut c = self.images.clone();
        c.list_images(ListImagesRequest { filter: None })
            .await
            .map(|r| r.into_inner().images)
            .map_err(|s| status_error("ListImages", &Target::default(), &s))
    }

    pub async fn pod_sandbox_status(&self, pod_id: &str) -> Result<PodSandboxStatusResponse> {
        let mut c = self.runtime.clone();
        c.pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: pod_id.into(),
            verbose: true,
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| {
            let t = Target {
                pod_id: pod_id.into(),
                ..Target::default()
            };
            status_error("PodSandboxStatus", &t, &s)
        })
    }

    pub async fn container_status(&self, container_id: &str) -> Result<ContainerStatusResponse> {
        let mut c = self.runtime.clone();
        c.container_status(ContainerStatusRequest {
            container_id: container_id.into(),
            verbose: true,
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| {
            let t = Target {
                container_id: container_id.into(),
                ..Target::default()
            };
            status_error("ContainerStatus", &t, &s)
        })
    }

    pub async fn image_status(&self, image: &str) -> Result<ImageStatusResponse> {
        let mut c = self.images.clone();
        c.image_status(ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: true,
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| {
            let t = Target {
                name: image.into(),
                ..Target::default()
            };
            status_error("ImageStatus", &t, &s)
        })
    }

    pub async fn list_container_stats(&self) -> Result<Vec<ContainerStats>> {
        let mut c = self.runtime.clone();
        c.list_container_stats(ListContainerStatsRequest { filter: None })
            .await
            .map(|r| r.into_inner().stats)
            .map_err(|s| status_error("ListContainerStats", &Target::default(), &s))
    }
}

fn image_spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.into(),
        ..ImageSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            socket_path("unix:///run/beefine/cri/containerd.sock").unwrap(),
            PathBuf::from("/run/beefine/cri/containerd.sock")
        );
        assert_eq!(
            socket_path("/run/containerd/containerd.sock").unwrap(),
            PathBuf::from("/run/containerd/containerd.sock")
        );
        assert!(socket_path("tcp://127.0.0.1:1234").is_err());
        assert!(socket_path("unix://relative.sock").is_err());
    }
}
