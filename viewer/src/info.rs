//! `beefine-view info`: a summary of a session for a terminal.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;

use beefine_schema::{Error, Journal, Kind, Pod, Query, Session, Status};

use crate::containers::ContainerIndex;
use crate::format;

/// What `info` found out, with the damage it met on the way.
#[derive(Debug)]
pub struct Info {
    pub text: String,
    /// Chunks that could not be read while counting events per container.
    pub errors: Vec<Error>,
    /// Damage found when the file was opened (and how it was read all the same).
    pub notes: Vec<String>,
}

impl Info {
    /// Whether any part of the file could not be read.
    pub fn damaged(&self) -> bool {
        !self.errors.is_empty() || !self.notes.is_empty()
    }
}

/// What the file's write-ahead log means for whoever holds the file, in words.
pub fn journal_text(session: &Session) -> String {
    let path = session.path().display();
    match session.journal() {
        Journal::SelfContained => "self-contained (nothing beside it is needed)".to_owned(),
        Journal::Writing => "being written: the newest commits are in its -wal until they \
             are checkpointed (within about a second)"
            .to_owned(),
        Journal::FoldedBack { wal_bytes } => format!(
            "the -wal its recorder left ({}) was folded back into it: it travels alone now",
            format::bytes(*wal_bytes)
        ),
        Journal::WalBeside { wal_bytes } => format!(
            "its recorder left a -wal of {} beside it, read from there: copy both files, or \
             fold it in with `beefine-view recover {path}` where the file can be written",
            format::bytes(*wal_bytes)
        ),
        Journal::WalMissing => "its -wal is missing (copied without it?): what the recorder \
             committed after its last checkpoint, at most about a second, is not in this file"
            .to_owned(),
        Journal::Salvaged => "damaged: read by scanning its pages (see below)".to_owned(),
    }
}

/// The sum of counts read from a file: saturating, they are anyone's numbers.
fn total_of(counts: &[(Kind, u64)]) -> u64 {
    counts
        .iter()
        .fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
}

/// Summarises a session: what it is, its state, how long it is, what it holds.
pub fn session_info(session: &Session) -> anyhow::Result<Info> {
    let containers = ContainerIndex::new(session.containers()?);
    // One pass over the events: per-container counts, and a check that every chunk reads.
    let mut per_container = vec![0u64; containers.len()];
    let mut scanned = 0u64;
    let scan = session.scan(&Query::all(), |e| {
        scanned += 1;
        if let Some(i) = containers.for_event(&e) {
            per_container[i] += 1;
        }
        ControlFlow::Continue(())
    })?;
    let mut t = String::new();
    overview(&mut t, session, scanned)?;
    containers_section(&mut t, session, &containers, &per_container);
    let start = session.meta().info.start_ts_nanos;
    pods_info(&mut t, &session.pods()?, &containers, &per_container, start);
    images_section(&mut t, session)?;
    probes_section(&mut t, session)?;
    bookmarks_section(&mut t, session)?;
    kinds_section(&mut t, session)?;
    let notes = session.notes().to_vec();
    if !scan.errors.is_empty() || !notes.is_empty() {
        let _ = writeln!(
            t,
            "\ndamage       {} part(s) unreadable",
            scan.errors.len() + notes.len()
        );
        for n in &notes {
            let _ = writeln!(t, "  {n}");
        }
        for e in &scan.errors {
            let _ = writeln!(t, "  {e}");
        }
        let _ = writeln!(
            t,
            "  `beefine-view export` writes every event that could be read ({} here)",
            format::thousands(scanned)
        );
    }
    Ok(Info {
        text: t,
        errors: scan.errors,
        notes,
    })
}

fn row(t: &mut String, label: &str, value: &str) {
    let _ = writeln!(t, "{label:<12} {value}");
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "?" } else { s }
}

