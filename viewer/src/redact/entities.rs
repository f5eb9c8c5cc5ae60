//! The entity tables and metadata of a session, and their redacted copies.

use beefine_schema::{
    Bookmark, Container, DaemonSample, DockerEvent, Image, Layer, Loss, Pod, Probe, Process,
    Sample, Session, SessionInfo, SessionWriter,
};
use serde_json::Value;

use super::rules::{Category, Rules};

/// Metadata the session writer writes itself; the others are copied.
const WRITER_META: &[&str] = &[
    "format_version",
    "tool_version",
    "host_kernel",
    "hostname",
    "session_name",
    "command",
    "clock_offset_nanos",
    "start_ts_nanos",
    "end_ts_nanos",
    "status",
    "heartbeat_wall_nanos",
    "generation",
    "writer_pid",
    "redaction",
];

/// Everything of a session but its events.
pub struct Entities {
    pub info: SessionInfo,
    meta: Vec<(String, String)>,
    processes: Vec<Process>,
    containers: Vec<Container>,
    pods: Vec<Pod>,
    images: Vec<Image>,
    layers: Vec<Layer>,
    docker_events: Vec<DockerEvent>,
    samples: Vec<Sample>,
    daemon_samples: Vec<DaemonSample>,
    losses: Vec<Loss>,
    probes: Vec<Probe>,
    bookmarks: Vec<Bookmark>,
}

impl Entities {
    pub fn read(s: &Session) -> beefine_schema::Result<Self> {
        Ok(Self {
            info: s.meta().info.clone(),
            meta: s.meta_entries()?,
            processes: s.processes()?,
            containers: s.containers()?,
            pods: s.pods()?,
            images: s.images()?,
            layers: s.layers()?,
            docker_events: s.docker_events()?,
            samples: s.resource_samples()?,
            daemon_samples: s.daemon_samples()?,
            losses: s.losses()?,
            probes: s.probes()?,
            bookmarks: s.bookmarks()?,
        })
    }

    /// The entities with every string through the rules.
    pub fn redacted(&self, r: &mut Rules) -> Self {
        let info = SessionInfo {
            session_name: r.text(&self.info.session_name).into_owned(),
            command: r.argv(&self.info.command),
            hostname: r.hostname(&self.info.hostname),
            ..self.info.clone()
        };
        let meta = self
            .meta
            .iter()
            .filter(|(k, _)| !WRITER_META.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), r.text(v).into_owned()))
            .collect();
        let containers = self.containers.iter().map(|c| container(r, c)).collect();
        let pods = self.pods.iter().map(|p| pod(r, p)).collect();
        let processes = self
            .processes
            .iter()
            .map(|p| Process {
                comm: r.text(&p.comm).into_owned(),
                exe: p.exe.as_deref().map(|e| r.text(e).into_owned()),
                argv: r.argv(&p.argv),
                ..p.clone()
            })
            .collect();
        let images = self
            .images
            .iter()
            .map(|i| Image {
                reference: r.image_ref(&i.reference),
                config_json: json_text(r, &i.config_json, None),
                ..i.clone()
            })
            .collect();
        let layers = self
            .layers
            .iter()
            .map(|l| Layer {
                overlay_dir: l.overlay_dir.as_deref().map(|d| r.text(d).into_owned()),
                ..l.clone()
            })
            .collect();
        let docker_events = self
            .docker_events
            .iter()
            .map(|e| DockerEvent {
                action: r.text(&e.action).into_owned(),
                actor_id: r.text(&e.actor_id).into_owned(),
                attributes: attributes(r, &e.attributes),
                ..e.clone()
            })
            .collect();
        let probes = self
            .probes
            .iter()
            .map(|p| Probe {
                name: r.text(&p.name).into_owned(),
                programs: p
                    .programs
                    .iter()
                    .map(|(a, b)| (r.text(a).into_owned(), r.text(b).into_owned()))
                    .collect(),
                ..p.clone()
            })
            .collect();
        let bookmarks = self
            .bookmarks
            .iter()
            .map(|b| Bookmark {
                label: r.text(&b.label).into_owned(),
                note: r.text(&b.note).into_owned(),
                ..b.clone()
            })
            .collect();
        Self {
            info,
            meta,
            processes,
            containers,
            pods,
            images,
            layers,
            docker_events,
            samples: self.samples.clone(),
            daemon_samples: self.daemon_samples.clone(),
            losses: self.losses.clone(),
            probes,
            bookmarks,
        }
    }

    /// Writes the tables (the events of daemon events, samples and losses come with the
    /// session's events).
    pub fn write(&self, w: &mut SessionWriter) -> beefine_schema::Result<()> {
        for (k, v) in &self.meta {
            w.set_meta(k, v)?;
        }
        for p in &self.processes {
            w.upsert_process(p)?;
        }
        for c in &self.containers {
            w.upsert_container(c)?;
        }
        for p in &self.pods {
            w.upsert_pod(p)?;
        }
        for i in &self.images {
            w.upsert_image(i)?;
        }
        for l in &self.layers {
            w.upsert_layer(l)?;
        }
        for e in &self.docker_events {
            w.docker_event_row(e)?;
        }
        for s in &self.samples {
            w.resource_sample_row(s)?;
        }
        for d in &self.daemon_samples {
            w.daemon_sample(d)?;
        }
        for l in &self.losses {
            w.loss_row(l)?;
        }
        for p in &self.probes {
            w.upsert_probe(p)?;
        }
        for b in &self.bookmarks {
            w.bookmark(b)?;
        }
        Ok(())
    }
}

