//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  beefine-view                               open the bundled example session
  beefine-view pull-nginx.beefine            open a session (also one still being recorded)
  beefine-view info pull-nginx.beefine       summary: status, duration, kinds, containers, pods
  beefine-view recover run.beefine           fold back what a killed recorder left beside it
  beefine-view export run.beefine --format jsonl -o run.jsonl
  beefine-view export run.beefine --format jsonl | jq -c 'select(.kind == \"mount\")'
  beefine-view export run.beefine --format perfetto -o run.pftrace   (open in ui.perfetto.dev)
  beefine-view export run.beefine --format pcapng -o run.pcapng && tshark -r run.pcapng
  beefine-view redact run.beefine shareable.beefine
  beefine-view chapters pull-nginx.beefine    the story: chapters as JSON lines
  beefine-view state pull-nginx.beefine --at 1.0   a container's namespaces, mounts, lineage
  beefine-view diff run.beefine run-host-net.beefine   what an isolation option changes
  beefine-view run.beefine --compare run-host-net.beefine   the two side by side
  beefine-view run.beefine --kinds mount,umount,pivot_root --at 3.2
  xvfb-run -a -s '-screen 0 1600x900x24' beefine-view --screenshot out.png run.beefine";

/// Replays a Beefine session: what the kernel and the Docker daemon did while containers
/// were pulled, created and run.
///
/// Without a subcommand it opens a window with a timeline, an event table, filters,
/// step-through, container details and resource charts. `info` and `export` need no display.
#[derive(Debug, Parser)]
#[command(
    name = "beefine-view",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Session file to open (default: the bundled example session)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Render the window for FILE, save it as a PNG and exit (works under Xvfb)
    #[arg(long, value_name = "OUT.png")]
    pub screenshot: Option<PathBuf>,

    /// Put the cursor at this time (seconds from the start of the session)
    #[arg(long, value_name = "SECONDS")]
    pub at: Option<f64>,

    /// Show only these kinds (comma-separated names, as in `export`: mount,setns,…)
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,

    /// Open a second session beside FILE: their chapters aligned, what differs
    #[arg(long, value_name = "OTHER")]
    pub compare: Option<PathBuf>,

    /// Window size in points, as WIDTHxHEIGHT
    #[arg(long, value_name = "WxH", default_value = "1600x900", value_parser = parse_size)]
    pub size: (f32, f32),
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a summary of a session: status, duration, events by kind, containers, pods, losses,
    /// file size and bytes per event
    #[command(after_help = "Example:\n  beefine-view info pull-nginx.beefine")]
    Info {
        /// Session file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write every event with all its decoded fields, in time order (JSON Lines), or the
    /// session as a Perfetto trace or its packets as a pcapng capture
    ///
    /// JSON Lines: one object per event with ts_nanos, kind, pid, tgid, comm, cgroup_id,
    /// pid_ns, mnt_ns, net_ns, container_id and container_name (when the event belongs to a
    /// container of the session), result and errno (when there is one), then the fields of
    /// its kind: numbers under their kernel name, decoded names beside them with a _name or
    /// _names suffix (clone flags 0x6c020000 → flags_names ["CLONE_NEWNS", …]). viewer/EXPORT.md
    /// lists every field of every kind.
    ///
    /// Perfetto (--format perfetto): a protobuf trace for ui.perfetto.dev and the trace
    /// processor: a track per process and thread (syscalls as instants with their decoded
    /// arguments, the programs a process ran as slices), a track per container with its
    /// lifecycle, daemon events and resource counters. pcapng (--format pcapng): the packets
    /// the recorder saw, rebuilt from their summaries (headers and the first payload bytes)
    /// for Wireshark and tshark. viewer/EXPORT.md says what each holds and what is rebuilt.
    ///
    /// A damaged file is exported as far as it reads: each unreadable chunk is reported on
    /// stderr and the exit status is 3.
    #[command(after_help = "\
Examples:
  beefine-view export run.beefine --format jsonl -o run.jsonl
  beefine-view export run.beefine --format perfetto -o run.pftrace
  beefine-view export run.beefine --format pcapng -o run.pcapng && tshark -r run.pcapng
  beefine-view export run.beefine --format jsonl | jq -c 'select(.kind == \"unshare\") | .flags_names'
  beefine-view export run.beefine --format jsonl | jq -r 'select(.result < 0) | [.kind, .path, .errno] | @tsv'

Exit status: 0 when everything was exported, 1 when the file cannot be read, 3 when parts
of it are damaged (everything else was exported).")]
    Export {
        /// Session file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output format
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Fold back into a session what a recorder that died left beside it (its -wal and
    /// -lock), so that the file travels alone
    ///
    /// A recorder that is killed leaves the commits of its last moments in NAME.beefine-wal.
    /// Viewers read them from there (and fold them back themselves when they may write the
    /// file); `recover` does it explicitly and says what it did. It needs write access to
    /// the file and its folder, and refuses while a recorder is still writing.
    #[command(after_help = "Example:\n  beefine-view recover run.beefine\n\n\
Exit status: 0 when the file is self-contained afterwards, 1 when it cannot be recovered.")]
    Recover {
        /// Session file
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write a copy of a session that is safe to share, and say what was replaced
    ///
    /// Replaced: environment values, secrets on command lines and in text (the value after
    /// --password, --token and friends, *_TOKEN=, *_KEY=, *PASSWORD= values, URL passwords,
    /// Authorization headers), hostnames (the host's, containers' own, registry and URL
    /// hosts), IP and MAC addresses other than loopback (by stable made-up ones from
    /// reserved ranges), user names (home directories, --user, the image's user), packet
    /// payload bytes and raw records of user probes (zeroed). Each value found is replaced
    /// wherever else it appears too. The copy keeps every event with its kind, time,
    /// process, result and container: it tells the same story. The report (values replaced
    /// per category) is printed and stored in the copy's metadata (key `redaction`).
    #[command(after_help = "\
Examples:
  beefine-view redact run.beefine run-shareable.beefine
  beefine-view redact run.beefine run-shareable.beefine --keep addresses,payload
  sqlite3 run-shareable.beefine \"SELECT value FROM meta WHERE key = 'redaction'\"

Exit status: 0 when the copy was written, 1 when it was not (nothing is left behind).")]
    Redact {
        /// Session file to copy
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// The copy to write
        #[arg(value_name = "OUT")]
        output: PathBuf,
        /// Categories to keep as they are (comma-separated)
        #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT")]
        keep: Vec<Keep>,
        /// Replace OUT if it exists
        #[arg(long)]
        force: bool,
    },
    /// Print the chapters of the session's containers, one JSON object per line
    ///
    /// Fields: chapter (pull, sandbox, cni, unpack, rootfs, network, runtime, cgroups,
    /// namespaces, mounts, pivot_root, exec, running, join, stop, cleanup), title, ts_nanos, end_ts_nanos,
    /// container_id (null for an image pulled for no container), events, notice (two
    /// lines). The chapters the recorder stored are printed; sessions without them are
    /// derived from their events. viewer/STORY.md describes them.
    #[command(after_help = "\
Examples:
  beefine-view chapters pull-nginx.beefine
  beefine-view chapters pull-nginx.beefine | jq -r '[.chapter, .title] | @tsv'")]
    Chapters {
        /// Session file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Derive the chapters from the events even when the session stores them
        #[arg(long)]
        derive: bool,
    },
    /// Print the state of a container at a time, as one JSON document
    ///
    /// container_id, status, namespaces (type, inode, owner host/container/sandbox, pids),
    /// mounts (mount_point, source, fstype, options as the container's mountinfo shows
    /// them), overlay (lower layers with their numbers and digests, upper, work, merged),
    /// lineage (the process tree from dockerd to the entrypoint, with exits), cgroup and
    /// the latest resource sample. viewer/STORY.md describes every field.
    #[command(after_help = "\
Examples:
  beefine-view state pull-nginx.beefine --at 1.0
  beefine-view state run.beefine --at 2.5 --container 3330c3798d8a | jq '.mounts[].mount_point'")]
    State {
        /// Session file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The time, in seconds from the start of the session
        #[arg(long, value_name = "SECONDS")]
        at: f64,
        /// The container (full id, its start, or name); default: the one alive then
        #[arg(long, value_name = "ID")]
        container: Option<String>,
    },
    /// Compare two sessions of the same image: what one does that the other does not
    ///
    /// Prints the chapters of one container of each, aligned, with their durations; the
    /// calls only one of them makes, by kind, process role and name, decoded arguments and
    /// outcome (pids, ids, descriptors, times, inode numbers, container ids, random hex and
    /// temporary names left out, so that two runs of the same image differ little); the
    /// namespaces, mounts (as the container sees them while it runs) and runtime settings
    /// that differ; and headlines in words ("no CLONE_NEWNET"). The container of A is the
    /// first with chapters, B's the one of the same image (or give them). viewer/README.md
    /// describes the JSON form.
    #[command(after_help = "\
Examples:
  beefine-view diff run.beefine run-host-net.beefine
  beefine-view diff a.beefine b.beefine --format json | jq '.headlines'
  beefine-view diff a.beefine b.beefine --format json | jq -r '.calls.only_b[] | [.kind, .role, .args] | @tsv'

Exit status: 0 when the comparison was made (whether or not they differ), 1 when a file
cannot be read.")]
    Diff {
        /// The session compared with
        #[arg(value_name = "A")]
        a: PathBuf,
        /// The session compared
        #[arg(value_name = "B")]
        b: PathBuf,
        /// Output format
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// The container of A (full id, its start, or name)
        #[arg(long, value_name = "ID")]
        container_a: Option<String>,
        /// The container of B (full id, its start, or name)
        #[arg(long, value_name = "ID")]
        container_b: Option<String>,
        /// List every call only one side makes (the text lists 40 per side)
        #[arg(long)]
        all: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// For people
    Text,
    /// One JSON document
    Json,
}

/// What `redact --keep` can keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Keep {
    /// Values of environment variables
    Env,
    /// Secrets on command lines and in text (--password values, *_TOKEN=…, URL passwords)
    Secrets,
    /// The host's name, containers' hostnames, registry and URL hosts
    Hostnames,
    /// IP and MAC addresses other than loopback
    Addresses,
    /// User names (home directories, --user, the image's user)
    Users,
    /// Packet payload bytes
    Payload,
    /// Raw records of user-supplied probes
    ProbeRecords,
}

impl Keep {
    pub fn category(self) -> crate::redact::Category {
        use crate::redact::Category as C;
        match self {
            Self::Env => C::Env,
            Self::Secrets => C::Secrets,
            Self::Hostnames => C::Hostnames,
            Self::Addresses => C::Addresses,
            Self::Users => C::Users,
            Self::Payload => C::Payload,
            Self::ProbeRecords => C::ProbeRecords,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: one JSON object per event
    Jsonl,
    /// Perfetto's protobuf trace format (binary; open in ui.perfetto.dev)
    Perfetto,
    /// A pcapng capture of the recorded packets (binary; open in Wireshark)
    Pcapng,
}

impl ExportFormat {
    /// Whether the output is binary (refused on a terminal).
    pub fn is_binary(self) -> bool {
        !matches!(self, Self::Jsonl)
    }
}

fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT (for example 1600x900)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| (200.0..=10_000.0).contains(v))
            .ok_or_else(|| format!("{v:?} is not a size between 200 and 10000"))
    };
    Ok((parse(w)?, parse(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_documented_forms() {
        let cli = Cli::try_parse_from(["beefine-view", "a.beefine"]).unwrap();
        assert_eq!(cli.file.as_deref(), Some(std::path::Path::new("a.beefine")));
        let cli = Cli::try_parse_from(["beefine-view", "export", "a.beefine", "--format", "jsonl"])
            .unwrap();
        assert!(matches!(cli.command, Some(Command::Export { .. })));
        let cli =
            Cli::try_parse_from(["beefine-view", "--screenshot", "o.png", "a.beefine"]).unwrap();
        assert_eq!(cli.size, (1600.0, 900.0));
        assert!(Cli::try_parse_from(["beefine-view", "--size", "12", "a"]).is_err());
        let cli =
            Cli::try_parse_from(["beefine-view", "--kinds", "mount,setns", "--at", "1.5", "a"])
                .unwrap();
        assert_eq!(cli.kinds.unwrap(), ["mount", "setns"]);
        assert_eq!(cli.at, Some(1.5));
    }
}
