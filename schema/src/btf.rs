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

use std::collections::HashMap;
use std::fmt;

/// The largest BTF blob parsed (the running kernel's own is ~6 MiB).
pub const MAX_BTF_BYTES: usize = 32 << 20;
/// The deepest nesting of structs and arrays decoded.
pub const MAX_DEPTH: usize = 24;
/// The most values (fields, elements) produced for one record.
pub const MAX_VALUES: usize = 1 << 16;
/// The longest typedef/const/volatile chain followed.
const MAX_CHAIN: usize = 64;

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
pub fn flatten(fields: &[(String, Value)]) -> Vec<(String, Value)> {
    fn walk(path: String, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Struct(fields) => {
                for (name, v) in fields {
                    walk(format!("{path}.{name}"), v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(format!("{path}[{i}]"), v, out);
                }
            }
            leaf => out.push((path, leaf.clone())),
        }
    }
    let mut out = Vec::new();
    for (name, value) in fields {
        walk(name.clone(), value, &mut out);
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

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    le: bool,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32> {
        let end = self.pos.checked_add(4).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return malformed("a type runs past the end of the type section");
        };
        let b: [u8; 4] = self.data[self.pos..end].try_into().unwrap_or([0; 4]);
        self.pos = end;
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
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
    /// Parses raw BTF (a `.BTF` section, `/sys/kernel/btf/vmlinux`, or `probes.btf`).
    pub fn parse(data: &[u8]) -> Result<Self> {
        if data.len() > MAX_BTF_BYTES {
            return Err(BtfError::TooLarge(data.len()));
        }
        if data.len() < HEADER_LEN {
            return if data.len() >= 2 && (data[..2] == [0x9f, 0xeb] || data[..2] == [0xeb, 0x9f]) {
                malformed("shorter than its header")
            } else {
                Err(BtfError::BadMagic)
            };
        }
        let le = match [data[0], data[1]] {
            b if u16::from_le_bytes(b) == MAGIC => true,
            b if u16::from_be_bytes(b) == MAGIC => false,
            _ => return Err(BtfError::BadMagic),
        };
        if data[2] != 1 {
            return malformed(format!("version {} (only version 1 exists)", data[2]));
        }
        let word = |at| read_u32(data, at, le).map_or(0, |v| v as usize);
        let hdr_len = word(4);
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return malformed("header length out of range");
        }
        let section = |off: usize, len: usize, what: &str| {
            hdr_len
                .checked_add(off)
                .and_then(|start| Some((start, start.checked_add(len)?)))
                .filter(|&(_, end)| end <= data.len())
                .map(|(start, end)| &data[start..end])
                .ok_or_else(|| BtfError::Malformed(format!("the {what} section is out of range")))
        };
        let type_data = section(word(8), word(12), "type")?;
        let strings = section(word(16), word(20), "string")?.to_vec();

        let mut types = vec![Type::VOID];
        let mut c = Cursor {
            data: type_data,
            pos: 0,
            le,
        };
        while c.pos < type_data.len() {
            types.push(Self::parse_type(&mut c)?);
        }
        Ok(Self {
            types,
            strings,
            little_endian: le,
        })
    }

    fn parse_type(c: &mut Cursor<'_>) -> Result<Type> {
        let name = c.u32()?;
        let info = c.u32()?;
        let size_type = c.u32()?;
        let vlen = (info & 0xffff) as u16;
        let kind = ((info >> 24) & 0x1f) as u8;
        let kind_flag = info >> 31 != 0;
        let n = usize::from(vlen);
        let extra = match kind {
            KIND_INT => Extra::Int(c.u32()?),
            KIND_ARRAY => Extra::Array {
                elem: c.u32()?,
                index: c.u32()?,
                len: c.u32()?,
            },
            KIND_STRUCT | KIND_UNION => {
                let mut members = Vec::with_capacity(n.min(c.data.len() / 12));
                for _ in 0..n {
                    members.push(Member {
                        name: c.u32()?,
                        type_id: c.u32()?,
                        offset: c.u32()?,
                    });
                }
                Extra::Members(members)
            }
            KIND_ENUM => {
                let mut values = Vec::with_capacity(n.min(c.data.len() / 8));
                for _ in 0..n {
                    let name = c.u32()?;
                    let raw = c.u32()?;
                    let value = if kind_flag {
                        i64::from(raw as i32)
                    } else {
                        i64::from(raw)
                    };
                    values.push((name, value));
                }
                Extra::Enum(values)
            }
            KIND_ENUM64 => {
                let mut values = Vec::with_capacity(n.min(c.data.len() / 12));
                for _ in 0..n {
                    let name = c.u32()?;
                    let lo = u64::from(c.u32()?);
                    let hi = u64::from(c.u32()?);
                    values.push((name, ((hi << 32) | lo) as i64));
                }
                Extra::Enum(values)
            }
            KIND_FUNC_PROTO => {
                let mut params = Vec::with_capacity(n.min(c.data.len() / 8));
                for _ in 0..n {
                    params.push((c.u32()?, c.u32()?));
                }
                Extra::Params(params)
            }
            KIND_VAR => Extra::Var(c.u32()?),
            KIND_DATASEC => {
                let mut vars = Vec::with_capacity(n.min(c.data.len() / 12));
                for _ in 0..n {
                    vars.push((c.u32()?, c.u32()?, c.u32()?));
                }
                Extra::Secinfo(vars)
            }
            KIND_DECL_TAG => Extra::DeclTag(c.u32()? as i32),
            KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => Extra::None,
            other => return malformed(format!("unknown type kind {other}")),
        };
        Ok(Type {
            name,
            kind,
            kind_flag,
            vlen,
            size_type,
            extra,
        })
    }

    /// Number of types, `void` included.
    pub fn type_count(&self) -> usize {
        self.types.len()
    }

    /// Whether records are little-endian.
    pub fn is_little_endian(&self) -> bool {
        self.little_endian
    }

    fn name(&self, off: u32) -> &str {
        let Some(rest) = self.strings.get(off as usize..) else {
            return "";
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
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

    /// A self-contained BTF blob with only what decoding `record_type` needs: the record
    /// type and every type it is made of, renumbered, with their names. Pointers keep their
    /// place and size but point to `void` (a record holds addresses, not what they point
    /// to), so a record that holds a `struct task_struct *` does not drag in the kernel.
    pub fn extract(&self, record_type: &str) -> Result<Vec<u8>> {
        let root = self.find_record(record_type)?;
        // Reachable ids, found without recursion.
        let mut keep = vec![false; self.types.len()];
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let Some(k) = keep.get_mut(id as usize) else {
                continue;
            };
            if id == 0 || *k {
                continue;
            }
            *k = true;
            let t = self.ty(id);
            match (&t.extra, t.kind) {
                (_, KIND_PTR) => {}
                (Extra::Array { elem, index, .. }, _) => stack.extend([*elem, *index]),
                (Extra::Members(members), _) => stack.extend(members.iter().map(|m| m.type_id)),
                (_, KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG) => {
                    stack.push(t.size_type);
                }
                _ => {}
            }
        }
        let mut new_id = vec![0u32; self.types.len()];
        let mut next = 1u32;
        for (id, &k) in keep.iter().enumerate() {
            if k {
                new_id[id] = next;
                next += 1;
            }
        }
        let map = |id: u32| new_id.get(id as usize).copied().unwrap_or(0);
        let mut strings = StringTable::default();
        let mut types = vec![Type::VOID];
        for (id, t) in self.types.iter().enumerate() {
            if !keep[id] {
                continue;
            }
            let mut t = t.clone();
            t.name = strings.add(self.name(t.name));
            if t.kind == KIND_PTR {
                t.size_type = 0;
            } else if t.refers_by_type() {
                t.size_type = map(t.size_type);
            }
            match &mut t.extra {
                Extra::Array { elem, index, .. } => {
                    *elem = map(*elem);
                    *index = map(*index);
                }
                Extra::Members(members) => {
                    for m in members {
                        m.name = strings.add(self.name(m.name));
                        m.type_id = map(m.type_id);
                    }
                }
                Extra::Enum(values) => {
                    for (n, _) in values {
                        *n = strings.add(self.name(*n));
                    }
                }
                _ => {}
            }
            types.push(t);
        }
        let out = Self {
            types,
            strings: strings.bytes,
            little_endian: self.little_endian,
        };
        Ok(out.to_bytes())
    }

    /// Encodes these types as raw BTF.
    fn to_bytes(&self) -> Vec<u8> {
        let le = self.little_endian;
        let w16 = |out: &mut Vec<u8>, v: u16| {
            out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
        };
        let w32 = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
        };
        let mut body = Vec::new();
        for t in self.types.iter().skip(1) {
            let vlen = match &t.extra {
                Extra::Members(m) => m.len() as u16,
                Extra::Enum(v) => v.len() as u16,
                Extra::Params(p) => p.len() as u16,
                Extra::Secinfo(s) => s.len() as u16,
                _ => t.vlen,
            };
            let info =
                u32::from(vlen) | (u32::from(t.kind) << 24) | if t.kind_flag { 1 << 31 } else { 0 };
            w32(&mut body, t.name);
            w32(&mut body, info);
            w32(&mut body, t.size_type);
            match &t.extra {
                Extra::None => {}
                Extra::Int(v) | Extra::Var(v) => w32(&mut body, *v),
                Extra::DeclTag(v) => w32(&mut body, *v as u32),
                Extra::Array { elem, index, len } => {
                    for v in [*elem, *index, *len] {
                        w32(&mut body, v);
                    }
                }
                Extra::Members(members) => {
                    for m in members {
                        for v in [m.name, m.type_id, m.offset] {
                            w32(&mut body, v);
                        }
                    }
                }
                Extra::Enum(values) => {
                    for &(n, v) in values {
                        w32(&mut body, n);
                        if t.kind == KIND_ENUM64 {
                            w32(&mut body, v as u64 as u32);
                            w32(&mut body, ((v as u64) >> 32) as u32);
                        } else {
                            w32(&mut body, v as u32);
                        }
                    }
                }
                Extra::Params(params) => {
                    for &(n, ty) in params {
                        w32(&mut body, n);
                        w32(&mut body, ty);
                    }
                }
                Extra::Secinfo(vars) => {
                    for &(ty, off, size) in vars {
                        for v in [ty, off, size] {
                            w32(&mut body, v);
                        }
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + self.strings.len());
        w16(&mut out, MAGIC);
        out.push(1); // version
        out.push(0); // flags
        w32(&mut out, HEADER_LEN as u32);
        w32(&mut out, 0);
        w32(&mut out, body.len() as u32);
        w32(&mut out, body.len() as u32);
        w32(&mut out, self.strings.len() as u32);
        out.extend_from_slice(&body);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// A string section under construction: the empty string first, each name once.
struct StringTable {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Default for StringTable {
    fn default() -> Self {
        Self {
            bytes: vec![0],
            offsets: HashMap::from([(String::new(), 0)]),
        }
    }
}

impl StringTable {
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.offsets.get(s) {
            return off;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(s.to_owned(), off);
        off
    }
}

/// How a top-level field of a record reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Unsigned,
    Signed,
    /// A `char` array (a string).
    Chars,
    Other,
}

/// A top-level field of a record type: where it is and how it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// Byte offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    pub kind: FieldKind,
}

/// A record type found in a [`Btf`].
#[derive(Clone, Debug)]
pub struct RecordType<'a> {
    btf: &'a Btf,
    type_id: u32,
    name: String,
    size: usize,
}

impl RecordType<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size of a whole record in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The record's top-level fields (bitfields and anonymous members left out), in
    /// declaration order.
    pub fn fields(&self) -> Vec<Field> {
        let btf = self.btf;
        let t = btf.ty(btf.resolve(self.type_id));
        let Extra::Members(members) = &t.extra else {
            return Vec::new();
        };
        members
            .iter()
            .filter_map(|m| {
                let (bit, bitfield) = member_offset(t, m);
                let name = btf.name(m.name);
                if bitfield > 0 || bit % 8 != 0 || name.is_empty() {
                    return None;
                }
                let size = usize::try_from(btf.size_of(m.type_id, 0)?).ok()?;
                let resolved = btf.ty(btf.resolve(m.type_id));
                let kind = match (resolved.kind, &resolved.extra) {
                    (KIND_INT, Extra::Int(enc)) if (enc >> 24) & INT_SIGNED != 0 => {
                        FieldKind::Signed
                    }
                    (KIND_INT, _) => FieldKind::Unsigned,
                    (KIND_ARRAY, Extra::Array { elem, .. }) if btf.is_char(*elem) => {
                        FieldKind::Chars
                    }
                    _ => FieldKind::Other,
                };
                Some(Field {
                    name: name.to_owned(),
                    offset: (bit / 8) as usize,
                    size,
                    kind,
                })
            })
            .collect()
    }

    /// Decodes one record. Fields past the end of a short record are left out.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<(String, Value)>> {
        let mut budget = MAX_VALUES;
        match self.btf.value(self.type_id, bytes, 0, &mut budget)? {
            Some(Value::Struct(fields)) => Ok(fields),
            Some(other) => Ok(vec![(String::new(), other)]),
            None => Ok(Vec::new()),
        }
    }
}

/// (bit offset, bitfield size) of a member.
fn member_offset(parent: &Type, m: &Member) -> (u32, u32) {
    if parent.kind_flag {
        (m.offset & 0x00ff_ffff, m.offset >> 24)
    } else {
        (m.offset, 0)
    }
}

impl Btf {
    fn is_char(&self, id: u32) -> bool {
        let t = self.ty(self.strip_qualifiers(id));
        match (t.kind, &t.extra) {
            (KIND_INT, Extra::Int(enc)) => {
                t.size_type == 1 && (enc >> 24 & INT_CHAR != 0 || self.name(t.name) == "char")
            }
            _ => false,
        }
    }

    /// Decodes the value of type `id` at the start of `bytes`; `None` when `bytes` is too
    /// short to hold it or the type has no value (void, functions).
    fn value(
        &self,
        id: u32,
        bytes: &[u8],
        depth: usize,
        budget: &mut usize,
    ) -> Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep);
        }
        if *budget == 0 {
            return Err(BtfError::TooManyValues);
        }
        *budget -= 1;
        let le = self.little_endian;
        let resolved = self.resolve(id);
        let t = self.ty(resolved);
        let size = t.size_type as usize;
        Ok(match (t.kind, &t.extra) {
            (KIND_INT, Extra::Int(enc)) => {
                let encoding = enc >> 24;
                let bit_offset = (enc >> 16) & 0xff;
                let bits = enc & 0xff;
                if bytes.len() < size {
                    return Ok(None);
                }
                if size > 8 {
                    return Ok(Some(Value::Bytes(bytes[..size].to_vec())));
                }
                let Some(raw) = read_uint(bytes, size, le) else {
                    return Ok(None);
                };
                let bits = if bits == 0 { size as u32 * 8 } else { bits };
                let raw = raw.checked_shr(bit_offset).unwrap_or(0) & mask(bits);
                Some(int_value(raw, bits, encoding))
            }
            (KIND_PTR, _) => read_uint(bytes, 8, le).map(Value::Ptr),
            (KIND_FLOAT, _) => match size {
                4 => read_uint(bytes, 4, le)
                    .map(|v| Value::Float(f64::from(f32::from_bits(v as u32)))),
                8 => read_uint(bytes, 8, le).map(|v| Value::Float(f64::from_bits(v))),
                _ => bytes.get(..size).map(|b| Value::Bytes(b.to_vec())),
            },
            (KIND_ENUM | KIND_ENUM64, Extra::Enum(values)) => {
                let Some(raw) = read_uint(bytes, size, le) else {
                    return Ok(None);
                };
                let value = if t.kind_flag {
                    sign_extend(raw, size as u32 * 8)
                } else {
                    raw as i64
                };
                Some(self.enum_value(values, value))
            }
            (KIND_ARRAY, &Extra::Array { elem, len, .. }) => {
                Some(self.array(elem, len, bytes, depth, budget)?)
            }
            (KIND_STRUCT | KIND_UNION, Extra::Members(members)) => {
                let mut fields = Vec::with_capacity(members.len().min(*budget));
                for (i, m) in members.iter().enumerate() {
                    let Some(v) = self.member(t, m, bytes, depth, budget)? else {
                        continue;
                    };
                    let name = self.name(m.name);
                    match v {
                        // An anonymous struct or union: its fields are the parent's.
                        Value::Struct(inner) if name.is_empty() => fields.extend(inner),
                        v if name.is_empty() => fields.push((format!("_{i}"), v)),
                        v => fields.push((name.to_owned(), v)),
                    }
                }
                Some(Value::Struct(fields))
            }
            _ => None,
        })
    }

    fn enum_value(&self, values: &[(u32, i64)], value: i64) -> Value {
        let name = values
            .iter()
            .find(|&&(_, v)| v == value)
            .map(|&(n, _)| self.name(n).to_owned())
            .filter(|n| !n.is_empty());
        Value::Enum { name, value }
    }

    fn array(
        &self,
        elem: u32,
        len: u32,
        bytes: &[u8],
        depth: usize,
        budget: &mut usize,
    ) -> Result<Value> {
        let len = len as usize;
        if self.is_char(elem) {
            let b = &bytes[..len.min(bytes.len())];
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            return Ok(Value::Str(String::from_utf8_lossy(&b[..end]).into_owned()));
        }
        let esize = self
            .size_of(elem, depth + 1)
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(0);
        let e = self.ty(self.resolve(elem));
        if esize == 1 && e.kind == KIND_INT {
            return Ok(Value::Bytes(bytes[..len.min(bytes.len())].to_vec()));
        }
        if esize == 0 {
            return Ok(Value::Array(Vec::new()));
        }
        let count = len.min(bytes.len() / esize);
        let mut items = Vec::with_capacity(count.min(*budget));
        for i in 0..count {
            let start = i * esize;
            if let Some(v) = self.value(elem, &bytes[start..start + esize], depth + 1, budget)? {
                items.push(v);
            }
        }
        Ok(Value::Array(items))
    }

    fn member(
        &self,
        parent: &Type,
        m: &Member,
        bytes: &[u8],
        depth: usize,
        budget: &mut usize,
    ) -> Result<Option<Value>> {
        let (bit, bitfield) = member_offset(parent, m);
        if bitfield > 0 {
            return Ok(self.bitfield(m.type_id, bit, bitfield, bytes));
        }
        if bit % 8 != 0 {
            return Ok(None);
        }
        let start = (bit / 8) as usize;
        if start > bytes.len() {
            return Ok(None);
        }
        let size = self
            .size_of(m.type_id, depth + 1)
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(usize::MAX);
        let end = start.saturating_add(size).min(bytes.len());
        let sub = &bytes[start..end];
        if sub.is_empty() && size != 0 {
            return Ok(None);
        }
        self.value(m.type_id, sub, depth + 1, budget)
    }

    /// A bitfield member: `bits` bits at bit `bit` of the parent, read as its integer or enum
    /// type says.
    fn bitfield(&self, id: u32, bit: u32, bits: u32, bytes: &[u8]) -> Option<Value> {
        if bits > 64 {
            return None;
        }
        let first = (bit / 8) as usize;
        let shift = bit % 8;
        let span = (shift + bits).div_ceil(8) as usize;
        let b = bytes.get(first..first.checked_add(span)?)?;
        let mut v: u128 = 0;
        if self.little_endian {
            for &byte in b.iter().rev() {
                v = (v << 8) | u128::from(byte);
            }
            v >>= shift;
        } else {
            for &byte in b {
                v = (v << 8) | u128::from(byte);
            }
            v >>= span as u32 * 8 - shift - bits;
        }
        let raw = (v as u64) & mask(bits);
        let t = self.ty(self.resolve(id));
        match (t.kind, &t.extra) {
            (KIND_INT, Extra::Int(enc)) => Some(int_value(raw, bits, enc >> 24)),
            (KIND_ENUM | KIND_ENUM64, Extra::Enum(values)) => {
                let value = if t.kind_flag {
                    sign_extend(raw, bits)
                } else {
                    raw as i64
                };
                Some(self.enum_value(values, value))
            }
            _ => Some(Value::UInt(raw)),
        }
    }
}

fn int_value(raw: u64, bits: u32, encoding: u32) -> Value {
    if encoding & INT_BOOL != 0 {
        Value::Bool(raw != 0)
    } else if encoding & INT_SIGNED != 0 {
        Value::Int(sign_extend(raw, bits))
    } else {
        Value::UInt(raw)
    }
}

#[cfg(test)]
mod tests;
