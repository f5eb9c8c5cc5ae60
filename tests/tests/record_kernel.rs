//! Kernel capture end to end: real probes, real dockerd, real registry.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use beefine_schema::names::CLONE_NEW_MASK;
use beefine_schema::{Component, EventData, Kind, Status};
use beefine_tests::{busybox_image, require_docker, require_image, require_registry, require_root};
use support::{Scratch, events, leftovers, record, spawn_recorder};

const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWUTS: u64 = 0x0400_0000;
const CLONE_NEWIPC: u64 = 0x0800_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;

#[test]
fn records_a_container_start() {
    require_root();
    require_docker();
    require_registry();
    let image = busybox_image();
    require_image(&image);
    let scratch = Scratch::new("kernel-run");
    let cidfile = scratch.dir.join("cid");
    let cid_arg = cidfile.display().to_string();
    let out = record(
        &scratch,
        "run",
        &[],
        &[
            "docker",
            "run",
            "--rm",
            "--cidfile",
            &cid_arg,
            &image,
            "sh",
            "-c",
            "echo hi",
        ],
    );
    assert!(
        out.status.success(),
        "recording failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hi",
        "the command's output passes through"
    );
    let container_id = std::fs::read_to_string(&cidfile).expect("docker wrote the container id");
    let path = scratch.session("run");
    let (session, events) = events(&path);
    assert_eq!(session.status(), Status::Complete);
    assert_eq!(session.lost_events().unwrap(), 0, "no events lost");
    let left = leftovers();
    assert!(
        left.is_empty(),
        "still loaded after the recorder exited: {left:?}"
    );

    // runc ran.
    let runc_exec = events
        .iter()
        .any(|e| matches!(&e.data, EventData::Exec(x) if x.filename.ends_with("/runc")));
    assert!(runc_exec, "runc's exec");

    let sh = check_namespaces(&events);
    check_rootfs(&events, sh);
    check_cgroup_and_attribution(&session, &events, sh, &container_id);
    // The file's owner-only mode (sessions hold command lines).
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    // Flag names decode as the issue lists them.
    assert_eq!(
        beefine_schema::names::namespace_names(ns_call_flags(ns_call(&events)) & CLONE_NEW_MASK),
        ["mnt", "uts", "ipc", "pid", "net"]
    );
}

/// The call that made the container's namespaces (all five flags at once).
fn ns_call(events: &[beefine_schema::Event]) -> &beefine_schema::Event {
    let wanted = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC;
    events
        .iter()
        .find(|e| ns_call_flags(e) & wanted == wanted && e.result == Some(0))
        .expect("a clone/unshare creating mnt, pid, net, uts and ipc namespaces")
}

/// The namespaces were created by runc, and the container's sh runs in them; returns sh's
/// exec.
fn check_namespaces(events: &[beefine_schema::Event]) -> &beefine_schema::Event {
    let ns_call = ns_call(events);
    assert_eq!(ns_call.kind(), Kind::Unshare);
    assert!(
        ns_call.header.comm.starts_with("runc"),
        "{}",
        ns_call.header.comm
    );

    // The container's sh: its exec, in new namespaces.
    let sh = events
        .iter()
        .find(|e| matches!(&e.data, EventData::Exec(x) if x.argv.iter().map(|a| &**a).eq(["sh", "-c", "echo hi"])))
        .expect("the exec of sh inside the container");
    let host_ns = events
        .iter()
        .find(|e| e.header.comm.as_ref() == "dockerd")
        .map(|e| e.header.ns)
        .expect("dockerd's events");
    assert_ne!(
        sh.header.ns.pid_ns, host_ns.pid_ns,
        "sh runs in a new pid namespace"
    );
    assert_ne!(
        sh.header.ns.mnt_ns, host_ns.mnt_ns,
        "sh runs in a new mount namespace"
    );
    assert_ne!(
        sh.header.ns.net_ns, host_ns.net_ns,
        "sh runs in a new network namespace"
    );
    // The namespaces sh has are the ones the unshare made.
    assert_eq!(ns_call.header.ns.mnt_ns, sh.header.ns.mnt_ns);
    assert_eq!(ns_call.header.ns.net_ns, sh.header.ns.net_ns);
    sh
}

/// The overlay mount of the rootfs, pivot_root into it, and a setns from outside.
fn check_rootfs(events: &[beefine_schema::Event], sh: &beefine_schema::Event) {
    let overlay = events.iter().find(|e| {
        matches!(&e.data, EventData::Mount(m)
            if &*m.fstype == "overlay" && m.data.contains("lowerdir=") && m.target.ends_with("/merged"))
    });
    assert!(
        overlay.is_some_and(|e| e.result == Some(0)),
        "the overlay mount of the rootfs"
    );
    let pivot = events
        .iter()
        .find(|e| e.kind() == Kind::PivotRoot)
        .expect("pivot_root");
    assert_eq!(pivot.result, Some(0));
    assert_eq!(
        pivot.header.ns.mnt_ns, sh.header.ns.mnt_ns,
        "pivot_root in the container's mount namespace"
    );

    // Joining the container's network namespace from outside (setns by the daemon).
    let setns = events.iter().find(|e| {
        matches!(&e.data, EventData::Setns(x) if x.nstype == 0 || x.nstype as u64 & CLONE_NEWNET != 0)
            && e.header.ns.net_ns == sh.header.ns.net_ns
            && e.header.ns.mnt_ns != sh.header.ns.mnt_ns
            && e.result == Some(0)
    });
    assert!(
        setns.is_some(),
        "a setns into the container's network namespace"
    );
}

