//! What differs, in a few words: the new namespaces, the namespaces joined, the network
//! endpoint, the chapters, the programs run, the kinds of call, the failures, the
//! settings and the mounts, each said of B compared with A (`no CLONE_NEWNET`).

use std::collections::{BTreeMap, BTreeSet};

use super::diff::{CallCount, Diff};
use super::{Digest, Tally};
use crate::Kind;
use crate::names::CLONE_FLAGS;
use crate::story::NS_TYPES;

/// Headlines given at most.
const MAX_HEADLINES: usize = 24;
/// Names listed at most in one headline.
const MAX_NAMES: usize = 6;

fn names_list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(MAX_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_NAMES {
        s.push_str(&format!(" and {} more", names.len() - MAX_NAMES));
    }
    s
}

fn clone_new_name(bit: u64) -> String {
    CLONE_FLAGS
        .iter()
        .find(|(b, _)| *b == bit)
        .map_or_else(|| format!("{bit:#x}"), |(_, n)| (*n).to_owned())
}

fn namespace_calls(a: &Tally, b: &Tally, out: &mut Vec<String>) {
    for bit in (0..64).map(|i| 1u64 << i) {
        match (a.new_ns_bits & bit != 0, b.new_ns_bits & bit != 0) {
            (true, false) => out.push(format!("no {}", clone_new_name(bit))),
            (false, true) => out.push(format!("{} too", clone_new_name(bit))),
            _ => {}
        }
    }
    for (i, t) in NS_TYPES.iter().enumerate() {
        match (a.setns[i], b.setns[i]) {
            (n, 0) if n > 0 => out.push(format!("no setns into its {t} namespace")),
            (0, n) if n > 0 => out.push(format!("setns into its {t} namespace ({n}×)")),
            _ => {}
        }
    }
}

fn cap_names(mask: u64) -> Vec<String> {
    crate::names::capability_names(mask)
        .split('|')
        .filter(|n| !n.is_empty() && *n != "none")
        .map(str::to_owned)
        .collect()
}

/// Capabilities, seccomp filters, the user and the cgroup settings.
fn isolation_calls(a: &Tally, b: &Tally, out: &mut Vec<String>) {
    match (a.caps_effective, b.caps_effective) {
        (Some(ca), Some(cb)) if ca != cb => {
            let mut s = format!(
                "{} effective capabilities (A: {})",
                cb.count_ones(),
                ca.count_ones()
            );
            let dropped = cap_names(ca & !cb);
            let added = cap_names(cb & !ca);
            if !dropped.is_empty() {
                s.push_str(&format!(": without {}", names_list(&dropped)));
            }
            if !added.is_empty() {
                s.push_str(&format!(
                    "{} with {}",
                    if dropped.is_empty() { ":" } else { ";" },
                    names_list(&added)
                ));
            }
            out.push(s);
        }
        (Some(ca), None) => out.push(format!(
            "no capset (A: {} effective capabilities)",
            ca.count_ones()
        )),
        (None, Some(cb)) => out.push(format!(
            "a capset to {} effective capabilities",
            cb.count_ones()
        )),
        _ => {}
    }
    match (a.seccomp_filters, b.seccomp_filters) {
        (n, 0) if n > 0 => out.push("no seccomp filter".to_owned()),
        (0, n) if n > 0 => out.push("a seccomp filter".to_owned()),
        _ => {}
    }
    if a.uid != b.uid {
        let u = |x: Option<u32>| x.map_or_else(|| "no setuid".to_owned(), |u| format!("uid {u}"));
        out.push(format!("its processes set {} (A: {})", u(b.uid), u(a.uid)));
    }
    let only_b: Vec<String> = b
        .cgroup_files
        .difference(&a.cgroup_files)
        .cloned()
        .collect();
    let only_a: Vec<String> = a
        .cgroup_files
        .difference(&b.cgroup_files)
        .cloned()
        .collect();
    if !only_b.is_empty() {
        out.push(format!(
            "its cgroup's {} written (A writes none of them)",
            names_list(&only_b)
        ));
    }
    if !only_a.is_empty() {
        out.push(format!("its cgroup's {} not written", names_list(&only_a)));
    }
}

/// Mounts whose options differ, said of their first options (`/: ro,relatime (A:
/// rw,relatime)`).
fn mount_options(diff: &Diff, out: &mut Vec<String>) {
    let changed: Vec<String> = diff
        .mounts
        .iter()
        .filter_map(|m| {
            let (a, b) = (m.a.as_ref()?, m.b.as_ref()?);
            (a.options != b.options)
                .then(|| format!("{} {} (A: {})", m.mount_point, b.options, a.options))
        })
        .collect();
    if !changed.is_empty() {
        out.push(format!("mounted {}", names_list(&changed)));
    }
}

