//! Who the session files belong to, and where the recorder may write them.
//!
//! Session files hold command lines: they are private (0600) and, when the recorder runs
//! through sudo, belong to the user who ran sudo, so that the viewer opens them
//! unprivileged. Ownership is set on each file's descriptor as it is created
//! (`beefine_schema::files`), never through a path a user could have redirected; and under
//! sudo the recorder writes only into a directory that user may write to themselves, so
//! that `--out` cannot be used to put files where only root may.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::unistd::{Gid, Uid, User};

/// `(uid, gid)` of a user.
pub type Owner = beefine_schema::files::Owner;

/// The user who ran sudo, when the recorder runs as root through it.
pub fn sudo_owner() -> Option<Owner> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// Whether `owner` may create files in a directory with these metadata.
fn may_write(meta: &std::fs::Metadata, (uid, gid): Owner) -> bool {
    let mode = meta.permissions().mode();
    if meta.uid() == uid {
        return mode & 0o300 == 0o300;
    }
    let in_group = meta.gid() == gid
        || User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .and_then(|u| {
                let name = std::ffi::CString::new(u.name).ok()?;
                nix::unistd::getgrouplist(&name, Gid::from_raw(gid)).ok()
            })
            .is_some_and(|groups| groups.contains(&Gid::from_raw(meta.gid())));
    if in_group {
        return mode & 0o030 == 0o030;
    }
    mode & 0o003 == 0o003
}

/// The directory for the session: `dir` with every link in it resolved (so that nothing in
/// the path can be redirected later without the writer noticing). Under sudo it must be a
/// directory the user who ran sudo may write to.
pub fn output_dir(dir: &Path, owner: Option<Owner>) -> Result<PathBuf> {
    let real = dir
        .canonicalize()
        .with_context(|| format!("--out {}: no such directory", dir.display()))?;
    let meta = std::fs::metadata(&real)
        .with_context(|| format!("--out {}: cannot read it", dir.display()))?;
    if !meta.is_dir() {
        bail!("--out {}: not a directory", dir.display());
    }
    if let Some(owner) = owner
        && !may_write(&meta, owner)
    {
        let who = User::from_uid(Uid::from_raw(owner.0))
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {}", owner.0), |u| u.name);
        bail!(
            "--out {}: {who}, who ran sudo, may not write there, so beefine-record will not \
             either; choose a directory of theirs (the session file will belong to them)",
            dir.display()
        );
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_the_user_may_write_to() {
        let dir = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(dir.path()).unwrap();
        let me = (meta.uid(), meta.gid());
        assert!(may_write(&meta, me));
        // Someone else, in no group of the directory: only if it is writable by all.
        let stranger = (meta.uid() + 4321, meta.gid() + 4321);
        assert!(!may_write(&meta, stranger));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(may_write(&std::fs::metadata(dir.path()).unwrap(), stranger));
        assert!(output_dir(&dir.path().join("missing"), None).is_err());
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(output_dir(&file, None).is_err());
    }
}
