//! Reading events: the chunk table, chunks that overlap in time merged as a stream, and the
//! two ways of visiting (borrowed with [`Session::scan`], owned with [`Session::events`]).

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::ControlFlow;

use rusqlite::Connection;

use super::{ChunkInfo, Query, Session, nonneg};
use crate::chunk::{Bloom, ChunkCursor, ChunkError, ChunkLayout, ChunkView};
use crate::error::{Error, Result};
use crate::event::{Event, KindSet, Str};

/// Most decompressed bytes of chunks that overlap in time held at once to merge them:
/// chunks of one overlapping group beyond it are skipped and reported. A writer never
/// produces such groups (live chunks overlap a little; finished sessions not at all).
pub const MAX_MERGE_RAW_BYTES: u64 = 512 << 20;

impl Session {
    /// Iterates the events that match `query`, in time order. A corrupt chunk yields one
    /// error naming it; iteration then goes on with the next chunk.
    pub fn events(&self, query: &Query) -> Result<EventIter<'_>> {
        let cgroups = self.resolve_cgroups(query)?;
        // A damaged chunk table is reported first; the chunks before the damage still read.
        let (all, damage) = load_chunk_list(&self.conn);
        let chunks: Vec<ChunkInfo> = all
            .into_iter()
            .filter(|c| query.chunk_may_match(c, cgroups.as_deref()))
            .collect();
        Ok(EventIter {
            session: self,
            query: query.clone(),
            cgroups,
            chunks,
            next_chunk: 0,
            buf: Vec::new().into_iter(),
            merge: None,
            pending_errors: damage.into_iter().collect(),
        })
    }

    /// Visits the events that match `query` in time order, with strings borrowed from the
    /// decoded chunk: the fastest way to read a session (no allocation or reference count per
    /// event). Stops when `f` breaks. Chunks that cannot be read are skipped and returned in
    /// the summary's errors.
    pub fn scan(
        &self,
        query: &Query,
        mut f: impl for<'a> FnMut(Event<&'a str>) -> ControlFlow<()>,
    ) -> Result<ScanSummary> {
        let cgroups = self.resolve_cgroups(query)?;
        let (all, damage) = load_chunk_list(&self.conn);
        let chunks: Vec<ChunkInfo> = all
            .into_iter()
            .filter(|c| query.chunk_may_match(c, cgroups.as_deref()))
            .collect();
        let mut summary = ScanSummary {
            errors: damage.into_iter().collect(),
            ..ScanSummary::default()
        };
        let filtered = *query != Query::all();
        let cg = cgroups.as_deref();
        for group in ChunkGroups::new(&chunks) {
            let views = read_group(&self.conn, group, self.layout(), &mut summary.errors);
            summary.chunks_read += views.len();
            let mut visit = |e: Event<&str>| {
                if filtered && !query.event_matches(&e, cg) {
                    return ControlFlow::Continue(());
                }
                summary.events += 1;
                f(e)
            };
            if let [(seq, view)] = views.as_slice() {
                match view.for_each(&mut visit) {
                    Ok(ControlFlow::Break(())) => return Ok(summary),
                    Ok(ControlFlow::Continue(())) => {}
                    Err(source) => summary.errors.push(Error::CorruptChunk {
                        chunk_seq: *seq,
                        source,
                    }),
                }
                continue;
            }
            // Overlapping chunks: merged by time as a stream, holding their bodies only.
            let lanes = views
                .iter()
                .map(|(seq, view)| Lane {
                    seq: *seq,
                    cursor: view.borrowed_cursor(),
                    view,
                })
                .collect();
            let mut merge = Merge::new(lanes);
            let mut stopped = false;
            while let Some(e) = merge.next() {
                if visit(e).is_break() {
                    stopped = true;
                    break;
                }
            }
            summary.errors.append(&mut merge.errors);
            if stopped {
                return Ok(summary);
            }
        }
        Ok(summary)
    }

    /// Every event of the session in time order, or the first error.
    pub fn all_events(&self) -> Result<Vec<Event>> {
        self.events(&Query::all())?.collect()
    }

    fn resolve_cgroups(&self, query: &Query) -> Result<Option<Vec<u64>>> {
        let mut cgroups = query.cgroup_ids.clone();
        if let Some(ids) = &query.container_ids {
            let containers = self.containers()?;
            let set = cgroups.get_or_insert_with(Vec::new);
            for id in ids {
                for c in containers
                    .iter()
                    .filter(|c| c.container_id.starts_with(id.as_str()))
                {
                    set.extend(c.cgroup_id);
                }
            }
        }
        Ok(cgroups)
    }
}

