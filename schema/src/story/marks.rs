//! Marks: the steps of a container's story that single events show (its shim started, its
//! cgroup made, its namespaces unshared, its entrypoint executed, …), the material chapters
//! are made of.

use super::fact::{Ev, Fact, ms};
use super::keys::ContainerKeys;
use super::procs::NS_BITS;
use super::roles;
use crate::entities::Component;

/// A step of a container's story seen in one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    Create,
    Start,
    NetConnect,
    Kill(String),
    Die(Option<i64>),
    Destroy,
    JoinCreate(String),
    JoinDie,
    Untar(String),
    UntarExit(String),
    Overlay,
    OverlayGone,
    Iptables,
    Proxy(String),
    Shim,
    Runc(&'static str),
    RuncExit(&'static str, i32),
    Cgroup {
        made: bool,
        v2: bool,
    },
    Unshare(u64),
    Setns,
    Hook,
    InitMount {
        ok: bool,
        masking: bool,
    },
    Pivot,
    Capset,
    InitExec(String),
    InitExit(i32),
    /// A CRI call for the container or its pod (`RunPodSandbox`, `CreateContainer`, …),
    /// with the time it ended.
    Cri {
        method: String,
        end: u64,
    },
    /// A CNI plugin executed for a pod's sandbox (`bridge`, `host-local`, `loopback`).
    Cni(String),
    CniExit,
}

impl Mark {
    /// The mark an event of container `k` leaves, if any.
    pub fn of(
        e: &Ev<'_>,
        role: Component,
        argv: &[String],
        init: bool,
        k: &ContainerKeys,
        untar: Option<&String>,
    ) -> Option<Self> {
        let sub = || roles::runc_subcommand(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        Some(match &e.fact {
            Fact::Docker {
                event_type,
                action,
                attributes,
                ..
            } => {
                let attr =
                    |name: &str| attributes.iter().find(|(a, _)| *a == name).map(|(_, v)| *v);
                match (*event_type, *action) {
                    ("container", "create") => Self::Create,
                    ("container", "start") => Self::Start,
                    ("container", "kill") => Self::Kill(attr("signal").unwrap_or("").to_owned()),
                    ("container", "die") => {
                        Self::Die(attr("exitCode").and_then(|c| c.parse().ok()))
                    }
                    ("container", "destroy") => Self::Destroy,
                    ("container", a) if a.starts_with("exec_create") => {
                        Self::JoinCreate(a.split_once(": ").map_or("", |(_, c)| c).to_owned())
                    }
                    ("container", "exec_die") => Self::JoinDie,
                    ("network", "connect") => Self::NetConnect,
                    _ => return None,
                }
            }
            Fact::Cri {
                method,
                duration_nanos,
                ..
            } if !method.is_empty() => Self::Cri {
                method: (*method).to_owned(),
                end: e.ts_nanos.saturating_add(*duration_nanos),
            },
            Fact::Exec { filename, .. } if role == Component::Cni => {
                Self::Cni(filename.rsplit('/').next().unwrap_or(filename).to_owned())
            }
            Fact::Exit { .. } if role == Component::Cni && e.pid == e.tgid => Self::CniExit,
            Fact::Exec { filename, argv: a } => {
                if a.first() == Some(&"docker-untar") {
                    Self::Untar(a.get(2).map_or("", |d| d.trim_end_matches('/')).to_owned())
                } else if a.first() == Some(&"libnetwork-setkey") {
                    Self::Hook
                } else if role == Component::DockerProxy {
                    Self::Proxy(arg_after(a, "-host-port").unwrap_or("").to_owned())
                } else if filename.ends_with("iptables") {
                    Self::Iptables
                } else if role == Component::Shim {
                    Self::Shim
                } else if let Some(s) = roles::runc_subcommand(a).filter(|s| *s != "init") {
                    Self::Runc(static_sub(s))
                } else if init
                    && !filename.ends_with("runc")
                    && !filename.starts_with("/proc/self/")
                    && !filename.starts_with("/dev/fd/")
                {
                    Self::InitExec(a.join(" "))
                } else {
                    return None;
                }
            }
            Fact::Exit { code } if e.pid == e.tgid => {
                if let Some(dir) = untar {
                    Self::UntarExit(dir.clone())
                } else if let Some(s) = sub().filter(|s| *s != "init") {
                    Self::RuncExit(static_sub(s), *code)
                } else if init && role != Component::Runc {
                    Self::InitExit(*code)
                } else {
                    return None;
                }
            }
            Fact::Mount(m) if role == Component::Dockerd && m.fstype == "overlay" && e.ok() => {
                Self::Overlay
            }
            Fact::Umount { target, .. }
                if role == Component::Dockerd && e.ok() && target.ends_with("/merged") =>
            {
                Self::OverlayGone
            }
            Fact::Mount(m) if init => Self::InitMount {
                ok: e.ok(),
                masking: m.source == "/dev/null"
                    || (m.fstype == "tmpfs" && m.flags & ms::RDONLY != 0)
                    || m.flags & (ms::REMOUNT | ms::BIND | ms::RDONLY)
                        == ms::REMOUNT | ms::BIND | ms::RDONLY
                    || (m.flags & ms::BIND != 0
                        && m.source == m.target
                        && !m.target.contains("/merged")),
            },
            Fact::PivotRoot { .. } if init && e.ok() => Self::Pivot,
            Fact::Capset if init => Self::Capset,
            Fact::Cgroup { v2, attach_pid, .. } => Self::Cgroup {
                made: attach_pid.is_none(),
                v2: *v2,
            },
            Fact::NewNamespaces { flags, .. }
                if role == Component::Runc && flags & NS_BITS.iter().sum::<u64>() != 0 =>
            {
                Self::Unshare(*flags)
            }
            Fact::Setns { .. } if role == Component::Runc => Self::Setns,
            _ => {
                let _ = k;
                return None;
            }
        })
    }
}

fn static_sub(s: &str) -> &'static str {
    match s {
        "create" => "create",
        "start" => "start",
        "exec" => "exec",
        "kill" => "kill",
        "delete" => "delete",
        "state" => "state",
        _ => "other",
    }
}

fn arg_after<'a>(argv: &[&'a str], flag: &str) -> Option<&'a str> {
    argv.iter()
        .position(|a| *a == flag)
        .and_then(|i| argv.get(i + 1))
        .copied()
}

/// The marks of one container, in time order.
#[derive(Clone, Debug, Default)]
pub struct Marks(pub Vec<(u64, Mark)>);

impl Marks {
    pub fn push(&mut self, ts: u64, m: Mark) {
        if self.0.len() < 1 << 16 {
            self.0.push((ts, m));
        }
    }

    pub fn first(&self, f: impl Fn(&Mark) -> bool) -> Option<u64> {
        self.0.iter().find(|(_, m)| f(m)).map(|(t, _)| *t)
    }

    pub fn last(&self, f: impl Fn(&Mark) -> bool) -> Option<u64> {
        self.0.iter().rev().find(|(_, m)| f(m)).map(|(t, _)| *t)
    }

    pub fn count(&self, f: impl Fn(&Mark) -> bool) -> usize {
        self.0.iter().filter(|(_, m)| f(m)).count()
    }
}
