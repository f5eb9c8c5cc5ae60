//! The event data of each record kind, one function per kind, grouped by the record shape
//! the kernel writes it in (`beefine_abi.h` says which argument is where).

use beefine_ebpf::abi;
use beefine_schema::{
    CapsetArgs, CgroupAttachInfo, CgroupMkdirInfo, Clone3Args, CloneArgs, EventData, ExecArgs,
    ExecveatArgs, FchdirArgs, FileIoSummary, ForkInfo, FsconfigArgs, FsmountArgs, FsopenArgs,
    FspickArgs, ListenArgs, MkdirArgs, MountArgs, MountSetattrArgs, MoveMountArgs, OpenArgs,
    OpenTreeArgs, PathArgs, PivotRootArgs, PrctlArgs, SeccompArgs, SetgidArgs, SetgroupsArgs,
    SethostnameArgs, SetnsArgs, SetuidArgs, SocketArgs, UmaskArgs, UmountArgs, UnshareArgs,
};

use super::{Interner, argv};

// ---- Tracepoints ------------------------------------------------------------------------

pub(super) fn exec(r: &abi::Exec, s: &mut Interner) -> EventData {
    let n = (r.argv_len as usize).min(r.argv.len());
    EventData::Exec(ExecArgs {
        filename: s.c_str(&r.filename),
        argv: argv(&r.argv[..n], s),
    })
}

pub(super) fn fork(r: &abi::Fork) -> EventData {
    EventData::Fork(ForkInfo {
        parent_pid: r.parent_pid,
        parent_tgid: r.parent_tgid,
        child_pid: r.child_pid,
        child_tgid: r.child_tgid,
    })
}

pub(super) fn file_io(r: &abi::FileIo) -> EventData {
    // The path is the session builder's, from the open that gave the fd.
    EventData::FileIo(FileIoSummary {
        fd: r.fd,
        path: None,
        bytes_read: r.bytes_read,
        bytes_written: r.bytes_written,
        reads: r.reads,
        writes: r.writes,
    })
}

pub(super) fn cgroup_attach(r: &abi::Cgroup, s: &mut Interner) -> EventData {
    EventData::CgroupAttach(CgroupAttachInfo {
        path: s.c_str(&r.path),
        dst_pid: r.dst_pid as u32,
        target_cgroup_id: r.cgroup_id,
        hierarchy_id: r.root,
    })
}

pub(super) fn cgroup_mkdir(r: &abi::Cgroup, s: &mut Interner) -> EventData {
    EventData::CgroupMkdir(CgroupMkdirInfo {
        path: s.c_str(&r.path),
        target_cgroup_id: r.cgroup_id,
        hierarchy_id: r.root,
    })
}

// ---- Numeric arguments (struct bf_args) -------------------------------------------------

pub(super) fn clone(r: &abi::Args) -> EventData {
    EventData::Clone(CloneArgs { flags: r.args[0] })
}

pub(super) fn unshare(r: &abi::Args) -> EventData {
    EventData::Unshare(UnshareArgs { flags: r.args[0] })
}

pub(super) fn setns(r: &abi::Args) -> EventData {
    EventData::Setns(SetnsArgs {
        fd: r.args[0] as i32,
        nstype: r.args[1] as i32,
    })
}

pub(super) fn prctl(r: &abi::Args) -> EventData {
    EventData::Prctl(PrctlArgs {
        option: r.args[0] as i32,
        arg2: r.args[1],
    })
}

pub(super) fn seccomp(r: &abi::Args) -> EventData {
    EventData::Seccomp(SeccompArgs {
        operation: r.args[0] as u32,
        flags: r.args[1] as u32,
    })
}

pub(super) fn capset(r: &abi::Args) -> EventData {
    EventData::Capset(CapsetArgs {
        effective: r.args[0],
        permitted: r.args[1],
        inheritable: r.args[2],
    })
}

pub(super) fn socket(r: &abi::Args) -> EventData {
    EventData::Socket(SocketArgs {
        family: r.args[0] as u16,
        sock_type: r.args[1] as u32,
        protocol: r.args[2] as u32,
    })
}

pub(super) fn listen(r: &abi::Args) -> EventData {
    EventData::Listen(ListenArgs {
        fd: r.args[0] as i32,
        backlog: r.args[1] as i32,
    })
}

pub(super) fn fsmount(r: &abi::Args) -> EventData {
    EventData::Fsmount(FsmountArgs {
        fs_fd: r.args[0] as i32,
        flags: r.args[1] as u32,
        attr_flags: r.args[2] as u32,
    })
}

pub(super) fn fchdir(r: &abi::Args) -> EventData {
    // The path is the session builder's, from the open that gave the fd.
    EventData::Fchdir(FchdirArgs {
        fd: r.args[0] as i32,
        path: None,
    })
}

pub(super) fn umask(r: &abi::Args) -> EventData {
    EventData::Umask(UmaskArgs {
        mask: r.args[0] as u32,
    })
}