/// runc moved the container's init into its cgroup; everything in the container is in its
/// cgroup and carries its id; every part of the stack is classified.
fn check_cgroup_and_attribution(
    session: &beefine_schema::Session,
    events: &[beefine_schema::Event],
    sh: &beefine_schema::Event,
    container_id: &str,
) {
    let container = session
        .containers()
        .unwrap()
        .into_iter()
        .find(|c| c.container_id == container_id)
        .expect("the container is in the session");
    let cgroup_id = container.cgroup_id.expect("the container's cgroup id");
    let attach = events.iter().find(|e| {
        matches!(&e.data, EventData::CgroupAttach(a)
            if a.hierarchy_id == 0 && a.path.contains(container_id) && a.target_cgroup_id == cgroup_id)
    });
    assert!(
        attach.is_some(),
        "the cgroup v2 attach into the container's cgroup"
    );
    assert_eq!(
        sh.header.cgroup_id, cgroup_id,
        "sh runs in the container's cgroup"
    );

    // Attribution: everything in the container's pid namespace is in its cgroup, and every
    // process of the container has the container's id.
    let in_container: Vec<_> = events
        .iter()
        .filter(|e| e.header.ns.pid_ns == sh.header.ns.pid_ns)
        .collect();
    assert!(in_container.len() > 5);
    for e in &in_container {
        assert_eq!(e.header.cgroup_id, cgroup_id, "{e:?}");
    }
    let processes = session.processes().unwrap();
    let sh_row = processes
        .iter()
        .find(|p| p.argv == ["sh", "-c", "echo hi"])
        .expect("sh's process row");
    assert_eq!(sh_row.container_id.as_deref(), Some(container_id));
    assert_eq!(sh_row.component, Component::ContainerInit);
    assert_eq!(sh_row.exit_code, Some(0));
    for p in processes.iter().filter(|p| p.cgroup_id == cgroup_id) {
        assert_eq!(p.container_id.as_deref(), Some(container_id), "{p:?}");
    }
    let components: BTreeSet<Component> = processes.iter().map(|p| p.component).collect();
    for c in [
        Component::Dockerd,
        Component::Containerd,
        Component::Shim,
        Component::Runc,
        Component::Command,
    ] {
        assert!(
            components.contains(&c),
            "a {} process in {components:?}",
            c.name()
        );
    }
}

/// The flags of a clone, clone3 or unshare (0 for anything else).
fn ns_call_flags(e: &beefine_schema::Event) -> u64 {
    match &e.data {
        EventData::Unshare(a) => a.flags,
        EventData::Clone(a) => a.flags,
        EventData::Clone3(a) => a.flags,
        _ => 0,
    }
}

#[test]
fn records_the_whole_process_tree_of_a_plain_command() {
    require_root();
    let scratch = Scratch::new("kernel-tree");
    let script =
        "/bin/true; /bin/sleep 0.05; /bin/sh -c '/bin/true; exit 0'; /bin/ls / > /dev/null; exit 3";
    let out = record(
        &scratch,
        "tree",
        &["--grace", "0"],
        &["/bin/sh", "-c", script],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "exits with the command's exit code"
    );
    let (session, events) = events(&scratch.session("tree"));
    assert_eq!(session.lost_events().unwrap(), 0);
    let processes = session.processes().unwrap();
    let command: Vec<_> = processes
        .iter()
        .filter(|p| p.component == Component::Command)
        .collect();
    let root = command
        .iter()
        .find(|p| p.argv.first().map(String::as_str) == Some("/bin/sh") && p.argv.len() == 3)
        .expect("the command's own row");
    // Children of each process, by ppid.
    let mut children: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for p in &command {
        children
            .entry(p.ppid)
            .or_default()
            .push(p.exe.as_deref().unwrap_or(""));
    }
    let mut top: Vec<&str> = children[&root.pid].clone();
    top.sort_unstable();
    assert_eq!(top, ["/bin/ls", "/bin/sh", "/bin/sleep", "/bin/true"]);
    let inner = command
        .iter()
        .find(|p| p.ppid == root.pid && p.exe.as_deref() == Some("/bin/sh"))
        .unwrap();
    assert_eq!(children[&inner.pid], ["/bin/true"]);
    assert_eq!(command.len(), 6, "{command:#?}");
    // Every process of the tree started with a fork (but the command itself), exec'd and exited.
    for p in &command {
        let pid = p.pid;
        assert!(p.exit_ts_nanos.is_some(), "{p:?} has an exit");
        assert!(
            events
                .iter()
                .any(|e| e.header.tgid == pid && e.kind() == Kind::Exec),
            "exec of {pid}"
        );
        assert!(
            events
                .iter()
                .any(|e| e.header.tgid == pid && e.kind() == Kind::Exit),
            "exit of {pid}"
        );
        if pid != root.pid {
            assert!(
                events
                    .iter()
                    .any(|e| matches!(&e.data, EventData::Fork(f) if f.child_tgid == pid)),
                "fork of {pid}"
            );
        }
    }
    assert_eq!(root.exit_code, Some(3 << 8));
    // Reads are summed per opened file and carry its path: the C library every program loads.
    assert!(events.iter().any(|e| matches!(&e.data, EventData::FileIo(io) if io.path.as_deref().is_some_and(|p| p.contains("libc.so")) && io.bytes_read > 0)));
}

