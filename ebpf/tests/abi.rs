//! The Rust mirror must match the C header byte for byte: compile the header with the host
//! C compiler, print every size and offset, and compare.

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

use beefine_ebpf::abi::*;

/// (C expression, Rust value) pairs.
fn layout() -> Vec<(String, usize)> {
    let mut v = Vec::new();
    macro_rules! check {
        ($c:literal, $r:ty, [$($cf:literal => $rf:ident),* $(,)?]) => {
            v.push((format!("sizeof(struct {})", $c), size_of::<$r>()));
            $( v.push((format!("offsetof(struct {}, {})", $c, $cf), offset_of!($r, $rf))); )*
        };
    }
    check!("bf_header", Header, ["ts_nanos" => ts_nanos, "cgroup_id" => cgroup_id, "pid" => pid,
        "tgid" => tgid, "pid_ns" => pid_ns, "mnt_ns" => mnt_ns, "net_ns" => net_ns,
        "uts_ns" => uts_ns, "ipc_ns" => ipc_ns, "user_ns" => user_ns, "cgroup_ns" => cgroup_ns,
        "time_ns" => time_ns, "kind" => kind, "len" => len, "comm" => comm, "_pad" => _pad]);
    check!("bf_exec", Exec, ["filename_len" => filename_len, "argv_len" => argv_len,
        "filename" => filename, "argv" => argv]);
    check!("bf_fork", Fork, ["parent_pid" => parent_pid, "parent_tgid" => parent_tgid,
        "child_pid" => child_pid, "child_tgid" => child_tgid]);
    check!("bf_exit", Exit, ["exit_code" => exit_code]);
    check!("bf_args", Args, ["ret" => ret, "args" => args]);
    check!("bf_path", PathRec, ["ret" => ret, "args" => args, "path_len" => path_len,
        "path" => path]);
    check!("bf_mount", Mount, ["ret" => ret, "flags" => flags, "source" => source,
        "target" => target, "fstype" => fstype, "data" => data]);
    check!("bf_str_pair", StrPair, ["ret" => ret, "args" => args, "first" => first,
        "second" => second]);
    check!("bf_mount_setattr", MountSetattr, ["ret" => ret, "dirfd" => dirfd, "flags" => flags,
        "attr_set" => attr_set, "attr_clr" => attr_clr, "propagation" => propagation,
        "userns_fd" => userns_fd, "size" => size, "path" => path]);
    check!("bf_groups", Groups, ["ret" => ret, "size" => size, "count" => count,
        "gids" => gids]);
    check!("bf_clone3", Clone3, ["ret" => ret, "flags" => flags, "exit_signal" => exit_signal,
        "cgroup_fd" => cgroup_fd, "cgroup_id" => cgroup_id, "set_tid_len" => set_tid_len,
        "set_tid" => set_tid]);
    check!("bf_sockaddr", SockAddrRec, ["ret" => ret, "fd" => fd, "addr_len" => addr_len,
        "addr" => addr]);
    check!("bf_file_io", FileIo, ["fd" => fd, "reads" => reads, "writes" => writes,
        "bytes_read" => bytes_read, "bytes_written" => bytes_written]);
    check!("bf_io_key", IoKey, ["tgid" => tgid, "fd" => fd]);
    check!("bf_io_value", IoValue, ["first_ts_nanos" => first_ts_nanos,
        "last_ts_nanos" => last_ts_nanos, "bytes_read" => bytes_read,
        "bytes_written" => bytes_written, "reads" => reads, "writes" => writes]);
    check!("bf_cgroup", Cgroup, ["cgroup_id" => cgroup_id, "dst_pid" => dst_pid, "root" => root,
        "level" => level, "path_len" => path_len, "path" => path]);
    check!("bf_tcp_state", TcpState, ["old_state" => old_state, "new_state" => new_state,
        "sport" => sport, "dport" => dport, "family" => family, "protocol" => protocol,
        "saddr" => saddr, "daddr" => daddr]);
    check!("bf_packet", Packet, ["ifindex" => ifindex, "len" => len, "sport" => sport,
        "dport" => dport, "protocol" => protocol, "ip_version" => ip_version,
        "payload_len" => payload_len, "saddr" => saddr, "daddr" => daddr,
        "payload" => payload]);
    v
}

#[test]
fn rust_mirror_matches_the_c_header() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let dir = tempfile_dir();
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"beefine_abi.h\"\nint main(void) {\n",
    );
    let expected = layout();
    for (expr, _) in &expected {
        writeln!(c, "  printf(\"%zu\\n\", (size_t)({expr}));").unwrap();
    }
    // Constants and enum values too.
    let consts: Vec<(String, usize)> = vec![
        ("BF_COMM_LEN".into(), COMM_LEN),
        ("BF_PATH_LEN".into(), PATH_LEN),
        ("BF_ARGV_LEN".into(), ARGV_LEN),
        ("BF_MOUNT_SOURCE_LEN".into(), MOUNT_SOURCE_LEN),
        ("BF_MOUNT_FSTYPE_LEN".into(), MOUNT_FSTYPE_LEN),
        ("BF_SOCKADDR_LEN".into(), SOCKADDR_LEN),
        ("BF_PAYLOAD_LEN".into(), PAYLOAD_LEN),
        ("BF_GROUPS_MAX".into(), GROUPS_MAX),
        ("BF_SET_TID_MAX".into(), SET_TID_MAX),
        ("BF_COUNTER_COUNT".into(), COUNTER_COUNT as usize),
        (
            "BF_COUNTER_RINGBUF_FULL".into(),
            Counter::RingbufFull as usize,
        ),
        (
            "BF_COUNTER_FILEIO_FULL".into(),
            Counter::FileioFull as usize,
        ),
        (
            "BF_COUNTER_INFLIGHT_FULL".into(),
            Counter::InflightFull as usize,
        ),
    ];
    let kinds: Vec<(String, usize)> = RecordKind::ALL
        .iter()
        .map(|k| (format!("BF_{}", screaming(&format!("{k:?}"))), *k as usize))
        .collect();
    for (expr, _) in consts.iter().chain(&kinds) {
        writeln!(c, "  printf(\"%zu\\n\", (size_t)({expr}));").unwrap();
    }
    c.push_str("  return 0;\n}\n");
    let src = dir.join("layout.c");
    let bin = dir.join("layout");
    std::fs::write(&src, c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` ({e}); install gcc or clang"));
    assert!(status.success(), "compiling the layout checker failed");
    let out = Command::new(&bin).output().unwrap();
    let got: Vec<usize> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let all: Vec<&(String, usize)> = expected.iter().chain(&consts).chain(&kinds).collect();
    assert_eq!(got.len(), all.len());
    let mismatches: Vec<String> = all
        .iter()
        .zip(&got)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((expr, rust), c)| format!("{expr}: C {c}, Rust {rust}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "ABI mismatch:\n{}",
        mismatches.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn screaming(camel: &str) -> String {
    let mut s = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(ch.to_ascii_uppercase());
    }
    s
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("beefine-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_object_is_an_elf_for_bpf() {
    let obj = beefine_ebpf::object();
    assert_eq!(&obj[..4], b"\x7fELF");
    // e_machine 247 = EM_BPF.
    assert_eq!(u16::from_le_bytes([obj[18], obj[19]]), 247);
}
