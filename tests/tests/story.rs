//! The story of a container's birth on fresh recordings of real containers: the chapters
//! in time order with their key events inside, and the state at the end of the start equal
//! to what the kept container's /proc/PID/mountinfo and /proc/PID/ns/* say.

mod support;

use std::time::Duration;

use beefine_schema::story::{Chapter, ChapterKind, ContainerState, Note, Story, StoryInput};
use beefine_schema::{Event, EventData, Kind, Session};
use beefine_tests::{
    Container, busybox_image, docker, docker_ok, nginx_image, require_docker, require_image,
    require_registry, require_root,
};
use support::{Scratch, record};

fn setup() {
    require_root();
    require_docker();
    require_registry();
    require_image(&busybox_image());
    require_image(&nginx_image());
}

/// A recorded session with its story, derived again, and the chapters the recorder stored.
struct Recorded {
    events: Vec<Event>,
    story: Story,
    notes: Vec<Note>,
}

#[track_caller]
fn derive(path: &std::path::Path) -> Recorded {
    let session = Session::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let events = session.all_events().unwrap();
    let input = StoryInput::read(&session).unwrap();
    assert!(
        input
            .host_mountinfo
            .as_deref()
            .is_some_and(|m| m.contains(" / / ")),
        "the recorder stores the daemon's mount table"
    );
    let mut notes = Vec::new();
    let story = Story::derive(input, &session, |n| notes.push(n)).unwrap();
    let stored = session
        .chapters()
        .unwrap()
        .expect("the recorder stores the chapters");
    assert_eq!(stored, story.chapters, "stored and derived chapters agree");
    Recorded {
        events,
        story,
        notes,
    }
}

fn kinds(chapters: &[&Chapter]) -> Vec<&'static str> {
    chapters.iter().map(|c| c.chapter.name()).collect()
}

/// The container of the session with this id (full).
#[track_caller]
fn container_index(story: &Story, id: &str) -> usize {
    story
        .input()
        .containers
        .iter()
        .position(|c| c.container_id == id)
        .unwrap_or_else(|| panic!("container {id} is not in the session"))
}

/// Each key event lies in a chapter of its kind, of this container.
#[track_caller]
fn key_events_inside(r: &Recorded, c: usize, kind: ChapterKind, is_key: &dyn Fn(&Event) -> bool) {
    let chapters: Vec<&Chapter> = r
        .story
        .chapters_of(c)
        .filter(|ch| ch.chapter == kind)
        .collect();
    let keys: Vec<&Event> = r.events.iter().filter(|e| is_key(e)).collect();
    assert!(!keys.is_empty(), "no key event of {kind} was recorded");
    for e in keys {
        assert!(
            chapters.iter().any(|ch| ch.contains(e.ts_nanos())),
            "the {kind} key event ({} by {} at {}) is outside every {kind} chapter {:?}",
            e.kind(),
            e.header.comm,
            e.ts_nanos(),
            chapters
                .iter()
                .map(|c| (c.ts_nanos, c.end_ts_nanos))
                .collect::<Vec<_>>()
        );
    }
}

fn exec_of(e: &Event, argv0: &str) -> bool {
    matches!(&e.data, EventData::Exec(a) if a.argv.first().is_some_and(|a| a.ends_with(argv0)))
}

fn docker_action(e: &Event, id: &str, action: &str) -> bool {
    matches!(&e.data, EventData::Docker(d) if &*d.actor_id == id && d.action.starts_with(action))
}

/// Chapters in time order, without overlapping.
#[track_caller]
fn in_time_order(chapters: &[&Chapter]) {
    for w in chapters.windows(2) {
        assert!(
            w[0].end_ts_nanos < w[1].ts_nanos,
            "{} ({}–{}) overlaps {} ({}–{})",
            w[0].title,
            w[0].ts_nanos,
            w[0].end_ts_nanos,
            w[1].title,
            w[1].ts_nanos,
            w[1].end_ts_nanos
        );
    }
}

