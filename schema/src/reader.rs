//! Reads a session file, also while a writer is still appending to it.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::chunk::{Bloom, ChunkError, ChunkLayout, ChunkView};
use crate::entities::{
    Bookmark, Component, Container, DaemonSample, DockerEvent, Image, Layer, Loss, Meta, Pod,
    Probe, Process, Sample, SessionInfo, Status, StoredStatus,
};
use crate::error::{Error, Result, SqlContext};
use crate::event::{Event, Kind, KindSet, LossSource, Namespaces, ResourceSample};
use crate::sql::{APPLICATION_ID, FORMAT_VERSION};

/// A writer whose last commit is older than this is considered gone.
pub const STALE_HEARTBEAT_NANOS: i64 = 5_000_000_000;

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
}

impl Query {
    pub fn all() -> Self {
        Self::default()
    }

    fn chunk_may_match(&self, c: &ChunkInfo, cgroups: Option<&[u64]>) -> bool {
        self.time
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

/// An open session file (read-only).
pub struct Session {
    conn: Connection,
    path: PathBuf,
    meta: Meta,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// How this session's chunks are laid out (checked to be known when it was opened).
    fn layout(&self) -> ChunkLayout {
        ChunkLayout::for_format(self.meta.format_version).unwrap_or(ChunkLayout::CURRENT)
    }
}

fn not_a_session(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotASession {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Session {
    /// Opens a session file read-only. Refuses files that are not sessions, and sessions
    /// from a newer format version, with a message that says so.
    pub fn open(path: &Path) -> Result<Self> {
        let mut header = [0u8; 100];
        let mut file = std::fs::File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let n = read_up_to(&mut file, &mut header).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
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
        drop(file);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_ctx(|| format!("opening {}", path.display()))?;
        let meta = match read_meta(&conn, path) {
            Err(Error::Sqlite { source, .. })
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) =>
            {
                // A truncated file: SQLite refuses it unless told to tolerate a header that
                // promises more pages than there are. The connection is read-only, so this
                // changes nothing on disk; what is left becomes readable, the rest errors.
                conn.execute_batch("PRAGMA writable_schema = ON")
                    .with_ctx(|| format!("opening {}", path.display()))?;
                read_meta(&conn, path)?
            }
            other => other?,
        };
        Ok(Self {
            conn,
            path: path.to_owned(),
            meta,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Metadata as read at open (see [`Session::refresh_meta`]).
    pub fn meta(&self) -> &Meta {
        &self.meta
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
            .map_or(0, |d| d.as_nanos() as i64);
        self.status_at(now)
    }

    /// The status as judged at wall-clock time `now_wall_nanos`.
    pub fn status_at(&self, now_wall_nanos: i64) -> Status {
        match self.meta.stored_status {
            StoredStatus::Complete => Status::Complete,
            StoredStatus::Recording
                if now_wall_nanos.saturating_sub(self.meta.heartbeat_wall_nanos)
                    <= STALE_HEARTBEAT_NANOS =>
            {
                Status::Live
            }
            StoredStatus::Recording => Status::Interrupted,
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
            .map(|(a, b)| a.zip(b).map(|(a, b)| (a as u64, b as u64)))
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
            .prepare("SELECT kind, events FROM kind_counts")
            .ctx("reading kind counts")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx("reading kind counts")?;
        let mut out = Vec::new();
        for row in rows {
            let (name, n) = row.ctx("reading kind counts")?;
            // A kind this build does not know is counted, not dropped.
            if let Some(kind) = Kind::from_name(&name) {
                out.push((kind, n.max(0) as u64));
            }
        }
        out.sort_by_key(|(k, _)| *k);
        Ok(out)
    }

    /// Iterates the events that match `query`, in time order. A corrupt chunk yields one
    /// error naming it; iteration then goes on with the next chunk.
    pub fn events(&self, query: &Query) -> Result<EventIter<'_>> {
        let cgroups = self.resolve_cgroups(query)?;
        // A damaged chunk table is reported first; the chunks before the damage still read.
        let (all, damage) = load_chunk_list(&self.conn);
        let chunks: Vec<ChunkInfo> = all
            .into_iter()
            .filter(|c| query.chunk_may_match(c, cgroups.as_deref()))
            .collect();
        Ok(EventIter {
            session: self,
            query: query.clone(),
            cgroups,
            chunks,
            next_chunk: 0,
            buf: Vec::new().into_iter(),
            pending_error: damage,
        })
    }

    /// Visits the events that match `query` in time order, with strings borrowed from the
    /// decoded chunk: the fastest way to read a session (no allocation or reference count per
    /// event). Stops when `f` breaks. Chunks that cannot be read are skipped and returned in
    /// the summary's errors.
    pub fn scan(
        &self,
        query: &Query,
        mut f: impl for<'a> FnMut(Event<&'a str>) -> ControlFlow<()>,
    ) -> Result<ScanSummary> {
        let cgroups = self.resolve_cgroups(query)?;
        let (all, damage) = load_chunk_list(&self.conn);
        let chunks: Vec<ChunkInfo> = all
            .into_iter()
            .filter(|c| query.chunk_may_match(c, cgroups.as_deref()))
            .collect();
        let mut summary = ScanSummary {
            errors: damage.into_iter().collect(),
            ..ScanSummary::default()
        };
        let filtered = *query != Query::all();
        let cg = cgroups.as_deref();
        for group in ChunkGroups::new(&chunks) {
            let mut views = Vec::with_capacity(group.len());
            for info in group {
                match read_chunk_view(&self.conn, info.chunk_seq, self.layout()) {
                    Ok(v) => views.push((info.chunk_seq, v)),
                    Err(e) => summary.errors.push(e),
                }
            }
            summary.chunks_read += views.len();
            let mut visit = |e: Event<&str>| {
                if filtered && !query.event_matches(&e, cg) {
                    return ControlFlow::Continue(());
                }
                summary.events += 1;
                f(e)
            };
            if let [(seq, view)] = views.as_slice() {
                match view.for_each(&mut visit) {
                    Ok(ControlFlow::Break(())) => return Ok(summary),
                    Ok(ControlFlow::Continue(())) => {}
                    Err(source) => summary.errors.push(Error::CorruptChunk {
                        chunk_seq: *seq,
                        source,
                    }),
                }
                continue;
            }
            // Overlapping chunks: merge their events by time before visiting.
            let mut merged: Vec<Event<&str>> = Vec::new();
            for (seq, view) in &views {
                let start = merged.len();
                let r = view.for_each(|e| {
                    merged.push(e);
                    ControlFlow::Continue(())
                });
                if let Err(source) = r {
                    merged.truncate(start);
                    summary.errors.push(Error::CorruptChunk {
                        chunk_seq: *seq,
                        source,
                    });
                }
            }
            merged.sort_by_key(|e| e.header.ts_nanos);
            for e in merged {
                if visit(e).is_break() {
                    return Ok(summary);
                }
            }
        }
        Ok(summary)
    }

    /// Every event of the session in time order, or the first error.
    pub fn all_events(&self) -> Result<Vec<Event>> {
        self.events(&Query::all())?.collect()
    }

    fn resolve_cgroups(&self, query: &Query) -> Result<Option<Vec<u64>>> {
        let mut cgroups = query.cgroup_ids.clone();
        if let Some(ids) = &query.container_ids {
            let containers = self.containers()?;
            let set = cgroups.get_or_insert_with(Vec::new);
            for id in ids {
                for c in containers
                    .iter()
                    .filter(|c| c.container_id.starts_with(id.as_str()))
                {
                    set.extend(c.cgroup_id);
                }
            }
        }
        Ok(cgroups)
    }

    /// A cursor that returns what was appended after this call.
    pub fn tail(&self) -> Result<TailCursor> {
        let last_seq: i64 = self
            .conn
            .query_row("SELECT coalesce(max(chunk_seq), 0) FROM chunks", [], |r| {
                r.get(0)
            })
            .ctx("reading the last chunk")?;
        Ok(TailCursor {
            last_seq,
            generation: self.meta.generation,
        })
    }

    /// A cursor that returns everything on its first poll.
    pub fn tail_from_start(&self) -> TailCursor {
        TailCursor {
            last_seq: 0,
            generation: self.meta.generation,
        }
    }

    pub fn processes(&self) -> Result<Vec<Process>> {
        self.query_rows(
            "processes",
            "SELECT pid, ppid, comm, exe, argv, start_ts_nanos, exit_ts_nanos, exit_code,
                container_id, component, cgroup_id, pid_ns, mnt_ns, net_ns
             FROM processes ORDER BY start_ts_nanos, pid",
            |r| {
                Ok(Process {
                    pid: r.get(0)?,
                    ppid: r.get(1)?,
                    comm: r.get(2)?,
                    exe: r.get(3)?,
                    argv: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                    start_ts_nanos: r.get::<_, i64>(5)? as u64,
                    exit_ts_nanos: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    exit_code: r.get(7)?,
                    container_id: r.get(8)?,
                    component: Component::from_name(&r.get::<_, String>(9)?)
                        .unwrap_or(Component::Other),
                    cgroup_id: r.get::<_, i64>(10)? as u64,
                    ns: Namespaces {
                        pid_ns: r.get(11)?,
                        mnt_ns: r.get(12)?,
                        net_ns: r.get(13)?,
                        ..Namespaces::default()
                    },
                })
            },
        )
    }

    pub fn containers(&self) -> Result<Vec<Container>> {
        // Files written before pods were recorded have no pod_id column. A pod's containers
        // come together, its sandbox first, at the time the pod's first one was created.
        let created = "coalesce(created_ts_nanos, started_ts_nanos, 0)";
        let (pod_id, order) = if self.has_column("containers", "pod_id")? {
            (
                "pod_id",
                format!(
                    "coalesce((SELECT min(coalesce(p.created_ts_nanos, p.started_ts_nanos, 0))
                               FROM containers p WHERE p.pod_id = containers.pod_id), {created}),
                     coalesce(pod_id, container_id), container_id <> coalesce(pod_id, ''),
                     {created}"
                ),
            )
        } else {
            ("NULL", created.to_owned())
        };
        self.query_rows(
            "containers",
            &format!(
                "SELECT container_id, name, image, image_id, init_pid, cgroup_id, cgroup_path,
                    created_ts_nanos, started_ts_nanos, died_ts_nanos, destroyed_ts_nanos,
                    exit_code, pid_ns, mnt_ns, net_ns, uts_ns, ipc_ns, cgroup_ns, user_ns, time_ns,
                    lower_dirs, upper_dir, work_dir, merged_dir, inspect_json, {pod_id}
                 FROM containers ORDER BY {order}"
            ),
            |r| {
                let ts = |i: usize| -> rusqlite::Result<Option<u64>> {
                    Ok(r.get::<_, Option<i64>>(i)?.map(|v| v as u64))
                };
                let mut namespaces = Vec::new();
                for (i, kind) in ["pid", "mnt", "net", "uts", "ipc", "cgroup", "user", "time"]
                    .iter()
                    .enumerate()
                {
                    if let Some(v) = r.get::<_, Option<i64>>(12 + i)? {
                        namespaces.push(((*kind).to_owned(), v as u64));
                    }
                }
                let lower: String = r.get(20)?;
                Ok(Container {
                    container_id: r.get(0)?,
                    name: r.get(1)?,
                    image: r.get(2)?,
                    image_id: r.get(3)?,
                    init_pid: r.get(4)?,
                    cgroup_id: ts(5)?,
                    cgroup_path: r.get(6)?,
                    created_ts_nanos: ts(7)?,
                    started_ts_nanos: ts(8)?,
                    died_ts_nanos: ts(9)?,
                    destroyed_ts_nanos: ts(10)?,
                    exit_code: r.get(11)?,
                    namespaces,
                    lower_dirs: lower
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    upper_dir: r.get(21)?,
                    work_dir: r.get(22)?,
                    merged_dir: r.get(23)?,
                    inspect_json: r.get(24)?,
                    pod_id: r.get(25)?,
                })
            },
        )
    }

    /// The pods, in creation order (none in files written before pods were recorded).
    pub fn pods(&self) -> Result<Vec<Pod>> {
        if !self.has_table("pods")? {
            return Ok(Vec::new());
        }
        self.query_rows(
            "pods",
            "SELECT pod_id, name, namespace, uid, attempt, runtime, ip, sandbox_pid, net_ns,
                ipc_ns, uts_ns, pid_ns, mnt_ns, namespace_modes_json, cgroup_parent,
                created_ts_nanos, stopped_ts_nanos, removed_ts_nanos, labels_json, status_json
             FROM pods ORDER BY coalesce(created_ts_nanos, 0), pod_id",
            |r| {
                let ts = |i: usize| -> rusqlite::Result<Option<u64>> {
                    Ok(r.get::<_, Option<i64>>(i)?.map(|v| v as u64))
                };
                let mut namespaces = Vec::new();
                for (i, kind) in ["net", "ipc", "uts", "pid", "mnt"].iter().enumerate() {
                    if let Some(v) = r.get::<_, Option<i64>>(8 + i)? {
                        namespaces.push(((*kind).to_owned(), v as u64));
                    }
                }
                let pairs = |i: usize| -> rusqlite::Result<Vec<(String, String)>> {
                    let text: String = r.get(i)?;
                    Ok(serde_json::from_str(&text).unwrap_or_default())
                };
                Ok(Pod {
                    pod_id: r.get(0)?,
                    name: r.get(1)?,
                    namespace: r.get(2)?,
                    uid: r.get(3)?,
                    attempt: r.get(4)?,
                    runtime: r.get(5)?,
                    ip: r.get(6)?,
                    sandbox_pid: r.get(7)?,
                    namespaces,
                    namespace_modes: pairs(13)?,
                    cgroup_parent: r.get(14)?,
                    created_ts_nanos: ts(15)?,
                    stopped_ts_nanos: ts(16)?,
                    removed_ts_nanos: ts(17)?,
                    labels: pairs(18)?,
                    status_json: r.get(19)?,
                })
            },
        )
    }

    fn has_table(&self, table: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .with_ctx(|| format!("looking for the {table} table"))
    }

    fn has_column(&self, table: &str, column: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .with_ctx(|| format!("looking for {table}.{column}"))
    }

    pub fn images(&self) -> Result<Vec<Image>> {
        self.query_rows(
            "images",
            "SELECT image_id, reference, manifest_digest, config_json, size_bytes, existed_before
             FROM images ORDER BY reference",
            |r| {
                Ok(Image {
                    image_id: r.get(0)?,
                    reference: r.get(1)?,
                    manifest_digest: r.get(2)?,
                    config_json: r.get(3)?,
                    size_bytes: r.get::<_, i64>(4)? as u64,
                    existed_before: r.get(5)?,
                })
            },
        )
    }

    pub fn layers(&self) -> Result<Vec<Layer>> {
        self.query_rows(
            "layers",
            "SELECT image_id, layer_index, digest, diff_id, size_bytes, overlay_dir
             FROM layers ORDER BY image_id, layer_index",
            |r| {
                Ok(Layer {
                    image_id: r.get(0)?,
                    layer_index: r.get(1)?,
                    digest: r.get(2)?,
                    diff_id: r.get(3)?,
                    size_bytes: r.get::<_, i64>(4)? as u64,
                    overlay_dir: r.get(5)?,
                })
            },
        )
    }

    pub fn docker_events(&self) -> Result<Vec<DockerEvent>> {
        self.query_rows(
            "docker_events",
            "SELECT ts_nanos, event_type, action, actor_id, attributes_json
             FROM docker_events ORDER BY ts_nanos, rowid",
            |r| {
                Ok(DockerEvent {
                    ts_nanos: r.get::<_, i64>(0)? as u64,
                    event_type: r.get(1)?,
                    action: r.get(2)?,
                    actor_id: r.get(3)?,
                    attributes: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                })
            },
        )
    }

    pub fn resource_samples(&self) -> Result<Vec<Sample>> {
        self.query_rows(
            "resource_samples",
            "SELECT ts_nanos, container_id, cpu_nanos, mem_bytes, mem_limit_bytes, blk_read_bytes,
                blk_write_bytes, net_rx_bytes, net_tx_bytes, pids
             FROM resource_samples ORDER BY ts_nanos, rowid",
            |r| {
                let u = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)? as u64) };
                Ok(Sample {
                    ts_nanos: u(0)?,
                    sample: ResourceSample {
                        container_id: r.get(1)?,
                        cpu_nanos: u(2)?,
                        mem_bytes: u(3)?,
                        mem_limit_bytes: u(4)?,
                        blk_read_bytes: u(5)?,
                        blk_write_bytes: u(6)?,
                        net_rx_bytes: u(7)?,
                        net_tx_bytes: u(8)?,
                        pids: r.get(9)?,
                    },
                })
            },
        )
    }

