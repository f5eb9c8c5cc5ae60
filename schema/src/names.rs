//! Names for the numbers in events: flags, errno values, states, families (the tables field
//! descriptions refer to).
//!
//! Linux x86-64 values; the session records raw numbers and these tables make them readable
//! anywhere (the viewer runs on macOS and Windows too, where libc has other values).

/// Joins the names of the set bits of `value`; unknown bits are shown in hex.
pub fn flag_names(value: u64, table: &[(u64, &str)]) -> String {
    let mut rest = value;
    let mut parts = Vec::new();
    for &(bit, name) in table {
        if bit != 0 && value & bit == bit && rest & bit != 0 {
            parts.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

/// `CLONE_*` flags (also `unshare` flags and `setns` nstype bits).
pub const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0000_1000, "CLONE_PIDFD"),
    (0x0000_2000, "CLONE_PTRACE"),
    (0x0000_4000, "CLONE_VFORK"),
    (0x0000_8000, "CLONE_PARENT"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// The `CLONE_NEW*` bits only: which namespaces a clone/unshare creates.
pub const CLONE_NEW_MASK: u64 = 0x0002_0000
    | 0x0200_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x80;

/// Short names of the namespaces in a `CLONE_NEW*` mask (`mnt`, `uts`, `ipc`, `pid`, …).
pub fn namespace_names(flags: u64) -> Vec<&'static str> {
    [
        (0x0002_0000, "mnt"),
        (0x0400_0000, "uts"),
        (0x0800_0000, "ipc"),
        (0x2000_0000, "pid"),
        (0x4000_0000, "net"),
        (0x1000_0000, "user"),
        (0x0200_0000, "cgroup"),
        (0x80, "time"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, n)| n)
    .collect()
}

/// `setns` nstype: 0 means "any type" (the fd decides).
pub fn nstype_name(nstype: i32) -> String {
    if nstype == 0 {
        "any (from the fd)".to_owned()
    } else {
        flag_names(nstype as u32 as u64, CLONE_FLAGS)
    }
}

/// `MS_*` mount flags.
pub const MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
];

/// `umount2` flags.
pub const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];

/// `AT_*` flags of the `*at` calls.
pub const AT_FLAGS: &[(u64, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
];

/// `open_tree` flags: its own and the `AT_*` ones it takes.
pub const OPEN_TREE_FLAGS: &[(u64, &str)] = &[
    (1, "OPEN_TREE_CLONE"),
    (0o2000000, "OPEN_TREE_CLOEXEC"),
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
];

/// `move_mount` flags.
pub const MOVE_MOUNT_FLAGS: &[(u64, &str)] = &[
    (0x1, "MOVE_MOUNT_F_SYMLINKS"),
    (0x2, "MOVE_MOUNT_F_AUTOMOUNTS"),
    (0x4, "MOVE_MOUNT_F_EMPTY_PATH"),
    (0x10, "MOVE_MOUNT_T_SYMLINKS"),
    (0x20, "MOVE_MOUNT_T_AUTOMOUNTS"),
    (0x40, "MOVE_MOUNT_T_EMPTY_PATH"),
    (0x100, "MOVE_MOUNT_SET_GROUP"),
    (0x200, "MOVE_MOUNT_BENEATH"),
];

/// `fsopen` flags.
pub const FSOPEN_FLAGS: &[(u64, &str)] = &[(1, "FSOPEN_CLOEXEC")];

/// `fsmount` flags.
pub const FSMOUNT_FLAGS: &[(u64, &str)] = &[(1, "FSMOUNT_CLOEXEC")];

/// `fspick` flags.
pub const FSPICK_FLAGS: &[(u64, &str)] = &[
    (1, "FSPICK_CLOEXEC"),
    (2, "FSPICK_SYMLINK_NOFOLLOW"),
    (4, "FSPICK_NO_AUTOMOUNT"),
    (8, "FSPICK_EMPTY_PATH"),
];

/// `MOUNT_ATTR_*` attributes (`fsmount`, `mount_setattr`).
pub const MOUNT_ATTR_FLAGS: &[(u64, &str)] = &[
    (0x1, "MOUNT_ATTR_RDONLY"),
    (0x2, "MOUNT_ATTR_NOSUID"),
    (0x4, "MOUNT_ATTR_NODEV"),
    (0x8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x10_0000, "MOUNT_ATTR_IDMAP"),
    (0x20_0000, "MOUNT_ATTR_NOSYMFOLLOW"),
];

/// `fsconfig` commands.
pub fn fsconfig_cmd_name(cmd: u32) -> &'static str {
    match cmd {
        0 => "FSCONFIG_SET_FLAG",
        1 => "FSCONFIG_SET_STRING",
        2 => "FSCONFIG_SET_BINARY",
        3 => "FSCONFIG_SET_PATH",
        4 => "FSCONFIG_SET_PATH_EMPTY",
        5 => "FSCONFIG_SET_FD",
        6 => "FSCONFIG_CMD_CREATE",
        7 => "FSCONFIG_CMD_RECONFIGURE",
        8 => "FSCONFIG_CMD_CREATE_EXCL",
        _ => "FSCONFIG_OTHER",
    }
}

