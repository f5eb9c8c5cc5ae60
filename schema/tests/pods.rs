//! Pods and the pod fields of containers: round trip, and files written before them.

use std::path::Path;

use beefine_schema::{Container, Pod, Session, SessionInfo, SessionWriter, WriterOptions};

fn info() -> SessionInfo {
    SessionInfo {
        session_name: "pods".into(),
        command: vec!["beefine-record".into()],
        tool_version: "test".into(),
        host_kernel: "6.18.0".into(),
        hostname: "node-1".into(),
        clock_offset_nanos: 1_700_000_000_000_000_000,
        start_ts_nanos: 1_000_000_000,
    }
}

fn pod() -> Pod {
    Pod {
        pod_id: "5b".repeat(32),
        name: "web".into(),
        namespace: "default".into(),
        uid: "0f0e0d0c-0000-4000-8000-000000000001".into(),
        attempt: 0,
        runtime: "containerd 1.6.20 (CRI v1)".into(),
        ip: Some("10.213.0.7".into()),
        sandbox_pid: Some(4242),
        namespaces: vec![
            ("net".into(), 4026532400),
            ("ipc".into(), 4026532401),
            ("uts".into(), 4026532402),
            ("pid".into(), 4026532403),
            ("mnt".into(), 4026532404),
        ],
        namespace_modes: vec![
            ("network".into(), "pod".into()),
            ("pid".into(), "container".into()),
            ("ipc".into(), "pod".into()),
        ],
        cgroup_parent: Some("/kubepods/besteffort/pod0f0e0d0c".into()),
        created_ts_nanos: Some(1_000_000_100),
        stopped_ts_nanos: Some(1_000_000_900),
        removed_ts_nanos: None,
        labels: vec![("app".into(), "web".into())],
        status_json: r#"{"status":{}}"#.into(),
    }
}

fn container(id: &str, name: &str, pod_id: &str) -> Container {
    Container {
        container_id: id.into(),
        name: name.into(),
        image: "localhost:5000/busybox:latest".into(),
        inspect_json: "{}".into(),
        pod_id: Some(pod_id.into()),
        created_ts_nanos: Some(1_000_000_200),
        ..Container::default()
    }
}

#[test]
fn pods_and_their_containers_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.beefine");
    let mut w = SessionWriter::create(&path, &info(), WriterOptions::default()).unwrap();
    let p = pod();
    w.upsert_pod(&p).unwrap();
    let sandbox = container(&p.pod_id, "POD", &p.pod_id);
    let app = container(&"a1".repeat(32), "httpd", &p.pod_id);
    // Created after the sandbox and before the pod's app container.
    let plain = Container {
        pod_id: None,
        created_ts_nanos: Some(1_000_000_150),
        ..container(&"c3".repeat(32), "docker-one", "")
    };
    let sandbox = Container {
        created_ts_nanos: Some(1_000_000_100),
        ..sandbox
    };
    for c in [&sandbox, &app, &plain] {
        w.upsert_container(c).unwrap();
    }
    // A later description replaces the row.
    let stopped = Pod {
        removed_ts_nanos: Some(1_000_001_000),
        ..p.clone()
    };
    w.upsert_pod(&stopped).unwrap();
    w.finish(None).unwrap();

    let s = Session::open(&path).unwrap();
    assert_eq!(s.pods().unwrap(), vec![stopped.clone()]);
    // A pod's containers come together, its sandbox first.
    let order: Vec<String> = s
        .containers()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(order, ["POD", "httpd", "docker-one"]);
    let got = s.containers().unwrap();
    let find = |id: &str| got.iter().find(|c| c.container_id == id).unwrap();
    assert_eq!(find(&sandbox.container_id), &sandbox);
    assert!(find(&sandbox.container_id).is_sandbox());
    assert_eq!(find(&app.container_id), &app);
    assert!(!find(&app.container_id).is_sandbox());
    assert_eq!(find(&plain.container_id).pod_id, None);
    assert!(!find(&plain.container_id).is_sandbox());
    assert_eq!(stopped.full_name(), "default/web");
    assert_eq!(stopped.namespace("net"), Some(4026532400));
}

#[test]
fn files_from_before_pods_have_none() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/format-v1.beefine");
    let s = Session::open(&fixture).unwrap();
    assert!(s.pods().unwrap().is_empty());
    let containers = s.containers().unwrap();
    assert!(!containers.is_empty());
    assert!(containers.iter().all(|c| c.pod_id.is_none()));
}
