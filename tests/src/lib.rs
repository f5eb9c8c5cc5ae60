//! Helpers for Beefine's privileged end-to-end tests (real probes, real dockerd, real
//! registry), run by `cargo xtask test` with `--test-threads=1`.
//!
//! The `require_*` helpers never skip: when the environment is missing they fail the test
//! with what is missing and how to get it (`cargo xtask provision` as root sets everything
//! up; `cargo xtask test` provisions before it runs these tests).
//!
//! Containers are reached only through ports published on 127.0.0.1, never through a
//! bridge address: [`http_get`] refuses anything but loopback.

use std::fs;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Where the local registry listens.
pub const REGISTRY_ADDR: &str = "127.0.0.1:5000";
/// The host name Docker pushes and pulls the fixture images under.
pub const REGISTRY_HOST: &str = "localhost:5000";
/// dockerd's API socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// The CRI node's containerd (`cargo xtask provision` starts it).
pub const CRI_SOCKET: &str = "/run/beefine/cri/containerd.sock";
/// Where the CRI node's CNI keeps its address allocations (host-local).
pub const CRI_IPAM_DIR: &str = "/run/beefine/cri/ipam/beefine-pods";

const PROVISION_HINT: &str = "run `cargo xtask provision` as root (or run the privileged \
                              tests through `cargo xtask test`)";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// FNV-1a (64 bit) over every recipe file: relative path, NUL, length (u64 LE), content,
/// in path order. The same function tags the images in `xtask/src/images.rs`.
pub fn recipe_digest(files: &[(String, Vec<u8>)]) -> u64 {
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (path, content) in sorted {
        eat(path.as_bytes());
        eat(&[0]);
        eat(&(content.len() as u64).to_le_bytes());
        eat(content);
    }
    h
}

fn recipe_files(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        if path.is_dir() {
            recipe_files(&path, &rel, out)?;
        } else if rel.contains('/') {
            out.push((rel, fs::read(&path)?));
        }
    }
    Ok(())
}

/// The tag of the fixture images built from the recipes in `fixtures/images/` (files in
/// its recipe folders; the README is not part of it).
pub fn fixture_tag() -> String {
    let dir = workspace_root().join("fixtures").join("images");
    let mut files = Vec::new();
    recipe_files(&dir, "", &mut files)
        .unwrap_or_else(|e| panic!("reading the image recipes in {}: {e}", dir.display()));
    format!("{:016x}", recipe_digest(&files))
}

/// `localhost:5000/busybox:<tag>`: one layer, busybox-static with its applets, CMD sh.
pub fn busybox_image() -> String {
    format!("{REGISTRY_HOST}/busybox:{}", fixture_tag())
}

/// `localhost:5000/nginx:<tag>`: busybox plus nginx layers, serves "Beefine fixture" on 80.
pub fn nginx_image() -> String {
    format!("{REGISTRY_HOST}/nginx:{}", fixture_tag())
}

/// `localhost:5000/pause:<tag>`: the static pause program alone, the CRI node's sandbox image.
pub fn pause_image() -> String {
    format!("{REGISTRY_HOST}/pause:{}", fixture_tag())
}

/// Fails unless the test runs as root (effective uid 0).
#[track_caller]
pub fn require_root() {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() != Some("0") {
        panic!(
            "this test needs root (effective uid is {}): run the privileged tests as root, \
             e.g. `sudo -E cargo xtask test`",
            euid.as_deref().unwrap_or("unknown")
        );
    }
}

/// Fails unless dockerd answers `GET /_ping` on /var/run/docker.sock.
#[track_caller]
pub fn require_docker() {
    let answer = (|| -> io::Result<HttpResponse> {
        let mut s = UnixStream::connect(DOCKER_SOCKET)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        exchange(&mut s, "docker", "/_ping", &[])
    })();
    match answer {
        Ok(r) if r.status == 200 && r.text().trim() == "OK" => {}
        Ok(r) => panic!(
            "dockerd on {DOCKER_SOCKET} answers HTTP {} to /_ping instead of OK: {PROVISION_HINT}",
            r.status
        ),
        Err(e) => panic!("dockerd does not answer on {DOCKER_SOCKET} ({e}): {PROVISION_HINT}"),
    }
}

