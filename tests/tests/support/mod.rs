//! Running `beefine-record` from the privileged tests.

#![allow(dead_code, reason = "each test file uses a part of the support module")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use beefine_schema::{Event, Session};

/// The `beefine-record` binary built beside the test (cargo builds every workspace binary
/// for `cargo test --workspace`; `cargo xtask test` builds them first).
#[track_caller]
pub fn recorder_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = dir.join("beefine-record");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p beefine_recorder`, or run the tests \
         with `cargo xtask test`)",
        bin.display()
    );
    bin
}

/// A temporary directory for session files.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("beefine-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        Self { dir }
    }

    pub fn session(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.beefine"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `beefine-record --session NAME --out DIR --quiet EXTRA… [-- CMD…]`, waited for.
#[track_caller]
pub fn record(scratch: &Scratch, name: &str, extra: &[&str], command: &[&str]) -> Output {
    let out = recorder(scratch, name, extra, command)
        .output()
        .expect("running beefine-record");
    eprintln!(
        "beefine-record stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The recorder command, not started.
pub fn recorder(scratch: &Scratch, name: &str, extra: &[&str], command: &[&str]) -> Command {
    let mut cmd = Command::new(recorder_bin());
    cmd.args(["--session", name, "--out"])
        .arg(&scratch.dir)
        .arg("--quiet")
        .args(extra)
        .stdin(Stdio::null());
    if !command.is_empty() {
        cmd.arg("--").args(command);
    }
    cmd
}

/// Starts the recorder in the background.
pub fn spawn_recorder(scratch: &Scratch, name: &str, extra: &[&str]) -> Child {
    recorder(scratch, name, extra, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting beefine-record")
}

/// Waits until the recorder started with [`spawn_recorder`] has loaded its probes and
/// made the session file `path` (it makes it only then), up to a minute: how long that
/// takes depends on how busy the machine is.
#[track_caller]
pub fn wait_for_session(path: &Path, recorder: &mut Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while Session::open(path).is_err() {
        if let Some(status) = recorder.try_wait().expect("waiting for the recorder") {
            panic!(
                "the recorder exited ({status}) before it made {}",
                path.display()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no session file {} after a minute",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Every event of a session.
#[track_caller]
pub fn events(path: &Path) -> (Session, Vec<Event>) {
    let s = Session::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let events = s
        .all_events()
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (s, events)
}

/// Names (as the kernel shortens them) of programs and maps the built-in probes load.
pub const OUR_PROGRAMS: &[&str] = &[
    "on_sys_enter",
    "on_sys_exit",
    "on_exec",
    "on_exit",
    "on_fork",
    "on_packet",
    "on_tcp_state",
    "on_cgroup_attac",
    "on_cgroup_mkdir",
];
pub const OUR_MAPS: &[&str] = &[
    "BF_EVENTS",
    "BF_TRACKED",
    "BF_TASK",
    "BF_FILEIO",
    "BF_COUNTERS",
    "BF_SCRATCH",
];

/// Programs and maps of ours still loaded in the kernel, by `bpftool`. The kernel frees a
/// program shortly after its last file descriptor closes (after an RCU grace period), so
/// this waits up to two seconds for them to go.
#[track_caller]
pub fn leftovers() -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let found = leftovers_now();
        if found.is_empty() || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Programs and maps of ours loaded right now.
#[track_caller]
pub fn leftovers_now() -> Vec<String> {
    let run = |what: &str| {
        let out = Command::new("bpftool")
            .args(["-j", what, "show"])
            .output()
            .unwrap_or_else(|e| panic!("running bpftool ({e}): `apt-get install bpftool`"));
        assert!(out.status.success(), "bpftool {what} show failed");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("bpftool's JSON")
    };
    let mut found = Vec::new();
    for (what, names) in [("prog", OUR_PROGRAMS), ("map", OUR_MAPS)] {
        for item in run(what).as_array().into_iter().flatten() {
            let name = item["name"].as_str().unwrap_or("");
            if names.contains(&name) {
                found.push(format!("{what} {name} (id {})", item["id"]));
            }
        }
    }
    found
}
