//! Beefine's event model and session file format.
//!
//! A session is one SQLite file: events in zstd-compressed, column-wise postcard chunks,
//! and the entities people query (processes, containers, images, layers, Docker events,
//! resource samples, losses, probes, bookmarks) in plain tables. `SCHEMA.md` documents the
//! tables with example `sqlite3` queries.
//!
//! - [`SessionWriter`] appends (batched, WAL, a commit at least every second);
//! - [`Session`] reads, also while a writer appends, with [`Query`] predicates that skip
//!   whole chunks, and a [`TailCursor`] for live tail.
//!
//! Everything read from a file is treated as untrusted: bounded decompression, bounded
//! lengths, errors instead of panics.

pub mod btf;
pub mod chunk;
pub mod entities;
mod error;
pub mod event;
pub mod format;
pub mod names;
pub mod paths;
mod reader;
mod sql;
pub mod story;
mod writer;

pub use entities::*;
pub use error::{Error, Result};
pub use event::*;
pub use reader::{
    ChunkInfo, EventIter, Query, STALE_HEARTBEAT_NANOS, ScanSummary, Session, TailCursor,
    TailUpdate,
};
pub use sql::{APPLICATION_ID, FORMAT_VERSION};
pub use writer::{SessionWriter, WriteSummary, WriterOptions, remove_session_file};
