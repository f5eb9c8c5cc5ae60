//! The story in the viewer: derived by `beefine_schema::story` from the events held in the
//! store (the chapters the session stores are shown when it has them), with each event's
//! container and expected-noise rule; chapter navigation and presentation stops; runs of
//! similar file events collapsed into one row. No egui here.

use beefine_schema::story::fact::fact;
use beefine_schema::story::runs::{MIN_RUN, RunClass, run_class, run_label};
use beefine_schema::story::{Chapter, Ev, EventSource, Story, StoryInput};
use beefine_schema::{Bookmark, Kind};

use super::session::LoadedSession;
use super::store::{EventIdx, Store, StrId};

/// No expected-noise rule.
pub const NO_RULE: u8 = u8::MAX;

/// The store's events as the story reads them.
pub struct StoreEvents<'a>(pub &'a Store);

impl EventSource for StoreEvents<'_> {
    fn visit(&self, f: &mut dyn FnMut(&Ev<'_>)) -> beefine_schema::Result<()> {
        let store = self.0;
        for i in 0..store.len() as EventIdx {
            let Some(e) = store.get(i) else { continue };
            let ev = Ev {
                ts_nanos: e.ts_nanos,
                pid: e.ctx.pid,
                tgid: e.ctx.tgid,
                comm: store.comm(e.ctx),
                cgroup_id: e.ctx.cgroup_id,
                ns: e.ctx.ns,
                result: e.result,
                kind: e.kind,
                fact: fact(e.data, e.result, &|s: &StrId| store.str(*s)),
            };
            f(&ev);
        }
        Ok(())
    }
}

/// What the story adds to a loaded session.
#[derive(Debug, Default)]
pub struct SessionStory {
    pub story: Story,
    /// The expected-noise rule of each event ([`NO_RULE`]: none); events added since the
    /// derivation have none yet.
    pub expected: Vec<u8>,
    /// Whether the chapters are the ones the session stores.
    pub stored_chapters: bool,
    /// Events held when the story was derived.
    pub derived_len: usize,
    /// What each `setns` joined.
    pub joins: rustc_hash::FxHashMap<EventIdx, beefine_schema::story::Joined>,
}

impl SessionStory {
    pub fn expected_of(&self, idx: EventIdx) -> Option<u8> {
        self.expected
            .get(idx as usize)
            .copied()
            .filter(|r| *r != NO_RULE)
    }

    /// The chapters of container `c` (all chapters when the session has no container).
    pub fn chapters_for(&self, c: Option<usize>) -> Vec<usize> {
        let id = c
            .and_then(|c| self.story.input().containers.get(c))
            .map(|c| c.container_id.as_str());
        (0..self.story.chapters.len())
            .filter(|&i| id.is_none() || self.story.chapters[i].container_id.as_deref() == id)
            .collect()
    }
}

/// Derives the story of a loaded session from its store and entities, attributes events to
/// containers by it, and marks expected noise.
pub fn derive(l: &mut LoadedSession) {
    let (start, end) = l.time_span();
    let input = StoryInput {
        containers: l.containers.containers().to_vec(),
        images: l.images.clone(),
        layers: l.layers.clone(),
        processes: l.processes.clone(),
        samples: l.samples.iter().flatten().cloned().collect(),
        pods: l.pods.clone(),
        host_mountinfo: l.host_mountinfo.clone(),
        start_ts_nanos: start,
        end_ts_nanos: end,
    };
    let mut expected = Vec::with_capacity(l.store.len());
    let mut containers = Vec::with_capacity(l.store.len());
    let mut joins = rustc_hash::FxHashMap::default();
    let result = Story::derive(input, &StoreEvents(&l.store), |n| {
        if let Some(j) = n.joins {
            joins.insert(expected.len() as EventIdx, j);
        }
        expected.push(n.expected.unwrap_or(NO_RULE));
        containers.push(n.container);
    });
    let Ok(mut story) = result else {
        return;
    };
    l.store.attribute_by(&containers);
    let stored = l.stored_chapters.clone();
    let stored_chapters = stored.is_some();
    if let Some(chapters) = stored {
        story.set_chapters(chapters);
    }
    l.story = SessionStory {
        story,
        expected,
        stored_chapters,
        derived_len: l.store.len(),
        joins,
    };
}

/// A row of the event table: one event, or a run of similar ones collapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewRow {
    Event(EventIdx),
    /// `len` events from `first` (an index into the filtered rows); `expanded` runs are
    /// followed by their events.
    Run {
        first: u32,
        len: u32,
        class: RunClass,
        expanded: bool,
    },
}

