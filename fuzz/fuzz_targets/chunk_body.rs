//! A decompressed chunk body (the postcard columns), compressed here before it is read, so
//! that the fuzzer's mutations reach the column decoder instead of failing in zstd.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    if let Ok(body) = zstd::bulk::compress(raw, 1) {
        beefine_fuzz::check(&body, raw.len() as u64);
    }
});
