//! Presentation mode: one card per chapter and bookmark, over the timeline zoomed on it.

use egui::{Align2, Context, Frame, RichText, vec2};

use crate::state::story::Stop;
use crate::state::{Command, Viewer};

pub fn presentation_ui(ctx: &Context, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let Some(i) = v.story.presentation else {
        return cmds;
    };
    let stops = v.stops();
    let Some(stop) = stops.get(i).copied() else {
        return cmds;
    };
    let (kicker, title, body) = match stop {
        Stop::Chapter(ch) => {
            let c = &v.session.story.story.chapters[ch];
            (
                format!("chapter · {} · {} events", c.chapter, c.events),
                c.title.clone(),
                c.notice.clone(),
            )
        }
        Stop::Bookmark(b) => {
            let b = &v.story.bookmarks[b];
            ("bookmark".to_owned(), b.label.clone(), b.note.clone())
        }
    };
    egui::Area::new(egui::Id::unique("presentation"))
        .anchor(Align2::CENTER_TOP, vec2(0.0, 60.0))
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            Frame::popup(ui.style()).inner_margin(16).show(ui, |ui| {
                ui.set_max_width(760.0);
                ui.label(RichText::new(format!("{} / {} · {kicker}", i + 1, stops.len())).weak());
                ui.label(RichText::new(title).size(22.0).strong());
                ui.add_space(4.0);
                for line in body.lines() {
                    ui.label(RichText::new(line).size(15.0));
                }
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    if ui.button("◀ previous").clicked() {
                        cmds.push(Command::PresentationStep { forward: false });
                    }
                    if ui.button("next ▶").clicked() {
                        cmds.push(Command::PresentationStep { forward: true });
                    }
                    if ui.button("leave (P)").clicked() {
                        cmds.push(Command::TogglePresentation);
                    }
                    ui.label(RichText::new("← → or PgUp PgDn move, P or Esc leaves").weak());
                });
            });
        });
    cmds
}
