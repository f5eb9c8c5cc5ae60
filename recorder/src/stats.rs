//! Counters shared between the recorder's threads for the status line and summary.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct Stats {
    /// Events handed to the writer.
    pub events: AtomicU64,
    /// Events lost (kernel ring buffer full, tables full, malformed records).
    pub lost: AtomicU64,
    /// Records that did not parse (never expected; counted, and recorded as losses).
    pub malformed: AtomicU64,
    /// Times the capture waited on a full queue to the session writer.
    pub stalls: AtomicU64,
    /// Containers seen.
    pub containers: AtomicU64,
}

/// CPU time the recorder used (all its threads).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub user_nanos: u64,
    pub sys_nanos: u64,
}

/// This process's CPU time so far.
pub fn own_cpu() -> Cpu {
    use nix::sys::resource::{UsageWho, getrusage};
    let nanos =
        |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000_000 + t.tv_usec() as u64 * 1000;
    getrusage(UsageWho::RUSAGE_SELF).map_or_else(
        |_| Cpu::default(),
        |u| Cpu {
            user_nanos: nanos(u.user_time()),
            sys_nanos: nanos(u.system_time()),
        },
    )
}
