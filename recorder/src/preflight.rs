//! What recording needs from the machine, checked before anything is loaded, with a message
//! that says what is missing and how to fix it.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

/// An architecture the probes know, root (or the capabilities eBPF tracing needs), BTF, and
/// a mounted tracefs.
pub fn check() -> Result<()> {
    let machine = nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(problem) = arch_problem(
        std::env::consts::ARCH,
        beefine_ebpf::arch_supported(),
        &machine,
    ) {
        bail!(problem);
    }
    if !nix::unistd::geteuid().is_root() {
        let caps = effective_caps().unwrap_or(0);
        // CAP_SYS_ADMIN (21), or CAP_BPF (39) + CAP_PERFMON (38) + CAP_NET_ADMIN (12).
        let bpf_ok = caps & (1 << 21) != 0 || (caps & (1 << 39) != 0 && caps & (1 << 38) != 0);
        if !bpf_ok || caps & (1 << 12) == 0 {
            bail!(
                "beefine-record needs root: loading eBPF programs, attaching to tracepoints and \
                 packet hooks require CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN). Run it \
                 with sudo; the session file will belong to you, and beefine-view opens it \
                 without privileges."
            );
        }
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        bail!(
            "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing). Beefine's probes are \
             CO-RE and need it: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default of \
             current Debian, Ubuntu and Fedora kernels)."
        );
    }
    ensure_tracefs()
}

/// Why the probes cannot record here: built for an architecture whose syscalls they do not
/// know, or running on a kernel of another one (under emulation). `built` is the Rust name
/// of the architecture this was built for, `machine` the kernel's (`uname -m`).
fn arch_problem(built: &str, supported: bool, machine: &str) -> Option<String> {
    let known = beefine_ebpf::toolchain::PROBE_ARCHES.join(" and ");
    if !supported {
        return Some(format!(
            "beefine-record cannot record on {built}: its probes know the syscall numbers and \
             registers of {known} only, and would mislabel every call here. Record on an \
             x86-64 or arm64 machine; the session files open in beefine-view anywhere."
        ));
    }
    let kernel = match machine {
        "arm64" => "aarch64",
        other => other,
    };
    (!machine.is_empty() && kernel != built).then(|| {
        format!(
            "this beefine-record is built for {built} but the kernel runs on {machine}: its \
             probes would read {built}'s syscall numbers. Use a beefine-record built for \
             {machine}."
        )
    })
}

fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

fn tracefs_ready() -> bool {
    Path::new("/sys/kernel/tracing/events/syscalls").exists()
        || Path::new("/sys/kernel/debug/tracing/events/syscalls").exists()
}

/// Mounts tracefs at /sys/kernel/tracing when it is not mounted.
fn ensure_tracefs() -> Result<()> {
    if tracefs_ready() {
        return Ok(());
    }
    let mounted = Command::new("mount")
        .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        .status()
        .is_ok_and(|s| s.success());
    if mounted && tracefs_ready() {
        return Ok(());
    }
    bail!(
        "tracefs is not mounted and mounting it failed: tracepoints are found through it. Mount \
         it with `mount -t tracefs tracefs /sys/kernel/tracing` (the kernel needs \
         CONFIG_FTRACE_SYSCALLS for the syscall tracepoints)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_where_the_probes_know_the_syscalls() {
        assert_eq!(arch_problem("x86_64", true, "x86_64"), None);
        assert_eq!(arch_problem("aarch64", true, "aarch64"), None);
        assert_eq!(arch_problem("aarch64", true, "arm64"), None);
        let other = arch_problem("riscv64", false, "riscv64").unwrap();
        assert!(
            other.contains("cannot record on riscv64") && other.contains("x86_64 and aarch64"),
            "{other}"
        );
        let emulated = arch_problem("x86_64", true, "aarch64").unwrap();
        assert!(emulated.contains("built for x86_64"), "{emulated}");
    }

    #[test]
    fn this_machine_is_one_the_probes_know() {
        let machine = nix::sys::utsname::uname().unwrap();
        let machine = machine.machine().to_string_lossy();
        assert_eq!(
            arch_problem(
                std::env::consts::ARCH,
                beefine_ebpf::arch_supported(),
                &machine
            ),
            None
        );
    }
}
