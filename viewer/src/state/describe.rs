//! Events in words: a one-line summary for the table and every field decoded for the
//! details panel, both written against the kind descriptions (`beefine_schema::Kind::fields`):
//! a kind needs nothing here unless its summary needs more than its template.

use std::fmt::Write as _;

use beefine_schema::text;
use beefine_schema::{Decode, EventData, FieldDesc, FieldRef, names};

use super::session::{LoadedSession, component_name, task_ns_text};
use super::store::{EventIdx, StrId};
use crate::format;
use beefine_schema::story::noise;

/// One decoded field of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub label: String,
    pub value: String,
    /// What the value means, when it needs saying (the layer a path is in, …).
    pub note: Option<String>,
}

fn field(label: &str, value: impl Into<String>) -> Field {
    Field {
        label: label.to_owned(),
        value: value.into(),
        note: None,
    }
}

/// A one-line summary of an event's own fields and, when it failed, its error (the
/// table's last column).
pub fn summary(l: &LoadedSession, idx: EventIdx) -> String {
    let mut out = fields_summary(l, idx);
    if let Some(r) = l.store.result_of(idx)
        && r < 0
    {
        let _ = write!(out, "  → {}", names::result_text(r));
    }
    out
}

/// A one-line summary of an event's own fields: prose for the kinds that need more than a
/// template, the kind's template, else every field's short text.
fn fields_summary(l: &LoadedSession, idx: EventIdx) -> String {
    let store = &l.store;
    let strings = &store.strings;
    let s = |id: &StrId| store.str(*id);
    match store.data_of(idx) {
        EventData::Exec(e) => {
            let args: Vec<&str> = e.argv.iter().map(s).collect();
            let line = args.join(" ");
            if args.first().is_some_and(|a0| s(&e.filename).ends_with(a0)) {
                line
            } else {
                format!("{}  ({line})", s(&e.filename))
            }
        }
        EventData::Fork(f) => {
            if f.child_pid == f.child_tgid {
                format!("new process {}", f.child_tgid)
            } else {
                format!("new thread {} of {}", f.child_pid, f.child_tgid)
            }
        }
        EventData::Mount(m) => {
            let flags = if m.flags == 0 {
                String::new()
            } else {
                format!(" ({})", names::flag_names(m.flags, names::MOUNT_FLAGS))
            };
            let (src, target, fstype) = (
                through_fd(l, idx, s(&m.source)),
                through_fd(l, idx, s(&m.target)),
                s(&m.fstype),
            );
            if m.flags & 4096 != 0 {
                format!("bind {src} on {target}{flags}")
            } else if fstype.is_empty() && src.is_empty() {
                format!("change {target}{flags}")
            } else {
                format!("{fstype} {src} on {target}{flags}")
            }
        }
        EventData::FileIo(io) => {
            let mut parts = Vec::new();
            if io.reads > 0 || io.bytes_read > 0 {
                parts.push(format!(
                    "read {} in {}",
                    format::bytes(io.bytes_read),
                    io.reads
                ));
            }
            if io.writes > 0 || io.bytes_written > 0 {
                parts.push(format!(
                    "wrote {} in {}",
                    format::bytes(io.bytes_written),
                    io.writes
                ));
            }
            let file = io
                .path
                .as_ref()
                .map_or_else(|| format!("fd {}", io.fd), |p| s(p).to_owned());
            format!("{file}  {}", parts.join(", "))
        }
        EventData::Packet(p) => {
            let payload = payload_text(&p.payload);
            let mut line = format!(
                "{} {} → {}  {}",
                names::ip_protocol_name(p.protocol),
                text::addr_port(&p.saddr, p.sport),
                text::addr_port(&p.daddr, p.dport),
                format::bytes(u64::from(p.len))
            );
            if !payload.is_empty() {
                let _ = write!(line, "  “{}”", format::ellipsize(&payload, 60));
            }
            line
        }
        EventData::Custom(c) => {
            let name = l
                .probes
                .name(c.probe_id)
                .map_or_else(|| format!("probe {}", c.probe_id), str::to_owned);
            match l.probes.decode(c.probe_id, &c.bytes) {
                Ok(fields) => {
                    let shown: Vec<String> = fields
                        .iter()
                        .take(6)
                        .map(|(k, v)| format!("{k}={}", format::ellipsize(&v.to_string(), 40)))
                        .collect();
                    format!("{name}  {}", shown.join(" "))
                }
                Err(_) => format!("{name}, {} bytes", c.bytes.len()),
            }
        }
        EventData::Docker(d) => {
            let actor = l
                .containers
                .by_id(s(&d.actor_id))
                .map(|c| l.container_label(c))
                .or_else(|| {
                    d.attributes
                        .iter()
                        .find(|(k, _)| s(k) == "name")
                        .map(|(_, v)| s(v).to_owned())
                })
                .unwrap_or_else(|| format::short_id(s(&d.actor_id)).to_owned());
            format!("{} {} {actor}", s(&d.event_type), s(&d.action))
        }
        EventData::Lost(lost) => {
            let span = lost.until_ts_nanos.saturating_sub(store.ts_of(idx));
            if lost.count == 0 {
                format!(
                    "{} not recorded for {}",
                    lost.source.name(),
                    format::duration(span)
                )
            } else {
                format!(
                    "{} events lost ({}, cpu {}) over {}",
                    lost.count,
                    lost.source.name(),
                    lost.cpu,
                    format::duration(span)
                )
            }
        }
        data => text::summary(data, strings).unwrap_or_else(|| {
            let mut parts = Vec::new();
            data.visit_fields(&mut |d, v| {
                parts.push(format!("{}={}", d.name, text::short_text(d, &v, strings)));
            });
            parts.join(" ")
        }),
    }
}

