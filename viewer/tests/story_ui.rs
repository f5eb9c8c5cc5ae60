//! The story in the window (egui_kittest, no display): the session opens at the first
//! chapter of the first container, PgDn/PgUp walk the chapters, H hides and shows expected
//! noise, P presents the chapters and bookmarks, runs of similar file events collapse, and
//! bookmarks and chapter handouts are saved.

use std::path::{Path, PathBuf};

use beefine_schema::story::ChapterKind;
use beefine_viewer::app::{Settings, StartOptions, ViewerApp};
use beefine_viewer::state::Viewer;
use beefine_viewer::state::story::{Stop, ViewRow};
use beefine_viewer::ui::setup_style;
use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(format!("{name}.beefine"))
}

fn harness(path: PathBuf) -> Harness<'static, ViewerApp> {
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

fn current(h: &Harness<'_, ViewerApp>) -> ChapterKind {
    let v = viewer(h);
    let i = v.current_chapter().expect("a chapter at the cursor");
    v.session.story.story.chapters[i].chapter
}

fn press(h: &mut Harness<'_, ViewerApp>, key: Key) {
    h.key_press(key);
    h.run_steps(6);
}

#[test]
fn it_opens_at_the_first_chapter_and_the_page_keys_walk_them() {
    let mut h = harness(fixture("pull-nginx"));
    // The band and the list are there; the first chapter of the first container is selected.
    h.get_by_label("chapter band");
    assert_eq!(current(&h), ChapterKind::Pull);
    let v = viewer(&h);
    let first = &v.session.story.story.chapters[v.chapters()[0]];
    assert!(v.time.cursor() >= first.ts_nanos && first.contains(v.time.cursor()));
    let sel = v.selected.expect("an event of the chapter is selected");
    assert!(first.contains(v.session.store.ts_of(sel)));
    h.get_by_label_contains("1. Pull localhost:5000/nginx");
    // PgDn goes through every chapter in order, PgUp comes back.
    let expected: Vec<ChapterKind> = v
        .chapters()
        .iter()
        .map(|&i| v.session.story.story.chapters[i].chapter)
        .collect();
    let mut seen = vec![current(&h)];
    for _ in 1..expected.len() {
        press(&mut h, Key::PageDown);
        seen.push(current(&h));
    }
    assert_eq!(seen, expected);
    press(&mut h, Key::PageDown);
    assert_eq!(current(&h), ChapterKind::Cleanup, "the last chapter stays");
    press(&mut h, Key::PageUp);
    assert_eq!(current(&h), ChapterKind::Stop);
    // A click in the list jumps there.
    h.get_by_label_contains(". Namespaces: new pid, mnt, net, uts, ipc")
        .click();
    h.run_steps(6);
    assert_eq!(current(&h), ChapterKind::Namespaces);
    // The state panel follows: at the unshare the container has its own namespaces.
    press(&mut h, Key::PageDown);
    let st = viewer(&h).container_state.clone().unwrap();
    assert!(
        st.namespaces
            .iter()
            .any(|n| n.ns_type == "mnt" && n.owner == "container")
    );
    h.get_by_label("namespaces: host · container");
}

#[test]
fn h_hides_and_shows_expected_noise() {
    let mut h = harness(fixture("pull-nginx"));
    let total = viewer(&h).session.store.len();
    let hidden = viewer(&h).filtered.rows.len();
    assert!(hidden < total, "noise is hidden by default");
    assert!(!viewer(&h).filter.show_expected);
    press(&mut h, Key::H);
    assert_eq!(viewer(&h).filtered.rows.len(), total);
    assert!(viewer(&h).filter.show_expected);
    press(&mut h, Key::H);
    assert_eq!(viewer(&h).filtered.rows.len(), hidden);
    // Failed calls only, noise hidden: nothing is left but failures worth reading (this
    // recording has none); with the noise, 734.
    h.get_by_label_contains("failed calls only").click();
    h.run_steps(6);
    assert_eq!(viewer(&h).filtered.rows.len(), 0);
    h.get_by_label("hide expected noise (H)").click();
    h.run_steps(6);
    assert_eq!(viewer(&h).filtered.rows.len(), 734);
    // The details say why a failure is expected, errno meaning first.
    let v = viewer(&h);
    let loader = *v
        .filtered
        .rows
        .iter()
        .find(|&&i| {
            v.session.story.expected_of(i).is_some_and(|r| {
                beefine_schema::story::noise::rule(r).is_some_and(|r| r.id == "loader_search")
            })
        })
        .unwrap();
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::Select(loader));
    h.run_steps(6);
    h.get_by_label_contains("expected: ENOENT: no such file or directory — the dynamic loader tries each library directory");
}

