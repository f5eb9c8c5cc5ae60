//! Hostile session files: what `fixtures/hostile/` holds, how each file is made, and what a
//! reader must make of it (its `manifest.json`).
//!
//! Session files are shared, so readers get files made by anyone. Each file here is one way
//! a file can try to hurt a reader — SQL that runs when read, numbers that size allocations,
//! strings that panic when cut, small files that expand without bound, damage — with what
//! `beefine-view info`, `export` and the window (`--screenshot`) must do with it: exit
//! status and a text they must say. `cargo run -p beefine_testdata --example
//! write_hostile_fixtures` writes them; the viewer's tests read them back within 2 s and
//! bounded memory each.

use std::path::Path;

use beefine_schema::{
    Container, CustomRecord, DockerEvent, Event, EventData, EventHeader, ExecArgs, Image,
    Namespaces, PathArgs, Probe, Process, SessionInfo, SessionWriter, Str, WriterOptions,
};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::synth::{CONTAINER_CGROUP_ID, Generator};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// What one reader must do with a file: its exit status and a text its output contains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expect {
    pub exit: i32,
    pub says: &'static str,
}

/// One hostile file.
#[derive(Clone, Debug, Serialize)]
pub struct Hostile {
    pub file: &'static str,
    pub what: &'static str,
    pub info: Expect,
    pub export: Expect,
    pub window: Expect,
    #[serde(skip)]
    make: fn(&Path) -> Result,
}

const fn expect(exit: i32, says: &'static str) -> Expect {
    Expect { exit, says }
}

/// The same outcome from every reader.
const fn all_say(exit: i32, says: &'static str) -> (Expect, Expect, Expect) {
    (expect(exit, says), expect(exit, says), expect(exit, says))
}

fn hostile(
    file: &'static str,
    what: &'static str,
    (info, export, window): (Expect, Expect, Expect),
    make: fn(&Path) -> Result,
) -> Hostile {
    Hostile {
        file,
        what,
        info,
        export,
        window,
        make,
    }
}

const REFUSED: i32 = 1;
const DAMAGED: i32 = 3;

/// Every hostile file, in the order of the manifest.
pub fn all() -> Vec<Hostile> {
    [refused(), readable(), damaged()].concat()
}

/// Files every reader must refuse (exit 1) with a message that says why.
fn refused() -> Vec<Hostile> {
    vec![
        hostile(
            "view-recursive-cte.beefine",
            "the containers table is a view over an endless recursive CTE",
            all_say(REFUSED, "defines a view (\"containers\")"),
            |p| alter(p, VIEW),
        ),
        hostile(
            "trigger.beefine",
            "a trigger that would delete every chunk on the next insert",
            all_say(REFUSED, "defines a trigger (\"wipe\")"),
            |p| alter(p, TRIGGER),
        ),
        hostile(
            "generated-column.beefine",
            "the processes table with a generated column, computed on every read",
            all_say(
                REFUSED,
                "its table \"processes\" is not defined as a session's is",
            ),
            |p| alter(p, GENERATED),
        ),
        hostile(
            "extra-table.beefine",
            "a table no session has",
            all_say(REFUSED, "a table \"evil\" that a session does not have"),
            |p| alter(p, "CREATE TABLE evil (x)"),
        ),
        hostile(
            "no-tables.beefine",
            "the main file of a recording whose data was only in its -wal, copied alone",
            all_say(REFUSED, "it has no meta table"),
            no_tables,
        ),
        hostile(
            "not-sqlite.beefine",
            "random bytes",
            all_say(REFUSED, "it is not an SQLite file"),
            |p| Ok(std::fs::write(p, noise(3, 8192))?),
        ),
        hostile(
            "foreign-sqlite.beefine",
            "an SQLite file of another program",
            all_say(REFUSED, "without Beefine's application id"),
            foreign_sqlite,
        ),
        hostile(
            "newer-format.beefine",
            "a session of format 99",
            all_say(REFUSED, "uses session format 99"),
            |p| meta_set(p, "format_version", "99"),
        ),
        hostile(
            "bad-format-number.beefine",
            "a format version that is not a number",
            all_say(REFUSED, "is not a number"),
            |p| meta_set(p, "format_version", "two"),
        ),
        hostile(
            "text-in-number-column.beefine",
            "a process whose pid is text (export reads no processes)",
            (
                expect(REFUSED, "reading processes"),
                expect(0, ""),
                expect(REFUSED, "reading processes"),
            ),
            |p| sql(p, "UPDATE processes SET pid = 'abc'"),
        ),
    ]
}

