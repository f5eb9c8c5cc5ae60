//! The CRI node: a second containerd with its CRI plugin enabled, the way a Kubernetes node
//! runs it, beside dockerd's own containerd and sharing nothing with it.
//!
//! Everything lives under `/run/beefine/cri/`: the config (`config.toml`, from
//! `xtask/cri/containerd.toml` with the pause fixture image as the sandbox image), the
//! registry mirror (`certs.d/localhost:5000/hosts.toml`: the fixture registry over plain
//! HTTP), the CNI config (`net.d/10-beefine-pods.conflist`: Debian's `bridge` plugin on
//! `bfpods0` with `host-local` addresses from 10.213.0.0/24 kept in `ipam/`; containerd adds
//! the `loopback` plugin itself), containerd's root and state, runc's root and the pods'
//! network namespaces. The API socket is `/run/beefine/cri/containerd.sock`.
//!
//! The bridge gets no address on the host, no route and no masquerading: a pod reaches its
//! own loopback and the other pods on the bridge, nothing else.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::services::{self, Started};
use crate::{images, util};

/// Where the CRI node keeps everything.
pub const DIR: &str = "/run/beefine/cri";
/// The CRI (and containerd) API socket.
pub const SOCKET: &str = "/run/beefine/cri/containerd.sock";
/// Name of the service in `target/xtask/services.json`.
pub const SERVICE: &str = "cri-containerd";

const CONFIG: &str = "/run/beefine/cri/config.toml";

/// The files the CRI containerd reads, with their content for the current fixture images.
fn files() -> Result<Vec<(String, String)>> {
    let recipes = util::root().join("xtask").join("cri");
    let read = |name: &str| {
        let path = recipes.join(name);
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let sandbox_image = images::reference("pause", &images::tag()?);
    Ok(vec![
        (
            CONFIG.to_string(),
            read("containerd.toml")?.replace("@SANDBOX_IMAGE@", &sandbox_image),
        ),
        (
            format!("{DIR}/certs.d/localhost:5000/hosts.toml"),
            read("hosts.toml")?,
        ),
        (
            format!("{DIR}/net.d/10-beefine-pods.conflist"),
            read("10-beefine-pods.conflist")?,
        ),
    ])
}

/// Whether every file already has the wanted content.
fn files_current(files: &[(String, String)]) -> bool {
    files
        .iter()
        .all(|(path, text)| fs::read_to_string(path).is_ok_and(|t| t == *text))
}

/// Whether a containerd answers on the socket with its CRI plugin loaded (`ctr plugins ls`).
pub fn answers() -> bool {
    Command::new("ctr")
        .args(["--address", SOCKET, "--timeout", "3s", "plugins", "ls"])
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.first() == Some(&"io.containerd.grpc.v1")
                        && f.get(1) == Some(&"cri")
                        && f.last() == Some(&"ok")
                })
        })
}

/// Starts the CRI containerd unless one answers with the current config. One that xtask
/// started with an older config (the fixture images changed) is restarted.
pub fn provision(started: &mut Started) -> Result<()> {
    for tool in ["containerd", "ctr", "runc"] {
        if !util::have(tool) {
            bail!("{tool} not found: `apt-get install containerd runc`");
        }
    }
    for plugin in ["bridge", "host-local", "loopback"] {
        if !Path::new("/usr/lib/cni").join(plugin).is_file() {
            bail!("/usr/lib/cni/{plugin} not found: `apt-get install containernetworking-plugins`");
        }
    }
    let files = files()?;
    if answers() {
        if files_current(&files) {
            println!("the CRI containerd answers on {SOCKET}");
            return Ok(());
        }
        if !services::stop_recorded(SERVICE)? {
            bail!(
                "a containerd that xtask did not start answers on {SOCKET} with another config \
                 than {CONFIG} should have: stop it so that `cargo xtask provision` can start one"
            );
        }
        println!("restarted below with the current config");
    }
    if !util::is_root() {
        bail!(
            "nothing answers on {SOCKET} and starting containerd needs root: \
             run `cargo xtask provision` as root"
        );
    }
    for (path, text) in &files {
        let path = Path::new(path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // A containerd that was killed leaves its socket; a new one removes it, but only if the
    // file is a socket nobody listens on, which is what it is then.
    let log = util::xtask_dir()?.join("cri-containerd.log");
    let mut cmd = Command::new("containerd");
    cmd.args(["--config", CONFIG]);
    started.spawn(SERVICE, cmd, &log)?;
    let begin = Instant::now();
    loop {
        if answers() {
            println!(
                "the CRI containerd answers on {SOCKET} after {} (config {CONFIG})",
                util::human(begin.elapsed())
            );
            return Ok(());
        }
        if let Some(status) = started.exited(SERVICE) {
            started.stop_one(SERVICE)?;
            bail!(
                "containerd exited ({status}) before answering on {SOCKET}; the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        if begin.elapsed() > Duration::from_secs(60) {
            started.stop_one(SERVICE)?;
            bail!(
                "containerd did not answer on {SOCKET} within 60 s (stopped it); the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_pause_image_and_keeps_to_its_directory() {
        let files = files().unwrap();
        let (_, config) = files.iter().find(|(p, _)| p == CONFIG).unwrap();
        let pause = images::reference("pause", &images::tag().unwrap());
        assert!(config.contains(&format!("sandbox_image = \"{pause}\"")));
        assert!(!config.contains('@'), "every placeholder is filled");
        for line in config.lines().filter(|l| l.contains("= \"/")) {
            let path = line.split('"').nth(1).unwrap();
            assert!(
                path.starts_with(DIR) || path == "/usr/lib/cni",
                "{path} is outside {DIR}"
            );
        }
        let (_, cni) = files
            .iter()
            .find(|(p, _)| p.ends_with(".conflist"))
            .unwrap();
        let cni: serde_json::Value = serde_json::from_str(cni).unwrap();
        let bridge = &cni["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["isGateway"], false);
        assert!(bridge["ipam"]["dataDir"].as_str().unwrap().starts_with(DIR));
    }
}
