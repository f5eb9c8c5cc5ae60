//! Bookmarks with notes: marked at the cursor, edited in place, saved into the session (or
//! into a copy of it, when the file cannot be written).

use egui::{RichText, TextEdit, Ui};

use super::rel_time;
use crate::state::{Command, Viewer};

/// A label for a bookmark at the cursor: the chapter it is in.
pub fn default_label(v: &Viewer) -> String {
    v.current_chapter()
        .and_then(|i| v.session.story.story.chapters.get(i))
        .map_or_else(|| "mark".to_owned(), |c| c.chapter.name().to_owned())
}

pub fn bookmarks_ui(ui: &mut Ui, v: &Viewer, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new(format!("bookmarks ({})", v.story.bookmarks.len()))
        .id_salt("bookmarks")
        .default_open(false)
        .show(ui, |ui| {
            for (i, b) in v.story.bookmarks.iter().enumerate() {
                ui.horizontal(|ui| {
                    if ui
                        .link(format!("{} {}", rel_time(v, b.ts_nanos), b.label))
                        .on_hover_text("go there")
                        .clicked()
                    {
                        cmds.push(Command::SetCursor(b.ts_nanos));
                    }
                    if ui.small_button("✖").on_hover_text("remove").clicked() {
                        cmds.push(Command::RemoveBookmark(i));
                    }
                });
                let mut note = b.note.clone();
                if ui
                    .add(
                        TextEdit::multiline(&mut note)
                            .desired_rows(1)
                            .hint_text("a note"),
                    )
                    .changed()
                {
                    cmds.push(Command::EditBookmark {
                        index: i,
                        label: b.label.clone(),
                        note,
                    });
                }
            }
            if ui.button("+ bookmark at the cursor (B)").clicked() {
                cmds.push(Command::AddBookmark {
                    label: default_label(v),
                    note: String::new(),
                });
            }
            save_ui(ui, v, cmds);
        });
}

fn save_ui(ui: &mut Ui, v: &Viewer, cmds: &mut Vec<Command>) {
    if !v.story.bookmarks_dirty {
        return;
    }
    ui.horizontal(|ui| {
        if ui
            .button("save into the session")
            .on_hover_text(v.session.path.display().to_string())
            .clicked()
        {
            cmds.push(Command::SaveBookmarks(None));
        }
    });
    let id = ui.scope_id().with("copy-path");
    let mut path = ui.data_mut(|d| {
        d.get_temp::<String>(id).unwrap_or_else(|| {
            let p = &v.session.path;
            let stem = p
                .file_stem()
                .map_or("session".into(), |s| s.to_string_lossy());
            p.with_file_name(format!("{stem}-notes.beefine"))
                .display()
                .to_string()
        })
    });
    ui.horizontal(|ui| {
        ui.add(TextEdit::singleline(&mut path).desired_width(160.0));
        if ui
            .button("save a copy")
            .on_hover_text("copy the session there and save the bookmarks into the copy")
            .clicked()
        {
            cmds.push(Command::SaveBookmarks(Some(path.clone().into())));
        }
    });
    ui.data_mut(|d| d.insert_temp(id, path));
    ui.label(RichText::new("unsaved changes").weak().small());
}
