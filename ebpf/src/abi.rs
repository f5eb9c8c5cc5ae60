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

/// `enum bf_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RecordKind {
    Exec = 1,
    Fork = 2,
    Exit = 3,
    Clone = 4,
    Clone3 = 5,
    Unshare = 6,
    Setns = 7,
    Prctl = 8,
    Seccomp = 9,
    Capset = 10,
    Mount = 11,
    Umount = 12,
    PivotRoot = 13,
    Chroot = 14,
    Openat = 15,
    Openat2 = 16,
    Mkdir = 17,
    Mkdirat = 18,
    FileIo = 19,
    CgroupAttach = 20,
    CgroupMkdir = 21,
    Socket = 22,
    Bind = 23,
    Listen = 24,
    Accept = 25,
    Accept4 = 26,
    Connect = 27,
    TcpState = 28,
    Packet = 29,
}

impl RecordKind {
    pub const ALL: [RecordKind; 29] = [
        Self::Exec,
        Self::Fork,
        Self::Exit,
        Self::Clone,
        Self::Clone3,
        Self::Unshare,
        Self::Setns,
        Self::Prctl,
        Self::Seccomp,
        Self::Capset,
        Self::Mount,
        Self::Umount,
        Self::PivotRoot,
        Self::Chroot,
        Self::Openat,
        Self::Openat2,
        Self::Mkdir,
        Self::Mkdirat,
        Self::FileIo,
        Self::CgroupAttach,
        Self::CgroupMkdir,
        Self::Socket,
        Self::Bind,
        Self::Listen,
        Self::Accept,
        Self::Accept4,
        Self::Connect,
        Self::TcpState,
        Self::Packet,
    ];

    pub fn from_raw(raw: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u16 == raw)
    }
}

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
    pub kind: u16,
    pub len: u16,
    pub comm: [u8; COMM_LEN],
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

/// A record read from the ring buffer.
#[derive(Clone, Debug)]
pub enum Record {
    Exec(Box<Exec>),
    Fork(Fork),
    Exit(Exit),
    Args(Args),
    Path(Box<PathRec>),
    Mount(Box<Mount>),
    SockAddr(Box<SockAddrRec>),
    FileIo(FileIo),
    Cgroup(Box<Cgroup>),
    TcpState(TcpState),
    Packet(Box<Packet>),
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

impl Record {
    /// The common header.
    pub fn header(&self) -> &Header {
        match self {
            Self::Exec(r) => &r.h,
            Self::Fork(r) => &r.h,
            Self::Exit(r) => &r.h,
            Self::Args(r) => &r.h,
            Self::Path(r) => &r.h,
            Self::Mount(r) => &r.h,
            Self::SockAddr(r) => &r.h,
            Self::FileIo(r) => &r.h,
            Self::Cgroup(r) => &r.h,
            Self::TcpState(r) => &r.h,
            Self::Packet(r) => &r.h,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<(RecordKind, Self), AbiError> {
        let header: Header = read(bytes, size_of::<Header>())?;
        let kind = RecordKind::from_raw(header.kind).ok_or(AbiError::UnknownKind(header.kind))?;
        use RecordKind as K;
        let rec = match kind {
            K::Exec => Self::Exec(Box::new(read(bytes, size_of::<Exec>())?)),
            K::Fork => Self::Fork(read(bytes, size_of::<Fork>())?),
            K::Exit => Self::Exit(read(bytes, size_of::<Exit>())?),
            K::Clone
            | K::Clone3
            | K::Unshare
            | K::Setns
            | K::Prctl
            | K::Seccomp
            | K::Capset
            | K::Socket
            | K::Listen => Self::Args(read(bytes, size_of::<Args>())?),
            K::Openat | K::Openat2 | K::Mkdir | K::Mkdirat | K::Chroot | K::Umount => {
                Self::Path(Box::new(read(bytes, std::mem::offset_of!(PathRec, path))?))
            }
            K::Mount | K::PivotRoot => Self::Mount(Box::new(read(bytes, size_of::<Mount>())?)),
            K::Bind | K::Connect | K::Accept | K::Accept4 => {
                Self::SockAddr(Box::new(read(bytes, size_of::<SockAddrRec>())?))
            }
            K::FileIo => Self::FileIo(read(bytes, size_of::<FileIo>())?),
            K::CgroupAttach | K::CgroupMkdir => {
                Self::Cgroup(Box::new(read(bytes, std::mem::offset_of!(Cgroup, path))?))
            }
            K::TcpState => Self::TcpState(read(bytes, size_of::<TcpState>())?),
            K::Packet => Self::Packet(Box::new(read(bytes, size_of::<Packet>())?)),
        };
        Ok((kind, rec))
    }
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
        let (kind, rec) = Record::parse(&bytemuck::bytes_of(&r)[..n]).unwrap();
        assert_eq!(kind, RecordKind::Openat);
        let Record::Path(p) = rec else {
            panic!("not a path record")
        };
        assert_eq!(c_str(&p.path), "/etc");
        assert_eq!(p.ret, 3);
    }
}
