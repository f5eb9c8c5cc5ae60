//! `beefine-view diff A B`: two sessions of the same image compared, as text or JSON. The
//! comparison itself is `beefine_schema::compare`; this is how it is read.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use beefine_schema::Session;
use beefine_schema::compare::{self, CallCount, Diff, MountSide, Pick, Side};
use beefine_schema::format::{duration, ellipsize, short_id, thousands};

/// Calls listed per side in the text when not asked for all.
pub const TEXT_CALLS: usize = 40;

/// A comparison with what it took.
#[derive(Debug)]
pub struct Compared {
    pub diff: Diff,
    pub elapsed: Duration,
}

/// Compares the sessions at `a` and `b` (containers picked by `container_a` and
/// `container_b`, else B's of the image of A's).
pub fn diff_files(
    a: &Path,
    b: &Path,
    container_a: Option<&str>,
    container_b: Option<&str>,
) -> anyhow::Result<Compared> {
    let started = Instant::now();
    let sa = Session::open(a)?;
    let sb = Session::open(b)?;
    let da = compare::digest(
        &sa,
        &Pick {
            container: container_a,
            image: None,
        },
    )
    .with_context(|| format!("reading {}", a.display()))?;
    let db = compare::digest(
        &sb,
        &Pick {
            container: container_b,
            image: da.side.image.as_deref(),
        },
    )
    .with_context(|| format!("reading {}", b.display()))?;
    Ok(Compared {
        diff: compare::compare(&da, &db),
        elapsed: started.elapsed(),
    })
}

fn side_line(label: &str, s: &Side, out: &mut String) {
    let _ = write!(
        out,
        "{label}  {}  {}, {} events",
        s.session_name,
        duration(s.duration_nanos),
        thousands(s.events)
    );
    match (&s.container_id, &s.container_name) {
        (Some(id), Some(name)) => {
            let _ = write!(out, "; container {name} ({})", short_id(id));
            if let Some(img) = &s.image {
                let _ = write!(out, " of {}", ellipsize(img, 48));
            }
        }
        _ => out.push_str("; no container"),
    }
    out.push('\n');
    if !s.command.is_empty() {
        let _ = writeln!(out, "   recorded: {}", ellipsize(&s.command.join(" "), 100));
    }
    if s.damaged_chunks > 0 {
        let _ = writeln!(
            out,
            "   {} damaged chunk(s): their events are not compared",
            s.damaged_chunks
        );
    }
}

fn signed(delta: i128) -> String {
    let sign = if delta < 0 { "−" } else { "+" };
    format!(
        "{sign}{}",
        duration(delta.unsigned_abs().min(u128::from(u64::MAX)) as u64)
    )
}

fn chapters_text(d: &Diff, out: &mut String) {
    if d.chapters.is_empty() {
        out.push_str("\nChapters: none on either side\n");
        return;
    }
    let _ = writeln!(
        out,
        "\nChapters, aligned{:>42}{:>14}{:>14}",
        "A", "B", "B − A"
    );
    for r in &d.chapters {
        let side = r.a.as_ref().or(r.b.as_ref());
        let Some(s) = side else { continue };
        let title = ellipsize(&beefine_schema::format::shorten_ids(&s.title), 44);
        let dur = |x: &Option<compare::ChapterSide>| {
            x.as_ref()
                .map_or_else(|| "—".to_owned(), |c| duration(c.duration_nanos))
        };
        let delta = r.delta_nanos().map_or_else(
            || {
                if r.a.is_none() {
                    "only in B"
                } else {
                    "only in A"
                }
                .to_owned()
            },
            signed,
        );
        let _ = writeln!(
            out,
            "  {:<11}{title:<46}{:>14}{:>14}{:>14}",
            s.chapter.name(),
            dur(&r.a),
            dur(&r.b),
            delta
        );
    }
}

fn mount_text(m: &MountSide) -> String {
    let mut s = format!("{} {} {}", m.fstype, m.source, m.options);
    if !m.super_options.is_empty() {
        let _ = write!(s, " ({})", ellipsize(&m.super_options, 60));
    }
    s
}

