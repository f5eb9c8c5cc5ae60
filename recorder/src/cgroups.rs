//! cgroup v2 ids (what `bpf_get_current_cgroup_id` returns: the inode of the cgroup's
//! directory) and the containers they belong to.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` on pure v2 hosts,
/// `/sys/fs/cgroup/unified` beside v1 controllers).
pub fn v2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let mount_point = pre.split_whitespace().nth(4)?;
        (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// Every cgroup directory under `root` with its id, as paths relative to `root`.
pub fn walk(root: &Path) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        let rel = dir
            .strip_prefix(root)
            .map(|p| format!("/{}", p.display()))
            .unwrap_or_default();
        out.push((meta.ino(), if rel == "/" { "/".into() } else { rel }));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out
}

/// The container id a cgroup path names: Docker's `/docker/<id>` (cgroupfs driver) or
/// `.../docker-<id>.scope` (systemd driver), a Kubernetes pod's container
/// `/kubepods/<qos>/pod<uid>/<id>` (cgroupfs) or `.../cri-containerd-<id>.scope` (systemd).
pub fn container_id(path: &str) -> Option<&str> {
    let last = path.rsplit('/').next()?;
    let scoped = ["docker-", "cri-containerd-"]
        .into_iter()
        .find_map(|p| last.strip_prefix(p)?.strip_suffix(".scope"));
    let id = scoped.unwrap_or(last);
    let parent_is_a_runtime = scoped.is_some()
        || path.contains("/docker/")
        || (path.contains("/kubepods") && path.contains("/pod"));
    (parent_is_a_runtime && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_from_paths() {
        let id = "a".repeat(64);
        assert_eq!(container_id(&format!("/docker/{id}")), Some(id.as_str()));
        assert_eq!(
            container_id(&format!("/system.slice/docker-{id}.scope")),
            Some(id.as_str())
        );
        assert_eq!(container_id("/docker"), None);
        assert_eq!(container_id("/user.slice/session-1.scope"), None);
        assert_eq!(container_id(&format!("/other/{id}")), None);
        let uid = "0f0e0d0c-0000-4000-8000-000000000001";
        assert_eq!(
            container_id(&format!("/kubepods/besteffort/pod{uid}/{id}")),
            Some(id.as_str())
        );
        assert_eq!(
            container_id(&format!("/kubepods/besteffort/pod{uid}")),
            None
        );
        assert_eq!(
            container_id(&format!(
                "/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"
            )),
            Some(id.as_str())
        );
    }

    #[test]
    fn finds_the_v2_hierarchy_and_its_root() {
        let mount = v2_mount().expect("a cgroup2 mount");
        let all = walk(&mount);
        assert!(all.iter().any(|(_, p)| p == "/"));
    }
}
