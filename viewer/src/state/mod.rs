//! The viewer's model: no egui here. Panels read a [`Viewer`] and return [`Command`]s;
//! the app applies them after the frame with [`Viewer::apply`].

pub mod compare;
pub mod describe;
pub mod filter;
pub mod paths;
pub mod session;
pub mod store;
pub mod story;
pub mod time;

use std::collections::HashSet;

use beefine_schema::story::ContainerState;
use beefine_schema::{Bookmark, Event};

use self::filter::{Filter, Filtered};
use self::session::LoadedSession;
use self::store::EventIdx;
use self::story::{Stop, ViewRow};
use self::time::TimeControl;

/// Which events a step goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepBy {
    /// The next shown event.
    Any,
    /// The next event of the same kind.
    Kind,
    /// The next event of the same process (thread group).
    Process,
    /// The next event in the same container (or on the host).
    Container,
}

/// Something a panel asks for; applied after the frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Moves the cursor (scrub): the event at the cursor becomes the selection.
    SetCursor(u64),
    /// Selects an event: the cursor moves to it.
    Select(EventIdx),
    Step {
        by: StepBy,
        forward: bool,
    },
    /// Zooms by a factor (< 1 zooms in) around a fraction of the visible range.
    Zoom {
        factor: f64,
        anchor: f64,
    },
    /// Zooms around the cursor when it is visible, else around the middle.
    ZoomAtCursor(f64),
    /// Selects the first or the last shown event.
    SelectEdge {
        last: bool,
    },
    /// The next playback speed up or down.
    StepSpeed {
        faster: bool,
    },
    /// Pans by a fraction of the visible range.
    Pan(f64),
    SetView(u64, u64),
    FitView,
    TogglePlay,
    SetSpeed(f64),
    SetFollow(bool),
    SetFilter(Filter),
    /// Limits the filter's time range to what is visible.
    TimeRangeFromView,
    ToggleHelp,
    SetHelp(bool),
    /// Puts the keyboard focus on the text filter (handled by the app).
    FocusText,
    /// Opens another session file (handled by the app).
    Open(std::path::PathBuf),
    /// The next or previous chapter of the container whose story is shown.
    Chapter {
        forward: bool,
    },
    /// Goes to a chapter (an index into the story's chapters).
    GoToChapter(usize),
    /// Shows or hides the events the story marks as expected noise.
    ToggleNoise,
    /// The container whose story and state are shown (`None`: the one at the cursor).
    PickContainer(Option<usize>),
    /// Presentation mode: walks the chapters and bookmarks.
    TogglePresentation,
    PresentationStep {
        forward: bool,
    },
    /// Expands or collapses the run of similar events that starts with this event.
    ToggleRun(EventIdx),
    /// Marks the cursor's time (a label and a note).
    AddBookmark {
        label: String,
        note: String,
    },
    EditBookmark {
        index: usize,
        label: String,
        note: String,
    },
    RemoveBookmark(usize),
    /// Saves the bookmarks into the session file, or into a copy of it (handled by the
    /// app).
    SaveBookmarks(Option<std::path::PathBuf>),
    /// Sorts the table by a column; the same column again flips the order.
    SortBy(SortColumn),
    /// Writes a chapter as a Markdown (or HTML) handout (handled by the app).
    ExportChapter {
        chapter: usize,
        html: bool,
        path: std::path::PathBuf,
    },
}

/// The column the table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortColumn {
    #[default]
    Time,
    Process,
    Container,
    Component,
    Kind,
}

/// How the table is sorted: by time (runs of similar events collapsed), or by another
/// column (then by time); newest or last first when `descending`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sort {
    pub column: SortColumn,
    pub descending: bool,
}

/// How the story is being looked at.
#[derive(Debug, Default)]
pub struct StoryView {
    /// The container whose chapters the band shows and whose state the panel draws
    /// (`None`: the one at the cursor).
    pub container: Option<usize>,
    /// The stop shown in presentation mode (an index into [`Viewer::stops`]).
    pub presentation: Option<usize>,
    /// Runs shown event by event (by their first event).
    pub expanded: HashSet<EventIdx>,
    /// The bookmarks as edited (saved with [`Command::SaveBookmarks`]).
    pub bookmarks: Vec<Bookmark>,
    pub bookmarks_dirty: bool,
    /// What the last save or export did, for the person.
    pub message: Option<String>,
}

