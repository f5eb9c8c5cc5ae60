//! `cargo xtask demo --variants`: the busybox fixture image recorded with Docker's default
//! isolation and with a few options changed, each variant compared with the default in a
//! line ("with --network host: no CLONE_NEWNET, …").

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::util;

/// The variants recorded: a file name and the `beefine-record` options that make it.
pub const VARIANTS: &[(&str, &[&str])] = &[
    ("default", &[]),
    ("network-host", &["--network", "host"]),
    ("pid-host", &["--pid", "host"]),
    ("network-none", &["--network", "none"]),
    ("read-only", &["--read-only"]),
    ("cap-drop-all", &["--cap-drop", "ALL"]),
    (
        "seccomp-unconfined",
        &["--security-opt", "seccomp=unconfined"],
    ),
    (
        "limits",
        &["--memory", "64m", "--cpus", "0.5", "--pids-limit", "32"],
    ),
];

/// What the container runs: a write to its root filesystem (which `--read-only` refuses)
/// and a line on its standard output.
const COMMAND: &[&str] = &["sh", "-c", "touch /tmp/written; echo hello from a variant"];

/// The arguments of `beefine-record` that record one variant into `dir`.
pub fn record_args(dir: &Path, name: &str, image: &str, options: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--session",
        name,
        "--out",
        &dir.display().to_string(),
        "--force",
        "--quiet",
        "--run",
        image,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(options.iter().map(|s| (*s).to_owned()));
    args.push("--".to_owned());
    args.extend(COMMAND.iter().map(|s| (*s).to_owned()));
    args
}

/// The line said of a variant: its options and the headlines of its diff with the default.
pub fn variant_line(options: &[&str], diff: &serde_json::Value) -> String {
    let headlines: Vec<&str> = diff["headlines"]
        .as_array()
        .map(|a| a.iter().filter_map(|h| h.as_str()).collect())
        .unwrap_or_default();
    let said = if headlines.is_empty() {
        "nothing differs but timing".to_owned()
    } else {
        headlines.join(", ")
    };
    format!("with {}: {said}", options.join(" "))
}

/// Records every variant with `recorder` into `dir` and prints how each differs from the
/// default, comparing with `viewer`.
pub fn record_and_compare(recorder: &Path, viewer: &Path, image: &str, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files: Vec<(&[&str], PathBuf)> = Vec::new();
    for (name, options) in VARIANTS {
        util::heading(&format!(
            "record {name} ({})",
            if options.is_empty() {
                "docker's defaults".to_owned()
            } else {
                options.join(" ")
            }
        ));
        util::run(Command::new(recorder).args(record_args(dir, name, image, options)))
            .with_context(|| format!("recording the variant {name}"))?;
        files.push((options, dir.join(format!("{name}.beefine"))));
    }
    let Some(((_, default), rest)) = files.split_first() else {
        bail!("no variants");
    };
    util::heading("how each variant differs from docker's defaults");
    for (options, file) in rest {
        let out = Command::new(viewer)
            .arg("diff")
            .arg(default)
            .arg(file)
            .args(["--format", "json"])
            .output()
            .with_context(|| format!("running {}", viewer.display()))?;
        if !out.status.success() {
            bail!(
                "comparing {} with {}: {}",
                default.display(),
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let diff: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("reading beefine-view diff's JSON")?;
        println!("{}\n", variant_line(options, &diff));
    }
    let (_, first) = &rest[0];
    println!(
        "The details: {} diff {} {}\nSide by side: {} {} --compare {}",
        viewer.display(),
        default.display(),
        first.display(),
        viewer.display(),
        default.display(),
        first.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_is_the_same_run_with_its_options() {
        let a = record_args(
            Path::new("d"),
            "network-host",
            "img",
            &["--network", "host"],
        );
        assert_eq!(
            a.join(" "),
            "--session network-host --out d --force --quiet --run img --network host -- sh -c \
             touch /tmp/written; echo hello from a variant"
        );
        assert_eq!(VARIANTS[0], ("default", &[][..]));
        assert!(VARIANTS.iter().any(|(_, o)| *o == ["--network", "host"]));
        assert!(VARIANTS.iter().any(|(_, o)| *o == ["--pid", "host"]));
        let diff =
            serde_json::json!({"headlines": ["no CLONE_NEWNET", "no veth pair on a bridge"]});
        assert_eq!(
            variant_line(&["--network", "host"], &diff),
            "with --network host: no CLONE_NEWNET, no veth pair on a bridge"
        );
        assert_eq!(
            variant_line(&["--pid", "host"], &serde_json::json!({"headlines": []})),
            "with --pid host: nothing differs but timing"
        );
    }
}
