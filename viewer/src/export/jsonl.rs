//! `--format jsonl`: one JSON object per event, in time order (JSON Lines).
//!
//! The field names are a public interface, documented in `viewer/EXPORT.md`: numbers stay
//! numbers under the kernel's name for them, and their decoded forms sit beside them with a
//! `_name` / `_names` suffix. Objects are written by hand (not through a map) so that the
//! fields keep a fixed, readable order and a million events export in well under a second.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::ops::ControlFlow;

use beefine_schema::btf::Value;
use beefine_schema::{Event, Query, names};

use super::fields::{FieldSink, write_fields};
use super::{ExportContext, ExportSummary, finish_output};

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
    finish_output(io_error, out)?;
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

    fn str_array<'s>(&mut self, key: &str, items: impl Iterator<Item = &'s str>) {
        self.key(key);
        self.out.push('[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_json_str(self.out, s);
        }
        self.out.push(']');
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

impl FieldSink for Obj<'_> {
    fn uint(&mut self, key: &str, v: u64) {
        self.num(key, v);
    }

    fn int(&mut self, key: &str, v: i64) {
        self.num(key, v);
    }

    fn text(&mut self, key: &str, v: &str) {
        self.str(key, v);
    }

    fn texts(&mut self, key: &str, items: &mut dyn Iterator<Item = &str>) {
        self.str_array(key, items);
    }

    fn uints(&mut self, key: &str, items: &[u32]) {
        self.key(key);
        self.out.push('[');
        for (i, n) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{n}");
        }
        self.out.push(']');
    }

    fn pairs(&mut self, key: &str, items: &mut dyn Iterator<Item = (&str, &str)>) {
        self.key(key);
        let mut obj = Obj::new(self.out);
        for (k, v) in items {
            obj.escaped_key(k);
            push_json_str(obj.out, v);
        }
        obj.finish();
    }

    fn record(&mut self, key: &str, fields: &[(String, Value)]) {
        self.key(key);
        let mut obj = Obj::new(self.out);
        for (path, value) in fields {
            obj.escaped_key(path);
            push_btf_value(obj.out, value);
        }
        obj.finish();
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
