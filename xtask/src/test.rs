//! `cargo xtask test`: provision, fmt, clippy, every test, a viewer screenshot; a summary.

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use crate::services::Started;
use crate::{probe_arches, provision, util};

#[derive(Parser)]
pub struct Args {
    /// Leave the services this run started (dockerd, registry, CRI containerd) running afterwards.
    #[arg(long)]
    keep_services: bool,
    /// Leave out provisioning and the privileged tests (beefine_tests: root, eBPF, Docker).
    #[arg(long)]
    skip_privileged: bool,
}

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

struct Step {
    name: &'static str,
    outcome: Outcome,
    duration: Duration,
}

/// Test counts from the `test result:` lines of cargo test.
#[derive(Default, Debug, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
    /// Names of the failed tests (`test NAME ... FAILED`).
    failures: Vec<String>,
}

impl Counts {
    fn add_line(&mut self, line: &str) {
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            self.failures.push(name.to_string());
        }
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

pub fn main(args: &Args) -> Result<()> {
    let begin = Instant::now();
    let mut started = Started::default();
    let mut steps: Vec<Step> = Vec::new();
    let mut counts = Counts::default();

    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<Outcome>| {
        util::heading(name);
        let t = Instant::now();
        let outcome = f().unwrap_or_else(|e| Outcome::Failed(format!("{e:#}")));
        if let Outcome::Failed(why) = &outcome {
            eprintln!("\n{name}: FAILED: {why}");
        }
        steps.push(Step {
            name,
            outcome,
            duration: t.elapsed(),
        });
    };

    if args.skip_privileged {
        step("provision", &mut || {
            Ok(Outcome::Skipped("--skip-privileged".into()))
        });
    } else {
        step("provision", &mut || {
            provision::provision(&mut started, &provision::Args::default())?;
            Ok(Outcome::Passed)
        });
    }
    step("cargo fmt --all --check", &mut || {
        util::run(util::cargo().args(["fmt", "--all", "--check"]))?;
        Ok(Outcome::Passed)
    });
    step("cargo clippy", &mut || {
        util::run(util::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        Ok(Outcome::Passed)
    });
    step("probes for x86-64 and arm64", &mut || {
        probe_arches::check()?;
        Ok(Outcome::Passed)
    });
    step("cargo test --workspace (unprivileged)", &mut || {
        cargo_test(UNPRIVILEGED, &[], &mut counts)
    });
    if args.skip_privileged {
        step("export tests with tshark and Perfetto", &mut || {
            Ok(Outcome::Skipped(
                "--skip-privileged (needs provisioning)".into(),
            ))
        });
    } else {
        // Left out of a plain `cargo test`: they need the tools provisioning installs
        // (tshark, and Perfetto's bindings in the Python environment the tests default to).
        step("export tests with tshark and Perfetto", &mut || {
            cargo_test(
                &["-p", "beefine_viewer", "--test", "export_tools"],
                &["--ignored"],
                &mut counts,
            )
        });
    }
    if args.skip_privileged {
        step("cargo test -p beefine_tests", &mut || {
            Ok(Outcome::Skipped("--skip-privileged".into()))
        });
    } else {
        step("cargo test -p beefine_tests", &mut || {
            // The end-to-end tests run the recorder's binary from the target directory.
            util::run(util::cargo().args(["build", "-p", "beefine_recorder", "--bins"]))?;
            cargo_test(&["-p", "beefine_tests"], &["--test-threads=1"], &mut counts)
        });
    }
    step("viewer screenshot", &mut screenshot);
    step("hostile files in the window", &mut || {
        // Under an Xvfb of its own: each file of fixtures/hostile/ as --screenshot reads it.
        cargo_test(
            &["-p", "beefine_viewer", "--test", "hostile"],
            &["--ignored", "--test-threads=1"],
            &mut counts,
        )
    });

    let services = started.names();
    if args.keep_services {
        started.detach();
    } else if let Err(e) = started.stop_all() {
        eprintln!("stopping services: {e:#}");
    }

    println!("\n==> summary");
    for s in &steps {
        let (mark, note) = match &s.outcome {
            Outcome::Passed => ("ok", String::new()),
            Outcome::Failed(why) => ("FAILED", short_reason(why)),
            Outcome::Skipped(why) => ("skipped", why.clone()),
        };
        println!(
            "  {mark:<8} {:<40} {:>8}  {note}",
            s.name,
            util::human(s.duration)
        );
    }
    if !services.is_empty() {
        let what = if args.keep_services {
            "left running"
        } else {
            "stopped"
        };
        println!(
            "  services started by this run, {what}: {}",
            services.join(", ")
        );
    }
    if !counts.failures.is_empty() {
        println!("  failed tests:");
        for name in &counts.failures {
            println!("    {name}");
        }
    }
    println!("  total {}", util::human(begin.elapsed()));
    let line = format!("{} passed, {} failed", counts.passed, counts.failed);
    println!("tests: {line}");

    let failed: Vec<&str> = steps
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
        .map(|s| s.name)
        .collect();
    if !failed.is_empty() {
        bail!("{} step(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// What the summary says of a failure: the command's exit status when a command failed
/// (the step's name says which command), else the error's first line.
fn short_reason(text: &str) -> String {
    match text.rfind("` failed (") {
        Some(i) if text.starts_with('`') => text[i + 2..].to_string(),
        _ => first_line(text),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.len() > 100 {
        format!("{}…", &line[..line.floor_char_boundary(100)])
    } else {
        line.to_string()
    }
}

/// Arguments of the unprivileged `cargo test`.
const UNPRIVILEGED: &[&str] = &["--workspace", "--exclude", "beefine_tests"];

/// `cargo test --no-fail-fast ARGS -- HARNESS_ARGS`, echoing its output and adding up its
/// test counts. Every test binary runs even after one fails.
fn cargo_test(args: &[&str], harness: &[&str], counts: &mut Counts) -> Result<Outcome> {
    let mut cmd = util::cargo();
    cmd.args(["test", "--no-fail-fast"]).args(args);
    if !harness.is_empty() {
        cmd.arg("--").args(harness);
    }
    println!("$ {}", util::display(&cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{}`", util::display(&cmd)))?;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        counts.add_line(&line);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display(&cmd));
    }
    Ok(Outcome::Passed)
}

/// The session the screenshot opens: a recorded fixture when there is one, else the newest
/// format fixture.
fn screenshot_session() -> Result<PathBuf> {
    let dir = util::root().join("fixtures").join("sessions");
    let recorded = dir.join("pull-nginx.beefine");
    if recorded.is_file() {
        return Ok(recorded);
    }
    let mut formats: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("format-v"))
                && p.extension().is_some_and(|e| e == "beefine")
        })
        .collect();
    formats.sort_by_key(|p| format_version(p));
    formats
        .pop()
        .with_context(|| format!("no session fixture in {}", dir.display()))
}

fn format_version(p: &Path) -> u32 {
    p.file_stem()
        .and_then(|s| s.to_string_lossy().strip_prefix("format-v")?.parse().ok())
        .unwrap_or(0)
}

/// `beefine-view --screenshot OUT.png FILE` under Xvfb; the PNG must exist and show more
/// than one colour. Skipped while the viewer has no `--screenshot`.
fn screenshot() -> Result<Outcome> {
    // The unprivileged test run builds beefine-view for the viewer's integration tests;
    // building it the same way reuses that build (a plain `cargo build -p beefine_viewer`
    // resolves other features and rebuilds much of the workspace).
    let viewer = util::target_dir().join("debug").join("beefine-view");
    util::run(util::cargo().arg("test").args(UNPRIVILEGED).arg("--no-run"))?;
    if !viewer.is_file() {
        util::run(util::cargo().args(["build", "-p", "beefine_viewer"]))?;
    }
    let help = Command::new(&viewer)
        .arg("--help")
        .output()
        .with_context(|| format!("running {} --help", viewer.display()))?;
    if !String::from_utf8_lossy(&help.stdout).contains("--screenshot") {
        return Ok(Outcome::Skipped(
            "beefine-view has no --screenshot option yet".into(),
        ));
    }
    let session = screenshot_session()?;
    let png = util::xtask_dir()?.join("screenshot.png");
    let _ = fs::remove_file(&png);
    util::run(
        Command::new("timeout")
            .args(["300", "xvfb-run", "-a", "-s", "-screen 0 1600x900x24"])
            .arg(&viewer)
            .arg("--screenshot")
            .arg(&png)
            .arg(&session),
    )?;
    let size = fs::metadata(&png)
        .with_context(|| format!("beefine-view wrote no {}", png.display()))?
        .len();
    if size == 0 {
        bail!("{} is empty", png.display());
    }
    let colours = util::output(Command::new("identify").args(["-format", "%k"]).arg(&png))?;
    let colours: u64 = colours
        .trim()
        .parse()
        .with_context(|| format!("identify printed {colours:?}"))?;
    if colours < 2 {
        bail!("{} is a single colour", png.display());
    }
    println!(
        "{}: {size} bytes, {colours} colours, of {}",
        png.display(),
        session.display()
    );
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_cargo_test_result_lines() {
        let mut c = Counts::default();
        c.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        c.add_line("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s");
        c.add_line("test something ... ok");
        c.add_line("test registry::pulls ... FAILED");
        assert_eq!(
            c,
            Counts {
                passed: 15,
                failed: 2,
                ignored: 1,
                failures: vec!["registry::pulls".into()],
            }
        );
    }

    #[test]
    fn summary_reason_of_a_failed_command_is_its_status() {
        assert_eq!(
            short_reason("`cargo fmt --all --check` failed (exit status: 1)"),
            "failed (exit status: 1)"
        );
        assert_eq!(
            short_reason("dockerd did not answer\nlog tail"),
            "dockerd did not answer"
        );
    }

    #[test]
    fn picks_the_newest_format_fixture() {
        assert_eq!(format_version(Path::new("x/format-v12.beefine")), 12);
        assert_eq!(format_version(Path::new("x/pull-nginx.beefine")), 0);
    }
}
