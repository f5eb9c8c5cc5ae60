//! The timeline: one lane per event family drawn as density over time, loss bands,
//! container lifetimes and the cursor. Wheel zooms, drag pans, a click or a drag on the
//! time axis or the cursor scrubs, a double click shows everything.

use beefine_schema::Family;
use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, Ui, pos2, vec2};

use super::{CURSOR_COLOR, LOSS_COLOR, axis_time, container_color, family_color};
use crate::format;
use crate::state::filter::LANES;
use crate::state::session::container_lifetime;
use crate::state::{Command, Viewer};

pub const LABEL_WIDTH: f32 = 104.0;
const AXIS_HEIGHT: f32 = 22.0;
const LANE_HEIGHT: f32 = 22.0;
const CONTAINER_ROW_HEIGHT: f32 = 17.0;
const MAX_CONTAINER_ROWS: usize = 4;
/// Width in points of one density column.
const COLUMN_WIDTH: f32 = 2.0;

/// Height the timeline needs for a session.
pub fn timeline_height(v: &Viewer) -> f32 {
    AXIS_HEIGHT + LANES as f32 * LANE_HEIGHT + container_rows(v) as f32 * CONTAINER_ROW_HEIGHT + 6.0
}

fn container_rows(v: &Viewer) -> usize {
    v.session.containers.len().min(MAX_CONTAINER_ROWS)
}

/// A "nice" step (1, 2 or 5 × 10^k ns) for about `target` ticks over `width_nanos`.
pub fn tick_step(width_nanos: f64, target: f64) -> f64 {
    let raw = (width_nanos / target.max(1.0)).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= raw {
            return m * mag;
        }
    }
    10.0 * mag
}

/// What every layer of the timeline draws with: where the plot is and how times map to x.
struct Frame<'a> {
    v: &'a Viewer,
    painter: egui::Painter,
    visuals: egui::Visuals,
    rect: Rect,
    plot: Rect,
    lanes_top: f32,
    lanes_bottom: f32,
    /// Column boundaries (times) of the density lanes.
    bounds: Vec<u64>,
}

impl Frame<'_> {
    fn x_of(&self, ts: u64) -> f32 {
        self.plot.left() + self.v.time.fraction_of(ts) as f32 * self.plot.width()
    }

    fn ts_at(&self, p: Pos2) -> u64 {
        self.v
            .time
            .ts_at_fraction(((p.x - self.plot.left()) / self.plot.width()) as f64)
    }
}

pub fn timeline_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let height = timeline_height(v);
    let (rect, resp) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click_and_drag());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Canvas, true, "timeline"));
    let plot = Rect::from_min_max(pos2(rect.left() + LABEL_WIDTH, rect.top()), rect.max);
    let lanes_top = rect.top() + AXIS_HEIGHT;
    let columns = (plot.width() / COLUMN_WIDTH).ceil().max(1.0) as usize;
    let f = Frame {
        v,
        painter: ui.painter_at(rect),
        visuals: ui.visuals().clone(),
        rect,
        plot,
        lanes_top,
        lanes_bottom: lanes_top + LANES as f32 * LANE_HEIGHT,
        bounds: (0..=columns)
            .map(|c| v.time.ts_at_fraction(c as f64 / columns as f64))
            .collect(),
    };
    f.painter
        .rect_filled(rect, CornerRadius::ZERO, f.visuals.extreme_bg_color);
    f.painter.rect_filled(
        Rect::from_min_max(rect.min, pos2(plot.left(), rect.bottom())),
        CornerRadius::ZERO,
        f.visuals.panel_fill,
    );
    axis(&f);
    lanes(&f);
    docker_labels(&f);
    let hovered_loss = losses(&f, &resp);
    containers(&f);
    let hovered_bookmark = bookmarks(&f, &resp);
    time_range(&f);
    let cursor_x = cursor(&f);
    let mut cmds = Vec::new();
    let scrubbing = interact(ui, &f, &resp, cursor_x, &mut cmds);
    let resp = if scrubbing
        || (resp.hovered()
            && resp
                .hover_pos()
                .is_some_and(|p| (p.x - cursor_x).abs() <= 6.0 || p.y < lanes_top))
    {
        resp.on_hover_cursor(egui::CursorIcon::ResizeHorizontal)
    } else {
        resp
    };
    tooltips(&f, resp, hovered_bookmark, hovered_loss, &mut cmds);
    cmds
}

