//! Reads a session file, also while a writer is still appending to it.
//!
//! Opening decides how to read, from what is beside the file ([`crate::files`]):
//!
//! - a writer holds the lock: SQLite's WAL mode, shared with the writer;
//! - no writer, no `-wal`: SQLite's immutable mode, which creates nothing beside the file and
//!   takes no lock (a shared folder, a read-only medium);
//! - no writer, a `-wal` left by a crash: folded back into the file when the file can be
//!   written (then immutable), else read beside it.
//!
//! Every connection is hardened and the schema checked before anything is read
//! (`guard.rs`); a damaged file is read by scanning its pages (`salvage.rs`).

mod scan;
mod tables;
mod tail;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::chunk::{Bloom, ChunkLayout};
use crate::entities::{Meta, SessionInfo, Status, StoredStatus};
use crate::error::{Error, Result, SqlContext};
use crate::event::{Event, Kind, KindSet};
use crate::files::{self, WriterLock};
use crate::sql::{APPLICATION_ID, FORMAT_VERSION};
use crate::{guard, salvage};

pub(crate) use scan::{ChunkGroups, load_chunk_list, read_chunk_body};
pub use scan::{EventIter, MAX_MERGE_RAW_BYTES, ScanSummary};
pub use tail::{TailCursor, TailUpdate};

/// A writer whose last commit is older than this is considered gone (when its lock cannot
/// tell: file systems without locks, files of older recorders).
pub const STALE_HEARTBEAT_NANOS: i64 = 5_000_000_000;

/// Longest metadata value read (the command line, names): longer ones are cut.
const MAX_META_VALUE_CHARS: usize = 64 << 10;

/// A number from a file that cannot be negative (times, sizes, counts): negative reads as 0.
pub(crate) fn nonneg(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// One row of the chunk table, without the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    pub chunk_seq: i64,
    pub first_ts_nanos: u64,
    pub last_ts_nanos: u64,
    pub event_count: u32,
    pub kinds: KindSet,
    pub tgid_bloom: Bloom,
    pub cgroup_bloom: Bloom,
    pub raw_len: u64,
    pub stored_len: u64,
}

/// Which events to read. Empty predicates match everything; all given predicates must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Inclusive boot-clock range.
    pub time: Option<(u64, u64)>,
    pub kinds: Option<KindSet>,
    /// Matches an event whose pid or tgid is one of these.
    pub pids: Option<Vec<u32>>,
    /// Matches an event in one of these cgroups.
    pub cgroup_ids: Option<Vec<u64>>,
    /// Matches an event in the cgroup of one of these containers (full or short ids).
    pub container_ids: Option<Vec<String>>,
    /// Only chunks committed up to this sequence number (see [`TailCursor::before`]).
    pub until_chunk_seq: Option<i64>,
}

impl Query {
    pub fn all() -> Self {
        Self::default()
    }

    fn chunk_may_match(&self, c: &ChunkInfo, cgroups: Option<&[u64]>) -> bool {
        self.until_chunk_seq.is_none_or(|s| c.chunk_seq <= s)
            && self
                .time
                .is_none_or(|(lo, hi)| c.last_ts_nanos >= lo && c.first_ts_nanos <= hi)
            && self.kinds.is_none_or(|k| k.intersects(c.kinds))
            && self
                .pids
                .as_ref()
                .is_none_or(|p| p.iter().any(|p| c.tgid_bloom.may_contain(u64::from(*p))))
            && cgroups.is_none_or(|g| g.iter().any(|g| c.cgroup_bloom.may_contain(*g)))
    }

    fn event_matches<S>(&self, e: &Event<S>, cgroups: Option<&[u64]>) -> bool {
        let h = &e.header;
        self.time
            .is_none_or(|(lo, hi)| (lo..=hi).contains(&h.ts_nanos))
            && self.kinds.is_none_or(|k| k.contains(e.kind()))
            && self
                .pids
                .as_ref()
                .is_none_or(|p| p.contains(&h.pid) || p.contains(&h.tgid))
            && cgroups.is_none_or(|g| g.contains(&h.cgroup_id))
    }
}

/// How the file stands with respect to its write-ahead log, as found at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Journal {
    /// Everything is in the file itself.
    SelfContained,
    /// A writer is appending; the newest commits are in the `-wal` beside the file.
    Writing,
    /// A `-wal` left by a writer that died was folded back into the file at open.
    FoldedBack { wal_bytes: u64 },
    /// A `-wal` left by a writer that died is beside the file and was read from there; the
    /// file could not be written to fold it back.
    WalBeside { wal_bytes: u64 },
    /// The file was being written and its `-wal` is not beside it (copied alone, or lost):
    /// what was committed after the last checkpoint is not in it.
    WalMissing,
    /// The file is damaged; what could be read was read by scanning its pages.
    Salvaged,
}

