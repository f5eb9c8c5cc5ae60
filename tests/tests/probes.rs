//! Probes of one's own, end to end: built from C, loaded beside the built-in probes,
//! recorded while a known command runs, and decoded from the session alone.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use beefine_schema::btf::{Btf, Value};
use beefine_schema::{Component, CustomRecord, Event, EventData, Probe, Session, Status};
use beefine_tests::{require_root, workspace_root};
use support::{Scratch, events, leftovers, record, recorder_bin};

/// The constant the sample probe writes into every record.
const OPENAT_MAGIC: u64 = 0xbeef_0042;
const AT_FDCWD: i64 = -100;

fn fixture(name: &str) -> PathBuf {
    workspace_root().join("fixtures/probes").join(name)
}

/// `beefine-record probe ARGS…`, waited for.
fn probe_cli(args: &[&str]) -> Output {
    let out = Command::new(recorder_bin())
        .arg("probe")
        .args(args)
        .output()
        .expect("running beefine-record probe");
    eprintln!(
        "beefine-record probe {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Builds a C probe with `beefine-record probe build`; fails with what is missing.
#[track_caller]
fn build(source: &Path) -> PathBuf {
    let out = probe_cli(&["build", &source.display().to_string()]);
    assert!(
        out.status.success(),
        "building {} failed (these tests need clang and libbpf-dev, as building the \
         recorder does): {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let object = source.with_file_name(
        source
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".bpf.c", ".bpf.o"),
    );
    assert!(object.is_file(), "{} was not written", object.display());
    object
}

/// The custom probe of a session (id 1) and its custom events, decoded.
struct Decoded {
    probe: Probe,
    /// (event, its fields by name)
    records: Vec<(Event, Vec<(String, Value)>)>,
}

#[track_caller]
fn decode_custom(session: &Session, events: &[Event]) -> Decoded {
    let probes = session.probes().expect("reading the probes table");
    let probe = probes
        .into_iter()
        .find(|p| p.probe_id == 1)
        .expect("the custom probe is in the probes table with id 1");
    let btf = Btf::parse(&probe.btf).expect("the stored BTF parses");
    let record_type = probe
        .record_type
        .clone()
        .expect("the probe's record type is stored");
    let record = btf
        .record(&record_type)
        .expect("the stored BTF describes the record type");
    let records = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Custom(CustomRecord { probe_id, bytes }) => {
                assert_eq!(*probe_id, 1, "only one custom probe was loaded");
                let fields = record
                    .decode(bytes)
                    .unwrap_or_else(|err| panic!("decoding a record: {err}"));
                Some((e.clone(), fields))
            }
            _ => None,
        })
        .collect();
    Decoded { probe, records }
}

