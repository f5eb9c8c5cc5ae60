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
    #[error("{context}: {source}{}", disk_hint(source))]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("invalid {what} in the session file: {detail}")]
    InvalidRow { what: &'static str, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn disk_hint(e: &rusqlite::Error) -> &'static str {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => " (the disk is full: free space and record again)",
        Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase) => {
            " (the file is damaged or truncated)"
        }
        _ => "",
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
        self.map_err(|source| Error::Sqlite {
            context: context.into(),
            source,
        })
    }

    fn with_ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Sqlite {
            context: context(),
            source,
        })
    }
}

impl Error {
    /// Whether this error came from a full disk (the writer cannot go on).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            Self::Io { source, .. } => source.raw_os_error() == Some(28),
            _ => false,
        }
    }
}
