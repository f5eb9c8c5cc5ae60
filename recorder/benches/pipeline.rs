//! The recorder's user-space pipeline on synthetic ring-buffer records (no root needed):
//! parse + convert (the capture thread), and parse + convert + the session thread (process
//! table, path resolution, writer) as the recorder runs them, on two threads.
//!
//! What the kernel side can produce is measured by `benches/capture.rs`; this measures
//! whether user space keeps up: the target is >= 1 M events/s.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use beefine_ebpf::abi::{self, Record, RecordKind};
use beefine_recorder::convert::{self, Interner};
use beefine_recorder::session::{SessionBuilder, SessionMsg};
use beefine_recorder::stats::Stats;
use beefine_schema::{SessionInfo, SessionWriter, WriterOptions};
use beefine_testdata::synth::Rng;
use bytemuck::Zeroable;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RECORDS: usize = 200_000;

fn header(kind: RecordKind, ts: u64, tgid: u32, len: usize) -> abi::Header {
    let mut h = abi::Header::zeroed();
    h.kind = kind as u16;
    h.len = len as u16;
    h.ts_nanos = ts;
    h.pid = tgid;
    h.tgid = tgid;
    h.cgroup_id = 1;
    h.pid_ns = 4026531836;
    h.mnt_ns = 4026531841;
    h.net_ns = 4026531840;
    let comm: &[u8] = if tgid.is_multiple_of(3) {
        b"dockerd"
    } else {
        b"containerd"
    };
    h.comm[..comm.len()].copy_from_slice(comm);
    h
}

/// Raw records as the probes write them: mostly opens and I/O summaries of layer files.
fn records() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(7);
    let dirs: Vec<String> = (0..4)
        .map(|_| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()))
        .collect();
    let files = [
        "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/sbin/nginx",
        "etc/nginx/nginx.conf",
        "usr/share/nginx/html/index.html",
    ];
    let mut out = Vec::with_capacity(RECORDS);
    let mut ts = 1_000_000_000u64;
    for _ in 0..RECORDS {
        ts += 300 + rng.below(3000);
        let tgid = 1000 + rng.below(200) as u32;
        let roll = rng.below(100);
        let bytes = if roll < 55 {
            let mut r = abi::PathRec::zeroed();
            let path = format!(
                "/var/lib/docker/overlay2/{}/diff/{}",
                dirs[rng.below(4) as usize],
                files[rng.below(4) as usize]
            );
            r.path[..path.len()].copy_from_slice(path.as_bytes());
            r.path_len = path.len() as u32 + 1;
            r.ret = 3 + rng.below(20) as i64;
            r.args = [(-100i64) as u64, 0, 0o2000000, 0];
            let len = std::mem::offset_of!(abi::PathRec, path) + path.len() + 1;
            r.h = header(RecordKind::Openat, ts, tgid, len);
            bytemuck::bytes_of(&r)[..len].to_vec()
        } else if roll < 85 {
            let mut r = abi::FileIo::zeroed();
            r.h = header(RecordKind::FileIo, ts, tgid, size_of::<abi::FileIo>());
            r.fd = 3 + rng.below(20) as i32;
            r.reads = 4;
            r.bytes_read = 16384;
            bytemuck::bytes_of(&r).to_vec()
        } else if roll < 92 {
            let mut r = abi::Fork::zeroed();
            r.h = header(RecordKind::Fork, ts, tgid, size_of::<abi::Fork>());
            r.parent_pid = tgid;
            r.parent_tgid = tgid;
            r.child_pid = 5000 + rng.below(5000) as u32;
            r.child_tgid = r.child_pid;
            bytemuck::bytes_of(&r).to_vec()
        } else {
            let mut r = abi::Args::zeroed();
            r.h = header(RecordKind::Prctl, ts, tgid, size_of::<abi::Args>());
            r.args[0] = 38;
            bytemuck::bytes_of(&r).to_vec()
        };
        out.push(bytes);
    }
    out
}

fn info() -> SessionInfo {
    SessionInfo {
        session_name: "pipeline".into(),
        command: vec![],
        tool_version: "bench".into(),
        host_kernel: String::new(),
        hostname: String::new(),
        clock_offset_nanos: 0,
        start_ts_nanos: 0,
    }
}

fn pipeline(c: &mut Criterion) {
    let raw = records();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.beefine");
    let mut g = c.benchmark_group("recorder");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut strings = Interner::default();
            for bytes in &raw {
                let rec = Record::parse(bytes).unwrap();
                black_box(convert::to_event(&rec, &mut strings));
            }
        });
    });
    // The sustained rate: decoding on this thread, the session thread completing and writing
    // (as in the recorder), timed until the session thread has taken every event; finishing
    // the file (once per recording) is outside the measurement.
    g.bench_function("decode_and_write", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let opts = WriterOptions {
                    overwrite: true,
                    ..WriterOptions::default()
                };
                let writer = SessionWriter::create(&path, &info(), opts).unwrap();
                let (tx, rx) = sync_channel::<SessionMsg>(256);
                let stats = Arc::new(Stats::default());
                let builder = SessionBuilder::new(writer, stats.clone());
                let thread = std::thread::spawn(move || builder.run(rx).unwrap());
                let start = std::time::Instant::now();
                let mut strings = Interner::default();
                let mut batch = Vec::with_capacity(2048);
                for bytes in &raw {
                    let rec = Record::parse(bytes).unwrap();
                    batch.push(convert::to_event(&rec, &mut strings));
                    if batch.len() == 2048 {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(2048));
                        tx.send(SessionMsg::Events(full)).unwrap();
                    }
                }
                tx.send(SessionMsg::Events(batch)).unwrap();
                while stats.events.load(std::sync::atomic::Ordering::Relaxed) < RECORDS as u64 {
                    std::hint::spin_loop();
                }
                total += start.elapsed();
                tx.send(SessionMsg::Finish {
                    end_ts_nanos: u64::MAX / 2,
                })
                .unwrap();
                let summary = thread.join().unwrap();
                assert_eq!(summary.events, RECORDS as u64);
            }
            total
        });
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
