//! A recording from start to finish, in phases:
//!
//! 1. [`Plan`]: everything checked and prepared that changes nothing (arguments, the
//!    machine, the session's place, the daemon connection, containers killed recorders left);
//! 2. [`Recording::start`]: the probes loaded and attached, the session file created, the
//!    threads started;
//! 3. [`Recording::run`]: the Docker actions or the pod, the command, until it ends, a signal
//!    or the clock;
//! 4. [`Recording::teardown`]: always, whatever happened after the session file was created —
//!    the containers it created removed, the threads stopped, the file finished.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aya::Ebpf;
use aya::maps::{HashMap, MapData};
use beefine_ebpf::{globals, maps};
use beefine_schema::{Probe, SessionInfo, SessionWriter, WriteSummary, WriterOptions};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::capture::{self, Capture};
use crate::cli::RecordArgs;
use crate::clock::{boot_nanos, clock_offset_nanos};
use crate::cri::{CriSetup, CriSide};
use crate::docker::{self, DockerSide};
use crate::loader::{self, AttachOptions};
use crate::probes::{self, CustomThreads};
use crate::session::{SessionBuilder, SessionMsg};
use crate::stats::Stats;
use crate::{cgroups, gate, ownership, scope, status};

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

/// `--out DIR/NAME.beefine`, with DIR resolved (no links left in it) and, under sudo,
/// checked to be a directory the user who ran sudo may write to.
fn session_path(args: &RecordArgs, name: &str, owner: Option<ownership::Owner>) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("--session {name:?}: use a plain name such as pull-nginx (no slashes)");
    }
    let dir = ownership::output_dir(&args.out, owner)?;
    let path = dir.join(format!("{name}.beefine"));
    if std::fs::symlink_metadata(&path).is_ok() && !args.force {
        bail!(
            "{} already exists; choose another --session name or pass --force",
            path.display()
        );
    }
    Ok(path)
}

/// What a recording will do, checked and prepared before anything changes.
pub struct Plan {
    args: RecordArgs,
    name: String,
    path: PathBuf,
    info: SessionInfo,
    writer: WriterOptions,
    actions: Option<docker::Actions>,
    docker: Option<bollard::Docker>,
    cri: Option<CriSetup>,
    sigint: Signal,
    sigterm: Signal,
}

impl Plan {
    /// Phase 1: checks the arguments and the machine, connects to the daemon, removes the
    /// containers killed recorders left. Nothing of this recording exists yet.
    pub async fn new(args: RecordArgs) -> Result<Self> {
        let name = args.session.clone().context("--session is required")?;
        let owner = ownership::sudo_owner();
        let path = session_path(&args, &name, owner)?;
        // Caught from the start: a SIGINT or SIGTERM while the probes load (which takes the
        // verifier a moment) ends the recording as soon as it runs, with a complete file.
        let sigint = signal(SignalKind::interrupt())?;
        let sigterm = signal(SignalKind::terminate())?;
        crate::preflight::check()?;
        probes::check_objects(&args.probes)?;
        if !args.ring_mib.is_power_of_two() || args.ring_mib > 1024 {
            bail!("--ring-mib must be a power of two up to 1024");
        }
        if args.as_user {
            if args.run.is_some() {
                bail!(
                    "--as-user runs the command after -- as you; with --run it is the container's"
                );
            }
            if owner.is_none() {
                bail!("--as-user runs the command as the user who ran sudo, and there is none");
            }
        }
        let actions = docker::Actions::from_args(&args)?;
        let cri = CriSetup::from_args(&args).await?;
        let docker = docker::connect_early().await;
        if let Some(d) = &docker {
            // Before the probes: removing them is not part of this recording.
            for (id, session) in docker::cleanup_left_containers(d, false).await? {
                eprintln!(
                    "beefine-record: removed container {id} that a killed recording ({session}) left"
                );
            }
        }
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
            start_ts_nanos: boot_nanos(),
        };
        // Commits every 100 ms: a viewer following the session sees new events within its own
        // poll interval plus this (the chunks cut at each commit are merged when it finishes).
        let writer = WriterOptions {
            overwrite: args.force,
            commit_interval: Duration::from_millis(100),
            owner,
            ..WriterOptions::default()
        };
        Ok(Self {
            args,
            name,
            path,
            info,
            writer,
            actions,
            docker,
            cri,
            sigint,
            sigterm,
        })
    }
}

