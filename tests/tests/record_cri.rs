//! A pod's birth on a real CRI node: the CRI node's containerd (CRI plugin), real CNI
//! (bridge, host-local, loopback), real runc, driven by `beefine-record --pod` as the
//! kubelet would drive it.

mod support;

use std::collections::HashSet;
use std::path::Path;

use beefine_schema::{Component, Container, Event, EventData, Kind, Pod, SockAddr};
use beefine_tests::{
    CRI_IPAM_DIR, CRI_SOCKET, cri_ctr, pause_image, require_cri, require_image, require_registry,
    require_root, workspace_root,
};
use support::{Scratch, events, record};

/// Every process in a kubepods cgroup while the pod is up: `PID NET MNT PID_NS`, one a line
/// (what /proc/PID/ns/* says, read by the command the recorder runs once the pod ran).
const SNAPSHOT: &str = r#"for d in /proc/[0-9]*; do
  grep -q kubepods "$d/cgroup" 2>/dev/null || continue
  n=$(readlink "$d/ns/net") m=$(readlink "$d/ns/mnt") p=$(readlink "$d/ns/pid") || continue
  echo "ns ${d#/proc/} $n $m $p"
done"#;

fn inode(link: &str) -> u64 {
    link.split_once('[')
        .and_then(|(_, rest)| rest.trim_end_matches(']').parse().ok())
        .unwrap_or_else(|| panic!("{link:?} is not a namespace link"))
}

/// (pid → (net, mnt, pid) inodes) from the snapshot lines of the command.
fn snapshot(stdout: &str) -> Vec<(u32, [u64; 3])> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ns "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                [inode(f[1]), inode(f[2]), inode(f[3])],
            )
        })
        .collect()
}

fn veths() -> HashSet<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("veth"))
        .collect()
}

fn ns_of(c: &Container, kind: &str) -> u64 {
    c.namespace(kind)
        .unwrap_or_else(|| panic!("container {} has no {kind} namespace", c.name))
}

#[test]
fn a_pod_is_recorded_with_its_sandbox_its_network_and_its_containers() {
    require_root();
    require_registry();
    require_cri();
    require_image("localhost:5000/busybox:latest");
    require_image(&pause_image());
    let manifest = workspace_root().join("fixtures/pods/web.yaml");
    let veths_before = veths();
    let scratch = Scratch::new("cri-pod");
    let out = record(
        &scratch,
        "pod",
        &[
            "--cri",
            &format!("unix://{CRI_SOCKET}"),
            "--pod",
            manifest.to_str().unwrap(),
            "--fetch",
            "http://127.0.0.1:8080/",
            "--linger",
            "0.5s",
            "--grace",
            "0.2s",
        ],
        &["sh", "-c", SNAPSHOT],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[fetch] Beefine pod fixture"),
        "the fetch container's log: {stdout}"
    );
    let (session, events) = events(&scratch.session("pod"));

    // The pod, its sandbox and both containers.
    let pods = session.pods().unwrap();
    let pod: &Pod = pods
        .iter()
        .find(|p| p.name == "web" && p.namespace == "default")
        .unwrap_or_else(|| panic!("no default/web pod in {pods:?}"));
    assert!(pod.runtime.starts_with("containerd "), "{}", pod.runtime);
    let ip = pod.ip.as_deref().expect("the pod's CNI address");
    assert!(ip.starts_with("10.213.0."), "{ip}");
    assert!(pod.created_ts_nanos.is_some() && pod.removed_ts_nanos.is_some());
    let modes: Vec<(&str, &str)> = pod
        .namespace_modes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        modes,
        [("network", "pod"), ("pid", "container"), ("ipc", "pod")]
    );
    let containers = session.containers().unwrap();
    let of_pod: Vec<&Container> = containers
        .iter()
        .filter(|c| c.pod_id.as_deref() == Some(pod.pod_id.as_str()))
        .collect();
    let by_name = |name: &str| {
        *of_pod
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no container {name} in the pod: {of_pod:?}"))
    };
    let sandbox = by_name("POD");
    let (httpd, fetch) = (by_name("httpd"), by_name("fetch"));
    assert_eq!(of_pod.len(), 3);
    assert!(sandbox.is_sandbox() && !httpd.is_sandbox());
    assert_eq!(sandbox.init_pid, pod.sandbox_pid);
    assert!(sandbox.image.contains("/pause:"), "{}", sandbox.image);
    for c in [httpd, fetch] {
        assert_eq!(c.image, "localhost:5000/busybox:latest");
        assert!(c.image_id.starts_with("sha256:"), "{}", c.image_id);
        assert!(c.destroyed_ts_nanos.is_some(), "{} removed", c.name);
        assert!(
            c.cgroup_path
                .as_deref()
                .is_some_and(|p| p.contains(&format!("pod{}", pod.uid))),
            "{:?}",
            c.cgroup_path
        );
    }
    assert_eq!(
        fetch.exit_code,
        Some(0),
        "{:?}",
        (
            fetch.died_ts_nanos,
            fetch.destroyed_ts_nanos,
            &fetch.inspect_json[..fetch.inspect_json.len().min(2000)]
        )
    );

    let net = pod.namespace("net").expect("the pod's net namespace");
    namespaces_are_the_pods_and_their_own(&stdout, &events, pod, [sandbox, httpd, fetch]);
    cni_is_recorded(&events, pod, net);
    let processes = session.processes().unwrap();
    assert!(
        processes
            .iter()
            .any(|p| p.component == Component::Cni && p.comm == "bridge"),
        "the bridge plugin's process is a cni component"
    );
    fetch_is_a_connect_accept_pair(&events, httpd, fetch, net);
    cri_calls_are_recorded(&events, pod, httpd);
    the_story_has_the_sandbox_and_its_network(&session, pod, [httpd, fetch]);

    nothing_is_left(pod, [httpd, fetch], &veths_before);
}

