//! Parsing raw BTF into types: bounded by its input (every count is checked against the bytes
//! that remain before anything is allocated).

use super::*;

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
}
