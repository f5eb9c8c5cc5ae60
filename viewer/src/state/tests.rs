//! Filtering, stepping and time control on the sample session and the committed fixture.

use std::path::{Path, PathBuf};

use beefine_schema::{Kind, Session};

use super::filter::{ContainerChoice, Filter};
use super::session::LoadedSession;
use super::{Command, StepBy, Viewer};
use beefine_testdata::{self as testdata, WEB_ID};

fn sample() -> (tempfile::TempDir, LoadedSession) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.beefine");
    testdata::write_sample_session(&path).unwrap();
    let (loaded, _) = LoadedSession::load(&path).unwrap();
    (dir, loaded)
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions/format-v1.beefine")
}

fn comm_of(l: &LoadedSession, idx: u32) -> String {
    let e = l.store.get(idx).unwrap();
    l.store.comm(e.ctx).to_owned()
}

/// Every event, expected noise too.
fn everything() -> Filter {
    Filter {
        show_expected: true,
        ..Filter::default()
    }
}

fn kinds_of(v: &Viewer) -> Vec<Kind> {
    v.filtered
        .rows
        .iter()
        .map(|&i| v.session.store.kind_of(i))
        .collect()
}

#[test]
fn the_fixture_loads_completely() {
    let path = fixture();
    let session = Session::open(&path).unwrap();
    let counts = session.kind_counts().unwrap();
    let (l, _) = LoadedSession::load(&path).unwrap();
    assert!(l.damage.is_empty(), "{:?}", l.damage);
    for (kind, n) in counts {
        assert_eq!(l.store.kind_count(kind), n, "{kind}");
    }
    let v = Viewer::new(l, everything());
    assert_eq!(v.filtered.rows.len(), v.session.store.len());
    let lane_total: usize = v.filtered.lanes.iter().map(Vec::len).sum();
    assert_eq!(lane_total, v.filtered.rows.len());
    // The fixture's container has its events attributed.
    let c = v
        .session
        .containers
        .by_cgroup(beefine_testdata::synth::CONTAINER_CGROUP_ID);
    assert!(c.is_some());
    assert!(
        v.session
            .store
            .container_column()
            .iter()
            .any(|&x| usize::from(x) == c.unwrap())
    );
}

#[test]
fn filters_combine_and_agree_with_a_plain_scan() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, everything());
    let all = v.filtered.rows.len();
    assert_eq!(all, v.session.store.len());

    let mut f = everything();
    f.only_kinds(&[Kind::Mount]);
    v.set_filter(f.clone());
    assert!(kinds_of(&v).iter().all(|&k| k == Kind::Mount));
    assert_eq!(
        v.filtered.rows.len() as u64,
        v.session.store.kind_count(Kind::Mount)
    );
    assert_eq!(
        v.filtered.lanes[super::filter::lane_of(beefine_schema::Family::Mount)].len(),
        6
    );

    f.failed_only = true;
    v.set_filter(f.clone());
    assert_eq!(v.filtered.rows.len(), 1, "one mount failed (sysfs, ENOENT)");
    assert_eq!(v.filtered.failed, 1);

    f.failed_only = false;
    f.container = ContainerChoice::Container(WEB_ID.into());
    v.set_filter(f.clone());
    // Five are runc's, inside; the overlay mount is dockerd's on the host, for the
    // container: the story attributes it to the container (its overlay directory).
    assert_eq!(v.filtered.rows.len(), 6);
    assert!(
        v.filtered
            .rows
            .iter()
            .any(|&i| comm_of(&v.session, i) == "dockerd")
    );
    f.container = ContainerChoice::Host;
    v.set_filter(f.clone());
    assert_eq!(v.filtered.rows.len(), 0);

    let mut f = Filter {
        process: "nginx".into(),
        ..Filter::default()
    };
    v.set_filter(f.clone());
    assert!(!v.filtered.rows.is_empty());
    assert!(
        v.filtered
            .rows
            .iter()
            .all(|&i| comm_of(&v.session, i) == "nginx")
    );
    f.process = "411".into();
    v.set_filter(f.clone());
    assert!(
        v.filtered
            .rows
            .iter()
            .all(|&i| v.session.store.tgid_of(i) == 411)
    );
    assert_eq!(v.filtered.rows.len(), 5);

    let mut f = Filter::default();
    f.hidden_components.insert("dockerd".into());
    f.hidden_components.insert("daemon & recorder".into());
    v.set_filter(f);
    assert!(
        v.filtered
            .rows
            .iter()
            .all(|&i| comm_of(&v.session, i) != "dockerd")
    );
    assert!(!kinds_of(&v).contains(&Kind::Docker));
    assert!(kinds_of(&v).contains(&Kind::Unshare));

    let f = Filter {
        failed_only: true,
        ..Filter::default()
    };
    v.set_filter(f);
    assert!(
        v.filtered
            .rows
            .iter()
            .all(|&i| v.session.store.result_of(i).unwrap() < 0)
    );
    let failures: Vec<Kind> = kinds_of(&v);
    assert_eq!(
        failures,
        [Kind::Mount, Kind::Chroot, Kind::Openat],
        "sysfs mount, chroot, missing.conf: the non-blocking connect is expected noise"
    );
    v.apply(Command::ToggleNoise);
    assert_eq!(v.filtered.rows.len(), 4, "with the noise: the connect too");

    let (lo, hi) = v.session.time_span();
    let f = Filter {
        time_range: Some((lo + 300_000_000, lo + 400_000_000)),
        ..Filter::default()
    };
    v.set_filter(f);
    assert!(v.filtered.rows.iter().all(|&i| {
        let t = v.session.store.ts_of(i);
        (lo + 300_000_000..=lo + 400_000_000).contains(&t)
    }));
    assert!(!v.filtered.rows.is_empty() && v.filtered.rows.len() < all);
    assert!(hi > lo);
}

