//! Command-line interface of `beefine-record`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  # Record a pull, from the docker CLI to the layers on disk
  sudo beefine-record --session pull-nginx -- docker pull localhost:5000/nginx:1

  # Let the recorder pull, run, fetch a page and clean up by itself
  sudo beefine-record --session web --pull localhost:5000/nginx:1 \\
      --run localhost:5000/nginx:1 --publish 127.0.0.1:18080:80 --fetch http://127.0.0.1:18080/

  # The same image with the host's network, to compare with the default
  sudo beefine-record --session host-net --run localhost:5000/busybox:1 --network host -- echo hi
  beefine-view diff default.beefine host-net.beefine

  # Run a Kubernetes pod through a node's CRI runtime, as the kubelet would
  sudo beefine-record --session pod-web --cri unix:///run/beefine/cri/containerd.sock \
      --pod fixtures/pods/web.yaml

  # Record the container stack for 30 s while you work in another terminal
  sudo beefine-record --session everything --duration 30s

  # Record any command, container or not, with your own probe beside the built-in ones
  sudo beefine-record --session mine --probe ./myprobe.bpf.o -- make test

  # Run the command as yourself (only the recording runs as root)
  sudo beefine-record --session build --as-user -- make

  # Remove containers that killed recordings left behind
  sudo beefine-record --cleanup

  # Then open the session (no root needed)
  beefine-view web.beefine";

/// Records what the kernel and the container runtime (Docker, or a Kubernetes node's CRI)
/// do for containers into a session file.
#[derive(Debug, Parser)]
#[command(name = "beefine-record", version, about, after_help = EXAMPLES)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write, build and inspect eBPF probes of your own.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// (internal) Waits until the recorder tracks this process, then runs the command.
    #[command(name = "__gate", hide = true)]
    Gate {
        /// Run the command as this user (uid:gid), not as root.
        #[arg(long, value_name = "UID:GID")]
        as_user: Option<String>,
        socket: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// Write a ready-to-build probe skeleton NAME.bpf.c (with a README).
    New {
        name: String,
        /// Directory to write into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Compile a probe with clang into NAME.bpf.o.
    Build { source: PathBuf },
    /// List the BPF helper functions this kernel accepts for a program type.
    Helpers {
        /// Program type: tracepoint, raw_tracepoint, xdp, perf_event, socket_filter, …
        #[arg(long = "type", default_value = "tracepoint")]
        prog_type: String,
    },
    /// List the built-in probes and where they attach.
    List,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("starts").args(["run", "pod"]).multiple(false)))]
