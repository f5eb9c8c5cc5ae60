//! Live tail: what a writer appended since the last poll, by chunk sequence number.
//!
//! Chunks are numbered in the order they are committed (`chunk_seq`), so a cursor that
//! remembers the last number it returned never returns a chunk twice nor skips one, even when
//! events of different chunks share a timestamp. Read a session with
//! [`Query::until_chunk_seq`] set to where the cursor starts ([`TailCursor::last_seq`]) and
//! nothing is read twice.

use super::{Query, Session};
use crate::error::{Error, Result, SqlContext};
use crate::event::Event;

impl Session {
    /// A cursor that returns what was appended after this call.
    pub fn tail(&self) -> Result<TailCursor> {
        let last_seq: i64 = self
            .conn
            .query_row("SELECT coalesce(max(chunk_seq), 0) FROM chunks", [], |r| {
                r.get(0)
            })
            .ctx("reading the last chunk")?;
        Ok(TailCursor {
            last_seq,
            generation: self.meta.generation,
        })
    }

    /// A cursor that returns everything on its first poll.
    pub fn tail_from_start(&self) -> TailCursor {
        TailCursor {
            last_seq: 0,
            generation: self.meta.generation,
        }
    }
}

/// Follows a session that is being written: each poll returns what was committed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCursor {
    last_seq: i64,
    generation: i64,
}

/// What a poll of a [`TailCursor`] found.
#[derive(Debug, Default)]
pub struct TailUpdate {
    /// New events, each chunk in time order (chunks may overlap slightly in time).
    pub events: Vec<Event>,
    /// The writer rewrote its chunks (compaction on finish): reload the session instead of
    /// appending. `events` is empty then.
    pub rewritten: bool,
    /// Chunks that could not be decoded.
    pub errors: Vec<Error>,
}

impl TailCursor {
    /// The last chunk this cursor has returned (or was placed after): a query with
    /// [`Query::until_chunk_seq`] set to it reads exactly what the cursor will not.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// A query of everything this cursor will not return.
    pub fn before(&self) -> Query {
        Query {
            until_chunk_seq: Some(self.last_seq),
            ..Query::default()
        }
    }

    pub fn poll(&mut self, session: &mut Session) -> Result<TailUpdate> {
        session.refresh_meta()?;
        if session.meta.generation != self.generation {
            self.generation = session.meta.generation;
            self.last_seq = i64::MAX;
            return Ok(TailUpdate {
                rewritten: true,
                ..TailUpdate::default()
            });
        }
        let seqs: Vec<i64> = session
            .conn
            .prepare_cached(
                "SELECT chunk_seq FROM chunks WHERE chunk_seq > ?1 ORDER BY chunk_seq LIMIT 4096",
            )
            .and_then(|mut s| {
                s.query_map([self.last_seq], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .ctx("looking for new chunks")?;
        let mut update = TailUpdate::default();
        for seq in seqs {
            let layout = session.layout();
            if let Err(e) =
                super::scan::read_chunk_body(&session.conn, seq, layout, &mut update.events)
            {
                update.errors.push(e);
            }
            self.last_seq = seq;
        }
        Ok(update)
    }

    /// Makes the cursor continue after everything currently in `session` (after a reload).
    pub fn reset_to_end(&mut self, session: &Session) -> Result<()> {
        *self = session.tail()?;
        Ok(())
    }
}
