//! The story of the committed fixtures: real recordings of a pull and run of nginx, a
//! `docker run` of busybox and a `docker exec`.

use std::path::PathBuf;

use super::*;
use crate::event::{Event, EventData};
use crate::{Kind, Session};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(name)
}

fn load(name: &str) -> (StoryInput, Vec<Event>) {
    let s = Session::open(&fixture(name)).unwrap();
    (StoryInput::read(&s).unwrap(), s.all_events().unwrap())
}

fn derive_from(input: StoryInput, events: &[Event]) -> (Story, Vec<Note>) {
    let mut notes = Vec::new();
    let story = Story::derive(input, events, |n| notes.push(n)).unwrap();
    assert_eq!(notes.len(), events.len(), "one note per event");
    (story, notes)
}

fn derive(name: &str) -> (Story, Vec<Note>, Vec<Event>) {
    let (input, events) = load(name);
    let (story, notes) = derive_from(input, &events);
    (story, notes, events)
}

fn kinds(story: &Story) -> Vec<&'static str> {
    story.chapters.iter().map(|c| c.chapter.name()).collect()
}

/// Which events are a chapter's key events.
type KeyEvents<'a> = &'a [(ChapterKind, &'a dyn Fn(&Event) -> bool)];

/// Chapters come in time order without overlapping, and each key event lies inside the
/// chapter it belongs to.
fn check_spans(story: &Story, events: &[Event], keys: KeyEvents<'_>) {
    for w in story.chapters.windows(2) {
        assert!(
            w[0].ts_nanos <= w[1].ts_nanos,
            "{} before {}",
            w[0].title,
            w[1].title
        );
        if w[0].container_id == w[1].container_id {
            assert!(
                w[0].end_ts_nanos < w[1].ts_nanos,
                "{} overlaps {}",
                w[0].title,
                w[1].title
            );
        }
    }
    for c in &story.chapters {
        assert!(c.ts_nanos <= c.end_ts_nanos, "{}", c.title);
        assert_eq!(
            c.notice.lines().count(),
            2,
            "two lines to notice: {:?}",
            c.notice
        );
        assert!(!c.title.is_empty());
    }
    for (kind, is_key) in keys {
        let key: Vec<&Event> = events.iter().filter(|e| is_key(e)).collect();
        assert!(!key.is_empty(), "no key event for {kind}");
        for e in key {
            let ch = story
                .chapters
                .iter()
                .find(|c| c.contains(e.ts_nanos()) && c.chapter == *kind);
            assert!(
                ch.is_some(),
                "the {kind} key event {} at {} is in no {kind} chapter: {:?}",
                e.kind(),
                e.ts_nanos(),
                story
                    .chapters
                    .iter()
                    .find(|c| c.contains(e.ts_nanos()))
                    .map(|c| &c.title)
            );
        }
    }
}

fn docker_action(e: &Event, action: &str) -> bool {
    matches!(&e.data, EventData::Docker(d) if &*d.event_type == "container" && &*d.action == action)
}

fn exec_of(e: &Event, argv0: &str) -> bool {
    matches!(&e.data, EventData::Exec(a) if a.argv.first().is_some_and(|a| &**a == argv0))
}

#[test]
fn pull_and_run_of_nginx() {
    let (story, notes, events) = derive("pull-nginx.beefine");
    assert_eq!(
        kinds(&story),
        [
            "pull",
            "unpack",
            "unpack",
            "unpack",
            "unpack",
            "unpack",
            "rootfs",
            "network",
            "runtime",
            "cgroups",
            "namespaces",
            "mounts",
            "pivot_root",
            "exec",
            "running",
            "stop",
            "cleanup"
        ]
    );
    let titles: Vec<&str> = story.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles[0], "Pull localhost:5000/nginx:9559d25d06d190b7");
    assert_eq!(titles[1], "Unpack layer 2 of 6 (8.1 MiB)");
    assert_eq!(titles[5], "Unpack layer 6 of 6 (221 B)");
    assert_eq!(titles[13], "exec: nginx -g daemon off;");
    assert!(
        titles[7].contains("publishes 127.0.0.1:18080→80/tcp"),
        "{}",
        titles[7]
    );
    assert!(
        story.chapters[0]
            .notice
            .contains("1 of 6 were there before")
    );
    let id = &story.input().containers[0].container_id;
    assert!(
        story
            .chapters
            .iter()
            .all(|c| c.container_id.as_ref() == Some(id))
    );
    check_spans(
        &story,
        &events,
        &[
            (
                ChapterKind::Pull,
                &|e| matches!(&e.data, EventData::Packet(p) if p.payload.starts_with(b"GET /v2/nginx/manifests/")),
            ),
            (ChapterKind::Unpack, &|e| exec_of(e, "docker-untar")),
            (
                ChapterKind::Rootfs,
                &|e| matches!(&e.data, EventData::Mount(m) if &*m.fstype == "overlay"),
            ),
            (ChapterKind::Runtime, &|e| {
                exec_of(e, "/usr/bin/containerd-shim-runc-v2")
                    && matches!(&e.data, EventData::Exec(a) if a.argv.last().is_some_and(|a| &**a != "delete"))
            }),
            (ChapterKind::Cgroups, &|e| e.kind() == Kind::CgroupMkdir),
            (ChapterKind::Namespaces, &|e| {
                e.kind() == Kind::Unshare && &*e.header.comm == "runc:[1:CHILD]"
            }),
            (
                ChapterKind::Mounts,
                &|e| matches!(&e.data, EventData::Mount(m) if &*m.fstype == "proc"),
            ),
            (ChapterKind::PivotRoot, &|e| {
                e.kind() == Kind::PivotRoot && &*e.header.comm == "runc:[2:INIT]"
            }),
            (ChapterKind::Exec, &|e| exec_of(e, "nginx")),
            (ChapterKind::Running, &|e| docker_action(e, "start")),
            (ChapterKind::Stop, &|e| {
                docker_action(e, "die") || docker_action(e, "kill")
            }),
            (ChapterKind::Cleanup, &|e| docker_action(e, "destroy")),
        ],
    );
    // The birth is attributed to the container well beyond its cgroup: the shim, runc
    // before it joins the cgroup, dockerd's overlay mounts, the layers unpacked for it.
    let in_cgroup = events.iter().filter(|e| e.header.cgroup_id == 1450).count();
    let attributed = notes.iter().filter(|n| n.container == Some(0)).count();
    assert!(
        attributed > 5 * in_cgroup,
        "{attributed} attributed, {in_cgroup} in the cgroup"
    );
    for (e, n) in events.iter().zip(&notes) {
        let named = |s: &str| &*e.header.comm == s;
        if named("containerd-shim")
            || named("runc")
            || (e.kind() == Kind::Mount
                && named("dockerd")
                && matches!(&e.data, EventData::Mount(m) if &*m.fstype == "overlay"))
        {
            assert_eq!(
                n.container,
                Some(0),
                "{} by {} at {}",
                e.kind(),
                e.header.comm,
                e.ts_nanos()
            );
        }
    }
    // Every failure in this recording is expected noise, with a reason.
    let failed = events.iter().filter(|e| e.failed()).count();
    let expected = events
        .iter()
        .zip(&notes)
        .filter(|(e, n)| e.failed() && n.expected.is_some())
        .count();
    assert_eq!((failed, expected), (734, 734));
    let loader = notes
        .iter()
        .filter(|n| {
            n.expected
                .and_then(noise::rule)
                .is_some_and(|r| r.id == "loader_search")
        })
        .count();
    assert!(loader > 300, "{loader} loader searches");
    // The daemon joins the container's net namespace through the file it bound it to.
    let joins: Vec<&Joined> = notes.iter().filter_map(|n| n.joins.as_ref()).collect();
    assert_eq!(joins.len(), 9);
    let into = joins.iter().filter(|j| j.container == Some(0)).count();
    assert_eq!(into, 2, "{joins:?}");
    assert!(joins.iter().all(|j| j.ns_type == "net" && j.inode != 0));
}

#[test]
fn the_state_at_the_end_of_the_start() {
    let (story, _, _) = derive("pull-nginx.beefine");
    let running = story
        .chapters
        .iter()
        .find(|c| c.chapter == ChapterKind::Running)
        .unwrap();
    let st = story.state_at(0, running.ts_nanos).unwrap();
    assert_eq!(st.status, "running");
    let row = &story.input().containers[0];
    for ns in &st.namespaces {
        assert_eq!(Some(ns.inode), row.namespace(&ns.ns_type), "{}", ns.ns_type);
        let own = ["pid", "mnt", "net", "uts", "ipc"].contains(&ns.ns_type.as_str());
        assert_eq!(
            ns.owner,
            if own { "container" } else { "host" },
            "{}",
            ns.ns_type
        );
        assert!(
            ns.pids.contains(&31892),
            "the init is in every {} namespace",
            ns.ns_type
        );
    }
    let host_pid = st
        .namespaces
        .iter()
        .find(|n| n.ns_type == "cgroup")
        .unwrap();
    assert!(host_pid.pids.contains(&31288), "dockerd shares the host's");
    let points: Vec<&str> = st.mounts.iter().map(|m| m.mount_point.as_str()).collect();
    let mut expected = vec!["/", "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup"];
    let controllers = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
    ];
    let cg: Vec<String> = controllers
        .iter()
        .map(|c| format!("/sys/fs/cgroup/{c}"))
        .collect();
    expected.extend(cg.iter().map(String::as_str));
    expected.extend([
        "/dev/mqueue",
        "/dev/shm",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/acpi",
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
    ]);
    assert_eq!(points, expected);
    let root = &st.mounts[0];
    assert_eq!(
        (root.fstype.as_str(), root.source.as_str()),
        ("overlay", "overlay")
    );
    let proc = &st.mounts[1];
    assert_eq!(proc.options, "rw,nosuid,nodev,noexec,relatime");
    let keys = st
        .mounts
        .iter()
        .find(|m| m.mount_point == "/proc/keys")
        .unwrap();
    assert_eq!(
        (keys.fstype.as_str(), keys.root.as_str()),
        ("tmpfs", "/null"),
        "/dev/null of the container's /dev"
    );
    // The overlay: the init layer on top, then the image layers 6 … 1.
    let layers: Vec<Option<u32>> = st.overlay.lower.iter().map(|l| l.layer).collect();
    assert_eq!(
        layers,
        [None, Some(6), Some(5), Some(4), Some(3), Some(2), Some(1)]
    );
    assert!(st.overlay.lower[0].init && st.overlay.mounted);
    // The lineage across the stack, with the init's names over time.
    let chain: Vec<(&str, u32)> = st
        .lineage
        .iter()
        .map(|n| (n.comm.as_str(), n.depth))
        .collect();
    for (i, want) in [
        "dockerd",
        "containerd",
        "containerd-shim",
        "containerd-shim",
        "runc",
        "runc:[0:PARENT]",
        "runc:[1:CHILD]",
        "nginx",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(chain[i], (*want, i as u32), "{chain:?}");
    }
    let init = st.lineage.iter().find(|n| n.pid == 31892).unwrap();
    assert_eq!(init.names, ["runc:[1:CHILD]", "runc:[2:INIT]", "nginx"]);
    assert!(init.alive && init.in_container);
    let child = st.lineage.iter().find(|n| n.pid == 31891).unwrap();
    assert_eq!(child.exit.as_deref(), Some("exited 0"));
    assert_eq!(st.cgroup.cgroup_id, Some(1450));
    assert_eq!(st.cgroup.pids, [31892]);
    // Later, a resource sample; before its creation, nothing of its own.
    let later = story.state_at(0, running.end_ts_nanos).unwrap();
    assert!(later.sample.is_some_and(|s| s.mem_bytes > 0));
    let before = story.state_at(0, story.input().start_ts_nanos).unwrap();
    assert_eq!(before.status, "not created");
    assert!(before.mounts.is_empty() && before.namespaces.iter().all(|n| n.owner == "host"));
    assert!(before.lineage.is_empty());
    // Which layer provides a file: the one that unpacked it.
    let nginx = story
        .layer_providing(0, "/usr/sbin/nginx")
        .expect("unpacked in the recording");
    assert_eq!(nginx.layer, Some(3), "docker-untar of layer 3 wrote it");
}

