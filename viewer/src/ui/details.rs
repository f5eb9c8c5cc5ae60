//! The details of the selected event: what the call does, every field decoded, and the
//! step-through buttons.

use egui::{Grid, RichText, Ui};

use super::{FAILED_COLOR, family_color};
use crate::state::{Command, StepBy, Viewer, describe};

/// Step buttons: label, what they step by, the keys for backward and forward.
const STEPS: [(&str, StepBy, &str, &str); 4] = [
    ("event", StepBy::Any, "←", "→"),
    ("same kind", StepBy::Kind, "Shift+N", "N"),
    ("same process", StepBy::Process, "[", "]"),
    ("same container", StepBy::Container, "{", "}"),
];

pub fn details_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    ui.heading("Details");
    ui.separator();
    Grid::new("steps")
        .num_columns(3)
        .spacing([4.0, 2.0])
        .show(ui, |ui| {
            for (label, by, back_key, forward_key) in STEPS {
                if ui
                    .small_button("◀")
                    .on_hover_text(format!("Previous {label} ({back_key})"))
                    .clicked()
                {
                    cmds.push(Command::Step { by, forward: false });
                }
                ui.label(label);
                if ui
                    .small_button("▶")
                    .on_hover_text(format!("Next {label} ({forward_key})"))
                    .clicked()
                {
                    cmds.push(Command::Step { by, forward: true });
                }
                ui.end_row();
            }
        });
    ui.separator();
    let Some(idx) = v.selected else {
        ui.label(RichText::new("No event at the cursor. Click a row or step to one.").weak());
        return cmds;
    };
    let l = &v.session;
    let kind = l.store.kind_of(idx);
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(kind.name())
                .heading()
                .color(family_color(kind.family())),
        );
        if l.store.result_of(idx).is_some_and(|r| r < 0) {
            ui.label(RichText::new("failed").color(FAILED_COLOR).strong());
        }
    });
    ui.label(RichText::new(kind.about()).italics());
    ui.add_space(4.0);
    Grid::new("fields")
        .num_columns(2)
        .striped(true)
        .spacing([10.0, 3.0])
        .show(ui, |ui| {
            for f in describe::details(l, idx) {
                ui.label(RichText::new(&f.label).weak());
                ui.vertical(|ui| {
                    ui.add(egui::Label::new(RichText::new(&f.value).monospace()).wrap());
                    if let Some(note) = &f.note {
                        // Notes can be long (an expected failure's reason): they wrap, or
                        // the panel would widen to fit them.
                        ui.add(
                            egui::Label::new(
                                RichText::new(format!("↳ {note}")).color(super::CURSOR_COLOR),
                            )
                            .wrap(),
                        );
                    }
                });
                ui.end_row();
            }
        });
    cmds
}