/// The chapters the recorder stored: the sandbox's own (`sandbox`, then `cni` naming the
/// pod's address) before its runtime, and each app container joining the pod's namespaces.
fn the_story_has_the_sandbox_and_its_network(
    session: &beefine_schema::Session,
    pod: &Pod,
    apps: [&Container; 2],
) {
    use beefine_schema::story::ChapterKind;
    let chapters = session
        .chapters()
        .unwrap()
        .expect("the recorder stored the chapters");
    let of = |id: &str| -> Vec<&beefine_schema::story::Chapter> {
        chapters
            .iter()
            .filter(|c| c.container_id.as_deref() == Some(id))
            .collect()
    };
    let sandbox = of(&pod.pod_id);
    let kinds: Vec<ChapterKind> = sandbox.iter().map(|c| c.chapter).collect();
    assert_eq!(
        kinds[..3],
        [ChapterKind::Sandbox, ChapterKind::Cni, ChapterKind::Runtime],
        "{kinds:?}"
    );
    assert!(
        sandbox[1].title.contains("bridge")
            && sandbox[1].title.contains(pod.ip.as_deref().unwrap()),
        "{}",
        sandbox[1].title
    );
    for c in apps {
        let ns = of(&c.container_id)
            .into_iter()
            .find(|ch| ch.chapter == ChapterKind::Namespaces)
            .unwrap_or_else(|| panic!("the namespaces chapter of {}", c.name));
        assert!(
            ns.title.ends_with("the pod's net, ipc, uts joined"),
            "{}",
            ns.title
        );
    }
}

