//! Which events are shown: by kind, process, container, stack component, free text, failure
//! and time. Applying a filter gives the list of matching events (for the table and for
//! stepping) and their times per timeline lane (for the density drawing); charts use the
//! container and time parts.

use std::collections::{BTreeSet, HashMap};

use beefine_schema::{Decode, EventData, Family, FieldRef, Kind, KindSet, SockAddr, names, text};
use serde::{Deserialize, Serialize};

use super::describe;
use super::session::{COMPONENT_COUNT, LoadedSession, component_name};
use super::store::{EventIdx, NO_CONTAINER, StrId};

/// Which container's events to show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerChoice {
    #[default]
    Any,
    /// Events outside every container (the daemon, runc before it joins the cgroup, …).
    Host,
    /// The container with this id.
    Container(String),
}

/// What to show. Empty parts match everything; all parts must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Kinds not shown, by name.
    pub hidden_kinds: BTreeSet<String>,
    /// A pid (exact) or part of a process name.
    pub process: String,
    /// Not remembered between runs: container ids differ from session to session.
    #[serde(skip)]
    pub container: ContainerChoice,
    /// Components not shown, by name.
    pub hidden_components: BTreeSet<String>,
    /// Words to find in the decoded fields (case-insensitive).
    pub text: String,
    /// Only calls that returned an error.
    pub failed_only: bool,
    /// Show the events the story marks as expected noise (hidden by default).
    pub show_expected: bool,
    /// Inclusive boot-clock range; not remembered between runs.
    #[serde(skip)]
    pub time_range: Option<(u64, u64)>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn kinds(&self) -> KindSet {
        Kind::ALL
            .iter()
            .copied()
            .filter(|k| !self.hidden_kinds.contains(k.name()))
            .collect()
    }

    pub fn kind_shown(&self, kind: Kind) -> bool {
        !self.hidden_kinds.contains(kind.name())
    }

    pub fn set_kind(&mut self, kind: Kind, shown: bool) {
        if shown {
            self.hidden_kinds.remove(kind.name());
        } else {
            self.hidden_kinds.insert(kind.name().to_owned());
        }
    }

    /// Shows only these kinds.
    pub fn only_kinds(&mut self, kinds: &[Kind]) {
        self.hidden_kinds = Kind::ALL
            .iter()
            .filter(|k| !kinds.contains(k))
            .map(|k| k.name().to_owned())
            .collect();
    }

    pub fn set_family(&mut self, family: Family, shown: bool) {
        for k in Kind::ALL.iter().filter(|k| k.family() == family) {
            self.set_kind(*k, shown);
        }
    }

    /// Whether the time and container parts let a chart of `container` show `ts`.
    pub fn container_shown(&self, l: &LoadedSession, container: usize) -> bool {
        match &self.container {
            ContainerChoice::Any => true,
            ContainerChoice::Host => false,
            ContainerChoice::Container(id) => l.containers.by_id(id) == Some(container),
        }
    }
}

/// Lane of each family on the timeline.
pub fn lane_of(family: Family) -> usize {
    Family::ALL.iter().position(|f| *f == family).unwrap_or(0)
}

pub const LANES: usize = Family::ALL.len();

/// The events a filter lets through.
#[derive(Clone, Debug, Default)]
pub struct Filtered {
    /// Matching events in time order.
    pub rows: Vec<EventIdx>,
    /// Times of the matching events of each lane ([`lane_of`]), in order.
    pub lanes: Vec<Vec<u64>>,
    /// How many of the rows failed.
    pub failed: usize,
}

impl Filtered {
    /// The last row at or before `ts` (the row of the time cursor).
    pub fn row_at(&self, l: &LoadedSession, ts: u64) -> Option<usize> {
        let ts_col = l.store.ts();
        let n = self.rows.partition_point(|&i| ts_col[i as usize] <= ts);
        n.checked_sub(1)
    }

    /// The row holding event `idx`.
    pub fn row_of(&self, idx: EventIdx) -> Option<usize> {
        self.rows.binary_search(&idx).ok()
    }

    /// Matching events in a lane within `[lo, hi)`: the density of one timeline column.
    pub fn lane_count(&self, lane: usize, lo: u64, hi: u64) -> usize {
        let ts = &self.lanes[lane];
        ts.partition_point(|&t| t < hi) - ts.partition_point(|&t| t < lo)
    }
}

