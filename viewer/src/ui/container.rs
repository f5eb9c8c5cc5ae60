//! The state of the story's container at the cursor, drawn: namespace boxes (the host's
//! and its own, per type, with the processes in each), the overlay stack, the mount table
//! as the container sees it, the lineage across the stack, its cgroup and latest sample.

use beefine_schema::story::{ContainerState, LineageNode, NamespaceState};
use egui::{CollapsingHeader, Color32, Frame, Grid, Margin, RichText, Stroke, Ui};

use crate::format;
use crate::state::{Command, Viewer};

const HOST_COLOR: Color32 = Color32::from_rgb(0x6a, 0x75, 0x85);
const OWN_COLOR: Color32 = Color32::from_rgb(0x4e, 0x9a, 0xf0);
const UPPER_COLOR: Color32 = Color32::from_rgb(0x60, 0xbd, 0x68);
const LOWER_COLOR: Color32 = Color32::from_rgb(0x5d, 0x8a, 0xc8);

pub fn container_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let cmds = Vec::new();
    ui.heading("Container at the cursor");
    ui.separator();
    let (Some(ci), Some(st)) = (v.story_container(), v.container_state.as_ref()) else {
        ui.label(RichText::new("This session has no containers.").weak());
        return cmds;
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(v.session.container_label(ci))
                .strong()
                .size(16.0),
        );
        ui.label(
            RichText::new(beefine_schema::format::short_id(&st.container_id))
                .monospace()
                .weak(),
        );
        ui.label(RichText::new(&st.status).color(super::container_color(ci)));
        if let Some(ch) = &st.chapter {
            ui.label(RichText::new(format!("· {ch}")).weak());
        }
    });
    namespaces_ui(ui, st);
    overlay_ui(ui, st);
    mounts_ui(ui, st);
    lineage_ui(ui, v, st);
    cgroup_ui(ui, v, st);
    cmds
}

fn ns_box(ui: &mut Ui, ns: Option<&NamespaceState>, color: Color32, empty: &str) {
    let filled = ns.is_some();
    Frame::new()
        .stroke(Stroke::new(
            1.0,
            if filled {
                color
            } else {
                color.gamma_multiply(0.35)
            },
        ))
        .fill(if filled {
            color.gamma_multiply(0.18)
        } else {
            Color32::TRANSPARENT
        })
        .inner_margin(Margin::symmetric(5, 2))
        .corner_radius(3)
        .show(ui, |ui| {
            ui.set_min_width(130.0);
            match ns {
                Some(n) => {
                    ui.vertical(|ui| {
                        ui.add(
                            egui::Label::new(
                                RichText::new(format!("{}:[{}]", n.ns_type, n.inode))
                                    .monospace()
                                    .size(11.0),
                            )
                            .truncate(),
                        );
                        let pids = if n.pids.is_empty() {
                            "—".to_owned()
                        } else {
                            let list: Vec<String> = n.pids.iter().map(u32::to_string).collect();
                            format!("pids {}", list.join(" "))
                        };
                        ui.add(egui::Label::new(RichText::new(pids).small()).wrap());
                    });
                }
                None => {
                    ui.label(RichText::new(empty).weak().small());
                }
            }
        });
}

/// One row per namespace type: the host's box and the container's own.
fn namespaces_ui(ui: &mut Ui, st: &ContainerState) {
    CollapsingHeader::new("namespaces: host · container")
        .id_salt("namespaces")
        .default_open(true)
        .show(ui, |ui| {
            Grid::new("ns-boxes")
                .num_columns(3)
                .spacing([6.0, 3.0])
                .show(ui, |ui| {
                    ui.label("");
                    ui.label(RichText::new("host").color(HOST_COLOR).strong());
                    ui.label(RichText::new("container").color(OWN_COLOR).strong());
                    ui.end_row();
                    for n in &st.namespaces {
                        ui.label(RichText::new(&n.ns_type).monospace());
                        let own = n.owner != "host";
                        if own {
                            ns_box(ui, None, HOST_COLOR, "left behind");
                            ns_box(ui, Some(n), OWN_COLOR, "");
                        } else {
                            let note = if n.created_ts_nanos.is_some() {
                                "not made yet"
                            } else {
                                "shares the host's"
                            };
                            ns_box(ui, Some(n), HOST_COLOR, "");
                            ns_box(ui, None, OWN_COLOR, note);
                        }
                        ui.end_row();
                    }
                });
        });
}

