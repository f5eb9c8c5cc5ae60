//! Numbers, sizes, times and dates as people read them: one copy, in the schema crate, shared
//! with the recorder.

pub use beefine_schema::format::*;