/// The rows of the table from the filtered events: runs of at least [`MIN_RUN`] similar
/// file events of one process collapsed, unless expanded (by their first event); with the
/// table row of each filtered row.
pub fn view_rows(
    l: &LoadedSession,
    rows: &[EventIdx],
    expanded: &std::collections::HashSet<EventIdx>,
) -> (Vec<ViewRow>, Vec<u32>) {
    let store = &l.store;
    let key = |idx: EventIdx| -> Option<(u32, RunClass)> {
        let kind = store.kind_of(idx);
        if kind.family() != beefine_schema::Family::File {
            return None;
        }
        let tgid = store.tgid_of(idx);
        let unpacking = l.story.story.unpacked_by(tgid).is_some();
        run_class(kind, l.story.expected_of(idx), unpacking).map(|c| (tgid, c))
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut of_row = Vec::with_capacity(rows.len());
    let mut r = 0;
    while r < rows.len() {
        let k = key(rows[r]);
        let mut end = r + 1;
        if k.is_some() {
            while end < rows.len() && key(rows[end]) == k {
                end += 1;
            }
        }
        let len = end - r;
        match k {
            Some((_, class)) if len >= MIN_RUN => {
                let open = expanded.contains(&rows[r]);
                let head = out.len() as u32;
                out.push(ViewRow::Run {
                    first: r as u32,
                    len: len as u32,
                    class,
                    expanded: open,
                });
                for &i in &rows[r..end] {
                    if open {
                        of_row.push(out.len() as u32);
                        out.push(ViewRow::Event(i));
                    } else {
                        of_row.push(head);
                    }
                }
            }
            _ => {
                for &i in &rows[r..end] {
                    of_row.push(out.len() as u32);
                    out.push(ViewRow::Event(i));
                }
            }
        }
        r = end;
    }
    (out, of_row)
}

/// The line of a collapsed run.
pub fn run_text(
    l: &LoadedSession,
    rows: &[EventIdx],
    first: u32,
    len: u32,
    class: RunClass,
) -> String {
    let members = &rows[first as usize..(first + len) as usize];
    let Some(&head) = members.first() else {
        return String::new();
    };
    let store = &l.store;
    let comm = store.get(head).map_or("", |e| store.comm(e.ctx));
    let layer = l
        .story
        .story
        .unpacked_by(store.tgid_of(head))
        .and_then(|(_, layer)| layer);
    let libraries: Vec<&str> = if class == RunClass::LoaderSearch {
        members
            .iter()
            .filter_map(
                |&i| match fact(store.data_of(i), None, &|s: &StrId| store.str(*s)) {
                    beefine_schema::story::Fact::Open { path, .. } => Some(path),
                    _ => None,
                },
            )
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .collect()
    } else {
        Vec::new()
    };
    run_label(class, members.len(), comm, layer, &libraries)
}

/// A stop of presentation mode: a chapter or a bookmark, in time order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Chapter(usize),
    Bookmark(usize),
}

/// The stops of presentation mode: the chapters of `container` and every bookmark, by time.
pub fn stops(story: &SessionStory, container: Option<usize>, bookmarks: &[Bookmark]) -> Vec<Stop> {
    let mut s: Vec<(u64, Stop)> = story
        .chapters_for(container)
        .into_iter()
        .map(|i| (story.story.chapters[i].ts_nanos, Stop::Chapter(i)))
        .chain(
            bookmarks
                .iter()
                .enumerate()
                .map(|(i, b)| (b.ts_nanos, Stop::Bookmark(i))),
        )
        .collect();
    s.sort_by_key(|(t, _)| *t);
    s.into_iter().map(|(_, st)| st).collect()
}

/// The chapter after (or before) `ts` among `chapters` (indexes into the story's): the one
/// starting next, or the one holding `ts` when going back from inside it.
pub fn chapter_step(all: &[Chapter], chapters: &[usize], ts: u64, forward: bool) -> Option<usize> {
    if forward {
        chapters.iter().copied().find(|&i| all[i].ts_nanos > ts)
    } else {
        chapters
            .iter()
            .rev()
            .copied()
            .find(|&i| all[i].ts_nanos < ts)
    }
}

/// Whether an event is one a chapter is told by: a call of the story's kinds, or a packet
/// that carries a request (an image pull's HTTP).
pub fn key_event(store: &Store, idx: EventIdx) -> bool {
    match store.kind_of(idx) {
        Kind::Packet => matches!(
            store.data_of(idx),
            beefine_schema::EventData::Packet(p)
                if p.payload.starts_with(b"GET ") || p.payload.starts_with(b"HEAD ")
        ),
        k => key_kind(k),
    }
}

/// The kinds whose events are worth a line in a handout.
pub fn key_kind(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Openat
            | Kind::Openat2
            | Kind::FileIo
            | Kind::Packet
            | Kind::TcpState
            | Kind::Prctl
            | Kind::Accept4
    )
}
