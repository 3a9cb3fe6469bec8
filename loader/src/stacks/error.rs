//! [`StackError`]: why a stack profile cannot be printed as asked.

use std::path::PathBuf;

/// A stack-profile declaration that does not follow coreship.h's convention, or a flame
/// graph that cannot be written.
#[derive(thiserror::Error)]
pub enum StackError {
    /// A counter key has `kstack`/`ustack` members but there is no stack map to read.
    #[error(
        "map {map}: its key has kstack/ustack members but the object declares no \
         CORESHIP_STACKS map to resolve them"
    )]
    NoStackMap {
        /// The counter map.
        map: String,
    },
    /// More than one stack map: which one the ids refer to is ambiguous.
    #[error(
        "map {map}: the object declares several CORESHIP_STACKS maps ({}); stack profiles \
         need exactly one",
        maps.join(", ")
    )]
    SeveralStackMaps {
        /// The counter map.
        map: String,
        /// The stack maps.
        maps: Vec<String>,
    },
    /// A `kstack`/`ustack` member is not a 32-bit integer.
    #[error(
        "map {map}: key member `{member}` must be an __s32 or __u32 stack id \
         (a bpf_get_stackid() result)"
    )]
    BadStackId {
        /// The counter map.
        map: String,
        /// The member.
        member: String,
    },
    /// `--flamegraph` for a probe without a stack profile.
    #[error(
        "--flamegraph {}: this probe has no stack profile (a CORESHIP_COUNTER whose key has \
         kstack/ustack members)",
        path.display()
    )]
    NoProfile {
        /// The flame graph asked for.
        path: PathBuf,
    },
    /// `--flamegraph` with a loader built without the `flamegraph` feature.
    #[error(
        "--flamegraph: this coreship-load was built without the `flamegraph` feature; \
         rebuild it with `--features flamegraph`, or print folded stacks with \
         `--format folded` and draw them elsewhere (inferno-flamegraph, flamegraph.pl)"
    )]
    FlamegraphDisabled,
    /// The SVG could not be written.
    #[error("cannot write the flame graph {}", path.display())]
    WriteFlamegraph {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

coreship_registry::debug_as_display!(StackError);
