//! The isolation options of the `--run` container, as `docker run` names them, turned into
//! the `HostConfig` (and `Config.User`) the Docker API creates it with.

use anyhow::{Context as _, Result, bail};
use bollard::models::HostConfig;

use crate::cli::Isolation;

/// `64m`, `1g`, `512k`, `1048576` (bytes; `b`, `k`, `m`, `g` as docker reads them, powers
/// of 1024).
pub fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| !r.is_empty()).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1_i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 64m or 1g"))?;
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > i64::MAX as f64 {
        return Err(format!("{s:?} is not a size like 64m or 1g"));
    }
    Ok(bytes as i64)
}

/// `1.5` CPUs, as a positive number.
pub fn parse_cpus(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n <= 1024.0 => Ok(n),
        _ => Err(format!("{s:?} is not a number of CPUs like 0.5 or 2")),
    }
}

/// A capability as the Docker API takes it: `CAP_NET_RAW` or `NET_RAW` (either case), or
/// `ALL`.
fn capability(name: &str) -> Result<String> {
    let n = name.trim().to_ascii_uppercase();
    if n == "ALL" {
        return Ok(n);
    }
    let bare = n.strip_prefix("CAP_").unwrap_or(&n);
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        bail!("{name:?} is not a capability name (NET_RAW, SYS_ADMIN, ALL, …)");
    }
    Ok(format!("CAP_{bare}"))
}

/// A `--security-opt` as the API takes it: `seccomp=unconfined`, `seccomp=PROFILE.json`
/// (the file's content, as the docker CLI sends it), `apparmor=…`, `label=…`,
/// `no-new-privileges[=true|false]`.
fn security_opt(opt: &str) -> Result<String> {
    let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt, ""));
    Ok(match key {
        "seccomp" if value == "unconfined" => "seccomp=unconfined".to_owned(),
        "seccomp" if !value.is_empty() => {
            let profile = std::fs::read_to_string(value)
                .with_context(|| format!("--security-opt seccomp={value}: reading the profile"))?;
            serde_json::from_str::<serde_json::Value>(&profile).with_context(|| {
                format!("--security-opt seccomp={value}: the profile is not JSON")
            })?;
            format!("seccomp={profile}")
        }
        "apparmor" | "label" if !value.is_empty() => format!("{key}={value}"),
        "no-new-privileges" if matches!(value, "" | "true" | "false") => {
            if value.is_empty() {
                "no-new-privileges=true".to_owned()
            } else {
                format!("no-new-privileges={value}")
            }
        }
        _ => bail!(
            "--security-opt {opt:?}: use seccomp=unconfined, seccomp=PROFILE.json, \
             apparmor=PROFILE, label=…, or no-new-privileges"
        ),
    })
}

/// The host config and the user of the `--run` container; `publish` are its port bindings.
pub fn host_config(
    iso: &Isolation,
    port_bindings: bollard::models::PortMap,
) -> Result<(HostConfig, Option<String>)> {
    let host_mode = |flag: &str, v: &Option<String>| -> Result<Option<String>> {
        match v.as_deref() {
            None => Ok(None),
            Some("host") => Ok(Some("host".to_owned())),
            Some(other) => bail!("--{flag} {other:?}: only `host` is supported"),
        }
    };
    let caps = |names: &[String]| -> Result<Option<Vec<String>>> {
        let v = names
            .iter()
            .flat_map(|n| n.split(','))
            .filter(|n| !n.trim().is_empty())
            .map(capability)
            .collect::<Result<Vec<_>>>()?;
        Ok((!v.is_empty()).then_some(v))
    };
    let security = iso
        .security_opt
        .iter()
        .map(|o| security_opt(o))
        .collect::<Result<Vec<_>>>()?;
    let host = HostConfig {
        port_bindings: Some(port_bindings),
        network_mode: iso.network.clone(),
        pid_mode: host_mode("pid", &iso.pid)?,
        ipc_mode: iso.ipc.clone(),
        uts_mode: host_mode("uts", &iso.uts)?,
        memory: iso.memory,
        nano_cpus: iso.cpus.map(|c| (c * 1e9).round() as i64),
        pids_limit: iso.pids_limit,
        readonly_rootfs: iso.read_only.then_some(true),
        cap_add: caps(&iso.cap_add)?,
        cap_drop: caps(&iso.cap_drop)?,
        security_opt: (!security.is_empty()).then_some(security),
        privileged: iso.privileged.then_some(true),
        ..Default::default()
    };
    let user = iso.user.clone().filter(|u| !u.trim().is_empty());
    Ok((host, user))
}