/// How a connection to the file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Read-only, sharing SQLite's locks and `-wal` with a writer.
    Shared,
    /// Read-only and immutable: nothing beside the file is created or read.
    Immutable,
}

/// An open session file (read-only).
pub struct Session {
    conn: Connection,
    path: PathBuf,
    meta: Meta,
    mode: Option<Mode>,
    journal: Journal,
    /// What was found wrong at open and worked around (damage, skipped parts).
    notes: Vec<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("path", &self.path)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

fn not_a_session(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotASession {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Whether an error means the file is damaged (rather than refused, missing or busy).
fn is_damage(e: &Error) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        Error::Sqlite { sqlite, .. } => matches!(
            sqlite.sqlite_error_code(),
            Some(C::DatabaseCorrupt | C::NotADatabase | C::SystemIoFailure)
        ),
        _ => false,
    }
}

/// What the first 100 bytes say.
struct Header {
    /// SQLite's "read version" byte: 2 when the file is in WAL mode.
    wal_mode: bool,
}

/// Checks that `path` starts like a session file (SQLite with Beefine's application id).
pub(crate) fn check_header(path: &Path) -> Result<()> {
    read_header(path).map(|_| ())
}

fn read_header(path: &Path) -> Result<Header> {
    let mut header = [0u8; 100];
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(open_err)?;
    let mut n = 0;
    while n < header.len() {
        match file.read(&mut header[n..]).map_err(open_err)? {
            0 => break,
            k => n += k,
        }
    }
    if n < header.len() || &header[..16] != b"SQLite format 3\0" {
        return Err(not_a_session(
            path,
            if n == 0 {
                "the file is empty"
            } else {
                "it is not an SQLite file"
            },
        ));
    }
    let app_id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != APPLICATION_ID {
        return Err(not_a_session(
            path,
            "it is an SQLite file without Beefine's application id",
        ));
    }
    Ok(Header {
        wal_mode: header[18] == 2,
    })
}

fn connect(path: &Path, mode: Mode) -> Result<Connection> {
    let ctx = || format!("opening {}", path.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match mode {
        Mode::Shared => Connection::open_with_flags(path, flags),
        Mode::Immutable => {
            let uri = files::uri(path, "immutable=1").map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
        }
    }
    .with_ctx(ctx)?;
    guard::harden(&conn, path)?;
    Ok(conn)
}

/// Why [`read_checked`] failed: `schema_passed` says whether the schema was checked and
/// found sound before (then the file's tables may still be read as far as they go).
struct CheckFailed {
    error: Error,
    schema_passed: bool,
}

/// Reads and checks what a connection holds: schema, metadata, tables, chunk list.
fn read_checked(conn: &Connection, path: &Path) -> std::result::Result<Meta, CheckFailed> {
    let tables = guard::check_schema(conn, path).map_err(|error| CheckFailed {
        error,
        schema_passed: false,
    })?;
    let after = |error| CheckFailed {
        error,
        schema_passed: true,
    };
    let meta = read_meta(conn, path).map_err(after)?;
    guard::check_tables_of_version(&tables, meta.format_version, path).map_err(after)?;
    if let (_, Some(damage)) = load_chunk_list(conn) {
        return Err(after(damage));
    }
    // Walks the pages of every table (not the overflow pages of long values).
    for t in crate::sql::TABLES
        .iter()
        .filter(|t| tables.contains(t.name))
    {
        conn.query_row(&format!("SELECT count(*) FROM {}", t.name), [], |_| Ok(()))
            .with_ctx(|| format!("reading the {} table", t.name))
            .map_err(after)?;
    }
    Ok(meta)
}

impl Session {
    /// Reads through `conn`; a damaged file is salvaged instead.
    fn read_or_salvage(conn: &Connection, path: &Path) -> Result<std::result::Result<Meta, Self>> {
        match read_checked(conn, path) {
            Ok(meta) => Ok(Ok(meta)),
            Err(f) if is_damage(&f.error) => {
                let sound = f.schema_passed.then_some(conn);
                Self::salvaged(path, sound, &f.error).map(Err)
            }
            Err(f) => Err(f.error),
        }
    }
}

impl Session {
    /// Opens a session file for reading. Refuses files that are not sessions, whose schema
    /// is not one this build knows, and sessions from a newer format version, with a
    /// message that says so. A damaged file is read as far as it can be (see
    /// [`Session::notes`]); a `-wal` a dead writer left is folded back when the file can
    /// be written (see [`Session::journal`]).
    pub fn open(path: &Path) -> Result<Self> {
        let header = read_header(path)?;
        let lock = files::writer_lock(path);
        let wal = files::wal_len(path);
        let mut journal = Journal::SelfContained;
        let mut mode = Mode::Immutable;
        if lock == WriterLock::Held {
            mode = Mode::Shared;
            journal = Journal::Writing;
        } else if let Some(wal_bytes) = wal.filter(|&n| n > 0 || lock != WriterLock::Free) {
            // A writer on a file system without locks, or a -wal left by a crash.
            let conn = match connect(path, Mode::Shared) {
                Err(e) if is_damage(&e) => return Self::salvaged(path, None, &e),
                other => other?,
            };
            let meta = match Self::read_or_salvage(&conn, path)? {
                Ok(meta) => meta,
                Err(salvaged) => return Ok(salvaged),
            };
            let session = Self {
                conn,
                path: path.to_owned(),
                meta,
                mode: Some(Mode::Shared),
                journal: Journal::Writing,
                notes: Vec::new(),
            };
            if session.status() == Status::Live {
                return Ok(session);
            }
            drop(session);
            // Folded back where the file can be written (an empty -wal is removed too).
            let folded = crate::recover::fold_wal(path).is_ok_and(|folded| folded);
            if folded {
                crate::recover::remove_stale_lock(path);
            }
            journal = match (folded, wal_bytes) {
                (true, 0) | (false, 0) => Journal::SelfContained,
                (true, _) => Journal::FoldedBack { wal_bytes },
                (false, _) => {
                    mode = Mode::Shared;
                    Journal::WalBeside { wal_bytes }
                }
            };
        }
        let conn = match connect(path, mode) {
            Err(e) if is_damage(&e) => return Self::salvaged(path, None, &e),
            other => other?,
        };
        let meta = match Self::read_or_salvage(&conn, path)? {
            Ok(meta) => meta,
            Err(salvaged) => return Ok(salvaged),
        };
        if journal == Journal::SelfContained
            && wal.is_none()
            && header.wal_mode
            && meta.stored_status == StoredStatus::Recording
        {
            journal = Journal::WalMissing;
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
            meta,
            mode: Some(mode),
            journal,
            notes: Vec::new(),
        })
    }

    /// A session read from a damaged file by scanning its pages.
    fn salvaged(path: &Path, conn: Option<&Connection>, why: &Error) -> Result<Self> {
        let salvage::Salvaged { conn, notes } = salvage::salvage(path, conn, why)?;
        let meta = read_meta(&conn, path)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            meta,
            mode: None,
            journal: Journal::Salvaged,
            notes,
        })
    }

    /// Another connection to the same file, opened the same way (to read in parallel),
    /// without looking at the file again. Sessions read from a damaged file have one only.
    pub fn reopen(&self) -> Result<Self> {
        let mode = self.mode.ok_or_else(|| {
            not_a_session(
                &self.path,
                "a damaged session is read on one connection only",
            )
        })?;
        let conn = connect(&self.path, mode)?;
        Ok(Self {
            conn,
            path: self.path.clone(),
            meta: self.meta.clone(),
            mode: self.mode,
            journal: self.journal.clone(),
            notes: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How this session's chunks are laid out (checked to be known when it was opened).
    pub(crate) fn layout(&self) -> ChunkLayout {
        ChunkLayout::for_format(self.meta.format_version).unwrap_or(ChunkLayout::CURRENT)
    }

    /// Metadata as read at open (see [`Session::refresh_meta`]).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// How the file stands with its write-ahead log.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Damage found at open and how it was worked around (empty for a sound file).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Re-reads the metadata (status, heartbeat, end time) written since open.
    pub fn refresh_meta(&mut self) -> Result<&Meta> {
        self.meta = read_meta(&self.conn, &self.path)?;
        Ok(&self.meta)
    }

    /// Live, complete or interrupted, judged now.
    pub fn status(&self) -> Status {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        self.status_at(now)
    }

    /// The status as judged at wall-clock time `now_wall_nanos`: by the writer's lock when
    /// it can tell, else by the heartbeat.
    pub fn status_at(&self, now_wall_nanos: i64) -> Status {
        if self.meta.stored_status == StoredStatus::Complete {
            return Status::Complete;
        }
        if self.journal == Journal::Salvaged {
            return Status::Interrupted;
        }
        let by_heartbeat = || {
            if now_wall_nanos.saturating_sub(self.meta.heartbeat_wall_nanos)
                <= STALE_HEARTBEAT_NANOS
            {
                Status::Live
            } else {
                Status::Interrupted
            }
        };
        match files::writer_lock(&self.path) {
            WriterLock::Held => Status::Live,
            WriterLock::Free => Status::Interrupted,
            WriterLock::Absent if self.meta.lock_liveness => Status::Interrupted,
            WriterLock::Absent | WriterLock::Unknown => by_heartbeat(),
        }
    }

    /// Time span of the events, from the chunk table (boot clock).
    pub fn time_span(&self) -> Result<Option<(u64, u64)>> {
        self.conn
            .query_row(
                "SELECT min(first_ts_nanos), max(last_ts_nanos) FROM chunks",
                [],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .map(|(a, b)| a.zip(b).map(|(a, b)| (nonneg(a), nonneg(b).max(nonneg(a)))))
            .ctx("reading the session's time span")
    }

    /// All chunks, ordered by time; an error if the chunk table is damaged.
    pub fn chunks(&self) -> Result<Vec<ChunkInfo>> {
        match load_chunk_list(&self.conn) {
            (chunks, None) => Ok(chunks),
            (_, Some(e)) => Err(e),
        }
    }

    /// Events per kind, as counted by the writer at its last commit.
    pub fn kind_counts(&self) -> Result<Vec<(Kind, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, events FROM kind_counts LIMIT 1024")
            .ctx("reading kind counts")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx("reading kind counts")?;
        let mut out: Vec<(Kind, u64)> = Vec::new();
        for row in rows {
            let (name, n) = row.ctx("reading kind counts")?;
            // A kind this build does not know is left out.
            if let Some(kind) = Kind::from_name(&name) {
                match out.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, total)) => *total = total.saturating_add(nonneg(n)),
                    None => out.push((kind, nonneg(n))),
                }
            }
        }
        out.sort_by_key(|(k, _)| *k);
        Ok(out)
    }

    /// File size in bytes (main file plus WAL while recording).
    pub fn file_bytes(&self) -> u64 {
        std::fs::metadata(&self.path)
            .map_or(0, |m| m.len())
            .saturating_add(files::wal_len(&self.path).unwrap_or(0))
    }
}