pub(super) fn setuid(r: &abi::Args) -> EventData {
    EventData::Setuid(SetuidArgs {
        uid: r.args[0] as u32,
    })
}

pub(super) fn setgid(r: &abi::Args) -> EventData {
    EventData::Setgid(SetgidArgs {
        gid: r.args[0] as u32,
    })
}

// ---- One string (struct bf_path) --------------------------------------------------------

pub(super) fn open(r: &abi::PathRec, s: &mut Interner) -> OpenArgs {
    // openat2's `resolve` (RESOLVE_*, args[1]) has no field in the event model.
    OpenArgs {
        dirfd: r.args[0] as i32,
        path: s.c_str(&r.path),
        flags: r.args[2],
        mode: r.args[3] as u32,
    }
}

pub(super) fn mkdir(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Mkdir(MkdirArgs {
        dirfd: -100, // AT_FDCWD
        path: s.c_str(&r.path),
        mode: r.args[1] as u32,
    })
}

pub(super) fn mkdirat(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Mkdirat(MkdirArgs {
        dirfd: r.args[0] as i32,
        path: s.c_str(&r.path),
        mode: r.args[2] as u32,
    })
}

pub(super) fn umount(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Umount(UmountArgs {
        target: s.c_str(&r.path),
        flags: r.args[1] as u32,
    })
}

pub(super) fn path(r: &abi::PathRec, s: &mut Interner) -> PathArgs {
    PathArgs {
        path: s.c_str(&r.path),
    }
}

pub(super) fn open_tree(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::OpenTree(OpenTreeArgs {
        dirfd: r.args[0] as i32,
        path: s.c_str(&r.path),
        flags: r.args[2] as u32,
    })
}

pub(super) fn fsopen(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Fsopen(FsopenArgs {
        fstype: s.c_str(&r.path),
        flags: r.args[1] as u32,
    })
}

pub(super) fn fspick(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Fspick(FspickArgs {
        dirfd: r.args[0] as i32,
        path: s.c_str(&r.path),
        flags: r.args[2] as u32,
    })
}

pub(super) fn execveat(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Execveat(ExecveatArgs {
        dirfd: r.args[0] as i32,
        path: s.c_str(&r.path),
        flags: r.args[2] as u32,
    })
}

pub(super) fn sethostname(r: &abi::PathRec, s: &mut Interner) -> EventData {
    EventData::Sethostname(SethostnameArgs {
        name: s.c_str(&r.path),
    })
}

// ---- Mounts: struct bf_mount, bf_str_pair, bf_mount_setattr -----------------------------

pub(super) fn mount(r: &abi::Mount, s: &mut Interner) -> EventData {
    EventData::Mount(Box::new(MountArgs {
        source: s.c_str(&r.source),
        target: s.c_str(&r.target),
        fstype: s.c_str(&r.fstype),
        flags: r.flags,
        data: s.c_str(&r.data),
    }))
}

pub(super) fn pivot_root(r: &abi::Mount, s: &mut Interner) -> EventData {
    EventData::PivotRoot(PivotRootArgs {
        new_root: s.c_str(&r.target),
        put_old: s.c_str(&r.data),
    })
}

pub(super) fn move_mount(r: &abi::StrPair, s: &mut Interner) -> EventData {
    EventData::MoveMount(Box::new(MoveMountArgs {
        from_dirfd: r.args[0] as i32,
        from_path: s.c_str(&r.first),
        to_dirfd: r.args[1] as i32,
        to_path: s.c_str(&r.second),
        flags: r.args[2] as u32,
    }))
}

pub(super) fn fsconfig(r: &abi::StrPair, s: &mut Interner) -> EventData {
    EventData::Fsconfig(FsconfigArgs {
        fd: r.args[0] as i32,
        cmd: r.args[1] as u32,
        key: s.c_str(&r.first),
        value: s.c_str(&r.second),
        aux: r.args[2] as i32,
    })
}

pub(super) fn mount_setattr(r: &abi::MountSetattr, s: &mut Interner) -> EventData {
    EventData::MountSetattr(Box::new(MountSetattrArgs {
        dirfd: r.dirfd,
        path: s.c_str(&r.path),
        flags: r.flags,
        attr_set: r.attr_set,
        attr_clr: r.attr_clr,
        propagation: r.propagation,
        userns_fd: r.userns_fd,
    }))
}

// ---- Lists: struct bf_clone3, bf_groups -------------------------------------------------

pub(super) fn clone3(r: &abi::Clone3) -> EventData {
    // The cgroup's path is the session builder's, from its id.
    EventData::Clone3(Box::new(Clone3Args {
        flags: r.flags,
        exit_signal: r.exit_signal,
        cgroup_fd: r.cgroup_fd,
        target_cgroup_id: r.cgroup_id,
        target_cgroup: None,
        set_tid: r.set_tid().to_vec(),
    }))
}

pub(super) fn setgroups(r: &abi::Groups) -> EventData {
    EventData::Setgroups(SetgroupsArgs {
        size: r.size,
        gids: r.gids().to_vec(),
    })
}
