//! The window driven as a person would (egui_kittest, no display needed): open a session,
//! filter to mounts, step to the next setns, scrub the timeline, and read what the table
//! and the details show.

use std::path::{Path, PathBuf};

use beefine_schema::{Family, Kind};
use beefine_testdata as testdata;
use beefine_viewer::app::{Settings, StartOptions, ViewerApp};
use beefine_viewer::state::Viewer;
use beefine_viewer::ui::setup_style;
use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn sample(dir: &Path) -> PathBuf {
    let path = dir.join("sample.beefine");
    testdata::write_sample_session(&path).unwrap();
    path
}

fn harness(path: Option<PathBuf>) -> Harness<'static, ViewerApp> {
    let app = ViewerApp::start(
        None,
        Settings::default(),
        StartOptions {
            path,
            blocking: true,
            fresh: true,
            ..StartOptions::default()
        },
    );
    let mut h = Harness::builder()
        .with_size([1600.0, 900.0])
        .with_context_setup(setup_style)
        .build_ui_state(|ui, app: &mut ViewerApp| app.draw(ui), app);
    h.run();
    h
}

fn viewer<'a>(h: &'a Harness<'_, ViewerApp>) -> &'a Viewer {
    h.state().viewer().expect("a session is open")
}

fn selected_kind(h: &Harness<'_, ViewerApp>) -> Kind {
    let v = viewer(h);
    v.session
        .store
        .kind_of(v.selected.expect("an event is selected"))
}

fn shown_kinds(h: &Harness<'_, ViewerApp>) -> Vec<Kind> {
    let v = viewer(h);
    v.filtered
        .rows
        .iter()
        .map(|&i| v.session.store.kind_of(i))
        .collect()
}

#[test]
fn filter_to_mounts_step_to_setns_and_scrub() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Some(sample(dir.path())));
    let total = viewer(&h).session.store.len();
    let shown = viewer(&h).filtered.rows.len();
    assert!(shown < total, "expected noise is hidden");
    h.get_by_label_contains(&format!("{shown} of {total} events"));

    // Filter to the mounts family: hide every kind, then tick the family.
    h.get_by_label("none").click();
    h.run();
    h.get_by_label_contains("0 of").hover();
    h.get_by_label_contains("mounts  ").click();
    h.run();
    let kinds = shown_kinds(&h);
    assert!(!kinds.is_empty());
    assert!(
        kinds.iter().all(|k| k.family() == Family::Mount),
        "{kinds:?}"
    );
    assert!(kinds.contains(&Kind::Mount) && kinds.contains(&Kind::PivotRoot));
    // The table shows the mounts and nothing else.
    assert!(h.query_all_by_label("mount").count() >= 3);
    assert!(h.query_by_label("openat").is_none());
    assert!(h.query_by_label("setns").is_none());
    // A failed mount is in the table with its errno.
    h.get_by_label_contains("→ -2 (ENOENT)");

    // Add the namespace calls and step to the next setns.
    h.get_by_label_contains("namespaces  ").click();
    h.run();
    h.get_all_by_label("setns").next().unwrap().click();
    h.run();
    assert_eq!(selected_kind(&h), Kind::Setns);
    let first = viewer(&h).selected;
    h.get_by_label_contains("fd 5").hover();
    h.key_press(Key::N);
    // A tooltip appears where the pointer rests: let it settle.
    h.run_steps(8);
    assert_eq!(selected_kind(&h), Kind::Setns);
    assert_ne!(viewer(&h).selected, first, "N went to the next setns");
    // The details explain it, decoded.
    h.get_by_label(Kind::Setns.about());
    h.get_by_label("0x8000000 = CLONE_NEWIPC");
    h.get_by_label_contains("join ipc namespace (fd 6)");
    // Next of the same kind once more, then back with Shift+N.
    h.key_press(Key::N);
    h.run();
    h.get_by_label("0x20000000 = CLONE_NEWPID");
    h.key_press_modifiers(egui::Modifiers::SHIFT, Key::N);
    h.run();
    h.get_by_label("0x8000000 = CLONE_NEWIPC");
    // Step by event (←) reaches the mount call before it (runc's mount_setattr).
    h.key_press(Key::ArrowLeft);
    h.run();
    assert_eq!(selected_kind(&h), Kind::MountSetattr);

    // Scrub: drag the cursor along the time axis to 1.75 s.
    let timeline = h.get_by_label("timeline").rect();
    let v = viewer(&h);
    let origin = v.session.origin();
    let target = origin + 1_750_000_000;
    let x_of = |ts: u64| {
        let plot_left = timeline.left() + 104.0;
        plot_left + v.time.fraction_of(ts) as f32 * (timeline.right() - plot_left)
    };
    let start = egui::pos2(x_of(origin + 200_000_000), timeline.top() + 8.0);
    let end = egui::pos2(x_of(target), timeline.top() + 8.0);
    h.hover_at(start);
    h.run();
    h.drag_at(start);
    h.run();
    for i in 1..=8 {
        let p = start + (end - start) * (i as f32 / 8.0);
        h.hover_at(p);
        h.run();
    }
    h.drop_at(end);
    h.run();
    let v = viewer(&h);
    let cursor = v.time.cursor();
    assert!(
        cursor.abs_diff(target) < 10_000_000,
        "cursor at {} ms",
        (cursor - origin) / 1_000_000
    );
    // The selection is the last shown event before the cursor: the setns of the exec at
    // 1.2 s (mounts and namespace calls are shown).
    let sel = v.selected.unwrap();
    assert_eq!(v.session.store.kind_of(sel), Kind::Setns);
    assert_eq!(v.session.store.ts_of(sel), origin + 1_200_000_000);
    h.get_by_label("0x20000000 = CLONE_NEWPID");
    // The top bar says where the cursor is.
    h.get_by_label(&beefine_viewer::format::offset((cursor - origin) as i64));
}

