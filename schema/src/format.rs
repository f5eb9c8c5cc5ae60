//! Numbers, sizes, times, dates and ids as people read them (one copy for the workspace: the
//! viewer, the recorder and the text of event fields use it).

use std::fmt::Write as _;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1536` → `1.5 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.2} {}", UNITS[unit])
    } else if v < 100.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// A duration with a unit that suits it: `850 ns`, `12.3 µs`, `4.56 ms`, `12.417 s`, `3 min 4.2 s`.
pub fn duration(nanos: u64) -> String {
    let n = nanos as f64;
    if nanos < 1_000 {
        format!("{nanos} ns")
    } else if nanos < 1_000_000 {
        format!("{:.1} µs", n / 1e3)
    } else if nanos < 1_000_000_000 {
        format!("{:.2} ms", n / 1e6)
    } else if nanos < 120_000_000_000 {
        format!("{:.3} s", n / 1e9)
    } else {
        let secs = nanos / 1_000_000_000;
        format!(
            "{} min {:.1} s",
            secs / 60,
            (nanos % 60_000_000_000) as f64 / 1e9
        )
    }
}

/// The span of a session, the one every tool shows (the recorder's summary, `info`, the
/// window): from its start (or its first event, if earlier) to its end (or its last event,
/// if later: the daemon's last events and samples are written after the recorder's end).
pub fn session_span(
    start_ts_nanos: u64,
    end_ts_nanos: Option<u64>,
    events: Option<(u64, u64)>,
) -> (u64, u64) {
    let (first, last) = events.unwrap_or((start_ts_nanos, start_ts_nanos));
    let lo = if start_ts_nanos > 0 {
        start_ts_nanos.min(first)
    } else {
        first
    };
    let hi = end_ts_nanos.unwrap_or(last).max(last);
    (lo, hi.max(lo))
}

/// A time relative to the start of the session, to the microsecond: `3.214007 s`.
pub fn offset(nanos_since_start: i64) -> String {
    let sign = if nanos_since_start < 0 { "-" } else { "" };
    let n = nanos_since_start.unsigned_abs();
    format!(
        "{sign}{}.{:06} s",
        n / 1_000_000_000,
        (n % 1_000_000_000) / 1_000
    )
}

/// `ts` relative to `origin` (both boot-clock times from a file: any values), as [`offset`].
pub fn offset_from(ts: u64, origin: u64) -> String {
    let d = i128::from(ts) - i128::from(origin);
    offset(i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX }))
}

/// Nanoseconds since the Unix epoch as `2025-11-24 16:00:01.000 UTC`.
pub fn wall_clock(epoch_nanos: i64) -> String {
    let secs = epoch_nanos.div_euclid(1_000_000_000);
    let millis = epoch_nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::new();
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    s
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The first 12 characters of a container or image id, without a `sha256:` prefix.
///
/// Ids come from files and daemons: any string is accepted, and never cut inside a
/// character.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    prefix_chars(id, SHORT_ID_CHARS)
}

/// Characters of an id Docker shows: `4f1c2a9e0b7d`.
pub const SHORT_ID_CHARS: usize = 12;

/// The first `n` characters of `s` (all of it when shorter).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// `s` cut to at most `max_bytes` bytes at a character boundary.
pub fn prefix_bytes(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Long hexadecimal ids (overlay layer directories, container ids) cut to their first 12
/// characters, as Docker shows them: `/var/lib/docker/overlay2/4f1c2a9e0b7d…/diff`.
pub fn shorten_ids(s: &str) -> String {
    const LONG: usize = 24;
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            .count();
        if run >= LONG {
            out.push_str(&s[i..i + 12]);
            out.push('…');
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&s[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

/// A string cut to `max` characters with an ellipsis.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(50 << 20), "50.0 MiB");
    }

    #[test]
    fn durations_and_times() {
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(12_300), "12.3 µs");
        assert_eq!(duration(12_417_000_000), "12.417 s");
        assert_eq!(duration(184_200_000_000), "3 min 4.2 s");
        assert_eq!(offset(3_214_007_123), "3.214007 s");
        assert_eq!(offset(-1_500_000), "-0.001500 s");
        assert_eq!(wall_clock(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            wall_clock(1_764_000_001_250_000_000),
            "2025-11-24 16:00:01.250 UTC"
        );
    }

    #[test]
    fn ids_and_text() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id("0123456789aé456"), "0123456789aé");
        assert_eq!(short_id("ééééééééééééé"), "éééééééééééé");
        assert_eq!(short_id(""), "");
        assert_eq!(prefix_bytes("aé", 2), "a");
        assert_eq!(prefix_bytes("aé", 3), "aé");
        assert_eq!(offset_from(1, 2), "-0.000000 s");
        assert_eq!(offset_from(u64::MAX, 0), offset(i64::MAX));
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(ellipsize("abc", 4), "abc");
        let id = "4f1c2a9e0b7d".repeat(5) + "abcd";
        assert_eq!(
            shorten_ids(&format!("/var/lib/docker/overlay2/{id}/diff/é")),
            "/var/lib/docker/overlay2/4f1c2a9e0b7d…/diff/é"
        );
        assert_eq!(shorten_ids("pid 1234 fd 5"), "pid 1234 fd 5");
    }
}
