//! Writes a session file: events in compressed chunks, entities in plain tables.
//!
//! The writer keeps one transaction open and commits at least every
//! [`WriterOptions::commit_interval`] (call [`SessionWriter::tick`] when idle), so a killed
//! recorder loses at most that much and the file still opens, as `interrupted`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, params};

use crate::chunk::{ChunkEncoder, ChunkLayout, EncodedChunk, MAX_CHUNK_EVENTS};
use crate::entities::{
    Bookmark, Container, DaemonSample, DockerEvent, Image, Layer, Loss, Pod, Probe, Process,
    Sample, SessionInfo,
};
use crate::error::{Error, Result, SqlContext};
use crate::event::{DockerInfo, Event, EventData, Kind, LossInfo, ResourceSample, Str};
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
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            chunk_events: 64 << 10,
            commit_interval: Duration::from_millis(250),
            zstd_level: 3,
            overwrite: false,
            compact_on_finish: true,
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

/// Removes a session file and its WAL companions.
pub fn remove_session_file(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
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
        if path.exists() {
            if !opts.overwrite {
                return Err(Error::Exists {
                    path: path.to_owned(),
                });
            }
            remove_session_file(path).map_err(|source| Error::Io {
                context: format!("removing the old {}", path.display()),
                source,
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_ctx(|| format!("creating {}", path.display()))?;
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
        let meta: [(&str, String); 12] = [
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
            .execute_batch("COMMIT; BEGIN")
            .ctx("committing to the session file")?;
        self.last_commit = Instant::now();
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

    /// Inserts or replaces a process row, keyed by (pid, start time).
    pub fn upsert_process(&mut self, p: &Process) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO processes (pid, start_ts_nanos, ppid, comm, exe, argv,
                    exit_ts_nanos, exit_code, container_id, component, cgroup_id, pid_ns, mnt_ns,
                    net_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.pid,
                    p.start_ts_nanos as i64,
                    p.ppid,
                    p.comm,
                    p.exe,
                    serde_json::to_string(&p.argv).unwrap_or_default(),
                    p.exit_ts_nanos.map(|t| t as i64),
                    p.exit_code,
                    p.container_id,
                    p.component.name(),
                    p.cgroup_id as i64,
                    p.ns.pid_ns,
                    p.ns.mnt_ns,
                    p.ns.net_ns,
                ])
            })
            .ctx("writing a process")?;
        Ok(())
    }

    /// Inserts or replaces a container row.
    pub fn upsert_container(&mut self, c: &Container) -> Result<()> {
        let ns = |k: &str| c.namespace(k).map(|v| v as i64);
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO containers (container_id, name, image, image_id, init_pid,
                    cgroup_id, cgroup_path, created_ts_nanos, started_ts_nanos, died_ts_nanos,
                    destroyed_ts_nanos, exit_code, pid_ns, mnt_ns, net_ns, uts_ns, ipc_ns,
                    cgroup_ns, user_ns, time_ns, lower_dirs, upper_dir, work_dir, merged_dir,
                    inspect_json, pod_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    c.container_id,
                    c.name,
                    c.image,
                    c.image_id,
                    c.init_pid,
                    c.cgroup_id.map(|v| v as i64),
                    c.cgroup_path,
                    c.created_ts_nanos.map(|v| v as i64),
                    c.started_ts_nanos.map(|v| v as i64),
                    c.died_ts_nanos.map(|v| v as i64),
                    c.destroyed_ts_nanos.map(|v| v as i64),
                    c.exit_code,
                    ns("pid"),
                    ns("mnt"),
                    ns("net"),
                    ns("uts"),
                    ns("ipc"),
                    ns("cgroup"),
                    ns("user"),
                    ns("time"),
                    c.lower_dirs.join(":"),
                    c.upper_dir,
                    c.work_dir,
                    c.merged_dir,
                    c.inspect_json,
                    c.pod_id,
                ])
            })
            .ctx("writing a container")?;
        Ok(())
    }

    pub fn upsert_pod(&mut self, p: &Pod) -> Result<()> {
        let ns = |k: &str| p.namespace(k).map(|v| v as i64);
        let ts = |t: Option<u64>| t.map(|v| v as i64);
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO pods (pod_id, name, namespace, uid, attempt, runtime, ip,
                    sandbox_pid, net_ns, ipc_ns, uts_ns, pid_ns, mnt_ns, namespace_modes_json,
                    cgroup_parent, created_ts_nanos, stopped_ts_nanos, removed_ts_nanos,
                    labels_json, status_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.pod_id,
                    p.name,
                    p.namespace,
                    p.uid,
                    p.attempt,
                    p.runtime,
                    p.ip,
                    p.sandbox_pid,
                    ns("net"),
                    ns("ipc"),
                    ns("uts"),
                    ns("pid"),
                    ns("mnt"),
                    serde_json::to_string(&p.namespace_modes).unwrap_or_default(),
                    p.cgroup_parent,
                    ts(p.created_ts_nanos),
                    ts(p.stopped_ts_nanos),
                    ts(p.removed_ts_nanos),
                    serde_json::to_string(&p.labels).unwrap_or_default(),
                    p.status_json,
                ])
            })
            .ctx("writing a pod")?;
        Ok(())
    }

    pub fn upsert_image(&mut self, i: &Image) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO images (image_id, reference, manifest_digest, config_json,
                    size_bytes, existed_before) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    i.image_id,
                    i.reference,
                    i.manifest_digest,
                    i.config_json,
                    i.size_bytes as i64,
                    i.existed_before,
                ])
            })
            .ctx("writing an image")?;
        Ok(())
    }

    pub fn upsert_layer(&mut self, l: &Layer) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO layers (image_id, layer_index, digest, diff_id, size_bytes,
                    overlay_dir) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    l.image_id,
                    l.layer_index,
                    l.digest,
                    l.diff_id,
                    l.size_bytes as i64,
                    l.overlay_dir,
                ])
            })
            .ctx("writing a layer")?;
        Ok(())
    }

    /// Stores a daemon event in its table and on the timeline.
    pub fn docker_event(&mut self, e: &DockerEvent) -> Result<()> {
        self.docker_event_row(e)?;
        self.push(Event::untasked(
            e.ts_nanos,
            EventData::Docker(Box::new(DockerInfo {
                event_type: Str::from(e.event_type.as_str()),
                action: Str::from(e.action.as_str()),
                actor_id: Str::from(e.actor_id.as_str()),
                attributes: e
                    .attributes
                    .iter()
                    .map(|(k, v)| (Str::from(k.as_str()), Str::from(v.as_str())))
                    .collect(),
            })),
        ))
    }

    /// Stores a daemon event in its table only (copies of a session push the timeline's
    /// events themselves).
    pub fn docker_event_row(&mut self, e: &DockerEvent) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO docker_events (ts_nanos, event_type, action, actor_id,
                    attributes_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.ts_nanos as i64,
                    e.event_type,
                    e.action,
                    e.actor_id,
                    serde_json::to_string(&e.attributes).unwrap_or_default(),
                ])
            })
            .ctx("writing a docker event")?;
        Ok(())
    }

    /// Stores a container resource sample in its table and on the timeline.
    pub fn resource_sample(&mut self, s: &Sample) -> Result<()> {
        self.resource_sample_row(s)?;
        let r = &s.sample;
        self.push(Event::untasked(
            s.ts_nanos,
            EventData::ResourceSample(Box::new(ResourceSample {
                container_id: Str::from(r.container_id.as_str()),
                cpu_nanos: r.cpu_nanos,
                mem_bytes: r.mem_bytes,
                mem_limit_bytes: r.mem_limit_bytes,
                blk_read_bytes: r.blk_read_bytes,
                blk_write_bytes: r.blk_write_bytes,
                net_rx_bytes: r.net_rx_bytes,
                net_tx_bytes: r.net_tx_bytes,
                pids: r.pids,
            })),
        ))
    }

    /// Stores a container resource sample in its table only.
    pub fn resource_sample_row(&mut self, s: &Sample) -> Result<()> {
        let r = &s.sample;
        self.conn
            .prepare_cached(
                "INSERT INTO resource_samples (ts_nanos, container_id, cpu_nanos, mem_bytes,
                    mem_limit_bytes, blk_read_bytes, blk_write_bytes, net_rx_bytes, net_tx_bytes,
                    pids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    s.ts_nanos as i64,
                    r.container_id,
                    r.cpu_nanos as i64,
                    r.mem_bytes as i64,
                    r.mem_limit_bytes as i64,
                    r.blk_read_bytes as i64,
                    r.blk_write_bytes as i64,
                    r.net_rx_bytes as i64,
                    r.net_tx_bytes as i64,
                    r.pids,
                ])
            })
            .ctx("writing a resource sample")?;
        Ok(())
    }

    pub fn daemon_sample(&mut self, d: &DaemonSample) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO daemon_samples (ts_nanos, containers_running, containers_paused,
                    containers_stopped, images) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    d.ts_nanos as i64,
                    d.containers_running,
                    d.containers_paused,
                    d.containers_stopped,
                    d.images,
                ])
            })
            .ctx("writing a daemon sample")?;
        Ok(())
    }

    /// Records a loss in its table and on the timeline.
    pub fn loss(&mut self, l: &Loss) -> Result<()> {
        self.loss_row(l)?;
        self.push(Event::untasked(
            l.ts_nanos,
            EventData::Lost(LossInfo {
                source: l.source,
                cpu: l.cpu,
                count: l.count,
                until_ts_nanos: l.until_ts_nanos,
            }),
        ))
    }

    /// Records a loss in its table only.
    pub fn loss_row(&mut self, l: &Loss) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO losses (ts_nanos, until_ts_nanos, source, cpu, lost_events)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    l.ts_nanos as i64,
                    l.until_ts_nanos as i64,
                    l.source.name(),
                    l.cpu,
                    l.count as i64,
                ])
            })
            .ctx("writing a loss record")?;
        Ok(())
    }

    pub fn upsert_probe(&mut self, p: &Probe) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO probes (probe_id, name, builtin, programs_json,
                    record_type, btf, object_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    p.probe_id,
                    p.name,
                    p.builtin,
                    serde_json::to_string(&p.programs).unwrap_or_default(),
                    p.record_type,
                    p.btf,
                    p.object_sha256,
                ])
            })
            .ctx("writing a probe")?;
        Ok(())
    }

    pub fn bookmark(&mut self, b: &Bookmark) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO bookmarks (ts_nanos, label, note) VALUES (?1, ?2, ?3)",
                params![b.ts_nanos as i64, b.label, b.note],
            )
            .ctx("writing a bookmark")?;
        Ok(())
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
        // Best effort, the session is complete already: drop the free pages and the WAL so
        // the file travels alone. A reader still attached (live tail) or a full disk keeps
        // the file as it is, which is just as readable.
        let _ = self.conn.busy_timeout(Duration::from_millis(500));
        if self.conn.execute_batch("VACUUM").is_ok() {
            let _ = self.conn.execute_batch("PRAGMA journal_mode = DELETE");
        }
        let chunks: i64 = self
            .conn
            .query_row("SELECT count(*) FROM chunks", [], |r| r.get(0))
            .ctx("counting chunks")?;
        let file_bytes = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        Ok(WriteSummary {
            events: self.events,
            chunks: chunks as u64,
            file_bytes,
            kind_counts: Kind::ALL
                .iter()
                .zip(self.kind_counts)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (*k, n))
                .collect(),
            events_span: (self.events > 0).then_some((self.min_ts_nanos, self.max_ts_nanos)),
        })
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
            // Keep what was pushed; the session stays `recording` and reads as interrupted.
            let _ = self.commit();
        }
    }
}
