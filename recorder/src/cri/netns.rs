//! A page fetched from inside a pod: a thread of the recorder joins the sandbox's network
//! namespace (`setns`, as the CRI's port-forward does) and connects to the pod's loopback.
//! Nothing leaves the pod's namespace.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::{CloneFlags, setns};

/// `GET path` on `addr` (a loopback address) inside the network namespace of `pid`, retried
/// for up to 15 s while nothing listens yet; the status line and body.
pub async fn fetch_in_netns(pid: u32, addr: SocketAddr, path: String) -> Result<(String, Vec<u8>)> {
    if !addr.ip().is_loopback() {
        bail!("--fetch {addr}: only the pod's loopback");
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own: the namespace stays with the thread, which ends after the fetch.
    std::thread::Builder::new()
        .name("pod-fetch".into())
        .spawn(move || {
            let _ = tx.send(fetch_blocking(pid, addr, &path));
        })
        .context("starting the fetch thread")?;
    rx.await
        .map_err(|_| anyhow!("the fetch thread ended without an answer"))?
}

fn fetch_blocking(pid: u32, addr: SocketAddr, path: &str) -> Result<(String, Vec<u8>)> {
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&ns_path).with_context(|| format!("opening {ns_path}"))?;
    setns(&ns, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("joining the pod's network namespace ({ns_path})"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match get(addr, path) {
            Ok(r) => return Ok(r),
            Err(e) if Instant::now() > deadline => {
                return Err(e.context(format!(
                    "fetching http://{addr}{path} inside the pod (nothing answered within 15 s)"
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn get(addr: SocketAddr, path: &str) -> Result<(String, Vec<u8>)> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: beefine-record\r\n\r\n")
            .as_bytes(),
    )?;
    let mut raw = Vec::new();
    s.take(16 << 20).read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP response"))?;
    let status = String::from_utf8_lossy(&raw[..split])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    Ok((status, raw[split + 4..].to_vec()))
}
