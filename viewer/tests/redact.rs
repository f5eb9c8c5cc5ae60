//! `beefine-view redact` on a recorded fixture with secrets planted in every place a session
//! holds strings: no secret survives anywhere in the copy (its raw bytes, its decompressed
//! chunks, every cell of every table, its export), and the copy tells the same story.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use beefine_schema::{
    DockerInfo, Event, EventData, EventHeader, ExecArgs, OpenArgs, PacketSummary, Query, Session,
    SessionWriter, SethostnameArgs, SockAddr, SockArgs, Str, WriterOptions,
};
use serde_json::Value;

/// Secrets planted in the session; none may be left in the copy.
const SECRETS: &[&str] = &[
    "hunter2-SECRET",
    "tok-5up3r-s3cr3t",
    "pw-Xy9-secret",
    "secret-host",
    "db-primary-7",
    "alice-sec",
    "10.20.30.40",
    "172.17.0.2",
    "eyJ-SECRET-TOKEN",
    "ghp_SECRETVALUE123",
    "registry.corp.example",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/pull-nginx.beefine")
}

fn view(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_beefine-view"))
        .args(args)
        .output()
        .expect("beefine-view runs")
}

fn header(ts: u64, pid: u32, comm: &str) -> EventHeader {
    EventHeader {
        ts_nanos: ts,
        pid,
        tgid: pid,
        comm: Str::from(comm),
        cgroup_id: 1,
        ns: Default::default(),
    }
}

/// The events planted, at `ts` onwards, by a process `pid`.
fn planted(ts: u64, pid: u32) -> Vec<Event> {
    let s = |v: &str| Str::from(v);
    let task = |dt: u64, result: Option<i64>, data: EventData| Event {
        header: header(ts + dt, pid, "mysql"),
        result,
        data,
    };
    vec![
        task(
            0,
            None,
            EventData::Exec(ExecArgs {
                filename: s("/usr/bin/mysql"),
                argv: ["mysql", "--password", "hunter2-SECRET", "-h", "10.20.30.40"]
                    .map(s)
                    .to_vec(),
            }),
        ),
        task(
            1_000,
            Some(3),
            EventData::Openat(OpenArgs {
                dirfd: -100,
                path: s("/home/alice-sec/.docker/config.json"),
                flags: 0,
                mode: 0,
            }),
        ),
        task(
            2_000,
            Some(-115),
            EventData::Connect(SockArgs {
                fd: 3,
                addr: SockAddr::Inet {
                    ip: "10.20.30.40".parse().unwrap(),
                    port: 3306,
                },
            }),
        ),
        task(
            3_000,
            Some(0),
            EventData::Sethostname(SethostnameArgs {
                name: s("db-primary-7"),
            }),
        ),
        Event {
            header: header(ts + 4_000, 0, ""),
            result: None,
            data: EventData::Packet(Box::new(PacketSummary {
                ifindex: 5,
                protocol: 6,
                saddr: "10.20.30.40".parse().unwrap(),
                sport: 3306,
                daddr: "172.17.0.2".parse().unwrap(),
                dport: 41000,
                len: 200,
                payload: b"GET / HTTP/1.1\r\nAuthorization: Bearer eyJ-SECRET-TOKEN\r\n".to_vec(),
            })),
        },
        Event {
            header: header(ts + 5_000, 0, ""),
            result: None,
            data: EventData::Docker(Box::new(DockerInfo {
                event_type: s("container"),
                action: s("exec_start: sh -c GH_TOKEN=ghp_SECRETVALUE123 deploy"),
                actor_id: s("registry.corp.example/team/app:1"),
                attributes: vec![(s("image"), s("registry.corp.example/team/app:1"))],
            })),
        },
    ]
}

/// A copy of the pull-nginx recording with secrets planted in its tables and events.
fn seeded(path: &Path) -> Session {
    let src = Session::open(&fixture()).unwrap();
    let mut info = src.meta().info.clone();
    info.hostname = "secret-host.corp.example".into();
    info.command.push("--password=tok-5up3r-s3cr3t".into());
    let mut w = SessionWriter::create(path, &info, WriterOptions::default()).unwrap();
    w.set_meta("note", "built on secret-host").unwrap();
    let mut procs = src.processes().unwrap();
    procs[0].argv = vec!["mysql".into(), "--password".into(), "hunter2-SECRET".into()];
    for p in &procs {
        w.upsert_process(p).unwrap();
    }
    for mut c in src.containers().unwrap() {
        let mut inspect: Value = serde_json::from_str(&c.inspect_json).unwrap();
        let config = &mut inspect["Config"];
        config["Env"] =
            serde_json::json!(["API_TOKEN=tok-5up3r-s3cr3t", "DB_PASSWORD=pw-Xy9-secret"]);
        config["Hostname"] = "db-primary-7".into();
        config["User"] = "alice-sec".into();
        c.inspect_json = inspect.to_string();
        w.upsert_container(&c).unwrap();
    }
    for i in src.images().unwrap() {
        w.upsert_image(&i).unwrap();
    }
    for l in src.layers().unwrap() {
        w.upsert_layer(&l).unwrap();
    }
    for e in src.docker_events().unwrap() {
        w.docker_event_row(&e).unwrap();
    }
    for s in src.resource_samples().unwrap() {
        w.resource_sample_row(&s).unwrap();
    }
    for d in src.daemon_samples().unwrap() {
        w.daemon_sample(&d).unwrap();
    }
    let mut last = 0;
    src.scan(&Query::all(), |e| {
        last = e.ts_nanos();
        w.push(e.to_owned_event()).unwrap();
        ControlFlow::Continue(())
    })
    .unwrap();
    for e in planted(last + 1, 4242) {
        w.push(e).unwrap();
    }
    w.finish(None).unwrap();
    Session::open(path).unwrap()
}

