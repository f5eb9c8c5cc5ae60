//! Loads an eBPF object with aya and attaches every program by its ELF section name —
//! for the built-in probes and for user-supplied ones alike.

use anyhow::{Context, Result, anyhow, bail};
use aya::programs::raw_trace_point::RawTracePointLink;
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::trace_point::TracePointLink;
use aya::programs::xdp::XdpLink;
use aya::programs::{
    LinkOrder, ProgramError, RawTracePoint, SchedClassifier, TcAttachType, TracePoint, Xdp, XdpMode,
};
use aya::{Ebpf, EbpfLoader, VerifierLogLevel};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// Where a program attaches, from its section name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachPoint {
    TracePoint {
        category: String,
        name: String,
    },
    RawTracePoint {
        name: String,
    },
    Xdp,
    /// A tc classifier on each interface's ingress, attached through tcx: several programs
    /// (several recordings) share an interface, each with a link of its own.
    TcIngress,
}

impl AttachPoint {
    /// Parses a libbpf-style section name.
    pub fn from_section(section: &str) -> Option<Self> {
        let (kind, rest) = section.split_once('/').unwrap_or((section, ""));
        match kind {
            "tracepoint" | "tp" => {
                let (category, name) = rest.split_once('/')?;
                Some(Self::TracePoint {
                    category: category.into(),
                    name: name.into(),
                })
            }
            "raw_tracepoint" | "raw_tp" if !rest.is_empty() => {
                Some(Self::RawTracePoint { name: rest.into() })
            }
            "xdp" | "xdp.frags" => Some(Self::Xdp),
            "classifier" | "tc" | "tcx/ingress" => Some(Self::TcIngress),
            _ => None,
        }
    }
}

/// A program of an object with the section it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSection {
    pub name: String,
    pub section: String,
}