#[test]
fn free_text_finds_decoded_fields() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, Filter::default());
    let find = |v: &mut Viewer, text: &str| -> Vec<Kind> {
        v.set_filter(Filter {
            text: text.into(),
            ..everything()
        });
        kinds_of(v)
    };
    assert_eq!(find(&mut v, "missing.conf"), [Kind::Openat]);
    let enoent = find(&mut v, "enoent");
    assert_eq!(enoent, [Kind::Mount, Kind::Openat], "errno names, any case");
    assert_eq!(
        find(&mut v, "CLONE_NEWPID"),
        [Kind::Unshare, Kind::Setns],
        "flag names: runc's unshare and the exec joining the pid namespace"
    );
    assert_eq!(find(&mut v, "MS_NOEXEC"), [Kind::Mount, Kind::Mount]);
    assert_eq!(find(&mut v, "SYN_SENT"), [Kind::TcpState]);
    assert!(find(&mut v, "127.0.0.1:5000").contains(&Kind::Connect));
    assert!(find(&mut v, "daemon off").contains(&Kind::Exec));
    assert_eq!(find(&mut v, "PR_SET_NO_NEW_PRIVS"), [Kind::Prctl]);
    // A process name and a container name match all their events.
    let runc = find(&mut v, "runc");
    assert!(runc.len() >= 8 && runc.contains(&Kind::Clone), "{runc:?}");
    let web = find(&mut v, "web");
    assert!(web.contains(&Kind::Mount) && web.contains(&Kind::Docker));
    assert!(find(&mut v, "no-such-thing-anywhere").is_empty());
}

#[test]
fn stepping_by_kind_process_and_container() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, Filter::default());
    let store = &v.session.store;
    let setns: Vec<u32> = (0..store.len() as u32)
        .filter(|&i| store.kind_of(i) == Kind::Setns)
        .collect();
    assert_eq!(setns.len(), 3);
    v.apply(Command::Select(setns[0]));
    assert_eq!(v.time.cursor(), v.session.store.ts_of(setns[0]));
    v.apply(Command::Step {
        by: StepBy::Kind,
        forward: true,
    });
    assert_eq!(v.selected, Some(setns[1]));
    v.apply(Command::Step {
        by: StepBy::Kind,
        forward: true,
    });
    assert_eq!(v.selected, Some(setns[2]));
    v.apply(Command::Step {
        by: StepBy::Kind,
        forward: true,
    });
    assert_eq!(v.selected, Some(setns[2]), "no later setns: stay");
    v.apply(Command::Step {
        by: StepBy::Kind,
        forward: false,
    });
    assert_eq!(v.selected, Some(setns[1]));
    assert_eq!(v.time.cursor(), v.session.store.ts_of(setns[1]));

    // Same process: every step lands on runc:[2:INIT]/nginx (tgid 410).
    for _ in 0..5 {
        v.apply(Command::Step {
            by: StepBy::Process,
            forward: true,
        });
        assert_eq!(v.session.store.tgid_of(v.selected.unwrap()), 410);
    }
    // Same container from a host event stays on the host.
    let host_event = (0..v.session.store.len() as u32)
        .find(|&i| comm_of(&v.session, i) == "dockerd")
        .unwrap();
    v.apply(Command::Select(host_event));
    for _ in 0..4 {
        v.apply(Command::Step {
            by: StepBy::Container,
            forward: true,
        });
        assert_eq!(v.session.store.container_of(v.selected.unwrap()), None);
    }
    // Any: the next shown event.
    let before = v.selected.unwrap();
    v.apply(Command::Step {
        by: StepBy::Any,
        forward: true,
    });
    assert_eq!(v.selected, Some(before + 1));
}

