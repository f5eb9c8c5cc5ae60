//! Reading a damaged session: when SQLite cannot read a file (truncated, pages overwritten),
//! its pages are scanned directly for the rows that matter most — the chunks, which hold
//! every event, and the metadata — and those are put in an in-memory session with this
//! build's schema. The entity tables are copied from the damaged file as far as SQLite can
//! read them. Nothing of the file's schema or SQL is used.
//!
//! The SQLite file format: <https://www.sqlite.org/fileformat2.html>. Every read is bounds-
//! checked; overflow chains are followed at most as many pages as the file has.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};

use crate::error::{Error, Result, SqlContext};
use crate::event::Kind;
use crate::sql::{FORMAT_VERSION, TABLES, create_all};

/// Largest damaged file scanned (it is read into memory).
pub const MAX_SALVAGE_BYTES: u64 = 2 << 30;

/// A session rebuilt in memory from a damaged file.
pub(crate) struct Salvaged {
    pub conn: Connection,
    /// What was damaged and what could be read, in words.
    pub notes: Vec<String>,
}

/// Metadata keys a session has (the others are not taken from a page scan).
const META_KEYS: &[&str] = &[
    "format_version",
    "tool_version",
    "host_kernel",
    "hostname",
    "session_name",
    "command",
    "clock_offset_nanos",
    "start_ts_nanos",
    "end_ts_nanos",
    "status",
    "heartbeat_wall_nanos",
    "generation",
    "writer_pid",
    "liveness",
    "recorder_cpu_user_nanos",
    "recorder_cpu_sys_nanos",
];

/// A chunk row found on a page.
#[derive(Clone)]
struct ChunkRow {
    values: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
enum Field {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

/// The pages of a file and how to read them.
struct Pages<'a> {
    data: &'a [u8],
    page_size: usize,
    usable: usize,
    count: u32,
}

impl<'a> Pages<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let raw = u16::from_be_bytes([*data.get(16)?, *data.get(17)?]);
        let page_size = if raw == 1 { 65536 } else { usize::from(raw) };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return None;
        }
        let reserved = usize::from(*data.get(20)?);
        let usable = page_size.checked_sub(reserved).filter(|&u| u >= 480)?;
        let count = u32::try_from(data.len() / page_size).ok()?;
        Some(Self {
            data,
            page_size,
            usable,
            count,
        })
    }

    /// Page `n` (1-based), if it is wholly in the file.
    fn page(&self, n: u32) -> Option<&'a [u8]> {
        let start = (n as usize).checked_sub(1)?.checked_mul(self.page_size)?;
        self.data.get(start..start.checked_add(self.page_size)?)
    }

    /// Pages on the freelist: their contents are stale (rows deleted or rewritten).
    fn freelist(&self) -> BTreeSet<u32> {
        let mut free = BTreeSet::new();
        let mut trunk = read_u32(self.data, 32).unwrap_or(0);
        let mut steps = 0u32;
        while trunk != 0 && steps < self.count && free.insert(trunk) {
            steps += 1;
            let Some(p) = self.page(trunk) else { break };
            let leaves = read_u32(p, 4).unwrap_or(0).min(self.count);
            for i in 0..leaves as usize {
                match read_u32(p, 8 + 4 * i) {
                    Some(leaf) if leaf != 0 => {
                        free.insert(leaf);
                    }
                    _ => break,
                }
            }
            trunk = read_u32(p, 0).unwrap_or(0);
        }
        free
    }

    /// The payload of a cell: its local part and the overflow chain after it.
    fn payload(&self, page: &[u8], at: usize, total: u64, index: bool) -> Option<Vec<u8>> {
        let u = self.usable;
        let x = if index {
            (u - 12) * 64 / 255 - 23
        } else {
            u - 35
        };
        let m = (u - 12) * 32 / 255 - 23;
        let total = usize::try_from(total).ok()?;
        if total > crate::guard::MAX_VALUE_BYTES as usize * 2 {
            return None;
        }
        if total <= x {
            return page.get(at..at.checked_add(total)?).map(<[u8]>::to_vec);
        }
        let k = m + (total - m) % (u - 4);
        let local = if k <= x { k } else { m };
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(page.get(at..at.checked_add(local)?)?);
        let mut next = read_u32(page, at + local)?;
        let mut steps = 0u32;
        while out.len() < total {
            steps += 1;
            if next == 0 || steps > self.count {
                return None;
            }
            let p = self.page(next)?;
            let take = (total - out.len()).min(u - 4);
            out.extend_from_slice(p.get(4..4 + take)?);
            next = read_u32(p, 0)?;
        }
        Some(out)
    }

    /// The cells of a leaf page: (rowid for table leaves, payload).
    fn leaf_cells(&self, n: u32) -> Vec<(Option<i64>, Vec<u8>)> {
        let mut out = Vec::new();
        let Some(page) = self.page(n) else {
            return out;
        };
        let hdr = if n == 1 { 100 } else { 0 };
        let kind = page.get(hdr).copied().unwrap_or(0);
        let index = match kind {
            0x0D => false,
            0x0A => true,
            _ => return out,
        };
        let Some(cells) = read_u16(page, hdr + 3) else {
            return out;
        };
        let cells = usize::from(cells);
        if hdr + 8 + 2 * cells > page.len() {
            return out;
        }
        for i in 0..cells {
            let Some(at) = read_u16(page, hdr + 8 + 2 * i).map(usize::from) else {
                break;
            };
            if at < hdr + 8 || at >= self.usable {
                continue;
            }
            let Some((size, mut pos)) = varint(page, at) else {
                continue;
            };
            let mut rowid = None;
            if !index {
                let Some((id, p)) = varint(page, pos) else {
                    continue;
                };
                rowid = Some(id as i64);
                pos = p;
            }
            if let Some(payload) = self.payload(page, pos, size, index) {
                out.push((rowid, payload));
            }
        }
        out
    }
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An SQLite varint at `at`: its value and the position after it.
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at + i)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), at + 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, at + i + 1));
        }
    }
    None
}

