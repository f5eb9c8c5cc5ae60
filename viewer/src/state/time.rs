//! Time control: the visible range of the timeline, the cursor, and playback.

/// Narrowest visible range: 1 µs.
pub const MIN_VIEW_NANOS: f64 = 1_000.0;

/// Playback speeds offered, as multiples of real time.
pub const SPEEDS: [f64; 9] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 20.0];

/// The visible range, the cursor and playback, on the session's boot clock.
///
/// The range is kept relative to the start of the session in `f64` nanoseconds, so that zoom
/// and pan are smooth and exact to well under a nanosecond for sessions of hours.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeControl {
    span: (u64, u64),
    view: (f64, f64),
    cursor: u64,
    pub playing: bool,
    /// Multiple of real time while playing.
    pub speed: f64,
    /// Live sessions: keep the cursor on the newest event.
    pub follow: bool,
}

impl TimeControl {
    pub fn new(span: (u64, u64)) -> Self {
        let mut t = Self {
            span: (span.0, span.1.max(span.0 + 1)),
            view: (0.0, 1.0),
            cursor: span.0,
            playing: false,
            speed: 1.0,
            follow: false,
        };
        t.fit();
        t
    }

    pub fn span(&self) -> (u64, u64) {
        self.span
    }

    fn span_width(&self) -> f64 {
        (self.span.1 - self.span.0) as f64
    }

    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The visible range as boot-clock times.
    pub fn view(&self) -> (u64, u64) {
        (self.abs(self.view.0), self.abs(self.view.1))
    }

    pub fn view_width_nanos(&self) -> f64 {
        self.view.1 - self.view.0
    }

    fn abs(&self, rel: f64) -> u64 {
        if rel <= 0.0 {
            self.span.0.saturating_sub((-rel) as u64)
        } else {
            self.span.0.saturating_add(rel as u64)
        }
    }

    fn rel(&self, ts: u64) -> f64 {
        ts as f64 - self.span.0 as f64
    }

    /// Where `ts` is in the visible range: 0 at its left edge, 1 at its right edge.
    pub fn fraction_of(&self, ts: u64) -> f64 {
        (self.rel(ts) - self.view.0) / self.view_width_nanos()
    }

    /// The time at a fraction of the visible range.
    pub fn ts_at_fraction(&self, fraction: f64) -> u64 {
        self.abs(self.view.0 + fraction * self.view_width_nanos())
    }

    /// Shows the whole session with a small margin.
    pub fn fit(&mut self) {
        let w = self.span_width();
        let margin = w * 0.01;
        self.view = (-margin, w + margin);
    }

    fn max_width(&self) -> f64 {
        (self.span_width() * 1.2).max(MIN_VIEW_NANOS)
    }

    /// Keeps the view inside the session (with a margin) and within the zoom limits.
    fn clamp_view(&mut self) {
        let width = self
            .view_width_nanos()
            .clamp(MIN_VIEW_NANOS, self.max_width());
        let margin = self.span_width() * 0.1;
        let lo_min = -margin;
        let hi_max = self.span_width() + margin;
        let mut lo = self.view.0;
        if lo + width > hi_max {
            lo = hi_max - width;
        }
        if lo < lo_min {
            lo = lo_min;
        }
        self.view = (lo, lo + width);
    }

    /// Zooms by `factor` (< 1 zooms in) keeping the time at `anchor` (a fraction of the
    /// visible range) where it is.
    pub fn zoom(&mut self, factor: f64, anchor: f64) {
        if !factor.is_finite() || factor <= 0.0 {
            return;
        }
        let anchor = anchor.clamp(0.0, 1.0);
        let w = self.view_width_nanos();
        let new_w = (w * factor).clamp(MIN_VIEW_NANOS, self.max_width());
        let at = self.view.0 + anchor * w;
        self.view = (at - anchor * new_w, at - anchor * new_w + new_w);
        self.clamp_view();
    }

    /// Moves the visible range by a fraction of its width (positive: later).
    pub fn pan(&mut self, fraction: f64) {
        if !fraction.is_finite() {
            return;
        }
        let d = fraction * self.view_width_nanos();
        self.view = (self.view.0 + d, self.view.1 + d);
        self.clamp_view();
    }

    /// Shows exactly this range (clamped).
    pub fn set_view(&mut self, lo: u64, hi: u64) {
        self.view = (self.rel(lo), self.rel(hi.max(lo + 1)));
        self.clamp_view();
    }

    /// Moves the cursor (kept inside the session).
    pub fn set_cursor(&mut self, ts: u64) {
        self.cursor = ts.clamp(self.span.0, self.span.1);
    }

    /// Scrolls the view so that `ts` is visible, keeping the zoom.
    pub fn ensure_visible(&mut self, ts: u64) {
        let f = self.fraction_of(ts);
        if !(0.0..=1.0).contains(&f) {
            let w = self.view_width_nanos();
            let at = self.rel(ts);
            self.view = (at - w * 0.5, at + w * 0.5);
            self.clamp_view();
        }
    }

    /// Starts or stops playback; playing from the end starts over.
    pub fn toggle_play(&mut self) {
        self.playing = !self.playing;
        if self.playing && self.cursor >= self.span.1 {
            self.cursor = self.span.0;
        }
        if self.playing {
            self.follow = false;
        }
    }

