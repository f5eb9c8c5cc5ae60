//! The comparison on the committed fixture sessions.

use std::path::PathBuf;

use super::*;
use crate::{Event, EventData};

fn fixture(name: &str) -> Session {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(name);
    Session::open(&path).unwrap()
}

#[test]
fn a_session_compared_with_itself_is_the_same() {
    for name in [
        "run-busybox.beefine",
        "pull-nginx.beefine",
        "exec-busybox.beefine",
    ] {
        let s = fixture(name);
        let a = digest(&s, &Pick::default()).unwrap();
        let b = digest(&s, &Pick::default()).unwrap();
        let d = compare(&a, &b);
        assert!(d.is_same(), "{name}: {:#?}", d.headlines);
        assert!(d.headlines.is_empty(), "{name}: {:?}", d.headlines);
        assert!(!a.calls.is_empty() && !a.chapters.is_empty(), "{name}");
        assert_eq!(d.chapters.len(), a.chapters.len());
    }
}

/// A copy of a fixture with its events passed through `event` (dropped when it returns
/// `None`) and its containers through `container`.
fn variant(
    name: &str,
    out: &std::path::Path,
    mut event: impl FnMut(Event) -> Option<Event>,
    mut container: impl FnMut(&mut crate::Container),
) -> Session {
    let src = fixture(name);
    let mut info = src.meta().info.clone();
    info.session_name.push_str("-variant");
    let mut w = crate::SessionWriter::create(out, &info, crate::WriterOptions::default()).unwrap();
    for mut c in src.containers().unwrap() {
        container(&mut c);
        w.upsert_container(&c).unwrap();
    }
    for i in src.images().unwrap() {
        w.upsert_image(&i).unwrap();
    }
    for l in src.layers().unwrap() {
        w.upsert_layer(&l).unwrap();
    }
    for p in src.processes().unwrap() {
        w.upsert_process(&p).unwrap();
    }
    if let Some(m) = src.meta_value(crate::story::HOST_MOUNTINFO_KEY).unwrap() {
        w.set_meta(crate::story::HOST_MOUNTINFO_KEY, &m).unwrap();
    }
    for e in src.all_events().unwrap() {
        if let Some(e) = event(e) {
            w.push(e).unwrap();
        }
    }
    w.finish(src.meta().end_ts_nanos).unwrap();
    Session::open(out).unwrap()
}

const NEWNET: u64 = 0x4000_0000;

