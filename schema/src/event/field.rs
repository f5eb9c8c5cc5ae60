//! What the description of a kind says about each of its fields, and how a field is handed
//! to code that works on every kind (details, export, search, test data).
//!
//! A field has a name (its JSONL key and, with `_` read as a space, its label), a class (the
//! Rust type it is stored as) and a [`Decode`]: what the raw value means, which decides how it
//! is shown and which decoded forms sit beside it in the export. Code that walks the fields
//! of an event receives each as a [`FieldRef`] with its [`FieldDesc`].

use std::borrow::Cow;
use std::net::IpAddr;

use super::{LossSource, SockAddr};

/// The Rust type a field is stored as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldClass {
    U8,
    U16,
    U32,
    U64,
    I32,
    I64,
    /// One string.
    Str,
    /// A string that may be absent.
    OptStr,
    /// A list of strings.
    Strs,
    /// A list of numbers.
    U32s,
    Bytes,
    Ip,
    Addr,
    /// Key/value string pairs.
    Pairs,
    Loss,
}

/// What a field's raw value means.
#[derive(Clone, Copy, Debug)]
pub enum Decode {
    /// A number shown as it is (counts, ids, pids).
    Plain,
    /// A number shown in hexadecimal.
    Hex,
    /// A file mode: shown and exported (`_octal`) as `0644`.
    Mode,
    /// A file descriptor.
    Fd,
    /// A directory file descriptor: -100 is `AT_FDCWD`.
    DirFd,
    /// Bit flags named by a table: exported with `_names`.
    Flags(&'static [(u64, &'static str)]),
    /// `open` flags: the access mode first, then the flags (`_names`).
    OpenFlags,
    /// `CLONE_*` flags: `_names`, and `namespaces` (the new ones). With `exit_signal_byte`
    /// the low byte is the signal sent to the parent (`clone`), exported as `exit_signal`.
    CloneFlags { exit_signal_byte: bool },
    /// A number with one name (an option, an operation, a state): exported with `_name`.
    Named(fn(i64) -> Cow<'static, str>),
    /// A capability mask: `_names`.
    Caps,
    /// A raw wait status (`exited 0`, `killed by SIGKILL`): `_name`.
    WaitStatus,
    /// A signal number: `_name`.
    Signal,
    /// A path in the filesystem of the process.
    Path,
    /// What a mount attaches: a device, a directory (bind mounts) or a filesystem name.
    MountSource,
    /// A mount's options string (`lowerdir=…,upperdir=…` for overlay).
    MountData,
    /// A cgroup path (a directory of the cgroup filesystem, not a file).
    CgroupPath,
    /// A cgroup id: a cgroup v2 directory's inode, unless a `CgroupHierarchy` field of the
    /// same event says it is of a v1 hierarchy.
    CgroupId,
    /// The cgroup hierarchy of a cgroup id: 0 is cgroup v2, others are v1 hierarchies.
    CgroupHierarchy,
    /// Plain text.
    Text,
    /// A byte count.
    ByteCount,
    /// A duration in nanoseconds.
    Nanos,
    /// A time on the boot clock, in nanoseconds.
    BootTime,
    /// An IP address.
    Ip,
    /// A TCP or UDP port.
    Port,
    /// A socket address: exported as `family`, `family_name`, `address` and `port`.
    SockAddr,
    /// The first bytes of a packet's payload: exported as text and `_hex`.
    Payload,
    /// A container's full id.
    ContainerId,
    /// An argument vector.
    Argv,
    /// Attributes of a daemon event (key/value pairs).
    Attributes,
    /// The id of a user-supplied probe (`probes` table).
    ProbeId,
    /// A record of a user-supplied probe, decoded with the probe's BTF.
    ProbeRecord,
    /// Where events were lost.
    LossSource,
    /// A `setns` namespace type (`CLONE_NEW*`, 0 for any): `_name`.
    NsType,
}

/// One field of a kind, as its description states it.
#[derive(Clone, Copy, Debug)]
pub struct FieldDesc {
    /// snake_case: the JSONL key; with `_` as a space, the label people read.
    pub name: &'static str,
    pub class: FieldClass,
    pub decode: Decode,
}

impl FieldDesc {
    /// The name as people read it: `parent_pid` → `parent pid`.
    pub fn label(&self) -> Cow<'static, str> {
        if self.name.contains('_') {
            Cow::Owned(self.name.replace('_', " "))
        } else {
            Cow::Borrowed(self.name)
        }
    }
}

