//! Hostile session files opened the way `beefine-view info` opens them (then exported and
//! loaded as the window loads them). The first byte chooses how the input makes the file:
//! even, the rest of the input is the file; odd, the rest is a list of changes to a small
//! sound session (metadata, numbers and text in its tables, chunk rows and bodies, views,
//! triggers and tables added, bytes flipped, the file cut short). See `src/session.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    beefine_fuzz::session::check(data);
});
