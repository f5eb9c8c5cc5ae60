//! The events of the sample session: a `docker pull` and `docker run` of nginx told step by
//! step, with an event of every kind.

use std::net::{IpAddr, Ipv4Addr};

use beefine_schema::*;

use crate::sessions::{
    CONTAINERD, DOCKERD, MERGED_DIR, NGINX, RUNC, RUNC_INIT, RUNC_INIT_HOST, SHIM, UNTAR,
    UPPER_DIR, WEB_CGROUP_ID, WEB_ID, WORK_DIR, WORKER, ev, lat_record, layer_dir, mount, ms, open,
};

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
    // What a CRI runtime reports of a container (kind `cri`), as if it ran the same one.
    v.push(Event::untasked(
        ms(1795),
        D::Cri(Box::new(CriInfo {
            method: "".into(),
            state: "exited".into(),
            container_id: WEB_ID.into(),
            pod_id: "".into(),
            name: "web".into(),
            duration_nanos: 0,
            error: "".into(),
        })),
    ));
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
