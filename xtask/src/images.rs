//! The fixture images: `localhost:5000/busybox:<tag>`, `localhost:5000/nginx:<tag>` and
//! `localhost:5000/pause:<tag>` (the CRI node's sandbox image), built offline by the recipes
//! in `fixtures/images/` and pushed to the local registry. busybox is also pushed as
//! `localhost:5000/busybox:latest`, the image the Pod manifests in `fixtures/pods/` name.
//!
//! The tag is a digest of the recipe files, so a changed recipe gets new references.
//! `beefine_tests` computes the same tag (`tests/src/lib.rs`); a known-answer test on both
//! sides keeps the two in step.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;

use crate::provision::{self, REGISTRY_ADDR};
use crate::{http, util};

/// Host name under which Docker pushes and pulls the fixture images.
pub const REGISTRY_HOST: &str = "localhost:5000";

/// The images, in build order (nginx is built FROM busybox).
pub const IMAGES: &[&str] = &["busybox", "nginx", "pause"];

/// Images also pushed as `:latest` (for manifests that cannot know the recipe tag).
const LATEST: &[&str] = &["busybox"];

#[derive(Parser)]
pub struct Args {
    /// Build and push the images again even if the registry has them.
    #[arg(long)]
    rebuild: bool,
}

pub fn main(args: &Args) -> Result<()> {
    if args.rebuild {
        if !provision::docker_answers() || !provision::registry_answers() {
            bail!(
                "dockerd and the registry on {REGISTRY_ADDR} must be running: \
                 `cargo xtask provision` starts them"
            );
        }
        ensure(true)?;
    }
    let tag = tag()?;
    for name in IMAGES {
        println!("{}", reference(name, &tag));
    }
    Ok(())
}

/// FNV-1a (64 bit) over every recipe file: relative path, NUL, length (u64 LE), content,
/// in path order.
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

/// The files of the recipe folders under `dir` (files directly in `dir`, such as its
/// README, are not part of any recipe), with `/`-separated relative paths.
pub fn recipe_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &rel, out)?;
            } else if rel.contains('/') {
                let content =
                    fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                out.push((rel, content));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

/// The tag of the fixture images built from the current recipes.
pub fn tag() -> Result<String> {
    let dir = util::root().join("fixtures").join("images");
    Ok(format!("{:016x}", recipe_digest(&recipe_files(&dir)?)))
}

pub fn reference(name: &str, tag: &str) -> String {
    format!("{REGISTRY_HOST}/{name}:{tag}")
}

/// Whether the registry holds `name:tag`.
fn registry_has(name: &str, tag: &str) -> Result<bool> {
    Ok(registry_manifest(name, tag)?.is_some())
}

/// The registry's manifest of `name:tag`, as stored (`None` if it has none).
fn registry_manifest(name: &str, tag: &str) -> Result<Option<Vec<u8>>> {
    let addr: SocketAddr = REGISTRY_ADDR.parse().expect("a valid address");
    let accept = "application/vnd.docker.distribution.manifest.v2+json, \
                  application/vnd.oci.image.manifest.v1+json";
    let r = http::get_tcp(
        addr,
        &format!("/v2/{name}/manifests/{tag}"),
        &[("Accept", accept)],
        Duration::from_secs(10),
    )
    .with_context(|| format!("asking the registry on {REGISTRY_ADDR} for {name}:{tag}"))?;
    match r.status {
        200 => Ok(Some(r.body)),
        404 => Ok(None),
        s => bail!(
            "the registry answered HTTP {s} for {name}:{tag}: {}",
            r.text().trim()
        ),
    }
}

/// Builds and pushes every image the registry lacks (all of them with `rebuild`).
pub fn ensure(rebuild: bool) -> Result<()> {
    let tag = tag()?;
    let recipes = util::root().join("fixtures").join("images");
    let work = util::xtask_dir()?.join("images");
    for name in IMAGES {
        let image = reference(name, &tag);
        if !rebuild && registry_has(name, &tag)? {
            println!("{image}: in the registry");
            continue;
        }
        let begin = Instant::now();
        println!("{image}: building from fixtures/images/{name}/");
        let mut cmd = Command::new("sh");
        cmd.arg(recipes.join(name).join("build.sh"))
            .arg(&image)
            .arg(work.join(name));
        if *name == "nginx" {
            cmd.arg(reference("busybox", &tag));
        }
        util::run(&mut cmd).with_context(|| format!("building {image}"))?;
        util::run(Command::new("docker").args(["push", &image]))
            .with_context(|| format!("pushing {image}"))?;
        if !registry_has(name, &tag)? {
            bail!("pushed {image} but the registry does not list it");
        }
        println!(
            "{image}: built and pushed in {}",
            util::human(begin.elapsed())
        );
    }
    for name in LATEST {
        alias_latest(name, &tag)?;
    }
    Ok(())
}

/// Makes `name:latest` in the registry the same manifest as `name:tag`.
fn alias_latest(name: &str, tag: &str) -> Result<()> {
    let image = reference(name, tag);
    let latest = reference(name, "latest");
    if registry_manifest(name, "latest")? == registry_manifest(name, tag)? {
        println!("{latest}: the same as {image}");
        return Ok(());
    }
    if !util::output(Command::new("docker").args(["images", "-q", &image]))
        .is_ok_and(|out| !out.trim().is_empty())
    {
        util::run(Command::new("docker").args(["pull", "-q", &image]))?;
    }
    util::run(Command::new("docker").args(["tag", &image, &latest]))?;
    util::run(Command::new("docker").args(["push", &latest]))
        .with_context(|| format!("pushing {latest}"))?;
    if registry_manifest(name, "latest")? != registry_manifest(name, tag)? {
        bail!("pushed {latest} but the registry's manifest differs from {image}'s");
    }
    println!("{latest}: now {image}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same known answer is checked in `tests/src/lib.rs`: change both or neither.
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
    fn tag_covers_recipes_not_the_readme() {
        let dir = util::root().join("fixtures").join("images");
        let files = recipe_files(&dir).unwrap();
        let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert!(names.contains(&"busybox/build.sh"), "{names:?}");
        assert!(names.contains(&"nginx/Dockerfile"), "{names:?}");
        assert!(names.contains(&"pause/pause.c"), "{names:?}");
        assert!(!names.contains(&"README.md"), "{names:?}");
        let t = tag().unwrap();
        assert_eq!(t.len(), 16);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
