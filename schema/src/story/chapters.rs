//! Chapters: the marks each container's events leave (its shim started, its cgroup made,
//! its namespaces unshared, …), assembled into spans in time order with a title and two
//! lines on what to notice.

use super::builder::{ContainerStory, LayerFiles};
use super::keys::{ContainerKeys, Lookup};
pub use super::marks::{Mark, Marks};
use super::procs::{NS_BITS, NS_TYPES};
use super::pulls::{Prescan, Pull};
use super::{Chapter, ChapterKind, StoryInput};

/// A chapter before its end is known.
pub(super) struct Draft {
    kind: ChapterKind,
    start: u64,
    natural_end: Option<u64>,
    title: String,
    notice: String,
}

pub(super) fn draft(
    kind: ChapterKind,
    start: u64,
    natural_end: Option<u64>,
    title: String,
    notice: String,
) -> Draft {
    Draft {
        kind,
        start,
        natural_end,
        title,
        notice,
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// What the chapters are made from, for one container or one pull.
struct Ctx<'a> {
    input: &'a StoryInput,
    lookup: &'a Lookup,
    layer_files: &'a LayerFiles,
}

fn pull_draft(p: &Pull, ctx: &Ctx<'_>) -> Draft {
    let image = ctx.input.images.iter().find(|i| i.reference == p.reference);
    let total = image.map_or(0, |i| {
        ctx.input
            .layers
            .iter()
            .filter(|l| l.image_id == i.image_id)
            .count()
    });
    let blobs = p.blobs();
    let manifests = p
        .requests
        .iter()
        .filter(|(_, r)| r.contains("/manifests/"))
        .count();
    let second = if p.requests.is_empty() {
        "No request was readable (no packets recorded, or HTTPS): the span is the daemon's connects up to its report.".to_owned()
    } else if total > 0 {
        // The config blob is a blob too.
        let layers_fetched = blobs.saturating_sub(1).min(total);
        format!(
            "Layers already on disk are not fetched again: {} of {total} were there before.",
            total - layers_fetched
        )
    } else {
        format!("{blobs} blobs fetched.")
    };
    draft(
        ChapterKind::Pull,
        p.start_ts,
        Some(p.end_ts),
        format!("Pull {}", p.reference),
        format!(
            "dockerd asks the registry for the manifest ({manifests} manifest requests), then fetches the config and layer blobs over HTTP ({blobs} GET …/blobs/…).\n{second}"
        ),
    )
}

/// `/var/lib/docker/overlay2/<64 hex>/diff` → `overlay2/caad5b7a13da…/diff`.
fn short_dir(dir: &str) -> String {
    let d = dir.strip_prefix("/var/lib/docker/").unwrap_or(dir);
    d.split('/')
        .map(|seg| {
            if seg.len() >= 64 && seg.is_char_boundary(12) {
                format!("{}…", &seg[..12])
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn unpack_drafts(marks: &Marks, pull: Option<&Pull>, ctx: &Ctx<'_>) -> Vec<Draft> {
    let mut out = Vec::new();
    let untars: Vec<(u64, &String)> = marks
        .0
        .iter()
        .filter_map(|(t, m)| {
            if let Mark::Untar(d) = m {
                Some((*t, d))
            } else {
                None
            }
        })
        .collect();
    let n = untars.len();
    for (i, (ts, dir)) in untars.into_iter().enumerate() {
        let mut end = marks.0.iter().find_map(|(t, m)| {
            (matches!(m, Mark::UntarExit(d) if d == dir) && *t >= ts).then_some(*t)
        });
        if i + 1 == n
            && let Some(p) = pull.filter(|p| p.end_ts >= ts)
        {
            end = Some(end.map_or(p.end_ts, |e| e.max(p.end_ts)));
        }
        let layer = ctx.lookup.layer_of(dir);
        let size = layer.and_then(|l| {
            ctx.input
                .layers
                .iter()
                .find(|x| x.image_id == l.image_id && x.layer_index == l.layer_index)
                .map(|x| x.size_bytes)
        });
        let title = match (layer, size) {
            (Some(l), Some(s)) => format!(
                "Unpack layer {} of {} ({})",
                l.layer_index + 1,
                l.layer_count,
                bytes(s)
            ),
            (Some(l), None) => format!("Unpack layer {} of {}", l.layer_index + 1, l.layer_count),
            _ => "Unpack a layer".to_owned(),
        };
        let files = ctx.layer_files.get(dir.as_str()).map_or(0, |f| f.len());
        let short = short_dir(dir);
        out.push(draft(
            ChapterKind::Unpack,
            ts,
            end,
            title,
            format!(
                "dockerd re-executes itself as docker-untar, which pivot_roots into {short} and writes {files} files and directories there.\nA layer is a plain directory on the host: nothing is mounted until the container's root filesystem is made."
            ),
        ));
    }
    out
}

/// The drafts from the container's creation to its entrypoint.
/// `m`: the container's marks before anything joined it (a `docker exec` attaches to its
/// cgroup and enters its namespaces too: that is no birth).
fn birth_drafts(k: &ContainerKeys, cs: &ContainerStory, m: &Marks, out: &mut Vec<Draft>) {
    let pivot = m.first(|x| *x == Mark::Pivot);
    let unshare_at = m.first(|x| matches!(x, Mark::Unshare(_)));
    if let Some(start) = m.first(|x| *x == Mark::Overlay) {
        let layers = k
            .lower_dirs
            .iter()
            .filter(|d| !d.contains("-init/"))
            .count();
        out.push(draft(
            ChapterKind::Rootfs,
            start,
            m.last(|x| *x == Mark::Overlay).filter(|t| unshare_at.is_none_or(|u| *t < u)),
            format!("Root filesystem: an overlay of {layers} image layers"),
            "dockerd mounts overlayfs: the image layers read-only (lowerdir) under a new, empty writable layer (upperdir), seen as one tree at …/merged.\nIt prepares the -init layer first (placeholders for /etc/hosts, /etc/resolv.conf), then mounts the container's own.".to_owned(),
        ));
    }
    if let Some(connect) = m.first(|x| *x == Mark::NetConnect) {
        let rootfs_end = m.last(|x| *x == Mark::Overlay).unwrap_or(0);
        let start =
            m.0.iter()
                .filter(|(t, x)| {
                    *t > rootfs_end && *t <= connect && matches!(x, Mark::Iptables | Mark::Proxy(_))
                })
                .map(|(t, _)| *t)
                .min()
                .unwrap_or(connect);
        let rules = m.count(|x| *x == Mark::Iptables);
        let proxy = m.count(|x| matches!(x, Mark::Proxy(_))) > 0;
        let ports = if k.ports.is_empty() {
            String::new()
        } else {
            format!(", publishes {}", k.ports.join(", "))
        };
        let mut did = format!(
            "dockerd allocates the container's address{} and its endpoint on the bridge",
            k.ip.as_deref()
                .map(|ip| format!(" ({ip})"))
                .unwrap_or_default()
        );
        if rules > 0 {
            did.push_str(&format!(
                ", runs iptables {rules} times (-C checks a rule, -A adds it)"
            ));
        }
        if proxy {
            did.push_str(" and starts docker-proxy on the published port");
        }
        out.push(draft(
            ChapterKind::Network,
            start,
            Some(connect),
            format!("Network: an endpoint on the bridge{ports}"),
            format!("{did}.\nThe veth pair's container end goes into the net namespace later, from a runc hook (libnetwork-setkey)."),
        ));
    }
    if let Some(start) = m.first(|x| matches!(x, Mark::Shim | Mark::Runc("create"))) {
        out.push(draft(
            ChapterKind::Runtime,
            start,
            None,
            "Runtime: containerd starts a shim, the shim runs runc create".to_owned(),
            "containerd-shim-runc-v2 stays for the container's whole life: it holds its stdio and reaps its exit.\nrunc reads the OCI bundle (config.json) containerd wrote, and starts runc init, which will become the container.".to_owned(),
        ));
    }
    if let Some(start) = m.first(|x| matches!(x, Mark::Cgroup { .. })) {
        let made = m.count(|x| matches!(x, Mark::Cgroup { made: true, .. }));
        let v2 = m.count(|x| matches!(x, Mark::Cgroup { v2: true, .. })) > 0;
        let path = cs.cgroup_path.as_deref().unwrap_or("?");
        out.push(draft(
            ChapterKind::Cgroups,
            start,
            m.0.iter()
                .filter(|(t, x)| matches!(x, Mark::Cgroup { .. }) && unshare_at.is_none_or(|u| *t < u))
                .map(|(t, _)| *t)
                .max(),
            format!("cgroups: {path}"),
            format!(
                "runc makes {made} cgroup directories named after the container ({}) and moves runc init into them.\nFrom here on its processes are counted and limited there: the resource samples read these.",
                if v2 { "one per v1 hierarchy, and the v2 one" } else { "one per hierarchy" }
            ),
        ));
    }
    if let Some((start, flags)) = m.0.iter().find_map(|(t, x)| {
        if let Mark::Unshare(f) = x {
            Some((*t, *f))
        } else {
            None
        }
    }) {
        let made: Vec<&str> = NS_TYPES
            .iter()
            .zip(NS_BITS)
            .filter(|(_, b)| flags & b != 0)
            .map(|(t, _)| *t)
            .collect();
        let shared: Vec<&str> = NS_TYPES
            .iter()
            .zip(NS_BITS)
            .filter(|(_, b)| flags & b == 0)
            .map(|(t, _)| *t)
            .collect();
        let in_pod = k.pod_id.is_some() && !k.is_sandbox();
        if in_pod {
            out.push(super::pods::namespaces_draft(start, flags, &made, &shared));
        } else {
            out.push(draft(
            ChapterKind::Namespaces,
            start,
            None,
            format!("Namespaces: new {}", made.join(", ")),
            format!(
                "runc:[1:CHILD] calls unshare({}); its child runc:[2:INIT] will be pid 1 of the new pid namespace.\nThe {} namespaces stay the host's ({}'s defaults).",
                crate::names::flag_names(flags, crate::names::CLONE_FLAGS),
                shared.join(", "),
                    if k.pod_id.is_some() { "the CRI" } else { "Docker" }
            ),
        ));
        }
    }
    mounts_and_pivot(m, unshare_at, pivot, out);
}

fn mounts_and_pivot(m: &Marks, unshare_at: Option<u64>, pivot: Option<u64>, out: &mut Vec<Draft>) {
    let before_pivot = |t: u64| pivot.is_none_or(|p| t < p) && unshare_at.is_none_or(|u| t > u);
    if let Some(start) =
        m.0.iter()
            .find(|(t, x)| matches!(x, Mark::InitMount { .. }) && before_pivot(*t))
            .map(|(t, _)| *t)
    {
        let n =
            m.0.iter()
                .filter(|(t, x)| matches!(x, Mark::InitMount { ok: true, .. }) && before_pivot(*t))
                .count();
        let hook = m.first(|x| *x == Mark::Hook).is_some();
        out.push(draft(
            ChapterKind::Mounts,
            start,
            None,
            format!("Mounts: /proc, /dev, /sys, cgroups, /etc/hosts… ({n} mounts)"),
            format!(
                "runc:[2:INIT] mounts the container's filesystems into its root filesystem, through O_PATH descriptors (/proc/self/fd/N).\n{}",
                if hook {
                    "Meanwhile a prestart hook (libnetwork-setkey) lets dockerd move the veth into the new net namespace."
                } else {
                    "Bind mounts give it the /etc/hosts, /etc/hostname and /etc/resolv.conf made for it."
                }
            ),
        ));
    }
    if let Some(p) = pivot {
        let after: Vec<&Mark> =
            m.0.iter()
                .filter(|(t, _)| *t > p)
                .map(|(_, x)| x)
                .take_while(|x| !matches!(x, Mark::InitExec(_)))
                .collect();
        let masked = after
            .iter()
            .filter(|x| matches!(x, Mark::InitMount { masking: true, .. }))
            .count();
        let absent = after
            .iter()
            .filter(|x| matches!(x, Mark::InitMount { ok: false, .. }))
            .count();
        out.push(draft(
            ChapterKind::PivotRoot,
            p,
            None,
            "pivot_root: the overlay becomes /".to_owned(),
            format!(
                "runc:[2:INIT] swaps its root for the root filesystem and detaches the old one: the host's mounts are gone from its view.\nThen it masks and write-protects paths under /proc and /sys ({masked} mounts; {absent} fail as expected: absent on this kernel)."
            ),
        ));
    }
}

/// Running, joins, stop and cleanup.
fn life_drafts(k: &ContainerKeys, cs: &ContainerStory, input: &StoryInput, out: &mut Vec<Draft>) {
    let m = &cs.marks;
    let first_join = m.first(|x| matches!(x, Mark::JoinCreate(_)));
    let entry = m.0.iter().find_map(|(t, x)| match x {
        Mark::InitExec(a) if first_join.is_none_or(|j| *t < j) => Some((*t, a.clone())),
        _ => None,
    });
    let runc_start = m.first(|x| *x == Mark::Runc("start"));
    let die = m.0.iter().find_map(|(t, x)| {
        if let Mark::Die(c) = x {
            Some((*t, *c))
        } else {
            None
        }
    });
    let create_failed = m.0.iter().find_map(|(t, x)| match x {
        Mark::RuncExit("create", code) if *code != 0 => Some((*t, *code)),
        _ => None,
    });
    match &entry {
        Some((ts, argv)) => out.push(draft(
            ChapterKind::Exec,
            runc_start.filter(|s| s <= ts).unwrap_or(*ts),
            Some(*ts),
            format!("exec: {argv}"),
            "The shim runs runc start; runc:[2:INIT], waiting on a FIFO until then, executes the entrypoint: same pid, new program.\nJust before, it dropped capabilities (capset) and installed the seccomp filter.".to_owned(),
        )),
        None if create_failed.is_some() || (die.is_some() && m.first(|x| *x == Mark::Start).is_none()) => {
            let at = create_failed.map(|(t, _)| t).or(die.map(|(t, _)| t)).unwrap_or(0);
            let start = m.last(|x| *x == Mark::Pivot || *x == Mark::Capset).filter(|t| *t <= at).unwrap_or(at);
            let status = create_failed.map_or_else(|| "an error".to_owned(), |(_, c)| format!("status {}", c >> 8));
            out.push(draft(
                ChapterKind::Exec,
                start,
                Some(at),
                format!("exec failed: {}", if k.cmd.is_empty() { k.image.clone() } else { k.cmd.join(" ") }),
                format!(
                    "runc:[2:INIT] could not execute the entrypoint, so runc create exited with {status} and the container never ran.\nThe OCI runtime error (\"no such file or directory\", \"executable file not found\") is what `docker run` printed."
                ),
            ));
        }
        None => {}
    }
    let stop_start = m.0.iter().find_map(|(t, x)| match x {
        Mark::Runc("kill") | Mark::Kill(_) | Mark::InitExit(_)
            if entry.as_ref().is_none_or(|(e, _)| t > e) =>
        {
            Some(*t)
        }
        _ => None,
    });
    let running_from = entry.as_ref().map(|(t, _)| t + 1).or_else(|| {
        // Already running when the recording started: nothing of its creation was seen.
        (k.started_ts.is_none_or(|s| s < input.start_ts_nanos)
            && k.created_ts.is_none_or(|s| s < input.start_ts_nanos)
            && m.first(|x| matches!(x, Mark::Create | Mark::Shim | Mark::Runc("create")))
                .is_none())
        .then_some(input.start_ts_nanos)
    });
    if let Some(from) = running_from {
        let procs = cs.members.len().max(1);
        let comm = entry.as_ref().map_or_else(
            || {
                k.cmd.first().map_or_else(
                    || k.label().to_owned(),
                    |c| c.rsplit('/').next().unwrap_or(c).to_owned(),
                )
            },
            |(_, a)| {
                a.split(' ')
                    .next()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            },
        );
        let title = format!(
            "Running: {comm} ({procs} process{})",
            if procs == 1 { "" } else { "es" }
        );
        let notice = format!(
            "The container's processes live in its namespaces and cgroup; the resource samples show what they use.\n{}",
            if k.ports.is_empty() {
                "Its pid 1 is the entrypoint: when that exits, the container stops.".to_owned()
            } else {
                format!(
                    "docker-proxy and iptables forward {} to it.",
                    k.ports.join(", ")
                )
            }
        );
        out.push(draft(
            ChapterKind::Running,
            from,
            None,
            title.clone(),
            notice.clone(),
        ));
        for (t, x) in m.0.iter().filter(|(t, _)| *t > from) {
            let Mark::JoinCreate(cmd) = x else { continue };
            let die =
                m.0.iter()
                    .find_map(|(u, y)| (*y == Mark::JoinDie && u >= t).then_some(*u));
            out.push(draft(
                ChapterKind::Join,
                *t,
                die,
                format!("docker exec: {cmd}"),
                "runc exec starts a new process that joins the container's namespaces with setns (ipc, uts, net, pid, mnt) and its cgroup.\nIt is a child of the shim, not of the container's pid 1, yet it sees the same files, processes and network.".to_owned(),
            ));
            if let Some(d) = die
                && stop_start.is_none_or(|s| s > d + 1)
            {
                out.push(draft(
                    ChapterKind::Running,
                    d + 1,
                    None,
                    format!("{title}, continued"),
                    notice.clone(),
                ));
            }
        }
    }
    let failed_at = if entry.is_none() {
        create_failed.map(|(t, _)| t)
    } else {
        None
    };
    stop_and_cleanup(cs, stop_start, die, failed_at, out);
}

/// Stop and cleanup; `failed_at` is when a start that never ran failed (then the cleanup
/// follows it: there is no die event).
fn stop_and_cleanup(
    cs: &ContainerStory,
    stop_start: Option<u64>,
    die: Option<(u64, Option<i64>)>,
    failed_at: Option<u64>,
    out: &mut Vec<Draft>,
) {
    let m = &cs.marks;
    if let Some(start) = stop_start {
        let killed = m.0.iter().find_map(|(t, x)| match x {
            Mark::Kill(s) if *t >= start => Some(s.clone()),
            _ => None,
        });
        let killed = killed.or_else(|| {
            m.first(|x| *x == Mark::Runc("kill"))
                .filter(|t| *t == start)
                .map(|_| String::new())
        });
        let code = die.and_then(|(_, c)| c);
        let code_text = code
            .map(|c| format!(" (exit code {c})"))
            .unwrap_or_default();
        let (title, notice) = match killed {
            Some(sig) => (
                format!("Stop: {}{code_text}", signal_text(&sig)),
                "runc kill sends the signal to the container's pid 1; when pid 1 exits, the kernel kills the rest of its pid namespace.\nThe shim reaps it and tells containerd, which tells dockerd: the die event.".to_owned(),
            ),
            None => (
                format!("Stop: the entrypoint exited{code_text}"),
                "The entrypoint ended by itself: pid 1 exited, so its pid namespace and the container ended with it.\nThe shim reaps it and reports the exit to containerd and dockerd (the die event).".to_owned(),
            ),
        };
        out.push(draft(
            ChapterKind::Stop,
            start,
            die.map(|(t, _)| t),
            title,
            notice,
        ));
    }
    if let Some(d) = die.map(|(t, _)| t).or(failed_at) {
        let destroy = m.first(|x| *x == Mark::Destroy);
        let end = destroy.or_else(|| cs.event_ts.last().copied()).unwrap_or(d);
        out.push(draft(
            ChapterKind::Cleanup,
            d + 1,
            Some(end.max(d + 1)),
            if destroy.is_some() { "Cleanup: unmount and remove".to_owned() } else { "Cleanup: unmount".to_owned() },
            "runc delete removes the runtime state; dockerd unmounts the root filesystem and takes the network endpoint down.\nUnmounts that fail with EINVAL are expected: cleanup tries paths that may not be mount points.".to_owned(),
        ));
    }
}

fn signal_text(sig: &str) -> String {
    match sig {
        "15" => "SIGTERM".to_owned(),
        "9" => "SIGKILL".to_owned(),
        "3" => "SIGQUIT".to_owned(),
        "2" => "SIGINT".to_owned(),
        "" => "runc kill".to_owned(),
        s => format!("signal {s}"),
    }
}

/// Spans from drafts: each chapter ends where the next begins, or at its own natural end
/// when that comes first.
fn spans(
    mut drafts: Vec<Draft>,
    last_ts: u64,
    container_id: Option<&str>,
    event_ts: &[u64],
) -> Vec<Chapter> {
    drafts.sort_by_key(|d| (d.start, d.kind));
    let mut out = Vec::with_capacity(drafts.len());
    for i in 0..drafts.len() {
        let d = &drafts[i];
        let next = drafts
            .get(i + 1)
            .map(|n| n.start.saturating_sub(1).max(d.start));
        let end = match (d.natural_end, next) {
            (Some(e), Some(n)) => e.max(d.start).min(n),
            (None, Some(n)) => n,
            (Some(e), None) => e.max(d.start),
            (None, None) => last_ts.max(d.start),
        };
        let events =
            event_ts.partition_point(|&t| t <= end) - event_ts.partition_point(|&t| t < d.start);
        out.push(Chapter {
            chapter: d.kind,
            title: d.title.clone(),
            ts_nanos: d.start,
            end_ts_nanos: end,
            container_id: container_id.map(str::to_owned),
            events: events as u64,
            notice: d.notice.clone(),
        });
    }
    out
}

/// Every chapter of the session, in time order.
pub fn assemble(
    input: &StoryInput,
    lookup: &Lookup,
    pre: &Prescan,
    containers: &[ContainerStory],
    pull_ts: &[Vec<u64>],
    layer_files: &LayerFiles,
    untar_marks: &Marks,
) -> Vec<Chapter> {
    let ctx = Ctx {
        input,
        lookup,
        layer_files,
    };
    let mut all = Vec::new();
    for (c, cs) in containers.iter().enumerate() {
        let k = &cs.keys;
        let mut drafts = Vec::new();
        let pull = pre.pulls.iter().find(|p| p.container == Some(c));
        if let Some(p) = pull {
            drafts.push(pull_draft(p, &ctx));
        }
        drafts.extend(unpack_drafts(&cs.marks, pull, &ctx));
        super::pods::pod_drafts(k, &cs.marks, input, &mut drafts);
        let joined = cs.marks.first(|x| matches!(x, Mark::JoinCreate(_)));
        let birth = Marks(
            cs.marks
                .0
                .iter()
                .filter(|(t, _)| joined.is_none_or(|j| *t < j))
                .cloned()
                .collect(),
        );
        birth_drafts(k, cs, &birth, &mut drafts);
        life_drafts(k, cs, input, &mut drafts);
        let last = k
            .destroyed_ts
            .or(k.died_ts)
            .unwrap_or(input.end_ts_nanos)
            .max(cs.event_ts.last().copied().unwrap_or(0));
        let last = if k.died_ts.is_none() {
            input.end_ts_nanos.max(last)
        } else {
            last
        };
        all.extend(spans(drafts, last, Some(&k.id), &cs.event_ts));
    }
    // Pulls for no container: the pull and its unpacks.
    for (i, p) in pre
        .pulls
        .iter()
        .enumerate()
        .filter(|(_, p)| p.container.is_none())
    {
        let mut drafts = vec![pull_draft(p, &ctx)];
        let mine = Marks(
            untar_marks
                .0
                .iter()
                .filter(|(t, _)| (p.start_ts..=p.end_ts).contains(t))
                .cloned()
                .collect(),
        );
        drafts.extend(unpack_drafts(&mine, Some(p), &ctx));
        let mut ts = pull_ts.get(i).cloned().unwrap_or_default();
        ts.extend(mine.0.iter().map(|(t, _)| *t));
        ts.sort_unstable();
        all.extend(spans(drafts, p.end_ts, None, &ts));
    }
    all.sort_by_key(|c| (c.ts_nanos, c.chapter));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_end_where_the_next_begins_or_at_their_own_end() {
        let d =
            |kind, start, end: Option<u64>| draft(kind, start, end, String::new(), String::new());
        let chapters = spans(
            vec![
                d(ChapterKind::Running, 50, None),
                d(ChapterKind::Pull, 10, Some(20)),
                d(ChapterKind::Unpack, 25, Some(40)),
                d(ChapterKind::Stop, 80, Some(90)),
            ],
            100,
            Some("c"),
            &[10, 11, 30, 60, 85, 95],
        );
        let got: Vec<(ChapterKind, u64, u64, u64)> = chapters
            .iter()
            .map(|c| (c.chapter, c.ts_nanos, c.end_ts_nanos, c.events))
            .collect();
        assert_eq!(
            got,
            [
                (ChapterKind::Pull, 10, 20, 2),
                (ChapterKind::Unpack, 25, 40, 1),
                (ChapterKind::Running, 50, 79, 1),
                (ChapterKind::Stop, 80, 90, 1),
            ]
        );
        assert_eq!(signal_text("15"), "SIGTERM");
        assert_eq!(bytes(8_521_064), "8.1 MiB");
    }
}
