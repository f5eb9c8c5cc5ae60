//! The container at the cursor: its state, namespaces, cgroup, the mounts made so far, the
//! processes alive as a small tree, and its latest resource sample.

use std::collections::{HashMap, HashSet};

use beefine_schema::{Container, Process, names};
use egui::{CollapsingHeader, Grid, RichText, Ui};

use crate::format;
use crate::state::session::{component_name, container_lifetime};
use crate::state::{Command, Viewer, describe};

/// Mounts listed at most (the latest ones).
const MOUNTS_SHOWN: usize = 40;

pub fn container_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let l = &v.session;
    let cursor = v.time.cursor();
    ui.heading("Container at the cursor");
    ui.separator();
    let Some(ci) = v.focus_container() else {
        ui.label(RichText::new("This session has no containers.").weak());
        return cmds;
    };
    let Some(c) = l.container(ci) else {
        return cmds;
    };
    let (start, end) = container_lifetime(c);
    let state = if start.is_some_and(|s| cursor < s) {
        "not created yet"
    } else if c.died_ts_nanos.is_some_and(|d| d <= cursor) {
        "exited"
    } else if c.started_ts_nanos.is_some_and(|s| s <= cursor) {
        "running"
    } else if end.is_some_and(|e| e <= cursor) {
        "gone"
    } else {
        "created"
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(l.container_label(ci)).strong().size(16.0));
        ui.label(RichText::new(c.short_id()).monospace().weak());
        ui.label(RichText::new(state).color(super::container_color(ci)));
    });
    facts_ui(ui, v, c);
    namespaces_ui(ui, c);
    resources_ui(ui, v, ci);
    let alive = l.processes_alive(ci, cursor);
    CollapsingHeader::new(format!("processes alive ({})", alive.len()))
        .id_salt("processes")
        .default_open(true)
        .show(ui, |ui| {
            if alive.is_empty() {
                ui.label(RichText::new("none at this time").weak());
            }
            process_tree_ui(ui, &alive);
        });

    mounts_ui(ui, v, ci, &mut cmds);
    cmds
}

/// Image, init pid, lifetime, exit code and cgroup.
fn facts_ui(ui: &mut Ui, v: &Viewer, c: &Container) {
    let cursor = v.time.cursor();
    Grid::new("container-facts")
        .num_columns(2)
        .spacing([10.0, 2.0])
        .show(ui, |ui| {
            let mut row = |k: &str, val: String| {
                ui.label(RichText::new(k).weak());
                ui.add(egui::Label::new(RichText::new(val).monospace()).wrap());
                ui.end_row();
            };
            row("image", c.image.clone());
            if let Some(pid) = c.init_pid {
                row("init pid", pid.to_string());
            }
            for (label, ts) in [
                ("created", c.created_ts_nanos),
                ("started", c.started_ts_nanos),
                ("died", c.died_ts_nanos),
            ] {
                if let Some(ts) = ts {
                    row(label, super::rel_time(v, ts));
                }
            }
            if let Some(code) = c
                .exit_code
                .filter(|_| c.died_ts_nanos.is_some_and(|d| d <= cursor))
            {
                row("exit code", code.to_string());
            }
            if let Some(cg) = c.cgroup_id {
                row("cgroup id", cg.to_string());
            }
            if let Some(p) = &c.cgroup_path {
                row("cgroup", p.clone());
            }
        });
}

fn namespaces_ui(ui: &mut Ui, c: &Container) {
    if !c.namespaces.is_empty() {
        CollapsingHeader::new("namespaces")
            .default_open(true)
            .show(ui, |ui| {
                Grid::new("ns")
                    .num_columns(2)
                    .spacing([10.0, 1.0])
                    .show(ui, |ui| {
                        for (kind, inode) in &c.namespaces {
                            ui.label(RichText::new(kind).weak());
                            ui.label(RichText::new(format!("{kind}:[{inode}]")).monospace());
                            ui.end_row();
                        }
                    });
            });
    }
}

