//! Beefine's kernel side: the C probes (`src/beefine.bpf.c`, compiled by `build.rs` with
//! clang for the BPF target, CO-RE), the record ABI they share with user space
//! (`include/beefine_abi.h`) and its Rust mirror ([`abi`]).

pub mod abi;
pub mod toolchain;

#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

static OBJECT: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/beefine.bpf.o")));

/// The compiled probe object (an ELF file for the BPF target), 8-byte aligned for loaders.
/// Empty when this was built for an architecture the probes do not know (see
/// [`arch_supported`]).
pub fn object() -> &'static [u8] {
    &OBJECT.0
}

/// Whether the probes know the syscall numbers and registers of the architecture this was
/// built for ([`toolchain::PROBE_ARCHES`]).
pub fn arch_supported() -> bool {
    toolchain::PROBE_ARCHES.contains(&std::env::consts::ARCH)
}

/// Names of the maps in [`object`].
pub mod maps {
    /// Ring buffer of records.
    pub const EVENTS: &str = "BF_EVENTS";
    /// tgid → 1: the processes in scope.
    pub const TRACKED: &str = "BF_TRACKED";
    /// (tgid, fd) → summed I/O, see [`crate::abi::IoKey`].
    pub const FILEIO: &str = "BF_FILEIO";
    /// Per-CPU counters, indexed by [`crate::abi::Counter`].
    pub const COUNTERS: &str = "BF_COUNTERS";
}

/// Names of the global variables the loader sets.
pub mod globals {
    /// `u8`: record every process on the machine.
    pub const TRACE_ALL: &str = "bf_trace_all";
    /// `u32`: the recorder's own tgid, never recorded.
    pub const SELF_TGID: &str = "bf_self_tgid";
}