#[test]
fn host_networking_is_told_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let base = fixture("run-busybox.beefine");
    // The host's network namespace, as the daemon's events show it.
    let mut host_net = 0;
    base.scan(&Query::all(), |e| {
        if e.header.comm == "dockerd" && e.header.ns.net_ns != 0 {
            host_net = e.header.ns.net_ns;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_ne!(host_net, 0);
    // What `--network host` changes: runc makes no network namespace, nobody joins one,
    // the daemon connects no bridge endpoint, the container's namespace is the host's.
    let host = variant(
        "run-busybox.beefine",
        &dir.path().join("host.beefine"),
        |mut e| {
            match &mut e.data {
                EventData::Unshare(a) => a.flags &= !NEWNET,
                EventData::Setns(a) if a.nstype as u32 as u64 == NEWNET => return None,
                EventData::Docker(d) if &*d.event_type == "network" => return None,
                _ => {}
            }
            Some(e)
        },
        |c| {
            for (t, inode) in &mut c.namespaces {
                if t == "net" {
                    *inode = u64::from(host_net);
                }
            }
            c.inspect_json = c
                .inspect_json
                .replace("\"NetworkMode\":\"default\"", "\"NetworkMode\":\"host\"");
        },
    );
    let a = digest(&base, &Pick::default()).unwrap();
    let b = digest(
        &host,
        &Pick {
            container: None,
            image: a.side.image.as_deref(),
        },
    )
    .unwrap();
    let d = compare(&a, &b);
    let said = d.headlines.join("\n");
    for words in [
        "no CLONE_NEWNET",
        "no setns into its net namespace",
        "no veth pair on a bridge",
        "net namespace: the host's (A: its own)",
    ] {
        assert!(said.contains(words), "{words:?} not in:\n{said}");
    }
    assert!(!said.contains("CLONE_NEWPID"), "{said}");
    assert_eq!(
        d.namespaces
            .iter()
            .map(|n| n.ns_type.as_str())
            .collect::<Vec<_>>(),
        ["net"]
    );
    // Only the changed calls differ: the unshare, the setns calls, the network events.
    let kinds: std::collections::BTreeSet<&str> =
        d.calls.only_a.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["docker", "setns", "unshare"]
    );
    assert_eq!(d.calls.only_b.len(), 1, "{:#?}", d.calls.only_b);
    assert!(d.calls.only_b[0].args.contains("CLONE_NEWPID"));
    assert!(!d.calls.only_b[0].args.contains("CLONE_NEWNET"));
    // The chapters pair up one to one, but for the network endpoint's.
    let unpaired: Vec<ChapterKind> = d
        .chapters
        .iter()
        .filter(|r| r.a.is_none() || r.b.is_none())
        .filter_map(|r| r.a.as_ref().or(r.b.as_ref()).map(|c| c.chapter))
        .collect();
    assert_eq!(unpaired, [ChapterKind::Network], "{said}");
    assert!(said.contains("no network chapter"), "{said}");
    assert!(
        said.contains("HostConfig.NetworkMode: default → host"),
        "{said}"
    );
    // And the JSON has it all.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["namespaces"][0]["type"], "net");
    assert_eq!(json["calls"]["only_b"][0]["kind"], "unshare");
}

#[test]
fn a_docker_exec_is_a_join_and_setns_calls() {
    let a = digest(&fixture("run-busybox.beefine"), &Pick::default()).unwrap();
    let b = digest(&fixture("exec-busybox.beefine"), &Pick::default()).unwrap();
    let d = compare(&a, &b);
    let said = d.headlines.join("\n");
    assert!(said.contains("a join chapter"), "{said}");
    assert!(said.contains("setns into its pid namespace"), "{said}");
    assert!(
        d.chapters
            .iter()
            .any(|r| r.a.is_none() && r.b.as_ref().is_some_and(|c| c.chapter == ChapterKind::Join)),
        "{:#?}",
        d.chapters
    );
    // The same image run twice: most calls are the same calls.
    assert!(
        d.calls.shared_distinct > 4 * d.calls.only_a_distinct,
        "{:?}",
        d.calls.shared_distinct
    );
}

#[test]
fn bounded_and_unharmed_by_odd_sessions() {
    // A session without containers or chapters compares to an empty diff, not an error.
    let dir = tempfile::tempdir().unwrap();
    let empty = variant(
        "run-busybox.beefine",
        &dir.path().join("none.beefine"),
        |_| None,
        |_| {},
    );
    let a = digest(&empty, &Pick::default()).unwrap();
    assert!(a.calls.is_empty());
    let b = digest(&fixture("run-busybox.beefine"), &Pick::default()).unwrap();
    let d = compare(&a, &b);
    assert!(d.chapters.iter().all(|r| r.a.is_none()));
    assert!(matches!(
        digest(
            &empty,
            &Pick {
                container: Some("nope"),
                image: None
            }
        ),
        Err(crate::Error::NoSuchContainer { .. })
    ));
}

#[test]
fn capabilities_and_seccomp_filters_are_told_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let base = fixture("run-busybox.beefine");
    // What `--cap-drop ALL --security-opt seccomp=unconfined` changes in runc's last steps.
    let varied = variant(
        "run-busybox.beefine",
        &dir.path().join("caps.beefine"),
        |mut e| {
            match &mut e.data {
                EventData::Capset(a) => a.effective = 1 << 10, // CAP_NET_BIND_SERVICE only
                EventData::Seccomp(a) if a.operation == 1 => return None,
                EventData::Prctl(a) if a.option == 22 => return None,
                _ => {}
            }
            Some(e)
        },
        |_| {},
    );
    let a = digest(&base, &Pick::default()).unwrap();
    let b = digest(&varied, &Pick::default()).unwrap();
    assert!(
        a.tally.seccomp_filters > 0 && a.tally.caps_effective.is_some(),
        "{:?}",
        a.tally
    );
    let said = compare(&a, &b).headlines.join("\n");
    assert!(said.contains("no seccomp filter"), "{said}");
    assert!(
        said.contains("1 effective capabilities (A: 14): without CAP_CHOWN"),
        "{said}"
    );
    assert!(
        !said.contains("with CAP_NET_BIND_SERVICE"),
        "it had it: {said}"
    );
    assert_eq!(
        cgroup_file("memory/docker/x/memory.limit_in_bytes"),
        Some("memory.limit_in_bytes")
    );
    assert_eq!(cgroup_file("/etc/resolv.conf"), None);
}
