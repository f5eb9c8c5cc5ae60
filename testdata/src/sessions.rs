//! Sessions written through the schema writer for tests and benchmarks.
//!
//! [`write_sample_session`] is a small, hand-made `docker pull` + `docker run` of nginx with
//! an event of every kind and data for every panel (containers, processes, images and
//! layers, mounts, namespace calls, Docker events, resource samples, a loss, a custom
//! probe). [`write_generated_session`] adds any number of synthetic events
//! ([`beefine_schema::synth::Generator`]) around one container, for load benchmarks.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use beefine_schema::{
    Bookmark, CapsetArgs, CgroupAttachInfo, CgroupMkdirInfo, Clone3Args, CloneArgs, Component,
    Container, CustomRecord, DockerEvent, Event, EventData, EventHeader, ExecArgs, ExitInfo,
    FileIoSummary, ForkInfo, Image, Layer, ListenArgs, Loss, LossSource, MkdirArgs, MountArgs,
    Namespaces, OpenArgs, PacketSummary, PathArgs, PivotRootArgs, PrctlArgs, Probe, Process,
    ResourceSample, Result, Sample, SeccompArgs, SessionInfo, SessionWriter, SetnsArgs, SockAddr,
    SockArgs, SocketArgs, Str, TcpStateChange, UmountArgs, UnshareArgs, WriterOptions,
};
use beefine_schema::{
    ExecveatArgs, FchdirArgs, FsconfigArgs, FsmountArgs, FsopenArgs, FspickArgs, MountSetattrArgs,
    MoveMountArgs, OpenTreeArgs, SetgidArgs, SetgroupsArgs, SethostnameArgs, SetuidArgs, UmaskArgs,
};

use crate::synth::{CONTAINER_CGROUP_ID, Generator};

/// Boot-clock start of the sample sessions.
pub const START_NANOS: u64 = 1_000_000_000;
/// Id of the sample's nginx container.
pub const WEB_ID: &str = "c0ffee1234567890c0ffee1234567890c0ffee1234567890c0ffee1234567890";
pub const WEB_CGROUP_ID: u64 = 9001;
pub const WEB_NS: Namespaces = Namespaces {
    pid_ns: 4026532401,
    mnt_ns: 4026532400,
    net_ns: 4026532403,
    uts_ns: 4026532398,
    ipc_ns: 4026532399,
    ..HOST_NS
};
pub const HOST_NS: Namespaces = Namespaces {
    pid_ns: 4026531836,
    mnt_ns: 4026531841,
    net_ns: 4026531840,
    uts_ns: 4026531838,
    ipc_ns: 4026531839,
    user_ns: 4026531837,
    cgroup_ns: 4026531835,
    time_ns: 4026531834,
};
pub const IMAGE_ID: &str =
    "sha256:ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
const LAYER_HEX: &str = "5e1f0a9c7b3d2e485e1f0a9c7b3d2e485e1f0a9c7b3d2e485e1f0a9c7b3d2e48";

/// Overlay directory of layer `i` of the sample image.
pub fn layer_dir(i: u32) -> String {
    // 64 hexadecimal digits, like the directories Docker makes.
    format!("/var/lib/docker/overlay2/{i}{}/diff", &LAYER_HEX[1..])
}
pub const UPPER_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/diff";
pub const MERGED_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/merged";
const WORK_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/work";

fn ms(n: u64) -> u64 {
    START_NANOS + n * 1_000_000
}

fn info(name: &str) -> SessionInfo {
    SessionInfo {
        session_name: name.into(),
        command: vec![
            "docker".into(),
            "run".into(),
            "-d".into(),
            "localhost:5000/nginx:test".into(),
        ],
        tool_version: "0.1.0".into(),
        host_kernel: "6.18.0".into(),
        hostname: "testhost".into(),
        clock_offset_nanos: 1_764_000_000_000_000_000,
        start_ts_nanos: START_NANOS,
    }
}

struct Task {
    pid: u32,
    comm: &'static str,
    cgroup_id: u64,
    ns: Namespaces,
}

