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
pub mod compare;
pub mod entities;
mod error;
pub mod event;
pub mod files;
pub mod format;
mod guard;
pub mod names;
pub mod paths;
mod reader;
mod recover;
mod salvage;
mod sql;
pub mod story;
mod writer;

pub use entities::*;
pub use error::{Error, Result, sqlite_words};
pub use event::*;
pub use guard::MAX_VALUE_BYTES;
pub use reader::{
    ChunkInfo, EventIter, Journal, MAX_MERGE_RAW_BYTES, Query, STALE_HEARTBEAT_NANOS, ScanSummary,
    Session, TailCursor, TailUpdate,
};
pub use recover::{Recovered, recover};
pub use sql::{APPLICATION_ID, FORMAT_VERSION, TABLES, Table};
pub use writer::{SessionWriter, WriteSummary, WriterOptions, remove_session_file};