/// The values of a record (at most `max_columns` of them).
fn record(payload: &[u8], max_columns: usize) -> Option<Vec<Field>> {
    let (header_len, mut pos) = varint(payload, 0)?;
    let header_len = usize::try_from(header_len).ok()?;
    if header_len > payload.len() {
        return None;
    }
    let mut types = Vec::new();
    while pos < header_len {
        let (t, p) = varint(payload, pos)?;
        types.push(t);
        pos = p;
        if types.len() > max_columns {
            return None;
        }
    }
    let mut at = header_len;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let int = |n: usize, at: usize| -> Option<i64> {
            let b = payload.get(at..at + n)?;
            let mut v: i64 = if b.first()? & 0x80 != 0 { -1 } else { 0 };
            for &x in b {
                v = (v << 8) | i64::from(x);
            }
            Some(v)
        };
        let (field, len) = match t {
            0 => (Field::Null, 0),
            1..=4 => {
                let n = t as usize;
                (Field::Int(int(n, at)?), n)
            }
            5 => (Field::Int(int(6, at)?), 6),
            6 => (Field::Int(int(8, at)?), 8),
            7 => (Field::Real(f64::from_bits(int(8, at)? as u64)), 8),
            8 => (Field::Int(0), 0),
            9 => (Field::Int(1), 0),
            n if n >= 12 => {
                let len = usize::try_from((n - 12) / 2).ok()?;
                let bytes = payload.get(at..at.checked_add(len)?)?.to_vec();
                if n % 2 == 0 {
                    (Field::Blob(bytes), len)
                } else {
                    (Field::Text(bytes), len)
                }
            }
            _ => return None,
        };
        out.push(field);
        at += len;
    }
    Some(out)
}

fn is_chunk_row(v: &[Field]) -> bool {
    matches!(
        v,
        [
            Field::Null,
            Field::Int(_),
            Field::Int(_),
            Field::Int(_),
            Field::Int(_),
            Field::Blob(_),
            Field::Blob(_),
            Field::Int(_),
            Field::Blob(_),
        ]
    )
}

