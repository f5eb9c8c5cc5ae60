//! The events of a session held in memory, column by column.
//!
//! A million events take about 50 bytes each: the timestamp, kind, process context index,
//! result and container are plain columns that filters and the timeline run over; the kind's
//! fields are kept with their strings interned once for the whole session. Events are kept in
//! time order so that a time is found by binary search.

use std::sync::Arc;

use beefine_schema::text::Strings;
use beefine_schema::{Event, EventData, EventHeader, Kind, Namespaces};
use rustc_hash::FxHashMap;

use crate::containers::ContainerIndex;

/// Index of a string in the store's interner.
pub type StrId = u32;

/// Index of an event in the store (its position in time order).
pub type EventIdx = u32;

/// No result (events that do not come from a syscall).
const NO_RESULT: i64 = i64::MIN;

/// No container (host processes, daemon-wide events).
pub const NO_CONTAINER: u16 = u16::MAX;

/// Strings, each stored once.
#[derive(Debug, Default)]
pub struct Interner {
    map: FxHashMap<Arc<str>, StrId>,
    strings: Vec<Arc<str>>,
    /// Recently seen string slices by address: decoded chunks hand out the same slice for a
    /// string repeated in the chunk, and comparing bytes is cheaper than hashing them. A hit
    /// is checked against the stored text, so an address reused by another chunk is harmless.
    recent: Vec<(usize, usize, StrId)>,
}

const RECENT_SLOTS: usize = 1024;

impl Interner {
    pub fn intern(&mut self, s: &str) -> StrId {
        if self.recent.is_empty() {
            self.recent = vec![(0, usize::MAX, 0); RECENT_SLOTS];
        }
        let addr = s.as_ptr() as usize;
        let slot = (addr ^ (addr >> 12) ^ s.len()) % RECENT_SLOTS;
        let (a, len, id) = self.recent[slot];
        if a == addr && len == s.len() && *self.strings[id as usize] == *s {
            return id;
        }
        let id = match self.map.get(s) {
            Some(&id) => id,
            None => {
                let id = StrId::try_from(self.strings.len()).unwrap_or(StrId::MAX);
                let arc: Arc<str> = Arc::from(s);
                self.strings.push(arc.clone());
                self.map.insert(arc, id);
                id
            }
        };
        self.recent[slot] = (addr, s.len(), id);
        id
    }

    pub fn get(&self, id: StrId) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// The id of a string already interned.
    pub fn find(&self, s: &str) -> Option<StrId> {
        self.map.get(s).copied()
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.strings.iter().map(|s| &**s)
    }
}

impl Strings<StrId> for Interner {
    fn get<'a>(&'a self, s: &'a StrId) -> &'a str {
        Interner::get(self, *s)
    }
}

/// Who did it: the part of an event's header shared by many events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    pub pid: u32,
    pub tgid: u32,
    pub comm: StrId,
    pub cgroup_id: u64,
    pub ns: Namespaces,
}

/// The events of a session in time order, as columns.
#[derive(Debug, Default)]
pub struct Store {
    ts: Vec<u64>,
    kind: Vec<Kind>,
    ctx: Vec<u32>,
    result: Vec<i64>,
    container: Vec<u16>,
    data: Vec<EventData<StrId>>,
    pub strings: Interner,
    contexts: Vec<Context>,
    ctx_map: FxHashMap<Context, u32>,
    /// First and last time each context was seen.
    ctx_seen: Vec<(u64, u64)>,
    /// Container of each context's cgroup (the container column of most events).
    ctx_container: Vec<u16>,
    /// Events per kind.
    kind_counts: Vec<u64>,
}

/// A container index as stored in the container column.
fn to_column(container: Option<usize>) -> u16 {
    container
        .and_then(|c| u16::try_from(c).ok())
        .filter(|&c| c != NO_CONTAINER)
        .unwrap_or(NO_CONTAINER)
}

/// One event of the store, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    pub idx: EventIdx,
    pub ts_nanos: u64,
    pub kind: Kind,
    pub ctx: &'a Context,
    pub result: Option<i64>,
    /// Index of the session's container the event belongs to.
    pub container: Option<usize>,
    pub data: &'a EventData<StrId>,
}

impl EventRef<'_> {
    pub fn failed(&self) -> bool {
        self.result.is_some_and(|r| r < 0)
    }
}

impl Store {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            ctx: Vec::with_capacity(n),
            result: Vec::with_capacity(n),
            container: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Time of the first and last event.
    pub fn time_span(&self) -> Option<(u64, u64)> {
        Some((*self.ts.first()?, *self.ts.last()?))
    }

