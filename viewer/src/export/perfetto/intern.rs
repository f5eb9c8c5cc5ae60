//! Interned strings of the trace's one packet sequence: event names, categories and
//! argument names are written once and referred to by number afterwards.

use rustc_hash::FxHashMap;

use super::proto::{InternedData, InternedName};

/// Distinct strings interned per table at most; beyond it names are written inline, so a
/// file with millions of distinct daemon actions cannot grow the tables without bound.
const MAX_INTERNED: usize = 65_536;

#[derive(Default)]
struct Table {
    ids: FxHashMap<String, u64>,
}

impl Table {
    /// The id of `s`, and whether it is new (then it goes into the next packet).
    fn id(&mut self, s: &str) -> Option<(u64, bool)> {
        if let Some(&id) = self.ids.get(s) {
            return Some((id, false));
        }
        if self.ids.len() >= MAX_INTERNED {
            return None;
        }
        // iid 0 is not valid.
        let id = self.ids.len() as u64 + 1;
        self.ids.insert(s.to_owned(), id);
        Some((id, true))
    }
}

/// The three tables and what the next packet must declare.
#[derive(Default)]
pub struct Interner {
    names: Table,
    categories: Table,
    annotations: Table,
    pending: InternedData,
}

fn entry(id: u64, s: &str) -> InternedName {
    InternedName {
        iid: Some(id),
        name: Some(s.to_owned()),
    }
}

impl Interner {
    /// The id of an event name, or `None` when the table is full (write it inline).
    pub fn name(&mut self, s: &str) -> Option<u64> {
        let (id, new) = self.names.id(s)?;
        if new {
            self.pending.event_names.push(entry(id, s));
        }
        Some(id)
    }

    pub fn category(&mut self, s: &str) -> Option<u64> {
        let (id, new) = self.categories.id(s)?;
        if new {
            self.pending.event_categories.push(entry(id, s));
        }
        Some(id)
    }

    /// The id of an argument name. Argument names are the field names of the descriptions
    /// and their decoded forms: a few hundred at most.
    pub fn annotation(&mut self, s: &str) -> u64 {
        match self.annotations.id(s) {
            Some((id, new)) => {
                if new {
                    self.pending.debug_annotation_names.push(entry(id, s));
                }
                id
            }
            // Unreachable with names from descriptions; an id that names nothing is shown
            // as unknown rather than failing the export.
            None => u64::MAX,
        }
    }

    /// What was interned since the last call, to declare in the packet being written.
    pub fn take_pending(&mut self) -> Option<InternedData> {
        if self.pending.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.pending))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_declared_once_with_ids_from_one() {
        let mut i = Interner::default();
        assert_eq!(i.name("mount"), Some(1));
        assert_eq!(i.name("exec"), Some(2));
        assert_eq!(i.name("mount"), Some(1));
        assert_eq!(i.annotation("flags"), 1);
        let p = i.take_pending().unwrap();
        assert_eq!(p.event_names.len(), 2);
        assert_eq!(p.debug_annotation_names.len(), 1);
        assert!(i.take_pending().is_none());
        assert_eq!(i.name("mount"), Some(1));
        assert!(i.take_pending().is_none());
    }

    #[test]
    fn a_full_table_writes_names_inline() {
        let mut t = Table::default();
        for n in 0..MAX_INTERNED {
            assert!(t.id(&n.to_string()).is_some());
        }
        assert!(t.id("one more").is_none());
        assert_eq!(t.id("0"), Some((1, false)));
    }
}
