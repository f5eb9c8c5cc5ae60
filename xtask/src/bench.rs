//! `cargo xtask bench`: runs the criterion benchmarks and prints their figures.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, ValueEnum};
use serde_json::Value;

use crate::util;

#[derive(Parser)]
pub struct Args {
    /// Which benchmarks to run.
    #[arg(value_enum, default_value = "all")]
    which: Which,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// Session writer and reader throughput, bytes/event (beefine_schema, bench `session`).
    Schema,
    /// The viewer's benchmarks (every bench target of beefine_viewer).
    Viewer,
    /// Kernel capture: the recorder's bench target `capture` (needs root).
    Capture,
    /// All of the above.
    All,
}

/// The package and bench target (None: all of the package's) of each kind.
const SCHEMA: (&str, Option<&str>) = ("beefine_schema", Some("session"));
const VIEWER: (&str, Option<&str>) = ("beefine_viewer", None);
const CAPTURE: (&str, Option<&str>) = ("beefine_recorder", Some("capture"));

pub fn main(args: &Args) -> Result<()> {
    let start = SystemTime::now();
    let mut failures = Vec::new();
    let selected: Vec<(&str, (&str, Option<&str>))> = [
        (Which::Schema, "schema", SCHEMA),
        (Which::Viewer, "viewer", VIEWER),
        (Which::Capture, "capture", CAPTURE),
    ]
    .into_iter()
    .filter(|(w, _, _)| args.which == Which::All || args.which == *w)
    .map(|(_, name, target)| (name, target))
    .collect();

    for (name, (package, bench)) in selected {
        util::heading(&format!("bench {name}"));
        if let Err(e) = run_bench(name, package, bench) {
            eprintln!("bench {name}: {e:#}");
            failures.push(name);
        }
    }

    util::heading("figures");
    let results = collect(start)?;
    if !results.is_empty() {
        print_table(&results);
    }
    // Figures a benchmark writes beside criterion's (bytes/event, the capture summary).
    // Some write them under the workspace's target/ whatever CARGO_TARGET_DIR says.
    let mut extras = Vec::new();
    for dir in criterion_dirs() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        extras.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt") && modified_since(p, start)),
        );
    }
    extras.sort();
    if results.is_empty() && extras.is_empty() {
        println!("no figures from this run");
    }
    for extra in extras {
        println!("\n  {}:", extra.display());
        for line in fs::read_to_string(&extra).unwrap_or_default().lines() {
            println!("  {line}");
        }
    }
    if !failures.is_empty() {
        bail!("benchmarks failed or missing: {}", failures.join(", "));
    }
    Ok(())
}

fn run_bench(name: &str, package: &str, bench: Option<&str>) -> Result<()> {
    let benches = bench_targets(package)?;
    match bench {
        Some(b) if !benches.iter().any(|t| t == b) => bail!(
            "the {name} benchmark does not exist yet: expected a bench target `{b}` in \
             package {package}"
        ),
        None if benches.is_empty() => {
            bail!("the {name} benchmarks do not exist yet: package {package} has no bench targets")
        }
        _ => {}
    }
    if name == "capture" && !util::is_root() {
        bail!("the capture benchmark loads eBPF programs: run it as root");
    }
    let mut cmd = util::cargo();
    cmd.args(["bench", "-p", package]);
    match bench {
        Some(b) => cmd.args(["--bench", b]),
        None => cmd.arg("--benches"),
    };
    util::run(&mut cmd)
}

/// Names of the bench targets of a workspace package, from `cargo metadata`.
fn bench_targets(package: &str) -> Result<Vec<String>> {
    let out = util::output(util::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let meta: Value = serde_json::from_str(&out).context("parsing cargo metadata")?;
    let pkg = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == package))
        .with_context(|| format!("no package {package} in the workspace"))?;
    Ok(pkg["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bench"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect())
}