/// The kernel side, loaded and attached, before the session file exists.
struct Probes {
    ebpf: Ebpf,
    links: loader::Links,
    tracked: HashMap<MapData, u32, u8>,
    seeds: std::collections::HashSet<u32>,
    procs: Vec<scope::ProcInfo>,
    attached: Vec<loader::Attached>,
    custom: Vec<probes::CustomProbe>,
}

/// Loads the probes with the scope seeded before any program runs. The session file is
/// created only once they are in: a probe the kernel refuses leaves no file behind.
fn load_probes(args: &RecordArgs) -> Result<Probes> {
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
        interfaces: interfaces(args),
    };
    let (attached, links) =
        loader::attach_all("the built-in probes", &mut ebpf, &sections, &attach)?;
    let custom = probes::load_custom(&args.probes, &attach, me, trace_all, &tracked)?;
    Ok(Probes {
        ebpf,
        links,
        tracked,
        seeds,
        procs,
        attached,
        custom,
    })
}

/// What the session thread is told first: the processes in scope at start, the cgroups, the
/// probes.
fn seed_session(tx: &SyncSender<SessionMsg>, p: &mut Probes) -> Result<()> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    // The mount table a container's new mount namespace starts as a copy of: the daemon's.
    let mountinfo = scope::daemon_mountinfo(&p.procs);
    tx.send(SessionMsg::Meta {
        key: beefine_schema::story::HOST_MOUNTINFO_KEY,
        value: mountinfo,
    })?;
    let seeded: Vec<_> = std::mem::take(&mut p.procs)
        .into_iter()
        .filter(|proc| p.seeds.contains(&proc.pid))
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
        programs: p
            .attached
            .iter()
            .map(|a| (a.program.clone(), a.attach_point.clone()))
            .collect(),
        record_type: None,
        btf: Vec::new(),
        object_sha256: None,
    })))?;
    for c in &p.custom {
        tx.send(SessionMsg::Probe(Box::new(c.description.clone())))?;
    }
    Ok(())
}

/// A recording under way: every thread and task it started, so that [`Recording::teardown`]
/// can stop them all and finish the file, whichever phase failed.
pub struct Recording {
    name: String,
    path: PathBuf,
    started: Instant,
    keep: bool,
    stats: Arc<Stats>,
    tx: Option<SyncSender<SessionMsg>>,
    session_thread: Option<JoinHandle<Result<WriteSummary>>>,
    session_done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    capture_thread: Option<JoinHandle<Result<Ebpf>>>,
    custom_threads: CustomThreads,
    rescope_thread: Option<JoinHandle<()>>,
    tracked: Option<Arc<Mutex<HashMap<MapData, u32, u8>>>>,
    status_task: Option<tokio::task::JoinHandle<()>>,
    docker: Option<DockerSide>,
    actions: Option<docker::Actions>,
    cri: Option<CriSide>,
}

/// How a recording ended.
pub struct Ended {
    pub summary: WriteSummary,
    pub stats: Arc<Stats>,
    pub cpu: crate::stats::Cpu,
    pub duration: Duration,
    /// When the recording stopped (boot clock).
    pub end_ts_nanos: u64,
}

impl Recording {
    /// Phase 2: loads the probes, creates the session file and starts the threads. When a
    /// step after the file's creation fails, what was started is torn down (the file
    /// finished) before the error is returned.
    pub async fn start(plan: &mut Plan) -> Result<Self> {
        let probes = load_probes(&plan.args)?;
        let writer = SessionWriter::create(&plan.path, &plan.info, plan.writer.clone())?;
        let stats = Arc::new(Stats::default());
        let (tx, rx) = sync_channel::<SessionMsg>(256);
        let session_done = Arc::new(AtomicBool::new(false));
        let session_thread = {
            let (done, stats) = (session_done.clone(), stats.clone());
            std::thread::Builder::new()
                .name("session".into())
                .spawn(move || {
                    let r = SessionBuilder::new(writer, stats).run(rx);
                    done.store(true, Ordering::Relaxed);
                    r
                })
                .context("starting the session thread")?
        };
        let mut rec = Self {
            name: plan.name.clone(),
            path: plan.path.clone(),
            started: Instant::now(),
            keep: plan.args.keep,
            stats,
            tx: Some(tx),
            session_thread: Some(session_thread),
            session_done,
            stop: Arc::new(AtomicBool::new(false)),
            capture_thread: None,
            custom_threads: CustomThreads::default(),
            rescope_thread: None,
            tracked: None,
            status_task: None,
            docker: None,
            actions: plan.actions.take(),
            cri: None,
        };
        if let Err(e) = rec.start_threads(plan, probes).await {
            if let Err(t) = rec.teardown().await {
                eprintln!("beefine-record: {t:#}");
            }
            return Err(e);
        }
        Ok(rec)
    }

