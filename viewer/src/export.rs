//! `beefine-view export`: one JSON object per event, in time order (JSON Lines).
//!
//! The field names are a public interface, documented in `viewer/EXPORT.md`: numbers stay
//! numbers under the kernel's name for them, and their decoded forms sit beside them with a
//! `_name` / `_names` suffix. Objects are written by hand (not through a map) so that the
//! fields keep a fixed, readable order and a million events export in well under a second.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;

use beefine_schema::btf::Value;
use beefine_schema::decode;
use beefine_schema::{Error, Event, EventData, Query, SockAddr, SockArgs};

use crate::containers::ContainerIndex;
use crate::probes::Probes;

/// What an export wrote, and what it could not read.
#[derive(Debug, Default)]
pub struct ExportSummary {
    pub events: u64,
    /// Damaged chunks (and damage to the chunk table); the other events were exported.
    pub errors: Vec<Error>,
}

/// Context that turns ids in events into names (containers, custom probes).
#[derive(Debug, Default)]
pub struct ExportContext {
    pub containers: ContainerIndex,
    pub probes: Probes,
}

impl ExportContext {
    pub fn for_session(session: &beefine_schema::Session) -> beefine_schema::Result<Self> {
        Ok(Self {
            containers: ContainerIndex::new(session.containers()?),
            probes: Probes::new(&session.probes()?),
        })
    }
}

/// Writes every event of `session` to `out` as JSON Lines, in time order. Damaged chunks are
/// skipped and returned in the summary; an I/O error on `out` stops the export.
pub fn export_jsonl(
    session: &beefine_schema::Session,
    out: &mut impl Write,
) -> anyhow::Result<ExportSummary> {
    let ctx = ExportContext::for_session(session)?;
    let mut line = String::with_capacity(512);
    let mut io_error: Option<io::Error> = None;
    let mut events = 0u64;
    let scan = session.scan(&Query::all(), |e| {
        line.clear();
        write_event(&mut line, &e, &ctx);
        line.push('\n');
        match out.write_all(line.as_bytes()) {
            Ok(()) => {
                events += 1;
                ControlFlow::Continue(())
            }
            Err(err) => {
                io_error = Some(err);
                ControlFlow::Break(())
            }
        }
    })?;
    let flushed = match io_error {
        Some(err) => Err(err),
        None => out.flush(),
    };
    match flushed {
        // The reader went away (`| head`): not an error of the export.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {}
        Err(err) => return Err(anyhow::Error::new(err).context("writing the export")),
        Ok(()) => {}
    }
    Ok(ExportSummary {
        events,
        errors: scan.errors,
    })
}

