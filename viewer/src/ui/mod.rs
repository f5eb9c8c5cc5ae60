//! Panels. Each draws from the [`Viewer`](crate::state::Viewer) it is given and returns the
//! [`Command`](crate::state::Command)s the person asked for; the app applies them after the
//! frame. Functions that draw end in `_ui`.

pub mod bookmarks;
pub mod chapters;
pub mod charts;
pub mod compare;
pub mod container;
pub mod details;
pub mod filters;
pub mod help;
pub mod keys;
pub mod presentation;
pub mod status;
pub mod table;
pub mod timeline;
pub mod top_bar;

use beefine_schema::Family;
use egui::Color32;

use crate::format;
use crate::state::Viewer;

/// Id of the free-text filter's edit field (the `/` key focuses it).
pub const TEXT_FILTER_ID: &str = "beefine-text-filter";

/// Fonts and theme: the monospace font also backs the proportional one, for the arrows and
/// box-drawing characters the summaries use.
pub fn setup_style(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    if let Some(prop) = fonts.families.get_mut(&egui::FontFamily::Proportional)
        && !prop.iter().any(|f| f == "Hack")
    {
        prop.push("Hack".to_owned());
    }
    ctx.set_fonts(fonts);
    ctx.options_mut(|o| o.theme_preference = egui::ThemePreference::Dark);
}

/// Colour of a timeline lane.
pub fn family_color(family: Family) -> Color32 {
    match family {
        Family::Process => Color32::from_rgb(0x5d, 0xa5, 0xda),
        Family::Namespace => Color32::from_rgb(0xc0, 0x86, 0xe0),
        Family::Mount => Color32::from_rgb(0xfa, 0xa4, 0x3a),
        Family::File => Color32::from_rgb(0x60, 0xbd, 0x68),
        Family::Cgroup => Color32::from_rgb(0xde, 0xcf, 0x3f),
        Family::Network => Color32::from_rgb(0x4d, 0xc9, 0xc9),
        Family::Docker => Color32::from_rgb(0xf1, 0x7c, 0xb0),
        Family::Cri => Color32::from_rgb(0x32, 0x6c, 0xe5),
        Family::Custom => Color32::from_rgb(0xb2, 0x91, 0x2f),
        Family::Meta => Color32::from_rgb(0x9a, 0x9a, 0x9a),
    }
}

/// Colour of the n-th container (lifetimes and charts).
pub fn container_color(n: usize) -> Color32 {
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(0x4e, 0x9a, 0xf0),
        Color32::from_rgb(0xf0, 0x8a, 0x4e),
        Color32::from_rgb(0x6c, 0xd0, 0x7a),
        Color32::from_rgb(0xd0, 0x6c, 0xc8),
        Color32::from_rgb(0xe0, 0xd0, 0x50),
        Color32::from_rgb(0x50, 0xd0, 0xd0),
    ];
    PALETTE[n % PALETTE.len()]
}

pub const CURSOR_COLOR: Color32 = Color32::from_rgb(0xff, 0xd7, 0x40);
pub const LOSS_COLOR: Color32 = Color32::from_rgba_premultiplied(0x90, 0x20, 0x20, 0x90);
pub const FAILED_COLOR: Color32 = Color32::from_rgb(0xff, 0x70, 0x70);

/// A time on the session's axis, relative to its origin.
pub fn rel_time(v: &Viewer, ts: u64) -> String {
    format::offset_from(ts, v.session.origin())
}

/// A relative time with as many decimals as the visible range needs.
pub fn axis_time(seconds: f64, step_seconds: f64) -> String {
    let decimals = if step_seconds >= 1.0 {
        0
    } else {
        (-step_seconds.log10()).ceil().clamp(0.0, 9.0) as usize
    };
    // `+ 0.0` turns -0.0 into 0.0.
    format!("{:.decimals$} s", seconds + 0.0)
}
