//! Chunk bodies: a column-wise postcard encoding of a batch of events, compressed with zstd.
//!
//! Layout of the (decompressed) body, in postcard:
//!
//! | field       | what                                                                  |
//! |-------------|-----------------------------------------------------------------------|
//! | `strings`   | distinct strings of the chunk                                          |
//! | `contexts`  | distinct (pid, tgid, comm, cgroup, namespaces) tuples of the chunk     |
//! | `ts_deltas` | first timestamp, then the difference to the previous event (sorted)    |
//! | `context`   | per event, an index into `contexts`                                   |
//! | `results`   | per event, the syscall result or none                                 |
//! | `data`      | per event, [`EventData`] with strings as indexes into `strings`        |
//!
//! The tables come first so that the last column can be decoded one event at a time.
//!
//! The layout has changed once: format 1 stored three namespaces per context and the old
//! `clone3` and `file_io` data ([`crate::event::v1`]); the reader is told which layout a
//! session's chunks use by its format version ([`ChunkLayout`]).
//!
//! Everything read back is untrusted: the declared size is bounded before decompression,
//! every sequence is bounded while it is decoded, and every index is checked.

mod bloom;
mod bounded;

use std::ops::ControlFlow;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use bloom::Bloom;
use bounded::Bounded;

use crate::event::{Event, EventData, EventHeader, KindSet, Namespaces, Str, v1};

/// Largest decompressed chunk body accepted, in bytes.
pub const MAX_CHUNK_RAW_BYTES: usize = 32 << 20;
/// Most events accepted in one chunk.
pub const MAX_CHUNK_EVENTS: usize = 256 << 10;
/// Longest string accepted from a chunk, in bytes.
pub const MAX_STRING_BYTES: usize = 64 << 10;
/// Most bytes one event may expand to: the strings it refers to (each counted every time
/// it is referred to, plus [`REFERENCE_BYTES`]), so that an argv of many references to
/// one long string cannot make a small chunk expand without bound.
pub const MAX_EVENT_EXPANDED_BYTES: usize = 1 << 20;
/// What one string reference of an event counts for beside the string's length.
pub const REFERENCE_BYTES: usize = 16;
/// Most a chunk may expand by in decompression (real chunks: 2–20×): it bounds the work a
/// small file can ask for.
pub const MAX_EXPANSION_RATIO: u64 = 512;

/// Why a chunk body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("declares {declared} decompressed bytes, more than the limit of {MAX_CHUNK_RAW_BYTES}")]
    TooLarge { declared: u64 },
    #[error(
        "declares {declared} decompressed bytes from {stored} stored ones, an expansion no \
         real chunk has (more than {MAX_EXPANSION_RATIO}×)"
    )]
    TooExpanding { declared: u64, stored: usize },
    #[error(
        "event {index} refers to more than {MAX_EVENT_EXPANDED_BYTES} bytes of strings (a string \
         referred to many times?)"
    )]
    EventTooLarge { index: usize },
    #[error("zstd decompression failed: {0}")]
    Decompress(#[source] std::io::Error),
    #[error("decompressed to {actual} bytes but declares {declared}")]
    SizeMismatch { declared: u64, actual: usize },
    #[error("postcard decoding failed: {0}")]
    Decode(#[from] postcard::Error),
    #[error("is inconsistent: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ChunkError {
    ChunkError::Invalid(msg.into())
}

/// How a session's chunk bodies are laid out, by its format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLayout {
    /// Format 1: three namespaces per context, the first `clone3` and `file_io` layouts.
    V1,
    /// Format 2: eight namespaces per context; every kind's data as `kinds.rs` lists it.
    V2,
}

impl ChunkLayout {
    /// What this build writes.
    pub const CURRENT: Self = Self::V2;

