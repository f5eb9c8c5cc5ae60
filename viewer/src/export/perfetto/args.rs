//! An event's fields as Perfetto debug annotations (the "args" of a slice), through the
//! shared walk over the field descriptions.

use beefine_schema::btf::Value;

use super::intern::Interner;
use super::proto::DebugAnnotation;
use crate::export::fields::FieldSink;

/// Collects debug annotations, their names interned.
pub struct Args<'i> {
    pub interner: &'i mut Interner,
    pub out: Vec<DebugAnnotation>,
}

impl<'i> Args<'i> {
    pub fn new(interner: &'i mut Interner) -> Self {
        Self {
            interner,
            out: Vec::with_capacity(12),
        }
    }

    fn named(&mut self, key: &str) -> DebugAnnotation {
        DebugAnnotation {
            name_iid: Some(self.interner.annotation(key)),
            ..DebugAnnotation::default()
        }
    }

    fn push(&mut self, key: &str, fill: impl FnOnce(&mut DebugAnnotation)) {
        let mut a = self.named(key);
        fill(&mut a);
        self.out.push(a);
    }

    /// A list or dictionary: left out when empty (an annotation needs a value).
    fn push_nested(&mut self, key: &str, values: Vec<DebugAnnotation>, dict: bool) {
        if values.is_empty() {
            return;
        }
        self.push(key, |a| {
            if dict {
                a.dict_entries = values;
            } else {
                a.array_values = values;
            }
        });
    }
}

fn string(s: &str) -> DebugAnnotation {
    DebugAnnotation {
        string_value: Some(s.to_owned()),
        ..DebugAnnotation::default()
    }
}

/// A value of a decoded probe record.
fn btf_value(name: &str, v: &Value) -> DebugAnnotation {
    let mut a = DebugAnnotation {
        name: Some(name.to_owned()),
        ..DebugAnnotation::default()
    };
    match v {
        Value::Int(n) => a.int_value = Some(*n),
        Value::UInt(n) => a.uint_value = Some(*n),
        Value::Bool(b) => a.bool_value = Some(*b),
        Value::Enum { name: None, value } => a.int_value = Some(*value),
        other => a.string_value = Some(other.to_string()),
    }
    a
}

impl FieldSink for Args<'_> {
    fn uint(&mut self, key: &str, v: u64) {
        self.push(key, |a| a.uint_value = Some(v));
    }

    fn int(&mut self, key: &str, v: i64) {
        self.push(key, |a| a.int_value = Some(v));
    }

    fn text(&mut self, key: &str, v: &str) {
        self.push(key, |a| a.string_value = Some(v.to_owned()));
    }

    fn texts(&mut self, key: &str, items: &mut dyn Iterator<Item = &str>) {
        let values = items.map(string).collect();
        self.push_nested(key, values, false);
    }

    fn uints(&mut self, key: &str, items: &[u32]) {
        let values = items
            .iter()
            .map(|n| DebugAnnotation {
                uint_value: Some(u64::from(*n)),
                ..DebugAnnotation::default()
            })
            .collect();
        self.push_nested(key, values, false);
    }

    fn pairs(&mut self, key: &str, items: &mut dyn Iterator<Item = (&str, &str)>) {
        let entries = items
            .map(|(k, v)| DebugAnnotation {
                name: Some(k.to_owned()),
                string_value: Some(v.to_owned()),
                ..DebugAnnotation::default()
            })
            .collect();
        self.push_nested(key, entries, true);
    }

    fn record(&mut self, key: &str, fields: &[(String, Value)]) {
        let entries = fields.iter().map(|(k, v)| btf_value(k, v)).collect();
        self.push_nested(key, entries, true);
    }
}
