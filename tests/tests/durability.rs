//! Sessions that survive crashes, sharing and strangers, with the real recorder: `kill -9`
//! at 3 s and at 20 s, a reader holding the file while the recording finishes, two
//! recordings at once, planted links, containers a killed recorder left, `--as-user`.
//!
//! Run under the privileged lock (`cargo xtask test` does, as one hold for this binary):
//! two recordings at once are taken inside that one hold.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beefine_schema::{Journal, Kind, Session, Status};
use beefine_tests::{
    busybox_image, docker, docker_ok, require_docker, require_image, require_root,
};
use support::{Scratch, recorder, recorder_bin, wait_for_session};

/// Boot-clock nanoseconds now: the clock of the events.
fn boot_nanos() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).expect("the boot clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// A command that keeps the recording busy: a hundred small processes a second, each with
/// an exec, opens, reads and an exit.
const BUSY: &[&str] = &[
    "sh",
    "-c",
    "while :; do cat /etc/hostname /etc/os-release > /dev/null; sleep 0.01; done",
];

/// The recorder in a process group of its own with the command it runs, so that one
/// SIGKILL ends both at once.
fn spawn_group(scratch: &Scratch, name: &str, extra: &[&str], command: &[&str]) -> Child {
    recorder(scratch, name, extra, command)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting beefine-record")
}

fn kill_group(child: &mut Child) {
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = child.wait();
}

/// Copies the files named `names` of `from` into the directory `to`.
fn copy_files(from: &Path, names: &[String], to: &Path) {
    for n in names {
        let src = from.join(n);
        if src.is_file() {
            std::fs::copy(&src, to.join(n)).unwrap();
        }
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How far behind the kill the file alone may be: the recorder commits every 100 ms and
/// checkpoints every 250 ms; the rest is the capture pipeline's own delay (ring buffer,
/// session thread).
const LAG_BOUND: Duration = Duration::from_secs(1);

/// kill -9 after `seconds` of recording: the `.beefine` copied alone reads as interrupted
/// at once and holds every event but those of the last [`LAG_BOUND`].
fn killed_after(seconds: u64) {
    require_root();
    let scratch = Scratch::new(&format!("durable-kill{seconds}"));
    let name = format!("killed{seconds}");
    let path = scratch.session(&name);
    let mut child = spawn_group(&scratch, &name, &[], BUSY);
    wait_for_session(&path, &mut child);
    std::thread::sleep(Duration::from_secs(seconds));
    kill_group(&mut child);
    let killed_at = boot_nanos();
    let killed_wall = Instant::now();
    // The file alone, copied right away.
    let alone = scratch.dir.join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&path, alone.join("copy.beefine")).unwrap();
    let copy = Session::open(&alone.join("copy.beefine")).expect("the copy opens");
    let status = copy.status();
    let judged_in = killed_wall.elapsed();
    assert_eq!(status, Status::Interrupted);
    assert!(judged_in < Duration::from_secs(1), "{judged_in:?}");
    assert_eq!(copy.journal(), &Journal::WalMissing);
    let copied = copy.all_events().expect("the copy's events read");
    // Everything the recorder committed: the file with its -wal, read elsewhere.
    let whole = scratch.dir.join("whole");
    std::fs::create_dir(&whole).unwrap();
    copy_files(&scratch.dir, &file_names(&scratch.dir), &whole);
    let full = Session::open(&whole.join(format!("{name}.beefine"))).expect("the whole opens");
    assert_eq!(full.status(), Status::Interrupted);
    let all = full.all_events().expect("every committed event reads");
    let newest_copied = copied.iter().map(|e| e.header.ts_nanos).max().unwrap_or(0);
    let lag = Duration::from_nanos(killed_at.saturating_sub(newest_copied));
    let before_last_second = all
        .iter()
        .filter(|e| e.header.ts_nanos + LAG_BOUND.as_nanos() as u64 <= killed_at)
        .count();
    println!(
        "kill -9 at {seconds} s: the copy alone holds {} of {} committed events, its newest \
         {:.3} s before the kill; {} committed events are older than {:.1} s; read as \
         interrupted {:.1} ms after the kill",
        copied.len(),
        all.len(),
        lag.as_secs_f64(),
        before_last_second,
        LAG_BOUND.as_secs_f64(),
        judged_in.as_secs_f64() * 1e3
    );
    assert!(
        all.len() > 100 * seconds as usize,
        "a busy recording: {}",
        all.len()
    );
    assert!(lag <= LAG_BOUND, "{lag:?}");
    assert!(
        copied.len() >= before_last_second,
        "the copy misses events older than {LAG_BOUND:?}: {} < {before_last_second}",
        copied.len()
    );
    assert!(copied.len() <= all.len());
}

#[test]
fn killed_at_3_s_the_file_alone_has_all_but_the_last_second() {
    killed_after(3);
}

#[test]
fn killed_at_20_s_the_file_alone_has_all_but_the_last_second() {
    killed_after(20);
}

/// The number in the recorder's "Recorded N events" line.
fn recorded_events(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("Recorded "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

#[test]
fn readers_holding_the_file_while_the_recording_finishes_leave_it_complete() {
    require_root();
    let scratch = Scratch::new("durable-readers");
    let path = scratch.session("held");
    let mut child = recorder(
        &scratch,
        "held",
        &["--grace", "0"],
        &["sh", "-c", "sleep 3; cat /etc/hostname"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_session(&path, &mut child);
    // The sqlite3 shell, idle with the file open after a query.
    let mut shell = Command::new("sqlite3")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running sqlite3 (apt-get install sqlite3)");
    let mut input = shell.stdin.take().unwrap();
    input.write_all(b"SELECT count(*) FROM chunks;\n").unwrap();
    input.flush().unwrap();
    // A viewer's live tail, polling every 100 ms until the recorder is done.
    let mut session = Session::open(&path).unwrap();
    assert_eq!(session.status(), Status::Live);
    let mut cursor = session.tail_from_start();
    let mut tailed = 0;
    let out = loop {
        let update = cursor.poll(&mut session).unwrap();
        tailed += update.events.len();
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            break (status, err);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(out.0.success(), "{}", out.1);
    let recorded = recorded_events(&out.1);
    // Both still hold the file: the .beefine alone is the whole session.
    let alone = scratch.dir.join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&path, alone.join("copy.beefine")).unwrap();
    let copy = Session::open(&alone.join("copy.beefine")).unwrap();
    assert_eq!(copy.status(), Status::Complete);
    let events = copy.all_events().unwrap();
    println!(
        "readers attached: {recorded} events recorded, {} in the file alone, {tailed} seen \
         by the tail",
        events.len()
    );
    assert_eq!(events.len(), recorded);
    assert!(events.iter().any(|e| e.kind() == Kind::Exec));
    drop(input);
    let _ = shell.wait();
    drop((session, copy));
    assert_eq!(file_names(&alone), ["copy.beefine"]);
}

/// A tiny HTTP server on 127.0.0.1 that answers every request until dropped.
struct Server {
    port: u16,
}

impl Server {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut s = stream;
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                );
            }
        });
        Self { port }
    }
}

#[test]
fn two_recordings_at_once_both_get_every_packet() {
    require_root();
    let scratch = Scratch::new("durable-two");
    let server = Server::start();
    let fetch = format!(
        "sleep 2; for i in 1 2 3 4 5; do curl -s -o /dev/null http://127.0.0.1:{}/; done",
        server.port
    );
    let start = |name: &str| {
        recorder(&scratch, name, &["--grace", "0.5s"], &["sh", "-c", &fetch])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both inside this one hold of the privileged lock, at the same time.
    let (a, b) = (start("first"), start("second"));
    let mut counts = Vec::new();
    for (name, child) in [("first", a), ("second", b)] {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {err}");
        let s = Session::open(&scratch.session(name)).unwrap();
        assert_eq!(s.status(), Status::Complete);
        let packets = s
            .all_events()
            .unwrap()
            .into_iter()
            .filter(|e| match &e.data {
                beefine_schema::EventData::Packet(p) => {
                    p.sport == server.port || p.dport == server.port
                }
                _ => false,
            })
            .count();
        counts.push(packets);
    }
    println!(
        "two recordings at once: {} and {} packets of 5 requests to port {}",
        counts[0], counts[1], server.port
    );
    // A TCP exchange of one request is at least 6 packets (handshake, request, answer,
    // closing).
    assert!(counts.iter().all(|&n| n >= 30), "{counts:?}");
}

#[test]
fn planted_links_are_neither_followed_nor_given_away() {
    require_root();
    let scratch = Scratch::new("durable-planted");
    let out_dir = scratch.dir.join("out");
    let root_only = scratch.dir.join("root-only");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::create_dir(&root_only).unwrap();
    std::fs::set_permissions(
        &root_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::chown(&out_dir, Some(65534), Some(65534)).unwrap();
    let planted: Vec<PathBuf> = ["", "-wal", "-shm", "-lock"]
        .iter()
        .map(|suffix| {
            let target = root_only.join(format!("planted{suffix}"));
            std::os::unix::fs::symlink(&target, out_dir.join(format!("y.beefine{suffix}")))
                .unwrap();
            target
        })
        .collect();
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(recorder_bin());
        cmd.args(["--session", "y", "--quiet", "--grace", "0", "--out"])
            .arg(&out_dir)
            .args(extra)
            .args(["--", "true"])
            .env("SUDO_UID", "65534")
            .env("SUDO_GID", "65534")
            .stdin(Stdio::null());
        cmd.output().unwrap()
    };
    // Without --force the planted name is refused.
    let refused = run(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already exists"));
    // With --force the links are replaced by the session's own files, never followed.
    let out = run(&["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for target in &planted {
        assert!(!target.exists(), "{} was created", target.display());
    }
    let meta = std::fs::symlink_metadata(out_dir.join("y.beefine")).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (65534, 65534, 0o600)
    );
    assert_eq!(file_names(&out_dir), ["y.beefine"]);
    // A directory the sudo user may not write to is refused.
    let mut cmd = Command::new(recorder_bin());
    let denied = cmd
        .args(["--session", "z", "--quiet", "--out"])
        .arg(&root_only)
        .args(["--", "true"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("may not write there"));
}

fn containers_of(session: &str) -> Vec<String> {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.beefine.session={session}"),
    ])
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Starts a recording that runs a long container, and kills it once the container runs.
fn kill_while_a_container_runs(scratch: &Scratch, name: &str) {
    let image = busybox_image();
    let mut child = spawn_group(scratch, name, &["--run", &image], &["sleep", "300"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of(name).is_empty() {
        assert!(Instant::now() < deadline, "no container of {name}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the recorder ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    kill_group(&mut child);
    assert_eq!(
        containers_of(name).len(),
        1,
        "the killed recorder left its container"
    );
}

#[test]
fn containers_a_killed_recorder_left_are_removed() {
    require_root();
    require_docker();
    require_image(&busybox_image());
    let scratch = Scratch::new("durable-left");
    // By the next recording, before its probes load.
    kill_while_a_container_runs(&scratch, "left-one");
    let out = recorder(&scratch, "next", &["--grace", "0"], &["true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("that a killed recording (left-one) left"),
        "{err}"
    );
    assert!(containers_of("left-one").is_empty());
    // By --cleanup.
    kill_while_a_container_runs(&scratch, "left-two");
    let out = Command::new(recorder_bin())
        .arg("--cleanup")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("of recording left-two"), "{err}");
    assert!(containers_of("left-two").is_empty());
    assert!(!docker_ok(&["inspect", "left-two"]));
}

#[test]
fn as_user_runs_the_command_as_the_sudo_user() {
    require_root();
    let scratch = Scratch::new("durable-as-user");
    std::os::unix::fs::chown(&scratch.dir, Some(65534), Some(65534)).unwrap();
    let out = recorder(
        &scratch,
        "as",
        &["--grace", "0", "--as-user"],
        &["id", "-u"],
    )
    .env("SUDO_UID", "65534")
    .env("SUDO_GID", "65534")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65534");
    // Without it, root as with sudo strace.
    let out = recorder(&scratch, "root", &["--grace", "0"], &["id", "-u"])
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
    let s = Session::open(&scratch.session("as")).unwrap();
    assert!(
        s.all_events()
            .unwrap()
            .iter()
            .any(|e| e.kind() == Kind::Exec)
    );
}
