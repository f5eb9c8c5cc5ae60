//! The Perfetto and pcapng exports of the recorded fixtures, read back by the tools people
//! open them with: Perfetto's own protobuf bindings (the `perfetto` Python package) and
//! Debian's `tshark`. Each is compared, event by event, with the session.
//!
//! These need the tools `cargo xtask provision` installs (tshark, and a Python environment
//! with `perfetto` in /var/lib/beefine/python, or the python3 named by `BEEFINE_PYTHON`), so
//! they are left out of a plain `cargo test` and run by `cargo xtask test`, or by hand with
//! `cargo test -p beefine_viewer --test export_tools -- --ignored`. Without the tools they
//! fail and say what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use beefine_schema::{EventData, Kind, Session};
use serde_json::Value;

const FIXTURES: [&str; 3] = ["pull-nginx", "run-busybox", "exec-busybox"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(format!("{name}.beefine"))
}

fn view(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_beefine-view"))
        .args(args)
        .output()
        .expect("beefine-view runs");
    assert!(
        o.status.success(),
        "beefine-view {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn python() -> PathBuf {
    let p = std::env::var_os("BEEFINE_PYTHON").map_or_else(
        || PathBuf::from("/var/lib/beefine/python/bin/python3"),
        PathBuf::from,
    );
    let ok = Command::new(&p)
        .args([
            "-c",
            "import perfetto.protos.perfetto.trace.perfetto_trace_pb2",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import perfetto_trace_pb2: run `cargo xtask provision` (it makes a Python \
         environment with the `perfetto` package there) or set BEEFINE_PYTHON",
        p.display()
    );
    p
}

fn tshark() -> &'static str {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark not found: run `cargo xtask provision` (Debian package tshark)"
    );
    "tshark"
}

