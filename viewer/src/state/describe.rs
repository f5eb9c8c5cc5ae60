//! Events in words: a one-line summary for the table and every field decoded for the
//! details panel.

use std::fmt::Write as _;
use std::net::IpAddr;

use beefine_schema::{EventData, SockAddr, decode};

use super::session::{LoadedSession, component_name, task_ns_text};
use super::store::{EventIdx, Store, StrId};
use crate::format;

/// The low byte of `clone` flags: the signal the parent gets when the child exits.
const CSIGNAL: u64 = 0xff;

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

fn addr_text(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn sock_addr_text(store: &Store, a: &SockAddr<StrId>) -> String {
    match a {
        SockAddr::None => "no address".to_owned(),
        SockAddr::Inet { ip, port } => addr_text(ip, *port),
        SockAddr::Unix { path } => {
            let p = store.str(*path);
            if p.is_empty() {
                "unix (unnamed)".to_owned()
            } else if let Some(abs) = p.strip_prefix('\0') {
                format!("unix @{abs}")
            } else {
                format!("unix {p}")
            }
        }
        SockAddr::Other { family } => decode::family_name(*family).to_owned(),
    }
}

fn clone_flag_names(flags: u64, has_exit_signal: bool) -> String {
    let named = if has_exit_signal {
        flags & !CSIGNAL
    } else {
        flags
    };
    let mut s = decode::flag_names(named, decode::CLONE_FLAGS);
    if has_exit_signal && flags & CSIGNAL != 0 {
        let _ = write!(
            s,
            " + exit signal {}",
            decode::signal_name((flags & CSIGNAL) as i32)
        );
    }
    s
}

fn new_namespaces(flags: u64) -> String {
    let ns = decode::namespace_names(flags & !CSIGNAL);
    if ns.is_empty() {
        String::new()
    } else {
        format!(
            "new {} namespace{}",
            ns.join(", "),
            if ns.len() > 1 { "s" } else { "" }
        )
    }
}

/// A one-line summary of an event's own fields and, when it failed, its error (the
/// table's last column).
pub fn summary(l: &LoadedSession, idx: EventIdx) -> String {
    let mut out = fields_summary(l, idx);
    if let Some(r) = l.store.result_of(idx)
        && r < 0
    {
        let _ = write!(out, "  → {}", decode::result_text(r));
    }
    out
}

/// A one-line summary of an event's own fields.
fn fields_summary(l: &LoadedSession, idx: EventIdx) -> String {
    let store = &l.store;
    let s = |id: &StrId| store.str(*id);
    match store.data_of(idx) {
        EventData::Exec { filename, argv } => {
            let args: Vec<&str> = argv.iter().map(s).collect();
            let line = args.join(" ");
            if args.first().is_some_and(|a0| s(filename).ends_with(a0)) {
                line
            } else {
                format!("{}  ({line})", s(filename))
            }
        }
        EventData::Fork {
            child_pid,
            child_tgid,
            ..
        } => {
            if child_pid == child_tgid {
                format!("new process {child_tgid}")
            } else {
                format!("new thread {child_pid} of {child_tgid}")
            }
        }
        EventData::Exit { code } => decode::wait_status(*code),
        EventData::Clone(a) => {
            let ns = new_namespaces(a.flags);
            if ns.is_empty() {
                clone_flag_names(a.flags, true)
            } else {
                ns
            }
        }
        EventData::Clone3(a) => {
            let ns = new_namespaces(a.flags);
            if ns.is_empty() {
                decode::flag_names(a.flags, decode::CLONE_FLAGS)
            } else {
                ns
            }
        }
        EventData::Unshare { flags } => {
            let ns = new_namespaces(*flags);
            if ns.is_empty() {
                decode::flag_names(*flags, decode::CLONE_FLAGS)
            } else {
                ns
            }
        }
        EventData::Setns { fd, nstype } => {
            let ns = decode::namespace_names(*nstype as u32 as u64);
            if ns.is_empty() {
                format!("join the namespace of fd {fd}")
            } else {
                format!("join {} namespace (fd {fd})", ns.join(", "))
            }
        }
        EventData::Prctl { option, arg2 } => {
            format!("{} {arg2}", decode::prctl_option_name(*option))
        }
        EventData::Seccomp { operation, flags } => {
            let op = decode::seccomp_op_name(*operation);
            if *flags == 0 {
                op.to_owned()
            } else {
                format!("{op} flags {flags:#x}")
            }
        }
        EventData::Capset {
            effective,
            permitted,
            ..
        } => format!(
            "{} effective, {} permitted capabilities",
            effective.count_ones(),
            permitted.count_ones()
        ),
        EventData::Mount(m) => {
            let flags = if m.flags == 0 {
                String::new()
            } else {
                format!(" ({})", decode::flag_names(m.flags, decode::MOUNT_FLAGS))
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
        EventData::Umount { target, flags } => {
            if *flags == 0 {
                s(target).to_owned()
            } else {
                format!(
                    "{} ({})",
                    s(target),
                    decode::flag_names(u64::from(*flags), decode::UMOUNT_FLAGS)
                )
            }
        }
        EventData::PivotRoot { new_root, put_old } => {
            format!("new root {}, old root to {}", s(new_root), s(put_old))
        }
        EventData::Chroot { path } => s(path).to_owned(),
        EventData::Openat(a) | EventData::Openat2(a) => {
            format!("{}  {}", s(&a.path), decode::open_flags(a.flags))
        }
        EventData::Mkdir(a) | EventData::Mkdirat(a) => {
            format!("{}  {:04o}", s(&a.path), a.mode)
        }
        EventData::FileIo {
            path,
            bytes_read,
            bytes_written,
            reads,
            writes,
        } => {
            let mut parts = Vec::new();
            if *reads > 0 || *bytes_read > 0 {
                parts.push(format!("read {} in {reads}", format::bytes(*bytes_read)));
            }
            if *writes > 0 || *bytes_written > 0 {
                parts.push(format!(
                    "wrote {} in {writes}",
                    format::bytes(*bytes_written)
                ));
            }
            format!("{}  {}", s(path), parts.join(", "))
        }
        EventData::CgroupAttach { path, dst_pid, .. } => {
            format!("pid {dst_pid} into {}", s(path))
        }
        EventData::CgroupMkdir { path, .. } => s(path).to_owned(),
        EventData::Socket {
            family, sock_type, ..
        } => format!(
            "{} {}",
            decode::family_name(*family),
            decode::sock_type_name(*sock_type)
        ),
        EventData::Bind(a)
        | EventData::Connect(a)
        | EventData::Accept(a)
        | EventData::Accept4(a) => format!("fd {} {}", a.fd, sock_addr_text(store, &a.addr)),
        EventData::Listen { fd, backlog } => format!("fd {fd}, backlog {backlog}"),
        EventData::TcpState(t) => format!(
            "{} → {}  {} → {}",
            addr_text(&t.saddr, t.sport),
            addr_text(&t.daddr, t.dport),
            decode::tcp_state_name(t.old_state),
            decode::tcp_state_name(t.new_state)
        ),
        EventData::Packet(p) => {
            let payload = payload_text(&p.payload);
            let mut line = format!(
                "{} {} → {}  {}",
                decode::ip_protocol_name(p.protocol),
                addr_text(&p.saddr, p.sport),
                addr_text(&p.daddr, p.dport),
                format::bytes(u64::from(p.len))
            );
            if !payload.is_empty() {
                let _ = write!(line, "  “{}”", format::ellipsize(&payload, 60));
            }
            line
        }
        EventData::Custom { probe_id, bytes } => {
            let name = l
                .probes
                .name(*probe_id)
                .map_or_else(|| format!("probe {probe_id}"), str::to_owned);
            match l.probes.decode(*probe_id, bytes) {
                Ok(fields) => {
                    let shown: Vec<String> = fields
                        .iter()
                        .take(6)
                        .map(|(k, v)| format!("{k}={}", format::ellipsize(&v.to_string(), 40)))
                        .collect();
                    format!("{name}  {}", shown.join(" "))
                }
                Err(_) => format!("{name}, {} bytes", bytes.len()),
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
        EventData::ResourceSample(r) => format!(
            "cpu {}, memory {}, {} pids",
            format::duration(r.cpu_nanos),
            format::bytes(r.mem_bytes),
            r.pids
        ),
        EventData::Lost {
            source,
            cpu,
            count,
            until_ts_nanos,
        } => {
            let span = until_ts_nanos.saturating_sub(store.ts_of(idx));
            if *count == 0 {
                format!(
                    "{} not recorded for {}",
                    source.name(),
                    format::duration(span)
                )
            } else {
                format!(
                    "{count} events lost ({}, cpu {cpu}) over {}",
                    source.name(),
                    format::duration(span)
                )
            }
        }
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

/// Every field of an event, decoded, for the details panel.
pub fn details(l: &LoadedSession, idx: EventIdx) -> Vec<Field> {
    let store = &l.store;
    let Some(e) = store.get(idx) else {
        return Vec::new();
    };
    let mut f = vec![field(
        "time",
        format!(
            "{}  ({} boot clock, {})",
            format::offset(e.ts_nanos as i64 - l.origin() as i64),
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
        let mut res = field("result", decode::result_text(r));
        if r < 0 {
            res.note = Some("the call failed".to_owned());
        }
        f.push(res);
    }
    f.extend(kind_fields(l, idx));
    f
}

/// The fields of an event's kind, decoded.
pub fn kind_fields(l: &LoadedSession, idx: EventIdx) -> Vec<Field> {
    let store = &l.store;
    let Some(e) = store.get(idx) else {
        return Vec::new();
    };
    let s = |id: &StrId| store.str(*id);
    let root = l.roots.root_of(store, idx);
    let path_field = |label: &str, id: &StrId| {
        let p = s(id);
        if let Some((fd, opened)) =
            fd_of_proc_path(p).and_then(|fd| Some((fd, fd_open(l, idx, fd)?)))
        {
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
                    format::offset(store.ts_of(opened.0) as i64 - l.origin() as i64)
                )),
            };
        }
        let note = match root {
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
            None => match e.container.and_then(|c| l.container(c)) {
                Some(c) if p.starts_with('/') && c.merged_dir.is_some() => Some(format!(
                    "inside container {}: on the host {}{p}",
                    l.container_label(e.container.unwrap_or(0)),
                    c.merged_dir.as_deref().unwrap_or("")
                )),
                _ => Some(
                    "the process moved its root (pivot_root to a relative path): where this \
                     is on the host is not known"
                        .to_owned(),
                ),
            },
        };
        Field {
            label: label.to_owned(),
            value: p.to_owned(),
            note,
        }
    };
    let mut f = Vec::new();
    match e.data {
        EventData::Exec { filename, argv } => {
            f.push(path_field("filename", filename));
            f.push(field(
                "argv",
                argv.iter()
                    .map(|a| {
                        let a = s(a);
                        if a.contains(' ') || a.is_empty() {
                            format!("'{a}'")
                        } else {
                            a.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        EventData::Fork {
            parent_pid,
            parent_tgid,
            child_pid,
            child_tgid,
        } => {
            f.push(field(
                "parent",
                format!("pid {parent_pid}, tgid {parent_tgid}"),
            ));
            f.push(field(
                "child",
                format!("pid {child_pid}, tgid {child_tgid}"),
            ));
        }
        EventData::Exit { code } => {
            f.push(field(
                "status",
                format!("{} (raw {code:#x})", decode::wait_status(*code)),
            ));
        }
        EventData::Clone(a) => {
            f.push(field("flags", format!("{:#x}", a.flags)));
            f.push(field("flag names", clone_flag_names(a.flags, true)));
            let ns = new_namespaces(a.flags);
            if !ns.is_empty() {
                f.push(field("creates", ns));
            }
        }
        EventData::Clone3(a) => {
            f.push(field("flags", format!("{:#x}", a.flags)));
            f.push(field(
                "flag names",
                decode::flag_names(a.flags, decode::CLONE_FLAGS),
            ));
            let ns = new_namespaces(a.flags);
            if !ns.is_empty() {
                f.push(field("creates", ns));
            }
        }
        EventData::Unshare { flags } => {
            f.push(field("flags", format!("{flags:#x}")));
            f.push(field(
                "flag names",
                decode::flag_names(*flags, decode::CLONE_FLAGS),
            ));
            let ns = new_namespaces(*flags);
            if !ns.is_empty() {
                f.push(field("creates", ns));
            }
        }
        EventData::Setns { fd, nstype } => {
            f.push(field("fd", fd.to_string()));
            f.push(field(
                "nstype",
                format!("{nstype:#x} = {}", decode::nstype_name(*nstype)),
            ));
        }
        EventData::Prctl { option, arg2 } => {
            f.push(field(
                "option",
                format!("{option} = {}", decode::prctl_option_name(*option)),
            ));
            f.push(field("arg2", format!("{arg2} ({arg2:#x})")));
        }
        EventData::Seccomp { operation, flags } => {
            f.push(field(
                "operation",
                format!("{operation} = {}", decode::seccomp_op_name(*operation)),
            ));
            f.push(field("flags", format!("{flags:#x}")));
        }
        EventData::Capset {
            effective,
            permitted,
            inheritable,
        } => {
            for (label, v) in [
                ("effective", effective),
                ("permitted", permitted),
                ("inheritable", inheritable),
            ] {
                f.push(field(
                    label,
                    format!("{v:#x} = {}", decode::capability_names(*v)),
                ));
            }
        }
        EventData::Mount(m) => {
            f.push(path_field("source", &m.source));
            f.push(path_field("target", &m.target));
            f.push(field("fstype", s(&m.fstype)));
            f.push(field(
                "flags",
                format!(
                    "{:#x} = {}",
                    m.flags,
                    decode::flag_names(m.flags, decode::MOUNT_FLAGS)
                ),
            ));
            let data = s(&m.data);
            if !data.is_empty() {
                f.push(field("data", data));
                // Overlay options name the layers: say which is which.
                for opt in data.split(',') {
                    if let Some((key, dirs)) = opt.split_once('=')
                        && matches!(key, "lowerdir" | "upperdir" | "workdir")
                    {
                        for d in dirs.split(':') {
                            if let Some(what) = l.overlay.describe(d) {
                                f.push(Field {
                                    label: key.to_owned(),
                                    value: d.to_owned(),
                                    note: Some(what),
                                });
                            }
                        }
                    }
                }
            }
        }
        EventData::Umount { target, flags } => {
            f.push(path_field("target", target));
            f.push(field(
                "flags",
                format!(
                    "{flags:#x} = {}",
                    decode::flag_names(u64::from(*flags), decode::UMOUNT_FLAGS)
                ),
            ));
        }
        EventData::PivotRoot { new_root, put_old } => {
            f.push(path_field("new root", new_root));
            f.push(path_field("put old", put_old));
        }
        EventData::Chroot { path } => f.push(path_field("path", path)),
        EventData::Openat(a) | EventData::Openat2(a) => {
            f.push(field("dirfd", dirfd_text(a.dirfd)));
            f.push(path_field("path", &a.path));
            f.push(field(
                "flags",
                format!("{:#o} = {}", a.flags, decode::open_flags(a.flags)),
            ));
            f.push(field("mode", format!("{:04o}", a.mode)));
        }
        EventData::Mkdir(a) | EventData::Mkdirat(a) => {
            f.push(field("dirfd", dirfd_text(a.dirfd)));
            f.push(path_field("path", &a.path));
            f.push(field("mode", format!("{:04o}", a.mode)));
        }
        EventData::FileIo {
            path,
            bytes_read,
            bytes_written,
            reads,
            writes,
        } => {
            f.push(path_field("path", path));
            f.push(field(
                "read",
                format!("{} in {reads} calls", format::bytes(*bytes_read)),
            ));
            f.push(field(
                "written",
                format!("{} in {writes} calls", format::bytes(*bytes_written)),
            ));
        }
        EventData::CgroupAttach {
            path,
            dst_pid,
            cgroup_id,
            hierarchy_id,
        } => {
            f.push(field("path", s(path)));
            f.push(field("task", dst_pid.to_string()));
            f.push(cgroup_field(l, *cgroup_id, *hierarchy_id));
        }
        EventData::CgroupMkdir {
            path,
            cgroup_id,
            hierarchy_id,
        } => {
            f.push(field("path", s(path)));
            f.push(cgroup_field(l, *cgroup_id, *hierarchy_id));
        }
        EventData::Socket {
            family,
            sock_type,
            protocol,
        } => {
            f.push(field(
                "family",
                format!("{family} = {}", decode::family_name(*family)),
            ));
            f.push(field("type", decode::sock_type_name(*sock_type)));
            f.push(field("protocol", protocol.to_string()));
        }
        EventData::Bind(a)
        | EventData::Connect(a)
        | EventData::Accept(a)
        | EventData::Accept4(a) => {
            f.push(field("fd", a.fd.to_string()));
            f.push(field("address", sock_addr_text(store, &a.addr)));
        }
        EventData::Listen { fd, backlog } => {
            f.push(field("fd", fd.to_string()));
            f.push(field("backlog", backlog.to_string()));
        }
        EventData::TcpState(t) => {
            f.push(field("from", addr_text(&t.saddr, t.sport)));
            f.push(field("to", addr_text(&t.daddr, t.dport)));
            f.push(field(
                "state",
                format!(
                    "{} → {}",
                    decode::tcp_state_name(t.old_state),
                    decode::tcp_state_name(t.new_state)
                ),
            ));
        }
        EventData::Packet(p) => {
            f.push(field(
                "protocol",
                format!("{} ({})", decode::ip_protocol_name(p.protocol), p.protocol),
            ));
            f.push(field("from", addr_text(&p.saddr, p.sport)));
            f.push(field("to", addr_text(&p.daddr, p.dport)));
            f.push(field("length", format::bytes(u64::from(p.len))));
            f.push(field("interface", format!("ifindex {}", p.ifindex)));
            if !p.payload.is_empty() {
                f.push(field("payload", payload_text(&p.payload)));
                f.push(field("payload hex", hex_dump(&p.payload)));
            }
        }
        EventData::Custom { probe_id, bytes } => {
            f.push(field(
                "probe",
                match l.probes.name(*probe_id) {
                    Some(name) => format!("{name} (id {probe_id})"),
                    None => probe_id.to_string(),
                },
            ));
            match l.probes.decode(*probe_id, bytes) {
                Ok(fields) => {
                    for (path, value) in fields {
                        f.push(field(&path, value.to_string()));
                    }
                }
                Err(why) => {
                    let mut raw = field("record", format!("{} bytes", bytes.len()));
                    raw.note = Some(format!("not decoded: {why}"));
                    f.push(raw);
                }
            }
            f.push(field("bytes", hex_dump(bytes)));
        }
        EventData::Docker(d) => {
            f.push(field("type", s(&d.event_type)));
            f.push(field("action", s(&d.action)));
            f.push(field("actor", s(&d.actor_id)));
            for (k, v) in &d.attributes {
                f.push(field(s(k), s(v)));
            }
        }
        EventData::ResourceSample(r) => {
            f.push(field("container id", s(&r.container_id)));
            f.push(field("cpu time", format::duration(r.cpu_nanos)));
            let limit = if r.mem_limit_bytes == 0 || r.mem_limit_bytes > (1 << 60) {
                String::new()
            } else {
                format!(" of {}", format::bytes(r.mem_limit_bytes))
            };
            f.push(field(
                "memory",
                format!("{}{limit}", format::bytes(r.mem_bytes)),
            ));
            f.push(field(
                "block I/O",
                format!(
                    "read {}, written {}",
                    format::bytes(r.blk_read_bytes),
                    format::bytes(r.blk_write_bytes)
                ),
            ));
            f.push(field(
                "network",
                format!(
                    "received {}, sent {}",
                    format::bytes(r.net_rx_bytes),
                    format::bytes(r.net_tx_bytes)
                ),
            ));
            f.push(field("pids", r.pids.to_string()));
        }
        EventData::Lost {
            source,
            cpu,
            count,
            until_ts_nanos,
        } => {
            f.push(field("source", source.name()));
            f.push(field("cpu", cpu.to_string()));
            f.push(field("events lost", count.to_string()));
            f.push(field(
                "until",
                format::offset(*until_ts_nanos as i64 - l.origin() as i64),
            ));
        }
    }
    f
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
    decode::payload_text(bytes).replace('⏎', "↵")
}

fn dirfd_text(dirfd: i32) -> String {
    if dirfd == -100 {
        "AT_FDCWD (the working directory)".to_owned()
    } else {
        dirfd.to_string()
    }
}

fn cgroup_field(l: &LoadedSession, cgroup_id: u64, hierarchy_id: i32) -> Field {
    let mut f = field(
        "cgroup",
        if hierarchy_id == 0 {
            format!("id {cgroup_id} (cgroup v2)")
        } else {
            format!("id {cgroup_id} in v1 hierarchy {hierarchy_id}")
        },
    );
    if hierarchy_id == 0
        && let Some(c) = l.containers.by_cgroup(cgroup_id)
    {
        f.note = Some(format!("the cgroup of container {}", l.container_label(c)));
    }
    f
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