/// The time axis: ticks, their labels and the grid.
fn axis(f: &Frame<'_>) {
    let (painter, visuals, rect, plot, lanes_top) =
        (&f.painter, &f.visuals, f.rect, f.plot, f.lanes_top);
    let t = &f.v.time;
    let (view_lo, view_hi) = t.view();
    let step = tick_step(t.view_width_nanos(), (plot.width() / 110.0) as f64);
    let origin = f.v.session.origin() as f64;
    let first_tick = ((view_lo as f64 - origin) / step).ceil() * step;
    let mut tick = first_tick;
    let text_color = visuals.text_color();
    let grid = visuals
        .widgets
        .noninteractive
        .bg_stroke
        .color
        .gamma_multiply(0.6);
    while tick <= view_hi as f64 - origin {
        let ts = (origin + tick).max(0.0) as u64;
        let x = f.x_of(ts);
        painter.vline(x, lanes_top..=rect.bottom(), Stroke::new(1.0, grid));
        painter.vline(
            x,
            (lanes_top - 5.0)..=lanes_top,
            Stroke::new(1.0, text_color),
        );
        painter.text(
            pos2(x + 3.0, rect.top() + 3.0),
            Align2::LEFT_TOP,
            axis_time(tick / 1e9, step / 1e9),
            FontId::monospace(11.0),
            visuals.weak_text_color(),
        );
        tick += step;
    }
    painter.hline(plot.x_range(), lanes_top, Stroke::new(1.0, grid));
}

/// Lanes: density of the shown events per column, on a log scale per lane.
fn lanes(f: &Frame<'_>) {
    let (painter, visuals, rect, plot, lanes_top, v) =
        (&f.painter, &f.visuals, f.rect, f.plot, f.lanes_top, f.v);
    let bounds = &f.bounds;
    for (lane, family) in Family::ALL.iter().enumerate() {
        let top = lanes_top + lane as f32 * LANE_HEIGHT;
        let lane_rect = Rect::from_min_max(
            pos2(plot.left(), top),
            pos2(plot.right(), top + LANE_HEIGHT),
        );
        if lane % 2 == 1 {
            painter.rect_filled(lane_rect, CornerRadius::ZERO, visuals.faint_bg_color);
        }
        let color = family_color(*family);
        let total = v.filtered.lanes[lane].len();
        painter.text(
            pos2(rect.left() + 8.0, top + LANE_HEIGHT / 2.0),
            Align2::LEFT_CENTER,
            family.name(),
            FontId::proportional(13.0),
            if total > 0 {
                color
            } else {
                visuals.weak_text_color()
            },
        );
        if total == 0 {
            continue;
        }
        let counts: Vec<usize> = bounds
            .windows(2)
            .map(|w| v.filtered.lane_count(lane, w[0], w[1]))
            .collect();
        let max = counts.iter().copied().max().unwrap_or(0);
        if max == 0 {
            continue;
        }
        let scale = ((max + 1) as f32).ln();
        let usable = LANE_HEIGHT - 5.0;
        for (c, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let h = (((n + 1) as f32).ln() / scale).max(0.18) * usable;
            let x = plot.left() + c as f32 * COLUMN_WIDTH;
            painter.rect_filled(
                Rect::from_min_max(
                    pos2(x, top + LANE_HEIGHT - 2.0 - h),
                    pos2(x + COLUMN_WIDTH, top + LANE_HEIGHT - 2.0),
                ),
                CornerRadius::ZERO,
                color,
            );
        }
    }
}

/// The daemon's actions (pull, create, start, die, …) named on the docker lane, where there
/// is room: the phases of the story at a glance.
fn docker_labels(f: &Frame<'_>) {
    let (painter, visuals, plot, lanes_top, v) = (&f.painter, &f.visuals, f.plot, f.lanes_top, f.v);
    let (view_lo, view_hi) = v.time.view();
    {
        let lane = crate::state::filter::lane_of(Family::Docker);
        let top = lanes_top + lane as f32 * LANE_HEIGHT;
        let store = &v.session.store;
        let list = &v.session.docker_events;
        let from = list.partition_point(|&i| store.ts_of(i) < view_lo);
        let to = list.partition_point(|&i| store.ts_of(i) <= view_hi);
        let mut free_from = f32::NEG_INFINITY;
        for &idx in list[from..to].iter().take(400) {
            if v.filtered.row_of(idx).is_none() {
                continue;
            }
            let x = f.x_of(store.ts_of(idx));
            if x < free_from || x > plot.right() - 20.0 {
                continue;
            }
            if let beefine_schema::EventData::Docker(d) = store.data_of(idx) {
                let action = store.str(d.action);
                let action = action.split(':').next().unwrap_or(action);
                let galley = painter.layout_no_wrap(
                    action.to_owned(),
                    FontId::proportional(10.5),
                    visuals.strong_text_color(),
                );
                let w = galley.size().x;
                painter.galley(pos2(x + 2.0, top + 1.0), galley, Color32::WHITE);
                free_from = x + w + 8.0;
            }
        }
    }
}

