//! What the window shows while a session loads, or when it cannot be opened.

use egui::{RichText, Ui};

use crate::state::Command;
use crate::state::session::LoadError;

pub fn loading_ui(ui: &mut Ui, path: &std::path::Path, seconds: f64) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.35);
        ui.spinner();
        ui.label(RichText::new(format!("Reading {}", path.display())).size(16.0));
        if seconds > 1.0 {
            ui.label(RichText::new(format!("{seconds:.0} s")).weak());
        }
    });
}

/// The error, what it means, and a way to open another file. `path_text` is the edit
/// field's contents (kept by the app).
pub fn error_ui(ui: &mut Ui, error: &LoadError, path_text: &mut String) -> Vec<Command> {
    let mut cmds = Vec::new();
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.25);
        ui.label(
            RichText::new("This session cannot be opened")
                .size(22.0)
                .strong()
                .color(super::FAILED_COLOR),
        );
        ui.add_space(8.0);
        ui.label(RichText::new(&error.message).size(15.0));
        ui.add_space(4.0);
        let hint = hint(&error.message);
        if !hint.is_empty() {
            ui.label(RichText::new(hint).weak());
        }
        ui.add_space(16.0);
        ui.horizontal(|ui| {
            let w = 460.0_f32.min(ui.available_width());
            ui.add_space(((ui.available_width() - w - 90.0) / 2.0).max(0.0));
            let resp = ui.add(
                egui::TextEdit::singleline(path_text)
                    .hint_text("path to a .beefine file")
                    .desired_width(w),
            );
            let enter = resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Open").clicked() || enter) && !path_text.trim().is_empty() {
                cmds.push(Command::Open(path_text.trim().into()));
            }
        });
        ui.label(RichText::new("or drop a session file on this window").weak());
    });
    cmds
}

fn hint(message: &str) -> &'static str {
    if message.contains("newer") {
        "The file was written by a newer Beefine. Install a newer beefine-view to read it."
    } else if message.contains("was not read") {
        "It holds SQL or tables a session never has: it was refused without running any of it."
    } else if message.contains("damaged") || message.contains("corrupt") {
        "Nothing of it could be read, not even by scanning its pages for events."
    } else if message.contains("not a Beefine session") {
        "Session files are written by beefine-record (they end in .beefine)."
    } else if message.contains("cannot open") {
        "Check the path and that you may read the file."
    } else {
        ""
    }
}
