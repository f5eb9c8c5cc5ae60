//! The capture thread: drains the ring buffer, turns records into events, counts losses,
//! and flushes the I/O summaries of processes that ended without closing their files.

use beefine_schema::FileIoSummary;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aya::Ebpf;
use aya::maps::{HashMap, MapData, PerCpuArray, RingBuf};
use beefine_ebpf::abi::{COUNTER_COUNT, Counter, IoKey, IoValue, Record};
use beefine_ebpf::maps;
use beefine_schema::{Event, EventData, EventHeader, LossSource, Namespaces, Str};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::clock::boot_nanos;
use crate::convert::{self, Interner};
use crate::session::SessionMsg;
use crate::stats::Stats;

/// Events sent to the session thread in one message.
const BATCH: usize = 2048;

/// The loaded probes and the maps the capture thread reads.
pub struct Capture {
    pub ebpf: Ebpf,
    links: crate::loader::Links,
    ring: RingBuf<MapData>,
    counters: PerCpuArray<MapData, u64>,
    fileio: HashMap<MapData, [u8; 8], [u8; 40]>,
}

impl Capture {
    pub fn new(mut ebpf: Ebpf, links: crate::loader::Links) -> Result<Self> {
        let ring = RingBuf::try_from(ebpf.take_map(maps::EVENTS).context("ring buffer map")?)?;
        let counters =
            PerCpuArray::try_from(ebpf.take_map(maps::COUNTERS).context("counters map")?)?;
        let fileio = HashMap::try_from(ebpf.take_map(maps::FILEIO).context("file I/O map")?)?;
        Ok(Self {
            ebpf,
            links,
            ring,
            counters,
            fileio,
        })
    }
}

/// Every counter the probes keep, each a loss of its own source.
const COUNTERS: [Counter; COUNTER_COUNT as usize] = [
    Counter::RingbufFull,
    Counter::FileioFull,
    Counter::InflightFull,
];

/// What a kernel counter counts, as a loss.
fn source_of(counter: Counter) -> LossSource {
    match counter {
        Counter::RingbufFull => LossSource::RingBuffer,
        Counter::FileioFull => LossSource::FileIoTable,
        Counter::InflightFull => LossSource::InflightTable,
    }
}

/// A wait on the session writer's queue longer than this is recorded as a span in which the
/// recorder fell behind.
const SLOW_SEND: Duration = Duration::from_millis(20);

/// Sends to the session thread; when its queue is full, waits, and records the wait as a
/// loss span of source `recorder` (the kernel counts what it could not hold meanwhile).
pub(crate) fn send_or_wait(tx: &SyncSender<SessionMsg>, msg: SessionMsg, stats: &Stats) {
    match tx.try_send(msg) {
        Ok(()) => {}
        Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(msg)) => {
            let from = boot_nanos();
            let waited = Instant::now();
            if tx.send(msg).is_err() {
                return;
            }
            if waited.elapsed() >= SLOW_SEND {
                stats.stalls.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(SessionMsg::Loss(beefine_schema::Loss {
                    ts_nanos: from,
                    until_ts_nanos: boot_nanos(),
                    source: LossSource::Recorder,
                    cpu: 0,
                    count: 0,
                }));
            }
        }
    }
}

/// Per-CPU counter values seen last, to turn totals into loss records.
#[derive(Default)]
struct LossCounter {
    seen: Vec<Vec<u64>>,
}

impl LossCounter {
    /// New losses per (counter, cpu) since the last call.
    fn poll(&mut self, counters: &PerCpuArray<MapData, u64>) -> Vec<(Counter, u32, u64)> {
        let mut out = Vec::new();
        self.seen.resize(COUNTER_COUNT as usize, Vec::new());
        for counter in COUNTERS {
            let index = counter as usize;
            let Ok(values) = counters.get(&(counter as u32), 0) else {
                continue;
            };
            let seen = &mut self.seen[index];
            seen.resize(values.len(), 0);
            for (cpu, (&now, before)) in values.iter().zip(seen.iter_mut()).enumerate() {
                if now > *before {
                    out.push((counter, cpu as u32, now - *before));
                    *before = now;
                }
            }
        }
        out
    }
}