/// Files that must be read whole (exit 0), or with their unreadable parts reported (exit 3),
/// within bounded time and memory.
fn readable() -> Vec<Hostile> {
    vec![
        hostile(
            "non-ascii-ids.beefine",
            "container, image and daemon-event actor ids whose 12th character is not ASCII",
            (
                expect(0, "0123456789aé"),
                expect(0, "0123456789aé"),
                expect(0, ""),
            ),
            non_ascii_ids,
        ),
        hostile(
            "huge-kind-counts.beefine",
            "kind_counts declares 10^12 events",
            (
                expect(0, "1,000,000,000,000 in"),
                expect(0, ""),
                expect(0, ""),
            ),
            |p| {
                sql(
                    p,
                    "UPDATE kind_counts SET events = 0;
                     UPDATE kind_counts SET events = 1000000000000
                         WHERE kind = (SELECT min(kind) FROM kind_counts);",
                )
            },
        ),
        hostile(
            "i64-max-counts.beefine",
            "two kinds of i64::MAX events each (their sum overflows)",
            (expect(0, "not plausible"), expect(0, ""), expect(0, "")),
            |p| sql(p, "UPDATE kind_counts SET events = 9223372036854775807"),
        ),
        hostile(
            "long-meta.beefine",
            "a session name and a command line of 512 KiB each",
            (expect(0, "session"), expect(0, ""), expect(0, "")),
            long_meta,
        ),
        hostile(
            "argv-bomb.beefine",
            "one exec whose argv is 100,000 references to one 64 KiB string (6.4 GB expanded)",
            (
                expect(DAMAGED, "refers to more than 1048576 bytes of strings"),
                expect(DAMAGED, "refers to more than 1048576 bytes of strings"),
                expect(0, ""),
            ),
            |p| argv_bomb(p, false),
        ),
        hostile(
            "zstd-bomb.beefine",
            "a chunk of 1 KiB stored that declares 32 MiB decompressed",
            (
                expect(DAMAGED, "an expansion no real chunk has"),
                expect(DAMAGED, "an expansion no real chunk has"),
                expect(0, ""),
            ),
            |p| argv_bomb(p, true),
        ),
        hostile(
            "btf-bomb.beefine",
            "a probe whose record type has 65,535 members sharing one 64 KiB name",
            (
                expect(0, "wide"),
                expect(0, "the decoded record would hold more than"),
                expect(0, ""),
            ),
            btf_bomb,
        ),
        hostile(
            "overlapping-chunks.beefine",
            "1,000 chunks over the same time range (60,000 events to merge)",
            (expect(0, "60,002 in"), expect(0, ""), expect(0, "")),
            overlapping_chunks,
        ),
        hostile(
            "extreme-times.beefine",
            "timestamps at the ends of the clock, an end before the start, negative times in \
             the tables",
            (expect(0, "session"), expect(0, ""), expect(0, "")),
            extreme_times,
        ),
    ]
}

