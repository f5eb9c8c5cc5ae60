//! The Bloom filters stored per chunk for pids and cgroups.

/// A 512-bit Bloom filter over u64 keys (two probes), stored per chunk for pids and cgroups.
#[derive(Clone, PartialEq, Eq)]
pub struct Bloom(pub [u8; Bloom::BYTES]);

impl std::fmt::Debug for Bloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bloom({} bits set)",
            self.0.iter().map(|b| b.count_ones()).sum::<u32>()
        )
    }
}

impl Default for Bloom {
    fn default() -> Self {
        Self([0; Self::BYTES])
    }
}

impl Bloom {
    pub const BYTES: usize = 64;

    fn probes(key: u64) -> [usize; 2] {
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bits = Self::BYTES * 8;
        [(h >> 32) as usize % bits, (h & 0xFFFF_FFFF) as usize % bits]
    }

    pub fn insert(&mut self, key: u64) {
        for bit in Self::probes(key) {
            self.0[bit / 8] |= 1 << (bit % 8);
        }
    }

    /// False means the key is certainly absent.
    pub fn may_contain(&self, key: u64) -> bool {
        Self::probes(key)
            .iter()
            .all(|&bit| self.0[bit / 8] & (1 << (bit % 8)) != 0)
    }

    /// A filter read from a file; a wrong length yields a filter that matches everything.
    pub fn from_stored(bytes: &[u8]) -> Self {
        match <[u8; Self::BYTES]>::try_from(bytes) {
            Ok(a) => Self(a),
            Err(_) => Self([0xFF; Self::BYTES]),
        }
    }
}
