//! `beefine-record probe …`: start a probe of your own from the template (`skeleton`),
//! build it (`compile`), see which BPF helpers this kernel accepts (`helpers`), and list the
//! built-in probes (`builtin`).

mod builtin;
mod compile;
mod helpers;
mod skeleton;

use anyhow::Result;

use crate::cli::ProbeCommand;

pub use compile::{build, clang_command};
pub use skeleton::{new_probe, render};

pub fn run(cmd: ProbeCommand) -> Result<i32> {
    match cmd {
        ProbeCommand::New { name, dir } => {
            let written = new_probe(&name, &dir)?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            println!("next: beefine-record probe build {}", written[0].display());
        }
        ProbeCommand::Build { source } => {
            let object = build(&source)?;
            compile::describe_object(&object)?;
        }
        ProbeCommand::Helpers { prog_type } => helpers::helpers(&prog_type)?,
        ProbeCommand::List => builtin::list()?,
    }
    Ok(0)
}

/// A fresh scratch directory for a test.
#[cfg(test)]
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("beefine-probe-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