#[test]
fn run_of_busybox() {
    let (story, _, events) = derive("run-busybox.beefine");
    assert_eq!(
        kinds(&story),
        [
            "pull",
            "rootfs",
            "network",
            "runtime",
            "cgroups",
            "namespaces",
            "mounts",
            "pivot_root",
            "exec",
            "running",
            "stop",
            "cleanup"
        ]
    );
    assert!(
        story.chapters[10]
            .title
            .starts_with("Stop: the entrypoint exited"),
        "{}",
        story.chapters[10].title
    );
    check_spans(
        &story,
        &events,
        &[
            (ChapterKind::Exec, &|e| exec_of(e, "sh")),
            (ChapterKind::Stop, &|e| docker_action(e, "die")),
        ],
    );
}

#[test]
fn docker_exec_joins_the_container() {
    let (story, notes, events) = derive("exec-busybox.beefine");
    assert_eq!(
        kinds(&story),
        [
            "rootfs",
            "network",
            "runtime",
            "cgroups",
            "namespaces",
            "mounts",
            "pivot_root",
            "exec",
            "running",
            "join",
            "running",
            "stop",
            "cleanup"
        ]
    );
    check_spans(
        &story,
        &events,
        &[(ChapterKind::Join, &|e| {
            e.kind() == Kind::Setns && &*e.header.comm == "runc:[1:CHILD]"
        })],
    );
    let joined: Vec<&str> = notes
        .iter()
        .filter_map(|n| n.joins.as_ref())
        .filter(|j| {
            j.via
                .as_deref()
                .is_some_and(|v| v.starts_with("/proc/32128/ns/"))
        })
        .map(|j| {
            assert_eq!(j.container, Some(0));
            j.ns_type
        })
        .collect();
    assert_eq!(joined, ["ipc", "uts", "net", "pid", "mnt"]);
    // The joining process is in the container's namespaces (all but cgroup, user, time).
    let join = story
        .chapters
        .iter()
        .find(|c| c.chapter == ChapterKind::Join)
        .unwrap();
    let st = story.state_at(0, join.end_ts_nanos).unwrap();
    let mnt = st.namespaces.iter().find(|n| n.ns_type == "mnt").unwrap();
    assert!(mnt.pids.contains(&32128), "{mnt:?}");
}