/// Daemon event attributes: an image reference by its rules, the rest as text.
fn attributes(r: &mut Rules, attrs: &[(String, String)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                "image" => r.image_ref(v),
                _ => r.text(v).into_owned(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// A pod: its names, address, labels and the runtime's status through the rules (its ids are
/// the runtime's random ones).
fn pod(r: &mut Rules, p: &Pod) -> Pod {
    Pod {
        name: r.text(&p.name).into_owned(),
        namespace: r.text(&p.namespace).into_owned(),
        ip: p
            .ip
            .as_deref()
            .map(|ip| match ip.parse::<std::net::IpAddr>() {
                Ok(a) => r.ip(a).to_string(),
                Err(_) => r.text(ip).into_owned(),
            }),
        labels: p
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), r.text(v).into_owned()))
            .collect(),
        cgroup_parent: p.cgroup_parent.as_deref().map(|c| r.text(c).into_owned()),
        status_json: json_text(r, &p.status_json, Some(&p.pod_id)),
        ..p.clone()
    }
}

fn container(r: &mut Rules, c: &Container) -> Container {
    let text = |r: &mut Rules, s: &Option<String>| s.as_deref().map(|s| r.text(s).into_owned());
    Container {
        name: r.text(&c.name).into_owned(),
        image: r.image_ref(&c.image),
        cgroup_path: text(r, &c.cgroup_path),
        lower_dirs: c
            .lower_dirs
            .iter()
            .map(|d| r.text(d).into_owned())
            .collect(),
        upper_dir: text(r, &c.upper_dir),
        work_dir: text(r, &c.work_dir),
        merged_dir: text(r, &c.merged_dir),
        inspect_json: json_text(r, &c.inspect_json, Some(&c.container_id)),
        ..c.clone()
    }
}

/// A JSON document (`docker inspect`, an image config) through the rules; text that is
/// not JSON goes through them as text.
fn json_text(r: &mut Rules, text: &str, container_id: Option<&str>) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            json(r, &mut v, container_id);
            v.to_string()
        }
        Err(_) => r.text(text).into_owned(),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Walks a JSON value: environments, hostnames, users, image references and command lines
/// by their rules, every other string as text.
fn json(r: &mut Rules, v: &mut Value, container_id: Option<&str>) {
    match v {
        Value::String(s) => *s = r.text(s).into_owned(),
        Value::Array(items) => items.iter_mut().for_each(|i| json(r, i, container_id)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match (k.as_str(), &*v) {
                    ("Env", Value::Array(_)) if r.applies(Category::Env) => {
                        if let Some(env) = strings(v) {
                            *v = env.iter().map(|e| Value::from(r.env_entry(e))).collect();
                            continue;
                        }
                    }
                    ("Cmd" | "Entrypoint" | "Args", Value::Array(_)) => {
                        if let Some(argv) = strings(v) {
                            *v = r.argv(&argv).into_iter().map(Value::from).collect();
                            continue;
                        }
                    }
                    ("Hostname" | "Domainname", Value::String(h)) => {
                        // Docker's default hostname is the container's short id: not a name.
                        let default = container_id.is_some_and(|id| id.starts_with(h.as_str()));
                        if !default {
                            *v = Value::from(r.hostname(h));
                        }
                        continue;
                    }
                    ("User", Value::String(u)) => {
                        *v = Value::from(r.user(u));
                        continue;
                    }
                    ("Image", Value::String(i)) if !i.starts_with("sha256:") => {
                        *v = Value::from(r.image_ref(i));
                        continue;
                    }
                    ("RepoTags" | "RepoDigests", Value::Array(_)) => {
                        if let Some(refs) = strings(v) {
                            *v = refs.iter().map(|i| Value::from(r.image_ref(i))).collect();
                            continue;
                        }
                    }
                    _ => {}
                }
                json(r, v, container_id);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_json_by_its_keys() {
        let mut r = Rules::new(&[]);
        let inspect = r#"{"Config":{"Hostname":"3330c3798d8a","Env":["PATH=/bin","API_TOKEN=t0k3n-xyz"],
            "User":"alice","Image":"reg.example.com/app:1","Cmd":["app","--password","pw-123456"]},
            "NetworkSettings":{"IPAddress":"172.17.0.2","MacAddress":"02:42:ac:11:00:02"},
            "Image":"sha256:abc"}"#;
        let out: Value =
            serde_json::from_str(&json_text(&mut r, inspect, Some("3330c3798d8abed8"))).unwrap();
        let c = &out["Config"];
        assert_eq!(c["Hostname"], "3330c3798d8a");
        assert_eq!(
            c["Env"],
            serde_json::json!(["PATH=REDACTED", "API_TOKEN=REDACTED"])
        );
        assert_eq!(c["User"], "user-1");
        assert_eq!(c["Image"], "host-1/app:1");
        assert_eq!(
            c["Cmd"],
            serde_json::json!(["app", "--password", "REDACTED"])
        );
        assert_eq!(out["NetworkSettings"]["IPAddress"], "198.18.0.1");
        assert_eq!(out["NetworkSettings"]["MacAddress"], "00:00:5e:00:53:00");
        assert_eq!(out["Image"], "sha256:abc");
        // A hostname of its own is a name.
        let out = json_text(&mut r, r#"{"Hostname":"db-primary"}"#, Some("abc"));
        assert_eq!(out, r#"{"Hostname":"host-2"}"#);
    }
}
