//! Mount calls routed to the mount table they change: a container's (in its own mount
//! namespace) or the host's (which a new mount namespace copies).

use super::builder::StoryBuilder;
use super::fact::{Ev, ms};
use super::mounts::{MountOp, join, normalize};
use crate::entities::Component;

impl StoryBuilder {
    /// The container whose mount namespace the caller is in, if any.
    fn mount_ns_container(&self, e: &Ev<'_>) -> Option<usize> {
        let mnt = u64::from(e.ns.mnt_ns);
        if mnt != 0 && mnt == self.host.get(1) {
            return None;
        }
        self.containers
            .iter()
            .position(|c| c.mount_base.is_some() && mnt != 0 && c.ns.get(1) == mnt)
            .or_else(|| {
                // Without a header inode: a runtime process of a container that made its
                // mount namespace.
                let p = self.procs.get(e.tgid)?;
                let c = p.container?;
                (mnt == 0 && p.role == Component::Runc && self.containers[c].mount_base.is_some())
                    .then_some(c)
            })
    }

    pub(super) fn mount_call(&mut self, e: &Ev<'_>) {
        let in_container = self.mount_ns_container(e);
        let mnt = u64::from(e.ns.mnt_ns);
        if in_container.is_none() && mnt != 0 && self.host.get(1) != 0 && mnt != self.host.get(1) {
            // Another namespace (docker-untar's, say): not followed.
            return;
        }
        // The working directory: followed through chdir (format 2); else, before
        // pivot_root, runc's is the root filesystem it bound onto itself.
        let cwd = self
            .procs
            .get(e.tgid)
            .and_then(|p| p.cwd.clone())
            .unwrap_or_else(|| match in_container {
                Some(c) if !self.containers[c].pivoted => self.containers[c]
                    .rootfs_hint
                    .clone()
                    .or_else(|| self.containers[c].keys.merged.clone())
                    .unwrap_or_else(|| "/".to_owned()),
                _ => "/".to_owned(),
            });
        let procs = &self.procs;
        let resolve = |dirfd: i32, p: &str| -> String {
            let p = procs.through_fd(e.tgid, p);
            if p.starts_with('/') {
                return normalize(p);
            }
            let dir = if dirfd == -100 {
                cwd.as_str()
            } else {
                procs.fd_path(e.tgid, dirfd).unwrap_or(cwd.as_str())
            };
            normalize(&join(dir, p))
        };
        let Some(op) = self.mount_fds.op(e, &resolve) else {
            return;
        };
        match in_container {
            Some(c) => {
                let cs = &mut self.containers[c];
                if let MountOp::Mount {
                    source,
                    target,
                    flags,
                    ..
                } = &op
                    && flags & ms::BIND != 0
                    && source == target
                    && !cs.pivoted
                {
                    cs.rootfs_hint = Some(target.clone());
                }
                if let MountOp::PivotRoot { new_root, .. } = &op {
                    cs.pivoted = true;
                    // The caller's working directory was the new root: now it is "/".
                    let p = self.procs.entry(e.tgid, e.ts_nanos);
                    if p.cwd.as_deref().is_none_or(|d| d == new_root) {
                        p.cwd = Some("/".to_owned());
                    }
                }
                if cs.mount_ops.len() < 1 << 16 {
                    cs.mount_ops.push((e.ts_nanos, op));
                }
            }
            None => self.host_mounts.apply(&op),
        }
    }
}
