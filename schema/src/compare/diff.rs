//! Two digests side by side.

use serde::Serialize;

use super::normalize::{self, CallKey};
use super::{CallStat, Digest, MAX_LISTED, Side, headlines};
use crate::story::{Chapter, ChapterKind, ContainerState, MountRow};

/// Chapters aligned at most on each side (a longer story is cut).
const MAX_ALIGNED: usize = 1_024;

/// One chapter on one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChapterSide {
    pub chapter: ChapterKind,
    pub title: String,
    /// When it starts, on its session's clock.
    pub ts_nanos: u64,
    /// From the start of the first chapter of its side.
    pub offset_nanos: u64,
    pub duration_nanos: u64,
    pub events: u64,
}

/// A chapter of A beside the same chapter of B; one side is `None` when only the other
/// has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChapterRow {
    pub a: Option<ChapterSide>,
    pub b: Option<ChapterSide>,
}

impl ChapterRow {
    /// B's duration minus A's, when both have the chapter.
    pub fn delta_nanos(&self) -> Option<i128> {
        Some(
            i128::from(self.b.as_ref()?.duration_nanos)
                - i128::from(self.a.as_ref()?.duration_nanos),
        )
    }
}

/// A namespace type the container has differently: `its own`, `the host's` or `another
/// container's` (a pod's sandbox).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceDiff {
    #[serde(rename = "type")]
    pub ns_type: String,
    pub a: String,
    pub b: String,
}

/// One mount as the container sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountSide {
    pub fstype: String,
    pub source: String,
    pub options: String,
    pub super_options: String,
}

/// A mount point whose mount differs, or that only one side has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountDiff {
    pub mount_point: String,
    pub a: Option<MountSide>,
    pub b: Option<MountSide>,
}

/// A runtime setting that differs (`None`: not set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingDiff {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// A call with how many times it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallCount {
    #[serde(serialize_with = "kind_name")]
    pub kind: crate::Kind,
    pub role: String,
    pub comm: String,
    pub args: String,
    pub outcome: String,
    pub count: u32,
    /// Whether the story expects it to fail (library searches, capability probes, …).
    pub expected: bool,
}

fn kind_name<S: serde::Serializer>(k: &crate::Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// The calls one side makes and the other does not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallsDiff {
    /// At most [`MAX_LISTED`] each, by kind, role and arguments.
    pub only_a: Vec<CallCount>,
    pub only_b: Vec<CallCount>,
    /// How many distinct calls only one side makes, and how many events they are.
    pub only_a_distinct: usize,
    pub only_b_distinct: usize,
    pub only_a_events: u64,
    pub only_b_events: u64,
    /// Distinct calls both make.
    pub shared_distinct: usize,
    /// Events not compared on each side (past the digest's bound).
    pub uncounted_a: u64,
    pub uncounted_b: u64,
}

/// Everything that differs between two sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    /// What differs, in a few words, as B compared with A (`no CLONE_NEWNET`).
    pub headlines: Vec<String>,
    pub chapters: Vec<ChapterRow>,
    pub namespaces: Vec<NamespaceDiff>,
    pub mounts: Vec<MountDiff>,
    /// Why the mounts are not compared, when they are not.
    pub mounts_note: Option<String>,
    pub settings: Vec<SettingDiff>,
    pub calls: CallsDiff,
}

impl Diff {
    /// Whether nothing but timing differs.
    pub fn is_same(&self) -> bool {
        self.chapters.iter().all(|r| r.a.is_some() && r.b.is_some())
            && self.namespaces.is_empty()
            && self.mounts.is_empty()
            && self.settings.is_empty()
            && self.calls.only_a_distinct == 0
            && self.calls.only_b_distinct == 0
    }
}

fn sides(chapters: &[Chapter]) -> Vec<ChapterSide> {
    let origin = chapters.iter().map(|c| c.ts_nanos).min().unwrap_or(0);
    chapters
        .iter()
        .take(MAX_ALIGNED)
        .map(|c| ChapterSide {
            chapter: c.chapter,
            title: c.title.clone(),
            ts_nanos: c.ts_nanos,
            offset_nanos: c.ts_nanos.saturating_sub(origin),
            duration_nanos: c.end_ts_nanos.saturating_sub(c.ts_nanos),
            events: c.events,
        })
        .collect()
}

/// The chapters of both sides aligned by kind, in order (a longest common subsequence:
/// the unpacks of several layers pair up in turn, a chapter only one side has stands
/// alone).
pub fn align(a: &[Chapter], b: &[Chapter]) -> Vec<ChapterRow> {
    let (a, b) = (sides(a), sides(b));
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i].chapter == b[j].chapter {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let mut rows = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i].chapter == b[j].chapter {
            rows.push(ChapterRow {
                a: Some(a[i].clone()),
                b: Some(b[j].clone()),
            });
            i += 1;
            j += 1;
        } else if j >= m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            rows.push(ChapterRow {
                a: Some(a[i].clone()),
                b: None,
            });
            i += 1;
        } else {
            rows.push(ChapterRow {
                a: None,
                b: Some(b[j].clone()),
            });
            j += 1;
        }
    }
    rows
}

/// `container` → `its own`, as people say it.
pub fn owner_words(owner: &str) -> String {
    match owner {
        "container" => "its own",
        "host" => "the host's",
        "sandbox" => "another container's",
        other => other,
    }
    .to_owned()
}

