//! Which part of the container stack a process is, and which container a stack process
//! works for. The recorder (when it writes the process table) and the viewer (for sessions
//! without one) both ask here, so they agree.

use crate::entities::Component;

/// The part of the stack a program is, by its comm or executable name (a path is reduced
/// to its file name): `None` for programs that are no part of the stack.
pub fn classify(name: &str) -> Option<Component> {
    let base = name.rsplit('/').next().unwrap_or(name);
    Some(match base {
        "dockerd" => Component::Dockerd,
        "containerd" => Component::Containerd,
        "docker-proxy" => Component::DockerProxy,
        "docker-init" => Component::ContainerInit,
        _ if base.starts_with("containerd-shim") => Component::Shim,
        // CNI plugins are named by what they do (bridge, host-local, loopback, …): known by
        // where runtimes keep them.
        _ if name.starts_with("/usr/lib/cni/") || name.starts_with("/opt/cni/bin/") => {
            Component::Cni
        }
        // runc re-execs itself as runc:[0:PARENT], runc:[1:CHILD], runc:[2:INIT].
        _ if base == "runc" || base.starts_with("runc:[") => Component::Runc,
        _ => return None,
    })
}

/// The part of the stack a process is from its name alone, when nothing else is known.
pub fn guess(comm: &str, in_container: bool) -> Component {
    classify(comm).unwrap_or(if in_container {
        Component::Workload
    } else {
        Component::Other
    })
}

/// The part of the stack a process is after it executed `filename` (with `comm`), having
/// been `previous` before; `in_container` says whether it runs in a container's cgroup.
pub fn after_exec(
    previous: Component,
    comm: &str,
    filename: &str,
    in_container: bool,
) -> Component {
    classify(comm)
        .or_else(|| classify(filename))
        // docker-init is a container's init only inside one (dockerd also runs
        // `docker-init --version`).
        .filter(|c| *c != Component::ContainerInit || in_container)
        .unwrap_or(match previous {
            // runc's init becoming the entrypoint: the container's first process.
            Component::Runc if in_container => Component::ContainerInit,
            Component::ContainerInit | Component::Workload => Component::Workload,
            _ if in_container => Component::Workload,
            other => other,
        })
}

/// Whether a container id looks like Docker's and containerd's: 64 lowercase hex digits.
pub fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The 64-hex words of a text, as path segments or values (`-id <id>`,
/// `…/moby/<id>/log.json`, `/docker/<id>`, `<id>-init`): the ids a command line or path
/// names. At most `limit` are returned.
pub fn ids_in(text: &str, limit: usize) -> impl Iterator<Item = &str> {
    text.split(['/', '=', ',', ':', ' ', '-', '.'])
        .filter(|w| is_container_id(w))
        .take(limit)
}

/// Whether a stack process's command line is one that works for a single container: the
/// shim (`-id <id>`), runc (`create`, `start`, `exec`, `kill`, `delete`, … with the id in
/// its arguments or paths), and dockerd's hooks re-executed as `libnetwork-setkey`.
pub fn works_for_one_container(role: Component, argv: &[&str]) -> bool {
    matches!(role, Component::Shim | Component::Runc)
        || argv.first().is_some_and(|a| *a == "libnetwork-setkey")
}

/// The runc subcommand of a command line (`create`, `start`, `exec`, `kill`, `delete`,
/// `state`, `init`), if it is runc's.
pub fn runc_subcommand<'a>(argv: &[&'a str]) -> Option<&'a str> {
    let first = argv.first()?;
    if !(first.rsplit('/').next() == Some("runc") || first.starts_with("runc:[")) {
        return None;
    }
    const SUB: &[&str] = &[
        "create", "start", "exec", "kill", "delete", "state", "init", "run", "pause", "resume",
        "update", "ps", "events",
    ];
    // Options with a value come before the subcommand: skip them.
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i];
        if SUB.contains(&a) {
            return Some(a);
        }
        i += if a.starts_with("--") && !a.contains('=') && a != "--debug" && a != "--systemd-cgroup"
        {
            2
        } else {
            1
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_stack() {
        assert_eq!(classify("/usr/sbin/dockerd"), Some(Component::Dockerd));
        assert_eq!(classify("containerd-shim-runc-v2"), Some(Component::Shim));
        assert_eq!(classify("containerd-shim"), Some(Component::Shim));
        assert_eq!(classify("runc:[2:INIT]"), Some(Component::Runc));
        assert_eq!(classify("runc"), Some(Component::Runc));
        assert_eq!(classify("runcible"), None, "only runc and its re-execs");
        assert_eq!(classify("docker-init"), Some(Component::ContainerInit));
        assert_eq!(classify("bash"), None);
        assert_eq!(classify("/usr/lib/cni/bridge"), Some(Component::Cni));
        assert_eq!(classify("bridge"), None);
        assert_eq!(guess("nginx", true), Component::Workload);
        assert_eq!(guess("iptables", false), Component::Other);
    }

    #[test]
    fn roles_after_exec() {
        // runc:[2:INIT] executing the entrypoint inside the container's cgroup.
        assert_eq!(
            after_exec(Component::Runc, "nginx", "/usr/sbin/nginx", true),
            Component::ContainerInit
        );
        assert_eq!(
            after_exec(Component::ContainerInit, "cat", "/bin/cat", true),
            Component::Workload
        );
        assert_eq!(
            after_exec(
                Component::Dockerd,
                "docker-init",
                "/usr/bin/docker-init",
                false
            ),
            Component::Dockerd,
            "dockerd's `docker-init --version` is no container init"
        );
        assert_eq!(
            after_exec(Component::Other, "exe", "/usr/sbin/runc", false),
            Component::Runc
        );
    }

    #[test]
    fn ids_named_by_command_lines() {
        let id = "3330c3798d8abed8dddbf033d3236602bdfc5d30dac1c86bc2f39c00f9dc0869";
        let log = format!(
            "/var/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby/{id}/log.json"
        );
        let argv = [
            "runc",
            "--root",
            "/var/run/docker/runtime-runc/moby",
            "--log",
            &log,
            "create",
        ];
        assert_eq!(runc_subcommand(&argv), Some("create"));
        assert_eq!(ids_in(&log, 4).collect::<Vec<_>>(), [id]);
        assert_eq!(ids_in(&format!("{id}-init"), 4).count(), 1);
        assert_eq!(
            runc_subcommand(&[
                "runc",
                "--root",
                "/x",
                "--log-format",
                "json",
                "kill",
                id,
                "3"
            ]),
            Some("kill")
        );
        assert_eq!(runc_subcommand(&["runc", "init"]), Some("init"));
        assert_eq!(runc_subcommand(&["nginx", "start"]), None);
        assert!(works_for_one_container(
            Component::Other,
            &["libnetwork-setkey", id]
        ));
        assert!(!works_for_one_container(Component::Dockerd, &["dockerd"]));
        assert!(!is_container_id(&id[1..]));
    }
}
