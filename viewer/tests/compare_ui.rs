//! Two sessions side by side in the window (egui_kittest, no display): the chapters of a
//! plain run and of a run with a `docker exec` aligned, what differs in words, a click on
//! one of A's chapters going there in A, and the way back and forth to A's timeline.

use std::path::{Path, PathBuf};

use beefine_schema::story::ChapterKind;
use beefine_viewer::app::{Settings, StartOptions, ViewerApp};
use beefine_viewer::ui::setup_style;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(format!("{name}.beefine"))
}

fn harness(a: &str, b: &str) -> Harness<'static, ViewerApp> {
    let app = ViewerApp::start(
        None,
        Settings::default(),
        StartOptions {
            path: Some(fixture(a)),
            compare: Some(fixture(b)),
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

#[test]
fn the_chapters_side_by_side_and_what_differs() {
    let mut h = harness("run-busybox", "exec-busybox");
    let c = h.state().comparison().expect("a comparison");
    let d = c.diff().expect("the comparison is made");
    assert!(c.shown, "--compare opens on the comparison");
    // Both sessions and their aligned chapters are on screen.
    h.get_by_label("aligned chapters");
    h.get_by_label_contains("A  run-busybox — keen_visvesvaraya");
    h.get_by_label_contains("B  exec-busybox — beefine-exec-fixture");
    h.get_by_label("• a join chapter");
    h.get_by_label_contains("• setns into its pid namespace");
    let join = d
        .chapters
        .iter()
        .position(|r| r.a.is_none() && r.b.as_ref().is_some_and(|s| s.chapter == ChapterKind::Join))
        .expect("the join stands alone on B's side");
    assert!(
        d.chapters[..join]
            .iter()
            .any(|r| r.a.is_some() && r.b.is_some())
    );
    assert!(h.get_all_by_label("only in B").count() >= 1);
    // A click on A's exec chapter goes there in A.
    h.get_by_label_contains("exec: sh -c echo hello from")
        .click();
    h.run_steps(4);
    let v = h.state().viewer().unwrap();
    let i = v.current_chapter().expect("a chapter at the cursor");
    assert_eq!(v.session.story.story.chapters[i].chapter, ChapterKind::Exec);
    assert!(h.state().comparison().unwrap().selected.is_some());
    // To A's timeline and back.
    h.get_by_label("show A's timeline").click();
    h.run_steps(4);
    assert!(!h.state().comparison().unwrap().shown);
    h.get_by_label("chapter band");
    h.get_by_label("show the comparison").click();
    h.run_steps(4);
    assert!(h.state().comparison().unwrap().shown);
    h.get_by_label("aligned chapters");
}

#[test]
fn a_session_that_cannot_be_compared_says_why() {
    let app = ViewerApp::start(
        None,
        Settings::default(),
        StartOptions {
            path: Some(fixture("run-busybox")),
            compare: Some(PathBuf::from("/nonexistent/other.beefine")),
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
    h.get_by_label_contains("cannot compare: ");
    h.get_by_label_contains("/nonexistent/other.beefine");
}