/// A loaded session and how it is being looked at.
#[derive(Debug)]
pub struct Viewer {
    pub session: LoadedSession,
    pub filter: Filter,
    pub filtered: Filtered,
    pub time: TimeControl,
    pub selected: Option<EventIdx>,
    /// Set when the table should bring the selection into view (the cursor moved by
    /// something other than the table).
    pub scroll_to_selection: bool,
    pub help_open: bool,
    pub story: StoryView,
    /// The rows of the table: the filtered events, similar runs collapsed.
    pub rows: Vec<ViewRow>,
    /// The table row of each filtered row.
    pub row_of_filtered: Vec<u32>,
    pub sort: Sort,
    /// The state of the story's container at the cursor (see [`Viewer::refresh_state`]).
    pub container_state: Option<ContainerState>,
    state_key: Option<(usize, u64, usize)>,
}

impl Viewer {
    pub fn new(session: LoadedSession, filter: Filter) -> Self {
        let filtered = filter::apply(&session, &filter);
        let time = TimeControl::new(session.time_span());
        let bookmarks = session.bookmarks.clone();
        let mut v = Self {
            session,
            filter,
            filtered,
            time,
            selected: None,
            scroll_to_selection: true,
            help_open: false,
            story: StoryView {
                bookmarks,
                ..StoryView::default()
            },
            rows: Vec::new(),
            row_of_filtered: Vec::new(),
            sort: Sort::default(),
            container_state: None,
            state_key: None,
        };
        v.rebuild_rows();
        // Start at the first chapter of the first container; else on the first event, so
        // the details have something to explain.
        let first_container = (0..v.session.containers.len())
            .find(|&c| !v.session.story.chapters_for(Some(c)).is_empty());
        v.story.container = first_container;
        match v.session.story.chapters_for(first_container).first() {
            Some(&ch) => v.go_to_chapter(ch, false),
            None => {
                if let Some(&first) = v.filtered.rows.first() {
                    v.selected = Some(first);
                    v.time.set_cursor(v.session.store.ts_of(first));
                }
            }
        }
        v.refresh_state();
        v
    }

    /// The table rows again (after the filter or the expanded runs changed).
    pub fn rebuild_rows(&mut self) {
        let l = &self.session;
        let (mut rows, mut of) = if self.sort.column == SortColumn::Time {
            story::view_rows(l, &self.filtered.rows, &self.story.expanded)
        } else {
            // Another column: every event a row, ordered by it, then by time.
            let store = &l.store;
            let key = |i: EventIdx| -> String {
                match self.sort.column {
                    SortColumn::Process => store.get(i).map_or(String::new(), |e| {
                        format!("{}\u{0}{:010}", store.comm(e.ctx), e.ctx.tgid)
                    }),
                    SortColumn::Container => store
                        .container_of(i)
                        .map_or(String::new(), |c| l.container_label(c)),
                    SortColumn::Component => session::component_name(l.component_of(i)).to_owned(),
                    SortColumn::Kind | SortColumn::Time => store.kind_of(i).name().to_owned(),
                }
            };
            let mut order: Vec<usize> = (0..self.filtered.rows.len()).collect();
            let keys: Vec<String> = self.filtered.rows.iter().map(|&i| key(i)).collect();
            order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
            let mut of = vec![0u32; order.len()];
            for (view, &r) in order.iter().enumerate() {
                of[r] = view as u32;
            }
            (
                order
                    .iter()
                    .map(|&r| ViewRow::Event(self.filtered.rows[r]))
                    .collect(),
                of,
            )
        };
        if self.sort.descending {
            rows.reverse();
            let n = rows.len() as u32;
            for v in &mut of {
                *v = n - 1 - *v;
            }
        }
        self.rows = rows;
        self.row_of_filtered = of;
    }

    /// The container whose story is shown: the one picked, else the one at the cursor.
    pub fn story_container(&self) -> Option<usize> {
        self.story.container.or_else(|| self.focus_container())
    }