/// (mount point, source, fstype, per-mount options, root) of each line of
/// /proc/PID/mountinfo, in order.
fn mountinfo(pid: u32) -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let unescape = |s: &str| s.replace("\\040", " ");
    text.lines()
        .map(|l| {
            let (left, right) = l.split_once(" - ").unwrap();
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            (
                unescape(f[4]),
                unescape(r[1]),
                r[0].to_owned(),
                f[5].to_owned(),
                unescape(f[3]),
            )
        })
        .collect()
}

fn ns_inode(pid: u32, kind: &str) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    let s = link.to_string_lossy();
    s.split_once('[')
        .unwrap()
        .1
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

/// The container's init pid, as docker says.
fn init_pid(id: &str) -> u32 {
    docker(&["inspect", "-f", "{{.State.Pid}}", id])
        .trim()
        .parse()
        .unwrap()
}

/// The derived namespaces equal /proc/PID/ns/*, owned as Docker's defaults make them.
#[track_caller]
fn namespaces_match(st: &ContainerState, pid: u32) {
    assert_eq!(st.namespaces.len(), 8);
    for ns in &st.namespaces {
        assert_eq!(
            ns.inode,
            ns_inode(pid, &ns.ns_type),
            "{} namespace",
            ns.ns_type
        );
        let own = ["pid", "mnt", "net", "uts", "ipc"].contains(&ns.ns_type.as_str());
        assert_eq!(
            ns.owner,
            if own { "container" } else { "host" },
            "owner of {}",
            ns.ns_type
        );
    }
}

/// The derived mount table equals /proc/PID/mountinfo, line by line.
#[track_caller]
fn mounts_match(st: &ContainerState, pid: u32) {
    let derived: Vec<(String, String, String, String, String)> = st
        .mounts
        .iter()
        .map(|m| {
            (
                m.mount_point.clone(),
                m.source.clone(),
                m.fstype.clone(),
                m.options.clone(),
                m.root.clone(),
            )
        })
        .collect();
    let real = mountinfo(pid);
    assert_eq!(
        derived.len(),
        real.len(),
        "derived {derived:#?}\nreal {real:#?}"
    );
    for (d, r) in derived.iter().zip(&real) {
        assert_eq!(d, r, "(mount point, source, fstype, options, root)");
    }
}

