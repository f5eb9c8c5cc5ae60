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

use crate::error::{Error, Result};

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

/// Who a writer's files belong to: `(uid, gid)`, set on each file's descriptor.
pub type Owner = (u32, u32);

/// Creates `path` for writing: never following a link, never reusing a file that is there
/// (`O_CREAT|O_EXCL|O_NOFOLLOW`), private (0600) and given to `owner` through the
/// descriptor, not the path.
pub(crate) fn create_private(path: &Path, owner: Option<Owner>) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let file = opts.open(path)?;
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
    }
    #[cfg(not(unix))]
    let _ = owner;
    Ok(file)
}

/// The files a writer holds for its lifetime: the session's lock, locked.
#[derive(Debug)]
pub(crate) struct WriterFiles {
    lock_path: PathBuf,
    lock: Option<File>,
    /// The lock is held (not merely created: some file systems have no locks).
    pub locked: bool,
    /// (device, inode) of the session file and its `-wal` and `-shm`, as created.
    #[cfg(unix)]
    identities: Vec<(u64, u64)>,
}

impl WriterFiles {
    /// Creates the lock, the session file and its `-wal` and `-shm`, each as
    /// [`create_private`] does, so that SQLite opens files this writer made rather than
    /// anything someone put in their place. An existing session is replaced only with
    /// `overwrite`; a session another writer holds never.
    pub(crate) fn create(path: &Path, overwrite: bool, owner: Option<Owner>) -> Result<Self> {
        let io = |what: String| {
            move |source| Error::Io {
                context: what,
                source,
            }
        };
        let lock_path = companion(path, LOCK_SUFFIX);
        if writer_lock(path) == WriterLock::Held {
            return Err(Error::Io {
                context: format!(
                    "{} is being recorded by another recorder right now",
                    path.display()
                ),
                source: io::Error::from(io::ErrorKind::ResourceBusy),
            });
        }
        let exists = std::fs::symlink_metadata(path).is_ok();
        if exists && !overwrite {
            return Err(Error::Exists {
                path: path.to_owned(),
            });
        }
        // What is there (an old session, a stale lock, or something planted) goes: removing
        // a link removes the link, never what it points to.
        for suffix in ["", WAL_SUFFIX, SHM_SUFFIX, "-journal", LOCK_SUFFIX] {
            match std::fs::remove_file(companion(path, suffix)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io(format!("removing the old {}{suffix}", path.display()))(
                        e,
                    ));
                }
                _ => {}
            }
        }
        let lock = create_private(&lock_path, owner)
            .map_err(io(format!("creating {}", lock_path.display())))?;
        let locked = match lock.try_lock() {
            Ok(()) => true,
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Io {
                    context: format!("{} was just taken by another recorder", path.display()),
                    source: io::Error::from(io::ErrorKind::ResourceBusy),
                });
            }
            // No locks here (some network file systems): readers go by the heartbeat.
            Err(TryLockError::Error(_)) => false,
        };
        let mut files = Self {
            lock_path,
            lock: Some(lock),
            locked,
            #[cfg(unix)]
            identities: Vec::new(),
        };
        for suffix in ["", WAL_SUFFIX, SHM_SUFFIX] {
            let p = companion(path, suffix);
            let f = create_private(&p, owner).map_err(io(format!("creating {}", p.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let m = f
                    .metadata()
                    .map_err(io(format!("reading {}", p.display())))?;
                files.identities.push((m.dev(), m.ino()));
            }
            drop(f);
        }
        Ok(files)
    }

    /// Checks that SQLite holds open the very files [`WriterFiles::create`] made (the
    /// session file, its `-wal` and `-shm`), so that nothing swapped in between was opened
    /// instead. Linux only (through `/proc/self/fd`); elsewhere it checks nothing.
    pub(crate) fn verify_open(&self, path: &Path) -> Result<()> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            let open: Vec<(u64, u64)> = std::fs::read_dir("/proc/self/fd")
                .map(|fds| {
                    fds.flatten()
                        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
                        .map(|m| (m.dev(), m.ino()))
                        .collect()
                })
                .unwrap_or_default();
            for (identity, suffix) in self.identities.iter().zip(["", WAL_SUFFIX, SHM_SUFFIX]) {
                if !open.contains(identity) {
                    return Err(Error::Io {
                        context: format!(
                            "{} was replaced while it was being opened: the file SQLite opened \
                             is not the one this recorder created; nothing was recorded",
                            companion(path, suffix).display()
                        ),
                        source: io::Error::from(io::ErrorKind::AlreadyExists),
                    });
                }
            }
        }
        let _ = path;
        Ok(())
    }

    /// Removes the lock file, then releases the lock: the writer is done.
    pub(crate) fn release(&mut self) {
        if let Some(lock) = self.lock.take() {
            let _ = std::fs::remove_file(&self.lock_path);
            drop(lock);
        }
    }
}

impl Drop for WriterFiles {
    fn drop(&mut self) {
        self.release();
    }
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
