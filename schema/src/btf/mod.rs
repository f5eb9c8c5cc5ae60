//! BTF (the BPF Type Format): the type description a user-supplied probe stores in the
//! session (`probes.btf`), and decoding that probe's records (`EventData::Custom`) into
//! named, typed fields with nothing but the session.
//!
//! # Usage
//!
//! ```no_run
//! use beefine_schema::btf::{Btf, Value, flatten};
//! # fn show(probe: &beefine_schema::Probe, bytes: &[u8]) -> Result<(), beefine_schema::btf::BtfError> {
//! // Once per probe (the `probes` table: `Session::probes()`):
//! let btf = Btf::parse(&probe.btf)?;
//! let record = btf.record(probe.record_type.as_deref().unwrap_or("event"))?;
//! // Per `EventData::Custom { probe_id, bytes }` of that probe:
//! let fields: Vec<(String, Value)> = record.decode(bytes)?;
//! for (name, value) in &fields {
//!     println!("{name} = {value}"); // Display: numbers, strings, {a: 1}, [1, 2], enum names
//! }
//! // Leaf fields with paths (`filename`, `inner.port`, `args[2]`), for table columns and
//! // filters:
//! for (path, value) in flatten(&fields) {
//!     println!("{path} = {value}");
//! }
//! # Ok(()) }
//! ```
//!
//! [`decode_record`] does all three steps in one call (it parses the BTF every time).
//!
//! # What is decoded
//! Integers by size and signedness (bitfields included), `bool`, floats, pointers (as
//! addresses), `char` arrays as strings (up to the first NUL, lossy UTF-8), other byte
//! arrays (`__u8[]`, `unsigned char[]`) as bytes, enums by enumerator name, nested structs
//! and unions (anonymous members merged into the parent, as C does), arrays. A record
//! shorter than its type (a probe that writes variable-length records only up to their
//! end) decodes the fields it holds; a string cut short decodes what is there.
//!
//! # Untrusted input
//! Both the BTF and the record come from a session file, that is from anyone: parsing and
//! decoding never panic, never recurse deeper than [`MAX_DEPTH`], produce at most
//! [`MAX_VALUES`] values per record, and allocate in proportion to their input.
//!
//! The format: <https://docs.kernel.org/bpf/btf.html>. Both byte orders are read (a record
//! is decoded in the byte order of its BTF, which is the byte order of the host that
//! recorded it).

use std::fmt;

mod decode;
mod extract;
mod parse;

pub use decode::{Field, FieldKind, RecordType};
#[cfg(test)]
use extract::StringTable;

/// The largest BTF blob parsed (the running kernel's own is ~6 MiB).
pub const MAX_BTF_BYTES: usize = 32 << 20;
/// The deepest nesting of structs and arrays decoded.
pub const MAX_DEPTH: usize = 24;
/// The most values (fields, elements) produced for one record.
pub const MAX_VALUES: usize = 1 << 16;
/// The longest typedef/const/volatile chain followed.
const MAX_CHAIN: usize = 64;
/// The most bytes of names, strings and byte arrays one decoded record may hold (a struct of
/// 65,535 members that share one long name would otherwise expand without bound).
pub const MAX_DECODED_BYTES: usize = 1 << 20;
/// Names longer than this are cut where they are shown (C names are far shorter).
pub const MAX_NAME_BYTES: usize = 256;
/// Names are read up to this many bytes (the kernel's own limit is 512).
const MAX_NAME_SCAN: usize = 4096;
/// The most bytes of paths [`flatten`] writes; what is past it is summarised in one entry.
pub const MAX_FLATTENED_BYTES: usize = 4 << 20;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;

const KIND_INT: u8 = 1;
const KIND_PTR: u8 = 2;
const KIND_ARRAY: u8 = 3;
const KIND_STRUCT: u8 = 4;
const KIND_UNION: u8 = 5;
const KIND_ENUM: u8 = 6;
const KIND_FWD: u8 = 7;
const KIND_TYPEDEF: u8 = 8;
const KIND_VOLATILE: u8 = 9;
const KIND_CONST: u8 = 10;
const KIND_RESTRICT: u8 = 11;
const KIND_FUNC: u8 = 12;
const KIND_FUNC_PROTO: u8 = 13;
const KIND_VAR: u8 = 14;
const KIND_DATASEC: u8 = 15;
const KIND_FLOAT: u8 = 16;
const KIND_DECL_TAG: u8 = 17;
const KIND_TYPE_TAG: u8 = 18;
const KIND_ENUM64: u8 = 19;

