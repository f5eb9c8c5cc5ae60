//! Writes a session file: events in compressed chunks, entities in plain tables.
//!
//! The writer keeps one transaction open and commits at least every
//! [`WriterOptions::commit_interval`] (call [`SessionWriter::tick`] when idle), and copies
//! what it committed from the `-wal` into the file itself at least every
//! [`WriterOptions::checkpoint_interval`] (a passive checkpoint, which never waits for
//! readers): a killed recorder loses at most that much, also for someone who copies the
//! `.beefine` alone, and the file still opens, as `interrupted`. It holds
//! `NAME.beefine-lock` locked for its lifetime, so readers know at once whether it is
//! alive ([`crate::files`]). On finish everything is folded into the file, whoever has it
//! open.
//!
//! Files are created as [`crate::files::WriterFiles`] says: never following a link, never
//! reusing what is there, private and given to [`WriterOptions::owner`] on the descriptor.

mod tables;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, params};

use crate::chunk::{ChunkEncoder, ChunkLayout, EncodedChunk, MAX_CHUNK_EVENTS};
use crate::entities::SessionInfo;
use crate::error::{Error, Result, SqlContext};
use crate::event::{Event, Kind};
use crate::files::{Owner, WriterFiles};
use crate::reader::{ChunkGroups, load_chunk_list, read_chunk_body};
use crate::sql::{APPLICATION_ID, FORMAT_VERSION, create_all};

/// How a writer batches and compresses.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Events per chunk when the buffer fills (chunks are also cut at every commit).
    pub chunk_events: usize,
    /// Longest time between two commits.
    pub commit_interval: Duration,
    pub zstd_level: i32,
    /// Replace an existing file instead of refusing.
    pub overwrite: bool,
    /// On finish, rewrite the small chunks cut at each commit into full, time-ordered ones.
    pub compact_on_finish: bool,
    /// Longest time between two checkpoints (commits copied from the `-wal` into the file).
    pub checkpoint_interval: Duration,
    /// Who the files belong to (the user who ran `sudo`), set on their descriptors.
    pub owner: Option<Owner>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            chunk_events: 64 << 10,
            commit_interval: Duration::from_millis(250),
            zstd_level: 3,
            overwrite: false,
            compact_on_finish: true,
            checkpoint_interval: Duration::from_millis(250),
            owner: None,
        }
    }
}

/// What a finished writer wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    pub events: u64,
    pub chunks: u64,
    pub file_bytes: u64,
    pub kind_counts: Vec<(Kind, u64)>,
    /// Times of the first and last events written (boot clock).
    pub events_span: Option<(u64, u64)>,
    /// Everything is in the file itself (nothing beside it is needed). False only when a
    /// reader kept a snapshot open through every attempt to fold the `-wal` in.
    pub self_contained: bool,
}

/// Appends to a session file.
pub struct SessionWriter {
    conn: Connection,
    path: PathBuf,
    opts: WriterOptions,
    encoder: ChunkEncoder,
    buf: Vec<Event>,
    kind_counts: [u64; Kind::COUNT],
    kind_counts_dirty: bool,
    last_commit: Instant,
    events: u64,
    max_ts_nanos: u64,
    min_ts_nanos: u64,
    last_checkpoint: Instant,
    files: WriterFiles,
    finished: bool,
}

