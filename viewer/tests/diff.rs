//! `beefine-view diff`, run as a user would, on the recorded fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beefine-view"))
        .args(args)
        .output()
        .expect("beefine-view runs")
}

fn fixture(name: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/sessions")
        .join(name);
    p.display().to_string()
}

fn text(o: &[u8]) -> String {
    String::from_utf8(o.to_vec()).unwrap()
}

#[test]
fn a_session_against_itself_differs_in_nothing_but_timing() {
    let f = fixture("pull-nginx.beefine");
    let o = run(&["diff", &f, &f]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("nothing differs but timing"), "{out}");
    assert!(
        out.contains("Calls only in A: 0 distinct, 0 events"),
        "{out}"
    );
    assert!(
        out.contains("  pull       Pull localhost:5000/nginx:"),
        "{out}"
    );
}

#[test]
fn a_docker_exec_against_a_plain_run() {
    let (a, b) = (
        fixture("run-busybox.beefine"),
        fixture("exec-busybox.beefine"),
    );
    let o = run(&["diff", &a, &b]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for expected in [
        "A  run-busybox  ",
        "B  exec-busybox  ",
        "B compared with A:",
        "  • a join chapter",
        "  • setns into its pid namespace",
        "Chapters, aligned",
        "  join       docker exec: sh -c",
        "only in B",
        "Calls only in B: ",
    ] {
        assert!(out.contains(expected), "{expected:?} not in:\n{out}");
    }
    // Long lists are cut in the text and whole in the JSON.
    let o = run(&["diff", &a, &b, "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let only_b = v["calls"]["only_b"].as_array().unwrap();
    assert_eq!(
        only_b.len() as u64,
        v["calls"]["only_b_distinct"].as_u64().unwrap()
    );
    assert!(only_b.len() > 40);
    assert!(out.contains("more (--all lists them"), "{out}");
    for c in only_b {
        for k in ["kind", "role", "comm", "args", "outcome", "count"] {
            assert!(!c[k].is_null(), "{k} in {c}");
        }
    }
    assert!(
        v["headlines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "a join chapter")
    );
    let join = v["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["b"]["chapter"] == "join")
        .unwrap();
    assert!(join["a"].is_null());
    assert!(join["b"]["duration_nanos"].as_u64().unwrap() > 0);
    assert_eq!(v["a"]["container_name"], "keen_visvesvaraya");
    let all = text(&run(&["diff", &a, &b, "--all"]).stdout);
    assert!(!all.contains("more (--all lists them"));
}

#[test]
fn what_is_not_there_is_said() {
    let a = fixture("run-busybox.beefine");
    let o = run(&["diff", &a, "/nonexistent/b.beefine"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("/nonexistent/b.beefine"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&["diff", &a, &a, "--container-b", "nope"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("no container \"nope\""), "{err}");
    assert!(err.contains("keen_visvesvaraya"), "{err}");
}
