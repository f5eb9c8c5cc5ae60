//! Black-box tests of the session file: round trips, queries, live tail, and bad input.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use beefine_schema::{
    Bookmark, Component, Container, DaemonSample, DockerEvent, Error, Event, EventData, Image,
    Journal, Kind, KindSet, Layer, Loss, LossSource, Namespaces, PivotRootArgs, Probe, Process,
    Query, ResourceSample, Sample, Session, SessionInfo, SessionWriter, Status, WriterOptions,
};
use beefine_testdata::synth::{CONTAINER_CGROUP_ID, Generator};
use rusqlite::Connection;

fn info(name: &str) -> SessionInfo {
    SessionInfo {
        session_name: name.into(),
        command: vec!["docker".into(), "run".into(), "busybox".into()],
        tool_version: "test".into(),
        host_kernel: "6.18.0".into(),
        hostname: "host".into(),
        clock_offset_nanos: 1_700_000_000_000_000_000,
        start_ts_nanos: 1_000_000_000,
    }
}

fn small_chunks() -> WriterOptions {
    WriterOptions {
        chunk_events: 5_000,
        ..WriterOptions::default()
    }
}

fn write_session(path: &Path, events: &[Event], opts: WriterOptions) {
    let mut w = SessionWriter::create(path, &info("t"), opts).unwrap();
    for e in events {
        w.push(e.clone()).unwrap();
    }
    w.finish(None).unwrap();
}

fn container() -> Container {
    Container {
        container_id: "4f1c2a9e0b7d".repeat(5) + "abcd",
        name: "web".into(),
        image: "localhost:5000/nginx:1".into(),
        image_id: "sha256:aa".into(),
        init_pid: Some(2130),
        cgroup_id: Some(CONTAINER_CGROUP_ID),
        cgroup_path: Some("/sys/fs/cgroup/unified/docker/4f1c".into()),
        created_ts_nanos: Some(1_000_000_100),
        started_ts_nanos: Some(1_000_000_200),
        namespaces: vec![("pid".into(), 4026532301), ("net".into(), 4026532304)],
        lower_dirs: vec!["/a".into(), "/b".into()],
        upper_dir: Some("/u".into()),
        inspect_json: "{}".into(),
        ..Container::default()
    }
}

