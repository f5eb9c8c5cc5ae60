//! Long-running services xtask starts (dockerd, the registry, the CRI containerd): started in their own process
//! group with output to a log under `target/xtask/`, recorded with their pid and start time
//! in `target/xtask/services.json`, and stopped only by that record, never by name.

use std::fs::{self, File};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

use crate::util;

#[derive(Parser)]
pub struct Args {
    /// `status` lists the recorded services; `stop` stops those still running.
    #[arg(value_enum, default_value = "status")]
    action: Action,
}

#[derive(Clone, Copy, ValueEnum)]
enum Action {
    Status,
    Stop,
}

pub fn main(args: &Args) -> Result<()> {
    let recorded = load()?;
    match args.action {
        Action::Status => {
            if recorded.is_empty() {
                println!("xtask has no services recorded as running.");
            }
            for s in &recorded {
                let state = if s.alive() { "running" } else { "gone" };
                println!(
                    "{:<10} pid {:<8} {state:<8} log {}",
                    s.name,
                    s.pid,
                    s.log.display()
                );
            }
            Ok(())
        }
        Action::Stop => {
            for s in recorded.iter().rev() {
                s.stop(None)?;
            }
            save(&[])
        }
    }
}

/// A service xtask started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub pid: u32,
    /// Field 22 of /proc/PID/stat: tells a reused pid from ours.
    pub start_ticks: u64,
    pub log: PathBuf,
}

impl Service {
    /// Whether the recorded process still runs (same pid, same start time, not a zombie).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, ticks)) if ticks == self.start_ticks && state != 'Z')
    }

    /// SIGTERM, wait up to 30 s, then SIGKILL. `child` is the handle when this process
    /// started it (so the exit is reaped).
    fn stop(&self, mut child: Option<&mut Child>) -> Result<()> {
        if !self.alive() {
            if let Some(c) = child {
                let _ = c.try_wait();
            }
            return Ok(());
        }
        println!("stopping {} (pid {})", self.name, self.pid);
        signal(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let exited = match child.as_deref_mut() {
                Some(c) => c.try_wait().ok().flatten().is_some(),
                None => !self.alive(),
            };
            if exited {
                return Ok(());
            }
            if Instant::now() > deadline {
                println!(
                    "{} (pid {}) did not stop within 30 s: SIGKILL",
                    self.name, self.pid
                );
                signal(self.pid, libc::SIGKILL);
                if let Some(c) = child {
                    c.wait().context("waiting for a killed service")?;
                }
                return Ok(());
            }
            sleep(Duration::from_millis(100));
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    #[expect(unsafe_code, reason = "kill(2) has no safe wrapper in std")]
    // SAFETY: kill takes plain integers and touches no memory of ours; the pid was checked
    // against the recorded start time just before.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// (state, start time in clock ticks) of a process, from /proc/PID/stat.
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ticks = fields.get(19)?.parse().ok()?;
    Some((state, ticks))
}

/// The services this xtask run started, with their handles, in start order.
#[derive(Default)]
pub struct Started {
    items: Vec<(Service, Child)>,
}

impl Started {
    /// Starts `cmd` in its own process group (a Ctrl-C in the terminal does not reach it),
    /// output to `log`, and records it.
    pub fn spawn(&mut self, name: &str, mut cmd: Command, log: &Path) -> Result<&Service> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // A service outlives this run: it must not keep descriptors this run inherited, such
        // as the `flock` of /tmp/beefine-privileged.lock around `cargo xtask provision`,
        // which would hold that lock for as long as the service runs.
        #[expect(
            unsafe_code,
            reason = "pre_exec and close_range(2) have no safe wrapper"
        )]
        // SAFETY: the closure runs in the forked child before exec and only calls
        // close_range, which is async-signal-safe and touches no memory. It marks every fd
        // from 3 up close-on-exec (std's own exec-error pipe is already), so they close at
        // exec and nothing the child needs before exec goes away.
        unsafe {
            cmd.pre_exec(|| {
                libc::close_range(
                    3,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
                );
                Ok(())
            });
        }
        println!("$ {} >{} 2>&1 &", util::display(&cmd), log.display());
        let child = cmd
            .spawn()
            .with_context(|| format!("could not start `{}`", util::display(&cmd)))?;
        let pid = child.id();
        let start_ticks = proc_stat(pid).map_or(0, |(_, t)| t);
        let service = Service {
            name: name.to_string(),
            pid,
            start_ticks,
            log: log.to_path_buf(),
        };
        let mut recorded: Vec<Service> = load()?.into_iter().filter(Service::alive).collect();
        recorded.push(service.clone());
        save(&recorded)?;
        self.items.push((service, child));
        Ok(&self.items.last().expect("just pushed").0)
    }

    /// Whether the started process `name` has exited; its exit status if so.
    pub fn exited(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        let (_, child) = self.items.iter_mut().find(|(s, _)| s.name == name)?;
        child.try_wait().ok().flatten()
    }

    /// Stops `name` if this run started it (used when a service never came up).
    pub fn stop_one(&mut self, name: &str) -> Result<()> {
        if let Some(i) = self.items.iter().position(|(s, _)| s.name == name) {
            let (service, mut child) = self.items.remove(i);
            service.stop(Some(&mut child))?;
            forget(&service)?;
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        self.items.iter().map(|(s, _)| s.name.clone()).collect()
    }

    /// Stops everything this run started, last started first.
    pub fn stop_all(&mut self) -> Result<()> {
        while let Some((service, mut child)) = self.items.pop() {
            service.stop(Some(&mut child))?;
            forget(&service)?;
        }
        Ok(())
    }

    /// Leaves the services running (their record stays for `cargo xtask services stop`).
    pub fn detach(&mut self) {
        self.items.clear();
    }
}