/// A JSON object being written into a string.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// A key that may need escaping (names that come from the file).
    fn escaped_key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, key);
        self.out.push(':');
    }

    fn num(&mut self, key: &str, v: impl std::fmt::Display) {
        self.key(key);
        let _ = write!(self.out, "{v}");
    }

    fn str(&mut self, key: &str, v: &str) {
        self.key(key);
        push_json_str(self.out, v);
    }

    fn str_array<'s>(&mut self, key: &str, items: impl IntoIterator<Item = &'s str>) {
        self.key(key);
        self.out.push('[');
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_json_str(self.out, s);
        }
        self.out.push(']');
    }

    fn ip(&mut self, key: &str, ip: &IpAddr) {
        self.key(key);
        let _ = write!(self.out, "\"{ip}\"");
    }

    fn finish(self) {
        self.out.push('}');
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A decoded field of a custom record as JSON: numbers as numbers, booleans, enums by
/// name (their number when unnamed), pointers and byte arrays as hex strings, the rest as
/// their text.
fn push_btf_value(out: &mut String, v: &Value) {
    match v {
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::UInt(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Float(x) if x.is_finite() => {
            let _ = write!(out, "{x}");
        }
        Value::Enum { name: None, value } => {
            let _ = write!(out, "{value}");
        }
        other => push_json_str(out, &other.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn flag_list(names: &str) -> impl Iterator<Item = &str> {
    names.split('|').filter(|s| !s.is_empty() && *s != "0")
}

/// Writes one event as a JSON object (without the newline).
pub fn write_event<S: AsRef<str>>(out: &mut String, e: &Event<S>, ctx: &ExportContext) {
    let h = &e.header;
    let mut o = Obj::new(out);
    o.num("ts_nanos", h.ts_nanos);
    o.str("kind", e.kind().name());
    o.num("pid", h.pid);
    o.num("tgid", h.tgid);
    o.str("comm", h.comm.as_ref());
    o.num("cgroup_id", h.cgroup_id);
    o.num("pid_ns", h.ns.pid_ns);
    o.num("mnt_ns", h.ns.mnt_ns);
    o.num("net_ns", h.ns.net_ns);
    if let Some(c) = ctx
        .containers
        .for_event(e)
        .and_then(|i| ctx.containers.get(i))
    {
        o.str("container_id", &c.container_id);
        o.str("container_name", &c.name);
    }
    if let Some(r) = e.result {
        o.num("result", r);
        if r < 0
            && let Some(name) = decode::errno_name(-r)
        {
            o.str("errno", name);
        }
    }
    write_fields(&mut o, &e.data, ctx);
    o.finish();
}

/// The low byte of `clone` flags is the signal sent to the parent when the child exits
/// (`CSIGNAL`); `clone3` and `unshare` have no such byte.
const CSIGNAL: u64 = 0xff;

fn write_clone_flags(o: &mut Obj<'_>, flags: u64, has_exit_signal: bool) {
    o.num("flags", flags);
    let named = if has_exit_signal {
        flags & !CSIGNAL
    } else {
        flags
    };
    let names = decode::flag_names(named, decode::CLONE_FLAGS);
    o.str_array("flags_names", flag_list(&names));
    o.str_array("namespaces", decode::namespace_names(named));
    if has_exit_signal && flags & CSIGNAL != 0 {
        o.str(
            "exit_signal",
            &decode::signal_name((flags & CSIGNAL) as i32),
        );
    }
}

fn write_sock_addr<S: AsRef<str>>(o: &mut Obj<'_>, a: &SockArgs<S>) {
    o.num("fd", a.fd);
    match &a.addr {
        SockAddr::None => {}
        SockAddr::Inet { ip, port } => {
            let family: u16 = if ip.is_ipv4() { 2 } else { 10 };
            o.num("family", family);
            o.str("family_name", decode::family_name(family));
            o.ip("address", ip);
            o.num("port", port);
        }
        SockAddr::Unix { path } => {
            o.num("family", 1);
            o.str("family_name", "AF_UNIX");
            o.str("address", path.as_ref());
        }
        SockAddr::Other { family } => {
            o.num("family", family);
            o.str("family_name", decode::family_name(*family));
        }
    }
}

fn write_fields<S: AsRef<str>>(o: &mut Obj<'_>, data: &EventData<S>, ctx: &ExportContext) {
    use EventData as D;
    match data {
        D::Exec { filename, argv } => {
            o.str("filename", filename.as_ref());
            o.str_array("argv", argv.iter().map(AsRef::as_ref));
        }
        D::Fork {
            parent_pid,
            parent_tgid,
            child_pid,
            child_tgid,
        } => {
            o.num("parent_pid", parent_pid);
            o.num("parent_tgid", parent_tgid);
            o.num("child_pid", child_pid);
            o.num("child_tgid", child_tgid);
        }
        D::Exit { code } => {
            o.num("code", code);
            o.str("code_name", &decode::wait_status(*code));
        }
        D::Clone(a) => write_clone_flags(o, a.flags, true),
        D::Clone3(a) => write_clone_flags(o, a.flags, false),
        D::Unshare { flags } => write_clone_flags(o, *flags, false),
        D::Setns { fd, nstype } => {
            o.num("fd", fd);
            o.num("nstype", nstype);
            o.str("nstype_name", &decode::nstype_name(*nstype));
        }
        D::Prctl { option, arg2 } => {
            o.num("option", option);
            o.str("option_name", decode::prctl_option_name(*option));
            o.num("arg2", arg2);
        }
        D::Seccomp { operation, flags } => {
            o.num("operation", operation);
            o.str("operation_name", decode::seccomp_op_name(*operation));
            o.num("flags", flags);
        }
        D::Capset {
            effective,
            permitted,
            inheritable,
        } => {
            for (key, v) in [
                ("effective", effective),
                ("permitted", permitted),
                ("inheritable", inheritable),
            ] {
                o.num(key, v);
                let names = decode::capability_names(*v);
                o.str_array(
                    &format!("{key}_names"),
                    names.split('|').filter(|s| *s != "none"),
                );
            }
        }
        D::Mount(m) => {
            o.str("source", m.source.as_ref());
            o.str("target", m.target.as_ref());
            o.str("fstype", m.fstype.as_ref());
            o.num("flags", m.flags);
            let names = decode::flag_names(m.flags, decode::MOUNT_FLAGS);
            o.str_array("flags_names", flag_list(&names));
            o.str("data", m.data.as_ref());
        }
        D::Umount { target, flags } => {
            o.str("target", target.as_ref());
            o.num("flags", flags);
            let names = decode::flag_names(u64::from(*flags), decode::UMOUNT_FLAGS);
            o.str_array("flags_names", flag_list(&names));
        }
        D::PivotRoot { new_root, put_old } => {
            o.str("new_root", new_root.as_ref());
            o.str("put_old", put_old.as_ref());
        }
        D::Chroot { path } => o.str("path", path.as_ref()),
        D::Openat(a) | D::Openat2(a) => {
            o.num("dirfd", a.dirfd);
            o.str("path", a.path.as_ref());
            o.num("flags", a.flags);
            let names = decode::open_flags(a.flags);
            o.str_array("flags_names", flag_list(&names));
            o.num("mode", a.mode);
            o.str("mode_octal", &format!("{:04o}", a.mode));
        }
        D::Mkdir(a) | D::Mkdirat(a) => {
            o.num("dirfd", a.dirfd);
            o.str("path", a.path.as_ref());
            o.num("mode", a.mode);
            o.str("mode_octal", &format!("{:04o}", a.mode));
        }
        D::FileIo {
            path,
            bytes_read,
            bytes_written,
            reads,
            writes,
        } => {
            o.str("path", path.as_ref());
            o.num("bytes_read", bytes_read);
            o.num("bytes_written", bytes_written);
            o.num("reads", reads);
            o.num("writes", writes);
        }
        D::CgroupAttach {
            path,
            dst_pid,
            cgroup_id,
            hierarchy_id,
        } => {
            o.str("path", path.as_ref());
            o.num("dst_pid", dst_pid);
            o.num("target_cgroup_id", cgroup_id);
            o.num("hierarchy_id", hierarchy_id);
        }
        D::CgroupMkdir {
            path,
            cgroup_id,
            hierarchy_id,
        } => {
            o.str("path", path.as_ref());
            o.num("target_cgroup_id", cgroup_id);
            o.num("hierarchy_id", hierarchy_id);
        }
        D::Socket {
            family,
            sock_type,
            protocol,
        } => {
            o.num("family", family);
            o.str("family_name", decode::family_name(*family));
            o.num("sock_type", sock_type);
            o.str("sock_type_name", &decode::sock_type_name(*sock_type));
            o.num("protocol", protocol);
        }
        D::Bind(a) | D::Accept(a) | D::Accept4(a) | D::Connect(a) => write_sock_addr(o, a),
        D::Listen { fd, backlog } => {
            o.num("fd", fd);
            o.num("backlog", backlog);
        }
        D::TcpState(t) => {
            o.num("old_state", t.old_state);
            o.str("old_state_name", decode::tcp_state_name(t.old_state));
            o.num("new_state", t.new_state);
            o.str("new_state_name", decode::tcp_state_name(t.new_state));
            o.ip("saddr", &t.saddr);
            o.num("sport", t.sport);
            o.ip("daddr", &t.daddr);
            o.num("dport", t.dport);
        }
        D::Packet(p) => {
            o.num("ifindex", p.ifindex);
            o.num("protocol", p.protocol);
            o.str("protocol_name", decode::ip_protocol_name(p.protocol));
            o.ip("saddr", &p.saddr);
            o.num("sport", p.sport);
            o.ip("daddr", &p.daddr);
            o.num("dport", p.dport);
            o.num("len", p.len);
            o.str("payload", &decode::payload_text(&p.payload));
            o.str("payload_hex", &hex(&p.payload));
        }
        D::Custom { probe_id, bytes } => {
            o.num("probe_id", probe_id);
            if let Some(name) = ctx.probes.name(*probe_id) {
                o.str("probe_name", name);
            }
            o.num("len", bytes.len());
            o.str("bytes_hex", &hex(bytes));
            match ctx.probes.decode(*probe_id, bytes) {
                Ok(fields) => {
                    o.key("fields");
                    let mut obj = Obj::new(o.out);
                    for (path, value) in &fields {
                        obj.escaped_key(path);
                        push_btf_value(obj.out, value);
                    }
                    obj.finish();
                }
                Err(why) => o.str("decode_error", &why),
            }
        }
        D::Docker(d) => {
            o.str("event_type", d.event_type.as_ref());
            o.str("action", d.action.as_ref());
            o.str("actor_id", d.actor_id.as_ref());
            o.key("attributes");
            let mut attrs = Obj::new(o.out);
            for (k, v) in &d.attributes {
                attrs.escaped_key(k.as_ref());
                push_json_str(attrs.out, v.as_ref());
            }
            attrs.finish();
        }
        D::ResourceSample(s) => {
            if ctx.containers.by_id(s.container_id.as_ref()).is_none() {
                // Not a container of the session: still say which one it measured.
                o.str("container_id", s.container_id.as_ref());
            }
            o.num("cpu_nanos", s.cpu_nanos);
            o.num("mem_bytes", s.mem_bytes);
            o.num("mem_limit_bytes", s.mem_limit_bytes);
            o.num("blk_read_bytes", s.blk_read_bytes);
            o.num("blk_write_bytes", s.blk_write_bytes);
            o.num("net_rx_bytes", s.net_rx_bytes);
            o.num("net_tx_bytes", s.net_tx_bytes);
            o.num("pids", s.pids);
        }
        D::Lost {
            source,
            cpu,
            count,
            until_ts_nanos,
        } => {
            o.str("source", source.name());
            o.num("cpu", cpu);
            o.num("count", count);
            o.num("until_ts_nanos", until_ts_nanos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
    }
}