/// Per-context and per-string answers, computed once per application.
struct Prepared<'a> {
    kinds: KindSet,
    /// Whether each context passes the process, container and component parts.
    ctx_ok: Vec<bool>,
    /// Whether each context's description contains the text (comm, pid, component,
    /// container name).
    ctx_text: Vec<bool>,
    /// Whether each interned string contains the text.
    str_text: Vec<bool>,
    kind_text: [bool; Kind::COUNT],
    container_ok: Vec<bool>,
    /// Whether each container's name contains the text.
    container_text: Vec<bool>,
    host_ok: bool,
    needle: String,
    /// Decoded numbers (flags, errno names) already checked against the text.
    decoded_cache: HashMap<(u8, u8, u64), bool>,
    /// Events of the rarer kinds whose fields were already checked, by their fields.
    fields_cache: HashMap<&'a EventData<StrId>, bool>,
}

impl<'a> Prepared<'a> {
    fn new(l: &'a LoadedSession, f: &Filter) -> Self {
        let store = &l.store;
        let process = f.process.trim().to_lowercase();
        let process_pid: Option<u32> = process.parse().ok();
        let hidden_components: Vec<bool> = (0..COMPONENT_COUNT as u8)
            .map(|c| f.hidden_components.contains(component_name(c)))
            .collect();
        let container_ok: Vec<bool> = (0..l.containers.len())
            .map(|c| match &f.container {
                ContainerChoice::Any => true,
                ContainerChoice::Host => false,
                ContainerChoice::Container(id) => l.containers.by_id(id) == Some(c),
            })
            .collect();
        let host_ok = matches!(f.container, ContainerChoice::Any | ContainerChoice::Host);
        let needle = f.text.trim().to_lowercase();
        let mut ctx_ok = Vec::with_capacity(store.contexts().len());
        let mut ctx_text = Vec::with_capacity(store.contexts().len());
        for (i, c) in store.contexts().iter().enumerate() {
            let comm = store.comm(c);
            let process_ok = process.is_empty()
                || process_pid.is_some_and(|p| p == c.pid || p == c.tgid)
                || comm.to_lowercase().contains(&process);
            let component = l.ctx_component.get(i).copied().unwrap_or(0);
            ctx_ok.push(process_ok && !hidden_components[usize::from(component)]);
            ctx_text.push(
                !needle.is_empty()
                    && (comm.to_lowercase().contains(&needle)
                        || c.tgid.to_string().contains(&needle)
                        || component_name(component).contains(&needle)),
            );
        }
        let str_text = if needle.is_empty() {
            Vec::new()
        } else {
            store
                .strings
                .iter()
                .map(|s| s.to_lowercase().contains(&needle))
                .collect()
        };
        let mut kind_text = [false; Kind::COUNT];
        for k in Kind::ALL {
            kind_text[usize::from(k.index())] = !needle.is_empty() && k.name().contains(&needle);
        }
        let container_text = (0..l.containers.len())
            .map(|c| !needle.is_empty() && l.container_label(c).to_lowercase().contains(&needle))
            .collect();
        Self {
            kinds: f.kinds(),
            container_text,
            ctx_ok,
            ctx_text,
            str_text,
            kind_text,
            container_ok,
            host_ok,
            needle,
            decoded_cache: HashMap::new(),
            fields_cache: HashMap::new(),
        }
    }

    /// Whether the free text is found in the event's decoded fields.
    fn text_matches(&mut self, l: &'a LoadedSession, idx: EventIdx, ctx: u32, kind: Kind) -> bool {
        let Self {
            ctx_text,
            str_text,
            kind_text,
            container_text,
            needle,
            decoded_cache,
            fields_cache,
            ..
        } = self;
        if kind_text[usize::from(kind.index())] || ctx_text[ctx as usize] {
            return true;
        }
        let container = l.store.container_column()[idx as usize];
        if container != NO_CONTAINER && container_text[usize::from(container)] {
            return true;
        }
        let s = |id: &u32| str_text.get(*id as usize).copied().unwrap_or(false);
        let needle = needle.as_str();
        if let Some(r) = l.store.result_of(idx)
            && r < 0
            && *decoded_cache
                .entry((u8::MAX, 0, r as u64))
                .or_insert_with(|| names::result_text(r).to_lowercase().contains(needle))
        {
            return true;
        }
        // Strings are answered from the string table; numbers from their decoded text,
        // cached by (kind, field, value). The high-volume families stop there; the others
        // also search their notes (layers, containers, host paths), cached by their fields.
        let data = l.store.data_of(idx);
        let strings = &l.store.strings;
        let high_volume = matches!(kind.family(), Family::File | Family::Process);
        let mut found = false;
        let mut field_index = 0u8;
        data.visit_fields(&mut |d, v| {
            let i = field_index;
            field_index = field_index.wrapping_add(1);
            if found {
                return;
            }
            found = match &v {
                FieldRef::Str(id) => s(id),
                FieldRef::OptStr(id) => id.is_some_and(s),
                FieldRef::Strs(ids) => ids.iter().any(s),
                FieldRef::Pairs(pairs) => pairs.iter().any(|(k, v)| s(k) || s(v)),
                FieldRef::Addr(SockAddr::Unix { path }) => s(path),
                FieldRef::Uint(_) | FieldRef::Int(_) if !high_volume || has_names(d.decode) => {
                    let value = v.as_u64().unwrap_or(0);
                    *decoded_cache
                        .entry((kind.index(), i, value))
                        .or_insert_with(|| {
                            text::value_text(d, &v, strings)
                                .to_lowercase()
                                .contains(needle)
                        })
                }
                FieldRef::Uint(_) | FieldRef::Int(_) => false,
                other => text::value_text(d, other, strings)
                    .to_lowercase()
                    .contains(needle),
            };
        });
        if found || high_volume {
            return found;
        }
        match data {
            // A loss record's text says how long it lasted: not cached by its fields.
            EventData::Lost(_) => describe::search_text(l, idx)
                .to_lowercase()
                .contains(needle),
            data => *fields_cache.entry(data).or_insert_with(|| {
                describe::search_text(l, idx)
                    .to_lowercase()
                    .contains(needle)
            }),
        }
    }
}

