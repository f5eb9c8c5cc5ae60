//! User-supplied eBPF programs (`--probe PATH.bpf.o`) recorded beside the built-in probes.
//!
//! What Beefine does with an object (the template, `beefine-record probe new`, documents
//! the same conventions for probe authors):
//! - every program is attached by its ELF section (`loader::attach_all`);
//! - the globals `beefine_self_tgid` (u32) and `beefine_trace_all` (u8) are set when the
//!   object declares them, as for the built-in probes;
//! - a hash map `beefine_tracked` (u32 tgid → u8) is not created apart: its descriptor is
//!   made to refer to the built-in probes' own tracked-process map before the programs are
//!   loaded, so the object sees exactly the scope the built-in probes keep (seeded from
//!   /proc, extended on fork in the kernel, the command added before it runs), with no copy
//!   to keep in sync and no window in which a new process is missed;
//! - every ring buffer and perf event array map is read on the probe's own thread; each
//!   record becomes `EventData::Custom(CustomRecord { probe_id, bytes })`;
//! - the record type is the struct the global `beefine_record` points to, else a struct
//!   named `event`; its types are extracted from the object's BTF (`schema::btf`) into the
//!   `probes` table, so the session decodes without the object;
//! - the event header comes from the record when its type says so: a first field `__u64`
//!   named `ts_nanos`/`ts`/`timestamp` (boot clock, `bpf_ktime_get_boot_ns`) is the time —
//!   else the boot-clock time the record was read —, fields `pid`, `tgid` and `comm` name
//!   the process, `cgroup_id` its cgroup; the session thread completes what is missing
//!   from its process table when it knows the process already (records and the built-in
//!   probes' events reach it on different threads, so not always).

use beefine_schema::CustomRecord;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use anyhow::{Context, Result, anyhow, bail};
use aya::Ebpf;
use aya::maps::perf::PerfEvent;
use aya::maps::perf::PerfEventArrayBuffer;
use aya::maps::{HashMap, IterableMap, Map, MapData, PerfEventArray, RingBuf};
use beefine_schema::btf::{Btf, Field, FieldKind};
use beefine_schema::{Event, EventData, EventHeader, Loss, LossSource, Namespaces, Probe, Str};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use object::{Object, ObjectSection};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use crate::clock::boot_nanos;
use crate::loader::{self, AttachOptions, Links};
use crate::session::SessionMsg;
use crate::stats::Stats;

/// The tracked-process map an object may declare (u32 tgid → u8).
pub const TRACKED_MAP: &str = "beefine_tracked";
/// Global set to the recorder's own tgid.
pub const SELF_TGID: &str = "beefine_self_tgid";
/// Global set to 1 with `--all`.
pub const TRACE_ALL: &str = "beefine_trace_all";
/// Global variable whose type names the record type.
pub const RECORD_MARKER: &str = "beefine_record";
/// The record type without a marker.
pub const DEFAULT_RECORD: &str = "event";
/// Names of a first field taken as the record's boot-clock time.
const TS_NAMES: &[&str] = &[
    "ts_nanos",
    "ts_ns",
    "ts",
    "timestamp",
    "timestamp_ns",
    "time_ns",
];
/// Longest record stored; longer ones are cut (and counted as malformed).
pub const MAX_RECORD_BYTES: usize = 64 << 10;
/// Pages of each per-CPU perf buffer (a power of two).
const PERF_PAGES: usize = 64;
/// Events sent to the session thread in one message.
const BATCH: usize = 1024;

/// A loaded and attached custom probe, ready to be read.
pub struct CustomProbe {
    pub description: Probe,
    ebpf: Ebpf,
    links: Links,
    outputs: Vec<Output>,
    header: HeaderLayout,
}

enum Output {
    Ring(RingBuf<MapData>),
    Perf(Vec<(u32, PerfEventArrayBuffer<MapData>)>),
}

