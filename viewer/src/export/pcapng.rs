//! `--format pcapng`: the session's packet summaries (kind `packet`) as a capture file that
//! Wireshark and `tshark -r` read.
//!
//! The recorder keeps, per frame XDP saw arriving on an interface, its length, IP protocol,
//! addresses and ports, and the first payload bytes. Each becomes one Enhanced Packet Block
//! with a frame rebuilt from that: an Ethernet header (addresses not recorded: zeros), an
//! IPv4 or IPv6 header (TTL 64, id 0, its checksum computed), a TCP or UDP header, then the
//! captured payload bytes. The block's original length is the frame's recorded length and
//! its captured length what was rebuilt, so Wireshark marks every frame whose payload was
//! cut ("packet size limited during capture"). What was not recorded is said in the
//! section's comment: TCP flags and options (the option bytes are kept as End-of-Option-List
//! padding when their length is known), the window (65535, as 0 would read as a zero
//! window) and sequence numbers, which are counted from the payload lengths per direction
//! so segments line up.
//!
//! The TCP or UDP header length is known when the payload was not cut (captured below the
//! recorder's limit): the frame length minus the headers and the payload. Otherwise the
//! header is the minimum (20 bytes for TCP) and the payload is cut at that offset.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;

use beefine_schema::{EventData, Kind, KindSet, PacketSummary, Query, Session};

use super::{ExportSummary, finish_output};

/// The most payload bytes the recorder keeps of a frame (`BF_PAYLOAD_LEN` of the probes).
pub const RECORDER_PAYLOAD_BYTES: usize = 64;

const ETH_HEADER: usize = 14;
const LINKTYPE_ETHERNET: u16 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// What the pcapng export wrote.
#[derive(Debug, Default)]
pub struct PcapSummary {
    pub export: ExportSummary,
    /// Packets written (the `packet` events).
    pub packets: u64,
    /// Interfaces (one Interface Description Block each).
    pub interfaces: u64,
    /// Frames whose payload was cut at the recorder's limit.
    pub truncated: u64,
    pub bytes: u64,
}

/// A rebuilt frame: the bytes and the frame's length on the wire.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub original_len: u32,
}

/// Per-direction TCP sequence numbers, counted from the payload lengths.
#[derive(Default)]
pub struct Sequences {
    next: HashMap<(IpAddr, u16, IpAddr, u16), u32>,
}

impl Sequences {
    fn take(&mut self, p: &PacketSummary, payload_len: u32) -> u32 {
        let key = (p.saddr, p.sport, p.daddr, p.dport);
        let seq = self.next.entry(key).or_insert(1);
        let this = *seq;
        *seq = seq.wrapping_add(payload_len);
        this
    }
}

/// The length of the TCP or UDP header of `p`, when the recorded lengths tell it.
fn l4_header_len(p: &PacketSummary, ip_header: usize) -> usize {
    let min = match p.protocol {
        IPPROTO_TCP => 20,
        IPPROTO_UDP => 8,
        _ => return 0,
    };
    let captured = p.payload.len();
    if captured >= RECORDER_PAYLOAD_BYTES {
        return min;
    }
    let rest = (p.len as usize).checked_sub(ETH_HEADER + ip_header + captured);
    match rest {
        Some(h) if p.protocol == IPPROTO_TCP && (20..=60).contains(&h) && h % 4 == 0 => h,
        _ => min,
    }
}

/// The Internet checksum of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Rebuilds the frame of a packet summary. `seq` numbers TCP segments per direction.
pub fn frame(p: &PacketSummary, seq: &mut Sequences) -> Frame {
    let v6 = matches!((p.saddr, p.daddr), (IpAddr::V6(_), _) | (_, IpAddr::V6(_)));
    let ip_header = if v6 { 40 } else { 20 };
    let l4 = l4_header_len(p, ip_header);
    let payload = &p.payload;
    let built = ETH_HEADER + ip_header + l4 + payload.len();
    let original = (p.len as usize).max(built);
    let ip_len = original - ETH_HEADER;
    let mut b = Vec::with_capacity(built);
    // Ethernet: addresses not recorded.
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(&(if v6 { 0x86dd_u16 } else { 0x0800 }).to_be_bytes());
    match (p.saddr, p.daddr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let start = b.len();
            b.extend_from_slice(&[0x45, 0]);
            b.extend_from_slice(&(ip_len.min(0xffff) as u16).to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0, 64, p.protocol, 0, 0]);
            b.extend_from_slice(&s.octets());
            b.extend_from_slice(&d.octets());
            let sum = checksum(&b[start..]);
            b[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            b.extend_from_slice(&[0x60, 0, 0, 0]);
            b.extend_from_slice(&((ip_len - 40).min(0xffff) as u16).to_be_bytes());
            b.extend_from_slice(&[p.protocol, 64]);
            b.extend_from_slice(&v6(s).octets());
            b.extend_from_slice(&v6(d).octets());
        }
    }
    let l4_len = ip_len - ip_header;
    match p.protocol {
        IPPROTO_TCP => {
            let payload_len = l4_len.saturating_sub(l4) as u32;
            b.extend_from_slice(&p.sport.to_be_bytes());
            b.extend_from_slice(&p.dport.to_be_bytes());
            b.extend_from_slice(&seq.take(p, payload_len).to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0]);
            // Data offset, no flags, window 65535 (0 would read as a zero window), no
            // checksum, no urgent pointer.
            b.extend_from_slice(&[((l4 / 4) as u8) << 4, 0, 0xff, 0xff, 0, 0, 0, 0]);
            // Options not recorded: End of Option List, then padding.
            b.resize(b.len() + (l4 - 20), 0);
        }
        IPPROTO_UDP => {
            b.extend_from_slice(&p.sport.to_be_bytes());
            b.extend_from_slice(&p.dport.to_be_bytes());
            b.extend_from_slice(&(l4_len.min(0xffff) as u16).to_be_bytes());
            b.extend_from_slice(&[0, 0]);
        }
        _ => {}
    }
    b.extend_from_slice(payload);
    Frame {
        bytes: b,
        original_len: original.min(u32::MAX as usize) as u32,
    }
}

