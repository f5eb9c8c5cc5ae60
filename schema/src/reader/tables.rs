//! The entity tables, read as rows: containers, pods, processes, images, layers, daemon
//! events, samples, losses, probes and bookmarks.

use rusqlite::{OptionalExtension, Row};

use super::{Session, nonneg};
use crate::entities::{
    Bookmark, Component, Container, DaemonSample, DockerEvent, Image, Layer, Loss, Pod, Probe,
    Process, Sample,
};
use crate::error::{Result, SqlContext};
use crate::event::{LossSource, Namespaces, ResourceSample};

impl Session {
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
                    start_ts_nanos: nonneg(r.get(5)?),
                    exit_ts_nanos: r.get::<_, Option<i64>>(6)?.map(nonneg),
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
                    Ok(r.get::<_, Option<i64>>(i)?.map(nonneg))
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
                    Ok(r.get::<_, Option<i64>>(i)?.map(nonneg))
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
                    size_bytes: nonneg(r.get(4)?),
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
                    size_bytes: nonneg(r.get(4)?),
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
                    ts_nanos: nonneg(r.get(0)?),
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
                    ts_nanos: nonneg(r.get(0)?),
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
                    ts_nanos: nonneg(r.get(0)?),
                    until_ts_nanos: nonneg(r.get(1)?),
                    source: LossSource::from_name(&r.get::<_, String>(2)?)
                        .unwrap_or(LossSource::Recorder),
                    cpu: r.get(3)?,
                    count: nonneg(r.get(4)?),
                })
            },
        )
    }

    /// Total events lost, over all loss records.
    pub fn lost_events(&self) -> Result<u64> {
        // Summed here, saturating: SQLite's sum() fails on overflow.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT lost_events FROM losses")
            .ctx("summing losses")?;
        let mut rows = stmt.query([]).ctx("summing losses")?;
        let mut total = 0u64;
        while let Some(r) = rows.next().ctx("summing losses")? {
            total = total.saturating_add(nonneg(r.get(0).ctx("summing losses")?));
        }
        Ok(total)
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
                    ts_nanos: nonneg(r.get(0)?),
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
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1 AND length(value) <= ?2",
                rusqlite::params![key, crate::story::MAX_MOUNTINFO_BYTES as i64],
                |r| r.get(0),
            )
            .optional()
            .with_ctx(|| format!("reading metadata {key}"))
    }

    /// The chapters the recorder stored (`None` when the session has none: derive them
    /// with [`crate::story::Story::derive`]).
    pub fn chapters(&self) -> Result<Option<Vec<crate::story::Chapter>>> {
        crate::story::read_chapters(&self.conn)
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
