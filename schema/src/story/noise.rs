//! Expected noise: calls that fail, or look alarming, as part of normal work.
//!
//! Every rule is here, with its reason in words, so that the viewer can hide them ("hide
//! expected noise") and say why, and a reader of this file can check each one. A rule
//! matches on the event's fact, its result and the process that made it; nothing else.
//! Errors are shown with their meaning ([`errno_meaning`]), not only their name.

use super::fact::{Addr, Ev, Fact};
use crate::entities::Component;
use crate::event::Kind;
use crate::names as decode;

/// Who made a call: what the rules may look at besides the event.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub role: Component,
    /// The process's command line as of its last exec (empty when unknown).
    pub argv: &'a [String],
}

/// One rule of expected noise.
#[derive(Debug)]
pub struct Rule {
    /// Stable name (`loader_search`), used in exports.
    pub id: &'static str,
    /// A few words for a collapsed row or a legend.
    pub title: &'static str,
    /// Why this is expected, in one sentence.
    pub reason: &'static str,
    matches: fn(&Ev<'_>, &Who<'_>) -> bool,
}

const EPERM: i64 = 1;
const ENOENT: i64 = 2;
const EAGAIN: i64 = 11;
const EFAULT: i64 = 14;
const EEXIST: i64 = 17;
const ENOTDIR: i64 = 20;
const EINVAL: i64 = 22;
const EINPROGRESS: i64 = 115;
const PR_CAPBSET_READ: i32 = 23;

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `libc.so.6`, `libdevmapper.so.1.02.1`, `libfoo.so`.
fn is_shared_library(name: &str) -> bool {
    match name.find(".so") {
        Some(i) => {
            let rest = &name[i + 3..];
            rest.is_empty()
                || rest.starts_with('.')
                    && rest[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.')
        }
        None => false,
    }
}

fn open_path<'a>(e: &Ev<'a>) -> Option<&'a str> {
    match e.fact {
        Fact::Open { path, .. } => Some(path),
        _ => None,
    }
}

fn is_runc(e: &Ev<'_>, who: &Who<'_>) -> bool {
    who.role == Component::Runc || e.comm.starts_with("runc")
}

/// Optional files whose absence is the normal case, with nothing else to say.
const OPTIONAL_FILES: &[&str] = &[
    "/root/.docker/config.json",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/usr/lib/ssl/openssl.cnf",
    "/etc/ssl/openssl.cnf",
    "/etc/gai.conf",
    "/etc/host.conf",
];

