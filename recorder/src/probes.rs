//! User-supplied eBPF programs recorded beside the built-in probes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;

use anyhow::{Result, bail};
use beefine_schema::Probe;

use crate::loader::AttachOptions;
use crate::session::SessionMsg;
use crate::stats::Stats;

/// A loaded custom probe.
pub struct CustomProbe {
    pub description: Probe,
}

/// Threads reading custom probes' outputs.
pub struct CustomThreads(Vec<std::thread::JoinHandle<()>>);

pub fn load_custom(
    paths: &[PathBuf],
    _attach: &AttachOptions,
    _self_tgid: u32,
    _trace_all: u8,
) -> Result<Vec<CustomProbe>> {
    if let Some(p) = paths.first() {
        bail!(
            "--probe {}: custom probes are not supported by this build yet",
            p.display()
        );
    }
    Ok(Vec::new())
}

pub fn start_custom(
    probes: Vec<CustomProbe>,
    _tx: SyncSender<SessionMsg>,
    _stop: Arc<AtomicBool>,
    _stats: Arc<Stats>,
) -> CustomThreads {
    debug_assert!(probes.is_empty());
    CustomThreads(Vec::new())
}

pub fn join_custom(threads: CustomThreads) {
    for t in threads.0 {
        let _ = t.join();
    }
}