/// A pcapng block being built: type, body, options.
struct Block {
    body: Vec<u8>,
    kind: u32,
}

impl Block {
    fn new(kind: u32) -> Self {
        Self {
            body: Vec::with_capacity(128),
            kind,
        }
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.body.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.body.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn padded(&mut self, bytes: &[u8]) -> &mut Self {
        self.body.extend_from_slice(bytes);
        self.body.resize(self.body.len().next_multiple_of(4), 0);
        self
    }

    fn option(&mut self, code: u16, value: &[u8]) -> &mut Self {
        let len = value.len().min(0xfff0);
        self.u16(code).u16(len as u16).padded(&value[..len])
    }

    fn end_options(&mut self) -> &mut Self {
        self.u32(0)
    }

    fn bytes(&self) -> Vec<u8> {
        let total = (12 + self.body.len()) as u32;
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(&self.kind.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&total.to_le_bytes());
        out
    }
}

const OPT_COMMENT: u16 = 1;

fn section_header(session: &Session) -> Vec<u8> {
    let info = &session.meta().info;
    let comment = format!(
        "Packets of the Beefine session {:?}, rebuilt from what the recorder kept of each \
         frame XDP saw arriving on an interface: its length, IP protocol, addresses, ports and \
         at most the first {RECORDER_PAYLOAD_BYTES} payload bytes. Not recorded, so filled \
         in: Ethernet addresses (zeros), IP TTL 64 and id 0, TCP flags and options (zeros), \
         the TCP window (65535), TCP sequence numbers (counted from the payload lengths per direction). \
         Each frame keeps its original length: a captured length below it means the payload \
         was cut.",
        info.session_name
    );
    let mut b = Block::new(0x0a0d_0d0a);
    b.u32(0x1a2b_3c4d).u16(1).u16(0);
    b.body.extend_from_slice(&(-1i64).to_le_bytes());
    b.option(OPT_COMMENT, comment.as_bytes())
        .option(3, format!("Linux {}", info.host_kernel).as_bytes())
        .option(
            4,
            format!("beefine-view {}", env!("CARGO_PKG_VERSION")).as_bytes(),
        )
        .end_options();
    b.bytes()
}

fn interface(ifindex: u32) -> Vec<u8> {
    let name = if ifindex == 1 {
        "lo".to_owned()
    } else {
        format!("ifindex {ifindex}")
    };
    let mut b = Block::new(1);
    b.u16(LINKTYPE_ETHERNET).u16(0).u32(0);
    b.option(2, name.as_bytes())
        .option(
            3,
            format!("Linux interface {ifindex} (ingress, as XDP saw it)").as_bytes(),
        )
        .option(9, &[9])
        .end_options();
    b.bytes()
}

fn enhanced_packet(interface: u32, wall_nanos: u64, f: &Frame) -> Vec<u8> {
    let mut b = Block::new(6);
    b.u32(interface)
        .u32((wall_nanos >> 32) as u32)
        .u32(wall_nanos as u32)
        .u32(f.bytes.len() as u32)
        .u32(f.original_len)
        .padded(&f.bytes);
    // epb_flags: inbound.
    b.option(2, &1u32.to_le_bytes()).end_options();
    b.bytes()
}

/// Writes the packets of `session` to `out` as pcapng, in time order.
pub fn export_pcapng(session: &Session, out: &mut impl Write) -> anyhow::Result<PcapSummary> {
    let offset = session.meta().info.clock_offset_nanos;
    let mut summary = PcapSummary::default();
    let mut io_error: Option<io::Error> = None;
    let mut write = |bytes: &[u8], summary: &mut PcapSummary| match out.write_all(bytes) {
        Ok(()) => {
            summary.bytes += bytes.len() as u64;
            true
        }
        Err(e) => {
            io_error = Some(e);
            false
        }
    };
    write(&section_header(session), &mut summary);
    let mut interfaces: HashMap<u32, u32> = HashMap::new();
    let mut seq = Sequences::default();
    let query = Query {
        kinds: Some([Kind::Packet].into_iter().collect::<KindSet>()),
        ..Query::all()
    };
    let scan = session.scan(&query, |e| {
        summary.export.events += 1;
        let EventData::Packet(p) = &e.data else {
            return ControlFlow::Continue(());
        };
        let next = interfaces.len() as u32;
        let id = match interfaces.get(&p.ifindex) {
            Some(id) => *id,
            None => {
                interfaces.insert(p.ifindex, next);
                if !write(&interface(p.ifindex), &mut summary) {
                    return ControlFlow::Break(());
                }
                next
            }
        };
        let f = frame(p, &mut seq);
        if (f.bytes.len() as u32) < f.original_len && p.payload.len() >= RECORDER_PAYLOAD_BYTES {
            summary.truncated += 1;
        }
        let wall = (e.ts_nanos() as i64).saturating_add(offset).max(0) as u64;
        if !write(&enhanced_packet(id, wall, &f), &mut summary) {
            return ControlFlow::Break(());
        }
        summary.packets += 1;
        ControlFlow::Continue(())
    })?;
    summary.interfaces = interfaces.len() as u64;
    summary.export.errors = scan.errors;
    finish_output(io_error, out)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(len: u32, payload: &[u8]) -> PacketSummary {
        PacketSummary {
            ifindex: 1,
            protocol: 6,
            saddr: "127.0.0.1".parse().unwrap(),
            sport: 5000,
            daddr: "127.0.0.1".parse().unwrap(),
            dport: 40000,
            len,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn a_frame_with_all_its_payload_keeps_its_header_length() {
        // 14 + 20 + 32 (TCP with timestamps) + 5.
        let f = frame(&tcp(71, b"hello"), &mut Sequences::default());
        assert_eq!(f.original_len, 71);
        assert_eq!(f.bytes.len(), 71);
        assert_eq!(&f.bytes[12..14], &[0x08, 0x00]);
        assert_eq!(u16::from_be_bytes([f.bytes[16], f.bytes[17]]), 57);
        assert_eq!(checksum(&f.bytes[14..34]), 0, "IPv4 header checksum");
        assert_eq!(f.bytes[34 + 12] >> 4, 8, "data offset 32 bytes");
        assert_eq!(&f.bytes[66..], b"hello");
    }

    #[test]
    fn a_cut_payload_keeps_the_original_length() {
        let payload = [b'x'; RECORDER_PAYLOAD_BYTES];
        let f = frame(&tcp(1500, &payload), &mut Sequences::default());
        assert_eq!(f.original_len, 1500);
        assert_eq!(f.bytes.len(), 14 + 20 + 20 + 64);
        assert_eq!(f.bytes[34 + 12] >> 4, 5);
        assert_eq!(&f.bytes[54..], &payload[..]);
    }

    #[test]
    fn sequence_numbers_follow_the_payload_per_direction() {
        let mut seq = Sequences::default();
        let a = frame(&tcp(71, b"hello"), &mut seq);
        let b = frame(&tcp(71, b"world"), &mut seq);
        let seq_of = |f: &Frame| u32::from_be_bytes(f.bytes[38..42].try_into().unwrap());
        assert_eq!(seq_of(&a), 1);
        assert_eq!(seq_of(&b), 6);
    }

    #[test]
    fn udp_and_ipv6_frames() {
        let p = PacketSummary {
            ifindex: 5,
            protocol: 17,
            saddr: "::1".parse().unwrap(),
            sport: 53,
            daddr: "::1".parse().unwrap(),
            dport: 4000,
            len: 14 + 40 + 8 + 3,
            payload: b"abc".to_vec(),
        };
        let f = frame(&p, &mut Sequences::default());
        assert_eq!(f.bytes.len(), 65);
        assert_eq!(&f.bytes[12..14], &[0x86, 0xdd]);
        assert_eq!(u16::from_be_bytes([f.bytes[18], f.bytes[19]]), 11);
        assert_eq!(
            u16::from_be_bytes([f.bytes[58], f.bytes[59]]),
            11,
            "UDP length"
        );
    }

    #[test]
    fn nonsense_lengths_do_not_panic() {
        let mut seq = Sequences::default();
        for len in [0, 1, 13, 54, 70, u32::MAX] {
            let f = frame(&tcp(len, b"zz"), &mut seq);
            assert!(f.original_len as usize >= f.bytes.len());
        }
        let mut other = tcp(0, &[]);
        other.protocol = 1;
        assert_eq!(frame(&other, &mut seq).bytes.len(), 34);
    }

    #[test]
    fn blocks_are_padded_and_framed_by_their_length() {
        let b = interface(1);
        assert_eq!(b.len() % 4, 0);
        let len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(len, b.len());
        assert_eq!(&b[len - 4..], &b[4..8]);
    }
}
