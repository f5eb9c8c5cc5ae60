//! `--format perfetto`: Perfetto's protobuf trace format (`TracePacket`s with track
//! events), for ui.perfetto.dev and the trace processor. See [`tracks`] for what goes on
//! which track.
//!
//! Every syscall and tracepoint is an instant on its task's thread track at the time the
//! kernel stamped it (a syscall's entry: the session holds no exit time, so no syscall
//! duration), named by its kind, in the category of its family, with its fields as
//! arguments written from the kind's description (the names of the JSONL export). What has
//! a duration is a slice: a process running one program (fork or exec to the next exec or
//! its exit), a container's lifecycle, a chapter, a span of lost events. Resource samples
//! are counters. Timestamps are the session's boot clock (Perfetto's default trace clock),
//! with a clock snapshot that maps them to wall-clock time.
//!
//! The file is written packet by packet while the chunks are scanned: memory grows with the
//! number of tracks (processes, threads, containers), never with the number of events.

mod args;
mod intern;
pub mod proto;
mod tracks;

use std::io::{self, Write};
use std::ops::ControlFlow;

use beefine_schema::{
    Event, EventData, LossSource, Meta, Query, ResourceSample, Session, names, text,
};
use prost::Message as _;

use self::args::Args;
use self::intern::Interner;
use self::proto::{
    CLOCK_BOOTTIME, CLOCK_REALTIME, Clock, ClockSnapshot, DebugAnnotation,
    SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, TYPE_COUNTER, TYPE_INSTANT,
    TYPE_SLICE_BEGIN, TYPE_SLICE_END, TracePacket, TrackEvent,
};
use self::tracks::{Counter, Global, Tracks, container_label};
use super::fields::write_fields;
use super::{ExportContext, ExportSummary, finish_output};

/// A chapter of a container's story, shown as a slice on the container's chapter track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChapterSpan {
    /// The chapter's id (`pull`, `namespaces`, …).
    pub chapter: String,
    pub title: String,
    pub ts_nanos: u64,
    pub end_ts_nanos: u64,
    /// `None`: an image pulled for no container.
    pub container_id: Option<String>,
    pub events: u64,
    pub notice: String,
}

/// What the Perfetto export wrote.
#[derive(Debug, Default)]
pub struct PerfettoSummary {
    pub export: ExportSummary,
    pub packets: u64,
    pub bytes: u64,
    pub tracks: u64,
}

/// The one packet sequence of the file (any non-zero id).
const SEQUENCE: u32 = 1;