#[test]
fn pull_and_run_of_nginx_tell_the_whole_birth() {
    setup();
    let image = nginx_image();
    // Pulled afresh, so that its layers are unpacked in the recording.
    let _ = docker_ok(&["rmi", "-f", &image]);
    let scratch = Scratch::new("story-nginx");
    let out = record(
        &scratch,
        "nginx",
        &[
            "--pull",
            &image,
            "--run",
            &image,
            "--keep",
            "--duration",
            "10s",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = derive(&scratch.session("nginx"));
    let row = r
        .story
        .input()
        .containers
        .iter()
        .find(|c| c.image == image)
        .expect("the --run container is in the session")
        .clone();
    let _kept = Container {
        id: row.container_id.clone(),
    };
    let c = container_index(&r.story, &row.container_id);
    let chapters: Vec<&Chapter> = r.story.chapters_of(c).collect();
    let ks = kinds(&chapters);
    let unpacks = ks.iter().filter(|k| **k == "unpack").count();
    assert!(unpacks >= 1, "{ks:?}");
    let mut expected = vec!["pull"];
    expected.extend(std::iter::repeat_n("unpack", unpacks));
    expected.extend([
        "rootfs",
        "network",
        "runtime",
        "cgroups",
        "namespaces",
        "mounts",
        "pivot_root",
        "exec",
        "running",
    ]);
    assert_eq!(ks, expected);
    in_time_order(&chapters);
    let id = row.container_id.as_str();
    key_events_inside(
        &r,
        c,
        ChapterKind::Pull,
        &|e| matches!(&e.data, EventData::Packet(p) if p.payload.starts_with(b"GET /v2/nginx/blobs/")),
    );
    key_events_inside(&r, c, ChapterKind::Unpack, &|e| exec_of(e, "docker-untar"));
    key_events_inside(
        &r,
        c,
        ChapterKind::Rootfs,
        &|e| matches!(&e.data, EventData::Mount(m) if &*m.fstype == "overlay" && m.target.contains("-init/")),
    );
    key_events_inside(
        &r,
        c,
        ChapterKind::Cgroups,
        &|e| matches!(&e.data, EventData::CgroupMkdir(m) if m.path.contains(id)),
    );
    key_events_inside(&r, c, ChapterKind::Namespaces, &|e| {
        e.kind() == Kind::Unshare && &*e.header.comm == "runc:[1:CHILD]"
    });
    key_events_inside(&r, c, ChapterKind::Mounts, &|e| {
        matches!(&e.data, EventData::Mount(m) if &*m.fstype == "proc")
            && e.header.cgroup_id == row.cgroup_id.unwrap_or(0)
    });
    key_events_inside(&r, c, ChapterKind::PivotRoot, &|e| {
        e.kind() == Kind::PivotRoot && &*e.header.comm == "runc:[2:INIT]"
    });
    key_events_inside(&r, c, ChapterKind::Exec, &|e| exec_of(e, "nginx"));
    key_events_inside(&r, c, ChapterKind::Running, &|e| {
        docker_action(e, id, "start")
    });
    // The unpacks are numbered as the image's layers.
    assert!(
        chapters
            .iter()
            .filter(|ch| ch.chapter == ChapterKind::Unpack)
            .all(|ch| ch.title.contains(" of "))
    );
    // The state at the end of the start is what the kernel says of the kept container.
    let running = chapters
        .iter()
        .find(|ch| ch.chapter == ChapterKind::Running)
        .unwrap();
    let st = r.story.state_at(c, running.ts_nanos).unwrap();
    let pid = init_pid(id);
    namespaces_match(&st, pid);
    mounts_match(&st, pid);
    assert!(
        st.lineage
            .iter()
            .any(|n| n.pid == pid && n.names.contains(&"runc:[2:INIT]".to_owned()))
    );
    assert!(
        st.overlay
            .lower
            .iter()
            .filter(|l| l.layer.is_some())
            .count()
            >= 3
    );
    // The birth's set-up work is the container's, far beyond what ran in its cgroup.
    let cg = row.cgroup_id.unwrap();
    let in_cgroup = r.events.iter().filter(|e| e.header.cgroup_id == cg).count();
    let attributed = r.notes.iter().filter(|n| n.container == Some(c)).count();
    assert!(
        attributed > 3 * in_cgroup,
        "{attributed} attributed, {in_cgroup} in its cgroup"
    );
}

#[test]
fn docker_run_of_busybox_from_the_cli() {
    setup();
    let image = busybox_image();
    let name = "beefine-story-run";
    let _ = docker_ok(&["rm", "-f", name]);
    let scratch = Scratch::new("story-run");
    let out = record(
        &scratch,
        "run",
        &[],
        &["docker", "run", "-d", "--name", name, &image, "sleep", "60"],
    );
    let _kept = Container {
        id: name.to_owned(),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = docker(&["inspect", "-f", "{{.Id}}", name])
        .trim()
        .to_owned();
    let r = derive(&scratch.session("run"));
    let c = container_index(&r.story, &id);
    let chapters: Vec<&Chapter> = r.story.chapters_of(c).collect();
    let ks = kinds(&chapters);
    let from = ks
        .iter()
        .position(|k| *k == "rootfs")
        .unwrap_or_else(|| panic!("{ks:?}"));
    assert_eq!(
        ks[from..],
        [
            "rootfs",
            "network",
            "runtime",
            "cgroups",
            "namespaces",
            "mounts",
            "pivot_root",
            "exec",
            "running"
        ]
    );
    in_time_order(&chapters);
    key_events_inside(&r, c, ChapterKind::Exec, &|e| exec_of(e, "sleep"));
    let running = chapters
        .iter()
        .find(|ch| ch.chapter == ChapterKind::Running)
        .unwrap();
    let st = r.story.state_at(c, running.ts_nanos).unwrap();
    let pid = init_pid(&id);
    namespaces_match(&st, pid);
    mounts_match(&st, pid);
}

#[test]
fn docker_exec_joins_a_running_container() {
    setup();
    let image = busybox_image();
    let running = Container::run(&[&image, "sleep", "60"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while docker(&["inspect", "-f", "{{.State.Running}}", &running.id]).trim() != "true" {
        assert!(
            std::time::Instant::now() < deadline,
            "the container did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let scratch = Scratch::new("story-exec");
    let out = record(
        &scratch,
        "exec",
        &[],
        &[
            "docker",
            "exec",
            &running.id,
            "sh",
            "-c",
            "echo hello from docker exec; cat /etc/hostname",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = derive(&scratch.session("exec"));
    let c = container_index(&r.story, &running.id);
    let chapters: Vec<&Chapter> = r.story.chapters_of(c).collect();
    assert_eq!(
        kinds(&chapters)[..2],
        ["running", "join"],
        "{:?}",
        kinds(&chapters)
    );
    in_time_order(&chapters);
    key_events_inside(&r, c, ChapterKind::Join, &|e| {
        e.kind() == Kind::Setns && e.header.comm.starts_with("runc:[")
    });
    key_events_inside(&r, c, ChapterKind::Join, &|e| {
        docker_action(e, &running.id, "exec_create")
    });
    // Each setns of the joining process names the container's namespace it joins.
    let pid = init_pid(&running.id);
    let joined: Vec<(&str, u64)> = r
        .events
        .iter()
        .zip(&r.notes)
        .filter(|(e, _)| e.kind() == Kind::Setns && e.header.comm.starts_with("runc:["))
        .map(|(_, n)| {
            let j = n.joins.as_ref().expect("a setns note");
            assert_eq!(j.container, Some(c), "{j:?}");
            (j.ns_type, j.inode)
        })
        .collect();
    assert!(joined.len() >= 5, "{joined:?}");
    for (t, inode) in &joined {
        assert_eq!(*inode, ns_inode(pid, t), "{t} namespace joined");
    }
    let join = chapters
        .iter()
        .find(|ch| ch.chapter == ChapterKind::Join)
        .unwrap();
    namespaces_match(&r.story.state_at(c, join.end_ts_nanos).unwrap(), pid);
}

#[test]
fn a_failed_start_ends_at_the_failed_exec() {
    setup();
    let image = busybox_image();
    let name = "beefine-story-fail";
    let _ = docker_ok(&["rm", "-f", name]);
    let scratch = Scratch::new("story-fail");
    let out = record(
        &scratch,
        "fail",
        &[],
        &[
            "docker",
            "run",
            "--rm",
            "--name",
            name,
            &image,
            "/no/such/program",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such file or directory"),
        "docker run reports the OCI runtime error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = derive(&scratch.session("fail"));
    assert_eq!(r.story.input().containers.len(), 1);
    let chapters: Vec<&Chapter> = r.story.chapters_of(0).collect();
    let ks = kinds(&chapters);
    assert!(!ks.contains(&"running"), "{ks:?}");
    let exec = chapters
        .iter()
        .find(|ch| ch.chapter == ChapterKind::Exec)
        .unwrap_or_else(|| panic!("{ks:?}"));
    assert!(
        exec.title.starts_with("exec failed: /no/such/program"),
        "{}",
        exec.title
    );
    assert!(ks.ends_with(&["pivot_root", "exec", "cleanup"]), "{ks:?}");
    in_time_order(&chapters);
    let id = r.story.input().containers[0].container_id.clone();
    key_events_inside(&r, 0, ChapterKind::Cleanup, &|e| {
        docker_action(e, &id, "destroy")
    });
    // The failing runc create is inside the failed exec.
    key_events_inside(&r, 0, ChapterKind::Exec, &|e| {
        matches!(&e.data, EventData::Exit(x) if x.code != 0) && r.events.iter().any(|x| {
            x.header.tgid == e.header.tgid
                && matches!(&x.data, EventData::Exec(a) if a.argv.iter().any(|s| &**s == "create"))
        })
    });
}
