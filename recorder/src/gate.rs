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

/// Spawns `command` behind a gate; the child's pid is the command's pid.
pub fn spawn(command: &[String]) -> Result<(tokio::process::Child, Gate)> {
    let socket = std::env::temp_dir().join(format!("beefine-gate-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("creating the gate socket {}", socket.display()))?;
    let exe = std::env::current_exe().context("finding the beefine-record executable")?;
    let child = tokio::process::Command::new(exe)
        .arg("__gate")
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

/// The gate's side (`beefine-record __gate SOCKET CMD…`): wait, then become the command.
pub fn run_gate(socket: &Path, command: &[String]) -> Result<std::convert::Infallible> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("connecting to the recorder at {}", socket.display()))?;
    let mut go = [0u8; 2];
    stream
        .read_exact(&mut go)
        .context("waiting for the recorder")?;
    drop(stream);
    let (program, args) = command.split_first().context("no command given")?;
    let err = std::process::Command::new(program).args(args).exec();
    bail!("cannot run {program}: {err}")
}