#[test]
fn text_filter_help_and_container_panel() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Some(sample(dir.path())));
    // `/` focuses the text filter; typing filters the table.
    h.key_press(Key::Slash);
    h.run();
    let field = h.get_by_label("Text");
    assert!(field.is_focused());
    field.type_text("missing.conf");
    h.run();
    assert_eq!(shown_kinds(&h), [Kind::Openat]);
    h.get_by_label_contains("/etc/nginx/conf.d/missing.conf");
    // Esc leaves the field; then keys work again.
    h.key_press(Key::Escape);
    h.run();
    h.key_press(Key::ArrowRight);
    h.run();
    assert_eq!(selected_kind(&h), Kind::Openat);
    h.get_by_label("↳ the call failed: ENOENT: no such file or directory");
    h.get_by_label("-2 (ENOENT)");

    // Where a path is: Docker's unpack helper moved its root into a layer's directory, so
    // its /usr/share/nginx/html/index.html is in that layer.
    h.get_by_label("clear").click();
    h.run();
    let find = |h: &Harness<'_, ViewerApp>, tgid: u32, result: i64| {
        let v = viewer(h);
        (0..v.session.store.len() as u32)
            .find(|&i| {
                v.session.store.kind_of(i) == Kind::Openat
                    && v.session.store.tgid_of(i) == tgid
                    && v.session.store.result_of(i) == Some(result)
            })
            .unwrap()
    };
    let untar = find(&h, 150, 5);
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::Select(untar));
    h.run();
    h.get_by_label_contains("↳ layer 2 of 3 of localhost:5000/nginx:test (d1); on the host");
    // nginx, inside the container after runc's pivot_root("."), opens its configuration:
    // the path is under the container's merged directory.
    let conf = find(&h, 410, 3);
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::Select(conf));
    h.run();
    h.get_by_label_contains(&format!(
        "↳ inside container web: on the host {}/etc/nginx/nginx.conf",
        testdata::MERGED_DIR
    ));
    // The container panel at that time: running, the lineage down to nginx, its mount
    // table and namespaces.
    h.get_by_label("running");
    h.get_by_label_contains("lineage (");
    let st = viewer(&h)
        .container_state
        .clone()
        .expect("the container's state");
    assert!(
        st.lineage.iter().any(|n| n.pid == 410 && n.comm == "nginx"),
        "{:?}",
        st.lineage
    );
    h.get_by_label_contains("mount table (");
    h.get_by_label_contains("namespaces: host · container");
    h.get_by_label_contains("cgroup and resources");

    // `?` opens the help, Esc closes it.
    h.key_press(Key::Questionmark);
    h.run();
    assert!(viewer(&h).help_open);
    h.get_by_label("previous / next event in the same container");
    h.key_press(Key::Escape);
    h.run();
    assert!(!viewer(&h).help_open);
}

