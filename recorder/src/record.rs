//! A recording from start to finish: probes, scope, threads, the command or the Docker
//! actions, the stop, and the cleanup.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aya::maps::{HashMap, MapData};
use beefine_ebpf::{globals, maps};
use beefine_schema::{Probe, SessionInfo, SessionWriter, WriterOptions};
use tokio::signal::unix::{SignalKind, signal};

use crate::capture::{self, Capture};
use crate::cli::RecordArgs;
use crate::clock::{boot_nanos, clock_offset_nanos};
use crate::cri::CriSetup;
use crate::docker;
use crate::loader::{self, AttachOptions};
use crate::session::{SessionBuilder, SessionMsg};
use crate::stats::Stats;
use crate::{cgroups, gate, ownership, probes, scope, status};

/// Probe id of the built-in probes in the `probes` table.
pub const BUILTIN_PROBE_ID: u32 = 0;

/// The interfaces to summarise packets on.
fn interfaces(args: &RecordArgs) -> Vec<String> {
    if args.no_packets {
        return Vec::new();
    }
    if !args.ifaces.is_empty() {
        return args.ifaces.clone();
    }
    ["lo", "docker0"]
        .into_iter()
        .filter(|i| Path::new("/sys/class/net").join(i).exists())
        .map(str::to_owned)
        .collect()
}

fn host_kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn session_path(args: &RecordArgs, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("--session {name:?}: use a plain name such as pull-nginx (no slashes)");
    }
    if !args.out.is_dir() {
        bail!("--out {}: no such directory", args.out.display());
    }
    let path = args.out.join(format!("{name}.beefine"));
    if path.exists() && !args.force {
        bail!(
            "{} already exists; choose another --session name or pass --force",
            path.display()
        );
    }
    Ok(path)
}

