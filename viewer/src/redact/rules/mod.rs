//! What a shareable copy of a session leaves out, in one place: the rules that find
//! secrets, hostnames, addresses and user names in the strings of a session, and what
//! replaces them.
//!
//! Replacements are stable within a copy: the same hostname is `host-1` wherever it
//! appears, the same address the same made-up address (IPv4 from 198.18.0.0/15, reserved
//! for benchmarks and never routed; IPv6 from 2001:db8::/32, for documentation; MAC
//! addresses from 00:00:5e:00:53:00, for documentation), so flows, containers and processes
//! stay told apart. Loopback, unspecified, broadcast and multicast addresses are kept: they
//! name no machine.
//!
//! Everything a rule found is also remembered as a literal, and the copy is written in a
//! second pass that replaces those literals wherever else they appear (a password given on
//! a command line and echoed in a daemon event's attributes, a hostname inside a path).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Captures, Regex};

/// What is replaced; each can be kept with `--keep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Values of environment variables (containers' and images' `Env`).
    Env,
    /// Secrets in command lines and text: values after `--password` and friends,
    /// `*_TOKEN=`/`*_KEY=`/`*PASSWORD=`… values, URL passwords, Authorization headers.
    Secrets,
    /// The recording host's name, containers' hostnames, registry and URL hosts.
    Hostnames,
    /// IP and MAC addresses other than loopback, unspecified, broadcast and multicast.
    Addresses,
    /// User names: home directories, `--user`, the user an image runs as.
    Users,
    /// The captured payload bytes of packets (zeroed, their length kept).
    Payload,
    /// The raw records of user-supplied probes (zeroed, their length kept).
    ProbeRecords,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Self::Env,
        Self::Secrets,
        Self::Hostnames,
        Self::Addresses,
        Self::Users,
        Self::Payload,
        Self::ProbeRecords,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::Secrets => "secrets",
            Self::Hostnames => "hostnames",
            Self::Addresses => "addresses",
            Self::Users => "users",
            Self::Payload => "payload",
            Self::ProbeRecords => "probe-records",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What replaces a secret or an environment value.
pub const REDACTED: &str = "REDACTED";

/// Command-line flags whose next argument (or `=value`) is a secret.
const SECRET_FLAGS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "token",
    "secret",
    "api-key",
    "apikey",
    "access-key",
    "secret-key",
    "client-secret",
    "auth-token",
    "private-key",
    "passphrase",
];

/// Registries and hosts that are public knowledge, kept as they are.
const PUBLIC_HOSTS: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "registry.k8s.io",
    "k8s.gcr.io",
    "mcr.microsoft.com",
    "public.ecr.aws",
];

/// Whether `arg` is a flag whose value is a secret (`--password`, `-token`).
pub fn is_secret_flag(arg: &str) -> bool {
    let name = arg.trim_start_matches('-');
    name.len() < arg.len() && SECRET_FLAGS.iter().any(|f| name.eq_ignore_ascii_case(f))
}

/// Whether a host needs no replacing: loopback names and addresses, public registries.
fn is_public_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || PUBLIC_HOSTS.contains(&h.as_str())
        || h.parse::<IpAddr>().is_ok()
        || h.starts_with("host-")
}

/// Whether an address names no machine (kept as it is).
fn is_anonymous(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_anonymous(IpAddr::V4(v4)))
        }
    }
}

macro_rules! re {
    ($name:ident, $re:literal) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($re).expect("a valid regular expression"));
    };
}

