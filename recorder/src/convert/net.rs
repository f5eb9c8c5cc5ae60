//! Socket addresses, TCP state changes and packets, from the kernel's bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use beefine_ebpf::abi;
use beefine_schema::{PacketSummary, SockAddr, SockArgs, TcpStateChange};

use super::Interner;

/// Decodes a `struct sockaddr` of `len` bytes.
pub fn sockaddr(bytes: &[u8], len: usize, strings: &mut Interner) -> SockAddr {
    let b = &bytes[..len.min(bytes.len())];
    if b.len() < 2 {
        return SockAddr::None;
    }
    let family = u16::from_ne_bytes([b[0], b[1]]);
    match family {
        2 if b.len() >= 8 => SockAddr::Inet {
            ip: IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
            port: u16::from_be_bytes([b[2], b[3]]),
        },
        10 if b.len() >= 24 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[8..24]);
            SockAddr::Inet {
                ip: IpAddr::V6(Ipv6Addr::from(ip)),
                port: u16::from_be_bytes([b[2], b[3]]),
            }
        }
        1 => {
            let path = &b[2..];
            // Abstract socket names start with NUL: show them as @name.
            let path = if path.first() == Some(&0) {
                let mut named = vec![b'@'];
                named.extend(path[1..].iter().take_while(|&&c| c != 0));
                strings.intern(&named)
            } else {
                strings.c_str(path)
            };
            SockAddr::Unix { path }
        }
        other => SockAddr::Other { family: other },
    }
}

fn ip(version_or_family: u16, bytes: &[u8; 16]) -> IpAddr {
    if version_or_family == 4 || version_or_family == 2 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    }
}

pub(super) fn sock_args(r: &abi::SockAddrRec, strings: &mut Interner) -> SockArgs {
    SockArgs {
        fd: r.fd,
        addr: sockaddr(&r.addr, r.addr_len as usize, strings),
    }
}

pub(super) fn tcp_state(r: &abi::TcpState) -> TcpStateChange {
    TcpStateChange {
        old_state: r.old_state as u8,
        new_state: r.new_state as u8,
        saddr: ip(r.family, &r.saddr),
        sport: r.sport,
        daddr: ip(r.family, &r.daddr),
        dport: r.dport,
    }
}

pub(super) fn packet(r: &abi::Packet) -> PacketSummary {
    let n = usize::from(r.payload_len).min(r.payload.len());
    PacketSummary {
        ifindex: r.ifindex,
        protocol: r.protocol,
        saddr: ip(u16::from(r.ip_version), &r.saddr),
        sport: u16::from_be(r.sport),
        daddr: ip(u16::from(r.ip_version), &r.daddr),
        dport: u16::from_be(r.dport),
        len: r.len,
        payload: r.payload[..n].to_vec(),
    }
}
