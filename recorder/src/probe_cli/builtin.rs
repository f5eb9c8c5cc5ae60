//! `probe list`: the built-in probes and what each records.

use anyhow::Result;

use crate::loader;

/// What each built-in program records.
fn builtin_purpose(program: &str) -> &'static str {
    match program {
        "on_sys_enter" => {
            "syscall arguments (clone3, unshare, setns, mount and the new mount API, \
             openat, chdir, credentials, sockets, …), paired with their exit"
        }
        "on_sys_exit" => "syscall results; emits the paired event",
        "on_exec" => "exec: program and argv (and the execveat that caused it)",
        "on_exit" => "process exit and its status",
        "on_fork" => "fork: parent and child; extends the scope to the child",
        "on_packet" => "packet summaries (tc ingress through tcx) on the --iface interfaces",
        "on_tcp_state" => "TCP state changes",
        "on_cgroup_attach" | "on_cgroup_attac" => "a task moved into a cgroup",
        "on_cgroup_mkdir" => "a cgroup created",
        _ => "",
    }
}

pub(super) fn list() -> Result<()> {
    let sections = loader::program_sections(beefine_ebpf::object())?;
    println!(
        "Built-in probes ({} programs, probe id 0 in a session's probes table):",
        sections.len()
    );
    let width = sections.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let attach_width = sections.iter().map(|s| s.section.len()).max().unwrap_or(0);
    for s in &sections {
        println!(
            "  {:<width$}  {:<attach_width$}  {}",
            s.name,
            s.section,
            builtin_purpose(&s.name)
        );
    }
    println!(
        "\nYour own beside them: `beefine-record probe new NAME`, `beefine-record probe build \
         NAME.bpf.c`, then `--probe NAME.bpf.o`."
    );
    Ok(())
}