/// Session, file, status, command, where and when it was recorded, duration, events, losses.
fn overview(t: &mut String, session: &Session, scanned: u64) -> anyhow::Result<()> {
    let meta = session.meta();
    let info = &meta.info;
    let start = info.start_ts_nanos;
    let events_span = session.time_span()?;
    let end = meta.end_ts_nanos.or(events_span.map(|(_, hi)| hi));
    let total = total_of(&session.kind_counts()?);
    let file_bytes = session.file_bytes();
    row(t, "session", &info.session_name);
    row(t, "file", &session.path().display().to_string());
    let status = match (session.status(), meta.writer_pid) {
        (Status::Live, Some(pid)) => format!("live (recorder pid {pid})"),
        (s, _) => s.name().to_owned(),
    };
    row(t, "status", &status);
    row(t, "journal", &journal_text(session));
    if !info.command.is_empty() {
        row(t, "command", &info.command.join(" "));
    }
    row(
        t,
        "recorded",
        &format!(
            "{} on {} (Linux {}), beefine {}, format {}",
            format::wall_clock(
                info.clock_offset_nanos
                    .saturating_add(i64::try_from(start).unwrap_or(i64::MAX))
            ),
            or_unknown(&info.hostname),
            or_unknown(&info.host_kernel),
            or_unknown(&info.tool_version),
            meta.format_version
        ),
    );
    row(
        t,
        "duration",
        &match end {
            Some(_) => {
                let (lo, hi) = format::session_span(start, meta.end_ts_nanos, events_span);
                format::duration(hi - lo)
            }
            None => "no events yet".to_owned(),
        },
    );
    let per_event = if total > 0 {
        format!(", {:.2} B/event", file_bytes as f64 / total as f64)
    } else {
        String::new()
    };
    row(
        t,
        "events",
        &format!(
            "{} in {} ({}{per_event})",
            if total == u64::MAX {
                "more than 18 quintillion (the counts in the file are not plausible)".to_owned()
            } else {
                format::thousands(total)
            },
            format::bytes(file_bytes),
            if scanned == total {
                "all readable".to_owned()
            } else {
                format!("{} readable", format::thousands(scanned))
            }
        ),
    );
    row(t, "lost", &losses_text(session)?);
    row(
        t,
        "processes",
        &format::thousands(session.processes()?.len() as u64),
    );
    Ok(())
}

fn losses_text(session: &Session) -> anyhow::Result<String> {
    let lost = session.lost_events()?;
    let losses = session.losses()?;
    if lost == 0 && losses.is_empty() {
        return Ok("0 (nothing was dropped)".to_owned());
    }
    let mut by_source: HashMap<&str, (u64, usize)> = HashMap::new();
    for l in &losses {
        let e = by_source.entry(l.source.name()).or_default();
        e.0 = e.0.saturating_add(l.count);
        e.1 += 1;
    }
    let mut parts: Vec<String> = by_source
        .into_iter()
        .map(|(src, (n, spans))| format!("{} from {src} in {spans} span(s)", format::thousands(n)))
        .collect();
    parts.sort();
    Ok(format!(
        "{} events: {}",
        format::thousands(lost),
        parts.join(", ")
    ))
}

fn containers_section(
    t: &mut String,
    session: &Session,
    containers: &ContainerIndex,
    per_container: &[u64],
) {
    let start = session.meta().info.start_ts_nanos;
    let _ = writeln!(t, "\ncontainers   {}", containers.len());
    for (c, n) in containers.containers().iter().zip(per_container) {
        let rel = |ts: Option<u64>| ts.map(|ts| format::offset_from(ts, start));
        let mut life = Vec::new();
        if let Some(s) = rel(c.created_ts_nanos) {
            life.push(format!("created {s}"));
        }
        if let Some(s) = rel(c.started_ts_nanos) {
            life.push(format!("started {s}"));
        }
        if let Some(s) = rel(c.died_ts_nanos) {
            let code = c
                .exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            life.push(format!("died {s}{code}"));
        }
        let _ = writeln!(
            t,
            "  {:<12}  {:<20}  {:<36}  {:>9} events  {}",
            c.short_id(),
            format::ellipsize(&c.name, 20),
            format::ellipsize(&c.image, 36),
            format::thousands(*n),
            life.join(", ")
        );
    }
}