fn find_secrets(what: &str, bytes: &[u8], found: &mut Vec<String>) {
    for s in SECRETS {
        if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
            found.push(format!("{s:?} in {what}"));
        }
    }
}

fn jsonl(path: &Path) -> Vec<Value> {
    let o = view(&["export", path.to_str().unwrap(), "--format", "jsonl"]);
    assert!(o.status.success());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn no_secret_survives_and_the_story_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("seeded.beefine");
    let output = dir.path().join("shareable.beefine");
    let source = seeded(&input);
    let src_text = jsonl(&input);
    let mut planted_seen = Vec::new();
    find_secrets(
        "the seeded export",
        src_text
            .iter()
            .map(|v| v.to_string())
            .collect::<String>()
            .as_bytes(),
        &mut planted_seen,
    );
    assert!(
        planted_seen.len() >= 8,
        "the secrets are planted: {planted_seen:?}"
    );

    let o = view(&["redact", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = String::from_utf8(o.stdout).unwrap();
    for category in [
        "env",
        "secrets",
        "hostnames",
        "addresses",
        "users",
        "payload",
    ] {
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(category))
            .unwrap_or_else(|| panic!("{category} in the report:\n{report}"));
        let n: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(n > 0, "{category} replaced something:\n{report}");
    }

    let mut found = Vec::new();
    find_secrets("the file", &std::fs::read(&output).unwrap(), &mut found);
    let db = rusqlite::Connection::open(&output).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.contains(&"chunks".to_owned()) && tables.contains(&"containers".to_owned()));
    for t in &tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let bytes: Vec<u8> = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        b.to_vec()
                    }
                    _ => continue,
                };
                find_secrets(&format!("table {t}"), &bytes, &mut found);
                if t == "chunks" && stmt_column_is(&db, t, i, "body") {
                    let raw = zstd::decode_all(bytes.as_slice()).unwrap();
                    find_secrets("a decompressed chunk", &raw, &mut found);
                }
            }
        }
    }
    let copy_text = jsonl(&output);
    find_secrets(
        "the copy's export",
        copy_text
            .iter()
            .map(|v| v.to_string())
            .collect::<String>()
            .as_bytes(),
        &mut found,
    );
    assert!(found.is_empty(), "secrets left: {found:#?}");

    // The same story: every event with its kind, time, task, result and container.
    assert_eq!(copy_text.len(), src_text.len());
    for (a, b) in src_text.iter().zip(&copy_text) {
        for key in [
            "ts_nanos",
            "kind",
            "pid",
            "tgid",
            "result",
            "errno",
            "container_id",
            "cgroup_id",
        ] {
            assert_eq!(a.get(key), b.get(key), "{key}: {a} / {b}");
        }
        if b["kind"] == "packet" {
            assert!(
                b["payload_hex"]
                    .as_str()
                    .unwrap()
                    .bytes()
                    .all(|c| c == b'0')
            );
            assert_eq!(a["len"], b["len"]);
        }
    }
    let copy = Session::open(&output).unwrap();
    assert_eq!(copy.status(), beefine_schema::Status::Complete);
    assert_eq!(copy.kind_counts().unwrap(), source.kind_counts().unwrap());
    let names = |s: &Session| {
        s.containers()
            .unwrap()
            .into_iter()
            .map(|c| (c.container_id, c.name, c.init_pid))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&copy), names(&source));
    assert_eq!(
        copy.processes().unwrap().len(),
        source.processes().unwrap().len()
    );
    assert_eq!(
        copy.docker_events().unwrap().len(),
        source.docker_events().unwrap().len()
    );
    let stored: Value = serde_json::from_str(
        &copy
            .meta_entries()
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == "redaction")
            .expect("the report is stored")
            .1,
    )
    .unwrap();
    assert!(stored["replaced"]["secrets"].as_u64().unwrap() > 0);
    assert_eq!(copy.meta().info.hostname, "host-1");
}

fn stmt_column_is(db: &rusqlite::Connection, table: &str, index: usize, name: &str) -> bool {
    let stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
    stmt.column_name(index).is_ok_and(|n| n == name)
}

#[test]
fn kept_categories_stay_and_the_copy_is_never_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("seeded.beefine");
    let output = dir.path().join("kept.beefine");
    seeded(&input);
    let o = view(&[
        "redact",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--keep",
        "addresses,payload",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text: String = jsonl(&output).iter().map(|v| v.to_string()).collect();
    assert!(text.contains("10.20.30.40"), "addresses kept");
    assert!(!text.contains("hunter2-SECRET"), "secrets still replaced");
    // Refusals leave nothing behind.
    let o = view(&[
        "redact",
        input.to_str().unwrap(),
        input.to_str().unwrap(),
        "--force",
    ]);
    assert!(!o.status.success());
    let o = view(&["redact", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(!o.status.success(), "OUT exists without --force");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
}