#[test]
fn stepping_follows_the_filter() {
    let (_dir, l) = sample();
    let mut f = Filter::default();
    f.only_kinds(&[Kind::Mount, Kind::Setns]);
    let mut v = Viewer::new(l, f);
    v.apply(Command::SetCursor(0));
    assert!(v.selected.is_none(), "nothing shown before the first mount");
    v.apply(Command::Step {
        by: StepBy::Any,
        forward: true,
    });
    let first = v.selected.unwrap();
    assert_eq!(v.session.store.kind_of(first), Kind::Setns);
    v.apply(Command::Step {
        by: StepBy::Any,
        forward: true,
    });
    assert_eq!(v.session.store.kind_of(v.selected.unwrap()), Kind::Mount);
    let mount = v.selected;
    v.apply(Command::Step {
        by: StepBy::Kind,
        forward: false,
    });
    assert_eq!(v.selected, mount, "no earlier mount: the selection stays");
}

#[test]
fn scrubbing_selects_the_event_at_the_cursor() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, Filter::default());
    let (lo, _) = v.session.time_span();
    let t = lo + 355_500_000; // between the first two mounts of runc
    v.apply(Command::SetCursor(t));
    let sel = v.selected.unwrap();
    assert_eq!(v.session.store.kind_of(sel), Kind::Mount);
    assert!(v.session.store.ts_of(sel) <= t);
    assert!(v.session.store.ts_of(sel + 1) > t);
    assert!(v.scroll_to_selection);
    assert_eq!(
        v.cursor_row(),
        v.filtered
            .row_of(sel)
            .map(|r| v.row_of_filtered[r] as usize)
    );
    // The filter changes: the selection stays when still shown.
    let mut f = Filter::default();
    f.only_kinds(&[Kind::Mount]);
    v.apply(Command::SetFilter(f));
    assert_eq!(v.selected, Some(sel));
    let mut f = Filter::default();
    f.only_kinds(&[Kind::Exec]);
    v.apply(Command::SetFilter(f));
    assert_eq!(v.session.store.kind_of(v.selected.unwrap()), Kind::Exec);
    assert!(v.session.store.ts_of(v.selected.unwrap()) <= t);
}

#[test]
fn the_container_panel_follows_the_selection() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, Filter::default());
    let (lo, _) = v.session.time_span();
    v.apply(Command::SetCursor(lo + 700_000_000));
    let c = v.focus_container().unwrap();
    assert_eq!(v.session.containers.get(c).unwrap().container_id, WEB_ID);
    let alive: Vec<u32> = v
        .session
        .processes_alive(c, v.time.cursor())
        .iter()
        .map(|p| p.pid)
        .collect();
    assert_eq!(alive, [410, 411]);
    let sample = v.session.sample_at(c, v.time.cursor()).unwrap();
    assert_eq!(sample.ts_nanos, lo + 620_000_000);
    // Mount-table changes inside: five mounts (one failed), the new mount API's bind of
    // resolv.conf and tmpfs on /dev/shm, pivot_root, umount, chroot; the overlay mount
    // dockerd made on the host is not one of them.
    let kinds: Vec<Kind> = v.session.container_mounts[c]
        .iter()
        .map(|&i| v.session.store.kind_of(i))
        .collect();
    assert_eq!(
        kinds,
        [
            Kind::Mount,
            Kind::Mount,
            Kind::Mount,
            Kind::Mount,
            Kind::Mount,
            Kind::OpenTree,
            Kind::MoveMount,
            Kind::Fsopen,
            Kind::Fsconfig,
            Kind::Fsconfig,
            Kind::Fsmount,
            Kind::MoveMount,
            Kind::Fspick,
            Kind::MountSetattr,
            Kind::PivotRoot,
            Kind::Umount,
            Kind::Chroot
        ]
    );
}