/// Docker's bridge driver gives each endpoint a veth pair: a `network connect` to a bridge
/// network is where it is made.
fn bridge(calls: &[CallCount]) -> bool {
    calls.iter().any(|c| {
        c.kind == Kind::Docker
            && c.args.starts_with("network connect")
            && c.args.contains("type=bridge")
    })
}

fn kinds(d: &Digest) -> BTreeSet<Kind> {
    d.calls
        .keys()
        .map(|k| k.kind)
        .filter(|k| k.has_result())
        .collect()
}

/// Errno names of the failing calls the story does not expect to fail (and that are not a
/// missing file: programs and libraries look for many), with how many times they failed.
fn failures(calls: &[CallCount]) -> BTreeMap<&str, u64> {
    let mut out: BTreeMap<&str, u64> = BTreeMap::new();
    for c in calls {
        if !c.outcome.is_empty() && c.outcome != "ok" && c.outcome != "ENOENT" && !c.expected {
            *out.entry(c.outcome.as_str()).or_default() += u64::from(c.count);
        }
    }
    out
}

fn failure_text(f: &BTreeMap<&str, u64>) -> String {
    f.iter()
        .take(MAX_NAMES)
        .map(|(e, n)| format!("{e} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The headlines of `diff` (whose digests are `a` and `b`).
pub fn headlines(a: &Digest, b: &Digest, diff: &Diff) -> Vec<String> {
    let mut out = Vec::new();
    namespace_calls(&a.tally, &b.tally, &mut out);
    isolation_calls(&a.tally, &b.tally, &mut out);
    match (bridge(&diff.calls.only_a), bridge(&diff.calls.only_b)) {
        (true, false) => {
            out.push("no veth pair on a bridge (no network connect to a bridge)".to_owned());
        }
        (false, true) => {
            out.push("a veth pair on a bridge (a network connect to a bridge)".to_owned());
        }
        _ => {}
    }
    for n in &diff.namespaces {
        out.push(format!("{} namespace: {} (A: {})", n.ns_type, n.b, n.a));
    }
    let ka: BTreeSet<_> = a.chapters.iter().map(|c| c.chapter).collect();
    let kb: BTreeSet<_> = b.chapters.iter().map(|c| c.chapter).collect();
    for k in ka.difference(&kb) {
        out.push(format!("no {k} chapter"));
    }
    for k in kb.difference(&ka) {
        let article = if k.name().starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        out.push(format!("{article} {k} chapter"));
    }
    let pa: Vec<String> = a
        .programs
        .keys()
        .filter(|p| !b.programs.contains_key(*p))
        .cloned()
        .collect();
    let pb: Vec<String> = b
        .programs
        .keys()
        .filter(|p| !a.programs.contains_key(*p))
        .cloned()
        .collect();
    if !pa.is_empty() {
        out.push(format!("does not run {}", names_list(&pa)));
    }
    if !pb.is_empty() {
        out.push(format!("also runs {}", names_list(&pb)));
    }
    let (kinds_a, kinds_b) = (kinds(a), kinds(b));
    let only = |x: &BTreeSet<Kind>, y: &BTreeSet<Kind>| -> Vec<String> {
        x.difference(y).map(|k| k.name().to_owned()).collect()
    };
    let (ka_only, kb_only) = (only(&kinds_a, &kinds_b), only(&kinds_b, &kinds_a));
    if !ka_only.is_empty() {
        out.push(format!("no {} call", names_list(&ka_only)));
    }
    if !kb_only.is_empty() {
        out.push(format!("also {} calls", names_list(&kb_only)));
    }
    let (fa, fb) = (failures(&diff.calls.only_a), failures(&diff.calls.only_b));
    if !fb.is_empty() {
        out.push(format!("calls fail that did not: {}", failure_text(&fb)));
    }
    if !fa.is_empty() {
        out.push(format!("calls no longer fail with {}", failure_text(&fa)));
    }
    for s in &diff.settings {
        let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "not set".to_owned());
        out.push(format!("{}: {} → {}", s.key, v(&s.a), v(&s.b)));
    }
    mount_options(diff, &mut out);
    if let (Some(sa), Some(sb)) = (&a.state, &b.state)
        && !sa.mounts.is_empty()
        && !sb.mounts.is_empty()
        && sa.mounts.len() != sb.mounts.len()
    {
        out.push(format!(
            "{} mounts as the container sees them (A: {})",
            sb.mounts.len(),
            sa.mounts.len()
        ));
    }
    out.truncate(MAX_HEADLINES);
    out
}
