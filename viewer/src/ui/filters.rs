//! The filter panel: kinds by family, process, container, stack component, free text,
//! failed calls, time range. Every change returns a new filter for the app to apply.

use beefine_schema::{Family, Kind};
use egui::{CollapsingHeader, RichText, ScrollArea, TextEdit, Ui};

use super::{TEXT_FILTER_ID, family_color};
use crate::format;
use crate::state::filter::{ContainerChoice, Filter};
use crate::state::session::{COMPONENT_COUNT, component_name};
use crate::state::{Command, Viewer};

pub fn filters_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let mut f = v.filter.clone();

    ui.horizontal(|ui| {
        ui.heading("Filters");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(!v.filter.is_empty(), egui::Button::new("clear").small())
                .on_hover_text("Show every event")
                .clicked()
            {
                f = Filter::default();
            }
        });
    });
    ui.separator();

    ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            text_and_process_ui(ui, &mut f);
            container_ui(ui, v, &mut f);
            failed_and_time_ui(ui, v, &mut f, &mut cmds);
            kinds_ui(ui, v, &mut f);
            components_ui(ui, v, &mut f);
        });

    if f != v.filter {
        cmds.push(Command::SetFilter(f));
    }
    cmds
}

fn text_and_process_ui(ui: &mut Ui, f: &mut Filter) {
    let text_label = ui.label(RichText::new("Text").strong());
    let mut text = f.text.clone();
    let resp = ui
        .add(
            TextEdit::singleline(&mut text)
                .id(egui::Id::unique(TEXT_FILTER_ID))
                .hint_text("path, flag, errno, name…  ( / )")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(text_label.id);
    if resp.changed() {
        f.text = text;
    }
    ui.add_space(4.0);

    let process_label = ui.label(RichText::new("Process").strong());
    let mut process = f.process.clone();
    if ui
        .add(
            TextEdit::singleline(&mut process)
                .hint_text("name or pid")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(process_label.id)
        .changed()
    {
        f.process = process;
    }
    ui.add_space(4.0);
}

fn container_ui(ui: &mut Ui, v: &Viewer, f: &mut Filter) {
    let container_label = ui.label(RichText::new("Container").strong());
    let label = |c: &ContainerChoice| match c {
        ContainerChoice::Any => "any".to_owned(),
        ContainerChoice::Host => "host (no container)".to_owned(),
        ContainerChoice::Container(id) => v.session.containers.by_id(id).map_or_else(
            || format::short_id(id).to_owned(),
            |i| v.session.container_label(i),
        ),
    };
    egui::ComboBox::from_id_salt("container-filter")
        .width(ui.available_width() - 8.0)
        .selected_text(label(&f.container))
        .show_ui(ui, |ui| {
            let mut choice = f.container.clone();
            ui.selectable_value(&mut choice, ContainerChoice::Any, "any");
            ui.selectable_value(&mut choice, ContainerChoice::Host, "host (no container)");
            let mut pod = None;
            for (i, c) in v.session.containers.containers().iter().enumerate() {
                // A pod's containers are next to each other: one heading per pod.
                let this = v.session.pod_of(i);
                if let Some(p) = this
                    && pod != Some(&p.pod_id)
                {
                    ui.label(RichText::new(format!("pod {}", p.full_name())).weak());
                }
                pod = this.map(|p| &p.pod_id);
                ui.selectable_value(
                    &mut choice,
                    ContainerChoice::Container(c.container_id.clone()),
                    format!("{} ({})", v.session.container_label(i), c.short_id()),
                );
            }
            f.container = choice;
        })
        .response
        .labelled_by(container_label.id)
        .on_hover_text("Only the events of one container, or of the host");
    ui.add_space(4.0);
}

fn failed_and_time_ui(ui: &mut Ui, v: &Viewer, f: &mut Filter, cmds: &mut Vec<Command>) {
    let mut failed = f.failed_only;
    if ui
        .checkbox(
            &mut failed,
            format!(
                "failed calls only ({} shown)",
                format::thousands(v.filtered.failed as u64)
            ),
        )
        .on_hover_text("Syscalls that returned an error (a negative result)")
        .changed()
    {
        f.failed_only = failed;
    }
    ui.add_space(4.0);

    ui.horizontal(|ui| {
        ui.label(RichText::new("Time").strong());
        if let Some((lo, hi)) = f.time_range {
            ui.label(format!(
                "{} – {}",
                super::rel_time(v, lo),
                super::rel_time(v, hi)
            ));
            if ui.small_button("×").on_hover_text("All times").clicked() {
                f.time_range = None;
            }
        } else {
            ui.label(RichText::new("all").weak());
        }
    });
    if ui
        .button("limit to the visible range")
        .on_hover_text("Only events inside the timeline's current view")
        .clicked()
    {
        cmds.push(Command::TimeRangeFromView);
    }
    ui.add_space(6.0);
}

/// The kinds, by family: a checkbox per family (indeterminate when partly shown) that opens
/// on the family's kinds.
fn kinds_ui(ui: &mut Ui, v: &Viewer, f: &mut Filter) {
    let store = &v.session.store;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Kinds").strong());
        if ui.small_button("all").clicked() {
            f.hidden_kinds.clear();
        }
        if ui.small_button("none").clicked() {
            f.only_kinds(&[]);
        }
    });
    for family in Family::ALL {
        let kinds: Vec<Kind> = Kind::ALL
            .iter()
            .copied()
            .filter(|k| k.family() == family && store.kind_count(*k) > 0)
            .collect();
        if kinds.is_empty() {
            continue;
        }
        let total: u64 = kinds.iter().map(|k| store.kind_count(*k)).sum();
        let shown = kinds.iter().filter(|k| f.kind_shown(**k)).count();
        let id = ui.make_persistent_id(("family", family.name()));
        egui::collapsing_header::CollapsingState::load_with_default_open(ui.ctx(), id, false)
            .show_header(ui, |ui| {
                let mut all = shown == kinds.len();
                let resp = ui.add(
                    egui::Checkbox::new(
                        &mut all,
                        RichText::new(format!("{}  {}", family.name(), format::thousands(total)))
                            .color(family_color(family)),
                    )
                    .indeterminate(shown > 0 && shown < kinds.len()),
                );
                if resp.changed() {
                    for k in &kinds {
                        f.set_kind(*k, all);
                    }
                }
            })
            .body(|ui| {
                for k in &kinds {
                    let mut on = f.kind_shown(*k);
                    if ui
                        .checkbox(
                            &mut on,
                            format!("{}  {}", k.name(), format::thousands(store.kind_count(*k))),
                        )
                        .on_hover_text(k.about())
                        .changed()
                    {
                        f.set_kind(*k, on);
                    }
                }
            });
    }
    ui.add_space(6.0);
}

fn components_ui(ui: &mut Ui, v: &Viewer, f: &mut Filter) {
    CollapsingHeader::new(RichText::new("Components").strong())
        .default_open(true)
        .show(ui, |ui| {
            let mut present = [false; COMPONENT_COUNT];
            for &c in &v.session.ctx_component {
                present[usize::from(c)] = true;
            }
            for (c, _) in present.iter().enumerate().filter(|(_, p)| **p) {
                let name = component_name(c as u8);
                let mut on = !f.hidden_components.contains(name);
                if ui.checkbox(&mut on, name).changed() {
                    if on {
                        f.hidden_components.remove(name);
                    } else {
                        f.hidden_components.insert(name.to_owned());
                    }
                }
            }
        });
}
