//! The `?` overlay: keyboard shortcuts and how to read the screen.

use egui::{Context, Grid, Id, Modal, RichText};

use super::keys::SHORTCUTS;
use crate::state::Command;

pub fn help_ui(ctx: &Context) -> Vec<Command> {
    let mut cmds = Vec::new();
    let modal = Modal::new(Id::unique("help")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        ui.heading("beefine-view");
        ui.label(
            "A recording of what the kernel and the Docker daemon did while containers were \
             pulled, created and run. Each timeline lane is a family of events drawn as their \
             density; red bands are events the recorder lost; the bars below the lanes are \
             container lifetimes (pale: created, strong: running). The table lists the events \
             the filters show, the details explain the selected one, and the side panel shows \
             the container at the cursor.",
        );
        ui.add_space(8.0);
        ui.label(RichText::new("Keys").strong());
        Grid::new("keys")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for (keys, what) in SHORTCUTS {
                    ui.label(RichText::new(keys).monospace().strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button("Close").clicked() {
                cmds.push(Command::SetHelp(false));
            }
            ui.label(RichText::new("beefine-view --help lists the command-line options").weak());
        });
    });
    if modal.should_close() {
        cmds.push(Command::SetHelp(false));
    }
    cmds
}
