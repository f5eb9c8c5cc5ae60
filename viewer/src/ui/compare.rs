//! Two sessions side by side: their chapters aligned on one axis (a band each), the aligned
//! chapters with their durations, and what differs (headlines, namespaces, mounts,
//! settings, calls only one side makes). A click on a chapter of A goes there in A.

use beefine_schema::compare::{CallCount, ChapterRow, ChapterSide, Diff, Side};
use egui::{
    Align2, Color32, CornerRadius, FontId, Grid, Panel, Rect, RichText, ScrollArea, Sense, Stroke,
    Ui, pos2, vec2,
};

use super::chapters::chapter_color;
use super::{CURSOR_COLOR, FAILED_COLOR};
use crate::format::{duration, ellipsize, short_id, shorten_ids, thousands};
use crate::state::compare::{CompareStatus, Comparison, Slot, chapter_of, slots};
use crate::state::{Command, Viewer};

/// What the comparison asks of the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareAction {
    /// Show the comparison (true) or the open session (false).
    Show(bool),
    /// An aligned row was pointed at or clicked.
    Select(usize),
}

impl Comparison {
    pub fn apply(&mut self, a: CompareAction) {
        match a {
            CompareAction::Show(s) => self.shown = s,
            CompareAction::Select(r) => self.selected = Some(r),
        }
    }
}

/// Starts comparing `a` with `b`: in a thread that wakes the window, or at once when
/// `blocking` (tests).
pub fn start(
    a: &std::path::Path,
    b: &std::path::Path,
    ctx: Option<egui::Context>,
    blocking: bool,
) -> Comparison {
    if blocking {
        return match crate::diff::diff_files(a, b, None, None) {
            Ok(c) => Comparison::ready(a, b, c.diff),
            Err(e) => {
                let mut c = Comparison::ready(a, b, Diff::default());
                c.status = CompareStatus::Failed(format!("{e:#}"));
                c
            }
        };
    }
    Comparison::start(
        a,
        b,
        Box::new(move || {
            if let Some(ctx) = &ctx {
                ctx.request_repaint();
            }
        }),
    )
}

/// The comparison, when there is one, and what it asked for: it takes in its results,
/// draws itself, and applies its own actions; says whether it fills the window.
pub fn compared_ui(ui: &mut Ui, v: &Viewer, c: Option<&mut Comparison>) -> (Vec<Command>, bool) {
    let Some(c) = c else {
        return (Vec::new(), false);
    };
    c.poll();
    let shown = c.shown;
    let (cmds, acts) = compare_ui(ui, v, c);
    for a in acts {
        c.apply(a);
    }
    (cmds, shown)
}

const BAND_HEIGHT: f32 = 30.0;
const LABEL_WIDTH: f32 = 64.0;

/// The comparison: the whole window when it is shown, else a line above the open session
/// that leads back to it.
pub fn compare_ui(ui: &mut Ui, v: &Viewer, c: &Comparison) -> (Vec<Command>, Vec<CompareAction>) {
    let mut cmds = Vec::new();
    let mut acts = Vec::new();
    if !c.shown {
        Panel::top("compare-strip").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(format!("⇄ compared with {}", c.b.display()));
                if ui.button("show the comparison").clicked() {
                    acts.push(CompareAction::Show(true));
                }
            });
        });
        return (cmds, acts);
    }
    egui::CentralPanel::default().show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Comparison");
            if ui.button("show A's timeline").clicked() {
                acts.push(CompareAction::Show(false));
            }
            if let CompareStatus::Ready(_, took) = &c.status {
                ui.label(
                    RichText::new(format!("compared in {}", duration(took.as_nanos() as u64)))
                        .weak(),
                );
            }
        });
        match &c.status {
            CompareStatus::Computing => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "comparing {} with {}…",
                        c.a.display(),
                        c.b.display()
                    ));
                });
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            CompareStatus::Failed(e) => {
                ui.label(RichText::new(format!("cannot compare: {e}")).color(FAILED_COLOR));
            }
            CompareStatus::Ready(d, _) => diff_ui(ui, v, c, d, &mut cmds, &mut acts),
        }
    });
    (cmds, acts)
}

fn side_text(label: &str, s: &Side) -> String {
    let container = match (&s.container_name, &s.container_id) {
        (Some(n), Some(id)) => format!("{n} ({})", short_id(id)),
        _ => "no container".to_owned(),
    };
    format!(
        "{label}  {} — {container}, {}, {} events",
        s.session_name,
        duration(s.duration_nanos),
        thousands(s.events)
    )
}

