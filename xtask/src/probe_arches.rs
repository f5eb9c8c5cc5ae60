//! The built-in probes on every architecture they know: each builds (clang `-target bpf
//! -D__TARGET_ARCH_*`), and each architecture's syscall table in
//! `ebpf/include/bf_syscalls.h` matches that architecture's kernel headers
//! (`ebpf/tests/syscall_numbers.c`, a file of `_Static_assert`s compiled against them). The
//! probes run only on the machine's own architecture; the others are built and checked all
//! the same, with Debian's cross headers.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::util;

#[allow(
    dead_code,
    reason = "the shared toolchain file also serves the build script and the recorder"
)]
#[path = "../../ebpf/src/toolchain.rs"]
mod toolchain;

/// An architecture the probes know, and where its kernel headers are.
struct Arch {
    /// As Rust names it (`toolchain::PROBE_ARCHES`).
    rust: &'static str,
    /// clang's target for compiling against the headers.
    clang_target: &'static str,
    /// The directory holding its `asm/unistd.h`.
    headers: &'static str,
    /// The Debian package that installs them.
    package: &'static str,
}

const ARCHES: &[Arch] = &[
    Arch {
        rust: "x86_64",
        clang_target: "x86_64-linux-gnu",
        headers: "/usr/include/x86_64-linux-gnu",
        package: "linux-libc-dev",
    },
    Arch {
        rust: "aarch64",
        clang_target: "aarch64-linux-gnu",
        headers: "/usr/aarch64-linux-gnu/include",
        package: "linux-libc-dev-arm64-cross",
    },
];

/// Builds the probes and checks the syscall table for each architecture. The headers come
/// from the packages named in `ARCHES`, which provisioning installs.
pub fn check() -> Result<()> {
    for rust in toolchain::PROBE_ARCHES {
        if !ARCHES.iter().any(|a| a.rust == *rust) {
            bail!("xtask/src/probe_arches.rs does not say where {rust}'s kernel headers are");
        }
    }
    let ebpf = util::root().join("ebpf");
    let include = ebpf.join("include");
    let dir = util::xtask_dir()?;
    let clang = toolchain::clang();
    if !toolchain::have_libbpf_headers() {
        bail!(toolchain::LIBBPF_MISSING);
    }
    for arch in ARCHES {
        let target_arch = toolchain::target_arch(arch.rust).expect("a known architecture");
        let unistd = Path::new(arch.headers).join("asm/unistd.h");
        if !unistd.is_file() {
            bail!(
                "{} is missing: {}'s kernel headers come with Debian's {} (`apt-get install {}`, \
                 or `cargo xtask provision` as root)",
                unistd.display(),
                arch.rust,
                arch.package,
                arch.package
            );
        }
        let object = dir.join(format!("beefine-{}.bpf.o", arch.rust));
        let mut build = Command::new(&clang);
        build
            .args(toolchain::clang_flags(target_arch))
            .arg("-Werror")
            .arg("-I")
            .arg(&include)
            .arg("-c")
            .arg(ebpf.join("src/beefine.bpf.c"))
            .arg("-o")
            .arg(&object);
        run_clang(&mut build, &clang)
            .with_context(|| format!("building the probes for {}", arch.rust))?;
        let elf =
            std::fs::read(&object).with_context(|| format!("reading {}", object.display()))?;
        // e_machine 247 = EM_BPF.
        if elf.len() < 20
            || &elf[..4] != b"\x7fELF"
            || u16::from_le_bytes([elf[18], elf[19]]) != 247
        {
            bail!("{} is not an eBPF object", object.display());
        }
        let mut table = Command::new(&clang);
        table
            .args(["-target", arch.clang_target, "-fsyntax-only", "-nostdinc"])
            .arg("-isystem")
            .arg(arch.headers)
            .arg(format!("-D__TARGET_ARCH_{target_arch}"))
            .arg("-I")
            .arg(&include)
            .arg(ebpf.join("tests/syscall_numbers.c"));
        run_clang(&mut table, &clang).with_context(|| {
            format!(
                "the {} syscall table in ebpf/include/bf_syscalls.h against {}",
                arch.rust,
                unistd.display()
            )
        })?;
        println!(
            "{}: the probes build ({} bytes) and their syscall numbers are the ones in {}",
            arch.rust,
            elf.len(),
            unistd.display()
        );
    }
    Ok(())
}

fn run_clang(cmd: &mut Command, clang: &str) -> Result<()> {
    match util::run(cmd) {
        Err(_) if !util::have(clang) => bail!(toolchain::clang_missing(clang)),
        other => other,
    }
}
