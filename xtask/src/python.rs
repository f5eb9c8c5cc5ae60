//! The Python environment the export tests read Perfetto traces with: Perfetto's own
//! protobuf bindings (`perfetto_trace_pb2`, from the `perfetto` package on PyPI) in a venv
//! of Debian's python3 at [`PYTHON_ENV`], so the system's Python stays untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::util;

/// Where the environment lives (beside the registry's storage, so it survives `cargo clean`).
pub const PYTHON_ENV: &str = "/var/lib/beefine/python";

/// What is installed into it, pinned so that every machine reads traces the same way.
pub const REQUIREMENTS: &[&str] = &["perfetto==0.59.1", "protobuf==7.36.2"];

/// The environment's interpreter.
pub fn python() -> PathBuf {
    Path::new(PYTHON_ENV).join("bin").join("python3")
}

fn has_bindings(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import perfetto.protos.perfetto.trace.perfetto_trace_pb2",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Makes the environment unless it has the bindings already.
pub fn ensure() -> Result<()> {
    let py = python();
    if has_bindings(&py) {
        println!("{PYTHON_ENV} has Perfetto's Python bindings");
        return Ok(());
    }
    if !util::is_root() {
        bail!(
            "{PYTHON_ENV} lacks Perfetto's Python bindings and making it needs root: run \
             `cargo xtask provision` as root"
        );
    }
    util::run(Command::new("/usr/bin/python3").args(["-m", "venv", PYTHON_ENV]))
        .context("making the Python environment (Debian package python3-venv)")?;
    util::run(
        Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(REQUIREMENTS),
    )
    .context("installing Perfetto's Python bindings from PyPI")?;
    if !has_bindings(&py) {
        bail!("{} still cannot import perfetto_trace_pb2", py.display());
    }
    println!("{PYTHON_ENV}: {}", REQUIREMENTS.join(", "));
    Ok(())
}