fn diff_ui(
    ui: &mut Ui,
    v: &Viewer,
    c: &Comparison,
    d: &Diff,
    cmds: &mut Vec<Command>,
    acts: &mut Vec<CompareAction>,
) {
    ui.label(RichText::new(side_text("A", &d.a)).strong());
    ui.label(RichText::new(side_text("B", &d.b)).strong());
    ui.add_space(4.0);
    let layout = slots(&d.chapters);
    bands_ui(ui, v, c, d, &layout, cmds, acts);
    ui.add_space(6.0);
    ui.columns(2, |cols| {
        ScrollArea::vertical()
            .id_salt("compare-chapters")
            .auto_shrink([false, false])
            .show(&mut cols[0], |ui| chapters_grid_ui(ui, v, c, d, cmds, acts));
        ScrollArea::vertical()
            .id_salt("compare-differences")
            .auto_shrink([false, false])
            .show(&mut cols[1], |ui| differences_ui(ui, d));
    });
}

/// A's band above B's, their chapters in aligned slots.
fn bands_ui(
    ui: &mut Ui,
    v: &Viewer,
    c: &Comparison,
    d: &Diff,
    layout: &[Slot],
    cmds: &mut Vec<Command>,
    acts: &mut Vec<CompareAction>,
) {
    let (rect, resp) = ui.allocate_exact_size(
        vec2(ui.available_width(), 2.0 * BAND_HEIGHT + 4.0),
        Sense::click(),
    );
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::Canvas, true, "aligned chapters")
    });
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    painter.rect_filled(rect, CornerRadius::ZERO, visuals.extreme_bg_color);
    let plot_left = rect.left() + LABEL_WIDTH;
    let plot_w = (rect.right() - plot_left).max(1.0);
    let hover = resp.hover_pos();
    let mut hovered = None;
    for (band, label) in [(0usize, "A"), (1, "B")] {
        let top = rect.top() + band as f32 * (BAND_HEIGHT + 4.0);
        painter.text(
            pos2(rect.left() + 8.0, top + BAND_HEIGHT / 2.0),
            Align2::LEFT_CENTER,
            label,
            FontId::proportional(14.0),
            visuals.strong_text_color(),
        );
        for (i, (slot, row)) in layout.iter().zip(&d.chapters).enumerate() {
            let (fill, side) = if band == 0 {
                (slot.a, &row.a)
            } else {
                (slot.b, &row.b)
            };
            let x0 = plot_left + slot.start as f32 * plot_w;
            let slot_rect = Rect::from_min_size(
                pos2(x0, top + 2.0),
                vec2(slot.width as f32 * plot_w, BAND_HEIGHT - 4.0),
            );
            if hover.is_some_and(|p| slot_rect.contains(p)) {
                hovered = Some(i);
            }
            let (Some(fill), Some(side)) = (fill, side) else {
                painter.rect_stroke(
                    slot_rect.shrink(1.0),
                    CornerRadius::same(3),
                    Stroke::new(1.0, visuals.weak_text_color()),
                    egui::StrokeKind::Inside,
                );
                continue;
            };
            let w = (fill as f32 * slot_rect.width()).max(2.0);
            let bar = Rect::from_min_size(slot_rect.min, vec2(w, slot_rect.height()));
            let selected = c.selected == Some(i);
            painter.rect_filled(
                bar,
                CornerRadius::same(3),
                chapter_color(side.chapter).gamma_multiply(if selected { 0.95 } else { 0.55 }),
            );
            if selected {
                painter.rect_stroke(
                    slot_rect,
                    CornerRadius::same(3),
                    Stroke::new(2.0, CURSOR_COLOR),
                    egui::StrokeKind::Outside,
                );
            }
            let name = side.chapter.name();
            if slot_rect.width() > 7.0 * name.len() as f32 + 6.0 {
                painter.text(
                    pos2(slot_rect.left() + 4.0, slot_rect.center().y),
                    Align2::LEFT_CENTER,
                    name,
                    FontId::proportional(11.5),
                    if w > 7.0 * name.len() as f32 {
                        Color32::BLACK
                    } else {
                        visuals.text_color()
                    },
                );
            }
        }
    }
    if let Some(i) = hovered {
        let row = &d.chapters[i];
        if resp.clicked() {
            acts.push(CompareAction::Select(i));
            if let Some(ch) = chapter_of(row, &v.session.story.story.chapters) {
                cmds.push(Command::GoToChapter(ch));
            }
        }
        resp.on_hover_text(row_text(row));
    }
}

fn dur_text(s: &Option<ChapterSide>) -> String {
    s.as_ref()
        .map_or_else(|| "—".to_owned(), |c| duration(c.duration_nanos))
}

fn delta_text(r: &ChapterRow) -> String {
    match r.delta_nanos() {
        Some(d) => {
            let sign = if d < 0 { "−" } else { "+" };
            format!(
                "{sign}{}",
                duration(d.unsigned_abs().min(u128::from(u64::MAX)) as u64)
            )
        }
        None if r.a.is_none() => "only in B".to_owned(),
        None => "only in A".to_owned(),
    }
}

