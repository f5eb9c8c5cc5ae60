//! Starting the command to record so that nothing it does escapes: the recorder starts
//! itself as a small gate process, puts the gate's pid in the kernel's tracked set, and only
//! then lets the gate exec the command (same pid, so the exec and everything after are in
//! scope).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The recorder's side: a spawned gate waiting to be released.
pub struct Gate {
    stream: UnixStream,
    socket: PathBuf,
}

impl Gate {
    /// Lets the command run.
    pub fn release(mut self) -> Result<()> {
        self.stream
            .write_all(b"go")
            .context("releasing the command")?;
        Ok(())
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Spawns `command` behind a gate; the child's pid is the command's pid. With `as_user`,
/// the gate becomes that user (groups, gid, uid, and its HOME, USER and LOGNAME) before it
/// runs the command.
pub fn spawn(
    command: &[String],
    as_user: Option<(u32, u32)>,
) -> Result<(tokio::process::Child, Gate)> {
    let socket = std::env::temp_dir().join(format!("beefine-gate-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("creating the gate socket {}", socket.display()))?;
    let exe = std::env::current_exe().context("finding the beefine-record executable")?;
    let mut gate = tokio::process::Command::new(exe);
    gate.arg("__gate");
    if let Some((uid, gid)) = as_user {
        gate.arg("--as-user").arg(format!("{uid}:{gid}"));
    }
    let child = gate
        .arg(&socket)
        .args(command)
        .kill_on_drop(false)
        .spawn()
        .context("starting the command")?;
    listener.set_nonblocking(false)?;
    let stream = accept_with_timeout(&listener, Duration::from_secs(10))?;
    Ok((child, Gate { stream, socket }))
}

fn accept_with_timeout(listener: &UnixListener, timeout: Duration) -> Result<UnixStream> {
    listener.set_nonblocking(true)?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    bail!("the command's gate did not start within {timeout:?}");
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e).context("waiting for the command's gate"),
        }
    }
}

/// The gate's side (`beefine-record __gate [--as-user UID:GID] SOCKET CMD…`): wait, then
/// become the command (as that user).
pub fn run_gate(
    socket: &Path,
    as_user: Option<&str>,
    command: &[String],
) -> Result<std::convert::Infallible> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("connecting to the recorder at {}", socket.display()))?;
    let mut go = [0u8; 2];
    stream
        .read_exact(&mut go)
        .context("waiting for the recorder")?;
    drop(stream);
    let (program, args) = command.split_first().context("no command given")?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    if let Some(spec) = as_user {
        become_user(spec, &mut cmd)?;
    }
    let err = cmd.exec();
    bail!("cannot run {program}: {err}")
}

/// Drops root for the user `UID:GID`: its supplementary groups, its gid, then its uid (in
/// that order: after setuid nothing else could be changed), and its environment's names.
fn become_user(spec: &str, cmd: &mut std::process::Command) -> Result<()> {
    use nix::unistd::{Gid, Uid, User};
    let (uid, gid) = spec
        .split_once(':')
        .and_then(|(u, g)| Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?)))
        .with_context(|| format!("--as-user {spec:?} is not UID:GID"))?;
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    let user = User::from_uid(uid)
        .ok()
        .flatten()
        .with_context(|| format!("no user has uid {uid}"))?;
    let name = std::ffi::CString::new(user.name.clone()).context("the user's name")?;
    nix::unistd::initgroups(&name, gid).context("taking the user's groups")?;
    nix::unistd::setgid(gid).context("taking the user's group")?;
    nix::unistd::setuid(uid).context("becoming the user")?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        bail!("could not drop root for the user {}", user.name);
    }
    cmd.env("HOME", &user.dir)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name);
    Ok(())
}
