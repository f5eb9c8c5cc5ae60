//! Raw probe records → session events. Pure: no I/O, unit-tested with hand-made records.

use beefine_schema::{
    CapsetArgs, CgroupAttachInfo, CgroupMkdirInfo, Clone3Args, ExecArgs, ExitInfo, FileIoSummary,
    ForkInfo, ListenArgs, PathArgs, PivotRootArgs, PrctlArgs, SeccompArgs, SetnsArgs, SocketArgs,
    UmountArgs, UnshareArgs,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use beefine_ebpf::abi::{self, Record, RecordKind};
use beefine_schema::{
    CloneArgs, Event, EventData, EventHeader, MkdirArgs, MountArgs, Namespaces, OpenArgs,
    PacketSummary, SockAddr, SockArgs, Str, TcpStateChange,
};
use rustc_hash::FxHashMap;

/// Shares one allocation per distinct string (comms, paths) across events.
#[derive(Debug, Default)]
pub struct Interner {
    map: FxHashMap<Box<[u8]>, Str>,
}

impl Interner {
    /// Distinct strings kept before the table is cleared (bounds memory on long recordings).
    const MAX_ENTRIES: usize = 1 << 16;

    pub fn intern(&mut self, bytes: &[u8]) -> Str {
        if let Some(s) = self.map.get(bytes) {
            return s.clone();
        }
        if self.map.len() >= Self::MAX_ENTRIES {
            self.map.clear();
        }
        let s: Str = String::from_utf8_lossy(bytes).into();
        self.map.insert(bytes.into(), s.clone());
        s
    }

    /// A NUL-terminated string in a fixed buffer.
    pub fn c_str(&mut self, buf: &[u8]) -> Str {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        self.intern(&buf[..end])
    }
}

fn header(h: &abi::Header, strings: &mut Interner) -> EventHeader {
    EventHeader {
        ts_nanos: h.ts_nanos,
        pid: h.pid,
        tgid: h.tgid,
        comm: strings.c_str(&h.comm),
        cgroup_id: h.cgroup_id,
        ns: Namespaces {
            pid_ns: h.pid_ns,
            mnt_ns: h.mnt_ns,
            net_ns: h.net_ns,
            ..Namespaces::default()
        },
    }
}

/// Decodes a `struct sockaddr` of `len` bytes.
pub fn sockaddr(bytes: &[u8], len: usize, strings: &mut Interner) -> SockAddr {
    let b = &bytes[..len.min(bytes.len())];
    if b.len() < 2 {
        return SockAddr::None;
    }
    let family = u16::from_ne_bytes([b[0], b[1]]);
    match family {
        2 if b.len() >= 8 => SockAddr::Inet {
            ip: IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
            port: u16::from_be_bytes([b[2], b[3]]),
        },
        10 if b.len() >= 24 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::from(ip)),
                port: u16::from_be_bytes([b[2], b[3]]),
            }
        }
        1 => {
            let path = &b[2..];
            // Abstract socket names start with NUL: show them as @name.
            let path = if path.first() == Some(&0) {
                let mut named = vec![b'@'];
                named.extend(path[1..].iter().take_while(|&&c| c != 0));
                strings.intern(&named)
            } else {
                strings.c_str(path)
            };
            SockAddr::Unix { path }
        }
        other => SockAddr::Other { family: other },
    }
}

fn ip(version_or_family: u16, bytes: &[u8; 16]) -> IpAddr {
    if version_or_family == 4 || version_or_family == 2 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    }
}

/// Splits NUL-separated argv bytes.
fn argv(bytes: &[u8], strings: &mut Interner) -> Vec<Str> {
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(256)
        .map(|a| strings.intern(a))
        .collect()
}