#[test]
fn events_and_entities_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.beefine");
    let events = Generator::new(1).take(23_456);
    let mut w = SessionWriter::create(&path, &info("round-trip"), small_chunks()).unwrap();
    for e in &events {
        w.push(e.clone()).unwrap();
    }
    let process = Process {
        pid: 2130,
        ppid: 2117,
        comm: "nginx".into(),
        exe: Some("/usr/sbin/nginx".into()),
        argv: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
        start_ts_nanos: 1_000_000_300,
        exit_ts_nanos: None,
        exit_code: None,
        container_id: Some(container().container_id),
        component: Component::ContainerInit,
        cgroup_id: CONTAINER_CGROUP_ID,
        ns: Namespaces {
            pid_ns: 1,
            mnt_ns: 2,
            net_ns: 3,
            ..Namespaces::default()
        },
    };
    w.upsert_process(&process).unwrap();
    w.upsert_container(&container()).unwrap();
    let image = Image {
        image_id: "sha256:aa".into(),
        reference: "localhost:5000/nginx:1".into(),
        manifest_digest: Some("sha256:mm".into()),
        config_json: "{}".into(),
        size_bytes: 1234,
        existed_before: false,
    };
    w.upsert_image(&image).unwrap();
    let layer = Layer {
        image_id: "sha256:aa".into(),
        layer_index: 1,
        digest: Some("sha256:l1".into()),
        diff_id: "sha256:d1".into(),
        size_bytes: 99,
        overlay_dir: Some("/var/lib/docker/overlay2/x/diff".into()),
    };
    w.upsert_layer(&layer).unwrap();
    let docker = DockerEvent {
        ts_nanos: 1_000_000_150,
        event_type: "container".into(),
        action: "create".into(),
        actor_id: container().container_id,
        attributes: vec![("name".into(), "web".into())],
    };
    w.docker_event(&docker).unwrap();
    let sample = Sample {
        ts_nanos: 1_000_000_400,
        sample: ResourceSample {
            container_id: "c1".into(),
            mem_bytes: 5 << 20,
            pids: 2,
            ..Default::default()
        },
    };
    w.resource_sample(&sample).unwrap();
    let daemon = DaemonSample {
        ts_nanos: 5,
        containers_running: 1,
        images: 2,
        ..Default::default()
    };
    w.daemon_sample(&daemon).unwrap();
    let loss = Loss {
        ts_nanos: 1_000_000_500,
        until_ts_nanos: 1_000_000_500,
        source: LossSource::RingBuffer,
        cpu: 1,
        count: 7,
    };
    w.loss(&loss).unwrap();
    let probe = Probe {
        probe_id: 100,
        name: "mine".into(),
        builtin: false,
        programs: vec![(
            "on_exec".into(),
            "tracepoint/sched/sched_process_exec".into(),
        )],
        record_type: Some("event".into()),
        btf: vec![0x9f, 0xeb, 1],
        object_sha256: None,
    };
    w.upsert_probe(&probe).unwrap();
    let bookmark = Bookmark {
        ts_nanos: 1_000_000_600,
        label: "pivot".into(),
        note: "".into(),
    };
    w.bookmark(&bookmark).unwrap();
    let summary = w.finish(None).unwrap();
    assert_eq!(summary.events, events.len() as u64 + 3);

    let s = Session::open(&path).unwrap();
    assert_eq!(s.status(), Status::Complete);
    assert_eq!(s.meta().info, info("round-trip"));
    let read = s.all_events().unwrap();
    assert_eq!(read.len(), events.len() + 3);
    // The generator's events come back exactly, in order, with the three table-backed ones.
    let kernel: Vec<Event> = read
        .iter()
        .filter(|e| !matches!(e.kind(), Kind::Docker | Kind::ResourceSample | Kind::Lost))
        .cloned()
        .collect();
    assert_eq!(kernel, events);
    assert!(read.windows(2).all(|w| w[0].ts_nanos() <= w[1].ts_nanos()));
    assert_eq!(s.processes().unwrap(), vec![process]);
    assert_eq!(s.containers().unwrap(), vec![container()]);
    assert_eq!(s.images().unwrap(), vec![image]);
    assert_eq!(s.layers().unwrap(), vec![layer]);
    assert_eq!(s.docker_events().unwrap(), vec![docker]);
    assert_eq!(s.resource_samples().unwrap(), vec![sample]);
    assert_eq!(s.daemon_samples().unwrap(), vec![daemon]);
    assert_eq!(s.losses().unwrap(), vec![loss]);
    assert_eq!(s.lost_events().unwrap(), 7);
    assert_eq!(s.probes().unwrap(), vec![probe]);
    assert_eq!(s.bookmarks().unwrap(), vec![bookmark]);
    let counts = s.kind_counts().unwrap();
    assert_eq!(
        counts.iter().map(|(_, n)| n).sum::<u64>(),
        read.len() as u64
    );
    let opens = read.iter().filter(|e| e.kind() == Kind::Openat).count() as u64;
    assert!(counts.contains(&(Kind::Openat, opens)));
    // No WAL companions are left after finish.
    assert!(!dir.path().join("rt.beefine-wal").exists());
}

