//! `cargo xtask`: provisioning, tests, demo, benchmarks, fuzzing and fixtures for Beefine.
//!
//! Everything here shells out to the tools a developer would type (`apt-get`, `dockerd`,
//! `docker`, `cargo`) and says what it runs, so that every step can be repeated by hand.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod cri;
mod demo;
mod fuzz;
mod http;
mod images;
mod probe_arches;
mod provision;
mod python;
mod services;
mod test;
mod util;
mod variants;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Provisioning, tests, demo, benchmarks, fuzzing and fixtures for Beefine",
    after_help = "\
The two commands most people want:
  cargo xtask demo     record an nginx pull-and-run and open it in the viewer
  cargo xtask test     provision, then fmt, clippy and every test (what CI runs)

Provisioning and the privileged tests need root on Debian (bookworm). Services that xtask
starts (dockerd, the registry, the CRI containerd) log to target/xtask/*.log and are recorded in
target/xtask/services.json."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make this machine ready: packages, tracefs, dockerd, registry, fixture images, CRI node.
    ///
    /// Installs the missing Debian packages (`apt-get update` only when something is
    /// missing), mounts tracefs at /sys/kernel/tracing, starts dockerd if nothing answers on
    /// /var/run/docker.sock, starts a registry on 127.0.0.1:5000 if none answers (storage in
    /// /var/lib/beefine/registry), builds and pushes the fixture images the registry does
    /// not have yet, and starts the CRI node's containerd (CRI plugin, CNI bridge, socket
    /// /run/beefine/cri/containerd.sock) if it does not answer. Safe to run again; services
    /// it starts are left running (stop them with `cargo xtask services stop`).
    Provision(provision::Args),
    /// Provision, then check formatting, clippy and run every test (what CI runs).
    ///
    /// Steps: provision; `cargo fmt --all --check`; `cargo clippy --workspace --all-targets
    /// -- -D warnings`; the probes built for x86-64 and arm64, each architecture's syscall
    /// table checked against its kernel headers (Debian's cross headers for arm64);
    /// `cargo test --workspace` without the privileged package; the
    /// privileged `beefine_tests` (after building beefine-record) with `--test-threads=1`;
    /// a screenshot of the viewer under Xvfb once `beefine-view --screenshot` exists. Every
    /// step runs even after a failure, a summary follows, and the exit code is non-zero if
    /// any step failed. Services this run started are stopped at the end unless
    /// `--keep-services`.
    Test(test::Args),
    /// Record an nginx pull-and-run with the release recorder, then show it.
    ///
    /// Provisions like `test`, builds release `beefine-record` and `beefine-view`, records
    /// the session `pull-nginx` into target/demo (pull the nginx fixture image, run it with
    /// a port on 127.0.0.1, fetch its page), prints `beefine-view info` of it and opens the
    /// viewer when DISPLAY or WAYLAND_DISPLAY is set (otherwise prints the command).
    /// `--variants`: the busybox image recorded with Docker's defaults and with isolation
    /// options changed (--network host, --pid host, …), each compared with the default.
    Demo(demo::DemoArgs),
    /// Run the criterion benchmarks and print their figures in a table.
    ///
    /// `schema`: session write/scan throughput and bytes/event (beefine_schema, bench
    /// `session`). `viewer`: every bench target of beefine_viewer (viewer/benches/*).
    /// `capture`: the recorder's bench target `capture` (beefine_recorder), a syscall storm
    /// traced and untraced; needs root. `all`: all three.
    Bench(bench::Args),
    /// Fuzz the chunk decoder for a short while (a smoke run).
    ///
    /// Builds the cargo-fuzz targets in fuzz/ (installing cargo-fuzz from crates.io if it is
    /// missing), seeds a corpus from the real chunks in fixtures/sessions/*.beefine and
    /// runs each target for the given time. Builds on the stable toolchain thanks to
    /// `--sanitizer none`, which needs no nightly flag (see fuzz/README.md). A failure
    /// leaves its input in fuzz/artifacts/<target>/ and exits non-zero.
    Fuzz(fuzz::Args),
    /// (Re)write the fixture sessions in fixtures/sessions/.
    ///
    /// `--format` rewrites the synthetic format fixture of the current format version
    /// (`cargo run -p beefine_schema --example write_format_fixture -- fixtures/sessions`),
    /// no root needed; `--hostile` rewrites fixtures/hostile/ (`cargo run -p
    /// beefine_testdata --example write_hostile_fixtures`). Without either: provisions, builds the release binaries and records the
    /// real fixture sessions with beefine-record.
    Fixtures(demo::FixturesArgs),
    /// Build the probes for x86-64 and arm64 and check each syscall table (part of `test`).
    ///
    /// Compiles ebpf/src/beefine.bpf.c with clang for each architecture the probes know
    /// (`-target bpf -D__TARGET_ARCH_x86` / `_arm64`, objects in target/xtask/), then
    /// compiles ebpf/tests/syscall_numbers.c against that architecture's asm/unistd.h
    /// (/usr/include/x86_64-linux-gnu, and /usr/aarch64-linux-gnu/include from Debian's
    /// linux-libc-dev-arm64-cross): a number in ebpf/include/bf_syscalls.h that is not the
    /// kernel's fails the build. No root needed.
    ProbeArches,
    /// Print the fixture image references, or build and push them again.
    Images(images::Args),
    /// Show or stop the services (dockerd, registry, CRI containerd) that xtask started and left running.
    Services(services::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Provision(args) => provision::main(&args),
        Command::Test(args) => test::main(&args),
        Command::Demo(args) => demo::demo(&args),
        Command::Bench(args) => bench::main(&args),
        Command::Fuzz(args) => fuzz::main(&args),
        Command::Fixtures(args) => demo::fixtures(&args),
        Command::ProbeArches => probe_arches::check(),
        Command::Images(args) => images::main(&args),
        Command::Services(args) => services::main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e:#}");
            ExitCode::FAILURE
        }
    }
}
