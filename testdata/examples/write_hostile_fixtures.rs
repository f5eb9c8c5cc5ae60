//! Writes `fixtures/hostile/`: every hostile session file the tests read, and its manifest.
//!
//! `cargo run -p beefine_testdata --example write_hostile_fixtures -- [OUT_DIR]`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fixtures/hostile".into()),
    );
    beefine_testdata::hostile::write_all(&dir)?;
    for h in beefine_testdata::hostile::all() {
        let bytes = std::fs::metadata(dir.join(h.file))?.len();
        println!("{:>10}  {}  ({})", bytes, h.file, h.what);
    }
    Ok(())
}
