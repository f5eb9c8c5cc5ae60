//! The Docker daemon's side of the story (bollard).

use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::RecordArgs;
use crate::session::SessionMsg;

/// Pull / run / fetch the recorder performs itself.
pub struct Actions;

impl Actions {
    pub fn from_args(args: &RecordArgs) -> Result<Option<Self>> {
        if args.pull.is_some() || args.run.is_some() {
            bail!("--pull and --run are not supported by this build yet");
        }
        Ok(None)
    }

    pub async fn perform(&self, _docker: &DockerSide, _command: &[String]) -> Result<()> {
        Ok(())
    }

    pub async fn cleanup(&self, _docker: &DockerSide) {}
}

/// The daemon connection and its background tasks.
pub struct DockerSide;

pub async fn start(
    _tx: SyncSender<SessionMsg>,
    _clock_offset: i64,
    _interval: Duration,
) -> DockerSide {
    DockerSide
}

impl DockerSide {
    pub async fn stop(self) {}
}