/// Loss bands over the lanes; the one under the pointer.
fn losses(f: &Frame<'_>, resp: &egui::Response) -> Option<usize> {
    let (painter, plot, lanes_top, lanes_bottom, v) =
        (&f.painter, f.plot, f.lanes_top, f.lanes_bottom, f.v);
    let mut hovered_loss = None;
    for (i, loss) in v.session.losses.iter().enumerate() {
        let x0 = f.x_of(loss.ts_nanos);
        let x1 = f.x_of(loss.until_ts_nanos.max(loss.ts_nanos)).max(x0 + 3.0);
        if x1 < plot.left() || x0 > plot.right() {
            continue;
        }
        let band = Rect::from_min_max(pos2(x0, lanes_top), pos2(x1, lanes_bottom));
        painter.rect_filled(band, CornerRadius::ZERO, LOSS_COLOR);
        painter.text(
            pos2(x0 + 2.0, lanes_top + 2.0),
            Align2::LEFT_TOP,
            format!("lost {}", format::thousands(loss.count)),
            FontId::proportional(11.0),
            Color32::from_rgb(0xff, 0xb0, 0xb0),
        );
        if resp
            .hover_pos()
            .is_some_and(|p| band.expand(2.0).contains(p))
        {
            hovered_loss = Some(i);
        }
    }
    hovered_loss
}

/// Container lifetimes, one row each: created, then running (stronger).
fn containers(f: &Frame<'_>) {
    let (painter, visuals, rect, plot, lanes_bottom, v) =
        (&f.painter, &f.visuals, f.rect, f.plot, f.lanes_bottom, f.v);
    let (span_lo, span_hi) = v.session.time_span();
    for (row, c) in v
        .session
        .containers
        .containers()
        .iter()
        .take(MAX_CONTAINER_ROWS)
        .enumerate()
    {
        let top = lanes_bottom + 3.0 + row as f32 * CONTAINER_ROW_HEIGHT;
        let (start, end) = container_lifetime(c);
        let x0 = f.x_of(start.unwrap_or(span_lo)).max(plot.left());
        let x1 = f.x_of(end.unwrap_or(span_hi)).min(plot.right());
        let color = container_color(row);
        if x1 > x0 {
            let bar = Rect::from_min_max(
                pos2(x0, top + 1.0),
                pos2(x1, top + CONTAINER_ROW_HEIGHT - 2.0),
            );
            painter.rect_filled(bar, CornerRadius::same(3), color.gamma_multiply(0.45));
            // Running time (started → died) is drawn stronger than created-only time.
            if let Some(started) = c.started_ts_nanos {
                let s0 = f.x_of(started).max(plot.left());
                let s1 = f.x_of(c.died_ts_nanos.unwrap_or(span_hi)).min(plot.right());
                if s1 > s0 {
                    painter.rect_filled(
                        Rect::from_min_max(pos2(s0, bar.top()), pos2(s1, bar.bottom())),
                        CornerRadius::same(3),
                        color.gamma_multiply(0.8),
                    );
                }
            }
            painter.with_clip_rect(bar).text(
                pos2(x0.max(plot.left()) + 4.0, bar.center().y),
                Align2::LEFT_CENTER,
                v.session.container_label(row),
                FontId::proportional(11.0),
                Color32::BLACK,
            );
        }
        painter.text(
            pos2(rect.left() + 8.0, top + CONTAINER_ROW_HEIGHT / 2.0),
            Align2::LEFT_CENTER,
            format::ellipsize(&v.session.container_label(row), 12),
            FontId::proportional(11.0),
            color,
        );
    }
    if v.session.containers.len() > MAX_CONTAINER_ROWS {
        painter.text(
            pos2(plot.right() - 4.0, rect.bottom() - 2.0),
            Align2::RIGHT_BOTTOM,
            format!(
                "+{} containers",
                v.session.containers.len() - MAX_CONTAINER_ROWS
            ),
            FontId::proportional(11.0),
            visuals.weak_text_color(),
        );
    }
}

