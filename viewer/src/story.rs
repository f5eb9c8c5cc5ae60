//! `beefine-view chapters` and `beefine-view state`: the story of a session without a
//! display (STORY.md describes their output).

use std::io::Write;

use anyhow::{Context as _, bail};
use beefine_schema::Session;
use beefine_schema::story::{Chapter, Story, StoryInput};
use serde::Serialize;

/// One line of `beefine-view chapters`.
#[derive(Debug, Serialize)]
struct ChapterLine<'a> {
    chapter: &'static str,
    title: &'a str,
    ts_nanos: u64,
    end_ts_nanos: u64,
    container_id: Option<&'a str>,
    events: u64,
    notice: &'a str,
}

/// The chapters of a session: the ones the recorder stored, else derived now (or always
/// derived with `derive`).
pub fn chapters_of(session: &Session, derive: bool) -> anyhow::Result<Vec<Chapter>> {
    if !derive && let Some(stored) = session.chapters()? {
        return Ok(stored);
    }
    Ok(derive_story(session)?.chapters)
}

/// The story of a session, derived from its events.
pub fn derive_story(session: &Session) -> anyhow::Result<Story> {
    let input = StoryInput::read(session)?;
    Story::derive(input, session, |_| {}).context("reading the session's events")
}

/// Writes the chapters as JSON lines (a reader that stops early, like `head`, is fine).
pub fn write_chapters(chapters: &[Chapter], out: &mut impl Write) -> anyhow::Result<()> {
    match write_lines(chapters, out) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn write_lines(chapters: &[Chapter], out: &mut impl Write) -> std::io::Result<()> {
    for c in chapters {
        let line = ChapterLine {
            chapter: c.chapter.name(),
            title: &c.title,
            ts_nanos: c.ts_nanos,
            end_ts_nanos: c.end_ts_nanos,
            container_id: c.container_id.as_deref(),
            events: c.events,
            notice: &c.notice,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The index of the container `wanted` names (a full id, a prefix of one, or a name), or
/// when none is given, the one alive at `ts` (else the first).
pub fn pick_container(story: &Story, wanted: Option<&str>, ts: u64) -> anyhow::Result<usize> {
    let containers = &story.input().containers;
    if containers.is_empty() {
        bail!("the session has no container");
    }
    let Some(w) = wanted else {
        let alive = containers.iter().position(|c| {
            c.created_ts_nanos
                .or(c.started_ts_nanos)
                .is_none_or(|t| t <= ts)
                && c.destroyed_ts_nanos.is_none_or(|t| ts <= t)
        });
        return Ok(alive.unwrap_or(0));
    };
    let w = w.trim().trim_start_matches('/');
    let found: Vec<usize> = (0..containers.len())
        .filter(|&i| {
            let c = &containers[i];
            c.container_id.starts_with(w) || c.name.trim_start_matches('/') == w
        })
        .collect();
    match found.as_slice() {
        [i] => Ok(*i),
        [] => bail!(
            "no container {w:?} in the session; its containers are {}",
            containers
                .iter()
                .map(|c| format!("{} ({})", c.short_id(), c.name.trim_start_matches('/')))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => bail!("{w:?} names several containers: give more of the id"),
    }
}

/// `beefine-view state FILE --at SECONDS [--container ID]` as one JSON document.
pub fn state_json(
    session: &Session,
    at_seconds: f64,
    container: Option<&str>,
) -> anyhow::Result<String> {
    if !at_seconds.is_finite() || at_seconds < 0.0 {
        bail!("--at {at_seconds}: give the seconds from the start of the session (0 or more)");
    }
    let story = derive_story(session)?;
    let origin = story.input().start_ts_nanos;
    let ts = origin.saturating_add((at_seconds * 1e9) as u64);
    let c = pick_container(&story, container, ts)?;
    let state = story
        .state_at(c, ts)
        .context("the container is not in the derived story")?;
    Ok(serde_json::to_string_pretty(&state)?)
}