/// `O_*` open flags (the access mode is decoded separately).
pub const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4010000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20200000, "O_TMPFILE"),
];

/// Open flags with the access mode first: `O_RDONLY|O_CLOEXEC`.
pub fn open_flags(flags: u64) -> String {
    let mode = match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags & !3;
    if rest == 0 {
        mode.to_owned()
    } else {
        format!("{mode}|{}", flag_names(rest, OPEN_FLAGS))
    }
}

/// Linux errno names, indexed by number.
const ERRNO: &[&str] = &[
    "",
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
];

/// `ENOENT` for 2; `None` for unknown numbers.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    usize::try_from(errno)
        .ok()
        .and_then(|i| ERRNO.get(i))
        .copied()
        .filter(|s| !s.is_empty())
}

/// A syscall result for people: `3`, or `-2 (ENOENT)`.
pub fn result_text(result: i64) -> String {
    match errno_name(-result) {
        Some(name) if result < 0 => format!("{result} ({name})"),
        _ => result.to_string(),
    }
}

/// TCP states as numbered by the kernel (`TCP_ESTABLISHED` = 1, …).
pub fn tcp_state_name(state: u8) -> &'static str {
    match state {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `AF_*` families.
pub fn family_name(family: u16) -> &'static str {
    match family {
        0 => "AF_UNSPEC",
        1 => "AF_UNIX",
        2 => "AF_INET",
        10 => "AF_INET6",
        16 => "AF_NETLINK",
        17 => "AF_PACKET",
        _ => "AF_OTHER",
    }
}

/// Socket type with its flags: `SOCK_STREAM|SOCK_CLOEXEC`.
pub fn sock_type_name(sock_type: u32) -> String {
    let base = match sock_type & 0xf {
        1 => "SOCK_STREAM",
        2 => "SOCK_DGRAM",
        3 => "SOCK_RAW",
        5 => "SOCK_SEQPACKET",
        _ => "SOCK_OTHER",
    };
    let mut s = base.to_owned();
    if sock_type & 0o2000000 != 0 {
        s.push_str("|SOCK_CLOEXEC");
    }
    if sock_type & 0o4000 != 0 {
        s.push_str("|SOCK_NONBLOCK");
    }
    s
}

/// IP protocol numbers.
pub fn ip_protocol_name(protocol: u8) -> &'static str {
    match protocol {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        58 => "ICMPv6",
        _ => "IP",
    }
}

/// `prctl` options that the container stack uses.
pub fn prctl_option_name(option: i32) -> &'static str {
    match option {
        1 => "PR_SET_PDEATHSIG",
        4 => "PR_SET_DUMPABLE",
        8 => "PR_SET_KEEPCAPS",
        15 => "PR_SET_NAME",
        16 => "PR_GET_NAME",
        22 => "PR_SET_SECCOMP",
        23 => "PR_CAPBSET_READ",
        24 => "PR_CAPBSET_DROP",
        36 => "PR_SET_CHILD_SUBREAPER",
        38 => "PR_SET_NO_NEW_PRIVS",
        47 => "PR_CAP_AMBIENT",
        _ => "PR_OTHER",
    }
}

