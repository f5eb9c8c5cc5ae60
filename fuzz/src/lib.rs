//! What the fuzz targets check: a chunk (both chunk targets), BTF with a record
//! ([`check_btf`]) and a whole session file ([`session`]).

pub mod session;

use std::ops::ControlFlow;

use beefine_schema::btf::{Btf, flatten};
use beefine_schema::chunk::{ChunkLayout, ChunkView, decode_chunk};

/// Parses BTF and decodes a record with each of its record types; nothing may panic, and
/// what is produced is bounded (libFuzzer's memory limit catches the rest).
pub fn check_btf(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (record, btf) = rest.split_at(len);
    let Ok(btf) = Btf::parse(btf) else {
        return;
    };
    for name in btf.record_names(64) {
        if let Ok(r) = btf.record(&name) {
            std::hint::black_box(r.fields());
            if let Ok(fields) = r.decode(record) {
                for (path, value) in flatten(&fields).iter().take(4096) {
                    std::hint::black_box((path, value.to_string()));
                }
            }
        }
        // Extracting is the recorder's work on the user's own objects (trusted, and linear in
        // names times members): only for small inputs, so that the fuzzer keeps its pace.
        if data.len() > 64 << 10 {
            continue;
        }
        if let Ok(again) = btf.extract(&name) {
            assert!(
                Btf::parse(&again).is_ok_and(|b| b.has_record(&name)),
                "extracted BTF of {name:?} does not parse back with it"
            );
        }
    }
}

/// Reads a stored chunk body (zstd) of declared decompressed length `raw_len` the three
/// ways the reader can (`ChunkView::parse`, `ChunkView::for_each` and `decode_chunk`), in
/// every layout a session can declare. None may panic (the fuzzer reports that), and they
/// must agree on success and count.
pub fn check(body: &[u8], raw_len: u64) {
    for layout in [ChunkLayout::V1, ChunkLayout::V2] {
        check_layout(body, raw_len, layout);
    }
}

fn check_layout(body: &[u8], raw_len: u64, layout: ChunkLayout) {
    let view = ChunkView::parse(body, raw_len, layout);
    let decoded = decode_chunk(body, raw_len, layout);
    let Ok(view) = view else {
        assert!(decoded.is_err(), "parse failed but decode_chunk succeeded");
        return;
    };
    let mut seen = 0usize;
    let visited = view.for_each(|e| {
        seen += 1;
        std::hint::black_box(e.kind());
        ControlFlow::Continue(())
    });
    match (visited, decoded) {
        (Ok(_), Ok(events)) => {
            assert_eq!(seen, view.len(), "for_each visited a different count");
            assert_eq!(
                events.len(),
                view.len(),
                "decode_chunk returned a different count"
            );
        }
        (Err(_), Err(_)) => assert!(seen <= view.len()),
        (v, d) => panic!(
            "for_each ok: {}, decode_chunk ok: {}: they must agree",
            v.is_ok(),
            d.is_ok()
        ),
    }
}
