//! `probe build`: compiles a probe with clang as the built-in ones are
//! (`beefine_ebpf::toolchain`), and says what Beefine will do with the object.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use beefine_ebpf::toolchain;

use crate::probes;

/// clang's arguments for a probe for this machine (the source and output are appended).
fn clang_flags() -> Vec<String> {
    // For an architecture libbpf has no name for, its bpf_tracing.h says that it needs one.
    toolchain::clang_flags(toolchain::target_arch(std::env::consts::ARCH).unwrap_or("unknown"))
}

/// The command `probe build` runs, as a line to copy.
pub fn clang_command(source: &str, object: &str) -> String {
    format!(
        "{} {} -c {source} -o {object}",
        toolchain::clang(),
        clang_flags().join(" ")
    )
}

/// Compiles `NAME.bpf.c` (or `NAME.c`) into `NAME.bpf.o` beside it.
pub fn build(source: &Path) -> Result<PathBuf> {
    let file = source
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(stem) = file
        .strip_suffix(".bpf.c")
        .or_else(|| file.strip_suffix(".c"))
    else {
        bail!(
            "{}: expected a C source file NAME.bpf.c (start one with `beefine-record probe new \
             NAME`)",
            source.display()
        );
    };
    if !source.is_file() {
        bail!("{}: no such file", source.display());
    }
    if !toolchain::have_libbpf_headers() {
        bail!(toolchain::LIBBPF_MISSING);
    }
    let object = source.with_file_name(format!("{stem}.bpf.o"));
    let clang = toolchain::clang();
    let mut cmd = Command::new(&clang);
    cmd.args(clang_flags());
    if let Some(dir) = source.parent().filter(|d| !d.as_os_str().is_empty()) {
        cmd.arg("-I").arg(dir);
    }
    cmd.arg("-c").arg(source).arg("-o").arg(&object);
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(toolchain::clang_missing(&clang))
        }
        Err(e) => bail!("running {clang}: {e}"),
    };
    if !status.success() {
        bail!(
            "{clang} could not compile {} ({status}); its messages are above",
            source.display()
        );
    }
    Ok(object)
}

/// Prints what Beefine will do with a built object.
pub(super) fn describe_object(object: &Path) -> Result<()> {
    let elf = std::fs::read(object).with_context(|| format!("reading {}", object.display()))?;
    let info = probes::inspect(&object.display().to_string(), &elf)?;
    println!("built {}", object.display());
    println!("  programs:");
    for s in &info.sections {
        println!("    {:<24} {}", s.name, s.section);
    }
    match (&info.record, &info.no_record_reason) {
        (Some((name, btf)), _) => {
            println!(
                "  record type: {name} ({} bytes of BTF stored with each session)",
                btf.len()
            );
            for f in &info.fields {
                println!("    +{:<4} {:<16} {} bytes", f.offset, f.name, f.size);
            }
        }
        (None, Some(reason)) => println!("  warning: {reason}"),
        (None, None) => {}
    }
    println!(
        "record with: sudo beefine-record --session NAME --probe {} -- COMMAND",
        object.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_cli::scratch;
    use crate::probe_cli::skeleton::new_probe;
    use beefine_schema::btf::Btf;

    /// new → build → the object has the program, the record type and its fields. Needs
    /// clang and libbpf-dev, as building the recorder itself does.
    #[test]
    fn the_skeleton_builds_with_its_record_type() {
        let dir = scratch("build");
        let written = new_probe("skeleton", &dir).unwrap();
        let object = build(&written[0]).unwrap();
        assert_eq!(object, dir.join("skeleton.bpf.o"));
        let elf = std::fs::read(&object).unwrap();
        let info = probes::inspect("skeleton", &elf).unwrap();
        assert_eq!(info.sections.len(), 1);
        assert_eq!(info.sections[0].name, "skeleton_openat");
        assert_eq!(
            info.sections[0].section,
            "tracepoint/syscalls/sys_enter_openat"
        );
        let (record, btf) = info.record.clone().unwrap();
        assert_eq!(record, "skeleton_event");
        let names: Vec<&str> = info.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ts_nanos",
                "pid",
                "tgid",
                "comm",
                "cgroup_id",
                "dfd",
                "flags"
            ]
        );
        let btf = Btf::parse(&btf).unwrap();
        assert_eq!(btf.record("skeleton_event").unwrap().size(), 48);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn build_refuses_what_is_not_c() {
        let err = build(Path::new("/tmp/x.bpf.o")).unwrap_err().to_string();
        assert!(err.contains("expected a C source file"), "{err}");
        let err = build(Path::new("/nonexistent/x.bpf.c"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such file"), "{err}");
    }
}