#[test]
fn runs_of_similar_file_events_collapse_and_expand() {
    let mut h = harness(fixture("pull-nginx"));
    press(&mut h, Key::H);
    let v = viewer(&h);
    let runs: Vec<ViewRow> = v
        .rows
        .iter()
        .copied()
        .filter(|r| matches!(r, ViewRow::Run { .. }))
        .collect();
    assert!(!runs.is_empty());
    assert!(
        v.rows.len() < v.filtered.rows.len(),
        "{} rows for {} events",
        v.rows.len(),
        v.filtered.rows.len()
    );
    // The loader's search is one row that names the libraries.
    let texts: Vec<String> = v
        .rows
        .iter()
        .filter_map(|r| match *r {
            ViewRow::Run {
                first, len, class, ..
            } => Some(beefine_viewer::state::story::run_text(
                &v.session,
                &v.filtered.rows,
                first,
                len,
                class,
            )),
            _ => None,
        })
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("ld.so (runc) searched") && t.contains("libc.so.6")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("docker-untar wrote") && t.contains("of layer")),
        "{texts:?}"
    );
    // A click on a run shows its events one by one, another hides them again.
    let first_run = v
        .rows
        .iter()
        .position(|r| matches!(r, ViewRow::Run { .. }))
        .unwrap();
    let ViewRow::Run { first, len, .. } = v.rows[first_run] else {
        unreachable!()
    };
    let head = v.filtered.rows[first as usize];
    let n = v.rows.len();
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::ToggleRun(head));
    assert_eq!(viewer(&h).rows.len(), n + len as usize);
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::ToggleRun(head));
    assert_eq!(viewer(&h).rows.len(), n);
}

#[test]
fn presentation_mode_walks_the_chapters_and_bookmarks() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.beefine");
    std::fs::copy(fixture("run-busybox"), &copy).unwrap();
    let mut h = harness(copy.clone());
    // A bookmark in the namespaces chapter, with a note.
    for _ in 0..5 {
        press(&mut h, Key::PageDown);
    }
    assert_eq!(current(&h), ChapterKind::Namespaces);
    press(&mut h, Key::B);
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::EditBookmark {
            index: 0,
            label: "five namespaces".into(),
            note: "one unshare call makes them all".into(),
        });
    press(&mut h, Key::Home);
    // P starts at the stop at the cursor; → walks on; the bookmark is a stop.
    press(&mut h, Key::P);
    let v = viewer(&h);
    assert_eq!(v.story.presentation, Some(0));
    let stops = v.stops();
    let chapters = v.chapters().len();
    assert_eq!(stops.len(), chapters + 1);
    h.get_by_label_contains(&format!("1 / {}", stops.len()));
    let title = viewer(&h).session.story.story.chapters[viewer(&h).chapters()[0]]
        .title
        .clone();
    h.get_by_label(&title);
    let mut saw_bookmark = false;
    for (i, stop) in stops.iter().enumerate().skip(1) {
        press(&mut h, Key::ArrowRight);
        let v = viewer(&h);
        assert_eq!(v.story.presentation, Some(i));
        if matches!(stop, Stop::Bookmark(_)) {
            saw_bookmark = true;
            h.get_by_label("five namespaces");
            h.get_by_label("one unshare call makes them all");
        } else if let Stop::Chapter(ch) = *stop {
            // The view is on the chapter.
            let c = &v.session.story.story.chapters[ch];
            let (lo, hi) = v.time.view();
            assert!(lo <= c.ts_nanos && c.end_ts_nanos <= hi);
        }
    }
    assert!(saw_bookmark);
    press(&mut h, Key::ArrowLeft);
    assert_eq!(viewer(&h).story.presentation, Some(stops.len() - 2));
    press(&mut h, Key::Escape);
    assert_eq!(viewer(&h).story.presentation, None);
    // Saved into the session (a copy the test may write): the bookmark is in the file.
    h.get_by_label("bookmarks (1)").click();
    h.run_steps(6);
    h.get_by_label("save into the session").click();
    h.run_steps(6);
    let marks = beefine_schema::Session::open(&copy)
        .unwrap()
        .bookmarks()
        .unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].note, "one unshare call makes them all");
    assert!(!viewer(&h).story.bookmarks_dirty);
}

