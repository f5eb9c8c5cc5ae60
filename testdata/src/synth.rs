//! Synthetic events shaped like a recorded container start, for benchmarks and tests.
//!
//! The mix is what a real `docker pull` + `docker run` session holds: mostly opens and
//! per-file I/O summaries under long, repeated overlay paths, then forks, execs and exits,
//! a few mounts, namespace calls, cgroup and network events. Deterministic for a seed.

use std::net::{IpAddr, Ipv4Addr};

use beefine_schema::{
    CgroupAttachInfo, CloneArgs, Event, EventData, EventHeader, ExecArgs, ExitInfo, FileIoSummary,
    ForkInfo, MkdirArgs, MountArgs, Namespaces, OpenArgs, SetnsArgs, SockAddr, SockArgs, Str,
    UnshareArgs,
};

/// xorshift64*: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

struct Proc {
    pid: u32,
    comm: Str,
    cgroup_id: u64,
    ns: Namespaces,
}

/// Generates an endless, time-ordered stream of realistic events.
pub struct Generator {
    rng: Rng,
    ts_nanos: u64,
    procs: Vec<Proc>,
    paths: Vec<Str>,
    next_pid: u32,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("ts_nanos", &self.ts_nanos)
            .finish_non_exhaustive()
    }
}

const HOST_NS: Namespaces = Namespaces {
    pid_ns: 4026531836,
    mnt_ns: 4026531841,
    net_ns: 4026531840,
    uts_ns: 4026531838,
    ipc_ns: 4026531839,
    user_ns: 4026531837,
    cgroup_ns: 4026531835,
    time_ns: 4026531834,
};
const CTR_NS: Namespaces = Namespaces {
    pid_ns: 4026532301,
    mnt_ns: 4026532299,
    net_ns: 4026532304,
    uts_ns: 4026532300,
    ipc_ns: 4026532302,
    ..HOST_NS
};
/// The cgroup id of the synthetic container.
pub const CONTAINER_CGROUP_ID: u64 = 7321;

