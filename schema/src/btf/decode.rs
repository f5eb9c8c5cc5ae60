//! Decoding a record with its type: bounded in values, depth and bytes produced.

use super::*;

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
    pub(super) btf: &'a Btf,
    pub(super) type_id: u32,
    pub(super) name: String,
    pub(super) size: usize,
}

/// What one decode may still produce.
struct Budget {
    values: usize,
    bytes: usize,
}

impl Budget {
    fn value(&mut self) -> Result<()> {
        self.values = self.values.checked_sub(1).ok_or(BtfError::TooManyValues)?;
        Ok(())
    }

    /// Charges `n` bytes of names, strings or byte arrays.
    fn bytes(&mut self, n: usize) -> Result<()> {
        self.bytes = self.bytes.checked_sub(n).ok_or(BtfError::TooLargeDecoded)?;
        Ok(())
    }
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
                let name = btf.shown_name(m.name);
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
        let mut budget = Budget {
            values: MAX_VALUES,
            bytes: MAX_DECODED_BYTES,
        };
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
        budget: &mut Budget,
    ) -> Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep);
        }
        budget.value()?;
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
                    budget.bytes(size)?;
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
                _ => match bytes.get(..size) {
                    Some(b) => {
                        budget.bytes(b.len())?;
                        Some(Value::Bytes(b.to_vec()))
                    }
                    None => None,
                },
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
                let v = self.enum_value(values, value);
                if let Value::Enum { name: Some(n), .. } = &v {
                    budget.bytes(n.len())?;
                }
                Some(v)
            }
            (KIND_ARRAY, &Extra::Array { elem, len, .. }) => {
                Some(self.array(elem, len, bytes, depth, budget)?)
            }
            (KIND_STRUCT | KIND_UNION, Extra::Members(members)) => {
                let mut fields = Vec::with_capacity(members.len().min(budget.values));
                for (i, m) in members.iter().enumerate() {
                    let Some(v) = self.member(t, m, bytes, depth, budget)? else {
                        continue;
                    };
                    let name = self.shown_name(m.name);
                    budget.bytes(name.len().max(8))?;
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
            .map(|&(n, _)| self.shown_name(n).to_owned())
            .filter(|n| !n.is_empty());
        Value::Enum { name, value }
    }

    fn array(
        &self,
        elem: u32,
        len: u32,
        bytes: &[u8],
        depth: usize,
        budget: &mut Budget,
    ) -> Result<Value> {
        let len = len as usize;
        if self.is_char(elem) {
            let b = &bytes[..len.min(bytes.len())];
            budget.bytes(b.len())?;
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            return Ok(Value::Str(String::from_utf8_lossy(&b[..end]).into_owned()));
        }
        let esize = self
            .size_of(elem, depth + 1)
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(0);
        let e = self.ty(self.resolve(elem));
        if esize == 1 && e.kind == KIND_INT {
            let b = &bytes[..len.min(bytes.len())];
            budget.bytes(b.len())?;
            return Ok(Value::Bytes(b.to_vec()));
        }
        if esize == 0 {
            return Ok(Value::Array(Vec::new()));
        }
        let count = len.min(bytes.len() / esize);
        let mut items = Vec::with_capacity(count.min(budget.values));
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
        budget: &mut Budget,
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