/// Decompresses the chunks of one overlapping group, within [`MAX_MERGE_RAW_BYTES`].
fn read_group(
    conn: &Connection,
    group: &[ChunkInfo],
    layout: ChunkLayout,
    errors: &mut Vec<Error>,
) -> Vec<(i64, ChunkView)> {
    let mut views = Vec::with_capacity(group.len().min(1024));
    let mut held = 0u64;
    for info in group {
        if group.len() > 1 && held.saturating_add(info.raw_len) > MAX_MERGE_RAW_BYTES {
            errors.push(Error::CorruptChunk {
                chunk_seq: info.chunk_seq,
                source: ChunkError::Invalid(format!(
                    "it overlaps in time with {} other chunks, more than can be merged within \
                     {} MiB; skipped",
                    group.len() - 1,
                    MAX_MERGE_RAW_BYTES >> 20
                )),
            });
            continue;
        }
        match read_chunk_view(conn, info.chunk_seq, layout) {
            Ok(v) => {
                held = held.saturating_add(info.raw_len);
                views.push((info.chunk_seq, v));
            }
            Err(e) => errors.push(e),
        }
    }
    views
}

/// One chunk being merged: its view (borrowed or owned) and where its cursor is.
struct Lane<V, T> {
    seq: i64,
    view: V,
    cursor: ChunkCursor<T>,
}

/// A k-way merge by time of chunks whose events are each in time order. Equal times come
/// in chunk order. Holds one event per chunk at most.
struct Merge<V, T> {
    lanes: Vec<Lane<V, T>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    errors: Vec<Error>,
}

impl<V: Borrow<ChunkView>, T: Clone> Merge<V, T> {
    fn new(lanes: Vec<Lane<V, T>>) -> Self {
        let heap = lanes
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.cursor.peek_ts(l.view.borrow()).map(|ts| Reverse((ts, i))))
            .collect();
        Self {
            lanes,
            heap,
            errors: Vec::new(),
        }
    }

    fn next(&mut self) -> Option<Event<T>> {
        loop {
            let Reverse((_, i)) = self.heap.pop()?;
            let lane = &mut self.lanes[i];
            let view = lane.view.borrow();
            match lane.cursor.next(view) {
                Some(Ok(e)) => {
                    if let Some(ts) = lane.cursor.peek_ts(view) {
                        self.heap.push(Reverse((ts, i)));
                    }
                    return Some(e);
                }
                Some(Err(source)) => self.errors.push(Error::CorruptChunk {
                    chunk_seq: lane.seq,
                    source,
                }),
                None => {}
            }
        }
    }
}

/// The chunk table ordered by time. Rows are read in storage order and sorted here, so a
/// truncated file still yields every row before the damage; the damage is returned beside.
pub(crate) fn load_chunk_list(conn: &Connection) -> (Vec<ChunkInfo>, Option<Error>) {
    let mut out = Vec::new();
    let result = (|| {
        let mut stmt = conn.prepare_cached(
            "SELECT chunk_seq, first_ts_nanos, last_ts_nanos, event_count, kinds_mask, tgid_bloom,
                cgroup_bloom, raw_len, length(body)
             FROM chunks",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let first = nonneg(r.get(1)?);
            out.push(ChunkInfo {
                chunk_seq: r.get(0)?,
                first_ts_nanos: first,
                // A chunk cannot end before it starts; a forged one is read as one instant.
                last_ts_nanos: nonneg(r.get(2)?).max(first),
                event_count: r.get::<_, i64>(3)?.clamp(0, u32::MAX.into()) as u32,
                kinds: KindSet(r.get::<_, i64>(4)? as u64),
                tgid_bloom: Bloom::from_stored(&r.get::<_, Vec<u8>>(5)?),
                cgroup_bloom: Bloom::from_stored(&r.get::<_, Vec<u8>>(6)?),
                raw_len: nonneg(r.get(7)?),
                stored_len: nonneg(r.get(8)?),
            });
        }
        Ok(())
    })();
    out.sort_by_key(|c| (c.first_ts_nanos, c.chunk_seq));
    let error = result.err().map(|sqlite: rusqlite::Error| Error::Sqlite {
        context: format!(
            "listing chunks (the {} before the damage are readable)",
            out.len()
        ),
        sqlite,
    });
    (out, error)
}

/// Reads and decompresses one chunk.
pub(crate) fn read_chunk_view(
    conn: &Connection,
    chunk_seq: i64,
    layout: ChunkLayout,
) -> Result<ChunkView> {
    let (raw_len, body): (i64, Vec<u8>) = conn
        .prepare_cached("SELECT raw_len, body FROM chunks WHERE chunk_seq = ?1")
        .and_then(|mut s| s.query_row([chunk_seq], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(|source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::SystemIoFailure) => {
                Error::CorruptChunk {
                    chunk_seq,
                    source: ChunkError::Invalid(format!(
                        "the pages that hold it cannot be read ({})",
                        crate::error::sqlite_words(&source)
                    )),
                }
            }
            _ => Error::Sqlite {
                context: format!("reading chunk {chunk_seq}"),
                sqlite: source,
            },
        })?;
    ChunkView::parse(&body, nonneg(raw_len), layout)
        .map_err(|source| Error::CorruptChunk { chunk_seq, source })
}

