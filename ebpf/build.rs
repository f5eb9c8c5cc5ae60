//! Compiles the C probes with clang (BPF target, CO-RE) and embeds the object.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let include = manifest.join("include");
    let source = manifest.join("src/beefine.bpf.c");
    println!("cargo:rerun-if-changed={}", source.display());
    println!(
        "cargo:rerun-if-changed={}",
        include.join("beefine_abi.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        include.join("vmlinux_min.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        include.join("bf_syscalls.h").display()
    );
    println!("cargo:rerun-if-env-changed=BEEFINE_CLANG");

    let clang = std::env::var("BEEFINE_CLANG").unwrap_or_else(|_| "clang".into());
    let headers = [
        "/usr/include/bpf/bpf_helpers.h",
        "/usr/local/include/bpf/bpf_helpers.h",
    ];
    if !headers.iter().any(|h| std::path::Path::new(h).exists()) {
        fail(
            "the libbpf headers (bpf/bpf_helpers.h) are missing. Install them with \
             `apt-get install libbpf-dev` (Debian/Ubuntu) or `dnf install libbpf-devel` (Fedora).",
        );
    }
    let object = out.join("beefine.bpf.o");
    let status = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-D__TARGET_ARCH_x86",
            "-Wall",
            "-Werror",
        ])
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail(&format!(
            "`{clang}` was not found: the eBPF probes are compiled with clang. Install it with \
             `apt-get install clang` (Debian/Ubuntu) or `dnf install clang` (Fedora), or point \
             BEEFINE_CLANG at a clang binary."
        )),
        Err(e) => fail(&format!("could not run {clang}: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
