//! `beefine-view`: replays Beefine session files.
//!
//! - [`info`], [`export`] and [`story`] (`chapters`, `state`) are the headless commands (no
//!   display needed);
//! - [`state`] is the viewer's model (store, time control, filters, selection, stepping),
//!   free of egui and unit-tested;
//! - `ui` draws panels that return commands, which `app` applies after each frame (both
//!   behind the default feature `window`).

#[cfg(feature = "window")]
pub mod app;
pub mod cli;
pub mod containers;
pub mod diff;
pub mod export;
pub mod format;
pub mod handout;
pub mod info;
pub mod probes;
pub mod redact;
pub mod state;
pub mod story;
#[cfg(feature = "window")]
pub mod ui;
