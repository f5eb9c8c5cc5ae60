//! The wire numbers of every kind, and the committed format fixtures decoded field by field.
//!
//! The numbers are a file format: a kind's number is the wire tag of its data and its bit in
//! chunk kind masks. Renumbering or reordering must fail here, loudly.
//!
//! The fixtures' events are compared with `tests/golden/format-vN.txt`: the first event of
//! every kind written out field by field, and a digest of every event. After a deliberate
//! change of what an old file decodes to, rewrite the golden files with
//! `BEEFINE_BLESS=1 cargo test -p beefine_schema --test golden` and say why in the commit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use beefine_schema::chunk::{ChunkEncoder, ChunkLayout, decode_chunk};
use beefine_schema::{Event, Kind, Session};
use beefine_testdata::generated::every_kind;

/// Every kind, by its pinned number. A new kind is appended with the next number.
const PINNED: &[(u8, &str)] = &[
    (0, "exec"),
    (1, "fork"),
    (2, "exit"),
    (3, "clone"),
    (4, "clone3"),
    (5, "unshare"),
    (6, "setns"),
    (7, "prctl"),
    (8, "seccomp"),
    (9, "capset"),
    (10, "mount"),
    (11, "umount"),
    (12, "pivot_root"),
    (13, "chroot"),
    (14, "openat"),
    (15, "openat2"),
    (16, "mkdir"),
    (17, "mkdirat"),
    (18, "file_io"),
    (19, "cgroup_attach"),
    (20, "cgroup_mkdir"),
    (21, "socket"),
    (22, "bind"),
    (23, "listen"),
    (24, "accept"),
    (25, "accept4"),
    (26, "connect"),
    (27, "tcp_state"),
    (28, "packet"),
    (29, "custom"),
    (30, "docker"),
    (31, "resource_sample"),
    (32, "lost"),
    (33, "open_tree"),
    (34, "move_mount"),
    (35, "fsopen"),
    (36, "fsconfig"),
    (37, "fsmount"),
    (38, "fspick"),
    (39, "mount_setattr"),
    (40, "execveat"),
    (41, "chdir"),
    (42, "fchdir"),
    (43, "umask"),
    (44, "sethostname"),
    (45, "setuid"),
    (46, "setgid"),
    (47, "setgroups"),
    (48, "cri"),
];

#[test]
fn kind_numbers_are_pinned() {
    let actual: Vec<(u8, &str)> = Kind::ALL.iter().map(|k| (k.index(), k.name())).collect();
    assert_eq!(
        actual, PINNED,
        "kind numbers changed: they are a file format"
    );
    for &(n, name) in PINNED {
        assert_eq!(Kind::from_index(n).map(Kind::name), Some(name));
        assert_eq!(Kind::from_name(name).map(Kind::index), Some(n));
    }
}

#[test]
fn the_wire_tag_of_an_event_is_its_kind_number() {
    for e in every_kind(7, 1, 1_000) {
        let Ok(data) = e
            .data
            .try_map_strings(&mut |_| Ok::<u32, std::convert::Infallible>(0));
        let bytes = postcard::to_stdvec(&data).expect("encodes");
        // postcard writes the variant tag as a varint: the kind's number (all below 128).
        assert_eq!(bytes[0], e.kind().index(), "{}", e.kind());
    }
}

#[test]
fn every_kind_round_trips_through_a_chunk() {
    let events = every_kind(11, 3, 1_000_000);
    assert_eq!(events.len(), Kind::COUNT * 3);
    let mut enc = ChunkEncoder::new(3).unwrap();
    let chunk = enc.encode(&events).unwrap();
    assert_eq!(chunk.summary.kinds.iter().count(), Kind::COUNT);
    let back = decode_chunk(&chunk.body, chunk.raw_len as u64, ChunkLayout::V2).unwrap();
    assert_eq!(back, events);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(name)
}

/// FNV-1a, 64 bits: a digest that needs no dependency.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The golden text of a session's events: the first of each kind, every field, then the
/// count and digest of all of them.
fn golden_text(events: &[Event]) -> String {
    let mut out = String::new();
    let mut all = String::new();
    let mut seen = std::collections::BTreeMap::new();
    for e in events {
        let line = format!("{e:?}");
        seen.entry(e.kind().index()).or_insert_with(|| line.clone());
        all.push_str(&line);
        all.push('\n');
    }
    for line in seen.values() {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "events {} digest {:016x}",
        events.len(),
        fnv(all.as_bytes())
    );
    out
}

fn check_golden(fixture_name: &str, golden_name: &str, version: u32) {
    let s = Session::open(&fixture(fixture_name)).unwrap();
    assert_eq!(s.meta().format_version, version);
    let text = golden_text(&s.all_events().unwrap());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden_name);
    if std::env::var_os("BEEFINE_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (BEEFINE_BLESS=1 writes it)", golden.display()));
    for (i, (want, got)) in expected.lines().zip(text.lines()).enumerate() {
        assert_eq!(got, want, "{fixture_name}: line {} differs", i + 1);
    }
    assert_eq!(text.lines().count(), expected.lines().count());
}

#[test]
fn the_format_1_fixture_decodes_as_it_always_did() {
    check_golden("format-v1.beefine", "format-v1.txt", 1);
}

#[test]
fn the_format_2_fixture_decodes_field_by_field() {
    check_golden("format-v2.beefine", "format-v2.txt", 2);
    // It holds every kind.
    let s = Session::open(&fixture("format-v2.beefine")).unwrap();
    let counts = s.kind_counts().unwrap();
    for k in Kind::ALL {
        assert!(
            counts.iter().any(|(kind, n)| kind == k && *n > 0),
            "format-v2 has no {k}"
        );
    }
}