#[test]
fn errors_are_shown_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(Some(dir.path().join("missing.beefine")));
    assert!(h.state().error().is_some());
    h.get_by_label("This session cannot be opened");
    h.get_by_label_contains("cannot open");

    let newer = sample(dir.path());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '7' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    let mut h = harness(Some(newer));
    h.get_by_label_contains("newer than format");
    h.get_by_label_contains("Install a newer beefine-view");
    h.run();

    let text = dir.path().join("notes.beefine");
    std::fs::write(&text, "not a session at all, just some text".repeat(10)).unwrap();
    let h = harness(Some(text));
    h.get_by_label_contains("not a Beefine session");
}

#[test]
fn without_a_file_the_bundled_session_opens() {
    let h = harness(None);
    let v = viewer(&h);
    assert_eq!(v.session.meta.info.session_name, "pull-nginx");
    assert!(v.session.store.len() > 1000);
    assert!(v.session.damage.is_empty());
    h.get_by_label("pull-nginx");
}

/// Drags the cursor along the time axis from where it is to `ts`.
fn scrub(h: &mut Harness<'_, ViewerApp>, ts: u64) {
    let timeline = h.get_by_label("timeline").rect();
    let v = viewer(h);
    let plot_left = timeline.left() + 104.0;
    let x = |ts: u64| plot_left + v.time.fraction_of(ts) as f32 * (timeline.right() - plot_left);
    let from = egui::pos2(x(v.time.cursor()), timeline.top() + 15.0);
    let to = egui::pos2(x(ts), timeline.top() + 15.0);
    h.hover_at(from);
    h.run();
    h.drag_at(from);
    h.run();
    for i in 1..=6 {
        h.hover_at(from + (to - from) * (i as f32 / 6.0));
        h.run();
    }
    h.drop_at(to);
    h.run();
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(format!("{name}.beefine"))
}

#[test]
fn a_recorded_session_filtered_to_mounts_stepped_and_scrubbed() {
    let mut h = harness(Some(fixture("pull-nginx")));
    let name = viewer(&h).session.container_label(0);
    h.get_by_label("none").click();
    h.run();
    h.get_by_label_contains("mounts  ").click();
    h.run();
    let kinds = shown_kinds(&h);
    assert!(kinds.iter().all(|k| k.family() == Family::Mount));
    assert!(kinds.len() > 50, "{}", kinds.len());
    // Only the container's: runc's mounts there read as name:/path in the table.
    h.get_by_label("Container").click();
    h.run();
    let short = viewer(&h)
        .session
        .container(0)
        .unwrap()
        .short_id()
        .to_owned();
    h.get_by_label(&format!("{name} ({short})")).click();
    h.run();
    let inside = shown_kinds(&h).len();
    // The container's birth keeps dockerd's overlay mounts and the unpacks' mounts too.
    assert!(0 < inside && inside <= kinds.len(), "{inside}");
    let v = viewer(&h);
    assert!(v.filtered.rows.iter().any(|&i| {
        let e = v.session.store.get(i).unwrap();
        v.session.store.comm(e.ctx) == "dockerd"
    }));
    // runc's mounts there read as name:/path (below the unpacks' in the table: the model).
    let v = viewer(&h);
    assert!(v.filtered.rows.iter().any(|&i| {
        v.session
            .overlay
            .abbreviate(&beefine_viewer::state::describe::summary(&v.session, i))
            .contains(&format!("on {name}:/proc"))
    }));
    h.get_by_label("Container").click();
    h.run();
    h.get_by_label("any").click();
    h.run();

    // Add the namespace calls, and scrub (drag along the time axis) to when the container
    // is created: the table follows the cursor.
    h.get_by_label_contains("namespaces  ").click();
    h.run();
    let created = viewer(&h)
        .session
        .container(0)
        .unwrap()
        .created_ts_nanos
        .unwrap();
    scrub(&mut h, created);
    let v = viewer(&h);
    assert!(v.time.cursor().abs_diff(created) < 20_000_000);
    assert!(v.session.store.ts_of(v.selected.unwrap()) <= v.time.cursor());

    // From a setns near there, N goes to the next setns.
    h.get_all_by_label("setns").next().unwrap().click();
    h.run();
    assert_eq!(selected_kind(&h), Kind::Setns);
    let first = viewer(&h).selected.unwrap();
    h.get_by_label("0x40000000 = CLONE_NEWNET");
    h.key_press(Key::N);
    h.run();
    let second = viewer(&h).selected.unwrap();
    assert!(second > first);
    assert_eq!(selected_kind(&h), Kind::Setns);

    // Scrub on to when the container starts: its panel says it is running.
    let started = viewer(&h)
        .session
        .container(0)
        .unwrap()
        .started_ts_nanos
        .unwrap()
        + 1_000_000;
    scrub(&mut h, started);
    assert!(viewer(&h).time.cursor().abs_diff(started) < 20_000_000);
    h.get_by_label("running");
}