/// The rules, in the order they are tried.
pub const RULES: &[Rule] = &[
    Rule {
        id: "loader_search",
        title: "library path search",
        reason: "the dynamic loader tries each library directory in turn (tls/, glibc-hwcaps/, \
                 x86_64/, the RPATH, the defaults) until one holds the file",
        matches: |e, _| {
            e.errno() == Some(ENOENT)
                && open_path(e).is_some_and(|p| {
                    let b = base_name(p);
                    is_shared_library(b) || b == "ld.so.cache" || b == "ld.so.preload"
                })
        },
    },
    Rule {
        id: "nscd_absent",
        title: "no name-service cache",
        reason: "glibc asks the name-service cache daemon (nscd) first; none runs here, so it \
                 reads /etc/passwd, /etc/hosts … itself",
        matches: |e, _| {
            e.errno() == Some(ENOENT)
                && matches!(e.fact, Fact::Connect { addr: Addr::Unix(p) } if p.contains("nscd"))
        },
    },
    Rule {
        id: "userdb_absent",
        title: "no userdb records",
        reason: "systemd's NSS module looks for user records in userdb directories; none exist \
                 here, so the lookup falls through to /etc/passwd",
        matches: |e, _| {
            e.errno() == Some(ENOENT)
                && match e.fact {
                    Fact::Open { path, flags } => {
                        path.contains("userdb")
                            // systemd walks /run/host/userdb one component at a time.
                            || (path == "host" && flags & super::fact::O_PATH != 0)
                    }
                    _ => false,
                }
        },
    },
    Rule {
        id: "optional_file",
        title: "optional file absent",
        reason: "an optional configuration file that is simply not there; the program uses \
                 its defaults",
        matches: |e, _| {
            e.errno() == Some(ENOENT) && open_path(e).is_some_and(|p| OPTIONAL_FILES.contains(&p))
        },
    },
    Rule {
        id: "nonblocking_accept",
        title: "nothing to accept yet",
        reason: "a non-blocking accept with no connection waiting; the server goes back to \
                 its event loop and tries again when one arrives",
        matches: |e, _| e.errno() == Some(EAGAIN) && matches!(e.fact, Fact::Accept),
    },
    Rule {
        id: "nonblocking_connect",
        title: "connect in progress",
        reason: "a non-blocking connect: the TCP handshake finishes in the background and the \
                 caller waits for the socket to become writable",
        matches: |e, _| e.errno() == Some(EINPROGRESS) && matches!(e.fact, Fact::Connect { .. }),
    },
    Rule {
        id: "runc_masked_absent",
        title: "masked path absent",
        reason: "runc hides the paths the OCI spec lists as masked or read-only; ENOENT means \
                 this kernel has no such file, ENOTDIR that it is a directory, which runc covers \
                 with an empty read-only tmpfs instead",
        matches: |e, who| {
            matches!(e.errno(), Some(ENOENT | ENOTDIR))
                && is_runc(e, who)
                && matches!(e.fact, Fact::Mount(m) if m.target.starts_with("/proc/") || m.target.starts_with("/sys/"))
        },
    },
    Rule {
        id: "cleanup_umount",
        title: "not a mount point",
        reason: "cleanup unmounts every path that may be a mount point; EINVAL says it was not \
                 one, ENOENT that it is gone already",
        matches: |e, who| {
            matches!(e.errno(), Some(EINVAL | ENOENT))
                && matches!(e.fact, Fact::Umount { .. })
                && matches!(
                    who.role,
                    Component::Dockerd | Component::Containerd | Component::Shim | Component::Runc
                )
        },
    },
    Rule {
        id: "capability_probe",
        title: "capability probe",
        reason: "asking the kernel about capability numbers past the last one it knows \
                 (PR_CAPBSET_READ): EINVAL is how a program learns where the list ends",
        matches: |e, _| {
            e.errno() == Some(EINVAL)
                && matches!(e.fact, Fact::Prctl { option } if option == PR_CAPBSET_READ)
        },
    },
    Rule {
        id: "seccomp_probe",
        title: "seccomp feature probe",
        reason: "libseccomp probes which seccomp features the kernel has by calling it with \
                 deliberately invalid arguments; EFAULT or EINVAL is the expected answer",
        matches: |e, who| {
            matches!(e.errno(), Some(EFAULT | EINVAL))
                && matches!(e.fact, Fact::Seccomp { .. })
                && is_runc(e, who)
        },
    },
    Rule {
        id: "daemon_metadata_absent",
        title: "optional metadata absent",
        reason: "dockerd looks in its store for an image before pulling it, and for optional \
                 metadata (an image's parent, its last-update time, a layer's lower file); a new \
                 image and a base layer have none",
        matches: |e, who| {
            e.errno() == Some(ENOENT)
                && who.role == Component::Dockerd
                && open_path(e).is_some_and(|p| {
                    p.contains("/imagedb/metadata/")
                        || p.contains("/imagedb/content/")
                        || (p.contains("/overlay2/") && p.ends_with("/lower"))
                })
        },
    },
    Rule {
        id: "runtime_state_probe",
        title: "is it still there?",
        reason: "runc checks whether a container or a process exists before it acts; ENOENT \
                 says not (yet, or any more)",
        matches: |e, who| {
            e.errno() == Some(ENOENT)
                && is_runc(e, who)
                && open_path(e).is_some_and(|p| {
                    p.ends_with("/state.json")
                        || p.ends_with("freezer.state")
                        || (p.starts_with("/proc/") && p.ends_with("/stat"))
                })
        },
    },
    Rule {
        id: "mkdir_exists",
        title: "directory exists",
        reason: "the directory is there already; the caller creates it just in case and \
                 carries on",
        matches: |e, _| e.errno() == Some(EEXIST) && matches!(e.fact, Fact::Mkdir { .. }),
    },
    Rule {
        id: "iptables_check",
        title: "iptables rule check",
        reason: "`iptables -C` checks whether a rule exists; exit status 1 means not yet, and \
                 dockerd adds it with -A (or removes it with -D) next",
        matches: |e, who| {
            matches!(e.fact, Fact::Exit { code } if code == 256)
                && e.pid == e.tgid
                && who
                    .argv
                    .first()
                    .is_some_and(|a| a.ends_with("iptables") || a.ends_with("ip6tables"))
                && who.argv.iter().any(|a| a == "-C")
        },
    },
];