fn get<'a>(fields: &'a [(String, Value)], name: &str) -> &'a Value {
    &fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
        .1
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("running sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn records_the_sample_probe_and_decodes_its_fields() {
    require_root();
    let scratch = Scratch::new("probe-sample");
    // Built here from its source, as a user would.
    let source = scratch.dir.join("openat_magic.bpf.c");
    std::fs::copy(fixture("openat_magic.bpf.c"), &source).unwrap();
    let object = build(&source);
    let target = scratch.dir.join("hello-probe.txt");
    std::fs::write(&target, "hello from a probe\n").unwrap();
    let target_arg = target.display().to_string();
    let out = record(
        &scratch,
        "sample",
        &["--no-packets", "--probe", &object.display().to_string()],
        &["cat", &target_arg],
    );
    assert!(
        out.status.success(),
        "recording failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from a probe\n");

    let (session, events) = events(&scratch.session("sample"));
    assert_eq!(session.status(), Status::Complete);
    let Decoded { probe, records } = decode_custom(&session, &events);
    assert_eq!(probe.name, "openat_magic");
    assert!(!probe.builtin);
    assert_eq!(
        probe.programs,
        [(
            "openat_magic_openat".to_owned(),
            "tracepoint/syscalls/sys_enter_openat".to_owned()
        )]
    );
    assert_eq!(probe.record_type.as_deref(), Some("openat_magic_event"));
    assert_eq!(probe.object_sha256, Some(sha256_of(&object)));
    assert!(
        probe.btf.len() < 2048,
        "only the record's types are stored ({} bytes)",
        probe.btf.len()
    );
    assert!(!records.is_empty(), "the probe recorded nothing");

    // Every record has the probe's constant and comes from a process in scope.
    let processes = session.processes().unwrap();
    let known: BTreeSet<u32> = processes.iter().map(|p| p.pid).collect();
    for (e, fields) in &records {
        assert_eq!(
            get(fields, "magic"),
            &Value::UInt(OPENAT_MAGIC),
            "{fields:?}"
        );
        assert!(
            known.contains(&e.header.tgid),
            "tgid {} is not in scope",
            e.header.tgid
        );
        assert_ne!(e.header.comm.as_ref(), "beefine-record");
    }

    // The command's open of the file, with the exact values the kernel saw.
    let cat = processes
        .iter()
        .find(|p| p.component == Component::Command)
        .expect("the command's process");
    let (event, fields) = records
        .iter()
        .find(|(_, f)| get(f, "filename") == &Value::Str(target_arg.clone()))
        .unwrap_or_else(|| panic!("no record of opening {target_arg}"));
    assert_eq!(get(fields, "tgid"), &Value::UInt(u64::from(cat.pid)));
    assert_eq!(get(fields, "pid"), &Value::UInt(u64::from(cat.pid)));
    assert_eq!(get(fields, "comm"), &Value::Str("cat".into()));
    assert_eq!(get(fields, "dfd"), &Value::Int(AT_FDCWD));
    assert_eq!(get(fields, "flags"), &Value::UInt(0), "cat opens O_RDONLY");
    assert_eq!(
        get(fields, "ts_nanos"),
        &Value::UInt(event.header.ts_nanos),
        "the record's own time is the event's"
    );
    // The header: the process and cgroup from the record, the same as the built-in probes'
    // open of the same file.
    assert_eq!((event.header.pid, event.header.tgid), (cat.pid, cat.pid));
    assert_eq!(event.header.comm.as_ref(), "cat");
    let builtin = events
        .iter()
        .find(|e| matches!(&e.data, EventData::Openat(a) if a.path.as_ref() == target_arg))
        .expect("the built-in probes saw the open too");
    assert_eq!(
        get(fields, "cgroup_id"),
        &Value::UInt(builtin.header.cgroup_id)
    );
    assert_eq!(event.header.cgroup_id, builtin.header.cgroup_id);
    assert!(
        event.header.ts_nanos.abs_diff(builtin.header.ts_nanos) < 50_000_000,
        "the probe's time and the built-in probes' time of the same call: {} vs {}",
        event.header.ts_nanos,
        builtin.header.ts_nanos
    );

    // The probe follows the built-in scope: it saw each of the command's openat calls, as
    // the built-in probes did. (Not always with the name: a probe that reads the path on
    // entry, as this one does, reads nothing when the string's page is not in memory yet;
    // the built-in probes read it on exit.)
    let by_probe = records
        .iter()
        .filter(|(e, _)| e.header.tgid == cat.pid)
        .count();
    let builtin_opens = events
        .iter()
        .filter(|e| e.header.tgid == cat.pid && matches!(e.data, EventData::Openat(_)))
        .count();
    assert_eq!(by_probe, builtin_opens);
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn the_skeleton_records_unchanged() {
    require_root();
    let scratch = Scratch::new("probe-skeleton");
    let dir = scratch.dir.display().to_string();
    let out = probe_cli(&["new", "skeleton", "--dir", &dir]);
    assert!(out.status.success());
    assert!(scratch.dir.join("README.md").is_file());
    let object = build(&scratch.dir.join("skeleton.bpf.c"));
    let out = record(
        &scratch,
        "skeleton",
        &["--no-packets", "--probe", &object.display().to_string()],
        &["cat", "/etc/hostname"],
    );
    assert!(
        out.status.success(),
        "recording failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, events) = events(&scratch.session("skeleton"));
    let Decoded { probe, records } = decode_custom(&session, &events);
    assert_eq!(probe.record_type.as_deref(), Some("skeleton_event"));
    let names: Vec<&str> = records[0].1.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ts_nanos",
            "pid",
            "tgid",
            "comm",
            "cgroup_id",
            "dfd",
            "flags"
        ]
    );
    assert!(
        records
            .iter()
            .any(|(e, f)| get(f, "comm") == &Value::Str("cat".into())
                && e.header.comm.as_ref() == "cat"),
        "no record of the command"
    );
}