/// Threads reading custom probes' outputs.
#[derive(Default)]
pub struct CustomThreads(Vec<std::thread::JoinHandle<()>>);

/// Loads, checks and attaches every `--probe` object; probe ids are 1, 2, … in order.
pub fn load_custom(
    paths: &[PathBuf],
    attach: &AttachOptions,
    self_tgid: u32,
    trace_all: u8,
    tracked: &HashMap<MapData, u32, u8>,
) -> Result<Vec<CustomProbe>> {
    let tracked = tracked.map().fd().as_fd();
    paths
        .iter()
        .zip(1u32..)
        .map(|(path, probe_id)| load_one(path, probe_id, attach, self_tgid, trace_all, tracked))
        .collect()
}

/// The probe's name: the file name without `.bpf.o` / `.o`.
pub fn probe_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = file
        .strip_suffix(".bpf.o")
        .or_else(|| file.strip_suffix(".o"))
        .unwrap_or(&file);
    name.to_owned()
}

/// What the recorder learns from an object file before loading it.
#[derive(Debug)]
pub struct ObjectInfo {
    pub sections: Vec<loader::ProgramSection>,
    pub sha256: String,
    /// The record type and its extracted BTF, when the object has BTF that names one.
    pub record: Option<(String, Vec<u8>)>,
    /// Top-level fields of the record type.
    pub fields: Vec<Field>,
    /// Why there is no record type, when there is none.
    pub no_record_reason: Option<String>,
}