fn namespaces(a: Option<&ContainerState>, b: Option<&ContainerState>) -> Vec<NamespaceDiff> {
    let (Some(a), Some(b)) = (a, b) else {
        return Vec::new();
    };
    a.namespaces
        .iter()
        .filter_map(|na| {
            let nb = b.namespaces.iter().find(|n| n.ns_type == na.ns_type)?;
            (na.owner != nb.owner).then(|| NamespaceDiff {
                ns_type: na.ns_type.clone(),
                a: owner_words(&na.owner),
                b: owner_words(&nb.owner),
            })
        })
        .collect()
}

fn mount_side(r: &MountRow) -> MountSide {
    MountSide {
        fstype: normalize::text(&r.fstype),
        source: normalize::text(&r.source),
        options: normalize::text(&r.options),
        super_options: normalize::text(&r.super_options),
    }
}

/// The mount table keyed by mount point (the n-th mount stacked on a point is its own).
fn mount_table(rows: &[MountRow]) -> Vec<(String, MountSide)> {
    let mut out: Vec<(String, MountSide)> = Vec::with_capacity(rows.len());
    for r in rows {
        let point = normalize::text(&r.mount_point);
        let n = out
            .iter()
            .filter(|(p, _)| p.split(" #").next() == Some(&point))
            .count();
        let key = if n == 0 {
            point
        } else {
            format!("{point} #{}", n + 1)
        };
        out.push((key, mount_side(r)));
    }
    out
}

fn mounts(
    a: Option<&ContainerState>,
    b: Option<&ContainerState>,
) -> (Vec<MountDiff>, Option<String>) {
    let (Some(a), Some(b)) = (a, b) else {
        return (
            Vec::new(),
            Some("the state of a container is known on one side only".to_owned()),
        );
    };
    if a.mounts.is_empty() || b.mounts.is_empty() {
        let note = if a.mounts.is_empty() {
            &a.mounts_note
        } else {
            &b.mounts_note
        };
        return (Vec::new(), Some(format!("mounts not compared: {note}")));
    }
    let (ta, tb) = (mount_table(&a.mounts), mount_table(&b.mounts));
    let mut out = Vec::new();
    for (p, ma) in &ta {
        match tb.iter().find(|(q, _)| q == p) {
            Some((_, mb)) if mb == ma => {}
            Some((_, mb)) => out.push(MountDiff {
                mount_point: p.clone(),
                a: Some(ma.clone()),
                b: Some(mb.clone()),
            }),
            None => out.push(MountDiff {
                mount_point: p.clone(),
                a: Some(ma.clone()),
                b: None,
            }),
        }
    }
    for (p, mb) in &tb {
        if !ta.iter().any(|(q, _)| q == p) {
            out.push(MountDiff {
                mount_point: p.clone(),
                a: None,
                b: Some(mb.clone()),
            });
        }
    }
    (out, None)
}

fn settings(a: &Digest, b: &Digest) -> Vec<SettingDiff> {
    let keys: std::collections::BTreeSet<&String> =
        a.settings.keys().chain(b.settings.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (va, vb) = (a.settings.get(k), b.settings.get(k));
            (va != vb).then(|| SettingDiff {
                key: k.clone(),
                a: va.cloned(),
                b: vb.cloned(),
            })
        })
        .collect()
}

fn count(k: &CallKey, n: CallStat) -> CallCount {
    CallCount {
        kind: k.kind,
        role: k.role.clone(),
        comm: k.comm.clone(),
        args: k.args.clone(),
        outcome: k.outcome.clone(),
        count: n.count,
        expected: n.expected,
    }
}

/// Calls of `mine` that `theirs` does not make: listed (at most [`MAX_LISTED`]), distinct
/// calls and events.
fn only_in(mine: &Digest, theirs: &Digest) -> (Vec<CallCount>, usize, u64) {
    let mut only: Vec<(&CallKey, CallStat)> = mine
        .calls
        .iter()
        .filter(|(k, _)| !theirs.calls.contains_key(*k))
        .map(|(k, n)| (k, *n))
        .collect();
    only.sort_unstable_by(|x, y| x.0.cmp(y.0));
    let distinct = only.len();
    let events = only.iter().map(|(_, n)| u64::from(n.count)).sum();
    let listed = only
        .into_iter()
        .take(MAX_LISTED)
        .map(|(k, n)| count(k, n))
        .collect();
    (listed, distinct, events)
}

/// What differs between `a` and `b`.
pub fn compare(a: &Digest, b: &Digest) -> Diff {
    let (only_a, only_a_distinct, only_a_events) = only_in(a, b);
    let (only_b, only_b_distinct, only_b_events) = only_in(b, a);
    let shared_distinct = a.calls.keys().filter(|k| b.calls.contains_key(*k)).count();
    let (mounts, mounts_note) = mounts(a.state.as_ref(), b.state.as_ref());
    let mut diff = Diff {
        a: a.side.clone(),
        b: b.side.clone(),
        headlines: Vec::new(),
        chapters: align(&a.chapters, &b.chapters),
        namespaces: namespaces(a.state.as_ref(), b.state.as_ref()),
        mounts,
        mounts_note,
        settings: settings(a, b),
        calls: CallsDiff {
            only_a,
            only_b,
            only_a_distinct,
            only_b_distinct,
            only_a_events,
            only_b_events,
            shared_distinct,
            uncounted_a: a.uncounted,
            uncounted_b: b.uncounted,
        },
    };
    diff.headlines = headlines::headlines(a, b, &diff);
    diff
}