const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

/// What can go wrong reading BTF or decoding a record with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    #[error("not BTF data (no BTF magic number)")]
    BadMagic,
    #[error("malformed BTF: {0}")]
    Malformed(String),
    #[error("the BTF is {0} bytes, more than the {MAX_BTF_BYTES} bytes accepted")]
    TooLarge(usize),
    #[error("the BTF has no struct or union named {0:?}")]
    NoSuchType(String),
    #[error("{0:?} is not a struct or union")]
    NotARecord(String),
    #[error("the record's types nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the record has more than {MAX_VALUES} values")]
    TooManyValues,
    #[error("the decoded record would hold more than {MAX_DECODED_BYTES} bytes of names and data")]
    TooLargeDecoded,
}

pub type Result<T, E = BtfError> = std::result::Result<T, E>;

fn malformed<T>(what: impl Into<String>) -> Result<T> {
    Err(BtfError::Malformed(what.into()))
}

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Float(f64),
    /// A `char` array up to its first NUL.
    Str(String),
    /// Any other byte array, and integers wider than 64 bits (in record byte order).
    Bytes(Vec<u8>),
    /// An enum: the enumerator's name when the value has one.
    Enum {
        name: Option<String>,
        value: i64,
    },
    /// A pointer, as the address it held.
    Ptr(u64),
    Struct(Vec<(String, Value)>),
    Array(Vec<Value>),
}

impl Value {
    /// The value as an unsigned number, when it is a non-negative integer of some kind.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::UInt(v) | Self::Ptr(v) => Some(v),
            Self::Int(v) | Self::Enum { value: v, .. } => u64::try_from(v).ok(),
            Self::Bool(b) => Some(u64::from(b)),
            _ => None,
        }
    }

    /// The value as a signed number, when it is an integer of some kind that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::Int(v) | Self::Enum { value: v, .. } => Some(v),
            Self::UInt(v) | Self::Ptr(v) => i64::try_from(v).ok(),
            Self::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    /// The string of a `char` array.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    fn fmt_nested(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            other => write!(f, "{other}"),
        }
    }
}

/// Numbers in decimal, strings as they are (quoted inside structs and arrays), bytes in
/// hex, enums by name, pointers as `0x…`, structs as `{a: 1, b: "x"}`, arrays as `[1, 2]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::UInt(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Str(s) => f.write_str(s),
            Self::Bytes(b) => {
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            Self::Enum {
                name: Some(name), ..
            } => f.write_str(name),
            Self::Enum { name: None, value } => write!(f, "{value}"),
            Self::Ptr(v) => write!(f, "{v:#x}"),
            Self::Struct(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}: ")?;
                    value.fmt_nested(f)?;
                }
                f.write_str("}")
            }
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, value) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    value.fmt_nested(f)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The leaf values of decoded fields with their paths: `name`, `outer.inner`, `args[2]`,
/// `items[0].port`. Strings and byte arrays are leaves.
/// At most [`MAX_FLATTENED_BYTES`] of paths are written; the rest is one `…` entry.
pub fn flatten(fields: &[(String, Value)]) -> Vec<(String, Value)> {
    fn walk(path: String, value: &Value, out: &mut Vec<(String, Value)>, left: &mut usize) {
        if *left == 0 {
            return;
        }
        match value {
            Value::Struct(fields) => {
                for (name, v) in fields {
                    walk(format!("{path}.{name}"), v, out, left);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(format!("{path}[{i}]"), v, out, left);
                }
            }
            leaf => match left.checked_sub(path.len() + 8) {
                Some(rest) => {
                    *left = rest;
                    out.push((path, leaf.clone()));
                }
                None => {
                    *left = 0;
                    out.push(("…".into(), Value::Str("more fields than are shown".into())));
                }
            },
        }
    }
    let mut out = Vec::new();
    let mut left = MAX_FLATTENED_BYTES;
    for (name, value) in fields {
        walk(name.clone(), value, &mut out, &mut left);
    }
    out
}

