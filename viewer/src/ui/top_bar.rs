//! The top bar: which session, its state and length, the cursor time, how many events the
//! filters show, losses; playback, follow and help.

use beefine_schema::Status;
use egui::{Color32, RichText, Ui};

use super::FAILED_COLOR;
use crate::format;
use crate::state::time::SPEEDS;
use crate::state::{Command, Viewer};

/// Which side panels are open (remembered between runs).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PanelToggles {
    pub filters: bool,
    pub details: bool,
    pub charts: bool,
}

impl Default for PanelToggles {
    fn default() -> Self {
        Self {
            filters: true,
            details: true,
            charts: true,
        }
    }
}

pub fn top_bar_ui(ui: &mut Ui, v: &Viewer, panels: &mut PanelToggles) -> Vec<Command> {
    let mut cmds = Vec::new();
    let l = &v.session;
    ui.horizontal(|ui| {
        let name = if l.meta.info.session_name.is_empty() {
            l.path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        } else {
            l.meta.info.session_name.clone()
        };
        ui.label(RichText::new(name).strong().size(16.0))
            .on_hover_text(l.path.display().to_string());
        let (dot, color) = match l.status {
            Status::Live => ("● live", Color32::from_rgb(0x40, 0xd0, 0x60)),
            Status::Complete => ("● complete", Color32::from_rgb(0x70, 0xa0, 0xff)),
            Status::Interrupted => ("● interrupted", Color32::from_rgb(0xff, 0xa0, 0x40)),
        };
        ui.label(RichText::new(dot).color(color))
            .on_hover_text(match l.status {
                Status::Live => "Still being recorded: new events appear as they are written",
                Status::Complete => "The recording finished normally",
                Status::Interrupted => {
                    "The recorder stopped without finishing (killed or crashed); everything it \
                 committed is here"
                }
            });
        let (lo, hi) = l.time_span();
        ui.label(format::duration(hi - lo));
        ui.separator();
        ui.label(RichText::new("cursor").weak());
        ui.label(
            RichText::new(super::rel_time(v, v.time.cursor()))
                .monospace()
                .strong(),
        );
        ui.separator();
        ui.label(format!(
            "{} of {} events",
            format::thousands(v.filtered.rows.len() as u64),
            format::thousands(l.store.len() as u64)
        ));
        ui.separator();
        let lost = RichText::new(format!("lost {}", format::thousands(l.lost_events)));
        ui.label(if l.lost_events > 0 {
            lost.color(FAILED_COLOR).strong()
        } else {
            lost.weak()
        })
        .on_hover_text(format!(
            "{} loss record(s): red bands on the timeline",
            l.losses.len()
        ));
        if !l.damage.is_empty() {
            ui.label(
                RichText::new(format!("⚠ {} unreadable part(s)", l.damage.len()))
                    .color(FAILED_COLOR),
            )
            .on_hover_text(l.damage.join("\n"));
        }

        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .selectable_label(v.help_open, " ? ")
                .on_hover_text("Keys and how to read the screen (?)")
                .clicked()
            {
                cmds.push(Command::ToggleHelp);
            }
            let follow = ui
                .add_enabled(
                    l.status == Status::Live || v.time.follow,
                    egui::Button::selectable(v.time.follow, "follow"),
                )
                .on_hover_text("Keep the newest events in view while recording (F)")
                .on_disabled_hover_text("Only a session that is still being recorded grows");
            if follow.clicked() {
                cmds.push(Command::SetFollow(!v.time.follow));
            }
            ui.separator();
            ui.toggle_value(&mut panels.charts, "charts");
            ui.toggle_value(&mut panels.details, "details");
            ui.toggle_value(&mut panels.filters, "filters");
            ui.separator();
            egui::ComboBox::from_id_salt("speed")
                .width(64.0)
                .selected_text(speed_text(v.time.speed))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        if ui
                            .selectable_label((s - v.time.speed).abs() < 1e-9, speed_text(s))
                            .clicked()
                        {
                            cmds.push(Command::SetSpeed(s));
                        }
                    }
                })
                .response
                .on_hover_text("Playback speed, a multiple of real time (< and >)");
            let play = if v.time.playing {
                "⏸ pause"
            } else {
                "▶ play"
            };
            if ui
                .button(play)
                .on_hover_text("Play from the cursor (Space)")
                .clicked()
            {
                cmds.push(Command::TogglePlay);
            }
            if ui
                .button("fit")
                .on_hover_text("Show the whole session (double click)")
                .clicked()
            {
                cmds.push(Command::FitView);
            }
            open_ui(ui, v, &mut cmds);
        });
    });
    cmds
}

/// Another session file, by its path (dropping a file on the window works too).
fn open_ui(ui: &mut Ui, v: &Viewer, cmds: &mut Vec<Command>) {
    ui.menu_button("open…", |ui| {
        let id = ui.scope_id().with("open-path");
        let mut path = ui.data_mut(|d| d.get_temp::<String>(id).unwrap_or_default());
        let label = ui.label("Session file:");
        let edit = ui
            .add(
                egui::TextEdit::singleline(&mut path)
                    .hint_text(v.session.path.display().to_string())
                    .desired_width(360.0),
            )
            .labelled_by(label.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("open").clicked() || enter {
            cmds.push(Command::Open(path.clone().into()));
            ui.close();
        }
        ui.label(RichText::new("or drop a .beefine file on the window").weak());
        ui.data_mut(|d| d.insert_temp(id, path));
    });
}

fn speed_text(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.0}×")
    } else {
        format!("{s}×")
    }
}
