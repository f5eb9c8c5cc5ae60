//! The entity tables as the writer fills them (and the events some of them also are).

use rusqlite::params;

use super::SessionWriter;
use crate::entities::{
    Bookmark, Container, DaemonSample, DockerEvent, Image, Layer, Loss, Pod, Probe, Process, Sample,
};
use crate::error::{Result, SqlContext};
use crate::event::{DockerInfo, Event, EventData, LossInfo, ResourceSample, Str};

impl SessionWriter {
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
}