/// The pods: name, IP, sandbox, lifetime, and each container with the namespaces it shares
/// with the sandbox.
fn pods_info(
    t: &mut String,
    pods: &[Pod],
    containers: &ContainerIndex,
    per_container: &[u64],
    start: u64,
) {
    if pods.is_empty() {
        return;
    }
    let rel = |ts: Option<u64>| ts.map(|ts| format::offset_from(ts, start));
    let _ = writeln!(t, "\npods         {}", pods.len());
    for p in pods {
        let mut life = Vec::new();
        if let Some(s) = rel(p.created_ts_nanos) {
            life.push(format!("created {s}"));
        }
        if let Some(s) = rel(p.stopped_ts_nanos) {
            life.push(format!("stopped {s}"));
        }
        if let Some(s) = rel(p.removed_ts_nanos) {
            life.push(format!("removed {s}"));
        }
        let _ = writeln!(
            t,
            "  {:<12}  {:<33}  {:<15}  {}",
            format::short_id(&p.pod_id),
            format::ellipsize(&p.full_name(), 33),
            p.ip.as_deref().unwrap_or("no IP"),
            life.join(", ")
        );
        let members = containers
            .containers()
            .iter()
            .zip(per_container)
            .filter(|(c, _)| c.pod_id.as_deref() == Some(p.pod_id.as_str()));
        for (c, n) in members {
            let shared: Vec<&str> = ["net", "ipc", "uts", "pid", "mnt"]
                .into_iter()
                .filter(|k| {
                    !c.is_sandbox() && c.namespace(k).is_some_and(|v| p.namespace(k) == Some(v))
                })
                .collect();
            let role = if c.is_sandbox() {
                "sandbox: holds the pod's namespaces".to_owned()
            } else if shared.is_empty() {
                "shares no namespace known".to_owned()
            } else {
                format!("shares {} with the sandbox", shared.join(", "))
            };
            let _ = writeln!(
                t,
                "    {:<12}  {:<20}  {:>9} events  {role}",
                c.short_id(),
                format::ellipsize(&c.name, 20),
                format::thousands(*n),
            );
        }
    }
}

fn images_section(t: &mut String, session: &Session) -> anyhow::Result<()> {
    let images = session.images()?;
    if images.is_empty() {
        return Ok(());
    }
    let _ = writeln!(t, "\nimages       {}", images.len());
    for i in &images {
        let _ = writeln!(
            t,
            "  {:<12}  {:<40}  {:>10}{}",
            format::short_id(&i.image_id),
            format::ellipsize(&i.reference, 40),
            format::bytes(i.size_bytes),
            if i.existed_before {
                "  (present before)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn probes_section(t: &mut String, session: &Session) -> anyhow::Result<()> {
    let probes: Vec<_> = session
        .probes()?
        .into_iter()
        .filter(|p| !p.builtin)
        .collect();
    if probes.is_empty() {
        return Ok(());
    }
    let _ = writeln!(t, "\nuser probes  {}", probes.len());
    for p in &probes {
        let _ = writeln!(
            t,
            "  {:<4} {:<24} {}",
            p.probe_id,
            p.name,
            p.programs
                .iter()
                .map(|(_, at)| at.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn bookmarks_section(t: &mut String, session: &Session) -> anyhow::Result<()> {
    let bookmarks = session.bookmarks()?;
    if bookmarks.is_empty() {
        return Ok(());
    }
    let start = session.meta().info.start_ts_nanos;
    let _ = writeln!(t, "\nbookmarks    {}", bookmarks.len());
    for b in &bookmarks {
        let _ = writeln!(
            t,
            "  {:>12}  {}",
            format::offset_from(b.ts_nanos, start),
            b.label
        );
    }
    Ok(())
}

fn kinds_section(t: &mut String, session: &Session) -> anyhow::Result<()> {
    let mut counts = session.kind_counts()?;
    let total = total_of(&counts);
    let _ = writeln!(t, "\nevents by kind");
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let width = counts
        .first()
        .map_or(1, |(_, n)| format::thousands(*n).len());
    for (kind, n) in counts {
        let share = if total > 0 {
            100.0 * n as f64 / total as f64
        } else {
            0.0
        };
        let _ = writeln!(
            t,
            "  {:<16} {:>width$}  {share:5.1} %  {}",
            kind.name(),
            format::thousands(n),
            kind.family().name()
        );
    }
    Ok(())
}

/// Kinds in display order for help texts.
pub fn kind_names() -> String {
    Kind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}
