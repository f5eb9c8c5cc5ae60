//! `cargo xtask provision`: Debian packages, tracefs, dockerd, the local registry, the
//! fixture images and the CRI node's containerd. Each step first checks whether it is
//! needed, so running it twice is safe.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use crate::services::Started;
use crate::{cri, http, images, python, util};

#[derive(Parser, Default)]
pub struct Args {
    /// Build and push the fixture images even if the registry has them.
    #[arg(long)]
    pub rebuild_images: bool,
}

/// Debian packages the project needs, and what for.
pub const PACKAGES: &[(&str, &str)] = &[
    ("clang", "compiles the eBPF probes"),
    ("llvm", "llvm-strip/llvm-objdump for the eBPF objects"),
    ("libbpf-dev", "bpf_helpers.h and friends for the probes"),
    (
        "linux-libc-dev",
        "x86-64 kernel headers: checking the probes' syscall table",
    ),
    (
        "linux-libc-dev-arm64-cross",
        "arm64 kernel headers: building the probes for arm64, checking its syscall table",
    ),
    (
        "bpftool",
        "vmlinux.h, checking that no program stays loaded",
    ),
    ("pkg-config", "finding C libraries for -sys crates"),
    ("docker.io", "dockerd, the daemon the recorder observes"),
    ("docker-registry", "the local registry on 127.0.0.1:5000"),
    (
        "containerd",
        "the CRI node's containerd (Debian's has the CRI plugin)",
    ),
    ("runc", "the runtime of the CRI node's pods"),
    (
        "containernetworking-plugins",
        "bridge, host-local and loopback: the CRI node's pod network",
    ),
    (
        "protobuf-compiler",
        "protoc, for the CRI API bindings (k8s-cri)",
    ),
    ("gcc", "the static pause program of the pause fixture image"),
    (
        "libc6-dev",
        "the static pause program of the pause fixture image",
    ),
    ("busybox-static", "the busybox fixture image"),
    ("libcrypt1", "a library of the nginx fixture image"),
    ("libpcre2-8-0", "a library of the nginx fixture image"),
    ("libssl3", "a library of the nginx fixture image"),
    ("zlib1g", "a library of the nginx fixture image"),
    ("curl", "fetching pages from containers by hand"),
    ("sqlite3", "reading session files by hand"),
    ("xvfb", "a display for viewer screenshots"),
    ("xauth", "xvfb-run"),
    ("mesa-vulkan-drivers", "lavapipe for wgpu snapshots"),
    ("libgl1-mesa-dri", "llvmpipe for the glow renderer"),
    ("libegl1", "the viewer's GL context"),
    (
        "libxkbcommon-x11-0",
        "the viewer's keyboard handling on X11",
    ),
    ("imagemagick", "checking screenshots"),
    ("tshark", "reading the pcapng export back in its tests"),
    (
        "python3-venv",
        "the Python environment with Perfetto's bindings for the Perfetto export's tests",
    ),
];

pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
pub const DOCKER_PIDFILE: &str = "/var/run/docker.pid";
pub const TRACEFS: &str = "/sys/kernel/tracing";
pub const REGISTRY_ADDR: &str = "127.0.0.1:5000";
pub const REGISTRY_STORAGE: &str = "/var/lib/beefine/registry";

pub fn main(args: &Args) -> Result<()> {
    let mut started = Started::default();
    let result = provision(&mut started, args);
    let names = started.names();
    started.detach();
    if !names.is_empty() {
        println!(
            "\nLeft running: {} (logs in target/xtask/; `cargo xtask services stop` stops them).",
            names.join(", ")
        );
    }
    result?;
    println!("\nProvisioned.");
    Ok(())
}

/// Every step, in order; services started are added to `started`.
pub fn provision(started: &mut Started, args: &Args) -> Result<()> {
    util::heading("Debian packages");
    packages()?;
    util::heading("Python environment");
    python::ensure()?;
    util::heading("tracefs");
    tracefs()?;
    util::heading("dockerd");
    dockerd(started)?;
    util::heading("registry");
    registry(started)?;
    util::heading("fixture images");
    images::ensure(args.rebuild_images)?;
    util::heading("CRI containerd");
    cri::provision(started)
}

fn packages() -> Result<()> {
    if !util::have("dpkg-query") {
        bail!("dpkg-query not found: provisioning expects Debian (bookworm) with apt");
    }
    let names: Vec<&str> = PACKAGES.iter().map(|(p, _)| *p).collect();
    // dpkg-query exits non-zero when a package is unknown; its output still lists the rest.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package}\t${db:Status-Status}\n"])
        .args(&names)
        .output()
        .context("running dpkg-query")?;
    let installed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| *status == "installed")
        .map(|(p, _)| p.to_string())
        .collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|p| !installed.iter().any(|i| i == p))
        .collect();
    if missing.is_empty() {
        println!("all {} packages installed", names.len());
        return Ok(());
    }
    println!("missing: {}", missing.join(" "));
    if !util::is_root() {
        bail!(
            "packages missing and installing them needs root: run as root, or \
             `sudo apt-get install {}`",
            missing.join(" ")
        );
    }
    util::run(Command::new("apt-get").args(["update", "-q"]))?;
    util::run(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )
    .context("installing the missing Debian packages")
}

fn tracefs_mounted() -> bool {
    fs::read_to_string("/proc/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&TRACEFS) && f.get(2) == Some(&"tracefs")
        })
    })
}