    /// Advances playback by `dt_secs` of wall time. Returns whether the cursor moved. The
    /// view pages forward when the cursor leaves it.
    pub fn advance(&mut self, dt_secs: f64) -> bool {
        if !self.playing || !dt_secs.is_finite() || dt_secs <= 0.0 {
            return false;
        }
        let step = (dt_secs * self.speed * 1e9).max(1.0) as u64;
        let before = self.cursor;
        self.cursor = self.cursor.saturating_add(step).min(self.span.1);
        if self.cursor >= self.span.1 {
            self.playing = false;
        }
        if self.fraction_of(self.cursor) > 1.0 {
            // Page: the cursor continues from the left part of the next screen.
            let w = self.view_width_nanos();
            let at = self.rel(self.cursor);
            self.view = (at - 0.1 * w, at + 0.9 * w);
            self.clamp_view();
        }
        self.cursor != before
    }

    /// A live session grew to `end`. Following keeps the newest time in view at the cursor.
    pub fn extend_span(&mut self, start: u64, end: u64) {
        let was_fit = self.view.0 <= 0.0 && self.view.1 >= self.span_width();
        self.span = (start.min(self.span.0), end.max(self.span.1));
        if self.follow {
            self.cursor = self.span.1;
            if was_fit {
                self.fit();
            } else {
                let w = self.view_width_nanos();
                let end_rel = self.span_width();
                self.view = (end_rel - 0.9 * w, end_rel + 0.1 * w);
                self.clamp_view();
            }
        }
    }

    /// The next speed up or down the list.
    pub fn step_speed(&mut self, faster: bool) {
        let i = SPEEDS
            .iter()
            .position(|&s| s >= self.speed - 1e-9)
            .unwrap_or(SPEEDS.len() - 1);
        let j = if faster {
            (i + 1).min(SPEEDS.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        self.speed = SPEEDS[j];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn zoom_keeps_the_anchor_in_place() {
        let mut t = TimeControl::new((S, 3 * S));
        let at = t.ts_at_fraction(0.25);
        t.zoom(0.5, 0.25);
        assert!((t.view_width_nanos() - 2e9 * 1.02 * 0.5).abs() < 1.0);
        let after = t.ts_at_fraction(0.25);
        assert!(at.abs_diff(after) <= 1, "{at} {after}");
        // Zooming far in stops at a microsecond; far out at the session (with margin).
        for _ in 0..100 {
            t.zoom(0.1, 0.5);
        }
        assert_eq!(t.view_width_nanos(), MIN_VIEW_NANOS);
        for _ in 0..100 {
            t.zoom(10.0, 0.5);
        }
        assert!(t.view_width_nanos() <= 2e9 * 1.2 + 1.0);
    }

    #[test]
    fn pan_stays_near_the_session() {
        let mut t = TimeControl::new((S, 2 * S));
        t.zoom(0.1, 0.5);
        t.pan(1000.0);
        let (_, hi) = t.view();
        assert!(hi <= 2 * S + S / 10 + 1, "{hi}");
        t.pan(-1000.0);
        let (lo, _) = t.view();
        assert!(lo >= S - S / 10 - 1, "{lo}");
        let w = t.view_width_nanos();
        t.pan(0.5);
        assert!(
            (t.view_width_nanos() - w).abs() < 1e-3,
            "pan keeps the zoom"
        );
    }

    #[test]
    fn cursor_and_fractions() {
        let mut t = TimeControl::new((S, 2 * S));
        t.set_view(S, 2 * S);
        assert_eq!(t.ts_at_fraction(0.5), S + S / 2);
        assert!((t.fraction_of(S + S / 4) - 0.25).abs() < 1e-9);
        t.set_cursor(0);
        assert_eq!(t.cursor(), S, "clamped to the session");
        t.set_cursor(5 * S);
        assert_eq!(t.cursor(), 2 * S);
        t.zoom(0.01, 0.0);
        t.ensure_visible(S + S / 2);
        assert!((0.0..=1.0).contains(&t.fraction_of(S + S / 2)));
    }

    #[test]
    fn playback_advances_pages_and_stops_at_the_end() {
        let mut t = TimeControl::new((S, 2 * S));
        t.set_view(S, S + S / 10);
        assert!(!t.advance(0.1), "paused");
        t.toggle_play();
        t.speed = 0.5;
        assert!(t.advance(0.1));
        assert_eq!(t.cursor(), S + S / 20);
        t.speed = 1.0;
        t.advance(0.1);
        assert!(
            t.fraction_of(t.cursor()) <= 1.0,
            "the view follows the cursor"
        );
        t.advance(10.0);
        assert_eq!(t.cursor(), 2 * S);
        assert!(!t.playing);
        t.toggle_play();
        assert_eq!(t.cursor(), S, "playing from the end starts over");
    }

    #[test]
    fn following_a_live_session() {
        let mut t = TimeControl::new((S, 2 * S));
        t.extend_span(S, 3 * S);
        assert_eq!(t.cursor(), S, "not following: the cursor stays put");
        assert_eq!(t.span(), (S, 3 * S));
        t.follow = true;
        t.extend_span(S, 4 * S);
        assert_eq!(t.cursor(), 4 * S);
        assert!((0.0..=1.0).contains(&t.fraction_of(4 * S)));
    }

    #[test]
    fn speeds_step_through_the_list() {
        let mut t = TimeControl::new((S, 2 * S));
        t.step_speed(true);
        assert_eq!(t.speed, 2.0);
        t.step_speed(false);
        t.step_speed(false);
        assert_eq!(t.speed, 0.5);
        for _ in 0..20 {
            t.step_speed(false);
        }
        assert_eq!(t.speed, SPEEDS[0]);
    }
}
