//! The live status line and the summary printed at the end.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use beefine_schema::{Kind, WriteSummary};

use crate::stats::Stats;

/// Counts and sizes are written as the viewer writes them (`12,345`, `1.50 KiB`).
pub use beefine_schema::format::{bytes, thousands};

fn file_bytes(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(path).map_or(0, |m| m.len()) + std::fs::metadata(&wal).map_or(0, |m| m.len())
}

/// Redraws the status line once a second until the task is aborted.
pub async fn status_line(name: String, path: std::path::PathBuf, stats: Arc<Stats>) {
    let start = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let events = stats.events.load(Ordering::Relaxed);
        let rate = (events - last.1) as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
        last = (Instant::now(), events);
        let line = format!(
            "\r\x1b[2K\x1b[1;31m●\x1b[0m recording {name}  {:.1} s  {} events  {}/s  lost {}  {}  {} containers",
            start.elapsed().as_secs_f64(),
            thousands(events),
            thousands(rate as u64),
            thousands(stats.lost.load(Ordering::Relaxed)),
            bytes(file_bytes(&path)),
            stats.containers.load(Ordering::Relaxed),
        );
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
}

/// Clears the status line.
pub fn clear_line() {
    let mut err = std::io::stderr();
    let _ = err.write_all(b"\r\x1b[2K");
    let _ = err.flush();
}

/// The end-of-recording summary.
pub fn summary(
    path: &Path,
    duration: Duration,
    span: (u64, u64),
    s: &WriteSummary,
    stats: &Stats,
    cpu: crate::stats::Cpu,
) -> String {
    let mut out = String::new();
    let lost = stats.lost.load(Ordering::Relaxed);
    out.push_str(&format!(
        "Recorded {} events over a {} session ({:.1} s with loading and finishing) into {} ({}, {:.1} bytes/event)\n",
        thousands(s.events),
        beefine_schema::format::duration(span.1 - span.0),
        duration.as_secs_f64(),
        path.display(),
        bytes(s.file_bytes),
        if s.events > 0 {
            s.file_bytes as f64 / s.events as f64
        } else {
            0.0
        },
    ));
    let mut counts = s.kind_counts.clone();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let line: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{} {}", Kind::name(*k), thousands(*n)))
        .collect();
    out.push_str(&format!("  by kind: {}\n", line.join(", ")));
    out.push_str(&format!(
        "  containers seen: {}   lost events: {}{}\n",
        stats.containers.load(Ordering::Relaxed),
        thousands(lost),
        if lost > 0 {
            "  (see the losses table; try a larger --ring-mib)"
        } else {
            ""
        }
    ));
    let cpu_secs = (cpu.user_nanos + cpu.sys_nanos) as f64 / 1e9;
    out.push_str(&format!(
        "  recorder CPU: {cpu_secs:.2} s ({:.0}% of one core; user {:.2} s, system {:.2} s)\n",
        100.0 * cpu_secs / duration.as_secs_f64().max(1e-3),
        cpu.user_nanos as f64 / 1e9,
        cpu.sys_nanos as f64 / 1e9,
    ));
    let malformed = stats.malformed.load(Ordering::Relaxed);
    if malformed > 0 {
        out.push_str(&format!(
            "  malformed records: {malformed} (in the losses table as malformed)\n"
        ));
    }
    let stalls = stats.stalls.load(Ordering::Relaxed);
    if stalls > 0 {
        out.push_str(&format!(
            "  the recorder fell behind its writer {stalls} time(s) (spans of source recorder)\n"
        ));
    }
    if !s.self_contained {
        out.push_str(
            "  a reader kept an old snapshot of the file open to the end: its last commits are \
             still in the -wal beside it (the next viewer to open it folds them in)\n",
        );
    }
    out.push_str(&format!(
        "  open it with: beefine-view {}\n",
        path.display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_the_viewer_does() {
        assert_eq!(thousands(1234567), "1,234,567");
        // The same units as `beefine-view info` for the same file.
        assert_eq!(bytes(1_500_000), "1.43 MiB");
    }
}