const DOCKERD: Task = Task {
    pid: 100,
    comm: "dockerd",
    cgroup_id: 1,
    ns: HOST_NS,
};
const UNTAR: Task = Task {
    pid: 150,
    comm: "docker-untar",
    cgroup_id: 1,
    ns: HOST_NS,
};
const CONTAINERD: Task = Task {
    pid: 200,
    comm: "containerd",
    cgroup_id: 1,
    ns: HOST_NS,
};
const SHIM: Task = Task {
    pid: 300,
    comm: "containerd-shim",
    cgroup_id: 1,
    ns: HOST_NS,
};
const RUNC: Task = Task {
    pid: 400,
    comm: "runc",
    cgroup_id: 1,
    ns: HOST_NS,
};
const RUNC_INIT_HOST: Task = Task {
    pid: 410,
    comm: "runc:[1:CHILD]",
    cgroup_id: 1,
    ns: HOST_NS,
};
const RUNC_INIT: Task = Task {
    pid: 410,
    comm: "runc:[2:INIT]",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};
const NGINX: Task = Task {
    pid: 410,
    comm: "nginx",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};
const WORKER: Task = Task {
    pid: 411,
    comm: "nginx",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};

fn ev(ts: u64, t: &Task, result: Option<i64>, data: EventData) -> Event {
    Event {
        header: EventHeader {
            ts_nanos: ts,
            pid: t.pid,
            tgid: t.pid,
            comm: Str::from(t.comm),
            cgroup_id: t.cgroup_id,
            ns: t.ns,
        },
        result,
        data,
    }
}

