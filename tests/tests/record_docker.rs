//! The Docker daemon's side of a session, end to end against the real daemon and registry.

mod support;

use std::time::Duration;

use beefine_schema::paths::{LayerIndex, RootTracker};
use beefine_schema::{EventData, Kind};
use beefine_tests::{
    Container, busybox_image, docker, docker_ok, nginx_image, registry_manifest, require_docker,
    require_image, require_registry, require_root,
};
use support::{Scratch, events, leftovers, record, spawn_recorder};

fn setup() {
    require_root();
    require_docker();
    require_registry();
    require_image(&busybox_image());
    require_image(&nginx_image());
}

#[test]
fn a_running_container_is_recorded_as_docker_inspect_sees_it() {
    setup();
    let image = busybox_image();
    let running = Container::run(&[
        &image,
        "sh",
        "-c",
        "while true; do echo x > /dev/null; sleep 0.05; done",
    ]);
    let scratch = Scratch::new("docker-inspect");
    let out = record(&scratch, "inspect", &["--duration", "1.5s"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, _) = events(&scratch.session("inspect"));
    let inspect: serde_json::Value = serde_json::from_str(&docker(&["inspect", &running.id]))
        .map(|v: serde_json::Value| v[0].clone())
        .unwrap();
    let c = session
        .containers()
        .unwrap()
        .into_iter()
        .find(|c| c.container_id == running.id)
        .expect("the running container is in the session");
    assert_eq!(c.container_id, inspect["Id"].as_str().unwrap());
    assert_eq!(format!("/{}", c.name), inspect["Name"].as_str().unwrap());
    assert_eq!(c.image, inspect["Config"]["Image"].as_str().unwrap());
    assert_eq!(c.image_id, inspect["Image"].as_str().unwrap());
    let pid = inspect["State"]["Pid"].as_u64().unwrap() as u32;
    assert_eq!(c.init_pid, Some(pid));
    for kind in ["pid", "mnt", "net", "uts", "ipc", "cgroup"] {
        let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
        let inode: u64 = link
            .to_string_lossy()
            .split_once('[')
            .unwrap()
            .1
            .trim_end_matches(']')
            .parse()
            .unwrap();
        assert_eq!(c.namespace(kind), Some(inode), "{kind} namespace");
    }
    assert_eq!(
        c.merged_dir.as_deref(),
        inspect["GraphDriver"]["Data"]["MergedDir"].as_str()
    );
    assert!(c.cgroup_id.is_some_and(|id| id > 1));
    // Resource samples of the running container, memory above zero.
    let samples: Vec<_> = session
        .resource_samples()
        .unwrap()
        .into_iter()
        .filter(|s| s.sample.container_id == running.id)
        .collect();
    assert!(samples.len() >= 3, "{} samples in 1.5 s", samples.len());
    assert!(samples.iter().all(|s| s.sample.mem_bytes > 0));
    assert!(samples.last().unwrap().sample.cpu_nanos > 0);
    // Its processes carry its id; the daemon totals were sampled.
    assert!(!session.daemon_samples().unwrap().is_empty());
}

#[test]
fn every_layer_of_a_pulled_image_is_recorded_and_unpacked() {
    setup();
    let image = nginx_image();
    // Unpack as many layers as possible: remove the image and its busybox base. Layers other
    // local images still share stay ("Already exists") and are not unpacked again.
    for i in [nginx_image(), busybox_image()] {
        let _ = docker_ok(&["rmi", "-f", &i]);
    }
    let present: Vec<String> = docker(&["images", "-q", "--no-trunc"])
        .lines()
        .flat_map(|id| {
            let out = docker(&[
                "image",
                "inspect",
                "--format",
                "{{json .RootFS.Layers}}",
                id,
            ]);
            serde_json::from_str::<Vec<String>>(&out).unwrap_or_default()
        })
        .collect();
    let scratch = Scratch::new("docker-pull");
    let out = record(&scratch, "pull", &["--pull", &image, "--keep"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, events) = events(&scratch.session("pull"));
    let (manifest, manifest_digest) = registry_manifest(&image);
    let wanted: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert!(wanted.len() >= 3);
    let images = session.images().unwrap();
    let img = images
        .iter()
        .find(|i| i.reference == image)
        .expect("the pulled image");
    assert_eq!(
        img.manifest_digest.as_deref(),
        Some(manifest_digest.as_str())
    );
    assert!(!img.existed_before);
    let layers: Vec<_> = session
        .layers()
        .unwrap()
        .into_iter()
        .filter(|l| l.image_id == img.image_id)
        .collect();
    let got: Vec<&str> = layers
        .iter()
        .map(|l| l.digest.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        got, wanted,
        "layer digests, bottom first, as in the registry's manifest"
    );
    // Each layer's unpacking is visible: a file event whose host path is in its directory.
    let index = LayerIndex::new(&images, &layers);
    let mut roots = RootTracker::new();
    let mut touched = vec![0usize; layers.len()];
    for e in &events {
        roots.observe(e);
        if !matches!(
            e.kind(),
            Kind::Openat | Kind::Openat2 | Kind::Mkdirat | Kind::Mkdir | Kind::FileIo
        ) {
            continue;
        }
        if let Some(layer) = roots.host_path(e).and_then(|p| index.layer_of(&p).cloned()) {
            touched[layer.layer_index as usize] += 1;
        }
    }
    let mut unpacked = 0;
    for (l, n) in layers.iter().zip(&touched) {
        if present.contains(&l.diff_id) {
            continue;
        }
        assert!(
            *n > 0,
            "no unpack event in layer {} ({:?}): {touched:?}",
            l.layer_index,
            l.overlay_dir
        );
        unpacked += 1;
    }
    assert!(unpacked >= 3, "{unpacked} layers unpacked");
    let pull = session.docker_events().unwrap();
    assert!(
        pull.iter()
            .any(|e| e.event_type == "image" && e.action == "pull")
    );
}

#[test]
fn lifecycle_events_interleave_with_kernel_events() {
    setup();
    let image = busybox_image();
    let _ = docker_ok(&["pull", &image]);
    let scratch = Scratch::new("docker-lifecycle");
    let cidfile = scratch.dir.join("cid");
    let cid = cidfile.display().to_string();
    let out = record(
        &scratch,
        "life",
        &[],
        &["docker", "run", "--rm", "--cidfile", &cid, &image, "true"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = std::fs::read_to_string(&cidfile).unwrap();
    let (session, events) = events(&scratch.session("life"));
    let actions: Vec<(u64, String)> = session
        .docker_events()
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "container" && e.actor_id == id)
        .map(|e| (e.ts_nanos, e.action))
        .collect();
    let order: Vec<&str> = actions
        .iter()
        .map(|(_, a)| a.as_str())
        .filter(|a| ["create", "start", "die", "destroy"].contains(a))
        .collect();
    assert_eq!(order, ["create", "start", "die", "destroy"]);
    let at = |a: &str| actions.iter().find(|(_, x)| x == a).unwrap().0;
    let container = session
        .containers()
        .unwrap()
        .into_iter()
        .find(|c| c.container_id == id)
        .unwrap();
    let cgroup = container.cgroup_id.expect("cgroup of the container");
    let init_exec = events
        .iter()
        .find(|e| e.kind() == Kind::Exec && e.header.cgroup_id == cgroup && matches!(&e.data, EventData::Exec(x) if !x.filename.contains("runc") && !x.filename.starts_with("/proc/")))
        .expect("the exec of the container's init");
    assert!(
        at("create") < init_exec.ts_nanos() && init_exec.ts_nanos() < at("start"),
        "create {} < exec {} < start {}",
        at("create"),
        init_exec.ts_nanos(),
        at("start")
    );
    assert_eq!(container.created_ts_nanos, Some(at("create")));
    assert_eq!(container.destroyed_ts_nanos, Some(at("destroy")));
    // The docker events are also on the timeline, in order with the rest.
    let timeline: Vec<_> = events.iter().filter(|e| e.kind() == Kind::Docker).collect();
    assert!(timeline.len() >= 4);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].ts_nanos() <= w[1].ts_nanos())
    );
}

#[test]
fn nothing_the_recorder_created_is_left_after_sigterm() {
    setup();
    let image = busybox_image();
    let _ = docker_ok(&["pull", &image]);
    let scratch = Scratch::new("docker-term");
    let child = spawn_recorder(&scratch, "term", &["--run", &image, "--", "sleep", "60"]);
    let label = "label=io.beefine.session=term";
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while docker(&["ps", "-q", "--filter", label]).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the recorder's container did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        docker(&["ps", "-aq", "--filter", label]).trim(),
        "",
        "the container was removed"
    );
    assert!(
        docker_ok(&["image", "inspect", &image]),
        "an image that was there before stays"
    );
    assert!(leftovers().is_empty(), "{:?}", leftovers());
    let (session, _) = events(&scratch.session("term"));
    assert_eq!(session.status(), beefine_schema::Status::Complete);
    assert!(
        session
            .containers()
            .unwrap()
            .iter()
            .any(|c| c.image == image && c.started_ts_nanos.is_some())
    );
}