/// Records; returns the exit code to exit with (the command's, when there is one).
#[expect(
    clippy::too_many_lines,
    reason = "to be split into phases with a teardown that always runs"
)]
pub async fn record(args: RecordArgs) -> Result<i32> {
    let name = args.session.clone().context("--session is required")?;
    let path = session_path(&args, &name)?;
    // Caught from the start: a SIGINT or SIGTERM while the probes load (which takes the
    // verifier a moment) ends the recording as soon as it runs, with a complete file.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    crate::preflight::check()?;
    probes::check_objects(&args.probes)?;
    if !args.ring_mib.is_power_of_two() || args.ring_mib > 1024 {
        bail!("--ring-mib must be a power of two up to 1024");
    }
    let docker_actions = docker::Actions::from_args(&args)?;
    let cri_setup = CriSetup::from_args(&args).await?;
    let docker_client = docker::connect_early().await;
    let started = Instant::now();
    let start_ts_nanos = boot_nanos();
    let info = SessionInfo {
        session_name: name.clone(),
        command: if args.command.is_empty() {
            std::env::args().collect()
        } else {
            args.command.clone()
        },
        tool_version: env!("CARGO_PKG_VERSION").into(),
        host_kernel: host_kernel(),
        hostname: hostname(),
        clock_offset_nanos: clock_offset_nanos(),
        start_ts_nanos,
    };
    let clock_offset = info.clock_offset_nanos;
    // Commits every 100 ms: a viewer following the session sees new events within its own
    // poll interval plus this (the chunks cut at each commit are merged when it finishes).
    let opts = WriterOptions {
        overwrite: args.force,
        commit_interval: Duration::from_millis(100),
        ..WriterOptions::default()
    };
    // Load the probes with the scope seeded before any program runs. The session file is
    // created only once they are in: a probe the kernel refuses leaves no file behind.
    let me = std::process::id();
    let elf = beefine_ebpf::object();
    let sections = loader::program_sections(elf)?;
    let ring_bytes = args.ring_mib << 20;
    let trace_all = u8::from(args.all);
    let mut ebpf = loader::load("the built-in probes", elf, |l| {
        l.override_global(globals::SELF_TGID, &me, true)
            .override_global(globals::TRACE_ALL, &trace_all, true)
            .map_max_entries(maps::EVENTS, ring_bytes);
    })?;
    let mut tracked: HashMap<MapData, u32, u8> = HashMap::try_from(
        ebpf.take_map(maps::TRACKED)
            .context("tracked-process map")?,
    )?;
    let procs = scope::list_procs(Path::new("/proc"));
    let seeds = scope::seed(&procs, me);
    for pid in &seeds {
        tracked
            .insert(pid, 1, 0)
            .context("seeding the tracked processes")?;
    }
    let attach = AttachOptions {
        interfaces: interfaces(&args),
    };
    let (attached, links) =
        loader::attach_all("the built-in probes", &mut ebpf, &sections, &attach)?;
    let custom = probes::load_custom(&args.probes, &attach, me, trace_all, &tracked)?;
    let tracked = Arc::new(std::sync::Mutex::new(tracked));
    let writer = SessionWriter::create(&path, &info, opts)?;
    ownership::hand_over(&path)?;

    let stats = Arc::new(Stats::default());
    let (tx, rx) = sync_channel::<SessionMsg>(256);
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    // The mount table a container's new mount namespace starts as a copy of: the daemon's.
    let mountinfo = scope::daemon_mountinfo(&procs);
    tx.send(SessionMsg::Meta {
        key: beefine_schema::story::HOST_MOUNTINFO_KEY,
        value: mountinfo,
    })?;
    let seeded: Vec<_> = procs
        .into_iter()
        .filter(|p| seeds.contains(&p.pid))
        .collect();
    tx.send(SessionMsg::Seed {
        procs: seeded,
        boot_ticks_per_sec: ticks,
    })?;
    if let Some(root) = cgroups::v2_mount() {
        tx.send(SessionMsg::Cgroups(cgroups::walk(&root)))?;
    }
    tx.send(SessionMsg::Probe(Box::new(Probe {
        probe_id: BUILTIN_PROBE_ID,
        name: "beefine".into(),
        builtin: true,
        programs: attached
            .iter()
            .map(|a| (a.program.clone(), a.attach_point.clone()))
            .collect(),
        record_type: None,
        btf: Vec::new(),
        object_sha256: None,
    })))?;
    for c in &custom {
        tx.send(SessionMsg::Probe(Box::new(c.description.clone())))?;
    }
    let session_stats = stats.clone();
    let session_done = Arc::new(AtomicBool::new(false));
    let session_thread = {
        let done = session_done.clone();
        std::thread::Builder::new()
            .name("session".into())
            .spawn(move || {
                let r = SessionBuilder::new(writer, session_stats).run(rx);
                done.store(true, Ordering::Relaxed);
                r
            })?
    };

    let stop = Arc::new(AtomicBool::new(false));
    let capture = Capture::new(ebpf, links)?;
    let capture_thread = {
        let (tx, stop, stats) = (tx.clone(), stop.clone(), stats.clone());
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture::run(capture, tx, stop, stats))?
    };
    let custom_threads = probes::start_custom(custom, tx.clone(), stop.clone(), stats.clone());
    let rescope_thread = (!args.all).then(|| {
        let (tracked, stop) = (tracked.clone(), stop.clone());
        let known = seeds.clone();
        std::thread::Builder::new()
            .name("scope".into())
            .spawn(move || scope::follow_new_stack_processes(&tracked, known, me, &stop))
    });

    let status_task = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        tokio::spawn(status::status_line(
            name.clone(),
            path.clone(),
            stats.clone(),
        ))
    });

    let docker = docker::start(
        docker_client,
        tx.clone(),
        clock_offset,
        args.sample_interval,
    )
    .await;

    let cri = match cri_setup {
        Some(c) => Some(
            c.start(
                tx.clone(),
                clock_offset,
                start_ts_nanos,
                args.sample_interval,
            )
            .await,
        ),
        None => None,
    };

    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let sleep_until = |d: Option<tokio::time::Instant>| async move {
        match d {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let watch_session = {
        let done = session_done.clone();
        async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    tokio::pin!(watch_session);

    let mut exit_code = 0;
    // What the recording waits for: the Docker actions, then the command (with --run the
    // command is the container's), or a signal, or the clock.
    let runs_container = args.run.is_some();
    let work = async {
        let mut code = None;
        if let Some(actions) = &docker_actions {
            code = Some(actions.perform(&docker, &args.command).await?);
        }
        if let Some(pod) = cri.as_ref().map(|c| c.perform()) {
            code = pod.await.transpose()?.or(code);
        }
        if !args.command.is_empty() && !runs_container {
            let (mut child, gate) = gate::spawn(&args.command)?;
            let pid = child
                .id()
                .ok_or_else(|| anyhow!("the command exited at once"))?;
            tracked
                .lock()
                .map_err(|_| anyhow!("the tracked-process map is poisoned"))?
                .insert(pid, 1, 0)
                .context("tracking the command")?;
            tx.send(SessionMsg::Command { pid })?;
            gate.release()?;
            let status = child.wait().await?;
            use std::os::unix::process::ExitStatusExt;
            code = Some(
                status
                    .code()
                    .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            );
        }
        match code {
            Some(c) => Ok::<_, anyhow::Error>(Some(c)),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = work => {
            if let Some(code) = r? {
                exit_code = code;
            }
            if !args.grace.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(args.grace) => {}
                    _ = sigint.recv() => {}
                    _ = sigterm.recv() => {}
                }
            }
        }
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
        () = sleep_until(deadline) => {}
        () = &mut watch_session => {}
    }
    if let Some(actions) = &docker_actions
        && !args.keep
    {
        actions.cleanup(&docker).await;
    }
    if let Some(c) = &cri
        && let Err(e) = c.cleanup(args.keep).await
    {
        eprintln!("beefine-record: removing the pod: {e:#}");
    }
    if let Some(t) = status_task {
        t.abort();
        status::clear_line();
    }
    let end_ts_nanos = boot_nanos();
    docker.stop().await;
    if let Some(c) = cri {
        c.stop().await;
    }
    stop.store(true, Ordering::Relaxed);
    let ebpf = capture_thread
        .join()
        .map_err(|_| anyhow!("the capture thread panicked"))??;
    probes::join_custom(custom_threads);
    if let Some(Ok(t)) = rescope_thread {
        let _ = t.join();
    }
    drop(ebpf);
    drop(tracked);
    let cpu = crate::stats::own_cpu();
    let _ = tx.send(SessionMsg::Meta {
        key: "recorder_cpu_user_nanos",
        value: cpu.user_nanos.to_string(),
    });
    let _ = tx.send(SessionMsg::Meta {
        key: "recorder_cpu_sys_nanos",
        value: cpu.sys_nanos.to_string(),
    });
    let _ = tx.send(SessionMsg::Finish { end_ts_nanos });
    drop(tx);
    let summary = session_thread
        .join()
        .map_err(|_| anyhow!("the session thread panicked"))?
        .with_context(|| {
            format!(
                "recording into {} stopped (what was committed stays readable)",
                path.display()
            )
        })?;
    ownership::hand_over(&path)?;
    eprint!(
        "{}",
        status::summary(
            &path,
            started.elapsed(),
            beefine_schema::format::session_span(
                start_ts_nanos,
                Some(end_ts_nanos),
                summary.events_span
            ),
            &summary,
            &stats,
            cpu
        )
    );
    Ok(exit_code)
}
