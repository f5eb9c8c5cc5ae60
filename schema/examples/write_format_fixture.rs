//! Writes `fixtures/sessions/format-v<N>.beefine`: a small synthetic session in the current
//! format, committed so that every later build is tested against it.
//!
//! `cargo run -p beefine_schema --example write_format_fixture -- OUT_DIR`

use std::path::PathBuf;

use beefine_schema::{
    Container, DockerEvent, FORMAT_VERSION, SessionInfo, SessionWriter, WriterOptions,
};
use beefine_testdata::generated::every_kind;
use beefine_testdata::synth::{CONTAINER_CGROUP_ID, Generator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fixtures/sessions".into()),
    );
    let path = dir.join(format!("format-v{FORMAT_VERSION}.beefine"));
    let info = SessionInfo {
        session_name: format!("format-v{FORMAT_VERSION}"),
        command: vec!["synthetic".into()],
        tool_version: env!("CARGO_PKG_VERSION").into(),
        host_kernel: "6.18.0".into(),
        hostname: "fixture".into(),
        clock_offset_nanos: 1_764_000_000_000_000_000,
        start_ts_nanos: 1_000_000_000,
    };
    let opts = WriterOptions {
        overwrite: true,
        chunk_events: 4096,
        ..WriterOptions::default()
    };
    let mut w = SessionWriter::create(&path, &info, opts)?;
    let id = "4f1c2a9e0b7d".repeat(5) + "abcd";
    w.upsert_container(&Container {
        container_id: id.clone(),
        name: "fixture".into(),
        image: "localhost:5000/busybox:fixture".into(),
        image_id: "sha256:00".into(),
        init_pid: Some(2130),
        cgroup_id: Some(CONTAINER_CGROUP_ID),
        inspect_json: "{}".into(),
        ..Container::default()
    })?;
    w.docker_event(&DockerEvent {
        ts_nanos: 1_000_000_500,
        event_type: "container".into(),
        action: "start".into(),
        actor_id: id,
        attributes: vec![("name".into(), "fixture".into())],
    })?;
    for e in Generator::new(2024).take(10_000) {
        w.push(e)?;
    }
    // Every kind, its fields made from its description: the golden test reads them back.
    for e in every_kind(2024, 4, 2_000_000_000) {
        w.push(e)?;
    }
    let summary = w.finish(None)?;
    println!(
        "{}: {} events, {} bytes",
        path.display(),
        summary.events,
        summary.file_bytes
    );
    Ok(())
}