fn row_text(r: &ChapterRow) -> String {
    let t = |s: &Option<ChapterSide>| {
        s.as_ref().map_or_else(
            || "—".to_owned(),
            |c| format!("{} ({})", shorten_ids(&c.title), duration(c.duration_nanos)),
        )
    };
    format!("A: {}\nB: {}\nB − A: {}", t(&r.a), t(&r.b), delta_text(r))
}

/// The aligned chapters, a row each: A's title and duration beside B's, and the change.
fn chapters_grid_ui(
    ui: &mut Ui,
    v: &Viewer,
    c: &Comparison,
    d: &Diff,
    cmds: &mut Vec<Command>,
    acts: &mut Vec<CompareAction>,
) {
    ui.strong("Chapters, aligned");
    Grid::new("compare-chapter-grid")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for h in ["A", "", "B", "", "B − A"] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for (i, r) in d.chapters.iter().enumerate() {
                let selected = c.selected == Some(i);
                let title_ui = |ui: &mut Ui, s: &Option<ChapterSide>| match s {
                    Some(s) => ui
                        .selectable_label(selected, ellipsize(&shorten_ids(&s.title), 34))
                        .clicked(),
                    None => {
                        ui.label(RichText::new("—").weak());
                        false
                    }
                };
                if title_ui(ui, &r.a) {
                    acts.push(CompareAction::Select(i));
                    if let Some(ch) = chapter_of(r, &v.session.story.story.chapters) {
                        cmds.push(Command::GoToChapter(ch));
                    }
                }
                ui.label(dur_text(&r.a));
                if title_ui(ui, &r.b) {
                    acts.push(CompareAction::Select(i));
                }
                ui.label(dur_text(&r.b));
                let delta = delta_text(r);
                if r.a.is_none() || r.b.is_none() {
                    ui.label(RichText::new(delta).color(CURSOR_COLOR));
                } else {
                    ui.label(delta);
                }
                ui.end_row();
            }
        });
}

fn differences_ui(ui: &mut Ui, d: &Diff) {
    ui.strong("B compared with A");
    if d.headlines.is_empty() {
        ui.label("nothing differs but timing");
    }
    for h in &d.headlines {
        ui.label(format!("• {h}"));
    }
    ui.add_space(6.0);
    if !d.namespaces.is_empty() {
        ui.strong("Namespaces while it runs");
        for n in &d.namespaces {
            ui.label(format!("{}: {} → {}", n.ns_type, n.a, n.b));
        }
    }
    if let Some(note) = &d.mounts_note {
        ui.label(RichText::new(note).weak());
    } else if !d.mounts.is_empty() {
        ui.strong(format!("Mounts that differ ({})", d.mounts.len()));
        for m in &d.mounts {
            let t = |s: &Option<beefine_schema::compare::MountSide>| {
                s.as_ref()
                    .map_or_else(|| "—".to_owned(), |s| format!("{} {}", s.fstype, s.options))
            };
            ui.label(format!("{}: {} → {}", m.mount_point, t(&m.a), t(&m.b)));
        }
    }
    if !d.settings.is_empty() {
        ui.strong("Settings the runtime reports");
        for s in &d.settings {
            let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "not set".to_owned());
            ui.label(format!("{}: {} → {}", s.key, v(&s.a), v(&s.b)));
        }
    }
    ui.add_space(6.0);
    let cd = &d.calls;
    calls_ui(ui, "A", &cd.only_a, cd.only_a_distinct, cd.only_a_events);
    calls_ui(ui, "B", &cd.only_b, cd.only_b_distinct, cd.only_b_events);
    ui.label(
        RichText::new(format!(
            "{} distinct calls both make",
            thousands(cd.shared_distinct as u64)
        ))
        .weak(),
    );
}

fn call_text(c: &CallCount) -> String {
    let mut s = format!(
        "{} {} ({}) {}",
        c.kind.name(),
        c.role,
        c.comm,
        ellipsize(&c.args, 140)
    );
    if !c.outcome.is_empty() {
        s.push_str(&format!(" → {}", c.outcome));
    }
    s.push_str(&format!(" ×{}", c.count));
    s
}

fn calls_ui(ui: &mut Ui, label: &str, calls: &[CallCount], distinct: usize, events: u64) {
    let title = format!(
        "Calls only in {label}: {} distinct, {} events",
        thousands(distinct as u64),
        thousands(events)
    );
    egui::CollapsingHeader::new(title)
        .id_salt(format!("compare-calls-{label}"))
        .default_open(distinct > 0 && distinct <= 30)
        .show(ui, |ui| {
            let row_h = ui.text_style_height(&egui::TextStyle::Body) + 2.0;
            ScrollArea::vertical()
                .id_salt(format!("compare-calls-scroll-{label}"))
                .max_height(260.0)
                .show_rows(ui, row_h, calls.len(), |ui, range| {
                    for c in &calls[range] {
                        ui.label(RichText::new(call_text(c)).monospace().size(11.0));
                    }
                });
        });
}