/// Whether this rule covers an event of `kind` (for legends).
pub fn rule_kinds(rule: &Rule) -> &'static [Kind] {
    match rule.id {
        "loader_search"
        | "userdb_absent"
        | "optional_file"
        | "daemon_metadata_absent"
        | "runtime_state_probe" => &[Kind::Openat, Kind::Openat2],
        "nscd_absent" | "nonblocking_connect" => &[Kind::Connect],
        "nonblocking_accept" => &[Kind::Accept, Kind::Accept4],
        "runc_masked_absent" => &[Kind::Mount],
        "cleanup_umount" => &[Kind::Umount],
        "capability_probe" => &[Kind::Prctl],
        "seccomp_probe" => &[Kind::Seccomp],
        "mkdir_exists" => &[Kind::Mkdir, Kind::Mkdirat],
        "iptables_check" => &[Kind::Exit],
        _ => &[],
    }
}

/// The index (into [`RULES`]) of the rule that marks an event as expected, if any.
pub fn expected(e: &Ev<'_>, who: &Who<'_>) -> Option<u8> {
    // Only failures and exits can be noise: the common case costs one comparison.
    if e.ok() && !matches!(e.fact, Fact::Exit { .. }) {
        return None;
    }
    RULES
        .iter()
        .position(|r| (r.matches)(e, who))
        .and_then(|i| u8::try_from(i).ok())
}

/// A rule by index; `None` for an index this build does not know.
pub fn rule(index: u8) -> Option<&'static Rule> {
    RULES.get(usize::from(index))
}

/// A rule by name.
pub fn rule_by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// What an errno means, as `strerror` says it.
pub fn errno_meaning(errno: i64) -> Option<&'static str> {
    Some(match errno {
        EPERM => "operation not permitted",
        ENOENT => "no such file or directory",
        3 => "no such process",
        4 => "interrupted system call",
        5 => "input/output error",
        9 => "bad file descriptor",
        10 => "no child processes",
        EAGAIN => "resource temporarily unavailable (try again)",
        12 => "cannot allocate memory",
        13 => "permission denied",
        EFAULT => "bad address",
        16 => "device or resource busy",
        EEXIST => "file exists",
        18 => "invalid cross-device link",
        19 => "no such device",
        ENOTDIR => "not a directory",
        21 => "is a directory",
        EINVAL => "invalid argument",
        24 => "too many open files",
        25 => "inappropriate ioctl for device",
        28 => "no space left on device",
        30 => "read-only file system",
        32 => "broken pipe",
        36 => "file name too long",
        38 => "function not implemented",
        39 => "directory not empty",
        40 => "too many levels of symbolic links",
        61 => "no data available",
        95 => "operation not supported",
        98 => "address already in use",
        99 => "cannot assign requested address",
        101 => "network is unreachable",
        104 => "connection reset by peer",
        106 => "transport endpoint is already connected",
        107 => "transport endpoint is not connected",
        110 => "connection timed out",
        111 => "connection refused",
        113 => "no route to host",
        114 => "operation already in progress",
        EINPROGRESS => "operation now in progress",
        _ => return None,
    })
}

