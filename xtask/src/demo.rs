//! `cargo xtask demo` and `cargo xtask fixtures`: recordings made with the release binaries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};
use clap::Parser;

use crate::services::Started;
use crate::{cri, images, provision, util};

#[derive(Parser)]
pub struct DemoArgs {
    /// Leave the services this run started (dockerd, registry, CRI containerd) running afterwards.
    #[arg(long)]
    keep_services: bool,
    /// Do not open the viewer, even when a display is available.
    #[arg(long)]
    no_view: bool,
    /// Instead of the nginx story: record the busybox fixture image with Docker's default
    /// isolation and with --network host, --pid host, --network none, --read-only,
    /// --cap-drop ALL, --security-opt seccomp=unconfined and cgroup limits, into
    /// target/demo/variants/, and say how each differs from the default.
    #[arg(long)]
    variants: bool,
}

#[derive(Parser)]
pub struct FixturesArgs {
    /// Only rewrite the synthetic fixture of the current format version (no root needed).
    #[arg(long, conflicts_with = "hostile")]
    format: bool,
    /// Only rewrite the hostile files of fixtures/hostile/ and their manifest (no root needed).
    #[arg(long)]
    hostile: bool,
    /// Leave the services this run started (dockerd, registry, CRI containerd) running afterwards.
    #[arg(long)]
    keep_services: bool,
}

/// Host port the demo publishes nginx on.
const DEMO_PORT: u16 = 18080;

fn release_bin(name: &str) -> PathBuf {
    util::target_dir().join("release").join(name)
}

/// A path relative to the workspace root when it is inside it, for commands to copy.
fn shown(p: &Path) -> String {
    p.strip_prefix(util::root())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn build_release() -> Result<()> {
    util::heading("release binaries");
    util::run(util::cargo().args([
        "build",
        "--release",
        "-p",
        "beefine_recorder",
        "-p",
        "beefine_viewer",
    ]))
}

/// Runs `f` with the machine provisioned; stops what was started unless `keep`.
fn provisioned(keep: bool, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let mut started = Started::default();
    let result = provision::provision(&mut started, &provision::Args::default()).and_then(|()| f());
    if keep {
        started.detach();
    } else {
        started.stop_all()?;
    }
    result
}

/// Removes the local copy of `image` so that the recorded pull downloads and unpacks its
/// layers; a copy in use by a container stays (the pull is then recorded as a no-op).
fn remove_local_image(image: &str) -> Result<()> {
    let present = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        let status = util::status(Command::new("docker").args(["image", "rm", image]))?;
        if !status.success() {
            println!("warning: {image} stays local: the recorded pull will download nothing");
        }
    }
    Ok(())
}

fn busybox_latest() -> String {
    images::reference("busybox", "latest")
}

/// Removes an image from the CRI node's containerd, if it has it: every reference to the
/// same manifest (`repo:tag`, `repo@digest` and the id the CRI names it by), so that the
/// recording pulls it again.
fn remove_cri_image(image: &str) -> Result<()> {
    let ctr = || {
        let mut c = Command::new("ctr");
        c.args(["--address", cri::SOCKET, "--namespace", "k8s.io", "images"]);
        c
    };
    let listed = util::output(ctr().arg("ls"))?;
    // REF TYPE DIGEST SIZE PLATFORMS LABELS
    let rows: Vec<(&str, &str)> = listed
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.first()?, *f.get(2)?))
        })
        .collect();
    let Some((_, digest)) = rows.iter().find(|(r, _)| *r == image) else {
        return Ok(());
    };
    let refs: Vec<&str> = rows
        .iter()
        .filter(|(_, d)| d == digest)
        .map(|(r, _)| *r)
        .collect();
    util::run(ctr().arg("rm").args(&refs))
}

