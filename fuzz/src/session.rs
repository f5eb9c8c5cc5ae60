//! Hostile session files built from fuzzer input, then read the way `beefine-view info`
//! reads them, exported, and loaded as the window loads them.
//!
//! The first byte chooses how the file is made. Even: the rest of the input is the file (the
//! corpus starts from `fixtures/hostile/` and `fixtures/sessions/`). Odd: the rest is a list
//! of changes to a small sound session, each a byte choosing the change followed by its
//! operands: metadata values, numbers and text put in its tables' columns, chunk rows added
//! and chunk bodies replaced, views, triggers, tables and indexes added, bytes of the file
//! flipped and the file cut short. Nothing may panic, hang or allocate without bound
//! (libFuzzer's `-timeout` and `-rss_limit_mb` catch those).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use beefine_schema::{Container, DockerEvent, Image, Session, SessionInfo, SessionWriter};
use rusqlite::{Connection, params};

/// A directory of this process for the files it writes.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("beefine-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}

/// The bytes of a small sound session: events of most kinds, a container, an image, a daemon
/// event, a user probe with its BTF and records.
fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let path = scratch().join("base.beefine");
        let info = SessionInfo {
            session_name: "fuzz".into(),
            command: vec!["fuzz".into()],
            tool_version: "fuzz".into(),
            host_kernel: "6.18.0".into(),
            hostname: "fuzz".into(),
            clock_offset_nanos: 1_764_000_000_000_000_000,
            start_ts_nanos: 1_000_000_000,
        };
        let opts = beefine_schema::WriterOptions {
            chunk_events: 100,
            overwrite: true,
            compact_on_finish: false,
            ..Default::default()
        };
        let mut w = SessionWriter::create(&path, &info, opts).expect("a session");
        let id = "4f1c2a9e0b7d".repeat(5) + "abcd";
        w.upsert_container(&Container {
            container_id: id.clone(),
            name: "web".into(),
            image: "busybox".into(),
            image_id: "sha256:aa".into(),
            cgroup_id: Some(beefine_testdata::synth::CONTAINER_CGROUP_ID),
            inspect_json: "{}".into(),
            ..Container::default()
        })
        .expect("a container");
        w.upsert_image(&Image {
            image_id: "sha256:aa".into(),
            reference: "busybox".into(),
            config_json: "{}".into(),
            ..Image::default()
        })
        .expect("an image");
        w.docker_event(&DockerEvent {
            ts_nanos: 1_000_000_500,
            event_type: "container".into(),
            action: "start".into(),
            actor_id: id,
            attributes: vec![("name".into(), "web".into())],
        })
        .expect("a daemon event");
        for e in beefine_testdata::synth::Generator::new(3).take(300) {
            w.push(e).expect("an event");
        }
        w.finish(None).expect("a finished session");
        let bytes = std::fs::read(&path).expect("the session's bytes");
        let _ = std::fs::remove_file(&path);
        bytes
    })
}

