//! Shortening text from a file or a daemon without ever cutting a character in two.

/// Characters of an id Docker shows: `4f1c2a9e0b7d`.
pub const SHORT_ID_CHARS: usize = 12;

/// The first 12 characters of a container or image id, without a `sha256:` prefix, as
/// Docker shows them. Ids come from files and daemons: any string is accepted.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    prefix_chars(id, SHORT_ID_CHARS)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_never_cut_a_character() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id("0123456789aé456"), "0123456789aé");
        assert_eq!(short_id("ééééééééééééé"), "éééééééééééé");
        assert_eq!(short_id(""), "");
        assert_eq!(prefix_bytes("aé", 2), "a");
        assert_eq!(prefix_bytes("aé", 3), "aé");
    }
}
