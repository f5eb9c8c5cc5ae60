//! The fields of an event as named values, from the descriptions of its kind: the one walk
//! over [`beefine_schema::FieldDesc`]s that every export format shares.
//!
//! Each raw value goes out under its field's name (numbers stay numbers), followed by its
//! decoded forms under suffixed names: `_name` (one name), `_names` (flag names),
//! `_octal` (modes), `namespaces` and `exit_signal` (clone flags), `probe_name`; socket
//! addresses as `family`, `family_name`, `address`, `port`; payloads as text and `_hex`;
//! records of user probes decoded with their BTF. A format implements [`FieldSink`].

use beefine_schema::btf::Value;
use beefine_schema::{Decode, EventData, FieldDesc, FieldRef, SockAddr, names, text};

use super::ExportContext;

/// Where the named values of an event go.
pub trait FieldSink {
    fn uint(&mut self, key: &str, v: u64);
    fn int(&mut self, key: &str, v: i64);
    fn text(&mut self, key: &str, v: &str);
    /// A list of strings (argv, flag names).
    fn texts(&mut self, key: &str, items: &mut dyn Iterator<Item = &str>);
    fn uints(&mut self, key: &str, items: &[u32]);
    /// Key/value pairs whose keys come from the file (daemon event attributes).
    fn pairs(&mut self, key: &str, items: &mut dyn Iterator<Item = (&str, &str)>);
    /// A user probe's record decoded with its BTF: leaf paths and their values.
    fn record(&mut self, key: &str, fields: &[(String, Value)]);
}

/// A list of names from a `|`-joined flag text, without the "no flags" forms.
pub fn flag_list(names: &str) -> impl Iterator<Item = &str> {
    names
        .split('|')
        .filter(|s| !s.is_empty() && *s != "0" && *s != "none")
}

/// Lower-case hexadecimal digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Writes the fields of an event's kind, from its description: each raw value under its
/// name, then its decoded forms.
pub fn write_fields<S: AsRef<str>>(
    sink: &mut dyn FieldSink,
    data: &EventData<S>,
    ctx: &ExportContext,
) {
    let mut fields: Vec<(&'static FieldDesc, FieldRef<'_, S>)> = Vec::with_capacity(8);
    data.visit_fields(&mut |d, v| fields.push((d, v)));
    let probe_id = fields.iter().find_map(|(d, v)| match d.decode {
        Decode::ProbeId => v.as_u64().map(|n| n as u32),
        _ => None,
    });
    for (d, v) in &fields {
        write_field(sink, d, v, ctx, probe_id);
    }
}

fn write_field<S: AsRef<str>>(
    sink: &mut dyn FieldSink,
    d: &FieldDesc,
    v: &FieldRef<'_, S>,
    ctx: &ExportContext,
    probe_id: Option<u32>,
) {
    let name = d.name;
    match v {
        FieldRef::Uint(n) => sink.uint(name, *n),
        FieldRef::Int(n) => sink.int(name, *n),
        FieldRef::Str(s) => match d.decode {
            // A sample's container is the event's container when the session knows it.
            Decode::ContainerId if d.name == "container_id" => {
                if ctx.containers.by_id(s.as_ref()).is_none() {
                    sink.text(name, s.as_ref());
                }
            }
            _ => sink.text(name, s.as_ref()),
        },
        FieldRef::OptStr(s) => {
            if let Some(s) = s {
                sink.text(name, s.as_ref());
            }
        }
        FieldRef::Strs(items) => sink.texts(name, &mut items.iter().map(AsRef::as_ref)),
        FieldRef::Uints(items) => sink.uints(name, items),
        FieldRef::Bytes(b) => match d.decode {
            Decode::Payload => {
                sink.text(name, &names::payload_text(b));
                sink.text(&format!("{name}_hex"), &hex(b));
            }
            Decode::ProbeRecord => write_probe_record(sink, b, ctx, probe_id),
            _ => sink.text(&format!("{name}_hex"), &hex(b)),
        },
        FieldRef::Ip(ip) => sink.text(name, &ip.to_string()),
        FieldRef::Addr(a) => write_sock_addr(sink, a),
        FieldRef::Pairs(pairs) => {
            sink.pairs(
                name,
                &mut pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            );
        }
        FieldRef::Loss(l) => sink.text(name, l.name()),
    }
    if let (Some(u), Some(i)) = (v.as_u64(), v.as_i64()) {
        write_decoded(sink, d, u, i, ctx);
    }
}

/// The decoded forms of a number beside it: `_name`, `_names`, `_octal`, and for clone flags
/// the namespaces they create and the exit signal.
fn write_decoded(sink: &mut dyn FieldSink, d: &FieldDesc, u: u64, i: i64, ctx: &ExportContext) {
    let name = d.name;
    let names_of = |sink: &mut dyn FieldSink, names: &str| {
        sink.texts(&format!("{name}_names"), &mut flag_list(names));
    };
    match d.decode {
        Decode::Mode => sink.text(&format!("{name}_octal"), &format!("{u:04o}")),
        Decode::Flags(table) => names_of(sink, &names::flag_names(u, table)),
        Decode::OpenFlags => names_of(sink, &names::open_flags(u)),
        Decode::CloneFlags { exit_signal_byte } => {
            names_of(sink, &text::clone_flag_names(u, exit_signal_byte));
            let flags = if exit_signal_byte {
                u & !text::CSIGNAL
            } else {
                u
            };
            sink.texts(
                "namespaces",
                &mut names::namespace_names(flags).iter().copied(),
            );
            if exit_signal_byte && let Some(sig) = text::exit_signal(u) {
                sink.text("exit_signal", &sig);
            }
        }
        Decode::Caps => names_of(sink, &names::capability_names(u)),
        Decode::Named(f) => sink.text(&format!("{name}_name"), &f(i)),
        Decode::NsType => sink.text(&format!("{name}_name"), &names::nstype_name(i as i32)),
        Decode::WaitStatus => sink.text(&format!("{name}_name"), &names::wait_status(i as i32)),
        Decode::Signal if i != 0 => {
            sink.text(&format!("{name}_name"), &names::signal_name(i as i32));
        }
        Decode::ProbeId => {
            if let Some(probe) = ctx.probes.name(u as u32) {
                sink.text("probe_name", probe);
            }
        }
        _ => {}
    }
}

fn write_probe_record(
    sink: &mut dyn FieldSink,
    bytes: &[u8],
    ctx: &ExportContext,
    probe_id: Option<u32>,
) {
    sink.uint("len", bytes.len() as u64);
    sink.text("bytes_hex", &hex(bytes));
    let Some(probe_id) = probe_id else {
        return;
    };
    match ctx.probes.decode(probe_id, bytes) {
        Ok(fields) => sink.record("fields", &fields),
        Err(why) => sink.text("decode_error", &why),
    }
}

fn write_sock_addr<S: AsRef<str>>(sink: &mut dyn FieldSink, a: &SockAddr<S>) {
    match a {
        SockAddr::None => {}
        SockAddr::Inet { ip, port } => {
            let family: u16 = if ip.is_ipv4() { 2 } else { 10 };
            sink.uint("family", u64::from(family));
            sink.text("family_name", names::family_name(family));
            sink.text("address", &ip.to_string());
            sink.uint("port", u64::from(*port));
        }
        SockAddr::Unix { path } => {
            sink.uint("family", 1);
            sink.text("family_name", "AF_UNIX");
            sink.text("address", path.as_ref());
        }
        SockAddr::Other { family } => {
            sink.uint("family", u64::from(*family));
            sink.text("family_name", names::family_name(*family));
        }
    }
}