    /// Phase 2, once the file exists: seeds the session, starts capture, the custom probes,
    /// the scope follower, the status line and the daemon side.
    async fn start_threads(&mut self, plan: &mut Plan, mut p: Probes) -> Result<()> {
        let tx = self.tx.clone().context("the session channel")?;
        seed_session(&tx, &mut p)?;
        let Probes {
            ebpf,
            links,
            tracked,
            seeds,
            custom,
            ..
        } = p;
        let capture = Capture::new(ebpf, links)?;
        let capture_thread = {
            let (tx, stop, stats) = (tx.clone(), self.stop.clone(), self.stats.clone());
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || capture::run(capture, tx, stop, stats))
                .context("starting the capture thread")?
        };
        self.capture_thread = Some(capture_thread);
        self.custom_threads =
            probes::start_custom(custom, tx.clone(), self.stop.clone(), self.stats.clone());
        let tracked = Arc::new(Mutex::new(tracked));
        self.tracked = Some(tracked.clone());
        if !plan.args.all {
            let stop = self.stop.clone();
            let me = std::process::id();
            self.rescope_thread = Some(
                std::thread::Builder::new()
                    .name("scope".into())
                    .spawn(move || scope::follow_new_stack_processes(&tracked, seeds, me, &stop))
                    .context("starting the scope thread")?,
            );
        }
        if !plan.args.quiet && std::io::stderr().is_terminal() {
            self.status_task = Some(tokio::spawn(status::status_line(
                self.name.clone(),
                self.path.clone(),
                self.stats.clone(),
            )));
        }
        self.docker = Some(
            docker::start(
                plan.docker.take(),
                tx.clone(),
                plan.info.clock_offset_nanos,
                plan.args.sample_interval,
            )
            .await,
        );
        if let Some(cri) = plan.cri.take() {
            self.cri = Some(
                cri.start(
                    tx,
                    plan.info.clock_offset_nanos,
                    plan.info.start_ts_nanos,
                    plan.args.sample_interval,
                )
                .await,
            );
        }
        Ok(())
    }

    /// Phase 3: the Docker actions, then the command (with --run the command is the
    /// container's), until it ends (plus --grace), a signal, --duration, or the session
    /// thread stopping. Returns the exit code to exit with (the command's, when there is
    /// one).
    pub async fn run(&mut self, plan: &mut Plan) -> Result<i32> {
        let Plan {
            args,
            sigint,
            sigterm,
            ..
        } = plan;
        let args = &*args;
        let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
        let sleep_until = |d: Option<tokio::time::Instant>| async move {
            match d {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let done = self.session_done.clone();
        let watch_session = async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let work = self.work(args);
        let mut exit_code = 0;
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
            () = watch_session => {}
        }
        Ok(exit_code)
    }

    /// What the recording waits for: the Docker actions and the command. `None` when there
    /// is neither (then it waits for a signal or the clock).
    async fn work(&self, args: &RecordArgs) -> Result<Option<i32>> {
        let mut code = None;
        if let (Some(actions), Some(docker)) = (&self.actions, &self.docker) {
            code = Some(actions.perform(docker, &args.command).await?);
        }
        if let Some(pod) = self.cri.as_ref().map(CriSide::perform) {
            code = pod.await.transpose()?.or(code);
        }
        if !args.command.is_empty() && args.run.is_none() {
            let run_as = if args.as_user {
                ownership::sudo_owner()
            } else {
                None
            };
            let (mut child, gate) = gate::spawn(&args.command, run_as)?;
            let pid = child
                .id()
                .ok_or_else(|| anyhow!("the command exited at once"))?;
            self.tracked
                .as_ref()
                .context("the tracked-process map")?
                .lock()
                .map_err(|_| anyhow!("the tracked-process map is poisoned"))?
                .insert(pid, 1, 0)
                .context("tracking the command")?;
            self.tx
                .as_ref()
                .context("the session channel")?
                .send(SessionMsg::Command { pid })?;
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
            Some(c) => Ok(Some(c)),
            None => std::future::pending().await,
        }
    }

    /// Phase 4, always: removes what the recording created in the daemon (unless --keep),
    /// stops the daemon side, the probes and the threads, and finishes the session file.
    pub async fn teardown(mut self) -> Result<Ended> {
        if let (Some(actions), Some(docker)) = (&self.actions, &self.docker)
            && !self.keep
        {
            actions.cleanup(docker).await;
        }
        if let Some(c) = &self.cri
            && let Err(e) = c.cleanup(self.keep).await
        {
            eprintln!("beefine-record: removing the pod: {e:#}");
        }
        if let Some(t) = self.status_task.take() {
            t.abort();
            status::clear_line();
        }
        let end_ts_nanos = boot_nanos();
        if let Some(d) = self.docker.take() {
            d.stop().await;
        }
        if let Some(c) = self.cri.take() {
            c.stop().await;
        }
        self.stop.store(true, Ordering::Relaxed);
        let mut failures: Vec<anyhow::Error> = Vec::new();
        if let Some(t) = self.capture_thread.take() {
            match t.join() {
                Ok(Ok(ebpf)) => drop(ebpf),
                Ok(Err(e)) => failures.push(e.context("capturing")),
                Err(_) => failures.push(anyhow!("the capture thread panicked")),
            }
        }
        probes::join_custom(std::mem::take(&mut self.custom_threads));
        if let Some(t) = self.rescope_thread.take() {
            let _ = t.join();
        }
        drop(self.tracked.take());
        let cpu = crate::stats::own_cpu();
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(SessionMsg::Meta {
                key: "recorder_cpu_user_nanos",
                value: cpu.user_nanos.to_string(),
            });
            let _ = tx.send(SessionMsg::Meta {
                key: "recorder_cpu_sys_nanos",
                value: cpu.sys_nanos.to_string(),
            });
            let _ = tx.send(SessionMsg::Finish { end_ts_nanos });
        }
        let summary = self
            .session_thread
            .take()
            .context("the session thread")?
            .join()
            .map_err(|_| anyhow!("the session thread panicked"))?
            .with_context(|| {
                format!(
                    "recording into {} stopped (what was committed stays readable)",
                    self.path.display()
                )
            })?;
        if let Some(e) = failures.pop() {
            return Err(e);
        }
        Ok(Ended {
            summary,
            stats: self.stats.clone(),
            cpu,
            duration: self.started.elapsed(),
            end_ts_nanos,
        })
    }
}

