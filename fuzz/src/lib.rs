//! What the fuzz targets check about one chunk, shared by both of them.

use std::ops::ControlFlow;

use beefine_schema::chunk::{ChunkLayout, ChunkView, decode_chunk};

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
