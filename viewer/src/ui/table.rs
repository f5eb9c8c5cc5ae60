//! The event table: the shown events, virtualized (only the visible rows are laid out), with
//! the row at the cursor highlighted and kept in view.

use egui::{Align, Label, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::{FAILED_COLOR, family_color};
use crate::state::session::component_name;
use crate::state::{Command, Viewer, describe};

pub const ROW_HEIGHT: f32 = 18.0;

pub fn table_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let store = &v.session.store;
    let rows = &v.filtered.rows;
    let n = rows.len();
    let descending_id = ui.scope_id().with("descending");
    let descending = ui.data(|d| d.get_temp::<bool>(descending_id).unwrap_or(false));
    let row_index = |r: usize| if descending { n - 1 - r } else { r };
    let cursor_row = v.cursor_row();

    if n == 0 {
        ui.add_space(12.0);
        ui.vertical_centered(|ui| {
            ui.label(RichText::new("No events match the filters.").weak());
        });
        return cmds;
    }

    let mut table = TableBuilder::new(ui)
        .id_salt("events")
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(egui::Layout::left_to_right(Align::Center))
        .column(Column::initial(96.0).at_least(70.0))
        .column(Column::initial(150.0).at_least(60.0).clip(true))
        .column(Column::initial(90.0).at_least(40.0).clip(true))
        .column(Column::initial(92.0).at_least(40.0).clip(true))
        .column(Column::initial(96.0).at_least(50.0))
        .column(Column::remainder().at_least(120.0).clip(true))
        .min_scrolled_height(0.0)
        .max_scroll_height(f32::INFINITY);
    if v.scroll_to_selection
        && let Some(r) = cursor_row
    {
        table = table.scroll_to_row(row_index(r), Some(Align::Center));
    }
    table
        .header(20.0, |mut header| {
            header.col(|ui| {
                let arrow = if descending { "▼" } else { "▲" };
                if ui
                    .add(
                        Label::new(RichText::new(format!("time {arrow}")).strong())
                            .sense(Sense::click()),
                    )
                    .on_hover_text("Sort by time, oldest or newest first")
                    .clicked()
                {
                    ui.data_mut(|d| d.insert_temp(descending_id, !descending));
                }
            });
            for title in ["process", "container", "component", "kind", "summary"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, n, |mut row| {
                let r = row_index(row.index());
                let idx = rows[r];
                let Some(e) = store.get(idx) else {
                    return;
                };
                row.set_selected(
                    v.selected == Some(idx) || (v.selected.is_none() && cursor_row == Some(r)),
                );
                let failed = e.failed();
                let text = |s: String| {
                    if failed {
                        RichText::new(s).color(FAILED_COLOR)
                    } else {
                        RichText::new(s)
                    }
                };
                row.col(|ui| {
                    ui.add(
                        Label::new(text(super::rel_time(v, e.ts_nanos)).monospace())
                            .selectable(false),
                    );
                });
                row.col(|ui| {
                    let comm = store.comm(e.ctx);
                    let label = if e.ctx.tgid == 0 && comm.is_empty() {
                        "—".to_owned()
                    } else {
                        format!("{comm} {}", e.ctx.tgid)
                    };
                    ui.add(Label::new(text(label)).selectable(false).truncate());
                });
                row.col(|ui| {
                    let label = e
                        .container
                        .map(|c| v.session.container_label(c))
                        .unwrap_or_default();
                    ui.add(Label::new(text(label)).selectable(false).truncate());
                });
                row.col(|ui| {
                    ui.add(
                        Label::new(text(component_name(v.session.component_of(idx)).to_owned()))
                            .selectable(false)
                            .truncate(),
                    );
                });
                row.col(|ui| {
                    ui.add(
                        Label::new(
                            RichText::new(e.kind.name())
                                .color(family_color(e.kind.family()))
                                .monospace(),
                        )
                        .selectable(false),
                    );
                });
                row.col(|ui| {
                    ui.add(
                        Label::new(text(crate::format::shorten_ids(
                            &v.session
                                .overlay
                                .abbreviate(&describe::summary(&v.session, idx)),
                        )))
                        .selectable(false)
                        .truncate(),
                    );
                });
                if row.response().clicked() {
                    cmds.push(Command::Select(idx));
                }
            });
        });
    cmds
}