#[test]
fn live_events_are_appended_and_followed() {
    let (_dir, l) = sample();
    let n = l.store.len();
    let mut v = Viewer::new(l, everything());
    let (_, end) = v.session.time_span();
    v.apply(Command::SetFollow(true));
    assert_eq!(v.time.cursor(), end);
    let mut events = testdata::sample_events();
    for (i, e) in events.iter_mut().enumerate() {
        e.header.ts_nanos = end + 1_000 * (i as u64 + 1);
    }
    let added = v.add_events(events.clone());
    assert_eq!(added, events.len());
    assert_eq!(v.session.store.len(), n + events.len());
    assert_eq!(v.filtered.rows.len(), n + events.len());
    assert_eq!(v.time.cursor(), events.last().unwrap().header.ts_nanos);
    assert_eq!(v.selected, Some((n + events.len() - 1) as u32));
    // Nothing to add changes nothing (the tail hands each chunk over once, so events that
    // look alike are distinct and kept: `store`'s tests).
    assert_eq!(v.add_events(Vec::new()), 0);
    // Not following: the cursor stays where it is.
    v.apply(Command::SetCursor(end));
    let mut more = testdata::sample_events();
    for e in &mut more {
        e.header.ts_nanos += 10_000_000_000;
    }
    v.add_events(more);
    assert_eq!(v.time.cursor(), end);
    assert!(!v.time.follow);
}

#[test]
fn custom_records_are_decoded_with_their_btf() {
    let (_dir, l) = sample();
    let idx = (0..l.store.len() as u32)
        .find(|&i| l.store.kind_of(i) == Kind::Custom)
        .unwrap();
    assert_eq!(
        super::describe::summary(&l, idx),
        "http_latency  pid=411 latency_ns=1234567 comm=nginx"
    );
    let fields = super::describe::details(&l, idx);
    let get = |label: &str| {
        fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.clone())
    };
    assert_eq!(get("probe").as_deref(), Some("http_latency (id 7)"));
    assert_eq!(get("latency_ns").as_deref(), Some("1234567"));
    assert_eq!(get("comm").as_deref(), Some("nginx"));
    // The text filter sees the decoded fields.
    let mut v = Viewer::new(l, Filter::default());
    v.set_filter(Filter {
        text: "latency_ns=1234567".into(),
        ..Filter::default()
    });
    assert_eq!(kinds_of(&v), [Kind::Custom]);
}

#[test]
fn filtering_and_stepping_the_committed_fixture() {
    let (l, _) = LoadedSession::load(&fixture()).unwrap();
    let setns = l.store.kind_count(Kind::Setns) as usize;
    let mounts = l.store.kind_count(Kind::Mount) as usize;
    let mut v = Viewer::new(l, Filter::default());
    // Stepping by kind from the first setns visits every setns once, in time order.
    let first = (0..v.session.store.len() as u32)
        .find(|&i| v.session.store.kind_of(i) == Kind::Setns)
        .unwrap();
    v.apply(Command::Select(first));
    let mut seen = vec![first];
    loop {
        v.apply(Command::Step {
            by: StepBy::Kind,
            forward: true,
        });
        let s = v.selected.unwrap();
        if s == *seen.last().unwrap() {
            break;
        }
        assert_eq!(v.session.store.kind_of(s), Kind::Setns);
        assert!(v.session.store.ts_of(s) >= v.session.store.ts_of(*seen.last().unwrap()));
        seen.push(s);
    }
    assert_eq!(seen.len(), setns);
    // Kinds and container combine: the fixture's container holds part of the mounts.
    let container = v.session.containers.containers()[0].container_id.clone();
    let mut f = Filter::default();
    f.only_kinds(&[Kind::Mount]);
    v.set_filter(f.clone());
    assert_eq!(v.filtered.rows.len(), mounts);
    f.container = ContainerChoice::Container(container);
    v.set_filter(f.clone());
    let inside = v.filtered.rows.len();
    assert!(0 < inside && inside < mounts, "{inside} of {mounts}");
    // Everything shown is the container's: in its cgroup, or set-up work the story
    // attributes to it; everything in its cgroup is shown.
    let c = v
        .session
        .containers
        .by_cgroup(beefine_testdata::synth::CONTAINER_CGROUP_ID);
    assert!(
        v.filtered
            .rows
            .iter()
            .all(|&i| v.session.store.container_of(i) == c)
    );
    let in_cgroup = (0..v.session.store.len() as u32)
        .filter(|&i| v.session.store.kind_of(i) == Kind::Mount)
        .filter(|&i| {
            v.session.store.get(i).unwrap().ctx.cgroup_id
                == beefine_testdata::synth::CONTAINER_CGROUP_ID
        })
        .count();
    assert!(
        inside >= in_cgroup,
        "{inside} shown, {in_cgroup} in the cgroup"
    );
    f.container = ContainerChoice::Host;
    v.set_filter(f);
    assert_eq!(v.filtered.rows.len(), mounts - inside);
    // Time control over the fixture: zoom in around the cursor keeps it in view.
    v.apply(Command::SelectEdge { last: false });
    for _ in 0..20 {
        v.apply(Command::ZoomAtCursor(0.5));
    }
    let f = v.time.fraction_of(v.time.cursor());
    assert!((0.0..=1.0).contains(&f), "{f}");
    v.apply(Command::FitView);
    let (lo, hi) = v.session.time_span();
    assert!(v.time.view().0 <= lo && v.time.view().1 >= hi);
}

