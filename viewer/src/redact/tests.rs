use beefine_schema::{FieldClass, FieldRef, Kind};

use super::*;

/// Every kind with an address or raw bytes among its fields is covered: after the rules,
/// its events hold no address that names a machine and no captured byte.
#[test]
fn no_kind_keeps_an_address_or_captured_bytes() {
    let covered: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| {
            k.fields().iter().any(|f| {
                matches!(
                    f.class,
                    FieldClass::Ip | FieldClass::Addr | FieldClass::Bytes
                )
            })
        })
        .collect();
    assert!(covered.contains(&Kind::Packet) && covered.contains(&Kind::Connect));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinds.beefine");
    let info = beefine_schema::SessionInfo {
        session_name: "kinds".into(),
        command: vec![],
        tool_version: "0".into(),
        host_kernel: "6.18".into(),
        hostname: "h".into(),
        clock_offset_nanos: 0,
        start_ts_nanos: 0,
    };
    let mut w = SessionWriter::create(&path, &info, WriterOptions::default()).unwrap();
    for e in beefine_testdata::generated::every_kind(11, 20, 1_000) {
        if covered.contains(&e.kind()) {
            w.push(e).unwrap();
        }
    }
    w.finish(None).unwrap();
    let session = Session::open(&path).unwrap();
    let mut rules = Rules::new(&[]);
    let mut seen = 0;
    each_event(&session, |e| {
        let out = event(&mut rules, e);
        out.data.visit_fields(&mut |d, v| match v {
            FieldRef::Ip(ip) => {
                assert!(IpNet(ip).ok(), "{} {}: {ip}", e.kind(), d.name);
            }
            FieldRef::Addr(SockAddr::Inet { ip, .. }) => {
                assert!(IpNet(*ip).ok(), "{} {}: {ip}", e.kind(), d.name);
            }
            FieldRef::Bytes(b) => assert!(b.iter().all(|b| *b == 0), "{} {}", e.kind(), d.name),
            _ => {}
        });
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert!(seen >= covered.len() * 20);
}

/// An address the rules may leave: one that names no machine, or a replacement.
struct IpNet(std::net::IpAddr);

impl IpNet {
    fn ok(&self) -> bool {
        match self.0 {
            std::net::IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || (v4.octets()[0] == 198 && (v4.octets()[1] & 0xfe) == 18)
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.segments()[..2] == [0x2001, 0xdb8]
                    || v6.to_ipv4_mapped().is_some_and(|v4| IpNet(v4.into()).ok())
            }
        }
    }
}

#[test]
fn the_value_after_a_secret_flag_is_a_secret_in_events_too() {
    let mut rules = Rules::new(&[]);
    let argv = ["mysql", "--password", "hunter2"];
    let e = Event {
        header: EventHeader {
            ts_nanos: 1,
            pid: 2,
            tgid: 2,
            comm: "mysql",
            cgroup_id: 1,
            ns: Default::default(),
        },
        result: None,
        data: EventData::Exec(beefine_schema::ExecArgs {
            filename: "/usr/bin/mysql",
            argv: argv.to_vec(),
        }),
    };
    let out = event(&mut rules, &e);
    let EventData::Exec(x) = &out.data else {
        panic!()
    };
    assert_eq!(
        x.argv.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["mysql", "--password", "REDACTED"]
    );
}