#[test]
fn a_pull_for_no_container_and_a_session_without_containers() {
    // The nginx recording without its container: the pull and its unpacks remain.
    let (mut input, events) = load("pull-nginx.beefine");
    input.containers.clear();
    let (story, notes) = derive_from(input, &events);
    assert_eq!(
        kinds(&story),
        ["pull", "unpack", "unpack", "unpack", "unpack", "unpack"]
    );
    assert!(
        story
            .chapters
            .iter()
            .all(|c| c.container_id.is_none() && c.events > 0)
    );
    assert!(notes.iter().all(|n| n.container.is_none()));
    // No container and no pull: no chapters.
    let quiet: Vec<Event> = events
        .into_iter()
        .filter(|e| !matches!(&e.data, EventData::Docker(_)) && e.kind() != Kind::Packet)
        .collect();
    let (story, _) = derive_from(StoryInput::default(), &quiet);
    assert!(story.chapters.is_empty(), "{:?}", kinds(&story));
}

#[test]
fn a_failed_start() {
    // The busybox recording as if the entrypoint could not be executed: no exec of sh, no
    // start event, runc create exiting with status 1.
    let (input, events) = load("run-busybox.beefine");
    let failed: Vec<Event> = events
        .into_iter()
        .filter(|e| !exec_of(e, "sh") && !docker_action(e, "start"))
        .map(|mut e| {
            if let EventData::Exit(x) = &mut e.data
                && e.header.tgid == 32008
            {
                x.code = 256;
            }
            e
        })
        .collect();
    let (story, _) = derive_from(input, &failed);
    let ks = kinds(&story);
    assert!(ks.contains(&"exec") && !ks.contains(&"running"), "{ks:?}");
    let exec = story
        .chapters
        .iter()
        .find(|c| c.chapter == ChapterKind::Exec)
        .unwrap();
    assert!(exec.title.starts_with("exec failed"), "{}", exec.title);
    assert!(exec.notice.contains("status 1"), "{}", exec.notice);
}

