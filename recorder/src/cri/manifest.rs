//! A Kubernetes Pod manifest (the part `--pod` supports) and the CRI configs the kubelet
//! would make of it.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, DnsConfig, ImageSpec, KeyValue, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata, PortMapping, Protocol,
};
use serde::Deserialize;

/// Labels the kubelet puts on every sandbox and container; containerd keeps them, and the
/// recorder reads pods back from them.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodManifest {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: PodSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

fn default_namespace() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSpec {
    pub containers: Vec<ContainerSpec>,
    #[serde(default)]
    pub hostname: Option<String>,
    /// `Never`, `OnFailure` or `Always`; the recorder runs each container once whatever it
    /// says (it records one birth, it does not supervise).
    #[serde(default)]
    pub restart_policy: Option<String>,
    #[serde(default)]
    pub share_process_namespace: bool,
    #[serde(default)]
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `Always`, `IfNotPresent` or `Never`; as the kubelet, `Always` when the image has the
    /// tag `latest` or none, else `IfNotPresent`.
    #[serde(default)]
    pub image_pull_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    pub container_port: i32,
    #[serde(default)]
    pub host_port: Option<i32>,
    #[serde(default)]
    pub host_ip: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// What the pull policy says to do with an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    Always,
    IfNotPresent,
    Never,
}

impl ContainerSpec {
    pub fn pull(&self) -> Result<Pull> {
        Ok(match self.image_pull_policy.as_deref() {
            Some("Always") => Pull::Always,
            Some("IfNotPresent") => Pull::IfNotPresent,
            Some("Never") => Pull::Never,
            Some(other) => bail!(
                "container {}: imagePullPolicy {other:?} (use Always, IfNotPresent or Never)",
                self.name
            ),
            None => {
                let last = self.image.rsplit('/').next().unwrap_or(&self.image);
                let last = last.split_once('@').map_or(last, |(n, _)| n);
                match last.split_once(':') {
                    None | Some((_, "latest")) => Pull::Always,
                    Some(_) => Pull::IfNotPresent,
                }
            }
        })
    }
}

const SUPPORTED: &str = "beefine-record --pod reads apiVersion v1, kind Pod, metadata (name, \
                         namespace, uid, labels, annotations) and spec (containers with name, \
                         image, command, args, env, ports, workingDir, imagePullPolicy; \
                         hostname, restartPolicy, shareProcessNamespace, \
                         terminationGracePeriodSeconds)";

impl PodManifest {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the Pod manifest {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("the Pod manifest {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let m: Self = serde_yaml_ng::from_str(text).with_context(|| SUPPORTED.to_string())?;
        if m.api_version != "v1" || m.kind != "Pod" {
            bail!(
                "apiVersion {:?}, kind {:?}: only apiVersion v1, kind Pod",
                m.api_version,
                m.kind
            );
        }
        let dns_label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !dns_label(&m.metadata.name) || !dns_label(&m.metadata.namespace) {
            bail!("metadata.name and .namespace must be DNS labels (a-z, 0-9, -)");
        }
        if m.spec.containers.is_empty() {
            bail!("spec.containers is empty: a pod needs at least one container");
        }
        let mut names = std::collections::HashSet::new();
        for c in &m.spec.containers {
            if !dns_label(&c.name) || !names.insert(c.name.as_str()) {
                bail!(
                    "container name {:?}: a DNS label, unique in the pod",
                    c.name
                );
            }
            if c.image.is_empty() {
                bail!("container {}: no image", c.name);
            }
            c.pull()?;
        }
        Ok(m)
    }

    fn kube_labels(&self, uid: &str) -> HashMap<String, String> {
        HashMap::from([
            (POD_NAME.to_owned(), self.metadata.name.clone()),
            (POD_NAMESPACE.to_owned(), self.metadata.namespace.clone()),
            (POD_UID.to_owned(), uid.to_owned()),
        ])
    }

    fn namespace_options(&self) -> NamespaceOption {
        NamespaceOption {
            network: NamespaceMode::Pod as i32,
            pid: if self.spec.share_process_namespace {
                NamespaceMode::Pod
            } else {
                NamespaceMode::Container
            } as i32,
            ipc: NamespaceMode::Pod as i32,
            ..NamespaceOption::default()
        }
    }