// `scheme://user:password@`
re!(
    URL_CREDENTIALS,
    r"([A-Za-z][A-Za-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@"
);
// `scheme://host`
re!(
    URL_HOST,
    r"([A-Za-z][A-Za-z0-9+.-]*://)([^/\s@]*@)?([A-Za-z0-9][A-Za-z0-9.-]*)"
);
// `Authorization: Bearer x`, `X-Registry-Auth: x`
re!(
    AUTH_HEADER,
    r"(?i)\b((?:proxy-)?authorization|x-registry-auth)(\s*[:=]\s*)((?:bearer|basic|token|digest)\s+)?([^\s,;'\x22]+)"
);
// `API_TOKEN=x`, `--password=x`, `db_password=x`
re!(
    SECRET_ASSIGNMENT,
    r"(?i)((?:^|[\s,;&'\x22(])-{0,2}[A-Za-z0-9_.-]*(?:token|secret|password|passwd|passphrase|_key|-key|apikey|_pass|credentials?|_auth))=([^\s,;&'\x22)]+)"
);
// `--password x` inside one string (a shell command line)
re!(
    SECRET_FLAG_TEXT,
    r"(?i)((?:^|\s)--?(?:password|passwd|pass|token|secret|api-key|apikey|access-key|secret-key|client-secret|auth-token|private-key|passphrase))(\s+)([^\s'\x22]+)"
);
// `registry.example.com:5000/app`: the host of an image reference or a URL without scheme
re!(
    HOST_PATH,
    r"(?i)(^|[\s'\x22=@(,])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9])((?::[0-9]{1,5})?/)"
);
re!(IPV4, r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b");
re!(IPV6, r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
re!(MAC, r"(?i)\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b");
re!(HOME, r"/(home|Users|var/home)/([^/\s:'\x22\]\[]+)");
// `user-3`, `host-12`: replacements already
re!(PSEUDONYM, r"^(?:user|host)-[0-9]+$");

/// Names handed out in order of first sight: `host-1`, `host-2`, …
#[derive(Debug, Default)]
struct Pseudonyms {
    prefix: &'static str,
    names: HashMap<String, String>,
}

impl Pseudonyms {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            names: HashMap::new(),
        }
    }

    fn get(&mut self, real: &str) -> String {
        let n = self.names.len() + 1;
        let prefix = self.prefix;
        self.names
            .entry(real.to_owned())
            .or_insert_with(|| format!("{prefix}-{n}"))
            .clone()
    }
}

/// The smallest literal replaced wherever it appears (shorter ones only where a rule found
/// them, so that `1` or `on` is not replaced all over the file).
const MIN_LITERAL: usize = 6;
const MIN_NAME_LITERAL: usize = 2;

/// A literal's replacement, its category, and whether only whole words are replaced.
type Literal = (String, Category, bool);

/// The rules with their state: the replacements handed out, the literals to replace
/// everywhere, and how many values of each category were replaced.
pub struct Rules {
    keep: [bool; Category::ALL.len()],
    hosts: Pseudonyms,
    users: Pseudonyms,
    v4: HashMap<Ipv4Addr, Ipv4Addr>,
    v6: HashMap<Ipv6Addr, Ipv6Addr>,
    macs: HashMap<String, String>,
    /// Literals found by the rules, by value.
    literals: HashMap<String, Literal>,
    automaton: Option<(AhoCorasick, Vec<Literal>)>,
    counts: [u64; Category::ALL.len()],
}

impl Rules {
    pub fn new(keep: &[Category]) -> Self {
        let mut k = [false; Category::ALL.len()];
        for c in keep {
            k[c.index()] = true;
        }
        Self {
            keep: k,
            hosts: Pseudonyms::new("host"),
            users: Pseudonyms::new("user"),
            v4: HashMap::new(),
            v6: HashMap::new(),
            macs: HashMap::new(),
            literals: HashMap::new(),
            automaton: None,
            counts: [0; Category::ALL.len()],
        }
    }

    pub fn applies(&self, c: Category) -> bool {
        !self.keep[c.index()]
    }

    fn count(&mut self, c: Category) {
        self.counts[c.index()] += 1;
    }

    /// Values replaced, per category (since [`Rules::freeze`]).
    pub fn counts(&self) -> Vec<(Category, u64)> {
        Category::ALL
            .into_iter()
            .map(|c| (c, self.counts[c.index()]))
            .collect()
    }

    /// Distinct values found, per category.
    pub fn distinct(&self) -> Vec<(Category, usize)> {
        let mut n = [0usize; Category::ALL.len()];
        for (_, c, _) in self.literals.values() {
            n[c.index()] += 1;
        }
        n[Category::Addresses.index()] = self.v4.len() + self.v6.len() + self.macs.len();
        Category::ALL
            .into_iter()
            .map(|c| (c, n[c.index()]))
            .collect()
    }

    fn remember(&mut self, real: &str, replacement: &str, c: Category) {
        let words = matches!(c, Category::Hostnames | Category::Users);
        let min = if words { MIN_NAME_LITERAL } else { MIN_LITERAL };
        if real.len() >= min && real != replacement && !PSEUDONYM.is_match(real) {
            self.literals
                .entry(real.to_owned())
                .or_insert_with(|| (replacement.to_owned(), c, words));
        }
    }

    /// Ends the first pass: from now on the literals found are replaced everywhere, and the
    /// counts start from zero.
    pub fn freeze(&mut self) {
        let mut entries: Vec<(String, Literal)> = self
            .literals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        self.automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(entries.iter().map(|(k, _)| k))
            .ok()
            .map(|ac| (ac, entries.into_iter().map(|(_, v)| v).collect()));
        self.counts = [0; Category::ALL.len()];
    }

