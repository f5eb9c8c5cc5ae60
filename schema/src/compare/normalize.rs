//! What stays the same when the same image runs twice: an event reduced to its kind, the
//! role and name of its process, its decoded arguments and its outcome, with what changes
//! from run to run (pids, ids, descriptors, times, inode numbers, container ids, random hex,
//! temporary names) left out or replaced by a placeholder.

use std::fmt::Write as _;

use serde::Serialize;

use crate::entities::Component;
use crate::event::text::{Direct, Strings, value_text};
use crate::event::{Decode, Event, EventData, FieldDesc, FieldRef, Kind, SockAddr};

/// The longest normalised text kept of one field, in bytes.
pub const MAX_FIELD_TEXT: usize = 240;
/// The longest argument text of one call, in bytes.
pub const MAX_ARGS_TEXT: usize = 480;

/// What two sessions are compared by: one call, as it would be in any run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CallKey {
    pub kind: Kind,
    /// The part of the stack its process is (`daemon` for events no task caused).
    pub role: String,
    /// The process's name, normalised.
    pub comm: String,
    /// The decoded arguments, normalised: `name=value` pairs.
    pub args: String,
    /// `ok`, the errno's name, or empty for kinds without a result.
    pub outcome: String,
}

/// Kinds that are not compared call by call: their fields are amounts and times (file I/O
/// sums, packets, TCP states, samples, losses) or records only their probe can read.
pub fn compared(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::FileIo
            | Kind::Packet
            | Kind::TcpState
            | Kind::ResourceSample
            | Kind::Lost
            | Kind::Custom
    )
}

/// The key of an event, or `None` for kinds that are not compared.
pub fn call_key<S: AsRef<str>>(e: &Event<S>, role: Option<Component>) -> Option<CallKey> {
    let kind = e.kind();
    if !compared(kind) {
        return None;
    }
    let mut args = String::new();
    match &e.data {
        EventData::Docker(d) => docker_args(
            d.event_type.as_ref(),
            d.action.as_ref(),
            &d.attributes,
            &mut args,
        ),
        // prctl options whose second argument is an address (the name's buffer, …).
        EventData::Prctl(p) if matches!(p.option, 2 | 15 | 16 | 35 | 40 | 0x5356_4d41) => {
            let _ = write!(
                args,
                "option={}",
                value_text(
                    &Kind::Prctl.fields()[0],
                    &FieldRef::<S>::Int(i64::from(p.option)),
                    &Direct,
                )
            );
        }
        data => data.visit_fields(&mut |d, v| field_arg(d, &v, &mut args)),
    }
    cap(&mut args, MAX_ARGS_TEXT);
    let outcome = match e.result {
        _ if !kind.has_result() => String::new(),
        None => String::new(),
        Some(r) if r >= 0 => "ok".to_owned(),
        Some(r) => {
            crate::names::errno_name(-r).map_or_else(|| format!("error {}", -r), str::to_owned)
        }
    };
    let comm = e.header.comm.as_ref();
    Some(CallKey {
        kind,
        role: match role {
            Some(r) => r.name().to_owned(),
            None if comm.is_empty() => "daemon".to_owned(),
            None => Component::Other.name().to_owned(),
        },
        comm: text(comm),
        args,
        outcome,
    })
}

/// Attributes of a daemon event whose values are the same from run to run.
fn docker_args<S: AsRef<str>>(event_type: &str, action: &str, attrs: &[(S, S)], out: &mut String) {
    let _ = write!(out, "{} {}", text(event_type), text(action));
    let mut kept: Vec<(&str, &str)> = attrs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| match *k {
            "exitCode" | "signal" | "type" | "driver" => true,
            // A container's name is made up at random; an image's or a network's is not.
            "name" => event_type != "container",
            _ => false,
        })
        .collect();
    kept.sort_unstable();
    for (k, v) in kept {
        let _ = write!(out, " {k}={}", text(v));
    }
}

