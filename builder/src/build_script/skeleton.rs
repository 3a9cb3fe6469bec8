//! Typed skeletons through libbpf-cargo (feature `skeleton`).

use std::path::Path;

use super::BuildScriptError;

/// Writes `<out_dir>/<name>.skel.rs` for the object at `object`.
pub(super) fn generate(name: &str, object: &Path, out_dir: &Path) -> Result<(), BuildScriptError> {
    let output = out_dir.join(format!("{name}.skel.rs"));
    libbpf_cargo::SkeletonBuilder::new()
        .obj(object)
        .generate(&output)
        .map_err(|e| BuildScriptError::Skeleton {
            probe: name.to_string(),
            message: format!("{e:#}"),
        })
}
