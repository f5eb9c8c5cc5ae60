//! The viewer's model: no egui here. Panels read a [`Viewer`] and return [`Command`]s;
//! the app applies them after the frame with [`Viewer::apply`].

pub mod describe;
pub mod filter;
pub mod paths;
pub mod session;
pub mod store;
pub mod time;

use beefine_schema::Event;

use self::filter::{Filter, Filtered};
use self::session::LoadedSession;
use self::store::EventIdx;
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
}

impl Viewer {
    pub fn new(session: LoadedSession, filter: Filter) -> Self {
        let filtered = filter::apply(&session, &filter);
        let time = TimeControl::new(session.time_span());
        let mut v = Self {
            session,
            filter,
            filtered,
            time,
            selected: None,
            scroll_to_selection: true,
            help_open: false,
        };
        // Start on the first event, so the details have something to explain.
        if let Some(&first) = v.filtered.rows.first() {
            v.selected = Some(first);
            v.time.set_cursor(v.session.store.ts_of(first));
        }
        v
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
            Command::FocusText | Command::Open(_) => {}
        }
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
    }

    pub fn set_filter(&mut self, f: Filter) {
        if f == self.filter {
            return;
        }
        self.filter = f;
        self.filtered = filter::apply(&self.session, &self.filter);
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
            self.filtered = filter::apply(&self.session, &self.filter);
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
        if from == before {
            filter::extend(&self.session, &self.filter, &mut self.filtered, from);
        } else {
            // Late events shifted the positions: filter again, keep the selected time.
            self.filtered = filter::apply(&self.session, &self.filter);
            if let Some(ts) = selected_ts {
                let row = self.filtered.row_at(&self.session, ts);
                self.selected = row.map(|r| self.filtered.rows[r]);
            }
        }
        let (start, end) = self.session.time_span();
        self.time.extend_span(start, end);
        if self.time.follow {
            self.select_at_cursor();
            self.scroll_to_selection = true;
        }
        added
    }
}

#[cfg(test)]
mod tests;