/// Damaged files: read as far as they go, what was skipped reported (exit 3).
fn damaged() -> Vec<Hostile> {
    vec![
        hostile(
            "flipped-chunk.beefine",
            "bytes flipped inside one chunk body",
            (
                expect(DAMAGED, "is corrupt"),
                expect(DAMAGED, "is corrupt"),
                expect(0, ""),
            ),
            flipped_chunk,
        ),
        hostile(
            "truncated-60.beefine",
            "a copy cut at 60 %",
            (
                expect(DAMAGED, "by scanning its pages"),
                expect(DAMAGED, "by scanning its pages"),
                expect(0, ""),
            ),
            |p| truncated(p, 60),
        ),
        hostile(
            "truncated-93.beefine",
            "a copy cut at 93 % (inside the last pages)",
            (
                expect(DAMAGED, "by scanning its pages"),
                expect(DAMAGED, "by scanning its pages"),
                expect(0, ""),
            ),
            |p| truncated(p, 93),
        ),
        hostile(
            "overwritten-pages.beefine",
            "pages in the middle of the file overwritten with noise",
            (
                expect(DAMAGED, "damaged"),
                expect(DAMAGED, "damaged"),
                expect(0, ""),
            ),
            overwritten_pages,
        ),
    ]
}

/// The manifest (`manifest.json`): every file with what it is and what readers must do.
pub fn manifest(list: &[Hostile]) -> String {
    let mut text = serde_json::to_string_pretty(list).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes every hostile file and the manifest into `dir`.
pub fn write_all(dir: &Path) -> Result {
    std::fs::create_dir_all(dir)?;
    let list = all();
    for h in &list {
        let path = dir.join(h.file);
        beefine_schema::remove_session_file(&path)?;
        (h.make)(&path).map_err(|e| format!("{}: {e}", h.file))?;
        // Nothing beside the file: it travels alone.
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(beefine_schema::files::companion(&path, suffix));
        }
    }
    std::fs::write(dir.join("manifest.json"), manifest(&list))?;
    Ok(())
}

const CONTAINER_ID: &str = "4f1c2a9e0b7d4f1c2a9e0b7d4f1c2a9e0b7d4f1c2a9e0b7d4f1c2a9e0b7dabcd";

fn info(name: &str) -> SessionInfo {
    SessionInfo {
        session_name: name.into(),
        command: vec!["hostile".into()],
        tool_version: "fixture".into(),
        host_kernel: "6.18.0".into(),
        hostname: "fixture".into(),
        clock_offset_nanos: 1_764_000_000_000_000_000,
        start_ts_nanos: 1_000_000_000,
    }
}

fn options() -> WriterOptions {
    WriterOptions {
        chunk_events: 1000,
        overwrite: true,
        ..WriterOptions::default()
    }
}

fn container(id: &str, image_id: &str) -> Container {
    Container {
        container_id: id.into(),
        name: "web".into(),
        image: "localhost:5000/busybox:fixture".into(),
        image_id: image_id.into(),
        init_pid: Some(2130),
        cgroup_id: Some(CONTAINER_CGROUP_ID),
        created_ts_nanos: Some(1_000_000_100),
        started_ts_nanos: Some(1_000_000_200),
        inspect_json: "{}".into(),
        ..Container::default()
    }
}

/// A small, sound session: a container, an image, a process and `events` events.
fn base_with(path: &Path, events: usize) -> Result {
    let mut w = SessionWriter::create(path, &info("hostile"), options())?;
    w.upsert_container(&container(CONTAINER_ID, "sha256:aa"))?;
    w.upsert_image(&Image {
        image_id: "sha256:aa".into(),
        reference: "localhost:5000/busybox:fixture".into(),
        config_json: "{}".into(),
        size_bytes: 1 << 20,
        ..Image::default()
    })?;
    w.upsert_process(&Process {
        pid: 2130,
        ppid: 1,
        comm: "sh".into(),
        exe: Some("/bin/sh".into()),
        argv: vec!["sh".into()],
        start_ts_nanos: 1_000_000_300,
        exit_ts_nanos: None,
        exit_code: None,
        container_id: Some(CONTAINER_ID.into()),
        component: beefine_schema::Component::ContainerInit,
        cgroup_id: CONTAINER_CGROUP_ID,
        ns: Namespaces::default(),
    })?;
    for e in Generator::new(7).take(events) {
        w.push(e)?;
    }
    w.finish(None)?;
    Ok(())
}

fn base(path: &Path) -> Result {
    base_with(path, 1000)
}