#[test]
fn queries_match_a_plain_filter_and_skip_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.beefine");
    let mut events = Generator::new(2).take(40_000);
    // A kind that occurs in one place only, so most chunks can be skipped for it.
    let rare_ts = events[30_000].ts_nanos();
    events.insert(
        30_001,
        Event {
            data: EventData::PivotRoot(PivotRootArgs {
                new_root: ".".into(),
                put_old: ".".into(),
            }),
            ..events[30_000].clone()
        },
    );
    events[30_001].header.ts_nanos = rare_ts;
    write_session(&path, &events, small_chunks());
    let mut s = Session::open(&path).unwrap();
    let total_chunks = s.chunks().unwrap().len();
    assert!(total_chunks >= 8, "{total_chunks} chunks");
    let mut w =
        SessionWriter::create(&dir.path().join("c.beefine"), &info("c"), small_chunks()).unwrap();
    w.upsert_container(&container()).unwrap();
    drop(w);
    // Container ids resolve through this session's own containers table.
    let mut ws = Connection::open(&path).unwrap();
    let tx = ws.transaction().unwrap();
    tx.execute(
        "INSERT INTO containers (container_id, name, image, image_id, cgroup_id, lower_dirs, inspect_json)
         VALUES ('4f1c2a9e0b7dffff', 'web', 'i', 'sha256:aa', ?1, '', '{}')",
        [CONTAINER_CGROUP_ID as i64],
    )
    .unwrap();
    tx.commit().unwrap();
    drop(ws);
    s = Session::open(&path).unwrap();

    let check = |q: Query, f: &dyn Fn(&Event) -> bool| {
        let got: Vec<Event> = s.events(&q).unwrap().map(Result::unwrap).collect();
        let want: Vec<Event> = events.iter().filter(|e| f(e)).cloned().collect();
        assert_eq!(got.len(), want.len(), "{q:?}");
        assert_eq!(got, want, "{q:?}");
    };
    let kinds: KindSet = [Kind::Mount, Kind::Setns].into_iter().collect();
    check(
        Query {
            kinds: Some(kinds),
            ..Query::all()
        },
        &|e| kinds.contains(e.kind()),
    );
    check(
        Query {
            pids: Some(vec![2130]),
            ..Query::all()
        },
        &|e| e.header.tgid == 2130,
    );
    check(
        Query {
            container_ids: Some(vec!["4f1c2a9e".into()]),
            ..Query::all()
        },
        &|e| e.header.cgroup_id == CONTAINER_CGROUP_ID,
    );
    let (lo, hi) = (events[10_000].ts_nanos(), events[12_000].ts_nanos());
    check(
        Query {
            time: Some((lo, hi)),
            ..Query::all()
        },
        &|e| (lo..=hi).contains(&e.ts_nanos()),
    );
    check(
        Query {
            time: Some((lo, hi)),
            kinds: Some(KindSet::from_iter([Kind::Exec])),
            pids: Some(vec![2117]),
            ..Query::all()
        },
        &|e| (lo..=hi).contains(&e.ts_nanos()) && e.kind() == Kind::Exec && e.header.tgid == 2117,
    );
    // The borrowed scan sees exactly what the iterator sees.
    for q in [
        Query::all(),
        Query {
            kinds: Some(kinds),
            pids: Some(vec![2130, 2117]),
            ..Query::all()
        },
    ] {
        let mut scanned = Vec::new();
        let summary = s
            .scan(&q, |e| {
                scanned.push(e.to_owned_event());
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert!(summary.errors.is_empty());
        let iterated: Vec<Event> = s.events(&q).unwrap().map(Result::unwrap).collect();
        assert_eq!(scanned, iterated);
        assert_eq!(summary.events, iterated.len() as u64);
    }
    // Chunk skipping: the pivot_root lives in one chunk; the time range in about three.
    let pivot = Query {
        kinds: Some(KindSet::from_iter([Kind::PivotRoot])),
        ..Query::all()
    };
    assert_eq!(s.events(&pivot).unwrap().chunks_to_read(), 1);
    let ranged = Query {
        time: Some((lo, hi)),
        ..Query::all()
    };
    assert!(s.events(&ranged).unwrap().chunks_to_read() <= 3);
    assert_eq!(
        s.events(&Query::all()).unwrap().chunks_to_read(),
        total_chunks
    );
    let absent = Query {
        pids: Some(vec![999_999]),
        ..Query::all()
    };
    assert!(s.events(&absent).unwrap().chunks_to_read() < total_chunks / 4);
}

#[test]
fn late_events_are_merged_into_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.beefine");
    let mut g = Generator::new(3);
    let mut w = SessionWriter::create(
        &path,
        &info("late"),
        WriterOptions {
            compact_on_finish: false,
            ..small_chunks()
        },
    )
    .unwrap();
    let first = g.take(3000);
    let second = g.take(3000);
    for e in &second {
        w.push(e.clone()).unwrap();
    }
    w.commit().unwrap();
    for e in &first {
        w.push(e.clone()).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let s = Session::open(&path).unwrap();
    let read = s.all_events().unwrap();
    let mut want = first.clone();
    want.extend(second);
    assert_eq!(read, want);
    let mut scanned = Vec::new();
    s.scan(&Query::all(), |e| {
        scanned.push(e.to_owned_event());
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(scanned, want);
}

#[test]
fn compaction_rewrites_small_chunks_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compact.beefine");
    let events = Generator::new(4).take(20_000);
    let mut w = SessionWriter::create(&path, &info("c"), small_chunks()).unwrap();
    for (i, e) in events.iter().enumerate() {
        w.push(e.clone()).unwrap();
        if i % 700 == 0 {
            w.commit().unwrap();
        }
    }
    let summary = w.finish(None).unwrap();
    assert_eq!(summary.chunks, 4, "20k events in chunks of 5k");
    let s = Session::open(&path).unwrap();
    assert_eq!(s.all_events().unwrap(), events);
    assert_eq!(s.meta().generation, 1);
}

#[test]
fn live_tail_follows_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.beefine");
    let mut g = Generator::new(5);
    let mut w = SessionWriter::create(&path, &info("live"), small_chunks()).unwrap();
    let mut s = Session::open(&path).unwrap();
    assert_eq!(s.status(), Status::Live);
    let mut cursor = s.tail().unwrap();
    assert!(cursor.poll(&mut s).unwrap().events.is_empty());
    let batch1 = g.take(1234);
    for e in &batch1 {
        w.push(e.clone()).unwrap();
    }
    // Not committed yet: nothing to see.
    assert!(cursor.poll(&mut s).unwrap().events.is_empty());
    w.commit().unwrap();
    assert_eq!(cursor.poll(&mut s).unwrap().events, batch1);
    let batch2 = g.take(7000);
    for e in &batch2 {
        w.push(e.clone()).unwrap();
    }
    w.commit().unwrap();
    assert_eq!(cursor.poll(&mut s).unwrap().events, batch2);
    assert!(cursor.poll(&mut s).unwrap().events.is_empty());
    w.finish(None).unwrap();
    let update = cursor.poll(&mut s).unwrap();
    assert!(
        update.rewritten,
        "compaction on finish asks tail readers to reload"
    );
    assert_eq!(s.status(), Status::Complete);
}

/// Run as a child process by `killed_writer_leaves_an_interrupted_session`.
#[test]
#[ignore = "helper process for another test"]
fn writer_child() {
    let Ok(path) = std::env::var("BEEFINE_WRITER_CHILD") else {
        return;
    };
    let mut w = SessionWriter::create(Path::new(&path), &info("killed"), small_chunks()).unwrap();
    for e in Generator::new(6).take(12_000) {
        w.push(e).unwrap();
    }
    w.commit().unwrap();
    // The next commit after the checkpoint interval copies everything into the file.
    std::thread::sleep(Duration::from_millis(600));
    w.commit().unwrap();
    // Pushed but never committed: lost with the process.
    for e in Generator::new(7).take(100) {
        w.push(e).unwrap();
    }
    println!("ready");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn killed_writer_leaves_an_interrupted_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.beefine");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BEEFINE_WRITER_CHILD", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "writer child ended early"
        );
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The .beefine copied alone holds every checkpointed commit, and reads as interrupted
    // at once (no lock beside it, and its writer said it holds one).
    let copies = tempfile::tempdir().unwrap();
    let copy = copies.path().join("copy.beefine");
    std::fs::copy(&path, &copy).unwrap();
    let c = Session::open(&copy).unwrap();
    assert_eq!(c.status(), Status::Interrupted);
    assert_eq!(c.journal(), &Journal::WalMissing);
    assert_eq!(c.all_events().unwrap().len(), 12_000);
    drop(c);
    assert_eq!(files_in(copies.path()), ["copy.beefine"]);
    // `recover` on the three files a kill leaves: the file alone afterwards.
    let again = tempfile::tempdir().unwrap();
    for name in files_in(dir.path()) {
        std::fs::copy(dir.path().join(&name), again.path().join(&name)).unwrap();
    }
    assert_eq!(
        files_in(again.path()),
        [
            "killed.beefine",
            "killed.beefine-lock",
            "killed.beefine-shm",
            "killed.beefine-wal"
        ]
    );
    let done = beefine_schema::recover(&again.path().join("killed.beefine")).unwrap();
    assert!(done.wal_bytes > 0 && done.removed_lock, "{done:?}");
    assert_eq!(files_in(again.path()), ["killed.beefine"]);
    // The original: its stale lock says the writer died; its -wal is folded back on open.
    assert!(files_in(dir.path()).contains(&"killed.beefine-wal".to_owned()));
    let s = Session::open(&path).unwrap();
    assert_eq!(s.status(), Status::Interrupted);
    assert!(
        matches!(s.journal(), Journal::FoldedBack { .. }),
        "{:?}",
        s.journal()
    );
    assert_eq!(s.all_events().unwrap().len(), 12_000);
    drop(s);
    assert_eq!(files_in(dir.path()), ["killed.beefine"]);
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_complete_session_opens_without_creating_anything_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "done.beefine", 3_000);
    assert_eq!(files_in(dir.path()), ["done.beefine"]);
    let s = Session::open(&path).unwrap();
    assert_eq!(s.journal(), &Journal::SelfContained);
    assert_eq!(s.all_events().unwrap().len(), 3_000);
    let again = s.reopen().unwrap();
    assert_eq!(again.all_events().unwrap().len(), 3_000);
    assert_eq!(files_in(dir.path()), ["done.beefine"]);
}

