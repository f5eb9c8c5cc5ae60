//! The viewer on a generated session of a million events (`cargo bench -p beefine_viewer`).
//!
//! - `first_frame`: open the file, build the store, filter, lay out and tessellate the
//!   first frame (target < 300 ms);
//! - `refilter/*`: apply a new filter to the million events (target < 100 ms);
//! - `scrub_frame`: one frame while the cursor is dragged, zoomed in (target < 16 ms).
//!
//! Frames are laid out and tessellated by egui without a window; drawing the triangles on
//! a GPU is not counted.

use std::path::PathBuf;
use std::time::Duration;

use beefine_schema::Kind;
use beefine_viewer::app::viewer_ui;
use beefine_viewer::state::filter::{ContainerChoice, Filter};
use beefine_viewer::state::session::LoadedSession;
use beefine_viewer::state::{Command, Viewer};
use beefine_viewer::ui::top_bar::PanelToggles;
use criterion::{Criterion, criterion_group, criterion_main};

const EVENTS: usize = 1_000_000;

fn session() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bench.beefine");
    beefine_testdata::write_generated_session(&path, EVENTS, 11, 64 << 10)
        .expect("writing the benchmark session");
    (dir, path)
}

fn input() -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 900.0),
        )),
        ..egui::RawInput::default()
    }
}

/// One frame: layout, then tessellation. Returns the commands the panels asked for.
fn frame(ctx: &egui::Context, v: &Viewer) -> Vec<Command> {
    let mut panels = PanelToggles::default();
    let mut cmds = Vec::new();
    let out = ctx.run_ui(input(), |ui| {
        cmds = viewer_ui(ui, v, &mut panels, &[]);
    });
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    std::hint::black_box(prims);
    cmds
}

fn new_ctx() -> egui::Context {
    let ctx = egui::Context::default();
    beefine_viewer::ui::setup_style(&ctx);
    // Fonts are loaded on the first pass: not part of what a session costs.
    let _ = ctx.run_ui(input(), |ui| {
        ui.label("warm up");
    });
    ctx
}

fn benches(c: &mut Criterion) {
    let (_dir, path) = session();

    let mut g = c.benchmark_group("viewer_1m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.warm_up_time(Duration::from_secs(2));

    let ctx = new_ctx();
    g.bench_function("first_frame", |b| {
        b.iter(|| {
            let (loaded, _) = LoadedSession::load(&path).expect("the session loads");
            assert!(loaded.store.len() > EVENTS);
            let v = Viewer::new(loaded, Filter::default());
            frame(&ctx, &v);
            v
        });
    });

    let (loaded, _) = LoadedSession::load(&path).expect("the session loads");
    write_summary(&loaded);
    let mut v = Viewer::new(loaded, Filter::default());
    let container = v.session.containers.containers()[0].container_id.clone();
    let mut mounts = Filter::default();
    mounts.only_kinds(&[Kind::Mount, Kind::Setns]);
    let filters = [
        ("kinds", mounts),
        (
            "process_and_container",
            Filter {
                process: "nginx".into(),
                container: ContainerChoice::Container(container),
                ..Filter::default()
            },
        ),
        (
            "failed_only",
            Filter {
                failed_only: true,
                ..Filter::default()
            },
        ),
        (
            "text",
            Filter {
                text: "libssl".into(),
                ..Filter::default()
            },
        ),
        ("none", Filter::default()),
    ];
    for (name, f) in &filters {
        g.bench_function(format!("refilter/{name}"), |b| {
            b.iter(|| {
                // From everything to the filter, as when a person ticks a box.
                v.filter = Filter {
                    text: "\u{0}".into(),
                    ..Filter::default()
                };
                v.set_filter(f.clone());
                v.filtered.rows.len()
            });
        });
    }

    // Scrubbing: zoomed in on a hundredth of the session, the cursor moves a little every
    // frame and the table follows it.
    v.set_filter(Filter::default());
    let (lo, hi) = v.session.time_span();
    let width = (hi - lo) / 100;
    let start = lo + (hi - lo) / 2;
    v.apply(Command::SetView(start, start + width));
    let ctx = new_ctx();
    for _ in 0..3 {
        frame(&ctx, &v);
    }
    let mut step = 0u64;
    g.measurement_time(Duration::from_secs(5));
    g.sample_size(100);
    g.bench_function("scrub_frame", |b| {
        b.iter(|| {
            step = (step + 1) % 500;
            v.apply(Command::SetCursor(start + width * step / 500));
            for cmd in frame(&ctx, &v) {
                v.apply(cmd);
            }
            v.scroll_to_selection = false;
        });
    });
    g.finish();
}

/// Figures beside criterion's (read by `cargo xtask bench`): what the store holds.
fn write_summary(l: &LoadedSession) {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("../target"), PathBuf::from)
        .join("criterion");
    let events = l.store.len().max(1);
    let text = format!(
        "viewer on {} generated events ({} file, {:.2} B/event)\n\
         store: {:.1} B/event in columns, {} strings, {} process contexts\n\
         targets: first_frame < 300 ms, refilter < 100 ms, scrub_frame < 16 ms\n",
        events,
        beefine_viewer::format::bytes(l.file_bytes),
        l.file_bytes as f64 / events as f64,
        l.store.column_bytes() as f64 / events as f64,
        l.store.strings.len(),
        l.store.contexts().len(),
    );
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("viewer-1m.txt"), text);
}

criterion_group!(viewer, benches);
criterion_main!(viewer);
