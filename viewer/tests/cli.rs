//! The headless commands, run as a user would: `beefine-view info` and `export`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use beefine_testdata::{self as testdata, WEB_ID};
use serde_json::{Value, json};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_beefine-view"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("beefine-view runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn sample(dir: &Path) -> PathBuf {
    let path = dir.join("sample.beefine");
    testdata::write_sample_session(&path).unwrap();
    path
}

fn export(path: &Path) -> (Output, Vec<Value>) {
    let o = run(&["export", path.to_str().unwrap(), "--format", "jsonl"]);
    let lines = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (o, lines)
}

fn first<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} event"))
}

#[test]
fn info_summarises_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let o = run(&["info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in [
        "session      sample-nginx",
        "status       complete",
        "command      docker run -d localhost:5000/nginx:test",
        // From the start to the last event (a sample after the recorder's end), as the
        // window and the recorder's summary count it.
        "duration     1.920 s",
        "lost         12 events: 12 from ring_buffer in 1 span(s)",
        "c0ffee123456  web",
        "localhost:5000/nginx:test",
        "B/event",
        "unshare",
        "2025-11-24 16:00:01.000 UTC",
        "user probes  1",
        "http_latency             tracepoint/syscalls/sys_enter_accept4",
        "0.345000 s  runc unshares",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // Every kind count adds up to the total shown.
    let total: u64 = text
        .lines()
        .skip_while(|l| !l.starts_with("events by kind"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .unwrap()
                .replace(',', "")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(text.contains(&format!("events       {total} in")), "{text}");
}

#[test]
fn export_writes_every_event_in_time_order_with_decoded_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let (o, events) = export(&path);
    assert!(o.status.success(), "{}", stderr(&o));
    let session = beefine_schema::Session::open(&path).unwrap();
    let total: u64 = session.kind_counts().unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(events.len() as u64, total);
    let ts: Vec<u64> = events
        .iter()
        .map(|e| e["ts_nanos"].as_u64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "time order");
    for e in &events {
        for key in ["ts_nanos", "kind", "pid", "tgid", "comm", "cgroup_id"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }

    assert_eq!(
        first(&events, "unshare"),
        &json!({
            "ts_nanos": 1_345_000_000u64, "kind": "unshare", "pid": 410, "tgid": 410,
            "comm": "runc:[1:CHILD]", "cgroup_id": 1,
            "pid_ns": 4026531836u64, "mnt_ns": 4026531841u64, "net_ns": 4026531840u64,
            "uts_ns": 4026531838u64, "ipc_ns": 4026531839u64, "user_ns": 4026531837u64,
            "cgroup_ns": 4026531835u64, "time_ns": 4026531834u64,
            "result": 0, "flags": 0x6c02_0000,
            "flags_names": ["CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWPID", "CLONE_NEWNET"],
            "namespaces": ["mnt", "uts", "ipc", "pid", "net"],
        })
    );

    let clone = first(&events, "clone");
    assert_eq!(
        clone["flags_names"],
        json!(["CLONE_CHILD_CLEARTID", "CLONE_CHILD_SETTID"])
    );
    assert_eq!(clone["exit_signal"], "SIGCHLD");
    assert_eq!(clone["result"], 410);

    let proc_mount = events
        .iter()
        .find(|e| e["kind"] == "mount" && e["fstype"] == "proc")
        .unwrap();
    assert_eq!(proc_mount["source"], "proc");
    assert_eq!(proc_mount["target"], "/proc/self/fd/6");
    assert_eq!(proc_mount["flags"], 14);
    assert_eq!(
        proc_mount["flags_names"],
        json!(["MS_NOSUID", "MS_NODEV", "MS_NOEXEC"])
    );
    assert_eq!(proc_mount["data"], "");
    assert_eq!(proc_mount["container_id"], WEB_ID);
    assert_eq!(proc_mount["container_name"], "web");

    let failed_open = events
        .iter()
        .find(|e| e["kind"] == "openat" && e["result"] == -2)
        .unwrap();
    assert_eq!(failed_open["path"], "/etc/nginx/conf.d/missing.conf");
    assert_eq!(failed_open["errno"], "ENOENT");
    assert_eq!(failed_open["dirfd"], -100);
    assert_eq!(failed_open["flags_names"], json!(["O_RDONLY", "O_CLOEXEC"]));
    assert_eq!(failed_open["mode"], 0);

    let connect = first(&events, "connect");
    assert_eq!(connect["fd"], 7);
    assert_eq!(connect["family"], 2);
    assert_eq!(connect["family_name"], "AF_INET");
    assert_eq!(connect["address"], "127.0.0.1");
    assert_eq!(connect["port"], 5000);
    assert_eq!(connect["errno"], "EINPROGRESS");
    assert!(
        connect.get("container_id").is_none(),
        "the daemon is on the host"
    );

    let setns = first(&events, "setns");
    assert_eq!(setns["nstype_name"], "CLONE_NEWNET");

    let packet = first(&events, "packet");
    assert_eq!(
        packet["payload"],
        "GET /v2/nginx/manifests/test HTTP/1.1⏎Host: localhost:5000⏎"
    );
    assert_eq!(packet["protocol_name"], "TCP");
    assert_eq!(packet["dport"], 5000);

    let tcp = first(&events, "tcp_state");
    assert_eq!(tcp["old_state_name"], "SYN_SENT");
    assert_eq!(tcp["new_state_name"], "ESTABLISHED");

    let docker = events
        .iter()
        .find(|e| e["kind"] == "docker" && e["action"] == "start")
        .unwrap();
    assert_eq!(docker["event_type"], "container");
    assert_eq!(docker["container_id"], WEB_ID);
    assert_eq!(docker["attributes"]["name"], "web");

    let sample = first(&events, "resource_sample");
    assert_eq!(sample["container_id"], WEB_ID);
    assert_eq!(sample["mem_bytes"], 4 << 20);
    assert_eq!(sample["pids"], 2);

    let lost = first(&events, "lost");
    assert_eq!(lost["source"], "ring_buffer");
    assert_eq!(lost["count"], 12);
    assert_eq!(lost["until_ts_nanos"], 2_050_000_000u64);

    let custom = first(&events, "custom");
    assert_eq!(custom["probe_name"], "http_latency");
    assert_eq!(custom["len"], 32);
    assert!(
        custom["bytes_hex"]
            .as_str()
            .unwrap()
            .starts_with("9b010000")
    );
    assert_eq!(
        custom["fields"],
        json!({"pid": 411, "latency_ns": 1_234_567, "comm": "nginx"}),
        "decoded with the probe's BTF"
    );

    let exit = events.iter().rfind(|e| e["kind"] == "exit").unwrap();
    assert_eq!(exit["code_name"], "killed by SIGTERM");

    let attach = first(&events, "cgroup_attach");
    assert_eq!(attach["dst_pid"], 410);
    assert_eq!(attach["target_cgroup_id"], testdata::WEB_CGROUP_ID);
    assert_eq!(attach["hierarchy_id"], 0);
    assert_eq!(attach["cgroup_id"], 1, "runc itself runs on the host");
    assert_eq!(
        attach["container_id"], WEB_ID,
        "it attaches a task to the container"
    );

    let capset = first(&events, "capset");
    assert!(
        capset["effective_names"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_NET_BIND_SERVICE"))
    );
    // Every kind of the model appears in the sample, so every arm above was exercised.
    for kind in beefine_schema::Kind::ALL {
        first(&events, kind.name());
    }
}

#[test]
fn export_to_a_file_matches_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let out = dir.path().join("out.jsonl");
    let o = run(&[
        "export",
        path.to_str().unwrap(),
        "--format",
        "jsonl",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let (_, events) = export(&path);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), events.len());
}

/// A session of several chunks with the body of one of them damaged.
fn damaged(dir: &Path) -> (PathBuf, i64) {
    let path = dir.join("damaged.beefine");
    testdata::write_generated_session(&path, 20_000, 3, 4_000).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (seq, mut body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT chunk_seq, body FROM chunks ORDER BY first_ts_nanos LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mid = body.len() / 2;
    body[mid] ^= 0x5a;
    body[mid + 1] ^= 0xff;
    conn.execute(
        "UPDATE chunks SET body = ?1 WHERE chunk_seq = ?2",
        rusqlite::params![body, seq],
    )
    .unwrap();
    (path, seq)
}

#[test]
fn a_damaged_chunk_is_reported_and_the_rest_exported() {
    let dir = tempfile::tempdir().unwrap();
    let (path, seq) = damaged(dir.path());
    let session = beefine_schema::Session::open(&path).unwrap();
    let chunks = session.chunks().unwrap();
    assert!(chunks.len() > 1, "the test needs several chunks");
    let total: u64 = chunks.iter().map(|c| u64::from(c.event_count)).sum();
    let lost_chunk = chunks
        .iter()
        .find(|c| c.chunk_seq == seq)
        .unwrap()
        .event_count;
    let (o, events) = export(&path);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("chunk {seq} is corrupt")), "{err}");
    assert!(err.contains("were exported"), "{err}");
    assert_eq!(events.len() as u64, total - u64::from(lost_chunk));

    let o = run(&["info", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("damage"), "{}", stdout(&o));
}

#[test]
fn unreadable_files_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());

    let newer = dir.path().join("newer.beefine");
    std::fs::copy(&path, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    let o = run(&["export", newer.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("format 99") && err.contains("newer beefine-view"),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    let truncated = dir.path().join("truncated.beefine");
    std::fs::write(&truncated, &std::fs::read(&path).unwrap()[..60]).unwrap();
    let o = run(&["info", truncated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a Beefine session"),
        "{}",
        stderr(&o)
    );

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let o = run(&["export", text.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a Beefine session"),
        "{}",
        stderr(&o)
    );

    let o = run(&["info", dir.path().join("missing.beefine").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot open"), "{}", stderr(&o));
}

#[test]
fn a_truncated_session_exports_what_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.beefine");
    testdata::write_generated_session(&path, 30_000, 5, 4_000).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.beefine");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let (o, events) = export(&cut);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        !events.is_empty() && events.len() < 30_000,
        "{}",
        events.len()
    );
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
}

#[test]
fn help_shows_examples() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("Examples:") && text.contains("export"),
        "{text}"
    );
    let o = run(&["export", "--help"]);
    let text = stdout(&o);
    assert!(
        text.contains("flags_names") && text.contains("Exit status"),
        "{text}"
    );
}

#[test]
fn the_recorded_fixtures_export_completely() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions");
    for name in ["pull-nginx", "run-busybox", "exec-busybox"] {
        let path = dir.join(format!("{name}.beefine"));
        let (o, events) = export(&path);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let session = beefine_schema::Session::open(&path).unwrap();
        let total: u64 = session.kind_counts().unwrap().iter().map(|(_, n)| n).sum();
        assert_eq!(events.len() as u64, total, "{name}");
        let container = session.containers().unwrap()[0].container_id.clone();
        // runc's child creates the container's namespaces, inside its cgroup.
        let unshare = events
            .iter()
            .find(|e| e["kind"] == "unshare" && e["comm"] == "runc:[1:CHILD]")
            .unwrap_or_else(|| panic!("{name}: runc's unshare"));
        assert_eq!(unshare["result"], 0);
        for ns in ["mnt", "uts", "ipc", "pid", "net"] {
            assert!(
                unshare["namespaces"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(ns)),
                "{name}: {unshare}"
            );
        }
        assert_eq!(unshare["container_id"], container.as_str(), "{name}");
        let o = run(&["info", path.to_str().unwrap()]);
        assert!(o.status.success());
        let short = &container[..12];
        assert!(stdout(&o).contains(short), "{name}: {}", stdout(&o));
    }
}

#[test]
fn info_lists_the_pods_of_the_recorded_pod_fixture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/pod-web.beefine");
    let session = beefine_schema::Session::open(&path).unwrap();
    let pods = session.pods().unwrap();
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    let o = run(&["info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let section = text
        .split_once("\npods ")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no pods section: {text}"));
    assert!(section.contains("default/web"), "{section}");
    assert!(section.contains(&pod.pod_id[..12]), "{section}");
    assert!(section.contains(pod.ip.as_deref().unwrap()), "{section}");
    assert!(
        section.contains("sandbox: holds the pod's namespaces"),
        "{section}"
    );
    assert!(
        section.contains("httpd") && section.contains("fetch"),
        "{section}"
    );
    assert!(section.contains("shares net"), "{section}");
    // The CRI calls export with their fields.
    let (o, events) = export(&path);
    assert!(o.status.success(), "{}", stderr(&o));
    let run_sandbox = events
        .iter()
        .find(|e| e["kind"] == "cri" && e["method"] == "RunPodSandbox")
        .expect("the RunPodSandbox call");
    assert_eq!(run_sandbox["pod_id"], pod.pod_id.as_str());
    assert!(run_sandbox["duration_nanos"].as_u64().unwrap() > 0);
    // A redacted copy keeps the pod, with its address replaced.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("red.beefine");
    let o = run(&["redact", path.to_str().unwrap(), copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let red = beefine_schema::Session::open(&copy)
        .unwrap()
        .pods()
        .unwrap();
    assert_eq!(red.len(), 1);
    assert_eq!(red[0].pod_id, pod.pod_id);
    assert_ne!(red[0].ip, pod.ip, "the pod's address is redacted");
}

#[test]
fn chapters_of_the_recorded_fixtures() {
    let path = workspace_fixture("pull-nginx.beefine");
    let out = run(&["chapters", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["chapter"].as_str().unwrap())
        .collect();
    assert_eq!(ids.first(), Some(&"pull"));
    assert_eq!(ids.last(), Some(&"cleanup"));
    for l in &lines {
        for field in [
            "title",
            "ts_nanos",
            "end_ts_nanos",
            "container_id",
            "events",
            "notice",
        ] {
            assert!(!l[field].is_null(), "{field} in {l}");
        }
        assert!(l["ts_nanos"].as_u64() <= l["end_ts_nanos"].as_u64());
        assert_eq!(l["notice"].as_str().unwrap().lines().count(), 2);
    }
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["ts_nanos"].as_u64() <= w[1]["ts_nanos"].as_u64())
    );
    // `head` stopping early is no error.
    let mut child = bin()
        .args(["chapters", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn state_of_a_container_at_a_time() {
    let path = workspace_fixture("pull-nginx.beefine");
    let out = run(&[
        "state",
        path.to_str().unwrap(),
        "--at",
        "1.0",
        "--container",
        "boring_hertz",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["container_id"].as_str().unwrap().get(..12),
        Some("3330c3798d8a")
    );
    assert_eq!(v["status"], "running");
    let ns: Vec<(&str, &str)> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["type"].as_str().unwrap(), n["owner"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ns[..3],
        [
            ("pid", "container"),
            ("mnt", "container"),
            ("net", "container")
        ]
    );
    assert_eq!(v["mounts"][0]["mount_point"], "/");
    assert_eq!(v["mounts"][0]["fstype"], "overlay");
    assert_eq!(v["overlay"]["lower"].as_array().unwrap().len(), 7);
    assert_eq!(v["lineage"][0]["comm"], "dockerd");
    assert!(v["cgroup"]["cgroup_id"].as_u64().is_some());
    // Asking for what is not there says what is.
    let out = run(&[
        "state",
        path.to_str().unwrap(),
        "--at",
        "1.0",
        "--container",
        "nope",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("its containers are 3330c3798d8a (boring_hertz)"),
        "{}",
        stderr(&out)
    );
    let out = run(&["state", path.to_str().unwrap(), "--at=-1"]);
    assert!(
        stderr(&out).contains("seconds from the start"),
        "{}",
        stderr(&out)
    );
}

fn workspace_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(name)
}