/// Records; returns the exit code to exit with (the command's, when there is one).
pub async fn record(args: RecordArgs) -> Result<i32> {
    if args.cleanup {
        return cleanup_only().await;
    }
    let mut plan = Plan::new(args).await?;
    let mut recording = Recording::start(&mut plan).await?;
    let run = recording.run(&mut plan).await;
    let ended = recording.teardown().await;
    // A failure of the work is reported first; the file was finished all the same.
    let code = run?;
    let ended = ended?;
    eprint!(
        "{}",
        status::summary(
            &plan.path,
            ended.duration,
            beefine_schema::format::session_span(
                plan.info.start_ts_nanos,
                Some(ended.end_ts_nanos),
                ended.summary.events_span
            ),
            &ended.summary,
            &ended.stats,
            ended.cpu
        )
    );
    Ok(code)
}

/// `beefine-record --cleanup`: removes the containers killed recorders left, and stops.
async fn cleanup_only() -> Result<i32> {
    let docker = docker::connect_early()
        .await
        .context("--cleanup needs the Docker daemon")?;
    let removed = docker::cleanup_left_containers(&docker, true).await?;
    if removed.is_empty() {
        eprintln!("beefine-record: no container left by a recording");
    }
    for (id, session) in removed {
        eprintln!("beefine-record: removed container {id} of recording {session}");
    }
    Ok(0)
}