#[derive(Debug, PartialEq)]
struct Figure {
    id: String,
    /// Time per iteration: criterion's slope estimate when it has one (what it prints as
    /// `time:`), else the mean.
    nanos: f64,
    /// (count, unit) per iteration, from criterion's throughput setting.
    throughput: Option<(f64, &'static str)>,
}

fn modified_since(path: &Path, start: SystemTime) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= start)
}

/// Criterion's output folder of this run's target directory, then the workspace's
/// `target/criterion` if that is another one.
fn criterion_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![util::target_dir().join("criterion")];
    let default = util::root().join("target").join("criterion");
    if !dirs.contains(&default) {
        dirs.push(default);
    }
    dirs
}

/// Every criterion benchmark of this run's target directory whose estimates were written
/// since `start`.
fn collect(start: SystemTime) -> Result<Vec<Figure>> {
    let mut found = Vec::new();
    let mut new_dirs = Vec::new();
    find_new_dirs(&util::target_dir().join("criterion"), &mut new_dirs);
    for d in new_dirs {
        if modified_since(&d.join("estimates.json"), start)
            && let Some(f) = read_figure(&d)?
        {
            found.push(f);
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

fn find_new_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                out.push(p);
            } else {
                find_new_dirs(&p, out);
            }
        }
    }
}

fn read_figure(new_dir: &Path) -> Result<Option<Figure>> {
    let read = |name: &str| -> Result<Value> {
        let p = new_dir.join(name);
        let text = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    };
    let (Ok(bench), Ok(est)) = (read("benchmark.json"), read("estimates.json")) else {
        return Ok(None);
    };
    Ok(figure(&bench, &est))
}

fn figure(bench: &Value, est: &Value) -> Option<Figure> {
    let id = bench["full_id"].as_str()?.to_string();
    let nanos = est["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| est["mean"]["point_estimate"].as_f64())?;
    let t = &bench["throughput"];
    let throughput = match t["Elements"].as_f64() {
        Some(n) => Some((n, "events/s")),
        None => t["Bytes"]
            .as_f64()
            .or_else(|| t["BytesDecimal"].as_f64())
            .map(|n| (n, "B/s")),
    };
    Some(Figure {
        id,
        nanos,
        throughput,
    })
}

fn si(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2} G", v / 1e9),
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.2} k", v / 1e3),
        v => format!("{v:.2} "),
    }
}

fn time(nanos: f64) -> String {
    match nanos {
        n if n >= 1e9 => format!("{:.3} s", n / 1e9),
        n if n >= 1e6 => format!("{:.3} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.3} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

fn print_table(figures: &[Figure]) {
    let width = figures.iter().map(|f| f.id.len()).max().unwrap_or(0).max(9);
    println!(
        "  {:<width$}  {:>12}  {:>18}",
        "benchmark", "time/iter", "throughput"
    );
    for f in figures {
        let tp = f.throughput.map_or_else(
            || "-".to_string(),
            |(n, unit)| format!("{}{unit}", si(n / (f.nanos / 1e9))),
        );
        println!("  {:<width$}  {:>12}  {:>18}", f.id, time(f.nanos), tp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_per_second_from_criterion_files() {
        let bench = json!({"full_id": "session/write", "throughput": {"Elements": 1_000_000}});
        let est = json!({"mean": {"point_estimate": 250_000_000.0}, "slope": null});
        let f = figure(&bench, &est).unwrap();
        assert_eq!(f.throughput, Some((1e6, "events/s")));
        assert_eq!(si(1e6 / (f.nanos / 1e9)), "4.00 M");
        assert_eq!(time(f.nanos), "250.000 ms");
        let est = json!({"mean": {"point_estimate": 1.0}, "slope": {"point_estimate": 2.0}});
        assert_eq!(
            figure(&bench, &est).unwrap().nanos,
            2.0,
            "the slope, as criterion prints"
        );
        let none = json!({"full_id": "x", "throughput": null});
        assert_eq!(figure(&none, &est).unwrap().throughput, None);
    }
}
