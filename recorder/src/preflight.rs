//! What recording needs from the machine, checked before anything is loaded, with a message
//! that says what is missing and how to fix it.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

/// Root (or the capabilities eBPF tracing needs), BTF, and a mounted tracefs.
pub fn check() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        let caps = effective_caps().unwrap_or(0);
        // CAP_SYS_ADMIN (21), or CAP_BPF (39) + CAP_PERFMON (38) + CAP_NET_ADMIN (12).
        let bpf_ok = caps & (1 << 21) != 0 || (caps & (1 << 39) != 0 && caps & (1 << 38) != 0);
        if !bpf_ok || caps & (1 << 12) == 0 {
            bail!(
                "beefine-record needs root: loading eBPF programs, attaching to tracepoints and \
                 XDP require CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN). Run it \
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
