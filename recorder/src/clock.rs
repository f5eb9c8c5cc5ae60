//! The session clock: CLOCK_BOOTTIME, as `bpf_ktime_get_boot_ns` in the probes.

use nix::time::{ClockId, clock_gettime};

/// Now on the boot clock, ns.
pub fn boot_nanos() -> u64 {
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Now on the wall clock, ns since the epoch.
pub fn wall_nanos() -> i64 {
    clock_gettime(ClockId::CLOCK_REALTIME)
        .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
        .unwrap_or(0)
}

/// Wall minus boot, measured with the two reads as close together as possible (the smallest
/// bracket of several tries), so that wall-clock times (Docker's) map onto the boot clock.
pub fn clock_offset_nanos() -> i64 {
    let mut best = (u64::MAX, 0i64);
    for _ in 0..5 {
        let b1 = boot_nanos();
        let w = wall_nanos();
        let b2 = boot_nanos();
        let width = b2 - b1;
        if width < best.0 {
            best = (width, w - (b1 + width / 2) as i64);
        }
    }
    best.1
}

/// A wall-clock time in ns since the epoch on the boot clock.
pub fn wall_to_boot(wall_nanos: i64, offset_nanos: i64) -> u64 {
    (wall_nanos - offset_nanos).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_maps_now_to_now() {
        let offset = clock_offset_nanos();
        let boot = boot_nanos();
        let mapped = wall_to_boot(wall_nanos(), offset);
        assert!(mapped.abs_diff(boot) < 5_000_000, "{mapped} vs {boot}");
    }
}
