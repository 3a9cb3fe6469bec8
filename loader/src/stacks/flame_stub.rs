//! Flame graphs without the `flamegraph` feature: none. `--flamegraph` is refused up
//! front with [`StackError::FlamegraphDisabled`], so `write_svg` is never reached.

use std::path::Path;

use super::StackError;

/// Whether this build can draw flame graphs.
pub(crate) const SUPPORTED: bool = false;

/// Always [`StackError::FlamegraphDisabled`].
pub(crate) fn write_svg(_: &Path, _: &str, _: &str, _: &[(String, u64)]) -> Result<(), StackError> {
    Err(StackError::FlamegraphDisabled)
}