    /// The chapters of the story's container (indexes into the story's chapters).
    pub fn chapters(&self) -> Vec<usize> {
        let c = self.story_container();
        let list = self.session.story.chapters_for(c);
        if list.is_empty() && c.is_some() {
            // A pull for no container: its chapters.
            return self.session.story.chapters_for(None);
        }
        list
    }

    /// The chapter of the story's container at the cursor.
    pub fn current_chapter(&self) -> Option<usize> {
        let cursor = self.time.cursor();
        let all = &self.session.story.story.chapters;
        let list = self.chapters();
        list.iter()
            .copied()
            .find(|&i| all[i].contains(cursor))
            .or_else(|| {
                list.iter()
                    .copied()
                    .rev()
                    .find(|&i| all[i].ts_nanos <= cursor)
            })
    }

    /// Moves to a chapter: the cursor at its start, its first shown event selected; with
    /// `zoom`, the view on the chapter.
    pub fn go_to_chapter(&mut self, ch: usize, zoom: bool) {
        let Some(c) = self.session.story.story.chapters.get(ch).cloned() else {
            return;
        };
        if zoom {
            let pad = ((c.end_ts_nanos - c.ts_nanos) / 4).max(2_000_000);
            self.time.set_view(
                c.ts_nanos.saturating_sub(pad),
                c.end_ts_nanos.saturating_add(pad),
            );
        }
        self.time.follow = false;
        match self.landing_event(ch) {
            Some(idx) => self.select(idx, true),
            None => {
                self.time.set_cursor(c.ts_nanos);
                self.select_at_cursor();
            }
        }
        self.time.set_cursor(self.time.cursor().max(c.ts_nanos));
        self.time.ensure_visible(c.ts_nanos);
        self.scroll_to_selection = true;
    }

    /// The event going to a chapter selects: its first event worth explaining (a call of
    /// its container, not file or socket chatter), else its first shown event.
    pub fn landing_event(&self, ch: usize) -> Option<EventIdx> {
        let c = self.session.story.story.chapters.get(ch)?;
        let ts = self.session.store.ts();
        let rows = &self.filtered.rows;
        let r = rows.partition_point(|&i| ts[i as usize] < c.ts_nanos);
        let end = rows.partition_point(|&i| ts[i as usize] <= c.end_ts_nanos);
        let container = c
            .container_id
            .as_deref()
            .and_then(|id| self.session.containers.by_id(id));
        let store = &self.session.store;
        rows[r..end.max(r)]
            .iter()
            .copied()
            .find(|&i| {
                (container.is_none() || store.container_of(i) == container)
                    && story::key_event(store, i)
            })
            .or_else(|| {
                rows.get(r)
                    .copied()
                    .filter(|&i| ts[i as usize] <= c.end_ts_nanos)
            })
    }

    /// The shown events of a timeline lane within `[lo, hi)`: at most `limit` of them, and
    /// how many there are.
    pub fn lane_events(
        &self,
        lane: usize,
        lo: u64,
        hi: u64,
        limit: usize,
    ) -> (Vec<EventIdx>, usize) {
        let ts = self.session.store.ts();
        let rows = &self.filtered.rows;
        let from = rows.partition_point(|&i| ts[i as usize] < lo);
        let to = rows.partition_point(|&i| ts[i as usize] < hi);
        let mut out = Vec::new();
        let mut n = 0;
        for &i in &rows[from..to] {
            if filter::lane_of(self.session.store.kind_of(i).family()) == lane {
                if out.len() < limit {
                    out.push(i);
                }
                n += 1;
            }
        }
        (out, n)
    }

    /// The stops of presentation mode.
    pub fn stops(&self) -> Vec<Stop> {
        story::stops(
            &self.session.story,
            self.story_container(),
            &self.story.bookmarks,
        )
    }

    fn present(&mut self, i: usize) {
        let stops = self.stops();
        let Some(stop) = stops.get(i).copied() else {
            return;
        };
        self.story.presentation = Some(i);
        match stop {
            Stop::Chapter(ch) => self.go_to_chapter(ch, true),
            Stop::Bookmark(b) => {
                if let Some(ts) = self.story.bookmarks.get(b).map(|b| b.ts_nanos) {
                    self.apply(Command::SetCursor(ts));
                    self.time.ensure_visible(ts);
                }
            }
        }
    }

