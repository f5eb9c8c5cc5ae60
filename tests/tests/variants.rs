//! Isolation variants recorded for real: the busybox fixture run with Docker's defaults,
//! again, with `--network host` and with `--pid host`, each compared with the first by
//! `beefine_schema::compare`. The second default differs in nothing that isolates; the
//! host network makes no network namespace, joins none and connects no bridge endpoint;
//! the host pid namespace makes no pid namespace.

mod support;

use beefine_schema::Session;
use beefine_schema::compare::{self, Diff, Digest, Pick};
use beefine_tests::{
    busybox_image, docker_ok, require_docker, require_image, require_registry, require_root,
};
use support::{Scratch, record};

/// Records the fixture image with `options` and reduces the session to its digest.
#[track_caller]
fn variant(scratch: &Scratch, name: &str, options: &[&str]) -> Digest {
    let image = busybox_image();
    let mut extra = vec!["--run", image.as_str()];
    extra.extend_from_slice(options);
    let out = record(
        scratch,
        name,
        &extra,
        &["sh", "-c", "echo hello from a variant"],
    );
    assert!(out.status.success(), "recording {name} failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello from a variant"));
    let path = scratch.session(name);
    let session =
        Session::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let d = compare::digest(&session, &Pick::default()).unwrap();
    assert!(
        d.side.container_id.is_some(),
        "{name}: the --run container is in the session"
    );
    assert!(
        !d.chapters.is_empty() && d.state.is_some(),
        "{name}: its story"
    );
    d
}

fn said(d: &Diff) -> String {
    d.headlines.join("\n")
}

#[test]
fn network_host_and_pid_host_against_the_default() {
    require_root();
    require_docker();
    require_registry();
    require_image(&busybox_image());
    assert!(
        docker_ok(&["pull", "-q", &busybox_image()]),
        "pulling the fixture image"
    );
    let scratch = Scratch::new("variants");
    let default = variant(&scratch, "default", &[]);
    let again = variant(&scratch, "default-again", &[]);
    let net = variant(&scratch, "network-host", &["--network", "host"]);
    let pid = variant(&scratch, "pid-host", &["--pid", "host"]);

    // The same image run twice: nothing that isolates differs, and few calls do.
    let same = compare::compare(&default, &again);
    let s = said(&same);
    for word in [
        "CLONE_NEW",
        "namespace",
        "setns",
        "veth",
        "HostConfig",
        "capabilities",
        "seccomp",
    ] {
        assert!(
            !s.contains(word),
            "two default runs differ in {word:?}:\n{s}"
        );
    }
    assert!(
        same.namespaces.is_empty() && same.settings.is_empty() && same.mounts.is_empty(),
        "{same:#?}"
    );
    let c = &same.calls;
    assert!(
        (c.only_a_distinct + c.only_b_distinct) * 20 < c.shared_distinct,
        "two default runs: {} + {} distinct calls of one only, {} of both",
        c.only_a_distinct,
        c.only_b_distinct,
        c.shared_distinct
    );
    assert!(
        same.chapters.iter().all(|r| r.a.is_some() && r.b.is_some()),
        "{:#?}",
        same.chapters
    );

    // --network host: no network namespace made, none joined, no bridge endpoint.
    let d = compare::compare(&default, &net);
    let s = said(&d);
    for words in [
        "no CLONE_NEWNET",
        "no setns into its net namespace",
        "no veth pair on a bridge",
        "net namespace: the host's (A: its own)",
        "HostConfig.NetworkMode: default → host",
    ] {
        assert!(
            s.contains(words),
            "{words:?} not said of --network host:\n{s}"
        );
    }
    assert!(!s.contains("CLONE_NEWPID"), "{s}");
    assert_eq!(
        d.namespaces
            .iter()
            .map(|n| n.ns_type.as_str())
            .collect::<Vec<_>>(),
        ["net"]
    );
    assert!(
        d.calls
            .only_b
            .iter()
            .any(|c| c.kind.name() == "unshare" && !c.args.contains("CLONE_NEWNET"))
    );

    // --pid host: no pid namespace made.
    let d = compare::compare(&default, &pid);
    let s = said(&d);
    for words in [
        "no CLONE_NEWPID",
        "pid namespace: the host's (A: its own)",
        "HostConfig.PidMode: not set → host",
    ] {
        assert!(s.contains(words), "{words:?} not said of --pid host:\n{s}");
    }
    assert!(!s.contains("CLONE_NEWNET") && !s.contains("veth"), "{s}");
    assert_eq!(
        d.namespaces
            .iter()
            .map(|n| n.ns_type.as_str())
            .collect::<Vec<_>>(),
        ["pid"]
    );
}