/// Appends ` name=value` for a field that is the same from run to run.
fn field_arg<S: AsRef<str>>(d: &FieldDesc, v: &FieldRef<'_, S>, out: &mut String) {
    let Some(value) = field_text(d, v) else {
        return;
    };
    if !out.is_empty() {
        out.push(' ');
    }
    let _ = write!(out, "{}={value}", d.name);
}

/// Field names of plain numbers that are ids or amounts, not settings.
fn plain_is_id(name: &str) -> bool {
    name.ends_with("pid")
        || name.ends_with("tgid")
        || name.ends_with("_fd")
        || matches!(
            name,
            "set_tid" | "ifindex" | "reads" | "writes" | "cpu" | "count" | "aux"
        )
}

/// The lowest port the kernel hands out for outgoing connections (`ip_local_port_range`).
const EPHEMERAL_PORTS: u16 = 32768;

fn port_text(port: u64) -> String {
    if port >= u64::from(EPHEMERAL_PORTS) {
        "ephemeral".to_owned()
    } else {
        port.to_string()
    }
}

/// A field's text as it would be in any run, or `None` when the field is an id, a
/// descriptor, a time or an amount.
pub fn field_text<S: AsRef<str>>(d: &FieldDesc, v: &FieldRef<'_, S>) -> Option<String> {
    Some(match d.decode {
        Decode::Plain if plain_is_id(d.name) => return None,
        Decode::Fd
        | Decode::CgroupId
        | Decode::BootTime
        | Decode::Nanos
        | Decode::ByteCount
        | Decode::ProbeId
        | Decode::ProbeRecord
        | Decode::Payload
        | Decode::LossSource
        | Decode::ContainerId => return None,
        Decode::DirFd => match v.as_i64() {
            Some(-100) => "AT_FDCWD".to_owned(),
            _ => "fd".to_owned(),
        },
        Decode::Port => port_text(v.as_u64().unwrap_or(0)),
        Decode::SockAddr => match v {
            FieldRef::Addr(SockAddr::Inet { ip, port }) => {
                format!("{ip}:{}", port_text(u64::from(*port)))
            }
            FieldRef::Addr(SockAddr::Unix { path }) => format!("unix {}", text(path.as_ref())),
            _ => value_text(d, v, &Direct as &dyn Strings<S>),
        },
        // Addresses (prctl's pointer arguments) change from run to run.
        Decode::Plain if v.as_u64().is_some_and(|n| n > u64::from(u32::MAX)) => "N".to_owned(),
        _ => {
            let t = value_text(d, v, &Direct as &dyn Strings<S>);
            if matches!(v, FieldRef::Uint(_) | FieldRef::Int(_)) {
                t
            } else {
                text(&t)
            }
        }
    })
}

