//! How probes are compiled: clang for the BPF target (CO-RE, `-D__TARGET_ARCH_*`) against
//! libbpf's headers. The one copy of it, used by `build.rs` for the built-in probes, by the
//! recorder's `probe build` for probes of your own, and by `cargo xtask test` for the
//! per-architecture build check; the build script and xtask include this file, so it needs
//! nothing but std.

/// The environment variable that names the clang to run (`clang` when unset).
pub const CLANG_ENV: &str = "BEEFINE_CLANG";

/// The clang to run.
pub fn clang() -> String {
    std::env::var(CLANG_ENV).unwrap_or_else(|_| "clang".into())
}

/// Where clang finds `bpf/bpf_helpers.h` and the rest of libbpf's headers by default
/// (Debian's `libbpf-dev`, or a libbpf installed from source).
pub const LIBBPF_HEADERS: &[&str] = &[
    "/usr/include/bpf/bpf_helpers.h",
    "/usr/local/include/bpf/bpf_helpers.h",
];

/// Whether libbpf's headers are where clang looks for them.
pub fn have_libbpf_headers() -> bool {
    LIBBPF_HEADERS
        .iter()
        .any(|h| std::path::Path::new(h).exists())
}

/// What to say when libbpf's headers are missing.
pub const LIBBPF_MISSING: &str = "the libbpf headers (bpf/bpf_helpers.h) are missing: install \
    them with `apt-get install libbpf-dev` (Debian, Ubuntu) or `dnf install libbpf-devel` \
    (Fedora)";

/// What to say when clang is not found.
pub fn clang_missing(clang: &str) -> String {
    format!(
        "`{clang}` was not found: probes are compiled with clang. Install it with `apt-get \
         install clang` (Debian, Ubuntu) or `dnf install clang` (Fedora), or point {CLANG_ENV} \
         at a clang binary"
    )
}

/// The architectures whose syscall numbers and registers the built-in probes know
/// (`include/bf_syscalls.h`), as Rust names them (`std::env::consts::ARCH`).
pub const PROBE_ARCHES: &[&str] = &["x86_64", "aarch64"];

/// The `__TARGET_ARCH_*` name libbpf's headers use for a Rust architecture name.
pub fn target_arch(rust_arch: &str) -> Option<&'static str> {
    Some(match rust_arch {
        "x86_64" | "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390",
        "powerpc64" => "powerpc",
        "riscv64" => "riscv",
        "loongarch64" => "loongarch",
        _ => return None,
    })
}

/// clang's arguments for a probe for the `__TARGET_ARCH_*` architecture `arch`; include
/// directories, `-c SOURCE -o OBJECT` and stricter warnings are the caller's.
pub fn clang_flags(arch: &str) -> Vec<String> {
    ["-O2", "-g", "-target", "bpf"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("-D__TARGET_ARCH_{arch}"), "-Wall".to_string()])
        .collect()
}