    /// The layout of a session of format `version`; `None` for versions this build does not
    /// know.
    pub fn for_format(version: u32) -> Option<Self> {
        match version {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Context {
    pid: u32,
    tgid: u32,
    comm: u32,
    cgroup_id: u64,
    ns: Namespaces,
}

impl From<v1::Context> for Context {
    fn from(c: v1::Context) -> Self {
        Self {
            pid: c.pid,
            tgid: c.tgid,
            comm: c.comm,
            cgroup_id: c.cgroup_id,
            ns: Namespaces {
                pid_ns: c.pid_ns,
                mnt_ns: c.mnt_ns,
                net_ns: c.net_ns,
                ..Namespaces::default()
            },
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Body {
    strings: Bounded<Box<str>, MAX_CHUNK_EVENTS>,
    contexts: Bounded<Context, MAX_CHUNK_EVENTS>,
    ts_deltas: Bounded<u64, MAX_CHUNK_EVENTS>,
    context: Bounded<u32, MAX_CHUNK_EVENTS>,
    results: Bounded<Option<i64>, MAX_CHUNK_EVENTS>,
    data: Bounded<EventData<u32>, MAX_CHUNK_EVENTS>,
}

/// [`Body`] without its last column, which the reader decodes one event at a time.
#[derive(Debug, Deserialize)]
struct BodyHead<C = Context> {
    strings: Bounded<Box<str>, MAX_CHUNK_EVENTS>,
    contexts: Bounded<C, MAX_CHUNK_EVENTS>,
    ts_deltas: Bounded<u64, MAX_CHUNK_EVENTS>,
    context: Bounded<u32, MAX_CHUNK_EVENTS>,
    results: Bounded<Option<i64>, MAX_CHUNK_EVENTS>,
}

impl BodyHead<v1::Context> {
    fn into_current(self) -> BodyHead {
        BodyHead {
            strings: self.strings,
            contexts: Bounded(self.contexts.0.into_iter().map(Context::from).collect()),
            ts_deltas: self.ts_deltas,
            context: self.context,
            results: self.results,
        }
    }
}

/// What the chunk table stores beside the body, so readers can skip a chunk unopened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSummary {
    pub first_ts_nanos: u64,
    pub last_ts_nanos: u64,
    pub event_count: u32,
    pub kinds: KindSet,
    pub tgid_bloom: Bloom,
    pub cgroup_bloom: Bloom,
}

/// An encoded chunk: summary, the compressed body and its decompressed length.
#[derive(Debug)]
pub struct EncodedChunk {
    pub summary: ChunkSummary,
    pub raw_len: usize,
    pub body: Vec<u8>,
}

/// Encodes batches of events into chunk bodies, reusing its buffers and zstd context.
pub struct ChunkEncoder {
    compressor: zstd::bulk::Compressor<'static>,
    strings: FxHashMap<Str, u32>,
    contexts: FxHashMap<Context, u32>,
    body: Body,
    raw: Vec<u8>,
}

impl std::fmt::Debug for ChunkEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkEncoder").finish_non_exhaustive()
    }
}

impl ChunkEncoder {
    pub fn new(zstd_level: i32) -> std::io::Result<Self> {
        let mut compressor = zstd::bulk::Compressor::new(zstd_level)?;
        compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        Ok(Self {
            compressor,
            strings: FxHashMap::default(),
            contexts: FxHashMap::default(),
            body: Body::default(),
            raw: Vec::new(),
        })
    }

    /// Encodes `events`, which must be sorted by time and at most [`MAX_CHUNK_EVENTS`].
    pub fn encode(&mut self, events: &[Event]) -> std::io::Result<EncodedChunk> {
        assert!(
            !events.is_empty() && events.len() <= MAX_CHUNK_EVENTS,
            "chunk size out of range"
        );
        debug_assert!(
            events
                .windows(2)
                .all(|w| w[0].header.ts_nanos <= w[1].header.ts_nanos)
        );
        self.strings.clear();
        self.contexts.clear();
        let b = &mut self.body;
        b.ts_deltas.0.clear();
        b.context.0.clear();
        b.results.0.clear();
        b.data.0.clear();
        b.contexts.0.clear();
        b.strings.0.clear();

        let mut kinds = KindSet::EMPTY;
        let mut tgid_bloom = Bloom::default();
        let mut cgroup_bloom = Bloom::default();
        let mut prev_ts = 0;
        let strings = &mut self.strings;
        let table = &mut b.strings.0;
        let mut intern = |s: &Str| -> Result<u32, std::convert::Infallible> {
            if let Some(&i) = strings.get(s) {
                return Ok(i);
            }
            let i = table.len() as u32;
            // Strings longer than the reader accepts are cut at a character boundary.
            let mut end = s.len().min(MAX_STRING_BYTES);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            table.push(s[..end].into());
            strings.insert(s.clone(), i);
            Ok(i)
        };
        for ev in events {
            let h = &ev.header;
            b.ts_deltas.0.push(h.ts_nanos - prev_ts);
            prev_ts = h.ts_nanos;
            let Ok(comm) = intern(&h.comm);
            let ctx = Context {
                pid: h.pid,
                tgid: h.tgid,
                comm,
                cgroup_id: h.cgroup_id,
                ns: h.ns,
            };
            let next = self.contexts.len() as u32;
            let ctx_index = *self.contexts.entry(ctx).or_insert_with(|| {
                b.contexts.0.push(ctx);
                tgid_bloom.insert(u64::from(h.tgid));
                tgid_bloom.insert(u64::from(h.pid));
                cgroup_bloom.insert(h.cgroup_id);
                next
            });
            b.context.0.push(ctx_index);
            b.results.0.push(ev.result);
            let Ok(data) = ev.data.try_map_strings(&mut intern);
            b.data.0.push(data);
            kinds.insert(ev.data.kind());
        }
        self.raw.clear();
        let raw = postcard::to_io(&self.body, std::mem::take(&mut self.raw))
            .map_err(std::io::Error::other)?;
        let compressed = self.compressor.compress(&raw)?;
        let raw_len = raw.len();
        self.raw = raw;
        Ok(EncodedChunk {
            summary: ChunkSummary {
                first_ts_nanos: events[0].header.ts_nanos,
                last_ts_nanos: prev_ts,
                event_count: events.len() as u32,
                kinds,
                tgid_bloom,
                cgroup_bloom,
            },
            raw_len,
            body: compressed,
        })
    }
}

/// Decompresses and decodes one chunk body. `raw_len` is the declared decompressed size.
///
/// Every failure is an error; nothing in the input can make this panic or allocate more
/// than a bounded multiple of [`MAX_CHUNK_RAW_BYTES`].
pub fn decode_chunk(
    body: &[u8],
    raw_len: u64,
    layout: ChunkLayout,
) -> Result<Vec<Event>, ChunkError> {
    let mut out = Vec::new();
    ChunkView::parse(body, raw_len, layout)?.append_owned(&mut out)?;
    Ok(out)
}

/// A decompressed chunk whose tables and fixed columns are decoded and checked; its events
/// are decoded while they are visited.
#[derive(Debug)]
pub struct ChunkView {
    layout: ChunkLayout,
    raw: Vec<u8>,
    data_offset: usize,
    strings: Vec<Box<str>>,
    contexts: Vec<Context>,
    ts_deltas: Vec<u64>,
    context: Vec<u32>,
    results: Vec<Option<i64>>,
}

impl ChunkView {
    /// Decompresses (bounded) and checks everything but the per-event data column.
    pub fn parse(body: &[u8], raw_len: u64, layout: ChunkLayout) -> Result<Self, ChunkError> {
        if raw_len > MAX_CHUNK_RAW_BYTES as u64 {
            return Err(ChunkError::TooLarge { declared: raw_len });
        }
        if raw_len
            > (body.len() as u64)
                .saturating_mul(MAX_EXPANSION_RATIO)
                .max(64 << 10)
        {
            return Err(ChunkError::TooExpanding {
                declared: raw_len,
                stored: body.len(),
            });
        }
        let raw = zstd::bulk::decompress(body, raw_len as usize).map_err(ChunkError::Decompress)?;
        if raw.len() as u64 != raw_len {
            return Err(ChunkError::SizeMismatch {
                declared: raw_len,
                actual: raw.len(),
            });
        }
        let (head, rest): (BodyHead, _) = match layout {
            ChunkLayout::V1 => {
                let (head, rest): (BodyHead<v1::Context>, _) = postcard::take_from_bytes(&raw)?;
                (head.into_current(), rest)
            }
            ChunkLayout::V2 => postcard::take_from_bytes(&raw)?,
        };
        let (data_len, rest): (u64, _) = postcard::take_from_bytes(rest)?;
        let data_offset = raw.len() - rest.len();
        let n = head.ts_deltas.0.len();
        if head.context.0.len() != n || head.results.0.len() != n || data_len != n as u64 {
            return Err(invalid("columns have different lengths"));
        }
        if let Some(s) = head.strings.0.iter().find(|s| s.len() > MAX_STRING_BYTES) {
            return Err(invalid(format!(
                "string of {} bytes exceeds the limit",
                s.len()
            )));
        }
        let strings = head.strings.0;
        if let Some(c) = head
            .contexts
            .0
            .iter()
            .find(|c| c.comm as usize >= strings.len())
        {
            return Err(invalid(format!(
                "comm index {} out of range ({})",
                c.comm,
                strings.len()
            )));
        }
        let contexts = head.contexts.0;
        if let Some(bad) = head
            .context
            .0
            .iter()
            .find(|&&c| c as usize >= contexts.len())
        {
            return Err(invalid(format!(
                "context index {bad} out of range ({})",
                contexts.len()
            )));
        }
        let mut ts: u64 = 0;
        for d in &head.ts_deltas.0 {
            ts = ts
                .checked_add(*d)
                .ok_or_else(|| invalid("timestamp overflow"))?;
        }
        Ok(Self {
            layout,
            raw,
            data_offset,
            strings,
            contexts,
            ts_deltas: head.ts_deltas.0,
            context: head.context.0,
            results: head.results.0,
        })
    }

    pub fn len(&self) -> usize {
        self.ts_deltas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts_deltas.is_empty()
    }

    /// Visits the events with their strings borrowed from the chunk: no allocation and no
    /// reference counting per event. Stops when `f` breaks. A damaged data column is an
    /// error after the events before the damage were visited.
    pub fn for_each<'a>(
        &'a self,
        mut f: impl FnMut(Event<&'a str>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, ChunkError> {
        for e in self.events() {
            if f(e?).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The events one at a time, with their strings borrowed from the chunk (for merging
    /// chunks without holding their events). After an error it yields nothing more.
    pub fn events(&self) -> ChunkEvents<'_, &str> {
        ChunkEvents {
            view: self,
            cursor: self.borrowed_cursor(),
        }
    }

    /// A cursor over the events with strings borrowed from this view.
    pub fn borrowed_cursor(&self) -> ChunkCursor<&str> {
        ChunkCursor::new(self, self.strings.iter().map(|s| &**s).collect())
    }

    /// A cursor over the events with owned strings, each distinct one allocated once; it
    /// borrows nothing, so it can be kept beside the view it reads.
    pub fn owned_cursor(&self) -> ChunkCursor<Str> {
        ChunkCursor::new(self, self.strings.iter().map(|s| Str::from(&**s)).collect())
    }

    /// Appends owned events; each distinct string is allocated once and shared. Leaves `out`
    /// unchanged on error.
    pub fn append_owned(&self, out: &mut Vec<Event>) -> Result<(), ChunkError> {
        let mut cursor = self.owned_cursor();
        let start = out.len();
        out.reserve(self.len());
        while let Some(e) = cursor.next(self) {
            match e {
                Ok(e) => out.push(e),
                Err(err) => {
                    out.truncate(start);
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// A position in the events of one [`ChunkView`] (given to each call), with the chunk's
/// string table and process contexts made into `T`s once.
pub struct ChunkCursor<T> {
    table: Vec<T>,
    headers: Vec<EventHeader<T>>,
    index: usize,
    offset: usize,
    ts: u64,
    done: bool,
}

impl<T> std::fmt::Debug for ChunkCursor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCursor")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<T: Clone> ChunkCursor<T> {
    fn new(view: &ChunkView, table: Vec<T>) -> Self {
        let headers = view
            .contexts
            .iter()
            .map(|c| EventHeader {
                ts_nanos: 0,
                pid: c.pid,
                tgid: c.tgid,
                comm: table[c.comm as usize].clone(), // checked in parse
                cgroup_id: c.cgroup_id,
                ns: c.ns,
            })
            .collect();
        Self {
            table,
            headers,
            index: 0,
            offset: view.data_offset,
            ts: 0,
            done: false,
        }
    }

    /// Timestamp of the next event of `view` (the view this cursor was made for).
    pub fn peek_ts(&self, view: &ChunkView) -> Option<u64> {
        if self.done {
            return None;
        }
        let delta = view.ts_deltas.get(self.index)?;
        Some(self.ts + delta) // checked in parse
    }

    /// The next event of `view` (the view this cursor was made for); after an error, none.
    pub fn next(&mut self, view: &ChunkView) -> Option<Result<Event<T>, ChunkError>> {
        if self.done {
            return None;
        }
        match self.decode_next(view) {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn decode_next(&mut self, v: &ChunkView) -> Result<Option<Event<T>>, ChunkError> {
        let rest = v
            .raw
            .get(self.offset..)
            .ok_or_else(|| invalid("a cursor used on another chunk"))?;
        let Some(((&delta, &ctx), &result)) = v
            .ts_deltas
            .get(self.index)
            .zip(v.context.get(self.index))
            .zip(v.results.get(self.index))
        else {
            if !rest.is_empty() {
                return Err(invalid(format!(
                    "{} trailing bytes after the body",
                    rest.len()
                )));
            }
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        self.ts += delta; // checked in parse
        let (stored, tail) = v.data_at(rest)?;
        self.offset = v.raw.len() - tail.len();
        let (Some(header), Some(context)) =
            (self.headers.get(ctx as usize), v.contexts.get(ctx as usize))
        else {
            return Err(invalid("a cursor used on another chunk"));
        };
        let mut header = header.clone();
        header.ts_nanos = self.ts;
        let comm_len = v.strings.get(context.comm as usize).map_or(0, |s| s.len());
        let mut expanded = comm_len + REFERENCE_BYTES;
        let table = &self.table;
        let strings = &v.strings;
        let data = stored.try_map_strings(&mut |i: &u32| -> Result<T, ChunkError> {
            let (s, text) = table
                .get(*i as usize)
                .zip(strings.get(*i as usize))
                .ok_or_else(|| {
                    invalid(format!("string index {i} out of range ({})", table.len()))
                })?;
            expanded += text.len() + REFERENCE_BYTES;
            if expanded > MAX_EVENT_EXPANDED_BYTES {
                return Err(ChunkError::EventTooLarge { index });
            }
            Ok(s.clone())
        })?;
        Ok(Some(Event {
            header,
            result,
            data,
        }))
    }
}

/// The events of a [`ChunkView`], decoded while iterated.
#[derive(Debug)]
pub struct ChunkEvents<'v, T> {
    view: &'v ChunkView,
    cursor: ChunkCursor<T>,
}

impl<T: Clone> Iterator for ChunkEvents<'_, T> {
    type Item = Result<Event<T>, ChunkError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.cursor.next(self.view)
    }
}

impl ChunkView {
    /// Decodes the data of the event that starts `rest`, in this chunk's layout.
    fn data_at<'r>(&self, rest: &'r [u8]) -> Result<(EventData<u32>, &'r [u8]), ChunkError> {
        if self.layout == ChunkLayout::V1 {
            let (tag, after): (u32, _) = postcard::take_from_bytes(rest)?;
            if tag == v1::CLONE3 {
                let (old, tail): (v1::Clone3, _) = postcard::take_from_bytes(after)?;
                return Ok((old.into_current(), tail));
            }
            if tag == v1::FILE_IO {
                let (old, tail): (v1::FileIo, _) = postcard::take_from_bytes(after)?;
                return Ok((old.into_current(&self.strings), tail));
            }
        }
        Ok(postcard::take_from_bytes(rest)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ExecArgs, OpenArgs, PathArgs, SockAddr, SockArgs};

    fn ev(ts: u64, pid: u32, data: EventData) -> Event {
        Event {
            header: EventHeader {
                ts_nanos: ts,
                pid,
                tgid: pid,
                comm: Str::from("runc:[2:INIT]"),
                cgroup_id: 42,
                ns: Namespaces {
                    pid_ns: 1,
                    mnt_ns: 2,
                    net_ns: 3,
                    uts_ns: 4,
                    ipc_ns: 5,
                    user_ns: 6,
                    cgroup_ns: 7,
                    time_ns: 8,
                },
            },
            result: Some(-2),
            data,
        }
    }

    #[test]
    fn round_trip_preserves_every_field() {
        let events = vec![
            ev(
                10,
                7,
                EventData::Openat(OpenArgs {
                    dirfd: -100,
                    path: "/etc/passwd".into(),
                    flags: 0o2000000,
                    mode: 0,
                }),
            ),
            ev(
                15,
                8,
                EventData::Exec(ExecArgs {
                    filename: "/bin/sh".into(),
                    argv: vec!["sh".into(), "-c".into()],
                }),
            ),
            ev(
                15,
                7,
                EventData::Connect(SockArgs {
                    fd: 3,
                    addr: SockAddr::Inet {
                        ip: "127.0.0.1".parse().unwrap(),
                        port: 5000,
                    },
                }),
            ),
        ];
        let mut enc = ChunkEncoder::new(3).unwrap();
        let chunk = enc.encode(&events).unwrap();
        assert_eq!(chunk.summary.event_count, 3);
        assert_eq!(chunk.summary.first_ts_nanos, 10);
        assert_eq!(chunk.summary.last_ts_nanos, 15);
        assert!(chunk.summary.tgid_bloom.may_contain(7));
        assert!(chunk.summary.cgroup_bloom.may_contain(42));
        let back = decode_chunk(&chunk.body, chunk.raw_len as u64, ChunkLayout::V2).unwrap();
        assert_eq!(back, events);
        // The encoder is reusable.
        let again = enc.encode(&events[1..]).unwrap();
        assert_eq!(
            decode_chunk(&again.body, again.raw_len as u64, ChunkLayout::V2).unwrap(),
            events[1..]
        );
    }

    #[test]
    fn huge_declared_size_is_refused_before_decompressing() {
        let err = decode_chunk(b"whatever", u64::MAX, ChunkLayout::V2).unwrap_err();
        assert!(matches!(err, ChunkError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn forged_sequence_length_is_refused() {
        // A body whose first column claims 2^40 timestamps.
        let mut raw = Vec::new();
        let mut n: u64 = 1 << 40;
        while n >= 0x80 {
            raw.push((n as u8) | 0x80);
            n >>= 7;
        }
        raw.push(n as u8);
        let body = zstd::bulk::compress(&raw, 3).unwrap();
        let err = decode_chunk(&body, raw.len() as u64, ChunkLayout::V2).unwrap_err();
        assert!(matches!(err, ChunkError::Decode(_)), "{err}");
    }

    #[test]
    fn out_of_range_string_index_is_an_error() {
        let body = Body {
            ts_deltas: Bounded(vec![1]),
            context: Bounded(vec![0]),
            results: Bounded(vec![None]),
            data: Bounded(vec![EventData::Chroot(PathArgs { path: 99 })]),
            contexts: Bounded(vec![Context {
                pid: 1,
                tgid: 1,
                comm: 0,
                cgroup_id: 0,
                ns: Namespaces::default(),
            }]),
            strings: Bounded(vec!["sh".into()]),
        };
        let raw = postcard::to_stdvec(&body).unwrap();
        let compressed = zstd::bulk::compress(&raw, 3).unwrap();
        let err = decode_chunk(&compressed, raw.len() as u64, ChunkLayout::V2).unwrap_err();
        assert!(err.to_string().contains("string index 99"), "{err}");
    }

    fn one_event_body(data: EventData<u32>, strings: Vec<Box<str>>) -> Vec<u8> {
        let body = Body {
            ts_deltas: Bounded(vec![1]),
            context: Bounded(vec![0]),
            results: Bounded(vec![None]),
            data: Bounded(vec![data]),
            contexts: Bounded(vec![Context {
                pid: 1,
                tgid: 1,
                comm: 0,
                cgroup_id: 0,
                ns: Namespaces::default(),
            }]),
            strings: Bounded(strings),
        };
        postcard::to_stdvec(&body).unwrap()
    }

    #[test]
    fn an_event_referring_to_one_long_string_many_times_is_refused() {
        // 100,000 references to one 64 KiB string (of letters that do not compress): 6.4 GB
        // if expanded, from a chunk of 70 KB.
        let mut x: u32 = 1;
        let long: String = (0..MAX_STRING_BYTES)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                char::from(b'a' + (x >> 16) as u8 % 26)
            })
            .collect();
        let raw = one_event_body(
            EventData::Exec(ExecArgs {
                filename: 1,
                argv: vec![1; 100_000],
            }),
            vec!["sh".into(), long.into()],
        );
        let compressed = zstd::bulk::compress(&raw, 3).unwrap();
        assert!(compressed.len() < 200 << 10, "{}", compressed.len());
        let err = decode_chunk(&compressed, raw.len() as u64, ChunkLayout::V2).unwrap_err();
        assert!(
            matches!(err, ChunkError::EventTooLarge { index: 0 }),
            "{err}"
        );
        let view = ChunkView::parse(&compressed, raw.len() as u64, ChunkLayout::V2).unwrap();
        let mut seen = 0;
        let r = view.for_each(|_| {
            seen += 1;
            ControlFlow::Continue(())
        });
        assert!(r.is_err());
        assert_eq!(seen, 0);
    }

    #[test]
    fn implausible_expansion_is_refused_before_decompressing() {
        let err = decode_chunk(&[0u8; 100], 10 << 20, ChunkLayout::V2).unwrap_err();
        assert!(matches!(err, ChunkError::TooExpanding { .. }), "{err}");
    }

    #[test]
    fn cursors_merge_two_chunks() {
        let mut enc = ChunkEncoder::new(3).unwrap();
        let mk = |ts: &[u64]| -> Vec<Event> {
            ts.iter()
                .map(|&t| {
                    ev(
                        t,
                        t as u32,
                        EventData::Chroot(PathArgs { path: "/".into() }),
                    )
                })
                .collect()
        };
        let a = enc.encode(&mk(&[1, 4, 9])).unwrap();
        let a = ChunkView::parse(&a.body, a.raw_len as u64, ChunkLayout::V2).unwrap();
        let b = enc.encode(&mk(&[2, 4, 5])).unwrap();
        let b = ChunkView::parse(&b.body, b.raw_len as u64, ChunkLayout::V2).unwrap();
        let (mut ca, mut cb) = (a.borrowed_cursor(), b.owned_cursor());
        assert_eq!((ca.peek_ts(&a), cb.peek_ts(&b)), (Some(1), Some(2)));
        let mut out = Vec::new();
        loop {
            let pick_a = match (ca.peek_ts(&a), cb.peek_ts(&b)) {
                (None, None) => break,
                (Some(x), Some(y)) => x <= y,
                (x, _) => x.is_some(),
            };
            let ts = if pick_a {
                ca.next(&a).unwrap().unwrap().header.ts_nanos
            } else {
                cb.next(&b).unwrap().unwrap().header.ts_nanos
            };
            out.push(ts);
        }
        assert_eq!(out, [1, 2, 4, 4, 5, 9]);
    }

    #[test]
    fn bloom_has_no_false_negatives() {
        let mut b = Bloom::default();
        for k in 0..40u64 {
            b.insert(k * 7919);
        }
        assert!((0..40u64).all(|k| b.may_contain(k * 7919)));
        assert!(Bloom::from_stored(&[1, 2, 3]).may_contain(12345));
    }
}
