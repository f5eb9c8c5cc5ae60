//! Writes the viewer's test sessions, to look at them in the window:
//!
//! `cargo run -p beefine_viewer --example write_test_sessions -- OUT_DIR [EVENTS]`
//!
//! `OUT_DIR/sample-nginx.beefine` is the small hand-made session with data for every panel;
//! `OUT_DIR/generated.beefine` holds EVENTS synthetic events (default 1,000,000).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let events: usize = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    std::fs::create_dir_all(&dir)?;
    let sample = dir.join("sample-nginx.beefine");
    beefine_testdata::write_sample_session(&sample)?;
    println!("{}", sample.display());
    let generated = dir.join("generated.beefine");
    beefine_testdata::write_generated_session(&generated, events, 7, 64 << 10)?;
    println!("{}", generated.display());
    Ok(())
}