/// Reads what an object holds: its programs, its digest, its record type.
pub fn inspect(label: &str, elf: &[u8]) -> Result<ObjectInfo> {
    let sections = loader::program_sections(elf).map_err(|e| {
        anyhow!(
            "{label} is not an eBPF object ({e:#}); build one from C with \
             `beefine-record probe build NAME.bpf.c`"
        )
    })?;
    if sections.is_empty() {
        bail!(
            "{label}: no attachable program: the object has no function in a program section \
             such as SEC(\"tracepoint/syscalls/sys_enter_openat\"), \
             SEC(\"raw_tracepoint/sched_process_exec\") or SEC(\"xdp\")"
        );
    }
    let sha256 = Sha256::digest(elf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut info = ObjectInfo {
        sections,
        sha256,
        record: None,
        fields: Vec::new(),
        no_record_reason: None,
    };
    let btf_section = object::File::parse(elf).ok().and_then(|f| {
        f.section_by_name(".BTF")
            .and_then(|s| s.data().ok().map(<[u8]>::to_vec))
    });
    let Some(raw) = btf_section else {
        info.no_record_reason = Some("the object has no BTF (compile with clang -g)".into());
        return Ok(info);
    };
    let btf = Btf::parse(&raw).map_err(|e| anyhow!("{label}: its .BTF section: {e}"))?;
    let name = btf.record_named_by(RECORD_MARKER).or_else(|| {
        btf.has_record(DEFAULT_RECORD)
            .then(|| DEFAULT_RECORD.to_owned())
    });
    let Some(name) = name else {
        info.no_record_reason = Some(format!(
            "no record type: declare `struct YOUR_RECORD *{RECORD_MARKER} \
             __attribute__((unused));` or name the struct `{DEFAULT_RECORD}`"
        ));
        return Ok(info);
    };
    let record = btf
        .record(&name)
        .map_err(|e| anyhow!("{label}: record type {name}: {e}"))?;
    info.fields = record.fields();
    let blob = btf
        .extract(&name)
        .map_err(|e| anyhow!("{label}: record type {name}: {e}"))?;
    info.record = Some((name, blob));
    Ok(info)
}

/// Checks every `--probe` file before anything is created: that it can be read, is an eBPF
/// object and has programs. (What the verifier thinks is known only when loading.)
pub fn check_objects(paths: &[PathBuf]) -> Result<()> {
    for path in paths {
        let label = format!("--probe {}", path.display());
        let elf = std::fs::read(path).with_context(|| format!("{label}: cannot read it"))?;
        inspect(&label, &elf)?;
    }
    Ok(())
}

fn load_one(
    path: &Path,
    probe_id: u32,
    attach: &AttachOptions,
    self_tgid: u32,
    trace_all: u8,
    tracked: BorrowedFd<'_>,
) -> Result<CustomProbe> {
    let label = format!("--probe {}", path.display());
    let elf = std::fs::read(path).with_context(|| format!("{label}: cannot read it"))?;
    let info = inspect(&label, &elf)?;
    if let Some(reason) = &info.no_record_reason {
        eprintln!(
            "beefine-record: {label}: {reason}; its records are stored as bytes the viewer \
             cannot decode"
        );
    }
    let mut ebpf = loader::load(&label, &elf, |l| {
        l.override_global(SELF_TGID, &self_tgid, false)
            .override_global(TRACE_ALL, &trace_all, false);
    })?;
    let outputs: Vec<String> = ebpf
        .maps()
        .filter(|(_, m)| matches!(m, Map::RingBuf(_) | Map::PerfEventArray(_)))
        .map(|(name, _)| name.to_owned())
        .collect();
    if outputs.is_empty() {
        bail!(
            "{label}: no output map: the object defines no ring buffer \
             (BPF_MAP_TYPE_RINGBUF) or perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY) for \
             its records"
        );
    }
    if let Some(map) = ebpf.map_mut(TRACKED_MAP) {
        let Map::HashMap(data) = map else {
            bail!("{label}: {TRACKED_MAP} must be a BPF_MAP_TYPE_HASH (u32 tgid → u8)");
        };
        let map_info = data.info()?;
        if (map_info.key_size(), map_info.value_size()) != (4, 1) {
            bail!(
                "{label}: {TRACKED_MAP} has {}-byte keys and {}-byte values; it must map a \
                 __u32 tgid to a __u8",
                map_info.key_size(),
                map_info.value_size()
            );
        }
        share_map(data, tracked).with_context(|| format!("{label}: sharing {TRACKED_MAP}"))?;
    }
    let (attached, links) = loader::attach_all(&label, &mut ebpf, &info.sections, attach)?;
    let mut readers = Vec::new();
    for name in &outputs {
        let map = ebpf
            .take_map(name)
            .ok_or_else(|| anyhow!("{label}: map {name} went missing"))?;
        readers.push(match map {
            Map::RingBuf(_) => Output::Ring(RingBuf::try_from(map)?),
            _ => {
                let mut array = PerfEventArray::try_from(map)?;
                let cpus = aya::util::online_cpus()
                    .map_err(|(what, e)| anyhow!("{label}: reading {what}: {e}"))?;
                let mut buffers = Vec::new();
                for cpu in cpus {
                    let buf = array.open(cpu, Some(PERF_PAGES)).with_context(|| {
                        format!("{label}: opening the perf buffer of {name} on CPU {cpu}")
                    })?;
                    buffers.push((cpu, buf));
                }
                Output::Perf(buffers)
            }
        });
    }
    let (record_type, btf) = info.record.unzip();
    Ok(CustomProbe {
        description: Probe {
            probe_id,
            name: probe_name(path),
            builtin: false,
            programs: attached
                .into_iter()
                .map(|a| (a.program, a.attach_point))
                .collect(),
            record_type,
            btf: btf.unwrap_or_default(),
            object_sha256: Some(info.sha256),
        },
        ebpf,
        links,
        outputs: readers,
        header: HeaderLayout::from_fields(&info.fields),
    })
}

/// Makes the object's map descriptor refer to the recorder's map instead of its own.
///
/// aya has already written the descriptor's number into the programs' instructions (map
/// relocation happens when the object is loaded); the programs themselves reach the kernel
/// only when they are attached. Replacing what that number refers to in between makes
/// the kernel resolve it to the recorder's map when it verifies the programs.
#[expect(
    unsafe_code,
    reason = "dup2 onto a descriptor aya owns: the only way to hand an object an existing \
              map without a BPF filesystem to pin it in"
)]
fn share_map(theirs: &mut MapData, ours: BorrowedFd<'_>) -> Result<()> {
    let target = theirs.fd().as_fd().as_raw_fd();
    // SAFETY: both descriptors are open for the whole call (`ours` is borrowed, `target` is
    // owned by `theirs`, borrowed mutably so nothing else uses it meanwhile). dup2 closes
    // the object's own map and makes `target` refer to ours, atomically; `target` stays
    // open and owned by `theirs`, which closes it once, as before. No memory is involved.
    let r = unsafe { libc::dup2(ours.as_raw_fd(), target) };
    if r < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Where the event header's values are in a record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HeaderLayout {
    ts: Option<usize>,
    pid: Option<(usize, usize)>,
    tgid: Option<(usize, usize)>,
    comm: Option<(usize, usize)>,
    cgroup_id: Option<usize>,
}