#[test]
fn readers_attached_while_the_writer_finishes_leave_a_self_contained_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.beefine");
    let mut w = SessionWriter::create(&path, &info("shared"), small_chunks()).unwrap();
    // A live-tail reader and an idle connection (as the sqlite3 shell keeps one).
    let mut s = Session::open(&path).unwrap();
    assert_eq!(s.journal(), &Journal::Writing);
    let idle = Connection::open(&path).unwrap();
    idle.query_row("SELECT count(*) FROM chunks", [], |_| Ok(()))
        .unwrap();
    let mut cursor = s.tail().unwrap();
    let events = Generator::new(12).take(9_000);
    for chunk in events.chunks(3_000) {
        for e in chunk {
            w.push(e.clone()).unwrap();
        }
        w.commit().unwrap();
        cursor.poll(&mut s).unwrap();
    }
    let summary = w.finish(None).unwrap();
    assert!(summary.self_contained);
    cursor.poll(&mut s).unwrap();
    // The file alone, copied while both still hold it, is the whole session.
    let copies = tempfile::tempdir().unwrap();
    let copy = copies.path().join("copy.beefine");
    std::fs::copy(&path, &copy).unwrap();
    let c = Session::open(&copy).unwrap();
    assert_eq!(c.status(), Status::Complete);
    assert_eq!(c.all_events().unwrap().len(), 9_000);
    drop((s, idle, c));
    assert_eq!(files_in(copies.path()), ["copy.beefine"]);
}