/// `seccomp` operations.
pub fn seccomp_op_name(op: u32) -> &'static str {
    match op {
        0 => "SECCOMP_SET_MODE_STRICT",
        1 => "SECCOMP_SET_MODE_FILTER",
        2 => "SECCOMP_GET_ACTION_AVAIL",
        3 => "SECCOMP_GET_NOTIF_SIZES",
        _ => "SECCOMP_OTHER",
    }
}

const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Capability names in a capability mask: `CAP_CHOWN|CAP_KILL`.
pub fn capability_names(mask: u64) -> String {
    if mask == 0 {
        return "none".to_owned();
    }
    let mut parts: Vec<String> = CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect();
    let known = (1u64 << CAPS.len()) - 1;
    if mask & !known != 0 {
        parts.push(format!("{:#x}", mask & !known));
    }
    parts.join("|")
}

/// A raw wait status as `exited 0`, `killed by SIGKILL`.
pub fn wait_status(code: i32) -> String {
    let sig = code & 0x7f;
    if sig == 0 {
        format!("exited {}", (code >> 8) & 0xff)
    } else {
        format!("killed by {}", signal_name(sig))
    }
}

pub fn signal_name(sig: i32) -> String {
    const NAMES: &[&str] = &[
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(sig)
        .ok()
        .and_then(|i| NAMES.get(i))
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("signal {sig}"), |s| (*s).to_owned())
}

/// Printable text from packet payload bytes: ASCII kept, the rest as `.`; lines joined by ⏎.
pub fn payload_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'\r' => "".to_owned(),
            b'\n' => "⏎".to_owned(),
            0x20..=0x7e => (b as char).to_string(),
            _ => ".".to_owned(),
        })
        .collect()
}

/// The names of single-valued fields as [`Decode::Named`](crate::Decode::Named) takes them:
/// the raw value widened to `i64`.
pub mod named {
    use std::borrow::Cow;

    pub fn prctl_option(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::prctl_option_name(v as i32))
    }

    pub fn seccomp_operation(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::seccomp_op_name(v as u32))
    }

    pub fn family(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::family_name(v as u16))
    }

    pub fn sock_type(v: i64) -> Cow<'static, str> {
        Cow::Owned(super::sock_type_name(v as u32))
    }

    pub fn tcp_state(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::tcp_state_name(v as u8))
    }

    pub fn ip_protocol(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::ip_protocol_name(v as u8))
    }

    pub fn fsconfig_cmd(v: i64) -> Cow<'static, str> {
        Cow::Borrowed(super::fsconfig_cmd_name(v as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_unshare_flags_decode() {
        // Measured: runc's unshare for a default `docker run`.
        let s = flag_names(0x6c02_0000, CLONE_FLAGS);
        assert_eq!(
            s,
            "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET"
        );
        assert_eq!(
            namespace_names(0x6c02_0000),
            ["mnt", "uts", "ipc", "pid", "net"]
        );
    }

    #[test]
    fn unknown_bits_are_kept_in_hex() {
        assert_eq!(
            flag_names(1 | (1 << 40), MOUNT_FLAGS),
            "MS_RDONLY|0x10000000000"
        );
        assert_eq!(flag_names(0, MOUNT_FLAGS), "0");
    }

    #[test]
    fn open_flags_and_results() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o101 | 0o1000), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(result_text(-2), "-2 (ENOENT)");
        assert_eq!(result_text(3), "3");
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(errno_name(100_000), None);
    }

    #[test]
    fn misc_names() {
        assert_eq!(wait_status(0), "exited 0");
        assert_eq!(wait_status(1 << 8), "exited 1");
        assert_eq!(wait_status(9), "killed by SIGKILL");
        assert_eq!(capability_names(1 | 1 << 21), "CAP_CHOWN|CAP_SYS_ADMIN");
        assert_eq!(tcp_state_name(1), "ESTABLISHED");
        assert_eq!(sock_type_name(1 | 0o2000000), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(
            payload_text(b"GET /v2/ HTTP/1.1\r\nHost"),
            "GET /v2/ HTTP/1.1⏎Host"
        );
    }
}