    pub fn daemon_samples(&self) -> Result<Vec<DaemonSample>> {
        self.query_rows(
            "daemon_samples",
            "SELECT ts_nanos, containers_running, containers_paused, containers_stopped, images
             FROM daemon_samples ORDER BY ts_nanos, rowid",
            |r| {
                Ok(DaemonSample {
                    ts_nanos: r.get::<_, i64>(0)? as u64,
                    containers_running: r.get(1)?,
                    containers_paused: r.get(2)?,
                    containers_stopped: r.get(3)?,
                    images: r.get(4)?,
                })
            },
        )
    }

    pub fn losses(&self) -> Result<Vec<Loss>> {
        self.query_rows(
            "losses",
            "SELECT ts_nanos, until_ts_nanos, source, cpu, lost_events
             FROM losses ORDER BY ts_nanos, rowid",
            |r| {
                Ok(Loss {
                    ts_nanos: r.get::<_, i64>(0)? as u64,
                    until_ts_nanos: r.get::<_, i64>(1)? as u64,
                    source: LossSource::from_name(&r.get::<_, String>(2)?)
                        .unwrap_or(LossSource::Recorder),
                    cpu: r.get(3)?,
                    count: r.get::<_, i64>(4)? as u64,
                })
            },
        )
    }

    /// Total events lost, over all loss records.
    pub fn lost_events(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT coalesce(sum(lost_events), 0) FROM losses",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .ctx("summing losses")
    }