/// Lists the programs in an eBPF ELF object: functions in sections other than `.text`.
pub fn program_sections(elf: &[u8]) -> Result<Vec<ProgramSection>> {
    let file = object::File::parse(elf).context("not an ELF object file")?;
    if file.architecture() != object::Architecture::Bpf {
        bail!(
            "the object is for {:?}, not an eBPF object",
            file.architecture()
        );
    }
    let mut out = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_definition() || !sym.is_global() {
            continue;
        }
        let Some(index) = sym.section_index() else {
            continue;
        };
        let section = file.section_by_index(index)?;
        let section = section.name()?;
        if section == ".text" || section.starts_with(".") {
            continue;
        }
        out.push(ProgramSection {
            name: sym.name()?.to_owned(),
            section: section.to_owned(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What a loader attaches to.
#[derive(Clone, Debug, Default)]
pub struct AttachOptions {
    /// Interfaces for packet programs (XDP in generic mode, tc classifiers through tcx).
    pub interfaces: Vec<String>,
}

/// An attached program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    pub program: String,
    /// `tracepoint/syscalls/sys_enter_mount`, `tcx/ingress/lo`, `xdp/lo`, …
    pub attach_point: String,
}

/// Loads the object's maps and programs (with `configure` setting globals and map sizes).
pub fn load<'a>(
    label: &str,
    elf: &[u8],
    configure: impl FnOnce(&mut EbpfLoader<'a>),
) -> Result<Ebpf> {
    let mut loader = EbpfLoader::new();
    loader.verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS);
    // Maps user space never opens (task storage) are created all the same.
    loader.allow_unsupported_maps();
    configure(&mut loader);
    loader
        .load(elf)
        .map_err(|e| anyhow!("loading {label}: {}", error_chain(&e)))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The end of a verifier log: the instructions before the rejection and the reason.
pub fn verifier_excerpt(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    // The statistics lines come last; the reason is just before them.
    let end = lines
        .iter()
        .rposition(|l| {
            !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with("processed ")
        })
        .map_or(lines.len(), |i| i + 1);
    let start = end.saturating_sub(12);
    lines[start..end].join("\n")
}

/// An attachment owned apart from its program: held to stay attached, dropped to detach.
pub enum Link {
    TracePoint(TracePointLink),
    RawTracePoint(RawTracePointLink),
    Xdp(XdpLink),
    Tc(SchedClassifierLink),
}

/// Attachments of a set of programs.
#[derive(Default)]
pub struct Links(Vec<Link>);

impl Links {
    /// Detaches everything. Each detach waits for an RCU grace period in the kernel; the
    /// kernel serialises most of that wait, but dropping from several threads still overlaps
    /// part of it (measured: `beefine-record -- true` takes 0.58 s this way, 0.78 s serially).
    pub fn detach(self) {
        let mut links = self.0;
        let threads = links.len().clamp(1, 32);
        let per = links.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            while !links.is_empty() {
                let chunk: Vec<Link> = links.drain(..per.min(links.len())).collect();
                scope.spawn(move || drop(chunk));
            }
        });
    }
}

/// Loads every program through the verifier and attaches it where its section says.
pub fn attach_all(
    label: &str,
    ebpf: &mut Ebpf,
    sections: &[ProgramSection],
    opts: &AttachOptions,
) -> Result<(Vec<Attached>, Links)> {
    let mut attached = Vec::new();
    let mut links = Links::default();
    for ps in sections {
        let point = AttachPoint::from_section(&ps.section).ok_or_else(|| {
            anyhow!(
                "{label}: program {} is in section {:?}, which Beefine cannot attach on this \
                 kernel (supported: tracepoint/CAT/NAME, raw_tracepoint/NAME, xdp, classifier)",
                ps.name,
                ps.section
            )
        })?;
        let program = ebpf
            .program_mut(&ps.name)
            .ok_or_else(|| anyhow!("{label}: program {} is missing from the object", ps.name))?;
        let load_err = |e: ProgramError| match e {
            ProgramError::LoadError {
                io_error,
                verifier_log,
            } => anyhow!(
                "{label}: the kernel verifier rejected program {} ({io_error}); the end of \
                 its log:\n{}",
                ps.name,
                verifier_excerpt(&verifier_log.to_string())
            ),
            other => anyhow!(
                "{label}: loading program {}: {}",
                ps.name,
                error_chain(&other)
            ),
        };
        match &point {
            AttachPoint::TracePoint { category, name } => {
                let p: &mut TracePoint = program.try_into()?;
                p.load().map_err(load_err)?;
                let id = p.attach(category, name).map_err(|e| {
                    anyhow!(
                        "{label}: attaching {} to tracepoint {category}/{name}: {}",
                        ps.name,
                        error_chain(&e)
                    )
                })?;
                links.0.push(Link::TracePoint(p.take_link(id)?));
                attached.push(Attached {
                    program: ps.name.clone(),
                    attach_point: format!("tracepoint/{category}/{name}"),
                });
            }
            AttachPoint::RawTracePoint { name } => {
                let p: &mut RawTracePoint = program.try_into()?;
                p.load().map_err(load_err)?;
                let id = p.attach(name).map_err(|e| {
                    anyhow!(
                        "{label}: attaching {} to raw tracepoint {name}: {}",
                        ps.name,
                        error_chain(&e)
                    )
                })?;
                links.0.push(Link::RawTracePoint(p.take_link(id)?));
                attached.push(Attached {
                    program: ps.name.clone(),
                    attach_point: format!("raw_tracepoint/{name}"),
                });
            }
            AttachPoint::Xdp => {
                let p: &mut Xdp = program.try_into()?;
                p.load().map_err(load_err)?;
                for iface in &opts.interfaces {
                    let id = p.attach(iface, XdpMode::Skb).map_err(|e| {
                        anyhow!(
                            "{label}: attaching XDP program {} to {iface} (generic mode): {}",
                            ps.name,
                            error_chain(&e)
                        )
                    })?;
                    links.0.push(Link::Xdp(p.take_link(id)?));
                    attached.push(Attached {
                        program: ps.name.clone(),
                        attach_point: format!("xdp/{iface}"),
                    });
                }
            }
            AttachPoint::TcIngress => {
                let p: &mut SchedClassifier = program.try_into()?;
                p.load().map_err(load_err)?;
                for iface in &opts.interfaces {
                    let id = p
                        .attach_with_options(
                            iface,
                            TcAttachType::Ingress,
                            TcAttachOptions::TcxOrder(LinkOrder::default()),
                        )
                        .map_err(|e| {
                            anyhow!(
                                "{label}: attaching tc program {} to {iface}'s ingress (tcx, \
                                 Linux 6.6 or newer): {}",
                                ps.name,
                                error_chain(&e)
                            )
                        })?;
                    links.0.push(Link::Tc(p.take_link(id)?));
                    attached.push(Attached {
                        program: ps.name.clone(),
                        attach_point: format!("tcx/ingress/{iface}"),
                    });
                }
            }
        }
    }
    if attached.is_empty() {
        bail!(
            "{label}: no attachable program (none in a tracepoint/, raw_tracepoint/, xdp or \
             classifier section)"
        );
    }
    Ok((attached, links))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names() {
        assert_eq!(
            AttachPoint::from_section("tracepoint/syscalls/sys_enter_mount"),
            Some(AttachPoint::TracePoint {
                category: "syscalls".into(),
                name: "sys_enter_mount".into()
            })
        );
        assert_eq!(
            AttachPoint::from_section("raw_tracepoint/sched_process_fork"),
            Some(AttachPoint::RawTracePoint {
                name: "sched_process_fork".into()
            })
        );
        assert_eq!(AttachPoint::from_section("xdp"), Some(AttachPoint::Xdp));
        assert_eq!(
            AttachPoint::from_section("classifier"),
            Some(AttachPoint::TcIngress)
        );
        assert_eq!(AttachPoint::from_section("kprobe/do_sys_open"), None);
        assert_eq!(AttachPoint::from_section("tracepoint/nocategory"), None);
    }

    #[test]
    fn builtin_object_sections_are_all_attachable() {
        let sections = program_sections(beefine_ebpf::object()).unwrap();
        assert_eq!(sections.len(), 9, "{sections:?}");
        for s in &sections {
            assert!(AttachPoint::from_section(&s.section).is_some(), "{s:?}");
        }
        assert!(
            sections
                .iter()
                .any(|s| s.section == "raw_tracepoint/sched_process_fork")
        );
        assert!(sections.iter().any(|s| s.section == "classifier"));
        assert!(
            sections
                .iter()
                .any(|s| s.section == "raw_tracepoint/sys_enter")
        );
    }

    #[test]
    fn non_bpf_files_are_refused() {
        assert!(program_sections(b"not an elf").is_err());
        let exe = std::fs::read("/proc/self/exe").unwrap();
        let err = program_sections(&exe).unwrap_err().to_string();
        assert!(err.contains("not an eBPF object"), "{err}");
    }
}