/// What a scan of the pages found.
#[derive(Default)]
struct Found {
    chunks: BTreeMap<i64, ChunkRow>,
    meta: BTreeMap<String, String>,
    kind_counts: BTreeMap<String, i64>,
}

fn scan_pages(data: &[u8]) -> Found {
    let mut found = Found::default();
    let Some(pages) = Pages::new(data) else {
        return found;
    };
    let free = pages.freelist();
    for n in 1..=pages.count {
        if free.contains(&n) {
            continue;
        }
        for (rowid, payload) in pages.leaf_cells(n) {
            match rowid {
                Some(seq) => {
                    if let Some(values) = record(&payload, 9).filter(|v| is_chunk_row(v)) {
                        found.chunks.entry(seq).or_insert(ChunkRow { values });
                    }
                }
                None => match record(&payload, 2).as_deref() {
                    Some([Field::Text(k), Field::Text(v)]) => {
                        if let Ok(k) = std::str::from_utf8(k)
                            && META_KEYS.contains(&k)
                        {
                            let v = String::from_utf8_lossy(v).into_owned();
                            found.meta.entry(k.to_owned()).or_insert(v);
                        }
                    }
                    Some([Field::Text(k), Field::Int(n)]) => {
                        if let Ok(k) = std::str::from_utf8(k)
                            && Kind::from_name(k).is_some()
                        {
                            found.kind_counts.entry(k.to_owned()).or_insert(*n);
                        }
                    }
                    _ => {}
                },
            }
        }
    }
    found
}

fn to_sql(f: &Field) -> SqlValue {
    match f {
        Field::Null => SqlValue::Null,
        Field::Int(v) => SqlValue::Integer(*v),
        Field::Real(v) => SqlValue::Real(*v),
        Field::Text(b) => SqlValue::Text(String::from_utf8_lossy(b).into_owned()),
        Field::Blob(b) => SqlValue::Blob(b.clone()),
    }
}

/// Copies the rows SQLite can still read of each entity table of `from` into `to`.
fn copy_entities(from: &Connection, to: &Connection, notes: &mut Vec<String>) {
    for t in TABLES {
        if matches!(t.name, "meta" | "chunks" | "kind_counts") {
            continue;
        }
        let mut copied = 0usize;
        let result = (|| -> rusqlite::Result<()> {
            let mut read = from.prepare(&format!("SELECT * FROM {}", t.name))?;
            let columns = read.column_count();
            let placeholders = vec!["?"; columns].join(", ");
            let mut write = to.prepare(&format!(
                "INSERT OR IGNORE INTO {} VALUES ({placeholders})",
                t.name
            ))?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let values = (0..columns)
                    .map(|i| r.get::<_, SqlValue>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                write.execute(rusqlite::params_from_iter(values))?;
                copied += 1;
            }
            Ok(())
        })();
        if let Err(e) = result {
            notes.push(format!(
                "table {}: {} row(s) read before the damage ({})",
                t.name,
                copied,
                crate::error::sqlite_words(&e)
            ));
        }
    }
}

/// The file in memory with its header's page count set to the pages it has, so that SQLite
/// reads a truncated copy up to where it ends; `None` unless its schema passes the check.
fn patched_copy(path: &Path, mut data: Vec<u8>) -> Option<Connection> {
    let pages = Pages::new(&data)?;
    let (page_size, count) = (pages.page_size, pages.count);
    data.truncate(page_size * count as usize);
    data.get_mut(28..32)?.copy_from_slice(&count.to_be_bytes());
    let mut conn = Connection::open_in_memory().ok()?;
    let len = data.len();
    conn.deserialize_read_exact(rusqlite::MAIN_DB, &data[..], len, true)
        .ok()?;
    crate::guard::harden(&conn, path).ok()?;
    crate::guard::check_schema(&conn, path).ok()?;
    Some(conn)
}