/// The arguments of `beefine-record` that record a pod's birth on the CRI node:
/// `fixtures/pods/web.yaml` run as the kubelet would, the page fetched inside the pod too.
fn pod_web_args(dir: &Path) -> Vec<String> {
    let manifest = util::root().join("fixtures").join("pods").join("web.yaml");
    [
        "--session",
        "pod-web",
        "--out",
        &dir.display().to_string(),
        "--force",
        "--cri",
        &format!("unix://{}", cri::SOCKET),
        "--pod",
        &manifest.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The arguments of `beefine-record` that record the nginx story: pull the fixture image
/// from the local registry, run it with a port on 127.0.0.1, fetch its page.
fn pull_nginx_args(out_dir: &Path, nginx: &str) -> Vec<String> {
    let url = format!("http://127.0.0.1:{DEMO_PORT}/");
    [
        "--session",
        "pull-nginx",
        "--out",
        &out_dir.display().to_string(),
        "--force",
        "--pull",
        nginx,
        "--run",
        nginx,
        "--publish",
        &format!("127.0.0.1:{DEMO_PORT}:80"),
        "--fetch",
        &url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn demo(args: &DemoArgs) -> Result<()> {
    if args.variants {
        return provisioned(args.keep_services, || {
            build_release()?;
            let busybox = images::reference("busybox", &images::tag()?);
            // The image is there before the recordings: the variants differ in how it runs.
            util::run(Command::new("docker").args(["pull", "-q", &busybox]))?;
            crate::variants::record_and_compare(
                &release_bin("beefine-record"),
                &release_bin("beefine-view"),
                &busybox,
                &util::root().join("target").join("demo").join("variants"),
            )
        });
    }
    provisioned(args.keep_services, || {
        build_release()?;
        let tag = images::tag()?;
        let nginx = images::reference("nginx", &tag);
        let out_dir = util::root().join("target").join("demo");
        fs::create_dir_all(&out_dir)?;
        let session = out_dir.join("pull-nginx.beefine");

        util::heading("record pull-nginx");
        remove_local_image(&nginx)?;
        util::run(
            Command::new(release_bin("beefine-record")).args(pull_nginx_args(&out_dir, &nginx)),
        )
        .context("recording the demo session")?;

        util::heading("session summary");
        let viewer = release_bin("beefine-view");
        util::run(Command::new(&viewer).arg("info").arg(&session))?;

        let open = format!("{} {}", shown(&viewer), shown(&session));
        let display = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
        if display && !args.no_view {
            util::heading("viewer");
            util::run(Command::new(&viewer).arg(&session))?;
        } else {
            println!("\nOpen the session in the viewer (needs a display):\n  {open}");
        }
        Ok(())
    })
}

pub fn fixtures(args: &FixturesArgs) -> Result<()> {
    if args.hostile {
        util::heading("hostile fixtures");
        return util::run(util::cargo().args([
            "run",
            "-p",
            "beefine_testdata",
            "--example",
            "write_hostile_fixtures",
            "--",
            "fixtures/hostile",
        ]));
    }
    if args.format {
        util::heading("format fixture");
        return util::run(util::cargo().args([
            "run",
            "-p",
            "beefine_schema",
            "--example",
            "write_format_fixture",
            "--",
            "fixtures/sessions",
        ]));
    }
    provisioned(args.keep_services, || {
        build_release()?;
        let tag = images::tag()?;
        let nginx = images::reference("nginx", &tag);
        let busybox = images::reference("busybox", &tag);
        let dir = util::root().join("fixtures").join("sessions");
        // The real recordings committed for the viewer's tests and for newcomers without
        // root or Docker: a pull and a web server's start, a one-shot container, and an exec
        // into a running container (through the docker CLI, recorded as the command).
        let mut recordings: Vec<(&str, Vec<String>)> =
            vec![("pull-nginx", pull_nginx_args(&dir, &nginx))];
        recordings.push((
            "run-busybox",
            [
                "--session",
                "run-busybox",
                "--out",
                &dir.display().to_string(),
                "--force",
                "--pull",
                &busybox,
                "--run",
                &busybox,
                "--",
                "sh",
                "-c",
                "echo hello from the Beefine busybox fixture",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ));
        let exec_script = format!(
            "docker run -d --name beefine-exec-fixture {busybox} sleep 30 >/dev/null && \
             docker exec beefine-exec-fixture sh -c 'echo hello from docker exec; cat /etc/hostname' && \
             docker rm -f beefine-exec-fixture >/dev/null"
        );
        recordings.push((
            "exec-busybox",
            [
                "--session",
                "exec-busybox",
                "--out",
                &dir.display().to_string(),
                "--force",
                "--",
                "sh",
                "-c",
                &exec_script,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ));
        recordings.push(("pod-web", pod_web_args(&dir)));
        for (name, rec_args) in &recordings {
            util::heading(&format!("record {name}"));
            match *name {
                "pull-nginx" => remove_local_image(&nginx)?,
                "run-busybox" => remove_local_image(&busybox)?,
                // The pod's birth starts with the runtime pulling the sandbox and app images.
                "pod-web" => {
                    for image in [images::reference("pause", &tag), busybox_latest()] {
                        remove_cri_image(&image)?;
                    }
                }
                // The exec records the container's start too: the image must be there.
                _ => util::run(Command::new("docker").args(["pull", "-q", &busybox]))?,
            }
            util::run(Command::new(release_bin("beefine-record")).args(rec_args))
                .with_context(|| format!("recording the fixture session {name}"))?;
            let file = dir.join(format!("{name}.beefine"));
            let size = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!("{}: {:.2} MB", shown(&file), size as f64 / 1e6);
            if size > 5_000_000 {
                println!(
                    "warning: {} is above 5 MB; fixtures should stay small",
                    shown(&file)
                );
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_records_through_loopback_only() {
        let args = pull_nginx_args(Path::new("target/demo"), "localhost:5000/nginx:t");
        let joined = args.join(" ");
        assert!(joined.contains("--publish 127.0.0.1:18080:80"), "{joined}");
        assert!(
            joined.contains("--fetch http://127.0.0.1:18080/"),
            "{joined}"
        );
        assert!(joined.starts_with("--session pull-nginx --out target/demo --force"));
    }
}