#[test]
fn synthetic_sessions_do_not_panic() {
    for name in ["format-v1.beefine", "format-v2.beefine"] {
        let (story, notes, events) = derive(name);
        assert_eq!(notes.len(), events.len());
        for c in 0..story.input().containers.len() {
            for ch in story.chapters_of(c) {
                let _ = story.state_at(c, ch.ts_nanos);
            }
        }
    }
}

#[test]
fn chapters_are_stored_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.beefine");
    std::fs::copy(fixture("run-busybox.beefine"), &path).unwrap();
    assert_eq!(
        Session::open(&path).unwrap().chapters().unwrap(),
        None,
        "none stored yet"
    );
    let (story, _, _) = derive("run-busybox.beefine");
    write_chapters(&path, &story.chapters).unwrap();
    let s = Session::open(&path).unwrap();
    assert_eq!(s.chapters().unwrap().as_ref(), Some(&story.chapters));
    assert_eq!(
        s.meta_value("chapters_version").unwrap().as_deref(),
        Some(CHAPTERS_VERSION.to_string().as_str())
    );
    // Writing again replaces them; rows of unknown chapters are skipped.
    write_chapters(&path, &story.chapters[..2]).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO chapters VALUES ('teleport', 't', 1, 2, NULL, 0, 'a\nb')",
        [],
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        Session::open(&path)
            .unwrap()
            .chapters()
            .unwrap()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn bookmarks_are_saved_into_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.beefine");
    std::fs::copy(fixture("pull-nginx.beefine"), &path).unwrap();
    let marks = vec![
        crate::Bookmark {
            ts_nanos: 9_962_445_544_475,
            label: "unshare".into(),
            note: "five namespaces at once".into(),
        },
        crate::Bookmark {
            ts_nanos: 9_962_617_000_000,
            label: "pivot_root".into(),
            note: String::new(),
        },
    ];
    write_bookmarks(&path, &marks).unwrap();
    assert_eq!(Session::open(&path).unwrap().bookmarks().unwrap(), marks);
    write_bookmarks(&path, &marks[1..]).unwrap();
    assert_eq!(
        Session::open(&path).unwrap().bookmarks().unwrap(),
        marks[1..]
    );
    let (story, _, _) = derive("pull-nginx.beefine");
    let untar = story.unpacked_by(31826).expect("a docker-untar");
    assert_eq!(untar.1.map(|l| l.layer_index), Some(2));
}

