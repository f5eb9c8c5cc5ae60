//! The data layouts of format 1 that format 2 changed, kept so format-1 sessions decode into
//! today's shapes. Format 1 is frozen: nothing here changes.
//!
//! Every other kind's data is encoded identically in both formats (same number, same fields
//! in the same order), so only these two are read differently.

use serde::Deserialize;

use super::{Clone3Args, EventData, FileIoSummary};

/// The number of `clone3` and `file_io`, whose data changed in format 2.
pub const CLONE3: u32 = 4;
pub const FILE_IO: u32 = 18;

/// Format 1's `clone3` data: the flags alone.
#[derive(Debug, Deserialize)]
pub struct Clone3 {
    flags: u64,
}

/// Format 1's `file_io` data: the path (or `fd N` when the recorder had not seen the open).
#[derive(Debug, Deserialize)]
pub struct FileIo {
    path: u32,
    bytes_read: u64,
    bytes_written: u64,
    reads: u32,
    writes: u32,
}

impl Clone3 {
    pub fn into_current(self) -> EventData<u32> {
        EventData::Clone3(Box::new(Clone3Args {
            flags: self.flags,
            exit_signal: 0,
            cgroup_fd: -1,
            target_cgroup_id: 0,
            target_cgroup: None,
            set_tid: Vec::new(),
        }))
    }
}

impl FileIo {
    /// Today's shape: `fd N` becomes the fd with no path; a resolved path keeps no fd (-1).
    pub fn into_current(self, strings: &[Box<str>]) -> EventData<u32> {
        let fd = strings
            .get(self.path as usize)
            .and_then(|s| s.strip_prefix("fd "))
            .and_then(|n| n.parse::<i32>().ok());
        EventData::FileIo(FileIoSummary {
            fd: fd.unwrap_or(-1),
            path: if fd.is_some() { None } else { Some(self.path) },
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            reads: self.reads,
            writes: self.writes,
        })
    }
}

/// Format 1's process context of a chunk: three namespaces.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Context {
    pub pid: u32,
    pub tgid: u32,
    pub comm: u32,
    pub cgroup_id: u64,
    pub pid_ns: u32,
    pub mnt_ns: u32,
    pub net_ns: u32,
}