#[test]
fn a_writer_that_stops_without_finishing_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.beefine");
    let mut w = SessionWriter::create(&path, &info("dropped"), small_chunks()).unwrap();
    for e in Generator::new(13).take(2_000) {
        w.push(e).unwrap();
    }
    let s = Session::open(&path).unwrap();
    assert_eq!(s.status(), Status::Live);
    drop(w);
    assert_eq!(s.status(), Status::Interrupted);
    drop(s);
    let s = Session::open(&path).unwrap();
    assert_eq!(s.all_events().unwrap().len(), 2_000);
}

#[cfg(unix)]
#[test]
fn planted_links_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    for suffix in ["", "-wal", "-shm", "-lock"] {
        let out = dir.path().join(format!("out{suffix}"));
        std::fs::create_dir_all(&out).unwrap();
        let path = out.join("y.beefine");
        let target = elsewhere.join(format!("planted{suffix}"));
        std::os::unix::fs::symlink(&target, out.join(format!("y.beefine{suffix}"))).unwrap();
        let opts = WriterOptions {
            overwrite: true,
            ..small_chunks()
        };
        // With --force the link is replaced by the session's own file, never followed.
        let w = SessionWriter::create(&path, &info("y"), opts);
        assert!(w.is_ok(), "{suffix}: {:?}", w.err());
        drop(w);
        assert!(!target.exists(), "{suffix}: the link was followed");
        // Without --force a planted session name is refused, and still not followed.
        let out2 = dir.path().join(format!("out2{suffix}"));
        std::fs::create_dir_all(&out2).unwrap();
        std::os::unix::fs::symlink(&target, out2.join("y.beefine")).unwrap();
        let err = SessionWriter::create(&out2.join("y.beefine"), &info("y"), small_chunks());
        assert!(matches!(err, Err(Error::Exists { .. })), "{suffix}");
        assert!(!target.exists());
    }
}

