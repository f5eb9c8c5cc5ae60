//! Sessions written through the schema writer for tests and benchmarks.
//!
//! [`write_sample_session`] is a small, hand-made `docker pull` + `docker run` of nginx with
//! an event of every kind and data for every panel (containers, processes, images and
//! layers, mounts, namespace calls, Docker events, resource samples, a loss, a custom
//! probe). [`write_generated_session`] adds any number of synthetic events
//! ([`beefine_schema::synth::Generator`]) around one container, for load benchmarks.

use std::path::Path;

use beefine_schema::{
    Bookmark, Component, Container, DockerEvent, Event, EventData, EventHeader, Image, Layer, Loss,
    LossSource, MountArgs, Namespaces, OpenArgs, Probe, Process, ResourceSample, Result, Sample,
    SessionInfo, SessionWriter, Str, WriterOptions,
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
pub(crate) const LAYER_HEX: &str =
    "5e1f0a9c7b3d2e485e1f0a9c7b3d2e485e1f0a9c7b3d2e485e1f0a9c7b3d2e48";

/// Overlay directory of layer `i` of the sample image.
pub fn layer_dir(i: u32) -> String {
    // 64 hexadecimal digits, like the directories Docker makes.
    format!("/var/lib/docker/overlay2/{i}{}/diff", &LAYER_HEX[1..])
}
pub const UPPER_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/diff";
pub const MERGED_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/merged";
pub(crate) const WORK_DIR: &str = "/var/lib/docker/overlay2/9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/work";

pub(crate) fn ms(n: u64) -> u64 {
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

pub(crate) struct Task {
    pid: u32,
    comm: &'static str,
    cgroup_id: u64,
    ns: Namespaces,
}

pub(crate) const DOCKERD: Task = Task {
    pid: 100,
    comm: "dockerd",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const UNTAR: Task = Task {
    pid: 150,
    comm: "docker-untar",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const CONTAINERD: Task = Task {
    pid: 200,
    comm: "containerd",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const SHIM: Task = Task {
    pid: 300,
    comm: "containerd-shim",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const RUNC: Task = Task {
    pid: 400,
    comm: "runc",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const RUNC_INIT_HOST: Task = Task {
    pid: 410,
    comm: "runc:[1:CHILD]",
    cgroup_id: 1,
    ns: HOST_NS,
};
pub(crate) const RUNC_INIT: Task = Task {
    pid: 410,
    comm: "runc:[2:INIT]",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};
pub(crate) const NGINX: Task = Task {
    pid: 410,
    comm: "nginx",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};
pub(crate) const WORKER: Task = Task {
    pid: 411,
    comm: "nginx",
    cgroup_id: WEB_CGROUP_ID,
    ns: WEB_NS,
};

pub(crate) fn ev(ts: u64, t: &Task, result: Option<i64>, data: EventData) -> Event {
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

pub(crate) fn mount(source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> EventData {
    EventData::Mount(Box::new(MountArgs {
        source: source.into(),
        target: target.into(),
        fstype: fstype.into(),
        flags,
        data: data.into(),
    }))
}

pub(crate) fn open(path: &str, flags: u64) -> EventData {
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
        pod_id: None,
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
    let mut events = crate::story::sample_events();
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