/// Decodes one chunk's events onto `out`.
pub(crate) fn read_chunk_body(
    conn: &Connection,
    chunk_seq: i64,
    layout: ChunkLayout,
    out: &mut Vec<Event>,
) -> Result<()> {
    read_chunk_view(conn, chunk_seq, layout)?
        .append_owned(out)
        .map_err(|source| Error::CorruptChunk { chunk_seq, source })
}

/// Groups of chunks whose time ranges overlap (transitively), in time order: merging each
/// group's events gives a globally ordered stream.
pub(crate) struct ChunkGroups<'a> {
    chunks: &'a [ChunkInfo],
}

impl<'a> ChunkGroups<'a> {
    /// `chunks` must be ordered by first timestamp.
    pub(crate) fn new(chunks: &'a [ChunkInfo]) -> Self {
        Self { chunks }
    }
}

impl<'a> Iterator for ChunkGroups<'a> {
    type Item = &'a [ChunkInfo];

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.chunks.first()?;
        let mut end = first.last_ts_nanos;
        let mut n = 1;
        while let Some(c) = self.chunks.get(n) {
            if c.first_ts_nanos > end {
                break;
            }
            end = end.max(c.last_ts_nanos);
            n += 1;
        }
        let (group, rest) = self.chunks.split_at(n);
        self.chunks = rest;
        Some(group)
    }
}

/// What [`Session::scan`] did.
#[derive(Debug, Default)]
pub struct ScanSummary {
    /// Events passed to the callback.
    pub events: u64,
    /// Chunks decompressed (the others were skipped unopened).
    pub chunks_read: usize,
    /// Chunks that could not be read, and damage to the chunk table.
    pub errors: Vec<Error>,
}

/// Events matching a query, in time order.
pub struct EventIter<'s> {
    session: &'s Session,
    query: Query,
    cgroups: Option<Vec<u64>>,
    chunks: Vec<ChunkInfo>,
    next_chunk: usize,
    /// The events of a chunk that overlaps no other.
    buf: std::vec::IntoIter<Event>,
    /// Chunks that overlap, merged as they are read.
    merge: Option<Merge<ChunkView, Str>>,
    pending_errors: Vec<Error>,
}

impl std::fmt::Debug for EventIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIter")
            .field("next_chunk", &self.next_chunk)
            .finish_non_exhaustive()
    }
}

impl EventIter<'_> {
    /// How many chunks the query still has to decompress (the others were skipped by their
    /// time range, kind mask or Bloom filters).
    pub fn chunks_to_read(&self) -> usize {
        self.chunks.len() - self.next_chunk
    }

    /// Starts on the next group of overlapping chunks.
    fn load_group(&mut self) {
        let Some(group) = ChunkGroups::new(&self.chunks[self.next_chunk..]).next() else {
            return;
        };
        self.next_chunk += group.len();
        let conn = &self.session.conn;
        let layout = self.session.layout();
        if let [single] = group {
            let mut buf = Vec::new();
            if let Err(e) = read_chunk_body(conn, single.chunk_seq, layout, &mut buf) {
                self.pending_errors.push(e);
            }
            self.buf = buf.into_iter();
            return;
        }
        let views = read_group(conn, group, layout, &mut self.pending_errors);
        let lanes = views
            .into_iter()
            .map(|(seq, view)| Lane {
                seq,
                cursor: view.owned_cursor(),
                view,
            })
            .collect();
        self.merge = Some(Merge::new(lanes));
    }

    fn next_unfiltered(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(e) = self.pending_errors.pop() {
                return Some(Err(e));
            }
            if let Some(ev) = self.buf.next() {
                return Some(Ok(ev));
            }
            if let Some(merge) = &mut self.merge {
                let next = merge.next();
                self.pending_errors.append(&mut merge.errors);
                match next {
                    Some(ev) => return Some(Ok(ev)),
                    None if self.pending_errors.is_empty() => self.merge = None,
                    None => continue,
                }
            }
            if self.next_chunk >= self.chunks.len() {
                return None;
            }
            self.load_group();
        }
    }
}

impl Iterator for EventIter<'_> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        let filtered = self.query != Query::all() || self.cgroups.is_some();
        loop {
            let item = self.next_unfiltered()?;
            match &item {
                Ok(e) if filtered && !self.query.event_matches(e, self.cgroups.as_deref()) => {}
                _ => return Some(item),
            }
        }
    }
}