impl HeaderLayout {
    fn from_fields(fields: &[Field]) -> Self {
        let int = |name: &str| {
            fields
                .iter()
                .find(|f| {
                    f.name == name
                        && matches!(f.kind, FieldKind::Unsigned | FieldKind::Signed)
                        && matches!(f.size, 4 | 8)
                })
                .map(|f| (f.offset, f.size))
        };
        Self {
            ts: fields
                .first()
                .filter(|f| {
                    f.offset == 0
                        && f.size == 8
                        && f.kind == FieldKind::Unsigned
                        && TS_NAMES.contains(&f.name.as_str())
                })
                .map(|f| f.offset),
            pid: int("pid"),
            tgid: int("tgid"),
            comm: fields
                .iter()
                .find(|f| f.name == "comm" && f.kind == FieldKind::Chars)
                .map(|f| (f.offset, f.size)),
            cgroup_id: fields
                .iter()
                .find(|f| f.name == "cgroup_id" && f.kind == FieldKind::Unsigned && f.size == 8)
                .map(|f| f.offset),
        }
    }

    fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    }

    fn read_id(bytes: &[u8], (at, size): (usize, usize)) -> Option<u32> {
        let b = bytes.get(at..at + size)?;
        Some(match size {
            4 => u32::from_ne_bytes(b.try_into().ok()?),
            _ => u64::from_ne_bytes(b.try_into().ok()?) as u32,
        })
    }

    /// The record's time when it carries a plausible one, else `read_at`.
    fn ts(&self, bytes: &[u8], read_at: u64) -> u64 {
        self.ts
            .and_then(|at| Self::read_u64(bytes, at))
            // A time after the record was read is not boot-clock time.
            .filter(|&ts| ts != 0 && ts <= read_at)
            .unwrap_or(read_at)
    }

    fn pid_tgid(&self, bytes: &[u8]) -> (u32, u32) {
        let pid = self.pid.and_then(|f| Self::read_id(bytes, f));
        let tgid = self.tgid.and_then(|f| Self::read_id(bytes, f));
        (pid.or(tgid).unwrap_or(0), tgid.or(pid).unwrap_or(0))
    }

    fn cgroup_id(&self, bytes: &[u8]) -> u64 {
        self.cgroup_id
            .and_then(|at| Self::read_u64(bytes, at))
            .unwrap_or(0)
    }

    fn comm<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        let Some((at, size)) = self.comm else {
            return &[];
        };
        let b = &bytes[at.min(bytes.len())..(at + size).min(bytes.len())];
        &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
    }
}

/// Turns records into events and hands them to the session thread in batches.
struct Sink {
    probe_id: u32,
    header: HeaderLayout,
    tx: SyncSender<SessionMsg>,
    stats: Arc<Stats>,
    batch: Vec<Event>,
    comms: FxHashMap<Vec<u8>, Str>,
}