impl Generator {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let layer_dirs: Vec<String> = (0..4)
            .map(|_| {
                format!(
                    "{:016x}{:016x}{:016x}{:016x}",
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64()
                )
            })
            .collect();
        let files = [
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/lib/x86_64-linux-gnu/libssl.so.3",
            "usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            "usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2",
            "usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
            "usr/sbin/nginx",
            "usr/share/nginx/html/index.html",
            "etc/nginx/nginx.conf",
            "etc/nginx/mime.types",
            "etc/passwd",
            "etc/group",
            "bin/busybox",
            "usr/share/zoneinfo/Europe/Amsterdam",
            "usr/share/doc/libssl3/changelog.Debian.gz",
        ];
        let mut paths: Vec<Str> = Vec::new();
        for dir in &layer_dirs {
            for f in files {
                paths.push(format!("/var/lib/docker/overlay2/{dir}/diff/{f}").into());
            }
        }
        for f in files {
            paths.push(format!("/{f}").into());
        }
        for p in [
            "/proc/self/mountinfo",
            "/sys/fs/cgroup/unified/docker/cgroup.procs",
            "/dev/null",
        ] {
            paths.push(p.into());
        }
        let host = |pid, comm: &str| Proc {
            pid,
            comm: comm.into(),
            cgroup_id: 1,
            ns: HOST_NS,
        };
        let procs = vec![
            host(812, "dockerd"),
            host(813, "dockerd"),
            host(840, "containerd"),
            host(841, "containerd"),
            host(2101, "containerd-shim"),
            host(2117, "runc"),
            Proc {
                pid: 2130,
                comm: "runc:[2:INIT]".into(),
                cgroup_id: CONTAINER_CGROUP_ID,
                ns: CTR_NS,
            },
            Proc {
                pid: 2131,
                comm: "nginx".into(),
                cgroup_id: CONTAINER_CGROUP_ID,
                ns: CTR_NS,
            },
        ];
        Self {
            rng,
            ts_nanos: 1_000_000_000,
            procs,
            paths,
            next_pid: 3000,
        }
    }

    fn header(&mut self, proc_index: usize) -> EventHeader {
        // Gaps of 0.2–20 µs, as in a busy recording.
        self.ts_nanos += 200 + self.rng.below(20_000);
        let p = &self.procs[proc_index];
        EventHeader {
            ts_nanos: self.ts_nanos,
            pid: p.pid,
            tgid: p.pid,
            comm: p.comm.clone(),
            cgroup_id: p.cgroup_id,
            ns: p.ns,
        }
    }

    fn path(&mut self) -> Str {
        // Skewed towards the first paths, as real workloads reopen the same libraries.
        let n = self.paths.len() as u64;
        let i = (self.rng.below(n) * self.rng.below(n) / n) as usize;
        self.paths[i].clone()
    }

    /// The next event.
    pub fn next_event(&mut self) -> Event {
        let proc_index = self.rng.below(self.procs.len() as u64) as usize;
        let header = self.header(proc_index);
        let roll = self.rng.below(100);
        let (result, data) = match roll {
            0..=44 => {
                let failed = self.rng.below(8) == 0;
                (
                    Some(if failed {
                        -2
                    } else {
                        3 + self.rng.below(20) as i64
                    }),
                    EventData::Openat(OpenArgs {
                        dirfd: -100,
                        path: self.path(),
                        flags: if self.rng.below(4) == 0 {
                            0o2101
                        } else {
                            0o2000000
                        },
                        mode: 0o644,
                    }),
                )
            }
            45..=74 => {
                let reads = self.rng.below(16) as u32;
                (
                    None,
                    EventData::FileIo(FileIoSummary {
                        fd: 3 + reads as i32 % 7,
                        path: Some(self.path()),
                        bytes_read: u64::from(reads) * 4096,
                        bytes_written: if reads == 0 {
                            4096 * self.rng.below(64)
                        } else {
                            0
                        },
                        reads,
                        writes: if reads == 0 {
                            1 + self.rng.below(64) as u32
                        } else {
                            0
                        },
                    }),
                )
            }
            75..=80 => {
                let child = self.next_pid;
                self.next_pid += 1;
                let parent = header.pid;
                (
                    None,
                    EventData::Fork(ForkInfo {
                        parent_pid: parent,
                        parent_tgid: parent,
                        child_pid: child,
                        child_tgid: child,
                    }),
                )
            }
            81..=84 => (
                None,
                EventData::Exec(ExecArgs {
                    filename: "/usr/bin/runc".into(),
                    argv: [
                        "runc",
                        "--root",
                        "/var/run/docker/runtime-runc/moby",
                        "--log",
                        "log.json",
                        "init",
                    ]
                    .into_iter()
                    .map(Str::from)
                    .collect(),
                }),
            ),
            85..=88 => (None, EventData::Exit(ExitInfo { code: 0 })),
            89..=92 => (
                Some(0),
                EventData::Mount(Box::new(MountArgs {
                    source: "overlay".into(),
                    target: self.path(),
                    fstype: "overlay".into(),
                    flags: 0,
                    data: "lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF"
                        .into(),
                })),
            ),
            93 => (
                Some(0),
                EventData::Setns(SetnsArgs {
                    fd: 5,
                    nstype: 0x4000_0000,
                }),
            ),
            94 => (
                Some(0),
                EventData::Unshare(UnshareArgs { flags: 0x6c02_0000 }),
            ),
            95 => (
                Some(i64::from(self.next_pid)),
                EventData::Clone(CloneArgs { flags: 0x0120_0011 }),
            ),
            96 => (
                Some(0),
                EventData::Mkdirat(MkdirArgs {
                    dirfd: -100,
                    path: self.path(),
                    mode: 0o755,
                }),
            ),
            97 => (
                None,
                EventData::CgroupAttach(CgroupAttachInfo {
                    path: "/docker/4f1c2a9e0b7d".into(),
                    dst_pid: header.pid,
                    target_cgroup_id: CONTAINER_CGROUP_ID,
                    hierarchy_id: 0,
                }),
            ),
            _ => (
                Some(0),
                EventData::Connect(SockArgs {
                    fd: 7,
                    addr: SockAddr::Inet {
                        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                        port: 5000,
                    },
                }),
            ),
        };
        Event {
            header,
            result,
            data,
        }
    }

    /// `n` events.
    pub fn take(&mut self, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.next_event()).collect()
    }
}