/// A failed result for people: `ENOENT: no such file or directory`, followed by the
/// reason when a rule expects it (`— the dynamic loader tries …`).
pub fn failure_text(result: i64, rule: Option<&Rule>) -> String {
    let errno = -result;
    let mut s = match (decode::errno_name(errno), errno_meaning(errno)) {
        (Some(name), Some(meaning)) => format!("{name}: {meaning}"),
        (Some(name), None) => name.to_owned(),
        _ => format!("error {errno}"),
    };
    if let Some(r) = rule {
        s.push_str(" — ");
        s.push_str(r.reason);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Namespaces;
    use crate::story::fact::MountFact;

    fn ev(kind: Kind, result: Option<i64>, comm: &'static str, fact: Fact<'static>) -> Ev<'static> {
        Ev {
            ts_nanos: 1,
            pid: 5,
            tgid: 5,
            comm,
            cgroup_id: 1,
            ns: Namespaces::default(),
            result,
            kind,
            fact,
        }
    }

    fn who(role: Component) -> Who<'static> {
        Who { role, argv: &[] }
    }

    fn open(path: &'static str) -> Fact<'static> {
        Fact::Open { path, flags: 0 }
    }

    #[test]
    fn loader_search_and_its_meaning() {
        let e = ev(
            Kind::Openat,
            Some(-2),
            "runc",
            open("tls/x86_64/libseccomp.so.2"),
        );
        let i = expected(&e, &who(Component::Runc)).expect("expected");
        let r = rule(i).unwrap();
        assert_eq!(r.id, "loader_search");
        assert!(
            failure_text(-2, Some(r))
                .starts_with("ENOENT: no such file or directory — the dynamic loader")
        );
        // A missing file that is no library is worth reading.
        let e = ev(
            Kind::Openat,
            Some(-2),
            "nginx",
            open("/etc/nginx/nginx.conf"),
        );
        assert_eq!(expected(&e, &who(Component::Workload)), None);
        // Success is never noise.
        let e = ev(Kind::Openat, Some(3), "runc", open("/lib/libc.so.6"));
        assert_eq!(expected(&e, &who(Component::Runc)), None);
        assert!(is_shared_library("libdevmapper.so.1.02.1"));
        assert!(!is_shared_library("x.sock"));
    }

    #[test]
    fn runc_masking_and_cleanup() {
        let m = Fact::Mount(MountFact {
            source: "/dev/null",
            target: "/proc/kcore",
            fstype: "",
            flags: 4096,
            data: "",
        });
        let e = ev(Kind::Mount, Some(-2), "runc:[2:INIT]", m.clone());
        assert_eq!(
            rule(expected(&e, &who(Component::Runc)).unwrap())
                .unwrap()
                .id,
            "runc_masked_absent"
        );
        // The same failure by someone else is not runc's masking.
        let e = ev(Kind::Mount, Some(-2), "mount", m);
        assert_eq!(expected(&e, &who(Component::Other)), None);
        let u = ev(
            Kind::Umount,
            Some(-22),
            "dockerd",
            Fact::Umount {
                target: "/var/lib/docker/x",
                flags: 2,
            },
        );
        assert_eq!(
            rule(expected(&u, &who(Component::Dockerd)).unwrap())
                .unwrap()
                .id,
            "cleanup_umount"
        );
    }

    #[test]
    fn iptables_checks_by_their_command_line() {
        let argv: Vec<String> = ["/usr/sbin/iptables", "--wait", "-t", "nat", "-C", "DOCKER"]
            .map(String::from)
            .to_vec();
        let e = ev(Kind::Exit, None, "iptables", Fact::Exit { code: 256 });
        let w = Who {
            role: Component::Dockerd,
            argv: &argv,
        };
        assert_eq!(
            rule(expected(&e, &w).unwrap()).unwrap().id,
            "iptables_check"
        );
        let add: Vec<String> = ["/usr/sbin/iptables", "-A", "DOCKER"]
            .map(String::from)
            .to_vec();
        let w = Who {
            role: Component::Dockerd,
            argv: &add,
        };
        assert_eq!(expected(&e, &w), None, "a failed -A is a real failure");
    }

    #[test]
    fn every_rule_names_its_kinds_and_ids_are_unique() {
        let mut ids = std::collections::HashSet::new();
        for r in RULES {
            assert!(ids.insert(r.id), "{}", r.id);
            assert!(!rule_kinds(r).is_empty(), "{} names no kind", r.id);
            assert!(r.reason.len() > 40, "{} needs a real reason", r.id);
        }
        assert!(u8::try_from(RULES.len()).is_ok());
    }
}