#[test]
fn sigterm_finishes_the_session_and_unloads_everything() {
    require_root();
    let scratch = Scratch::new("kernel-term");
    let mut child = spawn_recorder(&scratch, "term", &[]);
    support::wait_for_session(&scratch.session("term"), &mut child);
    assert!(child.try_wait().unwrap().is_none(), "still recording");
    assert!(
        !support::leftovers_now().is_empty(),
        "the probes are loaded while recording"
    );
    nix_kill(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, _) = events(&scratch.session("term"));
    assert_eq!(session.status(), Status::Complete);
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn a_sigkilled_recording_still_opens() {
    require_root();
    let scratch = Scratch::new("kernel-kill");
    let mut child = spawn_recorder(&scratch, "killed", &[]);
    support::wait_for_session(&scratch.session("killed"), &mut child);
    // Activity in scope while recording: the daemon answers a ping.
    let _ = std::process::Command::new("docker").arg("version").output();
    std::thread::sleep(Duration::from_millis(600));
    nix_kill(child.id(), "KILL");
    let _ = child.wait();
    let session =
        beefine_schema::Session::open(&scratch.session("killed")).expect("opens after SIGKILL");
    // At once: the lock the recorder held went with it.
    assert_eq!(session.status(), Status::Interrupted);
    assert!(session.all_events().is_ok());
    // The kernel released everything with the process.
    std::thread::sleep(Duration::from_millis(300));
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}

#[test]
fn without_privileges_it_says_what_is_missing() {
    require_root();
    let scratch = Scratch::new("kernel-unpriv");
    std::fs::set_permissions(
        &scratch.dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(support::recorder_bin())
        .args(["--session", "nope", "--out"])
        .arg(&scratch.dir)
        .args(["--", "true"])
        .output()
        .expect("running setpriv (util-linux)");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root") && err.contains("sudo"), "{err}");
    assert!(
        !scratch.session("nope").exists(),
        "nothing is written when it cannot record"
    );
}

#[test]
fn an_existing_session_is_not_overwritten() {
    require_root();
    let scratch = Scratch::new("kernel-exists");
    std::fs::write(scratch.session("taken"), b"precious").unwrap();
    let out = record(&scratch, "taken", &[], &["true"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        std::fs::read(scratch.session("taken")).unwrap(),
        b"precious"
    );
}

fn nix_kill(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{signal} {pid}");
}

#[test]
fn through_sudo_the_session_belongs_to_the_invoking_user() {
    require_root();
    use std::os::unix::fs::MetadataExt;
    let scratch = Scratch::new("kernel-sudo");
    // A directory of the user's own: under sudo the recorder writes nowhere else.
    std::os::unix::fs::chown(&scratch.dir, Some(65534), Some(65534)).unwrap();
    let out = support::recorder(&scratch, "mine", &["--grace", "0"], &["true"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(scratch.session("mine")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    assert_eq!(meta.mode() & 0o777, 0o600);
    // Nothing of the WAL is left beside it.
    assert!(!scratch.dir.join("mine.beefine-wal").exists());
}

#[test]
fn a_full_disk_stops_the_recording_with_a_clear_error_and_keeps_what_was_written() {
    require_root();
    let scratch = Scratch::new("kernel-full");
    let tiny = scratch.dir.join("tiny");
    std::fs::create_dir_all(&tiny).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"])
        .arg(&tiny)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "mounting a small tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(tiny.clone());
    // Activity of our own, so that the disk fills however quiet the machine is (a process
    // and an exec per iteration: hundreds of events a second).
    struct Load(std::process::Child);
    impl Drop for Load {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _load = Load(
        std::process::Command::new("sh")
            .args(["-c", "while :; do cat /proc/self/stat >/dev/null; done"])
            .spawn()
            .expect("starting a busy shell loop"),
    );
    let started = std::time::Instant::now();
    let out = std::process::Command::new(support::recorder_bin())
        .args([
            "--session",
            "full",
            "--quiet",
            "--all",
            "--duration",
            "30s",
            "--out",
        ])
        .arg(&tiny)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "it stopped when the disk filled"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("disk is full") && err.contains("stays readable"),
        "{err}"
    );
    let session =
        beefine_schema::Session::open(&tiny.join("full.beefine")).expect("it still opens");
    assert!(
        !session.all_events().unwrap().is_empty(),
        "what was committed is there"
    );
    assert!(leftovers().is_empty(), "{:?}", leftovers());
}
