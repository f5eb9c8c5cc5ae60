//! How the number of an event's kind is read back: postcard hands the variant tag over as a
//! number, self-describing formats may use the kind's name.

use serde::de::{DeserializeSeed, Deserializer, Error, Visitor};

use super::Kind;

/// Reads a kind's number (or its name) as the variant of [`super::EventData`].
pub(super) struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = u32;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_identifier(TagVisitor)
    }
}

struct TagVisitor;

impl Visitor<'_> for TagVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event kind number or name")
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<u32, E> {
        u32::try_from(v).map_err(|_| E::custom(format_args!("event kind number {v} out of range")))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<u32, E> {
        Kind::from_name(v)
            .map(|k| u32::from(k.index()))
            .ok_or_else(|| E::custom(format_args!("unknown event kind {v:?}")))
    }
}
