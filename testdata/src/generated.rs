//! Events of every kind made from the kind descriptions alone: a value for each field that
//! suits what the field means (paths for paths, named bits for flags, …), so a new kind is
//! covered by every test that uses these without anyone writing its test data.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use beefine_schema::{
    Decode, Event, EventData, EventHeader, FieldDesc, FieldSource, Kind, LossSource, Namespaces,
    Str,
};

use crate::synth::Rng;

/// A [`FieldSource`] of plausible, deterministic values.
#[derive(Debug, Clone)]
pub struct Plausible {
    rng: Rng,
}

impl Plausible {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.below(items.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "/var/lib/docker/overlay2/4f1c2a9e0b7d/merged",
    "/usr/sbin/nginx",
    "/proc/self/fd/7",
    "/etc/hosts",
    "/sys/fs/cgroup",
    "/dev/pts",
    "",
];

impl FieldSource for Plausible {
    fn uint(&mut self, field: &FieldDesc, max: u64) -> u64 {
        let v = match field.decode {
            Decode::Flags(table) => table
                .iter()
                .filter(|_| self.rng.below(3) == 0)
                .fold(0, |m, (bit, _)| m | bit),
            Decode::CloneFlags { .. } => {
                [0x6c02_0000, 0x0120_0011, 0x2_0000_0100, 0][self.rng.below(4) as usize]
            }
            Decode::OpenFlags => [0o2000000, 0o2101, 0o10000000, 0][self.rng.below(4) as usize],
            Decode::Mode => [0o644, 0o755, 0o022, 0o700][self.rng.below(4) as usize],
            Decode::NsType => {
                [0x4000_0000, 0x0800_0000, 0x0002_0000, 0][self.rng.below(4) as usize]
            }
            Decode::Caps => 0xa80425fb,
            Decode::CgroupId => 7321,
            Decode::ByteCount => self.rng.below(1 << 20),
            Decode::Nanos | Decode::BootTime => 1_000_000_000 + self.rng.below(1_000_000_000),
            Decode::Port => [80, 5000, 40112, 0][self.rng.below(4) as usize],
            Decode::Signal => 17,
            _ => self.rng.below(1000),
        };
        v.min(max)
    }

    fn int(&mut self, field: &FieldDesc, min: i64, max: i64) -> i64 {
        let v = match field.decode {
            Decode::DirFd => [-100, 5, 9][self.rng.below(3) as usize],
            Decode::Fd => 3 + self.rng.below(20) as i64,
            Decode::WaitStatus => [0, 9, 1 << 8][self.rng.below(3) as usize],
            _ => self.rng.below(1000) as i64,
        };
        v.clamp(min, max)
    }

    fn string(&mut self, field: &FieldDesc) -> String {
        match field.decode {
            Decode::Path => self.pick(PATHS).to_owned(),
            Decode::MountSource => self.pick(&["overlay", "proc", "/dev/sda1", "tmpfs", ""]).into(),
            Decode::MountData => self
                .pick(&[
                    "lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/u,workdir=/w",
                    "mode=755,size=65536k",
                    "",
                ])
                .into(),
            Decode::CgroupPath => "/docker/4f1c2a9e0b7d".into(),
            Decode::ContainerId => "4f1c2a9e0b7d".repeat(5) + "abcd",
            Decode::Argv => self.pick(&["runc", "init", "nginx", "-g", "daemon off;"]).into(),
            Decode::Attributes => self.pick(&["name", "web", "image", "nginx:1"]).into(),
            _ => self
                .pick(&["overlay", "tmpfs", "size", "1m", "web-1", "container"])
                .into(),
        }
    }

    fn len(&mut self, _field: &FieldDesc) -> usize {
        self.rng.below(4) as usize
    }

    fn present(&mut self, _field: &FieldDesc) -> bool {
        self.rng.below(4) != 0
    }

    fn ip(&mut self, _field: &FieldDesc) -> IpAddr {
        if self.rng.below(4) == 0 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    }

    fn loss_source(&mut self, _field: &FieldDesc) -> LossSource {
        LossSource::ALL[self.rng.below(LossSource::ALL.len() as u64) as usize]
    }
}

/// `per_kind` events of every kind, in time order from `start_nanos`, 1 µs apart.
pub fn every_kind(seed: u64, per_kind: usize, start_nanos: u64) -> Vec<Event> {
    let mut g = Plausible::new(seed);
    let mut out = Vec::with_capacity(Kind::COUNT * per_kind);
    let ns = Namespaces {
        pid_ns: 4026532301,
        mnt_ns: 4026532299,
        net_ns: 4026532304,
        uts_ns: 4026532300,
        ipc_ns: 4026532302,
        user_ns: 4026531837,
        cgroup_ns: 4026531835,
        time_ns: 4026531834,
    };
    for round in 0..per_kind {
        for &kind in Kind::ALL {
            let data = EventData::<Str>::generate(kind, &mut g);
            let i = out.len() as u64;
            out.push(Event {
                header: EventHeader {
                    ts_nanos: start_nanos + i * 1_000,
                    pid: 400 + round as u32,
                    tgid: 400 + round as u32,
                    comm: Str::from("runc:[2:INIT]"),
                    cgroup_id: 7321,
                    ns,
                },
                result: kind
                    .has_result()
                    .then_some(if i.is_multiple_of(5) { -2 } else { 0 }),
                data,
            });
        }
    }
    out
}