#[test]
fn recover_refuses_while_a_writer_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.beefine");
    let mut w = SessionWriter::create(
        &path,
        &info("r"),
        WriterOptions {
            checkpoint_interval: Duration::from_secs(3600),
            ..small_chunks()
        },
    )
    .unwrap();
    for e in Generator::new(14).take(3_000) {
        w.push(e).unwrap();
    }
    w.commit().unwrap();
    // As a kill would leave it: the commits only in the -wal, the lock file stale.
    std::mem::forget(w);
    let err = beefine_schema::recover(&path).unwrap_err().to_string();
    assert!(err.contains("being recorded right now"), "{err}");
}

fn complete_session(dir: &Path, name: &str, n: usize) -> PathBuf {
    let path = dir.join(name);
    write_session(
        &path,
        &Generator::new(8).take(n),
        WriterOptions {
            chunk_events: 2_000,
            ..WriterOptions::default()
        },
    );
    path
}

/// Reads everything a damaged file offers; returns (events, errors). Must never panic.
fn read_what_you_can(path: &Path) -> Result<(usize, Vec<String>), Error> {
    let s = Session::open(path)?;
    let _ = s.containers();
    let _ = s.processes();
    let _ = s.kind_counts();
    let mut events = 0;
    let mut errors = s.notes().to_vec();
    for r in s.events(&Query::all())? {
        match r {
            Ok(_) => events += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    Ok((events, errors))
}

#[test]
fn truncated_file_reports_damage_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "full.beefine", 30_000);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.beefine");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let (events, errors) = read_what_you_can(&cut).expect("the metadata survives a cut at 60%");
    eprintln!("{events} events; {errors:#?}");
    assert!((2_000..30_000).contains(&events), "{events} events");
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| e.contains("chunk") || e.contains("damaged")),
        "{errors:?}"
    );
    // Cut inside the header: refused as not a session.
    std::fs::write(&cut, &bytes[..50]).unwrap();
    let err = Session::open(&cut).unwrap_err();
    assert!(err.to_string().contains("not a Beefine session"), "{err}");
}

