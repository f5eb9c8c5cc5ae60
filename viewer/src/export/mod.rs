//! `beefine-view export`: a session in the formats other tools read.
//!
//! - [`jsonl`]: one JSON object per event (JSON Lines), for `jq` and scripts;
//! - [`perfetto`]: Perfetto's protobuf trace (track events), for ui.perfetto.dev and the
//!   trace processor;
//! - [`pcapng`]: the recorded packet summaries as a capture file, for Wireshark and `tshark`.
//!
//! Every format streams over [`beefine_schema::Session::scan`] (one decoded chunk at a time)
//! and writes the fields of each kind through the one walk over their descriptions in
//! [`fields`].

pub mod fields;
pub mod jsonl;
pub mod pcapng;
pub mod perfetto;

use std::io::{self, Write};

use beefine_schema::Error;

use crate::containers::ContainerIndex;
use crate::probes::Probes;

pub use jsonl::{export_jsonl, push_json_str, write_event};

/// What an export wrote, and what it could not read.
#[derive(Debug, Default)]
pub struct ExportSummary {
    pub events: u64,
    /// Damaged chunks (and damage to the chunk table); the other events were exported.
    pub errors: Vec<Error>,
}

/// Context that turns ids in events into names (containers, custom probes).
#[derive(Debug, Default)]
pub struct ExportContext {
    pub containers: ContainerIndex,
    pub probes: Probes,
}

impl ExportContext {
    pub fn for_session(session: &beefine_schema::Session) -> beefine_schema::Result<Self> {
        Ok(Self {
            containers: ContainerIndex::new(session.containers()?),
            probes: Probes::new(&session.probes()?),
        })
    }
}

/// Flushes `out` after an export, unless writing already failed. A reader that went away
/// (`| head`) is not an error of the export.
pub fn finish_output(io_error: Option<io::Error>, out: &mut impl Write) -> anyhow::Result<()> {
    let flushed = match io_error {
        Some(err) => Err(err),
        None => out.flush(),
    };
    match flushed {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(anyhow::Error::new(err).context("writing the export")),
        Ok(()) => Ok(()),
    }
}