#[test]
fn a_pod_on_the_cri_node() {
    let (story, _, events) = derive("pod-web.beefine");
    let (input, _) = load("pod-web.beefine");
    let pod = &input.pods[0];
    let of = |id: &str| -> Vec<&'static str> {
        story
            .chapters
            .iter()
            .filter(|c| c.container_id.as_deref() == Some(id))
            .map(|c| c.chapter.name())
            .collect()
    };
    let sandbox = of(&pod.pod_id);
    assert_eq!(sandbox[..3], ["sandbox", "cni", "runtime"], "{sandbox:?}");
    let cni = story
        .chapters
        .iter()
        .find(|c| c.chapter == ChapterKind::Cni)
        .unwrap();
    assert!(
        cni.title.contains("bridge") && cni.title.contains(pod.ip.as_deref().unwrap()),
        "{}",
        cni.title
    );
    let apps: Vec<_> = input
        .containers
        .iter()
        .filter(|c| c.pod_id.as_deref() == Some(&pod.pod_id) && c.container_id != pod.pod_id)
        .collect();
    assert_eq!(apps.len(), 2);
    for c in apps {
        let ns = story
            .chapters
            .iter()
            .find(|ch| {
                ch.chapter == ChapterKind::Namespaces
                    && ch.container_id.as_deref() == Some(&c.container_id)
            })
            .unwrap_or_else(|| panic!("namespaces of {}", c.name));
        assert!(
            ns.title.ends_with("the pod's net, ipc, uts joined"),
            "{}",
            ns.title
        );
        assert!(!of(&c.container_id).contains(&"sandbox"));
    }
    // The plugins of the sandbox's making (its stop runs them again to take the network down).
    let sandbox_call = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::Cri(c) if &*c.method == "RunPodSandbox" => {
                Some(e.ts_nanos()..=e.ts_nanos() + c.duration_nanos)
            }
            _ => None,
        })
        .unwrap();
    check_spans(
        &story,
        &events,
        &[
            (
                ChapterKind::Sandbox,
                &|e| matches!(&e.data, EventData::Cri(c) if &*c.method == "RunPodSandbox"),
            ),
            (ChapterKind::Cni, &|e| {
                matches!(&e.data, EventData::Exec(a) if a.filename.starts_with("/usr/lib/cni/"))
                    && sandbox_call.contains(&e.ts_nanos())
            }),
        ],
    );
}