    pub fn probes(&self) -> Result<Vec<Probe>> {
        self.query_rows(
            "probes",
            "SELECT probe_id, name, builtin, programs_json, record_type, btf, object_sha256
             FROM probes ORDER BY probe_id",
            |r| {
                Ok(Probe {
                    probe_id: r.get(0)?,
                    name: r.get(1)?,
                    builtin: r.get(2)?,
                    programs: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                    record_type: r.get(4)?,
                    btf: r.get(5)?,
                    object_sha256: r.get(6)?,
                })
            },
        )
    }

    pub fn bookmarks(&self) -> Result<Vec<Bookmark>> {
        self.query_rows(
            "bookmarks",
            "SELECT ts_nanos, label, note FROM bookmarks ORDER BY ts_nanos",
            |r| {
                Ok(Bookmark {
                    ts_nanos: r.get::<_, i64>(0)? as u64,
                    label: r.get(1)?,
                    note: r.get(2)?,
                })
            },
        )
    }

    /// Every metadata row (`key`, `value`), by key: what a copy of the session carries over
    /// besides what [`Session::meta`] reads.
    pub fn meta_entries(&self) -> Result<Vec<(String, String)>> {
        self.query_rows("meta", "SELECT key, value FROM meta ORDER BY key", |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// A metadata value by key (`None` when absent), read now. Values longer than the
    /// story's bound ([`crate::story::MAX_MOUNTINFO_BYTES`]) are refused.
    pub fn meta_value(&self, key: &str) -> Result<Option<String>> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1 AND length(value) <= ?2",
                rusqlite::params![key, crate::story::MAX_MOUNTINFO_BYTES as i64],
                |r| r.get(0),
            )
            .optional()
            .with_ctx(|| format!("reading metadata {key}"))?;
        Ok(v)
    }