/// Shared network (and IPC, UTS) with the sandbox, own mount and pid namespaces; and these
/// are /proc/PID/ns/* of each process, as a command read them and the kernel stamped them.
fn namespaces_are_the_pods_and_their_own(
    stdout: &str,
    events: &[Event],
    pod: &Pod,
    containers: [&Container; 3],
) {
    // Shared network (and IPC, UTS), own mount and pid namespaces.
    let net = pod.namespace("net").expect("the pod's net namespace");
    let [sandbox, httpd, fetch] = containers;
    assert_eq!(ns_of(sandbox, "net"), net);
    for c in [httpd, fetch] {
        assert_eq!(
            ns_of(c, "net"),
            net,
            "{} joins the sandbox's network",
            c.name
        );
        for kind in ["mnt", "pid"] {
            assert_ne!(ns_of(c, kind), ns_of(sandbox, kind), "{} {kind}", c.name);
        }
    }
    // httpd runs long enough to be read from /proc (all its namespaces); fetch may be done
    // before the runtime can be asked, and then has what the kernel stamps on its events.
    for kind in ["ipc", "uts"] {
        assert_eq!(
            ns_of(httpd, kind),
            ns_of(sandbox, kind),
            "httpd joins the pod's {kind}"
        );
        if let Some(inode) = fetch.namespace(kind) {
            assert_eq!(inode, ns_of(sandbox, kind), "fetch joins the pod's {kind}");
        }
    }
    assert_ne!(ns_of(httpd, "mnt"), ns_of(fetch, "mnt"));
    assert_ne!(ns_of(httpd, "pid"), ns_of(fetch, "pid"));
    // The namespaces the session holds are /proc/PID/ns/* of each process: as the command
    // read them while the pod was up, and as the kernel stamped every event of the process.
    let snap = snapshot(stdout);
    let mut checked = Vec::new();
    for c in [sandbox, httpd, fetch] {
        let pid = c
            .init_pid
            .unwrap_or_else(|| panic!("{} has no pid", c.name));
        let want = [ns_of(c, "net"), ns_of(c, "mnt"), ns_of(c, "pid")];
        if let Some((_, seen)) = snap.iter().find(|(p, _)| *p == pid) {
            assert_eq!(*seen, want, "/proc/{pid}/ns of {}", c.name);
            checked.push(c.name.as_str());
        }
        let stamped: Vec<&Event> = events.iter().filter(|e| e.header.tgid == pid).collect();
        assert!(!stamped.is_empty(), "no events of {} (pid {pid})", c.name);
        let exec = stamped
            .iter()
            .rev()
            .find(|e| e.kind() == Kind::Exec)
            .unwrap_or_else(|| panic!("no exec of {}", c.name));
        let ns = exec.header.ns;
        assert_eq!(
            [u64::from(ns.net_ns), u64::from(ns.mnt_ns)],
            [want[0], want[1]],
            "the kernel's namespaces of {}'s exec",
            c.name
        );
    }
    assert!(
        checked.contains(&"POD") && checked.contains(&"httpd"),
        "the running sandbox and httpd were checked against /proc: {checked:?}\n{stdout}"
    );
}

