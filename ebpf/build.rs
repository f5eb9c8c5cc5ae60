//! Compiles the C probes with clang (BPF target, CO-RE) for the architecture the crate is
//! built for, and embeds the object. The probes know the syscalls of x86-64 and arm64
//! (`include/bf_syscalls.h`); for any other architecture the object is empty and the
//! recorder says it cannot record there.

use std::path::PathBuf;
use std::process::Command;

#[allow(
    dead_code,
    reason = "the shared toolchain file also serves the recorder and xtask"
)]
#[path = "src/toolchain.rs"]
mod toolchain;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let include = manifest.join("include");
    let source = manifest.join("src/beefine.bpf.c");
    for part in ["beefine.bpf.c", "records.bpf.h", "syscalls.bpf.h"] {
        println!(
            "cargo:rerun-if-changed={}",
            manifest.join("src").join(part).display()
        );
    }
    for header in ["beefine_abi.h", "vmlinux_min.h", "bf_syscalls.h"] {
        println!("cargo:rerun-if-changed={}", include.join(header).display());
    }
    println!("cargo:rerun-if-changed=src/toolchain.rs");
    println!("cargo:rerun-if-env-changed={}", toolchain::CLANG_ENV);

    let object = out.join("beefine.bpf.o");
    let rust_arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets it");
    let arch = toolchain::target_arch(&rust_arch)
        .filter(|_| toolchain::PROBE_ARCHES.contains(&rust_arch.as_str()));
    let Some(arch) = arch else {
        println!(
            "cargo:warning=Beefine's probes know the syscalls of {} only, not of {rust_arch}: \
             this recorder will refuse to record",
            toolchain::PROBE_ARCHES.join(" and ")
        );
        if let Err(e) = std::fs::write(&object, b"") {
            fail(&format!("writing {}: {e}", object.display()));
        }
        return;
    };

    let clang = toolchain::clang();
    if !toolchain::have_libbpf_headers() {
        fail(toolchain::LIBBPF_MISSING);
    }
    let status = Command::new(&clang)
        .args(toolchain::clang_flags(arch))
        .arg("-Werror")
        .arg("-I")
        .arg(&include)
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "{clang} failed ({s}) compiling {}",
            source.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fail(&toolchain::clang_missing(&clang))
        }
        Err(e) => fail(&format!("could not run {clang}: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
