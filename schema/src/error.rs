use std::path::PathBuf;

use crate::chunk::ChunkError;

/// Everything that can go wrong reading or writing a session file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a Beefine session: {reason}")]
    NotASession { path: PathBuf, reason: String },
    #[error(
        "{path} uses session format {found}, newer than format {supported} that this Beefine \
         reads; open it with a newer beefine-view"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} already exists; choose another name or overwrite it explicitly (--force)")]
    Exists { path: PathBuf },
    #[error("chunk {chunk_seq} is corrupt: {source}")]
    CorruptChunk {
        chunk_seq: i64,
        #[source]
        source: ChunkError,
    },
    /// An SQLite error, said in words (never "Error code 11"): the SQLite error itself is
    /// kept for callers that look at its code, not chained as a cause.
    #[error("{context}: {}", sqlite_words(sqlite))]
    Sqlite {
        context: String,
        sqlite: rusqlite::Error,
    },
    #[error("invalid {what} in the session file: {detail}")]
    InvalidRow { what: &'static str, detail: String },
    #[error("no container {wanted:?} in the session; its containers are {known}")]
    NoSuchContainer { wanted: String, known: String },
    #[error("{wanted:?} names several containers of the session: give more of the id")]
    AmbiguousContainer { wanted: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// What an SQLite error means for someone holding a session file, in words.
pub fn sqlite_words(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let rusqlite::Error::SqliteFailure(failure, message) = e else {
        // Conversions and API misuse: rusqlite's own text is already words.
        return e.to_string();
    };
    // SQLITE_IOERR_SHORT_READ, SQLITE_CANTOPEN_SYMLINK, SQLITE_READONLY_DIRECTORY, …
    const IOERR_SHORT_READ: i32 = 10 | (2 << 8);
    const CANTOPEN_SYMLINK: i32 = 14 | (6 << 8);
    let plain = match (failure.code, failure.extended_code) {
        (_, IOERR_SHORT_READ) => {
            "the file ends before its own header says it should: it is truncated (an \
             incomplete copy or download?)"
        }
        (_, CANTOPEN_SYMLINK) => "its path is a symbolic link, which is not followed here",
        (C::DatabaseCorrupt, _) => "the file is damaged (its pages are inconsistent)",
        (C::NotADatabase, _) => "it is not an SQLite file, or it is encrypted or damaged",
        (C::DiskFull, _) => "the disk is full: free space and record again",
        (C::SystemIoFailure, _) => "reading or writing the file failed (an I/O error)",
        (C::CannotOpen, _) => "the file cannot be opened (missing, or no permission)",
        (C::PermissionDenied, _) => "permission denied",
        (C::ReadOnly, _) => "the file or its folder is read-only",
        (C::DatabaseBusy | C::DatabaseLocked, _) => "another program holds it locked",
        (C::TooBig, _) => "a value in it is larger than this reader accepts",
        (C::OutOfMemory, _) => "out of memory",
        (C::FileLockingProtocolFailed, _) => "its file system does not support locking",
        (C::SchemaChanged, _) => "its schema changed while it was read; try again",
        (C::ConstraintViolation, _) => "a row breaks the table's constraints",
        (C::TypeMismatch, _) => "a value has the wrong type",
        (C::ApiMisuse, _) => "the reader used SQLite wrongly (a bug in Beefine)",
        _ => "",
    };
    match (plain.is_empty(), message) {
        (false, _) => plain.to_owned(),
        (true, Some(m)) => m.clone(),
        (true, None) => format!("SQLite reported an unexpected error ({:?})", failure.code),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds a description of what was being done to a rusqlite result.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T>;
    fn with_ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SqlContext<T> for std::result::Result<T, rusqlite::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|sqlite| Error::Sqlite {
            context: context.into(),
            sqlite,
        })
    }

    fn with_ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|sqlite| Error::Sqlite {
            context: context(),
            sqlite,
        })
    }
}

impl Error {
    /// Whether this error came from a full disk (the writer cannot go on).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Sqlite { sqlite, .. } => {
                sqlite.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            Self::Io { source, .. } => source.raw_os_error() == Some(28),
            _ => false,
        }
    }
}