    pub fn ts(&self) -> &[u64] {
        &self.ts
    }

    pub fn kinds(&self) -> &[Kind] {
        &self.kind
    }

    pub fn ctx_column(&self) -> &[u32] {
        &self.ctx
    }

    pub fn container_column(&self) -> &[u16] {
        &self.container
    }

    pub fn contexts(&self) -> &[Context] {
        &self.contexts
    }

    /// First and last time a context was seen.
    pub fn context_seen(&self, ctx: u32) -> (u64, u64) {
        self.ctx_seen.get(ctx as usize).copied().unwrap_or((0, 0))
    }

    pub fn kind_count(&self, kind: Kind) -> u64 {
        self.kind_counts
            .get(usize::from(kind.index()))
            .copied()
            .unwrap_or(0)
    }

    pub fn ts_of(&self, idx: EventIdx) -> u64 {
        self.ts[idx as usize]
    }

    pub fn kind_of(&self, idx: EventIdx) -> Kind {
        self.kind[idx as usize]
    }

    pub fn tgid_of(&self, idx: EventIdx) -> u32 {
        self.contexts[self.ctx[idx as usize] as usize].tgid
    }

    pub fn container_of(&self, idx: EventIdx) -> Option<usize> {
        let c = self.container[idx as usize];
        (c != NO_CONTAINER).then_some(usize::from(c))
    }

    pub fn result_of(&self, idx: EventIdx) -> Option<i64> {
        let r = self.result[idx as usize];
        (r != NO_RESULT).then_some(r)
    }

    pub fn data_of(&self, idx: EventIdx) -> &EventData<StrId> {
        &self.data[idx as usize]
    }

    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    pub fn comm(&self, ctx: &Context) -> &str {
        self.strings.get(ctx.comm)
    }