/// The JSONL export of a session, one value per event.
fn jsonl(path: &Path) -> Vec<Value> {
    let o = view(&["export", path.to_str().unwrap(), "--format", "jsonl"]);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The Perfetto export of a session as Perfetto's bindings read it.
fn perfetto_digest(path: &Path, dir: &Path) -> Value {
    let out = dir.join("trace.pftrace");
    view(&[
        "export",
        path.to_str().unwrap(),
        "--format",
        "perfetto",
        "-o",
        out.to_str().unwrap(),
    ]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/perfetto_digest.py");
    let o = Command::new(python())
        .arg(&script)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "perfetto_digest.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The name of an event's instant: its kind, a daemon event by what happened.
fn event_name(j: &Value) -> String {
    match j["kind"].as_str().unwrap() {
        "docker" => format!(
            "{} {}",
            j["event_type"].as_str().unwrap(),
            j["action"].as_str().unwrap()
        ),
        k => k.to_owned(),
    }
}

/// Whether an event is an instant (samples are counters, losses with a span slices).
fn is_instant(j: &Value) -> bool {
    match j["kind"].as_str().unwrap() {
        "resource_sample" => false,
        "lost" => j["until_ts_nanos"].as_u64() <= j["ts_nanos"].as_u64(),
        _ => true,
    }
}

/// Keys of the JSONL export that are the event's header, not its arguments.
const HEADER: [&str; 14] = [
    "ts_nanos",
    "kind",
    "pid",
    "tgid",
    "comm",
    "cgroup_id",
    "pid_ns",
    "mnt_ns",
    "net_ns",
    "uts_ns",
    "ipc_ns",
    "user_ns",
    "cgroup_ns",
    "time_ns",
];

#[test]
#[ignore = "needs tshark and Perfetto's Python bindings: run by `cargo xtask test`"]
fn perfetto_export_reads_back_with_perfettos_bindings() {
    for name in FIXTURES {
        let path = fixture(name);
        let dir = tempfile::tempdir().unwrap();
        let d = perfetto_digest(&path, dir.path());
        let session = Session::open(&path).unwrap();
        check_perfetto(name, &session, &jsonl(&path), &d);
    }
}

fn check_perfetto(name: &str, session: &Session, events: &[Value], d: &Value) {
    assert_eq!(
        d["unknown_fields"],
        Value::Array(vec![]),
        "{name}: unknown fields"
    );
    assert_eq!(d["sequences"], serde_json::json!([1]), "{name}");
    let info = &session.meta().info;
    let clock = &d["clock"];
    assert_eq!(clock["6"].as_u64(), Some(info.start_ts_nanos));
    assert_eq!(
        clock["1"].as_i64().unwrap() - clock["6"].as_i64().unwrap(),
        info.clock_offset_nanos
    );
    let tracks: BTreeMap<u64, &Value> = d["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["uuid"].as_u64().unwrap(), t))
        .collect();
    let trace_events = d["events"].as_array().unwrap();
    let instants: Vec<&Value> = trace_events
        .iter()
        .filter(|e| e["type"] == "TYPE_INSTANT")
        .collect();
    let expected: Vec<&Value> = events.iter().filter(|j| is_instant(j)).collect();
    assert_eq!(
        instants.len(),
        expected.len(),
        "{name}: one instant per event"
    );
    for (i, (j, e)) in expected.iter().zip(&instants).enumerate() {
        let at = format!("{name}: event {i} ({j})");
        assert_eq!(e["ts"], j["ts_nanos"], "{at}");
        assert_eq!(e["name"].as_str().unwrap(), event_name(j), "{at}");
        let args = e["args"].as_object().unwrap();
        // Every argument is the JSONL export's value under the same key.
        for (k, v) in j.as_object().unwrap() {
            if HEADER.contains(&k.as_str()) {
                continue;
            }
            // Empty lists and objects have no annotation.
            let empty = v.as_array().is_some_and(Vec::is_empty)
                || v.as_object().is_some_and(serde_json::Map::is_empty);
            let expected = if empty { None } else { Some(v) };
            assert_eq!(args.get(k), expected, "{at}: argument {k}");
        }
        let track = tracks[&e["track"].as_u64().unwrap()];
        if j["pid"].as_u64() != Some(0) {
            let thread = &track["thread"];
            assert_eq!(thread["tid"], j["pid"], "{at}: on its task's thread track");
            assert_eq!(thread["pid"], j["tgid"], "{at}");
            let process = tracks[&track["parent"].as_u64().unwrap()];
            assert_eq!(process["process"]["pid"], j["tgid"], "{at}");
        }
    }
    // Resource samples: one value per sample on each container's memory counter.
    let samples = session.resource_samples().unwrap();
    let memory: Vec<&Value> = trace_events
        .iter()
        .filter(|e| tracks[&e["track"].as_u64().unwrap()]["name"] == "memory")
        .collect();
    let sampled: Vec<u64> = events
        .iter()
        .filter(|j| j["kind"] == "resource_sample")
        .map(|j| j["mem_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(
        memory
            .iter()
            .map(|e| e["value"].as_f64().unwrap() as u64)
            .collect::<Vec<_>>(),
        sampled,
        "{name}: memory counter ({} samples in the table)",
        samples.len()
    );
    check_tracks(name, session, &tracks, trace_events);
}

/// Containers have their tracks, processes name their container, and a process's programs
/// are slices that begin at its execs.
fn check_tracks(name: &str, session: &Session, tracks: &BTreeMap<u64, &Value>, evs: &[Value]) {
    for c in session.containers().unwrap() {
        let label = format!("container {}", c.name);
        let track = tracks
            .values()
            .find(|t| t["name"] == label.as_str())
            .unwrap_or_else(|| panic!("{name}: no track {label}"));
        let lifecycle: Vec<&str> = evs
            .iter()
            .filter(|e| e["track"] == track["uuid"] && e["type"] == "TYPE_SLICE_BEGIN")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(lifecycle, ["created", "running", "exited"], "{name}");
        let labelled = tracks.values().filter_map(|t| t.get("process")).any(|p| {
            p["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == label.as_str())
        });
        assert!(labelled, "{name}: a process labelled {label}");
    }
    let mut execs = 0;
    session
        .scan(&beefine_schema::Query::all(), |e| {
            if let EventData::Exec(x) = &e.data {
                let program = x.filename.rsplit('/').next().unwrap();
                let begun = evs.iter().any(|t| {
                    t["type"] == "TYPE_SLICE_BEGIN"
                        && t["ts"].as_u64() == Some(e.ts_nanos())
                        && t["name"] == program
                        && tracks[&t["track"].as_u64().unwrap()]["process"]["pid"]
                            == u64::from(e.header.tgid)
                });
                assert!(begun, "{name}: the exec of {program} begins a slice");
                execs += 1;
            }
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let counted = session
        .kind_counts()
        .unwrap()
        .into_iter()
        .find(|(k, _)| *k == Kind::Exec)
        .map_or(0, |(_, n)| n);
    assert_eq!(execs, counted, "{name}");
}

#[test]
#[ignore = "needs tshark and Perfetto's Python bindings: run by `cargo xtask test`"]
fn pcapng_export_reads_back_with_tshark() {
    let mut total = 0;
    for name in FIXTURES {
        let path = fixture(name);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.pcapng");
        view(&[
            "export",
            path.to_str().unwrap(),
            "--format",
            "pcapng",
            "-o",
            out.to_str().unwrap(),
        ]);
        let o = Command::new(tshark())
            .arg("-r")
            .arg(&out)
            .args(["-T", "fields", "-E", "separator=/t"])
            .args([
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
                "-e",
                "frame.interface_name",
            ])
            .args([
                "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
            ])
            .args(["-e", "tcp.srcport", "-e", "udp.srcport"])
            .args(["-e", "tcp.dstport", "-e", "udp.dstport"])
            .args(["-e", "tcp.payload", "-e", "udp.payload"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let rows: Vec<Vec<String>> = String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect();
        let packets: Vec<Value> = jsonl(&path)
            .into_iter()
            .filter(|j| j["kind"] == "packet")
            .collect();
        assert_eq!(rows.len(), packets.len(), "{name}: packet count");
        for (i, (row, p)) in rows.iter().zip(&packets).enumerate() {
            let at = format!("{name}: packet {i} {p}");
            let either = |a: usize, b: usize| {
                if row[a].is_empty() {
                    row[b].clone()
                } else {
                    row[a].clone()
                }
            };
            assert_eq!(row[0], p["len"].to_string(), "{at}: original length");
            let iface = if p["ifindex"] == 1 {
                "lo".to_owned()
            } else {
                format!("ifindex {}", p["ifindex"])
            };
            assert_eq!(row[2], iface, "{at}");
            assert_eq!(either(3, 4), p["saddr"].as_str().unwrap(), "{at}");
            assert_eq!(either(5, 6), p["daddr"].as_str().unwrap(), "{at}");
            assert_eq!(either(7, 8), p["sport"].to_string(), "{at}");
            assert_eq!(either(9, 10), p["dport"].to_string(), "{at}");
            assert_eq!(
                either(11, 12),
                p["payload_hex"].as_str().unwrap(),
                "{at}: payload"
            );
            let captured: usize = row[1].parse().unwrap();
            let len: usize = row[0].parse().unwrap();
            assert!(captured <= len, "{at}");
        }
        total += rows.len();
    }
    assert!(total > 300, "the fixtures hold packets ({total})");
}