fn mount(source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> EventData {
    EventData::Mount(Box::new(MountArgs {
        source: source.into(),
        target: target.into(),
        fstype: fstype.into(),
        flags,
        data: data.into(),
    }))
}

fn open(path: &str, flags: u64) -> EventData {
    EventData::Openat(OpenArgs {
        dirfd: -100,
        path: path.into(),
        flags,
        mode: 0,
    })
}

fn web_container() -> Container {
    Container {
        container_id: WEB_ID.into(),
        name: "web".into(),
        image: "localhost:5000/nginx:test".into(),
        image_id: IMAGE_ID.into(),
        init_pid: Some(410),
        cgroup_id: Some(WEB_CGROUP_ID),
        cgroup_path: Some(format!("/sys/fs/cgroup/unified/docker/{WEB_ID}")),
        created_ts_nanos: Some(ms(300)),
        started_ts_nanos: Some(ms(420)),
        died_ts_nanos: Some(ms(1800)),
        destroyed_ts_nanos: None,
        exit_code: Some(0),
        namespaces: vec![
            ("pid".into(), u64::from(WEB_NS.pid_ns)),
            ("mnt".into(), u64::from(WEB_NS.mnt_ns)),
            ("net".into(), u64::from(WEB_NS.net_ns)),
            ("uts".into(), 4026532402),
            ("ipc".into(), 4026532404),
        ],
        lower_dirs: (0..3).rev().map(layer_dir).collect(),
        upper_dir: Some(UPPER_DIR.into()),
        work_dir: Some(WORK_DIR.into()),
        merged_dir: Some(MERGED_DIR.into()),
        inspect_json: "{}".into(),
    }
}

fn process(
    t: &Task,
    ppid: u32,
    start: u64,
    exit: Option<u64>,
    component: Component,
    argv: &[&str],
) -> Process {
    Process {
        pid: t.pid,
        ppid,
        comm: t.comm.into(),
        exe: argv.first().map(|s| (*s).to_owned()),
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        start_ts_nanos: start,
        exit_ts_nanos: exit,
        exit_code: exit.map(|_| 0),
        container_id: (t.cgroup_id == WEB_CGROUP_ID).then(|| WEB_ID.to_owned()),
        component,
        cgroup_id: t.cgroup_id,
        ns: t.ns,
    }
}

/// The hand-made events of the sample session, in time order.
pub fn sample_events() -> Vec<Event> {
    let mut v = Vec::new();
    pull(&mut v);
    create(&mut v);
    rootfs_and_init(&mut v);
    privileges_and_exec(&mut v);
    run(&mut v);
    v
}

/// The pull: the daemon talks to the registry and unpacks three layers.
fn pull(v: &mut Vec<Event>) {
    use EventData as D;
    v.push(ev(
        ms(10),
        &DOCKERD,
        Some(0),
        D::Socket(SocketArgs {
            family: 2,
            sock_type: 1 | 0o2000000,
            protocol: 0,
        }),
    ));
    v.push(ev(
        ms(11),
        &DOCKERD,
        Some(-115),
        D::Connect(SockArgs {
            fd: 7,
            addr: SockAddr::Inet {
                ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 5000,
            },
        }),
    ));
    v.push(ev(
        ms(12),
        &DOCKERD,
        None,
        D::TcpState(Box::new(TcpStateChange {
            old_state: 2,
            new_state: 1,
            saddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            sport: 40112,
            daddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dport: 5000,
        })),
    ));
    v.push(ev(
        ms(13),
        &DOCKERD,
        None,
        D::Packet(Box::new(PacketSummary {
            ifindex: 1,
            protocol: 6,
            saddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            sport: 40112,
            daddr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dport: 5000,
            len: 180,
            payload: b"GET /v2/nginx/manifests/test HTTP/1.1\r\nHost: localhost:5000\r\n".to_vec(),
        })),
    ));
    // Docker unpacks a layer in a helper that first moves its root into the layer's
    // directory: its paths are inside the layer.
    v.push(ev(
        ms(20),
        &DOCKERD,
        None,
        D::Fork(ForkInfo {
            parent_pid: 100,
            parent_tgid: 100,
            child_pid: 150,
            child_tgid: 150,
        }),
    ));
    v.push(ev(
        ms(21),
        &UNTAR,
        Some(0),
        D::PivotRoot(PivotRootArgs {
            new_root: layer_dir(1).into(),
            put_old: layer_dir(1).into(),
        }),
    ));
    v.push(ev(
        ms(22),
        &UNTAR,
        Some(5),
        open("/usr/share/nginx/html/index.html", 0o1 | 0o100 | 0o1000),
    ));
    v.push(ev(ms(24), &UNTAR, None, D::Exit(ExitInfo { code: 0 })));
    for i in 0..3u32 {
        let t = 40 + u64::from(i) * 60;
        v.push(ev(
            ms(t),
            &DOCKERD,
            Some(0),
            D::Mkdirat(MkdirArgs {
                dirfd: -100,
                path: layer_dir(i).into(),
                mode: 0o755,
            }),
        ));
        for (k, f) in ["etc/nginx/nginx.conf", "usr/sbin/nginx", "etc/passwd"]
            .iter()
            .enumerate()
        {
            let path = format!("{}/{f}", layer_dir(i));
            v.push(ev(
                ms(t + 5 + k as u64 * 5),
                &DOCKERD,
                Some(20 + k as i64),
                open(&path, 0o1 | 0o100 | 0o1000 | 0o2000000),
            ));
            v.push(ev(
                ms(t + 7 + k as u64 * 5),
                &DOCKERD,
                None,
                D::FileIo(FileIoSummary {
                    fd: 3,
                    path: Some(path.into()),
                    bytes_read: 0,
                    bytes_written: 4096 * (k as u64 + 1),
                    reads: 0,
                    writes: k as u32 + 1,
                }),
            ));
        }
    }
}

/// The create: containerd starts a shim, which runs runc; runc makes the cgroup and the
/// namespaces.
fn create(v: &mut Vec<Event>) {
    use EventData as D;
    // Create: containerd starts a shim, which runs runc.
    v.push(ev(
        ms(320),
        &CONTAINERD,
        None,
        D::Fork(ForkInfo {
            parent_pid: 200,
            parent_tgid: 200,
            child_pid: 300,
            child_tgid: 300,
        }),
    ));
    v.push(ev(
        ms(322),
        &SHIM,
        None,
        D::Exec(ExecArgs {
            filename: "/usr/bin/containerd-shim-runc-v2".into(),
            argv: vec![
                "containerd-shim-runc-v2".into(),
                "-id".into(),
                WEB_ID.into(),
            ],
        }),
    ));
    v.push(ev(
        ms(330),
        &SHIM,
        None,
        D::Fork(ForkInfo {
            parent_pid: 300,
            parent_tgid: 300,
            child_pid: 400,
            child_tgid: 400,
        }),
    ));
    v.push(ev(
        ms(331),
        &RUNC,
        None,
        D::Exec(ExecArgs {
            filename: "/usr/bin/runc".into(),
            argv: vec![
                "runc".into(),
                "create".into(),
                "--bundle".into(),
                "/run/b".into(),
            ],
        }),
    ));
    // runc re-executes itself from a sealed copy of its binary.
    v.push(ev(
        ms(332),
        &RUNC,
        Some(0),
        D::Execveat(ExecveatArgs {
            dirfd: 7,
            path: "".into(),
            flags: 0x1000,
        }),
    ));
    v.push(ev(
        ms(335),
        &RUNC,
        None,
        D::CgroupMkdir(CgroupMkdirInfo {
            path: format!("/docker/{WEB_ID}").into(),
            target_cgroup_id: WEB_CGROUP_ID,
            hierarchy_id: 0,
        }),
    ));
    v.push(ev(
        ms(340),
        &RUNC,
        Some(410),
        D::Clone(CloneArgs { flags: 0x0120_0011 }),
    ));
    v.push(ev(
        ms(340),
        &RUNC,
        Some(412),
        D::Clone3(Box::new(Clone3Args {
            flags: 0x2_0000_0000 | 0x0000_0100,
            exit_signal: 17,
            cgroup_fd: 9,
            target_cgroup_id: WEB_CGROUP_ID,
            target_cgroup: Some(format!("/docker/{WEB_ID}").into()),
            set_tid: Vec::new(),
        })),
    ));
    v.push(ev(
        ms(341),
        &RUNC,
        None,
        D::Fork(ForkInfo {
            parent_pid: 400,
            parent_tgid: 400,
            child_pid: 410,
            child_tgid: 410,
        }),
    ));
    v.push(ev(
        ms(345),
        &RUNC_INIT_HOST,
        Some(0),
        D::Unshare(UnshareArgs { flags: 0x6c02_0000 }),
    ));
    v.push(ev(
        ms(350),
        &RUNC,
        None,
        D::CgroupAttach(CgroupAttachInfo {
            path: format!("/docker/{WEB_ID}").into(),
            dst_pid: 410,
            target_cgroup_id: WEB_CGROUP_ID,
            hierarchy_id: 0,
        }),
    ));
    v.push(ev(
        ms(351),
        &RUNC_INIT,
        Some(0),
        D::Sethostname(SethostnameArgs { name: "web".into() }),
    ));
    v.push(ev(
        ms(352),
        &RUNC_INIT,
        Some(0),
        D::Setns(SetnsArgs {
            fd: 5,
            nstype: 0x4000_0000,
        }),
    ));
}

/// The root filesystem: overlay, mounts (with the old and the new mount API), pivot_root.
fn rootfs_and_init(v: &mut Vec<Event>) {
    use EventData as D;
    let lower = (0..3).rev().map(layer_dir).collect::<Vec<_>>().join(":");
    let overlay_data = format!("lowerdir={lower},upperdir={UPPER_DIR},workdir={WORK_DIR}");
    v.push(ev(
        ms(355),
        &RUNC_INIT,
        Some(0),
        mount("", "/", "", 0x4000 | 0x40000, ""),
    ));
    v.push(ev(
        ms(356),
        &DOCKERD,
        Some(0),
        mount("overlay", MERGED_DIR, "overlay", 0, &overlay_data),
    ));
    v.push(ev(
        ms(360),
        &RUNC_INIT,
        Some(0),
        mount(MERGED_DIR, MERGED_DIR, "", 0x1000 | 0x4000, ""),
    ));
    // runc opens the mount point with O_PATH and mounts through /proc/self/fd/N.
    v.push(ev(
        ms(361),
        &RUNC_INIT,
        Some(6),
        open(&format!("{MERGED_DIR}/proc"), 0o10000000 | 0o2000000),
    ));
    v.push(ev(
        ms(362),
        &RUNC_INIT,
        Some(0),
        mount("proc", "/proc/self/fd/6", "proc", 0x2 | 0x4 | 0x8, ""),
    ));
    v.push(ev(
        ms(364),
        &RUNC_INIT,
        Some(-2),
        mount(
            "sysfs",
            &format!("{MERGED_DIR}/sys/missing"),
            "sysfs",
            0x1 | 0x2 | 0x4 | 0x8,
            "",
        ),
    ));
    v.push(ev(
        ms(366),
        &RUNC_INIT,
        Some(0),
        mount(
            "tmpfs",
            &format!("{MERGED_DIR}/dev"),
            "tmpfs",
            0x2 | 0x1000000,
            "mode=755,size=65536k",
        ),
    ));
    new_mount_api(v, ms(366) + 100_000);
    v.push(ev(
        ms(368),
        &RUNC_INIT,
        Some(0),
        D::Setns(SetnsArgs {
            fd: 6,
            nstype: 0x0800_0000,
        }),
    ));
    v.push(ev(
        ms(369),
        &RUNC_INIT,
        Some(0),
        D::Chdir(PathArgs {
            path: MERGED_DIR.into(),
        }),
    ));
    v.push(ev(
        ms(369) + 500_000,
        &RUNC_INIT,
        Some(0),
        D::Fchdir(FchdirArgs {
            fd: 6,
            path: Some(format!("{MERGED_DIR}/proc").into()),
        }),
    ));
    v.push(ev(
        ms(370),
        &RUNC_INIT,
        Some(0),
        D::PivotRoot(PivotRootArgs {
            new_root: ".".into(),
            put_old: ".".into(),
        }),
    ));
    v.push(ev(
        ms(371),
        &RUNC_INIT,
        Some(0),
        D::Umount(UmountArgs {
            target: ".".into(),
            flags: 2,
        }),
    ));
    v.push(ev(
        ms(372),
        &RUNC_INIT,
        Some(-1),
        D::Chroot(PathArgs { path: "/".into() }),
    ));
}

/// runc's init drops to the container's user and privileges, then execs the entrypoint.
fn privileges_and_exec(v: &mut Vec<Event>) {
    use EventData as D;
    v.push(ev(
        ms(373),
        &RUNC_INIT,
        Some(0o022),
        D::Umask(UmaskArgs { mask: 0o022 }),
    ));
    v.push(ev(
        ms(373) + 200_000,
        &RUNC_INIT,
        Some(0),
        D::Setgroups(SetgroupsArgs {
            size: 1,
            gids: vec![101],
        }),
    ));
    v.push(ev(
        ms(373) + 400_000,
        &RUNC_INIT,
        Some(0),
        D::Setgid(SetgidArgs { gid: 101 }),
    ));
    v.push(ev(
        ms(373) + 600_000,
        &RUNC_INIT,
        Some(0),
        D::Setuid(SetuidArgs { uid: 101 }),
    ));
    v.push(ev(
        ms(374),
        &RUNC_INIT,
        Some(0),
        D::Prctl(PrctlArgs {
            option: 38,
            arg2: 1,
        }),
    ));
    v.push(ev(
        ms(375),
        &RUNC_INIT,
        Some(0),
        D::Capset(CapsetArgs {
            effective: 0xa80425fb,
            permitted: 0xa80425fb,
            inheritable: 0,
        }),
    ));
    v.push(ev(
        ms(376),
        &RUNC_INIT,
        Some(0),
        D::Seccomp(SeccompArgs {
            operation: 1,
            flags: 0,
        }),
    ));
    v.push(ev(
        ms(400),
        &NGINX,
        None,
        D::Exec(ExecArgs {
            filename: "/usr/sbin/nginx".into(),
            argv: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
        }),
    ));
}

/// The run: nginx serves a page; a docker exec joins later; the container stops.
fn run(v: &mut Vec<Event>) {
    use EventData as D;
    // Run: nginx reads its configuration, forks a worker and serves a page.
    v.push(ev(
        ms(430),
        &NGINX,
        Some(3),
        open("/etc/nginx/nginx.conf", 0o2000000),
    ));
    v.push(ev(
        ms(431),
        &NGINX,
        Some(-2),
        open("/etc/nginx/conf.d/missing.conf", 0o2000000),
    ));
    v.push(ev(
        ms(432),
        &NGINX,
        Some(4),
        D::Openat2(OpenArgs {
            dirfd: -100,
            path: format!("{UPPER_DIR}/var/log/nginx/access.log").into(),
            flags: 0o1 | 0o100 | 0o2000,
            mode: 0o644,
        }),
    ));
    v.push(ev(
        ms(433),
        &NGINX,
        Some(0),
        D::Mkdir(MkdirArgs {
            dirfd: -100,
            path: "/var/cache/nginx".into(),
            mode: 0o700,
        }),
    ));
    v.push(ev(
        ms(440),
        &NGINX,
        Some(6),
        D::Socket(SocketArgs {
            family: 10,
            sock_type: 1,
            protocol: 6,
        }),
    ));
    v.push(ev(
        ms(441),
        &NGINX,
        Some(0),
        D::Bind(SockArgs {
            fd: 6,
            addr: SockAddr::Inet {
                ip: "::".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                port: 80,
            },
        }),
    ));
    v.push(ev(
        ms(442),
        &NGINX,
        Some(0),
        D::Listen(ListenArgs {
            fd: 6,
            backlog: 511,
        }),
    ));
    v.push(ev(
        ms(450),
        &NGINX,
        None,
        D::Fork(ForkInfo {
            parent_pid: 410,
            parent_tgid: 410,
            child_pid: 411,
            child_tgid: 411,
        }),
    ));
    v.push(ev(
        ms(600),
        &WORKER,
        Some(9),
        D::Accept4(SockArgs {
            fd: 6,
            addr: SockAddr::Inet {
                ip: IpAddr::V4(Ipv4Addr::new(172, 17, 0, 1)),
                port: 51234,
            },
        }),
    ));
    v.push(ev(
        ms(601),
        &WORKER,
        Some(10),
        D::Accept(SockArgs {
            fd: 7,
            addr: SockAddr::Unix {
                path: "/run/nginx.sock".into(),
            },
        }),
    ));
    v.push(ev(
        ms(602),
        &WORKER,
        None,
        D::Custom(CustomRecord {
            probe_id: 7,
            bytes: lat_record(411, 1_234_567, "nginx"),
        }),
    ));
    v.push(ev(
        ms(700),
        &WORKER,
        None,
        D::FileIo(FileIoSummary {
            fd: 3,
            path: Some(format!("{}/usr/share/nginx/html/index.html", layer_dir(1)).into()),
            bytes_read: 615,
            bytes_written: 0,
            reads: 1,
            writes: 0,
        }),
    ));
    // A `docker exec` joins the container's namespaces later on.
    v.push(ev(
        ms(1200),
        &RUNC,
        Some(0),
        D::Setns(SetnsArgs {
            fd: 8,
            nstype: 0x2000_0000,
        }),
    ));
    v.push(ev(ms(1750), &WORKER, None, D::Exit(ExitInfo { code: 0 })));
    v.push(ev(ms(1790), &NGINX, None, D::Exit(ExitInfo { code: 15 })));
}

/// Mounts as runc 1.2 makes them with the new mount API: a detached clone of the host's
/// resolv.conf bind-mounted in, a tmpfs configured through a filesystem context, a picked
/// mount reconfigured, and /proc/sys made read-only recursively.
fn new_mount_api(v: &mut Vec<Event>, start: u64) {
    use EventData as D;
    let t = |k: u64| start + k * 50_000;
    let calls: Vec<(Option<i64>, EventData)> = vec![
        (
            Some(11),
            D::OpenTree(OpenTreeArgs {
                dirfd: -100,
                path: "/var/lib/docker/containers/web/resolv.conf".into(),
                flags: 1 | 0o2000000,
            }),
        ),
        (
            Some(0),
            D::MoveMount(Box::new(MoveMountArgs {
                from_dirfd: 11,
                from_path: "".into(),
                to_dirfd: -100,
                to_path: format!("{MERGED_DIR}/etc/resolv.conf").into(),
                flags: 0x4,
            })),
        ),
        (
            Some(12),
            D::Fsopen(FsopenArgs {
                fstype: "tmpfs".into(),
                flags: 1,
            }),
        ),
        (
            Some(0),
            D::Fsconfig(FsconfigArgs {
                fd: 12,
                cmd: 1,
                key: "size".into(),
                value: "65536k".into(),
                aux: 0,
            }),
        ),
        (
            Some(0),
            D::Fsconfig(FsconfigArgs {
                fd: 12,
                cmd: 6,
                key: "".into(),
                value: "".into(),
                aux: 0,
            }),
        ),
        (
            Some(13),
            D::Fsmount(FsmountArgs {
                fs_fd: 12,
                flags: 1,
                attr_flags: 0x2 | 0x4,
            }),
        ),
        (
            Some(0),
            D::MoveMount(Box::new(MoveMountArgs {
                from_dirfd: 13,
                from_path: "".into(),
                to_dirfd: -100,
                to_path: format!("{MERGED_DIR}/dev/shm").into(),
                flags: 0x4,
            })),
        ),
        (
            Some(14),
            D::Fspick(FspickArgs {
                dirfd: -100,
                path: format!("{MERGED_DIR}/dev/shm").into(),
                flags: 1,
            }),
        ),
        (
            Some(0),
            D::MountSetattr(Box::new(MountSetattrArgs {
                dirfd: -100,
                path: format!("{MERGED_DIR}/proc/sys").into(),
                flags: 0x8000,
                attr_set: 0x1,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            })),
        ),
    ];
    for (k, (result, data)) in calls.into_iter().enumerate() {
        v.push(ev(t(k as u64), &RUNC_INIT, result, data));
    }
}

/// BTF describing `struct lat_record { u32 pid; u64 latency_ns; char comm[16]; }`, as a
/// probe's object would carry it (written by hand: tests need no clang).
pub fn lat_record_btf() -> Vec<u8> {
    let strings = b"\0pid\0latency_ns\0comm\0lat_record\0u32\0u64\0char\0";
    let at = |name: &str| -> u32 {
        let needle = format!("\0{name}\0");
        strings
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .map_or(0, |i| i as u32 + 1)
    };
    let mut types = Vec::new();
    let mut put = |words: &[u32]| {
        for w in words {
            types.extend_from_slice(&w.to_le_bytes());
        }
    };
    const INT: u32 = 1 << 24;
    const ARRAY: u32 = 3 << 24;
    const STRUCT: u32 = 4 << 24;
    put(&[at("u32"), INT, 4, 32]); // 1
    put(&[at("u64"), INT, 8, 64]); // 2
    put(&[at("char"), INT, 1, (1 << 24) | 8]); // 3: signed char
    put(&[0, ARRAY, 0, 3, 1, 16]); // 4: char[16]
    put(&[at("lat_record"), STRUCT | 3, 32]); // 5
    put(&[at("pid"), 1, 0]);
    put(&[at("latency_ns"), 2, 64]);
    put(&[at("comm"), 4, 128]);
    let mut btf = Vec::new();
    btf.extend_from_slice(&0xeb9f_u16.to_le_bytes());
    btf.extend_from_slice(&[1, 0]);
    for word in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        btf.extend_from_slice(&word.to_le_bytes());
    }
    btf.extend_from_slice(&types);
    btf.extend_from_slice(strings);
    btf
}

