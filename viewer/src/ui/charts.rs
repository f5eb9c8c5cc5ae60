//! Resource charts per container (CPU, memory, block I/O, network) on the timeline's time
//! range, with the cursor. A click on a chart moves the cursor there.

use beefine_schema::Sample;
use egui::{RichText, Ui};
use egui_plot::{HoverPosition, Legend, Line, Plot, PlotPoints, Points, VLine};

use super::{CURSOR_COLOR, container_color};
use crate::state::{Command, Viewer};

/// A value from a sample and the one before it (rates need both; the first has none).
type SeriesFn = fn(Option<&Sample>, &Sample) -> Option<f64>;

/// One chart: its title, unit and its series.
struct Chart {
    title: &'static str,
    unit: &'static str,
    series: &'static [(&'static str, SeriesFn)],
}

/// KiB/s of a cumulative counter between two samples.
fn rate(counter: fn(&Sample) -> u64, prev: Option<&Sample>, s: &Sample) -> Option<f64> {
    let prev = prev?;
    let dt = s.ts_nanos.checked_sub(prev.ts_nanos).filter(|&d| d > 0)? as f64 / 1e9;
    Some(counter(s).saturating_sub(counter(prev)) as f64 / dt / 1024.0)
}

const CHARTS: [Chart; 4] = [
    Chart {
        title: "CPU",
        unit: "% of a core",
        series: &[("", |p, s| {
            let p = p?;
            let dt = s.ts_nanos.checked_sub(p.ts_nanos).filter(|&d| d > 0)? as f64;
            Some(s.sample.cpu_nanos.saturating_sub(p.sample.cpu_nanos) as f64 / dt * 100.0)
        })],
    },
    Chart {
        title: "memory",
        unit: "MiB",
        series: &[("", |_, s| Some(s.sample.mem_bytes as f64 / 1048576.0))],
    },
    Chart {
        title: "block I/O",
        unit: "KiB/s",
        series: &[
            ("read", |p, s| rate(|s| s.sample.blk_read_bytes, p, s)),
            ("write", |p, s| rate(|s| s.sample.blk_write_bytes, p, s)),
        ],
    },
    Chart {
        title: "network",
        unit: "KiB/s",
        series: &[
            ("rx", |p, s| rate(|s| s.sample.net_rx_bytes, p, s)),
            ("tx", |p, s| rate(|s| s.sample.net_tx_bytes, p, s)),
        ],
    },
];

/// The points of one series: every `stride`-th sample in the time range, its value from
/// the sample before it (or from `start`, the container's start, for the first).
fn series_points(
    samples: &[Sample],
    start: Option<&Sample>,
    stride: usize,
    (lo, hi): (u64, u64),
    value: SeriesFn,
    secs: &dyn Fn(u64) -> f64,
) -> Vec<[f64; 2]> {
    (0..samples.len())
        .step_by(stride.max(1))
        .map(|i| {
            let prev = i
                .checked_sub(stride)
                .map(|p| &samples[p])
                .or_else(|| start.filter(|st| st.ts_nanos < samples[i].ts_nanos));
            (prev, &samples[i])
        })
        .filter(|(_, s)| (lo..=hi).contains(&s.ts_nanos))
        .filter_map(|(p, s)| value(p, s).map(|y| [secs(s.ts_nanos), y]))
        .collect()
}

/// The samples within `[lo, hi]` and one on each side, so lines reach the edges.
fn visible(samples: &[Sample], lo: u64, hi: u64) -> &[Sample] {
    let from = samples
        .partition_point(|s| s.ts_nanos < lo)
        .saturating_sub(1);
    let to = (samples.partition_point(|s| s.ts_nanos <= hi) + 1).min(samples.len());
    &samples[from..to.max(from)]
}