/// Whether numbers decoded this way have names worth searching (flags, options, states).
fn has_names(decode: Decode) -> bool {
    matches!(
        decode,
        Decode::Flags(_)
            | Decode::OpenFlags
            | Decode::CloneFlags { .. }
            | Decode::Named(_)
            | Decode::Caps
            | Decode::WaitStatus
            | Decode::Signal
            | Decode::NsType
    )
}

/// The events of `l` that `f` lets through, from event `from` on (0 for all).
pub fn apply(l: &LoadedSession, f: &Filter) -> Filtered {
    let mut out = Filtered {
        rows: Vec::new(),
        lanes: vec![Vec::new(); LANES],
        failed: 0,
    };
    extend(l, f, &mut out, 0);
    out
}

/// Adds the matching events from store position `from` on to `out` (after events were
/// appended to a live session).
pub fn extend(l: &LoadedSession, f: &Filter, out: &mut Filtered, from: usize) {
    let store = &l.store;
    let (lo, hi) = match f.time_range {
        Some((a, b)) => (store.lower_bound(a).max(from), store.upper_bound(b)),
        None => (from, store.len()),
    };
    if lo >= hi {
        return;
    }
    let mut p = Prepared::new(l, f);
    let lane_of_kind: Vec<usize> = Kind::ALL.iter().map(|k| lane_of(k.family())).collect();
    let ts = store.ts();
    let kinds = store.kinds();
    let ctxs = store.ctx_column();
    let containers = store.container_column();
    let all_kinds = p.kinds == KindSet::all();
    let plain = f.process.trim().is_empty()
        && f.hidden_components.is_empty()
        && f.container == ContainerChoice::Any
        && p.needle.is_empty()
        && !f.failed_only
        && (f.show_expected || l.story.expected.iter().all(|r| *r == super::story::NO_RULE));
    if plain && all_kinds {
        out.rows.extend(lo as EventIdx..hi as EventIdx);
        for i in lo..hi {
            out.lanes[lane_of_kind[usize::from(kinds[i].index())]].push(ts[i]);
            if store.result_of(i as EventIdx).is_some_and(|r| r < 0) {
                out.failed += 1;
            }
        }
        return;
    }
    for i in lo..hi {
        let kind = kinds[i];
        if !p.kinds.contains(kind) {
            continue;
        }
        let ctx = ctxs[i];
        if !p.ctx_ok[ctx as usize] {
            continue;
        }
        let c = containers[i];
        let container_ok = if c == NO_CONTAINER {
            p.host_ok
        } else {
            p.container_ok[usize::from(c)]
        };
        if !container_ok {
            continue;
        }
        let idx = i as EventIdx;
        let failed = store.result_of(idx).is_some_and(|r| r < 0);
        if f.failed_only && !failed {
            continue;
        }
        if !f.show_expected && l.story.expected_of(idx).is_some() {
            continue;
        }
        if !p.needle.is_empty() && !p.text_matches(l, idx, ctx, kind) {
            continue;
        }
        out.rows.push(idx);
        out.lanes[lane_of_kind[usize::from(kind.index())]].push(ts[i]);
        if failed {
            out.failed += 1;
        }
    }
}
