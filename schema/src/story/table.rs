//! The `chapters` table: the recorder stores the chapters when it finishes, so that
//! `sqlite3` reads them and viewers need not derive them again.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{Chapter, ChapterKind};
use crate::error::{Result, SqlContext};

/// Version of the derivation that wrote a `chapters` table (meta `chapters_version`).
pub const CHAPTERS_VERSION: u32 = 2;

/// Rows read from a file at most, and the longest text kept.
const MAX_ROWS: usize = 100_000;
const MAX_TEXT: usize = 4096;

/// The table as the schema defines it, created if an older file lacks it.
fn create_sql() -> String {
    crate::sql::TABLES
        .iter()
        .find(|t| t.name == "chapters")
        .expect("the chapters table is one of sql::TABLES")
        .create
        .replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
}

/// Writes the chapters of a finished session file into its `chapters` table (replacing
/// what was there) in one transaction.
pub fn write_chapters(path: &Path, chapters: &[Chapter]) -> Result<()> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_ctx(|| format!("opening {} to store its chapters", path.display()))?;
    let tx = conn.transaction().ctx("storing the chapters")?;
    tx.execute_batch(&create_sql())
        .ctx("creating the chapters table")?;
    tx.execute("DELETE FROM chapters", [])
        .ctx("storing the chapters")?;
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO chapters (chapter, title, ts_nanos, end_ts_nanos, container_id, events, notice)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .ctx("storing the chapters")?;
        for c in chapters {
            stmt.execute(params![
                c.chapter.name(),
                c.title,
                c.ts_nanos as i64,
                c.end_ts_nanos as i64,
                c.container_id,
                c.events as i64,
                c.notice,
            ])
            .ctx("storing a chapter")?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('chapters_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![CHAPTERS_VERSION.to_string()],
    )
    .ctx("storing the chapters version")?;
    tx.commit().ctx("committing the chapters")?;
    Ok(())
}

/// Replaces the bookmarks of a session file with `bookmarks`, in one transaction (the
/// file must be writable; save a copy first otherwise).
pub fn write_bookmarks(path: &Path, bookmarks: &[crate::Bookmark]) -> Result<()> {
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_ctx(|| format!("opening {} to save its bookmarks", path.display()))?;
    let tx = conn.transaction().ctx("saving the bookmarks")?;
    tx.execute("DELETE FROM bookmarks", [])
        .ctx("saving the bookmarks")?;
    for b in bookmarks {
        tx.execute(
            "INSERT INTO bookmarks (ts_nanos, label, note) VALUES (?1, ?2, ?3)",
            params![b.ts_nanos as i64, b.label, b.note],
        )
        .ctx("saving a bookmark")?;
    }
    tx.commit().ctx("committing the bookmarks")?;
    Ok(())
}

fn bounded(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The chapters stored in a session, in time order; `None` when the session has no
/// `chapters` table (derive them with [`super::Story::derive`]). Rows of a chapter kind
/// this build does not know are skipped.
pub fn read_chapters(conn: &Connection) -> Result<Option<Vec<Chapter>>> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'chapters'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .ctx("looking for the chapters table")?;
    // Every file of this build has the table; the chapters are there once the recorder
    // stored them (and said which derivation wrote them). Chapters of an older derivation
    // are derived again: this build tells more (a pod's sandbox and network, say).
    let current = exists
        && conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'chapters_version'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .ctx("looking for the chapters version")?
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|v| v >= CHAPTERS_VERSION);
    if !current {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare(
            "SELECT chapter, title, ts_nanos, end_ts_nanos, container_id, events, notice
             FROM chapters ORDER BY ts_nanos LIMIT ?1",
        )
        .ctx("reading the chapters")?;
    let rows = stmt
        .query_map(params![MAX_ROWS as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .ctx("reading the chapters")?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, title, ts, end, container_id, events, notice) = row.ctx("reading a chapter")?;
        let Some(chapter) = ChapterKind::from_name(&kind) else {
            continue;
        };
        let ts = ts.max(0) as u64;
        out.push(Chapter {
            chapter,
            title: bounded(title),
            ts_nanos: ts,
            end_ts_nanos: (end.max(0) as u64).max(ts),
            container_id: container_id.map(bounded),
            events: events.max(0) as u64,
            notice: bounded(notice),
        });
    }
    Ok(Some(out))
}