pub fn charts_ui(ui: &mut Ui, v: &Viewer) -> Vec<Command> {
    let mut cmds = Vec::new();
    let l = &v.session;
    let origin = l.origin();
    let secs = |ts: u64| (ts as f64 - origin as f64) / 1e9;
    let (view_lo, view_hi) = v.time.view();
    let shown: Vec<usize> = (0..l.containers.len())
        .filter(|&c| v.filter.container_shown(l, c) && !l.samples[c].is_empty())
        .collect();
    if shown.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label(
                RichText::new(if l.samples.iter().all(Vec::is_empty) {
                    "No resource samples in this session."
                } else {
                    "No samples for the containers the filter shows."
                })
                .weak(),
            );
        });
        return cmds;
    }
    let (range_lo, range_hi) = v.filter.time_range.unwrap_or((0, u64::MAX));
    let width = (ui.available_width() - 3.0 * ui.spacing().item_spacing.x) / 4.0;
    // The height under each chart's title, taken from the panel before the row is laid out
    // (a horizontal row is only as tall as its content): exactly what the panel has, so it
    // neither grows nor shrinks from one frame to the next.
    let title_height = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y;
    let height = (ui.available_height() - title_height).max(60.0);
    ui.horizontal(|ui| {
        for (ci, chart) in CHARTS.iter().enumerate() {
            ui.vertical(|ui| {
                // The series are told apart in the title (the second is paler), so that a
                // legend covers no line; one appears only for several containers.
                let names: Vec<&str> = chart
                    .series
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| !n.is_empty())
                    .collect();
                let title = match names.as_slice() {
                    [] => format!("{} ({})", chart.title, chart.unit),
                    [a, b] => format!("{} ({}): {a}, {b} paler", chart.title, chart.unit),
                    more => format!("{} ({}): {}", chart.title, chart.unit, more.join(", ")),
                };
                ui.label(RichText::new(title).strong());
                let legend = shown.len() > 1;
                let plot = Plot::new(("chart", ci))
                    .width(width.max(120.0))
                    .height(height)
                    .allow_drag(false)
                    .allow_zoom(false)
                    .allow_scroll(false)
                    .allow_boxed_zoom(false)
                    .allow_double_click_reset(false)
                    .show_x(false)
                    .include_y(0.0)
                    .y_axis_min_width(36.0)
                    .x_axis_formatter(|m, _| format!("{:.1} s", m.value))
                    .label_formatter(move |hover| match hover {
                        HoverPosition::NearDataPoint {
                            plot_name,
                            position,
                            ..
                        } => Some(format!(
                            "{plot_name}\n{:.3} s: {:.1} {}",
                            position.x, position.y, chart.unit
                        )),
                        HoverPosition::Elsewhere { position } => {
                            Some(format!("{:.3} s", position.x))
                        }
                    });
                // One line needs no legend: the title says what it is.
                let plot = if legend {
                    plot.legend(
                        Legend::default()
                            .position(egui_plot::Corner::LeftTop)
                            .background_alpha(0.5)
                            .follow_insertion_order(true),
                    )
                } else {
                    plot
                };
                let response = plot.show(ui, |plot_ui| {
                    plot_ui.set_plot_bounds_x(secs(view_lo)..=secs(view_hi));
                    let mut y_max: f64 = 0.0;
                    for &c in &shown {
                        let color = container_color(c);
                        let samples = visible(&l.samples[c], view_lo, view_hi);
                        // Rates of the first sample count from the container's creation, when
                        // its cgroup was new and everything was zero.
                        let start =
                            l.container(c)
                                .and_then(|k| k.created_ts_nanos)
                                .map(|ts| Sample {
                                    ts_nanos: ts,
                                    sample: beefine_schema::ResourceSample {
                                        mem_bytes: samples
                                            .first()
                                            .map_or(0, |s| s.sample.mem_bytes),
                                        ..Default::default()
                                    },
                                });
                        // At most about two points per pixel column.
                        let stride = (samples.len() / (2 * width.max(1.0) as usize)).max(1);
                        for (si, (series_name, value)) in chart.series.iter().enumerate() {
                            let points = series_points(
                                samples,
                                start.as_ref(),
                                stride,
                                (range_lo, range_hi),
                                *value,
                                &secs,
                            );
                            y_max = points.iter().fold(y_max, |m, p| m.max(p[1]));
                            let color = if si == 0 {
                                color
                            } else {
                                color.gamma_multiply(0.55)
                            };
                            if points.len() <= 40 {
                                // Few samples: each one shows as a dot.
                                plot_ui.points(
                                    Points::new("", PlotPoints::from(points.clone()))
                                        .radius(2.5)
                                        .color(color),
                                );
                            }
                            let points = PlotPoints::from(points);
                            let name = if series_name.is_empty() {
                                l.container_label(c)
                            } else {
                                format!("{} {series_name}", l.container_label(c))
                            };
                            let line = Line::new(name, points).color(color);
                            plot_ui.line(line.width(1.5));
                        }
                    }
                    // From zero to a little above the highest value (never -1 … 1 for a
                    // flat line of zeros).
                    let top = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
                    plot_ui.set_plot_bounds_y(0.0..=top);
                    plot_ui.add(
                        VLine::new("", secs(v.time.cursor()))
                            .color(CURSOR_COLOR)
                            .width(1.5),
                    );
                    plot_ui.pointer_coordinate()
                });
                if response.response.clicked()
                    && let Some(p) = response.inner
                {
                    let ts = origin as f64 + p.x * 1e9;
                    cmds.push(Command::SetCursor(ts.max(0.0) as u64));
                }
            });
        }
    });
    cmds
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_schema::ResourceSample;

    #[test]
    fn only_the_visible_samples_and_their_neighbours() {
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample {
                ts_nanos: i * 100,
                sample: ResourceSample::default(),
            })
            .collect();
        let ts = |s: &[Sample]| s.iter().map(|s| s.ts_nanos).collect::<Vec<_>>();
        assert_eq!(ts(visible(&samples, 250, 450)), [200, 300, 400, 500]);
        assert_eq!(ts(visible(&samples, 0, 100)), [0, 100, 200]);
        assert_eq!(ts(visible(&samples, 2000, 3000)), [900]);
        assert!(visible(&[], 0, 10).is_empty());
    }

    #[test]
    fn the_first_rate_counts_from_the_start() {
        let s = |ts: u64, cpu: u64| Sample {
            ts_nanos: ts,
            sample: ResourceSample {
                cpu_nanos: cpu,
                ..ResourceSample::default()
            },
        };
        let samples = [s(2_000_000_000, 500_000_000), s(3_000_000_000, 500_000_000)];
        let start = s(1_000_000_000, 0);
        let cpu = CHARTS[0].series[0].1;
        let secs = |ts: u64| ts as f64 / 1e9;
        let with = series_points(&samples, Some(&start), 1, (0, u64::MAX), cpu, &secs);
        assert_eq!(
            with,
            [[2.0, 50.0], [3.0, 0.0]],
            "half a core during the first second"
        );
        let without = series_points(&samples, None, 1, (0, u64::MAX), cpu, &secs);
        assert_eq!(without, [[3.0, 0.0]]);
    }
}