    pub fn get(&self, idx: EventIdx) -> Option<EventRef<'_>> {
        let i = idx as usize;
        let ts_nanos = *self.ts.get(i)?;
        Some(EventRef {
            idx,
            ts_nanos,
            kind: self.kind[i],
            ctx: &self.contexts[self.ctx[i] as usize],
            result: self.result_of(idx),
            container: self.container_of(idx),
            data: &self.data[i],
        })
    }

    /// The first event at or after `ts`.
    pub fn lower_bound(&self, ts: u64) -> usize {
        self.ts.partition_point(|&t| t < ts)
    }

    /// The first event after `ts`.
    pub fn upper_bound(&self, ts: u64) -> usize {
        self.ts.partition_point(|&t| t <= ts)
    }

    fn context_id(&mut self, h: &EventHeader<impl AsRef<str>>, containers: &ContainerIndex) -> u32 {
        let c = Context {
            pid: h.pid,
            tgid: h.tgid,
            comm: self.strings.intern(h.comm.as_ref()),
            cgroup_id: h.cgroup_id,
            ns: h.ns,
        };
        let next = u32::try_from(self.contexts.len()).unwrap_or(u32::MAX);
        let id = *self.ctx_map.entry(c).or_insert(next);
        if id == next {
            self.contexts.push(c);
            self.ctx_seen.push((h.ts_nanos, h.ts_nanos));
            self.ctx_container
                .push(to_column(containers.by_cgroup(c.cgroup_id)));
        }
        let seen = &mut self.ctx_seen[id as usize];
        seen.0 = seen.0.min(h.ts_nanos);
        seen.1 = seen.1.max(h.ts_nanos);
        id
    }

    /// Appends an event; events must come in time order (see [`Store::insert_events`]).
    pub fn push<S: AsRef<str>>(&mut self, e: &Event<S>, containers: &ContainerIndex) {
        let ctx = self.context_id(&e.header, containers);
        let strings = &mut self.strings;
        let Ok(data) = e.data.try_map_strings(&mut |s: &S| {
            Ok::<_, std::convert::Infallible>(strings.intern(s.as_ref()))
        });
        let kind = e.kind();
        if self.kind_counts.is_empty() {
            self.kind_counts = vec![0; Kind::COUNT];
        }
        self.kind_counts[usize::from(kind.index())] += 1;
        self.ts.push(e.header.ts_nanos);
        self.kind.push(kind);
        self.ctx.push(ctx);
        self.result.push(e.result.unwrap_or(NO_RESULT));
        self.container
            .push(if ContainerIndex::depends_on_fields(kind) {
                to_column(containers.for_event(e))
            } else {
                self.ctx_container[ctx as usize]
            });
        self.data.push(data);
    }

    /// Adds events that may be older than the newest ones held (a live session's chunks
    /// overlap a little in time). Every event is kept: the live tail hands each chunk over
    /// once, by its sequence number, so events that look alike (two daemon events in one
    /// nanosecond) are distinct events. Returns the position from which the store changed:
    /// `len()` before the call when everything was appended at the end.
    pub fn insert_events(&mut self, mut events: Vec<Event>, containers: &ContainerIndex) -> usize {
        events.sort_by_key(|e| e.header.ts_nanos);
        let old_len = self.len();
        let Some(first_ts) = events.first().map(|e| e.header.ts_nanos) else {
            return old_len;
        };
        let at = self.upper_bound(first_ts);
        if at == old_len {
            for e in &events {
                self.push(e, containers);
            }
            return old_len;
        }
        // Late events: rebuild the columns from the first one on, merged by time.
        let tail: Vec<EventIdx> = (at as u32..old_len as u32).collect();
        let tail_events: Vec<Event> = tail.iter().map(|&i| self.to_event(i)).collect();
        self.truncate(at);
        let mut merged = tail_events;
        merged.extend(events);
        merged.sort_by_key(|e| e.header.ts_nanos);
        for e in &merged {
            self.push(e, containers);
        }
        at
    }

    fn truncate(&mut self, len: usize) {
        for i in len..self.len() {
            self.kind_counts[usize::from(self.kind[i].index())] -= 1;
        }
        self.ts.truncate(len);
        self.kind.truncate(len);
        self.ctx.truncate(len);
        self.result.truncate(len);
        self.container.truncate(len);
        self.data.truncate(len);
    }

    /// The event at `idx` as an owned event.
    pub fn to_event(&self, idx: EventIdx) -> Event {
        let i = idx as usize;
        let c = &self.contexts[self.ctx[i] as usize];
        let Ok(data) = self.data[i].try_map_strings(&mut |&s: &StrId| {
            Ok::<_, std::convert::Infallible>(Arc::from(self.strings.get(s)))
        });
        Event {
            header: EventHeader {
                ts_nanos: self.ts[i],
                pid: c.pid,
                tgid: c.tgid,
                comm: Arc::from(self.strings.get(c.comm)),
                cgroup_id: c.cgroup_id,
                ns: c.ns,
            },
            result: self.result_of(idx),
            data,
        }
    }

    /// Appends a store of later events (read in parallel): its strings and contexts are
    /// merged into this one's.
    pub fn append(&mut self, other: Store) {
        let strings: Vec<StrId> = other
            .strings
            .iter()
            .map(|s| self.strings.intern(s))
            .collect();
        let mut contexts = Vec::with_capacity(other.contexts.len());
        for (i, c) in other.contexts.iter().enumerate() {
            let c = Context {
                comm: strings[c.comm as usize],
                ..*c
            };
            let next = u32::try_from(self.contexts.len()).unwrap_or(u32::MAX);
            let id = *self.ctx_map.entry(c).or_insert(next);
            let (first, last) = other.ctx_seen[i];
            if id == next {
                self.contexts.push(c);
                self.ctx_seen.push((first, last));
                self.ctx_container.push(other.ctx_container[i]);
            } else {
                let seen = &mut self.ctx_seen[id as usize];
                seen.0 = seen.0.min(first);
                seen.1 = seen.1.max(last);
            }
            contexts.push(id);
        }
        if self.kind_counts.is_empty() {
            self.kind_counts = vec![0; Kind::COUNT];
        }
        for (mine, theirs) in self.kind_counts.iter_mut().zip(&other.kind_counts) {
            *mine += theirs;
        }
        self.ts.extend_from_slice(&other.ts);
        self.kind.extend_from_slice(&other.kind);
        self.ctx
            .extend(other.ctx.iter().map(|&c| contexts[c as usize]));
        self.result.extend_from_slice(&other.result);
        self.container.extend_from_slice(&other.container);
        let identity = strings.iter().enumerate().all(|(i, &s)| i as StrId == s);
        self.data.reserve(other.data.len());
        for d in other.data {
            if identity {
                self.data.push(d);
            } else {
                let Ok(d) = d.try_map_strings(&mut |s: &StrId| {
                    Ok::<_, std::convert::Infallible>(
                        strings.get(*s as usize).copied().unwrap_or(*s),
                    )
                });
                self.data.push(d);
            }
        }
    }

    /// Attributes every event to a container again (the session's containers changed).
    pub fn attribute_containers(&mut self, containers: &ContainerIndex) {
        let by_ctx: Vec<u16> = self
            .contexts
            .iter()
            .map(|c| to_column(containers.by_cgroup(c.cgroup_id)))
            .collect();
        self.ctx_container.clone_from(&by_ctx);
        for i in 0..self.len() {
            self.container[i] = if ContainerIndex::depends_on_fields(self.kind[i]) {
                let task_cgroup = self.contexts[self.ctx[i] as usize].cgroup_id;
                to_column(containers.for_data(&self.data[i], &self.strings, task_cgroup))
            } else {
                by_ctx[self.ctx[i] as usize]
            };
        }
    }

    /// Takes the containers the story attributed events to (by position; `None` keeps the
    /// attribution by cgroup).
    pub fn attribute_by(&mut self, containers: &[Option<usize>]) {
        for (slot, c) in self.container.iter_mut().zip(containers) {
            if let Some(c) = c {
                *slot = to_column(Some(*c));
            }
        }
    }

    /// Bytes held by the columns (not counting strings and boxed fields).
    pub fn column_bytes(&self) -> usize {
        self.ts.capacity() * 8
            + self.kind.capacity()
            + self.ctx.capacity() * 4
            + self.result.capacity() * 8
            + self.container.capacity() * 2
            + self.data.capacity() * size_of::<EventData<StrId>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_testdata::synth::Generator;

    #[test]
    fn the_store_gives_back_what_was_pushed() {
        let events = Generator::new(3).take(5_000);
        let containers = ContainerIndex::default();
        let mut store = Store::default();
        for e in &events {
            store.push(e, &containers);
        }
        assert_eq!(store.len(), events.len());
        for (i, e) in events.iter().enumerate() {
            assert_eq!(&store.to_event(i as u32), e);
        }
        // Strings and contexts are shared, not copied per event.
        assert!(store.strings.len() < 100, "{}", store.strings.len());
        assert!(store.contexts().len() < 50);
        // file_io (a third of a session) is the largest inline kind: its fd and path.
        assert!(size_of::<EventData<StrId>>() <= 40);
    }

    #[test]
    fn stores_read_in_parts_append_to_the_same_store() {
        let events = Generator::new(9).take(6_000);
        let containers = ContainerIndex::default();
        let mut whole = Store::default();
        for e in &events {
            whole.push(e, &containers);
        }
        let mut first = Store::default();
        let mut second = Store::default();
        // The second part meets its strings in another order.
        for e in events[3_000..].iter().rev() {
            second.push(e, &containers);
        }
        let mut second_in_order = Store::default();
        for e in &events[3_000..] {
            second_in_order.strings.intern(second.strings.get(0));
            second_in_order.push(e, &containers);
        }
        for e in &events[..3_000] {
            first.push(e, &containers);
        }
        first.append(second_in_order);
        assert_eq!(first.len(), whole.len());
        for i in 0..whole.len() as u32 {
            assert_eq!(first.to_event(i), whole.to_event(i));
        }
        assert_eq!(first.contexts().len(), whole.contexts().len());
        for k in Kind::ALL {
            assert_eq!(first.kind_count(*k), whole.kind_count(*k));
        }
    }

    #[test]
    fn late_events_are_merged_and_look_alikes_kept() {
        let events = Generator::new(4).take(1_000);
        let containers = ContainerIndex::default();
        let mut store = Store::default();
        for e in &events[..600] {
            store.push(e, &containers);
        }
        let changed_from = store.insert_events(events[600..].to_vec(), &containers);
        assert_eq!(
            changed_from, 600,
            "everything after the newest held is appended"
        );
        assert_eq!(store.len(), 1_000);
        // Untasked events of one nanosecond (daemon events, samples) are all kept.
        let ts = store.ts().last().copied().unwrap();
        let alike: Vec<Event> = (0..3)
            .map(|_| Event::untasked(ts, events[0].data.clone()))
            .collect();
        store.insert_events(alike.clone(), &containers);
        store.insert_events(alike, &containers);
        assert_eq!(store.len(), 1_006);
        let mut store2 = Store::default();
        for (i, e) in events.iter().enumerate() {
            if i % 2 == 0 || i < 300 {
                store2.push(e, &containers);
            }
        }
        let missing: Vec<Event> = events
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1 && *i >= 300)
            .map(|(_, e)| e.clone())
            .collect();
        let from = store2.insert_events(missing, &containers);
        assert!(from <= 301, "{from}");
        assert_eq!(store2.len(), 1_000);
        assert!(store2.ts().windows(2).all(|w| w[0] <= w[1]));
        for (i, e) in events.iter().enumerate() {
            assert_eq!(store2.ts_of(i as u32), e.header.ts_nanos);
        }
    }
}