#[test]
fn mounts_through_a_descriptor_name_the_opened_path() {
    let (_dir, l) = sample();
    let idx = (0..l.store.len() as u32)
        .find(|&i| {
            matches!(l.store.data_of(i), beefine_schema::EventData::Mount(m)
                if l.store.str(m.fstype) == "proc")
        })
        .unwrap();
    let merged_proc = format!("{}/proc", testdata::MERGED_DIR);
    assert_eq!(
        super::describe::summary(&l, idx),
        format!("proc proc on {merged_proc} (MS_NOSUID|MS_NODEV|MS_NOEXEC)")
    );
    let target = super::describe::details(&l, idx)
        .into_iter()
        .find(|f| f.label == "target")
        .unwrap();
    assert_eq!(target.value, "/proc/self/fd/6");
    let note = target.note.unwrap();
    assert!(
        note.starts_with(&format!("fd 6: {merged_proc}, opened at 0.361000 s")),
        "{note}"
    );
    assert!(note.contains("root filesystem of container web"), "{note}");
}

#[test]
fn container_root_filesystems_are_abbreviated_in_summaries() {
    let (_dir, l) = sample();
    let merged = testdata::MERGED_DIR;
    assert_eq!(
        l.overlay
            .abbreviate(&format!("proc proc on {merged}/proc (MS_NOSUID)")),
        "proc proc on web:/proc (MS_NOSUID)"
    );
    assert_eq!(
        l.overlay.abbreviate(&format!("bind {merged} on {merged}")),
        "bind web:/ on web:/"
    );
    assert_eq!(l.overlay.abbreviate("/etc/passwd"), "/etc/passwd");
}

/// A session recorded by beefine-record, committed in fixtures/sessions.
fn recorded(name: &str) -> LoadedSession {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(format!("{name}.beefine"));
    let (l, _) = LoadedSession::load(&path)
        .unwrap_or_else(|e| panic!("the recorded fixture {name} opens: {e}"));
    assert!(l.damage.is_empty(), "{name}: {:?}", l.damage);
    l
}

#[test]
fn recorded_fixtures_load_completely() {
    for name in ["pull-nginx", "run-busybox", "exec-busybox"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/sessions")
            .join(format!("{name}.beefine"));
        let counts = Session::open(&path).unwrap().kind_counts().unwrap();
        let l = recorded(name);
        for (kind, n) in counts {
            assert_eq!(l.store.kind_count(kind), n, "{name}: {kind}");
        }
        assert_eq!(l.containers.len(), 1, "{name}");
        // The container's own events are attributed to it (its cgroup).
        let inside = l
            .store
            .container_column()
            .iter()
            .filter(|&&c| c == 0)
            .count();
        assert!(inside > 100, "{name}: {inside} events in the container");
    }
}

#[test]
fn pull_nginx_paths_are_placed_in_their_image_layers() {
    let l = recorded("pull-nginx");
    // Docker's unpack helper pivot_roots into each layer's directory and writes the files:
    // their paths belong to the image's layers.
    let mut layers_named = std::collections::BTreeSet::new();
    for i in 0..l.store.len() as u32 {
        if !matches!(l.store.kind_of(i), Kind::Openat | Kind::Mkdirat) {
            continue;
        }
        if let Some(note) = super::describe::kind_fields(&l, i)
            .into_iter()
            .find(|f| f.label == "path")
            .and_then(|f| f.note)
            && note.starts_with("layer ")
            && note.contains("on the host /var/lib/docker/overlay2/")
        {
            layers_named.insert(note.split(" of ").next().unwrap().to_owned());
        }
    }
    assert!(
        layers_named.len() >= 3,
        "files unpacked into at least three layers: {layers_named:?}"
    );
    // runc mounts the container's filesystems through /proc/self/fd/N: the table names
    // the directory that descriptor was opened on, inside the container.
    let name = l.container_label(0);
    let mounts: Vec<String> = l.container_mounts[0]
        .iter()
        .map(|&i| l.overlay.abbreviate(&super::describe::summary(&l, i)))
        .collect();
    for fs in ["proc", "sysfs", "devpts"] {
        assert!(
            mounts
                .iter()
                .any(|m| m.starts_with(fs) && m.contains(&format!(" on {name}:/"))),
            "{fs} mounted in the container: {mounts:#?}"
        );
    }
}