/// The text of an event's own fields (its summary and every field of its kind, decoded),
/// for the free-text filter. It depends on the event's fields only, not on its time or
/// task, so equal fields give equal text.
pub fn search_text(l: &LoadedSession, idx: EventIdx) -> String {
    let mut text = fields_summary(l, idx);
    for f in kind_fields(l, idx) {
        text.push('\n');
        text.push_str(&f.value);
        if let Some(note) = &f.note {
            text.push('\n');
            text.push_str(note);
        }
    }
    text
}

pub fn details(l: &LoadedSession, idx: EventIdx) -> Vec<Field> {
    let store = &l.store;
    let Some(e) = store.get(idx) else {
        return Vec::new();
    };
    let mut f = vec![field(
        "time",
        format!(
            "{}  ({} boot clock, {})",
            format::offset_from(e.ts_nanos, l.origin()),
            e.ts_nanos,
            format::wall_clock(
                l.meta
                    .info
                    .clock_offset_nanos
                    .saturating_add(e.ts_nanos as i64)
            )
        ),
    )];
    if e.ctx.tgid != 0 || !store.comm(e.ctx).is_empty() {
        let thread = if e.ctx.pid == e.ctx.tgid {
            String::new()
        } else {
            format!(", thread {}", e.ctx.pid)
        };
        f.push(field(
            "process",
            format!("{} (pid {}{thread})", store.comm(e.ctx), e.ctx.tgid),
        ));
        f.push(field("component", component_name(l.component_of(idx))));
        f.push(field("cgroup id", e.ctx.cgroup_id.to_string()));
        f.push(field("namespaces", task_ns_text(&e.ctx.ns)));
    }
    if let Some(c) = e.container {
        f.push(field(
            "container",
            format!(
                "{} ({})",
                l.container_label(c),
                l.container(c).map_or("", |c| c.short_id())
            ),
        ));
    }
    if let Some(r) = e.result {
        let mut res = field("result", names::result_text(r));
        let rule = l.story.expected_of(idx).and_then(noise::rule);
        if r < 0 {
            res.note = Some(match rule {
                Some(_) => format!("expected: {}", noise::failure_text(r, rule)),
                None => format!("the call failed: {}", noise::failure_text(r, None)),
            });
        } else if let Some(rule) = rule {
            res.note = Some(format!("expected: {}", rule.reason));
        }
        f.push(res);
    } else if let Some(rule) = l.story.expected_of(idx).and_then(noise::rule) {
        f.push(Field {
            label: "expected".to_owned(),
            value: rule.title.to_owned(),
            note: Some(rule.reason.to_owned()),
        });
    }
    f.extend(kind_fields(l, idx));
    f.extend(story_fields(l, idx));
    f
}