/// One `struct lat_record` (see [`lat_record_btf`]).
pub fn lat_record(pid: u32, latency_ns: u64, comm: &str) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b[..4].copy_from_slice(&pid.to_le_bytes());
    b[8..16].copy_from_slice(&latency_ns.to_le_bytes());
    let c = comm.as_bytes();
    let n = c.len().min(15);
    b[16..16 + n].copy_from_slice(&c[..n]);
    b
}

/// Writes the sample session to `path` (replacing it).
pub fn write_sample_session(path: &Path) -> Result<()> {
    let mut w = SessionWriter::create(
        path,
        &info("sample-nginx"),
        WriterOptions {
            overwrite: true,
            chunk_events: 16,
            ..WriterOptions::default()
        },
    )?;
    write_sample_entities(&mut w)?;
    let mut events = sample_events();
    // Daemon events, samples and the loss go through their own writer calls.
    let docker = [
        (5, "image", "pull", "localhost:5000/nginx:test"),
        (300, "container", "create", WEB_ID),
        (420, "container", "start", WEB_ID),
        (1200, "container", "exec_start: sh", WEB_ID),
        (1800, "container", "die", WEB_ID),
    ];
    for (t, ty, action, actor) in docker {
        w.docker_event(&DockerEvent {
            ts_nanos: ms(t),
            event_type: ty.into(),
            action: action.into(),
            actor_id: actor.into(),
            attributes: vec![
                ("name".into(), "web".into()),
                ("image".into(), "localhost:5000/nginx:test".into()),
            ],
        })?;
    }
    for i in 0..16u64 {
        w.resource_sample(&Sample {
            ts_nanos: ms(420 + i * 100),
            sample: ResourceSample {
                container_id: WEB_ID.into(),
                cpu_nanos: i * i * 3_000_000,
                mem_bytes: (4 + i) << 20,
                mem_limit_bytes: 512 << 20,
                blk_read_bytes: i * 40_960,
                blk_write_bytes: i * 8_192,
                net_rx_bytes: i * 1_500,
                net_tx_bytes: i * 700,
                pids: if i < 14 { 2 } else { 1 },
            },
        })?;
    }
    w.loss(&Loss {
        ts_nanos: ms(1000),
        until_ts_nanos: ms(1050),
        source: LossSource::RingBuffer,
        cpu: 1,
        count: 12,
    })?;
    events.sort_by_key(|e| e.header.ts_nanos);
    for e in events {
        w.push(e)?;
    }
    w.finish(Some(ms(1900)))?;
    Ok(())
}