    /// A hostname's replacement.
    pub fn hostname(&mut self, host: &str) -> String {
        if host.is_empty() || !self.applies(Category::Hostnames) || is_public_host(host) {
            return host.to_owned();
        }
        let r = self.hosts.get(host);
        self.remember(host, &r, Category::Hostnames);
        // The short name of a fully qualified one is the same host.
        if let Some((short, _)) = host.split_once('.')
            && short.parse::<u8>().is_err()
        {
            self.remember(short, &r, Category::Hostnames);
        }
        self.count(Category::Hostnames);
        r
    }

    /// A user name's replacement (numeric ids and root are kept).
    pub fn user(&mut self, user: &str) -> String {
        let name = user.split(':').next().unwrap_or(user);
        if name.is_empty()
            || name == "root"
            || name.bytes().all(|b| b.is_ascii_digit())
            || !self.applies(Category::Users)
            || PSEUDONYM.is_match(name)
        {
            return user.to_owned();
        }
        let r = self.users.get(name);
        self.remember(name, &r, Category::Users);
        self.count(Category::Users);
        format!("{r}{}", &user[name.len()..])
    }

    /// A secret's replacement.
    pub fn secret(&mut self, value: &str) -> String {
        if value.is_empty() || !self.applies(Category::Secrets) || value == REDACTED {
            return value.to_owned();
        }
        self.remember(value, REDACTED, Category::Secrets);
        self.count(Category::Secrets);
        REDACTED.to_owned()
    }

    /// An environment entry `NAME=value`: the value replaced, the name kept.
    pub fn env_entry(&mut self, entry: &str) -> String {
        if !self.applies(Category::Env) {
            return self.text(entry).into_owned();
        }
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        if value.is_empty() {
            return entry.to_owned();
        }
        self.remember(value, REDACTED, Category::Env);
        self.count(Category::Env);
        format!("{name}={REDACTED}")
    }

    /// Zeroes captured bytes (their length kept).
    pub fn zero(&mut self, bytes: &mut [u8], c: Category) {
        if self.applies(c) && bytes.iter().any(|b| *b != 0) {
            bytes.fill(0);
            self.count(c);
        }
    }

