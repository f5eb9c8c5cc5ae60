//! Event fields as text, from their descriptions: the full form (details, search), the short
//! form (summaries), and summary templates.
//!
//! Strings are reached through [`Strings`], so the same code serves owned events, borrowed
//! ones and the viewer's interned ones.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::field::{Decode, FieldDesc, FieldRef};
use super::{EventData, SockAddr};
use crate::{format, names};

/// Turns an event's string values into text.
pub trait Strings<S> {
    fn get<'a>(&'a self, s: &'a S) -> &'a str;
}

/// Strings that are text already (`Str`, `&str`, `String`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Direct;

impl<S: AsRef<str>> Strings<S> for Direct {
    fn get<'a>(&'a self, s: &'a S) -> &'a str {
        s.as_ref()
    }
}

/// The low byte of `clone` flags: the signal the parent gets when the child exits.
pub const CSIGNAL: u64 = 0xff;

/// `ip:port`, with brackets around IPv6 addresses.
pub fn addr_port(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// A socket address for people: `127.0.0.1:5000`, `unix /run/containerd.sock`.
pub fn sock_addr<S>(a: &SockAddr<S>, strings: &dyn Strings<S>) -> String {
    match a {
        SockAddr::None => "no address".to_owned(),
        SockAddr::Inet { ip, port } => addr_port(ip, *port),
        SockAddr::Unix { path } => {
            let p = strings.get(path);
            if p.is_empty() {
                "unix (unnamed)".to_owned()
            } else if let Some(abs) = p.strip_prefix('\0') {
                format!("unix @{abs}")
            } else {
                format!("unix {p}")
            }
        }
        SockAddr::Other { family } => names::family_name(*family).to_owned(),
    }
}

/// The flag names of `clone`-family flags, without the exit-signal byte when it is one.
pub fn clone_flag_names(flags: u64, exit_signal_byte: bool) -> String {
    let named = if exit_signal_byte {
        flags & !CSIGNAL
    } else {
        flags
    };
    names::flag_names(named, names::CLONE_FLAGS)
}

/// `new mnt, uts namespaces`, or empty when the flags create none.
pub fn new_namespaces(flags: u64, exit_signal_byte: bool) -> String {
    let flags = if exit_signal_byte {
        flags & !CSIGNAL
    } else {
        flags
    };
    let ns = names::namespace_names(flags);
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

/// The exit signal in the low byte of `clone` flags, when there is one.
pub fn exit_signal(flags: u64) -> Option<String> {
    (flags & CSIGNAL != 0).then(|| names::signal_name((flags & CSIGNAL) as i32))
}

/// `setns`'s namespace type in words: `net namespace`, `the namespace of the fd`.
pub fn nstype_words(nstype: i64) -> String {
    let ns = names::namespace_names(nstype as u32 as u64);
    if ns.is_empty() {
        "the namespace of the fd".to_owned()
    } else {
        format!(
            "{} namespace{}",
            ns.join(", "),
            if ns.len() > 1 { "s" } else { "" }
        )
    }
}

/// An argument vector as a shell would show it (arguments with spaces quoted).
pub fn argv_text<S>(argv: &[S], strings: &dyn Strings<S>) -> String {
    argv.iter()
        .map(|a| {
            let a = strings.get(a);
            if a.contains(' ') || a.is_empty() {
                format!("'{a}'")
            } else {
                a.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let mut out = String::new();
    for (i, v) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{v}");
    }
    out
}

/// Text of a field that is not a number.
fn other_text<S>(d: &FieldDesc, v: &FieldRef<'_, S>, strings: &dyn Strings<S>) -> String {
    match v {
        FieldRef::Uint(_) | FieldRef::Int(_) => String::new(),
        FieldRef::Str(s) => strings.get(s).to_owned(),
        FieldRef::OptStr(s) => s.map(|s| strings.get(s).to_owned()).unwrap_or_default(),
        FieldRef::Strs(items) if matches!(d.decode, Decode::Argv) => argv_text(items, strings),
        FieldRef::Strs(items) => list(items.iter().map(|s| strings.get(s))),
        FieldRef::Uints(items) => list(items.iter()),
        FieldRef::Bytes(b) if matches!(d.decode, Decode::Payload) => names::payload_text(b),
        FieldRef::Bytes(b) => format!("{} bytes", b.len()),
        FieldRef::Ip(ip) => ip.to_string(),
        FieldRef::Addr(a) => sock_addr(a, strings),
        FieldRef::Pairs(p) => list(
            p.iter()
                .map(|(k, v)| format!("{}={}", strings.get(k), strings.get(v))),
        ),
        FieldRef::Loss(l) => l.name().to_owned(),
    }
}

/// The full text of a field, as the details panel and text search show it:
/// `0x6c020000 = CLONE_NEWNS|CLONE_NEWUTS|…`, `0644`, `-2`.
pub fn value_text<S>(d: &FieldDesc, v: &FieldRef<'_, S>, strings: &dyn Strings<S>) -> String {
    let (Some(u), Some(i)) = (v.as_u64(), v.as_i64()) else {
        return other_text(d, v, strings);
    };
    match d.decode {
        Decode::Hex => format!("{u:#x}"),
        Decode::Mode => format!("{u:04o}"),
        Decode::DirFd if i == -100 => "AT_FDCWD (the working directory)".to_owned(),
        Decode::Flags(table) => format!("{u:#x} = {}", names::flag_names(u, table)),
        Decode::OpenFlags => format!("{u:#o} = {}", names::open_flags(u)),
        Decode::CloneFlags { exit_signal_byte } => {
            let mut s = format!("{u:#x} = {}", clone_flag_names(u, exit_signal_byte));
            if exit_signal_byte && let Some(sig) = exit_signal(u) {
                let _ = write!(s, " + exit signal {sig}");
            }
            s
        }
        Decode::Named(name) => format!("{i} = {}", name(i)),
        Decode::NsType => format!("{u:#x} = {}", names::nstype_name(i as i32)),
        Decode::Caps => format!("{u:#x} = {}", names::capability_names(u)),
        Decode::WaitStatus => format!("{} (raw {u:#x})", names::wait_status(i as i32)),
        Decode::Signal if i == 0 => "none".to_owned(),
        Decode::Signal => format!("{i} = {}", names::signal_name(i as i32)),
        Decode::ByteCount => format::bytes(u),
        Decode::Nanos => format::duration(u),
        Decode::Fd
        | Decode::DirFd
        | Decode::Plain
        | Decode::CgroupId
        | Decode::CgroupHierarchy
        | Decode::Port
        | Decode::ProbeId
        | Decode::BootTime => i.to_string(),
        _ if matches!(v, FieldRef::Uint(_)) => u.to_string(),
        _ => i.to_string(),
    }
}

/// The short text of a field, as summaries show it: names without numbers, sizes in units.
pub fn short_text<S>(d: &FieldDesc, v: &FieldRef<'_, S>, strings: &dyn Strings<S>) -> String {
    let (Some(u), Some(i)) = (v.as_u64(), v.as_i64()) else {
        return other_text(d, v, strings);
    };
    match d.decode {
        Decode::DirFd if i == -100 => "AT_FDCWD".to_owned(),
        Decode::DirFd => format!("fd {i}"),
        Decode::Flags(table) => names::flag_names(u, table),
        Decode::OpenFlags => names::open_flags(u),
        Decode::CloneFlags { exit_signal_byte } => {
            let ns = new_namespaces(u, exit_signal_byte);
            if ns.is_empty() {
                let mut s = clone_flag_names(u, exit_signal_byte);
                if exit_signal_byte && let Some(sig) = exit_signal(u) {
                    let _ = write!(s, " + exit signal {sig}");
                }
                s
            } else {
                ns
            }
        }
        Decode::Named(name) => name(i).into_owned(),
        Decode::NsType => nstype_words(i),
        Decode::Caps => u.count_ones().to_string(),
        Decode::WaitStatus => names::wait_status(i as i32),
        Decode::Signal => names::signal_name(i as i32),
        _ => value_text(d, v, strings),
    }
}

/// Whether a field has nothing to say: zero, empty or absent (summary templates leave out
/// the `[…]` parts around such fields).
pub fn is_absent<S>(v: &FieldRef<'_, S>, strings: &dyn Strings<S>) -> bool {
    match v {
        FieldRef::Uint(n) => *n == 0,
        FieldRef::Int(n) => *n == 0,
        FieldRef::Str(s) => strings.get(s).is_empty(),
        FieldRef::OptStr(s) => s.is_none_or(|s| strings.get(s).is_empty()),
        FieldRef::Strs(l) => l.is_empty(),
        FieldRef::Uints(l) => l.is_empty(),
        FieldRef::Bytes(b) => b.is_empty(),
        FieldRef::Pairs(p) => p.is_empty(),
        FieldRef::Addr(a) => matches!(a, SockAddr::None),
        FieldRef::Ip(_) | FieldRef::Loss(_) => false,
    }
}

/// The summary of `data` from its kind's template, when the kind has one.
pub fn summary<S>(data: &EventData<S>, strings: &dyn Strings<S>) -> Option<String> {
    let template = data.kind().summary_template()?;
    let mut fields: Vec<(&'static FieldDesc, FieldRef<'_, S>)> = Vec::with_capacity(8);
    data.visit_fields(&mut |d, v| fields.push((d, v)));
    Some(render(template, &fields, strings))
}

/// A placeholder's text and whether its field is absent.
fn placeholder<S>(
    name: &str,
    fields: &[(&'static FieldDesc, FieldRef<'_, S>)],
    strings: &dyn Strings<S>,
) -> (String, bool) {
    let find = |n: &str| fields.iter().find(|(d, _)| d.name == n);
    if let Some((ip, port)) = name.split_once(':') {
        return match (find(ip), find(port)) {
            (Some((_, FieldRef::Ip(ip))), Some((_, port))) => {
                (addr_port(ip, port.as_u64().unwrap_or(0) as u16), false)
            }
            _ => (String::new(), true),
        };
    }
    match find(name) {
        Some((d, v)) => (short_text(d, v, strings), is_absent(v, strings)),
        None => (String::new(), true),
    }
}

/// Fills a template: `{field}`, `{ip:port}`, and `[…]` parts left out when a field in them
/// is absent.
fn render<S>(
    template: &str,
    fields: &[(&'static FieldDesc, FieldRef<'_, S>)],
    strings: &dyn Strings<S>,
) -> String {
    let mut out = String::new();
    // The optional part being written: where it started in `out` and whether it is kept.
    let mut optional: Option<(usize, bool)> = None;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '[' => optional = Some((out.len(), true)),
            ']' => {
                if let Some((start, false)) = optional {
                    out.truncate(start);
                }
                optional = None;
            }
            '{' => {
                let end = rest.find('}').unwrap_or(rest.len());
                let (text, absent) = placeholder(&rest[..end], fields, strings);
                out.push_str(&text);
                if absent && let Some((_, keep)) = &mut optional {
                    *keep = false;
                }
                rest = rest.get(end + 1..).unwrap_or("");
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventData, ListenArgs, SeccompArgs, SetnsArgs, UmountArgs};

    fn text(d: EventData) -> String {
        summary(&d, &Direct).unwrap()
    }

    #[test]
    fn templates_fill_fields_and_leave_out_absent_parts() {
        assert_eq!(
            text(EventData::Listen(ListenArgs {
                fd: 6,
                backlog: 511
            })),
            "fd 6, backlog 511"
        );
        assert_eq!(
            text(EventData::Umount(UmountArgs {
                target: "/old".into(),
                flags: 0
            })),
            "/old"
        );
        assert_eq!(
            text(EventData::Umount(UmountArgs {
                target: "/old".into(),
                flags: 2
            })),
            "/old (MNT_DETACH)"
        );
        assert_eq!(
            text(EventData::Seccomp(SeccompArgs {
                operation: 1,
                flags: 0
            })),
            "SECCOMP_SET_MODE_FILTER"
        );
        assert_eq!(
            text(EventData::Setns(SetnsArgs {
                fd: 5,
                nstype: 0x4000_0000
            })),
            "join net namespace (fd 5)"
        );
    }
}
