//! `beefine-record`: records the container stack with eBPF and the Docker API into a
//! session file. See `beefine-record --help`.
//!
//! The binary is a thin `main`; the modules are a library so that benchmarks measure the
//! same code (decoding and the session thread) without loading probes.

pub mod capture;
pub mod cgroups;
pub mod cli;
pub mod clock;
pub mod convert;
pub mod cri;
pub mod docker;
pub mod gate;
pub mod loader;
pub mod ownership;
pub mod preflight;
pub mod probe_cli;
pub mod probes;
pub mod record;
pub mod scope;
pub mod session;
pub mod stats;
pub mod status;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Parses the command line, runs, and returns the exit code (`beefine-record`'s `main`).
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Gate {
            as_user,
            socket,
            command,
        }) => gate::run_gate(&socket, as_user.as_deref(), &command).map(|n| match n {}),
        Some(Command::Probe(p)) => probe_cli::run(p),
        None => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(record::record(cli.record))),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("beefine-record: {}", report(&e));
            std::process::ExitCode::from(2)
        }
    }
}

/// The error with its causes, each said once (library errors often repeat their cause).
fn report(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        let bare = text
            .split_once("Error code ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map_or(text.as_str(), |(_, m)| m);
        if !out.contains(bare) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
