//! Extracting the types one record needs into a self-contained BTF blob (what the recorder
//! stores in `probes.btf`).

use std::collections::HashMap;

use super::*;

impl Btf {
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
    pub(super) fn to_bytes(&self) -> Vec<u8> {
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
pub(super) struct StringTable {
    pub(super) bytes: Vec<u8>,
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
    pub(super) fn add(&mut self, s: &str) -> u32 {
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