    /// The chapters the recorder stored (`None` when the session has none: derive them
    /// with [`crate::story::Story::derive`]).
    pub fn chapters(&self) -> Result<Option<Vec<crate::story::Chapter>>> {
        crate::story::read_chapters(&self.conn)
    }

    /// File size in bytes (main file plus WAL while recording).
    pub fn file_bytes(&self) -> u64 {
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
            + std::fs::metadata(&wal).map_or(0, |m| m.len())
    }

    fn query_rows<T>(
        &self,
        table: &str,
        sql: &str,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .with_ctx(|| format!("reading {table}"))?;
        let rows = stmt
            .query_map([], f)
            .with_ctx(|| format!("reading {table}"))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .with_ctx(|| format!("reading {table}"))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_meta(conn: &Connection, path: &Path) -> Result<Meta> {
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .with_ctx(|| format!("reading {}", path.display()))?
        > 0;
    if !has_meta {
        return Err(not_a_session(path, "it has no meta table"));
    }
    let get = |key: &str| -> Result<Option<String>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()
        .with_ctx(|| format!("reading metadata {key} of {}", path.display()))
    };
    let version_text =
        get("format_version")?.ok_or_else(|| not_a_session(path, "it has no format version"))?;
    let format_version: u32 = version_text.parse().map_err(|_| {
        not_a_session(
            path,
            format!("format version {version_text:?} is not a number"),
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
            Some(v) => v.parse().map(Some).map_err(|_| Error::InvalidRow {
                what: "metadata",
                detail: format!("{key} = {v:?} is not a number"),
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
            start_ts_nanos: num("start_ts_nanos")?.unwrap_or(0) as u64,
        },
        end_ts_nanos: num("end_ts_nanos")?.map(|v| v as u64),
        stored_status,
        heartbeat_wall_nanos: num("heartbeat_wall_nanos")?.unwrap_or(0),
        generation: num("generation")?.unwrap_or(0),
    })
}

/// The chunk table ordered by time. Rows are read in storage order and sorted here, so a
/// truncated file still yields every row before the damage; the damage is returned beside.
pub(crate) fn load_chunk_list(conn: &Connection) -> (Vec<ChunkInfo>, Option<Error>) {
    let mut out = Vec::new();
    let result = (|| {
        let mut stmt = conn.prepare_cached(
            "SELECT chunk_seq, first_ts_nanos, last_ts_nanos, event_count, kinds_mask, tgid_bloom,
                cgroup_bloom, raw_len, length(body)
             FROM chunks",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.push(ChunkInfo {
                chunk_seq: r.get(0)?,
                first_ts_nanos: r.get::<_, i64>(1)? as u64,
                last_ts_nanos: r.get::<_, i64>(2)? as u64,
                event_count: r.get::<_, i64>(3)?.clamp(0, u32::MAX.into()) as u32,
                kinds: KindSet(r.get::<_, i64>(4)? as u64),
                tgid_bloom: Bloom::from_stored(&r.get::<_, Vec<u8>>(5)?),
                cgroup_bloom: Bloom::from_stored(&r.get::<_, Vec<u8>>(6)?),
                raw_len: r.get::<_, i64>(7)?.max(0) as u64,
                stored_len: r.get::<_, i64>(8)?.max(0) as u64,
            });
        }
        Ok(())
    })();
    out.sort_by_key(|c| (c.first_ts_nanos, c.chunk_seq));
    let error = result.err().map(|source: rusqlite::Error| Error::Sqlite {
        context: format!(
            "listing chunks (the {} before the damage are readable)",
            out.len()
        ),
        source,
    });
    (out, error)
}

/// Reads and decompresses one chunk.
fn read_chunk_view(conn: &Connection, chunk_seq: i64, layout: ChunkLayout) -> Result<ChunkView> {
    let (raw_len, body): (i64, Vec<u8>) = conn
        .prepare_cached("SELECT raw_len, body FROM chunks WHERE chunk_seq = ?1")
        .and_then(|mut s| s.query_row([chunk_seq], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(|source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => Error::CorruptChunk {
                chunk_seq,
                source: ChunkError::Invalid(format!("the file is damaged here: {source}")),
            },
            _ => Error::Sqlite {
                context: format!("reading chunk {chunk_seq}"),
                source,
            },
        })?;
    ChunkView::parse(&body, raw_len.max(0) as u64, layout)
        .map_err(|source| Error::CorruptChunk { chunk_seq, source })
}

/// Decodes one chunk's events onto `out`.
pub(crate) fn read_chunk_body(
    conn: &Connection,
    chunk_seq: i64,
    layout: ChunkLayout,
    out: &mut Vec<Event>,
) -> Result<()> {
    read_chunk_view(conn, chunk_seq, layout)?
        .append_owned(out)
        .map_err(|source| Error::CorruptChunk { chunk_seq, source })
}

/// Groups of chunks whose time ranges overlap (transitively), in time order: sorting each
/// group's events gives a globally ordered stream.
pub(crate) struct ChunkGroups<'a> {
    chunks: &'a [ChunkInfo],
}

impl<'a> ChunkGroups<'a> {
    /// `chunks` must be ordered by first timestamp.
    pub(crate) fn new(chunks: &'a [ChunkInfo]) -> Self {
        Self { chunks }
    }
}

impl<'a> Iterator for ChunkGroups<'a> {
    type Item = &'a [ChunkInfo];

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.chunks.first()?;
        let mut end = first.last_ts_nanos;
        let mut n = 1;
        while let Some(c) = self.chunks.get(n) {
            if c.first_ts_nanos > end {
                break;
            }
            end = end.max(c.last_ts_nanos);
            n += 1;
        }
        let (group, rest) = self.chunks.split_at(n);
        self.chunks = rest;
        Some(group)
    }
}