/// Parses `btf`, finds `record_type` and decodes `bytes` as one record of it.
pub fn decode_record(btf: &[u8], record_type: &str, bytes: &[u8]) -> Result<Vec<(String, Value)>> {
    Btf::parse(btf)?.record(record_type)?.decode(bytes)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    name: u32,
    type_id: u32,
    /// Raw offset word: the bit offset, or with the struct's kind flag, the bitfield size in
    /// the top 8 bits and the bit offset in the low 24.
    offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Extra {
    None,
    /// The INT encoding word.
    Int(u32),
    Array {
        elem: u32,
        index: u32,
        len: u32,
    },
    Members(Vec<Member>),
    /// (name, value); ENUM values are stored as read (i32 or u32 by the kind flag).
    Enum(Vec<(u32, i64)>),
    /// FUNC_PROTO parameters: (name, type).
    Params(Vec<(u32, u32)>),
    /// VAR linkage.
    Var(u32),
    /// DATASEC variables: (type, offset, size).
    Secinfo(Vec<(u32, u32, u32)>),
    /// DECL_TAG component index.
    DeclTag(i32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Type {
    name: u32,
    kind: u8,
    kind_flag: bool,
    /// The low 16 bits of `info`: member count, or FUNC linkage.
    vlen: u16,
    /// `size` or `type`, by kind.
    size_type: u32,
    extra: Extra,
}

impl Type {
    const VOID: Self = Self {
        name: 0,
        kind: 0,
        kind_flag: false,
        vlen: 0,
        size_type: 0,
        extra: Extra::None,
    };

    fn refers_by_type(&self) -> bool {
        matches!(
            self.kind,
            KIND_PTR
                | KIND_TYPEDEF
                | KIND_VOLATILE
                | KIND_CONST
                | KIND_RESTRICT
                | KIND_FUNC
                | KIND_FUNC_PROTO
                | KIND_VAR
                | KIND_DECL_TAG
                | KIND_TYPE_TAG
        )
    }
}

/// Parsed BTF: types and their names.
#[derive(Clone, Debug)]
pub struct Btf {
    /// Index = type id; 0 is `void`.
    types: Vec<Type>,
    strings: Vec<u8>,
    little_endian: bool,
}

fn read_u32(data: &[u8], at: usize, le: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// Reads an unsigned integer of `size` bytes (1 to 8) in the given byte order.
fn read_uint(bytes: &[u8], size: usize, le: bool) -> Option<u64> {
    if size == 0 || size > 8 {
        return None;
    }
    let b = bytes.get(..size)?;
    let mut v = 0u64;
    if le {
        for &byte in b.iter().rev() {
            v = (v << 8) | u64::from(byte);
        }
    } else {
        for &byte in b {
            v = (v << 8) | u64::from(byte);
        }
    }
    Some(v)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 0 || bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Btf {
    /// Number of types, `void` included.
    pub fn type_count(&self) -> usize {
        self.types.len()
    }

    /// Whether records are little-endian.
    pub fn is_little_endian(&self) -> bool {
        self.little_endian
    }

    /// The name at `off`, read up to [`MAX_NAME_SCAN`] bytes (longer ones are cut).
    fn name(&self, off: u32) -> &str {
        self.name_prefix(off, MAX_NAME_SCAN)
    }

    /// A name as decoded records show it: cut at [`MAX_NAME_BYTES`].
    fn shown_name(&self, off: u32) -> &str {
        self.name_prefix(off, MAX_NAME_BYTES)
    }

    /// At most `max` bytes of the name at `off`, cut at a character; "" when it is not
    /// UTF-8. Reads no further than `max` bytes, however long the name is.
    fn name_prefix(&self, off: u32, max: usize) -> &str {
        let Some(rest) = self.strings.get(off as usize..) else {
            return "";
        };
        let rest = &rest[..rest.len().min(max)];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        match std::str::from_utf8(&rest[..end]) {
            Ok(s) => s,
            // Cut inside a character: what comes before it.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or("")
            }
            Err(_) => "",
        }
    }

    fn ty(&self, id: u32) -> &Type {
        self.types.get(id as usize).unwrap_or(&Type::VOID)
    }

    /// Follows typedefs, qualifiers and type tags to the type they name.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_CHAIN {
            let t = self.ty(id);
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_type;
                }
                _ => return id,
            }
        }
        0
    }

    /// Follows qualifiers only (not typedefs): a `char` behind a typedef such as `__u8` is
    /// a byte, not a character.
    fn strip_qualifiers(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_CHAIN {
            let t = self.ty(id);
            match t.kind {
                KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => id = t.size_type,
                _ => return id,
            }
        }
        0
    }

    /// Size in bytes of a type, if it has one.
    fn size_of(&self, id: u32, depth: usize) -> Option<u64> {
        if depth > MAX_DEPTH {
            return None;
        }
        let t = self.ty(self.resolve(id));
        match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT
            | KIND_DATASEC => Some(u64::from(t.size_type)),
            KIND_PTR => Some(8),
            KIND_ARRAY => {
                let Extra::Array { elem, len, .. } = t.extra else {
                    return None;
                };
                u64::from(len).checked_mul(self.size_of(elem, depth + 1)?)
            }
            _ => None,
        }
    }

    /// The struct or union called `name` (or a typedef of one), ready to decode records.
    pub fn record(&self, name: &str) -> Result<RecordType<'_>> {
        let id = self.find_record(name)?;
        let size = self.size_of(id, 0).unwrap_or(0);
        Ok(RecordType {
            btf: self,
            type_id: id,
            name: name.to_owned(),
            size: usize::try_from(size).unwrap_or(usize::MAX),
        })
    }

    fn find_record(&self, name: &str) -> Result<u32> {
        let named = |kinds: &[u8]| {
            self.types
                .iter()
                .position(|t| kinds.contains(&t.kind) && self.name(t.name) == name)
                .map(|i| i as u32)
        };
        if let Some(id) = named(&[KIND_STRUCT, KIND_UNION]) {
            return Ok(id);
        }
        if let Some(id) = named(&[KIND_TYPEDEF]) {
            return if matches!(self.ty(self.resolve(id)).kind, KIND_STRUCT | KIND_UNION) {
                Ok(id)
            } else {
                Err(BtfError::NotARecord(name.to_owned()))
            };
        }
        if self.types.iter().any(|t| self.name(t.name) == name) {
            return Err(BtfError::NotARecord(name.to_owned()));
        }
        Err(BtfError::NoSuchType(name.to_owned()))
    }

    /// Names of the structs and unions (the record types a probe could name), at most
    /// `max` of them, in type order.
    pub fn record_names(&self, max: usize) -> Vec<String> {
        self.types
            .iter()
            .filter(|t| matches!(t.kind, KIND_STRUCT | KIND_UNION))
            .map(|t| self.name(t.name))
            .filter(|n| !n.is_empty())
            .take(max)
            .map(str::to_owned)
            .collect()
    }

    /// Whether a struct or union (or a typedef of one) is called `name`.
    pub fn has_record(&self, name: &str) -> bool {
        self.find_record(name).is_ok()
    }

    /// The record type a global variable names: `struct event *beefine_record;` (or
    /// `struct event beefine_record;`, or a typedef) names `event`.
    pub fn record_named_by(&self, variable: &str) -> Option<String> {
        let var = self
            .types
            .iter()
            .find(|t| t.kind == KIND_VAR && self.name(t.name) == variable)?;
        let mut id = var.size_type;
        for _ in 0..MAX_CHAIN {
            let t = self.ty(id);
            match t.kind {
                KIND_PTR | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_type;
                }
                KIND_ARRAY => match t.extra {
                    Extra::Array { elem, .. } => id = elem,
                    _ => return None,
                },
                KIND_TYPEDEF => {
                    let target = self.ty(self.resolve(id));
                    let name = self.name(t.name);
                    if matches!(target.kind, KIND_STRUCT | KIND_UNION) && !name.is_empty() {
                        return Some(name.to_owned());
                    }
                    id = t.size_type;
                }
                KIND_STRUCT | KIND_UNION => {
                    let name = self.name(t.name);
                    return (!name.is_empty()).then(|| name.to_owned());
                }
                _ => return None,
            }
        }
        None
    }

    /// The enumerators of the enum called `name` (ENUM or ENUM64), in declaration order.
    pub fn enum_values(&self, name: &str) -> Option<Vec<(String, i64)>> {
        let t = self
            .types
            .iter()
            .find(|t| matches!(t.kind, KIND_ENUM | KIND_ENUM64) && self.name(t.name) == name)?;
        let Extra::Enum(values) = &t.extra else {
            return None;
        };
        Some(
            values
                .iter()
                .map(|&(n, v)| (self.name(n).to_owned(), v))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests;
