//! `beefine-view redact IN OUT`: a copy of a session that is safe to share, with a report
//! of what was replaced.
//!
//! The copy is written by the session writer like any recording (so it is a complete
//! session of the current format) from two passes over the input: the first runs every
//! rule and learns the values to hide (a password on a command line, a hostname, a user's
//! home directory), the second writes every string through the rules and replaces those
//! values wherever else they appear. Events keep their kinds, times, processes, results and
//! containers; the story they tell is the same. The rules are in [`rules`], the walk over a
//! session's strings here and in [`entities`].

mod entities;
pub mod rules;

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::{Context as _, bail};
use beefine_schema::{
    Event, EventData, EventHeader, Kind, Query, Session, SessionWriter, SockAddr, Str,
    WriterOptions, remove_session_file,
};

use self::entities::Entities;
pub use self::rules::{Category, Rules};

/// What a redaction replaced.
#[derive(Debug)]
pub struct RedactReport {
    /// Values replaced, per category.
    pub replaced: Vec<(Category, u64)>,
    /// Distinct values found, per category.
    pub distinct: Vec<(Category, usize)>,
    pub kept: Vec<Category>,
    pub events: u64,
    pub file_bytes: u64,
}

impl RedactReport {
    /// The report as people read it.
    pub fn text(&self) -> String {
        let mut s = String::from("replaced      values  distinct\n");
        for ((c, n), (_, d)) in self.replaced.iter().zip(&self.distinct) {
            let note = if self.kept.contains(c) {
                "  (kept)"
            } else {
                ""
            };
            s.push_str(&format!("  {:<13} {n:>6}  {d:>8}{note}\n", c.name()));
        }
        s
    }

