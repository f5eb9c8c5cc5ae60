use std::io::{IsTerminal as _, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use beefine_schema::Session;
use beefine_viewer::app::{ScreenshotOutcome, StartOptions, ViewerApp};
use beefine_viewer::cli::{Cli, Command, DiffFormat, ExportFormat};
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
            for n in &info.notes {
                eprintln!("beefine-view: {n}");
            }
            for e in &info.errors {
                eprintln!("beefine-view: {e}");
            }
            Ok(if info.damaged() {
                ExitCode::from(DAMAGED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Command::Recover { file }) => run_recover(&file),
        Some(Command::Export {
            file,
            format,
            output,
        }) => run_export(&file, format, output.as_deref()),
        Some(Command::Redact {
            input,
            output,
            keep,
            force,
        }) => {
            let keep: Vec<_> = keep.iter().map(|k| k.category()).collect();
            let report = beefine_viewer::redact::redact(&input, &output, &keep, force)?;
            print!("{}", report.text());
            println!(
                "wrote {}: {} events, {}",
                output.display(),
                report.events,
                beefine_schema::format::bytes(report.file_bytes)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Chapters { file, derive }) => {
            let session = Session::open(&file)?;
            let chapters = beefine_viewer::story::chapters_of(&session, derive)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            beefine_viewer::story::write_chapters(&chapters, &mut out)
                .context("writing to standard output")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::State {
            file,
            at,
            container,
        }) => {
            let session = Session::open(&file)?;
            let json = beefine_viewer::story::state_json(&session, at, container.as_deref())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")
                .and_then(|()| out.flush())
                .context("writing to standard output")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Diff {
            a,
            b,
            format,
            container_a,
            container_b,
            all,
        }) => {
            let c = beefine_viewer::diff::diff_files(
                &a,
                &b,
                container_a.as_deref(),
                container_b.as_deref(),
            )?;
            let text = match format {
                DiffFormat::Text => beefine_viewer::diff::diff_text(&c.diff, all),
                DiffFormat::Json => serde_json::to_string_pretty(&c.diff)? + "\n",
            };
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(anyhow::Error::new(e).context("writing to standard output"));
                }
                _ => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        None => run_window(cli),
    }
}

/// `export`: writes the session in `format` to `output` (standard output without one).
fn run_export(
    file: &Path,
    format: ExportFormat,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let session = Session::open(file)?;
    if output.is_none() && format.is_binary() && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the {format:?} format is binary: write it to a file with -o FILE (or redirect the \
             output)"
        );
    }
    let mut w: std::io::BufWriter<Box<dyn Write>> = match output {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            std::io::BufWriter::with_capacity(1 << 20, Box::new(f))
        }
        None => std::io::BufWriter::with_capacity(1 << 20, Box::new(std::io::stdout().lock())),
    };
    let summary = match format {
        ExportFormat::Jsonl => export::export_jsonl(&session, &mut w)?,
        ExportFormat::Perfetto => {
            let s = export::perfetto::export_perfetto(&session, &[], &mut w)?;
            if let Some(path) = output {
                eprintln!(
                    "beefine-view: wrote {}: {} events as {} packets on {} tracks, {}",
                    path.display(),
                    s.export.events,
                    s.packets,
                    s.tracks,
                    beefine_schema::format::bytes(s.bytes)
                );
            }
            s.export
        }
        ExportFormat::Pcapng => {
            let s = export::pcapng::export_pcapng(&session, &mut w)?;
            if let Some(path) = output {
                eprintln!(
                    "beefine-view: wrote {}: {} packets on {} interface(s), {} with their \
                     payload cut at {} bytes, {}",
                    path.display(),
                    s.packets,
                    s.interfaces,
                    s.truncated,
                    export::pcapng::RECORDER_PAYLOAD_BYTES,
                    beefine_schema::format::bytes(s.bytes)
                );
            }
            s.export
        }
    };
    for n in session.notes() {
        eprintln!("beefine-view: {n}");
    }
    for e in &summary.errors {
        eprintln!("beefine-view: {e}");
    }
    let damaged = summary.errors.len() + session.notes().len();
    if damaged == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "beefine-view: {damaged} part(s) of {} are damaged; the other {} events were \
             exported",
            file.display(),
            summary.events
        );
        Ok(ExitCode::from(DAMAGED))
    }
}

/// `recover`: folds back what a recorder that died left beside the file.
fn run_recover(file: &Path) -> anyhow::Result<ExitCode> {
    let done = beefine_schema::recover(file)?;
    let mut said = Vec::new();
    if done.wal_bytes > 0 {
        said.push(format!(
            "folded {} of -wal back into it",
            beefine_schema::format::bytes(done.wal_bytes)
        ));
    }
    if done.removed_lock {
        said.push("removed the stale -lock of a recorder that died".to_owned());
    }
    let session = Session::open(file)?;
    eprintln!(
        "beefine-view: {}: {}; {} (status: {})",
        file.display(),
        if said.is_empty() {
            "nothing to recover".to_owned()
        } else {
            said.join(", ")
        },
        info::journal_text(&session),
        session.status().name()
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens the window; with `--screenshot`, saves a picture of it and exits.
fn run_window(cli: Cli) -> anyhow::Result<ExitCode> {
    let result = ScreenshotOutcome::default();
    let screenshot = cli.screenshot.clone();
    let (w, h) = cli.size;
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("beefine-view")
        .with_app_id("beefine-view")
        .with_inner_size([w, h])
        .with_min_inner_size([640.0, 400.0])
        .with_drag_and_drop(true);
    if screenshot.is_some() {
        // The picture has exactly the size asked for.
        viewport = viewport.with_resizable(false);
    }
    let mut options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..eframe::NativeOptions::default()
    };
    if screenshot.is_some() {
        // Screenshots do not read or write the remembered layout.
        options.persist_window = false;
        options.persistence_path = Some(std::env::temp_dir().join(format!(
            "beefine-view-screenshot-{}.ron",
            std::process::id()
        )));
    }
    let kinds = match &cli.kinds {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    beefine_schema::Kind::from_name(n.trim()).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--kinds: {n:?} is not a kind; the kinds are {}",
                            info::kind_names()
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
    };
    let start = StartOptions {
        path: cli.file,
        at_seconds: cli.at,
        kinds,
        compare: cli.compare,
        fresh: screenshot.is_some(),
        screenshot: screenshot.clone(),
        screenshot_result: Some(result.clone()),
        blocking: false,
    };
    eframe::run_native(
        "beefine-view",
        options,
        Box::new(move |cc| Ok(Box::new(ViewerApp::new(cc, start)))),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open a window: {e}. Without a display, `info` and `export` work; a \
             screenshot works under Xvfb (xvfb-run -a -s '-screen 0 1600x900x24' …)"
        )
    })?;
    if let Some(out) = screenshot {
        let outcome = result.lock().ok().and_then(|r| r.clone());
        match outcome {
            Some(Ok(())) => eprintln!("beefine-view: saved {}", out.display()),
            Some(Err(e)) => anyhow::bail!(e),
            None => anyhow::bail!("the window closed before the screenshot was taken"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
