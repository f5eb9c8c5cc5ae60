//! What a teacher takes away: "export chapter", a self-contained Markdown or HTML handout
//! of one chapter (its title, what to notice, its key events with what each call does), and
//! the bookmarks saved into the session or a copy of it.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::state::story::key_kind;
use crate::state::{Viewer, describe};

/// Key events listed at most.
const MAX_EVENTS: usize = 60;

/// Where a handout goes by default: beside the session, named after it and the chapter.
pub fn default_path(v: &Viewer, chapter: usize, html: bool) -> PathBuf {
    let p = &v.session.path;
    let stem = p
        .file_stem()
        .map_or("session".into(), |s| s.to_string_lossy());
    let kind = v
        .session
        .story
        .story
        .chapters
        .get(chapter)
        .map_or("chapter", |c| c.chapter.name());
    p.with_file_name(format!(
        "{stem}-{}-{kind}.{}",
        chapter + 1,
        if html { "html" } else { "md" }
    ))
}

/// One key event of the handout.
struct Line {
    time: String,
    who: String,
    kind: &'static str,
    summary: String,
    about: &'static str,
}

fn lines(v: &Viewer, chapter: usize) -> Vec<Line> {
    let l = &v.session;
    let Some(c) = l.story.story.chapters.get(chapter) else {
        return Vec::new();
    };
    let container = c
        .container_id
        .as_deref()
        .and_then(|id| l.containers.by_id(id));
    let store = &l.store;
    let (lo, hi) = (
        store.lower_bound(c.ts_nanos),
        store.upper_bound(c.end_ts_nanos),
    );
    (lo..hi)
        .map(|i| i as u32)
        .filter(|&i| container.is_none() || store.container_of(i) == container)
        .filter(|&i| key_kind(store.kind_of(i)) && l.story.expected_of(i).is_none())
        .take(MAX_EVENTS)
        .filter_map(|i| {
            let e = store.get(i)?;
            let comm = store.comm(e.ctx);
            Some(Line {
                time: crate::format::offset_from(e.ts_nanos, v.session.origin()),
                who: if comm.is_empty() {
                    "—".to_owned()
                } else {
                    format!("{comm} {}", e.ctx.tgid)
                },
                kind: e.kind.name(),
                summary: crate::format::shorten_ids(
                    &l.overlay.abbreviate(&describe::summary(l, i)),
                ),
                about: e.kind.about(),
            })
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The handout of a chapter, as Markdown or HTML.
pub fn handout(v: &Viewer, chapter: usize, html: bool) -> String {
    let l = &v.session;
    let Some(c) = l.story.story.chapters.get(chapter) else {
        return String::new();
    };
    let container = c
        .container_id
        .as_deref()
        .and_then(|id| l.containers.by_id(id))
        .map(|i| l.container_label(i));
    let span = format!(
        "{} – {} ({}, {} events)",
        crate::format::offset_from(c.ts_nanos, v.session.origin()),
        crate::format::offset_from(c.end_ts_nanos, v.session.origin()),
        crate::format::duration(c.end_ts_nanos - c.ts_nanos),
        c.events
    );
    let session = &l.meta.info.session_name;
    let events = lines(v, chapter);
    let mut s = String::new();
    if html {
        let _ = write!(
            s,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{vertical-align:top;padding:2px 8px}}code{{white-space:pre-wrap}}.why{{color:#555}}</style></head><body>\n<h1>{t}</h1>\n<p>{ch} · session {session}{cont} · {span}</p>\n",
            t = escape(&c.title),
            ch = c.chapter,
            session = escape(session),
            cont = container
                .as_deref()
                .map(|n| format!(" · container {}", escape(n)))
                .unwrap_or_default(),
        );
        s.push_str("<h2>What to notice</h2>\n");
        for line in c.notice.lines() {
            let _ = writeln!(s, "<p>{}</p>", escape(line));
        }
        s.push_str("<h2>Key events</h2>\n<table>\n");
        for e in &events {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td><b>{}</b></td><td><code>{}</code><div class=\"why\">{}</div></td></tr>",
                escape(&e.time),
                escape(&e.who),
                e.kind,
                escape(&e.summary),
                escape(e.about)
            );
        }
        s.push_str("</table>\n</body></html>\n");
    } else {
        let _ = writeln!(s, "# {}\n", c.title);
        let _ = writeln!(
            s,
            "*{} · session {session}{} · {span}*\n",
            c.chapter,
            container
                .as_deref()
                .map(|n| format!(" · container {n}"))
                .unwrap_or_default()
        );
        s.push_str("## What to notice\n\n");
        for line in c.notice.lines() {
            let _ = writeln!(s, "{line}\n");
        }
        s.push_str("## Key events\n\n| time | process | call | what |\n|---|---|---|---|\n");
        for e in &events {
            let _ = writeln!(
                s,
                "| {} | {} | `{}` | `{}`<br>{} |",
                e.time,
                e.who.replace('|', "\\|"),
                e.kind,
                e.summary.replace('|', "\\|").replace('`', "'"),
                e.about.replace('|', "\\|")
            );
        }
    }
    s
}

/// Saves the bookmarks into the session file, or into a copy of it at `copy`; says what
/// happened in the story view's message.
pub fn save_bookmarks(v: &mut Viewer, copy: Option<PathBuf>) {
    let target = match &copy {
        Some(p) => {
            if let Err(e) = std::fs::copy(&v.session.path, p) {
                v.story.message = Some(format!("cannot copy the session to {}: {e}", p.display()));
                return;
            }
            p.clone()
        }
        None => v.session.path.clone(),
    };
    v.story.message = Some(
        match beefine_schema::story::write_bookmarks(&target, &v.story.bookmarks) {
            Ok(()) => {
                v.story.bookmarks_dirty = false;
                format!(
                    "saved {} bookmarks into {}",
                    v.story.bookmarks.len(),
                    target.display()
                )
            }
            Err(e) => format!("{e}: the file cannot be written here; save a copy instead"),
        },
    );
}