/// What the story says of the event: the namespace a setns joins, the image layer that
/// provides a file the container opens.
fn story_fields(l: &LoadedSession, idx: EventIdx) -> Vec<Field> {
    let mut out = Vec::new();
    if let Some(j) = l.story.joins.get(&idx) {
        let whose = j.container.map_or_else(
            || "the host's".to_owned(),
            |c| format!("container {}'s", l.container_label(c)),
        );
        out.push(Field {
            label: "joins".to_owned(),
            value: format!("{}:[{}]", j.ns_type, j.inode),
            note: Some(format!(
                "{whose} {} namespace{}",
                j.ns_type,
                j.via
                    .as_deref()
                    .map(|v| format!(", through {v}"))
                    .unwrap_or_default()
            )),
        });
    }
    let store = &l.store;
    if let (Some(c), Some(e)) = (store.container_of(idx), store.get(idx))
        && let beefine_schema::story::Fact::Open { path, .. }
        | beefine_schema::story::Fact::Exec { filename: path, .. } =
            beefine_schema::story::fact::fact(e.data, e.result, &|s: &StrId| store.str(*s))
        && path.starts_with('/')
        && l.containers.by_cgroup(e.ctx.cgroup_id) == Some(c)
        && let Some(layer) = l.story.story.layer_providing(c, path)
    {
        out.push(Field {
            label: "from layer".to_owned(),
            value: match (layer.layer, layer.of) {
                (Some(n), Some(of)) => format!("image layer {n} of {of}"),
                _ => "a lower layer".to_owned(),
            },
            note: Some(format!(
                "the overlay finds {path} in {} (unpacked in this recording)",
                format::shorten_ids(&layer.dir)
            )),
        });
    }
    out
}

/// The fields of an event's kind, decoded, in the order of its description; fields that
/// need the session to be understood (paths, cgroups, containers, probe records, times) get
/// a note.
pub fn kind_fields(l: &LoadedSession, idx: EventIdx) -> Vec<Field> {
    let store = &l.store;
    let Some(e) = store.get(idx) else {
        return Vec::new();
    };
    let mut fields: Vec<(&'static FieldDesc, FieldRef<'_, StrId>)> = Vec::with_capacity(8);
    e.data.visit_fields(&mut |d, v| fields.push((d, v)));
    let v1_cgroup = fields.iter().any(|(d, v)| {
        matches!(d.decode, Decode::CgroupHierarchy) && v.as_i64().is_some_and(|h| h != 0)
    });
    let probe_id = fields.iter().find_map(|(d, v)| match d.decode {
        Decode::ProbeId => v.as_u64().map(|n| n as u32),
        _ => None,
    });
    let mut out = Vec::with_capacity(fields.len() + 2);
    for (d, v) in &fields {
        describe_field(l, idx, d, v, v1_cgroup, probe_id, &mut out);
    }
    out
}