impl Sink {
    fn record(&mut self, bytes: &[u8]) {
        let read_at = boot_nanos();
        let (pid, tgid) = self.header.pid_tgid(bytes);
        let comm = self.header.comm(bytes);
        let comm = match self.comms.get(comm) {
            Some(c) => c.clone(),
            None => {
                if self.comms.len() >= 4096 {
                    self.comms.clear();
                }
                let c: Str = String::from_utf8_lossy(comm).into();
                self.comms.insert(comm.to_vec(), c.clone());
                c
            }
        };
        if bytes.len() > MAX_RECORD_BYTES {
            // Kept, cut to the longest record stored.
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        }
        self.batch.push(Event {
            header: EventHeader {
                ts_nanos: self.header.ts(bytes, read_at),
                pid,
                tgid,
                comm,
                cgroup_id: self.header.cgroup_id(bytes),
                ns: Namespaces::default(),
            },
            result: None,
            data: EventData::Custom(CustomRecord {
                probe_id: self.probe_id,
                bytes: bytes[..bytes.len().min(MAX_RECORD_BYTES)].to_vec(),
            }),
        });
        if self.batch.len() >= BATCH {
            self.send();
        }
    }

    fn lost(&mut self, cpu: u32, count: u64) {
        let now = boot_nanos();
        self.stats.lost.fetch_add(count, Ordering::Relaxed);
        let _ = self.tx.send(SessionMsg::Loss(Loss {
            ts_nanos: now,
            until_ts_nanos: now,
            source: LossSource::RingBuffer,
            cpu,
            count,
        }));
    }

    fn send(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            crate::capture::send_or_wait(&self.tx, SessionMsg::Events(batch), &self.stats);
        }
    }
}

fn drain(outputs: &mut [Output], sink: &mut Sink) {
    for output in outputs {
        match output {
            Output::Ring(ring) => {
                while let Some(item) = ring.next() {
                    sink.record(&item);
                }
            }
            Output::Perf(buffers) => {
                for (cpu, buf) in buffers {
                    if !buf.readable() {
                        continue;
                    }
                    let cpu = *cpu;
                    buf.for_each(|event| match event {
                        PerfEvent::Sample { head, tail } => {
                            if tail.is_empty() {
                                sink.record(head);
                            } else {
                                sink.record(&[head, tail].concat());
                            }
                        }
                        PerfEvent::Lost { count } => sink.lost(cpu, count),
                    });
                }
            }
        }
    }
    sink.send();
}

fn run(probe: CustomProbe, tx: SyncSender<SessionMsg>, stop: Arc<AtomicBool>, stats: Arc<Stats>) {
    let CustomProbe {
        description,
        ebpf,
        links,
        mut outputs,
        header,
    } = probe;
    let mut sink = Sink {
        probe_id: description.probe_id,
        header,
        tx,
        stats,
        batch: Vec::with_capacity(BATCH),
        comms: FxHashMap::default(),
    };
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            let mut fds: Vec<PollFd<'_>> = outputs
                .iter()
                .flat_map(|o| match o {
                    Output::Ring(r) => vec![r.as_fd()],
                    Output::Perf(bufs) => bufs.iter().map(|(_, b)| b.as_fd()).collect(),
                })
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            poll(&mut fds, PollTimeout::from(50u16)).unwrap_or(0)
        };
        if ready > 0 {
            drain(&mut outputs, &mut sink);
        }
    }
    // Stop the programs, then take everything they wrote.
    links.detach();
    drain(&mut outputs, &mut sink);
    drop(outputs);
    drop(ebpf);
}