/// Rebuilds a damaged session in memory. `damaged` is a connection to the file when SQLite
/// could open it and its schema passed the check (its entity tables are copied from it);
/// `why` is what went wrong reading it normally.
pub(crate) fn salvage(path: &Path, damaged: Option<&Connection>, why: &Error) -> Result<Salvaged> {
    let len = std::fs::metadata(path)
        .map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?
        .len();
    if len > MAX_SALVAGE_BYTES {
        return Err(Error::NotASession {
            path: path.to_owned(),
            reason: format!(
                "it is damaged ({why}), and at {len} bytes too large to be scanned for what \
                 is left"
            ),
        });
    }
    let data = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let found = scan_pages(&data);
    if found.chunks.is_empty() && found.meta.is_empty() {
        return Err(Error::NotASession {
            path: path.to_owned(),
            reason: format!("it is damaged ({why}) and no events or metadata could be found in it"),
        });
    }
    let conn = Connection::open_in_memory().ctx("creating a session in memory")?;
    conn.execute_batch(&create_all())
        .ctx("creating a session in memory")?;
    let why = match why {
        Error::Sqlite { sqlite, .. } => crate::error::sqlite_words(sqlite),
        other => other.to_string(),
    };
    let mut notes = vec![format!(
        "{why}; it was read by scanning its pages: {} chunk(s) of events and {} metadata \
         value(s) found",
        found.chunks.len(),
        found.meta.len()
    )];
    let mut meta = found.meta;
    if !meta.contains_key("format_version") {
        notes.push(format!(
            "its format version could not be read; format {FORMAT_VERSION} was assumed"
        ));
        meta.insert("format_version".into(), FORMAT_VERSION.to_string());
    }
    if !meta.contains_key("session_name") {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        meta.insert("session_name".into(), stem);
    }
    let fill = || -> rusqlite::Result<()> {
        for (k, v) in &meta {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![k, v],
            )?;
        }
        for (k, n) in &found.kind_counts {
            conn.execute(
                "INSERT INTO kind_counts (kind, events) VALUES (?1, ?2)",
                params![k, n],
            )?;
        }
        let mut insert = conn.prepare(
            "INSERT INTO chunks (chunk_seq, first_ts_nanos, last_ts_nanos, event_count, \
             kinds_mask, tgid_bloom, cgroup_bloom, raw_len, body) VALUES (?1, ?2, ?3, ?4, ?5, \
             ?6, ?7, ?8, ?9)",
        )?;
        for (seq, row) in &found.chunks {
            let mut values: Vec<SqlValue> = row.values.iter().map(to_sql).collect();
            values[0] = SqlValue::Integer(*seq);
            insert.execute(rusqlite::params_from_iter(values))?;
        }
        Ok(())
    };
    fill().ctx("filling the session in memory")?;
    let patched;
    let from = match damaged {
        Some(from) => Some(from),
        None => {
            patched = patched_copy(path, data);
            patched.as_ref()
        }
    };
    match from {
        Some(from) => copy_entities(from, &conn, &mut notes),
        None => notes.push(
            "its other tables (containers, processes, images, …) could not be read".to_owned(),
        ),
    }
    conn.execute_batch("PRAGMA query_only = ON")
        .ctx("creating a session in memory")?;
    Ok(Salvaged { conn, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_records() {
        assert_eq!(varint(&[0x05], 0), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9], 0), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81], 0), None);
        // Header of 3 bytes: NULL, int8; then the int8 -2.
        assert_eq!(
            record(&[3, 0, 1, 0xfe], 4),
            Some(vec![Field::Null, Field::Int(-2)])
        );
        assert_eq!(record(&[9, 0, 1], 4), None);
    }

    #[test]
    fn garbage_is_no_session() {
        for data in [vec![0u8; 0], vec![0xAB; 4096 * 3], {
            let mut d = vec![0u8; 8192];
            d[16] = 0x10;
            d[100] = 0x0D;
            d[103] = 0xFF;
            d
        }] {
            let found = scan_pages(&data);
            assert!(found.chunks.is_empty() && found.meta.is_empty());
        }
    }
}