/// A field's value, borrowed from an event; strings are of the event's string type `S`.
#[derive(Clone, Copy, Debug)]
pub enum FieldRef<'a, S> {
    Uint(u64),
    Int(i64),
    Str(&'a S),
    OptStr(Option<&'a S>),
    Strs(&'a [S]),
    Uints(&'a [u32]),
    Bytes(&'a [u8]),
    Ip(IpAddr),
    Addr(&'a SockAddr<S>),
    Pairs(&'a [(S, S)]),
    Loss(LossSource),
}

impl<S> FieldRef<'_, S> {
    /// The value as a signed number, for numeric fields.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::Uint(v) => Some(v as i64),
            Self::Int(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an unsigned number (a signed one as its two's complement bits).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Uint(v) => Some(v),
            Self::Int(v) => Some(v as u64),
            _ => None,
        }
    }
}

/// The fields of one kind's data: generated for every kind by its description.
pub trait Fields<S> {
    /// The descriptions of the fields, in order (the order of the export).
    const FIELDS: &'static [FieldDesc];
    /// The same data with strings of type `T`.
    type Mapped<T>;

    /// Calls `f` on every field, in order.
    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static FieldDesc, FieldRef<'a, S>));

    /// The same data with every string passed through `f`, in the order `visit` visits them.
    fn map_strings<T, E>(
        &self,
        f: &mut dyn FnMut(&S) -> Result<T, E>,
    ) -> Result<Self::Mapped<T>, E>;

    /// A value made field by field from `g` (test data, fuzz seeds, fixtures).
    fn generate(g: &mut dyn FieldSource) -> Self
    where
        S: From<String>;
}

impl<S, X: Fields<S>> Fields<S> for Box<X> {
    const FIELDS: &'static [FieldDesc] = X::FIELDS;
    type Mapped<T> = Box<X::Mapped<T>>;

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'static FieldDesc, FieldRef<'a, S>)) {
        (**self).visit(f);
    }

    fn map_strings<T, E>(
        &self,
        f: &mut dyn FnMut(&S) -> Result<T, E>,
    ) -> Result<Self::Mapped<T>, E> {
        Ok(Box::new((**self).map_strings(f)?))
    }

    fn generate(g: &mut dyn FieldSource) -> Self
    where
        S: From<String>,
    {
        Box::new(X::generate(g))
    }
}

/// Where generated field values come from: each call gets the field's description, so a
/// source can make values that suit it (paths for `Path`, named bits for `Flags`, …).
pub trait FieldSource {
    /// A number of at most `max`.
    fn uint(&mut self, field: &FieldDesc, max: u64) -> u64;
    /// A number in `min..=max`.
    fn int(&mut self, field: &FieldDesc, min: i64, max: i64) -> i64;
    fn string(&mut self, field: &FieldDesc) -> String;
    /// How many items a list field gets.
    fn len(&mut self, field: &FieldDesc) -> usize;
    fn present(&mut self, field: &FieldDesc) -> bool;
    fn ip(&mut self, field: &FieldDesc) -> IpAddr;
    fn loss_source(&mut self, field: &FieldDesc) -> LossSource;
}

macro_rules! field_class {
    (u8) => {
        FieldClass::U8
    };
    (u16) => {
        FieldClass::U16
    };
    (u32) => {
        FieldClass::U32
    };
    (u64) => {
        FieldClass::U64
    };
    (i32) => {
        FieldClass::I32
    };
    (i64) => {
        FieldClass::I64
    };
    (str) => {
        FieldClass::Str
    };
    (opt_str) => {
        FieldClass::OptStr
    };
    (strs) => {
        FieldClass::Strs
    };
    (u32s) => {
        FieldClass::U32s
    };
    (bytes) => {
        FieldClass::Bytes
    };
    (ip) => {
        FieldClass::Ip
    };
    (addr) => {
        FieldClass::Addr
    };
    (pairs) => {
        FieldClass::Pairs
    };
    (loss) => {
        FieldClass::Loss
    };
}

/// A field as a [`FieldRef`].
macro_rules! field_ref {
    (u8, $e:expr) => {
        FieldRef::Uint(u64::from($e))
    };
    (u16, $e:expr) => {
        FieldRef::Uint(u64::from($e))
    };
    (u32, $e:expr) => {
        FieldRef::Uint(u64::from($e))
    };
    (u64, $e:expr) => {
        FieldRef::Uint($e)
    };
    (i32, $e:expr) => {
        FieldRef::Int(i64::from($e))
    };
    (i64, $e:expr) => {
        FieldRef::Int($e)
    };
    (str, $e:expr) => {
        FieldRef::Str(&$e)
    };
    (opt_str, $e:expr) => {
        FieldRef::OptStr($e.as_ref())
    };
    (strs, $e:expr) => {
        FieldRef::Strs(&$e)
    };
    (u32s, $e:expr) => {
        FieldRef::Uints(&$e)
    };
    (bytes, $e:expr) => {
        FieldRef::Bytes(&$e)
    };
    (ip, $e:expr) => {
        FieldRef::Ip($e)
    };
    (addr, $e:expr) => {
        FieldRef::Addr(&$e)
    };
    (pairs, $e:expr) => {
        FieldRef::Pairs(&$e)
    };
    (loss, $e:expr) => {
        FieldRef::Loss($e)
    };
}

/// A field with its strings passed through `f`.
macro_rules! map_field {
    (str, $e:expr, $f:ident) => {
        $f(&$e)?
    };
    (opt_str, $e:expr, $f:ident) => {
        match &$e {
            Some(s) => Some($f(s)?),
            None => None,
        }
    };
    (strs, $e:expr, $f:ident) => {
        $e.iter().map(|s| $f(s)).collect::<Result<Vec<_>, _>>()?
    };
    (addr, $e:expr, $f:ident) => {
        $e.map_strings($f)?
    };
    (pairs, $e:expr, $f:ident) => {
        $e.iter()
            .map(|(k, v)| Ok(($f(k)?, $f(v)?)))
            .collect::<Result<Vec<_>, _>>()?
    };
    (u32s, $e:expr, $f:ident) => {
        $e.clone()
    };
    (bytes, $e:expr, $f:ident) => {
        $e.clone()
    };
    ($other:ident, $e:expr, $f:ident) => {
        $e
    };
}

/// A generated value of a field class.
macro_rules! generate_field {
    (u8, $g:ident, $d:expr) => {
        $g.uint($d, u64::from(u8::MAX)) as u8
    };
    (u16, $g:ident, $d:expr) => {
        $g.uint($d, u64::from(u16::MAX)) as u16
    };
    (u32, $g:ident, $d:expr) => {
        $g.uint($d, u64::from(u32::MAX)) as u32
    };
    (u64, $g:ident, $d:expr) => {
        $g.uint($d, u64::MAX)
    };
    (i32, $g:ident, $d:expr) => {
        $g.int($d, i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    };
    (i64, $g:ident, $d:expr) => {
        $g.int($d, i64::MIN, i64::MAX)
    };
    (str, $g:ident, $d:expr) => {
        S::from($g.string($d))
    };
    (opt_str, $g:ident, $d:expr) => {
        if $g.present($d) {
            Some(S::from($g.string($d)))
        } else {
            None
        }
    };
    (strs, $g:ident, $d:expr) => {
        (0..$g.len($d)).map(|_| S::from($g.string($d))).collect()
    };
    (u32s, $g:ident, $d:expr) => {
        (0..$g.len($d))
            .map(|_| $g.uint($d, u64::from(u32::MAX)) as u32)
            .collect()
    };
    (bytes, $g:ident, $d:expr) => {
        (0..$g.len($d)).map(|_| $g.uint($d, 255) as u8).collect()
    };
    (ip, $g:ident, $d:expr) => {
        $g.ip($d)
    };
    (addr, $g:ident, $d:expr) => {
        SockAddr::generate($g, $d)
    };
    (pairs, $g:ident, $d:expr) => {
        (0..$g.len($d))
            .map(|_| (S::from($g.string($d)), S::from($g.string($d))))
            .collect()
    };
    (loss, $g:ident, $d:expr) => {
        $g.loss_source($d)
    };
}

/// The type of a data struct with its strings replaced by `T` (unchanged without strings).
macro_rules! mapped_ty {
    ($name:ident < $s:ident >) => { $name<T> };
    ($name:ident) => { $name };
}

pub(crate) use {field_class, field_ref, generate_field, map_field, mapped_ty};