/// Stops the recorded, still running service `name` (started by an earlier xtask run) and
/// forgets it; false when there is none.
pub fn stop_recorded(name: &str) -> Result<bool> {
    let Some(service) = load()?.into_iter().find(|s| s.name == name && s.alive()) else {
        return Ok(false);
    };
    service.stop(None)?;
    forget(&service)?;
    Ok(true)
}

fn record_path() -> Result<PathBuf> {
    Ok(util::xtask_dir()?.join("services.json"))
}

fn load() -> Result<Vec<Service>> {
    let path = record_path()?;
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let list = v["services"].as_array().cloned().unwrap_or_default();
    Ok(list
        .iter()
        .filter_map(|s| {
            Some(Service {
                name: s["name"].as_str()?.to_string(),
                pid: u32::try_from(s["pid"].as_u64()?).ok()?,
                start_ticks: s["start_ticks"].as_u64()?,
                log: PathBuf::from(s["log"].as_str()?),
            })
        })
        .collect())
}

fn save(services: &[Service]) -> Result<()> {
    let list: Vec<Value> = services
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "pid": s.pid,
                "start_ticks": s.start_ticks,
                "log": s.log.display().to_string(),
            })
        })
        .collect();
    let path = record_path()?;
    fs::write(
        &path,
        serde_json::to_string_pretty(&json!({ "services": list }))? + "\n",
    )
    .with_context(|| format!("writing {}", path.display()))
}

fn forget(service: &Service) -> Result<()> {
    let recorded: Vec<Service> = load()?.into_iter().filter(|s| s != service).collect();
    save(&recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process_state_and_start_time() {
        let (state, ticks) = proc_stat(std::process::id()).expect("/proc/self/stat");
        assert_ne!(state, 'Z');
        assert!(ticks > 0);
        let me = Service {
            name: "me".into(),
            pid: std::process::id(),
            start_ticks: ticks,
            log: PathBuf::new(),
        };
        assert!(me.alive());
        let reused = Service {
            start_ticks: ticks + 1,
            ..me
        };
        assert!(!reused.alive(), "a pid with another start time is not ours");
    }
}
