//! Test data for Beefine, kept out of the shipped crates: realistic synthetic event streams
//! ([`synth`]), hand-made sample sessions ([`sessions`]) and events of every kind generated
//! from the kind descriptions ([`generated`]), and the hostile files of `fixtures/hostile/`
//! ([`hostile`]).

pub mod generated;
pub mod hostile;
pub mod sessions;
mod story;
pub mod synth;

pub use sessions::*;
pub use story::sample_events;