/// The overlay stack: what the container sees on top, the writable layer, the image
/// layers underneath.
fn overlay_ui(ui: &mut Ui, st: &ContainerState) {
    let o = &st.overlay;
    if o.lower.is_empty() && o.upper.is_none() {
        return;
    }
    CollapsingHeader::new(format!(
        "overlay root filesystem{}",
        if o.mounted { "" } else { " (not mounted now)" }
    ))
    .id_salt("overlay")
    .default_open(true)
    .show(ui, |ui| {
        let layer = |ui: &mut Ui, color: Color32, title: String, dir: Option<&str>| {
            Frame::new()
                .stroke(Stroke::new(1.0, color))
                .fill(color.gamma_multiply(if o.mounted { 0.25 } else { 0.08 }))
                .inner_margin(Margin::symmetric(6, 2))
                .corner_radius(2)
                .show(ui, |ui| {
                    ui.set_min_width(ui.available_width());
                    let r =
                        ui.add(egui::Label::new(RichText::new(title).small().strong()).truncate());
                    if let Some(d) = dir {
                        r.on_hover_text(d);
                    }
                });
        };
        layer(
            ui,
            Color32::from_rgb(0xfa, 0xa4, 0x3a),
            "merged: what the container sees as /".into(),
            o.merged.as_deref(),
        );
        layer(
            ui,
            UPPER_COLOR,
            "upper: its writable layer (new and changed files)".into(),
            o.upper.as_deref(),
        );
        for l in &o.lower {
            let title = match (l.init, l.layer, l.of) {
                (true, _, _) => {
                    "init layer: Docker's /etc/hosts, /etc/resolv.conf, … placeholders".to_owned()
                }
                (_, Some(n), Some(of)) => format!(
                    "image layer {n} of {of}{}",
                    l.digest
                        .as_deref()
                        .map(|d| format!("  {}", format::short_id(d)))
                        .unwrap_or_default()
                ),
                _ => "a lower layer".to_owned(),
            };
            layer(
                ui,
                if l.init { HOST_COLOR } else { LOWER_COLOR },
                title,
                Some(&l.dir),
            );
        }
        if let Some(w) = &o.work {
            ui.label(
                RichText::new(format!("work: {}", format::shorten_ids(w)))
                    .weak()
                    .small(),
            );
        }
    });
}

fn mounts_ui(ui: &mut Ui, st: &ContainerState) {
    CollapsingHeader::new(format!("mount table ({})", st.mounts.len()))
        .id_salt("mount-table")
        .default_open(true)
        .show(ui, |ui| {
            ui.add(egui::Label::new(RichText::new(&st.mounts_note).weak().small()).wrap());
            // Long paths are cut, not allowed to widen the panel; the tooltip has them.
            for m in &st.mounts {
                let src = if m.root == "/" {
                    m.source.clone()
                } else {
                    format!("{}[{}]", m.source, m.root)
                };
                let line = format!(
                    "{}  {}  {}",
                    format::shorten_ids(&m.mount_point),
                    m.fstype,
                    format::shorten_ids(&src)
                );
                ui.add(egui::Label::new(RichText::new(line).monospace().size(11.0)).truncate())
                    .on_hover_text(format!(
                        "{}\n{} {src}\n{}\n{}",
                        m.mount_point, m.fstype, m.options, m.super_options
                    ));
            }
        });
}

fn lineage_line(n: &LineageNode) -> RichText {
    let names = if n.names.len() > 1 {
        n.names.join(" → ")
    } else {
        n.comm.clone()
    };
    let exit = n
        .exit
        .as_deref()
        .map(|e| format!("  ({e})"))
        .unwrap_or_default();
    let text = RichText::new(format!(
        "{}{} {names}{exit}",
        "  ".repeat(n.depth as usize),
        n.pid
    ))
    .monospace()
    .size(11.5);
    match (n.alive, n.in_container) {
        (false, _) => text.weak(),
        (true, true) => text.color(OWN_COLOR),
        (true, false) => text,
    }
}

/// dockerd → containerd → shim → runc → runc:[1:CHILD] → runc:[2:INIT] → the entrypoint.
fn lineage_ui(ui: &mut Ui, v: &Viewer, st: &ContainerState) {
    CollapsingHeader::new(format!("lineage ({} processes)", st.lineage.len()))
        .id_salt("lineage")
        .default_open(true)
        .show(ui, |ui| {
            if st.lineage.is_empty() {
                ui.label(RichText::new("no process worked for it yet").weak());
            }
            for n in &st.lineage {
                let args = if n.argv.len() > 1 {
                    n.argv.join(" ")
                } else {
                    String::new()
                };
                ui.add(egui::Label::new(lineage_line(n)).truncate())
                    .on_hover_text(format!(
                        "{} · started {}{}{}",
                        n.role,
                        super::rel_time(v, n.start_ts_nanos),
                        n.exit_ts_nanos
                            .map(|t| format!(", ended {}", super::rel_time(v, t)))
                            .unwrap_or_default(),
                        if args.is_empty() {
                            String::new()
                        } else {
                            format!("\n{}", format::ellipsize(&args, 300))
                        }
                    ));
            }
        });
}

fn cgroup_ui(ui: &mut Ui, v: &Viewer, st: &ContainerState) {
    CollapsingHeader::new("cgroup and resources")
        .id_salt("cgroup")
        .default_open(true)
        .show(ui, |ui| {
            Grid::new("cgroup-grid")
                .num_columns(2)
                .spacing([10.0, 1.0])
                .show(ui, |ui| {
                    let mut row = |k: &str, val: String| {
                        ui.label(RichText::new(k).weak());
                        ui.add(egui::Label::new(RichText::new(val).monospace()).wrap());
                        ui.end_row();
                    };
                    if let Some(p) = &st.cgroup.path {
                        row("cgroup", format::shorten_ids(p));
                    }
                    row(
                        "exists",
                        if st.cgroup.created {
                            "yes".into()
                        } else {
                            "not yet, or no more".into()
                        },
                    );
                    if !st.cgroup.pids.is_empty() {
                        row(
                            "pids in it",
                            st.cgroup
                                .pids
                                .iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                    }
                    if let Some(s) = &st.sample {
                        row("sample at", super::rel_time(v, s.ts_nanos));
                        row("cpu time", format::duration(s.cpu_nanos));
                        row("memory", format::bytes(s.mem_bytes));
                        row(
                            "network",
                            format!(
                                "↓ {}  ↑ {}",
                                format::bytes(s.net_rx_bytes),
                                format::bytes(s.net_tx_bytes)
                            ),
                        );
                        row("pids", s.pids.to_string());
                    }
                });
        });
}