    /// Brings the state of the story's container at the cursor up to date.
    pub fn refresh_state(&mut self) {
        let key = self
            .story_container()
            .map(|c| (c, self.time.cursor(), self.session.story.derived_len));
        if key == self.state_key {
            return;
        }
        self.state_key = key;
        self.container_state = key.and_then(|(c, ts, _)| self.session.story.story.state_at(c, ts));
    }

    fn story_command(&mut self, cmd: Command) {
        match cmd {
            Command::Chapter { forward } => {
                let all = &self.session.story.story.chapters;
                let list = self.chapters();
                let cursor = self.time.cursor();
                let at = self.current_chapter();
                // Where going to a chapter puts the cursor.
                let landing = |i: usize| {
                    self.landing_event(i)
                        .map_or(all[i].ts_nanos, |e| self.session.store.ts_of(e))
                };
                let target = match (forward, at) {
                    (true, _) => story::chapter_step(all, &list, cursor, true),
                    // Back from inside a chapter goes to its start first, then further.
                    (false, Some(i)) if landing(i) < cursor => Some(i),
                    (false, Some(i)) => story::chapter_step(all, &list, all[i].ts_nanos, false),
                    (false, None) => story::chapter_step(all, &list, cursor, false),
                };
                if let Some(ch) = target {
                    self.go_to_chapter(ch, false);
                }
            }
            Command::GoToChapter(ch) => self.go_to_chapter(ch, false),
            Command::ToggleNoise => {
                let mut f = self.filter.clone();
                f.show_expected = !f.show_expected;
                self.set_filter(f);
            }
            Command::PickContainer(c) => {
                self.story.container = c.filter(|&c| c < self.session.containers.len());
                self.story.presentation = None;
            }
            Command::TogglePresentation => {
                if self.story.presentation.is_some() {
                    self.story.presentation = None;
                } else {
                    // Start at the stop at (or before) the cursor.
                    let cursor = self.time.cursor();
                    let stops = self.stops();
                    let i = stops
                        .iter()
                        .rposition(|s| self.stop_ts(*s) <= cursor)
                        .unwrap_or(0);
                    self.present(i);
                }
            }
            Command::PresentationStep { forward } => {
                if let Some(i) = self.story.presentation {
                    let n = self.stops().len();
                    let next = if forward {
                        (i + 1).min(n.saturating_sub(1))
                    } else {
                        i.saturating_sub(1)
                    };
                    self.present(next);
                }
            }
            Command::SortBy(column) => {
                self.sort = Sort {
                    column,
                    descending: self.sort.column == column && !self.sort.descending,
                };
                self.rebuild_rows();
                // The cursor's row stays in view in the new order.
                self.scroll_to_selection = true;
            }
            Command::ToggleRun(first) => {
                if !self.story.expanded.remove(&first) {
                    self.story.expanded.insert(first);
                }
                self.rebuild_rows();
            }
            Command::AddBookmark { label, note } => {
                let ts = self.time.cursor();
                let b = &mut self.story.bookmarks;
                let at = b.partition_point(|x| x.ts_nanos <= ts);
                b.insert(
                    at,
                    Bookmark {
                        ts_nanos: ts,
                        label,
                        note,
                    },
                );
                self.story.bookmarks_dirty = true;
            }
            Command::EditBookmark { index, label, note } => {
                if let Some(b) = self.story.bookmarks.get_mut(index) {
                    b.label = label;
                    b.note = note;
                    self.story.bookmarks_dirty = true;
                }
            }
            Command::RemoveBookmark(i) if i < self.story.bookmarks.len() => {
                self.story.bookmarks.remove(i);
                self.story.bookmarks_dirty = true;
            }
            _ => {}
        }
    }

    /// When a presentation stop is.
    pub fn stop_ts(&self, s: Stop) -> u64 {
        match s {
            Stop::Chapter(ch) => self
                .session
                .story
                .story
                .chapters
                .get(ch)
                .map_or(0, |c| c.ts_nanos),
            Stop::Bookmark(b) => self.story.bookmarks.get(b).map_or(0, |b| b.ts_nanos),
        }
    }

