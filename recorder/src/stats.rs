//! Counters shared between the recorder's threads for the status line and summary.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct Stats {
    /// Events handed to the writer.
    pub events: AtomicU64,
    /// Events lost (kernel ring buffer full, tables full).
    pub lost: AtomicU64,
    /// Records that did not parse (never expected; counted, not dropped silently).
    pub malformed: AtomicU64,
    /// Containers seen.
    pub containers: AtomicU64,
}
