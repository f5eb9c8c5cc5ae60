//! `probe helpers`: which BPF helpers this kernel lets a program type call, asked of the
//! verifier (as libbpf's feature probes do), with the program types and helpers named by the
//! kernel's own BTF.

use anyhow::{Context, Result, anyhow, bail};
use beefine_schema::btf::Btf;

/// One BPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const BPF_CALL: Insn = Insn {
    code: 0x85, // BPF_JMP | BPF_CALL
    regs: 0,
    off: 0,
    imm: 0,
};
const BPF_EXIT: Insn = Insn {
    code: 0x95, // BPF_JMP | BPF_EXIT
    regs: 0,
    off: 0,
    imm: 0,
};
const BPF_MOV_R0_0: Insn = Insn {
    code: 0xb7, // BPF_ALU64 | BPF_MOV | BPF_K
    regs: 0,
    off: 0,
    imm: 0,
};

/// The leading fields of `union bpf_attr` for BPF_PROG_LOAD (the kernel zero-fills the
/// rest).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;

/// A program type as loaded for probing: some types load only with an expected attach
/// type or flags (as libbpf's probes set them).
#[derive(Clone, Copy, Debug, Default)]
struct ProgSpec {
    prog_type: u32,
    expected_attach_type: u32,
    prog_flags: u32,
}

impl ProgSpec {
    #[cfg(test)]
    fn of(prog_type: u32) -> Self {
        Self {
            prog_type,
            ..Self::default()
        }
    }
}

/// Asks the kernel to load (verify) a program; the program is closed at once.
#[expect(
    unsafe_code,
    reason = "the bpf(2) system call: loading a program the verifier judges, with its log"
)]
fn prog_load(spec: ProgSpec, insns: &[Insn], log: &mut [u8]) -> std::io::Result<()> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type: spec.prog_type,
        expected_attach_type: spec.expected_attach_type,
        prog_flags: spec.prog_flags,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    // SAFETY: `attr` is a valid, fully initialised prefix of `union bpf_attr` whose size is
    // passed along; the instruction, license and log pointers in it point into buffers
    // that outlive the call (the log's length is the one given). On success the kernel
    // returns a new descriptor that nothing else owns; it is closed here.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            size_of::<ProgLoadAttr>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above, `fd` was just returned by the kernel and is owned by no one else.
    drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    Ok(())
}

/// What the kernel said about a helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused,
}

/// Whether the verifier knows the helper in this program type, as libbpf probes it: a
/// program that only calls the helper is refused with "invalid func", "unknown func" or
/// "program of this type cannot use helper" when it does not; any other verdict (a wrong
/// argument, or none) means it does.
fn probe_helper(spec: ProgSpec, helper: u32) -> std::io::Result<Verdict> {
    let mut log = vec![0u8; 8192];
    let call = Insn {
        imm: helper as i32,
        ..BPF_CALL
    };
    match prog_load(spec, &[call, BPF_EXIT], &mut log) {
        Ok(()) => Ok(Verdict::Accepted),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            if text.is_empty() {
                return Err(e);
            }
            let refused = ["invalid func ", "unknown func ", "cannot use helper "]
                .iter()
                .any(|m| text.contains(m));
            Ok(if refused {
                Verdict::Refused
            } else {
                Verdict::Accepted
            })
        }
    }
}

/// The program types and helper functions of the running kernel, from its own BTF.
struct KernelEnums {
    prog_types: Vec<(String, i64)>,
    helpers: Vec<(String, i64)>,
    attach_types: Vec<(String, i64)>,
}

impl KernelEnums {
    /// What a program of this type needs to load at all, as libbpf's feature probes give
    /// it (`libbpf_probes.c`): an expected attach type, or the sleepable flag.
    fn spec(&self, type_name: &str, prog_type: u32) -> ProgSpec {
        let attach = |name: &str| {
            self.attach_types
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |&(_, v)| v as u32)
        };
        const BPF_F_SLEEPABLE: u32 = 1 << 4;
        let (expected_attach_type, prog_flags) = match type_name {
            "cgroup_sock_addr" => (attach("BPF_CGROUP_INET4_CONNECT"), 0),
            "cgroup_sockopt" => (attach("BPF_CGROUP_GETSOCKOPT"), 0),
            "sk_lookup" => (attach("BPF_SK_LOOKUP"), 0),
            "lirc_mode2" => (attach("BPF_LIRC_MODE2"), 0),
            "netfilter" => (attach("BPF_NETFILTER"), 0),
            "syscall" => (0, BPF_F_SLEEPABLE),
            _ => (0, 0),
        };
        ProgSpec {
            prog_type,
            expected_attach_type,
            prog_flags,
        }
    }
}

fn kernel_enums() -> Result<KernelEnums> {
    let path = "/sys/kernel/btf/vmlinux";
    let data = std::fs::read(path).with_context(|| {
        format!(
            "reading {path}: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF), which Beefine needs"
        )
    })?;
    let btf = Btf::parse(&data).map_err(|e| anyhow!("{path}: {e}"))?;
    let get = |name: &str| {
        btf.enum_values(name)
            .ok_or_else(|| anyhow!("{path} has no enum {name}"))
    };
    Ok(KernelEnums {
        prog_types: get("bpf_prog_type")?,
        helpers: get("bpf_func_id")?,
        attach_types: get("bpf_attach_type")?,
    })
}