    /// Applies a command; app-level commands ([`Command::FocusText`], [`Command::Open`])
    /// are ignored here.
    pub fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::SetCursor(ts) => {
                self.time.set_cursor(ts);
                self.time.follow = false;
                let before = self.selected;
                self.select_at_cursor();
                self.scroll_to_selection |= self.selected != before;
            }
            Command::Select(idx) => self.select(idx, false),
            Command::Step { by, forward } => {
                if let Some(idx) = self.step_target(by, forward) {
                    self.time.follow = false;
                    self.select(idx, true);
                }
            }
            Command::Zoom { factor, anchor } => self.time.zoom(factor, anchor),
            Command::ZoomAtCursor(factor) => {
                let at = self.time.fraction_of(self.time.cursor());
                let anchor = if (0.0..=1.0).contains(&at) { at } else { 0.5 };
                self.time.zoom(factor, anchor);
            }
            Command::SelectEdge { last } => {
                let row = if last {
                    self.filtered.rows.last()
                } else {
                    self.filtered.rows.first()
                };
                if let Some(&idx) = row {
                    self.time.follow = false;
                    self.select(idx, true);
                }
            }
            Command::StepSpeed { faster } => self.time.step_speed(faster),
            Command::Pan(fraction) => self.time.pan(fraction),
            Command::SetView(lo, hi) => self.time.set_view(lo, hi),
            Command::FitView => self.time.fit(),
            Command::TogglePlay => self.time.toggle_play(),
            Command::SetSpeed(s) => self.time.speed = s,
            Command::SetFollow(on) => {
                self.time.follow = on;
                if on {
                    self.time.playing = false;
                    let (start, end) = self.session.time_span();
                    self.time.extend_span(start, end);
                    self.select_at_cursor();
                    self.scroll_to_selection = true;
                }
            }
            Command::SetFilter(f) => self.set_filter(f),
            Command::TimeRangeFromView => {
                let mut f = self.filter.clone();
                f.time_range = Some(self.time.view());
                self.set_filter(f);
            }
            Command::ToggleHelp => self.help_open = !self.help_open,
            Command::SetHelp(on) => self.help_open = on,
            Command::FocusText
            | Command::Open(_)
            | Command::SaveBookmarks(_)
            | Command::ExportChapter { .. } => {}
            story => self.story_command(story),
        }
        self.refresh_state();
    }

    fn select(&mut self, idx: EventIdx, scroll: bool) {
        if let Some(e) = self.session.store.get(idx) {
            self.selected = Some(idx);
            self.time.set_cursor(e.ts_nanos);
            self.time.ensure_visible(e.ts_nanos);
            self.scroll_to_selection = scroll;
        }
    }

    /// Selects the last shown event at or before the cursor.
    pub fn select_at_cursor(&mut self) {
        let row = self.filtered.row_at(&self.session, self.time.cursor());
        self.selected = row.map(|r| self.filtered.rows[r]);
    }

    /// The table row of the selection, or of the cursor.
    pub fn cursor_row(&self) -> Option<usize> {
        self.selected
            .and_then(|i| self.filtered.row_of(i))
            .or_else(|| self.filtered.row_at(&self.session, self.time.cursor()))
            .and_then(|r| self.row_of_filtered.get(r).map(|&v| v as usize))
    }

    pub fn set_filter(&mut self, f: Filter) {
        if f == self.filter {
            return;
        }
        self.filter = f;
        self.filtered = filter::apply(&self.session, &self.filter);
        self.rebuild_rows();
        // Keep the selection when it is still shown; else take the event at the cursor.
        if self
            .selected
            .is_none_or(|i| self.filtered.row_of(i).is_none())
        {
            self.select_at_cursor();
        }
        self.scroll_to_selection = true;
    }

    /// Advances playback by `dt_secs`; the event at the cursor becomes the selection.
    pub fn tick(&mut self, dt_secs: f64) {
        if self.time.advance(dt_secs) {
            self.select_at_cursor();
            self.scroll_to_selection = true;
            self.refresh_state();
        }
    }

    /// The event a step goes to, among the shown events.
    pub fn step_target(&self, by: StepBy, forward: bool) -> Option<EventIdx> {
        let store = &self.session.store;
        let rows = &self.filtered.rows;
        let reference = self.selected;
        // Where to start: after (before) the selection, or the cursor.
        let start = match reference.map(|i| (i, rows.binary_search(&i))) {
            Some((_, Ok(r))) => {
                if forward {
                    r + 1
                } else {
                    r
                }
            }
            Some((_, Err(r))) => r,
            None => {
                let ts = store.ts();
                let cursor = self.time.cursor();
                if forward {
                    rows.partition_point(|&i| ts[i as usize] <= cursor)
                } else {
                    rows.partition_point(|&i| ts[i as usize] < cursor)
                }
            }
        };
        let matches = |candidate: EventIdx| -> bool {
            let Some(r) = reference else {
                return true;
            };
            match by {
                StepBy::Any => true,
                StepBy::Kind => store.kind_of(candidate) == store.kind_of(r),
                StepBy::Process => store.tgid_of(candidate) == store.tgid_of(r),
                StepBy::Container => store.container_of(candidate) == store.container_of(r),
            }
        };
        if forward {
            rows[start.min(rows.len())..]
                .iter()
                .copied()
                .find(|&c| matches(c))
        } else {
            rows[..start.min(rows.len())]
                .iter()
                .rev()
                .copied()
                .find(|&c| matches(c))
        }
    }

    /// The container the side panel describes: the selected event's, the filtered one, or
    /// the first alive at the cursor.
    pub fn focus_container(&self) -> Option<usize> {
        let l = &self.session;
        if let Some(c) = self.selected.and_then(|i| l.store.container_of(i)) {
            return Some(c);
        }
        if let filter::ContainerChoice::Container(id) = &self.filter.container
            && let Some(c) = l.containers.by_id(id)
        {
            return Some(c);
        }
        let cursor = self.time.cursor();
        (0..l.containers.len())
            .find(|&c| l.container_alive(c, cursor))
            .or(if l.containers.is_empty() {
                None
            } else {
                Some(0)
            })
    }

    /// Takes entity tables re-read from a live session.
    pub fn set_entities(&mut self, e: session::Entities) {
        let selected_ts = self.selected.map(|i| self.session.store.ts_of(i));
        if self.session.set_entities(e) {
            story::derive(&mut self.session);
            self.filtered = filter::apply(&self.session, &self.filter);
            self.rebuild_rows();
            if let Some(ts) = selected_ts {
                let row = self.filtered.row_at(&self.session, ts);
                self.selected = row.map(|r| self.filtered.rows[r]);
            }
        }
    }

    /// Adds events of a live session. Returns how many were added.
    pub fn add_events(&mut self, events: Vec<Event>) -> usize {
        if events.is_empty() {
            return 0;
        }
        let before = self.session.store.len();
        let selected_ts = self.selected.map(|i| self.session.store.ts_of(i));
        let from = self
            .session
            .store
            .insert_events(events, &self.session.containers);
        let added = self.session.store.len() - before;
        if added == 0 {
            return 0;
        }
        self.session.index_from(from);
        // The story again when events came in the middle (positions shifted), or while the
        // session is small, or when many came: a live session's chapters grow as it goes.
        let derived = self.session.story.derived_len;
        let len = self.session.store.len();
        let restory = from != before || len < 50_000 || len - derived > derived / 4;
        if restory {
            story::derive(&mut self.session);
        }
        if from == before && !restory {
            filter::extend(&self.session, &self.filter, &mut self.filtered, from);
        } else {
            // Late events shifted the positions: filter again, keep the selected time.
            self.filtered = filter::apply(&self.session, &self.filter);
            if let Some(ts) = selected_ts {
                let row = self.filtered.row_at(&self.session, ts);
                self.selected = row.map(|r| self.filtered.rows[r]);
            }
        }
        self.rebuild_rows();
        let (start, end) = self.session.time_span();
        self.time.extend_span(start, end);
        if self.time.follow {
            self.select_at_cursor();
            self.scroll_to_selection = true;
        }
        self.refresh_state();
        added
    }
}

#[cfg(test)]
mod tests;