    /// The report as stored in the copy's `redaction` metadata.
    pub fn json(&self) -> String {
        let map = |v: &[(Category, u64)]| {
            v.iter()
                .map(|(c, n)| (c.name().to_owned(), serde_json::Value::from(*n)))
                .collect::<serde_json::Map<_, _>>()
        };
        let distinct: Vec<(Category, u64)> =
            self.distinct.iter().map(|(c, n)| (*c, *n as u64)).collect();
        serde_json::json!({
            "tool": format!("beefine-view {}", env!("CARGO_PKG_VERSION")),
            "replaced": map(&self.replaced),
            "distinct": map(&distinct),
            "kept": self.kept.iter().map(|c| c.name()).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// The copy of one event: every string through the rules (the value after a secret flag
/// is a secret), addresses replaced, payloads and probe records zeroed.
pub fn event(rules: &mut Rules, e: &Event<&str>) -> Event {
    let mut secret_next = false;
    let Ok(mut data) = e.data.try_map_strings(&mut |s: &&str| {
        let r = if secret_next {
            rules.secret(s)
        } else {
            rules.text(s).into_owned()
        };
        secret_next = rules::is_secret_flag(s);
        Ok::<Str, Infallible>(Str::from(r))
    });
    match &mut data {
        EventData::Packet(p) => {
            p.saddr = rules.ip(p.saddr);
            p.daddr = rules.ip(p.daddr);
            rules.zero(&mut p.payload, Category::Payload);
        }
        EventData::TcpState(t) => {
            t.saddr = rules.ip(t.saddr);
            t.daddr = rules.ip(t.daddr);
        }
        EventData::Bind(a)
        | EventData::Connect(a)
        | EventData::Accept(a)
        | EventData::Accept4(a) => {
            if let SockAddr::Inet { ip, .. } = &mut a.addr {
                *ip = rules.ip(*ip);
            }
        }
        EventData::Custom(c) => rules.zero(&mut c.bytes, Category::ProbeRecords),
        _ => {}
    }
    let h = &e.header;
    Event {
        header: EventHeader {
            ts_nanos: h.ts_nanos,
            pid: h.pid,
            tgid: h.tgid,
            comm: Str::from(rules.text(h.comm).as_ref()),
            cgroup_id: h.cgroup_id,
            ns: h.ns,
        },
        result: e.result,
        data,
    }
}

/// Runs `f` on every event of `session`; a damaged chunk stops the copy.
fn each_event(
    session: &Session,
    mut f: impl FnMut(&Event<&str>) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut n = 0u64;
    let mut failed = None;
    let scan = session.scan(&Query::all(), |e| match f(&e) {
        Ok(()) => {
            n += 1;
            ControlFlow::Continue(())
        }
        Err(err) => {
            failed = Some(err);
            ControlFlow::Break(())
        }
    })?;
    if let Some(err) = failed {
        return Err(err);
    }
    if let Some(e) = scan.errors.first() {
        bail!(
            "{} part(s) of {} are damaged ({e}): a copy would not tell the whole story",
            scan.errors.len(),
            session.path().display()
        );
    }
    Ok(n)
}

/// Writes a redacted copy of `input` to `output`, keeping the categories in `keep`.
pub fn redact(
    input: &Path,
    output: &Path,
    keep: &[Category],
    overwrite: bool,
) -> anyhow::Result<RedactReport> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        bail!("the copy must go to another file than {}", input.display());
    }
    if output.exists() && !overwrite {
        bail!("{} exists: give --force to replace it", output.display());
    }
    let session = Session::open(input)?;
    let source = Entities::read(&session)?;
    let mut rules = Rules::new(keep);
    // First pass: learn what to hide.
    source.redacted(&mut rules);
    each_event(&session, |e| {
        event(&mut rules, e);
        Ok(())
    })?;
    rules.freeze();
    let result = write_copy(&session, &source, &mut rules, output);
    if result.is_err() {
        let _ = remove_session_file(output);
    }
    let (events, file_bytes) = result?;
    let mut kept = keep.to_vec();
    kept.sort();
    kept.dedup();
    let report = RedactReport {
        replaced: rules.counts(),
        distinct: rules.distinct(),
        kept,
        events,
        file_bytes,
    };
    check_copy(&session, output)?;
    Ok(report)
}

fn write_copy(
    session: &Session,
    source: &Entities,
    rules: &mut Rules,
    output: &Path,
) -> anyhow::Result<(u64, u64)> {
    let copy = source.redacted(rules);
    let mut w = SessionWriter::create(
        output,
        &copy.info,
        WriterOptions {
            overwrite: true,
            ..WriterOptions::default()
        },
    )
    .with_context(|| format!("creating {}", output.display()))?;
    copy.write(&mut w)?;
    let events = each_event(session, |e| {
        w.push(event(rules, e))?;
        Ok(())
    })?;
    // The counts of the second pass are the report.
    let report = RedactReport {
        replaced: rules.counts(),
        distinct: rules.distinct(),
        kept: Category::ALL
            .into_iter()
            .filter(|c| !rules.applies(*c))
            .collect(),
        events,
        file_bytes: 0,
    };
    w.set_meta("redaction", &report.json())?;
    let summary = w.finish(session.meta().end_ts_nanos)?;
    Ok((events, summary.file_bytes))
}

/// The copy opens and holds the same events by kind, and the same containers.
fn check_copy(source: &Session, output: &Path) -> anyhow::Result<()> {
    let copy = Session::open(output).with_context(|| format!("reopening {}", output.display()))?;
    let counts = |s: &Session| -> anyhow::Result<Vec<(Kind, u64)>> {
        let mut v = s.kind_counts()?;
        v.retain(|(_, n)| *n > 0);
        v.sort();
        Ok(v)
    };
    if counts(source)? != counts(&copy)? {
        bail!("the copy's events by kind differ from the session's");
    }
    let ids = |s: &Session| -> anyhow::Result<Vec<String>> {
        let mut v: Vec<String> = s
            .containers()?
            .into_iter()
            .map(|c| c.container_id)
            .collect();
        v.sort();
        Ok(v)
    };
    if ids(source)? != ids(&copy)? {
        bail!("the copy's containers differ from the session's");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