    /// The sandbox config, as the kubelet makes it: metadata, hostname, log directory, DNS
    /// from the node's resolv.conf (`dnsPolicy: Default`), port mappings of every container,
    /// the pod's labels with the kubelet's own, a BestEffort cgroup parent (cgroupfs
    /// driver), and the pod's namespaces (network and IPC shared, pid per container unless
    /// `shareProcessNamespace`).
    pub fn sandbox_config(
        &self,
        uid: &str,
        log_directory: &Path,
        extra_labels: &[(&str, &str)],
    ) -> PodSandboxConfig {
        let mut labels = self.metadata.labels.clone();
        labels.extend(self.kube_labels(uid));
        for (k, v) in extra_labels {
            labels.insert((*k).to_owned(), (*v).to_owned());
        }
        let port_mappings = self
            .spec
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .map(|p| PortMapping {
                protocol: protocol(p.protocol.as_deref()) as i32,
                container_port: p.container_port,
                host_port: p.host_port.unwrap_or(0),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            })
            .collect();
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: self.metadata.name.clone(),
                uid: uid.to_owned(),
                namespace: self.metadata.namespace.clone(),
                attempt: 0,
            }),
            hostname: self
                .spec
                .hostname
                .clone()
                .unwrap_or_else(|| self.metadata.name.clone()),
            log_directory: log_directory.display().to_string(),
            dns_config: Some(host_dns(
                &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            )),
            port_mappings,
            labels,
            annotations: self.metadata.annotations.clone(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(self.namespace_options()),
                    ..LinuxSandboxSecurityContext::default()
                }),
                ..LinuxPodSandboxConfig::default()
            }),
            windows: None,
        }
    }

    /// The config of container `index`, as the kubelet makes it (first attempt, log at
    /// `NAME/0.log` in the pod's log directory).
    pub fn container_config(&self, index: usize, uid: &str) -> Option<ContainerConfig> {
        let c = self.spec.containers.get(index)?;
        let mut labels = self.kube_labels(uid);
        labels.insert(CONTAINER_NAME.to_owned(), c.name.clone());
        Some(ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: c.name.clone(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: c.image.clone(),
                ..ImageSpec::default()
            }),
            command: c.command.clone(),
            args: c.args.clone(),
            working_dir: c.working_dir.clone().unwrap_or_default(),
            envs: c
                .env
                .iter()
                .map(|e| KeyValue {
                    key: e.name.clone(),
                    value: e.value.clone(),
                })
                .collect(),
            labels,
            annotations: HashMap::from([(
                "io.kubernetes.container.restartCount".to_owned(),
                "0".to_owned(),
            )]),
            log_path: format!("{}/0.log", c.name),
            linux: Some(LinuxContainerConfig {
                resources: None,
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(self.namespace_options()),
                    ..LinuxContainerSecurityContext::default()
                }),
            }),
            ..ContainerConfig::default()
        })
    }
}

fn protocol(p: Option<&str>) -> Protocol {
    match p {
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

/// Servers, search domains and options of a resolv.conf.
pub fn host_dns(resolv_conf: &str) -> DnsConfig {
    let mut dns = DnsConfig::default();
    for line in resolv_conf.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(str::to_owned)),
            Some("search") => dns.searches = words.map(str::to_owned).collect(),
            Some("options") => dns.options.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    dns
}

/// A fresh pod uid (a random version-4 UUID from the kernel).
pub fn new_uid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| format!("{:032x}", crate::clock::boot_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = include_str!("../../../fixtures/pods/web.yaml");

    #[test]
    fn reads_the_web_fixture() {
        let m = PodManifest::parse(WEB).unwrap();
        assert_eq!(m.metadata.name, "web");
        assert_eq!(m.metadata.namespace, "default");
        let names: Vec<&str> = m.spec.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["httpd", "fetch"]);
        let uid = "0f0e0d0c-0000-4000-8000-000000000001";
        let sandbox = m.sandbox_config(uid, Path::new("/tmp/logs"), &[("io.beefine.session", "s")]);
        assert_eq!(sandbox.labels[POD_NAME], "web");
        assert_eq!(sandbox.labels[POD_UID], uid);
        assert_eq!(sandbox.labels["io.beefine.session"], "s");
        assert_eq!(sandbox.port_mappings.len(), 1);
        assert_eq!(sandbox.port_mappings[0].container_port, 8080);
        let linux = sandbox.linux.unwrap();
        assert_eq!(
            linux.cgroup_parent,
            format!("/kubepods/besteffort/pod{uid}")
        );
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, NamespaceMode::Pod as i32);
        assert_eq!(ns.pid, NamespaceMode::Container as i32);
        let c = m.container_config(1, uid).unwrap();
        assert_eq!(c.labels[CONTAINER_NAME], "fetch");
        assert_eq!(c.log_path, "fetch/0.log");
        assert!(m.container_config(2, uid).is_none());
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        let unknown = WEB.replace("    ports:", "    volumeMounts: []\n    ports:");
        let e = format!("{:#}", PodManifest::parse(&unknown).unwrap_err());
        assert!(e.contains("volumeMounts"), "{e}");
        assert!(PodManifest::parse(&WEB.replace("kind: Pod", "kind: Deployment")).is_err());
        assert!(PodManifest::parse(&WEB.replace("name: fetch", "name: httpd")).is_err());
        assert!(PodManifest::parse("{").is_err());
    }

    #[test]
    fn pull_policy_as_the_kubelet() {
        let spec = |image: &str| ContainerSpec {
            name: "c".into(),
            image: image.into(),
            command: vec![],
            args: vec![],
            env: vec![],
            ports: vec![],
            working_dir: None,
            image_pull_policy: None,
        };
        assert_eq!(spec("localhost:5000/busybox").pull().unwrap(), Pull::Always);
        assert_eq!(
            spec("localhost:5000/busybox:latest").pull().unwrap(),
            Pull::Always
        );
        assert_eq!(
            spec("localhost:5000/busybox:1").pull().unwrap(),
            Pull::IfNotPresent
        );
    }

    #[test]
    fn dns_from_resolv_conf() {
        let d = host_dns("# c\nnameserver 10.0.0.2\nsearch a.example b.example\noptions ndots:2\n");
        assert_eq!(d.servers, ["10.0.0.2"]);
        assert_eq!(d.searches, ["a.example", "b.example"]);
        assert_eq!(d.options, ["ndots:2"]);
    }
}