/// What [`Session::scan`] did.
#[derive(Debug, Default)]
pub struct ScanSummary {
    /// Events passed to the callback.
    pub events: u64,
    /// Chunks decompressed (the others were skipped unopened).
    pub chunks_read: usize,
    /// Chunks that could not be read, and damage to the chunk table.
    pub errors: Vec<Error>,
}

/// Events matching a query, in time order.
pub struct EventIter<'s> {
    session: &'s Session,
    query: Query,
    cgroups: Option<Vec<u64>>,
    chunks: Vec<ChunkInfo>,
    next_chunk: usize,
    buf: std::vec::IntoIter<Event>,
    pending_error: Option<Error>,
}

impl std::fmt::Debug for EventIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIter")
            .field("next_chunk", &self.next_chunk)
            .finish_non_exhaustive()
    }
}

impl EventIter<'_> {
    /// How many chunks the query still has to decompress (the others were skipped by their
    /// time range, kind mask or Bloom filters).
    pub fn chunks_to_read(&self) -> usize {
        self.chunks.len() - self.next_chunk
    }

    /// Loads the next group of overlapping chunks into `buf`.
    fn load_group(&mut self) {
        let Some(group) = ChunkGroups::new(&self.chunks[self.next_chunk..]).next() else {
            return;
        };
        let group_len = group.len();
        let mut buf = std::mem::take(&mut self.buf).collect::<Vec<_>>();
        buf.clear();
        for info in group {
            if let Err(e) = read_chunk_body(
                &self.session.conn,
                info.chunk_seq,
                self.session.layout(),
                &mut buf,
            ) {
                // Report the first failure of this group; its other chunks still count.
                self.pending_error.get_or_insert(e);
            }
        }
        self.next_chunk += group_len;
        let filtered = self.query != Query::all() || self.cgroups.is_some();
        if filtered {
            let (q, g) = (&self.query, self.cgroups.as_deref());
            buf.retain(|e| q.event_matches(e, g));
        }
        if group_len > 1 {
            buf.sort_by_key(|e| e.header.ts_nanos);
        }
        self.buf = buf.into_iter();
    }
}