/// Bookmarks: a flag on the axis with its label; the one under the pointer.
fn bookmarks(f: &Frame<'_>, resp: &egui::Response) -> Option<usize> {
    let (painter, visuals, rect, plot, lanes_top, lanes_bottom, v) = (
        &f.painter,
        &f.visuals,
        f.rect,
        f.plot,
        f.lanes_top,
        f.lanes_bottom,
        f.v,
    );
    let mut hovered_bookmark = None;
    for (i, b) in v.story.bookmarks.iter().enumerate() {
        let x = f.x_of(b.ts_nanos);
        if !(plot.left()..=plot.right()).contains(&x) {
            continue;
        }
        let color = Color32::from_rgb(0x9f, 0xd8, 0xff);
        painter.vline(
            x,
            (rect.top() + 2.0)..=lanes_bottom,
            Stroke::new(1.0, color.gamma_multiply(0.5)),
        );
        let flag = Rect::from_min_size(pos2(x, rect.top() + 2.0), vec2(7.0, 6.0));
        painter.rect_filled(flag, CornerRadius::ZERO, color);
        let galley = painter.layout_no_wrap(
            format::ellipsize(&b.label, 24),
            FontId::proportional(10.5),
            color,
        );
        let at = pos2(x + 9.0, rect.top() + 1.0);
        painter.rect_filled(
            Rect::from_min_size(at, galley.size()).expand(1.0),
            CornerRadius::same(2),
            visuals.extreme_bg_color,
        );
        painter.galley(at, galley, color);
        if resp
            .hover_pos()
            .is_some_and(|p| (p.x - x).abs() <= 5.0 && p.y < lanes_top)
        {
            hovered_bookmark = Some(i);
        }
    }
    hovered_bookmark
}

/// The filter's time range: everything outside is dimmed.
fn time_range(f: &Frame<'_>) {
    let (painter, rect, plot, lanes_top, v) = (&f.painter, f.rect, f.plot, f.lanes_top, f.v);
    if let Some((lo, hi)) = v.filter.time_range {
        let shade = Color32::from_black_alpha(140);
        let x0 = f.x_of(lo).clamp(plot.left(), plot.right());
        let x1 = f.x_of(hi).clamp(plot.left(), plot.right());
        painter.rect_filled(
            Rect::from_min_max(pos2(plot.left(), lanes_top), pos2(x0, rect.bottom())),
            CornerRadius::ZERO,
            shade,
        );
        painter.rect_filled(
            Rect::from_min_max(pos2(x1, lanes_top), pos2(plot.right(), rect.bottom())),
            CornerRadius::ZERO,
            shade,
        );
    }
}

/// The cursor, with a handle on the axis; its x.
fn cursor(f: &Frame<'_>) -> f32 {
    let (painter, rect, plot) = (&f.painter, f.rect, f.plot);
    let cursor_x = f.x_of(f.v.time.cursor());
    if (plot.left()..=plot.right()).contains(&cursor_x) {
        painter.vline(
            cursor_x,
            rect.top()..=rect.bottom(),
            Stroke::new(1.5, CURSOR_COLOR),
        );
        painter.add(egui::Shape::convex_polygon(
            vec![
                pos2(cursor_x - 6.0, rect.top() + AXIS_HEIGHT - 11.0),
                pos2(cursor_x + 6.0, rect.top() + AXIS_HEIGHT - 11.0),
                pos2(cursor_x, rect.top() + AXIS_HEIGHT - 1.0),
            ],
            CURSOR_COLOR,
            Stroke::NONE,
        ));
    }
    cursor_x
}

