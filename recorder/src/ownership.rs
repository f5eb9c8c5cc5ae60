//! Session files hold command lines: they are private (0600) and, when the recorder runs
//! through sudo, belong to the user who ran sudo so that the viewer opens them unprivileged.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid, chown};

/// The invoking user of sudo, if any.
fn sudo_owner() -> Option<(Uid, Gid)> {
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    Some((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// Makes the session file (and its WAL companions, while they exist) private to the user.
pub fn hand_over(path: &Path) -> Result<()> {
    let owner = sudo_owner().filter(|_| nix::unistd::geteuid().is_root());
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = Path::new(&p);
        if !p.exists() {
            continue;
        }
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", p.display()))?;
        if let Some((uid, gid)) = owner {
            chown(p, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the sudo user", p.display()))?;
        }
    }
    Ok(())
}