/// The event for a record. File I/O summaries carry their fd; the session builder adds the
/// path the fd was opened with.
#[expect(
    clippy::too_many_lines,
    reason = "to become one arm per record kind, matched exhaustively"
)]
pub fn to_event(kind: RecordKind, rec: &Record, strings: &mut Interner) -> Event {
    use RecordKind as K;
    let h = header(rec.header(), strings);
    let (result, data) = match rec {
        Record::Exec(r) => {
            let n = (r.argv_len as usize).min(r.argv.len());
            (
                None,
                EventData::Exec(ExecArgs {
                    filename: strings.c_str(&r.filename),
                    argv: argv(&r.argv[..n], strings),
                }),
            )
        }
        Record::Fork(r) => (
            None,
            EventData::Fork(ForkInfo {
                parent_pid: r.parent_pid,
                parent_tgid: r.parent_tgid,
                child_pid: r.child_pid,
                child_tgid: r.child_tgid,
            }),
        ),
        Record::Exit(r) => (None, EventData::Exit(ExitInfo { code: r.exit_code })),
        Record::Args(r) => {
            let a = r.args;
            let data = match kind {
                K::Clone => EventData::Clone(CloneArgs { flags: a[0] }),
                K::Clone3 => EventData::Clone3(Box::new(Clone3Args {
                    flags: a[0],
                    exit_signal: 0,
                    cgroup_fd: -1,
                    target_cgroup_id: 0,
                    target_cgroup: None,
                    set_tid: Vec::new(),
                })),
                K::Unshare => EventData::Unshare(UnshareArgs { flags: a[0] }),
                K::Setns => EventData::Setns(SetnsArgs {
                    fd: a[0] as i32,
                    nstype: a[1] as i32,
                }),
                K::Prctl => EventData::Prctl(PrctlArgs {
                    option: a[0] as i32,
                    arg2: a[1],
                }),
                K::Seccomp => EventData::Seccomp(SeccompArgs {
                    operation: a[0] as u32,
                    flags: a[1] as u32,
                }),
                K::Capset => EventData::Capset(CapsetArgs {
                    effective: a[0],
                    permitted: a[1],
                    inheritable: a[2],
                }),
                K::Socket => EventData::Socket(SocketArgs {
                    family: a[0] as u16,
                    sock_type: a[1] as u32,
                    protocol: a[2] as u32,
                }),
                _ => EventData::Listen(ListenArgs {
                    fd: a[0] as i32,
                    backlog: a[1] as i32,
                }),
            };
            (Some(r.ret), data)
        }
        Record::Path(r) => {
            let path = strings.c_str(&r.path);
            let a = r.args;
            let open = |path| OpenArgs {
                dirfd: a[0] as i32,
                path,
                flags: a[2],
                mode: a[3] as u32,
            };
            let data = match kind {
                K::Openat => EventData::Openat(open(path)),
                K::Openat2 => EventData::Openat2(open(path)),
                K::Mkdir => EventData::Mkdir(MkdirArgs {
                    dirfd: -100,
                    path,
                    mode: a[1] as u32,
                }),
                K::Mkdirat => EventData::Mkdirat(MkdirArgs {
                    dirfd: a[0] as i32,
                    path,
                    mode: a[2] as u32,
                }),
                K::Chroot => EventData::Chroot(PathArgs { path }),
                _ => EventData::Umount(UmountArgs {
                    target: path,
                    flags: a[1] as u32,
                }),
            };
            (Some(r.ret), data)
        }
        Record::Mount(r) => {
            let data = if kind == K::Mount {
                EventData::Mount(Box::new(MountArgs {
                    source: strings.c_str(&r.source),
                    target: strings.c_str(&r.target),
                    fstype: strings.c_str(&r.fstype),
                    flags: r.flags,
                    data: strings.c_str(&r.data),
                }))
            } else {
                EventData::PivotRoot(PivotRootArgs {
                    new_root: strings.c_str(&r.target),
                    put_old: strings.c_str(&r.data),
                })
            };
            (Some(r.ret), data)
        }
        Record::SockAddr(r) => {
            let args = SockArgs {
                fd: r.fd,
                addr: sockaddr(&r.addr, r.addr_len as usize, strings),
            };
            let data = match kind {
                K::Bind => EventData::Bind(args),
                K::Connect => EventData::Connect(args),
                K::Accept => EventData::Accept(args),
                _ => EventData::Accept4(args),
            };
            (Some(r.ret), data)
        }
        Record::FileIo(r) => (
            None,
            EventData::FileIo(FileIoSummary {
                fd: r.fd,
                path: None,
                bytes_read: r.bytes_read,
                bytes_written: r.bytes_written,
                reads: r.reads,
                writes: r.writes,
            }),
        ),
        Record::Cgroup(r) => {
            let path = strings.c_str(&r.path);
            let data = if kind == K::CgroupAttach {
                EventData::CgroupAttach(CgroupAttachInfo {
                    path,
                    dst_pid: r.dst_pid as u32,
                    target_cgroup_id: r.cgroup_id,
                    hierarchy_id: r.root,
                })
            } else {
                EventData::CgroupMkdir(CgroupMkdirInfo {
                    path,
                    target_cgroup_id: r.cgroup_id,
                    hierarchy_id: r.root,
                })
            };
            (None, data)
        }
        Record::TcpState(r) => (
            None,
            EventData::TcpState(Box::new(TcpStateChange {
                old_state: r.old_state as u8,
                new_state: r.new_state as u8,
                saddr: ip(r.family, &r.saddr),
                sport: r.sport,
                daddr: ip(r.family, &r.daddr),
                dport: r.dport,
            })),
        ),
        Record::Packet(r) => {
            let n = usize::from(r.payload_len).min(r.payload.len());
            (
                None,
                EventData::Packet(Box::new(PacketSummary {
                    ifindex: r.ifindex,
                    protocol: r.protocol,
                    saddr: ip(u16::from(r.ip_version), &r.saddr),
                    sport: u16::from_be(r.sport),
                    daddr: ip(u16::from(r.ip_version), &r.daddr),
                    dport: u16::from_be(r.dport),
                    len: r.len,
                    payload: r.payload[..n].to_vec(),
                })),
            )
        }
    };
    Event {
        header: h,
        result,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytemuck::Zeroable;

    fn hdr(kind: RecordKind) -> abi::Header {
        let mut h = abi::Header::zeroed();
        h.kind = kind as u16;
        h.ts_nanos = 42;
        h.pid = 7;
        h.tgid = 7;
        h.comm[..4].copy_from_slice(b"runc");
        h.mnt_ns = 4026532299;
        h
    }

    #[test]
    fn unshare_keeps_its_flags_and_result() {
        let mut r = abi::Args::zeroed();
        r.h = hdr(RecordKind::Unshare);
        r.args[0] = 0x6c02_0000;
        let ev = to_event(
            RecordKind::Unshare,
            &Record::Args(r),
            &mut Interner::default(),
        );
        assert_eq!(
            ev.data,
            EventData::Unshare(UnshareArgs { flags: 0x6c02_0000 })
        );
        assert_eq!(ev.result, Some(0));
        assert_eq!(&*ev.header.comm, "runc");
        assert_eq!(ev.header.ns.mnt_ns, 4026532299);
    }

    #[test]
    fn sockaddr_families() {
        let mut s = Interner::default();
        let inet = [2, 0, 0x13, 0x88, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            sockaddr(&inet, 16, &mut s),
            SockAddr::Inet {
                ip: "127.0.0.1".parse().unwrap(),
                port: 5000
            }
        );
        let mut unix = vec![1, 0];
        unix.extend(b"/run/containerd/containerd.sock\0");
        assert_eq!(
            sockaddr(&unix, unix.len(), &mut s),
            SockAddr::Unix {
                path: "/run/containerd/containerd.sock".into()
            }
        );
        let abstract_name = [1, 0, 0, b'x', b'y'];
        assert_eq!(
            sockaddr(&abstract_name, 5, &mut s),
            SockAddr::Unix { path: "@xy".into() }
        );
        assert_eq!(sockaddr(&[], 0, &mut s), SockAddr::None);
    }

    #[test]
    fn exec_splits_argv() {
        let mut r = abi::Exec::zeroed();
        r.h = hdr(RecordKind::Exec);
        r.filename[..7].copy_from_slice(b"/bin/sh");
        let args = b"sh\0-c\0echo hi\0";
        r.argv[..args.len()].copy_from_slice(args);
        r.argv_len = args.len() as u32;
        let ev = to_event(
            RecordKind::Exec,
            &Record::Exec(Box::new(r)),
            &mut Interner::default(),
        );
        let EventData::Exec(ExecArgs { filename, argv }) = ev.data else {
            panic!("not exec")
        };
        assert_eq!(&*filename, "/bin/sh");
        assert_eq!(
            argv.iter().map(|a| &**a).collect::<Vec<_>>(),
            ["sh", "-c", "echo hi"]
        );
    }

    #[test]
    fn interner_shares_allocations() {
        let mut s = Interner::default();
        let a = s.intern(b"/etc/passwd");
        let b = s.intern(b"/etc/passwd");
        assert!(std::sync::Arc::ptr_eq(&a, &b));
    }
}
