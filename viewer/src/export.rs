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
use beefine_schema::{
    Decode, Error, Event, EventData, FieldDesc, FieldRef, Query, SockAddr, names, text,
};

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
    o.num("uts_ns", h.ns.uts_ns);
    o.num("ipc_ns", h.ns.ipc_ns);
    o.num("user_ns", h.ns.user_ns);
    o.num("cgroup_ns", h.ns.cgroup_ns);
    o.num("time_ns", h.ns.time_ns);
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
            && let Some(name) = names::errno_name(-r)
        {
            o.str("errno", name);
        }
    }
    write_fields(&mut o, &e.data, ctx);
    o.finish();
}

/// A list of names from a `|`-joined flag text, without the "no flags" forms.
fn flag_list(names: &str) -> impl Iterator<Item = &str> {
    names
        .split('|')
        .filter(|s| !s.is_empty() && *s != "0" && *s != "none")
}

/// Writes the fields of an event's kind, from its description: each raw value under its
/// name, then its decoded forms.
fn write_fields<S: AsRef<str>>(o: &mut Obj<'_>, data: &EventData<S>, ctx: &ExportContext) {
    let mut fields: Vec<(&'static FieldDesc, FieldRef<'_, S>)> = Vec::with_capacity(8);
    data.visit_fields(&mut |d, v| fields.push((d, v)));
    let probe_id = fields.iter().find_map(|(d, v)| match d.decode {
        Decode::ProbeId => v.as_u64().map(|n| n as u32),
        _ => None,
    });
    for (d, v) in &fields {
        write_field(o, d, v, ctx, probe_id);
    }
}

fn write_field<S: AsRef<str>>(
    o: &mut Obj<'_>,
    d: &FieldDesc,
    v: &FieldRef<'_, S>,
    ctx: &ExportContext,
    probe_id: Option<u32>,
) {
    let name = d.name;
    match v {
        FieldRef::Uint(n) => o.num(name, n),
        FieldRef::Int(n) => o.num(name, n),
        FieldRef::Str(s) => match d.decode {
            // A sample's container is the event's container when the session knows it.
            Decode::ContainerId if d.name == "container_id" => {
                if ctx.containers.by_id(s.as_ref()).is_none() {
                    o.str(name, s.as_ref());
                }
            }
            _ => o.str(name, s.as_ref()),
        },
        FieldRef::OptStr(s) => {
            if let Some(s) = s {
                o.str(name, s.as_ref());
            }
        }
        FieldRef::Strs(items) => o.str_array(name, items.iter().map(AsRef::as_ref)),
        FieldRef::Uints(items) => {
            o.key(name);
            o.out.push('[');
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    o.out.push(',');
                }
                let _ = write!(o.out, "{n}");
            }
            o.out.push(']');
        }
        FieldRef::Bytes(b) => match d.decode {
            Decode::Payload => {
                o.str(name, &names::payload_text(b));
                o.str(&format!("{name}_hex"), &hex(b));
            }
            Decode::ProbeRecord => write_probe_record(o, b, ctx, probe_id),
            _ => o.str(&format!("{name}_hex"), &hex(b)),
        },
        FieldRef::Ip(ip) => o.ip(name, ip),
        FieldRef::Addr(a) => write_sock_addr(o, a),
        FieldRef::Pairs(pairs) => {
            o.key(name);
            let mut obj = Obj::new(o.out);
            for (k, v) in pairs.iter() {
                obj.escaped_key(k.as_ref());
                push_json_str(obj.out, v.as_ref());
            }
            obj.finish();
        }
        FieldRef::Loss(l) => o.str(name, l.name()),
    }
    if let (Some(u), Some(i)) = (v.as_u64(), v.as_i64()) {
        write_decoded(o, d, u, i, ctx);
    }
}

/// The decoded forms of a number beside it: `_name`, `_names`, `_octal`, and for clone flags
/// the namespaces they create and the exit signal.
fn write_decoded(o: &mut Obj<'_>, d: &FieldDesc, u: u64, i: i64, ctx: &ExportContext) {
    let name = d.name;
    match d.decode {
        Decode::Mode => o.str(&format!("{name}_octal"), &format!("{u:04o}")),
        Decode::Flags(table) => {
            let names = names::flag_names(u, table);
            o.str_array(&format!("{name}_names"), flag_list(&names));
        }
        Decode::OpenFlags => {
            let names = names::open_flags(u);
            o.str_array(&format!("{name}_names"), flag_list(&names));
        }
        Decode::CloneFlags { exit_signal_byte } => {
            let names = text::clone_flag_names(u, exit_signal_byte);
            o.str_array(&format!("{name}_names"), flag_list(&names));
            let flags = if exit_signal_byte {
                u & !text::CSIGNAL
            } else {
                u
            };
            o.str_array("namespaces", names::namespace_names(flags));
            if exit_signal_byte && let Some(sig) = text::exit_signal(u) {
                o.str("exit_signal", &sig);
            }
        }
        Decode::Caps => {
            let names = names::capability_names(u);
            o.str_array(&format!("{name}_names"), flag_list(&names));
        }
        Decode::Named(f) => o.str(&format!("{name}_name"), &f(i)),
        Decode::NsType => o.str(&format!("{name}_name"), &names::nstype_name(i as i32)),
        Decode::WaitStatus => o.str(&format!("{name}_name"), &names::wait_status(i as i32)),
        Decode::Signal if i != 0 => o.str(&format!("{name}_name"), &names::signal_name(i as i32)),
        Decode::ProbeId => {
            if let Some(probe) = ctx.probes.name(u as u32) {
                o.str("probe_name", probe);
            }
        }
        _ => {}
    }
}

fn write_probe_record(o: &mut Obj<'_>, bytes: &[u8], ctx: &ExportContext, probe_id: Option<u32>) {
    o.num("len", bytes.len());
    o.str("bytes_hex", &hex(bytes));
    let Some(probe_id) = probe_id else {
        return;
    };
    match ctx.probes.decode(probe_id, bytes) {
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

fn write_sock_addr<S: AsRef<str>>(o: &mut Obj<'_>, a: &SockAddr<S>) {
    match a {
        SockAddr::None => {}
        SockAddr::Inet { ip, port } => {
            let family: u16 = if ip.is_ipv4() { 2 } else { 10 };
            o.num("family", family);
            o.str("family_name", names::family_name(family));
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
            o.str("family_name", names::family_name(*family));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of a JSON object in order, duplicates kept.
    fn keys(json: &str) -> Vec<String> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    out.push(k);
                }
                Ok(out)
            }
        }
        let mut de = serde_json::Deserializer::from_str(json);
        serde::Deserializer::deserialize_map(&mut de, Keys).unwrap()
    }

    #[test]
    fn every_kind_exports_valid_json_with_unique_keys() {
        let ctx = ExportContext::default();
        for e in beefine_testdata::generated::every_kind(5, 3, 1_000) {
            let mut line = String::new();
            write_event(&mut line, &e, &ctx);
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["kind"], e.kind().name());
            let mut k = keys(&line);
            let n = k.len();
            k.sort();
            k.dedup();
            assert_eq!(k.len(), n, "{} has a key twice: {line}", e.kind());
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, r#""a\"b\\c\nd\u0001é""#);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
    }
}
