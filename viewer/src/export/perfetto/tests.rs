use std::collections::HashMap;

use beefine_schema::Session;
use prost::Message as _;

use super::proto::*;
use super::*;

fn export(session: &Session, chapters: &[ChapterSpan]) -> (Trace, PerfettoSummary) {
    let mut out = Vec::new();
    let summary = export_perfetto(session, chapters, &mut out).unwrap();
    assert_eq!(summary.bytes as usize, out.len());
    let trace = Trace::decode(out.as_slice()).unwrap();
    assert_eq!(trace.packet.len() as u64, summary.packets);
    (trace, summary)
}

fn sample() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.beefine");
    beefine_testdata::write_sample_session(&path).unwrap();
    let s = Session::open(&path).unwrap();
    (dir, s)
}

/// Names of interned ids, in the order they were declared.
#[derive(Default)]
struct Names {
    events: HashMap<u64, String>,
    args: HashMap<u64, String>,
}

impl Names {
    fn add(&mut self, p: &TracePacket) {
        if let Some(d) = &p.interned_data {
            for n in &d.event_names {
                assert!(
                    self.events
                        .insert(n.iid.unwrap(), n.name.clone().unwrap())
                        .is_none()
                );
            }
            for n in &d.debug_annotation_names {
                assert!(
                    self.args
                        .insert(n.iid.unwrap(), n.name.clone().unwrap())
                        .is_none()
                );
            }
        }
    }
}

#[test]
fn every_event_is_on_a_described_track_after_its_descriptor() {
    let (_dir, s) = sample();
    let (trace, summary) = export(&s, &[]);
    let mut described = HashMap::new();
    let mut names = Names::default();
    let mut instants = 0u64;
    let mut open: HashMap<u64, i64> = HashMap::new();
    for p in &trace.packet {
        assert_eq!(p.trusted_packet_sequence_id, Some(SEQUENCE));
        names.add(p);
        if let Some(d) = &p.track_descriptor {
            assert!(described.insert(d.uuid.unwrap(), d.clone()).is_none());
            if let Some(parent) = d.parent_uuid {
                assert!(described.contains_key(&parent), "parent described first");
            }
        }
        if let Some(ev) = &p.track_event {
            let track = ev.track_uuid.unwrap();
            assert!(
                described.contains_key(&track),
                "track {track} described first"
            );
            if let Some(iid) = ev.name_iid {
                assert!(names.events.contains_key(&iid), "name {iid} declared first");
            }
            for a in &ev.debug_annotations {
                assert!(names.args.contains_key(&a.name_iid.unwrap()));
            }
            match ev.r#type.unwrap() {
                TYPE_INSTANT => instants += 1,
                TYPE_SLICE_BEGIN => *open.entry(track).or_default() += 1,
                TYPE_SLICE_END => *open.entry(track).or_default() -= 1,
                TYPE_COUNTER => assert!(described[&track].counter.is_some()),
                t => panic!("type {t}"),
            }
        }
    }
    // Every event is an instant, except losses with a span (slices).
    let lost_spans = s
        .losses()
        .unwrap()
        .iter()
        .filter(|l| l.until_ts_nanos > l.ts_nanos)
        .count() as u64;
    let samples = s.resource_samples().unwrap().len() as u64;
    assert_eq!(instants + lost_spans + samples, summary.export.events);
    assert!(open.values().all(|n| *n == 0), "every slice ends: {open:?}");
    assert!(summary.tracks as usize == described.len());
}

#[test]
fn processes_threads_and_containers_have_descriptors() {
    let (_dir, s) = sample();
    let (trace, _) = export(&s, &[]);
    let descriptors: Vec<&TrackDescriptor> = trace
        .packet
        .iter()
        .filter_map(|p| p.track_descriptor.as_ref())
        .collect();
    let container = descriptors
        .iter()
        .find(|d| d.name.as_deref() == Some("container web"))
        .expect("a track for the container");
    let processes: Vec<_> = descriptors
        .iter()
        .filter_map(|d| d.process.as_ref())
        .collect();
    assert!(processes.iter().any(|p| {
        p.process_name.as_deref() == Some("nginx")
            && p.process_labels.iter().any(|l| l == "container web")
    }));
    // Each thread names a pid that has a process track.
    for t in descriptors.iter().filter_map(|d| d.thread.as_ref()) {
        assert!(processes.iter().any(|p| p.pid == t.pid), "{t:?}");
    }
    let children: Vec<_> = descriptors
        .iter()
        .filter(|d| d.parent_uuid == container.uuid)
        .filter_map(|d| d.name.as_deref())
        .collect();
    assert!(children.contains(&"daemon events"), "{children:?}");
    assert!(children.contains(&"memory"), "{children:?}");
}

#[test]
fn chapters_are_slices_on_their_containers_chapter_track() {
    let (_dir, s) = sample();
    let chapters = [
        ChapterSpan {
            chapter: "namespaces".into(),
            title: "Namespaces".into(),
            ts_nanos: 1_300_000_000,
            end_ts_nanos: 1_400_000_000,
            container_id: Some(beefine_testdata::WEB_ID.into()),
            events: 12,
            notice: "runc unshares".into(),
        },
        ChapterSpan {
            chapter: "pull".into(),
            title: "Pull".into(),
            ts_nanos: 1_000_000_000,
            end_ts_nanos: 1_100_000_000,
            container_id: None,
            events: 3,
            notice: String::new(),
        },
    ];
    let (trace, _) = export(&s, &chapters);
    let mut names = Names::default();
    let mut tracks = HashMap::new();
    let mut slices = Vec::new();
    for p in &trace.packet {
        names.add(p);
        if let Some(d) = &p.track_descriptor {
            tracks.insert(d.uuid.unwrap(), d.name.clone().unwrap_or_default());
        }
        if let Some(ev) = &p.track_event
            && ev.r#type == Some(TYPE_SLICE_BEGIN)
            && let Some(name) = ev.name_iid.map(|i| names.events[&i].clone())
        {
            slices.push((tracks[&ev.track_uuid.unwrap()].clone(), name, p.timestamp));
        }
    }
    assert!(slices.contains(&("chapters".into(), "Namespaces".into(), Some(1_300_000_000))));
    assert!(slices.contains(&("image pulls".into(), "Pull".into(), Some(1_000_000_000))));
}

#[test]
fn every_kind_exports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.beefine");
    let events = beefine_testdata::generated::every_kind(3, 4, 1_000);
    let n = events.len() as u64;
    let info = s_info();
    let mut w = beefine_schema::SessionWriter::create(&path, &info, Default::default()).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    w.finish(None).unwrap();
    let s = Session::open(&path).unwrap();
    let (trace, summary) = export(&s, &[]);
    assert_eq!(summary.export.events, n);
    assert!(trace.packet.len() as u64 > n);
}

fn s_info() -> beefine_schema::SessionInfo {
    beefine_schema::SessionInfo {
        session_name: "kinds".into(),
        command: vec![],
        tool_version: "0".into(),
        host_kernel: "6.18".into(),
        hostname: "h".into(),
        clock_offset_nanos: 0,
        start_ts_nanos: 0,
    }
}