impl std::fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now_wall_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Removes a session file and its companions (links are removed, never followed).
pub fn remove_session_file(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal", crate::files::LOCK_SUFFIX] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

impl SessionWriter {
    /// Creates a new session file at `path` and marks it `recording`.
    pub fn create(path: &Path, info: &SessionInfo, opts: WriterOptions) -> Result<Self> {
        let files = WriterFiles::create(path, opts.overwrite, opts.owner)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .with_ctx(|| format!("opening the new {}", path.display()))?;
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {FORMAT_VERSION};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;"
        ))
        .ctx("configuring the session file")?;
        conn.execute_batch(&format!("BEGIN; {}", create_all()))
            .ctx("creating the session tables")?;
        let command_json = serde_json::to_string(&info.command).unwrap_or_default();
        let meta: [(&str, String); 13] = [
            ("format_version", FORMAT_VERSION.to_string()),
            ("tool_version", info.tool_version.clone()),
            ("host_kernel", info.host_kernel.clone()),
            ("hostname", info.hostname.clone()),
            ("session_name", info.session_name.clone()),
            ("command", command_json),
            ("clock_offset_nanos", info.clock_offset_nanos.to_string()),
            ("start_ts_nanos", info.start_ts_nanos.to_string()),
            ("status", "recording".into()),
            ("heartbeat_wall_nanos", now_wall_nanos().to_string()),
            ("generation", "0".into()),
            ("writer_pid", std::process::id().to_string()),
            (
                "liveness",
                if files.locked { "lock" } else { "heartbeat" }.into(),
            ),
        ];
        for (k, v) in meta {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .ctx("writing session metadata")?;
        }
        conn.execute_batch("COMMIT; BEGIN")
            .ctx("committing the new session")?;
        files.verify_open(path)?;
        let encoder = ChunkEncoder::new(opts.zstd_level).map_err(|source| Error::Io {
            context: "creating the zstd compressor".into(),
            source,
        })?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            encoder,
            buf: Vec::with_capacity(opts.chunk_events.min(MAX_CHUNK_EVENTS)),
            opts,
            kind_counts: [0; Kind::COUNT],
            kind_counts_dirty: false,
            last_commit: Instant::now(),
            events: 0,
            max_ts_nanos: info.start_ts_nanos,
            min_ts_nanos: u64::MAX,
            last_checkpoint: Instant::now(),
            files,
            finished: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events pushed so far.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// Buffers one event; writes a chunk when the buffer is full and commits when due.
    pub fn push(&mut self, event: Event) -> Result<()> {
        self.kind_counts[usize::from(event.kind().index())] += 1;
        self.kind_counts_dirty = true;
        self.events += 1;
        self.max_ts_nanos = self.max_ts_nanos.max(event.header.ts_nanos);
        self.min_ts_nanos = self.min_ts_nanos.min(event.header.ts_nanos);
        self.buf.push(event);
        if self.buf.len() >= self.opts.chunk_events.clamp(1, MAX_CHUNK_EVENTS) {
            self.flush_chunk()?;
        }
        // Reading the clock costs more than buffering an event: look every 256 events
        // (callers tick when events stop coming).
        if self.events.is_multiple_of(256) {
            self.tick()?;
        }
        Ok(())
    }

    /// Commits if the commit interval has passed. Call it when no events arrive.
    pub fn tick(&mut self) -> Result<()> {
        if self.last_commit.elapsed() >= self.opts.commit_interval {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes buffered events and commits now.
    pub fn commit(&mut self) -> Result<()> {
        self.flush_chunk()?;
        if self.kind_counts_dirty {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "INSERT INTO kind_counts (kind, events) VALUES (?1, ?2)
                     ON CONFLICT (kind) DO UPDATE SET events = excluded.events",
                )
                .ctx("updating kind counts")?;
            for (kind, &n) in Kind::ALL.iter().zip(&self.kind_counts) {
                if n > 0 {
                    stmt.execute(params![kind.name(), n as i64])
                        .ctx("updating kind counts")?;
                }
            }
            self.kind_counts_dirty = false;
        }
        self.set_meta_in_tx("heartbeat_wall_nanos", &now_wall_nanos().to_string())?;
        self.conn
            .execute_batch("COMMIT")
            .ctx("committing to the session file")?;
        self.last_commit = Instant::now();
        if self.last_checkpoint.elapsed() >= self.opts.checkpoint_interval {
            // Copies what readers do not need from the -wal into the file; never waits.
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .ctx("copying commits into the session file")?;
            self.last_checkpoint = Instant::now();
        }
        self.conn
            .execute_batch("BEGIN")
            .ctx("committing to the session file")?;
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.buf.sort_by_key(|e| e.header.ts_nanos);
        let chunk = self.encoder.encode(&self.buf).map_err(|source| Error::Io {
            context: "encoding a chunk".into(),
            source,
        })?;
        insert_chunk(&self.conn, &chunk)?;
        self.buf.clear();
        Ok(())
    }

    fn set_meta_in_tx(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute(params![key, value]))
            .with_ctx(|| format!("writing metadata {key}"))?;
        Ok(())
    }

    /// Sets a metadata value (visible at the next commit).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_meta_in_tx(key, value)
    }

    /// Writes everything, marks the session complete and leaves a single self-contained file
    /// (no WAL companions). `end_ts_nanos` defaults to the newest event's time.
    pub fn finish(mut self, end_ts_nanos: Option<u64>) -> Result<WriteSummary> {
        self.commit()?;
        if self.opts.compact_on_finish {
            self.compact()?;
        }
        let end = end_ts_nanos.unwrap_or(self.max_ts_nanos);
        self.set_meta_in_tx("end_ts_nanos", &end.to_string())?;
        self.set_meta_in_tx("status", "complete")?;
        self.commit()?;
        self.conn
            .execute_batch("COMMIT")
            .ctx("committing the finished session")?;
        self.finished = true;
        // The session is complete in the -wal. Drop the free pages compaction left, then
        // copy everything into the file itself and leave WAL mode, so that the file travels
        // alone. Readers do not stop this: a checkpoint waits (up to the busy timeout) only
        // for a reader in the middle of a read of an older snapshot, and tries again.
        let _ = self.conn.busy_timeout(Duration::from_secs(2));
        let _ = self.conn.execute_batch("VACUUM");
        let self_contained = self.fold_wal();
        // Another connection keeps the file in WAL mode, which reads just as well: its -wal
        // is empty.
        let _ = self
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
        self.files.release();
        let chunks: i64 = self
            .conn
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .ctx("counting chunks")?;
        let file_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(WriteSummary {
            events: self.events,
            chunks: chunks as u64,
            file_bytes,
            self_contained,
            kind_counts: Kind::ALL
                .iter()
                .zip(self.kind_counts)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (*k, n))
                .collect(),
            events_span: (self.events > 0).then_some((self.min_ts_nanos, self.max_ts_nanos)),
        })
    }

    /// Copies every frame of the -wal into the file (a truncating checkpoint, tried a few
    /// times while readers of an old snapshot hold frames back). Whether all are in.
    fn fold_wal(&self) -> bool {
        for _ in 0..5 {
            let done = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .is_ok_and(|(busy, log, copied)| busy == 0 || log == copied);
            if done {
                return true;
            }
        }
        false
    }

    /// Rewrites runs of small chunks (cut at each commit) and chunks that overlap in time into
    /// full, time-ordered ones; full chunks that overlap nothing are kept. Bumps `generation` so tail cursors know to start over.
    fn compact(&mut self) -> Result<()> {
        let chunks = match load_chunk_list(&self.conn) {
            (chunks, None) => chunks,
            (_, Some(e)) => return Err(e),
        };
        let target = self.opts.chunk_events.clamp(1, MAX_CHUNK_EVENTS);
        let small = chunks
            .iter()
            .filter(|c| (c.event_count as usize) < target / 2)
            .count();
        let overlapping = chunks
            .windows(2)
            .any(|w| w[1].first_ts_nanos <= w[0].last_ts_nanos);
        if small <= 1 && !overlapping {
            return Ok(());
        }
        let mut pending: Vec<Event> = Vec::new();
        let mut rewritten = Vec::with_capacity(chunks.len());
        for group in ChunkGroups::new(&chunks) {
            if let [single] = group
                && single.event_count as usize >= target / 2
            {
                // Full enough and overlapping nothing: kept as it is, after what precedes it.
                if !pending.is_empty() {
                    self.write_compacted(&std::mem::take(&mut pending))?;
                }
                continue;
            }
            let mut group_events = Vec::new();
            for info in group {
                match read_chunk_body(
                    &self.conn,
                    info.chunk_seq,
                    ChunkLayout::CURRENT,
                    &mut group_events,
                ) {
                    Ok(()) => rewritten.push(info.chunk_seq),
                    // A chunk that cannot be read is left as it is, for a reader to report.
                    Err(Error::CorruptChunk { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            group_events.sort_by_key(|e| e.header.ts_nanos);
            pending.extend(group_events);
            while pending.len() >= target {
                let rest = pending.split_off(target);
                self.write_compacted(&pending)?;
                pending = rest;
            }
        }
        if !pending.is_empty() {
            self.write_compacted(&pending)?;
        }
        let mut del = self
            .conn
            .prepare_cached("DELETE FROM chunks WHERE chunk_seq = ?1")
            .ctx("removing rewritten chunks")?;
        for seq in rewritten {
            del.execute([seq]).ctx("removing rewritten chunks")?;
        }
        drop(del);
        let generation: i64 = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get::<_, String>(0)
            })
            .ctx("reading generation")?
            .parse()
            .unwrap_or(0);
        self.set_meta_in_tx("generation", &(generation + 1).to_string())
    }

    fn write_compacted(&mut self, events: &[Event]) -> Result<()> {
        let chunk = self.encoder.encode(events).map_err(|source| Error::Io {
            context: "encoding a chunk".into(),
            source,
        })?;
        insert_chunk(&self.conn, &chunk)
    }
}

fn insert_chunk(conn: &Connection, chunk: &EncodedChunk) -> Result<()> {
    let s = &chunk.summary;
    conn.prepare_cached(
        "INSERT INTO chunks (first_ts_nanos, last_ts_nanos, event_count, kinds_mask, tgid_bloom,
            cgroup_bloom, raw_len, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.first_ts_nanos as i64,
            s.last_ts_nanos as i64,
            s.event_count,
            s.kinds.0 as i64,
            &s.tgid_bloom.0[..],
            &s.cgroup_bloom.0[..],
            chunk.raw_len as i64,
            chunk.body,
        ])
    })
    .ctx("writing a chunk")?;
    Ok(())
}

impl Drop for SessionWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Keep what was pushed, in the file itself; the session stays `recording` and
            // reads as interrupted (the lock is released with `files`).
            let _ = self.commit();
            let _ = self.conn.execute_batch("COMMIT");
            let _ = self.fold_wal();
        }
    }
}
