//! Writer throughput, reader scan throughput and bytes per event on a realistic synthetic
//! mix (see `beefine_testdata::synth`). Targets on one core: write >= 2 M events/s, scan >=
//! 10 M events/s, <= 8 B/event.

use std::hint::black_box;
use std::ops::ControlFlow;
use std::path::Path;

use beefine_schema::{Event, Query, Session, SessionInfo, SessionWriter, WriterOptions};
use beefine_testdata::synth::Generator;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const EVENTS: usize = 1_000_000;

fn info() -> SessionInfo {
    SessionInfo {
        session_name: "bench".into(),
        command: vec![],
        tool_version: "bench".into(),
        host_kernel: String::new(),
        hostname: String::new(),
        clock_offset_nanos: 0,
        start_ts_nanos: 0,
    }
}

fn write(path: &Path, events: Vec<Event>) -> u64 {
    let opts = WriterOptions {
        overwrite: true,
        ..WriterOptions::default()
    };
    let mut w = SessionWriter::create(path, &info(), opts).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    w.finish(None).unwrap().file_bytes
}

fn session(c: &mut Criterion) {
    let events = Generator::new(42).take(EVENTS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.beefine");

    let bytes = write(&path, events.clone());
    let stats = format!(
        "bytes/event: {:.2} ({} bytes for {} events)",
        bytes as f64 / EVENTS as f64,
        bytes,
        EVENTS
    );
    println!("{stats}");
    std::fs::create_dir_all("../target/criterion").ok();
    std::fs::write(
        "../target/criterion/session-bytes-per-event.txt",
        format!("{stats}\n"),
    )
    .ok();

    let mut g = c.benchmark_group("session");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("write", |b| {
        b.iter_batched(
            || events.clone(),
            |ev| write(&path, ev),
            BatchSize::PerIteration,
        );
    });
    write(&path, events.clone());
    // `scan`: borrowed events, the reader's fast path (what the viewer loads with).
    g.bench_function("scan", |b| {
        b.iter(|| {
            let s = Session::open(&path).unwrap();
            let summary = s
                .scan(&Query::all(), |e| {
                    black_box(&e);
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(summary.events, EVENTS as u64);
        });
    });
    // `events`: owned events through the iterator.
    g.bench_function("iterate_owned", |b| {
        b.iter(|| {
            let s = Session::open(&path).unwrap();
            let mut n = 0usize;
            for e in s.events(&Query::all()).unwrap() {
                black_box(e.unwrap());
                n += 1;
            }
            assert_eq!(n, EVENTS);
        });
    });
    g.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