/// `tracepoint` → `BPF_PROG_TYPE_TRACEPOINT` and its number.
fn find_prog_type(enums: &KernelEnums, wanted: &str) -> Result<(String, u32)> {
    let short = |full: &str| {
        full.strip_prefix("BPF_PROG_TYPE_")
            .unwrap_or(full)
            .to_ascii_lowercase()
    };
    let wanted = short(&wanted.trim().replace('-', "_"));
    enums
        .prog_types
        .iter()
        .filter(|(name, _)| !name.ends_with("UNSPEC") && !name.starts_with("__"))
        .find(|(name, _)| short(name) == wanted)
        .map(|(name, v)| (short(name), *v as u32))
        .ok_or_else(|| {
            let known: Vec<String> = enums
                .prog_types
                .iter()
                .filter(|(name, _)| !name.ends_with("UNSPEC") && !name.starts_with("__"))
                .map(|(name, _)| short(name))
                .collect();
            anyhow!(
                "this kernel has no program type {wanted:?}; it knows: {}",
                known.join(", ")
            )
        })
}

pub(super) fn helpers(prog_type: &str) -> Result<()> {
    let enums = kernel_enums()?;
    let (type_name, type_id) = find_prog_type(&enums, prog_type)?;
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    if matches!(type_name.as_str(), "tracing" | "lsm" | "ext" | "struct_ops") {
        bail!(
            "{type_name} programs load only against an attach target (the BTF id of a kernel \
             function, hook or program), so a bare program cannot ask the verifier which \
             helpers they may call; the kernel's own list is in its source \
             (kernel/trace/bpf_trace.c, kernel/bpf/bpf_lsm.c)"
        );
    }
    let spec = enums.spec(&type_name, type_id);
    let mut log = vec![0u8; 4096];
    if let Err(e) = prog_load(spec, &[BPF_MOV_R0_0, BPF_EXIT], &mut log) {
        let end = log.iter().position(|&b| b == 0).unwrap_or(0);
        let why = String::from_utf8_lossy(&log[..end]);
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) if !nix::unistd::Uid::effective().is_root() => anyhow!(
                "the kernel refused to load a BPF program ({e}): run as root, or with \
                 CAP_BPF and CAP_PERFMON"
            ),
            _ => anyhow!(
                "this kernel does not load a minimal {type_name} program ({e}{}): the type \
                 is not available here, or needs an attach target to load (tracing, lsm, \
                 ext and struct_ops do)",
                if why.trim().is_empty() {
                    String::new()
                } else {
                    format!("; verifier: {}", why.trim())
                }
            ),
        });
    }
    let mut accepted = Vec::new();
    let mut probed = 0;
    for (name, id) in &enums.helpers {
        let Ok(id) = u32::try_from(*id) else { continue };
        if id == 0 || name.starts_with("__") {
            continue;
        }
        probed += 1;
        match probe_helper(spec, id) {
            Ok(Verdict::Accepted) => accepted.push((
                name.strip_prefix("BPF_FUNC_").unwrap_or(name).to_owned(),
                id,
            )),
            Ok(Verdict::Refused) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => bail!(
                "the kernel refused to load a BPF program ({e}): run as root, or with CAP_BPF \
                 and CAP_PERFMON"
            ),
            Err(e) => bail!("probing helper {name} in {type_name} programs: {e}"),
        }
    }
    println!(
        "Helpers a {type_name} program may call on this kernel ({kernel}): {} of {probed}, \
         asked of the verifier",
        accepted.len()
    );
    for (name, id) in &accepted {
        println!("  {id:>4}  bpf_{name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_types_from_the_kernel() {
        let enums = kernel_enums().unwrap();
        assert_eq!(
            find_prog_type(&enums, "tracepoint").unwrap(),
            ("tracepoint".into(), 5)
        );
        assert_eq!(find_prog_type(&enums, "XDP").unwrap().1, 6);
        assert_eq!(
            find_prog_type(&enums, "BPF_PROG_TYPE_RAW_TRACEPOINT")
                .unwrap()
                .1,
            17
        );
        let err = find_prog_type(&enums, "teapot").unwrap_err().to_string();
        assert!(err.contains("raw_tracepoint"), "{err}");
        assert!(
            enums
                .helpers
                .iter()
                .any(|(n, v)| n == "BPF_FUNC_ringbuf_output" && *v == 130)
        );
    }

    /// Needs root (or CAP_BPF): asks the verifier.
    #[test]
    fn the_verifier_knows_which_helpers_a_type_may_call() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("not root: the helper probe is checked by the privileged tests");
            return;
        }
        const TRACEPOINT: u32 = 5;
        const XDP: u32 = 6;
        const MAP_LOOKUP_ELEM: u32 = 1;
        const GET_CURRENT_COMM: u32 = 16;
        const XDP_ADJUST_HEAD: u32 = 44;
        assert_eq!(
            probe_helper(ProgSpec::of(TRACEPOINT), MAP_LOOKUP_ELEM).unwrap(),
            Verdict::Accepted
        );
        assert_eq!(
            probe_helper(ProgSpec::of(TRACEPOINT), GET_CURRENT_COMM).unwrap(),
            Verdict::Accepted
        );
        assert_eq!(
            probe_helper(ProgSpec::of(TRACEPOINT), XDP_ADJUST_HEAD).unwrap(),
            Verdict::Refused
        );
        assert_eq!(
            probe_helper(ProgSpec::of(XDP), XDP_ADJUST_HEAD).unwrap(),
            Verdict::Accepted
        );
        assert_eq!(
            probe_helper(ProgSpec::of(TRACEPOINT), 100_000).unwrap(),
            Verdict::Refused,
            "an id no kernel has"
        );
    }
}