/// Writes `session` to `out` as a Perfetto trace, with `chapters` on the containers' chapter
/// tracks. Damaged chunks are skipped and returned in the summary.
pub fn export_perfetto(
    session: &Session,
    chapters: &[ChapterSpan],
    out: &mut impl Write,
) -> anyhow::Result<PerfettoSummary> {
    let ctx = ExportContext::for_session(session)?;
    let tracks = Tracks::new(session.processes()?, ctx.containers.containers());
    let meta = session.meta();
    let mut x = Exporter {
        w: Packets::new(out),
        interner: Interner::default(),
        tracks,
        ctx,
        start_ts: meta.info.start_ts_nanos,
        last_ts: meta.info.start_ts_nanos,
        lost_until: Default::default(),
    };
    x.start(meta, chapters);
    let mut events = 0u64;
    let scan = session.scan(&Query::all(), |e| {
        x.event(&e);
        events += 1;
        if x.w.error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    let end = meta.end_ts_nanos.unwrap_or(0).max(x.last_ts);
    x.finish(end);
    let (packets, bytes, error) = (x.w.packets, x.w.bytes, x.w.error.take());
    let tracks = x.tracks.count;
    finish_output(error, out)?;
    Ok(PerfettoSummary {
        export: ExportSummary {
            events,
            errors: scan.errors,
        },
        packets,
        bytes,
        tracks,
    })
}

/// Writes packets as the `packet` field (1) of a `Trace`, one at a time.
struct Packets<'w, W: Write> {
    out: &'w mut W,
    buf: Vec<u8>,
    packets: u64,
    bytes: u64,
    error: Option<io::Error>,
}

impl<'w, W: Write> Packets<'w, W> {
    fn new(out: &'w mut W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(1024),
            packets: 0,
            bytes: 0,
            error: None,
        }
    }

    fn write(&mut self, p: &TracePacket) {
        if self.error.is_some() {
            return;
        }
        self.buf.clear();
        // Field 1, length-delimited.
        self.buf.push(0x0a);
        if p.encode_length_delimited(&mut self.buf).is_err() {
            return;
        }
        match self.out.write_all(&self.buf) {
            Ok(()) => {
                self.packets += 1;
                self.bytes += self.buf.len() as u64;
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// An event's name: interned when the table has room.
enum Name<'a> {
    Text(&'a str),
    None,
}

struct Exporter<'w, W: Write> {
    w: Packets<'w, W>,
    interner: Interner,
    tracks: Tracks,
    ctx: ExportContext,
    /// When recording started: lifetimes of processes that were running already start here.
    start_ts: u64,
    /// The newest time seen (the session's end when it records none).
    last_ts: u64,
    /// Where the last span of lost events on a track ends, to keep spans from overlapping.
    lost_until: rustc_hash::FxHashMap<u64, u64>,
}

impl<W: Write> Exporter<'_, W> {
    fn packet(&mut self) -> TracePacket {
        TracePacket {
            trusted_packet_sequence_id: Some(SEQUENCE),
            ..TracePacket::default()
        }
    }

    /// Writes the descriptors of tracks created since the last call.
    fn flush_tracks(&mut self) {
        for d in self.tracks.take_new() {
            let p = TracePacket {
                track_descriptor: Some(d),
                ..self.packet()
            };
            self.w.write(&p);
        }
    }

    fn track_event(
        &mut self,
        ts: u64,
        track: u64,
        kind: i32,
        name: Name<'_>,
        category: Option<&str>,
        args: Vec<DebugAnnotation>,
    ) {
        self.flush_tracks();
        let mut ev = TrackEvent {
            r#type: Some(kind),
            track_uuid: Some(track),
            debug_annotations: args,
            ..TrackEvent::default()
        };
        if let Name::Text(n) = name {
            match self.interner.name(n) {
                Some(iid) => ev.name_iid = Some(iid),
                None => ev.name = Some(n.to_owned()),
            }
        }
        if let Some(iid) = category.and_then(|c| self.interner.category(c)) {
            ev.category_iids.push(iid);
        }
        let p = TracePacket {
            timestamp: Some(ts),
            track_event: Some(ev),
            interned_data: self.interner.take_pending(),
            sequence_flags: Some(SEQ_NEEDS_INCREMENTAL_STATE),
            ..self.packet()
        };
        self.w.write(&p);
    }

    fn slice(&mut self, track: u64, ts: u64, end: u64, name: &str, args: Vec<DebugAnnotation>) {
        self.track_event(ts, track, TYPE_SLICE_BEGIN, Name::Text(name), None, args);
        self.track_event(
            end.max(ts),
            track,
            TYPE_SLICE_END,
            Name::None,
            None,
            Vec::new(),
        );
    }

    fn counter(&mut self, ts: u64, track: u64, value: f64) {
        self.flush_tracks();
        let p = TracePacket {
            timestamp: Some(ts),
            track_event: Some(TrackEvent {
                r#type: Some(TYPE_COUNTER),
                track_uuid: Some(track),
                double_counter_value: Some(value),
                ..TrackEvent::default()
            }),
            ..self.packet()
        };
        self.w.write(&p);
    }

    /// Arguments built by `f` into annotations.
    fn args(&mut self, f: impl FnOnce(&mut Args<'_>, &ExportContext)) -> Vec<DebugAnnotation> {
        let mut a = Args::new(&mut self.interner);
        f(&mut a, &self.ctx);
        a.out
    }

    /// The clock snapshot, the container tracks with their lifecycles, and the chapters.
    fn start(&mut self, meta: &Meta, chapters: &[ChapterSpan]) {
        let start = meta.info.start_ts_nanos;
        let wall = (start as i64).saturating_add(meta.info.clock_offset_nanos);
        let p = TracePacket {
            timestamp: Some(start),
            clock_snapshot: Some(ClockSnapshot {
                clocks: vec![
                    Clock {
                        clock_id: Some(CLOCK_BOOTTIME),
                        timestamp: Some(start),
                    },
                    Clock {
                        clock_id: Some(CLOCK_REALTIME),
                        timestamp: Some(wall.max(0) as u64),
                    },
                ],
                primary_trace_clock: Some(CLOCK_BOOTTIME as i32),
            }),
            sequence_flags: Some(SEQ_INCREMENTAL_STATE_CLEARED),
            first_packet_on_sequence: Some(true),
            ..self.packet()
        };
        self.w.write(&p);
        self.flush_tracks();
        let end = meta.end_ts_nanos.unwrap_or(start);
        let containers = self.ctx.containers.containers().to_vec();
        for (i, c) in containers.iter().enumerate() {
            let track = self.tracks.container_tracks(i).uuid;
            let phases = [
                ("created", c.created_ts_nanos, c.started_ts_nanos),
                ("running", c.started_ts_nanos, c.died_ts_nanos),
                ("exited", c.died_ts_nanos, c.destroyed_ts_nanos),
            ];
            for (name, from, to) in phases {
                let Some(from) = from else { continue };
                let to = to.unwrap_or(end.max(from));
                let mut args = Vec::new();
                if name == "exited"
                    && let Some(code) = c.exit_code
                {
                    args = self.args(|a, _| {
                        use crate::export::fields::FieldSink as _;
                        a.int("exit_code", code);
                    });
                }
                self.slice(track, from, to, name, args);
            }
        }
        for ch in chapters {
            self.chapter(ch);
        }
    }

    fn chapter(&mut self, ch: &ChapterSpan) {
        use crate::export::fields::FieldSink as _;
        let track = match ch.container_id.as_deref() {
            Some(id) => {
                let index = self.ctx.containers.by_id(id);
                let i = self.tracks.container(index, id);
                self.tracks.container_chapters(i)
            }
            None => self.tracks.global(Global::Story),
        };
        let args = self.args(|a, _| {
            a.text("chapter", &ch.chapter);
            a.uint("events", ch.events);
            a.text("notice", &ch.notice);
        });
        self.slice(track, ch.ts_nanos, ch.end_ts_nanos, &ch.title, args);
    }

    fn event(&mut self, e: &Event<&str>) {
        let ts = e.ts_nanos();
        self.last_ts = self.last_ts.max(ts);
        match &e.data {
            EventData::ResourceSample(s) => self.sample(ts, s),
            EventData::Lost(l) => {
                self.lost(ts, e, l.source, l.cpu, l.until_ts_nanos);
            }
            EventData::Docker(_) => {
                let track = match self.ctx.containers.for_event(e) {
                    Some(i) => self.tracks.container_docker(i),
                    None => self.tracks.global(Global::Daemon),
                };
                self.instant(ts, track, e);
            }
            EventData::Packet(p) => {
                let track = self.tracks.global(Global::Packets(p.ifindex));
                self.instant(ts, track, e);
            }
            _ if e.header.pid == 0 => {
                let track = self.tracks.global(Global::NoTask);
                self.instant(ts, track, e);
            }
            _ => self.task_event(e),
        }
    }

    /// An event as an instant on `track`, named by its kind (daemon events by what
    /// happened: `container start`), with its fields as arguments.
    fn instant(&mut self, ts: u64, track: u64, e: &Event<&str>) {
        let args = self.args(|a, ctx| event_args(a, e, ctx));
        let docker_name;
        let name = match &e.data {
            EventData::Docker(d) => {
                docker_name = format!("{} {}", d.event_type, d.action);
                docker_name.as_str()
            }
            _ => e.kind().name(),
        };
        let family = e.kind().family().name();
        self.track_event(
            ts,
            track,
            TYPE_INSTANT,
            Name::Text(name),
            Some(family),
            args,
        );
    }

    /// A kernel event on its task's thread track; exec and the exit of a process also end
    /// (and exec starts) the process's lifetime slice.
    fn task_event(&mut self, e: &Event<&str>) {
        let ts = e.ts_nanos();
        let h = &e.header;
        let label = self
            .ctx
            .containers
            .for_event(e)
            .and_then(|i| self.ctx.containers.get(i))
            .map(container_label);
        let containers = &self.ctx.containers;
        let container_of = |id: &str| {
            containers
                .by_id(id)
                .and_then(|i| containers.get(i))
                .map(container_label)
        };
        let (track, started) =
            self.tracks
                .process(h.tgid, ts, h.comm, label.as_deref(), &container_of);
        let process = track.uuid;
        if let Some(from) = started {
            track.open = Some(h.comm.to_owned());
            self.track_event(
                from.max(self.start_ts).min(ts),
                process,
                TYPE_SLICE_BEGIN,
                Name::Text(h.comm),
                None,
                Vec::new(),
            );
        }
        let thread = self.tracks.thread(process, h.tgid, h.pid, h.comm);
        if let EventData::Exec(x) = &e.data {
            let program = x
                .filename
                .rsplit('/')
                .next()
                .unwrap_or(x.filename)
                .to_owned();
            self.end_lifetime(h.tgid, ts, e);
            let args = self.args(|a, _| {
                use crate::export::fields::FieldSink as _;
                a.texts("argv", &mut x.argv.iter().copied());
            });
            self.track_event(
                ts,
                process,
                TYPE_SLICE_BEGIN,
                Name::Text(&program),
                None,
                args,
            );
            self.set_open(h.tgid, ts, e, Some(program));
        }
        self.instant(ts, thread, e);
        if matches!(e.data, EventData::Exit(_)) && h.pid == h.tgid {
            self.end_lifetime(h.tgid, ts, e);
            self.set_open(h.tgid, ts, e, None);
        }
    }

    fn end_lifetime(&mut self, tgid: u32, ts: u64, e: &Event<&str>) {
        let (track, _) = self
            .tracks
            .process(tgid, ts, e.header.comm, None, &|_| None);
        if track.open.is_some() {
            let uuid = track.uuid;
            self.track_event(ts, uuid, TYPE_SLICE_END, Name::None, None, Vec::new());
        }
    }

    fn set_open(&mut self, tgid: u32, ts: u64, e: &Event<&str>, open: Option<String>) {
        let (track, _) = self
            .tracks
            .process(tgid, ts, e.header.comm, None, &|_| None);
        track.open = open;
    }

    fn sample(&mut self, ts: u64, s: &ResourceSample<&str>) {
        let index = self.ctx.containers.by_id(s.container_id);
        let i = self.tracks.container(index, s.container_id);
        let values = [
            (Counter::CpuTime, s.cpu_nanos as f64),
            (Counter::Memory, s.mem_bytes as f64),
            (Counter::Pids, f64::from(s.pids)),
            (Counter::NetRx, s.net_rx_bytes as f64),
            (Counter::NetTx, s.net_tx_bytes as f64),
            (Counter::BlkRead, s.blk_read_bytes as f64),
            (Counter::BlkWrite, s.blk_write_bytes as f64),
        ];
        for (c, v) in values {
            let track = self.tracks.counter(i, c);
            self.counter(ts, track, v);
        }
        let last = self
            .tracks
            .container_tracks(i)
            .last_cpu
            .replace((ts, s.cpu_nanos));
        if let Some((t0, cpu0)) = last
            && ts > t0
            && s.cpu_nanos >= cpu0
        {
            let usage = (s.cpu_nanos - cpu0) as f64 * 100.0 / (ts - t0) as f64;
            let track = self.tracks.counter(i, Counter::CpuUsage);
            self.counter(ts, track, usage);
        }
    }

    /// Lost events: a slice over the span they were lost in, an instant when it has none
    /// (or would overlap the previous span of its track).
    fn lost(&mut self, ts: u64, e: &Event<&str>, source: LossSource, cpu: u32, until: u64) {
        let track = self.tracks.global(Global::Lost(source, cpu));
        let free = self.lost_until.get(&track).is_none_or(|&end| end <= ts);
        if until > ts && free {
            self.lost_until.insert(track, until);
            let args = self.args(|a, ctx| event_args(a, e, ctx));
            self.slice(track, ts, until, "lost", args);
        } else {
            self.instant(ts, track, e);
        }
    }

    /// Ends the lifetime slices still open at the end of the session.
    fn finish(&mut self, end: u64) {
        let open: Vec<u64> = self.tracks.open_processes().map(|p| p.uuid).collect();
        for uuid in open {
            self.track_event(end, uuid, TYPE_SLICE_END, Name::None, None, Vec::new());
        }
    }
}

/// The arguments of an event: its result (with the errno's name), the container it belongs
/// to, the summary people read, then the fields of its kind.
fn event_args(a: &mut Args<'_>, e: &Event<&str>, ctx: &ExportContext) {
    use crate::export::fields::FieldSink as _;
    if let Some(r) = e.result {
        a.int("result", r);
        if r < 0
            && let Some(name) = names::errno_name(-r)
        {
            a.text("errno", name);
        }
    }
    if let Some(c) = ctx
        .containers
        .for_event(e)
        .and_then(|i| ctx.containers.get(i))
    {
        a.text("container_id", &c.container_id);
        a.text("container_name", &c.name);
    }
    if let Some(s) = text::summary(&e.data, &text::Direct) {
        a.text("summary", &s);
    }
    write_fields(a, &e.data, ctx);
}

#[cfg(test)]
mod tests;
