//! What the recorder follows: the container stack found in /proc at start (extended on
//! fork in the kernel), and which part of the stack a process is.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The part of the stack a program is, by its comm or executable name (one rule for the
/// recorder and the viewer, in `beefine_schema::story::roles`).
pub use beefine_schema::story::roles::classify;

/// A process as read from /proc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub exe: Option<String>,
    pub argv: Vec<String>,
    /// Start time, clock ticks after boot.
    pub start_ticks: u64,
    /// Lines of /proc/PID/cgroup.
    pub cgroup: String,
}

/// Reads one process; `None` if it went away.
pub fn read_proc(root: &Path, pid: u32) -> Option<ProcInfo> {
    let dir = root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // comm is in parentheses and may contain spaces and parentheses itself.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let start_ticks = fields.get(19)?.parse().ok()?;
    let argv = std::fs::read(dir.join("cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let exe = std::fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.display().to_string());
    let cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
    Some(ProcInfo {
        pid,
        ppid,
        comm,
        exe,
        argv,
        start_ticks,
        cgroup,
    })
}

/// Every process in /proc.
pub fn list_procs(root: &Path) -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_proc(root, pid))
        .collect()
}

/// The pids in /proc, nothing read.
fn proc_pids() -> HashSet<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The daemon's `/proc/PID/mountinfo` (the recorder's own when no daemon runs), at most
/// [`beefine_schema::story::MAX_MOUNTINFO_BYTES`] of it, cut at a line end.
pub fn daemon_mountinfo(procs: &[ProcInfo]) -> String {
    let daemon = procs
        .iter()
        .find(|p| classify(&p.comm) == Some(beefine_schema::Component::Dockerd))
        .map_or_else(|| "self".to_owned(), |p| p.pid.to_string());
    let text = std::fs::read_to_string(format!("/proc/{daemon}/mountinfo"))
        .or_else(|_| std::fs::read_to_string("/proc/self/mountinfo"))
        .unwrap_or_default();
    let max = beefine_schema::story::MAX_MOUNTINFO_BYTES;
    if text.len() <= max {
        return text;
    }
    let cut = text[..max].rfind('\n').map_or(0, |i| i + 1);
    text[..cut].to_owned()
}

/// Whether a /proc/PID/cgroup text places the process in a container.
pub fn in_container_cgroup(cgroup: &str) -> bool {
    cgroup.lines().any(|l| {
        let path = l.splitn(3, ':').nth(2).unwrap_or("");
        path.contains("/docker/")
            || path.contains("/docker-")
            || path.contains("/libpod-")
            || path.contains("/kubepods")
    })
}

/// The processes to follow at start: the stack (by name), everything in a container cgroup,
/// and all their descendants. `exclude` (the recorder) is never included.
pub fn seed(procs: &[ProcInfo], exclude: u32) -> HashSet<u32> {
    let mut tracked: HashSet<u32> = procs
        .iter()
        .filter(|p| p.pid != exclude)
        .filter(|p| {
            let name = p.exe.as_deref().unwrap_or(&p.comm);
            classify(&p.comm).is_some()
                || classify(name).is_some()
                || in_container_cgroup(&p.cgroup)
        })
        .map(|p| p.pid)
        .collect();
    let children: HashMap<u32, Vec<u32>> = procs.iter().fold(HashMap::new(), |mut m, p| {
        m.entry(p.ppid).or_default().push(p.pid);
        m
    });
    let mut stack: Vec<u32> = tracked.iter().copied().collect();
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if child != exclude && tracked.insert(child) {
                stack.push(child);
            }
        }
    }
    tracked
}

/// Adds stack processes that appear during the recording without descending from one in
/// scope (a dockerd restarted by hand, a containerd started later) to the kernel's tracked
/// set, checking /proc once a second until `stop`.
pub fn follow_new_stack_processes(
    tracked: &std::sync::Mutex<aya::maps::HashMap<aya::maps::MapData, u32, u8>>,
    mut known: HashSet<u32>,
    exclude: u32,
    stop: &std::sync::atomic::AtomicBool,
) {
    let tick = std::time::Duration::from_millis(100);
    let mut waited = std::time::Duration::ZERO;
    let mut seen = proc_pids();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(tick);
        waited += tick;
        if waited < std::time::Duration::from_secs(1) {
            continue;
        }
        waited = std::time::Duration::ZERO;
        // Only processes not looked at before are read (a pid that went away is forgotten,
        // so a reused one is looked at again).
        let pids = proc_pids();
        seen.retain(|p| pids.contains(p));
        let procs: Vec<ProcInfo> = pids
            .iter()
            .filter(|p| seen.insert(**p))
            .filter_map(|&pid| read_proc(Path::new("/proc"), pid))
            .collect();
        let fresh: Vec<u32> = seed(&procs, exclude)
            .into_iter()
            .filter(|p| !known.contains(p))
            .collect();
        if fresh.is_empty() {
            continue;
        }
        let Ok(mut map) = tracked.lock() else { return };
        for pid in fresh {
            if map.insert(pid, 1, 0).is_ok() {
                known.insert(pid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, comm: &str, cgroup: &str) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            comm: comm.into(),
            exe: None,
            argv: vec![],
            start_ticks: 0,
            cgroup: cgroup.into(),
        }
    }

    #[test]
    fn seeds_stack_containers_and_descendants() {
        let procs = vec![
            p(1, 0, "init", "0::/\n"),
            p(10, 1, "dockerd", "0::/\n"),
            p(11, 10, "docker-proxy", "0::/\n"),
            p(20, 1, "containerd", "0::/\n"),
            p(30, 1, "containerd-shim", "0::/\n"),
            p(31, 30, "nginx", "0::/docker/abc\n"),
            p(32, 31, "nginx", "0::/docker/abc\n"),
            p(40, 1, "bash", "0::/\n"),
            p(41, 40, "sleep", "4:memory:/docker/def\n"),
            p(99, 10, "beefine-record", "0::/\n"),
        ];
        let s = seed(&procs, 99);
        let mut v: Vec<u32> = s.into_iter().collect();
        v.sort_unstable();
        assert_eq!(v, [10, 11, 20, 30, 31, 32, 41]);
    }

    #[test]
    fn reads_a_mount_table() {
        let text = daemon_mountinfo(&[]);
        assert!(text.lines().any(|l| l.contains(" / / ")), "{text}");
    }

    #[test]
    fn reads_this_process() {
        let me = read_proc(Path::new("/proc"), std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(!me.argv.is_empty());
        assert!(me.start_ticks > 0);
    }
}