/// One field (or several, for pairs and decoded records) of an event, with its note.
fn describe_field(
    l: &LoadedSession,
    idx: EventIdx,
    d: &FieldDesc,
    v: &FieldRef<'_, StrId>,
    v1_cgroup: bool,
    probe_id: Option<u32>,
    out: &mut Vec<Field>,
) {
    let store = &l.store;
    let strings = &store.strings;
    let label = d.label();
    let plain = |note: Option<String>| Field {
        label: label.to_string(),
        value: text::value_text(d, v, strings),
        note,
    };
    match (d.decode, v) {
        (Decode::Path | Decode::MountSource, FieldRef::Str(p)) => {
            out.push(path_field(l, idx, &label, store.str(**p)));
        }
        (Decode::Path, FieldRef::OptStr(Some(p))) => {
            out.push(path_field(l, idx, &label, store.str(**p)));
        }
        (Decode::Path, FieldRef::OptStr(None)) => out.push(Field {
            label: label.to_string(),
            value: "(not known)".to_owned(),
            note: Some("the recorder did not see how this was opened".to_owned()),
        }),
        (Decode::CloneFlags { exit_signal_byte }, _) => {
            out.push(plain(None));
            let ns = text::new_namespaces(v.as_u64().unwrap_or(0), exit_signal_byte);
            if !ns.is_empty() {
                out.push(field("creates", ns));
            }
        }
        (Decode::MountData, FieldRef::Str(data)) => {
            let data = store.str(**data);
            if !data.is_empty() {
                out.push(field(&label, data));
                out.extend(overlay_layers(l, data));
            }
        }
        (Decode::CgroupId, _) => {
            let id = v.as_u64().unwrap_or(0);
            let mut f = field(
                &label,
                if v1_cgroup {
                    format!("{id} (a cgroup v1 hierarchy's id)")
                } else {
                    format!("{id} (cgroup v2)")
                },
            );
            if !v1_cgroup && let Some(c) = l.containers.by_cgroup(id) {
                f.note = Some(format!("the cgroup of container {}", l.container_label(c)));
            }
            out.push(f);
        }
        (Decode::ContainerId, FieldRef::Str(id)) => {
            let id = store.str(**id);
            out.push(Field {
                label: label.to_string(),
                value: id.to_owned(),
                note: l
                    .containers
                    .by_id(id)
                    .map(|c| format!("container {}", l.container_label(c))),
            });
        }
        (Decode::BootTime, _) => {
            let t = v.as_u64().unwrap_or(0);
            out.push(field(&label, format::offset_from(t, l.origin())));
        }
        (Decode::Payload, FieldRef::Bytes(b)) => {
            if !b.is_empty() {
                out.push(field(&label, payload_text(b)));
                out.push(field(&format!("{label} hex"), hex_dump(b)));
            }
        }
        (Decode::Attributes, FieldRef::Pairs(pairs)) => {
            for (k, val) in pairs.iter() {
                out.push(field(store.str(*k), store.str(*val)));
            }
        }
        (Decode::ProbeId, _) => {
            let id = v.as_u64().unwrap_or(0) as u32;
            out.push(field(
                "probe",
                match l.probes.name(id) {
                    Some(name) => format!("{name} (id {id})"),
                    None => id.to_string(),
                },
            ));
        }
        (Decode::ProbeRecord, FieldRef::Bytes(bytes)) => {
            match probe_id.map(|id| l.probes.decode(id, bytes)) {
                Some(Ok(fields)) => {
                    for (path, value) in fields {
                        out.push(field(&path, value.to_string()));
                    }
                }
                Some(Err(why)) => out.push(Field {
                    label: "record".to_owned(),
                    value: format!("{} bytes", bytes.len()),
                    note: Some(format!("not decoded: {why}")),
                }),
                None => {}
            }
            out.push(field("bytes", hex_dump(bytes)));
        }
        _ => out.push(plain(None)),
    }
}

/// Overlay options name the layers: which is which.
fn overlay_layers(l: &LoadedSession, data: &str) -> Vec<Field> {
    let mut out = Vec::new();
    for opt in data.split(',') {
        if let Some((key, dirs)) = opt.split_once('=')
            && matches!(key, "lowerdir" | "upperdir" | "workdir")
        {
            for d in dirs.split(':') {
                if let Some(what) = l.overlay.describe(d) {
                    out.push(Field {
                        label: key.to_owned(),
                        value: d.to_owned(),
                        note: Some(what),
                    });
                }
            }
        }
    }
    out
}