#[test]
fn exec_busybox_steps_through_runc_joining_the_namespaces() {
    let l = recorded("exec-busybox");
    let mut v = Viewer::new(l, Filter::default());
    let store = &v.session.store;
    // runc's child for `docker exec` joins the running container's namespaces one by one.
    let child = (0..store.len() as u32)
        .find(|&i| {
            store.kind_of(i) == Kind::Setns
                && store.comm(store.get(i).unwrap().ctx) == "runc:[1:CHILD]"
        })
        .unwrap();
    let tgid = store.tgid_of(child);
    v.apply(Command::Select(child));
    let mut joined = Vec::new();
    loop {
        let sel = v.selected.unwrap();
        let e = v.session.store.get(sel).unwrap();
        if e.kind != Kind::Setns {
            break;
        }
        assert_eq!(e.ctx.tgid, tgid);
        let f = super::describe::details(&v.session, sel);
        joined.push(f.into_iter().find(|f| f.label == "nstype").unwrap().value);
        v.apply(Command::Step {
            by: StepBy::Process,
            forward: true,
        });
    }
    let joined = joined.join(" ");
    for ns in [
        "CLONE_NEWIPC",
        "CLONE_NEWUTS",
        "CLONE_NEWNET",
        "CLONE_NEWPID",
        "CLONE_NEWNS",
    ] {
        assert!(joined.contains(ns), "{ns} in {joined}");
    }
    // When the exec'd shell runs, the container's panel shows it beside the init process.
    let sh = (0..v.session.store.len() as u32)
        .find(|&i| {
            matches!(v.session.store.data_of(i), beefine_schema::EventData::Exec(e)
                if v.session.store.str(e.filename) == "/bin/sh")
        })
        .unwrap();
    v.apply(Command::Select(sh));
    let c = v.focus_container().unwrap();
    let alive: Vec<String> = v
        .session
        .processes_alive(c, v.time.cursor())
        .iter()
        .map(|p| p.comm.clone())
        .collect();
    assert!(alive.iter().any(|c| c == "sleep"), "{alive:?}");
    assert!(alive.len() >= 2, "{alive:?}");
}

#[test]
fn sorting_by_a_column_keeps_the_cursor_row() {
    let (_dir, l) = sample();
    let mut v = Viewer::new(l, everything());
    let sel = v.selected.unwrap();
    for column in [
        super::SortColumn::Kind,
        super::SortColumn::Process,
        super::SortColumn::Time,
    ] {
        for _ in 0..2 {
            v.apply(Command::SortBy(column));
            assert!(v.scroll_to_selection);
            let row = v.cursor_row().unwrap();
            assert_eq!(
                v.rows[row],
                super::story::ViewRow::Event(sel),
                "{column:?} {:?}",
                v.sort
            );
            v.scroll_to_selection = false;
        }
    }
    // By kind: the rows are grouped by kind name, each group in time order.
    v.apply(Command::SortBy(super::SortColumn::Kind));
    let kinds: Vec<&str> = v
        .rows
        .iter()
        .map(|r| match r {
            super::story::ViewRow::Event(i) => v.session.store.kind_of(*i).name(),
            super::story::ViewRow::Run { .. } => "",
        })
        .collect();
    assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    // The timeline names what is under the pointer.
    let (lo, hi) = v.session.time_span();
    let lane = super::filter::lane_of(beefine_schema::Family::Mount);
    let (some, n) = v.lane_events(lane, lo, hi + 1, 3);
    let mounts = v
        .filtered
        .rows
        .iter()
        .filter(|&&i| v.session.store.kind_of(i).family() == beefine_schema::Family::Mount)
        .count();
    assert_eq!(n, mounts);
    assert_eq!(some.len(), 3);
    assert!(
        some.iter()
            .all(|&i| v.session.store.kind_of(i).family() == beefine_schema::Family::Mount)
    );
}