/// The options given, as `docker run` would be told them (`--network host --pid host`),
/// for messages.
pub fn describe(iso: &Isolation) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            out.push(if v.is_empty() {
                format!("--{name}")
            } else {
                format!("--{name} {v}")
            });
        }
    };
    flag("network", iso.network.clone());
    flag("pid", iso.pid.clone());
    flag("ipc", iso.ipc.clone());
    flag("uts", iso.uts.clone());
    flag("memory", iso.memory.map(|m| m.to_string()));
    flag("cpus", iso.cpus.map(|c| c.to_string()));
    flag("pids-limit", iso.pids_limit.map(|p| p.to_string()));
    flag("read-only", iso.read_only.then(String::new));
    for c in &iso.cap_drop {
        flag("cap-drop", Some(c.clone()));
    }
    for c in &iso.cap_add {
        flag("cap-add", Some(c.clone()));
    }
    for s in &iso.security_opt {
        flag("security-opt", Some(s.clone()));
    }
    flag("privileged", iso.privileged.then(String::new));
    flag("user", iso.user.clone());
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("512kb"), Ok(512 << 10));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        for bad in ["", "m", "-1m", "lots", "1e400", "9999999999g"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_become_the_host_config() {
        let iso = Isolation {
            network: Some("host".into()),
            pid: Some("host".into()),
            ipc: Some("host".into()),
            uts: Some("host".into()),
            memory: Some(64 << 20),
            cpus: Some(0.5),
            pids_limit: Some(32),
            read_only: true,
            cap_drop: vec!["net_raw,CAP_MKNOD".into()],
            cap_add: vec!["SYS_ADMIN".into()],
            security_opt: vec!["seccomp=unconfined".into(), "no-new-privileges".into()],
            privileged: false,
            user: Some("1000:1000".into()),
        };
        let (h, user) = host_config(&iso, Default::default()).unwrap();
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(h.pid_mode.as_deref(), Some("host"));
        assert_eq!(h.ipc_mode.as_deref(), Some("host"));
        assert_eq!(h.uts_mode.as_deref(), Some("host"));
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.nano_cpus, Some(500_000_000));
        assert_eq!(h.pids_limit, Some(32));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.cap_drop.unwrap(), ["CAP_NET_RAW", "CAP_MKNOD"]);
        assert_eq!(h.cap_add.unwrap(), ["CAP_SYS_ADMIN"]);
        assert_eq!(
            h.security_opt.unwrap(),
            ["seccomp=unconfined", "no-new-privileges=true"]
        );
        assert_eq!(h.privileged, None);
        assert_eq!(user.as_deref(), Some("1000:1000"));
        assert_eq!(
            describe(&iso),
            "--network host --pid host --ipc host --uts host --memory 67108864 --cpus 0.5 \
             --pids-limit 32 --read-only --cap-drop net_raw,CAP_MKNOD --cap-add SYS_ADMIN \
             --security-opt seccomp=unconfined --security-opt no-new-privileges --user 1000:1000"
        );
        // The defaults change nothing.
        let (h, user) = host_config(&Isolation::default(), Default::default()).unwrap();
        assert_eq!(h.network_mode, None);
        assert_eq!(h.readonly_rootfs, None);
        assert_eq!(user, None);
        assert_eq!(describe(&Isolation::default()), "");
        // What the daemon would refuse is refused here, in words.
        let bad = |iso: Isolation| {
            host_config(&iso, Default::default())
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad(Isolation {
                pid: Some("container:x".into()),
                ..Isolation::default()
            })
            .contains("only `host`")
        );
        assert!(
            bad(Isolation {
                cap_drop: vec!["NET RAW".into()],
                ..Isolation::default()
            })
            .contains("not a capability")
        );
        assert!(
            bad(Isolation {
                security_opt: vec!["selinux".into()],
                ..Isolation::default()
            })
            .contains("seccomp=unconfined")
        );
        assert!(
            bad(Isolation {
                security_opt: vec!["seccomp=/nonexistent.json".into()],
                ..Isolation::default()
            })
            .contains("reading the profile")
        );
    }
}