#[test]
fn a_chapter_exported_as_a_handout() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("pull.beefine");
    std::fs::copy(fixture("pull-nginx"), &copy).unwrap();
    let mut h = harness(copy);
    for _ in 0..12 {
        press(&mut h, Key::PageDown);
    }
    assert_eq!(current(&h), ChapterKind::PivotRoot);
    h.get_by_label("export chapter .md").click();
    h.run_steps(6);
    let md = dir.path().join("pull-13-pivot_root.md");
    let text = std::fs::read_to_string(&md).unwrap_or_else(|e| panic!("{}: {e}", md.display()));
    assert!(
        text.starts_with("# pivot_root: the overlay becomes /"),
        "{text}"
    );
    assert!(text.contains("## What to notice") && text.contains("detaches the old one"));
    assert!(text.contains("| `pivot_root` |"), "{text}");
    assert!(text.contains(beefine_schema::Kind::PivotRoot.about()));
    h.get_by_label(&format!("wrote {}", md.display()));
    h.get_by_label("export chapter .html").click();
    h.run_steps(6);
    let html = std::fs::read_to_string(dir.path().join("pull-13-pivot_root.html")).unwrap();
    assert!(
        html.starts_with("<!doctype html>")
            && html.contains("<h1>pivot_root: the overlay becomes /</h1>")
    );
}

#[test]
fn shift_n_goes_back_sorting_keeps_the_cursor_and_another_file_opens() {
    let mut h = harness(fixture("run-busybox"));
    // To a mount, then N twice and Shift+N once: one mount further than the first. The
    // Shift comes with the key event only (as when it is let go before the frame).
    let v = viewer(&h);
    let mount = *v
        .filtered
        .rows
        .iter()
        .find(|&&i| v.session.store.kind_of(i) == beefine_schema::Kind::Mount)
        .unwrap();
    h.state_mut()
        .viewer_mut()
        .unwrap()
        .apply(beefine_viewer::state::Command::Select(mount));
    press(&mut h, Key::N);
    let second = viewer(&h).selected;
    press(&mut h, Key::N);
    h.event(egui::Event::Key {
        key: Key::N,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::SHIFT,
    });
    h.run_steps(6);
    assert_eq!(viewer(&h).selected, second, "Shift+N went back");
    // Sorting by kind keeps the selected row in view; again sorts the other way.
    h.get_by_label("kind").click();
    h.run_steps(6);
    assert_eq!(
        viewer(&h).sort.column,
        beefine_viewer::state::SortColumn::Kind
    );
    h.get_by_label("kind ▲").click();
    h.run_steps(6);
    assert!(viewer(&h).sort.descending);
    h.get_by_label("kind ▼");
    // Another file, from the open menu.
    h.get_by_label("open…").click();
    h.run_steps(6);
    let other = fixture("exec-busybox");
    let field = h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Session file:");
    field.focus();
    field.type_text(&other.display().to_string());
    h.run_steps(6);
    h.get_by_label("open").click();
    for _ in 0..200 {
        h.run_steps(2);
        if h.state().viewer().is_some_and(|v| v.session.path == other) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(viewer(&h).session.path, other);
}