    /// An address's replacement.
    pub fn ip(&mut self, ip: IpAddr) -> IpAddr {
        if is_anonymous(ip) || !self.applies(Category::Addresses) {
            return ip;
        }
        self.count(Category::Addresses);
        match ip {
            IpAddr::V4(v4) => {
                let n = self.v4.len() as u32 + 1;
                let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
                IpAddr::V4(
                    *self
                        .v4
                        .entry(v4)
                        .or_insert_with(|| Ipv4Addr::from(base + (n & 0x1_ffff))),
                )
            }
            IpAddr::V6(v6) => {
                let n = self.v6.len() as u128 + 1;
                let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0));
                IpAddr::V6(
                    *self
                        .v6
                        .entry(v6)
                        .or_insert_with(|| Ipv6Addr::from(base + n)),
                )
            }
        }
    }

    fn mac(&mut self, mac: &str) -> String {
        let lower = mac.to_ascii_lowercase();
        if lower == "00:00:00:00:00:00" || lower == "ff:ff:ff:ff:ff:ff" {
            return mac.to_owned();
        }
        self.count(Category::Addresses);
        let n = self.macs.len();
        self.macs
            .entry(lower)
            .or_insert_with(|| format!("00:00:5e:00:53:{:02x}", n & 0xff))
            .clone()
    }

    /// An image reference with its registry host replaced (unless public or local).
    pub fn image_ref(&mut self, reference: &str) -> String {
        let text = self.text(reference).into_owned();
        let Some((first, rest)) = text.split_once('/') else {
            return text;
        };
        let (host, port) = first.split_once(':').map_or((first, ""), |(h, p)| (h, p));
        let is_registry = host.contains('.') || !port.is_empty() || host == "localhost";
        if !is_registry || is_public_host(host) {
            return text;
        }
        let h = self.hostname(host);
        if port.is_empty() {
            format!("{h}/{rest}")
        } else {
            format!("{h}:{port}/{rest}")
        }
    }

    /// An argument vector: the value after a secret flag is a secret, each argument then
    /// goes through the text rules.
    pub fn argv(&mut self, args: &[String]) -> Vec<String> {
        let mut out = Vec::with_capacity(args.len());
        let mut secret_next = false;
        let mut user_next = false;
        for a in args {
            let r = if secret_next {
                self.secret(a)
            } else if user_next {
                self.user(a)
            } else {
                self.text(a).into_owned()
            };
            secret_next = is_secret_flag(a);
            user_next = matches!(a.as_str(), "-u" | "--user");
            out.push(r);
        }
        out
    }

    /// Free text through every rule: the literals found so far, then secrets, URL hosts,
    /// addresses and home directories.
    pub fn text<'a>(&mut self, s: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        if let Some(r) = self.literals_in(&out) {
            out = Cow::Owned(r);
        }
        if self.applies(Category::Secrets) {
            out = self.secrets_in(out);
        }
        if self.applies(Category::Hostnames)
            && out.contains('/')
            && out.contains('.')
            && HOST_PATH.is_match(&out)
        {
            let r = HOST_PATH.replace_all(&out, |c: &Captures<'_>| {
                format!("{}{}{}", &c[1], self.hostname(&c[2]), &c[3])
            });
            out = Cow::Owned(r.into_owned());
        }
        if self.applies(Category::Hostnames) && out.contains("://") {
            let r = URL_HOST.replace_all(&out, |c: &Captures<'_>| {
                let userinfo = c.get(2).map_or("", |m| m.as_str());
                format!("{}{userinfo}{}", &c[1], self.hostname(&c[3]))
            });
            out = Cow::Owned(r.into_owned());
        }
        if self.applies(Category::Addresses) {
            out = self.addresses_in(out);
        }
        let home = ["/home/", "/Users/", "/var/home/"];
        if self.applies(Category::Users) && home.iter().any(|h| out.contains(h)) {
            let r = HOME.replace_all(&out, |c: &Captures<'_>| {
                format!("/{}/{}", &c[1], self.user(&c[2]))
            });
            if let Cow::Owned(r) = r {
                out = Cow::Owned(r);
            }
        }
        out
    }

    fn literals_in(&mut self, s: &str) -> Option<String> {
        let (ac, values) = self.automaton.as_ref()?;
        let mut out = String::new();
        let mut last = 0;
        let mut hits: Vec<Category> = Vec::new();
        for m in ac.find_iter(s) {
            let (replacement, category, words) = &values[m.pattern().as_usize()];
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if *words
                && (word(s[..m.start()].chars().next_back()) || word(s[m.end()..].chars().next()))
            {
                continue;
            }
            out.push_str(&s[last..m.start()]);
            out.push_str(replacement);
            last = m.end();
            hits.push(*category);
        }
        if hits.is_empty() {
            return None;
        }
        for c in hits {
            self.count(c);
        }
        out.push_str(&s[last..]);
        Some(out)
    }

    fn secrets_in<'a>(&mut self, s: Cow<'a, str>) -> Cow<'a, str> {
        let mut out = s;
        // Each rule needs a character most strings lack: looked for before the rule runs.
        let auth = out.contains(':') || out.contains('=');
        for (re, group, may) in [
            (&*URL_CREDENTIALS, 3, out.contains("://")),
            (&*AUTH_HEADER, 4, auth),
            (&*SECRET_ASSIGNMENT, 2, out.contains('=')),
            (&*SECRET_FLAG_TEXT, 3, out.contains('-')),
        ] {
            if !may || !re.is_match(&out) {
                continue;
            }
            let r = re.replace_all(&out, |c: &Captures<'_>| {
                let m = c.get(group).expect("the group of the secret");
                let whole = c.get(0).expect("the match");
                format!(
                    "{}{}{}",
                    &whole.as_str()[..m.start() - whole.start()],
                    self.secret(m.as_str()),
                    &whole.as_str()[m.end() - whole.start()..]
                )
            });
            out = Cow::Owned(r.into_owned());
        }
        out
    }

    fn addresses_in<'a>(&mut self, s: Cow<'a, str>) -> Cow<'a, str> {
        let mut out = s;
        if out.matches('.').count() >= 3 && IPV4.is_match(&out) {
            let r = IPV4.replace_all(&out, |c: &Captures<'_>| match c[0].parse::<Ipv4Addr>() {
                Ok(ip) => self.ip(IpAddr::V4(ip)).to_string(),
                Err(_) => c[0].to_owned(),
            });
            out = Cow::Owned(r.into_owned());
        }
        if out.matches(':').count() >= 2 {
            if MAC.is_match(&out) {
                let r = MAC.replace_all(&out, |c: &Captures<'_>| self.mac(&c[0]));
                out = Cow::Owned(r.into_owned());
            }
            let r = IPV6.replace_all(&out, |c: &Captures<'_>| match c[0].parse::<Ipv6Addr>() {
                Ok(ip) => self.ip(IpAddr::V6(ip)).to_string(),
                Err(_) => c[0].to_owned(),
            });
            if let Cow::Owned(r) = r {
                out = Cow::Owned(r);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
