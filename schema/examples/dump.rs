//! Prints every event of a session, one per line (a debugging aid; `beefine-view export`
//! is the public interface).
//!
//! `cargo run -p beefine_schema --example dump -- FILE [KIND…]`

use std::ops::ControlFlow;
use std::path::PathBuf;

use beefine_schema::{Kind, KindSet, Query, Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: dump FILE [KIND…]")?);
    let kinds: Vec<Kind> = args
        .map(|k| Kind::from_name(&k).ok_or(format!("unknown kind {k}")))
        .collect::<Result<_, _>>()?;
    let s = Session::open(&path)?;
    let start = s.meta().info.start_ts_nanos;
    let query = Query {
        kinds: (!kinds.is_empty()).then(|| kinds.into_iter().collect::<KindSet>()),
        ..Query::all()
    };
    let summary = s.scan(&query, |e| {
        let t = e.header.ts_nanos.saturating_sub(start) as f64 / 1e9;
        println!(
            "{t:10.6} {:>7}/{:<7} {:<16} cg={:<6} ns={}/{}/{} {:<12} {:?} {:?}",
            e.header.pid,
            e.header.tgid,
            e.header.comm,
            e.header.cgroup_id,
            e.header.ns.pid_ns,
            e.header.ns.mnt_ns,
            e.header.ns.net_ns,
            e.kind().name(),
            e.result,
            e.data
        );
        ControlFlow::Continue(())
    })?;
    for err in summary.errors {
        eprintln!("error: {err}");
    }
    Ok(())
}
