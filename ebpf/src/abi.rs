//! Rust mirror of `include/beefine_abi.h`. `tests/abi.rs` compiles the header with the host C
//! compiler and checks every size and offset here against it.

use bytemuck::{Pod, Zeroable};

pub const COMM_LEN: usize = 16;
pub const PATH_LEN: usize = 256;
pub const ARGV_LEN: usize = 512;
pub const MOUNT_SOURCE_LEN: usize = 128;
pub const MOUNT_FSTYPE_LEN: usize = 32;
pub const SOCKADDR_LEN: usize = 112;
pub const PAYLOAD_LEN: usize = 64;
pub const GROUPS_MAX: usize = 64;
pub const SET_TID_MAX: usize = 32;

/// `enum bf_counter`: indexes of the per-CPU counters map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Counter {
    RingbufFull = 0,
    FileioFull = 1,
    InflightFull = 2,
}

pub const COUNTER_COUNT: u32 = 3;

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Header {
    pub ts_nanos: u64,
    pub cgroup_id: u64,
    pub pid: u32,
    pub tgid: u32,
    pub pid_ns: u32,
    pub mnt_ns: u32,
    pub net_ns: u32,
    pub uts_ns: u32,
    pub ipc_ns: u32,
    pub user_ns: u32,
    pub cgroup_ns: u32,
    pub time_ns: u32,
    pub kind: u16,
    pub len: u16,
    pub comm: [u8; COMM_LEN],
    pub _pad: u32,
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Exec {
    pub h: Header,
    pub filename_len: u32,
    pub argv_len: u32,
    pub filename: [u8; PATH_LEN],
    pub argv: [u8; ARGV_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Fork {
    pub h: Header,
    pub parent_pid: u32,
    pub parent_tgid: u32,
    pub child_pid: u32,
    pub child_tgid: u32,
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Exit {
    pub h: Header,
    pub exit_code: i32,
    pub _pad: u32,
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Args {
    pub h: Header,
    pub ret: i64,
    pub args: [u64; 6],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct PathRec {
    pub h: Header,
    pub ret: i64,
    pub args: [u64; 4],
    pub path_len: u32,
    pub _pad: u32,
    pub path: [u8; PATH_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Mount {
    pub h: Header,
    pub ret: i64,
    pub flags: u64,
    pub source: [u8; MOUNT_SOURCE_LEN],
    pub target: [u8; PATH_LEN],
    pub fstype: [u8; MOUNT_FSTYPE_LEN],
    pub data: [u8; PATH_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct StrPair {
    pub h: Header,
    pub ret: i64,
    pub args: [u64; 3],
    pub first: [u8; PATH_LEN],
    pub second: [u8; PATH_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct MountSetattr {
    pub h: Header,
    pub ret: i64,
    pub dirfd: i32,
    pub flags: u32,
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
    pub size: u32,
    pub _pad: u32,
    pub path: [u8; PATH_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Groups {
    pub h: Header,
    pub ret: i64,
    pub size: u32,
    pub count: u32,
    pub gids: [u32; GROUPS_MAX],
}

impl Groups {
    /// The gids read (at most [`GROUPS_MAX`], however many `count` claims).
    pub fn gids(&self) -> &[u32] {
        &self.gids[..(self.count as usize).min(GROUPS_MAX)]
    }
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Clone3 {
    pub h: Header,
    pub ret: i64,
    pub flags: u64,
    pub exit_signal: u32,
    pub cgroup_fd: i32,
    pub cgroup_id: u64,
    pub set_tid_len: u32,
    pub _pad: u32,
    pub set_tid: [u32; SET_TID_MAX],
}

impl Clone3 {
    /// The pids of set_tid read (at most [`SET_TID_MAX`], however many `set_tid_len` claims).
    pub fn set_tid(&self) -> &[u32] {
        &self.set_tid[..(self.set_tid_len as usize).min(SET_TID_MAX)]
    }
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct SockAddrRec {
    pub h: Header,
    pub ret: i64,
    pub fd: i32,
    pub addr_len: u32,
    pub addr: [u8; SOCKADDR_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct FileIo {
    pub h: Header,
    pub fd: i32,
    pub reads: u32,
    pub writes: u32,
    pub _pad: u32,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// Key of the in-kernel I/O table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct IoKey {
    pub tgid: u32,
    pub fd: i32,
}

/// Value of the in-kernel I/O table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct IoValue {
    pub first_ts_nanos: u64,
    pub last_ts_nanos: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub reads: u32,
    pub writes: u32,
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Cgroup {
    pub h: Header,
    pub cgroup_id: u64,
    pub dst_pid: i32,
    pub root: i32,
    pub level: i32,
    pub path_len: u32,
    pub path: [u8; PATH_LEN],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct TcpState {
    pub h: Header,
    pub old_state: i32,
    pub new_state: i32,
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub protocol: u16,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
}

#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Packet {
    pub h: Header,
    pub ifindex: u32,
    pub len: u32,
    pub sport: u16,
    pub dport: u16,
    pub protocol: u8,
    pub ip_version: u8,
    pub payload_len: u8,
    pub _pad: u8,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub payload: [u8; PAYLOAD_LEN],
}

/// Why bytes from the ring buffer are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbiError {
    Short { len: usize, need: usize },
    UnknownKind(u16),
}

impl std::fmt::Display for AbiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short { len, need } => write!(f, "record of {len} bytes, expected {need}"),
            Self::UnknownKind(k) => write!(f, "unknown record kind {k}"),
        }
    }
}

impl std::error::Error for AbiError {}

/// Copies a record out of `bytes`. Records shorter than their struct (a string cut at its
/// end) are zero-filled; at least the part before the trailing string must be present.
fn read<T: Pod>(bytes: &[u8], min: usize) -> Result<T, AbiError> {
    if bytes.len() < min {
        return Err(AbiError::Short {
            len: bytes.len(),
            need: min,
        });
    }
    let mut v = T::zeroed();
    let dst = bytemuck::bytes_of_mut(&mut v);
    let n = dst.len().min(bytes.len());
    dst[..n].copy_from_slice(&bytes[..n]);
    Ok(v)
}

/// A record struct as read from the ring buffer: how many of its bytes must be present.
trait Shape: Pod {
    /// Fixed records are written whole; the ones ending in a string, up to its end.
    const MIN_LEN: usize = size_of::<Self>();
}

macro_rules! shapes {
    ($($shape:ty $(: up to $field:ident)?),* $(,)?) => {$(
        impl Shape for $shape {
            $(const MIN_LEN: usize = std::mem::offset_of!($shape, $field);)?
        }
    )*};
}

shapes!(
    Exec, Fork, Exit, Args, PathRec: up to path, Mount, StrPair, MountSetattr, Groups, Clone3,
    SockAddrRec, FileIo, Cgroup: up to path, TcpState, Packet,
);

/// A variant's payload: a record struct, or a boxed one (for the large).
trait Payload: Sized {
    fn from_bytes(bytes: &[u8]) -> Result<Self, AbiError>;
}

impl<T: Shape> Payload for Box<T> {
    fn from_bytes(bytes: &[u8]) -> Result<Self, AbiError> {
        read::<T>(bytes, T::MIN_LEN).map(Box::new)
    }
}

macro_rules! inline_payload {
    ($($shape:ty),*) => {$(
        impl Payload for $shape {
            fn from_bytes(bytes: &[u8]) -> Result<Self, AbiError> {
                read::<$shape>(bytes, <$shape as Shape>::MIN_LEN)
            }
        }
    )*};
}

inline_payload!(Fork, Exit, Args, FileIo, TcpState);

/// The table of record kinds: `enum bf_kind`'s name and number, and the struct the kernel
/// writes it in. It makes [`RecordKind`] and [`Record`] (one variant per kind, so that
/// whoever turns records into events matches every kind by name, never a shape).
macro_rules! records {
    ($($kind:ident = $raw:literal => $payload:ty),* $(,)?) => {
        /// `enum bf_kind`: what a record is (the in-flight-only `BF_READ`/`BF_WRITE` are
        /// never emitted and have no kind here).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum RecordKind {
            $($kind = $raw),*
        }

        impl RecordKind {
            pub const ALL: &'static [RecordKind] = &[$(Self::$kind),*];

            pub fn from_raw(raw: u16) -> Option<Self> {
                match raw {
                    $($raw => Some(Self::$kind),)*
                    _ => None,
                }
            }
        }

        /// A record read from the ring buffer, by kind.
        #[derive(Clone, Debug)]
        pub enum Record {
            $($kind($payload)),*
        }

        impl Record {
            pub fn kind(&self) -> RecordKind {
                match self {
                    $(Self::$kind(_) => RecordKind::$kind),*
                }
            }

            /// The common header.
            pub fn header(&self) -> &Header {
                match self {
                    $(Self::$kind(r) => &r.h),*
                }
            }

            /// Copies a record out of the ring buffer's bytes.
            pub fn parse(bytes: &[u8]) -> Result<Self, AbiError> {
                let header: Header = read(bytes, size_of::<Header>())?;
                match header.kind {
                    $($raw => Ok(Self::$kind(<$payload>::from_bytes(bytes)?)),)*
                    other => Err(AbiError::UnknownKind(other)),
                }
            }
        }
    };
}

records! {
    Exec = 1 => Box<Exec>,
    Fork = 2 => Fork,
    Exit = 3 => Exit,
    Clone = 4 => Args,
    Clone3 = 5 => Box<Clone3>,
    Unshare = 6 => Args,
    Setns = 7 => Args,
    Prctl = 8 => Args,
    Seccomp = 9 => Args,
    Capset = 10 => Args,
    Mount = 11 => Box<Mount>,
    Umount = 12 => Box<PathRec>,
    PivotRoot = 13 => Box<Mount>,
    Chroot = 14 => Box<PathRec>,
    Openat = 15 => Box<PathRec>,
    Openat2 = 16 => Box<PathRec>,
    Mkdir = 17 => Box<PathRec>,
    Mkdirat = 18 => Box<PathRec>,
    FileIo = 19 => FileIo,
    CgroupAttach = 20 => Box<Cgroup>,
    CgroupMkdir = 21 => Box<Cgroup>,
    Socket = 22 => Args,
    Bind = 23 => Box<SockAddrRec>,
    Listen = 24 => Args,
    Accept = 25 => Box<SockAddrRec>,
    Accept4 = 26 => Box<SockAddrRec>,
    Connect = 27 => Box<SockAddrRec>,
    TcpState = 28 => TcpState,
    Packet = 29 => Box<Packet>,
    OpenTree = 32 => Box<PathRec>,
    MoveMount = 33 => Box<StrPair>,
    Fsopen = 34 => Box<PathRec>,
    Fsconfig = 35 => Box<StrPair>,
    Fsmount = 36 => Args,
    Fspick = 37 => Box<PathRec>,
    MountSetattr = 38 => Box<MountSetattr>,
    Execveat = 39 => Box<PathRec>,
    Chdir = 40 => Box<PathRec>,
    Fchdir = 41 => Args,
    Umask = 42 => Args,
    Sethostname = 43 => Box<PathRec>,
    Setuid = 44 => Args,
    Setgid = 45 => Args,
    Setgroups = 46 => Box<Groups>,
}

/// The bytes of a NUL-terminated C string in a fixed buffer, lossily as UTF-8.
pub fn c_str(buf: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_unknown_records_are_errors() {
        assert!(matches!(
            Record::parse(&[0; 10]),
            Err(AbiError::Short { .. })
        ));
        let mut h = Header::zeroed();
        h.kind = 999;
        assert_eq!(
            Record::parse(bytemuck::bytes_of(&h)).unwrap_err(),
            AbiError::UnknownKind(999)
        );
    }

    #[test]
    fn a_path_record_cut_after_its_string_parses() {
        let mut r = PathRec::zeroed();
        r.h.kind = RecordKind::Openat as u16;
        r.ret = 3;
        r.path[..4].copy_from_slice(b"/etc");
        let n = std::mem::offset_of!(PathRec, path) + 5;
        let rec = Record::parse(&bytemuck::bytes_of(&r)[..n]).unwrap();
        assert_eq!(rec.kind(), RecordKind::Openat);
        let Record::Openat(p) = rec else {
            panic!("not an openat record")
        };
        assert_eq!(c_str(&p.path), "/etc");
        assert_eq!(p.ret, 3);
    }

    #[test]
    fn every_kind_parses_into_its_own_variant() {
        for &kind in RecordKind::ALL {
            let mut bytes = vec![0u8; 2048];
            let mut h = Header::zeroed();
            h.kind = kind as u16;
            bytes[..size_of::<Header>()].copy_from_slice(bytemuck::bytes_of(&h));
            let rec = Record::parse(&bytes).unwrap();
            assert_eq!(rec.kind(), kind);
            assert_eq!(RecordKind::from_raw(kind as u16), Some(kind));
        }
    }

    #[test]
    fn counts_from_the_kernel_are_bounded() {
        let mut g = Groups::zeroed();
        g.count = 10_000;
        assert_eq!(g.gids().len(), GROUPS_MAX);
        let mut c = Clone3::zeroed();
        c.set_tid_len = u32::MAX;
        assert_eq!(c.set_tid().len(), SET_TID_MAX);
    }

    #[test]
    fn a_fixed_record_cut_short_is_an_error() {
        let mut r = Clone3::zeroed();
        r.h.kind = RecordKind::Clone3 as u16;
        let bytes = bytemuck::bytes_of(&r);
        assert!(Record::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(Record::parse(bytes).is_ok());
    }
}