/// A path with what it is: the file an fd path names, the layer it is in, where it is on the
/// host when the process moved its root.
fn path_field(l: &LoadedSession, idx: EventIdx, label: &str, p: &str) -> Field {
    let store = &l.store;
    if let Some((fd, opened)) = fd_of_proc_path(p).and_then(|fd| Some((fd, fd_open(l, idx, fd)?))) {
        let path = store.str(opened.1);
        let what = l
            .overlay
            .describe(path)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Field {
            label: label.to_owned(),
            value: p.to_owned(),
            note: Some(format!(
                "fd {fd}: {path}, opened at {}{what}",
                format::offset_from(store.ts_of(opened.0), l.origin())
            )),
        };
    }
    let container = store.container_of(idx);
    let note = match l.roots.root_of(store, idx) {
        Some("/") => l.overlay.describe(p),
        Some(r) if p.starts_with('/') => {
            let host = format!("{r}{p}");
            Some(match l.overlay.describe(&host) {
                Some(what) => format!("{what}; on the host {host}"),
                None => format!("on the host {host}"),
            })
        }
        Some(_) => None,
        // runc's pivot_root(".", ".") into the container's root filesystem: the path is
        // inside the container, on the host under its merged directory.
        None => match container.and_then(|c| l.container(c)) {
            Some(c) if p.starts_with('/') && c.merged_dir.is_some() => Some(format!(
                "inside container {}: on the host {}{p}",
                l.container_label(container.unwrap_or(0)),
                c.merged_dir.as_deref().unwrap_or("")
            )),
            _ => Some(
                "the process moved its root (pivot_root to a relative path): where this is on \
                 the host is not known"
                    .to_owned(),
            ),
        },
    };
    Field {
        label: label.to_owned(),
        value: p.to_owned(),
        note,
    }
}

/// How far back the opening of a file descriptor is looked for.
const FD_LOOKBACK: usize = 4096;

/// The descriptor number in `/proc/self/fd/N` (or `/proc/thread-self/fd/N`).
fn fd_of_proc_path(path: &str) -> Option<i64> {
    path.strip_prefix("/proc/self/fd/")
        .or_else(|| path.strip_prefix("/proc/thread-self/fd/"))
        .and_then(|n| n.parse().ok())
}

/// The open that gave the process of event `idx` its descriptor `fd` (the latest before
/// the event): (event, path). runc mounts through descriptors it opened with O_PATH.
fn fd_open(l: &LoadedSession, idx: EventIdx, fd: i64) -> Option<(EventIdx, StrId)> {
    let store = &l.store;
    let tgid = store.tgid_of(idx);
    let from = (idx as usize).saturating_sub(FD_LOOKBACK);
    for i in (from..idx as usize).rev() {
        let i = i as EventIdx;
        if store.result_of(i) != Some(fd) || store.tgid_of(i) != tgid {
            continue;
        }
        return match store.data_of(i) {
            EventData::Openat(a) | EventData::Openat2(a) => Some((i, a.path)),
            // The number went to something else (a socket, a pipe…).
            _ => None,
        };
    }
    None
}

/// A path shown through the descriptor it names: `/proc/self/fd/6` → the opened path.
fn through_fd<'a>(l: &'a LoadedSession, idx: EventIdx, path: &'a str) -> &'a str {
    fd_of_proc_path(path)
        .and_then(|fd| fd_open(l, idx, fd))
        .map_or(path, |(_, p)| l.store.str(p))
}

/// Packet payload as text, line ends shown as ↵.
fn payload_text(bytes: &[u8]) -> String {
    names::payload_text(bytes).replace('⏎', "↵")
}

fn hex_dump(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().take(256).enumerate() {
        if i > 0 {
            s.push(if i % 16 == 0 { '\n' } else { ' ' });
        }
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 256 {
        let _ = write!(s, " … ({} bytes)", bytes.len());
    }
    s
}