/// Nothing is left: containers, tasks, the pod's address, its veth, its netns.
fn nothing_is_left(pod: &Pod, apps: [&Container; 2], veths_before: &HashSet<String>) {
    let [httpd, fetch] = apps;
    let ip = pod.ip.as_deref().unwrap();
    let uid = &pod.uid;
    let left = cri_ctr(&["containers", "ls"]);
    for id in [&pod.pod_id, &httpd.container_id, &fetch.container_id] {
        assert!(
            !left.contains(id.as_str()),
            "{id} still in containerd:\n{left}"
        );
    }
    assert!(
        !cri_ctr(&["tasks", "ls"]).contains(&pod.pod_id),
        "the sandbox's task still runs"
    );
    assert!(
        !Path::new(CRI_IPAM_DIR).join(ip).exists(),
        "{ip} is still allocated in {CRI_IPAM_DIR}"
    );
    // The host end of the veth goes with the pod's net namespace, which the kernel tears
    // down in the background (its cleanup work runs after the last reference goes).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let new_veths = loop {
        let new: Vec<String> = veths().difference(veths_before).cloned().collect();
        if new.is_empty() || std::time::Instant::now() > deadline {
            break new;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(new_veths.is_empty(), "veths left after 10 s: {new_veths:?}");
    let netns =
        serde_json::from_str::<serde_json::Value>(&pod.status_json).unwrap()["info"]["runtimeSpec"]
            ["linux"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["type"] == "network")
            .and_then(|n| n["path"].as_str().map(str::to_owned))
            .expect("the sandbox's network namespace path");
    assert!(!Path::new(&netns).exists(), "{netns} (uid {uid}) is left");
}

/// The CNI `bridge` plugin ran (containerd exec'd it), joined the pod's network namespace to
/// set up the veth's inner end, and `host-local` took the pod's address.
fn cni_is_recorded(events: &[Event], pod: &Pod, net: u64) {
    let bridge: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Exec(a) if a.filename.as_ref() == "/usr/lib/cni/bridge" => {
                Some(e.header.tgid)
            }
            _ => None,
        })
        .collect();
    assert!(!bridge.is_empty(), "no exec of the CNI bridge plugin");
    let in_pod_netns = events
        .iter()
        .any(|e| bridge.contains(&e.header.tgid) && u64::from(e.header.ns.net_ns) == net);
    assert!(
        in_pod_netns,
        "the bridge plugin never ran in the pod's network namespace (setns to set up the veth)"
    );
    let setns = events.iter().any(|e| {
        bridge.contains(&e.header.tgid)
            && matches!(&e.data, EventData::Setns(_))
            && e.result == Some(0)
    });
    assert!(setns, "no setns of the bridge plugin");
    let ip = pod.ip.as_deref().unwrap();
    let allocated = events.iter().any(|e| match &e.data {
        EventData::Openat(a) => {
            e.header.comm.as_ref() == "host-local"
                && a.path.ends_with(&format!("/{ip}"))
                && e.result.is_some_and(|r| r >= 0)
        }
        _ => false,
    });
    assert!(allocated, "host-local did not write the allocation of {ip}");
}

/// The fetch container's wget connects to localhost:8080 and httpd accepts it, both in the
/// pod's network namespace.
fn fetch_is_a_connect_accept_pair(
    events: &[Event],
    httpd: &Container,
    fetch: &Container,
    net: u64,
) {
    let in_container = |e: &Event, c: &Container| c.cgroup_id == Some(e.header.cgroup_id);
    let connect = events
        .iter()
        .find(|e| match &e.data {
            EventData::Connect(a) => {
                in_container(e, fetch)
                    && matches!(&a.addr, SockAddr::Inet { ip, port: 8080 } if ip.is_loopback())
            }
            _ => false,
        })
        .expect("a connect of the fetch container to localhost:8080");
    assert_eq!(u64::from(connect.header.ns.net_ns), net);
    let accept = events
        .iter()
        .filter(|e| e.header.ts_nanos >= connect.header.ts_nanos)
        .find(|e| match &e.data {
            EventData::Accept(a) | EventData::Accept4(a) => {
                in_container(e, httpd)
                    && e.result.is_some_and(|r| r >= 0)
                    && match &a.addr {
                        SockAddr::Inet { ip, .. } => {
                            ip.is_loopback() || ip.to_string() == "::ffff:127.0.0.1"
                        }
                        _ => false,
                    }
            }
            _ => false,
        })
        .expect("httpd accepting the fetch container's connection");
    assert_eq!(u64::from(accept.header.ns.net_ns), net);
    assert!(accept.header.tgid != connect.header.tgid);
}

