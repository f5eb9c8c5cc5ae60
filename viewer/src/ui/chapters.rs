//! The story: the chapter band above the timeline's lanes, and the chapter list to jump
//! from (with the container picker, the noise toggle, bookmarks and the handout export).

use beefine_schema::story::ChapterKind;
use egui::{Align2, Color32, CornerRadius, FontId, Rect, RichText, Sense, Stroke, Ui, pos2, vec2};

use super::{CURSOR_COLOR, rel_time};
use crate::format;
use crate::state::{Command, Viewer};

pub const BAND_HEIGHT: f32 = 26.0;

/// The colour of a chapter: that of the lane its events are mostly in.
pub fn chapter_color(kind: ChapterKind) -> Color32 {
    use beefine_schema::Family as F;
    let family = match kind {
        ChapterKind::Pull | ChapterKind::Network | ChapterKind::Cni => F::Network,
        ChapterKind::Sandbox => F::Namespace,
        ChapterKind::Unpack => F::File,
        ChapterKind::Rootfs | ChapterKind::Mounts | ChapterKind::PivotRoot => F::Mount,
        ChapterKind::Runtime | ChapterKind::Exec | ChapterKind::Running | ChapterKind::Stop => {
            F::Process
        }
        ChapterKind::Cgroups => F::Cgroup,
        ChapterKind::Namespaces | ChapterKind::Join => F::Namespace,
        ChapterKind::Cleanup => F::Meta,
    };
    super::family_color(family)
}

/// The band: the chapters of the story's container on the timeline's axis (`left` is
/// where the plot starts), the current one outlined; a click goes to a chapter.
pub fn chapter_band_ui(ui: &mut Ui, v: &Viewer, left: f32) -> Vec<Command> {
    let mut cmds = Vec::new();
    let (rect, resp) =
        ui.allocate_exact_size(vec2(ui.available_width(), BAND_HEIGHT), Sense::click());
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::accesskit::Role::Canvas, true, "chapter band")
    });
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals();
    painter.rect_filled(rect, CornerRadius::ZERO, visuals.extreme_bg_color);
    let plot = Rect::from_min_max(pos2(rect.left() + left, rect.top()), rect.max);
    painter.text(
        pos2(rect.left() + 8.0, rect.center().y),
        Align2::LEFT_CENTER,
        "chapters",
        FontId::proportional(13.0),
        visuals.strong_text_color(),
    );
    let chapters = v.chapters();
    let all = &v.session.story.story.chapters;
    if chapters.is_empty() {
        painter.text(
            pos2(plot.left() + 6.0, rect.center().y),
            Align2::LEFT_CENTER,
            "no container story in this session",
            FontId::proportional(12.0),
            visuals.weak_text_color(),
        );
        return cmds;
    }
    let x_of = |ts: u64| plot.left() + v.time.fraction_of(ts) as f32 * plot.width();
    let current = v.current_chapter();
    let hover = resp.hover_pos();
    let mut hovered = None;
    for &i in &chapters {
        let c = &all[i];
        let x0 = x_of(c.ts_nanos).max(plot.left());
        let x1 = x_of(c.end_ts_nanos).min(plot.right()).max(x0 + 2.0);
        if x1 < plot.left() || x0 > plot.right() {
            continue;
        }
        let r = Rect::from_min_max(pos2(x0, rect.top() + 3.0), pos2(x1, rect.bottom() - 3.0));
        let color = chapter_color(c.chapter);
        let is_current = current == Some(i);
        painter.rect_filled(
            r,
            CornerRadius::same(3),
            color.gamma_multiply(if is_current { 0.9 } else { 0.45 }),
        );
        if is_current {
            painter.rect_stroke(
                r,
                CornerRadius::same(3),
                Stroke::new(2.0, CURSOR_COLOR),
                egui::StrokeKind::Outside,
            );
        }
        let label = if r.width() > 7.5 * c.title.len() as f32 {
            c.title.as_str()
        } else {
            c.chapter.name()
        };
        if r.width() > 6.5 * label.len() as f32 + 6.0 {
            painter.text(
                pos2(r.left() + 4.0, r.center().y),
                Align2::LEFT_CENTER,
                label,
                FontId::proportional(11.5),
                Color32::BLACK,
            );
        }
        if hover.is_some_and(|p| r.expand2(vec2(1.0, 0.0)).contains(p)) {
            hovered = Some(i);
        }
    }
    let cx = x_of(v.time.cursor());
    if (plot.left()..=plot.right()).contains(&cx) {
        painter.vline(cx, rect.y_range(), Stroke::new(1.5, CURSOR_COLOR));
    }
    if let Some(i) = hovered {
        if resp.clicked() {
            cmds.push(Command::GoToChapter(i));
        }
        let c = &all[i];
        resp.on_hover_text(format!(
            "{}\n{} – {} ({}), {} events\n\n{}\n\nclick to go there",
            c.title,
            rel_time(v, c.ts_nanos),
            rel_time(v, c.end_ts_nanos),
            format::duration(c.end_ts_nanos - c.ts_nanos),
            c.events,
            c.notice
        ));
    }
    cmds
}