/// Cuts `s` to at most `max` bytes (at a character boundary), marking the cut.
fn cap(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

/// Text with the parts that change from run to run replaced: 64-hex ids by `<id>`, long
/// hex by `<hex>`, pids and descriptors in `/proc` paths and inode numbers (`pipe:[N]`)
/// by `N`, long numbers and the numbered tails of temporary names by `N`, random names by
/// `<rand>`. At most [`MAX_FIELD_TEXT`] bytes.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_FIELD_TEXT + 8));
    let bytes = s.as_bytes();
    let mut prev_token = "";
    let mut i = 0;
    while i < bytes.len() && out.len() <= MAX_FIELD_TEXT {
        if !bytes[i].is_ascii_alphanumeric() {
            let c = s[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let token = &s[start..i];
        let around = Around {
            prev: prev_token,
            before: start.checked_sub(1).map(|j| bytes[j]),
            after: bytes.get(i).copied(),
        };
        token_text(token, &around, &mut out);
        prev_token = token;
    }
    cap(&mut out, MAX_FIELD_TEXT);
    out
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Whether a token is the random part of a temporary name as `mkstemp` makes it: six
/// letters and digits of both cases (or letters and digits) that end a name after a `.`,
/// `-` or `_` (`runc.fmcdWF`, `tmp-jRsC9b`).
fn mktemp_like(b: &[u8], before: Option<u8>, after: Option<u8>) -> bool {
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let digit = b.iter().any(u8::is_ascii_digit);
    b.len() == 6
        && ((lower && upper) || (digit && (lower || upper)))
        && matches!(before, Some(b'.' | b'-' | b'_'))
        && matches!(after, None | Some(b'/'))
}

/// What surrounds a token.
struct Around<'a> {
    /// The token before it.
    prev: &'a str,
    /// The characters just before and after it.
    before: Option<u8>,
    after: Option<u8>,
}

/// One alphanumeric token of a text, normalised.
fn token_text(token: &str, around: &Around<'_>, out: &mut String) {
    let prev = around.prev;
    let after_bracket = around.before == Some(b'[');
    let b = token.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let all_hex = b.iter().all(|c| is_lower_hex(*c));
    if b.len() == 64 && all_hex {
        out.push_str("<id>");
    } else if all_hex && b.len() >= 12 && digits > 0 {
        out.push_str("<hex>");
    } else if digits == b.len() {
        // Pids, thread ids and descriptors in /proc paths, inodes in `pipe:[N]`, and long
        // numbers (times, random suffixes) change; short ones (modes, sizes, ports) do not.
        let numbered = matches!(prev, "proc" | "task" | "fd" | "fdinfo" | "map_files");
        // `pipe:[12345]`, `net:[4026531840]`: an inode.
        let inode = after_bracket
            && matches!(
                prev,
                "pipe"
                    | "socket"
                    | "net"
                    | "mnt"
                    | "pid"
                    | "uts"
                    | "ipc"
                    | "cgroup"
                    | "user"
                    | "time"
            );
        if numbered || inode || b.len() >= 6 {
            out.push('N');
        } else {
            out.push_str(token);
        }
    } else {
        let tail_digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        let tail_hex = b.iter().rev().take_while(|c| is_lower_hex(**c)).count();
        let hex_digits = b[b.len() - tail_hex..]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .count();
        let capitals = b
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if tail_digits >= 5 {
            // `process2798412393`, `GetImageBlob4177342957`: a temporary name's number.
            out.push_str(&token[..b.len() - tail_digits]);
            out.push('N');
        } else if tail_hex >= 7 && hex_digits >= 2 {
            // `vethb7f4a1e`: an interface named with random hex.
            out.push_str(&token[..b.len() - tail_hex]);
            out.push_str("<hex>");
        } else if (b.len() >= 16 && digits > 0)
            || (b.len() >= 20 && capitals)
            || mktemp_like(b, around.before, around.after)
        {
            // Random names; overlay2's short link names are 26 capitals and digits,
            // mkstemp's six letters are of both cases (`runc.fmcdWF`).
            out.push_str("<rand>");
        } else {
            out.push_str(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventHeader, MountArgs, Namespaces, SetnsArgs, Str, UnshareArgs};

    #[test]
    fn texts_lose_what_changes_between_runs() {
        let id = "2557db8f4022f7ebe9f50a5bbd237bbafd7d112a40165c15e511055715f763f5";
        assert_eq!(
            text(&format!("devices/docker/{id}/devices.allow")),
            "devices/docker/<id>/devices.allow"
        );
        assert_eq!(text("/proc/32019/stat"), "/proc/N/stat");
        assert_eq!(text("/proc/self/fd/7"), "/proc/self/fd/N");
        assert_eq!(
            text("/proc/31288/task/31305/ns/net"),
            "/proc/N/task/N/ns/net"
        );
        assert_eq!(text("pipe:[1234]"), "pipe:[N]");
        assert_eq!(
            text("/var/run/docker/libnetwork/1b72e94a976a.sock"),
            "/var/run/docker/libnetwork/<hex>.sock"
        );
        assert_eq!(text("/tmp/runc-process2798412393"), "/tmp/runc-processN");
        assert_eq!(
            text("/var/lib/docker/overlay2/l/4XG2JQK7ZP3V5WMA2OZ6Q3PL5D"),
            "/var/lib/docker/overlay2/l/<rand>"
        );
        assert_eq!(text("vethb7f4a1e"), "veth<hex>");
        assert_eq!(
            text("/run/runc/moby/runc.fmcdWF"),
            "/run/runc/moby/runc.<rand>"
        );
        assert_eq!(text("runc.jRsC9b"), "runc.<rand>");
        assert_eq!(text("GetImageBlob"), "GetImageBlob");
        // What does not change stays.
        for same in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "glibc-hwcaps/x86-64-v3/libseccomp.so.2",
            "size=65536k,mode=755",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "runc:[2:INIT]",
            "containerd-shim-runc-v2",
            "sha256",
            "172.17.0.2",
            "/dev/pts/0",
            "io.containerd.runtime.v2.task",
            "OpenSSL",
            "/etc/ImageMagick-6",
        ] {
            assert_eq!(text(same), same);
        }
        assert!(text(&"a/".repeat(1000)).len() <= MAX_FIELD_TEXT + '…'.len_utf8());
        // Anything at all is text: no panic on odd bytes or characters.
        assert_eq!(text("é/123456/ü"), "é/N/ü");
    }

    fn event(data: EventData, result: Option<i64>, tgid: u32) -> Event {
        Event {
            header: EventHeader {
                ts_nanos: 5,
                pid: tgid,
                tgid,
                comm: Str::from("runc:[1:CHILD]"),
                cgroup_id: 77,
                ns: Namespaces::default(),
            },
            result,
            data,
        }
    }

    #[test]
    fn keys_keep_arguments_and_drop_ids() {
        let a = call_key(
            &event(
                EventData::Setns(SetnsArgs {
                    fd: 5,
                    nstype: 0x4000_0000,
                }),
                Some(0),
                100,
            ),
            Some(Component::Runc),
        )
        .unwrap();
        let b = call_key(
            &event(
                EventData::Setns(SetnsArgs {
                    fd: 9,
                    nstype: 0x4000_0000,
                }),
                Some(0),
                222,
            ),
            Some(Component::Runc),
        )
        .unwrap();
        assert_eq!(a, b, "fds and pids differ, the call does not");
        assert_eq!(a.args, "nstype=0x40000000 = CLONE_NEWNET");
        assert_eq!((a.role.as_str(), a.outcome.as_str()), ("runc", "ok"));
        let unshare = |flags| {
            call_key(
                &event(EventData::Unshare(UnshareArgs { flags }), Some(-1), 1),
                Some(Component::Runc),
            )
            .unwrap()
        };
        assert_ne!(
            unshare(0x6c02_0000),
            unshare(0x2c02_0000),
            "CLONE_NEWNET matters"
        );
        assert_eq!(unshare(0x6c02_0000).outcome, "EPERM");
        let mount = call_key(
            &event(
                EventData::Mount(Box::new(MountArgs {
                    source: "overlay".into(),
                    target: "/var/lib/docker/overlay2/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/merged".into(),
                    fstype: "overlay".into(),
                    flags: 0,
                    data: "lowerdir=/var/lib/docker/overlay2/l/4XG2JQK7ZP3V5WMA2OZ6Q3PL5D".into(),
                })),
                Some(0),
                1,
            ),
            None,
        )
        .unwrap();
        assert!(
            mount
                .args
                .contains("target=/var/lib/docker/overlay2/<id>/merged"),
            "{}",
            mount.args
        );
        assert!(
            mount
                .args
                .contains("lowerdir=/var/lib/docker/overlay2/l/<rand>"),
            "{}",
            mount.args
        );
        assert_eq!(mount.role, "other");
    }
}