/// The kubelet's calls, in the kubelet's order, each with a duration, and the runtime's own
/// changes of state.
fn cri_calls_are_recorded(events: &[Event], pod: &Pod, httpd: &Container) {
    let cri: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Cri(c) => Some((e.header.ts_nanos, c)),
            _ => None,
        })
        .collect();
    let calls: Vec<&str> = cri
        .iter()
        .filter(|(_, c)| !c.method.is_empty())
        .map(|(_, c)| c.method.as_ref())
        .collect();
    let order = [
        "RunPodSandbox",
        "CreateContainer",
        "StartContainer",
        "StopContainer",
        "RemoveContainer",
        "StopPodSandbox",
        "RemovePodSandbox",
    ];
    let mut at = 0;
    for want in order {
        at += calls[at..]
            .iter()
            .position(|c| *c == want)
            .unwrap_or_else(|| panic!("no {want} after the calls before it: {calls:?}"));
    }
    for (_, c) in cri.iter().filter(|(_, c)| !c.method.is_empty()) {
        assert!(c.error.is_empty(), "{} failed: {}", c.method, c.error);
        assert!(c.duration_nanos > 0, "{} has no duration", c.method);
    }
    let run = cri
        .iter()
        .find(|(_, c)| c.method.as_ref() == "RunPodSandbox")
        .unwrap();
    assert_eq!(run.1.pod_id.as_ref(), pod.pod_id);
    assert_eq!(
        run.1.container_id.as_ref(),
        pod.pod_id,
        "the pod's calls name its sandbox"
    );
    let started = cri.iter().any(|(_, c)| {
        c.state.as_ref() == "started" && c.container_id.as_ref() == httpd.container_id
    });
    assert!(started, "the runtime's report of httpd starting");
    // The pod's namespaces and its pause process are made inside RunPodSandbox: the sandbox
    // process's first event is within the call (its exec of /pause may come just after:
    // `runc start` returns before the process execs).
    let (ts, c) = run;
    let sandbox_pid = pod.sandbox_pid.unwrap();
    let first = events
        .iter()
        .find(|e| e.header.tgid == sandbox_pid)
        .expect("events of the pause process");
    assert!(
        first.header.ts_nanos > *ts && first.header.ts_nanos < ts + c.duration_nanos,
        "the pause process appears during RunPodSandbox"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.data, EventData::Exec(a) if a.filename.as_ref() == "/pause")),
        "the pause exec"
    );
    let cni = events
        .iter()
        .filter(|e| e.kind() == Kind::Exec)
        .filter(
            |e| matches!(&e.data, EventData::Exec(a) if a.filename.starts_with("/usr/lib/cni/")),
        )
        .count();
    assert!(
        cni >= 3,
        "bridge, host-local, loopback at set-up: {cni} CNI execs"
    );
}

/// Without `--pod` the recorder follows whatever drives the runtime, as on a node where the
/// kubelet does: here a second recorder runs the pod (without packets: one XDP program per
/// interface), recorded as the command.
#[test]
fn a_pod_that_something_else_runs_is_followed() {
    require_root();
    require_registry();
    require_cri();
    require_image("localhost:5000/busybox:latest");
    let manifest = workspace_root().join("fixtures/pods/web.yaml");
    let scratch = Scratch::new("cri-follow");
    let driver = support::recorder_bin();
    let cri = format!("unix://{CRI_SOCKET}");
    let out = record(
        &scratch,
        "follow",
        &["--cri", &cri, "--no-packets", "--grace", "0.5s"],
        &[
            driver.to_str().unwrap(),
            "--session",
            "driver",
            "--out",
            scratch.dir.to_str().unwrap(),
            "--quiet",
            "--no-packets",
            "--cri",
            &cri,
            "--pod",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (session, events) = events(&scratch.session("follow"));
    let pods = session.pods().unwrap();
    let pod = pods
        .iter()
        .find(|p| p.name == "web")
        .unwrap_or_else(|| panic!("the pod the driver ran: {pods:?}"));
    let containers = session.containers().unwrap();
    let mut names: Vec<&str> = containers
        .iter()
        .filter(|c| c.pod_id.as_deref() == Some(pod.pod_id.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["POD", "fetch", "httpd"]);
    let cri_events: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Cri(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(
        cri_events.iter().all(|c| c.method.is_empty()),
        "the follower makes no lifecycle calls"
    );
    for state in ["created", "started", "exited", "removed"] {
        assert!(
            cri_events.iter().any(|c| c.state.as_ref() == state),
            "no {state} reported: {cri_events:?}"
        );
    }
    assert!(pod.removed_ts_nanos.is_some(), "the driver removed the pod");
    // The pod's processes are in scope and attributed.
    let httpd = containers.iter().find(|c| c.name == "httpd").unwrap();
    assert!(
        events
            .iter()
            .any(|e| httpd.cgroup_id == Some(e.header.cgroup_id) && e.kind() == Kind::Exec),
        "httpd's exec is in the session"
    );
}