fn sql(path: &Path, statements: &str) -> Result {
    if !path.exists() {
        base(path)?;
    }
    let conn = Connection::open(path)?;
    conn.execute_batch(statements)?;
    Ok(())
}

fn alter(path: &Path, statements: &str) -> Result {
    base(path)?;
    sql(path, statements)
}

fn meta_set(path: &Path, key: &str, value: &str) -> Result {
    base(path)?;
    let conn = Connection::open(path)?;
    conn.execute(
        "UPDATE meta SET value = ?2 WHERE key = ?1",
        params![key, value],
    )?;
    Ok(())
}

const VIEW: &str = "DROP TABLE containers;
CREATE VIEW containers AS
  WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
  SELECT printf('%064d', x) AS container_id, 'c' AS name, 'i' AS image, 'sha256:aa' AS image_id,
    NULL AS init_pid, NULL AS cgroup_id, NULL AS cgroup_path, x AS created_ts_nanos,
    NULL AS started_ts_nanos, NULL AS died_ts_nanos, NULL AS destroyed_ts_nanos,
    NULL AS exit_code, NULL AS pid_ns, NULL AS mnt_ns, NULL AS net_ns, NULL AS uts_ns,
    NULL AS ipc_ns, NULL AS cgroup_ns, NULL AS user_ns, NULL AS time_ns, '' AS lower_dirs,
    NULL AS upper_dir, NULL AS work_dir, NULL AS merged_dir, '{}' AS inspect_json
  FROM n;";

const TRIGGER: &str =
    "CREATE TRIGGER wipe AFTER INSERT ON bookmarks BEGIN DELETE FROM chunks; END;";

const GENERATED: &str = "ALTER TABLE processes RENAME TO old_processes;
CREATE TABLE processes (
    pid            INTEGER NOT NULL,
    start_ts_nanos INTEGER NOT NULL,
    ppid           INTEGER NOT NULL,
    comm           TEXT    NOT NULL,
    exe            TEXT,
    argv           TEXT    NOT NULL,
    exit_ts_nanos  INTEGER,
    exit_code      INTEGER,
    container_id   TEXT,
    component      TEXT    NOT NULL,
    cgroup_id      INTEGER NOT NULL,
    pid_ns         INTEGER NOT NULL,
    mnt_ns         INTEGER NOT NULL,
    net_ns         INTEGER NOT NULL,
    heavy          TEXT GENERATED ALWAYS AS (printf('%.*c', 100000000, 'x')) VIRTUAL,
    PRIMARY KEY (pid, start_ts_nanos)
);
DROP TABLE old_processes;";

fn no_tables(path: &Path) -> Result {
    let conn = Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA application_id = {}; PRAGMA journal_mode = WAL;",
        beefine_schema::APPLICATION_ID
    ))?;
    drop(conn);
    Ok(())
}

fn foreign_sqlite(path: &Path) -> Result {
    let conn = Connection::open(path)?;
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")?;
    Ok(())
}

/// Deterministic bytes that do not compress.
fn noise(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// Deterministic letters that do not compress.
fn noise_text(seed: u32, n: usize) -> String {
    noise(seed, n)
        .into_iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

fn non_ascii_ids(path: &Path) -> Result {
    let id = format!("0123456789aé{}", "f".repeat(51));
    let image_id = format!("sha256:0123456789aé{}", "e".repeat(51));
    let mut w = SessionWriter::create(path, &info("non-ascii"), options())?;
    w.upsert_container(&container(&id, &image_id))?;
    w.upsert_image(&Image {
        image_id: image_id.clone(),
        reference: "localhost:5000/é:1".into(),
        config_json: "{}".into(),
        ..Image::default()
    })?;
    w.docker_event(&DockerEvent {
        ts_nanos: 1_000_000_500,
        event_type: "container".into(),
        action: "start".into(),
        actor_id: id.clone(),
        attributes: vec![("name".into(), "wéb".into())],
    })?;
    for mut e in Generator::new(11).take(500) {
        e.header.comm = Str::from("ééééééééééééééé");
        w.push(e)?;
    }
    w.finish(None)?;
    Ok(())
}

fn long_meta(path: &Path) -> Result {
    base(path)?;
    let conn = Connection::open(path)?;
    let long = "x".repeat(512 << 10);
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'session_name'",
        [&long],
    )?;
    let command = serde_json::to_string(&vec![long])?;
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'command'",
        [&command],
    )?;
    Ok(())
}

