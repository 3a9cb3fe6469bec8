//! Checkout-independent names for the paths a build touches.
//!
//! A path is named relative to the workspace root, or relative to the output directory when
//! that lies outside the root (shown as [`OUT_ALIAS`]`/…`), or else absolute. These names go
//! into the input hash, the `.inputs` records and the package description, so two checkouts
//! of one workspace agree on them and moving a checkout does not force a rebuild.

use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// Stand-in name for the output directory when it lies outside the workspace root (in debug
/// paths and the input hash).
pub(crate) const OUT_ALIAS: &str = "coreship-out";

/// Where a file is, independent of the checkout's location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Loc {
    /// Relative to the workspace root.
    Root(String),
    /// Relative to the output directory (outside the root).
    Out(String),
    /// Anywhere else (system headers).
    Abs(PathBuf),
}

impl Loc {
    /// The name hashed and shown.
    pub(crate) fn name(&self) -> String {
        match self {
            Loc::Root(r) if r.is_empty() => ".".into(),
            Loc::Root(r) => r.clone(),
            Loc::Out(r) => format!("{OUT_ALIAS}/{r}"),
            Loc::Abs(p) => p.display().to_string(),
        }
    }
}

/// Maps paths between this checkout and [`Loc`] names.
#[derive(Debug, Clone)]
pub(crate) struct PathMapper {
    root: PathBuf,
    out: PathBuf,
}

impl PathMapper {
    /// `root` and `out` must be absolute and normalized (canonical).
    pub(crate) fn new(root: &Path, out: &Path) -> PathMapper {
        PathMapper {
            root: root.to_path_buf(),
            out: out.to_path_buf(),
        }
    }

    /// The workspace root (clang's working directory).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The output directory.
    pub(crate) fn out(&self) -> &Path {
        &self.out
    }

    /// Whether the output directory needs its own alias.
    pub(crate) fn out_outside_root(&self) -> bool {
        !self.out.starts_with(&self.root)
    }

    /// How clang (running in the root) is told about `p`: root-relative when inside the root.
    pub(crate) fn command(&self, p: &Path) -> PathBuf {
        match p.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
            Ok(rel) => rel.to_path_buf(),
            Err(_) => p.to_path_buf(),
        }
    }

    /// Where `p` (absolute, or relative to the root as clang reports it) is.
    pub(crate) fn locate(&self, p: &Path) -> Loc {
        let p = self.root.join(p);
        if let Ok(rel) = p.strip_prefix(&self.root) {
            Loc::Root(slash_path(rel))
        } else if let Ok(rel) = p.strip_prefix(&self.out) {
            Loc::Out(slash_path(rel))
        } else {
            Loc::Abs(p)
        }
    }

    /// Checkout-independent name of `p`.
    pub(crate) fn stable(&self, p: &Path) -> String {
        self.locate(p).name()
    }

    /// The file `loc` names in this checkout.
    pub(crate) fn resolve(&self, loc: &Loc) -> PathBuf {
        match loc {
            Loc::Root(r) => self.root.join(r),
            Loc::Out(r) => self.out.join(r),
            Loc::Abs(p) => p.clone(),
        }
    }
}

/// Relative `p` with `/` separators and without `.` components.
fn slash_path(p: &Path) -> String {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_names() {
        let m = PathMapper::new(Path::new("/ws"), Path::new("/out"));
        assert_eq!(m.stable(Path::new("/ws/bpf/x.bpf.c")), "bpf/x.bpf.c");
        assert_eq!(m.stable(Path::new("bpf/./x.h")), "bpf/x.h");
        assert_eq!(
            m.stable(Path::new("/out/include/bpf/bpf_helpers.h")),
            "coreship-out/include/bpf/bpf_helpers.h"
        );
        assert_eq!(
            m.stable(Path::new("/usr/include/linux/types.h")),
            "/usr/include/linux/types.h"
        );
        assert_eq!(m.stable(Path::new("/ws")), ".");
    }

    #[test]
    fn locations_resolve_in_another_checkout() {
        let a = PathMapper::new(Path::new("/a"), Path::new("/cache/out"));
        let b = PathMapper::new(Path::new("/elsewhere/b"), Path::new("/o"));
        for p in [
            "/a/bpf/x.h",
            "/cache/out/include/vmlinux.h",
            "/usr/include/x.h",
        ] {
            let loc = a.locate(Path::new(p));
            let moved = b.resolve(&loc);
            assert_eq!(b.locate(&moved), loc, "{p}");
        }
        assert_eq!(
            b.resolve(&a.locate(Path::new("/a/bpf/x.h"))),
            Path::new("/elsewhere/b/bpf/x.h")
        );
    }

    #[test]
    fn command_paths_are_root_relative() {
        let m = PathMapper::new(Path::new("/ws"), Path::new("/ws/target/coreship"));
        assert!(!m.out_outside_root());
        assert_eq!(m.command(Path::new("/ws/bpf/x.c")), Path::new("bpf/x.c"));
        assert_eq!(m.command(Path::new("/ws")), Path::new("."));
        assert_eq!(
            m.command(Path::new("/usr/include")),
            Path::new("/usr/include")
        );
    }
}