#[test]
fn flipped_bytes_in_a_chunk_name_the_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "flip.beefine", 10_000);
    let conn = Connection::open(&path).unwrap();
    let (seq, mut body): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT chunk_seq, body FROM chunks ORDER BY chunk_seq LIMIT 1 OFFSET 2",
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
    drop(conn);
    let (events, errors) = read_what_you_can(&path).unwrap();
    assert_eq!(events, 8_000, "the other four chunks read fine");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains(&format!("chunk {seq} is corrupt")),
        "{errors:?}"
    );
}

#[test]
fn random_byte_flips_anywhere_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "orig.beefine", 6_000);
    let bytes = std::fs::read(&path).unwrap();
    let mut rng = beefine_testdata::synth::Rng::new(99);
    let damaged = dir.path().join("damaged.beefine");
    for _ in 0..60 {
        let mut b = bytes.clone();
        for _ in 0..8 {
            let i = rng.below(b.len() as u64) as usize;
            b[i] ^= 1 << rng.below(8);
        }
        std::fs::write(&damaged, &b).unwrap();
        // Either a clear error or what can be read; a panic fails the test.
        let _ = read_what_you_can(&damaged);
    }
}

#[test]
fn huge_declared_lengths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "huge.beefine", 6_000);
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE chunks SET raw_len = 1099511627776 WHERE chunk_seq = 1",
        [],
    )
    .unwrap();
    // A chunk whose body declares 2^62 strings.
    let mut raw = vec![0u8; 5];
    raw.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    let body = zstd::bulk::compress(&raw, 3).unwrap();
    conn.execute(
        "UPDATE chunks SET body = ?1, raw_len = ?2 WHERE chunk_seq = 2",
        rusqlite::params![body, raw.len() as i64],
    )
    .unwrap();
    drop(conn);
    let (events, errors) = read_what_you_can(&path).unwrap();
    assert_eq!(events, 2_000);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("chunk 1") && errors[0].contains("limit"),
        "{errors:?}"
    );
    assert!(errors[1].contains("chunk 2"), "{errors:?}");
}

#[test]
fn newer_format_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "new.beefine", 100);
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE meta SET value = '99' WHERE key = 'format_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = Session::open(&path).unwrap_err();
    assert!(matches!(err, Error::NewerFormat { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn other_files_are_not_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("text");
    std::fs::write(&text, "hello ".repeat(100)).unwrap();
    let plain = dir.path().join("plain.db");
    Connection::open(&plain)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    for p in [&empty, &text, &plain] {
        let err = Session::open(p).unwrap_err();
        assert!(err.to_string().contains("not a Beefine session"), "{err}");
    }
    let err = Session::open(&dir.path().join("missing")).unwrap_err();
    assert!(err.to_string().contains("cannot open"), "{err}");
}

#[test]
fn an_existing_file_is_not_overwritten_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = complete_session(dir.path(), "keep.beefine", 10);
    let err = SessionWriter::create(&path, &info("x"), WriterOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert_eq!(
        Session::open(&path).unwrap().all_events().unwrap().len(),
        10
    );
    let w = SessionWriter::create(
        &path,
        &info("x"),
        WriterOptions {
            overwrite: true,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    w.finish(None).unwrap();
    assert_eq!(Session::open(&path).unwrap().all_events().unwrap().len(), 0);
}

#[test]
fn every_committed_format_fixture_opens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions");
    let mut seen = 0;
    for version in 1..=beefine_schema::FORMAT_VERSION {
        let path = dir.join(format!("format-v{version}.beefine"));
        let s = Session::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(s.meta().format_version, version);
        let events = s.all_events().unwrap();
        let counted: u64 = s.kind_counts().unwrap().iter().map(|(_, n)| n).sum();
        assert_eq!(events.len() as u64, counted);
        assert!(!events.is_empty());
        assert!(!s.containers().unwrap().is_empty());
        seen += 1;
    }
    assert_eq!(seen, beefine_schema::FORMAT_VERSION);
}
