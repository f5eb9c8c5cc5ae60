//! Raw probe records → session events. Pure: no I/O, unit-tested with hand-made records.

mod kinds;
mod net;

use beefine_ebpf::abi::{self, Record};
use beefine_schema::{Event, EventData, EventHeader, ExitInfo, Namespaces, Str};
use rustc_hash::FxHashMap;

pub use net::sockaddr;

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

/// Splits NUL-separated argv bytes.
fn argv(bytes: &[u8], strings: &mut Interner) -> Vec<Str> {
    bytes
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(256)
        .map(|a| strings.intern(a))
        .collect()
}

/// The event for a record, matched by kind: every kind has its arm, so a new kind does not
/// compile until it has one. What the kernel cannot know is the session builder's: the
/// paths of the fds of file I/O summaries and fchdir, and the path of clone3's cgroup.
pub fn to_event(rec: &Record, strings: &mut Interner) -> Event {
    use Record as R;
    use kinds as k;
    let s = strings;
    let header = header(rec.header(), s);
    let (result, data) = match rec {
        R::Exec(r) => (None, k::exec(r, s)),
        R::Fork(r) => (None, k::fork(r)),
        R::Exit(r) => (None, EventData::Exit(ExitInfo { code: r.exit_code })),
        R::Clone(r) => (Some(r.ret), k::clone(r)),
        R::Clone3(r) => (Some(r.ret), k::clone3(r)),
        R::Unshare(r) => (Some(r.ret), k::unshare(r)),
        R::Setns(r) => (Some(r.ret), k::setns(r)),
        R::Prctl(r) => (Some(r.ret), k::prctl(r)),
        R::Seccomp(r) => (Some(r.ret), k::seccomp(r)),
        R::Capset(r) => (Some(r.ret), k::capset(r)),
        R::Mount(r) => (Some(r.ret), k::mount(r, s)),
        R::Umount(r) => (Some(r.ret), k::umount(r, s)),
        R::PivotRoot(r) => (Some(r.ret), k::pivot_root(r, s)),
        R::Chroot(r) => (Some(r.ret), EventData::Chroot(k::path(r, s))),
        R::Openat(r) => (Some(r.ret), EventData::Openat(k::open(r, s))),
        R::Openat2(r) => (Some(r.ret), EventData::Openat2(k::open(r, s))),
        R::Mkdir(r) => (Some(r.ret), k::mkdir(r, s)),
        R::Mkdirat(r) => (Some(r.ret), k::mkdirat(r, s)),
        R::FileIo(r) => (None, k::file_io(r)),
        R::CgroupAttach(r) => (None, k::cgroup_attach(r, s)),
        R::CgroupMkdir(r) => (None, k::cgroup_mkdir(r, s)),
        R::Socket(r) => (Some(r.ret), k::socket(r)),
        R::Bind(r) => (Some(r.ret), EventData::Bind(net::sock_args(r, s))),
        R::Listen(r) => (Some(r.ret), k::listen(r)),
        R::Accept(r) => (Some(r.ret), EventData::Accept(net::sock_args(r, s))),
        R::Accept4(r) => (Some(r.ret), EventData::Accept4(net::sock_args(r, s))),
        R::Connect(r) => (Some(r.ret), EventData::Connect(net::sock_args(r, s))),
        R::TcpState(r) => (None, EventData::TcpState(Box::new(net::tcp_state(r)))),
        R::Packet(r) => (None, EventData::Packet(Box::new(net::packet(r)))),
        R::OpenTree(r) => (Some(r.ret), k::open_tree(r, s)),
        R::MoveMount(r) => (Some(r.ret), k::move_mount(r, s)),
        R::Fsopen(r) => (Some(r.ret), k::fsopen(r, s)),
        R::Fsconfig(r) => (Some(r.ret), k::fsconfig(r, s)),
        R::Fsmount(r) => (Some(r.ret), k::fsmount(r)),
        R::Fspick(r) => (Some(r.ret), k::fspick(r, s)),
        R::MountSetattr(r) => (Some(r.ret), k::mount_setattr(r, s)),
        R::Execveat(r) => (Some(r.ret), k::execveat(r, s)),
        R::Chdir(r) => (Some(r.ret), EventData::Chdir(k::path(r, s))),
        R::Fchdir(r) => (Some(r.ret), k::fchdir(r)),
        R::Umask(r) => (Some(r.ret), k::umask(r)),
        R::Sethostname(r) => (Some(r.ret), k::sethostname(r, s)),
        R::Setuid(r) => (Some(r.ret), k::setuid(r)),
        R::Setgid(r) => (Some(r.ret), k::setgid(r)),
        R::Setgroups(r) => (Some(r.ret), k::setgroups(r)),
    };
    Event {
        header,
        result,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_ebpf::abi::RecordKind;
    use beefine_schema::{
        Clone3Args, ExecArgs, FsconfigArgs, SetgroupsArgs, SockAddr, UnshareArgs,
    };
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
        let ev = to_event(&Record::Unshare(r), &mut Interner::default());
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
        let ev = to_event(&Record::Exec(Box::new(r)), &mut Interner::default());
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

    fn snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// No record becomes an event of another kind (as a catch-all arm once made of them).
    #[test]
    fn every_record_kind_becomes_the_event_of_its_name() {
        for &kind in RecordKind::ALL {
            let mut bytes = vec![0u8; 4096];
            let mut h = abi::Header::zeroed();
            h.kind = kind as u16;
            bytes[..size_of::<abi::Header>()].copy_from_slice(bytemuck::bytes_of(&h));
            let rec = Record::parse(&bytes).unwrap();
            let ev = to_event(&rec, &mut Interner::default());
            assert_eq!(ev.kind().name(), snake(&format!("{kind:?}")), "{kind:?}");
            assert_eq!(ev.result.is_some(), ev.kind().has_result(), "{kind:?}");
        }
    }

    #[test]
    fn clone3_keeps_its_cgroup_and_pids() {
        let mut r = abi::Clone3::zeroed();
        r.h = hdr(RecordKind::Clone3);
        r.ret = 4242;
        r.flags = 0x2_0000_0000 | 0x2000_0000;
        r.exit_signal = 17;
        r.cgroup_fd = 9;
        r.cgroup_id = 77;
        r.set_tid[..2].copy_from_slice(&[1, 300]);
        r.set_tid_len = 2;
        let ev = to_event(&Record::Clone3(Box::new(r)), &mut Interner::default());
        assert_eq!(ev.result, Some(4242));
        assert_eq!(
            ev.data,
            EventData::Clone3(Box::new(Clone3Args {
                flags: 0x2_2000_0000,
                exit_signal: 17,
                cgroup_fd: 9,
                target_cgroup_id: 77,
                target_cgroup: None,
                set_tid: vec![1, 300],
            }))
        );
    }

    #[test]
    fn fsconfig_and_setgroups_decode_their_lists_and_strings() {
        let mut r = abi::StrPair::zeroed();
        r.h = hdr(RecordKind::Fsconfig);
        r.args = [3, 1, 0];
        r.first[..4].copy_from_slice(b"size");
        r.second[..2].copy_from_slice(b"1m");
        let ev = to_event(&Record::Fsconfig(Box::new(r)), &mut Interner::default());
        assert_eq!(
            ev.data,
            EventData::Fsconfig(FsconfigArgs {
                fd: 3,
                cmd: 1,
                key: "size".into(),
                value: "1m".into(),
                aux: 0,
            })
        );
        let mut g = abi::Groups::zeroed();
        g.h = hdr(RecordKind::Setgroups);
        g.size = 70;
        g.count = u32::MAX;
        let ev = to_event(&Record::Setgroups(Box::new(g)), &mut Interner::default());
        let EventData::Setgroups(SetgroupsArgs { size, gids }) = ev.data else {
            panic!("not setgroups")
        };
        assert_eq!((size, gids.len()), (70, abi::GROUPS_MAX));
    }
}