fn state_text(d: &Diff, out: &mut String) {
    let when = |s: &Side| {
        s.state_offset_nanos
            .map_or_else(|| "—".to_owned(), |t| format!("{:.3} s", t as f64 / 1e9))
    };
    let _ = writeln!(
        out,
        "\nThe container while it runs (A at {}, B at {})",
        when(&d.a),
        when(&d.b)
    );
    if d.namespaces.is_empty() {
        out.push_str("  namespaces: the same types its own and shared\n");
    }
    for n in &d.namespaces {
        let _ = writeln!(out, "  {:<7} namespace  {} → {}", n.ns_type, n.a, n.b);
    }
    if let Some(note) = &d.mounts_note {
        let _ = writeln!(out, "  {note}");
    } else if d.mounts.is_empty() {
        out.push_str("  mounts: the same table\n");
    }
    for m in &d.mounts {
        match (&m.a, &m.b) {
            (Some(a), Some(b)) => {
                let _ = writeln!(
                    out,
                    "  ~ {}  {}\n      → {}",
                    m.mount_point,
                    mount_text(a),
                    mount_text(b)
                );
            }
            (Some(a), None) => {
                let _ = writeln!(out, "  - {}  {}  (only in A)", m.mount_point, mount_text(a));
            }
            (None, Some(b)) => {
                let _ = writeln!(out, "  + {}  {}  (only in B)", m.mount_point, mount_text(b));
            }
            (None, None) => {}
        }
    }
    if !d.settings.is_empty() {
        out.push_str("\nSettings the runtime reports\n");
    }
    for s in &d.settings {
        let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "not set".to_owned());
        let _ = writeln!(out, "  {:<28} {} → {}", s.key, v(&s.a), v(&s.b));
    }
}

fn call_line(c: &CallCount, out: &mut String) {
    let _ = write!(
        out,
        "  {:<14}{:<15}{:<16}",
        c.kind.name(),
        c.role,
        ellipsize(&c.comm, 15)
    );
    out.push_str(&ellipsize(&c.args, 110));
    if !c.outcome.is_empty() {
        let _ = write!(out, "  → {}", c.outcome);
    }
    let _ = writeln!(out, "  ×{}", c.count);
}

fn calls_text(
    label: &str,
    calls: &[CallCount],
    distinct: usize,
    events: u64,
    limit: usize,
    out: &mut String,
) {
    let _ = writeln!(
        out,
        "\nCalls only in {label}: {} distinct, {} events",
        thousands(distinct as u64),
        thousands(events)
    );
    for c in calls.iter().take(limit) {
        call_line(c, out);
    }
    if distinct > limit.min(calls.len()) {
        let _ = writeln!(
            out,
            "  … {} more (--all lists them, --format json has them all)",
            thousands((distinct - limit.min(calls.len())) as u64)
        );
    }
}

/// The diff as people read it; `all` lists every call instead of the first
/// [`TEXT_CALLS`] per side.
pub fn diff_text(d: &Diff, all: bool) -> String {
    let mut out = String::new();
    side_line("A", &d.a, &mut out);
    side_line("B", &d.b, &mut out);
    out.push_str("\nB compared with A:\n");
    if d.headlines.is_empty() {
        out.push_str("  nothing differs but timing\n");
    }
    for h in &d.headlines {
        let _ = writeln!(out, "  • {h}");
    }
    chapters_text(d, &mut out);
    state_text(d, &mut out);
    let limit = if all { usize::MAX } else { TEXT_CALLS };
    let c = &d.calls;
    calls_text(
        "A",
        &c.only_a,
        c.only_a_distinct,
        c.only_a_events,
        limit,
        &mut out,
    );
    calls_text(
        "B",
        &c.only_b,
        c.only_b_distinct,
        c.only_b_events,
        limit,
        &mut out,
    );
    let _ = writeln!(
        out,
        "\n{} distinct calls both make (kind, process role and name, arguments without pids, \
         ids, descriptors, times and random names, outcome)",
        thousands(c.shared_distinct as u64)
    );
    if c.uncounted_a + c.uncounted_b > 0 {
        let _ = writeln!(
            out,
            "not compared: {} events of A and {} of B past {} distinct calls",
            thousands(c.uncounted_a),
            thousands(c.uncounted_b),
            thousands(compare::MAX_CALL_KEYS as u64)
        );
    }
    out
}