/// A v2 chunk body's context, field for field (postcard encodes a struct as its fields).
#[derive(Serialize)]
struct RawContext {
    pid: u32,
    tgid: u32,
    comm: u32,
    cgroup_id: u64,
    ns: Namespaces,
}

/// A v2 chunk body of one event: strings, contexts, ts deltas, context per event, results,
/// the data column.
fn raw_body(ts_nanos: u64, strings: Vec<String>, data: EventData<u32>) -> Result<Vec<u8>> {
    let body = (
        strings,
        vec![RawContext {
            pid: 9,
            tgid: 9,
            comm: 0,
            cgroup_id: 0,
            ns: Namespaces::default(),
        }],
        vec![ts_nanos],
        vec![0u32],
        vec![None::<i64>],
        vec![data],
    );
    Ok(postcard::to_stdvec(&body)?)
}

/// Adds a chunk row as the writer would, around a body made by hand.
fn insert_chunk(path: &Path, ts_nanos: u64, raw_len: usize, body: &[u8], kind_bit: u32) -> Result {
    let conn = Connection::open(path)?;
    conn.execute(
        "INSERT INTO chunks (first_ts_nanos, last_ts_nanos, event_count, kinds_mask, tgid_bloom,
            cgroup_bloom, raw_len, body) VALUES (?1, ?1, 1, ?2, ?3, ?3, ?4, ?5)",
        params![
            ts_nanos as i64,
            1i64 << kind_bit,
            vec![0xFFu8; 64],
            raw_len as i64,
            body
        ],
    )?;
    Ok(())
}

fn argv_bomb(path: &Path, compressible: bool) -> Result {
    base(path)?;
    let long = if compressible {
        "a".repeat(64 << 10)
    } else {
        noise_text(5, 64 << 10)
    };
    let raw = raw_body(
        2_000_000_000,
        vec!["sh".into(), long],
        EventData::Exec(ExecArgs {
            filename: 1,
            argv: vec![1; 100_000],
        }),
    )?;
    let (raw_len, body) = if compressible {
        // The most zstd can pack: a tiny body that says 32 MiB.
        (32 << 20, zstd::bulk::compress(&vec![0u8; 32 << 20], 19)?)
    } else {
        (raw.len(), zstd::bulk::compress(&raw, 3)?)
    };
    insert_chunk(path, 2_000_000_000, raw_len, &body, 0)
}