/// The latest resource sample at the cursor.
fn resources_ui(ui: &mut Ui, v: &Viewer, ci: usize) {
    let (l, cursor) = (&v.session, v.time.cursor());
    if let Some(s) = l.sample_at(ci, cursor) {
        CollapsingHeader::new(format!("resources at {}", super::rel_time(v, s.ts_nanos)))
            .id_salt("resources")
            .default_open(true)
            .show(ui, |ui| {
                let r = &s.sample;
                Grid::new("res")
                    .num_columns(2)
                    .spacing([10.0, 1.0])
                    .show(ui, |ui| {
                        let mut row = |k: &str, val: String| {
                            ui.label(RichText::new(k).weak());
                            ui.label(val);
                            ui.end_row();
                        };
                        row("cpu time", format::duration(r.cpu_nanos));
                        row(
                            "memory",
                            if r.mem_limit_bytes > 0 && r.mem_limit_bytes < (1 << 60) {
                                format!(
                                    "{} of {}",
                                    format::bytes(r.mem_bytes),
                                    format::bytes(r.mem_limit_bytes)
                                )
                            } else {
                                format::bytes(r.mem_bytes)
                            },
                        );
                        row(
                            "block I/O",
                            format!(
                                "↓ {}  ↑ {}",
                                format::bytes(r.blk_read_bytes),
                                format::bytes(r.blk_write_bytes)
                            ),
                        );
                        row(
                            "network",
                            format!(
                                "↓ {}  ↑ {}",
                                format::bytes(r.net_rx_bytes),
                                format::bytes(r.net_tx_bytes)
                            ),
                        );
                        row("pids", r.pids.to_string());
                    });
            });
    }
}

/// The container's mount calls up to the cursor (the latest ones); a click selects one.
fn mounts_ui(ui: &mut Ui, v: &Viewer, ci: usize, cmds: &mut Vec<Command>) {
    let (l, cursor) = (&v.session, v.time.cursor());
    let mounts = &l.container_mounts[ci];
    let so_far = mounts.partition_point(|&i| l.store.ts_of(i) <= cursor);
    CollapsingHeader::new(format!("mounts so far ({so_far})"))
        .id_salt("mounts")
        .default_open(true)
        .show(ui, |ui| {
            if so_far > MOUNTS_SHOWN {
                ui.label(RichText::new(format!("… {} earlier", so_far - MOUNTS_SHOWN)).weak());
            }
            for &i in &mounts[so_far.saturating_sub(MOUNTS_SHOWN)..so_far] {
                let failed = l.store.result_of(i).is_some_and(|r| r < 0);
                let text = format!("{}  {}", l.store.kind_of(i).name(), describe::summary(l, i));
                let text = if failed {
                    RichText::new(text).color(super::FAILED_COLOR)
                } else {
                    RichText::new(text)
                };
                let selected = v.selected == Some(i);
                if ui
                    .add(
                        egui::Button::selectable(selected, text.monospace().size(11.5))
                            .wrap_mode(egui::TextWrapMode::Truncate),
                    )
                    .on_hover_text(format!(
                        "{} — click to go there",
                        super::rel_time(v, l.store.ts_of(i))
                    ))
                    .clicked()
                {
                    cmds.push(Command::Select(i));
                }
            }
        });
}

/// The processes as a tree by parent pid (processes whose parent is not in the list are
/// roots), each line: pid, name, component.
fn process_tree_ui(ui: &mut Ui, procs: &[&Process]) {
    let pids: HashSet<u32> = procs.iter().map(|p| p.pid).collect();
    let mut children: HashMap<u32, Vec<&Process>> = HashMap::new();
    let mut roots = Vec::new();
    for p in procs {
        if p.ppid != p.pid && pids.contains(&p.ppid) {
            children.entry(p.ppid).or_default().push(p);
        } else {
            roots.push(*p);
        }
    }
    fn walk(
        ui: &mut Ui,
        p: &Process,
        depth: usize,
        children: &HashMap<u32, Vec<&Process>>,
        seen: &mut HashSet<u32>,
    ) {
        if !seen.insert(p.pid) || depth > 32 {
            return;
        }
        let indent = "   ".repeat(depth);
        let branch = if depth == 0 { "" } else { "└ " };
        let args = if p.argv.len() > 1 {
            format!("  {}", format::ellipsize(&p.argv[1..].join(" "), 30))
        } else {
            String::new()
        };
        ui.label(RichText::new(format!("{indent}{branch}{} {}{args}", p.pid, p.comm)).monospace())
            .on_hover_text(format!(
                "{} · {}{}",
                component_name(
                    beefine_schema::Component::ALL
                        .iter()
                        .position(|c| *c == p.component)
                        .unwrap_or(0) as u8
                ),
                if p.argv.is_empty() {
                    p.comm.clone()
                } else {
                    p.argv.join(" ")
                },
                p.exit_code
                    .map(|c| format!(" · {}", names::wait_status(c)))
                    .unwrap_or_default()
            ));
        if let Some(kids) = children.get(&p.pid) {
            for k in kids {
                walk(ui, k, depth + 1, children, seen);
            }
        }
    }
    let mut seen = HashSet::new();
    for r in roots {
        walk(ui, r, 0, &children, &mut seen);
    }
}