/// The left panel's story section: the container, the chapters, noise, bookmarks.
pub fn story_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    ui.heading("Story");
    container_picker_ui(ui, v, &mut cmds);
    let all = &v.session.story.story.chapters;
    let chapters = v.chapters();
    let current = v.current_chapter();
    if chapters.is_empty() {
        ui.label(RichText::new("No chapters: this session shows no container being made.").weak());
    }
    egui::ScrollArea::vertical()
        .id_salt("chapter-list")
        .max_height(190.0)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            for (n, &i) in chapters.iter().enumerate() {
                let c = &all[i];
                let text = RichText::new(format!("{:>2}. {}", n + 1, c.title)).color(
                    if current == Some(i) {
                        ui.visuals().strong_text_color()
                    } else {
                        ui.visuals().text_color()
                    },
                );
                let resp = ui
                    .add(
                        egui::Button::selectable(current == Some(i), text)
                            .wrap_mode(egui::TextWrapMode::Truncate),
                    )
                    .on_hover_text(format!("{}\n\n{}", c.title, c.notice));
                if current == Some(i) && v.scroll_to_selection {
                    resp.scroll_to_me(None);
                }
                if resp.clicked() {
                    cmds.push(Command::GoToChapter(i));
                }
            }
        });
    ui.horizontal(|ui| {
        if ui.button("◀ chapter").on_hover_text("PgUp").clicked() {
            cmds.push(Command::Chapter { forward: false });
        }
        if ui.button("chapter ▶").on_hover_text("PgDn").clicked() {
            cmds.push(Command::Chapter { forward: true });
        }
        if ui
            .button("▶ present")
            .on_hover_text("P: walk the chapters and bookmarks")
            .clicked()
        {
            cmds.push(Command::TogglePresentation);
        }
    });
    let mut hide = !v.filter.show_expected;
    if ui
        .checkbox(&mut hide, "hide expected noise (H)")
        .on_hover_text("Failures that are part of normal work: the loader's library search, runc's masked paths absent on this kernel, non-blocking accept and connect, … (each says why in the details)")
        .changed()
    {
        cmds.push(Command::ToggleNoise);
    }
    if let Some(i) = current {
        export_ui(ui, v, i, &mut cmds);
    }
    super::bookmarks::bookmarks_ui(ui, v, &mut cmds);
    cmds
}

fn container_picker_ui(ui: &mut Ui, v: &Viewer, cmds: &mut Vec<Command>) {
    let l = &v.session;
    if l.containers.len() < 2 {
        if let Some(c) = v.story_container() {
            ui.label(RichText::new(format!("container {}", l.container_label(c))).weak());
        }
        return;
    }
    let label = |c: Option<usize>| {
        c.map_or_else(
            || "the one at the cursor".to_owned(),
            |c| l.container_label(c),
        )
    };
    egui::ComboBox::from_label("container")
        .selected_text(label(v.story.container))
        .show_ui(ui, |ui| {
            for c in std::iter::once(None).chain((0..l.containers.len()).map(Some)) {
                if ui
                    .selectable_label(v.story.container == c, label(c))
                    .clicked()
                {
                    cmds.push(Command::PickContainer(c));
                }
            }
        });
}

fn export_ui(ui: &mut Ui, v: &Viewer, chapter: usize, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        for (html, name) in [(false, "md"), (true, "html")] {
            if ui
                .button(format!("export chapter .{name}"))
                .on_hover_text("A handout of the current chapter: its title, what to notice, its key events explained")
                .clicked()
            {
                cmds.push(Command::ExportChapter {
                    chapter,
                    html,
                    path: crate::handout::default_path(v, chapter, html),
                });
            }
        }
    });
    if let Some(m) = &v.story.message {
        ui.label(RichText::new(m).weak());
    }
}