/// Raw BTF: `unsigned char`, and a struct `wide` of 65,535 members named by one 64 KiB name.
fn wide_btf() -> Vec<u8> {
    let mut strings = b"\0unsigned char\0wide\0".to_vec();
    let name_off = strings.len() as u32;
    strings.extend(std::iter::repeat_n(b'n', 64 << 10));
    strings.push(0);
    let mut types = Vec::new();
    let mut w = |v: u32| types.extend_from_slice(&v.to_le_bytes());
    // [1] INT "unsigned char": size 1, 8 bits.
    w(1);
    w(1 << 24);
    w(1);
    w(8);
    // [2] STRUCT "wide": 65,535 members, size 1.
    w(15);
    w((4 << 24) | 0xFFFF);
    w(1);
    for _ in 0..0xFFFF {
        w(name_off);
        w(1);
        w(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_le_bytes());
    out.extend_from_slice(&[1, 0]);
    for v in [
        24u32,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&types);
    out.extend_from_slice(&strings);
    out
}

fn btf_bomb(path: &Path) -> Result {
    let mut w = SessionWriter::create(path, &info("btf-bomb"), options())?;
    w.upsert_probe(&Probe {
        probe_id: 1,
        name: "wide".into(),
        builtin: false,
        programs: vec![("on_x".into(), "tracepoint/syscalls/sys_enter_openat".into())],
        record_type: Some("wide".into()),
        btf: wide_btf(),
        object_sha256: None,
    })?;
    for i in 0..10u64 {
        w.push(Event::untasked(
            1_000_000_000 + i * 1000,
            EventData::Custom(CustomRecord {
                probe_id: 1,
                bytes: vec![7],
            }),
        ))?;
    }
    w.finish(None)?;
    Ok(())
}

fn overlapping_chunks(path: &Path) -> Result {
    let opts = WriterOptions {
        chunk_events: 60,
        compact_on_finish: false,
        commit_interval: std::time::Duration::from_secs(3600),
        ..options()
    };
    let mut w = SessionWriter::create(path, &info("overlapping"), opts)?;
    let header = |ts: u64| EventHeader {
        ts_nanos: ts,
        pid: 7,
        tgid: 7,
        comm: Str::from("sh"),
        cgroup_id: 0,
        ns: Namespaces::default(),
    };
    for c in 0..1000u64 {
        for j in 0..60u64 {
            w.push(Event {
                header: header(1_000_000_000 + j * 3000 + c),
                result: Some(0),
                data: EventData::Chroot(PathArgs {
                    path: Str::from("/"),
                }),
            })?;
        }
    }
    // The first and the last event span the whole range in two chunks of their own.
    w.commit()?;
    w.push(Event {
        header: header(1_000_000_000),
        result: None,
        data: EventData::Chroot(PathArgs {
            path: Str::from("/first"),
        }),
    })?;
    w.push(Event {
        header: header(1_000_180_000),
        result: None,
        data: EventData::Chroot(PathArgs {
            path: Str::from("/last"),
        }),
    })?;
    w.finish(None)?;
    Ok(())
}

fn extreme_times(path: &Path) -> Result {
    let mut session = info("extreme");
    session.start_ts_nanos = 0;
    let mut w = SessionWriter::create(path, &session, options())?;
    let mut c = container(CONTAINER_ID, "sha256:aa");
    c.created_ts_nanos = Some(u64::MAX);
    c.died_ts_nanos = Some(0);
    w.upsert_container(&c)?;
    for ts in [0, 1, u64::MAX / 2, (i64::MAX as u64) - 1, i64::MAX as u64] {
        w.push(Event::untasked(
            ts,
            EventData::Chroot(PathArgs {
                path: Str::from("/"),
            }),
        ))?;
    }
    w.finish(Some(0))?;
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "UPDATE containers SET started_ts_nanos = -5, exit_code = -9223372036854775808;
         UPDATE meta SET value = '-1' WHERE key = 'end_ts_nanos';
         UPDATE meta SET value = '9223372036854775807' WHERE key = 'clock_offset_nanos';",
    )?;
    Ok(())
}

fn flipped_chunk(path: &Path) -> Result {
    base_with(path, 3000)?;
    let conn = Connection::open(path)?;
    let (seq, mut body): (i64, Vec<u8>) = conn.query_row(
        "SELECT chunk_seq, body FROM chunks ORDER BY chunk_seq LIMIT 1 OFFSET 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mid = body.len() / 2;
    body[mid] ^= 0x5a;
    body[mid + 1] ^= 0xff;
    conn.execute(
        "UPDATE chunks SET body = ?1 WHERE chunk_seq = ?2",
        params![body, seq],
    )?;
    Ok(())
}

fn truncated(path: &Path, percent: usize) -> Result {
    base_with(path, 30_000)?;
    let bytes = std::fs::read(path)?;
    std::fs::write(path, &bytes[..bytes.len() * percent / 100])?;
    Ok(())
}

fn overwritten_pages(path: &Path) -> Result {
    base_with(path, 30_000)?;
    let mut bytes = std::fs::read(path)?;
    let page = 4096;
    let pages = bytes.len() / page;
    // Pages a third into the file: the b-tree above the chunks and some of their bodies.
    let from = pages / 3;
    for (i, b) in bytes[from * page..(from + 3) * page].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(path, &bytes)?;
    Ok(())
}