/// Fails unless the CRI node's containerd answers on its socket with the CRI plugin loaded.
#[track_caller]
pub fn require_cri() {
    let out = Command::new("ctr")
        .args(["--address", CRI_SOCKET, "--timeout", "5s", "plugins", "ls"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running `ctr` ({e}): `apt-get install containerd`"));
    let text = String::from_utf8_lossy(&out.stdout);
    let cri_ok = text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.first() == Some(&"io.containerd.grpc.v1")
            && f.get(1) == Some(&"cri")
            && f.last() == Some(&"ok")
    });
    if !out.status.success() || !cri_ok {
        panic!(
            "no containerd with its CRI plugin answers on {CRI_SOCKET} ({}): {PROVISION_HINT}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// `ctr --address CRI_SOCKET -n k8s.io ARGS`: the CRI node's containerd objects.
#[track_caller]
pub fn cri_ctr(args: &[&str]) -> String {
    let out = Command::new("ctr")
        .args(["--address", CRI_SOCKET, "--namespace", "k8s.io"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running `ctr` ({e}): `apt-get install containerd`"));
    assert!(
        out.status.success(),
        "`ctr {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails unless an open registry answers on 127.0.0.1:5000.
#[track_caller]
pub fn require_registry() {
    match http_get(registry_addr(), "/v2/", &[]) {
        Ok(r) if r.status == 200 => {}
        Ok(r) => panic!(
            "the registry on {REGISTRY_ADDR} answers HTTP {} to /v2/ (auth or not a registry?): \
             {PROVISION_HINT}",
            r.status
        ),
        Err(e) => panic!("no registry answers on {REGISTRY_ADDR} ({e}): {PROVISION_HINT}"),
    }
}

/// Fails unless the registry holds `image` (`localhost:5000/NAME:TAG`).
#[track_caller]
pub fn require_image(image: &str) {
    require_registry();
    let (name, tag) = split_reference(image);
    let r = registry_manifest_response(name, tag)
        .unwrap_or_else(|e| panic!("asking the registry for {image}: {e}"));
    if r.status != 200 {
        panic!(
            "the registry on {REGISTRY_ADDR} has no {image} (HTTP {}): run `cargo xtask \
             provision` as root to build and push the fixture images",
            r.status
        );
    }
}

fn registry_addr() -> SocketAddr {
    REGISTRY_ADDR.parse().expect("a valid address")
}

/// `localhost:5000/NAME:TAG` → (NAME, TAG).
#[track_caller]
pub fn split_reference(image: &str) -> (&str, &str) {
    let rest = image
        .strip_prefix(REGISTRY_HOST)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or_else(|| panic!("{image} is not an image of {REGISTRY_HOST}"));
    rest.rsplit_once(':')
        .unwrap_or_else(|| panic!("{image} has no tag"))
}

fn registry_manifest_response(name: &str, tag: &str) -> io::Result<HttpResponse> {
    http_get(
        registry_addr(),
        &format!("/v2/{name}/manifests/{tag}"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, \
             application/vnd.oci.image.manifest.v1+json",
        )],
    )
}

/// The registry's manifest of `image` and its digest (`Docker-Content-Digest`).
#[track_caller]
pub fn registry_manifest(image: &str) -> (serde_json::Value, String) {
    let (name, tag) = split_reference(image);
    let r = registry_manifest_response(name, tag)
        .unwrap_or_else(|e| panic!("asking the registry for {image}: {e}"));
    assert_eq!(r.status, 200, "manifest of {image}: {}", r.text());
    let digest = r
        .header("Docker-Content-Digest")
        .unwrap_or_else(|| panic!("the registry sent no Docker-Content-Digest for {image}"))
        .to_string();
    let manifest = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("manifest of {image} is not JSON: {e}"));
    (manifest, digest)
}

/// An HTTP answer: status, headers, body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A small HTTP/1.0 `GET` to a loopback address (anything else is refused), 5 s timeouts.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<HttpResponse> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} is not a loopback address; tests reach containers through 127.0.0.1"),
        ));
    }
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    exchange(&mut s, &addr.to_string(), path, headers)
}

/// `GET http://127.0.0.1:PORT/PATH`, retried until it answers 200 or `within` passes; the
/// last answer or error otherwise.
pub fn http_get_when_up(port: u16, path: &str, within: Duration) -> io::Result<HttpResponse> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + within;
    loop {
        let r = http_get(addr, path, &[]);
        match &r {
            Ok(resp) if resp.status == 200 => return r,
            _ if Instant::now() >= deadline => return r,
            _ => sleep(Duration::from_millis(200)),
        }
    }
}

fn exchange(
    s: &mut (impl io::Read + io::Write),
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<HttpResponse> {
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.take(16 << 20).read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<HttpResponse> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of HTTP headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port on 127.0.0.1")
        .port()
}

/// Runs the docker CLI; its standard output, or the test fails with its standard error.
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running `docker` ({e}): `apt-get install docker.io`"));
    if !out.status.success() {
        panic!(
            "`docker {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the docker CLI and says whether it succeeded (for checks that may fail).
pub fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A container removed (`docker rm -f`) when dropped, also when the test fails.
pub struct Container {
    pub id: String,
}

impl Container {
    /// `docker run -d ARGS`.
    #[track_caller]
    pub fn run(args: &[&str]) -> Self {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        Self {
            id: docker(&all).trim().to_string(),
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same known answer is checked in `xtask/src/images.rs`: change both or neither.
    #[test]
    fn recipe_digest_known_answer() {
        let files = vec![
            ("nginx/Dockerfile".to_string(), b"FROM x\n".to_vec()),
            ("busybox/build.sh".to_string(), Vec::new()),
        ];
        assert_eq!(
            format!("{:016x}", recipe_digest(&files)),
            "ec8c3339e0732fc1"
        );
    }

    #[test]
    fn image_references_share_the_recipe_tag() {
        let tag = fixture_tag();
        assert_eq!(tag.len(), 16);
        assert_eq!(busybox_image(), format!("localhost:5000/busybox:{tag}"));
        assert_eq!(split_reference(&nginx_image()), ("nginx", tag.as_str()));
    }

    #[test]
    fn parses_headers_case_insensitively() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:ab\r\n\r\n{}")
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("docker-content-digest"), Some("sha256:ab"));
        assert_eq!(r.text(), "{}");
    }

    #[test]
    fn http_get_refuses_bridge_addresses() {
        let err = http_get("172.17.0.2:80".parse().unwrap(), "/", &[]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
