//! The event table: the shown events, virtualized (only the visible rows are laid out), with
//! the row at the cursor highlighted and kept in view.

use egui::{Align, Label, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::{FAILED_COLOR, family_color};
use crate::state::session::component_name;
use crate::state::story::{ViewRow, run_text};
use crate::state::{Command, Viewer, describe};

pub const ROW_HEIGHT: f32 = 18.0;

pub fn table_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let store = &v.session.store;
    let rows = &v.rows;
    let n = rows.len();
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
        table = table.scroll_to_row(r, Some(Align::Center));
    }
    table
        .header(20.0, |header| header_ui(header, v, &mut cmds))
        .body(|body| {
            body.rows(ROW_HEIGHT, n, |mut row| {
                let r = row.index();
                let idx = match rows[r] {
                    ViewRow::Event(idx) => idx,
                    ViewRow::Run {
                        first,
                        len,
                        class,
                        expanded,
                    } => {
                        run_row(
                            v,
                            &mut row,
                            (first, len, class, expanded),
                            cursor_row == Some(r),
                            &mut cmds,
                        );
                        return;
                    }
                };
                let Some(e) = store.get(idx) else {
                    return;
                };
                row.set_selected(
                    v.selected == Some(idx) || (v.selected.is_none() && cursor_row == Some(r)),
                );
                let failed = e.failed() && v.session.story.expected_of(idx).is_none();
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

/// The column titles; a click sorts by the column (again: the other way).
fn header_ui(mut header: egui_extras::TableRow<'_, '_>, v: &Viewer, cmds: &mut Vec<Command>) {
    use crate::state::SortColumn as C;
    for (title, column) in [
        ("time", C::Time),
        ("process", C::Process),
        ("container", C::Container),
        ("component", C::Component),
        ("kind", C::Kind),
    ] {
        header.col(|ui| {
            let arrow = match (v.sort.column == column, v.sort.descending) {
                (true, false) => " ▲",
                (true, true) => " ▼",
                (false, _) => "",
            };
            if ui
                .add(
                    Label::new(RichText::new(format!("{title}{arrow}")).strong())
                        .sense(Sense::click()),
                )
                .on_hover_text(format!("Sort by {title} (again: the other way)"))
                .clicked()
            {
                cmds.push(Command::SortBy(column));
            }
        });
    }
    header.col(|ui| {
        ui.strong("summary");
    });
}

/// A collapsed run of similar file events: one row that expands on click.
fn run_row(
    v: &Viewer,
    row: &mut egui_extras::TableRow<'_, '_>,
    (first, len, class, expanded): (u32, u32, beefine_schema::story::runs::RunClass, bool),
    at_cursor: bool,
    cmds: &mut Vec<Command>,
) {
    let store = &v.session.store;
    let rows = &v.filtered.rows;
    let head = rows[first as usize];
    let last = rows[(first + len - 1) as usize];
    row.set_selected(at_cursor && !expanded);
    let weak = |s: String| RichText::new(s).weak();
    row.col(|ui| {
        ui.add(
            Label::new(weak(super::rel_time(v, store.ts_of(head))).monospace()).selectable(false),
        );
    });
    row.col(|ui| {
        let label = store
            .get(head)
            .map(|e| format!("{} {}", store.comm(e.ctx), e.ctx.tgid))
            .unwrap_or_default();
        ui.add(Label::new(weak(label)).selectable(false).truncate());
    });
    row.col(|ui| {
        let label = store
            .container_of(head)
            .map(|c| v.session.container_label(c))
            .unwrap_or_default();
        ui.add(Label::new(weak(label)).selectable(false).truncate());
    });
    row.col(|ui| {
        ui.add(
            Label::new(weak(
                component_name(v.session.component_of(head)).to_owned(),
            ))
            .selectable(false)
            .truncate(),
        );
    });
    row.col(|ui| {
        ui.add(
            Label::new(
                RichText::new(format!("{} ×{len}", if expanded { "▼" } else { "▶" })).monospace(),
            )
            .selectable(false),
        );
    });
    row.col(|ui| {
        ui.add(
            Label::new(RichText::new(run_text(&v.session, rows, first, len, class)).italics())
                .selectable(false)
                .truncate(),
        )
        .on_hover_text(format!(
            "{} events until {} — click to {}",
            len,
            super::rel_time(v, store.ts_of(last)),
            if expanded {
                "collapse"
            } else {
                "show them one by one"
            }
        ));
    });
    if row.response().clicked() {
        cmds.push(Command::ToggleRun(head));
    }
}