pub struct RecordArgs {
    /// Name of the session; the file is DIR/NAME.beefine.
    #[arg(long, value_name = "NAME", required_unless_present = "cleanup")]
    pub session: Option<String>,
    /// Directory for the session file.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Overwrite an existing session file.
    #[arg(long)]
    pub force: bool,
    /// Record every process on the machine, not only the container stack.
    #[arg(long)]
    pub all: bool,
    /// Interface for packet summaries (repeatable; a tc classifier on its ingress, which
    /// other recordings can share). Default: lo and docker0.
    #[arg(long = "iface", value_name = "IF")]
    pub ifaces: Vec<String>,
    /// Record no packets.
    #[arg(long, conflicts_with = "ifaces")]
    pub no_packets: bool,
    /// Stop after this long (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub duration: Option<Duration>,
    /// Keep recording this long after the command exits.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "D")]
    pub grace: Duration,
    /// Interval of container resource samples while a container runs (it is sampled at its
    /// start and before its stop too).
    #[arg(long, value_parser = parse_duration, default_value = "100ms", value_name = "D")]
    pub sample_interval: Duration,
    /// Pull this image through the Docker API while recording (then run the command after --,
    /// if any).
    #[arg(long, value_name = "IMAGE")]
    pub pull: Option<String>,
    /// Create and start a container of this image while recording (the command after -- is
    /// its command).
    #[arg(long, value_name = "IMAGE")]
    pub run: Option<String>,
    /// Publish a port of the --run container: [IP:]HOST:CONTAINER (repeatable; the IP is
    /// 127.0.0.1 unless given).
    #[arg(long, value_name = "SPEC", requires = "run")]
    pub publish: Vec<String>,
    /// After the --run container started, fetch this loopback URL, then stop the container
    /// (after --linger). With --pod, the URL is fetched inside the pod, on its loopback.
    #[arg(long, value_name = "URL", requires = "starts")]
    pub fetch: Option<String>,
    /// How long the --run container (or the --pod) keeps running after --fetch, so its
    /// resource samples show it serving; with --pod, also after a container exited.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "D")]
    pub linger: Duration,
    /// Follow a Kubernetes node's CRI runtime at this socket (unix:///PATH): its pods and
    /// containers, whoever drives it (a kubelet, or --pod).
    #[arg(long, value_name = "ENDPOINT")]
    pub cri: Option<String>,
    /// Run this Pod manifest through --cri as the kubelet would (sandbox, image pulls, each
    /// container), wait until a container exits (or --fetch), then stop and remove the pod.
    /// The command after -- runs once the pod ran, while it is still up.
    #[arg(long, value_name = "POD.yaml", requires = "cri")]
    pub pod: Option<PathBuf>,
    /// Keep the containers, networks and images the recorder created.
    #[arg(long)]
    pub keep: bool,
    /// Remove the containers that recordings killed before they could clean up left behind
    /// (labelled io.beefine.session), then exit. Every recording also removes those of
    /// recorders that are gone when it starts.
    #[arg(long, exclusive = true)]
    pub cleanup: bool,
    /// Run the command after -- as the user who ran sudo instead of as root (the recording
    /// itself needs root; the command may not).
    #[arg(long)]
    pub as_user: bool,
    /// Load this eBPF object beside the built-in probes (repeatable).
    #[arg(long = "probe", value_name = "PATH.bpf.o")]
    pub probes: Vec<PathBuf>,
    /// Size of the kernel ring buffer, MiB (a power of two).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub ring_mib: u32,
    /// No status line.
    #[arg(long, short)]
    pub quiet: bool,
    /// How the --run container is isolated (docker run's options of the same names).
    #[command(flatten)]
    pub isolation: Isolation,
    /// The command to run and record (recording ends when it exits).
    #[arg(last = true, value_name = "CMD", help_heading = "Arguments")]
    pub command: Vec<String>,
}

/// The isolation of the `--run` container, as `docker run` names it: record the same
/// image with and without one and compare the sessions (`beefine-view diff`).
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Isolation of the --run container (as docker run's options)")]
pub struct Isolation {
    /// Its network: `host` (the host's network namespace: no new one, no veth pair),
    /// `none` (a namespace with loopback only) or `bridge` (the default).
    #[arg(long, value_name = "MODE", requires = "run", value_parser = ["host", "none", "bridge"])]
    pub network: Option<String>,
    /// `host`: the host's pid namespace (it sees every process; no new pid namespace).
    #[arg(long, value_name = "host", requires = "run", value_parser = ["host"])]
    pub pid: Option<String>,
    /// `host`: the host's IPC namespace; `private`, `shareable` or `none` otherwise.
    #[arg(long, value_name = "MODE", requires = "run", value_parser = ["host", "private", "shareable", "none"])]
    pub ipc: Option<String>,
    /// `host`: the host's UTS namespace (its hostname).
    #[arg(long, value_name = "host", requires = "run", value_parser = ["host"])]
    pub uts: Option<String>,
    /// Memory limit of its cgroup (64m, 1g).
    #[arg(long, value_name = "SIZE", requires = "run", value_parser = crate::docker::parse_bytes)]
    pub memory: Option<i64>,
    /// CPU limit of its cgroup, in CPUs (0.5).
    #[arg(long, value_name = "N", requires = "run", value_parser = crate::docker::parse_cpus)]
    pub cpus: Option<f64>,
    /// Most processes its cgroup may hold (-1: unlimited).
    #[arg(
        long,
        value_name = "N",
        requires = "run",
        allow_negative_numbers = true
    )]
    pub pids_limit: Option<i64>,
    /// Mount its root filesystem read-only.
    #[arg(long, requires = "run")]
    pub read_only: bool,
    /// Capabilities to drop (NET_RAW, ALL; repeatable or comma-separated).
    #[arg(long, value_name = "CAP", requires = "run")]
    pub cap_drop: Vec<String>,
    /// Capabilities to add (SYS_ADMIN; repeatable or comma-separated).
    #[arg(long, value_name = "CAP", requires = "run")]
    pub cap_add: Vec<String>,
    /// seccomp=unconfined (no syscall filter), seccomp=PROFILE.json, apparmor=PROFILE,
    /// label=…, no-new-privileges (repeatable).
    #[arg(long, value_name = "OPT", requires = "run")]
    pub security_opt: Vec<String>,
    /// Every capability, every device, no seccomp filter or masked paths.
    #[arg(long, requires = "run")]
    pub privileged: bool,
    /// The user (and group) its process runs as: NAME, UID or UID:GID.
    #[arg(long, value_name = "USER", requires = "run")]
    pub user: Option<String>,
}

