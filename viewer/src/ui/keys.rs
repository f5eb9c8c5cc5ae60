//! Keyboard shortcuts, the ones people know from trace viewers. Listed in the help overlay
//! from the same table, so the two cannot disagree.

use egui::{Context, Key, Modifiers};

use crate::state::{Command, StepBy, Viewer};

/// (keys as shown, what they do).
pub const SHORTCUTS: [(&str, &str); 20] = [
    ("PgDn / PgUp", "next / previous chapter of the story"),
    ("H", "hide / show expected noise"),
    (
        "P",
        "presentation: walk the chapters and bookmarks (← → move, Esc leaves)",
    ),
    ("B", "bookmark the cursor's time"),
    ("W / S", "zoom in / out around the cursor"),
    ("wheel, Ctrl+wheel", "zoom around the pointer"),
    ("A / D", "pan left / right"),
    ("drag", "pan; drag the axis or the cursor to scrub"),
    ("double click", "show the whole session"),
    ("Space", "play / pause"),
    ("← / →", "previous / next event"),
    ("Shift+N / N", "previous / next event of the same kind"),
    ("[ / ]", "previous / next event of the same process"),
    ("{ / }", "previous / next event in the same container"),
    ("Home / End", "first / last event"),
    ("< / >", "slower / faster playback"),
    ("F", "follow a live session"),
    ("/", "type in the text filter"),
    ("Esc", "leave the text field, close this help"),
    ("?", "this help"),
];

/// Commands for the keys pressed this frame. Nothing is taken while a text field has the
/// keyboard, except Esc.
pub fn key_commands(ctx: &Context, v: &Viewer) -> Vec<Command> {
    let follow = v.time.follow;
    let presenting = v.story.presentation.is_some();
    let mut cmds = Vec::new();
    if ctx.egui_wants_keyboard_input() {
        if ctx.input(|i| i.key_pressed(Key::Escape)) {
            ctx.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
        return cmds;
    }
    let step = |by, forward| Command::Step { by, forward };
    let button_focused = ctx.memory(|m| m.focused().is_some());
    ctx.input(|i| {
        let shift = i.modifiers.shift;
        let pressed = |k| i.key_pressed(k);
        let plain = i.modifiers.is_none() || i.modifiers == Modifiers::SHIFT;
        if !plain {
            return;
        }
        if pressed(Key::W) {
            cmds.push(Command::ZoomAtCursor(0.7));
        }
        if pressed(Key::S) {
            cmds.push(Command::ZoomAtCursor(1.0 / 0.7));
        }
        if pressed(Key::A) {
            cmds.push(Command::Pan(-0.2));
        }
        if pressed(Key::D) {
            cmds.push(Command::Pan(0.2));
        }
        // A focused button takes Space itself (it clicks): do not toggle twice.
        if pressed(Key::Space) && !button_focused {
            cmds.push(Command::TogglePlay);
        }
        if presenting {
            // Presentation: the arrows and page keys move between stops.
            if pressed(Key::ArrowRight) || pressed(Key::PageDown) {
                cmds.push(Command::PresentationStep { forward: true });
            }
            if pressed(Key::ArrowLeft) || pressed(Key::PageUp) {
                cmds.push(Command::PresentationStep { forward: false });
            }
            if pressed(Key::Escape) || pressed(Key::P) {
                cmds.push(Command::TogglePresentation);
            }
            return;
        }
        if pressed(Key::PageDown) {
            cmds.push(Command::Chapter { forward: true });
        }
        if pressed(Key::PageUp) {
            cmds.push(Command::Chapter { forward: false });
        }
        if pressed(Key::H) {
            cmds.push(Command::ToggleNoise);
        }
        if pressed(Key::P) {
            cmds.push(Command::TogglePresentation);
        }
        if pressed(Key::B) {
            cmds.push(Command::AddBookmark {
                label: super::bookmarks::default_label(v),
                note: String::new(),
            });
        }
        if pressed(Key::ArrowRight) {
            cmds.push(step(StepBy::Any, true));
        }
        if pressed(Key::ArrowLeft) {
            cmds.push(step(StepBy::Any, false));
        }
        // Shift is read from each key event, not from the frame: a Shift let go before the
        // frame is drawn still made that N a Shift+N.
        for e in &i.events {
            if let egui::Event::Key {
                key: Key::N,
                pressed: true,
                modifiers,
                ..
            } = e
            {
                cmds.push(step(StepBy::Kind, !modifiers.shift));
            }
        }
        // `{` and `}` arrive as Shift+[ / Shift+] or as their own keys, by keyboard layout.
        if pressed(Key::OpenCurlyBracket) || (shift && pressed(Key::OpenBracket)) {
            cmds.push(step(StepBy::Container, false));
        } else if pressed(Key::OpenBracket) {
            cmds.push(step(StepBy::Process, false));
        }
        if pressed(Key::CloseCurlyBracket) || (shift && pressed(Key::CloseBracket)) {
            cmds.push(step(StepBy::Container, true));
        } else if pressed(Key::CloseBracket) {
            cmds.push(step(StepBy::Process, true));
        }
        if pressed(Key::Home) {
            cmds.push(Command::SelectEdge { last: false });
        }
        if pressed(Key::End) {
            cmds.push(Command::SelectEdge { last: true });
        }
        if pressed(Key::F) {
            cmds.push(Command::SetFollow(!follow));
        }
        if pressed(Key::Questionmark) || (shift && pressed(Key::Slash)) {
            cmds.push(Command::ToggleHelp);
        } else if pressed(Key::Slash) {
            cmds.push(Command::FocusText);
        }
        if pressed(Key::Escape) {
            cmds.push(Command::SetHelp(false));
        }
        for e in &i.events {
            if let egui::Event::Text(t) = e {
                match t.as_str() {
                    "<" | "," => cmds.push(Command::StepSpeed { faster: false }),
                    ">" | "." => cmds.push(Command::StepSpeed { faster: true }),
                    _ => {}
                }
            }
        }
    });
    cmds
}
