//! The first pass: image pulls and layer unpacks, whose extent is only known at their end
//! (the daemon reports a pull when it is done).

use std::net::IpAddr;

use super::StoryInput;
use super::fact::{Addr, Ev, Fact};
use super::keys::Lookup;

/// One image pull: the registry requests for its repository up to the daemon's report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pull {
    /// The image reference as the daemon reported it.
    pub reference: String,
    pub start_ts: u64,
    /// The daemon's `image pull` event.
    pub end_ts: u64,
    /// Where the registry listens (from the requests' destination).
    pub endpoint: Option<(IpAddr, u16)>,
    /// Request lines (`GET /v2/nginx/manifests/…`), with their times.
    pub requests: Vec<(u64, String)>,
    /// Index of the container it was pulled for.
    pub container: Option<usize>,
}

impl Pull {
    pub fn blobs(&self) -> usize {
        self.requests
            .iter()
            .filter(|(_, r)| r.starts_with("GET ") && r.contains("/blobs/"))
            .count()
    }

    /// Whether an event is this pull's traffic: packets to or from the registry and the
    /// daemon's connects to it, within the pull.
    pub fn carries(&self, e: &Ev<'_>) -> bool {
        if e.ts_nanos < self.start_ts || e.ts_nanos > self.end_ts {
            return false;
        }
        let Some((ip, port)) = self.endpoint else {
            return false;
        };
        match e.fact {
            Fact::Packet {
                saddr,
                sport,
                daddr,
                dport,
                ..
            } => (daddr == ip && dport == port) || (saddr == ip && sport == port),
            Fact::Connect {
                addr: Addr::Inet(a, p),
            } => a == ip && p == port,
            _ => false,
        }
    }
}

/// The repository path of a reference as the registry API names it:
/// `localhost:5000/nginx:1` → `nginx`, `nginx` → `library/nginx`.
pub fn repository(reference: &str) -> String {
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    let name = match name.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => name,
    };
    match name.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest.to_owned()
        }
        Some(_) => name.to_owned(),
        None => format!("library/{name}"),
    }
}

/// The request line of an HTTP request to the registry API, with its repository.
fn registry_request(payload: &[u8]) -> Option<(String, Option<String>)> {
    let head = &payload[..payload.len().min(512)];
    let line_end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let (method, rest) = line.split_once(' ')?;
    if !matches!(method, "GET" | "HEAD") {
        return None;
    }
    let path = rest.split(' ').next()?;
    let api = path.strip_prefix("/v2/")?;
    let repo = ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .find_map(|m| api.find(m).map(|i| api[..i].to_owned()));
    Some((format!("{method} {path}"), repo))
}

/// What the first pass found.
#[derive(Clone, Debug, Default)]
pub struct Prescan {
    pub pulls: Vec<Pull>,
    /// When the daemon wires a container's network: from its creation to its network
    /// `connect` event, and from its death to its `disconnect` (container index, from, to).
    pub network_windows: Vec<(usize, u64, u64)>,
}

impl Prescan {
    /// The one container whose network is being wired at `ts`, if exactly one is.
    pub fn wiring_network(&self, ts: u64) -> Option<usize> {
        let mut found = self
            .network_windows
            .iter()
            .filter(|(_, lo, hi)| (*lo..=*hi).contains(&ts))
            .map(|(c, _, _)| *c);
        let first = found.next()?;
        found.all(|c| c == first).then_some(first)
    }
}

/// A registry request seen in a packet: when, its request line, its repository, and the
/// registry's address.
type Request = (u64, String, Option<String>, (IpAddr, u16));

/// The first pass over the events.
pub struct PullScan<'i> {
    lookup: Lookup,
    input: &'i StoryInput,
    /// Registry requests not yet claimed by a pull: (ts, line, repo, endpoint).
    requests: Vec<Request>,
    /// The daemon's connects to internet addresses.
    connects: Vec<(u64, IpAddr, u16)>,
    pulls: Vec<Pull>,
    network_windows: Vec<(usize, u64, u64)>,
}

/// How long before a pull's first request its registry ping (`GET /v2/`) belongs to it.
const PING_BEFORE_NANOS: u64 = 2_000_000_000;

impl<'i> PullScan<'i> {
    pub fn new(input: &'i StoryInput) -> Self {
        Self {
            lookup: Lookup::new(&input.containers, &input.images, &input.layers),
            input,
            requests: Vec::new(),
            connects: Vec::new(),
            pulls: Vec::new(),
            network_windows: Vec::new(),
        }
    }