/// Starts one reading thread per probe; they stop, detach and drain when `stop` is set.
pub fn start_custom(
    probes: Vec<CustomProbe>,
    tx: SyncSender<SessionMsg>,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> CustomThreads {
    let mut threads = Vec::new();
    for probe in probes {
        let (tx, stop, stats) = (tx.clone(), stop.clone(), stats.clone());
        let name = format!("probe-{}", probe.description.probe_id);
        let label = probe.description.name.clone();
        match std::thread::Builder::new()
            .name(name)
            .spawn(move || run(probe, tx, stop, stats))
        {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("beefine-record: cannot start reading probe {label}: {e}"),
        }
    }
    CustomThreads(threads)
}

pub fn join_custom(threads: CustomThreads) {
    for t in threads.0 {
        let _ = t.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/probes")
            .join(name)
    }

    #[test]
    fn names_of_probes() {
        assert_eq!(
            probe_name(Path::new("/x/openat_magic.bpf.o")),
            "openat_magic"
        );
        assert_eq!(probe_name(Path::new("mine.o")), "mine");
        assert_eq!(probe_name(Path::new("odd")), "odd");
    }

    #[test]
    fn an_object_without_programs_says_so() {
        let elf = std::fs::read(fixture("btf_types.bpf.o")).unwrap();
        let err = inspect("--probe btf_types.bpf.o", &elf)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no attachable program"), "{err}");
    }

    #[test]
    fn a_non_bpf_file_says_so() {
        let err = inspect("--probe x", b"#!/bin/sh\necho not an object\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not an eBPF object"), "{err}");
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let err = inspect("--probe exe", &exe).unwrap_err().to_string();
        assert!(err.contains("is not an eBPF object"), "{err}");
        assert!(err.contains("probe build"), "{err}");
    }

    #[test]
    fn header_fields_from_the_record_type() {
        let field = |name: &str, offset, size, kind| Field {
            name: name.into(),
            offset,
            size,
            kind,
        };
        let layout = HeaderLayout::from_fields(&[
            field("ts_nanos", 0, 8, FieldKind::Unsigned),
            field("pid", 8, 4, FieldKind::Unsigned),
            field("tgid", 12, 4, FieldKind::Signed),
            field("comm", 16, 16, FieldKind::Chars),
            field("cgroup_id", 32, 8, FieldKind::Unsigned),
        ]);
        let mut rec = vec![0u8; 40];
        rec[..8].copy_from_slice(&1_000u64.to_ne_bytes());
        rec[8..12].copy_from_slice(&11u32.to_ne_bytes());
        rec[12..16].copy_from_slice(&10u32.to_ne_bytes());
        rec[16..19].copy_from_slice(b"cat");
        rec[32..40].copy_from_slice(&4242u64.to_ne_bytes());
        assert_eq!(layout.cgroup_id(&rec), 4242);
        assert_eq!(layout.ts(&rec, 5_000), 1_000);
        assert_eq!(
            layout.ts(&rec, 500),
            500,
            "a time from the future is not used"
        );
        assert_eq!(layout.pid_tgid(&rec), (11, 10));
        assert_eq!(layout.comm(&rec), b"cat");
        assert_eq!(layout.comm(&rec[..17]), b"c", "short records");
        // No header fields: read time, no process.
        let none = HeaderLayout::from_fields(&[field("value", 0, 8, FieldKind::Unsigned)]);
        assert_eq!(none.ts(&rec, 7), 7);
        assert_eq!(none.pid_tgid(&rec), (0, 0));
        assert_eq!(none.comm(&rec), b"");
        assert_eq!(none.cgroup_id(&rec), 0);
        // Only a pid: it is both.
        let pid_only = HeaderLayout::from_fields(&[field("pid", 8, 4, FieldKind::Unsigned)]);
        assert_eq!(pid_only.pid_tgid(&rec), (11, 11));
        // A first field that is not a time.
        let late = HeaderLayout::from_fields(&[
            field("flags", 0, 8, FieldKind::Unsigned),
            field("ts", 8, 8, FieldKind::Unsigned),
        ]);
        assert_eq!(late.ts, None);
    }
}
