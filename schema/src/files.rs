//! The files of a session beside `NAME.beefine`: SQLite's `-wal` and `-shm` while it is
//! written, and the recorder's `-lock`, which it holds locked for as long as it runs.
//!
//! The lock says at once whether a writer is alive: the kernel releases it when the
//! recorder exits, also on `kill -9`. A reader tries to take it shared: if it cannot, a
//! writer holds it. The lock file is never opened for writing by a reader and never created
//! by one. On file systems without locks the writer says so in `meta.liveness`, and readers
//! judge by the heartbeat instead ([`crate::STALE_HEARTBEAT_NANOS`]).

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of SQLite's write-ahead log beside the session file.
pub const WAL_SUFFIX: &str = "-wal";
/// Suffix of SQLite's shared-memory index beside the session file.
pub const SHM_SUFFIX: &str = "-shm";
/// Suffix of the recorder's lock beside the session file.
pub const LOCK_SUFFIX: &str = "-lock";

/// `NAME.beefine` + `suffix`.
pub fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// What the lock beside a session says about its writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterLock {
    /// A writer holds it: the session is being written.
    Held,
    /// It is there but nobody holds it: the writer died without removing it.
    Free,
    /// There is no lock file (a finished session, a copy, or an older recorder).
    Absent,
    /// The file system cannot tell (no locks, or the lock file cannot be read).
    Unknown,
}

/// Asks the lock beside `path` whether a writer holds it. Creates and changes nothing.
pub fn writer_lock(path: &Path) -> WriterLock {
    let file = match File::open(companion(path, LOCK_SUFFIX)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return WriterLock::Absent,
        Err(_) => return WriterLock::Unknown,
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            WriterLock::Free
        }
        Err(TryLockError::WouldBlock) => WriterLock::Held,
        Err(TryLockError::Error(_)) => WriterLock::Unknown,
    }
}

/// Length of the `-wal` beside `path`, if there is one.
pub fn wal_len(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(companion(path, WAL_SUFFIX))
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len())
}

/// An SQLite URI for `path` with `params` (`immutable=1`), every byte outside the unreserved
/// set percent-encoded so that no file name can add parameters of its own.
pub(crate) fn uri(path: &Path, params: &str) -> io::Result<String> {
    let abs = std::path::absolute(path)?;
    let mut out = String::from("file:");
    for &b in path_bytes(&abs).iter() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out.push('?');
    out.push_str(params);
    Ok(out)
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    // SQLite's URIs on Windows: file:/C:/dir/name.
    let text = p.to_string_lossy().replace('\\', "/");
    let text = if text.starts_with('/') {
        text
    } else {
        format!("/{text}")
    };
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_escape_what_could_be_parameters() {
        let u = uri(Path::new("/tmp/a b?mode=rw#x%.beefine"), "immutable=1").unwrap();
        assert_eq!(u, "file:/tmp/a%20b%3Fmode%3Drw%23x%25.beefine?immutable=1");
    }

    #[test]
    fn the_lock_tells_a_live_writer_from_a_dead_one() {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("s.beefine");
        assert_eq!(writer_lock(&session), WriterLock::Absent);
        let lock = File::create(companion(&session, LOCK_SUFFIX)).unwrap();
        assert_eq!(writer_lock(&session), WriterLock::Free);
        lock.lock().unwrap();
        assert_eq!(writer_lock(&session), WriterLock::Held);
        drop(lock);
        assert_eq!(writer_lock(&session), WriterLock::Free);
    }
}
