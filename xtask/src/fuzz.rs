//! `cargo xtask fuzz`: a short cargo-fuzz smoke run of what readers take from session
//! files: the chunk decoder (two targets), the BTF parser, and whole hostile session files
//! read as `beefine-view info` reads them.
//!
//! The targets live in `fuzz/` (its own workspace). They build on the stable toolchain with
//! `--sanitizer none`: cargo-fuzz then needs no `-Z` flag, and the decoder is safe Rust, so
//! AddressSanitizer would add little but a slow rebuild of every dependency (with
//! `RUSTC_BOOTSTRAP=1`, `cargo fuzz build` without `--sanitizer none` works too).

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use crate::util;

/// The fuzz targets in `fuzz/fuzz_targets/`.
const TARGETS: &[&str] = &["chunk_decode", "chunk_body", "btf", "session"];

#[derive(Parser)]
pub struct Args {
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Fuzz only this target (chunk_decode: stored zstd chunks; chunk_body: decompressed
    /// bodies, compressed by the harness so mutations reach the column decoder; btf: BTF
    /// with a record to decode; session: hostile session files through info's code path).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    target: Option<String>,
}

fn cargo_fuzz_installed() -> bool {
    util::cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn main(args: &Args) -> Result<()> {
    let root = util::root();
    let fuzz_dir = root.join("fuzz");

    util::heading("cargo-fuzz");
    if cargo_fuzz_installed() {
        println!("cargo-fuzz is installed");
    } else {
        util::run(util::cargo().args(["install", "cargo-fuzz", "--locked"]))
            .context("installing cargo-fuzz from crates.io")?;
    }

    util::heading("seed corpus from fixtures/sessions/ and fixtures/hostile/");
    let mut sessions: Vec<PathBuf> = Vec::new();
    for dir in ["sessions", "hostile"] {
        sessions.extend(
            fs::read_dir(root.join("fixtures").join(dir))
                .with_context(|| format!("reading fixtures/{dir}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "beefine")),
        );
    }
    sessions.sort();
    if sessions.is_empty() {
        bail!("no session files in fixtures/sessions to seed the corpus from");
    }
    let corpus = fuzz_dir.join("corpus");
    let mut seed = util::cargo();
    seed.current_dir(&fuzz_dir)
        .args(["run", "--quiet", "-p", "beefine_fuzz_seed", "--"])
        .arg(&corpus)
        .args(&sessions);
    util::run(&mut seed)?;

    let targets: Vec<&str> = match &args.target {
        Some(t) => vec![t.as_str()],
        None => TARGETS.to_vec(),
    };
    for target in targets {
        util::heading(&format!("fuzz {target} for {} s", args.seconds));
        let begin = Instant::now();
        let status = util::status(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&root)
                .args(["fuzz", "run", "--sanitizer", "none", target])
                .arg(corpus.join(target))
                .args([
                    "--",
                    &format!("-max_total_time={}", args.seconds),
                    "-timeout=10",
                    "-rss_limit_mb=2048",
                    "-print_final_stats=1",
                ]),
        )?;
        if !status.success() {
            bail!(
                "fuzzing {target} found a failure ({status}): the input is in fuzz/artifacts/{target}/; \
                 reproduce with `cargo fuzz run --sanitizer none {target} fuzz/artifacts/{target}/<file>`"
            );
        }
        println!("{target}: no failure in {}", util::human(begin.elapsed()));
    }
    Ok(())
}
