//! Two sessions side by side: the comparison of the open session (A) with another (B),
//! made in a thread by `beefine_schema::compare`, and the layout of their aligned
//! chapters. No egui here.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::time::Duration;

use beefine_schema::compare::{ChapterRow, Diff};
use beefine_schema::story::Chapter;

/// Where the comparison is.
#[derive(Debug)]
pub enum CompareStatus {
    Computing,
    Ready(Box<Diff>, Duration),
    Failed(String),
}

/// The comparison of the open session with another.
#[derive(Debug)]
pub struct Comparison {
    pub a: PathBuf,
    pub b: PathBuf,
    pub status: CompareStatus,
    /// Whether the comparison fills the window (else the open session does, with a line
    /// that leads back).
    pub shown: bool,
    /// The aligned row under the pointer or last clicked.
    pub selected: Option<usize>,
    rx: Option<Receiver<Result<(Diff, Duration), String>>>,
}

impl Comparison {
    /// Starts comparing `a` with `b` in a thread; `wake` is called when it is done.
    pub fn start(a: &Path, b: &Path, wake: Box<dyn Fn() + Send>) -> Self {
        let (tx, rx) = sync_channel(1);
        let (pa, pb) = (a.to_owned(), b.to_owned());
        let spawned = std::thread::Builder::new()
            .name("compare".into())
            .spawn(move || {
                let r = crate::diff::diff_files(&pa, &pb, None, None)
                    .map(|c| (c.diff, c.elapsed))
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(r);
                wake();
            });
        let (status, rx) = match spawned {
            Ok(_) => (CompareStatus::Computing, Some(rx)),
            Err(e) => (
                CompareStatus::Failed(format!("cannot start a thread to compare: {e}")),
                None,
            ),
        };
        Self {
            a: a.to_owned(),
            b: b.to_owned(),
            status,
            shown: true,
            selected: None,
            rx,
        }
    }

    /// A comparison already made (tests, the headless commands).
    pub fn ready(a: &Path, b: &Path, diff: Diff) -> Self {
        Self {
            a: a.to_owned(),
            b: b.to_owned(),
            status: CompareStatus::Ready(Box::new(diff), Duration::ZERO),
            shown: true,
            selected: None,
            rx: None,
        }
    }

    /// Takes the result when the thread has sent it.
    pub fn poll(&mut self) {
        let Some(rx) = &self.rx else { return };
        match rx.try_recv() {
            Ok(Ok((diff, took))) => self.status = CompareStatus::Ready(Box::new(diff), took),
            Ok(Err(e)) => self.status = CompareStatus::Failed(e),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                self.status = CompareStatus::Failed("the comparison stopped".to_owned());
            }
        }
        self.rx = None;
    }

    pub fn diff(&self) -> Option<&Diff> {
        match &self.status {
            CompareStatus::Ready(d, _) => Some(d),
            _ => None,
        }
    }
}

/// One aligned row on the common axis of the two bands: where its slot starts and how
/// wide it is (fractions of the axis), and how much of the slot each side's chapter fills.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slot {
    pub start: f64,
    pub width: f64,
    /// `None`: the side has no such chapter.
    pub a: Option<f64>,
    pub b: Option<f64>,
}

/// The smallest share of the axis a slot gets, so that short chapters stay visible.
pub const MIN_SLOT: f64 = 0.025;

/// The slots of the aligned chapters: each as wide as the longer of its two chapters (at
/// least [`MIN_SLOT`] of the axis), each side's bar as long as its own chapter.
pub fn slots(rows: &[ChapterRow]) -> Vec<Slot> {
    let dur = |r: &ChapterRow| {
        let d = |s: &Option<beefine_schema::compare::ChapterSide>| {
            s.as_ref().map_or(0, |c| c.duration_nanos)
        };
        d(&r.a).max(d(&r.b)) as f64
    };
    let total: f64 = rows.iter().map(dur).sum::<f64>().max(1.0);
    let widths: Vec<f64> = rows
        .iter()
        .map(|r| (dur(r) / total).max(MIN_SLOT))
        .collect();
    let sum: f64 = widths.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut start = 0.0;
    rows.iter()
        .zip(widths)
        .map(|(r, w)| {
            let width = w / sum;
            let slot_nanos = dur(r).max(1.0);
            let fill = |s: &Option<beefine_schema::compare::ChapterSide>| {
                s.as_ref()
                    .map(|c| (c.duration_nanos as f64 / slot_nanos).clamp(0.0, 1.0))
            };
            let slot = Slot {
                start,
                width,
                a: fill(&r.a),
                b: fill(&r.b),
            };
            start += width;
            slot
        })
        .collect()
}

/// The index (into `chapters`, the open session's story) of the chapter a row's A side
/// is: the one of its kind that starts at its time, else the nearest of its kind.
pub fn chapter_of(row: &ChapterRow, chapters: &[Chapter]) -> Option<usize> {
    let a = row.a.as_ref()?;
    chapters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chapter == a.chapter)
        .min_by_key(|(_, c)| c.ts_nanos.abs_diff(a.ts_nanos))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beefine_schema::compare::ChapterSide;
    use beefine_schema::story::ChapterKind;

    fn side(chapter: ChapterKind, ts: u64, dur: u64) -> Option<ChapterSide> {
        Some(ChapterSide {
            chapter,
            title: chapter.name().to_owned(),
            ts_nanos: ts,
            offset_nanos: ts,
            duration_nanos: dur,
            events: 1,
        })
    }

    #[test]
    fn slots_share_the_axis_and_bars_fill_their_slot() {
        let rows = vec![
            ChapterRow {
                a: side(ChapterKind::Pull, 0, 100),
                b: side(ChapterKind::Pull, 0, 50),
            },
            ChapterRow {
                a: side(ChapterKind::Network, 100, 0),
                b: None,
            },
            ChapterRow {
                a: side(ChapterKind::Mounts, 200, 300),
                b: side(ChapterKind::Mounts, 60, 600),
            },
        ];
        let s = slots(&rows);
        let total: f64 = s.iter().map(|x| x.width).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(s[1].width > 0.0, "a chapter of no time still has a slot");
        assert_eq!((s[0].a, s[0].b), (Some(1.0), Some(0.5)));
        assert_eq!(s[1].b, None);
        assert_eq!((s[2].a, s[2].b), (Some(0.5), Some(1.0)));
        assert!(s[2].width > s[0].width);
        assert!((s[2].start - (s[0].width + s[1].width)).abs() < 1e-9);
        assert!(slots(&[]).is_empty());
        let chapters = vec![Chapter {
            chapter: ChapterKind::Mounts,
            title: String::new(),
            ts_nanos: 201,
            end_ts_nanos: 500,
            container_id: None,
            events: 1,
            notice: String::new(),
        }];
        assert_eq!(chapter_of(&rows[2], &chapters), Some(0));
        assert_eq!(chapter_of(&rows[0], &chapters), None);
    }
}
