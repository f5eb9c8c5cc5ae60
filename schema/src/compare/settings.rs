//! The isolation and limits a container's runtime reports for it: Docker's
//! `HostConfig` (network, pid, ipc and uts modes, memory, CPUs, pids, read-only root,
//! capabilities, security options, privileged) and `Config.User`; for a CRI container, the
//! OCI spec's namespaces and resources. Values are texts, normalised like the calls.

use std::collections::BTreeMap;

use serde_json::Value;

use super::normalize;
use crate::entities::Container;

/// The largest runtime description read, in bytes.
const MAX_INSPECT_BYTES: usize = 4 << 20;
/// Settings kept at most.
const MAX_SETTINGS: usize = 256;

/// `HostConfig` keys compared: the options people change to isolate a container more or
/// less, and the limits of its cgroup.
const HOST_CONFIG: &[&str] = &[
    "NetworkMode",
    "PidMode",
    "IpcMode",
    "UTSMode",
    "UsernsMode",
    "CgroupnsMode",
    "Privileged",
    "ReadonlyRootfs",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "CpusetCpus",
    "PidsLimit",
    "BlkioWeight",
    "ShmSize",
    "OomKillDisable",
    "Init",
    "Runtime",
    "Devices",
    "Tmpfs",
    "Binds",
    "MaskedPaths",
    "ReadonlyPaths",
    "PublishAllPorts",
];

/// A JSON value as one line: scalars as they are, arrays joined with `,`, objects as
/// `key=value` pairs; `null`, empty and zero values are empty (Docker's "not set").
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.as_i64() == Some(0) => String::new(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => normalize::text(s),
        Value::Array(items) => items
            .iter()
            .take(64)
            .map(value_text)
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(m) => m
            .iter()
            .take(64)
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Every scalar under `v`, by its dotted path, as settings named `prefix.path`.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>, depth: usize) {
    if out.len() >= MAX_SETTINGS {
        return;
    }
    match v {
        Value::Object(m) if depth < 6 => {
            for (k, v) in m.iter().take(64) {
                flatten(&format!("{prefix}.{k}"), v, out, depth + 1);
            }
        }
        v => {
            let t = value_text(v);
            if !t.is_empty() {
                out.insert(prefix.to_owned(), t);
            }
        }
    }
}

/// The settings of a container, from what its runtime said of it.
pub fn of(c: &Container) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if c.inspect_json.len() > MAX_INSPECT_BYTES {
        return out;
    }
    let Ok(v) = serde_json::from_str::<Value>(&c.inspect_json) else {
        return out;
    };
    let host = &v["HostConfig"];
    if host.is_object() {
        for key in HOST_CONFIG {
            let t = value_text(&host[*key]);
            if !t.is_empty() {
                out.insert(format!("HostConfig.{key}"), t);
            }
        }
        let user = value_text(&v["Config"]["User"]);
        if !user.is_empty() {
            out.insert("Config.User".to_owned(), user);
        }
    }
    // A CRI container: the OCI spec the runtime made (`info.runtimeSpec`).
    let spec = &v["info"]["runtimeSpec"];
    if spec.is_object() {
        let linux = &spec["linux"];
        if let Some(list) = linux["namespaces"].as_array() {
            for ns in list.iter().take(16) {
                if let Some(t) = ns["type"].as_str() {
                    let joined = ns["path"].as_str().is_some_and(|p| !p.is_empty());
                    out.insert(
                        format!("spec.linux.namespaces.{t}"),
                        if joined { "joined" } else { "new" }.to_owned(),
                    );
                }
            }
        }
        flatten("spec.linux.resources", &linux["resources"], &mut out, 0);
        flatten("spec.process.user", &spec["process"]["user"], &mut out, 0);
        let caps = value_text(&spec["process"]["capabilities"]["bounding"]);
        if !caps.is_empty() {
            out.insert("spec.process.capabilities.bounding".to_owned(), caps);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_docker_and_cri() {
        let docker = Container {
            inspect_json:
                r#"{"HostConfig":{"NetworkMode":"host","PidsLimit":null,"Memory":67108864,
                "CapDrop":["NET_RAW","MKNOD"],"Privileged":false,"NanoCpus":0},
                "Config":{"User":"1000:1000","Hostname":"2557db8f4022"}}"#
                    .into(),
            ..Container::default()
        };
        let s = of(&docker);
        assert_eq!(s["HostConfig.NetworkMode"], "host");
        assert_eq!(s["HostConfig.Memory"], "67108864");
        assert_eq!(s["HostConfig.CapDrop"], "NET_RAW,MKNOD");
        assert_eq!(s["HostConfig.Privileged"], "false");
        assert_eq!(s["Config.User"], "1000:1000");
        assert!(!s.contains_key("HostConfig.PidsLimit"), "null is not set");
        assert!(!s.contains_key("HostConfig.NanoCpus"), "0 is not set");
        let cri = Container {
            inspect_json: r#"{"info":{"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"},
                {"type":"network","path":"/proc/1234/ns/net"}],"resources":{"memory":{"limit":1048576}}},
                "process":{"user":{"uid":0}}}}}"#
                .into(),
            ..Container::default()
        };
        let s = of(&cri);
        assert_eq!(s["spec.linux.namespaces.pid"], "new");
        assert_eq!(s["spec.linux.namespaces.network"], "joined");
        assert_eq!(s["spec.linux.resources.memory.limit"], "1048576");
        for broken in ["", "{", "[1,2]", "null", "{\"HostConfig\":7}"] {
            let c = Container {
                inspect_json: broken.into(),
                ..Container::default()
            };
            let _ = of(&c);
        }
    }
}