/// Reads operands from the input, with zeros once it runs out.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn i64(&mut self) -> i64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        i64::from_le_bytes(b)
    }

    /// Up to 255 bytes, or, for a length byte of 255, up to 64 KiB.
    fn bytes(&mut self) -> Vec<u8> {
        let n = match self.byte() {
            255 => usize::from(u16::from_le_bytes([self.byte(), self.byte()])),
            n => usize::from(n),
        };
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head.to_vec()
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

const META_KEYS: &[&str] = &[
    "format_version",
    "status",
    "start_ts_nanos",
    "end_ts_nanos",
    "clock_offset_nanos",
    "heartbeat_wall_nanos",
    "generation",
    "session_name",
    "command",
    "liveness",
    "writer_pid",
];

/// Columns that hold numbers, by table.
const NUMBERS: &[(&str, &str)] = &[
    ("chunks", "first_ts_nanos"),
    ("chunks", "last_ts_nanos"),
    ("chunks", "event_count"),
    ("chunks", "kinds_mask"),
    ("chunks", "raw_len"),
    ("kind_counts", "events"),
    ("processes", "pid"),
    ("processes", "start_ts_nanos"),
    ("processes", "exit_ts_nanos"),
    ("containers", "created_ts_nanos"),
    ("containers", "died_ts_nanos"),
    ("containers", "cgroup_id"),
    ("containers", "exit_code"),
    ("images", "size_bytes"),
    ("docker_events", "ts_nanos"),
    ("resource_samples", "ts_nanos"),
    ("resource_samples", "mem_bytes"),
    ("losses", "lost_events"),
    ("losses", "ts_nanos"),
    ("probes", "probe_id"),
];

/// Columns that hold text or blobs, by table.
const TEXTS: &[(&str, &str)] = &[
    ("containers", "container_id"),
    ("containers", "name"),
    ("containers", "image_id"),
    ("containers", "lower_dirs"),
    ("containers", "inspect_json"),
    ("images", "image_id"),
    ("images", "reference"),
    ("processes", "comm"),
    ("processes", "argv"),
    ("processes", "component"),
    ("docker_events", "actor_id"),
    ("docker_events", "attributes_json"),
    ("probes", "btf"),
    ("probes", "record_type"),
    ("probes", "programs_json"),
    ("chunks", "tgid_bloom"),
    ("kind_counts", "kind"),
    ("losses", "source"),
];

/// Objects a session never has.
const STRANGERS: &[&str] = &[
    "CREATE VIEW v AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n",
    "CREATE TRIGGER t AFTER INSERT ON bookmarks BEGIN DELETE FROM chunks; END",
    "CREATE TABLE evil (x)",
    "CREATE INDEX meta_value ON meta (value)",
    "DROP TABLE probes",
    "DROP TABLE containers; CREATE VIEW containers AS SELECT * FROM images",
    "ALTER TABLE bookmarks ADD COLUMN x AS (randomblob(1000000000)) VIRTUAL",
];

/// Applies the changes the input lists to the session at `path`; raw byte changes (flips,
/// cuts) after the connection is closed.
fn apply(path: &Path, mut input: Input<'_>) {
    let Ok(conn) = Connection::open(path) else {
        return;
    };
    let mut flips: Vec<(u64, u8)> = Vec::new();
    let mut cut: Option<u64> = None;
    let mut steps = 0;
    while !input.is_empty() && steps < 32 {
        steps += 1;
        let op = input.byte() % 8;
        let _ = match op {
            0 => {
                let key = META_KEYS[usize::from(input.byte()) % META_KEYS.len()];
                let value = String::from_utf8_lossy(&input.bytes()).into_owned();
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    params![key, value],
                )
            }
            1 => {
                let (t, c) = NUMBERS[usize::from(input.byte()) % NUMBERS.len()];
                conn.execute(&format!("UPDATE {t} SET {c} = ?1"), [input.i64()])
            }
            2 => {
                let (t, c) = TEXTS[usize::from(input.byte()) % TEXTS.len()];
                let bytes = input.bytes();
                // Text that need not be UTF-8, or a blob.
                let sql = if input.byte().is_multiple_of(2) {
                    format!("UPDATE {t} SET {c} = CAST(?1 AS TEXT)")
                } else {
                    format!("UPDATE {t} SET {c} = ?1")
                };
                conn.execute(&sql, [bytes])
            }
            3 => conn.execute(
                "INSERT INTO chunks (first_ts_nanos, last_ts_nanos, event_count, kinds_mask,
                    tgid_bloom, cgroup_bloom, raw_len, body) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                params![
                    input.i64(),
                    input.i64(),
                    input.i64(),
                    input.i64(),
                    vec![0xFFu8; 64],
                    input.i64() & 0x3FF_FFFF,
                    input.bytes()
                ],
            ),
            4 => conn.execute(
                "UPDATE chunks SET body = ?1 WHERE chunk_seq = (SELECT min(chunk_seq) FROM chunks)",
                [input.bytes()],
            ),
            5 => {
                let sql = STRANGERS[usize::from(input.byte()) % STRANGERS.len()];
                conn.execute_batch(sql).map(|()| 0)
            }
            6 => {
                flips.push((u64::from(u16::from_le_bytes([input.byte(), input.byte()])) * 7, input.byte()));
                Ok(0)
            }
            _ => {
                cut = Some(u64::from(u16::from_le_bytes([input.byte(), input.byte()])) * 16);
                Ok(0)
            }
        };
    }
    drop(conn);
    if flips.is_empty() && cut.is_none() {
        return;
    }
    let Ok(mut bytes) = std::fs::read(path) else {
        return;
    };
    for (at, x) in flips {
        if let Some(b) = bytes.get_mut(at as usize) {
            *b ^= x | 1;
        }
    }
    if let Some(n) = cut {
        bytes.truncate(n as usize);
    }
    let _ = std::fs::write(path, bytes);
}

/// Builds a file from `data` and reads it as `info`, `export` and the window's loader do.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let path = scratch().join("input.beefine");
    let _ = beefine_schema::remove_session_file(&path);
    if mode.is_multiple_of(2) {
        if std::fs::write(&path, rest).is_err() {
            return;
        }
    } else {
        if std::fs::write(&path, base()).is_err() {
            return;
        }
        apply(&path, Input { data: rest });
    }
    if let Ok(session) = Session::open(&path) {
        if let Ok(info) = beefine_viewer::info::session_info(&session) {
            std::hint::black_box(info.text.len());
        }
        let _ = beefine_viewer::export::export_jsonl(&session, &mut std::io::sink());
        drop(session);
        let _ = beefine_viewer::state::session::LoadedSession::load(&path);
    }
    let _ = beefine_schema::remove_session_file(&path);
}
