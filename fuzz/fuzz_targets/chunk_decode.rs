//! A stored chunk as the reader gets it from the file: the declared decompressed length
//! (first 4 bytes, little endian) and the zstd-compressed body (the rest). Exercises the
//! bounded decompression and everything after it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    beefine_fuzz::check(body, u64::from(u32::from_le_bytes(*len)));
});
