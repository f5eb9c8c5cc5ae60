//! Runs of similar file events, collapsed into one row: "ld.so searched 35 paths",
//! "docker-untar wrote 212 files of layer 3 of 6".

use crate::event::{Family, Kind};
use crate::paths::LayerRef;

use super::noise;

/// What makes events one run (consecutive events of one process with the same class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunClass {
    /// The dynamic loader looking for libraries (expected `ENOENT`s).
    LoaderSearch,
    /// A docker-untar process writing a layer.
    Unpack,
    /// Other file events of one process.
    Files,
}

/// The class of an event for runs, or `None` when it never joins one.
pub fn run_class(kind: Kind, expected: Option<u8>, unpacking: bool) -> Option<RunClass> {
    if kind.family() != Family::File {
        return None;
    }
    if expected
        .and_then(noise::rule)
        .is_some_and(|r| r.id == "loader_search")
    {
        return Some(RunClass::LoaderSearch);
    }
    Some(if unpacking {
        RunClass::Unpack
    } else {
        RunClass::Files
    })
}

/// The fewest events a run has.
pub const MIN_RUN: usize = 3;

/// The line a collapsed run shows.
pub fn run_label(
    class: RunClass,
    events: usize,
    comm: &str,
    layer: Option<&LayerRef>,
    libraries: &[&str],
) -> String {
    match class {
        RunClass::LoaderSearch => {
            let mut libs: Vec<&str> = Vec::new();
            for l in libraries {
                if !libs.contains(l) && libs.len() < 3 {
                    libs.push(l);
                }
            }
            let more = if libraries.iter().filter(|l| !libs.contains(l)).count() > 0 {
                ", …"
            } else {
                ""
            };
            format!(
                "ld.so ({comm}) searched {events} paths for {}{more}",
                libs.join(", ")
            )
        }
        RunClass::Unpack => match layer {
            Some(l) => format!(
                "docker-untar wrote {events} file events of layer {} of {}",
                l.layer_index + 1,
                l.layer_count
            ),
            None => format!("docker-untar wrote {events} file events"),
        },
        RunClass::Files => format!("{comm}: {events} file events"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_labels() {
        let loader = noise::RULES
            .iter()
            .position(|r| r.id == "loader_search")
            .unwrap() as u8;
        assert_eq!(
            run_class(Kind::Openat, Some(loader), false),
            Some(RunClass::LoaderSearch)
        );
        assert_eq!(run_class(Kind::FileIo, None, true), Some(RunClass::Unpack));
        assert_eq!(run_class(Kind::Mount, None, false), None);
        assert_eq!(
            run_label(
                RunClass::LoaderSearch,
                35,
                "runc",
                None,
                &["libc.so.6", "libc.so.6", "libseccomp.so.2"]
            ),
            "ld.so (runc) searched 35 paths for libc.so.6, libseccomp.so.2"
        );
        let l = LayerRef {
            image_id: "i".into(),
            reference: "nginx".into(),
            layer_index: 2,
            layer_count: 6,
            digest: None,
        };
        assert_eq!(
            run_label(RunClass::Unpack, 120, "exe", Some(&l), &[]),
            "docker-untar wrote 120 file events of layer 3 of 6"
        );
    }
}