/// `250ms`, `2s`, `1.5s`, `3m`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s or 250ms"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m or h)"
            ));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn isolation_options_of_the_run_container() {
        let parse = |extra: &[&str]| {
            let mut a = vec!["beefine-record", "--session", "s"];
            a.extend_from_slice(extra);
            Cli::try_parse_from(a)
        };
        let cli = parse(&[
            "--run",
            "img",
            "--network",
            "host",
            "--pid",
            "host",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "-1",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_BIND_SERVICE",
            "--security-opt",
            "seccomp=unconfined",
            "--user",
            "1000",
            "--",
            "echo",
            "hi",
        ])
        .unwrap();
        let iso = &cli.record.isolation;
        assert_eq!(iso.network.as_deref(), Some("host"));
        assert_eq!(iso.memory, Some(64 << 20));
        assert_eq!(iso.pids_limit, Some(-1));
        assert!(iso.read_only);
        assert_eq!(cli.record.command, ["echo", "hi"]);
        assert!(parse(&["--network", "host"]).is_err(), "only for --run");
        assert!(parse(&["--run", "img", "--network", "wifi"]).is_err());
        assert!(parse(&["--run", "img", "--memory", "lots"]).is_err());
        assert!(parse(&["--run", "img", "--privileged"]).is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5parsecs").is_err());
    }

    #[test]
    fn command_after_double_dash() {
        let cli = Cli::try_parse_from([
            "beefine-record",
            "--session",
            "s",
            "--",
            "docker",
            "run",
            "-it",
            "x",
        ])
        .unwrap();
        assert_eq!(cli.record.command, ["docker", "run", "-it", "x"]);
        assert_eq!(cli.record.session.as_deref(), Some("s"));
        let probe = Cli::try_parse_from(["beefine-record", "probe", "list"]).unwrap();
        assert!(matches!(
            probe.command,
            Some(Command::Probe(ProbeCommand::List))
        ));
        assert!(
            Cli::try_parse_from(["beefine-record"]).is_err(),
            "--session is required"
        );
        let pod = |extra: &[&str]| {
            let mut a = vec!["beefine-record", "--session", "s"];
            a.extend_from_slice(extra);
            Cli::try_parse_from(a)
        };
        let cri = "unix:///run/beefine/cri/containerd.sock";
        assert!(
            pod(&[
                "--cri",
                cri,
                "--pod",
                "p.yaml",
                "--fetch",
                "http://127.0.0.1:1/"
            ])
            .is_ok()
        );
        assert!(pod(&["--pod", "p.yaml"]).is_err(), "--pod needs --cri");
        assert!(
            pod(&["--fetch", "http://127.0.0.1:1/"]).is_err(),
            "--fetch needs a workload"
        );
        assert!(pod(&["--cri", cri, "--pod", "p.yaml", "--run", "x"]).is_err());
        assert!(pod(&["--cri", cri]).is_ok(), "following a kubelet's node");
        let cleanup = Cli::try_parse_from(["beefine-record", "--cleanup"]).unwrap();
        assert!(cleanup.record.cleanup && cleanup.record.session.is_none());
        assert!(Cli::try_parse_from(["beefine-record", "--cleanup", "--session", "s"]).is_err());
        let as_user =
            Cli::try_parse_from(["beefine-record", "--session", "s", "--as-user", "--", "id"])
                .unwrap();
        assert!(as_user.record.as_user);
    }
}