#[test]
fn a_perf_event_array_is_read_too() {
    require_root();
    let scratch = Scratch::new("probe-perf");
    let dir = scratch.dir.display().to_string();
    assert!(
        probe_cli(&["new", "perfout", "--dir", &dir])
            .status
            .success()
    );
    // The skeleton, writing through a perf event array instead of the ring buffer.
    let source = scratch.dir.join("perfout.bpf.c");
    let text = std::fs::read_to_string(&source).unwrap();
    let ring = "struct {\n\t__uint(type, BPF_MAP_TYPE_RINGBUF);\n\t__uint(max_entries, 1 << 20);\n} perfout_events SEC(\".maps\");";
    assert!(text.contains(ring), "the template's ring buffer changed");
    let text = text
        .replace(
            ring,
            "struct {\n\t__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);\n\t__uint(key_size, sizeof(__u32));\n\t__uint(value_size, sizeof(__u32));\n} perfout_events SEC(\".maps\");",
        )
        .replace(
            "\tstruct perfout_event *e;\n",
            "\tstruct perfout_event rec = {}, *e = &rec;\n",
        )
        .replace(
            "\te = bpf_ringbuf_reserve(&perfout_events, sizeof(*e), 0);\n\tif (!e)\n",
            "\tif (0)\n",
        )
        .replace(
            "\tbpf_ringbuf_submit(e, 0);\n",
            "\tbpf_perf_event_output(ctx, &perfout_events, 0xffffffffULL, e, sizeof(*e));\n",
        );
    assert!(!text.contains("ringbuf"), "{text}");
    std::fs::write(&source, text).unwrap();
    let object = build(&source);
    let out = record(
        &scratch,
        "perf",
        &["--no-packets", "--probe", &object.display().to_string()],
        &["cat", "/etc/hostname"],
    );
    assert!(
        out.status.success(),
        "recording failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, events) = events(&scratch.session("perf"));
    let Decoded { records, .. } = decode_custom(&session, &events);
    assert!(
        records
            .iter()
            .any(|(_, f)| get(f, "comm") == &Value::Str("cat".into())
                && get(f, "dfd") == &Value::Int(AT_FDCWD)),
        "no record of the command through the perf buffer"
    );
}

#[test]
fn a_probe_the_verifier_rejects_gives_its_log() {
    require_root();
    let scratch = Scratch::new("probe-verifier");
    let object = fixture("bad_verifier.bpf.o");
    let out = record(
        &scratch,
        "bad",
        &["--no-packets", "--probe", &object.display().to_string()],
        &["true"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("verifier rejected program bad_verifier_openat"),
        "{err}"
    );
    // The reason and the instruction it is about.
    assert!(
        err.contains("invalid mem access 'map_value_or_null'"),
        "{err}"
    );
    assert!(err.contains("call bpf_map_lookup_elem"), "{err}");
    assert!(
        !scratch.session("bad").exists(),
        "no session file is left when loading fails"
    );
    // Nothing stays loaded.
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn files_that_are_not_probes_say_so() {
    require_root();
    let scratch = Scratch::new("probe-notbpf");
    // The C source instead of the object.
    let source = fixture("openat_magic.bpf.c").display().to_string();
    let out = record(&scratch, "src", &["--probe", &source], &["true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not an eBPF object"), "{err}");
    assert!(err.contains("probe build"), "{err}");
    assert!(
        !scratch.session("src").exists(),
        "no session file is left behind"
    );
    // A host binary.
    let out = record(&scratch, "exe", &["--probe", "/bin/true"], &["true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not an eBPF object"), "{err}");
    // An object without programs.
    let types = fixture("btf_types.bpf.o").display().to_string();
    let out = record(&scratch, "noprog", &["--probe", &types], &["true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no attachable program"), "{err}");
    // An object with a program and nowhere to write.
    let source = scratch.dir.join("silent.bpf.c");
    std::fs::write(
        &source,
        "typedef unsigned int __u32;\n\
         #define SEC(name) __attribute__((section(name), used))\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n\
         SEC(\"tracepoint/syscalls/sys_enter_openat\")\n\
         int silent(void *ctx) { return 0; }\n",
    )
    .unwrap();
    let object = build(&source).display().to_string();
    let out = record(&scratch, "nomap", &["--probe", &object], &["true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no output map"), "{err}");
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn helpers_are_asked_of_the_kernel() {
    require_root();
    let out = probe_cli(&["helpers", "--type", "tracepoint"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let listed: BTreeSet<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    for wanted in [
        "bpf_map_lookup_elem",
        "bpf_ringbuf_reserve",
        "bpf_get_current_comm",
        "bpf_probe_read_user_str",
        "bpf_ktime_get_boot_ns",
    ] {
        assert!(listed.contains(wanted), "{wanted} missing: {text}");
    }
    assert!(!listed.contains("bpf_xdp_adjust_head"), "{text}");
    let xdp = probe_cli(&["helpers", "--type", "xdp"]);
    assert!(String::from_utf8_lossy(&xdp.stdout).contains("bpf_xdp_adjust_head"));
    let bad = probe_cli(&["helpers", "--type", "teapot"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no program type \"teapot\""));
}

#[test]
fn list_shows_the_builtin_programs() {
    let out = probe_cli(&["list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for (program, attach) in [
        ("on_sys_enter", "raw_tracepoint/sys_enter"),
        ("on_fork", "raw_tracepoint/sched_process_fork"),
        ("on_packet", "classifier"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(program) && l.contains(attach)),
            "{program} {attach}: {text}"
        );
    }
}
