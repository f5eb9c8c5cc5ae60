//! Writes seed corpora for the fuzz targets from session files.
//!
//! `beefine_fuzz_seed CORPUS_DIR SESSION.beefine...` writes
//! - for every file, `CORPUS_DIR/session/<session>`: a 0 byte (the input is the file) and
//!   the file (sound and hostile ones alike);
//! - for every sound session, every chunk as `CORPUS_DIR/chunk_decode/<session>-<seq>`
//!   (declared length, u32 LE, then the stored zstd body) and
//!   `CORPUS_DIR/chunk_body/<session>-<seq>` (the decompressed body), plus the same for
//!   re-encoded prefixes of the chunk (1, 4, 32 and 256 events), which give the fuzzer small
//!   inputs to start from;
//! - for every probe with BTF, `CORPUS_DIR/btf/<session>-<probe>`: a record of 64 zero bytes
//!   (its length, u16 LE, then the bytes) and the probe's BTF.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use beefine_schema::chunk::{ChunkEncoder, ChunkLayout, MAX_CHUNK_RAW_BYTES, decode_chunk};
use rusqlite::{Connection, OpenFlags};

fn write_seed(corpus: &Path, name: &str, raw_len: u64, body: &[u8]) -> Result<(), Box<dyn Error>> {
    let len = u32::try_from(raw_len)?;
    let mut stored = len.to_le_bytes().to_vec();
    stored.extend_from_slice(body);
    fs::write(corpus.join("chunk_decode").join(name), stored)?;
    let raw = zstd::bulk::decompress(body, MAX_CHUNK_RAW_BYTES)?;
    fs::write(corpus.join("chunk_body").join(name), raw)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let corpus = PathBuf::from(args.next().ok_or("usage: CORPUS_DIR SESSION.beefine...")?);
    for target in ["chunk_decode", "chunk_body", "btf", "session"] {
        fs::create_dir_all(corpus.join(target))?;
    }
    let mut seeds = 0;
    for session in args.map(PathBuf::from) {
        let stem = session
            .file_stem()
            .ok_or("a session file name")?
            .to_string_lossy()
            .into_owned();
        let mut as_input = vec![0u8];
        as_input.extend(fs::read(&session)?);
        fs::write(corpus.join("session").join(&stem), as_input)?;
        // Only sound sessions are read further (hostile ones hold SQL of their own); what a
        // damaged one does not give is skipped.
        match seed_from(&corpus, &session, &stem) {
            Ok(n) => seeds += n,
            Err(e) => eprintln!("{stem}: seeded from the whole file only ({e})"),
        }
    }
    println!("{seeds} seeds per target in {}", corpus.display());
    Ok(())
}

/// Seeds from a sound session's probes and chunks; returns how many.
fn seed_from(corpus: &Path, session: &Path, stem: &str) -> Result<usize, Box<dyn Error>> {
    let mut seeds = 0;
    // Only sound sessions are read further (hostile ones hold SQL of their own).
    let sound = beefine_schema::Session::open(session)?;
    if sound.journal() == &beefine_schema::Journal::Salvaged {
        return Ok(0);
    }
    for p in sound.probes()?.into_iter().filter(|p| !p.btf.is_empty()) {
        let mut input = 64u16.to_le_bytes().to_vec();
        input.extend([0u8; 64]);
        input.extend(&p.btf);
        fs::write(
            corpus.join("btf").join(format!("{stem}-{}", p.probe_id)),
            input,
        )?;
    }
    drop(sound);
    let db = Connection::open_with_flags(session, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let version: String = db.query_row(
        "SELECT value FROM meta WHERE key = 'format_version'",
        [],
        |r| r.get(0),
    )?;
    let layout = ChunkLayout::for_format(version.parse()?).ok_or("an unknown format")?;
    let mut stmt = db.prepare("SELECT chunk_seq, raw_len, body FROM chunks ORDER BY chunk_seq")?;
    // Rows up to the first that cannot be read (a damaged file's).
    let chunks: Vec<(i64, i64, Vec<u8>)> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .map_while(Result::ok)
        .collect();
    let mut encoder = ChunkEncoder::new(3)?;
    for (seq, raw_len, body) in chunks {
        let raw_len = u64::try_from(raw_len)?;
        // Damaged chunks (the hostile sessions have some) are seeds as stored only.
        if write_seed(&corpus, &format!("{stem}-{seq}"), raw_len, &body).is_err() {
            continue;
        }
        seeds += 1;
        let Ok(events) = decode_chunk(&body, raw_len, layout) else {
            continue;
        };
        for n in [1, 4, 32, 256] {
            if n < events.len() {
                let small = encoder.encode(&events[..n])?;
                write_seed(
                    &corpus,
                    &format!("{stem}-{seq}-first{n}"),
                    small.raw_len as u64,
                    &small.body,
                )?;
                seeds += 1;
            }
        }
    }
    Ok(seeds)
}