#[test]
fn playback_moves_the_cursor_and_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Some(sample(dir.path())));
    let before = viewer(&h).time.cursor();
    h.get_by_label("▶ play").click();
    h.run_steps(1);
    for _ in 0..10 {
        h.step();
    }
    let v = viewer(&h);
    assert!(v.time.playing);
    assert!(v.time.cursor() > before);
    let sel = v.selected.unwrap();
    assert!(v.session.store.ts_of(sel) <= v.time.cursor());
    h.key_press(Key::Space);
    h.step();
    h.step();
    assert!(!viewer(&h).time.playing);
}

#[test]
fn layout_and_speed_are_remembered_filters_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path());
    let mut h = harness(Some(path.clone()));
    h.get_by_label("failed calls only (3 shown)").click();
    h.run();
    assert!(viewer(&h).filter.failed_only);
    h.get_by_label("charts").click();
    h.run();
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::SetSpeed(0.25));
    let saved = h.state().settings();
    assert_eq!(saved.speed, Some(0.25));
    assert!(!saved.panels.charts);
    // Serialized as eframe stores it (through serde) and read back at the next start.
    let text = serde_json::to_string(&saved).unwrap();
    assert!(!text.contains("failed_only"), "{text}");
    let restored: Settings = serde_json::from_str(&text).unwrap();
    assert_eq!(restored, saved);
    // Settings written by an older version, with a filter in them, still load.
    let old: Settings =
        serde_json::from_str(r#"{"filter":{"failed_only":true},"speed":2.0}"#).unwrap();
    assert_eq!(old.speed, Some(2.0));
    let app = ViewerApp::start(
        None,
        restored,
        StartOptions {
            path: Some(path),
            blocking: true,
            fresh: true,
            ..StartOptions::default()
        },
    );
    let v = app.viewer().unwrap();
    assert!(!v.filter.failed_only, "the next session starts unfiltered");
    assert_eq!(v.time.speed, 0.25);
}

#[test]
fn an_empty_session_and_one_left_by_a_stopped_writer_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.beefine");
    let info = beefine_schema::SessionInfo {
        session_name: "empty".into(),
        command: Vec::new(),
        tool_version: "test".into(),
        host_kernel: String::new(),
        hostname: String::new(),
        clock_offset_nanos: 0,
        start_ts_nanos: 5_000,
    };
    let w = beefine_schema::SessionWriter::create(&path, &info, Default::default()).unwrap();
    w.finish(None).unwrap();
    let mut h = harness(Some(path));
    h.get_by_label("No events match the filters.");
    for key in [Key::ArrowRight, Key::N, Key::End, Key::W, Key::Space] {
        h.key_press(key);
        h.step();
    }
    h.get_by_label_contains("0 of 0 events");

    // A writer that stops without finishing (dropped, as when killed after a commit) leaves
    // a session that opens with everything committed, and reads as interrupted at once: its
    // lock is gone.
    let path = dir.path().join("killed.beefine");
    let mut w = beefine_schema::SessionWriter::create(&path, &info, Default::default()).unwrap();
    for e in beefine_testdata::synth::Generator::new(3).take(2_000) {
        w.push(e).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let app = ViewerApp::start(
        None,
        Settings::default(),
        StartOptions {
            path: Some(path),
            blocking: true,
            fresh: true,
            ..StartOptions::default()
        },
    );
    let v = app.viewer().unwrap();
    assert_eq!(v.session.store.len(), 2_000);
    assert_eq!(v.session.status, beefine_schema::Status::Interrupted);
}

#[test]
fn a_bookmark_on_the_axis_moves_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Some(sample(dir.path())));
    let v = viewer(&h);
    let b = v.session.bookmarks[0].clone();
    assert_eq!(b.label, "runc unshares");
    let timeline = h.get_by_label("timeline").rect();
    let plot_left = timeline.left() + 104.0;
    let x = plot_left + v.time.fraction_of(b.ts_nanos) as f32 * (timeline.right() - plot_left);
    let at = egui::pos2(x + 1.0, timeline.top() + 5.0);
    h.hover_at(at);
    h.run();
    h.drag_at(at);
    h.run();
    h.drop_at(at);
    h.run();
    let v = viewer(&h);
    assert_eq!(v.time.cursor(), b.ts_nanos);
    assert_eq!(v.session.store.kind_of(v.selected.unwrap()), Kind::Unshare);
}
