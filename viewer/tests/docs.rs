//! The export's documentation names every kind and every field the descriptions give it.

use beefine_schema::{Decode, Kind};

#[test]
fn export_md_documents_every_kind_and_field() {
    let doc = include_str!("../EXPORT.md");
    let table = doc
        .split("## Fields by kind")
        .nth(1)
        .expect("a 'Fields by kind' section");
    for kind in Kind::ALL {
        let row = table
            .lines()
            .find(|l| {
                l.split('|')
                    .nth(1)
                    .is_some_and(|c| c.contains(&format!("`{}`", kind.name())))
            })
            .unwrap_or_else(|| panic!("EXPORT.md has no row for {kind}"));
        for f in kind.fields() {
            // Addresses and probe records are written as several keys of their own.
            if matches!(f.decode, Decode::SockAddr | Decode::ProbeRecord) {
                continue;
            }
            assert!(
                row.contains(&format!("`{}`", f.name)),
                "EXPORT.md's row for {kind} does not name its field {}",
                f.name
            );
        }
    }
}
