//! Live tail: a session still being written is followed, the view stays put when follow is
//! off, and the session is read again when the writer rewrites it on finishing.

use std::path::Path;
use std::time::{Duration, Instant};

use beefine_schema::{Event, SessionInfo, SessionWriter, Status, WriterOptions};
use beefine_testdata::synth::Generator;
use beefine_viewer::app::{Settings, StartOptions, ViewerApp};
use beefine_viewer::ui::setup_style;
use egui::Key;
use egui_kittest::Harness;

fn info() -> SessionInfo {
    SessionInfo {
        session_name: "live".into(),
        command: vec!["docker".into(), "run".into(), "busybox".into()],
        tool_version: "test".into(),
        host_kernel: "6.18.0".into(),
        hostname: "host".into(),
        clock_offset_nanos: 0,
        start_ts_nanos: 1_000_000_000,
    }
}

fn open(path: &Path) -> Harness<'static, ViewerApp> {
    let app = ViewerApp::start(
        None,
        Settings::default(),
        StartOptions {
            path: Some(path.to_owned()),
            fresh: true,
            ..StartOptions::default()
        },
    );
    Harness::builder()
        .with_size([1400.0, 800.0])
        .with_context_setup(setup_style)
        .build_ui_state(|ui, app: &mut ViewerApp| app.draw(ui), app)
}

/// Steps the window until `done` holds; returns how long it took.
fn wait_for(
    h: &mut Harness<'_, ViewerApp>,
    what: &str,
    done: impl Fn(&ViewerApp) -> bool,
) -> Duration {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
        h.step();
    }
    start.elapsed()
}

fn events(n: usize, generator: &mut Generator) -> Vec<Event> {
    generator.take(n)
}

#[test]
fn a_live_session_is_followed_and_reloaded_when_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.beefine");
    let mut w = SessionWriter::create(
        &path,
        &info(),
        WriterOptions {
            chunk_events: 1_000,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let mut generator = Generator::new(5);
    for e in events(500, &mut generator) {
        w.push(e).unwrap();
    }
    w.commit().unwrap();

    let mut h = open(&path);
    wait_for(&mut h, "the first load", |app| app.viewer().is_some());
    {
        let v = h.state().viewer().unwrap();
        assert_eq!(v.session.status, Status::Live);
        assert!(v.time.follow, "a live session opens following");
        assert_eq!(v.session.store.len(), 500);
    }

    // New events appear within a poll interval, and the cursor follows them.
    let batch = events(300, &mut generator);
    let newest = batch.last().unwrap().header.ts_nanos;
    for e in batch {
        w.push(e).unwrap();
    }
    w.commit().unwrap();
    let took = wait_for(&mut h, "the appended events", |app| {
        app.viewer().unwrap().session.store.len() == 800
    });
    eprintln!("new events shown after {} ms", took.as_millis());
    assert!(took < Duration::from_secs(2), "{took:?}");
    let v = h.state().viewer().unwrap();
    assert_eq!(v.time.cursor(), newest);
    // Every event but the expected noise (hidden by default), the new ones marked too.
    let noise = (0..800)
        .filter(|&i| v.session.story.expected_of(i).is_some())
        .count();
    assert!(noise > 0);
    assert_eq!(v.session.story.expected.len(), 800);
    assert_eq!(v.filtered.rows.len(), 800 - noise);
    assert_eq!(v.session.store.ts_of(v.selected.unwrap()), newest);

    // Follow off (F): the view and the cursor stay where they are.
    h.key_press(Key::F);
    h.step();
    let before = {
        let v = h.state().viewer().unwrap();
        assert!(!v.time.follow);
        (v.time.cursor(), v.time.view(), v.selected)
    };
    for e in events(200, &mut generator) {
        w.push(e).unwrap();
    }
    w.commit().unwrap();
    wait_for(&mut h, "more events", |app| {
        app.viewer().unwrap().session.store.len() == 1_000
    });
    let v = h.state().viewer().unwrap();
    assert_eq!((v.time.cursor(), v.time.view(), v.selected), before);

    // The writer finishes (and compacts its chunks): the session is read again, complete,
    // with every event once, and the view where it was.
    w.finish(None).unwrap();
    wait_for(&mut h, "the reload", |app| {
        app.viewer()
            .is_some_and(|v| v.session.status == Status::Complete)
    });
    let v = h.state().viewer().unwrap();
    assert_eq!(v.session.store.len(), 1_000);
    assert_eq!(v.time.cursor(), before.0);
}

#[test]
fn events_alike_in_one_nanosecond_are_neither_dropped_nor_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alike.beefine");
    let mut w = SessionWriter::create(
        &path,
        &info(),
        WriterOptions {
            chunk_events: 1_000,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let mut generator = Generator::new(6);
    // Daemon-side events (pid 0) that share a nanosecond, in successive commits: the old
    // (time, pid, kind) rule took every one after the first for a copy.
    let template = events(1, &mut generator).remove(0).data;
    let ts = 1_000_000_500;
    let mut pushed = 0;
    for _ in 0..3 {
        w.push(Event::untasked(ts, template.clone())).unwrap();
        pushed += 1;
    }
    w.commit().unwrap();
    let mut h = open(&path);
    wait_for(&mut h, "the first load", |app| app.viewer().is_some());
    for round in 0..5 {
        for _ in 0..4 {
            w.push(Event::untasked(ts, template.clone())).unwrap();
            pushed += 1;
        }
        for e in events(50, &mut generator) {
            w.push(e).unwrap();
            pushed += 1;
        }
        w.commit().unwrap();
        wait_for(&mut h, &format!("round {round}"), |app| {
            app.viewer().unwrap().session.store.len() == pushed
        });
    }
    // Nothing more arrives than was written.
    std::thread::sleep(Duration::from_millis(300));
    h.step();
    assert_eq!(h.state().viewer().unwrap().session.store.len(), pushed);
    w.finish(None).unwrap();
    wait_for(&mut h, "the reload", |app| {
        app.viewer()
            .is_some_and(|v| v.session.status == Status::Complete)
    });
    assert_eq!(h.state().viewer().unwrap().session.store.len(), pushed);
}