fn write_sample_entities(w: &mut SessionWriter) -> Result<()> {
    w.upsert_container(&web_container())?;
    w.upsert_image(&Image {
        image_id: IMAGE_ID.into(),
        reference: "localhost:5000/nginx:test".into(),
        manifest_digest: Some("sha256:feed".into()),
        config_json: "{}".into(),
        size_bytes: 9 << 20,
        existed_before: false,
    })?;
    for i in 0..3 {
        w.upsert_layer(&Layer {
            image_id: IMAGE_ID.into(),
            layer_index: i,
            digest: Some(format!("sha256:d{i}")),
            diff_id: format!("sha256:0{i}"),
            size_bytes: u64::from(i + 1) << 20,
            overlay_dir: Some(layer_dir(i)),
        })?;
    }
    for p in [
        process(
            &DOCKERD,
            1,
            START_NANOS,
            None,
            Component::Dockerd,
            &["/usr/bin/dockerd"],
        ),
        process(
            &CONTAINERD,
            1,
            START_NANOS,
            None,
            Component::Containerd,
            &["/usr/bin/containerd"],
        ),
        process(
            &SHIM,
            200,
            ms(320),
            None,
            Component::Shim,
            &["/usr/bin/containerd-shim-runc-v2", "-id", WEB_ID],
        ),
        process(
            &RUNC,
            300,
            ms(330),
            Some(ms(1300)),
            Component::Runc,
            &["runc", "create"],
        ),
        process(
            &NGINX,
            400,
            ms(341),
            Some(ms(1790)),
            Component::ContainerInit,
            &["nginx", "-g", "daemon off;"],
        ),
        process(
            &WORKER,
            410,
            ms(450),
            Some(ms(1750)),
            Component::Workload,
            &["nginx: worker process"],
        ),
    ] {
        w.upsert_process(&p)?;
    }
    w.bookmark(&Bookmark {
        ts_nanos: ms(345),
        label: "runc unshares".into(),
        note: "The container's namespaces are created here.".into(),
    })?;
    w.upsert_probe(&Probe {
        probe_id: 7,
        name: "http_latency".into(),
        builtin: false,
        programs: vec![("lat".into(), "tracepoint/syscalls/sys_enter_accept4".into())],
        record_type: Some("lat_record".into()),
        btf: lat_record_btf(),
        object_sha256: None,
    })
}

