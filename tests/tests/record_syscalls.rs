//! The calls newer container runtimes make (runc 1.2+, crun, systemd) recorded with their
//! arguments: the new mount API, execveat, chdir and fchdir, umask, sethostname, the
//! credentials, clone3 into a cgroup and with set_tid. `fixtures/syscalls/newmount.c` makes
//! each once with known arguments in a private mount namespace and prints what it got (fds,
//! pids, ids, namespaces); every call must be in the session, decoded to those values.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use beefine_schema::{Event, EventData};
use beefine_tests::{require_root, workspace_root};
use support::{Scratch, events, record};

const AT_FDCWD: i32 = -100;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_RECURSIVE: u32 = 0x8000;
const O_CLOEXEC: u32 = 0o2_000_000;
const OPEN_TREE_CLONE: u32 = 1;
const FSOPEN_CLOEXEC: u32 = 1;
const FSPICK_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;
const MOUNT_ATTR_RDONLY: u64 = 1;
const MOUNT_ATTR_NODEV: u32 = 4;
const MS_PRIVATE: u64 = 1 << 18;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSCONFIG_CMD_RECONFIGURE: u32 = 7;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const SIGCHLD: u32 = 17;
const ENOENT: i64 = 2;

#[test]
fn records_the_calls_of_newer_runtimes_with_their_arguments() {
    require_root();
    let scratch = Scratch::new("syscalls");
    let program = build_fixture(&scratch.dir);
    let mnt = scratch.dir.join("mnt");
    std::fs::create_dir(&mnt).expect("creating the mount directory");
    let cgroup =
        CgroupDir(cgroup2_mount().join(format!("beefine-test-newmount-{}", std::process::id())));
    let out = record(
        &scratch,
        "newmount",
        &["--grace", "0"],
        &[
            program.to_str().unwrap(),
            mnt.to_str().unwrap(),
            cgroup.0.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "newmount failed ({}): {}{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let got = Printed::parse(&stdout);
    let (session, events) = events(&scratch.session("newmount"));
    assert_eq!(session.lost_events().unwrap(), 0, "no events lost");

    let pid = got.num("pid") as u32;
    let of =
        |tgid: u32| -> Vec<&Event> { events.iter().filter(|e| e.header.tgid == tgid).collect() };
    let main = of(pid);
    let mut missing = Vec::new();
    let mut check = |what: String, found: bool| {
        if !found {
            missing.push(what);
        }
    };
    let a = mnt.join("a").display().to_string();
    let b = mnt.join("b").display().to_string();

    mount_api(&main, &got, &a, &b, &mut check);
    working_directory(&main, &got, &a, &mnt, &mut check);
    identity(&main, &got, &mut check);
    execveat(&of, &main, &got, &mut check);
    clone3(&of, &main, &got, &cgroup, &mut check);
    namespaces(&main, &got, &mut check);

    assert!(
        missing.is_empty(),
        "not in the session with these arguments:\n  {}\nthe program printed:\n{stdout}",
        missing.join("\n  ")
    );
}

type Check<'a> = dyn FnMut(String, bool) + 'a;

fn any(events: &[&Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(|e| f(e))
}

/// fsopen → fsconfig → fsmount → move_mount; open_tree + move_mount; fspick + fsconfig;
/// mount_setattr.
fn mount_api(main: &[&Event], got: &Printed, a: &str, b: &str, check: &mut Check<'_>) {
    let fs = got.num("fsopen_fd");
    let mnt = got.num("fsmount_fd");
    let tree = got.num("open_tree_fd");
    let pick = got.num("fspick_fd");
    check(
        format!("fsopen(\"tmpfs\", FSOPEN_CLOEXEC) = {fs}"),
        any(main, |e| {
            matches!(&e.data, EventData::Fsopen(x) if &*x.fstype == "tmpfs" && x.flags == FSOPEN_CLOEXEC)
                && e.result == Some(fs)
        }),
    );
    let fsconfig = |fd: i64, cmd: u32, key: &'static str, value: &'static str| {
        move |e: &Event| {
            matches!(&e.data, EventData::Fsconfig(x)
                if i64::from(x.fd) == fd && x.cmd == cmd && &*x.key == key && &*x.value == value && x.aux == 0)
                && e.result == Some(0)
        }
    };
    for (fd, cmd, key, value) in [
        (fs, FSCONFIG_SET_STRING, "size", "1m"),
        (fs, FSCONFIG_CMD_CREATE, "", ""),
        (pick, FSCONFIG_SET_STRING, "size", "2m"),
        (pick, FSCONFIG_CMD_RECONFIGURE, "", ""),
    ] {
        check(
            format!("fsconfig({fd}, {cmd}, {key:?}, {value:?}, 0) = 0"),
            any(main, fsconfig(fd, cmd, key, value)),
        );
    }
    check(
        format!("fsmount({fs}, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV) = {mnt}"),
        any(main, |e| {
            matches!(&e.data, EventData::Fsmount(x)
                if i64::from(x.fs_fd) == fs && x.flags == FSMOUNT_CLOEXEC && x.attr_flags == MOUNT_ATTR_NODEV)
                && e.result == Some(mnt)
        }),
    );
    for (from, to) in [(mnt, a), (tree, b)] {
        check(
            format!("move_mount({from}, \"\", AT_FDCWD, {to:?}, MOVE_MOUNT_F_EMPTY_PATH) = 0"),
            any(main, |e| {
                matches!(&e.data, EventData::MoveMount(x)
                    if i64::from(x.from_dirfd) == from && x.from_path.is_empty()
                        && x.to_dirfd == AT_FDCWD && &*x.to_path == to
                        && x.flags == MOVE_MOUNT_F_EMPTY_PATH)
                    && e.result == Some(0)
            }),
        );
    }
    check(
        format!("open_tree(AT_FDCWD, {a:?}, OPEN_TREE_CLONE | O_CLOEXEC) = {tree}"),
        any(main, |e| {
            matches!(&e.data, EventData::OpenTree(x)
                if x.dirfd == AT_FDCWD && &*x.path == a && x.flags == OPEN_TREE_CLONE | O_CLOEXEC)
                && e.result == Some(tree)
        }),
    );
    check(
        format!("fspick(AT_FDCWD, {a:?}, FSPICK_CLOEXEC) = {pick}"),
        any(main, |e| {
            matches!(&e.data, EventData::Fspick(x)
                if x.dirfd == AT_FDCWD && &*x.path == a && x.flags == FSPICK_CLOEXEC)
                && e.result == Some(pick)
        }),
    );
    check(
        format!(
            "mount_setattr(AT_FDCWD, {b:?}, AT_RECURSIVE, {{RDONLY, propagation MS_PRIVATE}}) = 0"
        ),
        any(main, |e| {
            matches!(&e.data, EventData::MountSetattr(x)
                if x.dirfd == AT_FDCWD && &*x.path == b && x.flags == AT_RECURSIVE
                    && x.attr_set == MOUNT_ATTR_RDONLY && x.attr_clr == 0
                    && x.propagation == MS_PRIVATE && x.userns_fd == 0)
                && e.result == Some(0)
        }),
    );
}

/// chdir by path, fchdir by an fd whose path the recorder knows from its open, umask.
fn working_directory(main: &[&Event], got: &Printed, a: &str, dir: &Path, check: &mut Check<'_>) {
    check(
        format!("chdir({a:?}) = 0"),
        any(main, |e| {
            matches!(&e.data, EventData::Chdir(x) if &*x.path == a) && e.result == Some(0)
        }),
    );
    let fd = got.num("dir_fd");
    let dir = dir.display().to_string();
    check(
        format!("fchdir({fd}) = 0, named {dir:?}"),
        any(main, |e| {
            matches!(&e.data, EventData::Fchdir(x)
                if i64::from(x.fd) == fd && x.path.as_deref() == Some(dir.as_str()))
                && e.result == Some(0)
        }),
    );
    let previous = got.num("umask_previous");
    check(
        format!("umask(0027) = {previous:#o}"),
        any(main, |e| {
            matches!(&e.data, EventData::Umask(x) if x.mask == 0o027) && e.result == Some(previous)
        }),
    );
}

/// sethostname, setgroups (the same groups, then 70 of which 64 are kept), setgid, setuid.
fn identity(main: &[&Event], got: &Printed, check: &mut Check<'_>) {
    check(
        "sethostname(\"beefine-uts\", 11) = 0".into(),
        any(main, |e| {
            matches!(&e.data, EventData::Sethostname(x) if &*x.name == "beefine-uts")
                && e.result == Some(0)
        }),
    );
    let same: Vec<u32> = got
        .text("groups")
        .split(',')
        .filter(|g| !g.is_empty())
        .map(|g| g.parse().expect("a gid"))
        .collect();
    let seventy: Vec<u32> = (1000..1064).collect();
    for (size, gids) in [(same.len() as u32, same.clone()), (70, seventy)] {
        check(
            format!("setgroups({size}, {gids:?}…) = 0"),
            any(main, |e| {
                matches!(&e.data, EventData::Setgroups(x) if x.size == size && x.gids == gids)
                    && e.result == Some(0)
            }),
        );
    }
    let gid = got.num("gid") as u32;
    let uid = got.num("uid") as u32;
    check(
        format!("setgid({gid}) = 0"),
        any(main, |e| {
            matches!(&e.data, EventData::Setgid(x) if x.gid == gid) && e.result == Some(0)
        }),
    );
    check(
        format!("setuid({uid}) = 0"),
        any(main, |e| {
            matches!(&e.data, EventData::Setuid(x) if x.uid == uid) && e.result == Some(0)
        }),
    );
}

/// Two that ran a program (relative to /bin's fd; the program's own fd with AT_EMPTY_PATH),
/// each followed by its exec, and one that failed.
fn execveat<'a>(
    of: &dyn Fn(u32) -> Vec<&'a Event>,
    main: &[&Event],
    got: &Printed,
    check: &mut Check<'_>,
) {
    let bin = got.num("bin_fd");
    let own = got.num("true_fd");
    for (pid, dirfd, path, flags, exe) in [
        (
            got.num("execveat_pid"),
            bin,
            "true",
            0,
            format!("/dev/fd/{bin}/true"),
        ),
        (
            got.num("execveat_empty_pid"),
            own,
            "",
            AT_EMPTY_PATH,
            format!("/dev/fd/{own}"),
        ),
    ] {
        let child = of(pid as u32);
        let call = child.iter().position(|e| {
            matches!(&e.data, EventData::Execveat(x)
                if i64::from(x.dirfd) == dirfd && &*x.path == path && x.flags == flags)
                && e.result == Some(0)
        });
        let exec = child.iter().position(
            |e| matches!(&e.data, EventData::Exec(x) if *x.filename == *exe && x.argv.iter().map(|a| &**a).eq(["true"])),
        );
        check(
            format!("execveat({dirfd}, {path:?}, [\"true\"], …, {flags:#x}) = 0 in {pid}"),
            call.is_some(),
        );
        check(
            format!("the exec of {exe} after it"),
            matches!((call, exec), (Some(c), Some(x)) if c < x),
        );
    }
    check(
        format!("execveat({bin}, \"no-such-program\", …, 0) = -ENOENT"),
        any(main, |e| {
            matches!(&e.data, EventData::Execveat(x)
                if i64::from(x.dirfd) == bin && &*x.path == "no-such-program" && x.flags == 0)
                && e.result == Some(-ENOENT)
        }),
    );
}

/// clone3 into the cgroup the program made (named by the recorder), and into a new pid
/// namespace as its pid 1; each child is where it was asked to be.
fn clone3<'a>(
    of: &dyn Fn(u32) -> Vec<&'a Event>,
    main: &[&Event],
    got: &Printed,
    cgroup: &CgroupDir,
    check: &mut Check<'_>,
) {
    let fd = got.num("cgroup_fd") as i32;
    let id = got.num("cgroup_ino") as u64;
    let child = got.num("clone3_cgroup_pid");
    let name = format!("/{}", cgroup.0.file_name().unwrap().to_string_lossy());
    check(
        format!(
            "clone3({{CLONE_INTO_CGROUP, SIGCHLD, cgroup fd {fd} = id {id} = {name}}}) = {child}"
        ),
        any(main, |e| {
            matches!(&e.data, EventData::Clone3(x)
                if x.flags == CLONE_INTO_CGROUP && x.exit_signal == SIGCHLD && x.cgroup_fd == fd
                    && x.target_cgroup_id == id && x.target_cgroup.as_deref() == Some(name.as_str())
                    && x.set_tid.is_empty())
                && e.result == Some(child)
        }),
    );
    check(
        format!("the child {child} ran in cgroup {id}"),
        of(child as u32)
            .iter()
            .any(|e| matches!(e.data, EventData::Exit(_)) && e.header.cgroup_id == id),
    );
    let child = got.num("clone3_set_tid_pid");
    check(
        format!("clone3({{CLONE_NEWPID, SIGCHLD, set_tid [1]}}) = {child}"),
        any(main, |e| {
            matches!(&e.data, EventData::Clone3(x)
                if x.flags == CLONE_NEWPID && x.exit_signal == SIGCHLD && x.cgroup_fd == -1
                    && x.target_cgroup_id == 0 && x.set_tid == [1])
                && e.result == Some(child)
        }),
    );
    let parent_pid_ns = main.first().map(|e| e.header.ns.pid_ns);
    check(
        format!("the child {child} ran in a new pid namespace"),
        of(child as u32).iter().any(|e| {
            matches!(e.data, EventData::Exit(_)) && Some(e.header.ns.pid_ns) != parent_pid_ns
        }),
    );
}

/// Every event header names all eight namespaces: after the unshare, the program's are the
/// ones it printed (a new mount and UTS namespace of its own).
fn namespaces(main: &[&Event], got: &Printed, check: &mut Check<'_>) {
    let Some(e) = main
        .iter()
        .find(|e| matches!(e.data, EventData::Sethostname(_)))
    else {
        return;
    };
    for (name, inode) in e.header.ns.by_type() {
        let printed = got.num(&format!("ns_{name}")) as u32;
        check(
            format!("{name} namespace {printed} in the header (it has {inode})"),
            inode == printed,
        );
    }
    let host_uts = std::fs::metadata("/proc/self/ns/uts").unwrap().ino() as u32;
    check(
        "a UTS namespace other than the host's".into(),
        e.header.ns.uts_ns != host_uts,
    );
}

/// The `name=value` lines the program printed.
struct Printed(BTreeMap<String, String>);

impl Printed {
    fn parse(stdout: &str) -> Self {
        Self(
            stdout
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[track_caller]
    fn text(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("newmount printed no {name}= line"))
    }

    #[track_caller]
    fn num(&self, name: &str) -> i64 {
        let v = self.text(name);
        v.parse()
            .unwrap_or_else(|_| panic!("newmount printed {name}={v}, not a number"))
    }
}

/// Compiles fixtures/syscalls/newmount.c with the C compiler into `dir`.
fn build_fixture(dir: &Path) -> PathBuf {
    let source = workspace_root().join("fixtures/syscalls/newmount.c");
    let program = dir.join("newmount");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("running the C compiler `{cc}` ({e}): install gcc"));
    assert!(status.success(), "compiling {} failed", source.display());
    program
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup/unified` beside v1
/// controllers, `/sys/fs/cgroup` on a pure v2 host).
fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("reading mountinfo");
    info.lines()
        .find_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mount_point = pre.split_whitespace().nth(4)?;
            (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .expect("no cgroup v2 hierarchy is mounted: clone3's CLONE_INTO_CGROUP needs one")
}

/// A cgroup directory the program creates, removed when the test ends.
struct CgroupDir(PathBuf);

impl Drop for CgroupDir {
    fn drop(&mut self) {
        // A cgroup whose last process just exited may be busy for a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.0.exists() && std::fs::remove_dir(&self.0).is_err() && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