/// Reads the metadata (after the schema was checked).
pub(crate) fn read_meta(conn: &Connection, path: &Path) -> Result<Meta> {
    let get = |key: &str| -> Result<Option<String>> {
        conn.query_row(
            &format!("SELECT substr(value, 1, {MAX_META_VALUE_CHARS}) FROM meta WHERE key = ?1"),
            params![key],
            |r| r.get(0),
        )
        .optional()
        .with_ctx(|| format!("reading metadata {key} of {}", path.display()))
    };
    let version_text =
        get("format_version")?.ok_or_else(|| not_a_session(path, "it has no format version"))?;
    let format_version: u32 = version_text.trim().parse().map_err(|_| {
        not_a_session(
            path,
            format!(
                "format version {:?} is not a number",
                crate::format::prefix_chars(&version_text, 40)
            ),
        )
    })?;
    if format_version > FORMAT_VERSION {
        return Err(Error::NewerFormat {
            path: path.to_owned(),
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    if ChunkLayout::for_format(format_version).is_none() {
        return Err(not_a_session(
            path,
            format!("format version {format_version} was never written by Beefine"),
        ));
    }
    let text = |key: &str| -> Result<String> { Ok(get(key)?.unwrap_or_default()) };
    let num = |key: &str| -> Result<Option<i64>> {
        match get(key)? {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| Error::InvalidRow {
                what: "metadata",
                detail: format!(
                    "{key} = {:?} is not a number",
                    crate::format::prefix_chars(&v, 40)
                ),
            }),
        }
    };
    let stored_status = match text("status")?.as_str() {
        "complete" => StoredStatus::Complete,
        _ => StoredStatus::Recording,
    };
    Ok(Meta {
        format_version,
        info: SessionInfo {
            session_name: text("session_name")?,
            command: serde_json::from_str(&text("command")?).unwrap_or_default(),
            tool_version: text("tool_version")?,
            host_kernel: text("host_kernel")?,
            hostname: text("hostname")?,
            clock_offset_nanos: num("clock_offset_nanos")?.unwrap_or(0),
            start_ts_nanos: num("start_ts_nanos")?.map_or(0, nonneg),
        },
        end_ts_nanos: num("end_ts_nanos")?.map(nonneg),
        stored_status,
        heartbeat_wall_nanos: num("heartbeat_wall_nanos")?.unwrap_or(0),
        generation: num("generation")?.unwrap_or(0),
        lock_liveness: text("liveness")? == "lock",
        writer_pid: num("writer_pid")?.and_then(|p| u32::try_from(p).ok()),
    })
}