fn tracefs() -> Result<()> {
    if tracefs_mounted() {
        println!("tracefs is mounted at {TRACEFS}");
        return Ok(());
    }
    if !Path::new(TRACEFS).is_dir() {
        bail!("{TRACEFS} does not exist: this kernel has no tracefs, which the probes need");
    }
    if !util::is_root() {
        bail!(
            "tracefs is not mounted and mounting it needs root: \
             `sudo mount -t tracefs tracefs {TRACEFS}`"
        );
    }
    util::run(Command::new("mount").args(["-t", "tracefs", "tracefs", TRACEFS]))
}

/// Whether dockerd answers `GET /_ping` on its socket.
pub fn docker_answers() -> bool {
    http::get_unix(Path::new(DOCKER_SOCKET), "/_ping", Duration::from_secs(3))
        .is_ok_and(|r| r.status == 200 && r.text().trim() == "OK")
}

fn dockerd(started: &mut Started) -> Result<()> {
    if docker_answers() {
        println!("dockerd answers on {DOCKER_SOCKET}");
        return Ok(());
    }
    if !util::is_root() {
        bail!(
            "nothing answers on {DOCKER_SOCKET} and starting dockerd needs root: \
             run `cargo xtask provision` as root"
        );
    }
    if !util::have("dockerd") {
        bail!("dockerd not found: `apt-get install docker.io`");
    }
    // A dockerd that was killed leaves its pid file; dockerd refuses to start while that
    // pid belongs to a live process, which after a while may be any process.
    if let Some(pid) = fs::read_to_string(DOCKER_PIDFILE)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    {
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "dockerd" {
            println!("dockerd (pid {pid}) runs but does not answer yet; waiting for it");
            let begin = Instant::now();
            while begin.elapsed() < Duration::from_secs(60) {
                if docker_answers() {
                    println!("dockerd answers on {DOCKER_SOCKET}");
                    return Ok(());
                }
                sleep(Duration::from_millis(500));
            }
            bail!(
                "dockerd (pid {pid}, not started by xtask) does not answer on {DOCKER_SOCKET}: \
                 stop it (`kill {pid}`) and run `cargo xtask provision` again"
            );
        }
        println!("removing the stale {DOCKER_PIDFILE} (pid {pid} is not a dockerd)");
        fs::remove_file(DOCKER_PIDFILE)
            .with_context(|| format!("removing the stale {DOCKER_PIDFILE}"))?;
    }
    let log = util::xtask_dir()?.join("dockerd.log");
    started.spawn("dockerd", Command::new("dockerd"), &log)?;
    let begin = Instant::now();
    loop {
        if docker_answers() {
            println!(
                "dockerd answers on {DOCKER_SOCKET} after {}",
                util::human(begin.elapsed())
            );
            return Ok(());
        }
        if let Some(status) = started.exited("dockerd") {
            started.stop_one("dockerd")?;
            bail!(
                "dockerd exited ({status}) before answering on {DOCKER_SOCKET}; the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        if begin.elapsed() > Duration::from_secs(60) {
            started.stop_one("dockerd")?;
            bail!(
                "dockerd did not answer on {DOCKER_SOCKET} within 60 s (stopped it); the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        sleep(Duration::from_millis(250));
    }
}

enum RegistryState {
    Answers,
    Nothing,
    Other(String),
}

fn registry_state() -> RegistryState {
    let addr: SocketAddr = REGISTRY_ADDR.parse().expect("a valid address");
    match http::get_tcp(addr, "/v2/", &[], Duration::from_secs(3)) {
        Ok(r) if r.status == 200 => RegistryState::Answers,
        Ok(r) => RegistryState::Other(format!("it answers HTTP {} to GET /v2/", r.status)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => RegistryState::Nothing,
        Err(e) => RegistryState::Other(e.to_string()),
    }
}

/// Whether an open registry answers on 127.0.0.1:5000.
pub fn registry_answers() -> bool {
    matches!(registry_state(), RegistryState::Answers)
}

fn registry(started: &mut Started) -> Result<()> {
    match registry_state() {
        RegistryState::Answers => {
            println!("a registry answers on {REGISTRY_ADDR}");
            return Ok(());
        }
        RegistryState::Other(why) => bail!(
            "something listens on {REGISTRY_ADDR} but is not an open Docker registry ({why}); \
             stop it so that `cargo xtask provision` can start one"
        ),
        RegistryState::Nothing => {}
    }
    if !util::have("docker-registry") {
        bail!("docker-registry not found: `apt-get install docker-registry`");
    }
    fs::create_dir_all(REGISTRY_STORAGE).with_context(|| {
        format!("creating {REGISTRY_STORAGE} (run `cargo xtask provision` as root)")
    })?;
    let config = util::root().join("xtask").join("registry.yml");
    let log = util::xtask_dir()?.join("registry.log");
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(&config);
    started.spawn("registry", cmd, &log)?;
    let begin = Instant::now();
    loop {
        match registry_state() {
            RegistryState::Answers => {
                println!(
                    "the registry answers on {REGISTRY_ADDR} after {} (storage {REGISTRY_STORAGE})",
                    util::human(begin.elapsed())
                );
                return Ok(());
            }
            RegistryState::Other(why) => {
                started.stop_one("registry")?;
                bail!(
                    "the registry started but answers oddly ({why}); see {}",
                    log.display()
                );
            }
            RegistryState::Nothing => {}
        }
        if let Some(status) = started.exited("registry") {
            started.stop_one("registry")?;
            bail!(
                "docker-registry exited ({status}) before answering on {REGISTRY_ADDR}; the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        if begin.elapsed() > Duration::from_secs(30) {
            started.stop_one("registry")?;
            bail!(
                "the registry did not answer on {REGISTRY_ADDR} within 30 s (stopped it); the end of {}:\n{}",
                log.display(),
                util::tail(&log, 25)
            );
        }
        sleep(Duration::from_millis(200));
    }
}