/// Writes a session of `n` synthetic events around one container (the generator's cgroup),
/// with a resource sample every 10 ms and a loss in the middle, in chunks of
/// `chunk_events`. For load benchmarks and for damaging on purpose.
pub fn write_generated_session(
    path: &Path,
    n: usize,
    seed: u64,
    chunk_events: usize,
) -> Result<()> {
    let mut w = SessionWriter::create(
        path,
        &info("generated"),
        WriterOptions {
            overwrite: true,
            chunk_events,
            ..WriterOptions::default()
        },
    )?;
    let id = "4f1c2a9e0b7d".repeat(5) + "abcd";
    let mut generator = Generator::new(seed);
    let mut next_sample = START_NANOS;
    let mut loss_done = false;
    let mut i = 0u64;
    let mut first = true;
    for _ in 0..n {
        let e = generator.next_event();
        let ts = e.header.ts_nanos;
        if first {
            first = false;
            w.upsert_container(&Container {
                container_id: id.clone(),
                name: "generated".into(),
                image: "localhost:5000/nginx:bench".into(),
                image_id: IMAGE_ID.into(),
                init_pid: Some(2130),
                cgroup_id: Some(CONTAINER_CGROUP_ID),
                created_ts_nanos: Some(ts),
                started_ts_nanos: Some(ts),
                namespaces: vec![("pid".into(), 4026532301), ("mnt".into(), 4026532299)],
                inspect_json: "{}".into(),
                ..Container::default()
            })?;
        }
        while next_sample <= ts {
            i += 1;
            w.resource_sample(&Sample {
                ts_nanos: next_sample,
                sample: ResourceSample {
                    container_id: id.clone(),
                    cpu_nanos: i * 4_000_000,
                    mem_bytes: (8 << 20) + (i % 97) * 65536,
                    mem_limit_bytes: 0,
                    blk_read_bytes: i * 4096,
                    blk_write_bytes: i * 1024,
                    net_rx_bytes: i * 300,
                    net_tx_bytes: i * 200,
                    pids: 3,
                },
            })?;
            next_sample += 10_000_000;
        }
        if !loss_done && w.event_count() as usize >= n / 2 {
            loss_done = true;
            w.loss(&Loss {
                ts_nanos: ts,
                until_ts_nanos: ts + 2_000_000,
                source: LossSource::RingBuffer,
                cpu: 0,
                count: 250,
            })?;
        }
        w.push(e)?;
    }
    w.finish(None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_schema::btf::{Value, decode_record, flatten};

    #[test]
    fn the_hand_written_btf_decodes() {
        let fields = decode_record(
            &lat_record_btf(),
            "lat_record",
            &lat_record(411, 1_234_567, "nginx"),
        )
        .unwrap();
        assert_eq!(
            flatten(&fields),
            [
                ("pid".to_owned(), Value::UInt(411)),
                ("latency_ns".to_owned(), Value::UInt(1_234_567)),
                ("comm".to_owned(), Value::Str("nginx".into())),
            ]
        );
    }
}
