//! BTF as a session's `probes.btf` holds it, with a record to decode: the record's length
//! (u16 LE), the record, then the BTF. Parses, then decodes the record with every struct and
//! union of the BTF, flattens and prints what came out, and extracts each type again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    beefine_fuzz::check_btf(data);
});