impl Iterator for EventIter<'_> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.pending_error.take() {
                return Some(Err(e));
            }
            if let Some(ev) = self.buf.next() {
                return Some(Ok(ev));
            }
            if self.next_chunk >= self.chunks.len() {
                return None;
            }
            self.load_group();
        }
    }
}

/// Follows a session that is being written: each poll returns what was committed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCursor {
    last_seq: i64,
    generation: i64,
}

/// What a poll of a [`TailCursor`] found.
#[derive(Debug, Default)]
pub struct TailUpdate {
    /// New events, each chunk in time order (chunks may overlap slightly in time).
    pub events: Vec<Event>,
    /// The writer rewrote its chunks (compaction on finish): reload the session instead of
    /// appending. `events` is empty then.
    pub rewritten: bool,
    /// Chunks that could not be decoded.
    pub errors: Vec<Error>,
}

impl TailCursor {
    pub fn poll(&mut self, session: &mut Session) -> Result<TailUpdate> {
        session.refresh_meta()?;
        if session.meta.generation != self.generation {
            self.generation = session.meta.generation;
            self.last_seq = i64::MAX;
            return Ok(TailUpdate {
                rewritten: true,
                ..TailUpdate::default()
            });
        }
        let seqs: Vec<i64> = session
            .conn
            .prepare_cached("SELECT chunk_seq FROM chunks WHERE chunk_seq > ?1 ORDER BY chunk_seq")
            .and_then(|mut s| {
                s.query_map([self.last_seq], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .ctx("looking for new chunks")?;
        let mut update = TailUpdate::default();
        for seq in seqs {
            if let Err(e) =
                read_chunk_body(&session.conn, seq, session.layout(), &mut update.events)
            {
                update.errors.push(e);
            }
            self.last_seq = seq;
        }
        Ok(update)
    }

    /// Makes the cursor continue after everything currently in `session` (after a reload).
    pub fn reset_to_end(&mut self, session: &Session) -> Result<()> {
        *self = session.tail()?;
        Ok(())
    }
}
