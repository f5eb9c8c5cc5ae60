use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use beefine_schema::Session;
use beefine_viewer::cli::{Cli, Command, ExportFormat};
use beefine_viewer::{export, info};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("beefine-view: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status when parts of a session were damaged and the rest was used.
const DAMAGED: u8 = 3;

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Info { file }) => {
            let session = Session::open(&file)?;
            let info = info::session_info(&session)?;
            let mut out = std::io::stdout().lock();
            out.write_all(info.text.as_bytes())
                .and_then(|()| out.flush())
                .context("writing to standard output")?;
            for e in &info.errors {
                eprintln!("beefine-view: {e}");
            }
            Ok(if info.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(DAMAGED)
            })
        }
        Some(Command::Export {
            file,
            format: ExportFormat::Jsonl,
            output,
        }) => {
            let session = Session::open(&file)?;
            let summary = match &output {
                Some(path) => {
                    let f = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                    export::export_jsonl(&session, &mut w)?
                }
                None => {
                    let mut w =
                        std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                    export::export_jsonl(&session, &mut w)?
                }
            };
            for e in &summary.errors {
                eprintln!("beefine-view: {e}");
            }
            if summary.errors.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "beefine-view: {} part(s) of {} are damaged; the other {} events were exported",
                    summary.errors.len(),
                    file.display(),
                    summary.events
                );
                Ok(ExitCode::from(DAMAGED))
            }
        }
        None => {
            anyhow::bail!("the viewer window is not built yet; use `info` or `export`")
        }
    }
}
