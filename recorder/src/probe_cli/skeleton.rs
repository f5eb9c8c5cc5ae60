//! `probe new`: a probe of your own, from the template, with its README.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::compile::clang_command;

const TEMPLATE: &str = include_str!("../probe_template/probe.bpf.c");
const README: &str = include_str!("../probe_template/README.md");

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 48
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        let suggestion: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        bail!(
            "{name:?} cannot name a probe: it becomes C identifiers, so use letters, digits and \
             _ (up to 48, not starting with a digit), e.g. {suggestion:?}"
        );
    }
    Ok(())
}

/// The template with NAME filled in.
pub fn render(template: &str, name: &str) -> String {
    let source = format!("{name}.bpf.c");
    let object = format!("{name}.bpf.o");
    template
        .replace("@CLANG_COMMAND@", &clang_command(&source, &object))
        .replace("@NAME@", name)
}

/// Writes `DIR/NAME.bpf.c` and a README (`README.md`, or `NAME.README.md` when the
/// directory has one already). Returns what it wrote, the C file first.
pub fn new_probe(name: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    check_name(name)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let source = dir.join(format!("{name}.bpf.c"));
    if source.exists() {
        bail!(
            "{} already exists; choose another name or remove it",
            source.display()
        );
    }
    let readme = match dir.join("README.md") {
        p if p.exists() => dir.join(format!("{name}.README.md")),
        p => p,
    };
    if readme.exists() {
        bail!("{} already exists", readme.display());
    }
    std::fs::write(&source, render(TEMPLATE, name))
        .with_context(|| format!("writing {}", source.display()))?;
    std::fs::write(&readme, render(README, name))
        .with_context(|| format!("writing {}", readme.display()))?;
    Ok(vec![source, readme])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe_cli::scratch;
    use crate::probes;

    #[test]
    fn names_must_be_c_identifiers() {
        assert!(check_name("openat_magic").is_ok());
        assert!(check_name("_x1").is_ok());
        let err = check_name("my-probe").unwrap_err().to_string();
        assert!(err.contains("\"my_probe\""), "{err}");
        assert!(check_name("1abc").is_err());
        assert!(check_name("").is_err());
        assert!(check_name(&"a".repeat(49)).is_err());
    }

    #[test]
    fn the_template_is_filled_in() {
        let text = render(TEMPLATE, "demo");
        assert!(!text.contains('@'), "placeholders left: {text}");
        assert!(text.contains("struct demo_event {"));
        assert!(text.contains("SEC(\"tracepoint/syscalls/sys_enter_openat\")"));
        assert!(text.contains(&clang_command("demo.bpf.c", "demo.bpf.o")));
        assert!(text.contains(probes::TRACKED_MAP));
        assert!(text.contains(probes::SELF_TGID));
        assert!(text.contains(probes::TRACE_ALL));
        assert!(text.contains(&format!(
            "*{} __attribute__((unused))",
            probes::RECORD_MARKER
        )));
        let readme = render(README, "demo");
        assert!(!readme.contains('@'));
        assert!(readme.contains("beefine-record probe build demo.bpf.c"));
    }

    #[test]
    fn new_writes_the_skeleton_and_refuses_to_overwrite() {
        let dir = scratch("new");
        let written = new_probe("first", &dir).unwrap();
        assert_eq!(written, [dir.join("first.bpf.c"), dir.join("README.md")]);
        let written = new_probe("second", &dir).unwrap();
        assert_eq!(
            written,
            [dir.join("second.bpf.c"), dir.join("second.README.md")]
        );
        let err = new_probe("first", &dir).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The sample probe of the privileged tests is the template plus two fields, and its
    /// committed object is built from its current source.
    #[test]
    fn the_sample_probe_follows_the_template() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/probes");
        let sample = std::fs::read_to_string(dir.join("openat_magic.bpf.c")).unwrap();
        let lines: std::collections::HashSet<&str> = sample.lines().collect();
        for line in render(TEMPLATE, "openat_magic").lines() {
            assert!(
                lines.contains(line),
                "fixtures/probes/openat_magic.bpf.c lacks the template's line {line:?}: \
                 regenerate it (probe new openat_magic, then add magic and filename)"
            );
        }
        let elf = std::fs::read(dir.join("openat_magic.bpf.o")).unwrap();
        let info = probes::inspect("openat_magic.bpf.o", &elf).unwrap();
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
                "flags",
                "magic",
                "filename"
            ],
            "rebuild the object: beefine-record probe build fixtures/probes/openat_magic.bpf.c"
        );
    }
}