/// Zoom, pan, scrub, fit and click; whether the cursor is being dragged.
fn interact(
    ui: &Ui,
    f: &Frame<'_>,
    resp: &egui::Response,
    cursor_x: f32,
    cmds: &mut Vec<Command>,
) -> bool {
    let (painter, visuals, rect, plot, lanes_top) =
        (&f.painter, &f.visuals, f.rect, f.plot, f.lanes_top);
    if let Some(p) = resp.hover_pos()
        && plot.contains(p)
    {
        painter.vline(
            p.x,
            lanes_top..=rect.bottom(),
            Stroke::new(1.0, visuals.weak_text_color()),
        );
        let (zoom, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta));
        let anchor = ((p.x - plot.left()) / plot.width()) as f64;
        if zoom != 1.0 {
            cmds.push(Command::Zoom {
                factor: 1.0 / zoom as f64,
                anchor,
            });
        } else if scroll.y != 0.0 {
            cmds.push(Command::Zoom {
                factor: (-scroll.y as f64 * 0.004).exp(),
                anchor,
            });
        }
        if scroll.x != 0.0 {
            cmds.push(Command::Pan(-scroll.x as f64 / plot.width() as f64));
        }
    }
    let scrub_id = resp.id.with("scrubbing");
    if resp.drag_started()
        && let Some(p) = resp.interact_pointer_pos()
    {
        let on_handle = (p.x - cursor_x).abs() <= 6.0 || p.y < lanes_top;
        ui.data_mut(|d| d.insert_temp(scrub_id, on_handle));
    }
    let scrubbing = ui.data(|d| d.get_temp::<bool>(scrub_id).unwrap_or(false));
    if resp.dragged() {
        if scrubbing {
            if let Some(p) = resp.interact_pointer_pos()
                && (resp.drag_started() || resp.drag_delta() != egui::Vec2::ZERO)
            {
                cmds.push(Command::SetCursor(f.ts_at(p)));
            }
        } else {
            let dx = resp.drag_delta().x;
            if dx != 0.0 {
                cmds.push(Command::Pan(-dx as f64 / plot.width() as f64));
            }
        }
    }
    if resp.drag_stopped() {
        ui.data_mut(|d| d.remove::<bool>(scrub_id));
    }
    if resp.double_clicked() {
        cmds.push(Command::FitView);
    } else if resp.clicked()
        && let Some(p) = resp.interact_pointer_pos()
        && p.x >= plot.left()
    {
        cmds.push(Command::SetCursor(f.ts_at(p)));
    }
    scrubbing
}

/// What is under the pointer: a bookmark (a click jumps to it), a loss, or the time and the
/// events of the lane there.
fn tooltips(
    f: &Frame<'_>,
    resp: egui::Response,
    hovered_bookmark: Option<usize>,
    hovered_loss: Option<usize>,
    cmds: &mut Vec<Command>,
) {
    let (plot, lanes_top, v, bounds) = (f.plot, f.lanes_top, f.v, &f.bounds);
    if let Some(i) = hovered_bookmark {
        let b = &v.story.bookmarks[i];
        if resp.clicked() {
            cmds.retain(|c| !matches!(c, Command::SetCursor(_)));
            cmds.push(Command::SetCursor(b.ts_nanos));
        }
        resp.on_hover_text(format!(
            "{} at {}{}{}",
            b.label,
            super::rel_time(v, b.ts_nanos),
            if b.note.is_empty() { "" } else { "\n" },
            b.note
        ));
    } else if let Some(i) = hovered_loss {
        let loss = &v.session.losses[i];
        resp.on_hover_text(format!(
            "{} events lost ({}, cpu {}) from {} for {}",
            format::thousands(loss.count),
            loss.source.name(),
            loss.cpu,
            super::rel_time(v, loss.ts_nanos),
            format::duration(loss.until_ts_nanos.saturating_sub(loss.ts_nanos))
        ));
    } else if let Some(p) = resp.hover_pos()
        && plot.contains(p)
    {
        let ts = f.ts_at(p);
        let lane = ((p.y - lanes_top) / LANE_HEIGHT).floor();
        let mut text = super::rel_time(v, ts);
        if (0.0..LANES as f32).contains(&lane) {
            let lane = lane as usize;
            let c = ((p.x - plot.left()) / COLUMN_WIDTH).floor() as usize;
            if c + 1 < bounds.len() {
                // The events there, named: kinds counted, the first few summarised.
                let (some, n) = v.lane_events(lane, bounds[c], bounds[c + 1], 4);
                text.push_str(&format!(
                    "\n{}: {} events in {}",
                    Family::ALL[lane].name(),
                    format::thousands(n as u64),
                    format::duration(bounds[c + 1].saturating_sub(bounds[c]))
                ));
                for &i in &some {
                    let store = &v.session.store;
                    let who = store
                        .get(i)
                        .map_or(String::new(), |e| store.comm(e.ctx).to_owned());
                    text.push_str(&format!(
                        "\n  {} {who}: {}",
                        store.kind_of(i).name(),
                        format::ellipsize(&crate::state::describe::summary(&v.session, i), 60)
                    ));
                }
                if n > some.len() {
                    text.push_str(&format!("\n  … {} more", n - some.len()));
                }
            }
        }
        resp.on_hover_text_at_pointer(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(1e9, 10.0), 1e8);
        assert_eq!(tick_step(1.2e9, 10.0), 2e8);
        assert_eq!(tick_step(4e9, 10.0), 5e8);
        assert_eq!(tick_step(1e3, 10.0), 100.0);
    }
}
