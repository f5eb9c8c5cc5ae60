//! Raw probe records → session events. Pure: no I/O, unit-tested with hand-made records.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use beefine_ebpf::abi::{self, Record};
use beefine_schema::{
    CapsetArgs, CgroupAttachInfo, CgroupMkdirInfo, Clone3Args, CloneArgs, Event, EventData,
    EventHeader, ExecArgs, ExitInfo, FileIoSummary, ForkInfo, ListenArgs, MkdirArgs, MountArgs,
    Namespaces, OpenArgs, PacketSummary, PathArgs, PivotRootArgs, PrctlArgs, SeccompArgs,
    SetnsArgs, SockAddr, SockArgs, SocketArgs, Str, TcpStateChange, UmountArgs, UnshareArgs,
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
            uts_ns: h.uts_ns,
            ipc_ns: h.ipc_ns,
            user_ns: h.user_ns,
            cgroup_ns: h.cgroup_ns,
            time_ns: h.time_ns,
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

fn open_args(r: &abi::PathRec, strings: &mut Interner) -> OpenArgs {
    OpenArgs {
        dirfd: r.args[0] as i32,
        path: strings.c_str(&r.path),
        flags: r.args[2],
        mode: r.args[3] as u32,
    }
}

fn sock_args(r: &abi::SockAddrRec, strings: &mut Interner) -> SockArgs {
    SockArgs {
        fd: r.fd,
        addr: sockaddr(&r.addr, r.addr_len as usize, strings),
    }
}

fn cgroup_path(r: &abi::Cgroup, strings: &mut Interner) -> Str {
    strings.c_str(&r.path)
}

/// The event for a record, matched by kind (every kind has its arm: a new kind does not
/// compile until it has one). File I/O summaries carry their fd; the session builder adds
/// the path the fd was opened with. `None` for the kinds that have no event yet (the new
/// mount API, credentials and the working directory).
#[expect(
    clippy::too_many_lines,
    reason = "one arm per record kind, matched exhaustively, until each kind has its own constructor"
)]
pub fn to_event(rec: &Record, strings: &mut Interner) -> Option<Event> {
    use Record as R;
    let h = header(rec.header(), strings);
    let (result, data) = match rec {
        R::Exec(r) => {
            let n = (r.argv_len as usize).min(r.argv.len());
            let filename = strings.c_str(&r.filename);
            let argv = argv(&r.argv[..n], strings);
            (None, EventData::Exec(ExecArgs { filename, argv }))
        }
        R::Fork(r) => (
            None,
            EventData::Fork(ForkInfo {
                parent_pid: r.parent_pid,
                parent_tgid: r.parent_tgid,
                child_pid: r.child_pid,
                child_tgid: r.child_tgid,
            }),
        ),
        R::Exit(r) => (None, EventData::Exit(ExitInfo { code: r.exit_code })),
        R::Clone(r) => (
            Some(r.ret),
            EventData::Clone(CloneArgs { flags: r.args[0] }),
        ),
        R::Clone3(r) => (
            Some(r.ret),
            EventData::Clone3(Box::new(Clone3Args {
                flags: r.flags,
                exit_signal: r.exit_signal,
                cgroup_fd: r.cgroup_fd,
                target_cgroup_id: r.cgroup_id,
                target_cgroup: None,
                set_tid: r.set_tid().to_vec(),
            })),
        ),
        R::Unshare(r) => (
            Some(r.ret),
            EventData::Unshare(UnshareArgs { flags: r.args[0] }),
        ),
        R::Setns(r) => (
            Some(r.ret),
            EventData::Setns(SetnsArgs {
                fd: r.args[0] as i32,
                nstype: r.args[1] as i32,
            }),
        ),
        R::Prctl(r) => (
            Some(r.ret),
            EventData::Prctl(PrctlArgs {
                option: r.args[0] as i32,
                arg2: r.args[1],
            }),
        ),
        R::Seccomp(r) => (
            Some(r.ret),
            EventData::Seccomp(SeccompArgs {
                operation: r.args[0] as u32,
                flags: r.args[1] as u32,
            }),
        ),
        R::Capset(r) => (
            Some(r.ret),
            EventData::Capset(CapsetArgs {
                effective: r.args[0],
                permitted: r.args[1],
                inheritable: r.args[2],
            }),
        ),
        R::Mount(r) => (
            Some(r.ret),
            EventData::Mount(Box::new(MountArgs {
                source: strings.c_str(&r.source),
                target: strings.c_str(&r.target),
                fstype: strings.c_str(&r.fstype),
                flags: r.flags,
                data: strings.c_str(&r.data),
            })),
        ),
        R::Umount(r) => (
            Some(r.ret),
            EventData::Umount(UmountArgs {
                target: strings.c_str(&r.path),
                flags: r.args[1] as u32,
            }),
        ),
        R::PivotRoot(r) => (
            Some(r.ret),
            EventData::PivotRoot(PivotRootArgs {
                new_root: strings.c_str(&r.target),
                put_old: strings.c_str(&r.data),
            }),
        ),
        R::Chroot(r) => (
            Some(r.ret),
            EventData::Chroot(PathArgs {
                path: strings.c_str(&r.path),
            }),
        ),
        R::Openat(r) => (Some(r.ret), EventData::Openat(open_args(r, strings))),
        // openat2's `resolve` (RESOLVE_*, in args[1]) has no field in the event model.
        R::Openat2(r) => (Some(r.ret), EventData::Openat2(open_args(r, strings))),
        R::Mkdir(r) => (
            Some(r.ret),
            EventData::Mkdir(MkdirArgs {
                dirfd: -100,
                path: strings.c_str(&r.path),
                mode: r.args[1] as u32,
            }),
        ),
        R::Mkdirat(r) => (
            Some(r.ret),
            EventData::Mkdirat(MkdirArgs {
                dirfd: r.args[0] as i32,
                path: strings.c_str(&r.path),
                mode: r.args[2] as u32,
            }),
        ),
        R::FileIo(r) => (
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
        R::CgroupAttach(r) => (
            None,
            EventData::CgroupAttach(CgroupAttachInfo {
                path: cgroup_path(r, strings),
                dst_pid: r.dst_pid as u32,
                target_cgroup_id: r.cgroup_id,
                hierarchy_id: r.root,
            }),
        ),
        R::CgroupMkdir(r) => (
            None,
            EventData::CgroupMkdir(CgroupMkdirInfo {
                path: cgroup_path(r, strings),
                target_cgroup_id: r.cgroup_id,
                hierarchy_id: r.root,
            }),
        ),
        R::Socket(r) => (
            Some(r.ret),
            EventData::Socket(SocketArgs {
                family: r.args[0] as u16,
                sock_type: r.args[1] as u32,
                protocol: r.args[2] as u32,
            }),
        ),
        R::Bind(r) => (Some(r.ret), EventData::Bind(sock_args(r, strings))),
        R::Listen(r) => (
            Some(r.ret),
            EventData::Listen(ListenArgs {
                fd: r.args[0] as i32,
                backlog: r.args[1] as i32,
            }),
        ),
        R::Accept(r) => (Some(r.ret), EventData::Accept(sock_args(r, strings))),
        R::Accept4(r) => (Some(r.ret), EventData::Accept4(sock_args(r, strings))),
        R::Connect(r) => (Some(r.ret), EventData::Connect(sock_args(r, strings))),
        R::TcpState(r) => (None, EventData::TcpState(Box::new(tcp_state(r)))),
        R::Packet(r) => (None, EventData::Packet(Box::new(packet(r)))),
        R::OpenTree(_)
        | R::MoveMount(_)
        | R::Fsopen(_)
        | R::Fsconfig(_)
        | R::Fsmount(_)
        | R::Fspick(_)
        | R::MountSetattr(_)
        | R::Execveat(_)
        | R::Chdir(_)
        | R::Fchdir(_)
        | R::Umask(_)
        | R::Sethostname(_)
        | R::Setuid(_)
        | R::Setgid(_)
        | R::Setgroups(_) => return None,
    };
    Some(Event {
        header: h,
        result,
        data,
    })
}

fn tcp_state(r: &abi::TcpState) -> TcpStateChange {
    TcpStateChange {
        old_state: r.old_state as u8,
        new_state: r.new_state as u8,
        saddr: ip(r.family, &r.saddr),
        sport: r.sport,
        daddr: ip(r.family, &r.daddr),
        dport: r.dport,
    }
}

fn packet(r: &abi::Packet) -> PacketSummary {
    let n = usize::from(r.payload_len).min(r.payload.len());
    PacketSummary {
        ifindex: r.ifindex,
        protocol: r.protocol,
        saddr: ip(u16::from(r.ip_version), &r.saddr),
        sport: u16::from_be(r.sport),
        daddr: ip(u16::from(r.ip_version), &r.daddr),
        dport: u16::from_be(r.dport),
        len: r.len,
        payload: r.payload[..n].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_ebpf::abi::RecordKind;
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
        let ev = to_event(&Record::Unshare(r), &mut Interner::default()).unwrap();
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
        let ev = to_event(&Record::Exec(Box::new(r)), &mut Interner::default()).unwrap();
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