    pub fn observe(&mut self, e: &Ev<'_>) {
        match &e.fact {
            Fact::Packet {
                daddr,
                dport,
                payload,
                ..
            } if !payload.is_empty() => {
                if let Some((line, repo)) = registry_request(payload)
                    && self.requests.len() < 1 << 16
                {
                    self.requests
                        .push((e.ts_nanos, line, repo, (*daddr, *dport)));
                }
            }
            Fact::Connect {
                addr: Addr::Inet(ip, port),
            } if e.comm == "dockerd" && self.connects.len() < 1 << 16 => {
                self.connects.push((e.ts_nanos, *ip, *port));
            }
            Fact::Docker {
                event_type: "image",
                action: "pull",
                actor_id,
                ..
            } => self.pull_done(e.ts_nanos, actor_id),
            Fact::Docker {
                event_type: "network",
                action,
                attributes,
                ..
            } if matches!(*action, "connect" | "disconnect") => {
                let c = attributes
                    .iter()
                    .find(|(k, _)| *k == "container")
                    .and_then(|(_, v)| self.lookup.by_id(v));
                if let Some(c) = c {
                    let k = &self.lookup.keys[c];
                    let from = if *action == "connect" {
                        k.created_ts.unwrap_or(e.ts_nanos)
                    } else {
                        k.died_ts.unwrap_or(e.ts_nanos)
                    };
                    if self.network_windows.len() < 1 << 16 {
                        self.network_windows
                            .push((c, from.min(e.ts_nanos), e.ts_nanos));
                    }
                }
            }
            _ => {}
        }
    }

    fn pull_done(&mut self, ts: u64, reference: &str) {
        let repo = repository(reference);
        let since = self
            .pulls
            .iter()
            .filter(|p| repository(&p.reference) == repo)
            .map(|p| p.end_ts)
            .max()
            .unwrap_or(0);
        let mine: Vec<usize> = (0..self.requests.len())
            .filter(|&i| {
                let (t, _, r, _) = &self.requests[i];
                *t > since && *t <= ts && r.as_deref() == Some(repo.as_str())
            })
            .collect();
        let first = mine.first().map(|&i| self.requests[i].0);
        let endpoint = mine.first().map(|&i| self.requests[i].3);
        // The API ping just before, on the same registry.
        let pings: Vec<usize> = match (first, endpoint) {
            (Some(f), Some(ep)) => (0..self.requests.len())
                .filter(|&i| {
                    let (t, _, r, e) = &self.requests[i];
                    r.is_none() && *e == ep && *t > since && *t <= f && f - *t <= PING_BEFORE_NANOS
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut taken: Vec<usize> = pings.iter().chain(&mine).copied().collect();
        taken.sort_unstable();
        let requests: Vec<(u64, String)> = taken
            .iter()
            .map(|&i| (self.requests[i].0, self.requests[i].1.clone()))
            .collect();
        for i in taken.into_iter().rev() {
            self.requests.remove(i);
        }
        let mut start = requests.first().map_or(ts, |(t, _)| *t);
        // The daemon's connect to the registry comes just before its first request.
        if let Some((ip, port)) = endpoint
            && let Some(c) = self
                .connects
                .iter()
                .filter(|(t, a, p)| *a == ip && *p == port && *t > since && *t <= start)
                .map(|(t, _, _)| *t)
                .min()
        {
            start = start.min(c);
        }
        let image_id = self
            .input
            .images
            .iter()
            .find(|i| i.reference == reference)
            .map(|i| i.image_id.as_str());
        let claimed: Vec<usize> = self.pulls.iter().filter_map(|p| p.container).collect();
        let container = self.lookup.first_created_after(ts, |k| {
            (k.image == reference || image_id.is_some_and(|id| id == k.image_id))
                && !claimed.iter().any(|&c| self.lookup.keys[c].id == k.id)
        });
        self.pulls.push(Pull {
            reference: reference.to_owned(),
            start_ts: start,
            end_ts: ts,
            endpoint,
            requests,
            container,
        });
    }

    pub fn finish(self) -> Prescan {
        Prescan {
            pulls: self.pulls,
            network_windows: self.network_windows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_requests() {
        assert_eq!(repository("localhost:5000/nginx:9559d25d06d190b7"), "nginx");
        assert_eq!(repository("nginx"), "library/nginx");
        assert_eq!(repository("ghcr.io/a/b@sha256:00"), "a/b");
        assert_eq!(repository("user/app:1"), "user/app");
        assert_eq!(
            registry_request(b"GET /v2/nginx/blobs/sha256:ab HTTP/1.1\r\nHost: x\r\n"),
            Some(("GET /v2/nginx/blobs/sha256:ab".into(), Some("nginx".into())))
        );
        assert_eq!(
            registry_request(b"GET /v2/ HTTP/1.1\r\n"),
            Some(("GET /v2/".into(), None))
        );
        assert_eq!(registry_request(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(registry_request(b"GET / HTTP/1.0\r\n"), None);
    }
}