struct Worker {
    capture: Capture,
    tx: SyncSender<SessionMsg>,
    stats: Arc<Stats>,
    strings: Interner,
    batch: Vec<Event>,
    losses: LossCounter,
    /// Malformed records since the last loss poll.
    malformed: u64,
}

impl Worker {
    fn send_batch(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            // A full channel blocks here: the ring buffer then fills and the kernel counts
            // what it cannot store; the wait itself is recorded as a span.
            send_or_wait(&self.tx, SessionMsg::Events(batch), &self.stats);
        }
    }

    /// Takes everything in the ring buffer now.
    fn drain(&mut self) {
        loop {
            let Some(item) = self.capture.ring.next() else {
                break;
            };
            match Record::parse(&item) {
                Ok(rec) => {
                    drop(item);
                    self.batch.push(convert::to_event(&rec, &mut self.strings));
                }
                Err(_) => {
                    drop(item);
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    self.malformed += 1;
                }
            }
            if self.batch.len() >= BATCH {
                self.send_batch();
            }
        }
        self.send_batch();
    }

    fn poll_losses(&mut self) {
        let now = boot_nanos();
        let mut found: Vec<(LossSource, u32, u64)> = self
            .losses
            .poll(&self.capture.counters)
            .into_iter()
            .map(|(counter, cpu, count)| (source_of(counter), cpu, count))
            .collect();
        if self.malformed > 0 {
            found.push((
                LossSource::Malformed,
                0,
                std::mem::take(&mut self.malformed),
            ));
        }
        for (source, cpu, count) in found {
            self.stats.lost.fetch_add(count, Ordering::Relaxed);
            let _ = self.tx.send(SessionMsg::Loss(beefine_schema::Loss {
                ts_nanos: now,
                until_ts_nanos: now,
                source,
                cpu,
                count,
            }));
        }
    }

    /// Emits and removes the I/O summaries of processes that are gone (or all, at the end).
    fn sweep_file_io(&mut self, everything: bool) {
        let entries: Vec<([u8; 8], [u8; 40])> =
            self.capture.fileio.iter().filter_map(Result::ok).collect();
        for (k, v) in entries {
            let key: IoKey = bytemuck::pod_read_unaligned(&k);
            if !everything && std::path::Path::new(&format!("/proc/{}", key.tgid)).exists() {
                continue;
            }
            let value: IoValue = bytemuck::pod_read_unaligned(&v);
            let _ = self.capture.fileio.remove(&k);
            self.batch.push(Event {
                header: EventHeader {
                    ts_nanos: value.first_ts_nanos,
                    pid: key.tgid,
                    tgid: key.tgid,
                    // Filled in from the process table by the session thread.
                    comm: Str::from(""),
                    cgroup_id: 0,
                    ns: Namespaces::default(),
                },
                result: None,
                data: EventData::FileIo(FileIoSummary {
                    fd: key.fd,
                    path: None,
                    bytes_read: value.bytes_read,
                    bytes_written: value.bytes_written,
                    reads: value.reads,
                    writes: value.writes,
                }),
            });
        }
        self.send_batch();
    }
}

/// Runs until `stop` is set, then detaches the programs, drains what is left and returns.
pub fn run(
    capture: Capture,
    tx: SyncSender<SessionMsg>,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Result<Ebpf> {
    let mut w = Worker {
        capture,
        tx,
        stats,
        strings: Interner::default(),
        batch: Vec::with_capacity(BATCH),
        losses: LossCounter::default(),
        malformed: 0,
    };
    let mut last_losses = Instant::now();
    let mut last_sweep = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            let fd = w.capture.ring.as_fd();
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(20u16)).unwrap_or(0)
        };
        if ready > 0 {
            w.drain();
        }
        if last_losses.elapsed() >= Duration::from_millis(250) {
            w.poll_losses();
            last_losses = Instant::now();
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            w.sweep_file_io(false);
            last_sweep = Instant::now();
        }
    }
    // Stop the sources first, then take everything they wrote.
    std::mem::take(&mut w.capture.links).detach();
    w.drain();
    w.sweep_file_io(true);
    w.poll_losses();
    Ok(w.capture.ebpf)
}
