//! Folding back what a writer that died left beside a session: its `-wal` (commits not yet
//! copied into the file) and its `-lock`. Afterwards the file travels alone.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result, SqlContext};
use crate::files::{self, LOCK_SUFFIX, WriterLock};

/// What [`recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes of `-wal` folded back into the file (0: there was none).
    pub wal_bytes: u64,
    /// A stale `-lock` was removed.
    pub removed_lock: bool,
}

/// Copies a dead writer's `-wal` into the file and leaves the file in rollback-journal mode,
/// so that nothing beside it is needed. `Ok(false)` when it cannot (the file or its folder
/// is read-only, a writer is alive, another program holds the file open): then nothing
/// changed and the `-wal` is read where it is.
pub(crate) fn fold_wal(path: &Path) -> Result<bool> {
    if files::writer_lock(path) == WriterLock::Held {
        return Ok(false);
    }
    let writable = std::fs::OpenOptions::new().write(true).open(path).is_ok();
    if !writable {
        return Ok(false);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_ctx(|| format!("opening {} to fold its -wal back", path.display()))?;
    // The file is untrusted like any other: nothing of its schema runs.
    for (what, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
    ] {
        conn.set_db_config(what, on)
            .ctx("configuring the connection")?;
    }
    conn.busy_timeout(Duration::from_millis(200))
        .ctx("configuring the connection")?;
    // (busy, frames in the log, frames checkpointed)
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .with_ctx(|| format!("folding the -wal of {} back", path.display()))?;
    if busy != 0 || log != done {
        return Ok(false);
    }
    // Out of WAL mode the file needs nothing beside it; another reader keeps it in WAL mode,
    // which is as readable (the log is empty).
    let _ = conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()));
    Ok(true)
}

/// Removes a `-lock` no writer holds. Returns whether one was removed.
pub(crate) fn remove_stale_lock(path: &Path) -> bool {
    let lock = files::companion(path, LOCK_SUFFIX);
    let Ok(file) = File::open(&lock) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => std::fs::remove_file(&lock).is_ok(),
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => false,
    }
}

/// `beefine-view recover FILE`: folds a dead writer's `-wal` back into the file and removes
/// its stale `-lock`. Refuses while a writer is alive, and says why when the file cannot be
/// written.
pub fn recover(path: &Path) -> Result<Recovered> {
    let not = |reason: String| Error::NotASession {
        path: path.to_owned(),
        reason,
    };
    if files::writer_lock(path) == WriterLock::Held {
        return Err(Error::Io {
            context: format!(
                "{} is being recorded right now (its writer holds {}); recover it after the \
                 recorder stops",
                path.display(),
                files::companion(path, LOCK_SUFFIX).display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::ResourceBusy),
        });
    }
    // Only sessions are touched: the header is checked as a reader does.
    crate::reader::check_header(path)?;
    let wal_bytes = files::wal_len(path).unwrap_or(0);
    let mut done = Recovered::default();
    if wal_bytes > 0 {
        if std::fs::OpenOptions::new().write(true).open(path).is_err() {
            return Err(Error::Io {
                context: format!(
                    "cannot write {}: folding its -wal back needs write access to the file \
                     and its folder",
                    path.display()
                ),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            });
        }
        if !fold_wal(path)? {
            return Err(not(
                "its -wal could not be folded back: another program holds it open (close \
                 viewers of it and try again)"
                    .into(),
            ));
        }
        done.wal_bytes = wal_bytes;
    }
    done.removed_lock = remove_stale_lock(path);
    Ok(done)
}
